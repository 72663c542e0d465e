"""Behaviour in time: a historian tag group belongs to the machine whose running it follows.

Names can mislead (two presses of the same model on two lines, a tag renamed after a retrofit);
behaviour cannot: a device's run or state signal is high exactly while the MES says its machine is
running. The agreement of the two, the Jaccard index of their running time, is evidence that
:func:`corroborate` adds to the name-based proposals of :func:`factorybrain.context.match`:

* it confirms a link when both agree;
* it turns an automatic approval into a suggestion for review when behaviour clearly points to
  another machine (names and behaviour disagree: a person decides);
* it proposes a link when names found none, approved automatically only when the agreement is
  near perfect and clearly ahead of every other machine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from factorybrain.model import site_of
from factorybrain.store import Store

#: Agreement (Jaccard of running time) at which behaviour alone is taken as evidence.
EVIDENCE = 0.8
#: Agreement at which behaviour alone approves a link, if clearly ahead of the runner-up.
APPROVE = 0.95
#: How far the best machine must lead the next one.
MARGIN = 0.2


@dataclass(frozen=True)
class BehaviourMatch:
    """The machine a tag group's running follows best."""

    space: str
    group: str
    target_space: str
    target_external_id: str
    agreement: float
    runner_up: float

    @property
    def clear(self) -> bool:
        """Whether the best machine is evidence: agreement high enough and clearly ahead."""
        return self.agreement >= EVIDENCE and self.agreement - self.runner_up >= MARGIN


def inside_intervals(stamps: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Which of the sorted ``stamps`` fall inside any ``[start, end)`` interval (may overlap)."""
    delta = np.zeros(len(stamps) + 1, dtype=np.int64)
    np.add.at(delta, np.searchsorted(stamps, starts), 1)
    np.add.at(delta, np.searchsorted(stamps, ends), -1)
    return np.cumsum(delta)[:-1] > 0


def running_agreement(store: Store, tags: pd.DataFrame) -> list[BehaviourMatch]:
    """For each tag group with a run or state signal, the machine whose running it follows.

    Args:
        store: The loaded store.
        tags: Tag membership ``(space, tag, group)`` as harvested for matching.

    Returns:
        One :class:`BehaviourMatch` per tag group that has a step signal and overlaps any
        recorded states of a machine of its own site.
    """
    if tags.empty:
        return []
    signals = store.query(
        "SELECT space, external_id FROM time_series "
        "WHERE (is_step OR value_type IN ('state', 'bool')) AND series_id IS NOT NULL"
    )
    signals = signals.merge(tags, left_on=["space", "external_id"], right_on=["space", "tag"])
    if signals.empty:
        return []
    states = store.query(
        "SELECT space, asset, start_time, end_time, state FROM event "
        "WHERE event_type = 'state' AND asset IS NOT NULL AND start_time IS NOT NULL"
    )
    running = states[states.state == "running"]
    if running.empty:
        return []
    machines = [
        (
            space,
            asset,
            group.start_time.to_numpy("datetime64[ns]"),
            group.end_time.to_numpy("datetime64[ns]"),
        )
        for (space, asset), group in running.groupby(["space", "asset"], sort=True)
    ]
    found = []
    for (space, group), part in signals.groupby(["space", "group"], sort=True):
        points = store.query(
            "SELECT d.ts, d.value FROM datapoint d JOIN time_series t USING (series_id) "
            "WHERE t.space = ? AND t.external_id = ? ORDER BY d.ts",
            [space, part.external_id.iloc[0]],
        )
        if points.empty:
            continue
        stamps = points.ts.to_numpy("datetime64[ns]")
        on = points.value.to_numpy(dtype=float) > 0.5
        last = stamps[-1]
        scores = []
        for target_space, asset, starts, ends in machines:
            if target_space == space or site_of(target_space) != site_of(space):
                # States a space records for its own tags are the device's own signal, not
                # another silo's machine; another site's machines are another plant's.
                continue
            ends = np.where(np.isnat(ends), last, ends)
            inside = inside_intervals(stamps, starts, ends)
            union = np.count_nonzero(inside | on)
            scores.append(
                (np.count_nonzero(inside & on) / union if union else 0.0, target_space, asset)
            )
        scores.sort(reverse=True)
        if not scores or scores[0][0] == 0.0:
            continue
        best, runner_up = scores[0], (scores[1][0] if len(scores) > 1 else 0.0)
        found.append(
            BehaviourMatch(
                str(space),
                str(group),
                str(best[1]),
                str(best[2]),
                round(float(best[0]), 4),
                round(float(runner_up), 4),
            )
        )
    return found


def corroborate(
    proposals: pd.DataFrame, evidence: list[BehaviourMatch], tags: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Confirm, flag or add tag-group links with behaviour in time.

    Args:
        proposals: The name-based proposals (before tag groups are expanded to their tags).
        evidence: What :func:`running_agreement` found.
        tags: Tag membership ``(space, tag, group)``.

    Returns:
        The proposals with a ``behaviour`` column (the agreement with the proposed target, when
        known), and counts: ``confirmed``, ``flagged``, ``added``.
    """
    counts = {"confirmed": 0, "flagged": 0, "added": 0}
    columns = [
        "source_space",
        "source_identifier",
        "target_space",
        "target_external_id",
        "status",
        "ambiguous",
    ]
    out = proposals.copy() if len(proposals) else pd.DataFrame(columns=columns)
    if "behaviour" not in out:
        out["behaviour"] = np.nan
    added = []
    for match in (m for m in evidence if m.clear):
        rows = out[(out.source_space == match.space) & (out.source_identifier == match.group)]
        target = (rows.target_space == match.target_space) & (
            rows.target_external_id == match.target_external_id
        )
        approved = rows[rows.status == "approved"]
        if target.any():
            out.loc[rows[target].index, "behaviour"] = match.agreement
        if not approved.empty and target[approved.index].all():
            counts["confirmed"] += 1
        elif not approved.empty:
            # Names and behaviour point to different machines: a person decides.
            out.loc[approved.index, "status"] = "suggested"
            out.loc[rows.index, "ambiguous"] = True
            counts["flagged"] += 1
        elif target.any():
            if match.agreement >= APPROVE:
                out.loc[rows[target].index, "status"] = "approved"
            counts["confirmed"] += 1
        else:
            members = tags[(tags.space == match.space) & (tags.group == match.group)].tag
            added.append(
                {
                    "class": "asset",
                    "source_space": match.space,
                    "source_identifier": match.group,
                    "source_kind": "tag_group",
                    "target_type": "asset",
                    "target_space": match.target_space,
                    "target_external_id": match.target_external_id,
                    "confidence": match.agreement,
                    "status": "approved" if match.agreement >= APPROVE else "suggested",
                    "ambiguous": False,
                    "members": members.tolist(),
                    "behaviour": match.agreement,
                }
            )
            counts["added"] += 1
    if added:
        out = pd.concat([out, pd.DataFrame(added)], ignore_index=True)
    return out, counts
