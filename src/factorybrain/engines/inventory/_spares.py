"""Spare-part demand from machine health: the chance each machine fails within the lead time.

A machine's remaining useful life (RUL) comes from the maintenance agent in one of two forms:

* quantiles ``{probability: rul}``, e.g. ``{0.1: 12, 0.5: 30, 0.9: 55}``. The distribution
  function is taken as linear between the given quantiles, linear from ``P(RUL <= 0) = 0`` up to
  the first one, and linear beyond the last one until it reaches 1 one quantile-span later
  (at ``last + (last - first)``). Assumption: RUL cannot be negative and the tails are no
  heavier than the spread of the quantiles given;
* an interval ``(mean, lower, upper)`` with its coverage (default 0.9): RUL is taken as normal
  with that mean and ``sigma = (upper - lower) / (2 z)``, ``z`` the normal quantile of
  ``(1 + coverage) / 2``; probability below zero counts as failing now.

The expected spare-part demand over the lead time adds, over the machines that use the part,
quantity per machine times failure probability; the full distribution of the number of parts
needed (machines failing independently) is returned too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from factorybrain.exceptions import ParameterError


@dataclass(frozen=True)
class RulEstimate:
    """A machine's remaining useful life, as quantiles or as an interval.

    Attributes:
        quantiles: ``{probability: rul}`` (probabilities in (0, 1)); or ``None``.
        mean: Mean RUL of the interval form.
        lower: Lower bound of the interval.
        upper: Upper bound of the interval.
        coverage: Probability that RUL lies in ``[lower, upper]``.
    """

    quantiles: Mapping[float, float] | None = None
    mean: float | None = None
    lower: float | None = None
    upper: float | None = None
    coverage: float = 0.9

    def __post_init__(self) -> None:
        if self.quantiles is None and None in (self.mean, self.lower, self.upper):
            raise ParameterError(
                "A RulEstimate needs quantiles or all of mean, lower and upper; got "
                f"quantiles={self.quantiles!r}, mean={self.mean!r}, lower={self.lower!r}, "
                f"upper={self.upper!r}."
            )
        if self.quantiles is not None and not self.quantiles:
            raise ParameterError("A RulEstimate's quantiles must not be empty.")
        if self.quantiles is None:
            # Without quantiles, the first check guarantees mean, lower and upper are set.
            assert self.lower is not None and self.mean is not None and self.upper is not None
            if not self.lower <= self.mean <= self.upper:
                raise ParameterError(
                    f"A RulEstimate interval needs lower <= mean <= upper; got {self.lower!r}, "
                    f"{self.mean!r}, {self.upper!r}."
                )


def failure_probability(rul: RulEstimate, within: float) -> float:
    """Probability that the machine fails within ``within`` periods (``P(RUL <= within)``).

    Example:
        >>> failure_probability(RulEstimate(quantiles={0.1: 10, 0.5: 20, 0.9: 30}), 20)
        0.5
    """
    if rul.quantiles is not None:
        pairs = sorted((float(v), float(p)) for p, v in rul.quantiles.items())
        values = np.array([v for v, _ in pairs])
        probabilities = np.maximum.accumulate(np.array([p for _, p in pairs]))
        if ((probabilities <= 0) | (probabilities >= 1)).any():
            raise ParameterError(
                f"RUL quantile levels must lie in (0, 1); got {sorted(rul.quantiles)}."
            )
        span = max(values[-1] - values[0], abs(values[-1]), 1e-9)
        grid_values = np.concatenate([[0.0], values, [values[-1] + span]])
        grid_probabilities = np.concatenate([[0.0], probabilities, [1.0]])
        if values[0] <= 0:
            grid_values, grid_probabilities = grid_values[1:], grid_probabilities[1:]
        return float(np.interp(within, grid_values, grid_probabilities, left=0.0, right=1.0))
    # Without quantiles, RulEstimate.__post_init__ guarantees mean, lower and upper are set.
    assert rul.mean is not None and rul.lower is not None and rul.upper is not None
    z = stats.norm.ppf((1 + rul.coverage) / 2)
    sigma = max((rul.upper - rul.lower) / (2 * z), 1e-9)
    return float(stats.norm.cdf((within - rul.mean) / sigma))


@dataclass(frozen=True)
class SparePartDemand:
    """Health-driven demand for one spare part over a lead time.

    Attributes:
        expected: Expected number of parts needed.
        probabilities: ``{machine: probability of failing within the lead time}``.
        distribution: ``distribution[k]`` is the probability that exactly ``k`` parts are needed.
    """

    expected: float
    probabilities: dict[str, float] = field(default_factory=dict)
    distribution: np.ndarray = field(default_factory=lambda: np.ones(1))


def spare_part_demand(
    machines: Sequence[tuple[str, RulEstimate, int]], lead_time: float
) -> SparePartDemand:
    """Expected spare-part demand within ``lead_time`` from the machines' RUL distributions.

    Args:
        machines: ``(machine id, RUL estimate, parts used per failure)`` for each machine whose
            bill of materials holds the part.
        lead_time: Replenishment lead time, in the unit of the RUL estimates.

    Returns:
        The :class:`SparePartDemand` (machines assumed to fail independently, each at most once
        within the lead time).

    Example:
        >>> rul = RulEstimate(mean=5, lower=3, upper=7)
        >>> spare_part_demand([("press-3", rul, 2)], lead_time=5).expected
        1.0
    """
    probabilities: dict[str, float] = {}
    distribution = np.ones(1)
    expected = 0.0
    for machine, rul, quantity in machines:
        if int(quantity) != quantity or quantity < 0:
            raise ParameterError(
                f"Machine {machine!r} uses {quantity!r} parts per failure; expected an int >= 0."
            )
        probability = failure_probability(rul, lead_time)
        probabilities[str(machine)] = probability
        expected += probability * quantity
        shifted = np.zeros(distribution.size + int(quantity))
        shifted[: distribution.size] += (1 - probability) * distribution
        shifted[int(quantity) :] += probability * distribution
        distribution = shifted
    return SparePartDemand(
        expected=expected, probabilities=probabilities, distribution=distribution
    )


def sample_spare_part_demand(
    demand: SparePartDemand, n_samples: int, rng: np.random.Generator
) -> np.ndarray:
    """Draw ``n_samples`` numbers of parts needed from a :class:`SparePartDemand`."""
    return rng.choice(demand.distribution.size, size=n_samples, p=demand.distribution).astype(float)
