"""PCA monitoring with Hotelling's T-squared and the Q statistic (squared prediction error)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from scipy import stats

from factorybrain.engines._base import Constraint, InstanceOf, Interval
from factorybrain.engines.anomaly._model import AnomalyModel
from factorybrain.exceptions import EngineError


class PCAAnomalyModel(AnomalyModel):
    """Principal component monitoring: T-squared inside the model plane, Q off it.

    With ``a`` retained components of standardized data, ``T2 = sum(t_i^2 / lambda_i)`` and
    ``Q = |z - P P^T z|^2``. Their control limits at ``confidence`` are the textbook ones: T2 from
    the F distribution, ``a (n-1)(n+1) / (n (n-a)) F(a, n-a)``, and Q from Jackson and Mudholkar
    (1979). The score is ``max(T2 / T2_limit, Q / Q_limit)``, so 1.0 is the edge of the limits.
    With ``target_false_alarm_rate`` the threshold is instead the quantile of the training scores.

    Contributions split the dominant statistic over the sensors: ``z_j (P diag(1/lambda) P^T z)_j``
    for T2 (negative parts set to 0 and the rest rescaled) and ``r_j^2`` for Q.

    Args:
        n_components: Components to keep; ``None`` keeps the fewest that explain
            ``variance_explained`` of the variance.
        variance_explained: Fraction of variance to explain when ``n_components`` is None.
        confidence: Confidence of the T2 and Q limits.
        target_false_alarm_rate: If set, calibrate the threshold on the training scores instead of
            using the limits (threshold 1.0).
        n_regimes, regime_columns, max_gap, stuck_run, drift_smoothing, max_excluded_fraction:
            Data handling, see :class:`AnomalyModel`.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> model = PCAAnomalyModel(n_components=2).fit(rng.normal(size=(300, 4)))
        >>> result = model.score(np.array([[0.0, 0.0, 0.0, 0.0], [9.0, -9.0, 9.0, 0.0]]))
        >>> result.is_anomaly.tolist()
        [False, True]
    """

    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        **AnomalyModel._common_constraints,
        "target_false_alarm_rate": [
            Interval(float, 0, 0.5, closed="right"),
            InstanceOf((type(None),)),
        ],
        "n_components": [Interval(int, 1, None), InstanceOf((type(None),))],
        "variance_explained": [Interval(float, 0, 1, closed="right")],
        "confidence": [Interval(float, 0.5, 1, closed="neither")],
    }

    def __init__(
        self,
        *,
        n_components: int | None = None,
        variance_explained: float = 0.9,
        confidence: float = 0.99,
        target_false_alarm_rate: float | None = None,
        n_regimes: int = 1,
        regime_columns: Sequence[int | str] | None = None,
        max_gap: int = 10,
        stuck_run: int | None = 20,
        drift_smoothing: float | None = 0.01,
        max_excluded_fraction: float = 0.5,
    ) -> None:
        self.n_components = n_components
        self.variance_explained = variance_explained
        self.confidence = confidence
        self.target_false_alarm_rate = target_false_alarm_rate
        self.n_regimes = n_regimes
        self.regime_columns = regime_columns
        self.max_gap = max_gap
        self.stuck_run = stuck_run
        self.drift_smoothing = drift_smoothing
        self.max_excluded_fraction = max_excluded_fraction

    def _fit_model(self, segments: list[np.ndarray]) -> None:
        z = np.vstack(segments)
        rows, sensors = z.shape
        # The regime normalizer centres each regime, but rows with NaN were dropped after it.
        self.center_ = z.mean(axis=0)
        _, singular, vt = np.linalg.svd(z - self.center_, full_matrices=False)
        eigenvalues = singular**2 / (rows - 1)
        if self.n_components is None:
            share = np.cumsum(eigenvalues) / eigenvalues.sum()
            components = int(np.searchsorted(share, self.variance_explained) + 1)
        else:
            components = self.n_components
        components = min(components, sensors)
        if components >= rows:
            raise EngineError(
                f"PCAAnomalyModel cannot keep {components} components from {rows} training rows."
            )
        self.n_components_ = components
        self.loadings_ = np.ascontiguousarray(vt[:components].T)
        self.eigenvalues_ = eigenvalues[:components]
        self._inverse_eigenvalues = 1.0 / np.maximum(self.eigenvalues_, 1e-12)
        a, n = components, rows
        self.t2_limit_ = float(
            a * (n - 1) * (n + 1) / (n * (n - a)) * stats.f.ppf(self.confidence, a, n - a)
        )
        self.q_limit_ = _q_limit(eigenvalues[components:], self.confidence)

    def _default_threshold(self) -> float:
        return 1.0

    def _statistics(self, z: np.ndarray) -> tuple[np.ndarray, ...]:
        centred = z - self.center_
        scores = centred @ self.loadings_
        t2 = (scores**2) @ self._inverse_eigenvalues
        residual = centred - scores @ self.loadings_.T
        q = np.einsum("ij,ij->i", residual, residual)
        return centred, scores, t2, residual, q

    def _score_model(
        self, z: np.ndarray, starts: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        centred, scores, t2, residual, q = self._statistics(z)
        t2_ratio = t2 / self.t2_limit_
        q_ratio = q / self.q_limit_
        score = np.maximum(t2_ratio, q_ratio)
        weighted = (scores * self._inverse_eigenvalues) @ self.loadings_.T
        t2_parts = np.maximum(centred * weighted, 0)
        q_parts = residual**2
        use_t2 = (t2_ratio >= q_ratio)[:, None]
        parts = np.where(use_t2, t2_parts, q_parts)
        total = parts.sum(axis=1, keepdims=True)
        contributions = np.divide(
            parts * score[:, None], total, out=np.zeros_like(parts), where=total > 0
        )
        return score, contributions, {"t2": t2, "q": q}

    def _new_state(self) -> Any:
        sensors = len(self.center_)
        return {
            "centred": np.zeros(sensors),
            "scores": np.zeros(self.n_components_),
            "squared": np.zeros(self.n_components_),
            "back": np.zeros(sensors),
        }

    def _score_state(self, state: Any, z: np.ndarray) -> float:
        centred = state["centred"]
        np.subtract(z, self.center_, out=centred)
        scores = np.dot(centred, self.loadings_, out=state["scores"])
        np.multiply(scores, scores, out=state["squared"])
        t2 = float(np.dot(state["squared"], self._inverse_eigenvalues))
        back = np.dot(self.loadings_, scores, out=state["back"])
        np.subtract(centred, back, out=back)
        q = float(np.dot(back, back))
        return max(t2 / self.t2_limit_, q / self.q_limit_)


def _q_limit(residual_eigenvalues: np.ndarray, confidence: float) -> float:
    """Jackson-Mudholkar limit of Q from the eigenvalues left out of the model."""
    theta = [float(np.sum(residual_eigenvalues**power)) for power in (1, 2, 3)]
    if theta[0] <= 1e-12:
        return 1e-12
    h0 = 1.0 - 2.0 * theta[0] * theta[2] / (3.0 * theta[1] ** 2)
    c_alpha = stats.norm.ppf(confidence)
    inner = (
        c_alpha * np.sqrt(2.0 * theta[1] * h0**2) / theta[0]
        + 1.0
        + theta[1] * h0 * (h0 - 1.0) / theta[0] ** 2
    )
    return float(theta[0] * max(inner, 1e-12) ** (1.0 / h0))


__all__ = ["PCAAnomalyModel"]
