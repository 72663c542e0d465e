"""SECOM yield prediction under a leakage-free protocol: F1 and balanced error rate.

SECOM (UCI 179) holds 1567 wafers, 590 anonymous process measurements and 104 fails. Published
results are easy to inflate: a model selected, imputed or resampled on all rows before cross-
validation has seen its test rows. Here every step happens inside the training folds:
:class:`~factorybrain.engines.quality.DefectClassifier` (the model the quality agent's root-cause
analysis uses) drops constant and mostly missing columns (optionally screens features by ANOVA F),
balances with an easy ensemble of LightGBM boosters and chooses its probability thresholds by an
inner cross-validation, all from the training rows; the test fold is only predicted.

F1 and the balanced error rate are scores of two different operating points: the cut that
maximises F1 flags few wafers (high specificity, recall near 0.4), the one that minimises the
balanced error rate flags many (recall near 0.7). The model learns both cuts from the same
out-of-fold probabilities of its training rows, and each score is taken at its own cut; the
other score at each cut is reported beside it (``ber_at_f1_cut``, ``f1_at_ber_cut``).

Protocol: stratified 5-fold cross-validation repeated ``--repeats`` times (default 5). Per
repeat, the confusion counts of its five test folds are pooled and F1 (of the fail class) and the
balanced error rate (mean of the two classes' error rates) computed; the figures are the means
over repeats, with the spread of the repeats.

Prints one JSON object on its last line: ``f1`` (at the F1 cut), ``ber`` (at the balanced error
rate's cut), ``f1_std``, ``ber_std``, ``recall`` and ``specificity`` (at the F1 cut),
``ber_at_f1_cut``, ``f1_at_ber_cut``, ``recall_at_ber_cut``, ``specificity_at_ber_cut``,
``folds``, ``repeats``, ``seconds``.

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

from factorybrain.engines.quality import OBJECTIVES, DefectClassifier

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
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1, help="threads per booster")
    args = parser.parse_args()
    x, y = load(args.data.resolve())
    splitter = RepeatedStratifiedKFold(
        n_splits=args.folds, n_repeats=args.repeats, random_state=args.seed
    )
    started = time.perf_counter()
    # tp, fp, fn, tn per repeat, at each operating point
    counts = {objective: np.zeros((args.repeats, 4)) for objective in OBJECTIVES}
    for index, (train, test) in enumerate(splitter.split(x, y)):
        model = DefectClassifier(
            max_features=args.max_features or None,
            num_leaves=args.leaves,
            min_child_samples=args.min_child,
            n_models=args.models,
            random_state=args.seed + index,
            n_jobs=args.jobs,
        ).fit(x[train], y[train])
        truth = y[test].astype(bool)
        probabilities = model.predict_proba(x[test])  # once: both cuts apply to them
        for objective in OBJECTIVES:
            called = probabilities >= model.thresholds_[objective]
            counts[objective][index // args.folds] += [
                np.sum(called & truth),
                np.sum(called & ~truth),
                np.sum(~called & truth),
                np.sum(~called & ~truth),
            ]
    scores = {objective: _scores(counts[objective]) for objective in OBJECTIVES}
    by_f1, by_ber = scores["f1"], scores["ber"]

    def mean(values: np.ndarray) -> float:
        return round(float(values.mean()), 4)

    def spread(values: np.ndarray) -> float:
        return round(float(values.std(ddof=1)) if args.repeats > 1 else 0.0, 4)

    print(
        json.dumps(
            {
                "f1": mean(by_f1["f1"]),
                "ber": mean(by_ber["ber"]),
                "f1_std": spread(by_f1["f1"]),
                "ber_std": spread(by_ber["ber"]),
                "recall": mean(by_f1["recall"]),
                "specificity": mean(by_f1["specificity"]),
                "ber_at_f1_cut": mean(by_f1["ber"]),
                "f1_at_ber_cut": mean(by_ber["f1"]),
                "recall_at_ber_cut": mean(by_ber["recall"]),
                "specificity_at_ber_cut": mean(by_ber["specificity"]),
                "folds": args.folds,
                "repeats": args.repeats,
                "max_features": args.max_features,
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
    )


def _scores(counts: np.ndarray) -> dict[str, np.ndarray]:
    """F1, recall, specificity and balanced error rate per repeat from pooled counts."""
    tp, fp, fn, tn = counts.T
    recall = tp / np.maximum(tp + fn, 1)
    specificity = tn / np.maximum(tn + fp, 1)
    return {
        "f1": 2 * tp / np.maximum(2 * tp + fp + fn, 1),
        "recall": recall,
        "specificity": specificity,
        "ber": 0.5 * ((1 - recall) + (1 - specificity)),
    }


if __name__ == "__main__":
    main()
