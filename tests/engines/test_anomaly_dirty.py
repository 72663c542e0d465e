"""Dirty data: every defect is flagged, imputed or excluded, never silently scored as normal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from factorybrain.engines.anomaly import (
    DataFlag,
    DynamicAnomalyModel,
    IsolationForestModel,
    PCAAnomalyModel,
)

SENSORS = 6
NAMES = [f"s{j}" for j in range(SENSORS)]


def process(rows: int, seed: int) -> np.ndarray:
    """Six correlated sensors with AR(1) dynamics and a little measurement noise."""
    rng = np.random.default_rng(seed)
    latent = np.zeros((rows, 3))
    noise = rng.normal(size=latent.shape)
    for t in range(1, rows):
        latent[t] = 0.7 * latent[t - 1] + noise[t]
    mixing = np.array(
        [
            [1.0, 0.9, 0.8, 0.0, 0.0, 0.3],
            [0.0, 0.3, 0.0, 1.0, 0.9, 0.0],
            [0.2, 0.0, 0.4, 0.0, 0.3, 1.0],
        ]
    )
    return latent @ mixing + 0.15 * rng.normal(size=(rows, SENSORS)) + 20.0


@pytest.fixture(scope="module")
def models() -> dict[str, object]:
    train = process(1500, seed=1)
    return {
        "pca": PCAAnomalyModel(n_components=3).fit(train, sensor_names=NAMES),
        "dynamic": DynamicAnomalyModel().fit(train, sensor_names=NAMES),
    }


@pytest.fixture(params=["pca", "dynamic"])
def model(request, models):
    return models[request.param]


def test_short_nan_gaps_are_imputed_flagged_and_still_scored(model):
    data = process(200, seed=2)
    data[50:53, 2] = np.nan
    result = model.score(data)
    assert np.isfinite(result.scores[50:53]).all()
    assert (result.sensor_flags[50:53, 2] & DataFlag.IMPUTED).all()
    assert set(result.status[50:53]) == {"flagged"}
    assert result.flagged_sensors(DataFlag.IMPUTED) == ["s2"]
    clean = model.score(process(200, seed=2))
    assert abs(np.nanmean(result.scores[50:53]) - np.nanmean(clean.scores[50:53])) < 1.0


def test_a_long_gap_marks_the_sensor_missing(model):
    data = process(200, seed=3)
    data[40:100, 1] = np.nan
    result = model.score(data)
    flags = result.sensor_flags[:, 1]
    assert (flags[40:50] & DataFlag.IMPUTED).all()  # max_gap = 10 samples
    assert (flags[50:100] & DataFlag.MISSING_SENSOR).all()
    assert result.contributions[40:100, 1].max() == 0.0


def test_a_sensor_absent_at_scoring_is_excluded_and_the_rest_still_detects(model):
    data = process(300, seed=4)
    data[150:, 4] += 4.0 * data[:150, 4].std()
    frame = pd.DataFrame(data, columns=NAMES).drop(columns=["s0"])
    result = model.score(frame)
    assert result.flagged_sensors(DataFlag.MISSING_SENSOR) == ["s0"]
    assert (result.flags & DataFlag.MISSING_SENSOR).all()
    assert np.isfinite(result.scores[10:]).all()
    assert result.is_anomaly[170:].mean() > 0.8
    assert result.is_anomaly[20:150].mean() < 0.1
    assert "normal" not in set(result.status)


def test_too_many_missing_sensors_means_no_score(model):
    data = process(50, seed=5)
    data[:, :4] = np.nan
    result = model.score(data)
    assert np.isnan(result.scores).all()
    assert (result.flags & DataFlag.NOT_SCORED).all()
    assert set(result.status) == {"unscored"}


def test_a_stuck_sensor_is_flagged_and_excluded(model):
    data = process(300, seed=6)
    data[100:, 3] = data[100, 3]
    result = model.score(data)
    stuck = (result.sensor_flags[:, 3] & DataFlag.STUCK) != 0
    assert not stuck[:110].any()
    assert stuck[125:].all()
    assert result.flagged_sensors(DataFlag.STUCK) == ["s3"]
    assert result.contributions[125:, 3].max() == 0.0
    assert np.isfinite(result.scores[125:]).all()


def test_a_drifting_sensor_is_flagged_by_name(model):
    data = process(1200, seed=7)
    data[:, 5] += np.linspace(0.0, 4.0, len(data)) * data[:, 5].std()
    result = model.score(data)
    assert result.flagged_sensors(DataFlag.DRIFT) == ["s5"]
    assert not (result.sensor_flags[:100] & DataFlag.DRIFT).any()
    assert (result.sensor_flags[-100:, 5] & DataFlag.DRIFT).all()


def test_a_time_gap_is_flagged_and_restarts_the_dynamic_state():
    train = process(800, seed=8)
    stamps = np.arange(800) * 10.0
    model = DynamicAnomalyModel().fit(train, timestamps=stamps)
    data = process(100, seed=9)
    times = np.arange(100) * 10.0
    times[50:] += 3600.0
    result = model.score(data, timestamps=times)
    assert result.flags[50] & DataFlag.GAP
    assert (result.flags[50 : 50 + model.lags] & DataFlag.WARMUP).all()
    assert np.isnan(result.scores[50 : 50 + model.lags]).all()
    assert np.isfinite(result.scores[50 + model.lags :]).all()
    model.reset_stream()
    streamed = [model.score_one(x, timestamp=t) for x, t in zip(data, times, strict=True)]
    np.testing.assert_allclose(streamed, result.scores, rtol=1e-9)


def test_streaming_flags_and_scores_match_batch_on_dirty_data(model):
    data = process(150, seed=10)
    data[30:33, 0] = np.nan
    data[60:, 2] = data[60, 2]
    data[90:130, 4] = np.nan
    batch = model.score(data)
    model.reset_stream()
    streamed = np.array([model.score_one(row) for row in data])
    np.testing.assert_allclose(streamed, batch.scores, rtol=1e-9, atol=1e-12)
    model.reset_stream()
    flags = []
    for row in data:
        model.score_one(row)
        flags.append(int(model.last_flags))
    np.testing.assert_array_equal(np.array(flags), batch.flags)


def test_training_data_with_nan_rows_and_a_dead_sensor_still_fits():
    train = process(1000, seed=11)
    train[100:110, 2] = np.nan
    train = np.column_stack([train, np.full(len(train), 7.0)])
    names = [*NAMES, "dead"]
    for model in (
        PCAAnomalyModel(n_components=3),
        DynamicAnomalyModel(),
        IsolationForestModel(n_estimators=20),
    ):
        model.fit(train, sensor_names=names)
        assert not model.modelled_[-1]
        fresh = np.column_stack([process(200, seed=12), np.full(200, 7.0)])
        result = model.score(fresh)
        assert result.is_anomaly.mean() < 0.1
        assert result.contributions[:, -1].max() == 0.0
