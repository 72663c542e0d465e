"""Warnings the forecast and inventory engines raise when they fall back on a documented default.

A warning, never an exception, and never a silent zero: each one names the series, what was wrong
with its data and what the engine did instead.
"""

from __future__ import annotations

import warnings


class FactorybrainWarning(UserWarning):
    """Base of every warning factorybrain raises on purpose."""


class DataQualityWarning(FactorybrainWarning):
    """The data were usable only after a documented repair or fallback."""


def warn_fallback(message: str, *, stacklevel: int = 3) -> None:
    """Emit a :class:`DataQualityWarning` with ``message``."""
    warnings.warn(message, DataQualityWarning, stacklevel=stacklevel)


def describe_ids(ids: list[str], limit: int = 5) -> str:
    """Return a short readable list of series ids (the first ``limit`` and a count)."""
    shown = ", ".join(repr(i) for i in ids[:limit])
    more = len(ids) - limit
    return f"{shown} and {more} more" if more > 0 else shown
