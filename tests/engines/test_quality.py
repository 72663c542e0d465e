"""Defect classifier: threshold, candidate settings chosen inside ``fit``, sharp limits."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from factorybrain.engines.quality import DefectClassifier, best_threshold
from factorybrain.exceptions import EngineError, ParameterError

SMALL: dict[str, Any] = {
    "n_models": 1,
    "n_estimators": 60,
    "learning_rate": 0.1,
    "num_leaves": 7,
    "min_child_samples": 5,
    "colsample": 1.0,
    "balance": "none",
    "n_jobs": 1,
}


def _load_limit(rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Units that fail exactly when a skewed load passes a limit in its sparse upper tail."""
    rng = np.random.default_rng(seed)
    load = rng.lognormal(mean=8.0, sigma=0.5, size=rows)
    limit = np.quantile(load, 0.96)
    features = pd.DataFrame(
        {"load_w": load, "ambient_k": rng.normal(300.0, 2.0, rows), "noise": rng.normal(size=rows)}
    )
    return features, (load > limit).astype(int)


def _f1(called: np.ndarray, truth: np.ndarray) -> float:
    true_pos = np.sum((called == 1) & (truth == 1))
    return float(2 * true_pos / (2 * true_pos + np.sum(called != truth)))


def test_best_threshold_separates_separable_probabilities() -> None:
    probabilities = np.array([0.9, 0.8, 0.3, 0.2, 0.1])
    labels = np.array([1, 1, 0, 0, 0])
    cut = best_threshold(probabilities, labels, "f1")
    assert 0.3 < cut < 0.8
    assert 0.3 < best_threshold(probabilities, labels, "ber") < 0.8


def test_without_candidates_nothing_is_searched() -> None:
    features, failed = _load_limit(600, seed=1)
    model = DefectClassifier(**SMALL).fit(features, failed)
    assert model.best_params_ == {}
    assert model.search_scores_ == []
    assert model.get_params()["max_bin"] == 255


def test_inner_cv_chooses_fine_bins_for_a_sharp_limit_in_the_tail() -> None:
    features, failed = _load_limit(3000, seed=2)
    test_features, test_failed = _load_limit(3000, seed=3)
    coarse = DefectClassifier(**SMALL, max_bin=8).fit(features, failed)
    searched = DefectClassifier(**SMALL, candidates=[{"max_bin": 8}, {"max_bin": 1023}]).fit(
        features, failed
    )

    assert searched.best_params_ == {"max_bin": 1023}
    assert len(searched.search_scores_) == 2
    assert searched.search_scores_[1] > searched.search_scores_[0]
    coarse_f1 = _f1(coarse.predict(test_features), test_failed)
    searched_f1 = _f1(searched.predict(test_features), test_failed)
    assert searched_f1 > coarse_f1 + 0.05
    assert searched_f1 > 0.9


def test_the_chosen_setting_is_the_one_fitted() -> None:
    features, failed = _load_limit(1500, seed=4)
    searched = DefectClassifier(**SMALL, candidates=[{"max_bin": 8}, {"max_bin": 1023}]).fit(
        features, failed
    )
    direct = DefectClassifier(**SMALL, max_bin=1023).fit(features, failed)
    np.testing.assert_allclose(searched.predict_proba(features), direct.predict_proba(features))
    assert searched.threshold_ == pytest.approx(direct.threshold_)


def test_a_tie_goes_to_the_first_candidate() -> None:
    features, failed = _load_limit(600, seed=5)
    model = DefectClassifier(**SMALL, candidates=[{"max_bin": 63}, {"max_bin": 63}]).fit(
        features, failed
    )
    assert model.search_scores_[0] == model.search_scores_[1]
    assert model.best_params_ == {"max_bin": 63}


def test_a_fixed_threshold_is_kept_while_candidates_are_compared() -> None:
    features, failed = _load_limit(900, seed=6)
    model = DefectClassifier(
        **SMALL, threshold=0.5, candidates=[{"num_leaves": 3}, {"num_leaves": 15}]
    ).fit(features, failed)
    assert model.threshold_ == 0.5
    assert len(model.search_scores_) == 2
    assert all(0.0 <= score <= 1.0 for score in model.search_scores_)


@pytest.mark.parametrize(
    ("candidates", "message"),
    [
        ([], "at least one setting"),
        ([{"max_features": 3}], "may set only"),
        (["max_bin"], "must be a dict"),
        ([{"max_bin": 1}], "'max_bin' parameter of DefectClassifier"),
    ],
)
def test_invalid_candidates_are_refused_with_the_reason(
    candidates: list[Any], message: str
) -> None:
    features, failed = _load_limit(300, seed=7)
    with pytest.raises(ParameterError, match=message):
        DefectClassifier(**SMALL, candidates=candidates).fit(features, failed)


def test_too_few_defects_for_the_inner_folds_is_an_engine_error() -> None:
    features, _ = _load_limit(100, seed=8)
    failed = np.zeros(100, dtype=int)
    failed[:2] = 1
    with pytest.raises(EngineError, match="at least 3 defective"):
        DefectClassifier(**SMALL).fit(features, failed)


def _noisy(rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Rare defects that a load makes likelier but never certain: no cut separates them."""
    rng = np.random.default_rng(seed)
    load = rng.normal(size=rows)
    failed = rng.random(rows) < 1.0 / (1.0 + np.exp(-(1.5 * load - 4.0)))
    return pd.DataFrame({"load": load, "noise": rng.normal(size=rows)}), failed.astype(int)


def test_one_model_offers_both_operating_points() -> None:
    features, failed = _noisy(6000, seed=11)
    model = DefectClassifier(**SMALL).fit(features[:3000], failed[:3000])
    assert set(model.thresholds_) == {"f1", "ber"}
    assert model.thresholds_["f1"] == model.threshold_
    test, truth = features[3000:], failed[3000:]
    at_f1 = model.predict(test, objective="f1")
    at_ber = model.predict(test, objective="ber")
    assert np.array_equal(model.predict(test), at_f1)
    # the balanced error rate's cut calls more units defective and errs less in balance
    assert at_ber.sum() > at_f1.sum()

    def ber(called: np.ndarray) -> float:
        missed = np.mean(called[truth == 1] == 0)
        false_alarms = np.mean(called[truth == 0] == 1)
        return float(0.5 * (missed + false_alarms))

    assert ber(at_ber) < ber(at_f1)
    assert _f1(at_f1, truth) > _f1(at_ber, truth)


def test_a_fixed_threshold_learns_no_operating_point_to_ask_for() -> None:
    features, failed = _load_limit(600, seed=12)
    model = DefectClassifier(**SMALL, threshold=0.4).fit(features, failed)
    assert model.thresholds_ == {}
    with pytest.raises(ParameterError, match="learned no cut"):
        model.predict(features, objective="ber")
