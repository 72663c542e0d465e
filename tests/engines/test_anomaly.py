"""Behaviour of the anomaly models: scores point the right way, attribution, streaming, alarms."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

import factorybrain.engines.anomaly as anomaly
from factorybrain.engines.anomaly import (
    AlarmLogic,
    AnomalyModel,
    DataFlag,
    DynamicAnomalyModel,
    IsolationForestModel,
    PCAAnomalyModel,
    calibrate_threshold,
)
from factorybrain.exceptions import EngineError, NotFittedError, ParameterError

SENSORS = 6


def process(rows: int, seed: int) -> np.ndarray:
    """Correlated sensors with AR(1) dynamics: a small stand-in for a real asset."""
    rng = np.random.default_rng(seed)
    mixing = np.array(
        [[1.0, 0.8, 0.0, 0.0, 0.3, 0.0], [0.0, 0.6, 1.0, 0.0, 0.0, 0.2]]
        + [[0.0] * i + [0.5] + [0.0] * (SENSORS - 1 - i) for i in range(4)]
    )
    latent = np.zeros((rows, len(mixing)))
    noise = rng.normal(size=latent.shape)
    for t in range(1, rows):
        latent[t] = 0.7 * latent[t - 1] + noise[t]
    return latent @ mixing + 0.2 * rng.normal(size=(rows, SENSORS)) + 10.0


def planted(seed: int = 5, sensor: int = 3, size: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """Normal rows followed by rows where one sensor is shifted; labels mark the shift."""
    data = process(600, seed)
    labels = np.zeros(len(data), dtype=bool)
    labels[300:] = True
    data[300:, sensor] += size * data[:300, sensor].std()
    return data, labels


MODELS = [
    pytest.param(lambda: PCAAnomalyModel(n_components=2), id="pca"),
    pytest.param(lambda: IsolationForestModel(n_estimators=50), id="isolation"),
    pytest.param(lambda: DynamicAnomalyModel(), id="dynamic"),
    pytest.param(lambda: DynamicAnomalyModel(scale_half_life=50.0), id="dynamic_adaptive"),
]


@pytest.fixture(scope="module")
def train() -> np.ndarray:
    return process(1500, seed=1)


@pytest.mark.parametrize(
    ("make", "size", "gap"),
    [
        pytest.param(lambda: PCAAnomalyModel(n_components=2), 3.0, 0.3, id="pca"),
        # A forest isolates a shift along one axis of a correlated process poorly: its alarms
        # still concentrate on the shifted rows, but far fewer of those rows alarm.
        pytest.param(lambda: IsolationForestModel(n_estimators=50), 6.0, 0.05, id="isolation"),
        pytest.param(lambda: DynamicAnomalyModel(), 3.0, 0.3, id="dynamic"),
    ],
)
def test_planted_anomalies_score_higher(make, size, gap, train):
    model = make().fit(train)
    data, labels = planted(size=size)
    result = model.score(data)
    scored = result.is_scored
    assert roc_auc_score(labels[scored], result.scores[scored]) > 0.8
    assert result.is_anomaly[labels].mean() > result.is_anomaly[~labels].mean() + gap


@pytest.mark.parametrize("make", MODELS)
def test_false_alarms_on_new_normal_data_stay_near_target(make, train):
    model = make().fit(train)
    result = model.score(process(2000, seed=9))
    assert result.is_anomaly.mean() < 0.08


@pytest.mark.parametrize(
    "make",
    [p for p in MODELS if p.id != "isolation"],  # type: ignore[attr-defined]
)
def test_attribution_names_the_planted_sensor(make, train):
    model = make().fit(train, sensor_names=[f"s{j}" for j in range(SENSORS)])
    data, labels = planted(sensor=4)
    result = model.score(data)
    alarmed = np.flatnonzero(result.is_anomaly & labels)
    assert len(alarmed) > 100
    top = [result.top_sensors(row, 1)[0][0] for row in alarmed]
    assert np.mean([name == "s4" for name in top]) > 0.8


@pytest.mark.parametrize("make", MODELS)
def test_contributions_are_non_negative_and_add_up_to_the_score(make, train):
    model = make().fit(train)
    result = model.score(planted()[0])
    scored = result.is_scored
    assert (result.contributions >= 0).all()
    np.testing.assert_allclose(
        result.contributions[scored].sum(axis=1), result.scores[scored], rtol=1e-6
    )


@pytest.mark.parametrize("make", MODELS)
def test_streaming_gives_the_batch_scores(make, train):
    model = make().fit(train)
    data = planted()[0][:120]
    batch = model.score(data).scores
    model.reset_stream()
    streamed = np.array([model.score_one(row) for row in data])
    np.testing.assert_allclose(streamed, batch, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("make", MODELS)
def test_scoring_before_fit_raises(make):
    model = make()
    with pytest.raises(NotFittedError, match="not fitted"):
        model.score(np.zeros((5, SENSORS)))
    with pytest.raises(NotFittedError):
        model.score_one(np.zeros(SENSORS))


@pytest.mark.parametrize(
    ("model", "field"),
    [
        (PCAAnomalyModel(confidence=1.5), "confidence"),
        (PCAAnomalyModel(n_components=0), "n_components"),
        (IsolationForestModel(target_false_alarm_rate=0.0), "target_false_alarm_rate"),
        (DynamicAnomalyModel(lags=0), "lags"),
        (DynamicAnomalyModel(level_smoothing=2.0), "level_smoothing"),
        (DynamicAnomalyModel(n_regimes=0), "n_regimes"),
        (DynamicAnomalyModel(statistics=("level", "bogus")), "statistics"),
    ],
)
def test_bad_parameters_are_named(model, field, train):
    with pytest.raises(ParameterError, match=field):
        model.fit(train)


def test_wrong_column_count_and_too_little_data_are_explained(train):
    model = PCAAnomalyModel(n_components=2).fit(train)
    with pytest.raises(ParameterError, match=f"{SENSORS} columns"):
        model.score(np.zeros((3, SENSORS + 1)))
    with pytest.raises(ParameterError, match="readings"):
        model.score_one(np.zeros(SENSORS - 1))
    with pytest.raises(EngineError, match="training rows"):
        DynamicAnomalyModel().fit(train[:15])


def test_pca_textbook_limits_hold_on_gaussian_data():
    rng = np.random.default_rng(3)
    mixing = rng.normal(size=(8, 8))
    model = PCAAnomalyModel(n_components=3, confidence=0.99).fit(
        rng.normal(size=(3000, 8)) @ mixing
    )
    fresh = model.score(rng.normal(size=(5000, 8)) @ mixing)
    assert model.threshold_ == 1.0
    assert fresh.is_anomaly.mean() < 0.035
    assert set(fresh.statistics) == {"t2", "q"}


def test_regime_keys_normalize_each_regime_and_flag_an_unseen_one(train):
    shifted = train + 25.0
    data = np.vstack([train, shifted])
    keys = np.array(["slow"] * len(train) + ["fast"] * len(train))
    model = PCAAnomalyModel(n_components=2).fit(data, regimes=keys)
    fresh = process(300, seed=4)
    in_fast = model.score(fresh + 25.0, regimes=["fast"] * 300)
    assert in_fast.is_anomaly.mean() < 0.1
    in_wrong = model.score(fresh + 25.0, regimes=["slow"] * 300)
    assert in_wrong.is_anomaly.mean() > 0.9
    unseen = model.score(fresh, regimes=["turbo"] * 300)
    assert np.isnan(unseen.scores).all()
    assert (unseen.flags & DataFlag.UNSEEN_REGIME).all()
    assert set(unseen.status) == {"unscored"}
    model.reset_stream()
    assert np.isnan(model.score_one(fresh[0], regime="turbo"))
    assert model.last_flags & DataFlag.UNSEEN_REGIME


def test_clustered_regimes_flag_a_point_far_from_every_cluster(train):
    data = np.vstack([train, train + 25.0])
    model = DynamicAnomalyModel(n_regimes=2, regime_columns=[0]).fit(data)
    fresh = process(200, seed=6)
    assert model.score(fresh + 25.0).is_anomaly[20:].mean() < 0.1
    far = model.score(fresh + 80.0)
    assert (far.flags & DataFlag.UNSEEN_REGIME).all()
    assert not far.is_anomaly.any() and set(far.status) == {"unscored"}


def test_dataframe_columns_are_matched_by_name(train):
    names = [f"s{j}" for j in range(SENSORS)]
    frame = pd.DataFrame(train, columns=names)
    model = PCAAnomalyModel(n_components=2).fit(frame)
    data = planted()[0]
    reordered = pd.DataFrame(data, columns=names)[names[::-1]]
    np.testing.assert_allclose(model.score(reordered).scores, model.score(data).scores)
    assert model.score(reordered).sensor_names == tuple(names)


def test_calibrate_threshold_keeps_false_alarms_at_target():
    scores = np.random.default_rng(0).exponential(size=10_000)
    threshold = calibrate_threshold(scores, 0.02)
    assert np.mean(scores > threshold) <= 0.02
    assert np.mean(scores > threshold) > 0.015
    with pytest.raises(ParameterError, match="target_false_alarm_rate"):
        calibrate_threshold(scores, 0.9)
    with pytest.raises(EngineError, match="at least 10"):
        calibrate_threshold(np.array([1.0, np.nan]), 0.05)


def test_alarm_persistence_ignores_isolated_spikes():
    logic = AlarmLogic(threshold=1.0, k=3, n=5, clear_after=2)
    spikes = np.array([2.0, 0, 0, 2.0, 0, 0, 0, 2.0, 0, 0])
    assert not logic.apply(spikes).any()
    sustained = np.array([0, 2.0, 2.0, 2.0, 2.0, 0, 0, 0])
    alarm = logic.apply(sustained)
    assert alarm.tolist() == [False, False, False, True, True, True, False, False]


def test_alarm_hysteresis_holds_until_scores_fall_well_below():
    logic = AlarmLogic(threshold=1.0, k=1, n=1, clear_ratio=0.5, clear_after=3)
    scores = np.array([2.0, 0.9, 0.8, 0.9, 0.4, 0.4, 0.4, 0.9])
    alarm = logic.apply(scores)
    assert alarm[:6].all()
    assert not alarm[6:].any()
    without = AlarmLogic(threshold=1.0, k=1, n=1, clear_ratio=1.0, clear_after=1)
    assert without.apply(scores).sum() == 1


def test_alarm_holds_its_state_on_unscored_samples_and_matches_streaming():
    logic = AlarmLogic(threshold=1.0, k=2, n=3, clear_after=2)
    scores = np.array([2.0, np.nan, 2.0, np.nan, 0.1, np.nan, 0.1, 3.0])
    batch = logic.apply(scores)
    logic.reset()
    assert [logic.update(s) for s in scores] == batch.tolist()
    assert batch[2] and batch[3] and batch[4] and not batch[6]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"k": 4, "n": 3}, "'k'"),
        ({"n": 0}, "'n'"),
        ({"clear_ratio": 1.5}, "clear_ratio"),
        ({"threshold": float("nan")}, "threshold"),
    ],
)
def test_alarm_parameters_are_checked(kwargs, field):
    with pytest.raises(ParameterError, match=field):
        AlarmLogic(**{"threshold": 1.0, **kwargs})


def test_public_api_is_sorted_and_complete():
    assert anomaly.__all__ == sorted(anomaly.__all__)
    for name in anomaly.__all__:
        assert hasattr(anomaly, name)
    assert issubclass(DynamicAnomalyModel, AnomalyModel)


def test_a_fitted_model_survives_pickling_with_its_stream(train):
    model = DynamicAnomalyModel().fit(train)
    data = planted()[0][:60]
    for row in data[:30]:
        model.score_one(row)
    copy = pickle.loads(pickle.dumps(model))
    rest = [model.score_one(row) for row in data[30:]]
    np.testing.assert_allclose([copy.score_one(row) for row in data[30:]], rest)
    np.testing.assert_allclose(copy.score(data).scores, model.score(data).scores)


def test_table_mistakes_are_explained(train):
    frame = pd.DataFrame(train, columns=[f"s{j}" for j in range(SENSORS)])
    frame["when"] = "yesterday"
    with pytest.raises(ParameterError, match="when"):
        PCAAnomalyModel().fit(frame)
    model = PCAAnomalyModel(n_components=2).fit(train)
    with pytest.raises(ParameterError, match="without regime keys"):
        model.score(train[:5], regimes=["a"] * 5)
    keyed = PCAAnomalyModel(n_components=2).fit(train, regimes=["a"] * len(train))
    with pytest.raises(ParameterError, match="pass 'regimes'"):
        keyed.score(train[:5])


def rougher(rows: int, seed: int, ramp: int, factor: float) -> np.ndarray:
    """Normal rows whose independent sensor noise grows steadily to ``factor`` times its size
    over the first ``ramp`` rows, then stays there."""
    data = process(rows, seed)
    rng = np.random.default_rng(seed + 100)
    growth = np.minimum(np.arange(rows) / ramp, 1.0)[:, None] * (factor - 1.0)
    data += growth * 0.2 * rng.normal(size=(rows, SENSORS))
    return data


def test_adaptive_scale_absorbs_a_lasting_noise_change_but_not_a_step(train):
    fixed = DynamicAnomalyModel().fit(train)
    adaptive = DynamicAnomalyModel(scale_half_life=100.0).fit(train)
    # The sensor noise doubles over 2,000 rows: the fixed scale alarms on the last 1,000 rows.
    noisier = rougher(3000, seed=7, ramp=2000, factor=2.0)
    late = slice(2000, None)
    fixed_rate = np.mean(fixed.score(noisier).scores[late] > fixed.threshold_)
    adaptive_rate = np.mean(adaptive.score(noisier).scores[late] > adaptive.threshold_)
    assert fixed_rate > 0.15
    assert adaptive_rate < 0.5 * fixed_rate
    # A shift that alarms freezes the scale, so it is not learnt away.
    data, labels = planted(size=3.0)
    alarms = adaptive.score(data).scores > adaptive.threshold_
    assert alarms[labels].mean() > 0.8
