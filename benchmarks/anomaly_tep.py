"""Tennessee Eastman fault detection (Braatz data) with the dynamic anomaly model.

Protocol (Russell, Chiang and Braatz 2000; ../shared/datasets/tep_braatz/README.md): fit on the
normal training file d00.dat only (stored transposed, 52 x 500); on each test file dXX_te.dat the
fault starts after observation 160, so the detection rate is taken on observations 161-960 and
false alarms on observations 1-160; the false alarm rate that counts is the one on the normal test
file d00_te.dat. Faults 3, 9 and 15 are practically undetectable and left out of the 18-fault
mean. The PCA T-squared/Q baseline (9 components, 99 % limits) runs in the same process; its
threshold is then moved so that its false alarm rate on d00_te.dat equals the dynamic model's,
and it is reported at the textbook limits too.

Usage:
    python benchmarks/anomaly_tep.py [--data DIR]

Prints progress to stderr and one JSON object on the last line of stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from factorybrain.engines.anomaly import (
    AnomalyResult,
    DataFlag,
    DynamicAnomalyModel,
    PCAAnomalyModel,
)

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "tep_braatz"
FAULTS = list(range(1, 22))
HARD = (3, 9, 15)
FAULT_START = 160


def load(directory: Path, name: str) -> np.ndarray:
    """Read ``name.dat`` or ``name.dat.gz`` from ``directory``."""
    for candidate in (directory / f"{name}.dat", directory / f"{name}.dat.gz"):
        if candidate.exists():
            return np.loadtxt(candidate)
    raise FileNotFoundError(f"{name}.dat(.gz) not found in {directory}")


def make_model() -> DynamicAnomalyModel:
    """The dynamic model with the settings this benchmark reports."""
    return DynamicAnomalyModel(lags=1, target_false_alarm_rate=0.01)


DATA_FAULTS = DataFlag.STUCK | DataFlag.NOT_SCORED | DataFlag.MISSING_SENSOR


def alarms(result: AnomalyResult, threshold: float | None = None) -> np.ndarray:
    """Rows an operator is alerted on: score above the threshold, or a data fault flagged.

    Stuck sensors and rows too broken to score (in faults 6 and 18 the simulated plant's readings
    freeze) are alerts in their own right; drift and imputation flags are not counted.
    """
    limit = result.threshold if threshold is None else threshold
    with np.errstate(invalid="ignore"):
        above = result.scores > limit
    return above | ((result.flags & int(DATA_FAULTS)) != 0)


def rates(alarms: dict[int, np.ndarray]) -> dict[str, object]:
    """Detection rates per fault and the summary figures from per-file alarm arrays."""
    detection = {i: float(alarms[i][FAULT_START:].mean()) for i in FAULTS}
    return {
        "detection": detection,
        "detection_rate_21": float(np.mean([detection[i] for i in FAULTS])),
        "detection_rate_18": float(np.mean([detection[i] for i in FAULTS if i not in HARD])),
        "false_alarm_rate": float(alarms[0].mean()),
        "false_alarm_rate_first_160": float(
            np.mean([alarms[i][:FAULT_START].mean() for i in FAULTS])
        ),
    }


def main() -> None:
    """Run the benchmark and print its JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of dXX(.dat|.gz)")
    args = parser.parse_args()

    train = load(args.data, "d00")
    if train.shape[0] == 52 and train.shape[1] != 52:
        train = train.T  # d00.dat is stored transposed
    tests = {i: load(args.data, f"d{i:02d}_te") for i in [0, *FAULTS]}
    print(f"train {train.shape}, {len(tests)} test files", file=sys.stderr)

    started = time.perf_counter()
    model = make_model().fit(train)
    fit_seconds = time.perf_counter() - started
    results = {i: model.score(x) for i, x in tests.items()}
    ours = rates({i: alarms(r) for i, r in results.items()})
    score_only = rates({i: r.is_anomaly for i, r in results.items()})
    print(f"dynamic model fitted in {fit_seconds:.2f} s: {ours}", file=sys.stderr)
    print(f"dynamic model, score only: {score_only}", file=sys.stderr)

    # Textbook PCA: no stuck-sensor or drift handling, as in the published baselines.
    baseline = PCAAnomalyModel(
        n_components=9, confidence=0.99, stuck_run=None, drift_smoothing=None
    ).fit(train)
    base = {i: baseline.score(x) for i, x in tests.items()}
    at_limits = rates({i: alarms(r) for i, r in base.items()})
    normal = np.sort(base[0].scores)
    allowed = int(np.floor(float(ours["false_alarm_rate"]) * len(normal)))
    matched_threshold = float(normal[len(normal) - allowed - 1])
    matched = rates({i: alarms(r, matched_threshold) for i, r in base.items()})
    print(f"PCA at 99 % limits: {at_limits}", file=sys.stderr)
    print(f"PCA at the same false alarm rate: {matched}", file=sys.stderr)

    def figure(summary: dict[str, object], key: str) -> float:
        return round(float(summary[key]), 4)  # type: ignore[arg-type]

    output = {
        "detection_rate_21": figure(ours, "detection_rate_21"),
        "detection_rate_18": figure(ours, "detection_rate_18"),
        "false_alarm_rate": figure(ours, "false_alarm_rate"),
        "false_alarm_rate_first_160": figure(ours, "false_alarm_rate_first_160"),
        "baseline_detection_rate_18": figure(matched, "detection_rate_18"),
        "baseline_false_alarm_rate": figure(matched, "false_alarm_rate"),
        "baseline_limits_detection_rate_18": figure(at_limits, "detection_rate_18"),
        "baseline_limits_false_alarm_rate": figure(at_limits, "false_alarm_rate"),
        "score_only_detection_rate_18": figure(score_only, "detection_rate_18"),
        "score_only_false_alarm_rate": figure(score_only, "false_alarm_rate"),
        "detection_per_fault": {
            str(i): round(v, 3)
            for i, v in ours["detection"].items()  # type: ignore[attr-defined]
        },
        "fit_seconds": round(fit_seconds, 2),
        "model": repr(make_model()),
    }
    print(json.dumps(output))


if __name__ == "__main__":
    main()
