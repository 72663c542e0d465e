"""Production scheduling: flexible job shop with calendars, setups and re-planning, on CP-SAT.

Example::

    from factorybrain.engines.schedule import Job, Machine, Operation, Problem, solve

    problem = Problem(
        jobs=[Job("WO-1", [Operation("cut", {"saw": 5}), Operation("weld", {"robot": 7})], due=20)],
        machines=[Machine("saw"), Machine("robot")],
    )
    schedule = solve(problem, objective="tardiness", time_limit=5)
"""

from __future__ import annotations

from factorybrain.engines.schedule._compile import InvalidProblemError
from factorybrain.engines.schedule._engine import Scheduler
from factorybrain.engines.schedule._gantt import gantt_svg
from factorybrain.engines.schedule._io import read_fjsp, read_jobshop
from factorybrain.engines.schedule._problem import (
    Job,
    Machine,
    Operation,
    PlannedOperation,
    Problem,
    Schedule,
    Window,
)
from factorybrain.engines.schedule._solver import solve

__all__ = [
    "InvalidProblemError",
    "Job",
    "Machine",
    "Operation",
    "PlannedOperation",
    "Problem",
    "Schedule",
    "Scheduler",
    "Window",
    "gantt_svg",
    "read_fjsp",
    "read_jobshop",
    "solve",
]
