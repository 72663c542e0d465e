"""A surrogate of a process: the expected outcome of a run as a smooth function of its parameters.

Two kinds, one contract (inputs are standardised inside, so parameters in newtons and in
revolutions per minute weigh alike):

* ``quadratic`` (the default): the response surface of classical process optimisation (a full
  second-order polynomial fitted by least squares), with the covariance of its coefficients.
  Exact for a process that is quadratic near its optimum, fast, and it needs few runs; it
  extrapolates without limit, which is why the search stays inside the :class:`~.TrustRegion`.
* ``gp``: a Gaussian process with a Matern 5/2 kernel, one length scale per parameter and a
  white-noise term. Away from the runs it falls back to the mean and its uncertainty grows, so it
  never promises a gain where the plant has not been; a parameter that does not matter gets a
  long length scale (the response is flat along it). For responses that are not smooth bowls;
  slower (its fit grows with the cube of the runs).

Both give the joint covariance of the expected outcome at several points
(:meth:`ProcessSurrogate.predict_joint`), which is what the uncertainty of a *gain* (the
difference between two points) needs: the two predictions share most of their error.
"""

from __future__ import annotations

import warnings
from itertools import combinations_with_replacement
from typing import Any, ClassVar

import numpy as np
from scipy.stats import f as f_distribution
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

from factorybrain.engines._base import Constraint, Engine, InstanceOf, Interval, Options
from factorybrain.exceptions import EngineError

#: Surrogate kinds :class:`ProcessSurrogate` knows.
SURROGATES = ("gp", "quadratic")


def as_matrix(X: Any, what: str) -> np.ndarray:
    """``X`` as a 2-D float array of finite values.

    Raises:
        EngineError: Naming ``what``, the shape expected and the problem found.
    """
    matrix = np.asarray(X, dtype=float)
    if matrix.ndim == 1:
        matrix = matrix.reshape(1, -1)
    if matrix.ndim != 2:
        raise EngineError(f"{what} must be a 2-D array (runs x parameters); got {matrix.ndim}-D")
    if not np.isfinite(matrix).all():
        rows = sorted({int(i) for i in np.argwhere(~np.isfinite(matrix))[:, 0]})
        raise EngineError(
            f"{what} must hold finite numbers only; rows {rows[:10]} have NaN or infinite values"
        )
    return matrix


def quadratic_features(Z: np.ndarray) -> np.ndarray:
    """Constant, linear, square and interaction terms of the standardised inputs ``Z``."""
    columns = [np.ones(len(Z))] + [Z[:, j] for j in range(Z.shape[1])]
    columns += [Z[:, i] * Z[:, j] for i, j in combinations_with_replacement(range(Z.shape[1]), 2)]
    return np.column_stack(columns)


def effect_p_values(X: Any, y: Any) -> np.ndarray:
    """Whether each parameter matters: p-value of all its terms in a quadratic response surface.

    The F-test of the full second-order model against the model without the parameter's linear,
    square and interaction terms. NaN for every parameter when the runs are too few for the full
    model.
    """
    matrix = as_matrix(X, "X")
    y = np.asarray(y, dtype=float).ravel()
    d = matrix.shape[1]
    scale = matrix.std(axis=0)
    scale[scale == 0] = 1.0
    Z = (matrix - matrix.mean(axis=0)) / scale
    full = quadratic_features(Z)
    dof = len(y) - np.linalg.matrix_rank(full)
    if dof < 2:
        return np.full(d, np.nan)
    residual = y - full @ np.linalg.lstsq(full, y, rcond=None)[0]
    rss_full = float(residual @ residual)
    terms: list[tuple[int, ...]] = [()] + [(j,) for j in range(d)]
    terms += [tuple(pair) for pair in combinations_with_replacement(range(d), 2)]
    p_values = np.full(d, np.nan)
    for j in range(d):
        kept = [k for k, term in enumerate(terms) if j not in term]
        reduced = full[:, kept]
        residual = y - reduced @ np.linalg.lstsq(reduced, y, rcond=None)[0]
        rss_reduced = float(residual @ residual)
        dropped = full.shape[1] - len(kept)
        if rss_full <= 0:
            p_values[j] = 0.0 if rss_reduced > 0 else 1.0
            continue
        statistic = ((rss_reduced - rss_full) / dropped) / (rss_full / dof)
        p_values[j] = float(f_distribution.sf(statistic, dropped, dof))
    return p_values


class ProcessSurrogate(Engine):
    """The expected outcome of a run as a function of its process parameters.

    Args:
        kind: ``quadratic`` (second-order response surface) or ``gp`` (Gaussian process).
        n_restarts: Restarts of the Gaussian process's hyper-parameter search (more is slower,
            less likely to stop at a poor local optimum).
        random_state: Seed of those restarts.

    Attributes:
        n_features_in_: Number of parameters.
        mean_: Mean of each parameter over the runs (standardisation).
        scale_: Standard deviation of each parameter over the runs.
        noise_std_: Standard deviation of one run's outcome around the surrogate (in-sample).
        length_scales_: (``gp``) Length scale of each parameter in standard deviations: long
            means the outcome hardly changes along it.
        coef_: (``quadratic``) Coefficients of :func:`quadratic_features`.
        coef_cov_: (``quadratic``) Their covariance.
        y_mean_: (``gp``) Mean of the outcome (the process is fitted to the standardised one).
        y_scale_: (``gp``) Its standard deviation.

    Example:
        >>> import numpy as np
        >>> X = np.random.default_rng(0).uniform(-2, 2, size=(60, 2))
        >>> y = 10 - (X[:, 0] - 0.5) ** 2 - X[:, 1] ** 2
        >>> surrogate = ProcessSurrogate().fit(X, y)
        >>> round(float(surrogate.predict([[0.5, 0.0]])[0]), 3)
        10.0
    """

    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        "kind": [Options(SURROGATES)],
        "n_restarts": [Interval(int, 0, None)],
        "random_state": [InstanceOf((int, type(None)))],
    }

    def __init__(
        self, *, kind: str = "quadratic", n_restarts: int = 2, random_state: int | None = 0
    ) -> None:
        self.kind = kind
        self.n_restarts = n_restarts
        self.random_state = random_state

    def minimum_runs(self, n_parameters: int) -> int:
        """Fewest runs that can fit ``n_parameters``: a quadratic needs one more than its terms."""
        terms = 1 + n_parameters + n_parameters * (n_parameters + 1) // 2
        return terms + 1 if self.kind == "quadratic" else max(n_parameters + 3, 5)

    def fit(self, X: Any, y: Any) -> ProcessSurrogate:
        """Learn the outcome ``y`` of each run from its parameters ``X``.

        Args:
            X: Parameters of each run, ``(runs, parameters)``.
            y: Outcome of each run.

        Returns:
            self

        Raises:
            EngineError: Too few runs for the kind, a parameter that never varied, or values
                that are not finite.
        """
        self._validate_parameters()
        X = as_matrix(X, "X")
        y = np.asarray(y, dtype=float).ravel()
        if len(y) != len(X):
            raise EngineError(f"X has {len(X)} runs but y has {len(y)} outcomes")
        if not np.isfinite(y).all():
            raise EngineError("y must hold finite outcomes only; some are NaN or infinite")
        needed = self.minimum_runs(X.shape[1])
        if len(X) < needed:
            raise EngineError(
                f"a {self.kind} surrogate of {X.shape[1]} parameter(s) needs at least {needed} "
                f"runs; got {len(X)}"
            )
        scale = X.std(axis=0)
        flat = [int(j) for j in np.flatnonzero(scale <= 1e-12 * np.maximum(1.0, np.abs(X).max(0)))]
        if flat:
            raise EngineError(
                f"parameter column(s) {flat} have the same value in every run: their effect "
                "cannot be learned; leave them out"
            )
        self.n_features_in_ = X.shape[1]
        self.mean_ = X.mean(axis=0)
        self.scale_ = scale
        Z = (X - self.mean_) / self.scale_
        if self.kind == "gp":
            self._fit_gp(Z, y)
        else:
            self._fit_quadratic(Z, y)
        self.noise_std_ = float(np.std(y - self.predict(X)))
        return self

    def _fit_gp(self, Z: np.ndarray, y: np.ndarray) -> None:
        d = Z.shape[1]
        kernel = ConstantKernel(1.0, (1e-3, 1e3)) * Matern(
            length_scale=np.ones(d), length_scale_bounds=(5e-2, 1e3), nu=2.5
        ) + WhiteKernel(0.1, (1e-6, 1e1))
        model = GaussianProcessRegressor(
            kernel, n_restarts_optimizer=self.n_restarts, random_state=self.random_state
        )
        # The outcome is standardised here rather than by the regressor, so that the scale
        # of its covariance is known (predict_joint takes the noise of one run off it).
        self.y_mean_ = float(y.mean())
        self.y_scale_ = float(y.std()) or 1.0
        with warnings.catch_warnings():
            # A length scale at its upper bound says the outcome is flat along that parameter,
            # which is an answer, not a failure; the optimiser reports it as non-convergence.
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(Z, (y - self.y_mean_) / self.y_scale_)
        self.model_ = model
        matern = model.kernel_.k1.k2  # type: ignore[attr-defined]
        self.length_scales_ = np.atleast_1d(np.asarray(matern.length_scale, dtype=float))

    def _fit_quadratic(self, Z: np.ndarray, y: np.ndarray) -> None:
        features = quadratic_features(Z)
        coef, *_ = np.linalg.lstsq(features, y, rcond=None)
        residual = y - features @ coef
        dof = max(len(y) - features.shape[1], 1)
        sigma2 = float(residual @ residual) / dof
        self.coef_ = coef
        self.coef_cov_ = sigma2 * np.linalg.pinv(features.T @ features)

    def _standardise(self, X: Any) -> np.ndarray:
        self._check_fitted()
        matrix = as_matrix(X, "X")
        if matrix.shape[1] != self.n_features_in_:
            raise EngineError(
                f"X has {matrix.shape[1]} parameter(s); the surrogate was fitted on "
                f"{self.n_features_in_}"
            )
        return (matrix - self.mean_) / self.scale_

    def predict(self, X: Any, *, return_std: bool = False) -> Any:
        """Expected outcome at each row of ``X`` (and the standard deviation of that mean).

        Returns:
            The means, or ``(means, standard deviations)`` with ``return_std``.
        """
        mean, cov = self.predict_joint(X)
        if return_std:
            return mean, np.sqrt(np.clip(np.diag(cov), 0.0, None))
        return mean

    def predict_joint(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """Expected outcome at the rows of ``X`` and the covariance of those expectations.

        The covariance is that of the mean response (what the model does not know), without
        the noise of a single run.
        """
        Z = self._standardise(X)
        if self.kind == "quadratic":
            features = quadratic_features(Z)
            return features @ self.coef_, features @ self.coef_cov_ @ features.T
        mean, cov = self.model_.predict(Z, return_cov=True)
        # The fitted covariance holds the white noise of a single run on its diagonal.
        noise = float(self.model_.kernel_.k2.noise_level)  # type: ignore[attr-defined]
        cov = (np.asarray(cov, dtype=float) - noise * np.eye(len(Z))) * self.y_scale_**2
        return self.y_mean_ + self.y_scale_ * np.asarray(mean, dtype=float), cov


__all__ = [
    "SURROGATES",
    "ProcessSurrogate",
    "as_matrix",
    "effect_p_values",
    "quadratic_features",
]
