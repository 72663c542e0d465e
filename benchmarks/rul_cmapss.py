"""C-MAPSS remaining useful life: train on a subset's run-to-failure engines, score its test ones.

Protocol (../shared/datasets/cmapss/README.md): one prediction per test engine at its last cycle,
errors against the true RUL capped at 125 (as the published results report), RMSE and the PHM08
score; also the RMSE against the uncapped truth and the share of test engines whose capped true RUL
lies inside the 90 % interval. The same code and settings run on every subset: operating regimes
are found from the data.

Usage:
    python benchmarks/rul_cmapss.py --subset FD001
    python benchmarks/rul_cmapss.py --data DIR --subset FD002
    python benchmarks/rul_cmapss.py --make-multiregime OUT_DIR   # FD001 shifted into 6 regimes

Prints progress on stderr and one JSON object on the last line of stdout with the keys ``rmse``,
``score``, ``rmse_uncapped``, ``interval_coverage_90`` and ``train_seconds`` (and a few more).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from factorybrain.engines.rul import RULModel, nasa_score

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "cmapss"
COLUMNS = ["unit", "cycle", "setting_1", "setting_2", "setting_3"] + [
    f"sensor_{i}" for i in range(1, 22)
]
CAP = 125.0
#: The six operating conditions of FD002/FD004 (altitude kft, Mach, throttle resolver angle).
SIX_CONDITIONS = np.array(
    [
        [0.0, 0.0, 100.0],
        [10.0, 0.25, 100.0],
        [20.0, 0.7, 100.0],
        [25.0, 0.62, 60.0],
        [35.0, 0.84, 100.0],
        [42.0, 0.84, 100.0],
    ]
)


def find_file(data: Path, stem: str) -> Path:
    for candidate in (data / f"{stem}.txt", data / f"{stem}.txt.gz"):
        if candidate.exists():
            return candidate
    raise SystemExit(f"error: neither {stem}.txt nor {stem}.txt.gz found in {data}")


def read_table(path: Path) -> pd.DataFrame:
    table = pd.read_csv(path, sep=r"\s+", header=None)
    if table.shape[1] != len(COLUMNS):
        raise SystemExit(f"error: {path} has {table.shape[1]} columns, expected {len(COLUMNS)}")
    table.columns = COLUMNS
    return table


def make_multiregime(source: Path, out: Path, seed: int = 0) -> None:
    """Write FD001 as 'FD001R6': each cycle flown in one of six conditions that shift sensors."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    sensors = [f"sensor_{i}" for i in range(1, 22)]
    train = read_table(find_file(source, "train_FD001"))
    scale = rng.uniform(0.6, 1.8, size=(6, len(sensors)))
    offset = rng.normal(0.0, 1.0, size=(6, len(sensors)))
    spread = train[sensors].std().to_numpy() + 1e-3 * train[sensors].abs().mean().to_numpy()
    for stem in ("train_FD001", "test_FD001"):
        table = read_table(find_file(source, stem))
        regime = rng.integers(0, 6, size=len(table))
        noise = rng.normal(0.0, [0.002, 0.0002, 0.0], size=(len(table), 3))
        table[["setting_1", "setting_2", "setting_3"]] = SIX_CONDITIONS[regime] + noise
        mean = train[sensors].mean().to_numpy()
        values = table[sensors].to_numpy()
        table[sensors] = mean + (values - mean) * scale[regime] + 20.0 * spread * offset[regime]
        target = out / f"{stem.replace('FD001', 'FD001R6')}.txt.gz"
        table.to_csv(target, sep=" ", header=False, index=False, float_format="%.8g")
        print(f"wrote {target}", file=sys.stderr)
    rul = pd.read_csv(find_file(source, "RUL_FD001"), sep=r"\s+", header=None)
    rul.to_csv(out / "RUL_FD001R6.txt.gz", sep=" ", header=False, index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with the files")
    parser.add_argument("--subset", default="FD001", help="FD001..FD004 or any NAME with files")
    parser.add_argument("--n-jobs", type=int, default=1, help="LightGBM threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--make-multiregime",
        type=Path,
        metavar="OUT_DIR",
        help="write FD001 shifted into six operating regimes as FD001R6 (.txt.gz) and exit",
    )
    args = parser.parse_args()
    if args.make_multiregime is not None:
        make_multiregime(args.data, args.make_multiregime, args.seed)
        return

    train = read_table(find_file(args.data, f"train_{args.subset}"))
    test = read_table(find_file(args.data, f"test_{args.subset}"))
    truth = pd.read_csv(find_file(args.data, f"RUL_{args.subset}"), sep=r"\s+", header=None)
    truth_rul = truth.iloc[:, 0].to_numpy(dtype=float)
    print(
        f"{args.subset}: {train.unit.nunique()} training engines ({len(train)} rows), "
        f"{test.unit.nunique()} test engines",
        file=sys.stderr,
    )
    started, cpu_started = time.perf_counter(), time.process_time()
    model = RULModel(n_jobs=args.n_jobs, random_state=args.seed).fit(
        train, unit="unit", time="cycle"
    )
    train_seconds = time.perf_counter() - started
    train_cpu_seconds = time.process_time() - cpu_started
    print(
        f"trained in {train_seconds:.1f} s ({train_cpu_seconds:.1f} s CPU): "
        f"{model.metrics_['n_regimes']} regime(s), sensors kept {model.sensors_}",
        file=sys.stderr,
    )
    predictions = model.predict(test)
    if len(predictions) != len(truth_rul):
        raise SystemExit(
            f"error: {len(predictions)} test engines but {len(truth_rul)} true RUL values"
        )
    predicted = predictions["rul"].to_numpy()
    capped = np.minimum(truth_rul, CAP)
    inside = (predictions["lower"].to_numpy() <= capped) & (capped <= predictions["upper"])
    inside_uncapped = (predictions["lower"].to_numpy() <= truth_rul) & (
        truth_rul
        <= np.where(
            predictions["flags"].str.contains("at_cap"), np.inf, predictions["upper"].to_numpy()
        )
    )
    result = {
        "subset": args.subset,
        "rmse": round(float(np.sqrt(np.mean((predicted - capped) ** 2))), 3),
        "score": round(nasa_score(predicted, capped), 1),
        "rmse_uncapped": round(float(np.sqrt(np.mean((predicted - truth_rul) ** 2))), 3),
        "score_uncapped": round(nasa_score(predicted, truth_rul), 1),
        "interval_coverage_90": round(float(np.mean(inside)), 3),
        "interval_coverage_90_uncapped": round(float(np.mean(inside_uncapped)), 3),
        "mean_interval_width": round(
            float(np.mean(predictions["upper"] - predictions["lower"])), 2
        ),
        "train_seconds": round(train_seconds, 1),
        "train_cpu_seconds": round(train_cpu_seconds, 1),
        "n_regimes": model.metrics_["n_regimes"],
        "cv_rmse": round(model.metrics_["cv_rmse"], 3),
        "cv_interval_coverage_90": round(model.metrics_["cv_interval_coverage"], 3),
        "n_test_engines": len(predictions),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
