"""Playbooks: how one agent's finding sets off the next stage. All routing lives in this file.

A playbook starts on a finding kind (its ``trigger``) and lists, per finding kind met along the
chain, the agent that reacts. When ``bundle`` is set, every recommendation made along one chain
becomes ONE composite action for ``approver`` to approve: the people see one decision, not
three.

Along a chain, a later stage refines an earlier one: of two steps with the same action type on
the same ``asset``, the bundle keeps the one made last (the superseded ids are listed in the
composite's parameters).

Findings of a kind that no playbook triggers on go to every agent whose ``subscriptions`` name
that kind, and each recommendation becomes its own action.

The flagship playbook::

    maintenance.rul_low(press 3)             maintenance agent, from new sensor data
      -> planning                            reserves a maintenance window, reschedules orders
         => planning.maintenance_window
      -> logistics                           checks and reorders the spare parts of the BOM
         => logistics.spares_reorder
    => one composite action for the planner: maintenance order + reschedule + purchase order
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass

from factorybrain.agents.core._policies import role_rank
from factorybrain.exceptions import ParameterError


@dataclass(frozen=True)
class Route:
    """Send findings of kind ``on`` (a glob like ``quality.*`` is allowed) to ``agent``."""

    on: str
    agent: str

    def matches(self, kind: str) -> bool:
        """Whether a finding of ``kind`` takes this route."""
        return fnmatch.fnmatchcase(kind, self.on)


@dataclass(frozen=True)
class Playbook:
    """A chain of reactions started by one finding kind.

    Args:
        name: Short name, shown in the audit log.
        trigger: Finding kind that starts the playbook.
        routes: Which agent reacts to which finding kind along the chain.
        bundle: Whether the chain's recommendations become one composite action.
        approver: Role that approves the bundled action (at least; policies may ask more).
        description: What the playbook does, in a sentence.
    """

    name: str
    trigger: str
    routes: tuple[Route, ...]
    bundle: bool = True
    approver: str = "planner"
    description: str = ""

    def __post_init__(self) -> None:
        role_rank(self.approver)

    def agents_for(self, kind: str) -> list[str]:
        """Agents that react to a finding of ``kind`` inside this playbook, in route order."""
        return [route.agent for route in self.routes if route.matches(kind)]


#: The playbooks in force: the one readable place where routing is declared.
PLAYBOOKS: tuple[Playbook, ...] = (
    Playbook(
        name="maintenance_window",
        trigger="maintenance.rul_low",
        routes=(
            Route("maintenance.rul_low", "planning"),
            Route("planning.maintenance_window", "logistics"),
        ),
        bundle=True,
        approver="planner",
        description=(
            "A machine is wearing out: plan a maintenance window, move the orders around it, "
            "reorder the spare parts, and ask the planner once."
        ),
    ),
    Playbook(
        name="quality_drift",
        trigger="quality.drift",
        routes=(Route("quality.drift", "maintenance"), Route("quality.drift", "planning")),
        bundle=True,
        approver="engineer",
        description="A process drifts out of control: inspect the machine, hold its orders.",
    ),
    Playbook(
        name="stockout_risk",
        trigger="logistics.stockout_risk",
        routes=(Route("logistics.stockout_risk", "planning"),),
        bundle=True,
        approver="planner",
        description="A material may run out: re-plan around it before it does.",
    ),
    Playbook(
        name="recipe_change",
        trigger="design.recipe_change",
        routes=(Route("design.recipe_change", "planning"),),
        bundle=True,
        approver="engineer",
        description=(
            "A better recipe: see which open orders run on it and change over between orders, "
            "not inside one."
        ),
    ),
    Playbook(
        name="field_failure",
        trigger="service.failure_cluster",
        routes=(Route("service.failure_cluster", "quality"),),
        bundle=True,
        approver="engineer",
        description="Failures cluster in the field: trace them back to lots and machines.",
    ),
)


def playbook_for(kind: str, playbooks: Iterable[Playbook] = PLAYBOOKS) -> Playbook | None:
    """Return the playbook triggered by a finding of ``kind`` (the first declared), or None."""
    for playbook in playbooks:
        if fnmatch.fnmatchcase(kind, playbook.trigger):
            return playbook
    return None


def check_playbooks(playbooks: Iterable[Playbook]) -> None:
    """Raise when two playbooks share a name.

    Raises:
        ParameterError: Naming the duplicated playbook.
    """
    seen: set[str] = set()
    for playbook in playbooks:
        if playbook.name in seen:
            raise ParameterError(f"two playbooks are named {playbook.name!r}")
        seen.add(playbook.name)
