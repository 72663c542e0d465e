"""The planning agent: plans the open work orders and makes room for the maintenance asked for.

What it reports:

* ``planning.due_date_risk``: an order the current plan finishes after its due date (evidence:
  tardiness in hours, planned end, due date);
* ``planning.maintenance_window``: the window it proposes for a machine that a
  ``maintenance.rul_low`` finding says is wearing out (the logistics agent reacts to it);
* ``planning.recipe_changeover``: on a ``design.recipe_change``, the product's open orders that
  run on the new recipe and those that run on the one in force.

What it recommends, on ``maintenance.rul_low``: a maintenance window that ends before the latest
safe date of the finding (off-shift when one fits, else the in-shift window that costs the least
tardiness) as ``maintenance_order.create``, and the re-plan around it as
``work_order.reschedule``, with the total tardiness before and after in the expected effect. On
``design.recipe_change``: the recipe revision as planned (``recipe.revise``, in place of the
design agent's), with the open orders that run on it in its expected effect, dated at the end of
any order that would run across its date. All need a person's approval.

Example::

    from factorybrain.agents import Orchestrator
    from factorybrain.agents.planning import PlanningAgent

    orchestrator = Orchestrator(store, [PlanningAgent(time_limit=10)])
    report = orchestrator.run(["planning"])        # plan, store it, report late orders
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from factorybrain import compute
from factorybrain.agents.core._agent import AgentContext, BaseAgent, Output
from factorybrain.agents.core._contract import (
    EntityRef,
    Evidence,
    Finding,
    Recommendation,
    stable_id,
)
from factorybrain.agents.planning._calendar import WorkCalendar
from factorybrain.agents.planning._changeover import (
    RECIPE_CHANGE,
    changeover_output,
    plan_changeover,
    product_names,
    proposed_date,
    revision_proposed,
    unplanned_changeover,
)
from factorybrain.agents.planning._core import (
    PLAN_SPACE,
    PlanResult,
    plan_gantt_svg,
    plan_model,
    plan_orders,
    store_plan,
    stored_plan,
    stored_plan_gantt_svg,
)
from factorybrain.agents.planning._model import (
    Downtime,
    PlantModel,
    build_problem,
    load_plant_model,
    unplanned_sites,
)
from factorybrain.agents.planning._oee import plant_oee, plant_oee_losses
from factorybrain.store import Store

#: The severities of a ``quality.drift`` that hold the machine's orders for an inspection.
HOLD_SEVERITIES = ("high", "critical")

AGENT = "planning"

__all__ = [
    "AGENT",
    "Downtime",
    "MaintenanceProposal",
    "PLAN_SPACE",
    "PlanResult",
    "PlanningAgent",
    "PlantModel",
    "WorkCalendar",
    "build_problem",
    "data_quality",
    "due_date_risks",
    "latest_safe_date",
    "load_plant_model",
    "plan_gantt_svg",
    "plan_orders",
    "plant_oee",
    "plant_oee_losses",
    "propose_maintenance_window",
    "store_plan",
    "stored_plan",
    "stored_plan_gantt_svg",
]


def due_date_risks(
    result: PlanResult, *, min_hours: float = 0.0, agent: str = AGENT
) -> list[Finding]:
    """One ``planning.due_date_risk`` finding per order planned to end late.

    Args:
        result: The plan.
        min_hours: Tardiness (clock hours) an order needs to be reported.
        agent: Name of the reporting agent.
    """
    findings = []
    for row in result.orders.itertuples(index=False):
        late = float(row.tardiness_hours)
        if late <= min_hours:
            continue
        severity = "high" if late >= 24 else "medium" if late >= 4 else "low"
        planned_end = row.planned_end.to_pydatetime()
        findings.append(
            Finding(
                agent,
                "planning.due_date_risk",
                EntityRef("work_order", str(row.external_id), str(row.space)),
                severity=severity,
                confidence=0.9 if result.schedule.status == "optimal" else 0.8,
                evidence=Evidence(
                    tuple(
                        EntityRef("asset", str(machine), str(row.space))
                        for machine in result.operations.loc[
                            result.operations["work_order"] == row.external_id, "machine"
                        ]
                    ),
                    {
                        "tardiness_hours": round(late, 3),
                        "quantity": float(row.quantity),
                        "weight": float(row.weight),
                    },
                    f"Work order {row.external_id} ({row.product}, {row.quantity:g} units, line "
                    f"{row.line}) is planned to end {planned_end:%Y-%m-%d %H:%M} UTC, "
                    f"{late:.1f} h after its due date {row.due_at:%Y-%m-%d %H:%M} UTC.",
                ),
                dedup_key=f"due:{row.due_at:%Y-%m-%dT%H:%M}",
                created_at=result.model.origin,
                title=f"{row.external_id} planned {late:.1f} h late",
            )
        )
    return findings


def plan_machine(store: Store, model: PlantModel, identifier: str) -> str | None:
    """The machine or work centre of the plan that ``identifier`` names, directly or linked.

    A warned machine is named as the maintenance agent knows it (the MES machine, the ERP
    equipment); an approved annotation between it and a resource of the plan resolves it.
    """
    resources = model.line_of()
    if identifier in resources:
        return identifier
    links = store.query(
        "SELECT source_identifier AS a, target_external_id AS b FROM annotation "
        "WHERE status = 'approved' AND (source_identifier = ? OR target_external_id = ?)",
        [identifier, identifier],
    )
    for a, b in zip(links["a"], links["b"], strict=True):
        other = b if a == identifier else a
        if other in resources:
            return str(other)
    return None


def data_quality(model: PlantModel, *, agent: str = AGENT) -> list[Finding]:
    """One ``planning.data_quality`` finding listing what the plan had to assume, if anything.

    A planner that plans work centres around the clock because no shift is recorded, or leaves
    orders out because their product has no routing, says so instead of planning in silence.
    """
    if not model.notes:
        return []
    text = "; ".join(model.notes)
    return [
        Finding(
            agent,
            "planning.data_quality",
            EntityRef("agent", agent),
            severity="low",
            confidence=1.0,
            evidence=Evidence(
                (), {"notes": float(len(model.notes))}, text[:1].upper() + text[1:] + "."
            ),
            dedup_key=f"{model.origin:%Y-%m-%d}:{stable_id('notes', text)}",
            created_at=model.origin,
            title=f"Planning: {len(model.notes)} assumption(s) about the data",
        )
    ]


def _sites_left_out(store: Store, model: PlantModel) -> list[Finding]:
    """A ``planning.data_quality`` finding naming the plants of the store left unplanned."""
    planned = str(model.orders["space"].iloc[0])  # a plan has open orders, all of one space
    others = unplanned_sites(store, planned)
    if not others:
        return []
    shown = ", ".join(repr(site or "(no site)") for site in others)
    return [
        Finding(
            AGENT,
            "planning.data_quality",
            EntityRef("agent", AGENT),
            severity="medium",
            confidence=1.0,
            evidence=Evidence(
                (),
                {"sites_not_planned": float(len(others))},
                f"Planned the orders of space {planned!r} only: the store holds open work "
                f"orders with routings at {len(others)} other site(s) too ({shown}), and this "
                "version keeps one plan per store, so their orders are not planned and their "
                "due dates not checked.",
            ),
            dedup_key=stable_id("sites", *others),
            created_at=model.origin,
            title=f"Planning: {len(others)} other site(s) not planned",
        )
    ]


def latest_safe_date(finding: Finding) -> datetime:
    """When maintenance must be done by, from a ``maintenance.rul_low`` finding's evidence.

    Reads, in order: ``latest_safe_hours`` (hours after the finding), ``rul_lower_hours`` (the
    lower bound of the remaining life), ``rul_hours``; counted from the finding's ``created_at``.
    """
    numbers = finding.evidence.numbers
    base = finding.created_at or datetime.now()
    for key in ("latest_safe_hours", "rul_lower_hours", "rul_hours"):
        if key in numbers:
            return base + timedelta(hours=max(0.0, float(numbers[key])))
    return base


@dataclass
class MaintenanceProposal:
    """A maintenance window and the re-plan around it.

    Attributes:
        machine: The machine to maintain.
        start: Start of the window (naive UTC).
        end: End of the window.
        latest_safe: When the maintenance must be done by.
        off_shift: Whether the window lies outside the line's shifts (costs no capacity).
        before: The plan without the window.
        after: The plan with it.
    """

    machine: str
    start: datetime
    end: datetime
    latest_safe: datetime
    off_shift: bool
    before: PlanResult
    after: PlanResult

    def effect(self) -> dict[str, Any]:
        """Due-date effect of the window: tardiness and late orders before and after."""
        columns = ["planned_start", "planned_end"]
        now = self.after.orders.set_index("external_id")[columns]
        was = self.before.orders.set_index("external_id")[columns]
        changed = int((now.reindex(was.index) != was).any(axis=1).sum())
        return {
            "total_tardiness_hours_before": round(self.before.total_tardiness_hours, 2),
            "total_tardiness_hours_after": round(self.after.total_tardiness_hours, 2),
            "weighted_tardiness_hours_before": round(self.before.weighted_tardiness_hours, 2),
            "weighted_tardiness_hours_after": round(self.after.weighted_tardiness_hours, 2),
            "late_orders_before": self.before.late_orders,
            "late_orders_after": self.after.late_orders,
            "orders_rescheduled": changed,
            "maintenance_start": self.start.isoformat(),
            "maintenance_end": self.end.isoformat(),
            "latest_safe_date": self.latest_safe.isoformat(),
            "off_shift": self.off_shift,
        }


def _candidate_windows(
    calendar: WorkCalendar, origin: datetime, latest: datetime, hours: float, allow_off_shift: bool
) -> list[tuple[datetime, datetime, bool]]:
    """Windows of ``hours`` ending by ``latest``: ``(start, end, off_shift)``.

    The latest off-shift stretch that fits comes first (and alone: it costs no capacity); else
    windows inside single shifts: at the end of the last shift that fits, at the start of the
    first, and in the middle; else, when nothing fits before ``latest``, right at ``origin``.
    """
    length = timedelta(hours=hours)
    minutes = int(length.total_seconds() // 60)
    starts = [origin + timedelta(minutes=int(t)) for t in calendar.starts]
    ends = [origin + timedelta(minutes=int(t)) for t in calendar.ends]
    if allow_off_shift:
        gap_starts = [origin, *ends]
        gap_ends = [*starts, latest]
        for gap_start, gap_end in reversed(list(zip(gap_starts, gap_ends, strict=True))):
            finish = min(gap_end, latest)
            if finish - max(gap_start, origin) >= length:
                return [(finish - length, finish, True)]
    fitting = [
        (start, end)
        for start, end, work in zip(starts, ends, calendar.ends - calendar.starts, strict=True)
        if work >= minutes and start >= origin and start + length <= latest
    ]
    if not fitting:
        start = origin
        off = int(calendar.to_work(minutes)) == 0
        return [(start, start + length, off)]
    last_start, last_end = fitting[-1]
    candidates = [(min(last_end, latest) - length, min(last_end, latest), False)]
    middle = fitting[len(fitting) // 2][0]
    for start in (middle, fitting[0][0]):
        if all(start != c[0] for c in candidates):
            candidates.append((start, start + length, False))
    return candidates


def propose_maintenance_window(
    store: Store,
    machine: str,
    latest_safe: datetime,
    *,
    hours: float = 4.0,
    before: PlanResult | None = None,
    model: PlantModel | None = None,
    time_limit: float = 10.0,
    workers: int = 2,
    allow_off_shift: bool = True,
) -> MaintenanceProposal:
    """Choose a maintenance window for ``machine`` ending by ``latest_safe`` and re-plan.

    An off-shift window of ``hours`` before the latest safe date costs no capacity and is taken
    when one exists (and ``allow_off_shift``); otherwise windows at the latest, middle and
    earliest possible start are re-planned and the one with the least weighted tardiness wins.

    The candidate windows are re-planned as pieces of the compute pool
    (:mod:`factorybrain.compute`): one after the other here, side by side on a Ray cluster, each
    with a third of ``time_limit``. Each re-plan is the scheduling engine under a wall-clock time
    limit, so the answer is reproducible only as far as the engine's is, here as on a cluster:
    with one CP-SAT worker (``workers=1``) and plans proven optimal within their time, the same
    inputs give the same proposal wherever it ran; with several workers (CP-SAT's parallel search
    races its threads), or a plan cut off by its time limit (a loaded machine finds less in the
    same time), two runs may give different plans, even in one process, proven optimal ones with
    the same objective but not always the same dates.

    Raises:
        ParameterError: When ``machine`` is not a planned machine of the store.
    """
    from factorybrain.exceptions import ParameterError

    if model is None:
        model = before.model if before is not None else load_plant_model(store)
    line = model.line_of().get(machine)
    if line is None:
        raise ParameterError(
            f"Machine {machine!r} is not a machine of the plan; expected one of "
            f"{sorted(model.line_of())}."
        )
    per_plan = max(1.0, time_limit / 3)
    if before is None:
        before = plan_orders(store, model=model, time_limit=time_limit, workers=workers)
    calendar = model.calendars()[line]
    candidates = _candidate_windows(calendar, model.origin, latest_safe, hours, allow_off_shift)
    plans = compute.pool().map(
        _plan_with_window,
        [Downtime(machine, start, end, "proposed maintenance") for start, end, _ in candidates],
        model,
        before.extra_downtime,
        before.previous_plan(),
        per_plan,
        workers,
        label=f"planning: maintenance windows for {machine}",
    )
    best: tuple[float, datetime, datetime, bool, PlanResult] | None = None
    for (start, end, off_shift), after in zip(candidates, plans, strict=True):
        if best is None or after.weighted_tardiness_hours < best[0] - 1e-9:
            best = (after.weighted_tardiness_hours, start, end, off_shift, after)
    assert best is not None
    _, start, end, off_shift, after = best
    return MaintenanceProposal(machine, start, end, latest_safe, off_shift, before, after)


def _plan_with_window(
    window: Downtime,
    model: PlantModel,
    downtime: list[Downtime],
    previous: dict[tuple[str, str], tuple[str, int]],
    time_limit: float,
    workers: int,
) -> PlanResult:
    """One what-if of :func:`propose_maintenance_window` (a piece of the compute pool).

    The plant re-planned with ``window`` added to the plan's ``downtime``, starting from the plan
    in force (``previous``); it needs no store, only the plant model.
    """
    return plan_model(
        model,
        extra_downtime=[*downtime, window],
        previous=previous,
        time_limit=time_limit,
        workers=workers,
    )


class PlanningAgent(BaseAgent):
    """Plans the open orders, reports late ones, and makes room for predicted maintenance.

    Args:
        time_limit: Seconds of the scheduling engine per plan.
        workers: CP-SAT worker threads.
        maintenance_hours: Length of a proposed maintenance window when the finding gives none
            (``maintenance_hours`` in its evidence).
        min_late_hours: Tardiness an order needs to be reported as a due-date risk.
        allow_off_shift: Whether maintenance may be planned outside the line's shifts.
        now: Origin of the plans (naive UTC); default the end of the recorded machine states.
    """

    name = AGENT
    subscriptions: tuple[str, ...] = ("maintenance.rul_low", "quality.drift", RECIPE_CHANGE)
    # re-plan hourly when run by the orchestrator's scheduler; not on every work-order change,
    # since storing a plan changes work orders itself
    schedule = timedelta(hours=1)

    def __init__(
        self,
        *,
        time_limit: float = 10.0,
        workers: int = 2,
        maintenance_hours: float = 4.0,
        min_late_hours: float = 0.0,
        allow_off_shift: bool = True,
        now: datetime | None = None,
    ) -> None:
        self.time_limit = time_limit
        self.workers = workers
        self.maintenance_hours = maintenance_hours
        self.min_late_hours = min_late_hours
        self.allow_off_shift = allow_off_shift
        self.now = now

    def plan(self, store: Store) -> PlanResult:
        """Plan the store's open orders and write the plan."""
        result = plan_orders(store, now=self.now, time_limit=self.time_limit, workers=self.workers)
        store_plan(store, result)
        return result

    def run(self, context: AgentContext) -> Output:
        """Plan, store the plan, and report the orders planned late and what was assumed.

        As of a past moment (a replay), the plan is made from what was known then and not
        stored: the orders' dates of today are not rewritten from the past.
        """
        if context.store.known_at is None:
            result = self.plan(context.store)
        else:
            result = plan_orders(
                context.store, now=self.now, time_limit=self.time_limit, workers=self.workers
            )
        return [
            *data_quality(result.model),
            *_sites_left_out(context.store, result.model),
            *due_date_risks(result, min_hours=self.min_late_hours),
        ]

    def react(self, finding: Finding, context: AgentContext) -> Output:
        """A machine to stop for a while: plan the window, and re-plan its orders around it.

        On ``maintenance.rul_low``: a maintenance window before the latest safe date. On a
        ``quality.drift`` of a machine of severity high or critical: the machine's orders are
        held for an inspection window as soon as the plan allows (the drift gives no safe date:
        what it makes now may be bad). On ``design.recipe_change``: which open orders run on the
        new recipe, and the changeover moved to an order boundary when an order would run
        across it (:mod:`._changeover`).
        """
        if finding.kind == RECIPE_CHANGE:
            return self._changeover(finding, context)
        if finding.kind not in self.subscriptions or finding.subject.type != "asset":
            return ()
        if finding.kind == "quality.drift" and finding.severity not in HOLD_SEVERITIES:
            return ()  # a milder drift gets the machine inspected, not its orders held
        model = load_plant_model(context.store, now=self.now)
        machine = plan_machine(context.store, model, finding.subject.external_id)
        if machine is None:
            return [
                Finding(
                    AGENT,
                    "planning.data_quality",
                    finding.subject,
                    severity="medium",
                    confidence=1.0,
                    evidence=Evidence(
                        (EntityRef("finding", finding.id),),
                        {},
                        f"{finding.subject.external_id} is warned about but is neither a "
                        "machine nor a work centre of the plan, and no approved link names one: "
                        "no maintenance window can be planned for it.",
                    ),
                    dedup_key=f"unplanned:{finding.id}",
                    created_at=finding.created_at,
                    title=f"{finding.subject.external_id} is not a resource of the plan",
                )
            ]
        hours = float(finding.evidence.numbers.get("maintenance_hours", self.maintenance_hours))
        latest = latest_safe_date(finding)
        proposal = propose_maintenance_window(
            context.store,
            machine,
            latest,
            hours=hours,
            model=model,
            time_limit=self.time_limit,
            workers=self.workers,
            allow_off_shift=self.allow_off_shift,
        )
        return self._recommend(finding, proposal)

    def _changeover(self, finding: Finding, context: AgentContext) -> Output:
        from factorybrain.exceptions import ParameterError

        try:
            plan = plan_orders(
                context.store, now=self.now, time_limit=self.time_limit, workers=self.workers
            )
        except ParameterError as error:  # nothing to plan: say so, the proposal stands
            return [unplanned_changeover(finding, str(error), agent=AGENT)]
        change = plan_changeover(
            plan, product_names(finding, context), max(proposed_date(finding), plan.model.origin)
        )
        space = str(plan.orders["space"].iloc[0]) if not plan.orders.empty else None
        return changeover_output(
            finding, change, revision_proposed(finding, context), agent=AGENT, space=space
        )

    def _recommend(
        self, finding: Finding, proposal: MaintenanceProposal
    ) -> Sequence[Finding | Recommendation]:
        effect = proposal.effect()
        space = finding.subject.space or str(proposal.before.model.orders["space"].iloc[0])
        key = f"{proposal.machine}:{proposal.latest_safe:%Y-%m-%dT%H:%M}"
        window = Finding(
            AGENT,
            "planning.maintenance_window",
            EntityRef("asset", proposal.machine, space),
            severity=finding.severity,
            confidence=finding.confidence,
            evidence=Evidence(
                (EntityRef("finding", finding.id),),
                {
                    "maintenance_hours": (proposal.end - proposal.start).total_seconds() / 3600,
                    "hours_before_latest_safe": (
                        proposal.latest_safe - proposal.end
                    ).total_seconds()
                    / 3600,
                    "total_tardiness_hours_before": effect["total_tardiness_hours_before"],
                    "total_tardiness_hours_after": effect["total_tardiness_hours_after"],
                },
                f"Maintain {proposal.machine} from {proposal.start:%Y-%m-%d %H:%M} to "
                f"{proposal.end:%Y-%m-%d %H:%M} UTC"
                f"{' (off shift)' if proposal.off_shift else ''}, "
                + (
                    f"before the latest safe date {proposal.latest_safe:%Y-%m-%d %H:%M} UTC"
                    if proposal.end <= proposal.latest_safe
                    else f"as soon as the plan allows: the latest safe date "
                    f"{proposal.latest_safe:%Y-%m-%d %H:%M} UTC cannot be kept"
                )
                + f"; total tardiness "
                f"{effect['total_tardiness_hours_before']:.1f} h -> "
                f"{effect['total_tardiness_hours_after']:.1f} h.",
            ),
            dedup_key=key,
            created_at=finding.created_at,
            title=f"Maintenance window for {proposal.machine} {proposal.start:%Y-%m-%d %H:%M} UTC",
        )
        order_id = stable_id("mo", proposal.machine, key)
        maintenance = Recommendation(
            AGENT,
            (finding.id, window.id),
            "maintenance_order.create",
            parameters={
                "space": "agents",
                "external_id": order_id,
                "asset": proposal.machine,
                "planned_start": proposal.start.isoformat(),
                "planned_end": proposal.end.isoformat(),
                "order_type": "predictive",
                "notes": window.evidence.text,
            },
            expected_effect=effect,
            requires_approval=True,
            title=window.title,
            dedup_key=key,
        )
        before = proposal.before.orders.set_index("external_id")
        orders = [
            {
                "external_id": row.external_id,
                "space": row.space,
                "planned_start": row.planned_start.isoformat(),
                "planned_end": row.planned_end.isoformat(),
            }
            for row in proposal.after.orders.itertuples(index=False)
            if row.external_id not in before.index
            or before.at[row.external_id, "planned_start"] != row.planned_start
            or before.at[row.external_id, "planned_end"] != row.planned_end
        ]
        reschedule = Recommendation(
            AGENT,
            (finding.id, window.id),
            "work_order.reschedule",
            parameters={"orders": orders, "maintenance_order": order_id},
            expected_effect=effect,
            requires_approval=True,
            title=(
                f"Re-plan around maintenance of {proposal.machine}: total tardiness "
                f"{effect['total_tardiness_hours_before']:.1f} h -> "
                f"{effect['total_tardiness_hours_after']:.1f} h"
            ),
            dedup_key=key,
        )
        return [window, maintenance, reschedule]
