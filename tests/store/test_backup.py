"""Backups of a store: one file, restored only when every table matches what was backed up."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from factorybrain.connectors import ingest
from factorybrain.exceptions import StoreError
from factorybrain.store import (
    SCHEMA_VERSION,
    backup_store,
    open_store,
    read_manifest,
    restore_store,
)
from factorybrain.store._backup import MANIFEST_NAME, table_checks

DATA = Path(__file__).parents[1] / "data"


def _loaded_store(path: Path) -> None:
    with open_store(path, migrate=True) as store:
        ingest(store, DATA / "assets.csv", DATA / "assets.yaml")


def test_a_restored_store_has_every_table_with_the_rows_and_checksums_backed_up(
    tmp_path: Path,
) -> None:
    original = tmp_path / "plant.duckdb"
    _loaded_store(original)
    with open_store(original, read_only=True) as store:
        manifest = backup_store(store, tmp_path / "plant.backup")
        before = table_checks(store.reader().connection)
        assets = store.counts()["asset"]
    assert assets > 0
    assert manifest.tables == before  # the manifest is what the store held
    assert manifest.tables["asset"].rows == assets
    assert manifest.schema_version == SCHEMA_VERSION

    report = restore_store(tmp_path / "plant.backup", tmp_path / "restored.duckdb")
    assert report.checksums_compared and not report.replaced and report.migrations_applied == 0
    with open_store(tmp_path / "restored.duckdb", read_only=True) as restored:
        assert table_checks(restored.reader().connection) == before
        assert restored.counts()["asset"] == assets
    assert read_manifest(tmp_path / "plant.backup") == manifest


def test_restore_refuses_to_replace_a_store_without_force_and_replaces_it_with(
    tmp_path: Path,
) -> None:
    original = tmp_path / "plant.duckdb"
    _loaded_store(original)
    with open_store(original, read_only=True) as store:
        backup_store(store, tmp_path / "plant.backup")
    empty = tmp_path / "other.duckdb"
    open_store(empty, migrate=True).close()

    with pytest.raises(StoreError, match="exists.*--force"):
        restore_store(tmp_path / "plant.backup", empty)
    with open_store(empty, read_only=True) as untouched:
        assert untouched.counts()["asset"] == 0

    report = restore_store(tmp_path / "plant.backup", empty, force=True)
    assert report.replaced
    with open_store(empty, read_only=True) as replaced:
        assert replaced.counts()["asset"] > 0


def test_a_damaged_backup_or_a_manifest_that_lies_restores_nothing(tmp_path: Path) -> None:
    original = tmp_path / "plant.duckdb"
    _loaded_store(original)
    with open_store(original, read_only=True) as store:
        manifest = backup_store(store, tmp_path / "plant.backup")

    # A manifest whose count of assets is not the file's: the tables are checked, not trusted.
    found = manifest.dump()
    found["tables"]["asset"]["rows"] += 1
    _rewrite_manifest(tmp_path / "plant.backup", tmp_path / "lying.backup", found)
    with pytest.raises(StoreError, match=r"table asset: expected \d+ rows, found \d+"):
        restore_store(tmp_path / "lying.backup", tmp_path / "restored.duckdb")
    assert not (tmp_path / "restored.duckdb").exists()

    # A file changed after the backup: its SHA-256 is not the manifest's.
    found = manifest.dump()
    name = next(iter(found["files"]))
    found["files"][name] = "0" * 64
    _rewrite_manifest(tmp_path / "plant.backup", tmp_path / "damaged.backup", found)
    with pytest.raises(StoreError, match="damaged"):
        restore_store(tmp_path / "damaged.backup", tmp_path / "restored.duckdb")
    assert not (tmp_path / "restored.duckdb").exists()

    (tmp_path / "not-a-backup").write_text("hello", encoding="utf-8")
    with pytest.raises(StoreError, match="not a backup"):
        restore_store(tmp_path / "not-a-backup", tmp_path / "restored.duckdb")


def test_a_backup_of_an_older_schema_is_migrated_when_restored(tmp_path: Path) -> None:
    original = tmp_path / "old.duckdb"
    _loaded_store(original)
    with open_store(original) as store:  # as a store the last migration never ran on
        store.connection.execute(
            "DELETE FROM schema_migrations WHERE version = ?", [SCHEMA_VERSION]
        ).fetchall()
        manifest = backup_store(store, tmp_path / "old.backup")
    assert manifest.schema_version == SCHEMA_VERSION - 1

    report = restore_store(tmp_path / "old.backup", tmp_path / "new.duckdb")
    assert report.migrations_applied == 1
    with open_store(tmp_path / "new.duckdb", read_only=True) as restored:
        assert restored.schema_version() == SCHEMA_VERSION


def _rewrite_manifest(source: Path, target: Path, manifest: dict) -> None:
    """Copy a backup with another manifest."""
    with tarfile.open(source) as old, tarfile.open(target, "w") as new:
        for member in old.getmembers():
            if member.name == MANIFEST_NAME:
                data = json.dumps(manifest).encode("utf-8")
                member.size = len(data)
                new.addfile(member, io.BytesIO(data))
            else:
                new.addfile(member, old.extractfile(member))
