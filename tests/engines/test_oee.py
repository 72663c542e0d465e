"""OEE after ISO 22400 on hand-computed cases: ratios, groups, shifts, windows and losses."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from factorybrain.engines.oee import oee, oee_losses
from factorybrain.exceptions import EngineError, ParameterError


def _t(clock: str) -> pd.Timestamp:
    return pd.Timestamp(f"2024-03-04 {clock}", tz="UTC")


@pytest.fixture
def states() -> pd.DataFrame:
    rows = [
        # press: 8 h shift, 1 h breakdown, 30 min planned break
        ("press", "06:00", "09:00", "running", ""),
        ("press", "09:00", "10:00", "down", "hydraulics"),
        ("press", "10:00", "10:30", "idle", "break"),
        ("press", "10:30", "14:00", "running", ""),
        # lathe: 1 h running, 1 h waiting for material
        ("lathe", "06:00", "07:00", "running", ""),
        ("lathe", "07:00", "08:00", "idle", "no material"),
    ]
    return pd.DataFrame(
        [(a, _t(s), _t(e), st, r) for a, s, e, st, r in rows],
        columns=["asset", "start", "end", "state", "reason"],
    )


@pytest.fixture
def counts() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "asset": ["press", "press", "lathe"],
            "time": [_t("08:00"), _t("12:00"), _t("06:30")],
            "good": [500, 700, 50],
            "total": [520, 730, 60],
        }
    )


IDEAL = {"press": 15.0, "lathe": 30.0}


def test_asset_ratios_match_hand_computation(states, counts):
    table = oee(states, counts, IDEAL, planned_stop_reasons=["break"]).set_index("asset")
    press = table.loc["press"]
    # planned busy = 8 h - 0.5 h break = 27000 s; running = 6.5 h = 23400 s
    assert press.planned_busy_seconds == 27000
    assert press.running_seconds == 23400
    assert press.down_seconds == 3600
    assert press.availability == pytest.approx(23400 / 27000)
    assert press.performance == pytest.approx(15 * 1250 / 23400)
    assert press.quality == pytest.approx(1200 / 1250)
    assert press.oee == pytest.approx(press.availability * press.performance * press.quality)
    assert press.oee == pytest.approx(15 * 1200 / 27000)
    lathe = table.loc["lathe"]
    assert lathe.idle_seconds == 3600
    assert lathe.availability == pytest.approx(0.5)
    assert lathe.performance == pytest.approx(30 * 60 / 3600)


def test_a_line_adds_times_and_quantities_before_dividing(states, counts):
    line = oee(
        states,
        counts,
        IDEAL,
        by="line",
        asset_line={"press": "L1", "lathe": "L1"},
        planned_stop_reasons=["break"],
    ).iloc[0]
    assert line.line == "L1"
    assert line.planned_busy_seconds == 27000 + 7200
    assert line.oee == pytest.approx((15 * 1200 + 30 * 50) / (27000 + 7200))
    total = oee(states, counts, IDEAL, by=[], planned_stop_reasons=["break"]).iloc[0]
    assert total.oee == pytest.approx(line.oee)


def test_shifts_split_state_records_at_the_boundary(states, counts):
    shifts = {"early": ("06:00", "10:00"), "late": ("10:00", "18:00")}
    table = oee(states, counts, IDEAL, by=["asset", "shift"], shifts=shifts).set_index(
        ["asset", "shift"]
    )
    early, late = table.loc[("press", "early")], table.loc[("press", "late")]
    assert early.planned_busy_seconds == 4 * 3600
    assert early.running_seconds == 3 * 3600
    assert late.running_seconds == 3.5 * 3600
    assert early.total_count == 520 and late.total_count == 730
    night = {"night": ("22:00", "06:00"), "day": ("06:00", "22:00")}
    wrapped = oee(states, counts, IDEAL, by="shift", shifts=night)
    assert set(wrapped["shift"]) == {"day"}


def test_window_clips_states_and_counts(states, counts):
    row = oee(states, counts, IDEAL, start=_t("08:30"), end=_t("09:30")).set_index("asset")
    press = row.loc["press"]
    assert press.running_seconds == 1800 and press.down_seconds == 1800
    assert press.total_count == 0
    assert press.availability == pytest.approx(0.5)
    assert math.isnan(press.performance) is False
    assert press.oee == 0


def test_per_serial_results_count_one_unit_each(states):
    serials = pd.DataFrame(
        {
            "asset": ["lathe"] * 4,
            "time": [_t("06:10"), _t("06:20"), _t("06:30"), _t("06:40")],
            "passed": [True, True, False, True],
        }
    )
    lathe = oee(states, serials, IDEAL).set_index("asset").loc["lathe"]
    assert lathe.total_count == 4 and lathe.good_count == 3
    assert lathe.quality == pytest.approx(0.75)


def test_losses_split_the_planned_busy_time_exactly(states, counts):
    losses = oee_losses(states, counts, IDEAL, planned_stop_reasons=["break"])
    press = losses[losses["asset"] == "press"]
    by_category = press.groupby("category")["seconds"].sum()
    assert by_category["downtime"] == 3600
    assert by_category["speed loss"] == pytest.approx(23400 - 15 * 1250)
    assert by_category["scrap"] == pytest.approx(15 * 50)
    assert press[press["category"] == "downtime"]["reason"].tolist() == ["hydraulics"]
    assert press["seconds"].is_monotonic_decreasing
    assert press["seconds"].sum() + 15 * 1200 == pytest.approx(27000)
    lathe = losses[losses["asset"] == "lathe"]
    assert "no material" in set(lathe["reason"])


def test_bad_input_is_named(states, counts):
    with pytest.raises(EngineError, match="No ideal cycle time for assets \\['lathe'\\]"):
        oee(states, counts, {"press": 15.0})
    with pytest.raises(EngineError, match="unknown states \\['setup'\\]"):
        oee(states.assign(state="setup"), counts, IDEAL)
    with pytest.raises(EngineError, match="'good' and 'total'"):
        oee(states, counts.drop(columns=["good"]), IDEAL)
    with pytest.raises(ParameterError, match="asset_line"):
        oee(states, counts, IDEAL, by="line")
    with pytest.raises(ParameterError, match="'by' parameter"):
        oee(states, counts, IDEAL, by="plant")
