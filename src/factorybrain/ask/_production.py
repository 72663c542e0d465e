"""Production questions: OEE and its losses, late orders and why, parts to order.

The figures are those of the platform's own functions, never recomputed here: OEE from the
planning agent's :func:`~factorybrain.agents.planning.plant_oee` and
:func:`~factorybrain.agents.planning.plant_oee_losses` (what ``factorybrain oee`` prints), late
orders from the planning agent's findings or the plan it stored, parts from the logistics agent's
findings, its purchase proposals and the stock it reads (:func:`~factorybrain.agents.logistics.
load_logistics`).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pandas as pd

from factorybrain.ask._answer import Answer, as_of, evidence_of, finding_ref, percent, rows
from factorybrain.ask._health import health
from factorybrain.ask._language import Question
from factorybrain.ask._names import Entity, Found, NameIndex, name_index, unresolved
from factorybrain.ask._periods import Period, data_end, period_of
from factorybrain.exceptions import FactorybrainError
from factorybrain.store import Store

#: How the OEE may be grouped.
GROUPS = ("line", "machine", "shift")
_RATIOS = ("availability", "performance", "quality", "oee")
_CATEGORY_WORDS = {"downtime": "down", "idle": "idle", "speed loss": "speed loss", "scrap": "scrap"}
_LOGISTICS_KINDS = ("logistics.stockout_risk", "logistics.reorder_due")
_DUE_DATE_RISK = "planning.due_date_risk"


# -- OEE ---------------------------------------------------------------------------------------
def oee_report(store: Store, asset: str = "", period: str = "", by: str = "line") -> Answer:
    """OEE (availability x performance x quality, ISO 22400) per line, machine or shift.

    Args:
        store: The factory store.
        asset: A line or machine (any silo's name); empty for the whole plant.
        period: ``last week``, ``in May``, ``yesterday``, ``2025-06-01 to 2025-06-07``...
            (counted from the latest data); empty for the whole history.
        by: ``line``, ``machine`` or ``shift``.
    """
    index = name_index(store)
    entity = None
    if asset.strip():
        found = index.find(Question.read(asset))
        if found is None or found.entity is None:
            return unresolved(asset, found, "oee")
        entity = found.entity
    return oee_of(store, index, entity, period_of(store, period), by)


def oee_of(
    store: Store, index: NameIndex, entity: Entity | None, window: Period, by: str = "line"
) -> Answer:
    """:func:`oee_report` of a resolved asset (or the plant) over a parsed period."""
    from factorybrain.agents.planning import plant_oee

    by = by if by in GROUPS else "line"
    code = _oee_code(store, index, entity) if entity is not None else None
    if entity is not None and code is None:
        return Answer(
            entity.label,
            f"{entity.label} records no machine states, so it has no OEE: OEE is measured on "
            "the machines and lines whose states the MES records.",
            "oee",
            [entity.ref()],
        )
    if entity is not None and entity.level != "line" and by == "line":
        by = "machine"
    assets = [code] if code else None
    try:
        table = plant_oee(store, by=by, assets=assets, start=window.start, end=window.end)
    except FactorybrainError as error:
        return Answer(entity.label if entity else "oee", f"No OEE: {error}", "oee")
    table = table[table["planned_busy_seconds"] > 0]
    scope = f"{entity.label}, " if entity is not None else ""
    if table.empty:
        return Answer(
            "oee",
            f"No planned production time is recorded for {scope}{window.label}, so there is no "
            "OEE to report.",
            "oee",
            [entity.ref()] if entity is not None else [],
        )
    names = _asset_names(index)
    numbers: dict[str, float] = {}
    parts = []
    for row in table.sort_values(by).to_dict("records"):
        key = str(row[by])
        for ratio in _RATIOS:
            if row[ratio] == row[ratio]:
                numbers[f"{ratio}:{key}"] = float(row[ratio])
        parts.append(
            f"{names.get(key, key)} {percent(row['oee'])} (availability "
            f"{percent(row['availability'])}, performance {percent(row['performance'])}, "
            f"quality {percent(row['quality'])})"
        )
    total = _total(table)
    numbers.update(total)
    text = f"OEE by {by}, {scope}{window.label}: " + "; ".join(parts)
    if len(table) > 1:
        worst = table.sort_values("oee").iloc[0]
        text += (
            f". Together {percent(total['oee'])}; lowest: "
            f"{names.get(str(worst[by]), str(worst[by]))}"
        )
    citations = [entity.ref()] if entity is not None else []
    if by != "shift":
        citations += [
            {"type": "asset", "space": _space(index, str(k)), "external_id": str(k)}
            for k in table[by]
            if entity is None or str(k) != entity.external_id
        ]
    return Answer("oee", text + ".", "oee", citations, numbers)


def oee_losses(store: Store, asset: str = "", period: str = "") -> Answer:
    """Why a line or machine is slow: its OEE against the plant's and where the time went.

    Args:
        store: The factory store.
        asset: A line or machine (any silo's name); empty for the whole plant.
        period: The period (see :func:`oee_report`); empty for the whole history.
    """
    index = name_index(store)
    entity = None
    if asset.strip():
        found = index.find(Question.read(asset))
        if found is None or found.entity is None:
            return unresolved(asset, found, "oee_losses")
        entity = found.entity
    return losses_of(store, index, entity, period_of(store, period))


def losses_of(store: Store, index: NameIndex, entity: Entity | None, window: Period) -> Answer:
    """:func:`oee_losses` of a resolved asset (or the plant) over a parsed period."""
    from factorybrain.agents.planning import plant_oee, plant_oee_losses

    code = _oee_code(store, index, entity) if entity is not None else None
    if entity is not None and code is None:
        return Answer(
            entity.label,
            f"{entity.label} records no machine states, so its losses are unknown.",
            "oee_losses",
            [entity.ref()],
        )
    by = "machine" if entity is not None and entity.level != "line" else "line"
    names = _asset_names(index)
    try:
        every = plant_oee(store, by=by, start=window.start, end=window.end)
        lost = plant_oee_losses(
            store, by=by, assets=[code] if code else None, start=window.start, end=window.end
        )
        machines = (
            plant_oee(store, by="machine", assets=[code], start=window.start, end=window.end)
            if code and by == "line"
            else None
        )
    except FactorybrainError as error:
        return Answer(entity.label if entity else "oee", f"No OEE: {error}", "oee_losses")
    every = every[every["planned_busy_seconds"] > 0]
    plant = _total(every)
    mine = every[every[by] == code] if code else every
    if mine.empty:
        return Answer(
            "oee",
            f"No planned production time is recorded for {entity.label if entity else 'the plant'}"
            f", {window.label}.",
            "oee_losses",
            [entity.ref()] if entity is not None else [],
        )
    figures = _total(mine)
    label = entity.label if entity is not None else "The plant"
    weakest = min(("availability", "performance", "quality"), key=lambda r: figures[r])
    text = (
        f"{label}, {window.label}: OEE {percent(figures['oee'])}"
        + (f" against {percent(plant['oee'])} for the plant" if code else "")
        + f" (availability {percent(figures['availability'])}, performance "
        f"{percent(figures['performance'])}, quality {percent(figures['quality'])}): "
        f"{weakest} is the biggest loss."
    )
    planned = float(mine["planned_busy_seconds"].sum())
    descriptions = _reason_descriptions(store)
    grouped = lost.groupby(["category", "reason"], dropna=False)["seconds"].sum()
    top = grouped.sort_values(ascending=False).head(5)
    losses = []
    numbers = {**figures, "plant_oee": plant["oee"]}
    for (category, reason), seconds in top.items():
        reason = "" if reason is None or reason != reason else str(reason)
        what = f"{reason} {descriptions[reason]}" if reason in descriptions else reason
        losses.append(
            f"{_CATEGORY_WORDS.get(str(category), str(category))}"
            + (f" {what}" if what else "")
            + f" {seconds / 3600:.1f} h ({seconds / planned:.1%} of the planned time)"
        )
        numbers[f"hours:{category}:{reason}".rstrip(":")] = float(seconds) / 3600
    text += " Where the time went: " + "; ".join(losses) + "."
    citations = [entity.ref()] if entity is not None else []
    if machines is not None and not machines.empty:
        machines = machines[machines["planned_busy_seconds"] > 0].sort_values("oee")
        low = machines.iloc[0]
        text += (
            f" Its lowest machine: {names.get(str(low['machine']), str(low['machine']))} "
            f"{percent(low['oee'])}."
        )
        citations += [
            {"type": "asset", "space": _space(index, str(m)), "external_id": str(m)}
            for m in machines["machine"]
        ]
    return Answer("oee", text, "oee_losses", citations, numbers)


def _total(table: pd.DataFrame) -> dict[str, float]:
    """The ratios of several groups together, weighted as the engine weighs them."""
    planned = float(table["planned_busy_seconds"].sum())
    running = float(table["running_seconds"].sum())
    total = float(table["total_count"].sum())

    def share(top: float, bottom: float) -> float:
        return top / bottom if bottom else float("nan")

    return {
        "availability": share(running, planned),
        "performance": share(float(table["ideal_seconds"].sum()), running),
        "quality": share(float(table["good_count"].sum()), total),
        "oee": share(
            float((table["oee"].fillna(0) * table["planned_busy_seconds"]).sum()), planned
        ),
    }


def _oee_code(store: Store, index: NameIndex, entity: Entity | None) -> str | None:
    """The asset's id in the space whose machine states the OEE is computed from."""
    if entity is None:
        return None
    found = store.query(
        "SELECT space, count(*) AS n FROM event WHERE event_type = 'state' "
        "GROUP BY space ORDER BY n DESC, space LIMIT 1"
    )
    if found.empty:
        return None
    space = str(found["space"].iloc[0])
    codes = sorted(i for s, i in index.ids_of(entity) if s == space)
    known = store.query(
        "SELECT external_id FROM asset WHERE space = ? AND list_contains(?, external_id)",
        [space, codes],
    )
    return str(known["external_id"].iloc[0]) if len(known) else None


def _asset_names(index: NameIndex) -> dict[str, str]:
    return {e.external_id: e.label for n in index.names if (e := n.entity).type == "asset"}


def _space(index: NameIndex, external_id: str) -> str | None:
    return next((e.space for n in index.names if (e := n.entity).external_id == external_id), None)


def _reason_descriptions(store: Store) -> dict[str, str]:
    """What each state reason code means, as the MES describes it most often."""
    found = store.query(
        "SELECT reason, description, count(*) AS n FROM event WHERE event_type = 'state' "
        "AND reason IS NOT NULL AND description IS NOT NULL GROUP BY reason, description "
        "ORDER BY n DESC"
    )
    out: dict[str, str] = {}
    for reason, description in zip(found["reason"], found["description"], strict=True):
        out.setdefault(str(reason), str(description))
    return out


# -- late orders -------------------------------------------------------------------------------
def late_order_rows(store: Store) -> list[dict[str, Any]]:
    """Orders that will miss their due date, latest first.

    From the planning agent's ``planning.due_date_risk`` findings, else from the plan it stored
    (orders planned to end after their due date). Each row: ``work_order``, ``space``,
    ``product``, ``line``, ``quantity``, ``release_at``, ``due_at``, ``planned_start``,
    ``planned_end``, ``hours_late``, ``finding`` (None when read from the plan), ``text``.
    """
    from factorybrain.agents.planning import PLAN_SPACE

    findings = rows(
        store.query(
            "SELECT external_id, subject, evidence, created_at FROM finding WHERE space = 'agents' "
            "AND kind = ? AND status IN ('open', 'acknowledged') ORDER BY created_at DESC",
            [_DUE_DATE_RISK],
        )
    )
    latest: dict[str, dict[str, Any]] = {}
    for row in findings:
        latest.setdefault(row["subject"], row)
    orders = rows(
        store.query(
            "SELECT space, external_id AS work_order, product, line, quantity, status, "
            "release_at, due_at, planned_start, planned_end, "
            "date_diff('second', due_at, planned_end) / 3600.0 AS hours_late FROM work_order "
            "WHERE due_at IS NOT NULL AND (list_contains(?, external_id) OR (planned_end > due_at "
            "AND external_id IN (SELECT work_order FROM operation WHERE space = ? "
            "AND status = 'planned')))",
            [sorted(latest), PLAN_SPACE],
        )
    )
    out = []
    for order in orders:
        finding = latest.get(order["work_order"])
        if latest and finding is None:
            continue  # the planning agent's view, when it gave one, is the one to answer with
        evidence = evidence_of(finding) if finding else {}
        hours = (evidence.get("numbers") or {}).get("tardiness_hours", order["hours_late"])
        out.append(
            {
                **order,
                "hours_late": float(hours or 0.0),
                "finding": finding["external_id"] if finding else None,
                "text": evidence.get("text") or "",
            }
        )
    return sorted(out, key=lambda o: (-o["hours_late"], o["work_order"]))


def late_orders(store: Store, line: str = "") -> Answer:
    """Orders that will be late, and why: due date, work left, the queue and machines down.

    Args:
        store: The factory store.
        line: Only the orders of this line (any silo's name); empty for every line.
    """
    from factorybrain.agents.planning import PLAN_SPACE

    index = name_index(store)
    late = late_order_rows(store)
    scope = ""
    if line.strip():
        found = index.find(Question.read(line))
        if found is None or found.entity is None:
            return unresolved(line, found, "late_orders", "line")
        entity = found.entity
        names = {i for _, i in index.ids_of(entity)} | {entity.external_id}
        late = [o for o in late if o["line"] in names]
        scope = f" on {entity.label}"
    if not late:
        return Answer(
            "late orders",
            f"No order{scope} is planned to miss its due date (as far as the planning agent's "
            "findings and the plan it stored go; 'factorybrain plan' makes a plan).",
            "late_orders",
            numbers={"late_orders": 0.0},
        )
    now = data_end(store)
    operations = rows(
        store.query(
            "SELECT work_order, sequence, equipment AS machine, start_time, end_time FROM "
            "operation WHERE space = ? AND status = 'planned' ORDER BY start_time",
            [PLAN_SPACE],
        )
    )
    origin = min((o["start_time"] for o in operations), default=now)
    by_order: dict[str, list[dict[str, Any]]] = {}
    for operation in operations:
        by_order.setdefault(operation["work_order"], []).append(operation)
    found_machines = (
        index.entity("asset", _space(index, machine) or "", machine)
        for machine in {o["machine"] for o in operations}
    )
    machines = {machine for machine in found_machines if machine is not None}
    troubled = {
        h.entity.external_id: h
        for h in health(store, index, sorted(machines, key=lambda e: e.external_id), now)
        if h.down_since is not None or h.live
    }
    parts = []
    for order in late[:5]:
        reasons = _why_late(order, by_order.get(order["work_order"], []), origin, troubled)
        parts.append(
            f"{order['work_order']} ({order['product']}, {order['quantity']:g} units, "
            f"{order['line']}): due {order['due_at']:%Y-%m-%d %H:%M}, planned to end "
            f"{order['planned_end']:%Y-%m-%d %H:%M}, {order['hours_late']:.1f} h late: "
            + "; ".join(reasons)
        )
    rest = [o["work_order"] for o in late[5:]]
    text = (
        f"{len(late)} order(s){scope} will miss their due date "
        + (
            "(the planning agent's findings)"
            if late[0]["finding"]
            else f"(the plan in force, from {origin:%Y-%m-%d %H:%M})"
        )
        + ": "
        + ". ".join(parts)
        + (f". Also late: {', '.join(rest)}" if rest else "")
        + "."
    )
    citations = [
        {"type": "work_order", "space": o["space"], "external_id": o["work_order"]} for o in late
    ]
    citations += [finding_ref(o["finding"]) for o in late if o["finding"]]
    citations += [troubled[m].entity.ref() for m in sorted(troubled)]
    numbers = {"late_orders": float(len(late)), "hours_late": sum(o["hours_late"] for o in late)}
    numbers.update({f"hours_late:{o['work_order']}": o["hours_late"] for o in late})
    return Answer("late orders", text, "late_orders", citations, numbers)


def _why_late(
    order: dict[str, Any],
    operations: list[dict[str, Any]],
    origin: datetime,
    troubled: dict[str, Any],
) -> list[str]:
    """The reasons an order is late, from its dates, its planned operations and its machines."""
    reasons = []
    if order["text"]:
        reasons.append(order["text"].rstrip("."))
    if order["due_at"] <= origin:
        reasons.append(f"its due date had passed when the plan starts ({origin:%Y-%m-%d %H:%M})")
    work = sum((o["end_time"] - o["start_time"]).total_seconds() for o in operations) / 3600
    ready = max(order["release_at"] or origin, origin)
    left = (order["due_at"] - ready).total_seconds() / 3600
    if operations and 0 < left < work:
        reasons.append(f"it needs {work:.1f} h of machine time, only {left:.1f} h were left")
    if operations:
        first = operations[0]
        waited = (first["start_time"] - ready).total_seconds() / 3600
        if waited > 1:
            reasons.append(f"it waits {waited:.1f} h for {first['machine']} (other orders first)")
    for machine in dict.fromkeys(o["machine"] for o in operations):
        if machine in troubled:
            current = troubled[machine]
            reasons.append(
                f"{machine} is {current.down_text()}"
                if current.down_since is not None
                else f"{machine} has a remaining-life warning ({current.warning.title})"
            )
    return reasons or ["the plan gives no more detail"]


# -- parts to order ----------------------------------------------------------------------------
def parts_to_order(store: Store, spare_parts_only: bool = True, machine: str = "") -> Answer:
    """Spare parts (or all materials) to order: the logistics agent's findings and proposals.

    Args:
        store: The factory store.
        spare_parts_only: Only spare parts (else every material at risk of a stock-out).
        machine: Only the spare parts of this machine's BOM (any silo's name).
    """
    from factorybrain.agents.logistics import load_logistics, material_key

    index = name_index(store)
    found: Found | None = None
    if machine.strip():
        found = index.find(Question.read(machine))
        if found is None or found.entity is None:
            return unresolved(machine, found, "parts_to_order")
    data = load_logistics(store)
    items = {
        material_key(i): row
        for i, row in zip(data.items["unique_id"], data.items.to_dict("records"), strict=True)
    }
    kind_of = {key: str(row.get("item_type") or "") for key, row in items.items()}
    wanted: set[str] | None = None
    if found is not None and found.entity is not None:
        ids = {identifier for _, identifier in index.ids_of(found.entity)}
        wanted = {
            material_key(part.material)
            for owner, parts in data.spares.items()
            if owner in ids
            for part in parts
            if part.material
        }
    findings = rows(
        store.query(
            "SELECT external_id, kind, subject, severity, evidence, name, created_at FROM finding "
            "WHERE space = 'agents' AND status IN ('open', 'acknowledged') "
            "AND list_contains(?, kind) AND subject_type = 'material' ORDER BY created_at DESC",
            [list(_LOGISTICS_KINDS)],
        )
    )
    latest: dict[str, dict[str, Any]] = {}
    for row in sorted(findings, key=lambda r: as_of(r) or datetime.min, reverse=True):
        latest.setdefault(material_key(row["subject"]), row)
    chosen = {
        key: row
        for key, row in latest.items()
        if (not spare_parts_only or kind_of.get(key) == "spare_part")
        and (wanted is None or key in wanted)
    }
    what = "spare parts" if spare_parts_only else "materials"
    scope = f" for {found.entity.label}" if found is not None and found.entity is not None else ""
    if not chosen:
        others = len(latest) - len(chosen)
        return Answer(
            "parts to order",
            f"No {what}{scope} need ordering, as far as the logistics agent's open findings go"
            + (
                f"; {others} other material(s) are at their reorder point or at risk of a "
                "stock-out (ask which materials to reorder)"
                if others and spare_parts_only
                else ""
            )
            + ("." if latest else " (it has reported nothing: run 'factorybrain agents run')."),
            "parts_to_order",
            [found.entity.ref()] if found is not None and found.entity is not None else [],
            {"parts": 0.0},
        )
    proposals = _purchase_proposals(store, [row["external_id"] for row in chosen.values()])
    parts, numbers = [], {"parts": float(len(chosen))}
    citations: list[dict[str, Any]] = []
    for key, row in sorted(
        chosen.items(), key=lambda kv: (kv[1]["kind"] != _LOGISTICS_KINDS[0], kv[0])
    ):
        item = items.get(key, {})
        facts = evidence_of(row).get("numbers") or {}
        on_hand = item.get("on_hand", facts.get("on_hand"))
        name = item.get("name") or row["name"] or row["subject"]
        proposal = proposals.get(row["external_id"])
        text = (
            f"{name} ({row['subject']}): "
            + (
                f"{float(on_hand):g} on hand, "
                if on_hand is not None and on_hand == on_hand
                else ""
            )
            + f"{float(facts.get('on_order', item.get('on_order', 0)) or 0):g} on order"
            + (
                f", reorder point {float(facts['reorder_point']):.3g}"
                if facts.get("reorder_point") is not None
                else ""
            )
        )
        if proposal is not None:
            quantity = float(proposal["parameters"].get("quantity") or 0)
            text += (
                f": order {quantity:g}"
                + (
                    f" by {str(proposal['parameters']['due_at'])[:10]}"
                    if proposal["parameters"].get("due_at")
                    else ""
                )
                + f" (proposal {proposal['external_id']}, {proposal['state'] or 'proposed'})"
            )
            numbers[f"quantity:{row['subject']}"] = quantity
            citations.append({"type": "recommendation", "external_id": proposal["external_id"]})
        parts.append(text)
        citations += [
            finding_ref(row["external_id"]),
            {"type": "material", "space": item.get("space"), "external_id": row["subject"]},
        ]
    moment = max((m for r in chosen.values() if (m := as_of(r)) is not None), default=None)
    text = (
        f"{what.capitalize()} to order{scope}"
        + (f" (the logistics agent, as of {moment:%Y-%m-%d %H:%M})" if moment else "")
        + ": "
        + "; ".join(parts)
        + "."
    )
    if found is not None and found.entity is not None:
        citations.insert(0, found.entity.ref())
    return Answer("parts to order", text, "parts_to_order", citations, numbers)


def _purchase_proposals(store: Store, finding_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The newest purchase proposal about each finding, with the state of its action."""
    found = rows(
        store.query(
            "SELECT r.external_id, r.finding_ids, r.parameters, a.state FROM recommendation r "
            "LEFT JOIN action a ON a.space = r.space AND a.recommendation = r.external_id "
            "WHERE r.space = 'agents' AND r.action_type = 'purchase_order.create' "
            "AND list_has_any(r.finding_ids, ?) ORDER BY r.created_at DESC",
            [finding_ids],
        )
    )
    out: dict[str, dict[str, Any]] = {}
    for row in found:
        parameters = row["parameters"]
        row["parameters"] = (
            json.loads(parameters) if isinstance(parameters, str) else dict(parameters or {})
        )
        for finding_id in row["finding_ids"]:
            out.setdefault(str(finding_id), row)
    return out


__all__ = [
    "GROUPS",
    "late_order_rows",
    "late_orders",
    "losses_of",
    "oee_losses",
    "oee_of",
    "oee_report",
    "parts_to_order",
]
