"""The gear plant's clock: Europe/Vienna local time, Austrian holidays, shift models, formats.

Minute ``t`` of the horizon is the epoch second ``start_s + 60 t``. The horizon starts at local
midnight of Monday 6 October 2025, so 180 days hold both changes of summer time (26 October 2025,
when 02:00-03:00 local happens twice, and 29 March 2026, when it does not happen at all), the
national holiday, the Christmas shutdown and the turn of the year.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np

LOCAL_TZ = "Europe/Vienna"
#: first instant of the horizon: Monday 6 October 2025, 00:00 local (22:00 UTC the day before)
START = datetime(2025, 10, 6, tzinfo=ZoneInfo(LOCAL_TZ)).astimezone(UTC)
DAY = 1440
#: the plant shuts down from 24 December to 6 January inclusive (Betriebsurlaub)
SHUTDOWN = ((12, 24), (1, 6))
#: shift models: two shifts Mon-Fri 06-22, three shifts Sun 22:00-Fri 22:00, continuous 24/7
SHIFT_MODELS = ("2S", "3S", "CONT")


def _easter(year: int) -> date:
    """Easter Sunday (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month = (h + l_ - 7 * m + 114) // 31
    day = (h + l_ - 7 * m + 114) % 31 + 1
    return date(year, month, day)


@lru_cache(maxsize=32)
def public_holidays(year: int) -> frozenset[date]:
    """Austrian public holidays of ``year`` (fixed and Easter-dependent)."""
    fixed = ((1, 1), (1, 6), (5, 1), (8, 15), (10, 26), (11, 1), (12, 8), (12, 25), (12, 26))
    easter = _easter(year)
    moving = [easter + timedelta(days=n) for n in (1, 39, 50, 60)]
    return frozenset([date(year, m, d) for m, d in fixed] + moving)


def in_shutdown(day: date) -> bool:
    """Whether the plant is shut down on ``day`` (Christmas to Epiphany)."""
    (m0, d0), (m1, d1) = SHUTDOWN
    return (day.month, day.day) >= (m0, d0) or (day.month, day.day) <= (m1, d1)


@lru_cache(maxsize=64)
def _transitions(year: int) -> tuple[tuple[int, int], ...]:
    """``(epoch second, new UTC offset in seconds)`` of every offset change in ``year``."""
    zone = ZoneInfo(LOCAL_TZ)
    out = []
    t = datetime(year, 1, 1, tzinfo=UTC)
    previous = t.astimezone(zone).utcoffset()
    while t.year == year:
        following = (t + timedelta(hours=1)).astimezone(zone).utcoffset()
        if following != previous and following is not None:
            out.append((int((t + timedelta(hours=1)).timestamp()), int(following.total_seconds())))
            previous = following
        t += timedelta(hours=1)
    return tuple(out)


def utc_offset_s(epoch_s: np.ndarray | int) -> np.ndarray:
    """UTC offset of Europe/Vienna in seconds (3600 or 7200) at every epoch second."""
    values = np.atleast_1d(np.asarray(epoch_s, dtype=np.int64))
    if values.size == 0:
        return np.zeros(0, dtype=np.int64)
    first = int(values.min())
    last = int(values.max())
    year0 = datetime.fromtimestamp(first, tz=UTC).year - 1
    year1 = datetime.fromtimestamp(last, tz=UTC).year
    moments = [(int(datetime(year0, 1, 1, tzinfo=UTC).timestamp()), 3600)]
    for year in range(year0, year1 + 1):
        moments.extend(_transitions(year))
    times = np.array([m[0] for m in moments], dtype=np.int64)
    offsets = np.array([m[1] for m in moments], dtype=np.int64)
    return offsets[np.searchsorted(times, values, side="right") - 1]


def local_datetime64(epoch_s: np.ndarray) -> np.ndarray:
    """Naive local wall-clock times (``datetime64[s]``) of epoch seconds."""
    values = np.asarray(epoch_s, dtype=np.int64)
    return (values + utc_offset_s(values)).astype("datetime64[s]")


def _iso(values: np.ndarray) -> np.ndarray:
    return np.datetime_as_string(values.astype("datetime64[s]"), unit="s")


def iso_offset(epoch_s: np.ndarray) -> list[str]:
    """ISO 8601 local time with its offset: ``2025-10-26T02:15:03+01:00``."""
    values = np.asarray(epoch_s, dtype=np.int64)
    offsets = utc_offset_s(values)
    text = _iso(values + offsets)
    suffix = np.where(offsets == 7200, "+02:00", "+01:00")
    return [a + b for a, b in zip(text.tolist(), suffix.tolist(), strict=True)]


def iso_utc_ms(epoch_ms: np.ndarray) -> list[str]:
    """ISO 8601 UTC with milliseconds and ``Z``: ``2025-10-06T04:12:09.117Z``."""
    values = np.asarray(epoch_ms, dtype=np.int64).astype("datetime64[ms]")
    return [t + "Z" for t in np.datetime_as_string(values, unit="ms").tolist()]


def iso_utc(epoch_s: float) -> str:
    """One epoch second as ISO 8601 UTC with ``Z`` (the truth's format)."""
    return datetime.fromtimestamp(int(epoch_s), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sap_dates(epoch_s: np.ndarray) -> list[str]:
    """SAP external dates ``DD.MM.YYYY`` in local time."""
    text = _iso(local_datetime64(np.asarray(epoch_s, dtype=np.int64))).tolist()
    return [f"{t[8:10]}.{t[5:7]}.{t[0:4]}" for t in text]


def sap_times(epoch_s: np.ndarray) -> list[str]:
    """SAP external times ``HH:MM:SS`` in local time."""
    text = _iso(local_datetime64(np.asarray(epoch_s, dtype=np.int64))).tolist()
    return [t[11:19] for t in text]


def sap_date(epoch_s: int | None) -> str:
    """One SAP date (empty for none)."""
    return "" if epoch_s is None else sap_dates(np.array([epoch_s]))[0]


def sap_time(epoch_s: int | None) -> str:
    """One SAP time (``00:00:00`` for none, as SAP shows an initial time)."""
    return "00:00:00" if epoch_s is None else sap_times(np.array([epoch_s]))[0]


def local_naive_text(epoch_s: np.ndarray) -> list[str]:
    """Local wall-clock ``YYYY-MM-DD HH:MM:SS`` without offset."""
    return [t.replace("T", " ") for t in _iso(local_datetime64(epoch_s)).tolist()]


@dataclass
class Calendar:
    """Minute grid of the horizon in local time.

    Attributes:
        start_s: Epoch second of minute 0.
        minutes: Minutes in the horizon.
        minute_of_day: Local minute of the day (0-1439) of every minute.
        weekday: Local weekday (0 Monday) of every minute.
        day_index: Local calendar day of every minute, counted from the first day.
        days: The local dates, indexed by ``day_index``.
        holiday: Whether each local day is an Austrian public holiday.
        shutdown: Whether each local day is in the Christmas shutdown.
        shifts: For each shift model, whether each minute is inside a planned shift.
    """

    start_s: int
    minutes: int
    minute_of_day: np.ndarray
    weekday: np.ndarray
    day_index: np.ndarray
    days: list[date]
    holiday: np.ndarray
    shutdown: np.ndarray
    shifts: dict[str, np.ndarray]

    @property
    def end_s(self) -> int:
        """Epoch second just after the horizon."""
        return self.start_s + 60 * self.minutes

    def epoch(self, minute: int | float) -> int:
        """Epoch second of a minute of the horizon."""
        return int(self.start_s + 60 * minute)

    def workday_minute(self, minute: int, hour: float) -> int:
        """The minute at local ``hour`` on the first working day (Mon-Fri) from ``minute``."""
        t = max(0, min(minute, self.minutes - 1))
        day = int(self.day_index[t])
        while day < len(self.days):
            d = self.days[day]
            if d.weekday() < 5 and not self.holiday[day] and not self.shutdown[day]:
                hits = np.flatnonzero(
                    (self.day_index == day) & (self.minute_of_day == int(hour * 60))
                )
                if hits.size and hits[0] >= minute:
                    return int(hits[0])
            day += 1
        return self.minutes - 1


def build_calendar(days: int) -> Calendar:
    """The local calendar of ``days`` days from :data:`START`."""
    minutes = days * DAY
    start_s = int(START.timestamp())
    epoch = start_s + 60 * np.arange(minutes, dtype=np.int64)
    local = local_datetime64(epoch)
    day64 = local.astype("datetime64[D]")
    minute_of_day = ((local - day64).astype(np.int64) // 60).astype(np.int16)
    first = day64[0]
    day_index = (day64 - first).astype(np.int32)
    n_days = int(day_index[-1]) + 1
    dates = [(first + np.timedelta64(i, "D")).astype(object) for i in range(n_days)]
    weekday = np.array([d.weekday() for d in dates], dtype=np.int8)[day_index]
    holiday = np.array([d in public_holidays(d.year) for d in dates], dtype=bool)
    shutdown = np.array([in_shutdown(d) for d in dates], dtype=bool)
    off_day = (holiday | shutdown)[day_index]
    hour = minute_of_day // 60
    workday = (weekday < 5) & ~off_day
    two = workday & (hour >= 6) & (hour < 22)
    # the night shift from 22:00 belongs to the next working day (Sunday 22:00 starts the week)
    next_workday = np.zeros(n_days, dtype=bool)
    day_work = np.array(
        [d.weekday() < 5 and not holiday[i] and not shutdown[i] for i, d in enumerate(dates)]
    )
    next_workday[:-1] = day_work[1:]
    if n_days:
        following = dates[-1] + timedelta(days=1)
        next_workday[-1] = (
            following.weekday() < 5
            and following not in public_holidays(following.year)
            and not in_shutdown(following)
        )
    three = (workday & (hour < 22)) | (next_workday[day_index] & (hour >= 22))
    continuous = ~shutdown[day_index]
    return Calendar(
        start_s=start_s,
        minutes=minutes,
        minute_of_day=minute_of_day,
        weekday=weekday,
        day_index=day_index,
        days=dates,
        holiday=holiday,
        shutdown=shutdown,
        shifts={"2S": two, "3S": three, "CONT": continuous},
    )


class Clock:
    """Fast local date and time texts of minutes (inside the horizon from the calendar)."""

    def __init__(self, calendar: Calendar) -> None:
        self.calendar = calendar
        self._days = [f"{d.day:02d}.{d.month:02d}.{d.year}" for d in calendar.days]
        self._iso_days = [d.isoformat() for d in calendar.days]

    def _inside(self, minute: int) -> bool:
        return 0 <= minute < self.calendar.minutes

    def sap_date(self, minute: int | None) -> str:
        """``DD.MM.YYYY`` local (empty for none)."""
        if minute is None:
            return ""
        minute = int(minute)
        if self._inside(minute):
            return self._days[int(self.calendar.day_index[minute])]
        return sap_date(self.calendar.epoch(minute))

    def sap_time(self, minute: int | None, second: int = 0) -> str:
        """``HH:MM:SS`` local (``00:00:00`` for none)."""
        if minute is None:
            return "00:00:00"
        minute = int(minute)
        if self._inside(minute):
            m = int(self.calendar.minute_of_day[minute])
            return f"{m // 60:02d}:{m % 60:02d}:{second:02d}"
        return sap_time(self.calendar.epoch(minute) + second)

    def iso_date(self, minute: int) -> str:
        """``YYYY-MM-DD`` local."""
        minute = int(minute)
        if self._inside(minute):
            return self._iso_days[int(self.calendar.day_index[minute])]
        return local_naive_text(np.array([self.calendar.epoch(minute)]))[0][:10]

    def naive(self, minute: int, second: int = 0) -> str:
        """``YYYY-MM-DD HH:MM:SS`` local, no offset."""
        return f"{self.iso_date(minute)} {self.sap_time(minute, second)}"
