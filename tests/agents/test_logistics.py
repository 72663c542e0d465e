from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pyarrow as pa
import pytest

from factorybrain.agents import (
    AgentContext,
    AgentRecords,
    EntityRef,
    Evidence,
    Finding,
    Orchestrator,
    Recommendation,
)
from factorybrain.agents.logistics import (
    LogisticsAgent,
    MachineRisk,
    check_spare_part,
    health_demand,
)
from factorybrain.agents.logistics._data import load_logistics, machine_key, material_key
from factorybrain.agents.logistics._demo import replay_spares
from factorybrain.engines.forecast import DataQualityWarning

START = datetime(2026, 1, 5)  # a Monday
WEEKS = 16
NOW = START + timedelta(weeks=WEEKS, days=2)
PUMP_UNIT = "000000000070000305"
FLYER = "000000000070000288"
CASTING = "000000000020000101"
PRODUCT = "000000000010001001"


def _put(store, entity: str, rows: list[dict]) -> None:
    store.upsert_entities(entity, pa.Table.from_pylist(rows), "test")


@pytest.fixture
def plant(store):
    """Two machines and their spare parts, a component and a product with weekly demand."""
    return populate(store)


def populate(store):
    """Write the small plant of these tests into ``store`` and return it."""
    _put(
        store,
        "material",
        [
            {"space": "erp", "external_id": PUMP_UNIT, "name": "HYDRAULIC PUMP UNIT FOR PRESS",
             "material_type": "ERSA", "lead_time_days": 3.0},
            {"space": "erp", "external_id": FLYER, "name": "FLYER BEARING UNIT FOR WINDING MACHINE",
             "material_type": "ERSA", "lead_time_days": 4.0},
            {"space": "erp", "external_id": CASTING, "name": "PUMP HOUSING CASTING",
             "material_type": "ROH", "lead_time_days": 14.0},
            {"space": "erp", "external_id": PRODUCT, "name": "AquaCirc 25-40",
             "material_type": "FERT"},
        ],
    )  # fmt: skip
    _put(
        store,
        "asset",
        [
            {"space": "engineering", "external_id": m, "level": "equipment"}
            for m in ("line1/press-1", "line1/winder-1")
        ],
    )
    _put(
        store,
        "bom",
        [
            {"space": "engineering", "external_id": "line1/press-1/SP-PRS-HPU",
             "parent": "line1/press-1", "parent_type": "asset", "component": "SP-PRS-HPU",
             "quantity": 1.0},
            {"space": "engineering", "external_id": "line1/winder-1/SP-WND-FLY",
             "parent": "line1/winder-1", "parent_type": "asset", "component": "SP-WND-FLY",
             "quantity": 1.0},
        ],
    )  # fmt: skip
    moves = [
        # past repairs: the WMS names the machines its own way and drops leading zeros
        ("issue", "70000305", "PRESS01", 1.0, START + timedelta(days=20)),
        ("issue", "70000288", "WINDER01", 1.0, START + timedelta(days=40)),
    ]
    moves += [
        ("consumption", "20000101", "L1", 100.0 + 10 * (w % 3), START + timedelta(weeks=w, days=1))
        for w in range(WEEKS)
    ]
    _put(
        store,
        "inventory_transaction",
        [
            {"space": "wms", "external_id": f"M{i}", "transaction_type": kind, "material": mat,
             "location": where, "quantity": qty, "occurred_at": at}
            for i, (kind, mat, where, qty, at) in enumerate(moves)
        ],
    )  # fmt: skip
    _put(
        store,
        "sales_order",
        [
            {"space": "erp", "external_id": f"SO{w}", "product": PRODUCT,
             "quantity": 40.0 + 5 * (w % 2), "ordered_at": START + timedelta(weeks=w, days=2)}
            for w in range(WEEKS)
        ],
    )  # fmt: skip
    counted = START + timedelta(weeks=WEEKS - 1, days=6)
    _put(
        store,
        "stock_level",
        [
            {"space": "erp", "external_id": f"S{mat}", "material": mat, "location": "MRO1",
             "quantity": qty, "as_of": counted}
            for mat, qty in ((PUMP_UNIT, 0.0), (FLYER, 1.0), (CASTING, 60.0), (PRODUCT, 500.0))
        ],
    )  # fmt: skip
    return store


def _rul_low(machine: str, hours: float, lower: float, upper: float) -> Finding:
    return Finding(
        "maintenance",
        "maintenance.rul_low",
        EntityRef("asset", machine, "mes"),
        severity="high",
        confidence=0.8,
        evidence=Evidence(
            (EntityRef("time_series", f"L1_{machine.replace('-', '')}.VIB_RMS"),),
            {
                "rul_hours": hours,
                "rul_lower_hours": lower,
                "rul_upper_hours": upper,
                "horizon_hours": 168.0,
            },
        ),
        dedup_key="episode-1",
        created_at=NOW,
    )


def _context(store) -> AgentContext:
    return AgentContext(store, AgentRecords(store), clock=lambda: NOW)


def test_identifiers_of_every_silo_name_the_same_machine_and_material():
    assert machine_key("line3/press-3") == machine_key("PRS-03") == ("press", 3)
    assert machine_key("L3_PRS03") == machine_key("PRESS03") == ("press", 3)
    assert machine_key("line1/test-bench-1") == machine_key("EOL-01") == ("tester", 1)
    assert machine_key("10004082") is None
    assert material_key("000000000070000305") == material_key("70000305")


def test_spare_parts_of_a_machine_bom_resolve_to_the_material_issued_to_it(plant):
    data = load_logistics(plant, as_of=NOW)
    (part,) = data.spares["line1/press-1"]
    assert part.material == material_key(PUMP_UNIT)
    assert part.link == "issue history"
    assert data.machine_of(["PRS-01"]) == "line1/press-1"


def test_rul_low_on_a_machine_whose_spare_part_is_out_of_stock_orders_it(plant):
    items = list(LogisticsAgent().react(_rul_low("PRS-01", 60.0, 30.0, 110.0), _context(plant)))
    findings = [i for i in items if isinstance(i, Finding)]
    orders = [i for i in items if isinstance(i, Recommendation)]
    assert [f.kind for f in findings] == ["logistics.stockout_risk"]
    assert findings[0].subject.external_id == PUMP_UNIT
    assert 0.0 < findings[0].evidence.numbers["failure_probability_within_lead_time"] < 1.0
    (order,) = orders
    assert order.action_type == "purchase_order.create"
    assert order.requires_approval
    assert order.parameters["material"] == PUMP_UNIT
    assert order.parameters["quantity"] == 1.0


def test_the_orchestrator_routes_rul_low_to_logistics_and_proposes_one_purchase(plant):
    orchestrator = Orchestrator(plant, [LogisticsAgent()], playbooks=(), clock=lambda: NOW)
    report = orchestrator.submit([_rul_low("PRS-01", 60.0, 30.0, 110.0)], agent="maintenance")
    assert report.reactions and report.reactions[0][0] == "logistics"
    assert len(report.actions) == 1
    action = orchestrator.records.action(report.actions[0])
    assert action.action_type == "purchase_order.create" and action.state == "proposed"


def test_a_machine_whose_part_is_on_the_shelf_or_far_from_failure_orders_nothing(plant):
    agent, context = LogisticsAgent(), _context(plant)
    assert list(agent.react(_rul_low("WND-01", 60.0, 30.0, 110.0), context)) == []
    assert list(agent.react(_rul_low("PRS-01", 4000.0, 3000.0, 5000.0), context)) == []


def test_another_warned_machine_reserves_the_only_part():
    check = check_spare_part(
        material="m", machine="press-2", quantity=1, on_hand=1, on_order=0,
        lead_time_hours=72, probability_lead_time=0.2, probability_horizon=0.9, reserved=1.0,
    )  # fmt: skip
    assert check.order_quantity == 1.0
    alone = check_spare_part(
        material="m", machine="press-2", quantity=1, on_hand=1, on_order=0,
        lead_time_hours=72, probability_lead_time=0.2, probability_horizon=0.9,
    )  # fmt: skip
    assert not alone.order_now


def test_health_demand_adds_each_machines_failure_probability_within_the_lead_time(plant):
    data = load_logistics(plant, as_of=NOW)
    near = MachineRisk("line1/press-1", NOW, 48.0, 24.0, 80.0, 168.0)
    far = MachineRisk("line1/winder-1", NOW, 3000.0, 2000.0, 4000.0, 168.0)
    demand = health_demand(
        [near, far], data.spares, {material_key(PUMP_UNIT): 72.0, material_key(FLYER): 96.0}
    )
    assert demand[material_key(PUMP_UNIT)].expected > 0.6
    assert demand[material_key(FLYER)].expected < 0.01
    assert demand[material_key(PUMP_UNIT)].distribution.sum() == pytest.approx(1.0)


def test_plan_sets_levels_for_every_item_and_flags_the_short_component(plant):
    plan = LogisticsAgent(n_samples=200).plan(plant, as_of=NOW)
    policies = plan.policies.set_index("unique_id")
    assert set(policies.index) == {material_key(m) for m in (PUMP_UNIT, FLYER, CASTING, PRODUCT)}
    casting = policies.loc[material_key(CASTING)]
    assert casting["lead_periods"] == 2
    assert casting["order_up_to"] >= casting["reorder_point"] > 0
    kinds = {(f.kind, f.subject.external_id) for f in plan.findings}
    assert ("logistics.stockout_risk", CASTING) in kinds  # 60 on hand, ~220 over two weeks
    orders = [r for r in plan.recommendations if r.parameters["material"] == CASTING]
    assert orders and orders[0].requires_approval
    assert orders[0].parameters["quantity"] >= casting["order_up_to"] - 60.0 - 1e-9
    assert not [r for r in plan.recommendations if r.parameters["material"] == PRODUCT]


def test_plan_with_a_warned_machine_raises_the_spare_parts_level(plant):
    risk = MachineRisk("line1/press-1", NOW, 48.0, 24.0, 80.0, 168.0)
    agent = LogisticsAgent(n_samples=200)
    quiet = agent.plan(plant, as_of=NOW).policies.set_index("unique_id")
    warned = agent.plan(plant, as_of=NOW, risks=[risk]).policies.set_index("unique_id")
    key = material_key(PUMP_UNIT)
    assert warned.loc[key, "health_demand"] > 0.5
    assert quiet.loc[key, "health_demand"] == 0.0
    assert warned.loc[key, "order_up_to"] > quiet.loc[key, "order_up_to"]


def test_new_items_and_missing_lead_times_fall_back_with_a_warning(plant):
    _put(
        plant,
        "material",
        [{"space": "erp", "external_id": "000000000070000999", "name": "NEW GASKET",
          "material_type": "ERSA"}],
    )  # fmt: skip
    _put(  # a product launched three weeks ago
        plant,
        "sales_order",
        [
            {"space": "erp", "external_id": f"NEW{w}", "product": "000000000010009001",
             "quantity": 5.0, "ordered_at": START + timedelta(weeks=w, days=3)}
            for w in range(WEEKS - 3, WEEKS)
        ],
    )  # fmt: skip
    with pytest.warns(DataQualityWarning) as caught:
        plan = LogisticsAgent(n_samples=200, default_lead_time_days=10.0).plan(plant, as_of=NOW)
    messages = " ".join(str(w.message) for w in caught)
    assert "no demand on record" in messages and "70000999" in messages
    assert "no lead time" in messages
    assert "fewer than" in messages and "10009001" in messages  # short history: its average
    launched = plan.policies.set_index("unique_id").loc["10009001"]
    assert launched["mean_demand"] == pytest.approx(5.0, rel=0.3)
    row = plan.policies.set_index("unique_id").loc["70000999"]
    assert row["lead_time_days"] == 10.0 and row["mean_demand"] == 0.0
    assert any("70000999" in w for w in plan.warnings)


def test_an_empty_store_warns_and_plans_nothing(store):
    with pytest.warns(DataQualityWarning, match="no products or materials"):
        plan = LogisticsAgent().plan(store)
    assert plan.policies.empty and plan.findings == []
    assert plan.as_of is None  # no data, nothing to date the plan by (not 1970-01-01)
    with pytest.warns(DataQualityWarning):
        assert LogisticsAgent().plan(store, as_of=NOW).as_of is None


def test_replay_avoids_the_stockouts_that_warnings_come_early_enough_for():
    truth = {
        "plant": {"start": "2026-01-01T00:00:00Z", "end": "2026-03-01T00:00:00Z"},
        "entities": [{"id": "EQ-1", "type": "equipment", "refs": {"mes": ["PRS-01"]}}],
        "spare_policy": {"MAT-1": {"initial": 0, "reorder_point": -1, "order_quantity": 1}},
        "failures": [
            {"machine": "EQ-1", "time": "2026-01-10T00:00:00Z", "spare_part": "MAT-1"},
            {"machine": "EQ-1", "time": "2026-02-10T00:00:00Z", "spare_part": "MAT-1"},
        ],
    }
    lead = {"MAT-1": 3.0}
    without = replay_spares(truth, lead)
    early = [("PRS-01", pd.Timestamp("2026-01-05")), ("PRS-01", pd.Timestamp("2026-02-09"))]
    with_health = replay_spares(truth, lead, early)
    assert (without.stockouts, with_health.stockouts) == (2, 1)  # the second warning is late
    assert without.waiting_hours == pytest.approx(2 * 72.0)
    assert with_health.waiting_hours == pytest.approx(48.0)


def test_a_maintenance_window_planned_for_a_rul_low_checks_that_machines_spares(plant):
    context = _context(plant)
    root, _ = context.records.report_finding(_rul_low("PRS-01", 60.0, 30.0, 110.0), at=NOW)
    window = Finding(
        "planning",
        "planning.maintenance_window",
        EntityRef("asset", "PRS-01", "mes"),
        caused_by=root.id,
        depth=1,
        created_at=NOW,
    )
    items = list(LogisticsAgent().react(window, context))
    orders = [i for i in items if isinstance(i, Recommendation)]
    assert [o.parameters["material"] for o in orders] == [PUMP_UNIT]
    (finding,) = [i for i in items if isinstance(i, Finding)]
    assert root.id in {ref.external_id for ref in finding.evidence.refs}
    assert root.id in orders[0].finding_ids  # one order per warning, whoever relays it
    direct = [i for i in LogisticsAgent().react(root, context) if isinstance(i, Recommendation)]
    assert [o.id for o in direct] == [o.id for o in orders]
    unrelated = Finding("planning", "planning.maintenance_window", EntityRef("asset", "PRS-01"))
    assert list(LogisticsAgent().react(unrelated, context)) == []


def test_a_stockout_risk_resolves_once_the_stock_is_healthy_again(plant):
    orchestrator = Orchestrator(plant, [LogisticsAgent(n_samples=200)])
    orchestrator.run(at=NOW)
    records = orchestrator.records
    (short,) = [
        f
        for f in records.findings(kind="logistics.stockout_risk", limit=None)
        if f.subject.external_id == CASTING
    ]
    assert short.status == "open"
    # a delivery is counted: 2,000 castings on the shelf, far above the reorder point
    _put(
        plant,
        "stock_level",
        [{"space": "erp", "external_id": "S-delivered", "material": CASTING, "location": "MRO1",
          "quantity": 2000.0, "as_of": NOW + timedelta(hours=2)}],
    )  # fmt: skip
    later = orchestrator.run(at=NOW + timedelta(hours=3))
    assert short.id in later.resolved
    assert records.finding(short.id).status == "resolved"
    (entry,) = records.audit_log(object_id=short.id, verb="finding.resolved")
    assert entry.actor == "logistics" and "stock is healthy again" in entry.details["why"]
    assert entry.details["numbers"]["on_hand"] == 2000.0
    # the pump unit is still out of stock: its finding stays as it was
    still = [
        f
        for f in records.findings(agent="logistics", limit=None)
        if f.subject.external_id == PUMP_UNIT and f.status == "resolved"
    ]
    assert still == []
