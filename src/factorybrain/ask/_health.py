"""What the data says about machines now: their state, their live warnings, their repairs.

A machine's health is read across every silo's name for it (the approved identity links): the
MES records its states, the ERP its maintenance orders, the maintenance agent's findings name it
as the agent knows it. A remaining-life warning (``maintenance.rul_low``) is *live* until the
machine stops after it, for a maintenance order or a stop of an hour or more (a breakdown, a
repair; minor stops last minutes); a machine down since after its warning is down now, and the
warning came true.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from factorybrain.ask._answer import as_of, evidence_of, rows
from factorybrain.ask._names import Entity, NameIndex
from factorybrain.store import Store

#: Finding kind of the maintenance agent's remaining-life warning.
RUL_LOW = "maintenance.rul_low"
# A state that ends this close to the end of the data still holds.
_STILL = timedelta(minutes=1)
# A machine down this long was repaired or maintained (minor stops last minutes).
_LONG_STOP_MINUTES = 60


@dataclass
class Warning:
    """A machine's latest remaining-life warning."""

    finding: str
    at: datetime
    rul_hours: float | None
    lower_hours: float | None
    upper_hours: float | None
    title: str

    def hours_left(self, now: datetime, bound: str = "rul") -> float | None:
        """Hours from ``now`` to the expected failure (``rul``) or its ``lower`` bound."""
        hours = self.lower_hours if bound == "lower" else self.rul_hours
        if hours is None:
            hours = self.rul_hours
        if hours is None:
            return None
        return hours - (now - self.at).total_seconds() / 3600


@dataclass
class Health:
    """One machine now.

    Attributes:
        entity: The machine (its hub record).
        state: Its latest state event (``state``, ``reason``, ``description``, ``start_time``,
            ``end_time``), None when none is recorded.
        down_since: When it went down, if it is down at the end of the data.
        in_maintenance: Whether a maintenance order is running on it now.
        warning: Its latest remaining-life warning, if any.
        live: Whether that warning still stands (no maintenance ended after it).
        came_true: Whether it broke down after that warning and is down now.
        orders: Its maintenance orders in every silo, latest first.
        stops: Its stops of an hour or more (``start_time``, ``end_time``), latest first.
        findings: Open findings of any agent on it, newest first.
    """

    entity: Entity
    state: dict[str, Any] | None = None
    down_since: datetime | None = None
    in_maintenance: bool = False
    warning: Warning | None = None
    live: bool = False
    came_true: bool = False
    orders: list[dict[str, Any]] = field(default_factory=list)
    stops: list[dict[str, Any]] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)

    def down_text(self) -> str:
        """``down since 2025-07-02 16:16 (Waiting for spare part)``."""
        state = self.state or {}
        why = state.get("description") or state.get("reason")
        what = "in maintenance" if self.in_maintenance else "down"
        return f"{what} since {self.down_since:%Y-%m-%d %H:%M}" + (f" ({why})" if why else "")


def health(store: Store, index: NameIndex, machines: list[Entity], now: datetime) -> list[Health]:
    """The health of each machine at ``now`` (the end of the data), in the order given."""
    owner: dict[str, Entity] = {}
    for machine in machines:
        for _, identifier in index.ids_of(machine):
            owner.setdefault(identifier, machine)
    identifiers = sorted(owner)
    found = {m: Health(m) for m in machines}
    if not identifiers:
        return list(found.values())
    states = rows(
        store.query(
            "SELECT asset, state, reason, description, start_time, end_time FROM event "
            "WHERE event_type = 'state' AND list_contains(?, asset) "
            "QUALIFY row_number() OVER (PARTITION BY space, asset "
            "ORDER BY start_time DESC, end_time DESC) = 1",
            [identifiers],
        )
    )
    for state in states:
        current = found[owner[state["asset"]]]
        if current.state is None or state["start_time"] > current.state["start_time"]:
            current.state = state
    for row in rows(
        store.query(
            "SELECT space, external_id, asset, order_type, status, planned_start, planned_end, "
            "actual_start, actual_end, notes FROM maintenance_order WHERE list_contains(?, asset) "
            "ORDER BY coalesce(actual_start, planned_start) DESC NULLS LAST",
            [identifiers],
        )
    ):
        found[owner[row["asset"]]].orders.append(row)
    for row in rows(
        store.query(
            "SELECT asset, start_time, end_time, description FROM event "
            "WHERE event_type = 'state' AND state = 'down' AND list_contains(?, asset) "
            "AND date_diff('minute', start_time, end_time) >= ? ORDER BY start_time DESC",
            [identifiers, _LONG_STOP_MINUTES],
        )
    ):
        found[owner[row["asset"]]].stops.append(row)
    for row in rows(
        store.query(
            "SELECT external_id, agent, kind, subject, severity, confidence, evidence, name, "
            "created_at FROM finding WHERE space = 'agents' AND status IN ('open', 'acknowledged') "
            "AND list_contains(?, subject) ORDER BY created_at DESC",
            [identifiers],
        )
    ):
        row["as_of"] = as_of(row)
        found[owner[row["subject"]]].findings.append(row)
    for current in found.values():
        current.findings.sort(key=lambda f: f["as_of"] or datetime.min, reverse=True)
        _judge(current, now)
    return list(found.values())


def _judge(current: Health, now: datetime) -> None:
    """Down now or not, the latest warning and whether it still stands."""
    state = current.state
    if (
        state is not None
        and state["state"] == "down"
        and (state["end_time"] is None or state["end_time"] >= now - _STILL)
    ):
        current.down_since = state["start_time"]
        current.in_maintenance = any(
            (o["actual_start"] or o["planned_start"] or now) <= now
            and o["order_type"] not in ("corrective", "breakdown")
            and (o["actual_end"] or o["planned_end"] or now) >= now - _STILL
            for o in current.orders
        )
    warnings = [f for f in current.findings if f["kind"] == RUL_LOW and f["as_of"] is not None]
    if not warnings:
        return
    latest = warnings[0]
    numbers = evidence_of(latest).get("numbers") or {}

    def hours(key: str) -> float | None:
        value = numbers.get(key)
        return float(value) if isinstance(value, int | float) else None

    current.warning = Warning(
        latest["external_id"],
        latest["as_of"],
        hours("rul_hours"),
        hours("rul_lower_hours"),
        hours("rul_upper_hours"),
        latest.get("name") or "",
    )
    ends = [
        o["actual_end"] or (o["planned_end"] if o["status"] == "completed" else None)
        for o in current.orders
    ]
    ends += [s["end_time"] for s in current.stops if s["start_time"] >= current.warning.at]
    current.live = not any(
        end is not None and current.warning.at < end < now - _STILL for end in ends
    )
    current.came_true = current.down_since is not None and current.down_since >= current.warning.at
    if current.came_true:
        current.live = False


def machines_of(index: NameIndex, entity: Entity) -> list[Entity]:
    """The machines an asset stands for: itself, or a line's (or area's) equipment."""
    children = index.children(entity)
    if not children:
        return [entity]
    out: list[Entity] = []
    for child in children:
        out += machines_of(index, child)
    return out


__all__ = ["RUL_LOW", "Health", "Warning", "health", "machines_of"]
