"""The planning agent on the demo plant: OEE against ``truth.json``, and a demo stage.

The ``planning`` stage plans the open orders and stores the plan; the ``planning.oee`` scorer
checks every machine's OEE. Both reach the demo through the agent's registry entry.
"""

from __future__ import annotations

from typing import Any

from factorybrain.agents.planning._core import plan_orders, store_plan
from factorybrain.agents.planning._oee import plant_oee
from factorybrain.scoring import Score
from factorybrain.store import Store

RATIOS = ("availability", "performance", "quality", "oee")
#: A machine's OEE counts as right when all four ratios are within this many percentage points.
TOLERANCE_PCT = 1.0


def oee_against_truth(store: Store, truth: dict[str, Any]) -> dict[str, Any]:
    """Per-machine OEE from the store compared with the truth's ``oee``.

    Returns:
        ``max_abs_error_pct`` (largest absolute error, in percentage points, over the four ratios
        of every machine), ``mean_abs_error_pct``, ``machines``, ``machines_within_1pct``,
        ``missing`` (truth machines the store has no OEE for) and ``per_machine`` errors.
    """
    mes_code = {
        entity["id"]: (entity.get("refs", {}).get("mes") or [entity["id"]])[0]
        for entity in truth.get("entities", [])
        if entity.get("type") == "equipment"
    }
    table = plant_oee(store, by="machine").set_index("machine")
    errors: list[float] = []
    per_machine: dict[str, float] = {}
    missing: list[str] = []
    within = 0
    for canonical, expected in truth.get("oee", {}).items():
        code = mes_code.get(canonical, canonical)
        if code not in table.index:
            missing.append(code)
            continue
        row = table.loc[code]
        machine_errors = [abs(float(row[k]) - float(expected[k])) * 100 for k in RATIOS]
        errors.extend(machine_errors)
        per_machine[code] = round(max(machine_errors), 6)
        within += max(machine_errors) <= TOLERANCE_PCT
    return {
        "max_abs_error_pct": round(max(errors), 6) if errors else None,
        "mean_abs_error_pct": round(sum(errors) / len(errors), 6) if errors else None,
        "machines": len(per_machine),
        "machines_within_1pct": within,
        "missing": missing,
        "per_machine": per_machine,
    }


def planning_stage(store: Store, truth: dict[str, Any]) -> dict[str, Any]:
    """Plan the demo plant's open orders and store the plan."""
    result = plan_orders(store, time_limit=10.0)
    store_plan(store, result)
    return result.summary()


def score_oee(store: Store, truth: dict[str, Any]) -> list[Score]:
    """Machines whose availability, performance, quality and OEE all match the truth."""
    figures = oee_against_truth(store, truth)
    expected = len(truth.get("oee", {}))
    return [
        Score(
            "planning.oee",
            expected,
            figures["machines"],
            figures["machines_within_1pct"],
            f"max abs error {figures['max_abs_error_pct']} percentage points over the four "
            f"ratios of every machine (right: within {TOLERANCE_PCT} point)",
        )
    ]
