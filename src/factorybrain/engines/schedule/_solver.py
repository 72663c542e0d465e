"""The scheduling engine: dispatching warm start, CP-SAT, and large-neighbourhood search.

How a call spends its time budget (wall clock, counted from ``started_at``):

1. Validate and compile the problem (:mod:`._compile`), raising explanations for bad input.
2. Build schedules with dispatching rules (and, when re-planning, one that follows the previous
   plan) and keep the best as incumbent. Stop here when it meets the trivial lower bound.
3. Flexible shops (makespan, no calendars, setups or deadlines): a short hinted CP-SAT solve (it
   proves the easy ones optimal and gives a bound), then a tabu search that moves critical
   operations to any position on any eligible machine (:mod:`._flexible_tabu`), then CP-SAT hinted
   with its result for the rest of the budget.
   Small problems otherwise: the full CP-SAT model, hinted with the incumbent, for the whole budget.
4. Larger problems: a short full solve (for the bound and quick gains), then large-neighbourhood
   search: repeatedly free a neighbourhood (a time window, a few jobs, or a block of a machine's
   sequence), keep the machine order of every other operation, and let CP-SAT re-optimise that
   sub-problem from the incumbent. Improvements are kept; the neighbourhood size adapts to how
   often sub-solves finish.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import numpy as np
from ortools.sat.python import cp_model

from factorybrain.engines.schedule._compile import Compiled, compile_problem
from factorybrain.engines.schedule._dispatch import (
    Solution,
    dispatch,
    evaluate,
    heads,
    tails,
)
from factorybrain.engines.schedule._flexible_tabu import FlexibleTabuSearch
from factorybrain.engines.schedule._model import (
    SCALE,
    ObjectiveSpec,
    PreviousPlan,
    ScheduleModel,
    objective_value,
)
from factorybrain.engines.schedule._problem import PlannedOperation, Problem, Schedule
from factorybrain.engines.schedule._tabu import TabuSearch
from factorybrain.exceptions import InfeasibleError, ParameterError

OBJECTIVES = ("makespan", "tardiness", "mix")
STRATEGIES = ("auto", "full", "lns", "alternate")
FULL_MODEL_MAX_OPS = 250
LNS_FULL_SOLVE_SHARE = 0.25
TABU_SHARE = 0.6
FLEXIBLE_FIRST_SOLVE_SHARE = 0.2
FLEXIBLE_TABU_SHARE = 0.7
ALTERNATE_MIN_OPS = 100
ALTERNATE_ROUNDS = 4
SAFETY_SECONDS = 0.5


def _objective_spec(
    objective: str,
    makespan_weight: float,
    tardiness_weight: float,
    machine_change_weight: float,
    shift_weight: float,
    replanning: bool,
) -> ObjectiveSpec:
    if objective not in OBJECTIVES:
        raise ParameterError(
            f"The 'objective' parameter must be one of {OBJECTIVES}. Got {objective!r} instead."
        )
    for name, value in (
        ("makespan_weight", makespan_weight),
        ("tardiness_weight", tardiness_weight),
        ("machine_change_weight", machine_change_weight),
        ("shift_weight", shift_weight),
    ):
        if value < 0:
            raise ParameterError(f"The {name!r} parameter must be >= 0. Got {value!r} instead.")
    makespan = {"makespan": 1.0, "tardiness": 0.0, "mix": makespan_weight}[objective]
    tardiness = {"makespan": 0.0, "tardiness": 1.0, "mix": tardiness_weight}[objective]
    if not replanning:
        machine_change_weight = shift_weight = 0.0
    return ObjectiveSpec(makespan, tardiness, machine_change_weight, shift_weight)


def _previous_arrays(
    compiled: Compiled, previous_plan: Mapping[tuple[str, str], tuple[str, int]]
) -> PreviousPlan:
    machine_index = {m: i for i, m in enumerate(compiled.machine_ids)}
    machine = np.full(compiled.n_ops, -1, dtype=np.int64)
    start = np.full(compiled.n_ops, -1, dtype=np.int64)
    for k, key in enumerate(compiled.op_keys):
        entry = previous_plan.get(key)
        if entry is None:
            continue
        machine_id, begin = entry
        machine[k] = machine_index.get(machine_id, -2)
        start[k] = max(0, int(begin))
    return PreviousPlan(machine=machine, start=start)


def _follow_previous(compiled: Compiled, previous: PreviousPlan, tail: np.ndarray) -> Solution:
    """Dispatch in the previous plan's order, on the previous machines where still possible."""
    c = compiled
    keep = np.ones(len(c.alt_op), dtype=bool)
    for k in range(c.n_ops):
        lo, hi = c.alt_offset[k], c.alt_offset[k + 1]
        same = np.flatnonzero(c.alt_machine[lo:hi] == previous.machine[k])
        if len(same):
            keep[lo:hi] = False
            keep[lo + same[0]] = True
    restricted = _restrict(c, keep)
    order_key = np.where(previous.start >= 0, previous.start, c.horizon).astype(np.float64)
    solution = dispatch(restricted, rule="previous", tail=-order_key)
    alternative = np.flatnonzero(keep)[solution.alternative]
    return Solution(alternative=alternative, start=solution.start)


def _restrict(compiled: Compiled, keep: np.ndarray) -> Compiled:
    """A copy of ``compiled`` with only the alternatives in ``keep``."""
    from dataclasses import replace

    counts = np.add.reduceat(keep.astype(np.int64), compiled.alt_offset[:-1])
    offset = np.concatenate([[0], np.cumsum(counts)])
    return replace(
        compiled,
        alt_offset=offset,
        alt_op=compiled.alt_op[keep],
        alt_machine=compiled.alt_machine[keep],
        alt_duration=compiled.alt_duration[keep],
    )


def trivial_lower_bound(compiled: Compiled, head: np.ndarray, tail: np.ndarray) -> int:
    """Makespan lower bound: longest routing, and the load of machines with no alternative."""
    c = compiled
    bound = int((head + tail).max())
    single = np.diff(c.alt_offset) == 1
    alts = c.alt_offset[:-1][single]
    load = np.bincount(c.alt_machine[alts], weights=c.alt_duration[alts], minlength=c.n_machines)
    if c.is_flexible:
        total = c.min_duration().sum()
        bound = max(bound, int(np.ceil(total / c.n_machines)))
    return max(bound, int(load.max()) if len(load) else 0)


class _Search:
    """State of one engine call: the incumbent, the bound and the clock."""

    def __init__(
        self,
        compiled: Compiled,
        spec: ObjectiveSpec,
        previous: PreviousPlan | None,
        deadline: float,
        workers: int,
        seed: int,
        log: Callable[[str], None] | None,
    ) -> None:
        self.c = compiled
        self.spec = spec
        self.previous = previous
        self.deadline = deadline
        self.workers = workers
        self.rng = np.random.default_rng(seed)
        self.seed = seed
        self.log = log or (lambda message: None)
        self.incumbent: Solution | None = None
        self.hint: Solution | None = None
        self.value = np.inf
        self.bound = 0.0
        self.proven = False
        self.stats: dict[str, float] = {"lns_iterations": 0, "lns_improvements": 0}
        self.pure_makespan = spec.coefficients()[1:] == (0, 0, 0)
        self.overhead = 0.0

    def remaining(self) -> float:
        return self.deadline - time.perf_counter()

    def violates_dates(self, solution: Solution) -> bool:
        """Whether ``solution`` breaks a hard deadline or the horizon (heuristics ignore them)."""
        c = self.c
        end = solution.end(c)
        if c.problem.horizon is not None and end.max() > c.horizon:
            return True
        job_end = np.zeros(c.n_jobs, dtype=np.int64)
        np.maximum.at(job_end, c.job_of, end)
        return bool(((c.deadline >= 0) & (job_end > c.deadline)).any())

    def offer(self, solution: Solution, source: str) -> bool:
        if self.violates_dates(solution):
            if self.hint is None:
                self.hint = solution
            return False
        value = objective_value(self.c, self.spec, solution, self.previous)
        if value < self.value:
            self.log(f"{source}: objective {value / SCALE:g}")
            self.incumbent, self.value = solution, value
            return True
        if value == self.value:
            self.incumbent = solution
        return False

    def budget(self, seconds: float) -> float:
        """Solver limit that should end within ``seconds`` of wall clock, given past overruns."""
        return seconds - self.overhead

    def _timed_solve(
        self, solver: cp_model.CpSolver, model: cp_model.CpModel, limit: float
    ) -> cp_model.CpSolverStatus:
        """Solve and learn how much wall clock a solver limit really costs on this machine."""
        before = time.perf_counter()
        status = solver.solve(model)
        took = time.perf_counter() - before
        self.overhead = max(self.overhead, min(2.0, took - limit))
        return status

    def _solver(self, seconds: float, workers: int | None = None) -> cp_model.CpSolver:
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = max(0.05, seconds)
        solver.parameters.num_workers = workers or self.workers
        solver.parameters.random_seed = int(self.rng.integers(1 << 30))
        return solver

    def full_solve(self, model: ScheduleModel, seconds: float) -> None:
        work = model.model.clone()
        start_from = self.incumbent if self.incumbent is not None else self.hint
        if start_from is not None:
            model.add_hint(work, start_from)
        seconds = self.budget(min(seconds, self.remaining()))
        if seconds <= 0.1:
            return
        solver = self._solver(seconds)
        status = self._timed_solve(solver, work, seconds)
        self.stats["full_solve_seconds"] = (
            self.stats.get("full_solve_seconds", 0.0) + solver.wall_time
        )
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            self.offer(model.read(solver), "full model")
            self.hint = None
            self.bound = max(self.bound, float(solver.best_objective_bound))
            if status == cp_model.OPTIMAL and self.value <= solver.objective_value:
                self.proven = True
        elif status == cp_model.INFEASIBLE:
            raise InfeasibleError(explain_infeasibility(self.c))

    def tabu(self, seconds: float) -> None:
        c = self.c
        solution = self.incumbent
        assert solution is not None  # only called when dispatching gave an incumbent
        search = TabuSearch(
            c.alt_duration[solution.alternative],
            c.predecessors,
            c.successors,
            c.release[c.job_of],
            solution.machine(c),
            solution.start,
            seed=self.seed,
        )
        target = int(np.ceil(self.bound / SCALE)) if self.pure_makespan else 0
        makespan, start, steps = search.run(time.perf_counter() + seconds, target=target)
        self.stats["tabu_steps"] = self.stats.get("tabu_steps", 0) + steps
        self.offer(Solution(alternative=solution.alternative, start=start), "tabu search")
        if self.value <= self.bound:
            self.proven = True

    def flexible_tabu(self, seconds: float) -> None:
        """Improve the incumbent's machine assignment and sequences (makespan only)."""
        c = self.c
        solution = self.incumbent
        assert solution is not None  # only called when dispatching gave an incumbent
        search = FlexibleTabuSearch(
            c.alt_offset,
            c.alt_machine,
            c.alt_duration,
            c.predecessors,
            c.successors,
            c.release[c.job_of],
            solution.alternative,
            solution.start,
            seed=self.seed,
        )
        target = int(np.ceil(self.bound / SCALE))
        _, alternative, start = search.run(time.perf_counter() + seconds, target=target)
        self.stats["flexible_tabu_steps"] = self.stats.get("flexible_tabu_steps", 0) + search.steps
        self.offer(Solution(alternative=alternative, start=start), "flexible tabu search")
        if self.value <= self.bound:
            self.proven = True

    def alternate(self, model: ScheduleModel, seconds: float) -> None:
        """Flexible shops: CP-SAT (assignment and order) and tabu search (order) take turns.

        Each CP-SAT round starts from the best schedule so far; tabu search then improves the
        machine sequences of that assignment until it stalls or its share of time is spent.
        """
        chunk = seconds / ALTERNATE_ROUNDS
        while self.remaining() > 0.3 and not self.proven:
            self.full_solve(model, min(self.remaining(), chunk))
            if self.proven or self.remaining() < 0.3:
                break
            self.tabu(min(self.remaining(), 0.3 * chunk))

    def lns(self, model: ScheduleModel, size: float) -> None:
        c = self.c
        kinds = ("window", "jobs", "machine")
        makespan_index = model.makespan.index
        assert self.incumbent is not None  # only called with an incumbent; never unset
        while self.remaining() > 0.3 and not self.proven:
            kind = kinds[int(self.rng.integers(len(kinds)))]
            relaxed = self._neighbourhood(kind, int(size))
            work = model.model.clone()
            self._fix_outside(model, work, relaxed)
            if self.pure_makespan:
                makespan, _ = evaluate(c, self.incumbent)
                work.add(work.get_int_var_from_proto_index(makespan_index) <= makespan)
            model.add_hint(work, self.incumbent)
            limit = min(self.budget(self.remaining() - 0.2), max(0.5, 0.04 * c.n_ops**0.5))
            if limit <= 0.1:
                break
            solver = self._solver(limit)
            status = self._timed_solve(solver, work, limit)
            self.stats["lns_iterations"] += 1
            if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                if self.offer(model.read(solver), f"lns {kind} {int(size)}"):
                    self.stats["lns_improvements"] += 1
                if self.pure_makespan and self.value <= self.bound:
                    self.proven = True
            if status == cp_model.OPTIMAL:
                size = min(c.n_ops, size * 1.15 + 1)
            else:
                size = max(10.0, size * 0.9)
        self.stats["lns_final_size"] = size

    def _neighbourhood(self, kind: str, size: int) -> np.ndarray:
        c = self.c
        solution = self.incumbent
        assert solution is not None  # LNS runs only from an incumbent
        size = max(2, min(size, c.n_ops))
        if kind == "window":
            order = np.argsort(solution.start, kind="stable")
            first = int(self.rng.integers(0, c.n_ops - size + 1))
            return order[first : first + size]
        if kind == "jobs":
            chosen: list[int] = []
            count = 0
            starts = np.concatenate([[0], np.cumsum(np.bincount(c.job_of, minlength=c.n_jobs))])
            for j in self.rng.permutation(c.n_jobs):
                chosen.extend(range(starts[j], starts[j + 1]))
                count += starts[j + 1] - starts[j]
                if count >= size:
                    break
            return np.asarray(chosen, dtype=np.int64)
        machine = solution.machine(c)
        end = solution.end(c)
        makespan = end.max()
        critical = np.unique(machine[end == makespan])
        weights = np.bincount(machine, minlength=c.n_machines).astype(float)
        weights[critical] *= 3
        picked = int(self.rng.choice(c.n_machines, p=weights / weights.sum()))
        on_machine = np.flatnonzero(machine == picked)
        on_machine = on_machine[np.argsort(solution.start[on_machine], kind="stable")]
        block = max(2, size // 2)
        first = int(self.rng.integers(0, max(1, len(on_machine) - block + 1)))
        relaxed = set(on_machine[first : first + block].tolist())
        for k in list(relaxed):
            relaxed.update(c.predecessors[k])
            relaxed.update(c.successors[k])
        order_window = np.argsort(solution.start, kind="stable")
        extra = size - len(relaxed)
        if extra > 0:
            positions = np.flatnonzero(np.isin(order_window, on_machine[first : first + block]))
            center = int(positions.mean()) if len(positions) else 0
            low = max(0, center - extra // 2)
            relaxed.update(order_window[low : low + extra].tolist())
        return np.fromiter(relaxed, dtype=np.int64)

    def _fix_outside(
        self, model: ScheduleModel, work: cp_model.CpModel, relaxed: np.ndarray
    ) -> None:
        """Keep the incumbent's machine and machine order for every operation not relaxed."""
        c = self.c
        solution = self.incumbent
        assert solution is not None  # LNS runs only from an incumbent
        free = np.zeros(c.n_ops, dtype=bool)
        free[relaxed] = True
        machine = solution.machine(c)
        fixed = np.flatnonzero(~free)
        order = fixed[np.lexsort((solution.start[fixed], machine[fixed]))]
        same = machine[order[1:]] == machine[order[:-1]]
        first_ops, second_ops = order[:-1][same], order[1:][same]
        duration = c.alt_duration[solution.alternative]
        get = work.get_int_var_from_proto_index
        starts = model.start_index
        for a, b in zip(first_ops.tolist(), second_ops.tolist(), strict=True):
            gap = int(duration[a])
            if c.setup is not None:
                ga, gb = c.setup_group[a], c.setup_group[b]
                if ga >= 0 and gb >= 0:
                    gap += int(c.setup[machine[a], ga, gb])
            work.add(get(int(starts[b])) >= get(int(starts[a])) + gap)
        for k in fixed.tolist():
            a = int(solution.alternative[k])
            if model.presence_index[a] >= 0:
                work.add_bool_or([work.get_bool_var_from_proto_index(int(model.presence_index[a]))])


def explain_infeasibility(compiled: Compiled) -> str:
    """Name a set of constraints (deadlines, windows, horizon) that cannot all hold."""
    c = compiled
    head, tail = heads(c), tails(c)
    model = ScheduleModel(c, ObjectiveSpec(), None, head, tail, assumptions=True)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = 10.0
    status = solver.solve(model.model)
    if status != cp_model.INFEASIBLE:
        return (
            f"No schedule of {c.problem.name!r} was found in time; the deadlines, windows and "
            "horizon could not be shown to conflict."
        )
    core = set(solver.sufficient_assumptions_for_infeasibility())
    names = [name for literal, name in model.assumption_literals if literal.index in core]
    if not names:
        return f"Problem {c.problem.name!r} has no schedule: the routings and machines conflict."
    return (
        f"Problem {c.problem.name!r} has no schedule; these constraints cannot all hold: "
        + "; ".join(names)
        + "."
    )


def solve(
    problem: Problem,
    *,
    objective: str = "makespan",
    time_limit: float = 60.0,
    workers: int = 2,
    makespan_weight: float = 1.0,
    tardiness_weight: float = 1.0,
    previous_plan: Mapping[tuple[str, str], tuple[str, int]] | None = None,
    machine_change_weight: float = 10.0,
    shift_weight: float = 0.0,
    seed: int = 0,
    strategy: str = "auto",
    started_at: float | None = None,
    log: Callable[[str], None] | None = None,
) -> Schedule:
    """Plan ``problem`` and return the best schedule found within ``time_limit`` seconds.

    Args:
        problem: Jobs, machines and calendars.
        objective: ``"makespan"``, ``"tardiness"`` (total weighted tardiness) or ``"mix"``
            (``makespan_weight * makespan + tardiness_weight * weighted tardiness``).
        time_limit: Wall-clock budget in seconds, validation and model building included.
        workers: CP-SAT worker threads.
        makespan_weight: Weight of the makespan in the ``"mix"`` objective.
        tardiness_weight: Weight of the weighted tardiness in the ``"mix"`` objective.
        previous_plan: ``{(job, operation): (machine, start)}`` of the plan in force
            (:meth:`Schedule.as_previous_plan`); it seeds the search and, with the weights below,
            keeps the new plan close to it.
        machine_change_weight: Cost, in objective units, of moving one operation to another machine
            than in ``previous_plan``.
        shift_weight: Cost per time unit an operation's start moves from ``previous_plan``.
        seed: Seed of the random choices (neighbourhoods, tie-breaking).
        strategy: ``"auto"``, ``"full"`` (one CP-SAT model), ``"lns"`` (always use LNS) or
            ``"alternate"`` (flexible shops: CP-SAT and the job-shop tabu search on fixed machine
            assignments take turns; ``"auto"`` uses the flexible tabu search instead).
        started_at: ``time.perf_counter()`` value when the budget started (e.g. before reading the
            instance file); defaults to now.
        log: Optional callable receiving progress lines.

    Returns:
        The :class:`Schedule`, with bound, gap, status and per-job tardiness.

    Raises:
        InvalidProblemError: The problem is inconsistent (names what and where).
        InfeasibleError: No schedule exists; names the constraints that conflict.
        ParameterError: An argument is out of range.
    """
    clock = time.perf_counter() if started_at is None else started_at
    if time_limit <= 0:
        raise ParameterError(f"The 'time_limit' parameter must be > 0. Got {time_limit!r} instead.")
    if workers < 1:
        raise ParameterError(f"The 'workers' parameter must be >= 1. Got {workers!r} instead.")
    if strategy not in STRATEGIES:
        raise ParameterError(
            f"The 'strategy' parameter must be one of {STRATEGIES}. Got {strategy!r} instead."
        )
    compiled = compile_problem(problem)
    spec = _objective_spec(
        objective,
        makespan_weight,
        tardiness_weight,
        machine_change_weight,
        shift_weight,
        previous_plan is not None,
    )
    previous = _previous_arrays(compiled, previous_plan) if previous_plan is not None else None
    search = _Search(
        compiled, spec, previous, clock + time_limit - SAFETY_SECONDS, workers, seed, log
    )
    head, tail = heads(compiled), tails(compiled)
    pure_makespan = search.pure_makespan
    lower = trivial_lower_bound(compiled, head, tail)
    if pure_makespan:
        search.bound = float(lower * SCALE)

    if previous is not None:
        search.offer(_follow_previous(compiled, previous, tail), "previous plan")
    for index, (rule, priority, delay, noisy) in enumerate(_dispatch_plans(compiled, spec, tail)):
        if index and (search.remaining() < 0.85 * time_limit or search.value <= search.bound):
            break
        rng = np.random.default_rng(seed + index) if noisy else None
        solution = dispatch(compiled, rule, rng=rng, tail=priority, delay=delay)
        search.offer(solution, f"rule {rule} delay {delay}")
    search.stats["dispatch_seconds"] = time.perf_counter() - clock
    if pure_makespan and search.value <= search.bound:
        search.proven = True

    if not search.proven and search.remaining() > 0.2:
        makespan = None
        if search.incumbent is not None:
            makespan, _ = evaluate(compiled, search.incumbent)
        model = ScheduleModel(compiled, spec, previous, head, tail, makespan_upper_bound=makespan)
        search.stats["build_seconds"] = time.perf_counter() - clock
        use_lns = strategy == "lns" or (strategy == "auto" and compiled.n_ops > FULL_MODEL_MAX_OPS)
        tabu_ok = strategy == "auto" and _tabu_applies(compiled, spec, previous)
        flexible_tabu_ok = strategy == "auto" and _flexible_tabu_applies(compiled, spec, previous)
        if flexible_tabu_ok and search.incumbent is not None:
            search.full_solve(model, FLEXIBLE_FIRST_SOLVE_SHARE * search.remaining())
            if not search.proven:
                search.flexible_tabu(FLEXIBLE_TABU_SHARE * search.remaining())
            if not search.proven:
                search.full_solve(model, search.remaining())
        elif strategy == "alternate" and _tabu_applies(compiled, spec, previous, flexible=True):
            search.alternate(model, search.remaining())
        elif tabu_ok and use_lns:
            search.tabu(TABU_SHARE * search.remaining())
            if not search.proven:
                search.full_solve(model, search.remaining())
        elif not use_lns:
            search.full_solve(model, search.remaining())
        else:
            if compiled.n_ops <= 3000 or search.incumbent is None:
                share = LNS_FULL_SOLVE_SHARE if search.incumbent is not None else 1.0
                search.full_solve(model, share * search.remaining())
            if search.incumbent is not None:
                search.lns(model, size=min(compiled.n_ops, max(30, compiled.n_ops * 0.1)))

    if search.incumbent is None:
        raise InfeasibleError(
            f"No schedule of {problem.name!r} meeting every deadline and the horizon was found "
            f"within {time_limit:g} s (the heuristics' schedules break them and the solver did not "
            "finish); give more time, or relax deadlines or the horizon."
        )

    return _to_schedule(compiled, search, time.perf_counter() - clock)


def _tabu_applies(
    compiled: Compiled,
    spec: ObjectiveSpec,
    previous: PreviousPlan | None,
    flexible: bool = False,
) -> bool:
    """Tabu search handles pure makespan without calendars or setups (machines kept fixed)."""
    return (
        spec.coefficients()[1:] == (0, 0, 0)
        and previous is None
        and compiled.is_flexible == flexible
        and compiled.problem.horizon is None
        and not (compiled.deadline >= 0).any()
        and (not flexible or compiled.n_ops > ALTERNATE_MIN_OPS)
        and compiled.setup is None
        and not any(compiled.windows)
    )


def _flexible_tabu_applies(
    compiled: Compiled, spec: ObjectiveSpec, previous: PreviousPlan | None
) -> bool:
    """The flexible tabu search handles pure makespan without calendars, setups or deadlines."""
    return (
        spec.coefficients()[1:] == (0, 0, 0)
        and previous is None
        and compiled.is_flexible
        and compiled.problem.horizon is None
        and not (compiled.deadline >= 0).any()
        and compiled.setup is None
        and not any(compiled.windows)
    )


def _dispatch_plans(
    compiled: Compiled, spec: ObjectiveSpec, tail: np.ndarray
) -> list[tuple[str, np.ndarray, float, bool]]:
    """Dispatching runs to try, best first: (rule, priority tails, delay, randomised)."""
    load = np.bincount(
        compiled.alt_machine, weights=compiled.alt_duration, minlength=compiled.n_machines
    )
    relative = load / max(1.0, load.max())
    weighted = compiled.alt_duration * relative[compiled.alt_machine] ** 3
    bottleneck_tail = np.zeros(compiled.n_ops)
    per_op = np.maximum.reduceat(weighted, compiled.alt_offset[:-1])
    for k in compiled.topological_order[::-1]:
        after = max((bottleneck_tail[s] for s in compiled.successors[k]), default=0.0)
        bottleneck_tail[k] = per_op[k] + after
    plans: list[tuple[str, np.ndarray, float, bool]] = []
    if spec.tardiness > 0:
        plans += [("slack", tail, 0.0, False), ("slack", tail, 1.0, False)]
    plans += [
        ("mwkr", tail, 0.0, False),
        ("mwkr", bottleneck_tail, 0.0, False),
        ("mwkr", tail, 1.0, False),
        ("mwkr", bottleneck_tail, 0.3, False),
        ("spt", tail, 0.0, False),
        ("mwkr", tail, 0.0, True),
    ]
    return plans


def _to_schedule(compiled: Compiled, search: _Search, wall: float) -> Schedule:
    c = compiled
    solution = search.incumbent
    assert solution is not None  # solve() raises InfeasibleError before when there is none
    end = solution.end(c)
    machine = solution.machine(c)
    operations = [
        PlannedOperation(
            job=c.op_keys[k][0],
            operation=c.op_keys[k][1],
            machine=c.machine_ids[machine[k]],
            start=int(solution.start[k]),
            end=int(end[k]),
        )
        for k in np.lexsort((solution.start, machine))
    ]
    makespan, tardiness = evaluate(c, solution)
    objective = search.value / SCALE
    bound = min(search.bound / SCALE, objective)
    if search.proven:
        bound = objective
    gap = (objective - bound) / max(1.0, abs(objective))
    moved = 0
    if search.previous is not None:
        known = search.previous.machine >= 0
        moved = int((known & (machine != search.previous.machine)).sum())
    return Schedule(
        operations=operations,
        objective=objective,
        best_bound=bound,
        gap=gap,
        status="optimal" if gap <= 1e-9 else "feasible",
        wall_seconds=wall,
        makespan=makespan,
        tardiness={c.job_ids[j]: int(tardiness[j]) for j in range(c.n_jobs) if c.due[j] >= 0},
        weighted_tardiness=float((c.weight * tardiness).sum()),
        moved_operations=moved,
        stats=dict(search.stats),
    )
