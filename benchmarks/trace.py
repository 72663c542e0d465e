"""Trace query latency on a plant with at least a million serials.

Simulates a large plant (200 machines, 90 days: about a million serials), loads every silo but
the historian's datapoints (the traces do not read them), runs the matcher and the claim-serial
links, then times ``forward`` (every serial of a supplier lot, with shipment, customer and claim)
and ``claim_chain`` (claim -> serial -> lots -> suppliers -> machines and their states) on
sampled lots and claims, after precomputing the serial index (built once per load, timed).
Prints one JSON object on the last line of stdout with ``forward_ms_p50`` and
``chain_ms_p50`` (plus p90, counts and the number of serials).

Usage: ``python benchmarks/trace.py [--machines 200] [--days 90] [--repeats 30] [--work DIR]``
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from factorybrain.connectors import ingest, load_mapping, read_manifest
from factorybrain.context import (
    claim_chain,
    forward,
    link_claim_serials,
    match,
    refresh_serial_index,
)
from factorybrain.demo import DEMO_MANIFEST
from factorybrain.simulate import simulate_plant
from factorybrain.store import open_store


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main() -> None:
    """Build the plant (or reuse ``--work``), then time the queries."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--machines", type=int, default=200)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--work", type=Path, default=None, help="Folder kept between runs.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        work = args.work or Path(temporary)
        exports, database = work / "exports", work / "trace.duckdb"
        if not database.exists():
            started = time.perf_counter()
            simulate_plant(
                exports, days=args.days, machines=args.machines, seed=args.seed, sample_seconds=3600
            )
            _log(f"simulated in {time.perf_counter() - started:.0f} s")
            started = time.perf_counter()
            with open_store(database, migrate=True) as store:
                _, entries = read_manifest(DEMO_MANIFEST, exports)
                for entry in entries:
                    if entry.file.suffix == ".parquet":
                        continue
                    ingest(store, entry.file, load_mapping(entry.mapping))
                _log(f"loaded in {time.perf_counter() - started:.0f} s")
                started = time.perf_counter()
                match(store)
                link_claim_serials(store)
                _log(f"matched in {time.perf_counter() - started:.0f} s")
        with open_store(database) as store:
            started = time.perf_counter()
            refresh_serial_index(store)
            _log(f"serial index built in {time.perf_counter() - started:.0f} s")
        with open_store(database, read_only=True) as store:
            serials = int(store.query("SELECT count(*) AS n FROM serial_unit").n[0])
            lots = store.query("SELECT supplier_lot FROM material_lot").supplier_lot.tolist()
            claims = store.query("SELECT external_id FROM warranty_claim").external_id.tolist()
            chooser = random.Random(0)
            forward_ms, chain_ms, found = [], [], []
            for lot in chooser.sample(lots, min(args.repeats, len(lots))):
                started = time.perf_counter()
                trace = forward(store, lot)
                forward_ms.append(1000 * (time.perf_counter() - started))
                found.append(len(trace.tables["serials"]))
            for claim in chooser.sample(claims, min(args.repeats, len(claims))):
                started = time.perf_counter()
                claim_chain(store, claim)
                chain_ms.append(1000 * (time.perf_counter() - started))
    result = {
        "forward_ms_p50": round(float(np.percentile(forward_ms, 50)), 1),
        "chain_ms_p50": round(float(np.percentile(chain_ms, 50)), 1),
        "forward_ms_p90": round(float(np.percentile(forward_ms, 90)), 1),
        "chain_ms_p90": round(float(np.percentile(chain_ms, 90)), 1),
        "serials": serials,
        "serials_per_lot_median": int(np.median(found)),
        "queries": len(forward_ms) + len(chain_ms),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
