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
    from factorybrain.store import BackupManifest

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
    from factorybrain.store import backup_store, read_manifest

    if api:
        to.parent.mkdir(parents=True, exist_ok=True)
        with ApiClient(api, token) as client, working("backing up (on the server)", quiet=as_json):
            client.download("/backup", to)
        manifest = read_manifest(to)
    else:
        with open_db(db, read_only=True) as store, working("backing up", quiet=as_json):
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
    """Restore a backup into a store file, checking every table's rows against the backup.

    Every file's SHA-256, and each table's row count and checksum, are checked before the
    restored store is put in place; a backup of an older schema is migrated. An existing store
    is replaced only with `--force`, and never while a process (a server) holds it: stop it
    first.

    Example: `factorybrain restore backups/plant-2025-05-01.fbbackup --db plant.duckdb`
    """
    from factorybrain.store import default_db_path, read_manifest, restore_store

    if check:
        manifest = read_manifest(source)
        if as_json:
            print(json.dumps(manifest.dump(), indent=2))
            return
        _print_tables(f"{source}: taken {manifest.created_at} from {manifest.store}", manifest)
        return
    target = db or default_db_path()
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


def _print_tables(title: str, manifest: BackupManifest) -> None:
    """One line per table of the backup: its rows and checksum."""
    table = Table(title=title, title_justify="left")
    table.add_column("table")
    table.add_column("rows", justify="right")
    table.add_column("checksum")
    for name, found in manifest.tables.items():
        table.add_row(name, f"{found.rows:,}", found.checksum)
    console.print(table)
