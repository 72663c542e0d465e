"""Replay a policy on a demand history: achieved fill rate and average inventory."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from factorybrain.exceptions import ParameterError

ORDER_UP_TO = "order_up_to"
REORDER_POINT = "reorder_point"


@dataclass(frozen=True)
class SimulationResult:
    """What a policy achieved on a demand history.

    Attributes:
        fill_rate: Demand met from stock on hand / total demand (NaN without demand).
        average_inventory: Mean on-hand stock at the end of each period.
        demand: Total demand.
        filled: Demand met from stock on hand.
        stockout_periods: Periods in which some demand could not be met from stock.
        orders: Number of orders placed.
        on_hand: End-of-period on-hand stock per period.
    """

    fill_rate: float
    average_inventory: float
    demand: float
    filled: float
    stockout_periods: int
    orders: int
    on_hand: np.ndarray


def simulate_policy(
    demand: np.ndarray,
    *,
    policy: str,
    level: float,
    order_quantity: float | None = None,
    lead_time: int,
    review_period: int = 1,
    initial_inventory: float | None = None,
) -> SimulationResult:
    """Simulate a periodic-review order-up-to or an (s, Q) policy with backorders.

    Each period: orders due arrive at its start; demand is met from stock on hand and the rest is
    backordered (served first from later arrivals, but not counted as filled); at the end of the
    period the policy reviews (order-up-to: every ``review_period`` periods, order ``S`` minus the
    inventory position; (s, Q): every period, order multiples of ``Q`` while the position is at or
    below ``s``). An order placed at the end of period ``t`` arrives at the start of period
    ``t + 1 + lead_time``.

    Args:
        demand: Demand per period.
        policy: ``"order_up_to"`` or ``"reorder_point"``.
        level: The order-up-to level S, or the reorder point s.
        order_quantity: Q of the (s, Q) policy.
        lead_time: Lead time in periods (0: the order arrives before the next period's demand).
        review_period: Periods between reviews of the order-up-to policy.
        initial_inventory: Stock on hand at the start (default: S, or s + Q), nothing on order.

    Returns:
        The :class:`SimulationResult`.

    Example:
        >>> simulate_policy(np.array([1, 3, 0]), policy="order_up_to", level=2, lead_time=0).filled
        3.0
    """
    demand = np.asarray(demand, dtype=float)
    if policy not in (ORDER_UP_TO, REORDER_POINT):
        raise ParameterError(f"policy must be 'order_up_to' or 'reorder_point'; got {policy!r}.")
    if lead_time < 0 or review_period < 1:
        raise ParameterError(
            f"lead_time must be >= 0 and review_period >= 1; got {lead_time!r}, {review_period!r}."
        )
    if policy == REORDER_POINT and (order_quantity is None or order_quantity <= 0):
        raise ParameterError(f"An (s, Q) policy needs order_quantity > 0; got {order_quantity!r}.")
    if initial_inventory is None:
        if policy == ORDER_UP_TO:
            initial_inventory = level
        else:
            assert order_quantity is not None  # an (s, Q) policy without Q was rejected above
            initial_inventory = level + order_quantity
    net = float(initial_inventory)
    arrivals = np.zeros(demand.size + lead_time + 2)
    on_order = 0.0
    filled = 0.0
    stockouts = 0
    orders = 0
    on_hand = np.zeros(demand.size)
    for period, wanted in enumerate(demand):
        net += arrivals[period]
        on_order -= arrivals[period]
        served = min(wanted, max(net, 0.0))
        filled += served
        stockouts += int(served < wanted)
        net -= wanted
        on_hand[period] = max(net, 0.0)
        position = net + on_order
        quantity = 0.0
        if policy == ORDER_UP_TO and (period + 1) % review_period == 0:
            quantity = max(level - position, 0.0)
        elif policy == REORDER_POINT and position <= level:
            quantity = order_quantity * (np.floor((level - position) / order_quantity) + 1)
        if quantity > 0:
            arrivals[period + 1 + lead_time] += quantity
            on_order += quantity
            orders += 1
    total = float(demand.sum())
    return SimulationResult(
        fill_rate=filled / total if total > 0 else float("nan"),
        average_inventory=float(on_hand.mean()) if on_hand.size else 0.0,
        demand=total,
        filled=float(filled),
        stockout_periods=stockouts,
        orders=orders,
        on_hand=on_hand,
    )
