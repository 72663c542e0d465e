"""Agents over history: what they would have found, step by step, with only what was known then.

``factorybrain agents replay --from T1 --to T2 --every 1h`` (and :func:`replay` here, and the REST
route) runs every installed agent as of each step on a handle of the store that sees the factory
model as it was known at that moment (:meth:`factorybrain.store.Store.as_of`): datapoints up to
the step, records from the time they became known. What the agents find and propose is written
into a named scenario, a space of the agents' records apart from the live ones (``agents``), so
the live inbox never sees it and nothing a replay proposes can execute (no policy auto-executes
there). The report says, per finding, when it would first have been raised.

The agents keep their state from one step to the next, as they do when data streams in: the
maintenance agent's first step reads the history before it and every later step only the new
hours, so a replay costs little more than one run over the same span.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from factorybrain.agents.core._contract import Finding, utc
from factorybrain.agents.core._orchestrator import Orchestrator
from factorybrain.agents.core._policies import PolicySet
from factorybrain.agents.core._records import AGENTS_SPACE
from factorybrain.agents.core._registry import installed_orchestrator
from factorybrain.exceptions import ParameterError
from factorybrain.store import Store

#: Spaces of the agents' records that hold scenarios start with this.
SCENARIO_PREFIX = "scenario:"
#: Most steps one replay may take (a year of hours is 8,760).
MAX_STEPS = 20_000
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")
#: The agents' record tables a scenario's records live in.
_RECORD_TABLES = ("audit_entry", "action", "recommendation", "finding")


def scenario_space(name: str) -> str:
    """The space of the agents' records that holds the scenario ``name``.

    Raises:
        ParameterError: If the name is not 1-80 letters, digits, ``_``, ``.`` or ``-``.
    """
    if not _NAME.match(name):
        raise ParameterError(
            f"a scenario name is 1-80 letters, digits, '_', '.' or '-' starting with a letter "
            f"or digit; got {name!r}"
        )
    return SCENARIO_PREFIX + name


@dataclass(frozen=True)
class ReplayedFinding:
    """A finding of a replay and the step at which it was first raised.

    Attributes:
        id: The finding's id in the scenario.
        agent: The agent that raised it.
        kind: Its kind (``maintenance.rul_low``, ...).
        subject_type: The type of what it is about.
        subject: The external id of what it is about.
        severity: Its severity when first raised.
        title: Its one-line title.
        data_at: The moment of the data it is about (the finding's own time).
        raised_at: The first step at which it was raised (the replay's clock then).
    """

    id: str
    agent: str
    kind: str
    subject_type: str
    subject: str
    severity: str
    title: str
    data_at: datetime | None
    raised_at: datetime

    def dump(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        out = dataclasses.asdict(self)
        out["data_at"] = self.data_at.isoformat() if self.data_at else None
        out["raised_at"] = self.raised_at.isoformat()
        return out


@dataclass
class ReplayReport:
    """What a replay did and found.

    Attributes:
        scenario: The scenario's name (its records are in :func:`scenario_space` of it).
        start: The first step.
        end: The last step (at most the end asked for).
        every: The time between steps.
        agents: The agents run at each step.
        steps: Steps taken.
        findings: Every finding raised, in the order first raised.
        recommendations: Recommendations made over the replay.
        errors: Agents' failures, with the step at which they failed.
        seconds: Wall time.
    """

    scenario: str
    start: datetime
    end: datetime
    every: timedelta
    agents: list[str]
    steps: int = 0
    findings: list[ReplayedFinding] = field(default_factory=list)
    recommendations: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def first_raised(self, kind: str | None = None) -> dict[tuple[str, str], ReplayedFinding]:
        """The first finding (of ``kind``, or any) on each ``(kind, subject)``."""
        first: dict[tuple[str, str], ReplayedFinding] = {}
        for finding in self.findings:
            if kind is None or finding.kind == kind:
                first.setdefault((finding.kind, finding.subject), finding)
        return first

    def dump(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "scenario": self.scenario,
            "space": scenario_space(self.scenario),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "every_seconds": self.every.total_seconds(),
            "agents": self.agents,
            "steps": self.steps,
            "findings": [finding.dump() for finding in self.findings],
            "recommendations": self.recommendations,
            "errors": self.errors,
            "seconds": round(self.seconds, 3),
        }


def steps_between(start: datetime, end: datetime, every: timedelta) -> list[datetime]:
    """The replay's steps: ``start``, ``start + every``, ... up to ``end`` (always included).

    Raises:
        ParameterError: If the span is empty or backwards, the step not positive, or the
            steps more than :data:`MAX_STEPS`.
    """
    if every <= timedelta(0):
        raise ParameterError(f"the step must be positive, got {every}")
    if end < start:
        raise ParameterError(f"the replay ends ({end}) before it starts ({start})")
    count = int((end - start) / every) + 1
    if count > MAX_STEPS:
        raise ParameterError(
            f"{count:,} steps of {every} from {start} to {end}: more than {MAX_STEPS:,}; "
            "take a longer step or a shorter span"
        )
    steps = [start + every * number for number in range(count)]
    if steps[-1] < end:
        steps.append(end)
    return steps


def clear_scenario(store: Store, name: str) -> int:
    """Delete a scenario's records; return how many there were."""
    space = scenario_space(name)
    removed = 0
    with store.transaction():
        for table in _RECORD_TABLES:
            removed += int(
                store.query(f"SELECT count(*) AS n FROM {table} WHERE space = ?", [space])[
                    "n"
                ].iloc[0]
            )
            store.execute(f"DELETE FROM {table} WHERE space = ?", [space], tables=[table])
    return removed


def scenario_exists(store: Store, name: str) -> bool:
    """Whether the scenario ``name`` holds records."""
    space = scenario_space(name)
    found = store.query("SELECT count(*) AS n FROM audit_entry WHERE space = ?", [space])
    return bool(int(found["n"].iloc[0]))


def replay(
    store: Store,
    start: datetime,
    end: datetime,
    *,
    every: timedelta = timedelta(hours=1),
    agents: Iterable[str] | None = None,
    scenario: str | None = None,
    replace: bool = False,
    progress: Callable[[int, int, datetime], None] | None = None,
) -> ReplayReport:
    """Run the installed agents as of each step from ``start`` to ``end``, into a scenario.

    Args:
        store: The factory store (its live records are not touched).
        start: The first step (naive UTC or aware).
        end: The last step.
        every: Time between steps.
        agents: The agents to run (default: every installed agent).
        scenario: The scenario's name (default ``replay-<start>-<end>``).
        replace: Replace a scenario of that name (else one that exists is refused).
        progress: Called after each step with ``(step number, steps, step time)``.

    Raises:
        ParameterError: Bad span or step, an unknown agent, a scenario that exists.
    """
    begin, finish = utc(start), utc(end)
    assert begin is not None and finish is not None
    steps = steps_between(begin, finish, every)
    name = scenario or f"replay-{begin:%Y%m%dT%H%M}-{finish:%Y%m%dT%H%M}"
    space = scenario_space(name)
    if scenario_exists(store, name):
        if not replace:
            raise ParameterError(f"scenario {name!r} exists already: name another, or replace it")
        clear_scenario(store, name)
    looking_back = store.as_of(steps[0])
    orchestrator = _scenario_orchestrator(looking_back, space)
    names = list(orchestrator.agents) if agents is None else list(agents)
    unknown = sorted(set(names) - set(orchestrator.agents))
    if unknown:
        raise ParameterError(f"no agent named {unknown}; installed: {sorted(orchestrator.agents)}")
    report = ReplayReport(name, steps[0], steps[-1], every, names)
    seen: set[str] = set()
    began = time.perf_counter()
    try:
        for number, moment in enumerate(steps, start=1):
            looking_back.as_of(moment)
            run = orchestrator.run(names, at=moment)
            report.steps += 1
            report.recommendations += len(run.recommendations)
            report.errors += [{**error, "at": moment.isoformat()} for error in run.errors]
            for finding_id in run.findings:
                if finding_id in seen:
                    continue
                seen.add(finding_id)
                report.findings.append(_replayed(orchestrator.records.finding(finding_id), moment))
            if progress is not None:
                progress(number, len(steps), moment)
    finally:
        if looking_back is not store:
            looking_back.close()
    report.seconds = time.perf_counter() - began
    return report


def _scenario_orchestrator(store: Store, space: str) -> Orchestrator:
    """The installed orchestrator writing into ``space``, where nothing executes by itself."""
    if space == AGENTS_SPACE:
        raise ParameterError("a replay never writes into the live records")
    orchestrator = installed_orchestrator(store, space=space)
    installed = orchestrator.policies
    orchestrator.policies = PolicySet(
        [dataclasses.replace(policy, auto_execute=False) for policy in installed.policies.values()],
        default=dataclasses.replace(installed.default, auto_execute=False),
    )
    return orchestrator


def _replayed(finding: Finding, moment: datetime) -> ReplayedFinding:
    return ReplayedFinding(
        id=finding.id,
        agent=finding.agent,
        kind=finding.kind,
        subject_type=finding.subject.type,
        subject=finding.subject.external_id,
        severity=finding.severity,
        title=finding.title,
        data_at=finding.created_at,
        raised_at=moment,
    )
