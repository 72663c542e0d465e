"""Dispatching rules: a fast feasible schedule used as warm start (solution hints) and fallback.

Giffler-Thompson active-schedule generation: at each step the machine with the earliest possible
completion is chosen, and among the operations that could start on it before that completion, a
priority rule picks one (most work remaining, shortest processing time, least slack). Candidate
times are computed for all ready (operation, machine) pairs at once with numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from factorybrain.engines.schedule._compile import Compiled

RULES = ("mwkr", "spt", "slack")


@dataclass
class Solution:
    """A complete assignment: chosen alternative and start of every operation."""

    alternative: np.ndarray
    start: np.ndarray

    def end(self, compiled: Compiled) -> np.ndarray:
        """End time of every operation."""
        return self.start + compiled.alt_duration[self.alternative]

    def machine(self, compiled: Compiled) -> np.ndarray:
        """Machine index of every operation."""
        return compiled.alt_machine[self.alternative]


def tails(compiled: Compiled) -> np.ndarray:
    """Longest path (shortest durations) from the start of each operation to the end of its job."""
    shortest = compiled.min_duration()
    tail = shortest.astype(np.int64).copy()
    for k in compiled.topological_order[::-1]:
        successors = compiled.successors[k]
        if successors:
            tail[k] = shortest[k] + max(tail[s] for s in successors)
    return tail


def heads(compiled: Compiled) -> np.ndarray:
    """Earliest start of each operation from release dates and routing alone."""
    shortest = compiled.min_duration()
    head = compiled.release[compiled.job_of].astype(np.int64).copy()
    for k in compiled.topological_order:
        for s in compiled.successors[k]:
            head[s] = max(head[s], head[k] + shortest[k])
    return head


def fit_start(windows: list[tuple[int, int, str]], earliest: int, duration: int) -> int:
    """First start at or after ``earliest`` where ``duration`` fits between ``windows``."""
    start = earliest
    for w_start, w_end, _ in windows:
        if w_end <= start:
            continue
        if start + duration <= w_start and not (duration == 0 and start == w_start):
            return start
        start = max(start, w_end)
    return start


def dispatch(
    compiled: Compiled,
    rule: str = "mwkr",
    rng: np.random.Generator | None = None,
    tail: np.ndarray | None = None,
    delay: float = 1.0,
) -> Solution:
    """Build one schedule with a priority rule.

    Args:
        compiled: The validated problem.
        rule: ``"mwkr"`` (most work remaining), ``"spt"`` (shortest processing time) or
            ``"slack"`` (least slack to the due date, for tardiness objectives).
        rng: Optional generator; when given, priorities get a small random perturbation.
        tail: Work remaining after each operation's start, the priority of ``"mwkr"``
            (default :func:`tails`; callers pass weighted variants).
        delay: 1 builds active schedules (Giffler-Thompson), 0 non-delay schedules; in between,
            an operation competes when it can start before ``est + delay * (ect - est)`` of the
            machine chosen.

    Returns:
        A feasible :class:`Solution` (respects precedences, releases, windows and setups).
    """
    c = compiled
    if tail is None:
        tail = tails(c)
    n_alts = len(c.alt_op)
    pending = np.array([len(p) for p in c.predecessors], dtype=np.int64)
    op_ready = c.release[c.job_of].astype(np.int64).copy()
    machine_free = np.zeros(c.n_machines, dtype=np.int64)
    last_group = np.full(c.n_machines, -1, dtype=np.int64)
    active = np.zeros(n_alts, dtype=bool)
    for ready in np.flatnonzero(pending == 0):
        active[c.alt_offset[ready] : c.alt_offset[ready + 1]] = True
    alternative = np.full(c.n_ops, -1, dtype=np.int64)
    start = np.zeros(c.n_ops, dtype=np.int64)
    due = c.due[c.job_of]
    weight = np.maximum(c.weight[c.job_of], 1e-9)
    noise = rng.random(n_alts) * 0.5 if rng is not None else np.zeros(n_alts)
    has_setup = c.setup is not None
    alt_group = c.setup_group[c.alt_op]
    for _ in range(c.n_ops):
        candidates = np.flatnonzero(active)
        ops = c.alt_op[candidates]
        machines = c.alt_machine[candidates]
        est = np.maximum(op_ready[ops], machine_free[machines])
        if has_setup:
            assert c.setup is not None  # has_setup is c.setup is not None
            groups = alt_group[candidates]
            lasts = last_group[machines]
            mask = (groups >= 0) & (lasts >= 0)
            extra = np.zeros(len(candidates), dtype=np.int64)
            extra[mask] = c.setup[machines[mask], lasts[mask], groups[mask]]
            est = est + extra
        ect = est + c.alt_duration[candidates]
        if delay >= 1.0:
            best = int(np.argmin(ect))
        else:
            best = int(np.lexsort((ect, est))[0])
        machine = machines[best]
        on_machine = machines == machine
        completion = ect[on_machine].min()
        earliest_here = est[on_machine].min()
        threshold = earliest_here + delay * (completion - earliest_here)
        conflict = np.flatnonzero(on_machine & (est <= threshold))
        if len(conflict) == 0:
            conflict = np.array([best])
        chosen_alts = candidates[conflict]
        chosen_ops = ops[conflict]
        if rule == "spt":
            priority = -c.alt_duration[chosen_alts].astype(float)
        elif rule == "slack":
            slack = np.where(
                due[chosen_ops] >= 0,
                (due[chosen_ops] - est[conflict] - tail[chosen_ops]) / weight[chosen_ops],
                1e12,
            )
            priority = -slack + 1e-6 * tail[chosen_ops]
        else:
            priority = tail[chosen_ops] - 1e-3 * c.alt_duration[chosen_alts]
        priority = priority + noise[chosen_alts] * (1.0 + np.abs(priority) * 0.1)
        pick = int(np.argmax(priority))
        a = int(chosen_alts[pick])
        k = int(c.alt_op[a])
        earliest = int(est[conflict[pick]])
        duration = int(c.alt_duration[a])
        begin = fit_start(c.windows[machine], earliest, duration)
        alternative[k] = a
        start[k] = begin
        machine_free[machine] = begin + duration
        if has_setup and c.setup_group[k] >= 0:
            last_group[machine] = c.setup_group[k]
        active[c.alt_offset[k] : c.alt_offset[k + 1]] = False
        for s in c.successors[k]:
            op_ready[s] = max(op_ready[s], begin + duration)
            pending[s] -= 1
            if pending[s] == 0:
                active[c.alt_offset[s] : c.alt_offset[s + 1]] = True
    return Solution(alternative=alternative, start=start)


def evaluate(compiled: Compiled, solution: Solution) -> tuple[int, np.ndarray]:
    """Return the makespan and the tardiness of every job (0 for jobs without a due date)."""
    end = solution.end(compiled)
    job_end = np.zeros(compiled.n_jobs, dtype=np.int64)
    np.maximum.at(job_end, compiled.job_of, end)
    tardiness = np.where(compiled.due >= 0, np.maximum(job_end - compiled.due, 0), 0)
    return int(end.max()), tardiness
