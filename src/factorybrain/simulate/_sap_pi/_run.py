"""Run the gear plant: plan, produce, sell, then write every silo and ``truth.json``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from factorybrain.simulate._sap_pi._calendar import build_calendar, iso_utc
from factorybrain.simulate._sap_pi._crm import write_crm
from factorybrain.simulate._sap_pi._maintenance import plan_maintenance
from factorybrain.simulate._sap_pi._mes import write_mes
from factorybrain.simulate._sap_pi._pi import write_pi
from factorybrain.simulate._sap_pi._production import (
    Order,
    assign_lots,
    assign_serials,
    plan_orders,
    simulate_line,
    test_units,
)
from factorybrain.simulate._sap_pi._qms import write_qms
from factorybrain.simulate._sap_pi._sales import plan_sales
from factorybrain.simulate._sap_pi._sap import write_sap_tables
from factorybrain.simulate._sap_pi._story import Story
from factorybrain.simulate._sap_pi._truth import write_truth
from factorybrain.simulate._sap_pi._world import build_world

#: the folders the profile writes, one per silo
SILO_FOLDERS = ("erp", "mes", "historian", "qms", "crm")


@dataclass(frozen=True)
class SapPiResult:
    """What the gear plant's simulation wrote.

    Attributes:
        files: Paths written, relative to the export folder, sorted (``truth.json`` included).
        datapoints: Rows of the PI archive exports (digital states included).
        serials: Serial numbers engraved.
        work_orders: SAP production orders created in the horizon.
        failures: Machine breakdowns.
        claims: Field failures reported as service cases (second reports not counted).
        start: First instant of the horizon (ISO 8601 UTC).
        end: First instant after the horizon (ISO 8601 UTC).
    """

    files: tuple[str, ...]
    datapoints: int
    serials: int
    work_orders: int
    failures: int
    claims: int
    start: str
    end: str


def simulate_sap_pi(
    out: Path,
    *,
    days: int,
    machines: int,
    seed: int,
    sample_seconds: int,
    progress: Callable[[str, float], None],
) -> SapPiResult:
    """Simulate the gear plant and write its exports and ``truth.json`` into ``out``.

    Args:
        out: The export folder (exists).
        days: Horizon in days.
        machines: Machines, four per line.
        seed: Seed of every draw.
        sample_seconds: PI scan period of the analog points.
        progress: Called with (stage, fraction done).

    Returns:
        What was written.
    """
    for folder in SILO_FOLDERS:
        (out / folder).mkdir(parents=True, exist_ok=True)
    for stale in (out / "historian").glob("pi_archive_*.csv"):
        stale.unlink()
    progress("plant", 0.0)
    world = build_world(machines // 4, seed)
    calendar = build_calendar(days)
    maintenance = plan_maintenance(world, calendar, seed)
    orders: list[Order] = []
    runs = {}
    for li in range(len(world.lines)):
        progress("production", li / len(world.lines))
        rng = np.random.default_rng([seed, 2301, li])
        line_orders = plan_orders(world, calendar, li, rng)
        runs[li] = simulate_line(world, calendar, maintenance, li, line_orders, rng)
        orders.extend(line_orders)
    # SAP numbers production orders in the order they are created, across the lines
    orders.sort(key=lambda o: (o.created, o.line, o.index))
    number_rng = np.random.default_rng([seed, 2302])
    aufnr = 1_004_200
    for index, order in enumerate(orders):
        order.index = index
        aufnr += int(number_rng.integers(1, 3))
        order.aufnr = aufnr
    serials = assign_serials(orders, calendar.start_s)
    book = assign_lots(world, calendar, orders, np.random.default_rng([seed, 2303]))
    test_units(world, orders, book, np.random.default_rng([seed, 2304]))
    progress("logistics", 0.0)
    planted = maintenance.planted
    sales = plan_sales(
        world, calendar, orders, book, None if planted is None else planted.machine, seed
    )
    story = Story(
        world=world,
        calendar=calendar,
        maintenance=maintenance,
        orders=orders,
        runs=runs,
        book=book,
        sales=sales,
        seed=seed,
        sample_seconds=sample_seconds,
        serials=serials,
    )
    progress("exports", 0.0)
    write_crm(story, out)
    write_sap_tables(story, out)
    progress("exports", 0.3)
    write_mes(story, out)
    progress("exports", 0.5)
    write_pi(story, out)
    progress("exports", 0.9)
    write_qms(story, out)
    write_truth(story, out / "truth.json")
    return SapPiResult(
        files=tuple(sorted([*story.records, "truth.json"])),
        datapoints=int(story.pi["rows"]),
        serials=serials,
        work_orders=sum(1 for o in orders if o.created < calendar.minutes),
        failures=len(maintenance.failures),
        claims=len(sales.claims),
        start=iso_utc(calendar.start_s),
        end=iso_utc(calendar.end_s),
    )
