"""The design agent in ``factorybrain demo``: a stage that runs it, a scorer against the truth.

The demo plant hides, per product, the formula of its efficiency in ``truth.json``
(``process_optimum``): a quadratic in the standardised distances of the setpoints from their
optimum (``z = (value - optimum) / scale``). The agent never reads it; the scorer does:

* **distance in scales**: the largest ``|proposed - optimum| / scale`` over the parameters of the
  truth; within 0.5 counts as correct;
* **gain fraction**: the efficiency the truth's formula (without its noise term and machine
  wear) gives the proposed setpoints, less that of the recipe (``recipe_efficiency_pct``), over
  the possible gain (``optimum_efficiency_pct`` less the recipe's); 0.8 or more counts.

A proposal is the agent's newest ``design.recipe_change`` or ``design.confirmation_runs``
finding of a product (the setpoints it proposes, ``proposed:<parameter>`` in its evidence); a
parameter of the truth that the proposal does not name is taken at the truth's recipe value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from factorybrain.agents.core import (
    AgentRecords,
    Finding,
    Orchestrator,
    PolicySet,
    installed_orchestrator,
)
from factorybrain.agents.design._agent import AGENT, CONFIRMATION_RUNS, RECIPE_CHANGE, DesignAgent
from factorybrain.agents.design._executors import EXECUTORS, POLICIES
from factorybrain.scoring import Score
from factorybrain.store import Store

#: What planning reports on a recipe change (playbook ``recipe_change``).
CHANGEOVER = "planning.recipe_changeover"
#: Largest distance from the optimum, in scale units, that counts as found.
NEAR = 0.5
#: Least share of the possible gain that counts as captured.
CAPTURED = 0.8


def _orchestrator(store: Store) -> Orchestrator:
    """The installed orchestrator, with the design agent's executors and policies for sure.

    The installed agents react to what the design agent finds (planning places a recipe
    change between orders: playbook ``recipe_change``).
    """
    orchestrator = installed_orchestrator(store)
    for action_type, executor in EXECUTORS.items():
        if action_type not in orchestrator.executors:
            orchestrator.executors.register(action_type, executor)
    policies = dict(orchestrator.policies.policies)
    for policy in POLICIES:
        policies.setdefault(policy.action_type, policy)
    orchestrator.policies = PolicySet(policies.values(), default=orchestrator.policies.default)
    return orchestrator


def design_stage(store: Store, truth: dict[str, Any]) -> dict[str, Any]:
    """Study every product at the end of its history and store what the agent recommends."""
    agent = DesignAgent()
    report = agent.study(store)
    orchestrator = _orchestrator(store)
    orchestrator.agents[AGENT] = agent  # the agent that studied, whatever else is installed
    at = max((f.created_at for f in report.findings if f.created_at), default=None)
    submitted = orchestrator.submit(report.items, agent=AGENT, at=at)
    decisions = [s.proposal.decision for s in report.studies if s.proposal is not None]
    changeovers = {f.id for f in orchestrator.records.findings(kind=CHANGEOVER, limit=None)}
    return {
        "products": len(report.studies),
        "recipe_changes": decisions.count("change"),
        "confirmation_designs": decisions.count("confirm"),
        "kept": decisions.count("keep"),
        "data_gaps": sum(len(s.gaps) for s in report.studies),
        "actions": len(submitted.actions),
        "changeovers": len(set(submitted.findings) & changeovers),
    }


def _product_names(truth: Mapping[str, Any]) -> dict[str, str]:
    """Every identifier a product goes by in any silo -> its id in the truth."""
    names: dict[str, str] = {}
    for entity in truth.get("entities", []):
        if entity.get("type") != "product":
            continue
        names.setdefault(str(entity["id"]), str(entity["id"]))
        for values in (entity.get("refs") or {}).values():
            for value in values:
                names.setdefault(str(value), str(entity["id"]))
    return names


def truth_efficiency(optimum: Mapping[str, Any], setpoints: Mapping[str, float]) -> float:
    """The truth's efficiency at ``setpoints``, without its noise and machine-wear terms.

    Reads the quadratic terms (``- 1.2*zt^2``, ``- 0.4*zt*zf``) and what each ``z`` stands for
    (``zt = (wire_tension_N - tension_opt)/tension_scale``) from the truth's ``formula``.
    """
    formula = str(optimum["formula"])
    z_of = dict(re.findall(r"(\w+) = \((\w+) - ", formula))
    z = {
        symbol: (float(setpoints[name]) - float(optimum["optimum"][name]))
        / float(optimum["scales"][name])
        for symbol, name in z_of.items()
    }
    value = float(optimum["optimum_efficiency_pct"])
    for sign, weight, first, second in re.findall(
        r"([+-])\s*([\d.]+)\*(z\w*)(?:\^2|\*(z\w*))", formula
    ):
        term = float(weight) * z[first] * z[second or first]
        value += term if sign == "+" else -term
    return value


def evaluate_setpoints(
    optimum: Mapping[str, Any], setpoints: Mapping[str, float]
) -> dict[str, float]:
    """Distance in scales, realised efficiency and gain fraction of proposed setpoints."""
    names = list(optimum["optimum"])
    full = {name: float(setpoints.get(name, optimum["recipe"][name])) for name in names}
    distance = max(
        abs(full[n] - float(optimum["optimum"][n])) / float(optimum["scales"][n]) for n in names
    )
    realised = truth_efficiency(optimum, full)
    recipe = float(optimum["recipe_efficiency_pct"])
    possible = float(optimum["optimum_efficiency_pct"]) - recipe
    return {
        "distance_in_scales": distance,
        "efficiency_pct": realised,
        "gain_fraction": (realised - recipe) / possible if possible > 0 else 1.0,
    }


def proposals_of(
    findings: Iterable[Finding], truth: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    """The newest proposal among ``findings`` per product of the truth."""
    names = _product_names(truth)
    found: dict[str, dict[str, Any]] = {}
    for finding in findings:
        if finding.agent != AGENT or finding.kind not in (RECIPE_CHANGE, CONFIRMATION_RUNS):
            continue
        product = next(
            (names[r.external_id] for r in finding.evidence.refs if r.external_id in names), None
        )
        if product is None:
            continue
        stamp = finding.created_at or datetime.min
        known = found.get(product)
        if known is not None and stamp <= known["created_at"]:
            continue
        setpoints = {
            key.split(":", 1)[1]: value
            for key, value in finding.evidence.numbers.items()
            if key.startswith("proposed:")
        }
        found[product] = {
            "kind": finding.kind,
            "setpoints": setpoints,
            "numbers": dict(finding.evidence.numbers),
            "created_at": stamp,
        }
    return found


def stored_proposals(store: Store, truth: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The newest proposal the design agent stored per product of the truth."""
    records = AgentRecords(store)
    findings = [
        finding
        for kind in (RECIPE_CHANGE, CONFIRMATION_RUNS)
        for finding in records.findings(kind=kind, agent=AGENT, limit=None)
    ]
    return proposals_of(findings, truth)


def score_design(store: Store, truth: dict[str, Any]) -> list[Score]:
    """Proposed setpoints near the truth's optimum, and the share of the possible gain they get."""
    optima = truth.get("process_optimum") or {}
    if not optima:
        return []  # the plant plants no process optimum: nothing to judge the proposals by
    proposals = stored_proposals(store, truth)
    figures = {
        product: evaluate_setpoints(optima[product], proposal["setpoints"])
        for product, proposal in proposals.items()
        if product in optima
    }
    near = sum(f["distance_in_scales"] <= NEAR for f in figures.values())
    captured = sum(f["gain_fraction"] >= CAPTURED for f in figures.values())
    worst = max((f["distance_in_scales"] for f in figures.values()), default=None)
    least = min((f["gain_fraction"] for f in figures.values()), default=None)
    return [
        Score(
            "design.setpoints_near_optimum",
            len(optima),
            len(figures),
            near,
            f"proposals within {NEAR} scale units of the optimum in every parameter; "
            + (f"largest distance {worst:.2f}" if worst is not None else "no proposal"),
        ),
        Score(
            "design.gain_captured",
            len(optima),
            len(figures),
            captured,
            f"proposals that get >= {CAPTURED:.0%} of the possible efficiency gain over the "
            + (f"recipe; least {least:.0%}" if least is not None else "recipe; no proposal"),
        ),
    ]


__all__ = [
    "design_stage",
    "evaluate_setpoints",
    "proposals_of",
    "score_design",
    "stored_proposals",
    "truth_efficiency",
]
