"""What the dashboard shows at a glance: the plant's KPIs over a period, and its lines' shifts.

``/kpis`` gives OEE (with availability, performance and quality), output and downtime over the
last days of data next to the same span before, and the late orders; ``/shifts`` gives the lines'
shifts in a window, recorded or projected as the planner projects them, for the plan's Gantt chart.
Importing this module fails when the planning agent is not installed; the routes are then absent.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from factorybrain.agents.planning import plant_oee
from factorybrain.api._deps import Access, Viewer
from factorybrain.api._queries import instant, plan_in_force
from factorybrain.api._schemas import End, Start
from factorybrain.exceptions import NoDataError, ParameterError
from factorybrain.store import Store

router = APIRouter(tags=["factory model"])

#: Work-order statuses that mean the order is finished: it can no longer be late.
DONE_STATUSES = ("completed", "closed", "cancelled", "canceled", "done", "finished")
#: How far back recorded shifts are read to project them (the planner repeats the last two weeks).
PATTERN_DAYS = 14


class PeriodFigures(BaseModel):
    """The plant's figures over one period (null where the store holds nothing for it)."""

    start: datetime = Field(description="First instant of the period (UTC), included.")
    end: datetime = Field(description="End of the period (UTC), excluded.")
    oee: float | None = Field(description="Availability x performance x quality, 0 to 1.")
    availability: float | None = Field(description="Running time / planned busy time.")
    performance: float | None = Field(description="Ideal cycle time of the output / running time.")
    quality: float | None = Field(description="Good units / all units made.")
    good_units: float | None = Field(description="Good units made (the output).")
    total_units: float | None = Field(description="Units made, good and scrap.")
    down_hours: float | None = Field(description="Hours the machines were down in shift.")
    planned_hours: float | None = Field(description="Planned busy hours of the machines.")


class LineFigures(PeriodFigures):
    """One line's figures over the current period."""

    line: str


class LateOrder(BaseModel):
    """A work order that misses its due date, in the plan or already."""

    external_id: str
    product: str | None
    line: str | None
    status: str | None
    due_at: datetime | None
    planned_end: datetime | None = Field(description="When the plan in force finishes it.")
    late_hours: float | None = Field(description="Hours after its due date it finishes (plan).")
    overdue: bool = Field(description="Past its due date at the end of the data, not finished.")


class KpisOut(BaseModel):
    """The plant's KPIs over the last ``days`` of data, the span before, and the late orders."""

    space: str | None = Field(description="The space of the machine states read.")
    data_until: datetime | None = Field(description="End of the machine states recorded (UTC).")
    days: int
    current: PeriodFigures | None
    previous: PeriodFigures | None
    lines: list[LineFigures] = Field(description="Each line's figures over the current period.")
    late_orders: list[LateOrder] = Field(
        description="Orders the plan in force finishes after their due date, and open orders "
        "already past it; latest first by hours late."
    )
    note: str | None = Field(default=None, description="Why a figure is missing, if one is.")


class ShiftOut(BaseModel):
    """One shift of one line."""

    line: str
    name: str
    start: datetime
    end: datetime
    projected: bool = Field(description="Projected from the recorded weeks, not recorded.")


def _summed(frame: pd.DataFrame, start: datetime, end: datetime) -> dict[str, Any]:
    """OEE, its parts, output and downtime of the rows of ``frame`` together."""
    planned = float(frame["planned_busy_seconds"].sum())
    running = float(frame["running_seconds"].sum())
    total = float(frame["total_count"].sum())
    good = float(frame["good_count"].sum())
    ideal = float(frame["ideal_seconds"].sum())
    # Ratios of the summed times and counts, not means of the rows' ratios: a line that planned
    # twice the hours weighs twice as much.
    availability = running / planned if planned > 0 else None
    performance = ideal / running if running > 0 else None
    quality = good / total if total > 0 else None
    oee = (
        availability * performance * quality
        if availability is not None and performance is not None and quality is not None
        else None
    )
    return {
        "start": start,
        "end": end,
        "oee": oee,
        "availability": availability,
        "performance": performance,
        "quality": quality,
        "good_units": good,
        "total_units": total,
        "down_hours": float(frame["down_seconds"].sum()) / 3600.0,
        "planned_hours": planned / 3600.0,
    }


def _figures(
    store: Store, space: str, start: datetime, end: datetime
) -> tuple[PeriodFigures, list[LineFigures]]:
    """The plant's figures over ``[start, end)`` (all lines together), and each line's."""
    try:
        frame = plant_oee(store, by="line", start=start, end=end, space=space)
    except NoDataError:
        frame = pd.DataFrame()
    if frame.empty:
        nothing: dict[str, Any] = dict.fromkeys(PeriodFigures.model_fields, None)
        return PeriodFigures(**{**nothing, "start": start, "end": end}), []
    lines = [
        LineFigures(line=str(line), **_summed(rows, start, end))
        for line, rows in frame.groupby("line", sort=True)
    ]
    return PeriodFigures(**_summed(frame, start, end)), lines


def _late_orders(store: Store, until: datetime | None) -> list[LateOrder]:
    """Orders the plan finishes late, and open orders past their due date at ``until``."""
    late: dict[str, LateOrder] = {}
    for row in plan_in_force(store)["orders"]:
        if (row.get("late_hours") or 0) > 0:
            late[row["external_id"]] = LateOrder(
                external_id=row["external_id"], product=row.get("product"), line=row.get("line"),
                status=row.get("status"), due_at=row.get("due_at"),
                planned_end=row.get("planned_end"), late_hours=row["late_hours"], overdue=False,
            )  # fmt: skip
    if until is not None:
        marks = ", ".join("?" * len(DONE_STATUSES))
        overdue = store.query_rows(
            "SELECT external_id, product, line, status, due_at, planned_end FROM work_order "
            "WHERE due_at < ? AND actual_end IS NULL AND lower(coalesce(status, '')) NOT IN "
            f"({marks}) ORDER BY due_at",
            [until, *DONE_STATUSES],
        )
        for row in overdue:
            known = late.get(row["external_id"])
            if known is not None:
                late[row["external_id"]] = known.model_copy(update={"overdue": True})
                continue
            late[row["external_id"]] = LateOrder(**row, late_hours=None, overdue=True)
    return sorted(late.values(), key=lambda o: (-(o.late_hours or 0), o.due_at or datetime.max))


def _state_space(store: Store, space: str | None) -> tuple[str | None, datetime | None]:
    """The space of the machine states (the one recording most when not given) and their end."""
    found = store.query_rows(
        "SELECT space, max(end_time) AS until FROM event WHERE event_type = 'state'"
        f"{' AND space = ?' if space else ''} GROUP BY space ORDER BY count(*) DESC, space LIMIT 1",
        [space] if space else [],
    )
    if not found:
        return space, None
    return found[0]["space"], found[0]["until"]


@router.get("/kpis", response_model=KpisOut)
def kpis_route(
    _: Viewer,
    access: Access,
    days: Annotated[
        int, Query(ge=1, le=366, description="Length of the period, ending with the data.")
    ] = 7,
    space: Annotated[
        str | None,
        Query(
            max_length=200,
            description="The space of the machine states and shifts; default the one that "
            "records most machine states.",
        ),
    ] = None,
) -> KpisOut:
    """The plant's KPIs: OEE, output and downtime over the last ``days`` and the span before.

    The period ends where the recorded machine states end (the data's "now", not the clock's),
    so a plant loaded from last month's exports still shows its last week. Late orders are those
    the plan in force finishes after their due date and open orders already past it.
    """
    with access.read() as (store, _records):
        chosen, until = _state_space(store, space)
        if chosen is None or until is None:
            return KpisOut(
                space=chosen, data_until=None, days=days, current=None, previous=None, lines=[],
                late_orders=_late_orders(store, None),
                note="No machine states are recorded (events with event_type 'state'): "
                "OEE, output and downtime need them.",
            )  # fmt: skip
        span = timedelta(days=days)
        current, by_line = _figures(store, chosen, until - span, until)
        previous, _previous_lines = _figures(store, chosen, until - 2 * span, until - span)
        return KpisOut(
            space=chosen,
            data_until=until,
            days=days,
            current=current,
            previous=previous,
            lines=by_line,
            late_orders=_late_orders(store, until),
        )


@router.get("/shifts", response_model=list[ShiftOut])
def shifts_route(
    _: Viewer,
    access: Access,
    start: Start = None,
    end: End = None,
    space: Annotated[
        str, Query(max_length=200, description="The space of the shifts (events 'shift').")
    ] = "mes",
) -> list[ShiftOut]:
    """The lines' shifts overlapping ``[start, end)``, recorded or projected.

    Past the last recorded shift, a line's shifts are projected as the planner plans with them:
    its last two recorded weeks repeated weekly (``projected`` true). Without ``start`` and
    ``end`` the window is the plan in force's (its first operation to its last).
    """
    begin, stop = instant(start, "start"), instant(end, "end")
    with access.read() as (store, _records):
        if begin is None or stop is None:
            bounds = store.query_rows(
                "SELECT min(start_time) AS first, max(end_time) AS last FROM operation "
                "WHERE space = 'plan' AND status = 'planned'"
            )[0]
            begin = begin or bounds["first"]
            stop = stop or bounds["last"]
        if begin is None or stop is None:
            return []
        if begin >= stop:
            raise ParameterError(f"start {begin} must be before end {stop}")
        if stop - begin > timedelta(days=366):
            raise ParameterError(f"the window from {begin} to {stop} is longer than 366 days")
        recorded = store.query_rows(
            "SELECT asset AS line, coalesce(reason, name, 'shift') AS name, start_time AS start, "
            "end_time AS \"end\" FROM event WHERE space = ? AND event_type = 'shift' "
            "AND asset IS NOT NULL AND end_time > start_time AND start_time < ? "
            "AND end_time > ? - INTERVAL 14 DAY ORDER BY asset, start_time",
            [space, stop, begin],
        )
    shifts: list[ShiftOut] = []
    by_line: dict[str, list[ShiftOut]] = {}
    for row in recorded:
        by_line.setdefault(row["line"], []).append(ShiftOut(**row, projected=False))
    for line_shifts in by_line.values():
        last = max(s.end for s in line_shifts)
        pattern = [s for s in line_shifts if s.start >= last - timedelta(days=PATTERN_DAYS)]
        week = 1
        while pattern and last + timedelta(days=7 * (week - 1)) < stop and week <= 60:
            moved = timedelta(days=7 * week)
            for s in pattern:
                if s.start + moved >= last and s.start + moved < stop:
                    line_shifts.append(
                        s.model_copy(
                            update={
                                "start": s.start + moved,
                                "end": s.end + moved,
                                "projected": True,
                            }
                        )
                    )
            week += 1
        shifts.extend(s for s in line_shifts if s.end > begin and s.start < stop)
    # a projected shift that a recorded one already covers is not shown twice
    seen: set[tuple[str, datetime]] = set()
    unique = []
    for s in sorted(shifts, key=lambda s: (s.line, s.start, s.projected)):
        if (s.line, s.start) not in seen:
            seen.add((s.line, s.start))
            unique.append(s)
    return unique
