from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from factorybrain.agents import Orchestrator
from factorybrain.agents.core._telemetry import load_assets
from factorybrain.agents.maintenance import MaintenanceAgent
from factorybrain.engines.model_registry import ModelRegistry

START = datetime(2026, 1, 5)
DAYS = 9
FAILURE = START + timedelta(days=DAYS, hours=12)  # just after the data ends
ONSET = START + timedelta(days=4)
SIGNALS = ("VIB_RMS", "BRG_TEMP", "MOTOR_CURR", "SPEED")


def _device(
    rng: np.random.Generator, *, degrade: bool = False, stuck: bool = False, drift: bool = False
) -> dict[str, np.ndarray]:
    minutes = DAYS * 24 * 60
    times = np.datetime64(START, "ms") + np.arange(minutes) * np.timedelta64(1, "m")
    hour = (np.arange(minutes) // 60) % 24
    running = ((hour >= 6) & (hour < 22)).astype(float)
    elapsed = (times - np.datetime64(ONSET)) / np.timedelta64(1, "h")
    total = (np.datetime64(FAILURE) - np.datetime64(ONSET)) / np.timedelta64(1, "h")
    health = np.clip(elapsed / total, 0.0, 1.0) ** 1.5 if degrade else np.zeros(minutes)
    values = {
        "RUN": running,
        "VIB_RMS": 2.0 * (1 + 2.2 * health) + rng.normal(0, 0.5, minutes),
        "BRG_TEMP": 45.0 + 14 * health + rng.normal(0, 1.5, minutes),
        "MOTOR_CURR": 16.0 * (1 + 0.12 * health) + rng.normal(0, 0.3, minutes),
        "SPEED": 2500.0 + rng.normal(0, 7.0, minutes),
    }
    if stuck:  # the temperature freezes for 14 hours on day 6
        lo = (6 * 24 + 4) * 60
        values["BRG_TEMP"][lo : lo + 14 * 60] = values["BRG_TEMP"][lo]
    if drift:  # the current sensor drifts by 25 % over two days
        lo = 5 * 24 * 60
        ramp = np.clip((np.arange(minutes) - lo) / (2 * 24 * 60), 0.0, 1.0)
        values["MOTOR_CURR"] = values["MOTOR_CURR"] * (1 + 0.25 * ramp)
    values["times"] = times
    return values


def _load(store, devices: dict[str, dict[str, np.ndarray]]) -> None:
    names = [
        f"{device}.{signal}"
        for device, data in devices.items()
        for signal in data
        if signal != "times"
    ]
    ids = store.ensure_series("historian", names, "test").to_pydict()
    series_id = dict(zip(ids["external_id"], ids["series_id"], strict=True))
    store.upsert_entities(
        "time_series",
        pa.table(
            {
                "space": ["historian"] * len(names),
                "external_id": names,
                "series_id": [series_id[n] for n in names],
                "asset": [n.split(".")[0] for n in names],  # a historian's asset path
                "is_step": [n.endswith(".RUN") for n in names],
                "value_type": ["state" if n.endswith(".RUN") else "float" for n in names],
            }
        ),
        "test",
    )
    batches = []
    for device, data in devices.items():
        for signal, values in data.items():
            if signal == "times":
                continue
            batches.append(
                pa.record_batch(
                    {
                        "series_id": pa.array(
                            np.full(len(values), series_id[f"{device}.{signal}"]), pa.int32()
                        ),
                        "ts": pa.array(data["times"], pa.timestamp("us")),
                        "value": pa.array(values, pa.float64()),
                    }
                )
            )
    store.append_datapoints(iter(batches))


@pytest.fixture
def plant(store):
    rng = np.random.default_rng(3)
    _load(
        store,
        {
            "L1_WORN01": _device(rng, degrade=True),
            "L1_GOOD02": _device(rng),
            "L1_DIRTY03": _device(rng, stuck=True, drift=True),
        },
    )
    return store


def test_degrading_asset_gets_rul_low_before_failure_and_healthy_ones_nothing(plant) -> None:
    report = MaintenanceAgent().scan(plant)
    by_asset: dict[str, list] = {}
    trends: dict[str, set[str]] = {}
    for finding in report.findings:
        if finding.kind == "maintenance.sensor_trend":
            trends.setdefault(finding.subject.external_id, set()).add(
                finding.dedup_key.split(":", 1)[0]
            )
            continue
        by_asset.setdefault(finding.subject.external_id, []).append(finding)
    # warnings only for the worn machine; the drifting current sensor of L1_DIRTY03 is reported
    # as a single-sensor trend to inspect, never as a failure warning
    assert set(by_asset) == {"L1_WORN01"}
    assert trends.get("L1_DIRTY03") == {"MOTOR_CURR"}
    assert "L1_GOOD02" not in trends
    kinds = {f.kind: f for f in by_asset["L1_WORN01"]}
    assert set(kinds) == {"maintenance.anomaly", "maintenance.rul_low"}
    low = kinds["maintenance.rul_low"]
    assert low.created_at <= FAILURE - timedelta(hours=24)
    assert low.created_at >= ONSET
    numbers = low.evidence.numbers
    assert numbers["rul_lower_hours"] <= numbers["rul_hours"] <= numbers["rul_upper_hours"]
    driving = {
        k for k in kinds["maintenance.anomaly"].evidence.numbers if k.startswith("deviation:")
    }
    assert "deviation:VIB_RMS" in driving and len(driving) >= 2
    (order,) = report.recommendations
    assert order.action_type == "maintenance_order.create"
    assert order.finding_ids == (low.id,)
    assert low.created_at <= order.parameters["planned_end"] <= FAILURE + timedelta(days=30)


def test_stuck_and_drifting_sensors_are_not_reported_as_failures(plant) -> None:
    report = MaintenanceAgent().scan(plant, devices=["L1_DIRTY03", "L1_GOOD02"])
    warnings = [f for f in report.findings if f.kind != "maintenance.sensor_trend"]
    assert warnings == []
    assert {a["device"] for a in report.assets} == {"L1_DIRTY03", "L1_GOOD02"}
    assert all(a["model_versions"] >= 1 and a["judged_hours"] > 50 for a in report.assets)


def test_agent_runs_under_the_orchestrator_and_versions_its_models(plant) -> None:
    agent = MaintenanceAgent()
    orchestrator = Orchestrator(plant, [agent])
    run = orchestrator.run(at=START + timedelta(days=DAYS))
    assert run.errors == []
    stored = orchestrator.records.findings(agent="maintenance", limit=None)
    warned = {f.subject.external_id for f in stored if f.kind != "maintenance.sensor_trend"}
    assert warned == {"L1_WORN01"}
    assert run.actions  # the maintenance order waits for an approval
    registry = agent.scan(plant, devices=["L1_GOOD02"]).registry
    (record,) = registry.versions("L1_GOOD02")
    assert record.scope == "asset" and record.training_window["healthy_hours"] >= 12


def _mes_plant(store, *, annotate: bool = False, new_product: bool = False) -> None:
    """One press linked through the MES: two products, and a 4-hour repair on day 3.

    With ``new_product``, a third product runs on the odd days from day 7 on.
    """
    rng = np.random.default_rng(5)
    minutes = DAYS * 24 * 60
    times = np.datetime64(START, "ms") + np.arange(minutes) * np.timedelta64(1, "m")
    day = np.arange(minutes) // (24 * 60)
    hour = (np.arange(minutes) // 60) % 24
    repair = (day == 3) & (hour >= 10) & (hour < 14)
    running = (hour >= 6) & (hour < 22) & ~repair
    products = ["B" if d % 2 else "A" for d in range(DAYS)]
    if new_product:
        products = ["C" if d >= 7 and d % 2 else p for d, p in enumerate(products)]
    level = {"A": 0.0, "B": 1.0, "C": 2.0}
    shift = np.array([level[products[d]] for d in day])
    data = {
        "times": times,
        "RUN": running.astype(float),
        "VIB_RMS": 2.2 + 0.6 * shift + rng.normal(0, 0.5, minutes),
        "BRG_TEMP": 43.0 + 4.0 * shift + rng.normal(0, 1.5, minutes),
        "MOTOR_CURR": 16.0 + 3.5 * shift + rng.normal(0, 0.3, minutes),
        "SPEED": 2500.0 + 350.0 * shift + rng.normal(0, 7.0, minutes),
    }
    _load(store, {"L1_PRS01": data})
    store.upsert_entities(
        "asset",
        pa.table(
            {
                "space": ["mes"],
                "external_id": ["PRS-01"],
                "level": ["equipment"],
                "asset_class": ["Hydraulic press"],
            }
        ),
        "test",
    )
    starts, ends, states = [], [], []
    for d in range(DAYS):
        base = START + timedelta(days=d)
        if d == 3:
            spans = [(6, 10, "running"), (10, 14, "down"), (14, 22, "running")]
        else:
            spans = [(6, 22, "running")]
        for lo, hi, state in spans:
            starts.append(base + timedelta(hours=lo))
            ends.append(base + timedelta(hours=hi))
            states.append(state)
    store.upsert_entities(
        "event",
        pa.table(
            {
                "space": ["mes"] * len(starts),
                "external_id": [f"S{i}" for i in range(len(starts))],
                "event_type": ["state"] * len(starts),
                "state": states,
                "asset": ["PRS-01"] * len(starts),
                "start_time": pa.array(starts, pa.timestamp("us")),
                "end_time": pa.array(ends, pa.timestamp("us")),
            }
        ),
        "test",
    )
    orders = [f"WO{d}" for d in range(DAYS)]
    store.upsert_entities(
        "work_order",
        pa.table(
            {
                "space": ["mes"] * DAYS,
                "external_id": orders,
                "product": products,
            }
        ),
        "test",
    )
    store.upsert_entities(
        "operation",
        pa.table(
            {
                "space": ["mes"] * DAYS,
                "external_id": [f"OP{d}" for d in range(DAYS)],
                "work_order": orders,
                "equipment": ["PRS-01"] * DAYS,
                "start_time": pa.array(
                    [START + timedelta(days=d) for d in range(DAYS)], pa.timestamp("us")
                ),
                "end_time": pa.array(
                    [START + timedelta(days=d + 1) for d in range(DAYS)], pa.timestamp("us")
                ),
            }
        ),
        "test",
    )
    if annotate:
        store.upsert_entities(
            "annotation",
            pa.table(
                {
                    "space": ["context"],
                    "external_id": ["a1"],
                    "source_space": ["historian"],
                    "source_identifier": ["L1_PRS01"],
                    "target_type": ["asset"],
                    "target_space": ["mes"],
                    "target_external_id": ["PRS-01"],
                    "confidence": [0.97],
                    "status": ["approved"],
                }
            ),
            "test",
        )


def test_devices_link_to_mes_equipment_and_products_are_regimes(store) -> None:
    _mes_plant(store)
    (asset,) = load_assets(store)
    assert asset.equipment == ("mes", "PRS-01")
    assert asset.link_method == "running_states"
    assert asset.asset_class == "Hydraulic press"
    assert set(asset.regime[asset.running]) == {"A", "B"}
    assert START + timedelta(days=3, hours=14) in asset.resets
    report = MaintenanceAgent().scan(store)
    assert report.findings == []  # a product change is a new regime, not an anomaly
    versions = report.registry.versions("L1_PRS01")
    assert len(versions) == 2 and "2026-01-08T14:00:00" in versions[1].reason
    assert versions[1].model.monitor_.regimes_.labels == ["A", "B"]


def test_an_approved_annotation_links_a_device(store) -> None:
    _mes_plant(store, annotate=True)
    (asset,) = load_assets(store)
    assert (asset.link_method, asset.equipment) == ("annotation", ("mes", "PRS-01"))
    assert asset.link_confidence == pytest.approx(0.97)


def test_a_product_never_seen_in_training_retrains_the_model(store) -> None:
    _mes_plant(store, new_product=True)
    report = MaintenanceAgent().scan(store)
    assert report.findings == []
    (drift,) = [r for r in report.registry.versions("L1_PRS01") if r.reason.startswith("drift")]
    assert "'C'" in drift.reason
    assert drift.trained_at >= START + timedelta(days=7)
    assert "C" in drift.model.monitor_.regimes_.labels


def test_a_kept_registry_is_reused_on_the_next_run(plant, tmp_path) -> None:
    agent = MaintenanceAgent(registry=ModelRegistry(tmp_path))
    first = agent.scan(plant, devices=["L1_GOOD02"])
    again = MaintenanceAgent(registry=ModelRegistry(tmp_path)).scan(plant, devices=["L1_GOOD02"])
    assert [r.version for r in again.registry.versions("L1_GOOD02")] == [
        r.version for r in first.registry.versions("L1_GOOD02")
    ]
    assert (tmp_path / "L1_GOOD02" / "v1.json").exists()


def _between(devices: dict[str, dict[str, np.ndarray]], lo: datetime, hi: datetime) -> dict:
    """The rows of every device with ``lo <= time < hi`` (a chunk as an ingest brings it)."""
    out = {}
    for device, data in devices.items():
        keep = (data["times"] >= np.datetime64(lo)) & (data["times"] < np.datetime64(hi))
        out[device] = {signal: values[keep] for signal, values in data.items()}
    return out


def _key(finding) -> tuple:
    return (finding.kind, finding.subject.external_id, finding.created_at, finding.dedup_key)


def test_data_streaming_in_chunks_gives_the_findings_of_one_scan_once(store, tmp_path) -> None:
    rng = np.random.default_rng(3)
    devices = {
        "L1_WORN01": _device(rng, degrade=True),
        "L1_GOOD02": _device(rng),
        "L1_DIRTY03": _device(rng, stuck=True, drift=True),
    }
    agent = MaintenanceAgent(registry=ModelRegistry(tmp_path))
    handed_out = []
    lo = START
    for day in (3, 5, 6, 7, 8, DAYS):
        hi = START + timedelta(days=day)
        _load(store, _between(devices, lo, hi))
        _, new = agent.update(store, end=hi)
        handed_out += [item for item in new if hasattr(item, "kind")]
        lo = hi
    full = MaintenanceAgent().scan(store)
    assert full.findings
    assert sorted(map(_key, handed_out)) == sorted(map(_key, full.findings))
    # no new data: nothing new, not even for an agent restarted on the kept states
    assert agent.update(store, end=lo)[1] == []
    restarted = MaintenanceAgent(registry=ModelRegistry(tmp_path))
    assert restarted.update(store, end=lo)[1] == []


@pytest.mark.parametrize("new_product", [False, True])
def test_updates_across_a_repair_and_a_new_product_judge_hours_as_one_replay(
    store, new_product: bool
) -> None:
    _mes_plant(store, new_product=new_product)  # a repair on day 3, product C from day 7
    points = store.query("SELECT series_id, ts, value FROM datapoint ORDER BY ts")
    store.connection.execute("DELETE FROM datapoint").fetchall()
    agent = MaintenanceAgent()
    lo = START
    for day in (2, 4, 5, 6, 8, DAYS):
        hi = START + timedelta(days=day)
        part = points[(points["ts"] >= lo) & (points["ts"] < hi)]
        store.append_datapoints(iter(pa.Table.from_pandas(part, preserve_index=False).to_batches()))
        agent.update(store, end=hi)
        lo = hi
        # after every update, the kept hours are those a replay of the history up to now judges
        (asset,) = load_assets(store)
        replayed = MaintenanceAgent()._replay([asset], ModelRegistry())[asset.device].hours
        streamed = agent._states[asset.device].hours
        pd.testing.assert_frame_equal(
            streamed.drop(columns="version", errors="ignore"),
            replayed[replayed.index < hi].drop(columns="version", errors="ignore"),
            check_freq=False,
        )
    assert len(streamed) > 100
    assert agent.update(store, end=lo)[1] == []


def test_a_quality_drift_gets_an_inspection_unless_the_health_model_already_orders_one(
    plant,
) -> None:
    from factorybrain.agents import EntityRef, Evidence, Finding

    agent = MaintenanceAgent()
    context = Orchestrator(plant, [agent]).context(START + timedelta(days=DAYS))

    def drift(machine: str) -> Finding:
        return Finding(
            "quality",
            "quality.drift",
            EntityRef("asset", machine),
            severity="high",
            confidence=0.9,
            evidence=Evidence((), {"cpk": 0.7}, f"Nelson rule 2 on {machine}"),
            dedup_key=f"drift:{machine}",
            created_at=START + timedelta(days=DAYS - 1),
        )

    # a healthy machine whose process drifts: inspect it, within the next hours
    healthy = [i for i in agent.react(drift("L1_GOOD02"), context) if hasattr(i, "action_type")]
    (inspection,) = healthy
    assert inspection.action_type == "maintenance_order.create"
    assert inspection.parameters["order_type"] == "inspection"
    assert inspection.parameters["asset"] == "L1_GOOD02"
    assert inspection.requires_approval
    # the worn machine already gets its predictive order: no second order for the drift
    worn = [i for i in agent.react(drift("L1_WORN01"), context) if hasattr(i, "action_type")]
    assert [o.parameters["order_type"] for o in worn] == ["predictive"]


def test_many_drifts_share_one_health_scan_and_one_inspection_per_machine_and_day(
    plant, monkeypatch
) -> None:
    from factorybrain.agents import EntityRef, Evidence, Finding

    agent = MaintenanceAgent()
    scans = []
    scan = agent.scan
    monkeypatch.setattr(agent, "scan", lambda *a, **k: scans.append(1) or scan(*a, **k))
    context = Orchestrator(plant, [agent]).context(START + timedelta(days=DAYS))
    keys = set()
    for characteristic in ("force", "torque", "leak_rate"):
        drift = Finding(
            "quality",
            "quality.drift",
            EntityRef("asset", "L1_GOOD02"),
            severity="medium",
            confidence=0.9,
            evidence=Evidence((), {}, f"Nelson rule 2 on {characteristic}"),
            dedup_key=f"drift:{characteristic}",
            created_at=START + timedelta(days=DAYS - 1),
        )
        keys |= {i.dedup_key for i in agent.react(drift, context) if hasattr(i, "action_type")}
    assert len(scans) == 1  # the machines' health did not change between the drifts
    assert len(keys) == 1  # one inspection of the machine that day


def test_a_reaction_in_the_run_that_replayed_the_plant_does_not_replay_it_again(
    plant, monkeypatch
) -> None:
    from factorybrain.agents import EntityRef, Evidence, Finding

    now = START + timedelta(days=DAYS)
    drift = Finding(
        "quality",
        "quality.drift",
        EntityRef("asset", "L1_WORN01"),
        severity="medium",
        confidence=0.9,
        evidence=Evidence((), {}, "Nelson rule 2 on force"),
        dedup_key="drift:force",
        created_at=now - timedelta(days=1),
    )
    fresh = MaintenanceAgent()
    expected = list(fresh.react(drift, Orchestrator(plant, [fresh]).context(now)))

    agent = MaintenanceAgent()
    orchestrator = Orchestrator(plant, [agent])
    list(agent.run(orchestrator.context(now)))  # the first run replays every asset
    replays = []
    replay = agent._replay
    monkeypatch.setattr(agent, "_replay", lambda *a, **k: replays.append(1) or replay(*a, **k))
    reacted = list(agent.react(drift, orchestrator.context(now)))
    assert replays == []
    assert [(i.id, type(i).__name__) for i in reacted] == [
        (i.id, type(i).__name__) for i in expected
    ]
    assert any(hasattr(i, "action_type") for i in reacted)  # the worn machine's order
    # a reading arrived after the run: the next reaction reads the plant again
    late = {"times": np.array([np.datetime64(now, "ms")]), "VIB_RMS": np.array([2.0])}
    _load(plant, {"L1_GOOD02": late})
    list(agent.react(drift, orchestrator.context(now)))
    assert replays == [1]


def test_a_breakdown_the_erp_records_as_downtime_is_a_repair(store) -> None:
    _mes_plant(store)
    repaired = START + timedelta(days=6, hours=13)
    store.upsert_entities(
        "event",
        pa.table(
            {
                "space": ["mes"],
                "external_id": ["breakdown-1"],
                "event_type": ["downtime"],  # a notification with a breakdown, no state
                "asset": ["PRS-01"],
                "start_time": pa.array([repaired - timedelta(hours=3)], pa.timestamp("us")),
                "end_time": pa.array([repaired], pa.timestamp("us")),
            }
        ),
        "test",
    )
    (asset,) = load_assets(store)
    assert repaired in asset.resets


def _presses_one_borrowing(store) -> None:
    """Four presses; L1_SPARSE04's first version borrows the limits of its class."""
    _mes_plant(store, new_product=True)
    rng = np.random.default_rng(3)
    sparse = _device(rng)
    # its bearing sensor reports only from 6 to 9 in the first days: its first version has too
    # few healthy hours of its own and borrows the limits of its class (all four are presses)
    minutes = np.arange(len(sparse["times"]))
    sparse["BRG_TEMP"][(minutes < 3 * 24 * 60) & ((minutes // 60) % 24 >= 9)] = np.nan
    worn = _device(rng, degrade=True)
    _load(store, {"L1_WORN01": worn, "L1_GOOD02": _device(rng), "L1_SPARSE04": sparse})


def test_an_asset_whose_readings_are_gone_when_read_again_is_said_not_dropped(store) -> None:
    _presses_one_borrowing(store)
    with pytest.warns(UserWarning, match="readings of L1_SPARSE04 were gone"):
        scored = MaintenanceAgent()._replay(
            load_assets(store), ModelRegistry(), read_again=lambda devices: iter([])
        )
    assert sorted(scored) == ["L1_GOOD02", "L1_PRS01", "L1_WORN01"]


def test_a_plant_replayed_a_few_assets_at_a_time_gives_what_one_pass_gives(
    store, monkeypatch
) -> None:
    """A plant too large to hold is replayed a batch of assets at a time, to the same result."""
    from factorybrain.agents.maintenance import _agent

    _presses_one_borrowing(store)
    whole = MaintenanceAgent().scan(store)
    monkeypatch.setattr(_agent, "BATCH_READINGS", 1)  # one asset a batch
    batched = MaintenanceAgent().scan(store)

    devices = sorted(whole.scored)
    assert devices == sorted(batched.scored) and len(devices) == 4
    (borrowed,) = [r for r in batched.registry.versions("L1_SPARSE04") if r.scope == "asset_class"]
    assert "limits of class 'Hydraulic press'" in borrowed.reason
    # the median of every press's own limits known by then, those replayed after it included
    known = [
        r.model.limits_
        for device in devices
        for r in batched.registry.versions(device)
        if r.scope == "asset" and r.trained_at <= borrowed.trained_at
    ]
    assert len(known) == 3
    pd.testing.assert_series_equal(
        borrowed.model.limits_, pd.concat(known, axis=1).median(axis=1), check_names=False
    )
    for device in devices:
        assert [
            (r.version, r.scope, r.reason, r.trained_at, r.model.limits_.to_dict())
            for r in batched.registry.versions(device)
        ] == [
            (r.version, r.scope, r.reason, r.trained_at, r.model.limits_.to_dict())
            for r in whole.registry.versions(device)
        ]
        pd.testing.assert_frame_equal(batched.scored[device].hours, whole.scored[device].hours)
        # what the report keeps of an asset is its judgement, not its readings
        assert batched.scored[device].asset.frame.empty
    assert [(f.id, f.evidence) for f in batched.findings] == [
        (f.id, f.evidence) for f in whole.findings
    ]
    assert {f.kind for f in whole.findings} >= {"maintenance.anomaly", "maintenance.rul_low"}
    assert batched.until == whole.until
