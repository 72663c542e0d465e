"""OEE of the plant from the factory model, per machine, line or shift (ISO 22400-2).

The convention of the demo plant's truth, stated in docs/demo-factory.md: the planned busy time
is the shift time less planned maintenance, so changeovers, minor stops, breakdowns, waiting for
spare parts and starvation are availability losses. Machine states are cut to the line's shifts
(a breakdown that lasts the night costs only its shift minutes); ``setup`` states count as
downtime with their reason (``S10`` changeover). Quantities come from the operations:
``processed = good + scrap`` on each machine, the ideal time from the routing's ideal cycle of
the product made. An operation's quantities are shared among the shifts it spans in proportion
to its time in each.

The ratios come from :func:`factorybrain.engines.oee.oee`; because the engine takes one ideal
cycle per asset and a machine makes several products, every group gets its quantity-weighted
ideal cycle, which keeps ideal time, quality and OEE exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np
import pandas as pd

from factorybrain.engines.oee import oee, oee_losses
from factorybrain.exceptions import NoDataError, ParameterError
from factorybrain.store import Store

#: Reasons of non-running states that are planned (left out of the planned busy time).
PLANNED_STOP_REASONS = ("P10", "I00")
BY_OPTIONS = ("machine", "line", "shift")
_STATE = {"running": "running", "idle": "idle", "down": "down", "setup": "down"}
_SEP = "\x1f"


def _in_shifts(
    frame: pd.DataFrame, shifts: pd.DataFrame, line_of: dict[str, str], begin: str, finish: str
) -> pd.DataFrame:
    """Cut rows ``[begin, finish)`` to the shifts of each row's line; adds ``shift`` and share."""
    pieces = []
    for line, group in frame.groupby(frame["asset"].map(line_of)):
        calendar = shifts[shifts["line"] == line].sort_values("start")
        if calendar.empty or group.empty:
            continue
        s_start = calendar["start"].to_numpy("datetime64[ns]")
        s_end = calendar["end"].to_numpy("datetime64[ns]")
        g_start = group[begin].to_numpy("datetime64[ns]")
        g_end = group[finish].to_numpy("datetime64[ns]")
        first = np.searchsorted(s_end, g_start, side="right")
        last = np.searchsorted(s_start, g_end, side="left")
        count = np.clip(last - first, 0, None)
        rows = np.repeat(np.arange(len(group)), count)
        offsets = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
        index = np.repeat(first, count) + offsets
        cut = group.iloc[rows].copy()
        lower = np.maximum(g_start[rows], s_start[index])
        upper = np.minimum(g_end[rows], s_end[index])
        length = (g_end - g_start)[rows].astype(np.int64)
        cut["piece_start"] = lower
        cut["piece_end"] = upper
        cut["share"] = np.where(length > 0, (upper - lower).astype(np.int64) / length, 0.0)
        cut["shift"] = calendar["shift"].to_numpy()[index]
        cut["line"] = line
        pieces.append(cut[cut["piece_end"] > cut["piece_start"]])
    if not pieces:
        return frame.iloc[0:0].assign(
            piece_start=pd.Series(dtype="datetime64[ns]"),
            piece_end=pd.Series(dtype="datetime64[ns]"),
            share=pd.Series(dtype=float),
            shift=pd.Series(dtype=object),
            line=pd.Series(dtype=object),
        )
    return pd.concat(pieces, ignore_index=True)


def _recipe_in_force(operations: pd.DataFrame) -> pd.DataFrame:
    """One row per operation: the ideal cycle of the recipe revision in force when it started.

    A revised recipe keeps its older revisions, so the join gives an operation one row per
    revision; the one in force is the latest ``valid_from`` not after the operation's start
    (undated: the oldest), else the first revision when every one starts later.
    """
    if operations.empty or not operations["operation"].duplicated().any():
        return operations.drop(columns=["operation", "valid_from"])
    since = pd.to_datetime(operations["valid_from"])
    valid = since.isna() | (since <= pd.to_datetime(operations["start_time"]))
    stamp = since.to_numpy(dtype="datetime64[ns]").astype("int64").astype(float)  # NaT: -9.2e18
    # in force: the latest valid revision; with none valid, the earliest (ranks below any valid)
    preference = pd.Series(np.where(valid, stamp, -2e19 - stamp), index=operations.index)
    chosen = preference.groupby(operations["operation"], sort=False).idxmax()
    return operations.loc[sorted(chosen)].drop(columns=["operation", "valid_from"])


def _inputs(
    store: Store,
    assets: Sequence[str] | None,
    start: datetime | None,
    end: datetime | None,
    space: str | None,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    if space is None:
        recorded = store.query(
            "SELECT space, count(*) AS n FROM event WHERE event_type = 'state' "
            "GROUP BY space ORDER BY n DESC, space LIMIT 1"
        )
        if recorded.empty:
            raise NoDataError(
                "The store has no machines with recorded states (event rows with event_type "
                "'state') in any space; OEE needs them to know running, idle and down time."
            )
        space = str(recorded["space"].iloc[0])
    machines = store.query(
        "SELECT external_id AS asset, parent AS line, asset_class AS workcell FROM asset "
        "WHERE space = ? AND level = 'equipment' AND parent IS NOT NULL",
        [space],
    )
    if assets:
        unknown = sorted(set(assets) - set(machines["asset"]) - set(machines["line"]))
        if unknown:
            raise ParameterError(
                f"No machine or line {unknown} in space {space!r}; known machines: "
                f"{sorted(machines['asset'])}, lines: {sorted(set(machines['line']))}."
            )
        machines = machines[machines["asset"].isin(assets) | machines["line"].isin(assets)]
    if machines.empty:
        raise NoDataError(f"The store has no machines (asset rows with a line) in {space!r}.")
    line_of = dict(zip(machines["asset"], machines["line"], strict=True))
    states = store.query(
        "SELECT DISTINCT asset, state, coalesce(reason, '') AS reason, start_time, end_time "
        "FROM event WHERE space = ? AND event_type = 'state' AND end_time > start_time",
        [space],
    )
    states = states[states["asset"].isin(line_of)]
    shifts = store.query(
        "SELECT asset AS line, coalesce(reason, name, 'shift') AS shift, start_time AS start, "
        "end_time AS \"end\" FROM event WHERE space = ? AND event_type = 'shift'",
        [space],
    )
    if shifts.empty:
        raise NoDataError(
            f"The store has no shift events (event_type 'shift') in space {space!r}; OEE needs "
            "the planned shifts to know the planned busy time."
        )
    history_end = states["end_time"].max()
    operations = store.query(
        "SELECT o.equipment AS asset, o.start_time, coalesce(o.end_time, ?) AS end_time, "
        "coalesce(o.quantity_good, 0) AS good, "
        "coalesce(o.quantity_good, 0) + coalesce(o.quantity_scrap, 0) AS total, "
        "r.ideal_cycle_seconds AS cycle, o.external_id AS operation, r.valid_from "
        "FROM operation o "
        "JOIN work_order w ON w.space = o.space AND w.external_id = o.work_order "
        "JOIN asset a ON a.space = o.space AND a.external_id = o.equipment "
        "JOIN recipe r ON r.space = o.space AND r.product = w.product "
        "AND r.workcell = a.asset_class "
        "WHERE o.space = ? AND o.start_time IS NOT NULL",
        [history_end, space],
    )
    operations = _recipe_in_force(operations[operations["asset"].isin(line_of)])
    window = (start, end)
    state_pieces = _in_shifts(states, shifts, line_of, "start_time", "end_time")
    operations = operations.reset_index(drop=True).assign(row=lambda f: f.index)
    op_pieces = _in_shifts(operations, shifts, line_of, "start_time", "end_time")
    # an operation's quantities go to the shifts it ran in, in proportion to its time in each
    length = (op_pieces["piece_end"] - op_pieces["piece_start"]).dt.total_seconds()
    op_pieces["share"] = length / length.groupby(op_pieces["row"]).transform("sum")
    zero = operations[~operations["row"].isin(op_pieces["row"])]
    if not zero.empty:
        zero = zero.assign(
            piece_start=zero["start_time"], piece_end=zero["end_time"], share=1.0,
            shift="unassigned", line=zero["asset"].map(line_of),
        )  # fmt: skip
        op_pieces = pd.concat([op_pieces, zero], ignore_index=True)
    if window[0] is not None or window[1] is not None:
        low = pd.Timestamp(window[0]) if window[0] is not None else pd.Timestamp.min
        high = pd.Timestamp(window[1]) if window[1] is not None else pd.Timestamp.max
        state_pieces["piece_start"] = state_pieces["piece_start"].clip(lower=low)
        state_pieces["piece_end"] = state_pieces["piece_end"].clip(upper=high)
        state_pieces = state_pieces[state_pieces["piece_end"] > state_pieces["piece_start"]]
        op_pieces = op_pieces[(op_pieces["piece_start"] >= low) & (op_pieces["piece_start"] < high)]
    op_pieces = op_pieces.assign(
        good=op_pieces["good"] * op_pieces["share"],
        total=op_pieces["total"] * op_pieces["share"],
    )
    return state_pieces, op_pieces, line_of


def _engine_tables(
    state_pieces: pd.DataFrame, op_pieces: pd.DataFrame, line_of: dict[str, str], by: str
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, float], str, dict[str, str] | None]:
    if by not in BY_OPTIONS:
        raise ParameterError(f"The 'by' parameter must be one of {BY_OPTIONS}. Got {by!r}.")

    def key(frame: pd.DataFrame) -> pd.Series:
        if by == "shift":
            return frame["asset"] + _SEP + frame["shift"].astype(str)
        return frame["asset"]

    states = pd.DataFrame(
        {
            "asset": key(state_pieces),
            "start": state_pieces["piece_start"],
            "end": state_pieces["piece_end"],
            "state": state_pieces["state"].map(_STATE).fillna("down"),
            "reason": state_pieces["reason"],
        }
    )
    counts = pd.DataFrame(
        {
            "asset": key(op_pieces),
            "time": op_pieces["piece_start"],
            "good": op_pieces["good"],
            "total": op_pieces["total"],
            "ideal": op_pieces["total"] * op_pieces["cycle"],
        }
    )
    sums = counts.groupby("asset")[["ideal", "total"]].sum()
    ideal = (sums["ideal"] / sums["total"].replace(0, np.nan)).fillna(1.0).to_dict()
    for asset in set(states["asset"]) - set(ideal):
        ideal[asset] = 1.0
    counts = counts.drop(columns=["ideal"])
    if by == "machine":
        return states, counts, ideal, "asset", None
    if by == "line":
        return states, counts, ideal, "line", line_of
    groups = {asset: asset.split(_SEP, 1)[1] for asset in set(states["asset"]) | set(ideal)}
    return states, counts, ideal, "line", groups


def _rename(table: pd.DataFrame, by: str) -> pd.DataFrame:
    source = "asset" if by == "machine" else "line"
    return table.rename(columns={source: by})


def plant_oee(
    store: Store,
    *,
    by: str = "machine",
    assets: Sequence[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    space: str | None = None,
) -> pd.DataFrame:
    """Availability, performance, quality and OEE per machine, line or shift.

    Args:
        store: The factory store (MES machine states, shifts, operations, routings).
        by: ``"machine"``, ``"line"`` or ``"shift"`` (shift names such as EARLY, LATE, NIGHT).
        assets: Only these machines or lines (codes); default all.
        start: Start of the window (naive UTC, inclusive); default the whole history.
        end: End of the window (exclusive).
        space: Space of the machine states and shifts; default the space that records the
            most machine states.

    Returns:
        One row per group: the group column, ``planned_busy_seconds``, ``running_seconds``,
        ``down_seconds``, ``idle_seconds``, ``total_count``, ``good_count``, ``ideal_seconds``,
        ``availability``, ``performance``, ``quality``, ``oee``.

    Raises:
        ParameterError: Unknown ``by`` or asset, or the store lacks machines or shifts.
    """
    state_pieces, op_pieces, line_of = _inputs(store, assets, start, end, space)
    states, counts, ideal, engine_by, mapping = _engine_tables(state_pieces, op_pieces, line_of, by)
    table = oee(
        states,
        counts,
        ideal,
        by=engine_by,
        asset_line=mapping,
        planned_stop_reasons=PLANNED_STOP_REASONS,
    )
    return _rename(table, by)


def plant_oee_losses(
    store: Store,
    *,
    by: str = "machine",
    assets: Sequence[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    space: str | None = None,
) -> pd.DataFrame:
    """Where the planned busy time went, largest first: downtime by reason, speed loss, scrap.

    Arguments are those of :func:`plant_oee`. Rows: the group column, ``category``
    (``downtime``, ``idle``, ``speed loss``, ``scrap``), ``reason`` (``D10`` breakdown, ``S10``
    changeover, ``M10``-``M50`` minor stops, ``I10`` starved...), ``seconds`` and ``share`` of
    the group's planned busy time.
    """
    state_pieces, op_pieces, line_of = _inputs(store, assets, start, end, space)
    states, counts, ideal, engine_by, mapping = _engine_tables(state_pieces, op_pieces, line_of, by)
    table = oee_losses(
        states,
        counts,
        ideal,
        by=engine_by,
        asset_line=mapping,
        planned_stop_reasons=PLANNED_STOP_REASONS,
    )
    return _rename(table, by)
