"""InventoryPlanner: order-up-to levels and reorder points from the demand distribution."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np
import pandas as pd

from factorybrain.engines._base import Engine, InstanceOf, Interval, Options
from factorybrain.engines.forecast import DemandForecaster
from factorybrain.engines.forecast._warnings import describe_ids, warn_fallback
from factorybrain.engines.inventory._levels import (
    CYCLE_SERVICE,
    FILL_RATE,
    allocate_system_fill_rate,
    economic_order_quantity,
    fill_rate_curve,
    fill_rate_of_level,
    order_up_to_level,
    reorder_point,
    silent_item_paths,
)
from factorybrain.engines.inventory._simulate import (
    ORDER_UP_TO,
    REORDER_POINT,
    simulate_policy,
)
from factorybrain.engines.inventory._spares import SparePartDemand, sample_spare_part_demand
from factorybrain.exceptions import ParameterError


class InventoryPlanner(Engine):
    """Set an inventory policy per item from a fitted :class:`DemandForecaster`.

    Levels come from Monte Carlo demand paths over the protection interval (lead time plus review
    period): a compound distribution for intermittent items, so the level reflects the real chance
    of no demand and the real sizes instead of a normal curve. Health-driven spare-part demand
    (:func:`spare_part_demand`) is added to the first period of each path. An item whose history
    holds no demand at all is planned on the demand that such items had, one forecast horizon
    earlier, in the periods that followed (:func:`silent_item_paths`; a warning names them): no
    stock where such items stayed silent, stock where they started selling.

    Args:
        policy: ``"order_up_to"`` (periodic review, R, S) or ``"reorder_point"`` (continuous
            review checked every period, s, Q).
        target: Target fill rate or cycle service level in (0, 1).
        service: ``"fill_rate"`` (share of demand met from stock) or ``"cycle_service"``
            (probability of no stock-out per cycle).
        target_scope: ``"item"``: every item reaches the target; ``"system"``: the fill rate
            over all planned items together reaches it with the least expected stock on hand
            (order-up-to policy and fill rate only; see :func:`allocate_system_fill_rate`).
        lead_time: Periods from placing an order to its arrival (see :func:`simulate_policy`).
        review_period: Periods between reviews of the order-up-to policy.
        order_quantity: Q of the (s, Q) policy; ``None`` uses the EOQ when both costs are
            given, else one review period's expected demand (at least one unit).
        ordering_cost: Fixed cost per order, for the EOQ.
        holding_cost: Cost of holding one unit for one period, for the EOQ.
        n_samples: Demand paths per item.
        random_state: Seed of the demand paths.

    Example:
        >>> table = pd.DataFrame({"unique_id": "p1", "ds": range(24), "y": [0, 2] * 12})
        >>> forecaster = DemandForecaster(horizon=3, pooled="never").fit(table)
        >>> planner = InventoryPlanner(target=0.9).fit(forecaster)
        >>> bool(planner.policies_["order_up_to"].iloc[0] > 0)
        True
    """

    _parameter_constraints: ClassVar = {
        "policy": [Options({ORDER_UP_TO, REORDER_POINT})],
        "target": [Interval(float, 0, 1, closed="neither")],
        "service": [Options({FILL_RATE, CYCLE_SERVICE})],
        "target_scope": [Options({"item", "system"})],
        "lead_time": [Interval(int, 0, None)],
        "review_period": [Interval(int, 1, None)],
        "order_quantity": [Interval(float, 0, None, closed="neither"), InstanceOf((type(None),))],
        "ordering_cost": [Interval(float, 0, None), InstanceOf((type(None),))],
        "holding_cost": [Interval(float, 0, None, closed="neither"), InstanceOf((type(None),))],
        "n_samples": [Interval(int, 100, None)],
        "random_state": [Interval(int, 0, None)],
    }

    def __init__(
        self,
        *,
        policy: str = ORDER_UP_TO,
        target: float = 0.95,
        service: str = FILL_RATE,
        target_scope: str = "item",
        lead_time: int = 1,
        review_period: int = 1,
        order_quantity: float | None = None,
        ordering_cost: float | None = None,
        holding_cost: float | None = None,
        n_samples: int = 2000,
        random_state: int = 0,
    ) -> None:
        self.policy = policy
        self.target = target
        self.service = service
        self.target_scope = target_scope
        self.lead_time = lead_time
        self.review_period = review_period
        self.order_quantity = order_quantity
        self.ordering_cost = ordering_cost
        self.holding_cost = holding_cost
        self.n_samples = n_samples
        self.random_state = random_state

    def fit(
        self,
        forecaster: DemandForecaster,
        *,
        unique_ids: list[str] | None = None,
        health_demand: Mapping[str, SparePartDemand] | None = None,
    ) -> InventoryPlanner:
        """Compute the policy of every item.

        Args:
            forecaster: A fitted :class:`DemandForecaster`.
            unique_ids: Items to plan (default: every series of the forecaster; unknown ids get
                its new-item fallback, with a warning).
            health_demand: ``{item: SparePartDemand}`` expected from machine health within the
                lead time, added to the forecast demand.

        Returns:
            ``self``, with ``policies_``: one row per item with ``policy``, ``order_up_to`` (S,
            or s + Q), ``reorder_point`` (s, or S minus one review period's mean demand),
            ``order_quantity``, ``mean_demand`` per period, ``health_demand`` and
            ``expected_fill_rate`` under the demand model.
        """
        self._validate_parameters()
        if self.target_scope == "system" and (
            self.policy != ORDER_UP_TO or self.service != FILL_RATE
        ):
            raise ParameterError(
                "target_scope='system' needs policy='order_up_to' and service='fill_rate'; got "
                f"policy={self.policy!r}, service={self.service!r}."
            )
        if not isinstance(forecaster, DemandForecaster):
            raise ParameterError(
                f"InventoryPlanner.fit expects a fitted DemandForecaster; got "
                f"{type(forecaster).__name__}."
            )
        forecaster._check_fitted()
        health_demand = dict(health_demand or {})
        ids = list(forecaster.selection_["unique_id"]) if unique_ids is None else list(unique_ids)
        ids += [uid for uid in health_demand if uid not in set(ids)]
        periods = self.lead_time + (self.review_period if self.policy == ORDER_UP_TO else 1)
        paths = forecaster.demand_paths(periods, unique_ids=ids, n_samples=self.n_samples)
        integer_items = self._integer_items(forecaster)
        rng = np.random.default_rng(self.random_state)
        silent = self._silent_items(forecaster, ids)
        if silent:
            starting = silent_item_paths(
                forecaster._matrix.values, forecaster.horizon, periods, self.n_samples, rng
            )
            if starting is not None:
                warn_fallback(
                    f"{len(silent)} items never had demand ({describe_ids(silent)}): their "
                    "lead-time demand is that of the items that had none either, one forecast "
                    "horizon earlier, in the periods that followed."
                )
                for uid in silent:
                    paths[uid] = starting
        rows, curves = [], []
        for uid in ids:
            path = paths[uid].copy()
            health = health_demand.get(uid)
            if health is not None:
                path[:, 0] += sample_spare_part_demand(health, path.shape[0], rng)
            integer = integer_items.get(uid, True)
            mean = float(path.mean(axis=0).mean())
            rows.append(self._policy_row(uid, path, mean, integer, health))
            if self.target_scope == "system":
                curves.append(
                    fill_rate_curve(
                        path,
                        lead_time=self.lead_time,
                        review_period=self.review_period,
                        integer=integer,
                    )
                )
        policies = pd.DataFrame(rows)
        if self.target_scope == "system" and rows:
            levels = allocate_system_fill_rate(curves, self.target)
            policies["order_up_to"] = levels
            policies["reorder_point"] = np.maximum(
                levels - policies["mean_demand"] * self.review_period, 0.0
            )
            policies["expected_fill_rate"] = [
                curve.fill_rates[np.searchsorted(curve.levels, level)]
                for curve, level in zip(curves, levels, strict=True)
            ]
        self.policies_ = policies
        return self

    @staticmethod
    def _silent_items(forecaster: DemandForecaster, ids: list[str]) -> list[str]:
        """Planned items with a history but no demand in it."""
        values = forecaster._matrix.values
        lookup = {uid: row for row, uid in enumerate(forecaster._matrix.ids)}
        rows = [lookup.get(uid) for uid in ids]
        return [
            uid
            for uid, row in zip(ids, rows, strict=True)
            if row is not None and not (np.nan_to_num(values[row]) > 0).any()
        ]

    @staticmethod
    def _integer_items(forecaster: DemandForecaster) -> dict[str, bool]:
        values = forecaster._matrix.values
        finite = np.where(np.isfinite(values), values, 0.0)
        whole = (finite == np.round(finite)).all(axis=1)
        return dict(zip(forecaster._matrix.ids, whole.tolist(), strict=True))

    def _quantity(self, mean: float) -> float:
        if self.order_quantity is not None:
            return float(self.order_quantity)
        if self.ordering_cost is not None and self.holding_cost is not None and mean > 0:
            return max(economic_order_quantity(mean, self.ordering_cost, self.holding_cost), 1.0)
        return max(mean * self.review_period, 1.0)

    def _policy_row(
        self,
        uid: str,
        path: np.ndarray,
        mean: float,
        integer: bool,
        health: SparePartDemand | None,
    ) -> dict[str, object]:
        row: dict[str, object] = {
            "unique_id": uid,
            "policy": self.policy,
            "mean_demand": mean,
            "health_demand": 0.0 if health is None else health.expected,
        }
        if self.policy == ORDER_UP_TO:
            level = order_up_to_level(
                path,
                target=self.target,
                service=self.service,
                lead_time=self.lead_time,
                review_period=self.review_period,
                integer=integer,
            )
            row["order_up_to"] = level
            row["reorder_point"] = max(level - mean * self.review_period, 0.0)
            row["order_quantity"] = np.nan
            row["expected_fill_rate"] = float(
                fill_rate_of_level(path, level, self.lead_time, self.review_period)[0]
            )
        else:
            quantity = self._quantity(mean)
            if integer:
                quantity = float(np.ceil(quantity))
            point = reorder_point(
                path,
                order_quantity=quantity,
                target=self.target,
                service=self.service,
                lead_time=self.lead_time,
                integer=integer,
            )
            row["order_up_to"] = point + quantity
            row["reorder_point"] = point
            row["order_quantity"] = quantity
            row["expected_fill_rate"] = np.nan
        return row

    def predict(self, unique_ids: list[str] | None = None) -> pd.DataFrame:
        """Return the policies (all items, or those asked for)."""
        self._check_fitted()
        if unique_ids is None:
            return self.policies_.copy()
        return self.policies_[self.policies_["unique_id"].isin(unique_ids)].reset_index(drop=True)

    def simulate(self, demand: pd.DataFrame) -> pd.DataFrame:
        """Replay the fitted policies on a demand table (``unique_id, ds, y``).

        Returns:
            One row per item: ``fill_rate``, ``average_inventory``, ``demand``, ``filled``,
            ``stockout_periods`` and ``orders``.
        """
        self._check_fitted()
        policies = self.policies_.set_index("unique_id")
        rows = []
        for uid, group in demand.sort_values("ds").groupby("unique_id", sort=True):
            if str(uid) not in policies.index:
                continue
            policy = policies.loc[str(uid)]
            level = policy["order_up_to"] if self.policy == ORDER_UP_TO else policy["reorder_point"]
            result = simulate_policy(
                group["y"].to_numpy(float),
                policy=self.policy,
                level=float(level),
                order_quantity=None
                if self.policy == ORDER_UP_TO
                else float(policy["order_quantity"]),
                lead_time=self.lead_time,
                review_period=self.review_period,
            )
            rows.append(
                {
                    "unique_id": str(uid),
                    "fill_rate": result.fill_rate,
                    "average_inventory": result.average_inventory,
                    "demand": result.demand,
                    "filled": result.filled,
                    "stockout_periods": result.stockout_periods,
                    "orders": result.orders,
                }
            )
        return pd.DataFrame(rows)
