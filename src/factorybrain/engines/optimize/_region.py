"""The region the history supports: where a surrogate may be believed.

Observational history covers the parameter space unevenly: setpoints wander around the recipe,
so the runs form a cloud, and a surrogate is only as good as the runs near the point it is asked
about. :class:`TrustRegion` keeps a search inside that cloud twice over:

* a **box** per parameter, from a low to a high quantile of the runs widened by a margin (the
  extreme runs alone do not make a region), cut by the parameter's specification limits;
* a **support** constraint: the distance (in standard deviations) from a point to its
  ``neighbors``-th nearest run may not exceed what the runs themselves show at the edge of the
  cloud (a high quantile of their own such distances). A point in an empty corner of the box,
  where no combination of parameters was ever run, is outside.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from scipy.spatial import cKDTree

from factorybrain.engines._base import Constraint, Engine, Interval
from factorybrain.engines.optimize._surrogate import as_matrix
from factorybrain.exceptions import EngineError

#: Specification limits of one parameter: ``(low, high)``, None where open.
Limits = tuple[float | None, float | None]


class TrustRegion(Engine):
    """Where the runs of a history support a prediction.

    Args:
        quantile: The box spans the ``quantile`` to ``1 - quantile`` quantiles of each
            parameter's runs.
        margin: Widening of the box on each side, in standard deviations of the parameter.
        neighbors: Which nearest run the support distance is measured to (the k-th).
        radius_quantile: The support radius is this quantile of the runs' own distances to
            their k-th nearest other run, times ``1 + margin``.

    Attributes:
        lower_: Lower end of the box per parameter (before specification limits).
        upper_: Upper end of the box per parameter.
        mean_: Mean of each parameter over the runs.
        scale_: Standard deviation of each parameter over the runs.
        radius_: Largest supported distance to the k-th nearest run, in standard deviations.
        n_runs_: Number of runs.
        runs_: The runs' parameters, ``(runs, parameters)``.
    """

    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        "quantile": [Interval(float, 0.0, 0.5, closed="left")],
        "margin": [Interval(float, 0.0, None)],
        "neighbors": [Interval(int, 1, None)],
        "radius_quantile": [Interval(float, 0.0, 1.0, closed="right")],
    }

    def __init__(
        self,
        *,
        quantile: float = 0.01,
        margin: float = 0.25,
        neighbors: int = 5,
        radius_quantile: float = 0.95,
    ) -> None:
        self.quantile = quantile
        self.margin = margin
        self.neighbors = neighbors
        self.radius_quantile = radius_quantile

    def fit(self, X: Any) -> TrustRegion:
        """Learn the region from the parameters of the runs, ``(runs, parameters)``.

        Raises:
            EngineError: Fewer runs than ``neighbors + 1``, or a parameter that never varied.
        """
        self._validate_parameters()
        X = as_matrix(X, "X")
        if len(X) <= self.neighbors:
            raise EngineError(
                f"a trust region measured to the {self.neighbors}th nearest run needs more "
                f"than {self.neighbors} runs; got {len(X)}"
            )
        scale = X.std(axis=0)
        if (scale <= 0).any():
            flat = [int(j) for j in np.flatnonzero(scale <= 0)]
            raise EngineError(f"parameter column(s) {flat} have the same value in every run")
        self.n_runs_ = len(X)
        self.runs_ = X.copy()
        self.mean_ = X.mean(axis=0)
        self.scale_ = scale
        self.lower_ = np.quantile(X, self.quantile, axis=0) - self.margin * scale
        self.upper_ = np.quantile(X, 1.0 - self.quantile, axis=0) + self.margin * scale
        self._points = (X - self.mean_) / self.scale_
        self._tree = cKDTree(self._points)
        # each run's distance to its k-th nearest *other* run: the first neighbour is itself
        own, _ = self._tree.query(self._points, k=self.neighbors + 1)
        own = np.asarray(own).reshape(len(X), -1)[:, -1]
        self.radius_ = float(np.quantile(own, self.radius_quantile) * (1.0 + self.margin))
        return self

    def distance(self, X: Any) -> np.ndarray:
        """Distance of each row of ``X`` to its ``neighbors``-th nearest run (standard units)."""
        self._check_fitted()
        Z = (as_matrix(X, "X") - self.mean_) / self.scale_
        found, _ = self._tree.query(Z, k=self.neighbors)
        return np.asarray(found, dtype=float).reshape(len(Z), -1)[:, -1]

    def support(self, X: Any) -> np.ndarray:
        """How far each row lies outside the supported cloud: ``<= 0`` is supported."""
        return self.distance(X) - self.radius_

    def bounds(
        self, limits: Sequence[Limits] | None = None, *, names: Sequence[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The box cut by specification ``limits`` (``(low, high)`` per parameter, None: open).

        Args:
            limits: One ``(low, high)`` per parameter, in column order.
            names: Parameter names, for the error message.

        Raises:
            EngineError: A parameter's specification excludes every value the runs support.
        """
        self._check_fitted()
        lower, upper = self.lower_.copy(), self.upper_.copy()
        for j, (low, high) in enumerate(limits or []):
            if low is not None:
                lower[j] = max(lower[j], float(low))
            if high is not None:
                upper[j] = min(upper[j], float(high))
            if lower[j] > upper[j]:
                name = names[j] if names is not None else f"parameter column {j}"
                raise EngineError(
                    f"{name}: its limits [{low}, {high}] leave no value that the runs support "
                    f"(they span {self.lower_[j]:.6g} to {self.upper_[j]:.6g})"
                )
        return lower, upper

    def contains(self, X: Any, limits: Sequence[Limits] | None = None) -> np.ndarray:
        """Whether each row of ``X`` is inside the box (cut by ``limits``) and supported."""
        matrix = as_matrix(X, "X")
        lower, upper = self.bounds(limits)
        inside = ((matrix >= lower - 1e-12) & (matrix <= upper + 1e-12)).all(axis=1)
        return np.asarray(inside & (self.support(matrix) <= 0.0))


__all__ = ["Limits", "TrustRegion"]
