"""The maintenance agent: which machines behave abnormally, how long they have left, what to do.

The agent is :class:`MaintenanceAgent` (``_agent``); ``_demo`` runs and scores it on the demo plant.
:data:`PLUGIN` is its entry in the agents' registry (entry-point group ``factorybrain.agents``).
"""

from __future__ import annotations

from factorybrain.agents.core import AgentPlugin
from factorybrain.agents.maintenance._agent import (
    AGENT,
    Episode,
    MaintenanceAgent,
    RemainingLife,
    ScanReport,
)
from factorybrain.agents.maintenance._demo import maintenance_stage, score_maintenance

#: The agent's entry in the registry: how to build it, and its demo stage and scorers.
PLUGIN = AgentPlugin(
    AGENT, MaintenanceAgent, demo_stage=maintenance_stage, demo_scorers=(score_maintenance,)
)

__all__ = [
    "AGENT",
    "Episode",
    "MaintenanceAgent",
    "PLUGIN",
    "RemainingLife",
    "ScanReport",
]
