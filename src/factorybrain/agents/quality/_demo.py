"""The quality agent in ``factorybrain demo``: a stage that charts, learns and contains; scorers.

The stage reviews the loaded plant (SPC on every characteristic, root cause of end-of-line
defects) and reacts to every ``service.failure_cluster`` the service agent stored, as the
``field_failure`` playbook would. The scorers compare with the plant's ``truth.json``:

- ``quality.root_cause``: each root cause the agent named (a lot or a machine) is **correct**
  when it is one of the truth's bad supplier lots (``bad_supplier_lots``, by any of its names) or
  a machine that degraded in the horizon (``anomaly_windows``); expected are the bad lots and
  the degraded machines whose units were claimed (``claim_clusters`` with cause
  ``degraded_machine``);
- ``quality.containment``: each containment proposal is **correct** when the lot it quarantines
  is a truth bad lot, the machine it inspects a truth degraded one, or the recipe change it asks
  for is of a process parameter the truth names as a cause of claims (``claim_clusters`` with
  cause ``process_out_of_window``: the press-fit force); expected are the truth's bad lots.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from factorybrain.scoring import Score
from factorybrain.store import Store


def _lot_names(truth: Mapping[str, Any]) -> dict[str, str]:
    names: dict[str, str] = {}
    for lot in truth.get("bad_supplier_lots", []):
        for key in ("lot", "erp_batch", "vendor_lot"):
            value = lot.get(key)
            if value:
                names[str(value)] = str(lot["lot"])
                names[str(value).lstrip("0")] = str(lot["lot"])
    return names


def _machine_names(truth: Mapping[str, Any]) -> dict[str, str]:
    names: dict[str, str] = {}
    for entity in truth.get("entities", []):
        if entity.get("type") != "equipment":
            continue
        names[str(entity["id"])] = str(entity["id"])
        for values in (entity.get("refs") or {}).values():
            for value in values:
                names.setdefault(str(value), str(entity["id"]))
    return names


def _degraded(truth: Mapping[str, Any]) -> set[str]:
    return {str(w["machine"]) for w in truth.get("anomaly_windows", []) if w.get("machine")}


def _resolve(identifier: str, names: Mapping[str, str]) -> str | None:
    return names.get(identifier) or names.get(identifier.lstrip("0"))


def quality_stage(store: Store, truth: dict[str, Any]) -> dict[str, Any]:
    """Review the plant, react to the stored field clusters, store what the agent proposes."""
    from factorybrain.agents.core._records import AgentRecords
    from factorybrain.agents.core._registry import installed_orchestrator
    from factorybrain.agents.quality._agent import AGENT, DRIFT, ROOT_CAUSE, QualityAgent

    agent = QualityAgent()
    review = agent.review(store)
    orchestrator = installed_orchestrator(store, with_agents=False)
    if AGENT not in orchestrator.agents:
        orchestrator.register(agent)
    at = review.as_of
    submitted = orchestrator.submit(review.items(), agent=AGENT, at=at)
    records = AgentRecords(store)
    clusters = records.findings(kind="service.failure_cluster", limit=None)
    contained = 0
    for cluster in clusters:
        items = agent.contain(cluster, orchestrator.context(at))
        report = orchestrator.submit(items, agent=AGENT, at=at)
        contained += len(report.actions)
    return {
        "charts": len(review.charts),
        "drifts": sum(f.kind == DRIFT for f in review.findings),
        "root_causes": sum(f.kind == ROOT_CAUSE for f in review.findings),
        "clusters_traced": len(clusters),
        "containment_actions": contained,
        "gaps": len(review.notes),
        "actions": len(submitted.actions),
    }


def score_quality(store: Store, truth: dict[str, Any]) -> list[Score]:
    """Root causes named right, and containments that quarantine or inspect the right thing."""
    from factorybrain.agents.core._records import AgentRecords

    records = AgentRecords(store)
    lots, machines = _lot_names(truth), _machine_names(truth)
    degraded = _degraded(truth)
    bad = {str(lot["lot"]) for lot in truth.get("bad_supplier_lots", [])}
    claimed_machines = {
        str(c["root_cause"])
        for c in truth.get("claim_clusters", [])
        if c.get("cause") == "degraded_machine"
    }
    process_causes = {
        str(c["root_cause"])
        for c in truth.get("claim_clusters", [])
        if c.get("cause") == "process_out_of_window"
    }
    named, correct, found_truth = 0, 0, set()
    for finding in records.findings(kind="quality.root_cause", agent="quality", limit=None):
        subject = finding.subject
        if subject.type not in ("material_lot", "supplier_lot", "asset"):
            continue
        named += 1
        lot = _resolve(subject.external_id, lots)
        machine = _resolve(subject.external_id, machines)
        if lot in bad or machine in degraded:
            correct += 1
            found_truth.add(lot or machine)
    proposals = right = 0
    contained: set[str | None] = set()
    for recommendation in records.recommendations(agent="quality", limit=None):
        steps = recommendation.steps or ()
        quarantined = [
            lot["external_id"]
            for step in steps
            if step.action_type == "material_lot.quarantine"
            for lot in step.parameters.get("lots", [])
        ]
        inspected = [
            str(step.parameters.get("asset"))
            for step in steps
            if step.action_type == "maintenance_order.create"
        ]
        changed = {
            str(step.parameters.get("parameter"))
            for step in steps
            if step.action_type == "recipe.change_request"
        }
        if not steps:
            continue
        proposals += 1
        hit_lots = {_resolve(q, lots) for q in quarantined} & bad
        hit_machines = {_resolve(m, machines) for m in inspected} & degraded
        right += bool(hit_lots or hit_machines or changed & process_causes)
        contained |= hit_lots
    expected = len(bad) + len(claimed_machines)
    return [
        Score(
            "quality.root_cause",
            expected,
            named,
            correct,
            f"{len(found_truth & bad)} of {len(bad)} bad lots and "
            f"{len(found_truth & claimed_machines)} of {len(claimed_machines)} claimed degraded "
            "machines named as root causes",
            recalled=len(found_truth & (bad | claimed_machines)),
        ),
        Score(
            "quality.containment",
            len(bad),
            proposals,
            right,
            "containment proposals that quarantine a bad lot, inspect a degraded machine or "
            "change the recipe of a parameter that causes claims; "
            f"{len(contained)} of {len(bad)} bad lots quarantined",
            recalled=len(contained),
        ),
    ]


__all__ = ["quality_stage", "score_quality"]
