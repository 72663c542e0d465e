"""The store: where the factory model lives (a DuckDB file by default)."""

from __future__ import annotations

import os
from pathlib import Path

from factorybrain.store._backup import (
    BackupManifest,
    RestoreReport,
    TableCheck,
    backup_store,
    read_manifest,
    restore_store,
)
from factorybrain.store._base import Store, WriteCounts
from factorybrain.store._duckdb import DuckDBStore
from factorybrain.store._holder import (
    StoreHolder,
    StoreLockedError,
    holder_path,
    holding,
    read_holder,
)
from factorybrain.store._schema import MIGRATIONS, SCHEMA_VERSION, Migration

#: Store used when neither ``--db`` nor ``FACTORYBRAIN_DB`` says otherwise.
DEFAULT_DB = "factory.duckdb"


def default_db_path() -> Path:
    """Return ``FACTORYBRAIN_DB`` if set, else ``factory.duckdb`` in the working directory."""
    return Path(os.environ.get("FACTORYBRAIN_DB") or DEFAULT_DB)


def open_store(
    path: str | Path | None = None, *, read_only: bool = False, migrate: bool = False
) -> DuckDBStore:
    """Open the factory store.

    Args:
        path: Database file; ``None`` uses :func:`default_db_path`.
        read_only: Open without write access.
        migrate: Create or upgrade the schema (what ``factorybrain init`` does).
    """
    store = DuckDBStore(path or default_db_path(), read_only=read_only)
    if migrate:
        store.migrate()
    return store


__all__ = [
    "BackupManifest",
    "DEFAULT_DB",
    "DuckDBStore",
    "MIGRATIONS",
    "Migration",
    "RestoreReport",
    "SCHEMA_VERSION",
    "Store",
    "StoreHolder",
    "StoreLockedError",
    "TableCheck",
    "WriteCounts",
    "backup_store",
    "default_db_path",
    "holder_path",
    "holding",
    "open_store",
    "read_holder",
    "read_manifest",
    "restore_store",
]
