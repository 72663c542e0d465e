"""Contextualization in ``factorybrain demo``: match every silo's names, scored against truth."""

from __future__ import annotations

from typing import Any

from factorybrain.context._matching import match
from factorybrain.context._score import identity_scores
from factorybrain.context._trace import link_claim_serials, refresh_serial_index
from factorybrain.scoring import Score
from factorybrain.store import Store


def contextualize_stage(store: Store, truth: dict[str, Any]) -> dict[str, Any]:
    """Match identities across silos, link claims to serials and index the serials."""
    run = match(store)
    summary = run.summary()
    summary["claim_serials"] = link_claim_serials(store)
    summary["serial_index"] = refresh_serial_index(store)
    return summary


def score_identity(store: Store, truth: dict[str, Any]) -> list[Score]:
    """Approved identity links against the truth's identities of every silo."""
    scores = identity_scores(store, truth)
    expected = scores["expected"]
    recalled = round(scores["recall"] * expected)
    return [
        Score(
            "context.identity",
            expected,
            scores["approved"],
            scores["correct"],
            f"approved identity links; {recalled} of {expected} identifiers linked; per class "
            "P/R: "
            + ", ".join(
                f"{name} {c['precision']:.2f}/{c['recall']:.2f}"
                for name, c in scores["by_class"].items()
                if c["expected"] or c["approved"]
            ),
            recalled=recalled,
        )
    ]
