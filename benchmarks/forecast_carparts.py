"""carparts: factorybrain's demand forecasts against every single statsforecast model.

Months 1-39 train, months 40-51 are held out, horizon 12. The engine is fitted once on all 2,509
complete series (so the 1,046-series selection, which looks at all 51 months, never informs the
fit) and scored on both sets. RMSSE ranks; MASE and MAE are reported.

Usage:
    python benchmarks/forecast_carparts.py [--data DIR] [--n-jobs 1] [--skip-slow-baselines]
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np

from _carparts import DEFAULT_DATA, load, log, long_table  # noqa: E402 (this folder)
from factorybrain.engines.forecast import DemandForecaster, mae, mase, rmsse

TRAIN_MONTHS = 39
HORIZON = 12


def single_models(skip_slow: bool) -> list[object]:
    from statsforecast import models

    chosen = [
        models.ADIDA(),
        models.IMAPA(),
        models.TSB(alpha_d=0.1, alpha_p=0.1),
        models.CrostonClassic(),
        models.CrostonOptimized(),
        models.CrostonSBA(),
        models.SimpleExponentialSmoothingOptimized(),
        models.WindowAverage(window_size=12, alias="WindowAverage12"),
        models.HistoricAverage(),
        models.Naive(),
        models.Theta(),
    ]
    if not skip_slow:
        chosen += [
            models.OptimizedTheta(),
            models.DynamicOptimizedTheta(),
            models.AutoETS(),
            models.AutoARIMA(),
        ]
    return chosen


def scores(train: np.ndarray, test: np.ndarray, forecast: np.ndarray) -> dict[str, float]:
    return {
        "rmsse": round(rmsse(train, test, forecast), 4),
        "mase": round(mase(train, test, forecast), 4),
        "mae": round(mae(test, forecast), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--skip-slow-baselines", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    ids, values, literature = load(args.data)
    train, test = values[:, :TRAIN_MONTHS], values[:, TRAIN_MONTHS : TRAIN_MONTHS + HORIZON]
    table = long_table(ids, train)
    log(f"{len(ids)} complete series, {int(literature.sum())} in the literature set")

    fit_started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        engine = DemandForecaster(horizon=HORIZON, n_jobs=args.n_jobs).fit(table)
    engine_seconds = time.perf_counter() - fit_started
    for warning in caught:
        if "factorybrain" in warning.category.__module__:
            log(f"engine warning: {warning.message}")
    order = {uid: row for row, uid in enumerate(ids)}
    result = engine.forecasts_.assign(row=lambda f: f["unique_id"].map(order))
    engine_forecast = (
        result.sort_values(["row", "ds"])["forecast"].to_numpy().reshape(len(ids), HORIZON)
    )
    log(f"engine fitted in {engine_seconds:.1f} s")
    log(f"models chosen: {engine.selection_['model'].value_counts().to_dict()}")

    from statsforecast import StatsForecast

    baseline_started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        baseline = StatsForecast(
            models=single_models(args.skip_slow_baselines), freq=1, n_jobs=args.n_jobs
        ).forecast(h=HORIZON, df=table)
    baseline["row"] = baseline["unique_id"].map(order)
    baseline = baseline.sort_values(["row", "ds"])
    log(f"single models in {time.perf_counter() - baseline_started:.1f} s")
    forecasts = {
        name: baseline[name].to_numpy(float).reshape(len(ids), HORIZON)
        for name in baseline.columns
        if name not in ("unique_id", "ds", "row")
    }

    sets = {}
    for label, mask in (("1046", literature), ("2509", np.ones(len(ids), dtype=bool))):
        per_model = {
            name: scores(train[mask], test[mask], forecast[mask])
            for name, forecast in forecasts.items()
        }
        zero = scores(train[mask], test[mask], np.zeros((int(mask.sum()), HORIZON)))
        engine_scores = scores(train[mask], test[mask], engine_forecast[mask])
        best = min(per_model, key=lambda name: per_model[name]["rmsse"])
        sets[label] = {
            "n_series": int(mask.sum()),
            "engine_rmsse": engine_scores["rmsse"],
            "engine_mase": engine_scores["mase"],
            "engine_mae": engine_scores["mae"],
            "best_single_rmsse": per_model[best]["rmsse"],
            "best_single_model": best,
            "ratio_to_best_single": round(engine_scores["rmsse"] / per_model[best]["rmsse"], 4),
            "zero_rmsse": zero["rmsse"],
            "zero_mase": zero["mase"],
            "zero_mae": zero["mae"],
            "single_models": per_model,
        }
        log(
            f"{label}: engine RMSSE {engine_scores['rmsse']}, best single {best} "
            f"{per_model[best]['rmsse']}, zero {zero['rmsse']}"
        )
    print(
        json.dumps(
            {
                "sets": sets,
                "wall_seconds": round(engine_seconds, 1),
                "benchmark_seconds": round(time.perf_counter() - started, 1),
                "models_chosen": engine.selection_["model"].value_counts().to_dict(),
            }
        )
    )


if __name__ == "__main__":
    main()
