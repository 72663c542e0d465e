"""The agents' contract: findings, recommendations, actions and audit entries.

Every record is a frozen dataclass with ``dump()`` (JSON-ready dict) and ``load(dict)``. Ids are
derived from what a record *is*, never drawn at random, so reporting the same finding twice, or
replaying a run, lands on the same rows. A recommendation's id includes the hash of everything a
person sees of it (:attr:`Recommendation.content_hash`): a changed proposal is a new
recommendation and a new action, never an edit of the one someone looked at. An :class:`Action`
moves through ``proposed -> approved | rejected | superseded`` and
``approved -> executed | failed``; any other move raises :class:`ActionStateError` naming the
action, its state and the attempted transition.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from factorybrain.exceptions import FactorybrainError, ParameterError

#: Severity levels of a finding, from least to most urgent.
SEVERITIES: tuple[str, ...] = ("info", "low", "medium", "high", "critical")
#: Lifecycle of a finding: ``open`` until a person acknowledges or closes it, the data comes back
#: to normal (``resolved``, said by its agent) or a newer finding of its kind on the same subject
#: takes its place (``superseded``).
FINDING_STATUSES: tuple[str, ...] = ("open", "acknowledged", "resolved", "superseded", "closed")
#: The statuses of a finding that still asks for attention.
ACTIVE_STATUSES: tuple[str, ...] = ("open", "acknowledged")
#: States of an action.
ACTION_STATES: tuple[str, ...] = (
    "proposed",
    "approved",
    "rejected",
    "superseded",
    "executed",
    "failed",
)
#: The legal moves of an action: state -> states it may go to. A proposal replaced by a changed
#: one is ``superseded``; an executed action is final (only a new, approved action undoes it).
TRANSITIONS: Mapping[str, tuple[str, ...]] = {
    "proposed": ("approved", "rejected", "superseded"),
    "approved": ("executed", "failed"),
    "rejected": (),
    "superseded": (),
    "executed": (),
    "failed": (),
}
#: ``action_type`` of an action that carries several child steps.
COMPOSITE = "composite"

_KIND = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
_ACTION_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")


class ActionStateError(FactorybrainError, ValueError):
    """An action was asked to make a move its state machine does not allow."""


class PermissionDeniedError(FactorybrainError, PermissionError):
    """Someone tried to do what their role does not allow (names the role and the need)."""


class RecordNotFoundError(FactorybrainError, LookupError):
    """A finding, recommendation or action id that the store does not hold."""


def json_safe(value: Any) -> Any:
    """``value`` with every float that JSON cannot hold (NaN, infinities) replaced by None.

    What the store keeps and what a content hash covers: a record never holds a number that a
    later read could not serialize.
    """
    # Strings and integers, most of what records hold (a recall scope's serials), are kept
    # without a call per item: the same result, a fraction of the time on large records.
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): v if type(v) in _KEPT else json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [v if type(v) in _KEPT else json_safe(v) for v in value]
    return value


_KEPT = frozenset({str, int, bool, type(None)})


def canonical_json(value: Any) -> str:
    """The one text of ``value`` that hashes are taken of: sorted keys, compact, finite numbers."""
    return json.dumps(
        json_safe(value), sort_keys=True, default=str, separators=(",", ":"), allow_nan=False
    )


def stable_id(prefix: str, *parts: Any) -> str:
    """Return ``prefix-<16 hex>``, a hash of ``parts``: the same parts give the same id."""
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return f"{prefix}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def utc(moment: datetime | str | None) -> datetime | None:
    """Return ``moment`` as a naive UTC datetime (how the store keeps time), or None."""
    if moment is None:
        return None
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _check_kind(kind: str, what: str) -> None:
    if not isinstance(kind, str) or not _KIND.match(kind):
        raise ParameterError(
            f"{what} must be a namespaced kind like 'maintenance.rul_low' "
            f"(lowercase words joined by dots); got {kind!r}"
        )


@dataclass(frozen=True)
class EntityRef:
    """A pointer to an entity of the factory model: its type and external id.

    Args:
        type: Entity type (``asset``, ``work_order``, ``finding``...).
        external_id: The entity's external id.
        space: Its space, when the external id alone is ambiguous.
    """

    type: str
    external_id: str
    space: str | None = None

    def __post_init__(self) -> None:
        if not self.type or not self.external_id:
            raise ParameterError(
                f"an entity reference needs a type and an external_id; got "
                f"type={self.type!r}, external_id={self.external_id!r}"
            )

    def dump(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        out: dict[str, Any] = {"type": self.type, "external_id": self.external_id}
        if self.space:
            out["space"] = self.space
        return out

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> EntityRef:
        """Build from :meth:`dump`'s output."""
        return cls(str(data["type"]), str(data["external_id"]), data.get("space"))

    def __str__(self) -> str:
        return f"{self.type}:{self.external_id}"


@dataclass(frozen=True)
class Evidence:
    """What a finding rests on: entity references, named numbers and a sentence.

    Args:
        refs: Entities the finding was computed from (series, events, orders...).
        numbers: Named figures, e.g. ``{"rul_days": 12.0, "rul_low_days": 7.0}``.
        text: One sentence a person can read.
    """

    refs: tuple[EntityRef, ...] = ()
    numbers: Mapping[str, float] = field(default_factory=dict)
    text: str = ""

    def dump(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "refs": [r.dump() for r in self.refs],
            "numbers": {k: float(v) for k, v in self.numbers.items()},
            "text": self.text,
        }

    @classmethod
    def load(cls, data: Mapping[str, Any] | None) -> Evidence:
        """Build from :meth:`dump`'s output."""
        data = data or {}
        return cls(
            tuple(EntityRef.load(r) for r in data.get("refs", ())),
            {str(k): float(v) for k, v in (data.get("numbers") or {}).items()},
            str(data.get("text") or ""),
        )


@dataclass(frozen=True)
class Finding:
    """Something an agent noticed.

    The id is derived from ``(agent, kind, subject, dedup_key)``: the same agent reporting the
    same kind of thing about the same subject with the same key is one finding. Put what makes
    two occurrences different into ``dedup_key`` (e.g. the ISO week) when they must stay apart.

    Args:
        agent: Name of the agent that noticed it.
        kind: Namespaced kind, e.g. ``maintenance.rul_low``.
        subject: The entity it is about.
        severity: One of :data:`SEVERITIES`.
        confidence: In ``[0, 1]``.
        evidence: Entity references and numbers behind it.
        dedup_key: What separates two findings of the same agent, kind and subject.
        created_at: When it was noticed (UTC); the orchestrator fills in its clock when empty.
        depth: Position in a chain of reactions (0 for a finding from a run).
        caused_by: Id of the finding whose reaction produced this one.
        status: One of :data:`FINDING_STATUSES`.
        title: Short human-readable title.
    """

    agent: str
    kind: str
    subject: EntityRef
    severity: str = "medium"
    confidence: float = 1.0
    evidence: Evidence = field(default_factory=Evidence)
    dedup_key: str = ""
    created_at: datetime | None = None
    depth: int = 0
    caused_by: str | None = None
    status: str = "open"
    title: str = ""

    def __post_init__(self) -> None:
        if not self.agent:
            raise ParameterError("a finding needs the name of its agent; got an empty name")
        _check_kind(self.kind, f"the kind of a finding by {self.agent!r}")
        if not isinstance(self.subject, EntityRef):
            raise ParameterError(
                f"finding {self.kind!r}: subject must be an EntityRef, got {self.subject!r}"
            )
        if self.severity not in SEVERITIES:
            raise ParameterError(
                f"finding {self.kind!r} on {self.subject}: severity must be one of "
                f"{list(SEVERITIES)}, got {self.severity!r}"
            )
        if not 0.0 <= float(self.confidence) <= 1.0:
            raise ParameterError(
                f"finding {self.kind!r} on {self.subject}: confidence must be in [0, 1], "
                f"got {self.confidence!r}"
            )
        if self.status not in FINDING_STATUSES:
            raise ParameterError(
                f"finding {self.kind!r}: status must be one of {list(FINDING_STATUSES)}, "
                f"got {self.status!r}"
            )
        object.__setattr__(self, "created_at", utc(self.created_at))

    @property
    def id(self) -> str:
        """Stable id: the same agent, kind, subject and dedup key give the same id."""
        return stable_id(
            "fnd", self.agent, self.kind, self.subject.type, self.subject.external_id,
            self.dedup_key,
        )  # fmt: skip

    def dump(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "id": self.id,
            "agent": self.agent,
            "kind": self.kind,
            "subject": self.subject.dump(),
            "severity": self.severity,
            "confidence": float(self.confidence),
            "evidence": self.evidence.dump(),
            "dedup_key": self.dedup_key,
            "created_at": _iso(self.created_at),
            "depth": self.depth,
            "caused_by": self.caused_by,
            "status": self.status,
            "title": self.title,
        }

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> Finding:
        """Build from :meth:`dump`'s output."""
        return cls(
            agent=data["agent"],
            kind=data["kind"],
            subject=EntityRef.load(data["subject"]),
            severity=data.get("severity", "medium"),
            confidence=float(data.get("confidence", 1.0)),
            evidence=Evidence.load(data.get("evidence")),
            dedup_key=data.get("dedup_key", ""),
            created_at=utc(data.get("created_at")),
            depth=int(data.get("depth", 0)),
            caused_by=data.get("caused_by"),
            status=data.get("status", "open"),
            title=data.get("title", ""),
        )


@dataclass(frozen=True)
class Step:
    """One child step of a composite recommendation.

    Args:
        action_type: What the step does, e.g. ``purchase_order.create``.
        parameters: Its arguments.
        expected_effect: What it should change, with numbers.
        agent: Agent that proposed it.
        recommendation_id: The recommendation it came from.
    """

    action_type: str
    parameters: Mapping[str, Any] = field(default_factory=dict)
    expected_effect: Mapping[str, Any] = field(default_factory=dict)
    agent: str = ""
    recommendation_id: str | None = None

    def dump(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "action_type": self.action_type,
            "parameters": dict(self.parameters),
            "expected_effect": dict(self.expected_effect),
            "agent": self.agent,
            "recommendation_id": self.recommendation_id,
        }

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> Step:
        """Build from :meth:`dump`'s output."""
        return cls(
            data["action_type"],
            dict(data.get("parameters") or {}),
            dict(data.get("expected_effect") or {}),
            data.get("agent", ""),
            data.get("recommendation_id"),
        )


@dataclass(frozen=True)
class Recommendation:
    """What an agent proposes to do about findings.

    A composite recommendation (``action_type="composite"``) carries its child ``steps``; it is
    stored with ``parameters = {"steps": [...]}``.

    Args:
        agent: Agent that proposes it.
        finding_ids: Findings it answers.
        action_type: What to do, e.g. ``work_order.reschedule`` (an executor's name).
        parameters: Arguments of the action.
        expected_effect: What it should change, with numbers.
        requires_approval: Whether the agent asks for a person's approval (policies can only
            make approval stricter, never waive it).
        steps: Child steps of a composite recommendation.
        title: Short human-readable title.
        dedup_key: What separates two recommendations of the same type on the same findings.
    """

    agent: str
    finding_ids: tuple[str, ...]
    action_type: str
    parameters: Mapping[str, Any] = field(default_factory=dict)
    expected_effect: Mapping[str, Any] = field(default_factory=dict)
    requires_approval: bool = True
    steps: tuple[Step, ...] = ()
    title: str = ""
    dedup_key: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "finding_ids", tuple(self.finding_ids))
        object.__setattr__(self, "steps", tuple(self.steps))
        if not _ACTION_TYPE.match(self.action_type or ""):
            raise ParameterError(
                f"recommendation by {self.agent!r}: action_type must be lowercase words joined "
                f"by dots, e.g. 'purchase_order.create'; got {self.action_type!r}"
            )
        if (self.action_type == COMPOSITE) != bool(self.steps):
            raise ParameterError(
                f"recommendation by {self.agent!r}: a 'composite' action_type needs steps and "
                f"only a composite may have steps; got action_type={self.action_type!r} with "
                f"{len(self.steps)} step(s)"
            )

    @property
    def slot(self) -> str:
        """What the proposal is about: agent, action type, findings answered and dedup key.

        Two recommendations in one slot with different content are two versions of one
        proposal: proposing the newer supersedes the older's pending action.
        """
        return stable_id(
            "slot", self.agent, self.action_type, sorted(self.finding_ids), self.dedup_key
        )

    @property
    def content_hash(self) -> str:
        """SHA-256 of everything a person sees and approves of it (parameters and steps included).

        Computed on the JSON the store keeps (:func:`canonical_json`), so the hash of a stored
        recommendation read back equals the hash of the one that was saved.
        """
        content = self.dump_content()
        return hashlib.sha256(canonical_json(content).encode()).hexdigest()

    @property
    def id(self) -> str:
        """Stable id from its slot and its content: a changed proposal gets a new id."""
        return stable_id("rec", self.slot, self.content_hash)

    def dump_content(self) -> dict[str, Any]:
        """What a person approves: every field but the derived ids."""
        return {
            "agent": self.agent,
            "finding_ids": sorted(self.finding_ids),
            "action_type": self.action_type,
            "parameters": self.stored_parameters(),
            "expected_effect": dict(self.expected_effect),
            "requires_approval": bool(self.requires_approval),
            "title": self.title,
            "dedup_key": self.dedup_key,
        }

    def stored_parameters(self) -> dict[str, Any]:
        """Parameters as stored: a composite keeps its steps under ``"steps"``."""
        if self.steps:
            return {**self.parameters, "steps": [s.dump() for s in self.steps]}
        return dict(self.parameters)

    def dump(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "id": self.id,
            "agent": self.agent,
            "finding_ids": list(self.finding_ids),
            "action_type": self.action_type,
            "parameters": self.stored_parameters(),
            "expected_effect": dict(self.expected_effect),
            "requires_approval": self.requires_approval,
            "title": self.title,
            "dedup_key": self.dedup_key,
            "slot": self.slot,
            "content_hash": self.content_hash,
        }

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> Recommendation:
        """Build from :meth:`dump`'s output."""
        parameters = dict(data.get("parameters") or {})
        steps = tuple(Step.load(s) for s in parameters.pop("steps", ()) or ())
        return cls(
            agent=data.get("agent") or "",
            finding_ids=tuple(data.get("finding_ids") or ()),
            action_type=data["action_type"],
            parameters=parameters,
            expected_effect=dict(data.get("expected_effect") or {}),
            requires_approval=bool(data.get("requires_approval", True)),
            steps=steps,
            title=data.get("title", ""),
            dedup_key=data.get("dedup_key", ""),
        )


@dataclass(frozen=True)
class Action:
    """A recommendation on its way through ``proposed -> approved | rejected -> executed | failed``.

    Args:
        recommendation_id: The recommendation it carries out.
        action_type: Copied from the recommendation, for display and policy checks.
        state: One of :data:`ACTION_STATES`.
        required_role: Role that may approve it (``None`` when a policy lets it auto-execute).
        decided_by: Who approved or rejected it.
        decided_at: When.
        comment: The reviewer's comment.
        result: What executing it changed (or the error when it failed).
        proposed_at: When it was proposed.
        proposed_by: Who proposed it (an agent, or the authenticated person); never its
            approver.
        content_hash: :attr:`Recommendation.content_hash` of what it carries out.
        approved_hash: The content hash the approver saw and approved; execution refuses any
            other content.
        superseded_by: The action of the changed proposal that replaced it.
    """

    recommendation_id: str
    action_type: str
    state: str = "proposed"
    required_role: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    comment: str | None = None
    result: Mapping[str, Any] | None = None
    proposed_at: datetime | None = None
    proposed_by: str | None = None
    content_hash: str | None = None
    approved_hash: str | None = None
    superseded_by: str | None = None

    def __post_init__(self) -> None:
        if self.state not in ACTION_STATES:
            raise ParameterError(
                f"action {self.id}: state must be one of {list(ACTION_STATES)}, got {self.state!r}"
            )
        object.__setattr__(self, "decided_at", utc(self.decided_at))
        object.__setattr__(self, "proposed_at", utc(self.proposed_at))

    @property
    def id(self) -> str:
        """Stable id: one action per recommendation."""
        return stable_id("act", self.recommendation_id)

    def can_move_to(self, state: str) -> bool:
        """Whether the state machine allows going from the current state to ``state``."""
        return state in TRANSITIONS.get(self.state, ())

    def transition(
        self,
        state: str,
        *,
        actor: str,
        at: datetime,
        comment: str | None = None,
        result: Mapping[str, Any] | None = None,
        approved_hash: str | None = None,
        superseded_by: str | None = None,
    ) -> Action:
        """Return the action moved to ``state``.

        Approval and rejection record who decided, when and why (an approval also the content
        hash approved); execution records the result; superseding names the replacement.

        Raises:
            ActionStateError: If the move is not allowed from the current state.
        """
        if state not in ACTION_STATES:
            raise ActionStateError(
                f"action {self.id} ({self.action_type}): unknown target state {state!r}; "
                f"states are {list(ACTION_STATES)}"
            )
        if not self.can_move_to(state):
            allowed = list(TRANSITIONS.get(self.state, ())) or "none, it is final"
            raise ActionStateError(
                f"action {self.id} ({self.action_type}) is {self.state!r}: cannot move "
                f"{self.state} -> {state}; allowed: {allowed}"
            )
        changes: dict[str, Any] = {"state": state}
        if state in ("approved", "rejected", "superseded"):
            changes.update(decided_by=actor, decided_at=utc(at), comment=comment)
        if state == "approved":
            changes["approved_hash"] = approved_hash
        if state == "superseded":
            changes["superseded_by"] = superseded_by
        if state in ("executed", "failed"):
            changes["result"] = dict(result or {})
            if comment:
                changes["comment"] = comment
        return replace(self, **changes)

    def dump(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "id": self.id,
            "recommendation_id": self.recommendation_id,
            "action_type": self.action_type,
            "state": self.state,
            "required_role": self.required_role,
            "decided_by": self.decided_by,
            "decided_at": _iso(self.decided_at),
            "comment": self.comment,
            "result": None if self.result is None else dict(self.result),
            "proposed_at": _iso(self.proposed_at),
            "proposed_by": self.proposed_by,
            "content_hash": self.content_hash,
            "approved_hash": self.approved_hash,
            "superseded_by": self.superseded_by,
        }

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> Action:
        """Build from :meth:`dump`'s output."""
        return cls(
            recommendation_id=data["recommendation_id"],
            action_type=data["action_type"],
            state=data.get("state", "proposed"),
            required_role=data.get("required_role"),
            decided_by=data.get("decided_by"),
            decided_at=utc(data.get("decided_at")),
            comment=data.get("comment"),
            result=data.get("result"),
            proposed_at=utc(data.get("proposed_at")),
            proposed_by=data.get("proposed_by"),
            content_hash=data.get("content_hash"),
            approved_hash=data.get("approved_hash"),
            superseded_by=data.get("superseded_by"),
        )


@dataclass(frozen=True)
class AuditEntry:
    """One state change of anything an agent or a person did.

    Args:
        actor: Agent name or person (``user:alice``, ``agent:planning``, ``policy:auto``).
        verb: What happened, e.g. ``action.approved``, ``finding.reported``.
        object_type: Entity type changed.
        object_id: Entity changed.
        occurred_at: When (UTC).
        details: Before, after, comment, numbers.
    """

    actor: str
    verb: str
    object_type: str
    object_id: str
    occurred_at: datetime
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "occurred_at", utc(self.occurred_at))

    @property
    def id(self) -> str:
        """Stable id: replaying the same change at the same moment writes one entry."""
        return stable_id(
            "aud", self.actor, self.verb, self.object_type, self.object_id,
            _iso(self.occurred_at), dict(self.details),
        )  # fmt: skip

    def dump(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "id": self.id,
            "actor": self.actor,
            "verb": self.verb,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "occurred_at": _iso(self.occurred_at),
            "details": dict(self.details),
        }

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> AuditEntry:
        """Build from :meth:`dump`'s output."""
        return cls(
            data["actor"],
            data["verb"],
            data.get("object_type") or "",
            data.get("object_id") or "",
            utc(data["occurred_at"]),  # type: ignore[arg-type]
            dict(data.get("details") or {}),
        )


def data_gap(
    agent: str,
    text: str,
    key: str,
    at: datetime | None,
    *,
    title: str,
    subject: EntityRef | None = None,
    numbers: Mapping[str, float] | None = None,
) -> Finding:
    """A ``<agent>.data_gap`` finding: what the data cannot serve and why, never silence.

    Low severity, certain (the gap is a fact of the data), on ``subject`` (the agent itself when
    the gap is not about one entity), deduplicated by ``key``.
    """
    return Finding(
        agent,
        f"{agent}.data_gap",
        subject or EntityRef("agent", agent),
        severity="low",
        confidence=1.0,
        evidence=Evidence((), dict(numbers or {}), text),
        dedup_key=key,
        created_at=at,
        title=title,
    )


#: Prefix of the evidence numbers of a ``service.failure_cluster`` naming another machine that
#: wore while it made the cluster's units: ``moved_too_z:<space>:<machine>`` -> its robust z.
MOVED_TOO = "moved_too_z:"


def moved_too_key(space: str, machine: str) -> str:
    """The evidence number's name for another machine that wore (see :data:`MOVED_TOO`)."""
    return f"{MOVED_TOO}{space}:{machine}"


def moved_too(numbers: Mapping[str, float]) -> list[str]:
    """The other machines that wore, as a finding's evidence numbers name them, in order."""
    return [
        key.removeprefix(MOVED_TOO).split(":", 1)[-1]
        for key in numbers
        if key.startswith(MOVED_TOO)
    ]


def refs(*pairs: Sequence[str]) -> tuple[EntityRef, ...]:
    """Shorthand: ``refs(("asset", "press-3"), ("time_series", "press-3.vib"))``."""
    return tuple(EntityRef(p[0], p[1]) for p in pairs)
