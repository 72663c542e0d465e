"""Scaled forecast errors: RMSSE (M5 competition), MASE (Hyndman and Koehler 2006) and MAE."""

from __future__ import annotations

import numpy as np


def _scaled(errors: np.ndarray, scale: np.ndarray) -> np.ndarray:
    keep = scale > 0
    return errors[keep] / scale[keep]


def rmsse(train: np.ndarray, actual: np.ndarray, forecast: np.ndarray) -> float:
    """Mean over series of the RMSE divided by the in-sample RMSE of the naive forecast.

    Args:
        train: ``(n_series, n_train)`` history used for the scale.
        actual: ``(n_series, horizon)`` outcomes.
        forecast: ``(n_series, horizon)`` forecasts.

    Returns:
        The mean RMSSE over series with a non-zero scale (series whose history never changes
        have no scale and are left out).
    """
    scale = np.sqrt(np.mean(np.diff(train, axis=1) ** 2, axis=1))
    errors = np.sqrt(np.mean((np.asarray(actual) - np.asarray(forecast)) ** 2, axis=1))
    return float(np.mean(_scaled(errors, scale)))


def mase(train: np.ndarray, actual: np.ndarray, forecast: np.ndarray) -> float:
    """Mean over series of the MAE divided by the in-sample MAE of the naive forecast."""
    scale = np.mean(np.abs(np.diff(train, axis=1)), axis=1)
    errors = np.mean(np.abs(np.asarray(actual) - np.asarray(forecast)), axis=1)
    return float(np.mean(_scaled(errors, scale)))


def mae(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Mean absolute error over all series and periods."""
    return float(np.mean(np.abs(np.asarray(actual) - np.asarray(forecast))))
