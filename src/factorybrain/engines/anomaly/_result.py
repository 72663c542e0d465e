"""The typed result every anomaly model returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from factorybrain.engines.anomaly._flags import DataFlag


@dataclass(frozen=True)
class AnomalyResult:
    """Scores of a batch of rows, with the sensors that drive them and what was wrong with the data.

    Attributes:
        scores: Anomaly score per row, higher is more anomalous; NaN where the row was not scored
            (see ``flags``).
        threshold: The calibrated threshold; a row is anomalous when its score is above it.
        sensor_names: Names of the sensors, in column order.
        contributions: Share of each sensor in each row's score, shape ``(rows, sensors)``,
            non-negative and summing to the row's score (0 for excluded sensors).
        flags: Row-level :class:`DataFlag` values (the union of the row's sensor flags and its
            own), as an int array.
        sensor_flags: :class:`DataFlag` values per row and sensor, shape ``(rows, sensors)``.
        statistics: Named component statistics (e.g. ``"t2"`` and ``"q"`` for PCA), per row.
    """

    scores: np.ndarray
    threshold: float
    sensor_names: tuple[str, ...]
    contributions: np.ndarray
    flags: np.ndarray
    sensor_flags: np.ndarray
    statistics: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def is_anomaly(self) -> np.ndarray:
        """Rows whose score is above the threshold (False where not scored)."""
        with np.errstate(invalid="ignore"):
            return np.asarray(self.scores > self.threshold)

    @property
    def is_scored(self) -> np.ndarray:
        """Rows that received a score."""
        return np.isfinite(self.scores)

    @property
    def status(self) -> np.ndarray:
        """Per row: ``"anomaly"``, ``"normal"``, ``"flagged"`` or ``"unscored"``.

        ``"flagged"`` is a normal score on dirty data. A row is only ``"normal"`` when it was
        scored below the threshold and carries no flag.
        """
        out = np.full(self.scores.shape, "normal", dtype=object)
        out[self.flags != 0] = "flagged"
        out[self.is_anomaly] = "anomaly"
        out[~self.is_scored] = "unscored"
        return out

    def top_sensors(self, row: int, count: int = 3) -> list[tuple[str, float]]:
        """Return the ``count`` sensors contributing most to one row's score, largest first."""
        shares = self.contributions[row]
        order = np.argsort(-shares, kind="stable")[:count]
        return [(self.sensor_names[j], float(shares[j])) for j in order if shares[j] > 0]

    def flagged_sensors(self, flag: DataFlag) -> list[str]:
        """Return the sensors that carry ``flag`` on at least one row."""
        hit = np.any((self.sensor_flags & int(flag)) != 0, axis=0)
        return [name for name, h in zip(self.sensor_names, hit, strict=True) if h]


__all__ = ["AnomalyResult"]
