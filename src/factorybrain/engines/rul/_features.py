"""Window features of one unit's standardised sensors, computed for every cycle at once.

Every feature at cycle ``t`` uses cycles ``0..t`` only, so the same code builds training rows (every
cycle of a run to failure) and the prediction row (the last cycle seen). Running sums make each
window O(cycles) whatever its length; windows longer than the history shrink to the history.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

#: Cycles at the start of a unit's history that define its own healthy baseline.
BASELINE_CYCLES = 10


def _window_sums(values: np.ndarray, window: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Return the running sum over the last ``window`` rows (all rows when None) and the count."""
    cycles = values.shape[0]
    cumulative = np.vstack([np.zeros((1, values.shape[1])), np.cumsum(values, axis=0)])
    end = np.arange(1, cycles + 1)
    start = np.zeros(cycles, dtype=int) if window is None else np.maximum(0, end - window)
    return cumulative[end] - cumulative[start], (end - start).astype(float)


def rolling_mean(values: np.ndarray, window: int | None) -> np.ndarray:
    """Mean over the last ``window`` rows at every row (expanding mean when ``window`` is None)."""
    total, count = _window_sums(values, window)
    return total / count[:, None]


def rolling_std(values: np.ndarray, window: int | None) -> np.ndarray:
    """Standard deviation over the last ``window`` rows (0 where one row only)."""
    mean = rolling_mean(values, window)
    mean_square = rolling_mean(values**2, window)
    return np.sqrt(np.maximum(mean_square - mean**2, 0.0))


def rolling_slope(values: np.ndarray, window: int | None) -> np.ndarray:
    """Least-squares slope per row over the last ``window`` rows (0 where one row only)."""
    cycles = values.shape[0]
    index = np.arange(cycles, dtype=float)[:, None]
    sum_x, count = _window_sums(values, window)
    sum_tx, _ = _window_sums(values * index, window)
    sum_t, _ = _window_sums(index, window)
    sum_tt, _ = _window_sums(index**2, window)
    count = count[:, None]
    denominator = count * sum_tt - sum_t**2
    numerator = count * sum_tx - sum_t * sum_x
    return np.where(
        denominator > 1e-9, numerator / np.where(denominator > 1e-9, denominator, 1.0), 0.0
    )


def ewma(values: np.ndarray, span: int) -> np.ndarray:
    """Exponentially weighted moving average, started at the first row."""
    alpha = 2.0 / (span + 1.0)
    initial = (1.0 - alpha) * values[:1]
    smoothed, _ = lfilter([alpha], [1.0, alpha - 1.0], values, axis=0, zi=initial)
    return smoothed


def feature_names(
    sensors: list[str], windows: tuple[int, ...], spans: tuple[int, ...]
) -> list[str]:
    """Names of the columns :func:`unit_features` returns, in order."""
    names = ["cycles_observed"]
    for sensor in sensors:
        names.append(f"{sensor}__last")
        names += [f"{sensor}__mean_{w}" for w in windows]
        names += [f"{sensor}__slope_{w}" for w in windows if w >= 5]
        names += [f"{sensor}__ewma_{s}" for s in spans]
        names += [
            f"{sensor}__mean_all",
            f"{sensor}__std_all",
            f"{sensor}__slope_all",
            f"{sensor}__drift_from_start",
        ]
    return names


def unit_features(
    values: np.ndarray, windows: tuple[int, ...], spans: tuple[int, ...]
) -> np.ndarray:
    """Features of one unit at every cycle.

    Args:
        values: Standardised sensors of one unit, cycles x sensors, no NaN.
        windows: Rolling window lengths in cycles (means; slopes for windows of 5 or more).
        spans: EWMA spans in cycles.

    Returns:
        Array cycles x features, columns as in :func:`feature_names`.
    """
    cycles, sensors = values.shape
    blocks: list[np.ndarray] = [np.arange(1, cycles + 1, dtype=float)[:, None]]
    per_sensor: list[np.ndarray] = [values]
    per_sensor += [rolling_mean(values, w) for w in windows]
    per_sensor += [rolling_slope(values, w) for w in windows if w >= 5]
    smoothed = [ewma(values, s) for s in spans]
    per_sensor += smoothed
    baseline = rolling_mean(values, None)[np.minimum(np.arange(cycles), BASELINE_CYCLES - 1)]
    per_sensor += [
        rolling_mean(values, None),
        rolling_std(values, None),
        rolling_slope(values, None),
        (smoothed[0] if smoothed else values) - baseline,
    ]
    stacked = np.stack(per_sensor, axis=2)  # cycles x sensors x kinds
    blocks.append(stacked.reshape(cycles, sensors * stacked.shape[2]))
    return np.hstack(blocks)
