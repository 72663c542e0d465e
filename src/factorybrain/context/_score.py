"""Score approved identity matches against a simulated plant's ``truth.json``.

The truth lists, for every object, the strings each silo knows it by (``entities[].refs``) and, for
each historian series, its asset. An approved annotation is correct when its source identifier and
its target entity name the same object (a tag: when the target is the tag's asset). Precision is
over approved links whose source the truth knows; recall is over every identifier of the store
that the truth knows and that is not itself an entity of its class's hub space (the hub's
entities are what the others are matched to).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pandas as pd

from factorybrain.context._harvest import harvest
from factorybrain.context._matching import _hubs, hub_spaces
from factorybrain.store import Store


def truth_lookup(truth: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    """Map ``(space, string)`` to the canonical ids the truth gives it (a tag: its asset)."""
    lookup: dict[tuple[str, str], set[str]] = defaultdict(set)
    for entity in truth.get("entities", []):
        if entity["type"] == "time_series":
            for space, names in entity.get("refs", {}).items():
                if names and entity.get("asset"):
                    lookup[(space, names[0])].add(entity["asset"])
            continue
        for space, names in entity.get("refs", {}).items():
            for name in names:
                lookup[(space, name)].add(entity["id"])
    return lookup


def truth_classes(truth: dict[str, Any]) -> dict[tuple[str, str], str]:
    """Map ``(space, string)`` to the class of the object the truth says it names."""
    classes: dict[tuple[str, str], str] = {}
    for entity in truth.get("entities", []):
        for space, names in entity.get("refs", {}).items():
            for name in names[:1] if entity["type"] == "time_series" else names:
                classes.setdefault((space, name), str(entity["type"]))
    return classes


def _target_ids(
    lookup: dict[tuple[str, str], set[str]],
    by_name: dict[str, set[str]],
    space: str,
    identifier: str,
) -> set[str]:
    """Canonical ids of a target.

    A target the truth lists only under another space's spelling of the same string (MES work
    orders are listed as WMS writes them) is found there.
    """
    found = lookup.get((space, identifier))
    if found:
        return found
    others = by_name.get(identifier, set())
    return others if len(others) == 1 else set()


def identity_scores(
    store: Store, truth: dict[str, Any], annotations: pd.DataFrame | None = None
) -> dict[str, Any]:
    """Precision and recall of the approved annotations in ``store`` against ``truth``.

    Args:
        store: A store the matcher ran on.
        truth: The parsed ``truth.json``.
        annotations: Annotations to score (default: the store's approved ones).

    Returns:
        ``precision``, ``recall``, ``approved`` (scored), ``correct``, ``expected`` and
        ``unscored`` (approved links whose source the truth does not list), ``unjudged`` (links
        to an entity the truth lists under no spelling), ``errors``: up to 20 wrong links, and
        ``by_class``: the same figures per class of the object the source names (``asset``,
        ``item``, ``time_series``, ...), since a plant's weakest class is what its users meet.
    """
    lookup = truth_lookup(truth)
    classes = truth_classes(truth)
    tally: dict[str, dict[str, int]] = defaultdict(lambda: {"approved": 0, "correct": 0})
    if annotations is None:
        annotations = store.query(
            "SELECT source_space, source_identifier, target_space, target_external_id "
            "FROM annotation WHERE status = 'approved'"
        )
    records, tags = harvest(store)
    hubs = _hubs(records)
    is_hub_entity = (records.kind == "entity") & (records.space == hub_spaces(records, hubs))
    sources = set(
        zip(records[~is_hub_entity].space, records[~is_hub_entity].identifier, strict=True)
    )
    sources |= set(zip(tags.space, tags.tag, strict=True))
    expected = {key for key in sources if key in lookup}

    correct_sources = set()
    scored = correct = unscored = unjudged = 0
    errors: list[str] = []
    by_name: dict[str, set[str]] = defaultdict(set)
    for (_, name), ids in lookup.items():
        by_name[name] |= ids
    for row in annotations.itertuples(index=False):
        source = (row.source_space, row.source_identifier)
        if source not in lookup:
            unscored += 1
            continue
        target = _target_ids(lookup, by_name, row.target_space, row.target_external_id)
        if not target:
            # The truth does not list the target under any spelling: the link cannot be judged.
            unjudged += 1
            continue
        scored += 1
        cls = tally[classes.get(source, "unknown")]
        cls["approved"] += 1
        if lookup[source] & target:
            correct += 1
            cls["correct"] += 1
            correct_sources.add(source)
        elif len(errors) < 20:
            errors.append(
                f"{row.source_space}:{row.source_identifier} -> "
                f"{row.target_space}:{row.target_external_id}"
            )
    found = len(correct_sources & expected)
    by_class: dict[str, dict[str, Any]] = {}
    for name in sorted({classes.get(key, "unknown") for key in expected} | set(tally)):
        wanted = {key for key in expected if classes.get(key, "unknown") == name}
        counts = tally[name]
        by_class[name] = {
            "precision": counts["correct"] / counts["approved"] if counts["approved"] else 1.0,
            "recall": len(correct_sources & wanted) / len(wanted) if wanted else 1.0,
            "approved": counts["approved"],
            "correct": counts["correct"],
            "expected": len(wanted),
        }
    return {
        "precision": correct / scored if scored else 1.0,
        "recall": found / len(expected) if expected else 1.0,
        "approved": scored,
        "correct": correct,
        "expected": len(expected),
        "unscored": unscored,
        "unjudged": unjudged,
        "errors": errors,
        "by_class": by_class,
    }
