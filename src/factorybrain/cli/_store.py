"""Commands of the store: ``init``, ``ingest``, ``load``, ``status``, ``query``, ``model``...

Creating the store, loading exports into it through their mappings, looking at what it holds
(``status`` includes the references no record resolves) and at the model, and ``version``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import Progress, TaskID
from rich.table import Table

from factorybrain.cli._common import (
    DbOption,
    JsonOption,
    TokenOption,
    audit_ingests,
    caller,
    choices_metavar,
    console,
    errors,
    frame_table,
    friendly_errors,
    load_with_progress,
    one_of,
    open_db,
    print_error,
    row_progress,
    working,
)
from factorybrain.cli._remote import ApiClient, ApiOption, ApiRequestError
from factorybrain.exceptions import FactorybrainError
from factorybrain.secrets import redact

if TYPE_CHECKING:
    from factorybrain.connectors import IngestReport
    from factorybrain.store import Store

app = typer.Typer()

#: What ``query --format`` and ``model --format`` print.
QUERY_FORMATS = ("table", "csv", "json")
MODEL_FORMATS = ("table", "markdown", "json")


# -- init --------------------------------------------------------------------------------------
@app.command()
@friendly_errors
def init(db: DbOption = None) -> None:
    """Create the factory store, or bring its schema up to date.

    Example: `factorybrain init --db plant.duckdb`
    """
    with open_db(db, migrate=True) as store:
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
    mapping: Annotated[
        Path,
        typer.Option("--mapping", "-m", help="Mapping file (YAML).", exists=True, dir_okay=False),
    ],
    db: DbOption = None,
    as_json: JsonOption = False,
    token: TokenOption = None,
    api: ApiOption = None,
) -> None:
    """Load files into the factory model through a mapping; each file is one transaction.

    Rejected rows go to quarantine with their reason; loading the same file again changes
    nothing. Prints the report of each file. `${VARIABLE}` in a database URL is read from the
    environment (keep passwords out of command lines). With `--api`, each file and the mapping
    are uploaded to that server, which loads them in the token holder's name (an engineer or
    higher); database URLs are read only by a command that opens the store itself.

    Example: `factorybrain ingest exports/machines.csv --mapping mappings/machines.yaml`
    """
    from factorybrain.connectors import ingest as ingest_file
    from factorybrain.connectors import load_mapping

    parsed = load_mapping(mapping)
    if api:
        _ingest_through(api, token, sources, mapping, as_json=as_json)
        return
    reports = []
    failed = False
    with open_db(db, migrate=True) as store:
        actor = caller(store, token).actor
        for source in sources:
            with row_progress(quiet=as_json) as progress:
                label = "database" if "://" in source else Path(source).name
                task = progress.add_task(f"ingest {label}", total=None)
                try:
                    report = ingest_file(
                        store,
                        source,
                        parsed,
                        progress=functools.partial(_advance, progress, task),
                        actor=actor,
                    )
                except FactorybrainError as error:
                    print_error(error)
                    failed = True
                    continue
            audit_ingests(store, actor, [report])
            reports.append(report)
            if not as_json:
                _print_report(report)
    if as_json:
        print(json.dumps([r.as_dict() for r in reports], default=str, indent=2))
    if failed:
        raise typer.Exit(1)


def _ingest_through(
    api: str, token: str | None, sources: list[str], mapping: Path, *, as_json: bool
) -> None:
    """Upload each file with the mapping to the server at ``api``; print the reports."""
    from factorybrain.connectors import IngestReport

    databases = [source for source in sources if "://" in source]
    if databases:
        raise ApiRequestError(
            f"--api uploads files; {redact(databases[0])} is a database, which only a command "
            "that opens the store itself reads (run it where no server holds the store)"
        )
    known = {field.name for field in dataclasses.fields(IngestReport)}
    reports, failed = [], False
    with ApiClient(api, token) as client:
        for source in sources:
            try:
                found = client.upload("/ingest", {"file": Path(source), "mapping": mapping})
            except (FactorybrainError, OSError) as error:
                print_error(f"{source}: {error}")
                failed = True
                continue
            reports.append(found)
            if not as_json:
                _print_report(IngestReport(**{k: v for k, v in found.items() if k in known}))
    if as_json:
        print(json.dumps(reports, default=str, indent=2))
    if failed:
        raise typer.Exit(1)


def _advance(progress: Progress, task: TaskID, rows: int) -> None:
    progress.update(task, completed=rows)


def _print_report(report: IngestReport) -> None:
    """One line of counts that add up to the rows read, then one line per distinct reason."""
    records = (
        f" (from {report.records_read:,} records)"
        if report.records_read and report.records_read != report.rows_read
        else ""
    )
    counts = [
        ("inserted", report.inserted),
        ("updated", report.updated),
        ("unchanged", report.unchanged),
        ("merged", report.merged),
        ("filtered", report.filtered),
        ("quarantined", report.quarantined),
    ]
    shown = ", ".join(f"{label} {count:,}" for label, count in counts if count or label != "merged")
    console.print(
        f"[bold]{report.source_file}[/bold] -> {report.entity_type}: read "
        f"{report.rows_read:,}{records} = {shown} in {report.seconds:.2f} s",
        highlight=False,
    )
    for reason, count in sorted(report.filtered_by_reason.items(), key=lambda kv: -kv[1]):
        console.print(f"  filtered {count:,}: {reason}", highlight=False, style="dim")
    for reason, count in sorted(report.quarantine_by_reason.items(), key=lambda kv: -kv[1]):
        console.print(f"  quarantined {count:,}: {reason}", highlight=False, style="yellow")


@app.command()
@friendly_errors
def load(
    manifest: Annotated[
        Path,
        typer.Argument(
            help="Plant manifest listing files and mappings.", exists=True, dir_okay=False
        ),
    ],
    exports: Annotated[
        Path | None,
        typer.Option(
            help="Folder the manifest's files are in (default: the manifest's).",
            exists=True,
            file_okay=False,
        ),
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
    token: TokenOption = None,
) -> None:
    """Load every export of a plant, as its manifest lists them (file and mapping per source).

    A manifest may include others, each a site's, whose files load into the site's own spaces
    (`include: [{manifest: plant.yaml, site: hamburg, exports: hamburg}]`; docs/mappings.md).

    Example: `factorybrain load exports/plant.yaml --db plant.duckdb` or
    `factorybrain load fleet/fleet.yaml --db fleet.duckdb`
    """
    with open_db(db, migrate=True) as store:
        actor = caller(store, token).actor
        result = load_with_progress(store, manifest, root=exports, quiet=as_json, actor=actor)
    if as_json:
        print(
            json.dumps(
                {
                    "reports": [r.as_dict() for r in result.reports],
                    "failures": [[redact(str(f)), redact(m)] for f, m in result.failures],
                },
                default=str,
                indent=2,
            )
        )
    else:
        for report in result.reports:
            _print_report(report)
        for _path, message in result.failures:
            print_error(message)
    if result.failures:
        raise typer.Exit(1)


# -- status ------------------------------------------------------------------------------------
@app.command()
@friendly_errors
def status(
    db: DbOption = None,
    as_json: JsonOption = False,
    api: ApiOption = None,
    token: TokenOption = None,
) -> None:
    """Show what the store holds: rows per entity, open quarantine by reason, last ingests.

    With `--api URL` it asks the server that holds the store (`GET /api/v1/store`).

    Example: `factorybrain status --db plant.duckdb`
    """
    if api:
        counts, quarantine, history, extra = _status_through(api, token)
    else:
        with open_db(db, read_only=True) as store, working("reading the store", quiet=as_json):
            counts = store.counts()
            quarantine = store.quarantine_summary()
            history = store.ingest_history(20)
            extra = _unresolved_section(store)
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
        console.print(
            frame_table(quarantine, "open quarantine: one line per distinct problem per file")
        )
    else:
        console.print("quarantine: empty")
    for key, frame in extra.items():
        if len(frame):
            console.print(frame_table(frame, key.replace("_", " ")))
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
            "merged",
            "filtered",
            "quarantined",
            "seconds",
            "status",
        ]
        # Reports from before merged and filtered were counted apart have neither: blank.
        shown = shown[columns].astype(object).where(shown[columns].notna(), None)
        console.print(frame_table(shown, "last ingests"))


def _status_through(api: str, token: str | None) -> tuple[dict[str, int], Any, Any, dict[str, Any]]:
    """What ``status`` shows, as the server at ``api`` answers it, in the same frames."""
    import pandas as pd

    with ApiClient(api, token) as client:
        found = client.get("/store")
    quarantine = pd.DataFrame(found.get("quarantine", []))
    history = pd.DataFrame(found.get("ingests", []))
    if "started_at" in history:
        history["started_at"] = pd.to_datetime(history["started_at"])
    extra = {
        key: pd.DataFrame(rows)
        for key, rows in found.items()
        if key not in ("counts", "quarantine", "ingests")
    }
    return dict(found.get("counts", {})), quarantine, history, extra


def _unresolved_section(store: Store) -> dict[str, Any]:
    """The section ``status`` shows after the quarantine: references nothing resolves.

    Empty for a store without the tables the check reads.
    """
    from factorybrain.context import unresolved_references
    from factorybrain.exceptions import StoreError

    try:
        frame = unresolved_references(store)
    except StoreError:  # a store without the tables has nothing to report
        return {}
    return {"unresolved references": frame}


# -- query -------------------------------------------------------------------------------------
@app.command()
@friendly_errors
def query(
    sql: Annotated[str, typer.Argument(help="One read-only SQL statement.")],
    db: DbOption = None,
    output: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            callback=one_of(*QUERY_FORMATS),
            metavar=choices_metavar(*QUERY_FORMATS),
            help="table, csv or json.",
        ),
    ] = "table",
    limit: Annotated[int, typer.Option(help="Rows to show in a table.", min=1)] = 100,
) -> None:
    """Run a read-only SQL query against the factory model.

    Example: `factorybrain query "SELECT level, count(*) FROM asset GROUP BY level"`
    """
    with open_db(db, read_only=True) as store:
        frame = store.query(sql)
    if output == "csv":
        frame.to_csv(sys.stdout, index=False)
    elif output == "json":
        print(frame.to_json(orient="records", date_format="iso"))
    else:
        console.print(frame_table(frame.head(limit)))
        if len(frame) > limit:
            console.print(f"... {len(frame) - limit:,} more rows (use --limit or --format csv)")


# -- model -------------------------------------------------------------------------------------
@app.command()
def model(
    entity: Annotated[str | None, typer.Argument(help="One entity type to show.")] = None,
    output: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            callback=one_of(*MODEL_FORMATS),
            metavar=choices_metavar(*MODEL_FORMATS),
            help="table, markdown or json.",
        ),
    ] = "table",
) -> None:
    """Show the factory model: entity types, their fields and relations.

    The model is the schema this version of factorybrain defines, the same for every store, so
    the command reads no store (and has no `--db`).

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


# -- mappings ----------------------------------------------------------------------------------
mappings_app = typer.Typer(
    name="mappings",
    help="Mappings: propose one for an export from its header and values (the connector "
    "packs' mapping where its header is one they know).\n\n"
    "Example: `factorybrain mappings suggest exports/MARA.csv`",
    no_args_is_help=True,
)
app.add_typer(mappings_app, name="mappings")


@mappings_app.command("suggest")
@friendly_errors
def mappings_suggest(
    file: Annotated[
        Path,
        typer.Argument(
            help="The export to map (CSV, JSON lines, Excel...).", exists=True, dir_okay=False
        ),
    ],
    sheet: Annotated[
        str | None, typer.Option(help="Excel: the sheet to map (default: the first).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the YAML here instead of printing.")
    ] = None,
) -> None:
    """Propose a mapping for a file from its header, values and formats, for you to edit.

    A header that a connector pack knows (SAP tables such as MARA or AFRU, PI archive and point
    exports, MES events) gets that pack's mapping, fitted to the file's encoding, separator and
    title lines; any other file gets a draft from known field names, the model's fields and the
    values (dates, decimal commas, offsets), with what it could not decide left as comments.

    Example: `factorybrain mappings suggest exports/MARA.csv -o mappings/materials.yaml`
    """
    from factorybrain.connectors import suggest_mapping

    suggestion = suggest_mapping(file, sheet=sheet)
    if out is None:
        print(suggestion.yaml, end="")
        return
    out.write_text(suggestion.yaml, encoding="utf-8")
    source = (
        "pack " + ", ".join(f"{m.pack}/{m.name}" for m in suggestion.matched)
        if suggestion.matched
        else "a draft"
    )
    console.print(f"wrote {out} ({source}); check it, then `factorybrain ingest {file} -m {out}`")
