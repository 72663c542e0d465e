"""The planning agent: plans the open work orders and makes room for the maintenance asked for.

The agent is :class:`PlanningAgent` (``_agent``); ``_demo`` runs and scores it on the demo plant.
:data:`PLUGIN` is its entry in the agents' registry (entry-point group ``factorybrain.agents``).
"""

from __future__ import annotations

from factorybrain.agents.core import AgentPlugin
from factorybrain.agents.planning._agent import (
    AGENT,
    PLAN_SPACE,
    Downtime,
    MaintenanceProposal,
    PlanningAgent,
    PlanResult,
    PlantModel,
    WorkCalendar,
    build_problem,
    due_date_risks,
    latest_safe_date,
    load_plant_model,
    plan_gantt_svg,
    plan_orders,
    plant_oee,
    plant_oee_losses,
    propose_maintenance_window,
    store_plan,
    stored_plan,
    stored_plan_gantt_svg,
)
from factorybrain.agents.planning._demo import planning_stage, score_oee

#: The agent's entry in the registry: how to build it, and its demo stage and scorers.
PLUGIN = AgentPlugin(
    AGENT,
    PlanningAgent,
    demo_stage=planning_stage,
    demo_scorers=(score_oee,),
    after=("maintenance",),
)

__all__ = [
    "AGENT",
    "Downtime",
    "MaintenanceProposal",
    "PLAN_SPACE",
    "PLUGIN",
    "PlanResult",
    "PlanningAgent",
    "PlantModel",
    "WorkCalendar",
    "build_problem",
    "due_date_risks",
    "latest_safe_date",
    "load_plant_model",
    "plan_gantt_svg",
    "plan_orders",
    "plant_oee",
    "plant_oee_losses",
    "propose_maintenance_window",
    "store_plan",
    "stored_plan",
    "stored_plan_gantt_svg",
]
