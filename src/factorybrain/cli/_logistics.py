"""Commands of the logistics agent: ``factorybrain forecast ...``, ``factorybrain inventory ...``.

Demand forecasts, reorder points and order-up-to levels, stock-out risks and spare parts.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from factorybrain.cli._common import (
    DbOption,
    JsonOption,
    console,
    frame_table,
    friendly_errors,
    open_db,
    parse_moment,
    warnings_as_lines,
    working,
)

if TYPE_CHECKING:
    from factorybrain.agents.logistics import LogisticsAgent, LogisticsPlan

app = typer.Typer()
forecast_app = typer.Typer(
    no_args_is_help=True,
    help="Demand forecasts of every product and material.\n\n"
    "Example: `factorybrain forecast show --db plant.duckdb`",
)
inventory_app = typer.Typer(
    no_args_is_help=True,
    help="Reorder points, order-up-to levels, stock-out risks and spare parts.\n\n"
    "Example: `factorybrain inventory levels --db plant.duckdb --target 0.95`",
)
app.add_typer(forecast_app, name="forecast")
app.add_typer(inventory_app, name="inventory")

AsOf = Annotated[
    datetime | None,
    typer.Option(
        "--as-of",
        parser=parse_moment,
        metavar="TIME",
        help="Plan at this moment: ISO time, UTC unless it has an offset (default: the latest "
        "data).",
    ),
]
Target = Annotated[
    float, typer.Option(help="Target fill rate of the inventory policies.", min=0.5, max=0.999)
]


def _plan(
    db: str | Path | None, as_of: datetime | None, target: float, *, quiet: bool
) -> tuple[LogisticsAgent, LogisticsPlan]:
    """Forecast and plan every item, a spinner while it works, its warnings one line each."""
    from factorybrain.agents.logistics import LogisticsAgent

    agent = LogisticsAgent(target=target)
    with (
        open_db(db, read_only=True) as store,
        warnings_as_lines(),
        working("forecasting demand and planning stock", quiet=quiet),
    ):
        return agent, agent.plan(store, as_of=as_of)


def _records(frame: Any) -> list[dict[str, Any]]:
    return json.loads(frame.to_json(orient="records", date_format="iso"))


def _as_of_title(title: str, as_of: datetime | None) -> str:
    """The title of a table planned at ``as_of`` (None: the store holds no dated data)."""
    return f"{title} as of {as_of:%Y-%m-%d}" if as_of is not None else f"{title} (no data yet)"


@forecast_app.command("show")
@friendly_errors
def forecast_show(
    db: DbOption = None,
    item: Annotated[
        str | None, typer.Option(help="Only this product or material (number as in the ERP).")
    ] = None,
    as_of: AsOf = None,
    as_json: JsonOption = False,
) -> None:
    """Forecast weekly demand of every product (sales) and material (consumption and issues).

    Each item gets its demand class, the model chosen by cross-validation and quantiles; a
    fallback (no demand, short history) is named in the `fallback` column and warned about.

    Example: `factorybrain forecast show --db plant.duckdb --item 70000305`
    """
    from factorybrain.agents.logistics import material_key

    _, plan = _plan(db, as_of, 0.95, quiet=as_json)
    forecasts = plan.forecasts
    if forecasts.empty:  # nothing to plan (the warning said why)
        if as_json:
            console.print_json("[]")
        else:
            console.print(_as_of_title("no weekly demand forecasts", plan.as_of))
        return
    if item is not None:
        forecasts = forecasts[forecasts["unique_id"] == material_key(item)]
    columns = [c for c in forecasts.columns if c not in ("ds",)]
    frame = forecasts[columns]
    if as_json:
        console.print_json(json.dumps(_records(frame)))
        return
    summary = (
        frame.groupby("unique_id", sort=False)
        .agg(
            model=("model", "first"),
            demand_class=("demand_class", "first"),
            next_period=("forecast", "first"),
            per_period=("forecast", "mean"),
        )
        .reset_index()
        .round(2)
    )
    console.print(frame_table(summary, _as_of_title("weekly demand forecasts", plan.as_of)))


@inventory_app.command("levels")
@friendly_errors
def inventory_levels(
    db: DbOption = None,
    target: Target = 0.95,
    as_of: AsOf = None,
    propose: Annotated[
        bool,
        typer.Option(
            "--propose", help="Store the findings and propose the purchase orders for approval."
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Reorder point and order-up-to level per item for a target fill rate, and what runs short.

    With `--propose` the stock-out risks are stored as findings and each reorder becomes an
    action waiting for a planner's approval (`factorybrain actions list`).

    Example: `factorybrain inventory levels --db plant.duckdb --target 0.98 --propose`
    """
    agent, plan = _plan(db, as_of, target, quiet=as_json)
    columns = [
        "unique_id",
        "name",
        "item_type",
        "position",
        "lead_time_days",
        "lead_time_demand",
        "reorder_point",
        "order_up_to",
        "health_demand",
        "model",
    ]
    frame = plan.policies[[c for c in columns if c in plan.policies.columns]]
    proposed: list[str] = []
    if propose:
        from factorybrain.agents import Orchestrator
        from factorybrain.agents.logistics import AGENT

        with open_db(db) as store:
            report = Orchestrator(store, [agent]).submit(plan.items(), agent=AGENT, at=plan.as_of)
            proposed = report.actions
    if as_json:
        console.print_json(
            json.dumps(
                {
                    "as_of": plan.as_of.isoformat() if plan.as_of else None,
                    "items": _records(frame),
                    "findings": [f.dump() for f in plan.findings],
                    "recommendations": [r.dump() for r in plan.recommendations],
                    "actions": proposed,
                    "warnings": plan.warnings,
                }
            )
        )
        return
    console.print(frame_table(frame.round(2), f"inventory levels for a {target:.0%} fill rate"))
    for finding in plan.findings:
        console.print(f"[bold]{finding.kind}[/bold] {finding.evidence.text}", highlight=False)
    if propose:
        console.print(f"proposed {len(proposed)} action(s) for approval")


@inventory_app.command("spares")
@friendly_errors
def inventory_spares(
    machine: Annotated[str, typer.Argument(help="The machine, by any silo's name for it.")],
    rul_hours: Annotated[float, typer.Option(help="Predicted remaining life, hours.", min=0)],
    lower_hours: Annotated[
        float | None, typer.Option(help="Lower end of its 90 % interval, hours.", min=0)
    ] = None,
    upper_hours: Annotated[
        float | None, typer.Option(help="Upper end of its 90 % interval, hours.", min=0)
    ] = None,
    db: DbOption = None,
    as_of: AsOf = None,
    as_json: JsonOption = False,
) -> None:
    """Check the spare parts of a machine's BOM against its remaining life: what to order now.

    Example: `factorybrain inventory spares PRS-03 --rul-hours 60 --lower-hours 30
    --upper-hours 110`
    """
    from factorybrain.agents import Finding, Recommendation
    from factorybrain.agents.logistics import LogisticsAgent, MachineRisk, load_logistics
    from factorybrain.exceptions import ParameterError

    agent = LogisticsAgent()
    with open_db(db, read_only=True) as store, warnings_as_lines():
        data = load_logistics(store, as_of=as_of)
    resolved = data.machine_of([machine])
    if resolved is None:
        raise ParameterError(
            f"machine {machine!r} names no machine with a spare-part BOM; known: "
            f"{sorted(data.spares)}"
        )
    risk = MachineRisk(
        resolved,
        data.as_of,
        rul_hours,
        lower_hours if lower_hours is not None else rul_hours,
        upper_hours if upper_hours is not None else rul_hours,
        horizon_hours=7 * 24.0,
    )
    with warnings_as_lines():
        items = agent.check_machine(data, risk)
    findings = [i.dump() for i in items if isinstance(i, Finding)]
    orders = [i.dump() for i in items if isinstance(i, Recommendation)]
    if as_json:
        console.print_json(
            json.dumps({"machine": resolved, "findings": findings, "orders": orders})
        )
        return
    parts = ", ".join(f"{p.part_number} -> {p.material} ({p.link})" for p in data.spares[resolved])
    console.print(f"[bold]{resolved}[/bold]: {parts}", highlight=False)
    if not orders:
        console.print("its spare parts cover the expected failure; nothing to order")
    for finding in findings:
        console.print(finding["evidence"]["text"], highlight=False)
