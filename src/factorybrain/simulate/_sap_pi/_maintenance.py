"""The planted failure, sudden breakdowns, preventive maintenance and the spare-parts store.

One machine (the gear grinder of line 2) fails after the vibration of its grinding spindle has
drifted upward for about ten days; its power and coolant temperature stay normal. Its spare part
(a spindle cartridge) is not stocked, so the repair waits for an express delivery: the one true
stock-out of the horizon. Two presses burst a hydraulic hose without warning (their hose kit is
on the shelf). Every machine gets preventive maintenance every eight weeks on a Saturday morning.
All times are minutes from the start of the horizon.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from factorybrain.simulate._sap_pi._calendar import DAY, Calendar
from factorybrain.simulate._sap_pi._world import World

PM_MINUTES = 360
PM_INTERVAL_DAYS = 56
#: health index from which the drift shows (``detectable_from`` in the truth)
DETECTABLE_HEALTH = 0.1
#: running minutes at or above that health a defect needs to count as observable
OBSERVABLE_RUNNING_MINUTES = 60
#: the planted drift: vibration x (1 + DRIFT_GAIN d), d = ((t - onset) / span) ** 1.5
DRIFT_GAIN = 1.8


@dataclass
class Failure:
    """A breakdown of one machine."""

    machine: int
    time: int
    onset: int | None
    kind: str
    failure_mode: str
    spare: int
    wait_minutes: int
    repair_end: int
    order_no: int
    notification_no: int


@dataclass
class SpareMovement:
    """A spare-part order, receipt (+) or issue (-) of the maintenance store."""

    material: int
    time: int
    quantity: int
    kind: str
    machine: int | None
    order_no: int | None


@dataclass
class MaintenancePlan:
    """Everything decided about machine health before production is simulated."""

    failures: list[Failure]
    pms: list[tuple[int, int, int, int]]
    stockouts: list[tuple[int, int, int, int]]
    movements: list[SpareMovement]
    spare_policy: dict[int, dict[str, int]]
    planted: Failure | None
    stock_end: dict[int, int] = field(default_factory=dict)

    def down(self, machine: int) -> list[tuple[int, int, str]]:
        """Down intervals of a machine: (start, end, kind) with kind pm, wait or repair."""
        out = []
        for f in self.failures:
            if f.machine == machine:
                if f.wait_minutes:
                    out.append((f.time, f.time + f.wait_minutes, "wait"))
                out.append((f.time + f.wait_minutes, f.repair_end, "repair"))
        for m, start, end, _ in self.pms:
            if m == machine:
                out.append((start, end, "pm"))
        return sorted(out)

    def health(self, machine: int, minutes: int) -> np.ndarray:
        """Health index (0 healthy, 1 failed) of a machine for every minute."""
        d = np.zeros(minutes, dtype=np.float32)
        f = self.planted
        if f is None or f.machine != machine or f.onset is None:
            return d
        lo, hi = max(f.onset, 0), min(f.time, minutes)
        if hi > lo:
            t = np.arange(lo, hi, dtype=np.float64)
            d[lo:hi] = np.clip((t - f.onset) / (f.time - f.onset), 0.0, 1.0) ** 1.5
        d[max(f.time, 0) : min(f.repair_end, minutes)] = 1.0
        return d


def _shift_minute(calendar: Calendar, mask: np.ndarray, day: int, rng: np.random.Generator) -> int:
    """A minute inside a shift, on a working day at or after local day ``day``."""
    for d in range(day, len(calendar.days)):
        if calendar.days[d].weekday() >= 5:
            continue
        hits = np.flatnonzero((calendar.day_index == d) & mask)
        hits = hits[
            (calendar.minute_of_day[hits] >= 8 * 60) & (calendar.minute_of_day[hits] < 20 * 60)
        ]
        if hits.size:
            return int(hits[int(rng.integers(hits.size))])
    return -1


def plan_maintenance(world: World, calendar: Calendar, seed: int) -> MaintenancePlan:
    """Draw the planted failure, the sudden breakdowns, the preventive maintenance, the spares.

    Args:
        world: The static plant.
        calendar: The local calendar of the horizon.
        seed: Seed of the draws.

    Returns:
        The maintenance plan.
    """
    rng = np.random.default_rng([seed, 2201])
    minutes = calendar.minutes
    days = minutes // DAY
    failures: list[Failure] = []
    planted: Failure | None = None
    spare_of = {m.index: world.material(m.mtype.spare).index for m in world.machines}
    grinders = [m for m in world.machines if m.type_code == "GR"]
    target_line = 2 if len(world.lines) >= 2 else 1
    grinder = next(m for m in grinders if m.line == target_line)
    line_mask = calendar.shifts[world.lines[grinder.line - 1].shift_model]
    if days >= 30:
        failure_day = max(24, int(0.58 * days) + int(rng.integers(-3, 4)))
        t_fail = _shift_minute(calendar, line_mask, failure_day, rng)
        if 0 < t_fail < minutes:
            onset = t_fail - int(rng.uniform(9.6, 10.4) * DAY)
            planted = Failure(
                machine=grinder.index,
                time=t_fail,
                onset=onset,
                kind="degradation",
                failure_mode="grinding spindle bearing damage",
                spare=spare_of[grinder.index],
                wait_minutes=0,
                repair_end=0,
                order_no=0,
                notification_no=0,
            )
            failures.append(planted)
    presses = [m for m in world.machines if m.type_code == "PR"]
    if days >= 45:
        for k in range(min(2, len(presses))):
            press = presses[(k * 2 + 1) % len(presses)] if len(presses) > 1 else presses[0]
            mask = calendar.shifts[world.lines[press.line - 1].shift_model]
            day = int((0.2 + 0.45 * k) * days) + int(rng.integers(0, 10))
            t = _shift_minute(calendar, mask, day, rng)
            if 0 < t < minutes and not any(
                f.machine == press.index and abs(f.time - t) < 3 * DAY for f in failures
            ):
                failures.append(
                    Failure(
                        machine=press.index,
                        time=t,
                        onset=None,
                        kind="sudden",
                        failure_mode="hydraulic hose burst",
                        spare=spare_of[press.index],
                        wait_minutes=0,
                        repair_end=0,
                        order_no=0,
                        notification_no=0,
                    )
                )
    failures.sort(key=lambda f: (f.time, f.machine))

    users: dict[int, int] = {}
    for m in world.machines:
        users[spare_of[m.index]] = users.get(spare_of[m.index], 0) + 1
    policy = {}
    for part, n in sorted(users.items()):
        expensive = world.materials[part].price > 5000
        policy[part] = {
            "initial": 0 if expensive else 1 + n // 3,
            "reorder_point": -1 if expensive else 0,
            "order_quantity": 1 if expensive else 1 + n // 3,
        }
    stock = {part: p["initial"] for part, p in policy.items()}
    pipeline: dict[int, list[int]] = {part: [] for part in policy}
    movements: list[SpareMovement] = []
    stockouts: list[tuple[int, int, int, int]] = []

    def receive_until(part: int, t: int) -> None:
        while pipeline[part] and pipeline[part][0] <= t:
            arrival = pipeline[part].pop(0)
            qty = policy[part]["order_quantity"]
            stock[part] += qty
            movements.append(SpareMovement(part, arrival, qty, "receipt", None, None))

    order_no = 4_000_100
    notification_no = 300_000_100
    for f in failures:
        part = f.spare
        lead = world.materials[part].lead_days * DAY
        receive_until(part, f.time)
        order_no += int(rng.integers(3, 40))
        notification_no += int(rng.integers(5, 60))
        f.order_no = order_no
        f.notification_no = notification_no
        wait = 0
        if stock[part] <= 0:
            if not pipeline[part]:
                pipeline[part].append(f.time + lead)
                movements.append(
                    SpareMovement(
                        part, f.time, policy[part]["order_quantity"], "order", f.machine, order_no
                    )
                )
            arrival = pipeline[part][0]
            receive_until(part, arrival)
            wait = arrival - f.time
            stockouts.append((part, f.machine, f.time, arrival))
        stock[part] -= 1
        movements.append(SpareMovement(part, f.time + wait, -1, "issue", f.machine, order_no))
        if (
            stock[part] + len(pipeline[part]) * policy[part]["order_quantity"]
            <= policy[part]["reorder_point"]
        ):
            pipeline[part].append(f.time + wait + lead)
            pipeline[part].sort()
            movements.append(
                SpareMovement(
                    part,
                    f.time + wait,
                    policy[part]["order_quantity"],
                    "order",
                    f.machine,
                    order_no,
                )
            )
        hours = (8.0, 11.0) if f.kind == "degradation" else (3.0, 6.0)
        f.wait_minutes = wait
        f.repair_end = f.time + wait + int(rng.uniform(*hours) * 60)
    for part in policy:
        receive_until(part, minutes - 1)
    movements = [mv for mv in movements if mv.time < minutes]

    pms: list[tuple[int, int, int, int]] = []
    pm_order = 4_100_000
    for m in world.machines:
        phase = int(rng.integers(0, PM_INTERVAL_DAYS))
        day = phase
        while day < days:
            t = _saturday_morning(calendar, day)
            if t < 0 or t + PM_MINUTES > minutes:
                break
            blocked = any(
                f.machine == m.index
                and f.onset is not None
                and f.onset - 2 * DAY <= t + PM_MINUTES
                and t <= f.repair_end
                for f in failures
            ) or any(
                f.machine == m.index and f.time - DAY <= t + PM_MINUTES and t <= f.repair_end
                for f in failures
            )
            if not blocked:
                pm_order += int(rng.integers(2, 9))
                pms.append((m.index, t, t + PM_MINUTES, pm_order))
            day += PM_INTERVAL_DAYS
    pms.sort(key=lambda p: (p[1], p[0]))
    return MaintenancePlan(
        failures=failures,
        pms=pms,
        stockouts=stockouts,
        movements=sorted(movements, key=lambda mv: (mv.time, mv.material, mv.kind)),
        spare_policy=policy,
        planted=planted,
        stock_end=dict(stock),
    )


def _saturday_morning(calendar: Calendar, day: int) -> int:
    """06:00 local on the first Saturday at or after local day ``day`` outside the shutdown."""
    for d in range(day, len(calendar.days)):
        if calendar.days[d].weekday() == 5 and not calendar.shutdown[d]:
            hits = np.flatnonzero((calendar.day_index == d) & (calendar.minute_of_day == 360))
            if hits.size:
                return int(hits[0])
    return -1
