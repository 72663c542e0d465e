"""The store: where the factory model lives (a DuckDB file by default, or a PostgreSQL database)."""

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
from factorybrain.store._postgres import PostgresStore, ServerGone, is_postgres_url
from factorybrain.store._schema import MIGRATIONS, SCHEMA_VERSION, Migration
from factorybrain.store._transfer import MoveReport, TableMove, move_store, table_checksum

#: Store used when neither ``--db`` nor ``FACTORYBRAIN_DB`` says otherwise.
DEFAULT_DB = "factory.duckdb"


def default_db_path() -> Path:
    """Return ``FACTORYBRAIN_DB`` if set, else ``factory.duckdb`` in the working directory.

    A PostgreSQL URL in ``FACTORYBRAIN_DB`` is not a path: see :func:`default_db`.
    """
    return Path(os.environ.get("FACTORYBRAIN_DB") or DEFAULT_DB)


def default_db() -> str | Path:
    """``FACTORYBRAIN_DB`` as given (a file or a ``postgresql://`` URL), else the default file."""
    found = os.environ.get("FACTORYBRAIN_DB")
    if found and is_postgres_url(found):
        return found
    return default_db_path()


def open_store(
    path: str | Path | None = None, *, read_only: bool = False, migrate: bool = False
) -> Store:
    """Open the factory store: a DuckDB file, or a PostgreSQL database given by its URL.

    Args:
        path: Database file or ``postgresql://user@host/database``; ``None`` uses
            ``$FACTORYBRAIN_DB`` (:func:`default_db`).
        read_only: Open without write access.
        migrate: Create or upgrade the schema (what ``factorybrain init`` does).
    """
    location = path or default_db()
    store: Store
    if is_postgres_url(location):
        store = PostgresStore(str(location), read_only=read_only)
    else:
        store = DuckDBStore(location, read_only=read_only)
    if migrate:
        store.migrate()
    return store


__all__ = [
    "BackupManifest",
    "DEFAULT_DB",
    "DuckDBStore",
    "PostgresStore",
    "default_db",
    "is_postgres_url",
    "MIGRATIONS",
    "MoveReport",
    "TableMove",
    "move_store",
    "table_checksum",
    "Migration",
    "RestoreReport",
    "SCHEMA_VERSION",
    "ServerGone",
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
