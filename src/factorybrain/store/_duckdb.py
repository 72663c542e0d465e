"""The embedded store: one DuckDB file.

Datapoints sit in one long table ``(series_id, ts, value)``. Ingestion appends them in the order of
the source (historian exports are per tag and in time order), so DuckDB's per-row-group min/max
statistics let a query for one series and a time range skip everything else; ``series_extent``
keeps each series' first and last timestamp so the latest value and overlap checks never scan.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import duckdb
import pandas as pd
import pyarrow as pa

from factorybrain.exceptions import SchemaError, StoreError
from factorybrain.model import EntityType, entity_type
from factorybrain.store._base import DedupOutcome, QueryParameters, Store, WriteCounts
from factorybrain.store._holder import locked_store_error
from factorybrain.store._schema import (
    ASSIGN_SERIES_IDS,
    COUNTS_SQL,
    EDGE_KEY,
    EDGE_VALUES,
    MIGRATIONS,
    SCHEMA_VERSION,
    as_of_views,
    entities_sql,
    merge_sql,
    quote,
)
from factorybrain.store._sql_guard import TableCatalog, check_read_only

#: The duplicate reasons, grouped under one wording each whatever key or row they name.
_DUPLICATE_KEYS = {
    "duplicate key": "duplicate key in the same file",
    "duplicate (series, ts)": "duplicate (series, ts) in the same file",
}


def reason_key(reason: str) -> str:
    """A quarantine reason without what varies from row to row: the problem, for grouping.

    Reasons are written as ``<where>: <what was expected>, found <value>`` or
    ``<problem> (<details>)``: the key is the text before ``, found`` (or else before `` (``).
    :data:`REASON_KEY_SQL` is the same rule in SQL.
    """
    for prefix, key in _DUPLICATE_KEYS.items():
        if reason.startswith(prefix):
            return key
    cut = reason.find(", found ")
    if cut > 0:
        return reason[:cut]
    cut = reason.find(" (")
    return reason[:cut] if cut > 0 else reason


#: :func:`reason_key` over ``q.reason`` in SQL.
REASON_KEY_SQL = (
    "CASE "
    + " ".join(
        f"WHEN starts_with(q.reason, '{prefix}') THEN '{key}'"
        for prefix, key in _DUPLICATE_KEYS.items()
    )
    + " WHEN strpos(q.reason, ', found ') > 1 THEN left(q.reason, strpos(q.reason, ', found ') - 1)"
    " WHEN strpos(q.reason, ' (') > 1 THEN left(q.reason, strpos(q.reason, ' (') - 1)"
    " ELSE q.reason END"
)


#: Open quarantine by distinct problem (see :meth:`DuckDBStore.quarantine_summary`).
QUARANTINE_SUMMARY_SQL = f"""
    WITH latest AS (
        SELECT ingest_id FROM ingest_report WHERE status = 'ok'
        QUALIFY row_number() OVER (
            PARTITION BY source_file, entity_type, mapping_file
            ORDER BY started_at DESC) = 1
    )
    SELECT q.source_file, q.entity_type, q.field, {REASON_KEY_SQL} AS reason,
           count(*) AS rows, min(q.row_number) AS first_row
    FROM quarantine q SEMI JOIN latest l ON q.ingest_id = l.ingest_id
    GROUP BY ALL ORDER BY q.source_file, rows DESC, reason
    """


#: Column types whose Arrow form becomes the pandas column DuckDB's ``df()`` makes: strings,
#: floating point numbers and timestamps without a zone. A result of only these is converted
#: through Arrow, without a Python object per string: on a fleet's millions of rows a third of
#: the memory and of the time. Integers (nullable ones become ``Int64`` in ``df()``), booleans,
#: decimals, dates and nested types keep ``df()``.
_VIA_ARROW = frozenset(
    {"VARCHAR", "DOUBLE", "FLOAT", "TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS"}
)
_SELECT = re.compile(r"\s*(SELECT|WITH)\b", re.IGNORECASE)


def _frame(
    con: duckdb.DuckDBPyConnection, sql: str, parameters: QueryParameters | None
) -> pd.DataFrame:
    """The result of one read-only statement as a DataFrame, as ``df()`` makes it."""
    if _SELECT.match(sql):
        relation = con.sql(sql, params=parameters or None)
        types = [str(kind) for kind in relation.types]
        # df() renames a repeated column name (x, x_1): that result keeps df()
        if set(types) <= _VIA_ARROW and len(set(relation.columns)) == len(types):
            frame = relation.to_arrow_table().to_pandas(self_destruct=True, split_blocks=True)
            for i, kind in enumerate(types):
                # df() gives a column where no string is known (no rows, or all NULL) as objects
                if kind == "VARCHAR" and not frame.iloc[:, i].notna().any():
                    nothing = pd.Series([None] * len(frame), index=frame.index, dtype=object)
                    frame.isetitem(i, nothing)
            return frame
    return con.execute(sql, parameters or []).df()


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class _Generation:
    """Write counters shared by a store and its readers (see :attr:`DuckDBStore.generation`).

    ``value`` grows with every write; ``tables`` keeps the value at the last write of each
    table and ``everything`` the value at the last write that may have touched any table.
    """

    __slots__ = ("_lock", "everything", "tables", "value")

    def __init__(self) -> None:
        self.value = 0
        self.everything = 0
        self.tables: dict[str, int] = {}
        self._lock = threading.Lock()

    def bump(self, tables: Iterable[str] | None) -> None:
        """Count a write to ``tables`` (None: to any table)."""
        with self._lock:
            self.value += 1
            if tables is None:
                self.everything = self.value
            else:
                for table in tables:
                    self.tables[table] = self.value

    def of(self, tables: Iterable[str]) -> int:
        with self._lock:
            return max([self.everything, *(self.tables.get(table, 0) for table in tables)])


class _SeriesIds:
    """Series ids by external id as of one generation of ``time_series``, shared by the handles.

    ``state`` is replaced as a whole (one assignment), so a thread never pairs a generation
    with the ids of another.
    """

    __slots__ = ("state",)

    def __init__(self) -> None:
        self.state: tuple[int, dict[str, int]] = (-1, {})


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _writes(*tables: str) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Mark a method that changes the contents of ``tables`` (none named: of any table).

    The store's generation grows once the method returns, or fails (an autocommit statement
    may have written part of its rows).
    """

    def mark(method: Callable[_P, _R]) -> Callable[_P, _R]:
        @wraps(method)
        def counted(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            with args[0]._write_lock:  # type: ignore[attr-defined]
                try:
                    return method(*args, **kwargs)
                finally:
                    args[0]._wrote(tables or None)  # type: ignore[attr-defined]

        return counted

    return mark


def _open_failure(path: str, error: duckdb.Error) -> StoreError:
    """Why a store file cannot be opened, in words that say what to do.

    A lock held by another process is a :class:`StoreLockedError` that names it, and the URL
    of its API when it is a server that recorded one (:func:`locked_store_error`).
    """
    locked = locked_store_error(path, str(error))
    if locked is not None:
        return locked
    return StoreError(f"cannot open the store {path!r}: {error}")


class DuckDBStore(Store):
    """The factory model in one DuckDB file (or in memory with ``":memory:"``).

    Args:
        path: Database file; created when missing.
        read_only: Open without write access (several readers may share the file).
        memory_limit: DuckDB's memory limit, e.g. ``"4GB"``; defaults to
            ``$FACTORYBRAIN_MEMORY_LIMIT`` or 1 GB, which bounds large ingests (DuckDB spills to
            disk beyond it) where DuckDB would otherwise take 80 % of the machine.
        threads: Worker threads of DuckDB; defaults to the number of cores.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        read_only: bool = False,
        memory_limit: str | None = None,
        threads: int | None = None,
    ) -> None:
        self.path = str(path)
        config: dict[str, Any] = {
            "memory_limit": memory_limit or os.environ.get("FACTORYBRAIN_MEMORY_LIMIT", "1GB")
        }
        if threads:
            config["threads"] = threads
        try:
            self._con = duckdb.connect(self.path, read_only=read_only, config=config)
        except duckdb.Error as error:
            raise _open_failure(self.path, error) from error
        self._con.execute("SET TimeZone = 'UTC'")
        self._con.execute("SET enable_progress_bar = false").fetchall()
        # Late materialisation turns a page (LIMIT/OFFSET) or a top-N of at most 50 rows into a
        # join of the table with itself on row ids: it saves reading wide rows of huge tables,
        # but the store's pages and lookups read small tables, where it doubles the cost of a
        # query (1.4 -> 0.7 ms for a page of 50 work orders). DuckDB sets it for the whole
        # database, not per connection.
        self._con.execute("SET disabled_optimizers = 'late_materialization'").fetchall()
        self.read_only = read_only
        self._lock = threading.RLock()
        #: One writer at a time in this process, whatever handle it writes through (the store
        #: and every :meth:`handle` share it): writes of agents, people and tokens interleave
        #: transaction by transaction instead of colliding.
        self._write_lock = threading.RLock()
        self._in_transaction = False
        #: Names the database behind this handle: the same for the store and its readers, so
        #: caches of derived answers can be shared between them (in-memory stores included).
        self.identity = f"{self.path}#{uuid.uuid4().hex}"
        self._generation = _Generation()
        self._pending: set[str] | None = set()  # written in the open transaction (None: any)
        self._tables = TableCatalog()  # what query() may read (see _sql_guard)
        self._series_ids = _SeriesIds()  # shared with the handles, checked by generation
        self._as_of: datetime | None = None  # the moment an as_of() handle looks at

    def handle(self) -> DuckDBStore:
        """Return a second handle on the same database, for another thread.

        One DuckDB connection serves one thread at a time; a handle is a connection of its
        own. It sees committed data only (what a transaction of another handle wrote is visible
        once it commits), and its writes take the same write lock as the store's.
        """
        clone = object.__new__(DuckDBStore)
        clone.path = self.path
        clone.identity = self.identity
        clone._generation = self._generation
        clone._pending = set()
        clone._con = self._con.cursor()
        clone._con.execute("SET TimeZone = 'UTC'").fetchall()
        clone.read_only = self.read_only
        clone._lock = threading.RLock()
        clone._write_lock = self._write_lock
        clone._in_transaction = False
        clone._tables = TableCatalog()  # its own: temporary tables are per connection
        clone._series_ids = self._series_ids
        clone._as_of = None
        return clone

    def as_of(self, at: datetime) -> DuckDBStore:
        """A handle that sees the factory model as it was known at ``at`` (see :class:`Store`).

        The handle is a connection of its own whose temporary views shadow the model's tables
        (datapoints up to ``at``, records from their :func:`~factorybrain.model.known_at` time,
        later times empty, statuses rewound); the agents' records are not shadowed, so what an
        agent finds is written as usual. Calling ``as_of`` on such a handle moves it to
        another moment. It has its own identity and write count, so caches of answers derived
        from the live tables are never taken for the past ones.
        """
        handle = self if self._as_of is not None else self.handle()
        if handle is not self:
            handle.identity = f"{self.path}#as-of-{uuid.uuid4().hex}"
            handle._generation = _Generation()
            handle._series_ids = _SeriesIds()
        if at.tzinfo is not None:
            at = at.astimezone(UTC).replace(tzinfo=None)
        handle._as_of = at
        with handle._lock:
            shadowed = []
            for table, statement in as_of_views(handle._con, handle._as_of).items():
                handle._con.execute(statement).fetchall()
                shadowed.append(table)
            handle._tables = TableCatalog()
        handle._wrote(shadowed)  # the tables known all along are as they were
        return handle

    @property
    def known_at(self) -> datetime | None:
        """The moment an :meth:`as_of` handle looks at (None: the present)."""
        return self._as_of

    def reader(self) -> DuckDBStore:
        """Return a second handle on the same database for reads while this one is busy.

        It sees committed data only: what the current transaction wrote is not visible to it.
        """
        clone = self.handle()
        clone.read_only = True
        return clone

    def _one(self, sql: str, parameters: Any = None) -> tuple[Any, ...]:
        """Run a query and return its first row (consuming the whole result)."""
        rows = self._con.execute(sql, parameters or []).fetchall()
        return rows[0] if rows else ()

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def generation(self) -> int:
        """A number that grows with every write to the database, shared with the readers.

        An unchanged number means unchanged tables (per table: :meth:`generation_of`).
        """
        return self._generation.value

    def generation_of(self, tables: Iterable[str]) -> int:
        """A number that grows with every write to any of ``tables`` (see :class:`Store`).

        Every write method counts (an upsert only when it inserted or changed a row), and so
        does the end of the :meth:`transaction` it ran in (only then do readers see what it
        wrote); taking :attr:`connection` counts as a write to every table, as does
        :meth:`migrate`. Writes from other processes need no counting:
        DuckDB locks the file, so while this handle is open no other process can write to it
        (an open for writing excludes every other process, a read-only open excludes writers).
        """
        return self._generation.of(tables)

    def _wrote(self, tables: Iterable[str] | None) -> None:
        """Count a write to ``tables`` (None: any), again when the open transaction ends."""
        tables = None if tables is None else tuple(tables)
        self._generation.bump(tables)
        if self._in_transaction and self._pending is not None:
            self._pending = None if tables is None else self._pending | set(tables)

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The underlying DuckDB connection (for the ingestion pipeline and benchmarks).

        Taking it counts as a write to every table (see :meth:`generation_of`): write through
        it right away or inside :meth:`transaction`, not through a connection kept from earlier.
        """
        self._wrote(None)
        return self._con

    def scratch_connection(self, tables: Iterable[str] = ()) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection for reading sources, on which the model's ``tables`` can be read.

        Here a cursor of the store's own connection (every table is there); ingestion reads
        files through it and joins them to the stored entities its lookups name.
        """
        del tables  # all of them are at hand
        return self.connection.cursor()

    def close(self) -> None:
        """Close the database file."""
        self._con.close()

    def schema_version(self) -> int:
        """Return the schema version (0 when the store is empty)."""
        exists = self._one(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'"
        )
        if not exists or not exists[0]:
            return 0
        row = self._one("SELECT max(version) FROM schema_migrations")
        return int(row[0] or 0) if row else 0

    @_writes()
    def migrate(self) -> int:
        """Apply the migrations this store has not seen yet, each in its own transaction."""
        with self._lock:
            self._con.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                "version INTEGER PRIMARY KEY, description VARCHAR, applied_at TIMESTAMP)"
            ).fetchall()
            current = self.schema_version()
            if current > SCHEMA_VERSION:
                raise SchemaError(
                    f"the store {self.path!r} has schema version {current}, newer than the "
                    f"version {SCHEMA_VERSION} this factorybrain knows; upgrade factorybrain"
                )
            applied = 0
            for migration in MIGRATIONS:
                if migration.version <= current:
                    continue
                with self.transaction():
                    for statement in migration.statements():
                        self._con.execute(statement).fetchall()
                    self._con.execute(
                        "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                        [migration.version, migration.description, _now()],
                    ).fetchall()
                applied += 1
            return applied

    def _require_schema(self) -> None:
        version = self.schema_version()
        if version != SCHEMA_VERSION:
            hint = "run 'factorybrain init'" if version < SCHEMA_VERSION else "upgrade factorybrain"
            raise SchemaError(
                f"the store {self.path!r} has schema version {version}, expected "
                f"{SCHEMA_VERSION}: {hint}"
            )

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes in the block land together, or none do; nested blocks join the outer."""
        with self._lock:
            if self._in_transaction:
                yield
                return
            with self._write_lock:
                self._con.execute("BEGIN TRANSACTION").fetchall()
                self._in_transaction = True
                try:
                    yield
                except BaseException:
                    self._con.execute("ROLLBACK").fetchall()
                    raise
                else:
                    self._con.execute("COMMIT").fetchall()
                finally:
                    self._in_transaction = False
                    # What it wrote is visible to readers from now on (or rolled back).
                    written, self._pending = self._pending, set()
                    if written is None or written:
                        self._generation.bump(written)

    def execute(
        self,
        sql: str,
        parameters: QueryParameters | None = None,
        *,
        tables: Iterable[str],
        wait: bool = True,
    ) -> bool:
        """Run one write statement of factorybrain's own, never SQL a user wrote.

        Args:
            sql: The statement.
            parameters: Its parameters.
            tables: The tables it changes (their generation grows; empty: a change no cache
                depends on, such as a token's last use).
            wait: Wait for another writer to finish; with False, a busy store skips the write.

        Returns:
            Whether the statement ran.
        """
        if not self._write_lock.acquire(blocking=wait):
            return False
        try:
            self._con.execute(sql, parameters or []).fetchall()
        except duckdb.Error as error:
            raise StoreError(f"write failed: {error}") from error
        finally:
            if tables:
                self._wrote(tables)
            self._write_lock.release()
        return True

    # -- writes --------------------------------------------------------------------------------
    def upsert_entities(self, entity_type_name: str, rows: pa.Table, ingest_id: str) -> WriteCounts:
        """Insert new entities and update changed ones, keyed by (space, external_id)."""
        entity = entity_type(entity_type_name)
        try:
            with self._write_lock:
                counts = self._upsert_entities(entity, rows, ingest_id)
        except BaseException:
            self._wrote([entity.name])
            raise
        if counts.inserted or counts.updated:  # rows written again unchanged change nothing
            self._wrote([entity.name])
        return counts

    def _upsert_entities(self, entity: EntityType, rows: pa.Table, ingest_id: str) -> WriteCounts:
        columns = [c for c in rows.column_names if c in entity.field_names]
        missing_key = {"space", "external_id"} - set(columns)
        if missing_key:
            raise StoreError(f"{entity.name} rows lack key column(s) {sorted(missing_key)}")
        values = [c for c in columns if c not in ("space", "external_id")]
        counts = self._merge(quote(entity.name), rows, ("space", "external_id"), values, ingest_id)
        if entity.name == "time_series":
            self._con.execute(ASSIGN_SERIES_IDS).fetchall()
        return counts

    @_writes("edge")
    def upsert_edges(self, rows: pa.Table, ingest_id: str) -> WriteCounts:
        """Insert or update genealogy edges, keyed by type, source and target."""
        values = [c for c in EDGE_VALUES if c in rows.column_names]
        return self._merge("edge", rows, EDGE_KEY, values, ingest_id)

    def _merge(
        self,
        table: str,
        rows: pa.Table,
        key: Sequence[str],
        values: Sequence[str],
        ingest_id: str,
    ) -> WriteCounts:
        if rows.num_rows == 0:
            return WriteCounts()
        now = _now()
        self._con.register("_incoming", rows)
        try:
            count, merge = merge_sql(
                table, key, values, text="VARCHAR", now="$now", ingest="$ingest"
            )
            counts = self._one(count)
            self._con.execute(merge, {"now": now, "ingest": ingest_id}).fetchall()
        finally:
            self._con.unregister("_incoming")
        return WriteCounts(int(counts[0]), int(counts[1]), int(counts[2]))

    def ensure_series(self, space: str, external_ids: Sequence[str], source: str) -> pa.Table:
        """Create the time series that do not exist yet; return their ids and units.

        New ids follow the order the series are first seen, so a file sorted by tag and time is
        also sorted by (series_id, ts): the fast path of ingestion relies on it.
        """
        wanted = list(dict.fromkeys(external_ids))
        known = set(self.series_by_external_id(space, wanted).column("external_id").to_pylist())
        first = self.next_series_id()
        missing = [tag for tag in wanted if tag not in known]
        self.create_series(space, [(tag, first + i) for i, tag in enumerate(missing)], source)
        return self.series_by_external_id(space, wanted)

    def series_extents(self, series_ids: Sequence[int]) -> pa.Table:
        """Return (series_id, first_ts, last_ts, points) of the given series."""
        ids = pa.table({"series_id": pa.array(list(series_ids), pa.int32())})
        self._con.register("_ids", ids)
        try:
            return self._con.sql(
                "SELECT e.* FROM series_extent e SEMI JOIN _ids USING (series_id)"
            ).to_arrow_table()
        finally:
            self._con.unregister("_ids")

    @_writes("datapoint")
    def append_datapoints(self, batches: Iterator[pa.RecordBatch]) -> int:
        """Append datapoints (series_id, ts, value) as they stream in; return rows written.

        The batches feed one ``INSERT`` statement: inside a transaction, one large insert keeps
        memory flat where many small ones would hold every row until the commit.
        """
        iterator = iter(batches)
        first = next(iterator, None)
        if first is None:
            return 0
        reader = pa.RecordBatchReader.from_batches(first.schema, itertools.chain([first], iterator))
        self._con.register("_points", reader)
        try:
            rows = self._con.execute(
                "INSERT INTO datapoint SELECT series_id, ts, value FROM _points"
            ).fetchall()
        finally:
            self._con.unregister("_points")
        return int(rows[0][0]) if rows else 0

    def next_series_id(self) -> int:
        """Return the first series id not in use."""
        return int(self._one("SELECT coalesce(max(series_id), 0) + 1 FROM time_series")[0])

    @_writes("time_series")
    def create_series(self, space: str, series: Sequence[tuple[str, int]], source: str) -> None:
        """Create time series with the ids the caller assigned (see :meth:`next_series_id`)."""
        if not series:
            return
        rows = pa.table(
            {
                "external_id": pa.array([tag for tag, _ in series], pa.string()),
                "series_id": pa.array([sid for _, sid in series], pa.int64()),
            }
        )
        self._con.register("_new_series", rows)
        try:
            now = _now()
            self._con.execute(
                """
                INSERT INTO time_series (space, external_id, name, source, series_id,
                                         created_at, updated_at)
                SELECT $space, external_id, external_id, $source, series_id, $now, $now
                FROM _new_series
                """,
                {"space": space, "source": source, "now": now},
            ).fetchall()
        finally:
            self._con.unregister("_new_series")

    def series_by_external_id(self, space: str, external_ids: Sequence[str]) -> pa.Table:
        """Return (external_id, series_id, unit, source_unit) of the series that exist."""
        wanted = pa.table({"external_id": pa.array(list(external_ids), pa.string())})
        self._con.register("_wanted", wanted)
        try:
            return self._con.sql(
                """
                SELECT t.external_id, t.series_id, t.unit, t.source_unit
                FROM time_series t SEMI JOIN _wanted w ON t.external_id = w.external_id
                WHERE t.space = $space
                """,
                params={"space": space},
            ).to_arrow_table()
        finally:
            self._con.unregister("_wanted")

    def datapoint_watermark(self) -> int:
        """Return a row marker: rows appended afterwards have a larger ``rowid``."""
        row = self._one("SELECT coalesce(max(rowid), -1) FROM datapoint")
        return int(row[0]) if row else -1

    @_writes("datapoint")
    def deduplicate_datapoints(self, extents: pa.Table, watermark: int = -1) -> DedupOutcome:
        """Keep the newest row of each duplicated (series, ts) inside ``extents``.

        Rows with ``rowid`` above ``watermark`` are this ingest's; a duplicate key that also had
        an older row counts as updated (value changed) or unchanged; a key duplicated only inside
        this ingest counts once, as inserted.
        """
        self._con.register("_extents", extents)
        try:
            self._con.execute(
                """
                CREATE OR REPLACE TEMP TABLE _dup_rows AS
                WITH keys AS (
                    SELECT d.series_id, d.ts
                    FROM datapoint d JOIN _extents e
                      ON d.series_id = e.series_id AND d.ts BETWEEN e.first_ts AND e.last_ts
                    GROUP BY ALL HAVING count(*) > 1
                )
                SELECT d.rowid AS row_id, d.series_id, d.ts, d.value
                FROM datapoint d SEMI JOIN keys k ON d.series_id = k.series_id AND d.ts = k.ts
                """
            ).fetchall()
            summary = self._one(
                """
                WITH ranked AS (
                    SELECT *, row_number() OVER (PARTITION BY series_id, ts ORDER BY row_id DESC)
                              AS newest_first
                    FROM _dup_rows
                ), per_key AS (
                    SELECT series_id, ts,
                           any_value(value) FILTER (WHERE newest_first = 1) AS winner,
                           bool_or(row_id <= $mark) AS existed,
                           list(value) FILTER (WHERE row_id <= $mark) AS old_values
                    FROM ranked GROUP BY ALL
                )
                SELECT count(*) FILTER (WHERE existed AND NOT list_contains(old_values, winner)),
                       count(*) FILTER (WHERE existed AND list_contains(old_values, winner)),
                       count(*) FILTER (WHERE NOT existed)
                FROM per_key
                """,
                {"mark": watermark},
            )
            self._con.execute(
                """
                CREATE OR REPLACE TEMP TABLE _losers AS
                SELECT row_id, series_id, ts, value FROM (
                    SELECT *, row_number() OVER (
                        PARTITION BY series_id, ts ORDER BY row_id DESC) AS newest_first
                    FROM _dup_rows)
                WHERE newest_first > 1
                """
            ).fetchall()
            superseded = self._con.execute(
                "SELECT series_id, ts, value FROM _losers WHERE row_id > $mark ORDER BY ALL",
                {"mark": watermark},
            ).fetchall()
            self._con.execute(
                "DELETE FROM datapoint WHERE rowid IN (SELECT row_id FROM _losers)"
            ).fetchall()
            self._con.execute("DROP TABLE _dup_rows").fetchall()
            self._con.execute("DROP TABLE _losers").fetchall()
        finally:
            self._con.unregister("_extents")
        return DedupOutcome(
            updated=int(summary[0]),
            unchanged=int(summary[1]),
            superseded=tuple((int(s), t, v) for s, t, v in superseded),
        )

    @_writes("series_extent")
    def refresh_extents(self, series_ids: Sequence[int]) -> None:
        """Recompute first/last timestamps and counts of the given series."""
        ids = pa.table({"series_id": pa.array(list(series_ids), pa.int32())})
        self._con.register("_ids", ids)
        try:
            self._con.execute(
                """
                INSERT OR REPLACE INTO series_extent
                SELECT series_id, min(ts), max(ts), count(*)
                FROM datapoint SEMI JOIN _ids USING (series_id) GROUP BY series_id
                """
            ).fetchall()
        finally:
            self._con.unregister("_ids")

    @_writes("quarantine")
    def quarantine(self, rows: pa.Table) -> int:
        """Keep rejected rows with their file, row number, raw content and reason."""
        if rows.num_rows == 0:
            return 0
        self._con.register("_rejected", rows)
        try:
            self._con.execute(
                """
                INSERT INTO quarantine BY NAME
                SELECT *, $now AS quarantined_at FROM _rejected
                """,
                {"now": _now()},
            ).fetchall()
        finally:
            self._con.unregister("_rejected")
        return rows.num_rows

    @_writes("quarantine")
    def forget_quarantine(self, source_file: str, entity_type: str, mapping_file: str) -> int:
        """Remove the quarantine of earlier ingests of one file through one mapping.

        Called in the transaction of the next ingest of that file, which quarantines afresh what
        is still wrong: loading a file again never duplicates its quarantine.
        """
        found = self._one(
            """
            SELECT count(*) FROM quarantine WHERE ingest_id IN (
                SELECT ingest_id FROM ingest_report
                WHERE source_file = ? AND entity_type = ? AND mapping_file = ?)
            """,
            [source_file, entity_type, mapping_file],
        )
        if found and found[0]:
            self._con.execute(
                """
                DELETE FROM quarantine WHERE ingest_id IN (
                    SELECT ingest_id FROM ingest_report
                    WHERE source_file = ? AND entity_type = ? AND mapping_file = ?)
                """,
                [source_file, entity_type, mapping_file],
            ).fetchall()
        return int(found[0]) if found else 0

    @_writes("ingest_report")
    def record_ingest(self, report: Mapping[str, Any]) -> None:
        """Store the report of one ingest (replacing a report with the same id)."""
        row = dict(report)
        for key in ("quarantine_by_reason", "skipped_by_reason", "filtered_by_reason"):
            row[key] = json.dumps(row.get(key, {}))
        columns = list(row)
        self._con.execute(
            f"INSERT OR REPLACE INTO ingest_report ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' for _ in columns)})",
            [row[c] for c in columns],
        ).fetchall()

    # -- reads -----------------------------------------------------------------------------------
    def _series_id(self, series: str) -> int:
        # Every read of a series looks its id up: kept until time_series is written (a query
        # costs 0.5 ms, a series page 1 to 2 ms in all).
        generation = self._generation.of(("time_series",))
        known, ids = self._series_ids.state
        if known == generation and series in ids:
            return ids[series]
        # No ORDER BY ... LIMIT: a sort costs more than the lookup; the first space wins.
        found = self._con.execute(
            "SELECT space, series_id FROM time_series WHERE external_id = ?", [series]
        ).fetchall()
        if not found:
            raise StoreError(f"unknown time series {series!r}")
        series_id = int(min(found)[1])
        if not self._in_transaction:  # what an open transaction wrote is not everyone's yet
            if known != generation:
                ids = {}
                self._series_ids.state = (generation, ids)
            ids[series] = series_id
        return series_id

    def entities(
        self,
        entity_type_name: str,
        *,
        where: Mapping[str, Any] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> pd.DataFrame:
        """Return entities of a type, optionally filtered by equality on fields."""
        sql, parameters = entities_sql(
            entity_type(entity_type_name), dict(where or {}), limit, offset, "?"
        )
        return self._con.execute(sql, parameters).df()

    def datapoints(self, series: str, start: datetime, end: datetime) -> pd.DataFrame:
        """Return the points of one series in ``[start, end)`` ordered by time."""
        return self._con.execute(
            "SELECT ts, value FROM datapoint WHERE series_id = ? AND ts >= ? AND ts < ? "
            "ORDER BY ts",
            [self._series_id(series), start, end],
        ).df()

    def downsample(
        self, series: str, start: datetime, end: datetime, every: timedelta
    ) -> pd.DataFrame:
        """Return min, max, mean and count per bucket of one series in ``[start, end)``."""
        if every <= timedelta(0):
            raise StoreError(f"bucket width must be positive, got {every}")
        return self._con.execute(
            """
            SELECT time_bucket(?, ts, ?::TIMESTAMP) AS bucket, min(value) AS min,
                   max(value) AS max, avg(value) AS mean, count(value) AS count
            FROM datapoint WHERE series_id = ? AND ts >= ? AND ts < ?
            GROUP BY bucket ORDER BY bucket
            """,
            [every, start, self._series_id(series), start, end],
        ).df()

    def latest(self, series: Sequence[str]) -> pd.DataFrame:
        """Return the last point of each series."""
        names = pa.table({"external_id": pa.array(list(series), pa.string())})
        self._con.register("_names", names)
        try:
            return self._con.execute(
                """
                SELECT t.external_id AS series, e.last_ts AS ts, d.value
                FROM _names n
                JOIN time_series t ON t.external_id = n.external_id
                JOIN series_extent e ON e.series_id = t.series_id
                JOIN datapoint d ON d.series_id = e.series_id AND d.ts = e.last_ts
                ORDER BY series
                """
            ).df()
        finally:
            self._con.unregister("_names")

    def counts(self) -> dict[str, int]:
        """Return the number of rows per entity type, plus datapoints and edges."""
        self._require_schema()
        return {name: int(n) for name, n in self._con.execute(COUNTS_SQL).fetchall()}

    def quarantine_summary(self) -> pd.DataFrame:
        """Return open quarantine counted by distinct problem: one row per file and reason.

        Open means of the latest successful ingest of each file through each mapping (an ingest
        that failed changed nothing, so what the one before it found is still there). A reason
        is grouped without the value it found (see ``reason_key``): ``rows`` is how many rows
        have it, ``first_row`` where to look first.
        """
        return self._con.execute(QUARANTINE_SUMMARY_SQL).df()

    def ingest_history(self, limit: int = 20) -> pd.DataFrame:
        """Return the most recent ingest reports, newest first."""
        return self._con.execute(
            "SELECT * FROM ingest_report ORDER BY started_at DESC LIMIT ?", [limit]
        ).df()

    def _check_read_only(self, sql: str) -> None:
        """Refuse SQL that is not one read-only SELECT over the tables (see :meth:`query`)."""
        # The generation of "everything" grows when tables may have come or gone (migrate, or
        # the raw connection taken): the guard then reads the table names again.
        check_read_only(sql, self._con, self._tables, self._generation.everything)

    def query(self, sql: str, parameters: QueryParameters | None = None) -> pd.DataFrame:
        """Run one read-only SQL statement (see :meth:`Store.query`; checked by ``_sql_guard``).

        SELECT, WITH, DESCRIBE, SHOW, SUMMARIZE and EXPLAIN without ANALYZE run; the verdict
        on each SQL text is cached, so a repeated text costs a few microseconds.
        """
        self._check_read_only(sql)
        try:
            return _frame(self._con, sql, parameters)
        except duckdb.Error as error:
            raise StoreError(f"query failed: {error}") from error

    def query_rows(
        self, sql: str, parameters: QueryParameters | None = None
    ) -> list[dict[str, Any]]:
        """Like :meth:`query`, as dicts of plain Python values, without a DataFrame in between."""
        self._check_read_only(sql)
        try:
            cursor = self._con.execute(sql, parameters or [])
            names = [column[0] for column in cursor.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        except duckdb.Error as error:
            raise StoreError(f"query failed: {error}") from error

    # -- moving whole tables -------------------------------------------------------------------
    def table_names(self) -> list[str]:
        """The model's tables in this database (schema bookkeeping left out)."""
        rows = self._con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = 'main' AND NOT temporary AND table_name <> 'schema_migrations' "
            "ORDER BY table_name"
        ).fetchall()
        return [row[0] for row in rows]

    def read_table(self, table: str, columns: Sequence[str]) -> Iterator[pa.RecordBatch]:
        """Every row of ``table`` as Arrow batches of ``columns``, in no particular order."""
        selected = ", ".join(quote(c) for c in columns)
        cursor = self._con.cursor()
        try:
            reader = cursor.sql(f"SELECT {selected} FROM {quote(table)}").to_arrow_reader(100_000)
            yield from reader
        finally:
            cursor.close()

    @_writes()
    def write_table(self, table: str, batches: Iterable[pa.RecordBatch]) -> int:
        """Append Arrow batches to ``table`` as they are (created/updated times included)."""
        written = 0
        for batch in batches:
            self._con.register("_moved", pa.Table.from_batches([batch]))
            try:
                self._con.execute(f"INSERT INTO {quote(table)} BY NAME SELECT * FROM _moved")
            finally:
                self._con.unregister("_moved")
            written += batch.num_rows
        return written

    def series_page(
        self,
        series: str,
        start: datetime,
        end: datetime,
        *,
        every: timedelta | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of points or buckets of a series, the page cut in SQL (see :class:`Store`)."""
        if every is not None and every <= timedelta(0):
            raise StoreError(f"bucket width must be positive, got {every}")
        parameters: dict[str, Any] = {"id": self._series_id(series), "start": start, "end": end}
        window = "FROM datapoint WHERE series_id = $id AND ts >= $start AND ts < $end"
        cut = f" LIMIT {int(limit)}" if limit is not None else ""
        cut += f" OFFSET {int(offset)}" if offset else ""
        if every is None:
            counted = f"SELECT count(*) {window}"
            sql = f"SELECT ts, value {window} ORDER BY ts{cut}"
        else:
            parameters["every"] = every
            bucket = "time_bucket($every, ts, $start::TIMESTAMP)"
            counted = f"SELECT count(DISTINCT {bucket}) {window}"
            sql = (
                f"SELECT {bucket} AS bucket, min(value) AS min, max(value) AS max, "
                f"avg(value) AS mean, count(value) AS count {window} "
                f"GROUP BY bucket ORDER BY bucket{cut}"
            )
        cursor = self._con.execute(sql, parameters)
        names = [column[0] for column in cursor.description or ()]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        if limit is not None and len(rows) < limit and (rows or not offset):
            return rows, offset + len(rows)  # the last page: it tells the total itself
        return rows, int(self._con.execute(counted, parameters).fetchall()[0][0])
