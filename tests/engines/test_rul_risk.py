from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from factorybrain.engines.rul import failure_probability, latest_safe_date, safe_horizon
from factorybrain.engines.rul._population import PopulationLife
from factorybrain.exceptions import ParameterError

intervals = st.tuples(st.floats(0.0, 200.0), st.floats(0.1, 80.0), st.floats(0.1, 80.0)).map(
    lambda t: (t[0] + t[1], t[0], t[0] + t[1] + t[2])
)  # (point, lower, upper)


def test_interval_ends_are_read_as_quantiles() -> None:
    point, lower, upper = 50.0, 30.0, 90.0
    at = failure_probability(point, lower, upper, [lower, point, upper], coverage=0.9)
    assert at == pytest.approx([0.05, 0.5, 0.95], abs=1e-9)
    at80 = failure_probability(point, lower, upper, [lower, upper], coverage=0.8)
    assert at80 == pytest.approx([0.1, 0.9], abs=1e-9)
    assert failure_probability(point, lower, upper, -1.0) == 0.0


@given(intervals, st.floats(0.0, 400.0), st.floats(0.0, 400.0))
def test_failure_probability_grows_with_the_horizon(interval, first, second) -> None:
    point, lower, upper = interval
    early, late = sorted([first, second])
    p_early = failure_probability(point, lower, upper, early)
    p_late = failure_probability(point, lower, upper, late)
    assert 0.0 <= p_early <= p_late <= 1.0


@given(intervals, st.floats(0.01, 0.49))
def test_safe_horizon_has_exactly_the_accepted_risk(interval, risk) -> None:
    point, lower, upper = interval
    horizon = safe_horizon(point, lower, upper, risk=risk)
    if horizon > 0:
        assert failure_probability(point, lower, upper, horizon) == pytest.approx(risk, abs=1e-6)
    else:
        assert failure_probability(point, lower, upper, 0.0) >= risk - 1e-6


def test_a_wider_interval_means_earlier_maintenance() -> None:
    narrow = safe_horizon(100.0, 90.0, 110.0, risk=0.05)
    wide = safe_horizon(100.0, 40.0, 110.0, risk=0.05)
    assert wide < narrow
    several = safe_horizon(np.array([100.0, 20.0]), [90.0, 0.0], [110.0, 40.0], risk=0.01)
    assert several.shape == (2,) and several[0] > several[1]


def test_latest_safe_date_uses_the_time_per_cycle() -> None:
    start = datetime(2026, 3, 1, 6, 0)
    date = latest_safe_date(
        80.0, 50.0, 100.0, last_observation=start, time_per_unit=timedelta(hours=2), risk=0.05
    )
    assert date == pd.Timestamp(start) + pd.Timedelta(hours=100)
    overdue = latest_safe_date(
        3.0, 0.0, 9.0, last_observation=start, time_per_unit=timedelta(hours=2), risk=0.01
    )
    assert overdue == pd.Timestamp(start)


def test_bad_inputs_name_the_problem() -> None:
    with pytest.raises(ParameterError, match="risk must be a float in"):
        safe_horizon(10.0, 5.0, 20.0, risk=1.5)
    with pytest.raises(ParameterError, match="coverage must be a float in"):
        failure_probability(10.0, 5.0, 20.0, 3.0, coverage=0.0)
    with pytest.raises(ParameterError, match="lower <= point <= upper"):
        failure_probability(10.0, 15.0, 20.0, 3.0)


def test_population_life_follows_the_fleet_and_handles_censoring() -> None:
    lifetimes = np.arange(100.0, 200.0)
    everyone = PopulationLife.fit(lifetimes, np.ones(100, dtype=bool))
    low, median, high = everyone.remaining_quantiles(0.0, (0.05, 0.5, 0.95))
    assert low == pytest.approx(104, abs=1) and median == pytest.approx(149, abs=1)
    assert high == pytest.approx(194, abs=1)
    # older units have less left, and nothing left is known beyond the oldest failure
    assert everyone.remaining_quantiles(150.0, (0.5,))[0] < median - 100
    assert np.isnan(everyone.remaining_quantiles(250.0, (0.5,))).all()
    # units still running at 150 (censored) push the estimate up, never down
    censored = PopulationLife.fit(lifetimes, lifetimes < 150)
    assert censored.remaining_quantiles(0.0, (0.05,))[0] >= low
