"""Remaining useful life: regime-normalised window features, boosted trees, calibrated intervals.

A unit is one life of one machine: from new, or from its last maintenance, to its failure. Train on
finished lives, predict for running ones, turn the interval into risk::

    from factorybrain.engines.rul import RULModel, failure_probability, latest_safe_date, save_model

    model = RULModel().fit(history, unit="unit", time="cycle")      # settings/sensors found by name
    now = model.predict(running)                                    # one row per unit
    row = now.iloc[0]
    p_30 = failure_probability(row.rul, row.lower, row.upper, horizon=30)
    due = latest_safe_date(row.rul, row.lower, row.upper, last_observation=last_seen,
                           time_per_unit=timedelta(hours=8), risk=0.05)
    save_model(model, "models", "turbofan")                           # models/turbofan/v1.joblib

``now["flags"]`` says what was imputed, stuck, missing or unseen: a flagged prediction is never
silently normal. Read the flags column with brackets (``DataFrame.flags`` is a pandas attribute).
"""

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
