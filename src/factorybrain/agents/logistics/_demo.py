"""The logistics agent in ``factorybrain demo``: a spare-parts replay with and without health.

The replay (:func:`replay_spares`) re-runs the demo plant's maintenance store over its history,
failure by failure, exactly as the simulator does (``docs/demo-factory.md``, "Spare parts"): each
part starts at its ``spare_policy`` initial stock; a repair takes one part; when none is on the
shelf it waits for the first delivery in the pipeline (or orders one, arriving after the part's
lead time), which is a **stock-out**; after an issue the part is reordered when on hand plus on
order is at or below its reorder point. Failure times are the plant's (``truth.json``
``failures``), so a repair that waited less in the replay does not move later failures.

With health-driven demand, every warning about a machine (``(machine, time)``) also asks the
logistics agent's :func:`~factorybrain.agents.logistics.check_spare_part` whether the machine's
spare part covers it: parts on hand plus on order, less one part per other machine warned and
not yet repaired, must cover the warned machine; otherwise the missing parts are ordered at the
warning time. A warning stays open until the machine's next failure, or 14 days.

Warnings come from the maintenance agent's ``maintenance.rul_low`` findings (the kind the logistics
agent reacts to; the stage "maintenance" stores them) when there are any, else from ``truth.json``
``anomaly_windows[].detectable_from`` (health index 0.1: when the degradation becomes
detectable).
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from factorybrain.agents.logistics._agent import check_spare_part
from factorybrain.scoring import Score
from factorybrain.store import Store

#: How long a warning reserves a part when no failure of its machine follows.
WARNING_OPEN = pd.Timedelta(days=14)
#: The maintenance findings the logistics agent reacts to.
WARNING_KINDS = ("maintenance.rul_low",)


def _time(value: Any) -> pd.Timestamp | None:
    if value is None or value == "":
        return None
    return _stamp(value)


def _stamp(value: Any) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    return stamp.tz_convert(None) if stamp.tzinfo is not None else stamp


def machine_names(truth: Mapping[str, Any]) -> dict[str, str]:
    """Every name a machine goes by in any silo -> its canonical id."""
    names: dict[str, str] = {}
    for entity in truth.get("entities", []):
        if entity.get("type") != "equipment":
            continue
        names.setdefault(entity["id"], entity["id"])
        for values in (entity.get("refs") or {}).values():
            for value in values:
                names.setdefault(str(value), entity["id"])
    return names


def lead_times_days(truth: Mapping[str, Any], exports: Path | None) -> dict[str, float]:
    """Lead time (days) of each spare part: the ERP material master (``PLIFZ``) of the exports."""
    by_number: dict[str, float] = {}
    path = None if exports is None else Path(exports) / "erp" / "materials.csv"
    if path is not None and path.exists():
        with path.open(encoding="utf-8") as handle:
            for row in csv.DictReader(handle, delimiter=";"):
                if row.get("PLIFZ"):
                    by_number[row["MATNR"]] = float(row["PLIFZ"])
    out = {}
    for entity in truth.get("entities", []):
        if entity.get("type") != "material":
            continue
        for number in (entity.get("refs") or {}).get("erp", []):
            if number in by_number:
                out[entity["id"]] = by_number[number]
    return out


def truth_warnings(truth: Mapping[str, Any]) -> list[tuple[str, pd.Timestamp]]:
    """``(machine, detectable_from)`` of every planted degradation."""
    out = []
    for window in truth.get("anomaly_windows", []):
        at = _time(window.get("detectable_from"))
        if at is not None:
            out.append((window["machine"], at))
    return out


@dataclass
class ReplayResult:
    """What a replay of the spare-parts store counted."""

    stockouts: int = 0
    waiting_hours: float = 0.0
    orders: int = 0
    health_orders: int = 0
    part_days_in_stock: float = 0.0
    details: list[dict[str, Any]] = field(default_factory=list)


def replay_spares(
    truth: Mapping[str, Any],
    lead_days: Mapping[str, float],
    warnings: Iterable[tuple[str, pd.Timestamp]] = (),
    *,
    risk: float = 0.05,
) -> ReplayResult:
    """Replay the plant's spare-parts store; with ``warnings``, order on machine health too.

    Args:
        truth: The plant's ``truth.json``.
        lead_days: Lead time per spare part (canonical id), days.
        warnings: ``(machine name, time)`` of each warning; empty for the plant's own policy.
        risk: Passed to :func:`check_spare_part`.

    Returns:
        Stock-outs, hours waited, orders and part-days held.
    """
    names = machine_names(truth)
    policy = truth.get("spare_policy", {})
    failures = sorted(
        (
            (_stamp(f["time"]), names.get(f["machine"], f["machine"]), f["spare_part"])
            for f in truth.get("failures", [])
        ),
        key=lambda item: item[0],
    )
    part_of = {machine: part for _, machine, part in failures}
    for pending in truth.get("pending_failures", []):
        part_of.setdefault(pending["machine"], pending["spare_part"])
    next_failure: dict[tuple[str, pd.Timestamp], pd.Timestamp] = {}
    events: list[tuple[pd.Timestamp, int, str, str]] = []
    for at, machine, _part in failures:
        events.append((at, 1, "failure", machine))
    for name, at in warnings:
        machine = names.get(str(name), str(name))
        if machine in part_of:
            events.append((at, 0, "warning", machine))
    events.sort(key=lambda item: (item[0], item[1]))
    for at, _, kind, machine in events:
        if kind == "warning":
            later = [f for f, m, _ in failures if m == machine and f >= at]
            next_failure[(machine, at)] = min(later) if later else at + WARNING_OPEN
    start = _time(truth.get("plant", {}).get("start")) or (events[0][0] if events else None)
    end = _time(truth.get("plant", {}).get("end"))
    stock = {part: float(p["initial"]) for part, p in policy.items()}
    pipeline: dict[str, list[tuple[pd.Timestamp, float]]] = defaultdict(list)
    open_warnings: dict[str, pd.Timestamp] = {}
    last_change = {part: start for part in policy}
    result = ReplayResult()

    def hold(part: str, until: pd.Timestamp) -> None:
        since = last_change.get(part) or until
        if until > since:
            result.part_days_in_stock += max(stock[part], 0.0) * (until - since).total_seconds()
        last_change[part] = max(until, since)

    def receive(part: str, until: pd.Timestamp) -> None:
        arrivals = sorted(pipeline[part])
        while arrivals and arrivals[0][0] <= until:
            arrival, quantity = arrivals.pop(0)
            hold(part, arrival)
            stock[part] += quantity
        pipeline[part] = arrivals

    def order(part: str, at: pd.Timestamp, quantity: float) -> None:
        pipeline[part].append((at + pd.Timedelta(days=lead_days.get(part, 0.0)), quantity))
        result.orders += 1

    for at, _, kind, machine in events:
        part = part_of.get(machine)
        if part is None or part not in policy:
            continue
        receive(part, at)
        hold(part, at)
        on_order = sum(q for _, q in pipeline[part])
        if kind == "warning":
            open_warnings = {m: t for m, t in open_warnings.items() if t > at}
            reserved = sum(1.0 for m in open_warnings if m != machine and part_of.get(m) == part)
            open_warnings[machine] = next_failure[(machine, at)]
            check = check_spare_part(
                material=part,
                machine=machine,
                quantity=1.0,
                on_hand=stock[part],
                on_order=on_order,
                lead_time_hours=lead_days.get(part, 0.0) * 24.0,
                probability_lead_time=1.0,
                probability_horizon=1.0,
                reserved=reserved,
                risk=risk,
            )
            if check.order_now:
                order(part, at, check.order_quantity)
                result.health_orders += 1
            continue
        open_warnings.pop(machine, None)
        quantity = float(policy[part]["order_quantity"])
        wait = pd.Timedelta(0)
        if stock[part] <= 0:
            if not pipeline[part]:
                order(part, at, quantity)
            arrival = min(pipeline[part])[0]
            receive(part, arrival)
            wait = arrival - at
            result.stockouts += 1
            result.waiting_hours += wait.total_seconds() / 3600.0
            result.details.append(
                {
                    "part": part,
                    "machine": machine,
                    "start": at.isoformat(),
                    "hours": wait / pd.Timedelta(hours=1),
                }
            )
        hold(part, at + wait)
        stock[part] -= 1
        on_order = sum(q for _, q in pipeline[part])
        if stock[part] + on_order <= policy[part]["reorder_point"]:
            order(part, at + wait, quantity)
    if end is not None:
        for part in policy:
            receive(part, end)
            hold(part, end)
    result.part_days_in_stock /= 86400.0
    return result


def compare(
    truth: Mapping[str, Any],
    lead_days: Mapping[str, float],
    warnings: Sequence[tuple[str, pd.Timestamp]],
) -> dict[str, Any]:
    """Stock-outs without and with health-driven orders, and the share avoided."""
    without = replay_spares(truth, lead_days)
    with_health = replay_spares(truth, lead_days, warnings)
    avoided = (
        (without.stockouts - with_health.stockouts) / without.stockouts
        if without.stockouts
        else 1.0
    )
    return {
        "stockouts_with": with_health.stockouts,
        "stockouts_without": without.stockouts,
        "avoided_share": round(avoided, 4),
        "truth_stockouts": len(truth.get("spare_stockouts", [])),
        "waiting_hours_with": round(with_health.waiting_hours, 1),
        "waiting_hours_without": round(without.waiting_hours, 1),
        "orders_with": with_health.orders,
        "orders_without": without.orders,
        "health_orders": with_health.health_orders,
        "part_days_in_stock_with": round(with_health.part_days_in_stock, 1),
        "part_days_in_stock_without": round(without.part_days_in_stock, 1),
        "warnings": len(warnings),
        "failures": len(truth.get("failures", [])),
    }


def agent_warnings(store: Store) -> list[tuple[str, pd.Timestamp]]:
    """``(machine, time)`` of the maintenance agent's stored ``maintenance.rul_low`` findings."""
    from factorybrain.agents.core._records import AgentRecords

    out = []
    try:
        records = AgentRecords(store)
        for kind in WARNING_KINDS:
            for finding in records.findings(kind=kind, agent="maintenance", limit=None):
                if finding.created_at is not None:
                    out.append((finding.subject.external_id, pd.Timestamp(finding.created_at)))
    except Exception:  # no agent records in this store: no maintenance warnings
        return []
    return out


def _exports_of(truth: Mapping[str, Any]) -> Path | None:
    path = truth.get("_exports")
    return Path(path) if path else None


def evaluate(store: Store, truth: Mapping[str, Any]) -> dict[str, Any]:
    """The replay on a loaded demo store: maintenance warnings if stored, else truth windows."""
    found = agent_warnings(store)
    source = "maintenance agent" if found else "truth detectable_from"
    warnings = found or truth_warnings(truth)
    lead = lead_times_from_store(store, truth) or lead_times_days(truth, _exports_of(truth))
    figures = compare(truth, lead, warnings)
    figures["warning_source"] = source
    return figures


def lead_times_from_store(store: Store, truth: Mapping[str, Any]) -> dict[str, float]:
    """Lead time (days) of each truth material, read from the store's material master."""
    try:
        rows = store.query("SELECT external_id, lead_time_days FROM material")
    except Exception:  # no material table: no lead times from the store
        return {}
    days = {
        str(r.external_id): float(r.lead_time_days)
        for r in rows.itertuples()
        if r.lead_time_days is not None and not math.isnan(r.lead_time_days)
    }
    out = {}
    for entity in truth.get("entities", []):
        if entity.get("type") == "material":
            for number in (entity.get("refs") or {}).get("erp", []):
                if number in days:
                    out[entity["id"]] = days[number]
    return out


def logistics_stage(store: Store, truth: dict[str, Any]) -> dict[str, Any]:
    """Plan every item at the end of the history and replay the spare parts with health."""
    from factorybrain.agents.core._orchestrator import Orchestrator
    from factorybrain.agents.logistics._agent import AGENT, LogisticsAgent

    agent = LogisticsAgent()
    plan = agent.plan(store)
    Orchestrator(store, [agent]).submit(plan.items(), agent=AGENT, at=plan.as_of)
    figures = evaluate(store, truth)
    return {
        "items": len(plan.policies),
        "stockout_risks": sum(f.kind == "logistics.stockout_risk" for f in plan.findings),
        "reorders": len(plan.recommendations),
        "fallbacks": len(plan.warnings),
        "spare_stockouts_without": figures["stockouts_without"],
        "spare_stockouts_with": figures["stockouts_with"],
    }


def score_logistics(store: Store, truth: dict[str, Any]) -> list[Score]:
    """Spare-part stock-outs that health-driven orders avoid."""
    figures = evaluate(store, truth)
    avoided = max(figures["stockouts_without"] - figures["stockouts_with"], 0)
    return [
        Score(
            "logistics.stockouts_avoided",
            figures["stockouts_without"],
            avoided,
            avoided,
            f"{figures['stockouts_with']} spare-part stock-outs with health-driven orders vs "
            f"{figures['stockouts_without']} without (warnings: {figures['warning_source']}); "
            f"{figures['health_orders']} early orders",
        )
    ]


__all__ = [
    "ReplayResult",
    "compare",
    "evaluate",
    "lead_times_days",
    "lead_times_from_store",
    "logistics_stage",
    "machine_names",
    "replay_spares",
    "score_logistics",
    "truth_warnings",
]
