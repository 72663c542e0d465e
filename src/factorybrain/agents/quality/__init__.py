"""The quality agent: SPC on every characteristic, root cause of defects, field containment.

The agent is :class:`QualityAgent` (``_agent``); it reads through ``_data``, learns root causes
in ``_causes`` (LightGBM and TreeSHAP, :mod:`factorybrain.engines.quality`), charts with
:mod:`factorybrain.engines.spc`; ``_executors`` carries out the quarantines and requests it
proposes; ``_demo`` runs and scores it on the demo plant. :data:`PLUGIN` is its entry in the
agents' registry (entry-point group ``factorybrain.agents``).
"""

from __future__ import annotations

from factorybrain.agents.core import AgentPlugin
from factorybrain.agents.quality._agent import (
    AGENT,
    DATA_GAP,
    DRIFT,
    ROOT_CAUSE,
    Chart,
    QualityAgent,
    QualityDataWarning,
    QualityReview,
)
from factorybrain.agents.quality._causes import Cause, find_causes
from factorybrain.agents.quality._data import (
    Characteristics,
    Genealogy,
    load_characteristics,
    load_genealogy,
)
from factorybrain.agents.quality._demo import quality_stage, score_quality
from factorybrain.agents.quality._executors import (
    EXECUTORS,
    POLICIES,
    QUARANTINE,
    RECIPE_CHANGE,
    SUPPLIER_ACTION,
    quarantine_lots,
)

#: The agent's entry in the registry: how to build it, its demo stage and scorers, and the
#: executors and policies of what it proposes. It follows the service agent, whose clusters it
#: traces.
PLUGIN = AgentPlugin(
    AGENT,
    QualityAgent,
    demo_stage=quality_stage,
    demo_scorers=(score_quality,),
    after=("service",),
    executors=dict(EXECUTORS),
    policies=POLICIES,
)

__all__ = [
    "AGENT",
    "Cause",
    "Characteristics",
    "Chart",
    "DATA_GAP",
    "DRIFT",
    "EXECUTORS",
    "Genealogy",
    "PLUGIN",
    "POLICIES",
    "QUARANTINE",
    "QualityAgent",
    "QualityDataWarning",
    "QualityReview",
    "RECIPE_CHANGE",
    "ROOT_CAUSE",
    "SUPPLIER_ACTION",
    "find_causes",
    "load_characteristics",
    "load_genealogy",
    "quality_stage",
    "quarantine_lots",
    "score_quality",
]
