"""SQL databases as sources: read a table or a query of PostgreSQL, MySQL or MariaDB.

An MES or ERP often keeps its data in a database rather than exporting files. The source is then
a URL, ``postgresql://user@host:5432/mes`` or ``mysql://user@host:3306/erp`` (``mariadb://`` is the
same), and the mapping names the table (``source: {table: machines}``) or a query
(``source: {query: "SELECT ... ORDER BY id"}``). ``${VARIABLE}`` in the URL is read from the
environment, so a password need not be written in a manifest; reports, quarantine and messages
show the URL without it (:func:`factorybrain.secrets.redact`). Rows are numbered in the order the
database returns them: give a query an ``ORDER BY`` to make those numbers stable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote, urlsplit

import duckdb

from factorybrain.connectors._mapping import Mapping
from factorybrain.connectors._readers import SourceRows, first_line, register_rows
from factorybrain.exceptions import IngestError
from factorybrain.secrets import redact

SCHEMES = {"postgresql": "postgres", "postgres": "postgres", "mysql": "mysql", "mariadb": "mysql"}
FETCH_ROWS = 10_000
_URL = re.compile(r"^(postgres(ql)?|mysql|mariadb)://", re.IGNORECASE)


def is_database_url(source: object) -> bool:
    """Whether ``source`` names a database rather than a file."""
    return isinstance(source, str) and bool(_URL.match(source))


def source_label(url: str, mapping: Mapping) -> str:
    """How reports name a database source: the URL and the table, or ``query``."""
    what = mapping.source.table or "query"
    return f"{redact(url)}#{what}"


def read_database_source(url: str, mapping: Mapping, con: duckdb.DuckDBPyConnection) -> SourceRows:
    """Read the mapping's table or query into ``con``, rows numbered as the database returned them.

    Raises:
        IngestError: As :func:`read_database`.
    """
    columns, rows = read_database(url, mapping)
    records = [dict(zip(columns, values, strict=True)) for values in rows]
    numbers = list(range(1, len(records) + 1))
    relation = register_rows(
        con, records, numbers, source_label(url, mapping), decimal=mapping.source.decimal
    )
    return SourceRows(relation, rows_in_relation=len(records), records=len(records))


def read_database(url: str, mapping: Mapping) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run the mapping's table or query; return the column names and the rows.

    Raises:
        IngestError: If the URL is malformed, the database cannot be reached, the mapping names
            no table or query, the table does not exist (the message lists the tables there) or
            the query fails.
    """
    options = mapping.source
    label = redact(url)
    if bool(options.table) == bool(options.query):
        raise IngestError(
            f"{label}: a database source needs 'source: {{table: ...}}' or "
            f"'source: {{query: ...}}' (one of them) in {mapping.path}"
        )
    expanded = _expand(url)
    try:
        kind = SCHEMES[urlsplit(expanded).scheme.lower()]
    except ValueError as error:  # e.g. an unclosed [ of an IPv6 address
        raise IngestError(f"{label}: not a valid URL ({error})") from None
    columns: list[str] = []
    rows: list[tuple[Any, ...]] = []
    with _connect(kind, expanded, label) as (connection, errors):
        cursor = connection.cursor()
        if options.table:
            tables = _tables(kind, cursor)
            if options.table not in tables:
                raise IngestError(
                    f"{label}: no table {options.table!r}; the database has {sorted(tables)}"
                )
            quote = '"' if kind == "postgres" else "`"
            name = ".".join(
                quote + p.replace(quote, quote * 2) + quote for p in _split(options.table)
            )
            sql = f"SELECT * FROM {name}"
        else:
            sql = str(options.query)
        try:
            cursor.execute(sql)
            columns = [d[0] for d in cursor.description or ()]
            while batch := cursor.fetchmany(FETCH_ROWS):
                rows.extend(batch)
        except errors as error:
            what = f"table {options.table!r}" if options.table else "the query"
            reason = redact(first_line(error), [urlsplit(expanded).password])
            raise IngestError(f"{label}: cannot read {what}: {reason}") from None
    return columns, rows


def _split(table: str) -> list[str]:
    return table.split(".", 1) if "." in table else [table]


def _expand(url: str) -> str:
    missing = [m for m in re.findall(r"\$\{(\w+)\}", url) if m not in os.environ]
    if missing:
        raise IngestError(
            f"{redact(url)}: the environment variable {missing[0]} it refers to is not set"
        )
    return os.path.expandvars(url)


@contextmanager
def _connect(kind: str, url: str, label: str) -> Iterator[tuple[Any, type[BaseException]]]:
    parts = urlsplit(url)
    database = parts.path.lstrip("/")
    if not parts.hostname or not database:
        raise IngestError(f"{label}: expected {parts.scheme}://user@host[:port]/database")
    try:
        if kind == "postgres":
            import psycopg

            connection: Any = psycopg.connect(url, connect_timeout=10)
            connection.read_only = True
            errors: type[BaseException] = psycopg.Error
        else:
            import pymysql

            connection = pymysql.connect(
                host=parts.hostname,
                port=parts.port or 3306,
                user=unquote(parts.username or ""),
                password=unquote(parts.password or ""),
                database=unquote(database),
                connect_timeout=10,
            )
            errors = pymysql.Error
    except ImportError as error:
        raise IngestError(
            f"{label}: reading {kind} needs the 'sql' extra: pip install 'factorybrain[sql]' "
            f"({error})"
        ) from None
    except Exception as error:  # each driver has its own connection errors
        # A driver may quote the URL or its password back: neither is shown.
        reason = redact(first_line(error), [parts.password, unquote(parts.password or "")])
        raise IngestError(f"{label}: cannot connect: {reason}") from None
    try:
        yield connection, errors
    finally:
        connection.close()


def _tables(kind: str, cursor: Any) -> set[str]:
    if kind == "postgres":
        cursor.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
        )
        found = cursor.fetchall()
        return {name for schema, name in found if schema == "public"} | {
            f"{schema}.{name}" for schema, name in found
        }
    cursor.execute("SHOW FULL TABLES")
    return {row[0] for row in cursor.fetchall()}
