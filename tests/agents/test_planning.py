"""The planning agent on a small synthetic plant: shifts, maintenance, rul_low, OEE."""

from __future__ import annotations

import xml.dom.minidom
from dataclasses import replace
from datetime import datetime, timedelta

import pyarrow as pa
import pytest

from factorybrain.agents import AgentRecords, EntityRef, Evidence, Finding, Orchestrator
from factorybrain.agents.planning import (
    PlanningAgent,
    due_date_risks,
    plan_gantt_svg,
    plan_orders,
    plant_oee,
    plant_oee_losses,
    store_plan,
    stored_plan,
    stored_plan_gantt_svg,
)
from factorybrain.exceptions import ParameterError

MONDAY = datetime(2026, 3, 2)
NOW = MONDAY + timedelta(hours=6)


def _table(rows: list[dict]) -> pa.Table:
    """Rows with different keys as one table (missing values are nulls)."""
    keys = list(dict.fromkeys(key for row in rows for key in row))
    return pa.Table.from_pylist([{key: row.get(key) for key in keys} for row in rows])


def _shifts() -> list[tuple[datetime, datetime]]:
    """Early shift 06:00-14:00, Monday to Friday."""
    return [
        (MONDAY + timedelta(days=d, hours=6), MONDAY + timedelta(days=d, hours=14))
        for d in range(5)
    ]


def _seed(store, orders: list[dict], maintenance: list[dict] = ()) -> None:
    store.upsert_entities(
        "asset",
        _table(
            [
                {"space": "mes", "external_id": "L1", "level": "line"},
                {
                    "space": "mes",
                    "external_id": "CUT-1",
                    "level": "equipment",
                    "parent": "L1",
                    "asset_class": "cutter",
                },
                {
                    "space": "mes",
                    "external_id": "WLD-1",
                    "level": "equipment",
                    "parent": "L1",
                    "asset_class": "welder",
                },
                {
                    "space": "mes",
                    "external_id": "WLD-2",
                    "level": "equipment",
                    "parent": "L1",
                    "asset_class": "welder",
                },
            ]
        ),  # fmt: skip
        "seed",
    )
    store.upsert_entities(
        "recipe",
        _table(
            [
                {
                    "space": "mes",
                    "external_id": "P/10",
                    "product": "P",
                    "sequence": 10,
                    "workcell": "cutter",
                    "ideal_cycle_seconds": 60.0,
                    "setup_seconds": 600.0,
                },
                {
                    "space": "mes",
                    "external_id": "P/20",
                    "product": "P",
                    "sequence": 20,
                    "workcell": "welder",
                    "ideal_cycle_seconds": 120.0,
                    "setup_seconds": 600.0,
                },
            ]
        ),  # fmt: skip
        "seed",
    )
    store.upsert_entities(
        "event",
        _table(
            [
                {
                    "space": "mes",
                    "external_id": f"L1/{start:%Y-%m-%d}",
                    "event_type": "shift",
                    "asset": "L1",
                    "reason": "EARLY",
                    "start_time": start,
                    "end_time": end,
                }
                for start, end in _shifts()
            ]
        ),  # fmt: skip
        "seed",
    )
    if orders:
        store.upsert_entities(
            "work_order",
            _table(
                [
                    {
                        "space": "mes",
                        "status": "released",
                        "line": "L1",
                        "product": "P",
                        "release_at": NOW,
                        "priority": 2,
                        **order,
                    }
                    for order in orders
                ]
            ),  # fmt: skip
            "seed",
        )
    if maintenance:
        store.upsert_entities("maintenance_order", _table(list(maintenance)), "seed")


ORDERS = [
    {"external_id": "WO-1", "quantity": 120.0, "due_at": MONDAY + timedelta(days=1, hours=12)},
    {"external_id": "WO-2", "quantity": 120.0, "due_at": MONDAY + timedelta(days=2, hours=12)},
    {"external_id": "WO-3", "quantity": 60.0, "due_at": MONDAY + timedelta(days=3, hours=12)},
]
MAINTENANCE = {
    "space": "erp",
    "external_id": "MO-1",
    "asset": "CUT-1",
    "status": "planned",
    "order_type": "preventive",
    "planned_start": MONDAY + timedelta(hours=7),
    "planned_end": MONDAY + timedelta(hours=10),
}


def _working_minutes(start: datetime, end: datetime, blocked: list) -> int:
    """Minutes of ``[start, end)`` inside a shift and outside every blocked window."""
    minutes = 0
    t = start
    while t < end:
        in_shift = any(a <= t < b for a, b in _shifts())
        if in_shift and not any(a <= t < b for a, b in blocked):
            minutes += 1
        t += timedelta(minutes=1)
    return minutes


def test_plan_works_only_inside_shifts_and_around_maintenance(store) -> None:
    _seed(store, ORDERS, [MAINTENANCE])
    result = plan_orders(store, now=NOW, time_limit=3)
    blocked = {"CUT-1": [(MAINTENANCE["planned_start"], MAINTENANCE["planned_end"])]}
    durations = {
        (job.id, op.id): next(iter(op.durations.values()))
        for job in result.problem.jobs
        for op in job.operations
    }
    assert len(result.operations) == 6
    for op in result.operations.itertuples(index=False):
        windows = blocked.get(op.machine, [])
        # every minute of work lies in a shift and outside maintenance, none is lost
        assert (
            _working_minutes(op.start, op.end, windows)
            == durations[(op.work_order, str(op.sequence))]
        )
        assert any(a <= op.start < b for a, b in _shifts())
        assert not any(a <= op.start < b for a, b in windows)
    ops = result.operations.sort_values("start")
    for _machine, group in ops.groupby("machine"):
        assert (group["start"].iloc[1:].to_numpy() >= group["end"].iloc[:-1].to_numpy()).all()
    for _order, group in ops.groupby("work_order"):
        first, second = group.sort_values("sequence").itertuples(index=False)
        assert second.start >= first.end
    # 120 units x 60 s + 10 min setup = 130 working minutes on the cutter, after maintenance
    cut = result.operations[result.operations["machine"] == "CUT-1"].sort_values("start")
    assert cut["start"].iloc[0] >= MAINTENANCE["planned_end"]


def test_plan_is_stored_and_late_orders_are_reported(store) -> None:
    late_order = {"external_id": "WO-9", "quantity": 600.0, "due_at": NOW + timedelta(hours=4)}
    _seed(store, [*ORDERS, late_order])
    result = plan_orders(store, now=NOW, time_limit=3)
    counts = store_plan(store, result)
    assert counts["work_orders"] == 4
    rows = store.entities("work_order", where={"space": "mes"}).set_index("external_id")
    assert rows["planned_end"].notna().all()
    assert stored_plan(store)["work_order"].nunique() == 4
    findings = due_date_risks(result)
    late = {f.subject.external_id: f for f in findings}
    assert "WO-9" in late
    assert late["WO-9"].kind == "planning.due_date_risk"
    assert late["WO-9"].evidence.numbers["tardiness_hours"] > 0
    expected = result.orders.set_index("external_id").loc["WO-9", "tardiness_hours"]
    assert late["WO-9"].evidence.numbers["tardiness_hours"] == pytest.approx(expected, abs=1e-3)
    on_time = set(result.orders.loc[result.orders["tardiness_hours"] == 0, "external_id"])
    assert not on_time & set(late)


def _rul_low(hours_left: float) -> Finding:
    return Finding(
        "maintenance",
        "maintenance.rul_low",
        EntityRef("asset", "CUT-1", "mes"),
        severity="high",
        confidence=0.8,
        evidence=Evidence((), {"rul_hours": hours_left + 24, "rul_lower_hours": hours_left}),
        dedup_key="episode-1",
        created_at=NOW,
    )


def test_rul_low_gets_a_window_before_the_safe_date_and_tardiness_before_after(store) -> None:
    _seed(store, ORDERS)
    agent = PlanningAgent(time_limit=2, now=NOW, allow_off_shift=False)
    orchestrator = Orchestrator(store, [agent])
    # four hours left: the only window is the first four hours of Monday's shift
    items = list(agent.react(_rul_low(4.0), orchestrator.context(NOW)))
    kinds = [getattr(item, "kind", None) or item.action_type for item in items]
    assert kinds == [
        "planning.maintenance_window",
        "maintenance_order.create",
        "work_order.reschedule",
    ]
    window, maintenance, reschedule = items
    latest = NOW + timedelta(hours=4)
    end = datetime.fromisoformat(maintenance.parameters["planned_end"])
    start = datetime.fromisoformat(maintenance.parameters["planned_start"])
    assert end <= latest and end - start == timedelta(hours=4)
    effect = reschedule.expected_effect
    assert reschedule.requires_approval and maintenance.requires_approval
    assert effect["total_tardiness_hours_after"] >= effect["total_tardiness_hours_before"]
    assert effect["off_shift"] is False
    assert {"late_orders_before", "late_orders_after"} <= set(effect)
    # in shift, the window takes four hours of the cutter: some order moves
    assert reschedule.parameters["orders"]
    # off shift (allowed by default), the same warning costs no tardiness at all
    free = PlanningAgent(time_limit=2, now=NOW)
    *_, off = free.react(_rul_low(30.0), orchestrator.context(NOW))
    assert off.expected_effect["off_shift"] is True
    assert (
        off.expected_effect["total_tardiness_hours_after"]
        == off.expected_effect["total_tardiness_hours_before"]
    )


def test_a_safe_date_already_past_gets_the_earliest_window_and_says_so(store) -> None:
    _seed(store, ORDERS)
    agent = PlanningAgent(time_limit=2, now=NOW)
    orchestrator = Orchestrator(store, [agent])
    # raised two days ago with four hours left: the safe date passed before the plan's origin
    late = replace(_rul_low(4.0), created_at=NOW - timedelta(hours=48))
    window, maintenance, _ = agent.react(late, orchestrator.context(NOW))
    start = datetime.fromisoformat(maintenance.parameters["planned_start"])
    assert NOW <= start < NOW + timedelta(hours=24)
    assert "cannot be kept" in window.evidence.text
    assert "before the latest safe date" not in window.evidence.text
    assert window.evidence.numbers["hours_before_latest_safe"] < 0


def test_rul_low_through_the_orchestrator_becomes_one_action(store) -> None:
    _seed(store, ORDERS)
    orchestrator = Orchestrator(store, [PlanningAgent(time_limit=2, now=NOW)], clock=lambda: NOW)
    report = orchestrator.submit([_rul_low(48.0)], agent="maintenance", at=NOW)
    assert report.actions
    assert AgentRecords(store).findings(kind="planning.maintenance_window")


def _seed_oee(store) -> None:
    _seed(store, [])
    day = MONDAY
    states = [
        ("running", "R00", 6 * 60, 11 * 60),
        ("setup", "S10", 11 * 60, 11 * 60 + 30),
        ("down", "D10", 11 * 60 + 30, 13 * 60),
        ("down", "P10", 13 * 60, 13 * 60 + 30),
        ("idle", "I10", 13 * 60 + 30, 14 * 60),
        ("down", "D10", 14 * 60, 16 * 60),  # off shift: not planned time
    ]
    store.upsert_entities(
        "event",
        _table(
            [
                {
                    "space": "mes",
                    "external_id": f"s{i}",
                    "event_type": "state",
                    "asset": "CUT-1",
                    "state": state,
                    "reason": reason,
                    "start_time": day + timedelta(minutes=a),
                    "end_time": day + timedelta(minutes=b),
                }
                for i, (state, reason, a, b) in enumerate(states)
            ]
        ),  # fmt: skip
        "seed",
    )
    store.upsert_entities(
        "work_order",
        _table(
            [
                {
                    "space": "mes",
                    "external_id": "WO-0",
                    "product": "P",
                    "status": "completed",
                    "line": "L1",
                    "quantity": 250.0,
                }
            ]
        ),  # fmt: skip
        "seed",
    )
    store.upsert_entities(
        "operation",
        _table(
            [
                {
                    "space": "mes",
                    "external_id": "op-1",
                    "work_order": "WO-0",
                    "sequence": 10,
                    "equipment": "CUT-1",
                    "start_time": day + timedelta(hours=6),
                    "end_time": day + timedelta(hours=11),
                    "quantity_good": 240.0,
                    "quantity_scrap": 10.0,
                }
            ]
        ),  # fmt: skip
        "seed",
    )


def test_oee_matches_a_hand_computed_shift(store) -> None:
    _seed_oee(store)
    row = plant_oee(store, assets=["CUT-1"]).set_index("machine").loc["CUT-1"]
    # planned: 480 shift minutes less 30 of planned maintenance; running 300 minutes;
    # 250 units processed at 60 s ideal = 250 minutes; 240 good
    assert row["planned_busy_seconds"] == 450 * 60
    assert row["availability"] == pytest.approx(300 / 450)
    assert row["performance"] == pytest.approx(250 / 300)
    assert row["quality"] == pytest.approx(240 / 250)
    assert row["oee"] == pytest.approx(300 / 450 * 250 / 300 * 240 / 250)
    by_shift = plant_oee(store, by="shift", assets=["CUT-1"]).set_index("shift")
    assert by_shift.loc["EARLY", "oee"] == pytest.approx(row["oee"])
    losses = plant_oee_losses(store, assets=["CUT-1"])
    lost = {(r.category, r.reason): r.seconds for r in losses.itertuples(index=False)}
    assert lost[("downtime", "D10")] == 90 * 60
    assert lost[("downtime", "S10")] == 30 * 60
    assert lost[("idle", "I10")] == 30 * 60
    assert lost[("speed loss", "")] == 50 * 60
    assert lost[("scrap", "")] == 10 * 60
    with pytest.raises(ParameterError, match="NOPE"):
        plant_oee(store, assets=["NOPE"])


def test_gantt_chart_is_valid_svg_with_every_machine(store) -> None:
    _seed(store, ORDERS, [MAINTENANCE])
    svg = plan_gantt_svg(plan_orders(store, now=NOW, time_limit=2))
    xml.dom.minidom.parseString(svg)
    for machine in ("CUT-1", "WLD-1", "WLD-2"):
        assert machine in svg
    assert "maintenance" in svg
    with pytest.raises(ParameterError, match="no plan"):
        stored_plan_gantt_svg(store, now=NOW)
    store_plan(store, plan_orders(store, now=NOW, time_limit=2))
    stored = stored_plan_gantt_svg(store, now=NOW)
    xml.dom.minidom.parseString(stored)
    assert stored.count("job WO-") == 6


def test_plan_and_oee_commands(tmp_path) -> None:
    from typer.testing import CliRunner

    from factorybrain.cli import app
    from factorybrain.store import open_store

    db = tmp_path / "plant.duckdb"
    with open_store(db, migrate=True) as store:
        _seed(store, ORDERS, [MAINTENANCE])
        _seed_oee(store)
    runner = CliRunner()
    gantt = tmp_path / "plan.svg"
    planned = runner.invoke(
        app,
        ["plan", "--db", str(db), "--gantt", str(gantt), "--time-limit", "2", "--now",
         NOW.isoformat(), "--json"],
    )  # fmt: skip
    assert planned.exit_code == 0, planned.output
    assert '"orders": 3' in planned.output
    xml.dom.minidom.parse(str(gantt))
    with open_store(db, read_only=True) as store:
        assert len(stored_plan(store)) == 6
    oee = runner.invoke(app, ["oee", "--db", str(db), "--by", "line", "--json"])
    assert oee.exit_code == 0, oee.output
    assert '"line": "L1"' in oee.output
    wrong = runner.invoke(app, ["oee", "--db", str(db), "--asset", "NOPE"])
    assert wrong.exit_code == 1
    assert "NOPE" in wrong.output


def test_inconsistent_routing_is_explained(store) -> None:
    from factorybrain.agents.planning import build_problem, load_plant_model

    _seed(store, ORDERS)
    store.upsert_entities(
        "recipe",
        _table(
            [
                {
                    "space": "mes",
                    "external_id": "P/30",
                    "product": "P",
                    "sequence": 30,
                    "workcell": "painter",
                    "ideal_cycle_seconds": 30.0,
                    "setup_seconds": 0.0,
                }
            ]
        ),  # fmt: skip
        "seed",
    )
    model = load_plant_model(store, now=NOW)
    # a line without a painter does not paint: the step is left out, the others are planned
    assert [op.id for op in build_problem(model).jobs[0].operations] == ["10", "20"]
    with pytest.raises(ParameterError, match="Step 30 .*WO-1.* no 'painter'"):
        build_problem(model, missing_workcell="error")


def test_a_quality_drift_on_a_machine_holds_its_orders_for_an_inspection_at_once(store) -> None:
    _seed(store, ORDERS)
    agent = PlanningAgent(time_limit=2, now=NOW)
    orchestrator = Orchestrator(store, [agent])
    drift = replace(
        _rul_low(0.0),
        agent="quality",
        kind="quality.drift",
        evidence=Evidence((), {"cpk": 0.6}, "Nelson rule 2 on CUT-1"),
    )
    window, maintenance, reschedule = agent.react(drift, orchestrator.context(NOW))
    assert window.kind == "planning.maintenance_window"
    start = datetime.fromisoformat(maintenance.parameters["planned_start"])
    assert NOW <= start < NOW + timedelta(hours=24)  # no safe date: as soon as the plan allows
    assert maintenance.parameters["asset"] == "CUT-1"
    assert reschedule.action_type == "work_order.reschedule"
    # a drift of a product, not of a machine, stops nothing; nor does a milder drift
    of_product = replace(drift, subject=EntityRef("product", "P-1", "mes"))
    assert list(agent.react(of_product, orchestrator.context(NOW))) == []
    milder = replace(drift, severity="medium")
    assert list(agent.react(milder, orchestrator.context(NOW))) == []


def test_a_quality_drift_through_its_playbook_becomes_one_action(store) -> None:
    _seed(store, ORDERS)
    orchestrator = Orchestrator(store, [PlanningAgent(time_limit=2, now=NOW)], clock=lambda: NOW)
    drift = replace(_rul_low(0.0), agent="quality", kind="quality.drift")
    report = orchestrator.submit([drift], agent="quality", at=NOW)
    (action_id,) = report.actions
    records = AgentRecords(store)
    bundled = records.recommendation(records.action(action_id).recommendation_id)
    steps = {step.action_type for step in bundled.steps}
    assert {"maintenance_order.create", "work_order.reschedule"} <= steps
