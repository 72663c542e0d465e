"""One sensor climbing or falling for days: a degradation trend, judged sensor by sensor.

The health model wants several sensors to deviate together and leaves out sensors it finds
redundant; a bearing that only shows in its vibration would go unnoticed. This check looks at every
analog sensor on its own: the median of its running readings per block of hours (centred on each
operating regime's own level, so a product change is no trend), a Mann-Kendall test over the last
``window`` blocks, and how far the latest blocks have moved from the sensor's own baseline since
the last repair. It works on any grid (the blocks hold whatever readings the historian has) and
reports the moment the data first showed the trend, so a replay warns when a live run would have.
It also says when the sensor came back: the latest blocks all within its normal band again for a
day of running, which is what lets the trend's finding be resolved without a repair.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from factorybrain.agents.core._telemetry import AssetData

#: Scale of a normal distribution's standard deviation from the median absolute deviation.
_MAD_SCALE = 1.4826


@dataclass(frozen=True)
class SensorTrend:
    """A sensor whose level moved steadily away from its baseline.

    Attributes:
        signal: The sensor (column of the asset's frame).
        direction: ``rising`` or ``falling``.
        reset: Start of the stretch since the last repair in which it was found.
        start: First block of the trend window.
        detected_at: End of the block in which the trend was first significant.
        tau: Kendall's tau of the window (1: rising in every pair of blocks).
        shift_sigmas: The latest blocks' distance from the baseline, in baseline deviations.
        baseline: The sensor's baseline level (regime-centred median of the blocks before).
        latest: Its level in the latest blocks of the window.
        change_per_day: Theil-Sen slope over the window, in the sensor's unit per day.
        normal_since: Start of the latest blocks, after the trend, that are all back within the
            normal band (``back_within`` baseline deviations of the baseline) and cover at
            least ``settle_hours`` of running; None while the sensor is not back.
    """

    signal: str
    direction: str
    reset: pd.Timestamp
    start: pd.Timestamp
    detected_at: pd.Timestamp
    tau: float
    shift_sigmas: float
    baseline: float
    latest: float
    change_per_day: float
    normal_since: pd.Timestamp | None = None


def _centred(frame: pd.DataFrame, keys: np.ndarray, first: int) -> pd.DataFrame:
    """Readings with each regime's level removed: the median of its first ``first`` readings.

    The level comes from the start of each regime after the repair, never from later data, so
    the check judges each moment on what was known then and a trend is not centred away.
    """
    if len(frame) == 0 or all(k is None for k in keys):
        return frame
    labels = pd.Series(keys, index=frame.index).astype(str)
    order = labels.groupby(labels).cumcount()
    early = frame[(order < first).to_numpy()]
    levels = early.groupby(labels[(order < first).to_numpy()]).median()
    offsets = levels.reindex(labels.to_numpy()).to_numpy() - levels.median().to_numpy()[None, :]
    return frame - offsets


def _mann_kendall(windows: np.ndarray) -> np.ndarray:
    """Kendall's tau of each row (values in time order) against time."""
    n = windows.shape[1]
    upper = np.triu_indices(n, k=1)
    diffs = windows[:, upper[1]] - windows[:, upper[0]]
    return np.sign(diffs).sum(axis=1) / (n * (n - 1) / 2)


def sensor_trends(
    asset: AssetData,
    *,
    block_hours: int = 6,
    window: int = 16,
    min_baseline: int = 8,
    min_tau: float = 0.6,
    min_shift: float = 4.0,
    back_within: float = 2.0,
    settle_hours: int = 24,
) -> list[SensorTrend]:
    """Every sensor of ``asset`` whose level climbs or falls steadily since its last repair.

    Args:
        asset: The asset's readings (any grid) with its running flag, regimes and resets.
        block_hours: Hours per block; a block's level is the median of its running readings.
        window: Consecutive blocks with data a trend is judged over (16 blocks of 6 h: four
            days of running).
        min_baseline: Blocks before the window (since the last repair) the baseline needs.
        min_tau: Least Kendall's tau over the window (0.6: p < 0.002 for 16 blocks).
        min_shift: Least distance of the latest quarter of the window from the baseline level,
            in robust standard deviations of the baseline blocks.
        back_within: Distance from the baseline, in the same deviations, within which a block
            after the trend counts as normal again (below ``min_shift``: a hysteresis).
        settle_hours: Hours of the latest blocks that must all be normal again for the trend's
            ``normal_since`` to be set.

    Returns:
        One :class:`SensorTrend` per sensor, direction and stretch between repairs: the first
        time it was significant.
    """
    if asset.frame.empty:
        return []
    span = pd.Timedelta(hours=block_hours)
    need = max(1, asset.min_readings * block_hours // 2)
    resets = sorted(pd.Timestamp(r) for r in asset.resets) or [pd.Timestamp(asset.frame.index[0])]
    stamps = asset.frame.index
    running = asset.running.astype(bool)
    found: list[SensorTrend] = []
    tail = max(2, window // 4)
    for position, reset in enumerate(resets):
        following = resets[position + 1] if position + 1 < len(resets) else None
        inside = running & (stamps >= reset)
        if following is not None:
            inside &= stamps < following
        frame = _centred(
            asset.frame[inside], asset.regime[inside], asset.readings_per_hour * block_hours
        )
        if frame.empty:
            continue
        blocks = frame.groupby(frame.index.floor(span))
        medians = blocks.median().where(blocks.count() >= need)
        # a block the data has not finished yet is judged when it has (as a live run would)
        medians = medians[medians.index + span <= stamps[-1] + asset.step]
        for signal in medians.columns:
            part = medians[signal].dropna()
            if len(part) < min_baseline + window:
                continue
            values = part.to_numpy(dtype=float)
            rolling = sliding_window_view(values, window)
            taus = _mann_kendall(rolling)
            for end in range(min_baseline + window - 1, len(values)):
                tau = float(taus[end - window + 1])
                if abs(tau) < min_tau:
                    continue
                baseline = values[: end - window + 1]
                level = float(np.median(baseline))
                spread = _MAD_SCALE * float(np.median(np.abs(baseline - level)))
                spread = max(spread, 1e-6 * max(abs(level), 1.0))
                latest = float(np.median(values[end - tail + 1 : end + 1]))
                shift = (latest - level) / spread
                if math.copysign(1.0, shift) != math.copysign(1.0, tau) or abs(shift) < min_shift:
                    continue
                moments = part.index[end - window + 1 : end + 1]
                days = (moments - moments[0]).total_seconds().to_numpy() / 86400.0
                judged = values[end - window + 1 : end + 1]
                pairs = np.triu_indices(window, k=1)
                dt = days[pairs[1]] - days[pairs[0]]
                rises = judged[pairs[1]] - judged[pairs[0]]
                slopes = rises[dt > 0] / dt[dt > 0]
                found.append(
                    SensorTrend(
                        signal=str(signal),
                        direction="rising" if tau > 0 else "falling",
                        reset=reset,
                        start=pd.Timestamp(moments[0]),
                        detected_at=pd.Timestamp(moments[-1]) + span,
                        tau=tau,
                        shift_sigmas=float(shift),
                        baseline=level,
                        latest=latest,
                        change_per_day=float(np.median(slopes)) if len(slopes) else 0.0,
                        normal_since=_back_since(
                            part.iloc[end + 1 :],
                            level,
                            spread * back_within,
                            max(1, math.ceil(settle_hours / block_hours)),
                        ),
                    )
                )
                break
    return found


def _back_since(after: pd.Series, level: float, band: float, blocks: int) -> pd.Timestamp | None:
    """Start of the latest run of ``after``'s blocks all within ``band`` of ``level``.

    None when the last block is outside the band, or the run holds fewer than ``blocks``.
    """
    inside = np.abs(after.to_numpy(dtype=float) - level) <= band
    run = 0
    for flag in inside[::-1]:
        if not flag:
            break
        run += 1
    if run < blocks:
        return None
    return pd.Timestamp(after.index[len(after) - run])


__all__ = ["SensorTrend", "sensor_trends"]
