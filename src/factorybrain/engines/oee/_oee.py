"""Overall equipment effectiveness after ISO 22400-2 (key performance indicators for MOM).

Definitions (ISO 22400-2:2014, with its time model), for one asset or a group of assets:

- planned busy time ``PBT``: time covered by machine-state records in the window, minus planned
  stops (states whose reason is listed in ``planned_stop_reasons``, e.g. breaks, no orders);
- actual production time ``APT``: time in state ``running``;
- availability ``A = APT / PBT``;
- effectiveness (performance) ``P = ideal_cycle_time * produced_quantity / APT``;
- quality ratio ``Q = good_quantity / produced_quantity``;
- ``OEE = A * P * Q = ideal_cycle_time * good_quantity / PBT``.

Groups of assets (a line, a shift, a plant) add times and quantities before dividing, so a group's
OEE is the ratio of its total ideal time of good parts to its total planned busy time.

The losses split ``PBT`` exactly into ``downtime`` (unplanned ``down`` and ``idle`` time, per
reason) + ``speed loss`` (``APT - ideal_cycle_time * produced``) + ``scrap``
(``ideal_cycle_time * (produced - good)``) + the ideal time of good parts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from factorybrain.exceptions import EngineError, ParameterError

STATES = ("running", "idle", "down")
GROUP_KEYS = ("asset", "line", "shift", "day")


def _as_utc(values: pd.Series | pd.Timestamp | str) -> pd.Series | pd.Timestamp:
    """Timestamps as UTC; naive values are taken to be UTC already."""
    if isinstance(values, pd.Series):
        return pd.to_datetime(values, utc=True)
    stamp = pd.Timestamp(values)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _check_columns(frame: pd.DataFrame, name: str, columns: Iterable[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise EngineError(
            f"The {name} table needs columns {sorted(columns)}; missing {missing} "
            f"(found {list(frame.columns)})."
        )


def _shift_of(times: pd.Series, shifts: Mapping[str, tuple[str, str]]) -> pd.Series:
    """Name of the shift each timestamp falls in (shifts may wrap past midnight)."""
    minutes = times.dt.hour * 60 + times.dt.minute
    result = pd.Series(pd.NA, index=times.index, dtype="object")
    for name, (begin, finish) in shifts.items():
        b = pd.Timestamp(begin).hour * 60 + pd.Timestamp(begin).minute
        f = pd.Timestamp(finish).hour * 60 + pd.Timestamp(finish).minute
        inside = (minutes >= b) & (minutes < f) if b < f else (minutes >= b) | (minutes < f)
        result[inside & result.isna()] = name
    return result.fillna("unassigned")


def _shift_boundaries(
    start: pd.Timestamp, end: pd.Timestamp, shifts: Mapping[str, tuple[str, str]]
) -> np.ndarray:
    days = pd.date_range(start.normalize() - pd.Timedelta(days=1), end.normalize(), freq="D")
    cuts = []
    for begin, finish in shifts.values():
        for clock in (begin, finish):
            offset = pd.Timedelta(clock + ":00" if clock.count(":") == 1 else clock)
            cuts.extend(days + offset)
    cuts = pd.DatetimeIndex(sorted(set(cuts)))
    cuts = cuts[(cuts > start) & (cuts < end)]
    return cuts.as_unit("ns").asi8


def _nanoseconds(times: pd.Series) -> np.ndarray:
    """UTC timestamps as integer nanoseconds since the epoch."""
    return (
        times.dt.tz_convert("UTC").dt.tz_localize(None).dt.as_unit("ns").to_numpy().view(np.int64)
    )


def _prepare_states(
    states: pd.DataFrame,
    start: pd.Timestamp | None,
    end: pd.Timestamp | None,
    shifts: Mapping[str, tuple[str, str]] | None,
) -> pd.DataFrame:
    _check_columns(states, "states", ["asset", "start", "end", "state"])
    frame = states.copy()
    frame["start"] = _as_utc(frame["start"])
    frame["end"] = _as_utc(frame["end"])
    if "reason" not in frame.columns:
        frame["reason"] = ""
    frame["reason"] = frame["reason"].fillna("").astype(str)
    frame["state"] = frame["state"].astype(str).str.lower()
    unknown = sorted(set(frame["state"]) - set(STATES))
    if unknown:
        raise EngineError(f"The states table has unknown states {unknown}; expected {STATES}.")
    backwards = frame["end"] < frame["start"]
    if backwards.any():
        row = frame.index[backwards][0]
        raise EngineError(
            f"The states table row {row} ends before it starts "
            f"({frame.at[row, 'start']} > {frame.at[row, 'end']})."
        )
    if start is not None:
        frame["start"] = frame["start"].clip(lower=start)
    if end is not None:
        frame["end"] = frame["end"].clip(upper=end)
    frame = frame[frame["end"] > frame["start"]]
    if shifts and len(frame):
        cuts = _shift_boundaries(frame["start"].min(), frame["end"].max(), shifts)
        begins = _nanoseconds(frame["start"])
        ends = _nanoseconds(frame["end"])
        first = np.searchsorted(cuts, begins, side="right")
        last = np.searchsorted(cuts, ends, side="left")
        pieces = last - first + 1
        repeated = frame.loc[frame.index.repeat(pieces)].copy()
        row_first = np.repeat(first, pieces)
        row_pieces = np.repeat(pieces, pieces)
        step = np.arange(len(repeated)) - np.repeat(np.cumsum(pieces) - pieces, pieces)

        def cut(index: np.ndarray) -> np.ndarray:
            if not len(cuts):
                return np.zeros_like(index)
            return cuts[np.clip(index, 0, len(cuts) - 1)]

        lower = np.where(step == 0, np.repeat(begins, pieces), cut(row_first + step - 1))
        upper = np.where(step == row_pieces - 1, np.repeat(ends, pieces), cut(row_first + step))
        repeated["start"] = pd.to_datetime(lower, utc=True)
        repeated["end"] = pd.to_datetime(upper, utc=True)
        frame = repeated[repeated["end"] > repeated["start"]]
    frame = frame.reset_index(drop=True)
    frame["seconds"] = (frame["end"] - frame["start"]).dt.total_seconds()
    return frame


def _prepare_counts(
    counts: pd.DataFrame,
    start: pd.Timestamp | None,
    end: pd.Timestamp | None,
    ideal_cycle_time: Mapping[str, float],
) -> pd.DataFrame:
    _check_columns(counts, "counts", ["asset", "time"])
    frame = counts.copy()
    frame["time"] = _as_utc(frame["time"])
    if {"good", "total"} <= set(frame.columns):
        frame["total"] = frame["total"].astype(float)
        frame["good"] = frame["good"].astype(float)
    elif "passed" in frame.columns:
        frame["total"] = 1.0
        frame["good"] = frame["passed"].astype(bool).astype(float)
    else:
        raise EngineError(
            "The counts table needs either columns 'good' and 'total' (quantities per record) or "
            f"'passed' (one row per unit); found {list(frame.columns)}."
        )
    bad = frame["good"] > frame["total"]
    if bad.any():
        row = frame.index[bad][0]
        raise EngineError(
            f"The counts table row {row} has more good parts ({frame.at[row, 'good']}) than "
            f"parts made ({frame.at[row, 'total']})."
        )
    if start is not None:
        frame = frame[frame["time"] >= start]
    if end is not None:
        frame = frame[frame["time"] < end]
    missing = sorted(set(frame["asset"]) - set(ideal_cycle_time))
    if missing:
        raise EngineError(
            f"No ideal cycle time for assets {missing}; give one per producing asset."
        )
    frame = frame.copy()
    frame["cycle_seconds"] = frame["asset"].map(ideal_cycle_time).astype(float)
    return frame


def _add_keys(
    frame: pd.DataFrame,
    time_column: str,
    by: Sequence[str],
    asset_line: Mapping[str, str] | None,
    shifts: Mapping[str, tuple[str, str]] | None,
) -> pd.DataFrame:
    if "line" in by:
        if asset_line is None:
            raise ParameterError("Grouping by 'line' needs 'asset_line' (asset -> line).")
        frame["line"] = frame["asset"].map(asset_line).fillna("unassigned")
    if "shift" in by:
        if not shifts:
            raise ParameterError("Grouping by 'shift' needs 'shifts' (name -> (start, end)).")
        frame["shift"] = _shift_of(frame[time_column], shifts).to_numpy()
    if "day" in by:
        frame["day"] = frame[time_column].dt.strftime("%Y-%m-%d")
    return frame


def _check_by(by: str | Sequence[str]) -> list[str]:
    keys = [by] if isinstance(by, str) else list(by)
    wrong = [key for key in keys if key not in GROUP_KEYS]
    if wrong:
        raise ParameterError(
            f"The 'by' parameter must list keys from {GROUP_KEYS}. Got {wrong!r} instead."
        )
    return keys


def _totals(
    states: pd.DataFrame,
    counts: pd.DataFrame,
    ideal_cycle_time: Mapping[str, float] | pd.Series,
    start: pd.Timestamp | str | None,
    end: pd.Timestamp | str | None,
    by: str | Sequence[str],
    asset_line: Mapping[str, str] | None,
    shifts: Mapping[str, tuple[str, str]] | None,
    planned_stop_reasons: Iterable[str],
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    keys = _check_by(by)
    window_start = None if start is None else _as_utc(start)
    window_end = None if end is None else _as_utc(end)
    ideal = dict(ideal_cycle_time)
    if any(value <= 0 for value in ideal.values()):
        raise ParameterError("Every ideal cycle time must be > 0 seconds per unit.")
    state_frame = _prepare_states(
        states, window_start, window_end, shifts if "shift" in keys else None
    )
    count_frame = _prepare_counts(counts, window_start, window_end, ideal)
    state_frame = _add_keys(state_frame, "start", keys, asset_line, shifts)
    count_frame = _add_keys(count_frame, "time", keys, asset_line, shifts)
    planned = set(planned_stop_reasons)
    state_frame["planned_stop"] = (state_frame["state"] != "running") & state_frame["reason"].isin(
        planned
    )
    return state_frame, count_frame, keys


def oee(
    states: pd.DataFrame,
    counts: pd.DataFrame,
    ideal_cycle_time: Mapping[str, float] | pd.Series,
    *,
    start: pd.Timestamp | str | None = None,
    end: pd.Timestamp | str | None = None,
    by: str | Sequence[str] = "asset",
    asset_line: Mapping[str, str] | None = None,
    shifts: Mapping[str, tuple[str, str]] | None = None,
    planned_stop_reasons: Iterable[str] = (),
) -> pd.DataFrame:
    """Availability, performance, quality and OEE per group (ISO 22400-2).

    Args:
        states: Machine states: ``asset, start, end, state`` (``running``/``idle``/``down``) and
            optionally ``reason``. Timestamps are read as UTC.
        counts: Production counts, either ``asset, time, good, total`` (quantities per record) or
            ``asset, time, passed`` (one row per unit or serial, ``passed`` true when good).
        ideal_cycle_time: Seconds per unit at ideal speed, per asset.
        start: Start of the window (inclusive); default the earliest record.
        end: End of the window (exclusive); default the latest record.
        by: Grouping keys among ``"asset"``, ``"line"``, ``"shift"``, ``"day"``; ``[]`` for one
            total row.
        asset_line: ``{asset: line}``, needed to group by line.
        shifts: ``{name: ("06:00", "14:00")}`` (UTC clock times, may wrap past midnight), needed
            to group by shift; state records are split at shift boundaries.
        planned_stop_reasons: Reasons of non-running states that are planned (breaks, planned
            maintenance, no orders); they are left out of the planned busy time.

    Returns:
        One row per group with ``planned_busy_seconds``, ``running_seconds``, ``down_seconds``,
        ``idle_seconds``, ``total_count``, ``good_count``, ``ideal_seconds``, ``availability``,
        ``performance``, ``quality`` and ``oee`` (ratios in [0, 1]; performance can exceed 1 when
        the ideal cycle time is too slow). Ratios with a zero denominator are NaN.

    Raises:
        EngineError: A table lacks columns, has unknown states, or an asset has no ideal cycle time.
        ParameterError: ``by`` names an unknown key or a needed mapping is missing.

    Example:
        >>> import pandas as pd
        >>> states = pd.DataFrame({"asset": ["press"] * 2, "state": ["running", "down"],
        ...     "start": pd.to_datetime(["2024-01-01 08:00", "2024-01-01 09:30"]),
        ...     "end": pd.to_datetime(["2024-01-01 09:30", "2024-01-01 10:00"])})
        >>> counts = pd.DataFrame({"asset": ["press"], "time": [pd.Timestamp("2024-01-01 09:00")],
        ...     "good": [80], "total": [90]})
        >>> row = oee(states, counts, {"press": 50}).iloc[0]
        >>> [round(float(row[k]), 3) for k in ('availability', 'performance', 'quality', 'oee')]
        [0.75, 0.833, 0.889, 0.556]
    """
    state_frame, count_frame, keys = _totals(
        states, counts, ideal_cycle_time, start, end, by, asset_line, shifts, planned_stop_reasons
    )
    state_frame["running_seconds"] = state_frame["seconds"].where(
        state_frame["state"] == "running", 0.0
    )
    unplanned = ~state_frame["planned_stop"]
    state_frame["down_seconds"] = state_frame["seconds"].where(
        (state_frame["state"] == "down") & unplanned, 0.0
    )
    state_frame["idle_seconds"] = state_frame["seconds"].where(
        (state_frame["state"] == "idle") & unplanned, 0.0
    )
    state_frame["planned_busy_seconds"] = state_frame["seconds"].where(unplanned, 0.0)
    time_columns = ["planned_busy_seconds", "running_seconds", "down_seconds", "idle_seconds"]
    count_frame["total_count"] = count_frame["total"]
    count_frame["good_count"] = count_frame["good"]
    count_frame["ideal_seconds"] = count_frame["cycle_seconds"] * count_frame["total"]
    count_frame["ideal_good_seconds"] = count_frame["cycle_seconds"] * count_frame["good"]
    count_columns = ["total_count", "good_count", "ideal_seconds", "ideal_good_seconds"]
    if keys:
        times = state_frame.groupby(keys)[time_columns].sum()
        quantities = count_frame.groupby(keys)[count_columns].sum()
        table = times.join(quantities, how="outer").fillna(0.0).reset_index()
    else:
        table = pd.DataFrame(
            [{**state_frame[time_columns].sum(), **count_frame[count_columns].sum()}]
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        table["availability"] = table["running_seconds"] / table["planned_busy_seconds"].replace(
            0, np.nan
        )
        table["performance"] = table["ideal_seconds"] / table["running_seconds"].replace(0, np.nan)
        table["quality"] = table["good_count"] / table["total_count"].replace(0, np.nan)
        table["oee"] = table["ideal_good_seconds"] / table["planned_busy_seconds"].replace(
            0, np.nan
        )
    return table.drop(columns=["ideal_good_seconds"])


def oee_losses(
    states: pd.DataFrame,
    counts: pd.DataFrame,
    ideal_cycle_time: Mapping[str, float] | pd.Series,
    *,
    start: pd.Timestamp | str | None = None,
    end: pd.Timestamp | str | None = None,
    by: str | Sequence[str] = "asset",
    asset_line: Mapping[str, str] | None = None,
    shifts: Mapping[str, tuple[str, str]] | None = None,
    planned_stop_reasons: Iterable[str] = (),
) -> pd.DataFrame:
    """Where the planned busy time went: downtime by reason, speed loss and scrap, largest first.

    Arguments are those of :func:`oee`. Each row holds the group keys, ``category``
    (``"downtime"``, ``"idle"``, ``"speed loss"``, ``"scrap"``), ``reason`` (the state reason for
    downtime and idle time, empty otherwise), ``seconds`` lost and ``share`` of the group's planned
    busy time. Per group the losses plus the ideal time of good parts equal the planned busy time.
    """
    state_frame, count_frame, keys = _totals(
        states, counts, ideal_cycle_time, start, end, by, asset_line, shifts, planned_stop_reasons
    )
    group = keys or ["_all"]
    if not keys:
        state_frame["_all"] = "all"
        count_frame["_all"] = "all"
    stops = state_frame[(state_frame["state"] != "running") & ~state_frame["planned_stop"]].copy()
    stops["category"] = stops["state"].map({"down": "downtime", "idle": "idle"})
    downtime = stops.groupby([*group, "category", "reason"])["seconds"].sum().reset_index()
    running = state_frame[state_frame["state"] == "running"].groupby(group)["seconds"].sum()
    count_frame["ideal_total"] = count_frame["cycle_seconds"] * count_frame["total"]
    count_frame["ideal_scrap"] = count_frame["cycle_seconds"] * (
        count_frame["total"] - count_frame["good"]
    )
    ideal = count_frame.groupby(group)[["ideal_total", "ideal_scrap"]].sum()
    speed = running.to_frame("running").join(ideal, how="outer").fillna(0.0)
    speed_rows = speed.assign(
        category="speed loss", reason="", seconds=(speed["running"] - speed["ideal_total"]).clip(0)
    )
    scrap_rows = speed.assign(category="scrap", reason="", seconds=speed["ideal_scrap"])
    losses = pd.concat(
        [
            downtime,
            speed_rows.reset_index()[[*group, "category", "reason", "seconds"]],
            scrap_rows.reset_index()[[*group, "category", "reason", "seconds"]],
        ],
        ignore_index=True,
    )
    busy = state_frame[~state_frame["planned_stop"]].groupby(group)["seconds"].sum()
    losses = losses.merge(busy.rename("planned_busy").reset_index(), on=group, how="left")
    losses["share"] = losses["seconds"] / losses["planned_busy"].replace(0, np.nan)
    losses = losses.drop(columns=["planned_busy"])
    losses = losses[losses["seconds"] > 0].sort_values(
        [*group, "seconds"], ascending=[True] * len(group) + [False]
    )
    if not keys:
        losses = losses.drop(columns=["_all"])
    return losses.reset_index(drop=True)
