"""Population-level remaining life: what the fleet's lifetimes say about a unit of a given age.

Used when a unit has too little history for the sensor model. The Kaplan-Meier estimate of the
fleet's lifetime distribution handles units whose run ended without a failure (censored), and the
remaining life of a unit of age ``a`` follows from ``P(L > a + r | L > a) = S(a + r) / S(a)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class PopulationLife:
    """Kaplan-Meier lifetime distribution of a fleet.

    Attributes:
        times: Distinct lifetimes at which failures happened, ascending.
        survival: Survival probability just after each of ``times``.
    """

    times: np.ndarray = field(default_factory=lambda: np.zeros(0))
    survival: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @classmethod
    def fit(cls, lifetimes: np.ndarray, failed: np.ndarray) -> PopulationLife:
        """Estimate the survival curve from lifetimes and whether each ended in a failure."""
        lifetimes = np.asarray(lifetimes, dtype=float)
        failed = np.asarray(failed, dtype=bool)
        times = np.unique(lifetimes[failed])
        survival = np.ones(len(times))
        current = 1.0
        for position, time in enumerate(times):
            at_risk = int((lifetimes >= time).sum())
            deaths = int(((lifetimes == time) & failed).sum())
            current *= 1.0 - deaths / at_risk
            survival[position] = current
        return cls(times=times, survival=survival)

    def survival_at(self, time: np.ndarray | float) -> np.ndarray:
        """Probability that a lifetime exceeds ``time``."""
        position = np.searchsorted(self.times, np.asarray(time, dtype=float), side="right")
        padded = np.concatenate([[1.0], self.survival])
        return padded[position]

    def remaining_quantiles(self, age: float, quantiles: tuple[float, ...]) -> np.ndarray:
        """Quantiles of the remaining life of a unit that has survived ``age``.

        Returns NaN for every quantile when no unit of the fleet failed after ``age``; quantiles the
        curve never reaches (heavy censoring) are set to the last observed failure time.
        """
        alive = float(self.survival_at(age))
        later = self.times > age
        if alive <= 0.0 or not later.any():
            return np.full(len(quantiles), np.nan)
        failure_probability = 1.0 - self.survival[later] / alive
        remaining = self.times[later] - age
        result = []
        for quantile in quantiles:
            reached = np.nonzero(failure_probability >= quantile - 1e-12)[0]
            result.append(remaining[reached[0]] if len(reached) else remaining[-1])
        return np.asarray(result, dtype=float)
