"""The logistics agent: demand forecasts, inventory levels, stock-out risk and health-driven spares.

The agent is :class:`LogisticsAgent` (``_agent``); ``_demo`` runs and scores it on the demo plant.
:data:`PLUGIN` is its entry in the agents' registry (entry-point group ``factorybrain.agents``).
"""

from __future__ import annotations

from factorybrain.agents.core import AgentPlugin
from factorybrain.agents.logistics._agent import (
    AGENT,
    LogisticsAgent,
    LogisticsPlan,
    MachineRisk,
    SpareCheck,
    check_spare_part,
    health_demand,
    risk_from_finding,
)
from factorybrain.agents.logistics._data import load_logistics, material_key
from factorybrain.agents.logistics._demo import logistics_stage, score_logistics

#: The agent's entry in the registry: how to build it, and its demo stage and scorers.
PLUGIN = AgentPlugin(
    AGENT,
    LogisticsAgent,
    demo_stage=logistics_stage,
    demo_scorers=(score_logistics,),
    after=("maintenance", "planning"),
)

__all__ = [
    "AGENT",
    "LogisticsAgent",
    "LogisticsPlan",
    "MachineRisk",
    "PLUGIN",
    "SpareCheck",
    "check_spare_part",
    "health_demand",
    "load_logistics",
    "material_key",
    "risk_from_finding",
]
