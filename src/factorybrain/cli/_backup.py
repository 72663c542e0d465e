"""Commands that keep a copy of the store: ``backup`` and ``restore``.

A backup is one file: the store's tables and a manifest of each table's row count and checksum,
taken in one transaction (:func:`factorybrain.store.backup_store`). While a server holds the
store, ``backup --api URL`` asks that server for it; a restore replaces a whole store, so it runs
only where no process holds the target.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from factorybrain.cli._common import (
    DbOption,
    JsonOption,
    TokenOption,
    console,
    friendly_errors,
    open_db,
    working,
)
from factorybrain.cli._remote import ApiClient, ApiOption

if TYPE_CHECKING:
    from factorybrain.store import BackupManifest, RestoreReport, Store

app = typer.Typer()


@app.command()
@friendly_errors
def backup(
    to: Annotated[
        Path, typer.Option("--to", help="The backup file to write (replaced if it exists).")
    ],
    db: DbOption = None,
    api: ApiOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Back up the store into one file, with each table's row count and checksum.

    The backup is taken in one transaction, so it holds what was committed at one moment,
    while writes go on. While a server holds the store, pass `--api URL` and an admin's token:
    the server takes the backup and sends it here. Check it with `factorybrain restore FILE
    --check`.

    Example: `factorybrain backup --db plant.duckdb --to backups/plant-2025-05-01.fbbackup`
    """
    from factorybrain.store import PostgresStore, backup_store, read_manifest

    if api:
        to.parent.mkdir(parents=True, exist_ok=True)
        with ApiClient(api, token) as client, working("backing up (on the server)", quiet=as_json):
            client.download("/backup", to)
        manifest = read_manifest(to)
    else:
        with open_db(db, read_only=True) as store, working("backing up", quiet=as_json):
            if isinstance(store, PostgresStore):
                manifest = _backup_server_store(store, to)
            else:
                manifest = backup_store(store, to)
    rows = sum(check.rows for check in manifest.tables.values())
    if as_json:
        print(json.dumps({"file": str(to), **manifest.dump()}, indent=2))
        return
    console.print(
        f"backed up {manifest.store} (schema version {manifest.schema_version}) to "
        f"[bold]{to}[/bold]: {len(manifest.tables)} tables, {rows:,} rows, "
        f"{to.stat().st_size:,} bytes",
        highlight=False,
    )


@app.command()
@friendly_errors
def restore(
    source: Annotated[
        Path,
        typer.Argument(
            help="A backup written by 'factorybrain backup'.", exists=True, dir_okay=False
        ),
    ],
    db: DbOption = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the store if it exists.")] = False,
    check: Annotated[
        bool,
        typer.Option("--check", help="Only show what the backup holds; change nothing."),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Restore a backup into a store file or an empty PostgreSQL database, checking every table.

    Every file's SHA-256, and each table's row count and checksum, are checked before the
    restored store is put in place; a backup of an older schema is migrated. An existing store
    is replaced only with `--force`, and never while a process (a server) holds it: stop it
    first.

    Example: `factorybrain restore backups/plant-2025-05-01.fbbackup --db plant.duckdb`
    """
    from factorybrain.exceptions import StoreError
    from factorybrain.secrets import redact
    from factorybrain.store import default_db, is_postgres_url, read_manifest, restore_store

    if check:
        manifest = read_manifest(source)
        if as_json:
            print(json.dumps(manifest.dump(), indent=2))
            return
        _print_tables(f"{source}: taken {manifest.created_at} from {manifest.store}", manifest)
        return
    target = db or default_db()
    if is_postgres_url(target):
        if force:
            raise StoreError(
                "--force replaces a store file; a PostgreSQL store is restored into an empty "
                "database only (drop and create it again first)"
            )
        with working(f"restoring {redact(str(target))}", quiet=as_json):
            report = _restore_server_store(source, str(target))
    else:
        with working(f"restoring {target}", quiet=as_json):
            report = restore_store(source, target, force=force)
    if as_json:
        print(
            json.dumps(
                {
                    "store": report.store,
                    "replaced": report.replaced,
                    "checksums_compared": report.checksums_compared,
                    "migrations_applied": report.migrations_applied,
                    "manifest": report.manifest.dump(),
                },
                indent=2,
            )
        )
        return
    manifest = report.manifest
    rows = sum(check.rows for check in manifest.tables.values())
    checked = (
        "row counts and checksums"
        if report.checksums_compared
        else f"row counts (checksums need DuckDB {manifest.duckdb_version} to compare)"
    )
    console.print(
        f"{'replaced' if report.replaced else 'restored'} [bold]{report.store}[/bold] from "
        f"{source} (taken {manifest.created_at}): {len(manifest.tables)} tables, {rows:,} rows, "
        f"{checked} as in the backup",
        highlight=False,
    )
    if report.migrations_applied:
        console.print(
            f"migrated from schema version {manifest.schema_version}: "
            f"{report.migrations_applied} migration(s) applied",
            highlight=False,
        )


def _backup_server_store(store: Store, to: Path) -> BackupManifest:
    """Back up a PostgreSQL store: one moment of it moved into a DuckDB file, then packed."""
    import tempfile

    from factorybrain.store import DuckDBStore, backup_store, move_store

    to.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=to.parent, prefix=".backup-") as scratch:
        copy = DuckDBStore(Path(scratch) / "store.duckdb")
        try:
            copy.migrate()
            move_store(store, copy)
            return backup_store(copy, to, label=str(getattr(store, "path", "")))
        finally:
            copy.close()


def _restore_server_store(source: Path, url: str) -> RestoreReport:
    """Restore a backup into an empty PostgreSQL store: unpacked and checked, then moved."""
    import tempfile
    from dataclasses import replace

    from factorybrain.store import DuckDBStore, PostgresStore, move_store, restore_store

    with tempfile.TemporaryDirectory(prefix="factorybrain-restore-") as scratch:
        unpacked = restore_store(source, Path(scratch) / "store.duckdb")
        copy = DuckDBStore(unpacked.store, read_only=True)
        target = PostgresStore(url)
        try:
            target.migrate()
            move_store(copy, target)
        finally:
            copy.close()
            target.close()
    return replace(unpacked, store=target.path, replaced=False)


def _print_tables(title: str, manifest: BackupManifest) -> None:
    """One line per table of the backup: its rows and checksum."""
    table = Table(title=title, title_justify="left")
    table.add_column("table")
    table.add_column("rows", justify="right")
    table.add_column("checksum")
    for name, found in manifest.tables.items():
        table.add_row(name, f"{found.rows:,}", found.checksum)
    console.print(table)


@app.command()
@friendly_errors
def migrate(
    source: Annotated[
        str,
        typer.Option(
            "--from", help="The store to copy: a DuckDB file or a postgresql:// URL (unchanged)."
        ),
    ],
    target: Annotated[
        str,
        typer.Option(
            "--to",
            help="The new store: a DuckDB file or a postgresql:// URL of an empty database.",
        ),
    ],
    as_json: JsonOption = False,
) -> None:
    """Move a whole store to another database: a DuckDB file to PostgreSQL, or back.

    Every table travels as it is (times, ingest ids, the audit chain, tokens) in one
    transaction of the target, which is created or migrated first and must hold no rows. Each
    table is then counted and checksummed on both sides; any difference is an error naming the
    table. The source is only read: stop writers to it first (for a DuckDB file, the server).

    Example: `factorybrain migrate --from plant.duckdb --to postgresql://factorybrain@db/plant`
    """
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from factorybrain.exceptions import StoreError
    from factorybrain.store import is_postgres_url, move_store

    if source == target:
        raise StoreError(f"--from and --to name the same store ({source})")
    if not is_postgres_url(source) and not Path(source).exists():
        raise StoreError(f"no store at {source}")
    if not is_postgres_url(target) and Path(target).exists():
        raise StoreError(f"{target} exists; move into a new file (or an empty PostgreSQL database)")
    with open_db(source, read_only=True) as from_store, open_db(target, migrate=True) as to_store:
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
            disable=as_json,
            transient=True,
        ) as progress:
            task = progress.add_task("moving tables", total=None)

            def moved(table: str, rows: int) -> None:
                progress.update(task, description=f"moved {table} ({rows:,} rows)")

            report = move_store(from_store, to_store, progress=moved)
    if as_json:
        print(
            json.dumps(
                {
                    "source": report.source,
                    "target": report.target,
                    "seconds": round(report.seconds, 2),
                    "rows": report.rows,
                    "left": list(report.left),
                    "tables": {
                        t.table: {"rows": t.target_rows, "checksum": t.target_checksum}
                        for t in report.tables
                    },
                },
                indent=2,
            )
        )
        return
    console.print(
        f"moved [bold]{report.source}[/bold] to [bold]{report.target}[/bold] in "
        f"{report.seconds:.1f} s: {len(report.tables)} tables, {report.rows:,} rows, every "
        "table's row count and checksum the same on both sides",
        highlight=False,
    )
    if report.left:
        console.print(
            f"not moved (derived, rebuilt when needed): {', '.join(report.left)}", highlight=False
        )
