"""What an agent reads of a machine's sensors: assets, their signals, regimes, resets.

The maintenance agent learns each machine's health from it; the service agent reads from it how
far a machine's condition moved while it made units that fail in the field.

A series belongs to the device the model links it to (its own ``asset``, or an approved or
suggested link of the series to an asset), never to one parsed from its id; every device becomes
one asset with its signals as columns. A device that is a historian's own asset name is linked to
model equipment by an approved annotation when one exists; otherwise by its own data, by comparing
when the device's running signal is on with the running states the MES recorded per machine
(no name lists, no naming rules). A linked device gets its operating regime (the product on the
machine) from the MES operations and its resets (repairs and planned maintenance, after which
wear starts again) from long down states.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

import numpy as np
import pandas as pd

from factorybrain.context._behaviour import inside_intervals
from factorybrain.exceptions import StoreError
from factorybrain.store import Store

_T = TypeVar("_T")
_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_NOT_PLAIN = re.compile(r"[^A-Za-z0-9._-]+")

#: A machine down at least this long was repaired or maintained: its wear starts again.
RESET_DOWN = timedelta(hours=2)
#: Least share of agreeing minutes for a device to be linked to an MES machine by its data.
LINK_AGREEMENT = 0.6
#: Finest grid the readings are resampled to: faster historians are averaged to it.
FINEST_STEP_SECONDS = 60
#: Days of the latest readings that tell a series' spacing.
SPACING_DAYS = 28
#: Share of an hour's expected readings it needs to be judged.
HOUR_COVERAGE = 1 / 3


@dataclass
class AssetData:
    """One asset's sensor history as a table, with what the model knows around it.

    Attributes:
        device: The historian device (tag prefix), e.g. ``L3_PRS03``.
        frame: One row per timestamp, one column per analog signal (SI units as stored).
        running: Per row, whether the machine was producing (its step/state signal, else True).
        regime: Per row, the operating regime key (the product being made), or None.
        equipment: The linked model equipment ``(space, external_id)``, or None.
        link_method: ``annotation``, ``running_states`` or ``none``.
        link_confidence: How sure the link is, in [0, 1].
        asset_class: The linked equipment's class, else the device's set of signals.
        resets: Ends of long downs (repairs, maintenance), ascending; the first row counts too.
        series: Historian external id of each column.
        step_seconds: The grid the readings were resampled to: the series' own median spacing,
            never finer than :data:`FINEST_STEP_SECONDS`.
        space: Space of the historian series.
    """

    device: str
    frame: pd.DataFrame
    running: np.ndarray
    regime: np.ndarray
    equipment: tuple[str, str] | None = None
    link_method: str = "none"
    link_confidence: float = 0.0
    asset_class: str = ""
    resets: list[pd.Timestamp] = field(default_factory=list)
    series: dict[str, str] = field(default_factory=dict)
    step_seconds: int = FINEST_STEP_SECONDS
    space: str | None = None
    label: str = ""

    @property
    def shown(self) -> str:
        """The name people know the machine by: its asset's name, else the device."""
        return self.label or self.device

    @property
    def readings_per_hour(self) -> int:
        """Readings an hour holds on the asset's grid (60 for minutes, 4 for 15 minutes)."""
        return max(1, round(3600 / self.step_seconds))

    @property
    def min_readings(self) -> int:
        """Readings an hour needs to be judged: a third of what the grid holds, at least one."""
        return max(1, int(np.ceil(self.readings_per_hour * HOUR_COVERAGE)))

    @property
    def step(self) -> pd.Timedelta:
        """The grid step as a time span."""
        return pd.Timedelta(seconds=self.step_seconds)

    @property
    def asset_id(self) -> str:
        """The id findings use: the linked equipment's external id, else the device."""
        return self.equipment[1] if self.equipment else self.device


def historian_series(store: Store, space: str | None = None) -> pd.DataFrame:
    """Series with datapoints, grouped into devices by the model's links, with their signal names.

    A series belongs to the device the model links it to, never to one read from its id (an id
    may be ``L3_PRS03.VIB_RMS``, ``W1:PRESS12|HYD_P``, ``Pump 3 bearing`` or a number): the
    target of an approved link of the series to an asset (``annotation``, source kind ``tag``),
    else its own ``asset`` (set at ingestion, e.g. from a historian's asset path), else the
    target of a suggested link (``link_method`` says which). A series with none is left out and
    reported (:func:`unlinked_series`); one on a site, an area or a line is left out too (its
    throughput or energy is no machine's health). A signal's name is what tells it apart from the
    device's other series: its id without the part every series of the device shares at its
    start (cut at a character that is not a letter or digit), so devices of one class share
    column names.

    Args:
        store: The factory store.
        space: Only this space's series; default every space that holds datapoints.
    """
    frame = store.query(
        "SELECT space, external_id, series_id, is_step, value_type, unit, asset FROM time_series "
        "WHERE series_id IS NOT NULL AND (? IS NULL OR space = ?) ORDER BY external_id",
        [space, space],
    )
    links = _series_links(store)
    modelled = _assets_of_series(store)
    devices: list[str | None] = []
    equipment: list[tuple[str, str] | None] = []
    methods: list[str] = []
    confidences: list[float] = []
    for row in frame.itertuples():
        link = links.get((str(row.space), str(row.external_id)))
        if link is not None and (link[3] == "approved" or pd.isna(row.asset)):
            target_space, target, confidence, status = link
            devices.append(target)
            equipment.append((target_space, target))
            methods.append("annotation" if status == "approved" else "suggested")
            confidences.append(confidence)
        elif pd.notna(row.asset):
            # the series' own asset: equipment of the model when it names one in its space,
            # else a historian's name for it, to be linked like any device
            own = (str(row.space), str(row.asset))
            devices.append(str(row.asset))
            equipment.append(own if own in modelled else None)
            methods.append("series" if own in modelled else "none")
            confidences.append(1.0 if own in modelled else 0.0)
        else:
            devices.append(None)
            equipment.append(None)
            methods.append("none")
            confidences.append(0.0)
    frame["device"] = [None if device is None else plain_key(device) for device in devices]
    frame["equipment"] = equipment
    frame["link_method"] = methods
    frame["link_confidence"] = confidences
    frame = frame[frame["device"].notna()].copy()
    # a site's, an area's or a line's tags (throughput, energy) are no machine's health
    above = _assets_above_machines(store)
    # a boolean mask, not a list: an empty list would select no columns (no linked series)
    kept = np.fromiter((link not in above for link in frame["equipment"]), bool, len(frame))
    frame = frame.loc[kept].copy()
    frame["signal"] = frame["external_id"]
    for _, group in frame.groupby("device", sort=False):
        frame.loc[group.index, "signal"] = _signal_names(list(group["external_id"]))
    frame["is_state"] = frame["is_step"].fillna(False).astype(bool) | (
        frame["value_type"].isin(["state", "bool"])
    )
    return frame


def plain_key(name: str) -> str:
    """``name`` as a key the model registry takes (letters, digits, ``.``, ``_``, ``-``).

    A plain name stays as it is; any other gets its other characters replaced and a short hash
    of the whole, so two names never share a key.
    """
    if _PLAIN.fullmatch(name):
        return name
    digest = hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]
    return f"{_NOT_PLAIN.sub('_', name).strip('_')[:60]}-{digest}"


def unlinked_series(store: Store, space: str | None = None) -> pd.DataFrame:
    """Series with datapoints that no link of the model puts on an asset (space, external_id)."""
    frame = store.query(
        "SELECT space, external_id, asset FROM time_series "
        "WHERE series_id IS NOT NULL AND asset IS NULL AND (? IS NULL OR space = ?) "
        "ORDER BY space, external_id",
        [space, space],
    )
    links = _series_links(store)
    keep = [(str(r.space), str(r.external_id)) not in links for r in frame.itertuples()]
    return frame.loc[keep, ["space", "external_id"]].reset_index(drop=True)


def _signal_names(ids: list[str]) -> list[str]:
    """What tells each id apart from the others: the ids without their shared start."""
    if len(ids) < 2:
        return ids
    shared = os.path.commonprefix(ids)
    while shared and shared[-1].isalnum():
        shared = shared[:-1]
    names = [identifier[len(shared) :] for identifier in ids]
    if not shared or any(not name for name in names) or len(set(names)) < len(names):
        return ids
    return names


def sampling_seconds(store: Store, series: pd.DataFrame) -> int:
    """The grid a device's readings go on: the median spacing of its analog series' readings.

    Each series' median gap between readings over its last :data:`SPACING_DAYS` days (a
    median, so gaps and outages do not count) is read from the store; the device's grid is the
    coarsest of them, rounded to whole seconds and never finer than
    :data:`FINEST_STEP_SECONDS` (faster readings are
    averaged). A historian at 1 s, 1 min, 15 min or 1 h gets a grid of 60 s, 60 s, 900 s, 3600 s.
    """
    ids = ", ".join(str(int(s)) for s in series["series_id"])
    # the last weeks of readings tell the spacing; reading all of a long history would not
    # tell it better
    spacing = store.query(
        f"""
        SELECT series_id, median(gap) AS gap FROM (
            SELECT series_id, epoch(ts) - lag(epoch(ts)) OVER (PARTITION BY series_id ORDER BY ts)
                   AS gap
            FROM datapoint WHERE series_id IN ({ids})
              AND ts >= (SELECT max(ts) FROM datapoint WHERE series_id IN ({ids}))
                        - INTERVAL {SPACING_DAYS} DAY
        ) WHERE gap > 0 GROUP BY series_id
        """
    )
    if spacing.empty or spacing["gap"].isna().all():
        return FINEST_STEP_SECONDS
    return max(FINEST_STEP_SECONDS, int(round(float(spacing["gap"].max()))))


def _device_frame(
    store: Store,
    series: pd.DataFrame,
    start: datetime | None,
    end: datetime | None,
    step_seconds: int,
) -> pd.DataFrame:
    """The device's readings on its grid: analog signals averaged, state signals at their max."""
    columns = ", ".join(
        f"{'max' if row.is_state else 'avg'}(value) FILTER (WHERE series_id = "
        f'{int(row.series_id)}) AS "{row.signal}"'
        for row in series.itertuples()
    )
    ids = ", ".join(str(int(s)) for s in series["series_id"])
    where = [f"series_id IN ({ids})"]
    parameters: list[object] = []
    if start is not None:
        where.append("ts >= ?")
        parameters.append(start)
    if end is not None:
        where.append("ts < ?")
        parameters.append(end)
    bucket = f"time_bucket(INTERVAL {int(step_seconds)} SECOND, ts) AS ts"
    frame = store.query(
        f"SELECT {bucket}, {columns} FROM datapoint WHERE {' AND '.join(where)} "
        "GROUP BY ALL ORDER BY ts",
        parameters,
    )
    return frame.set_index("ts")


#: Levels of the equipment hierarchy (ISA-95) above the machines whose health is watched.
ABOVE_MACHINES = ("enterprise", "site", "area", "line")


def _assets_above_machines(store: Store) -> set[tuple[str, str]]:
    """The model's assets that stand for a site, an area or a line, not for a machine."""
    levels = ", ".join(f"'{level}'" for level in ABOVE_MACHINES)
    frame = store.query(f"SELECT space, external_id FROM asset WHERE level IN ({levels})")
    return {(str(r.space), str(r.external_id)) for r in frame.itertuples()}


def _assets_of_series(store: Store) -> set[tuple[str, str]]:
    """The model's assets that a series names as its own (``time_series.asset``)."""
    frame = store.query(
        "SELECT DISTINCT a.space, a.external_id FROM asset a JOIN time_series t "
        "ON t.space = a.space AND t.asset = a.external_id"
    )
    return {(str(r.space), str(r.external_id)) for r in frame.itertuples()}


def _approved_and_suggested(store: Store) -> pd.DataFrame:
    """The approved and suggested links to assets, read once per change of the links."""
    return _remembered(store, ("annotation",), ("links to assets",), lambda: _read_links(store))


def _read_links(store: Store) -> pd.DataFrame:
    try:
        return store.query(
            "SELECT source_space, source_identifier, source_kind, target_space, "
            "target_external_id, confidence, status FROM annotation "
            "WHERE status IN ('approved', 'suggested') AND target_type IN ('asset', 'equipment') "
            "ORDER BY status = 'approved', confidence NULLS FIRST"
        )
    except StoreError:  # a store without an annotation table: nothing is linked by people
        return pd.DataFrame(
            columns=[
                "source_space",
                "source_identifier",
                "source_kind",
                "target_space",
                "target_external_id",
                "confidence",
                "status",
            ]
        )


def _series_links(store: Store) -> dict[tuple[str, str], tuple[str, str, float, str]]:
    """``(space, series id) -> (target space, target id, confidence, status)`` of tag links.

    An approved link wins over a suggested one, and of two alike the more confident.
    """
    links: dict[tuple[str, str], tuple[str, str, float, str]] = {}
    frame = _approved_and_suggested(store)
    for row in frame[frame["source_kind"] == "tag"].itertuples():
        confidence = float(row.confidence) if pd.notna(row.confidence) else 1.0
        links[(str(row.source_space), str(row.source_identifier))] = (
            str(row.target_space),
            str(row.target_external_id),
            confidence,
            str(row.status),
        )
    return links


def _annotation_links(store: Store) -> dict[str, tuple[str, str, float]]:
    """Approved links of a device (an asset name of the historian) to model equipment."""
    frame = _approved_and_suggested(store)
    links: dict[str, tuple[str, str, float]] = {}
    for row in frame[frame["status"] == "approved"].itertuples():
        confidence = float(row.confidence) if pd.notna(row.confidence) else 1.0
        links[str(row.source_identifier)] = (
            str(row.target_space),
            str(row.target_external_id),
            confidence,
        )
    return links


def _state_events(store: Store) -> pd.DataFrame:
    """Machine states, and downtimes as downs (an ERP's breakdown notification is a repair).

    A state recorded without its end lasts until the next state of the same subject (the
    last one stays open): one missing end must not make a machine "running" for months.
    """
    return store.query(
        "SELECT space, asset, CASE WHEN event_type = 'downtime' THEN coalesce(state, 'down') "
        "ELSE state END AS state, start_time, coalesce(end_time, lead(start_time) OVER "
        "(PARTITION BY space, asset, event_type ORDER BY start_time)) AS end_time FROM event "
        "WHERE asset IS NOT NULL AND (event_type = 'state' OR (event_type = 'downtime' "
        "AND coalesce(state, 'down') = 'down')) ORDER BY asset, start_time"
    )


def _running(
    frame: pd.DataFrame, signals: list[str], tags: list[tuple[str, str]], events: pd.DataFrame
) -> np.ndarray:
    """Per reading of a device, whether its machine was producing.

    From its state signals' readings (on when any is above 0.5). A historian that exports a
    digital state tag as state changes instead of readings (the tag's states are events on the
    tag, e.g. a PI export of a digital set) gives no readings: then the ``running`` events
    recorded on the tags say it. A device with no state signal counts as running throughout.
    """
    if not signals:
        return np.ones(len(frame), dtype=bool)
    values = frame[signals].to_numpy(dtype=float)
    recorded = events.empty or not np.isnan(values).all()
    if not recorded:
        keys = pd.MultiIndex.from_arrays([events["space"].astype(str), events["asset"].astype(str)])
        on_tags = events[keys.isin(tags)]
        if not on_tags.empty:
            runs = on_tags[on_tags["state"] == "running"]
            ends = runs["end_time"].fillna(frame.index.max()).to_numpy("datetime64[ns]")
            starts = runs["start_time"].to_numpy("datetime64[ns]")
            return inside_intervals(frame.index.values, starts, ends)
    return np.where(np.isnan(values), 0.0, values).max(axis=1) > 0.5  # no reading: not on


def _link_by_states(
    running: np.ndarray, index: pd.DatetimeIndex, events: pd.DataFrame
) -> tuple[tuple[str, str] | None, float]:
    """The MES machine whose running states agree best with the device's running signal."""
    best: tuple[tuple[str, str] | None, float] = (None, 0.0)
    if events.empty or not running.any():
        return best
    running_events = events[events["state"] == "running"]
    last = index.max()
    for (space, asset), group in running_events.groupby(["space", "asset"], sort=True):
        ends = group["end_time"].fillna(last).to_numpy("datetime64[ns]")
        mask = inside_intervals(index.values, group["start_time"].to_numpy("datetime64[ns]"), ends)
        union = np.count_nonzero(mask | running)
        agreement = np.count_nonzero(mask & running) / union if union else 0.0
        if agreement > best[1]:
            best = ((str(space), str(asset)), agreement)
    if best[1] < LINK_AGREEMENT:
        return None, best[1]
    return best


def _regimes(store: Store, equipment: tuple[str, str], index: pd.DatetimeIndex) -> np.ndarray:
    """Product being made on the equipment at each row (None outside operations)."""
    operations = _remembered(
        store,
        ("operation", "work_order"),
        ("operations", equipment),
        lambda: store.query(
            "SELECT o.start_time, o.end_time, coalesce(w.product, o.work_order) AS product "
            "FROM operation o LEFT JOIN work_order w "
            "ON w.external_id = o.work_order AND w.space = o.space "
            "WHERE o.equipment = ? AND o.space = ? AND o.start_time IS NOT NULL "
            "ORDER BY o.start_time",
            [equipment[1], equipment[0]],
        ),
    )
    regime = np.full(len(index), None, dtype=object)
    if operations.empty:
        return regime
    last = index.max() + pd.Timedelta(minutes=1)
    stamps = index.values
    for row in operations.itertuples():
        end = row.end_time if pd.notna(row.end_time) else last
        lo, hi = np.searchsorted(stamps, [np.datetime64(row.start_time), np.datetime64(end)])
        regime[lo:hi] = row.product
    return regime


def _resets(events: pd.DataFrame, equipment: tuple[str, str]) -> list[pd.Timestamp]:
    """Ends of down periods of at least :data:`RESET_DOWN` (consecutive downs merged)."""
    mine = events[(events["space"] == equipment[0]) & (events["asset"] == equipment[1])]
    resets: list[pd.Timestamp] = []
    down_start = down_end = None
    for row in mine.itertuples():
        if row.state == "down" and pd.notna(row.end_time):
            if down_start is None or row.start_time > down_end + pd.Timedelta(minutes=1):
                if down_start is not None and down_end - down_start >= RESET_DOWN:
                    resets.append(pd.Timestamp(down_end))
                down_start = row.start_time
            down_end = row.end_time if down_end is None else max(down_end, row.end_time)
        elif row.state == "running" and down_start is not None:
            if down_end - down_start >= RESET_DOWN:
                resets.append(pd.Timestamp(down_end))
            down_start = down_end = None
    if down_start is not None and down_end - down_start >= RESET_DOWN:
        resets.append(pd.Timestamp(down_end))
    return sorted(set(resets))


#: The tables that say which series make which device and how it is linked.
_LINK_TABLES = ("time_series", "annotation", "asset")
#: Answers read from a store, by (store, what): the generation they were read at and the answer.
_MEMO: dict[tuple[object, ...], tuple[int, Any]] = {}
_MEMO_SIZE = 512  # a few entries per device: links, states, repairs, regimes


def _remembered(
    store: Store, tables: tuple[str, ...], what: tuple[object, ...], read: Callable[[], _T]
) -> _T:
    """``read()``, or what it gave while ``tables`` of this store were as they are now.

    An agent judging one device after another, or stepping through history, reads the links
    of every device once instead of once per device and step. Only the latest answer of each
    kind is kept.
    """
    generation = store.generation_of(tables)
    if generation is None:
        return read()
    key = (getattr(store, "identity", id(store)), *what)
    found = _MEMO.get(key)
    if found is not None and found[0] == generation:
        return cast(_T, found[1])
    answer = read()
    _MEMO.pop(key, None)
    while len(_MEMO) >= _MEMO_SIZE:
        _MEMO.pop(next(iter(_MEMO)))
    _MEMO[key] = (generation, answer)
    return answer


def _links_and_classes(
    store: Store, space: str | None
) -> tuple[
    pd.DataFrame,
    dict[str, tuple[str, str, float]],
    dict[tuple[str, str], str],
    dict[tuple[str, str], str],
]:
    equipment_classes = store.query(
        "SELECT space, external_id, asset_class, name FROM asset WHERE level = 'equipment'"
    )
    classes = {
        (str(r.space), str(r.external_id)): str(r.asset_class)
        for r in equipment_classes.itertuples()
        if pd.notna(r.asset_class)
    }
    names = {
        (str(r.space), str(r.external_id)): str(r.name)
        for r in equipment_classes.itertuples()
        if pd.notna(r.name) and str(r.name).strip()
    }
    return historian_series(store, space), _annotation_links(store), classes, names


def load_assets(
    store: Store,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    space: str | None = None,
    devices: Sequence[str] | None = None,
    links: Mapping[str, AssetData] | None = None,
) -> list[AssetData]:
    """Every historian device of the store as an asset with its context (see :func:`iter_assets`).

    All of them at once: for a plant too large to hold, :func:`iter_assets` reads one at a time.
    """
    return list(iter_assets(store, start=start, end=end, space=space, devices=devices, links=links))


def iter_assets(
    store: Store,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    space: str | None = None,
    devices: Sequence[str] | None = None,
    links: Mapping[str, AssetData] | None = None,
) -> Iterator[AssetData]:
    """Read the historian devices of the store one at a time, each as an asset with its context.

    Readings are put on the device's own grid (:func:`sampling_seconds`): a 1 s historian is
    averaged to minutes, a 15-minute one stays at 15 minutes, whatever the plant's historian.

    Args:
        store: The factory store.
        start: First timestamp to read (inclusive); None for the beginning.
        end: Last timestamp to read (exclusive); None for the end.
        space: Space of the historian's time series; default every space with datapoints.
        devices: Only these devices (tag prefixes); None for all.
        links: Devices already linked (by an earlier read of their whole history): their link
            and class are kept instead of linking again on the data read now.

    Yields:
        One :class:`AssetData` per device that has at least one analog signal, by device.
    """
    series, annotations, classes, names = _remembered(
        store, _LINK_TABLES, ("links", space), lambda: _links_and_classes(store, space)
    )
    events = _remembered(store, ("event",), ("states",), lambda: _state_events(store))
    for device, group in series.groupby("device", sort=True):
        if devices is not None and device not in devices:
            continue
        analog = group[~group["is_state"]]
        if analog.empty:
            continue
        known = (links or {}).get(str(device))
        step = known.step_seconds if known is not None else sampling_seconds(store, analog)
        frame = _device_frame(store, group, start, end, step)
        if frame.empty:
            continue
        frame.index = pd.DatetimeIndex(frame.index)
        state = group[group["is_state"]]
        tags = [(str(r.space), str(r.external_id)) for r in state.itertuples()]
        running = _running(frame, list(state["signal"]), tags, events)
        analog_frame = frame[list(analog["signal"])].astype(float)
        equipment, method, confidence = None, "none", 0.0
        linked = group[group["equipment"].notna()]
        if known is not None:
            equipment, method = known.equipment, known.link_method
            confidence = known.link_confidence
        elif len(linked):
            # the series' approved (or suggested) link names the equipment itself
            equipment = linked["equipment"].iloc[0]
            method = str(linked["link_method"].iloc[0])
            confidence = float(linked["link_confidence"].min())
        elif device in annotations:
            target_space, target_id, confidence = annotations[device]
            equipment, method = (target_space, target_id), "annotation"
        else:
            equipment, confidence = _link_by_states(running, frame.index, events)
            method = "running_states" if equipment else "none"
        regime = np.full(len(frame), None, dtype=object)
        resets = [frame.index[0]]
        if equipment is not None:
            regime = _regimes(store, equipment, frame.index)
            # a down that ends after the data read has no data after it yet: not a reset yet
            last = frame.index[-1]
            downs = _remembered(
                store,
                ("event",),
                ("downs", equipment),
                functools.partial(_resets, events, equipment),
            )
            # a historian's state tag exported as state changes has downs of its own
            for tag in tags:
                downs = downs + _remembered(
                    store, ("event",), ("downs", tag), functools.partial(_resets, events, tag)
                )
            first = frame.index[0]
            resets = sorted({first, *(r for r in downs if r <= last)})
        asset_class = classes.get(equipment, "") if equipment else ""
        if known is not None:
            asset_class = known.asset_class
        if not asset_class:
            asset_class = "+".join(sorted(analog["signal"]))
        yield AssetData(
            device=str(device),
            frame=analog_frame,
            running=running,
            regime=regime,
            equipment=equipment,
            link_method=method,
            link_confidence=float(confidence),
            asset_class=asset_class,
            resets=resets,
            series=dict(zip(analog["signal"], analog["external_id"], strict=True)),
            step_seconds=step,
            space=str(group["space"].iloc[0]),
            label=names.get(equipment, "") if equipment else "",
        )


__all__ = [
    "AssetData",
    "historian_series",
    "iter_assets",
    "load_assets",
    "plain_key",
    "sampling_seconds",
    "unlinked_series",
]
