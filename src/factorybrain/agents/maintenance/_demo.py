"""The maintenance agent in ``factorybrain demo``: a stage that replays it, a scorer against truth.

A warning is a ``maintenance.anomaly`` or ``maintenance.rul_low`` finding, at the time the data
showed it. It is correct when it falls in a planted degradation window that ends in a failure
(between the window's start and the failure), or warns a machine of ``pending_failures``
(degrading at the end of the horizon). A planted failure is caught when a correct warning came at
least 24 hours before it. Recall counts the failures whose defect the data shows (``observable``
in ``truth.json``: the machine ran at least an hour with the defect detectable); a defect on a
machine that stood idle until the horizon ended cannot be warned and is counted apart.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from factorybrain.agents.core._contract import ACTIVE_STATUSES
from factorybrain.agents.core._orchestrator import Orchestrator
from factorybrain.agents.core._records import AgentRecords
from factorybrain.agents.maintenance._agent import AGENT, MaintenanceAgent
from factorybrain.scoring import Score
from factorybrain.store import Store

WARNING_KINDS = ("maintenance.anomaly", "maintenance.rul_low")
TREND_KIND = "maintenance.sensor_trend"
LEAD = pd.Timedelta(hours=24)


def _time(value: str | None) -> pd.Timestamp | None:
    if not value:
        return None
    return (
        pd.Timestamp(value).tz_convert(None)
        if "Z" in value or "+" in value
        else pd.Timestamp(value)
    )


def _machine_names(truth: dict[str, Any]) -> dict[str, str]:
    """Every name a machine goes by in any silo -> its canonical id."""
    names: dict[str, str] = {}
    for entity in truth.get("entities", []):
        if entity.get("type") != "equipment":
            continue
        for values in (entity.get("refs") or {}).values():
            for value in values:
                names.setdefault(str(value), entity["id"])
    return names


def evaluate_warnings(
    warnings: list[tuple[str, pd.Timestamp]], truth: dict[str, Any]
) -> dict[str, Any]:
    """Recall at 24 hours, precision and lead times of ``(machine name, time)`` warnings."""
    names = _machine_names(truth)
    windows = [
        (w["machine"], _time(w["start"]), _time(w.get("failure_time") or w["end"]), w["outcome"])
        for w in truth.get("anomaly_windows", [])
    ]
    pending = {p["machine"]: p for p in truth.get("pending_failures", [])}
    planted = [
        (f["machine"], _time(f["time"]), f.get("observable", True))
        for f in truth.get("failures", [])
    ]
    planted += [
        (p["machine"], _time(p["expected_failure"]), p.get("observable", True))
        for p in pending.values()
    ]
    failures = [(machine, at) for machine, at, observable in planted if observable]
    correct = 0
    first_warning: dict[tuple[str, pd.Timestamp], pd.Timestamp] = {}
    for name, when in warnings:
        machine = names.get(name, name)
        good = False
        for w_machine, start, failure, outcome in windows:
            if w_machine != machine or start is None or not (start <= when <= failure):
                continue
            if outcome in ("failure", "pending_failure"):
                good = True
                key = (machine, failure)
                first_warning[key] = min(first_warning.get(key, when), when)
        if not good and machine in pending:
            start = _time(pending[machine]["degradation_start"])
            if start is not None and when >= start:
                good = True
                key = (machine, _time(pending[machine]["expected_failure"]))
                first_warning[key] = min(first_warning.get(key, when), when)
        correct += good
    leads = []
    caught = 0
    for machine, failure in failures:
        first = first_warning.get((machine, failure))
        if first is None:
            continue
        lead = failure - first
        if lead >= LEAD:
            caught += 1
        leads.append(lead.total_seconds() / 3600.0)
    return {
        "failures": len(failures),
        "unobservable_failures": len(planted) - len(failures),
        "caught_24h": caught,
        "recall_24h": caught / len(failures) if failures else 1.0,
        "warnings": len(warnings),
        "correct_warnings": correct,
        "precision": correct / len(warnings) if warnings else 1.0,
        "median_lead_hours": float(np.median(leads)) if leads else 0.0,
        "min_lead_hours": float(np.min(leads)) if leads else 0.0,
    }


def stored_warnings(
    store: Store, kinds: tuple[str, ...] = WARNING_KINDS
) -> list[tuple[str, pd.Timestamp]]:
    """``(asset, time)`` of every warning of ``kinds`` the maintenance agent stored."""
    records = AgentRecords(store)
    out = []
    for kind in kinds:
        for finding in records.findings(kind=kind, agent=AGENT, limit=None):
            if finding.created_at is not None:
                out.append((finding.subject.external_id, pd.Timestamp(finding.created_at)))
    return out


def maintenance_stage(store: Store, truth: dict[str, Any]) -> dict[str, Any]:
    """Replay the maintenance agent over the plant's history and store what it raised.

    What no longer holds at the end of the data (a machine repaired since, an alarm that went
    off, a sensor back to normal) is then resolved, as a live run would have done on the way.
    """
    agent = MaintenanceAgent()
    report = agent.scan(store)
    orchestrator = Orchestrator(store, [agent])
    end = max((f.created_at for f in report.findings if f.created_at), default=datetime.now())
    submitted = orchestrator.submit(report.items, agent=AGENT, at=end)
    records = orchestrator.records
    active = [
        finding
        for status in ACTIVE_STATUSES
        for finding in records.findings(agent=AGENT, status=status, limit=None)
    ]
    now = max(report.until or end, end)
    over = agent.resolutions(store, report, active, now=now)
    resolved = orchestrator.submit(over, agent=AGENT, at=now).resolved
    return {
        "assets": len(report.assets),
        "linked": sum(a["link"] != "none" for a in report.assets),
        "model_versions": sum(a["model_versions"] for a in report.assets),
        "anomalies": sum(f.kind == "maintenance.anomaly" for f in report.findings),
        "rul_low": sum(f.kind == "maintenance.rul_low" for f in report.findings),
        "actions": len(submitted.actions),
        "resolved": len(resolved),
    }


def score_maintenance(store: Store, truth: dict[str, Any]) -> list[Score]:
    """Failures warned at least 24 hours ahead, and the share of warnings that were right."""
    figures = evaluate_warnings(stored_warnings(store), truth)
    trends = evaluate_warnings(stored_warnings(store, (TREND_KIND,)), truth)
    return [
        Score(
            "maintenance.failure_warned_24h",
            figures["failures"],
            figures["caught_24h"],
            figures["caught_24h"],
            f"observable planted failures (pending ones included) warned >= 24 h ahead "
            f"({figures['unobservable_failures']} not shown by the data); median lead "
            f"{figures['median_lead_hours']:.0f} h, shortest {figures['min_lead_hours']:.0f} h",
        ),
        Score(
            "maintenance.warning",
            figures["failures"],
            figures["warnings"],
            figures["correct_warnings"],
            "anomaly and rul_low findings inside a degradation window that ends in a failure",
        ),
        # a single sensor climbing for days is a warning too, scored on its own so the
        # model's warnings above keep their meaning
        Score(
            "maintenance.trend_warned_24h",
            trends["failures"],
            trends["warnings"],
            trends["correct_warnings"],
            f"observable planted failures warned >= 24 h ahead by a sensor trend finding: "
            f"{trends['caught_24h']} of {trends['failures']} (median lead "
            f"{trends['median_lead_hours']:.0f} h); found = trend findings, correct = those "
            f"inside a degradation window that ends in a failure",
            recalled=trends["caught_24h"],
        ),
    ]


__all__ = ["evaluate_warnings", "maintenance_stage", "score_maintenance", "stored_warnings"]
