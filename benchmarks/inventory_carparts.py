"""carparts: fill rate and stock of factorybrain's inventory policy against the textbook policy.

Protocol: policies are set from months 1-39 and held fixed while they are replayed on the held-out
months 40-51 (periodic review every month, lead time one month, backorders; an order placed at the
end of a month arrives at the start of the month after next, so levels protect two months of
demand). Every item starts with its order-up-to level on hand and nothing on order. Fill rate is
aggregated over items (demand met from stock / total demand); average inventory is the mean
end-of-month stock per item. Items: the 1,046-series literature set (also reported on all 2,509).

factorybrain: DemandForecaster fitted on all 2,509 complete series, InventoryPlanner on its
compound lead-time demand distribution, with the target as the fill rate over all items
(``target_scope="system"``, keys ``engine_*``) and as every item's own target
(``engine_item_*``). Textbook: the best single statsforecast model (chosen on months 28-39
forecast from months 1-27, training data only), normal demand over the protection interval with
the per-period standard deviation of that model's forecast errors on months 28-39, order-up-to
level from the normal loss function, rounded up.

Usage:
    python benchmarks/inventory_carparts.py [--data DIR]
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from _carparts import DEFAULT_DATA, load, log, long_table  # noqa: E402 (this folder)
from factorybrain.engines.forecast import DemandForecaster, rmsse
from factorybrain.engines.inventory import (
    InventoryPlanner,
    normal_order_up_to_level,
    simulate_policy,
)

TRAIN_MONTHS = 39
HORIZON = 12
LEAD_TIME = 1
REVIEW_PERIOD = 1
TARGETS = (0.90, 0.95, 0.99)
SWEEP = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.88, 0.9, 0.92, 0.94, 0.95, 0.96, 0.97, 0.98, 0.99)
SWEEP += (0.993, 0.995, 0.997, 0.999)


def replay(test: np.ndarray, levels: np.ndarray) -> tuple[float, float]:
    demand = filled = stock = 0.0
    for row in range(test.shape[0]):
        result = simulate_policy(
            test[row],
            policy="order_up_to",
            level=float(levels[row]),
            lead_time=LEAD_TIME,
            review_period=REVIEW_PERIOD,
        )
        demand += result.demand
        filled += result.filled
        stock += result.average_inventory
    return filled / demand, stock / test.shape[0]


def statsforecast_forecasts(table: pd.DataFrame, ids: list[str]) -> dict[str, np.ndarray]:
    from statsforecast import StatsForecast, models

    candidates = [
        models.ADIDA(),
        models.IMAPA(),
        models.TSB(alpha_d=0.1, alpha_p=0.1),
        models.CrostonSBA(),
        models.CrostonOptimized(),
        models.SimpleExponentialSmoothingOptimized(),
        models.WindowAverage(window_size=12, alias="WindowAverage12"),
        models.Theta(),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = StatsForecast(models=candidates, freq=1, n_jobs=1).forecast(h=HORIZON, df=table)
    order = {uid: row for row, uid in enumerate(ids)}
    result = result.assign(row=result["unique_id"].map(order)).sort_values(["row", "ds"])
    return {
        name: result[name].to_numpy(float).reshape(len(ids), HORIZON)
        for name in result.columns
        if name not in ("unique_id", "ds", "row")
    }


def textbook_inputs(
    ids: list[str], train: np.ndarray, mask: np.ndarray
) -> tuple[str, np.ndarray, np.ndarray]:
    """Best single model on a training-only check; its mean per month and error std."""
    early, late = train[:, : TRAIN_MONTHS - HORIZON], train[:, TRAIN_MONTHS - HORIZON :]
    check = statsforecast_forecasts(long_table(ids, early), ids)
    scores = {name: rmsse(early[mask], late[mask], f[mask]) for name, f in check.items()}
    best = min(scores, key=scores.get)
    log(f"textbook model chosen on months 28-39: {best} ({scores[best]:.4f})")
    std = np.sqrt(np.mean((check[best] - late) ** 2, axis=1))
    final = statsforecast_forecasts(long_table(ids, train), ids)[best]
    return best, np.maximum(final.mean(axis=1), 0.0), std


def textbook_levels(mean: np.ndarray, std: np.ndarray, target: float) -> np.ndarray:
    return np.ceil(
        [
            normal_order_up_to_level(
                m, s, target=target, lead_time=LEAD_TIME, review_period=REVIEW_PERIOD
            )
            for m, s in zip(mean, std, strict=True)
        ]
    )


def evaluate(
    label: str,
    ids: list[str],
    test: np.ndarray,
    forecaster: DemandForecaster,
    mean: np.ndarray,
    std: np.ndarray,
) -> dict[str, dict[str, float]]:
    curve = np.array([replay(test, textbook_levels(mean, std, t)) for t in SWEEP])
    order = np.argsort(curve[:, 0])
    out = {}
    seen: set[str] = set()
    for target in TARGETS:
        textbook_fill, textbook_stock = replay(test, textbook_levels(mean, std, target))
        row = {
            "textbook_fill": round(textbook_fill, 4),
            "textbook_inventory": round(textbook_stock, 4),
        }
        for scope, prefix in (("system", "engine"), ("item", "engine_item")):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                planner = InventoryPlanner(
                    target=target,
                    target_scope=scope,
                    lead_time=LEAD_TIME,
                    review_period=REVIEW_PERIOD,
                    n_samples=2000,
                ).fit(forecaster, unique_ids=ids)
            for warning in caught:
                message = f"planner warning: {warning.message}"
                if message not in seen:
                    seen.add(message)
                    log(message)
            policies = planner.policies_
            engine_fill, engine_stock = replay(test, policies["order_up_to"].to_numpy())
            inside = curve[order, 0].min() <= engine_fill <= curve[order, 0].max()
            same = (
                float(np.interp(engine_fill, curve[order, 0], curve[order, 1])) if inside else None
            )
            weights = policies["mean_demand"].to_numpy()
            expected = float(np.sum(weights * policies["expected_fill_rate"]) / np.sum(weights))
            row |= {
                f"{prefix}_fill": round(engine_fill, 4),
                f"{prefix}_inventory": round(engine_stock, 4),
                f"{prefix}_expected_fill": round(expected, 4),
                f"textbook_inventory_at_{prefix}_fill": None if same is None else round(same, 4),
                f"{prefix}_inventory_saving_at_same_fill": None
                if same is None
                else round(1 - engine_stock / same, 4),
            }
        out[f"{target:.2f}"] = row
        log(f"{label} target {target}: {row}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    started = time.perf_counter()
    ids, values, literature = load(args.data)
    train, test = values[:, :TRAIN_MONTHS], values[:, TRAIN_MONTHS : TRAIN_MONTHS + HORIZON]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        forecaster = DemandForecaster(horizon=HORIZON).fit(long_table(ids, train))
    for warning in caught:
        if "factorybrain" in warning.category.__module__:
            log(f"engine warning: {warning.message}")
    best, mean, std = textbook_inputs(ids, train, literature)
    literature_ids = [uid for uid, keep in zip(ids, literature, strict=True) if keep]
    targets = evaluate(
        "1046", literature_ids, test[literature], forecaster, mean[literature], std[literature]
    )
    targets_all = evaluate("2509", ids, test, forecaster, mean, std)
    print(
        json.dumps(
            {
                "targets": targets,
                "targets_2509": targets_all,
                "textbook_model": best,
                "lead_time_months": LEAD_TIME,
                "review_period_months": REVIEW_PERIOD,
                "wall_seconds": round(time.perf_counter() - started, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
