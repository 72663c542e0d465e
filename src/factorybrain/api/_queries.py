"""The read queries behind the REST routes and the MCP tools: one typed function each.

Every function returns plain JSON-ready values (ISO timestamps, lists, dicts), so the REST API,
the MCP server and ``ask`` wrap the same code.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, TypeVar

from factorybrain.agents import RecordNotFoundError, utc
from factorybrain.exceptions import ParameterError
from factorybrain.model import ENTITY_TYPES, entity_type
from factorybrain.store import Store

T = TypeVar("T")
#: Entity types the read queries expose (the agents' records have their own queries).
READABLE_TYPES: tuple[str, ...] = tuple(
    e.name for e in ENTITY_TYPES if e.group != "agents" and e.name != "annotation"
)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, None: 1}
#: Most raw points one call returns.
MAX_POINTS = 100_000
#: Instants the queries accept (UTC): what the store, pandas and the engines can all represent.
EARLIEST, LATEST = datetime(1900, 1, 1), datetime(2200, 1, 1)
#: Narrowest and widest bucket of a downsampled series.
MIN_EVERY, MAX_EVERY = timedelta(milliseconds=1), timedelta(days=3660)


class Derived:
    """Small answers derived from the store, each kept until a write to the tables it read.

    The store's :meth:`~Store.generation_of` those tables says, without a query, whether they
    changed since; a store that cannot count its writes (None) is asked every time. Meant for
    what every request would otherwise look up again although it rarely changes: a series'
    extent, the total behind a page, the schema version. At most ``size`` answers are kept (the
    oldest go first); the store's identity is part of each key, so the store and its readers
    share them.

    Args:
        size: Most answers kept.
    """

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._found: dict[tuple[Any, ...], tuple[int, Any]] = {}
        self._lock = threading.Lock()

    def get(
        self, store: Store, tables: tuple[str, ...], key: tuple[Any, ...], compute: Callable[[], T]
    ) -> T:
        """The answer ``compute()`` gives for ``key``, computed again only after ``tables`` change.

        The generation is read before ``compute`` runs: a write that lands meanwhile makes the
        next call compute again, never keeps an answer older than its key.
        """
        generation = store.generation_of(tables)
        if generation is None:
            return compute()
        full = (getattr(store, "identity", id(store)), *key)
        found = self._found.get(full)
        if found is not None and found[0] == generation:
            answer: T = found[1]
            return answer
        answer = compute()
        with self._lock:
            self._found[full] = (generation, answer)
            while len(self._found) > self.size:
                del self._found[next(iter(self._found))]
        return answer


#: The answers every request would look up again (see :class:`Derived`).
DERIVED = Derived()


def plain(value: Any, kind: str | None = None) -> Any:
    """A store value as JSON: NaN/NaT to None, timestamps to ISO text, arrays to lists."""
    if value is None:
        return None
    if hasattr(value, "isoformat"):
        return None if value != value else value.isoformat()
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN or infinity
    if kind == "json" and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def rows(frame: Any, entity: str | None = None) -> list[dict[str, Any]]:
    """A DataFrame as JSON-ready dicts; JSON fields of ``entity`` are parsed."""
    return json_ready(frame.to_dict("records"), entity)


def json_ready(records: list[dict[str, Any]], entity: str | None = None) -> list[dict[str, Any]]:
    """Rows from :meth:`Store.query_rows` as JSON-ready dicts; JSON fields of ``entity`` parsed."""
    kinds: dict[str, str] = {}
    if entity is not None:
        kinds = {f.name: f.type for f in entity_type(entity).all_fields}
    return [{k: plain(v, kinds.get(k)) for k, v in record.items()} for record in records]


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


def known_total(shown: int, limit: int, offset: int) -> int | None:
    """The total a page implies by itself, or None when only counting can tell.

    A page shorter than ``limit`` is the last one, so the total is ``offset + shown``, unless
    it is empty past the start (the offset may lie beyond the end).
    """
    if shown < limit and (shown or not offset):
        return offset + shown
    return None


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
        filters: ``{field: value}``. A timestamp, number or boolean field compares as its type
            (``{"planned_start": "2026-03-05T06:00:00Z"}``, ``{"is_step": "true"}``); its value
            may be text or of that type. Any other field compares as text
            (``{"level": "equipment"}``).
        limit: Page size, 1 to 1000.
        offset: Rows to skip.

    Raises:
        ParameterError: Naming an unknown type or field, a value its field's type cannot hold,
            or a bad page.
    """
    _readable(entity)
    _check_page(limit, offset)
    model = entity_type(entity)
    fields = set(model.field_names)
    where = dict(filters or {})
    unknown = sorted(set(where) - fields)
    if unknown:
        raise ParameterError(
            f"unknown filter {unknown[0]!r} for {entity}; filter on one of {sorted(fields)}"
        )
    conditions: list[str] = []
    parameters: list[Any] = []
    for name, value in where.items():
        kind = model.field(name).type
        if kind in _TYPED_FILTERS:
            conditions.append(f'"{name}" = ?')
            parameters.append(_TYPED_FILTERS[kind](value, name))
        else:
            conditions.append(f'CAST("{name}" AS VARCHAR) = ?')
            parameters.append(str(value))
    condition = " AND ".join(conditions) or "TRUE"
    # Pages follow the order the store holds the rows in (load order): no sort, so a page of a
    # table of millions costs what a page of a small one does.
    found = store.query_rows(
        f'SELECT * FROM "{entity}" WHERE {condition} LIMIT {int(limit)} OFFSET {int(offset)}',
        parameters,
    )
    total = known_total(len(found), limit, offset)
    if total is None:  # a full page (or past the end): count
        sql = f'SELECT count(*) AS n FROM "{entity}" WHERE {condition}'
        total = int(store.query_rows(sql, parameters)[0]["n"])
    return page(json_ready(found, entity), total, limit, offset)


def _timestamp_filter(value: Any, name: str) -> datetime:
    """A timestamp filter's value as the store keeps it: naive UTC."""
    moment = instant(value, name)
    if moment is None:
        raise ParameterError(f"{name} must be an ISO timestamp, got nothing")
    return moment


def _number_filter(kind: type[int] | type[float]) -> Callable[[Any, str], int | float]:
    """A converter of a filter's value to a finite number of ``kind``."""

    def convert(value: Any, name: str) -> int | float:
        try:
            number = kind(value)
        except (TypeError, ValueError):
            raise ParameterError(f"{name} must be {_NUMBER_NAMES[kind]}, got {value!r}") from None
        if not math.isfinite(number) or (kind is int and not -(2**63) <= number < 2**63):
            raise ParameterError(f"{name} must be a finite 64-bit number, got {value!r}")
        return number

    return convert


def _bool_filter(value: Any, name: str) -> bool:
    """A boolean filter's value: a bool, or the text ``true`` or ``false``."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text not in ("true", "false"):
        raise ParameterError(f"{name} must be true or false, got {value!r}")
    return text == "true"


_NUMBER_NAMES = {int: "an integer", float: "a number"}
#: Field types whose filters compare as their type, with the converter of a filter's value.
_TYPED_FILTERS: dict[str, Callable[[Any, str], Any]] = {
    "timestamp": _timestamp_filter,
    "int": _number_filter(int),
    "float": _number_filter(float),
    "bool": _bool_filter,
}


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
    # (space, external_id) is the key: at most one row per space, so no sort is needed.
    found = store.query_rows(sql + " LIMIT 2", parameters)
    if not found:
        raise RecordNotFoundError(f"no {entity} with external_id {external_id!r}")
    if len(found) > 1:
        raise ParameterError(f"{entity} {external_id!r} exists in several spaces; give its space")
    return json_ready(found, entity)[0]


def instant(value: datetime | str | None, name: str) -> datetime | None:
    """``value`` as a naive UTC datetime between 1900 and 2200, or None.

    Raises:
        ParameterError: Naming ``name``, for text that is not an ISO timestamp or an instant
            outside 1900-01-01 .. 2200-01-01 (UTC).
    """
    bounds = f"{name} must lie between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (UTC)"
    try:
        moment = utc(value)
    except OverflowError as error:  # the offset pushes it past year 1 or 9999
        shown = value.isoformat() if isinstance(value, datetime) else value
        raise ParameterError(f"{bounds}, got {shown}") from error
    except ValueError as error:
        raise ParameterError(f"{name} must be an ISO timestamp, got {value!r}: {error}") from error
    if moment is not None and not EARLIEST <= moment < LATEST:
        raise ParameterError(f"{bounds}, got {moment.isoformat()}")
    return moment


def parse_every(text: str) -> timedelta:
    """Parse a bucket width like ``90``, ``30s``, ``15m``, ``1h`` or ``1d`` (1 ms to 3660 d).

    Raises:
        ParameterError: If the text is not such a width or it is out of that range.
    """
    match = _DURATION.match(text or "")
    if not match:
        raise ParameterError(
            f"'every' must be a number with an optional unit (ms, s, m, h, d), e.g. '15m'; "
            f"got {text!r}"
        )
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if not MIN_EVERY.total_seconds() <= seconds <= MAX_EVERY.total_seconds():
        raise ParameterError(f"'every' must lie between 1ms and 3660d, got {text!r}")
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
        start: First instant (UTC; ISO text allowed; 1900 to 2200); default ``end`` minus
            one day.
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
    # One small query answers both "does it exist" and "when is its last point"; kept until a
    # series or its extent is written (a join of two tables: 1 ms, more than the page).
    extent = DERIVED.get(
        store,
        ("time_series", "series_extent"),
        ("extent", series),
        lambda: store.query_rows(
            "SELECT e.last_ts FROM time_series t LEFT JOIN series_extent e USING (series_id) "
            "WHERE t.external_id = ? LIMIT 1",
            [series],
        ),
    )
    if not extent:
        raise RecordNotFoundError(f"no time series with external_id {series!r}")
    stop, begin = instant(end, "end"), instant(start, "start")
    if stop is None:
        last = extent[0]["last_ts"]
        stop = (
            datetime(1970, 1, 2)
            if last is None or last != last
            else last + timedelta(microseconds=1)
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
    found, total = store.series_page(series, begin, stop, every=width, limit=limit, offset=offset)
    if width is None:
        out["points"] = [{"ts": r["ts"].isoformat(), "value": _number(r["value"])} for r in found]
    else:
        out["buckets"] = [
            {
                "bucket": r["bucket"].isoformat(),
                "min": _number(r["min"]),
                "max": _number(r["max"]),
                "mean": _number(r["mean"]),
                "count": int(r["count"]),
            }
            for r in found
        ]
    out["total"] = total
    following = offset + len(found)
    out["next_offset"] = following if following < total else None
    return out


def _number(value: float | None) -> float | None:
    """A stored value as JSON: NaN and infinities to None."""
    return value if value is not None and math.isfinite(value) else None


def plant_status(store: Store) -> dict[str, Any]:
    """What the store holds and what waits for people: counts, open findings, the inbox."""
    counts = {k: v for k, v in store.counts().items() if v}
    open_findings = store.query(
        "SELECT kind, severity, count(*) AS n FROM finding "
        "WHERE space = 'agents' AND status = 'open' "
        "GROUP BY ALL ORDER BY n DESC, kind"
    )
    inbox = store.query(
        "SELECT count(*) AS n FROM action WHERE space = 'agents' AND state = 'proposed'"
    )
    return {
        "counts": counts,
        "open_findings": rows(open_findings),
        "actions_waiting_for_approval": int(inbox["n"].iloc[0]),
    }


def plan_in_force(store: Store, *, machine: str | None = None) -> dict[str, Any]:
    """The plan the planning agent stored, and the maintenance planned into it.

    Args:
        store: The factory store.
        machine: Only this machine's operations and maintenance.

    Returns:
        ``{operations, orders, maintenance}``: planned operations (``work_order``, ``sequence``,
        ``machine``, ``start``, ``end``) in time order; the orders they plan with their planned
        start and end, due date and hours late; planned maintenance orders. All empty before
        the planning agent has stored a plan (``factorybrain plan``).
    """
    from factorybrain.agents.planning import PLAN_SPACE

    only = " AND equipment = ?" if machine else ""
    operations = store.query_rows(
        "SELECT work_order, sequence, equipment AS machine, start_time AS start, "
        f"end_time AS \"end\" FROM operation WHERE space = ? AND status = 'planned'{only} "
        "ORDER BY start_time, equipment, work_order, sequence",
        [PLAN_SPACE, *([machine] if machine else [])],
    )
    planned = sorted({row["work_order"] for row in operations})
    orders = store.query_rows(
        "SELECT space, external_id, product, line, quantity, status, due_at, planned_start, "
        "planned_end, CASE WHEN due_at IS NOT NULL AND planned_end IS NOT NULL THEN "
        "greatest(date_diff('second', due_at, planned_end), 0) / 3600.0 END "
        "AS late_hours FROM work_order WHERE list_contains(?, external_id) "
        "ORDER BY planned_start, external_id",
        [planned],
    )
    maintenance = store.query_rows(
        "SELECT space, external_id, asset, order_type, status, planned_start, planned_end, notes "
        f"FROM maintenance_order WHERE status = 'planned'{' AND asset = ?' if machine else ''} "
        "ORDER BY planned_start, external_id",
        [machine] if machine else [],
    )
    return {
        "operations": json_ready(operations),
        "orders": json_ready(orders),
        "maintenance": json_ready(maintenance),
    }


#: What :func:`demand_forecasts` reports of each item's inventory policy.
_POLICY_FIELDS = (
    "item_type",
    "name",
    "demand_class",
    "model",
    "fallback",
    "on_hand",
    "on_order",
    "lead_time_days",
    "lead_time_demand",
    "health_demand",
    "reorder_point",
    "order_up_to",
    "expected_fill_rate",
)
#: The tables a logistics plan reads: when none of them changed, neither did the plan.
_LOGISTICS_INPUTS = (
    "material",
    "sales_order",
    "inventory_transaction",
    "stock_level",
    "purchase_order",
    "asset",
    "bom",
    "annotation",
    "finding",
)


class _PlanCache:
    """The latest logistics plans, each under the state of the store it was computed from.

    A plan is recomputed only when a row of its inputs was written or removed since, so a
    dashboard polling the inventory page does not re-forecast every item. The store's
    :meth:`~Store.generation_of` the input tables says so without a query; a store that cannot
    count its writes is asked for the row counts and latest ``updated_at`` of each input table
    instead, one query of a few milliseconds. One computation at a time: concurrent requests
    for the same state wait for it.
    """

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self._plans: dict[tuple[Any, ...], dict[str, Any]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def state(store: Store) -> tuple[Any, ...]:
        identity = getattr(store, "identity", id(store))
        generation = store.generation_of(_LOGISTICS_INPUTS)
        if generation is not None:
            return (identity, generation)
        parts = " UNION ALL ".join(
            f'SELECT {i} AS i, count(*) AS n, max(updated_at) AS at FROM "{table}"'
            for i, table in enumerate(_LOGISTICS_INPUTS)
        )
        found = store.query_rows(f"SELECT * FROM ({parts}) ORDER BY i")
        return (identity, *((r["n"], r["at"]) for r in found))

    def get(
        self, store: Store, compute: Callable[[], dict[str, Any]], *extra: Any
    ) -> dict[str, Any]:
        """The plan for the store's state (and ``extra``), computed by ``compute()`` if new."""
        key = (*self.state(store), *extra)
        with self._lock:
            if key not in self._plans:
                self._plans[key] = compute()
                while len(self._plans) > self.size:
                    del self._plans[next(iter(self._plans))]
            return self._plans[key]


_PLANS = _PlanCache()


def _logistics_plan(store: Store, records: Any) -> dict[str, Any]:
    """Every item's policy and forecast as JSON-ready values, as the logistics agent plans now."""
    import warnings

    from factorybrain.agents.logistics import LogisticsAgent

    agent = LogisticsAgent()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the plan collects them in ``plan.warnings``
        plan = agent.plan(store, records=records)
    items: list[dict[str, Any]] = []
    if not plan.policies.empty:
        classes = plan.forecasts.groupby("unique_id")["demand_class"].first()
        quantiles = [c for c in plan.forecasts.columns if c.startswith("q")]
        weeks = plan.forecasts[["unique_id", "period_start", "forecast", *quantiles]].rename(
            columns={"forecast": "mean"}
        )
        by_item = {
            uid: rows(group.drop(columns="unique_id")) for uid, group in weeks.groupby("unique_id")
        }
        for row in plan.policies.assign(
            demand_class=plan.policies["unique_id"].map(classes)
        ).to_dict("records"):
            items.append(
                {
                    "item": row["external_id"],
                    "space": row["space"],
                    **{name: plain(row.get(name)) for name in _POLICY_FIELDS},
                    "forecast": by_item.get(row["unique_id"], []),
                    "_unique_id": row["unique_id"],
                }
            )
    return {"items": items, "as_of": plain(plan.as_of), "warnings": list(plan.warnings)}


def demand_forecasts(
    store: Store,
    records: Any = None,
    *,
    item: str | None = None,
    item_type: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """Demand forecasts and inventory levels per product and material, planned now.

    Planned as the logistics agent plans them, from the demand history in the store; with the
    agents' ``records``, spare parts include the failure risk of machines that open
    ``maintenance.rul_low`` findings warn about. The plan is computed once per state of its
    input tables and reused until one of them changes.

    Args:
        store: The factory store.
        records: The agents' records (:class:`~factorybrain.agents.AgentRecords`), or None.
        item: One item (its external id, with or without leading zeros).
        item_type: ``product``, ``component``, ``spare_part`` or another type the store holds.
        limit: Page size, 1 to 1000.
        offset: Items to skip.

    Returns:
        A page of items: ``item``, the policy fields (demand class, model chosen, fallback
        used, stock on hand and on order, lead time, reorder point, order-up-to level,
        expected fill rate) and ``forecast``, one row per future period (``period_start``,
        ``mean``, quantiles); plus ``as_of`` (the moment planned at, None when the store holds
        no dated sales order, inventory movement or stock count) and the fallbacks'
        ``warnings``.

    Raises:
        RecordNotFoundError: If ``item`` is not an item the logistics agent plans.
    """
    _check_page(limit, offset)
    plan = _PLANS.get(store, lambda: _logistics_plan(store, records), records is not None)
    chosen = plan["items"]
    if item is not None:
        wanted = {item, item.lstrip("0")}
        chosen = [i for i in chosen if i["item"] in wanted or i["_unique_id"] in wanted]
        if not chosen:
            raise RecordNotFoundError(f"no product or material {item!r} with a demand plan")
    if item_type is not None:
        chosen = [i for i in chosen if i["item_type"] == item_type]
    shown = [
        {k: v for k, v in i.items() if k != "_unique_id"} for i in chosen[offset : offset + limit]
    ]
    return {
        **page(shown, len(chosen), limit, offset),
        "as_of": plan["as_of"],
        "warnings": plan["warnings"],
    }
