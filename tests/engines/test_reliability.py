"""Field reliability: censored Weibull fits, B-life intervals, rate comparisons, cohort screens."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import sparse, stats

from factorybrain.engines.reliability import (
    CohortScreen,
    WeibullModel,
    WindowBins,
    compare_rates,
    cumulative_hazard,
    expected_claims,
)
from factorybrain.engines.reliability._rates import compare_rates_many
from factorybrain.engines.reliability._scan import temporal_scan
from factorybrain.exceptions import EngineError, NotFittedError, ParameterError


def _fleet(n: int, shape: float, scale: float, horizon: float, seed: int):
    rng = np.random.default_rng(seed)
    age = rng.uniform(0, horizon, n)
    life = scale * rng.weibull(shape, n)
    failed = life <= age
    return np.where(failed, life, age), failed


def test_weibull_recovers_shape_and_b10_from_heavily_censored_fleet() -> None:
    durations, failed = _fleet(4000, 2.0, 800.0, 700.0, seed=1)
    assert 0.7 < 1 - failed.mean() < 0.9  # mostly censored
    model = WeibullModel().fit(durations, failed)
    truth = 800.0 * (-math.log(0.9)) ** 0.5
    assert model.shape_ == pytest.approx(2.0, rel=0.15)
    assert model.b_life(0.10) == pytest.approx(truth, rel=0.10)
    low, high = model.b_life_interval(0.10)
    assert low < model.b_life(0.10) < high
    assert low <= truth <= high
    wald = model.b_life_interval(0.10, method="wald")
    assert wald[0] == pytest.approx(low, rel=0.1) and wald[1] == pytest.approx(high, rel=0.1)


def test_ignoring_censoring_would_be_wrong_and_the_fit_does_not() -> None:
    durations, failed = _fleet(3000, 1.5, 500.0, 300.0, seed=2)
    censored = WeibullModel().fit(durations, failed).b_life(0.1)
    failures_only = WeibullModel().fit(durations[failed], np.ones(failed.sum())).b_life(0.1)
    truth = 500.0 * (-math.log(0.9)) ** (1 / 1.5)
    assert abs(censored / truth - 1) < 0.15
    assert failures_only < 0.6 * truth  # what dropping the running units would say


def test_interval_is_unbounded_when_the_data_cannot_bound_it() -> None:
    model = WeibullModel(min_failures=3).fit([1.0, 2.0, 3.0, 50, 50, 50, 50], [1, 1, 1, 0, 0, 0, 0])
    low, high = model.b_life_interval(0.10)
    assert low < model.b_life(0.10) <= high


def test_forecast_counts_failures_of_survivors_with_an_interval() -> None:
    durations, failed = _fleet(2000, 2.0, 400.0, 300.0, seed=3)
    model = WeibullModel().fit(durations, failed)
    forecast = model.forecast(durations[~failed], 90.0)
    assert forecast["low"] <= forecast["expected"] <= forecast["high"]
    assert forecast["expected"] == pytest.approx(
        model.expected_failures(durations[~failed], 90.0).sum()
    )
    assert model.forecast(durations[~failed], 180.0)["expected"] > forecast["expected"]


def test_weibull_refuses_what_it_cannot_fit() -> None:
    with pytest.raises(EngineError, match="at least 3"):
        WeibullModel().fit([10, 20, 30], [1, 0, 0])
    with pytest.raises(EngineError, match="same length"):
        WeibullModel().fit([10, 20], [1])
    with pytest.raises(EngineError, match="finite and >= 0"):
        WeibullModel().fit([10, -1, 30, 4], [1, 1, 1, 1])
    with pytest.raises(ParameterError, match="confidence"):
        WeibullModel(confidence=1.5).fit([1, 2, 3], [1, 1, 1])
    with pytest.raises(NotFittedError):
        WeibullModel().b_life()


def test_nelson_aalen_expected_claims_add_up_to_the_failures() -> None:
    durations, failed = _fleet(1000, 1.2, 300.0, 200.0, seed=4)
    times, hazard = cumulative_hazard(durations, failed)
    assert np.all(np.diff(hazard) > 0) and times.size == np.unique(durations[failed]).size
    assert expected_claims(durations, failed).sum() == pytest.approx(failed.sum(), rel=1e-9)


def test_rate_comparison_is_exact_and_matches_its_vector_form() -> None:
    same = compare_rates(10, 10.0, 100, 100.0)
    assert same.rate_ratio == pytest.approx(1.0) and same.p_value > 0.3
    triple = compare_rates(30, 10.0, 100, 100.0)
    assert triple.rate_ratio == pytest.approx(3.0) and 1.5 < triple.low < 3 < triple.high
    assert triple.p_value < 1e-4
    many = compare_rates_many(np.array([10, 30]), np.array([10.0, 10.0]),
                              np.array([100, 100]), np.array([100.0, 100.0]))  # fmt: skip
    assert many["rate_ratio"][1] == pytest.approx(triple.rate_ratio)
    assert many["low"][1] == pytest.approx(triple.low)
    assert many["p_value"][0] == pytest.approx(same.p_value)


def _orders_fleet(seed: int = 5):
    """400 orders of 50 units; each consumes one lot of A and one of B; lot A-7 is bad.

    B lots are shared across neighbouring orders, so the B lots of A-7's orders inherit its
    claims; a bad day on machine 0 adds claims to the units it processed.
    """
    rng = np.random.default_rng(seed)
    orders, per = 400, 50
    n = orders * per
    order = np.repeat(np.arange(orders), per)
    lot_a = order // 10  # 40 lots of A, 10 orders each
    lot_b = (order + 5) // 10  # B lots straddle the A lots
    age = rng.uniform(30, 300, n)
    hazard = np.full(n, 0.002 / 100)
    hazard[lot_a == 7] *= 12
    day = order // 4  # four orders a day on machine 0
    hazard[(day == 60) | (day == 61)] *= 15
    failed = rng.random(n) < 1 - np.exp(-hazard * age)
    columns = [np.flatnonzero(lot_a == k) for k in range(40)]
    columns += [np.flatnonzero(lot_b == k) for k in range(41)]
    rows = np.concatenate(columns)
    cols = np.concatenate([np.full(c.size, j) for j, c in enumerate(columns)])
    membership = sparse.csc_matrix((np.ones(rows.size), (rows, cols)), shape=(n, len(columns)))
    bins = np.unique(day)
    windows = WindowBins(
        sparse.csr_matrix((np.ones(n), (np.arange(n), day)), shape=(n, bins.size)),
        np.zeros(bins.size, dtype=int),
        bins,
    )
    return age, failed, membership, windows


def test_screen_names_the_bad_lot_not_the_lots_that_share_its_units() -> None:
    age, failed, membership, windows = _orders_fleet()
    screen = CohortScreen().fit(age, failed, membership, windows)
    selected = screen.selected_
    assert len(selected) >= 1
    fixed = selected[selected["kind"] == "cohort"]
    assert int(fixed["cohort"].iloc[0]) == 7  # lot A-7, not a B lot
    assert fixed["rank"].iloc[0] == 1
    b_lots = set(range(40, 81))
    assert not b_lots & set(fixed["cohort"].astype(int))
    tests = screen.tests_.set_index("cohort").loc[[7, 40 + 7]]
    assert (tests["q_value"] < 0.05).all()  # both stand out on their own...
    shared = [alt for alt, _, _ in fixed["alternatives"].iloc[0]]
    assert any(screen.tests_.loc[a, "cohort"] in (47, 48) for a in shared)  # ...and are ranked
    machine = selected[selected["kind"] == "window"]
    assert len(machine) == 1
    assert machine["start"].iloc[0] >= 59 and machine["end"].iloc[0] <= 62


def test_screen_flags_nothing_in_a_fleet_without_a_cause() -> None:
    rng = np.random.default_rng(6)
    n = 20000
    age = rng.uniform(10, 300, n)
    failed = rng.random(n) < 1 - np.exp(-0.0002 * age)
    groups = rng.integers(0, 50, n)
    membership = sparse.csc_matrix((np.ones(n), (np.arange(n), groups)), shape=(n, 50))
    screen = CohortScreen().fit(age, failed, membership)
    assert screen.selected_.empty
    assert (screen.tests_["q_value"] > 0.05).all()


def _catalogue(tracks: int, days: int, max_width: int):
    """Every window of ``max_width`` days at most of ``tracks`` tracks laid end to end."""
    rows = [
        (t, t * days + s, w)
        for t in range(tracks)
        for w in range(1, max_width + 1)
        for s in range(days - w + 1)
    ]
    return (np.array(column) for column in zip(*rows, strict=True))


def test_scan_finds_a_two_day_burst_on_one_machine_among_many() -> None:
    rng = np.random.default_rng(11)
    tracks, days = 12, 120
    expected = np.full(tracks * days, 1.0)
    observed = rng.poisson(expected).astype(float)
    burst = 5 * days + 50
    observed[burst : burst + 2] += 6  # 12 extra claims over two days of machine 5
    track, start, width = _catalogue(tracks, days, 7)
    result = temporal_scan(
        observed, expected, track, start, width, min_claims=3, min_rate_ratio=1.5,
        random_state=0,
    )  # fmt: skip
    assert int(result.tracks[np.argmin(result.track_p_value)]) == 5
    assert result.track_p_value[5] < 1e-4
    best = int(np.argmax(np.where(track == 5, result.statistic, -1)))
    assert start[best] <= burst and start[best] + width[best] >= burst + 2
    # one test per machine: the other machines stay unremarkable after a false discovery rate
    q_values = stats.false_discovery_control(result.track_p_value)
    assert np.flatnonzero(q_values <= 0.05).tolist() == [5]


def test_scan_of_a_uniform_rate_rejects_at_the_nominal_level() -> None:
    rng = np.random.default_rng(12)
    track, start, width = _catalogue(1, 60, 7)
    expected = np.full(60, 0.5)
    p_values = [
        temporal_scan(
            rng.poisson(expected).astype(float), expected, track, start, width,
            min_claims=2, draws=299, random_state=rng,
        ).track_p_value[0]
        for _ in range(300)
    ]  # fmt: skip
    rejected = np.mean(np.asarray(p_values) <= 0.05)
    assert 0.01 <= rejected <= 0.09  # 0.05 +- 3 binomial standard errors of 300 draws


def test_scan_refuses_windows_outside_the_cells() -> None:
    with pytest.raises(EngineError, match="within the 3 cells"):
        temporal_scan(np.zeros(3), np.ones(3), np.array([0]), np.array([2]), np.array([2]))


@pytest.mark.parametrize(
    ("units", "columns"), [(1, 1), (50, 3), (20_000, 7), (20_000, 63), (5_000, 70), (300, 129)]
)
def test_unit_patterns_are_grouped_as_numpys_unique_rows_groups_them(units, columns) -> None:
    from factorybrain.engines.reliability._cohorts import _unique_rows

    rng = np.random.default_rng(units)
    bits = rng.random((units, columns)) < rng.random(columns) / (1 + columns // 8)
    patterns, inverse = _unique_rows(bits)
    expected, expected_inverse = np.unique(bits, axis=0, return_inverse=True)
    assert patterns.dtype == bool
    np.testing.assert_array_equal(patterns, expected)  # the same patterns in the same order
    np.testing.assert_array_equal(inverse, expected_inverse.ravel())
    np.testing.assert_array_equal(patterns[inverse], bits)


def _week_and_machine_fleet(seed: int = 5):
    """Two machines over 60 days; machine 0 makes worse units on days 22-24 (and far worse on
    days 40-43); most of what it makes on days 22-24 is product A, made nowhere else that week.

    Fixed cohorts are product x week, so the product's week holds most of the window's claims.
    """
    rng = np.random.default_rng(seed)
    days, per_day, tracks = 60, 100, 2
    n = days * per_day * tracks
    track = np.repeat(np.arange(tracks), days * per_day)
    day = np.tile(np.repeat(np.arange(days), per_day), tracks)
    window = (track == 0) & (day >= 22) & (day <= 24)
    product = np.where(window & (rng.random(n) < 0.7), 0, 1)
    age = rng.uniform(100, 400, n)
    rate = np.full(n, 0.00004)
    rate[window] *= 5
    rate[(track == 0) & (day >= 40) & (day <= 43)] *= 25
    failed = rng.random(n) < 1 - np.exp(-rate * age)
    age = np.where(failed, age * rng.uniform(0.2, 1, n), age)
    keys, column = np.unique(product * 10 + day // 7, return_inverse=True)
    membership = sparse.csc_matrix((np.ones(n), (np.arange(n), column)), shape=(n, keys.size))
    windows = WindowBins(
        sparse.csr_matrix((np.ones(n), (np.arange(n), track * days + day)), shape=(n, 2 * days)),
        np.repeat(np.arange(tracks), days),
        np.tile(np.arange(days), tracks),
    )
    week = int(np.flatnonzero(keys == 3)[0])  # product A (0) in week 3 (days 21-27)
    return age, failed, membership, windows, week


def test_a_window_the_screen_did_not_keep_still_competes_to_name_a_cohorts_claims() -> None:
    age, failed, membership, windows, week = _week_and_machine_fleet()
    screen = CohortScreen().fit(age, failed, membership, windows)
    tests = screen.tests_
    picked = screen.selected_[screen.selected_["cohort"] == week]
    assert len(picked) == 1  # the product's week is selected: the window failed its own scan
    row = picked.iloc[0]
    alternatives = {label: separation for label, separation, _ in row["alternatives"]}
    windows_named = tests.loc[list(alternatives)]
    machine = windows_named[(windows_named["kind"] == "window") & (windows_named["track"] == 0)]
    assert len(machine) == 1
    label = int(machine.index[0])
    assert tests.loc[label, "q_value"] > 0.05  # not kept by the screen on its own...
    assert 21 <= tests.loc[label, "start"] <= 23 and 23 <= tests.loc[label, "end"] <= 25
    # ...yet it separates the failing units at least as well as the week it explains
    assert alternatives[label] >= row["separation"]
    assert screen.members(label).size > 0
