"""Behaviour of the scheduling engine: optimality on known instances, calendars, dates, setups,
re-planning stability, and explanations of inconsistent or infeasible input."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from factorybrain.engines.schedule import (
    InvalidProblemError,
    Job,
    Machine,
    Operation,
    Problem,
    Schedule,
    Window,
    read_fjsp,
    read_jobshop,
    solve,
)
from factorybrain.exceptions import EngineError, InfeasibleError, IngestError, ParameterError

FT06 = """6 6
2  1  0  3  1  6  3  7  5  3  4  6
1  8  2  5  4 10  5 10  0 10  3  4
2  5  3  4  5  8  0  9  1  1  4  7
1  5  0  5  2  5  3  3  4  8  5  9
2  9  1  3  4  5  5  4  0  3  3  1
1  3  3  3  5  9  0 10  4  4  2  1
"""

KACEM1 = """4 5 5
3  5 1 2 2 5 3 4 4 1 5 2  5 1 5 2 4 3 5 4 7 5 5  5 1 4 2 5 3 5 4 4 5 5
3  5 1 2 2 5 3 4 4 7 5 8  5 1 5 2 6 3 9 4 8 5 5  5 1 4 2 5 3 4 4 54 5 5
4  5 1 9 2 8 3 6 4 7 5 9  5 1 6 2 1 3 2 4 5 5 4  5 1 2 2 5 3 4 4 2 5 4  5 1 4 2 5 3 2 4 1 5 5
2  5 1 1 2 5 3 2 4 4 5 12 5 1 5 2 1 3 2 4 1 5 2
"""


def assert_feasible(problem: Problem, schedule: Schedule) -> None:
    """Check precedences, releases, durations, machine capacity and windows of a schedule."""
    planned = {(op.job, op.operation): op for op in schedule.operations}
    assert len(planned) == problem.n_operations
    machines = {m.id: m for m in problem.machines}
    for job in problem.jobs:
        for position, operation in enumerate(job.operations):
            op = planned[(job.id, operation.id)]
            assert op.machine in operation.durations
            assert op.end - op.start == operation.durations[op.machine]
            assert op.start >= job.release
            if job.deadline is not None:
                assert op.end <= job.deadline
            predecessors = operation.predecessors
            if predecessors is None:
                predecessors = (job.operations[position - 1].id,) if position else ()
            for name in predecessors:
                assert op.start >= planned[(job.id, name)].end
            for window in machines[op.machine].unavailable:
                assert op.end <= window.start or op.start >= window.end
    by_machine = defaultdict(list)
    for op in schedule.operations:
        by_machine[op.machine].append(op)
    for ops in by_machine.values():
        ops.sort(key=lambda op: op.start)
        for first, second in zip(ops, ops[1:], strict=False):
            assert second.start >= first.end


def test_ft06_is_solved_to_its_known_optimum(tmp_path):
    path = tmp_path / "ft06.txt"
    path.write_text(FT06)
    problem = read_jobshop(path)
    schedule = solve(problem, time_limit=10, workers=1)
    assert problem.n_operations == 36
    assert schedule.makespan == 55
    assert schedule.status == "optimal"
    assert schedule.gap == 0
    assert schedule.best_bound == 55
    assert_feasible(problem, schedule)


def test_flexible_instance_reaches_its_optimum(tmp_path):
    path = tmp_path / "kacem1.txt"
    path.write_text(KACEM1)
    problem = read_fjsp(path)
    assert len(problem.jobs[0].operations[0].durations) == 5
    schedule = solve(problem, time_limit=10, workers=1)
    assert schedule.makespan == 11
    assert_feasible(problem, schedule)


def test_readers_name_the_file_and_line_of_bad_input(tmp_path):
    path = tmp_path / "broken.txt"
    path.write_text("2 2\n0 3 x 4\n1 2 0 3\n")
    with pytest.raises(IngestError, match="broken.txt: line 2"):
        read_jobshop(path)
    with pytest.raises(IngestError, match="missing.txt"):
        read_jobshop(tmp_path / "missing.txt")


def _random_jobshop(n_jobs: int, n_machines: int, seed: int) -> Problem:
    rng = np.random.default_rng(seed)
    jobs = []
    for j in range(n_jobs):
        order = rng.permutation(n_machines)
        operations = [
            Operation(str(i), {f"M{m}": int(rng.integers(1, 100))}) for i, m in enumerate(order)
        ]
        jobs.append(Job(f"J{j}", operations))
    return Problem(jobs, [Machine(f"M{m}") for m in range(n_machines)], name=f"rand{seed}")


def test_large_instance_improves_on_dispatching_and_stops_in_time():
    problem = _random_jobshop(30, 10, seed=3)
    schedule = solve(problem, time_limit=3, workers=1)
    assert_feasible(problem, schedule)
    assert schedule.wall_seconds <= 3.5
    assert schedule.stats["tabu_steps"] > 0
    assert schedule.best_bound <= schedule.makespan
    quick = solve(problem, time_limit=0.2, workers=1)
    assert schedule.makespan <= quick.makespan


def test_maintenance_windows_and_releases_are_respected():
    problem = Problem(
        jobs=[
            Job("A", [Operation("1", {"M1": 4}), Operation("2", {"M2": 3})], release=2),
            Job("B", [Operation("1", {"M2": 5}), Operation("2", {"M1": 2})]),
            Job("C", [Operation("1", {"M1": 3, "M2": 6})], release=1),
        ],
        machines=[
            Machine("M1", unavailable=[Window(3, 8, "maintenance")]),
            Machine("M2", unavailable=[Window(0, 1, "off-shift")]),
        ],
    )
    schedule = solve(problem, time_limit=5, workers=1)
    assert_feasible(problem, schedule)
    assert schedule.status == "optimal"


def test_tardiness_objective_meets_due_dates_when_possible():
    jobs = [
        Job(f"J{i}", [Operation("a", {"M": 3}), Operation("b", {"N": 2})], due=due, weight=w)
        for i, (due, w) in enumerate([(20, 1.0), (5, 3.0), (9, 2.0), (14, 1.0)])
    ]
    problem = Problem(jobs, [Machine("M"), Machine("N")])
    schedule = solve(problem, objective="tardiness", time_limit=5, workers=1)
    assert_feasible(problem, schedule)
    assert schedule.weighted_tardiness == 0
    assert set(schedule.tardiness) == {"J0", "J1", "J2", "J3"}
    assert all(value == 0 for value in schedule.tardiness.values())


def test_sequence_dependent_setups_are_inserted_and_minimised():
    groups = ["red", "blue", "red", "blue"]
    jobs = [
        Job(f"J{i}", [Operation("paint", {"P": 2}, setup_group=group)])
        for i, group in enumerate(groups)
    ]
    setups = {("red", "blue"): 10, ("blue", "red"): 10}
    problem = Problem(jobs, [Machine("P", setup_times=setups)])
    schedule = solve(problem, time_limit=5, workers=1)
    assert_feasible(problem, schedule)
    ordered = sorted(schedule.operations, key=lambda op: op.start)
    colours = [groups[int(op.job[1:])] for op in ordered]
    changes = sum(a != b for a, b in zip(colours, colours[1:], strict=False))
    assert changes == 1
    assert schedule.makespan == 8 + 10
    for first, second in zip(ordered, ordered[1:], strict=False):
        same = groups[int(first.job[1:])] == groups[int(second.job[1:])]
        assert second.start >= first.end + (0 if same else 10)


def test_replanning_after_a_breakdown_moves_few_operations():
    rng = np.random.default_rng(0)
    machines = [Machine(f"M{m}") for m in range(4)]
    jobs = []
    for j in range(8):
        operations = []
        for i in range(3):
            eligible = rng.choice(4, size=2, replace=False)
            operations.append(
                Operation(str(i), {f"M{m}": int(rng.integers(2, 9)) for m in eligible})
            )
        jobs.append(Job(f"J{j}", operations))
    problem = Problem(jobs, machines)
    first = solve(problem, time_limit=3, workers=1)
    broken = [
        Machine(m.id, unavailable=[Window(0, 1000, "breakdown")] if m.id == "M0" else [])
        for m in machines
    ]
    replanned_problem = Problem(jobs, broken, horizon=2000)
    replan = solve(
        replanned_problem,
        time_limit=3,
        workers=1,
        previous_plan=first.as_previous_plan(),
        machine_change_weight=50.0,
    )
    assert_feasible(replanned_problem, replan)
    on_broken = sum(op.machine == "M0" for op in first.operations)
    assert replan.moved_operations == on_broken
    assert all(op.machine != "M0" or op.start >= 1000 for op in replan.operations)


def _one_job(*operations: Operation, **dates: int) -> Problem:
    return Problem([Job("WO-7", list(operations), **dates)], [Machine("lathe")])


@pytest.mark.parametrize(
    ("problem", "pattern"),
    [
        (_one_job(Operation("turn", {})), "'turn' of job 'WO-7' has no eligible machine"),
        (_one_job(Operation("turn", {"lathe": -4})), "duration -4 on machine 'lathe'"),
        (_one_job(Operation("turn", {"mill": 4})), "names machine 'mill'"),
        (
            _one_job(
                Operation("a", {"lathe": 1}, predecessors=("c",)),
                Operation("b", {"lathe": 1}, predecessors=("a",)),
                Operation("c", {"lathe": 1}, predecessors=("b",)),
            ),
            "job 'WO-7' contain a cycle: 'a' -> 'b' -> 'c' -> 'a'",
        ),
        (
            _one_job(Operation("turn", {"lathe": 4}), release=50, due=10),
            "'WO-7' is due at 10, before its release date 50",
        ),
        (
            Problem(
                [Job("WO-7", [Operation("turn", {"lathe": 4})])],
                [Machine("lathe", unavailable=[Window(0, 100, "overhaul")])],
                horizon=100,
            ),
            "Machine 'lathe' has no capacity in \\[0, 100\\).*overhaul",
        ),
        (
            Problem(
                [Job("WO-7", [Operation("turn", {"lathe": 45})])],
                [Machine("lathe", unavailable=[Window(10, 20, "shift"), Window(50, 60, "x")])],
                horizon=100,
            ),
            "'turn' of job 'WO-7' fits on no machine calendar.*'lathe' needs 45, longest free "
            "stretch 40",
        ),
    ],
)
def test_inconsistent_input_is_explained(problem, pattern):
    with pytest.raises(InvalidProblemError, match=pattern) as caught:
        solve(problem, time_limit=1)
    assert isinstance(caught.value, EngineError)


def test_infeasible_plan_names_the_conflicting_constraints():
    problem = Problem(
        jobs=[
            Job("WO-1", [Operation("press", {"P": 5})], deadline=12),
            Job("WO-2", [Operation("press", {"P": 5})], deadline=12),
        ],
        machines=[Machine("P", unavailable=[Window(4, 8, "maintenance")])],
    )
    with pytest.raises(InfeasibleError) as caught:
        solve(problem, time_limit=5, workers=1)
    message = str(caught.value)
    assert "maintenance" in message and "'P'" in message
    assert "deadline 12 of job 'WO-1'" in message or "deadline 12 of job 'WO-2'" in message


def test_a_job_longer_than_its_deadline_is_named():
    problem = _one_job(Operation("a", {"lathe": 30}), Operation("b", {"lathe": 30}), deadline=50)
    with pytest.raises(InfeasibleError, match="'WO-7' cannot meet its deadline 50"):
        solve(problem, time_limit=1)


def test_bad_arguments_raise_parameter_errors():
    problem = _one_job(Operation("a", {"lathe": 3}))
    with pytest.raises(ParameterError, match="objective"):
        solve(problem, objective="profit")
    with pytest.raises(ParameterError, match="time_limit"):
        solve(problem, time_limit=0)


def test_schedule_table_has_one_row_per_operation():
    problem = _random_jobshop(3, 3, seed=1)
    table = solve(problem, time_limit=2, workers=1).to_pandas()
    assert list(table.columns) == ["job", "operation", "machine", "start", "end"]
    assert len(table) == 9
    assert (table["end"] > table["start"]).all()


def test_gantt_chart_is_valid_svg_with_machines_jobs_and_windows():
    import xml.etree.ElementTree as ElementTree

    from factorybrain.engines.schedule import gantt_svg

    problem = Problem(
        jobs=[
            Job("A&B", [Operation("1", {"M1": 4}), Operation("2", {"M2": 3})]),
            Job("C", [Operation("1", {"M2": 5}), Operation("2", {"M1": 2})]),
        ],
        machines=[Machine("M1", unavailable=[Window(5, 9, "maintenance")]), Machine("M2")],
    )
    schedule = solve(problem, time_limit=2, workers=1)
    svg = gantt_svg(schedule, problem, time_unit="min")
    root = ElementTree.fromstring(svg)
    namespace = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{namespace}svg"
    titles = [t.text for t in root.iter(f"{namespace}title")]
    assert sum("job" in title for title in titles) == 4
    assert any("maintenance [5, 9)" in title for title in titles)
    hatched = [r for r in root.iter(f"{namespace}rect") if r.get("fill") == "url(#hatch)"]
    assert len(hatched) == 1
    texts = {t.text for t in root.iter(f"{namespace}text")}
    assert {"M1", "M2"} <= texts
    fills = {
        r.get("fill")
        for r in root.iter(f"{namespace}rect")
        if r.find(f"{namespace}title") is not None and "job" in r.find(f"{namespace}title").text
    }
    assert len(fills) == 2


def test_scheduler_engine_follows_the_engine_contract():
    from factorybrain.engines.schedule import Scheduler
    from factorybrain.exceptions import NotFittedError

    problem = _random_jobshop(4, 3, seed=2)
    engine = Scheduler(time_limit=2.0, workers=1)
    with pytest.raises(NotFittedError):
        engine.replan(problem)
    assert engine.fit(problem) is engine
    first = engine.schedule_
    again = engine.replan(problem)
    assert again.moved_operations == 0
    assert again.makespan <= first.makespan
    with pytest.raises(ParameterError, match="'workers' parameter of Scheduler"):
        Scheduler(workers=0).fit(problem)


def test_public_names_are_sorted():
    import factorybrain.engines.schedule as schedule

    assert schedule.__all__ == sorted(schedule.__all__)


def test_search_handles_jobs_that_revisit_a_machine_and_flexible_shops():
    rng = np.random.default_rng(5)
    machines = [Machine(f"M{m}") for m in range(5)]
    revisiting = Problem(
        [
            Job(
                f"J{j}",
                [
                    Operation(str(i), {f"M{int(m)}": int(rng.integers(1, 20))})
                    for i, m in enumerate(rng.integers(0, 5, size=10))
                ],
            )
            for j in range(30)
        ],
        machines,
    )
    schedule = solve(revisiting, time_limit=2, workers=1)
    assert_feasible(revisiting, schedule)
    assert schedule.stats.get("tabu_steps", 0) > 0 or schedule.status == "optimal"
    flexible = Problem(
        [
            Job(
                f"J{j}",
                [
                    Operation(
                        str(i),
                        {f"M{int(m)}": int(rng.integers(1, 20)) for m in rng.choice(5, 2, False)},
                    )
                    for i in range(8)
                ],
            )
            for j in range(15)
        ],
        machines,
    )
    for strategy in ("auto", "alternate"):
        schedule = solve(flexible, time_limit=2, workers=1, strategy=strategy)
        assert_feasible(flexible, schedule)
        assert schedule.wall_seconds <= 2.5


def test_deadlines_are_met_even_when_dispatching_rules_break_them():
    problem = Problem(
        jobs=[
            Job("long", [Operation("a", {"M": 10})]),
            Job("urgent", [Operation("a", {"M": 2})], deadline=5),
        ],
        machines=[Machine("M")],
        horizon=40,
    )
    schedule = solve(problem, time_limit=5, workers=1)
    assert_feasible(problem, schedule)
    urgent = next(op for op in schedule.operations if op.job == "urgent")
    assert urgent.end <= 5


def _random_flexible_shop(seed: int) -> Problem:
    """Flexible shop with releases and branching routings (two parallel operations per job)."""
    rng = np.random.default_rng(seed)
    jobs = []
    for j in range(20):
        operations = []
        for i in range(6):
            eligible = rng.choice(6, size=int(rng.integers(1, 4)), replace=False)
            durations = {f"M{int(m)}": int(rng.integers(1, 30)) for m in eligible}
            predecessors = None if i != 3 else ("1",)
            operations.append(Operation(str(i), durations, predecessors=predecessors))
        jobs.append(Job(f"J{j}", operations, release=int(rng.integers(0, 20))))
    return Problem(jobs, [Machine(f"M{m}") for m in range(6)], name=f"flex{seed}")


def test_flexible_tabu_search_keeps_schedules_feasible_and_improves_dispatching():
    from factorybrain.engines.schedule._compile import compile_problem
    from factorybrain.engines.schedule._dispatch import Solution, dispatch, evaluate, tails
    from factorybrain.engines.schedule._flexible_tabu import FlexibleTabuSearch

    problem = _random_flexible_shop(seed=11)
    compiled = compile_problem(problem)
    start = dispatch(compiled, "mwkr", tail=tails(compiled))
    search = FlexibleTabuSearch(
        compiled.alt_offset,
        compiled.alt_machine,
        compiled.alt_duration,
        compiled.predecessors,
        compiled.successors,
        compiled.release[compiled.job_of],
        start.alternative,
        start.start,
        seed=1,
    )
    makespan, alternative, begin = search.run(float("inf"), max_steps=3000)
    assert search.steps == 3000
    solution = Solution(alternative=alternative, start=begin)
    assert evaluate(compiled, solution)[0] == makespan < evaluate(compiled, start)[0]
    machine = solution.machine(compiled)
    end = solution.end(compiled)
    for k in range(compiled.n_ops):
        assert begin[k] >= compiled.release[compiled.job_of[k]]
        assert all(begin[k] >= end[p] for p in compiled.predecessors[k])
    for m in range(compiled.n_machines):
        on_machine = np.flatnonzero(machine == m)
        on_machine = on_machine[np.argsort(begin[on_machine])]
        assert (begin[on_machine[1:]] >= end[on_machine[:-1]]).all()


def test_flexible_shops_use_the_tabu_search_within_the_time_limit():
    problem = _random_flexible_shop(seed=12)
    schedule = solve(problem, time_limit=3, workers=1)
    assert_feasible(problem, schedule)
    assert schedule.wall_seconds <= 3.5
    assert schedule.stats.get("flexible_tabu_steps", 0) > 0 or schedule.status == "optimal"
