"""What the quality agent's proposals do once approved.

- ``material_lot.quarantine`` sets the listed lots' status to ``quarantined`` (the remaining stock
  is blocked from use), recording each lot's status before and after; a lot that is no longer
  what the proposal expected (``expect``: its status then) is refused.
- ``supplier.corrective_action`` and ``recipe.change_request`` record a request to the supplier
  or to process engineering in the action's result and the audit (the model keeps no such
  record of its own); they change nothing in the plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from factorybrain.agents.core._agent import AgentContext
from factorybrain.agents.core._policies import Policy
from factorybrain.exceptions import ParameterError

QUARANTINE = "material_lot.quarantine"
SUPPLIER_ACTION = "supplier.corrective_action"
RECIPE_CHANGE = "recipe.change_request"

POLICIES = (
    Policy(QUARANTINE, "engineer", description="Blocks a lot's remaining stock from use."),
    Policy(
        SUPPLIER_ACTION,
        "engineer",
        description="Asks a supplier for a corrective action (8D) on a lot.",
    ),
    Policy(RECIPE_CHANGE, "engineer", description="Asks process engineering to change a recipe."),
)


def quarantine_lots(context: AgentContext, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Quarantine lots: ``{"lots": [{space, external_id, expect?: {status}}], "reason"}``.

    Raises:
        ParameterError: No lots listed, a lot the store does not hold, or a lot no longer in
            the status the proposal expected (nothing is written then).
    """
    lots = parameters.get("lots")
    if not isinstance(lots, list) or not lots:
        raise ParameterError(
            f"{QUARANTINE}: parameter 'lots' must be a non-empty list of {{space, external_id}}; "
            f"got {lots!r:.80}"
        )
    rows, changes = [], []
    for position, lot in enumerate(lots):
        space, identifier = lot.get("space"), lot.get("external_id")
        if not space or not identifier:
            raise ParameterError(
                f"{QUARANTINE}: lots[{position}] needs 'space' and 'external_id'; got {lot!r}"
            )
        found = context.store.query(
            "SELECT status FROM material_lot WHERE space = ? AND external_id = ?",
            [space, identifier],
        )
        if found.empty:
            raise ParameterError(f"{QUARANTINE}: no material_lot {identifier!r} in space {space!r}")
        before = found["status"].iloc[0]
        before = None if before is None or before != before else str(before)
        expected = (lot.get("expect") or {}).get("status", before)
        if expected != before:
            raise ParameterError(
                f"{QUARANTINE}: lot {identifier!r} changed since this was proposed: its status "
                f"is {before!r}, the proposal expected {expected!r}; propose again"
            )
        rows.append({"space": space, "external_id": identifier, "status": "quarantined"})
        changes.append(
            {
                "space": space,
                "external_id": identifier,
                "before": {"status": before},
                "after": {"status": "quarantined"},
            }
        )
    import pyarrow as pa

    table = pa.table(
        {
            "space": pa.array([r["space"] for r in rows], pa.string()),
            "external_id": pa.array([r["external_id"] for r in rows], pa.string()),
            "status": pa.array([r["status"] for r in rows], pa.string()),
        }
    )
    context.store.upsert_entities("material_lot", table, f"action:{context.action_id or 'direct'}")
    return {"material_lot": changes, "reason": parameters.get("reason")}


def _request(kind: str, parameters: Mapping[str, Any], required: tuple[str, ...]) -> dict[str, Any]:
    missing = [name for name in required if not parameters.get(name)]
    if missing:
        raise ParameterError(
            f"{kind}: parameter(s) {missing} are required; got parameters {sorted(parameters)}"
        )
    return {"requested": kind, **{k: parameters[k] for k in sorted(parameters)}}


def request_supplier_action(context: AgentContext, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Record a corrective-action request to a supplier: ``supplier``, ``lots``, ``reason``."""
    return _request(SUPPLIER_ACTION, parameters, ("supplier", "reason"))


def request_recipe_change(context: AgentContext, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Record a recipe change request: ``parameter``, ``reason`` (and the range to avoid)."""
    return _request(RECIPE_CHANGE, parameters, ("parameter", "reason"))


EXECUTORS = {
    QUARANTINE: quarantine_lots,
    SUPPLIER_ACTION: request_supplier_action,
    RECIPE_CHANGE: request_recipe_change,
}

__all__ = [
    "EXECUTORS",
    "POLICIES",
    "QUARANTINE",
    "RECIPE_CHANGE",
    "SUPPLIER_ACTION",
    "quarantine_lots",
    "request_recipe_change",
    "request_supplier_action",
]
