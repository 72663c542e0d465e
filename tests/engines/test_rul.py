from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from factorybrain.engines import rul
from factorybrain.engines.rul import (
    RULFallbackWarning,
    RULModel,
    list_versions,
    load_model,
    nasa_score,
    save_model,
)
from factorybrain.engines.rul._regimes import RegimeNormalizer
from factorybrain.exceptions import EngineError, NotFittedError, ParameterError

CAP = 60.0
SIX_CONDITIONS = np.array(
    [
        [0.0, 0.0, 100.0],
        [10.0, 0.25, 100.0],
        [20.0, 0.7, 100.0],
        [25.0, 0.62, 60.0],
        [35.0, 0.84, 100.0],
        [42.0, 0.84, 100.0],
    ]
)


def make_fleet(
    units: int,
    *,
    regimes: int = 1,
    seed: int = 0,
    cut: bool = False,
    first_unit: int = 1,
    fault_modes: int = 1,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Simulated fleet: six sensors wear with the unit, one is constant, one is pure noise.

    Each cycle runs in one of ``regimes`` operating conditions that move every sensor far more than
    wear does. With two fault modes, odd units wear through a second mechanism that moves other
    sensors. With ``cut`` each unit stops at a random cycle before failure; the second value is
    then the true remaining life of each unit, else every unit's lifetime.
    """
    rng = np.random.default_rng(seed)
    regime_rng = np.random.default_rng(1234)  # same operating conditions for every fleet
    offsets = regime_rng.normal(0.0, 25.0, size=(6, 8))
    scales = regime_rng.uniform(0.5, 2.0, size=(6, 8))
    mode_gains = np.array(
        [[3.0, -2.5, 2.0, 4.0, -3.0, 1.5, 0.0, 0.0], [0.0, 0.5, 4.0, -1.0, 0.0, 4.0, 0.0, 0.0]]
    )
    frames, truth = [], []
    for number in range(first_unit, first_unit + units):
        life = int(rng.integers(90, 160))
        onset = life - int(rng.integers(40, 70))
        length = int(rng.integers(max(12, life - 80), life - 2)) if cut else life
        cycle = np.arange(1, length + 1)
        wear = np.clip((cycle - onset) / (life - onset), 0.0, None) ** 1.5
        regime = rng.integers(0, regimes, size=length)
        noise = rng.normal(0.0, 0.5, size=(length, 8))
        gains = mode_gains[number % 2 if fault_modes == 2 else 0]
        values = wear[:, None] * gains + noise
        values[:, 6] = 0.0  # a constant sensor
        values = offsets[regime] + values * scales[regime]
        frame = pd.DataFrame(values, columns=[f"sensor_{i}" for i in range(1, 9)])
        settings = SIX_CONDITIONS[regime] + rng.normal(0.0, [0.003, 0.0003, 0.0], size=(length, 3))
        frame[["setting_1", "setting_2", "setting_3"]] = settings
        frame.insert(0, "cycle", cycle)
        frame.insert(0, "unit", number)
        frames.append(frame)
        truth.append(life - length if cut else life)
    return pd.concat(frames, ignore_index=True), np.asarray(truth, dtype=float)


def small_model(**overrides: object) -> RULModel:
    parameters = dict(
        cap=CAP,
        n_estimators=60,
        learning_rate=0.1,
        n_folds=4,
        windows=(5, 15),
        spans=(10,),
        min_child_samples=20,
        calibration_bins=3,
    )
    parameters.update(overrides)
    return RULModel(**parameters)


@pytest.fixture(scope="module")
def fleet() -> pd.DataFrame:
    return make_fleet(40, seed=1)[0]


@pytest.fixture(scope="module")
def model(fleet: pd.DataFrame) -> RULModel:
    return small_model().fit(fleet)


@pytest.fixture(scope="module")
def test_fleet() -> tuple[pd.DataFrame, np.ndarray]:
    return make_fleet(80, seed=2, cut=True, first_unit=1001)


def rmse(predicted: np.ndarray, actual: np.ndarray) -> float:
    return float(np.sqrt(np.mean((predicted - np.minimum(actual, CAP)) ** 2)))


# ----------------------------------------------------------------------------- contract


def test_public_api_is_sorted_and_importable() -> None:
    assert rul.__all__ == sorted(rul.__all__)
    assert all(hasattr(rul, name) for name in rul.__all__)


def test_predict_before_fit_raises_not_fitted(fleet: pd.DataFrame) -> None:
    with pytest.raises(NotFittedError, match="RULModel"):
        RULModel().predict(fleet)


@pytest.mark.parametrize(
    ("parameter", "value", "expected"),
    [
        ("cap", -1.0, "'cap' parameter of RULModel must be a float in (0, inf). Got -1.0"),
        ("coverage", 1.5, "'coverage' parameter of RULModel must be a float in (0, 1)"),
        ("n_folds", 1, "'n_folds' parameter of RULModel must be an int in [2, inf)"),
        ("windows", (5, 0), "'windows' parameter of RULModel must be a non-empty tuple"),
        ("spans", [10], "'spans' parameter of RULModel must be"),
        ("n_regimes", 0, "'n_regimes' parameter of RULModel must be an int in [1, inf) or"),
    ],
)
def test_bad_parameters_raise_with_the_parameter_named(
    fleet: pd.DataFrame, parameter: str, value: object, expected: str
) -> None:
    with pytest.raises(ParameterError) as error:
        RULModel(**{parameter: value}).fit(fleet)
    assert expected in str(error.value)


def test_missing_columns_and_wrong_input_are_named(fleet: pd.DataFrame) -> None:
    with pytest.raises(EngineError, match=r"\['machine'"):
        small_model().fit(fleet, unit="machine")
    with pytest.raises(EngineError, match="sensor_99"):
        small_model().fit(fleet, sensors=["sensor_1", "sensor_99"])
    with pytest.raises(ParameterError, match="DataFrame"):
        small_model().fit(fleet.to_numpy())
    text = fleet.assign(sensor_1=fleet["sensor_1"].astype(str))
    with pytest.raises(EngineError, match="'sensor_1' must be numeric"):
        small_model().fit(text, sensors=["sensor_1", "sensor_2"])


def test_uninformative_sensors_only_raise(fleet: pd.DataFrame) -> None:
    with pytest.raises(EngineError, match="No sensor varies with remaining life"):
        small_model().fit(fleet, sensors=["sensor_7", "sensor_8"])


# ----------------------------------------------------------------------------- predictions


def test_predicts_one_row_per_unit_with_ordered_interval(
    model: RULModel, test_fleet: tuple[pd.DataFrame, np.ndarray]
) -> None:
    data, _ = test_fleet
    result = model.predict(data)
    assert list(result.columns) == [
        "unit",
        "time",
        "cycles_observed",
        "rul",
        "lower",
        "upper",
        "method",
        "flags",
    ]
    assert result["unit"].tolist() == sorted(data["unit"].unique())
    last = data.groupby("unit")["cycle"].max().to_numpy()
    assert (result["time"].to_numpy() == last).all()
    assert (result["lower"] <= result["rul"]).all() and (result["rul"] <= result["upper"]).all()
    assert result["rul"].between(0, CAP).all() and (result["lower"] >= 0).all()
    assert (result["method"] == "model").all()


def test_every_row_prediction_ends_with_the_last_row_prediction(
    model: RULModel, test_fleet: tuple[pd.DataFrame, np.ndarray]
) -> None:
    data, _ = test_fleet
    rows = model.predict(data, all_rows=True)
    assert len(rows) == len(data)
    last = rows.groupby("unit").tail(1).reset_index(drop=True)
    pd.testing.assert_frame_equal(last, model.predict(data))


def test_row_order_does_not_matter(model: RULModel, test_fleet) -> None:
    data, _ = test_fleet
    shuffled = data.sample(frac=1.0, random_state=3)
    pd.testing.assert_frame_equal(model.predict(shuffled), model.predict(data))


def test_beats_the_fleet_average_and_drops_dead_sensors(
    model: RULModel, test_fleet: tuple[pd.DataFrame, np.ndarray]
) -> None:
    data, truth = test_fleet
    predicted = model.predict(data)["rul"].to_numpy()
    capped = np.minimum(truth, CAP)
    constant = rmse(np.full(len(truth), capped.mean()), truth)
    assert rmse(predicted, truth) < 0.6 * constant
    assert "sensor_7" in model.dropped_sensors_ and "sensor_8" in model.dropped_sensors_
    assert {"sensor_1", "sensor_4"} <= set(model.sensors_)
    assert nasa_score(predicted, capped) < nasa_score(np.full(len(truth), capped.mean()), capped)


def test_interval_covers_about_ninety_percent_of_new_units(
    model: RULModel, test_fleet: tuple[pd.DataFrame, np.ndarray]
) -> None:
    data, truth = test_fleet
    result = model.predict(data)
    capped = np.minimum(truth, CAP)
    inside = (result["lower"] <= capped) & (capped <= result["upper"])
    assert 0.75 <= inside.mean() <= 1.0
    assert (result["upper"] - result["lower"]).mean() < CAP  # informative, not everything
    assert 0.8 <= model.metrics_["cv_interval_coverage"] <= 0.97


def test_nasa_score_punishes_late_more_than_early() -> None:
    assert nasa_score([110.0], [100.0]) > nasa_score([90.0], [100.0]) > 0.0
    assert nasa_score([100.0, 50.0], [100.0, 50.0]) == 0.0


# ----------------------------------------------------------------------------- regimes


def test_regime_count_is_found_from_the_settings() -> None:
    rng = np.random.default_rng(0)
    regime = rng.integers(0, 6, size=3000)
    settings = SIX_CONDITIONS[regime] + rng.normal(0.0, [0.003, 0.0003, 0.0], size=(3000, 3))
    sensors = rng.normal(size=(3000, 2)) + regime[:, None] * 50.0
    six = RegimeNormalizer().fit(settings, sensors)
    assert six.n_regimes_found == 6
    labels, unseen = six.assign(settings)
    assert not unseen.any()
    standardised = six.transform(sensors, labels)
    for found in range(6):
        block = standardised[labels == found]
        assert np.allclose(block.mean(axis=0), 0.0, atol=1e-9)
        assert np.allclose(block.std(axis=0), 1.0, atol=1e-9)
    noise_only = rng.normal(0.0, [0.003, 0.0003, 0.0], size=(3000, 3)) + [0.0, 0.0, 100.0]
    assert RegimeNormalizer().fit(noise_only, sensors).n_regimes_found == 1
    assert RegimeNormalizer().fit(np.zeros((50, 0)), sensors[:50]).n_regimes_found == 1


def test_six_regime_fleet_is_predicted_as_well_as_one_regime(
    model: RULModel, test_fleet: tuple[pd.DataFrame, np.ndarray]
) -> None:
    train, _ = make_fleet(40, regimes=6, seed=1)
    test, truth = make_fleet(80, regimes=6, seed=2, cut=True, first_unit=1001)
    multi = small_model().fit(train)
    assert multi.metrics_["n_regimes"] == 6 and model.metrics_["n_regimes"] == 1
    one_regime = rmse(model.predict(test_fleet[0])["rul"].to_numpy(), test_fleet[1])
    six_regimes = rmse(multi.predict(test)["rul"].to_numpy(), truth)
    assert six_regimes < 1.3 * one_regime + 1.0
    # without regime normalisation the operating point drowns the wear signal
    blind = small_model(n_regimes=1).fit(train)
    assert rmse(blind.predict(test)["rul"].to_numpy(), truth) > six_regimes


def test_two_fault_modes_are_both_learned() -> None:
    train, _ = make_fleet(40, seed=6, fault_modes=2)
    test, truth = make_fleet(60, seed=7, cut=True, first_unit=2001, fault_modes=2)
    predicted = small_model().fit(train).predict(test)["rul"].to_numpy()
    second_mode = test.groupby("unit")["unit"].first().to_numpy() % 2 == 1
    capped = np.minimum(truth, CAP)
    for mode in (second_mode, ~second_mode):
        constant = rmse(np.full(mode.sum(), capped[mode].mean()), truth[mode])
        assert rmse(predicted[mode], truth[mode]) < 0.7 * constant


def test_time_kind_must_match_training(model: RULModel, fleet: pd.DataFrame) -> None:
    stamped = fleet.assign(cycle=pd.Timestamp("2026-01-01") + pd.to_timedelta(fleet["cycle"], "h"))
    with pytest.raises(EngineError, match="numbers"):
        model.predict(stamped)


# ----------------------------------------------------------------------------- dirty data


def test_gaps_are_imputed_per_unit_and_flagged(model: RULModel, test_fleet) -> None:
    data, _ = test_fleet
    clean = model.predict(data)
    dirty = data.copy()
    rng = np.random.default_rng(5)
    holes = rng.random(len(dirty)) < 0.1
    dirty.loc[holes, "sensor_2"] = np.nan
    dirty.loc[dirty.groupby("unit").head(3).index, "sensor_4"] = np.nan  # leading gaps
    result = model.predict(dirty)
    assert result["rul"].notna().all()
    assert result["flags"].str.contains("imputed").all()
    assert not clean["flags"].str.contains("imputed").any()
    assert np.abs(result["rul"] - clean["rul"]).mean() < 5.0


def test_sensor_missing_at_prediction_is_reconstructed_and_flagged(
    model: RULModel, test_fleet: tuple[pd.DataFrame, np.ndarray]
) -> None:
    data, truth = test_fleet
    result = model.predict(data.drop(columns=["sensor_1"]))
    assert result["flags"].str.contains("missing_sensor:sensor_1").all()
    assert result["rul"].notna().all()
    constant = rmse(np.full(len(truth), np.minimum(truth, CAP).mean()), truth)
    assert rmse(result["rul"].to_numpy(), truth) < 0.8 * constant
    one_unit_blank = data.copy()
    first = one_unit_blank["unit"] == one_unit_blank["unit"].iloc[0]
    one_unit_blank.loc[first, "sensor_2"] = np.nan
    flags = model.predict(one_unit_blank)["flags"]
    assert "missing_sensor:sensor_2" in flags.iloc[0]
    assert not flags.iloc[1:].str.contains("missing_sensor").any()


def test_stuck_sensor_is_replaced_and_flagged(model: RULModel, test_fleet) -> None:
    data, _ = test_fleet
    clean = model.predict(data)
    stuck = data.copy()
    chosen = stuck["unit"].isin(clean["unit"].iloc[:5])
    tail = stuck["cycle"] > stuck.groupby("unit")["cycle"].transform("max") - 25
    stuck.loc[chosen & tail, "sensor_1"] = 40.0  # frozen at a far too high reading
    frozen = model.predict(stuck)
    assert frozen["flags"].iloc[:5].str.contains("stuck_sensor:sensor_1").all()
    assert not frozen["flags"].iloc[5:].str.contains("stuck_sensor").any()
    assert not clean["flags"].str.contains("stuck_sensor|sensor_disagrees").any()
    assert np.abs(frozen["rul"].iloc[:5] - clean["rul"].iloc[:5]).max() < 10.0


def test_sensor_drifting_alone_is_flagged(model: RULModel, test_fleet) -> None:
    data, _ = test_fleet
    drifting = data.copy()
    chosen = drifting["unit"].isin(drifting["unit"].unique()[:4])
    tail = drifting["cycle"] > drifting.groupby("unit")["cycle"].transform("max") - 15
    drifting.loc[chosen & tail, "sensor_4"] += 15.0
    flags = model.predict(drifting)["flags"]
    assert flags.iloc[:4].str.contains("sensor_disagrees:sensor_4").all()
    assert not flags.iloc[4:].str.contains("sensor_disagrees").any()


def test_units_shorter_than_the_window_are_predicted_and_flagged(model: RULModel, fleet) -> None:
    short = fleet.groupby("unit").head(8)  # windows reach 15 cycles, min_history is 5
    result = model.predict(short)
    assert (result["method"] == "model").all()
    assert result["flags"].str.contains("short_history").all()
    assert result["rul"].notna().all()


def test_too_little_history_falls_back_to_the_fleet_with_a_warning(
    model: RULModel, fleet: pd.DataFrame
) -> None:
    mixed = pd.concat([fleet[fleet["unit"] == 1].head(3), fleet[fleet["unit"] == 2]])
    with pytest.warns(RULFallbackWarning, match="min_history=5"):
        result = model.predict(mixed)
    fallback, normal = result.iloc[0], result.iloc[1]
    assert fallback["method"] == "population" and "too_little_history" in fallback["flags"]
    assert normal["method"] == "model"
    lifetimes = fleet.groupby("unit")["cycle"].max()
    assert fallback["lower"] <= fallback["rul"] <= fallback["upper"]
    # a new unit has the fleet's typical life ahead of it (capped)
    assert fallback["rul"] == pytest.approx(min(CAP, float((lifetimes - 3).median())), abs=6)
    blank = fleet[fleet["unit"] == 3].copy()
    blank[[f"sensor_{i}" for i in range(1, 9)]] = np.nan
    with pytest.warns(RULFallbackWarning):
        assert model.predict(blank)["method"].iloc[0] == "population"


def test_unseen_regime_is_flagged_and_missing_settings_refused(fleet: pd.DataFrame) -> None:
    train, _ = make_fleet(24, regimes=5, seed=4)  # conditions 0..4 only
    multi = small_model().fit(train)
    test, _ = make_fleet(6, regimes=6, seed=5, first_unit=500)
    unseen = test["setting_1"].round() == 42.0
    flags = multi.predict(test)["flags"]
    units_with_new_regime = set(test.loc[unseen, "unit"])
    assert (
        flags.str.contains("unseen_regime")
        == multi.predict(test)["unit"].isin(units_with_new_regime)
    ).all()
    assert not multi.predict(train)["flags"].str.contains("unseen_regime").any()
    with pytest.raises(EngineError, match="settings column"):
        multi.predict(test.drop(columns=["setting_1"]))
    one = small_model().fit(fleet)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        flags = one.predict(fleet.drop(columns=["setting_1", "setting_2", "setting_3"]))["flags"]
    assert flags.str.contains("settings_missing").all()


def test_datetime_times_and_censored_units(model: RULModel, fleet: pd.DataFrame) -> None:
    timed = fleet.assign(
        stamp=pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(fleet["cycle"], unit="h")
    ).drop(columns=["cycle"])
    hourly = small_model().fit(timed, time="stamp")
    result = hourly.predict(timed)
    assert isinstance(result["time"].iloc[0], pd.Timestamp)
    assert result["rul"].between(0, CAP).all()
    censored = {unit: unit % 4 != 0 for unit in fleet["unit"].unique()}
    partial = small_model().fit(fleet, failed=censored)
    assert partial.metrics_["n_rows"] < model.metrics_["n_rows"]


def test_drift_calls_for_retraining_only_when_the_fleet_changed(model: RULModel) -> None:
    same, _ = make_fleet(30, seed=11, first_unit=3001)
    report = model.drift(same)
    assert report["retrain"] is False and report["reasons"] == []
    moved = same.assign(sensor_3=same["sensor_3"] + 3.0)  # new machines start elsewhere
    report = model.drift(moved)
    assert report["retrain"] and "sensor_3" in report["reasons"][0]
    assert max(report["early_life_shift"], key=report["early_life_shift"].get) == "sensor_3"
    elsewhere = same.assign(setting_3=60.0)  # an operating point never seen in training
    report = model.drift(elsewhere)
    assert report["retrain"] and report["unseen_regime_share"] == 1.0


# ----------------------------------------------------------------------------- model store


def test_save_and_load_round_trip(model: RULModel, test_fleet, tmp_path) -> None:
    data, _ = test_fleet
    first = save_model(model, tmp_path, "turbofan", metrics={"test_rmse": 1.5}, notes="first")
    second = save_model(model, tmp_path, "turbofan")
    assert (first["version"], second["version"]) == (1, 2)
    assert list_versions(tmp_path, "turbofan") == [1, 2]
    loaded, metadata = load_model(tmp_path, "turbofan", version=1)
    pd.testing.assert_frame_equal(loaded.predict(data), model.predict(data))
    assert metadata["metrics"]["test_rmse"] == 1.5
    assert metadata["metrics"]["cv_rmse"] == pytest.approx(model.metrics_["cv_rmse"])
    assert metadata["training_window"]["units"] == 40
    assert metadata["parameters"]["cap"] == CAP
    on_disk = json.loads((tmp_path / "turbofan" / "v1.json").read_text())
    assert on_disk == metadata
    assert load_model(tmp_path, "turbofan")[1]["version"] == 2


def test_model_store_refuses_bad_names_tampering_and_unfitted(model: RULModel, tmp_path) -> None:
    with pytest.raises(ParameterError, match="model name"):
        save_model(model, tmp_path, "../escape")
    with pytest.raises(NotFittedError):
        save_model(RULModel(), tmp_path, "press-3")
    with pytest.raises(EngineError, match="No saved model"):
        load_model(tmp_path, "press-3")
    save_model(model, tmp_path, "press-3")
    with pytest.raises(EngineError, match="version 7"):
        load_model(tmp_path, "press-3", version=7)
    artifact = tmp_path / "press-3" / "v1.joblib"
    artifact.write_bytes(artifact.read_bytes() + b"tampered")
    with pytest.raises(EngineError, match="checksum"):
        load_model(tmp_path, "press-3")
