"""Working time of a line: its shifts turned into one continuous axis of working minutes.

The machines of a line share its shift calendar, and an operation that does not finish before
the end of a shift carries on at the start of the next one (how the plant runs batches). Planning
in working minutes makes both hold by construction: every working minute of an operation falls
inside a shift, and the scheduling engine only sees the windows that take capacity away inside
shifts (maintenance, breakdowns).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import numpy as np

from factorybrain.exceptions import ParameterError


@dataclass(frozen=True)
class WorkCalendar:
    """Shift intervals of one line in minutes from the plan's origin, and their working time.

    Args:
        origin: Time zero of the plan (naive UTC).
        starts: Start of every shift, minutes from ``origin``, ascending, disjoint.
        ends: End of every shift, minutes from ``origin``.
    """

    origin: datetime
    starts: np.ndarray
    ends: np.ndarray

    @classmethod
    def from_shifts(
        cls, origin: datetime, shifts: Sequence[tuple[datetime, datetime]]
    ) -> WorkCalendar:
        """Build a calendar from ``(start, end)`` shifts (naive UTC); overlaps are merged.

        Raises:
            ParameterError: When no shift ends after ``origin`` (a calendar with no capacity).
        """
        spans = sorted(
            (max(0, _minutes(start, origin)), _minutes(end, origin)) for start, end in shifts
        )
        merged: list[list[int]] = []
        for start, end in spans:
            if end <= start:
                continue
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        if not merged:
            raise ParameterError(
                f"The shift calendar has no working time after {origin:%Y-%m-%d %H:%M} UTC; "
                "expected at least one shift ending after the plan's origin."
            )
        array = np.asarray(merged, dtype=np.int64)
        return cls(origin, array[:, 0], array[:, 1])

    @property
    def _before(self) -> np.ndarray:
        """Working minutes before each shift."""
        return np.concatenate([[0], np.cumsum(self.ends - self.starts)[:-1]])

    @property
    def total(self) -> int:
        """Working minutes in the calendar."""
        return int((self.ends - self.starts).sum())

    def to_work(self, minute: int | np.ndarray) -> np.ndarray:
        """Working minutes between the origin and clock ``minute`` (minutes from the origin)."""
        t = np.asarray(minute, dtype=np.int64)
        before = self._before
        i = np.searchsorted(self.starts, t, side="right") - 1
        inside = np.clip(i, 0, None)
        within = np.clip(t - self.starts[inside], 0, self.ends[inside] - self.starts[inside])
        work = np.where(i < 0, 0, before[inside] + within)
        beyond = t > self.ends[-1]
        return np.where(beyond, self.total + (t - self.ends[-1]), work)

    def to_clock(self, work: int | np.ndarray, *, end: bool = False) -> np.ndarray:
        """Clock minutes (from the origin) of working minute ``work``.

        Args:
            work: Working minutes from the origin.
            end: Read it as the end of an operation: a working minute that closes a shift maps
                to that shift's end, not to the start of the next one.
        """
        w = np.asarray(work, dtype=np.int64)
        before = self._before
        side: Literal["left", "right"] = "left" if end else "right"
        i = np.clip(np.searchsorted(before, w, side=side) - 1, 0, len(before) - 1)
        clock = self.starts[i] + (w - before[i])
        beyond = w > self.total if end else w >= self.total
        return np.where(beyond, self.ends[-1] + (w - self.total), clock)

    def clock_time(self, work: int, *, end: bool = False) -> datetime:
        """Timestamp (naive UTC) of working minute ``work``."""
        return self.origin + timedelta(minutes=int(self.to_clock(work, end=end)))

    def work_minute(self, moment: datetime) -> int:
        """Working minutes between the origin and ``moment``."""
        return int(self.to_work(_minutes(moment, self.origin)))


def _minutes(moment: datetime, origin: datetime) -> int:
    return int((moment - origin).total_seconds() // 60)
