"""Streaming throughput: one asset's 10-sensor model scored one sample at a time.

A synthetic asset (10 correlated sensors following a stable vector autoregression, generated with a
fixed seed) trains the dynamic anomaly model on 5,000 samples; then ``--samples`` new samples are
fed to ``score_one`` one by one, as a live feed would deliver them. ``samples_per_s`` is the
throughput of that loop; the PCA model's throughput and the largest difference between streamed
and batch scores (they must agree) are printed too.

Usage:
    python benchmarks/anomaly_stream.py [--samples N]

Prints progress to stderr and one JSON object on the last line of stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from factorybrain.engines.anomaly import AnomalyModel, DynamicAnomalyModel, PCAAnomalyModel

SENSORS = 10


def simulate(rows: int, seed: int) -> np.ndarray:
    """Rows of a stable 10-sensor vector autoregression with correlated noise."""
    asset = np.random.default_rng(0)  # the same asset for training and streaming
    mixing = asset.normal(size=(SENSORS, SENSORS)) / np.sqrt(SENSORS)
    transition = 0.6 * np.eye(SENSORS) + 0.1 * asset.normal(size=(SENSORS, SENSORS))
    rng = np.random.default_rng(seed)
    transition *= 0.9 / max(np.abs(np.linalg.eigvals(transition)))
    out = np.zeros((rows, SENSORS))
    noise = rng.normal(size=(rows, SENSORS)) @ mixing
    for t in range(1, rows):
        out[t] = out[t - 1] @ transition.T + noise[t]
    return out * 3.0 + 50.0


def throughput(model: AnomalyModel, stream: np.ndarray) -> tuple[float, float]:
    """Samples per second of ``score_one`` and the largest stream-versus-batch difference."""
    model.reset_stream()
    scores = np.empty(len(stream))
    rows = list(stream)  # a feed delivers one array per sample
    started = time.perf_counter()
    for i, row in enumerate(rows):
        scores[i] = model.score_one(row)
    elapsed = time.perf_counter() - started
    batch = model.score(stream).scores
    difference = float(np.nanmax(np.abs(scores - batch)))
    return len(stream) / elapsed, difference


def main() -> None:
    """Run the benchmark and print its JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=50_000, help="samples to stream")
    args = parser.parse_args()
    train = simulate(5_000, seed=1)
    stream = simulate(args.samples, seed=2)
    dynamic = DynamicAnomalyModel().fit(train)
    pca = PCAAnomalyModel().fit(train)
    alarm_rate = float(dynamic.score(stream).is_anomaly.mean())
    rate, difference = throughput(dynamic, stream)
    print(f"dynamic: {rate:,.0f} samples/s, stream vs batch {difference:.2e}", file=sys.stderr)
    pca_rate, pca_difference = throughput(pca, stream)
    print(f"pca: {pca_rate:,.0f} samples/s, stream vs batch {pca_difference:.2e}", file=sys.stderr)
    output = {
        "samples_per_s": round(rate),
        "pca_samples_per_s": round(pca_rate),
        "max_stream_batch_difference": max(difference, pca_difference),
        "alarm_rate_on_normal_stream": round(alarm_rate, 4),
        "sensors": SENSORS,
        "samples": args.samples,
        "model": repr(dynamic),
    }
    print(json.dumps(output))


if __name__ == "__main__":
    main()
