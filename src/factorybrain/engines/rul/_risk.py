"""From a remaining-life interval to the numbers planners act on.

A prediction ``(point, lower, upper)`` with central coverage ``c`` is read as three quantiles of the
remaining life: ``lower`` at ``(1 - c) / 2``, ``point`` at 0.5 and ``upper`` at ``(1 + c) / 2``.
Between them the distribution is a two-piece normal (one spread below the point, one above), which
matches all three quantiles exactly and keeps skewed intervals skewed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from factorybrain.exceptions import ParameterError


def _spreads(
    point: Any, lower: Any, upper: Any, coverage: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not 0.0 < coverage < 1.0:
        raise ParameterError(f"coverage must be a float in (0, 1). Got {coverage!r} instead.")
    point_array = np.asarray(point, dtype=float)
    lower_array = np.asarray(lower, dtype=float)
    upper_array = np.asarray(upper, dtype=float)
    if np.any(lower_array > point_array + 1e-9) or np.any(upper_array < point_array - 1e-9):
        raise ParameterError(
            "An RUL interval must satisfy lower <= point <= upper. "
            f"Got lower={lower!r}, point={point!r}, upper={upper!r} instead."
        )
    z = float(norm.ppf(0.5 + coverage / 2.0))
    below = np.maximum(point_array - lower_array, 1e-9) / z
    above = np.maximum(upper_array - point_array, 1e-9) / z
    return point_array, below, above


def failure_probability(
    point: Any, lower: Any, upper: Any, horizon: Any, *, coverage: float = 0.9
) -> np.ndarray | float:
    """Probability that a unit fails within ``horizon`` given its remaining-life interval.

    Args:
        point: Predicted remaining life (the median), a number or an array.
        lower: Lower end of the central ``coverage`` interval, same shape.
        upper: Upper end of the interval, same shape.
        horizon: Time from the last observation, in the same unit as the prediction (cycles, or
            hours for datetime data); broadcasts against ``point``.
        coverage: Central coverage of ``[lower, upper]`` (0.9 for a 90 % interval).

    Returns:
        ``P(remaining life <= horizon)``, a float for scalar inputs, else an array.

    Example:
        >>> round(float(failure_probability(50.0, 30.0, 70.0, 50.0)), 2)
        0.5
    """
    center, below, above = _spreads(point, lower, upper, coverage)
    horizon_array = np.asarray(horizon, dtype=float)
    spread = np.where(horizon_array < center, below, above)
    probability = norm.cdf((horizon_array - center) / spread)
    probability = np.where(horizon_array < 0, 0.0, probability)
    return float(probability) if probability.ndim == 0 else probability


def safe_horizon(
    point: Any, lower: Any, upper: Any, *, risk: float, coverage: float = 0.9
) -> np.ndarray | float:
    """Longest time from the last observation at which the failure probability stays <= ``risk``.

    Args:
        point: Predicted remaining life (the median).
        lower: Lower end of the central ``coverage`` interval.
        upper: Upper end of the interval.
        risk: Accepted probability of failing before the maintenance, in (0, 1).
        coverage: Central coverage of ``[lower, upper]``.

    Returns:
        Time (same unit as the prediction), 0 when the risk is already exceeded now.
    """
    if not 0.0 < risk < 1.0:
        raise ParameterError(f"risk must be a float in (0, 1). Got {risk!r} instead.")
    center, below, above = _spreads(point, lower, upper, coverage)
    z = float(norm.ppf(risk))
    horizon = np.maximum(center + z * np.where(z < 0, below, above), 0.0)
    return float(horizon) if horizon.ndim == 0 else horizon


def latest_safe_date(
    point: float,
    lower: float,
    upper: float,
    *,
    last_observation: datetime | pd.Timestamp,
    time_per_unit: timedelta | pd.Timedelta,
    risk: float = 0.05,
    coverage: float = 0.9,
) -> pd.Timestamp:
    """Latest date to maintain a unit so that it fails first with probability at most ``risk``.

    Args:
        point: Predicted remaining life (the median), in prediction units (cycles or hours).
        lower: Lower end of the central ``coverage`` interval.
        upper: Upper end of the interval.
        last_observation: When the prediction's last observation was taken.
        time_per_unit: Duration of one prediction unit (for example ``timedelta(hours=8)`` per
            cycle, or ``timedelta(hours=1)`` for data with datetime timestamps).
        risk: Accepted probability of failing before the maintenance.
        coverage: Central coverage of ``[lower, upper]``.

    Returns:
        The latest safe maintenance date, to the second; ``last_observation`` itself when the
        risk is already exceeded (maintain now).

    Example:
        >>> latest_safe_date(60.0, 40.0, 80.0, last_observation=datetime(2026, 1, 1),
        ...                  time_per_unit=timedelta(hours=1), risk=0.05)
        Timestamp('2026-01-02 16:00:00')
    """
    horizon = float(safe_horizon(point, lower, upper, risk=risk, coverage=coverage))
    return (pd.Timestamp(last_observation) + horizon * pd.Timedelta(time_per_unit)).round("s")
