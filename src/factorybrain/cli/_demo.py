"""Commands that use the whole platform at once: ``simulate``, ``demo`` and ``ask``.

``simulate`` writes a pump plant's silo exports, ``demo`` loads them and runs every capability
on them, and ``ask`` answers a question from the factory model.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from factorybrain.cli._common import (
    DbOption,
    JsonOption,
    RayOption,
    TokenOption,
    audit_ingests,
    caller,
    choices_metavar,
    console,
    errors,
    friendly_errors,
    load_with_progress,
    one_of,
    open_db,
    row_progress,
    serve_until_stopped,
    use_ray,
    working,
)
from factorybrain.cli._remote import ApiClient, ApiOption
from factorybrain.secrets import redact

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from factorybrain.connectors import FileShape, PackLoad, PackMapping, PlantLoad
    from factorybrain.scoring import Score
    from factorybrain.simulate import PlantSummary
    from factorybrain.store import DuckDBStore

#: The small example plant's manifest (exports and mappings shipped with the package).
EXAMPLE_MANIFEST = Path(__file__).parents[1] / "examples" / "small_plant" / "plant.yaml"

app = typer.Typer()

Days = Annotated[int, typer.Option(help="Days of history to simulate.", min=1)]
Machines = Annotated[int, typer.Option(help="Machines (4 per line).", min=1)]
Seed = Annotated[int, typer.Option(help="Random seed; the same seed gives the same files.")]
#: The plants ``simulate`` and ``demo`` can make (as :data:`factorybrain.simulate.PROFILES`).
PROFILES = ("pumps", "sap-pi")
#: The demo's store, made afresh each run: never ``$FACTORYBRAIN_DB``, which may be a real plant.
DemoDbOption = Annotated[
    Path,
    typer.Option(
        "--db",
        help="Store file the demo creates; replaced if it exists, so never $FACTORYBRAIN_DB.",
    ),
]


def _simulate_with_progress(
    out: Path,
    days: int,
    machines: int,
    seed: int,
    sample_seconds: int | None,
    profile: str = "pumps",
    sites: int = 1,
) -> PlantSummary:
    from factorybrain import demo

    with Progress(
        TextColumn("[bold]simulate[/bold] {task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
        disable=not errors.is_terminal,
    ) as progress:
        task = progress.add_task("plant", total=1.0)

        def report(stage: str, fraction: float) -> None:
            progress.update(task, description=stage, completed=fraction)

        return demo.simulate(
            out,
            days=days,
            machines=machines,
            seed=seed,
            sample_seconds=sample_seconds,
            progress=report,
            profile=profile,
            sites=sites,
        )


@app.command()
@friendly_errors
def simulate(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the exports to.")],
    days: Days = 180,
    machines: Annotated[
        int, typer.Option(help="Machines (4 per line); with --sites, per site.", min=1)
    ] = 12,
    seed: Seed = 7,
    sample_seconds: Annotated[
        int | None,
        typer.Option(
            help="Historian sample period in seconds (default: 60 for pumps, 900 for sap-pi).",
            min=1,
        ),
    ] = None,
    profile: Annotated[
        str,
        typer.Option(
            callback=one_of(*PROFILES),
            metavar=choices_metavar(*PROFILES),
            help="Which plant: pumps (docs/demo-factory.md) or sap-pi, a gear plant exported "
            "as SAP, PI, a JSON-lines MES and Salesforce write them (docs/demo-plant-2.md).",
        ),
    ] = "pumps",
    sites: Annotated[
        int,
        typer.Option(
            help="Pump plants of one company (1 to 99): more than 1 writes OUT/site-01 ... "
            "OUT/site-NN, each with its own seed, truth.json and site codes in its "
            "identifiers, and OUT/fleet.yaml, which `factorybrain load` takes.",
            min=1,
            max=99,
        ),
    ] = 1,
) -> None:
    """Simulate a plant's silo exports and the truth behind them.

    Writes ERP, MES, historian, QMS, CRM (and for the pump plant WMS and engineering) exports
    and `truth.json`, the same for the same seed, streamed to disk in bounded memory. With
    `--sites N` it writes N pump plants of one company and the manifest that loads every site
    into its own spaces (site-01/erp, site-01/mes, ...; docs/demo-factory.md).

    Example: `factorybrain simulate --out plant --days 30 --machines 8 --seed 3`
    or `factorybrain simulate --out gears --profile sap-pi`
    or `factorybrain simulate --out fleet --sites 3 --machines 8 && factorybrain load
    fleet/fleet.yaml --db fleet.duckdb`
    """
    summary = _simulate_with_progress(out, days, machines, seed, sample_seconds, profile, sites)
    where = f"{summary.sites} sites in {out}" if summary.sites > 1 else str(out)
    console.print(
        f"wrote {len(summary.files)} files to {where}: {summary.datapoints:,} datapoints, "
        f"{summary.serials:,} serials, {summary.work_orders:,} work orders, "
        f"{summary.failures} failures, {summary.claims} claims "
        f"in {summary.seconds:.1f} s",
        highlight=False,
    )
    if summary.sites > 1:
        console.print(
            f"load every site into its own spaces: factorybrain load {out / 'fleet.yaml'}",
            highlight=False,
        )


@app.command()
@friendly_errors
def demo(
    db: DemoDbOption = Path("demo.duckdb"),
    out: Annotated[Path, typer.Option("--out", help="Where to write the plant's exports.")] = Path(
        "demo-plant"
    ),
    days: Days = 180,
    machines: Machines = 12,
    seed: Seed = 7,
    serve: Annotated[
        bool | None,
        typer.Option(
            "--serve/--no-serve",
            help="Serve the dashboard afterwards (default: when a terminal is attached).",
        ),
    ] = None,
    score: Annotated[
        bool, typer.Option("--score", help="Print precision and recall against the truth.")
    ] = False,
    profile: Annotated[
        str,
        typer.Option(
            callback=one_of(*PROFILES),
            metavar=choices_metavar(*PROFILES),
            help="Which plant: pumps (loaded through its mappings) or sap-pi (SAP, PI and MES "
            "exports loaded through the shipped connector packs, no mapping of its own).",
        ),
    ] = "pumps",
    ray: RayOption = None,
) -> None:
    """Run the whole platform on a simulated plant and print what it found.

    Simulates the silos' exports, loads every file into a fresh store (the pump plant through
    its mappings, the sap-pi plant through the connector packs, matched by each file's header),
    runs every capability, and with `--score` compares what was found with the plant's truth.

    Example: `factorybrain demo --no-serve --score` or
    `factorybrain demo --profile sap-pi --no-serve --score`; with `--ray local` the heavy work
    runs on a Ray instance started for the demo (the same findings).
    """
    from factorybrain import demo as demo_module

    use_ray(ray)
    by_packs = profile in demo_module.PACK_PROFILES
    store_path = demo_module.fresh_store_path(db)
    started = time.perf_counter()
    summary = _simulate_with_progress(
        demo_module.fresh_exports(out), days, machines, seed, None if by_packs else 60, profile
    )
    simulated = time.perf_counter() - started
    truth = demo_module.load_truth(out)
    plant_name = truth.get("plant", {}).get("name") or "Hanse Pumpenwerk"
    console.print(
        f"[bold]simulated[/bold] {plant_name}, {days} days, {machines} machines "
        f"(seed {seed}) into {out}/ in {simulated:.1f} s",
        highlight=False,
    )
    with open_db(store_path, migrate=True) as store:
        started = time.perf_counter()
        actor = caller(store, None).actor
        result: PlantLoad | PackLoad
        if by_packs:
            result = _load_packs_with_progress(store, out, truth, actor)
        else:
            result = load_with_progress(store, demo_module.DEMO_MANIFEST, root=out, actor=actor)
        loaded = time.perf_counter() - started
        _print_load(result, loaded, store_path)
        run = demo_module.DemoRun(out, store_path, simulated, loaded, result)
        with working("running every capability on the plant (a few minutes)"):
            demo_module.run_stages(store, truth, run)
        for name, seconds in run.stage_seconds.items():
            if name in run.failures:
                console.print(
                    f"[bold red]{name} failed[/bold red] ({seconds:.1f} s): "
                    f"{redact(run.failures[name])}",
                    highlight=False,
                )
                continue
            console.print(
                f"[bold]{name}[/bold] ({seconds:.1f} s): "
                + ", ".join(f"{k} {v}" for k, v in run.stages[name].items()),
                highlight=False,
            )
            for message in run.warnings.get(name, [])[:5]:
                console.print(f"  [yellow]warning[/yellow] {redact(message)}", highlight=False)
        if score:
            with working("scoring against the truth"):
                scores = demo_module.score(store, truth)
            _print_scores(scores)
    del summary
    if result.failures or run.failures:
        raise typer.Exit(1)
    if serve is None:
        serve = sys.stdin.isatty() and sys.stdout.isatty() and "CI" not in os.environ
    if serve:
        _serve_dashboard(store_path)


@app.command()
@friendly_errors
def ask(
    question: Annotated[str, typer.Argument(help="The question, in plain language.")],
    db: DbOption = None,
    as_json: JsonOption = False,
    api: ApiOption = None,
    token: TokenOption = None,
) -> None:
    """Ask the factory model a question; the answer cites the entities and numbers it used.

    Uses the language model at `$FACTORYBRAIN_LLM_URL` when one is configured, else the
    built-in router, in English, German or Chinese: OEE and its losses by line, machine or
    period ("OEE last week by line", "why is line 2 slow?"), the status of a machine by any
    silo's name for it, which machines will fail, late orders and why, spare parts to order,
    the suppliers and lots behind claims, traces, findings and what-ifs. Periods count from
    the latest data; a question it cannot answer is answered "out of scope". With `--api URL`
    the server that holds the store answers (`POST /api/v1/ask`), with its language model.

    Example: `factorybrain ask "which machines will fail this month?"`
    """
    import json

    from factorybrain.ask import Answer
    from factorybrain.ask import ask as answer_question

    if api:
        with ApiClient(api, token) as client:
            found = client.post("/ask", {"question": question})
        answer = Answer(**{k: v for k, v in found.items() if k in Answer.__dataclass_fields__})
    else:
        with open_db(db, read_only=True) as store, working("answering", quiet=as_json):
            answer = answer_question(store, question)
    if as_json:
        print(json.dumps(answer.as_dict(), default=str, indent=2))
        return
    console.print(answer.answer, highlight=False)
    if answer.citations:
        cited = ", ".join(f"{c['type']} {c['external_id']}" for c in answer.citations[:12])
        console.print(f"[dim]sources: {cited}[/dim]", highlight=False)
    if answer.note:
        console.print(f"[yellow]{answer.note}[/yellow]", highlight=False)


def _load_packs_with_progress(
    store: DuckDBStore, out: Path, truth: dict[str, Any], actor: str
) -> PackLoad:
    """Load a folder of exports through the connector packs, one progress bar per load."""
    from factorybrain import demo as demo_module

    with row_progress(quiet=False) as progress:

        def on_file(shape: FileShape, mapping: PackMapping) -> Callable[[int], None]:
            task = progress.add_task(f"ingest {shape.path.name} ({mapping.name})", total=None)
            return lambda rows: progress.update(task, completed=rows)

        result: PackLoad = demo_module.load_through_packs(
            store, out, truth, on_file=on_file, actor=actor
        )
    audit_ingests(store, actor, result.reports)
    return result


def _print_load(result: PlantLoad | PackLoad, seconds: float, store_path: Path) -> None:
    reports = result.reports
    read = sum(r.rows_read for r in reports)
    quarantined = sum(r.quarantined for r in reports)
    skipped = sum(r.skipped for r in reports)
    console.print(
        f"[bold]loaded[/bold] {len(reports)} files, {read:,} rows into {store_path} in "
        f"{seconds:.1f} s: {read - quarantined - skipped:,} loaded, {quarantined:,} quarantined, "
        f"{skipped:,} skipped as declared by their mappings",
        highlight=False,
    )
    reasons: dict[str, int] = {}
    for report in reports:
        for reason, count in report.quarantine_by_reason.items():
            key = f"{Path(report.source_file).name} ({report.entity_type}): {reason}"
            reasons[key] = reasons.get(key, 0) + count
    for key, count in sorted(reasons.items(), key=lambda kv: -kv[1]):
        console.print(f"  quarantined {count:>6,}  {key}", highlight=False, style="yellow")
    for file, message in result.failures:
        console.print(f"  [red]failed[/red] {redact(f'{file}: {message}')}", highlight=False)
    for _, why in getattr(result, "unmatched", []):
        console.print(f"  [yellow]not loaded[/yellow] {redact(why)}", highlight=False)


def _print_scores(scores: list[Score]) -> None:
    table = Table(title="score against truth.json", title_justify="left")
    for column in ("kind", "expected", "found", "correct", "precision", "recall", "note"):
        table.add_column(column, overflow="fold")
    for row in scores:
        table.add_row(
            row.kind,
            str(row.expected),
            str(row.found),
            str(row.correct),
            f"{row.precision:.3f}",
            f"{row.recall:.3f}",
            row.note,
        )
    console.print(table)


def _serve_dashboard(store_path: Path, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the API and the dashboard over the demo store, signed in as a demo planner."""
    from datetime import timedelta

    from factorybrain.agents import installed_orchestrator
    from factorybrain.api import TokenStore
    from factorybrain.store import DuckDBStore

    store = DuckDBStore(store_path)
    tokens = TokenStore(store)
    token = tokens.create(
        "demo-planner", "planner", expires_in=timedelta(days=1), created_by="demo"
    )

    def announce(_: bool) -> None:
        console.print(
            f"[bold]dashboard[/bold]: http://{host}:{port}/?token={token} (Ctrl+C to stop; "
            "the link signs you in as a planner for a day: the page trades it for a session "
            "and drops it from the address)",
            highlight=False,
        )

    serve_until_stopped(
        store,
        host=host,
        port=port,
        tokens=tokens,
        orchestrator=installed_orchestrator(store, with_agents=False),
        announce=announce,
        require_dashboard=True,
    )
