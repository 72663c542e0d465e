"""Defect classification on rare failures: balanced gradient boosting, a threshold learned honestly.

A quality engineer asks "which units will fail, and why?" on data where failures are a few per
cent. :class:`DefectClassifier` answers with LightGBM and keeps every choice inside ``fit``, so
cross-validating it is leakage-free:

1. **screening**: columns that are constant or mostly missing are dropped, and with
   ``max_features`` only the columns that best separate failures (ANOVA F on median-imputed
   values) are kept, learned from the training rows only;
2. **balance**: an *easy ensemble* of ``n_models`` boosters, each drawing every failure and an
   equal share of passes per tree (LightGBM's ``pos_bagging_fraction``/``neg_bagging_fraction``),
   or class weights (``balance="weights"``);
3. **settings**: with ``candidates``, alternative booster settings (finer histogram bins,
   other tree sizes, more trees) are compared on the out-of-fold probabilities of an inner
   stratified cross-validation on the training rows, and the best one is kept;
4. **threshold**: the same out-of-fold probabilities choose the cut that maximises F1 (or
   minimises the balanced error rate); the test rows never see it. Both cuts are kept: F1's
   catches fewer failures with fewer false alarms, the balanced error rate's more of both, and
   ``predict(objective=...)`` asks for either operating point of the one model.

Histogram bins matter on process data whose failures begin at a sharp physical limit (a power,
a temperature, a load): LightGBM cuts a feature only between its bins, 255 by default, and in the
sparse tail of a distribution one bin can span both sides of the limit. ``max_bin`` gives finer
cuts; offering it among the ``candidates`` lets the training rows decide whether they pay.

:meth:`DefectClassifier.contributions` gives per-feature TreeSHAP attributions (LightGBM's
``pred_contrib``), averaged over the ensemble, in log-odds: what each feature adds to a unit's
risk of failing.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import lightgbm as lgb
import numpy as np
from sklearn.feature_selection import f_classif
from sklearn.model_selection import StratifiedKFold

from factorybrain.engines._base import Constraint, Engine, InstanceOf, Interval, Options
from factorybrain.exceptions import EngineError, ParameterError

#: What the inner cross-validation can choose a probability cut for: F1 of the defective class,
#: or the balanced error rate.
OBJECTIVES = ("f1", "ber")

#: Parameters a candidate setting may change: those of the boosters, not the screen or the folds.
SEARCHABLE = (
    "n_models",
    "n_estimators",
    "learning_rate",
    "num_leaves",
    "min_child_samples",
    "colsample",
    "balance",
    "max_bin",
)


def _matrix(features: Any) -> tuple[np.ndarray, list[str] | None]:
    names = [str(c) for c in features.columns] if hasattr(features, "columns") else None
    matrix = np.asarray(features, dtype=float)
    if matrix.ndim != 2:
        raise EngineError(f"features must be a 2-D table; got shape {matrix.shape}")
    return matrix, names


def _threshold_and_score(
    probabilities: np.ndarray, labels: np.ndarray, objective: str
) -> tuple[float, float]:
    """The best probability cut for ``objective`` and its score (higher is better)."""
    order = np.argsort(-probabilities, kind="stable")
    p, y = probabilities[order], labels[order].astype(bool)
    positives = int(y.sum())
    negatives = int(y.size - positives)
    if positives == 0 or negatives == 0:
        return 0.5, 0.0
    true_pos = np.cumsum(y)
    false_pos = np.cumsum(~y)
    # only cut between distinct probabilities
    last = np.r_[p[1:] != p[:-1], True]
    true_pos, false_pos, cuts = true_pos[last], false_pos[last], p[last]
    if objective == "ber":
        error = 0.5 * ((positives - true_pos) / positives + false_pos / negatives)
        best = int(np.argmin(error))
        score = 1.0 - float(error[best])  # one minus the balanced error rate
    else:
        f1 = 2 * true_pos / (2 * true_pos + false_pos + (positives - true_pos))
        best = int(np.argmax(f1))
        score = float(f1[best])
    following = cuts[best + 1] if best + 1 < cuts.size else 0.0
    return float((cuts[best] + following) / 2.0), score


def best_threshold(probabilities: np.ndarray, labels: np.ndarray, objective: str) -> float:
    """The probability cut that maximises F1 or minimises the balanced error rate.

    Candidates are the distinct probabilities; ties go to the highest cut.
    """
    return _threshold_and_score(probabilities, labels, objective)[0]


def _score_at(probabilities: np.ndarray, labels: np.ndarray, cut: float) -> float:
    """F1 of the defective class when units at or above ``cut`` are called defective."""
    called = probabilities >= cut
    truth = labels.astype(bool)
    true_pos = int(np.sum(called & truth))
    errors = int(np.sum(called != truth))
    return 2 * true_pos / max(2 * true_pos + errors, 1)


class DefectClassifier(Engine):
    """Balanced LightGBM on rare defects, with screening and a threshold learned in ``fit``.

    Args:
        n_models: Boosters in the ensemble (each with its own seed and draws).
        n_estimators: Trees per booster.
        learning_rate: Shrinkage.
        num_leaves: Leaves per tree (small trees: few failures to learn from).
        min_child_samples: Rows a leaf needs.
        colsample: Share of features each tree sees.
        max_bin: Histogram bins per feature: the finest cut a tree can make (LightGBM's 255 by
            default; more bins draw a sharp limit more exactly, at some cost in time).
        balance: ``bagging`` (every failure, an equal share of passes per tree), ``weights``
            (classes weighted inversely to their size) or ``none``.
        max_features: Columns kept by the ANOVA F screen (None: every usable column).
        max_missing: Columns missing in a larger share of training rows are dropped.
        threshold: ``f1`` or ``ber``: what the inner cross-validation optimises; or a fixed
            probability in (0, 1).
        inner_folds: Folds of the inner cross-validation that chooses the threshold.
        candidates: Alternative booster settings, each a dict of some of this class's
            parameters (``n_models``, ``n_estimators``, ``learning_rate``, ``num_leaves``,
            ``min_child_samples``, ``colsample``, ``balance``, ``max_bin``) that override the
            others. The inner cross-validation scores every candidate on the same folds (F1 or
            one minus the balanced error rate at its best cut; F1 at a fixed threshold) and
            the best is fitted; the first wins a tie. None: the parameters as given.
        random_state: Seed.
        n_jobs: Threads per booster.

    Attributes:
        columns_: Positions of the columns used, in the input.
        feature_names_: Their names (``f<i>`` without names).
        models_: The fitted boosters.
        threshold_: Probability at or above which a unit is called defective.
        thresholds_: The cut for each objective (``f1``, ``ber``), both chosen on the same
            out-of-fold probabilities as :attr:`threshold_` (empty with a fixed threshold):
            two operating points of one model, for :meth:`predict`'s ``objective``.
        prevalence_: Share of failures in the training rows.
        best_params_: The candidate that was fitted (``{}`` without ``candidates``).
        search_scores_: Inner cross-validation score of each candidate, in order (empty when
            nothing was compared: no ``candidates``, or one with a fixed threshold).
    """

    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        "n_models": [Interval(int, 1, None)],
        "n_estimators": [Interval(int, 1, None)],
        "learning_rate": [Interval(float, 0.0, None, closed="neither")],
        "num_leaves": [Interval(int, 2, None)],
        "min_child_samples": [Interval(int, 1, None)],
        "colsample": [Interval(float, 0.0, 1.0, closed="right")],
        "max_bin": [Interval(int, 2, None)],
        "balance": [Options(("bagging", "weights", "none"))],
        "max_features": [Interval(int, 1, None), InstanceOf((type(None),))],
        "max_missing": [Interval(float, 0.0, 1.0)],
        "threshold": [Options(OBJECTIVES), Interval(float, 0.0, 1.0, closed="neither")],
        "inner_folds": [Interval(int, 2, None)],
        "candidates": [InstanceOf((list, tuple, type(None)))],
        "random_state": [Interval(int, 0, None)],
        "n_jobs": [Interval(int, 1, None)],
    }

    def __init__(
        self,
        *,
        n_models: int = 5,
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        num_leaves: int = 7,
        min_child_samples: int = 10,
        colsample: float = 0.5,
        max_bin: int = 255,
        balance: str = "bagging",
        max_features: int | None = None,
        max_missing: float = 0.5,
        threshold: str | float = "f1",
        inner_folds: int = 3,
        candidates: Sequence[Mapping[str, Any]] | None = None,
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.n_models = n_models
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.colsample = colsample
        self.max_bin = max_bin
        self.balance = balance
        self.max_features = max_features
        self.max_missing = max_missing
        self.threshold = threshold
        self.inner_folds = inner_folds
        self.candidates = candidates
        self.random_state = random_state
        self.n_jobs = n_jobs

    # -- fitting ---------------------------------------------------------------------------
    def _screen(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        missing = np.mean(~np.isfinite(x), axis=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            spread = np.nanstd(np.where(np.isfinite(x), x, np.nan), axis=0)
        usable = np.flatnonzero((missing <= self.max_missing) & (np.nan_to_num(spread) > 0))
        if usable.size == 0:
            raise EngineError(
                f"no usable feature: all {x.shape[1]} columns are constant or missing in more "
                f"than {self.max_missing:.0%} of the {x.shape[0]} training rows"
            )
        if self.max_features is None or usable.size <= self.max_features:
            return usable
        sub = x[:, usable]
        medians = np.nanmedian(np.where(np.isfinite(sub), sub, np.nan), axis=0)
        filled = np.where(np.isfinite(sub), sub, medians)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            scores, _ = f_classif(filled, y)
        scores = np.nan_to_num(scores, nan=0.0)
        keep = np.argsort(-scores, kind="stable")[: self.max_features]
        return np.sort(usable[keep])

    def _params(self, seed: int, y: np.ndarray) -> dict[str, Any]:
        params: dict[str, Any] = {
            "objective": "binary",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "feature_fraction": self.colsample,
            "max_bin": self.max_bin,
            "seed": seed,
            "num_threads": self.n_jobs,
            "verbosity": -1,
            "deterministic": True,
            "force_col_wise": True,
        }
        positives = max(int(y.sum()), 1)
        negatives = max(int(y.size - y.sum()), 1)
        if self.balance == "bagging":
            params.update(
                bagging_freq=1,
                pos_bagging_fraction=1.0,
                neg_bagging_fraction=min(1.0, positives / negatives),
            )
        elif self.balance == "weights":
            params["scale_pos_weight"] = negatives / positives
        return params

    def _boosters(self, x: np.ndarray, y: np.ndarray, seed: int) -> list[lgb.Booster]:
        boosters = []
        for member in range(self.n_models):
            data = lgb.Dataset(x, label=y, params={"verbosity": -1}, free_raw_data=True)
            boosters.append(
                lgb.train(self._params(seed + 7919 * member, y), data, self.n_estimators)
            )
        return boosters

    def _settings(self) -> list[dict[str, Any]]:
        """The candidate settings, checked (one empty setting without ``candidates``)."""
        if self.candidates is None:
            return [{}]
        if len(self.candidates) == 0:
            raise ParameterError(
                "The 'candidates' parameter of DefectClassifier must list at least one setting "
                "or be None. Got an empty list instead."
            )
        settings = []
        for position, candidate in enumerate(self.candidates):
            if not isinstance(candidate, Mapping):
                raise ParameterError(
                    f"Candidate {position} of DefectClassifier must be a dict of parameters. "
                    f"Got {candidate!r} instead."
                )
            unknown = sorted(set(candidate) - set(SEARCHABLE))
            if unknown:
                raise ParameterError(
                    f"Candidate {position} of DefectClassifier may set only {list(SEARCHABLE)}. "
                    f"Got {unknown} instead."
                )
            setting = dict(candidate)
            self._variant(setting)._validate_parameters()
            settings.append(setting)
        return settings

    def _variant(self, setting: Mapping[str, Any]) -> DefectClassifier:
        """A copy of this classifier's parameters with one candidate setting applied."""
        return DefectClassifier(**{**self.get_params(), **setting, "candidates": None})

    def _out_of_fold(
        self, x: np.ndarray, y: np.ndarray, splits: list[tuple[np.ndarray, np.ndarray]]
    ) -> np.ndarray:
        """Probabilities of each training row from boosters that did not learn from it."""
        out_of_fold = np.zeros(y.size)
        for inner, (train, test) in enumerate(splits):
            boosters = self._boosters(x[train], y[train], self.random_state + 101 * inner)
            out_of_fold[test] = self._mean_probability(boosters, x[test])
        return out_of_fold

    @staticmethod
    def _mean_probability(boosters: list[lgb.Booster], x: np.ndarray) -> np.ndarray:
        return np.mean([b.predict(x) for b in boosters], axis=0)

    def fit(self, features: Any, labels: Any) -> DefectClassifier:
        """Screen columns, choose setting and threshold by inner cross-validation, fit.

        Args:
            features: Rows of units, columns of features (NaN allowed: LightGBM routes it).
            labels: 1 (or True) for a defective unit, 0 for a good one.

        Raises:
            EngineError: Rows and labels differ in number, a class has fewer rows than the
                inner folds, or no column is usable.
            ParameterError: A parameter or a candidate setting is invalid.
        """
        self._validate_parameters()
        settings = self._settings()
        x, names = _matrix(features)
        y = np.asarray(labels).astype(float).ravel()
        if y.size != x.shape[0]:
            raise EngineError(f"{x.shape[0]} rows of features but {y.size} labels")
        y = (y > 0).astype(float)
        positives = int(y.sum())
        if min(positives, y.size - positives) < self.inner_folds:
            raise EngineError(
                f"a defect model needs at least {self.inner_folds} defective and "
                f"{self.inner_folds} good units; got {positives} defective of {y.size}"
            )
        self.columns_ = self._screen(x, y)
        self.feature_names_ = (
            [names[i] for i in self.columns_] if names else [f"f{i}" for i in self.columns_]
        )
        self.prevalence_ = positives / y.size
        x = x[:, self.columns_]
        self.search_scores_: list[float] = []
        self.thresholds_: dict[str, float] = {}
        best = 0
        if isinstance(self.threshold, str) or len(settings) > 1:
            folds = StratifiedKFold(self.inner_folds, shuffle=True, random_state=self.random_state)
            splits = list(folds.split(x, y))  # the same folds for every candidate
            best_cut, best_out_of_fold = 0.5, np.zeros(0)
            for position, setting in enumerate(settings):
                out_of_fold = self._variant(setting)._out_of_fold(x, y, splits)
                if isinstance(self.threshold, str):
                    cut, score = _threshold_and_score(out_of_fold, y, self.threshold)
                else:
                    cut, score = float(self.threshold), _score_at(out_of_fold, y, self.threshold)
                self.search_scores_.append(score)
                if score > self.search_scores_[best] or position == 0:
                    best, best_cut, best_out_of_fold = position, cut, out_of_fold
            self.threshold_ = best_cut
            if isinstance(self.threshold, str):
                # both operating points, from the same out-of-fold probabilities
                self.thresholds_ = {
                    objective: best_threshold(best_out_of_fold, y, objective)
                    for objective in OBJECTIVES
                }
        else:
            self.threshold_ = float(self.threshold)
        if self.candidates is None:
            self.search_scores_ = []
        self.best_params_ = settings[best]
        self.models_ = self._variant(settings[best])._boosters(x, y, self.random_state)
        return self

    # -- using it ------------------------------------------------------------------------------
    def _selected(self, features: Any) -> np.ndarray:
        self._check_fitted()
        x, _ = _matrix(features)
        if x.shape[1] <= int(self.columns_.max()):
            raise EngineError(
                f"the model was fitted on tables of at least {int(self.columns_.max()) + 1} "
                f"columns; got {x.shape[1]}"
            )
        return x[:, self.columns_]

    def predict_proba(self, features: Any) -> np.ndarray:
        """Probability that each row is defective (the ensemble's mean)."""
        return self._mean_probability(self.models_, self._selected(features))

    def predict(self, features: Any, *, objective: str | None = None) -> np.ndarray:
        """1 where the probability reaches the cut, else 0.

        Args:
            features: Rows of units, the columns the model was fitted on.
            objective: ``f1`` or ``ber``: the cut the inner cross-validation chose for that
                objective (:attr:`thresholds_`), whichever ``threshold`` the model was fitted
                for. None: :attr:`threshold_`.

        Raises:
            ParameterError: ``objective`` is unknown, or the model was fitted with a fixed
                threshold (no cut was learned).
        """
        cut = self.threshold_
        if objective is not None:
            self._check_fitted()
            if objective not in self.thresholds_:
                raise ParameterError(
                    f"The 'objective' of DefectClassifier.predict must be one of "
                    f"{sorted(self.thresholds_) or list(OBJECTIVES)} (a model fitted with a "
                    f"fixed threshold learned no cut). Got {objective!r} instead."
                )
            cut = self.thresholds_[objective]
        return (self.predict_proba(features) >= cut).astype(int)

    def contributions(self, features: Any) -> np.ndarray:
        """Per-row, per-feature TreeSHAP contributions in log-odds (the last column: the bias).

        Columns follow :attr:`feature_names_`; a row's contributions add up to its log-odds of
        being defective (the ensemble's mean).
        """
        x = self._selected(features)
        parts = [np.asarray(b.predict(x, pred_contrib=True)) for b in self.models_]
        return np.asarray(np.mean(parts, axis=0))


__all__ = ["OBJECTIVES", "DefectClassifier", "best_threshold"]
