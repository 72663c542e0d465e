"""SECOM yield prediction under a leakage-free protocol: F1 and balanced error rate.

SECOM (UCI 179) holds 1567 wafers, 590 anonymous process measurements and 104 fails. Published
results are easy to inflate: a model selected, imputed or resampled on all rows before cross-
validation has seen its test rows. Here every step happens inside the training folds:
:class:`~factorybrain.engines.quality.DefectClassifier` (the model the quality agent's root-cause
analysis uses) drops constant and mostly missing columns (optionally screens features by ANOVA F),
balances with an easy ensemble of LightGBM boosters and chooses its probability threshold by an
inner cross-validation, all from the training rows; the test fold is only predicted.

Protocol: stratified 5-fold cross-validation repeated ``--repeats`` times (default 5). Per
repeat, the confusion counts of its five test folds are pooled and F1 (of the fail class) and the
balanced error rate (mean of the two classes' error rates) computed; the figures are the means
over repeats, with the spread of the repeats.

Prints one JSON object on its last line: ``f1``, ``ber`` (means), ``f1_std``, ``ber_std``,
``recall``, ``specificity``, ``folds``, ``repeats``, ``seconds``.

Example:
    python benchmarks/quality_secom.py --repeats 5
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

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets" / "secom"


def load(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """Features (NaN where missing) and labels (1 = fail) of SECOM."""
    data = folder / "secom.data.gz"
    if not data.exists():
        data = folder / "secom.data"
    labels = folder / "secom_labels.data"
    for path in (data, labels):
        if not path.exists():
            raise SystemExit(f"SECOM file not found: {path} (give the folder with --data)")
    features = pd.read_csv(data, sep=r"\s+", header=None).to_numpy(dtype=float)
    target = pd.read_csv(labels, sep=" ", header=None, names=["label", "timestamp"], quotechar='"')
    y = (target["label"].to_numpy() == 1).astype(int)
    if features.shape[0] != y.size:
        raise SystemExit(f"{features.shape[0]} feature rows but {y.size} labels in {folder}")
    return features, y


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--max-features", type=int, default=0, help="ANOVA F screen (0: every usable column)"
    )
    parser.add_argument("--leaves", type=int, default=15)
    parser.add_argument("--min-child", type=int, default=5)
    parser.add_argument("--models", type=int, default=5)
    parser.add_argument("--threshold", default="f1", help="f1 or ber: what the inner CV optimises")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    x, y = load(args.data.resolve())
    splitter = RepeatedStratifiedKFold(
        n_splits=args.folds, n_repeats=args.repeats, random_state=args.seed
    )
    started = time.perf_counter()
    counts = np.zeros((args.repeats, 4))  # tp, fp, fn, tn per repeat
    for index, (train, test) in enumerate(splitter.split(x, y)):
        model = DefectClassifier(
            max_features=args.max_features or None,
            num_leaves=args.leaves,
            min_child_samples=args.min_child,
            n_models=args.models,
            threshold=args.threshold,
            random_state=args.seed + index,
        ).fit(x[train], y[train])
        called = model.predict(x[test]).astype(bool)
        truth = y[test].astype(bool)
        counts[index // args.folds] += [
            np.sum(called & truth),
            np.sum(called & ~truth),
            np.sum(~called & truth),
            np.sum(~called & ~truth),
        ]
    tp, fp, fn, tn = counts.T
    f1 = 2 * tp / np.maximum(2 * tp + fp + fn, 1)
    recall = tp / np.maximum(tp + fn, 1)
    specificity = tn / np.maximum(tn + fp, 1)
    ber = 0.5 * ((1 - recall) + (1 - specificity))
    print(
        json.dumps(
            {
                "f1": round(float(f1.mean()), 4),
                "ber": round(float(ber.mean()), 4),
                "f1_std": round(float(f1.std(ddof=1)) if args.repeats > 1 else 0.0, 4),
                "ber_std": round(float(ber.std(ddof=1)) if args.repeats > 1 else 0.0, 4),
                "recall": round(float(recall.mean()), 4),
                "specificity": round(float(specificity.mean()), 4),
                "folds": args.folds,
                "repeats": args.repeats,
                "max_features": args.max_features,
                "threshold_objective": args.threshold,
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
