"""The maintenance agent: which machines behave abnormally, how long they have left, what to do.

It reads the factory model, never the raw files: historian series grouped into assets by their tag's
device prefix, linked to equipment (approved annotations, else the MES running states), the
product being made as the operating regime and long downs as the moments wear starts again.

For each asset it keeps versions of an :class:`AssetHealthModel` in a
:class:`~factorybrain.engines.model_registry.ModelRegistry`: a new version is trained on the first
running hours after each repair or planned maintenance (when the machine is known to be healthy),
with the asset class's limits as the fallback when the asset has too little healthy history of its
own. Every version scores only the data that came after it was trained, so a replay over history
warns exactly when a live run would have.

Findings:

* ``maintenance.anomaly``: several sensors have left their healthy range together for hours
  (persistence and hysteresis by :class:`~factorybrain.engines.anomaly.AlarmLogic`), with the
  sensors that drive it; a single sensor moving alone, a stuck or missing one, is a data problem
  and never a failure warning;
* ``maintenance.rul_low``: the degradation trend reaches the failure level within ``horizon``,
  with the remaining life, its interval and the failure probability; its recommendation is a
  ``maintenance_order.create`` whose latest safe date holds the failure risk under ``risk``.

Example::

    from factorybrain.agents.maintenance import MaintenanceAgent
    report = MaintenanceAgent().scan(store)          # every asset, replayed over its history
    for finding in report.findings: print(finding.kind, finding.subject, finding.created_at)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from factorybrain.agents._contract import EntityRef, Evidence, Finding, Recommendation, stable_id
from factorybrain.agents._maintenance_data import AssetData, load_assets
from factorybrain.agents._maintenance_model import AssetHealthModel
from factorybrain.agents._orchestrator import AgentContext, BaseAgent, register_agent
from factorybrain.engines.anomaly import AlarmLogic
from factorybrain.engines.model_registry import ModelRecord, ModelRegistry
from factorybrain.engines.rul import failure_probability, latest_safe_date
from factorybrain.exceptions import EngineError
from factorybrain.store import Store

AGENT = "maintenance"
#: Hours right after a repair in which the machine warms up and is not used to learn from.
SETTLE = timedelta(hours=1)
#: Past degradation episodes needed to read remaining life from their durations.
MIN_EPISODES = 3
#: An alarm raised again this soon after it cleared, with no repair between, continues the episode.
REJOIN = pd.Timedelta(hours=24)


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
class ScanReport:
    """What a scan found, per asset and in total."""

    findings: list[Finding] = field(default_factory=list)
    recommendations: list[Recommendation] = field(default_factory=list)
    episodes: list[Episode] = field(default_factory=list)
    assets: list[dict[str, Any]] = field(default_factory=list)
    registry: ModelRegistry | None = None

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
        space: Historian space.
    """

    name = AGENT
    subscriptions = ("quality.drift",)
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
        space: str = "historian",
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

    # -- the agent protocol ---------------------------------------------------------------
    def run(self, context: AgentContext) -> Iterable[Finding | Recommendation]:
        """Scan the history up to now and report what is still open at the end of it."""
        now = pd.Timestamp(context.now())
        start = None if self.lookback is None else (now - self.lookback).to_pydatetime()
        report = self.scan(context.store, start=start, end=now.to_pydatetime())
        latest = _open_items(report, now)
        return latest

    def react(self, finding: Finding, context: AgentContext) -> Iterable[Finding | Recommendation]:
        """A quality drift on a machine: look at that machine's health now."""
        report = self.scan(context.store, end=context.now())
        subject = finding.subject.external_id
        return [
            item
            for item in _open_items(report, pd.Timestamp(context.now()))
            if not isinstance(item, Finding) or item.subject.external_id == subject
        ]

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
        assets = load_assets(store, start=start, end=end, space=self.space, devices=devices)
        registry = self.registry or ModelRegistry()
        report = ScanReport(registry=registry)
        plans = {asset.device: self._train(asset, registry) for asset in assets}
        self._fallbacks(assets, plans, registry)
        failure_levels: dict[str, list[tuple[pd.Timestamp, float]]] = {}
        durations: dict[str, list[tuple[pd.Timestamp, float]]] = {}
        for asset in assets:
            hours = self._score(asset, plans[asset.device])
            episodes = self._episodes(asset, hours, plans[asset.device])
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
                    "device": asset.device,
                    "asset": asset.asset_id,
                    "link": asset.link_method,
                    "asset_class": asset.asset_class,
                    "model_versions": len(plans[asset.device]),
                    "judged_hours": int(hours["evidence"].notna().sum()) if len(hours) else 0,
                    "episodes": len(episodes),
                }
            )
        fleet = [item for items in durations.values() for item in items]
        for episode in report.episodes:
            cls = episode.asset.asset_class
            levels = [v for ended, v in failure_levels.get(cls, []) if ended < episode.start]
            lasted = [v for ended, v in durations.get(cls, []) if ended < episode.start]
            if len(lasted) < MIN_EPISODES:  # too few of its class: the whole fleet's
                lasted = [v for ended, v in fleet if ended < episode.start]
            findings, recommendations = self._report(episode, levels, lasted)
            report.findings.extend(findings)
            report.recommendations.extend(recommendations)
        return report

    def _train(self, asset: AssetData, registry: ModelRegistry) -> list[tuple[Any, ...]]:
        """Model versions of one asset: ``(available_from, record or None, frame, regimes)``."""
        rows = asset.running.copy()
        if any(r is not None for r in asset.regime):
            rows &= np.array([r is not None for r in asset.regime])
        frame = asset.frame[rows]
        regimes = asset.regime[rows] if any(r is not None for r in asset.regime) else None
        stamps = frame.index.values
        entries: list[tuple[pd.Timestamp, np.ndarray, str]] = []
        resets = [pd.Timestamp(r) for r in asset.resets]
        for position, reset in enumerate(resets):
            following = resets[position + 1] if position + 1 < len(resets) else None
            lo = np.searchsorted(stamps, np.datetime64(reset + SETTLE))
            hi = (
                len(stamps)
                if following is None
                else np.searchsorted(stamps, np.datetime64(following))
            )
            hi = min(hi, lo + self.train_hours * 60)
            if hi - lo < 60:
                continue
            available = pd.Timestamp(stamps[hi - 1]) + pd.Timedelta(minutes=1)
            entries.append(
                (available, np.arange(lo, hi), f"healthy hours after {reset.isoformat()}")
            )
        entries.sort(key=lambda entry: entry[0])
        entries += self._drift_windows(frame, regimes, entries)
        entries.sort(key=lambda entry: entry[0])
        plan: list[tuple[Any, ...]] = []
        windows: list[np.ndarray] = []
        for available, rows_, reason in entries:
            windows.append(rows_)
            chosen = np.unique(np.concatenate(windows))
            plan.append((available, chosen, frame, regimes, reason))
        # A registry that outlives one scan (a live agent) already holds the versions of the
        # windows it saw: reuse them instead of training and saving the same version again.
        known = {(r.trained_at, r.reason.split(";")[0]): r for r in registry.versions(asset.device)}
        out = []
        for available, chosen, data, keys, reason in plan:
            existing = known.get((available, reason))
            if existing is not None:
                out.append((available, existing, existing.model, data, keys, reason))
                continue
            train = data.iloc[chosen]
            train_keys = None if keys is None else keys[chosen]
            try:
                model = AssetHealthModel().fit(train, regimes=train_keys)
            except EngineError:
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
            window = rows_[: self.drift_hours * 60]
            if len(window) < 60:
                continue
            available = pd.Timestamp(stamps[window[-1]]) + pd.Timedelta(minutes=1)
            drift.append((available, window, f"drift: regime {key!r} never seen in training"))
        return drift

    def _fallbacks(
        self, assets: list[AssetData], plans: dict[str, list[tuple[Any, ...]]], registry: Any
    ) -> None:
        """Give versions with too little healthy history their asset class's limits."""
        by_class: dict[str, list[tuple[pd.Timestamp, pd.Series]]] = {}
        for asset in assets:
            for available, record, model, *_ in plans[asset.device]:
                if record is not None:
                    by_class.setdefault(asset.asset_class, []).append((available, model.limits_))
        for asset in assets:
            fixed = []
            for available, record, model, data, keys, reason in plans[asset.device]:
                if record is None:
                    known = [
                        lim
                        for when, lim in by_class.get(asset.asset_class, [])
                        if when <= available
                    ]
                    if known:
                        limits = pd.concat(known, axis=1).median(axis=1)
                        model.limits_ = limits.reindex(list(model.sensors_)).fillna(model.min_limit)
                        record = registry.register(
                            asset.device,
                            model,
                            scope="asset_class",
                            reason=f"{reason}; too little healthy history, limits of class "
                            f"{asset.asset_class!r}",
                            at=available,
                        )
                fixed.append((available, record, model, data, keys, reason))
            plans[asset.device] = [p for p in fixed if p[1] is not None]

    def _score(self, asset: AssetData, plan: list[tuple[Any, ...]]) -> pd.DataFrame:
        """Hourly judgement of the asset, each hour by the latest version trained before it."""
        parts = []
        for position, (available, record, model, data, keys, _) in enumerate(plan):
            until = plan[position + 1][0] if position + 1 < len(plan) else None
            stamps = data.index.values
            lo = np.searchsorted(stamps, np.datetime64(available))
            hi = len(stamps) if until is None else np.searchsorted(stamps, np.datetime64(until))
            if hi - lo < model.min_minutes:
                continue
            block = data.iloc[lo:hi]
            hours = model.hourly(block, regimes=None if keys is None else keys[lo:hi])
            hours["version"] = record.version
            parts.append(hours)
        if not parts:
            return pd.DataFrame(columns=["evidence"])
        hours = pd.concat(parts)
        return hours[~hours.index.duplicated(keep="last")]

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
            EntityRef("time_series", asset.series[name.split(":", 1)[1]], self.space)
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
                f"{asset.device}: {names} left their healthy range together for "
                f"{self.raise_hours} of {self.window_hours} hours (model "
                f"{episode.model.scope} v{episode.model.version}).",
            ),
            dedup_key=key,
            created_at=episode.start.to_pydatetime(),
            title=f"{asset.device} behaves abnormally: {names}",
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
                    f"{asset.device}: about {life.hours / 24:.1f} days left "
                    f"(90 % interval {life.lower / 24:.1f} to {life.upper / 24:.1f}); "
                    f"failure within {life.horizon_hours / 24:.0f} days with probability "
                    f"{life.probability:.0%}; maintain before {life.latest_safe:%Y-%m-%d %H:%M} "
                    f"UTC to keep the risk under {self.risk:.0%}.",
                ),
                dedup_key=key,
                created_at=life.at.to_pydatetime(),
                title=f"{asset.device}: about {life.hours / 24:.1f} days of life left",
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
                    title=f"Maintain {asset.device} before {safe:%Y-%m-%d %H:%M} UTC",
                    dedup_key=key,
                )
            )
            break
        return findings, recommendations


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


register_agent(AGENT, MaintenanceAgent)

__all__ = ["AGENT", "Episode", "MaintenanceAgent", "RemainingLife", "ScanReport"]
