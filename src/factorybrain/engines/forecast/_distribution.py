"""Demand distributions per period and over a lead time, by Monte Carlo.

* Intermittent and lumpy demand (and any series with zero-demand periods): a compound Bernoulli
  distribution. In each period demand occurs with probability ``p = level / mean size``, so the
  distribution keeps the real mass at zero. Sizes follow a distribution with the mean and
  variance of the series' own recent non-zero demands: one plus a negative binomial count for
  whole units, a gamma otherwise. Drawing sizes only from the observed ones (an earlier version)
  could never produce a demand larger than the largest seen, and on carparts (months 28-39
  planned from months 1-27) most of the demand a 0.99 fill-rate policy failed to meet came
  from such larger demands. (When the level exceeds the mean size, demand occurs in every
  period and sizes are scaled up.) A part that has only ever sold one unit at a time keeps a
  chance of a larger demand, ``1 / (n + 1)`` of a unit on average after ``n`` such sizes (rule of
  succession): with sizes fixed at one, the parts whose sizes had all been one (about 2 % of the
  1,104 parts sold in at least 8 of months 1-39) suffered 10 to 15 times the shortfall their
  distribution expected on months 22-33 and 28-39 planned from months 1-21 and 1-27.
* Smooth and erratic demand: normal per period around the level, with the standard deviation of
  the cross-validation errors, truncated at zero.

Each path first draws its own level around the estimate (gamma, as precise as the number of
demands observed), so that thin histories get the wider lead-time distribution they deserve. An
item whose first demand is fewer than ``RAMP_PERIODS`` periods old gets a proportionally less
precise level: it may still be ramping up. On carparts (2,509 parts, months 22-33 planned from
months 1-21 and months 28-39 from months 1-27), the shortfall that parts first sold in the last
six months suffered was five to seven times what a count-of-demands precision expected, while for
parts older than a year the two agreed; with the age scaling (24 periods; 6 and 12 tried, less
effective on both windows) the fill over all parts at targets 0.90 / 0.95 / 0.99 rose from 0.867 /
0.907 / 0.950 to 0.902 / 0.942 / 0.973 (months 28-39) and from 0.836 / 0.895 / 0.954 to 0.876 /
0.916 / 0.970 (months 22-33), with less stock than the narrower distributions need for the same
fill.

The precision grows with the square of the number of demands (pivot 10: an item with 10 demands
keeps the Poisson-posterior precision, one with 5 gets half of it, one with 20 twice). On the
parts sold in at least 8 months (the literature filter applied to the training months), the
shortfall of the parts with at most 5 demands was 2.4 to 3.9 times what the Poisson precision
expected and that of the parts with more than 14 demands 0.2 to 0.45 times, on both months 22-33
and 28-39 planned from the months before. With the squared count, the stock needed for the same
achieved fill fell by 1.6 % / 3.9 % (months 28-39) and 4.9 % / 7.9 % (months 22-33) at targets
0.90 / 0.95, and the saving against the textbook policy at the same fill rose from 3.5 % / 6.9 %
to 5.0 % / 9.3 % and from 5.6 % / 8.1 % to 9.1 % / 12.3 %. The price: the wider slow movers
raise the achieved fill at a 0.90 target by 0.3 and 1.3 points (0.910 to 0.912, 0.931 to
0.944). Tried: a uniformly wider level (half the precision: less gain, 0.8-5.1 %), a pivot of
15 (about the same gain, higher overshoot), exponent 1.5 or 0.5 (less or no gain).

Sums over periods give the lead-time demand the inventory engine needs.
"""

from __future__ import annotations

import numpy as np

RECENT_SIZES = 24
MIN_SHAPE = 0.5
MAX_SHAPE = 50.0
RAMP_PERIODS = 24
MIN_LEVEL_SHAPE = 0.2
PRECISION_PIVOT = 10.0


def sample_demand(
    history: np.ndarray,
    levels: np.ndarray,
    *,
    sigma: float,
    intermittent: bool,
    n_samples: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Draw demand paths for the periods whose expected demand is ``levels``.

    Args:
        history: The series' observed demand, oldest first.
        levels: Expected demand of each future period.
        sigma: Standard deviation of one period's demand around its level (normal case).
        intermittent: Use the compound Bernoulli distribution instead of the normal one.
        n_samples: Number of paths.
        rng: Random generator.

    Returns:
        ``(n_samples, len(levels))`` non-negative demand paths.
    """
    levels = np.maximum(np.asarray(levels, dtype=float), 0.0)
    sizes = history[history > 0][-RECENT_SIZES:]
    if levels.sum() == 0:
        return np.zeros((n_samples, levels.size))
    # The level itself is an estimate from a handful of demands: each path draws its own level,
    # gamma-distributed around the estimate with the precision of ``n`` observed demands (the
    # posterior of a Poisson rate after ``n`` events). This widens the tails where history is thin.
    # An item that started selling recently may still be ramping up (or fading): its precision
    # is scaled down by its age over ``RAMP_PERIODS`` (see the module docstring).
    precision = level_precision(history)
    multiplier = rng.gamma(precision, 1.0 / precision, size=(n_samples, 1))
    levels = levels[None, :] * multiplier
    if intermittent and sizes.size:
        mean_size = size_mean(sizes)
        probability = np.minimum(levels / mean_size, 1.0)
        stretch = np.maximum(levels / mean_size, 1.0)
        occurs = rng.random(levels.shape) < probability
        drawn = draw_sizes(sizes, levels.shape, rng) * stretch
        return np.where(occurs, drawn, 0.0)
    spread = max(float(sigma), 1e-9)
    return np.maximum(rng.normal(levels, spread), 0.0)


def level_precision(history: np.ndarray) -> float:
    """Gamma shape of the uncertainty of an item's level (its relative variance is 1 / shape).

    ``m ** 2 / PRECISION_PIVOT`` with ``m`` the number of demands observed, times ``min(1, age /
    RAMP_PERIODS)`` where ``age`` is the number of periods since the first demand; never below
    ``MIN_LEVEL_SHAPE``. The relative variance falls as ``1 / m ** 2`` rather than the ``1 / m``
    of a Poisson rate's posterior: an item that sold in a handful of periods is less certain than
    its count says (its level is mostly the pooled model's guess), one that sold in many periods
    more certain (see the module docstring).

    Example:
        >>> old = np.array([0, 1, 0, 2] * 6 + [0, 1, 0, 3] * 3, dtype=float)
        >>> young = np.array([0.0] * 30 + [1, 0, 2, 1, 0, 1])
        >>> level_precision(old), level_precision(young)
        (32.4, 0.2)
    """
    positive = np.flatnonzero(history > 0)
    if positive.size == 0:
        return 1.0
    age = history.size - positive[0]
    demands = positive.size * min(1.0, age / RAMP_PERIODS)
    return float(max(demands**2 / PRECISION_PIVOT, MIN_LEVEL_SHAPE))


def size_mean(sizes: np.ndarray) -> float:
    """Expected size of one demand, from the observed non-zero ``sizes``.

    Their mean; for whole units, at least ``1 + 1 / (n + 1)`` after ``n`` observed sizes (rule
    of succession): a part that has sold one unit at a time so far can still sell two.

    Example:
        >>> size_mean(np.array([1.0, 1.0, 1.0])), size_mean(np.array([1.0, 3.0]))
        (1.25, 2.0)
    """
    mean = float(sizes.mean())
    if np.all(sizes == np.round(sizes)):
        return max(mean, 1.0 + 1.0 / (sizes.size + 1))
    return mean


def draw_sizes(sizes: np.ndarray, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Draw demand sizes with the mean and variance of the observed non-zero ``sizes``.

    Whole-unit sizes are one plus a negative binomial (gamma-Poisson) count; other sizes are
    gamma. The dispersion is matched by moments and kept in a sensible range, so one or two
    observed sizes still give a spread (Poisson-like for whole units).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> drawn = draw_sizes(np.array([1.0, 2.0, 6.0]), (20000,), rng)
        >>> bool(drawn.min() >= 1 and abs(drawn.mean() - 3) < 0.1 and drawn.max() > 6)
        True
    """
    mean = float(sizes.mean())
    variance = float(sizes.var(ddof=1)) if sizes.size > 1 else 0.0
    if np.all(sizes == np.round(sizes)):
        excess = size_mean(sizes) - 1.0
        if excess <= 0:
            return np.ones(shape)
        # Negative binomial: variance = excess + excess^2 / shape; Poisson when not overdispersed.
        overdispersion = max(variance - excess, 1e-9)
        shape_k = min(max(excess**2 / overdispersion, MIN_SHAPE), MAX_SHAPE)
        return 1.0 + rng.poisson(rng.gamma(shape_k, excess / shape_k, size=shape))
    if variance <= 0:
        variance = mean**2
    shape_k = min(max(mean**2 / variance, MIN_SHAPE), MAX_SHAPE)
    return rng.gamma(shape_k, mean / shape_k, size=shape)


def monotone_quantiles(samples: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """Return the quantiles of each column of ``samples``, non-decreasing in the quantile.

    Returns:
        ``(n_columns, n_quantiles)``.
    """
    values = np.quantile(samples, quantiles, axis=0).T
    return np.maximum.accumulate(values, axis=1)
