"""Plan the open work orders of the factory model, store the plan, and read it back.

:func:`plan_orders` loads the planner's view of the store, solves it with the scheduling engine
(total weighted tardiness, with a small makespan term so nothing drifts late for no reason) and
returns a :class:`PlanResult` in clock time. :func:`store_plan` writes it: ``planned_start`` and
``planned_end`` on every planned work order, and one ``operation`` row per planned step in the
``plan`` space (``status = 'planned'``; rows of an older plan become ``superseded``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd
import pyarrow as pa

from factorybrain.agents.planning._model import (
    Downtime,
    PlantModel,
    build_problem,
    load_plant_model,
)
from factorybrain.engines.schedule import (
    Machine,
    PlannedOperation,
    Problem,
    Schedule,
    Window,
    gantt_svg,
    solve,
)
from factorybrain.store import Store

#: Space of the planned operations written by :func:`store_plan`.
PLAN_SPACE = "plan"
#: Weight of the makespan (working minutes) against weighted tardiness (working minutes).
MAKESPAN_WEIGHT = 0.05
#: Cost per working minute an operation's start moves when re-planning (stability).
SHIFT_WEIGHT = 0.02


@dataclass
class PlanResult:
    """A plan of the open work orders, in clock time.

    Attributes:
        model: What the plan was built from.
        problem: The scheduling problem (working minutes per line).
        schedule: The engine's answer (working minutes).
        operations: ``work_order, sequence, machine, line, start, end`` (naive UTC).
        orders: Per planned order ``external_id, space, line, product, quantity, due_at,
            planned_start, planned_end, tardiness_hours, weight``.
        seconds: Wall-clock seconds of loading and solving.
    """

    model: PlantModel
    problem: Problem
    schedule: Schedule
    operations: pd.DataFrame
    orders: pd.DataFrame
    seconds: float = 0.0
    extra_downtime: list[Downtime] = field(default_factory=list)

    @property
    def total_tardiness_hours(self) -> float:
        """Sum of the orders' tardiness in clock hours."""
        return float(self.orders["tardiness_hours"].sum())

    @property
    def weighted_tardiness_hours(self) -> float:
        """Sum of ``weight x tardiness`` in clock hours."""
        return float((self.orders["tardiness_hours"] * self.orders["weight"]).sum())

    @property
    def late_orders(self) -> int:
        """Orders planned to end after their due date."""
        return int((self.orders["tardiness_hours"] > 0).sum())

    def previous_plan(self) -> dict[tuple[str, str], tuple[str, int]]:
        """The engine's warm start for a re-plan."""
        return self.schedule.as_previous_plan()

    def summary(self) -> dict[str, float | int | str]:
        """Headline figures of the plan."""
        return {
            "orders": len(self.orders),
            "operations": len(self.operations),
            "late_orders": self.late_orders,
            "total_tardiness_hours": round(self.total_tardiness_hours, 2),
            "weighted_tardiness_hours": round(self.weighted_tardiness_hours, 2),
            "status": self.schedule.status,
            "gap": round(float(self.schedule.gap), 4),
            "seconds": round(self.seconds, 2),
            "origin": self.model.origin.isoformat(),
        }


def _clock_tables(
    model: PlantModel, problem: Problem, schedule: Schedule
) -> tuple[pd.DataFrame, pd.DataFrame]:
    calendars = model.calendars()
    line_of = model.line_of()
    rows = []
    for op in schedule.operations:
        line = line_of[op.machine]
        calendar = calendars[line]
        rows.append(
            {
                "work_order": op.job,
                "sequence": int(op.operation),
                "machine": op.machine,
                "line": line,
                "start": calendar.clock_time(op.start),
                "end": calendar.clock_time(op.end, end=True),
            }
        )
    operations = pd.DataFrame(
        rows, columns=["work_order", "sequence", "machine", "line", "start", "end"]
    )
    operations = operations.sort_values(["machine", "start"]).reset_index(drop=True)
    span = operations.groupby("work_order").agg(
        planned_start=("start", "min"), planned_end=("end", "max")
    )
    weight = {job.id: job.weight for job in problem.jobs}
    orders = model.orders.set_index("external_id").join(span, how="inner").reset_index()
    due = pd.to_datetime(orders["due_at"])
    late = (orders["planned_end"] - due).dt.total_seconds() / 3600.0
    orders["tardiness_hours"] = late.clip(lower=0).fillna(0.0)
    orders["weight"] = orders["external_id"].map(weight).astype(float)
    columns = [
        "external_id",
        "space",
        "line",
        "product",
        "quantity",
        "due_at",
        "planned_start",
        "planned_end",
        "tardiness_hours",
        "weight",
        "priority",
    ]
    return operations, orders[columns]


def components(problem: Problem) -> list[Problem]:
    """Split ``problem`` into independent parts: jobs that share no machine, directly or not.

    The lines of a plant share no machine, so each line is planned on its own: smaller models
    that CP-SAT proves optimal where the whole plant would leave a gap.
    """
    parent: dict[str, str] = {}

    def find(item: str) -> str:
        while parent.setdefault(item, item) != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    for job in problem.jobs:
        used = [m for op in job.operations for m in op.durations]
        for machine_id in used:
            parent[find(machine_id)] = find(used[0])
    groups: dict[str, list] = {}
    for job in problem.jobs:
        first = next(iter(job.operations[0].durations))
        groups.setdefault(find(first), []).append(job)
    parts = []
    for index, (root, jobs) in enumerate(sorted(groups.items())):
        machines = [m for m in problem.machines if find(m.id) == root]
        parts.append(Problem(jobs, machines, problem.horizon, f"{problem.name} part {index + 1}"))
    return parts


def solve_by_component(
    problem: Problem,
    *,
    time_limit: float,
    workers: int = 2,
    previous_plan: Mapping[tuple[str, str], tuple[str, int]] | None = None,
    machine_change_weight: float = 1000.0,
    shift_weight: float = 0.0,
    seed: int = 0,
) -> Schedule:
    """Solve each independent part of ``problem`` and merge the answers into one schedule.

    Each part gets a share of the remaining time in proportion to its operations; time a part
    does not use (proven optimal early) goes to the next ones. The merged objective and bound
    are the sums of the parts'.
    """
    started = time.perf_counter()
    parts = sorted(components(problem), key=lambda part: part.n_operations)
    left_ops = problem.n_operations
    answers: list[Schedule] = []
    for part in parts:
        remaining = time_limit - (time.perf_counter() - started)
        share = max(0.5, remaining * part.n_operations / max(1, left_ops))
        answers.append(
            solve(
                part,
                objective="mix",
                makespan_weight=MAKESPAN_WEIGHT,
                tardiness_weight=1.0,
                time_limit=share,
                workers=workers,
                previous_plan=previous_plan,
                machine_change_weight=machine_change_weight,
                shift_weight=shift_weight,
                seed=seed,
            )
        )
        left_ops -= part.n_operations
    objective = sum(answer.objective for answer in answers)
    bound = sum(answer.best_bound for answer in answers)
    gap = (objective - bound) / max(1.0, abs(objective))
    return Schedule(
        operations=[op for answer in answers for op in answer.operations],
        objective=objective,
        best_bound=bound,
        gap=gap,
        status="optimal" if all(a.status == "optimal" for a in answers) else "feasible",
        wall_seconds=time.perf_counter() - started,
        makespan=max(answer.makespan for answer in answers),
        tardiness={job: t for answer in answers for job, t in answer.tardiness.items()},
        weighted_tardiness=sum(answer.weighted_tardiness for answer in answers),
        moved_operations=sum(answer.moved_operations for answer in answers),
        stats={"components": len(answers)},
    )


def plan_orders(
    store: Store,
    *,
    now: datetime | None = None,
    time_limit: float = 10.0,
    workers: int = 2,
    extra_downtime: Iterable[Downtime] = (),
    previous: PlanResult | Mapping[tuple[str, str], tuple[str, int]] | None = None,
    model: PlantModel | None = None,
    machine_change_weight: float = 1000.0,
    shift_weight: float = SHIFT_WEIGHT,
    seed: int = 0,
    space: str | None = None,
) -> PlanResult:
    """Plan the open work orders of the store.

    Args:
        store: The factory store.
        now: Origin of the plan (naive UTC); default the end of the recorded machine states.
        time_limit: Seconds for the scheduling engine.
        workers: CP-SAT worker threads.
        extra_downtime: Windows in which machines cannot work beyond the store's maintenance
            orders (a breakdown, a proposed maintenance window).
        previous: The plan in force; the new plan starts from it and moves as few operations
            to other machines as it can (``machine_change_weight`` per move).
        model: An already loaded :class:`PlantModel` (skips reading the store).
        machine_change_weight: Cost of moving one operation to another machine when re-planning,
            in working minutes of weighted tardiness.
        shift_weight: Cost per working minute an operation's start moves when re-planning, so
            that orders keep their dates unless moving them pays.
        seed: Seed of the engine's random choices.
        space: Space of the orders, routings and machines; default the one the data shows
            (:func:`~factorybrain.agents.planning._model.planning_source`).

    Returns:
        The :class:`PlanResult`.

    Raises:
        ParameterError: The store lacks what the planner needs (names what).
        InvalidProblemError: The orders, routings or calendars are inconsistent.
        InfeasibleError: No plan exists; names the constraints that conflict.
    """
    started = time.perf_counter()
    if model is None:
        model = load_plant_model(store, now=now, space=space)
    result = plan_model(
        model,
        time_limit=time_limit,
        workers=workers,
        extra_downtime=extra_downtime,
        previous=previous,
        machine_change_weight=machine_change_weight,
        shift_weight=shift_weight,
        seed=seed,
    )
    result.seconds = time.perf_counter() - started
    return result


def plan_model(
    model: PlantModel,
    *,
    time_limit: float = 10.0,
    workers: int = 2,
    extra_downtime: Iterable[Downtime] = (),
    previous: PlanResult | Mapping[tuple[str, str], tuple[str, int]] | None = None,
    machine_change_weight: float = 1000.0,
    shift_weight: float = SHIFT_WEIGHT,
    seed: int = 0,
) -> PlanResult:
    """Plan the open work orders of ``model``: :func:`plan_orders` without the store.

    It reads nothing but its arguments, so it can run anywhere (a what-if on the compute pool).
    The arguments are :func:`plan_orders`'.
    """
    started = time.perf_counter()
    extra = list(extra_downtime)
    problem = build_problem(model, extra_downtime=extra)
    warm = previous.previous_plan() if isinstance(previous, PlanResult) else previous
    schedule = solve_by_component(
        problem,
        time_limit=time_limit,
        workers=workers,
        previous_plan=warm,
        machine_change_weight=machine_change_weight,
        shift_weight=shift_weight,
        seed=seed,
    )
    operations, orders = _clock_tables(model, problem, schedule)
    return PlanResult(
        model,
        problem,
        schedule,
        operations,
        orders,
        time.perf_counter() - started,
        extra,
    )


def _naive(value: object) -> datetime:
    return pd.Timestamp(value).to_pydatetime()


def store_plan(store: Store, result: PlanResult, *, ingest_id: str = "agent:planning") -> dict:
    """Write ``result`` to the store: dates on work orders, one planned operation per step.

    Returns:
        ``{"work_orders": n, "operations": n, "superseded": n}``.
    """
    orders = pa.Table.from_pylist(
        [
            {
                "space": row.space,
                "external_id": row.external_id,
                "planned_start": _naive(row.planned_start),
                "planned_end": _naive(row.planned_end),
            }
            for row in result.orders.itertuples(index=False)
        ]
    )
    planned = [
        {
            "space": PLAN_SPACE,
            "external_id": f"{row.work_order}/{row.sequence}",
            "work_order": row.work_order,
            "sequence": int(row.sequence),
            "equipment": row.machine,
            "start_time": _naive(row.start),
            "end_time": _naive(row.end),
            "status": "planned",
        }
        for row in result.operations.itertuples(index=False)
    ]
    keep = {row["external_id"] for row in planned}
    existing = store.query(
        "SELECT external_id FROM operation WHERE space = ? AND status = 'planned'", [PLAN_SPACE]
    )
    stale = [
        {"space": PLAN_SPACE, "external_id": external_id, "status": "superseded"}
        for external_id in existing["external_id"]
        if external_id not in keep
    ]
    with store.transaction():
        store.upsert_entities("work_order", orders, ingest_id)
        if planned:
            store.upsert_entities("operation", pa.Table.from_pylist(planned), ingest_id)
        if stale:
            store.upsert_entities("operation", pa.Table.from_pylist(stale), ingest_id)
    return {"work_orders": orders.num_rows, "operations": len(planned), "superseded": len(stale)}


def stored_plan(store: Store) -> pd.DataFrame:
    """The planned operations in force: ``work_order, sequence, machine, start, end``."""
    return store.query(
        "SELECT work_order, sequence, equipment AS machine, start_time AS start, "
        "end_time AS \"end\" FROM operation WHERE space = ? AND status = 'planned' "
        "ORDER BY equipment, start_time",
        [PLAN_SPACE],
    )


def plan_gantt_svg(result: PlanResult, *, width: int = 1400, title: str | None = None) -> str:
    """The plan as an SVG Gantt chart, in minutes from the plan's origin.

    One row per machine, one colour per work order; off-shift time and maintenance are drawn
    hatched with their reason as tooltip.
    """
    heading = title or (
        f"Plan from {result.model.origin:%Y-%m-%d %H:%M} UTC: {len(result.orders)} orders, "
        f"{result.late_orders} late, total tardiness {result.total_tardiness_hours:.1f} h "
        f"({result.schedule.status})"
    )
    return _gantt(result.model, result.operations, result.extra_downtime, heading, width)


def stored_plan_gantt_svg(
    store: Store,
    *,
    now: datetime | None = None,
    width: int = 1400,
    title: str | None = None,
    space: str | None = None,
) -> str:
    """The plan stored by :func:`store_plan` as an SVG Gantt chart (for the dashboard).

    Raises:
        ParameterError: When the store holds no stored plan, or lacks the planner's inputs.
    """
    from factorybrain.exceptions import ParameterError

    operations = stored_plan(store)
    if operations.empty:
        raise ParameterError(
            "The store holds no plan (operation rows with status 'planned' in space "
            f"{PLAN_SPACE!r}); make one with 'factorybrain plan'."
        )
    for column in ("start", "end"):
        operations[column] = pd.to_datetime(operations[column])
    model = load_plant_model(store, now=now, space=space)
    heading = title or (
        f"Stored plan: {operations['work_order'].nunique()} orders, "
        f"{len(operations)} operations (minutes from {model.origin:%Y-%m-%d %H:%M} UTC)"
    )
    return _gantt(model, operations, [], heading, width)


def _gantt(
    model: PlantModel,
    planned: pd.DataFrame,
    extra_downtime: list[Downtime],
    heading: str,
    width: int,
) -> str:
    origin = model.origin
    calendars = model.calendars()
    line_of = model.line_of()
    machines = []
    for machine_id in model.machines["machine"]:
        line = line_of[machine_id]
        windows: list[Window] = []
        calendar = calendars.get(line)
        if calendar is not None:
            cursor = 0
            for start, end in zip(calendar.starts.tolist(), calendar.ends.tolist(), strict=True):
                if start > cursor:
                    windows.append(Window(cursor, start, "off shift"))
                cursor = max(cursor, end)
            windows.append(Window(cursor, cursor + 10**6, "off shift"))
        for down in [*model.downtime, *extra_downtime]:
            if down.machine == machine_id:
                begin = int((down.start - origin).total_seconds() // 60)
                finish = int((down.end - origin).total_seconds() // 60)
                if finish > max(begin, 0):
                    windows.append(Window(max(begin, 0), finish, down.reason))
        machines.append(Machine(machine_id, tuple(windows)))
    operations = [_minute_op(row, origin) for row in planned.itertuples(index=False)]
    makespan = max([op[4] for op in operations] + [60])
    clock = Schedule(
        operations=[PlannedOperation(*op) for op in operations],
        objective=0.0,
        best_bound=0.0,
        gap=0.0,
        status="planned",
        wall_seconds=0.0,
        makespan=makespan,
        tardiness={},
        weighted_tardiness=0.0,
    )
    return gantt_svg(
        clock,
        Problem(jobs=[], machines=machines, name="plan"),
        width=width,
        title=heading,
        time_unit="min from origin",
    )


def _minute_op(row: object, origin: datetime) -> tuple[str, str, str, int, int]:
    start = int((row.start - origin).total_seconds() // 60)  # type: ignore[attr-defined]
    end = int((row.end - origin).total_seconds() // 60)  # type: ignore[attr-defined]
    return (row.work_order, str(row.sequence), row.machine, start, end)  # type: ignore[attr-defined]
