"""Demand forecasting: Syntetos-Boylan classification, model choice, quantiles, lead-time demand."""

from __future__ import annotations

from factorybrain.engines.forecast._classify import DemandProfile, classify_demand
from factorybrain.engines.forecast._engine import DemandForecaster
from factorybrain.engines.forecast._metrics import mae, mase, rmsse
from factorybrain.engines.forecast._warnings import DataQualityWarning, FactorybrainWarning

__all__ = [
    "DataQualityWarning",
    "DemandForecaster",
    "DemandProfile",
    "FactorybrainWarning",
    "classify_demand",
    "mae",
    "mase",
    "rmsse",
]
