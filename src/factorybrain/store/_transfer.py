"""Moving a whole store from one database to another: DuckDB to PostgreSQL and back.

Every table of the model travels as it is (created and updated times, ingest ids, the audit
chain, tokens), in one transaction of the target, which must be new or empty: a move that fails
leaves it as it was. Afterwards each table is counted and checksummed on both sides, by the same
rule whatever the database: DuckDB hashes each row's text (every column as text, joined) and sums
the hashes, so the sums agree exactly when both sides hold the same rows, in any order.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

import duckdb
import pyarrow as pa

from factorybrain.exceptions import StoreError
from factorybrain.store._base import Store
from factorybrain.store._catalog import column_types, guard_catalog
from factorybrain.store._schema import SCHEMA_VERSION, quote


class MovableStore(Protocol):
    """What a store offers for moving whole tables (both stores do)."""

    path: str

    def table_names(self) -> list[str]: ...

    def read_table(self, table: str, columns: list[str]) -> Iterator[pa.RecordBatch]: ...

    def write_table(self, table: str, batches: Iterable[pa.RecordBatch]) -> int: ...


@dataclass(frozen=True)
class TableMove:
    """One table moved: its rows and checksums on both sides."""

    table: str
    source_rows: int
    target_rows: int
    source_checksum: str
    target_checksum: str

    @property
    def identical(self) -> bool:
        return (self.source_rows, self.source_checksum) == (self.target_rows, self.target_checksum)


@dataclass(frozen=True)
class MoveReport:
    """What :func:`move_store` moved, table by table, and how long it took."""

    source: str
    target: str
    tables: tuple[TableMove, ...]
    seconds: float
    #: Tables of the source outside the model (derived, rebuilt where needed), left behind.
    left: tuple[str, ...] = ()

    @property
    def rows(self) -> int:
        return sum(t.target_rows for t in self.tables)


def _columns(table: str) -> list[str]:
    return list(column_types(table))


def _model_tables() -> list[str]:
    return guard_catalog().table_names()


def table_checksum(store: MovableStore, table: str) -> tuple[int, str]:
    """Rows of ``table`` and the sum of DuckDB's hash of each row's text, as text."""
    columns = _columns(table)
    text = ", ".join(f"coalesce(CAST({quote(c)} AS VARCHAR), chr(0))" for c in columns)
    con = duckdb.connect()
    rows, total = 0, 0
    try:
        for batch in store.read_table(table, columns):
            con.register("_batch", pa.Table.from_batches([batch]))
            count, hashed = con.execute(
                f"SELECT count(*), coalesce(sum(hash(concat_ws(chr(31), {text}))), 0)::VARCHAR "
                "FROM _batch"
            ).fetchall()[0]
            con.unregister("_batch")
            rows += int(count)
            total += int(hashed)
    finally:
        con.close()
    return rows, str(total)


def move_store(
    source: Store,
    target: Store,
    *,
    progress: Callable[[str, int], None] | None = None,
) -> MoveReport:
    """Copy every table of ``source`` into the empty store ``target`` and check each one.

    Args:
        source: The store to read (left unchanged).
        target: A migrated store of the same schema version holding no rows.
        progress: Called with each table's name and the rows it moved.

    Raises:
        StoreError: If a schema version differs, the target holds rows, or a table's count or
            checksum differs after the move (the move itself is then already committed: the
            message names the table).
    """
    started = time.perf_counter()
    movable_source, movable_target = _movable(source), _movable(target)
    for store, role in ((source, "source"), (target, "target")):
        version = store.schema_version()
        if version != SCHEMA_VERSION:
            raise StoreError(
                f"the {role} store {store_path(store)} has schema version {version}, expected "
                f"{SCHEMA_VERSION}: run 'factorybrain init --db ...' on it first"
            )
    model = set(_model_tables())
    found = movable_source.table_names()
    tables = [t for t in found if t in model]
    left = tuple(t for t in found if t not in model)
    held = {t: table_checksum(movable_target, t)[0] for t in movable_target.table_names()}
    occupied = {t: n for t, n in held.items() if n}
    if occupied:
        listed = ", ".join(f"{t} ({n})" for t, n in sorted(occupied.items()))
        raise StoreError(
            f"the target store {store_path(target)} is not empty: {listed}; move into a new "
            "or empty store (nothing was written)"
        )
    snapshot = getattr(source, "snapshot", None)
    with snapshot() if callable(snapshot) else contextlib.nullcontext():
        # One moment of the source (a server database may be written meanwhile).
        with target.transaction():
            for table in tables:
                moved = movable_target.write_table(
                    table, movable_source.read_table(table, _columns(table))
                )
                if progress is not None:
                    progress(table, moved)
        checks = []
        for table in tables:
            source_rows, source_sum = table_checksum(movable_source, table)
            target_rows, target_sum = table_checksum(movable_target, table)
            checks.append(TableMove(table, source_rows, target_rows, source_sum, target_sum))
    report = MoveReport(
        store_path(source),
        store_path(target),
        tuple(checks),
        time.perf_counter() - started,
        left,
    )
    differing = [c for c in report.tables if not c.identical]
    if differing:
        listed = "; ".join(
            f"{c.table}: {c.source_rows} rows, checksum {c.source_checksum} in the source, "
            f"{c.target_rows} rows, checksum {c.target_checksum} in the target"
            for c in differing
        )
        raise StoreError(f"the moved store differs from its source: {listed}")
    return report


def store_path(store: Store) -> str:
    """How messages name a store: its file, or its URL without the password."""
    return str(getattr(store, "path", type(store).__name__))


def _movable(store: Store) -> MovableStore:
    if not all(hasattr(store, name) for name in ("table_names", "read_table", "write_table")):
        raise StoreError(f"{type(store).__name__} cannot move whole tables")
    return store  # type: ignore[return-value]
