"""From a long demand table (``unique_id, ds, y``) to one aligned matrix of periods.

Documented repairs, each announced by a :class:`DataQualityWarning`:

* a period missing between a series' first record and the last period of the table, and a missing
  (NaN) value, count as zero demand: demand tables are usually built from transactions, and a
  period without a transaction had no demand;
* negative values (returns, corrections) are set to zero: they are not demand;
* duplicate ``(unique_id, ds)`` rows are summed (several transactions in one period).

Infinite demand is refused with an error naming the series and period: it is a broken value, not a
quantity that a repair could guess.

Every series ends at the table's last period, so all forecasts start at the same period.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from factorybrain.engines.forecast._warnings import describe_ids, warn_fallback
from factorybrain.exceptions import ParameterError

REQUIRED_COLUMNS = ("unique_id", "ds", "y")
# More periods than this is a table whose ds is not a period count (dates written as integers
# such as 20260105, say), not a demand history: 100,000 days are 270 years.
MAX_PERIODS = 100_000


@dataclass
class PeriodIndex:
    """Maps ``ds`` values to integer periods and back.

    Attributes:
        start: The first ``ds`` of the table (an int or a timestamp).
        freq: ``None`` for integer periods, else a pandas frequency string such as ``"MS"``.
    """

    start: int | pd.Timestamp
    freq: str | None

    def to_periods(self, ds: pd.Series) -> np.ndarray:
        """Return the integer period of each ``ds`` (0 for the first period of the table)."""
        if self.freq is None:
            return (ds.to_numpy(dtype=np.int64) - int(self.start)).astype(np.int64)
        offset = pd.tseries.frequencies.to_offset(self.freq)
        grid = pd.date_range(self.start, pd.Timestamp(ds.max()), freq=offset)
        positions = grid.get_indexer(pd.DatetimeIndex(ds))
        if (positions < 0).any():
            bad = pd.DatetimeIndex(ds)[positions < 0][0]
            raise ParameterError(
                f"ds value {bad} is not on the {self.freq!r} grid starting at {self.start}; "
                "expected every ds to be a period start of that frequency."
            )
        return positions.astype(np.int64)

    def to_ds(self, periods: np.ndarray) -> np.ndarray:
        """Return the ``ds`` value of each integer period."""
        periods = np.asarray(periods, dtype=np.int64)
        if self.freq is None:
            return periods + int(self.start)
        offset = pd.tseries.frequencies.to_offset(self.freq)
        grid = pd.date_range(self.start, periods=int(periods.max()) + 1, freq=offset)
        return grid[periods].to_numpy()


@dataclass
class DemandMatrix:
    """All series on one period grid.

    Attributes:
        ids: Series ids, in the order of the matrix rows.
        values: ``(n_series, n_periods)`` demand, NaN before a series' first record.
        index: Mapping between periods and ``ds``.
    """

    ids: list[str]
    values: np.ndarray
    index: PeriodIndex

    @property
    def lengths(self) -> np.ndarray:
        """Number of periods from each series' first record to the last period."""
        return np.isfinite(self.values).sum(axis=1)

    def history(self, row: int | np.integer) -> np.ndarray:
        """Return the observed history of one series (no leading NaN)."""
        values = self.values[row]
        return values[np.isfinite(values)]


def _infer_index(ds: pd.Series, freq: str | None) -> PeriodIndex:
    if pd.api.types.is_integer_dtype(ds):
        if freq is not None:
            raise ParameterError(
                f"freq={freq!r} was given but column 'ds' holds integers; expected timestamps "
                "with a frequency, or integer periods with freq=None."
            )
        return PeriodIndex(start=int(ds.min()), freq=None)
    if not pd.api.types.is_datetime64_any_dtype(ds):
        raise ParameterError(
            f"Column 'ds' must hold integer periods or timestamps; got dtype {ds.dtype}."
        )
    if freq is None:
        unique = pd.DatetimeIndex(np.sort(ds.unique()))
        with warnings.catch_warnings():
            # pandas 3 announces that infer_freq will return an offset; either form works here.
            warnings.simplefilter("ignore")
            inferred = pd.infer_freq(unique) if unique.size >= 3 else None
        freq = getattr(inferred, "freqstr", inferred)
        if freq is None:
            raise ParameterError(
                "Cannot infer the period frequency of column 'ds' (too few or irregular "
                "timestamps); pass freq, e.g. freq='MS' for monthly data."
            )
    return PeriodIndex(start=pd.Timestamp(ds.min()), freq=freq)


def to_matrix(df: pd.DataFrame, freq: str | None = None) -> DemandMatrix:
    """Validate a long demand table and align it on one period grid.

    Args:
        df: Long table with columns ``unique_id``, ``ds`` (integer periods or timestamps) and
            ``y`` (demand per period).
        freq: Pandas frequency of timestamp ``ds`` (``"MS"``, ``"W-MON"``, ``"D"``...); ``None``
            infers it, and must be ``None`` for integer periods.

    Returns:
        The aligned :class:`DemandMatrix`.

    Raises:
        ParameterError: A column is missing, ``y`` is not numeric or infinite, ``ds`` is off
            the grid, or integer ``ds`` spans more than ``MAX_PERIODS`` periods.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise ParameterError(
            f"The demand table needs columns {list(REQUIRED_COLUMNS)}; missing {missing} "
            f"(found {list(df.columns)})."
        )
    if len(df) == 0:
        raise ParameterError("The demand table is empty; expected at least one row.")
    table = df[list(REQUIRED_COLUMNS)].copy()
    table["unique_id"] = table["unique_id"].astype(str)
    try:
        table["y"] = pd.to_numeric(table["y"]).astype(float)
    except (TypeError, ValueError) as error:
        raise ParameterError(f"Column 'y' must be numeric demand; {error}.") from error
    index = _infer_index(table["ds"], freq)
    last = table["ds"].max()
    if index.freq is None and int(last) - index.start >= MAX_PERIODS:
        raise ParameterError(
            f"Column 'ds' spans {int(last) - index.start + 1:,} integer periods (from "
            f"{index.start} to {int(last)}); expected at most {MAX_PERIODS:,} consecutive "
            "periods. Dates written as integers (20260105) are not periods: pass them as "
            "timestamps."
        )
    table["period"] = index.to_periods(table["ds"])

    negative = table["y"] < 0
    if negative.any():
        ids = sorted(table.loc[negative, "unique_id"].unique())
        warn_fallback(
            f"{int(negative.sum())} negative demand values (series {describe_ids(ids)}) were set "
            "to 0: returns and corrections are not demand."
        )
        table.loc[negative, "y"] = 0.0
    missing_values = table["y"].isna()
    if missing_values.any():
        ids = sorted(table.loc[missing_values, "unique_id"].unique())
        warn_fallback(
            f"{int(missing_values.sum())} missing demand values (series {describe_ids(ids)}) "
            "were taken as 0 demand."
        )
        table["y"] = table["y"].fillna(0.0)
    infinite = np.isinf(table["y"].to_numpy())
    if infinite.any():
        first = table.loc[infinite].iloc[0]
        raise ParameterError(
            f"Column 'y' holds {int(infinite.sum())} infinite values; expected finite demand, "
            f"found {first['y']} for series {first['unique_id']!r} at ds {first['ds']}."
        )
    duplicated = table.duplicated(["unique_id", "period"], keep=False)
    if duplicated.any():
        ids = sorted(table.loc[duplicated, "unique_id"].unique())
        warn_fallback(
            f"{int(duplicated.sum())} rows share their (unique_id, ds) with another row (series "
            f"{describe_ids(ids)}): their demand was summed, as several transactions of one "
            "period."
        )
        table = table.groupby(["unique_id", "period"], as_index=False, sort=False)["y"].sum()

    ids = sorted(table["unique_id"].unique())
    row_of = {uid: row for row, uid in enumerate(ids)}
    n_periods = int(table["period"].max()) + 1
    rows = table["unique_id"].map(row_of).to_numpy()
    periods = table["period"].to_numpy()
    first = np.full(len(ids), n_periods, dtype=np.int64)
    np.minimum.at(first, rows, periods)
    values = np.full((len(ids), n_periods), np.nan)
    live = np.arange(n_periods)[None, :] >= first[:, None]
    values[live] = 0.0
    observed = np.zeros_like(live)
    values[rows, periods] = table["y"].to_numpy()
    observed[rows, periods] = True
    gaps = (live & ~observed).sum(axis=1)
    if gaps.any():
        gap_ids = [ids[i] for i in np.flatnonzero(gaps)]
        warn_fallback(
            f"{int(gaps.sum())} missing periods in {len(gap_ids)} series ({describe_ids(gap_ids)}) "
            "were filled with 0 demand: a period without a record is taken as a period without "
            "demand."
        )
    return DemandMatrix(ids=ids, values=values, index=index)
