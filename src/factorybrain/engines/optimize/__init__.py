"""Process optimisation: better setpoints from a plant's own history, and how sure that is.

A :class:`ProcessSurrogate` (Gaussian process or quadratic response surface) learns a run's
outcome from its parameters; a :class:`TrustRegion` says where the runs support it; a
:class:`SetpointOptimizer` searches that region with Optuna under specification limits, gives
the expected gain over the setpoints in use with its interval, and decides between a recipe
change, a few confirmation runs (:func:`confirmation_runs`) and keeping the recipe.

Example:
    >>> import numpy as np
    >>> from factorybrain.engines.optimize import SetpointOptimizer
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal([12.0, 25.0], [1.0, 1.5], size=(200, 2))
    >>> y = 58 - (X[:, 0] - 11.5) ** 2 - 0.5 * (X[:, 1] - 26) ** 2 + rng.normal(0, 0.3, 200)
    >>> optimizer = SetpointOptimizer(n_trials=120).fit(X, y, names=["tension", "force"])
    >>> proposal = optimizer.propose({"tension": 12.0, "force": 25.0})
    >>> proposal.decision, proposal.gain > 0.5
    ('change', True)
"""

from __future__ import annotations

from factorybrain.engines.optimize._doe import MAX_RUNS, MIN_RUNS, DesignRun, confirmation_runs
from factorybrain.engines.optimize._optimizer import (
    DECISIONS,
    PlannedRun,
    SetpointOptimizer,
    SetpointProposal,
)
from factorybrain.engines.optimize._region import Limits, TrustRegion
from factorybrain.engines.optimize._surrogate import SURROGATES, ProcessSurrogate

__all__ = [
    "DECISIONS",
    "DesignRun",
    "Limits",
    "MAX_RUNS",
    "MIN_RUNS",
    "PlannedRun",
    "ProcessSurrogate",
    "SURROGATES",
    "SetpointOptimizer",
    "SetpointProposal",
    "TrustRegion",
    "confirmation_runs",
]
