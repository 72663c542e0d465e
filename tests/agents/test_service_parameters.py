"""Claims traced to a process parameter run out of its window, not to the orders it hit hardest.

A small plant of two products pressed at different forces: units pressed far below their
product's force fail in the field, the likelier the further out, wherever and whenever they were
made, and two orders ran their whole batch low. The service agent names the parameter (its tail,
per product), the orders where it concentrates are not causes of their own, and the quality agent
proposes the parameter's window in its containment.
"""

from __future__ import annotations

import warnings
from collections import Counter
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from factorybrain.agents import AgentContext, AgentRecords, Recommendation
from factorybrain.agents.quality import RECIPE_CHANGE, QualityAgent, QualityDataWarning
from factorybrain.agents.service import (
    DATA_GAP,
    FAILURE_CLUSTER,
    ServiceAgent,
    ServiceDataWarning,
)
from tests.agents.test_service import _edges, _put, _review

START = datetime(2026, 1, 5)
ORDERS, PER_ORDER = 60, 40
FORCE = {"P1": 40.0, "P2": 65.0}
#: Orders that ran their batch low: the first a little, the second far out of the window.
LOW_ORDERS = {"ORD-030": 3.0, "ORD-041": 5.5}


def populate(store) -> dict:
    rng = np.random.default_rng(5)
    _put(store, "customer", [{"space": "plant", "external_id": "C1", "name": "Customer 1"}])
    serials, edges, ops, params, results, shipments, claims = [], [], [], [], [], [], []
    low_units: list[str] = []
    for order in range(ORDERS):
        start = START + timedelta(days=order)
        wo, product = f"ORD-{order:03d}", ("P1", "P2")[order % 2]
        setpoint = FORCE[product] - LOW_ORDERS.get(wo, 0.0)
        operation = f"OP-{order}"
        ops.append({"space": "plant", "external_id": operation, "work_order": wo,
                    "sequence": 10, "equipment": "PRESS", "start_time": start,
                    "end_time": start + timedelta(hours=8)})  # fmt: skip
        params += [
            {"space": "plant", "external_id": f"{operation}/force", "operation": operation,
             "parameter": "press_force_kN", "setpoint": FORCE[product], "unit": "kN"},
            {"space": "plant", "external_id": f"{operation}/rpm", "operation": operation,
             "parameter": "spindle_rpm", "setpoint": 1450.0 if product == "P1" else 2900.0},
        ]  # fmt: skip
        shipment = f"SH-{order:03d}"
        shipments.append({"space": "plant", "external_id": shipment, "customer": "C1",
                          "shipped_at": start + timedelta(days=3)})  # fmt: skip
        for k in range(PER_ORDER):
            serial = f"SN-{order:03d}-{k:02d}"
            made = start + timedelta(minutes=10 * k)
            force = setpoint + rng.normal(0.0, 1.0)
            serials.append({"space": "plant", "external_id": serial, "product": product,
                            "produced_at": made})  # fmt: skip
            edges += [
                {"edge_type": "produced", "source_space": "plant", "source_external_id": wo,
                 "target_space": "plant", "target_external_id": serial, "start_time": made},
                {"edge_type": "shipped_in", "source_space": "plant", "source_external_id": serial,
                 "target_space": "plant", "target_external_id": shipment},
            ]  # fmt: skip
            results.append({"space": "plant", "external_id": f"{serial}/force",
                            "test_name": "press_force_kN", "value": round(force, 2),
                            "unit": "kN", "serial_unit": serial, "equipment": "PRESS",
                            "measured_at": made})  # fmt: skip
            # the further below the window, the likelier a leak
            below = FORCE[product] - 2.2 - force
            if below > 0:
                low_units.append(serial)
            if rng.random() < 0.006 + 0.3 * min(max(below, 0.0), 2.5):
                failed = start + timedelta(days=int(rng.integers(10, 60)))
                claims.append({"space": "desk", "external_id": f"CL-{len(claims):04d}",
                               "serial_unit": serial, "failure_date": failed,
                               "claimed_at": failed + timedelta(days=2),
                               "text": "water leaking at the seal"})  # fmt: skip
    _put(store, "serial_unit", serials)
    _put(store, "operation", ops)
    _put(store, "operation_parameter", params)
    _put(store, "quality_result", results)
    _put(store, "shipment", shipments)
    _put(store, "warranty_claim", claims)
    _edges(store, edges)
    return {"low_units": set(low_units), "claims": claims}


@pytest.fixture
def plant(store):
    return populate(store)


def test_the_parameter_is_named_and_the_order_it_hit_hardest_is_folded_into_it(
    store, plant
) -> None:
    review = _review(store)
    clusters = [f for f in review.findings if f.kind == FAILURE_CLUSTER]
    assert [f.dedup_key for f in clusters] == ["process_parameter:press_force_kN:low"]
    (finding,) = clusters
    assert (finding.subject.type, finding.subject.external_id) == ("parameter", "press_force_kN")
    (cluster,) = review.clusters
    claimed = {c["external_id"]: c["serial_unit"] for c in plant["claims"]}
    low_claims = {c for c, serial in claimed.items() if serial in plant["low_units"]}
    assert len(low_claims & set(cluster.claims)) >= 0.8 * len(low_claims)
    # the tail is per product: both products' low units are in it, though P1's normal force
    # is below every force P2 is pressed at
    products = set(cluster.members["product"])
    assert products == {"P1", "P2"}
    assert "below its product's median" in finding.evidence.text
    # a parameter set per product is the product's cohort, not a process running out
    table = review.screened.cohorts.table
    screened = set(table.loc[table["attribute"] == "process_parameter", "subject_id"])
    assert screened == {"press_force_kN"}


def test_a_parameter_measured_on_too_few_units_is_said_not_skipped(store, plant) -> None:
    # a new cure-time log has run on two orders so far (80 units): too few to compare tails
    _put(store, "operation_parameter", [
        {"space": "plant", "external_id": f"OP-{order}/cure", "operation": f"OP-{order}",
         "parameter": "cure_time_s", "setpoint": 90.0, "actual": 88.0 + 3 * order, "unit": "s"}
        for order in (0, 1)
    ])  # fmt: skip
    with pytest.warns(ServiceDataWarning, match="cure_time_s is known for 80 of the"):
        review = ServiceAgent().review(store)
    gaps = [f for f in review.findings if f.kind == DATA_GAP]
    (gap,) = [f for f in gaps if "cure_time_s" in f.evidence.text]
    assert "too few to compare its tails" in gap.evidence.text
    assert gap.dedup_key.endswith("parameters:cure_time_s")
    # the parameter the plant measures on every unit is still screened and named
    clusters = [f for f in review.findings if f.kind == FAILURE_CLUSTER]
    assert [f.dedup_key for f in clusters] == ["process_parameter:press_force_kN:low"]


def test_the_containment_proposes_the_parameters_window(store, plant) -> None:
    (finding,) = [f for f in _review(store).findings if f.kind == FAILURE_CLUSTER]
    context = AgentContext(store, AgentRecords(store), lambda: START + timedelta(days=120))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QualityDataWarning)
        items = list(QualityAgent().react(finding, context))
    (proposal,) = [i for i in items if isinstance(i, Recommendation)]
    steps = {s.action_type: s.parameters for s in proposal.steps} or {
        proposal.action_type: proposal.parameters
    }
    change = steps[RECIPE_CHANGE]
    assert change["parameter"] == "press_force_kN"
    assert "below" in change["avoid"]
    assert "maintenance_order.create" not in steps  # no machine to inspect for a window


def test_a_cohort_whose_claims_are_an_earlier_clusters_with_its_failure_mode_is_folded() -> None:
    from factorybrain.agents import EntityRef
    from factorybrain.agents.service._agent import Cluster

    found = Cluster(
        "process_parameter", "press_force_kN:low", EntityRef("parameter", "press_force_kN"),
        "press force low", {}, [*(f"C{k}" for k in range(20)), "V1", "V2", "V3"],
        pd.DataFrame(), pd.DataFrame(), [],
    )  # fmt: skip
    modes = {f"C{k}": "leak" for k in range(30)} | {f"V{k}": "vibration" for k in range(1, 4)}

    def within(claims: list[str]):
        claimed = pd.DataFrame({"claim": claims})
        mode = Counter(modes[c] for c in claims).most_common(1)[0][0]
        return ServiceAgent._within([found], claimed, modes, mode, 0.75)

    # an order where the deviation hit hardest: its claims are the cluster's, leaking
    assert within(["C1", "C2", "C3", "C4"]) is found
    # a machine's window sharing a few of them is a cause of its own
    assert within(["C1", "C25", "C26", "C27"]) is None
    # claims among its own that fail another way are another cause
    assert within(["V1", "V2", "V3", "C1"]) is None


def test_a_normal_presss_window_of_the_parameters_claims_is_where_it_ran_out() -> None:
    from factorybrain.agents import EntityRef
    from factorybrain.agents.service._agent import Cluster
    from factorybrain.agents.service._condition import ConditionShift

    def cluster(attribute: str, subject: EntityRef, claims: list[str], window=None) -> Cluster:
        return Cluster(attribute, subject.external_id, subject, subject.external_id, {}, claims,
                       pd.DataFrame(), pd.DataFrame(), [], window=window)  # fmt: skip

    day = (START, START + timedelta(days=1))
    normal_press = cluster("machine_window", EntityRef("asset", "PR-1", "mes"),
                           ["C1", "C2", "C3", "X1"], day)  # fmt: skip
    worn_press = cluster("machine_window", EntityRef("asset", "PR-2", "mes"),
                         ["C4", "C5", "C6", "X2"], day)  # fmt: skip
    unread_press = cluster("machine_window", EntityRef("asset", "PR-3", "mes"),
                           ["C7", "C8", "C9"], day)  # fmt: skip
    parameter = cluster(
        "process_parameter", EntityRef("parameter", "press_force_kN"),
        [f"C{k}" for k in range(1, 20)],
    )  # fmt: skip
    modes = {f"C{k}": "leak" for k in range(1, 20)} | {"X1": "vibration", "X2": "vibration"}

    class Sensors:  # PR-1 stayed normal, PR-2 wore, PR-3 has no sensors
        def shift(self, equipment, start, end):
            z = {"PR-1": 2.5, "PR-2": 40.0}.get(equipment[1])
            return None if z is None else ConditionShift(z, ("VIB", "TEMP"), start, 30)

    kept = ServiceAgent()._normal_windows_into_parameters(
        [normal_press, worn_press, unread_press, parameter], modes, Sensors()
    )
    # the normal press's window is where the force ran out; a worn press and one whose
    # condition is unknown stay causes of their own
    assert [c.subject.external_id for c in kept] == ["PR-2", "PR-3", "press_force_kN"]
    assert parameter.within == ["PR-1 (PR-1 in its normal condition, largest move 2.5 robust SD)"]
    assert EntityRef("asset", "PR-1", "mes") in parameter.related


def test_the_demo_scorer_counts_a_parameter_right_only_where_it_is_the_claims_cause() -> None:
    from factorybrain.agents.service._demo import Reported, evaluate_clusters

    truth = {
        "claim_clusters": [
            {"cause": "process_out_of_window", "root_cause": "press_force_kN",
             "claim_ids": ["A1", "A2", "A3"]},
            {"cause": "degraded_machine", "root_cause": "EQ-1", "claim_ids": ["B1", "B2"]},
        ],
        "entities": [{"type": "equipment", "id": "EQ-1", "refs": {"mes": ["PRS-1"]}}],
    }  # fmt: skip
    figures = evaluate_clusters(
        [
            Reported("process_parameter", "press_force_kN", ("A1", "A2", "B1")),
            Reported("process_parameter", "wire_tension_N", ("A3",)),
            Reported("process_parameter", "press_force_kN", ("B1", "B2")),
            Reported("machine_window", "PRS-1", ("B1", "B2")),
        ],
        truth,
    )
    assert [d["correct"] for d in figures["details"]] == [True, False, False, True]
    assert figures["cluster_precision_strict"] == 0.5 and figures["clusters_found"] == 1


def test_the_demo_scorer_credits_either_cause_of_an_even_split() -> None:
    from factorybrain.agents.service._demo import Reported, evaluate_clusters

    truth = {
        "claim_clusters": [
            {"cause": "process_out_of_window", "root_cause": "press_force_kN",
             "claim_ids": ["A1", "A2"]},
            {"cause": "degraded_machine", "root_cause": "EQ-1", "claim_ids": ["B1", "B2"]},
            {"cause": "degraded_machine", "root_cause": "EQ-2", "claim_ids": ["C1"]},
        ],
        "entities": [
            {"type": "equipment", "id": "EQ-1", "refs": {"mes": ["PRS-1"]}},
            {"type": "equipment", "id": "EQ-2", "refs": {"mes": ["PRS-2"]}},
        ],
    }  # fmt: skip
    figures = evaluate_clusters(
        [
            # half the press's window's claims are its wear's, half the force's: it is right
            Reported("machine_window", "PRS-1", ("A1", "A2", "B1", "B2")),
            # a machine that holds fewer of the claims than another cause is not
            Reported("machine_window", "PRS-2", ("A1", "A2", "C1")),
        ],
        truth,
    )
    assert [d["correct"] for d in figures["details"]] == [True, False]
    assert figures["details"][0]["truth"] == "degraded_machine:EQ-1"
    assert figures["missed"] == ["EQ-2"]


def test_a_parameters_scope_lists_the_units_furthest_out_first(store, plant) -> None:
    from factorybrain.agents import installed_orchestrator
    from factorybrain.insights import recall_scope

    review = _review(store)
    (cluster,) = review.clusters
    deviations = cluster.scope["deviation_sd"].to_numpy()
    assert len(deviations) > 10 and (deviations < 0).all()  # the low tail, every one known
    assert (np.diff(np.abs(deviations)) <= 0).all()  # furthest out first
    orchestrator = installed_orchestrator(store, with_agents=False, clock=lambda: review.as_of)
    orchestrator.submit(review.items(), agent="service", at=review.as_of)
    page = recall_scope(store, cluster.dedup_key, limit=5)
    shown = [item["deviation_sd"] for item in page["items"]]
    assert shown == [round(float(d), 2) for d in deviations[:5]]
    assert page["total"] == len(deviations)
