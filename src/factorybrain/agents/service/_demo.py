"""The service agent in ``factorybrain demo``: a stage that reviews the field, a scorer.

The demo plant's ``truth.json`` lists its claim clusters (``claim_clusters``): per root cause, the
claims and serials it caused. The ones genealogy can name are expected: ``degraded_machine``
(root cause a machine) and ``supplier_lot`` (a bad lot of ``bad_supplier_lots``, every serial built
with it listed). A reported ``service.failure_cluster`` is **correct** when the lot or machine it
names is the root cause of the truth cluster that holds most of its claims (of one of the
clusters that hold equally most); a ``work_order``
cluster whose claims come mostly from a process deviation (``process_out_of_window``: a cause no
genealogy attribute names, recorded per order) counts as correct too, as located, and is counted
apart (``process_located``); ``cluster_precision_strict`` counts it as wrong. A
``process_parameter`` cluster is correct when the parameter it names is the truth's root cause
of most of its claims (``press_force_kN`` for the process deviations). A truth cluster is
**found** when a correct cluster names its root cause.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from factorybrain.agents.service._data import FieldData, unit_times_on_machines
from factorybrain.scoring import Score
from factorybrain.store import Store

EXPECTED_CAUSES = ("degraded_machine", "supplier_lot")


@dataclass(frozen=True)
class Reported:
    """A reported cluster as the scorer reads it: what it names and the claims it explains."""

    attribute: str
    subject: str
    claims: tuple[str, ...]


def machine_names(truth: Mapping[str, Any]) -> dict[str, str]:
    """Every name a machine goes by in any silo -> its canonical id."""
    names: dict[str, str] = {}
    for entity in truth.get("entities", []):
        if entity.get("type") != "equipment":
            continue
        names.setdefault(str(entity["id"]), str(entity["id"]))
        for values in (entity.get("refs") or {}).values():
            for value in values:
                names.setdefault(str(value), str(entity["id"]))
    return names


def lot_names(truth: Mapping[str, Any]) -> dict[str, str]:
    """Every name a bad supplier lot goes by (plant lot, ERP batch, supplier's lot) -> its id."""
    names: dict[str, str] = {}
    for lot in truth.get("bad_supplier_lots", []):
        for key in ("lot", "erp_batch", "vendor_lot"):
            value = lot.get(key)
            if value:
                names[str(value)] = str(lot["lot"])
                names[str(value).lstrip("0")] = str(lot["lot"])
    return names


def expected_clusters(truth: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The truth's clusters that genealogy can name (see the module)."""
    bad = {str(lot["lot"]) for lot in truth.get("bad_supplier_lots", [])}
    return [
        c
        for c in truth.get("claim_clusters", [])
        if c.get("cause") == "degraded_machine"
        or (c.get("cause") == "supplier_lot" and str(c.get("root_cause")) in bad)
    ]


def evaluate_clusters(reported: Sequence[Reported], truth: Mapping[str, Any]) -> dict[str, Any]:
    """Precision of the reported clusters and the truth clusters found (see the module)."""
    names = {**machine_names(truth), **lot_names(truth)}
    cause_of_claim: dict[str, tuple[str, str]] = {}
    for cluster in truth.get("claim_clusters", []):
        for claim in cluster.get("claim_ids", []):
            cause_of_claim[str(claim)] = (str(cluster["cause"]), str(cluster["root_cause"]))
    expected = expected_clusters(truth)
    found: set[str] = set()
    correct = located = 0
    details = []
    for cluster in reported:
        causes = Counter(
            cause_of_claim.get(c.removesuffix("-D"), ("none", "none")) for c in cluster.claims
        )
        named = (
            cluster.subject  # a process parameter is named as the truth names it
            if cluster.attribute == "process_parameter"
            else names.get(cluster.subject) or names.get(cluster.subject.lstrip("0"))
        )
        top = max(causes.values(), default=0)
        tied = [key for key, count in causes.most_common() if count == top]
        # where two causes hold the most claims equally, naming either one is right
        (cause, root) = next(
            (key for key in tied if key[1] == named), tied[0] if tied else ("none", "none")
        )
        right = named is not None and named == root
        process = cluster.attribute == "work_order" and cause == "process_out_of_window"
        correct += right or process
        located += process
        if right:
            found.add(root)
        details.append(
            {
                "attribute": cluster.attribute,
                "subject": cluster.subject,
                "names": named,
                "truth": f"{cause}:{root}",
                "correct": bool(right or process),
            }
        )
    expected_roots = [str(c["root_cause"]) for c in expected]
    bad_lots = [str(lot["lot"]) for lot in truth.get("bad_supplier_lots", [])]
    return {
        "clusters_found": sum(r in found for r in expected_roots),
        "clusters_expected": len(expected_roots),
        "clusters_reported": len(reported),
        "clusters_correct": correct,
        "process_located": located,
        "cluster_precision": correct / len(reported) if reported else 1.0,
        "cluster_precision_strict": (correct - located) / len(reported) if reported else 1.0,
        "bad_lots_named": sum(lot in found for lot in bad_lots),
        "bad_lots": len(bad_lots),
        "missed": [r for r in expected_roots if r not in found],
        "details": details,
    }


def built_with(
    data: FieldData,
    attribute: str,
    space: str | None,
    identifier: str,
    window: tuple[Any, Any] | None = None,
) -> pd.DataFrame:
    """Every serial built with a cohort, wherever it is now (the whole recall scope).

    Returns:
        The rows of ``data.units`` built with it.
    """
    units = data.units
    if attribute in ("material_lot", "supplier_lot", "supplier"):
        column = {"material_lot": "lot", "supplier_lot": "supplier_lot", "supplier": "supplier"}[
            attribute
        ]
        lots = data.lots[data.lots[column] == identifier]
        orders = set(zip(lots["wo_space"], lots["work_order"], strict=True))
        keys = zip(units["wo_space"], units["work_order"], strict=True)
        return units[[key in orders for key in keys]]
    if attribute == "work_order":
        return units[units["work_order"] == identifier]
    if attribute == "machine_window" and window is not None:
        passes = unit_times_on_machines(units, data.operations)
        start, end = pd.Timestamp(window[0]), pd.Timestamp(window[1])
        inside = passes[
            (passes["equipment"] == identifier) & (passes["time"] >= start) & (passes["time"] < end)
        ]
        return units.iloc[sorted(set(inside["unit"]))]
    field_of = {"product": "product", "line": "line"}.get(attribute)
    if field_of is not None:
        return units[units[field_of] == identifier]
    return units.iloc[0:0]


def scope_scores(
    scopes: Iterable[tuple[str, set[str]]], truth: Mapping[str, Any]
) -> dict[str, Any]:
    """Precision and recall of the serials of each reported bad lot against the truth's serials.

    Args:
        scopes: ``(lot as named, serials in its recall scope)`` of every reported lot cluster.
        truth: The plant's ``truth.json``.
    """
    names = lot_names(truth)
    by_lot = {
        str(lot["lot"]): set(lot.get("serials", [])) for lot in truth.get("bad_supplier_lots", [])
    }
    hits = found = expected = 0
    for lot, serials in scopes:
        root = names.get(lot) or names.get(lot.lstrip("0"))
        if root is None:
            continue
        truth_serials = by_lot[root]
        hits += len(serials & truth_serials)
        found += len(serials)
        expected += len(truth_serials)
        by_lot.pop(root)
    expected += sum(len(s) for s in by_lot.values())  # bad lots no cluster named
    return {
        "recall_scope_precision": hits / found if found else 0.0,
        "recall_scope_recall": hits / expected if expected else 1.0,
        "scope_serials": found,
        "truth_serials": expected,
    }


def stored_clusters(store: Store) -> list[Reported]:
    """The ``service.failure_cluster`` findings the service agent stored."""
    from factorybrain.agents.core._records import AgentRecords

    records = AgentRecords(store)
    out = []
    for finding in records.findings(kind="service.failure_cluster", agent="service", limit=None):
        claims = tuple(r.external_id for r in finding.evidence.refs if r.type == "warranty_claim")
        attribute = finding.dedup_key.split(":", 1)[0]
        out.append(Reported(attribute, finding.subject.external_id, claims))
    return out


def service_stage(store: Store, truth: dict[str, Any]) -> dict[str, Any]:
    """Review the field at the end of the history and store what the agent found."""
    from factorybrain.agents.core._registry import installed_orchestrator
    from factorybrain.agents.service._agent import AGENT, FAILURE_CLUSTER, ServiceAgent

    agent = ServiceAgent()
    review = agent.review(store)
    # The installed orchestrator knows how to execute what the agent proposes (its inspections).
    orchestrator = installed_orchestrator(store, with_agents=False)
    submitted = orchestrator.submit(review.items(), agent=AGENT, at=review.as_of)
    return {
        "clusters": sum(f.kind == FAILURE_CLUSTER for f in review.findings),
        "inspections_proposed": len(review.recommendations),
        "serials_in_scope": sum(len(c.scope) for c in review.clusters),
        "reliability_fits": int(review.reliability.get("b10_days", pd.Series()).notna().sum())
        if len(review.reliability)
        else 0,
        "failure_modes_from": review.modes.model_source if review.modes else "none",
        "gaps": len(review.notes),
        "actions": len(submitted.actions),
    }


def score_service(store: Store, truth: dict[str, Any]) -> list[Score]:
    """Claim clusters found with their root cause, and the share of reported clusters right."""
    figures = evaluate_clusters(stored_clusters(store), truth)
    return [
        Score(
            "service.failure_cluster",
            figures["clusters_expected"],
            figures["clusters_reported"],
            figures["clusters_correct"],
            f"{figures['clusters_found']} of {figures['clusters_expected']} truth clusters "
            f"(degraded machines, bad supplier lots) named with their root cause; "
            f"{figures['bad_lots_named']} of {figures['bad_lots']} bad lots; "
            f"{figures['process_located']} process deviations located by work order",
            recalled=figures["clusters_found"],
        )
    ]


__all__ = [
    "Reported",
    "built_with",
    "evaluate_clusters",
    "expected_clusters",
    "lot_names",
    "machine_names",
    "scope_scores",
    "score_service",
    "service_stage",
    "stored_clusters",
]
