"""Multivariate anomaly detection: PCA T-squared/Q, isolation forest, a dynamic monitor.

Every model follows the engine contract, standardizes per operating regime, handles dirty data
(NaN, gaps, stuck and drifting sensors, a missing sensor, an unseen regime) with explicit
:class:`DataFlag` values, scores in batch or one sample at a time, and attributes each score to
the sensors that drive it. :class:`AlarmLogic` adds persistence and hysteresis on top.

Example:
    >>> import numpy as np
    >>> from factorybrain.engines.anomaly import DynamicAnomalyModel
    >>> normal = np.random.default_rng(0).normal(size=(500, 5))
    >>> model = DynamicAnomalyModel().fit(normal)
    >>> result = model.score(normal[:50])
    >>> bool(result.is_anomaly.mean() < 0.2)
    True
"""

from __future__ import annotations

from factorybrain.engines.anomaly._alarm import AlarmLogic
from factorybrain.engines.anomaly._calibration import calibrate_threshold
from factorybrain.engines.anomaly._dynamic import STATISTICS, DynamicAnomalyModel
from factorybrain.engines.anomaly._flags import DataFlag
from factorybrain.engines.anomaly._isolation import IsolationForestModel
from factorybrain.engines.anomaly._model import AnomalyModel
from factorybrain.engines.anomaly._pca import PCAAnomalyModel
from factorybrain.engines.anomaly._result import AnomalyResult

__all__ = [
    "AlarmLogic",
    "AnomalyModel",
    "AnomalyResult",
    "DataFlag",
    "DynamicAnomalyModel",
    "IsolationForestModel",
    "PCAAnomalyModel",
    "STATISTICS",
    "calibrate_threshold",
]
