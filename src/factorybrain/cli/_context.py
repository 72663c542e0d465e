"""Commands of contextualization: ``factorybrain match ...`` and ``factorybrain trace ...``.

Matching the silos' identifiers to the model's entities and reviewing the links, and following
the genealogy of lots, serials, machines, shipments and claims.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from factorybrain.cli._common import (
    DbOption,
    JsonOption,
    RayOption,
    TokenOption,
    choices_metavar,
    console,
    friendly_errors,
    one_of,
    open_db,
    parse_moment,
    use_ray,
    working,
)
from factorybrain.cli._remote import ApiClient, ApiOption

if TYPE_CHECKING:
    from factorybrain.context import Trace

app = typer.Typer()

#: The statuses of a link (an annotation) between a silo's identifier and an entity.
LINK_STATUSES = ("suggested", "approved", "rejected")
match_app = typer.Typer(
    no_args_is_help=True,
    help="Match identifiers across silos and review the links.\n\n"
    "Example: `factorybrain match run`",
)
trace_app = typer.Typer(
    no_args_is_help=True,
    help="Follow the genealogy: lots, serials, machines, shipments, claims.\n\n"
    "Example: `factorybrain trace forward PB-25040-4`",
)
app.add_typer(match_app, name="match")
app.add_typer(trace_app, name="trace")


def _print_frame(frame: Any, title: str | None = None, limit: int = 50) -> None:
    table = Table(title=title, title_justify="left")
    for column in frame.columns:
        table.add_column(str(column), overflow="fold")
    for row in frame.head(limit).itertuples(index=False):
        table.add_row(*["" if v is None else str(v) for v in row])
    console.print(table)
    if len(frame) > limit:
        console.print(f"... {len(frame) - limit} more rows (use --json for all)")


@match_app.command("run")
@friendly_errors
def match_run(
    db: DbOption = None,
    threshold: Annotated[
        float,
        typer.Option(help="Confidence at which a clear best match is approved.", min=0, max=1),
    ] = 0.7,
    margin: Annotated[
        float, typer.Option(help="Log-odds lead over the runner-up needed to approve.", min=0)
    ] = 2.0,
    ray: RayOption = None,
) -> None:
    """Propose links from every silo's identifiers to the model's entities.

    Example: `factorybrain match run --threshold 0.95`, or on a Ray cluster:
    `factorybrain match run --ray 10.0.0.5:6379`
    """
    from factorybrain.context import link_claim_serials, match, refresh_serial_index

    use_ray(ray)

    with open_db(db) as store:
        with working("matching identifiers across silos"):
            run = match(store, threshold=threshold, margin=margin)
        with working("linking claims to serials"):
            serials = link_claim_serials(store)
            refresh_serial_index(store)
    summary = run.summary()
    console.print(
        f"approved {summary['approved']}, suggested {summary['suggested']}, "
        f"ambiguous {summary['ambiguous']}; claim serials linked {serials}"
    )


@match_app.command("list")
@friendly_errors
def match_list(
    db: DbOption = None,
    status: Annotated[
        str,
        typer.Option(
            callback=one_of(*LINK_STATUSES),
            metavar=choices_metavar(*LINK_STATUSES),
            help="suggested, approved or rejected.",
        ),
    ] = "suggested",
    min_confidence: Annotated[
        float, typer.Option(help="Leave out links below this.", min=0, max=1)
    ] = 0.0,
    limit: Annotated[int, typer.Option(help="At most this many rows.", min=1)] = 50,
    as_json: JsonOption = False,
) -> None:
    """List links by confidence, most confident first.

    Example: `factorybrain match list --status suggested --min-confidence 0.5`
    """
    from factorybrain.context import list_annotations

    with open_db(db, read_only=True) as store:
        frame = list_annotations(store, status=status, min_confidence=min_confidence, limit=limit)
    if as_json:
        console.print_json(frame.to_json(orient="records"))
    else:
        _print_frame(frame, f"{status} links", limit)


def _review(db: str | Path | None, ids: list[str], reviewer: str, approve_links: bool) -> None:
    from factorybrain.context import approve, reject

    with open_db(db) as store:
        result = (approve if approve_links else reject)(store, ids, reviewer=reviewer)
    verb = "approved" if approve_links else "rejected"
    console.print(f"{verb} {len(result.updated)}, unchanged {len(result.unchanged)}")
    if result.unknown:
        console.print(f"[red]unknown ids:[/red] {', '.join(result.unknown)}")
        raise typer.Exit(1)


ReviewerOption = Annotated[str, typer.Option("--by", help="Who reviews.")]


@match_app.command("approve")
@friendly_errors
def match_approve(
    ids: Annotated[list[str], typer.Argument(help="Link ids (from 'match list').")],
    db: DbOption = None,
    by: ReviewerOption = "reviewer",
) -> None:
    """Approve links; approvals train the matcher on its next run.

    Example: `factorybrain match approve ann-1731b69f2a558806 --by ann`
    """
    _review(db, ids, by, True)


@match_app.command("reject")
@friendly_errors
def match_reject(
    ids: Annotated[list[str], typer.Argument(help="Link ids (from 'match list').")],
    db: DbOption = None,
    by: ReviewerOption = "reviewer",
) -> None:
    """Reject links; a rejected pair is never suggested again.

    Example: `factorybrain match reject ann-1731b69f2a558806 --by ann`
    """
    _review(db, ids, by, False)


@match_app.command("export")
@friendly_errors
def match_export(
    file: Annotated[Path, typer.Argument(help="CSV file to write.")],
    db: DbOption = None,
    status: Annotated[
        str | None,
        typer.Option(
            callback=one_of(*LINK_STATUSES),
            metavar=choices_metavar(*LINK_STATUSES),
            help="Only links in this status: suggested, approved or rejected.",
        ),
    ] = None,
) -> None:
    """Write links to a CSV review sheet; edit the status column and import it.

    Example: `factorybrain match export review.csv --status suggested`
    """
    from factorybrain.context import export_csv

    with open_db(db, read_only=True) as store:
        count = export_csv(store, file, status=status)
    console.print(f"wrote {count} links to {file}")


@match_app.command("import")
@friendly_errors
def match_import(
    file: Annotated[
        Path, typer.Argument(help="Edited CSV review sheet.", exists=True, dir_okay=False)
    ],
    db: DbOption = None,
    by: ReviewerOption = "reviewer",
) -> None:
    """Apply the approved and rejected rows of a review sheet.

    Example: `factorybrain match import review.csv --by ann`
    """
    from factorybrain.context import import_csv

    with open_db(db) as store:
        counts = import_csv(store, file, reviewer=by)
    console.print(
        f"approved {counts['approved']}, rejected {counts['rejected']}, unknown {counts['unknown']}"
    )


def _trace_through(api: str, token: str | None, direction: str, identifier: str) -> Trace:
    """The trace the server at ``api`` answers (``GET /api/v1/genealogy/...``)."""
    from urllib.parse import quote

    import pandas as pd

    from factorybrain.context import Trace

    with ApiClient(api, token) as client:
        found = client.get(f"/genealogy/{direction}/{quote(identifier, safe='')}")
    tables = {name: pd.DataFrame(rows) for name, rows in found.get("tables", {}).items()}
    return Trace(dict(found.get("subject") or {}), tables, list(found.get("unresolved", [])))


def _print_trace(trace: Trace, as_json: bool) -> None:
    if as_json:
        console.print_json(json.dumps(trace.to_dict(), default=str))
        return
    console.print(trace.subject)
    for name, frame in trace.tables.items():
        _print_frame(frame, name, 25)
    for line in trace.unresolved:
        console.print(f"[yellow]unresolved:[/yellow] {line}")


@trace_app.command("forward")
@friendly_errors
def trace_forward(
    lot: Annotated[str, typer.Argument(help="Lot as any silo writes it.")],
    db: DbOption = None,
    as_json: JsonOption = False,
    api: ApiOption = None,
    token: TokenOption = None,
) -> None:
    """Every serial built with a lot, its shipment, customer and claim.

    With `--api URL` the server that holds the store answers.

    Example: `factorybrain trace forward PB-25040-4`
    """
    from factorybrain.context import forward

    if api:
        _print_trace(_trace_through(api, token, "forward", lot), as_json)
        return
    with open_db(db, read_only=True) as store:
        with working(f"tracing lot {lot}", quiet=as_json):
            trace = forward(store, lot)
        _print_trace(trace, as_json)


@trace_app.command("backward")
@friendly_errors
def trace_backward(
    serial: Annotated[str, typer.Argument(help="Serial, exactly or as typed.")],
    db: DbOption = None,
    as_json: JsonOption = False,
    api: ApiOption = None,
    token: TokenOption = None,
) -> None:
    """A serial's work order, lots, suppliers and the machines' states while they made it.

    With `--api URL` the server that holds the store answers.

    Example: `factorybrain trace backward PU0010002214`
    """
    from factorybrain.context import backward

    if api:
        _print_trace(_trace_through(api, token, "backward", serial), as_json)
        return
    with open_db(db, read_only=True) as store:
        with working(f"tracing serial {serial}", quiet=as_json):
            trace = backward(store, serial)
        _print_trace(trace, as_json)


@trace_app.command("claim")
@friendly_errors
def trace_claim(
    claim: Annotated[str, typer.Argument(help="Warranty claim id.")],
    db: DbOption = None,
    as_json: JsonOption = False,
    api: ApiOption = None,
    token: TokenOption = None,
) -> None:
    """Field failure to supplier batch in one call.

    With `--api URL` the server that holds the store answers.

    Example: `factorybrain trace claim WC-000001`
    """
    from factorybrain.context import claim_chain

    if api:
        _print_trace(_trace_through(api, token, "claim", claim), as_json)
        return
    with open_db(db, read_only=True) as store:
        with working(f"tracing claim {claim}", quiet=as_json):
            trace = claim_chain(store, claim)
        _print_trace(trace, as_json)


@trace_app.command("recall")
@friendly_errors
def trace_recall(
    db: DbOption = None,
    lot: Annotated[str | None, typer.Option(help="Suspect lot.")] = None,
    machine: Annotated[str | None, typer.Option(help="Suspect machine.")] = None,
    start: Annotated[
        datetime | None,
        typer.Option(
            parser=parse_moment,
            metavar="TIME",
            help="Machine window start: ISO time, UTC unless it has an offset.",
        ),
    ] = None,
    end: Annotated[
        datetime | None,
        typer.Option(parser=parse_moment, metavar="TIME", help="Machine window end, as --start."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Affected serials of a suspect lot or machine window, and where they are now.

    Example: `factorybrain trace recall --lot PB-25040-4`
    """
    if lot is None and (machine is None or start is None or end is None):
        raise typer.BadParameter(
            "expected --lot, or --machine with --start and --end; found "
            + (f"--machine {machine} without its window" if machine else "neither"),
            param_hint="'--lot' / '--machine'",
        )
    if start is not None and end is not None and end <= start:
        raise typer.BadParameter(
            f"expected a window end after its start ({start:%Y-%m-%d %H:%M}); found "
            f"{end:%Y-%m-%d %H:%M}",
            param_hint="'--end'",
        )
    from factorybrain.context import recall_scope

    with (
        open_db(db, read_only=True) as store,
        working("finding the affected serials", quiet=as_json),
    ):
        trace = recall_scope(store, lot=lot, machine=machine, start=start, end=end)
    if as_json:
        _print_trace(trace, True)
    else:
        console.print(trace.subject)
        _print_frame(trace.tables["summary"], "serials by where they are now")
