"""Typed description of a scheduling problem and of its answer.

A problem is plain data, independent of the store: jobs (work orders) with routings of operations,
each operation with the machines it may run on and its duration on each; machines with
unavailability windows (shifts, planned maintenance) and optional sequence-dependent setup times.
Times are integers in one unit of the caller's choice (minutes, seconds) counted from the plan's
origin.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class Operation:
    """One step of a job's routing.

    Args:
        id: Name of the operation, unique within its job.
        durations: Eligible machines and the processing time on each (``{"press-1": 30}``).
        predecessors: Ids of operations of the same job that must finish before this one starts.
            ``None`` (default) means "the previous operation in the job's list" (a linear routing);
            an empty tuple means no predecessor.
        setup_group: Family used to look up sequence-dependent setup times on the machine
            (``Machine.setup_times``); ``None`` means no setup.
    """

    id: str
    durations: Mapping[str, int]
    predecessors: tuple[str, ...] | None = None
    setup_group: str | None = None


@dataclass(frozen=True)
class Job:
    """A job or work order: a routing of operations with dates and a weight.

    Args:
        id: Unique name of the job.
        operations: The routing, in processing order unless operations name their predecessors.
        release: Earliest start of the job's first operations.
        due: Due date; finishing later costs ``weight`` per time unit of tardiness.
        weight: Importance of the job in the tardiness objective.
        deadline: Hard latest end of the job (optional); a plan that cannot meet it is infeasible.
    """

    id: str
    operations: Sequence[Operation]
    release: int = 0
    due: int | None = None
    weight: float = 1.0
    deadline: int | None = None


@dataclass(frozen=True)
class Window:
    """A period ``[start, end)`` in which a machine cannot work.

    Args:
        start: First time unit of the window.
        end: First time unit after the window.
        reason: Why (``"maintenance"``, ``"off-shift"``, ``"breakdown"``) (charts, errors).
    """

    start: int
    end: int
    reason: str = "unavailable"


@dataclass(frozen=True)
class Machine:
    """A resource that processes one operation at a time.

    Args:
        id: Unique name of the machine.
        unavailable: Windows in which it cannot work; operations are not interrupted by them.
        setup_times: Sequence-dependent setup times ``{(from_group, to_group): time}`` between two
            consecutive operations; missing pairs cost nothing.
    """

    id: str
    unavailable: Sequence[Window] = ()
    setup_times: Mapping[tuple[str, str], int] = field(default_factory=dict)


@dataclass(frozen=True)
class PlannedOperation:
    """Where and when one operation runs in a schedule."""

    job: str
    operation: str
    machine: str
    start: int
    end: int


@dataclass(frozen=True)
class Problem:
    """A scheduling problem.

    Args:
        jobs: The jobs to plan.
        machines: The machines; every machine named by an operation must be listed.
        horizon: Latest end of every operation (optional); machine calendars only need to cover
            ``[0, horizon)``. Without it the engine derives a safe horizon.
        name: Label used in messages and charts.
    """

    jobs: Sequence[Job]
    machines: Sequence[Machine]
    horizon: int | None = None
    name: str = "problem"

    @property
    def n_operations(self) -> int:
        """Number of operations over all jobs."""
        return sum(len(job.operations) for job in self.jobs)


@dataclass
class Schedule:
    """The answer of the scheduling engine.

    Attributes:
        operations: One entry per operation, sorted by machine then start.
        objective: Value of the objective that was minimised (makespan, weighted tardiness, mix,
            including stability penalties).
        best_bound: Proven lower bound of that objective.
        gap: ``(objective - best_bound) / max(1, objective)``; 0 means proven optimal.
        status: ``"optimal"`` or ``"feasible"``.
        wall_seconds: Wall-clock time of the whole call (validation, model building, search).
        makespan: End of the last operation.
        tardiness: Tardiness of every job with a due date (0 when on time).
        weighted_tardiness: Sum of ``weight * tardiness``.
        moved_operations: Operations whose machine differs from the previous plan (re-planning).
        stats: Extra figures of the search (iterations of large-neighbourhood search, ...).
    """

    operations: list[PlannedOperation]
    objective: float
    best_bound: float
    gap: float
    status: str
    wall_seconds: float
    makespan: int
    tardiness: dict[str, int]
    weighted_tardiness: float
    moved_operations: int = 0
    stats: dict[str, Any] = field(default_factory=dict)

    def to_pandas(self) -> pd.DataFrame:
        """Return the operations as a table (job, operation, machine, start, end)."""
        return pd.DataFrame(
            [vars(op) for op in self.operations],
            columns=["job", "operation", "machine", "start", "end"],
        )

    def as_previous_plan(self) -> dict[tuple[str, str], tuple[str, int]]:
        """Return ``{(job, operation): (machine, start)}`` (a re-plan's warm start)."""
        return {(op.job, op.operation): (op.machine, op.start) for op in self.operations}
