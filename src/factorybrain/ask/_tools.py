"""The tools of ``ask``: typed functions over the store that the router and a language model share.

Each tool's JSON schema for a language model comes from its parameters and its docstring.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from factorybrain.ask._answer import Answer
from factorybrain.ask._field import b_life, claim_suppliers, cohort_causes, setpoints
from factorybrain.ask._machines import asset_status, risks, what_if_down
from factorybrain.ask._production import (
    GROUPS,
    late_orders,
    oee_losses,
    oee_report,
    parts_to_order,
)
from factorybrain.ask._records import explain_finding, trace

TOOLS: dict[str, Callable[..., Answer]] = {
    "asset_status": asset_status,
    "risks": risks,
    "trace": trace,
    "explain_finding": explain_finding,
    "what_if_down": what_if_down,
    "cohort_causes": cohort_causes,
    "b_life": b_life,
    "setpoints": setpoints,
    "oee": oee_report,
    "oee_losses": oee_losses,
    "parts_to_order": parts_to_order,
    "claim_suppliers": claim_suppliers,
    "late_orders": late_orders,
}

_TEXT = {"type": "string"}
_NUMBER = {"type": "number"}
_PARAMETERS: dict[str, tuple[dict[str, Any], list[str]]] = {
    "asset_status": ({"asset": _TEXT}, ["asset"]),
    "risks": ({"horizon_days": _NUMBER}, []),
    "trace": ({"identifier": _TEXT}, ["identifier"]),
    "explain_finding": ({"finding_id": _TEXT}, ["finding_id"]),
    "what_if_down": ({"asset": _TEXT, "hours": _NUMBER}, ["asset"]),
    "cohort_causes": ({"failure_mode": _TEXT}, []),
    "b_life": ({"product": _TEXT}, ["product"]),
    "setpoints": ({"target": _TEXT, "objective": _TEXT}, []),
    "oee": ({"asset": _TEXT, "period": _TEXT, "by": {"type": "string", "enum": list(GROUPS)}}, []),
    "oee_losses": ({"asset": _TEXT, "period": _TEXT}, []),
    "parts_to_order": ({"spare_parts_only": {"type": "boolean"}, "machine": _TEXT}, []),
    "claim_suppliers": ({"about": {"type": "string", "enum": ["claims", "defects"]}}, []),
    "late_orders": ({"line": _TEXT}, []),
}
TOOL_SCHEMAS: list[dict[str, Any]] = [
    {
        "name": name,
        "description": TOOLS[name].__doc__,
        "parameters": {
            "type": "object",
            "properties": properties,
            **({"required": required} if required else {}),
        },
    }
    for name, (properties, required) in _PARAMETERS.items()
]


def schema(name: str) -> dict[str, Any]:
    """The JSON schema of one tool."""
    return next(s for s in TOOL_SCHEMAS if s["name"] == name)


__all__ = ["TOOLS", "TOOL_SCHEMAS", "schema"]
