"""The pair model: from similarity features to the probability that two records are one thing.

Before anyone has reviewed a match, the model is a logistic function with prior weights that say
what a plant engineer would: shared numbers and similar text count for, a number the candidate
lacks counts against. Each fit on labelled pairs (sure matches found on the first pass, approvals
and rejections) replaces them with learned weights, so approvals improve the matcher. Any model
with ``fit(X, y)`` and ``predict_proba(X)`` can replace it.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from factorybrain.context._features import FEATURES
from factorybrain.engines._base import Engine, Interval

#: Prior weights per feature, and the intercept, used until there are labels to learn from.
PRIOR_WEIGHTS: dict[str, float] = {
    "code_equal": 6.0,
    "key_number": 5.0,
    "numbers_found": 2.0,
    "numbers_conflict": -4.0,
    "text_cosine": 4.0,
    "code_cosine": 2.0,
    "attributes": 2.0,
    "type_words": 4.0,
    "field_hint": 2.0,
    "code_gap": 6.0,
    "text_gap": 8.0,
    "numbers_gap": 3.0,
}
PRIOR_INTERCEPT = -5.0


class PairModel(Engine):
    """Probability that a (source, candidate) pair names the same entity.

    Args:
        regularization: Inverse L2 strength ``C`` of the logistic regression.
        min_labels: Labelled pairs of each class needed before learned weights replace the prior.
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "regularization": [Interval(float, 0.0, None, closed="neither")],
        "min_labels": [Interval(int, 1, None)],
    }

    def __init__(self, *, regularization: float = 1.0, min_labels: int = 10) -> None:
        self.regularization = regularization
        self.min_labels = min_labels

    @staticmethod
    def _design(features: pd.DataFrame) -> np.ndarray:
        matrix = features.loc[:, list(FEATURES)].to_numpy(dtype=float, copy=True)
        # Centre the neutral 0.5 of the agreement features so "unknown" weighs nothing.
        for name in ("attributes", "type_words"):
            matrix[:, FEATURES.index(name)] -= 0.5
        return matrix

    def fit(
        self, features: pd.DataFrame, labels: np.ndarray, weights: np.ndarray | None = None
    ) -> PairModel:
        """Learn weights from labelled pairs (1 same entity, 0 not); keep the prior if too few."""
        self._validate_parameters()
        labels = np.asarray(labels, dtype=int)
        self.learned_ = bool(
            (labels == 1).sum() >= self.min_labels and (labels == 0).sum() >= self.min_labels
        )
        if self.learned_:
            model = LogisticRegression(C=self.regularization, max_iter=1000)
            model.fit(self._design(features), labels, sample_weight=weights)
            self.coef_ = model.coef_[0]
            self.intercept_ = float(model.intercept_[0])
        else:
            self.coef_ = np.array([PRIOR_WEIGHTS[name] for name in FEATURES])
            self.intercept_ = PRIOR_INTERCEPT
        return self

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        """Return the probability of a match for each pair."""
        self._check_fitted()
        logits = self._design(features) @ self.coef_ + self.intercept_
        return 1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30)))

    def weights(self) -> dict[str, float]:
        """The weight of each feature (and ``intercept``), for explaining a score."""
        self._check_fitted()
        return {
            **dict(zip(FEATURES, self.coef_.tolist(), strict=True)),
            "intercept": self.intercept_,
        }
