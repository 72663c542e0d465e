"""Inventory policies from demand distributions, their simulation, EOQ and health-driven spares."""

from __future__ import annotations

from factorybrain.engines.inventory._engine import InventoryPlanner
from factorybrain.engines.inventory._levels import (
    FillRateCurve,
    allocate_system_fill_rate,
    economic_order_quantity,
    expected_on_hand,
    fill_rate_curve,
    fill_rate_of_level,
    normal_order_up_to_level,
    order_up_to_level,
    reorder_point,
    silent_item_paths,
)
from factorybrain.engines.inventory._simulate import SimulationResult, simulate_policy
from factorybrain.engines.inventory._spares import (
    RulEstimate,
    SparePartDemand,
    failure_probability,
    sample_spare_part_demand,
    spare_part_demand,
)

__all__ = [
    "FillRateCurve",
    "InventoryPlanner",
    "RulEstimate",
    "SimulationResult",
    "SparePartDemand",
    "allocate_system_fill_rate",
    "economic_order_quantity",
    "expected_on_hand",
    "failure_probability",
    "fill_rate_curve",
    "fill_rate_of_level",
    "normal_order_up_to_level",
    "order_up_to_level",
    "reorder_point",
    "sample_spare_part_demand",
    "silent_item_paths",
    "simulate_policy",
    "spare_part_demand",
]
