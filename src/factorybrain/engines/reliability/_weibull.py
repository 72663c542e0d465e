"""Weibull life from censored field data: maximum likelihood, B-lives with profile intervals.

A fleet in the field is mostly **right-censored**: a unit that has not failed tells only that its
life is longer than its time in service so far. The two-parameter Weibull is fitted by maximum
likelihood with the censored units in the likelihood (their survival term); the scale is
profiled out in closed form, so the fit is a one-dimensional search over the shape, on times
rescaled to their median (no overflow at any unit of time).

B-life intervals (``B10``: the age by which 10 % of units have failed) come from the **profile
likelihood**: the B-life is a parameter of its own (``scale = B_p / (-ln(1-p))^(1/shape)``), the
likelihood is maximised over the shape for each candidate value, and the interval is where twice
the drop stays below the chi-square quantile. With heavy censoring this is far better calibrated
than the delta method (Wald) interval, which is also available (:meth:`WeibullModel.b_life_interval`
with ``method="wald"``) from the observed Fisher information.

We fit with SciPy, not ``reliability``, ``lifelines`` or ``surpyval``: all three pin pandas below 3,
which the rest of factorybrain needs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import optimize, stats

from factorybrain.engines._base import Engine, Interval
from factorybrain.exceptions import EngineError

#: Shapes searched, on the log scale: wide enough for infant mortality and steep wear-out.
_LOG_SHAPE_BOUNDS = (math.log(0.05), math.log(30.0))


def _as_arrays(durations: Any, failed: Any) -> tuple[np.ndarray, np.ndarray]:
    times = np.asarray(durations, dtype=float).ravel()
    events = np.asarray(failed, dtype=bool).ravel()
    if times.shape != events.shape:
        raise EngineError(
            f"durations and failed must have the same length; got {times.size} durations and "
            f"{events.size} failure flags"
        )
    if times.size == 0:
        raise EngineError("no units to fit: durations is empty")
    bad = ~np.isfinite(times) | (times < 0)
    if bad.any():
        raise EngineError(
            f"durations must be finite and >= 0; {int(bad.sum())} are not (first: "
            f"{times[bad][0]!r} at position {int(np.flatnonzero(bad)[0])})"
        )
    return times, events


class WeibullModel(Engine):
    """Two-parameter Weibull fitted to right-censored lives by maximum likelihood.

    Args:
        confidence: Two-sided confidence of the intervals, in (0, 1).
        min_failures: Failures needed to fit; fewer raise :class:`EngineError` (a shape cannot
            be told from one or two failures).

    Attributes:
        shape_: Weibull shape (beta): below 1 infant mortality, about 1 random, above 1 wear-out.
        scale_: Weibull scale (eta), in the unit of the durations.
        log_likelihood_: Log-likelihood at the optimum.
        covariance_: Covariance of ``(log shape, log scale)`` from the observed information.
        n_units_: Units fitted.
        n_failures_: Failures among them.

    Example:
        >>> model = WeibullModel().fit([120, 200, 340, 400, 400, 400], [1, 1, 1, 0, 0, 0])
        >>> round(model.b_life(0.10)) > 0
        True
    """

    _parameter_constraints = {
        "confidence": [Interval(float, 0.0, 1.0, "neither")],
        "min_failures": [Interval(int, 2, None)],
    }

    def __init__(self, *, confidence: float = 0.90, min_failures: int = 3) -> None:
        self.confidence = confidence
        self.min_failures = min_failures

    # -- fitting ---------------------------------------------------------------------------------
    def fit(self, durations: Any, failed: Any) -> WeibullModel:
        """Fit to times in service and whether each unit failed (else it is censored there).

        Args:
            durations: Time in service of each unit: to its failure, or to now when it has not
                failed. Zero durations are kept (a unit that failed on its first day); they are
                moved to a hundredth of the smallest positive duration.
            failed: True where the unit failed at its duration.

        Raises:
            EngineError: Fewer failures than ``min_failures``, no positive durations, or
                durations and flags of different lengths.
        """
        self._validate_parameters()
        times, events = _as_arrays(durations, failed)
        failures = int(events.sum())
        if failures < self.min_failures:
            raise EngineError(
                f"{failures} failure(s) among {times.size} units: a Weibull fit needs at least "
                f"{self.min_failures} (min_failures)"
            )
        positive = times[times > 0]
        if positive.size == 0:
            raise EngineError("every duration is zero: nothing was in service long enough")
        times = np.where(times > 0, times, positive.min() / 100.0)
        reference = float(np.median(times))
        self._log_times = np.log(times / reference)
        self._events = events
        self._reference = reference
        result = optimize.minimize_scalar(
            lambda a: -self._profile_shape(a), bounds=_LOG_SHAPE_BOUNDS, method="bounded",
            options={"xatol": 1e-9},
        )  # fmt: skip
        log_shape = float(result.x)
        shape = math.exp(log_shape)
        log_scale = self._log_scale_given_shape(shape)
        self.shape_ = shape
        self.scale_ = reference * math.exp(log_scale)
        self.log_likelihood_ = float(-result.fun) - failures * math.log(reference)
        self.covariance_ = self._covariance(log_shape, log_scale)
        self.n_units_ = int(times.size)
        self.n_failures_ = failures
        return self

    def _log_likelihood(self, log_shape: float, log_scale: float) -> float:
        """Log-likelihood on the rescaled times (``log t`` relative to the reference)."""
        shape = math.exp(log_shape)
        z = shape * (self._log_times - log_scale)
        failures = self._events
        with np.errstate(over="ignore"):
            cumulative = np.exp(np.minimum(z, 700.0))
        return float(
            failures.sum() * log_shape
            + np.sum(z[failures] - self._log_times[failures])
            - cumulative.sum()
        )

    def _log_scale_given_shape(self, shape: float) -> float:
        """The scale's maximum-likelihood value for a given shape (closed form), as a log."""
        scaled = shape * self._log_times
        top = scaled.max()
        log_sum = top + math.log(np.exp(scaled - top).sum())
        return (log_sum - math.log(self._events.sum())) / shape

    def _profile_shape(self, log_shape: float) -> float:
        shape = math.exp(log_shape)
        return self._log_likelihood(log_shape, self._log_scale_given_shape(shape))

    def _covariance(self, log_shape: float, log_scale: float) -> np.ndarray:
        """Inverse of the observed information of ``(log shape, log scale)`` (numerical Hessian)."""
        point = np.array([log_shape, log_scale])
        step = 1e-4
        hessian = np.zeros((2, 2))
        for i in range(2):
            for j in range(2):
                shifts = []
                for si, sj in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
                    moved = point.copy()
                    moved[i] += si * step
                    moved[j] += sj * step
                    shifts.append(si * sj * self._log_likelihood(moved[0], moved[1]))
                hessian[i, j] = sum(shifts) / (4 * step * step)
        try:
            return np.asarray(np.linalg.inv(-hessian))
        except np.linalg.LinAlgError:
            return np.full((2, 2), np.nan)

    # -- what the fit says -----------------------------------------------------------------------
    def cdf(self, t: Any) -> np.ndarray:
        """Probability of failing by age ``t``."""
        self._check_fitted()
        ages = np.maximum(np.asarray(t, dtype=float), 0.0)
        return np.asarray(-np.expm1(-((ages / self.scale_) ** self.shape_)))

    def survival(self, t: Any) -> np.ndarray:
        """Probability of surviving past age ``t``."""
        self._check_fitted()
        ages = np.maximum(np.asarray(t, dtype=float), 0.0)
        return np.asarray(np.exp(-((ages / self.scale_) ** self.shape_)))

    def b_life(self, p: float = 0.10) -> float:
        """The age by which a share ``p`` of units have failed (``b_life(0.10)`` is B10)."""
        self._check_fitted()
        _check_share(p)
        return float(self.scale_ * (-math.log1p(-p)) ** (1.0 / self.shape_))

    def b_life_interval(
        self, p: float = 0.10, *, confidence: float | None = None, method: str = "profile"
    ) -> tuple[float, float]:
        """Two-sided interval of the B-life at share ``p``.

        Args:
            p: Share failed (0.10 for B10).
            confidence: Overrides the model's ``confidence``.
            method: ``"profile"`` (likelihood ratio; the default) or ``"wald"`` (delta method on
                the log B-life from the observed information).

        Returns:
            ``(low, high)``; ``high`` is ``inf`` when the data cannot bound it (too few failures
            for the likelihood to fall far enough).
        """
        self._check_fitted()
        _check_share(p)
        level = self.confidence if confidence is None else confidence
        if not 0.0 < level < 1.0:
            raise EngineError(f"confidence must be in (0, 1); got {level!r}")
        if method not in ("profile", "wald"):
            raise EngineError(f"method must be 'profile' or 'wald'; got {method!r}")
        estimate = self.b_life(p)
        if method == "wald":
            return self._wald_interval(p, level, estimate)
        return self._profile_interval(p, level, estimate)

    def _wald_interval(self, p: float, level: float, estimate: float) -> tuple[float, float]:
        c = -math.log1p(-p)
        # log B = log scale + log(c) / shape: gradient in (log shape, log scale)
        gradient = np.array([-math.log(c) / self.shape_, 1.0])
        variance = float(gradient @ self.covariance_ @ gradient)
        if not math.isfinite(variance) or variance < 0:
            return (float("nan"), float("nan"))
        z = stats.norm.ppf(0.5 + level / 2.0)
        half = z * math.sqrt(variance)
        return (estimate * math.exp(-half), estimate * math.exp(half))

    def _profile_b(self, log_b: float, log_c: float) -> float:
        """Log-likelihood maximised over the shape with the B-life held at ``exp(log_b)``."""

        def negative(log_shape: float) -> float:
            shape = math.exp(log_shape)
            return -self._log_likelihood(log_shape, log_b - log_c / shape)

        result = optimize.minimize_scalar(
            negative, bounds=_LOG_SHAPE_BOUNDS, method="bounded", options={"xatol": 1e-7}
        )
        return float(-result.fun)

    def _profile_interval(self, p: float, level: float, estimate: float) -> tuple[float, float]:
        log_c = math.log(-math.log1p(-p))
        best = self._log_likelihood(math.log(self.shape_), math.log(self.scale_ / self._reference))
        drop = stats.chi2.ppf(level, 1) / 2.0
        centre = math.log(estimate / self._reference)

        def excess(log_b: float) -> float:
            return best - self._profile_b(log_b, log_c) - drop

        bounds = []
        for direction in (-1.0, 1.0):
            step, found = 0.05, None
            inner = centre
            for _ in range(60):
                outer = centre + direction * step
                if excess(outer) > 0:
                    found = optimize.brentq(excess, min(inner, outer), max(inner, outer))
                    break
                inner, step = outer, step * 1.6
                if step > 60:  # e^60 times the estimate: the data do not bound it
                    break
            bounds.append(found)
        low = 0.0 if bounds[0] is None else self._reference * math.exp(bounds[0])
        high = math.inf if bounds[1] is None else self._reference * math.exp(bounds[1])
        return (float(low), float(high))

    # -- forecast --------------------------------------------------------------------------------
    def expected_failures(self, ages: Any, horizon: float) -> np.ndarray:
        """Probability of each surviving unit of age ``ages`` failing within ``horizon``."""
        self._check_fitted()
        now = np.maximum(np.asarray(ages, dtype=float), 0.0)
        alive = (now / self.scale_) ** self.shape_
        later = ((now + horizon) / self.scale_) ** self.shape_
        return np.asarray(-np.expm1(alive - later))

    def forecast(
        self,
        ages: Sequence[float] | np.ndarray,
        horizon: float,
        *,
        n_draws: int = 400,
        random_state: int = 0,
    ) -> dict[str, float]:
        """Failures expected within ``horizon`` among surviving units, with an interval.

        The interval carries both sources of doubt: which units fail (Poisson counts around the
        expected number) and the fitted parameters (draws of ``(log shape, log scale)`` from
        their asymptotic normal distribution).

        Returns:
            ``{"expected", "low", "high"}`` (the interval at the model's ``confidence``).
        """
        self._check_fitted()
        now = np.maximum(np.asarray(ages, dtype=float), 0.0)
        expected = float(self.expected_failures(now, horizon).sum())
        rng = np.random.default_rng(random_state)
        centre = np.array([math.log(self.shape_), math.log(self.scale_)])
        covariance = self.covariance_
        if not np.all(np.isfinite(covariance)):
            covariance = np.zeros((2, 2))
        draws = rng.multivariate_normal(centre, covariance, size=n_draws)
        totals = []
        for log_shape, log_scale in draws:
            shape, scale = math.exp(log_shape), math.exp(log_scale)
            mean = -np.expm1((now / scale) ** shape - ((now + horizon) / scale) ** shape).sum()
            totals.append(rng.poisson(max(float(mean), 0.0)))
        tail = (1.0 - self.confidence) / 2.0
        low, high = np.quantile(totals, [tail, 1.0 - tail])
        return {"expected": expected, "low": float(low), "high": float(high)}


def _check_share(p: float) -> None:
    if not 0.0 < p < 1.0:
        raise EngineError(f"the share failed p must be in (0, 1); got {p!r}")


__all__ = ["WeibullModel"]
