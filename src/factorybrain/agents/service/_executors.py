"""What the service agent's proposals do once approved: plan an inspection of listed serials.

``serial_unit.inspect`` records one ``service_visit`` per serial of the approved list, marked as a
planned inspection (tags ``inspection`` and ``planned``; the model's ``service_visit`` has no type
or status field), naming the serial, its customer and the reason. Like every executor it never
destroys history: a visit id that exists already is refused, nothing is overwritten, and the
result lists each record created with its before (none) and after.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from factorybrain.agents.core._agent import AgentContext
from factorybrain.agents.core._policies import Policy
from factorybrain.exceptions import ParameterError

INSPECT = "serial_unit.inspect"
#: Who approves a planned inspection: an engineer (it sends technicians to customers).
INSPECT_POLICY = Policy(
    INSPECT,
    "engineer",
    description="Plans a field inspection visit for each listed serial (customers are contacted).",
)


def _visit_rows(parameters: Mapping[str, Any]) -> list[dict[str, Any]]:
    space = parameters.get("space")
    serials = parameters.get("serials")
    if not space:
        raise ParameterError(f"{INSPECT}: parameter 'space' is required; got {sorted(parameters)}")
    if not isinstance(serials, list) or not serials:
        raise ParameterError(
            f"{INSPECT}: parameter 'serials' must be a non-empty list of "
            f"{{serial, visit_id, customer, ...}}; got {serials!r:.80}"
        )
    reason = str(parameters.get("reason") or "field inspection")
    rows = []
    for position, item in enumerate(serials):
        serial = item.get("serial") if isinstance(item, Mapping) else None
        visit = item.get("visit_id") if isinstance(item, Mapping) else None
        if not serial or not visit:
            raise ParameterError(
                f"{INSPECT}: serials[{position}] needs 'serial' and 'visit_id'; got {item!r}"
            )
        customer = item.get("customer_name") or item.get("customer") or "unknown customer"
        rows.append(
            {
                "space": str(space),
                "external_id": str(visit),
                "name": f"Planned inspection of {serial}",
                "description": f"{reason}. Customer: {customer}; shipped "
                f"{item.get('shipped_at') or 'unknown'} in {item.get('shipment') or 'unknown'}.",
                "tags": ["inspection", "planned"],
                "source": "factorybrain.agents.service",
                "serial_unit": str(serial),
                "findings": f"inspection planned: {reason}",
            }
        )
    seen: set[str] = set()
    for row in rows:
        visit = str(row["external_id"])
        if visit in seen:
            raise ParameterError(f"{INSPECT}: visit id {visit!r} is listed twice")
        seen.add(visit)
    return rows


def inspect_serials(context: AgentContext, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Record one planned inspection (``service_visit``) per listed serial; never overwrite.

    Parameters: ``space`` (of the visits), ``serials`` (``[{serial, visit_id, customer,
    customer_name, shipment, shipped_at}]``: exactly what was approved) and ``reason``.

    Raises:
        ParameterError: A visit id exists already (nothing is written), or a parameter is missing.
    """
    rows = _visit_rows(parameters)
    existing = context.store.query(
        "SELECT external_id, serial_unit FROM service_visit WHERE space = ? "
        "AND external_id IN (SELECT unnest(?))",
        [rows[0]["space"], [row["external_id"] for row in rows]],
    )
    if len(existing):
        first = existing.iloc[0]
        raise ParameterError(
            f"{INSPECT}: service_visit {first['external_id']!r} already exists in space "
            f"{rows[0]['space']!r} (serial {first['serial_unit']!r}) and {len(existing) - 1} "
            "more; a create never changes an existing record: propose the inspection again"
        )
    table = pa.table(
        {
            "space": pa.array([r["space"] for r in rows], pa.string()),
            "external_id": pa.array([r["external_id"] for r in rows], pa.string()),
            "name": pa.array([r["name"] for r in rows], pa.string()),
            "description": pa.array([r["description"] for r in rows], pa.string()),
            "tags": pa.array([r["tags"] for r in rows], pa.list_(pa.string())),
            "source": pa.array([r["source"] for r in rows], pa.string()),
            "serial_unit": pa.array([r["serial_unit"] for r in rows], pa.string()),
            "findings": pa.array([r["findings"] for r in rows], pa.string()),
        }
    )
    context.store.upsert_entities("service_visit", table, f"action:{context.action_id or 'direct'}")
    return {
        "service_visit": [
            {
                "space": row["space"],
                "external_id": row["external_id"],
                "created": True,
                "before": None,
                "after": dict(row),
            }
            for row in rows
        ]
    }


#: The executors the service agent brings, by action type.
EXECUTORS = {INSPECT: inspect_serials}

__all__ = ["EXECUTORS", "INSPECT", "INSPECT_POLICY", "inspect_serials"]
