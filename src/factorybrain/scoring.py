"""Scoring a capability against the truth of a simulated plant.

The demo plant (:mod:`factorybrain.simulate`) writes ``truth.json`` beside its exports: the
identities, planted failures, bad batches and stock-outs it hid in the silos. A capability plugs
into ``factorybrain demo --score`` with a *stage* (it runs on the loaded store and returns a
summary for the printout) and *scorers* (each compares what the platform found with the truth and
returns :class:`Score` rows). Agents ship theirs in their registry entry
(:class:`factorybrain.agents.AgentPlugin`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from factorybrain.store import Store


@dataclass(frozen=True)
class Score:
    """Precision and recall of one kind of finding against the plant's truth."""

    kind: str
    expected: int
    found: int
    correct: int
    note: str = ""
    #: Truth items found, when that is not ``correct``: several right findings may name one
    #: truth item (five clusters of one bad lot), so the findings that are right say nothing
    #: of how much of the truth was found. None: every right finding is one truth item.
    recalled: int | None = None

    @property
    def precision(self) -> float:
        """Share of what was found that is true (1.0 when nothing was found)."""
        return self.correct / self.found if self.found else 1.0

    @property
    def recall(self) -> float:
        """Share of the truth that was found (1.0 when there was nothing to find)."""
        hits = self.correct if self.recalled is None else self.recalled
        return min(hits, self.expected) / self.expected if self.expected else 1.0


#: Runs a capability on the loaded demo store with the plant's truth; returns a summary.
Stage = Callable[[Store, dict[str, Any]], dict[str, Any]]
#: Compares what a capability found in the store with the plant's truth.
Scorer = Callable[[Store, dict[str, Any]], list[Score]]
