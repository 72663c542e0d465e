"""Process capability: Cp, Cpk, Pp, Ppk with confidence intervals.

``Cp`` and ``Cpk`` use the within (short-term) sigma, what the process can do when only common
causes act; ``Pp`` and ``Ppk`` use the overall sigma of the data, what it did. Intervals:

- ``Cp``, ``Pp``: exact, from the chi-square distribution of the variance
  (``Cp sqrt(chi2_{a/2, n-1} / (n-1))`` to ``Cp sqrt(chi2_{1-a/2, n-1} / (n-1))``);
- ``Cpk``, ``Ppk``: Bissell's normal approximation,
  ``Cpk -/+ z sqrt(1 / (9 n) + Cpk^2 / (2 (n - 1)))``.

With one specification limit only ``Cpk``/``Ppk`` (the one-sided index) exist; ``Cp``/``Pp`` are
None.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats

from factorybrain.engines.spc._charts import moving_range_sigma
from factorybrain.exceptions import EngineError, ParameterError


@dataclass(frozen=True)
class Capability:
    """Capability indices of one characteristic against its specification.

    Attributes:
        n: Values used.
        mean: Their mean.
        sigma_within: Short-term sigma (moving range, or as given).
        sigma_overall: Sample standard deviation.
        lower_spec, upper_spec: The specification limits (None: not given).
        cp, cp_low, cp_high: Potential capability and its interval (two limits only).
        cpk, cpk_low, cpk_high: Capability to the nearer limit and its interval.
        pp, pp_low, pp_high: Potential performance and its interval (two limits only).
        ppk, ppk_low, ppk_high: Performance to the nearer limit and its interval.
        confidence: Two-sided confidence of the intervals.
        out_of_spec: Values outside the specification.
    """

    n: int
    mean: float
    sigma_within: float
    sigma_overall: float
    lower_spec: float | None
    upper_spec: float | None
    cp: float | None
    cp_low: float | None
    cp_high: float | None
    cpk: float
    cpk_low: float
    cpk_high: float
    pp: float | None
    pp_low: float | None
    pp_high: float | None
    ppk: float
    ppk_low: float
    ppk_high: float
    confidence: float
    out_of_spec: int

    def dump(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return asdict(self)


def _spread_index(lower: float | None, upper: float | None, sigma: float) -> float | None:
    if lower is None or upper is None:
        return None
    return (upper - lower) / (6.0 * sigma)


def _nearer_index(mean: float, lower: float | None, upper: float | None, sigma: float) -> float:
    sides = []
    if upper is not None:
        sides.append((upper - mean) / (3.0 * sigma))
    if lower is not None:
        sides.append((mean - lower) / (3.0 * sigma))
    return min(sides)


def _chi_interval(value: float | None, n: int, alpha: float) -> tuple[float | None, float | None]:
    if value is None:
        return None, None
    dof = n - 1
    low = value * math.sqrt(stats.chi2.ppf(alpha / 2.0, dof) / dof)
    high = value * math.sqrt(stats.chi2.ppf(1.0 - alpha / 2.0, dof) / dof)
    return float(low), float(high)


def _bissell(value: float, n: int, alpha: float) -> tuple[float, float]:
    z = float(stats.norm.ppf(1.0 - alpha / 2.0))
    half = z * math.sqrt(1.0 / (9.0 * n) + value**2 / (2.0 * (n - 1)))
    return value - half, value + half


def capability(
    values: Any,
    lower_spec: float | None = None,
    upper_spec: float | None = None,
    *,
    sigma_within: float | None = None,
    confidence: float = 0.95,
) -> Capability:
    """Cp, Cpk, Pp and Ppk of values (in time order) against their specification.

    Args:
        values: Measurements in time order (the within sigma comes from consecutive ones).
        lower_spec: Lower specification limit (None: none).
        upper_spec: Upper specification limit (None: none).
        sigma_within: Short-term sigma to use (None: mean moving range / d2(2)).
        confidence: Two-sided confidence of the intervals, in (0, 1).

    Raises:
        ParameterError: No specification limit, limits in the wrong order, or a confidence
            outside (0, 1).
        EngineError: Fewer than 3 finite values, or no variation.
    """
    if lower_spec is None and upper_spec is None:
        raise ParameterError("capability needs a lower or an upper specification limit; got none")
    if lower_spec is not None and upper_spec is not None and not lower_spec < upper_spec:
        raise ParameterError(
            f"the lower specification limit must be below the upper; got {lower_spec} and "
            f"{upper_spec}"
        )
    if not 0.0 < confidence < 1.0:
        raise ParameterError(f"confidence must be in (0, 1); got {confidence}")
    x = np.asarray(values, dtype=float).ravel()
    x = x[np.isfinite(x)]
    if x.size < 3:
        raise EngineError(f"capability needs at least 3 finite values; got {x.size}")
    within = float(sigma_within) if sigma_within is not None else moving_range_sigma(x)
    overall = float(np.std(x, ddof=1))
    if not (within > 0 and overall > 0):
        raise EngineError(f"capability needs variation: all {x.size} values are {x[0]!r}")
    mean = float(x.mean())
    alpha = 1.0 - confidence
    n = int(x.size)
    cp = _spread_index(lower_spec, upper_spec, within)
    pp = _spread_index(lower_spec, upper_spec, overall)
    cpk = _nearer_index(mean, lower_spec, upper_spec, within)
    ppk = _nearer_index(mean, lower_spec, upper_spec, overall)
    outside = np.zeros(n, dtype=bool)
    if lower_spec is not None:
        outside |= x < lower_spec
    if upper_spec is not None:
        outside |= x > upper_spec
    return Capability(
        n,
        mean,
        within,
        overall,
        lower_spec,
        upper_spec,
        cp,
        *_chi_interval(cp, n, alpha),
        cpk,
        *_bissell(cpk, n, alpha),
        pp,
        *_chi_interval(pp, n, alpha),
        ppk,
        *_bissell(ppk, n, alpha),
        confidence,
        int(outside.sum()),
    )


__all__ = ["Capability", "capability"]
