"""Policy levels from a demand distribution: order-up-to levels and reorder points.

Conventions (also those of :func:`~factorybrain.engines.inventory.simulate_policy`): demand is
backordered; an order placed at the end of period ``t`` arrives at the start of period
``t + 1 + lead_time``, so an order-up-to level must cover the demand of ``lead_time +
review_period`` periods (the protection interval).

Fill rate (the share of demand met from stock on hand) uses the exact expected shortage per review
cycle under backordering, ``E[(D_{L+R} - S)^+] - E[(D_L - S)^+]`` (Silver, Pyke and Thomas 2017,
*Inventory and Production Management in Supply Chains*, ch. 6), evaluated on Monte Carlo paths of
demand. Cycle service level is the probability of no stock-out in a cycle: a quantile of
``D_{L+R}``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy import optimize

from factorybrain.exceptions import ParameterError

FILL_RATE = "fill_rate"
CYCLE_SERVICE = "cycle_service"


def _check_target(target: float) -> None:
    if not 0 < target < 1:
        raise ParameterError(f"target must be a service level in (0, 1); got {target!r}.")


# Whole-unit levels are tried one by one up to this many; beyond (items counted in the thousands
# of units per lead time) they are the quantiles of the lead-time demand, rounded up.
MAX_UNIT_LEVELS = 4096


def _candidate_levels(totals: np.ndarray, integer: bool) -> np.ndarray:
    top = float(totals.max()) if totals.size else 0.0
    if integer and top < MAX_UNIT_LEVELS:
        return np.arange(0, int(np.ceil(top)) + 2, dtype=float)
    levels = np.quantile(totals, np.linspace(0, 1, 401)) if totals.size else np.zeros(1)
    if integer:
        levels = np.concatenate([np.ceil(levels), [np.ceil(top) + 1]])
    return np.unique(np.concatenate([[0.0], levels]))


def _expected_excess(totals: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """E[(D - level)^+] for each level, from samples of D (vectorised through sorting)."""
    ordered = np.sort(totals)
    suffix = np.concatenate([np.cumsum(ordered[::-1])[::-1], [0.0]])
    position = np.searchsorted(ordered, levels, side="right")
    count_above = ordered.size - position
    return (suffix[position] - count_above * levels) / ordered.size


def fill_rate_of_level(
    paths: np.ndarray, level: float | np.ndarray, lead_time: int, review_period: int
) -> np.ndarray:
    """Expected fill rate of an order-up-to level, from demand paths.

    Args:
        paths: ``(n_samples, >= lead_time + review_period)`` demand paths.
        level: One or several order-up-to levels.
        lead_time: Periods between an order and its arrival (see module conventions).
        review_period: Periods between reviews.

    Returns:
        The fill rate of each level (1 where the expected demand is 0).
    """
    levels = np.atleast_1d(np.asarray(level, dtype=float))
    protection = paths[:, : lead_time + review_period].sum(axis=1)
    lead = paths[:, :lead_time].sum(axis=1)
    cycle_demand = paths[:, lead_time : lead_time + review_period].sum(axis=1).mean()
    if cycle_demand <= 0:
        return np.ones_like(levels)
    shortage = _expected_excess(protection, levels) - _expected_excess(lead, levels)
    return 1.0 - np.maximum(shortage, 0.0) / cycle_demand


class FillRateCurve(NamedTuple):
    """Expected fill rate and stock on hand of every candidate order-up-to level of one item.

    Attributes:
        levels: Candidate order-up-to levels, increasing.
        fill_rates: Their expected fill rates (non-decreasing).
        cycle_demand: Expected demand of one review period (the item's weight in a fill rate
            summed over items).
        on_hand: Expected stock on hand at the end of a period under each level, what an average
            inventory measures.
    """

    levels: np.ndarray
    fill_rates: np.ndarray
    cycle_demand: float
    on_hand: np.ndarray


def expected_on_hand(
    paths: np.ndarray, level: float | np.ndarray, lead_time: int, review_period: int
) -> np.ndarray:
    """Expected end-of-period stock on hand under an order-up-to level, from demand paths.

    After a review the inventory position is ``S``; at the end of the ``j``-th period of the
    cycle that followed the order's arrival, stock on hand is ``(S - D_{L+j})^+``. The average
    over ``j = 1 ... R`` is what a simulation's average inventory measures in steady state.

    Returns:
        The expected stock on hand of each level.
    """
    levels = np.atleast_1d(np.asarray(level, dtype=float))
    cumulative = np.cumsum(paths[:, : lead_time + review_period], axis=1)
    total = np.zeros_like(levels)
    for step in range(review_period):
        demand = cumulative[:, lead_time + step]
        total += levels - demand.mean() + _expected_excess(demand, levels)
    return total / review_period


def fill_rate_curve(
    paths: np.ndarray, *, lead_time: int, review_period: int, integer: bool = True
) -> FillRateCurve:
    """Expected fill rate and stock on hand of every candidate order-up-to level.

    Returns:
        A :class:`FillRateCurve` (a tuple ``(levels, fill_rates, cycle_demand, on_hand)``):
        candidate levels (whole units when ``integer``), their fill rates, the expected demand
        of one review period and the expected stock on hand of each level.
    """
    protection = paths[:, : lead_time + review_period].sum(axis=1)
    candidates = _candidate_levels(protection, integer)
    fills = fill_rate_of_level(paths, candidates, lead_time, review_period)
    cycle_demand = float(paths[:, lead_time : lead_time + review_period].sum(axis=1).mean())
    on_hand = np.maximum.accumulate(expected_on_hand(paths, candidates, lead_time, review_period))
    return FillRateCurve(candidates, np.maximum.accumulate(fills), cycle_demand, on_hand)


def _upper_hull_indices(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Indices of the upper concave envelope of points sorted by ``x`` (monotone chain).

    Points with equal ``x`` keep only the highest ``y`` (the last, as ``y`` is non-decreasing).
    """
    keep: list[int] = []
    for index in range(x.size):
        if keep and x[index] <= x[keep[-1]]:
            if y[index] >= y[keep[-1]]:
                keep.pop()
            else:
                continue
        while len(keep) >= 2:
            a, b = keep[-2], keep[-1]
            cross = (x[b] - x[a]) * (y[index] - y[a]) - (y[b] - y[a]) * (x[index] - x[a])
            if cross >= 0:
                keep.pop()
            else:
                break
        keep.append(index)
    return np.array(keep, dtype=int)


def allocate_system_fill_rate(curves: list[FillRateCurve], target: float) -> np.ndarray:
    """Order-up-to levels that reach an aggregate fill rate with the least stock on hand.

    The fill rate a planner measures is usually the share of all demand met from stock, over all
    items. Spending stock where it fills the most expected demand (marginal analysis, the system
    approach of Sherbrooke 2004, *Optimal Inventory Modeling of Systems*) reaches that aggregate
    target with much less stock than giving every item the same target: fast movers get a high
    fill rate cheaply, slow movers a lower one. The stock minimised is the expected stock on hand
    (what an average inventory measures), not the sum of the levels: for a fast mover most of its
    level is demand in the pipeline, which costs no shelf space.

    Args:
        curves: One :func:`fill_rate_curve` result per item.
        target: Aggregate target fill rate in (0, 1).

    Returns:
        The order-up-to level of each item: for every item, the level maximising expected filled
        demand minus a common price times expected stock on hand, with the price set so the
        expected aggregate fill rate just reaches the target.
    """
    _check_target(target)
    total = sum(curve.cycle_demand for curve in curves)
    if total <= 0:
        return np.zeros(len(curves))
    # Filled demand against stock is S-shaped for a fast mover, so the price runs on each item's
    # upper concave envelope of (stock on hand, filled demand); its vertices are levels.
    hulls = []
    for curve in curves:
        curve_filled = curve.fill_rates * curve.cycle_demand
        vertices = _upper_hull_indices(curve.on_hand, curve_filled)
        hulls.append((curve.levels[vertices], curve_filled[vertices], curve.on_hand[vertices]))
    ratios = [np.diff(filled) / np.maximum(np.diff(stock), 1e-12) for _, filled, stock in hulls]

    def allocation(threshold: float) -> tuple[np.ndarray, float]:
        steps = np.array([int(np.sum(ratio >= threshold)) for ratio in ratios])
        filled = sum(hull[1][step] for hull, step in zip(hulls, steps, strict=True))
        return steps, filled / total

    low, high = 1e-12, max((r.max() for r in ratios if r.size), default=1.0) * 2
    best, reached = allocation(low)
    if reached >= target:
        for _ in range(60):
            middle = np.sqrt(low * high)
            steps, reached = allocation(middle)
            if reached >= target:
                low, best = middle, steps
            else:
                high = middle
        # Items with the same marginal ratio (identical items, say) all step at the same price;
        # take their steps one item at a time, only as many as the target needs.
        below, reached = allocation(high)
        filled = reached * total
        for item in np.flatnonzero(best != below):
            if filled >= target * total:
                break
            demand_filled = hulls[item][1]
            filled += demand_filled[best[item]] - demand_filled[below[item]]
            below[item] = best[item]
        if filled >= target * total:
            best = below
    return np.array([hull[0][step] for hull, step in zip(hulls, best, strict=True)])


MIN_SILENT_ITEMS = 10


def silent_item_paths(
    values: np.ndarray, horizon: int, periods: int, n_samples: int, rng: np.random.Generator
) -> np.ndarray | None:
    """Demand paths for an item that has never had demand, learnt from the other items.

    An item whose whole history is zero may be obsolete, or new and about to sell (on carparts,
    nine in ten of the parts that had not sold by month 27 sold in months 28-39). Instead of
    assuming either, the paths are drawn from what happened to the items that had no demand
    until one ``horizon`` before the end of the history: each path is ``periods`` consecutive
    periods of one such item, after that cut-off, chosen at random. Where such items kept
    selling nothing, so does the prior, and the policy holds no stock.

    Args:
        values: ``(n_series, n_periods)`` demand of all items, NaN before an item's first record.
        horizon: Periods after the cut-off (the forecast horizon).
        periods: Length of each path (lead time plus review period).
        n_samples: Number of paths.
        rng: Random generator.

    Returns:
        ``(n_samples, periods)`` paths, or ``None`` with fewer than ``MIN_SILENT_ITEMS`` such
        items (or a history too short to hold a cut-off and ``periods`` after it).
    """
    n_periods = values.shape[1]
    horizon = max(horizon, periods)
    cut = n_periods - horizon
    if cut < 1:
        return None
    before, after = values[:, :cut], values[:, cut:]
    known = np.isfinite(before).any(axis=1) & np.isfinite(after).all(axis=1)
    silent = known & ~(np.nan_to_num(before) > 0).any(axis=1)
    if silent.sum() < MIN_SILENT_ITEMS:
        return None
    later = after[silent]
    item = rng.integers(0, later.shape[0], size=n_samples)
    start = rng.integers(0, horizon - periods + 1, size=n_samples)
    offsets = start[:, None] + np.arange(periods)[None, :]
    return later[item[:, None], offsets].astype(float)


def order_up_to_level(
    paths: np.ndarray,
    *,
    target: float,
    service: str = FILL_RATE,
    lead_time: int,
    review_period: int,
    integer: bool = True,
) -> float:
    """The smallest order-up-to level that reaches the target service, from demand paths.

    Args:
        paths: ``(n_samples, lead_time + review_period)`` demand paths.
        target: Target fill rate or cycle service level in (0, 1).
        service: ``"fill_rate"`` or ``"cycle_service"``.
        lead_time: Lead time in periods.
        review_period: Review period in periods.
        integer: Round levels up to whole units (demand counted in units).

    Returns:
        The order-up-to level ``S``.
    """
    _check_target(target)
    protection = paths[:, : lead_time + review_period].sum(axis=1)
    if service == CYCLE_SERVICE:
        level = float(np.quantile(protection, target, method="higher"))
        return float(np.ceil(level)) if integer else level
    if service != FILL_RATE:
        raise ParameterError(f"service must be 'fill_rate' or 'cycle_service'; got {service!r}.")
    candidates = _candidate_levels(protection, integer)
    fills = fill_rate_of_level(paths, candidates, lead_time, review_period)
    reached = np.flatnonzero(fills >= target)
    return float(candidates[reached[0]] if reached.size else candidates[-1])


def reorder_point(
    paths: np.ndarray,
    *,
    order_quantity: float,
    target: float,
    service: str = FILL_RATE,
    lead_time: int,
    integer: bool = True,
) -> float:
    """The smallest reorder point ``s`` of an (s, Q) policy reviewed every period.

    Stock is ordered (in multiples of ``Q``) when the inventory position falls to ``s`` or below,
    so after ordering the position ``IP`` lies in ``s + 1 ... s + Q``, taken as uniform. The stock
    on hand for the demand of the period the order covers last is ``IP`` minus ``lead_time``
    periods of demand, so the expected shortage per period is the mean over ``IP`` of
    ``E[(D_{L+1} - IP)^+] - E[(D_L - IP)^+]`` and the fill rate is one minus that over the mean
    demand per period (Silver, Pyke and Thomas 2017, ch. 7, in discrete periods).

    Args:
        paths: ``(n_samples, lead_time + 1)`` demand paths.
        order_quantity: The fixed order quantity ``Q`` (> 0).
        target: Target fill rate or cycle service level in (0, 1).
        service: ``"fill_rate"`` or ``"cycle_service"``.
        lead_time: Lead time in periods.
        integer: Round to whole units.

    Returns:
        The reorder point ``s``.
    """
    _check_target(target)
    if order_quantity <= 0:
        raise ParameterError(f"order_quantity must be > 0; got {order_quantity!r}.")
    protection = paths[:, : lead_time + 1].sum(axis=1)
    if service == CYCLE_SERVICE:
        level = float(np.quantile(protection, target, method="higher"))
        return float(np.ceil(level)) if integer else level
    lead = paths[:, :lead_time].sum(axis=1)
    period_demand = float(paths[:, lead_time].mean())
    if period_demand <= 0:
        return 0.0
    candidates = _candidate_levels(protection, integer) - (order_quantity if integer else 0)
    steps = (
        np.arange(1, int(round(order_quantity)) + 1, dtype=float)
        if integer and order_quantity < MAX_UNIT_LEVELS
        else np.linspace(order_quantity / 50, order_quantity, 50)
    )
    positions = (candidates[:, None] + steps[None, :]).ravel()
    shortage = _expected_excess(protection, positions) - _expected_excess(lead, positions)
    fills = 1.0 - shortage.reshape(candidates.size, steps.size).mean(axis=1) / period_demand
    reached = np.flatnonzero(fills >= target)
    return float(candidates[reached[0]] if reached.size else candidates[-1])


def normal_order_up_to_level(
    mean: float, std: float, *, target: float, lead_time: int, review_period: int
) -> float:
    """The textbook normal-approximation order-up-to level for a target fill rate.

    ``S = mu (L + R) + k sigma sqrt(L + R)`` with ``k`` solving ``sigma sqrt(L + R) G(k) =
    (1 - target) mu R``, ``G`` the standard normal loss function (Silver, Pyke and Thomas 2017,
    ch. 6).

    Args:
        mean: Expected demand per period.
        std: Standard deviation of one period's forecast error.
        target: Target fill rate in (0, 1).
        lead_time: Lead time in periods.
        review_period: Review period in periods.

    Returns:
        The order-up-to level (not rounded).
    """
    _check_target(target)
    protection = lead_time + review_period
    if mean <= 0:
        return 0.0
    spread = max(std, 1e-9) * np.sqrt(protection)
    wanted = (1 - target) * mean * review_period / spread

    def loss_gap(k: float) -> float:
        # Standard normal loss G(k) = pdf(k) - k sf(k), with math functions: scipy.stats' scalar
        # calls made this the slowest step of planning thousands of items.
        pdf = math.exp(-0.5 * k * k) / math.sqrt(2 * math.pi)
        return pdf - k * 0.5 * math.erfc(k / math.sqrt(2)) - wanted

    k = optimize.brentq(loss_gap, -10.0, 10.0) if loss_gap(-10.0) > 0 > loss_gap(10.0) else -10.0
    return float(max(mean * protection + k * spread, 0.0))


def economic_order_quantity(
    demand_per_period: float, ordering_cost: float, holding_cost_per_period: float
) -> float:
    """The economic order quantity ``sqrt(2 D K / h)`` (Harris 1913).

    Args:
        demand_per_period: Expected demand per period (units).
        ordering_cost: Fixed cost of one order.
        holding_cost_per_period: Cost of holding one unit for one period.

    Returns:
        The order quantity minimising ordering plus holding cost.

    Example:
        >>> economic_order_quantity(100, 50, 1)
        100.0
    """
    if demand_per_period < 0 or ordering_cost < 0 or holding_cost_per_period <= 0:
        raise ParameterError(
            "economic_order_quantity needs demand >= 0, ordering cost >= 0 and holding cost > 0; "
            f"got {demand_per_period!r}, {ordering_cost!r}, {holding_cost_per_period!r}."
        )
    return float(np.sqrt(2 * demand_per_period * ordering_cost / holding_cost_per_period))
