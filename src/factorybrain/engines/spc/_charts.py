"""Control charts: individuals and moving range (I-MR), X-bar and R, EWMA and CUSUM.

Each chart is an engine: ``fit`` estimates the in-control center and sigma from a baseline
(Phase I), ``check`` judges a series against them (Phase II) and returns what signalled, by
position. Sigma is the *within* (short-term) sigma: the mean moving range over ``d2(2)`` for
individuals, the mean range over ``d2(n)`` for subgroups, so a drift inflates the spread of the
data but not the limits it is judged against.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from factorybrain.engines._base import Constraint, Engine, InstanceOf, Interval
from factorybrain.engines.spc._constants import a2, d2, d3_lower, d4_upper
from factorybrain.engines.spc._rules import NELSON, RuleViolation, nelson_rules
from factorybrain.exceptions import EngineError, ParameterError


def _series(values: Any, what: str, minimum: int) -> np.ndarray:
    x = np.asarray(values, dtype=float).ravel()
    finite = int(np.isfinite(x).sum())
    if finite < minimum:
        raise EngineError(
            f"{what} needs at least {minimum} finite values; got {finite} of {x.size}"
        )
    return x


def moving_range_sigma(values: Any) -> float:
    """Within sigma of individuals: the mean moving range of consecutive values over ``d2(2)``.

    NaN values are dropped first (the points around a gap become neighbours).
    """
    x = np.asarray(values, dtype=float).ravel()
    x = x[np.isfinite(x)]
    if x.size < 2:
        raise EngineError(f"a moving range needs at least 2 finite values; got {x.size}")
    return float(np.mean(np.abs(np.diff(x))) / d2(2))


@dataclass(frozen=True)
class ChartCheck:
    """What a chart found on a series.

    Attributes:
        center: Center line of the plotted statistic.
        sigma: Sigma of the plotted statistic.
        lower: Lower control limit (per point for EWMA).
        upper: Upper control limit (per point for EWMA).
        statistic: The plotted statistic, per point.
        violations: Nelson rules that fired (individuals and X-bar charts).
        signals: Positions at which the chart signals beyond its limits (every chart), or
            where its companion chart (moving range, range) does.
        companion_signals: Positions where the moving range or range chart is beyond its limit.
    """

    center: float
    sigma: float
    lower: np.ndarray
    upper: np.ndarray
    statistic: np.ndarray
    violations: list[RuleViolation] = field(default_factory=list)
    signals: tuple[int, ...] = ()
    companion_signals: tuple[int, ...] = ()


_RULE_CONSTRAINTS: dict[str, list[Constraint]] = {
    "rules": [InstanceOf((tuple, list))],
    "run_length": [Interval(int, 2, None)],
}


class IndividualsChart(Engine):
    """Shewhart individuals and moving range (I-MR) chart with the Nelson rules.

    Args:
        rules: Nelson rules applied by :meth:`check`.
        run_length: Rule 2's run (9 Nelson, 8 Western Electric).

    Attributes:
        center_: Baseline mean.
        sigma_: Within sigma (mean moving range / d2(2)).
        lower_, upper_: Individuals limits, ``center_ -/+ 3 sigma_``.
        moving_range_mean_: Mean moving range of the baseline.
        moving_range_upper_: Moving range limit, ``D4(2)`` times its mean.
        n_: Baseline points.
    """

    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = _RULE_CONSTRAINTS

    def __init__(self, *, rules: Iterable[int] = NELSON, run_length: int = 9) -> None:
        self.rules = tuple(rules)
        self.run_length = run_length

    def fit(self, values: Any) -> IndividualsChart:
        """Estimate center and within sigma from a baseline in time order (at least 3 points).

        Raises:
            EngineError: Too few values, or no variation between consecutive values.
        """
        self._validate_parameters()
        x = _series(values, "an individuals chart", 3)
        finite = x[np.isfinite(x)]
        sigma = moving_range_sigma(finite)
        if sigma <= 0:
            raise EngineError(
                f"an individuals chart needs variation: all {finite.size} baseline values "
                f"are {finite[0]!r}"
            )
        self.n_ = int(finite.size)
        self.center_ = float(finite.mean())
        self.sigma_ = sigma
        self.lower_ = self.center_ - 3.0 * sigma
        self.upper_ = self.center_ + 3.0 * sigma
        self.moving_range_mean_ = sigma * d2(2)
        self.moving_range_upper_ = d4_upper(2) * self.moving_range_mean_
        return self

    def check(self, values: Any) -> ChartCheck:
        """Judge a series in time order against the fitted limits.

        Returns:
            A :class:`ChartCheck`: the rules that fired, points beyond the limits
            (``signals``) and moving ranges beyond theirs (``companion_signals``, at the later
            point of the pair).
        """
        self._check_fitted()
        x = np.asarray(values, dtype=float).ravel()
        violations = nelson_rules(
            x, self.center_, self.sigma_, rules=self.rules, run_length=self.run_length
        )
        beyond = np.flatnonzero(np.isfinite(x) & ((x > self.upper_) | (x < self.lower_)))
        keep = np.flatnonzero(np.isfinite(x))
        ranges = np.abs(np.diff(x[keep]))
        wide = keep[1:][ranges > self.moving_range_upper_]
        return ChartCheck(
            self.center_,
            self.sigma_,
            np.full(x.size, self.lower_),
            np.full(x.size, self.upper_),
            x,
            violations,
            tuple(int(i) for i in beyond),
            tuple(int(i) for i in wide),
        )


class XbarRChart(Engine):
    """Shewhart X-bar and R chart of equal subgroups, with the Nelson rules on the means.

    Args:
        rules: Nelson rules applied to the subgroup means.
        run_length: Rule 2's run.

    Attributes:
        subgroup_size_: Values per subgroup.
        center_: Grand mean.
        range_mean_: Mean subgroup range.
        sigma_: Within sigma of one value (mean range / d2(n)).
        lower_, upper_: X-bar limits, ``center_ -/+ A2 * range_mean_``.
        range_lower_, range_upper_: R limits, ``D3`` and ``D4`` times ``range_mean_``.
    """

    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = _RULE_CONSTRAINTS

    def __init__(self, *, rules: Iterable[int] = NELSON, run_length: int = 9) -> None:
        self.rules = tuple(rules)
        self.run_length = run_length

    @staticmethod
    def _subgroups(values: Any) -> np.ndarray:
        table = np.asarray(values, dtype=float)
        if table.ndim != 2 or table.shape[1] < 2:
            raise ParameterError(
                "an X-bar/R chart takes a 2-D array of subgroups (rows) of at least 2 values; "
                f"got shape {table.shape}"
            )
        if not np.isfinite(table).all():
            raise EngineError(
                f"an X-bar/R chart needs complete subgroups; {int((~np.isfinite(table)).sum())} "
                "values are missing or not finite"
            )
        return table

    def fit(self, subgroups: Any) -> XbarRChart:
        """Estimate the limits from baseline subgroups (rows, at least 2)."""
        self._validate_parameters()
        table = self._subgroups(subgroups)
        if table.shape[0] < 2:
            raise EngineError(f"an X-bar/R chart needs at least 2 subgroups; got {table.shape[0]}")
        n = int(table.shape[1])
        ranges = np.ptp(table, axis=1)
        self.subgroup_size_ = n
        self.center_ = float(table.mean())
        self.range_mean_ = float(ranges.mean())
        if self.range_mean_ <= 0:
            raise EngineError(
                "an X-bar/R chart needs variation inside the subgroups; every range is 0"
            )
        self.sigma_ = self.range_mean_ / d2(n)
        self.lower_ = self.center_ - a2(n) * self.range_mean_
        self.upper_ = self.center_ + a2(n) * self.range_mean_
        self.range_lower_ = d3_lower(n) * self.range_mean_
        self.range_upper_ = d4_upper(n) * self.range_mean_
        return self

    def check(self, subgroups: Any) -> ChartCheck:
        """Judge subgroups (rows, of the fitted size) against the fitted limits."""
        self._check_fitted()
        table = self._subgroups(subgroups)
        if table.shape[1] != self.subgroup_size_:
            raise ParameterError(
                f"the chart was fitted on subgroups of {self.subgroup_size_}; got subgroups of "
                f"{table.shape[1]}"
            )
        means = table.mean(axis=1)
        ranges = np.ptp(table, axis=1)
        sigma_mean = self.sigma_ / np.sqrt(self.subgroup_size_)
        violations = nelson_rules(
            means, self.center_, sigma_mean, rules=self.rules, run_length=self.run_length
        )
        beyond = np.flatnonzero((means > self.upper_) | (means < self.lower_))
        wide = np.flatnonzero((ranges > self.range_upper_) | (ranges < self.range_lower_))
        return ChartCheck(
            self.center_,
            float(sigma_mean),
            np.full(means.size, self.lower_),
            np.full(means.size, self.upper_),
            means,
            violations,
            tuple(int(i) for i in beyond),
            tuple(int(i) for i in wide),
        )


class _Baseline(Engine):
    """Center and within sigma of a baseline, given or estimated (EWMA and CUSUM share it)."""

    target: float | None
    sigma: float | None

    def fit(self, values: Any) -> Any:
        """Take ``target``/``sigma`` when given, else estimate them from baseline values."""
        self._validate_parameters()
        x = _series(values, type(self).__name__, 3) if values is not None else np.zeros(0)
        finite = x[np.isfinite(x)]
        if self.target is None and finite.size == 0:
            raise EngineError(f"{type(self).__name__} needs a target or baseline values")
        self.center_ = float(self.target) if self.target is not None else float(finite.mean())
        self.sigma_ = float(self.sigma) if self.sigma is not None else moving_range_sigma(finite)
        if not self.sigma_ > 0:
            raise EngineError(f"{type(self).__name__} needs a positive sigma; got {self.sigma_}")
        return self


class EWMAChart(_Baseline):
    """Exponentially weighted moving average chart: sees small, lasting shifts early.

    ``z_i = lambda x_i + (1 - lambda) z_{i-1}``, ``z_0 = center``; the limits are the exact
    ones, ``center +/- width sigma sqrt(lambda / (2 - lambda) (1 - (1 - lambda)^(2i)))``.

    Args:
        smoothing: Weight of the newest point, ``lambda`` in (0, 1].
        width: Limit width in sigmas of the statistic (2.7 to 3 are common).
        target: In-control mean (None: the baseline mean).
        sigma: In-control sigma of one value (None: the baseline's moving range sigma).
    """

    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        "smoothing": [Interval(float, 0.0, 1.0, closed="right")],
        "width": [Interval(float, 0.0, None, closed="neither")],
        "target": [Interval(float, None, None), InstanceOf((type(None),))],
        "sigma": [Interval(float, 0.0, None, closed="neither"), InstanceOf((type(None),))],
    }

    def __init__(
        self,
        *,
        smoothing: float = 0.2,
        width: float = 3.0,
        target: float | None = None,
        sigma: float | None = None,
    ) -> None:
        self.smoothing = smoothing
        self.width = width
        self.target = target
        self.sigma = sigma

    def check(self, values: Any) -> ChartCheck:
        """The EWMA statistic and its limits per point; ``signals`` where it is beyond them.

        A missing value carries the statistic forward unchanged.
        """
        self._check_fitted()
        x = np.asarray(values, dtype=float).ravel()
        lam = float(self.smoothing)
        z = np.empty(x.size)
        level = self.center_
        for i, value in enumerate(x):
            if np.isfinite(value):
                level = lam * value + (1.0 - lam) * level
            z[i] = level
        steps = np.arange(1, x.size + 1)
        spread = self.sigma_ * np.sqrt(lam / (2.0 - lam) * (1.0 - (1.0 - lam) ** (2 * steps)))
        lower = self.center_ - self.width * spread
        upper = self.center_ + self.width * spread
        beyond = np.flatnonzero((z > upper) | (z < lower))
        return ChartCheck(
            self.center_, self.sigma_, lower, upper, z, [], tuple(int(i) for i in beyond)
        )


class CUSUMChart(_Baseline):
    """Tabular CUSUM: sums of deviations beyond a slack, for shifts of about ``2 k`` sigma.

    ``C+_i = max(0, x_i - (center + k sigma) + C+_{i-1})`` and ``C-_i = max(0, (center - k
    sigma) - x_i + C-_{i-1})``; it signals when either exceeds ``h sigma``, and restarts from
    zero after a signal so that each excursion is one signal.

    Args:
        slack: ``k`` in sigmas (0.5 detects a 1-sigma shift fastest).
        threshold: ``h`` in sigmas (4 or 5 are common).
        target: In-control mean (None: the baseline mean).
        sigma: In-control sigma (None: the baseline's moving range sigma).
    """

    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        "slack": [Interval(float, 0.0, None)],
        "threshold": [Interval(float, 0.0, None, closed="neither")],
        "target": [Interval(float, None, None), InstanceOf((type(None),))],
        "sigma": [Interval(float, 0.0, None, closed="neither"), InstanceOf((type(None),))],
    }

    def __init__(
        self,
        *,
        slack: float = 0.5,
        threshold: float = 5.0,
        target: float | None = None,
        sigma: float | None = None,
    ) -> None:
        self.slack = slack
        self.threshold = threshold
        self.target = target
        self.sigma = sigma

    def check(self, values: Any) -> ChartCheck:
        """The CUSUM sums per point and where they signal.

        The upper sum is the ``statistic``, the lower one is in ``lower``; ``signals`` are where
        either crosses ``h sigma`` (then both restart), ``companion_signals`` those of the lower.
        """
        self._check_fitted()
        x = np.asarray(values, dtype=float).ravel()
        k = self.slack * self.sigma_
        h = self.threshold * self.sigma_
        upper_sum = np.zeros(x.size)
        lower_sum = np.zeros(x.size)
        up_signals: list[int] = []
        down_signals: list[int] = []
        high = low = 0.0
        for i, value in enumerate(x):
            if np.isfinite(value):
                high = max(0.0, high + value - self.center_ - k)
                low = max(0.0, low + self.center_ - k - value)
            upper_sum[i], lower_sum[i] = high, low
            if high > h or low > h:
                (up_signals if high > h else down_signals).append(i)
                high = low = 0.0
        return ChartCheck(
            self.center_,
            self.sigma_,
            lower_sum,
            np.full(x.size, h),
            upper_sum,
            [],
            tuple(sorted(up_signals + down_signals)),
            tuple(down_signals),
        )


__all__ = [
    "CUSUMChart",
    "ChartCheck",
    "EWMAChart",
    "IndividualsChart",
    "XbarRChart",
    "moving_range_sigma",
]
