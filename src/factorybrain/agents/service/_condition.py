"""How far a machine's own condition moved while it processed a window's units.

Machines in series on one line process the same units a day apart, so their windows explain the
same claims almost equally well. What tells them apart is the machines' own sensors: the one that
was degrading vibrated, heated or drew current unlike its normal while it made the units.

:class:`ConditionReader` reads a machine's historian device (the series the model links to it,
on the device's own grid, whatever the historian's sampling: :func:`load_assets`) over the
window and the ``baseline_days`` before it, keeps the readings taken while the machine was
producing, and takes each signal's deviation from the nearest of its normal operating points:
its median over the baseline for each product made (a spindle turns at another speed for
another product), whichever product the MES says it was making at the moment. The
day's median deviation is compared with the baseline days' (robust z-score: median and MAD); a
day's move is that of its **second** most moved signal (a worn machine moves several of its
signals, a failing sensor one), and the shift is the largest over the window's days. A machine
without linked sensors, or with fewer than ``min_baseline_days`` days of them before the
window, gives no evidence (None), never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from scipy import stats

from factorybrain.agents.core._telemetry import historian_series, load_assets
from factorybrain.store import Store

#: Robust z-score (of a day's median, against the baseline days') from which a machine's
#: condition counts as having moved while it processed the units: far beyond the day-to-day
#: spread of a machine in its normal state, which stays within a few units.
CONDITION_Z = 10.0


@dataclass(frozen=True)
class ConditionShift:
    """The largest move of a machine's condition over a window.

    Attributes:
        z: Robust z-score of the day that moved most, by its second most moved signal (its only
            one on a machine with one signal).
        signals: The signals that moved most that day (historian signal names).
        day: That day.
        baseline_days: Days of the baseline it was compared with.
    """

    z: float
    signals: tuple[str, ...]
    day: datetime
    baseline_days: int

    @property
    def text(self) -> str:
        """For people: which signals, how far, which day."""
        names = " and ".join(self.signals)
        were = "were" if len(self.signals) > 1 else "was"
        return (
            f"its {names} {were} {self.z:.0f} robust SD or more off its normal on "
            f"{self.day:%Y-%m-%d} (against the {self.baseline_days} days before)"
        )


class Machines:
    """Which records name the same machine: one key per machine, whatever silo wrote it.

    A machine has a record in each silo that knows it (the MES station, the ERP's work centre
    and its equipment), and the historian's tags belong to one of them. Two records are the same
    machine when an approved link says so (``annotation``, a link to an asset), or when they are
    the one equipment and the one work cell at one place of the hierarchy (SAP keeps a machine
    as an equipment for maintenance and as a work centre for production, and the equipment's
    location record names both its functional location and its work centre).
    """

    def __init__(self, store: Store) -> None:
        self._root: dict[tuple[str, str], tuple[str, str]] = {}
        links = store.query(
            "SELECT source_space, source_identifier, target_space, target_external_id "
            "FROM annotation WHERE status = 'approved' AND target_type = 'asset' "
            "AND target_space IS NOT NULL"
        )
        for row in links.itertuples(index=False):
            self._join((str(row[0]), str(row[1])), (str(row[2]), str(row[3])))
        assets = store.query(
            "SELECT space, parent, level, external_id FROM asset "
            "WHERE parent IS NOT NULL AND level IN ('equipment', 'workcell')"
        )
        for (space, _parent), group in assets.groupby(["space", "parent"], sort=False):
            equipment = group.loc[group["level"] == "equipment", "external_id"].tolist()
            cells = group.loc[group["level"] == "workcell", "external_id"].tolist()
            if len(equipment) == len(cells) == 1:  # one machine's two records at its place
                self._join((str(space), str(equipment[0])), (str(space), str(cells[0])))

    def _find(self, key: tuple[str, str]) -> tuple[str, str]:
        root = self._root.get(key, key)
        if root == key:
            return key
        root = self._find(root)
        self._root[key] = root
        return root

    def _join(self, a: tuple[str, str], b: tuple[str, str]) -> None:
        first, second = self._find(a), self._find(b)
        if first != second:
            self._root[max(first, second)] = min(first, second)

    def key(self, space: str, identifier: str) -> tuple[str, str]:
        """The machine's key of a record (the record itself when nothing joins it)."""
        return self._find((str(space), str(identifier)))


class ConditionReader:
    """Condition shifts of the model's machines over windows, read from their historian series.

    Args:
        store: The factory store.
        baseline_days: Days before a window its readings are compared with.
        min_baseline_days: Days with readings the baseline needs.
        margin_days: Days read beyond each end of a window: when a unit passed a machine is
            estimated by sharing out its order's operation, which may span days the machine
            stood still (a weekend); the running days around them tell its condition.
    """

    def __init__(
        self,
        store: Store,
        *,
        baseline_days: int = 60,
        min_baseline_days: int = 10,
        margin_days: int = 1,
    ) -> None:
        self.store = store
        self.baseline_days = baseline_days
        self.min_baseline_days = min_baseline_days
        self.margin_days = margin_days
        self.machines = Machines(store)
        self._devices: dict[tuple[str, str], str] | None = None
        self._shifts: dict[tuple[tuple[str, str], datetime, datetime], ConditionShift | None] = {}
        self._daily: dict[tuple[tuple[str, str], datetime, datetime], pd.Series | None] = {}

    def devices(self) -> dict[tuple[str, str], str]:
        """The historian device of each machine the model links series to, by machine key."""
        if self._devices is None:
            series = historian_series(self.store)
            devices: dict[tuple[str, str], str] = {}
            for device, equipment in zip(series["device"], series["equipment"], strict=True):
                if equipment is not None:
                    key = self.machines.key(str(equipment[0]), str(equipment[1]))
                    devices.setdefault(key, str(device))
            self._devices = devices
        return self._devices

    def shift(
        self, equipment: tuple[str, str], start: datetime, end: datetime
    ) -> ConditionShift | None:
        """How far the machine's condition moved from ``start`` to ``end`` (exclusive)."""
        key = (equipment, start, end)
        if key not in self._shifts:
            self._shifts[key] = self._read(equipment, start, end)
        return self._shifts[key]

    def daily(self, equipment: tuple[str, str], start: datetime, end: datetime) -> pd.Series | None:
        """The machine's move on each day from ``start`` to ``end`` (robust z, see the module).

        Indexed by day (midnight); None without sensors or without enough baseline days.
        """
        key = (equipment, start, end)
        if key not in self._daily:
            read = self._moves(equipment, start, end)
            self._daily[key] = None if read is None else read[0]
        return self._daily[key]

    def _read(
        self, equipment: tuple[str, str], start: datetime, end: datetime
    ) -> ConditionShift | None:
        read = self._moves(equipment, start, end)
        if read is None:
            return None
        evidence, signals, baseline_days = read
        if not np.isfinite(evidence.to_numpy()).any() or evidence.max() <= 0:
            return None
        row = int(np.argmax(evidence.to_numpy()))
        return ConditionShift(
            float(evidence.iloc[row]),
            signals[row],
            pd.Timestamp(evidence.index[row]).to_pydatetime(),
            baseline_days,
        )

    def _moves(
        self, equipment: tuple[str, str], start: datetime, end: datetime
    ) -> tuple[pd.Series, list[tuple[str, ...]], int] | None:
        """Each day's move, the signals that moved most that day, and the baseline's days."""
        device = self.devices().get(self.machines.key(*equipment))
        if device is None:
            return None
        margin = pd.Timedelta(days=self.margin_days)
        first = pd.Timestamp(start) - margin
        assets = load_assets(
            self.store,
            start=(first - pd.Timedelta(days=self.baseline_days)).to_pydatetime(),
            end=(pd.Timestamp(end) + margin).to_pydatetime(),
            devices=[device],
        )
        if not assets:
            return None
        asset = assets[0]
        frame = asset.frame[asset.running]
        if frame.empty:
            return None
        regime = pd.Series(asset.regime[asset.running], index=frame.index, dtype=object)
        before = frame.index < first
        centres = frame[before].groupby(regime[before].fillna("").astype(str)).median()
        if centres.empty:
            return None
        deviation = _from_nearest(frame, centres)
        daily = deviation.groupby(deviation.index.floor("D")).median()
        baseline = daily[daily.index < first]
        window = daily[daily.index >= first]
        if len(baseline) < self.min_baseline_days or window.empty:
            return None
        median = baseline.median()
        spread = 1.4826 * (baseline - median).abs().median()
        spread = spread.where(spread > 0)
        z = ((window - median) / spread).abs()
        # a worn machine moves several of its signals; one signal alone may be its sensor
        # failing (a drift, a stuck value): a day counts by its second most moved signal
        needed = min(2, z.shape[1])
        ranked = -np.sort(-z.fillna(0.0).to_numpy(), axis=1)
        evidence = pd.Series(ranked[:, needed - 1], index=z.index)
        signals = [
            tuple(str(signal) for signal in z.iloc[row].sort_values(ascending=False).index[:needed])
            for row in range(len(z))
        ]
        return evidence, signals, len(baseline)


def tracking(
    reader: ConditionReader,
    machines: dict[tuple[str, str], tuple[datetime, datetime]],
    passes: pd.DataFrame,
    failing: np.ndarray,
    *,
    min_failing: int = 3,
) -> dict[tuple[str, str], float]:
    """How well each machine's condition when a unit passed it tells the failing units apart.

    Two machines of a line that both wore around the same days hold the same claims; the one
    that caused them was off its normal *when the failing units passed it*, and the units it
    made in its normal days stayed sound. For each machine (a record of the operations, with
    the span to read), each unit's pass is given the machine's move on that day
    (:meth:`ConditionReader.daily`), and the score is the probability that a failing unit
    passed it in a worse condition than a sound one (the area under the ROC curve, ties
    counted half): near 1 when its condition tracks the failures, 0.5 when it does not, below
    when the failing units passed it before it wore.

    Args:
        reader: The condition reader.
        machines: ``(space, equipment)`` of each machine's record -> the span to read.
        passes: :func:`unit_times_on_machines` of the fleet's units.
        failing: Per unit of the fleet (by position), whether it failed as the claims do.
        min_failing: Failing and sound units a machine needs among its passes to be scored.

    Returns:
        The score of each machine that could be scored.
    """
    scores: dict[tuple[str, str], float] = {}
    for (space, equipment), (start, end) in machines.items():
        mine = passes[(passes["equipment_space"] == space) & (passes["equipment"] == equipment)]
        mine = mine[(mine["time"] >= pd.Timestamp(start)) & (mine["time"] < pd.Timestamp(end))]
        if mine.empty:
            continue
        moves = reader.daily((space, equipment), start, end)
        if moves is None:
            continue
        day = pd.to_datetime(mine["time"]).dt.floor("D")
        move = day.map(moves).to_numpy(dtype=float)
        known = np.isfinite(move)
        failed = failing[mine["unit"].to_numpy(dtype=np.int64)][known]
        move = move[known]
        if failed.sum() < min_failing or (~failed).sum() < min_failing:
            continue
        ranks = stats.rankdata(move)
        positives = int(failed.sum())
        negatives = int(failed.size - positives)
        scores[(space, equipment)] = float(
            (ranks[failed].sum() - positives * (positives + 1) / 2) / (positives * negatives)
        )
    return scores


def strongest(
    shifts: list[tuple[int, ConditionShift | None]], *, threshold: float = CONDITION_Z
) -> tuple[int, ConditionShift] | None:
    """Of ``(label, shift)`` pairs, the one that moved most, at least ``threshold``; else None.

    On equal shifts the first (the better separation, in the caller's order) wins.
    """
    best: tuple[int, ConditionShift] | None = None
    for label, shift in shifts:
        if shift is not None and shift.z >= threshold and (best is None or shift.z > best[1].z):
            best = (label, shift)
    return best


def _from_nearest(frame: pd.DataFrame, centres: pd.DataFrame) -> pd.DataFrame:
    """Each reading's deviation from the nearest of its signal's normal operating points.

    A machine labelled as making one product while running another's setpoints (an order's
    start booked late) sits on another product's normal point, not off every normal point as a
    worn machine does; the nearest centre, not the labelled one, tells the two apart.
    """
    values = frame.to_numpy(dtype=float)
    points = centres[frame.columns].to_numpy(dtype=float)  # regimes x signals
    distance = values[:, None, :] - points[None, :, :]
    absolute = np.where(np.isnan(distance), np.inf, np.abs(distance))
    nearest = np.argmin(absolute, axis=1)
    chosen = np.take_along_axis(distance, nearest[:, None, :], axis=1)[:, 0, :]
    return pd.DataFrame(chosen, index=frame.index, columns=frame.columns)


__all__ = [
    "CONDITION_Z",
    "ConditionReader",
    "ConditionShift",
    "Machines",
    "strongest",
    "tracking",
]
