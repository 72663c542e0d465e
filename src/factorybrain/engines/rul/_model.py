"""Remaining useful life from run-to-failure sensor histories.

The pipeline, in the order :meth:`RULModel.fit` runs it:

1. operating regimes are found in the settings columns and every sensor is standardised within its
   regime (:mod:`._regimes`), so one code path serves one operating point or many;
2. sensors that are constant or barely related to wear are dropped (rank correlation with the
   capped target below ``min_sensor_correlation``), and a linear health index of the kept ones is
   added as one more signal;
3. every cycle of every unit becomes a training row of window features (:mod:`._features`) whose
   target is the remaining life capped at ``cap`` (the piecewise-linear target: early wear is
   invisible in the sensors, so "at least ``cap``" is all that can be learned there);
4. ``n_folds`` LightGBM models are trained on folds of whole units; their mean is the prediction and
   the out-of-fold errors calibrate a split-conformal interval per band of predicted life, so the
   ``coverage`` interval holds for units the model has not seen;
5. the fleet's lifetimes give a population estimate for units with too little history.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from factorybrain.engines._base import Engine, InstanceOf, Interval
from factorybrain.engines.rul._features import feature_names, unit_features
from factorybrain.engines.rul._population import PopulationLife
from factorybrain.engines.rul._regimes import RegimeNormalizer
from factorybrain.engines.rul._sensor_checks import (
    DISAGREEMENT_FACTOR,
    DISAGREEMENT_WINDOW,
    conditional_fill,
    disagreement,
    fill_whole_rows,
    stuck_cells,
    stuck_thresholds,
)
from factorybrain.exceptions import EngineError, ParameterError

HEALTH_INDEX = "health_index"
#: Ridge penalty of the linear health index, relative to the number of rows.
HEALTH_INDEX_RIDGE = 1e-3
#: Cycles at the start of each unit compared by :meth:`RULModel.drift`.
EARLY_LIFE_CYCLES = 20
#: Drift: a unit fleet whose early-life mean moved more than this many between-unit standard
#: deviations, or more than this share of rows in unseen regimes, calls for retraining.
EARLY_LIFE_SHIFT_LIMIT = 1.0
UNSEEN_SHARE_LIMIT = 0.05


class RULFallbackWarning(UserWarning):
    """Some units were given a population estimate instead of a sensor-based prediction."""


def nasa_score(predicted: Any, actual: Any) -> float:
    """PHM08 asymmetric score: late predictions cost more than early ones (lower is better).

    ``s = sum(exp(-d / 13) - 1 if d < 0 else exp(d / 10) - 1)`` with ``d = predicted - actual``
    (Saxena et al., PHM08).
    """
    difference = np.asarray(predicted, dtype=float) - np.asarray(actual, dtype=float)
    return float(
        np.sum(np.where(difference < 0, np.exp(-difference / 13.0), np.exp(difference / 10.0)) - 1)
    )


def _is_tuple_of_positive_ints(value: Any) -> bool:
    return (
        isinstance(value, tuple)
        and len(value) > 0
        and all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value)
    )


class RULModel(Engine):
    """Remaining useful life with a calibrated interval, from a long table of sensor histories.

    Input is one row per observation: a unit column (one life of one machine, from new or from its
    last maintenance), a time column (cycles, or datetimes read as hours), operating-settings
    columns and sensor columns. Training units run to failure (or are marked censored with
    ``failed``); prediction units are cut at any point and get a prediction for their last row.

    Args:
        cap: Remaining life is learned and predicted up to this value (the piecewise-linear target).
        coverage: Central coverage of the prediction interval.
        n_regimes: Number of operating regimes; ``None`` finds it from the settings columns.
        max_regimes: Most regimes tried when ``n_regimes`` is ``None``.
        windows: Rolling window lengths (cycles) for means and slopes.
        spans: EWMA spans (cycles).
        min_sensor_correlation: Sensors whose absolute rank correlation with the capped target is
            below this are dropped.
        min_history: Units with fewer observations get the population estimate.
        n_folds: Models trained on folds of units; their out-of-fold errors calibrate the interval.
        calibration_bins: Bands of predicted life with their own interval width.
        max_training_rows: Training rows are thinned to about this many by keeping every k-th
            cycle of each unit counted back from its last (consecutive cycles are nearly
            duplicates, so this bounds training time on large fleets at little cost).
        n_estimators: Boosting rounds per model.
        learning_rate: LightGBM learning rate.
        num_leaves: LightGBM leaves per tree.
        min_child_samples: LightGBM minimum rows per leaf.
        feature_fraction: LightGBM fraction of features tried per tree.
        random_state: Seed of clustering, folds and boosting.
        n_jobs: Threads for LightGBM (``None``: LightGBM's default, every core). One thread is
            the default because several threads on a busy machine spin and run slower.

    Example:
        >>> model = RULModel(cap=125.0).fit(train, unit="unit", time="cycle")  # doctest: +SKIP
        >>> model.predict(test)[["unit", "rul", "lower", "upper", "flags"]]  # doctest: +SKIP
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "cap": [Interval(float, 0, None, closed="neither")],
        "coverage": [Interval(float, 0, 1, closed="neither")],
        "n_regimes": [Interval(int, 1, None), InstanceOf((type(None),))],
        "max_regimes": [Interval(int, 1, None)],
        "windows": [InstanceOf((tuple,))],
        "spans": [InstanceOf((tuple,))],
        "min_sensor_correlation": [Interval(float, 0, 1, closed="left")],
        "min_history": [Interval(int, 1, None)],
        "n_folds": [Interval(int, 2, None)],
        "calibration_bins": [Interval(int, 1, None)],
        "max_training_rows": [Interval(int, 100, None)],
        "n_estimators": [Interval(int, 1, None)],
        "learning_rate": [Interval(float, 0, 1, closed="right")],
        "num_leaves": [Interval(int, 2, None)],
        "min_child_samples": [Interval(int, 1, None)],
        "feature_fraction": [Interval(float, 0, 1, closed="right")],
        "random_state": [Interval(int, 0, None)],
        "n_jobs": [Interval(int, 1, None), InstanceOf((type(None),))],
    }

    def __init__(
        self,
        *,
        cap: float = 125.0,
        coverage: float = 0.9,
        n_regimes: int | None = None,
        max_regimes: int = 8,
        windows: tuple[int, ...] = (5, 10, 20, 30, 50),
        spans: tuple[int, ...] = (10, 30),
        min_sensor_correlation: float = 0.15,
        min_history: int = 5,
        n_folds: int = 5,
        calibration_bins: int = 5,
        max_training_rows: int = 30000,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        min_child_samples: int = 40,
        feature_fraction: float = 0.5,
        random_state: int = 0,
        n_jobs: int | None = 1,
    ) -> None:
        self.cap = cap
        self.coverage = coverage
        self.n_regimes = n_regimes
        self.max_regimes = max_regimes
        self.windows = windows
        self.spans = spans
        self.min_sensor_correlation = min_sensor_correlation
        self.min_history = min_history
        self.n_folds = n_folds
        self.calibration_bins = calibration_bins
        self.max_training_rows = max_training_rows
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.feature_fraction = feature_fraction
        self.random_state = random_state
        self.n_jobs = n_jobs

    # ------------------------------------------------------------------ input handling

    def _validate_parameters(self) -> None:
        super()._validate_parameters()
        for name in ("windows", "spans"):
            if not _is_tuple_of_positive_ints(getattr(self, name)):
                raise ParameterError(
                    f"The {name!r} parameter of RULModel must be a non-empty tuple of ints >= 1. "
                    f"Got {getattr(self, name)!r} instead."
                )

    @staticmethod
    def _time_values(column: pd.Series) -> np.ndarray:
        """Times as floats: numbers as they are, datetimes as hours since the epoch."""
        if pd.api.types.is_datetime64_any_dtype(column):
            as_utc = pd.to_datetime(column, utc=True)
            return (as_utc - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy() / 3600.0
        if not pd.api.types.is_numeric_dtype(column):
            raise EngineError(
                f"Column {column.name!r} must hold numbers or datetimes. Got dtype {column.dtype}."
            )
        return column.to_numpy(dtype=float)

    @staticmethod
    def _require_columns(data: pd.DataFrame, columns: Sequence[str], role: str) -> None:
        missing = [c for c in columns if c not in data.columns]
        if missing:
            raise EngineError(
                f"The {role} column(s) {missing} are missing; the table has {list(data.columns)}."
            )

    def _sorted(self, data: pd.DataFrame, unit: str, time: str) -> pd.DataFrame:
        if not isinstance(data, pd.DataFrame):
            raise ParameterError(
                f"RULModel expects a pandas DataFrame. Got {type(data).__name__} instead."
            )
        if data.empty:
            raise EngineError("The table is empty: RULModel needs at least one row per unit.")
        self._require_columns(data, [unit, time], "unit/time")
        if data[time].isna().any():
            row = int(np.flatnonzero(data[time].isna().to_numpy())[0])
            raise EngineError(f"Column {time!r} has a missing time at row {row}.")
        return data.sort_values([unit, time], kind="stable").reset_index(drop=True)

    # ------------------------------------------------------------------ shared transform

    def _clean(
        self, raw: np.ndarray, standardised: np.ndarray, starts: np.ndarray
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Fill gaps and replace stuck readings; return values and what was found per unit.

        Stuck runs (identical raw readings for twice the longest run seen in training) are
        treated as missing. A missing reading is rebuilt from the same row's other sensors with the
        training covariance (the conditional mean of a Gaussian); rows with no reading at all carry
        the unit's previous values forward.

        Returns:
            ``(values, found)`` with ``found`` holding per-unit lists: ``imputed`` (any cell
            filled), ``missing`` (sensors absent for the whole unit), ``stuck`` and ``disagrees``
            (sensors whose last readings disagree with the others).
        """
        stuck = stuck_cells(raw, starts, self.stuck_run_)
        values = np.where(stuck, np.nan, standardised)
        missing_cells = np.isnan(standardised)
        values = conditional_fill(values, self.sensor_covariance_)
        values = fill_whole_rows(values, starts)
        disagrees = disagreement(np.nan_to_num(values), starts, self.sensor_precision_)
        found: dict[str, Any] = {"imputed": [], "missing": [], "stuck": [], "disagrees": []}
        for position in range(len(starts) - 1):
            rows = slice(starts[position], starts[position + 1])
            last = starts[position + 1] - 1
            absent = missing_cells[rows].all(axis=0)
            found["imputed"].append(bool(missing_cells[rows].any()))
            found["missing"].append([self.signals_[i] for i in np.flatnonzero(absent)])
            found["stuck"].append([self.signals_[i] for i in np.flatnonzero(stuck[last])])
            checked = (
                starts[position + 1] - starts[position] >= DISAGREEMENT_WINDOW
                and not missing_cells[last].any()
            )
            noisy = disagrees[last] > self.disagreement_limit_ if checked else []
            found["disagrees"].append([self.signals_[i] for i in np.flatnonzero(noisy)])
        return values, found

    def _standardised_signals(
        self, data: pd.DataFrame, settings: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Raw and regime-standardised kept sensors (NaN where missing), unseen-regime rows."""
        labels, unseen = self.regimes_.assign(settings)
        if settings is None:
            labels = np.zeros(len(data), dtype=int)
            unseen = np.zeros(len(data), dtype=bool)
        raw = np.column_stack(
            [
                data[name].to_numpy(dtype=float)
                if name in data.columns
                else np.full(len(data), np.nan)
                for name in self.sensors_in_
            ]
        )
        standardised = self.regimes_.transform(raw, labels)[:, self.kept_positions_]
        return raw[:, self.kept_positions_], standardised, unseen

    def _with_health_index(self, values: np.ndarray) -> np.ndarray:
        return np.column_stack([values, values @ self.health_weights_])

    def _features(self, values: np.ndarray, starts: np.ndarray) -> np.ndarray:
        blocks = [
            unit_features(values[starts[i] : starts[i + 1]], self.windows, self.spans)
            for i in range(len(starts) - 1)
        ]
        return np.vstack(blocks)

    def _boost(self, features: np.ndarray, target: np.ndarray, seed: int) -> lgb.Booster:
        params = {
            "objective": "regression",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_child_samples,
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": 0.8,
            "bagging_freq": 1,
            "lambda_l2": 1.0,
            "seed": seed,
            "deterministic": True,
            "max_bin": 63,
            "force_col_wise": True,
            "verbosity": -1,
        }
        if self.n_jobs is not None:
            params["num_threads"] = self.n_jobs
        dataset = lgb.Dataset(features, label=target, free_raw_data=True)
        return lgb.train(params, dataset, num_boost_round=self.n_estimators)

    # ------------------------------------------------------------------ fit

    def fit(
        self,
        data: pd.DataFrame,
        *,
        unit: str = "unit",
        time: str = "cycle",
        settings: Sequence[str] | None = None,
        sensors: Sequence[str] | None = None,
        failed: Mapping[Any, bool] | pd.Series | None = None,
    ) -> RULModel:
        """Learn from complete unit histories.

        Args:
            data: Long table, one row per observation.
            unit: Column naming the unit (one life of one machine).
            time: Column with cycles (numbers) or timestamps (read as hours).
            settings: Operating-settings columns; ``None`` takes every column whose name contains
                ``"setting"``. An empty list means one operating regime.
            sensors: Sensor columns; ``None`` takes every other numeric column.
            failed: Per unit, whether its history ended in a failure (default: all did). A
                censored unit only teaches that its rows had at least ``cap`` left where that is
                certain, and counts as censored in the population estimate.

        Returns:
            ``self``.

        Raises:
            ParameterError: A hyper-parameter is out of range.
            EngineError: Columns are missing or non-numeric, or no sensor carries wear information.
        """
        self._validate_parameters()
        table = self._sorted(data, unit, time)
        settings_columns = (
            [c for c in table.columns if "setting" in str(c).lower() and c not in (unit, time)]
            if settings is None
            else list(settings)
        )
        self._require_columns(table, settings_columns, "settings")
        if sensors is None:
            sensor_columns = [
                c
                for c in table.columns
                if c not in (unit, time, *settings_columns)
                and pd.api.types.is_numeric_dtype(table[c])
            ]
        else:
            sensor_columns = list(sensors)
            self._require_columns(table, sensor_columns, "sensor")
        for column in (*settings_columns, *sensor_columns):
            if not pd.api.types.is_numeric_dtype(table[column]):
                raise EngineError(
                    f"Column {column!r} must be numeric. Got dtype {table[column].dtype}."
                )
        if not sensor_columns:
            raise EngineError("No sensor columns: pass sensors=[...] or add numeric columns.")

        times = self._time_values(table[time])
        units = table[unit].to_numpy()
        starts = np.flatnonzero(np.r_[True, units[1:] != units[:-1], True])
        unit_ids = units[starts[:-1]]
        last = np.repeat(times[starts[1:] - 1], np.diff(starts))
        remaining = last - times
        failed_by_unit = np.ones(len(unit_ids), dtype=bool)
        if failed is not None:
            lookup = dict(failed.items()) if hasattr(failed, "items") else dict(failed)
            failed_by_unit = np.array([bool(lookup.get(u, True)) for u in unit_ids])
        row_failed = np.repeat(failed_by_unit, np.diff(starts))
        target = np.minimum(remaining, self.cap)
        usable = row_failed | (remaining >= self.cap)
        stride = int(np.ceil(usable.sum() / self.max_training_rows))
        from_end = np.concatenate([np.arange(n - 1, -1, -1) for n in np.diff(starts)])
        usable &= from_end % stride == 0

        settings_array = table[settings_columns].to_numpy(dtype=float)
        raw_sensors = table[sensor_columns].to_numpy(dtype=float)
        self.regimes_ = RegimeNormalizer(
            n_regimes=self.n_regimes, max_regimes=self.max_regimes, random_state=self.random_state
        ).fit(settings_array, raw_sensors)
        labels, _ = self.regimes_.assign(settings_array)
        standardised = self.regimes_.transform(raw_sensors, labels)

        correlations = []
        for position in range(standardised.shape[1]):
            column = standardised[usable, position]
            present = ~np.isnan(column)
            if present.sum() < 3 or np.nanstd(column) <= 0:
                correlations.append(0.0)
                continue
            rho = spearmanr(column[present], target[usable][present]).statistic
            correlations.append(0.0 if not np.isfinite(rho) else float(rho))
        self.sensor_correlations_ = dict(zip(sensor_columns, correlations, strict=True))
        kept = [i for i, r in enumerate(correlations) if abs(r) >= self.min_sensor_correlation]
        if not kept:
            raise EngineError(
                "No sensor varies with remaining life: every absolute rank correlation is below "
                f"min_sensor_correlation={self.min_sensor_correlation} "
                f"(found {self.sensor_correlations_})."
            )
        self.unit_column_ = unit
        self.time_column_ = time
        self.settings_columns_ = settings_columns
        self.sensors_in_ = sensor_columns
        self.kept_positions_ = np.asarray(kept)
        self.sensors_ = [sensor_columns[i] for i in kept]
        self.dropped_sensors_ = [c for i, c in enumerate(sensor_columns) if i not in kept]
        self.signals_ = list(self.sensors_)

        kept_values = standardised[:, kept]
        present_rows = ~np.isnan(kept_values).any(axis=1)
        complete = kept_values[present_rows]
        self.sensor_covariance_ = (
            np.cov(complete, rowvar=False).reshape(len(kept), len(kept))
            if len(complete) > len(kept)
            else np.eye(len(kept))
        )
        self.sensor_precision_ = np.linalg.inv(self.sensor_covariance_ + 1e-6 * np.eye(len(kept)))
        self.stuck_run_ = stuck_thresholds(raw_sensors[:, kept], starts)
        self.disagreement_limit_ = np.full(len(kept), np.inf)
        values, _ = self._clean(raw_sensors[:, kept], kept_values, starts)
        full_window = np.concatenate([np.arange(n) for n in np.diff(starts)]) >= (
            DISAGREEMENT_WINDOW - 1
        )
        residuals = disagreement(np.nan_to_num(values), starts, self.sensor_precision_)
        self.disagreement_limit_ = DISAGREEMENT_FACTOR * np.quantile(
            residuals[full_window] if full_window.any() else residuals, 0.999, axis=0
        )
        values = np.nan_to_num(values)
        design = np.column_stack([values[usable], np.ones(int(usable.sum()))])
        gram = design.T @ design + HEALTH_INDEX_RIDGE * len(design) * np.eye(design.shape[1])
        solution = np.linalg.solve(gram, design.T @ (target[usable] / self.cap))
        self.health_weights_ = solution[:-1]
        signals = self._with_health_index(values)
        self.feature_names_ = feature_names(
            [*self.sensors_, HEALTH_INDEX], self.windows, self.spans
        )
        features = self._features(signals, starts)[usable]
        target_used = target[usable]
        unit_of_row = np.repeat(np.arange(len(unit_ids)), np.diff(starts))[usable]

        n_folds = min(self.n_folds, len(unit_ids))
        if n_folds < 2:
            raise EngineError(
                f"RULModel needs at least 2 units to calibrate its interval; found {len(unit_ids)}."
            )
        order = np.random.default_rng(self.random_state).permutation(len(unit_ids))
        fold_of_unit = np.empty(len(unit_ids), dtype=int)
        fold_of_unit[order] = np.arange(len(unit_ids)) % n_folds
        fold_of_row = fold_of_unit[unit_of_row]
        self.boosters_ = []
        out_of_fold = np.empty(len(target_used))
        for fold in range(n_folds):
            train_rows = fold_of_row != fold
            booster = self._boost(
                features[train_rows], target_used[train_rows], self.random_state + fold
            )
            out_of_fold[~train_rows] = booster.predict(features[~train_rows])
            self.boosters_.append(booster)
        out_of_fold = np.clip(out_of_fold, 0.0, self.cap)
        self._calibrate(out_of_fold, target_used, unit_of_row)

        lifetimes = times[starts[1:] - 1] - times[starts[:-1]]
        self.population_ = PopulationLife.fit(lifetimes, failed_by_unit)
        self.time_is_datetime_ = pd.api.types.is_datetime64_any_dtype(table[time])
        self.early_life_mean_, self.early_life_spread_ = _early_life(values, starts)
        lower, upper = self._interval(out_of_fold)
        # Out-of-fold figures with every unit weighing the same, as when each unit is asked once at
        # a random point of its life (the C-MAPSS test protocol).
        weight = 1.0 / np.bincount(unit_of_row)[unit_of_row]
        weight /= weight.sum()
        error = out_of_fold - target_used
        per_row_score = np.where(error < 0, np.exp(-error / 13.0), np.exp(error / 10.0)) - 1.0
        inside = (lower <= target_used) & (target_used <= upper)
        self.metrics_ = {
            "cv_rmse": float(np.sqrt(np.sum(weight * error**2))),
            "cv_score_per_unit": float(np.sum(weight * per_row_score)),
            "cv_interval_coverage": float(np.sum(weight * inside)),
            "n_units": len(unit_ids),
            "n_rows": len(target_used),
            "n_regimes": self.regimes_.n_regimes_found,
            "n_sensors_kept": len(self.sensors_),
        }
        self.training_window_ = {
            "units": len(unit_ids),
            "rows": len(table),
            "first_time": _plain(table[time].min()),
            "last_time": _plain(table[time].max()),
        }
        return self

    def _calibrate(
        self, predicted: np.ndarray, target: np.ndarray, unit_of_row: np.ndarray
    ) -> None:
        """Split-conformal residual quantiles per band of predicted life.

        Each unit weighs the same in every band whatever its number of rows, because a
        prediction is asked once per unit (at its latest observation), not once per cycle.
        """
        bins = min(self.calibration_bins, max(1, len(predicted) // 50))
        edges = np.unique(np.quantile(predicted, np.linspace(0, 1, bins + 1)[1:-1]))
        band = np.searchsorted(edges, predicted, side="right")
        tail = (1.0 - self.coverage) / 2.0
        below, above = [], []
        for index in range(len(edges) + 1):
            rows = band == index if (band == index).any() else np.ones(len(band), dtype=bool)
            residuals = target[rows] - predicted[rows]
            units, inverse, counts = np.unique(
                unit_of_row[rows], return_inverse=True, return_counts=True
            )
            weights = 1.0 / counts[inverse]
            # finite-sample correction of split conformal, with the units as the sample size
            inflation = (len(units) + 1) / max(len(units), 1)
            low_level = max(tail * (2.0 - inflation), 0.0)
            high_level = min(1.0 - tail * (2.0 - inflation), 1.0)
            below.append(min(_weighted_quantile(residuals, weights, low_level), 0.0))
            above.append(max(_weighted_quantile(residuals, weights, high_level), 0.0))
        self.calibration_edges_ = edges
        self.calibration_below_ = np.asarray(below)
        self.calibration_above_ = np.asarray(above)

    def drift(self, data: pd.DataFrame) -> dict[str, Any]:
        """Say whether new unit histories still look like the training fleet.

        Two signs call for retraining: rows in operating regimes never seen in training, and
        units that start their lives somewhere else (the mean of their first cycles, per
        standardised sensor, more than one between-unit standard deviation of the training fleet
        away). Wear itself is not drift: only the first cycles of each unit are compared.

        Args:
            data: Unit histories from their start, with the training's columns.

        Returns:
            ``{"retrain": bool, "reasons": [...], "unseen_regime_share": float,
            "early_life_shift": {sensor: shift in between-unit standard deviations}}``.
        """
        self._check_fitted()
        table = self._sorted(data, self.unit_column_, self.time_column_)
        absent = [c for c in self.settings_columns_ if c not in table.columns]
        if absent and self.regimes_.n_regimes_found > 1:
            raise EngineError(f"The settings column(s) {absent} are missing; drift needs them.")
        settings = None if absent else table[self.settings_columns_].to_numpy(dtype=float)
        units = table[self.unit_column_].to_numpy()
        starts = np.flatnonzero(np.r_[True, units[1:] != units[:-1], True])
        raw, standardised, unseen = self._standardised_signals(table, settings)
        values, _ = self._clean(raw, standardised, starts)
        new_mean, _ = _early_life(np.nan_to_num(values), starts)
        shift = np.abs(new_mean - self.early_life_mean_) / self.early_life_spread_
        shifts = {name: round(float(v), 3) for name, v in zip(self.signals_, shift, strict=True)}
        reasons = []
        share = float(unseen.mean()) if len(unseen) else 0.0
        if share > UNSEEN_SHARE_LIMIT:
            reasons.append(f"{share:.0%} of rows are in operating regimes unseen in training")
        moved = [name for name, value in shifts.items() if value > EARLY_LIFE_SHIFT_LIMIT]
        if moved:
            reasons.append(f"units start their lives elsewhere on sensor(s) {moved}")
        return {
            "retrain": bool(reasons),
            "reasons": reasons,
            "unseen_regime_share": share,
            "early_life_shift": shifts,
        }

    def _interval(self, point: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        band = np.searchsorted(self.calibration_edges_, point, side="right")
        lower = np.maximum(point + self.calibration_below_[band], 0.0)
        upper = point + self.calibration_above_[band]
        return lower, upper

    # ------------------------------------------------------------------ predict

    def predict(self, data: pd.DataFrame, *, all_rows: bool = False) -> pd.DataFrame:
        """Remaining life with an interval for the last observation of each unit (or every row).

        Args:
            data: Long table with the training's unit, time, settings and kept sensor columns.
                Missing values are imputed per unit; a kept sensor absent from the table is
                reconstructed from the others; both are flagged.
            all_rows: Predict for every row instead of each unit's last one.

        Returns:
            One row per unit (or per input row), columns ``unit``, ``time``,
            ``cycles_observed``, ``rul``, ``lower``, ``upper`` (the ``coverage`` interval against
            remaining life capped at ``cap``), ``method`` (``"model"`` or ``"population"``) and
            ``flags`` (``";"``-joined: ``imputed``, ``missing_sensor:<name>``,
            ``stuck_sensor:<name>`` (replaced like a missing one), ``sensor_disagrees:<name>``
            (its recent readings do not move with the others: a sensor fault or an unknown
            failure mode), ``unseen_regime``, ``settings_missing``, ``short_history``,
            ``too_little_history``, ``at_cap``).

        Warns:
            RULFallbackWarning: Some unit's last observation got the population estimate
                (fewer than ``min_history`` observations, or no kept sensor at all).

        Raises:
            NotFittedError: Before :meth:`fit`.
            EngineError: The unit or time column is missing, or settings are missing while the
                model knows several regimes.
        """
        self._check_fitted()
        unit, time = self.unit_column_, self.time_column_
        table = self._sorted(data, unit, time)
        if pd.api.types.is_datetime64_any_dtype(table[time]) != self.time_is_datetime_:
            expected = "datetimes" if self.time_is_datetime_ else "numbers (cycles)"
            raise EngineError(
                f"Column {time!r} must hold {expected} as in training. "
                f"Got dtype {table[time].dtype}."
            )
        absent_settings = [c for c in self.settings_columns_ if c not in table.columns]
        settings: np.ndarray | None = None
        if absent_settings:
            if self.regimes_.n_regimes_found > 1:
                raise EngineError(
                    f"The settings column(s) {absent_settings} are missing; the model knows "
                    f"{self.regimes_.n_regimes_found} operating regimes and needs them."
                )
        else:
            settings = table[self.settings_columns_].to_numpy(dtype=float)
        units = table[unit].to_numpy()
        starts = np.flatnonzero(np.r_[True, units[1:] != units[:-1], True])
        lengths = np.diff(starts)
        raw, standardised, unseen = self._standardised_signals(table, settings)
        values, found = self._clean(raw, standardised, starts)
        values = np.nan_to_num(values)
        features = self._features(self._with_health_index(values), starts)
        returned = np.arange(len(table)) if all_rows else starts[1:] - 1
        point = np.mean([b.predict(features[returned]) for b in self.boosters_], axis=0)
        point = np.clip(point, 0.0, self.cap)
        lower, upper = self._interval(point)
        method = np.full(len(point), "model", dtype=object)
        times = self._time_values(table[time])
        age = (times - np.repeat(times[starts[:-1]], lengths))[returned]
        cycles_observed = np.concatenate([np.arange(1, n + 1) for n in lengths])[returned]
        unit_of_returned = np.repeat(np.arange(len(lengths)), lengths)[returned]

        unit_flags: list[list[str]] = []
        for position in range(len(lengths)):
            flags = ["imputed"] if found["imputed"][position] else []
            flags += [f"missing_sensor:{name}" for name in found["missing"][position]]
            flags += [f"stuck_sensor:{name}" for name in found["stuck"][position]]
            flags += [f"sensor_disagrees:{name}" for name in found["disagrees"][position]]
            if unseen[starts[position] : starts[position + 1]].any():
                flags.append("unseen_regime")
            if absent_settings:
                flags.append("settings_missing")
            unit_flags.append(flags)
        no_signal = np.array([len(m) == len(self.signals_) for m in found["missing"]])
        fallback = (cycles_observed < self.min_history) | no_signal[unit_of_returned]
        tails = ((1 - self.coverage) / 2, 0.5, (1 + self.coverage) / 2)
        for index in np.flatnonzero(fallback):
            quantiles = self.population_.remaining_quantiles(age[index], tails)
            quantiles = np.nan_to_num(np.minimum(quantiles, self.cap), nan=0.0)
            lower[index], point[index], upper[index] = quantiles
            method[index] = "population"
        short = cycles_observed < max(self.windows)
        at_cap = point >= 0.97 * self.cap
        row_flags = [
            ";".join(
                unit_flags[unit_of_returned[index]]
                + ["short_history"] * bool(short[index])
                + ["too_little_history"] * bool(fallback[index])
                + ["at_cap"] * bool(at_cap[index])
            )
            for index in range(len(returned))
        ]
        # Warn about units whose latest state relies on the fleet, not about the first rows of
        # every unit in an every-row prediction (those are marked in 'method' and 'flags').
        last_cycles = lengths[unit_of_returned] == cycles_observed
        fallback_units = units[returned][fallback & last_cycles].tolist()
        if fallback_units:
            warnings.warn(
                f"{len(fallback_units)} unit(s) have fewer than min_history={self.min_history} "
                f"observations or no usable sensor, so they get the fleet's population estimate: "
                f"{fallback_units[:10]}",
                RULFallbackWarning,
                stacklevel=2,
            )
        return pd.DataFrame(
            {
                "unit": units[returned],
                "time": table[time].to_numpy()[returned],
                "cycles_observed": cycles_observed,
                "rul": point,
                "lower": np.minimum(lower, point),
                "upper": np.maximum(upper, point),
                "method": method,
                "flags": row_flags,
            }
        )


def _early_life(values: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over units of each unit's first-cycles mean, and the between-unit spread of it."""
    baselines = np.array(
        [
            values[starts[i] : min(starts[i + 1], starts[i] + EARLY_LIFE_CYCLES)].mean(axis=0)
            for i in range(len(starts) - 1)
        ]
    )
    spread = baselines.std(axis=0) if len(baselines) > 1 else np.ones(values.shape[1])
    return baselines.mean(axis=0), np.maximum(spread, 1e-3)


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, level: float) -> float:
    """Smallest value whose cumulative weight share reaches ``level``."""
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order]) / weights.sum()
    position = min(int(np.searchsorted(cumulative, level - 1e-12)), len(values) - 1)
    return float(values[order][position])


def _plain(value: Any) -> Any:
    """A JSON-friendly version of a time value."""
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return value
