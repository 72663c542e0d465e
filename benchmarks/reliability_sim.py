"""B10 from censored field data: simulated fleets, staggered entry, 80 % still running.

Each draw simulates a fleet of ``--units`` units (default 3000: a few months of a pump plant's
shipments) entering service uniformly over ``--years`` years (default 2) and observed at the end,
with Weibull lives (``--shape``, default 2: wear-out). The Weibull scale is set so that 80 % of
the units are still running (censored) at the end. :class:`WeibullModel` fits each fleet by
maximum likelihood with the censored units in the likelihood; its B10 is compared with the true
B10. Prints one JSON object on its last line: ``b10_rel_error`` (median absolute relative error),
``draws_within_10pct`` (of ``--draws``, default 10), ``interval_coverage`` (draws whose 90 %
profile-likelihood interval holds the truth), ``censored_share`` and the settings.

Example:
    python benchmarks/reliability_sim.py --draws 10 --units 3000
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np
from scipy import integrate, optimize

from factorybrain.engines.reliability import WeibullModel


def scale_for_censoring(shape: float, horizon: float, censored: float) -> float:
    """The Weibull scale at which a share ``censored`` of uniformly staggered units survives."""

    def survivors(scale: float) -> float:
        value, _ = integrate.quad(lambda a: math.exp(-((a / scale) ** shape)), 0, horizon)
        return value / horizon - censored

    return float(optimize.brentq(survivors, horizon / 100, horizon * 100))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=10)
    parser.add_argument("--units", type=int, default=3000)
    parser.add_argument("--years", type=float, default=2.0)
    parser.add_argument("--shape", type=float, default=2.0)
    parser.add_argument("--censored", type=float, default=0.80)
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()
    horizon = args.years * 365.25
    scale = scale_for_censoring(args.shape, horizon, args.censored)
    truth = scale * (-math.log(0.9)) ** (1 / args.shape)
    rng = np.random.default_rng(args.seed)
    errors, covered, censored = [], 0, []
    started = time.perf_counter()
    for _ in range(args.draws):
        age = rng.uniform(0.0, horizon, args.units)
        life = scale * rng.weibull(args.shape, args.units)
        failed = life <= age
        durations = np.where(failed, life, age)
        model = WeibullModel(confidence=0.90).fit(durations, failed)
        low, high = model.b_life_interval(0.10)
        errors.append(abs(model.b_life(0.10) / truth - 1.0))
        covered += low <= truth <= high
        censored.append(1.0 - failed.mean())
    result = {
        "b10_rel_error": round(float(np.median(errors)), 4),
        "b10_rel_error_max": round(float(np.max(errors)), 4),
        "draws_within_10pct": int(sum(e <= 0.10 for e in errors)),
        "draws": args.draws,
        "interval_coverage": round(covered / args.draws, 2),
        "censored_share": round(float(np.mean(censored)), 3),
        "units": args.units,
        "entry_years": args.years,
        "shape": args.shape,
        "scale_days": round(scale, 1),
        "true_b10_days": round(truth, 1),
        "seconds": round(time.perf_counter() - started, 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
