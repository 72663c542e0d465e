"""The quality agent: SPC on every characteristic, root cause of defects, field containment.

A run (:meth:`QualityAgent.run`, or :meth:`QualityAgent.review` from Python):

1. charts every characteristic (:func:`~._data.load_characteristics`: quality results and
   process parameters, per product and per machine where the data names them) with
   :class:`~factorybrain.engines.spc.ProcessMonitor`: limits from a baseline (the first
   ``baseline_share`` of its points), then the Nelson rules, EWMA and CUSUM on the rest. A
   characteristic whose signals are more than chance (more than the in-control signal rate of
   the rules predicts, Poisson test at ``alpha``) is a ``quality.drift`` naming the rules, the
   points (ids and times of the latest signals), the characteristic, the machine, and its Cpk
   with interval where specification limits exist;
2. learns defects from genealogy (:func:`~._causes.find_causes`: LightGBM on lots, machines,
   machine health, time of day and process parameters, TreeSHAP per feature) and reports each
   suspect that explains defects as ``quality.root_cause`` with its effect size (of lots built
   into the same units, the one whose incoming inspection stood out, else the one a stored
   ``service.failure_cluster`` names);
3. reports what kept it from judging (too few points, no specification limits, no verdicts) as
   ``quality.data_gap``.

It reacts to ``service.failure_cluster`` (the ``field_failure`` playbook): the same root-cause
model, learning which shipped units were claimed, says what in production explains the cluster
(``quality.root_cause`` on the cluster's lot or machine), and one proposal for the quality
engineer bundles the containment: quarantine the lot's remaining stock, inspect the machine,
the recall scope the service agent drew, and a corrective action of the supplier (or a recipe
change for a process cause).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from factorybrain.agents.core._agent import AgentContext, BaseAgent
from factorybrain.agents.core._contract import (
    COMPOSITE,
    EntityRef,
    Evidence,
    Finding,
    Recommendation,
    Step,
    data_gap,
    moved_too,
    stable_id,
)
from factorybrain.agents.core._records import AgentRecords
from factorybrain.agents.quality._causes import Cause, check_defects, find_causes
from factorybrain.agents.quality._data import (
    Genealogy,
    Inspection,
    incoming_inspections,
    load_characteristics,
    load_genealogy,
)
from factorybrain.agents.quality._executors import QUARANTINE, RECIPE_CHANGE, SUPPLIER_ACTION
from factorybrain.engines.spc import (
    NELSON,
    RULE_NAMES,
    ProcessMonitor,
    capability,
    nelson_rules,
)
from factorybrain.exceptions import EngineError, ParameterError
from factorybrain.store import Store

#: The tables the genealogy of units is read from (see ``load_genealogy``): a model learned from
#: them holds until one of them is written.
GENEALOGY_TABLES = (
    "annotation",
    "datapoint",
    "edge",
    "event",
    "maintenance_order",
    "material_lot",
    "operation",
    "operation_parameter",
    "quality_result",
    "recipe",
    "serial_unit",
    "warranty_claim",
    "work_order",
)

AGENT = "quality"
DRIFT = "quality.drift"
ROOT_CAUSE = "quality.root_cause"
DATA_GAP = "quality.data_gap"
FAILURE_CLUSTER = "service.failure_cluster"
INSPECT_SERIALS = "serial_unit.inspect"
INSPECT_MACHINE = "maintenance_order.create"


@lru_cache(maxsize=16)
def in_control_onsets(rules: tuple[int, ...], run_length: int) -> float:
    """Signal onsets per point of the rules on an in-control normal series (simulated once).

    An onset is a signal whose previous point did not signal the same rule: a run that goes on
    is one event, not one per point. What the drift test compares the observed onsets with.
    """
    rng = np.random.default_rng(20240601)
    values = rng.standard_normal(40_000)
    found = nelson_rules(values, 0.0, 1.0, rules=rules, run_length=run_length)
    return sum(_onsets(v.indices) for v in found) / values.size


def _onsets(indices: Iterable[int]) -> int:
    positions = np.asarray(sorted(indices))
    if positions.size == 0:
        return 0
    return int(1 + np.sum(np.diff(positions) > 1))


class QualityDataWarning(UserWarning):
    """Data that could not serve the quality agent (said once more as a ``quality.data_gap``)."""


@dataclass
class Chart:
    """One characteristic as charted.

    Attributes:
        key: ``(source, characteristic, product, machine)``.
        points: Its points in time order (``point``, ``space``, ``at``, ``value``).
        center, sigma: Baseline center and within sigma.
        baseline: Points in the baseline.
        signals: Positions (in ``points``) of each test's signals: ``nelson_<n>``, ``ewma``,
            ``cusum``, ``moving_range``.
        expected_signals, observed_signals, p_value: The drift test (signal onsets of the
            Nelson rules against those of an in-control series, Poisson).
        capability: Cp/Cpk/Pp/Ppk (None without specification limits).
    """

    key: tuple[str, str, str | None, str | None]
    points: pd.DataFrame
    center: float
    sigma: float
    baseline: int
    signals: dict[str, tuple[int, ...]]
    expected_signals: float
    observed_signals: int
    p_value: float
    capability: dict[str, Any] | None = None


@dataclass
class QualityReview:
    """What one review found.

    Attributes:
        as_of: The moment reviewed.
        charts: Every characteristic charted.
        causes: Suspects that explain defects in production.
        findings: Every finding.
        recommendations: Proposals.
        notes: Every gap, one sentence each.
    """

    as_of: datetime | None
    charts: list[Chart] = field(default_factory=list)
    causes: list[Cause] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    recommendations: list[Recommendation] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def items(self) -> list[Finding | Recommendation]:
        """Findings then recommendations, as the orchestrator takes them."""
        return [*self.findings, *self.recommendations]


def _label(key: tuple[str, str, str | None, str | None]) -> str:
    _, characteristic, product, machine = key
    parts = [characteristic]
    if product:
        parts.append(f"of {product}")
    if machine:
        parts.append(f"on {machine}")
    return " ".join(parts)


class QualityAgent(BaseAgent):
    """SPC on quality results and process parameters, root cause of defects, field containment.

    Args:
        min_points: Points a characteristic needs to be charted.
        baseline_share: Share of a characteristic's first points that set its limits.
        rules: Nelson rules applied.
        run_length: Rule 2's run (9 Nelson, 8 Western Electric).
        alpha: A characteristic drifts when its signals are this unlikely in control.
        points_named: Latest signal points a drift finding names.
        confidence: Confidence of the capability intervals.
        min_defects: Defective units a root-cause model needs.
        fdr: False discovery rate across the root-cause suspects.
        min_rate_ratio: Least defect rate ratio of a reported root cause.
        max_causes: Root causes reported at most per analysis.
        max_units: Good units, and defective ones, sampled at most for the root-cause model.
        inspection_hours: Length of a proposed machine inspection.
        order_space: Space of the maintenance orders proposed.
    """

    name = AGENT
    subscriptions = (FAILURE_CLUSTER,)
    schedule = timedelta(days=1)
    watches = ("quality_result", "operation_parameter")

    def __init__(
        self,
        *,
        min_points: int = 20,
        baseline_share: float = 0.3,
        rules: Iterable[int] = NELSON,
        run_length: int = 9,
        alpha: float = 0.001,
        points_named: int = 20,
        confidence: float = 0.95,
        min_defects: int = 5,
        fdr: float = 0.05,
        min_rate_ratio: float = 1.5,
        max_causes: int = 5,
        max_units: int = 60_000,
        inspection_hours: float = 4.0,
        order_space: str = "agents",
    ) -> None:
        self.min_points = min_points
        self._claims_learned: tuple[tuple[int, int | None], tuple[list[Cause], str]] | None = None
        self.baseline_share = baseline_share
        self.rules = tuple(rules)
        self.run_length = run_length
        self.alpha = alpha
        self.points_named = points_named
        self.confidence = confidence
        self.min_defects = min_defects
        self.fdr = fdr
        self.min_rate_ratio = min_rate_ratio
        self.max_causes = max_causes
        self.max_units = max_units
        self.inspection_hours = inspection_hours
        self.order_space = order_space
        if not 0.0 < baseline_share < 1.0:
            raise ParameterError(f"baseline_share must be in (0, 1); got {baseline_share}")
        if min_points < 3:
            raise ParameterError(f"min_points must be at least 3; got {min_points}")

    # -- the agent protocol ------------------------------------------------------------------
    def run(self, context: AgentContext) -> Iterable[Finding | Recommendation]:
        """Chart every characteristic and look for root causes of defects now."""
        return self.review(context.store, as_of=context.now()).items()

    def react(self, finding: Finding, context: AgentContext) -> Iterable[Finding | Recommendation]:
        """A field failure cluster: its cause in production and one containment proposal."""
        if finding.kind != FAILURE_CLUSTER:
            return []
        return self.contain(finding, context)

    # -- SPC -----------------------------------------------------------------------------------
    def review(self, store: Store, *, as_of: datetime | None = None) -> QualityReview:
        """Chart every characteristic and learn the root causes of defects.

        Args:
            store: The factory store.
            as_of: Only data up to this moment (None: all).
        """
        review = QualityReview(as_of)
        points = load_characteristics(store).points
        if as_of is not None and len(points):
            points = points[points["at"].isna() | (points["at"] <= pd.Timestamp(as_of))]
        if points.empty:
            self._gap(review, "the store holds no quality result and no process parameter "
                      "value: there is nothing to chart", "no_characteristics")  # fmt: skip
        else:
            if review.as_of is None:
                latest = points["at"].max()
                review.as_of = None if pd.isna(latest) else latest.to_pydatetime()
            self._chart_all(review, points)
        del points  # the charts keep what they show; a fleet's points need not outlive them
        self._causes(
            review,
            load_genealogy(store, max_units=self.max_units),
            incoming_inspections(store),
            _field_lots(store),
        )
        return review

    def _chart_all(self, review: QualityReview, points: pd.DataFrame) -> None:
        keys = ["source", "characteristic", "product", "machine"]
        no_spec: dict[str, int] = {}
        # a missing product or machine is a key of its own (NaN, named None below)
        for key, group in points.groupby(keys, dropna=False, sort=True):
            source, characteristic, product, machine = (
                None if isinstance(v, float) and math.isnan(v) else v for v in key
            )
            chart_key = (str(source), str(characteristic), product, machine)
            group = group.sort_values(["at", "point"], na_position="first").reset_index(drop=True)
            label = _label(chart_key)
            if len(group) < self.min_points:
                self._gap(
                    review,
                    f"{label} has {len(group)} points: a control chart needs at least "
                    f"{self.min_points}",
                    f"too_few_points:{source}:{label}",
                    subject=self._subject(chart_key),
                )
                continue
            chart = self._chart(chart_key, group)
            if chart is None:
                self._gap(
                    review,
                    f"{label} does not vary between consecutive points (all "
                    f"{group['value'].iloc[0]:g}): no sigma to chart against",
                    f"no_variation:{source}:{label}",
                    subject=self._subject(chart_key),
                )
                continue
            review.charts.append(chart)
            if chart.capability is None:
                no_spec[str(characteristic)] = no_spec.get(str(characteristic), 0) + 1
            if chart.p_value < self.alpha:
                self._report_drift(review, chart)
        for characteristic, count in sorted(no_spec.items()):
            self._gap(
                review,
                f"{characteristic} has no specification limits (spec_min/spec_max on its "
                f"results, or min/max in a recipe) on {count} chart(s): its control limits are "
                "judged, but Cp, Cpk and Ppk cannot be computed",
                f"no_spec:{characteristic}",
            )

    def _chart(
        self, key: tuple[str, str, str | None, str | None], group: pd.DataFrame
    ) -> Chart | None:
        values = group["value"].to_numpy(dtype=float)
        baseline = max(self.min_points, int(round(self.baseline_share * values.size)))
        baseline = min(baseline, values.size)
        try:
            monitor = ProcessMonitor(rules=self.rules, run_length=self.run_length).fit(
                values[:baseline]
            )
        except EngineError:
            return None
        # Phase II on the points after the baseline; a short series is judged whole
        start = baseline if values.size - baseline >= self.min_points else 0
        check = monitor.check(values[start:])
        signals = {
            name: tuple(int(i) + start for i in positions)
            for name, positions in check.signals().items()
        }
        judged = values.size - start
        expected = judged * in_control_onsets(self.rules, self.run_length)
        observed = sum(_onsets(v) for k, v in signals.items() if k.startswith("nelson_"))
        p_value = float(stats.poisson.sf(observed - 1, expected)) if observed else 1.0
        low = group["spec_min"].dropna()
        high = group["spec_max"].dropna()
        capability_figures = None
        if len(low) or len(high):
            try:
                capability_figures = capability(
                    values,
                    float(low.median()) if len(low) else None,
                    float(high.median()) if len(high) else None,
                    sigma_within=monitor.sigma_,
                    confidence=self.confidence,
                ).dump()
            except (EngineError, ParameterError):
                capability_figures = None
        return Chart(
            key,
            group[["point", "space", "at", "value"]],
            monitor.center_,
            monitor.sigma_,
            baseline,
            signals,
            expected,
            observed,
            p_value,
            capability_figures,
        )

    @staticmethod
    def _subject(key: tuple[str, str, str | None, str | None]) -> EntityRef:
        source, characteristic, product, machine = key
        if machine:
            return EntityRef("asset", str(machine))
        if product:
            return EntityRef("product", str(product))
        return EntityRef("characteristic", f"{source}:{characteristic}")

    def _report_drift(self, review: QualityReview, chart: Chart) -> None:
        source, characteristic, product, machine = chart.key
        label = _label(chart.key)
        rules = sorted(
            (int(name.split("_")[1]), positions)
            for name, positions in chart.signals.items()
            if name.startswith("nelson_")
        )
        latest = sorted({p for _, positions in rules for p in positions})[-self.points_named :]
        entity = "quality_result" if source == "quality_result" else "operation"
        points = chart.points
        refs = [self._subject(chart.key)] + [
            EntityRef(entity, str(points["point"].iloc[p]), str(points["space"].iloc[p]))
            for p in latest
        ]
        numbers: dict[str, float] = {
            "points": float(len(points)),
            "baseline_points": float(chart.baseline),
            "center": chart.center,
            "sigma": chart.sigma,
            "signals": float(chart.observed_signals),
            "expected_signals": chart.expected_signals,
            "p_value": chart.p_value,
        }
        for rule, positions in rules:
            numbers[f"nelson_{rule}_signals"] = float(len(positions))
        for extra in ("ewma", "cusum", "moving_range"):
            if extra in chart.signals:
                numbers[f"{extra}_signals"] = float(len(chart.signals[extra]))
        if chart.capability is not None:
            for name in ("cpk", "cpk_low", "cpk_high", "ppk", "cp"):
                value = chart.capability.get(name)
                if value is not None:
                    numbers[name] = float(value)
        times = points["at"].iloc[latest]
        first = points["at"].iloc[min(p for _, ps in rules for p in ps)]
        described = "; ".join(
            f"rule {rule} ({RULE_NAMES[rule].format(run=self.run_length)}) at "
            f"{_onsets(positions)} time(s)"
            for rule, positions in rules
        )
        last_at = times.iloc[-1] if len(times) else None
        text = (
            f"{label} is out of statistical control: {described}; {chart.observed_signals} "
            f"signals where {chart.expected_signals:.1f} are expected in control "
            f"(p={chart.p_value:.1g}), first at {_when(first)}, latest at {_when(last_at)}"
        )
        if "ewma" in chart.signals or "cusum" in chart.signals:
            agreeing = [k.upper() for k in ("ewma", "cusum") if k in chart.signals]
            text += f"; {' and '.join(agreeing)} agree"
        if chart.capability is not None:
            cap = chart.capability
            text += (
                f"; Cpk {cap['cpk']:.2f} ({cap['cpk_low']:.2f}-{cap['cpk_high']:.2f}, "
                f"{self.confidence:.0%})"
            )
        severity = "medium"
        if chart.capability is not None and chart.capability["cpk"] < 1.0:
            severity = "high"
        review.findings.append(
            Finding(
                AGENT,
                DRIFT,
                self._subject(chart.key),
                severity=severity,
                confidence=float(min(1.0, max(0.0, 1.0 - chart.p_value))),
                evidence=Evidence(tuple(refs), numbers, text + "."),
                dedup_key=f"{source}:{characteristic}:{product or ''}:{machine or ''}",
                created_at=review.as_of,
                title=f"{characteristic} drifts" + (f" on {machine}" if machine else ""),
            )
        )

    # -- root cause ------------------------------------------------------------------------------
    def _claim_causes(self, store: Store) -> tuple[list[Cause], str]:
        """The suspects of the field claims, learned once per state of the plant's data.

        Every cluster of one review is traced through the same model of which units were
        claimed; it is learned again only when a table it reads was written since.
        """
        generation = store.generation_of(GENEALOGY_TABLES)
        key = (id(store), generation)
        if generation is not None and self._claims_learned is not None:
            learned_key, learned = self._claims_learned
            if learned_key == key:
                return learned
        genealogy = load_genealogy(store, outcome="claim", max_units=self.max_units)
        learned = self.analyse(genealogy, incoming_inspections(store))
        self._claims_learned = (key, learned)
        return learned

    def analyse(
        self,
        genealogy: Genealogy,
        inspections: Mapping[str, Inspection] | None = None,
        field: Mapping[str, str] | None = None,
    ) -> tuple[list[Cause], str]:
        """The suspects that explain the defects of a unit table, or why there are none.

        Lots built into the same units cannot be told apart by their defects; among them, the
        one whose incoming inspection stood out most (``inspections``, by lot) is named, else
        the one a field failure cluster names (``field``: lot -> the cluster's title; the
        service agent tells such lots apart by the claims' failure mode), the others listed as
        explaining the same units.
        """
        why = check_defects(genealogy, min_defects=self.min_defects)
        if why:
            return [], why
        try:
            causes, _ = find_causes(
                genealogy,
                fdr=self.fdr,
                min_rate_ratio=self.min_rate_ratio,
                max_units=self.max_units,
            )
        except EngineError as error:
            return [], str(error)
        return [
            _named_in_field(_inspected_first(cause, inspections or {}), field or {})
            for cause in causes
        ], ""

    def _causes(
        self,
        review: QualityReview,
        genealogy: Genealogy,
        inspections: Mapping[str, Inspection],
        field: Mapping[str, str],
    ) -> None:
        causes, why = self.analyse(genealogy, inspections, field)
        if why:
            self._gap(review, f"the root cause of defects cannot be learned: {why}", "no_causes")
            return
        review.causes = causes[: self.max_causes]
        for cause in review.causes:
            review.findings.append(self._cause_finding(cause, "defects", review.as_of))

    def _cause_finding(
        self,
        cause: Cause,
        what: str,
        at: datetime | None,
        *,
        extra_refs: tuple[EntityRef, ...] = (),
        extra_numbers: dict[str, float] | None = None,
        extra_text: str = "",
        key: str = "",
        caused_by_cluster: bool = False,
    ) -> Finding:
        subject = EntityRef(cause.entity_type, cause.external_id, cause.space)
        text = (
            f"{cause.label}" + (f" ({cause.detail})" if cause.detail else "") + f": {what} "
            f"{cause.rate:.1%} of {cause.units} units vs {cause.baseline_rate:.1%} of the rest, "
            f"{cause.rate_ratio:.1f} times ({cause.rate_ratio_low:.1f}-"
            f"{cause.rate_ratio_high:.1f}, q={cause.q_value:.1g}); the model attributes "
            f"{cause.contribution:+.2f} log-odds to it on its units (TreeSHAP), "
            f"{cause.excess_defects:.0f} excess {what}"
        )
        if cause.aliases:
            text += f"; it explains the same units as {', '.join(cause.aliases[:3])}"
        if cause.chosen_because:
            text += f", and is named among them because {cause.chosen_because}"
        text += extra_text + "."
        severity = "high" if cause.rate_ratio_low >= 2 else "medium"
        numbers = {**cause.numbers(), **(extra_numbers or {})}
        return Finding(
            AGENT,
            ROOT_CAUSE,
            subject,
            severity=severity,
            confidence=float(min(1.0, max(0.0, 1.0 - cause.q_value))),
            evidence=Evidence((subject, *extra_refs), numbers, text),
            dedup_key=key or f"{what}:{cause.kind}:{cause.external_id}:{cause.detail}",
            created_at=at,
            title=f"Root cause of {what}: {cause.label}",
        )

    # -- reacting to a field cluster -------------------------------------------------------------
    def contain(self, cluster: Finding, context: AgentContext) -> list[Finding | Recommendation]:
        """Trace a service cluster into production and propose one containment.

        Returns:
            A ``quality.root_cause`` finding on the cluster's lot or machine and one proposal
            (see the module): a composite of the containment steps, or, inside a playbook that
            bundles, the steps themselves (the playbook makes them one action with the service
            agent's inspection).
        """
        store = context.store
        at = context.now()
        subject = cluster.subject
        causes, why = self._claim_causes(store)
        named = _matching(causes, subject)
        lot = _lot_of(store, subject)
        machine = subject.external_id if subject.type == "asset" else None
        if machine is None and subject.type != "parameter":
            # a process parameter's cluster is contained by its window, not by inspecting
            # whichever machine the model suspects for other claims
            machine = next((c.external_id for c in causes if c.kind in ("machine", "health")), None)
        numbers = {f"field_{k}": float(v) for k, v in cluster.evidence.numbers.items()
                   if k in ("claims", "rate_ratio", "rate_ratio_low", "scope_serials")}  # fmt: skip
        if named is not None:
            finding = self._cause_finding(
                named, "claimed", at,
                extra_refs=(EntityRef("finding", cluster.id),),
                extra_numbers=numbers,
                extra_text=f"; traced from the field cluster {cluster.dedup_key or subject}",
                key=f"cluster:{cluster.id}",
            )  # fmt: skip
        else:
            reason = why or "no genealogy suspect of the claimed units passes the tests"
            finding = Finding(
                AGENT,
                ROOT_CAUSE,
                subject,
                severity=cluster.severity,
                confidence=cluster.confidence * 0.8,
                evidence=Evidence(
                    (subject, EntityRef("finding", cluster.id)),
                    numbers,
                    f"The service agent's cluster {cluster.dedup_key or subject} is taken as the "
                    f"root cause: the production model could not confirm or refine it ({reason}).",
                ),
                dedup_key=f"cluster:{cluster.id}",
                created_at=at,
                title=f"Root cause of field failures: {subject.external_id}",
            )
        steps = self._containment_steps(context, cluster, finding, lot, machine, causes, at)
        if not steps:
            return [finding]
        bundled = context.playbook is not None and context.playbook.bundle
        if bundled:
            return [finding, *(
                Recommendation(AGENT, (cluster.id, finding.id), s.action_type, s.parameters,
                               s.expected_effect, True, title=_step_title(s),
                               dedup_key=_step_key(cluster.id, s, machine))
                for s in steps if s.action_type != INSPECT_SERIALS
            )]  # fmt: skip
        if len(steps) == 1:
            (step,) = steps
            return [finding, Recommendation(AGENT, (cluster.id, finding.id), step.action_type,
                                            step.parameters, step.expected_effect, True,
                                            title=_step_title(step))]  # fmt: skip
        return [
            finding,
            Recommendation(
                AGENT,
                (cluster.id, finding.id),
                COMPOSITE,
                parameters={"cluster": cluster.id, "root_cause": finding.id},
                expected_effect={
                    "steps": len(steps),
                    **{s.action_type: dict(s.expected_effect) for s in steps},
                },  # fmt: skip
                requires_approval=True,
                steps=tuple(steps),
                title=f"Contain field failures of {subject.external_id}: "
                + ", ".join(_step_title(s) for s in steps),
                dedup_key=f"containment:{cluster.id}",
            ),
        ]

    def _containment_steps(
        self,
        context: AgentContext,
        cluster: Finding,
        finding: Finding,
        lot: dict[str, Any] | None,
        machine: str | None,
        causes: list[Cause],
        at: datetime,
    ) -> list[Step]:
        steps: list[Step] = []
        key = cluster.dedup_key or cluster.subject.external_id
        reason = f"{cluster.title} ({key})" if cluster.title else f"field failure cluster {key}"
        if lot is not None:
            steps.append(
                Step(
                    QUARANTINE,
                    {
                        "lots": [
                            {
                                "space": lot["space"],
                                "external_id": lot["external_id"],
                                "expect": {"status": lot["status"]},
                            }
                        ],  # fmt: skip
                        "reason": reason,
                    },
                    {"remaining_quantity": lot["remaining"], "lots": 1},
                    AGENT,
                )
            )
        machines = [machine] if machine is not None else []
        machines += moved_too(cluster.evidence.numbers)  # others that wore too
        for asset in dict.fromkeys(machines):
            start = at + timedelta(hours=1)
            also = "" if asset == machine else ", which wore too while it made these units"
            steps.append(
                Step(
                    INSPECT_MACHINE,
                    {
                        "space": self.order_space,
                        "external_id": stable_id("mo", AGENT, cluster.id, asset),
                        "asset": asset,
                        "order_type": "inspection",
                        "priority": 2,
                        "planned_start": start.isoformat(),
                        "planned_end": (start + timedelta(hours=self.inspection_hours)).isoformat(),
                        "notes": f"Inspect {asset}{also}: {reason}",
                    },
                    {"inspection_hours": self.inspection_hours},
                    AGENT,
                )
            )
        scope = _service_scope(context, cluster)
        if scope is not None:
            steps.append(scope)
        if lot is not None and lot.get("supplier"):
            steps.append(
                Step(
                    SUPPLIER_ACTION,
                    {
                        "supplier": lot["supplier"],
                        "supplier_lot": lot.get("supplier_lot"),
                        "lots": [lot["external_id"]],
                        "material": lot.get("material"),
                        "reason": reason + ": corrective action (8D) or a change of supplier",
                    },
                    {"lots": 1},
                    AGENT,
                )
            )
        parameter = next((c for c in causes if c.kind == "parameter"), None)
        subject = cluster.subject
        if subject.type == "parameter":
            # the field names a process parameter by where its units fail, per product: that
            # window, not the model's range pooled over every product
            side = (cluster.dedup_key or "").rsplit(":", 1)[-1]
            steps.append(
                Step(
                    RECIPE_CHANGE,
                    {
                        "parameter": subject.external_id,
                        "avoid": f"{subject.external_id} "
                        + ("below" if side == "low" else "above" if side == "high" else "outside")
                        + " its product's usual range, where units fail in the field",
                        "reason": reason,
                    },
                    {"rate_ratio": float(cluster.evidence.numbers.get("rate_ratio", 0.0))},
                    AGENT,
                )
            )
        elif parameter is not None and (lot is None or subject.type == "work_order"):
            steps.append(
                Step(
                    RECIPE_CHANGE,
                    {
                        "parameter": parameter.external_id,
                        "avoid": parameter.detail,
                        "reason": reason,
                    },  # fmt: skip
                    {"rate_ratio": parameter.rate_ratio},
                    AGENT,
                )
            )
        return steps

    # -- gaps ----------------------------------------------------------------------------------
    def _gap(
        self,
        review: QualityReview,
        message: str,
        key: str,
        *,
        subject: EntityRef | None = None,
    ) -> None:
        review.notes.append(message)
        warnings.warn(f"quality: {message}", QualityDataWarning, stacklevel=3)
        review.findings.append(
            data_gap(
                AGENT,
                message + ".",
                key,
                review.as_of,
                subject=subject,
                title="Quality agent: data gap",
            )
        )


def _when(moment: Any) -> str:
    if moment is None or pd.isna(moment):
        return "an unknown time"
    return pd.Timestamp(moment).isoformat(sep=" ", timespec="minutes")


def _step_key(cluster: str, step: Step, machine: str | None) -> str:
    """A bundled step's dedup key: per action type, and per machine for a second inspection."""
    asset = step.parameters.get("asset") if step.action_type == INSPECT_MACHINE else None
    return f"{cluster}:{step.action_type}" + (f":{asset}" if asset and asset != machine else "")


def _step_title(step: Step) -> str:
    parameters = step.parameters
    if step.action_type == QUARANTINE:
        return "quarantine " + ", ".join(lot["external_id"] for lot in parameters["lots"])
    if step.action_type == INSPECT_MACHINE:
        return f"inspect {parameters['asset']}"
    if step.action_type == INSPECT_SERIALS:
        return f"inspect {len(parameters.get('serials') or [])} serials in the field"
    if step.action_type == SUPPLIER_ACTION:
        return f"corrective action of supplier {parameters['supplier']}"
    if step.action_type == RECIPE_CHANGE:
        return f"change the recipe ({parameters['parameter']})"
    return step.action_type


def _matching(causes: list[Cause], subject: EntityRef) -> Cause | None:
    """The suspect that is the cluster's subject, or explains the same units as it.

    In the second case the cluster's subject is named (the service agent chose it among what
    explains the same units, with evidence the model has not), with its own figures and the
    suspect it shared its units with listed beside it. The causes are not changed: the same
    learned causes serve every cluster.
    """
    for cause in causes:
        if cause.external_id == subject.external_id:
            return cause
        for alias in cause.alias_causes:
            if alias.external_id == subject.external_id:
                return cause.in_favour_of(alias, "the field cluster names it")
    return None


def _inspected_first(cause: Cause, inspections: Mapping[str, Inspection]) -> Cause:
    """Of lots that explain the same units, the one whose incoming inspection stood out most.

    The suspect the defects named stays when its own inspection stood out, or no other's did.
    """
    if cause.kind != "lot" or cause.external_id in inspections:
        return cause
    inspected = [a for a in cause.alias_causes if a.kind == "lot" and a.external_id in inspections]
    if not inspected:
        return cause
    best = max(inspected, key=lambda a: inspections[a.external_id].strength)
    return cause.in_favour_of(best, inspections[best.external_id].text)


def _named_in_field(cause: Cause, field: Mapping[str, str]) -> Cause:
    """Of lots that explain the same units, the one a field failure cluster names.

    A lot chosen by its incoming inspection, or named by the field itself, stays.
    """
    if cause.kind != "lot" or cause.chosen_because or cause.external_id in field:
        return cause
    named = [a for a in cause.alias_causes if a.kind == "lot" and a.external_id in field]
    if not named:
        return cause
    return cause.in_favour_of(
        named[0], f"the field's claims name it ({field[named[0].external_id]})"
    )


def _field_lots(store: Store) -> dict[str, str]:
    """The lots the service agent's field failure clusters name: lot -> the cluster's title."""
    return {
        finding.subject.external_id: finding.title or finding.dedup_key
        for finding in AgentRecords(store).findings(kind=FAILURE_CLUSTER, limit=None)
        if finding.subject.type in ("material_lot", "supplier_lot")
    }


def _lot_of(store: Store, subject: EntityRef) -> dict[str, Any] | None:
    """The material lot a cluster names (directly or through its supplier lot), with its stock."""
    if subject.type == "material_lot":
        where, parameters = "m.external_id = ?", [subject.external_id]
    elif subject.type == "supplier_lot":
        where, parameters = "m.supplier_lot = ?", [subject.external_id]
    else:
        return None
    if subject.space:
        where += " AND m.space = ?"
        parameters.append(subject.space)
    frame = store.query(
        f"""
        SELECT m.space, m.external_id, m.status, m.quantity, m.material, m.supplier_lot,
               coalesce(s.supplier, b.target_external_id) AS supplier,
               (SELECT sum(e.quantity) FROM edge e WHERE e.edge_type = 'consumed_in'
                  AND e.source_external_id = m.external_id) AS consumed
        FROM material_lot m
        LEFT JOIN supplier_lot s ON s.space = m.space AND s.external_id = m.supplier_lot
        LEFT JOIN edge b ON b.edge_type = 'supplied_by' AND b.source_external_id = m.supplier_lot
        WHERE {where}
        ORDER BY m.external_id LIMIT 1
        """,
        parameters,
    )
    if frame.empty:
        return None
    row = {k: (None if v is None or (isinstance(v, float) and np.isnan(v)) else v)
           for k, v in frame.iloc[0].to_dict().items()}  # fmt: skip
    quantity = row.get("quantity")
    consumed = row.get("consumed") or 0.0
    row["remaining"] = None if quantity is None else max(float(quantity) - float(consumed), 0.0)
    row["status"] = None if row.get("status") is None else str(row["status"])
    return row


def _service_scope(context: AgentContext, cluster: Finding) -> Step | None:
    """The service agent's recall scope of the cluster, as a step (None: it drew none)."""
    for recommendation in context.records.recommendations(action_type=INSPECT_SERIALS, limit=None):
        if cluster.id in recommendation.finding_ids:
            return Step(
                INSPECT_SERIALS,
                dict(recommendation.parameters),
                dict(recommendation.expected_effect),
                recommendation.agent,
                recommendation.id,
            )
    return None


__all__ = [
    "AGENT",
    "DATA_GAP",
    "DRIFT",
    "ROOT_CAUSE",
    "Chart",
    "QualityAgent",
    "QualityDataWarning",
    "QualityReview",
]
