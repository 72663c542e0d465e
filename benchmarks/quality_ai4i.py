"""AI4I 2020 machine failure from process data alone: F1 under stratified cross-validation.

AI4I 2020 (UCI 601) holds 10,000 machining runs with air and process temperature, speed, torque,
tool wear and product type; 339 end in a machine failure. The failure-mode flags (TWF, HDF,
PWF, OSF, RNF) say *why* a run failed and would leak the answer, so they are dropped, as are
the ids. The model is :class:`~factorybrain.engines.quality.DefectClassifier` (the quality
agent's LightGBM, one unweighted booster unless ``--models``) on the raw measurements plus the
physical quantities the failure modes are defined by: mechanical power (torque x angular
speed), the temperature difference between process and air, and tool wear x torque
(overstrain). An inner 5-fold
cross-validation on the training rows only chooses the histogram resolution (``max_bin`` among
``--bins``: LightGBM cuts a feature only between its bins, and a failure that starts at a sharp
load limit in the sparse tail of a distribution needs fine bins) and then the probability
threshold on the same out-of-fold probabilities.

Protocol (the dataset's README states none beyond stratified splits and F1): stratified 5-fold
cross-validation repeated ``--repeats`` times (default 3); per repeat the five test folds'
confusion counts are pooled into one F1 of the failure class; the figure is the mean over
repeats.

Prints one JSON object on its last line: ``f1`` (mean), ``f1_std``, ``precision``, ``recall``,
``folds``, ``repeats``, ``bins_chosen`` (how often the inner CV chose each ``max_bin``),
``seconds``.

Example:
    python benchmarks/quality_ai4i.py --repeats 3
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import RepeatedStratifiedKFold

from factorybrain.engines.quality import DefectClassifier

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets" / "ai4i2020"
LEAKING = ("TWF", "HDF", "PWF", "OSF", "RNF")


def load(folder: Path) -> tuple[pd.DataFrame, np.ndarray]:
    """Features (raw and physical) and the machine-failure label of AI4I 2020."""
    path = folder / "ai4i2020.csv"
    if not path.exists():
        raise SystemExit(f"AI4I 2020 file not found: {path} (give the folder with --data)")
    frame = pd.read_csv(path, encoding="utf-8-sig")
    frame.columns = [c.strip() for c in frame.columns]
    target = next((c for c in frame.columns if c.lower().replace("_", " ") == "machine failure"),
                  None)  # fmt: skip
    needed = ["Type", "Air temperature [K]", "Process temperature [K]",
              "Rotational speed [rpm]", "Torque [Nm]", "Tool wear [min]"]  # fmt: skip
    missing = [c for c in needed if c not in frame.columns] + (
        [] if target else ["Machine failure"]
    )
    if missing:
        raise SystemExit(f"{path}: expected columns {missing}; found {list(frame.columns)}")
    y = frame[target].to_numpy(dtype=int)
    torque = frame["Torque [Nm]"]
    speed = frame["Rotational speed [rpm]"]
    features = pd.DataFrame(
        {
            "type": frame["Type"].map({"L": 0.0, "M": 1.0, "H": 2.0}),
            "air_k": frame["Air temperature [K]"],
            "process_k": frame["Process temperature [K]"],
            "speed_rpm": speed,
            "torque_nm": torque,
            "tool_wear_min": frame["Tool wear [min]"],
            "power_w": torque * speed * 2 * np.pi / 60.0,
            "temperature_difference_k": frame["Process temperature [K]"]
            - frame["Air temperature [K]"],
            "wear_torque": frame["Tool wear [min]"] * torque,
        }
    )
    return features, y


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", type=int, default=1, help="boosters averaged per model")
    parser.add_argument("--colsample", type=float, default=1.0, help="share of features per tree")
    parser.add_argument(
        "--inner-folds", type=int, default=5, help="folds of the inner CV on the training rows"
    )
    parser.add_argument(
        "--bins",
        type=int,
        nargs="+",
        default=[255, 1023, 4095],
        help="max_bin values the inner CV chooses from",
    )
    args = parser.parse_args()
    x, y = load(args.data.resolve())
    splitter = RepeatedStratifiedKFold(
        n_splits=args.folds, n_repeats=args.repeats, random_state=args.seed
    )
    started = time.perf_counter()
    counts = np.zeros((args.repeats, 3))  # tp, fp, fn
    chosen: dict[str, int] = {}
    for index, (train, test) in enumerate(splitter.split(x, y)):
        model = DefectClassifier(
            n_models=args.models,
            n_estimators=400,
            learning_rate=0.05,
            num_leaves=31,
            min_child_samples=5,
            colsample=args.colsample,
            balance="none",
            threshold="f1",
            inner_folds=args.inner_folds,
            candidates=[{"max_bin": bins} for bins in args.bins],
            random_state=args.seed + index,
        ).fit(x.iloc[train], y[train])
        bins = str(model.best_params_["max_bin"])
        chosen[bins] = chosen.get(bins, 0) + 1
        called = model.predict(x.iloc[test]).astype(bool)
        truth = y[test].astype(bool)
        counts[index // args.folds] += [
            np.sum(called & truth), np.sum(called & ~truth), np.sum(~called & truth)
        ]  # fmt: skip
    tp, fp, fn = counts.T
    f1 = 2 * tp / np.maximum(2 * tp + fp + fn, 1)
    print(
        json.dumps(
            {
                "f1": round(float(f1.mean()), 4),
                "f1_std": round(float(f1.std(ddof=1)) if args.repeats > 1 else 0.0, 4),
                "precision": round(float((tp / np.maximum(tp + fp, 1)).mean()), 4),
                "recall": round(float((tp / np.maximum(tp + fn, 1)).mean()), 4),
                "folds": args.folds,
                "repeats": args.repeats,
                "bins_chosen": chosen,
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
