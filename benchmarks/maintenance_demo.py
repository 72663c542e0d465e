"""The maintenance agent on a simulated pump plant: are failures warned a day ahead, and rightly?

Simulates a plant (``--seed``, ``--days``, ``--machines``), loads every silo into a fresh DuckDB
store through the demo mappings, replays the maintenance agent over the whole history (each model
version scores only data after it was trained) and compares its warnings
(``maintenance.anomaly`` and ``maintenance.rul_low`` findings) with ``truth.json``. Prints one
JSON object on the last line: ``recall_24h`` (planted failures, pending ones included, warned at
least 24 hours ahead, of those the data shows: ``observable`` in ``truth.json``; the others are
counted in ``unobservable_failures``), ``precision`` (warnings inside a degradation window that
ends in a failure, or on a pending failure), ``median_lead_hours``, ``min_lead_hours``,
``recall`` (the same as ``recall_24h``) and ``seconds`` (the agent's replay alone).

Example:
    python benchmarks/maintenance_demo.py --seed 11 --days 120 --machines 8
    python benchmarks/maintenance_demo.py --store demo.duckdb --plant demo-plant  # loaded demo
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from factorybrain.agents.maintenance import MaintenanceAgent
from factorybrain.agents.maintenance._demo import evaluate_warnings
from factorybrain.store import open_store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--machines", type=int, default=12)
    parser.add_argument("--store", type=Path, default=None, help="an already loaded demo store")
    parser.add_argument("--plant", type=Path, default=None, help="its exports (for truth.json)")
    parser.add_argument(
        "--keep", type=Path, default=None, help="simulate and load into this folder"
    )
    args = parser.parse_args()
    work = None
    if args.store is not None:
        if args.plant is None:
            parser.error("--store needs --plant (the folder holding truth.json)")
        store_path, plant = args.store, args.plant
    else:
        from factorybrain.demo import build_plant

        folder = args.keep or Path(tempfile.mkdtemp(prefix="fb-maintenance-"))
        work = None if args.keep else folder
        started = time.perf_counter()
        plant, store_path = build_plant(
            folder, days=args.days, machines=args.machines, seed=args.seed
        )
        print(f"simulated and loaded in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    truth = json.loads((plant / "truth.json").read_text(encoding="utf-8"))
    try:
        with open_store(store_path) as store:
            started = time.perf_counter()
            report = MaintenanceAgent().scan(store)
            seconds = time.perf_counter() - started
        print(f"agent replay in {seconds:.1f} s", file=sys.stderr)
        for asset in report.assets:
            print(json.dumps(asset), file=sys.stderr)
        warnings = [
            (f.subject.external_id, pd.Timestamp(f.created_at))
            for f in report.findings
            if f.created_at is not None
        ]
        figures = evaluate_warnings(warnings, truth)
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
    result = {
        "recall_24h": round(figures["recall_24h"], 4),
        "precision": round(figures["precision"], 4),
        "median_lead_hours": round(figures["median_lead_hours"], 1),
        "min_lead_hours": round(figures["min_lead_hours"], 1),
        "recall": round(figures["recall_24h"], 4),
        "failures": figures["failures"],
        "unobservable_failures": figures["unobservable_failures"],
        "caught_24h": figures["caught_24h"],
        "warnings": figures["warnings"],
        "correct_warnings": figures["correct_warnings"],
        "seconds": round(seconds, 1),
        "seed": args.seed,
        "days": args.days,
        "machines": args.machines,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
