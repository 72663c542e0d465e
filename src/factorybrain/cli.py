"""The ``factorybrain`` command: a thin layer over the Python API.

Every command's help ends with an example; errors print one line naming the file, row or field and
exit with status 1.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from factorybrain.exceptions import FactorybrainError

app = typer.Typer(
    no_args_is_help=True,
    rich_markup_mode="markdown",
    help="factorybrain: one contextualized factory model and the agents that act on it.",
)
# Without a terminal (CI logs, pipes) Rich would wrap at 80 columns; logs read better wider.
console = Console() if sys.stdout.isatty() else Console(width=120)
errors = Console(stderr=True) if sys.stderr.isatty() else Console(stderr=True, width=120)

DbOption = Annotated[
    Path | None,
    typer.Option(
        "--db",
        help="Store file (default: $FACTORYBRAIN_DB or ./factory.duckdb).",
        envvar="FACTORYBRAIN_DB",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]

F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(function: F) -> F:
    """Turn factorybrain's own errors into one red line and exit status 1."""

    @wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except FactorybrainError as error:
            errors.print(f"[red]error:[/red] {error}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def _open(db: Path | None, *, read_only: bool = False, migrate: bool = False) -> Any:
    from factorybrain.store import default_db_path, open_store

    path = db or default_db_path()
    if not migrate and not Path(path).exists():
        from factorybrain.exceptions import StoreError

        raise StoreError(f"no store at {path}; create one with 'factorybrain init --db {path}'")
    return open_store(path, read_only=read_only, migrate=migrate)


def _serve(
    store: Any,
    *,
    host: str,
    port: int,
    tokens: Any,
    orchestrator: Any,
    announce: Callable[[bool], None],
    schedule_every: float | None = None,
    require_dashboard: bool = False,
) -> None:
    """Serve the REST API and the dashboard over an open store with uvicorn until stopped.

    What ``factorybrain serve`` and the demo share: the app prepares the slow answers at start
    (:func:`~factorybrain.api.create_app` with ``prepare=True``), the dashboard is mounted at
    ``/`` when it is installed, and the store is closed when the server stops.

    Args:
        store: The open store; closed at the end.
        host: Interface to listen on.
        port: Port to listen on.
        tokens: The API tokens (:class:`~factorybrain.api.TokenStore`).
        orchestrator: The orchestrator that decides and applies actions (and runs the agents).
        announce: Called once the app is built, with whether the dashboard is mounted, to say
            where it listens.
        schedule_every: Seconds between runs of the agents' schedules (None: never).
        require_dashboard: Fail when the dashboard is not installed instead of serving the API
            alone.
    """
    import uvicorn

    from factorybrain.api import create_app

    try:
        application = create_app(
            store,
            tokens=tokens,
            orchestrator=orchestrator,
            schedule_every=schedule_every,
            prepare=True,
        )
        try:
            from factorybrain.web import mount_dashboard
        except ImportError:  # the dashboard is optional
            if require_dashboard:
                raise
            dashboard = False
        else:
            mount_dashboard(application)
            dashboard = True
        announce(dashboard)
        uvicorn.run(application, host=host, port=port, log_level="warning")
    finally:
        store.close()


def _frame_table(frame: Any, title: str | None = None) -> Table:
    table = Table(title=title, title_justify="left", show_lines=False)
    for column in frame.columns:
        table.add_column(str(column), overflow="fold")
    for row in frame.itertuples(index=False):
        table.add_row(*["" if v is None else str(v) for v in row])
    return table


def _advance(progress: Progress, task: Any, rows: int) -> None:
    progress.update(task, completed=rows)


def _row_progress(*, quiet: bool) -> Progress:
    """A progress display counting rows, on stderr, shown only on a terminal."""
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,.0f} rows"),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
        disable=quiet or not errors.is_terminal,
    )


# -- init --------------------------------------------------------------------------------------
@app.command()
@friendly_errors
def init(db: DbOption = None) -> None:
    """Create the factory store, or bring its schema up to date.

    Example: `factorybrain init --db plant.duckdb`
    """
    with _open(db, migrate=True) as store:
        console.print(f"store [bold]{store.path}[/bold] at schema version {store.schema_version()}")


# -- ingest ------------------------------------------------------------------------------------
@app.command()
@friendly_errors
def ingest(
    sources: Annotated[
        list[str],
        typer.Argument(
            help="Files to load, all with one mapping; or a database URL "
            "(postgresql://user@host/db, mysql://..., mariadb://...) whose table or query the "
            "mapping names."
        ),
    ],
    mapping: Annotated[Path, typer.Option("--mapping", "-m", help="Mapping file (YAML).")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Load files into the factory model through a mapping; each file is one transaction.

    Rejected rows go to quarantine with their reason; loading the same file again changes
    nothing. Prints the report of each file. `${VARIABLE}` in a database URL is read from the
    environment (keep passwords out of command lines).

    Example: `factorybrain ingest exports/machines.csv --mapping mappings/machines.yaml`
    """
    from factorybrain.connectors import ingest as ingest_file
    from factorybrain.connectors import load_mapping

    parsed = load_mapping(mapping)
    reports = []
    failed = False
    with _open(db, migrate=True) as store:
        for source in sources:
            with _row_progress(quiet=as_json) as progress:
                label = "database" if "://" in source else Path(source).name
                task = progress.add_task(f"ingest {label}", total=None)
                try:
                    report = ingest_file(
                        store,
                        source,
                        parsed,
                        progress=functools.partial(_advance, progress, task),
                    )
                except FactorybrainError as error:
                    errors.print(f"[red]error:[/red] {error}", highlight=False, soft_wrap=True)
                    failed = True
                    continue
            reports.append(report)
            if not as_json:
                _print_report(report)
    if as_json:
        print(json.dumps([r.as_dict() for r in reports], default=str, indent=2))
    if failed:
        raise typer.Exit(1)


def _print_report(report: Any) -> None:
    console.print(
        f"[bold]{report.source_file}[/bold] -> {report.entity_type}: read {report.rows_read:,}, "
        f"inserted {report.inserted:,}, updated {report.updated:,}, "
        f"unchanged {report.unchanged:,}, quarantined {report.quarantined:,} "
        f"in {report.seconds:.2f} s",
        highlight=False,
    )
    for reason, count in sorted(report.quarantine_by_reason.items(), key=lambda kv: -kv[1]):
        console.print(f"  quarantined {count:,}: {reason}", highlight=False, style="yellow")


@app.command()
@friendly_errors
def load(
    manifest: Annotated[Path, typer.Argument(help="Plant manifest listing files and mappings.")],
    exports: Annotated[
        Path | None,
        typer.Option(help="Folder the manifest's files are in (default: the manifest's)."),
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Load every export of a plant, as its manifest lists them (file and mapping per source).

    Example: `factorybrain load exports/plant.yaml --db plant.duckdb`
    """
    with _open(db, migrate=True) as store:
        result = load_with_progress(store, manifest, root=exports, quiet=as_json)
    if as_json:
        print(
            json.dumps(
                {
                    "reports": [r.as_dict() for r in result.reports],
                    "failures": [[str(f), m] for f, m in result.failures],
                },
                default=str,
                indent=2,
            )
        )
    else:
        for report in result.reports:
            _print_report(report)
        for _path, message in result.failures:
            errors.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    if result.failures:
        raise typer.Exit(1)


def load_with_progress(
    store: Any, manifest: Path, *, root: Path | None = None, quiet: bool = False
) -> Any:
    """Load a plant manifest with one progress bar per file."""
    from factorybrain.connectors import load_plant

    with _row_progress(quiet=quiet) as progress:

        def on_file(entry: Any) -> Any:
            name = entry.file.name if isinstance(entry.file, Path) else "database"
            task = progress.add_task(f"ingest {name}", total=None)
            return lambda rows: progress.update(task, completed=rows)

        return load_plant(store, manifest, root=root, on_file=on_file)


# -- status ------------------------------------------------------------------------------------
@app.command()
@friendly_errors
def status(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Show what the store holds: rows per entity, open quarantine by reason, last ingests.

    Example: `factorybrain status --db plant.duckdb`
    """
    with _open(db, read_only=True) as store:
        counts = store.counts()
        quarantine = store.quarantine_summary()
        history = store.ingest_history(20)
        extra = _status_extras(store)
    if as_json:
        print(
            json.dumps(
                {
                    "counts": counts,
                    "quarantine": quarantine.to_dict(orient="records"),
                    "ingests": history.to_dict(orient="records"),
                    **extra,
                },
                default=str,
                indent=2,
            )
        )
        return
    table = Table(title="factory model", title_justify="left")
    table.add_column("entity")
    table.add_column("rows", justify="right")
    for name, count in counts.items():
        if count:
            table.add_row(name, f"{count:,}")
    console.print(table)
    if len(quarantine):
        quarantine = quarantine.assign(
            source_file=quarantine["source_file"].map(lambda p: Path(p).name)
        )
        console.print(_frame_table(quarantine, "open quarantine by reason"))
    else:
        console.print("quarantine: empty")
    for key, frame in extra.items():
        if hasattr(frame, "columns") and len(frame):
            console.print(_frame_table(frame, key.replace("_", " ")))
    if len(history):
        shown = history.assign(
            started=history["started_at"].dt.strftime("%Y-%m-%d %H:%M"),
            file=history["source_file"].map(lambda p: Path(p).name),
        )
        columns = [
            "started",
            "file",
            "entity_type",
            "rows_read",
            "inserted",
            "updated",
            "unchanged",
            "quarantined",
            "seconds",
            "status",
        ]
        console.print(_frame_table(shown[columns], "last ingests"))


def _status_extras(store: Any) -> dict[str, Any]:
    """Sections other layers add to ``status`` (unresolved links, open findings...)."""
    from factorybrain import _status

    return _status.collect(store)


# -- query -------------------------------------------------------------------------------------
@app.command()
@friendly_errors
def query(
    sql: Annotated[str, typer.Argument(help="One read-only SQL statement.")],
    db: DbOption = None,
    output: Annotated[str, typer.Option("--format", "-f", help="table, csv or json.")] = "table",
    limit: Annotated[int, typer.Option(help="Rows to show in a table.")] = 100,
) -> None:
    """Run a read-only SQL query against the factory model.

    Example: `factorybrain query "SELECT level, count(*) FROM asset GROUP BY level"`
    """
    if output not in ("table", "csv", "json"):
        raise typer.BadParameter(f"expected table, csv or json, found {output!r}")
    with _open(db, read_only=True) as store:
        frame = store.query(sql)
    if output == "csv":
        frame.to_csv(sys.stdout, index=False)
    elif output == "json":
        print(frame.to_json(orient="records", date_format="iso"))
    else:
        console.print(_frame_table(frame.head(limit)))
        if len(frame) > limit:
            console.print(f"... {len(frame) - limit:,} more rows (use --limit or --format csv)")


# -- model -------------------------------------------------------------------------------------
@app.command()
def model(
    entity: Annotated[str | None, typer.Argument(help="One entity type to show.")] = None,
    output: Annotated[
        str, typer.Option("--format", "-f", help="table, markdown or json.")
    ] = "table",
) -> None:
    """Show the factory model: entity types, their fields and relations.

    Example: `factorybrain model work_order` or `factorybrain model --format markdown`
    """
    from factorybrain.model import ENTITY_TYPES, entity_type, reference_markdown

    if output == "markdown":
        sys.stdout.write(reference_markdown())
        return
    try:
        chosen = [entity_type(entity)] if entity else list(ENTITY_TYPES)
    except KeyError as error:
        errors.print(f"[red]error:[/red] {error.args[0]}", highlight=False)
        raise typer.Exit(1) from None
    if output == "json":
        print(
            json.dumps(
                [
                    {
                        "name": e.name,
                        "group": e.group,
                        "description": e.description,
                        "fields": [
                            {
                                "name": f.name,
                                "type": f.type,
                                "required": f.required,
                                "ref": f.ref,
                                "unit": f.unit,
                                "values": f.values,
                                "description": f.description,
                            }
                            for f in e.all_fields
                        ],
                    }
                    for e in chosen
                ],
                indent=2,
            )
        )
        return
    for e in chosen:
        table = Table(title=f"{e.name} ({e.group}): {e.description}", title_justify="left")
        for column in ("field", "type", "required", "relation / unit / values"):
            table.add_column(column, overflow="fold")
        for f in e.fields if entity is None else e.all_fields:
            note = f"-> {f.ref}" if f.ref else f.unit or (", ".join(f.values) if f.values else "")
            table.add_row(f.name, f.type, "yes" if f.required else "", note)
        console.print(table)


# -- version -----------------------------------------------------------------------------------
@app.command()
def version() -> None:
    """Print the version.

    Example: `factorybrain version`
    """
    from factorybrain import __version__

    print(__version__)


def main() -> None:
    """Entry point for ``python -m factorybrain``."""
    app()


# Commands of other layers register themselves here, like plugins would.
from factorybrain import (  # noqa: E402,F401
    _agent_commands,
    _commands,
    _context_commands,
    _logistics_commands,
    _planning_commands,
    _stream_commands,
)
