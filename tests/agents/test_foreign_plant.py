"""Agents on a plant that is not ours: SAP-style ids, no MES machine list, uncounted stock.

The stores here are small and synthetic, shaped like a foreign plant's exports: spaces named
``sap`` and ``plm`` (never ``mes``, ``erp`` or ``engineering``), 18-digit material numbers, work
centres only named by the routings, consignment stock nobody counts.
"""

from __future__ import annotations

import re
import warnings
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from factorybrain.agents import AgentContext, AgentRecords
from factorybrain.agents.logistics import LogisticsAgent
from factorybrain.agents.planning import PlanningAgent, load_plant_model, plan_orders
from factorybrain.engines.forecast import DataQualityWarning
from factorybrain.exceptions import ParameterError

START = datetime(2026, 1, 5)  # a Monday
NOW = START + timedelta(weeks=12, days=2)
AGENTS = Path(__file__).resolve().parents[2] / "src" / "factorybrain" / "agents"


def _put(store, entity: str, rows: list[dict]) -> None:
    keys = list(dict.fromkeys(key for row in rows for key in row))
    table = pa.Table.from_pylist([{key: row.get(key) for key in keys} for row in rows])
    store.upsert_entities(entity, table, "test")


def _erp_orders(store) -> None:
    """SAP production orders routed over three work centres; no machine list, no shifts."""
    _put(
        store,
        "asset",
        [
            {"space": "sap", "external_id": "10000012", "name": "BAZ-01", "level": "workcell"},
            {"space": "sap", "external_id": "10000013", "name": "VSM-01", "level": "workcell"},
        ],
    )
    steps = [(10, "BAZ-01", 120.0), (20, "VSM-01", 300.0), (30, "MPR-01", 60.0)]
    _put(
        store,
        "recipe",
        [
            {"space": "sap", "external_id": f"HG080/{seq:04d}", "product": "000000000041000080",
             "sequence": seq, "workcell": centre, "ideal_cycle_seconds": cycle,
             "setup_seconds": 600.0}
            for seq, centre, cycle in steps
        ],
    )  # fmt: skip
    _put(
        store,
        "work_order",
        [
            {"space": "sap", "external_id": f"00000100{n:04d}", "product": "000000000041000080",
             "quantity": 24.0, "status": "released", "release_at": START,
             "due_at": START + timedelta(days=2 + n)}
            for n in range(4)
        ]
        + [
            {"space": "sap", "external_id": "000001009999", "product": "000000000041000999",
             "quantity": 5.0, "status": "released", "release_at": START,
             "due_at": START + timedelta(days=3)},
            {"space": "sap", "external_id": "000001000100", "product": "000000000041000080",
             "quantity": 30.0, "status": "completed", "release_at": START,
             "due_at": START + timedelta(days=1)},
        ],
    )  # fmt: skip


def test_planning_runs_from_erp_orders_and_work_centres_without_a_machine_list(store) -> None:
    _erp_orders(store)
    model = load_plant_model(store, now=START)
    assert model.resources == "work_centres"
    assert set(model.machines["machine"]) == {"BAZ-01", "VSM-01", "MPR-01"}
    result = plan_orders(store, now=START, time_limit=5)
    ops = result.operations
    # every open order with a routing is planned through its three steps, in routing order
    assert set(ops["work_order"]) == {f"00000100{n:04d}" for n in range(4)}
    for _, order in ops.groupby("work_order"):
        order = order.sort_values("sequence")
        assert order["machine"].tolist() == ["BAZ-01", "VSM-01", "MPR-01"]
        assert (order["start"].iloc[1:].to_numpy() >= order["end"].iloc[:-1].to_numpy()).all()
    # a work centre runs one operation at a time
    for _, centre in ops.groupby("machine"):
        centre = centre.sort_values("start")
        assert (centre["start"].iloc[1:].to_numpy() >= centre["end"].iloc[:-1].to_numpy()).all()
    # what the planner assumed is said, not hidden
    notes = " ".join(model.notes + result.model.notes)
    assert "around the clock" in notes
    assert "MPR-01" in notes  # a work centre without a record
    assert "000001009999" in " ".join(result.model.notes)  # an order without routing


def test_planning_agent_reports_its_assumptions_as_one_finding(store) -> None:
    _erp_orders(store)
    agent = PlanningAgent(time_limit=5, now=START)
    items = list(agent.run(AgentContext(store, AgentRecords(store))))
    quality = [i for i in items if getattr(i, "kind", "") == "planning.data_quality"]
    assert len(quality) == 1
    assert "around the clock" in quality[0].evidence.text
    assert "000001009999" in quality[0].evidence.text


def test_planning_names_what_is_missing_when_nothing_can_be_planned(store) -> None:
    _put(
        store,
        "work_order",
        [{"space": "sap", "external_id": "1", "product": "X", "status": "released",
          "quantity": 1.0}],
    )  # fmt: skip
    with pytest.raises(ParameterError, match=r"space 'sap': 1 open order\(s\), 0 routing"):
        load_plant_model(store)


def _uncounted_stock(store) -> None:
    """A material master, one counted component, one consignment bearing nobody counts."""
    counted, consignment, product = "000000000020000101", "000000000030206000", "41000080"
    _put(
        store,
        "material",
        [
            {"space": "sap", "external_id": counted, "name": "HOUSING CASTING",
             "material_type": "ROH", "lead_time_days": 7.0},
            {"space": "sap", "external_id": consignment, "name": "TAPER ROLLER BEARING 30206",
             "material_type": "ROH", "lead_time_days": 5.0},
            {"space": "sap", "external_id": product, "name": "HG 80", "material_type": "FERT"},
        ],
    )  # fmt: skip
    moves = [
        (kind, material, 40.0 + w % 3, START + timedelta(weeks=w, days=1))
        for w in range(12)
        for kind, material in (("consumption", counted), ("consumption", consignment))
    ]
    _put(
        store,
        "inventory_transaction",
        [
            {"space": "sap", "external_id": f"M{i}", "transaction_type": kind,
             "material": material, "quantity": -qty, "occurred_at": at}
            for i, (kind, material, qty, at) in enumerate(moves)
        ],
    )  # fmt: skip
    _put(
        store,
        "stock_level",
        [
            {"space": "sap", "external_id": "S1", "material": counted, "quantity": 5000.0,
             "as_of": START + timedelta(weeks=11, days=6)},
            {"space": "sap", "external_id": "S2", "material": product, "quantity": 100.0,
             "as_of": START + timedelta(weeks=11, days=6)},
        ],
    )  # fmt: skip


def test_a_material_nobody_counts_is_stock_unknown_not_a_stockout(store) -> None:
    _uncounted_stock(store)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        plan = LogisticsAgent(n_samples=200).plan(store, as_of=NOW)
    unknown = [f for f in plan.findings if f.kind == "logistics.stock_unknown"]
    assert len(unknown) == 1
    assert [ref.external_id for ref in unknown[0].evidence.refs] == ["000000000030206000"]
    assert unknown[0].evidence.refs[0].space == "sap"
    assert "TAPER ROLLER BEARING 30206" in unknown[0].evidence.text
    about_bearing = [
        f
        for f in plan.findings
        if f.kind != "logistics.stock_unknown" and f.subject.external_id == "000000000030206000"
    ]
    assert about_bearing == []
    assert not any("30206000" in str(r.parameters) for r in plan.recommendations)
    # the counted material is still planned from its count
    policies = plan.policies.set_index("external_id")
    assert policies.loc["000000000020000101", "on_hand"] == pytest.approx(5000.0)


def test_every_item_counted_means_no_stock_unknown_finding(store) -> None:
    _uncounted_stock(store)
    _put(
        store,
        "stock_level",
        [{"space": "sap", "external_id": "S3", "material": "000000000030206000",
          "quantity": 0.0, "as_of": START + timedelta(weeks=11, days=6)}],
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        plan = LogisticsAgent(n_samples=200).plan(store, as_of=NOW)
    assert not [f for f in plan.findings if f.kind == "logistics.stock_unknown"]
    # a count of zero is a count: a real stock-out is still reported
    assert any(
        f.kind == "logistics.stockout_risk" and f.subject.external_id == "000000000030206000"
        for f in plan.findings
    )


@pytest.mark.parametrize("agent", ["maintenance", "planning", "logistics"])
def test_no_agent_code_names_a_space(agent: str) -> None:
    """Agents read spaces from the data: no space of the demo plant is written in their code."""
    names = r"mes|erp|historian|engineering|wms|qms|crm|plm|sap"
    # a default (space: str = "mes"), a filter (WHERE space = 'mes') or a fallback (or "mes")
    pattern = re.compile(rf"""space\b[^\n]*?(?:=|\bor)\s*["']({names})["']""")
    offenders = []
    for path in sorted((AGENTS / agent).glob("*.py")):
        if path.name == "_demo.py":  # the demo plant's scorers read its truth file
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line):
                offenders.append(f"{path.name}:{number}: {line.strip()}")
    assert offenders == []


def test_without_a_routing_table_the_routing_is_read_from_confirmed_operations(store) -> None:
    """SAP exports orders and confirmations (AFKO, AFRU) but no routing: the past tells it."""
    _put(
        store,
        "work_order",
        [
            {"space": "sap", "external_id": f"10000{n}", "product": "41000080",
             "quantity": 10.0, "status": "completed"}
            for n in range(3)
        ]
        + [
            {"space": "sap", "external_id": "200001", "product": "41000080", "quantity": 20.0,
             "status": "released", "release_at": START, "due_at": START + timedelta(days=3)}
        ],
    )  # fmt: skip
    confirmations = []
    for n in range(3):
        begin = START - timedelta(days=10 - n)
        for seq, centre, minutes in ((10, "BAZ-01", 50), (20, "VSM-01", 100)):
            confirmations.append(
                {"space": "sap", "external_id": f"10000{n}/{seq}", "work_order": f"10000{n}",
                 "sequence": seq, "equipment": centre, "start_time": begin,
                 "end_time": begin + timedelta(minutes=minutes + n), "quantity_good": 10.0,
                 "status": "completed"}
            )  # fmt: skip
            begin += timedelta(minutes=minutes + 10)
    _put(store, "operation", confirmations)
    model = load_plant_model(store, now=START)
    routing = model.routings.set_index("sequence")
    assert routing.loc[10, "workcell"] == "BAZ-01" and routing.loc[20, "workcell"] == "VSM-01"
    # the median of 100, 101 and 102 minutes for 10 units
    assert routing.loc[20, "ideal_cycle_seconds"] == pytest.approx(606.0)
    assert any("confirmed operations" in note for note in model.notes)
    result = plan_orders(store, model=model, time_limit=5)
    planned = result.operations.sort_values("sequence")
    assert planned["machine"].tolist() == ["BAZ-01", "VSM-01"]
    # 20 units at 606 s each on the grinder: 202 minutes
    grinder = planned.iloc[1]
    assert (grinder["end"] - grinder["start"]).total_seconds() / 60 == pytest.approx(202, abs=1)
