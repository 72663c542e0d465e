"""Where the agents' records live: four tables of the store, in the space ``agents``.

The tables are ``finding``, ``recommendation``, ``action`` and ``audit_entry``.

Every write goes through :class:`AgentRecords`, inside one store transaction together with its
audit entry, so a state change without its audit entry cannot exist. Writes are idempotent:
ids are derived from content (see :mod:`factorybrain.agents.core._contract`), and the store upserts
by key. Recommendations and audit entries are append-only: a recommendation's id covers its
content, so saving one again changes nothing, and every audit entry is chained to the one before
it by a hash (:meth:`AgentRecords.verify_audit` finds a changed, deleted or reordered entry).
JSON columns never hold NaN or infinities (they are written as null), so no stored record can
make a later read fail.

How the contract maps onto the table columns (the model has no column for them):

- ``finding.evidence`` holds ``Evidence.dump()`` plus ``"meta": {created_at, depth, caused_by,
  dedup_key}``; ``finding.name`` is the title, ``finding.source_id`` the dedup key.
- ``recommendation.name`` is the title, ``recommendation.source_id`` the dedup key.
- ``action.name`` is the action type; ``proposed_at`` is the store's ``created_at``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from factorybrain.agents.core._contract import (
    ACTIVE_STATUSES,
    FINDING_STATUSES,
    Action,
    AuditEntry,
    EntityRef,
    Evidence,
    Finding,
    Recommendation,
    RecordNotFoundError,
    canonical_json,
    json_safe,
    utc,
)
from factorybrain.exceptions import ParameterError
from factorybrain.model import entity_type
from factorybrain.store import Store

if TYPE_CHECKING:
    from factorybrain.connectors import IngestReport

#: Space of every agent record.
AGENTS_SPACE = "agents"
#: Findings in the order people read them: the newest data first.
_BY_DATA_TIME = (
    "coalesce(TRY_CAST(json_extract_string(evidence, '$.meta.created_at') AS TIMESTAMP), "
    "created_at) DESC, external_id"
)

_ARROW = {
    "string": pa.string(),
    "text": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us"),
    "json": pa.string(),
    "string[]": pa.list_(pa.string()),
}


def _table(entity: str, rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Arrow table of ``rows`` typed after the model's fields (JSON fields dumped to text)."""
    model = entity_type(entity)
    columns: dict[str, pa.Array] = {}
    for name in rows[0]:
        kind = model.field(name).type
        values = [row.get(name) for row in rows]
        if kind == "json":
            values = [
                None if v is None else json.dumps(json_safe(v), default=str, allow_nan=False)
                for v in values
            ]
        columns[name] = pa.array(values, _ARROW[kind])
    return pa.table(columns)


def _clean(value: Any) -> Any:
    """A store value as plain Python: NaN/NaT to None, arrays to lists, Timestamps to datetimes."""
    if value is None or isinstance(value, str):
        return value
    if hasattr(value, "to_pydatetime"):
        return None if value != value else value.to_pydatetime()  # NaT != NaT
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _json(value: Any) -> Any:
    """A JSON column read back; a NaN or infinity written before they were refused reads null."""
    if value is None:
        return None
    if isinstance(value, str):
        return json.loads(value, parse_constant=lambda _: None)
    return json_safe(value)


#: ``prev_hash`` of the first entry of an audit log.
GENESIS = "0" * 64


def _chain_hash(seq: int, prev_hash: str, entry: AuditEntry) -> str:
    """The hash of an audit entry at position ``seq`` after the entry hashed ``prev_hash``."""
    content = {
        "seq": seq,
        "prev_hash": prev_hash,
        "actor": entry.actor,
        "verb": entry.verb,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "occurred_at": entry.occurred_at.isoformat() if entry.occurred_at else None,
        "details": dict(entry.details),
    }
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()


@dataclass
class AuditVerification:
    """What :meth:`AgentRecords.verify_audit` found.

    Attributes:
        entries: Entries checked.
        head: ``(seq, hash)`` of the last entry; keep it elsewhere to detect a cut-off tail.
        problems: One line per broken link: the position, and what does not hold there.
    """

    entries: int = 0
    head: tuple[int, str] | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every entry is where the chain says and unchanged."""
        return not self.problems


class AgentRecords:
    """Read and write findings, recommendations, actions and audit entries in a store.

    Args:
        store: The factory store (its schema must be migrated).
        space: Space of the records; ``agents`` unless a test keeps several apart.
    """

    def __init__(self, store: Store, *, space: str = AGENTS_SPACE) -> None:
        self.store = store
        self.space = space
        self._legacy_chained = False

    # -- low level --------------------------------------------------------------------------------
    def _upsert(self, entity: str, row: Mapping[str, Any], ingest_id: str) -> None:
        full = {"space": self.space, **row}
        self.store.upsert_entities(entity, _table(entity, [full]), ingest_id)

    def _rows(
        self,
        entity: str,
        where: Mapping[str, Any] | None = None,
        *,
        order: str = "created_at DESC, external_id",
        limit: int | None = None,
        offset: int = 0,
        extra: str = "",
        extra_parameters: Sequence[Any] = (),
    ) -> list[dict[str, Any]]:
        model = entity_type(entity)
        conditions, parameters = ["space = ?"], [self.space]
        for name, value in (where or {}).items():
            model.field(name)
            if value is None:
                continue
            conditions.append(f'"{name}" = ?')
            parameters.append(value)
        if extra:
            conditions.append(extra)
            parameters.extend(extra_parameters)
        sql = f'SELECT * FROM "{entity}" WHERE {" AND ".join(conditions)} ORDER BY {order}'
        if limit is not None:
            sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
        found = self.store.query_rows(sql, parameters)
        return [{k: _clean(v) for k, v in record.items()} for record in found]

    def count(self, entity: str, where: Mapping[str, Any] | None = None) -> int:
        """Number of records of ``entity`` in this space matching ``where`` (None = any)."""
        conditions, parameters = ["space = ?"], [self.space]
        for name, value in (where or {}).items():
            entity_type(entity).field(name)
            if value is None:
                continue
            conditions.append(f'"{name}" = ?')
            parameters.append(value)
        found = self.store.query_rows(
            f'SELECT count(*) AS n FROM "{entity}" WHERE {" AND ".join(conditions)}', parameters
        )
        return int(found[0]["n"])

    def _one(self, entity: str, record_id: str) -> dict[str, Any]:
        rows = self._rows(entity, {"external_id": record_id})
        if not rows:
            raise RecordNotFoundError(f"no {entity} with id {record_id!r} in space {self.space!r}")
        return rows[0]

    # -- audit ------------------------------------------------------------------------------------
    def audit(self, entry: AuditEntry) -> AuditEntry:
        """Append an audit entry to the chain (idempotent: the same entry twice is stored once).

        The entry gets the next position and the hash of its content, position and the previous
        entry's hash; nothing ever rewrites an entry that is in the log.
        """
        entry = AuditEntry(
            entry.actor,
            entry.verb,
            entry.object_type,
            entry.object_id,
            entry.occurred_at,
            json_safe(dict(entry.details)),
        )
        with self.store.transaction():
            if self._rows("audit_entry", {"external_id": entry.id}, order="seq"):
                return entry
            self._chain_unchained()
            seq, prev_hash = self._audit_head()
            self._write_audit(entry, seq + 1, prev_hash)
        return entry

    def audit_ingest(
        self, actor: str, report: IngestReport, *, at: datetime, uploaded: bool = False
    ) -> AuditEntry:
        """Audit one file loaded: who loaded what, what it changed, whether it was uploaded."""
        details: dict[str, Any] = {
            "file": report.source_file,
            "entity_type": report.entity_type,
            "sha256": report.file_sha256,
            "rows_read": report.rows_read,
            "inserted": report.inserted,
            "updated": report.updated,
            "quarantined": report.quarantined,
            "status": report.status,
        }
        if uploaded:
            details["uploaded"] = True
        return self.audit(
            AuditEntry(actor, "data.ingested", "ingest", report.ingest_id, at, details)
        )

    def _write_audit(self, entry: AuditEntry, seq: int, prev_hash: str) -> None:
        self._upsert(
            "audit_entry",
            {
                "external_id": entry.id,
                "actor": entry.actor,
                "verb": entry.verb,
                "object_type": entry.object_type,
                "object_id": entry.object_id,
                "occurred_at": entry.occurred_at,
                "details": dict(entry.details),
                "seq": seq,
                "prev_hash": prev_hash,
                "hash": _chain_hash(seq, prev_hash, entry),
            },
            f"audit:{entry.verb}",
        )

    def _audit_head(self) -> tuple[int, str]:
        rows = self.store.query_rows(
            "SELECT seq, hash FROM audit_entry WHERE space = ? AND seq IS NOT NULL "
            "ORDER BY seq DESC LIMIT 1",
            [self.space],
        )
        return (int(rows[0]["seq"]), str(rows[0]["hash"])) if rows else (0, GENESIS)

    def _chain_unchained(self) -> None:
        """Chain the entries written before the log was chained (schema version 1), once."""
        if self._legacy_chained:
            return
        legacy = self._rows(
            "audit_entry", order="occurred_at, created_at, external_id", extra="seq IS NULL"
        )
        seq, prev_hash = self._audit_head()
        for row in legacy:
            entry = self._audit_entry(row)
            seq += 1
            self._write_audit(entry, seq, prev_hash)
            prev_hash = _chain_hash(seq, prev_hash, entry)
        self._legacy_chained = True

    @staticmethod
    def _audit_entry(row: Mapping[str, Any]) -> AuditEntry:
        return AuditEntry(
            row["actor"],
            row["verb"],
            row["object_type"] or "",
            row["object_id"] or "",
            row["occurred_at"],
            _json(row["details"]) or {},
        )

    def verify_audit(self, *, batch: int = 10_000) -> AuditVerification:
        """Walk the audit log in order and check every link of its hash chain.

        A changed entry no longer matches its hash; a deleted one leaves a gap in the positions
        and a ``prev_hash`` that names no entry; reordered entries break both. A cut-off tail
        leaves a valid shorter chain: compare :attr:`AuditVerification.head` with a head kept
        elsewhere (``factorybrain audit verify --head``).
        """
        result = AuditVerification()
        unchained = self.count("audit_entry") - int(
            self.store.query_rows(
                "SELECT count(*) AS n FROM audit_entry WHERE space = ? AND seq IS NOT NULL",
                [self.space],
            )[0]["n"]
        )
        if unchained:
            result.problems.append(
                f"{unchained} entr{'y' if unchained == 1 else 'ies'} without a position in the "
                "chain (written around the log, not through it)"
            )
        expected_seq, prev_hash, last = 1, GENESIS, 0
        while True:
            rows = self._rows(
                "audit_entry",
                order="seq",
                limit=batch,
                extra="seq IS NOT NULL AND seq > ?",
                extra_parameters=[last],
            )
            for row in rows:
                seq = int(row["seq"])
                where = f"entry {seq} ({row['verb']} {row['object_id']})"
                if seq != expected_seq:
                    missing = f"{expected_seq}" + (f"-{seq - 1}" if seq - 1 > expected_seq else "")
                    result.problems.append(f"entry {missing} missing before {where}")
                if row["prev_hash"] != prev_hash:
                    result.problems.append(
                        f"{where} does not follow the entry before it (prev_hash differs)"
                    )
                if row["hash"] != _chain_hash(seq, row["prev_hash"] or "", self._audit_entry(row)):
                    result.problems.append(f"{where} was changed after it was written")
                prev_hash, expected_seq, last = row["hash"], seq + 1, seq
                result.entries += 1
                result.head = (seq, str(row["hash"]))
            if len(rows) < batch:
                return result

    def audit_log(
        self,
        *,
        object_id: str | None = None,
        actor: str | None = None,
        verb: str | None = None,
        limit: int | None = 100,
        offset: int = 0,
    ) -> list[AuditEntry]:
        """Return audit entries, newest first, optionally for one object, actor or verb."""
        rows = self._rows(
            "audit_entry",
            {"object_id": object_id, "actor": actor, "verb": verb},
            order="occurred_at DESC, created_at DESC, external_id",
            limit=limit,
            offset=offset,
        )
        return [self._audit_entry(r) for r in rows]

    def count_audit(self, *, object_id: str | None = None, verb: str | None = None) -> int:
        """Number of audit entries, optionally for one object or verb."""
        return self.count("audit_entry", {"object_id": object_id, "verb": verb})

    def last_audit_time(
        self, *, verb: str, actor: str, object_type: str | None = None, object_id: str | None = None
    ) -> datetime | None:
        """When ``actor`` last did ``verb`` (on the object, when given); None if never."""
        rows = self._rows(
            "audit_entry",
            {"verb": verb, "actor": actor, "object_type": object_type, "object_id": object_id},
            order="occurred_at DESC",
            limit=1,
        )
        return rows[0]["occurred_at"] if rows else None

    # -- findings ---------------------------------------------------------------------------------
    def report_finding(self, finding: Finding, *, at: datetime) -> tuple[Finding, bool]:
        """Store a finding; return the stored finding and whether it is new (or reopened).

        The same finding reported again refreshes its severity, confidence and evidence but
        keeps its first ``created_at``; it counts as new only when it had been closed.
        """
        at = utc(at)  # type: ignore[assignment]
        with self.store.transaction():
            existing = self._rows("finding", {"external_id": finding.id})
            if existing:
                stored = self._finding(existing[0])
                if stored.status == "superseded":
                    return stored, False  # a newer finding took its place: it stays replaced
                reopened = stored.status in ("closed", "resolved")
                kept = Finding(
                    **{
                        **finding.__dict__,
                        "created_at": at if reopened else stored.created_at,
                        "depth": finding.depth if reopened else stored.depth,
                        "caused_by": finding.caused_by if reopened else stored.caused_by,
                        "status": "open" if reopened else stored.status,
                    }
                )
                self._write_finding(kept)
                if reopened:
                    self.audit(
                        AuditEntry(finding.agent, "finding.reopened", "finding", finding.id, at)
                    )
                return kept, reopened
            new = Finding(**{**finding.__dict__, "created_at": finding.created_at or at})
            self._write_finding(new)
            self.audit(
                AuditEntry(
                    finding.agent,
                    "finding.reported",
                    "finding",
                    finding.id,
                    at,
                    {"kind": finding.kind, "subject": str(finding.subject)},
                )
            )
            return new, True

    def supersede_older(self, finding: Finding, *, at: datetime) -> list[str]:
        """Keep only the newest active finding of ``finding``'s agent, kind and subject.

        Of the open and acknowledged findings of that agent and kind on that subject, the one
        of the latest data time stays; every other becomes ``superseded`` (audited, naming the
        one that replaced it), and a proposed action about findings none of which is active any
        more expires (``superseded``). Returns the ids superseded.
        """
        rows = self._rows(
            "finding",
            {"agent": finding.agent, "kind": finding.kind, "subject": finding.subject.external_id},
            extra="status IN ('open', 'acknowledged')",
        )
        active = [
            stored
            for stored in map(self._finding, rows)
            if stored.subject.type == finding.subject.type
        ]
        if len(active) < 2:
            return []
        newest = max(active, key=lambda f: (f.created_at or datetime.min, f.id))
        replaced = [f for f in active if f.id != newest.id]
        with self.store.transaction():
            for old in replaced:
                self._write_finding(Finding(**{**old.__dict__, "status": "superseded"}))
                self.audit(
                    AuditEntry(
                        finding.agent,
                        "finding.superseded",
                        "finding",
                        old.id,
                        at,
                        {"before": old.status, "after": "superseded", "by": newest.id},
                    )
                )
            self.expire_proposals([old.id for old in replaced], at=at, by=newest.id)
        return [old.id for old in replaced]

    def resolve(self, finding: Finding, *, at: datetime) -> Finding | None:
        """Mark the stored finding ``finding`` names as ``resolved``: it no longer holds.

        ``finding`` is its agent's word that the condition is over (the data is normal again,
        the machine was repaired): the audit entry, by that agent, keeps its ``evidence.text``
        as ``why``, and its references and numbers (the maintenance order that repaired the
        machine, the hours back to normal) when it has any. An acknowledged finding resolves
        the same way, never without that entry. Returns the resolved finding, or None when
        there is none active with that id; a proposed action about findings none of which is
        active any more expires.
        """
        rows = self._rows(
            "finding", {"external_id": finding.id}, extra="status IN ('open', 'acknowledged')"
        )
        if not rows:
            return None
        before = self._finding(rows[0])
        after = Finding(**{**before.__dict__, "status": "resolved"})
        details: dict[str, Any] = {
            "before": before.status,
            "after": "resolved",
            "why": finding.evidence.text,
        }
        if finding.evidence.refs:
            details["refs"] = [ref.dump() for ref in finding.evidence.refs]
        if finding.evidence.numbers:
            details["numbers"] = dict(finding.evidence.numbers)
        with self.store.transaction():
            self._write_finding(after)
            self.audit(
                AuditEntry(finding.agent, "finding.resolved", "finding", finding.id, at, details)
            )
            self.expire_proposals([finding.id], at=at)
        return after

    def expire_proposals(
        self, finding_ids: list[str], *, at: datetime, by: str | None = None
    ) -> list[str]:
        """Proposed actions about these findings whose findings are all inactive: superseded.

        Returns the ids of the actions that expired.
        """
        active = ", ".join(f"'{status}'" for status in ACTIVE_STATUSES)
        rows = self.store.query_rows(
            f"""
            SELECT a.external_id FROM action a
            JOIN recommendation r ON r.space = a.space AND r.external_id = a.recommendation
            WHERE a.space = ? AND a.state = 'proposed' AND list_has_any(r.finding_ids, ?)
              AND NOT EXISTS (
                SELECT 1 FROM finding f
                WHERE f.space = a.space AND list_contains(r.finding_ids, f.external_id)
                  AND f.status IN ({active}))
            ORDER BY a.external_id
            """,
            [self.space, finding_ids],
        )
        why = (
            f"the finding(s) it answers were superseded by {by}"
            if by
            else "the finding(s) it answers are no longer open (superseded or resolved)"
        )
        expired = [str(row["external_id"]) for row in rows]
        for action_id in expired:
            self.transition(action_id, "superseded", actor="orchestrator", at=at, comment=why)
        return expired

    def _write_finding(self, finding: Finding) -> None:
        evidence = finding.evidence.dump()
        evidence["meta"] = {
            "created_at": finding.created_at.isoformat() if finding.created_at else None,
            "depth": finding.depth,
            "caused_by": finding.caused_by,
            "dedup_key": finding.dedup_key,
            "title": finding.title,
        }
        self._upsert(
            "finding",
            {
                "external_id": finding.id,
                "name": finding.title or f"{finding.kind} on {finding.subject}",
                "description": finding.evidence.text or None,
                "source": finding.agent,
                "source_id": finding.dedup_key,
                "agent": finding.agent,
                "kind": finding.kind,
                "subject_type": finding.subject.type,
                "subject": finding.subject.external_id,
                "severity": finding.severity,
                "confidence": float(finding.confidence),
                "evidence": evidence,
                "status": finding.status,
            },
            f"agent:{finding.agent}",
        )

    @staticmethod
    def _finding(row: Mapping[str, Any]) -> Finding:
        evidence = _json(row["evidence"]) or {}
        meta = evidence.pop("meta", {}) or {}
        return Finding(
            agent=row["agent"],
            kind=row["kind"],
            subject=EntityRef(row["subject_type"] or "entity", row["subject"] or "?"),
            severity=row["severity"] or "medium",
            confidence=1.0 if row["confidence"] is None else float(row["confidence"]),
            evidence=Evidence.load(evidence),
            dedup_key=meta.get("dedup_key") or row.get("source_id") or "",
            created_at=utc(meta.get("created_at")) or row["created_at"],
            depth=int(meta.get("depth") or 0),
            caused_by=meta.get("caused_by"),
            status=row["status"] or "open",
            title=meta["title"] if "title" in meta else row["name"] or "",
        )

    def finding(self, finding_id: str) -> Finding:
        """Return one finding.

        Raises:
            RecordNotFoundError: If there is no finding with that id.
        """
        return self._finding(self._one("finding", finding_id))

    def findings(
        self,
        *,
        kind: str | None = None,
        status: str | None = None,
        agent: str | None = None,
        subject: str | None = None,
        limit: int | None = 100,
        offset: int = 0,
    ) -> list[Finding]:
        """Return findings, newest data first, filtered by kind, status, agent or subject id.

        Newest by the time of the data a finding is about (what it shows), not by when it was
        recorded: a replay records months of findings at once.
        """
        where = {"kind": kind, "status": status, "agent": agent, "subject": subject}
        rows = self._rows("finding", where, order=_BY_DATA_TIME, limit=limit, offset=offset)
        return [self._finding(r) for r in rows]

    def count_findings(self, *, kind: str | None = None, status: str | None = None) -> int:
        """Number of findings, optionally of one kind or status."""
        return self.count("finding", {"kind": kind, "status": status})

    def set_finding_status(
        self, finding_id: str, status: str, *, actor: str, at: datetime, comment: str | None = None
    ) -> Finding:
        """Acknowledge, close or reopen a finding, with its audit entry."""
        if status not in FINDING_STATUSES:
            raise ParameterError(
                f"finding {finding_id}: status must be one of {list(FINDING_STATUSES)}, "
                f"got {status!r}"
            )
        with self.store.transaction():
            before = self.finding(finding_id)
            after = Finding(**{**before.__dict__, "status": status})
            self._write_finding(after)
            self.audit(
                AuditEntry(
                    actor,
                    f"finding.{status}",
                    "finding",
                    finding_id,
                    at,
                    {"before": before.status, "after": status, "comment": comment},
                )
            )
        return after

    # -- recommendations --------------------------------------------------------------------------
    def save_recommendation(
        self, recommendation: Recommendation, *, at: datetime
    ) -> tuple[Recommendation, bool]:
        """Store a recommendation; return it and whether it is new.

        A recommendation is never rewritten: its id covers its content, so the same id is the
        same content, and one already stored is left as it is.
        """
        with self.store.transaction():
            if self._rows("recommendation", {"external_id": recommendation.id}):
                return recommendation, False
            self._upsert(
                "recommendation",
                {
                    "external_id": recommendation.id,
                    "name": recommendation.title or recommendation.action_type,
                    "source_id": recommendation.dedup_key,
                    "agent": recommendation.agent,
                    "finding_ids": list(recommendation.finding_ids),
                    "action_type": recommendation.action_type,
                    "parameters": recommendation.stored_parameters(),
                    "expected_effect": dict(recommendation.expected_effect),
                    "requires_approval": bool(recommendation.requires_approval),
                    "slot": recommendation.slot,
                    "content_hash": recommendation.content_hash,
                },
                f"agent:{recommendation.agent}",
            )
            self.audit(
                AuditEntry(
                    recommendation.agent or "orchestrator",
                    "recommendation.made",
                    "recommendation",
                    recommendation.id,
                    at,
                    {
                        "action_type": recommendation.action_type,
                        "finding_ids": list(recommendation.finding_ids),
                        "content_hash": recommendation.content_hash,
                    },
                )
            )
        return recommendation, True

    @staticmethod
    def _recommendation(row: Mapping[str, Any]) -> Recommendation:
        return Recommendation.load(
            {
                "agent": row["agent"],
                "finding_ids": row["finding_ids"] or [],
                "action_type": row["action_type"],
                "parameters": _json(row["parameters"]) or {},
                "expected_effect": _json(row["expected_effect"]) or {},
                "requires_approval": True
                if row["requires_approval"] is None
                else bool(row["requires_approval"]),
                "title": row["name"] if row["name"] != row["action_type"] else "",
                "dedup_key": row["source_id"] or "",
            }
        )

    def recommendation(self, recommendation_id: str) -> Recommendation:
        """Return one recommendation.

        Raises:
            RecordNotFoundError: If there is none with that id.
        """
        return self._recommendation(self._one("recommendation", recommendation_id))

    def recommendations(
        self,
        *,
        agent: str | None = None,
        action_type: str | None = None,
        finding: str | None = None,
        limit: int | None = 100,
        offset: int = 0,
    ) -> list[Recommendation]:
        """Return recommendations, newest first, optionally only those made for ``finding``."""
        rows = self._rows(
            "recommendation",
            {"agent": agent, "action_type": action_type},
            limit=limit,
            offset=offset,
            extra="list_contains(finding_ids, ?)" if finding is not None else "",
            extra_parameters=[finding] if finding is not None else [],
        )
        return [self._recommendation(r) for r in rows]

    def count_recommendations(self) -> int:
        """Number of recommendations."""
        return self.count("recommendation")

    # -- actions ----------------------------------------------------------------------------------
    def _write_action(self, action: Action) -> None:
        self._upsert(
            "action",
            {
                "external_id": action.id,
                "name": action.action_type,
                "recommendation": action.recommendation_id,
                "state": action.state,
                "required_role": action.required_role,
                "decided_by": action.decided_by,
                "decided_at": action.decided_at,
                "comment": action.comment,
                "result": None if action.result is None else dict(action.result),
                "proposed_by": action.proposed_by,
                "content_hash": action.content_hash,
                "approved_hash": action.approved_hash,
                "superseded_by": action.superseded_by,
            },
            "agents:action",
        )

    @staticmethod
    def _action(row: Mapping[str, Any]) -> Action:
        return Action(
            recommendation_id=row["recommendation"],
            action_type=row["name"] or "",
            state=row["state"],
            required_role=row["required_role"],
            decided_by=row["decided_by"],
            decided_at=row["decided_at"],
            comment=row["comment"],
            result=_json(row["result"]),
            proposed_at=row["created_at"],
            proposed_by=row.get("proposed_by"),
            content_hash=row.get("content_hash"),
            approved_hash=row.get("approved_hash"),
            superseded_by=row.get("superseded_by"),
        )

    def propose(
        self, recommendation: Recommendation, *, required_role: str | None, actor: str, at: datetime
    ) -> tuple[Action, bool]:
        """Create the action of a recommendation in state ``proposed``; return it and if new.

        Proposing the same recommendation again returns the existing action unchanged. A
        changed proposal (same slot, other content) is a new action, and the older proposals
        of that slot still waiting for a decision are superseded by it, each with an audit
        entry: nobody can approve what they did not see.
        """
        action = Action(
            recommendation.id,
            recommendation.action_type,
            required_role=required_role,
            proposed_by=actor,
            content_hash=recommendation.content_hash,
        )
        with self.store.transaction():
            existing = self._rows("action", {"external_id": action.id})
            if existing:
                return self._action(existing[0]), False
            self._write_action(action)
            self.audit(
                AuditEntry(
                    actor,
                    "action.proposed",
                    "action",
                    action.id,
                    at,
                    {
                        "action_type": action.action_type,
                        "recommendation_id": recommendation.id,
                        "required_role": required_role,
                        "content_hash": recommendation.content_hash,
                    },
                )
            )
            for older in self._pending_in_slot(recommendation):
                self.transition(
                    older,
                    "superseded",
                    actor=actor,
                    at=at,
                    comment="a changed proposal replaced it",
                    superseded_by=action.id,
                )
            return self._action(self._rows("action", {"external_id": action.id})[0]), True

    def _pending_in_slot(self, recommendation: Recommendation) -> list[str]:
        """Ids of the proposed actions of other recommendations in the same slot."""
        rows = self.store.query_rows(
            """
            SELECT a.external_id FROM action a
            JOIN recommendation r ON r.space = a.space AND r.external_id = a.recommendation
            WHERE a.space = ? AND a.state = 'proposed' AND r.slot = ? AND r.external_id <> ?
            ORDER BY a.external_id
            """,
            [self.space, recommendation.slot, recommendation.id],
        )
        return [str(row["external_id"]) for row in rows]

    def action(self, action_id: str) -> Action:
        """Return one action.

        Raises:
            RecordNotFoundError: If there is none with that id.
        """
        return self._action(self._one("action", action_id))

    def actions(
        self, *, state: str | None = None, limit: int | None = 100, offset: int = 0
    ) -> list[Action]:
        """Return actions, newest first, optionally in one state."""
        rows = self._rows("action", {"state": state}, limit=limit, offset=offset)
        return [self._action(r) for r in rows]

    def count_actions(self, *, state: str | None = None) -> int:
        """Number of actions, optionally in one state."""
        return self.count("action", {"state": state})

    def transition(
        self,
        action_id: str,
        state: str,
        *,
        actor: str,
        at: datetime,
        comment: str | None = None,
        result: Mapping[str, Any] | None = None,
        approved_hash: str | None = None,
        superseded_by: str | None = None,
    ) -> Action:
        """Move an action to ``state`` and audit the change, in one transaction.

        Raises:
            ActionStateError: If the state machine does not allow the move.
            RecordNotFoundError: If there is no such action.
        """
        with self.store.transaction():
            before = self.action(action_id)
            after = before.transition(
                state,
                actor=actor,
                at=at,
                comment=comment,
                result=result,
                approved_hash=approved_hash,
                superseded_by=superseded_by,
            )
            self._write_action(after)
            details: dict[str, Any] = {"before": before.state, "after": state}
            if comment:
                details["comment"] = comment
            if result is not None:
                details["result"] = dict(result)
            if approved_hash is not None:
                details["content_hash"] = approved_hash
            if superseded_by is not None:
                details["superseded_by"] = superseded_by
            self.audit(AuditEntry(actor, f"action.{state}", "action", action_id, at, details))
        return after

    def iter_chain(self, finding_id: str) -> Iterator[Finding]:
        """Yield the finding and the findings it was caused by, up to the root."""
        seen: set[str] = set()
        current: str | None = finding_id
        while current and current not in seen:
            seen.add(current)
            finding = self.finding(current)
            yield finding
            current = finding.caused_by
