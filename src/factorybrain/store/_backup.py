"""Backups of a DuckDB store: one file, verified table by table when restored.

A backup is a tar file holding DuckDB's ``EXPORT DATABASE`` of the store (``schema.sql``,
``load.sql`` and one Parquet file per table) and a manifest, ``factorybrain-backup.json``: the
schema version, the versions of factorybrain and DuckDB that wrote it, each table's row count
and checksum (the sum of DuckDB's hash of every row), and the SHA-256 of every file.

The export and the counts are taken in one transaction, so they describe the same committed
state: a write that is half-done is not in the backup, and writes may go on meanwhile (which is
how a running server backs up the store it holds). A restore checks every file's SHA-256,
imports the export into a new file, checks each table's count and checksum against the
manifest, runs the migrations a backup of an older schema needs, and only then puts the new
file in place; it refuses to replace an existing store unless asked to, and refuses to replace
a store another process holds.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from factorybrain.exceptions import SchemaError, StoreError
from factorybrain.store._duckdb import DuckDBStore
from factorybrain.store._holder import StoreLockedError
from factorybrain.store._schema import SCHEMA_VERSION, quote

#: The name of the manifest inside a backup.
MANIFEST_NAME = "factorybrain-backup.json"
#: The folder of DuckDB's export inside a backup.
EXPORT_FOLDER = "database"
#: The version of the backup's layout; a restore refuses a layout it does not know.
BACKUP_FORMAT = 1
#: The alias a table's rows take in the checksum query (a name no column of the model has).
_ROW = "factorybrain_backup_row"


@dataclass(frozen=True)
class TableCheck:
    """One table's row count and checksum (the sum of DuckDB's hash of each row, as text)."""

    rows: int
    checksum: str


@dataclass(frozen=True)
class BackupManifest:
    """What a backup holds and how to check it (``factorybrain-backup.json``).

    Attributes:
        format: The backup layout's version (:data:`BACKUP_FORMAT`).
        created_at: When the backup was taken (ISO 8601, UTC).
        store: The store file it was taken from.
        schema_version: The store's schema version then.
        factorybrain_version: The version of factorybrain that took it.
        duckdb_version: The version of DuckDB that took it (row checksums are DuckDB's hashes:
            they are compared when the restoring DuckDB has the same version).
        tables: Row count and checksum per table.
        files: SHA-256 per file of the export (paths inside the backup).
    """

    format: int
    created_at: str
    store: str
    schema_version: int
    factorybrain_version: str
    duckdb_version: str
    tables: dict[str, TableCheck]
    files: dict[str, str] = field(default_factory=dict)

    def dump(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)

    @classmethod
    def load(cls, found: dict[str, Any], where: str) -> BackupManifest:
        """The manifest of a backup's JSON; ``where`` names the backup in errors.

        Raises:
            StoreError: A field is missing or of the wrong kind, or the layout is unknown.
        """
        try:
            layout = int(found["format"])
            if layout != BACKUP_FORMAT:
                raise StoreError(
                    f"{where}: backup format {layout}, expected {BACKUP_FORMAT}; restore it "
                    "with the version of factorybrain that wrote it "
                    f"({found.get('factorybrain_version', 'unknown')})"
                )
            return cls(
                format=layout,
                created_at=str(found["created_at"]),
                store=str(found["store"]),
                schema_version=int(found["schema_version"]),
                factorybrain_version=str(found["factorybrain_version"]),
                duckdb_version=str(found["duckdb_version"]),
                tables={
                    str(name): TableCheck(int(check["rows"]), str(check["checksum"]))
                    for name, check in found["tables"].items()
                },
                files={str(name): str(digest) for name, digest in found["files"].items()},
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise StoreError(
                f"{where}: the manifest {MANIFEST_NAME} lacks or mistypes a field ({error!r})"
            ) from None


@dataclass(frozen=True)
class RestoreReport:
    """What a restore did.

    Attributes:
        store: The store file restored.
        manifest: The backup's manifest.
        checksums_compared: Whether row checksums were compared (same DuckDB version), besides
            the row counts and the files' SHA-256.
        migrations_applied: Migrations run after the import (a backup of an older schema).
        replaced: Whether an existing store was replaced.
    """

    store: str
    manifest: BackupManifest
    checksums_compared: bool
    migrations_applied: int
    replaced: bool


def table_checks(connection: duckdb.DuckDBPyConnection) -> dict[str, TableCheck]:
    """Row count and checksum of every table of the connection's database (``main`` schema)."""
    tables = [
        row[0]
        for row in connection.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = 'main' AND NOT temporary ORDER BY table_name"
        ).fetchall()
    ]
    checks = {}
    for table in tables:
        rows, checksum = connection.execute(
            f"SELECT count(*), coalesce(sum(hash({_ROW})), 0)::VARCHAR "
            f"FROM {quote(table)} AS {_ROW}"
        ).fetchall()[0]
        checks[table] = TableCheck(int(rows), str(checksum))
    return checks


def backup_store(
    store: DuckDBStore, target: str | Path, *, label: str | None = None
) -> BackupManifest:
    """Write a backup of ``store`` to the file ``target``, replacing it if it exists.

    The export and the counts are one transaction over a connection of their own: they see
    the committed state of one moment, and writes through other connections go on meanwhile.
    The file appears whole or not at all (written beside it, then renamed).

    Args:
        store: An open store (a server passes the store it holds).
        target: The backup file to write (a tar file).
        label: How the manifest names the store backed up (by default its file).

    Returns:
        The manifest written into the backup.

    Raises:
        StoreError: The store is in memory, or the export or the file cannot be written.
    """
    from factorybrain import __version__

    if store.path == ":memory:":
        raise StoreError("an in-memory store has no file to back up; back up a store file")
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with _scratch(target.parent) as scratch:
        export = scratch / EXPORT_FOLDER
        connection = store.reader().connection
        try:
            connection.execute("BEGIN TRANSACTION").fetchall()
            try:
                version = connection.execute(
                    "SELECT coalesce(max(version), 0) FROM schema_migrations"
                ).fetchall()[0][0]
                tables = table_checks(connection)
                connection.execute(
                    f"EXPORT DATABASE '{_sql_text(export)}' (FORMAT PARQUET)"
                ).fetchall()
            finally:
                connection.execute("COMMIT").fetchall()
        except duckdb.Error as error:
            raise StoreError(f"cannot back up the store {store.path!r}: {error}") from error
        finally:
            connection.close()
        files = {f"{EXPORT_FOLDER}/{path.name}": _sha256(path) for path in sorted(export.iterdir())}
        manifest = BackupManifest(
            format=BACKUP_FORMAT,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            store=label or store.path,
            schema_version=int(version),
            factorybrain_version=__version__,
            duckdb_version=duckdb.__version__,
            tables=tables,
            files=files,
        )
        (scratch / MANIFEST_NAME).write_text(
            json.dumps(manifest.dump(), indent=2) + "\n", encoding="utf-8"
        )
        written = scratch / "backup.tar"
        with tarfile.open(written, "w") as archive:
            archive.add(scratch / MANIFEST_NAME, arcname=MANIFEST_NAME)
            for name in files:
                archive.add(scratch / name, arcname=name)
        os.replace(written, target)
    return manifest


def read_manifest(source: str | Path) -> BackupManifest:
    """The manifest of the backup file ``source``, without restoring it.

    Raises:
        StoreError: The file is missing, not a backup, or its manifest is wrong.
    """
    source = Path(source)
    with _open_backup(source) as archive:
        return _manifest_of(archive, source)


def restore_store(source: str | Path, target: str | Path, *, force: bool = False) -> RestoreReport:
    """Restore the backup file ``source`` into the store file ``target``, checked table by table.

    Args:
        source: A backup written by :func:`backup_store`.
        target: The store file to create (or replace, with ``force``).
        force: Replace an existing store file.

    Returns:
        What was restored and checked.

    Raises:
        StoreError: ``target`` exists and ``force`` is not set; another process holds it; a
            file of the backup, a row count or a checksum differs from the manifest (nothing is
            changed then); or the backup cannot be read.
        SchemaError: The backup's schema is newer than this factorybrain knows.
    """
    source, target = Path(source), Path(target)
    exists = target.exists()
    if exists and not force:
        raise StoreError(
            f"the store {str(target)!r} exists: restoring would replace it. Restore into a new "
            "file, or pass --force to replace it (back it up first if you may need it)."
        )
    with _open_backup(source) as archive:
        manifest = _manifest_of(archive, source)
        if manifest.schema_version > SCHEMA_VERSION:
            raise SchemaError(
                f"{source}: the backup has schema version {manifest.schema_version}, newer than "
                f"the version {SCHEMA_VERSION} this factorybrain knows; upgrade factorybrain"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        with _scratch(target.parent) as scratch:
            _extract_checked(archive, manifest, scratch, source)
            restored = scratch / "restored.duckdb"
            compared = manifest.duckdb_version == duckdb.__version__
            connection = duckdb.connect(str(restored))
            try:
                connection.execute(
                    f"IMPORT DATABASE '{_sql_text(scratch / EXPORT_FOLDER)}'"
                ).fetchall()
                _compare(table_checks(connection), manifest, source, checksums=compared)
            except duckdb.Error as error:
                raise StoreError(f"{source}: cannot import the backup: {error}") from error
            finally:
                connection.close()
            store = DuckDBStore(restored)
            try:
                applied = store.migrate()
            finally:
                store.close()
            if exists:
                _ensure_free(target)
            os.replace(restored, target)
            with contextlib.suppress(FileNotFoundError):  # an old log must not replay on it
                Path(f"{target}.wal").unlink()
    return RestoreReport(str(target), manifest, compared, applied, exists)


def _compare(
    found: dict[str, TableCheck], manifest: BackupManifest, source: Path, *, checksums: bool
) -> None:
    """Raise if a table's rows differ from the manifest's (counts; checksums when comparable)."""
    problems = []
    for table, expected in sorted(manifest.tables.items()):
        got = found.get(table)
        if got is None:
            problems.append(f"table {table}: expected {expected.rows} rows, found no table")
        elif got.rows != expected.rows:
            problems.append(f"table {table}: expected {expected.rows} rows, found {got.rows}")
        elif checksums and got.checksum != expected.checksum:
            problems.append(
                f"table {table}: expected checksum {expected.checksum}, found {got.checksum}"
            )
    for table in sorted(set(found) - set(manifest.tables)):
        problems.append(f"table {table}: not in the manifest, found {found[table].rows} rows")
    if problems:
        raise StoreError(
            f"{source}: the restored tables differ from the backup's manifest, nothing was "
            "replaced: " + "; ".join(problems)
        )


def _extract_checked(
    archive: tarfile.TarFile, manifest: BackupManifest, into: Path, source: Path
) -> None:
    """Extract the files the manifest lists into ``into``, checking each one's SHA-256."""
    members = {member.name: member for member in archive.getmembers()}
    (into / EXPORT_FOLDER).mkdir()
    for name, digest in manifest.files.items():
        member = members.get(name)
        folder, _, file_name = name.partition("/")
        if folder != EXPORT_FOLDER or not file_name or "/" in file_name or file_name in ("..", "."):
            raise StoreError(f"{source}: the manifest names a file outside the export: {name!r}")
        if member is None or not member.isfile():
            raise StoreError(f"{source}: the manifest lists {name}, found no such file in it")
        extracted = archive.extractfile(member)
        if extracted is None:
            raise StoreError(f"{source}: cannot read {name} in it")
        path = into / EXPORT_FOLDER / file_name
        hasher = hashlib.sha256()
        with extracted, path.open("wb") as out:
            while chunk := extracted.read(1 << 20):
                hasher.update(chunk)
                out.write(chunk)
        if hasher.hexdigest() != digest:
            raise StoreError(
                f"{source}: {name} has SHA-256 {hasher.hexdigest()}, expected {digest} (the "
                "manifest's): the backup is damaged; nothing was restored"
            )


def _ensure_free(target: Path) -> None:
    """Raise if another process holds the store file ``target`` (a server serving it)."""
    try:
        DuckDBStore(target).close()
    except StoreLockedError as error:
        raise error.with_remedy(
            "A restore replaces the whole store, so it cannot go through a server: stop that "
            "process first, then restore again."
        ) from None


@contextlib.contextmanager
def _open_backup(source: Path) -> Iterator[tarfile.TarFile]:
    if not source.is_file():
        raise StoreError(f"no backup at {source}: expected a file written by 'factorybrain backup'")
    try:
        archive = tarfile.open(source, "r")
    except (tarfile.TarError, OSError) as error:
        raise StoreError(f"{source}: not a backup of factorybrain ({error})") from None
    with archive:
        yield archive


def _manifest_of(archive: tarfile.TarFile, source: Path) -> BackupManifest:
    try:
        member = archive.getmember(MANIFEST_NAME)
    except KeyError:
        raise StoreError(
            f"{source}: not a backup of factorybrain: expected {MANIFEST_NAME} in it, found none"
        ) from None
    extracted = archive.extractfile(member)
    if extracted is None:
        raise StoreError(f"{source}: {MANIFEST_NAME} is not a file")
    try:
        found = json.loads(extracted.read().decode("utf-8"))
    except ValueError as error:
        raise StoreError(f"{source}: {MANIFEST_NAME} is not JSON ({error})") from None
    if not isinstance(found, dict):
        raise StoreError(f"{source}: {MANIFEST_NAME} must be a JSON object")
    return BackupManifest.load(found, str(source))


@contextlib.contextmanager
def _scratch(beside: Path) -> Iterator[Path]:
    """A folder beside ``beside``'s files (same disk, so the final rename is atomic), removed."""
    folder = Path(tempfile.mkdtemp(prefix=".factorybrain-backup-", dir=beside))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _sha256(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def _sql_text(path: Path) -> str:
    """A path as the text of an SQL string literal."""
    return str(path).replace("'", "''")
