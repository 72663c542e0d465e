"""Engines: anomaly, rul, spc, quality, optimize, schedule, oee, forecast, inventory, reliability.

Each engine follows the contract of :mod:`factorybrain.engines._base`.
"""

from __future__ import annotations

from factorybrain.engines._base import Engine, InstanceOf, Interval, Options

__all__ = [
    "Engine",
    "InstanceOf",
    "Interval",
    "Options",
]
