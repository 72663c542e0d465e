"""Re-plan after a machine breakdown on the demo factory.

Plans the demo plant's open work orders, then breaks down the machine with the most planned work
for ``--hours`` from the start of its first planned operation, and re-plans with the previous plan
as warm start (moving an operation to another machine costs, so the plan stays stable). Prints one
JSON object on the last line: ``replan_seconds`` (wall clock of the re-plan: reading the store,
building the problem and solving; bar <= 10 s), ``moved_fraction`` (share of the operations
planned on another machine than before; bar <= 0.10), and ``plan_seconds``, ``operations``,
``shifted_fraction`` (operations whose start moved), tardiness before and after.

Example:
    python benchmarks/replan_demo.py                                # simulate and load first
    python benchmarks/replan_demo.py --store demo.duckdb --plant demo-plant --hours 8
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from datetime import timedelta
from pathlib import Path

from factorybrain.agents.planning import Downtime, plan_orders
from factorybrain.store import open_store

sys.path.insert(0, str(Path(__file__).resolve().parent))
from oee_demo import demo_store  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--machines", type=int, default=12)
    parser.add_argument("--store", type=Path, default=None, help="an already loaded demo store")
    parser.add_argument("--plant", type=Path, default=None, help="its exports (unused; symmetry)")
    parser.add_argument("--hours", type=float, default=8.0, help="length of the breakdown")
    parser.add_argument("--time-limit", type=float, default=10.0, help="seconds of the first plan")
    parser.add_argument(
        "--replan-limit", type=float, default=6.0, help="seconds of the engine when re-planning"
    )
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if args.store is not None and args.plant is None:
        args.plant = args.store.parent
    store_path, _, work = demo_store(args, "fb-replan-")
    try:
        with open_store(store_path, read_only=True) as store:
            first = plan_orders(store, time_limit=args.time_limit, workers=args.workers)
            print(f"plan: {first.summary()}", file=sys.stderr)
            load = first.operations.assign(
                minutes=(first.operations["end"] - first.operations["start"]).dt.total_seconds()
            )
            machine = load.groupby("machine")["minutes"].sum().idxmax()
            begin = load.loc[load["machine"] == machine, "start"].min().to_pydatetime()
            breakdown = Downtime(machine, begin, begin + timedelta(hours=args.hours), "breakdown")
            print(f"breakdown of {machine} from {begin} for {args.hours} h", file=sys.stderr)
            started = time.perf_counter()
            second = plan_orders(
                store,
                time_limit=args.replan_limit,
                workers=args.workers,
                extra_downtime=[breakdown],
                previous=first,
            )
            replan_seconds = time.perf_counter() - started
            print(f"re-plan: {second.summary()}", file=sys.stderr)
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
    key = ["work_order", "sequence"]
    joined = first.operations.merge(second.operations, on=key, suffixes=("_before", "_after"))
    operations = len(first.operations)
    moved = int((joined["machine_before"] != joined["machine_after"]).sum())
    shifted = int((joined["start_before"] != joined["start_after"]).sum())
    print(
        json.dumps(
            {
                "replan_seconds": round(replan_seconds, 2),
                "moved_fraction": round(moved / max(1, operations), 4),
                "moved_operations": moved,
                "eligible_alternatives": sum(
                    len(op.durations) > 1 for job in first.problem.jobs for op in job.operations
                ),
                "operations": operations,
                "shifted_fraction": round(shifted / max(1, operations), 4),
                "plan_seconds": round(first.seconds, 2),
                "breakdown_machine": machine,
                "breakdown_hours": args.hours,
                "total_tardiness_hours_before": round(first.total_tardiness_hours, 2),
                "total_tardiness_hours_after": round(second.total_tardiness_hours, 2),
                "replan_status": second.schedule.status,
            }
        )
    )


if __name__ == "__main__":
    main()
