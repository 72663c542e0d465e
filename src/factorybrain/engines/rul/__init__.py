"""Remaining useful life: regime-normalised window features, boosted trees, calibrated intervals."""

from __future__ import annotations

from factorybrain.engines.rul._model import RULFallbackWarning, RULModel, nasa_score
from factorybrain.engines.rul._risk import failure_probability, latest_safe_date, safe_horizon

__all__ = [
    "RULFallbackWarning",
    "RULModel",
    "failure_probability",
    "latest_safe_date",
    "nasa_score",
    "safe_horizon",
]
