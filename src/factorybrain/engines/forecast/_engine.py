"""DemandForecaster: classify, cross-validate, choose and combine, forecast with quantiles."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from factorybrain import compute
from factorybrain.engines._base import Engine, InstanceOf, Interval, Options
from factorybrain.engines.forecast._candidates import POOLED, candidate_models, fallback_model
from factorybrain.engines.forecast._classify import (
    DEMAND_CLASSES,
    ERRATIC,
    NO_DEMAND,
    SMOOTH,
    classify_demand,
)
from factorybrain.engines.forecast._distribution import monotone_quantiles, sample_demand
from factorybrain.engines.forecast._pooled import (
    PooledModel,
    fit_pooled,
    predict_pooled,
    rmsse_scale,
)
from factorybrain.engines.forecast._prepare import DemandMatrix, to_matrix
from factorybrain.engines.forecast._warnings import describe_ids, warn_fallback
from factorybrain.exceptions import ParameterError

COMBINATION = "Combination"
HISTORIC_AVERAGE = "HistoricAverage"
ZERO = "Zero"

MIN_BATCH_SERIES = 50
"""Fewest series in a batch of statsforecast work sent to the compute pool (see
:func:`series_batches`): a batch costs a task, a copy of its rows and a fresh StatsForecast,
milliseconds, where the models of fifty series take tenths of a second (carparts' intermittent
series: about 5 ms a series)."""


class DemandForecaster(Engine):
    """Forecast every series of a long demand table, choosing the model per series.

    ``fit`` classifies each series (Syntetos-Boylan), scores the statsforecast models suited to its
    class and a pooled gradient-boosted model on rolling-origin cross-validation windows (RMSSE),
    adds a combination (the mean of the class's three best candidates), and keeps the candidate
    with the lowest score, per demand class by default or per series (``selection="series"``),
    each series' own score shrunk towards its class average so that a lucky window does not
    decide. Quantiles and lead-time demand come from a compound distribution for
    intermittent demand and a normal one for smooth demand (:mod:`._distribution`).

    Fallbacks, each with a :class:`~factorybrain.engines.forecast.DataQualityWarning`: gaps,
    missing and negative values are repaired (:func:`to_matrix`); an all-zero history is forecast
    as zero; a history shorter than ``min_history`` periods gets its historic average; a history
    too short for cross-validation gets the pooled model (or ADIDA / SES without one); a new item
    asked for in :meth:`predict` gets the median forecast of the items with demand.

    Args:
        horizon: Periods to forecast.
        quantiles: Quantile levels reported by :meth:`predict`.
        n_windows: Cross-validation windows.
        step_size: Periods between the cross-validation cut-offs (``None``: half the horizon).
        season_length: Season length for the smooth-demand models (1: none).
        pooled: ``"auto"`` fits the pooled model when there are enough series and periods,
            ``"never"`` does not.
        min_history: Fewer periods than this are a short history.
        freq: Frequency of timestamp ``ds`` (``None`` infers it; integer ``ds`` needs ``None``).
        selection: ``"class"`` gives every series of a demand class the candidate with the best
            mean cross-validation RMSSE in that class; ``"series"`` lets each series choose, its
            own score weighted by ``series_weight`` against the class mean. On carparts the
            class-level choice was better out of sample (see benchmarks/README.md).
        series_weight: Weight of a series' own score when ``selection="series"``.
        n_samples: Monte Carlo paths per series for quantiles and lead-time demand.
        n_jobs: Parallel workers for statsforecast (LightGBM runs on one thread: the pooled model
            is small, and thread contention on a busy machine cost more than it gained).
        random_state: Seed for the pooled model and the Monte Carlo draws.

    Example:
        >>> table = pd.DataFrame({"unique_id": "p1", "ds": range(24), "y": [0, 2] * 12})
        >>> forecaster = DemandForecaster(horizon=3, pooled="never").fit(table)
        >>> forecaster.predict()[["unique_id", "ds"]].shape
        (3, 2)
    """

    _parameter_constraints: ClassVar = {
        "horizon": [Interval(int, 1, None)],
        "quantiles": [InstanceOf((tuple, list))],
        "n_windows": [Interval(int, 1, None)],
        "step_size": [Interval(int, 1, None), InstanceOf((type(None),))],
        "season_length": [Interval(int, 1, None)],
        "pooled": [Options({"auto", "never"})],
        "min_history": [Interval(int, 2, None)],
        "freq": [InstanceOf((str, type(None)))],
        "selection": [Options({"class", "series"})],
        "series_weight": [Interval(float, 0, 1)],
        "n_samples": [Interval(int, 10, None)],
        "n_jobs": [Interval(int, 1, None)],
        "random_state": [Interval(int, 0, None)],
    }

    def __init__(
        self,
        *,
        horizon: int = 12,
        quantiles: tuple[float, ...] = (0.1, 0.5, 0.9),
        n_windows: int = 2,
        step_size: int | None = None,
        season_length: int = 1,
        pooled: str = "auto",
        min_history: int = 6,
        freq: str | None = None,
        selection: str = "class",
        series_weight: float = 0.5,
        n_samples: int = 1000,
        n_jobs: int = 1,
        random_state: int = 0,
    ) -> None:
        self.horizon = horizon
        self.quantiles = quantiles
        self.n_windows = n_windows
        self.step_size = step_size
        self.season_length = season_length
        self.pooled = pooled
        self.min_history = min_history
        self.freq = freq
        self.selection = selection
        self.series_weight = series_weight
        self.n_samples = n_samples
        self.n_jobs = n_jobs
        self.random_state = random_state

    # ------------------------------------------------------------------ fit
    def fit(self, df: pd.DataFrame) -> DemandForecaster:
        """Fit on a long table with columns ``unique_id``, ``ds`` and ``y``.

        Returns:
            ``self``, with ``selection_`` (one row per series: class, ADI, CV squared, chosen
            model, its cross-validation RMSSE and any fallback) and ``forecasts_`` set.
        """
        self._validate_parameters()
        levels = np.asarray(self.quantiles, dtype=float)
        if levels.size == 0 or ((levels <= 0) | (levels >= 1)).any():
            raise ParameterError(
                f"The 'quantiles' parameter of DemandForecaster must hold levels in (0, 1). "
                f"Got {self.quantiles!r} instead."
            )
        matrix = to_matrix(df, self.freq)
        self._matrix = matrix
        n_series = len(matrix.ids)
        lengths = matrix.lengths
        profiles = [classify_demand(matrix.history(i)) for i in range(n_series)]
        classes = np.array([p.demand_class for p in profiles])
        step = self.step_size or max(self.horizon // 2, 1)
        cv_length = self.min_history + self.horizon + step * (self.n_windows - 1)
        no_demand = classes == NO_DEMAND
        short = (lengths < self.min_history) & ~no_demand
        eligible = (lengths >= cv_length) & ~no_demand
        middle = ~no_demand & ~short & ~eligible
        if no_demand.any():
            ids = [matrix.ids[i] for i in np.flatnonzero(no_demand)]
            warn_fallback(
                f"{len(ids)} series have no demand in their history ({describe_ids(ids)}): "
                "their forecast and every quantile are 0 until demand is recorded."
            )
        if short.any():
            ids = [matrix.ids[i] for i in np.flatnonzero(short)]
            warn_fallback(
                f"{len(ids)} series have fewer than {self.min_history} periods of history "
                f"({describe_ids(ids)}): they are forecast by their historic average."
            )

        scale = rmsse_scale(matrix.values)
        points = np.zeros((n_series, self.horizon))
        model_of = np.full(n_series, ZERO, dtype=object)
        score_of = np.full(n_series, np.nan)
        fallback_of = np.full(n_series, "", dtype=object)
        fallback_of[no_demand] = "no demand in history"
        fallback_of[short] = f"history shorter than {self.min_history} periods"
        for row in np.flatnonzero(short):
            points[row] = matrix.history(row).mean()
            model_of[row] = HISTORIC_AVERAGE
        sigma = np.array([np.std(matrix.history(i)) for i in range(n_series)])

        use_pooled = self.pooled == "auto" and n_series >= 30
        self._pooled_rmsse = None
        self._pooled_mean = None
        if use_pooled:
            self._pooled_rmsse = self._fit_pooled(matrix.values, "rmsse")
        pooled_point = None
        if self._pooled_rmsse is not None:
            live = ~no_demand & ~short
            pooled_point = np.zeros(n_series)
            pooled_point[live] = predict_pooled(self._pooled_rmsse, matrix.values[live])

        for row in np.flatnonzero(middle):
            if pooled_point is not None:
                points[row] = pooled_point[row]
                model_of[row] = POOLED
            else:
                points[row] = self._simple_forecast(matrix.history(row), classes[row])
                model_of[row] = "ADIDA" if classes[row] not in (SMOOTH, ERRATIC) else "SESOpt"
            fallback_of[row] = "history too short for cross-validation"

        self._cv_windows: dict[str, tuple[list[str], np.ndarray]] = {}
        self._pooled_cv: dict[int, PooledModel | None] = {}
        for demand_class in DEMAND_CLASSES:
            rows = np.flatnonzero(eligible & (classes == demand_class))
            if rows.size == 0:
                continue
            chosen, chosen_points, chosen_scores, chosen_sigma = self._select(
                matrix, rows, demand_class, scale, step, pooled_point
            )
            points[rows] = chosen_points
            model_of[rows] = chosen
            score_of[rows] = chosen_scores
            sigma[rows] = chosen_sigma

        self._points = points
        self._sigma = sigma
        self._classes = classes
        self._distribution_level: np.ndarray | None = None
        self.selection_ = pd.DataFrame(
            {
                "unique_id": matrix.ids,
                "demand_class": classes,
                "adi": [p.adi for p in profiles],
                "cv2": [p.cv2 for p in profiles],
                "n_periods": lengths,
                "model": model_of,
                "cv_rmsse": score_of,
                "fallback": fallback_of,
            }
        )
        self.forecasts_ = self._long_points(np.arange(n_series), points)
        return self

    def _fit_pooled(self, values: np.ndarray, objective: str) -> PooledModel | None:
        return fit_pooled(
            values,
            self.horizon,
            objective=objective,
            min_history=self.min_history,
            n_jobs=1,
            random_state=self.random_state,
        )

    def _pooled_at(self, values: np.ndarray, end: int) -> PooledModel | None:
        """The pooled model fitted on the first ``end`` periods, fitted once per cut-off."""
        if end not in self._pooled_cv:
            self._pooled_cv[end] = self._fit_pooled(values[:, :end], "rmsse")
        return self._pooled_cv[end]

    @staticmethod
    def _simple_forecast(history: np.ndarray, demand_class: str) -> float:
        from statsforecast.models import ADIDA, SimpleExponentialSmoothingOptimized

        model = (
            SimpleExponentialSmoothingOptimized() if demand_class in (SMOOTH, ERRATIC) else ADIDA()
        )
        return float(model.forecast(y=history.astype(float), h=1)["mean"][0])

    def _long_table(self, matrix: DemandMatrix, rows: np.ndarray, end: int) -> pd.DataFrame:
        values = matrix.values[rows, :end]
        observed = np.isfinite(values)
        row_index, period = np.nonzero(observed)
        return pd.DataFrame(
            {
                "unique_id": rows[row_index],
                "ds": period,
                "y": values[observed],
            }
        )

    def _run_models(
        self,
        table: pd.DataFrame,
        demand_class: str,
        *,
        cv_windows: int,
        step: int,
        only: set[str] | None = None,
    ) -> pd.DataFrame:
        """Cross-validate (``cv_windows`` > 0) or forecast the class's models on ``table``.

        The series are split into batches (:func:`series_batches`) that run on the compute pool
        (:mod:`factorybrain.compute`: here, or on a Ray cluster); statsforecast fits every series
        on its own, so the batches' results, put back together in the series' order, are those
        of one call on the whole table. Run here, the table stays one batch.
        """
        work = compute.pool()
        batches = series_batches(table, work.workers)
        run = _ModelRun(
            demand_class=demand_class,
            season_length=self.season_length,
            horizon=self.horizon,
            n_jobs=self.n_jobs,
            cv_windows=cv_windows,
            step=step,
            only=None if only is None else frozenset(only),
        )
        label = f"forecast: {'cross-validation' if cv_windows else 'forecasts'} ({demand_class})"
        results = work.map(_run_batch, batches, run, label=label)
        if len(results) == 1:
            return results[0]
        return pd.concat(results, ignore_index=True)

    def _select(
        self,
        matrix: DemandMatrix,
        rows: np.ndarray,
        demand_class: str,
        scale: np.ndarray,
        step: int,
        pooled_point: np.ndarray | None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        n_periods = matrix.values.shape[1]
        horizon = self.horizon
        table = self._long_table(matrix, rows, n_periods)
        cv = self._run_models(table, demand_class, cv_windows=self.n_windows, step=step)
        cv = cv.sort_values(["unique_id", "cutoff", "ds"])
        names = [c for c in cv.columns if c not in ("unique_id", "ds", "cutoff", "y")]
        shape = (rows.size, self.n_windows, horizon)
        actual = cv["y"].to_numpy(float).reshape(shape)
        cv_forecasts = {name: cv[name].to_numpy(float).reshape(shape) for name in names}
        if pooled_point is not None:
            cutoffs = np.sort(cv["cutoff"].unique())
            pooled_cv = np.zeros(shape)
            fitted = np.zeros(len(cutoffs), dtype=bool)
            for window, cutoff in enumerate(cutoffs):
                end = int(cutoff) + 1
                model = self._pooled_at(matrix.values, end)
                if model is not None:
                    fitted[window] = True
                    level = predict_pooled(model, matrix.values[rows, :end])
                    pooled_cv[:, window, :] = level[:, None]
            if fitted.any():
                # The earliest cut-offs may leave too little history to train the pooled model
                # (fewer than 200 rows). Every candidate is then scored on the windows where the
                # pooled model could be trained, rather than leaving it out of the choice for
                # good although the whole history trains it well.
                cv_forecasts[POOLED] = pooled_cv
                names.append(POOLED)
                actual = actual[:, fitted]
                cv_forecasts = {name: cv_forecasts[name][:, fitted] for name in names}

        def window_scores(forecast: np.ndarray) -> np.ndarray:
            rmse = np.sqrt(np.mean((np.nan_to_num(forecast) - actual) ** 2, axis=2))
            return rmse / scale[rows][:, None]

        def score(forecast: np.ndarray) -> np.ndarray:
            return window_scores(forecast).mean(axis=1)

        scores = {name: score(cv_forecasts[name]) for name in names}
        ranking = sorted(names, key=lambda name: scores[name].mean())
        top = ranking[:3]
        cv_forecasts[COMBINATION] = np.mean([cv_forecasts[name] for name in top], axis=0)
        scores[COMBINATION] = score(cv_forecasts[COMBINATION])
        names.append(COMBINATION)

        self._cv_windows[demand_class] = (
            list(names),
            np.stack([window_scores(cv_forecasts[name]) for name in names], axis=2),
        )
        score_matrix = np.column_stack([scores[name] for name in names])
        # Per-series scores on a few windows of intermittent demand are mostly noise: a series'
        # own score only counts with weight ``series_weight`` against its class's mean score.
        weight = 0.0 if self.selection == "class" else self.series_weight
        shrunk = weight * score_matrix + (1 - weight) * score_matrix.mean(axis=0, keepdims=True)
        choice = np.argmin(shrunk, axis=1)

        # Only the models some series chose (or the combination's members) are refitted on the
        # whole history: when the pooled model wins, no statsforecast model runs again.
        chosen_set = {names[index] for index in np.unique(choice)}
        if COMBINATION in chosen_set:
            chosen_set |= set(top)
        needed = chosen_set - {POOLED, COMBINATION}
        final_points: dict[str, np.ndarray] = {}
        if needed:
            final = self._run_models(table, demand_class, cv_windows=0, step=step, only=needed)
            final = final.sort_values(["unique_id", "ds"])
            final_points = {
                name: final[name].to_numpy(float).reshape(rows.size, horizon) for name in needed
            }
        if POOLED in chosen_set:
            assert pooled_point is not None  # the pooled model is a candidate only with it
            final_points[POOLED] = np.repeat(pooled_point[rows][:, None], horizon, axis=1)
        if COMBINATION in chosen_set:
            final_points[COMBINATION] = np.mean([final_points[name] for name in top], axis=0)
        blank = np.zeros((rows.size, horizon))
        stacked = np.stack([np.nan_to_num(final_points.get(name, blank)) for name in names], axis=1)
        chosen_points = np.maximum(stacked[np.arange(rows.size), choice], 0.0)
        chosen_names = np.array(names, dtype=object)[choice]
        chosen_scores = score_matrix[np.arange(rows.size), choice]
        errors = np.stack([cv_forecasts[name] for name in names], axis=1)[
            np.arange(rows.size), choice
        ]
        chosen_sigma = np.sqrt(np.mean((np.nan_to_num(errors) - actual) ** 2, axis=(1, 2)))
        self._combination_members = getattr(self, "_combination_members", {})
        self._combination_members[demand_class] = top
        return chosen_names, chosen_points, chosen_scores, chosen_sigma

    # -------------------------------------------------------------- predict
    def _long_points(self, rows: np.ndarray, points: np.ndarray) -> pd.DataFrame:
        matrix = self._matrix
        n_periods = matrix.values.shape[1]
        future = np.arange(n_periods, n_periods + points.shape[1])
        ds = matrix.index.to_ds(np.concatenate([[0], future]))[1:]
        return pd.DataFrame(
            {
                "unique_id": np.repeat([matrix.ids[r] for r in rows], points.shape[1]),
                "ds": np.tile(ds, rows.size),
                "forecast": points.ravel(),
            }
        )

    def _row_of(self, unique_ids: list[str] | None) -> tuple[list[str], list[int | None]]:
        ids = self._matrix.ids if unique_ids is None else [str(u) for u in unique_ids]
        lookup = {uid: row for row, uid in enumerate(self._matrix.ids)}
        rows = [lookup.get(uid) for uid in ids]
        new = [uid for uid, row in zip(ids, rows, strict=True) if row is None]
        if new:
            warn_fallback(
                f"{len(new)} items have no history ({describe_ids(new)}): they get the median "
                "forecast and distribution of the items with demand until their own demand is "
                "recorded."
            )
        return ids, rows

    def _analog_row(self) -> int:
        live = np.flatnonzero(self._classes != NO_DEMAND)
        if live.size == 0:
            return 0
        level = self._points[live].mean(axis=1)
        return int(live[np.argsort(level)[live.size // 2]])

    def predict(
        self,
        *,
        quantiles: tuple[float, ...] | None = None,
        unique_ids: list[str] | None = None,
    ) -> pd.DataFrame:
        """Return point forecasts and quantiles for the next ``horizon`` periods.

        Args:
            quantiles: Quantile levels (default: the ``quantiles`` parameter).
            unique_ids: Series to forecast (default: all fitted series); an id without history
                gets the new-item fallback.

        Returns:
            Long table ``unique_id, ds, forecast, model, demand_class`` and one column
            ``q<level>`` per quantile, non-decreasing across levels.
        """
        self._check_fitted()
        levels = np.asarray(self.quantiles if quantiles is None else quantiles, dtype=float)
        ids, rows = self._row_of(unique_ids)
        analog = self._analog_row()
        frames = []
        rng = np.random.default_rng(self.random_state)
        for uid, row in zip(ids, rows, strict=True):
            source = analog if row is None else row
            samples = self._samples(source, self._points[source], rng)
            frame = self._long_points(np.array([source]), self._points[source][None, :])
            frame["unique_id"] = uid
            frame["model"] = "NewItem" if row is None else self.selection_["model"].iat[source]
            frame["demand_class"] = "new_item" if row is None else self._classes[source]
            values = monotone_quantiles(samples, levels)
            for j, level in enumerate(levels):
                frame[f"q{level:g}"] = values[:, j]
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)

    def _samples(self, row: int, levels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        history = self._matrix.history(row)
        demand_class = self._classes[row]
        intermittent = demand_class not in (SMOOTH, ERRATIC) or (history == 0).any()
        return sample_demand(
            history,
            levels,
            sigma=float(self._sigma[row]),
            intermittent=bool(intermittent),
            n_samples=self.n_samples,
            rng=rng,
        )

    def _mean_levels(self) -> np.ndarray:
        """Unbiased per-series level for demand distributions (pooled mean model if fitted)."""
        if self._distribution_level is None:
            level = self._points.mean(axis=1)
            use = (self.selection_["model"] != HISTORIC_AVERAGE).to_numpy() & (
                self._classes != NO_DEMAND
            )
            if self._pooled_rmsse is not None and use.any():
                model = self._fit_pooled(self._matrix.values, "mean")
                if model is not None:
                    level = level.copy()
                    level[use] = predict_pooled(model, self._matrix.values[use])
            self._distribution_level = level
        return self._distribution_level

    def demand_paths(
        self, periods: int, *, unique_ids: list[str] | None = None, n_samples: int | None = None
    ) -> dict[str, np.ndarray]:
        """Draw demand paths over the next ``periods`` periods, per series.

        The level is the engine's unbiased (mean) level, held constant over the periods; it is
        what an inventory policy needs (the point forecast may sit below the mean on purpose).
        A lead time longer than a series' history warns: its lead-time demand is then built
        period by period from the fitted per-period distribution.

        Args:
            periods: Number of future periods (e.g. lead time plus review period).
            unique_ids: Series to draw for (default: all); unknown ids get the new-item fallback.
            n_samples: Paths per series (default: the ``n_samples`` parameter).

        Returns:
            ``{unique_id: (n_samples, periods) array}``.
        """
        self._check_fitted()
        if isinstance(periods, bool) or not isinstance(periods, int | np.integer) or periods < 1:
            raise ParameterError(f"periods must be an int >= 1; got {periods!r}.")
        ids, rows = self._row_of(unique_ids)
        level = self._mean_levels()
        lengths = self._matrix.lengths
        too_long = [
            uid
            for uid, row in zip(ids, rows, strict=True)
            if row is not None and lengths[row] < periods
        ]
        if too_long:
            warn_fallback(
                f"The {periods}-period lead time is longer than the history of {len(too_long)} "
                f"series ({describe_ids(too_long)}): their lead-time demand is built period by "
                "period from the fitted per-period distribution, not from observed lead-time "
                "totals."
            )
        analog = self._analog_row()
        rng = np.random.default_rng(self.random_state)
        saved = self.n_samples
        self.n_samples = n_samples or saved
        try:
            out = {}
            for uid, row in zip(ids, rows, strict=True):
                source = analog if row is None else row
                out[uid] = self._samples(source, np.full(periods, level[source]), rng)
        finally:
            self.n_samples = saved
        return out

    def demand_samples(
        self, periods: int, *, unique_ids: list[str] | None = None, n_samples: int | None = None
    ) -> dict[str, np.ndarray]:
        """Draw the total demand over the next ``periods`` periods (see :meth:`demand_paths`).

        Returns:
            ``{unique_id: array of n_samples totals}``.
        """
        paths = self.demand_paths(periods, unique_ids=unique_ids, n_samples=n_samples)
        return {uid: path.sum(axis=1) for uid, path in paths.items()}

    def mean_level(self, unique_id: str) -> float:
        """Return the unbiased expected demand per period of one series."""
        self._check_fitted()
        _, rows = self._row_of([unique_id])
        row = self._analog_row() if rows[0] is None else rows[0]
        return float(self._mean_levels()[row])


@dataclass(frozen=True)
class _ModelRun:
    """What one batch of series runs: the class's models, cross-validated or forecast."""

    demand_class: str
    season_length: int
    horizon: int
    n_jobs: int
    cv_windows: int
    step: int
    only: frozenset[str] | None


def series_batches(table: pd.DataFrame, workers: int) -> list[pd.DataFrame]:
    """Split a long table into batches of whole series for ``workers`` workers, in id order.

    One worker gets one batch (the table itself). More workers get up to
    :data:`~factorybrain.compute.TASKS_PER_WORKER` batches each, of as many series as one
    another give or take one, none with fewer than :data:`MIN_BATCH_SERIES`; batch ``k`` holds
    the ``k``-th run of sorted ids, so the batches' statsforecast outputs, one after the other,
    are in the order of one call's output.
    """
    if workers <= 1 or table.empty:
        return [table]
    ids = table["unique_id"].to_numpy()
    unique = np.unique(ids)
    count = min(workers * compute.TASKS_PER_WORKER, unique.size // MIN_BATCH_SERIES)
    if count <= 1:
        return [table]
    batch_of = np.searchsorted(unique, ids) * count // unique.size
    return [table[batch_of == batch] for batch in range(count)]


def _run_batch(table: pd.DataFrame, run: _ModelRun) -> pd.DataFrame:
    """Cross-validate or forecast ``run``'s models on the series of ``table`` (one piece)."""
    from statsforecast import StatsForecast

    models = candidate_models(run.demand_class, run.season_length)
    if run.only is not None:
        models = [model for model in models if str(model) in run.only]
    forecaster = StatsForecast(
        models=models, freq=1, n_jobs=run.n_jobs, fallback_model=fallback_model()
    )
    if run.cv_windows == 0:
        return forecaster.forecast(h=run.horizon, df=table)
    return forecaster.cross_validation(
        h=run.horizon, df=table, n_windows=run.cv_windows, step_size=run.step
    )
