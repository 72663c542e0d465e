"""Maintenance findings age: a repaired machine's warnings resolve, a worn one's stay open."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from factorybrain.agents import AgentRecords, Orchestrator
from factorybrain.agents.core._telemetry import AssetData
from factorybrain.agents.maintenance import MaintenanceAgent
from factorybrain.agents.maintenance._demo import maintenance_stage
from factorybrain.agents.maintenance._trend import sensor_trends

START = datetime(2026, 2, 2)
DAYS = 14
#: The repaired press: wears from day 4, down for a repair on day 8 from 10:00 to 14:00.
REPAIR_START = START + timedelta(days=8, hours=10)
REPAIRED = START + timedelta(days=8, hours=14)
#: The worn press wears from day 8 to the end of the data.
#: The passing press deviates on days 5 and 6 and is normal again from day 7, never repaired.
MACHINES = {"L1_PRS01": "PRS-01", "L1_PRS02": "PRS-02", "L1_PRS03": "PRS-03"}
WARNINGS = ("maintenance.anomaly", "maintenance.rul_low")


def _wear(days: np.ndarray, onset: float, until: float) -> np.ndarray:
    """0 before ``onset``, rising to 1 at ``until``, 0 again after (a repair or a passing fault)."""
    ramp = np.clip((days - onset) / (until - onset), 0.0, 1.0) ** 1.5
    return np.where(days < until, ramp, 0.0)


def _readings(rng: np.random.Generator, health: np.ndarray, running: np.ndarray) -> dict:
    minutes = len(health)
    return {
        "RUN": running.astype(float),
        "VIB_RMS": 2.0 * (1 + 2.2 * health) + rng.normal(0, 0.5, minutes),
        "BRG_TEMP": 45.0 + 14 * health + rng.normal(0, 1.5, minutes),
        "MOTOR_CURR": 16.0 * (1 + 0.12 * health) + rng.normal(0, 0.3, minutes),
        "SPEED": 2500.0 + rng.normal(0, 7.0, minutes),
    }


def _plant() -> tuple[np.ndarray, dict[str, dict[str, np.ndarray]]]:
    rng = np.random.default_rng(11)
    minutes = DAYS * 24 * 60
    times = np.datetime64(START, "ms") + np.arange(minutes) * np.timedelta64(1, "m")
    days = np.arange(minutes) / (24 * 60)
    hour = (np.arange(minutes) // 60) % 24
    shift = (hour >= 6) & (hour < 22)
    repair = (times >= np.datetime64(REPAIR_START)) & (times < np.datetime64(REPAIRED))
    devices = {
        "L1_PRS01": _readings(rng, _wear(days, 4.0, 8.0 + 10 / 24), shift & ~repair),
        "L1_PRS02": _readings(rng, _wear(days, 8.0, DAYS + 1.0), shift),
        "L1_PRS03": _readings(rng, _wear(days, 5.0, 7.0) * 0.8, shift),
    }
    return times, devices


def _load_readings(store, times: np.ndarray, devices: dict, lo: datetime, hi: datetime) -> None:
    keep = (times >= np.datetime64(lo)) & (times < np.datetime64(hi))
    names = [f"{device}.{signal}" for device, data in devices.items() for signal in data]
    ids = store.ensure_series("historian", names, "test").to_pydict()
    series_id = dict(zip(ids["external_id"], ids["series_id"], strict=True))
    batches = [
        pa.record_batch(
            {
                "series_id": pa.array(
                    np.full(int(keep.sum()), series_id[f"{device}.{signal}"]), pa.int32()
                ),
                "ts": pa.array(times[keep], pa.timestamp("us")),
                "value": pa.array(values[keep], pa.float64()),
            }
        )
        for device, data in devices.items()
        for signal, values in data.items()
    ]
    store.append_datapoints(iter(batches))


def _model(store, devices: dict, *, order_status: str = "completed") -> None:
    """Series, equipment, links, MES states and the ERP's repair order of the three presses."""
    names = [f"{device}.{signal}" for device, data in devices.items() for signal in data]
    ids = store.ensure_series("historian", names, "test").to_pydict()
    series_id = dict(zip(ids["external_id"], ids["series_id"], strict=True))
    store.upsert_entities(
        "time_series",
        pa.table(
            {
                "space": ["historian"] * len(names),
                "external_id": names,
                "series_id": [series_id[n] for n in names],
                "asset": [n.split(".")[0] for n in names],
                "is_step": [n.endswith(".RUN") for n in names],
                "value_type": ["state" if n.endswith(".RUN") else "float" for n in names],
            }
        ),
        "test",
    )
    machines = list(MACHINES.values())
    store.upsert_entities(
        "asset",
        pa.table(
            {
                "space": ["mes"] * 3,
                "external_id": machines,
                "level": ["equipment"] * 3,
                "asset_class": ["Hydraulic press"] * 3,
            }
        ),
        "test",
    )
    # the historian's devices and the ERP's equipment number are the MES presses (approved)
    links = [("historian", device, machine) for device, machine in MACHINES.items()]
    links.append(("erp", "10001", "PRS-01"))
    store.upsert_entities(
        "annotation",
        pa.table(
            {
                "space": ["context"] * len(links),
                "external_id": [f"link-{i}" for i in range(len(links))],
                "source_space": [space for space, _, _ in links],
                "source_identifier": [source for _, source, _ in links],
                "target_type": ["asset"] * len(links),
                "target_space": ["mes"] * len(links),
                "target_external_id": [target for _, _, target in links],
                "confidence": [0.99] * len(links),
                "status": ["approved"] * len(links),
            }
        ),
        "test",
    )
    starts, ends, states, assets = [], [], [], []
    for machine in machines:
        for day in range(DAYS):
            base = START + timedelta(days=day)
            spans = [(6, 22, "running")]
            if machine == "PRS-01" and day == 8:
                spans = [(6, 10, "running"), (10, 14, "down"), (14, 22, "running")]
            for lo, hi, state in spans:
                starts.append(base + timedelta(hours=lo))
                ends.append(base + timedelta(hours=hi))
                states.append(state)
                assets.append(machine)
    store.upsert_entities(
        "event",
        pa.table(
            {
                "space": ["mes"] * len(starts),
                "external_id": [f"S{i}" for i in range(len(starts))],
                "event_type": ["state"] * len(starts),
                "state": states,
                "asset": assets,
                "start_time": pa.array(starts, pa.timestamp("us")),
                "end_time": pa.array(ends, pa.timestamp("us")),
            }
        ),
        "test",
    )
    # PRS-01's repair, under the ERP's own name for it; an inspection of the worn PRS-02 that
    # found nothing to fix (no down, its wear goes on)
    inspected = START + timedelta(days=12, hours=9)
    store.upsert_entities(
        "maintenance_order",
        pa.table(
            {
                "space": ["erp", "erp"],
                "external_id": ["5000007", "5000008"],
                "asset": ["10001", "PRS-02"],
                "order_type": ["corrective", "inspection"],
                "status": [order_status, "completed"],
                "actual_start": pa.array([REPAIR_START, inspected], pa.timestamp("us")),
                "actual_end": pa.array(
                    [REPAIRED, inspected + timedelta(minutes=30)], pa.timestamp("us")
                ),
            }
        ),
        "test",
    )


@pytest.fixture
def presses(store):
    """The three presses with their readings up to the morning of day 8 (before the repair)."""
    times, devices = _plant()
    _model(store, devices)
    _load_readings(store, times, devices, START, START + timedelta(days=8, hours=6))
    return store, times, devices


def _active(records: AgentRecords, machine: str) -> dict[str, str]:
    return {
        f.kind: f.status
        for f in records.findings(agent="maintenance", subject=machine, limit=None)
        if f.kind in WARNINGS and f.status in ("open", "acknowledged")
    }


def test_a_repaired_machine_resolves_a_passing_one_resolves_a_worn_one_stays_open(
    presses,
) -> None:
    store, times, devices = presses
    orchestrator = Orchestrator(store, [MaintenanceAgent()])
    warned_at = START + timedelta(days=8, hours=6)
    first = orchestrator.run(at=warned_at)
    records = orchestrator.records
    assert first.errors == [] and first.resolved == []
    warned = records.findings(agent="maintenance", subject="PRS-01", limit=None)
    assert {f.kind for f in warned if f.status == "open"} >= set(WARNINGS)
    anomaly = next(f for f in warned if f.kind == "maintenance.anomaly")
    # the planner has seen the anomaly: acknowledged, it still resolves, with its audit entry
    records.set_finding_status(anomaly.id, "acknowledged", actor="planner", at=warned_at)

    end = START + timedelta(days=DAYS)
    _load_readings(store, times, devices, warned_at, end)
    later = orchestrator.run(at=end)
    assert later.errors == []

    repaired = records.findings(agent="maintenance", subject="PRS-01", limit=None)
    resolved = {f.kind: f for f in repaired if f.kind in WARNINGS and f.status == "resolved"}
    assert set(resolved) == set(WARNINGS)
    assert set(later.resolved) >= {f.id for f in resolved.values()}
    (entry,) = records.audit_log(object_id=anomaly.id, verb="finding.resolved")
    assert entry.actor == "maintenance"
    assert entry.details["before"] == "acknowledged"
    assert "maintenance order 5000007" in entry.details["why"]
    assert "2026-02-10" in entry.details["why"]
    assert entry.details["refs"] == [
        {"type": "maintenance_order", "external_id": "5000007", "space": "erp"}
    ]
    # the maintenance order proposed for the warning no longer waits for an approval
    proposals = {
        records.recommendation(a.recommendation_id).parameters.get("asset"): a.state
        for a in records.actions(limit=None)
    }
    assert proposals["PRS-01"] == "superseded"
    assert proposals["PRS-02"] == "proposed"

    # the press whose deviation passed: its alarm has been off for days, never repaired
    passed = records.findings(agent="maintenance", subject="PRS-03", limit=None)
    gone = [f for f in passed if f.kind == "maintenance.anomaly"]
    assert gone and all(f.status == "resolved" for f in gone)
    (entry,) = records.audit_log(object_id=gone[-1].id, verb="finding.resolved")
    assert "no alarm since" in entry.details["why"]
    assert entry.details["numbers"]["calm_hours"] >= 24

    # the press wearing to the end keeps its warning open, although an inspection was closed
    worn = _active(records, "PRS-02")
    assert worn.get("maintenance.anomaly") == "open"
    for finding in records.findings(agent="maintenance", subject="PRS-02", limit=None):
        assert records.count_audit(object_id=finding.id, verb="finding.resolved") == 0


def test_without_a_completed_order_the_repair_is_the_return_to_service(store) -> None:
    times, devices = _plant()
    _model(store, devices, order_status="released")  # the order is not closed in the ERP
    warned_at = START + timedelta(days=8, hours=6)
    _load_readings(store, times, devices, START, warned_at)
    orchestrator = Orchestrator(store, [MaintenanceAgent()])
    orchestrator.run(at=warned_at)
    end = START + timedelta(days=DAYS)
    _load_readings(store, times, devices, warned_at, end)
    orchestrator.run(at=end)
    records = orchestrator.records
    (anomaly,) = [
        f
        for f in records.findings(agent="maintenance", subject="PRS-01", limit=None)
        if f.kind == "maintenance.anomaly"
    ]
    assert anomaly.status == "resolved"
    (entry,) = records.audit_log(object_id=anomaly.id, verb="finding.resolved")
    assert "back in service on 2026-02-10 14:00 UTC" in entry.details["why"]
    assert "5000007" not in entry.details["why"] and "refs" not in entry.details


def test_a_run_before_the_repair_resolves_nothing(presses) -> None:
    store, _, _ = presses
    agent = MaintenanceAgent()
    report = agent.scan(store, end=START + timedelta(days=8, hours=6))
    warnings = [f for f in report.findings if f.kind in WARNINGS]
    still_on = [f for f in warnings if f.subject.external_id == "PRS-01"]
    assert still_on
    over = agent.resolutions(store, report, still_on, now=START + timedelta(days=8, hours=6))
    assert over == []


def test_the_demo_stage_resolves_what_the_end_of_the_data_no_longer_shows(presses) -> None:
    store, times, devices = presses
    _load_readings(
        store, times, devices, START + timedelta(days=8, hours=6), START + timedelta(days=DAYS)
    )
    figures = maintenance_stage(store, {})
    records = AgentRecords(store)
    assert figures["resolved"] >= 2
    assert _active(records, "PRS-01") == {}
    assert _active(records, "PRS-02").get("maintenance.anomaly") == "open"
    # every warning is kept, resolved or not: what the scores count
    assert records.count_findings(kind="maintenance.anomaly") == figures["anomalies"]


def _one_sensor(back: bool) -> AssetData:
    """A 15-minute device whose temperature climbs from day 3 to day 8, then back or not."""
    rng = np.random.default_rng(2)
    index = pd.date_range(START, periods=13 * 24 * 4, freq="15min")
    days = np.arange(len(index)) / (24 * 4)
    rise = np.clip((days - 3.0) / 5.0, 0.0, 1.0)
    if back:
        rise = np.where(days < 8.0, rise, 0.0)
    frame = pd.DataFrame(
        {"BRG_TEMP": 45.0 + 8.0 * rise + rng.normal(0, 0.5, len(index))}, index=index
    )
    return AssetData(
        device="L2_PMP01",
        frame=frame,
        running=np.ones(len(index), dtype=bool),
        regime=np.full(len(index), None, dtype=object),
        resets=[index[0]],
        step_seconds=900,
    )


def test_a_sensor_trend_says_when_the_sensor_is_back_within_its_band() -> None:
    (came_back,) = sensor_trends(_one_sensor(back=True))
    assert came_back.direction == "rising"
    assert came_back.normal_since is not None
    assert START + timedelta(days=8) <= came_back.normal_since <= START + timedelta(days=9)
    (climbing,) = sensor_trends(_one_sensor(back=False))
    assert climbing.normal_since is None  # still far above its baseline at the end
