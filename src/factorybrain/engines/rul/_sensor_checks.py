"""Sensor faults that must not be read as wear: gaps, stuck values, a sensor that drifts alone.

Wear moves a machine's sensors together; a fault moves one sensor alone. The training covariance of
the standardised sensors captures how they move together, which gives two tools: the conditional
mean of a missing sensor given the others (to fill it) and the residual of a present sensor against
that conditional mean (to notice when it disagrees with the rest).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Rows averaged when checking whether a sensor disagrees with the others.
DISAGREEMENT_WINDOW = 10
#: A sensor disagrees when its averaged residual exceeds this multiple of the largest seen in
#: training (99.9th percentile).
DISAGREEMENT_FACTOR = 1.5
#: Identical consecutive readings needed to call a sensor stuck, at least.
MIN_STUCK_RUN = 5


def run_lengths(raw: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Length of the run of identical readings ending at each row, per column, within each unit."""
    same = np.zeros(raw.shape, dtype=bool)
    same[1:] = (raw[1:] == raw[:-1]) & ~np.isnan(raw[1:])
    same[starts[:-1]] = False
    runs = np.zeros(raw.shape, dtype=np.int64)
    count = np.zeros(raw.shape[1], dtype=np.int64)
    for row in range(raw.shape[0]):
        count = np.where(same[row], count + 1, 1)
        runs[row] = count
    return runs


def stuck_thresholds(raw: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per column, a run length twice the longest seen in training (and at least the minimum)."""
    longest = run_lengths(raw, starts).max(axis=0) if len(raw) else np.zeros(raw.shape[1])
    return np.maximum(2 * longest, MIN_STUCK_RUN)


def stuck_cells(raw: np.ndarray, starts: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Cells belonging to a run of identical readings at least ``thresholds`` long."""
    runs = run_lengths(raw, starts)
    flagged = runs >= thresholds
    # Extend each flagged run back to where it began.
    stuck = flagged.copy()
    for row in range(raw.shape[0] - 1, 0, -1):
        stuck[row - 1] |= stuck[row] & (runs[row] > 1)
    return stuck


def conditional_fill(values: np.ndarray, covariance: np.ndarray) -> np.ndarray:
    """Fill NaN cells of rows with some readings by the Gaussian conditional mean of the others."""
    filled = values.copy()
    missing = np.isnan(values)
    partial = missing.any(axis=1) & ~missing.all(axis=1)
    if not partial.any():
        return filled
    patterns, inverse = np.unique(missing[partial], axis=0, return_inverse=True)
    rows = np.flatnonzero(partial)
    for index, pattern in enumerate(patterns):
        selected = rows[inverse.ravel() == index]
        present = ~pattern
        weights = np.linalg.solve(
            covariance[np.ix_(present, present)] + 1e-6 * np.eye(int(present.sum())),
            covariance[np.ix_(present, pattern)],
        )
        block = filled[np.ix_(selected, present)] @ weights
        filled[np.ix_(selected, pattern)] = block
    return filled


def fill_whole_rows(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Carry readings forward (then backward) within each unit for rows that are still empty."""
    unit_index = np.repeat(np.arange(len(starts) - 1), np.diff(starts))
    frame = pd.DataFrame(values)
    filled = frame.groupby(unit_index).ffill()
    return filled.groupby(unit_index).bfill().to_numpy(dtype=float, copy=True)


def disagreement(values: np.ndarray, starts: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """Rolling mean of each sensor's residual against the others, in residual standard deviations.

    With precision matrix ``P``, the residual of sensor ``s`` given the others is ``(P x)_s / P_ss``
    and its standard deviation ``1 / sqrt(P_ss)``.
    """
    diagonal = np.diag(precision)
    residual = (values @ precision) / np.sqrt(diagonal)
    result = np.empty_like(residual)
    for position in range(len(starts) - 1):
        block = residual[starts[position] : starts[position + 1]]
        cumulative = np.vstack([np.zeros((1, block.shape[1])), np.cumsum(block, axis=0)])
        end = np.arange(1, len(block) + 1)
        begin = np.maximum(0, end - DISAGREEMENT_WINDOW)
        result[starts[position] : starts[position + 1]] = (cumulative[end] - cumulative[begin]) / (
            end - begin
        )[:, None]
    return np.abs(result)
