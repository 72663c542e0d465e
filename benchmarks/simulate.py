"""Throughput and memory of the demo-factory simulator.

Simulates a 12-machine plant sampled every 10 s for as many days as it takes to write about
``--points`` historian rows (plus every other silo), and prints one JSON object on the last line:
``points_per_s`` (historian rows per wall-clock second, the whole simulation included) and
``peak_rss_mb`` (peak resident memory of the process).

Example:
    python benchmarks/simulate.py --points 100000000
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from factorybrain.simulate import simulate_plant

TAGS_PER_MACHINE = 6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000_000, help="historian rows to write")
    parser.add_argument("--machines", type=int, default=12)
    parser.add_argument("--sample-seconds", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=None, help="keep the exports here")
    args = parser.parse_args()
    per_day = args.machines * TAGS_PER_MACHINE * 86_400 // args.sample_seconds
    days = max(1, math.ceil(args.points / per_day))
    out = args.out or Path(tempfile.mkdtemp(prefix="fb-simulate-"))

    def progress(stage: str, fraction: float) -> None:
        print(f"{time.strftime('%H:%M:%S')} {stage} {fraction:.0%}", file=sys.stderr)

    print(
        f"{args.machines} machines, {days} days, every {args.sample_seconds} s -> {out}",
        file=sys.stderr,
    )
    began = time.perf_counter()
    summary = simulate_plant(
        out,
        days=days,
        machines=args.machines,
        seed=args.seed,
        sample_seconds=args.sample_seconds,
        progress=progress,
    )
    seconds = time.perf_counter() - began
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    if args.out is None:
        shutil.rmtree(out, ignore_errors=True)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "points_per_s": round(summary.datapoints / seconds),
                "peak_rss_mb": round(peak_kb / 1024, 1),
                "points": summary.datapoints,
                "seconds": round(seconds, 2),
                "days": days,
                "machines": args.machines,
                "sample_seconds": args.sample_seconds,
                "serials": summary.serials,
                "bytes_written": size,
            }
        )
    )


if __name__ == "__main__":
    main()
