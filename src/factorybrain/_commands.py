"""Commands that sit on top of the foundation: the demo, the simulator, later the agents."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from factorybrain.cli import DbOption, _open, app, console, friendly_errors, load_with_progress

EXAMPLE_MANIFEST = Path(__file__).parent / "examples" / "small_plant" / "plant.yaml"


@app.command()
@friendly_errors
def demo(
    db: DbOption = None,
    serve: Annotated[
        bool | None,
        typer.Option("--serve/--no-serve", help="Serve the dashboard afterwards (default: when "
                     "a terminal is attached)."),
    ] = None,
    score: Annotated[bool, typer.Option("--score", help="Compare findings with the truth.")] = False,
) -> None:
    """Run the platform end to end on the shipped example plant and print what it holds.

    Creates the store, ingests every export of the plant through its mapping, and prints the
    model summary with the quarantined rows.

    Example: `factorybrain demo --db demo.duckdb --no-serve`
    """

    path = db or Path("demo.duckdb")
    with _open(path, migrate=True) as store:
        console.print(f"[bold]demo plant[/bold]: {EXAMPLE_MANIFEST.parent.name} -> {store.path}")
        result = load_with_progress(store, EXAMPLE_MANIFEST)
        for report in result.reports:
            console.print(
                f"  {Path(report.source_file).name:<22} {report.entity_type:<15} "
                f"read {report.rows_read:>7,}  loaded {report.loaded:>7,}  "
                f"quarantined {report.quarantined:>4,}",
                highlight=False,
            )
        for file, message in result.failures:
            console.print(f"  [red]failed[/red] {file.name}: {message}", highlight=False)
        counts = {k: v for k, v in store.counts().items() if v}
    console.print("model: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()), highlight=False)
    if score:
        console.print("score: no agents are installed yet, so there are no findings to score")
    if result.failures:
        raise typer.Exit(1)
