"""Extra sections of ``factorybrain status``, contributed by the layers that own them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

StatusSection = Callable[[Any], dict[str, Any]]
_SECTIONS: list[StatusSection] = []


def register(section: StatusSection) -> StatusSection:
    """Add a section to ``status``; it receives the store and returns named tables or values."""
    _SECTIONS.append(section)
    return section


def collect(store: Any) -> dict[str, Any]:
    """Run every registered section against ``store``."""
    result: dict[str, Any] = {}
    for section in _SECTIONS:
        result.update(section(store))
    return result
