"""The quality agent on a small plant of its own conventions: a drifting tester, one bad lot."""

from __future__ import annotations

import warnings
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from factorybrain.agents import (
    AgentContext,
    AgentRecords,
    EntityRef,
    Evidence,
    Finding,
    Recommendation,
    installed_orchestrator,
)
from factorybrain.agents.quality import (
    DATA_GAP,
    DRIFT,
    PLUGIN,
    QUARANTINE,
    ROOT_CAUSE,
    SUPPLIER_ACTION,
    QualityAgent,
    QualityDataWarning,
)

START = datetime(2026, 3, 2)
ORDERS, PER_ORDER = 60, 20
BAD_LOT = "BRG-L04"
DRIFTING = "TESTER-2"


def _put(store, entity: str, rows: list[dict]) -> None:
    store.upsert_entities(entity, pa.Table.from_pylist(rows), "test")


def populate(store, *, claims: bool = True) -> dict:
    """60 orders of 20 pumps; bearing lot BRG-L04 makes noisy pumps; TESTER-2 drifts late."""
    rng = np.random.default_rng(5)
    _put(store, "supplier", [{"space": "erp", "external_id": "SUP-1", "name": "Bearings Inc"}])
    lots = [(f"BRG-L{k:02d}", "BRG") for k in range(12)] + [
        (f"SEAL-L{k:02d}", "SEAL") for k in range(11)
    ]
    _put(store, "supplier_lot", [
        {"space": "erp", "external_id": f"V-{lot}", "supplier": "SUP-1", "material": m}
        for lot, m in lots
    ])  # fmt: skip
    _put(store, "material_lot", [
        {"space": "erp", "external_id": lot, "material": m, "supplier_lot": f"V-{lot}",
         "quantity": 500.0, "status": "available"}
        for lot, m in lots
    ])  # fmt: skip
    serials, edges, ops, params, results, shipments, claim_rows = [], [], [], [], [], [], []
    bad_units = []
    tests_on_drifting = 0
    for order in range(ORDERS):
        start = START + timedelta(hours=8 * order)
        wo = f"WO-{order:03d}"
        bearing, seal = f"BRG-L{order // 5:02d}", f"SEAL-L{(order + 3) // 6:02d}"
        for lot in (bearing, seal):
            edges.append({"edge_type": "consumed_in", "source_space": "erp",
                          "source_external_id": lot, "target_space": "mes",
                          "target_external_id": wo, "start_time": start,
                          "quantity": 20.0})  # fmt: skip
        for step, machine in ((10, f"WINDER-{order % 2 + 1}"), (20, "PRESS-1")):
            op = f"{wo}/{step}"
            ops.append({"space": "mes", "external_id": op, "work_order": wo, "sequence": step,
                        "equipment": machine, "start_time": start + timedelta(hours=step / 10),
                        "end_time": start + timedelta(hours=step / 10 + 1)})  # fmt: skip
            params.append({"space": "mes", "external_id": f"{op}/force", "operation": op,
                           "parameter": "press_force_kN" if step == 20 else "tension_N",
                           "actual": float(rng.normal(50.0, 1.0)), "unit": "kN"})  # fmt: skip
        tester = "TESTER-1" if order % 2 else DRIFTING
        shipment = f"SH-{order:03d}"
        shipments.append({"space": "wms", "external_id": shipment, "customer": "C1",
                          "shipped_at": start + timedelta(days=5)})  # fmt: skip
        for k in range(PER_ORDER):
            serial = f"SN{order:03d}{k:02d}"
            made = start + timedelta(minutes=20 * k)
            serials.append({"space": "mes", "external_id": serial, "product": "PUMP-A",
                            "work_order": wo, "produced_at": made})  # fmt: skip
            edges.append({"edge_type": "shipped_in", "source_space": "mes",
                          "source_external_id": serial, "target_space": "wms",
                          "target_external_id": shipment})  # fmt: skip
            bad = bearing == BAD_LOT
            noise = rng.normal(40.0, 1.0) + (4.0 if bad else 0.0)
            if tester == DRIFTING:
                tests_on_drifting += 1
                if order >= ORDERS - 10:
                    noise += 2.5  # the tester reads high in its last five orders
            failed = noise > 44.0 or (rng.random() < 0.02)
            if bad:
                bad_units.append(serial)
            results.append({"space": "mes", "external_id": f"{serial}/noise",
                            "test_name": "noise_dBA", "value": float(noise),
                            "spec_max": 44.0, "serial_unit": serial, "equipment": tester,
                            "status": "fail" if failed else "pass",
                            "measured_at": made + timedelta(hours=3)})  # fmt: skip
            results.append({"space": "mes", "external_id": f"{serial}/flow",
                            "test_name": "flow_lpm", "value": float(rng.normal(30, 0.5)),
                            "serial_unit": serial, "equipment": tester, "status": "pass",
                            "measured_at": made + timedelta(hours=3)})  # fmt: skip
            if claims and rng.random() < (0.3 if bad else 0.01):
                claim_rows.append({"space": "crm", "external_id": f"CL-{len(claim_rows):03d}",
                                   "serial_unit": serial, "failure_date": made + timedelta(days=40),
                                   "text": "noisy bearing"})  # fmt: skip
    for k in range(5):  # an audit with too few points to chart
        results.append({"space": "qms", "external_id": f"audit-{k}", "test_name": "runout_um",
                        "value": 10.0 + k, "spec_max": 25.0, "serial_unit": f"SN000{k:02d}",
                        "status": "pass", "measured_at": START + timedelta(days=k)})  # fmt: skip
    _put(store, "serial_unit", serials)
    _put(store, "operation", ops)
    _put(store, "operation_parameter", params)
    _put(store, "quality_result", results)
    _put(store, "shipment", shipments)
    if claim_rows:
        _put(store, "warranty_claim", claim_rows)
    store.upsert_edges(pa.Table.from_pylist(edges), "test")
    return {"bad_units": bad_units, "claims": claim_rows}


@pytest.fixture
def plant(store):
    return populate(store)


def _review(store):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QualityDataWarning)
        return QualityAgent().review(store)


def test_the_planted_shift_is_a_drift_naming_rules_points_machine_and_cpk(store, plant) -> None:
    review = _review(store)
    drifts = [f for f in review.findings if f.kind == DRIFT]
    on_drifting = [f for f in drifts if f.subject == EntityRef("asset", DRIFTING)]
    assert len(on_drifting) == 1
    (finding,) = on_drifting
    numbers = finding.evidence.numbers
    assert numbers["nelson_2_signals"] >= 1 and numbers["signals"] > numbers["expected_signals"]
    assert "cpk" in numbers and numbers["cpk_low"] < numbers["cpk"] < numbers["cpk_high"]
    named = [r.external_id for r in finding.evidence.refs if r.type == "quality_result"]
    assert named and all(n.endswith("/noise") for n in named)
    late = {f"SN{order:03d}" for order in range(ORDERS - 10, ORDERS)}
    assert sum(n[:5] in late for n in named) >= 0.8 * len(named)
    assert "rule 2" in finding.evidence.text and "noise_dBA" in finding.evidence.text
    # the steady flow of the same tester and the other tester's noise are not drifts
    assert not any(f.dedup_key.startswith("quality_result:flow_lpm") for f in drifts)


def test_the_root_cause_of_defects_is_the_planted_lot(store, plant) -> None:
    review = _review(store)
    causes = [f for f in review.findings if f.kind == ROOT_CAUSE]
    assert causes, review.notes
    first = causes[0]
    assert first.subject.type == "material_lot" and first.subject.external_id == BAD_LOT
    assert first.evidence.numbers["rate_ratio_low"] > 2
    assert first.evidence.numbers["shap_log_odds"] > 0
    assert not any(c.subject.external_id.startswith("SEAL") for c in causes)


def test_a_plant_of_many_units_learns_from_a_sample_built_with_the_whole_tables_features(
    store, plant
) -> None:
    """Only the units the model learns from get a genealogy: samples of the good and the bad."""
    from factorybrain.agents.quality._causes import find_causes
    from factorybrain.agents.quality._data import load_genealogy

    # one more order, of good pumps only, with a lot and a machine of its own
    start = START + timedelta(days=30)
    _put(store, "operation", [{"space": "mes", "external_id": "WO-X/10", "work_order": "WO-X",
                               "sequence": 10, "equipment": "WINDER-9", "start_time": start,
                               "end_time": start + timedelta(hours=1)}])  # fmt: skip
    _put(store, "serial_unit", [{"space": "mes", "external_id": f"SNX{k}", "product": "PUMP-A",
                                 "work_order": "WO-X", "produced_at": start}
                                for k in range(3)])  # fmt: skip
    _put(store, "quality_result", [{"space": "mes", "external_id": f"SNX{k}/noise",
                                    "test_name": "noise_dBA", "value": 40.0, "spec_max": 44.0,
                                    "serial_unit": f"SNX{k}", "status": "pass",
                                    "measured_at": start} for k in range(3)])  # fmt: skip
    store.upsert_edges(pa.Table.from_pylist([{
        "edge_type": "consumed_in", "source_space": "erp", "source_external_id": "BRG-X",
        "target_space": "mes", "target_external_id": "WO-X", "start_time": start,
    }]), "test")  # fmt: skip
    whole = load_genealogy(store)
    defects = int(whole.units["defective"].sum())
    assert 40 < defects < 100
    for drawn in (100, 40):  # every defective unit, then more of them than the sample holds
        sample = load_genealogy(store, max_units=drawn)
        assert sample.units["defective"].sum() == min(defects, drawn)
        assert len(sample.units) == min(defects, drawn) + drawn
        # a lot or machine of units left out keeps its column: the model sees the same features
        assert list(sample.features.columns) == list(whole.features.columns)
        rows = whole.units["serial"].isin(sample.units["serial"]).to_numpy()
        pd.testing.assert_frame_equal(
            sample.features, whole.features[rows].reset_index(drop=True), check_dtype=False
        )
    # only good units, none drawn, passed the machine and had the lot of the last order
    assert sample.features[["machine:WINDER-9", "lot:erp:BRG-X"]].sum().sum() == 0
    learned, _ = find_causes(load_genealogy(store, max_units=100), max_units=100)
    expected, _ = find_causes(whole, max_units=100)
    assert learned and [(c.label, c.units, c.rate, c.rate_ratio) for c in learned] == [
        (c.label, c.units, c.rate, c.rate_ratio) for c in expected
    ]
    assert learned[0].external_id == BAD_LOT
    learned, _ = find_causes(load_genealogy(store, max_units=100), max_units=100)
    expected, _ = find_causes(whole, max_units=100)


def test_a_routed_field_cluster_becomes_one_bundled_containment(store, plant) -> None:
    at = START + timedelta(days=90)
    orchestrator = installed_orchestrator(store, with_agents=False, clock=lambda: at)
    orchestrator.register(QualityAgent())
    cluster = Finding(
        "service",
        "service.failure_cluster",
        EntityRef("material_lot", BAD_LOT, "erp"),
        severity="high",
        evidence=Evidence(numbers={"claims": 30.0, "rate_ratio": 25.0, "scope_serials": 2.0}),
        dedup_key=f"material_lot:{BAD_LOT}",
    )
    scope = Recommendation(
        "service",
        (cluster.id,),
        "serial_unit.inspect",
        {"space": "agents", "cohort": f"material_lot:{BAD_LOT}", "reason": "cluster",
         "serials": [{"serial": s, "visit_id": f"V-{s}"} for s in plant["bad_units"][:2]]},
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QualityDataWarning)
        report = orchestrator.submit([cluster, scope], agent="service", at=at)
    assert not report.errors, report.errors
    records = orchestrator.records
    (action,) = [records.action(a) for a in report.actions]
    bundle = records.recommendation(action.recommendation_id)
    kinds = [step.action_type for step in bundle.steps]
    assert set(kinds) == {"serial_unit.inspect", QUARANTINE, SUPPLIER_ACTION} | (
        {"maintenance_order.create"} & set(kinds)
    )
    (root,) = records.findings(kind=ROOT_CAUSE, limit=None)
    assert root.subject.external_id == BAD_LOT and root.caused_by == cluster.id
    done = orchestrator.approve(action.id, actor="user:ann", role="planner")
    assert done.state == "executed", done.result
    status = store.query("SELECT status FROM material_lot WHERE external_id = ?", [BAD_LOT])
    assert status["status"].iloc[0] == "quarantined"


def test_reacting_outside_a_playbook_makes_one_composite_proposal(store, plant) -> None:
    cluster = Finding(
        "service", "service.failure_cluster", EntityRef("material_lot", BAD_LOT, "erp"),
        dedup_key=f"material_lot:{BAD_LOT}",
    )  # fmt: skip
    context = AgentContext(store, AgentRecords(store), lambda: START + timedelta(days=90))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QualityDataWarning)
        items = list(QualityAgent().react(cluster, context))
    recommendations = [i for i in items if isinstance(i, Recommendation)]
    assert len(recommendations) == 1
    (proposal,) = recommendations
    assert proposal.action_type == "composite" and proposal.requires_approval
    quarantine = next(s for s in proposal.steps if s.action_type == QUARANTINE)
    assert quarantine.parameters["lots"][0]["external_id"] == BAD_LOT
    assert quarantine.expected_effect["remaining_quantity"] == pytest.approx(400.0)


def test_what_cannot_be_charted_or_judged_is_a_data_gap(store, plant) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        review = QualityAgent().review(store)
    assert any("runout_um" in str(w.message) for w in caught)
    gaps = [f.evidence.text for f in review.findings if f.kind == DATA_GAP]
    assert any("runout_um" in g and "5 points" in g for g in gaps)
    assert any("flow_lpm has no specification limits" in g for g in gaps)


def test_an_empty_store_says_why_it_found_nothing(store) -> None:
    with pytest.warns(QualityDataWarning):
        review = QualityAgent().review(store)
    assert {f.kind for f in review.findings} == {DATA_GAP}


def test_the_plugin_brings_its_executors_and_the_engineers_policies() -> None:
    assert PLUGIN.name == "quality" and "service" in PLUGIN.after
    assert set(PLUGIN.executors) == {QUARANTINE, SUPPLIER_ACTION, "recipe.change_request"}
    assert {p.approver for p in PLUGIN.policies} == {"engineer"}


def _cause(lot: str):
    from factorybrain.agents.quality._causes import Cause

    return Cause("lot", "material_lot", "erp", lot, f"lot {lot}", 100, 30, 0.3, 0.01, 30.0,
                 10.0, 90.0, 1e-9, 0.5, 29.0, members=np.arange(100))  # fmt: skip


def test_of_lots_built_into_the_same_units_the_one_whose_inspection_stood_out_is_named() -> None:
    from factorybrain.agents.quality._agent import _inspected_first
    from factorybrain.agents.quality._data import Inspection

    gasket, bearing, seal = _cause("GASKET-L04"), _cause("BRG-L04"), _cause("SEAL-L09")
    gasket.aliases, gasket.alias_causes = [bearing.label, seal.label], [bearing, seal]
    inspections = {"BRG-L04": Inspection(4.2, "its incoming inspection measured runout 14")}
    named = _inspected_first(gasket, inspections)
    assert named.external_id == "BRG-L04" and named.chosen_because.endswith("runout 14")
    assert named.units == bearing.units  # the bearing lot's own figures
    assert [a.external_id for a in named.alias_causes] == ["GASKET-L04", "SEAL-L09"]
    # the learned suspect is not changed: it is replaced in the list the agent reports
    assert named.names("GASKET-L04") and gasket.alias_causes == [bearing, seal]
    # the lot the defects named stays when its own inspection stood out, or no other's did
    assert _inspected_first(bearing, {"BRG-L04": inspections["BRG-L04"]}) is bearing
    alone = _cause("GASKET-L05")
    assert _inspected_first(alone, inspections) is alone


def test_incoming_inspections_name_a_failed_lot_and_an_outlier_among_its_material(store) -> None:
    from factorybrain.agents.quality._data import incoming_inspections

    rng = np.random.default_rng(3)
    lots = [f"BRG-L{k:02d}" for k in range(8)]
    _put(store, "material_lot", [
        {"space": "erp", "external_id": lot, "material": "BRG"} for lot in lots
    ])  # fmt: skip
    runout = {lot: float(rng.normal(9.0, 0.5)) for lot in lots}
    runout["BRG-L04"] = 14.0
    _put(store, "quality_result", [
        {"space": "lab", "external_id": f"{lot}/runout", "material_lot": lot,
         "test_name": "runout_um", "value": value,
         "status": "fail" if lot == "BRG-L06" else "pass"}
        for lot, value in runout.items()
    ])  # fmt: skip
    found = incoming_inspections(store)
    assert set(found) == {"BRG-L04", "BRG-L06"}
    assert "runout_um 14" in found["BRG-L04"].text and found["BRG-L04"].strength >= 3
    assert found["BRG-L06"].text == "its incoming inspection failed"


def test_a_field_cluster_naming_a_lot_of_the_same_units_keeps_its_lot() -> None:
    from factorybrain.agents.quality._agent import _matching

    gasket, bearing = _cause("GASKET-L04"), _cause("BRG-L04")
    gasket.aliases, gasket.alias_causes = [bearing.label], [bearing]
    named = _matching([gasket], EntityRef("material_lot", "BRG-L04", "erp"))
    # the service agent chose the bearing lot among the two: it stays named, with its figures
    assert named is not None and named.external_id == "BRG-L04"
    assert named.chosen_because == "the field cluster names it"
    assert [a.external_id for a in named.alias_causes] == ["GASKET-L04"]
    # the learned causes serve the next cluster as they were
    assert gasket.alias_causes == [bearing] and bearing.alias_causes == []
    assert _matching([gasket], EntityRef("material_lot", "GASKET-L04")) is gasket
    assert _matching([gasket], EntityRef("material_lot", "SEAL-L01")) is None


def test_of_lots_built_into_the_same_units_the_one_the_field_names_is_the_defects_cause(
    store,
) -> None:
    from factorybrain.agents.quality._agent import _field_lots, _named_in_field

    # the service agent's cluster names the seal lot (the claims leak), stored as a run leaves it
    seal_ref = EntityRef("material_lot", "SEAL-L09", "erp")
    cluster = Finding("service", "service.failure_cluster", seal_ref,
                      evidence=Evidence((seal_ref,), {"claims": 40.0}, "leaks"),
                      dedup_key="material_lot:SEAL-L09", created_at=datetime(2025, 5, 1),
                      title="Field failures cluster in SEAL-L09")  # fmt: skip
    AgentRecords(store).report_finding(cluster, at=datetime(2025, 5, 1))
    field = _field_lots(store)
    assert field == {"SEAL-L09": "Field failures cluster in SEAL-L09"}
    # the defects' model named the impeller lot built into exactly the same units
    impeller, seal = _cause("IMP-L03"), _cause("SEAL-L09")
    impeller.aliases, impeller.alias_causes = [seal.label], [seal]
    named = _named_in_field(impeller, field)
    assert named.external_id == "SEAL-L09"
    assert named.chosen_because == "the field's claims name it (Field failures cluster in SEAL-L09)"
    assert [a.external_id for a in named.alias_causes] == ["IMP-L03"]
    # a lot the field does not name, or one chosen by its own inspection, stays
    assert _named_in_field(impeller, {}) is impeller
    inspected = impeller.in_favour_of(seal, "its incoming inspection failed")
    assert _named_in_field(inspected, {"IMP-L03": "Field failures cluster in IMP-L03"}) is inspected
