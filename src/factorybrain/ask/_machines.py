"""Machine questions: the status of a machine or line, which machines will fail, what if one stops.

Every machine is named as people name it (:mod:`factorybrain.ask._names`) and read across every
silo's records of it (:mod:`factorybrain.ask._health`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from factorybrain.ask._answer import Answer, count_by, finding_ref
from factorybrain.ask._health import RUL_LOW, Health, health, machines_of
from factorybrain.ask._language import Question
from factorybrain.ask._names import Entity, NameIndex, hubs, name_index, unresolved
from factorybrain.ask._periods import data_end
from factorybrain.ask._production import late_order_rows
from factorybrain.store import Store


def asset_status(store: Store, asset: str) -> Answer:
    """Status of a machine or line: its state, remaining-life warning, findings and orders.

    The asset may be named as any silo names it (MES, ERP, historian tag, engineering), with
    typos; names linked by approved identity links are one machine.
    """
    index = name_index(store)
    found = index.find(Question.read(asset))
    if found is None or found.entity is None:
        return unresolved(asset, found, "asset_status")
    return status_of(store, index, found.entity, asset)


def status_of(store: Store, index: NameIndex, entity: Entity, question: str) -> Answer:
    """:func:`asset_status` of a resolved asset."""
    now = data_end(store)
    machines = machines_of(index, entity)
    if machines != [entity]:
        return _line_status(store, index, entity, machines, now, question)
    current = health(store, index, [entity], now)[0]
    others: dict[str, str] = {}
    for space, identifier in sorted(index.ids_of(entity), key=lambda s: (len(s[1]), s)):
        if space != entity.space:
            others.setdefault(space, identifier)  # one name per silo: the shortest
    head = f"{entity.label} in {entity.space}" + (
        ", known as " + ", ".join(f"{i} in {s}" for s, i in sorted(others.items()))
        if others
        else ""
    )
    parts = [head, _state_text(current), _warning_text(current, now)]
    other = [f for f in current.findings if f["kind"] != RUL_LOW]
    if other:
        kinds = count_by([f["kind"].split(".", 1)[-1].replace("_", " ") for f in other])
        parts.append(f"{len(other)} other open finding(s): {kinds} (latest: {other[0]['name']})")
    parts.append(_orders_text(current))
    pending = index.pending(entity)
    if pending:
        targets = ", ".join(sorted({f"{space}/{target}" for space, target, _ in pending}))
        parts.append(f"its links to {targets} are only suggested, not approved: not used")
    citations = [entity.ref()]
    if current.warning is not None:
        citations.append(finding_ref(current.warning.finding))
    latest_per_kind: dict[str, dict[str, Any]] = {}
    for row in other:
        latest_per_kind.setdefault(row["kind"], row)
    citations += [finding_ref(f["external_id"]) for f in latest_per_kind.values()]
    citations += [
        {"type": "maintenance_order", "space": o["space"], "external_id": o["external_id"]}
        for o in current.orders[:3]
    ]
    numbers = {
        "open_findings": float(len(current.findings)),
        "down": float(current.down_since is not None),
    }
    if current.live and current.warning is not None:
        left = current.warning.hours_left(now)
        if left is not None:
            numbers["rul_days"] = left / 24
    return Answer(
        question, "; ".join(p for p in parts if p) + ".", "asset_status", citations, numbers
    )


def _state_text(current: Health) -> str:
    if current.down_since is not None:
        return current.down_text()
    state = current.state
    if state is None:
        return "no machine state recorded"
    why = f" ({state['description']})" if state.get("description") else ""
    return f"{state['state']} since {state['start_time']:%Y-%m-%d %H:%M}{why}"


def _warning_text(current: Health, now: datetime) -> str:
    warning = current.warning
    if warning is None:
        return "no remaining-life warning"
    said = f"the warning of {warning.at:%Y-%m-%d %H:%M} ({warning.title or 'remaining life low'})"
    if current.came_true:
        return f"{said} came true: it broke down {current.down_since:%Y-%m-%d %H:%M}"
    if not current.live:
        return f"{said} was followed by maintenance: no live warning"
    left = warning.hours_left(now)
    low = warning.hours_left(now, "lower")
    if left is None:
        return f"{said} stands"
    if left <= 0:
        return f"{said} stands, and the failure it expected is due: it has not stopped since"
    return (
        f"remaining life about {max(left, 0) / 24:.1f} days from the end of the data"
        + (f" (at the earliest {max(low, 0) / 24:.1f})" if low is not None and low < left else "")
        + f", by {said}"
    )


def _orders_text(current: Health) -> str:
    if not current.orders:
        return "no maintenance order recorded"
    last = current.orders[0]
    ended = last["actual_end"] or last["planned_end"]
    text = (
        f"last maintenance order {last['external_id']} ({last['order_type']}, {last['status']}"
        + (f", until {ended:%Y-%m-%d %H:%M}" if ended is not None else "")
        + ")"
        + (f": {last['notes']}" if last.get("notes") else "")
    )
    waiting = [o for o in current.orders if o["status"] not in ("completed", "closed", "cancelled")]
    if waiting:
        text += f"; open: {', '.join(o['external_id'] for o in waiting[:5])}"
    return text


def _line_status(
    store: Store,
    index: NameIndex,
    entity: Entity,
    machines: list[Entity],
    now: datetime,
    question: str,
) -> Answer:
    """A line's status: each machine's state, and the machines down or warned."""
    found = health(store, index, machines, now)
    states = [f"{h.entity.external_id} {_state_text(h)}" for h in found]
    down = [h for h in found if h.down_since is not None]
    warned = [h for h in found if h.live and h.warning is not None]
    text = f"{entity.label}: {len(machines)} machine(s): " + "; ".join(states) + "."
    if warned:
        text += (
            " Live remaining-life warnings: "
            + ", ".join(f"{h.entity.external_id} ({_warning_text(h, now)})" for h in warned)
            + "."
        )
    else:
        text += " No live remaining-life warning."
    citations = [entity.ref()] + [h.entity.ref() for h in found]
    citations += [finding_ref(h.warning.finding) for h in warned if h.warning is not None]
    return Answer(
        question,
        text,
        "asset_status",
        citations,
        {
            "machines": float(len(found)),
            "machines_down": float(len(down)),
            "live_warnings": float(len(warned)),
        },
    )


def risks(store: Store, horizon_days: float = 7.0) -> Answer:
    """Machines expected to fail within the horizon, machines down now, deliveries at risk.

    A machine is expected to fail when its remaining-life warning still stands (no stop or
    maintenance since) and its lower bound falls within the horizon, counted from the latest
    data.
    """
    index = name_index(store)
    now = data_end(store)
    machines = [e for e in hubs(index) if e.level not in ("line", "area", "site", "enterprise")]
    found = health(store, index, machines, now)
    horizon = horizon_days * 24
    soon: list[Health] = []
    later: list[Health] = []
    for current in found:
        if not current.live or current.warning is None:
            continue
        left = current.warning.hours_left(now, "lower")
        (soon if left is None or left <= horizon else later).append(current)
    down = [h for h in found if h.down_since is not None and not h.in_maintenance]
    late = late_order_rows(store)
    parts = [f"As of {now:%Y-%m-%d %H:%M} (the latest data)"]
    if soon:
        parts.append(
            f"expected to fail within {horizon_days:g} days: "
            + ", ".join(f"{h.entity.label} ({_warning_text(h, now)})" for h in soon)
        )
    else:
        parts.append(
            f"no running machine is expected to fail within {horizon_days:g} days (no live "
            "remaining-life warning says so)"
        )
    if down:
        parts.append(
            "down now: "
            + ", ".join(
                f"{h.entity.label} {h.down_text()}"
                + (
                    f", as its warning of {h.warning.at:%Y-%m-%d} said"
                    if h.came_true and h.warning
                    else ""
                )
                for h in down
            )
        )
    if later:
        parts.append("warned for later: " + ", ".join(h.entity.label for h in later))
    parts.append(
        f"deliveries at risk: {len(late)} order(s)"
        + (": " + ", ".join(o["work_order"] for o in late[:10]) if late else "")
    )
    citations = []
    for current in [*soon, *down]:
        citations.append(current.entity.ref())
        if current.warning is not None:
            citations.append(finding_ref(current.warning.finding))
    citations += [
        finding_ref(o["finding"])
        if o["finding"]
        else {"type": "work_order", "external_id": o["work_order"]}
        for o in late
    ]
    return Answer(
        f"risks within {horizon_days:g} days",
        "; ".join(parts) + ".",
        "risks",
        citations,
        {
            "machines_at_risk": float(len(soon)),
            "machines_down": float(len(down)),
            "deliveries_at_risk": float(len(late)),
        },
    )


def what_if_down(store: Store, asset: str, hours: float = 8.0) -> Answer:
    """What a machine going down means: the open work orders planned on it or on its line."""
    index = name_index(store)
    found = index.find(Question.read(asset))
    if found is None or found.entity is None:
        return unresolved(asset, found, "what_if_down")
    return what_if_of(store, found.entity, hours, asset)


def what_if_of(store: Store, entity: Entity, hours: float, question: str) -> Answer:
    """:func:`what_if_down` of a resolved asset."""
    line = entity.external_id if entity.level == "line" else entity.parent or entity.external_id
    orders = store.query_rows(
        "SELECT external_id, product, quantity, due_at FROM work_order WHERE status IN "
        "('released', 'planned', 'in_progress') AND line = ? ORDER BY due_at",
        [line],
    )
    soon = orders[:10]
    text = (
        f"If {entity.label} goes down for {hours:g} h, {len(orders)} open work "
        f"order(s) on {line} wait for it; the earliest due: "
        + (", ".join(f"{o['external_id']} ({o['due_at']})" for o in soon[:5]) or "none")
        + ". Ask the planning agent for a re-plan with its effect on due dates."
    )
    citations = [entity.ref()]
    citations += [{"type": "work_order", "external_id": o["external_id"]} for o in soon]
    return Answer(
        question,
        text,
        "what_if_down",
        citations,
        {"open_orders": float(len(orders)), "hours": hours},
    )


__all__ = ["asset_status", "risks", "status_of", "what_if_down", "what_if_of"]
