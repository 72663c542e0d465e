"""Equipment wear, failures, preventive maintenance and the spare-parts store that repairs wait on.

Each machine lives through *cycles*: after a reset (repair or preventive maintenance) its wearing
component has a Weibull time to failure. A few days before that failure a defect starts (the
*onset*): from then on its health index ``d`` rises from 0 to 1 as ``((t - onset) / (failure -
onset)) ** 1.5``, which the historian turns into vibration, temperature and current. Preventive
maintenance on a Saturday resets the cycle; a failure stops the machine until it is repaired, and
the repair needs the machine type's spare part: when the store is empty the machine waits for the
next delivery (a stock-out). All times are minutes from the start of the horizon.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

import numpy as np

from factorybrain.simulate._timegrid import TimeGrid
from factorybrain.simulate._world import World

PM_MINUTES = 240
DAY = 1440
#: Health index from which a defect shows in the data (``truth.json`` ``detectable_from``).
DETECTABLE_HEALTH = 0.1
#: Running minutes with the health index at or above :data:`DETECTABLE_HEALTH` that a defect
#: needs inside the horizon to count as observable: an idle machine shows no wear in its data.
OBSERVABLE_RUNNING_MINUTES = 60


@dataclass
class Cycle:
    """One life of a machine's wearing component between two resets."""

    start: int
    onset: int
    failure: int
    end: int
    end_kind: str


@dataclass
class Failure:
    """A breakdown: when, how long the machine waited for a part, when the repair ended."""

    machine: int
    time: int
    onset: int
    wait_minutes: int
    repair_end: int
    order_id: int


@dataclass
class StockOut:
    """A repair that found its spare part out of stock."""

    material: int
    machine: int
    start: int
    end: int


@dataclass
class SpareMovement:
    """A spare-part receipt (+) or issue (-) in the maintenance store."""

    material: int
    time: int
    quantity: int
    kind: str
    machine: int | None
    order_id: int | None


@dataclass
class MaintenancePlan:
    """Everything phase one decides about machine health and repairs."""

    cycles: list[list[Cycle]]
    failures: list[Failure]
    pms: list[tuple[int, int]]
    stockouts: list[StockOut]
    movements: list[SpareMovement]
    spare_policy: dict[int, dict[str, int]]
    pending: list[Cycle] = field(default_factory=list)
    pending_machine: list[int] = field(default_factory=list)

    def down_intervals(self, machine: int) -> list[tuple[int, int, str]]:
        """Down intervals of one machine: (start, end, kind) with kind breakdown/waiting/pm."""
        intervals = []
        for failure in self.failures:
            if failure.machine != machine:
                continue
            if failure.wait_minutes:
                intervals.append((failure.time, failure.time + failure.wait_minutes, "waiting"))
            intervals.append((failure.time + failure.wait_minutes, failure.repair_end, "breakdown"))
        for m, start in self.pms:
            if m == machine:
                intervals.append((start, start + PM_MINUTES, "pm"))
        return sorted(intervals)

    def health(self, machine: int, minutes: int) -> np.ndarray:
        """The health index ``d`` (0 healthy, 1 failed) of a machine for every minute."""
        d = np.zeros(minutes, dtype=np.float32)
        for cycle in self.cycles[machine]:
            lo, hi = max(cycle.onset, 0), min(cycle.end, minutes)
            if hi <= lo:
                continue
            t = np.arange(lo, hi, dtype=np.float64)
            span = max(cycle.failure - cycle.onset, 1)
            d[lo:hi] = np.clip((t - cycle.onset) / span, 0.0, 1.0) ** 1.5
        for failure in self.failures:
            if failure.machine == machine:
                d[max(failure.time, 0) : min(failure.repair_end, minutes)] = 1.0
        return d


@dataclass(frozen=True)
class Detectability:
    """What the data of one cycle can show: its defect while the machine runs.

    Attributes:
        first_running: First running minute of the cycle with the health index at or above
            :data:`DETECTABLE_HEALTH`, or None when the machine never ran so worn.
        running_minutes: Running minutes of the cycle at or above that health index.
    """

    first_running: int | None
    running_minutes: int

    @property
    def observable(self) -> bool:
        """Whether the defect runs long enough in the data to be seen at all."""
        return self.running_minutes >= OBSERVABLE_RUNNING_MINUTES


def cycle_detectability(
    cycles: list[Cycle], running: np.ndarray, health: np.ndarray
) -> list[Detectability]:
    """Per cycle, when and for how long its defect shows while the machine runs.

    Wear progresses with calendar time here, but sensors only show it under load: a machine
    that stands idle (no order, blocked by a broken neighbour, off shift) shows nothing, so a
    defect is detectable from the first *running* minute with the health index at or above
    :data:`DETECTABLE_HEALTH`, not from the calendar minute it reaches it.

    Args:
        cycles: The machine's cycles, as planned.
        running: Per minute of the horizon, whether the machine was running.
        health: Per minute of the horizon, the health index.

    Returns:
        One :class:`Detectability` per cycle, in the order of ``cycles``.
    """
    out = []
    minutes = running.size
    for cycle in cycles:
        lo, hi = max(cycle.onset, 0), min(cycle.end, minutes)
        if hi <= lo:
            out.append(Detectability(None, 0))
            continue
        shown = np.flatnonzero(running[lo:hi] & (health[lo:hi] >= DETECTABLE_HEALTH))
        first = int(lo + shown[0]) if shown.size else None
        out.append(Detectability(first, int(shown.size)))
    return out


def _next_saturday_morning(t: int, grid: TimeGrid) -> int:
    """First Saturday 06:00 local after minute ``t`` (the horizon starts on a Monday)."""
    day = max(t, 0) // DAY
    target = day + (5 - day % 7) % 7
    # local 06:00 is 05:00 UTC in winter and 04:00 UTC in summer
    minute = target * DAY + 5 * 60
    if 0 <= minute < grid.minutes and grid.local_hour[minute] != 6:
        minute -= 60
    if minute <= t:
        minute += 7 * DAY
    return minute


def _snap_to_shift(t: int, mask: np.ndarray) -> int:
    """Failures show up under load: a wear-out due off shift happens at the next shift start."""
    if t < 0 or t >= mask.size or mask[t]:
        return t
    ahead = np.flatnonzero(mask[t:])
    return t + int(ahead[0]) if ahead.size else t


def plan_maintenance(world: World, grid: TimeGrid, seed: int) -> MaintenancePlan:
    """Simulate wear, PM, failures and the spare-parts store over the horizon.

    Args:
        world: The static plant.
        grid: The minute calendar.
        seed: Seed of the draws.

    Returns:
        The cycles, failures, PMs, stock-outs and spare movements.
    """
    end = grid.minutes
    machines = world.machines
    rngs = [np.random.default_rng([seed, 202, m.index]) for m in machines]
    pm_interval = [int(m.mtype.pm_interval_days * DAY) for m in machines]
    first_pm = [
        _next_saturday_morning(int(rngs[m.index].uniform(0, pm_interval[m.index])), grid)
        for m in machines
    ]
    next_pm = list(first_pm)
    cycles: list[list[Cycle]] = [[] for _ in machines]
    pms: list[tuple[int, int]] = []
    # the machine that must be degrading when the horizon ends (the playbook's trigger)
    degradable = [m.index for m in machines if m.type_code in ("PRS", "LTH", "WND")]
    forced = degradable[0] if degradable and end >= 10 * DAY else None

    def next_failure(mi: int, start: int) -> tuple[int, int] | None:
        """Run cycles from ``start`` until one ends in a failure; returns (failure, onset)."""
        rng = rngs[mi]
        mtype = machines[mi].mtype
        mask = grid.shift_masks[world.lines[machines[mi].line - 1].shifts]
        s = start
        while True:
            ttf = int(rng.weibull(2.0) * mtype.ttf_scale_days * DAY)
            window = int(rng.uniform(5.0, 10.0) * DAY)
            # a defect always has its whole window to show before the failure, and every machine
            # shows at least twelve healthy days before its first defect
            f = max(s + ttf, max(s, 0) + window + (12 * DAY if s < 0 else 2 * DAY))
            onset = f - window
            if mi == forced and f > end - 6 * DAY and s < end - 6 * DAY:
                onset = end - int(rng.uniform(2.5, 3.5) * DAY)
                f = end + int(rng.uniform(1.5, 3.5) * DAY)
                while next_pm[mi] <= f and next_pm[mi] < end + 30 * DAY:
                    if next_pm[mi] < onset:
                        pms.append((mi, next_pm[mi]))
                        cycles[mi].append(Cycle(s, onset, f, next_pm[mi], "pm"))
                        s = next_pm[mi] + PM_MINUTES
                    next_pm[mi] = _next_saturday_morning(next_pm[mi] + pm_interval[mi] - DAY, grid)
                cycles[mi].append(Cycle(s, onset, f, f, "failure"))
                return f, onset
            pm = next_pm[mi]
            if pm < f:
                pms.append((mi, pm))
                cycles[mi].append(Cycle(s, onset, f, pm, "pm"))
                next_pm[mi] = _next_saturday_morning(pm + pm_interval[mi] - DAY, grid)
                s = pm + PM_MINUTES
                if s >= end + 30 * DAY:
                    return None
                continue
            f = _snap_to_shift(f, mask)
            cycles[mi].append(Cycle(s, onset, f, f, "failure"))
            return f, onset

    heap: list[tuple[int, int, int]] = []
    for m in machines:
        age = int(rngs[m.index].uniform(0.0, 0.6) * m.mtype.ttf_scale_days * DAY)
        result = next_failure(m.index, -age)
        if result is not None:
            heapq.heappush(heap, (result[0], m.index, result[1]))

    by_part = {mat.part_number: mat.index for mat in world.materials}
    users: dict[int, int] = {}
    for m in machines:
        users[by_part[m.mtype.spare_part]] = users.get(by_part[m.mtype.spare_part], 0) + 1
    # expensive spares are not stocked (ordered when a machine breaks); cheaper ones keep one
    policy = {
        part: {
            "initial": 0 if world.materials[part].price_eur > 1500 else 1 + n // 8,
            "reorder_point": -1 if world.materials[part].price_eur > 1500 else 0,
            "order_quantity": 1 + n // 8,
        }
        for part, n in sorted(users.items())
    }
    stock = {part: p["initial"] for part, p in policy.items()}
    pipeline: dict[int, list[int]] = {part: [] for part in policy}
    movements: list[SpareMovement] = []
    failures: list[Failure] = []
    stockouts: list[StockOut] = []
    order_id = 0

    def receive_until(part: int, t: int) -> None:
        arrivals = pipeline[part]
        while arrivals and arrivals[0] <= t:
            arrival = arrivals.pop(0)
            qty = policy[part]["order_quantity"]
            stock[part] += qty
            movements.append(SpareMovement(part, arrival, qty, "receipt", None, None))

    while heap:
        f, mi, onset = heapq.heappop(heap)
        if f >= end:
            cycles_mi = cycles[mi]
            # a failure beyond the horizon whose defect has already started is pending
            if cycles_mi and cycles_mi[-1].onset < end:
                cycles_mi[-1].end = max(cycles_mi[-1].end, end)
            continue
        machine = machines[mi]
        part = by_part[machine.mtype.spare_part]
        lead = world.materials[part].lead_time_days * DAY
        receive_until(part, f)
        wait = 0
        if stock[part] <= 0:
            if not pipeline[part]:
                pipeline[part].append(f + lead)
                movements.append(
                    SpareMovement(part, f, policy[part]["order_quantity"], "order", mi, None)
                )
            arrival = pipeline[part][0]
            receive_until(part, arrival)
            wait = arrival - f
            stockouts.append(StockOut(part, mi, f, arrival))
        stock[part] -= 1
        order_id += 1
        movements.append(SpareMovement(part, f + wait, -1, "issue", mi, order_id))
        if (
            stock[part] + len(pipeline[part]) * policy[part]["order_quantity"]
            <= policy[part]["reorder_point"]
        ):
            pipeline[part].append(f + wait + lead)
            pipeline[part].sort()
            movements.append(
                SpareMovement(part, f + wait, policy[part]["order_quantity"], "order", mi, None)
            )
        repair = int(rngs[mi].uniform(*machine.mtype.repair_hours) * 60)
        failures.append(Failure(mi, f, onset, wait, f + wait + repair, order_id))
        result = next_failure(mi, f + wait + repair)
        if result is not None:
            heapq.heappush(heap, (result[0], mi, result[1]))
    for part in policy:
        receive_until(part, end - 1)
    movements = [mv for mv in movements if mv.time < end]
    pending, pending_machine = [], []
    for mi, machine_cycles in enumerate(cycles):
        for cycle in machine_cycles:
            if cycle.end_kind == "failure" and cycle.failure >= end and cycle.onset < end:
                pending.append(cycle)
                pending_machine.append(mi)
    failures.sort(key=lambda f: (f.time, f.machine))
    pms = sorted(p for p in pms if p[1] < end)
    return MaintenancePlan(
        cycles=cycles,
        failures=failures,
        pms=pms,
        stockouts=stockouts,
        movements=sorted(movements, key=lambda mv: (mv.time, mv.material)),
        spare_policy=policy,
        pending=pending,
        pending_machine=pending_machine,
    )
