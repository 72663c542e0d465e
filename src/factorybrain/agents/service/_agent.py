"""The after-sales (service) agent: field failures traced to the cohorts that explain them.

A run (:meth:`ServiceAgent.run`, or :meth:`ServiceAgent.review` from Python):

1. reads serials, shipments, claims and genealogy (:func:`~._data.load_field`) and links every
   claim to its serial; reads each claim's failure mode from its text
   (:func:`~._modes.read_failure_modes`: an offline model trained on the plant's coded claims,
   else the shipped multilingual seed set);
2. screens every cohort of every genealogy attribute (component lot, supplier lot, supplier,
   machine and run of days, work order, line, build week, design revision, product, and the
   tails of each process parameter, per product: units pressed far below their product's
   usual force) for claims
   above its exposure (:class:`~factorybrain.engines.reliability.CohortScreen`: age-adjusted
   expected claims, exact rate-ratio test, one temporal scan statistic per machine over its runs
   of days, Benjamini-Hochberg across every cohort and machine, a rescan of the machines given
   the clusters found, and a conditional model that ranks the cohorts explaining the same units);
3. names each cluster with evidence the claims do not carry: cohorts whose separation is within
   ``tie_separation`` of the best (machines in series on one line see the same units a day apart;
   two lots consumed by the same orders are the same units) are near-tied. A machine whose own
   sensors moved far from its normal while it made the units (:mod:`._condition`: two or more
   signals, against its normal operating points) is the cause, among the near-tied and the windows
   that hold most of the claims (of several that moved, one whose process fails as the claims do: a
   lathe for vibration, not a stator winder; of several that fail alike, the one whose condition
   when each unit passed it tells the failing units apart, else the one that moved most); a window
   of a machine whose sensors stayed normal gives way to a near-tied cohort that is no window (the
   order, a lot); without sensors, a breakdown (corrective maintenance order or downtime event) of
   the machine in or just after its window, or a component whose name fits the claims' failure mode
   (a leak and a seal), corroborates; when nothing tells near-tied machines apart, the finding says
   so and names them all. A cohort selected after a cluster whose claims are mostly that cluster's,
   failing the same way (the orders a press-force deviation hit hardest), is where that cluster
   concentrates, not a cause of its own: it is listed in the cluster;
4. reports each cohort that explains claims as ``service.failure_cluster`` with the recall scope
   as a ``serial_unit.inspect`` recommendation (the serials built with it that are in the field
   and have not failed, with their customers and shipments), which an engineer approves;
5. fits field reliability with censoring (:class:`~factorybrain.engines.reliability.WeibullModel`)
   per product (``service.field_reliability``: B10 with its profile-likelihood interval and the
   claims expected over the next ``forecast_days``) and before/after each design revision
   (``service.design_effect``: the two B10s and their ratio, for the same ages in service);
6. reports what kept it from seeing (claims that name no serial, texts it could not read, no
   shipments) as ``service.data_gap``.

Example::

    from factorybrain.agents.service import ServiceAgent
    review = ServiceAgent().review(store)
    for finding in review.findings:
        print(finding.kind, finding.subject, finding.evidence.text)
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from factorybrain.agents.core._agent import AgentContext, BaseAgent
from factorybrain.agents.core._contract import (
    EntityRef,
    Evidence,
    Finding,
    Recommendation,
    data_gap,
    moved_too_key,
    stable_id,
)
from factorybrain.agents.service._cohorts import (
    DAY,
    Screened,
    describe_row,
    fleet_at,
    screen_fleet,
)
from factorybrain.agents.service._condition import (
    CONDITION_Z,
    ConditionReader,
    ConditionShift,
    strongest,
    tracking,
)
from factorybrain.agents.service._data import FieldData, load_field
from factorybrain.agents.service._executors import INSPECT
from factorybrain.agents.service._modes import ModeReading, read_failure_modes
from factorybrain.engines.reliability import WeibullModel, per_1000_unit_years
from factorybrain.engines.text import component_affinity, process_affinity
from factorybrain.exceptions import EngineError
from factorybrain.store import Store

AGENT = "service"
#: Days read on each side of a moved machine's window when asking whose condition tracked the
#: failures: units it made in its normal days around the worn ones are the contrast.
TRACK_PAD_DAYS = 3
#: The score (:func:`._condition.tracking`) a machine that moved less needs to be named instead
#: of the one that moved most, and by how much it must beat that one's.
TRACK_MIN, TRACK_MARGIN = 0.65, 0.15
#: Share of a window's claims a parameter cluster must hold, failing the same way, for the
#: window of a machine that stayed in its normal condition to be folded into it.
NORMAL_WINDOW_COVER = 0.5
FAILURE_CLUSTER = "service.failure_cluster"
FIELD_RELIABILITY = "service.field_reliability"
DESIGN_EFFECT = "service.design_effect"
DATA_GAP = "service.data_gap"
#: Claims named in a finding's evidence at most (the contract's limit).
MAX_CLAIM_REFS = 50


class ServiceDataWarning(UserWarning):
    """Data that could not serve the service agent (said once more as a ``service.data_gap``)."""


@dataclass
class Cluster:
    """A cohort that explains claims, as reported.

    Attributes:
        attribute: ``material_lot``, ``machine_window``, ...
        value: What follows the attribute in the dedup key.
        subject: The cohort's entity.
        label: For people.
        numbers: The evidence numbers.
        claims: Claim ids it explains (its members' first claims), in time order.
        members: Serials built with it that are in the field.
        scope: The recall scope: members in the field that have not failed, with customer and
            shipment (``serial``, ``serial_space``, ``customer``, ``customer_name``,
            ``shipment``, ``shipped_at``); a process parameter's also with each unit's
            ``deviation_sd`` (robust SD from its product's median), furthest out first.
        related: Entities explaining the same units (aliases, then alternatives by rank, then
            the work orders of its claims).
        text: One sentence.
        window: ``(start, end)`` of a machine window.
        tie_note: How a near-tie was broken, if one was.
        within: Cohorts selected after it that are where it concentrates (see
            :meth:`ServiceAgent._within`), as labels.
    """

    attribute: str
    value: str
    subject: EntityRef
    label: str
    numbers: dict[str, float]
    claims: list[str]
    members: pd.DataFrame
    scope: pd.DataFrame
    related: list[EntityRef]
    text: str = ""
    window: tuple[datetime, datetime] | None = None
    tie_note: str = ""
    within: list[str] = field(default_factory=list)

    @property
    def dedup_key(self) -> str:
        """``attribute:value``, as the contract with the quality agent says."""
        return f"{self.attribute}:{self.value}"


@dataclass
class ServiceReview:
    """What one review found.

    Attributes:
        as_of: The moment reviewed.
        clusters: The cohorts that explain claims.
        reliability: One row per fitted population (product, revision side, cluster).
        modes: Each claim's failure mode (see :class:`ModeReading`).
        findings: Every finding.
        recommendations: ``serial_unit.inspect`` proposals.
        notes: Every gap and fallback, one sentence each.
        screened: The screen itself (fleet, cohorts, tests), for inspection.
    """

    as_of: datetime | None
    clusters: list[Cluster] = field(default_factory=list)
    reliability: pd.DataFrame = field(default_factory=pd.DataFrame)
    modes: ModeReading | None = None
    findings: list[Finding] = field(default_factory=list)
    recommendations: list[Recommendation] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    screened: Screened | None = None

    def items(self) -> list[Finding | Recommendation]:
        """Findings then recommendations, as the orchestrator takes them."""
        return [*self.findings, *self.recommendations]


def _ref(entity_type: str, space: Any, external_id: Any) -> EntityRef:
    return EntityRef(entity_type, str(external_id), None if space is None else str(space))


class ServiceAgent(BaseAgent):
    """Field failures, their causes in the genealogy, field reliability and recall scopes.

    Args:
        fdr: False discovery rate across every cohort and machine screened.
        min_claims: Claims a cohort needs before it is flagged.
        min_rate_ratio: Age-adjusted rate ratio a flagged cohort must reach.
        max_window_days: Longest run of days of one machine screened as a window.
        max_clusters: Cohorts the screen selects at most; a review that reaches the limit
            says so (further clusters are not reported).
        tie_separation: Cohorts within this share of the best separation are near-tied and
            ordered by corroborating evidence.
        breakdown_grace_days: A machine's breakdown up to this long after its window ends
            corroborates the window (a degrading machine makes bad units before it fails).
        service_lag_days: Days from shipment to entering service (installation).
        reporting_lag_days: Claims arrive this long after the failure; reliability fits hold
            the last days back (None: the median delay of the claims with both dates).
        b_life: Share failed of the reported B-life (0.10: B10).
        confidence: Two-sided confidence of the B-life intervals and forecasts.
        forecast_days: Horizon of the claims forecast.
        min_failures: Failures a Weibull fit needs.
        visit_space: Space the planned inspection visits are written in.
    """

    name = AGENT
    subscriptions = ()
    schedule = timedelta(days=1)
    watches = ("warranty_claim", "shipment", "serial_unit")

    def __init__(
        self,
        *,
        fdr: float = 0.05,
        min_claims: int = 3,
        min_rate_ratio: float = 1.5,
        max_window_days: int = 7,
        max_clusters: int = 25,
        tie_separation: float = 0.75,
        breakdown_grace_days: float = 7.0,
        service_lag_days: float = 0.0,
        reporting_lag_days: float | None = None,
        b_life: float = 0.10,
        confidence: float = 0.90,
        forecast_days: float = 90.0,
        min_failures: int = 5,
        visit_space: str = "agents",
    ) -> None:
        self.fdr = fdr
        self.min_claims = min_claims
        self.min_rate_ratio = min_rate_ratio
        self.max_window_days = max_window_days
        self.max_clusters = max_clusters
        self.tie_separation = tie_separation
        self.breakdown_grace_days = breakdown_grace_days
        self.service_lag_days = service_lag_days
        self.reporting_lag_days = reporting_lag_days
        self.b_life = b_life
        self.confidence = confidence
        self.forecast_days = forecast_days
        self.min_failures = min_failures
        self.visit_space = visit_space

    # -- the agent protocol ----------------------------------------------------------------------
    def run(self, context: AgentContext) -> Iterable[Finding | Recommendation]:
        """Review the field now; return clusters, reliability, design effects and gaps."""
        return self.review(context.store, as_of=context.now()).items()

    # -- the work ----------------------------------------------------------------------------------
    def review(
        self, store: Store, *, as_of: datetime | None = None, data: FieldData | None = None
    ) -> ServiceReview:
        """Screen the field for claim clusters and fit its reliability.

        Args:
            store: The factory store.
            as_of: Review at this moment (default, and at most: the latest data).
            data: What :func:`load_field` read, to reuse it.
        """
        data = data if data is not None else load_field(store)
        moment = data.as_of if as_of is None or data.as_of is None else min(as_of, data.as_of)
        review = ServiceReview(moment)
        if moment is None or data.units["shipped_at"].notna().sum() == 0:
            self._gap(
                review,
                "no serial has been shipped (no shipped_in edge to a dated shipment): without "
                "units in the field there is no exposure to measure claims against",
                "no_shipments",
            )
            self._report_gaps(review, data)
            return review
        if data.claims.empty:
            self._gap(review, "the store holds no warranty claims: nothing to screen", "no_claims")
        reading = read_failure_modes(data.claims)
        review.modes = reading
        screened = self.screen(data, moment)
        review.screened = screened
        if screened is not None:
            for parameter, note in screened.cohorts.notes:
                self._gap(review, note, f"parameters:{parameter}")
            if len(screened.screen.selected_) >= self.max_clusters:
                self._gap(
                    review,
                    f"the cohort screen stopped at its limit of {self.max_clusters} clusters "
                    f"among {len(screened.fleet.units):,} units in the field and "
                    f"{int(screened.fleet.units['failed'].sum()):,} claims: further clusters, "
                    "if any, are not reported (a fleet of several sites wants a larger limit, "
                    "ServiceAgent(max_clusters=...))",
                    "cluster_limit",
                )
            review.clusters = self.clusters(data, screened, reading, store)
        review.reliability = self._reliability(data, moment, review)
        for cluster in review.clusters:
            self._report_cluster(review, cluster, moment)
        self._report_gaps(review, data)
        return review

    def screen(self, data: FieldData, as_of: datetime) -> Screened | None:
        """The cohort screen of the fleet at ``as_of`` (None when no unit is in the field)."""
        fleet = fleet_at(data, as_of, service_lag_days=self.service_lag_days)
        if fleet.units.empty:
            return None
        return screen_fleet(
            data,
            as_of,
            service_lag_days=self.service_lag_days,
            parameters={
                "fdr": self.fdr,
                "min_claims": self.min_claims,
                "min_rate_ratio": self.min_rate_ratio,
                "max_window": self.max_window_days,
                "max_selected": self.max_clusters,
            },
        )

    # -- clusters ----------------------------------------------------------------------------------
    def clusters(
        self,
        data: FieldData,
        screened: Screened,
        reading: ModeReading | None = None,
        store: Store | None = None,
    ) -> list[Cluster]:
        """Turn the screen's selections into clusters, near-ties broken by corroboration."""
        tests = screened.screen.tests_
        selected = screened.screen.selected_
        if selected.empty:
            return []
        modes = reading.modes.set_index("claim")["mode"].to_dict() if reading is not None else {}
        breakdowns = _breakdowns(store) if store is not None else pd.DataFrame()
        materials = _material_names(data)
        condition = ConditionReader(store) if store is not None else None
        if condition is not None and not breakdowns.empty:
            # a breakdown written against the machine's equipment corroborates the window of
            # its work centre or MES station: the same machine
            breakdowns["machine"] = [
                condition.machines.key(str(space), str(equipment))
                for space, equipment in zip(
                    breakdowns["equipment_space"], breakdowns["equipment"], strict=True
                )
            ]
        out: list[Cluster] = []
        taken: set[str] = set()
        tracker = _Tracker(screened, modes, condition) if condition is not None else None
        for _, row in selected.iterrows():
            candidates = [(int(row["label"]), float(row["separation"]))]
            candidates += [(int(label), float(sep)) for label, sep, _ in row["alternatives"]]
            described = {label: describe_row(screened, tests.loc[label]) for label, _ in candidates}
            if condition is not None:
                for description in described.values():
                    if description["attribute"] == "machine_window":
                        description["machine"] = condition.machines.key(*_record(description))
            claims_of = {label: self._claims_of(screened, label) for label, _ in candidates}
            mode = _dominant_mode(claims_of[int(row["label"])], modes)
            moved_too: dict[tuple[str, str], float] = {}
            chosen, note = self._break_tie(
                candidates,
                described,
                mode,
                breakdowns,
                materials,
                data,
                condition,
                claims_of,
                screened.screen.cover,
                moved_too,
                tracker,
            )
            description = described[chosen]
            name, alias_note = self._name_among_aliases(description, mode, materials, data)
            key = f"{description['attribute']}:{name[3] if name else description['value']}"
            if key in taken:
                continue
            within = self._within(out, claims_of[chosen], modes, mode, screened.screen.cover)
            if within is not None:
                within.within.append(description["label"])
                within.related = _unique([*within.related, _ref(
                    description["subject_type"], description["subject_space"],
                    description["subject_id"])])  # fmt: skip
                continue
            taken.add(key)
            out.append(
                self._cluster(
                    data, screened, tests.loc[chosen], description, name, row, candidates,
                    described, claims_of[chosen], modes, mode, "; ".join(
                        n for n in (note, alias_note) if n
                    ),
                )
            )  # fmt: skip
            for (space, machine), z in moved_too.items():
                out[-1].numbers[moved_too_key(space, machine)] = float(z)
        out = self._normal_windows_into_parameters(out, modes, condition)
        for cluster in out:
            if cluster.within:
                cluster.text = cluster.text.removesuffix(".") + (
                    f"; its claims concentrate in {', '.join(cluster.within)} (most of their "
                    "claims are its own, with its failure mode: one cause, not several)."
                )
        return out

    def _normal_windows_into_parameters(
        self,
        found: list[Cluster],
        modes: dict[str, str],
        condition: ConditionReader | None,
    ) -> list[Cluster]:
        """Windows of machines that stayed normal, folded into the parameter they ran out with.

        A press pressing one day's units below their force makes a window of that press hold
        the deviation's claims, often selected before the parameter's own cohort. When the
        press's sensors say it stayed in its normal condition (a worn machine moves them) and
        most of the window's claims (:data:`NORMAL_WINDOW_COVER`) are a parameter cluster's,
        failing the same way, the window is where that parameter ran out, not a machine's fault.
        """
        parameters = [c for c in found if c.attribute == "process_parameter"]
        if not parameters or condition is None:
            return found
        kept: list[Cluster] = []
        for cluster in found:
            shift = (
                condition.shift((str(cluster.subject.space), cluster.subject.external_id),
                                *cluster.window)
                if cluster.attribute == "machine_window" and cluster.window is not None
                else None
            )  # fmt: skip
            claimed = pd.DataFrame({"claim": cluster.claims})
            host = (
                self._within(
                    parameters, claimed, modes, _dominant_mode(claimed, modes), NORMAL_WINDOW_COVER
                )
                if shift is not None and shift.z < CONDITION_Z
                else None
            )
            if host is None or shift is None:
                kept.append(cluster)
                continue
            host.within.append(
                f"{cluster.label} ({cluster.subject.external_id} in its normal condition, "
                f"largest move {shift.z:.1f} robust SD)"
            )
            host.related = _unique([*host.related, cluster.subject])
        return kept

    @staticmethod
    def _within(
        found: Sequence[Cluster],
        claimed: pd.DataFrame,
        modes: dict[str, str],
        mode: str | None,
        cover: float,
    ) -> Cluster | None:
        """The cluster found before whose claims and failure mode are most of these claims'.

        The screen selects a cohort when the model of those selected before leaves claims to
        explain; where one cause hit some units harder (the orders whose press force was
        furthest out of its window), those units' cohort enters after the cause's own. When
        ``cover`` of its claims are an earlier cluster's and they fail the same way, it is where
        that cluster concentrates, not a cause of its own.
        """
        if mode is None or claimed.empty:
            return None
        claims = set(claimed["claim"].astype(str))
        for cluster in found:
            shared = claims & set(cluster.claims)
            if len(shared) < cover * len(claims):
                continue
            theirs = _dominant_mode(claimed[claimed["claim"].astype(str).isin(shared)], modes)
            if (
                theirs == mode
                and _dominant_mode(pd.DataFrame({"claim": cluster.claims}), modes) == mode
            ):
                return cluster
        return None

    @staticmethod
    def _claims_of(screened: Screened, label: int) -> pd.DataFrame:
        members = screened.screen.members(label)
        units = screened.fleet.units.iloc[members]
        return units[units["failed"]]

    def _break_tie(
        self,
        candidates: Sequence[tuple[int, float]],
        described: dict[int, dict[str, Any]],
        mode: str | None,
        breakdowns: pd.DataFrame,
        materials: dict[tuple[str, str], str],
        data: FieldData,
        condition: ConditionReader | None = None,
        claims_of: dict[int, pd.DataFrame] | None = None,
        cover: float = 0.75,
        moved_too: dict[tuple[str, str], float] | None = None,
        tracker: _Tracker | None = None,
    ) -> tuple[int, str]:
        """The candidate to report: the best, unless a near-tied one is corroborated.

        The best is the one that separates the failing units best (the cohort the screen
        selected on a tie): a machine's window may explain the claims of a build week better.
        A machine whose own sensors moved far from its normal while it processed the units
        (:mod:`._condition`) is the cause, the one that moved most if several did: among the
        near-tied, and among the windows that hold ``cover`` (most) of the selected
        cohort's claims, whose separation suffers from the units around the claimed ones that a
        day's window holds. Of several machines that moved, the one whose condition when each
        unit passed it tells the failing units apart (:meth:`_Tracker.choose`) is named when
        it clearly does. Without such evidence, a breakdown of the machine or a component
        that fits the failure mode corroborates (:meth:`_corroboration`).
        """
        near = [(label, sep) for label, sep in candidates if sep >= self.tie_separation]
        near.sort(key=lambda item: -item[1])  # stable: the selected cohort first on a tie
        leader = near[0][0] if near else candidates[0][0]
        own = set(claims_of[candidates[0][0]]["claim"]) if claims_of is not None else set()
        if condition is not None:
            covering = {label for label, _ in near}
            if claims_of is not None:
                covering |= {
                    label
                    for label, _ in candidates
                    if own and len(own & set(claims_of[label]["claim"])) >= cover * len(own)
                }
            machines = [
                (label, described[label])
                for label, _ in sorted(candidates, key=lambda item: -item[1])
                if label in covering and described[label]["attribute"] == "machine_window"
            ]
            shifts = [
                (
                    label,
                    condition.shift(
                        _record(d),
                        d["window_start"],
                        d["window_end"],
                    ),
                )
                for label, d in machines
            ]
            shifts, fits = _by_process(shifts, described, mode, data)
            moved = strongest(shifts)
            if moved is not None:
                tracked = ""
                if tracker is not None:
                    moved, tracked = tracker.choose(moved, shifts, described, mode)
                chosen, shift = moved
                because = f"{described[chosen]['subject_id']} moved: {shift.text}" + fits + tracked
                others = _others_moved(chosen, shifts, described)
                if moved_too is not None:
                    moved_too.update(others)
                because += _moved_too_text(others)
                if chosen == leader:
                    return chosen, because
                separation = dict(candidates)[chosen]
                if separation >= self.tie_separation:
                    return chosen, (
                        f"near-tied with {described[leader]['label']} (separation "
                        f"{separation:.2f} of the best); chosen because {because}"
                    )
                assert claims_of is not None  # a window that is not near-tied covers the claims
                held = len(own & set(claims_of[chosen]["claim"]))
                return chosen, (
                    f"chosen over {described[leader]['label']}, which separates the failing "
                    f"units better ({separation:.2f} of its separation), because the machine "
                    f"made {held} of the {len(own)} claimed units and {because}"
                )
        support = {
            label: self._corroboration(described[label], mode, breakdowns, materials, data)
            for label, _ in near
        }
        if support.get(leader):
            rivals = [described[label]["label"] for label, _ in near if label != leader]
            if not rivals:
                return leader, ""
            return (
                leader,
                f"near-tied with {', '.join(rivals[:3])}; named because {support[leader]}",
            )
        backed = [(label, sep) for label, sep in near if support.get(label)]
        if not backed:
            return self._past_a_normal_machine(leader, near, described, condition)
        chosen = backed[0][0]
        return chosen, (
            f"near-tied with {described[leader]['label']} (separation "
            f"{dict(candidates)[chosen]:.2f} of the best); chosen because {support[chosen]}"
        )

    @staticmethod
    def _past_a_normal_machine(
        leader: int,
        near: Sequence[tuple[int, float]],
        described: dict[int, dict[str, Any]],
        condition: ConditionReader | None,
    ) -> tuple[int, str]:
        """A machine's window whose machine was in its normal condition gives way to a cohort.

        A window explains claims by the days its machine made the units; when the machine's
        own sensors stayed normal then (and nothing else corroborates it), the days are only a
        proxy, like a build week, and a near-tied cohort that is no machine's window (the
        order the units belong to, a lot) names the cause instead. Without sensors the machine's
        condition is unknown and the window stays.
        """
        first = described[leader]
        if condition is None or first["attribute"] != "machine_window":
            return leader, ""
        shift = condition.shift(
            _record(first),
            first["window_start"],
            first["window_end"],
        )
        if shift is None or shift.z >= CONDITION_Z:
            return leader, _undecided(leader, near, described, condition)
        cohorts = [label for label, _ in near if described[label]["attribute"] != "machine_window"]
        if not cohorts:
            return leader, _undecided(leader, near, described, condition)
        chosen = cohorts[0]
        return chosen, (
            f"near-tied with {first['label']} (separation {dict(near)[chosen]:.2f} of the "
            f"best); chosen because {first['subject_id']} stayed in its normal condition while it "
            f"made them (largest move {shift.z:.1f} robust SD, {' and '.join(shift.signals)})"
        )

    def _corroboration(
        self,
        description: dict[str, Any],
        mode: str | None,
        breakdowns: pd.DataFrame,
        materials: dict[tuple[str, str], str],
        data: FieldData,
    ) -> str:
        """Why this cohort is a plausible cause beyond the claims, or ``""``."""
        if description["attribute"] == "machine_window" and not breakdowns.empty:
            start = pd.Timestamp(description["window_start"])
            end = pd.Timestamp(description["window_end"]) + pd.Timedelta(
                days=self.breakdown_grace_days
            )
            mine = breakdowns[
                (breakdowns["machine"] == _machine_of(description))
                & (breakdowns["start"] >= start)
                & (breakdowns["start"] <= end)
            ]
            if len(mine):
                first = mine.iloc[0]
                return (
                    f"{description['subject_id']} broke down on {first['start']:%Y-%m-%d} "
                    f"({first['what']})"
                )
        if description["attribute"] == "material_lot" and mode:
            material = _lot_material(data, description["subject_space"], description["subject_id"])
            name = materials.get(material or ("", ""), "")
            if name and component_affinity(mode, name):
                return f"its component ({name}) fails as {mode}, the claims' failure mode"
        return ""

    def _name_among_aliases(
        self,
        description: dict[str, Any],
        mode: str | None,
        materials: dict[tuple[str, str], str],
        data: FieldData,
    ) -> tuple[tuple[str, str | None, str, str] | None, str]:
        """Among lots of exactly the same units, the one whose component fits the failure mode."""
        if description["attribute"] != "material_lot" or not mode:
            return None, ""
        lots = [(description["subject_space"], description["subject_id"])] + [
            (space, identifier)
            for attribute, space, identifier in description.get("aliases", [])
            if attribute == "material_lot"
        ]
        if len(lots) < 2:
            return None, ""
        names = {
            lot: materials.get(_lot_material(data, lot[0], lot[1]) or ("", ""), "") for lot in lots
        }
        fitting = [lot for lot in lots if component_affinity(mode, names[lot])]
        if len(fitting) == 1 and fitting[0] != lots[0]:
            space, identifier = fitting[0]
            others = ", ".join(f"{i} ({names[(s, i)] or 'unknown material'})"
                               for s, i in lots if i != identifier)  # fmt: skip
            return ("material_lot", space, identifier, identifier), (
                f"built into exactly the same units as {others}; named because its component "
                f"({names[fitting[0]]}) fails as {mode}, the claims' failure mode"
            )
        return None, ""

    def _cluster(
        self,
        data: FieldData,
        screened: Screened,
        row: pd.Series,
        description: dict[str, Any],
        name: tuple[str, str | None, str, str] | None,
        selected: pd.Series,
        candidates: Sequence[tuple[int, float]],
        described: dict[int, dict[str, Any]],
        claimed: pd.DataFrame,
        modes: dict[str, str],
        mode: str | None,
        tie_note: str,
    ) -> Cluster:
        fleet = screened.fleet
        screen = screened.screen
        members = fleet.units.iloc[screen.members(int(row.name))]
        attribute = description["attribute"]
        if name is not None:
            subject = _ref(description["subject_type"], name[1], name[2])
            value, label = name[3], name[2]
        else:
            subject = _ref(
                description["subject_type"], description["subject_space"], description["subject_id"]
            )
            value, label = description["value"], description["label"]
        claims = claimed.sort_values("failure_at")["claim"].astype(str).tolist()
        total_claims = int(fleet.units["failed"].sum())
        total_days = float(fleet.units["age_days"].sum())
        claims_in = float(row["claims"])
        days_in = float(row["unit_days"])
        chosen_label = int(row.name)
        separation = dict(candidates).get(chosen_label, 1.0)
        ranked = sorted(candidates, key=lambda item: -item[1])
        rank = 1 + sum(1 for label, sep in ranked if label != chosen_label and sep > separation)
        if chosen_label != candidates[0][0] or name is not None:
            rank = 1  # corroboration put it first among the near-tied
        numbers = {
            "claims": claims_in,
            "units": float(row["units"]),
            "unit_days": days_in,
            "rate_per_1000_unit_years": per_1000_unit_years(claims_in, days_in),
            "baseline_rate_per_1000_unit_years": per_1000_unit_years(
                total_claims - claims_in, total_days - days_in
            ),
            "rate_ratio": float(row["rate_ratio"]),
            "rate_ratio_low": float(row["rate_ratio_low"]),
            "rate_ratio_high": float(row["rate_ratio_high"]),
            # the discovery is the selected cohort's, whichever candidate names the cluster
            "q_value": float(selected["q_value"]),
            "p_value": float(selected["p_value"]),
            "expected_claims": float(row["expected"])
            * total_claims
            / max(float(screen.expected_.sum()), 1e-12),
            "rank": float(rank),
            "separation": float(separation),
            "adjusted_rate_ratio": float(selected["adjusted_rate_ratio"]),
            "alternatives": float(len(candidates) - 1),
        }
        if mode is not None:
            known = [modes.get(c) for c in claims]
            numbers["dominant_mode_share"] = (
                sum(m == mode for m in known) / len(known) if known else 0.0
            )
        scope = members[~members["failed"] & members["shipped_at"].notna()]
        scope = scope[
            ["serial", "serial_space", "customer", "customer_name", "shipment", "shipped_at"]
        ]
        deviation = (
            screened.cohorts.deviations.get(str(description["subject_id"]))
            if attribute == "process_parameter"
            else None
        )
        if deviation is not None:
            # the units furthest out of the window first: the likeliest to fail next
            scope = scope.assign(deviation_sd=deviation[scope.index.to_numpy()])
            scope = (
                scope.assign(_far=-scope["deviation_sd"].abs())
                .sort_values(["_far", "customer_name", "shipped_at", "serial"], na_position="last")
                .drop(columns="_far")
            )
        else:
            scope = scope.sort_values(["customer_name", "shipped_at", "serial"], na_position="last")
        numbers["scope_serials"] = float(len(scope))
        numbers["scope_customers"] = float(
            scope["customer_name"].fillna(scope["customer"]).nunique()
        )
        related: list[EntityRef] = []
        for attribute_alias, space, identifier in description.get("aliases", []):
            if name is not None and identifier == name[2]:
                related.append(
                    _ref(description["subject_type"], description["subject_space"],
                         description["subject_id"])
                )  # fmt: skip
                continue
            related.append(_ref(attribute_alias, space, identifier))
        for other_label, _ in ranked:
            if other_label == chosen_label:
                continue
            other = described[other_label]
            related.append(_ref(other["subject_type"], other["subject_space"], other["subject_id"]))
        orders = claimed.drop_duplicates(["wo_space", "work_order"])
        related += [
            _ref("work_order", s, w)
            for s, w in zip(orders["wo_space"], orders["work_order"], strict=True)
        ]
        window = None
        if attribute == "machine_window":
            window = (description["window_start"], description["window_end"])
        cluster = Cluster(
            attribute=attribute,
            value=value,
            subject=subject,
            label=label,
            numbers=numbers,
            claims=claims,
            members=members,
            scope=scope.reset_index(drop=True),
            related=_unique(related),
            window=window,
            tie_note=tie_note,
        )
        cluster.text = self._sentence(cluster, mode, candidates, described, data)
        return cluster

    def _sentence(
        self,
        cluster: Cluster,
        mode: str | None,
        candidates: Sequence[tuple[int, float]],
        described: dict[int, dict[str, Any]],
        data: FieldData,
    ) -> str:
        n = cluster.numbers
        what = {
            "material_lot": f"Units built with lot {cluster.label}",
            "supplier_lot": f"Units built with supplier lot {cluster.label}",
            "supplier": f"Units built with parts of supplier {cluster.label}",
            "machine_window": f"Units processed on {cluster.label}",
            "work_order": f"Units of work order {cluster.label}",
            "design_revision": f"Units of {cluster.label}",
            "product": f"Units of {cluster.label}",
            "line": f"Units built on line {cluster.label}",
            "build_week": f"Units of {cluster.label}",
            "process_parameter": f"Units with {cluster.label}",
        }[cluster.attribute]
        text = (
            f"{what} fail in the field {n['rate_ratio']:.1f} times as often as the rest "
            f"({n['rate_ratio_low']:.1f}-{n['rate_ratio_high']:.1f}, age-adjusted; "
            f"{int(n['claims'])} claims from {int(n['units'])} units, "
            f"{n['rate_per_1000_unit_years']:.0f} vs {n['baseline_rate_per_1000_unit_years']:.0f} "
            f"per 1000 unit-years, q={n['q_value']:.1g})"
        )
        if mode is not None:
            text += f", mostly {mode.replace('_', ' ')} ({n.get('dominant_mode_share', 0):.0%})"
        others = [
            described[label]["label"]
            for label, _ in sorted(candidates, key=lambda c: -c[1])
            if described[label]["subject_id"] != cluster.subject.external_id
        ][:3]
        if others:
            than = "as well as or better than" if "near-tied" in cluster.tie_note else "better than"
            text += f"; it separates failing units {than} {', '.join(others)}"
        if cluster.tie_note:
            text += f" ({cluster.tie_note})"
        customers = int(n["scope_customers"])
        text += (
            f"; {int(n['scope_serials'])} serials built with it are still in the field at "
            f"{customers} customer{'' if customers == 1 else 's'}."
        )
        return text

    # -- reliability -------------------------------------------------------------------------------
    def _censor_lag(self, data: FieldData) -> float:
        if self.reporting_lag_days is not None:
            return float(self.reporting_lag_days)
        delays = (data.claims["claimed_at"] - data.claims["failure_at"]) / DAY
        delays = delays[delays.notna() & (delays >= 0)]
        return float(delays.median()) if len(delays) else 0.0

    def _fit(self, ages: np.ndarray, failed: np.ndarray) -> tuple[WeibullModel | None, str]:
        if int(failed.sum()) < self.min_failures:
            return None, (
                f"{int(failed.sum())} failures among {ages.size} units: a Weibull fit needs "
                f"{self.min_failures}"
            )
        try:
            model = WeibullModel(confidence=self.confidence, min_failures=self.min_failures)
            return model.fit(ages, failed), ""
        except EngineError as error:
            return None, str(error)

    def _reliability(
        self, data: FieldData, moment: datetime, review: ServiceReview
    ) -> pd.DataFrame:
        lag = self._censor_lag(data)
        fleet = fleet_at(data, moment, service_lag_days=self.service_lag_days, censor_lag_days=lag)
        rows: list[dict[str, Any]] = []
        units = fleet.units
        if units.empty:
            return pd.DataFrame()
        # one fit per product, whichever silo spelt it (its key), named as its first unit does
        for _, group in units.groupby("product_key"):
            space, product = group["product_space"].iloc[0], group["product"].iloc[0]
            row = self._population(group, "product", str(product), space)
            rows.append(row)
            self._report_product(review, row, moment, lag, data)
        clustered = set()
        for cluster in review.clusters:
            clustered.update(cluster.members["serial"])
        for revision_rows in self._revision_sides(data, units[~units["serial"].isin(clustered)]):
            for side in revision_rows:
                side["clusters_left_out"] = len(review.clusters)
            rows.extend(revision_rows)
            self._report_design(review, revision_rows, moment, lag)
        for cluster in review.clusters:
            members = units[units["serial"].isin(cluster.members["serial"])]
            row = self._population(members, "cluster", cluster.dedup_key, None)
            cluster.numbers.update(
                {
                    k: row[k]
                    for k in ("b10_days", "b10_low_days", "b10_high_days", "weibull_shape")
                    if k in row and row[k] is not None and math.isfinite(row[k])
                }
            )
            rows.append(row)
        return pd.DataFrame(rows)

    def _population(self, group: pd.DataFrame, kind: str, name: str, space: Any) -> dict[str, Any]:
        ages = group["age_days"].to_numpy(dtype=float)
        failed = group["failed"].to_numpy(dtype=bool)
        model, why = self._fit(ages, failed)
        row: dict[str, Any] = {
            "kind": kind,
            "name": name,
            "space": space,
            "units": int(ages.size),
            "failures": int(failed.sum()),
            "unit_days": float(ages.sum()),
            "censored_share": float(1.0 - failed.mean()) if ages.size else math.nan,
            "why_not": why,
        }
        if model is None:
            return row
        low, high = model.b_life_interval(self.b_life)
        forecast = model.forecast(ages[~failed], self.forecast_days)
        row.update(
            weibull_shape=model.shape_,
            weibull_scale_days=model.scale_,
            b10_days=model.b_life(self.b_life),
            b10_low_days=low,
            b10_high_days=high,
            forecast_claims=forecast["expected"],
            forecast_claims_low=forecast["low"],
            forecast_claims_high=forecast["high"],
            max_age_days=float(ages.max()),
        )
        return row

    def _revision_sides(self, data: FieldData, units: pd.DataFrame) -> list[list[dict[str, Any]]]:
        """Per revision after the first: the product's units built before it and after it."""
        out = []
        revisions = data.revisions.dropna(subset=["product_key", "effective_from"])
        for key, group in revisions.groupby("product_key"):
            group = group.sort_values("effective_from")
            mine = units[(units["product_key"] == key) & units["produced_at"].notna()]
            if mine.empty:
                continue
            for position in range(1, len(group)):
                revision = group.iloc[position]
                previous = group.iloc[position - 1]
                later = (
                    group.iloc[position + 1]["effective_from"]
                    if position + 1 < len(group)
                    else None
                )
                before = mine[
                    (mine["produced_at"] >= previous["effective_from"])
                    & (mine["produced_at"] < revision["effective_from"])
                ]
                after = mine[mine["produced_at"] >= revision["effective_from"]]
                if later is not None:
                    after = after[after["produced_at"] < later]
                if after.empty or before.empty:
                    continue
                # the same ages on both sides: units built before are older, so they are cut
                # at the oldest age the revision's units have reached
                horizon = float(after["age_days"].max())
                cut = before.copy()
                beyond = cut["age_days"] > horizon
                cut.loc[beyond, "failed"] = False
                cut.loc[beyond, "age_days"] = horizon
                name = f"{revision['space']}:{revision['external_id']}"
                rows = [
                    self._population(cut, "before_revision", name, revision["space"]),
                    self._population(after, "after_revision", name, revision["space"]),
                ]
                rows[0]["revision"] = str(previous["revision"])
                rows[1]["revision"] = str(revision["revision"])
                rows[0]["external_id"] = rows[1]["external_id"] = str(revision["external_id"])
                rows[0]["product"] = rows[1]["product"] = str(revision["product"])
                rows[0]["compared_age_days"] = rows[1]["compared_age_days"] = horizon
                out.append(rows)
        return out

    def _report_product(
        self,
        review: ServiceReview,
        row: dict[str, Any],
        moment: datetime,
        lag: float,
        data: FieldData,
    ) -> None:
        subject = _ref("product", row["space"], row["name"])
        label = data.names.get(("product", str(row["space"]), row["name"]), row["name"])
        if "b10_days" not in row:
            self._gap(
                review,
                f"field reliability of {label} cannot be fitted: {row['why_not']}",
                f"reliability:{row['name']}",
                subject=subject,
            )
            return
        numbers = {
            k: float(row[k])
            for k in (
                "units", "failures", "unit_days", "censored_share", "weibull_shape",
                "weibull_scale_days", "b10_days", "b10_low_days", "b10_high_days",
                "forecast_claims", "forecast_claims_low", "forecast_claims_high", "max_age_days",
            )
        }  # fmt: skip
        numbers["forecast_days"] = float(self.forecast_days)
        numbers["reporting_lag_days"] = lag
        numbers["b_life_share"] = float(self.b_life)
        beyond = row["b10_days"] > row["max_age_days"]
        text = (
            f"{label}: B{self.b_life * 100:g} life {row['b10_days']:.0f} days "
            f"({row['b10_low_days']:.0f}-{_days(row['b10_high_days'])}, {self.confidence:.0%} "
            f"profile-likelihood interval; Weibull shape {row['weibull_shape']:.2f}) from "
            f"{row['failures']} failures among {row['units']} units in the field "
            f"({row['censored_share']:.0%} censored); "
            f"{row['forecast_claims']:.0f} claims expected in the next {self.forecast_days:g} "
            f"days ({row['forecast_claims_low']:.0f}-{row['forecast_claims_high']:.0f})"
        )
        if beyond:
            text += (
                f"; the oldest unit has {row['max_age_days']:.0f} days in service, so the "
                "B-life is extrapolated"
            )
        review.findings.append(
            Finding(
                AGENT,
                FIELD_RELIABILITY,
                subject,
                severity="info",
                confidence=0.9 if not beyond else 0.6,
                evidence=Evidence((subject,), numbers, text + "."),
                dedup_key=pd.Timestamp(moment).strftime("%G-W%V"),
                created_at=moment,
                title=f"Field reliability of {label}",
            )
        )

    def _report_design(
        self, review: ServiceReview, rows: list[dict[str, Any]], moment: datetime, lag: float
    ) -> None:
        before, after = rows
        subject = _ref("design_revision", before["space"], before["external_id"])
        product = before["product"]
        if "b10_days" not in before or "b10_days" not in after:
            why = before.get("why_not") or after.get("why_not")
            self._gap(
                review,
                f"the effect of revision {after['revision']} of {product} on field reliability "
                f"cannot be measured yet: {why}",
                f"design:{before['external_id']}",
                subject=subject,
            )
            return
        ratio = after["b10_days"] / before["b10_days"]
        numbers = {
            "b10_before_days": float(before["b10_days"]),
            "b10_before_low_days": float(before["b10_low_days"]),
            "b10_before_high_days": float(before["b10_high_days"]),
            "b10_after_days": float(after["b10_days"]),
            "b10_after_low_days": float(after["b10_low_days"]),
            "b10_after_high_days": float(after["b10_high_days"]),
            "b10_ratio": float(ratio),
            "units_before": float(before["units"]),
            "units_after": float(after["units"]),
            "failures_before": float(before["failures"]),
            "failures_after": float(after["failures"]),
            "compared_age_days": float(before["compared_age_days"]),
            "reporting_lag_days": lag,
        }
        overlap = not (
            after["b10_low_days"] > before["b10_high_days"]
            or after["b10_high_days"] < before["b10_low_days"]
        )
        verdict = (
            "no change the data can tell from chance (the intervals overlap)"
            if overlap
            else ("longer field life" if ratio > 1 else "shorter field life")
        )
        text = (
            f"Revision {after['revision']} of {product}: B{self.b_life * 100:g} "
            f"{after['b10_days']:.0f} days ({after['b10_low_days']:.0f}-"
            f"{_days(after['b10_high_days'])}) after vs {before['b10_days']:.0f} days "
            f"({before['b10_low_days']:.0f}-{_days(before['b10_high_days'])}) before, ratio "
            f"{ratio:.2f}, comparing the same {before['compared_age_days']:.0f} days in service "
            f"(units of the {before.get('clusters_left_out', 0)} failure clusters reported left "
            f"out: their cause is elsewhere): {verdict}"
            + (
                "; both B-lives lie beyond the ages observed and are extrapolated."
                if min(before["b10_days"], after["b10_days"]) > before["compared_age_days"]
                else "."
            )
        )
        review.findings.append(
            Finding(
                AGENT,
                DESIGN_EFFECT,
                subject,
                severity="info" if overlap else ("low" if ratio > 1 else "high"),
                confidence=0.5 if overlap else 0.8,
                evidence=Evidence((subject,), numbers, text),
                dedup_key=pd.Timestamp(moment).strftime("%G-W%V"),
                created_at=moment,
                title=f"Field effect of revision {after['revision']} of {product}",
            )
        )

    # -- findings and recommendations ------------------------------------------------------------
    def _report_cluster(self, review: ServiceReview, cluster: Cluster, moment: datetime) -> None:
        n = cluster.numbers
        claim_refs = [EntityRef("warranty_claim", c) for c in cluster.claims[:MAX_CLAIM_REFS]]
        severity = (
            "critical"
            if n["rate_ratio_low"] >= 3 and n["claims"] >= 20
            else "high"
            if n["rate_ratio_low"] >= 2 or n["claims"] >= 20
            else "medium"
        )
        finding = Finding(
            AGENT,
            FAILURE_CLUSTER,
            cluster.subject,
            severity=severity,
            confidence=float(min(max(1.0 - n["q_value"], 0.0), 1.0)),
            evidence=Evidence(
                (cluster.subject, *claim_refs, *cluster.related), dict(n), cluster.text
            ),
            dedup_key=cluster.dedup_key,
            created_at=moment,
            title=f"Field failures cluster in {cluster.label}",
        )
        review.findings.append(finding)
        if cluster.scope.empty:
            return
        serials = [
            {
                "serial": str(row.serial),
                "serial_space": None if pd.isna(row.serial_space) else str(row.serial_space),
                "visit_id": stable_id("visit", cluster.dedup_key, str(row.serial)),
                "customer": None if pd.isna(row.customer) else str(row.customer),
                "customer_name": None if pd.isna(row.customer_name) else str(row.customer_name),
                "shipment": None if pd.isna(row.shipment) else str(row.shipment),
                "shipped_at": None
                if pd.isna(row.shipped_at)
                else pd.Timestamp(row.shipped_at).isoformat(),
                **(
                    {"deviation_sd": round(float(row.deviation_sd), 2)}
                    if "deviation_sd" in cluster.scope.columns and pd.notna(row.deviation_sd)
                    else {}
                ),
            }
            for row in cluster.scope.itertuples(index=False)
        ]
        customers = sorted({s["customer_name"] or s["customer"] or "unknown" for s in serials})
        review.recommendations.append(
            Recommendation(
                AGENT,
                (finding.id,),
                INSPECT,
                parameters={
                    "space": self.visit_space,
                    "cohort": cluster.dedup_key,
                    "reason": f"field failures cluster in {cluster.label}: rate ratio "
                    f"{n['rate_ratio']:.1f}, {int(n['claims'])} claims ({cluster.dedup_key})",
                    "serials": serials,
                    "customers": customers,
                },
                expected_effect={
                    "serials": len(serials),
                    "customers": len(customers),
                    "claims_so_far": int(n["claims"]),
                    "rate_ratio": float(n["rate_ratio"]),
                },
                requires_approval=True,
                title=f"Inspect {len(serials)} serials of {cluster.label} at "
                f"{len(customers)} customers",
                dedup_key=cluster.dedup_key,
            )
        )

    def _gap(
        self,
        review: ServiceReview,
        message: str,
        key: str,
        *,
        subject: EntityRef | None = None,
    ) -> None:
        review.notes.append(message)
        warnings.warn(f"service: {message}", ServiceDataWarning, stacklevel=3)
        review.findings.append(
            data_gap(
                AGENT,
                message[:1].upper() + message[1:] + ".",
                key,
                review.as_of,
                subject=subject,
                title="Service agent: data gap",
            )
        )

    def _report_gaps(self, review: ServiceReview, data: FieldData) -> None:
        for note in data.notes:
            kind = "claims" if "claims" in note else "lots"
            self._gap(review, note.rstrip("."), f"{kind}:{len(note)}")
        if review.modes is not None:
            for note in review.modes.notes:
                self._gap(review, note, "failure_modes")


def _by_process(
    shifts: list[tuple[int, ConditionShift | None]],
    described: dict[int, dict[str, Any]],
    mode: str | None,
    data: FieldData,
) -> tuple[list[tuple[int, ConditionShift | None]], str]:
    """Of several machines that moved, those whose process fails as the claims do, and why.

    Machines of one line may wear at the same time. When the claims fail one way (vibration)
    and some of the machines that moved make what fails that way (a lathe turns the shaft) and
    others do not (a winder winds the stator), the others' wear is no cause of these claims.
    Without a failure mode, or when the names tell nothing, every machine stays.
    """
    moved: list[tuple[int, ConditionShift | None]] = list(_moved(shifts))
    if mode is None or len({_machine_of(described[label]) for label, _ in moved}) < 2:
        return shifts, ""
    names = {label: _machine_name(described[label], data) for label, _ in moved}
    fitting = [(label, shift) for label, shift in moved if process_affinity(mode, names[label])]
    if not fitting or len(fitting) == len(moved):
        return shifts, ""
    kept = {label for label, _ in fitting}
    others = sorted({names[label] for label, _ in moved if label not in kept})
    return fitting, (
        f"; {', '.join(others)} moved too, but its process's defects do not fail as {mode}, "
        f"the claims' failure mode, and {names[fitting[0][0]]}'s do"
    )


class _Tracker:
    """Which of several machines that moved wore when the failing units passed it.

    Machines of one line may wear around the same days and hold the same claims; the one that
    moved most is not always the cause (a press that starts to wear the day a lathe that was
    wearing for a week is repaired). :func:`._condition.tracking` scores each by whether the
    failing units passed it in a worse condition than the sound units around them.
    """

    def __init__(
        self, screened: Screened, modes: dict[str, str], condition: ConditionReader
    ) -> None:
        self.screened = screened
        self.modes = modes
        self.condition = condition

    def choose(
        self,
        moved: tuple[int, ConditionShift],
        shifts: list[tuple[int, ConditionShift | None]],
        described: dict[int, dict[str, Any]],
        mode: str | None,
    ) -> tuple[tuple[int, ConditionShift], str]:
        """``moved``, or a machine that moved less whose condition tracked the failures, and why."""
        candidates = dict(_moved(shifts))
        machine_of = {label: _machine_of(described[label]) for label in candidates}
        if len(set(machine_of.values())) < 2:
            return moved, ""
        pad = timedelta(days=TRACK_PAD_DAYS)
        records = {label: _record(described[label]) for label in candidates}
        spans = {
            records[label]: (described[label]["window_start"] - pad,
                             described[label]["window_end"] + pad)
            for label in candidates
        }  # fmt: skip
        units = self.screened.fleet.units
        failing = units["failed"].to_numpy(dtype=bool)
        if mode is not None:
            failing = failing & (units["claim"].map(self.modes) == mode).to_numpy(dtype=bool)
        scores = tracking(self.condition, spans, self.screened.cohorts.passes, failing)
        label, shift = moved
        mine = scores.get(records[label])
        best = max(
            (other for other in candidates if records[other] in scores),
            key=lambda other: scores[records[other]],
            default=None,
        )
        if best is None or machine_of[best] == machine_of[label] or mine is None:
            return moved, ""
        top = scores[records[best]]
        if top < TRACK_MIN or top - mine < TRACK_MARGIN:
            return moved, ""
        return (best, candidates[best]), (
            f"; the units that fail as the claims do passed it while it was off its normal, "
            f"the others not (score {top:.2f}, 0.5 for chance), unlike "
            f"{described[label]['subject_id']} ({mine:.2f}), which moved further"
        )


def _others_moved(
    chosen: int,
    shifts: list[tuple[int, ConditionShift | None]],
    described: dict[int, dict[str, Any]],
) -> dict[tuple[str, str], float]:
    """The other machines that moved while they made the same units: ``(space, id) -> z``.

    The one that moved most is named; another that wore at the same time may have caused some
    of the claims (and would not be told apart by the claims alone): it is inspected too.
    """
    named = _machine_of(described[chosen])
    # one machine, whichever of its records (station, work centre) names its window
    by_machine: dict[tuple[str, str], tuple[tuple[str, str], float]] = {}
    for label, shift in _moved(shifts):
        machine = _machine_of(described[label])
        if machine == named:
            continue
        first, z = by_machine.get(machine, (_record(described[label]), 0.0))
        by_machine[machine] = (first, max(z, shift.z))
    return dict(by_machine.values())


def _moved_too_text(others: dict[tuple[str, str], float]) -> str:
    """What the finding says of the other machines that moved (see :func:`_others_moved`)."""
    if not others:
        return ""
    listed = ", ".join(f"{m} ({z:.0f} robust SD)" for (_, m), z in others.items())
    them = "it" if len(others) == 1 else "them"
    return f"; {listed} moved too while making these units: inspect {them} as well"


def _record(description: dict[str, Any]) -> tuple[str, str]:
    """``(space, id)`` of the record a cohort's description names (a window's: the machine)."""
    return (str(description["subject_space"]), str(description["subject_id"]))


def _moved(
    shifts: Sequence[tuple[int, ConditionShift | None]],
) -> list[tuple[int, ConditionShift]]:
    """The ``(label, shift)`` pairs whose machine moved (at least :data:`CONDITION_Z`)."""
    return [
        (label, shift) for label, shift in shifts if shift is not None and shift.z >= CONDITION_Z
    ]


def _machine_of(description: dict[str, Any]) -> tuple[str, str]:
    """The machine a window's record names.

    Its key over every silo's record of it (set by :meth:`ServiceAgent.clusters` when the store
    is known), else the record itself.
    """
    return description.get("machine", _record(description))


def _machine_name(description: dict[str, Any], data: FieldData) -> str:
    """A machine's name as its asset record gives it, else its id."""
    key = ("asset", *_record(description))
    return data.names.get(key, str(description["subject_id"]))


def _undecided(
    leader: int,
    near: Sequence[tuple[int, float]],
    described: dict[int, dict[str, Any]],
    condition: ConditionReader,
) -> str:
    """Why nothing told the leader's machine from near-tied other machines, or ``""``.

    Machines in series make the same units a day apart: when their windows explain the claims
    almost equally and neither their sensors nor a breakdown says which one was wrong, the
    finding names the best and says, in words, that the others could be it as well.
    """
    machine = _machine_of(described[leader])
    others: dict[tuple[str, str], tuple[int, float]] = {}
    for label, separation in near:
        other = described[label]
        if label == leader or other["attribute"] != "machine_window":
            continue
        if _machine_of(other) != machine:
            others.setdefault(_machine_of(other), (label, separation))
    if not others:
        return ""

    def state(label: int) -> str:
        window = described[label]
        equipment = _record(window)
        if condition.devices().get(condition.machines.key(*equipment)) is None:
            return f"{window['subject_id']} has no sensors linked to it"
        shift = condition.shift(equipment, window["window_start"], window["window_end"])
        if shift is None:
            return f"{window['subject_id']} has too few days of readings before the window"
        return (
            f"{window['subject_id']} stayed near its normal (largest move {shift.z:.1f} robust SD)"
        )

    tied = ", ".join(
        f"{described[label]['label']} ({separation:.2f} of the best)"
        for label, separation in others.values()
    )
    states = "; ".join(state(label) for label in (leader, *(lab for lab, _ in others.values())))
    return (
        f"near-tied with {tied}: these machines made the same units, and neither their sensors "
        f"nor a breakdown tells which one caused the claims ({states}); inspect them too"
    )


def _days(value: float) -> str:
    return "unbounded" if not math.isfinite(value) else f"{value:.0f}"


def _unique(refs: list[EntityRef]) -> list[EntityRef]:
    seen: set[tuple[str, str, str | None]] = set()
    out = []
    for ref in refs:
        key = (ref.type, ref.external_id, ref.space)
        if key not in seen:
            seen.add(key)
            out.append(ref)
    return out


def _dominant_mode(claimed: pd.DataFrame, modes: dict[str, str]) -> str | None:
    known = [modes.get(c) for c in claimed["claim"]]
    counted = Counter(str(m) for m in known if m and m != "unknown")
    return counted.most_common(1)[0][0] if counted else None


def _material_names(data: FieldData) -> dict[tuple[str, str], str]:
    return {
        (space, identifier): name
        for (kind, space, identifier), name in data.names.items()
        if kind == "material"
    }


def _lot_material(data: FieldData, space: Any, lot: Any) -> tuple[str, str] | None:
    rows = data.lots[(data.lots["lot_space"] == space) & (data.lots["lot"] == lot)]
    rows = rows[rows["material"].notna()]
    if rows.empty:
        return None
    return (str(space), str(rows["material"].iloc[0]))


def _breakdowns(store: Store) -> pd.DataFrame:
    """Breakdowns of machines: corrective maintenance orders and downtime events, by equipment.

    A maintenance order written in another silo names the machine its own way; an approved link
    resolves it to the equipment the operations name.
    """
    frame = store.query(
        """
        WITH links AS (
            SELECT source_space, source_identifier, any_value(target_external_id) AS equipment,
                   any_value(target_space) AS equipment_space
            FROM annotation WHERE status = 'approved' AND target_type = 'asset'
            GROUP BY ALL
        ),
        orders AS (
            SELECT coalesce(l.equipment, m.asset) AS equipment,
                   CASE WHEN l.equipment IS NULL THEN m.space ELSE l.equipment_space END
                       AS equipment_space,
                   coalesce(m.actual_start, m.planned_start) AS start,
                   'corrective maintenance order ' || m.external_id AS what
            FROM maintenance_order m
            LEFT JOIN links l ON l.source_space = m.space AND l.source_identifier = m.asset
            WHERE m.order_type = 'corrective'
        ),
        downtime AS (
            SELECT coalesce(l.equipment, e.asset) AS equipment,
                   CASE WHEN l.equipment IS NULL THEN e.space ELSE l.equipment_space END
                       AS equipment_space,
                   e.start_time AS start,
                   'downtime ' || coalesce(e.reason, '') AS what
            FROM event e
            LEFT JOIN links l ON l.source_space = e.space AND l.source_identifier = e.asset
            WHERE e.event_type = 'downtime'
        )
        SELECT * FROM orders WHERE start IS NOT NULL
        UNION ALL SELECT * FROM downtime WHERE start IS NOT NULL
        ORDER BY start
        """
    )
    frame["start"] = pd.to_datetime(frame["start"])
    return frame


__all__ = [
    "AGENT",
    "Cluster",
    "DATA_GAP",
    "DESIGN_EFFECT",
    "FAILURE_CLUSTER",
    "FIELD_RELIABILITY",
    "ServiceAgent",
    "ServiceDataWarning",
    "ServiceReview",
]
