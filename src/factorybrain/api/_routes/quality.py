"""Quality: the control chart of every characteristic, its capability, and the root causes found.

The charts are drawn as the quality agent draws them: the characteristics it reads
(:func:`factorybrain.agents.quality.load_characteristics`), grouped per source, characteristic,
product and machine, charted by the agent itself (its baseline, the Nelson rules, EWMA and CUSUM
of :class:`factorybrain.engines.spc.ProcessMonitor`, Cp/Cpk/Ppk of
:func:`factorybrain.engines.spc.capability`), with the parameters of the quality agent the app's
orchestrator runs. A chart's id is the ``dedup_key`` of its ``quality.drift`` finding
(``<source>:<characteristic>:<product>:<machine>``), so each chart carries its latest finding.
Charts are kept until a table they read is written. Importing this module fails when the quality
agent is not installed; the routes are then absent. The same pattern as
:mod:`factorybrain.api._routes.field` (see there).
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
from dataclasses import dataclass
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from factorybrain.agents import RecordNotFoundError
from factorybrain.agents.quality import (
    AGENT,
    DRIFT,
    ROOT_CAUSE,
    Chart,
    QualityAgent,
    load_characteristics,
)
from factorybrain.api._deps import Access, Conductor, StoreAccess, Viewer
from factorybrain.api._schemas import Limit, Offset, Page
from factorybrain.engines.spc import RULE_NAMES
from factorybrain.store import Store

router = APIRouter(prefix="/quality", tags=["quality"])

#: The tables the characteristics are read from: charts hold until one of them is written.
CHART_INPUTS = (
    "annotation",
    "operation",
    "operation_parameter",
    "quality_result",
    "recipe",
    "serial_unit",
    "work_order",
)
#: What each test of a chart says, besides the Nelson rules (``nelson_<n>``).
OTHER_TESTS = {
    "ewma": "EWMA beyond its control limits (a small lasting shift)",
    "cusum": "CUSUM beyond its decision interval (a small lasting shift)",
    "moving_range": "moving range above its upper control limit (a jump between points)",
}
_SEVERITY_RANK = {"high": 0, "medium": 1, "low": 2}


# -- response shapes ------------------------------------------------------------------------------
class CapabilityOut(BaseModel):
    """Process capability against the specification, with two-sided intervals.

    ``cp``/``pp`` need both specification limits; ``cpk``/``ppk`` use the nearer one. Cp and Cpk
    use the within sigma (moving range), Pp and Ppk the overall standard deviation.
    """

    n: int = Field(description="Values used.")
    mean: float
    sigma_within: float
    sigma_overall: float
    cp: float | None
    cp_low: float | None
    cp_high: float | None
    cpk: float | None
    cpk_low: float | None
    cpk_high: float | None
    pp: float | None
    pp_low: float | None
    pp_high: float | None
    ppk: float | None
    ppk_low: float | None
    ppk_high: float | None
    confidence: float = Field(description="Two-sided confidence of the intervals, e.g. 0.95.")
    out_of_spec: int = Field(description="Values outside the specification limits.")


class FindingBrief(BaseModel):
    """The latest ``quality.drift`` finding on a chart (any status)."""

    id: str
    severity: str
    status: str
    title: str
    text: str
    as_of: str | None = Field(description="The data time the agent judged (UTC).")


class ChartSummary(BaseModel):
    """One characteristic as the quality agent charts it: limits, capability, signals."""

    id: str = Field(description="`<source>:<characteristic>:<product>:<machine>`, the path key.")
    source: str = Field(description="`quality_result` or `operation_parameter`.")
    characteristic: str
    product: str | None
    machine: str | None
    unit: str | None
    n: int = Field(description="Points charted.")
    baseline_points: int = Field(description="First points that set the limits (Phase I).")
    first_at: str | None
    last_at: str | None
    center: float = Field(description="Center line: the baseline's mean.")
    sigma: float = Field(description="Within sigma of the baseline (moving range / d2).")
    lower_control: float = Field(description="Lower control limit, center - 3 sigma.")
    upper_control: float = Field(description="Upper control limit, center + 3 sigma.")
    lower_spec: float | None = Field(description="Lower specification limit, when known.")
    upper_spec: float | None = Field(description="Upper specification limit, when known.")
    capability: CapabilityOut | None = Field(description="Null without specification limits.")
    violations: int = Field(description="Points that break at least one Nelson rule.")
    signals: dict[str, int] = Field(
        description="Points signalled per test: `nelson_<n>`, `ewma`, `cusum`, `moving_range`."
    )
    expected_signals: float = Field(description="Rule onsets expected by chance in control.")
    observed_signals: int = Field(description="Rule onsets seen.")
    p_value: float = Field(description="Chance of this many onsets in control (Poisson).")
    drifting: bool = Field(description="Whether the agent calls it out of statistical control.")
    finding: FindingBrief | None


class NotCharted(BaseModel):
    """A characteristic the agent cannot chart, and why."""

    id: str
    characteristic: str
    product: str | None
    machine: str | None
    n: int
    why: str


class ChartList(Page[ChartSummary]):
    """Charts, out of control first, then the least capable; and what could not be charted."""

    as_of: str | None = Field(description="The latest point of any characteristic (UTC).")
    not_charted: list[NotCharted]


class RuleOut(BaseModel):
    """One test that signalled on a chart."""

    test: str = Field(description="`nelson_<n>`, `ewma`, `cusum` or `moving_range`.")
    rule: int | None = Field(description="The Nelson rule's number (null for the other tests).")
    name: str = Field(description="What the test looks for, in words.")
    points: int = Field(description="Points it signalled (in the whole series).")


class ChartPoint(BaseModel):
    """One measured value on the chart."""

    index: int = Field(description="Position in the whole series (0 is the oldest).")
    point: str = Field(description="External id of the quality result or operation.")
    space: str | None
    at: str | None
    value: float
    baseline: bool = Field(description="Whether it set the limits (Phase I).")
    tests: list[str] = Field(description="Tests that signal at this point (see `rules`).")


class ChartDetail(ChartSummary):
    """One chart with its points: which points violate which rule."""

    rules: list[RuleOut]
    points_total: int
    points: list[ChartPoint] = Field(description="The latest `last` points, oldest first.")


class RootCauseOut(BaseModel):
    """A ``quality.root_cause`` finding: a lot, machine or parameter that explains defects."""

    id: str
    title: str
    severity: str
    status: str
    confidence: float | None
    as_of: str | None = Field(description="The data time the agent judged (UTC).")
    subject: dict[str, str | None] = Field(description="`type`, `external_id`, `space`.")
    text: str
    units: float | None
    defects: float | None = Field(description="Defective (or claimed) units among them.")
    defect_rate: float | None
    baseline_defect_rate: float | None = Field(description="The rest's rate.")
    rate_ratio: float | None
    rate_ratio_low: float | None
    rate_ratio_high: float | None
    q_value: float | None
    excess_defects: float | None
    traced_from: list[str] = Field(description="Field failure clusters (finding ids) traced.")


# -- the charts, as the agent draws them ---------------------------------------------------------
@dataclass
class _Charted:
    charts: dict[str, Chart]
    units: dict[str, str | None]
    specs: dict[str, tuple[float | None, float | None]]
    not_charted: list[NotCharted]
    as_of: str | None


_KEPT: dict[tuple[Any, ...], _Charted] = {}
_KEPT_LOCK = threading.Lock()


def chart_id(key: tuple[str, str, str | None, str | None]) -> str:
    """A chart's id: the ``dedup_key`` of its ``quality.drift`` finding."""
    source, characteristic, product, machine = key
    return f"{source}:{characteristic}:{product or ''}:{machine or ''}"


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _iso(value: Any) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return pd.Timestamp(value).isoformat() if not isinstance(value, str) else value


def _agent_of(conductor: Any) -> QualityAgent:
    """The quality agent the orchestrator runs (its parameters), else one with the defaults."""
    agents = getattr(conductor, "agents", {}) or {}
    agent = agents.get(AGENT)
    return agent if isinstance(agent, QualityAgent) else QualityAgent()


def _draw(store: Store, agent: QualityAgent) -> _Charted:
    """Every characteristic grouped and charted as the agent's review charts it."""
    points = load_characteristics(store).points
    drawn = _Charted({}, {}, {}, [], None)
    if points.empty:
        return drawn
    drawn.as_of = _iso(points["at"].max())
    frame = points.copy()
    for column in ("product", "machine"):
        frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    keys = ["source", "characteristic", "product", "machine"]
    for key, group in frame.groupby(keys, dropna=False, sort=True):
        source, characteristic, product, machine = (
            None if isinstance(v, float) and math.isnan(v) else v for v in key
        )
        chart_key = (str(source), str(characteristic), product, machine)
        identifier = chart_id(chart_key)
        group = group.sort_values(["at", "point"], na_position="first").reset_index(drop=True)
        why = None
        chart = None
        if len(group) < agent.min_points:
            why = f"{len(group)} points: a control chart needs at least {agent.min_points}"
        else:
            chart = agent._chart(chart_key, group)  # the agent's own charting, not a copy
            if chart is None:
                why = "the value does not vary between consecutive points: no sigma to chart"
        if chart is None:
            drawn.not_charted.append(
                NotCharted(
                    id=identifier,
                    characteristic=str(characteristic),
                    product=product,
                    machine=machine,
                    n=len(group),
                    why=why or "",
                )
            )
            continue
        drawn.charts[identifier] = chart
        units = group["unit"].dropna()
        drawn.units[identifier] = str(units.iloc[0]) if len(units) else None
        low, high = group["spec_min"].dropna(), group["spec_max"].dropna()
        drawn.specs[identifier] = (
            float(low.median()) if len(low) else None,
            float(high.median()) if len(high) else None,
        )
    return drawn


def _charted(store: Store, agent: QualityAgent) -> _Charted:
    """The charts of the store as it is now, drawn once per state of the tables they read."""
    generation = store.generation_of(CHART_INPUTS)
    key = (
        getattr(store, "identity", id(store)),
        generation,
        agent.min_points,
        agent.baseline_share,
        agent.rules,
        agent.run_length,
        agent.confidence,
    )
    if generation is not None:
        with _KEPT_LOCK:
            if key in _KEPT:
                return _KEPT[key]
    drawn = _draw(store, agent)
    if generation is not None:
        with _KEPT_LOCK:
            if len(_KEPT) > 8:
                _KEPT.clear()
            _KEPT[key] = drawn
    return drawn


def _latest_drifts(store: Store) -> dict[str, FindingBrief]:
    """The latest ``quality.drift`` finding of each chart, by the data time it judged."""
    rows = store.query_rows(
        "SELECT external_id, severity, status, evidence, name, created_at FROM finding "
        "WHERE space = 'agents' AND kind = ? ORDER BY created_at DESC, external_id",
        [DRIFT],
    )
    found: dict[str, tuple[str, FindingBrief]] = {}
    for row in rows:
        evidence = _evidence(row["evidence"])
        meta = evidence.get("meta") or {}
        key = str(meta.get("dedup_key") or "")
        as_of = meta.get("created_at") or _iso(row["created_at"])
        brief = FindingBrief(
            id=str(row["external_id"]),
            severity=str(row["severity"] or ""),
            status=str(row["status"] or ""),
            title=str(meta.get("title") or row["name"] or ""),
            text=str(evidence.get("text") or ""),
            as_of=as_of,
        )
        kept = found.get(key)
        if kept is None or str(as_of or "") > kept[0]:
            found[key] = (str(as_of or ""), brief)
    return {key: brief for key, (_, brief) in found.items()}


def _evidence(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        parsed = json.loads(value)
        return parsed if isinstance(parsed, dict) else {}
    return value if isinstance(value, dict) else {}


def _summary(
    identifier: str, drawn: _Charted, agent: QualityAgent, finding: FindingBrief | None
) -> dict[str, Any]:
    chart = drawn.charts[identifier]
    source, characteristic, product, machine = chart.key
    low, high = drawn.specs[identifier]
    capability = None
    if chart.capability is not None:
        figures = {
            k: (_finite(v) if isinstance(v, float) else v) for k, v in chart.capability.items()
        }
        capability = CapabilityOut.model_validate(figures)
        low = _finite(chart.capability.get("lower_spec"))
        high = _finite(chart.capability.get("upper_spec"))
    nelson = {p for name, ps in chart.signals.items() if name.startswith("nelson_") for p in ps}
    times = chart.points["at"]
    return {
        "id": identifier,
        "source": source,
        "characteristic": characteristic,
        "product": product,
        "machine": machine,
        "unit": drawn.units.get(identifier),
        "n": len(chart.points),
        "baseline_points": chart.baseline,
        "first_at": _iso(times.min()) if len(times) else None,
        "last_at": _iso(times.max()) if len(times) else None,
        "center": chart.center,
        "sigma": chart.sigma,
        "lower_control": chart.center - 3.0 * chart.sigma,
        "upper_control": chart.center + 3.0 * chart.sigma,
        "lower_spec": low,
        "upper_spec": high,
        "capability": capability,
        "violations": len(nelson),
        "signals": {name: len(positions) for name, positions in sorted(chart.signals.items())},
        "expected_signals": chart.expected_signals,
        "observed_signals": chart.observed_signals,
        "p_value": chart.p_value,
        "drifting": chart.p_value < agent.alpha,
        "finding": finding,
    }


def _order(item: ChartSummary) -> tuple[Any, ...]:
    """Out of control first, then the least capable, then the most violations."""
    cpk = item.capability.cpk if item.capability is not None else None
    severity = _SEVERITY_RANK.get(item.finding.severity, 3) if item.finding else 3
    return (not item.drifting, severity, cpk is None, cpk or 0.0, -item.violations, item.id)


def _rule_name(test: str, agent: QualityAgent) -> str:
    if test.startswith("nelson_"):
        number = int(test.split("_", 1)[1])
        return RULE_NAMES[number].format(run=agent.run_length)
    return OTHER_TESTS.get(test, test)


def _chart_or_404(store: Store, agent: QualityAgent, chart: str) -> tuple[_Charted, str]:
    drawn = _charted(store, agent)
    if chart in drawn.charts:
        return drawn, chart
    missing = next((n for n in drawn.not_charted if n.id == chart), None)
    if missing is not None:
        raise RecordNotFoundError(f"chart {chart!r} is not drawn: {missing.why}")
    raise RecordNotFoundError(
        f"no chart {chart!r}: a chart id is <source>:<characteristic>:<product>:<machine>, "
        "as GET /quality/charts lists them"
    )


# -- routes ---------------------------------------------------------------------------------------
@router.get("/charts", response_model=ChartList)
def charts_route(
    _: Viewer,
    access: Access,
    conductor: Conductor,
    characteristic: Annotated[
        str | None,
        Query(max_length=200, description="Only this characteristic, e.g. `leak_ml_min`."),
    ] = None,
    product: Annotated[
        str | None, Query(max_length=200, description="Only charts of this product.")
    ] = None,
    machine: Annotated[
        str | None, Query(max_length=200, description="Only charts of this machine.")
    ] = None,
    drifting: Annotated[
        bool | None,
        Query(description="`true`: only charts out of statistical control; `false`: the rest."),
    ] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> ChartList:
    """Every characteristic's control chart in brief: Cpk and Ppk with intervals, violations.

    One item per characteristic the quality agent charts (per product and machine): its
    center line and control limits, specification limits when known, capability (Cp, Cpk, Pp,
    Ppk with their intervals; null without specification limits), the points that break a
    Nelson rule, the signals per test, whether it is out of statistical control, and its latest
    ``quality.drift`` finding with severity and data time. Out of control first, then the lowest
    Cpk. ``not_charted`` lists characteristics with too few points or no variation.
    """
    agent = _agent_of(conductor)
    with access.read() as (store, _records):
        drawn = _charted(store, agent)
        drifts = _latest_drifts(store)
    items = [
        ChartSummary(**_summary(identifier, drawn, agent, drifts.get(identifier)))
        for identifier, chart in drawn.charts.items()
        if (characteristic is None or chart.key[1] == characteristic)
        and (product is None or chart.key[2] == product)
        and (machine is None or chart.key[3] == machine)
    ]
    if drifting is not None:
        items = [item for item in items if item.drifting == drifting]
    items.sort(key=_order)
    page = items[offset : offset + limit]
    following = offset + len(page)
    return ChartList(
        items=page,
        total=len(items),
        limit=limit,
        offset=offset,
        next_offset=following if following < len(items) else None,
        as_of=drawn.as_of,
        not_charted=drawn.not_charted,
    )


@router.get("/charts/{chart:path}", response_model=ChartDetail)
def chart_route(
    _: Viewer,
    access: Access,
    conductor: Conductor,
    chart: Annotated[
        str,
        Path(
            min_length=1,
            max_length=500,
            description="The chart's id as listed: `<source>:<characteristic>:<product>:"
            "<machine>`, e.g. `quality_result:leak_ml_min:AC25-40:EOL-01`.",
        ),
    ],
    last: Annotated[
        int | None,
        Query(ge=1, le=100_000, description="Only the latest points (default: every point)."),
    ] = None,
) -> ChartDetail:
    """One control chart: its points, center line, limits, and which points break which rule.

    ``points`` are in time order, each with the tests that signal at it (``nelson_<n>``,
    ``ewma``, ``cusum``, ``moving_range``) and whether it belongs to the baseline that set the
    limits; ``rules`` names each test that signalled, in words. ``last`` keeps the latest
    points only (``points_total`` counts them all). 404 for an unknown chart or one that
    cannot be drawn (with the reason).
    """
    agent = _agent_of(conductor)
    with access.read() as (store, _records):
        drawn, identifier = _chart_or_404(store, agent, chart)
        finding = _latest_drifts(store).get(identifier)
    charted = drawn.charts[identifier]
    summary = _summary(identifier, drawn, agent, finding)
    by_point: dict[int, list[str]] = {}
    for test, positions in sorted(charted.signals.items()):
        for position in positions:
            by_point.setdefault(position, []).append(test)
    frame = charted.points
    total = len(frame)
    start = 0 if last is None else max(0, total - last)
    points = [
        ChartPoint(
            index=index,
            point=str(frame["point"].iat[index]),
            space=None if pd.isna(frame["space"].iat[index]) else str(frame["space"].iat[index]),
            at=_iso(frame["at"].iat[index]),
            value=float(frame["value"].iat[index]),
            baseline=index < charted.baseline,
            tests=by_point.get(index, []),
        )
        for index in range(start, total)
    ]
    rules = [
        RuleOut(
            test=test,
            rule=int(test.split("_", 1)[1]) if test.startswith("nelson_") else None,
            name=_rule_name(test, agent),
            points=len(positions),
        )
        for test, positions in sorted(
            charted.signals.items(), key=lambda kv: (not kv[0].startswith("nelson_"), kv[0])
        )
    ]
    return ChartDetail(**summary, rules=rules, points_total=total, points=points)


@router.get("/root-causes", response_model=Page[RootCauseOut])
def root_causes_route(
    _: Viewer,
    access: Access,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[RootCauseOut]:
    """What explains defects in production: lots, machines, parameters, with their effect size.

    One item per open or acknowledged ``quality.root_cause`` finding: the suspect, the defect
    (or claim) rate of its units against the rest's, the rate ratio with its interval, the
    q-value and the excess defects, and the field failure clusters it was traced from. Most
    severe first, then the largest rate ratio.
    """
    with access.read() as (store, _records):
        rows = store.query_rows(
            "SELECT external_id, severity, status, confidence, evidence, name, subject_type, "
            "subject, created_at FROM finding WHERE space = 'agents' AND kind = ? "
            "AND status IN ('open', 'acknowledged')",
            [ROOT_CAUSE],
        )
    items = [_root_cause(row) for row in rows]
    items.sort(key=lambda c: (_SEVERITY_RANK.get(c.severity, 3), -(c.rate_ratio or 0.0), c.id))
    page = items[offset : offset + limit]
    following = offset + len(page)
    return Page[RootCauseOut](
        items=page,
        total=len(items),
        limit=limit,
        offset=offset,
        next_offset=following if following < len(items) else None,
    )


def _root_cause(row: dict[str, Any]) -> RootCauseOut:
    evidence = _evidence(row["evidence"])
    meta = evidence.get("meta") or {}
    numbers = evidence.get("numbers") or {}
    refs = evidence.get("refs") or []
    first = refs[0] if refs else {}
    space = first.get("space") if first.get("external_id") == row["subject"] else None
    return RootCauseOut(
        id=str(row["external_id"]),
        title=str(meta.get("title") or row["name"] or ""),
        severity=str(row["severity"] or ""),
        status=str(row["status"] or ""),
        confidence=_finite(row["confidence"]),
        as_of=meta.get("created_at") or _iso(row["created_at"]),
        subject={"type": row["subject_type"], "external_id": row["subject"], "space": space},
        text=str(evidence.get("text") or ""),
        units=_finite(numbers.get("units")),
        defects=_finite(numbers.get("defects")),
        defect_rate=_finite(numbers.get("defect_rate")),
        baseline_defect_rate=_finite(numbers.get("baseline_defect_rate")),
        rate_ratio=_finite(numbers.get("rate_ratio")),
        rate_ratio_low=_finite(numbers.get("rate_ratio_low")),
        rate_ratio_high=_finite(numbers.get("rate_ratio_high")),
        q_value=_finite(numbers.get("q_value")),
        excess_defects=_finite(numbers.get("excess_defects")),
        traced_from=[str(r["external_id"]) for r in refs if r.get("type") == "finding"],
    )


def warm_up(access: StoreAccess) -> None:
    """Chart every characteristic once, so the first visitor of the page does not wait."""
    with contextlib.suppress(Exception), access.read() as (store, _records):
        # a failure here shows again, with its message, on the first request
        _charted(store, QualityAgent())
