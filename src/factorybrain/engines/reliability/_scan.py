"""A temporal scan statistic per track: one test per machine instead of one per window.

Testing every window of every machine separately spends the false-discovery budget on thousands
of overlapping windows whose tests are strongly dependent. Kulldorff's scan statistic asks one
question per track (a machine's production days): is the *most unusual* window of this track more
unusual than the most unusual window of the same track would be by chance? Its statistic is the
largest Poisson likelihood ratio over every window::

    LR(window) = 2 [O ln(O / E) - (O - E)]     where O > E, else 0

with ``O`` the window's claims and ``E`` its expected claims under the null model (the fleet's
age-adjusted rate, or a fitted model that already explains some claims). Only windows that could
be flagged count (at least ``min_claims`` claims and a rate ratio ``O / E`` of at least
``min_rate_ratio``): the restriction is fixed before the data are seen and is applied the same way
to the null draws, so the test stays exact and gains power.

The null distribution of the maximum is drawn by Monte Carlo (claims of each day ~ Poisson of its
expected claims, as many draws as ``draws``) and its upper tail approximated by a Gumbel law fitted
to the draws by the method of moments (Abrams, Kleinman & Kulldorff 2010, *Gumbel based p-value
approximations for spatial scan statistics*, Int. J. Health Geographics 9:61): it reaches p-values
far below ``1 / (draws + 1)``, which a false discovery rate over hundreds of tests needs. Where the
draws are too discrete for a Gumbel law (more than a tenth of them without any eligible window, or
no spread), the plain Monte Carlo p-value ``(1 + #{null >= observed}) / (draws + 1)`` is used.

A window's p-value is the tail of the *track's* null maximum at its own statistic: the chance that
some window of the track would look at least as unusual (Kulldorff's p-value of secondary
clusters). It controls the family-wise error within the track; the track's p-value is that of its
best window.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from factorybrain.exceptions import EngineError

_EULER_GAMMA = 0.5772156649015329
_MAX_ZERO_SHARE = 0.1


@dataclass(frozen=True)
class ScanResult:
    """The scan of every track.

    Attributes:
        statistic: Likelihood-ratio statistic of each window (0 where it could not be flagged).
        p_value: Each window's p-value, adjusted for scanning every window of its track.
        tracks: The tracks scanned, sorted.
        track_p_value: p-value of each track of ``tracks`` (its best window's).
        method: How each track's p-value was found: ``"gumbel"`` or ``"monte_carlo"``.
    """

    statistic: np.ndarray
    p_value: np.ndarray
    tracks: np.ndarray
    track_p_value: np.ndarray
    method: tuple[str, ...]


def poisson_excess(observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """``2 [O ln(O/E) - (O - E)]`` where ``O > E``, else 0: the excess of a Poisson count.

    Example:
        >>> round(float(poisson_excess(np.array([8.0]), np.array([2.0]))[0]), 2)
        10.18
    """
    observed = np.asarray(observed, dtype=float)
    expected = np.maximum(np.asarray(expected, dtype=float), 1e-12)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = 2.0 * (observed * np.log(np.where(observed > 0, observed / expected, 1.0)))
    value = value - 2.0 * (observed - expected)
    return np.where(observed > expected, value, 0.0)


def _eligible_excess(
    observed: np.ndarray, expected: np.ndarray, min_claims: int, min_rate_ratio: float
) -> np.ndarray:
    """:func:`poisson_excess` of the windows that could be flagged, 0 for the others."""
    value = poisson_excess(observed, expected)
    eligible = (observed >= min_claims) & (observed >= min_rate_ratio * expected)
    return np.where(eligible, value, 0.0)


def _tail(null_maxima: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, str]:
    """P(null maximum >= value): Gumbel tail, or the Monte Carlo share (see the module)."""
    draws = null_maxima.size
    spread = float(null_maxima.std(ddof=1)) if draws > 1 else 0.0
    if spread <= 0.0 or np.mean(null_maxima <= 0.0) > _MAX_ZERO_SHARE:
        ordered = np.sort(null_maxima)
        at_least = draws - np.searchsorted(ordered, values - 1e-9, side="left")
        return (1.0 + at_least) / (draws + 1.0), "monte_carlo"
    scale = spread * math.sqrt(6.0) / math.pi
    location = float(null_maxima.mean()) - _EULER_GAMMA * scale
    # 1 - exp(-exp(-z)) without cancellation for large z
    return -np.expm1(-np.exp(-(values - location) / scale)), "gumbel"


def temporal_scan(
    observed: np.ndarray,
    expected: np.ndarray,
    track: np.ndarray,
    start: np.ndarray,
    width: np.ndarray,
    *,
    min_claims: int = 1,
    min_rate_ratio: float = 1.0,
    draws: int = 999,
    random_state: int | Sequence[int] | np.random.Generator | None = None,
) -> ScanResult:
    """Scan windows of tracks laid end to end on one axis of cells (days).

    Args:
        observed: Claims in each cell.
        expected: Expected claims in each cell under the null model.
        track: Track of each window.
        start: First cell of each window (on the shared axis).
        width: Cells in each window; a window never runs past its track's cells.
        min_claims: Claims a window needs to count.
        min_rate_ratio: ``observed / expected`` a window needs to count.
        draws: Monte Carlo draws of each track's null maximum.
        random_state: Seed (or seed sequence) or generator of the draws.

    Raises:
        EngineError: Arrays of different lengths, or a window outside the cells.

    Example:
        >>> days = np.full(30, 1.0)
        >>> claims = np.zeros(30); claims[10:12] = 9
        >>> windows = [(0, s, w) for w in (1, 2, 3) for s in range(31 - w)]
        >>> t, s, w = (np.array(c) for c in zip(*windows))
        >>> result = temporal_scan(claims, days, t, s, w, random_state=0)
        >>> bool(result.track_p_value[0] < 1e-4)
        True
    """
    observed = np.asarray(observed, dtype=float)
    expected = np.asarray(expected, dtype=float)
    track = np.asarray(track, dtype=np.int64)
    start = np.asarray(start, dtype=np.int64)
    width = np.asarray(width, dtype=np.int64)
    if observed.shape != expected.shape or observed.ndim != 1:
        raise EngineError(
            f"observed and expected must be 1-d of one length; got {observed.shape} and "
            f"{expected.shape}"
        )
    if not (track.shape == start.shape == width.shape):
        raise EngineError(
            f"track, start and width must have one length; got {track.size}, {start.size} "
            f"and {width.size}"
        )
    if start.size and (start.min() < 0 or (start + width).max() > observed.size or width.min() < 1):
        raise EngineError(
            f"every window must lie within the {observed.size} cells and hold at least one; "
            "got one that does not"
        )
    rng = np.random.default_rng(random_state)
    prefix_observed = np.concatenate([[0.0], np.cumsum(observed)])
    prefix_expected = np.concatenate([[0.0], np.cumsum(expected)])
    window_observed = prefix_observed[start + width] - prefix_observed[start]
    window_expected = prefix_expected[start + width] - prefix_expected[start]
    statistic = _eligible_excess(window_observed, window_expected, min_claims, min_rate_ratio)
    p_value = np.ones(statistic.size)
    tracks = np.unique(track)
    track_p = np.ones(tracks.size)
    methods: list[str] = []
    for k, t in enumerate(tracks):
        mine = np.flatnonzero(track == t)
        first = int(start[mine].min())
        last = int((start[mine] + width[mine]).max())
        means = np.maximum(expected[first:last], 0.0)
        simulated = rng.poisson(means, size=(draws, means.size)).astype(float)
        prefix = np.concatenate([np.zeros((draws, 1)), np.cumsum(simulated, axis=1)], axis=1)
        local = start[mine] - first
        null_observed = prefix[:, local + width[mine]] - prefix[:, local]
        null_maxima = _eligible_excess(
            null_observed, window_expected[mine][None, :], min_claims, min_rate_ratio
        ).max(axis=1)
        tail, method = _tail(null_maxima, statistic[mine])
        p_value[mine] = np.where(statistic[mine] > 0, np.clip(tail, 0.0, 1.0), 1.0)
        track_p[k] = float(p_value[mine].min())
        methods.append(method)
    return ScanResult(statistic, p_value, tracks, track_p, tuple(methods))


__all__ = ["ScanResult", "poisson_excess", "temporal_scan"]
