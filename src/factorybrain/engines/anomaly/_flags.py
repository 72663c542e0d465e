"""Data-quality flags attached to every scored row and sensor."""

from __future__ import annotations

import enum


class DataFlag(enum.IntFlag):
    """Why a row or a sensor reading cannot be taken at face value.

    Flags combine (``DataFlag.IMPUTED | DataFlag.STUCK``). A row with any flag is never reported as
    plainly normal: :attr:`AnomalyResult.status` says ``"flagged"`` or ``"unscored"`` for it.
    """

    NONE = 0
    IMPUTED = 1
    """A reading was missing (NaN) and was replaced by its expectation given the other sensors."""
    MISSING_SENSOR = 2
    """A sensor is absent, or NaN for longer than ``max_gap`` samples; it was excluded."""
    STUCK = 4
    """A sensor repeated the same value for longer than it ever did in training; it was excluded."""
    DRIFT = 8
    """A sensor disagrees persistently with what the other sensors imply (slow drift)."""
    UNSEEN_REGIME = 16
    """The operating regime was never seen in training; the row is not scored."""
    GAP = 32
    """Time jumped by more than ``max_gap`` sampling intervals before this row; state restarted."""
    WARMUP = 64
    """Too little history since the start or a gap for a dynamic model to score this row."""
    NOT_SCORED = 128
    """Too many sensors were excluded to score the row at all."""


__all__ = ["DataFlag"]
