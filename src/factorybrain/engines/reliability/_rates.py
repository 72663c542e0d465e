"""Claim rates with exposure: the fleet's baseline hazard, expected claims and rate ratios.

A unit's exposure is not only how long it has been in the field: field hazards change with age
(wear-out raises them), so a cohort built early, with older units, would out-claim a younger one
of the same quality. The **expected** claims of a unit are the fleet's cumulative hazard at its
time in service (Nelson-Aalen over every unit, censored ones included); a cohort's observed claims
are compared with its expected claims, and with the rest of the fleet's observed over expected
(an age-standardised rate ratio). Crude rates per 1000 unit-years are reported beside it for
people to read.

The comparison of two Poisson counts with known expectations is exact: given the total, the
cohort's count is binomial with probability ``E_in * RR / (E_in * RR + E_out)``, so the one-sided
p-value and the Clopper-Pearson interval of that probability give the test and the interval of
the rate ratio.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from factorybrain.exceptions import EngineError

DAYS_PER_YEAR = 365.25


def cumulative_hazard(ages: np.ndarray, failed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nelson-Aalen cumulative hazard of a fleet: ``(event ages, H at each)``.

    Args:
        ages: Time in service of each unit (to its failure, or to now).
        failed: Whether each unit failed at its age.
    """
    ages = np.asarray(ages, dtype=float)
    failed = np.asarray(failed, dtype=bool)
    if ages.shape != failed.shape:
        raise EngineError(
            f"ages and failed must have the same length; got {ages.size} and {failed.size}"
        )
    order = np.sort(ages)
    times, deaths = np.unique(ages[failed], return_counts=True)
    at_risk = ages.size - np.searchsorted(order, times, side="left")
    increments = deaths / np.maximum(at_risk, 1)
    return times, np.cumsum(increments)


def expected_claims(ages: np.ndarray, failed: np.ndarray) -> np.ndarray:
    """Each unit's expected claims so far: the fleet's cumulative hazard at its age."""
    times, hazard = cumulative_hazard(ages, failed)
    if times.size == 0:
        return np.zeros(np.asarray(ages).size)
    index = np.searchsorted(times, np.asarray(ages, dtype=float), side="right") - 1
    return np.where(index >= 0, hazard[np.maximum(index, 0)], 0.0)


@dataclass(frozen=True)
class RateComparison:
    """A cohort against the rest of the fleet.

    Attributes:
        rate_ratio: Observed over expected in the cohort, divided by the same in the rest.
        low: Lower end of its interval.
        high: Upper end (``inf`` when the rest has no claims).
        p_value: One-sided exact p-value of "the cohort claims no more than the rest".
    """

    rate_ratio: float
    low: float
    high: float
    p_value: float


def compare_rates(
    observed_in: float,
    expected_in: float,
    observed_out: float,
    expected_out: float,
    *,
    confidence: float = 0.95,
) -> RateComparison:
    """Exact conditional comparison of a cohort's claims with the rest's (see the module).

    Args:
        observed_in: Claims in the cohort.
        expected_in: Expected claims in the cohort (its exposure).
        observed_out: Claims in the rest.
        expected_out: Expected claims in the rest.
        confidence: Two-sided confidence of the interval.

    Example:
        >>> round(compare_rates(30, 10, 100, 100).rate_ratio, 1)
        3.0
    """
    if expected_in <= 0 or expected_out <= 0:
        return RateComparison(float("nan"), float("nan"), float("nan"), 1.0)
    total = int(round(observed_in + observed_out))
    hits = int(round(observed_in))
    share = expected_in / (expected_in + expected_out)
    p_value = float(stats.binom.sf(hits - 1, total, share)) if total else 1.0
    odds = expected_out / expected_in
    ratio = (
        (observed_in / expected_in) / (observed_out / expected_out) if observed_out else math.inf
    )
    tail = (1.0 - confidence) / 2.0
    low_p = float(stats.beta.ppf(tail, hits, total - hits + 1)) if hits > 0 else 0.0
    high_p = float(stats.beta.ppf(1.0 - tail, hits + 1, total - hits)) if hits < total else 1.0

    def to_ratio(probability: float) -> float:
        return math.inf if probability >= 1.0 else probability / (1.0 - probability) * odds

    return RateComparison(float(ratio), to_ratio(low_p), to_ratio(high_p), p_value)


def compare_rates_many(
    observed_in: np.ndarray,
    expected_in: np.ndarray,
    observed_out: np.ndarray,
    expected_out: np.ndarray,
    *,
    confidence: float = 0.95,
) -> dict[str, np.ndarray]:
    """:func:`compare_rates` on arrays of cohorts at once.

    Returns:
        ``{"rate_ratio", "low", "high", "p_value"}``, one array each.
    """
    o_in = np.rint(np.asarray(observed_in, dtype=float))
    o_out = np.rint(np.asarray(observed_out, dtype=float))
    e_in = np.asarray(expected_in, dtype=float)
    e_out = np.asarray(expected_out, dtype=float)
    usable = (e_in > 0) & (e_out > 0)
    safe_in = np.where(usable, e_in, 1.0)
    safe_out = np.where(usable, e_out, 1.0)
    total = o_in + o_out
    share = safe_in / (safe_in + safe_out)
    p_value = np.where(total > 0, stats.binom.sf(o_in - 1, total, share), 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(o_out > 0, (o_in / safe_in) / (o_out / safe_out), np.inf)
    tail = (1.0 - confidence) / 2.0
    low_p = np.where(o_in > 0, stats.beta.ppf(tail, np.maximum(o_in, 1), total - o_in + 1), 0.0)
    high_p = np.where(
        o_in < total, stats.beta.ppf(1.0 - tail, o_in + 1, np.maximum(total - o_in, 1)), 1.0
    )
    odds = safe_out / safe_in
    with np.errstate(divide="ignore", invalid="ignore"):
        low = np.where(low_p >= 1.0, np.inf, low_p / (1.0 - low_p) * odds)
        high = np.where(high_p >= 1.0, np.inf, high_p / (1.0 - high_p) * odds)
    nan = np.full(o_in.shape, np.nan)
    return {
        "rate_ratio": np.where(usable, ratio, nan),
        "low": np.where(usable, low, nan),
        "high": np.where(usable, high, nan),
        "p_value": np.where(usable, np.clip(p_value, 0.0, 1.0), 1.0),
    }


def per_1000_unit_years(claims: float, unit_days: float) -> float:
    """Crude claim rate: claims per 1000 unit-years in service (NaN without exposure)."""
    return float("nan") if unit_days <= 0 else 1000.0 * claims / (unit_days / DAYS_PER_YEAR)


__all__ = [
    "DAYS_PER_YEAR",
    "RateComparison",
    "compare_rates",
    "compare_rates_many",
    "cumulative_hazard",
    "expected_claims",
    "per_1000_unit_years",
]
