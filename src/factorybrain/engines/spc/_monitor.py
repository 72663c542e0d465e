"""One characteristic watched by every chart at once: I-MR with the Nelson rules, EWMA, CUSUM.

:class:`ProcessMonitor` fits the three charts on one baseline (Phase I) and judges a series with
all of them (Phase II), so a quality engineer gets one answer per characteristic: which rules
fired, where, and which charts agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from factorybrain.engines._base import Constraint, Engine, InstanceOf, Interval
from factorybrain.engines.spc._charts import ChartCheck, CUSUMChart, EWMAChart, IndividualsChart
from factorybrain.engines.spc._rules import NELSON, RuleViolation


@dataclass(frozen=True)
class MonitorCheck:
    """What every chart said about one series.

    Attributes:
        individuals: The I-MR chart's check (its ``violations`` are the Nelson rules).
        ewma: The EWMA chart's check.
        cusum: The CUSUM chart's check.
    """

    individuals: ChartCheck
    ewma: ChartCheck
    cusum: ChartCheck

    @property
    def violations(self) -> list[RuleViolation]:
        """Nelson rules that fired, plus EWMA (rule ``"ewma"``) and CUSUM as pseudo-rules."""
        return list(self.individuals.violations)

    def signals(self) -> dict[str, tuple[int, ...]]:
        """Signal positions by test: ``nelson_<n>``, ``ewma``, ``cusum``, ``moving_range``."""
        out = {f"nelson_{v.rule}": v.indices for v in self.individuals.violations}
        if self.ewma.signals:
            out["ewma"] = self.ewma.signals
        if self.cusum.signals:
            out["cusum"] = self.cusum.signals
        if self.individuals.companion_signals:
            out["moving_range"] = self.individuals.companion_signals
        return out


class ProcessMonitor(Engine):
    """I-MR (Nelson rules), EWMA and CUSUM on one characteristic, fitted on one baseline.

    Args:
        rules: Nelson rules applied to the individuals.
        run_length: Rule 2's run (9 Nelson, 8 Western Electric).
        smoothing: EWMA weight of the newest point.
        ewma_width: EWMA limit width in sigmas.
        cusum_slack: CUSUM ``k`` in sigmas.
        cusum_threshold: CUSUM ``h`` in sigmas.

    Attributes:
        individuals_, ewma_, cusum_: The fitted charts.
        center_, sigma_: Baseline mean and within sigma.
    """

    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        "rules": [InstanceOf((tuple, list))],
        "run_length": [Interval(int, 2, None)],
        "smoothing": [Interval(float, 0.0, 1.0, closed="right")],
        "ewma_width": [Interval(float, 0.0, None, closed="neither")],
        "cusum_slack": [Interval(float, 0.0, None)],
        "cusum_threshold": [Interval(float, 0.0, None, closed="neither")],
    }

    def __init__(
        self,
        *,
        rules: Iterable[int] = NELSON,
        run_length: int = 9,
        smoothing: float = 0.2,
        ewma_width: float = 3.0,
        cusum_slack: float = 0.5,
        cusum_threshold: float = 5.0,
    ) -> None:
        self.rules = tuple(rules)
        self.run_length = run_length
        self.smoothing = smoothing
        self.ewma_width = ewma_width
        self.cusum_slack = cusum_slack
        self.cusum_threshold = cusum_threshold

    def fit(self, baseline: Any) -> ProcessMonitor:
        """Fit the three charts on baseline values in time order (at least 3, with variation)."""
        self._validate_parameters()
        x = np.asarray(baseline, dtype=float).ravel()
        self.individuals_ = IndividualsChart(rules=self.rules, run_length=self.run_length).fit(x)
        self.center_ = self.individuals_.center_
        self.sigma_ = self.individuals_.sigma_
        self.ewma_ = EWMAChart(
            smoothing=self.smoothing, width=self.ewma_width, target=self.center_, sigma=self.sigma_
        ).fit(None)
        self.cusum_ = CUSUMChart(
            slack=self.cusum_slack,
            threshold=self.cusum_threshold,
            target=self.center_,
            sigma=self.sigma_,
        ).fit(None)
        return self

    def check(self, values: Any) -> MonitorCheck:
        """Judge a series in time order with every chart."""
        self._check_fitted()
        x = np.asarray(values, dtype=float).ravel()
        return MonitorCheck(self.individuals_.check(x), self.ewma_.check(x), self.cusum_.check(x))


__all__ = ["MonitorCheck", "ProcessMonitor"]
