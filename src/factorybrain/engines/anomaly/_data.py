"""Input handling shared by the anomaly models: tables, run lengths, regimes, imputation."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from factorybrain.exceptions import EngineError, ParameterError


def as_matrix(
    data: Any, sensor_names: Sequence[str] | None, expected: Sequence[str] | None = None
) -> tuple[np.ndarray, tuple[str, ...], list[str]]:
    """Return ``(values, names, absent)`` for a DataFrame or a 2-D array.

    With ``expected`` (scoring), DataFrame columns are picked by name and an absent sensor becomes
    an all-NaN column listed in ``absent``; an array must have exactly ``len(expected)`` columns.
    """
    if isinstance(data, pd.DataFrame):
        if expected is None:
            names = tuple(str(c) for c in data.columns)
            text = [str(c) for c in data.columns if not pd.api.types.is_numeric_dtype(data[c])]
            if text:
                raise ParameterError(
                    f"Sensor columns must be numeric; {text} are not. Drop time stamps and labels "
                    "before fitting (pass times as 'timestamps')."
                )
            values = data.to_numpy(dtype=float, na_value=np.nan)
            return _check_2d(values), names, []
        columns = {str(c): c for c in data.columns}
        absent = [name for name in expected if name not in columns]
        values = np.full((len(data), len(expected)), np.nan)
        for j, name in enumerate(expected):
            if name in columns:
                values[:, j] = pd.to_numeric(data[columns[name]], errors="coerce").to_numpy(
                    dtype=float, na_value=np.nan
                )
        return values, tuple(expected), absent
    try:
        values = np.asarray(data, dtype=float)
    except (TypeError, ValueError) as error:
        raise ParameterError(
            f"Sensor data must be a DataFrame or a numeric 2-D array; got {type(data).__name__} "
            f"that cannot be read as numbers ({error})."
        ) from error
    values = _check_2d(values)
    if expected is not None:
        if values.shape[1] != len(expected):
            raise ParameterError(
                f"Sensor data must have {len(expected)} columns ({', '.join(expected)}); "
                f"got {values.shape[1]}. Pass a DataFrame to score with a sensor missing."
            )
        return values, tuple(expected), []
    if sensor_names is None:
        names = tuple(f"sensor_{j}" for j in range(values.shape[1]))
    else:
        names = tuple(str(n) for n in sensor_names)
        if len(names) != values.shape[1]:
            raise ParameterError(
                f"'sensor_names' has {len(names)} names but the data has {values.shape[1]} columns."
            )
    return values, names, []


def _check_2d(values: np.ndarray) -> np.ndarray:
    if values.ndim != 2:
        raise ParameterError(
            f"Sensor data must be 2-D (rows x sensors); got an array of shape {values.shape}."
        )
    if np.isinf(values).any():
        values = np.where(np.isinf(values), np.nan, values)
    return values


def run_lengths(mask: np.ndarray, initial: np.ndarray | None = None) -> np.ndarray:
    """Length of the run of True ending at each row, per column (0 where False).

    Args:
        mask: Boolean array ``(rows, columns)``.
        initial: Run length carried in from before the first row, per column.
    """
    counts = np.cumsum(mask, axis=0, dtype=np.int64)
    resets = np.where(mask, 0, counts)
    runs = counts - np.maximum.accumulate(resets, axis=0)
    if initial is not None:
        unbroken = runs == np.arange(1, len(mask) + 1)[:, None]
        runs = runs + np.where(unbroken, initial[None, :], 0)
    return runs


def to_seconds(timestamps: Any, rows: int) -> np.ndarray:
    """Timestamps (datetimes or numbers) as float seconds, checked against the row count."""
    stamps = np.asarray(timestamps)
    if stamps.shape != (rows,):
        raise ParameterError(
            f"'timestamps' must have one entry per row ({rows}); got shape {stamps.shape}."
        )
    if np.issubdtype(stamps.dtype, np.datetime64) or stamps.dtype == object:
        try:
            stamps = pd.to_datetime(stamps, utc=True).to_numpy("datetime64[ns]")
        except (TypeError, ValueError) as error:
            raise ParameterError(f"'timestamps' cannot be read as times: {error}.") from error
        return stamps.astype(np.int64) / 1e9
    return stamps.astype(float)


class ConditionalImputer:
    """Replace missing standardized readings by their expectation given the observed ones.

    Under the Gaussian model of the training data, ``E[z_M | z_O] = C_MO C_OO^-1 z_O``. The gain
    matrix of each missing-sensor pattern is computed once and cached.
    """

    def __init__(self, covariance: np.ndarray) -> None:
        self.covariance = covariance
        self._gains: dict[bytes, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def gain(self, missing: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return ``(missing_index, observed_index, gain)`` for a boolean missing mask."""
        key = missing.tobytes()
        cached = self._gains.get(key)
        if cached is None:
            miss = np.flatnonzero(missing)
            obs = np.flatnonzero(~missing)
            if obs.size == 0:
                gain = np.zeros((miss.size, 0))
            else:
                c_oo = self.covariance[np.ix_(obs, obs)]
                c_mo = self.covariance[np.ix_(miss, obs)]
                gain = np.linalg.solve(c_oo, c_mo.T).T
            if len(self._gains) > 1024:
                self._gains.clear()
            cached = (miss, obs, gain)
            self._gains[key] = cached
        return cached

    def fill(self, z: np.ndarray) -> None:
        """Impute the NaN entries of ``z`` (rows x sensors) in place."""
        missing = np.isnan(z)
        rows = np.flatnonzero(missing.any(axis=1))
        if rows.size == 0:
            return
        patterns, inverse = np.unique(missing[rows], axis=0, return_inverse=True)
        for index, pattern in enumerate(patterns):
            members = rows[inverse.ravel() == index]
            miss, obs, gain = self.gain(pattern)
            block = z[np.ix_(members, obs)]
            z[np.ix_(members, miss)] = block @ gain.T

    def fill_one(self, z: np.ndarray, missing: np.ndarray) -> None:
        """Impute the entries of one row ``z`` flagged in ``missing``, in place."""
        miss, obs, gain = self.gain(missing)
        z[miss] = gain @ z[obs]


class RegimeNormalizer:
    """Per-regime mean and standard deviation, from given regime keys or from clustering.

    A regime key never seen in training, or a point far from every cluster of the training data,
    maps to regime ``-1`` (unseen).
    """

    def __init__(self, n_regimes: int, columns: np.ndarray | None, random_state: int = 0) -> None:
        self.n_regimes = n_regimes
        self.columns = columns
        self.random_state = random_state
        self.labels: list[Hashable] = []
        self.means = np.empty((0, 0))
        self.stds = np.empty((0, 0))
        self.centroids: np.ndarray | None = None
        self.radius: np.ndarray | None = None
        self.cluster_scale: np.ndarray | None = None

    def fit(self, values: np.ndarray, regimes: Any | None) -> np.ndarray:
        """Learn the regimes; return the regime index of each training row."""
        rows = len(values)
        if regimes is not None:
            keys = np.asarray(regimes, dtype=object)
            if keys.shape != (rows,):
                raise ParameterError(
                    f"'regimes' must have one key per row ({rows}); got shape {keys.shape}."
                )
            self.labels = list(dict.fromkeys(keys.tolist()))
            lookup = {label: i for i, label in enumerate(self.labels)}
            index = np.fromiter((lookup[k] for k in keys.tolist()), dtype=np.int64, count=rows)
        elif self.n_regimes > 1:
            from sklearn.cluster import KMeans

            block = self._cluster_block(values, fit=True)
            complete = ~np.isnan(block).any(axis=1)
            kmeans = KMeans(n_clusters=self.n_regimes, n_init=10, random_state=self.random_state)
            kmeans.fit(block[complete])
            self.centroids = kmeans.cluster_centers_
            index = np.full(rows, 0, dtype=np.int64)
            index[complete] = kmeans.labels_
            distance = np.linalg.norm(block[complete] - self.centroids[kmeans.labels_], axis=1)
            self.radius = np.array(
                [
                    1.5 * np.quantile(distance[kmeans.labels_ == k], 0.99) + 1e-9
                    if np.any(kmeans.labels_ == k)
                    else 0.0
                    for k in range(self.n_regimes)
                ]
            )
            self.labels = list(range(self.n_regimes))
        else:
            self.labels = [None]
            index = np.zeros(rows, dtype=np.int64)
        self.means = np.empty((len(self.labels), values.shape[1]))
        self.stds = np.empty_like(self.means)
        for k, label in enumerate(self.labels):
            block = values[index == k]
            if np.sum(np.isfinite(block).all(axis=1)) < 3:
                raise EngineError(
                    f"Regime {label!r} has fewer than 3 complete training rows; "
                    "merge it with another or train with more data."
                )
            self.means[k] = np.nanmean(block, axis=0)
            self.stds[k] = np.nanstd(block, axis=0, ddof=1)
        return index

    def _cluster_block(self, values: np.ndarray, fit: bool = False) -> np.ndarray:
        block = values if self.columns is None else values[:, self.columns]
        if fit:
            scale = np.nanstd(block, axis=0)
            self.cluster_scale = np.where(scale > 0, scale, 1.0)
        assert self.cluster_scale is not None
        return block / self.cluster_scale

    def assign(self, values: np.ndarray, regimes: Any | None) -> np.ndarray:
        """Regime index per row; -1 where the regime was never seen in training."""
        rows = len(values)
        if regimes is not None:
            if self.centroids is not None or self.labels == [None]:
                raise ParameterError(
                    "This model was trained without regime keys; do not pass 'regimes'."
                )
            keys = np.asarray(regimes, dtype=object)
            if keys.shape != (rows,):
                raise ParameterError(
                    f"'regimes' must have one key per row ({rows}); got shape {keys.shape}."
                )
            lookup = {label: i for i, label in enumerate(self.labels)}
            return np.fromiter((lookup.get(k, -1) for k in keys.tolist()), np.int64, count=rows)
        if self.centroids is None:
            if self.labels != [None]:
                raise ParameterError(
                    "This model was trained with regime keys; pass 'regimes' when scoring."
                )
            return np.zeros(rows, dtype=np.int64)
        assert self.radius is not None
        block = self._cluster_block(values)
        distance = np.linalg.norm(block[:, None, :] - self.centroids[None, :, :], axis=2)
        distance = np.where(np.isnan(distance), np.inf, distance)
        index = np.argmin(distance, axis=1)
        far = distance[np.arange(rows), index] > self.radius[index]
        return np.where(far, -1, index)


__all__ = ["ConditionalImputer", "RegimeNormalizer", "as_matrix", "run_lengths", "to_seconds"]
