"""SPC engine: control limits, Nelson rules, EWMA, CUSUM and capability on hand-checkable data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from factorybrain.engines.spc import (
    CUSUMChart,
    EWMAChart,
    IndividualsChart,
    ProcessMonitor,
    XbarRChart,
    a2,
    capability,
    d2,
    d4_upper,
    nelson_rules,
)
from factorybrain.exceptions import EngineError, NotFittedError, ParameterError


def _calm(n: int) -> list[float]:
    return [-0.5 if i % 2 else 0.5 for i in range(n)]


def test_constants_match_the_textbook_tables() -> None:
    assert d2(2) == pytest.approx(1.128, abs=1e-3)
    assert d2(5) == pytest.approx(2.326, abs=1e-3)
    assert a2(5) == pytest.approx(0.577, abs=1e-3)
    assert d4_upper(2) == pytest.approx(3.267, abs=1e-3)


def test_a_two_sigma_shift_for_nine_points_fires_rule_two_at_the_ninth() -> None:
    values = _calm(20) + [2.0] * 9
    (violation,) = nelson_rules(values, 0.0, 1.0, rules=(2,))
    assert violation.rule == 2
    assert violation.indices == (28,)
    assert violation.points == tuple(range(20, 29))
    assert nelson_rules(_calm(20) + [2.0] * 8, 0.0, 1.0, rules=(2,)) == []
    # the Western Electric run of 8 fires one point earlier
    (western,) = nelson_rules(_calm(20) + [2.0] * 8, 0.0, 1.0, rules=(2,), run_length=8)
    assert western.indices == (27,)


def test_each_rule_flags_its_own_pattern() -> None:
    beyond = nelson_rules(_calm(10) + [3.5] + _calm(5), 0.0, 1.0, rules=(1,))
    assert [v.indices for v in beyond] == [(10,)]
    trend = nelson_rules([0, 0.5, 0.9, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, -1.0], 0.0, 1.0, rules=(3,))
    assert trend[0].indices == (8,) and trend[0].points == tuple(range(3, 9))
    two_of_three = nelson_rules([0, 2.5, 0.3, 2.2, 0, 0], 0.0, 1.0, rules=(5,))
    assert two_of_three[0].indices == (3,) and two_of_three[0].points == (1, 3)
    # 4 of 5 beyond 1 sigma on one side
    four_of_five = nelson_rules([0, 1.5, 1.2, 0.2, 1.3, 1.1, 0], 0.0, 1.0, rules=(6,))
    assert four_of_five[0].indices == (5,)
    hugging = nelson_rules([0.1] * 15, 0.0, 1.0, rules=(7,))
    assert hugging[0].indices == (14,)
    mixture = nelson_rules([1.5, -1.5] * 4, 0.0, 1.0, rules=(8,))
    assert mixture[0].indices == (7,)
    alternating = nelson_rules([0.3, -0.3] * 7, 0.0, 1.0, rules=(4,))
    assert alternating[0].indices == (13,)
    assert nelson_rules(_calm(10), 0.0, 1.0, rules=(1, 2, 3, 5, 6)) == []


def test_missing_values_neither_break_nor_continue_a_run() -> None:
    values = [2.0] * 5 + [math.nan] + [2.0] * 4
    (violation,) = nelson_rules(values, 0.0, 1.0, rules=(2,))
    assert violation.indices == (9,) and 5 not in violation.points


def test_nelson_rules_refuse_a_sigma_that_is_not_positive() -> None:
    with pytest.raises(ParameterError, match="positive, finite sigma"):
        nelson_rules([1, 2, 3], 0.0, 0.0)
    with pytest.raises(ParameterError, match="numbered 1 to 8"):
        nelson_rules([1, 2, 3], 0.0, 1.0, rules=(9,))


def test_individuals_limits_come_from_the_mean_moving_range() -> None:
    chart = IndividualsChart().fit([1.0, 3.0, 2.0, 4.0, 3.0])
    assert chart.center_ == pytest.approx(2.6)
    assert chart.sigma_ == pytest.approx(1.5 / 1.1284, rel=1e-3)
    assert chart.upper_ == pytest.approx(2.6 + 3 * 1.5 / 1.1284, rel=1e-3)
    assert chart.moving_range_upper_ == pytest.approx(3.267 * 1.5, rel=1e-3)
    check = chart.check([2.6, 2.6, 9.0, 2.6])
    assert check.signals == (2,)
    assert check.companion_signals == (2, 3)  # the jump and the fall back


def test_xbar_r_limits_follow_a2_d3_d4() -> None:
    subgroups = [[1, 2, 3], [2, 3, 4], [3, 4, 5], [2, 2, 5]]
    chart = XbarRChart().fit(subgroups)
    assert chart.range_mean_ == pytest.approx(2.25)
    assert chart.center_ == pytest.approx(3.0)
    assert chart.upper_ == pytest.approx(3.0 + 1.023 * 2.25, rel=1e-3)
    assert chart.range_upper_ == pytest.approx(2.574 * 2.25, rel=1e-3)
    assert chart.range_lower_ == 0.0
    check = chart.check([[3, 3, 4], [8, 9, 9], [1, 1, 9]])
    assert check.signals == (1,) and check.companion_signals == (2,)
    with pytest.raises(ParameterError, match="subgroups of 3"):
        chart.check([[1, 2], [3, 4]])


def test_ewma_and_cusum_see_a_lasting_one_sigma_shift_that_rule_one_misses() -> None:
    rng = np.random.default_rng(3)
    baseline = rng.normal(10.0, 1.0, 200)
    shifted = rng.normal(11.0, 1.0, 60)
    chart = IndividualsChart(rules=(1,)).fit(baseline)
    ewma = EWMAChart(smoothing=0.1, width=2.7).fit(baseline)
    cusum = CUSUMChart().fit(baseline)
    assert ewma.check(baseline).signals == () and cusum.check(baseline).signals == ()
    assert ewma.check(shifted).signals and cusum.check(shifted).signals
    assert len(chart.check(shifted).signals) <= 3
    # the upper CUSUM signals, the lower does not
    assert cusum.check(shifted).companion_signals == ()


def test_the_monitor_names_every_test_that_signalled() -> None:
    monitor = ProcessMonitor().fit(_calm(30))
    signals = monitor.check(_calm(10) + [2.0] * 10).signals()
    assert "nelson_2" in signals and "ewma" in signals and "cusum" in signals


def test_capability_of_known_data() -> None:
    values = np.array([9.0, 11.0] * 50)  # mean 10
    result = capability(values, 4.0, 16.0, sigma_within=1.0)
    assert result.cp == pytest.approx(2.0) and result.cpk == pytest.approx(2.0)
    assert result.pp == pytest.approx(12 / (6 * np.std(values, ddof=1)))
    n = 100
    half = stats.norm.ppf(0.975) * math.sqrt(1 / (9 * n) + 4.0 / (2 * (n - 1)))
    assert (result.cpk_low, result.cpk_high) == pytest.approx((2.0 - half, 2.0 + half))
    assert result.cp_low < 2.0 < result.cp_high
    off_center = capability(values + 2.0, 4.0, 16.0, sigma_within=1.0)
    assert off_center.cpk == pytest.approx(4.0 / 3.0) and off_center.cp == pytest.approx(2.0)
    upper_only = capability(values, upper_spec=13.0, sigma_within=1.0)
    assert upper_only.cp is None and upper_only.cpk == pytest.approx(1.0)
    assert capability(values, 9.5, 16.0).out_of_spec == 50


def test_capability_and_charts_say_what_they_need() -> None:
    with pytest.raises(ParameterError, match="specification limit"):
        capability([1.0, 2.0, 3.0])
    with pytest.raises(EngineError, match="at least 3"):
        capability([1.0, 2.0], 0.0, 5.0)
    with pytest.raises(EngineError, match="needs variation"):
        IndividualsChart().fit([5.0] * 10)
    with pytest.raises(NotFittedError):
        IndividualsChart().check([1.0, 2.0])
    with pytest.raises(ParameterError, match="'smoothing' parameter of EWMAChart"):
        EWMAChart(smoothing=1.5).fit([1.0, 2.0, 3.0])
