"""``simulate_plant``: run every phase in order and write the silos and ``truth.json``."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from factorybrain.exceptions import ParameterError
from factorybrain.simulate._exports import write_exports
from factorybrain.simulate._historian import HistorianWriter, plan_historian
from factorybrain.simulate._logistics import plan_claims, plan_sales
from factorybrain.simulate._maintenance import plan_maintenance
from factorybrain.simulate._production import plan_lots, simulate_line
from factorybrain.simulate._sap_pi import simulate_sap_pi
from factorybrain.simulate._silos import MesWriter
from factorybrain.simulate._timegrid import build_time_grid, iso_utc
from factorybrain.simulate._truth import Collected, write_truth
from factorybrain.simulate._world import MAX_SITES, Site, build_world

Progress = Callable[[str, float], None]
SILO_FOLDERS = ("erp", "mes", "historian", "qms", "wms", "crm", "engineering")
#: the plants ``simulate_plant`` can write: the pump plant (default) and the gear plant
PROFILES = ("pumps", "sap-pi")
#: historian sample period of each profile when none is given
DEFAULT_SAMPLE_SECONDS = {"pumps": 60, "sap-pi": 900}
#: the fleet's manifest ``simulate_plant`` writes beside the sites' folders
FLEET_MANIFEST = "fleet.yaml"
#: the pump plant's manifest shipped with factorybrain, as a manifest names it
SHIPPED_PUMP_MANIFEST = "factorybrain:examples/demo_plant/plant.yaml"


@dataclass(frozen=True)
class PlantSummary:
    """What ``simulate_plant`` wrote.

    Attributes:
        out: The export folder.
        days: Horizon in days.
        machines: Number of machines.
        seed: The seed.
        sample_seconds: Historian sampling period.
        start: First instant of the horizon (ISO 8601 UTC).
        end: First instant after the horizon (ISO 8601 UTC).
        files: Paths of the written files, relative to ``out``, sorted.
        datapoints: Rows in the historian (late and duplicated rows included).
        serials: Serial numbers created.
        work_orders: Work orders (open ones included).
        failures: Machine breakdowns within the horizon.
        claims: Warranty claims in the CRM export.
        seconds: Wall-clock time of the simulation.
        profile: Which plant: ``pumps`` or ``sap-pi``.
        sites: How many plants of a fleet were written (1: one plant, in ``out`` itself). For
            a fleet, ``files`` lists every site's files and the counts are the sums.
    """

    out: Path
    days: int
    machines: int
    seed: int
    sample_seconds: int
    start: str
    end: str
    files: tuple[str, ...]
    datapoints: int
    serials: int
    work_orders: int
    failures: int
    claims: int
    seconds: float
    profile: str = "pumps"
    sites: int = 1


def _check(name: str, value: object, low: int, high: int) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | np.integer)
        or not (low <= value <= high)
    ):
        raise ParameterError(
            f"The {name!r} parameter of simulate_plant must be an int in [{low}, {high}]. "
            f"Got {value!r} instead."
        )
    return int(value)


def simulate_plant(
    out: Path,
    *,
    days: int = 180,
    machines: int = 12,
    seed: int = 7,
    sample_seconds: int | None = None,
    progress: Progress | None = None,
    profile: str = "pumps",
    sites: int = 1,
) -> PlantSummary:
    """Simulate a plant, or a fleet of plants, and write the silo exports and ``truth.json``.

    The same arguments give byte-identical files. Work is streamed per line and per machine chunk,
    so memory stays bounded however many datapoints the historian gets.

    Two plants: ``pumps`` (the default: Hanse Pumpenwerk, ``docs/demo-factory.md``) and
    ``sap-pi`` (Drautal Getriebewerk, a gear-unit plant whose silos are written as SAP ERP,
    AVEVA PI, a JSON-lines MES, a quality workbook and Salesforce export them,
    ``docs/demo-plant-2.md``).

    Args:
        out: Folder to write to (created when missing).
        days: Horizon in days (1 to 3660; ``sap-pi``: 1 to 1100).
        machines: Number of machines, grouped in lines of up to four (1 to 5000; ``sap-pi``:
            a multiple of 4 from 4 to 40, four per line).
        seed: Seed of every random draw.
        sample_seconds: Historian sampling period in seconds (1 to 3600; ``sap-pi``: 60 to
            3600, the PI scan period). Default: 60 for ``pumps``, 900 for ``sap-pi``.
        progress: Called with (stage, fraction done) as the simulation advances.
        profile: Which plant: ``pumps`` or ``sap-pi``.
        sites: How many pump plants of one company to write (1 to 99; ``sap-pi``: 1). One plant
            is written to ``out`` itself; a fleet to ``out/site-01`` ... ``out/site-NN``, each a
            plant of ``machines`` machines with its own seed (drawn from ``seed`` and the site's
            number), its own ``truth.json`` and the site's marks in its identifiers, and
            ``out/fleet.yaml``, the manifest that loads every site into its own spaces.

    Returns:
        A summary of what was written.

    Raises:
        ParameterError: An argument is out of range.

    Example:
        >>> from factorybrain.simulate import simulate_plant
        >>> summary = simulate_plant(Path("plant"), days=30, machines=8)  # doctest: +SKIP
    """
    if profile not in PROFILES:
        raise ParameterError(
            f"The 'profile' parameter of simulate_plant must be one of {', '.join(PROFILES)}. "
            f"Got {profile!r} instead."
        )
    if sample_seconds is None:
        sample_seconds = DEFAULT_SAMPLE_SECONDS[profile]
    if profile == "sap-pi":
        days = _check("days", days, 1, 1100)
        machines = _check("machines", machines, 4, 40)
        if machines % 4:
            raise ParameterError(
                "The 'machines' parameter of simulate_plant must be a multiple of 4 for profile "
                f"'sap-pi' (four machines per line). Got {machines!r} instead."
            )
        seed = _check("seed", seed, 0, 2**63 - 1)
        sample_seconds = _check("sample_seconds", sample_seconds, 60, 3600)
    else:
        days = _check("days", days, 1, 3660)
        machines = _check("machines", machines, 1, 5000)
        seed = _check("seed", seed, 0, 2**63 - 1)
        sample_seconds = _check("sample_seconds", sample_seconds, 1, 3600)
    if profile == "sap-pi" and sites != 1:
        raise ParameterError(
            "The 'sites' parameter of simulate_plant must be 1 for profile 'sap-pi' (a fleet "
            f"is of pump plants). Got {sites!r} instead."
        )
    sites = _check("sites", sites, 1, MAX_SITES)
    began = time.perf_counter()
    report = progress or (lambda stage, fraction: None)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ParameterError(
            f"The 'out' parameter of simulate_plant must be a folder. Got the file {out} instead."
        )
    out.mkdir(parents=True, exist_ok=True)
    if profile == "sap-pi":
        return _simulate_sap_pi(out, days, machines, seed, sample_seconds, report, began)
    if sites > 1:
        return _simulate_fleet(out, days, machines, seed, sample_seconds, report, began, sites)
    return _simulate_pumps(out, days, machines, seed, sample_seconds, report, began, Site())


def _simulate_pumps(
    out: Path,
    days: int,
    machines: int,
    seed: int,
    sample_seconds: int,
    report: Progress,
    began: float,
    site: Site,
) -> PlantSummary:
    """The ``pumps`` profile: Hanse Pumpenwerk, or one site of it (``docs/demo-factory.md``)."""
    out.mkdir(parents=True, exist_ok=True)
    for folder in SILO_FOLDERS:
        (out / folder).mkdir(exist_ok=True)

    report("plant", 0.0)
    world = build_world(machines, seed, site)
    grid = build_time_grid(days)
    maintenance = plan_maintenance(world, grid, seed)
    lots = plan_lots(world, grid, seed)
    historian_plan = plan_historian(world, grid.minutes, seed)

    mes_path = out / "mes" / "mes.sqlite"
    mes_path.unlink(missing_ok=True)
    mes = MesWriter(mes_path, world, lots, grid.start_s, seed)
    mes.write_shifts(grid)
    historian = HistorianWriter(
        out / "historian" / "history.parquet", historian_plan, grid.start_s, sample_seconds
    )
    collected = Collected()
    for li in range(len(world.lines)):
        report("production", li / len(world.lines))
        line_out = simulate_line(li, world, grid, maintenance, lots, seed)
        mes.write_line(line_out)
        for mi in world.lines[li].machine_indices:
            historian.write_machine(
                world.machines[mi],
                line_out.states[mi],
                line_out.products[mi],
                line_out.health[mi],
                line_out.setpoints[mi],
                world,
                seed,
            )
        collected.add(line_out, maintenance)
    historian.close()
    mes.close()

    report("logistics", 0.0)
    sales = plan_sales(world, grid.minutes, collected.finished, seed)
    claims = plan_claims(collected.candidates, sales, grid.minutes, seed)
    report("exports", 0.0)
    dirt = write_exports(
        out, world, grid, maintenance, lots, historian_plan, collected, sales, claims, seed
    )
    dirt["mes_late_operations"] = len(mes.late_operations)
    dirt["mes_duplicate_state_rows"] = mes.duplicated_states
    write_truth(
        out / "truth.json",
        world,
        grid,
        maintenance,
        lots,
        historian_plan,
        collected,
        sales,
        claims,
        dirt,
        seed=seed,
        sample_seconds=sample_seconds,
    )
    report("done", 1.0)
    files = tuple(
        sorted(
            str(p.relative_to(out))
            for folder in SILO_FOLDERS
            for p in (out / folder).rglob("*")
            if p.is_file()
        )
        + ["truth.json"]
    )
    return PlantSummary(
        out=out,
        days=days,
        machines=machines,
        seed=seed,
        sample_seconds=sample_seconds,
        start=iso_utc(grid.start_s),
        end=iso_utc(grid.end_s),
        files=files,
        datapoints=historian.points,
        serials=collected.serial_count,
        work_orders=collected.work_order_count,
        failures=len(maintenance.failures),
        claims=len(dirt["claim_ids"]),
        seconds=round(time.perf_counter() - began, 3),
    )


def site_seed(seed: int, number: int) -> int:
    """The seed of a fleet's site: drawn from the fleet's seed and the site's number."""
    digest = hashlib.sha256(f"factorybrain fleet {seed} site {number}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def _simulate_fleet(
    out: Path,
    days: int,
    machines: int,
    seed: int,
    sample_seconds: int,
    report: Progress,
    began: float,
    sites: int,
) -> PlantSummary:
    """Several pump plants of one company, one folder each, and the manifest that loads them."""
    summaries = []
    for number in range(1, sites + 1):
        site = Site(number, sites, company_seed=seed)

        def site_report(
            stage: str, fraction: float, done: int = number - 1, folder: str = site.folder
        ) -> None:
            report(f"{folder} {stage}", (done + fraction) / sites)

        summaries.append(
            _simulate_pumps(
                out / site.folder,
                days,
                machines,
                site_seed(seed, number),
                sample_seconds,
                site_report,
                time.perf_counter(),
                site,
            )
        )
    (out / FLEET_MANIFEST).write_text(_fleet_manifest(sites, summaries), encoding="utf-8")
    report("done", 1.0)
    first = summaries[0]
    return PlantSummary(
        out=out,
        days=days,
        machines=machines,
        seed=seed,
        sample_seconds=sample_seconds,
        start=first.start,
        end=first.end,
        files=tuple(
            sorted(
                [f"{s.out.name}/{name}" for s in summaries for name in s.files] + [FLEET_MANIFEST]
            )
        ),
        datapoints=sum(s.datapoints for s in summaries),
        serials=sum(s.serials for s in summaries),
        work_orders=sum(s.work_orders for s in summaries),
        failures=sum(s.failures for s in summaries),
        claims=sum(s.claims for s in summaries),
        seconds=round(time.perf_counter() - began, 3),
        sites=sites,
    )


def _fleet_manifest(sites: int, summaries: list[PlantSummary]) -> str:
    """The manifest of a simulated fleet: the pump plant's shipped manifest once per site."""
    lines = [
        "# Written by `factorybrain simulate --sites N`: every site's exports load through the",
        "# pump plant's manifest shipped with factorybrain, into the site's own spaces",
        "# (site-01/erp, site-01/mes, ...). Load it with `factorybrain load fleet.yaml`.",
        f"name: Hanse Pumpenwerk (simulated, {sites} sites)",
        "include:",
    ]
    for number, summary in enumerate(summaries, start=1):
        site = Site(number, sites)
        lines += [
            f"  # {site.town}: ERP plant {site.plant}, site code {site.code}, seed {summary.seed}",
            f"  - manifest: {SHIPPED_PUMP_MANIFEST}",
            f"    site: {site.folder}",
            f"    exports: {site.folder}",
        ]
    return "\n".join(lines) + "\n"


def _simulate_sap_pi(
    out: Path,
    days: int,
    machines: int,
    seed: int,
    sample_seconds: int,
    report: Progress,
    began: float,
) -> PlantSummary:
    """The ``sap-pi`` profile: the gear plant of ``docs/demo-plant-2.md``."""
    result = simulate_sap_pi(
        out,
        days=days,
        machines=machines,
        seed=seed,
        sample_seconds=sample_seconds,
        progress=report,
    )
    report("done", 1.0)
    return PlantSummary(
        out=out,
        days=days,
        machines=machines,
        seed=seed,
        sample_seconds=sample_seconds,
        start=result.start,
        end=result.end,
        files=result.files,
        datapoints=result.datapoints,
        serials=result.serials,
        work_orders=result.work_orders,
        failures=result.failures,
        claims=result.claims,
        seconds=round(time.perf_counter() - began, 3),
        profile="sap-pi",
    )
