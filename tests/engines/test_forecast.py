from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from factorybrain.engines.forecast import (
    DataQualityWarning,
    DemandForecaster,
    FactorybrainWarning,
    classify_demand,
    mase,
    rmsse,
)
from factorybrain.exceptions import NotFittedError, ParameterError


def intermittent_table(n_series: int, n_periods: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for series in range(n_series):
        rate = rng.uniform(0.2, 0.6)
        demand = (rng.random(n_periods) < rate) * rng.integers(1, 6, n_periods)
        rows.append(
            pd.DataFrame({"unique_id": f"part-{series}", "ds": np.arange(n_periods), "y": demand})
        )
    return pd.concat(rows, ignore_index=True)


# ----------------------------------------------------------------------------- classification
@pytest.mark.parametrize(
    ("series", "expected"),
    [
        ([5, 6, 5, 4, 5, 6, 5, 5], "smooth"),
        ([1, 20, 2, 15, 1, 30, 2, 1], "erratic"),
        ([0, 0, 5, 0, 0, 5, 0, 0, 6, 0], "intermittent"),
        ([0, 0, 1, 0, 0, 30, 0, 0, 2, 0], "lumpy"),
        ([0, 0, 0, 0], "no_demand"),
    ],
)
def test_classification_of_constructed_series(series, expected):
    assert classify_demand(np.array(series, dtype=float)).demand_class == expected


def test_adi_counts_periods_per_demand():
    profile = classify_demand(np.array([0, 0, 3, 0, 0, 3], dtype=float))
    assert profile.adi == pytest.approx(3.0)
    assert profile.cv2 == pytest.approx(0.0)


# ----------------------------------------------------------------------------- forecasts
def test_forecasts_and_quantiles_for_every_series():
    table = intermittent_table(4, 36)
    forecaster = DemandForecaster(horizon=6, pooled="never", quantiles=(0.1, 0.5, 0.9, 0.99))
    forecaster.fit(table)
    result = forecaster.predict()
    assert len(result) == 4 * 6
    assert set(result["unique_id"]) == set(table["unique_id"])
    assert (result["ds"].min(), result["ds"].max()) == (36, 41)
    assert (result["forecast"] >= 0).all()
    quantiles = result[["q0.1", "q0.5", "q0.9", "q0.99"]].to_numpy()
    assert (np.diff(quantiles, axis=1) >= 0).all()
    assert (quantiles[:, -1] > 0).all()
    assert set(forecaster.selection_["demand_class"]) <= {"intermittent", "lumpy"}
    assert forecaster.selection_["cv_rmsse"].notna().all()


def test_pooled_model_is_a_candidate_with_many_series():
    table = intermittent_table(40, 30, seed=1)
    forecaster = DemandForecaster(horizon=6, n_windows=1, min_history=4).fit(table)
    assert forecaster._pooled_rmsse is not None
    assert np.isfinite(forecaster.forecasts_["forecast"]).all()
    samples = forecaster.demand_samples(2, n_samples=500)
    assert len(samples) == 40
    assert all(s.shape == (500,) and (s >= 0).all() for s in samples.values())


def test_pooled_model_competes_when_only_the_later_cut_offs_can_train_it():
    # 20 periods, cut-offs after periods 8 and 14: too few training rows for the pooled model
    # at the first, enough at the second. It is still a candidate, scored (like every other
    # candidate) on the window where it exists.
    table = intermittent_table(40, 20, seed=3)
    forecaster = DemandForecaster(horizon=6, n_windows=2, step_size=6, min_history=4).fit(table)
    assert forecaster._pooled_rmsse is not None
    for names, window_scores in forecaster._cv_windows.values():
        assert "PooledBoosted" in names
        assert window_scores.shape[1] == 1
        assert np.isfinite(window_scores).all()


def test_mean_level_of_stationary_demand_is_unbiased():
    # The level behind the demand distributions is the expected demand, not the RMSSE-optimal
    # level (which sits below the mean on intermittent demand): on a panel whose demand does not
    # change, the levels add up to the demand the panel has been selling per period.
    table = intermittent_table(60, 40, seed=4)
    forecaster = DemandForecaster(horizon=6, n_windows=1, min_history=4).fit(table)
    levels = np.array([forecaster.mean_level(f"part-{series}") for series in range(60)])
    sold = table.groupby("unique_id")["y"].mean().to_numpy()
    assert (levels > 0).all()
    assert levels.sum() == pytest.approx(sold.sum(), rel=0.15)


def test_pooled_forecast_ignores_zeros_before_a_parts_first_demand():
    # A part launched six periods ago gets the same pooled forecast whether the table starts just
    # before its launch or long before: pre-launch zeros are not demand history.
    from factorybrain.engines.forecast._pooled import predict_pooled

    table = intermittent_table(40, 30, seed=2)
    forecaster = DemandForecaster(horizon=6, n_windows=1, min_history=4).fit(table)
    launched = [0.0, 2.0, 0.0, 0.0, 1.0, 0.0, 3.0]
    late_start = np.full(30, np.nan)
    late_start[-8:] = [0.0, *launched]
    early_start = np.zeros(30)
    early_start[-7:] = launched
    levels = predict_pooled(forecaster._pooled_rmsse, np.vstack([late_start, early_start]))
    assert levels[0] > 0
    assert levels[0] == pytest.approx(levels[1])


def test_monthly_timestamps_are_inferred_and_continued():
    table = intermittent_table(2, 24)
    table["ds"] = pd.date_range("2024-01-01", periods=24, freq="MS").tolist() * 2
    result = DemandForecaster(horizon=3, pooled="never").fit(table).predict()
    assert list(pd.DatetimeIndex(result["ds"].unique())) == list(
        pd.date_range("2026-01-01", periods=3, freq="MS")
    )


def test_errors_before_fit_and_on_bad_input():
    with pytest.raises(NotFittedError):
        DemandForecaster().predict()
    with pytest.raises(ParameterError, match="horizon"):
        DemandForecaster(horizon=0).fit(intermittent_table(1, 20))
    with pytest.raises(ParameterError, match="missing"):
        DemandForecaster().fit(pd.DataFrame({"unique_id": ["a"], "y": [1.0]}))
    with pytest.raises(ParameterError, match="quantiles"):
        DemandForecaster(quantiles=(0.5, 1.5)).fit(intermittent_table(1, 20))


# ----------------------------------------------------------------------------- fallbacks
def test_all_zero_history_warns_and_forecasts_zero():
    table = pd.concat(
        [
            intermittent_table(1, 24),
            pd.DataFrame({"unique_id": "dead", "ds": np.arange(24), "y": 0.0}),
        ]
    )
    with pytest.warns(DataQualityWarning, match="no demand"):
        forecaster = DemandForecaster(horizon=3, pooled="never").fit(table)
    dead = forecaster.predict(unique_ids=["dead"])
    assert (dead["forecast"] == 0).all() and (dead["q0.9"] == 0).all()
    assert forecaster.selection_.set_index("unique_id").loc["dead", "fallback"]


def test_short_history_warns_and_uses_historic_average():
    table = pd.concat(
        [
            intermittent_table(1, 24),
            pd.DataFrame({"unique_id": "young", "ds": [21, 22, 23], "y": [2.0, 0.0, 4.0]}),
        ]
    )
    with pytest.warns(DataQualityWarning, match="fewer than 6 periods"):
        forecaster = DemandForecaster(horizon=3, pooled="never").fit(table)
    young = forecaster.predict(unique_ids=["young"])
    assert young["forecast"].to_numpy() == pytest.approx([2.0, 2.0, 2.0])
    assert young["model"].iloc[0] == "HistoricAverage"


def test_negative_values_warn_and_count_as_zero():
    table = intermittent_table(1, 24)
    table.loc[3, "y"] = -5
    with pytest.warns(DataQualityWarning, match="negative"):
        forecaster = DemandForecaster(horizon=3, pooled="never").fit(table)
    assert np.nanmin(forecaster._matrix.values) >= 0


def test_missing_periods_warn_and_count_as_zero():
    table = intermittent_table(1, 24, seed=3)
    table.loc[5, "y"] = 7
    gappy = table.drop(index=[5, 6, 7])
    with pytest.warns(DataQualityWarning, match="missing periods"):
        forecaster = DemandForecaster(horizon=3, pooled="never").fit(gappy)
    assert forecaster._matrix.values[0, 5:8].tolist() == [0.0, 0.0, 0.0]


def test_duplicate_periods_warn_and_are_summed():
    table = intermittent_table(1, 24, seed=3)
    extra = table.iloc[[4]].assign(y=3.0)
    expected = float(table.loc[4, "y"]) + 3.0
    with pytest.warns(DataQualityWarning, match="share their .unique_id, ds.*summed"):
        forecaster = DemandForecaster(horizon=3, pooled="never").fit(pd.concat([table, extra]))
    assert forecaster._matrix.values[0, 4] == expected
    assert np.nansum(forecaster._matrix.values) == table["y"].sum() + 3.0


def test_infinite_demand_is_refused_naming_series_and_period():
    table = intermittent_table(1, 24).astype({"y": float})
    table.loc[7, "y"] = np.inf
    with pytest.raises(ParameterError, match=r"infinite.*'part-0' at ds 7"):
        DemandForecaster(horizon=3).fit(table)


def test_dates_written_as_integers_are_refused_with_the_span_found():
    table = pd.DataFrame({"unique_id": "a", "ds": [0, 1, 2, 20260105], "y": [1.0, 2, 3, 4]})
    with pytest.raises(ParameterError, match=r"spans 20,260,106 integer periods.*timestamps"):
        DemandForecaster(horizon=3).fit(table)


def test_new_item_warns_and_gets_the_median_item():
    table = intermittent_table(3, 24)
    forecaster = DemandForecaster(horizon=3, pooled="never").fit(table)
    with pytest.warns(DataQualityWarning, match="no history"):
        result = forecaster.predict(unique_ids=["part-0", "brand-new"])
    new = result[result["unique_id"] == "brand-new"]
    assert len(new) == 3 and (new["forecast"] > 0).all()
    assert new["model"].iloc[0] == "NewItem"


def test_lead_time_longer_than_history_warns():
    table = pd.concat(
        [
            intermittent_table(1, 24),
            pd.DataFrame({"unique_id": "young", "ds": np.arange(16, 24), "y": [1.0, 0] * 4}),
        ]
    )
    forecaster = DemandForecaster(horizon=3, pooled="never").fit(table)
    with pytest.warns(DataQualityWarning, match="longer than the history"):
        samples = forecaster.demand_samples(12, unique_ids=["young"], n_samples=200)
    assert samples["young"].mean() > 0


def test_warning_class_is_a_user_warning():
    assert issubclass(DataQualityWarning, FactorybrainWarning)
    assert issubclass(FactorybrainWarning, UserWarning)


# ----------------------------------------------------------------------------- metrics
def test_scaled_errors_of_a_perfect_and_a_naive_forecast():
    train = np.array([[1.0, 3.0, 1.0, 3.0]])
    actual = np.array([[1.0, 3.0]])
    assert rmsse(train, actual, actual) == 0.0
    assert rmsse(train, actual, np.array([[3.0, 1.0]])) == pytest.approx(1.0)
    assert mase(train, actual, np.array([[2.0, 2.0]])) == pytest.approx(0.5)
