"""Production of one line: work orders through their routing, machine states, serials and quality.

Work orders run as batches through the line's machines in routing order (lathe, winder, press,
end-of-line test). An operation needs available minutes on its machine (inside a shift, not broken,
not stopped) for its changeover and its run; a machine's health slows it down and makes scrap.
Every unit's end-of-line result follows a known response surface of two process parameters
(winding tension and press-fit force), the health of the machines it passed and the quality of the
supplier lots it was built from. Units also carry latent defects that shorten their field life.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np

from factorybrain.simulate._maintenance import DAY, MaintenancePlan
from factorybrain.simulate._timegrid import START, TimeGrid
from factorybrain.simulate._world import Site, World

OFF, IDLE, SETUP, RUNNING, MINOR_STOP, BREAKDOWN, PLANNED_MAINTENANCE, WAITING_SPARE = range(8)
STATE_NAMES = (
    "OFF",
    "IDLE",
    "SETUP",
    "RUNNING",
    "MINOR_STOP",
    "BREAKDOWN",
    "PLANNED_MAINTENANCE",
    "WAITING_SPARE",
)
MINOR_STOP_REASONS = (
    ("M10", "Part jammed in fixture"),
    ("M20", "Material not at station"),
    ("M30", "Sensor fault, reset"),
    ("M40", "Operator absent"),
    ("M50", "Tool change"),
)
#: field-life Weibull (shape, scale in days) per latent cause
FIELD_LIFE = {
    "none": (1.3, 20000.0),
    "supplier_lot": (2.5, 300.0),
    "supplier_lot_seal": (2.0, 260.0),
    "degraded_machine": (2.0, 420.0),
    "process_out_of_window": (2.0, 350.0),
}
FORCE_WINDOW_Z = 2.2
DEGRADED_HEALTH = 0.5


@dataclass
class LotPlan:
    """Supplier lots of every component: receipt minute, supplier lot number, ERP batch."""

    material: np.ndarray
    receipt: np.ndarray
    batch: np.ndarray
    vendor_lot: list[str]
    #: bad lots and what is wrong with them: ``bearing`` (noisy, seizes) or ``seal`` (leaks)
    bad: dict[int, str]
    by_material: dict[int, np.ndarray] = field(default_factory=dict)

    def active(self, material: int, minute: int) -> int:
        """The lot of ``material`` issued at ``minute`` (first in, first out: the newest open)."""
        lots = self.by_material[material]
        pos = int(np.searchsorted(self.receipt[lots], minute, side="right")) - 1
        return int(lots[max(pos, 0)])


@dataclass
class LineOutput:
    """Everything one line produced, ready for the silo writers."""

    line: int
    work_orders: list[dict] = field(default_factory=list)
    operations: list[dict] = field(default_factory=list)
    consumption: list[dict] = field(default_factory=list)
    serial_no: list[np.ndarray] = field(default_factory=list)
    serial_wo: list[np.ndarray] = field(default_factory=list)
    serial_created: list[np.ndarray] = field(default_factory=list)
    serial_status: list[np.ndarray] = field(default_factory=list)
    serial_product: list[np.ndarray] = field(default_factory=list)
    tests: list[dict[str, np.ndarray]] = field(default_factory=list)
    presses: list[dict[str, np.ndarray]] = field(default_factory=list)
    audits: list[dict] = field(default_factory=list)
    finished: list[tuple[int, np.ndarray, np.ndarray]] = field(default_factory=list)
    candidates: list[dict] = field(default_factory=list)
    bad_lot_serials: dict[int, list[int]] = field(default_factory=dict)
    open_orders: list[dict] = field(default_factory=list)
    states: dict[int, np.ndarray] = field(default_factory=dict)
    products: dict[int, np.ndarray] = field(default_factory=dict)
    setpoints: dict[int, np.ndarray] = field(default_factory=dict)
    minor_reasons: dict[int, np.ndarray] = field(default_factory=dict)
    oee: dict[int, dict[str, float]] = field(default_factory=dict)
    health: dict[int, np.ndarray] = field(default_factory=dict)


def order_numbers(site: Site, line_number: int, sequence: int) -> tuple[str, str]:
    """A work order's MES number (``WO00200017``) and its ERP production order (``4080017``).

    The MES number keeps the line in its digits 3 to 5 counted from the end: the WMS reads the
    line of a consumption from it.
    """
    mes = site.mark(f"WO{line_number:03d}{sequence:05d}")
    return mes, str(site.number_range(4_000_000 + line_number * 40_000 + sequence, 10**8))


def plan_lots(world: World, grid: TimeGrid, seed: int) -> LotPlan:
    """Receipts of every component as supplier lots, and the bad lot(s).

    Args:
        world: The static plant.
        grid: The minute calendar.
        seed: Seed of the draws.

    Returns:
        The lot plan; lot 0 of each material is already in stock at the start.
    """
    rng = np.random.default_rng([seed, 303])
    materials, receipts, vendor_lots = [], [], []
    sequence: dict[int, int] = {}
    for material in world.materials:
        if material.kind != "component":
            continue
        supplier = world.suppliers[material.supplier]
        t = -material.lot_days * DAY
        while t < grid.minutes:
            materials.append(material.index)
            receipts.append(t)
            made = (START + timedelta(minutes=int(t) - 2 * DAY)).timetuple()
            # a supplier numbers its lots in one sequence over everything it makes
            sequence[supplier.index] = sequence.get(supplier.index, 0) + 1
            vendor_lots.append(
                f"{supplier.lot_prefix}-{made.tm_year % 100:02d}{made.tm_yday:03d}-"
                f"{world.site.lot_sequence(sequence[supplier.index]):03d}"
                + ("" if supplier.index % 2 else f"/{material.part_number[:3]}")
            )
            jitter = int(rng.integers(-1, 2)) * DAY
            t = (max(t, 0) // DAY + material.lot_days) * DAY + jitter + 9 * 60
    material_arr = np.array(materials, dtype=np.int32)
    receipt_arr = np.array(receipts, dtype=np.int64)
    first_batch = world.site.number_range(3_100_000, 10**7)
    batch = first_batch + np.arange(material_arr.size) * 7 + rng.integers(0, 5, material_arr.size)
    plan = LotPlan(material_arr, receipt_arr, batch, vendor_lots, {})
    for material in world.materials:
        lots = np.flatnonzero(material_arr == material.index)
        if lots.size:
            plan.by_material[material.index] = lots[np.argsort(receipt_arr[lots], kind="stable")]
    bearing = world.material_by_part("BRG-6204").index
    plan.bad[plan.active(bearing, int(grid.minutes * 0.28))] = "bearing"
    seal = world.material_by_part("SEAL-MS16").index
    seal_lot = plan.active(seal, int(grid.minutes * 0.5))
    if seal_lot != plan.active(seal, int(grid.minutes * 0.28)):
        plan.bad[seal_lot] = "seal"
    return plan


def _minor_stops(rng: np.random.Generator, idle: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Short stops scattered over the shift minutes: where, and which reason."""
    minor = np.zeros(idle.size, dtype=bool)
    reasons = np.full(idle.size, -1, dtype=np.int8)
    candidates = np.flatnonzero(idle)
    if candidates.size == 0:
        return minor, reasons
    count = int(rng.poisson(candidates.size / 110))
    starts = np.sort(rng.choice(candidates, size=min(count, candidates.size), replace=False))
    lengths = rng.integers(2, 13, starts.size)
    codes = rng.integers(0, len(MINOR_STOP_REASONS), starts.size)
    for start, length, code in zip(starts, lengths, codes, strict=True):
        stop = min(start + length, idle.size)
        minor[start:stop] = True
        reasons[start:stop] = code
    minor &= idle
    return minor, reasons


def _machine_calendar(
    rng: np.random.Generator, machine: int, shift: np.ndarray, maintenance: MaintenancePlan
) -> tuple[np.ndarray, np.ndarray]:
    """A machine's minutes before production: off shift, idle, down, and where minor stops fall.

    Returns:
        The state code of every minute and the minor-stop reason of every minute (-1: none).
    """
    minutes = shift.size
    state = np.where(shift, IDLE, OFF).astype(np.int8)
    code = {"waiting": WAITING_SPARE, "breakdown": BREAKDOWN, "pm": PLANNED_MAINTENANCE}
    for start, stop, kind in maintenance.down_intervals(machine):
        state[max(start, 0) : max(min(stop, minutes), 0)] = code[kind]
    minor, reasons = _minor_stops(rng, state == IDLE)
    return state, np.where(minor, reasons, -1).astype(np.int8)


def simulate_line(
    line_index: int,
    world: World,
    grid: TimeGrid,
    maintenance: MaintenancePlan,
    lots: LotPlan,
    seed: int,
) -> LineOutput:
    """Produce one line over the horizon.

    Args:
        line_index: Index of the line in ``world.lines``.
        world: The static plant.
        grid: The minute calendar.
        maintenance: Phase one: health and down intervals of every machine.
        lots: Supplier lots of every component.
        seed: Seed of the draws.

    Returns:
        The line's orders, operations, serials, results, machine states and truth.
    """
    rng = np.random.default_rng([seed, 404, line_index])
    line = world.lines[line_index]
    machines = [world.machines[i] for i in line.machine_indices]
    minutes = grid.minutes
    shift = grid.shift_masks[line.shifts]
    out = LineOutput(line=line_index)

    state: dict[int, np.ndarray] = {}
    avail_pos: dict[int, np.ndarray] = {}
    health: dict[int, np.ndarray] = {}
    op_of_minute: dict[int, np.ndarray] = {}
    for machine in machines:
        mi = machine.index
        state[mi], out.minor_reasons[mi] = _machine_calendar(rng, mi, shift, maintenance)
        avail_pos[mi] = np.flatnonzero((state[mi] == IDLE) & (out.minor_reasons[mi] < 0))
        health[mi] = maintenance.health(mi, minutes)
        op_of_minute[mi] = np.full(minutes, -1, dtype=np.int32)

    by_type = {m.type_code: m for m in machines}
    machine_free = {m.index: 0 for m in machines}
    last_product = {m.index: -1 for m in machines}
    busy_windows: dict[int, list[tuple[int, int]]] = {m.index: [] for m in machines}
    op_setpoint: list[float] = []
    op_product: list[int] = []
    processed = {m.index: 0 for m in machines}
    good = {m.index: 0 for m in machines}
    ideal_minutes = {m.index: 0.0 for m in machines}

    products = [world.products[p] for p in line.product_indices]
    shares = np.array([p.demand_share for p in products])
    shares = shares / shares.sum()
    serial_seq = 0
    wo_seq = 0
    # a machine starts a batch only when the next machine has taken the batch before the previous
    # one (two batches of buffer between machines), so work in progress stays bounded
    start_history: list[list[int]] = [[0] * len(machines)] * 2
    rotation = 0
    revision_minute = minutes // 2
    while True:
        product = products[rotation % len(products)]
        share = shares[rotation % len(products)]
        rotation += 1
        qty = int(np.clip(round(share * len(products) * rng.uniform(110, 190) / 10) * 10, 40, 320))
        first = machines[0].index
        previous_starts = start_history[-2]
        can_start = max(machine_free[first], previous_starts[1] if len(machines) > 1 else 0)
        if (
            can_start >= minutes
            or int(np.searchsorted(avail_pos[first], can_start)) >= avail_pos[first].size
        ):
            break
        wo_seq += 1
        wo_number, erp_order = order_numbers(world.site, line.number, wo_seq)
        # orders are released to the shop floor one to three days before the line can take them
        release = max(0, can_start - int(rng.uniform(1, 3) * DAY))
        wo = {
            "wo_number": wo_number,
            "erp_order": erp_order,
            "line": line_index,
            "product": product.index,
            "qty_planned": qty,
            "release": release,
            "due": release + int(rng.uniform(4, 7) * DAY),
            "start": None,
            "end": None,
            "qty_good": 0,
            "status": "RELEASED",
        }
        # process parameters of this order: recipes change at the design revision
        tension_recipe = product.tension_recipe
        if product.index == 0 and release >= revision_minute:
            tension_recipe = round(product.tension_opt + 0.4 * product.tension_scale, 2)
        big = rng.random() < 0.08
        tension = tension_recipe + rng.normal(0, 0.5) * product.tension_scale
        force_offset = (rng.choice([-1, 1]) * rng.uniform(1.4, 2.4)) if big else rng.normal(0, 0.5)
        force_set = product.force_recipe + force_offset * product.force_scale

        alive = np.ones(qty, dtype=bool)
        unit_time = {m.index: np.full(qty, -1, dtype=np.int64) for m in machines}
        status = np.full(qty, 2, dtype=np.int8)  # 0 complete, 1 scrapped, 2 wip
        serials = None
        force = np.full(qty, np.nan)
        eol_pass = np.zeros(qty, dtype=bool)
        prev_end = release
        starts_now = [minutes] * len(machines)
        wo_lots: dict[int, int] = {}
        completed = True
        for k, machine in enumerate(machines):
            mi = machine.index
            positions = avail_pos[mi]
            downstream = previous_starts[k + 1] if k + 1 < len(machines) else 0
            earliest = max(prev_end, machine_free[mi], downstream)
            j0 = int(np.searchsorted(positions, earliest))
            in_idx = np.flatnonzero(alive)
            if j0 >= positions.size or in_idx.size == 0:
                completed = False
                break
            if k == 0:
                wo["start"] = int(positions[j0])
                wo["status"] = "IN_PROGRESS"
                for material, per_unit in product.bom:
                    lot = lots.active(material, int(positions[j0]))
                    wo_lots[material] = lot
                    out.consumption.append(
                        {
                            "wo_number": wo_number,
                            "material": material,
                            "lot": lot,
                            "quantity": round(per_unit * qty, 3),
                            "time": int(positions[j0]),
                        }
                    )
            setup = int(rng.integers(25, 55)) if last_product[mi] != product.index else 0
            d0 = float(health[mi][positions[j0]])
            perf = rng.uniform(0.9, 0.98) * (1.0 - 0.15 * d0)
            ct = product.ideal_ct_min[machine.type_code]
            run = max(1, int(np.ceil(in_idx.size * ct / perf)))
            j_end = j0 + setup + run
            done = min(j_end, positions.size)
            op_id = len(out.operations)
            op_minutes = positions[j0:done]
            op_of_minute[mi][op_minutes] = op_id
            state[mi][positions[j0 : min(j0 + setup, done)]] = SETUP
            state[mi][positions[min(j0 + setup, done) : done]] = RUNNING
            offsets = j0 + setup + np.floor((np.arange(in_idx.size) + 1) * run / in_idx.size) - 1
            offsets = offsets.astype(np.int64)
            finished_mask = offsets < positions.size
            unit_minutes = positions[np.minimum(offsets, positions.size - 1)]
            times = np.where(finished_mask, unit_minutes, -1)
            unit_time[mi][in_idx] = times
            n_done = int(finished_mask.sum())
            d_units = health[mi][np.maximum(times, 0)]
            if k == 0:
                first_serial = world.site.number_range(line.number * 10_000_000, 10**11)
                serials = first_serial + serial_seq + np.arange(qty, dtype=np.int64)
                serial_seq += qty
                created = np.where(finished_mask, times, -1)
            assert serials is not None  # numbered on the routing's first machine (k == 0)
            params: dict[str, tuple[float, float, str]] = {}
            # worn machines scrap more; the tester scraps what fails its test (decided below)
            scrap = rng.random(in_idx.size) < 0.002 + 0.06 * d_units**2
            if machine.type_code == "LTH":
                params["spindle_speed_rpm"] = (
                    product.regime["rpm"],
                    round(product.regime["rpm"] * rng.normal(1, 0.004), 1),
                    "rpm",
                )
                params["feed_mm_rev"] = (0.12, 0.12, "mm/rev")
                op_setpoint.append(product.regime["rpm"])
            elif machine.type_code == "WND":
                params["wire_tension_N"] = (round(tension_recipe, 2), round(float(tension), 2), "N")
                params["winding_speed_rpm"] = (
                    product.regime["winder_rpm"],
                    product.regime["winder_rpm"],
                    "rpm",
                )
                op_setpoint.append(float(tension))
            elif machine.type_code == "PRS":
                units_force = force_set + rng.normal(0, 0.35, in_idx.size) * product.force_scale
                units_force -= 1.5 * d_units * product.force_scale
                force[in_idx] = units_force
                params["press_force_kN"] = (
                    round(float(force_set), 2),
                    round(float(np.mean(units_force)), 2),
                    "kN",
                )
                op_setpoint.append(float(force_set))
                done_units = in_idx[finished_mask]
                out.presses.append(
                    {
                        "serial": serials[done_units],
                        "machine": np.full(done_units.size, mi),
                        "time": unit_time[mi][done_units],
                        "force": np.round(force[done_units], 2),
                    }
                )
            else:
                params["test_pressure_bar"] = (
                    product.regime["test_bar"],
                    product.regime["test_bar"],
                    "bar",
                )
                op_setpoint.append(product.regime["test_bar"])
                results = _end_of_line(
                    rng,
                    product,
                    in_idx,
                    tension,
                    force,
                    unit_time,
                    health,
                    by_type,
                    wo_lots,
                    lots,
                )
                eol_pass[in_idx] = results["pass"]
                scrap = ~results["pass"]
                done_units = in_idx[finished_mask]
                out.tests.append(
                    {
                        "serial": serials[done_units],
                        "machine": np.full(done_units.size, mi),
                        "time": unit_time[mi][done_units],
                        **{key: value[finished_mask] for key, value in results.items()},
                    }
                )
            op_product.append(product.index)
            scrapped_now = scrap & finished_mask
            status[in_idx[scrapped_now]] = 1
            alive[in_idx[scrapped_now]] = False
            # units not yet processed at the end of the horizon stop here
            alive[in_idx[~finished_mask]] = False
            processed[mi] += n_done
            good[mi] += int((finished_mask & ~scrap).sum())
            ideal_minutes[mi] += n_done * ct
            end_minute = int(positions[done - 1]) + 1
            busy_windows[mi].append((int(positions[j0]), end_minute))
            last_product[mi] = product.index
            machine_free[mi] = end_minute if j_end <= positions.size else minutes
            prev_end = end_minute
            starts_now[k] = int(positions[j0])
            out.operations.append(
                {
                    "op_id": op_id,
                    "wo_number": wo_number,
                    "seq": machine.mtype.op_seq,
                    "machine": mi,
                    "start": int(positions[j0]),
                    "end": end_minute if j_end <= positions.size else None,
                    "setup_minutes": setup,
                    "qty_in": int(in_idx.size),
                    "qty_good": int((finished_mask & ~scrap).sum()),
                    "qty_scrap": int((finished_mask & scrap).sum()),
                    "params": params,
                }
            )
            if j_end > positions.size:
                completed = False
                break
        last = machines[-1].index
        complete_units = (unit_time[last] >= 0) & eol_pass & (status != 1)
        status[complete_units] = 0
        if completed:
            wo["status"] = "COMPLETED"
            wo["end"] = prev_end
        wo["qty_good"] = int(complete_units.sum())
        out.work_orders.append(wo)
        start_history = [start_history[-1], starts_now]
        if serials is None:
            continue
        started = created >= 0
        out.serial_no.append(serials[started])
        out.serial_wo.append(np.full(int(started.sum()), len(out.work_orders) - 1))
        out.serial_created.append(created[started])
        out.serial_status.append(status[started])
        out.serial_product.append(np.full(int(started.sum()), product.index))
        done_units = np.flatnonzero(complete_units)
        finish = unit_time[last][done_units]
        out.finished.append((product.index, serials[done_units], finish))
        bad_lots = [lot for lot in wo_lots.values() if lot in lots.bad]
        for lot in bad_lots:
            out.bad_lot_serials.setdefault(lot, []).extend(serials[started].tolist())
        _latent(
            rng,
            out,
            product,
            done_units,
            serials,
            finish,
            unit_time,
            health,
            by_type,
            force,
            bad_lots,
            lots,
            grid.minutes,
        )
        _audits(rng, out, product, done_units, serials, unit_time, health, by_type, line)

    for machine in machines:
        mi = machine.index
        s = state[mi]
        busy = np.zeros(minutes, dtype=bool)
        for start, stop in busy_windows[mi]:
            busy[start:stop] = True
        minor = out.minor_reasons[mi] >= 0
        s[minor & busy] = MINOR_STOP
        out.minor_reasons[mi][~(minor & busy)] = -1
        setpoint_values = np.array(op_setpoint + [np.nan], dtype=np.float32)
        product_values = np.array(op_product + [-1], dtype=np.int8)
        out.setpoints[mi] = setpoint_values[op_of_minute[mi]]
        out.products[mi] = product_values[op_of_minute[mi]]
        out.states[mi] = s
        out.oee[mi] = true_oee(s, shift, processed[mi], good[mi], ideal_minutes[mi])
    out.health = health
    _open_orders(rng, out, line, products, shares, wo_seq, world.site, minutes)
    return out


def true_oee(
    state: np.ndarray, shift: np.ndarray, processed: int, good: int, ideal_minutes: float
) -> dict[str, float]:
    """OEE of one machine after ISO 22400, with the time losses behind it.

    Planned busy time is the shift time less planned maintenance; changeovers, minor stops,
    breakdowns, waiting for parts and starvation are availability losses.

    Args:
        state: The machine's state code for every minute.
        shift: Whether each minute is inside a planned shift.
        processed: Units the machine processed.
        good: Units that passed the machine's operation.
        ideal_minutes: Units processed times their ideal cycle times.

    Returns:
        Minutes per state, counts, availability, performance, quality and OEE.
    """
    planned = int((shift & (state != PLANNED_MAINTENANCE)).sum())
    running = int((state == RUNNING).sum())
    availability = running / planned if planned else 0.0
    performance = ideal_minutes / running if running else 0.0
    quality = good / processed if processed else 0.0
    return {
        "planned_minutes": planned,
        "running_minutes": running,
        "setup_minutes": int((state == SETUP).sum()),
        "minor_stop_minutes": int((state == MINOR_STOP).sum()),
        "breakdown_minutes": int((shift & (state == BREAKDOWN)).sum()),
        "waiting_spare_minutes": int((shift & (state == WAITING_SPARE)).sum()),
        "idle_minutes": int((state == IDLE).sum()),
        "units_processed": processed,
        "units_good": good,
        "ideal_minutes": round(ideal_minutes, 3),
        "availability": round(availability, 6),
        "performance": round(performance, 6),
        "quality": round(quality, 6),
        "oee": round(availability * performance * quality, 6),
    }


def _end_of_line(
    rng: np.random.Generator,
    product,
    units: np.ndarray,
    tension: float,
    force: np.ndarray,
    unit_time: dict[int, np.ndarray],
    health: dict[int, np.ndarray],
    by_type: dict,
    wo_lots: dict[int, int],
    lots: LotPlan,
) -> dict[str, np.ndarray]:
    """End-of-line measurements of ``units`` and whether each passes."""
    n = units.size

    def machine_health(code: str) -> np.ndarray:
        machine = by_type.get(code)
        if machine is None:
            return np.zeros(n)
        return health[machine.index][np.maximum(unit_time[machine.index][units], 0)].astype(float)

    d_lth, d_wnd, d_prs = machine_health("LTH"), machine_health("WND"), machine_health("PRS")
    z_t = (tension - product.tension_opt) / product.tension_scale
    f = force[units]
    z_f = np.where(np.isnan(f), 0.0, (f - product.force_opt) / product.force_scale)
    kinds = {lots.bad[lot] for lot in wo_lots.values() if lot in lots.bad}
    bad = float("bearing" in kinds)
    leaky = float("seal" in kinds)
    efficiency = (
        product.efficiency_nominal
        - 1.2 * z_t**2
        - 0.9 * z_f**2
        - 0.4 * z_t * z_f
        - 2.5 * d_wnd
        - 0.8 * d_lth
        + rng.normal(0, 0.6, n)
    )
    noise = product.noise_nominal + 3.0 * d_lth + 2.0 * d_prs + 0.3 * np.abs(z_f)
    noise = noise + 3.5 * bad + rng.normal(0, 0.8, n)
    leak = rng.lognormal(0.4, 0.45, n) * (1 + 0.6 * np.maximum(np.abs(z_f) - 1.5, 0))
    leak = leak * (1 + 1.2 * leaky)
    insulation = rng.lognormal(np.log(520), 0.3, n) * (1 - 0.6 * d_wnd)
    flow = product.regime["flow"] * efficiency / product.efficiency_nominal + rng.normal(0, 0.4, n)
    passed = (
        (efficiency >= product.efficiency_nominal - 6.5)
        & (noise <= product.noise_nominal + 7.0)
        & (leak <= 6.0)
        & (insulation >= 100)
    )
    return {
        "flow_lpm": np.round(flow, 2),
        "efficiency_pct": np.round(efficiency, 2),
        "noise_dba": np.round(noise, 1),
        "leak_ml_min": np.round(leak, 2),
        "insulation_mohm": np.round(insulation, 0),
        "pass": passed,
    }


def _latent(
    rng: np.random.Generator,
    out: LineOutput,
    product,
    units: np.ndarray,
    serials: np.ndarray,
    finish: np.ndarray,
    unit_time: dict[int, np.ndarray],
    health: dict[int, np.ndarray],
    by_type: dict,
    force: np.ndarray,
    bad_lots: list[int],
    lots: LotPlan,
    horizon: int,
) -> None:
    """Draw field lives of good units; keep those that can fail within the horizon."""
    n = units.size
    if n == 0:
        return
    lives = {}
    shape, scale = FIELD_LIFE["none"]
    lives["none"] = rng.weibull(shape, n) * scale
    lot_of = {}
    for lot in bad_lots:
        key = "supplier_lot" if lots.bad[lot] == "bearing" else "supplier_lot_seal"
        shape, scale = FIELD_LIFE[key]
        lives[f"lot:{lot}"] = rng.weibull(shape, n) * scale
        lot_of[f"lot:{lot}"] = lot
    degraded_machine = np.full(n, -1)
    for code in ("LTH", "PRS"):
        machine = by_type.get(code)
        if machine is None:
            continue
        d = health[machine.index][np.maximum(unit_time[machine.index][units], 0)]
        degraded_machine = np.where(
            (d > DEGRADED_HEALTH) & (degraded_machine < 0), machine.index, degraded_machine
        )
    shape, scale = FIELD_LIFE["degraded_machine"]
    lives["degraded_machine"] = np.where(
        degraded_machine >= 0, rng.weibull(shape, n) * scale, np.inf
    )
    z_f = (force[units] - product.force_opt) / product.force_scale
    window = np.abs(np.nan_to_num(z_f)) > FORCE_WINDOW_Z
    shape, scale = FIELD_LIFE["process_out_of_window"]
    lives["process_out_of_window"] = np.where(window, rng.weibull(shape, n) * scale, np.inf)
    names = list(lives)
    matrix = np.vstack([lives[name] for name in names])
    best = np.argmin(matrix, axis=0)
    life_days = matrix[best, np.arange(n)]
    keep = np.flatnonzero(life_days * DAY < horizon - finish)
    for i in keep:
        name = names[best[i]]
        cause = "supplier_lot" if name.startswith("lot:") else name
        out.candidates.append(
            {
                "serial": int(serials[units[i]]),
                "product": product.index,
                "finish": int(finish[i]),
                "life_minutes": int(life_days[i] * DAY),
                "cause": cause,
                "lot": lot_of.get(name),
                "mode": _failure_mode(name, lots, lot_of),
                "machine": int(degraded_machine[i]) if cause == "degraded_machine" else None,
                "force_z": round(float(z_f[i]), 3) if cause == "process_out_of_window" else None,
            }
        )


def _failure_mode(name: str, lots: LotPlan, lot_of: dict[str, int]) -> str:
    """The symptom a customer sees for a latent cause (different causes can look alike)."""
    if name in lot_of:
        return "noise" if lots.bad[lot_of[name]] == "bearing" else "leak"
    return {
        "degraded_machine": "vibration",
        "process_out_of_window": "leak",
        "none": "electrical",
    }[name]


def _audits(
    rng: np.random.Generator,
    out: LineOutput,
    product,
    units: np.ndarray,
    serials: np.ndarray,
    unit_time: dict[int, np.ndarray],
    health: dict[int, np.ndarray],
    by_type: dict,
    line,
) -> None:
    """Quality audits of a sample of finished units: shaft runout measured in the lab."""
    lathe = by_type.get("LTH")
    if lathe is None or units.size == 0:
        return
    sample = units[rng.random(units.size) < 1 / 60]
    for unit in sample:
        t = int(unit_time[lathe.index][unit])
        d = float(health[lathe.index][max(t, 0)])
        runout = 8.0 + 26.0 * d + rng.normal(0, 2.0)
        out.audits.append(
            {
                "serial": int(serials[unit]),
                "product": product.index,
                "machine": lathe.index,
                "line": line.index,
                "time": t + int(rng.integers(60, 3 * DAY)),
                "characteristic": "Shaft runout",
                "value": round(runout, 1),
                "unit": "µm",
                "usl": 30.0,
            }
        )


def _open_orders(
    rng: np.random.Generator,
    out: LineOutput,
    line,
    products: list,
    shares: np.ndarray,
    wo_seq: int,
    site: Site,
    horizon: int,
) -> None:
    """Future work orders of the next two weeks, released but not started: the planner's input."""
    t = horizon
    for k in range(6 + 2 * len(products)):
        i = k % len(products)
        product = products[i]
        qty = int(
            np.clip(round(shares[i] * len(products) * rng.uniform(110, 190) / 10) * 10, 40, 320)
        )
        wo_seq += 1
        release = t + int(rng.integers(0, DAY))
        wo_number, erp_order = order_numbers(site, line.number, wo_seq)
        out.open_orders.append(
            {
                "wo_number": wo_number,
                "erp_order": erp_order,
                "line": line.index,
                "product": product.index,
                "qty_planned": qty,
                "release": release,
                "due": release + int(rng.uniform(4, 12) * DAY),
                "priority": int(rng.integers(1, 4)),
            }
        )
        t += int(DAY * rng.uniform(0.6, 1.4))
