"""The maintenance agent: which machines behave abnormally, how long they have left, what to do.

It reads the factory model, never the raw files: historian series grouped into assets by the
model's links (never by their ids), linked to equipment (approved annotations, else the MES
running states), the
product being made as the operating regime and long downs as the moments wear starts again.

For each asset it keeps versions of an :class:`AssetHealthModel` in a
:class:`~factorybrain.engines.model_registry.ModelRegistry`: a new version is trained on the first
running hours after each repair or planned maintenance (when the machine is known to be healthy),
with the asset class's limits as the fallback when the asset has too little healthy history of its
own. Every version scores only the data that came after it was trained, so a replay over history
warns exactly when a live run would have.

Live, the agent is incremental (:meth:`MaintenanceAgent.update`, called by ``run`` whenever the
orchestrator hands it new datapoints): per asset it keeps the model versions in use, the hour up
to which it judged and the hourly judgements, scores only the hours that arrived since, and hands
out only alarms it did not hand out before; ingesting data in chunks finds what one replay finds.

Findings:

* ``maintenance.anomaly``: several sensors have left their healthy range together for hours
  (persistence and hysteresis by :class:`~factorybrain.engines.anomaly.AlarmLogic`), with the
  sensors that drive it; a single sensor moving alone, a stuck or missing one, is a data problem
  and never a failure warning;
* ``maintenance.rul_low``: the degradation trend reaches the failure level within ``horizon``,
  with the remaining life, its interval and the failure probability; its recommendation is a
  ``maintenance_order.create`` whose latest safe date holds the failure risk under ``risk``;
* ``maintenance.sensor_trend``: one sensor climbs or falls steadily for days since the last
  repair (:func:`~factorybrain.agents.maintenance._trend.sensor_trends`), whether or not the
  health model uses that sensor: wear that shows in one quantity only, or a drifting sensor;
* ``maintenance.no_model``: an asset whose data cannot train a model, with the reason (too few
  readings, too short a history, no linked series), so that no asset is left unwatched in silence.

Findings age: on every run the agent looks at its open and acknowledged findings and resolves
those that no longer hold (:meth:`MaintenanceAgent.resolutions`), each with the reason in the
audit log: the machine was repaired (naming the completed maintenance order when one matches),
its alarm has been off for a day of judged running hours, the trending sensor is back within its
normal band, or a health model now watches the asset. A warning whose alarm is still on, or that
went quiet only because the machine stopped, stays open.

Any historian works: readings are put on each device's own grid (1 s averaged to minutes, 15
minutes kept at 15 minutes), and an hour is judged on a third of the readings its grid holds.

Example::

    from factorybrain.agents.maintenance import MaintenanceAgent
    report = MaintenanceAgent().scan(store)          # every asset, replayed over its history
    for finding in report.findings: print(finding.kind, finding.subject, finding.created_at)
"""

from __future__ import annotations

import dataclasses
import math
import re
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import joblib
import numpy as np
import pandas as pd

from factorybrain import compute
from factorybrain.agents.core._agent import AgentContext, BaseAgent
from factorybrain.agents.core._contract import (
    ACTIVE_STATUSES,
    EntityRef,
    Evidence,
    Finding,
    Recommendation,
    data_gap,
    stable_id,
)
from factorybrain.agents.core._telemetry import (
    AssetData,
    iter_assets,
    load_assets,
    unlinked_series,
)
from factorybrain.agents.maintenance._model import AssetHealthModel
from factorybrain.agents.maintenance._trend import SensorTrend, sensor_trends
from factorybrain.engines.anomaly import AlarmLogic
from factorybrain.engines.model_registry import ModelRecord, ModelRegistry
from factorybrain.engines.rul import failure_probability, latest_safe_date
from factorybrain.exceptions import EngineError, StoreError
from factorybrain.store import Store

#: What a scan of the machines' health reads: a scan holds until one of them is written.
HEALTH_TABLES = ("annotation", "asset", "datapoint", "event", "maintenance_order", "time_series")

AGENT = "maintenance"
#: Hours right after a repair in which the machine warms up and is not used to learn from.
SETTLE = timedelta(hours=1)
#: Past degradation episodes needed to read remaining life from their durations.
MIN_EPISODES = 3
#: An alarm raised again this soon after it cleared, with no repair between, continues the episode.
REJOIN = pd.Timedelta(hours=24)
#: How far before an asset's watermark an update reads, for the rows its checks look back over.
STREAM_CONTEXT = pd.Timedelta(days=3)
#: The file, next to an asset's model versions, that keeps its streaming state.
STATE_FILE = "stream_state.joblib"
#: Readings (rows times signals) a replay holds at once: it reads, fits and judges the assets a
#: batch of about this many readings at a time and keeps only their model versions and hourly
#: judgements, so a plant of any size replays in the memory of one batch (some 2 GB).
BATCH_READINGS = 25_000_000


@dataclass
class Episode:
    """One stretch of hours in which an asset's alarm was on."""

    asset: AssetData
    start: pd.Timestamp
    end: pd.Timestamp
    hours: pd.DataFrame
    model: ModelRecord
    closed_by_reset: bool = False


@dataclass
class RemainingLife:
    """Remaining life of a degrading asset, in hours from ``at``."""

    at: pd.Timestamp
    hours: float
    lower: float
    upper: float
    probability: float
    horizon_hours: float
    latest_safe: pd.Timestamp
    level: float
    failure_level: float
    slope_per_hour: float
    trend_t: float = 0.0


@dataclass
class Scored:
    """One asset judged: its data, its model versions in use and its hourly judgements.

    ``window`` is the start of the training window after the last reset while it is still
    filling (None once its version exists); its training rows are ``window_rows`` before
    ``counted_from`` plus those of ``stamps`` (the training rows read) from then on.
    ``drift_open``: a regime's retraining window is still filling.
    """

    asset: AssetData
    plan: list[tuple[Any, ...]]
    hours: pd.DataFrame
    window: pd.Timestamp | None = None
    window_rows: int = 0
    counted_from: pd.Timestamp | None = None
    stamps: np.ndarray | None = None
    drift_open: bool = False
    trends: list[SensorTrend] | None = None
    """The asset's single-sensor trends, when they were found with its judgement."""
    read: HistoryRead | None = None
    """What a replay read of the asset's history (None: judged from its kept state)."""


@dataclass(frozen=True)
class HistoryRead:
    """What a replay read of an asset, kept once its readings are let go.

    Attributes:
        readings: Rows read (timestamps on the asset's grid).
        running: Rows in which the machine was producing.
        first: The first row's timestamp.
        last: The last row's timestamp.
        has_regimes: Whether any row had an operating regime (a product).
    """

    readings: int
    running: int
    first: pd.Timestamp
    last: pd.Timestamp
    has_regimes: bool

    @classmethod
    def of(cls, asset: AssetData) -> HistoryRead:
        """The summary of ``asset``'s readings (it has at least one row)."""
        return cls(
            readings=len(asset.frame),
            running=int(asset.running.sum()),
            first=pd.Timestamp(asset.frame.index[0]),
            last=pd.Timestamp(asset.frame.index[-1]),
            has_regimes=bool(_in_a_regime(asset).any()),
        )

    @property
    def hours(self) -> float:
        """Hours from the first row to the last."""
        return (self.last - self.first).total_seconds() / 3600.0


@dataclass
class AssetState:
    """What the agent keeps of one asset between two runs, so a run scores only new data.

    Attributes:
        asset: The asset's link, class, regimes flag, resets and series (no sensor data).
        watermark: Start of the first hour not judged for good yet; hours before are final.
        hours: The final hourly judgements (before ``watermark``).
        plan: ``(available, record, reason)`` of the model versions in use, oldest first.
        window: Start of the training window after the last reset while it fills (its version
            does not exist yet), else None.
        window_rows: Training rows that window holds before ``watermark``.
        drift_open: The retraining window of a regime never seen was still filling: the next
            run replays the asset's history.
        has_regimes: Whether the asset's data had operating regimes (products).
        emitted: Ids of the findings and recommendations already handed out.
        read_from: Where the next update starts reading: early enough for the rows its
            stuck and gap checks look back over (None: ``STREAM_CONTEXT`` before the watermark).
    """

    asset: AssetData
    watermark: pd.Timestamp
    hours: pd.DataFrame
    plan: list[tuple[pd.Timestamp, ModelRecord, str]]
    window: pd.Timestamp | None
    window_rows: int
    drift_open: bool
    has_regimes: bool
    emitted: set[str] = field(default_factory=set)
    read_from: pd.Timestamp | None = None


@dataclass
class ScanReport:
    """What a scan found, per asset and in total."""

    findings: list[Finding] = field(default_factory=list)
    recommendations: list[Recommendation] = field(default_factory=list)
    episodes: list[Episode] = field(default_factory=list)
    assets: list[dict[str, Any]] = field(default_factory=list)
    registry: ModelRegistry | None = None
    #: Findings about the data and single sensors (``maintenance.no_model``,
    #: ``maintenance.sensor_trend``), also in :attr:`findings`; handed out once each.
    notices: list[Finding] = field(default_factory=list)
    #: Every asset judged, by device: its resets (repairs) and hourly judgements.
    scored: dict[str, Scored] = field(default_factory=dict)
    #: The end of the data the scan read (what it takes as "now" when none is given).
    until: datetime | None = None

    @property
    def items(self) -> list[Finding | Recommendation]:
        """Findings, then recommendations, as the orchestrator takes them."""
        return [*self.findings, *self.recommendations]


class MaintenanceAgent(BaseAgent):
    """Anomalies, remaining life and maintenance orders for every asset of the historian.

    Args:
        train_hours: Running hours after each repair or maintenance that train a model version.
        drift_hours: Running hours of a regime never seen in training that retrain the model.
        min_healthy_hours: Judged hours an asset needs to use its own limits; fewer, and its
            asset class's limits are used (the fallback).
        raise_hours: Hours out of ``window_hours`` with evidence above 1 that raise the alarm.
        window_hours: Voting window of the alarm.
        clear_hours: Consecutive calm hours that clear the alarm.
        horizon: ``maintenance.rul_low`` when failure within this horizon is likely enough.
        rul_probability: Failure probability within ``horizon`` that makes a ``rul_low``.
        risk: Accepted probability of failing before the recommended latest safe date.
        lookback: How much history :meth:`run` reads before "now".
        registry: Where model versions are kept (in memory when None).
        space: Only the time series of this space; default every space with datapoints.
        inspection_hours: Length of the inspection order proposed for a machine whose process
            drifts (``quality.drift``) when its health proposes no order of its own.
    """

    name = AGENT
    subscriptions = ("quality.drift",)
    #: A newer warning of a machine replaces the older ones: one open warning per machine.
    supersedes: tuple[str, ...] = ("maintenance.anomaly", "maintenance.rul_low")
    schedule = timedelta(hours=1)
    watches = ("datapoint",)

    def __init__(
        self,
        *,
        train_hours: int = 36,
        drift_hours: int = 8,
        min_healthy_hours: int = 12,
        raise_hours: int = 3,
        window_hours: int = 4,
        clear_hours: int = 6,
        horizon: timedelta = timedelta(days=7),
        rul_probability: float = 0.2,
        risk: float = 0.05,
        lookback: timedelta | None = None,
        registry: ModelRegistry | None = None,
        space: str | None = None,
        inspection_hours: float = 2.0,
    ) -> None:
        self.train_hours = train_hours
        self.drift_hours = drift_hours
        self.min_healthy_hours = min_healthy_hours
        self.raise_hours = raise_hours
        self.window_hours = window_hours
        self.clear_hours = clear_hours
        self.horizon = horizon
        self.rul_probability = rul_probability
        self.risk = risk
        self.lookback = lookback
        self.registry = registry
        self.space = space
        self.inspection_hours = inspection_hours
        self._reaction_scan: tuple[tuple[int, int | None, datetime], ScanReport] | None = None
        self._windows: dict[str, tuple[pd.Timestamp | None, bool]] = {}
        self._states: dict[str, AssetState] = {}
        self._live_registry: ModelRegistry | None = None
        self._untrained: dict[str, list[str]] = {}
        #: Each device's readings since its last repair as the trend check last read them.
        self._since_repair: dict[str, AssetData] = {}
        #: What the last update read of each device (the new hours and a little before).
        self._recent: dict[str, AssetData] = {}
        self._noticed: set[str] = set()
        self._open_trends: set[str] = set()
        #: The latest reading of each sensor trend found, by the id of its finding.
        self._trends: dict[str, SensorTrend] = {}
        self._equipment: list[tuple[str, str]] = []

    # -- the agent protocol ---------------------------------------------------------------
    def run(self, context: AgentContext) -> Iterable[Finding | Recommendation]:
        """Judge the data that arrived since the last run; hand out only new alarms.

        The first run replays each asset's history (from ``lookback`` before now when set)
        and hands out what is still open now; later runs score only the new hours of each
        asset (see :meth:`update`). The agent's open and acknowledged findings that no longer
        hold come back resolved, each with its reason (see :meth:`resolutions`).
        """
        now = context.now()
        report, items = self.update(context.store, end=now)
        active = [
            finding
            for status in ACTIVE_STATUSES
            for finding in context.records.findings(agent=AGENT, status=status, limit=None)
        ]
        return [
            *items,
            *self._unlinked(context.store, now),
            *self.resolutions(context.store, report, active, now=now),
        ]

    def resolutions(
        self,
        store: Store,
        report: ScanReport,
        active: Iterable[Finding],
        *,
        now: datetime | None = None,
    ) -> list[Finding]:
        """The findings of ``active`` that no longer hold, as resolved findings saying why.

        Judged on what ``report`` (a :meth:`scan` or :meth:`update` up to ``now``) knows of each
        asset, and on the completed maintenance orders of the store:

        - ``maintenance.anomaly`` and ``maintenance.rul_low``: resolved when the machine was
          repaired after the episode began (a long down it came back from, or a completed
          maintenance order after which the alarm went off), or when its alarm has been off
          for at least a day of judged running hours. An alarm still on, or one that went quiet
          because the machine stopped running, keeps the finding open.
        - ``maintenance.sensor_trend``: resolved by a repair after the stretch it was found in,
          or when the sensor has been back within its normal band for a day of running.
        - ``maintenance.no_model``: resolved once a health model watches the asset.

        Each resolved finding keeps its id; its evidence holds the reason (``text``), the
        maintenance order that repaired the machine (``refs``) and the figures, which the
        orchestrator writes into the audit entry of the resolution. Findings of other agents,
        and of assets the report did not judge, are left alone.

        Args:
            store: The factory store (for the completed maintenance orders).
            report: What the latest scan or update judged.
            active: The open and acknowledged findings to look at.
            now: The moment judged (default: the end of the data the report read).
        """
        active = [finding for finding in active if finding.agent == AGENT]
        if not active:
            return []
        moment = (
            pd.Timestamp(now) if now is not None else pd.Timestamp(report.until or pd.Timestamp.max)
        )
        devices: dict[str, list[Scored]] = {}
        for item in report.scored.values():
            devices.setdefault(item.asset.asset_id, []).append(item)
        episodes = {(e.asset.asset_id, e.start.isoformat()): e for e in report.episodes}
        models: dict[str, int] = {}
        for row in report.assets:
            models[row["asset"]] = models.get(row["asset"], 0) + int(row["model_versions"])
        repairs = _Repairs(store, moment)
        out = []
        for finding in active:
            machine = finding.subject.external_id
            if machine not in devices:
                continue
            if finding.kind in ("maintenance.anomaly", "maintenance.rul_low"):
                over = self._warning_over(
                    finding, episodes.get((machine, finding.dedup_key)), devices[machine],
                    report.episodes, repairs, moment,
                )  # fmt: skip
            elif finding.kind == "maintenance.sensor_trend":
                over = self._trend_over(finding, devices[machine], repairs, moment)
            elif finding.kind == "maintenance.no_model" and models.get(machine, 0):
                versions = models[machine]
                over = Evidence(
                    (),
                    {"model_versions": float(versions)},
                    f"{devices[machine][0].asset.shown}: a health model watches it now "
                    f"({versions} version{'s' if versions != 1 else ''}).",
                )
            else:
                over = None
            if over is not None:
                out.append(dataclasses.replace(finding, status="resolved", evidence=over))
        return out

    def _warning_over(
        self,
        finding: Finding,
        episode: Episode | None,
        items: list[Scored],
        every_episode: list[Episode],
        repairs: _Repairs,
        now: pd.Timestamp,
    ) -> Evidence | None:
        """Why an anomaly or remaining-life warning no longer holds; None while it does."""
        shown = items[0].asset.shown
        since = pd.Timestamp(finding.created_at) if finding.created_at else None
        if episode is None:  # its episode is not in the data judged (before a lookback...)
            mine = {item.asset.device for item in items}
            if since is None or any(
                _still_open(e, now) for e in every_episode if e.asset.device in mine
            ):
                return None
            # the first reset is where the data read begins, not a repair
            resets = sorted(
                pd.Timestamp(r) for i in items for r in i.asset.resets[1:] if since < r <= now
            )
            if not resets:
                return None
            return _repaired(shown, repairs.near(finding.subject, resets[0], since), resets[0])
        first_hour = pd.Timestamp(episode.hours.index[0])
        if episode.closed_by_reset:
            back = min(
                (pd.Timestamp(r) for r in episode.asset.resets if pd.Timestamp(r) > first_hour),
                default=episode.end,
            )
            if back > now:
                return None
            return _repaired(shown, repairs.near(finding.subject, back, first_hour), back)
        hours = next(i.hours for i in items if i.asset.device == episode.asset.device)
        if not len(hours) or episode.end > min(pd.Timestamp(hours.index.max()), now):
            return None  # the alarm is still on
        later = [
            e.start
            for e in every_episode
            if e.asset.device == episode.asset.device and e.start > episode.end
        ]
        until = min([now, *later])
        judged = hours.index[
            (hours.index >= episode.end)
            & (hours.index < until)
            & hours["evidence"].notna().to_numpy()
        ]
        # a repair after which the alarm went off (it clears after ``clear_hours`` calm hours),
        # or after it had gone off already, with the machine judged running since
        clear = pd.Timedelta(hours=self.clear_hours + 1)
        order = repairs.after(finding.subject, max(since or first_hour, episode.end - clear), until)
        calm = 0 if order is None else int((judged >= order.finished).sum())
        if order is not None and calm:
            repaired = _repaired(shown, order)
            return Evidence(
                repaired.refs,
                {"calm_hours": float(calm)},
                f"{repaired.text[:-1]}; no alarm since {episode.end:%Y-%m-%d %H:%M} UTC ({calm} "
                f"judged running hour{'s' if calm != 1 else ''} since the repair).",
            )
        if len(judged) < REJOIN / pd.Timedelta(hours=1):
            return None  # quiet, but not for a day of running: it may have stopped broken
        return Evidence(
            (),
            {"calm_hours": float(len(judged))},
            f"{shown}: no alarm since {episode.end:%Y-%m-%d %H:%M} UTC: its sensors have been "
            f"within their healthy range for {len(judged)} judged running hours.",
        )

    def _trend_over(
        self, finding: Finding, items: list[Scored], repairs: _Repairs, now: pd.Timestamp
    ) -> Evidence | None:
        """Why a sensor trend no longer holds (a repair, the sensor back); None while it does."""
        shown = items[0].asset.shown
        trend = self._trends.get(finding.id)
        found = _TREND_KEY.match(finding.dedup_key)
        if trend is not None:
            stretch, signal = trend.reset, trend.signal
        elif found is not None:
            stretch, signal = pd.Timestamp(found["reset"]), found["signal"]
        else:
            return None
        # the first reset is where the data read begins, not a repair
        resets = sorted(
            pd.Timestamp(r) for i in items for r in i.asset.resets[1:] if stretch < r <= now
        )
        if resets:
            since = pd.Timestamp(finding.created_at) if finding.created_at else stretch
            repaired = _repaired(shown, repairs.near(finding.subject, resets[0], since), resets[0])
            return Evidence(
                repaired.refs,
                repaired.numbers,
                f"{repaired.text[:-1]}: the {signal} trend before it is over.",
            )
        if trend is None or trend.normal_since is None or trend.normal_since > now:
            return None
        return Evidence(
            (),
            {"baseline": trend.baseline},
            f"{shown}: {signal} is back within its normal band around {trend.baseline:.4g} "
            f"since {trend.normal_since:%Y-%m-%d %H:%M} UTC, for at least a day of running.",
        )

    @staticmethod
    def _unlinked(store: Store, at: datetime | None) -> list[Finding]:
        """A finding per space whose series no link puts on an asset: they are not watched."""
        found = []
        for space, group in unlinked_series(store).groupby("space", sort=True):
            ids = list(group["external_id"])
            shown = ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
            found.append(
                data_gap(
                    AGENT,
                    f"{len(ids)} series of space {space!r} ({shown}) are on no asset: neither "
                    "their own asset nor a link of the model says which machine they measure, "
                    "so they are not watched. Review the suggested links (factorybrain match "
                    "list) or map the asset in the historian's mapping.",
                    f"unlinked:{space}",
                    at,
                    title=f"{len(ids)} series of {space} are on no asset",
                    numbers={"series": float(len(ids))},
                )
            )
        return found

    def react(self, finding: Finding, context: AgentContext) -> Iterable[Finding | Recommendation]:
        """A quality drift on a machine: look at its health now, and have it inspected.

        The health model's open findings and orders of that machine come first; when they
        propose no order for it, an inspection order does (the drift may come from the machine
        although its sensors look healthy), for the engineer to approve.
        """
        report = self._scan_for_reactions(context.store, context.now())
        subject = finding.subject.external_id
        items = [
            item
            for item in _open_items(report, pd.Timestamp(context.now()))
            if (
                item.subject.external_id
                if isinstance(item, Finding)
                else item.parameters.get("asset")
            )
            == subject
        ]
        ordered = any(isinstance(item, Recommendation) for item in items)
        if finding.subject.type == "asset" and not ordered:
            items.append(self._inspection(finding, context.now()))
        return items

    def _scan_for_reactions(self, store: Store, end: datetime) -> ScanReport:
        """One scan of the plant per moment and state of its data, shared by every reaction.

        A review that finds many drifts routes each here; the health of the machines is the same
        for all of them until new data arrives.
        """
        generation = store.generation_of(HEALTH_TABLES)
        key = (id(store), generation, end)
        if generation is not None and self._reaction_scan is not None:
            scanned_key, scanned = self._reaction_scan
            if scanned_key == key:
                return scanned
        report = self.scan(store, end=end)
        self._reaction_scan = (key, report)
        return report

    def _inspection(self, drift: Finding, now: datetime) -> Recommendation:
        """An inspection order for the machine a quality drift names, within the next shift."""
        machine = drift.subject.external_id
        start = drift.created_at or now
        # one inspection per machine and day, however many of its characteristics drift
        key = f"inspect:{machine}:{start:%Y-%m-%d}"
        return Recommendation(
            AGENT,
            (drift.id,),
            "maintenance_order.create",
            parameters={
                "space": "agents",
                "external_id": stable_id("mo", machine, key),
                "asset": machine,
                "planned_start": start,
                "planned_end": start + timedelta(hours=self.inspection_hours),
                "order_type": "inspection",
                "priority": 1 if drift.severity in ("critical", "high") else 2,
                "failure_mode": "quality drift",
                "notes": drift.evidence.text,
            },
            expected_effect={"reason": "the process on this machine drifts out of control"},
            requires_approval=True,
            title=f"Inspect {machine}: its process drifts out of control",
            dedup_key=key,
        )

    # -- the work ----------------------------------------------------------------------------
    def scan(
        self,
        store: Store,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        devices: Sequence[str] | None = None,
    ) -> ScanReport:
        """Replay the history of every asset: train versions, score, warn, estimate life.

        Args:
            store: The factory store.
            start: First timestamp read (None: the beginning).
            end: Timestamp after the last one read (None: the end).
            devices: Only these historian devices.

        Returns:
            A :class:`ScanReport` with every finding and recommendation the replay raised, each
            stamped with the time the data showed it.
        """
        read = self._reader(store, start=start, end=end)
        self._equipment = [] if devices is not None else _equipment(store)
        registry = self.registry or ModelRegistry()
        scored = self._replay(read(devices), registry, read_again=read)
        report = self._conclude(scored, registry)
        report.until = end or _latest_reading(scored)
        if devices is None:
            report.findings.extend(self._unlinked(store, report.until))
        return report

    def update(
        self, store: Store, *, end: datetime | None = None
    ) -> tuple[ScanReport, list[Finding | Recommendation]]:
        """Score what arrived since the last call and return the new findings.

        The agent keeps an :class:`AssetState` per asset (model versions in use, the hour up
        to which it judged, the hourly judgements the alarm logic and remaining life run on).
        A call reads each asset's data from its watermark on (with enough earlier rows for the
        stuck and gap checks), judges the new hours with the version in use and reruns the
        alarm logic on the kept hours, so it finds what a full replay would find. An asset is
        replayed from its whole history instead only when its model versions change: the
        training window after a repair or maintenance has filled (its version comes), a new
        reset cuts a window still filling, or a regime its version never saw runs. Findings and
        recommendations already handed out are not handed out again.

        The first call (no state yet) replays every asset and hands out what is still open at
        ``end``. States live in memory and, with a registry that has a ``root``, next to the
        model versions (``<root>/<device>/stream_state.joblib``), so a restarted agent goes on.

        Args:
            store: The factory store.
            end: Now: timestamp after the last one read (None: the end of the data).

        Returns:
            The report (its findings: those of episodes still going since the last call) and
            the new findings and recommendations.
        """
        registry = self._registry_for_updates()
        first_run = not self._states
        generation = store.generation_of(HEALTH_TABLES)  # before reading: a change misses
        self._equipment = _equipment(store)
        if first_run:
            start = None
            if self.lookback is not None and end is not None:
                start = (pd.Timestamp(end) - self.lookback).to_pydatetime()
            read = self._reader(store, start=start, end=end)
            scored = self._replay(read(None), registry, read_again=read)
            since: dict[str, pd.Timestamp] = {}
        else:
            scored, since = self._advance(store, end, registry)
        report = self._conclude(scored, registry, since=None if first_run else since)
        report.until = end or _last_hour(scored).to_pydatetime()
        if first_run and self.lookback is None and end is not None and generation is not None:
            # this replay is the scan a reaction at this moment runs (every asset's whole
            # history up to ``end``): the reactions of this run share it instead of replaying
            self._reaction_scan = ((id(store), generation, end), report)
        if not first_run:
            streamed = self._streamed_trends(store, scored, end)
            report.notices.extend(streamed)
            report.findings.extend(streamed)
        now = pd.Timestamp(end) if end is not None else None
        if first_run:
            fresh = _open_items(report, now if now is not None else _last_hour(scored))
        else:
            fresh = self._new_items(report, since)
        notices = {f.id for f in report.notices}
        fresh = [item for item in fresh if item.id not in notices]
        emitted = set().union(self._noticed, *(s.emitted for s in self._states.values()))
        fresh += [
            f
            for f in report.notices
            if f.id not in emitted
            and (f.kind != "maintenance.sensor_trend" or f.id in self._open_trends)
        ]
        self._noticed |= {f.id for f in report.notices}
        self._keep(scored, end)
        for state in self._states.values():
            state.emitted |= {item.id for item in fresh if _asset_of(item) == state.asset.asset_id}
        self._save_states(registry)
        return report, fresh

    def _reader(
        self, store: Store, *, start: datetime | None = None, end: datetime | None = None
    ) -> Callable[[Sequence[str] | None], Iterator[AssetData]]:
        """Reads the given devices' history (None: every device's) from ``start`` to ``end``."""

        def read(devices: Sequence[str] | None) -> Iterator[AssetData]:
            return iter_assets(store, start=start, end=end, space=self.space, devices=devices)

        return read

    def _registry_for_updates(self) -> ModelRegistry:
        """The registry kept across runs (the given one, else one in memory for this agent)."""
        if self._live_registry is None:
            self._live_registry = self.registry or ModelRegistry()
            self._load_states(self._live_registry)
        return self._live_registry

    def _advance(
        self, store: Store, end: datetime | None, registry: ModelRegistry
    ) -> tuple[dict[str, Scored], dict[str, pd.Timestamp]]:
        """Judge the new hours of every asset with a state; replay the others in full."""
        since = {device: state.watermark for device, state in self._states.items()}
        read_from = min(
            state.read_from or state.watermark - STREAM_CONTEXT for state in self._states.values()
        )
        links = {device: state.asset for device, state in self._states.items()}
        recent = load_assets(
            store, start=read_from.to_pydatetime(), end=end, space=self.space, links=links
        )
        self._recent = {asset.device: asset for asset in recent}
        scored: dict[str, Scored] = {}
        replay: list[str] = []  # assets whose model versions may change: replayed in full
        for asset in recent:
            state = self._states.get(asset.device)
            item = None if state is None else self._score_new(asset, state)
            if item is None:
                replay.append(asset.device)
                continue
            scored[asset.device] = item
        for device, state in self._states.items():
            if device not in scored and device not in replay:  # no new data
                scored[device] = Scored(
                    state.asset,
                    _plan_of(state),
                    state.hours,
                    state.window,
                    state.window_rows,
                    state.watermark,
                    None,
                    state.drift_open,
                )
        if replay:
            class_limits: dict[str, list[tuple[pd.Timestamp, pd.Series]]] = {}
            for item in scored.values():
                for available, record, *_ in item.plan:
                    if record.scope == "asset":
                        class_limits.setdefault(item.asset.asset_class, []).append(
                            (available, record.model.limits_)
                        )
            read = self._reader(store, end=end)
            scored.update(self._replay(read(replay), registry, class_limits, read_again=read))
        return scored, since

    def _score_new(self, asset: AssetData, state: AssetState) -> Scored | None:
        """Judge the hours from the watermark on with the versions in use.

        Returns None when the model versions in use could change with the new data, so the
        asset must be replayed: a regime's retraining window was filling or a regime its
        version never saw runs, the training window after a reset fills up (its version comes),
        or a new reset cuts a window still filling.
        """
        if state.drift_open or not state.plan:
            return None
        # the first row read counts as a reset of the data read; any other unknown one is new
        known = {pd.Timestamp(r) for r in state.asset.resets}
        read_start = pd.Timestamp(asset.frame.index[0])
        new_resets = sorted(
            pd.Timestamp(r)
            for r in asset.resets
            if pd.Timestamp(r) not in known and r != read_start
        )
        if new_resets and (state.window is not None or len(new_resets) > 1):
            return None
        if new_resets and new_resets[0] < state.watermark:
            return None  # a reset reported late, inside hours judged already: replay
        rows = asset.running.copy()
        if state.has_regimes:
            rows &= np.array([r is not None for r in asset.regime], dtype=bool)
            labels = set(_health_model(state.plan[-1][1]).monitor_.regimes_.labels)
            new = asset.frame.index >= state.watermark
            if {r for r in asset.regime[new & asset.running] if r is not None} - labels:
                return None
        frame = asset.frame[rows]
        stamps = frame.index.values
        window, window_rows, counted_from = state.window, state.window_rows, state.watermark
        if new_resets:
            window, window_rows = new_resets[0] + SETTLE, 0
            counted_from = window
        if window is not None:
            since = np.datetime64(max(window, counted_from))
            fresh = len(stamps) - int(np.searchsorted(stamps, since))
            if window_rows + fresh >= self.train_hours * asset.readings_per_hour:
                return None  # the window is full: its version comes now
        keys = asset.regime[rows] if state.has_regimes else None
        context = max(_context_rows(_health_model(record)) for _, record, _ in state.plan)
        lo = max(int(np.searchsorted(stamps, np.datetime64(state.watermark))) - context, 0)
        frame = frame.iloc[lo:]
        keys = None if keys is None else keys[lo:]
        plan = [
            (available, record, record.model, frame, keys, reason)
            for available, record, reason in state.plan
        ]
        hours = _score_plan(_scoring_plan(plan))
        new_hours = hours[hours.index >= state.watermark] if len(hours) else hours
        kept = pd.concat([state.hours, new_hours]) if len(new_hours) else state.hours
        current = _without_readings(state.asset, resets=sorted([*state.asset.resets, *new_resets]))
        return Scored(current, plan, kept, window, window_rows, counted_from, stamps, False)

    def _new_items(
        self, report: ScanReport, since: dict[str, pd.Timestamp]
    ) -> list[Finding | Recommendation]:
        """Findings raised at or after their asset's watermark and not handed out before."""
        devices = {state.asset.asset_id: device for device, state in self._states.items()}
        findings = []
        for finding in report.findings:
            device = devices.get(_asset_of(finding), "")
            state = self._states.get(device)
            mark = since.get(device)
            emitted = state.emitted if state is not None else set()
            if finding.id in emitted:
                continue
            created = pd.Timestamp(finding.created_at) if finding.created_at else None
            if mark is not None and created is not None and created <= mark:
                continue
            findings.append(finding)
        ids = {f.id for f in findings}
        recommendations = [r for r in report.recommendations if set(r.finding_ids) & ids]
        return [*findings, *recommendations]

    def _keep(self, scored: dict[str, Scored], end: datetime | None) -> None:
        """Take each asset's state after this run: final hours up to the last whole hour."""
        for device, item in scored.items():
            last = item.read.last if item.read is not None else None
            if end is not None:
                until = pd.Timestamp(end)
            elif last is not None:
                until = pd.Timestamp(last) + item.asset.step
            else:
                until = self._states[device].watermark
            watermark = until.floor("h")
            previous = self._states.get(device)
            if previous is not None:
                watermark = max(watermark, previous.watermark)
            hours = item.hours[item.hours.index < watermark] if len(item.hours) else item.hours
            window_rows = item.window_rows
            if item.window is not None and item.stamps is not None:
                since = np.datetime64(max(item.window, item.counted_from or item.window))
                window_rows += int(
                    np.count_nonzero(
                        (item.stamps >= since) & (item.stamps < np.datetime64(watermark))
                    )
                )
            asset = item.asset
            if item.read is not None:
                has_regimes = item.read.has_regimes
            else:
                has_regimes = previous is not None and previous.has_regimes
            self._states[device] = AssetState(
                asset=_without_readings(asset),
                watermark=watermark,
                hours=hours,
                plan=[(p[0], p[1], p[5]) for p in item.plan],
                window=item.window,
                window_rows=window_rows,
                drift_open=item.drift_open,
                read_from=_read_from(item, watermark)
                or (None if previous is None else previous.read_from),
                has_regimes=has_regimes,
                emitted=set() if previous is None else previous.emitted,
            )

    def _save_states(self, registry: ModelRegistry) -> None:
        if registry.root is None:
            return
        for device, state in self._states.items():
            folder = registry.root / device
            folder.mkdir(parents=True, exist_ok=True)
            payload = {
                "asset": state.asset,
                "watermark": state.watermark,
                "hours": state.hours,
                "plan": [(a, r.version, reason) for a, r, reason in state.plan],
                "window": state.window,
                "window_rows": state.window_rows,
                "drift_open": state.drift_open,
                "read_from": state.read_from,
                "has_regimes": state.has_regimes,
                "emitted": sorted(state.emitted),
            }
            joblib.dump(payload, folder / STATE_FILE)

    def _load_states(self, registry: ModelRegistry) -> None:
        if registry.root is None or not registry.root.is_dir():
            return
        for path in sorted(registry.root.glob(f"*/{STATE_FILE}")):
            payload = joblib.load(path)
            records = {r.version: r for r in registry.versions(path.parent.name)}
            plan = [(a, records[v], reason) for a, v, reason in payload["plan"] if v in records]
            if len(plan) != len(payload["plan"]):
                continue  # a version is gone: replay this asset
            self._states[path.parent.name] = AssetState(
                asset=payload["asset"],
                watermark=payload["watermark"],
                hours=payload["hours"],
                plan=plan,
                window=payload["window"],
                window_rows=payload["window_rows"],
                drift_open=payload["drift_open"],
                read_from=payload.get("read_from"),
                has_regimes=payload["has_regimes"],
                emitted=set(payload["emitted"]),
            )

    def _replay(
        self,
        assets: Iterable[AssetData],
        registry: ModelRegistry,
        class_limits: dict[str, list[tuple[pd.Timestamp, pd.Series]]] | None = None,
        *,
        read_again: Callable[[Sequence[str]], Iterable[AssetData]] | None = None,
    ) -> dict[str, Scored]:
        """Train every version of every asset over its whole history and judge every hour.

        The assets come a batch of about :data:`BATCH_READINGS` readings at a time: a batch's
        models are fitted and its hours judged, one task per asset on the compute pool
        (:mod:`factorybrain.compute`: here, or on a Ray cluster), and only its model versions
        and hourly judgements are kept, not its readings, so a replay needs the memory of one
        batch whatever the plant's size. Versions are registered here, in the assets' order, so
        a run gives the same versions and findings wherever it ran and however it was batched.

        A version with too little healthy history borrows the limits of its asset class
        (:meth:`_fallback`), which are known once every asset is fitted: such an asset is
        judged after all the others, on its readings read again with ``read_again`` (kept in
        memory meanwhile without it). ``class_limits`` adds the limits of assets not replayed
        now (their versions are known).
        """
        work = compute.pool()
        by_class: dict[str, list[tuple[pd.Timestamp, pd.Series]]] = {
            cls: list(items) for cls, items in (class_limits or {}).items()
        }
        order: list[str] = []
        scored: dict[str, Scored] = {}
        waiting: dict[str, tuple[AssetData | None, list[tuple[Any, ...]]]] = {}
        for batch in _batches(assets):
            prepared = [self._versions(asset, registry) for asset in batch]
            fitted = work.map(
                _fit_versions, [job for _, job in prepared], label="maintenance: health models"
            )
            ready = []
            for asset, (versions, (frame, *_)), models in zip(batch, prepared, fitted, strict=True):
                order.append(asset.device)
                plan = self._register(asset, versions, models, registry)
                for available, record, model, *_ in plan:
                    if record is not None:
                        by_class.setdefault(asset.asset_class, []).append(
                            (available, model.limits_)
                        )
                if all(record is not None for _, record, *_ in plan):
                    ready.append((asset, plan, frame))
                else:  # judged once every asset's limits are known
                    kept = asset if read_again is None else None
                    waiting[asset.device] = (kept, _without_data(plan))
            scored.update(self._judge(work, ready))
            del batch, prepared, fitted, ready  # let this batch's readings go before the next
        if waiting:
            again = (
                read_again(list(waiting))
                if read_again is not None
                else (asset for asset, _ in waiting.values() if asset is not None)
            )
            for batch in _batches(again):
                ready = []
                for asset in batch:
                    frame, regimes = _judged_rows(asset)
                    plan = [(*p[:3], frame, regimes, p[5]) for p in waiting[asset.device][1]]
                    ready.append((asset, self._fallback(asset, plan, by_class, registry), frame))
                scored.update(self._judge(work, ready))
        gone = [device for device in waiting if device not in scored]
        if gone:  # deleted between the two reads: said, not dropped in silence
            warnings.warn(
                f"maintenance: the readings of {', '.join(gone)} were gone when read again to "
                "judge them with their class's limits; they are not judged in this run",
                stacklevel=2,
            )
        return {device: scored[device] for device in order if device in scored}

    def _judge(
        self, work: compute.Pool, ready: list[tuple[AssetData, list[tuple[Any, ...]], pd.DataFrame]]
    ) -> dict[str, Scored]:
        """Judge every hour of assets whose plans are final; keep the judgements, not the data."""
        judged = work.map(
            _judge_asset,
            [(asset, _scoring_plan(plan)) for asset, plan, _ in ready],
            label="maintenance: hourly judgements",
        )
        out = {}
        for (asset, plan, frame), (hours, trends) in zip(ready, judged, strict=True):
            window, drift_open = self._windows.get(asset.device, (None, False))
            out[asset.device] = Scored(
                _without_readings(asset),
                _without_data(plan),
                hours,
                window,
                0,
                window,
                _stamps_kept(frame.index.values, window, plan, asset.readings_per_hour),
                drift_open,
                trends,
                HistoryRead.of(asset),
            )
        return out

    def _conclude(
        self,
        scored: dict[str, Scored],
        registry: ModelRegistry,
        since: dict[str, pd.Timestamp] | None = None,
    ) -> ScanReport:
        """Alarm episodes from the hourly judgements, then findings and recommendations.

        With ``since``, only episodes still going at an asset's ``since`` are reported (older
        ones were reported before and cannot change); past episodes still teach remaining life.
        """
        report = ScanReport(registry=registry, scored=scored)
        failure_levels: dict[str, list[tuple[pd.Timestamp, float]]] = {}
        durations: dict[str, list[tuple[pd.Timestamp, float]]] = {}
        for device, item in scored.items():
            asset, hours = item.asset, item.hours
            episodes = self._episodes(asset, hours, item.plan)
            report.episodes.extend(episodes)
            for episode in episodes:
                if episode.closed_by_reset and len(episode.hours):
                    failure_levels.setdefault(asset.asset_class, []).append(
                        (episode.end, float(_level(episode.hours).iloc[-6:].max()))
                    )
                    lasted = (episode.end - episode.start).total_seconds() / 3600.0
                    durations.setdefault(asset.asset_class, []).append((episode.end, lasted))
            report.assets.append(
                {
                    "device": device,
                    "asset": asset.asset_id,
                    "link": asset.link_method,
                    "asset_class": asset.asset_class,
                    "model_versions": len(item.plan),
                    "judged_hours": int(hours["evidence"].notna().sum()) if len(hours) else 0,
                    "episodes": len(episodes),
                }
            )
        for item in scored.values():
            report.notices.extend(self._notices(item))
        report.notices.extend(self._unwatched(scored))
        report.findings.extend(report.notices)
        fleet = [item for items in durations.values() for item in items]
        for episode in report.episodes:
            if since is not None and episode.end < since.get(episode.asset.device, episode.end):
                continue
            cls = episode.asset.asset_class
            levels = [v for ended, v in failure_levels.get(cls, []) if ended < episode.start]
            lasted = [v for ended, v in durations.get(cls, []) if ended < episode.start]
            if len(lasted) < MIN_EPISODES:  # too few of its class: the whole fleet's
                lasted = [v for ended, v in fleet if ended < episode.start]
            findings, recommendations = self._report(episode, levels, lasted)
            report.findings.extend(findings)
            report.recommendations.extend(recommendations)
        return report

    def _notices(self, item: Scored) -> list[Finding]:
        """Single-sensor trends of an asset, and why it has no model when it has none."""
        asset = item.asset
        subject = _subject(asset)
        out = self._trend_notices(asset, item.trends)
        read = item.read
        if item.plan or read is None:
            return out
        reason = self._why_untrained(asset, read)
        out.append(
            Finding(
                AGENT,
                "maintenance.no_model",
                subject,
                severity="low",
                confidence=1.0,
                evidence=Evidence(
                    tuple(EntityRef("time_series", s, asset.space) for s in asset.series.values()),
                    {
                        "readings": float(read.readings),
                        "running_readings": float(read.running),
                        "history_hours": float(read.hours),
                        "readings_per_hour": float(asset.readings_per_hour),
                    },
                    f"{asset.shown}: no health model could be trained, so it is not watched "
                    f"for anomalies or remaining life: {reason}.",
                ),
                dedup_key="no_model",
                created_at=read.last.to_pydatetime(),
                title=f"{asset.shown}: no health model ({reason.split(':')[0]})",
            )
        )
        return out

    def _trend_notices(
        self, asset: AssetData, trends: list[SensorTrend] | None = None
    ) -> list[Finding]:
        """A ``maintenance.sensor_trend`` per sensor trend in the asset's readings.

        ``trends``: those found already (with the asset's judgement); else they are found now.
        """
        out = []
        last_reset = max((pd.Timestamp(r) for r in asset.resets), default=None)
        for trend in sensor_trends(asset) if trends is None else trends:
            finding = self._trend_finding(asset, _subject(asset), trend)
            self._trends[finding.id] = trend
            if last_reset is None or trend.reset >= last_reset:  # no repair since: still open
                self._open_trends.add(finding.id)
            out.append(finding)
        return out

    def _streamed_trends(
        self, store: Store, scored: dict[str, Scored], end: datetime | None
    ) -> list[Finding]:
        """Trends of the assets judged incrementally: their readings since the last repair."""
        out: list[Finding] = []
        for device, item in scored.items():
            if item.read is not None:  # replayed in full: its trends are known already
                continue
            resets = [pd.Timestamp(r) for r in item.asset.resets]
            if end is not None:
                resets = [r for r in resets if r <= pd.Timestamp(end)]
            if not resets:
                continue
            last = max(resets)
            asset = self._readings_since(store, device, item.asset, last, end)
            if asset is not None:
                out.extend(self._trend_notices(asset))
        return out

    def _readings_since(
        self,
        store: Store,
        device: str,
        linked: AssetData,
        repair: pd.Timestamp,
        end: datetime | None,
    ) -> AssetData | None:
        """The device's readings from ``repair`` to ``end``: kept ones, plus only what is new.

        Updates come in order, so what was read at the last update is read again only after a
        new repair (or for a device not seen before).
        """
        kept = self._since_repair.get(device)
        start = repair
        if kept is not None and kept.resets == [repair] and len(kept.frame):
            start = kept.frame.index[-1] + kept.step
        recent = self._recent.get(device)
        if (
            start != repair
            and recent is not None
            and len(recent.frame)
            and (recent.frame.index[0] <= start)
        ):
            # the update read these hours already: take them from what it read
            rows = np.asarray(recent.frame.index >= start)
            loaded = [
                dataclasses.replace(
                    recent,
                    frame=recent.frame[rows],
                    running=recent.running[rows],
                    regime=recent.regime[rows],
                )
            ]
        else:
            loaded = load_assets(
                store,
                start=start.to_pydatetime(),
                end=end,
                space=self.space,
                devices=[device],
                links={device: linked},
            )
        if kept is None or start == repair:
            asset = loaded[0] if loaded else None
        elif not loaded:
            asset = kept
        else:
            new = loaded[0]
            asset = dataclasses.replace(
                new,
                frame=pd.concat([kept.frame, new.frame]),
                running=np.concatenate([kept.running, new.running]),
                regime=np.concatenate([kept.regime, new.regime]),
            )
        if asset is None:
            self._since_repair.pop(device, None)
            return None
        asset.resets = [repair]
        self._since_repair[device] = asset
        return asset

    def _why_untrained(self, asset: AssetData, read: HistoryRead) -> str:
        """The reason an asset's data (``read`` of it) trains no model, in the user's terms."""
        per_hour = asset.readings_per_hour
        need = self.train_hours * per_hour
        running = read.running
        span = read.hours
        step = f"one reading per {asset.step_seconds / 60:g} min"
        if span < self.train_hours:
            return (
                f"too short a history: {span:.1f} h of data, a model needs {self.train_hours} "
                f"running hours after a repair ({step})"
            )
        if running < need:
            return (
                f"too few readings: {running} running readings, a model needs {need} "
                f"({self.train_hours} h at {step})"
            )
        errors = self._untrained.get(asset.device, [])
        if errors:
            return "the training data was unusable: " + "; ".join(errors[:2])
        return (
            f"too few healthy hours: the running readings after each repair never filled "
            f"{self.train_hours} h with {asset.min_readings} readings an hour ({step})"
        )

    def _unwatched(self, scored: dict[str, Scored]) -> list[Finding]:
        """Equipment of the linked space that no historian series is linked to."""
        linked = {item.asset.equipment for item in scored.values() if item.asset.equipment}
        spaces = {space for space, _ in linked}
        if not spaces:
            return []
        equipment = self._equipment
        out = []
        for space, external_id in equipment:
            if space not in spaces or (space, external_id) in linked:
                continue
            out.append(
                Finding(
                    AGENT,
                    "maintenance.no_model",
                    EntityRef("asset", external_id, space),
                    severity="low",
                    confidence=1.0,
                    evidence=Evidence(
                        (),
                        {"linked_series": 0.0},
                        f"{external_id}: no linked series: no historian tag is linked to this "
                        "equipment (by an approved annotation, its series' asset or its running "
                        "states), so it is not watched. Link its tags with 'factorybrain match'.",
                    ),
                    dedup_key="no_model",
                    title=f"{external_id}: no health model (no linked series)",
                )
            )
        return out

    def _trend_finding(self, asset: AssetData, subject: EntityRef, trend: SensorTrend) -> Finding:
        series = asset.series.get(trend.signal)
        days = (trend.detected_at - trend.start).total_seconds() / 86400.0
        return Finding(
            AGENT,
            "maintenance.sensor_trend",
            subject,
            severity="medium",
            confidence=float(min(0.95, 0.5 + 0.5 * abs(trend.tau))),
            evidence=Evidence(
                (EntityRef("time_series", series, asset.space),) if series else (),
                {
                    "kendall_tau": trend.tau,
                    "shift_sigmas": trend.shift_sigmas,
                    "baseline": trend.baseline,
                    "latest": trend.latest,
                    "change_per_day": trend.change_per_day,
                    "days": days,
                },
                f"{asset.shown}: {trend.signal} has been {trend.direction} steadily for "
                f"{days:.1f} days since {trend.start:%Y-%m-%d %H:%M} UTC, from "
                f"{trend.baseline:.4g} to {trend.latest:.4g} ({trend.change_per_day:+.3g} a day, "
                f"{abs(trend.shift_sigmas):.1f} baseline deviations): wear that shows in this "
                "sensor alone, or a drifting sensor; inspect it.",
            ),
            dedup_key=f"{trend.signal}:{trend.direction}:{trend.reset.isoformat()}",
            created_at=trend.detected_at.to_pydatetime(),
            title=f"{asset.shown}: {trend.signal} {trend.direction} for {days:.1f} days",
        )

    def _versions(
        self, asset: AssetData, registry: ModelRegistry
    ) -> tuple[list[tuple[Any, ...]], tuple[pd.DataFrame, np.ndarray | None, list[Any], int]]:
        """The model versions of one asset and what is left to fit of them.

        Returns ``(versions, job)``: a version is ``(available, chosen rows, frame, regimes,
        reason, known record or None)``; the job holds the frame, its regimes, the rows of each
        version not in the registry yet and the minutes an hour needs (see :func:`_fit_versions`).
        """
        self._untrained.pop(asset.device, None)
        frame, regimes = _judged_rows(asset)
        stamps = frame.index.values
        entries: list[tuple[pd.Timestamp, np.ndarray, str]] = []
        window: pd.Timestamp | None = None
        resets = [pd.Timestamp(r) for r in asset.resets]
        for position, reset in enumerate(resets):
            following = resets[position + 1] if position + 1 < len(resets) else None
            lo = np.searchsorted(stamps, np.datetime64(reset + SETTLE))
            hi = (
                len(stamps)
                if following is None
                else np.searchsorted(stamps, np.datetime64(following))
            )
            per_hour = asset.readings_per_hour
            if following is None and lo + self.train_hours * per_hour > hi:
                # the data ended before the window filled: its version comes when it has
                window = reset + SETTLE
                continue
            hi = min(hi, lo + self.train_hours * per_hour)
            if hi - lo < per_hour:
                continue
            available = pd.Timestamp(stamps[hi - 1]) + asset.step
            entries.append(
                (available, np.arange(lo, hi), f"healthy hours after {reset.isoformat()}")
            )
        entries.sort(key=lambda entry: entry[0])
        drift = self._drift_windows(frame, regimes, entries, asset)
        drift_open = any(
            len(rows_) < self.drift_hours * asset.readings_per_hour for _, rows_, _ in drift
        )
        self._windows[asset.device] = (window, drift_open)
        entries += drift
        entries.sort(key=lambda entry: entry[0])
        # A registry that outlives one scan (a live agent) already holds the versions of the
        # windows it saw: reuse them instead of training and saving the same version again.
        known = {(r.trained_at, r.reason.split(";")[0]): r for r in registry.versions(asset.device)}
        versions: list[tuple[Any, ...]] = []
        to_fit: list[np.ndarray] = []
        windows: list[np.ndarray] = []
        for available, rows_, reason in entries:
            windows.append(rows_)
            chosen = np.unique(np.concatenate(windows))
            existing = known.get((available, reason))
            versions.append((available, chosen, frame, regimes, reason, existing))
            if existing is None:
                to_fit.append(chosen)
        return versions, (frame, regimes, to_fit, asset.min_readings)

    def _register(
        self,
        asset: AssetData,
        versions: list[tuple[Any, ...]],
        fitted: list[AssetHealthModel | str],
        registry: ModelRegistry,
    ) -> list[tuple[Any, ...]]:
        """Register the fitted versions of one asset: ``(available, record, model, ...)``.

        A version with too little healthy history gets no record here (:meth:`_fallbacks` may
        give it its class's limits); one that could not be fitted is kept with its reason.
        """
        models = iter(fitted)
        out: list[tuple[Any, ...]] = []
        for available, _, data, keys, reason, existing in versions:
            if existing is not None:
                out.append((available, existing, existing.model, data, keys, reason))
                continue
            model = next(models)
            if isinstance(model, str):
                self._untrained.setdefault(asset.device, []).append(f"{reason}: {model}")
                continue
            record = None
            if model.healthy_hours_ >= self.min_healthy_hours:
                record = registry.register(
                    asset.device, model, scope="asset", reason=reason, at=available
                )
            out.append((available, record, model, data, keys, reason))
        return out

    def _drift_windows(
        self,
        frame: pd.DataFrame,
        regimes: np.ndarray | None,
        entries: list[tuple[pd.Timestamp, np.ndarray, str]],
        asset: AssetData,
    ) -> list[tuple[pd.Timestamp, np.ndarray, str]]:
        """Retraining windows for operating regimes the version in use never saw (drift).

        When a product first runs after the version in use was trained, its rows would all be
        flagged as an unseen regime; the first :attr:`drift_hours` running hours of it train a
        new version (with every healthy window before), which the registry records as retrained
        on drift.
        """
        if regimes is None or not entries:
            return []
        stamps = frame.index.values
        keys = pd.Series(regimes)
        drift = []
        for first, key in keys.drop_duplicates().items():
            rows_ = np.flatnonzero(keys.to_numpy() == key)
            known = [e for e in entries if e[0] <= pd.Timestamp(stamps[first])]
            seen = set()
            for _, window, _ in known:
                seen.update(keys.iloc[window].unique().tolist())
            if not known or key in seen:
                continue
            window = rows_[: self.drift_hours * asset.readings_per_hour]
            if len(window) < asset.readings_per_hour:
                continue
            available = pd.Timestamp(stamps[window[-1]]) + asset.step
            drift.append((available, window, f"drift: regime {key!r} never seen in training"))
        return drift

    def _fallback(
        self,
        asset: AssetData,
        plan: list[tuple[Any, ...]],
        by_class: dict[str, list[tuple[pd.Timestamp, pd.Series]]],
        registry: ModelRegistry,
    ) -> list[tuple[Any, ...]]:
        """Give the asset's versions with too little healthy history its class's limits.

        ``by_class``: the limits of every version of the plant with a record, by asset class,
        with when each became available; a version borrows the median of those available by
        then, or is dropped when there are none.
        """
        fixed = []
        for available, record, model, data, keys, reason in plan:
            if record is None:
                known = [
                    lim for when, lim in by_class.get(asset.asset_class, []) if when <= available
                ]
                if known:
                    limits = pd.concat(known, axis=1).median(axis=1)
                    model.limits_ = limits.reindex(list(model.sensors_)).fillna(model.min_limit)
                    fallback_reason = (
                        f"{reason}; too little healthy history, limits of class "
                        f"{asset.asset_class!r}"
                    )
                    record = next(
                        (
                            r
                            for r in registry.versions(asset.device)
                            if r.trained_at == available and r.reason == fallback_reason
                        ),
                        None,
                    ) or registry.register(
                        asset.device,
                        model,
                        scope="asset_class",
                        reason=fallback_reason,
                        at=available,
                    )
            fixed.append((available, record, model, data, keys, reason))
        return [p for p in fixed if p[1] is not None]

    def _episodes(
        self, asset: AssetData, hours: pd.DataFrame, plan: list[tuple[Any, ...]]
    ) -> list[Episode]:
        if hours.empty:
            return []
        logic = AlarmLogic(
            threshold=1.0, k=self.raise_hours, n=self.window_hours, clear_after=self.clear_hours
        )
        resets = np.array([np.datetime64(pd.Timestamp(r)) for r in asset.resets[1:]])
        reset_position = np.searchsorted(resets, hours.index.values)
        on = np.zeros(len(hours), dtype=bool)
        previous = 0
        for index, (evidence, block) in enumerate(
            zip(hours["evidence"].to_numpy(), reset_position, strict=True)
        ):
            if block != previous:  # a repair or maintenance happened: wear starts again
                logic.reset()
                previous = block
            on[index] = logic.update(float(evidence))
        episodes: list[Episode] = []
        blocks: list[int] = []
        index = 0
        while index < len(on):
            if not on[index]:
                index += 1
                continue
            begin = index
            while index < len(on) and on[index] and reset_position[index] == reset_position[begin]:
                index += 1
            stretch = hours.iloc[begin:index]
            closed = index < len(on) and reset_position[index] != reset_position[begin]
            if index == len(on) and reset_position[begin] < len(resets):
                closed = True
            block = reset_position[begin]
            start = stretch.index[0] + pd.Timedelta(hours=1)
            end = stretch.index[-1] + pd.Timedelta(hours=1)
            previous_episode = episodes[-1] if episodes else None
            if (
                previous_episode is not None
                and blocks[-1] == block
                and start - previous_episode.end <= REJOIN
            ):  # the alarm cleared for a while: still the same condition, one episode
                previous_episode.hours = hours.loc[
                    previous_episode.hours.index[0] : stretch.index[-1]
                ]
                previous_episode.end = end
                previous_episode.closed_by_reset = closed
                continue
            version = int(stretch["version"].iloc[0])
            record = next(p[1] for p in plan if p[1].version == version)
            episodes.append(Episode(asset, start, end, stretch, record, closed))
            blocks.append(block)
        return episodes

    def remaining_life(
        self,
        hours: pd.DataFrame,
        failure_levels: Sequence[float],
        durations: Sequence[float] = (),
    ) -> RemainingLife | None:
        """Remaining life of an episode whose alarm raised at the first of ``hours``.

        With at least :data:`MIN_EPISODES` past episodes (detection to failure, in hours), the
        remaining life is read from them: the 5 %, 50 % and 95 % quantiles of the durations
        longer than the time already elapsed, less that time (a conformal reading of past
        episodes, so the interval is as wide as history says).

        Otherwise the degradation trend is extrapolated: the level (the mean of the two largest
        deviation ratios per hour) over the last day, to the level at which the asset class
        failed before (the median of ``failure_levels``; without history, twice the current
        level, with a wide spread). The interval draws the trend's slope from its standard
        error and the failure level from the spread of past failure levels.
        """
        level = _level(hours).dropna()
        if len(level) < 4:
            return None
        recent = level[level.index >= level.index[-1] - pd.Timedelta(hours=24)]
        if len(recent) < 4:
            recent = level.iloc[-4:]
        x = (recent.index - recent.index[-1]).total_seconds().to_numpy() / 3600.0
        y = recent.to_numpy(dtype=float)
        slope, intercept = np.polyfit(x, y, 1)
        residual = y - (slope * x + intercept)
        spread_x = float(np.sum((x - x.mean()) ** 2))
        slope_se = float(np.sqrt(np.sum(residual**2) / max(len(x) - 2, 1) / max(spread_x, 1e-9)))
        current = float(max(intercept, y[-1]))
        past = np.asarray([v for v in failure_levels if v > 0], dtype=float)
        if len(past):
            log_level, log_spread = float(np.median(np.log(past))), max(np.std(np.log(past)), 0.3)
        else:
            log_level, log_spread = math.log(max(2.0 * current, 2.0)), 1.0
        at = level.index[-1] + pd.Timedelta(hours=1)
        elapsed = (at - hours.index[0] - pd.Timedelta(hours=1)).total_seconds() / 3600.0
        longer = np.asarray([d - elapsed for d in durations if d > elapsed], dtype=float)
        if len(durations) >= MIN_EPISODES and len(longer):
            lower, point, upper = _conformal(longer, 0.9)
        else:
            generator = np.random.default_rng(0)
            slopes = np.maximum(generator.normal(slope, slope_se, 2000), 1e-3)
            levels = np.exp(generator.normal(log_level, log_spread, 2000))
            crossing = np.minimum(np.maximum(levels - current, 0.0) / slopes, 24.0 * 365)
            lower, point, upper = np.quantile(crossing, [0.05, 0.5, 0.95])
        horizon = self.horizon.total_seconds() / 3600.0
        probability = float(failure_probability(point, lower, upper, horizon))
        safe = latest_safe_date(
            point,
            lower,
            upper,
            last_observation=at,
            time_per_unit=timedelta(hours=1),
            risk=self.risk,
        )
        return RemainingLife(
            at,
            float(point),
            float(lower),
            float(upper),
            probability,
            horizon,
            safe,
            current,
            float(math.exp(log_level)),
            float(slope),
            float(slope / slope_se) if slope_se > 0 else float("inf") * np.sign(slope),
        )

    def _report(
        self, episode: Episode, failure_levels: Sequence[float], durations: Sequence[float]
    ) -> tuple[list[Finding], list[Recommendation]]:
        asset = episode.asset
        subject = EntityRef(
            "asset", asset.asset_id, asset.equipment[0] if asset.equipment else None
        )
        first = episode.hours.iloc[: self.raise_hours]
        ratios = first.filter(like="ratio:").abs().max()
        driving = ratios[ratios > 1.0].sort_values(ascending=False)
        series = tuple(
            EntityRef("time_series", asset.series[name.split(":", 1)[1]], asset.space)
            for name in driving.index
            if name.split(":", 1)[1] in asset.series
        )
        numbers = {
            "evidence": float(first["evidence"].max()),
            "anomaly_score": float(np.nanmedian(first["score"]))
            if first["score"].notna().any()
            else 0.0,
            **{f"deviation:{n.split(':', 1)[1]}": float(v) for n, v in driving.items()},
            "model_version": float(episode.model.version),
        }
        names = ", ".join(n.split(":", 1)[1] for n in driving.index)
        key = episode.start.isoformat()
        anomaly = Finding(
            AGENT,
            "maintenance.anomaly",
            subject,
            severity="medium",
            confidence=float(min(0.99, 0.5 + 0.1 * numbers["evidence"])),
            evidence=Evidence(
                (
                    *series,
                    EntityRef("model", f"{episode.model.key}/v{episode.model.version}"),
                ),
                numbers,
                f"{asset.shown}: {names} left their healthy range together for "
                f"{self.raise_hours} of {self.window_hours} hours (model "
                f"{episode.model.scope} v{episode.model.version}).",
            ),
            dedup_key=key,
            created_at=episode.start.to_pydatetime(),
            title=f"{asset.shown} behaves abnormally: {names}",
        )
        findings = [anomaly]
        recommendations: list[Recommendation] = []
        for end in range(4, len(episode.hours) + 1):
            life = self.remaining_life(episode.hours.iloc[:end], failure_levels, durations)
            # a wearing machine gets worse: a level that does not rise is no end of life
            if life is None or life.probability < self.rul_probability or life.trend_t < 2.0:
                continue
            severity = "critical" if life.lower < 24 else "high"
            low = Finding(
                AGENT,
                "maintenance.rul_low",
                subject,
                severity=severity,
                confidence=float(min(0.99, life.probability)),
                evidence=Evidence(
                    (*series, EntityRef("finding", anomaly.id)),
                    {
                        "rul_hours": life.hours,
                        "rul_lower_hours": life.lower,
                        "rul_upper_hours": life.upper,
                        "rul_days": life.hours / 24.0,
                        "failure_probability": life.probability,
                        "horizon_hours": life.horizon_hours,
                        "degradation_level": life.level,
                        "failure_level": life.failure_level,
                        "trend_per_hour": life.slope_per_hour,
                        "trend_t": life.trend_t,
                        "risk": self.risk,
                        "past_episodes": float(len(durations)),
                    },
                    f"{asset.shown}: about {life.hours / 24:.1f} days left "
                    f"(90 % interval {life.lower / 24:.1f} to {life.upper / 24:.1f}); "
                    f"failure within {life.horizon_hours / 24:.0f} days with probability "
                    f"{life.probability:.0%}; maintain before {life.latest_safe:%Y-%m-%d %H:%M} "
                    f"UTC to keep the risk under {self.risk:.0%}.",
                ),
                dedup_key=key,
                created_at=life.at.to_pydatetime(),
                title=f"{asset.shown}: about {life.hours / 24:.1f} days of life left",
            )
            findings.append(low)
            safe = life.latest_safe.to_pydatetime()
            recommendations.append(
                Recommendation(
                    AGENT,
                    (low.id,),
                    "maintenance_order.create",
                    parameters={
                        "space": "agents",
                        "external_id": stable_id("mo", asset.asset_id, key),
                        "asset": asset.asset_id,
                        "planned_start": max(safe - timedelta(hours=4), life.at.to_pydatetime()),
                        "planned_end": safe,
                        "order_type": "predictive",
                        "priority": 1 if severity == "critical" else 2,
                        "failure_mode": f"degradation: {names}",
                        "notes": low.evidence.text,
                    },
                    expected_effect={
                        "failure_probability_before_order": self.risk,
                        "failure_probability_within_horizon_if_not_maintained": life.probability,
                        "latest_safe_date": safe.isoformat(),
                    },
                    requires_approval=True,
                    title=f"Maintain {asset.shown} before {safe:%Y-%m-%d %H:%M} UTC",
                    dedup_key=key,
                )
            )
            break
        return findings, recommendations


#: A sensor trend's dedup key: ``signal:direction:start of its stretch``.
_TREND_KEY = re.compile(r"^(?P<signal>.+):(?:rising|falling):(?P<reset>\d{4}-\d\d-\d\d[T ].*)$")
#: How long after a machine is back in service the order that repaired it may be closed.
ORDER_SLACK = pd.Timedelta(hours=12)


@dataclass(frozen=True)
class _Order:
    """A completed maintenance order: what repaired a machine."""

    space: str
    external_id: str
    order_type: str | None
    finished: pd.Timestamp


class _Repairs:
    """The completed maintenance orders of the store up to ``now``, by every name of a machine.

    An order written in another silo names the machine its own way; an approved link between
    that name and the machine the findings are about makes it the same machine.
    """

    def __init__(self, store: Store, now: pd.Timestamp) -> None:
        self._by_machine: dict[str, list[_Order]] = {}
        self._names: dict[str, set[str]] = {}
        try:
            orders = store.query(
                "SELECT space, external_id, asset, order_type, "
                "coalesce(actual_end, planned_end) AS finished FROM maintenance_order "
                "WHERE status = 'completed' AND asset IS NOT NULL "
                "AND coalesce(actual_end, planned_end) IS NOT NULL ORDER BY finished, external_id"
            )
            links = store.query(
                "SELECT DISTINCT source_identifier, target_external_id FROM annotation "
                "WHERE status = 'approved' AND target_type = 'asset'"
            )
        except StoreError:  # a store without these tables: no order to name
            return
        for row in orders.itertuples(index=False):
            finished = pd.Timestamp(row.finished)
            if finished > now:
                continue
            self._by_machine.setdefault(str(row.asset), []).append(
                _Order(
                    str(row.space),
                    str(row.external_id),
                    None if pd.isna(row.order_type) else str(row.order_type),
                    finished,
                )
            )
        for row in links.itertuples(index=False):
            source, target = str(row.source_identifier), str(row.target_external_id)
            self._names.setdefault(source, set()).add(target)
            self._names.setdefault(target, set()).add(source)

    def _of(self, machine: EntityRef) -> list[_Order]:
        names = {machine.external_id, *self._names.get(machine.external_id, ())}
        return sorted(
            (order for name in names for order in self._by_machine.get(name, ())),
            key=lambda order: (order.finished, order.external_id),
        )

    def near(self, machine: EntityRef, back: pd.Timestamp, since: pd.Timestamp) -> _Order | None:
        """The order finished after ``since`` and closest to ``back`` (in service again)."""
        found = [o for o in self._of(machine) if since < o.finished <= back + ORDER_SLACK]
        return min(found, key=lambda o: abs(o.finished - back), default=None)

    def after(self, machine: EntityRef, since: pd.Timestamp, until: pd.Timestamp) -> _Order | None:
        """The first order finished after ``since`` and by ``until``."""
        return next((o for o in self._of(machine) if since < o.finished <= until), None)


def _repaired(shown: str, order: _Order | None, back: pd.Timestamp | None = None) -> Evidence:
    """Evidence of a repair: the order that did it, else the return to service after a down."""
    if order is not None:
        kind = f" ({order.order_type})" if order.order_type else ""
        return Evidence(
            (EntityRef("maintenance_order", order.external_id, order.space),),
            {},
            f"{shown}: repaired by maintenance order {order.external_id}{kind} on "
            f"{order.finished:%Y-%m-%d}.",
        )
    return Evidence(
        (),
        {},
        f"{shown}: back in service on {back:%Y-%m-%d %H:%M} UTC after a long down, a repair or "
        "maintenance (no completed maintenance order under a name linked to it matches).",
    )


def _still_open(episode: Episode, now: pd.Timestamp) -> bool:
    """Whether an episode is still going at ``now`` (no repair since, alarm on within a day)."""
    return not episode.closed_by_reset and episode.end >= now - REJOIN


def _subject(asset: AssetData) -> EntityRef:
    """The entity a finding about ``asset`` is on: its linked equipment, else its device."""
    return EntityRef(
        "asset", asset.asset_id, asset.equipment[0] if asset.equipment else asset.space
    )


def _equipment(store: Store) -> list[tuple[str, str]]:
    """``(space, external_id)`` of every equipment of the model."""
    frame = store.query("SELECT space, external_id FROM asset WHERE level = 'equipment'")
    return list(zip(frame["space"].astype(str), frame["external_id"].astype(str), strict=True))


def _fit_versions(
    job: tuple[pd.DataFrame, np.ndarray | None, list[np.ndarray], int],
) -> list[AssetHealthModel | str]:
    """Fit one asset's new model versions: a model per window of rows, or why it could not be.

    A task of the compute pool: ``job`` is ``(frame, regimes, windows, min_minutes)``.
    """
    frame, regimes, windows, min_minutes = job
    out: list[AssetHealthModel | str] = []
    for chosen in windows:
        try:
            out.append(
                AssetHealthModel(min_minutes=min_minutes).fit(
                    frame.iloc[chosen], regimes=None if regimes is None else regimes[chosen]
                )
            )
        except EngineError as error:
            out.append(str(error))
    return out


def _scoring_plan(plan: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """What judging needs of a plan: ``(available, version, model, frame, regimes)``."""
    return [(p[0], p[1].version, p[2], p[3], p[4]) for p in plan]


def _score_plan(plan: list[tuple[Any, ...]]) -> pd.DataFrame:
    """Hourly judgement of an asset, each hour by the latest version trained before it."""
    parts = []
    for position, (available, version, model, data, keys) in enumerate(plan):
        until = plan[position + 1][0] if position + 1 < len(plan) else None
        stamps = data.index.values
        lo = np.searchsorted(stamps, np.datetime64(available))
        hi = len(stamps) if until is None else np.searchsorted(stamps, np.datetime64(until))
        if hi - lo < model.min_minutes:
            continue
        block = data.iloc[lo:hi]
        hours = model.hourly(block, regimes=None if keys is None else keys[lo:hi])
        hours["version"] = version
        parts.append(hours)
    if not parts:
        return pd.DataFrame(columns=["evidence"])
    hours = pd.concat(parts)
    return hours[~hours.index.duplicated(keep="last")]


def _judge_asset(
    job: tuple[AssetData, list[tuple[Any, ...]]],
) -> tuple[pd.DataFrame, list[SensorTrend]]:
    """A task of the compute pool: one asset's hourly judgement and its single-sensor trends."""
    asset, plan = job
    return _score_plan(plan), sensor_trends(asset)


def _batches(assets: Iterable[AssetData]) -> Iterator[list[AssetData]]:
    """The assets in batches of about :data:`BATCH_READINGS` readings (at least one asset)."""
    batch: list[AssetData] = []
    held = 0
    for asset in assets:
        batch.append(asset)
        held += asset.frame.size
        if held >= BATCH_READINGS:
            yield batch
            batch, held = [], 0
    if batch:
        yield batch


def _judged_rows(asset: AssetData) -> tuple[pd.DataFrame, np.ndarray | None]:
    """The rows models learn from and judge (running, in a known regime when there are regimes).

    Returns the rows and their regimes (None when the asset has none).
    """
    known = _in_a_regime(asset)
    if not known.any():
        return asset.frame[asset.running], None
    rows = asset.running & known
    return asset.frame[rows], asset.regime[rows]


def _in_a_regime(asset: AssetData) -> np.ndarray:
    """Per row, whether it has an operating regime (a product).

    One comparison in numpy's loop (a regime is a name or None), not a Python one per row: a
    replay asks it of every row twice (the rows judged, and what the read is kept as).
    """
    nothing: Any = None  # numpy's stubs take no None operand; numpy compares it elementwise
    return np.asarray(np.not_equal(np.asarray(asset.regime, dtype=object), nothing), dtype=bool)


def _without_data(plan: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """A replay's plan without the frames and regimes it was fitted and judged on."""
    return [(*p[:3], None, None, p[5]) for p in plan]


def _without_readings(asset: AssetData, resets: list[pd.Timestamp] | None = None) -> AssetData:
    """``asset`` with its link, class, grid, series and ``resets`` (its own) but no readings.

    Copies, not views: an empty slice of a numpy array or a frame would keep all its readings.
    """
    return dataclasses.replace(
        asset,
        frame=asset.frame.iloc[:0].copy(),
        running=asset.running[:0].copy(),
        regime=asset.regime[:0].copy(),
        resets=list(asset.resets if resets is None else resets),
        series=dict(asset.series),
    )


def _stamps_kept(
    stamps: np.ndarray, window: pd.Timestamp | None, plan: list[tuple[Any, ...]], per_hour: int
) -> np.ndarray:
    """The judged rows' timestamps that the asset's state needs after a replay.

    Those from the start of a training window still filling (its rows are counted) and, before
    the last hour, the rows the next update's stuck and gap checks look back over
    (:func:`_read_from`); not the whole history's.
    """
    need = max((_context_rows(_health_model(p[1])) for p in plan), default=0)
    first = len(stamps) - need - 2 * per_hour
    if window is not None:
        first = min(first, int(np.searchsorted(stamps, np.datetime64(window))))
    return stamps[max(first, 0) :]


def _plan_of(state: AssetState) -> list[tuple[Any, ...]]:
    """A kept plan in the shape the replay uses (no data attached)."""
    return [
        (available, record, record.model, None, None, reason)
        for available, record, reason in state.plan
    ]


def _health_model(record: ModelRecord) -> AssetHealthModel:
    """The asset health model a registry record of this agent holds."""
    if not isinstance(record.model, AssetHealthModel):
        raise EngineError(
            f"model {record.key}/v{record.version} is a {type(record.model).__name__}, "
            "not the AssetHealthModel the maintenance agent keeps"
        )
    return record.model


def _read_from(item: Scored, watermark: pd.Timestamp) -> pd.Timestamp | None:
    """The training row ``_context_rows`` before ``watermark``: where the next read starts."""
    if item.stamps is None or not len(item.stamps) or not item.plan:
        return None
    need = max(_context_rows(_health_model(p[1])) for p in item.plan)
    position = int(np.searchsorted(item.stamps, np.datetime64(watermark)))
    return pd.Timestamp(item.stamps[max(position - need, 0)])


def _context_rows(model: AssetHealthModel) -> int:
    """Rows before new data that the stuck and gap checks of ``model`` look back over."""
    monitor = model.monitor_
    limits = np.asarray(monitor.stuck_limit_, dtype=float)
    finite = limits[limits < np.iinfo(np.int64).max]
    stuck = int(finite.max()) if finite.size else 0
    # an hour of readings at the model's grid is at most 3 x the readings an hour needs
    return max(stuck, int(monitor.max_gap)) + model.min_minutes + 3 * model.min_minutes


def _asset_of(item: Finding | Recommendation) -> str:
    """The asset id a finding or recommendation is about."""
    if isinstance(item, Finding):
        return item.subject.external_id
    return str(item.parameters.get("asset", ""))


def _last_hour(scored: dict[str, Scored]) -> pd.Timestamp:
    """The end of the latest judged hour over every asset."""
    ends = [item.hours.index.max() for item in scored.values() if len(item.hours)]
    return (max(ends) + pd.Timedelta(hours=1)) if ends else pd.Timestamp.min


def _conformal(values: np.ndarray, coverage: float) -> tuple[float, float, float]:
    """Median and a central interval of ``values`` with the split-conformal rank correction.

    With few values the ranks fall outside the sample: the interval then reaches 0 below and
    half as far again as the largest value above, rather than pretend to know more.
    """
    ordered = np.sort(values)
    n = len(ordered)
    tail = (1.0 - coverage) / 2.0
    low_rank = math.floor(tail * (n + 1))
    high_rank = math.ceil((1.0 - tail) * (n + 1))
    lower = float(ordered[low_rank - 1]) if low_rank >= 1 else 0.0
    upper = float(ordered[high_rank - 1]) if high_rank <= n else 1.5 * float(ordered[-1])
    return lower, float(np.median(ordered)), upper


def _level(hours: pd.DataFrame) -> pd.Series:
    """Degradation level per hour: the mean of the two largest absolute deviation ratios."""
    ratios = np.sort(np.nan_to_num(hours.filter(like="ratio:").abs().to_numpy(), nan=0.0), axis=1)
    top = ratios[:, ::-1][:, :2]
    level = pd.Series(top.mean(axis=1), index=hours.index)
    return level.where(hours["evidence"].notna())


def _open_items(report: ScanReport, now: pd.Timestamp) -> list[Finding | Recommendation]:
    """Findings of episodes still running at ``now`` (no repair since, alarm on within a day)."""
    open_keys = {
        e.start.isoformat()
        for e in report.episodes
        if not e.closed_by_reset and e.end >= now - REJOIN
    }
    findings = [f for f in report.findings if f.dedup_key in open_keys]
    ids = {f.id for f in findings}
    recommendations = [r for r in report.recommendations if set(r.finding_ids) & ids]
    return [*findings, *recommendations]


__all__ = ["AGENT", "Episode", "MaintenanceAgent", "RemainingLife", "ScanReport"]


def _latest_reading(scored: dict[str, Scored]) -> datetime | None:
    """The time of the latest reading a replay read of any asset (None without readings)."""
    last = [item.read.last for item in scored.values() if item.read is not None]
    return max(last).to_pydatetime() if last else None
