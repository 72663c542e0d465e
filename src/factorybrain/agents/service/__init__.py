"""The after-sales (service) agent: claim clusters traced to their cause, reliability, recall scope.

The agent is :class:`ServiceAgent` (``_agent``); its data come from ``_data``, its cohort screen
from ``_cohorts``, failure modes from ``_modes``; ``_executors`` plans the inspections it proposes;
``_demo`` runs and scores it on the demo plant. :data:`PLUGIN` is its entry in the agents' registry
(entry-point group ``factorybrain.agents``).
"""

from __future__ import annotations

from factorybrain.agents.core import AgentPlugin
from factorybrain.agents.service._agent import (
    AGENT,
    DATA_GAP,
    DESIGN_EFFECT,
    FAILURE_CLUSTER,
    FIELD_RELIABILITY,
    Cluster,
    ServiceAgent,
    ServiceDataWarning,
    ServiceReview,
)
from factorybrain.agents.service._cohorts import fleet_at
from factorybrain.agents.service._data import FieldData, load_field
from factorybrain.agents.service._demo import score_service, service_stage
from factorybrain.agents.service._executors import INSPECT, INSPECT_POLICY, inspect_serials
from factorybrain.agents.service._modes import ModeReading, read_failure_modes

#: The agent's entry in the registry: how to build it, its demo stage and scorers, and the
#: executor and policy of the inspections it proposes.
PLUGIN = AgentPlugin(
    AGENT,
    ServiceAgent,
    demo_stage=service_stage,
    demo_scorers=(score_service,),
    after=("maintenance",),
    executors={INSPECT: inspect_serials},
    policies=(INSPECT_POLICY,),
)

__all__ = [
    "AGENT",
    "Cluster",
    "DATA_GAP",
    "DESIGN_EFFECT",
    "FAILURE_CLUSTER",
    "FIELD_RELIABILITY",
    "FieldData",
    "INSPECT",
    "INSPECT_POLICY",
    "ModeReading",
    "PLUGIN",
    "ServiceAgent",
    "ServiceDataWarning",
    "ServiceReview",
    "inspect_serials",
    "fleet_at",
    "load_field",
    "read_failure_modes",
    "score_service",
    "service_stage",
]
