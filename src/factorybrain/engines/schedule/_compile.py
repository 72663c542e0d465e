"""Check a :class:`Problem` and turn it into flat integer arrays the solvers work on.

Every inconsistency raises :class:`InvalidProblemError` naming the job, operation or machine and
what is wrong, before any solver runs, so a user never sees a bare solver status.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from factorybrain.engines.schedule._problem import Problem
from factorybrain.exceptions import EngineError, InfeasibleError


class InvalidProblemError(EngineError):
    """The scheduling problem is inconsistent (names the job, operation or machine at fault)."""


@dataclass
class Compiled:
    """A validated problem as flat arrays (operations numbered 0..n_ops-1 job by job).

    Alternatives (operation, machine, duration) are stored flat: the alternatives of operation
    ``k`` are ``alt_machine[alt_offset[k]:alt_offset[k + 1]]``.
    """

    problem: Problem
    job_ids: list[str]
    machine_ids: list[str]
    op_keys: list[tuple[str, str]]
    job_of: np.ndarray
    alt_offset: np.ndarray
    alt_op: np.ndarray
    alt_machine: np.ndarray
    alt_duration: np.ndarray
    predecessors: list[list[int]]
    successors: list[list[int]]
    topological_order: np.ndarray
    release: np.ndarray
    due: np.ndarray
    weight: np.ndarray
    deadline: np.ndarray
    windows: list[list[tuple[int, int, str]]]
    setup_group: np.ndarray
    setup: np.ndarray | None
    horizon: int

    @property
    def n_ops(self) -> int:
        """Number of operations."""
        return len(self.op_keys)

    @property
    def n_machines(self) -> int:
        """Number of machines."""
        return len(self.machine_ids)

    @property
    def n_jobs(self) -> int:
        """Number of jobs."""
        return len(self.job_ids)

    @property
    def is_flexible(self) -> bool:
        """Whether some operation has more than one eligible machine."""
        return len(self.alt_op) > self.n_ops

    def min_duration(self) -> np.ndarray:
        """Shortest duration of each operation over its eligible machines."""
        return np.minimum.reduceat(self.alt_duration, self.alt_offset[:-1])

    def op_label(self, k: int) -> str:
        """Human-readable name of operation ``k``."""
        job, op = self.op_keys[k]
        return f"operation {op!r} of job {job!r}"


def _find_cycle(nodes: list[int], predecessors: list[list[int]]) -> list[int]:
    """Return one cycle among ``nodes`` (each has a predecessor inside the set)."""
    inside = set(nodes)
    current = nodes[0]
    seen: dict[int, int] = {}
    path: list[int] = []
    while current not in seen:
        seen[current] = len(path)
        path.append(current)
        current = next(p for p in predecessors[current] if p in inside)
    cycle = path[seen[current] :]
    cycle.reverse()
    first = cycle.index(min(cycle))
    return cycle[first:] + cycle[:first]


def compile_problem(problem: Problem) -> Compiled:
    """Validate ``problem`` and return its array form.

    Raises:
        InvalidProblemError: On duplicate or unknown ids, an operation with no eligible machine,
            a negative duration, a cycle in precedences, a due date or deadline before the release
            date, a malformed window, a negative setup time, or a calendar with no capacity.
        InfeasibleError: When a job cannot meet its deadline or the horizon even alone.
    """
    machine_ids = [machine.id for machine in problem.machines]
    machine_index: dict[str, int] = {}
    for machine in problem.machines:
        if machine.id in machine_index:
            raise InvalidProblemError(f"Machine {machine.id!r} is listed twice.")
        machine_index[machine.id] = len(machine_index)
    if not problem.jobs:
        raise InvalidProblemError(f"Problem {problem.name!r} has no jobs.")
    horizon_given = problem.horizon
    if horizon_given is not None and horizon_given <= 0:
        raise InvalidProblemError(f"The horizon must be positive; got {horizon_given}.")

    group_index: dict[str, int] = {}
    job_ids: list[str] = []
    op_keys: list[tuple[str, str]] = []
    job_of: list[int] = []
    alt_offset = [0]
    alt_op: list[int] = []
    alt_machine: list[int] = []
    alt_duration: list[int] = []
    predecessors: list[list[int]] = []
    setup_group: list[int] = []
    release, due, weight, deadline = [], [], [], []
    seen_jobs: set[str] = set()
    for j, job in enumerate(problem.jobs):
        if job.id in seen_jobs:
            raise InvalidProblemError(f"Job {job.id!r} is listed twice.")
        seen_jobs.add(job.id)
        if not job.operations:
            raise InvalidProblemError(f"Job {job.id!r} has no operations.")
        if job.release < 0:
            raise InvalidProblemError(
                f"Job {job.id!r} has a negative release date ({job.release})."
            )
        if job.due is not None and job.due < job.release:
            raise InvalidProblemError(
                f"Job {job.id!r} is due at {job.due}, before its release date {job.release}."
            )
        if job.deadline is not None and job.deadline < job.release:
            raise InvalidProblemError(
                f"Job {job.id!r} has deadline {job.deadline}, before its release date "
                f"{job.release}."
            )
        if job.weight < 0:
            raise InvalidProblemError(f"Job {job.id!r} has a negative weight ({job.weight}).")
        job_ids.append(job.id)
        release.append(job.release)
        due.append(-1 if job.due is None else job.due)
        weight.append(job.weight)
        deadline.append(-1 if job.deadline is None else job.deadline)
        first = len(op_keys)
        local: dict[str, int] = {}
        for position, operation in enumerate(job.operations):
            if operation.id in local:
                raise InvalidProblemError(f"Job {job.id!r} lists operation {operation.id!r} twice.")
            k = first + position
            local[operation.id] = k
            op_keys.append((job.id, operation.id))
            job_of.append(j)
            if not operation.durations:
                raise InvalidProblemError(
                    f"Operation {operation.id!r} of job {job.id!r} has no eligible machine."
                )
            for machine_id, duration in operation.durations.items():
                if machine_id not in machine_index:
                    raise InvalidProblemError(
                        f"Operation {operation.id!r} of job {job.id!r} names machine "
                        f"{machine_id!r}, which is not in the problem's machines."
                    )
                if int(duration) != duration or duration < 0:
                    raise InvalidProblemError(
                        f"Operation {operation.id!r} of job {job.id!r} has duration {duration!r} "
                        f"on machine {machine_id!r}; expected a non-negative integer."
                    )
                alt_op.append(k)
                alt_machine.append(machine_index[machine_id])
                alt_duration.append(int(duration))
            alt_offset.append(len(alt_op))
            if operation.setup_group is None:
                setup_group.append(-1)
            else:
                setup_group.append(group_index.setdefault(operation.setup_group, len(group_index)))
        for position, operation in enumerate(job.operations):
            if operation.predecessors is None:
                predecessors.append([first + position - 1] if position else [])
                continue
            preds = []
            for name in operation.predecessors:
                if name not in local:
                    raise InvalidProblemError(
                        f"Operation {operation.id!r} of job {job.id!r} follows {name!r}, which is "
                        f"not an operation of job {job.id!r}."
                    )
                preds.append(local[name])
            predecessors.append(preds)

    n_ops = len(op_keys)
    successors: list[list[int]] = [[] for _ in range(n_ops)]
    indegree = np.zeros(n_ops, dtype=np.int64)
    for k, preds in enumerate(predecessors):
        for p in preds:
            successors[p].append(k)
        indegree[k] = len(preds)
    order: list[int] = [k for k in range(n_ops) if indegree[k] == 0]
    head = 0
    while head < len(order):
        k = order[head]
        head += 1
        for s in successors[k]:
            indegree[s] -= 1
            if indegree[s] == 0:
                order.append(s)
    if len(order) < n_ops:
        stuck = [k for k in range(n_ops) if indegree[k] > 0]
        cycle = _find_cycle(stuck, predecessors)
        cycle_job = op_keys[cycle[0]][0]
        names = " -> ".join(repr(op_keys[k][1]) for k in [*cycle, cycle[0]])
        raise InvalidProblemError(
            f"The precedences of job {cycle_job!r} contain a cycle: {names}; "
            "a routing must be acyclic."
        )

    windows: list[list[tuple[int, int, str]]] = []
    for machine in problem.machines:
        spans = []
        for window in machine.unavailable:
            if window.end <= window.start or window.start < 0:
                raise InvalidProblemError(
                    f"Machine {machine.id!r} has an unavailability window [{window.start}, "
                    f"{window.end}) ({window.reason}); expected 0 <= start < end."
                )
            spans.append((int(window.start), int(window.end), window.reason))
        spans.sort()
        merged: list[tuple[int, int, str]] = []
        for start, end, reason in spans:
            if merged and start <= merged[-1][1]:
                last = merged[-1]
                merged[-1] = (last[0], max(last[1], end), last[2])
            else:
                merged.append((start, end, reason))
        windows.append(merged)
        for (group_from, group_to), setup_time in machine.setup_times.items():
            if setup_time < 0 or int(setup_time) != setup_time:
                raise InvalidProblemError(
                    f"Machine {machine.id!r} has setup time {setup_time!r} from {group_from!r} "
                    f"to {group_to!r}; expected a non-negative integer."
                )

    setup = None
    if group_index and any(machine.setup_times for machine in problem.machines):
        n_groups = len(group_index)
        setup = np.zeros((len(machine_ids), n_groups, n_groups), dtype=np.int64)
        for m, machine in enumerate(problem.machines):
            for (group_from, group_to), setup_time in machine.setup_times.items():
                if group_from in group_index and group_to in group_index:
                    setup[m, group_index[group_from], group_index[group_to]] = int(setup_time)

    alt_op_arr = np.asarray(alt_op, dtype=np.int64)
    alt_duration_arr = np.asarray(alt_duration, dtype=np.int64)
    alt_offset_arr = np.asarray(alt_offset, dtype=np.int64)
    max_setup = 0 if setup is None else int(setup.max())
    if horizon_given is None:
        longest = np.maximum.reduceat(alt_duration_arr, alt_offset_arr[:-1])
        last_window = max((w[-1][1] for w in windows if w), default=0)
        horizon = int(max(release) + longest.sum() + max_setup * n_ops + last_window + 1)
    else:
        horizon = int(horizon_given)

    compiled = Compiled(
        problem=problem,
        job_ids=job_ids,
        machine_ids=machine_ids,
        op_keys=op_keys,
        job_of=np.asarray(job_of, dtype=np.int64),
        alt_offset=alt_offset_arr,
        alt_op=alt_op_arr,
        alt_machine=np.asarray(alt_machine, dtype=np.int64),
        alt_duration=alt_duration_arr,
        predecessors=predecessors,
        successors=successors,
        topological_order=np.asarray(order, dtype=np.int64),
        release=np.asarray(release, dtype=np.int64),
        due=np.asarray(due, dtype=np.int64),
        weight=np.asarray(weight, dtype=np.float64),
        deadline=np.asarray(deadline, dtype=np.int64),
        windows=windows,
        setup_group=np.asarray(setup_group, dtype=np.int64),
        setup=setup,
        horizon=horizon,
    )
    _check_capacity(compiled)
    _check_job_lengths(compiled)
    return compiled


def longest_free_gap(windows: list[tuple[int, int, str]], start: int, end: int) -> int:
    """Return the longest stretch of ``[start, end)`` not covered by ``windows``."""
    best = 0
    cursor = start
    for w_start, w_end, _ in windows:
        if w_end <= cursor:
            continue
        if w_start >= end:
            break
        best = max(best, min(w_start, end) - cursor)
        cursor = max(cursor, w_end)
    return max(best, end - cursor)


def _check_capacity(compiled: Compiled) -> None:
    """Reject machine calendars that leave no room for the operations that need them."""
    horizon = compiled.horizon
    used = np.zeros(compiled.n_machines, dtype=bool)
    used[compiled.alt_machine] = True
    gaps = []
    for m, machine_id in enumerate(compiled.machine_ids):
        gap = longest_free_gap(compiled.windows[m], 0, horizon)
        gaps.append(gap)
        if gap == 0 and used[m]:
            reasons = sorted({w[2] for w in compiled.windows[m]})
            raise InvalidProblemError(
                f"Machine {machine_id!r} has no capacity in [0, {horizon}): its unavailability "
                f"windows ({', '.join(reasons)}) cover the whole horizon, but operations need it."
            )
    for k in range(compiled.n_ops):
        lo, hi = compiled.alt_offset[k], compiled.alt_offset[k + 1]
        fits = [compiled.alt_duration[a] <= gaps[compiled.alt_machine[a]] for a in range(lo, hi)]
        if not any(fits):
            options = ", ".join(
                f"{compiled.machine_ids[compiled.alt_machine[a]]!r} needs "
                f"{compiled.alt_duration[a]}, longest free stretch "
                f"{gaps[compiled.alt_machine[a]]}"
                for a in range(lo, hi)
            )
            raise InvalidProblemError(
                f"Operation {compiled.op_keys[k][1]!r} of job {compiled.op_keys[k][0]!r} fits on "
                f"no machine calendar within the horizon {horizon}: {options}."
            )


def _check_job_lengths(compiled: Compiled) -> None:
    """Reject jobs whose routing alone cannot meet their deadline or the horizon."""
    shortest = compiled.min_duration()
    finish = np.zeros(compiled.n_ops, dtype=np.int64)
    for k in compiled.topological_order:
        ready = compiled.release[compiled.job_of[k]]
        for p in compiled.predecessors[k]:
            ready = max(ready, finish[p])
        finish[k] = ready + shortest[k]
    job_finish = np.zeros(compiled.n_jobs, dtype=np.int64)
    np.maximum.at(job_finish, compiled.job_of, finish)
    for j, job_id in enumerate(compiled.job_ids):
        deadline = compiled.deadline[j]
        if deadline >= 0 and job_finish[j] > deadline:
            raise InfeasibleError(
                f"Job {job_id!r} cannot meet its deadline {deadline}: released at "
                f"{compiled.release[j]}, its routing takes at least "
                f"{job_finish[j] - compiled.release[j]} on the fastest machines "
                f"(earliest end {job_finish[j]})."
            )
        if compiled.problem.horizon is not None and job_finish[j] > compiled.horizon:
            raise InfeasibleError(
                f"Job {job_id!r} cannot finish within the horizon {compiled.horizon}: "
                f"its earliest end is {job_finish[j]}."
            )
