"""The maintenance agent on historians that are not ours: 15-minute and hourly, gappy, PI names.

A PI-style archive (space ``pi``, tags ``GRINDER04.SPDL_VIB``) at one reading per 15 minutes with
outages, a grinder whose spindle vibration alone climbs for ten days before it fails, and a device
with too little history to learn from.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from factorybrain.agents import Orchestrator
from factorybrain.agents.core._telemetry import load_assets
from factorybrain.agents.maintenance import MaintenanceAgent

START = datetime(2026, 2, 2)
DAYS = 40
FAILURE = START + timedelta(days=DAYS)
DRIFT = FAILURE - timedelta(days=10)


def _load(
    store,
    space: str,
    series: dict[str, tuple[np.ndarray, np.ndarray]],
    assets: dict[str, str] | None = None,
) -> None:
    """Load series; each is on the asset ``assets`` names (default: its name up to the dot)."""
    names = list(series)
    assets = assets if assets is not None else {n: n.split(".")[0] for n in names}
    ids = store.ensure_series(space, names, "test").to_pydict()
    series_id = dict(zip(ids["external_id"], ids["series_id"], strict=True))
    store.upsert_entities(
        "time_series",
        pa.table(
            {
                "space": [space] * len(names),
                "external_id": names,
                "asset": [assets.get(n) for n in names],
                "series_id": [series_id[n] for n in names],
                "is_step": [n.endswith("STATE") for n in names],
                "value_type": ["state" if n.endswith("STATE") else "float" for n in names],
            }
        ),
        "test",
    )
    store.append_datapoints(
        iter(
            [
                pa.record_batch(
                    {
                        "series_id": pa.array(np.full(len(v), series_id[n]), pa.int32()),
                        "ts": pa.array(t, pa.timestamp("us")),
                        "value": pa.array(v, pa.float64()),
                    }
                )
                for n, (t, v) in series.items()
            ]
        )
    )


def _grinder(rng: np.random.Generator, device: str, step_minutes: int, drift: bool) -> dict:
    """Readings every ``step_minutes`` with jitter and a two-day outage; vibration may climb."""
    count = DAYS * 24 * 60 // step_minutes
    offsets = np.arange(count) * step_minutes * 60 + rng.integers(-20, 20, count)
    times = np.datetime64(START, "s") + offsets.astype("timedelta64[s]")
    outage = (times >= np.datetime64(START + timedelta(days=12))) & (
        times < np.datetime64(START + timedelta(days=14))
    )
    times = times[~outage]
    n = len(times)
    hour = (times - times.astype("datetime64[D]")).astype("timedelta64[h]").astype(int)
    running = ((hour >= 6) & (hour < 22)).astype(float)
    days_in = (times - np.datetime64(DRIFT)) / np.timedelta64(1, "D")
    health = np.clip(days_in / 10.0, 0, 1) ** 1.5 if drift else np.zeros(n)
    return {
        f"{device}.SPDL_VIB": (times, 2.0 * (1 + 1.8 * health) + rng.normal(0, 0.1, n)),
        f"{device}.SPDL_PWR": (times, 11.0 + rng.normal(0, 0.4, n)),
        f"{device}.COOL_TEMP": (times, 24.0 + rng.normal(0, 0.5, n)),
        f"{device}.STATE": (times, running),
    }


@pytest.fixture
def pi_plant(store):
    rng = np.random.default_rng(11)
    series = {
        **_grinder(rng, "GRINDER04", 15, drift=True),
        **_grinder(rng, "GRINDER05", 15, drift=False),
        **_grinder(rng, "MCENTER01", 60, drift=False),
    }
    # a device that came online two hours before the end: too short a history to learn from
    quarter = np.timedelta64(900, "s")
    late = np.datetime64(FAILURE - timedelta(hours=2), "s") + np.arange(8) * quarter
    series["PRESS09.HYD_PRES"] = (late, 180.0 + rng.normal(0, 1, 8))
    series["PRESS09.OIL_TEMP"] = (late, 40.0 + rng.normal(0, 1, 8))
    _load(store, "pi", series)
    return store


def test_each_device_gets_the_grid_its_historian_samples_at(pi_plant) -> None:
    assets = {a.device: a for a in load_assets(pi_plant)}
    assert assets["GRINDER04"].step_seconds == 900
    assert assets["GRINDER04"].readings_per_hour == 4
    assert assets["MCENTER01"].step_seconds == 3600
    assert assets["MCENTER01"].min_readings == 1
    assert assets["GRINDER04"].space == "pi"
    # readings jittered by seconds land on one grid row each
    index = assets["GRINDER04"].frame.index
    assert (np.diff(index.values) >= np.timedelta64(900, "s")).all()


def test_15_minute_and_hourly_devices_train_models_and_stay_quiet_when_healthy(pi_plant) -> None:
    report = MaintenanceAgent().scan(pi_plant)
    versions = {row["device"]: row["model_versions"] for row in report.assets}
    assert versions["GRINDER05"] >= 1
    assert versions["MCENTER01"] >= 1
    about = {f.subject.external_id for f in report.findings if f.kind != "maintenance.no_model"}
    assert "GRINDER05" not in about and "MCENTER01" not in about


def test_one_sensor_climbing_for_days_is_a_finding_a_day_before_failure(pi_plant) -> None:
    report = MaintenanceAgent().scan(pi_plant)
    trends = [
        f
        for f in report.findings
        if f.kind == "maintenance.sensor_trend" and f.subject.external_id == "GRINDER04"
    ]
    assert [f.dedup_key.split(":")[:2] for f in trends] == [["SPDL_VIB", "rising"]]
    (trend,) = trends
    assert DRIFT < trend.created_at <= FAILURE - timedelta(hours=24)
    assert trend.evidence.refs[0].external_id == "GRINDER04.SPDL_VIB"
    assert trend.evidence.refs[0].space == "pi"
    assert trend.evidence.numbers["latest"] > trend.evidence.numbers["baseline"]
    # the healthy twin's flat vibration is no trend
    assert not [
        f
        for f in report.findings
        if f.kind == "maintenance.sensor_trend" and f.subject.external_id == "GRINDER05"
    ]


def test_a_device_whose_data_cannot_train_a_model_gets_a_finding_saying_why(pi_plant) -> None:
    report = MaintenanceAgent().scan(pi_plant)
    untrained = [f for f in report.findings if f.kind == "maintenance.no_model"]
    assert [f.subject.external_id for f in untrained] == ["PRESS09"]
    assert "too short a history" in untrained[0].evidence.text
    assert "15 min" in untrained[0].evidence.text


def test_equipment_no_series_is_linked_to_is_reported(pi_plant) -> None:
    pi_plant.upsert_entities(
        "asset",
        pa.table(
            {
                "space": ["pi"] * 2,
                "external_id": ["GRINDER04", "GRINDER07"],
                "level": ["equipment"] * 2,
            }
        ),
        "test",
    )
    pi_plant.upsert_entities(
        "time_series",
        pa.table({"space": ["pi"], "external_id": ["GRINDER04.SPDL_VIB"], "asset": ["GRINDER04"]}),
        "test",
    )
    report = MaintenanceAgent().scan(pi_plant)
    unlinked = [
        f
        for f in report.findings
        if f.kind == "maintenance.no_model" and "no linked series" in f.evidence.text
    ]
    assert [f.subject.external_id for f in unlinked] == ["GRINDER07"]


def test_a_one_second_historian_is_averaged_to_minutes(store) -> None:
    times = np.datetime64(START, "s") + np.arange(3 * 3600) * np.timedelta64(1, "s")
    values = np.arange(3 * 3600, dtype=float)
    _load(store, "scada", {"FAST01.FLOW": (times, values), "FAST01.TEMP": (times, values)})
    (asset,) = load_assets(store)
    assert asset.step_seconds == 60 and asset.min_readings == 20
    assert len(asset.frame) == 180
    # each minute is the mean of its 60 readings
    assert asset.frame["FLOW"].iloc[1] == pytest.approx(np.mean(values[60:120]))


def test_series_ids_of_any_shape_group_by_their_asset_and_unlinked_ones_are_reported(store) -> None:
    rng = np.random.default_rng(5)
    grinder = _grinder(rng, "G", 15, drift=False)
    # ids as a historian may number them, with no separator and no naming rule at all
    renamed = {str(40001 + i): values for i, values in enumerate(grinder.values())}
    renamed["99999"] = grinder["G.COOL_TEMP"]  # a series nothing links to an asset
    assets = {name: "Grinder 4 / spindle" for name in list(renamed)[:4]}
    _load(store, "pi", renamed, assets)
    (asset,) = load_assets(store)
    assert asset.step_seconds == 900
    assert sorted(asset.series.values()) == ["40001", "40002", "40003", "40004"]
    assert asset.device != "Grinder 4 / spindle" and "/" not in asset.device  # a registry key
    findings = list(MaintenanceAgent().run(Orchestrator(store).context(FAILURE)))
    (gap,) = [f for f in findings if f.kind == "maintenance.data_gap"]
    assert "99999" in gap.evidence.text and gap.evidence.numbers["series"] == 1


def test_a_lines_own_tags_are_no_machine_s_health(pi_plant) -> None:
    pi_plant.upsert_entities(
        "asset",
        pa.table(
            {
                "space": ["pi"] * 2,
                "external_id": ["GRINDER04", "GRINDER05"],
                "level": ["line", "equipment"],
            }
        ),
        "test",
    )
    devices = {asset.device for asset in load_assets(pi_plant)}
    assert "GRINDER04" not in devices and "GRINDER05" in devices


def test_a_historian_no_series_of_which_is_linked_yet_is_reported_not_a_crash(store) -> None:
    # A plant's first load: tags in, matching not yet run or reviewed.
    grinder = _grinder(np.random.default_rng(9), "G", 15, drift=False)
    _load(store, "pi", grinder, assets={})
    assert load_assets(store) == []
    findings = list(MaintenanceAgent().run(Orchestrator(store).context(FAILURE)))
    (gap,) = [f for f in findings if f.kind == "maintenance.data_gap"]
    assert gap.evidence.numbers["series"] == len(grinder)


def test_a_state_tag_exported_as_state_changes_tells_when_the_machine_ran(store) -> None:
    # A PI digital state tag exported as a table of state changes: no readings, events on the tag.
    grinder = _grinder(np.random.default_rng(3), "G", 15, drift=False)
    times, running = grinder.pop("G.STATE")
    _load(store, "pi", grinder, assets={name: "Grinder 6" for name in grinder})
    _load(store, "pi", {"G.STATE": (times[:0], running[:0])}, assets={"G.STATE": "Grinder 6"})
    days = [START + timedelta(days=d) for d in range(DAYS)]
    store.upsert_entities(
        "event",
        pa.table(
            {
                "space": ["pi"] * (2 * DAYS),
                "external_id": [f"E{i}" for i in range(2 * DAYS)],
                "event_type": ["state"] * (2 * DAYS),
                "state": ["running", "idle"] * DAYS,
                "asset": ["G.STATE"] * (2 * DAYS),
                "start_time": pa.array(
                    [t for d in days for t in (d + timedelta(hours=6), d + timedelta(hours=22))],
                    pa.timestamp("us"),
                ),
                # one running state exported without its end: it ends at the next change
                "end_time": pa.array(
                    [
                        None if (d, t) == (days[5], 22) else d + timedelta(hours=t)
                        for d in days
                        for t in (22, 30)
                    ],
                    pa.timestamp("us"),
                ),
            }
        ),
        "test",
    )
    (asset,) = load_assets(store)
    hours = asset.frame.index.hour
    assert asset.running.any()
    assert (asset.running == ((hours >= 6) & (hours < 22))).mean() > 0.97
    findings = list(MaintenanceAgent().run(Orchestrator(store).context(FAILURE)))
    assert not [f for f in findings if f.kind == "maintenance.no_model"]


def test_the_live_agent_judges_each_device_on_its_own_grid_update_after_update(pi_plant) -> None:
    """Updates of a 15-minute and an hourly historian judge what one replay judges."""
    agent = MaintenanceAgent()
    end = START + timedelta(days=DAYS)
    for day in (20, 30, DAYS):
        agent.update(pi_plant, end=START + timedelta(days=day))
        kept = agent._states["GRINDER04"].asset
        assert (kept.step_seconds, kept.space) == (900, "pi")
        assert agent._states["MCENTER01"].asset.step_seconds == 3600
    replay = MaintenanceAgent().scan(pi_plant, end=end)
    for device in ("GRINDER04", "MCENTER01"):
        streamed = agent._states[device].hours
        replayed = replay.scored[device].hours
        assert len(streamed) > 100
        pd.testing.assert_frame_equal(
            streamed.drop(columns="version"),
            replayed[replayed.index < streamed.index[-1] + pd.Timedelta(hours=1)].drop(
                columns="version"
            ),
            check_freq=False,
        )
