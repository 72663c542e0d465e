from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from factorybrain.context import PairModel
from factorybrain.context._features import FEATURES
from factorybrain.exceptions import NotFittedError, ParameterError


def _pairs(n: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({name: rng.uniform(0, 1, n) for name in FEATURES})
    # Reviewers approved exactly the pairs whose codes look alike.
    labels = (frame.code_cosine > 0.5).astype(int).to_numpy()
    return frame, labels


def test_reviewed_pairs_replace_the_prior_weights():
    features, labels = _pairs(200)
    model = PairModel(min_labels=10).fit(features, labels)
    assert model.learned_
    test, truth = _pairs(200, seed=1)
    predicted = model.predict_proba(test) > 0.5
    assert (predicted == truth.astype(bool)).mean() > 0.9


def test_too_few_reviews_keep_the_prior():
    features, labels = _pairs(6)
    model = PairModel(min_labels=10).fit(features, labels)
    assert not model.learned_
    assert model.weights()["code_equal"] > 0 > model.weights()["numbers_conflict"]


def test_model_checks_parameters_and_fit():
    with pytest.raises(NotFittedError):
        PairModel().predict_proba(pd.DataFrame({name: [0.0] for name in FEATURES}))
    with pytest.raises(ParameterError, match="regularization"):
        PairModel(regularization=-1.0).fit(*_pairs(5))
