"""Remaining useful life: regime-normalised window features, boosted trees, calibrated intervals."""

from __future__ import annotations

from factorybrain.engines.rul._model import RULFallbackWarning, RULModel, nasa_score
from factorybrain.engines.rul._registry import list_versions, load_model, save_model
from factorybrain.engines.rul._risk import failure_probability, latest_safe_date, safe_horizon

__all__ = [
    "RULFallbackWarning",
    "RULModel",
    "failure_probability",
    "latest_safe_date",
    "list_versions",
    "load_model",
    "nasa_score",
    "safe_horizon",
    "save_model",
]
