"""Tables of the store and the versioned migrations that create and evolve them.

Migrations only ever append: a released schema version is never edited. A test applies every
migration to an empty store and checks the result matches the model, so the definitions in
:mod:`factorybrain.model` and the migrations cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import duckdb

from factorybrain.model import (
    ENTITY_TYPES,
    KNOWN_AT,
    SYSTEM_COLUMNS,
    EntityType,
    KnownAt,
    entity_type,
)


def quote(identifier: str) -> str:
    """Quote an SQL identifier."""
    return '"' + identifier.replace('"', '""') + '"'


def entity_table_ddl(entity: EntityType) -> str:
    """``CREATE TABLE`` statement of one entity type."""
    columns = [
        f"{quote(f.name)} {f.sql_type}"
        + (" NOT NULL" if f.name in ("space", "external_id") else "")
        for f in entity.all_fields + SYSTEM_COLUMNS
    ]
    return f"CREATE TABLE IF NOT EXISTS {quote(entity.name)} (\n  " + ",\n  ".join(columns) + "\n)"


#: The key of a genealogy edge, and the values an upsert of edges may change.
EDGE_KEY = ("edge_type", "source_space", "source_external_id", "target_space", "target_external_id")
EDGE_VALUES = ("start_time", "end_time", "quantity", "properties", "source")

#: Gives the time series that have none an id after the largest in use, in key order.
ASSIGN_SERIES_IDS = """
    UPDATE time_series t SET series_id = n.series_id FROM (
        SELECT space, external_id,
               (SELECT coalesce(max(series_id), 0) FROM time_series)
                 + row_number() OVER (ORDER BY space, external_id) AS series_id
        FROM time_series WHERE series_id IS NULL
    ) n
    WHERE t.space = n.space AND t.external_id = n.external_id
    """

#: The tables ``Store.counts`` counts: every entity type, then datapoints, edges, quarantine.
COUNTED_TABLES = (*(entity.name for entity in ENTITY_TYPES), "datapoint", "edge", "quarantine")

#: Rows of every counted table, one ``(t, n)`` row each.
COUNTS_SQL = " UNION ALL ".join(
    f"SELECT '{name}' AS t, count(*) AS n FROM {quote(name)}" for name in COUNTED_TABLES
)


def entities_sql(
    entity: EntityType,
    where: dict[str, object] | None,
    limit: int | None,
    offset: int,
    placeholder: str,
) -> tuple[str, list[object]]:
    """``SELECT`` of one entity type's rows, equal on ``where``, in key order, and its values.

    ``placeholder`` is the driver's mark for a value (``?`` for DuckDB, ``%s`` for psycopg).
    """
    conditions, parameters = [], []
    for name, value in (where or {}).items():
        entity.field(name)  # raises KeyError naming the field
        conditions.append(f"{quote(name)} = {placeholder}")
        parameters.append(value)
    sql = f"SELECT * FROM {quote(entity.name)}"
    if conditions:
        sql += " WHERE " + " AND ".join(conditions)
    sql += " ORDER BY space, external_id"
    if limit is not None:
        sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
    return sql, parameters


def merge_sql(
    table: str, key: Sequence[str], values: Sequence[str], *, text: str, now: str, ingest: str
) -> tuple[str, str]:
    """The count and the ``MERGE`` of an upsert from the scratch table ``_incoming``.

    The count gives rows new, changed and unchanged (compared as ``text``, the database's
    name for the text type); ``now`` and ``ingest`` are the statement's marks for the time of
    the write and the ingest id.
    """
    on = " AND ".join(f"t.{quote(k)} = s.{quote(k)}" for k in key)
    changed = (
        " OR ".join(f"t.{quote(c)}::{text} IS DISTINCT FROM s.{quote(c)}::{text}" for c in values)
        or "FALSE"
    )
    first = quote(key[0])
    count = f"""
        SELECT count(*) FILTER (WHERE t.{first} IS NULL),
               count(*) FILTER (WHERE t.{first} IS NOT NULL AND ({changed})),
               count(*) FILTER (WHERE t.{first} IS NOT NULL AND NOT ({changed}))
        FROM _incoming s LEFT JOIN {table} t ON {on}
        """
    sets = ", ".join(
        [f"{quote(c)} = s.{quote(c)}" for c in values]
        + [f"updated_at = {now}", f"ingest_id = {ingest}"]
    )
    columns = [*key, *values]
    merge = f"""
        MERGE INTO {table} t USING _incoming s ON {on}
        WHEN MATCHED AND ({changed}) THEN UPDATE SET {sets}
        WHEN NOT MATCHED THEN INSERT
          ({", ".join(quote(c) for c in columns)}, created_at, updated_at, ingest_id)
          VALUES ({", ".join("s." + quote(c) for c in columns)}, {now}, {now}, {ingest})
        """
    return count, merge


#: Tables that are not entities: long-form datapoints, genealogy edges, ingestion bookkeeping.
SYSTEM_TABLES: dict[str, str] = {
    "datapoint": """
        CREATE TABLE IF NOT EXISTS datapoint (
          series_id INTEGER NOT NULL,
          ts TIMESTAMP NOT NULL,
          value DOUBLE
        )""",
    "series_extent": """
        CREATE TABLE IF NOT EXISTS series_extent (
          series_id INTEGER PRIMARY KEY,
          first_ts TIMESTAMP,
          last_ts TIMESTAMP,
          points BIGINT
        )""",
    "edge": """
        CREATE TABLE IF NOT EXISTS edge (
          edge_type VARCHAR NOT NULL,
          source_space VARCHAR NOT NULL,
          source_external_id VARCHAR NOT NULL,
          target_space VARCHAR NOT NULL,
          target_external_id VARCHAR NOT NULL,
          start_time TIMESTAMP,
          end_time TIMESTAMP,
          quantity DOUBLE,
          properties JSON,
          source VARCHAR,
          created_at TIMESTAMP,
          updated_at TIMESTAMP,
          ingest_id VARCHAR
        )""",
    "quarantine": """
        CREATE TABLE IF NOT EXISTS quarantine (
          ingest_id VARCHAR NOT NULL,
          source_file VARCHAR NOT NULL,
          row_number BIGINT,
          entity_type VARCHAR,
          field VARCHAR,
          reason VARCHAR NOT NULL,
          raw VARCHAR,
          quarantined_at TIMESTAMP
        )""",
    "ingest_report": """
        CREATE TABLE IF NOT EXISTS ingest_report (
          ingest_id VARCHAR PRIMARY KEY,
          source_file VARCHAR NOT NULL,
          mapping_file VARCHAR,
          entity_type VARCHAR,
          file_sha256 VARCHAR,
          started_at TIMESTAMP,
          finished_at TIMESTAMP,
          seconds DOUBLE,
          rows_read BIGINT,
          inserted BIGINT,
          updated BIGINT,
          unchanged BIGINT,
          quarantined BIGINT,
          quarantine_by_reason JSON,
          skipped BIGINT,
          skipped_by_reason JSON,
          status VARCHAR
        )""",
}


@dataclass(frozen=True)
class Migration:
    """One step of the schema's history.

    Args:
        version: Schema version after the step; versions count up from 1 without gaps.
        description: What the step changes, for ``status`` and the changelog.
        statements: Produces the SQL statements of the step.
    """

    version: int
    description: str
    statements: Callable[[], Sequence[str]]


def _initial() -> list[str]:
    return [entity_table_ddl(entity) for entity in ENTITY_TYPES] + [
        *SYSTEM_TABLES.values(),
    ]


def _trust() -> list[str]:
    added = {
        "recommendation": ("slot", "content_hash"),
        "action": ("proposed_by", "content_hash", "approved_hash", "superseded_by"),
        "audit_entry": ("seq", "prev_hash", "hash"),
    }
    columns = [
        f"ALTER TABLE {quote(entity)} ADD COLUMN IF NOT EXISTS {quote(name)} "
        f"{entity_type(entity).field(name).sql_type}"
        for entity, names in added.items()
        for name in names
    ]
    columns.append("ALTER TABLE ingest_report ADD COLUMN IF NOT EXISTS actor VARCHAR")
    # Two writers can never give two entries one position: a fork of the chain fails loudly.
    chain = "CREATE UNIQUE INDEX IF NOT EXISTS audit_entry_chain ON audit_entry (space, seq)"
    return [*columns, chain, *ACCESS_TABLES.values()]


#: API tokens and dashboard sessions (schema version 2): only hashes of secrets are kept.
ACCESS_TABLES: dict[str, str] = {
    "api_token": """
        CREATE TABLE IF NOT EXISTS api_token (
          token_id VARCHAR PRIMARY KEY,
          token_hash VARCHAR NOT NULL UNIQUE,
          name VARCHAR NOT NULL,
          role VARCHAR NOT NULL,
          scopes VARCHAR[] NOT NULL,
          created_at TIMESTAMP NOT NULL,
          created_by VARCHAR NOT NULL,
          expires_at TIMESTAMP,
          last_used_at TIMESTAMP,
          revoked_at TIMESTAMP,
          revoked_by VARCHAR,
          rotated_from VARCHAR
        )""",
    "api_session": """
        CREATE TABLE IF NOT EXISTS api_session (
          session_hash VARCHAR PRIMARY KEY,
          token_id VARCHAR NOT NULL,
          csrf_hash VARCHAR NOT NULL,
          created_at TIMESTAMP NOT NULL,
          expires_at TIMESTAMP NOT NULL,
          ended_at TIMESTAMP
        )""",
}


def _accounting() -> list[str]:
    # Every row read is accounted for: merged and filtered rows apart (``skipped`` stays their
    # sum, as reports before this version have it), and the records the rows came from.
    added = {
        "records_read": "BIGINT",
        "merged": "BIGINT",
        "filtered": "BIGINT",
        "filtered_by_reason": "JSON",
    }
    return [
        f"ALTER TABLE ingest_report ADD COLUMN IF NOT EXISTS {name} {sql_type}"
        for name, sql_type in added.items()
    ]


#: Statements that put each historian series on the asset its approved link names: a link
#: rejected since is taken off (when the series is on that asset), then every series on no asset
#: takes the target of its most confident approved link of kind ``tag``.
SERIES_LINKS: tuple[str, ...] = (
    """
    UPDATE time_series SET asset = NULL
    FROM annotation a
    WHERE a.status = 'rejected' AND a.source_kind = 'tag'
      AND a.target_type IN ('asset', 'equipment')
      AND time_series.space = a.source_space AND time_series.external_id = a.source_identifier
      AND time_series.asset = a.target_external_id
      AND NOT EXISTS (
        SELECT 1 FROM annotation b
        WHERE b.status = 'approved' AND b.source_kind = 'tag'
          AND b.source_space = a.source_space AND b.source_identifier = a.source_identifier
          AND b.target_external_id = a.target_external_id)
    """,
    """
    UPDATE time_series SET asset = links.target
    FROM (
      SELECT source_space, source_identifier, arg_max(target_external_id, confidence) AS target
      FROM annotation
      WHERE status = 'approved' AND source_kind = 'tag' AND target_type IN ('asset', 'equipment')
      GROUP BY ALL
    ) links
    WHERE time_series.space = links.source_space
      AND time_series.external_id = links.source_identifier
      AND time_series.asset IS NULL
    """,
)


def _series_links() -> list[str]:
    return list(SERIES_LINKS)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1, "the factory model of DESIGN.md, datapoints, edges, quarantine, reports", _initial
    ),
    Migration(
        2,
        "approvals bound to content, an append-only hash-chained audit log, tokens and "
        "sessions in the store",
        _trust,
    ),
    Migration(
        3,
        "ingest reports count merged and filtered rows apart, and the records rows came from",
        _accounting,
    ),
    Migration(
        4,
        "historian series are put on the assets their approved links name (time_series.asset)",
        _series_links,
    ),
)

#: Version of the schema this code reads and writes.
SCHEMA_VERSION = MIGRATIONS[-1].version


def _moment(at: datetime) -> str:
    return f"TIMESTAMP '{at.isoformat(sep=' ')}'"


def _known_view(source: str, rule: KnownAt, at: str, columns: Sequence[str] | None = None) -> str:
    """The rows of ``source`` known at ``at`` (SQL), by ``rule`` (see :data:`KNOWN_AT`).

    ``columns``: the table's columns, listed with the replaced ones in place, for a dialect
    without ``* REPLACE`` (PostgreSQL); None: ``* REPLACE``.
    """
    planned = f"coalesce(({rule.planned}), false)" if rule.planned else "false"
    replaced = {
        name: f"CASE WHEN {quote(name)} > {at} AND NOT {planned} THEN NULL ELSE {quote(name)} END"
        for name in rule.later
    }
    if rule.status is not None:
        replaced["status"] = (
            f"CASE WHEN {planned} THEN status ELSE ({rule.status.replace('$as_of', at)}) END"
        )
    known = quote(rule.known_at) if rule.known_at else None
    where = f" WHERE {planned} OR {known} IS NULL OR {known} <= {at}" if known else ""
    return f"SELECT {_replacing(replaced, columns)} FROM {source}{where}"


def _replacing(replaced: Mapping[str, str], columns: Sequence[str] | None) -> str:
    """A select list: every column, those of ``replaced`` computed instead."""
    if columns is not None:
        return ", ".join(
            f"{replaced[c]} AS {quote(c)}" if c in replaced else quote(c) for c in columns
        )
    if not replaced:
        return "*"
    return f"* REPLACE ({', '.join(f'{sql} AS {quote(c)}' for c, sql in replaced.items())})"


def as_of_selects(
    at: datetime,
    table: Callable[[str], str],
    columns: Callable[[str], Sequence[str]] | None = None,
) -> dict[str, str]:
    """Per table shadowed, the SELECT that shows it as known at ``at``.

    Each table of an entity type with a :func:`~factorybrain.model.known_at` rule, the
    datapoints, their extents and the timed genealogy edges. ``table(name)`` names the stored
    table the view reads; ``columns(name)`` lists a table's columns for a dialect without
    ``* REPLACE`` (None: DuckDB's).
    """
    moment = _moment(at)

    def listed(name: str) -> Sequence[str] | None:
        return None if columns is None else columns(name)

    extents = _replacing({"last_ts": f"least(last_ts, {moment})"}, listed("series_extent"))
    selects = {
        "datapoint": f"SELECT * FROM {table('datapoint')} WHERE ts <= {moment}",
        "series_extent": f"SELECT {extents} FROM {table('series_extent')} "
        f"WHERE first_ts <= {moment}",
        "edge": _known_view(
            table("edge"), KnownAt("start_time", ("end_time",)), moment, listed("edge")
        ),
    }
    for name, rule in KNOWN_AT.items():
        selects[name] = _known_view(table(name), rule, moment, listed(name))
    return selects


def as_of_views(connection: duckdb.DuckDBPyConnection, at: datetime) -> dict[str, str]:
    """Statements that make ``connection`` see the model as known at ``at``, by table shadowed.

    Each shadowed table (:func:`as_of_selects`) gets a temporary view of the same name, which
    DuckDB resolves before the database's own tables; the views read the tables through their
    full name.
    """
    database = connection.execute("SELECT current_database()").fetchall()[0][0]
    views = as_of_selects(at, lambda name: f"{quote(database)}.main.{quote(name)}")
    return {
        name: f"CREATE OR REPLACE TEMP VIEW {quote(name)} AS {select}"
        for name, select in views.items()
    }
