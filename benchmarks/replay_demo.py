"""Agents replayed over the demo plant's history: the planted failures warned as when streaming.

Protocol: take a loaded demo store (``--store`` with ``--plant``, copied) or simulate and load the
default plant (180 days, 12 machines, seed 7) and link its silos as the demo does. Then:

1. the **streaming run**: the maintenance agent over the whole history in one pass, as the demo
   and ``factorybrain listen`` run it (its findings equal those of data streamed in chunks:
   ``benchmarks/maintenance_stream.py``), into the live records;
2. the **replay**: ``factorybrain agents replay`` from the first datapoint's day to the last
   datapoint, one step every ``--every`` (default one day), of the maintenance agent (or
   ``--agents``, ``all`` for every installed one) with the reactions its findings set off through
   the playbooks (planning's maintenance windows, logistics' spare parts), each step seeing only
   what the store knew then, into a scenario.

Both runs' warnings (``maintenance.anomaly`` and ``maintenance.rul_low`` at the time the data
showed them) are scored against ``truth.json`` as the demo scores them: a planted failure is
warned when a correct warning came at least 24 h before it. Prints one JSON object on the last
line: ``seconds`` (the replay's wall time), ``warned`` and ``expected`` (planted failures warned
24 h ahead by the replay, and those the data shows), ``streaming_warned``,
``same_warnings`` (the same failures warned with the same lead times, hour for hour),
``median_lead_hours``, ``lead_hours`` (by failure, replay and streaming), ``steps``,
``every_hours``, ``agents``, ``findings`` (by kind), ``errors``.

Example:
    python benchmarks/replay_demo.py                          # simulate, load and replay
    python benchmarks/replay_demo.py --store demo.duckdb --plant demo-plant --every 6h
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from _demo_plant import add_plant_arguments, demo_plant
from factorybrain.agents import replay
from factorybrain.agents.maintenance._demo import (
    WARNING_KINDS,
    evaluate_warnings,
    maintenance_stage,
    stored_warnings,
)
from factorybrain.store import open_store


def _leads(warnings: list[tuple[str, pd.Timestamp]], truth: dict[str, Any]) -> dict[str, float]:
    """Hours from the first correct warning to each planted failure, by failure."""
    leads: dict[str, float] = {}
    for failure in truth.get("failures", []):
        if not failure.get("observable", True):
            continue
        one = {**truth, "failures": [failure], "pending_failures": []}
        figures = evaluate_warnings(warnings, one)
        if figures["caught_24h"] or figures["median_lead_hours"]:
            leads[f"{failure['machine']}@{failure['time']}"] = figures["median_lead_hours"]
    return leads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_plant_arguments(parser)
    parser.add_argument("--every", default="24h", help="time between steps (pandas span: 24h)")
    parser.add_argument(
        "--agents",
        default="maintenance",
        help="comma-separated agents run at each step (their playbooks' reactions run too); "
        "'all' for every installed agent",
    )
    args = parser.parse_args()
    every = pd.Timedelta(args.every).to_pytimedelta()
    with (
        demo_plant(parser, args, prefix="fb-replay-", link=True) as (source, truth),
        tempfile.TemporaryDirectory(prefix="fb-replay-store-") as tmp,
    ):
        path = Path(tmp) / "replay.duckdb"
        shutil.copy(source, path)
        wal = Path(f"{source}.wal")
        if wal.exists():
            shutil.copy(wal, Path(f"{path}.wal"))
        with open_store(path) as store:
            span = store.query("SELECT min(ts) AS first, max(ts) AS last FROM datapoint")
            first = pd.Timestamp(span["first"].iloc[0]).floor("D").to_pydatetime()
            last = pd.Timestamp(span["last"].iloc[0]).to_pydatetime()
            streaming_started = time.perf_counter()
            if not stored_warnings(store):
                maintenance_stage(store, truth)
            streaming = stored_warnings(store)
            streaming_seconds = time.perf_counter() - streaming_started
            print(
                f"streaming run: {len(streaming)} warnings in {streaming_seconds:.1f} s; "
                f"replaying {first} .. {last} every {every}",
                file=sys.stderr,
            )

            def progress(number: int, steps: int, at: Any) -> None:
                if number == 1 or number % 10 == 0 or number == steps:
                    print(f"  step {number}/{steps} as of {at}", file=sys.stderr)

            report = replay(
                store,
                first,
                last,
                every=every,
                agents=None if args.agents == "all" else args.agents.split(","),
                scenario="replay-demo",
                replace=True,
                progress=progress,
            )
    replayed = [
        (finding.subject, pd.Timestamp(finding.data_at))
        for finding in report.findings
        if finding.kind in WARNING_KINDS and finding.data_at is not None
    ]
    figures = evaluate_warnings(replayed, truth)
    baseline = evaluate_warnings(streaming, truth)
    replay_leads, streaming_leads = _leads(replayed, truth), _leads(streaming, truth)
    print(
        json.dumps(
            {
                "seconds": round(report.seconds, 1),
                "warned": figures["caught_24h"],
                "expected": figures["failures"],
                "streaming_warned": baseline["caught_24h"],
                "same_warnings": replay_leads == streaming_leads,
                "median_lead_hours": round(figures["median_lead_hours"], 1),
                "streaming_median_lead_hours": round(baseline["median_lead_hours"], 1),
                "precision": round(figures["precision"], 3),
                "lead_hours": {
                    failure: [replay_leads.get(failure), streaming_leads.get(failure)]
                    for failure in sorted(set(replay_leads) | set(streaming_leads))
                },
                "steps": report.steps,
                "every_hours": every.total_seconds() / 3600,
                "agents": report.agents,
                "findings": dict(Counter(finding.kind for finding in report.findings)),
                "errors": report.errors[:5],
            }
        )
    )


if __name__ == "__main__":
    main()
