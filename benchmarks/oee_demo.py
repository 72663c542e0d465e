"""OEE of the demo factory (ISO 22400) from the store, against the simulator's truth.

Loads (or takes) a demo store, computes availability, performance, quality and OEE per machine
from MES shifts, machine states, operations and routings, and compares them with ``truth.json``
``oee``. Prints one JSON object on the last line: ``max_abs_error_pct`` (largest absolute error in
percentage points over the four ratios of every machine), ``mean_abs_error_pct``, ``machines``,
``machines_within_1pct``, ``seconds`` (OEE computation, wall clock).

Example:
    python benchmarks/oee_demo.py                                   # simulate and load first
    python benchmarks/oee_demo.py --store demo.duckdb --plant demo-plant
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from factorybrain.agents.planning._demo import oee_against_truth
from factorybrain.store import open_store


def demo_store(args: argparse.Namespace, prefix: str) -> tuple[Path, Path, Path | None]:
    """Return ``(store, plant folder, temporary folder)``, simulating and loading when needed."""
    if args.store is not None:
        return args.store, args.plant, None
    from factorybrain.demo import build_plant

    work = Path(tempfile.mkdtemp(prefix=prefix))
    started = time.perf_counter()
    plant, store_path = build_plant(work, days=args.days, machines=args.machines, seed=args.seed)
    print(f"simulated and loaded in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return store_path, plant, work


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--machines", type=int, default=12)
    parser.add_argument("--store", type=Path, default=None, help="an already loaded demo store")
    parser.add_argument("--plant", type=Path, default=None, help="its exports (for truth.json)")
    args = parser.parse_args()
    if args.store is not None and args.plant is None:
        parser.error("--store needs --plant (the folder holding truth.json)")
    store_path, plant, work = demo_store(args, "fb-oee-")
    truth = json.loads((plant / "truth.json").read_text(encoding="utf-8"))
    try:
        with open_store(store_path, read_only=True) as store:
            started = time.perf_counter()
            figures = oee_against_truth(store, truth)
            seconds = time.perf_counter() - started
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(figures["per_machine"]), file=sys.stderr)
    figures.pop("per_machine")
    print(json.dumps({**figures, "seconds": round(seconds, 2)}))


if __name__ == "__main__":
    main()
