"""The logistics agent: demand forecasts, inventory levels, stock-out risk and health-driven spares.

A scheduled run (:meth:`LogisticsAgent.run`, or :meth:`LogisticsAgent.plan` from Python):

1. reads every product's sales and every material's consumption and issues per week from the
   factory model (:func:`~factorybrain.agents.logistics._data.load_logistics`);
2. forecasts them with :class:`~factorybrain.engines.forecast.DemandForecaster` (demand class,
   model choice, quantiles);
3. sets a reorder point and order-up-to level per item for the target service level with
   :class:`~factorybrain.engines.inventory.InventoryPlanner` (one planner per lead time), adding
   to each spare part the machines' chance to fail within its lead time (open
   ``maintenance.rul_low`` findings);
4. reports ``logistics.stockout_risk`` (stock on hand plus on order is below the expected demand
   over the lead time) and ``logistics.reorder_due`` (at or below the reorder point), each with a
   ``purchase_order.create`` recommendation up to the order-up-to level that needs approval
   (finished products get the finding only: the planning agent re-plans production);
5. resolves its open and acknowledged stock findings on items whose stock is healthy again
   (:meth:`LogisticsAgent.resolutions`), saying so with the figures in the audit log.

A reaction (:meth:`LogisticsAgent.react`) to ``maintenance.rul_low`` (or to the planning agent's
``planning.maintenance_window`` caused by one) checks the spare parts of that machine's BOM with
:func:`check_spare_part`: the probability that the machine fails within the part's lead time, from
the finding's remaining-life interval (:func:`factorybrain.engines.rul.failure_probability`), is
added to the part's expected demand; when the parts available (on hand plus on order, less what
other warned machines are expected to need) may not cover this machine before the warned failure,
it reports ``logistics.stockout_risk`` on the part and recommends ordering now.

Fallbacks, each reported as a :class:`~factorybrain.engines.forecast.DataQualityWarning` and kept
in :attr:`LogisticsPlan.warnings`: the forecast engine's own (gaps and negative values repaired,
all-zero history forecast as zero, short history by its average, lead time longer than the
history); a product or material with no movement at all is planned on zero demand (a spare part
then only on machine health); a material without a lead time gets ``default_lead_time_days``; a
``rul_low`` finding without an interval is read as certain to fail within its horizon; a machine
whose BOM cannot be found is reported and skipped.

Example::

    from factorybrain.agents.logistics import LogisticsAgent
    plan = LogisticsAgent().plan(store)
    print(plan.policies[["unique_id", "reorder_point", "order_up_to", "position"]])
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from factorybrain.agents.core._agent import AgentContext, BaseAgent
from factorybrain.agents.core._contract import (
    ACTIVE_STATUSES,
    EntityRef,
    Evidence,
    Finding,
    Recommendation,
    RecordNotFoundError,
    stable_id,
)
from factorybrain.agents.core._records import AgentRecords
from factorybrain.agents.logistics._data import LogisticsData, SparePart, load_logistics
from factorybrain.engines.forecast import DataQualityWarning, DemandForecaster
from factorybrain.engines.inventory import InventoryPlanner, SparePartDemand
from factorybrain.engines.rul import failure_probability
from factorybrain.exceptions import ParameterError
from factorybrain.store import Store

AGENT = "logistics"
RUL_LOW = "maintenance.rul_low"
MAINTENANCE_WINDOW = "planning.maintenance_window"
STOCKOUT_RISK = "logistics.stockout_risk"
REORDER_DUE = "logistics.reorder_due"
STOCK_UNKNOWN = "logistics.stock_unknown"
PURCHASE = "purchase_order.create"


@dataclass(frozen=True)
class MachineRisk:
    """A warned machine's remaining life, read from a ``maintenance.rul_low`` finding.

    Attributes:
        machine: Engineering machine id (the BOM parent).
        at: When the remaining life was estimated (naive UTC).
        rul_hours: Median remaining life in hours (None: unknown).
        lower_hours: Lower end of its 90 % interval.
        upper_hours: Upper end of its 90 % interval.
        horizon_hours: Horizon in which the maintenance agent expects the failure.
        finding_id: The finding it came from.
    """

    machine: str
    at: datetime
    rul_hours: float | None
    lower_hours: float | None
    upper_hours: float | None
    horizon_hours: float
    finding_id: str = ""

    def probability_within(self, hours: float, now: datetime | None = None) -> float:
        """Probability of failing within ``hours`` from ``now`` (default: the estimate's time).

        Without an interval, failure is taken as certain within the horizon (a fallback).
        """
        elapsed = 0.0 if now is None else max((now - self.at).total_seconds() / 3600.0, 0.0)
        if self.rul_hours is None or self.lower_hours is None or self.upper_hours is None:
            return 1.0 if hours >= max(self.horizon_hours - elapsed, 0.0) else 0.0
        lower = min(self.lower_hours, self.rul_hours)
        upper = max(self.upper_hours, self.rul_hours)
        return float(failure_probability(self.rul_hours, lower, upper, hours + elapsed))


@dataclass(frozen=True)
class SpareCheck:
    """Whether one spare part covers a warned machine, and what to order.

    Attributes:
        material: The material the stores keep.
        machine: The warned machine.
        on_hand: Stock on hand.
        on_order: Open purchase orders.
        reserved: Parts other warned machines are expected to need (probability-weighted).
        lead_time_hours: Replenishment lead time.
        probability_lead_time: Probability the machine fails within the lead time.
        probability_horizon: Probability it fails within the protection horizon (the longer
            of the lead time plus a review period and the maintenance agent's horizon).
        forecast_demand: Other demand expected within the lead time (forecast).
        expected_demand: Forecast plus health-driven demand within the lead time.
        available: ``on_hand + on_order - reserved``.
        order_quantity: Parts to order now (0: none).
        reason: One sentence a planner can read.
    """

    material: str
    machine: str
    on_hand: float
    on_order: float
    reserved: float
    lead_time_hours: float
    probability_lead_time: float
    probability_horizon: float
    forecast_demand: float
    expected_demand: float
    available: float
    order_quantity: float
    reason: str

    @property
    def order_now(self) -> bool:
        """Whether parts should be ordered now."""
        return self.order_quantity > 0


def check_spare_part(
    *,
    material: str,
    machine: str,
    quantity: float,
    on_hand: float,
    on_order: float,
    lead_time_hours: float,
    probability_lead_time: float,
    probability_horizon: float,
    reserved: float = 0.0,
    forecast_demand: float = 0.0,
    risk: float = 0.05,
) -> SpareCheck:
    """Decide whether a warned machine's spare part must be ordered now.

    The part is short when the machine may well fail within the protection horizon
    (``probability_horizon > risk``) and the parts available (on hand plus on order less
    ``reserved``) do not cover its ``quantity``; or when the available parts fall below the
    expected demand within the lead time (forecast plus ``quantity x probability_lead_time``).
    The order brings the available parts up to what is needed, in whole parts.

    Example:
        >>> check_spare_part(material="70000305", machine="line3/press-3", quantity=1,
        ...     on_hand=0, on_order=0, lead_time_hours=72, probability_lead_time=0.3,
        ...     probability_horizon=0.9).order_quantity
        1.0
    """
    if not 0.0 < risk < 1.0:
        raise ParameterError(f"risk must be a float in (0, 1). Got {risk!r} instead.")
    available = on_hand + on_order - reserved
    health = quantity * probability_lead_time
    expected = forecast_demand + health
    needed = 0.0
    reasons = []
    if probability_horizon > risk and available < quantity - 1e-9:
        needed = max(needed, quantity - available)
        reasons.append(
            f"{machine} may fail (p={probability_horizon:.0%} before a part ordered later "
            f"would arrive) and {max(available, 0):g} part(s) are available"
        )
    if available < expected - 1e-9:
        needed = max(needed, expected - available)
        reasons.append(
            f"expected demand within the lead time ({expected:.2f}) exceeds the "
            f"{max(available, 0):g} available"
        )
    order = float(math.ceil(needed - 1e-9)) if needed > 0 else 0.0
    reason = "; ".join(reasons) if reasons else "stock covers the warned failure"
    return SpareCheck(
        material=material,
        machine=machine,
        on_hand=float(on_hand),
        on_order=float(on_order),
        reserved=float(reserved),
        lead_time_hours=float(lead_time_hours),
        probability_lead_time=float(probability_lead_time),
        probability_horizon=float(probability_horizon),
        forecast_demand=float(forecast_demand),
        expected_demand=float(expected),
        available=float(available),
        order_quantity=order,
        reason=reason,
    )


def health_demand(
    risks: Sequence[MachineRisk],
    spares: Mapping[str, Sequence[SparePart]],
    lead_time_hours: Mapping[str, float],
    now: datetime | None = None,
) -> dict[str, SparePartDemand]:
    """Health-driven demand per material: each warned machine's chance to fail in the lead time.

    Args:
        risks: Warned machines.
        spares: ``{machine: spare parts of its BOM}``.
        lead_time_hours: ``{material: lead time in hours}``.
        now: The moment the lead time starts (default: each estimate's time).

    Returns:
        ``{material: SparePartDemand}`` (machines fail independently, at most once each).
    """
    out: dict[str, SparePartDemand] = {}
    for risk in risks:
        for part in spares.get(risk.machine, ()):
            if part.material is None:
                continue
            hours = lead_time_hours.get(part.material, 0.0)
            probability = risk.probability_within(hours, now)
            quantity = max(int(round(part.quantity)), 1)
            before = out.get(part.material, SparePartDemand(0.0, {}, np.ones(1)))
            distribution = np.zeros(before.distribution.size + quantity)
            distribution[: before.distribution.size] += (1 - probability) * before.distribution
            distribution[quantity:] += probability * before.distribution
            out[part.material] = SparePartDemand(
                before.expected + probability * quantity,
                {**before.probabilities, risk.machine: probability},
                distribution,
            )
    return out


@dataclass
class LogisticsPlan:
    """What one planning pass found.

    Attributes:
        as_of: The moment planned for: the latest data, or the moment asked for when earlier;
            None when the store holds no dated sales order, inventory movement or stock count
            (no data, nothing to date the plan by).
        forecasts: Forecast engine output per item and future period (``unique_id``, ``ds``
            as a period start, ``forecast``, quantiles, ``model``, ``demand_class``).
        policies: One row per item: stock ``position``, ``lead_time_days``, ``lead_periods``,
            ``lead_time_demand`` (mean, health included), ``reorder_point``, ``order_up_to``,
            ``health_demand`` and the forecast ``model`` and ``fallback``.
        findings: ``logistics.stockout_risk`` and ``logistics.reorder_due`` findings.
        recommendations: ``purchase_order.create`` recommendations.
        warnings: Every fallback used, one sentence each.
    """

    as_of: datetime | None
    forecasts: pd.DataFrame
    policies: pd.DataFrame
    findings: list[Finding] = field(default_factory=list)
    recommendations: list[Recommendation] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def items(self) -> list[Finding | Recommendation]:
        """Findings then recommendations, as the orchestrator takes them."""
        return [*self.findings, *self.recommendations]


def _warn(message: str, collected: list[str]) -> None:
    collected.append(message)
    warnings.warn(message, DataQualityWarning, stacklevel=3)


def risk_from_finding(finding: Finding, machine: str) -> MachineRisk:
    """Read a ``maintenance.rul_low`` finding's remaining life (hours) for ``machine``."""
    numbers = finding.evidence.numbers
    rul = numbers.get("rul_hours")
    if rul is None and "rul_days" in numbers:
        rul = numbers["rul_days"] * 24.0
    return MachineRisk(
        machine=machine,
        at=finding.created_at or datetime(1970, 1, 1),
        rul_hours=None if rul is None else float(rul),
        lower_hours=numbers.get("rul_lower_hours"),
        upper_hours=numbers.get("rul_upper_hours"),
        horizon_hours=float(numbers.get("horizon_hours", 7 * 24.0)),
        finding_id=finding.id,
    )


def _identifiers(finding: Finding) -> list[str]:
    found = [finding.subject.external_id]
    for ref in finding.evidence.refs:
        if ref.type in ("asset", "equipment"):
            found.append(ref.external_id)
    return found


class LogisticsAgent(BaseAgent):
    """Forecasts, inventory levels, stock-out risk and spare parts ordered on machine health.

    Args:
        target: Target service level of the inventory policies, in (0, 1).
        service: ``"fill_rate"`` or ``"cycle_service"`` (see :class:`InventoryPlanner`).
        period: Pandas frequency of the demand periods (weeks by default).
        horizon: Periods forecast.
        review_period: Periods between two reviews of the order-up-to policy.
        default_lead_time_days: Lead time of an item the material master gives none (finished
            products: their production lead time).
        risk: Probability of a warned machine failing before its part arrives that is accepted
            without ordering.
        n_samples: Demand paths per item (forecast quantiles and inventory levels).
        material_space: Space of the material master; default the space that holds the most
            materials.
        random_state: Seed of the Monte Carlo draws.
    """

    name = AGENT
    subscriptions = (RUL_LOW, MAINTENANCE_WINDOW)
    schedule = timedelta(days=1)
    watches = ("sales_order", "inventory_transaction", "stock_level", "purchase_order")

    def __init__(
        self,
        *,
        target: float = 0.95,
        service: str = "fill_rate",
        period: str = "W-MON",
        horizon: int = 8,
        review_period: int = 1,
        default_lead_time_days: float = 7.0,
        risk: float = 0.05,
        n_samples: int = 1000,
        material_space: str | None = None,
        random_state: int = 0,
    ) -> None:
        self.target = target
        self.service = service
        self.period = period
        self.horizon = horizon
        self.review_period = review_period
        self.default_lead_time_days = default_lead_time_days
        self.risk = risk
        self.n_samples = n_samples
        self.material_space = material_space
        self.random_state = random_state

    # -- the agent protocol ----------------------------------------------------------------------
    def run(self, context: AgentContext) -> Iterable[Finding | Recommendation]:
        """Plan every item now; return stock-out risks and reorder recommendations.

        The agent's earlier stock findings on items whose stock is healthy again come back
        resolved (see :meth:`resolutions`).
        """
        plan = self.plan(context.store, as_of=context.now(), records=context.records)
        active = [
            finding
            for status in ACTIVE_STATUSES
            for finding in context.records.findings(agent=AGENT, status=status, limit=None)
        ]
        return [*plan.items(), *self.resolutions(plan, active)]

    def resolutions(self, plan: LogisticsPlan, active: Iterable[Finding]) -> list[Finding]:
        """The stock findings of ``active`` whose item ``plan`` finds healthy again, resolved.

        A ``logistics.stockout_risk`` or ``logistics.reorder_due`` on a material whose stock on
        hand and on order is now above its reorder point and covers the demand expected over its
        lead time (machines' health included) no longer holds; the resolved finding says so with
        the figures. A finding the plan reports again, or on an item whose stock the plan could
        not judge (no count, no reorder point), stays as it is.
        """
        reported = {finding.id for finding in plan.findings}
        # a stored finding keeps its subject's id, not its space: the space tells apart only
        # materials of the same id in two spaces, which are then left alone
        rows: dict[str, list[Any]] = {}
        for row in plan.policies.itertuples():
            rows.setdefault(str(row.external_id), []).append(row)
        out = []
        for finding in active:
            if finding.agent != AGENT or finding.kind not in (STOCKOUT_RISK, REORDER_DUE):
                continue
            candidates = [
                row
                for row in rows.get(finding.subject.external_id, [])
                if finding.subject.space in (None, str(row.space) or None)
            ]
            if finding.id in reported or len(candidates) != 1:
                continue
            (row,) = candidates
            if pd.isna(row.reorder_point) or pd.isna(row.on_hand):
                continue
            if row.position <= row.reorder_point or row.position < row.lead_time_demand - 1e-9:
                continue
            numbers = {
                "on_hand": float(row.on_hand),
                "on_order": float(row.on_order),
                "reorder_point": float(row.reorder_point),
                "lead_time_demand": float(row.lead_time_demand),
            }
            text = (
                f"{row.name}: stock is healthy again: {row.position:g} on hand and on order, "
                f"above the reorder point {row.reorder_point:g} and the "
                f"{row.lead_time_demand:.1f} expected over the {row.lead_time_days:g}-day lead "
                "time."
            )
            out.append(replace(finding, status="resolved", evidence=Evidence((), numbers, text)))
        return out

    def react(self, finding: Finding, context: AgentContext) -> Iterable[Finding | Recommendation]:
        """A machine is wearing out: check and reorder the spare parts of its BOM."""
        root = self._rul_root(finding, context)
        if root is None:
            return []
        data = load_logistics(
            context.store,
            as_of=context.now(),
            period=self.period,
            material_space=self.material_space,
        )
        machine = data.machine_of(_identifiers(root))
        if machine is None:
            _warn(
                f"logistics: {root.kind} on {root.subject} names no machine with a spare-part "
                f"BOM (tried {_identifiers(root)}); its spare parts cannot be checked.",
                [],
            )
            return []
        others = [
            r
            for r in self.warned_machines(context.store, context.records, data=data)
            if r.machine != machine and r.finding_id != root.id
        ]
        # answering the rul_low itself (not the finding that relayed it) keeps one order per
        # warning when both the warning and a planned window reach this agent
        return self.check_machine(data, risk_from_finding(root, machine), others, root)

    # -- the work ----------------------------------------------------------------------------------
    def check_machine(
        self,
        data: LogisticsData,
        machine_risk: MachineRisk,
        others: Sequence[MachineRisk] = (),
        trigger: Finding | None = None,
    ) -> list[Finding | Recommendation]:
        """Check each spare part of a warned machine; findings and orders for the short ones.

        Args:
            data: What the store holds (:func:`load_logistics`).
            machine_risk: The warned machine's remaining life.
            others: Other warned machines (their expected needs are reserved first).
            trigger: The finding being reacted to (referenced by what this reports).
        """
        now = data.as_of
        items = data.items.set_index("unique_id")
        out: list[Finding | Recommendation] = []
        parts = data.spares.get(machine_risk.machine, [])
        for part in parts:
            if part.material is None or part.material not in items.index:
                _warn(
                    f"logistics: spare part {part.part_number} of {part.machine} matches no "
                    "material in the material master; its stock cannot be checked.",
                    [],
                )
                continue
            item = items.loc[part.material]
            if pd.isna(item["on_hand"]):
                _warn(
                    f"logistics: spare part {part.part_number} of {part.machine} "
                    f"({part.material}) has no stock count anywhere: its stock is unknown, so "
                    "whether it covers the warned failure cannot be checked; count it.",
                    [],
                )
                continue
            lead_days = self._lead_days(item)
            lead_hours = lead_days * 24.0
            period_hours = _period_hours(self.period)
            protection = max(
                lead_hours + self.review_period * period_hours, machine_risk.horizon_hours
            )
            reserved = health_demand(others, data.spares, {part.material: protection}, now)
            check = check_spare_part(
                material=part.material,
                machine=part.machine,
                quantity=part.quantity,
                on_hand=float(item["on_hand"]),
                on_order=float(item["on_order"]),
                lead_time_hours=lead_hours,
                probability_lead_time=machine_risk.probability_within(lead_hours, now),
                probability_horizon=machine_risk.probability_within(protection, now),
                reserved=reserved[part.material].expected if part.material in reserved else 0.0,
                forecast_demand=0.0,
                risk=self.risk,
            )
            if not check.order_now:
                continue
            out.extend(self._spare_items(data, item, part, check, machine_risk, trigger))
        return out

    def _spare_items(
        self,
        data: LogisticsData,
        item: pd.Series,
        part: SparePart,
        check: SpareCheck,
        machine_risk: MachineRisk,
        trigger: Finding | None,
    ) -> list[Finding | Recommendation]:
        subject = EntityRef("material", str(item["external_id"]), str(item["space"]) or None)
        refs = [EntityRef("asset", part.machine, data.machine_spaces.get(part.machine))]
        if machine_risk.finding_id:
            refs.append(EntityRef("finding", machine_risk.finding_id))
        key = f"{part.machine}:{machine_risk.finding_id or machine_risk.at.isoformat()}"
        finding = Finding(
            AGENT,
            STOCKOUT_RISK,
            subject,
            severity="high" if check.on_hand + check.on_order <= 0 else "medium",
            confidence=float(min(max(check.probability_horizon, 0.05), 0.99)),
            evidence=Evidence(
                tuple(refs),
                {
                    "on_hand": check.on_hand,
                    "on_order": check.on_order,
                    "reserved": check.reserved,
                    "available": check.available,
                    "lead_time_hours": check.lead_time_hours,
                    "failure_probability_within_lead_time": check.probability_lead_time,
                    "failure_probability_within_protection": check.probability_horizon,
                    "expected_demand_within_lead_time": check.expected_demand,
                    "order_quantity": check.order_quantity,
                },
                f"{item['name']} ({part.part_number}) for {part.machine}: {check.reason}; "
                f"order {check.order_quantity:g} now (lead time {check.lead_time_hours / 24:g} "
                f"days).",
            ),
            dedup_key=key,
            created_at=data.planned_as_of,
            title=f"Spare part {part.part_number} short for {part.machine}",
        )
        due = data.as_of + timedelta(hours=check.lead_time_hours)
        recommendation = Recommendation(
            AGENT,
            (finding.id,) if trigger is None else (finding.id, trigger.id),
            PURCHASE,
            parameters={
                "space": "agents",
                "external_id": stable_id("po", str(item["external_id"]), key),
                "material": str(item["external_id"]),
                "quantity": check.order_quantity,
                "due_at": due.isoformat(),
            },
            expected_effect={
                "spare_part_available_by": due.isoformat(),
                "failure_probability_within_lead_time": check.probability_lead_time,
                "stockout_avoided_if_failure_after": due.isoformat(),
            },
            requires_approval=True,
            title=f"Order {check.order_quantity:g} x {part.part_number} for {part.machine}",
            dedup_key=key,
        )
        return [finding, recommendation]

    def plan(
        self,
        store: Store,
        *,
        as_of: datetime | None = None,
        risks: Sequence[MachineRisk] = (),
        records: AgentRecords | None = None,
    ) -> LogisticsPlan:
        """Forecast every item, set its inventory levels and report what runs short.

        Args:
            store: The factory store.
            as_of: Plan at this moment (default: the latest data; a later moment is clamped to
                the latest data).
            risks: Warned machines whose spare-part needs are added to the demand.
            records: The agents' records: the machines their open ``maintenance.rul_low``
                findings warn about are added to ``risks`` (:meth:`warned_machines`).

        Returns:
            The :class:`LogisticsPlan`.
        """
        data = load_logistics(
            store, as_of=as_of, period=self.period, material_space=self.material_space
        )
        if records is not None:
            risks = [*risks, *self.warned_machines(store, records, data=data)]
        collected: list[str] = []
        for note in data.notes:
            _warn(f"logistics: {note}", collected)
        items = data.items.copy()
        if items.empty:
            _warn(
                "logistics: the store holds no products or materials; nothing to plan.", collected
            )
            return LogisticsPlan(
                data.planned_as_of, pd.DataFrame(), pd.DataFrame(), warnings=collected
            )
        items["lead_time_days"] = [self._lead_days(row) for _, row in items.iterrows()]
        no_lead = data.items["lead_time_days"].isna() & (data.items["item_type"] != "product")
        if no_lead.any():
            _warn(
                f"logistics: {int(no_lead.sum())} material(s) have no lead time "
                f"({', '.join(data.items.loc[no_lead, 'unique_id'].head(5))}): "
                f"{self.default_lead_time_days:g} days assumed.",
                collected,
            )
        period_days = _period_hours(self.period) / 24.0
        items["lead_periods"] = [
            max(int(math.ceil(days / period_days - 1e-9)), 1) for days in items["lead_time_days"]
        ]
        no_history = items["first_demand"].isna()
        if no_history.any():
            _warn(
                f"logistics: {int(no_history.sum())} item(s) have no demand on record "
                f"({', '.join(items.loc[no_history, 'unique_id'].head(5))}): planned on zero "
                "demand (spare parts on machine health alone) until demand is recorded.",
                collected,
            )
        history = self._history(data, items)
        if history.empty:
            _warn(
                "logistics: no complete demand period before the planning moment; every item is "
                "planned on zero demand.",
                collected,
            )
            history = pd.DataFrame(
                {"unique_id": items["unique_id"].repeat(2), "ds": [0, 1] * len(items), "y": 0.0}
            )
        lead_hours = dict(zip(items["unique_id"], items["lead_time_days"] * 24.0, strict=True))
        health = health_demand(risks, data.spares, lead_hours, data.as_of)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            forecaster = DemandForecaster(
                horizon=max(self.horizon, int(items["lead_periods"].max()) + self.review_period),
                pooled="never",
                n_samples=self.n_samples,
                random_state=self.random_state,
            ).fit(history)
            forecasts = forecaster.predict()
            policies = []
            for periods, group in items.groupby("lead_periods"):
                ids = group["unique_id"].tolist()
                planner = InventoryPlanner(
                    target=self.target,
                    service=self.service,
                    lead_time=int(periods),
                    review_period=self.review_period,
                    n_samples=max(self.n_samples, 100),
                    random_state=self.random_state,
                ).fit(
                    forecaster,
                    unique_ids=ids,
                    health_demand={k: v for k, v in health.items() if k in set(ids)},
                )
                policies.append(planner.policies_)
        for warning in caught:
            _warn(f"logistics forecast: {warning.message}", collected)
        policy = pd.concat(policies, ignore_index=True)
        frame = items.merge(policy, on="unique_id", how="left")
        selection = forecaster.selection_.set_index("unique_id")
        frame["model"] = frame["unique_id"].map(selection["model"])
        frame["fallback"] = frame["unique_id"].map(selection.get("fallback", pd.Series(dtype=str)))
        frame["position"] = frame["on_hand"] + frame["on_order"]
        frame["lead_time_demand"] = (
            frame["mean_demand"] * frame["lead_periods"] + frame["health_demand"]
        )
        starts = _future_starts(data, forecasts["ds"], self.period)
        forecasts = forecasts.assign(period_start=forecasts["ds"].map(starts))
        plan = LogisticsPlan(data.planned_as_of, forecasts, frame, warnings=collected)
        self._report(plan, data)
        return plan

    # -- helpers -----------------------------------------------------------------------------------
    def _lead_days(self, item: pd.Series) -> float:
        days = item.get("lead_time_days")
        if days is None or pd.isna(days) or days < 0:
            return float(self.default_lead_time_days)
        return float(days)

    @staticmethod
    def _history(data: LogisticsData, items: pd.DataFrame) -> pd.DataFrame:
        """Demand per item; regular items start at their first demand, spare parts never do."""
        demand = data.demand
        if demand.empty:
            return demand
        first = demand[demand["y"] > 0].groupby("unique_id")["ds"].min()
        types = dict(zip(items["unique_id"], items["item_type"], strict=True))
        keep = [
            types.get(uid) == "spare_part" or ds >= first.get(uid, 0)
            for uid, ds in zip(demand["unique_id"], demand["ds"], strict=True)
        ]
        return demand[keep].reset_index(drop=True)

    def _report(self, plan: LogisticsPlan, data: LogisticsData) -> None:
        week = pd.Timestamp(data.as_of).strftime("%G-W%V")
        unknown = stock_unknown(data, week)
        if unknown is not None:
            plan.findings.append(unknown)
        for row in plan.policies.itertuples():
            # Unknown stock is neither short nor due: the stock_unknown finding says so once.
            if pd.isna(row.reorder_point) or pd.isna(row.on_hand):
                continue
            short_now = row.position < row.lead_time_demand - 1e-9
            reorder = row.position <= row.reorder_point and row.order_up_to > row.position
            if not (short_now or reorder):
                continue
            kind = STOCKOUT_RISK if short_now else REORDER_DUE
            subject = EntityRef("material", str(row.external_id), str(row.space) or None)
            numbers = {
                "on_hand": float(row.on_hand),
                "on_order": float(row.on_order),
                "lead_time_days": float(row.lead_time_days),
                "lead_time_demand": float(row.lead_time_demand),
                "health_demand": float(row.health_demand),
                "reorder_point": float(row.reorder_point),
                "order_up_to": float(row.order_up_to),
                "target_service": float(self.target),
            }
            finding = Finding(
                AGENT,
                kind,
                subject,
                severity="high" if short_now else "low",
                confidence=0.8 if short_now else 0.6,
                evidence=Evidence(
                    (),
                    numbers,
                    f"{row.name}: {row.position:g} on hand and on order against "
                    f"{row.lead_time_demand:.1f} expected over the {row.lead_time_days:g}-day "
                    f"lead time (reorder point {row.reorder_point:g}, order-up-to "
                    f"{row.order_up_to:g} for a {self.target:.0%} {self.service.replace('_', ' ')}"
                    f"; forecast model {row.model}).",
                ),
                dedup_key=week,
                created_at=data.planned_as_of,
                title=f"{row.name}: "
                + ("stock-out risk within the lead time" if short_now else "reorder point reached"),
            )
            plan.findings.append(finding)
            quantity = float(math.ceil(row.order_up_to - row.position - 1e-9))
            if row.item_type == "product" or quantity <= 0:
                continue
            due = data.as_of + timedelta(days=float(row.lead_time_days))
            plan.recommendations.append(
                Recommendation(
                    AGENT,
                    (finding.id,),
                    PURCHASE,
                    parameters={
                        "space": "agents",
                        "external_id": stable_id("po", str(row.external_id), week),
                        "material": str(row.external_id),
                        "quantity": quantity,
                        "due_at": due.isoformat(),
                    },
                    expected_effect={
                        "position_after": float(row.position + quantity),
                        "order_up_to": float(row.order_up_to),
                        "target_service": float(self.target),
                    },
                    requires_approval=True,
                    title=f"Order {quantity:g} x {row.name}",
                    dedup_key=week,
                )
            )

    def _rul_root(self, finding: Finding, context: AgentContext) -> Finding | None:
        if finding.kind == RUL_LOW:
            return finding
        current = finding.caused_by
        seen: set[str] = set()
        while current and current not in seen:
            seen.add(current)
            try:
                parent = context.records.finding(current)
            except RecordNotFoundError:
                return None
            if parent.kind == RUL_LOW:
                return parent
            current = parent.caused_by
        return None

    def warned_machines(
        self,
        store: Store,
        records: AgentRecords,
        as_of: datetime | None = None,
        data: LogisticsData | None = None,
    ) -> list[MachineRisk]:
        """The machines open ``maintenance.rul_low`` findings warn about, with their risk.

        What :meth:`plan` adds to its ``risks`` when given the records, as the agent's runs do.
        """
        try:
            open_findings = records.findings(kind=RUL_LOW, status="open", limit=None)
        except Exception:  # records not migrated: no warnings yet
            return []
        if not open_findings:
            return []
        if data is None:
            data = load_logistics(
                store, as_of=as_of, period=self.period, material_space=self.material_space
            )
        risks = []
        for finding in open_findings:
            machine = data.machine_of(_identifiers(finding))
            if machine is not None:
                risks.append(risk_from_finding(finding, machine))
        return risks


def stock_unknown(data: LogisticsData, dedup_key: str = "") -> Finding | None:
    """One ``logistics.stock_unknown`` finding listing every item that no stock count covers.

    Consignment stock kept by the vendor and non-stock materials received to a cost centre are
    never counted; reading them as zero on hand would raise a false stock-out for each. They are
    reported once, as a data-quality finding, with how much of each is used per period.
    """
    unknown = data.stock_unknown
    if unknown.empty:
        return None
    used = (
        data.demand.groupby("unique_id")["y"].mean() if len(data.demand) else pd.Series(dtype=float)
    )
    listed = [
        f"{row.name or row.unique_id} ({row.external_id}"
        + (f", {used[row.unique_id]:.3g} used per period" if used.get(row.unique_id, 0) else "")
        + ")"
        for row in unknown.itertuples()
    ]
    return Finding(
        AGENT,
        STOCK_UNKNOWN,
        EntityRef("agent", AGENT),
        severity="low",
        confidence=1.0,
        evidence=Evidence(
            tuple(
                EntityRef("material", str(row.external_id), str(row.space) or None)
                for row in unknown.itertuples()
            ),
            {"items": float(len(unknown))},
            f"{len(unknown)} item(s) have no stock count in any source, so their stock is "
            f"unknown (not zero) and no stock-out is judged for them: {'; '.join(listed)}. "
            "Load a stock count (consignment stock, non-stock materials) to plan them.",
        ),
        dedup_key=dedup_key,
        created_at=data.planned_as_of,
        title=f"Stock unknown for {len(unknown)} item(s)",
    )


def _period_hours(period: str) -> float:
    """Mean length of one demand period in hours (a year of periods, for months too)."""
    offset = pd.tseries.frequencies.to_offset(period)
    start = offset.rollback(pd.Timestamp("2024-01-01"))
    count = 52 if start + offset * 52 - start <= pd.Timedelta(days=366) else 12
    return (start + offset * count - start) / pd.Timedelta(hours=1) / count


def _future_starts(data: LogisticsData, ds: pd.Series, period: str) -> dict[Any, pd.Timestamp]:
    offset = pd.tseries.frequencies.to_offset(period)
    last = data.period_starts[-1] if len(data.period_starts) else pd.Timestamp(data.as_of)
    return {
        value: last + offset * (int(value) - len(data.period_starts) + 1) for value in pd.unique(ds)
    }


__all__ = [
    "AGENT",
    "LogisticsAgent",
    "LogisticsPlan",
    "MachineRisk",
    "SpareCheck",
    "check_spare_part",
    "health_demand",
    "risk_from_finding",
    "stock_unknown",
]
