"""The minute grid of the horizon, shift calendars in local time, and time formatting."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

LOCAL_TZ = "Europe/Berlin"
#: the plant's first simulated minute (a Monday)
START = datetime(2025, 1, 6, tzinfo=UTC)
#: fixed-date public holidays (month, day) on which no shift runs
HOLIDAYS = ((1, 1), (5, 1), (10, 3), (12, 24), (12, 25), (12, 26), (12, 31))


@dataclass
class TimeGrid:
    """Minute-resolution calendar of the horizon.

    Attributes:
        start_s: Epoch seconds (UTC) of minute 0.
        minutes: Number of minutes in the horizon.
        local_hour: Local (Europe/Berlin) hour of every minute.
        shift_masks: For 2 and 3 shift patterns, whether each minute is inside a planned shift.
        shift_index: Shift of each minute: 0 early (06-14), 1 late (14-22), 2 night (22-06).
    """

    start_s: int
    minutes: int
    local_hour: np.ndarray
    shift_masks: dict[int, np.ndarray]
    shift_index: np.ndarray

    @property
    def end_s(self) -> int:
        """Epoch seconds (UTC) just after the horizon."""
        return self.start_s + 60 * self.minutes


def build_time_grid(days: int) -> TimeGrid:
    """Build the calendar for ``days`` days from :data:`START`.

    Args:
        days: Horizon length in days.

    Returns:
        The minute grid with local hours and shift masks.
    """
    minutes = days * 1440
    index = pd.date_range(START, periods=minutes, freq="min").tz_convert(LOCAL_TZ)
    hour = np.asarray(index.hour, dtype=np.int8)
    weekday = np.asarray(index.day_of_week, dtype=np.int8)
    month = np.asarray(index.month, dtype=np.int8)
    day = np.asarray(index.day, dtype=np.int8)
    holiday = np.zeros(minutes, dtype=bool)
    for m, d in HOLIDAYS:
        holiday |= (month == m) & (day == d)
    workday = (weekday < 5) & ~holiday
    two = workday & (hour >= 6) & (hour < 22)
    # three shifts run from Sunday 22:00 to Friday 22:00: the night shift belongs to the next day
    next_day_workday = np.roll(workday, -120) if minutes > 120 else workday
    three = (workday & (hour < 22)) | (next_day_workday & (hour >= 22))
    shift_index = np.where(hour < 6, 2, np.where(hour < 14, 0, np.where(hour < 22, 1, 2)))
    return TimeGrid(
        start_s=int(START.timestamp()),
        minutes=minutes,
        local_hour=hour,
        shift_masks={2: two, 3: three},
        shift_index=shift_index.astype(np.int8),
    )


@lru_cache(maxsize=64)
def _dst_window(year: int) -> tuple[int, int]:
    """Epoch seconds when summer time starts and ends in ``year`` (read from the tz database)."""
    zone = ZoneInfo(LOCAL_TZ)
    moments = []
    t = datetime(year, 1, 1, tzinfo=UTC)
    previous = t.astimezone(zone).utcoffset()
    while t.year == year:
        following = (t + timedelta(hours=1)).astimezone(zone).utcoffset()
        if following != previous:
            moments.append(int((t + timedelta(hours=1)).timestamp()))
            previous = following
        t += timedelta(hours=1)
    return (moments[0], moments[1]) if len(moments) == 2 else (0, 0)


def local_offset_seconds(epoch_s: np.ndarray) -> np.ndarray:
    """UTC offset of Europe/Berlin in seconds at every epoch second (3600 or 7200)."""
    values = np.asarray(epoch_s, dtype=np.int64)
    offset = np.full(values.shape, 3600, dtype=np.int64)
    if values.size == 0:
        return offset
    years = values.astype("datetime64[s]").astype("datetime64[Y]").astype(np.int64) + 1970
    for year in np.unique(years):
        begin, end = _dst_window(int(year))
        offset[(years == year) & (values >= begin) & (values < end)] = 7200
    return offset


def to_local_strings(epoch_s: np.ndarray) -> np.ndarray:
    """Format epoch seconds as naive local (Europe/Berlin) ``YYYY-MM-DD HH:MM:SS`` strings."""
    values = np.asarray(epoch_s, dtype=np.int64)
    if values.size == 0:
        return np.array([], dtype="<U19")
    local = (values + local_offset_seconds(values)).astype("datetime64[s]")
    text = np.ascontiguousarray(np.datetime_as_string(local, unit="s").astype("<U19"))
    text.view("<U1").reshape(-1, 19)[:, 10] = " "
    return text


def to_utc_strings(epoch_s: np.ndarray) -> np.ndarray:
    """Format epoch seconds as ISO 8601 UTC strings with a ``Z``."""
    values = np.asarray(epoch_s, dtype=np.int64).astype("datetime64[s]")
    return np.char.add(np.datetime_as_string(values, unit="s"), "Z")


def to_offset_strings(epoch_s: np.ndarray) -> list[str]:
    """Format epoch seconds as ISO 8601 local time with its UTC offset (``+01:00``)."""
    values = np.asarray(epoch_s, dtype=np.int64)
    local = pd.DatetimeIndex(values.astype("datetime64[s]")).tz_localize("UTC").tz_convert(LOCAL_TZ)
    return [ts.isoformat() for ts in local]


def iso_utc(epoch_s: float) -> str:
    """One epoch second as ISO 8601 UTC with a ``Z``."""
    return datetime.fromtimestamp(int(epoch_s), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
