"""Better setpoints from a process's history: surrogate, constrained search, and how sure it is.

:class:`SetpointOptimizer` fits a :class:`~.ProcessSurrogate` and a :class:`~.TrustRegion` to the
runs of a history, then :meth:`~SetpointOptimizer.propose` answers one question for the setpoints
in use: is there a better point the data supports, how much better, and how sure is that?

0. **Screening**: a parameter whose terms (linear, square, interactions) do not improve a
   quadratic response surface at the ``screening`` level (F-test) is not moved: its apparent
   effect is indistinguishable from noise in the history.
1. **Search** (Optuna, TPE): the surrogate's expected outcome (less ``risk_aversion`` standard
   deviations of it) is optimised over the trust region's box cut by the specification limits,
   with the support distance as a constraint (``trial.set_constraint``), so no point away from
   the runs can win. The current setpoints and the best runs seed the search.
2. **Only what matters changes**: a parameter is put back to its current value when the
   candidate loses less than ``relevance`` of its gain without the change, or a loss the
   surrogate cannot tell from none, so a parameter whose effect the history does not show is
   never moved for nothing.
3. **Gain and interval**: the gain is the expected outcome at the candidate less that at the
   current setpoints (positive is better in the optimisation's ``direction``), with a central
   ``interval`` from the surrogate's joint covariance of the two points.
4. **Decision**: ``change`` when the whole interval is a gain and its half-width is at most
   ``max_relative_uncertainty`` of the gain; ``keep`` when the expected gain is below
   ``min_gain`` (default: a quarter of one run's noise, which a few runs could not confirm
   anyway); otherwise ``confirm``: a few planned runs around the candidate
   (:func:`~.confirmation_runs`) instead of a jump.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import optuna
from scipy.stats import norm

from factorybrain.engines._base import Constraint, Engine, InstanceOf, Interval, Options
from factorybrain.engines.optimize._doe import MAX_RUNS, MIN_RUNS, DesignRun, confirmation_runs
from factorybrain.engines.optimize._region import Limits, TrustRegion
from factorybrain.engines.optimize._surrogate import (
    SURROGATES,
    ProcessSurrogate,
    as_matrix,
    effect_p_values,
)
from factorybrain.exceptions import ParameterError

#: What :meth:`SetpointOptimizer.propose` can conclude.
DECISIONS = ("change", "confirm", "keep")
#: How many of the best runs seed the search beside the current setpoints.
SEED_RUNS = 5


@dataclass(frozen=True)
class PlannedRun:
    """A confirmation run with what the surrogate expects of it.

    Attributes:
        setpoints: Parameter name -> value.
        role: See :class:`~factorybrain.engines.optimize.DesignRun`.
        expected: Expected outcome.
        expected_std: Standard deviation of that expectation.
    """

    setpoints: dict[str, float]
    role: str
    expected: float
    expected_std: float


@dataclass(frozen=True)
class SetpointProposal:
    """What the history says about the setpoints in use, and what to do.

    Attributes:
        names: The parameters, in order.
        current: Setpoints in use.
        proposed: The best setpoints the history supports (equal to ``current`` where a
            change would not matter).
        changed: Parameters whose proposed value differs from the current one.
        direction: ``maximize`` or ``minimize``.
        expected_current: Expected outcome at the current setpoints.
        expected_proposed: Expected outcome at the proposed setpoints.
        gain: Expected improvement (positive is better in ``direction``).
        gain_low: Lower end of the gain's ``interval``.
        gain_high: Upper end.
        gain_std: Standard deviation of the gain.
        interval: Probability the interval covers the true expected gain.
        probability_of_gain: Probability that the proposal is better at all.
        decision: ``change``, ``confirm`` or ``keep`` (see the module's description); with
            ``keep``, ``proposed`` is still the best point found, not worth the change.
        reason: One sentence: why that decision.
        noise_std: Standard deviation of one run's outcome around the surrogate.
        current_supported: Whether the current setpoints lie in the supported region.
        lower: Lower end of the searched box, per parameter.
        upper: Upper end of the searched box, per parameter.
        inactive: Parameters screened out: not moved, their effect not shown by the history.
        p_values: Screening p-value of each parameter (NaN: too few runs to test).
        runs: The confirmation runs (``confirm`` only).
        trials: Search trials run.
        feasible_trials: Trials inside the supported region.
    """

    names: tuple[str, ...]
    current: dict[str, float]
    proposed: dict[str, float]
    changed: tuple[str, ...]
    direction: str
    expected_current: float
    expected_proposed: float
    gain: float
    gain_low: float
    gain_high: float
    gain_std: float
    interval: float
    probability_of_gain: float
    decision: str
    reason: str
    noise_std: float
    current_supported: bool
    lower: dict[str, float]
    upper: dict[str, float]
    inactive: tuple[str, ...] = ()
    p_values: dict[str, float] | None = None
    runs: tuple[PlannedRun, ...] = ()
    trials: int = 0
    feasible_trials: int = 0


class SetpointOptimizer(Engine):
    """Surrogate, trust region and a constrained Optuna search over a process's history.

    Args:
        surrogate: ``quadratic`` or ``gp`` (see :class:`~.ProcessSurrogate`).
        n_trials: Trials of the Optuna search.
        interval: Coverage of the gain's interval.
        max_relative_uncertainty: Largest half-width of the gain's interval, relative to the
            gain, for a ``change``; wider means ``confirm``.
        min_gain: Smallest expected gain worth a change (outcome units); None: a quarter of
            one run's noise.
        relevance: A parameter goes back to its current value when keeping the change adds
            less than this share of the gain.
        risk_aversion: Standard deviations of the expectation taken off in the search (0
            searches the expectation itself).
        screening: Largest p-value of a parameter's effect for it to be moved (None: every
            parameter may move).
        quantile: See :class:`~.TrustRegion`.
        margin: See :class:`~.TrustRegion`.
        neighbors: See :class:`~.TrustRegion`.
        doe_runs: Most confirmation runs, the control run included.
        random_state: Seed of the search, the surrogate and the design.

    Attributes:
        names_: Parameter names.
        p_values_: Screening p-value of each parameter's effect (NaN: too few runs to test).
        active_: Parameters the search may move.
        surrogate_: The fitted :class:`~.ProcessSurrogate`.
        region_: The fitted :class:`~.TrustRegion`.
        n_runs_: Runs learned from.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(1)
        >>> X = rng.normal([10.0, 20.0], [1.0, 2.0], size=(150, 2))
        >>> y = 60 - (X[:, 0] - 9.0) ** 2 - 0.25 * (X[:, 1] - 21.0) ** 2 + rng.normal(0, .2, 150)
        >>> optimizer = SetpointOptimizer(n_trials=120).fit(X, y, names=["tension", "force"])
        >>> proposal = optimizer.propose({"tension": 10.0, "force": 20.0})
        >>> proposal.decision, abs(proposal.proposed["tension"] - 9.0) < 0.3
        ('change', True)
    """

    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        "surrogate": [Options(SURROGATES)],
        "n_trials": [Interval(int, 10, None)],
        "interval": [Interval(float, 0.0, 1.0, closed="neither")],
        "max_relative_uncertainty": [Interval(float, 0.0, None, closed="neither")],
        "min_gain": [Interval(float, 0.0, None), InstanceOf((type(None),))],
        "relevance": [Interval(float, 0.0, 1.0, closed="left")],
        "risk_aversion": [Interval(float, 0.0, None)],
        "screening": [Interval(float, 0.0, 1.0), InstanceOf((type(None),))],
        "quantile": [Interval(float, 0.0, 0.5, closed="left")],
        "margin": [Interval(float, 0.0, None)],
        "neighbors": [Interval(int, 1, None)],
        "doe_runs": [Interval(int, MIN_RUNS, MAX_RUNS)],
        "random_state": [InstanceOf((int, type(None)))],
    }

    def __init__(
        self,
        *,
        surrogate: str = "quadratic",
        n_trials: int = 200,
        interval: float = 0.9,
        max_relative_uncertainty: float = 0.5,
        min_gain: float | None = None,
        relevance: float = 0.05,
        risk_aversion: float = 0.0,
        screening: float | None = 0.01,
        quantile: float = 0.01,
        margin: float = 0.25,
        neighbors: int = 5,
        doe_runs: int = 6,
        random_state: int | None = 0,
    ) -> None:
        self.surrogate = surrogate
        self.n_trials = n_trials
        self.interval = interval
        self.max_relative_uncertainty = max_relative_uncertainty
        self.min_gain = min_gain
        self.relevance = relevance
        self.risk_aversion = risk_aversion
        self.screening = screening
        self.quantile = quantile
        self.margin = margin
        self.neighbors = neighbors
        self.doe_runs = doe_runs
        self.random_state = random_state

    # -- learning -----------------------------------------------------------------------------
    def fit(self, X: Any, y: Any, *, names: Sequence[str] | None = None) -> SetpointOptimizer:
        """Learn the surrogate and the supported region from the runs.

        Args:
            X: Parameters of each run, ``(runs, parameters)`` (a DataFrame gives the names).
            y: Outcome of each run.
            names: Parameter names (default: the DataFrame's columns, else ``x0, x1, ...``).

        Returns:
            self

        Raises:
            EngineError: Too few runs, a parameter that never varied, or values not finite.
        """
        self._validate_parameters()
        if names is None:
            names = [str(c) for c in getattr(X, "columns", [])] or None
        matrix = as_matrix(X, "X")
        names = list(names) if names is not None else [f"x{j}" for j in range(matrix.shape[1])]
        if len(names) != matrix.shape[1] or len(set(names)) != len(names):
            raise ParameterError(
                f"names must give each of the {matrix.shape[1]} parameter(s) a distinct name; "
                f"got {names}"
            )
        self.surrogate_ = ProcessSurrogate(kind=self.surrogate, random_state=self.random_state).fit(
            matrix, y
        )
        self.region_ = TrustRegion(
            quantile=self.quantile,
            margin=self.margin,
            neighbors=min(self.neighbors, len(matrix) - 1),
        ).fit(matrix)
        self.names_ = tuple(names)
        self.n_runs_ = len(matrix)
        self.p_values_ = effect_p_values(matrix, y)
        self.active_ = tuple(
            name
            for name, p in zip(self.names_, self.p_values_, strict=True)
            if self.screening is None or not np.isfinite(p) or p <= self.screening
        )
        return self

    def predict(self, X: Any, *, return_std: bool = False) -> Any:
        """The surrogate's expected outcome (see :meth:`ProcessSurrogate.predict`)."""
        self._check_fitted()
        return self.surrogate_.predict(X, return_std=return_std)

    # -- proposing ----------------------------------------------------------------------------
    def _vector(self, values: Mapping[str, float] | Sequence[float], what: str) -> np.ndarray:
        if isinstance(values, Mapping):
            missing = [n for n in self.names_ if n not in values]
            if missing:
                raise ParameterError(
                    f"{what} lacks parameter(s) {missing}; it needs a value for each of "
                    f"{list(self.names_)}"
                )
            vector = np.array([float(values[n]) for n in self.names_])
        else:
            vector = np.asarray(values, dtype=float)
        if vector.shape != (len(self.names_),) or not np.isfinite(vector).all():
            raise ParameterError(
                f"{what} must be one finite value per parameter {list(self.names_)}; got {values!r}"
            )
        return vector

    def propose(
        self,
        current: Mapping[str, float] | Sequence[float],
        *,
        limits: Mapping[str, tuple[float | None, float | None]] | None = None,
        direction: str = "maximize",
    ) -> SetpointProposal:
        """The best supported setpoints, the expected gain over ``current`` and what to do.

        Args:
            current: The setpoints in use (name -> value, or one value per parameter).
            limits: Specification limits ``(low, high)`` per parameter name (None: open);
                no proposed or planned run leaves them.
            direction: ``maximize`` or ``minimize`` the outcome.

        Returns:
            A :class:`SetpointProposal`.

        Raises:
            ParameterError: A wrong ``direction`` or ``current``.
            EngineError: The limits leave no supported value of a parameter.
        """
        self._check_fitted()
        if direction not in ("maximize", "minimize"):
            raise ParameterError(f"direction must be 'maximize' or 'minimize'; got {direction!r}")
        sign = 1.0 if direction == "maximize" else -1.0
        base = self._vector(current, "current")
        spec: list[Limits] = [_limits(limits, name) for name in self.names_]
        lower, upper = self.region_.bounds(spec, names=self.names_)
        best, trials, feasible = self._search(base, lower, upper, sign)
        proposed = self._only_what_matters(best, base, lower, upper, sign)
        means, cov = self.surrogate_.predict_joint(np.vstack([proposed, base]))
        gain = sign * float(means[0] - means[1])
        gain_std = math.sqrt(max(float(cov[0, 0] + cov[1, 1] - 2.0 * cov[0, 1]), 0.0))
        z = float(norm.ppf(0.5 + self.interval / 2.0))
        low, high = gain - z * gain_std, gain + z * gain_std
        probability = float(norm.cdf(gain / gain_std)) if gain_std > 0 else float(gain > 0)
        noise = self.surrogate_.noise_std_
        threshold = self.min_gain if self.min_gain is not None else 0.25 * noise
        changed = tuple(
            n for j, n in enumerate(self.names_) if not np.isclose(proposed[j], base[j])
        )
        if not self.active_:
            decision = "keep"
            reason = (
                f"no parameter shows an effect on the outcome in the history (screening "
                f"p-values above {self.screening})"
            )
        elif not changed or gain < threshold:
            decision = "keep"
            reason = (
                f"the best supported setpoints gain {gain:.3g} on the current ones, less than "
                f"the {threshold:.3g} worth a change"
            )
        elif low > 0 and (high - low) / 2.0 <= self.max_relative_uncertainty * gain:
            decision = "change"
            reason = (
                f"expected gain {gain:.3g} ({self.interval:.0%} interval {low:.3g} to "
                f"{high:.3g}): the history is sure enough for a recipe change"
            )
        else:
            decision = "confirm"
            reason = (
                f"expected gain {gain:.3g} but the {self.interval:.0%} interval {low:.3g} to "
                f"{high:.3g} is too wide for a jump: confirm with a few runs first"
            )
        runs: tuple[PlannedRun, ...] = ()
        if decision == "confirm":
            runs = self._design(proposed, base, lower, upper)
        current_supported = bool(self.region_.contains(base[None, :], spec)[0])
        return SetpointProposal(
            names=self.names_,
            current=dict(zip(self.names_, map(float, base), strict=True)),
            proposed=dict(zip(self.names_, map(float, proposed), strict=True)),
            changed=changed,
            direction=direction,
            expected_current=float(means[1]),
            expected_proposed=float(means[0]),
            gain=gain,
            gain_low=low,
            gain_high=high,
            gain_std=gain_std,
            interval=self.interval,
            probability_of_gain=probability,
            decision=decision,
            reason=reason,
            noise_std=noise,
            current_supported=current_supported,
            lower=dict(zip(self.names_, map(float, lower), strict=True)),
            upper=dict(zip(self.names_, map(float, upper), strict=True)),
            inactive=tuple(n for n in self.names_ if n not in self.active_),
            p_values=dict(zip(self.names_, map(float, self.p_values_), strict=True)),
            runs=runs,
            trials=trials,
            feasible_trials=feasible,
        )

    def _objective(self, X: np.ndarray, sign: float) -> np.ndarray:
        mean, std = self.surrogate_.predict(X, return_std=True)
        return np.asarray(sign * mean - self.risk_aversion * std)

    def _search(
        self, base: np.ndarray, lower: np.ndarray, upper: np.ndarray, sign: float
    ) -> tuple[np.ndarray, int, int]:
        """Optuna's TPE over the box, the support distance as a constraint; the best point.

        Only the active parameters are searched; the others stay at their current value.
        """
        active = [j for j, name in enumerate(self.names_) if name in self.active_]
        if not active:
            return base.copy(), 0, 0

        def point_of(params: Mapping[str, float]) -> np.ndarray:
            point = base.copy()
            for j in active:
                point[j] = float(params[self.names_[j]])
            return point

        sampler = optuna.samplers.TPESampler(seed=self.random_state, multivariate=True)
        verbosity = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        try:
            study = optuna.create_study(direction="maximize", sampler=sampler)
            runs = self.region_.runs_.copy()
            inactive = [j for j in range(len(base)) if j not in active]
            runs[:, inactive] = base[inactive]
            inside = runs[((runs >= lower) & (runs <= upper))[:, active].all(axis=1)]
            seeds = [np.clip(base, lower, upper)]
            if len(inside):
                order = np.argsort(-self._objective(inside, sign))[:SEED_RUNS]
                seeds += [inside[i] for i in order]
            for seed in seeds:
                study.enqueue_trial({self.names_[j]: float(seed[j]) for j in active})

            def objective(trial: optuna.Trial) -> float:
                point = point_of(
                    {
                        self.names_[j]: trial.suggest_float(
                            self.names_[j], float(lower[j]), float(upper[j])
                        )
                        for j in active
                    }
                )
                trial.set_constraint("support", float(self.region_.support(point[None, :])[0]))
                return float(self._objective(point[None, :], sign)[0])

            study.optimize(objective, n_trials=self.n_trials)
        finally:
            optuna.logging.set_verbosity(verbosity)
        feasible = [
            (float(t.value), point_of(t.params))
            for t in study.trials
            if t.value is not None and self.region_.support(point_of(t.params)[None, :])[0] <= 0
        ]
        if not feasible:
            # every sampled point lies outside the cloud: stay where the plant is
            return base.copy(), len(study.trials), 0
        best = max(feasible, key=lambda item: item[0])[1]
        return best, len(study.trials), len(feasible)

    def _only_what_matters(
        self,
        point: np.ndarray,
        base: np.ndarray,
        lower: np.ndarray,
        upper: np.ndarray,
        sign: float,
    ) -> np.ndarray:
        """Put parameters back to their current value where their change adds too little.

        Too little is less than ``relevance`` of the whole gain, or a loss the surrogate cannot
        tell from none (below its one-sided ``interval`` bound): a parameter whose apparent
        effect is noise in the history is not moved.
        """
        point = point.copy()
        full_gain = float(
            self._objective(point[None, :], sign)[0] - self._objective(base[None, :], sign)[0]
        )
        if full_gain <= 0:
            return base.copy()
        z = float(norm.ppf(self.interval))
        while True:
            options = []
            for j in range(len(point)):
                if np.isclose(point[j], base[j]) or not lower[j] <= base[j] <= upper[j]:
                    continue
                trial = point.copy()
                trial[j] = base[j]
                if self.region_.support(trial[None, :])[0] > 0:
                    continue
                means, cov = self.surrogate_.predict_joint(np.vstack([point, trial]))
                loss = sign * float(means[0] - means[1])
                loss_std = math.sqrt(max(float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]), 0.0))
                needed = max(self.relevance * full_gain, z * loss_std)
                options.append((loss - needed, j))
            if not options:
                return point
            margin, j = min(options)
            if margin >= 0:
                return point
            point[j] = base[j]

    def _design(
        self, proposed: np.ndarray, base: np.ndarray, lower: np.ndarray, upper: np.ndarray
    ) -> tuple[PlannedRun, ...]:
        """Confirmation runs: face steps of half a standard deviation of the history."""
        step = np.maximum(np.abs(proposed - base) / 2.0, 0.5 * self.region_.scale_)
        design: list[DesignRun] = confirmation_runs(
            proposed,
            base,
            step,
            lower=lower,
            upper=upper,
            max_runs=self.doe_runs,
            random_state=self.random_state,
        )
        points = np.array([run.setpoints for run in design])
        expected, std = self.surrogate_.predict(points, return_std=True)
        return tuple(
            PlannedRun(
                dict(zip(self.names_, run.setpoints, strict=True)),
                run.role,
                float(expected[i]),
                float(std[i]),
            )
            for i, run in enumerate(design)
        )


def _limits(limits: Mapping[str, Limits] | None, name: str) -> Limits:
    low, high = (limits or {}).get(name, (None, None))
    return (None if low is None else float(low), None if high is None else float(high))


__all__ = ["DECISIONS", "PlannedRun", "SetpointOptimizer", "SetpointProposal"]
