"""The scheduling engine under the common :class:`~factorybrain.engines.Engine` contract."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from factorybrain.engines._base import Constraint, Engine, Interval, Options
from factorybrain.engines.schedule._problem import Problem, Schedule
from factorybrain.engines.schedule._solver import OBJECTIVES, solve


class Scheduler(Engine):
    """Plan jobs on machines with CP-SAT, dispatching rules, tabu search and LNS.

    ``fit(problem)`` plans and stores the answer in ``schedule_``; ``replan(problem)`` plans
    again with the stored schedule as previous plan (warm start and stability).

    Args:
        objective: ``"makespan"``, ``"tardiness"`` or ``"mix"``.
        time_limit: Wall-clock seconds per plan, validation and model building included.
        workers: CP-SAT worker threads.
        makespan_weight: Weight of the makespan in ``"mix"``.
        tardiness_weight: Weight of the total weighted tardiness in ``"mix"``.
        machine_change_weight: Cost of moving an operation to another machine when re-planning.
        shift_weight: Cost per time unit an operation's start moves when re-planning.
        seed: Seed of the random choices.

    Example:
        >>> from factorybrain.engines.schedule import Job, Machine, Operation, Problem
        >>> problem = Problem([Job("WO-1", [Operation("cut", {"saw": 5})])], [Machine("saw")])
        >>> Scheduler(time_limit=5).fit(problem).schedule_.makespan
        5
    """

    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        "objective": [Options(OBJECTIVES)],
        "time_limit": [Interval(float, 0, None, closed="neither")],
        "workers": [Interval(int, 1, None)],
        "makespan_weight": [Interval(float, 0, None)],
        "tardiness_weight": [Interval(float, 0, None)],
        "machine_change_weight": [Interval(float, 0, None)],
        "shift_weight": [Interval(float, 0, None)],
        "seed": [Interval(int, 0, None)],
    }

    def __init__(
        self,
        *,
        objective: str = "makespan",
        time_limit: float = 60.0,
        workers: int = 2,
        makespan_weight: float = 1.0,
        tardiness_weight: float = 1.0,
        machine_change_weight: float = 10.0,
        shift_weight: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.objective = objective
        self.time_limit = time_limit
        self.workers = workers
        self.makespan_weight = makespan_weight
        self.tardiness_weight = tardiness_weight
        self.machine_change_weight = machine_change_weight
        self.shift_weight = shift_weight
        self.seed = seed

    def _solve(
        self,
        problem: Problem,
        previous_plan: Mapping[tuple[str, str], tuple[str, int]] | None,
    ) -> Schedule:
        self._validate_parameters()
        return solve(problem, previous_plan=previous_plan, **self.get_params())

    def fit(
        self,
        problem: Problem,
        previous_plan: Mapping[tuple[str, str], tuple[str, int]] | None = None,
    ) -> Scheduler:
        """Plan ``problem`` (optionally close to ``previous_plan``); store it in ``schedule_``."""
        self.schedule_ = self._solve(problem, previous_plan)
        return self

    def replan(self, problem: Problem) -> Schedule:
        """Plan the changed ``problem`` starting from, and staying close to, ``schedule_``."""
        self._check_fitted()
        self.schedule_ = self._solve(problem, self.schedule_.as_previous_plan())
        return self.schedule_
