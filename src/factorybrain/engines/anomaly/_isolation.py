"""Isolation forest on regime-standardized sensors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from factorybrain.engines._base import Constraint, InstanceOf, Interval
from factorybrain.engines.anomaly._model import AnomalyModel


class IsolationForestModel(AnomalyModel):
    """An isolation forest (Liu, Ting and Zhou, 2008) over standardized sensor readings.

    The score is the forest's anomaly score ``2^(-E[h(x)] / c(n))`` (about 0.5 for ordinary
    points, towards 1 for isolated ones); the threshold is calibrated on the training scores to
    ``target_false_alarm_rate``. The forest has no exact attribution, so contributions split the
    score in proportion to each sensor's squared deviation from its training mean, a proxy that
    names the sensors that are far from normal.

    Scoring one sample at a time works but runs the whole forest per call (about a millisecond):
    use :class:`PCAAnomalyModel` or :class:`DynamicAnomalyModel` on fast streams.

    Args:
        n_estimators: Number of trees.
        max_samples: Rows drawn to build each tree (capped at the training size).
        random_state: Seed of the forest.
        target_false_alarm_rate: Fraction of the training rows above the threshold.
        n_regimes, regime_columns, max_gap, stuck_run, drift_smoothing, max_excluded_fraction:
            Data handling, see :class:`AnomalyModel`.
    """

    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        **AnomalyModel._common_constraints,
        "n_estimators": [Interval(int, 1, None)],
        "max_samples": [Interval(int, 2, None)],
        "random_state": [Interval(int, 0, None), InstanceOf((type(None),))],
    }

    def __init__(
        self,
        *,
        n_estimators: int = 200,
        max_samples: int = 256,
        random_state: int | None = 0,
        target_false_alarm_rate: float = 0.01,
        n_regimes: int = 1,
        regime_columns: Sequence[int | str] | None = None,
        max_gap: int = 10,
        stuck_run: int | None = 20,
        drift_smoothing: float | None = 0.01,
        max_excluded_fraction: float = 0.5,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.random_state = random_state
        self.target_false_alarm_rate = target_false_alarm_rate
        self.n_regimes = n_regimes
        self.regime_columns = regime_columns
        self.max_gap = max_gap
        self.stuck_run = stuck_run
        self.drift_smoothing = drift_smoothing
        self.max_excluded_fraction = max_excluded_fraction

    def _fit_model(self, segments: list[np.ndarray]) -> None:
        from sklearn.ensemble import IsolationForest

        z = np.vstack(segments)
        self.center_ = z.mean(axis=0)
        self.forest_ = IsolationForest(
            n_estimators=self.n_estimators,
            max_samples=min(self.max_samples, len(z)),
            random_state=self.random_state,
        ).fit(z)

    def _score_model(
        self, z: np.ndarray, starts: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        score = -self.forest_.score_samples(z)
        parts = (z - self.center_) ** 2
        total = parts.sum(axis=1, keepdims=True)
        contributions = np.divide(
            parts * score[:, None], total, out=np.zeros_like(parts), where=total > 0
        )
        return score, contributions, {}

    def _score_state(self, state: Any, z: np.ndarray) -> float:
        return float(-self.forest_.score_samples(z[None, :])[0])


__all__ = ["IsolationForestModel"]
