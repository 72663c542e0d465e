"""Job-shop benchmark: factorybrain's scheduling engine against a plain CP-SAT model.

Reads JSPLib instances (``DIR/instances/<family>/<name>.txt``) and best-known bounds
(``DIR/solutions/bks.json``). Every instance is solved twice with the same wall-clock limit and
number of workers: by :func:`factorybrain.engines.schedule.solve` (reading and model building
counted in its budget) and by a plain CP-SAT model (interval variables, one no-overlap per
machine, makespan, no hints, solver limit = the same limit). Prints progress to stderr and one
JSON object on the last line of stdout.

Example:
    .venv/bin/python benchmarks/schedule_jobshop.py --time-limit 20 --instances 'ta5*' ft06
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from ortools.sat.python import cp_model

from factorybrain.engines.schedule import Problem, read_jobshop, solve

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "jobshop"


def plain_cp_sat(problem: Problem, time_limit: float, workers: int) -> tuple[int | None, bool]:
    """Solve the textbook CP-SAT model; return (makespan or None, proven optimal)."""
    model = cp_model.CpModel()
    horizon = sum(max(op.durations.values()) for job in problem.jobs for op in job.operations)
    per_machine: dict[str, list[cp_model.IntervalVar]] = {m.id: [] for m in problem.machines}
    makespan = model.new_int_var(0, horizon, "makespan")
    for job in problem.jobs:
        previous_end = None
        for op in job.operations:
            start = model.new_int_var(0, horizon, "")
            if len(op.durations) == 1:
                ((machine, duration),) = op.durations.items()
                end = start + duration
                per_machine[machine].append(model.new_fixed_size_interval_var(start, duration, ""))
            else:
                end = model.new_int_var(0, horizon, "")
                literals = []
                for machine, duration in op.durations.items():
                    literal = model.new_bool_var("")
                    literals.append(literal)
                    per_machine[machine].append(
                        model.new_optional_interval_var(start, duration, end, literal, "")
                    )
                model.add_exactly_one(literals)
            if previous_end is not None:
                model.add(start >= previous_end)
            previous_end = end
        model.add(makespan >= previous_end)
    for intervals in per_machine.values():
        if len(intervals) > 1:
            model.add_no_overlap(intervals)
    model.minimize(makespan)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit
    solver.parameters.num_workers = workers
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None, False
    return int(solver.objective_value), status == cp_model.OPTIMAL


def run_instance(
    reader: Callable[[Path], Problem],
    path: Path,
    time_limit: float,
    workers: int,
    skip_baseline: bool,
) -> dict:
    """Solve one instance with the engine and the plain model; return the figures."""
    started = time.perf_counter()
    result: dict = {"instance": path.stem, "family": path.parent.name}
    try:
        problem = reader(path)
        schedule = solve(problem, time_limit=time_limit, workers=workers, started_at=started)
        result.update(
            engine_makespan=schedule.makespan,
            engine_optimal=schedule.status == "optimal",
            engine_bound=schedule.best_bound,
            engine_stats={k: round(float(v), 3) for k, v in schedule.stats.items()},
        )
    except Exception as error:  # noqa: BLE001 - the benchmark records any failure per instance
        result.update(engine_makespan=None, engine_optimal=False, engine_error=repr(error))
    result["engine_wall_seconds"] = round(time.perf_counter() - started, 3)
    if not skip_baseline:
        started = time.perf_counter()
        makespan, optimal = plain_cp_sat(reader(path), time_limit, workers)
        result.update(
            baseline_makespan=makespan,
            baseline_optimal=optimal,
            baseline_wall_seconds=round(time.perf_counter() - started, 3),
        )
    return result


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 3) if values else None


def summarise(results: list[dict]) -> dict:
    """Aggregate per-instance results into the benchmark's figures."""
    engine_gaps = [r["engine_gap_pct"] for r in results if r.get("engine_gap_pct") is not None]
    baseline_gaps = [
        r["baseline_gap_pct"] for r in results if r.get("baseline_gap_pct") is not None
    ]
    return {
        "instances": len(results),
        "engine_mean_gap_pct": _mean(engine_gaps),
        "baseline_mean_gap_pct": _mean(baseline_gaps),
        "engine_optimal": sum(bool(r.get("engine_optimal")) for r in results),
        "baseline_optimal": sum(bool(r.get("baseline_optimal")) for r in results),
        "unsolved": sum(r.get("engine_makespan") is None for r in results),
        "baseline_unsolved": sum(
            "baseline_makespan" in r and r["baseline_makespan"] is None for r in results
        ),
        "engine_best_known": sum(
            r.get("engine_gap_pct") is not None and r["engine_gap_pct"] <= 0 for r in results
        ),
        "engine_max_wall_seconds": max((r["engine_wall_seconds"] for r in results), default=None),
        "baseline_max_wall_seconds": max(
            (r["baseline_wall_seconds"] for r in results if "baseline_wall_seconds" in r),
            default=None,
        ),
    }


def main(
    argv: list[str] | None = None,
    reader: Callable[[Path], Problem] = read_jobshop,
    default_data: Path = DEFAULT_DATA,
) -> dict:
    """Run the benchmark from the command line and print its JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_data)
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--instances", nargs="*", default=["*"], help="name globs, e.g. 'ta2*'")
    parser.add_argument(
        "--parallel", type=int, default=1, help="instances solved at the same time (each with W)"
    )
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args(argv)

    bks_path = args.data / "solutions" / "bks.json"
    best_known = {entry["instance"]: entry for entry in json.loads(bks_path.read_text())}
    paths = sorted(
        path
        for path in (args.data / "instances").rglob("*.txt")
        if any(fnmatch.fnmatch(path.stem, pattern) for pattern in args.instances)
    )
    if not paths:
        parser.error(f"no instance under {args.data / 'instances'} matches {args.instances}")
    print(f"{len(paths)} instances, {args.time_limit} s, {args.workers} workers", file=sys.stderr)
    tasks = [(reader, p, args.time_limit, args.workers, args.skip_baseline) for p in paths]
    results = []
    with ProcessPoolExecutor(max_workers=max(1, args.parallel)) as pool:
        for result in pool.map(run_instance, *zip(*tasks, strict=True)):
            bks = best_known.get(result["instance"], {}).get("upper_bound")
            for who in ("engine", "baseline"):
                makespan = result.get(f"{who}_makespan")
                if bks and makespan is not None:
                    result[f"{who}_gap_pct"] = round(100.0 * (makespan - bks) / bks, 3)
            result["best_known"] = bks
            print(json.dumps(result), file=sys.stderr)
            results.append(result)
    summary = summarise(results)
    families = sorted({r["family"] for r in results})
    summary["families"] = {
        family: summarise([r for r in results if r["family"] == family]) for family in families
    }
    summary["time_limit"] = args.time_limit
    summary["workers"] = args.workers
    summary["per_instance"] = {
        r["instance"]: [r.get("engine_gap_pct"), r.get("baseline_gap_pct")] for r in results
    }
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
