"""Commands of the planning agent: ``factorybrain plan`` and ``factorybrain oee``."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from factorybrain.cli._common import (
    DbOption,
    JsonOption,
    RayOption,
    TokenOption,
    choices_metavar,
    console,
    frame_table,
    friendly_errors,
    one_of,
    open_db,
    parse_moment,
    use_ray,
    warnings_as_lines,
    working,
)
from factorybrain.cli._remote import ApiClient, ApiOption, ApiRequestError

app = typer.Typer()


#: How OEE can be grouped.
GROUPS = ("machine", "line", "shift")


@app.command()
@friendly_errors
def plan(
    db: DbOption = None,
    gantt: Annotated[
        Path | None, typer.Option("--gantt", help="Write the plan as an SVG Gantt chart here.")
    ] = None,
    time_limit: Annotated[
        float, typer.Option("--time-limit", help="Seconds for the scheduling engine.", min=0.1)
    ] = 10.0,
    workers: Annotated[int, typer.Option(help="CP-SAT worker threads.", min=1)] = 2,
    now: Annotated[
        datetime | None,
        typer.Option(
            parser=parse_moment,
            metavar="TIME",
            help="Origin of the plan: ISO time, UTC unless it has an offset (default: the end "
            "of the recorded states).",
        ),
    ] = None,
    store_it: Annotated[
        bool, typer.Option("--store/--no-store", help="Write the plan to the store.")
    ] = True,
    as_json: JsonOption = False,
    ray: RayOption = None,
) -> None:
    """Plan the open work orders over the machines, within shifts and around maintenance.

    Writes `planned_start`/`planned_end` on the work orders and the planned operations (space
    `plan`), and lists the orders planned late.

    Example: `factorybrain plan --db plant.duckdb --gantt plan.svg --time-limit 20`
    """
    from factorybrain.agents.planning import plan_gantt_svg, plan_orders, store_plan

    use_ray(ray, quiet=as_json)
    with (
        open_db(db, read_only=not store_it) as store,
        warnings_as_lines(),
        working(f"planning (up to {time_limit:g} s)", quiet=as_json),
    ):
        result = plan_orders(store, now=now, time_limit=time_limit, workers=workers)
        if store_it:
            store_plan(store, result)
    if gantt is not None:
        gantt.write_text(plan_gantt_svg(result), encoding="utf-8")
    summary = result.summary()
    late = result.orders[result.orders["tardiness_hours"] > 0].sort_values(
        "tardiness_hours", ascending=False
    )
    if as_json:
        rows = late[["external_id", "line", "due_at", "planned_end", "tardiness_hours"]]
        console.print_json(
            json.dumps(
                {**summary, "late": json.loads(rows.to_json(orient="records", date_format="iso"))}
            )
        )
        return
    console.print(
        f"planned [bold]{summary['orders']}[/bold] orders ({summary['operations']} operations) "
        f"from {summary['origin']} UTC: {summary['late_orders']} late, total tardiness "
        f"{summary['total_tardiness_hours']} h, {summary['status']} (gap {summary['gap']:.1%}) "
        f"in {summary['seconds']} s"
    )
    if not late.empty:
        shown = late[["external_id", "line", "due_at", "planned_end", "tardiness_hours"]]
        shown = shown.assign(tardiness_hours=shown["tardiness_hours"].round(1))
        console.print(frame_table(shown, "orders planned late"))
    if gantt is not None:
        console.print(f"Gantt chart written to {gantt}")


@app.command(name="oee")
@friendly_errors
def oee_command(
    db: DbOption = None,
    asset: Annotated[
        list[str] | None,
        typer.Option("--asset", metavar="CODE", help="Machine or line code (repeatable)."),
    ] = None,
    by: Annotated[
        str,
        typer.Option(
            "--by",
            callback=one_of(*GROUPS),
            metavar=choices_metavar(*GROUPS),
            help="Group by machine, line or shift.",
        ),
    ] = "machine",
    start: Annotated[
        datetime | None,
        typer.Option(
            parser=parse_moment,
            metavar="TIME",
            help="Window start: ISO time, UTC unless it has an offset (default: the first "
            "recorded state).",
        ),
    ] = None,
    end: Annotated[
        datetime | None,
        typer.Option(
            parser=parse_moment,
            metavar="TIME",
            help="Window end, as --start (default: the last recorded state).",
        ),
    ] = None,
    losses: Annotated[int, typer.Option(help="Biggest losses to list per group.", min=0)] = 3,
    as_json: JsonOption = False,
    api: ApiOption = None,
    token: TokenOption = None,
) -> None:
    """OEE after ISO 22400 (availability, performance, quality) and the biggest losses.

    Planned busy time is the shift time less planned maintenance; changeovers, minor stops,
    breakdowns and starvation are availability losses. With `--api URL` the server that holds
    the store answers (`GET /api/v1/oee`): the ratios per group, without the losses.

    Example: `factorybrain oee --db plant.duckdb --by line --asset LINE-1`
    """
    if start is not None and end is not None and end <= start:
        raise typer.BadParameter(
            f"expected a window end after its start ({start:%Y-%m-%d %H:%M}); found "
            f"{end:%Y-%m-%d %H:%M}",
            param_hint="'--end'",
        )
    if api:
        _oee_through(api, token, by, asset, start, end, as_json=as_json)
        return
    from factorybrain.agents.planning import plant_oee, plant_oee_losses

    with (
        open_db(db, read_only=True) as store,
        warnings_as_lines(),
        working("computing OEE", quiet=as_json),
    ):
        table = plant_oee(store, by=by, assets=asset, start=start, end=end)
        lost = plant_oee_losses(store, by=by, assets=asset, start=start, end=end)
    key = by
    top = lost.groupby(key, group_keys=False).head(losses) if losses else lost.iloc[0:0]
    ratios = table[[key, "availability", "performance", "quality", "oee"]]
    if as_json:
        console.print_json(
            json.dumps(
                {
                    "oee": json.loads(ratios.to_json(orient="records")),
                    "losses": json.loads(top.to_json(orient="records")),
                }
            )
        )
        return
    console.print(frame_table(ratios.round(4), f"OEE by {key}"))
    shown = top.assign(hours=(top["seconds"] / 3600).round(1), share=top["share"].round(4))
    console.print(
        frame_table(shown[[key, "category", "reason", "hours", "share"]], "biggest losses")
    )


def _oee_through(
    api: str,
    token: str | None,
    by: str,
    assets: list[str] | None,
    start: datetime | None,
    end: datetime | None,
    *,
    as_json: bool,
) -> None:
    """The OEE per group as the server at ``api`` answers it (the API has no losses)."""
    import pandas as pd

    if by == "shift" and assets:
        raise ApiRequestError("--asset with --by shift needs the store itself, not --api")
    with ApiClient(api, token) as client:
        found = client.get(
            "/oee",
            {
                "by": by,
                "start": start.isoformat() if start else None,
                "end": end.isoformat() if end else None,
            },
        )
    table = pd.DataFrame(found.get("items", []))
    if assets and len(table):
        table = table[table[by].isin(assets)]
    columns = [by, "availability", "performance", "quality", "oee"]
    ratios = table[[c for c in columns if c in table]] if len(table) else table
    if as_json:
        console.print_json(
            json.dumps({"oee": json.loads(ratios.to_json(orient="records")), "losses": None})
        )
        return
    if found.get("note"):
        console.print(f"[yellow]{found['note']}[/yellow]", highlight=False)
    console.print(frame_table(ratios.round(4), f"OEE by {by}"))
    console.print("[dim]biggest losses: not in the REST API; run without --api to see them[/dim]")
