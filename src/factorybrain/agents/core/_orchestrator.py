"""The orchestrator: runs agents, routes their findings through playbooks, and never loops.

Loop guards, each visible in the audit log:

- **deduplication**: a finding is routed once (``finding.routed``); reporting it again, or
  replaying a run, routes nothing and proposes nothing new;
- **cool-down** per (agent, subject): an agent that reacted to a subject does not react to it
  again before ``cooldown`` has passed (``agent.reacted`` / ``agent.cooldown``);
- **depth limit**: findings ``max_depth`` reactions away from their root are stored, never
  routed (``finding.depth_limit``).

Actions are proposed with the role their policy requires; executing happens only after an
approval, which the caller's role must allow (or a policy auto-approves as ``policy:auto``).
An approval binds to content: it records the content hash of the recommendation the approver saw
(and refuses when they saw another), execution refuses content other than the approved, and
nobody approves their own proposal (an admin may override, with a reason, audited as such).
"""

from __future__ import annotations

import copy
import fnmatch
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from factorybrain.agents.core._agent import Agent, AgentContext, Output, utcnow
from factorybrain.agents.core._contract import (
    COMPOSITE,
    Action,
    ActionStateError,
    AuditEntry,
    Finding,
    PermissionDeniedError,
    Recommendation,
    RecordNotFoundError,
    Step,
    stable_id,
    utc,
)
from factorybrain.agents.core._executors import Executors, compensation_steps, default_executors
from factorybrain.agents.core._playbooks import PLAYBOOKS, Playbook, check_playbooks, playbook_for
from factorybrain.agents.core._policies import PolicySet, role_rank
from factorybrain.agents.core._records import AGENTS_SPACE, AgentRecords
from factorybrain.exceptions import ParameterError
from factorybrain.store import Store


@dataclass
class RunReport:
    """What one pass of the orchestrator did (ids of the records it touched).

    ``superseded``: findings a newer one of their kind on the same subject replaced;
    ``resolved``: findings their agent said no longer hold (the data is normal again, the
    machine was repaired), each with its reason in the audit log.
    """

    findings: list[str] = field(default_factory=list)
    repeated_findings: list[str] = field(default_factory=list)
    recommendations: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    executed: list[str] = field(default_factory=list)
    reactions: list[tuple[str, str]] = field(default_factory=list)
    superseded: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    agents_run: list[str] = field(default_factory=list)

    def merge(self, other: RunReport) -> RunReport:
        """Add another report's lists to this one and return it."""
        for name in self.__dataclass_fields__:
            getattr(self, name).extend(getattr(other, name))
        return self

    def dump(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            name: [list(v) if isinstance(v, tuple) else v for v in getattr(self, name)]
            for name in self.__dataclass_fields__
        }


@dataclass
class _Chain:
    root: Finding
    playbook: Playbook | None
    findings: list[str] = field(default_factory=list)
    recommendations: list[Recommendation] = field(default_factory=list)


class Orchestrator:
    """Runs agents and routes their findings through the playbooks.

    Args:
        store: The factory store (migrated).
        agents: The agents installed.
        playbooks: Routing; :data:`factorybrain.agents.PLAYBOOKS` by default.
        policies: Approval policies; :data:`DEFAULT_POLICIES` by default.
        executors: Executors by action type; :func:`default_executors` by default.
        clock: Returns the current time; the wall clock (UTC) by default.
        cooldown: Least time between two reactions of one agent to one subject.
        max_depth: Findings this many reactions away from their root are not routed further.
        space: Space of the agents' records.
    """

    def __init__(
        self,
        store: Store,
        agents: Iterable[Agent] = (),
        *,
        playbooks: Sequence[Playbook] = PLAYBOOKS,
        policies: PolicySet | None = None,
        executors: Executors | None = None,
        clock: Callable[[], datetime] = utcnow,
        cooldown: timedelta = timedelta(hours=12),
        max_depth: int = 4,
        space: str = AGENTS_SPACE,
    ) -> None:
        if max_depth < 1:
            raise ParameterError(f"max_depth must be >= 1, got {max_depth}")
        if cooldown < timedelta(0):
            raise ParameterError(f"cooldown must be >= 0, got {cooldown}")
        check_playbooks(playbooks)
        self.store = store
        self.records = AgentRecords(store, space=space)
        self.playbooks = tuple(playbooks)
        self.policies = policies or PolicySet()
        self.executors = executors or default_executors()
        self.clock = clock
        self.cooldown = cooldown
        self.max_depth = max_depth
        self.agents: dict[str, Agent] = {}
        for agent in agents:
            self.register(agent)

    # -- set-up -----------------------------------------------------------------------------------
    def register(self, agent: Agent) -> None:
        """Install an agent.

        Raises:
            ParameterError: If an agent of that name is installed already or it lacks the
                protocol's members.
        """
        if not isinstance(agent, Agent):
            raise ParameterError(
                f"{agent!r} is not an agent: it needs name, subscriptions, run() and react()"
            )
        if agent.name in self.agents:
            raise ParameterError(f"an agent named {agent.name!r} is installed already")
        self.agents[agent.name] = agent

    def bound_to(self, store: Store) -> Orchestrator:
        """This orchestrator over another handle of the same store, for another thread.

        Agents, playbooks, policies, executors, clock and loop guards are the same.
        """
        other = copy.copy(self)
        other.store = store
        other.records = AgentRecords(store, space=self.records.space)
        return other

    def context(self, at: datetime | None = None, **extra: Any) -> AgentContext:
        """A context whose clock reads ``at`` (or the orchestrator's clock)."""
        clock = (lambda: at) if at is not None else self.clock
        return AgentContext(self.store, self.records, clock, **extra)  # type: ignore[arg-type]

    def now(self) -> datetime:
        """The orchestrator's current time, naive UTC."""
        return utc(self.clock())  # type: ignore[return-value]

    # -- running agents ---------------------------------------------------------------------------
    def run(self, agents: Iterable[str] | None = None, *, at: datetime | None = None) -> RunReport:
        """Run agents now (all, or those named) and route what they find.

        Raises:
            ParameterError: If a named agent is not installed.
        """
        at = utc(at) or self.now()
        names = list(self.agents) if agents is None else list(agents)
        unknown = [n for n in names if n not in self.agents]
        if unknown:
            raise ParameterError(f"no agent named {unknown}; installed: {sorted(self.agents)}")
        report = RunReport()
        for name in names:
            agent = self.agents[name]
            self.records.audit(AuditEntry(name, "agent.ran", "agent", name, at))
            report.agents_run.append(name)
            try:
                items = list(agent.run(self.context(at)))
            except Exception as error:  # an agent's bug must not stop the others
                self._agent_failed(name, "run", None, error, at, report)
                continue
            report.merge(self.submit(items, agent=name, at=at))
        return report

    def run_scheduled(self, now: datetime | None = None) -> RunReport:
        """Run the agents whose ``schedule`` interval has passed since their last run."""
        at = utc(now) or self.now()
        due = []
        for name, agent in self.agents.items():
            every = getattr(agent, "schedule", None)
            if not every:
                continue
            last = self.records.last_audit_time(verb="agent.ran", actor=name)
            if last is None or at - last >= every:
                due.append(name)
        return self.run(due, at=at)

    def run_on_new_data(self, changed: Iterable[str], *, at: datetime | None = None) -> RunReport:
        """Run the agents that watch what changed (after an ingest, a stream batch...).

        An agent watches with ``watches: tuple[str, ...]`` of entity types, plus
        ``"datapoint"`` for new sensor data.
        """
        touched = set(changed)
        due = [
            name
            for name, agent in self.agents.items()
            if touched & set(getattr(agent, "watches", ()) or ())
        ]
        return self.run(due, at=at)

    def submit(
        self, items: Output, *, agent: str | None = None, at: datetime | None = None
    ) -> RunReport:
        """Record findings and recommendations (from an agent, an engine or a person) and route.

        Findings are handled before recommendations, so a recommendation can answer a finding
        of the same batch. Findings handed in with status ``resolved`` (their agent says they no
        longer hold) are resolved last, once everything else of the batch is routed and
        proposed, so a proposal made for a finding of the batch that it resolves expires too.
        """
        at = utc(at) or self.now()
        report = RunReport()
        chains: list[_Chain] = []
        queue: deque[tuple[Finding, _Chain]] = deque()
        resolutions: list[Finding] = []
        self._take(list(items), agent, None, None, at, report, chains, queue, resolutions)
        while queue:
            finding, chain = queue.popleft()
            self._route(finding, chain, at, report, chains, queue, resolutions)
        for chain in chains:
            self._bundle(chain, at, report)
        if report.superseded:  # what a finding of this batch replaced may have got proposals
            self.records.expire_proposals(report.superseded, at=at)
        for resolution in resolutions:
            if self.records.resolve(resolution, at=at) is not None:
                report.resolved.append(resolution.id)
        return report

    # -- internals --------------------------------------------------------------------------------
    def _superseding(self, agent: str) -> tuple[str, ...]:
        """The kinds of ``agent`` of which the newest finding on a subject replaces the others."""
        installed = self.agents.get(agent)
        return tuple(getattr(installed, "supersedes", ()) or ())

    def _agent_failed(
        self,
        name: str,
        stage: str,
        finding: Finding | None,
        error: Exception,
        at: datetime,
        report: RunReport,
    ) -> None:
        message = f"{type(error).__name__}: {error}"
        self.records.audit(
            AuditEntry(
                name,
                "agent.failed",
                "finding" if finding else "agent",
                finding.id if finding else name,
                at,
                {"stage": stage, "error": message},
            )
        )
        report.errors.append({"agent": name, "stage": stage, "error": message})

    def _take(
        self,
        items: list[Finding | Recommendation],
        agent: str | None,
        parent: Finding | None,
        chain: _Chain | None,
        at: datetime,
        report: RunReport,
        chains: list[_Chain],
        queue: deque[tuple[Finding, _Chain]],
        resolutions: list[Finding],
    ) -> None:
        new_chains: dict[str, _Chain] = {}
        fresh: set[str] = set()
        for item in items:
            if not isinstance(item, Finding):
                continue
            if parent is not None:
                item = replace(item, depth=parent.depth + 1, caused_by=parent.id)
            if item.status == "resolved":  # the agent says it no longer holds: resolved last
                resolutions.append(item)
                continue
            stored, is_new = self.records.report_finding(item, at=at)
            if is_new and stored.kind in self._superseding(stored.agent):
                superseded = self.records.supersede_older(stored, at=at)
                report.superseded.extend(superseded)
                if stored.id in superseded:  # a newer one of its kind was there already
                    continue
            routed = self.records.count_audit(object_id=stored.id, verb="finding.routed") > 0
            if not is_new and routed:
                report.repeated_findings.append(stored.id)
                continue
            report.findings.append(stored.id)
            fresh.add(stored.id)
            target = chain
            if target is None:
                target = _Chain(stored, playbook_for(stored.kind, self.playbooks))
                chains.append(target)
                new_chains[stored.id] = target
            target.findings.append(stored.id)
            queue.append((stored, target))
        for item in items:
            if isinstance(item, Finding):
                continue
            if not isinstance(item, Recommendation):
                raise ParameterError(
                    f"agent {agent!r} returned {type(item).__name__}; expected Finding or "
                    "Recommendation"
                )
            saved, is_new = self.records.save_recommendation(item, at=at)
            if not is_new:
                continue
            report.recommendations.append(saved.id)
            home = chain or next(
                (new_chains[f] for f in saved.finding_ids if f in new_chains), None
            )
            if home is not None and home.playbook is not None and home.playbook.bundle:
                home.recommendations.append(saved)
            else:
                self._propose(saved, at, report, actor=saved.agent or "orchestrator")

    def _route(
        self,
        finding: Finding,
        chain: _Chain,
        at: datetime,
        report: RunReport,
        chains: list[_Chain],
        queue: deque[tuple[Finding, _Chain]],
        resolutions: list[Finding],
    ) -> None:
        if finding.depth >= self.max_depth:
            self.records.audit(
                AuditEntry(
                    "orchestrator",
                    "finding.depth_limit",
                    "finding",
                    finding.id,
                    at,
                    {"depth": finding.depth, "max_depth": self.max_depth},
                )
            )
            report.skipped.append({"reason": "depth_limit", "finding": finding.id})
            self._mark_routed(finding, [], at)
            return
        if chain.playbook is not None:
            targets = chain.playbook.agents_for(finding.kind)
        else:
            targets = [
                name
                for name, agent in self.agents.items()
                if any(_matches(finding.kind, s) for s in agent.subscriptions)
            ]
        reacted = []
        for name in targets:
            agent = self.agents.get(name)
            if agent is None:
                report.skipped.append(
                    {"reason": "agent_not_installed", "agent": name, "finding": finding.id}
                )
                continue
            subject = finding.subject
            last = self.records.last_audit_time(
                verb="agent.reacted",
                actor=name,
                object_type=subject.type,
                object_id=subject.external_id,
            )
            if last is not None and at - last < self.cooldown:
                self.records.audit(
                    AuditEntry(
                        name,
                        "agent.cooldown",
                        subject.type,
                        subject.external_id,
                        at,
                        {"finding_id": finding.id, "last_reaction": last.isoformat()},
                    )
                )
                report.skipped.append({"reason": "cooldown", "agent": name, "finding": finding.id})
                continue
            self.records.audit(
                AuditEntry(
                    name,
                    "agent.reacted",
                    subject.type,
                    subject.external_id,
                    at,
                    {
                        "finding_id": finding.id,
                        "playbook": chain.playbook.name if chain.playbook else None,
                    },
                )
            )
            report.reactions.append((name, finding.id))
            reacted.append(name)
            context = self.context(at, trigger=finding, playbook=chain.playbook)
            try:
                items = list(agent.react(finding, context))
            except Exception as error:  # an agent's bug must not stop the chain
                self._agent_failed(name, "react", finding, error, at, report)
                continue
            self._take(items, name, finding, chain, at, report, chains, queue, resolutions)
        self._mark_routed(finding, reacted, at)

    def _mark_routed(self, finding: Finding, agents: list[str], at: datetime) -> None:
        self.records.audit(
            AuditEntry(
                "orchestrator", "finding.routed", "finding", finding.id, at, {"agents": agents}
            )
        )

    def _bundle(self, chain: _Chain, at: datetime, report: RunReport) -> None:
        if not chain.recommendations or chain.playbook is None:
            return
        playbook = chain.playbook
        kept, superseded = _supersede(chain.recommendations)
        for recommendation_id, replacement in superseded.items():  # never gone unexplained
            self.records.audit(
                AuditEntry(
                    "orchestrator",
                    "recommendation.superseded",
                    "recommendation",
                    recommendation_id,
                    at,
                    {"playbook": playbook.name, "by": replacement},
                )
            )
        if len(kept) == 1:  # one step: proposed by the agent that made it
            actor = kept[0].agent or "orchestrator"
            self._propose(kept[0], at, report, actor=actor, minimum_role=playbook.approver)
            return
        finding_ids: list[str] = []
        for item in [chain.root.id, *chain.findings] + [
            f for r in chain.recommendations for f in r.finding_ids
        ]:
            if item not in finding_ids:
                finding_ids.append(item)
        composite = Recommendation(
            agent="orchestrator",
            finding_ids=tuple(finding_ids),
            action_type=COMPOSITE,
            parameters={
                "playbook": playbook.name,
                "root_finding": chain.root.id,
                "superseded": list(superseded),
            },
            expected_effect={f"{r.agent}:{r.action_type}": dict(r.expected_effect) for r in kept},
            requires_approval=any(r.requires_approval for r in kept),
            steps=tuple(
                Step(r.action_type, r.parameters, r.expected_effect, r.agent, r.id) for r in kept
            ),
            title=f"{playbook.name}: {chain.root.subject}",
            dedup_key=stable_id("chain", playbook.name, chain.root.id),
        )
        saved, _ = self.records.save_recommendation(composite, at=at)
        report.recommendations.append(saved.id)
        self._propose(saved, at, report, minimum_role=playbook.approver)

    def _propose(
        self,
        recommendation: Recommendation,
        at: datetime,
        report: RunReport,
        *,
        actor: str = "orchestrator",
        minimum_role: str | None = None,
    ) -> Action:
        self._check_executable(recommendation)
        role = self.policies.approver(recommendation)
        if minimum_role is not None and role_rank(minimum_role) > role_rank(role):
            role = minimum_role
        action, is_new = self.records.propose(
            recommendation, required_role=role, actor=actor, at=at
        )
        if is_new:
            report.actions.append(action.id)
        # A playbook's bundle always goes to a person; only a lone action may auto-execute.
        if is_new and minimum_role is None and self.policies.auto_executes(recommendation):
            self.records.transition(
                action.id,
                "approved",
                actor="policy:auto",
                at=at,
                comment="policy auto-execute",
                approved_hash=recommendation.content_hash,
            )
            action = self.execute(action.id, actor="policy:auto", at=at)
            if action.state == "executed":
                report.executed.append(action.id)
        return action

    def _check_executable(self, recommendation: Recommendation) -> None:
        types = [s.action_type for s in recommendation.steps] or [recommendation.action_type]
        missing = [t for t in types if t not in self.executors]
        if missing:
            raise ParameterError(
                f"recommendation {recommendation.id} by {recommendation.agent!r}: no executor "
                f"for action type(s) {missing}; known: {list(self.executors)}"
            )

    def _acknowledge(
        self, recommendation: Recommendation, action_id: str, actor: str, at: datetime
    ) -> None:
        """Mark the open findings an executed action answered as acknowledged."""
        for finding_id in recommendation.finding_ids:
            try:
                finding = self.records.finding(finding_id)
            except RecordNotFoundError:
                continue
            if finding.status == "open":
                self.records.set_finding_status(
                    finding_id,
                    "acknowledged",
                    actor=actor,
                    at=at,
                    comment=f"answered by action {action_id}",
                )

    # -- people's decisions -----------------------------------------------------------------------
    def propose(
        self, recommendation: Recommendation, *, actor: str, at: datetime | None = None
    ) -> Action:
        """Record a recommendation and propose its action; never executes it (MCP, API).

        ``actor`` is the proposer as authenticated: they can never approve it themselves. The
        same proposal again returns its action as it is; a changed one (same slot, other
        content) is a new action that supersedes the older one still waiting.

        Raises:
            ParameterError: If no executor knows the action type, or a finding it answers
                does not exist.
        """
        return self.make_proposal(recommendation, actor=actor, at=at)[0]

    def make_proposal(
        self, recommendation: Recommendation, *, actor: str, at: datetime | None = None
    ) -> tuple[Action, bool]:
        """Like :meth:`propose`; also says whether this call proposed it (False: made before)."""
        at = utc(at) or self.now()
        self._check_executable(recommendation)
        for finding_id in recommendation.finding_ids:
            try:
                self.records.finding(finding_id)
            except RecordNotFoundError:
                raise ParameterError(
                    f"the proposed {recommendation.action_type} answers finding {finding_id!r}, "
                    "which does not exist"
                ) from None
        saved, _ = self.records.save_recommendation(recommendation, at=at)
        return self.records.propose(
            saved, required_role=self.policies.approver(saved), actor=actor, at=at
        )

    def approve(
        self,
        action_id: str,
        *,
        actor: str,
        role: str,
        comment: str | None = None,
        execute: bool = True,
        at: datetime | None = None,
        content_hash: str | None = None,
        override: bool = False,
    ) -> Action:
        """Approve a proposed action (and execute it, unless ``execute=False``).

        Args:
            action_id: The action.
            actor: Who approves, as authenticated (``user:ann``, ``os:ann``).
            role: The role they hold.
            comment: Why; required with ``override``.
            execute: Execute right after approving (else :meth:`execute` later).
            at: When (the orchestrator's clock by default).
            content_hash: The :attr:`Recommendation.content_hash` of what the approver was
                shown; when given, the approval is refused unless it is what will execute.
            override: An admin approving their own proposal; audited as an override.

        Raises:
            PermissionDeniedError: If ``role`` may not approve it, or ``actor`` proposed it
                (without an admin's override).
            ActionStateError: If it is not ``proposed``, or it is not what the approver saw.
        """
        at = utc(at) or self.now()
        action = self.records.action(action_id)
        self.policies.check_can_decide(role, action.required_role, action_id)
        self._check_not_own(action, actor=actor, role=role, comment=comment, override=override)
        current = self.records.recommendation(action.recommendation_id).content_hash
        for seen, what in ((content_hash, "you were shown"), (action.content_hash, "was proposed")):
            if seen is not None and seen != current:
                raise ActionStateError(
                    f"action {action_id}: the content {what} (hash {seen[:12]}...) is not the "
                    f"content stored (hash {current[:12]}...); nothing was approved: look at "
                    "the action again"
                )
        with self.store.transaction():
            action = self.records.transition(
                action_id, "approved", actor=actor, at=at, comment=comment, approved_hash=current
            )
            if override:
                self.records.audit(
                    AuditEntry(
                        actor,
                        "action.override",
                        "action",
                        action_id,
                        at,
                        {"override": "self-approval", "role": role, "comment": comment},
                    )
                )
        if execute:
            action = self.execute(action_id, actor=actor, at=at)
        return action

    @staticmethod
    def _check_not_own(
        action: Action, *, actor: str, role: str, comment: str | None, override: bool
    ) -> None:
        if action.proposed_by != actor:
            if override:
                raise ParameterError(
                    f"action {action.id}: an override is only for approving one's own proposal; "
                    f"{actor} did not propose it"
                )
            return
        if not override:
            raise PermissionDeniedError(
                f"action {action.id} was proposed by {actor}: someone else must approve it "
                "(separation of duties; an admin may override with a comment saying why)"
            )
        if role != "admin":
            raise PermissionDeniedError(
                f"action {action.id}: only an admin may approve their own proposal; {actor} has "
                f"the role {role!r}"
            )
        if not (comment or "").strip():
            raise ParameterError(
                f"action {action.id}: approving one's own proposal needs a comment saying why"
            )

    def reject(
        self,
        action_id: str,
        *,
        actor: str,
        role: str,
        comment: str | None = None,
        at: datetime | None = None,
    ) -> Action:
        """Reject a proposed action, with the reviewer's comment.

        Raises:
            PermissionDeniedError: If ``role`` may not decide on it.
            ActionStateError: If it is not ``proposed``.
        """
        at = utc(at) or self.now()
        action = self.records.action(action_id)
        self.policies.check_can_decide(role, action.required_role, action_id)
        return self.records.transition(action_id, "rejected", actor=actor, at=at, comment=comment)

    def compensate(
        self, action_id: str, *, actor: str, comment: str = "", at: datetime | None = None
    ) -> Action:
        """Propose the action that undoes an executed one; a person must approve it.

        The new action carries the inverse of every step, last step first (a move back to the
        dates before, a cancellation of what was created), each expecting the record as the
        executed action left it, so it never overwrites a later change. The executed action
        itself is never edited.

        Raises:
            ActionStateError: If the action is not ``executed``.
            ParameterError: If one of its steps cannot be undone (a notification was sent).
        """
        at = utc(at) or self.now()
        action = self.records.action(action_id)
        if action.state != "executed":
            raise ActionStateError(
                f"action {action_id} is {action.state!r}: only an executed action can be undone"
            )
        original = self.records.recommendation(action.recommendation_id)
        results = (action.result or {}).get("steps", [])
        inverse = [
            Step(item["action_type"], item["parameters"], agent=actor)
            for step, result in reversed(list(zip(_steps_of(original), results, strict=False)))
            for item in compensation_steps(step.action_type, result.get("changed") or {})
        ]
        first = inverse[0] if len(inverse) == 1 else None
        recommendation = Recommendation(
            agent=actor,
            finding_ids=original.finding_ids,
            action_type=first.action_type if first else COMPOSITE,
            parameters={**(first.parameters if first else {}), "compensates": action_id},
            expected_effect={"undoes": action_id},
            steps=() if first else tuple(inverse),
            title=f"undo {action_id}: {original.title or original.action_type}",
            dedup_key=f"compensate:{action_id}",
        )
        self._check_executable(recommendation)
        saved, _ = self.records.save_recommendation(recommendation, at=at)
        proposed, _ = self.records.propose(
            saved, required_role=self.policies.approver(saved), actor=actor, at=at
        )
        self.records.audit(
            AuditEntry(
                actor,
                "action.compensation_proposed",
                "action",
                action_id,
                at,
                {"compensated_by": proposed.id, "comment": comment},
            )
        )
        return proposed

    def execute(self, action_id: str, *, actor: str, at: datetime | None = None) -> Action:
        """Apply an approved action through its executors; all steps land or none.

        The action ends ``executed`` with what changed, or ``failed`` with the error.

        Raises:
            ActionStateError: If it is not ``approved``.
        """
        at = utc(at) or self.now()
        action = self.records.action(action_id)
        if not action.can_move_to("executed"):
            action.transition("executed", actor=actor, at=at)  # raises, naming the states
        recommendation = self.records.recommendation(action.recommendation_id)
        if action.approved_hash != recommendation.content_hash:
            approved = (action.approved_hash or "none recorded")[:12]
            return self.records.transition(
                action_id,
                "failed",
                actor=actor,
                at=at,
                result={
                    "error": f"refused: the approved content (hash {approved}) is not the "
                    f"content stored (hash {recommendation.content_hash[:12]}); nothing was "
                    "executed: propose it again",
                    "failed_step": 0,
                    "action_type": recommendation.action_type,
                },
            )
        steps = _steps_of(recommendation)
        context = self.context(at, action_id=action_id)
        results: list[dict[str, Any]] = []
        try:
            with self.store.transaction():
                for index, step in enumerate(steps):
                    changed = self.executors.get(step.action_type)(context, step.parameters)
                    results.append(
                        {"step": index, "action_type": step.action_type, "changed": changed}
                    )
                done = self.records.transition(
                    action_id, "executed", actor=actor, at=at, result={"steps": results}
                )
                self._acknowledge(recommendation, action_id, actor, at)
                return done
        except Exception as error:  # any failing step fails the whole action, recorded
            failed_step = len(results)
            return self.records.transition(
                action_id,
                "failed",
                actor=actor,
                at=at,
                result={
                    "error": f"{type(error).__name__}: {error}",
                    "failed_step": failed_step,
                    "action_type": steps[failed_step].action_type
                    if failed_step < len(steps)
                    else None,
                },
            )


def _steps_of(recommendation: Recommendation) -> tuple[Step, ...]:
    return recommendation.steps or (
        Step(recommendation.action_type, recommendation.parameters, agent=recommendation.agent),
    )


def _supersede(
    recommendations: Sequence[Recommendation],
) -> tuple[list[Recommendation], dict[str, str]]:
    """Keep, of steps with the same action type on the same target, the one made last.

    A later stage refines an earlier one: planning's maintenance order, placed in a window it
    chose, replaces the maintenance agent's first proposal for the same machine; planning's
    recipe revision, dated between orders, replaces the design agent's for the same new
    revision. The target is the step's ``asset``, else the record it writes (``space`` and
    ``external_id``). Returns the kept recommendations (in chain order) and, per superseded
    one, the id of the one that replaces it.
    """
    latest: dict[tuple[str, ...], int] = {}
    for index, recommendation in enumerate(recommendations):
        target = _target(recommendation)
        if target is not None:
            latest[target] = index
    kept: list[Recommendation] = []
    superseded: dict[str, str] = {}
    for index, recommendation in enumerate(recommendations):
        target = _target(recommendation)
        if target is not None and latest[target] != index:
            superseded[recommendation.id] = recommendations[latest[target]].id
        else:
            kept.append(recommendation)
    return kept, superseded


def _target(recommendation: Recommendation) -> tuple[str, ...] | None:
    """What a step acts on, for :func:`_supersede`: its asset, else the record it writes."""
    parameters = recommendation.parameters
    if parameters.get("asset") is not None:
        return (recommendation.action_type, "asset", str(parameters["asset"]))
    if parameters.get("external_id") is not None:
        space = str(parameters.get("space") or "")
        return (recommendation.action_type, space, str(parameters["external_id"]))
    return None


def _matches(kind: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(kind, pattern)


def describe_playbooks(playbooks: Sequence[Playbook] = PLAYBOOKS) -> list[Mapping[str, Any]]:
    """The playbooks as plain dicts, for the CLI, the API and the dashboard."""
    return [
        {
            "name": p.name,
            "trigger": p.trigger,
            "routes": [{"on": r.on, "agent": r.agent} for r in p.routes],
            "bundle": p.bundle,
            "approver": p.approver,
            "description": p.description,
        }
        for p in playbooks
    ]
