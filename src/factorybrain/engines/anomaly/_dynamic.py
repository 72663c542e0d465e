"""A dynamic monitor: vector-autoregressive innovations watched by exponentially weighted charts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from scipy.stats import chi2

from factorybrain.engines._base import Constraint, InstanceOf, Interval
from factorybrain.engines.anomaly._model import (
    AnomalyModel,
    ewma,
    segment_bounds,
    shrunk_covariance,
)
from factorybrain.exceptions import EngineError, ParameterError

STATISTICS = ("level", "innovation", "innovation_variance", "sensor_variance")

# A squared innovation moves the adaptive noise scale by at most this many times its current
# variance (a Huber-like cap), so a burst of large innovations cannot teach the model its noise.
_SCALE_CLIP = 4.0
# The mean of min(u^2, cap) for a standard normal u: dividing by it keeps the capped estimate
# of a steady noise's variance unbiased (it would settle 8 % low and make the charts jumpy).
_SCALE_CLIP_MEAN = float(chi2.cdf(_SCALE_CLIP, 3) + _SCALE_CLIP * chi2.sf(_SCALE_CLIP, 1))


@dataclass
class _Dynamics:
    """What one fit of the dynamic model learns."""

    center: np.ndarray  # mean of the rows this fit saw
    inverse_spread: np.ndarray  # 1 / their standard deviation
    coefficients: np.ndarray  # (lags * sensors, sensors): z_t ~ [z_{t-1} .. z_{t-lags}] @ coef
    inverse_scale: np.ndarray  # 1 / standard deviation of each sensor's innovation
    level_whitener: np.ndarray  # W with W W^T = inverse covariance of z
    innovation_whitener: np.ndarray  # the same for the scaled innovations


def _updated_variance(variance: np.ndarray, scaled: np.ndarray, rate: float) -> np.ndarray:
    """One step of the adaptive noise variance, given innovations already divided by its root."""
    capped = np.minimum(scaled * scaled, _SCALE_CLIP) / _SCALE_CLIP_MEAN
    return variance * (1.0 - rate + rate * capped)


def _whitener(covariance: np.ndarray) -> np.ndarray:
    eigenvalues, vectors = np.linalg.eigh(covariance)
    return np.ascontiguousarray(vectors / np.sqrt(np.maximum(eigenvalues, 1e-12)))


def _lagged(segment: np.ndarray, lags: int) -> tuple[np.ndarray, np.ndarray]:
    rows = len(segment)
    design = np.hstack([segment[lags - lag : rows - lag] for lag in range(1, lags + 1)])
    return design, segment[lags:]


class DynamicAnomalyModel(AnomalyModel):
    """Watch what a process does that its own recent past does not explain.

    A ridge vector autoregression predicts every standardized sensor from the last ``lags``
    samples of all sensors; the prediction errors (innovations) are nearly white under normal
    operation. Four exponentially weighted charts then watch the process:

    * ``level``: the smoothed sensor vector's Mahalanobis distance (a MEWMA chart, Lowry et al.
      1992), for steps and slow drifts;
    * ``innovation``: the smoothed innovations' Mahalanobis distance, for changed dynamics;
    * ``innovation_variance``: the smoothed squared norm of whitened innovations, for extra noise
      spread over many sensors;
    * ``sensor_variance``: the largest smoothed squared innovation of any one sensor, for extra
      noise on a single sensor.

    Each chart's limit, and then the threshold of the combined score ``max(chart / limit)``, is
    the ``1 - target_false_alarm_rate`` quantile of charts computed on training data **held out**
    from the fit (``calibration_folds`` contiguous folds), so the threshold reflects how the model
    behaves on normal data it has not seen. With too little data for that, in-sample charts are
    used. The first ``lags`` samples after the start or a gap have no innovation and are not
    scored (``WARMUP``).

    With ``scale_half_life``, each sensor's innovation scale follows the process slowly: an
    exponentially weighted mean of its squared scaled innovation (capped at four times the
    current variance, corrected for that cap), updated only on samples scored below the
    threshold. A slow, lasting change that would otherwise alarm for good (noisier sensors, or a
    small offset in the innovations when a slow sensor leaves its training range) stops alarming
    within a few half-lives, while an anomaly, which alarms, is not learnt; a change abrupt
    enough to alarm at once is not learnt either. The charts of change use the innovations
    divided by that scale. Off by default; when on, batch scoring takes a sequential pass (some
    40 µs a row instead of 4).

    Contributions split the dominant chart over the sensors: ``a_j (C^-1 a)_j`` for the two
    Mahalanobis charts, the excess smoothed squared innovation per sensor for the variance charts.

    Args:
        lags: Past samples the autoregression uses.
        level_smoothing: Weight of the newest sample in the level and innovation charts.
        variance_smoothing: Weight of the newest sample in the two variance charts.
        ridge: Ridge penalty of the autoregression, relative to the number of rows.
        shrinkage: Shrinkage of the covariance matrices towards the identity.
        statistics: The charts to combine (any of ``level``, ``innovation``,
            ``innovation_variance``, ``sensor_variance``).
        calibration_folds: Contiguous folds of the training data for held-out calibration.
        target_false_alarm_rate: Fraction of held-out normal samples above the threshold.
        scale_half_life: Half-life, in samples, of the adaptive innovation noise scale; None
            keeps the scale learnt in training.
        n_regimes, regime_columns, max_gap, stuck_run, drift_smoothing, max_excluded_fraction:
            Data handling, see :class:`AnomalyModel`.
    """

    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        **AnomalyModel._common_constraints,
        "lags": [Interval(int, 1, None)],
        "level_smoothing": [Interval(float, 0, 1, closed="right")],
        "variance_smoothing": [Interval(float, 0, 1, closed="right")],
        "ridge": [Interval(float, 0, None)],
        "shrinkage": [Interval(float, 0, 1)],
        "statistics": [InstanceOf((tuple, list))],
        "calibration_folds": [Interval(int, 2, None)],
        "scale_half_life": [
            Interval(float, 0, None, closed="neither"),
            InstanceOf((type(None),)),
        ],
    }

    # Models pickled before the adaptive scale existed load with it off.
    scale_half_life: float | None = None

    def __init__(
        self,
        *,
        lags: int = 2,
        level_smoothing: float = 0.3,
        variance_smoothing: float = 0.1,
        ridge: float = 0.01,
        shrinkage: float = 0.05,
        statistics: Sequence[str] = STATISTICS,
        calibration_folds: int = 2,
        target_false_alarm_rate: float = 0.01,
        scale_half_life: float | None = None,
        n_regimes: int = 1,
        regime_columns: Sequence[int | str] | None = None,
        max_gap: int = 10,
        stuck_run: int | None = 20,
        drift_smoothing: float | None = 0.01,
        max_excluded_fraction: float = 0.5,
    ) -> None:
        self.lags = lags
        self.level_smoothing = level_smoothing
        self.variance_smoothing = variance_smoothing
        self.ridge = ridge
        self.shrinkage = shrinkage
        self.statistics = statistics
        self.calibration_folds = calibration_folds
        self.target_false_alarm_rate = target_false_alarm_rate
        self.scale_half_life = scale_half_life
        self.n_regimes = n_regimes
        self.regime_columns = regime_columns
        self.max_gap = max_gap
        self.stuck_run = stuck_run
        self.drift_smoothing = drift_smoothing
        self.max_excluded_fraction = max_excluded_fraction

    def _min_rows(self, sensors: int) -> int:
        return max(10 * self.lags + 20, 2 * sensors + self.lags)

    # ------------------------------------------------------------------ fitting
    def _fit_model(self, segments: list[np.ndarray]) -> None:
        chosen = list(self.statistics)
        unknown = [name for name in chosen if name not in STATISTICS]
        if not chosen or unknown:
            raise ParameterError(
                f"The 'statistics' parameter of DynamicAnomalyModel must list some of "
                f"{list(STATISTICS)}. Got {self.statistics!r} instead."
            )
        self._use = np.array([name in chosen for name in STATISTICS])
        self.dynamics_ = self._learn(segments)
        held_out = self._held_out_charts(segments)
        if len(held_out) < 50:
            held_out = np.vstack([self._charts(self.dynamics_, s)[0] for s in segments])
            held_out = held_out[np.isfinite(held_out).all(axis=1)]
        quantile = 1.0 - float(self.target_false_alarm_rate or 0.01)
        limits = np.quantile(held_out, quantile, axis=0, method="higher")
        self.limits_ = np.where(self._use, np.maximum(limits, 1e-12), np.inf)
        self._calibration = (held_out / self.limits_).max(axis=1)

    def _calibration_scores(self, segments: list[np.ndarray]) -> np.ndarray:
        return self._calibration

    def _learn(self, segments: list[np.ndarray]) -> _Dynamics:
        # Standardize again on exactly the rows of this fit, so that a fit on some folds meets
        # the others as unseen data, centring included.
        stacked = np.vstack(segments)
        center = stacked.mean(axis=0)
        spread = stacked.std(axis=0, ddof=1)
        inverse_spread = 1.0 / np.where(spread > 1e-9, spread, 1.0)
        segments = [(s - center) * inverse_spread for s in segments]
        pieces = [_lagged(s, self.lags) for s in segments if len(s) > self.lags]
        if not pieces:
            raise EngineError(
                f"DynamicAnomalyModel needs training runs longer than lags={self.lags}."
            )
        design = np.vstack([p[0] for p in pieces])
        target = np.vstack([p[1] for p in pieces])
        gram = design.T @ design + self.ridge * len(design) * np.eye(design.shape[1])
        coefficients = np.linalg.solve(gram, design.T @ target)
        innovations = target - design @ coefficients
        scale = innovations.std(axis=0, ddof=1)
        scale = np.where(scale > 1e-9, scale, 1.0)
        level = shrunk_covariance(np.vstack(segments), self.shrinkage)
        scaled = innovations / scale
        return _Dynamics(
            center=center,
            inverse_spread=inverse_spread,
            coefficients=np.ascontiguousarray(coefficients),
            inverse_scale=1.0 / scale,
            level_whitener=_whitener(level),
            innovation_whitener=_whitener(shrunk_covariance(scaled, self.shrinkage)),
        )

    def _held_out_charts(self, segments: list[np.ndarray]) -> np.ndarray:
        """Charts of each fold computed by a model fitted on the other folds."""
        lengths = [len(s) for s in segments]
        total = sum(lengths)
        offsets = np.cumsum([0, *lengths])
        burn_in = int(np.ceil(2.0 / min(self.level_smoothing, self.variance_smoothing)))
        edges = np.linspace(0, total, self.calibration_folds + 1).astype(int)
        charts = []
        for low, high in zip(edges[:-1], edges[1:], strict=True):
            inside: list[np.ndarray] = []
            outside: list[np.ndarray] = []
            for segment, start in zip(segments, offsets[:-1], strict=True):
                a, b = np.clip([low - start, high - start], 0, len(segment))
                if b > a:
                    inside.append(segment[a:b])
                outside.extend(piece for piece in (segment[:a], segment[b:]) if len(piece))
            usable = [p for p in outside if len(p) > self.lags]
            if sum(len(p) for p in usable) < self._min_rows(segments[0].shape[1]):
                continue
            dynamics = self._learn(usable)
            for piece in inside:
                if len(piece) > self.lags + burn_in:
                    charts.append(self._charts(dynamics, piece)[0][self.lags + burn_in :])
        if not charts:
            return np.empty((0, len(STATISTICS)))
        return np.vstack(charts)

    # ------------------------------------------------------------------ batch scoring
    def _charts(
        self, dynamics: _Dynamics, segment: np.ndarray, adaptive: bool = False
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The four charts per row of one contiguous segment (NaN for the first ``lags`` rows).

        ``adaptive`` divides the innovations by the adaptive noise scale (fitted model only).
        """
        rows, sensors = segment.shape
        charts = np.full((rows, len(STATISTICS)), np.nan)
        parts: dict[str, np.ndarray] = {}
        if rows <= self.lags:
            return charts, parts
        segment = (segment - dynamics.center) * dynamics.inverse_spread
        design, target = _lagged(segment, self.lags)
        innovation = (target - design @ dynamics.coefficients) * dynamics.inverse_scale
        level = ewma(target, self.level_smoothing)
        if adaptive:
            innovation = innovation / self._adaptive_scale(target, innovation, level)
        innovation_mean = ewma(innovation, self.level_smoothing)
        whitened = innovation @ dynamics.innovation_whitener
        spread = ewma(
            np.einsum("ij,ij->i", whitened, whitened)[:, None] / sensors,
            self.variance_smoothing,
            1.0,
        )[:, 0]
        sensor_spread = ewma(innovation**2, self.variance_smoothing, 1.0)
        level_white = level @ dynamics.level_whitener
        mean_white = innovation_mean @ dynamics.innovation_whitener
        charts[self.lags :, 0] = np.einsum("ij,ij->i", level_white, level_white)
        charts[self.lags :, 1] = np.einsum("ij,ij->i", mean_white, mean_white)
        charts[self.lags :, 2] = spread
        charts[self.lags :, 3] = sensor_spread.max(axis=1)
        parts["level"] = level * (level_white @ dynamics.level_whitener.T)
        parts["innovation"] = innovation_mean * (mean_white @ dynamics.innovation_whitener.T)
        parts["spread"] = sensor_spread
        return charts, parts

    def _score_model(
        self, z: np.ndarray, starts: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        rows, sensors = z.shape
        charts = np.full((rows, len(STATISTICS)), np.nan)
        contributions = np.zeros((rows, sensors))
        adaptive = self.scale_half_life is not None
        for begin, end in segment_bounds(starts):
            block, parts = self._charts(self.dynamics_, z[begin:end], adaptive)
            charts[begin:end] = block
            if not parts:
                continue
            ratios = block[self.lags :] / self.limits_
            score = ratios.max(axis=1)
            dominant = ratios.argmax(axis=1)
            spread_excess = np.maximum(parts["spread"] - 1.0, 0.0)
            options = [parts["level"], parts["innovation"], spread_excess, spread_excess]
            chosen = np.zeros_like(options[0])
            for index, option in enumerate(options):
                chosen = np.where((dominant == index)[:, None], option, chosen)
            chosen = np.maximum(chosen, 0.0)
            total = chosen.sum(axis=1, keepdims=True)
            # No sensor above its normal noise: share the score by each sensor's noise instead.
            chosen = np.where(total > 0, chosen, parts["spread"])
            total = chosen.sum(axis=1, keepdims=True)
            contributions[begin + self.lags : end] = np.divide(
                chosen * score[:, None], total, out=np.zeros_like(chosen), where=total > 0
            )
        scores = (charts / self.limits_).max(axis=1)
        statistics = {name: charts[:, i] for i, name in enumerate(STATISTICS) if self._use[i]}
        return scores, contributions, statistics

    def _scale_rate(self) -> float:
        """Weight of the newest sample in the adaptive noise scale."""
        return 1.0 - 0.5 ** (1.0 / float(self.scale_half_life or np.inf))

    def _adaptive_scale(
        self, target: np.ndarray, innovation: np.ndarray, level: np.ndarray
    ) -> np.ndarray:
        """The noise scale each row's innovations are divided by, known before that row.

        A sequential pass: whether a row updates the scale depends on its score, which depends on
        the scale. It follows :meth:`_score_state` step by step so that both agree.
        """
        dynamics = self.dynamics_
        rows, sensors = innovation.shape
        limits = self.limits_
        threshold = float(self.threshold_)
        rate = self._scale_rate()
        level_white = level @ dynamics.level_whitener
        level_ratio = np.einsum("ij,ij->i", level_white, level_white) / limits[0]
        whitener = dynamics.innovation_whitener
        smoothing, v = self.level_smoothing, self.variance_smoothing
        variance = np.ones(sensors)
        mean = np.zeros(sensors)
        spread = 1.0
        sensor_spread = np.ones(sensors)
        scales = np.empty((rows, sensors))
        for t in range(rows):
            scale = np.sqrt(variance)
            scales[t] = scale
            u = innovation[t] / scale
            mean = (1.0 - smoothing) * mean + smoothing * u
            white = u @ whitener
            spread = (1.0 - v) * spread + v * float(white @ white) / sensors
            sensor_spread = (1.0 - v) * sensor_spread + v * u * u
            mean_white = mean @ whitener
            score = max(
                float(level_ratio[t]),
                float(mean_white @ mean_white) / limits[1],
                spread / limits[2],
                float(sensor_spread.max()) / limits[3],
            )
            if score <= threshold:
                variance = _updated_variance(variance, u, rate)
        return scales

    # ------------------------------------------------------------------ stream scoring
    def _new_state(self) -> Any:
        sensors = len(self.dynamics_.inverse_scale)
        self._stream_limits = [float(v) for v in self.limits_]
        # The level and innovation-mean charts advance together on one stacked vector, whitened
        # by one block-diagonal matrix: fewer calls per sample than two separate charts.
        dynamics = self.dynamics_
        block = np.zeros((2 * sensors, 2 * sensors))
        block[:sensors, :sensors] = dynamics.level_whitener
        block[sensors:, sensors:] = dynamics.innovation_whitener
        self._stream_whitener = block
        selector = np.zeros((2 * sensors, 2))
        selector[:sensors, 0] = 1.0
        selector[sensors:, 1] = 1.0
        self._stream_selector = selector
        return _DynamicState(sensors, self.lags)

    def _score_state(self, state: Any, z: np.ndarray) -> float:
        s: _DynamicState = state
        dynamics = self.dynamics_
        dot = np.dot
        zs, innovation = s.z, s.innovation  # views into s.inputs
        np.subtract(z, dynamics.center, out=zs)
        zs *= dynamics.inverse_spread
        lagged = s.lagged
        m = len(zs)
        if s.count < self.lags:
            lagged[m:] = lagged[:-m]
            lagged[:m] = zs
            s.count += 1
            return float("nan")
        dot(lagged, dynamics.coefficients, out=innovation)
        np.subtract(zs, innovation, out=innovation)
        innovation *= dynamics.inverse_scale
        adaptive = self.scale_half_life is not None
        if adaptive:
            innovation /= np.sqrt(s.variance)
        lagged[m:] = lagged[:-m]
        lagged[:m] = zs
        limits = self._stream_limits
        smoothing = self.level_smoothing
        s.charts *= 1.0 - smoothing
        np.multiply(s.inputs, smoothing, out=s.step2)
        s.charts += s.step2
        dot(s.charts, self._stream_whitener, out=s.white2)
        np.multiply(s.white2, s.white2, out=s.white2)
        dot(s.white2, self._stream_selector, out=s.pair)
        white = s.white
        dot(innovation, dynamics.innovation_whitener, out=white)
        v = self.variance_smoothing
        s.spread = (1.0 - v) * s.spread + v * float(dot(white, white)) / m
        step = s.step
        np.multiply(innovation, innovation, out=step)
        step *= v
        s.sensor_spread *= 1.0 - v
        s.sensor_spread += step
        score = max(
            float(s.pair[0]) / limits[0],
            float(s.pair[1]) / limits[1],
            s.spread / limits[2],
            float(np.maximum.reduce(s.sensor_spread)) / limits[3],
        )
        if adaptive and score <= self.threshold_:
            s.variance = _updated_variance(s.variance, innovation, self._scale_rate())
        return score


class _DynamicState:
    """Constant-size state of one stream of the dynamic model."""

    def __init__(self, sensors: int, lags: int) -> None:
        self.count = 0
        self.lagged = np.zeros(sensors * lags)
        self.inputs = np.zeros(2 * sensors)
        self.z = self.inputs[:sensors]
        self.innovation = self.inputs[sensors:]
        self.charts = np.zeros(2 * sensors)  # smoothed level, then smoothed innovation
        self.step2 = np.zeros(2 * sensors)
        self.white2 = np.zeros(2 * sensors)
        self.pair = np.zeros(2)
        self.step = np.zeros(sensors)
        self.white = np.zeros(sensors)
        self.spread = 1.0
        self.sensor_spread = np.ones(sensors)
        self.variance = np.ones(sensors)  # adaptive innovation noise scale, squared

    def __setstate__(self, saved: dict[str, Any]) -> None:
        # Pickling copies views apart; make z and innovation halves of inputs again.
        self.__dict__.update(saved)
        half = len(self.inputs) // 2
        self.z = self.inputs[:half]
        self.innovation = self.inputs[half:]


__all__ = ["STATISTICS", "DynamicAnomalyModel"]
