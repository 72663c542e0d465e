"""Control-chart constants for subgroups of normal data: ``d2``, ``d3`` and what follows from them.

``d2(n)`` is the mean of the range of ``n`` standard normal values and ``d3(n)`` its standard
deviation, computed by numerical integration (the textbook tables round them to three or four
digits; these agree). ``A2 = 3 / (d2 sqrt(n))``, ``D3 = max(0, 1 - 3 d3 / d2)``,
``D4 = 1 + 3 d3 / d2``.
"""

from __future__ import annotations

import math
from functools import lru_cache

from scipy import integrate, stats

from factorybrain.exceptions import ParameterError


def _check(n: int) -> None:
    if not isinstance(n, int) or isinstance(n, bool) or n < 2:
        raise ParameterError(f"a subgroup needs at least 2 values; got a subgroup size of {n!r}")


@lru_cache(maxsize=64)
def d2(n: int) -> float:
    """Mean range of ``n`` standard normal values (1.128 for ``n = 2``)."""
    _check(n)
    cdf = stats.norm.cdf

    def integrand(x: float) -> float:
        p = float(cdf(x))
        return 1.0 - p**n - (1.0 - p) ** n

    value, _ = integrate.quad(integrand, -12.0, 12.0, limit=200)
    return float(value)


@lru_cache(maxsize=64)
def d3(n: int) -> float:
    """Standard deviation of the range of ``n`` standard normal values (0.853 for ``n = 2``)."""
    _check(n)
    cdf = stats.norm.cdf

    # E[R^2] = 2 * integral over x < y of P(min <= x, max > y) complement terms (Tippett)
    def inner(y: float, x: float) -> float:
        fx, fy = float(cdf(x)), float(cdf(y))
        return 1.0 - fy**n - (1.0 - fx) ** n + (fy - fx) ** n

    second, _ = integrate.dblquad(inner, -10.0, 10.0, lambda x: x, lambda x: 10.0)
    variance = 2.0 * second - d2(n) ** 2
    return float(math.sqrt(max(variance, 0.0)))


def a2(n: int) -> float:
    """X-bar chart factor: limits are ``grand mean +/- A2 * mean range``."""
    return 3.0 / (d2(n) * math.sqrt(n))


def d3_lower(n: int) -> float:
    """R chart lower factor ``D3`` (0 for subgroups of 6 or fewer)."""
    return max(0.0, 1.0 - 3.0 * d3(n) / d2(n))


def d4_upper(n: int) -> float:
    """R chart upper factor ``D4`` (3.267 for ``n = 2``)."""
    return 1.0 + 3.0 * d3(n) / d2(n)


__all__ = ["a2", "d2", "d3", "d3_lower", "d4_upper"]
