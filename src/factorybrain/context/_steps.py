"""Shared steps as evidence: two silos that record one step of one order name one machine.

Names cannot tell that the MES station ``L2-ST10`` is the ERP work centre ``MILL-02``: nothing
in either code says so. The records can. The ERP confirms operation 10 of order ``4711`` on
``MILL-02``; the MES reports operation 10 of the same order (``4711`` there, ``000000004711`` in
the ERP, linked by the matcher) on ``L2-ST10``. When a station's steps keep landing on one
machine of the hub, that is the station's machine. What counts as a step is read from the model:
every entity type with a reference to a work order, a position in it (``sequence``) and a
reference to an asset. A machine that records single units instead (a test bench or a lab
instrument writing one result per serial, at a moment) votes with each unit for the hub machine
of its order's latest step begun by then: the step that ran where the unit was measured.

:func:`step_agreement` counts the votes; :func:`corroborate_steps` adds them to the name-based
proposals as :func:`factorybrain.context._behaviour.corroborate` adds behaviour in time.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np
import pandas as pd

from factorybrain.context._normalize import compact
from factorybrain.model import ENTITY_TYPES
from factorybrain.store import Store

#: Steps in common a station needs with one hub machine before they count as evidence.
MIN_STEPS = 3
#: Share of a station's steps in common that must land on that one machine.
AGREEMENT = 0.9


@dataclass(frozen=True)
class StepMatch:
    """The hub machine on which a source machine's steps were also recorded."""

    space: str
    identifier: str
    target_space: str
    target_external_id: str
    steps: int
    agreement: float


@dataclass(frozen=True)
class _Hub:
    """What the hub is: its machines, and its orders through the approved order links."""

    order_links: dict[tuple[str, str], str]
    order_hub: str
    space: str
    assets: set[str]

    def order(self, space: str, order: object) -> str | None:
        """The hub's order for a silo's order (itself in the order hub), or None if unlinked."""
        if space == self.order_hub:
            return str(order)
        return self.order_links.get((space, str(order)))


def _step_types() -> list[tuple[str, str, str]]:
    """Entity types that record a step: (type, work order field, asset field)."""
    found = []
    for entity in ENTITY_TYPES:
        orders = [r.name for r in entity.relations if r.ref == "work_order"]
        machines = [r.name for r in entity.relations if r.ref == "asset"]
        if orders and machines and "sequence" in entity.field_names:
            found.append((entity.name, orders[0], machines[0]))
    return found


def step_agreement(
    store: Store,
    order_links: dict[tuple[str, str], str],
    order_hub: str,
    hub: str,
    hub_assets: set[str],
    sources: set[tuple[str, str]],
) -> list[StepMatch]:
    """For each source machine, the hub machine its steps were also recorded on, if clear.

    Args:
        store: The loaded store.
        order_links: Approved links of work orders, ``(space, order) -> hub order``.
        order_hub: The space the work orders are matched to.
        hub: The space the assets are matched to.
        hub_assets: The hub's asset identifiers.
        sources: ``(space, identifier)`` of the asset records being matched.

    Returns:
        One :class:`StepMatch` per source machine with at least :data:`MIN_STEPS` steps in
        common with hub records and :data:`AGREEMENT` of them on one hub machine.
    """
    steps = _read_all(
        store,
        [
            (name, {"work_order": order, "sequence": "sequence", "machine": machine})
            for name, order, machine in _step_types()
        ],
    )
    if steps.empty:
        return []
    # One order key for every silo: the hub's order, through the approved links.
    the_hub = _Hub(order_links, order_hub, hub, hub_assets)
    steps["order"] = [
        the_hub.order(space, order)
        for space, order in zip(steps.space, steps.work_order.astype(str), strict=True)
    ]
    steps = steps[steps.order.notna()]
    steps = steps.assign(step=[compact(str(s)) for s in steps.sequence])
    on_hub = steps[(steps.space == hub) & steps.machine.isin(hub_assets)]
    if on_hub.empty:
        return []
    hub_machine: dict[tuple[str, str], set[str]] = defaultdict(set)
    for order, step, machine in zip(on_hub.order, on_hub.step, on_hub.machine, strict=True):
        hub_machine[order, step].add(machine)
    votes: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for space, machine, order, step in zip(
        steps.space, steps.machine, steps.order, steps.step, strict=True
    ):
        if (space, machine) not in sources:
            continue
        candidates = hub_machine.get((order, step))
        if candidates and len(candidates) == 1:
            votes[space, machine][next(iter(candidates))] += 1
    for key, counter in _unit_votes(store, the_hub, sources):
        votes[key].update(counter)
    found = []
    for (space, machine), counter in sorted(votes.items()):
        target, count = counter.most_common(1)[0]
        total = sum(counter.values())
        if count >= MIN_STEPS and count / total >= AGREEMENT:
            found.append(StepMatch(space, machine, hub, target, count, round(count / total, 4)))
    return found


def _read_all(store: Store, types: list[tuple[str, dict[str, str]]]) -> pd.DataFrame:
    """The rows of several entity types as one frame: ``space`` and each ``alias: field``.

    Only rows where every field named is set.
    """
    frames = []
    for type_name, fields in types:
        columns = ", ".join(f'"{field}" AS "{alias}"' for alias, field in fields.items())
        present = " AND ".join(f'"{field}" IS NOT NULL' for field in fields.values())
        frames.append(store.query(f'SELECT space, {columns} FROM "{type_name}" WHERE {present}'))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _unit_types() -> list[tuple[str, str, str, str]]:
    """Entity types that record one unit on a machine at a moment: (type, unit, asset, time)."""
    found = []
    for entity in ENTITY_TYPES:
        units = [r.name for r in entity.relations if r.ref == "serial_unit"]
        machines = [r.name for r in entity.relations if r.ref == "asset"]
        moments = [f.name for f in entity.fields if f.type == "timestamp"]
        if units and machines and moments:
            found.append((entity.name, units[0], machines[0], moments[0]))
    return found


def _unit_votes(
    store: Store, hub: _Hub, sources: set[tuple[str, str]]
) -> list[tuple[tuple[str, str], Counter[str]]]:
    """Votes of machines that record single units: the hub machine that processed each last.

    A test bench or a lab instrument writes a result per serial, not per step of an order; the
    unit's order ran its steps on the hub's machines, and the step that ran last before the
    measurement ran where the unit was measured (a run-in test bench measures what it just ran
    in). So each measured unit votes for the hub machine of its order's latest step started by
    then.
    """
    measured = _read_all(
        store,
        [
            (name, {"unit": unit, "machine": machine, "moment": moment})
            for name, unit, machine, moment in _unit_types()
        ],
    )
    if measured.empty:
        return []
    keep = [key in sources for key in zip(measured.space, measured.machine, strict=True)]
    measured = measured[keep]
    if measured.empty:
        return []
    orders = store.query(
        "SELECT space, external_id AS unit, work_order FROM serial_unit "
        "WHERE work_order IS NOT NULL UNION ALL "
        "SELECT target_space, target_external_id, source_external_id FROM edge "
        "WHERE edge_type = 'produced'"
    )
    order_of: dict[str, set[str]] = defaultdict(set)
    for space, unit, order in zip(orders.space, orders.unit, orders.work_order, strict=True):
        hub_order = hub.order(space, order)
        if hub_order is not None:
            order_of[str(unit)].add(hub_order)
    ran = store.query(
        "SELECT work_order, equipment AS machine, start_time FROM operation "
        "WHERE space = ? AND work_order IS NOT NULL AND equipment IS NOT NULL "
        "AND start_time IS NOT NULL ORDER BY start_time",
        [hub.space],
    )
    ran = ran[ran.machine.isin(hub.assets)]
    # the hub's operations name their orders as the hub's silo does
    ran = ran.assign(work_order=[hub.order(hub.space, o) for o in ran.work_order]).dropna(
        subset=["work_order"]
    )
    steps_of: dict[str, tuple[np.ndarray, list[str]]] = {
        str(order): (group.start_time.to_numpy(dtype="datetime64[us]"), list(group.machine))
        for order, group in ran.groupby("work_order", sort=False)
    }
    votes: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for space, unit, machine, at in zip(
        measured.space, measured.unit, measured.machine, measured.moment, strict=True
    ):
        hub_orders = order_of.get(str(unit), set())
        if len(hub_orders) != 1 or (steps := steps_of.get(next(iter(hub_orders)))) is None:
            continue
        starts, machines = steps
        last = int(np.searchsorted(starts, np.datetime64(pd.Timestamp(at), "us"), "right")) - 1
        if last >= 0:
            votes[space, machine][machines[last]] += 1
    return sorted(votes.items())


def corroborate_steps(
    proposals: pd.DataFrame, evidence: list[StepMatch], kinds: dict[tuple[str, str], str]
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Confirm, flag or add links of source machines with the steps they share with the hub.

    A link names agree with is confirmed; an automatic approval the steps contradict becomes a
    suggestion for review (a person decides); a machine names found nothing for, or only
    suggestions, is linked to the machine its steps ran on.

    Args:
        proposals: The name-based proposals.
        evidence: What :func:`step_agreement` found.
        kinds: The ``source_kind`` of each source ``(space, identifier)`` (the field that
            names it).

    Returns:
        The proposals with a ``steps`` column (the share of steps on the proposed target, when
        known) and counts: ``confirmed``, ``flagged``, ``added``.
    """
    counts = {"confirmed": 0, "flagged": 0, "added": 0}
    if not evidence:
        return proposals, counts
    out = proposals.copy()
    if "steps" not in out:
        out["steps"] = np.nan
    added = []
    for match in evidence:
        rows = out[(out.source_space == match.space) & (out.source_identifier == match.identifier)]
        same = (rows.target_space == match.target_space) & (
            rows.target_external_id == match.target_external_id
        )
        approved = rows[rows.status == "approved"]
        if same.any():
            out.loc[rows[same].index, "steps"] = match.agreement
        if not approved.empty and same[approved.index].all():
            counts["confirmed"] += 1
        elif not approved.empty:
            out.loc[approved.index, "status"] = "suggested"
            out.loc[rows.index, "ambiguous"] = True
            counts["flagged"] += 1
        elif same.any():
            out.loc[rows[same].index, "status"] = "approved"
            counts["confirmed"] += 1
        else:
            added.append(
                {
                    "class": "asset",
                    "source_space": match.space,
                    "source_identifier": match.identifier,
                    "source_kind": kinds.get((match.space, match.identifier), "reference"),
                    "target_type": "asset",
                    "target_space": match.target_space,
                    "target_external_id": match.target_external_id,
                    "confidence": match.agreement,
                    "status": "approved",
                    "ambiguous": False,
                    "members": None,
                    "steps": match.agreement,
                }
            )
            counts["added"] += 1
    if added:
        out = pd.concat([out, pd.DataFrame(added)], ignore_index=True)
    return out, counts
