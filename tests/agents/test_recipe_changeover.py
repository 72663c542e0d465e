"""A recipe revised over time: the plan uses the revision in force, and a proposed revision
reaches planning (playbook ``recipe_change``), which changes over between orders, not inside one.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from factorybrain.agents import AgentRecords, EntityRef, Evidence, Finding, Orchestrator
from factorybrain.agents.core import Recommendation
from factorybrain.agents.planning import (
    PlanningAgent,
    build_problem,
    load_plant_model,
    plan_orders,
    plant_oee,
)
from tests.agents.test_design import orchestrator
from tests.agents.test_planning import MONDAY, NOW, ORDERS, _seed, _seed_oee, _table


def _revise(store, *, sequence: int, cycle: float, valid_from: datetime, version="B") -> None:
    """A later revision of step ``sequence`` of product P; the first revision stays."""
    store.upsert_entities(
        "recipe",
        _table(
            [
                {
                    "space": "mes",
                    "external_id": f"P/{sequence}~{version}",
                    "product": "P",
                    "sequence": sequence,
                    "workcell": "welder" if sequence == 20 else "cutter",
                    "ideal_cycle_seconds": cycle,
                    "setup_seconds": 600.0,
                    "version": version,
                    "valid_from": valid_from,
                }
            ]
        ),  # fmt: skip
        "seed",
    )


def _minutes(problem, order: str) -> dict[str, int]:
    job = next(job for job in problem.jobs if job.id == order)
    return {op.id: min(op.durations.values()) for op in job.operations}


def test_each_order_is_planned_with_the_routing_in_force_when_it_may_start(store) -> None:
    later = dict(ORDERS[2], external_id="WO-9", release_at=MONDAY + timedelta(days=3))
    _seed(store, [*ORDERS, later])
    _revise(store, sequence=20, cycle=60.0, valid_from=MONDAY + timedelta(days=2))
    problem = build_problem(load_plant_model(store, now=NOW))
    # one step 20 per order, never the two revisions side by side
    assert all([op.id for op in job.operations] == ["10", "20"] for job in problem.jobs)
    # released before the revision: 60 units x 120 s + 10 min setup; after it: 60 s per unit
    assert _minutes(problem, "WO-3")["20"] == 60 * 2 + 10
    assert _minutes(problem, "WO-9")["20"] == 60 + 10
    assert _minutes(problem, "WO-9")["10"] == _minutes(problem, "WO-3")["10"]


def test_a_revision_not_yet_in_force_leaves_the_plan_as_it_was(store) -> None:
    _seed(store, ORDERS)
    before = plan_orders(store, now=NOW, time_limit=2, workers=1).orders
    _revise(store, sequence=10, cycle=5.0, valid_from=MONDAY + timedelta(days=30))
    after = plan_orders(store, now=NOW, time_limit=2, workers=1).orders
    assert after[["external_id", "planned_start", "planned_end"]].equals(
        before[["external_id", "planned_start", "planned_end"]]
    )


def test_oee_counts_an_operation_once_under_the_revision_in_force(store) -> None:
    _seed_oee(store)
    # a revision from before the operation halves the ideal cycle; one after it changes nothing
    _revise(store, sequence=10, cycle=30.0, valid_from=MONDAY - timedelta(days=1))
    _revise(store, sequence=10, cycle=10.0, valid_from=MONDAY + timedelta(days=1), version="C")
    row = plant_oee(store, assets=["CUT-1"]).set_index("machine").loc["CUT-1"]
    # running 300 minutes; 250 units at 30 s ideal = 125 minutes; 240 good of 250
    assert row["performance"] == pytest.approx(125 / 300)
    assert row["quality"] == pytest.approx(240 / 250)


def _orchestrator(store) -> Orchestrator:
    """Planning, with the design agent's executors and policies (its proposals are executable)."""
    return orchestrator(store, PlanningAgent(time_limit=2, workers=1, now=NOW), NOW)


def _recipe_change(effective_in_hours: float) -> tuple[Finding, Recommendation]:
    finding = Finding(
        "design",
        "design.recipe_change",
        EntityRef("recipe", "P-spec~A", "pdm"),
        severity="medium",
        confidence=0.95,
        evidence=Evidence(
            (EntityRef("product", "P"),),
            {"gain": 1.5, "effective_in_hours": effective_in_hours},
            "From 90 runs of P: weld current 180 -> 172 raises efficiency by 1.5.",
        ),
        dedup_key="efficiency@P-spec~A",
        created_at=NOW,
    )
    revision = Recommendation(
        "design",
        (finding.id,),
        "recipe.revise",
        parameters={
            "space": "pdm",
            "product": "P",
            "external_id": "P-spec~B",
            "revision": "B",
            "recipe": "P-spec~A",
            "setpoints": {"weld_current_A": 172.0},
            "effective_from": (NOW + timedelta(hours=effective_in_hours)).isoformat(),
            "change_reason": "design agent: efficiency +1.5",
        },  # fmt: skip
        expected_effect={"gain": 1.5},
        requires_approval=True,
        title="Revise the recipe of P to B",
        dedup_key=finding.dedup_key,
    )
    return finding, revision


def test_a_revision_across_a_running_order_changes_over_when_it_is_done(store) -> None:
    _seed(store, ORDERS)
    plan = plan_orders(store, now=NOW, time_limit=2, workers=1).orders.set_index("external_id")
    first_end = plan.loc["WO-1", "planned_end"].to_pydatetime()
    # proposed to take effect while WO-1 runs
    inside = (plan.loc["WO-1", "planned_start"].to_pydatetime() - NOW) / timedelta(hours=1) + 1
    orchestrator = _orchestrator(store)
    report = orchestrator.submit(list(_recipe_change(inside)), agent="design", at=NOW)
    records = AgentRecords(store)
    (changeover,) = records.findings(kind="planning.recipe_changeover")
    assert changeover.severity == "medium"
    numbers = changeover.evidence.numbers
    assert numbers["orders_straddling"] >= 1 and numbers["moved_hours"] > 0
    assert "WO-1" in changeover.evidence.text
    # one decision for the engineer: the planner's revision, dated after WO-1, replaces the
    # design agent's
    (action_id,) = report.actions
    action = records.action(action_id)
    assert action.required_role == "engineer"
    proposed = records.recommendation(action.recommendation_id)
    assert proposed.action_type == "recipe.revise" and proposed.agent == "planning"
    (replaced,) = records.recommendations(agent="design")
    (audit,) = records.audit_log(object_id=replaced.id, verb="recommendation.superseded")
    assert audit.details["by"] == proposed.id
    parameters = proposed.parameters
    effective = datetime.fromisoformat(parameters["effective_from"])
    assert effective >= first_end
    assert parameters["external_id"] == "P-spec~B"
    assert parameters["setpoints"] == {"weld_current_A": 172.0}
    later = [o for o in plan.index if plan.loc[o, "planned_start"] >= effective]
    assert numbers["orders_after"] == len(later)


def test_a_revision_between_orders_keeps_its_date(store) -> None:
    _seed(store, ORDERS)
    plan = plan_orders(store, now=NOW, time_limit=2, workers=1).orders
    after_all = (plan["planned_end"].max().to_pydatetime() - NOW) / timedelta(hours=1) + 24
    orchestrator = _orchestrator(store)
    report = orchestrator.submit(list(_recipe_change(after_all)), agent="design", at=NOW)
    records = AgentRecords(store)
    (changeover,) = records.findings(kind="planning.recipe_changeover")
    assert changeover.severity == "low"
    assert changeover.evidence.numbers["orders_after"] == 0
    assert changeover.evidence.numbers["orders_before"] == len(ORDERS)
    (action_id,) = report.actions
    proposed = records.recommendation(records.action(action_id).recommendation_id)
    assert records.action(action_id).required_role == "engineer"
    # the date stands; what it means for production is on the proposal the engineer decides
    (design,) = records.recommendations(agent="design")
    assert proposed.agent == "planning" and changeover.id in proposed.finding_ids
    assert proposed.parameters["effective_from"] == design.parameters["effective_from"]
    assert proposed.parameters["setpoints"] == design.parameters["setpoints"]
    assert proposed.expected_effect["orders_on_new_recipe"] == 0
    assert proposed.expected_effect["gain"] == design.expected_effect["gain"]


def test_undated_revisions_of_a_step_are_planned_once_and_said(store) -> None:
    _seed(store, ORDERS)
    store.upsert_entities(
        "recipe",
        _table(
            [
                {
                    "space": "mes",
                    "external_id": "P/20-alt",
                    "product": "P",
                    "sequence": 20,
                    "workcell": "welder",
                    "ideal_cycle_seconds": 90.0,
                    "version": "2",
                }
            ]
        ),  # fmt: skip
        "seed",
    )
    model = load_plant_model(store, now=NOW)
    jobs = build_problem(model).jobs
    assert all([op.id for op in job.operations] == ["10", "20"] for job in jobs)
    assert any("2 undated routing rows for step 20" in note for note in model.notes)
