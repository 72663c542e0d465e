"""The model's tables as the current schema defines them, for stores that are not DuckDB.

An empty DuckDB store in memory, migrated to the current version, answers what tables and
columns the model has (and in which types), and is what the read-only check of queries asks.
"""

from __future__ import annotations

import functools

from factorybrain.exceptions import StoreError
from factorybrain.store._duckdb import DuckDBStore


@functools.cache
def guard_catalog() -> DuckDBStore:
    """An empty in-memory DuckDB store of the current schema: what the read-only check asks."""
    catalog = DuckDBStore(":memory:", memory_limit="64MB", threads=1)
    catalog.migrate()
    return catalog


@functools.cache
def column_types(table: str) -> dict[str, str]:
    """The model's columns of ``table`` and their (DuckDB) types, in the schema's order."""
    catalog = guard_catalog()
    with catalog._lock:
        rows = catalog._con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = ? ORDER BY ordinal_position",
            [table],
        ).fetchall()
    if not rows:
        raise StoreError(f"no table {table!r} in the factory model")
    return dict(rows)
