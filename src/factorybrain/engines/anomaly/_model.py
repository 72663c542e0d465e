"""The base every anomaly model shares: data-quality handling, regimes, batch and stream scoring."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from scipy.signal import lfilter

from factorybrain.engines._base import Constraint, Engine, InstanceOf, Interval
from factorybrain.engines.anomaly._calibration import calibrate_threshold
from factorybrain.engines.anomaly._data import (
    ConditionalImputer,
    RegimeNormalizer,
    as_matrix,
    run_lengths,
    to_seconds,
)
from factorybrain.engines.anomaly._flags import DataFlag
from factorybrain.engines.anomaly._result import AnomalyResult
from factorybrain.exceptions import EngineError, ParameterError

_COVARIANCE_SHRINKAGE = 0.05


def ewma(values: np.ndarray, smoothing: float, initial: np.ndarray | float = 0.0) -> np.ndarray:
    """Causal exponentially weighted mean along rows: ``m_t = s x_t + (1 - s) m_{t-1}``."""
    start = np.broadcast_to(np.asarray(initial, dtype=float), values.shape[1:])
    state = ((1.0 - smoothing) * start)[None, ...]
    out, _ = lfilter([smoothing], [1.0, smoothing - 1.0], values, axis=0, zi=state)
    return out


def shrunk_covariance(z: np.ndarray, shrinkage: float = _COVARIANCE_SHRINKAGE) -> np.ndarray:
    """Sample covariance of standardized data pulled towards the identity."""
    covariance = np.atleast_2d(np.cov(z, rowvar=False))
    return (1.0 - shrinkage) * covariance + shrinkage * np.eye(len(covariance))


class _StreamState:
    """Per-stream buffers of the shared data-quality steps (allocated once)."""

    def __init__(self, sensors: int, modelled: int, model_state: Any) -> None:
        self.last_x = np.full(sensors, np.nan)
        self.equal = np.zeros(sensors, dtype=bool)
        self.flat_run = np.zeros(sensors, dtype=np.int64)
        self.flat_margin = np.zeros(sensors, dtype=np.int64)
        self.stuck = np.zeros(sensors, dtype=bool)
        self.nan = np.zeros(sensors, dtype=bool)
        self.nan_run = np.zeros(sensors, dtype=np.int64)
        self.any_nan_run = False
        self.any_flat_run = False
        self.z_full = np.zeros(sensors)
        self.drift = np.zeros(modelled)
        self.drift_step = np.zeros(modelled)
        self.drift_abs = np.zeros(modelled)
        self.last_time: float | None = None
        self.flags = DataFlag.NONE
        self.model = model_state


class AnomalyModel(Engine):
    """Base of the multivariate anomaly models (not used directly).

    Every model standardizes each sensor per operating regime, handles dirty data the same way and
    scores in batch (:meth:`score`) or one sample at a time (:meth:`score_one`), with identical
    results. What happens to dirty data:

    * NaN reading: replaced by its expectation given the other sensors (``IMPUTED``); NaN for more
      than ``max_gap`` samples, or a column absent from a DataFrame: ``MISSING_SENSOR``, likewise
      excluded from the score. When more than ``max_excluded_fraction`` of the sensors are
      excluded, the row is ``NOT_SCORED`` (score NaN).
    * Stuck sensor (same value for more samples than the longer of ``stuck_run`` and twice its
      longest flat run in training): ``STUCK`` and excluded (``stuck_run=None`` turns this off,
      for sensors that legitimately hold a value).
    * Drifting sensor (its slow average disagrees with what the other sensors imply): ``DRIFT``
      (``drift_smoothing=None`` turns this off).
    * Regime never seen in training (an unknown key, or far from every training cluster):
      ``UNSEEN_REGIME``, score NaN: the model does not know what normal looks like there.
    * Time gap of more than ``max_gap`` sampling intervals (with ``timestamps``): ``GAP``; dynamic
      state restarts (``WARMUP`` rows until it has history again).

    Subclasses implement ``_fit_model``, ``_score_model``, ``_new_state`` and ``_score_state``.
    """

    _common_constraints: ClassVar[dict[str, list[Constraint]]] = {
        "target_false_alarm_rate": [Interval(float, 0, 0.5, closed="right")],
        "n_regimes": [Interval(int, 1, None)],
        "regime_columns": [InstanceOf((list, tuple, type(None)))],
        "max_gap": [Interval(int, 0, None)],
        "stuck_run": [Interval(int, 2, None), InstanceOf((type(None),))],
        "drift_smoothing": [Interval(float, 0, 1, closed="right"), InstanceOf((type(None),))],
        "max_excluded_fraction": [Interval(float, 0, 1, closed="left")],
    }

    target_false_alarm_rate: float | None
    n_regimes: int
    regime_columns: Sequence[int | str] | None
    max_gap: int
    stuck_run: int | None
    drift_smoothing: float | None
    max_excluded_fraction: float

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        data: Any,
        *,
        regimes: Any | None = None,
        timestamps: Any | None = None,
        sensor_names: Sequence[str] | None = None,
    ) -> AnomalyModel:
        """Learn normal behaviour from anomaly-free data.

        Args:
            data: Rows of sensor readings in time order: a DataFrame (columns are the sensors) or a
                2-D array. NaN readings are allowed; rows with any are left out of the fit.
            regimes: Optional operating-regime key per row (e.g. a product or a speed setting);
                each regime is standardized on its own. Without keys and with ``n_regimes > 1``,
                regimes are found by clustering ``regime_columns``.
            timestamps: Optional time per row; a jump of more than ``max_gap`` sampling intervals
                splits the training data.
            sensor_names: Sensor names for array input (default ``sensor_0``, ``sensor_1``...).

        Returns:
            The fitted model.

        Raises:
            ParameterError: If a hyper-parameter or argument is invalid.
            EngineError: If the data is too short or has no varying sensor.
        """
        self._validate_parameters()
        values, names, _ = as_matrix(data, sensor_names)
        rows, sensors = values.shape
        columns = self._regime_column_index(names)
        normalizer = RegimeNormalizer(self.n_regimes, columns)
        index = normalizer.fit(values, regimes)
        global_std = np.nanstd(values, axis=0, ddof=1) if rows > 1 else np.zeros(sensors)
        modelled = np.isfinite(global_std) & (global_std > 0)
        if not modelled.any():
            raise EngineError("Every sensor is constant or empty in the training data.")
        fallback = np.where(modelled, global_std, 1.0)
        bad = ~np.isfinite(normalizer.stds) | (normalizer.stds <= 0)
        normalizer.stds = np.where(bad, fallback[None, :], normalizer.stds)
        normalizer.means = np.where(np.isnan(normalizer.means), 0.0, normalizer.means)
        z = (values - normalizer.means[index]) / normalizer.stds[index]
        z = z[:, modelled]
        breaks = np.isnan(z).any(axis=1)
        interval = None
        if timestamps is not None:
            seconds = to_seconds(timestamps, rows)
            steps = np.diff(seconds)
            interval = float(np.median(steps)) if steps.size else None
            if interval is not None and interval > 0:
                gap_rows = np.flatnonzero(steps > max(self.max_gap, 1) * interval) + 1
            else:
                gap_rows = np.array([], dtype=np.int64)
        else:
            gap_rows = np.array([], dtype=np.int64)
        segments = _split_segments(z, breaks, gap_rows)
        complete = np.vstack(segments) if segments else np.empty((0, int(modelled.sum())))
        needed = self._min_rows(int(modelled.sum()))
        if len(complete) < needed:
            raise EngineError(
                f"{type(self).__name__} needs at least {needed} complete training rows for "
                f"{int(modelled.sum())} sensors; got {len(complete)}."
            )
        self.sensor_names_ = names
        self.modelled_ = modelled
        self.regimes_ = normalizer
        self.sample_interval_ = interval
        self.covariance_ = shrunk_covariance(complete)
        self.imputer_ = ConditionalImputer(self.covariance_)
        precision = np.linalg.inv(self.covariance_)
        self._drift_matrix = precision / np.sqrt(np.diag(precision))[None, :]
        equal = np.vstack([np.zeros((1, sensors), bool), values[1:] == values[:-1]])
        longest_flat = run_lengths(equal).max(axis=0) if rows else np.zeros(sensors)
        if self.stuck_run is None:
            self.stuck_limit_ = np.full(sensors, np.iinfo(np.int64).max)
        else:
            self.stuck_limit_ = np.maximum(self.stuck_run, 2 * longest_flat + 1)
        if self.drift_smoothing is not None:
            train_drift = [
                np.abs(ewma(segment @ self._drift_matrix, self.drift_smoothing)).max(axis=0)
                for segment in segments
            ]
            floor = 5.0 * np.sqrt(self.drift_smoothing / (2.0 - self.drift_smoothing))
            # The residuals all have unit variance, so one limit serves every sensor and the
            # sensor with the largest residual is the one that drifts.
            limit = max(3.0 * float(np.max(train_drift)), floor)
            self.drift_limit_ = np.full(int(modelled.sum()), limit)
        self._fit_model(segments)
        if self.target_false_alarm_rate is None:
            self.threshold_ = self._default_threshold()
        else:
            self.threshold_ = calibrate_threshold(
                self._calibration_scores(segments), self.target_false_alarm_rate
            )
        self._stream: _StreamState | None = None
        return self

    def _regime_column_index(self, names: tuple[str, ...]) -> np.ndarray | None:
        if self.regime_columns is None:
            return None
        index = []
        for column in self.regime_columns:
            if isinstance(column, str):
                if column not in names:
                    raise ParameterError(
                        f"'regime_columns' names {column!r}, which is not a sensor; "
                        f"expected one of {list(names)}."
                    )
                index.append(names.index(column))
            elif isinstance(column, int) and 0 <= column < len(names):
                index.append(column)
            else:
                raise ParameterError(
                    f"'regime_columns' entry {column!r} is not a sensor name or a column index "
                    f"in [0, {len(names)})."
                )
        return np.array(index, dtype=np.int64)

    def _min_rows(self, sensors: int) -> int:
        return max(10, sensors + 2)

    def _default_threshold(self) -> float:
        raise ParameterError(
            f"The 'target_false_alarm_rate' parameter of {type(self).__name__} must be a float "
            "in (0, 0.5]. Got None instead."
        )

    def _calibration_scores(self, segments: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(
            [self._score_model(segment, _first(len(segment)))[0] for segment in segments]
        )

    # ------------------------------------------------------------------ batch scoring
    def score(
        self, data: Any, *, regimes: Any | None = None, timestamps: Any | None = None
    ) -> AnomalyResult:
        """Score rows in time order, from a fresh state (history before ``data`` is not used).

        Args:
            data: A DataFrame with the training sensors as columns (absent ones are excluded and
                flagged) or an array with the training columns in order.
            regimes: Operating-regime key per row, when the model was trained with keys.
            timestamps: Optional time per row, to detect gaps.

        Returns:
            An :class:`AnomalyResult` with scores, threshold, contributions and flags.
        """
        self._check_fitted()
        values, names, absent = as_matrix(data, None, expected=self.sensor_names_)
        rows, sensors = values.shape
        sensor_flags = np.zeros((rows, sensors), dtype=np.uint8)
        row_flags = np.zeros(rows, dtype=np.uint8)

        regime = self.regimes_.assign(values, regimes)
        unseen = regime < 0
        row_flags[unseen] |= np.uint8(DataFlag.UNSEEN_REGIME)
        regime = np.where(unseen, 0, regime)

        equal = np.zeros((rows, sensors), dtype=bool)
        if rows > 1:
            equal[1:] = values[1:] == values[:-1]
        stuck = (run_lengths(equal) >= self.stuck_limit_[None, :]) & self.modelled_[None, :]
        nan = np.isnan(values)
        long_nan = run_lengths(nan) > self.max_gap
        if absent:
            long_nan[:, [names.index(a) for a in absent]] = True
        missing = nan & long_nan
        imputed = nan & ~long_nan
        sensor_flags[stuck] |= np.uint8(DataFlag.STUCK)
        sensor_flags[missing] |= np.uint8(DataFlag.MISSING_SENSOR)
        sensor_flags[imputed] |= np.uint8(DataFlag.IMPUTED)

        z_full = (values - self.regimes_.means[regime]) / self.regimes_.stds[regime]
        z_full[stuck] = np.nan
        z = z_full[:, self.modelled_]
        excluded = np.isnan(z)
        fraction = excluded.mean(axis=1)
        not_scored = (fraction > self.max_excluded_fraction) | (fraction >= 1.0)
        row_flags[not_scored] |= np.uint8(DataFlag.NOT_SCORED)
        z[not_scored | unseen] = 0.0
        self.imputer_.fill(z)

        if self.drift_smoothing is not None:
            drift = ewma(z @ self._drift_matrix, self.drift_smoothing)
            drifting = np.zeros((rows, sensors), dtype=bool)
            drifting[:, self.modelled_] = _drifting(np.abs(drift), self.drift_limit_)
            sensor_flags[drifting] |= np.uint8(DataFlag.DRIFT)

        starts = _first(rows)
        if timestamps is not None and self.sample_interval_:
            seconds = to_seconds(timestamps, rows)
            gaps = np.flatnonzero(np.diff(seconds) > max(self.max_gap, 1) * self.sample_interval_)
            starts[gaps + 1] = True
            row_flags[gaps + 1] |= np.uint8(DataFlag.GAP)

        scores, contributions_m, statistics = self._score_model(z, starts)
        warmup = np.isnan(scores)
        row_flags[warmup & ~unseen & ~not_scored] |= np.uint8(DataFlag.WARMUP)
        scores = np.where(unseen | not_scored, np.nan, scores)
        contributions = np.zeros((rows, sensors))
        contributions[:, self.modelled_] = contributions_m
        contributions[np.isnan(scores)] = 0.0
        _exclude_contributions(contributions, stuck | nan, scores)
        row_flags |= np.bitwise_or.reduce(sensor_flags, axis=1)
        return AnomalyResult(
            scores=scores,
            threshold=float(self.threshold_),
            sensor_names=self.sensor_names_,
            contributions=contributions,
            flags=row_flags,
            sensor_flags=sensor_flags,
            statistics=statistics,
        )

    # ------------------------------------------------------------------ stream scoring
    def reset_stream(self) -> None:
        """Forget the stream's history; the next :meth:`score_one` starts afresh."""
        self._check_fitted()
        self._stream = _StreamState(
            len(self.sensor_names_), int(self.modelled_.sum()), self._new_state()
        )
        self._all_modelled = bool(self.modelled_.all())
        self._single_regime = self.regimes_.centroids is None and len(self.regimes_.labels) == 1
        self._inverse_stds = 1.0 / self.regimes_.stds
        if self.drift_smoothing is not None:
            self._drift_step_matrix = self.drift_smoothing * self._drift_matrix
            self._drift_limit = float(self.drift_limit_[0])

    @property
    def last_flags(self) -> DataFlag:
        """The :class:`DataFlag` of the last sample given to :meth:`score_one`."""
        self._check_fitted()
        return DataFlag.NONE if self._stream is None else self._stream.flags

    def score_one(
        self, x: np.ndarray, *, regime: Any | None = None, timestamp: float | None = None
    ) -> float:
        """Score the next sample of a stream, keeping constant-size state between calls.

        Gives the same score as :meth:`score` on the whole stream; :attr:`last_flags` tells what
        was wrong with the sample's data.

        Args:
            x: One row of readings in training column order (NaN where missing).
            regime: The sample's regime key when the model was trained with keys.
            timestamp: The sample's time in seconds, to detect gaps.

        Returns:
            The anomaly score, NaN when the sample cannot be scored (see :attr:`last_flags`).
        """
        state = self.__dict__.get("_stream")
        if state is None:
            self.reset_stream()  # checks that the model is fitted
            state = self._stream
            assert state is not None
        x = np.asarray(x, dtype=float)
        if x.shape != state.last_x.shape:
            raise ParameterError(
                f"score_one expects {len(state.last_x)} readings; got shape {x.shape}."
            )
        # The common case (one regime, no NaN, nothing stuck) costs a few ufunc calls on
        # preallocated buffers; everything else takes the slower branches.
        flags = DataFlag.NONE
        normalizer = self.regimes_
        if self._single_regime:
            if regime is not None:
                raise ParameterError("This model has one regime; do not pass 'regime'.")
            k = 0
        else:
            k = int(normalizer.assign(x[None, :], None if regime is None else [regime])[0])
            if k < 0:
                flags |= DataFlag.UNSEEN_REGIME
        if timestamp is not None and self.sample_interval_:
            if (
                state.last_time is not None
                and timestamp - state.last_time > max(self.max_gap, 1) * self.sample_interval_
            ):
                flags |= DataFlag.GAP
                state.model = self._new_state()
            state.last_time = float(timestamp)
        total = float(np.add.reduce(x))
        if not math.isfinite(total):
            x = np.where(np.isinf(x), np.nan, x)

        z_full = state.z_full
        np.subtract(x, normalizer.means[max(k, 0)], out=z_full)
        np.multiply(z_full, self._inverse_stds[max(k, 0)], out=z_full)
        np.equal(x, state.last_x, out=state.equal)
        np.copyto(state.last_x, x)
        has_stuck = False
        if np.logical_or.reduce(state.equal):
            state.any_flat_run = True
            state.flat_run += 1
            state.flat_run *= state.equal
            np.subtract(state.flat_run, self.stuck_limit_, out=state.flat_margin)
            if np.maximum.reduce(state.flat_margin) >= 0:
                np.greater_equal(state.flat_margin, 0, out=state.stuck)
                state.stuck &= self.modelled_
                has_stuck = bool(state.stuck.any())
        elif state.any_flat_run:  # every reading moved: all flat runs end
            state.flat_run.fill(0)
            state.any_flat_run = False
        has_nan = total != total
        if has_nan or state.any_nan_run:
            np.isnan(x, out=state.nan)
            state.nan_run += 1
            state.nan_run *= state.nan
            state.any_nan_run = has_nan
        z = z_full if self._all_modelled else z_full[self.modelled_]
        unscorable = k < 0
        if has_nan or has_stuck:
            if not has_stuck:
                state.stuck[:] = False
            if not has_nan:
                state.nan[:] = False
            long_nan = state.nan_run > self.max_gap
            if (state.nan & long_nan).any():
                flags |= DataFlag.MISSING_SENSOR
            if (state.nan & ~long_nan).any():
                flags |= DataFlag.IMPUTED
            if has_stuck:
                flags |= DataFlag.STUCK
            excluded = (state.nan | state.stuck)[self.modelled_]
            z = z_full[self.modelled_]
            z[excluded] = np.nan
            fraction = excluded.mean()
            if fraction > self.max_excluded_fraction or fraction >= 1.0:
                flags |= DataFlag.NOT_SCORED
                unscorable = True
            else:
                self.imputer_.fill_one(z, excluded)
        if unscorable:
            z = np.zeros(int(self.modelled_.sum()))
        if self.drift_smoothing is not None:
            np.dot(z, self._drift_step_matrix, out=state.drift_step)
            state.drift *= 1.0 - self.drift_smoothing
            state.drift += state.drift_step
            np.abs(state.drift, out=state.drift_abs)
            if np.maximum.reduce(state.drift_abs) > self._drift_limit:
                flags |= DataFlag.DRIFT
        score = self._score_state(state.model, z)
        if unscorable:
            score = float("nan")
        elif score != score:
            flags |= DataFlag.WARMUP
        state.flags = flags
        return score

    # ------------------------------------------------------------------ subclass hooks
    def _fit_model(self, segments: list[np.ndarray]) -> None:
        raise NotImplementedError

    def _score_model(
        self, z: np.ndarray, starts: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        raise NotImplementedError

    def _new_state(self) -> Any:
        return None

    def _score_state(self, state: Any, z: np.ndarray) -> float:
        raise NotImplementedError


def _drifting(evidence: np.ndarray, limits: np.ndarray) -> np.ndarray:
    """Sensors past their drift limit that lead the row's drift evidence.

    ``evidence`` is each sensor's smoothed standardized residual given the others. A drifting
    sensor also pulls the residuals of the sensors correlated with it, but never above its own
    (for a precision matrix, ``|P_ij| <= sqrt(P_ii P_jj)``), so of the sensors past their limit
    only those within 80 % of the largest residual are named.
    """
    past = evidence > limits[None, :]
    peak = np.where(past, evidence, 0.0).max(axis=1, keepdims=True) if evidence.size else 0.0
    return past & (evidence >= 0.8 * peak)


def _exclude_contributions(
    contributions: np.ndarray, excluded: np.ndarray, scores: np.ndarray
) -> None:
    """Give excluded readings no share of the score; rescale the rest to add up to it."""
    if not excluded.any():
        return
    contributions[excluded] = 0.0
    total = contributions.sum(axis=1)
    rows = np.flatnonzero(excluded.any(axis=1) & (total > 0) & np.isfinite(scores))
    contributions[rows] *= (scores[rows] / total[rows])[:, None]


def _first(rows: int) -> np.ndarray:
    starts = np.zeros(rows, dtype=bool)
    if rows:
        starts[0] = True
    return starts


def _split_segments(z: np.ndarray, breaks: np.ndarray, gap_rows: np.ndarray) -> list[np.ndarray]:
    """Contiguous runs of complete rows, cut at incomplete rows and at time gaps."""
    keep = ~breaks
    label = np.cumsum(~keep)
    if gap_rows.size:
        cut = np.zeros(len(z), dtype=np.int64)
        cut[gap_rows] = 1
        label = label * (len(z) + 1) + np.cumsum(cut)
    segments: list[np.ndarray] = []
    if not keep.any():
        return segments
    rows = np.flatnonzero(keep)
    boundaries = np.flatnonzero(np.diff(label[rows]) != 0) + 1
    for block in np.split(rows, boundaries):
        segments.append(z[block])
    return segments


def segment_bounds(starts: np.ndarray) -> list[tuple[int, int]]:
    """``(begin, end)`` row ranges of the segments that ``starts`` opens."""
    begins = np.flatnonzero(starts).tolist()
    ends = begins[1:] + [len(starts)]
    return list(zip(begins, ends, strict=True))


__all__ = ["AnomalyModel", "ewma", "segment_bounds", "shrunk_covariance"]
