"""An answer and what it rests on: the shape every tool of ``ask`` returns."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from factorybrain.insights import json_rows


@dataclass
class Answer:
    """An answer and what it rests on."""

    question: str
    answer: str
    tool: str
    citations: list[dict[str, Any]] = field(default_factory=list)
    numbers: dict[str, float] = field(default_factory=dict)
    via: str = "router"
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The answer as plain values (JSON)."""
        return {
            "question": self.question,
            "answer": self.answer,
            "tool": self.tool,
            "citations": self.citations,
            "numbers": self.numbers,
            "via": self.via,
            "note": self.note,
        }


#: A data frame's rows as dictionaries, NaN as None.
rows = json_rows


def evidence_of(row: dict[str, Any]) -> dict[str, Any]:
    """A finding row's evidence as a dictionary (stored as JSON text or a struct)."""
    evidence = row.get("evidence")
    if isinstance(evidence, str):
        parsed: dict[str, Any] = json.loads(evidence)
        return parsed
    return dict(evidence or {})


def as_of(row: dict[str, Any]) -> datetime | None:
    """When a finding describes the plant: its evidence's moment, else when it was stored."""
    moment = (evidence_of(row).get("meta") or {}).get("created_at") or row.get("created_at")
    if moment is None:
        return None
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    elif hasattr(moment, "to_pydatetime"):
        moment = moment.to_pydatetime()
    return moment.replace(tzinfo=None) if isinstance(moment, datetime) else None


def percent(value: float | None) -> str:
    """``61.2 %``; ``n/a`` for a missing ratio."""
    return "n/a" if value is None or value != value else f"{value * 100:.1f} %"


def count_by(values: list[str]) -> str:
    """``5 sensor trend, 2 anomaly``: how many of each, most first."""
    return ", ".join(f"{n} {value}" for value, n in Counter(values).most_common())


def finding_ref(finding_id: str) -> dict[str, Any]:
    """A finding as a citation."""
    return {"type": "finding", "external_id": finding_id}


__all__ = ["Answer", "as_of", "count_by", "evidence_of", "finding_ref", "percent", "rows"]
