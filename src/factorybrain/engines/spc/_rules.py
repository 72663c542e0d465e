"""The Nelson rules (and the Western Electric rules they extend), each with the points it flags.

Given a series, its center line and sigma, :func:`nelson_rules` says which of the eight Nelson
rules fire and where. Each :class:`RuleViolation` carries ``indices`` (the points at which the
rule signals: the last point of each window that breaks it) and ``points`` (every point taking
part in a breaking window), so a chart can mark the whole run and a finding can name when the
signal came.

The Western Electric rules are Nelson rules 1, 5, 6 and 2 with a run of 8 instead of 9
(:data:`WESTERN_ELECTRIC`, ``run_length=8``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from factorybrain.exceptions import ParameterError

#: What each rule looks for, in words (rule 2's run length is a parameter).
RULE_NAMES: dict[int, str] = {
    1: "one point beyond 3 sigma",
    2: "{run} points in a row on one side of the center line",
    3: "6 points in a row steadily increasing or decreasing",
    4: "14 points in a row alternating up and down",
    5: "2 of 3 points in a row beyond 2 sigma on one side",
    6: "4 of 5 points in a row beyond 1 sigma on one side",
    7: "15 points in a row within 1 sigma of the center line",
    8: "8 points in a row beyond 1 sigma, on either side, none within",
}
#: The eight Nelson rules.
NELSON: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8)
#: The four Western Electric zone rules (use ``run_length=8``).
WESTERN_ELECTRIC: tuple[int, ...] = (1, 2, 5, 6)


@dataclass(frozen=True)
class RuleViolation:
    """One rule that fired on a series.

    Attributes:
        rule: Its Nelson number (1 to 8).
        name: What it looks for, in words.
        indices: Positions at which it signals (the last point of each breaking window).
        points: Every position taking part in a breaking window.
    """

    rule: int
    name: str
    indices: tuple[int, ...]
    points: tuple[int, ...]


def _windows(flags: np.ndarray, width: int, needed: int) -> np.ndarray:
    """Ends of windows of ``width`` points with at least ``needed`` flagged."""
    if flags.size < width:
        return np.zeros(0, dtype=int)
    counts = sliding_window_view(flags.astype(np.int32), width).sum(axis=1)
    return np.flatnonzero(counts >= needed) + width - 1


def _members(ends: np.ndarray, width: int, flags: np.ndarray | None = None) -> np.ndarray:
    """Positions inside the windows ending at ``ends`` (only the flagged ones when given)."""
    if ends.size == 0:
        return ends
    inside = (ends[:, None] - np.arange(width)[None, :]).ravel()
    inside = np.unique(inside)
    if flags is not None:
        inside = inside[flags[inside]]
    return inside


def _run_ends(flags: np.ndarray, length: int) -> np.ndarray:
    """Ends of windows of ``length`` consecutive flagged points."""
    return _windows(flags, length, length)


def nelson_rules(
    values: Iterable[float],
    center: float,
    sigma: float,
    *,
    rules: Iterable[int] = NELSON,
    run_length: int = 9,
) -> list[RuleViolation]:
    """Apply the Nelson rules to a series; return the rules that fire, with their points.

    Args:
        values: The plotted statistic in time order (individuals, subgroup means, ...). NaN
            values are skipped by every rule (they neither break nor continue a run).
        center: Center line.
        sigma: Standard deviation of the plotted statistic (> 0).
        rules: Which rules to apply (Nelson numbers).
        run_length: Points in a row on one side for rule 2 (9 Nelson, 8 Western Electric).

    Returns:
        One :class:`RuleViolation` per rule that fired, by rule number. Indices refer to
        positions in ``values``.

    Raises:
        ParameterError: ``sigma`` is not positive and finite, or a rule number is unknown.
    """
    x = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=float)
    if not np.isfinite(sigma) or sigma <= 0:
        raise ParameterError(f"the Nelson rules need a positive, finite sigma; got sigma={sigma!r}")
    if not np.isfinite(center):
        raise ParameterError(f"the Nelson rules need a finite center line; got {center!r}")
    wanted = sorted(set(rules))
    unknown = [r for r in wanted if r not in RULE_NAMES]
    if unknown:
        raise ParameterError(f"unknown Nelson rule(s) {unknown}; rules are numbered 1 to 8")
    if run_length < 2:
        raise ParameterError(f"run_length must be at least 2; got {run_length}")
    keep = np.flatnonzero(np.isfinite(x))
    z = (x[keep] - center) / sigma
    found: list[RuleViolation] = []
    for rule in wanted:
        ends, members = _rule(rule, z, run_length)
        if ends.size:
            found.append(
                RuleViolation(
                    rule,
                    RULE_NAMES[rule].format(run=run_length),
                    tuple(int(i) for i in keep[ends]),
                    tuple(int(i) for i in keep[members]),
                )
            )
    return found


def _rule(rule: int, z: np.ndarray, run_length: int) -> tuple[np.ndarray, np.ndarray]:
    if rule == 1:
        ends = np.flatnonzero(np.abs(z) > 3.0)
        return ends, ends
    if rule == 2:
        parts = [_run_ends(z > 0, run_length), _run_ends(z < 0, run_length)]
        ends = np.unique(np.concatenate(parts))
        return ends, _members(ends, run_length)
    if rule == 3:
        steps = np.diff(z)
        parts = [_run_ends(steps > 0, 5), _run_ends(steps < 0, 5)]
        ends = np.unique(np.concatenate(parts)) + 1
        return ends, _members(ends, 6)
    if rule == 4:
        steps = np.sign(np.diff(z))
        alternating = (steps[1:] * steps[:-1]) < 0
        ends = _run_ends(alternating, 12) + 2
        return ends, _members(ends, 14)
    if rule in (5, 6):
        limit, width, needed = (2.0, 3, 2) if rule == 5 else (1.0, 5, 4)
        ends_all, members_all = [], []
        for flags in (z > limit, z < -limit):
            ends = _windows(flags, width, needed)
            ends = ends[flags[ends]] if ends.size else ends  # signal on a point beyond the zone
            ends_all.append(ends)
            members_all.append(_members(ends, width, flags))
        return np.unique(np.concatenate(ends_all)), np.unique(np.concatenate(members_all))
    if rule == 7:
        ends = _run_ends(np.abs(z) < 1.0, 15)
        return ends, _members(ends, 15)
    ends = _run_ends(np.abs(z) > 1.0, 8)
    return ends, _members(ends, 8)


__all__ = ["NELSON", "RULE_NAMES", "WESTERN_ELECTRIC", "RuleViolation", "nelson_rules"]
