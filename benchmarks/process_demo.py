"""The design agent on a simulated pump plant: does it find the setpoints that raise efficiency?

Simulates a plant (``--seed``, ``--days``, ``--machines``), loads every silo into a fresh DuckDB
store through the demo mappings, links identities across silos as the demo does, and lets the
design agent study every product from what the store holds (operations with their process
parameters, end-of-line results per serial, recipes), never from ``truth.json``. Its proposals
(the setpoints of a ``design.recipe_change``, or the candidate of a
``design.confirmation_runs``) are then judged with the truth's formula (``process_optimum``)
without its noise term. Prints one JSON object on the last line:

* ``distance_in_scales``: the largest ``|proposed - optimum| / scale`` over every parameter of
  every product (the bar: at most 0.5);
* ``gain_fraction``: the smallest, over the products, of the efficiency gained over the
  truth's recipe as a share of the possible gain (the bar: at least 0.8);
* ``products`` (per product: distance, gain fraction, decision, expected gain and its
  interval), ``proposed`` (products with a proposal), ``expected`` (products in the truth),
  ``seconds`` (the agent's study alone), ``seed``, ``days``, ``machines``.

A product without a proposal counts as distance ``inf`` and gain fraction 0.

Example:
    python benchmarks/process_demo.py --seed 11 --days 120 --machines 8
    python benchmarks/process_demo.py --store demo.duckdb --plant demo-plant  # loaded demo
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

from _demo_plant import add_plant_arguments, demo_plant, plant_facts
from factorybrain.agents.design import DesignAgent
from factorybrain.agents.design._demo import evaluate_setpoints, proposals_of
from factorybrain.store import open_store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_plant_arguments(parser)
    args = parser.parse_args()
    with demo_plant(parser, args, prefix="fb-process-", link=True) as (store_path, truth):
        with open_store(store_path, read_only=True) as store:
            started = time.perf_counter()
            report = DesignAgent().study(store)
            seconds = time.perf_counter() - started
    print(f"agent study in {seconds:.1f} s", file=sys.stderr)
    optima = truth.get("process_optimum") or {}
    proposals = proposals_of(report.findings, truth)
    products = {}
    for product, optimum in sorted(optima.items()):
        proposal = proposals.get(product)
        if proposal is None:
            products[product] = {"distance_in_scales": math.inf, "gain_fraction": 0.0}
            continue
        figures = evaluate_setpoints(optimum, proposal["setpoints"])
        numbers = proposal["numbers"]
        products[product] = {
            "decision": proposal["kind"],
            "distance_in_scales": round(figures["distance_in_scales"], 4),
            "gain_fraction": round(figures["gain_fraction"], 4),
            "setpoints": proposal["setpoints"],
            "optimum": optimum["optimum"],
            "expected_gain": round(numbers["gain"], 4),
            "expected_gain_interval": [
                round(numbers["gain_low"], 4),
                round(numbers["gain_high"], 4),
            ],
            "realised_gain_over_recipe": round(
                figures["efficiency_pct"] - float(optimum["recipe_efficiency_pct"]), 4
            ),
        }
        print(json.dumps({product: products[product]}), file=sys.stderr)
    for study in report.studies:
        for gap in study.gaps:
            print(f"data gap {study.product}: {gap.text}", file=sys.stderr)
    distances = [p["distance_in_scales"] for p in products.values()]
    fractions = [p["gain_fraction"] for p in products.values()]
    result = {
        "distance_in_scales": round(max(distances), 4) if distances else None,
        "gain_fraction": round(min(fractions), 4) if fractions else None,
        "proposed": len(proposals),
        "expected": len(optima),
        "products": products,
        "seconds": round(seconds, 1),
        **plant_facts(truth, args),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
