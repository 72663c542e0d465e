from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from factorybrain.engines.forecast import DemandForecaster
from factorybrain.engines.inventory import (
    InventoryPlanner,
    RulEstimate,
    allocate_system_fill_rate,
    economic_order_quantity,
    expected_on_hand,
    failure_probability,
    fill_rate_curve,
    fill_rate_of_level,
    normal_order_up_to_level,
    order_up_to_level,
    reorder_point,
    simulate_policy,
    spare_part_demand,
)
from factorybrain.exceptions import NotFittedError, ParameterError


# ----------------------------------------------------------------------------- simulation
def test_order_up_to_simulation_by_hand_with_zero_lead_time():
    result = simulate_policy(np.array([2, 0, 3, 1]), policy="order_up_to", level=3, lead_time=0)
    assert result.fill_rate == 1.0
    assert result.on_hand.tolist() == [1, 3, 0, 2]
    assert result.average_inventory == pytest.approx(1.5)
    assert result.orders == 3


def test_order_up_to_simulation_by_hand_with_one_period_lead_time():
    # Period 0: 3 on hand, 2 sold, order 2 (arrives period 2). Period 1: nothing happens.
    # Period 2: 2 arrive, 3 sold, order 3 (arrives period 4). Period 3: 1 wanted, none on hand.
    result = simulate_policy(np.array([2, 0, 3, 1]), policy="order_up_to", level=3, lead_time=1)
    assert result.filled == 5.0
    assert result.fill_rate == pytest.approx(5 / 6)
    assert result.on_hand.tolist() == [1, 1, 0, 0]
    assert result.stockout_periods == 1


def test_reorder_point_simulation_by_hand():
    result = simulate_policy(
        np.array([3, 3, 3]), policy="reorder_point", level=2, order_quantity=4, lead_time=0
    )
    assert result.on_hand.tolist() == [3, 0, 1]
    assert result.orders == 2
    assert result.fill_rate == 1.0


def test_simulation_rejects_bad_policies():
    with pytest.raises(ParameterError, match="policy"):
        simulate_policy(np.ones(3), policy="kanban", level=1, lead_time=0)
    with pytest.raises(ParameterError, match="order_quantity"):
        simulate_policy(np.ones(3), policy="reorder_point", level=1, lead_time=0)


# ----------------------------------------------------------------------------- levels
def test_order_up_to_level_on_deterministic_demand():
    paths = np.full((100, 2), 2.0)
    assert order_up_to_level(paths, target=0.95, lead_time=1, review_period=1) == 4.0
    assert (
        order_up_to_level(paths, target=0.95, service="cycle_service", lead_time=1, review_period=1)
        == 4.0
    )


def test_fill_rate_level_is_the_smallest_reaching_target_and_simulation_agrees():
    rng = np.random.default_rng(0)
    paths = rng.poisson(3.0, size=(50000, 3)).astype(float)
    level = order_up_to_level(paths, target=0.95, lead_time=2, review_period=1)
    expected = fill_rate_of_level(paths, np.array([level - 1, level]), 2, 1)
    assert expected[0] < 0.95 <= expected[1]
    history = rng.poisson(3.0, size=100000).astype(float)
    achieved = simulate_policy(history, policy="order_up_to", level=level, lead_time=2).fill_rate
    assert achieved == pytest.approx(expected[1], abs=0.01)


def test_reorder_point_is_the_smallest_reaching_target_in_simulation():
    rng = np.random.default_rng(1)
    paths = rng.poisson(2.0, size=(50000, 2)).astype(float)
    point = reorder_point(paths, order_quantity=6, target=0.95, lead_time=1)
    history = rng.poisson(2.0, size=100000).astype(float)

    def achieved(level: float) -> float:
        return simulate_policy(
            history, policy="reorder_point", level=level, order_quantity=6, lead_time=1
        ).fill_rate

    assert achieved(point) >= 0.95 - 0.005
    assert achieved(point - 1) < 0.95


@pytest.mark.parametrize("policy", ["order_up_to", "reorder_point"])
def test_whole_units_in_the_billions_get_levels_that_reach_the_target(policy):
    # Whole units are tried one by one only up to a few thousand: beyond, the levels are quantiles
    # (trying every unit exhausted memory).
    rng = np.random.default_rng(2)
    paths = rng.poisson(1e10, size=(20000, 2)).astype(float)
    if policy == "order_up_to":
        level = order_up_to_level(paths, target=0.95, lead_time=1, review_period=1)
        assert level == np.ceil(level)
        assert fill_rate_of_level(paths, level, 1, 1)[0] >= 0.95
        assert level < 2.01e10
    else:
        point = reorder_point(paths, order_quantity=1e10, target=0.95, lead_time=1)
        assert point == np.ceil(point) and 0.99e10 < point < 1.01e10


def test_normal_level_satisfies_the_loss_function_equation():
    mean, std, target = 10.0, 4.0, 0.95
    level = normal_order_up_to_level(mean, std, target=target, lead_time=2, review_period=1)
    spread = std * np.sqrt(3)
    k = (level - mean * 3) / spread
    loss = stats.norm.pdf(k) - k * stats.norm.sf(k)
    assert spread * loss == pytest.approx((1 - target) * mean, rel=1e-6)


def test_eoq_formula():
    assert economic_order_quantity(100, 50, 1) == pytest.approx(100.0)
    assert economic_order_quantity(400, 50, 1) == pytest.approx(
        2 * economic_order_quantity(100, 50, 1)
    )
    with pytest.raises(ParameterError):
        economic_order_quantity(100, 50, 0)


def test_system_allocation_reaches_aggregate_target_with_less_stock():
    rng = np.random.default_rng(2)
    paths = [rng.poisson(rate, size=(4000, 2)).astype(float) for rate in (0.05, 0.2, 5.0, 10.0)]
    curves = [fill_rate_curve(p, lead_time=1, review_period=1) for p in paths]
    system = allocate_system_fill_rate(curves, 0.95)
    item = np.array(
        [order_up_to_level(p, target=0.95, lead_time=1, review_period=1) for p in paths]
    )
    weights = np.array([c[2] for c in curves])
    fills = np.array([c[1][np.searchsorted(c[0], s)] for c, s in zip(curves, system, strict=True)])
    assert np.sum(weights * fills) / weights.sum() >= 0.95
    assert system.sum() <= item.sum()

    def on_hand(levels: np.ndarray) -> float:
        return sum(
            float(expected_on_hand(p, s, 1, 1)[0]) for p, s in zip(paths, levels, strict=True)
        )

    assert on_hand(system) < on_hand(item)


@pytest.mark.parametrize("review_period", [1, 3])
def test_expected_on_hand_matches_the_simulated_average_inventory(review_period):
    rng = np.random.default_rng(5)
    paths = rng.poisson(3.0, size=(20000, 1 + review_period)).astype(float)
    level = 14.0
    expected = float(expected_on_hand(paths, level, 1, review_period)[0])
    demand = rng.poisson(3.0, size=30000).astype(float)
    result = simulate_policy(
        demand, policy="order_up_to", level=level, lead_time=1, review_period=review_period
    )
    assert expected == pytest.approx(result.average_inventory, rel=0.03)
    curve = fill_rate_curve(paths, lead_time=1, review_period=review_period)
    assert np.all(np.diff(curve.on_hand) >= 0)
    assert curve.on_hand[np.searchsorted(curve.levels, level)] == pytest.approx(expected)


# ----------------------------------------------------------------------------- spare parts
def test_spare_part_demand_on_a_known_case():
    press = RulEstimate(mean=5, lower=3, upper=7)  # normal, median 5
    lathe = RulEstimate(quantiles={0.5: 10, 0.9: 20})  # linear from 0 to the median
    demand = spare_part_demand([("press", press, 2), ("lathe", lathe, 1)], lead_time=5)
    assert demand.probabilities == pytest.approx({"press": 0.5, "lathe": 0.25})
    assert demand.expected == pytest.approx(1.25)
    assert demand.distribution.sum() == pytest.approx(1.0)
    assert np.dot(np.arange(demand.distribution.size), demand.distribution) == pytest.approx(1.25)


def test_failure_probability_grows_with_the_lead_time():
    rul = RulEstimate(quantiles={0.1: 10, 0.5: 20, 0.9: 30})
    probabilities = [failure_probability(rul, t) for t in (0, 5, 10, 20, 30, 45, 100)]
    assert probabilities == sorted(probabilities)
    assert probabilities[0] == 0.0 and probabilities[-1] == 1.0
    assert failure_probability(rul, 20) == pytest.approx(0.5)


def test_rul_estimate_needs_a_full_description():
    with pytest.raises(ParameterError):
        RulEstimate(mean=5)
    with pytest.raises(ParameterError):
        RulEstimate(mean=10, lower=12, upper=20)


# ----------------------------------------------------------------------------- planner
def fitted_forecaster() -> DemandForecaster:
    rng = np.random.default_rng(4)
    rows = [
        pd.DataFrame(
            {
                "unique_id": f"part-{i}",
                "ds": np.arange(30),
                "y": (rng.random(30) < 0.4) * rng.integers(1, 4, 30),
            }
        )
        for i in range(3)
    ]
    return DemandForecaster(horizon=3, pooled="never", n_windows=1).fit(pd.concat(rows))


def test_planner_sets_levels_and_health_demand_raises_them():
    forecaster = fitted_forecaster()
    plain = InventoryPlanner(target=0.95, n_samples=1000).fit(forecaster)
    failing = RulEstimate(mean=1, lower=0.5, upper=1.5)
    health = {"part-0": spare_part_demand([("press", failing, 3)], lead_time=2)}
    boosted = InventoryPlanner(target=0.95, n_samples=1000).fit(forecaster, health_demand=health)
    before = plain.policies_.set_index("unique_id")
    after = boosted.policies_.set_index("unique_id")
    assert (before["order_up_to"] > 0).all()
    assert (before["expected_fill_rate"] >= 0.95).all()
    assert after.loc["part-0", "order_up_to"] >= before.loc["part-0", "order_up_to"] + 2
    assert after.loc["part-0", "health_demand"] == pytest.approx(3.0, abs=0.01)


def test_planner_reorder_point_policy_with_eoq_and_simulation():
    forecaster = fitted_forecaster()
    planner = InventoryPlanner(
        policy="reorder_point", target=0.9, ordering_cost=50.0, holding_cost=1.0, n_samples=500
    ).fit(forecaster)
    policies = planner.predict()
    mean = policies["mean_demand"].to_numpy()
    assert policies["order_quantity"].to_numpy() == pytest.approx(
        np.ceil(np.sqrt(2 * mean * 50.0)), abs=1e-9
    )
    future = pd.DataFrame({"unique_id": "part-1", "ds": np.arange(12), "y": 1.0})
    result = planner.simulate(future)
    assert result["unique_id"].tolist() == ["part-1"]
    assert 0 <= result["fill_rate"].iloc[0] <= 1


def test_planner_errors():
    with pytest.raises(NotFittedError):
        InventoryPlanner().predict()
    with pytest.raises(ParameterError, match="target"):
        InventoryPlanner(target=1.5).fit(fitted_forecaster())
    with pytest.raises(ParameterError, match="system"):
        InventoryPlanner(policy="reorder_point", target_scope="system").fit(fitted_forecaster())


def silent_panel(later_rate: float) -> pd.DataFrame:
    """12 parts that sell throughout, 12 that sell nothing until period 24 and then sell at
    ``later_rate`` (6 periods, the forecast horizon of the tests), and one that has never sold."""
    rng = np.random.default_rng(7)
    rows = []
    for i in range(25):
        y = rng.poisson(2.0, 30).astype(float)
        if i >= 12:
            y[:24] = 0
            y[24:] = rng.poisson(later_rate, 6)
        if i == 24:
            y[:] = 0
        rows.append(pd.DataFrame({"unique_id": f"part-{i}", "ds": np.arange(30), "y": y}))
    return pd.concat(rows)


def test_items_without_demand_are_stocked_when_such_items_started_selling():
    from factorybrain.engines.forecast import DataQualityWarning

    with pytest.warns(DataQualityWarning):
        forecaster = DemandForecaster(horizon=6, pooled="never", n_windows=1).fit(
            silent_panel(later_rate=1.5)
        )
    with pytest.warns(DataQualityWarning, match="never had demand"):
        planner = InventoryPlanner(target=0.95).fit(forecaster, unique_ids=["part-24"])
    assert planner.policies_["order_up_to"].iloc[0] > 0
    assert planner.policies_["mean_demand"].iloc[0] > 0


def test_items_without_demand_get_no_stock_when_such_items_stayed_silent():
    from factorybrain.engines.forecast import DataQualityWarning

    with pytest.warns(DataQualityWarning):
        forecaster = DemandForecaster(horizon=6, pooled="never", n_windows=1).fit(
            silent_panel(later_rate=0.0)
        )
    with pytest.warns(DataQualityWarning, match="never had demand"):
        planner = InventoryPlanner(target=0.95).fit(forecaster, unique_ids=["part-24", "part-0"])
    levels = planner.policies_.set_index("unique_id")["order_up_to"]
    assert levels["part-24"] == 0 and levels["part-0"] > 0


def _intermittent_paths(history: np.ndarray, level: float, n_samples: int, seed: int):
    """Two periods of intermittent demand paths around ``level`` for an item's ``history``."""
    from factorybrain.engines.forecast._distribution import sample_demand

    return sample_demand(
        history,
        np.full(2, level),
        sigma=0.0,
        intermittent=True,
        n_samples=n_samples,
        rng=np.random.default_rng(seed),
    )


def test_items_that_started_selling_recently_get_wider_lead_time_demand():
    sales = [0, 1, 0, 2, 0, 1, 1, 0]
    old = np.array(sales + [0.0] * 28)
    young = np.array([0.0] * 28 + sales)
    draws = {
        name: _intermittent_paths(history, 0.6, 20000, seed=3).sum(axis=1)
        for name, history in (("old", old), ("young", young))
    }
    assert draws["young"].mean() == pytest.approx(draws["old"].mean(), rel=0.05)
    assert np.quantile(draws["young"], 0.99) > np.quantile(draws["old"], 0.99)
    assert draws["young"].std() > 1.1 * draws["old"].std()


def test_system_allocation_does_not_overshoot_on_identical_items():
    rng = np.random.default_rng(8)
    paths = rng.poisson(0.5, size=(4000, 2)).astype(float)
    curves = [fill_rate_curve(paths, lead_time=1, review_period=1)] * 20
    levels = allocate_system_fill_rate(curves, 0.9)
    curve = curves[0]
    fills = curve.fill_rates[np.searchsorted(curve.levels, levels)]
    assert fills.mean() >= 0.9
    # Identical items step together at one price; only as many take the step as the target needs.
    one_step = np.diff(np.unique(fills)).max() / len(curves)
    assert fills.mean() < 0.9 + one_step
    assert len(np.unique(levels)) == 2


def test_a_part_sold_one_unit_at_a_time_can_still_sell_more_and_keeps_its_level():
    history = np.array([0, 1, 0, 0, 1, 0, 1, 0, 0, 1] * 3, dtype=float)
    paths = _intermittent_paths(history, 0.4, 40000, seed=11)
    assert paths.max() >= 2
    assert paths.mean() == pytest.approx(0.4, rel=0.05)
