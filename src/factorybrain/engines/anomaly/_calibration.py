"""Threshold calibration on anomaly-free data."""

from __future__ import annotations

import numpy as np

from factorybrain.exceptions import EngineError, ParameterError


def calibrate_threshold(scores: np.ndarray, target_false_alarm_rate: float) -> float:
    """Return the score threshold that flags ``target_false_alarm_rate`` of normal scores.

    The threshold is the empirical ``1 - target_false_alarm_rate`` quantile of scores computed on
    data known to be normal (NaN scores are ignored), taken with the ``"higher"`` method so that at
    most the target fraction of the calibration scores lie strictly above it.

    Args:
        scores: Anomaly scores of normal data, higher meaning more anomalous.
        target_false_alarm_rate: Wanted fraction of normal samples above the threshold, in (0, 0.5].

    Returns:
        The threshold; a sample is anomalous when its score is strictly greater.

    Raises:
        ParameterError: If the rate is out of range.
        EngineError: If fewer than 10 finite scores are given.

    Example:
        >>> calibrate_threshold(np.arange(100.0), 0.05)
        95.0
    """
    if isinstance(target_false_alarm_rate, bool) or not (
        isinstance(target_false_alarm_rate, int | float) and 0 < target_false_alarm_rate <= 0.5
    ):
        raise ParameterError(
            "The 'target_false_alarm_rate' must be a float in (0, 0.5]. "
            f"Got {target_false_alarm_rate!r} instead."
        )
    finite = np.asarray(scores, dtype=float).ravel()
    finite = finite[np.isfinite(finite)]
    if finite.size < 10:
        raise EngineError(
            "Threshold calibration needs at least 10 finite scores of normal data; "
            f"got {finite.size}."
        )
    return float(np.quantile(finite, 1.0 - target_false_alarm_rate, method="higher"))


__all__ = ["calibrate_threshold"]
