"""The planner's view of the factory model: machines, routings, open orders, shifts, downtime.

:func:`load_plant_model` reads it from the store (the space the data shows); :func:`build_problem`
turns it into a :class:`~factorybrain.engines.schedule.Problem` in working minutes per line
(see :mod:`._planning_calendar`): each open work order is a job routed through its product's
steps, each step may run on the machines of the order's line whose workcell type matches, and
takes ``quantity x ideal cycle + setup``; maintenance and breakdowns inside shifts are
unavailability windows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from factorybrain.agents.planning._calendar import WorkCalendar
from factorybrain.engines.schedule import Job, Machine, Operation, Problem, Window
from factorybrain.exceptions import ParameterError
from factorybrain.model import site_of
from factorybrain.store import Store

#: Work order statuses the planner plans (released orders, and what is left of running ones).
OPEN_STATUSES = ("released", "in_progress")
#: Maintenance order statuses that block their machine.
BLOCKING_MAINTENANCE = ("planned", "released", "scheduled", "in_progress", "open")


@dataclass(frozen=True)
class Downtime:
    """A period in which a machine cannot work (naive UTC)."""

    machine: str
    start: datetime
    end: datetime
    reason: str = "maintenance"


@dataclass
class PlantModel:
    """Everything the planner reads, as plain tables.

    Attributes:
        origin: Time zero of the plan (naive UTC): nothing is planned before it.
        machines: ``machine, line, workcell`` of every machine.
        routings: ``product, sequence, workcell, ideal_cycle_seconds, setup_seconds``.
        orders: Open work orders: ``external_id, space, product, line, quantity, release_at,
            due_at, priority, status``.
        remaining: Units left per ``(work order, sequence)`` of running orders, and whether the
            step has started (no setup then); steps not listed need the whole quantity.
        shifts: ``line -> [(start, end)]`` (naive UTC), extended past the recorded ones by
            repeating the last two weeks.
        downtime: Maintenance and other windows in which a machine cannot work.
        notes: What the planner had to assume, for a data-quality finding.
        resources: ``"machines"`` (an MES machine list) or ``"work_centres"`` (ERP work
            centres named by the routings).
    """

    origin: datetime
    machines: pd.DataFrame
    routings: pd.DataFrame
    orders: pd.DataFrame
    remaining: dict[tuple[str, int], tuple[float, bool]] = field(default_factory=dict)
    shifts: dict[str, list[tuple[datetime, datetime]]] = field(default_factory=dict)
    downtime: list[Downtime] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    resources: str = "machines"

    def calendars(self) -> dict[str, WorkCalendar]:
        """The working-time calendar of every line that has shifts."""
        return {
            line: WorkCalendar.from_shifts(self.origin, spans)
            for line, spans in self.shifts.items()
        }

    def line_of(self) -> dict[str, str]:
        """``{machine: line}``."""
        return dict(zip(self.machines["machine"], self.machines["line"], strict=True))


def _timestamp(value: object) -> datetime | None:
    if value is None or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        return None
    stamp = pd.Timestamp(value)
    if stamp is pd.NaT:
        return None
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp.to_pydatetime()


def _project_shifts(
    spans: list[tuple[datetime, datetime]], until: datetime
) -> list[tuple[datetime, datetime]]:
    """Extend a line's shifts to ``until`` by repeating its last two recorded weeks weekly."""
    spans = [(start, end) for start, end in spans if start is not None and end is not None]
    if not spans:
        return spans
    last = max(end for _, end in spans)
    if last >= until:
        return spans
    pattern = [(s, e) for s, e in spans if s >= last - timedelta(days=14)]
    out = list(spans)
    seen = {s for s, _ in spans}
    weeks = 1
    while True:
        shift = timedelta(days=7 * weeks)
        added = False
        for start, end in pattern:
            moved = start + shift
            if moved > last and moved < until and moved not in seen:
                out.append((moved, end + shift))
                seen.add(moved)
                added = True
        if last + shift > until and not added:
            break
        weeks += 1
        if weeks > 520:
            break
    return sorted(out)


#: Label of the one calendar the work centres of an ERP plan share (no line is recorded).
WORK_CENTRES = "work centres"


@dataclass(frozen=True)
class PlanningSource:
    """Where the planner's inputs live, as the data says.

    Attributes:
        space: Space of the open work orders and their routings.
        resources: ``"machines"`` when the space lists machines under their lines (an MES) and a
            routing step names a kind of machine; ``"work_centres"`` when a routing step names the
            work centre it runs on (an ERP, no machine list).
    """

    space: str
    resources: str


def _census(store: Store) -> pd.DataFrame:
    """Per space: open work orders, routing steps and machines under lines (most orders first)."""
    statuses = ", ".join(f"'{s}'" for s in OPEN_STATUSES)
    return store.query(
        f"""
        WITH o AS (SELECT space, count(*) AS orders FROM work_order
                   WHERE status IN ({statuses}) GROUP BY space),
        r AS (SELECT space, count(*) AS routings FROM (
                SELECT space FROM recipe WHERE sequence IS NOT NULL AND workcell IS NOT NULL
                UNION ALL
                SELECT o.space FROM operation o JOIN work_order w
                  ON w.space = o.space AND w.external_id = o.work_order
                WHERE o.sequence IS NOT NULL AND o.equipment IS NOT NULL
                  AND o.end_time > o.start_time AND w.product IS NOT NULL
              ) GROUP BY space),
        m AS (SELECT space, count(*) AS machines FROM asset
              WHERE level = 'equipment' AND parent IS NOT NULL GROUP BY space)
        SELECT o.space, o.orders, coalesce(r.routings, 0) AS routings,
               coalesce(m.machines, 0) AS machines
        FROM o LEFT JOIN r USING (space) LEFT JOIN m USING (space)
        ORDER BY o.orders DESC, o.space
        """
    )


def planning_source(store: Store, space: str | None = None) -> PlanningSource:
    """Find the space to plan from: open work orders, their routings, and what they run on.

    A space whose open orders have routings and that lists machines under lines is planned by
    machine (an MES). Without one, a space whose routing steps name work centres is planned by
    work centre (ERP production orders and work centres). Nothing assumes a space's name.

    Raises:
        ParameterError: When no space holds open work orders with routings (names, per space,
            what is there and what is missing).
    """
    census = _census(store)
    if space is not None:
        census = census[census["space"] == space]
    with_machines = census[(census["routings"] > 0) & (census["machines"] > 0)]
    if len(with_machines):
        return PlanningSource(str(with_machines["space"].iloc[0]), "machines")
    with_routings = census[census["routings"] > 0]
    if len(with_routings):
        return PlanningSource(str(with_routings["space"].iloc[0]), "work_centres")
    where = f"in space {space!r}" if space is not None else "in any space"
    found = (
        "; ".join(
            f"space {row.space!r}: {row.orders} open order(s), {row.routings} routing step(s)"
            for row in census.itertuples()
        )
        or "no open work order (status 'released' or 'in_progress')"
    )
    raise ParameterError(
        f"The store has no open work orders with routings {where} ({found}); the planner needs "
        "open work orders and routing steps (recipe rows with sequence and workcell) in the same "
        "space, and machines (asset rows with a line as parent) or work centres named by the "
        "routing steps."
    )


def routings_from_operations(store: Store, space: str) -> pd.DataFrame:
    """Routings read from confirmed operations, for a plant that exports no routing table.

    Per product and step: the work centre most of its operations ran on, and the median time
    per unit processed (setup included, so ``setup_seconds`` is 0). Operations without times or
    quantities do not count.
    """
    return store.query(
        """
        WITH o AS (
            SELECT w.product, o.sequence, o.equipment,
                   epoch(o.end_time - o.start_time)
                     / nullif(coalesce(o.quantity_good, 0) + coalesce(o.quantity_scrap, 0), 0)
                     AS per_unit
            FROM operation o JOIN work_order w
              ON w.space = o.space AND w.external_id = o.work_order
            WHERE o.space = ? AND o.sequence IS NOT NULL AND o.equipment IS NOT NULL
              AND o.end_time > o.start_time AND w.product IS NOT NULL
        )
        SELECT product, sequence, mode(equipment) AS workcell,
               coalesce(median(per_unit), 0.0) AS ideal_cycle_seconds, 0.0 AS setup_seconds
        FROM o GROUP BY product, sequence ORDER BY product, sequence
        """,
        [space],
    )


def _work_centres(
    store: Store, space: str, routings: pd.DataFrame, notes: list[str]
) -> pd.DataFrame:
    """Every work centre a routing step names, as one resource of the shared calendar."""
    centres = sorted(set(routings["workcell"].astype(str)))
    known = store.query(
        "SELECT external_id, name FROM asset WHERE space = ? AND "
        "(external_id IN (SELECT unnest(?)) OR name IN (SELECT unnest(?)))",
        [space, centres, centres],
    )
    named = set(known["external_id"].astype(str)) | set(known["name"].dropna().astype(str))
    unlisted = [c for c in centres if c not in named]
    if unlisted:
        notes.append(
            f"work centre(s) {', '.join(unlisted[:10])} of the routings have no asset record in "
            f"space {space!r}: planned as one resource each on the shared calendar"
        )
    return pd.DataFrame(
        {"machine": centres, "line": WORK_CENTRES, "workcell": centres},
        columns=["machine", "line", "workcell"],
    )


def _history_end(store: Store, space: str) -> object:
    """The end of the recorded history: machine states, else confirmed operations."""
    for sql, parameters in (
        ("SELECT max(end_time) AS t FROM event WHERE space = ? AND event_type = 'state'", [space]),
        ("SELECT max(end_time) AS t FROM event WHERE event_type = 'state'", []),
        ("SELECT max(end_time) AS t FROM operation WHERE space = ?", [space]),
        ("SELECT max(end_time) AS t FROM operation", []),
    ):
        end = store.query(sql, parameters)["t"].iloc[0]
        if _timestamp(end) is not None:
            return end
    return None


def unplanned_sites(store: Store, planned: str) -> list[str]:
    """Sites other than ``planned``'s that hold open work orders with routings too.

    A store of several plants (spaces ``<site>/mes``, :mod:`factorybrain.model._spaces`) is
    planned one site at a time; the planner names the sites it left out instead of leaving them
    out in silence.
    """
    census = _census(store)
    plannable = census[census["routings"] > 0]
    mine = site_of(planned)
    return sorted({site_of(str(space)) for space in plannable["space"]} - {mine})


def load_plant_model(
    store: Store,
    *,
    now: datetime | None = None,
    horizon_days: float = 42.0,
    space: str | None = None,
    extra_downtime: Iterable[Downtime] = (),
) -> PlantModel:
    """Read the planner's inputs from the store.

    Plans from an MES machine list when the store has one, else from ERP production orders and
    the work centres their routings name (:func:`planning_source`); what had to be assumed (no
    shift calendar, a work centre without a record) is listed in :attr:`PlantModel.notes`.

    Args:
        store: The factory store.
        now: Origin of the plan (naive UTC); default the end of the recorded machine states
            (the end of the history), else the earliest release of an open order.
        horizon_days: How far ahead shifts are projected past the recorded ones.
        space: Space of the orders, routings and machines; default the one the data shows.
        extra_downtime: More windows to block (a breakdown, a proposed maintenance window).

    Raises:
        ParameterError: When the store holds no open work order, machine, routing or shift.
    """
    source = planning_source(store, space)
    space = source.space
    notes: list[str] = []
    routings = store.query(
        "SELECT product, sequence, workcell, coalesce(ideal_cycle_seconds, 0) AS "
        "ideal_cycle_seconds, coalesce(setup_seconds, 0) AS setup_seconds, version, valid_from "
        "FROM recipe WHERE space = ? AND sequence IS NOT NULL AND workcell IS NOT NULL "
        "ORDER BY product, sequence, valid_from NULLS FIRST, version NULLS FIRST",
        [space],
    )
    orders = store.query(
        "SELECT space, external_id, product, line, quantity, release_at, due_at, priority, "
        "status FROM work_order WHERE space = ? AND status IN ('released', 'in_progress') "
        "ORDER BY external_id",
        [space],
    )
    if routings.empty:
        routings = routings_from_operations(store, space)
        notes.append(
            f"space {space!r} has no routings (recipe rows): the routing of "
            f"{routings['product'].nunique()} product(s) was read from their confirmed "
            "operations (work centre per step, median time per unit)"
        )
    undated = (
        routings[
            routings.duplicated(["product", "sequence", "valid_from"], keep=False)
            & routings["valid_from"].isna()
        ]
        if "valid_from" in routings
        else routings.iloc[0:0]
    )
    for (product, sequence), rows in undated.groupby(["product", "sequence"]):
        notes.append(
            f"product {product} has {len(rows)} undated routing rows for step {sequence} "
            f"(versions {', '.join(str(v) for v in rows['version'])}): planned with the last, "
            "give each revision a valid_from to choose by date"
        )
    resources = source.resources
    if (
        resources == "machines"
        and routings["workcell"]
        .isin(
            store.query(
                "SELECT asset_class FROM asset WHERE space = ? AND asset_class IS NOT NULL", [space]
            )["asset_class"]
        )
        .any()
    ):
        machines = store.query(
            "SELECT external_id AS machine, parent AS line, asset_class AS workcell FROM asset "
            "WHERE space = ? AND level = 'equipment' AND parent IS NOT NULL ORDER BY external_id",
            [space],
        )
    else:
        resources = "work_centres"
        machines = _work_centres(store, space, routings, notes)
        orders["line"] = WORK_CENTRES
        notes.append(
            f"space {space!r} lists no machines under lines: planned {len(orders)} open "
            f"order(s) on the {len(machines)} work centre(s) their routings name"
        )
    if now is None:
        now = _timestamp(_history_end(store, space)) or _timestamp(orders["release_at"].min())
    if now is None:
        now = datetime.now(UTC).replace(tzinfo=None)
        notes.append("no machine state, operation or release date dates the plan: planned from now")
    shift_rows = store.query(
        "SELECT asset AS line, start_time, end_time FROM event "
        "WHERE space = ? AND event_type = 'shift' ORDER BY start_time",
        [space],
    )
    until = now + timedelta(days=horizon_days)
    if resources == "work_centres":
        # Work centres share one calendar: every shift the space records, else around the clock.
        shift_rows = shift_rows.assign(line=WORK_CENTRES)
        if shift_rows.empty:
            shift_rows = pd.DataFrame(
                {"line": [WORK_CENTRES], "start_time": [now], "end_time": [until]}
            )
            notes.append(
                f"space {space!r} records no shifts (event_type 'shift'): work centres planned "
                "around the clock"
            )
    shifts: dict[str, list[tuple[datetime, datetime]]] = {}
    for line, group in shift_rows.groupby("line"):
        spans = [
            (_timestamp(s), _timestamp(e))
            for s, e in zip(group["start_time"], group["end_time"], strict=True)
        ]
        shifts[str(line)] = _project_shifts(spans, until)  # type: ignore[arg-type]
    no_shift = sorted(set(orders["line"].dropna()) - set(shifts))
    if no_shift:
        raise ParameterError(
            f"Lines {no_shift} have open work orders but no shift events (event_type 'shift', "
            f"asset = line) in space {space!r}; the planner cannot tell when they work."
        )

    remaining: dict[tuple[str, int], tuple[float, bool]] = {}
    running = orders[orders["status"] == "in_progress"]
    if not running.empty:
        done = store.query(
            "SELECT work_order, sequence, max(end_time IS NULL)::INT AS open, "
            "sum(coalesce(quantity_good, 0) + coalesce(quantity_scrap, 0)) AS processed "
            f"FROM operation WHERE space = ? AND work_order IN "
            f"({', '.join('?' for _ in running['external_id'])}) GROUP BY ALL",
            [space, *running["external_id"].tolist()],
        )
        quantity = dict(zip(running["external_id"], running["quantity"], strict=True))
        for row in done.itertuples(index=False):
            left = 0.0 if not row.open else max(0.0, quantity[row.work_order] - row.processed)
            remaining[(str(row.work_order), int(row.sequence))] = (left, True)

    downtime = list(extra_downtime)
    maintenance = store.query(
        "SELECT asset, planned_start, planned_end, order_type FROM maintenance_order "
        "WHERE planned_start IS NOT NULL AND planned_end IS NOT NULL AND planned_end > ? "
        f"AND lower(status) IN ({', '.join('?' for _ in BLOCKING_MAINTENANCE)})",
        [now, *BLOCKING_MAINTENANCE],
    )
    known = set(machines["machine"])
    for row in maintenance.itertuples(index=False):
        if row.asset in known:
            downtime.append(
                Downtime(
                    str(row.asset),
                    _timestamp(row.planned_start),  # type: ignore[arg-type]
                    _timestamp(row.planned_end),  # type: ignore[arg-type]
                    f"maintenance ({row.order_type or 'planned'})",
                )
            )
    return PlantModel(
        now, machines, routings, orders, remaining, shifts, downtime, notes, resources
    )


def order_weight(priority: object) -> float:
    """Weight of an order in the tardiness objective: priority 1 (most urgent) weighs 3."""
    try:
        value = int(priority)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 1.0
    return float(max(1, 4 - value))


def routing_in_force(
    routing: pd.DataFrame,
    at: datetime,
    cache: dict[tuple[str, object], pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """One product's routing steps in force at ``at``, in sequence order.

    A recipe revised over time keeps every revision (history is never overwritten), so one step
    may have several rows: the one in force is the latest ``valid_from`` not after ``at``
    (an undated row is the oldest); a step whose every revision starts later takes its first.
    An order is planned with the routing in force when it may start (its release, or the plan's
    origin when released before it).
    """
    dated = routing["valid_from"].dropna() if "valid_from" in routing else pd.Series(dtype=object)
    if dated.empty and not routing["sequence"].duplicated().any():
        return routing.sort_values("sequence", kind="stable")
    stamp = pd.Timestamp(at)
    passed = dated[pd.to_datetime(dated) <= stamp]
    key = (str(routing["product"].iloc[0]), passed.max() if not passed.empty else None)
    if cache is not None and key in cache:
        return cache[key]
    frame = routing.assign(_from=pd.to_datetime(routing.get("valid_from")))
    frame = frame.sort_values(["sequence", "_from"], kind="stable", na_position="first")
    valid = frame["_from"].isna() | (frame["_from"] <= stamp)
    chosen = [
        group.index[valid.loc[group.index]][-1] if valid.loc[group.index].any() else group.index[0]
        for _, group in frame.groupby("sequence", sort=True)
    ]
    steps = frame.loc[chosen].drop(columns="_from").reset_index(drop=True)
    if cache is not None:
        cache[key] = steps
    return steps


def build_problem(
    model: PlantModel,
    *,
    extra_downtime: Iterable[Downtime] = (),
    name: str = "open work orders",
    missing_workcell: str = "skip",
) -> Problem:
    """The scheduling problem of ``model`` in working minutes of each order's line.

    Args:
        model: The planner's inputs.
        extra_downtime: More windows in which machines cannot work.
        name: Label of the problem.
        missing_workcell: What to do with a routing step whose workcell type the order's line
            does not have at all: ``"skip"`` (the line does not do that step, like the short
            lines of the demo plant) or ``"error"``.

    Raises:
        ParameterError: When no order has a routing (an order without one is left out and
            named in ``model.notes``), when none of an order's steps has a machine on its
            line, or (``missing_workcell="error"``) when one step has none (names the order,
            step and line).
    """
    if missing_workcell not in ("skip", "error"):
        raise ParameterError(
            "The 'missing_workcell' parameter must be 'skip' or 'error'. "
            f"Got {missing_workcell!r} instead."
        )
    calendars = model.calendars()
    steps = {str(product): group for product, group in model.routings.groupby("product")}
    in_force: dict[tuple[str, object], pd.DataFrame] = {}
    by_line_cell: dict[tuple[str, str], list[str]] = {}
    for row in model.machines.itertuples(index=False):
        by_line_cell.setdefault((str(row.line), str(row.workcell)), []).append(str(row.machine))
    windows: dict[str, list[Window]] = {m: [] for m in model.machines["machine"]}
    line_of = model.line_of()
    for down in [*model.downtime, *extra_downtime]:
        line = line_of.get(down.machine)
        if line not in calendars:
            continue
        calendar = calendars[line]
        start, end = calendar.work_minute(down.start), calendar.work_minute(down.end)
        if end > start:
            windows[down.machine].append(Window(start, end, down.reason))
    jobs = []
    no_routing: list[str] = []
    for order in model.orders.itertuples(index=False):
        order_id = str(order.external_id)
        revisions = steps.get(str(order.product))
        if revisions is None:
            no_routing.append(f"{order_id} ({order.product})")
            continue
        release = _timestamp(order.release_at) or model.origin
        routing = routing_in_force(revisions, max(release, model.origin), in_force)
        calendar = calendars[str(order.line)]
        operations = []
        missing = 0
        for step in routing.itertuples(index=False):
            left, started = model.remaining.get(
                (order_id, int(step.sequence)), (float(order.quantity), False)
            )
            if left <= 0:
                continue
            eligible = by_line_cell.get((str(order.line), str(step.workcell)), [])
            if not eligible and missing_workcell == "skip":
                missing += 1
                continue
            if not eligible:
                raise ParameterError(
                    f"Step {int(step.sequence)} ({step.workcell}) of work order {order_id!r} has "
                    f"no eligible machine: line {order.line!r} has no {step.workcell!r}."
                )
            seconds = left * float(step.ideal_cycle_seconds)
            seconds += 0.0 if started else float(step.setup_seconds)
            minutes = max(1, int(np.ceil(seconds / 60.0)))
            operations.append(Operation(str(int(step.sequence)), {m: minutes for m in eligible}))
        if not operations and missing == len(routing):
            raise ParameterError(
                f"Work order {order_id!r} ({order.product}) has no step that line "
                f"{order.line!r} can do: its machines' workcell types match none of the routing."
            )
        if not operations:
            continue
        due = _timestamp(order.due_at)
        release_work = calendar.work_minute(max(release, model.origin))
        due_work = None if due is None else max(release_work, calendar.work_minute(due))
        jobs.append(
            Job(
                order_id,
                operations,
                release=release_work,
                due=due_work,
                weight=order_weight(order.priority),
            )
        )
    if no_routing:
        note = (
            f"{len(no_routing)} open order(s) make a product without routing (recipe rows with "
            f"sequence and workcell) and are not planned: {', '.join(no_routing[:10])}"
        )
        if note not in model.notes:
            model.notes.append(note)
    if not jobs and no_routing:
        raise ParameterError(f"No open work order can be planned: {model.notes[-1]}.")
    machines = [Machine(m, tuple(windows[m])) for m in model.machines["machine"]]
    return Problem(jobs, machines, name=name)


def merge_downtime(*groups: Iterable[Downtime]) -> list[Downtime]:
    """All windows of ``groups`` in one list."""
    return [down for group in groups for down in group]


def downtime_from_mapping(rows: Iterable[Mapping[str, object]]) -> list[Downtime]:
    """Windows from dicts with ``machine, start, end`` and optional ``reason``."""
    return [
        Downtime(
            str(row["machine"]),
            _timestamp(row["start"]),  # type: ignore[arg-type]
            _timestamp(row["end"]),  # type: ignore[arg-type]
            str(row.get("reason", "unavailable")),
        )
        for row in rows
    ]
