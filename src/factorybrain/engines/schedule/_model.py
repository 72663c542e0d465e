"""The CP-SAT formulation of a (flexible) job shop with calendars, setups and stability terms.

One start variable per operation; one optional interval per (operation, eligible machine) with a
presence literal (a fixed interval when only one machine is eligible); one no-overlap per machine
holding its operations and its unavailability windows; a circuit per machine with
sequence-dependent setups. Domains are tightened by heads and tails (release dates and routing
lengths) and, for makespan, by the incumbent's makespan. Objective coefficients are the user's
weights times :data:`SCALE`, rounded, so fractional weights keep two decimals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from factorybrain.engines.schedule._compile import Compiled
from factorybrain.engines.schedule._dispatch import Solution, evaluate

SCALE = 100


@dataclass(frozen=True)
class ObjectiveSpec:
    """Weights of the terms of the objective (all non-negative)."""

    makespan: float = 1.0
    tardiness: float = 0.0
    machine_change: float = 0.0
    shift: float = 0.0

    def coefficients(self) -> tuple[int, int, int, int]:
        """Integer coefficients of makespan, weighted tardiness, machine changes and shifts."""
        return (
            round(self.makespan * SCALE),
            round(self.tardiness * SCALE),
            round(self.machine_change * SCALE),
            round(self.shift * SCALE),
        )


@dataclass(frozen=True)
class PreviousPlan:
    """A previous plan in array form: machine index and start per operation (-1 when unknown)."""

    machine: np.ndarray
    start: np.ndarray


def objective_value(
    compiled: Compiled,
    spec: ObjectiveSpec,
    solution: Solution,
    previous: PreviousPlan | None,
) -> int:
    """Scaled objective of ``solution`` exactly as the CP-SAT model computes it."""
    c_makespan, c_tardiness, c_change, c_shift = spec.coefficients()
    makespan, tardiness = evaluate(compiled, solution)
    job_coefficients = np.rint(c_tardiness * compiled.weight).astype(np.int64)
    value = c_makespan * makespan + int((job_coefficients * tardiness).sum())
    if previous is not None:
        known = previous.machine >= 0
        changed = known & (solution.machine(compiled) != previous.machine)
        value += c_change * int(changed.sum())
        has_start = previous.start >= 0
        value += c_shift * int(np.abs(solution.start - previous.start)[has_start].sum())
    return value


class ScheduleModel:
    """Builds the CP-SAT model once; :meth:`clone` gives copies for neighbourhood searches.

    Variables are remembered by proto index so that a cloned model can address them.
    """

    def __init__(
        self,
        compiled: Compiled,
        spec: ObjectiveSpec,
        previous: PreviousPlan | None,
        head: np.ndarray,
        tail: np.ndarray,
        makespan_upper_bound: int | None = None,
        assumptions: bool = False,
    ) -> None:
        c = compiled
        self.compiled = c
        self.spec = spec
        model = cp_model.CpModel()
        self.model = model
        horizon = c.horizon
        tight = makespan_upper_bound is not None and spec.coefficients()[1:] == (0, 0, 0)
        upper = makespan_upper_bound if tight else horizon
        assert upper is not None  # tight implies makespan_upper_bound is not None
        upper = min(upper, horizon)
        deadline_of_op = c.deadline[c.job_of]
        self.assumption_literals: list[tuple[cp_model.IntVar, str]] = []

        starts: list[cp_model.IntVar] = []
        ends: list[cp_model.LinearExprT] = []
        self.presence_index = np.full(len(c.alt_op), -1, dtype=np.int64)
        presences: list[cp_model.IntVar | None] = [None] * len(c.alt_op)
        machine_intervals: list[list[cp_model.IntervalVar]] = [[] for _ in range(c.n_machines)]
        machine_alts: list[list[int]] = [[] for _ in range(c.n_machines)]
        for k in range(c.n_ops):
            low = int(head[k])
            high = int(upper - tail[k])
            if deadline_of_op[k] >= 0 and not assumptions:
                high = min(high, int(deadline_of_op[k] - tail[k]))
            high = max(high, low)
            lo_alt, hi_alt = c.alt_offset[k], c.alt_offset[k + 1]
            start = model.new_int_var(low, high, f"s{k}")
            starts.append(start)
            if hi_alt - lo_alt == 1:
                duration = int(c.alt_duration[lo_alt])
                machine = int(c.alt_machine[lo_alt])
                interval = model.new_fixed_size_interval_var(start, duration, f"i{k}")
                machine_intervals[machine].append(interval)
                machine_alts[machine].append(lo_alt)
                ends.append(start + duration)
                continue
            durations = c.alt_duration[lo_alt:hi_alt]
            end = model.new_int_var(
                low + int(durations.min()), high + int(durations.max()), f"e{k}"
            )
            ends.append(end)
            literals = []
            for a in range(lo_alt, hi_alt):
                literal = model.new_bool_var(f"p{a}")
                presences[a] = literal
                self.presence_index[a] = literal.index
                literals.append(literal)
                machine = int(c.alt_machine[a])
                interval = model.new_optional_interval_var(
                    start, int(c.alt_duration[a]), end, literal, f"i{a}"
                )
                machine_intervals[machine].append(interval)
                machine_alts[machine].append(a)
            model.add_exactly_one(literals)
        self.start_index = np.array([s.index for s in starts], dtype=np.int64)
        self.starts = starts
        self.ends = ends
        self.presences = presences
        self.machine_alts = machine_alts

        for k in range(c.n_ops):
            for p in c.predecessors[k]:
                model.add(starts[k] >= ends[p])

        for m in range(c.n_machines):
            windows = []
            for w_start, w_end, reason in c.windows[m]:
                if w_start >= horizon:
                    continue
                if assumptions:
                    literal = model.new_bool_var(f"window{m}_{w_start}")
                    self.assumption_literals.append(
                        (
                            literal,
                            f"unavailability window [{w_start}, {w_end}) ({reason}) of machine "
                            f"{c.machine_ids[m]!r}",
                        )
                    )
                    windows.append(
                        model.new_optional_fixed_size_interval_var(
                            w_start, w_end - w_start, literal, f"w{m}"
                        )
                    )
                else:
                    windows.append(model.new_fixed_size_interval_var(w_start, w_end - w_start, ""))
            intervals = machine_intervals[m] + windows
            if len(intervals) > 1:
                model.add_no_overlap(intervals)
            if c.setup is not None and c.setup[m].any() and len(machine_alts[m]) > 1:
                self._add_setup_circuit(m)

        job_end: list[cp_model.IntVar | None] = [None] * c.n_jobs
        last_ops = [k for k in range(c.n_ops) if not c.successors[k]]
        c_makespan, c_tardiness, c_change, c_shift = spec.coefficients()
        terms: list[cp_model.LinearExprT] = []
        self.makespan = model.new_int_var(0, int(upper), "makespan")
        for k in last_ops:
            model.add(self.makespan >= ends[k])
        if c_makespan:
            terms.append(c_makespan * self.makespan)
        for j in range(c.n_jobs):
            needs_end = c_tardiness and c.due[j] >= 0 or c.deadline[j] >= 0
            if not needs_end:
                continue
            end_var = model.new_int_var(0, int(horizon), f"C{j}")
            job_end[j] = end_var
        for k in last_ops:
            end_var = job_end[c.job_of[k]]
            if end_var is not None:
                model.add(end_var >= ends[k])
        for j in range(c.n_jobs):
            end_of_job = job_end[j]
            if end_of_job is None:
                continue
            if c.deadline[j] >= 0:
                if assumptions:
                    literal = model.new_bool_var(f"deadline{j}")
                    model.add(end_of_job <= int(c.deadline[j])).only_enforce_if(literal)
                    self.assumption_literals.append(
                        (literal, f"deadline {c.deadline[j]} of job {c.job_ids[j]!r}")
                    )
                else:
                    model.add(end_of_job <= int(c.deadline[j]))
            coefficient = round(c_tardiness * c.weight[j])
            if c_tardiness and c.due[j] >= 0 and coefficient > 0:
                late = model.new_int_var(0, int(horizon), f"T{j}")
                model.add(late >= end_of_job - int(c.due[j]))
                terms.append(coefficient * late)
        if assumptions and c.problem.horizon is not None:
            literal = model.new_bool_var("horizon")
            for k in last_ops:
                model.add(ends[k] <= horizon).only_enforce_if(literal)
            self.assumption_literals.append((literal, f"planning horizon {horizon}"))
        if previous is not None and (c_change or c_shift):
            for k in range(c.n_ops):
                machine = previous.machine[k]
                if c_change and machine >= 0:
                    lo_alt, hi_alt = c.alt_offset[k], c.alt_offset[k + 1]
                    alts = [a for a in range(lo_alt, hi_alt) if c.alt_machine[a] == machine]
                    if not alts:
                        terms.append(c_change)
                    elif (presence := presences[alts[0]]) is not None:
                        terms.append(c_change * (1 - presence))
                if c_shift and previous.start[k] >= 0:
                    deviation = model.new_int_var(0, int(horizon), f"d{k}")
                    model.add(deviation >= starts[k] - int(previous.start[k]))
                    model.add(deviation >= int(previous.start[k]) - starts[k])
                    terms.append(c_shift * deviation)
        if assumptions:
            model.add_assumptions([literal for literal, _ in self.assumption_literals])
        else:
            self.objective = sum(terms) if terms else self.makespan
            model.minimize(self.objective)

    def _add_setup_circuit(self, m: int) -> None:
        c = self.compiled
        model = self.model
        alts = self.machine_alts[m]
        arcs: list[cp_model.ArcT] = []
        for i, a in enumerate(alts, start=1):
            presence = self.presences[a]
            first = model.new_bool_var("")
            last = model.new_bool_var("")
            arcs.append((0, i, first))
            arcs.append((i, 0, last))
            if presence is not None:
                arcs.append((i, i, ~presence))
            k = int(c.alt_op[a])
            group_from = c.setup_group[k]
            for j, b in enumerate(alts, start=1):
                if i == j:
                    continue
                q = int(c.alt_op[b])
                if q == k:
                    continue
                literal = model.new_bool_var("")
                arcs.append((i, j, literal))
                group_to = c.setup_group[q]
                setup = 0
                if group_from >= 0 and group_to >= 0:
                    assert c.setup is not None  # only called for machines with setup times
                    setup = int(c.setup[m, group_from, group_to])
                model.add(self.starts[q] >= self.ends[k] + setup).only_enforce_if(literal)
        empty = model.new_bool_var("")
        arcs.append((0, 0, empty))
        model.add_circuit(arcs)

    def add_hint(self, model: cp_model.CpModel, solution: Solution) -> None:
        """Hint ``solution`` to ``model`` (this model or a clone)."""
        c = self.compiled
        for k, index in enumerate(self.start_index):
            model.add_hint(model.get_int_var_from_proto_index(int(index)), int(solution.start[k]))
        chosen = np.zeros(len(c.alt_op), dtype=bool)
        chosen[solution.alternative] = True
        for a in np.flatnonzero(self.presence_index >= 0):
            literal = model.get_bool_var_from_proto_index(int(self.presence_index[a]))
            model.add_hint(literal, bool(chosen[a]))
        makespan, _ = evaluate(c, solution)
        model.add_hint(model.get_int_var_from_proto_index(self.makespan.index), makespan)

    def read(self, solver: cp_model.CpSolver) -> Solution:
        """Read the solution of the last solve (of this model or a clone)."""
        c = self.compiled
        values = np.asarray(solver.response_proto.solution, dtype=np.int64)
        start = values[self.start_index]
        alternative = c.alt_offset[:-1].copy()
        optional = np.flatnonzero(self.presence_index >= 0)
        present = optional[values[self.presence_index[optional]] == 1]
        alternative[c.alt_op[present]] = present
        return Solution(alternative=alternative, start=start)
