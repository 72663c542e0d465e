"""A new recipe in the plan: which open orders run on it, and a changeover at an order boundary.

When the design agent proposes a recipe revision (``design.recipe_change``), the plan says what
it means for production: the product's open orders planned to start before the revision takes
effect run on the recipe in force, those planned from then on run on the new one. An order
planned to run across the date would change setpoints half-way through its steps, so the
changeover moves to the next moment no order of the product is running: the end of the orders
that straddle it (repeated while a later one straddles the new date). The planner's version of
the revision, with that date and the orders it touches in its expected effect, replaces the
design agent's in the bundle an engineer approves.

A revision changes setpoints, not the routing: the plan's times stay. A revision that also
carries routing fields (cycle and setup times) is planned with, once recorded, for the orders
that may start after it (:func:`~factorybrain.agents.planning._model.routing_in_force`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from factorybrain.agents.core._agent import AgentContext
from factorybrain.agents.core._contract import EntityRef, Evidence, Finding, Recommendation
from factorybrain.agents.planning._core import PlanResult

#: The finding planning reacts to: a recipe revision proposed by the design agent.
RECIPE_CHANGE = "design.recipe_change"
#: What planning reports: the orders on each side of the change, and its date.
CHANGEOVER = "planning.recipe_changeover"
#: The action that records a recipe revision (the design agent's executor).
REVISE_RECIPE = "recipe.revise"


@dataclass
class Changeover:
    """What a recipe revision taking effect at ``proposed`` means for the plan.

    Attributes:
        products: The identifiers the product goes by.
        proposed: When the revision was proposed to take effect (naive UTC).
        effective: When it takes effect without changing recipe inside an order: ``proposed``,
            or the end of the orders planned across it.
        before: Open orders planned to start before ``effective``: the recipe in force.
        after: Open orders planned to start from ``effective`` on: the new revision.
        straddling: Orders planned across ``proposed`` (they run on the recipe in force).
        units_after: Units of the orders in ``after``.
    """

    products: tuple[str, ...]
    proposed: datetime
    effective: datetime
    before: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)
    straddling: list[str] = field(default_factory=list)
    units_after: float = 0.0

    @property
    def moved(self) -> bool:
        """Whether the changeover had to move to keep every order on one recipe."""
        return self.effective != self.proposed


def plan_changeover(plan: PlanResult, products: Iterable[str], proposed: datetime) -> Changeover:
    """Where a revision taking effect at ``proposed`` falls in ``plan``'s orders of ``products``."""
    names = tuple(dict.fromkeys(str(p) for p in products))
    orders = plan.orders[plan.orders["product"].astype(str).isin(names)]
    starts = pd.to_datetime(orders["planned_start"])
    ends = pd.to_datetime(orders["planned_end"])
    effective = pd.Timestamp(proposed)
    straddling: list[str] = []
    while True:  # move past every order running across the date, until none does
        across = (starts < effective) & (ends > effective)
        if not across.any():
            break
        straddling.extend(orders["external_id"][across].astype(str))
        effective = ends[across].max()
    after = starts >= effective
    return Changeover(
        products=names,
        proposed=proposed,
        effective=effective.to_pydatetime(),
        before=sorted(orders["external_id"][~after].astype(str)),
        after=sorted(orders["external_id"][after].astype(str)),
        straddling=list(dict.fromkeys(straddling)),
        units_after=float(orders["quantity"][after].sum()),
    )


def product_names(finding: Finding, context: AgentContext) -> list[str]:
    """Every identifier of the product a recipe finding is about: its references, its recipe's."""
    names = []  # the name the finding gives first: the one its reader knows
    subject = finding.subject
    if subject.type == "product":
        names.append(subject.external_id)
    elif subject.type == "recipe":
        where = "external_id = ?" + (" AND space = ?" if subject.space else "")
        found = context.store.query(
            f"SELECT product FROM recipe WHERE {where} AND product IS NOT NULL",
            [subject.external_id, *([subject.space] if subject.space else [])],
        )
        names.extend(str(p) for p in found["product"])
    names.extend(ref.external_id for ref in finding.evidence.refs if ref.type == "product")
    return list(dict.fromkeys(names))


def proposed_date(finding: Finding) -> datetime:
    """When the revision is to take effect: ``effective_in_hours`` after the finding."""
    base = finding.created_at or datetime.now()
    return base + timedelta(hours=float(finding.evidence.numbers.get("effective_in_hours", 0.0)))


def revision_proposed(finding: Finding, context: AgentContext) -> Recommendation | None:
    """The recipe revision proposed with ``finding`` (the design agent's), if recorded."""
    found = context.records.recommendations(action_type=REVISE_RECIPE, finding=finding.id, limit=1)
    return found[0] if found else None


def changeover_output(
    finding: Finding,
    change: Changeover,
    proposal: Recommendation | None,
    *,
    agent: str,
    space: str | None,
) -> list[Finding | Recommendation]:
    """The changeover finding, and the revision as planned (dated at the order boundary)."""
    product = change.products[0] if change.products else finding.subject.external_id
    text = _text(product, change)
    numbers = {
        "orders_before": float(len(change.before)),
        "orders_after": float(len(change.after)),
        "orders_straddling": float(len(change.straddling)),
        "units_after": change.units_after,
        "moved_hours": (change.effective - change.proposed) / timedelta(hours=1),
    }
    refs = (EntityRef("finding", finding.id),) + tuple(
        EntityRef("work_order", order, space) for order in change.after[:50]
    )
    key = f"{finding.id}:{change.effective:%Y-%m-%dT%H:%M}"
    report = Finding(
        agent,
        CHANGEOVER,
        EntityRef("product", product, space),
        severity="medium" if change.moved else "low",
        confidence=finding.confidence,
        evidence=Evidence(refs, numbers, text),
        dedup_key=key,
        created_at=finding.created_at,
        title=f"{product}: new recipe from {change.effective:%Y-%m-%d %H:%M} UTC for "
        f"{len(change.after)} open order(s)",
    )
    if proposal is None:
        return [report]
    # the revision as planned: the design agent's, dated at the boundary, with the orders it
    # touches in its effect, so the engineer decides seeing what it means for production
    parameters: dict[str, Any] = dict(proposal.parameters)
    parameters["effective_from"] = change.effective.isoformat()
    reason = str(parameters.get("change_reason") or "")
    parameters["change_reason"] = f"{reason} Planning: {text}".strip()
    if change.moved:
        suffix = f"changeover moved to {change.effective:%Y-%m-%d %H:%M} UTC, after the orders "
        suffix += "running then"
    else:
        suffix = f"{len(change.after)} open order(s) on the new recipe"
    revision = Recommendation(
        agent,
        (finding.id, report.id),
        REVISE_RECIPE,
        parameters=parameters,
        expected_effect=_effect(proposal.expected_effect, change),
        requires_approval=True,
        title=f"{proposal.title} ({suffix})",
        dedup_key=key,
    )
    return [report, revision]


def unplanned_changeover(finding: Finding, reason: str, *, agent: str) -> Finding:
    """What planning says of a recipe change when the store holds nothing it can plan."""
    when = proposed_date(finding)
    return Finding(
        agent,
        CHANGEOVER,
        finding.subject,
        severity="info",
        confidence=finding.confidence,
        evidence=Evidence(
            (EntityRef("finding", finding.id),),
            {"orders_before": 0.0, "orders_after": 0.0, "orders_straddling": 0.0},
            f"No plan to place the new recipe in ({reason.rstrip('.')}): it applies from "
            f"{when:%Y-%m-%d %H:%M} UTC to the orders that start after it.",
        ),
        dedup_key=f"{finding.id}:unplanned",
        created_at=finding.created_at,
        title=f"{finding.subject.external_id}: new recipe not placed in a plan (nothing to plan)",
    )


def _effect(effect: Mapping[str, Any], change: Changeover) -> dict[str, Any]:
    return {
        **dict(effect),
        "orders_on_new_recipe": len(change.after),
        "units_on_new_recipe": change.units_after,
        "changeover_moved_hours": (change.effective - change.proposed) / timedelta(hours=1),
    }


def _text(product: str, change: Changeover) -> str:
    text = (
        f"{len(change.after)} open order(s) of {product} ({change.units_after:,.0f} units) are "
        f"planned to start from {change.effective:%Y-%m-%d %H:%M} UTC and run on the new "
        f"recipe; {len(change.before)} start before it and run on the recipe in force."
    )
    if change.moved:
        shown = ", ".join(change.straddling[:5])
        more = f" and {len(change.straddling) - 5} more" if len(change.straddling) > 5 else ""
        text += (
            f" {shown}{more} would run across the proposed date "
            f"{change.proposed:%Y-%m-%d %H:%M} UTC and change setpoints half-way: the "
            f"changeover moves to {change.effective:%Y-%m-%d %H:%M} UTC, when they are done."
        )
    if not change.before and not change.after:
        text = (
            f"No open order of {product} is planned: the new recipe applies from "
            f"{change.effective:%Y-%m-%d %H:%M} UTC to the orders released after."
        )
    return text
