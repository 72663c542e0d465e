"""What a reviewer needs to decide on one action, in one answer (``GET /actions/{id}/review``).

A proposal's ``parameters`` name records by their ids: the machine to maintain, the work orders to
move and their new dates, the material to order. A person approving it needs to see those
records as they are now (a work order's dates before the move, a machine's and a material's
name and unit), the findings that led to it, and whether they themselves may decide. The
dashboard's inbox card is drawn from this answer; what is approved stays the recommendation
itself, whose ``content_hash`` the card sends back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from factorybrain.agents import (
    Action,
    AgentRecords,
    Orchestrator,
    PermissionDeniedError,
    Recommendation,
    RecordNotFoundError,
)
from factorybrain.api._queries import json_ready
from factorybrain.api._tokens import TokenInfo
from factorybrain.store import Store

#: The columns of each record kind the review shows, as they are now.
_COLUMNS: dict[str, tuple[str, ...]] = {
    "work_order": (
        "space",
        "external_id",
        "name",
        "product",
        "line",
        "quantity",
        "status",
        "due_at",
        "planned_start",
        "planned_end",
    ),
    "asset": ("space", "external_id", "name", "level", "parent"),
    "material": ("space", "external_id", "name", "material_type", "unit_of_measure"),
}
#: At most this many records of one kind are looked up for one review.
MAX_RECORDS = 1000


def _steps(recommendation: Recommendation) -> list[tuple[str, Mapping[str, Any]]]:
    """``(action_type, parameters)`` of each step; a single action is its own step."""
    if recommendation.steps:
        return [(step.action_type, step.parameters) for step in recommendation.steps]
    return [(recommendation.action_type, recommendation.parameters)]


def _named(steps: Sequence[tuple[str, Mapping[str, Any]]]) -> dict[str, list[str]]:
    """The ids of the work orders, assets and materials the steps name, first mention first."""
    named: dict[str, dict[str, None]] = {entity: {} for entity in _COLUMNS}
    for action_type, parameters in steps:
        if action_type == "work_order.reschedule":
            for order in parameters.get("orders") or ():
                if isinstance(order, Mapping) and order.get("external_id"):
                    named["work_order"][str(order["external_id"])] = None
        if isinstance(parameters.get("asset"), str):
            named["asset"][parameters["asset"]] = None
        if isinstance(parameters.get("material"), str):
            named["material"][parameters["material"]] = None
    return {entity: list(ids)[:MAX_RECORDS] for entity, ids in named.items()}


def _records_now(store: Store, entity: str, ids: Iterable[str]) -> list[dict[str, Any]]:
    """The rows of ``entity`` with these external ids (in every space), as JSON values."""
    wanted = list(ids)
    if not wanted:
        return []
    columns = ", ".join(f'"{c}"' for c in _COLUMNS[entity])
    marks = ", ".join("?" for _ in wanted)
    rows = store.query_rows(
        f'SELECT {columns} FROM "{entity}" WHERE external_id IN ({marks}) '
        "ORDER BY external_id, space",
        wanted,
    )
    return json_ready(rows, entity)


def _decision(action: Action, holder: TokenInfo, conductor: Orchestrator) -> dict[str, Any]:
    """Whether the caller may approve and reject ``action``, and why not when they may not."""
    if action.state != "proposed":
        why = f"it is {action.state}: only a proposed action waits for a decision"
        return {"may_approve": False, "may_reject": False, "why_not": why}
    if not holder.allows("decide"):
        why = f"your token has the scopes {list(holder.scopes)}, not 'decide'"
        return {"may_approve": False, "may_reject": False, "why_not": why}
    try:
        conductor.policies.check_can_decide(holder.role, action.required_role, action.id)
    except PermissionDeniedError:
        needed = action.required_role or "admin"
        why = f"it needs the role {needed!r} or higher; you have {holder.role!r}"
        return {"may_approve": False, "may_reject": False, "why_not": why}
    if action.proposed_by == holder.actor:
        why = "you proposed it: someone else must approve it (separation of duties)"
        if holder.role == "admin":
            why += "; as an admin you may override with a comment saying why (API or CLI)"
        return {"may_approve": False, "may_reject": True, "why_not": why}
    return {"may_approve": True, "may_reject": True, "why_not": None}


def action_review(
    store: Store,
    records: AgentRecords,
    conductor: Orchestrator,
    holder: TokenInfo,
    action_id: str,
) -> dict[str, Any]:
    """Everything a reviewer sees of one action, as the JSON of :class:`ActionReviewOut`.

    Raises:
        RecordNotFoundError: If there is no such action (or its recommendation is gone).
    """
    action = records.action(action_id)
    recommendation = records.recommendation(action.recommendation_id)
    findings: list[dict[str, Any]] = []
    missing: list[str] = []
    for finding_id in recommendation.finding_ids:
        try:
            findings.append(records.finding(finding_id).dump())
        except RecordNotFoundError:
            missing.append(finding_id)
    named = _named(_steps(recommendation))
    # the machines the findings are about too: a finding may name one without its space
    for finding in findings:
        subject = finding["subject"]
        if subject["type"] == "asset" and subject["external_id"] not in named["asset"]:
            named["asset"].append(subject["external_id"])
    return {
        "action": action.dump(),
        "recommendation": recommendation.dump(),
        "findings": findings,
        "missing_findings": missing,
        "work_orders": _records_now(store, "work_order", named["work_order"]),
        "assets": _records_now(store, "asset", named["asset"]),
        "materials": _records_now(store, "material", named["material"]),
        "you": _decision(action, holder, conductor),
    }
