"""The design and process agent: setpoints that raise yield or efficiency, from the plant's history.

The agent is :class:`DesignAgent` (``_agent``): per product, a surrogate of the outcome learned
from the runs (``_data``), a constrained search for better setpoints, the expected gain with its
interval, and a recipe revision or a few confirmation runs to approve. Its executors
(``recipe.revise``, ``experiment.plan``) and their policies are in ``_executors``; ``_demo`` runs
and scores it on the demo plant. :data:`PLUGIN` is its entry in the agents' registry
(entry-point group ``factorybrain.agents``).
"""

from __future__ import annotations

from factorybrain.agents.core import AgentPlugin
from factorybrain.agents.design._agent import (
    AGENT,
    CONFIRMATION_RUNS,
    DATA_GAP,
    RECIPE_CHANGE,
    DesignAgent,
    DesignReport,
    ProductStudy,
    next_revision,
    objective_direction,
)
from factorybrain.agents.design._data import (
    DataGap,
    ParameterSpec,
    ProductHistory,
    Recipe,
    load_process_history,
)
from factorybrain.agents.design._demo import design_stage, score_design
from factorybrain.agents.design._executors import (
    EXECUTORS,
    PLAN_EXPERIMENT,
    POLICIES,
    REVISE_RECIPE,
    plan_experiment,
    revise_recipe,
)

#: The agent's entry in the registry: how to build it, its demo stage and scorer, and the
#: executors and approval policies of what it proposes.
PLUGIN = AgentPlugin(
    AGENT,
    DesignAgent,
    demo_stage=design_stage,
    demo_scorers=(score_design,),
    executors=EXECUTORS,
    policies=POLICIES,
)

__all__ = [
    "AGENT",
    "CONFIRMATION_RUNS",
    "DATA_GAP",
    "DataGap",
    "DesignAgent",
    "DesignReport",
    "PLAN_EXPERIMENT",
    "PLUGIN",
    "ParameterSpec",
    "ProductHistory",
    "ProductStudy",
    "RECIPE_CHANGE",
    "REVISE_RECIPE",
    "Recipe",
    "load_process_history",
    "next_revision",
    "objective_direction",
    "plan_experiment",
    "revise_recipe",
]
