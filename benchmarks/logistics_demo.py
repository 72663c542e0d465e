"""Spare-part stock-outs on a simulated pump plant, with and without health-driven orders.

Simulates a plant (``--seed``, ``--days``, ``--machines``) or takes exports already made
(``--plant DIR`` holding ``truth.json``), then replays the plant's spare-parts store failure by
failure twice (:func:`factorybrain.agents.logistics._demo.replay_spares`): once with the plant's
own policy only (expensive parts ordered at the failure, cheaper ones reordered at zero), once
with the logistics agent also checking a machine's spare part at every warning about it
(:func:`factorybrain.agents.logistics.check_spare_part`) and ordering what the warned machine may
miss. Warnings: with ``--store`` (a loaded demo store), the maintenance agent's ``rul_low``
findings, replayed over the store's history when the store holds none; otherwise the moment each
planted degradation becomes detectable (``truth.json`` ``anomaly_windows[].detectable_from``).
Both are reported when a store is given. Lead times come from the ERP material master of the
exports.

Prints one JSON object on the last line: ``stockouts_with``, ``stockouts_without``,
``avoided_share``, ``truth_stockouts`` (the simulator's own count, which the replay without
health must reproduce), waiting hours, orders, part-days in stock, ``warning_source`` and, with a
store, the same figures for the other warning source under ``truth_detectable``.

Example:
    python benchmarks/logistics_demo.py --seed 11 --days 180 --machines 12
    python benchmarks/logistics_demo.py --plant demo-plant --store demo.duckdb
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from factorybrain.agents.logistics._demo import (
    WARNING_KINDS,
    agent_warnings,
    compare,
    lead_times_days,
    truth_warnings,
)


def _maintenance_warnings(store_path: Path) -> tuple[list, float]:
    """Stored maintenance warnings, or a replay of the maintenance agent when none are stored."""
    from factorybrain.store import open_store

    with open_store(store_path) as store:
        found = agent_warnings(store)
        if found:
            return found, 0.0
        from factorybrain.agents.maintenance import MaintenanceAgent

        started = time.perf_counter()
        report = MaintenanceAgent().scan(store)
        found = [
            (f.subject.external_id, f.created_at)
            for f in report.findings
            if f.kind in WARNING_KINDS and f.created_at
        ]
        return found, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--machines", type=int, default=12)
    parser.add_argument("--plant", type=Path, default=None, help="exports holding truth.json")
    parser.add_argument("--store", type=Path, default=None, help="a loaded store of that plant")
    args = parser.parse_args()
    import pandas as pd

    plant = args.plant
    if plant is None:
        if args.store is not None:
            parser.error("--store needs --plant (the folder holding truth.json)")
        from factorybrain.demo import simulate

        plant = Path(tempfile.mkdtemp(prefix="fb-logistics-")) / "plant"
        started = time.perf_counter()
        simulate(plant, days=args.days, machines=args.machines, seed=args.seed, sample_seconds=60)
        print(f"simulated in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    truth = json.loads((plant / "truth.json").read_text(encoding="utf-8"))
    lead = lead_times_days(truth, plant)
    print(f"lead times (days): {lead}", file=sys.stderr)
    detectable = truth_warnings(truth)
    started = time.perf_counter()
    figures = compare(truth, lead, detectable)
    figures["warning_source"] = "truth detectable_from"
    if args.store is not None:
        found, seconds = _maintenance_warnings(args.store)
        print(f"{len(found)} maintenance warnings ({seconds:.0f} s replay)", file=sys.stderr)
        found = [(name, pd.Timestamp(at)) for name, at in found]
        truth_figures = figures
        figures = compare(truth, lead, found)
        figures["warning_source"] = "maintenance agent"
        figures["truth_detectable"] = truth_figures
    figures["seed"] = truth.get("plant", {}).get("seed")
    figures["replay_seconds"] = round(time.perf_counter() - started, 2)
    bar = figures["stockouts_with"] <= 0.2 * figures["stockouts_without"]
    print(
        f"stock-outs: {figures['stockouts_without']} without, {figures['stockouts_with']} with "
        f"health-driven orders ({figures['warning_source']}); bar (>= 80 % avoided) "
        f"{'holds' if bar else 'fails'}",
        file=sys.stderr,
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
