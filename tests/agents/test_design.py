"""The design agent: better setpoints from a plant's runs, a recipe revision an engineer approves.

The plant of these tests is not the demo plant: other spaces, identifiers, parameter names and
test names, and a product that the MES and engineering name differently.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

from factorybrain.agents import AgentContext, AgentRecords, Orchestrator, PolicySet
from factorybrain.agents.core import default_executors, default_policies
from factorybrain.agents.design import (
    CONFIRMATION_RUNS,
    DATA_GAP,
    EXECUTORS,
    PLAN_EXPERIMENT,
    PLUGIN,
    POLICIES,
    RECIPE_CHANGE,
    REVISE_RECIPE,
    DesignAgent,
    load_process_history,
    next_revision,
    objective_direction,
)
from factorybrain.agents.design._demo import evaluate_setpoints, truth_efficiency
from factorybrain.engines.optimize import SetpointOptimizer
from factorybrain.exceptions import ParameterError

START = datetime(2025, 3, 3)
OPTIMUM = {"coil_pull_N": 13.5, "seat_load_kN": 25.5}
SCALE = {"coil_pull_N": 1.5, "seat_load_kN": 2.0}
RECIPE = {"coil_pull_N": 15.0, "seat_load_kN": 24.0}
SPEC = {
    "coil_pull_N": {"setpoint": 15.0, "min": 10.0, "max": 20.0},
    "seat_load_kN": {"setpoint": 24.0, "min": 18.0, "max": 30.0},
    "oven_temp_C": {"setpoint": 180.0},
}


def _put(store, entity: str, rows: list[dict]) -> None:
    if rows:
        store.upsert_entities(entity, pa.Table.from_pylist(rows), "test")


def efficiency(pull: np.ndarray, load: np.ndarray) -> np.ndarray:
    zt = (pull - OPTIMUM["coil_pull_N"]) / SCALE["coil_pull_N"]
    zf = (load - OPTIMUM["seat_load_kN"]) / SCALE["seat_load_kN"]
    return 71.0 - 1.2 * zt**2 - 0.9 * zf**2 - 0.4 * zt * zf


def populate(
    store,
    *,
    orders: int = 90,
    noise: float = 0.4,
    units: int = 6,
    results: bool = True,
    seed: int = 0,
    spread: float = 1.0,
    product: str = "QX-9",
) -> None:
    """Orders of one product: a winding and a pressing step each, units tested at the end."""
    rng = np.random.default_rng(seed)
    _put(
        store,
        "product",
        [
            {"space": "plant-7", "external_id": product, "name": "Quiet Flow 9"},
            {"space": "pdm", "external_id": "MAT-4411", "name": "quiet  flow 9"},
        ],
    )
    _put(
        store,
        "recipe",
        [
            {
                "space": "pdm",
                "external_id": "MAT-4411~r1",
                "product": "MAT-4411",
                "version": "r1",
                "valid_from": datetime(2024, 1, 1),
                "parameters": json.dumps(SPEC),
            }
        ],
    )
    _put(
        store,
        "design_revision",
        [
            {
                "space": "pdm",
                "external_id": "MAT-4411~r1",
                "product": "MAT-4411",
                "revision": "r1",
                "effective_from": datetime(2024, 1, 1),
                "status": "released",
            }
        ],
    )
    operations, parameters, serials, tests = [], [], [], []
    for i in range(orders):
        order = f"{product}-ORD{i:04d}"
        at = START + timedelta(hours=8 * i)
        pull = RECIPE["coil_pull_N"] + spread * rng.normal(0, 1.2)
        load = RECIPE["seat_load_kN"] + spread * rng.normal(0, 1.5)
        for step, name, value in (("w", "coil_pull_N", pull), ("p", "seat_load_kN", load)):
            operation = f"{order}:{step}"
            operations.append(
                {"space": "plant-7", "external_id": operation, "work_order": order,
                 "start_time": at, "end_time": at + timedelta(hours=2), "status": "completed"}
            )  # fmt: skip
            parameters.append(
                {"space": "plant-7", "external_id": f"{operation}:{name}", "operation": operation,
                 "parameter": name, "setpoint": RECIPE[name], "actual": round(float(value), 2)}
            )  # fmt: skip
        operations.append(
            {"space": "plant-7", "external_id": f"{order}:o", "work_order": order,
             "start_time": at, "end_time": at + timedelta(hours=3), "status": "completed"}
        )  # fmt: skip
        parameters.append(
            {"space": "plant-7", "external_id": f"{order}:o:oven", "operation": f"{order}:o",
             "parameter": "oven_temp_C", "setpoint": 180.0, "actual": 180.0}
        )  # fmt: skip
        values = efficiency(np.full(units, pull), np.full(units, load))
        values = values + rng.normal(0, noise, units)
        for k, value in enumerate(values):
            serial = f"S{i:04d}{k}"
            serials.append(
                {"space": "plant-7", "external_id": serial, "work_order": order,
                 "product": product, "produced_at": at + timedelta(hours=3)}
            )  # fmt: skip
            tests.append(
                {"space": "lab", "external_id": f"{serial}/hydraulic", "serial_unit": serial,
                 "test_name": "hydraulic efficiency", "value": round(float(value), 3),
                 "status": "pass" if value > 60 else "fail"}
            )  # fmt: skip
            tests.append(
                {"space": "lab", "external_id": f"{serial}/hum", "serial_unit": serial,
                 "test_name": "hum_dB", "value": 30.0 + float(rng.normal())}
            )  # fmt: skip
    _put(store, "operation", operations)
    _put(store, "operation_parameter", parameters)
    _put(store, "serial_unit", serials)
    if results:
        _put(store, "quality_result", tests)


def orchestrator(store, agent: DesignAgent, at: datetime) -> Orchestrator:
    executors = default_executors()
    for action_type, executor in EXECUTORS.items():
        executors.register(action_type, executor)
    policies = {p.action_type: p for p in (*default_policies(), *POLICIES)}
    return Orchestrator(
        store,
        [agent],
        executors=executors,
        policies=PolicySet(policies.values()),
        clock=lambda: at,
    )


# -- reading the plant ---------------------------------------------------------------------
def test_runs_join_parameters_outcomes_and_the_recipe_across_silos(store) -> None:
    populate(store)
    (history,) = load_process_history(store)
    assert history.product == "QX-9"
    assert set(history.identifiers) == {"QX-9", "MAT-4411"}
    assert history.recipe is not None and history.recipe.external_id == "MAT-4411~r1"
    assert len(history.runs) == 90
    assert set(history.parameters) == {"coil_pull_N", "seat_load_kN", "oven_temp_C"}
    assert set(history.outcomes) == {"hydraulic efficiency", "hum_dB", "yield"}
    first = history.runs.iloc[0]
    assert first["units"] == 6
    assert 0.0 <= first["out:yield"] <= 1.0


# -- what the agent recommends -------------------------------------------------------------
def test_a_clear_history_gives_a_recipe_revision_near_the_optimum(store) -> None:
    populate(store)
    report = DesignAgent().study(store)
    (study,) = report.studies
    assert study.objective == "hydraulic efficiency" and study.direction == "maximize"
    assert study.unvaried == {"oven_temp_C": 180.0}
    proposal = study.proposal
    assert proposal is not None and proposal.decision == "change"
    for name, optimum in OPTIMUM.items():
        assert abs(proposal.proposed[name] - optimum) / SCALE[name] < 0.3
    (finding,) = report.findings
    assert finding.kind == RECIPE_CHANGE
    assert finding.subject.type == "recipe" and finding.subject.external_id == "MAT-4411~r1"
    assert "oven_temp_C (180)" in finding.evidence.text
    assert finding.evidence.numbers["gain_low"] > 0
    (recommendation,) = report.recommendations
    assert recommendation.action_type == REVISE_RECIPE and recommendation.requires_approval
    parameters = recommendation.parameters
    assert parameters["recipe"] == "MAT-4411~r1"
    assert parameters["external_id"] == "MAT-4411~r2" and parameters["revision"] == "r2"
    assert parameters["expect"] == {"version": "r1", "setpoints": RECIPE}
    assert parameters["design_revision"]["external_id"] == "MAT-4411~r2"
    last_run = START + timedelta(hours=8 * 89 + 3)
    assert datetime.fromisoformat(parameters["effective_from"]) > last_run
    gain = recommendation.expected_effect["gain"]
    true_gain = float(
        efficiency(np.array(proposal.proposed["coil_pull_N"]), np.array(proposal.proposed[
            "seat_load_kN"]))
        - efficiency(np.array(15.0), np.array(24.0))
    )  # fmt: skip
    assert recommendation.expected_effect["gain_low"] <= true_gain
    assert true_gain <= recommendation.expected_effect["gain_high"]
    assert gain > 0


def test_an_uncertain_gain_asks_for_a_few_confirmation_runs(store) -> None:
    populate(store, orders=30, noise=6.0, units=3, seed=4)
    report = DesignAgent().study(store)
    (finding,) = report.findings
    assert finding.kind == CONFIRMATION_RUNS
    (recommendation,) = report.recommendations
    assert recommendation.action_type == PLAN_EXPERIMENT
    runs = recommendation.parameters["runs"]
    assert 3 <= len(runs) <= 6
    assert runs[-1]["role"] == "control" and runs[-1]["setpoints"] == RECIPE
    for run in runs:
        assert 10.0 <= run["setpoints"]["coil_pull_N"] <= 20.0
        assert 18.0 <= run["setpoints"]["seat_load_kN"] <= 30.0


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"results": False}, "no_outcome"),
        ({"orders": 12}, "too_few_runs"),
    ],
)
def test_history_that_cannot_serve_a_model_is_a_finding_that_says_why(
    store, change, reason
) -> None:
    populate(store, **change)
    report = DesignAgent().study(store)
    assert report.recommendations == []
    (finding,) = report.findings
    assert finding.kind == DATA_GAP and finding.dedup_key == reason
    assert "QX-9" in finding.evidence.text


def test_parameters_that_never_varied_are_a_data_gap(store) -> None:
    populate(store, spread=0.0)
    (finding,) = DesignAgent().study(store).findings
    assert finding.kind == DATA_GAP and finding.dedup_key == "no_variation"
    assert "plan a design of experiments" in finding.evidence.text


def test_an_objective_the_runs_do_not_record_is_named(store) -> None:
    populate(store)
    agent = DesignAgent(objectives={"torque_Nm": "maximize"})
    (finding,) = agent.study(store).findings
    assert finding.kind == DATA_GAP and "torque_Nm" in finding.evidence.text
    chosen = DesignAgent(objectives={"hum_dB": "minimize"}).study(store).studies[0]
    assert chosen.objective == "hum_dB" and chosen.direction == "minimize"


# -- approving and executing ---------------------------------------------------------------
def _approved_revision(store, now: datetime):
    agent = DesignAgent()
    orchestrator_ = orchestrator(store, agent, now)
    report = orchestrator_.run(["design"], at=now)
    (action_id,) = report.actions
    action = AgentRecords(store).action(action_id)
    assert action.required_role == "engineer" and action.state == "proposed"
    recommendation = AgentRecords(store).recommendation(action.recommendation_id)
    return orchestrator_, action_id, recommendation


def test_an_approved_revision_adds_a_recipe_revision_and_keeps_the_old_one(store) -> None:
    populate(store)
    now = datetime(2025, 4, 1, 20)  # an hour after the last run ended
    orchestrator_, action_id, recommendation = _approved_revision(store, now)
    executed = orchestrator_.approve(action_id, actor="user:ines", role="engineer")
    assert executed.state == "executed", executed.result
    old = store.entities("recipe", where={"external_id": "MAT-4411~r1"}).iloc[0]
    assert json.loads(old["parameters"]) == SPEC
    new = store.entities("recipe", where={"external_id": "MAT-4411~r2"}).iloc[0]
    spec = json.loads(new["parameters"])
    setpoints = recommendation.parameters["setpoints"]
    for name, value in setpoints.items():
        assert spec[name]["setpoint"] == value
        assert spec[name]["min"] == SPEC[name]["min"]  # the limits carry over
    assert spec["oven_temp_C"] == {"setpoint": 180.0}
    assert new["version"] == "r2" and new["product"] == "MAT-4411"
    # a day after the last run learned from, at midnight
    assert new["valid_from"].to_pydatetime() == datetime(2025, 4, 3)
    (change,) = executed.result["steps"][0]["changed"]["recipe"]
    assert change["before"]["setpoints"] == {n: RECIPE[n] for n in setpoints}
    assert change["after"]["setpoints"] == setpoints
    revision = store.entities("design_revision", where={"external_id": "MAT-4411~r2"})
    assert revision.iloc[0]["revision"] == "r2"
    (history,) = load_process_history(store, as_of=datetime(2025, 4, 3))
    assert history.recipe is not None and history.recipe.external_id == "MAT-4411~r2"
    # until the new revision takes effect, the agent does not propose another
    (study,) = DesignAgent().study(store, now=datetime(2025, 4, 2)).studies
    assert study.pending is not None and study.pending.external_id == "MAT-4411~r2"
    assert study.proposal is None


def test_a_revision_is_refused_when_the_recipe_changed_since_the_proposal(store) -> None:
    populate(store)
    now = datetime(2025, 4, 20)
    orchestrator_, action_id, _ = _approved_revision(store, now)
    _put(
        store,
        "recipe",
        [
            {"space": "pdm", "external_id": "MAT-4411~hotfix", "product": "MAT-4411",
             "version": "hotfix", "valid_from": datetime(2025, 4, 10),
             "parameters": json.dumps(SPEC)}
        ],
    )  # fmt: skip
    failed = orchestrator_.approve(action_id, actor="user:ines", role="engineer")
    assert failed.state == "failed"
    assert "no longer the latest revision" in json.dumps(failed.result)
    assert store.entities("recipe", where={"external_id": "MAT-4411~r2"}).empty


def _context(store, now: datetime) -> AgentContext:
    return AgentContext(store, AgentRecords(store), lambda: now, action_id="test")


def test_the_executor_never_backdates_or_overwrites_and_keeps_to_the_limits(store) -> None:
    populate(store, orders=0)
    now = datetime(2025, 6, 1, 12)
    parameters = {
        "space": "pdm",
        "product": "MAT-4411",
        "recipe": "MAT-4411~r1",
        "external_id": "MAT-4411~r2",
        "revision": "r2",
        "effective_from": "2025-01-01T00:00:00",
        "setpoints": {"coil_pull_N": 14.0},
        "expect": {"version": "r1", "setpoints": {"coil_pull_N": 15.0}},
    }
    context = _context(store, now)
    result = EXECUTORS[REVISE_RECIPE](context, parameters)
    assert result["recipe"][0]["after"]["valid_from"] == now.isoformat()
    with pytest.raises(ParameterError, match="no longer the latest revision"):
        EXECUTORS[REVISE_RECIPE](context, {**parameters, "external_id": "MAT-4411~r3"})
    overwrite = {**parameters, "external_id": "MAT-4411~r1", "recipe": None}
    with pytest.raises(ParameterError, match="'MAT-4411~r1' already exists"):
        EXECUTORS[REVISE_RECIPE](context, overwrite)
    assert json.loads(store.entities("recipe", where={"external_id": "MAT-4411~r1"}).iloc[0][
        "parameters"]) == SPEC  # fmt: skip
    latest = {**parameters, "recipe": "MAT-4411~r2", "external_id": "MAT-4411~r3"}
    outside = {**latest, "setpoints": {"coil_pull_N": 25.0}, "expect": {}}
    with pytest.raises(ParameterError, match=r"leaves its specification \[10.0, 20.0\]"):
        EXECUTORS[REVISE_RECIPE](context, outside)
    stale = {**latest, "expect": {"version": "r2", "setpoints": {"coil_pull_N": 15.0}}}
    with pytest.raises(ParameterError, match="changed since this was proposed: setpoint"):
        EXECUTORS[REVISE_RECIPE](context, stale)
    assert store.entities("recipe", where={"external_id": "MAT-4411~r3"}).empty


def test_an_approved_experiment_plan_is_a_document_of_the_product(store) -> None:
    populate(store, orders=0)
    runs = [
        {"role": "candidate", "setpoints": {"coil_pull_N": 13.5}, "expected": 71.0},
        {"role": "control", "setpoints": {"coil_pull_N": 15.0}, "expected": 70.4},
    ]
    parameters = {
        "space": "pdm",
        "external_id": "doe-1",
        "product": "MAT-4411",
        "objective": "hydraulic efficiency",
        "runs": runs,
    }
    result = EXECUTORS[PLAN_EXPERIMENT](_context(store, datetime(2025, 6, 1)), parameters)
    assert result["document"][0]["after"]["runs"] == 2
    document = store.entities("document", where={"external_id": "doe-1"}).iloc[0]
    assert "13.5" in document["content"] and "control" in document["content"]
    assert list(document["products"]) == ["MAT-4411"]
    with pytest.raises(ParameterError, match="already exists"):
        EXECUTORS[PLAN_EXPERIMENT](_context(store, datetime(2025, 6, 1)), parameters)


# -- small rules ---------------------------------------------------------------------------
def test_revision_labels_follow_the_plant_s_own() -> None:
    assert next_revision("B") == "C"
    assert next_revision("7") == "8"
    assert next_revision("r09") == "r10"
    assert next_revision("A", taken=["B"]) == "C"
    assert next_revision(None) == "1"
    assert next_revision("rev-x") == "rev-x.1"


def test_an_outcome_s_name_says_which_way_is_better() -> None:
    assert objective_direction("efficiency_pct") == "maximize"
    assert objective_direction("First pass yield") == "maximize"
    assert objective_direction("scrap_rate") == "minimize"
    assert objective_direction("noise_dBA") is None


def test_the_plugin_brings_its_executors_and_an_engineer_approves_them() -> None:
    assert set(PLUGIN.executors) == {REVISE_RECIPE, PLAN_EXPERIMENT}
    assert {p.action_type: p.approver for p in PLUGIN.policies} == {
        REVISE_RECIPE: "engineer",
        PLAN_EXPERIMENT: "engineer",
    }
    assert not any(p.auto_execute for p in PLUGIN.policies)


def test_the_demo_scorer_reads_the_truth_s_formula() -> None:
    optimum = {
        "formula": "efficiency_nominal - 1.2*zt^2 - 0.9*zf^2 - 0.4*zt*zf - 2.5*d_winder"
        " + N(0, 0.6); zt = (coil_pull_N - t_opt)/t_scale, zf = (seat_load_kN - f_opt)/f_scale",
        "optimum": OPTIMUM,
        "scales": SCALE,
        "optimum_efficiency_pct": 71.0,
        "recipe": RECIPE,
        "recipe_efficiency_pct": float(efficiency(np.array(15.0), np.array(24.0))),
    }
    assert truth_efficiency(optimum, RECIPE) == pytest.approx(optimum["recipe_efficiency_pct"])
    at_optimum = evaluate_setpoints(optimum, OPTIMUM)
    assert at_optimum["distance_in_scales"] == 0 and at_optimum["gain_fraction"] == 1
    halfway = evaluate_setpoints(optimum, {"coil_pull_N": 14.25})
    assert halfway["distance_in_scales"] == pytest.approx(0.75)
    assert 0 < halfway["gain_fraction"] < 1


def test_a_custom_optimizer_is_used(store) -> None:
    populate(store)
    agent = DesignAgent(optimizer=SetpointOptimizer(n_trials=30, min_gain=100.0))
    report = agent.study(store)
    assert report.studies[0].proposal is not None
    assert report.studies[0].proposal.decision == "keep"
    assert report.findings == [] and report.recommendations == []


def test_the_demo_stage_proposes_and_planning_answers_even_with_nothing_to_plan(store) -> None:
    from factorybrain.agents.design._demo import design_stage

    populate(store)  # runs and results, but no open order, machine or shift to plan
    summary = design_stage(store, {})
    assert summary["recipe_changes"] == 1 and summary["actions"] == 1
    (changeover,) = AgentRecords(store).findings(kind="planning.recipe_changeover")
    assert changeover.severity == "info" and "No plan to place the new recipe in" in (
        changeover.evidence.text
    )
    assert summary["changeovers"] == 1
