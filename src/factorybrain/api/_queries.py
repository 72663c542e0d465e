"""The read queries behind the REST routes and the MCP tools: one typed function each.

Every function returns plain JSON-ready values (ISO timestamps, lists, dicts), so the REST API,
the MCP server and ``ask`` wrap the same code.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from factorybrain.agents import RecordNotFoundError
from factorybrain.agents._contract import utc
from factorybrain.exceptions import ParameterError
from factorybrain.model import ENTITY_TYPES, entity_type
from factorybrain.store import Store

#: Entity types the read queries expose (the agents' records have their own queries).
READABLE_TYPES: tuple[str, ...] = tuple(
    e.name for e in ENTITY_TYPES if e.group != "agents" and e.name != "annotation"
)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, None: 1}
#: Most raw points one call returns.
MAX_POINTS = 100_000


def plain(value: Any, kind: str | None = None) -> Any:
    """A store value as JSON: NaN/NaT to None, timestamps to ISO text, arrays to lists."""
    if value is None:
        return None
    if hasattr(value, "isoformat"):
        return None if value != value else value.isoformat()
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, float) and math.isnan(value):
        return None
    if kind == "json" and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def rows(frame: Any, entity: str | None = None) -> list[dict[str, Any]]:
    """A DataFrame as JSON-ready dicts; JSON fields of ``entity`` are parsed."""
    kinds: dict[str, str] = {}
    if entity is not None:
        kinds = {f.name: f.type for f in entity_type(entity).all_fields}
    return [
        {k: plain(v, kinds.get(k)) for k, v in record.items()}
        for record in frame.to_dict("records")
    ]


def page(items: list[Any], total: int, limit: int, offset: int) -> dict[str, Any]:
    """A page: ``items``, ``total``, ``limit``, ``offset`` and ``next_offset`` (None at the end)."""
    following = offset + len(items)
    return {
        "items": items,
        "total": total,
        "limit": limit,
        "offset": offset,
        "next_offset": following if following < total else None,
    }


def _readable(entity: str) -> None:
    if entity not in READABLE_TYPES:
        raise ParameterError(
            f"unknown or unreadable entity type {entity!r}; readable: {list(READABLE_TYPES)}"
        )


def _check_page(limit: int, offset: int, most: int = 1000) -> None:
    if not 1 <= limit <= most:
        raise ParameterError(f"limit must be in [1, {most}], got {limit}")
    if offset < 0:
        raise ParameterError(f"offset must be >= 0, got {offset}")


def list_entities(
    store: Store,
    entity: str,
    filters: Mapping[str, Any] | None = None,
    *,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """One page of entities of a type, filtered by equality on any of its fields.

    Rows come in the order the store holds them (load order), which stays stable between pages.

    Args:
        store: The factory store.
        entity: Entity type, e.g. ``asset``, ``work_order``, ``material_lot``, ``serial_unit``.
        filters: ``{field: value}``; values compare as text (``{"level": "equipment"}``).
        limit: Page size, 1 to 1000.
        offset: Rows to skip.

    Raises:
        ParameterError: Naming an unknown type or field, or a bad page.
    """
    _readable(entity)
    _check_page(limit, offset)
    fields = set(entity_type(entity).field_names)
    where = dict(filters or {})
    unknown = sorted(set(where) - fields)
    if unknown:
        raise ParameterError(
            f"unknown filter {unknown[0]!r} for {entity}; filter on one of {sorted(fields)}"
        )
    conditions = " AND ".join(f'CAST("{k}" AS VARCHAR) = ?' for k in where) or "TRUE"
    parameters = [str(v) for v in where.values()]
    total = int(
        store.query(f'SELECT count(*) AS n FROM "{entity}" WHERE {conditions}', parameters)[
            "n"
        ].iloc[0]
    )
    # Pages follow the order the store holds the rows in (load order): no sort, so a page of a
    # table of millions costs what a page of a small one does.
    frame = store.query(
        f'SELECT * FROM "{entity}" WHERE {conditions} LIMIT {int(limit)} OFFSET {int(offset)}',
        parameters,
    )
    return page(rows(frame, entity), total, limit, offset)


def get_entity(
    store: Store, entity: str, external_id: str, space: str | None = None
) -> dict[str, Any]:
    """One entity by external id (and space when the id exists in several).

    Raises:
        RecordNotFoundError: If there is none.
        ParameterError: If the id exists in several spaces and no space was given.
    """
    _readable(entity)
    sql = f'SELECT * FROM "{entity}" WHERE external_id = ?'
    parameters = [external_id]
    if space is not None:
        sql += " AND space = ?"
        parameters.append(space)
    found = rows(store.query(sql + " ORDER BY space LIMIT 2", parameters), entity)
    if not found:
        raise RecordNotFoundError(f"no {entity} with external_id {external_id!r}")
    if len(found) > 1:
        raise ParameterError(f"{entity} {external_id!r} exists in several spaces; give its space")
    return found[0]


def parse_every(text: str) -> timedelta:
    """Parse a bucket width like ``90``, ``30s``, ``15m``, ``1h`` or ``1d``.

    Raises:
        ParameterError: If the text is not such a width or it is not positive.
    """
    match = _DURATION.match(text or "")
    if not match:
        raise ParameterError(
            f"'every' must be a number with an optional unit (ms, s, m, h, d), e.g. '15m'; "
            f"got {text!r}"
        )
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise ParameterError(f"'every' must be positive, got {text!r}")
    return timedelta(seconds=seconds)


def series_data(
    store: Store,
    series: str,
    *,
    start: datetime | str | None = None,
    end: datetime | str | None = None,
    every: str | None = None,
    limit: int = 10_000,
    offset: int = 0,
) -> dict[str, Any]:
    """Datapoints of one series in ``[start, end)``, raw or downsampled.

    Args:
        store: The factory store.
        series: External id of the time series.
        start: First instant (UTC; ISO text allowed); default ``end`` minus one day.
        end: Instant after the last (UTC); default just after the series' last point.
        every: Bucket width (``15m``, ``1h``...) to get min/max/mean/count per bucket.
        limit: Most points or buckets returned (1 to 100 000).
        offset: Points or buckets to skip.

    Returns:
        ``{series, start, end, every_seconds, points | buckets, total, next_offset}``.

    Raises:
        RecordNotFoundError: If there is no such series.
        ParameterError: For a bad window, width or page.
    """
    _check_page(limit, offset, MAX_POINTS)
    width = parse_every(every) if every is not None else None
    # One small query answers both "does it exist" and "when is its last point".
    extent = store.query(
        "SELECT e.last_ts FROM time_series t LEFT JOIN series_extent e USING (series_id) "
        "WHERE t.external_id = ? LIMIT 1",
        [series],
    )
    if extent.empty:
        raise RecordNotFoundError(f"no time series with external_id {series!r}")
    try:
        stop, begin = utc(end), utc(start)
    except ValueError as error:
        raise ParameterError(f"start and end must be ISO timestamps: {error}") from error
    if stop is None:
        last = extent["last_ts"].iloc[0]
        stop = (
            datetime(1970, 1, 2)
            if last is None or last != last
            else last.to_pydatetime() + timedelta(microseconds=1)
        )
    if begin is None:
        begin = stop - timedelta(days=1)
        if width is not None:  # whole buckets: align the default start on the bucket width
            epoch = datetime(1970, 1, 1)
            begin = epoch + ((begin - epoch) // width) * width
    if begin >= stop:
        raise ParameterError(f"start {begin} must be before end {stop}")
    out: dict[str, Any] = {
        "series": series,
        "start": begin.isoformat(),
        "end": stop.isoformat(),
        "every_seconds": None if width is None else width.total_seconds(),
    }
    if width is not None:
        frame = store.downsample(series, begin, stop, width).rename(columns={"bucket": "ts"})
        key, stamp = "buckets", "bucket"
    else:
        frame = store.datapoints(series, begin, stop)
        key, stamp = "points", "ts"
    total = len(frame)
    frame = frame.iloc[offset : offset + limit]
    # Column-wise conversion: a day of one-second points is 86 400 rows.
    columns: dict[str, list[Any]] = {stamp: [t.isoformat() for t in frame["ts"].dt.to_pydatetime()]}
    for name in frame.columns:
        if name != "ts":
            values = frame[name].astype(object).where(frame[name].notna(), None)
            columns[name] = values.tolist()
    out[key] = [dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)]
    out["total"] = total
    shown = len(frame)
    out["next_offset"] = offset + shown if offset + shown < total else None
    return out


def plant_status(store: Store) -> dict[str, Any]:
    """What the store holds and what waits for people: counts, open findings, the inbox."""
    counts = {k: v for k, v in store.counts().items() if v}
    open_findings = store.query(
        "SELECT kind, severity, count(*) AS n FROM finding WHERE status = 'open' "
        "GROUP BY ALL ORDER BY n DESC, kind"
    )
    inbox = store.query("SELECT count(*) AS n FROM action WHERE state = 'proposed'")
    return {
        "counts": counts,
        "open_findings": rows(open_findings),
        "actions_waiting_for_approval": int(inbox["n"].iloc[0]),
    }
