"""Production of the gear plant: orders through four work centres, units, batches, tests.

Every line runs SAP production orders of its products in a levelled rotation, released at the
pace of its bottleneck (the run-in test bench). An order moves through the routing as one batch
(machining centre, gear grinder, assembly press, test bench): an operation needs available minutes
on its machine (in a shift, not in maintenance or repair) for its setup, its run (``quantity x
cycle time / speed``) and its minor stops. Machine states follow SEMI E10 (productive, standby,
scheduled down for setup or preventive maintenance, unscheduled down for minor stops, repairs and
waiting for parts, non-scheduled outside shifts).

Units get their serial number at the first operation. At the assembly press each unit takes its
housing, gear set, shaft, two bearings of each size and two seals from the batches on the line,
first in first out across the plant, so an order of 40 units usually spans two or three batches
of a bearing: the genealogy of a unit is its own, not its order's. Test results at the end of the
line come last, once the batches are known (the bad bearing batch is louder).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from factorybrain.simulate._sap_pi._calendar import DAY, Calendar
from factorybrain.simulate._sap_pi._maintenance import MaintenancePlan
from factorybrain.simulate._sap_pi._world import ROUTING, World

# SEMI E10 states (with the reason the MES gives), as minute codes
NON_SCHEDULED, STANDBY, PRODUCTIVE, SETUP, MINOR_STOP, PM, REPAIR, MAINT_DELAY = range(8)
E10 = {
    NON_SCHEDULED: ("NON_SCHEDULED", "NO_SHIFT", "No shift planned"),
    STANDBY: ("STANDBY", "NO_WORK", "No order or no parts from upstream"),
    PRODUCTIVE: ("PRODUCTIVE", "RUN", "Regular production"),
    SETUP: ("SCHEDULED_DOWN", "SETUP", "Setup / changeover"),
    MINOR_STOP: ("UNSCHEDULED_DOWN", "MINOR_STOP", "Minor stop"),
    PM: ("SCHEDULED_DOWN", "PM", "Preventive maintenance"),
    REPAIR: ("UNSCHEDULED_DOWN", "REPAIR", "Repair"),
    MAINT_DELAY: ("UNSCHEDULED_DOWN", "MAINT_DELAY", "Waiting for spare parts"),
}
MINOR_STOP_REASONS = (
    ("JAM", "Part jammed in fixture"),
    ("TOOL", "Tool change / tool breakage"),
    ("SENSOR", "Sensor fault reset"),
    ("MATERIAL", "Missing component at station"),
)
#: the bottleneck is planned at this load, so the line has slack to catch up after a repair
PLANNED_LOAD = 0.9
#: test-bench noise limit (dB(A)) and the bad bearing batch's extra noise
NOISE_LIMIT = 73.0
BAD_LOT_NOISE_DB = 2.6
GRINDER_WEAR_NOISE_DB = 1.5
ORDER_SIZES = (24, 32, 40, 48, 56)


@dataclass
class Operation:
    """One operation of a production order on its machine."""

    op_index: int
    machine: int
    start: int
    end: int | None
    setup: int
    qty_in: int
    good: int = 0
    scrap: int = 0
    stop_minutes: int = 0
    stops: list[tuple[int, int, int]] = field(default_factory=list)


@dataclass
class Order:
    """A production order and what happened to each of its units."""

    index: int
    line: int
    product: int
    qty: int
    created: int
    release: int
    plan_start: int
    plan_end: int
    priority: int
    aufnr: int = 0
    ops: list[Operation] = field(default_factory=list)
    #: minute each unit finished each operation (-1: not reached), shape (4, qty)
    unit_done: np.ndarray = field(default_factory=lambda: np.zeros((4, 0), dtype=np.int64))
    #: operation at which a unit was scrapped (-1: not scrapped)
    scrapped_at: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int8))
    #: grinder health while the unit was ground
    grind_health: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    #: global unit numbers (serial counter), -1 for units never started
    serial: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    noise: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float64))
    torque: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float64))
    oil_temp: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float64))
    test_pass: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    #: nameplate serial of each unit ("" for units never started)
    serial_texts: list[str] = field(default_factory=list)

    @property
    def started(self) -> bool:
        """Whether the first operation started inside the horizon."""
        return bool(self.ops)

    @property
    def finished(self) -> bool:
        """Whether the last operation finished inside the horizon."""
        return len(self.ops) == len(ROUTING) and self.ops[-1].end is not None


@dataclass
class LineRun:
    """The minute-level history of one line's machines."""

    states: dict[int, np.ndarray]
    products: dict[int, np.ndarray]
    health: dict[int, np.ndarray]


def plan_orders(
    world: World, calendar: Calendar, line_index: int, rng: np.random.Generator
) -> list[Order]:
    """The orders of one line, released at the pace of its test bench.

    Orders are drawn until one would be created after the end of the horizon.

    Args:
        world: The static plant.
        calendar: The local calendar.
        line_index: Which line.
        rng: The line's random generator.

    Returns:
        Orders in release order, not yet simulated.
    """
    line = world.lines[line_index]
    shift = calendar.shifts[line.shift_model]
    shift_cum = np.concatenate(([0], np.cumsum(shift, dtype=np.int64)))
    capacity_per_day = max(float(shift_cum[-1]) / max(calendar.minutes / DAY, 1), 1.0)
    products = line.product_indices
    shares = np.array([world.products[p].demand_share for p in products], dtype=np.float64)
    shares /= shares.sum()
    orders: list[Order] = []
    position = 0.0
    previous = -1
    while True:
        product = int(products[int(rng.choice(len(products), p=shares))])
        if len(orders) >= 2 and product == previous and rng.random() < 0.6:
            product = int(products[(products.index(product) + 1) % len(products)])
        qty = int(ORDER_SIZES[int(rng.integers(len(ORDER_SIZES)))])
        ct = world.products[product].cycle_min
        setup = 15 if product != previous else 5
        bottleneck = (setup + qty * ct["TB"] * 1.12) / PLANNED_LOAD
        upstream = sum(qty * ct[k] * 1.1 + 30 for k in ("MC", "GR", "PR"))
        release_pos = max(position - upstream, 0.0)
        release = _at_shift_position(shift_cum, release_pos, calendar.minutes, capacity_per_day)
        plan_start = _at_shift_position(shift_cum, position, calendar.minutes, capacity_per_day)
        plan_end = _at_shift_position(
            shift_cum, position + bottleneck, calendar.minutes, capacity_per_day
        )
        created = release - int(rng.uniform(5, 12) * DAY)
        if created >= calendar.minutes:
            break
        orders.append(
            Order(
                index=len(orders),
                line=line_index,
                product=product,
                qty=qty,
                created=created,
                release=release,
                plan_start=plan_start,
                plan_end=plan_end,
                priority=int(rng.choice([1, 2, 2, 3, 3, 3])),
            )
        )
        position += bottleneck
        previous = product
    return orders


def _at_shift_position(shift_cum: np.ndarray, position: float, minutes: int, per_day: float) -> int:
    """The minute at which the line has worked ``position`` shift minutes.

    Beyond the horizon the line is assumed to work its average shift minutes per day.
    """
    if position >= shift_cum[-1]:
        return minutes + int((position - shift_cum[-1]) / per_day * DAY)
    return int(np.searchsorted(shift_cum, position, side="right")) - 1


def simulate_line(
    world: World,
    calendar: Calendar,
    maintenance: MaintenancePlan,
    line_index: int,
    orders: list[Order],
    rng: np.random.Generator,
) -> LineRun:
    """Run one line's orders through its four machines, minute by minute.

    Fills each order's operations, unit times and scrap at the first three operations (the
    test result comes later, see :func:`test_units`).

    Args:
        world: The static plant.
        calendar: The local calendar.
        maintenance: Down times of every machine.
        line_index: Which line.
        orders: The line's orders from :func:`plan_orders`.
        rng: The line's random generator.

    Returns:
        The E10 state, product and health of every machine for every minute.
    """
    minutes = calendar.minutes
    line = world.lines[line_index]
    shift = calendar.shifts[line.shift_model]
    machine_ids = line.machine_indices
    states: dict[int, np.ndarray] = {}
    product_of: dict[int, np.ndarray] = {}
    health: dict[int, np.ndarray] = {}
    avail: dict[int, np.ndarray] = {}
    cum: dict[int, np.ndarray] = {}
    for mi in machine_ids:
        st = np.where(shift, STANDBY, NON_SCHEDULED).astype(np.int8)
        av = shift.copy()
        for a, b, kind in maintenance.down(mi):
            a, b = max(a, 0), min(b, minutes)
            if b <= a:
                continue
            if kind == "pm":
                st[a:b] = PM
            else:
                window = shift[a:b]
                st[a:b][window] = MAINT_DELAY if kind == "wait" else REPAIR
            av[a:b] = False
        states[mi] = st
        avail[mi] = av
        cum[mi] = np.concatenate(([0], np.cumsum(av, dtype=np.int64)))
        product_of[mi] = np.full(minutes, -1, dtype=np.int8)
        health[mi] = maintenance.health(mi, minutes)

    last_end = [0] * len(ROUTING)
    last_product = [-1] * len(ROUTING)
    for order in orders:
        product = world.products[order.product]
        order.unit_done = np.full((len(ROUTING), order.qty), -1, dtype=np.int64)
        order.scrapped_at = np.full(order.qty, -1, dtype=np.int8)
        order.grind_health = np.zeros(order.qty, dtype=np.float32)
        alive = np.ones(order.qty, dtype=bool)
        ready: int | None = order.release
        for k, code in enumerate(ROUTING):
            mi = machine_ids[k]
            machine = world.machines[mi]
            if ready is None or ready >= minutes or last_end[k] >= minutes:
                break
            start = max(ready, last_end[k])
            c_start = int(cum[mi][start])
            if c_start >= cum[mi][-1]:
                break
            t0 = int(np.searchsorted(cum[mi], c_start + 1, side="left")) - 1
            big, small = machine.mtype.setup_minutes
            setup = big if order.product != last_product[k] else small
            setup = max(1, int(round(setup * rng.uniform(0.8, 1.25))))
            units = np.flatnonzero(alive)
            speed = rng.uniform(0.9, 0.97)
            per_unit = product.cycle_min[code] / speed
            run_total = units.size * per_unit
            run_minutes = int(np.ceil(run_total))
            n_stops = int(rng.poisson(run_total / 110.0))
            positions = np.sort(rng.integers(0, max(run_minutes, 1), size=n_stops))
            lengths = rng.integers(2, 10, size=n_stops)
            work = setup + run_minutes + int(lengths.sum())
            end_index = int(np.searchsorted(cum[mi], c_start + work, side="left"))
            finished = end_index <= minutes and c_start + work <= cum[mi][-1]
            end = end_index if finished else None
            av_idx = np.flatnonzero(avail[mi][t0 : (end_index if finished else minutes)]) + t0
            labels = np.full(work, PRODUCTIVE, dtype=np.int8)
            labels[:setup] = SETUP
            stop_offsets = setup + positions + np.concatenate(([0], np.cumsum(lengths)[:-1]))
            stops = []
            for offset, length in zip(stop_offsets.tolist(), lengths.tolist(), strict=True):
                labels[offset : offset + length] = MINOR_STOP
                if offset < av_idx.size:
                    stops.append((int(av_idx[offset]), int(length), int(rng.integers(4))))
            placed = min(av_idx.size, work)
            states[mi][av_idx[:placed]] = labels[:placed]
            product_of[mi][av_idx[:placed]] = order.product
            # unit u finishes after (u + 1) x per_unit run minutes, plus the stops before it
            run_done = np.ceil((np.arange(units.size) + 1) * per_unit - 1e-9).astype(np.int64)
            stops_before = np.searchsorted(positions, run_done, side="left")
            cum_lengths = np.concatenate(([0], np.cumsum(lengths)))
            index = setup + run_done - 1 + cum_lengths[stops_before]
            done_minute = np.where(
                index < av_idx.size, av_idx[np.minimum(index, av_idx.size - 1)], -1
            )
            order.unit_done[k, units] = done_minute
            processed = done_minute >= 0
            if code == "GR":
                d = health[mi][np.clip(done_minute, 0, minutes - 1)]
                order.grind_health[units] = np.where(processed, d, 0.0)
            scrap_p = machine.mtype.scrap + (
                0.02 * order.grind_health[units] if code == "GR" else 0
            )
            scrapped = processed & (rng.random(units.size) < scrap_p)
            order.scrapped_at[units[scrapped]] = k
            alive[units[scrapped]] = False
            alive[units[~processed]] = False
            operation = Operation(
                op_index=k,
                machine=mi,
                start=t0,
                end=end,
                setup=setup,
                qty_in=int(units.size),
                good=int((processed & ~scrapped).sum()),
                scrap=int(scrapped.sum()),
                stop_minutes=int(lengths.sum()),
                stops=stops,
            )
            order.ops.append(operation)
            last_product[k] = order.product
            if end is None:
                last_end[k] = minutes
                break
            last_end[k] = end
            ready = end
    return LineRun(states=states, products=product_of, health=health)


def assign_serials(orders: list[Order], start_s: int) -> int:
    """Number every unit that finished its first operation, in the order the plant engraved them.

    The nameplate serial is ``DG`` + the year its housing was machined (two digits) + a six-digit
    counter that runs on across the years.

    Args:
        orders: Every order, simulated.
        start_s: Epoch second of minute 0.

    Returns:
        How many serials were given.
    """
    stamps = []
    for oi, order in enumerate(orders):
        order.serial = np.full(order.qty, -1, dtype=np.int64)
        done = order.unit_done[0]
        for u in np.flatnonzero(done >= 0).tolist():
            stamps.append((int(done[u]), oi, int(u)))
    stamps.sort()
    for number, (_, oi, u) in enumerate(stamps):
        orders[oi].serial[u] = number
    for order in orders:
        years = (
            (start_s + 60 * order.unit_done[0]).astype("datetime64[s]").astype("datetime64[Y]")
        ).astype(np.int64) + 1970
        order.serial_texts = [
            f"DG{int(y) % 100:02d}{int(n) + 4711:06d}" if n >= 0 else ""
            for y, n in zip(years.tolist(), order.serial.tolist(), strict=True)
        ]
    return len(stamps)


@dataclass
class Lot:
    """A supplier batch: SAP batch (CHARG), the supplier's batch (LICHA), receipt, use."""

    index: int
    material: int
    charg: int
    licha: str
    quantity: int
    received: int
    first_use: int | None = None
    last_use: int | None = None
    used: int = 0
    bad: bool = False
    rejected: bool = False
    returned: int | None = None
    po_no: int = 0
    mblnr_index: int = -1


@dataclass
class LotBook:
    """Every batch of the horizon, each unit's batches and each order's consumption."""

    lots: list[Lot]
    #: (order index, unit, material) -> lots the unit took pieces from
    unit_lots: dict[tuple[int, int, int], list[int]]
    #: (order index, material, lot) -> pieces, and the minute of the posting
    consumption: dict[tuple[int, int, int], float]
    posted: dict[int, int]
    bad_lot: int | None
    rejected_lot: int | None
    #: order index -> (material, lot, pieces)
    by_order: dict[int, list[tuple[int, int, float]]] = field(default_factory=dict)


def _lot_text(fmt: str, minute_epoch: int, n: int) -> str:
    day = np.datetime64(int(minute_epoch), "s").astype(object)
    return fmt.format(
        yy=f"{day.year % 100:02d}",
        mm=f"{day.month:02d}",
        ww=f"{day.isocalendar()[1]:02d}",
        n=n,
    )


def assign_lots(
    world: World, calendar: Calendar, orders: list[Order], rng: np.random.Generator
) -> LotBook:
    """Give every assembled unit its batches, first in first out across the plant.

    Batches arrive on working days two to eight days before they are first needed (batches
    received before the horizon are opening stock). One batch of 32208 bearings received at about
    a third of the horizon is bad; one housing batch at mid-horizon is rejected at goods receipt
    and returned. Each material keeps one fresh batch on the shelf at the end.

    Args:
        world: The static plant.
        calendar: The local calendar.
        orders: Every order of every line, simulated.
        rng: Random generator of the batches.

    Returns:
        The batches and the genealogy.
    """
    minutes = calendar.minutes
    needs: list[tuple[int, int, int]] = []
    posted: dict[int, int] = {}
    for oi, order in enumerate(orders):
        if len(order.ops) < 3 or order.ops[2].end is None:
            continue
        posted[oi] = int(order.ops[2].end)
        done = order.unit_done[2]
        for u in np.flatnonzero(done >= 0).tolist():
            needs.append((int(done[u]), oi, int(u)))
    needs.sort()
    lots: list[Lot] = []
    counters: dict[int, int] = {}
    charg = [4_700_000 + int(rng.integers(0, 5000))]
    unit_lots: dict[tuple[int, int, int], list[int]] = {}
    consumption: dict[tuple[int, int, int], float] = {}
    current: dict[int, int] = {}
    last_receipt: dict[int, int] = {}
    bad_lot: int | None = None
    rejected_lot: int | None = None
    bad_material = world.material("KRL-32208").index
    reject_material = world.material("HSG-HG").index

    def new_lot(material: int, need_at: int, rejected: bool = False) -> int:
        mat = world.materials[material]
        supplier = world.suppliers[mat.supplier]
        receipt = need_at - int(rng.uniform(2.0, 8.0) * DAY)
        receipt = _receiving_slot(calendar, receipt, rng)
        receipt = max(receipt, last_receipt.get(material, -(10**9)) + 5)
        receipt = min(receipt, need_at)
        last_receipt[material] = receipt
        # a supplier numbers its batches with one counter, whatever the material
        counters[mat.supplier] = counters.get(mat.supplier, int(rng.integers(100, 900))) + int(
            rng.integers(1, 4)
        )
        charg[0] += int(rng.integers(1, 6))
        low, high = mat.lot_size
        quantity = int(round(rng.integers(low, high + 1) / 10.0) * 10)
        lot = Lot(
            index=len(lots),
            material=material,
            charg=charg[0],
            licha=_lot_text(supplier.lot_format, calendar.epoch(receipt), counters[mat.supplier]),
            quantity=quantity,
            received=receipt,
            rejected=rejected,
        )
        lots.append(lot)
        return lot.index

    for t, oi, u in needs:
        order = orders[oi]
        for material, per_unit in world.products[order.product].bom:
            mat = world.materials[material]
            if not mat.batch:
                continue
            remaining = per_unit
            taken: list[int] = []
            while remaining > 1e-9:
                li = current.get(material)
                if li is None or lots[li].used >= lots[li].quantity:
                    if (
                        material == reject_material
                        and rejected_lot is None
                        and t >= 0.5 * minutes
                        and minutes >= 40 * DAY
                    ):
                        rejected_lot = new_lot(material, t - 3 * DAY, rejected=True)
                        lots[rejected_lot].returned = lots[rejected_lot].received + 2 * DAY
                    li = new_lot(material, t)
                    if material == bad_material and bad_lot is None and t >= 0.35 * minutes:
                        bad_lot = li
                        lots[li].bad = True
                    current[material] = li
                lot = lots[li]
                piece = min(remaining, lot.quantity - lot.used)
                lot.used += int(round(piece))
                lot.first_use = t if lot.first_use is None else lot.first_use
                lot.last_use = t
                remaining -= piece
                taken.append(li)
                key = (oi, material, li)
                consumption[key] = consumption.get(key, 0.0) + piece
            unit_lots[(oi, u, material)] = taken
    # a fresh batch of every batch-managed material waits on the shelf at the end
    for mat in world.materials:
        if mat.batch:
            new_lot(mat.index, minutes - int(rng.uniform(0.5, 3.0) * DAY))
    lots.sort(key=lambda lot: (lot.received, lot.material, lot.index))
    remap = {lot.index: i for i, lot in enumerate(lots)}
    for i, lot in enumerate(lots):
        lot.index = i
    unit_lots = {k: [remap[li] for li in v] for k, v in unit_lots.items()}
    consumption = {(oi, m, remap[li]): q for (oi, m, li), q in consumption.items()}
    by_order: dict[int, list[tuple[int, int, float]]] = {}
    for (oi, m, li), q in sorted(consumption.items()):
        by_order.setdefault(oi, []).append((m, li, q))
    return LotBook(
        lots=lots,
        unit_lots=unit_lots,
        consumption=consumption,
        posted=posted,
        bad_lot=None if bad_lot is None else remap[bad_lot],
        rejected_lot=None if rejected_lot is None else remap[rejected_lot],
        by_order=by_order,
    )


def _receiving_slot(calendar: Calendar, minute: int, rng: np.random.Generator) -> int:
    """Goods arrive on working days between 07:00 and 13:00 local: the slot at or before."""
    if minute < 0:
        return minute
    day = int(calendar.day_index[min(minute, calendar.minutes - 1)])
    while day >= 0:
        d = calendar.days[day]
        if d.weekday() < 5 and not calendar.holiday[day] and not calendar.shutdown[day]:
            first = int(np.searchsorted(calendar.day_index, day, side="left"))
            slot = first + 7 * 60 + int(rng.integers(0, 360))
            if slot <= minute:
                return slot
        day -= 1
    return minute - DAY


def test_units(world: World, orders: list[Order], book: LotBook, rng: np.random.Generator) -> None:
    """The run-in test of every unit that reached the test bench: noise, torque, oil temperature.

    A unit fails above :data:`NOISE_LIMIT` dB(A) and is scrapped; the bad bearing batch adds
    :data:`BAD_LOT_NOISE_DB`, grinder wear adds up to :data:`GRINDER_WEAR_NOISE_DB`.
    """
    bad = book.bad_lot
    bearing = world.material("KRL-32208").index
    for oi, order in enumerate(orders):
        product = world.products[order.product]
        n = order.qty
        order.noise = np.zeros(n)
        order.torque = np.zeros(n)
        order.oil_temp = np.zeros(n)
        order.test_pass = np.zeros(n, dtype=bool)
        if len(order.ops) < 4:
            continue
        tested = order.unit_done[3] >= 0
        with_bad = np.array(
            [bad is not None and bad in book.unit_lots.get((oi, u, bearing), []) for u in range(n)]
        )
        noise = (
            product.noise_nominal
            + rng.normal(0.0, 1.1, n)
            + GRINDER_WEAR_NOISE_DB * order.grind_health
            + BAD_LOT_NOISE_DB * with_bad
        )
        order.noise = np.round(noise, 1)
        order.torque = np.round(product.torque_nm * rng.normal(1.0, 0.025, n), 1)
        order.oil_temp = np.round(58.0 + 6.0 * with_bad + rng.normal(0.0, 2.0, n), 1)
        order.test_pass = tested & (order.noise <= NOISE_LIMIT)
        failed = tested & ~order.test_pass
        order.scrapped_at[failed] = 3
        test = order.ops[3]
        done = order.unit_done[3] >= 0
        test.good = int((done & order.test_pass).sum())
        test.scrap = int((done & ~order.test_pass).sum())
