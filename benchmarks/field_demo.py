"""The service agent on the demo pump plant: are claim clusters traced to their root cause?

Simulates the demo plant (``--seed`` 7, ``--days`` 180, ``--machines`` 12, like
``maintenance_demo.py``), loads it into a fresh store and links identities across silos as the demo
does (the historian's tags to the MES machines among them), or reads a loaded one (``--db`` with
``--plant``, the folder holding ``truth.json``). Reviews the field at the end of the history with
:class:`ServiceAgent` and compares its ``service.failure_cluster`` clusters with ``truth.json``
``claim_clusters`` (the ``degraded_machine`` clusters and the bad lots of ``bad_supplier_lots``;
scoring rules in ``factorybrain.agents.service._demo``). The recall scope of each lot cluster (every
serial built with it, wherever it is) is compared with the truth's serials of that lot. Then the
claims are replayed in time order: the screen runs every ``--step-days`` days on the claims reported
by then, and a truth cluster counts as flagged on the first step a cluster names its root cause;
``claims_before_detection`` is how many of its claims had been reported by then.

Prints one JSON object on its last line: ``clusters_found``, ``clusters_expected``,
``cluster_precision`` (work-order clusters of process deviations count as correct, located),
``cluster_precision_strict`` (they do not), ``bad_lots_named``, ``recall_scope_precision``,
``recall_scope_recall``, ``inspect_scope_precision`` / ``inspect_scope_recall`` (the serials
proposed for inspection, in the field and not failed, against the truth's serials in that state),
``claims_before_detection`` (per truth root cause; null when never flagged),
``claims_before_detection_median`` and ``seconds``.

Example:
    python benchmarks/field_demo.py
    python benchmarks/field_demo.py --db demo.duckdb --plant demo-plant
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from datetime import timedelta

import pandas as pd

from _demo_plant import add_plant_arguments, demo_plant, plant_facts  # noqa: E402 (this folder)
from factorybrain.agents.service import ServiceAgent, ServiceDataWarning, load_field
from factorybrain.agents.service._demo import (
    Reported,
    built_with,
    evaluate_clusters,
    expected_clusters,
    scope_scores,
)
from factorybrain.agents.service._modes import read_failure_modes
from factorybrain.store import open_store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_plant_arguments(parser, store_flag="--db", keep=False)
    parser.add_argument("--step-days", type=float, default=7.0)
    args = parser.parse_args()
    warnings.simplefilter("ignore", ServiceDataWarning)
    with demo_plant(parser, args, prefix="fb-field-", link=True) as (store_path, truth):
        with open_store(store_path, read_only=True) as store:
            started = time.perf_counter()
            agent = ServiceAgent()
            data = load_field(store)
            review = agent.review(store, data=data)
            seconds = time.perf_counter() - started
            print(f"review in {seconds:.1f} s", file=sys.stderr)
            reported = [
                Reported(c.attribute, c.subject.external_id, tuple(c.claims))
                for c in review.clusters
            ]
            figures = evaluate_clusters(reported, truth)
            for detail in figures["details"]:
                print(json.dumps(detail), file=sys.stderr)
            scopes, inspect = [], []
            for cluster in review.clusters:
                if cluster.attribute in ("material_lot", "supplier_lot"):
                    built = built_with(
                        data, cluster.attribute, cluster.subject.space,
                        cluster.subject.external_id,
                    )  # fmt: skip
                    scopes.append((cluster.subject.external_id, set(built["serial"])))
                    inspect.append((cluster.subject.external_id, set(cluster.scope["serial"])))
            scope = scope_scores(scopes, truth)
            inspect_scope = scope_scores(inspect, _in_field_truth(truth, data))
            detection = replay(agent, data, store, truth, args.step_days)
    counts = [n for n in detection.values() if n is not None]
    result = {
        "clusters_found": figures["clusters_found"],
        "clusters_expected": figures["clusters_expected"],
        "cluster_precision": round(figures["cluster_precision"], 4),
        "cluster_precision_strict": round(figures["cluster_precision_strict"], 4),
        "clusters_reported": figures["clusters_reported"],
        "process_located": figures["process_located"],
        "bad_lots_named": figures["bad_lots_named"],
        "missed": figures["missed"],
        "recall_scope_precision": round(scope["recall_scope_precision"], 4),
        "recall_scope_recall": round(scope["recall_scope_recall"], 4),
        "inspect_scope_precision": round(inspect_scope["recall_scope_precision"], 4),
        "inspect_scope_recall": round(inspect_scope["recall_scope_recall"], 4),
        "claims_before_detection": detection,
        "claims_before_detection_median": statistics.median(counts) if counts else None,
        "seconds": round(seconds, 1),
        **plant_facts(truth, args),
    }
    print(json.dumps(result))


def _in_field_truth(truth: dict, data) -> dict:
    """The truth's bad lots with only their serials in the field that have not failed."""
    shipped = set(data.units.loc[data.units["shipped_at"].notna(), "serial"])
    claimed = {c["serial"] for c in truth.get("claims", [])}
    lots = []
    for lot in truth.get("bad_supplier_lots", []):
        serials = [s for s in lot.get("serials", []) if s in shipped and s not in claimed]
        lots.append({**lot, "serials": serials})
    return {**truth, "bad_supplier_lots": lots}


def replay(agent: ServiceAgent, data, store, truth: dict, step_days: float) -> dict:
    """Claims of each truth cluster reported before a cluster first named its root cause."""
    reading = read_failure_modes(data.claims)
    expected = expected_clusters(truth)
    reported_at = {
        str(c["claim_id"]): pd.Timestamp(c["reported"]).tz_convert(None)
        for c in truth.get("claims", [])
    }
    first = data.claims["failure_at"].min()
    end = data.as_of
    flagged: dict[str, pd.Timestamp] = {}
    moment = pd.Timestamp(first) + pd.Timedelta(days=step_days)
    while moment <= pd.Timestamp(end) + pd.Timedelta(days=step_days - 1e-9):
        at = min(moment, pd.Timestamp(end)).to_pydatetime()
        screened = agent.screen(data, at)
        if screened is not None:
            clusters = agent.clusters(data, screened, reading, store)
            figures = evaluate_clusters(
                [Reported(c.attribute, c.subject.external_id, tuple(c.claims)) for c in clusters],
                truth,
            )
            for detail in figures["details"]:
                root = detail["truth"].split(":", 1)[1]
                if detail["correct"] and detail["names"] == root and root not in flagged:
                    flagged[root] = pd.Timestamp(at)
                    print(f"{root} flagged at {at:%Y-%m-%d}", file=sys.stderr)
        moment += pd.Timedelta(days=step_days)
    out: dict[str, int | None] = {}
    for cluster in expected:
        root = str(cluster["root_cause"])
        when = flagged.get(root)
        out[root] = (
            None
            if when is None
            else sum(reported_at.get(str(c), when + timedelta(days=1)) <= when
                     for c in cluster["claim_ids"])
        )  # fmt: skip
    return out


if __name__ == "__main__":
    main()
