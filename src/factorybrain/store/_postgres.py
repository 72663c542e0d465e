"""The server store: the factory model in a PostgreSQL database.

Selected by a URL (``--db postgresql://user@host/plant`` or ``$FACTORYBRAIN_DB``), behind the same
:class:`~factorybrain.store.Store` interface as the embedded DuckDB file, so that several API
workers, ingestion and the agents can work on one plant at the same time.

- The tables are the DuckDB store's, written in PostgreSQL's types by the dialect layer
  (:mod:`factorybrain.store._dialect`), through the same versioned migrations; a session-level
  advisory lock keeps two processes from migrating at once.
- Datapoints live in a table partitioned by month of ``ts`` (native range partitioning, a
  partition created when a load first reaches its month), indexed by ``(series_id, ts)``, and
  arrive by ``COPY`` from Arrow batches. ``row_id`` (a sequence) orders rows by arrival, which is
  what resolving duplicate keys needs (DuckDB's ``rowid``).
- :meth:`PostgresStore.query` takes the package's DuckDB SQL: the same read-only check as the
  DuckDB store (against an in-memory catalog of the model's tables), then the dialect layer, then
  a ``READ ONLY`` transaction, so PostgreSQL itself refuses any write that got through.
"""

from __future__ import annotations

import io
import json
import logging
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from factorybrain.exceptions import SchemaError, StoreError
from factorybrain.model import ENTITY_TYPES, EntityType, entity_type
from factorybrain.secrets import redact
from factorybrain.store._base import DedupOutcome, QueryParameters, Store, WriteCounts
from factorybrain.store._catalog import column_types, guard_catalog
from factorybrain.store._schema import (
    ASSIGN_SERIES_IDS,
    COUNTS_SQL,
    EDGE_KEY,
    EDGE_VALUES,
    MIGRATIONS,
    SCHEMA_VERSION,
    SYSTEM_TABLES,
    as_of_selects,
    entities_sql,
    merge_sql,
    quote,
)
from factorybrain.store._sql_guard import TableCatalog, check_read_only

#: URL schemes that select this store.
URL_SCHEMES = ("postgresql", "postgres")

#: The datapoint table, partitioned by month; each partition inherits the (series_id, ts) index.
_DATAPOINT_DDL = (
    "CREATE SEQUENCE IF NOT EXISTS datapoint_row_id",
    """
    CREATE TABLE IF NOT EXISTS datapoint (
      series_id INTEGER NOT NULL,
      ts TIMESTAMP NOT NULL,
      value DOUBLE PRECISION,
      row_id BIGINT NOT NULL DEFAULT nextval('datapoint_row_id')
    ) PARTITION BY RANGE (ts)
    """,
    "CREATE INDEX IF NOT EXISTS datapoint_series_ts ON datapoint (series_id, ts)",
)

#: Keys PostgreSQL enforces (DuckDB's store keeps them through its upserts).
_KEYS = (
    *(
        f"CREATE UNIQUE INDEX IF NOT EXISTS {e.name}_key ON {quote(e.name)} (space, external_id)"
        for e in ENTITY_TYPES
    ),
    f"CREATE INDEX IF NOT EXISTS edge_key ON edge ({', '.join(EDGE_KEY)})",
    "CREATE INDEX IF NOT EXISTS quarantine_ingest ON quarantine (ingest_id)",
)


T = TypeVar("T")


class ServerGone(StoreError):
    """The PostgreSQL server closed the connection (a restart, a crash, the network)."""


class _LostCopyNoise(logging.Filter):
    """Drops psycopg's "error ignored terminating <Copy>" when the connection is lost.

    The COPY's own error follows as :class:`ServerGone`, saying what happened in words; the
    line about an object's repr adds nothing a user can act on.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("error ignored terminating")


logging.getLogger("psycopg").addFilter(_LostCopyNoise())


def _failure(where: str, error: Exception) -> StoreError:
    """A psycopg error as the store's: ``ServerGone`` when the connection is lost."""
    import psycopg

    message = f"{where}: {' '.join(str(error).split())}"
    if isinstance(error, psycopg.OperationalError | psycopg.errors.AdminShutdown):
        return ServerGone(message)
    return StoreError(message)


def to_postgres(sql: str) -> str:
    """``sql`` in PostgreSQL's dialect (sqlglot, of the ``sql`` extra, is imported on first use)."""
    from factorybrain.store._dialect import to_postgres as translate

    return translate(sql)


#: Every write statement to a table of the model counts in ``fb_generation`` (statement-level
#: triggers): the read caches of every process compare these counts, as a DuckDB server compares
#: its own (the count becomes visible when the transaction that wrote commits).
_GENERATION_DDL = (
    "CREATE TABLE IF NOT EXISTS fb_generation (table_name TEXT PRIMARY KEY, n BIGINT NOT NULL)",
    """
    CREATE OR REPLACE FUNCTION fb_count_write() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO fb_generation VALUES (TG_TABLE_NAME, 1)
      ON CONFLICT (table_name) DO UPDATE SET n = fb_generation.n + 1;
      RETURN NULL;
    END $$
    """,
)


def is_postgres_url(location: object) -> bool:
    """Whether ``location`` names a PostgreSQL database rather than a DuckDB file."""
    return isinstance(location, str) and urlsplit(location).scheme in URL_SCHEMES


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _postgres_statements(statement: str) -> list[str]:
    """One migration statement of the DuckDB schema as PostgreSQL runs it."""
    if statement == SYSTEM_TABLES["datapoint"]:
        return list(_DATAPOINT_DDL)
    return [to_postgres(statement)]


def _array_literal(values: list[str | None] | None) -> str | None:
    if values is None:
        return None
    quoted = []
    for value in values:
        if value is None:
            quoted.append("NULL")
        else:
            quoted.append('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return "{" + ",".join(quoted) + "}"


def _csv_ready(table: pa.Table) -> pa.Table:
    """``table`` with list columns as PostgreSQL array literals and times in microseconds."""
    for index, field in enumerate(table.schema):
        column = table.column(index)
        if pa.types.is_list(field.type) or pa.types.is_large_list(field.type):
            text = pa.array([_array_literal(v) for v in column.to_pylist()], pa.string())
            table = table.set_column(index, pa.field(field.name, pa.string()), text)
        elif pa.types.is_timestamp(field.type):
            if field.type.tz is not None:
                column = pc.cast(column, pa.timestamp(field.type.unit, "UTC"))
            column = pc.cast(column.cast(pa.timestamp("us", field.type.tz)), pa.timestamp("us"))
            table = table.set_column(index, pa.field(field.name, pa.timestamp("us")), column)
        elif pa.types.is_dictionary(field.type):
            table = table.set_column(index, field.name, pc.cast(column, field.type.value_type))
        elif pa.types.is_null(field.type):
            table = table.set_column(index, field.name, pa.nulls(len(table), pa.string()))
    return table


def _ListDumper() -> type:
    """Lists bound in the text with their type: ``'{a,b}'::text[]`` (a bare literal is untyped)."""
    from psycopg.types.array import ListDumper

    class TypedListDumper(ListDumper):  # type: ignore[misc]
        def quote(self, obj: list[Any]) -> bytes:
            quoted = bytes(super().quote(obj))
            texts = all(isinstance(item, str) or item is None for item in obj)
            return quoted + b"::text[]" if texts and quoted.endswith(b"'") else quoted

    return TypedListDumper


class PostgresStore(Store):
    """The factory model in a PostgreSQL database (see the module's documentation).

    Args:
        url: ``postgresql://user[:password]@host[:port]/database``; a password is better kept in
            ``$PGPASSWORD`` or ``~/.pgpass`` than in the URL.
        read_only: Every transaction of this connection (and of its handles) is READ ONLY:
            PostgreSQL refuses writes through it, as DuckDB does through a read-only file.
    """

    def __init__(self, url: str, *, read_only: bool = False) -> None:
        self.url = url
        self.path = redact(url)  # the URL without its password, for messages
        self._read_only_session = read_only
        self._connection = self._connect()
        self.read_only = read_only
        self._lock = threading.RLock()
        self._write_lock = threading.RLock()
        self._in_transaction = False
        self._closed = False
        self._advisory_locks: set[str] = set()  # taken by this connection; taken again after
        self.identity = f"{self.path}#{uuid.uuid4().hex}"
        self._tables = TableCatalog()
        self._partitions: set[date] = set()
        self._handles: list[PostgresStore] = []
        self._counted = False  # whether fb_generation exists (looked up until it does)
        self._as_of: datetime | None = None  # the moment an as_of() handle looks at

    def _connect(self, *, again: bool = False) -> Any:
        """A new connection to the database (``again``: after the server closed the last)."""
        import psycopg

        try:
            connection = psycopg.connect(
                self.url,
                autocommit=True,
                # work_mem: a day of one series at 1 s (86,400 rows) sorts in memory.
                options="-c TimeZone=UTC -c work_mem=64MB"
                + (" -c default_transaction_read_only=on" if self._read_only_session else ""),
                # Parameters bound in the text, as DuckDB types them: from where they stand.
                cursor_factory=psycopg.ClientCursor,
            )
        except psycopg.Error as error:
            if again:
                raise ServerGone(
                    f"{self.path}: the database does not answer ({' '.join(str(error).split())}); "
                    "it is tried again on the next request"
                ) from error
            raise StoreError(f"cannot open the store {self.path}: {error}".strip()) from error
        self._adapt(connection)
        return connection

    @property
    def _con(self) -> Any:
        """The connection: a new one when the server closed the last (a restart, the network).

        The request that met the closed connection failed with :class:`ServerGone` (whether a
        write in it was committed cannot be known, so nothing is run again); the next one
        connects anew, takes this connection's advisory locks again and, on an :meth:`as_of`
        handle, its views of the past. Inside a transaction nothing reconnects: the transaction
        is lost and fails as a whole.
        """
        connection = self._connection
        if connection.closed and not self._closed and not self._in_transaction:
            with self._lock:
                if self._connection.closed:
                    self._connection = self._connect(again=True)
                    self._restore_session()
                connection = self._connection
        return connection

    def _restore_session(self) -> None:
        """What lived in the lost connection's session: advisory locks, the views of as_of."""
        for name in sorted(self._advisory_locks):
            if not self._one("SELECT pg_try_advisory_lock(hashtext(%s))", (name,))[0]:
                self._advisory_locks.discard(name)  # another process took it meanwhile
        if self._as_of is not None:
            self._create_past_views()

    @staticmethod
    def _adapt(connection: Any) -> None:
        # JSON as its text (as DuckDB gives it), numeric as float (avg of integers).
        from psycopg.types.numeric import FloatLoader
        from psycopg.types.string import TextLoader

        for name in ("json", "jsonb"):
            connection.adapters.register_loader(name, TextLoader)
        connection.adapters.register_loader("numeric", FloatLoader)
        connection.adapters.register_dumper(list, _ListDumper())

    def handle(self) -> PostgresStore:
        """A second handle (a connection of its own) on the same database, for another thread.

        Closed with this store at the latest, as a DuckDB cursor is with its connection.
        """
        clone = PostgresStore(self.url, read_only=self.read_only)
        clone.identity = self.identity
        with self._lock:
            self._handles.append(clone)
        return clone

    def as_of(self, at: datetime) -> PostgresStore:
        """A handle that sees the factory model as it was known at ``at`` (see :class:`Store`).

        The handle is a connection of its own whose temporary views shadow the model's tables
        (PostgreSQL looks in the session's temporary schema first): datapoints up to ``at``,
        records from their :func:`~factorybrain.model.known_at` time, later times empty,
        statuses rewound; the agents' records are not shadowed, so what an agent finds is
        written as usual. Calling ``as_of`` on such a handle moves it to another moment. It has
        its own identity, so caches of answers from the live tables are never taken for the
        past ones.
        """
        handle = self if self._as_of is not None else self.handle()
        if handle is not self:
            handle.identity = f"{self.path}#as-of-{uuid.uuid4().hex}"
        handle._as_of = _naive(at)
        handle._create_past_views()
        return handle

    def _create_past_views(self) -> None:
        """The temporary views that show this handle the model as it was at its moment."""
        assert self._as_of is not None
        selects = as_of_selects(
            self._as_of,
            lambda name: f"public.{quote(name)}",
            lambda name: list(column_types(name)),
        )
        with self._lock:
            for name, select in selects.items():
                self._run(f"CREATE OR REPLACE TEMP VIEW {quote(name)} AS {to_postgres(select)}")

    @property
    def known_at(self) -> datetime | None:
        """The moment an :meth:`as_of` handle looks at (None: the present)."""
        return self._as_of

    def reader(self) -> PostgresStore:
        """A handle for reads beside this one; it sees committed data only."""
        clone = self.handle()
        clone.read_only = True
        return clone

    def scratch_connection(self, tables: Iterable[str] = ()) -> Any:
        """An in-memory DuckDB connection for reading sources, holding a copy of ``tables``.

        Ingestion reads files with DuckDB whatever the store; the entities its lookups join to
        are copied from this database as they are now (in the model's types).
        """
        import duckdb

        scratch = duckdb.connect(config={"memory_limit": "1GB"})
        scratch.execute("SET TimeZone = 'UTC'")
        for table in dict.fromkeys(tables):
            types = column_types(table)
            columns = list(types)
            definition = ", ".join(f"{quote(c)} {types[c]}" for c in columns)
            scratch.execute(f"CREATE TABLE {quote(table)} ({definition})")
            for batch in self.read_table(table, columns):
                scratch.register("_copied", pa.Table.from_batches([batch]))
                scratch.execute(f"INSERT INTO {quote(table)} BY NAME SELECT * FROM _copied")
                scratch.unregister("_copied")
        return scratch

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads inside the block see the database as of one moment (REPEATABLE READ)."""
        import psycopg

        with self._lock:
            previous = self._con.isolation_level
            self._con.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            try:
                with self._con.transaction():
                    self._in_transaction = True
                    try:
                        yield
                    finally:
                        self._in_transaction = False
            finally:
                self._con.isolation_level = previous

    def try_lock(self, name: str) -> bool:
        """Take the advisory lock ``name`` for as long as this connection lives, if it is free."""
        row = self._one("SELECT pg_try_advisory_lock(hashtext(%s))", (name,))
        taken = bool(row and row[0])
        if taken:
            self._advisory_locks.add(name)
        return taken

    def close(self) -> None:
        """Close the connection, and those of the handles taken from it."""
        for handle in self._handles:
            handle.close()
        self._handles.clear()
        self._closed = True
        self._connection.close()

    # -- plumbing ----------------------------------------------------------------------------
    def _run(self, sql: str, parameters: Any = ()) -> list[tuple[Any, ...]]:
        """Run PostgreSQL text; return its rows (none for a statement without a result).

        A ``SELECT`` outside any transaction that meets a connection the server closed runs
        once more on a new one (what it could have changed, an advisory lock, died with the
        old session); any other statement fails, since whether it was committed is unknown.
        """
        select = sql.lstrip()[:6].upper() == "SELECT"
        return self._once_more_if_gone(
            lambda: self._run_once(sql, parameters),
            repeatable=select and self._outside_transaction(),
        )

    def _once_more_if_gone(self, call: Callable[[], T], *, repeatable: bool) -> T:
        """``call``; once more (on a new connection) if it met a closed one and may be repeated."""
        try:
            return call()
        except ServerGone:
            if not repeatable:
                raise
        return call()

    def _outside_transaction(self) -> bool:
        """Whether no transaction is open (a lost connection's counts as none)."""
        import psycopg

        status = self._connection.info.transaction_status
        return not self._in_transaction and status != psycopg.pq.TransactionStatus.INTRANS

    def _run_once(self, sql: str, parameters: Any = ()) -> list[tuple[Any, ...]]:
        import psycopg

        with self._lock:
            try:
                cursor = self._con.execute(sql, parameters)
                return cursor.fetchall() if cursor.description else []
            except psycopg.Error as error:
                raise _failure(self.path, error) from error

    def _one(self, sql: str, parameters: Any = ()) -> tuple[Any, ...]:
        rows = self._run(sql, parameters)
        return rows[0] if rows else ()

    def _frame(self, sql: str, parameters: Any = ()) -> pd.DataFrame:
        """A read's rows as a frame (typed as DuckDB types them).

        Every caller reads, so a read outside any transaction that meets a connection the
        server closed runs once more on a new one; inside a transaction the transaction fails.
        """
        return self._once_more_if_gone(
            lambda: self._frame_once(sql, parameters), repeatable=self._outside_transaction()
        )

    def _frame_once(self, sql: str, parameters: Any = ()) -> pd.DataFrame:
        import psycopg

        with self._lock:
            try:
                cursor = self._con.execute(sql, parameters)
                description = cursor.description or ()
                frame = pd.DataFrame.from_records(
                    cursor.fetchall(), columns=[column.name for column in description]
                )
            except psycopg.Error as error:
                raise _failure(self.path, error) from error
        return _typed(frame, [column.type_code for column in description])

    def _copy_in(self, table: str, rows: pa.Table, columns: Sequence[str]) -> int:
        """``COPY`` ``rows`` (Arrow, in ``columns`` order) into ``table``; return rows written."""
        if rows.num_rows == 0:
            return 0
        ready = _csv_ready(rows.select(list(columns)))
        names = ", ".join(quote(c) for c in columns)
        options = pa_csv.WriteOptions(include_header=False, batch_size=65_536)
        import psycopg

        try:
            with self._lock, self._con.cursor() as cursor:
                with cursor.copy(f"COPY {table} ({names}) FROM STDIN (FORMAT CSV)") as copy:
                    for batch in ready.to_batches(max_chunksize=200_000):
                        buffer = io.BytesIO()
                        pa_csv.write_csv(pa.Table.from_batches([batch]), buffer, options)
                        copy.write(buffer.getbuffer())
        except psycopg.Error as error:
            raise _failure(f"{self.path}: COPY into {table}", error) from error
        return rows.num_rows

    def _scratch(self, name: str, like: str, rows: pa.Table, columns: Sequence[str]) -> None:
        """A temporary table ``name`` with ``columns`` of table ``like``, holding ``rows``."""
        selected = ", ".join(quote(c) for c in columns)
        self._run(f"DROP TABLE IF EXISTS {name}")
        self._run(f"CREATE TEMP TABLE {name} AS SELECT {selected} FROM {like} WITH NO DATA")
        self._copy_in(name, rows, columns)

    # -- lifecycle ---------------------------------------------------------------------------
    def schema_version(self) -> int:
        """Return the schema version (0 for an empty database)."""
        found = self._one("SELECT to_regclass('schema_migrations') IS NOT NULL")
        if not found or not found[0]:
            return 0
        row = self._one("SELECT max(version) FROM schema_migrations")
        return int(row[0] or 0) if row else 0

    def migrate(self) -> int:
        """Apply the migrations this database has not seen, each in its own transaction.

        Holds an advisory lock meanwhile: a second process that migrates waits, then finds
        nothing left to do.
        """
        with self._write_lock:
            self._run("SELECT pg_advisory_lock(hashtext('factorybrain.migrate'))")
            try:
                return self._migrate()
            finally:
                self._run("SELECT pg_advisory_unlock(hashtext('factorybrain.migrate'))")

    def _migrate(self) -> int:
        self._run(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "version INTEGER PRIMARY KEY, description TEXT, applied_at TIMESTAMP)"
        )
        current = self.schema_version()
        if current > SCHEMA_VERSION:
            raise SchemaError(
                f"the store {self.path} has schema version {current}, newer than the version "
                f"{SCHEMA_VERSION} this factorybrain knows; upgrade factorybrain"
            )
        applied = 0
        for migration in MIGRATIONS:
            if migration.version <= current:
                continue
            with self.transaction():
                for statement in migration.statements():
                    for postgres in _postgres_statements(statement):
                        self._run(postgres)
                if migration.version == 1:
                    for statement in _KEYS:
                        self._run(statement)
                self._run(
                    "INSERT INTO schema_migrations VALUES (%s, %s, %s)",
                    (migration.version, migration.description, _now()),
                )
            applied += 1
        counted = self._one("SELECT to_regclass('fb_generation') IS NOT NULL")
        if applied or not (counted and counted[0]):  # DDL on every table: only when new
            self._count_writes()
        return applied

    def _count_writes(self) -> None:
        """Make every table of the model count its writes in ``fb_generation`` (idempotent)."""
        with self.transaction():
            for statement in _GENERATION_DDL:
                self._run(statement)
            for table in guard_catalog().table_names():
                self._run(f"DROP TRIGGER IF EXISTS fb_count_write ON {quote(table)}")
                self._run(
                    f"CREATE TRIGGER fb_count_write AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                    f"ON {quote(table)} FOR EACH STATEMENT EXECUTE FUNCTION fb_count_write()"
                )

    def generation_of(self, tables: Iterable[str]) -> int | None:
        """A number that grows with every committed write to any of ``tables``, by anyone.

        Read from ``fb_generation`` (one query), which triggers keep; None for a database
        migrated before this version had them (run ``factorybrain init`` to add them), and for
        an :meth:`as_of` handle (what its tables show moves with the moment, not with writes).
        """
        if self._as_of is not None:
            return None
        if not self._counted:
            found = self._one("SELECT to_regclass('fb_generation') IS NOT NULL")
            self._counted = bool(found and found[0])
            if not self._counted:
                return None
        row = self._one(
            "SELECT coalesce(sum(n), 0) FROM fb_generation WHERE table_name = ANY(%s)",
            (list(tables),),
        )
        return int(row[0]) if row else None

    def _require_schema(self) -> None:
        version = self.schema_version()
        if version != SCHEMA_VERSION:
            hint = "run 'factorybrain init'" if version < SCHEMA_VERSION else "upgrade factorybrain"
            raise SchemaError(
                f"the store {self.path} has schema version {version}, expected "
                f"{SCHEMA_VERSION}: {hint}"
            )

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes in the block land together, or none do; nested blocks join the outer."""
        with self._lock:
            if self._in_transaction:
                yield
                return
            import psycopg

            try:
                with self._write_lock, self._con.transaction():
                    self._in_transaction = True
                    try:
                        yield
                    finally:
                        self._in_transaction = False
            except psycopg.Error as error:  # the commit or the rollback itself
                raise _failure(self.path, error) from error

    def execute(
        self,
        sql: str,
        parameters: QueryParameters | None = None,
        *,
        tables: Iterable[str],
        wait: bool = True,
    ) -> bool:
        """Run one write statement of factorybrain's own (DuckDB's dialect, translated)."""
        if not self._write_lock.acquire(blocking=wait):
            return False
        try:
            self._run(to_postgres(sql), _parameters(parameters))
        finally:
            self._write_lock.release()
        return True

    # -- writes --------------------------------------------------------------------------------
    def upsert_entities(self, entity_type_name: str, rows: pa.Table, ingest_id: str) -> WriteCounts:
        """Insert new entities and update changed ones, keyed by (space, external_id)."""
        entity = entity_type(entity_type_name)
        with self._write_lock, self.transaction():
            counts = self._upsert_entities(entity, rows, ingest_id)
        return counts

    def _upsert_entities(self, entity: EntityType, rows: pa.Table, ingest_id: str) -> WriteCounts:
        columns = [c for c in rows.column_names if c in entity.field_names]
        missing_key = {"space", "external_id"} - set(columns)
        if missing_key:
            raise StoreError(f"{entity.name} rows lack key column(s) {sorted(missing_key)}")
        values = [c for c in columns if c not in ("space", "external_id")]
        counts = self._merge(quote(entity.name), rows, ("space", "external_id"), values, ingest_id)
        if entity.name == "time_series":
            self._run(ASSIGN_SERIES_IDS)
        return counts

    def upsert_edges(self, rows: pa.Table, ingest_id: str) -> WriteCounts:
        """Insert or update genealogy edges, keyed by type, source and target."""
        values = [c for c in EDGE_VALUES if c in rows.column_names]
        with self._write_lock, self.transaction():
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
        columns = [*key, *values]
        self._scratch("_incoming", table, rows, columns)
        count, merge = merge_sql(
            table, key, values, text="text", now="%(now)s", ingest="%(ingest)s"
        )
        counts = self._one(count)
        self._run(merge, {"now": now, "ingest": ingest_id})
        self._run("DROP TABLE _incoming")
        return WriteCounts(int(counts[0]), int(counts[1]), int(counts[2]))

    def ensure_series(self, space: str, external_ids: Sequence[str], source: str) -> pa.Table:
        """Create the time series that do not exist yet; return their ids and units."""
        wanted = list(dict.fromkeys(external_ids))
        with self._write_lock, self.transaction():
            self._run("LOCK TABLE time_series IN SHARE ROW EXCLUSIVE MODE")
            known = set(self.series_by_external_id(space, wanted).column("external_id").to_pylist())
            first = self.next_series_id()
            missing = [tag for tag in wanted if tag not in known]
            self.create_series(space, [(tag, first + i) for i, tag in enumerate(missing)], source)
        return self.series_by_external_id(space, wanted)

    def next_series_id(self) -> int:
        """Return the first series id not in use."""
        return int(self._one("SELECT coalesce(max(series_id), 0) + 1 FROM time_series")[0])

    def create_series(self, space: str, series: Sequence[tuple[str, int]], source: str) -> None:
        """Create time series with the ids the caller assigned (see :meth:`next_series_id`)."""
        if not series:
            return
        now = _now()
        rows = pa.table(
            {
                "space": pa.array([space] * len(series), pa.string()),
                "external_id": pa.array([tag for tag, _ in series], pa.string()),
                "name": pa.array([tag for tag, _ in series], pa.string()),
                "source": pa.array([source] * len(series), pa.string()),
                "series_id": pa.array([sid for _, sid in series], pa.int64()),
                "created_at": pa.array([now] * len(series), pa.timestamp("us")),
                "updated_at": pa.array([now] * len(series), pa.timestamp("us")),
            }
        )
        self._copy_in("time_series", rows, rows.column_names)

    def series_by_external_id(self, space: str, external_ids: Sequence[str]) -> pa.Table:
        """Return (external_id, series_id, unit, source_unit) of the series that exist."""
        rows = self._run(
            "SELECT external_id, series_id, unit, source_unit FROM time_series "
            "WHERE space = %s AND external_id = ANY(%s)",
            (space, list(external_ids)),
        )
        return pa.table(
            {
                "external_id": pa.array([r[0] for r in rows], pa.string()),
                "series_id": pa.array([r[1] for r in rows], pa.int64()),
                "unit": pa.array([r[2] for r in rows], pa.string()),
                "source_unit": pa.array([r[3] for r in rows], pa.string()),
            }
        )

    def series_extents(self, series_ids: Sequence[int]) -> pa.Table:
        """Return (series_id, first_ts, last_ts, points) of the given series."""
        rows = self._run(
            "SELECT series_id, first_ts, last_ts, points FROM series_extent "
            "WHERE series_id = ANY(%s)",
            (list(series_ids),),
        )
        return pa.table(
            {
                "series_id": pa.array([r[0] for r in rows], pa.int32()),
                "first_ts": pa.array([r[1] for r in rows], pa.timestamp("us")),
                "last_ts": pa.array([r[2] for r in rows], pa.timestamp("us")),
                "points": pa.array([r[3] for r in rows], pa.int64()),
            }
        )

    def _ensure_partitions(self, table: pa.Table) -> None:
        """Create the monthly partitions of ``datapoint`` that ``table``'s times fall into."""
        if table.num_rows == 0:
            return
        bounds = pc.min_max(table.column("ts"))
        low, high = bounds["min"].as_py(), bounds["max"].as_py()
        if low is None or high is None:
            return
        month = date(low.year, low.month, 1)
        while month <= date(high.year, high.month, 1):
            following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
            if month not in self._partitions:
                name = f"datapoint_{month:%Y_%m}"
                self._run(
                    f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF datapoint "
                    f"FOR VALUES FROM ('{month.isoformat()}') TO ('{following.isoformat()}')"
                )
                if not self._in_transaction:  # a rolled-back transaction takes it back
                    self._partitions.add(month)
            month = following

    def append_datapoints(self, batches: Iterator[pa.RecordBatch]) -> int:
        """Append datapoints (series_id, ts, value) by ``COPY``; return rows written."""
        written = 0
        with self._write_lock:
            for batch in batches:
                table = pa.Table.from_batches([batch])
                if table.num_rows == 0:
                    continue
                self._ensure_partitions(table)
                written += self._copy_in("datapoint", table, ("series_id", "ts", "value"))
        return written

    def datapoint_watermark(self) -> int:
        """Return a row marker: rows appended afterwards have a larger ``row_id``."""
        row = self._one(
            "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM datapoint_row_id"
        )
        return int(row[0]) if row else -1

    def deduplicate_datapoints(self, extents: pa.Table, watermark: int = -1) -> DedupOutcome:
        """Keep the newest row of each duplicated (series, ts) inside ``extents``."""
        with self._write_lock, self.transaction():
            self._scratch_extents(extents)
            self._run(
                """
                CREATE TEMP TABLE _dup_rows AS
                WITH keys AS (
                    SELECT d.series_id, d.ts
                    FROM datapoint d JOIN _extents e
                      ON d.series_id = e.series_id AND d.ts BETWEEN e.first_ts AND e.last_ts
                    GROUP BY 1, 2 HAVING count(*) > 1
                )
                SELECT d.row_id, d.series_id, d.ts, d.value,
                       row_number() OVER (PARTITION BY d.series_id, d.ts ORDER BY d.row_id DESC)
                         AS newest_first
                FROM datapoint d JOIN keys k ON d.series_id = k.series_id AND d.ts = k.ts
                """
            )
            summary = self._one(
                """
                WITH per_key AS (
                    SELECT series_id, ts,
                           max(value) FILTER (WHERE newest_first = 1) AS winner,
                           bool_or(row_id <= %(mark)s) AS existed,
                           array_agg(value) FILTER (WHERE row_id <= %(mark)s) AS old_values
                    FROM _dup_rows GROUP BY 1, 2
                )
                SELECT count(*) FILTER (WHERE existed AND NOT winner = ANY(old_values)),
                       count(*) FILTER (WHERE existed AND winner = ANY(old_values)),
                       count(*) FILTER (WHERE NOT existed)
                FROM per_key
                """,
                {"mark": watermark},
            )
            superseded = self._run(
                "SELECT series_id, ts, value FROM _dup_rows WHERE newest_first > 1 "
                "AND row_id > %s ORDER BY 1, 2, 3",
                (watermark,),
            )
            self._run(
                "DELETE FROM datapoint d USING _dup_rows r "
                "WHERE r.newest_first > 1 AND d.row_id = r.row_id "
                "AND d.series_id = r.series_id AND d.ts = r.ts"
            )
            self._run("DROP TABLE _dup_rows")
            self._run("DROP TABLE _extents")
        return DedupOutcome(
            updated=int(summary[0]),
            unchanged=int(summary[1]),
            superseded=tuple((int(s), t, v) for s, t, v in superseded),
        )

    def _scratch_extents(self, extents: pa.Table) -> None:
        self._run("DROP TABLE IF EXISTS _extents")
        self._run(
            "CREATE TEMP TABLE _extents (series_id INTEGER, first_ts TIMESTAMP, last_ts TIMESTAMP)"
        )
        self._copy_in("_extents", extents, ("series_id", "first_ts", "last_ts"))

    def refresh_extents(self, series_ids: Sequence[int]) -> None:
        """Recompute first/last timestamps and counts of the given series."""
        self._run(
            """
            INSERT INTO series_extent
            SELECT series_id, min(ts), max(ts), count(*)
            FROM datapoint WHERE series_id = ANY(%s) GROUP BY series_id
            ON CONFLICT (series_id) DO UPDATE SET first_ts = excluded.first_ts,
              last_ts = excluded.last_ts, points = excluded.points
            """,
            (list(series_ids),),
        )

    def quarantine(self, rows: pa.Table) -> int:
        """Keep rejected rows with their file, row number, raw content and reason."""
        if rows.num_rows == 0:
            return 0
        stamped = rows.append_column(
            "quarantined_at", pa.array([_now()] * rows.num_rows, pa.timestamp("us"))
        )
        return self._copy_in("quarantine", stamped, stamped.column_names)

    def forget_quarantine(self, source_file: str, entity_type: str, mapping_file: str) -> int:
        """Remove the quarantine of earlier ingests of one file through one mapping."""
        rows = self._run(
            """
            DELETE FROM quarantine WHERE ingest_id IN (
                SELECT ingest_id FROM ingest_report
                WHERE source_file = %s AND entity_type = %s AND mapping_file = %s)
            RETURNING 1
            """,
            (source_file, entity_type, mapping_file),
        )
        return len(rows)

    def record_ingest(self, report: Mapping[str, Any]) -> None:
        """Store the report of one ingest (replacing a report with the same id)."""
        row = dict(report)
        for key in ("quarantine_by_reason", "skipped_by_reason", "filtered_by_reason"):
            row[key] = json.dumps(row.get(key, {}))
        columns = list(row)
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != "ingest_id")
        self._run(
            f"INSERT INTO ingest_report ({', '.join(columns)}) "
            f"VALUES ({', '.join('%s' for _ in columns)}) "
            f"ON CONFLICT (ingest_id) DO UPDATE SET {updates}",
            [row[c] for c in columns],
        )

    # -- reads -----------------------------------------------------------------------------------
    def _series_id(self, series: str) -> int:
        found = self._run(
            "SELECT space, series_id FROM time_series WHERE external_id = %s", (series,)
        )
        if not found:
            raise StoreError(f"unknown time series {series!r}")
        return int(min(found)[1])

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
            entity_type(entity_type_name), dict(where or {}), limit, offset, "%s"
        )
        return self._frame(sql, parameters)

    def datapoints(self, series: str, start: datetime, end: datetime) -> pd.DataFrame:
        """Return the points of one series in ``[start, end)`` ordered by time.

        The window travels as two binary arrays (``array_send``), read by numpy: a day at 1 s
        is 86,400 rows, and a Python object per value would cost more than the query. A
        missing value reads as NaN, as in a DuckDB store's frame.
        """
        import psycopg

        series_id = self._series_id(series)
        with self._lock, psycopg.Cursor(self._con) as cursor:  # bound on the server, binary
            cursor.execute(
                """
                SELECT array_send(array_agg(ts)), array_send(array_agg(value))
                FROM (SELECT ts, coalesce(value, 'NaN'::float8) AS value FROM datapoint
                      WHERE series_id = %s AND ts >= %s AND ts < %s ORDER BY ts) AS points
                """,
                (series_id, _naive(start), _naive(end)),
                binary=True,
            )
            row = cursor.fetchone()
        if not row or row[0] is None:
            return _typed_points(pd.DataFrame())
        stamps = _binary_array(row[0], ">i8").astype(np.int64) + _POSTGRES_EPOCH_US
        values = _binary_array(row[1], ">f8").astype(np.float64)
        if len(stamps) > 1 and (np.diff(stamps) < 0).any():
            # One sort in the subquery feeds both arrays; should a plan ever hand the rows
            # on in another order, the pairs are sorted here (they stay pairs).
            order = np.argsort(stamps, kind="stable")
            stamps, values = stamps[order], values[order]
        return pd.DataFrame({"ts": stamps.astype("datetime64[us]"), "value": values})

    def downsample(
        self, series: str, start: datetime, end: datetime, every: timedelta
    ) -> pd.DataFrame:
        """Return min, max, mean and count per bucket of one series in ``[start, end)``."""
        if every <= timedelta(0):
            raise StoreError(f"bucket width must be positive, got {every}")
        return self._frame(
            """
            SELECT date_bin(%(every)s, ts, %(start)s::timestamp) AS bucket, min(value) AS min,
                   max(value) AS max, avg(value) AS mean, count(value) AS count
            FROM datapoint WHERE series_id = %(id)s AND ts >= %(start)s AND ts < %(end)s
            GROUP BY bucket ORDER BY bucket
            """,
            {
                "every": every,
                "start": _naive(start),
                "end": _naive(end),
                "id": self._series_id(series),
            },
        )

    def latest(self, series: Sequence[str]) -> pd.DataFrame:
        """Return the last point of each series."""
        return self._frame(
            """
            SELECT t.external_id AS series, e.last_ts AS ts, d.value
            FROM time_series t
            JOIN series_extent e ON e.series_id = t.series_id
            JOIN datapoint d ON d.series_id = e.series_id AND d.ts = e.last_ts
            WHERE t.external_id = ANY(%s)
            ORDER BY series
            """,
            (list(series),),
        )

    def counts(self) -> dict[str, int]:
        """Return the number of rows per entity type, plus datapoints and edges."""
        self._require_schema()
        counted = self._frame(COUNTS_SQL)
        return {str(name): int(n) for name, n in counted.itertuples(index=False)}

    def quarantine_summary(self) -> pd.DataFrame:
        """Return open quarantine counted by distinct problem (see the DuckDB store)."""
        from factorybrain.store._duckdb import QUARANTINE_SUMMARY_SQL

        return self._frame(to_postgres(QUARANTINE_SUMMARY_SQL))

    def ingest_history(self, limit: int = 20) -> pd.DataFrame:
        """Return the most recent ingest reports, newest first."""
        return self._frame(
            "SELECT * FROM ingest_report ORDER BY started_at DESC LIMIT %s", (int(limit),)
        )

    def query(self, sql: str, parameters: QueryParameters | None = None) -> pd.DataFrame:
        """Run one read-only statement of DuckDB's dialect (checked, translated, READ ONLY).

        ``DESCRIBE`` and ``SHOW`` describe the model's tables as DuckDB does (the schema is the
        same in both stores); ``SUMMARIZE`` is refused, naming what to write instead.
        """
        if _keyword(sql) in _CATALOG_STATEMENTS:
            return guard_catalog().query(sql, parameters)
        translated = self._checked(sql)
        return self._read_again_if_gone(lambda: self._frame(translated, _parameters(parameters)))

    def query_rows(
        self, sql: str, parameters: QueryParameters | None = None
    ) -> list[dict[str, Any]]:
        """Like :meth:`query`, as dicts of plain Python values."""
        if _keyword(sql) in _CATALOG_STATEMENTS:
            return guard_catalog().query_rows(sql, parameters)
        translated = self._checked(sql)
        import psycopg

        def rows() -> list[dict[str, Any]]:
            try:
                cursor = self._con.execute(translated, _parameters(parameters))
            except psycopg.Error as error:
                raise _failure("query failed", error) from error
            names = [column.name for column in cursor.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

        return self._read_again_if_gone(rows)

    def _checked(self, sql: str) -> str:
        catalog = guard_catalog()
        with catalog._lock:
            check_read_only(sql, catalog._con, self._tables, 0)
        if _keyword(sql) == "SUMMARIZE":
            raise StoreError(
                "SUMMARIZE is DuckDB's own; on a PostgreSQL store, ask for what you need with "
                "SELECT count(*), min(...), max(...), avg(...) FROM ..."
            )
        return to_postgres(sql)

    def _read_again_if_gone(self, read: Callable[[], T]) -> T:
        """``read`` in a READ ONLY transaction; asked once more if the connection was lost.

        A read changes nothing, so it can be repeated safely: when the server closed the
        connection (a restart) the same read runs on a new one, and a reader never sees the
        restart once the server is back. Inside a caller's transaction nothing is repeated.
        """

        def in_read_only_transaction() -> T:
            with self._read_only_transaction():
                return read()

        return self._once_more_if_gone(
            in_read_only_transaction, repeatable=not self._in_transaction
        )

    @contextmanager
    def _read_only_transaction(self) -> Iterator[None]:
        import psycopg

        with self._lock:
            if self._in_transaction:
                yield  # inside the caller's transaction: sees its own writes
                return
            try:
                with self._con.transaction():
                    self._con.execute("SET TRANSACTION READ ONLY")
                    yield
            except psycopg.Error as error:  # BEGIN or COMMIT on a lost connection
                raise _failure(self.path, error) from error

    # -- moving whole tables -------------------------------------------------------------------
    def table_names(self) -> list[str]:
        """The model's tables in this database (schema bookkeeping left out)."""
        rows = self._run(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
            "AND table_name NOT IN ('schema_migrations', 'fb_generation') "
            "AND table_name NOT LIKE 'datapoint\\_%%' "
            "ORDER BY table_name"
        )
        return [row[0] for row in rows]

    def read_table(self, table: str, columns: Sequence[str]) -> Iterator[pa.RecordBatch]:
        """Every row of ``table`` as Arrow batches of ``columns``, in no particular order.

        Tables without list columns travel as ``COPY ... TO STDOUT`` CSV, read by Arrow's CSV
        reader in the model's types (through a temporary file: memory stays flat); the others
        row by row through a server-side cursor.
        """
        types = column_types(table)
        if any(types[c].endswith("[]") for c in columns):
            yield from self._read_rows(table, columns)
            return
        selected = ", ".join(quote(c) for c in columns)
        with tempfile.TemporaryFile() as spool:
            with self._lock, self._con.cursor() as cursor:
                with cursor.copy(
                    f"COPY (SELECT {selected} FROM {quote(table)}) TO STDOUT (FORMAT CSV)"
                ) as copy:
                    for chunk in copy:
                        spool.write(chunk)
            if spool.tell() == 0:
                return
            spool.seek(0)
            schema = pa.schema([(c, _ARROW_TYPES[types[c]]) for c in columns])
            reader = pa_csv.open_csv(
                spool,
                read_options=pa_csv.ReadOptions(column_names=list(columns), block_size=16 << 20),
                convert_options=pa_csv.ConvertOptions(
                    column_types=schema,
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=False,
                    null_values=[""],
                ),
            )
            yield from reader

    def _read_rows(self, table: str, columns: Sequence[str]) -> Iterator[pa.RecordBatch]:
        import psycopg

        types = column_types(table)
        schema = pa.schema([(c, _ARROW_TYPES[types[c]]) for c in columns])
        selected = ", ".join(quote(c) for c in columns)
        with self._lock, self._con.transaction():
            with self._con.cursor(name=f"read_{uuid.uuid4().hex[:8]}") as cursor:
                try:
                    cursor.execute(f"SELECT {selected} FROM {quote(table)}")
                except psycopg.Error as error:
                    raise _failure(self.path, error) from error
                while rows := cursor.fetchmany(50_000):
                    yield pa.RecordBatch.from_pylist(
                        [dict(zip(columns, row, strict=True)) for row in rows], schema=schema
                    )

    def write_table(self, table: str, batches: Iterable[pa.RecordBatch]) -> int:
        """Append Arrow batches to ``table`` as they are (created/updated times included)."""
        written = 0
        for batch in batches:
            rows = pa.Table.from_batches([batch])
            if table == "datapoint":
                self._ensure_partitions(rows)
            written += self._copy_in(quote(table), rows, rows.column_names)
        return written


#: Arrow types of the model's column types, for tables read back from PostgreSQL.
_ARROW_TYPES: dict[str, pa.DataType] = {
    "VARCHAR": pa.string(),
    "JSON": pa.string(),
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "DOUBLE": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "TIMESTAMP": pa.timestamp("us"),
    "VARCHAR[]": pa.list_(pa.string()),
}


#: PostgreSQL type oids of numbers and times (pg_type): their columns get numpy dtypes.
_NUMBER_OIDS = frozenset({20, 21, 23, 26, 700, 701, 1700})
_TIME_OIDS = frozenset({1114, 1082})


def _typed(frame: pd.DataFrame, oids: Sequence[int]) -> pd.DataFrame:
    """Columns of numbers and times as DuckDB's DataFrames have them (NaN and NaT for NULL).

    Rows built from Python values leave a column with a NULL as ``object``; the agents'
    arithmetic and charts expect float64 and datetime64, as DuckDB gives them.
    """
    for index, oid in enumerate(oids):
        column = frame.iloc[:, index]
        if oid in _NUMBER_OIDS and column.dtype == object:
            frame.isetitem(index, pd.to_numeric(column, errors="coerce"))
        elif oid in _TIME_OIDS and str(column.dtype) != "datetime64[us]":
            frame.isetitem(index, pd.to_datetime(column).astype("datetime64[us]"))
    return frame


#: Statements about the schema, answered by the catalog (the model's tables, as DuckDB has them).
_CATALOG_STATEMENTS = frozenset({"DESCRIBE", "SHOW"})


def _keyword(sql: str) -> str:
    """The first word of ``sql`` in capitals (comments before it skipped)."""
    import sqlglot

    try:
        tokens = sqlglot.Dialect.get_or_raise("duckdb").tokenize(sql)
    except sqlglot.errors.SqlglotError:
        return ""
    return tokens[0].text.upper() if tokens else ""


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


_POSTGRES_EPOCH_US = np.datetime64("2000-01-01T00:00:00", "us").astype(np.int64)


def _binary_array(data: bytes, element: str) -> np.ndarray:
    """The elements of a one-dimensional array in PostgreSQL's binary form (``array_send``).

    The form: dimensions, a NULL flag and the element type (3 x int32), each dimension's size
    and lower bound (2 x int32), then each element as its length (int32) and bytes.
    """
    dimensions = int.from_bytes(data[0:4], "big")
    if dimensions == 0:
        return np.empty(0, dtype=element)
    if dimensions != 1:
        raise StoreError(f"expected a one-dimensional array, found {dimensions} dimensions")
    size = int.from_bytes(data[12:16], "big")
    layout = np.dtype([("length", ">i4"), ("value", element)])
    items = np.frombuffer(data, dtype=layout, count=size, offset=20)
    if (items["length"] != layout["value"].itemsize).any():
        raise StoreError("an array element of unexpected width (a NULL?) in a datapoint window")
    return items["value"]


def _typed_points(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame(
            {"ts": pd.Series(dtype="datetime64[us]"), "value": pd.Series(dtype="float64")}
        )
    return frame


def _parameters(parameters: QueryParameters | None) -> Any:
    if parameters is None:
        return ()
    if isinstance(parameters, Mapping):
        return {name: _value(value) for name, value in parameters.items()}
    return [_value(value) for value in parameters]


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        return _naive(value)
    if isinstance(value, tuple):
        return list(value)
    return value
