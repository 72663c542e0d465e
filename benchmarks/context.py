"""Identity matching across silos against the demo plant's truth.

Simulates two plants (the default one, and one with another seed and three times the machines),
loads every silo, runs the matcher and scores its automatically approved links against
``truth.json`` (``entities[].refs``, each time series' asset). Prints progress to stderr and one
JSON object on the last line of stdout::

    {"default": {"precision": P, "recall": R}, "large": {"precision": P, "recall": R}}

Usage: ``python benchmarks/context.py [--days 180] [--seed 7] [--large-seed 11] [--work DIR]``
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from factorybrain.connectors import load_plant
from factorybrain.context import identity_scores, match
from factorybrain.demo import DEMO_MANIFEST, load_truth
from factorybrain.simulate import simulate_plant
from factorybrain.store import open_store


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_plant(work: Path, name: str, *, days: int, machines: int, seed: int) -> dict[str, object]:
    """Simulate, load, match and score one plant."""
    exports = work / name
    started = time.perf_counter()
    simulate_plant(exports, days=days, machines=machines, seed=seed, sample_seconds=600)
    _log(
        f"{name}: simulated {machines} machines, seed {seed} "
        f"in {time.perf_counter() - started:.0f} s"
    )
    database = work / f"{name}.duckdb"
    database.unlink(missing_ok=True)
    with open_store(database, migrate=True) as store:
        started = time.perf_counter()
        load = load_plant(store, DEMO_MANIFEST, root=exports)
        _log(
            f"{name}: loaded in {time.perf_counter() - started:.0f} s "
            f"({len(load.failures)} failures)"
        )
        started = time.perf_counter()
        run = match(store)
        seconds = time.perf_counter() - started
        scores = identity_scores(store, load_truth(exports))
    _log(f"{name}: matched in {seconds:.1f} s: {run.summary()}")
    for error in scores["errors"]:
        _log(f"  wrong: {error}")
    return {
        "precision": round(scores["precision"], 4),
        "recall": round(scores["recall"], 4),
        "approved": scores["approved"],
        "expected": scores["expected"],
        "match_seconds": round(seconds, 1),
        "by_class": {
            name: {"precision": round(c["precision"], 4), "recall": round(c["recall"], 4)}
            for name, c in scores["by_class"].items()
        },
    }


def main() -> None:
    """Run both plants and print the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--machines", type=int, default=12)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--large-seed", type=int, default=11)
    parser.add_argument("--work", type=Path, default=None, help="Folder for exports and stores.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        work = args.work or Path(temporary)
        work.mkdir(parents=True, exist_ok=True)
        result = {
            "default": run_plant(
                work, "default", days=args.days, machines=args.machines, seed=args.seed
            ),
            "large": run_plant(
                work, "large", days=args.days, machines=3 * args.machines, seed=args.large_seed
            ),
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
