"""The service agent on a small plant of other conventions than the demo's: one bad bearing lot."""

from __future__ import annotations

import warnings
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

from factorybrain.agents import AgentContext, AgentRecords, installed_orchestrator
from factorybrain.agents.service import (
    FAILURE_CLUSTER,
    FIELD_RELIABILITY,
    INSPECT,
    PLUGIN,
    ServiceAgent,
    ServiceDataWarning,
    inspect_serials,
)
from factorybrain.context import serial_letters
from factorybrain.exceptions import ParameterError

START = datetime(2026, 1, 5)
ORDERS, PER_ORDER = 60, 40
BAD_LOT = "BRG-L04"


def _put(store, entity: str, rows: list[dict]) -> None:
    store.upsert_entities(entity, pa.Table.from_pylist(rows), "test")


def _edges(store, rows: list[dict]) -> None:
    store.upsert_edges(pa.Table.from_pylist(rows), "test")


def populate(store, *, ship: bool = True) -> dict:
    rng = np.random.default_rng(11)
    _put(store, "material", [
        {"space": "plant", "external_id": "M-BRG", "name": "Ball bearing 6204"},
        {"space": "plant", "external_id": "M-SEAL", "name": "Shaft seal 16 mm"},
    ])  # fmt: skip
    _put(store, "supplier", [{"space": "plant", "external_id": s} for s in ("S1", "S2")])
    _put(store, "customer", [
        {"space": "plant", "external_id": f"C{k}", "name": f"Customer {k}"} for k in range(5)
    ])  # fmt: skip
    lots = []
    for k in range(12):
        lots.append(("BRG", f"BRG-L{k:02d}", "M-BRG", "S1"))
    for k in range(11):
        lots.append(("SEAL", f"SEAL-L{k:02d}", "M-SEAL", "S2"))
    _put(store, "supplier_lot", [
        {"space": "plant", "external_id": f"V-{lot}", "supplier": sup, "material": mat}
        for _, lot, mat, sup in lots
    ])  # fmt: skip
    _put(store, "material_lot", [
        {"space": "plant", "external_id": lot, "material": mat, "supplier_lot": f"V-{lot}"}
        for _, lot, mat, _ in lots
    ])  # fmt: skip
    serials, edges, ops, shipments, claims = [], [], [], [], []
    bad_units = []
    for order in range(ORDERS):
        start = START + timedelta(days=order)
        wo = f"ORD-{order:03d}"
        bearing, seal = f"BRG-L{order // 5:02d}", f"SEAL-L{(order + 3) // 6:02d}"
        for lot in (bearing, seal):
            edges.append({"edge_type": "consumed_in", "source_space": "plant",
                          "source_external_id": lot, "target_space": "plant",
                          "target_external_id": wo, "start_time": start,
                          "quantity": 40.0})  # fmt: skip
        ops.append({"space": "plant", "external_id": f"OP-{order}", "work_order": wo,
                    "sequence": 10, "equipment": "M1", "start_time": start,
                    "end_time": start + timedelta(hours=8)})  # fmt: skip
        shipment = f"SH-{order:03d}"
        shipments.append({"space": "plant", "external_id": shipment, "customer": f"C{order % 5}",
                          "shipped_at": start + timedelta(days=3)})  # fmt: skip
        for k in range(PER_ORDER):
            serial = f"SN-{order:03d}-{k:02d}"
            made = start + timedelta(minutes=10 * k)
            serials.append({"space": "plant", "external_id": serial, "product": "P1",
                            "produced_at": made})  # fmt: skip
            edges.append({"edge_type": "produced", "source_space": "plant",
                          "source_external_id": wo, "target_space": "plant",
                          "target_external_id": serial, "start_time": made})  # fmt: skip
            if ship:
                edges.append({"edge_type": "shipped_in", "source_space": "plant",
                              "source_external_id": serial, "target_space": "plant",
                              "target_external_id": shipment})  # fmt: skip
            bad = bearing == BAD_LOT
            if bad:
                bad_units.append(serial)
            chance = 0.3 if bad else 0.006
            if rng.random() < chance:
                failed = start + timedelta(days=int(rng.integers(10, 60)))
                typed = serial.replace("-", " ").lower()
                if len(claims) % 4 == 0:  # typed on a Chinese keyboard: full-width characters
                    typed = "".join(chr(ord(c) + 0xFEE0) if c.isalnum() else c for c in typed)
                claims.append({"space": "desk", "external_id": f"CL-{len(claims):04d}",
                               "serial_unit": typed,
                               "failure_date": failed, "claimed_at": failed + timedelta(days=2),
                               "text": "loud grinding noise from the bearing" if bad
                               else "water leaking at the seal"})  # fmt: skip
    _put(store, "serial_unit", serials)
    _put(store, "operation", ops)
    _put(store, "shipment", shipments)
    _put(store, "warranty_claim", claims)
    _edges(store, edges)
    return {"bad_units": bad_units, "claims": claims}


@pytest.fixture
def plant(store):
    return populate(store)


def _review(store):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ServiceDataWarning)
        return ServiceAgent().review(store)


def test_the_bad_lot_is_named_first_with_the_contract_numbers(store, plant) -> None:
    review = _review(store)
    clusters = [f for f in review.findings if f.kind == FAILURE_CLUSTER]
    assert [f.subject.external_id for f in clusters] == [BAD_LOT]
    finding = clusters[0]
    assert finding.agent == "service" and finding.subject.type == "material_lot"
    assert finding.dedup_key == f"material_lot:{BAD_LOT}"
    numbers = finding.evidence.numbers
    for key in ("claims", "units", "unit_days", "rate_per_1000_unit_years",
                "baseline_rate_per_1000_unit_years", "rate_ratio", "rate_ratio_low",
                "rate_ratio_high", "q_value", "rank", "separation"):  # fmt: skip
        assert key in numbers, key
    assert numbers["rank"] == 1 and numbers["rate_ratio_low"] > 3 and numbers["q_value"] < 0.01
    # every claim of a bad unit counts, whichever keyboard typed its serial
    bad = {u.replace("-", "") for u in plant["bad_units"]}
    typed = [serial_letters(c["serial_unit"]) for c in plant["claims"]]
    assert numbers["claims"] == sum(1 for t in typed if t in bad)
    refs = finding.evidence.refs
    assert refs[0] == finding.subject
    claim_refs = [r for r in refs if r.type == "warranty_claim"]
    assert refs[1 : 1 + len(claim_refs)] == tuple(claim_refs) and len(claim_refs) <= 50
    # the seal lots built into the same orders are ranked below it, not reported
    assert any(r.type == "material_lot" and r.external_id.startswith("SEAL") for r in refs)
    assert any(r.type == "work_order" for r in refs)
    assert "noise" in finding.evidence.text


def test_the_recall_scope_is_the_lots_serials_in_the_field_not_failed(store, plant) -> None:
    review = _review(store)
    (recommendation,) = [r for r in review.recommendations if r.action_type == INSPECT]
    listed = {s["serial"] for s in recommendation.parameters["serials"]}
    # a unit claimed with its serial typed full width has failed too
    failed = {serial_letters(c["serial_unit"]) for c in plant["claims"]}
    assert listed == {u for u in plant["bad_units"] if u.replace("-", "") not in failed}
    assert all(
        s["customer_name"].startswith("Customer") for s in recommendation.parameters["serials"]
    )
    assert recommendation.requires_approval


def test_an_approved_inspection_plans_one_visit_per_serial_and_never_overwrites(
    store, plant
) -> None:
    review = _review(store)
    # every interface builds its orchestrator from what is installed: the plugin's executor
    # and policy come with the agent
    orchestrator = installed_orchestrator(store, with_agents=False, clock=lambda: review.as_of)
    report = orchestrator.submit(review.items(), agent="service", at=review.as_of)
    actions = [orchestrator.records.action(a) for a in report.actions]
    (action,) = [a for a in actions if a.action_type == INSPECT]
    assert action.required_role == "engineer"
    done = orchestrator.approve(action.id, actor="user:eve", role="engineer")
    assert done.state == "executed", done.result
    (recommendation,) = [r for r in review.recommendations if r.action_type == INSPECT]
    visits = store.query("SELECT serial_unit, tags FROM service_visit")
    assert set(visits["serial_unit"]) == {s["serial"] for s in recommendation.parameters["serials"]}
    context = AgentContext(store, AgentRecords(store))
    with pytest.raises(ParameterError, match="already exists"):
        inspect_serials(context, recommendation.parameters)


def test_reliability_is_fitted_per_product_with_censoring(store, plant) -> None:
    review = _review(store)
    (product,) = [f for f in review.findings if f.kind == FIELD_RELIABILITY]
    numbers = product.evidence.numbers
    assert numbers["b10_low_days"] < numbers["b10_days"] < numbers["b10_high_days"]
    assert 0.8 < numbers["censored_share"] < 1.0


def test_without_shipments_the_agent_says_why_it_cannot_measure(store) -> None:
    populate(store, ship=False)
    with pytest.warns(ServiceDataWarning, match="no serial has been shipped"):
        review = ServiceAgent().review(store)
    assert [f.kind for f in review.findings] == ["service.data_gap"]


def _ghost_claim(store) -> None:
    """A claim on a serial the plant never made: it cannot be linked."""
    _put(store, "warranty_claim", [
        {"space": "desk", "external_id": "CL-GHOST", "serial_unit": "XX-999-99",
         "failure_date": datetime(2025, 3, 1), "claimed_at": datetime(2025, 3, 2),
         "text": "water leaking at the seal"}
    ])  # fmt: skip


@pytest.mark.parametrize("ship", [True, False])
def test_every_gap_is_said_once_as_a_note_and_a_finding(store, ship: bool) -> None:
    populate(store, ship=ship)
    _ghost_claim(store)
    review = _review(store)
    gaps = [f for f in review.findings if f.kind == "service.data_gap"]
    assert len(review.notes) == len(set(review.notes)) == len(gaps)
    assert any("name no serial" in note for note in review.notes)  # said without shipments too


def test_the_plugin_brings_its_executor_and_the_engineers_policy() -> None:
    assert PLUGIN.name == "service"
    assert PLUGIN.executors[INSPECT] is inspect_serials
    (policy,) = PLUGIN.policies
    assert policy.action_type == INSPECT and policy.approver == "engineer"


def _record_in_erp_too(store) -> None:
    """The ERP records every order, its serials and its batches again, under its own order ids;
    the matching has linked each MES order to its ERP order."""
    links, edges, serials = [], [], []
    for order in range(ORDERS):
        wo, erp = f"ORD-{order:03d}", f"{4_000_000 + order:012d}"
        links.append({"space": "context", "external_id": f"ann-{order}", "source_space": "plant",
                      "source_identifier": wo, "source_kind": "entity",
                      "target_type": "work_order", "target_space": "erp",
                      "target_external_id": erp, "confidence": 1.0,
                      "status": "approved"})  # fmt: skip
        bearing, seal = f"BRG-L{order // 5:02d}", f"SEAL-L{(order + 3) // 6:02d}"
        for lot in (bearing, seal):
            edges.append({"edge_type": "consumed_in", "source_space": "plant",
                          "source_external_id": lot, "target_space": "erp",
                          "target_external_id": erp})  # fmt: skip
        for k in range(PER_ORDER):
            serial = f"SN-{order:03d}-{k:02d}"
            serials.append({"space": "erp", "external_id": serial, "product": "P1"})
            edges.append({"edge_type": "produced", "source_space": "erp",
                          "source_external_id": erp, "target_space": "erp",
                          "target_external_id": serial})  # fmt: skip
    _put(store, "annotation", links)
    _put(store, "serial_unit", serials)
    _edges(store, edges)


def test_a_unit_recorded_by_two_silos_counts_once(store, plant) -> None:
    def bad_lot_numbers() -> dict:
        (finding,) = [f for f in _review(store).findings if f.kind == FAILURE_CLUSTER]
        assert finding.subject.external_id == BAD_LOT
        return dict(finding.evidence.numbers)

    alone = bad_lot_numbers()
    _record_in_erp_too(store)
    both = bad_lot_numbers()
    # the same units, claims and evidence: a claim is one failure, not one per silo
    assert both["units"] == alone["units"] == 5 * PER_ORDER
    assert both["claims"] == alone["claims"]
    assert both["p_value"] == pytest.approx(alone["p_value"], rel=1e-6)


def test_units_pass_their_orders_machines_in_build_order_and_a_unit_without_order_none() -> None:
    """Units of two spaces' orders pass each operation at their share of the first one."""
    import pandas as pd

    from factorybrain.agents.service._data import unit_times_on_machines

    at = datetime(2026, 3, 2, 8)
    units = pd.DataFrame(
        {
            "serial": ["A1", "A2", "B1", "C1"],
            "wo_space": ["mes", "mes", "erp", "mes"],
            "work_order": ["WO-2", "WO-2", "WO-1", None],
            "produced_at": [at + timedelta(minutes=45), at + timedelta(minutes=15), None, at],
        }
    )
    operations = pd.DataFrame(
        {
            "wo_space": ["mes", "mes", "erp"],
            "work_order": ["WO-2", "WO-2", "WO-1"],
            "sequence": [20, 10, 10],
            "equipment_space": ["mes", "mes", "erp"],
            "equipment": ["M2", "M1", "M1"],
            "start_time": [at + timedelta(hours=1), at, at + timedelta(hours=4)],
            "end_time": [at + timedelta(hours=2), at + timedelta(hours=1), None],
        }
    )
    passes = unit_times_on_machines(units, operations)
    got = {
        (int(u), str(e), str(s)): t
        for u, s, e, t in passes[["unit", "equipment_space", "equipment", "time"]].itertuples(
            index=False
        )
    }
    assert got == {
        (0, "M1", "mes"): at + timedelta(minutes=45),  # its stamp in the first operation
        (0, "M2", "mes"): at + timedelta(hours=1, minutes=45),
        (1, "M1", "mes"): at + timedelta(minutes=15),
        (1, "M2", "mes"): at + timedelta(hours=1, minutes=15),
        (2, "M1", "erp"): at + timedelta(hours=4),  # an operation without an end: its start
    }
    assert len(passes[passes["equipment"] == "M1"]) == 3


def test_a_screen_that_reaches_its_cluster_limit_says_so_and_one_that_does_not_is_quiet(
    store, plant
) -> None:
    """A fleet with more clusters than the limit must not look like a fleet with only those."""
    with pytest.warns(ServiceDataWarning, match="stopped at its limit of 1 clusters"):
        limited = ServiceAgent(max_clusters=1).review(store)
    clusters = [f for f in limited.findings if f.kind == FAILURE_CLUSTER]
    assert [f.subject.external_id for f in clusters] == [BAD_LOT]
    assert any("limit of 1 clusters" in note for note in limited.notes)
    roomy = _review(store)
    assert len([f for f in roomy.findings if f.kind == FAILURE_CLUSTER]) < 25
    assert not any("limit of" in note for note in roomy.notes)
