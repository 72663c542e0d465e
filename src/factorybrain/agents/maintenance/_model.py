"""The health model of one asset: minute-level data checks, hourly evidence, degradation trend.

Two levels, because wear is slow and sensors are noisy:

* **minutes**: a :class:`~factorybrain.engines.anomaly.PCAAnomalyModel` fitted per operating
  regime on healthy running minutes standardises every reading within its regime and flags
  what cannot be trusted (stuck, missing sensors, unseen regimes). Flagged readings are dropped;
* **hours**: the median of each sensor's standardised readings over the running minutes of an
  hour (a median, so spikes on a few samples do not move it) is compared with the spread of the
  same hourly medians in healthy history. A sensor "deviates" when it leaves ``limit_factor``
  times its healthy range.

A machine fault moves several physical quantities together (a worn bearing vibrates, heats up and
draws more current); one sensor moving on its own is a sensor fault suspect. So the hourly
**evidence** is the ``min_sensors``-th largest deviation ratio: it exceeds 1 only when at least
that many sensors deviate at once.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from factorybrain.engines._base import Engine, Interval
from factorybrain.engines.anomaly import DataFlag, PCAAnomalyModel
from factorybrain.exceptions import EngineError

#: Correlation above which two sensors count as one signal (the second is dropped).
DUPLICATE_CORRELATION = 0.95
_EXCLUDE = int(DataFlag.STUCK | DataFlag.MISSING_SENSOR)


def hourly_medians(
    z: pd.DataFrame, min_minutes: int, regime: np.ndarray | None = None
) -> pd.DataFrame:
    """Median of each column per clock hour, NaN where fewer than ``min_minutes`` readings."""
    grouped = z.groupby(z.index.floor("h"))
    medians = grouped.median()
    counts = grouped.count()
    return medians.where(counts >= min_minutes)


class AssetHealthModel(Engine):
    """Healthy behaviour of one asset (or one asset class) and how far recent hours are from it.

    Args:
        limit_factor: A sensor deviates when its hourly median leaves this many times the
            largest healthy hourly median (in regime-standardised units).
        min_limit: Least deviation limit, in standard deviations of the minute readings.
        min_sensors: Sensors that must deviate in the same hour for evidence of a machine fault.
        min_minutes: Running minutes an hour needs to be judged.
        stuck_run: Minutes of an unchanged reading after which a sensor counts as stuck.

    Example:
        >>> model = AssetHealthModel().fit(frame, regimes=products)  # doctest: +SKIP
        >>> hours = model.hourly(frame_recent, regimes=products_recent)  # doctest: +SKIP
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "limit_factor": [Interval(float, 1, None)],
        "min_limit": [Interval(float, 0, None, closed="neither")],
        "min_sensors": [Interval(int, 1, None)],
        "min_minutes": [Interval(int, 1, None)],
        "stuck_run": [Interval(int, 2, None)],
    }

    def __init__(
        self,
        *,
        limit_factor: float = 2.0,
        min_limit: float = 0.5,
        min_sensors: int = 2,
        min_minutes: int = 20,
        stuck_run: int = 20,
    ) -> None:
        self.limit_factor = limit_factor
        self.min_limit = min_limit
        self.min_sensors = min_sensors
        self.min_minutes = min_minutes
        self.stuck_run = stuck_run

    def _check_fitted(self) -> None:
        if not hasattr(self, "limits_"):
            from factorybrain.exceptions import NotFittedError

            raise NotFittedError(
                "This AssetHealthModel is not fitted yet; call fit() with healthy history first."
            )

    def fit(
        self,
        frame: pd.DataFrame,
        *,
        regimes: Any | None = None,
        shared_limits: pd.Series | None = None,
    ) -> AssetHealthModel:
        """Learn healthy behaviour from running minutes known to be healthy.

        Args:
            frame: Running minutes (DatetimeIndex), one column per sensor.
            regimes: Operating-regime key per row (the product), or None for one regime.
            shared_limits: Deviation limits to use instead of learning them (an asset-class
                model's limits, for an asset with too little healthy history of its own).

        Returns:
            ``self``.

        Raises:
            EngineError: Too little data to learn from.
        """
        self._validate_parameters()
        keys = None if regimes is None else np.asarray(regimes, dtype=object)
        columns = _distinct_columns(frame, keys)
        data = frame[columns]
        self.monitor_ = PCAAnomalyModel(
            n_components=len(columns), stuck_run=self.stuck_run, drift_smoothing=None
        ).fit(data, regimes=keys, timestamps=data.index)
        self.sensors_ = tuple(columns)
        self.dropped_sensors_ = tuple(c for c in frame.columns if c not in columns)
        hours = self._hourly_z(data, keys)
        self.healthy_hours_ = int(hours.notna().all(axis=1).sum())
        if shared_limits is not None:
            self.limits_ = shared_limits.reindex(list(columns)).fillna(self.min_limit)
        else:
            if self.healthy_hours_ < 3:
                raise EngineError(
                    f"AssetHealthModel needs at least 3 healthy hours with {self.min_minutes} "
                    f"running minutes each; got {self.healthy_hours_}."
                )
            spread = hours.abs().max()
            self.limits_ = np.maximum(self.limit_factor * spread, self.min_limit)
        self.training_window_ = {
            "first_time": str(frame.index.min()),
            "last_time": str(frame.index.max()),
            "rows": len(frame),
            "healthy_hours": self.healthy_hours_,
        }
        self.metrics_ = {
            "healthy_hours": self.healthy_hours_,
            "regimes": len(self.monitor_.regimes_.labels),
            **{f"limit_{name}": float(v) for name, v in self.limits_.items()},
        }
        return self

    def _hourly_z(self, data: pd.DataFrame, regimes: np.ndarray | None) -> pd.DataFrame:
        z, _ = self._standardised(data, regimes)
        return hourly_medians(z, self.min_minutes)

    def _standardised(
        self, data: pd.DataFrame, regimes: np.ndarray | None
    ) -> tuple[pd.DataFrame, Any]:
        monitor = self.monitor_
        result = monitor.score(data, regimes=regimes, timestamps=data.index)
        values = data.reindex(columns=list(self.sensors_)).to_numpy(dtype=float)
        index = monitor.regimes_.assign(values, regimes)
        unseen = index < 0
        safe = np.where(unseen, 0, index)
        z = (values - monitor.regimes_.means[safe]) / monitor.regimes_.stds[safe]
        z[unseen] = np.nan
        z[(result.sensor_flags & _EXCLUDE) != 0] = np.nan
        return pd.DataFrame(z, index=data.index, columns=list(self.sensors_)), result

    def hourly(self, frame: pd.DataFrame, *, regimes: Any | None = None) -> pd.DataFrame:
        """Judge every hour of running minutes.

        Args:
            frame: Running minutes (DatetimeIndex) with the training sensors as columns.
            regimes: Operating-regime key per row, as in training.

        Returns:
            One row per judged hour: ``evidence`` (the ``min_sensors``-th largest deviation
            ratio), ``score`` (median minute anomaly score), ``ratio:<sensor>`` (hourly median
            over its limit, signed), ``flags`` (data flags seen in the hour, as an int) and
            ``unseen`` (share of minutes in regimes never seen in training).
        """
        self._check_fitted()
        keys = None if regimes is None else np.asarray(regimes, dtype=object)
        data = frame.reindex(columns=list(self.sensors_))
        z, result = self._standardised(data, keys)
        hours = hourly_medians(z, self.min_minutes)
        ratios = hours / self.limits_.to_numpy()[None, :]
        magnitude = np.sort(np.nan_to_num(ratios.abs().to_numpy(), nan=0.0), axis=1)[:, ::-1]
        position = min(self.min_sensors, magnitude.shape[1]) - 1
        out = pd.DataFrame(index=hours.index)
        out["evidence"] = magnitude[:, position]
        out.loc[hours.isna().all(axis=1), "evidence"] = np.nan
        minute = pd.DataFrame(
            {
                "score": result.scores,
                "flags": result.flags.astype(np.int64),
                "unseen": (result.flags & int(DataFlag.UNSEEN_REGIME)) != 0,
            },
            index=data.index,
        )
        grouped = minute.groupby(minute.index.floor("h"))
        out["score"] = grouped["score"].median().reindex(out.index)
        out["flags"] = grouped["flags"].agg(np.bitwise_or.reduce).reindex(out.index).fillna(0)
        out["unseen"] = grouped["unseen"].mean().reindex(out.index).fillna(0.0)
        for name in self.sensors_:
            out[f"ratio:{name}"] = ratios[name]
        return out


def _distinct_columns(frame: pd.DataFrame, regimes: np.ndarray | None) -> list[str]:
    """Columns that vary, without near-duplicates (a copy of a signal adds no information).

    Correlations are taken within regimes (each regime's mean removed), so that sensors which
    only move together because the product changes are kept apart.
    """
    varying = [c for c in frame.columns if frame[c].std(skipna=True) > 0]
    if not varying:
        raise EngineError(f"Every sensor is constant or empty: {list(frame.columns)}.")
    centred = frame[varying]
    if regimes is not None:
        keys = pd.Series(regimes, index=frame.index).astype(str)
        centred = centred - centred.groupby(keys).transform("mean")
    correlation = centred.corr(method="spearman").abs().to_numpy()
    kept: list[int] = []
    for j in range(len(varying)):
        if all(not (correlation[j, k] > DUPLICATE_CORRELATION) for k in kept):
            kept.append(j)
    return [varying[j] for j in kept]


__all__ = ["AssetHealthModel", "hourly_medians"]
