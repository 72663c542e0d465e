"""Readers: turn a source file into a DuckDB relation of its rows, plus the rows it could not read.

Every reader numbers the rows as a person would find them in the file (the line of a CSV or JSON
lines file, the row of an Excel sheet, the record of a Parquet file or SQLite table, counting from
1) and keeps each unreadable row with its raw content and the reason, so nothing is lost.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from factorybrain.connectors._mapping import Mapping
from factorybrain.exceptions import IngestError

ROW = "__row"

_MAGIC = {
    b"PAR1": "parquet",
    b"PK\x03\x04": "excel",
    b"SQLite format 3\x00": "sqlite",
    b"\x1f\x8b": "gzip",
}


@dataclass
class Rejected:
    """A row the reader could not read."""

    row_number: int | None
    raw: str
    reason: str


@dataclass
class SourceRows:
    """What a reader produces: a relation over the readable rows and the unreadable ones."""

    relation: duckdb.DuckDBPyRelation
    rejected: list[Rejected] = field(default_factory=list)
    row_count: int | None = None


def sniff_format(path: Path) -> str | None:
    """Return the format the first bytes of ``path`` reveal, or ``None`` for text."""
    with path.open("rb") as handle:
        head = handle.read(4096)
    for magic, kind in _MAGIC.items():
        if head.startswith(magic):
            return kind
    if b"\x00" in head:
        return "binary"
    return None


def read_source(path: Path, mapping: Mapping, con: duckdb.DuckDBPyConnection) -> SourceRows:
    """Open ``path`` as the mapping says and return its rows.

    Raises:
        IngestError: If the file is missing, empty, or not what its format says it is.
    """
    if not path.exists():
        raise IngestError(f"{path}: no such file")
    if path.is_dir():
        raise IngestError(f"{path}: is a folder, expected a file")
    kind = mapping.format_for(path)
    if path.stat().st_size == 0 and kind != "jsonl":
        # An empty JSON-lines file is a valid export of zero records; any other format needs
        # at least a header, a document or a schema.
        raise IngestError(f"{path}: the file is empty (0 bytes); expected a header and rows")
    actual = sniff_format(path)
    expected_magic = {"parquet": "parquet", "excel": "excel", "sqlite": "sqlite"}
    if kind in expected_magic and actual != expected_magic[kind]:
        found = f"a {actual} file" if actual else "text"
        raise IngestError(f"{path}: expected a {kind} file, but its content is {found}")
    if kind in ("csv", "jsonl", "json") and actual not in (None, "gzip"):
        raise IngestError(f"{path}: expected {kind} text, but the content is a {actual} file")
    reader = {
        "csv": _read_csv,
        "parquet": _read_parquet,
        "excel": _read_excel,
        "jsonl": _read_jsonl,
        "json": _read_json,
        "sqlite": _read_sqlite,
    }[kind]
    return reader(path, mapping, con)


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _text_columns(mapping: Mapping) -> set[str]:
    """Return the columns that must be read as text.

    They feed text fields (so '007' stays '007'), templates, unit columns, code tables, or
    timestamps with an explicit format.
    """
    names: set[str] = set()
    for rule in mapping.fields.values():
        textual = rule.field.type in ("string", "text", "string[]", "json")
        if textual or rule.template or rule.values or rule.format:
            names.update(rule.source_columns)
        elif rule.unit_column:
            names.add(rule.unit_column)
    return names


def _read_csv(path: Path, mapping: Mapping, con: duckdb.DuckDBPyConnection) -> SourceRows:
    options = mapping.source
    # DuckDB types the other columns itself (fast native parsing); a value that does not fit the
    # type it chose is rejected with its line, like a malformed line.
    text = sorted(_text_columns(mapping))
    args = [
        _sql_string(str(path)),
        "header = true",
        "store_rejects = true",
        "rejects_table = '_csv_rejects'",
        "rejects_scan = '_csv_scans'",
        "strict_mode = true",
        "null_padding = false",
    ]
    if text:
        args.append("types = {" + ", ".join(f"{_sql_string(c)}: 'VARCHAR'" for c in text) + "}")
    if options.decimal:
        args.append(f"decimal_separator = {_sql_string(options.decimal)}")
    if options.delimiter:
        args.append(f"delim = {_sql_string(options.delimiter)}")
    if options.encoding:
        args.append(f"encoding = {_sql_string(options.encoding)}")
    try:
        con.execute("DROP TABLE IF EXISTS _csv_rejects").fetchall()
        con.execute("DROP TABLE IF EXISTS _csv_scans").fetchall()
        relation = con.sql(
            f"SELECT *, row_number() OVER () + 1 AS {ROW} FROM read_csv({', '.join(args)})"
        )
    except duckdb.Error as error:
        raise IngestError(f"{path}: cannot read as CSV: {first_line(error)}") from error
    return SourceRows(relation)


def csv_rejects(con: duckdb.DuckDBPyConnection, path: Path, mapping: Mapping) -> list[Rejected]:
    """Return the lines DuckDB's CSV reader rejected (call after the relation was consumed)."""
    try:
        rows = con.execute(
            "SELECT line, csv_line, error_type, column_name, error_message FROM _csv_rejects "
            "ORDER BY line"
        ).fetchall()
    except duckdb.Error:
        return []
    explain = {
        "TOO MANY COLUMNS": "more fields than the header has",
        "MISSING COLUMNS": "fewer fields than the header has",
        "INVALID UNICODE": "not valid UTF-8 (set 'source: {encoding: ...}' in the mapping)",
        "INVALID ENCODING": "not valid UTF-8 (set 'source: {encoding: ...}' in the mapping)",
        "UNQUOTED VALUE": "a quote character inside an unquoted field",
        "LINE SIZE OVER MAXIMUM": "the line is longer than the reader accepts",
    }
    rejected = []
    for line, csv_line, error_type, column, message in rows:
        if error_type == "CAST":
            fields = [n for n, r in mapping.fields.items() if column in r.source_columns]
            where = f"field {fields[0]!r} (column {column!r})" if fields else f"column {column!r}"
            reason = f"{where}: {first_line(message)}"
        else:
            reason = (
                f"malformed CSV line: {explain.get(error_type, error_type.lower())} "
                f"({first_line(message)})"
            )
        rejected.append(Rejected(int(line), csv_line or "", reason))
    return rejected


def _read_parquet(path: Path, mapping: Mapping, con: duckdb.DuckDBPyConnection) -> SourceRows:
    try:
        relation = con.sql(
            f"SELECT * EXCLUDE (file_row_number), file_row_number + 1 AS {ROW} "
            f"FROM read_parquet({_sql_string(str(path))}, file_row_number = true)"
        )
        count = con.execute(
            f"SELECT sum(num_rows) FROM parquet_file_metadata({_sql_string(str(path))})"
        ).fetchall()[0]
    except duckdb.Error as error:
        raise IngestError(f"{path}: cannot read as Parquet: {first_line(error)}") from error
    return SourceRows(relation, row_count=int(count[0] or 0) if count else None)


def register_rows(
    con: duckdb.DuckDBPyConnection,
    rows: list[dict[str, Any]],
    numbers: list[int],
    path: Path | str,
) -> duckdb.DuckDBPyRelation:
    columns: list[str] = []
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    if ROW in columns:
        raise IngestError(f"{path}: a column may not be called {ROW!r}")
    data = {c: pa.array([_text(row.get(c)) for row in rows], pa.string()) for c in columns}
    data[ROW] = pa.array(numbers, pa.int64())
    table = pa.table(data) if rows else pa.table({ROW: pa.array([], pa.int64())})
    name = f"_source_{abs(hash(str(path)))}"
    con.register(name, table)
    return con.table(name)


def _text(value: Any) -> str | None:
    """The text of a cell: ``None`` stays missing, nested values become JSON."""
    if value is None:
        return None
    if isinstance(value, float) and value != value:  # NaN from a spreadsheet's empty cell
        return None
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ") if hasattr(value, "hour") else value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value)) if abs(value) < 1e15 else repr(value)
    return str(value)


def _read_excel(path: Path, mapping: Mapping, con: duckdb.DuckDBPyConnection) -> SourceRows:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many unrelated types for a damaged file
        raise IngestError(f"{path}: cannot read as Excel: {error}") from error
    sheet_name = mapping.source.sheet or mapping.source.table
    if sheet_name and sheet_name not in book.sheetnames:
        raise IngestError(f"{path}: no sheet {sheet_name!r}; the workbook has {book.sheetnames}")
    sheet = book[sheet_name] if sheet_name else book.worksheets[0]
    rows_iter = sheet.iter_rows(values_only=True)
    header = next(rows_iter, None)
    if header is None:
        raise IngestError(f"{path}: sheet {sheet.title!r} is empty; expected a header row")
    names = [str(h).strip() if h is not None else f"column_{i + 1}" for i, h in enumerate(header)]
    rows, numbers, rejected = [], [], []
    for number, values in enumerate(rows_iter, start=2):
        if values is None or all(v is None for v in values):
            continue
        if len(values) > len(names) and any(v is not None for v in values[len(names) :]):
            rejected.append(
                Rejected(
                    number, json.dumps([_text(v) for v in values]), "more cells than the header has"
                )
            )
            continue
        rows.append(dict(zip(names, values, strict=False)))
        numbers.append(number)
    book.close()
    return SourceRows(register_rows(con, rows, numbers, path), rejected)


def _read_jsonl(path: Path, mapping: Mapping, con: duckdb.DuckDBPyConnection) -> SourceRows:
    rows, numbers, rejected = [], [], []
    encoding = mapping.source.encoding or "utf-8"
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode(encoding)
            except UnicodeDecodeError:
                rejected.append(
                    Rejected(
                        number,
                        raw.decode(encoding, "replace").rstrip("\n"),
                        f"not valid {encoding} text",
                    )
                )
                continue
            if not text.strip():
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as error:
                rejected.append(
                    Rejected(
                        number,
                        text.rstrip("\n"),
                        f"not valid JSON: {error.msg} at column {error.colno}",
                    )
                )
                continue
            if not isinstance(record, dict):
                rejected.append(
                    Rejected(
                        number,
                        text.rstrip("\n"),
                        f"expected a JSON object, found {type(record).__name__}",
                    )
                )
                continue
            rows.append(record)
            numbers.append(number)
    return SourceRows(register_rows(con, rows, numbers, path), rejected)


def _read_json(path: Path, mapping: Mapping, con: duckdb.DuckDBPyConnection) -> SourceRows:
    try:
        document = json.loads(path.read_text(encoding=mapping.source.encoding or "utf-8"))
    except UnicodeDecodeError as error:
        raise IngestError(
            f"{path}: not valid text in {mapping.source.encoding or 'utf-8'}; set "
            "'source: {encoding: ...}' in the mapping"
        ) from error
    except json.JSONDecodeError as error:
        raise IngestError(
            f"{path}: not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from error
    records: Any = document
    if mapping.source.records:
        for part in mapping.source.records.split("."):
            if not isinstance(records, dict) or part not in records:
                raise IngestError(
                    f"{path}: no key {part!r} on the way to records {mapping.source.records!r}"
                )
            records = records[part]
    if not isinstance(records, list):
        raise IngestError(
            f"{path}: expected a list of records (set 'source: {{records: "
            "path.to.list}}' in the mapping)"
        )
    rows, numbers, rejected = [], [], []
    explode = mapping.source.explode
    for number, record in enumerate(records, start=1):
        if isinstance(record, dict) and explode:
            items = record.get(explode)
            if not isinstance(items, list):
                rejected.append(
                    Rejected(
                        number,
                        json.dumps(record, default=str),
                        f"expected a list under {explode!r} to explode",
                    )
                )
                continue
            parent = {k: v for k, v in record.items() if k != explode}
            for item in items:
                row = dict(parent)
                if isinstance(item, dict):
                    row.update({f"{explode}.{k}": v for k, v in item.items()})
                else:
                    row[explode] = item
                rows.append(row)
                numbers.append(number)
        elif isinstance(record, dict):
            rows.append(record)
            numbers.append(number)
        else:
            rejected.append(
                Rejected(
                    number,
                    json.dumps(record, default=str),
                    f"expected a JSON object, found {type(record).__name__}",
                )
            )
    return SourceRows(register_rows(con, rows, numbers, path), rejected)


def _read_sqlite(path: Path, mapping: Mapping, con: duckdb.DuckDBPyConnection) -> SourceRows:
    table = mapping.source.table
    if not table:
        raise IngestError(
            f"{path}: a SQLite source needs 'source: {{table: ...}}' in {mapping.path}"
        )
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as error:
        raise IngestError(f"{path}: cannot open as SQLite: {error}") from error
    try:
        tables = [
            r[0]
            for r in db.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")
        ]
        if table not in tables:
            raise IngestError(f"{path}: no table {table!r}; the database has {sorted(tables)}")
        cursor = db.execute(f'SELECT * FROM "{table}"')
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, values, strict=True)) for values in cursor]
    except sqlite3.DatabaseError as error:
        raise IngestError(f"{path}: cannot read table {table!r}: {error}") from error
    finally:
        db.close()
    return SourceRows(register_rows(con, rows, list(range(1, len(rows) + 1)), path))


def first_line(error: BaseException) -> str:
    """The first line of an error's message (drivers add pages of context below it)."""
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
