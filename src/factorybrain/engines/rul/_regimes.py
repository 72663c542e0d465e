"""Operating regimes: find them in the settings columns and standardise sensors per regime.

A machine's sensors move with its operating point (altitude, speed, load) far more than with its
wear. Clustering the settings columns and z-scoring every sensor within its cluster removes that
movement, so the same model sees wear alone whether a fleet runs at one operating point or at six.
The number of regimes is found from the data: a split is kept only while it removes most of the
remaining spread of the settings (a tenfold drop of the within-cluster sum of squares), so noise
around one operating point stays one regime and six well-separated operating points become six.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_limits

#: A split of the settings into one more regime is kept when it leaves less than this fraction of
#: the previous within-cluster sum of squares (a tenfold drop).
SPLIT_GAIN_RATIO = 0.1
#: Rows used to choose the number of regimes (the final clustering uses every row).
SELECTION_SAMPLE = 5000
#: A row is from an unseen regime when its distance to the nearest regime centre exceeds this many
#: times the 99.9th percentile distance of that regime's training rows.
UNSEEN_DISTANCE_FACTOR = 4.0
#: Smallest unseen-regime radius, in standardised settings units.
UNSEEN_MIN_RADIUS = 0.05


@dataclass
class RegimeNormalizer:
    """Cluster operating settings and standardise sensors within each cluster.

    Attributes:
        n_regimes: Number of regimes (``None`` chooses it from the data).
        max_regimes: Upper bound when choosing automatically.
        random_state: Seed of the clustering.
    """

    n_regimes: int | None = None
    max_regimes: int = 8
    random_state: int = 0
    settings_center: np.ndarray = field(default_factory=lambda: np.zeros(0))
    settings_scale: np.ndarray = field(default_factory=lambda: np.zeros(0))
    centers: np.ndarray = field(default_factory=lambda: np.zeros((1, 0)))
    radius: np.ndarray = field(default_factory=lambda: np.zeros(1))
    sensor_mean: np.ndarray = field(default_factory=lambda: np.zeros((1, 0)))
    sensor_std: np.ndarray = field(default_factory=lambda: np.zeros((1, 0)))

    @property
    def n_regimes_found(self) -> int:
        """Number of regimes learned by :meth:`fit`."""
        return int(self.centers.shape[0])

    def _standardise_settings(self, settings: np.ndarray) -> np.ndarray:
        return (settings - self.settings_center) / self.settings_scale

    def _cluster(self, scaled: np.ndarray) -> np.ndarray:
        """Centres of the chosen number of regimes, found on a sample of the rows."""
        rng = np.random.default_rng(self.random_state)
        sample = scaled
        if len(scaled) > SELECTION_SAMPLE:
            sample = scaled[rng.choice(len(scaled), SELECTION_SAMPLE, replace=False)]
        centres = {1: sample.mean(axis=0, keepdims=True)}
        previous = float(((sample - centres[1]) ** 2).sum())
        distinct = len(np.unique(sample, axis=0))
        candidates = (
            [self.n_regimes]
            if self.n_regimes is not None
            else range(2, min(self.max_regimes, distinct) + 1)
        )
        chosen = self.n_regimes if self.n_regimes is not None else 1
        # One thread: on a busy machine, threaded k-means spins and runs many times slower.
        with threadpool_limits(limits=1):
            for k in candidates:
                if k == 1 or previous <= 0.0:
                    break
                clustering = KMeans(n_clusters=k, n_init=3, random_state=self.random_state)
                clustering.fit(sample)
                centres[k] = clustering.cluster_centers_
                if self.n_regimes is None and clustering.inertia_ < SPLIT_GAIN_RATIO * previous:
                    chosen = k
                previous = float(clustering.inertia_)
        return centres[chosen]

    def fit(self, settings: np.ndarray, sensors: np.ndarray) -> RegimeNormalizer:
        """Learn regimes from ``settings`` (rows x settings) and per-regime sensor statistics.

        Args:
            settings: Operating settings, one row per observation (may have zero columns).
            sensors: Sensor values, one row per observation; NaN is ignored in the statistics.

        Returns:
            ``self``.
        """
        settings = np.asarray(settings, dtype=float)
        if settings.shape[1] == 0:
            self.settings_center = np.zeros(0)
            self.settings_scale = np.zeros(0)
            self.centers = np.zeros((1, 0))
        else:
            known = ~np.isnan(settings)
            medians = np.array(
                [
                    np.median(column[present]) if present.any() else 0.0
                    for column, present in zip(settings.T, known.T, strict=True)
                ]
            )
            filled = np.where(known, settings, medians)
            self.settings_center = filled.mean(axis=0)
            scale = filled.std(axis=0)
            self.settings_scale = np.where(scale > 1e-12, scale, 1.0)
            self.centers = self._cluster(self._standardise_settings(filled))
        self.radius = np.full(self.centers.shape[0], np.inf)
        labels, _ = self.assign(settings)
        distances = self._distances(labels, settings)
        k = self.centers.shape[0]
        self.radius = np.full(k, UNSEEN_MIN_RADIUS)
        means = np.zeros((k, sensors.shape[1]))
        stds = np.ones((k, sensors.shape[1]))
        for regime in range(k):
            rows = labels == regime
            if rows.any():
                self.radius[regime] = max(
                    UNSEEN_DISTANCE_FACTOR * float(np.quantile(distances[rows], 0.999)),
                    UNSEEN_MIN_RADIUS,
                )
                means[regime], stds[regime] = _column_stats(sensors[rows])
        self.sensor_mean = means
        self.sensor_std = stds
        return self

    def _distances(self, labels: np.ndarray, settings: np.ndarray) -> np.ndarray:
        if self.centers.shape[1] == 0:
            return np.zeros(len(labels))
        settings = np.where(np.isnan(settings), self.settings_center, settings)
        scaled = self._standardise_settings(settings)
        return np.sqrt(((scaled - self.centers[labels]) ** 2).sum(axis=1))

    def assign(self, settings: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Return the nearest regime of each row and whether the row lies outside every regime.

        Args:
            settings: Operating settings with the training columns, or ``None`` when the settings
                are unknown (only valid with a single regime).

        Returns:
            ``(labels, unseen)``: regime index per row and a boolean flag per row. Rows with NaN
            settings are assigned to the nearest regime of their known settings.
        """
        if settings is None or self.centers.shape[1] == 0:
            count = 0 if settings is None else len(settings)
            return np.zeros(count, dtype=int), np.zeros(count, dtype=bool)
        scaled = self._standardise_settings(np.asarray(settings, dtype=float))
        known = ~np.isnan(scaled)
        squared = np.where(
            known[:, None, :], (np.nan_to_num(scaled)[:, None, :] - self.centers[None]) ** 2, 0.0
        ).sum(axis=2)
        labels = squared.argmin(axis=1)
        distance = np.sqrt(squared[np.arange(len(labels)), labels])
        return labels, distance > self.radius[labels]

    def transform(self, sensors: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Standardise sensors within each row's regime (constant sensors become 0)."""
        mean = self.sensor_mean[labels]
        std = self.sensor_std[labels]
        standardised = np.where(std > 0, (sensors - mean) / np.where(std > 0, std, 1.0), 0.0)
        standardised[np.isnan(sensors)] = np.nan
        return standardised


def _column_stats(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each column ignoring NaN (0 and 0 for an all-NaN column)."""
    present = ~np.isnan(block)
    counts = present.sum(axis=0)
    filled = np.where(present, block, 0.0)
    mean = filled.sum(axis=0) / np.maximum(counts, 1)
    variance = (np.where(present, block - mean, 0.0) ** 2).sum(axis=0) / np.maximum(counts, 1)
    std = np.sqrt(variance)
    return mean, np.where(std > 1e-12 * np.maximum(1.0, np.abs(mean)), std, 0.0)
