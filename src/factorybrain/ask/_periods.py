"""Periods in questions ("last week", "gestern", "5月", "2025-06-03"), counted from the data.

"Now" is the latest moment the store has production data for (machine states, operations,
historian points), not the wall clock: a plant loaded from last year's exports asked about "last
week" means the last week of its data. Weeks start on Monday; every period is half-open
``[start, end)`` in UTC, the store's time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from rapidfuzz.distance import OSA

from factorybrain.ask._language import Question, fold
from factorybrain.store import Store

_MONTHS = {
    "january": 1, "jan": 1, "januar": 1, "jaenner": 1, "february": 2, "feb": 2, "februar": 2,
    "march": 3, "mar": 3, "maerz": 3, "april": 4, "apr": 4, "may": 5, "mai": 5, "june": 6,
    "jun": 6, "juni": 6, "july": 7, "jul": 7, "juli": 7, "august": 8, "aug": 8,
    "september": 9, "sep": 9, "sept": 9, "october": 10, "oct": 10, "oktober": 10,
    "okt": 10, "november": 11, "nov": 11, "december": 12, "dec": 12, "dezember": 12,
    "dez": 12,
}  # fmt: skip
# Month words that are also ordinary words ("may", "mar") count only next to "in", "of" or a year.
_AMBIGUOUS_MONTHS = {"may", "mar", "jan", "jun", "jul", "aug", "sep", "oct", "nov", "dec", "apr"}
_CHINESE_NUMBERS = {
    "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10,
    "十一": 11, "十二": 12,
}  # fmt: skip
_MONTH_WORDS = "|".join(sorted(_MONTHS, key=len, reverse=True))
_ISO = r"(\d{4})-(\d{1,2})-(\d{1,2})"
_GERMAN_DATE = r"(\d{1,2})\.(\d{1,2})\.(\d{4})"
_CHINESE_DATE = r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]"
_DATE = re.compile(rf"{_ISO}|{_GERMAN_DATE}|{_CHINESE_DATE}")
_SINCE = re.compile(r"(since|seit|自从|自|从)\s*$")
# "the last 7 days", "die letzten 2 Wochen", "过去3天": a number of units back from now
_RELATIVE = (
    re.compile(r"\b(?:last|past|previous)\s+(\d+)\s+(hours?|days?|weeks?|months?)\b"),
    re.compile(
        r"\b(?:letzten|letzte|vergangenen|vergangene|vorigen)\s+(\d+)\s+"
        r"(stunden?|tagen?|tage|wochen?|monaten?|monate)\b"
    ),
    re.compile(r"(?:过去|最近|近)\s*(\d+)\s*(小时|天|日|周|星期|个月|月)"),
)
_UNITS = {
    "hour": 1 / 24, "hours": 1 / 24, "stunde": 1 / 24, "stunden": 1 / 24, "小时": 1 / 24,
    "day": 1, "days": 1, "tag": 1, "tage": 1, "tagen": 1, "天": 1, "日": 1,
    "week": 7, "weeks": 7, "woche": 7, "wochen": 7, "周": 7, "星期": 7,
    "month": 30, "months": 30, "monat": 30, "monate": 30, "monaten": 30, "个月": 30, "月": 30,
}  # fmt: skip
_NAMED = [
    ("day_before_yesterday", r"\bday before yesterday\b|\bvorgestern\b|前天"),
    ("yesterday", r"\byesterday\b|\bgestern\b|昨天|昨日"),
    ("today", r"\btoday\b|\bheute\b|今天|今日"),
    (
        "last_week",
        r"\b(?:last|past|previous|prior)\s+week\b|\b(?:letzte|letzten|letzter|vergangene|"
        r"vergangenen|vorige|vorigen)\s+woche\b|\bvorwoche\b|上周|上星期|上个星期|上一周|上个礼拜",
    ),
    (
        "this_week",
        r"\b(?:this|current)\s+week\b|\b(?:diese|dieser|aktuelle|aktuellen)\s+woche\b|"
        r"本周|这周|这个星期|本星期|这星期",
    ),
    (
        "last_month",
        r"\b(?:last|past|previous|prior)\s+month\b|\b(?:letzten|letzter|letztem|vergangenen|"
        r"vergangener|vorigen|voriger)\s+monat\b|\bvormonat\b|上个月|上月",
    ),
    (
        "this_month",
        r"\b(?:this|current)\s+month\b|\b(?:diesen|dieser|diesem|aktuellen)\s+monat\b|"
        r"本月|这个月",
    ),
    ("last_year", r"\blast\s+year\b|\b(?:letztes|letzten|vergangenes)\s+jahr\b|去年"),
    ("this_year", r"\bthis\s+year\b|\b(?:dieses|diesem)\s+jahr\b|今年"),
]
_WEEK = re.compile(r"\b(?:week|kw|cw|w)\s*(\d{1,2})\b|第\s*(\d{1,2})\s*周")
_MONTH = re.compile(
    rf"\b(?:(in|im|of|for|during|since|seit)\s+)?({_MONTH_WORDS})\b\.?(?:\s+(\d{{4}}))?"
)
_CHINESE_MONTH = re.compile(
    r"(?:(\d{4})\s*年\s*)?(\d{1,2}|十[一二]?|[一二三四五六七八九])\s*月(?:份)?(?!\s*\d+\s*[日号])"
)


# The words of periods, to read them mistyped ("last weeek", "yesterdy", "lsat month").
_PERIOD_WORDS = frozenset(
    """
    last past previous prior this current week weeks month months year today yesterday hours
    days letzte letzten letzter vergangene vergangenen vorige vorigen diese dieser diesen woche
    wochen monat monate gestern heute vorgestern stunden tage tagen jahr
    """.split()
) | frozenset(w for w in _MONTHS if len(w) > 3)


def _mended(word: str) -> str:
    """The period word a mistyped word stands for (one letter off, or two swapped), else itself."""
    if word in _PERIOD_WORDS or len(word) < 4:
        return word
    for known in _PERIOD_WORDS:
        if max(len(word), len(known)) >= 5 and OSA.distance(word, known, score_cutoff=1) <= 1:
            return known
        if len(word) == len(known) == 4 and sorted(word) == sorted(known):
            return known
    return word


def mend(folded: str) -> str:
    """The folded question with mistyped period words mended, word for word (same word count)."""
    return re.sub(r"[a-z]+", lambda m: _mended(m.group(0)), folded)


@dataclass(frozen=True)
class Period:
    """A span of time a question asks about.

    Attributes:
        start: First instant (naive UTC), None for "since the beginning".
        end: First instant after it (naive UTC), None for "until the end".
        label: How the answer names it, e.g. ``last week (2025-06-23 to 2025-06-29)``.
        spans: Where the question says it (character spans of the folded question).
    """

    start: datetime | None
    end: datetime | None
    label: str
    spans: tuple[tuple[int, int], ...] = ()


def data_end(store: Store) -> datetime:
    """The latest moment the store has production data for (the wall clock when it has none)."""
    from factorybrain.agents.planning import PLAN_SPACE

    found: list[datetime] = []
    for sql, parameters in (
        (
            "SELECT max(coalesce(end_time, start_time)) AS t FROM event WHERE event_type = 'state'",
            None,
        ),
        (
            "SELECT max(coalesce(end_time, start_time)) AS t FROM operation "
            "WHERE space <> ? AND status IS DISTINCT FROM 'planned'",
            [PLAN_SPACE],
        ),
        ("SELECT max(last_ts) AS t FROM series_extent", None),
    ):
        try:
            value = store.query(sql, parameters)["t"].iloc[0]
        except Exception:  # a store without this table (a bare schema): no data of that kind
            continue
        if value is not None and value == value:
            found.append(_naive(value))
    return max(found) if found else datetime.now(UTC).replace(tzinfo=None)


def _naive(value: object) -> datetime:
    moment = value.to_pydatetime() if hasattr(value, "to_pydatetime") else value
    if not isinstance(moment, datetime):
        moment = datetime.fromisoformat(str(moment))
    return (
        moment.replace(tzinfo=None)
        if moment.tzinfo is None
        else moment.astimezone(UTC).replace(tzinfo=None)
    )


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)


def _month(year: int, month: int) -> tuple[datetime, datetime]:
    start = datetime(year, month, 1)
    return start, datetime(year + (month == 12), month % 12 + 1, 1)


def _days(start: datetime, end: datetime) -> str:
    last = end - timedelta(microseconds=1)
    if start.date() == last.date():
        return f"{start:%Y-%m-%d}"
    return f"{start:%Y-%m-%d} to {last:%Y-%m-%d}"


def find_period(folded: str, now: datetime) -> Period | None:
    """The period a folded question names, counted back from ``now``; None when it names none.

    Args:
        folded: The question, folded (:func:`factorybrain.ask._language.fold`) and mended
            (:func:`mend`); the spans of the period returned are in this text.
        now: The latest moment of the data (:func:`data_end`).
    """
    today = (now - timedelta(microseconds=1)).date()  # the day the data ends in
    dates = [m for m in _DATE.finditer(folded) if _date_of(m) is not None]
    if dates:
        days = [day for day in map(_date_of, dates) if day is not None]
        spans = tuple(m.span() for m in dates)
        if len(days) >= 2:
            first, last = sorted(days[:2])
            start, end = _midnight(first), _midnight(last) + timedelta(days=1)
            return Period(start, end, _days(start, end), spans)
        start = _midnight(days[0])
        if _SINCE.search(folded[: dates[0].start()]):
            return Period(start, now, f"since {start:%Y-%m-%d}", spans)
        return Period(start, start + timedelta(days=1), f"{start:%Y-%m-%d}", spans)
    for pattern in _RELATIVE:
        match = pattern.search(folded)
        if match:
            count, unit = int(match.group(1)), _UNITS.get(match.group(2), 1)
            length = timedelta(days=count * unit)
            named = {1 / 24: "hour", 1: "day", 7: "week", 30: "month"}[unit]
            return Period(
                now - length,
                now,
                f"last {count} {named}{'s' if count != 1 else ''} ({_days(now - length, now)})",
                (match.span(),),
            )
    for name, named_pattern in _NAMED:
        match = re.search(named_pattern, folded)
        if match:
            start, end = _named(name, today, now)
            words = name.replace("_", " ").replace("day before yesterday", "the day before")
            return Period(start, end, f"{words} ({_days(start, end)})", (match.span(),))
    week = _WEEK.search(folded)
    if week:
        number = int(week.group(1) or week.group(2))
        if 1 <= number <= 53:
            year = today.isocalendar().year
            if date.fromisocalendar(year, number, 1) > today:
                year -= 1
            start = _midnight(date.fromisocalendar(year, number, 1))
            end = start + timedelta(days=7)
            return Period(
                start, end, f"week {number} of {year} ({_days(start, end)})", (week.span(),)
            )
    for match in _MONTH.finditer(folded):
        word, year_text, before = match.group(2), match.group(3), match.group(1)
        if word in _AMBIGUOUS_MONTHS and not (before or year_text):
            continue
        return _month_period(_MONTHS[word], year_text, today, now, match.span(), before)
    chinese = _CHINESE_MONTH.search(folded)
    if chinese:
        text = chinese.group(2)
        month = int(text) if text.isdigit() else _CHINESE_NUMBERS.get(text, 0)
        if 1 <= month <= 12:
            return _month_period(month, chinese.group(1), today, now, chinese.span(), None)
    return None


def _date_of(match: re.Match[str]) -> date | None:
    """The date an ISO, German or Chinese date names; None for one no calendar has."""
    groups = match.groups()
    if groups[0]:
        year, month, day = groups[0:3]
    elif groups[3]:
        day, month, year = groups[3:6]
    else:
        year, month, day = groups[6:9]
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


def _named(name: str, today: date, now: datetime) -> tuple[datetime, datetime]:
    midnight = _midnight(today)
    monday = midnight - timedelta(days=today.weekday())
    if name == "today":
        return midnight, midnight + timedelta(days=1)
    if name == "yesterday":
        return midnight - timedelta(days=1), midnight
    if name == "day_before_yesterday":
        return midnight - timedelta(days=2), midnight - timedelta(days=1)
    if name == "this_week":
        return monday, monday + timedelta(days=7)
    if name == "last_week":
        return monday - timedelta(days=7), monday
    if name == "this_month":
        return _month(today.year, today.month)
    if name == "last_month":
        previous = midnight.replace(day=1) - timedelta(days=1)
        return _month(previous.year, previous.month)
    if name == "this_year":
        return datetime(today.year, 1, 1), datetime(today.year + 1, 1, 1)
    return datetime(today.year - 1, 1, 1), datetime(today.year, 1, 1)


def _month_period(
    month: int,
    year_text: str | None,
    today: date,
    now: datetime,
    span: tuple[int, int],
    before: str | None,
) -> Period:
    """A named month: of the year given, else the latest one that has begun by ``today``."""
    year = int(year_text) if year_text else today.year - (month > today.month)
    start, end = _month(year, month)
    if before in ("since", "seit"):
        return Period(start, now, f"since {start:%B %Y}", (span,))
    return Period(start, end, f"{start:%B %Y} ({_days(start, end)})", (span,))


def period_of(store: Store, text: str) -> Period:
    """The period ``text`` names (``last week``, ``2025-06-01 to 2025-06-07``) from the data's end.

    Empty text is the whole history; text that names no period is too, and its label says so.
    """
    if not text.strip():
        return Period(None, None, "the whole history")
    found = find_period(mend(fold(text)), data_end(store))
    if found is None:
        return Period(None, None, f"the whole history ({text.strip()!r} names no period I know)")
    return found


def period_words(folded: str, period: Period | None) -> set[int]:
    """Positions of the words of a mended question (:func:`mend`) that say its period."""
    if period is None:
        return set()
    return {
        position
        for position, (start, end) in enumerate(Question.read(folded).offsets)
        if any(a < end and start < b for a, b in period.spans)
    }


__all__ = ["Period", "data_end", "find_period", "mend", "period_of", "period_words"]
