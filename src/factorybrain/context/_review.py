"""The review loop: list proposed links, approve or reject them, round-trip them through CSV.

Every function takes the store first and plain values after, returns plain data, and is the one
implementation behind the ``factorybrain match`` commands, the REST routes and the MCP tools.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa

from factorybrain.context._matching import ANNOTATION_SPACE
from factorybrain.exceptions import ParameterError
from factorybrain.store import Store

#: Columns of a review sheet, in order.
REVIEW_COLUMNS = (
    "id",
    "status",
    "confidence",
    "source_space",
    "source_identifier",
    "source_kind",
    "target_type",
    "target_space",
    "target_external_id",
    "target_name",
    "ambiguous",
    "reviewed_by",
)
_STATUSES = ("suggested", "approved", "rejected")


@dataclass(frozen=True)
class ReviewResult:
    """What a review call changed: ids updated, ids unknown, ids already in that status."""

    updated: tuple[str, ...]
    unknown: tuple[str, ...]
    unchanged: tuple[str, ...]


def list_annotations(
    store: Store,
    *,
    status: str | None = "suggested",
    min_confidence: float = 0.0,
    source_space: str | None = None,
    limit: int | None = 100,
) -> pd.DataFrame:
    """Return proposed links, most confident first, with the target entity's name.

    Args:
        store: The store.
        status: ``suggested``, ``approved``, ``rejected`` or ``None`` for all.
        min_confidence: Leave out links scored below this.
        source_space: Only links from this space.
        limit: At most this many rows (``None``: all).

    Returns:
        A frame with :data:`REVIEW_COLUMNS`.

    Raises:
        ParameterError: If ``status`` is not one of the review statuses.
    """
    if status is not None and status not in _STATUSES:
        raise ParameterError(f"status must be one of {', '.join(_STATUSES)}; got {status!r}")
    conditions = ["a.confidence >= ?"]
    parameters: list[float | str] = [float(min_confidence)]
    if status:
        conditions.append("a.status = ?")
        parameters.append(status)
    if source_space:
        conditions.append("a.source_space = ?")
        parameters.append(source_space)
    names = " UNION ALL ".join(
        f"SELECT '{t}' AS t, space, external_id, name FROM \"{t}\""
        for t in ("asset", "product", "material", "supplier", "customer", "work_order")
    )
    sql = f"""
        WITH names AS ({names})
        SELECT a.external_id AS id, a.status, a.confidence, a.source_space,
               a.source_identifier, a.source_kind, a.target_type, a.target_space,
               a.target_external_id, n.name AS target_name,
               list_contains(coalesce(a.tags, []), 'ambiguous') AS ambiguous, a.reviewed_by
        FROM annotation a
        LEFT JOIN names n ON n.t = a.target_type AND n.space = a.target_space
             AND n.external_id = a.target_external_id
        WHERE {" AND ".join(conditions)}
        ORDER BY a.confidence DESC, a.source_space, a.source_identifier
    """
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return store.query(sql, parameters)


def _set_status(store: Store, ids: Sequence[str], status: str, reviewer: str) -> ReviewResult:
    if not ids:
        return ReviewResult((), (), ())
    current = store.query(
        "SELECT external_id, status, reviewed_by FROM annotation "
        "WHERE space = ? AND list_contains(?, external_id)",
        [ANNOTATION_SPACE, list(ids)],
    )
    known = dict(zip(current.external_id, current.status, strict=True))
    unknown = tuple(i for i in ids if i not in known)
    unchanged = tuple(
        i
        for i, reviewed in zip(current.external_id, current.reviewed_by, strict=True)
        if known[i] == status and isinstance(reviewed, str)
    )
    changing = [i for i in dict.fromkeys(ids) if i in known and i not in unchanged]
    if changing:
        now = datetime.now(UTC).replace(tzinfo=None)
        table = pa.table(
            {
                "space": [ANNOTATION_SPACE] * len(changing),
                "external_id": changing,
                "status": [status] * len(changing),
                "reviewed_by": [reviewer] * len(changing),
                "reviewed_at": pa.array([now] * len(changing), pa.timestamp("us")),
            }
        )
        with store.transaction():
            store.upsert_entities("annotation", table, f"review-{now:%Y%m%dT%H%M%S%f}")
            store.link_series()
    return ReviewResult(tuple(changing), unknown, unchanged)


def approve(store: Store, ids: Sequence[str], *, reviewer: str = "reviewer") -> ReviewResult:
    """Approve links by id; an approved link resolves its references and trains the matcher."""
    return _set_status(store, ids, "approved", reviewer)


def reject(store: Store, ids: Sequence[str], *, reviewer: str = "reviewer") -> ReviewResult:
    """Reject links by id; a rejected pair is remembered and never suggested again."""
    return _set_status(store, ids, "rejected", reviewer)


def export_csv(store: Store, path: Path, *, status: str | None = None) -> int:
    """Write links to a CSV review sheet (edit ``status``, then :func:`import_csv`)."""
    frame = list_annotations(store, status=status, limit=None)
    frame.to_csv(path, index=False, columns=list(REVIEW_COLUMNS))
    return len(frame)


def import_csv(store: Store, path: Path, *, reviewer: str = "reviewer") -> dict[str, int]:
    """Apply the ``status`` column of a review sheet: rows marked approved or rejected.

    Raises:
        ParameterError: If the sheet lacks the ``id`` or ``status`` column, or a row's status is
            not a review status (names the line).
    """
    decisions: dict[str, list[str]] = {"approved": [], "rejected": []}
    with Path(path).open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"id", "status"} - set(reader.fieldnames or [])
        if missing:
            raise ParameterError(f"{path}: review sheet lacks column(s) {sorted(missing)}")
        for line, row in enumerate(reader, start=2):
            status = (row["status"] or "").strip().lower()
            if status not in _STATUSES:
                raise ParameterError(
                    f"{path} line {line}: status must be one of {', '.join(_STATUSES)}; "
                    f"found {row['status']!r}"
                )
            if status in decisions:
                decisions[status].append(row["id"].strip())
    approved = approve(store, decisions["approved"], reviewer=reviewer)
    rejected = reject(store, decisions["rejected"], reviewer=reviewer)
    return {
        "approved": len(approved.updated),
        "rejected": len(rejected.updated),
        "unknown": len(approved.unknown) + len(rejected.unknown),
    }
