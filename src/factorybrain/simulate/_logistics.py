"""Demand, shipping, purchasing and field failures: what happens around and after production.

Production is levelled, demand is not: sales orders follow a trend and a summer season, so finished
goods pile up in winter and run short in summer. Finished units ship first in, first out against the
sales orders; a shipped unit whose latent field life ends before the horizon comes back as a
warranty claim with a free-text description written by a service desk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from factorybrain.simulate._maintenance import DAY
from factorybrain.simulate._world import World

CLAIM_TEXTS = {
    "noise": (
        "Pump became very loud after {weeks} weeks, grinding noise from the motor end.",
        "Customer reports rattling noise and the pump finally seized. Bearing feels rough.",
        "Noisy operation, whining sound increasing over time; unit stopped after {weeks} weeks.",
        "Lautes Laufgeräusch, Lager defekt? Pumpe blockiert nach {weeks} Wochen.",
    ),
    "vibration": (
        "Strong vibration at full speed, pipes shaking. Installed {weeks} weeks ago.",
        "Pump vibrates and hums, customer says it got worse every week.",
        "Vibration and noise, shaft seems to wobble when running.",
    ),
    "leak": (
        "Water dripping from the pump body near the shaft after {weeks} weeks.",
        "Leak at shaft seal, small puddle under the pump every morning.",
        "Pumpe undicht an der Welle, Wasser tritt aus.",
        "Leaking, seal area wet. Replaced once by installer, leaks again.",
    ),
    "electrical": (
        "Pump does not start, no sound when powered.",
        "Motor hums but does not turn, capacitor suspected.",
        "Display dead after thunderstorm, unit not working.",
        "Intermittent stops, customer reports the pump trips the breaker.",
    ),
}


@dataclass
class SalesPlan:
    """Sales order lines (one per order) and the shipment of every finished unit."""

    order_product: np.ndarray
    order_material: np.ndarray
    order_customer: np.ndarray
    order_time: np.ndarray
    order_requested: np.ndarray
    order_qty: np.ndarray
    order_delivered: np.ndarray
    unit_serial: np.ndarray
    unit_product: np.ndarray
    unit_finish: np.ndarray
    unit_order: np.ndarray
    unit_ship: np.ndarray
    unit_shipment: np.ndarray


def _next_working_noon(minute: np.ndarray) -> np.ndarray:
    """Shipments leave at 12:00 UTC on a working day at or after ``minute``."""
    day = np.ceil((minute - 12 * 60) / DAY).astype(np.int64)
    weekday = day % 7  # the horizon starts on a Monday
    day = day + np.where(weekday == 5, 2, np.where(weekday == 6, 1, 0))
    return day * DAY + 12 * 60


def plan_sales(
    world: World,
    minutes: int,
    finished: list[tuple[int, np.ndarray, np.ndarray]],
    seed: int,
) -> SalesPlan:
    """Generate sales orders and ship finished units against them first in, first out.

    Args:
        world: The static plant.
        minutes: Horizon length in minutes.
        finished: Per work order: (product, serials, finish minutes) of good units.
        seed: Seed of the draws.

    Returns:
        The orders and every unit's order, shipment and ship time (-1 when in stock).
    """
    rng = np.random.default_rng([seed, 707])
    days = minutes // DAY
    day_index = np.arange(days)
    weekday = day_index % 7
    working = weekday < 5
    season = 1.0 + 0.3 * np.sin(2 * np.pi * (day_index + 6 - 100) / 365.0)
    trend = 1.0 + 0.25 * day_index / 365.0
    shape = np.where(working, season * trend, 0.0)
    shape[: min(3, days)] = 0.0
    weights = np.array([c.weight for c in world.customers])
    weights = weights / weights.sum()
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("p", "m", "c", "t", "r", "q")}
    units: dict[str, list[np.ndarray]] = {"serial": [], "product": [], "finish": []}
    for product in world.products:
        parts = [(s, f) for p, s, f in finished if p == product.index]
        serial = np.concatenate([s for s, _ in parts]) if parts else np.zeros(0, np.int64)
        finish = np.concatenate([f for _, f in parts]) if parts else np.zeros(0, np.int64)
        order = np.argsort(finish, kind="stable")
        serial, finish = serial[order], finish[order]
        units["serial"].append(serial)
        units["product"].append(np.full(serial.size, product.index))
        units["finish"].append(finish)
        # demand slightly above the levelled output: stock built in winter runs out in summer
        total = 1.03 * serial.size
        if total <= 0 or shape.sum() == 0:
            continue
        mean_qty = 6.0 if product.family != "SubDrive" else 3.0
        rate = shape / shape.sum() * total / mean_qty
        counts = rng.poisson(rate)
        n = int(counts.sum())
        order_day = np.repeat(day_index, counts)
        cols["p"].append(np.full(n, product.index))
        cols["m"].append(np.full(n, -1))
        cols["c"].append(rng.choice(len(weights), size=n, p=weights))
        cols["t"].append(order_day * DAY + rng.integers(6 * 60, 17 * 60, n))
        cols["r"].append(order_day * DAY + rng.integers(3, 15, n) * DAY)
        cols["q"].append(rng.geometric(1.0 / mean_qty, n))
    # intermittent spare-parts demand: service kits sold to installers
    for material in world.materials:
        if material.kind != "service_kit":
            continue
        hits = working & (rng.random(days) < 0.07)
        order_day = np.flatnonzero(hits)
        n = order_day.size
        cols["p"].append(np.full(n, -1))
        cols["m"].append(np.full(n, material.index))
        cols["c"].append(rng.choice(len(weights), size=n, p=weights))
        cols["t"].append(order_day * DAY + rng.integers(6 * 60, 17 * 60, n))
        cols["r"].append(order_day * DAY + 2 * DAY)
        cols["q"].append(rng.integers(1, 7, n) * np.where(rng.random(n) < 0.1, 5, 1))

    def cat(key: str) -> np.ndarray:
        return np.concatenate(cols[key]).astype(np.int64) if cols[key] else np.zeros(0, np.int64)

    order_time = cat("t")
    sort = np.argsort(order_time, kind="stable")
    order_product, order_material = cat("p")[sort], cat("m")[sort]
    order_customer, order_time = cat("c")[sort], order_time[sort]
    order_requested, order_qty = cat("r")[sort], cat("q")[sort]
    delivered = np.zeros(order_qty.size, dtype=np.int64)

    unit_serial = np.concatenate(units["serial"]) if units["serial"] else np.zeros(0, np.int64)
    unit_product = np.concatenate(units["product"]) if units["product"] else np.zeros(0, np.int64)
    unit_finish = np.concatenate(units["finish"]) if units["finish"] else np.zeros(0, np.int64)
    unit_order = np.full(unit_serial.size, -1, dtype=np.int64)
    unit_ship = np.full(unit_serial.size, -1, dtype=np.int64)
    offset = 0
    for product in world.products:
        size = units["serial"][product.index].size
        sl = slice(offset, offset + size)
        offset += size
        idx = np.flatnonzero(order_product == product.index)
        demand_order = np.repeat(idx, order_qty[idx])
        k = min(size, demand_order.size)
        ship = _next_working_noon(
            np.maximum(unit_finish[sl][:k] + 120, order_time[demand_order[:k]] + DAY)
        )
        shipped = ship < minutes
        unit_order[sl][:k] = np.where(shipped, demand_order[:k], -1)
        unit_ship[sl][:k] = np.where(shipped, ship, -1)
        np.add.at(delivered, demand_order[:k][shipped], 1)
    kit = order_material >= 0
    kit_ship = _next_working_noon(order_time + DAY)
    delivered[kit] = np.where(kit_ship[kit] < minutes, order_qty[kit], 0)
    # a shipment is one order's units leaving on one day
    key = unit_order * 4096 + unit_ship // DAY
    has = unit_order >= 0
    shipment = np.full(unit_serial.size, -1, dtype=np.int64)
    if has.any():
        _, inverse = np.unique(key[has], return_inverse=True)
        shipment[has] = inverse
    return SalesPlan(
        order_product=order_product,
        order_material=order_material,
        order_customer=order_customer,
        order_time=order_time,
        order_requested=order_requested,
        order_qty=order_qty,
        order_delivered=delivered,
        unit_serial=unit_serial,
        unit_product=unit_product,
        unit_finish=unit_finish,
        unit_order=unit_order,
        unit_ship=unit_ship,
        unit_shipment=shipment,
    )


def plan_claims(
    candidates: list[dict],
    sales: SalesPlan,
    minutes: int,
    seed: int,
) -> list[dict]:
    """Turn shipped units whose field life ends within the horizon into warranty claims.

    Args:
        candidates: Units with a short latent life (from production).
        sales: The shipping plan.
        minutes: Horizon length in minutes.
        seed: Seed of the draws.

    Returns:
        Claims in the order they were reported, each with its true cause.
    """
    rng = np.random.default_rng([seed, 808])
    if not candidates:
        return []
    order = np.argsort(sales.unit_serial, kind="stable")
    sorted_serials = sales.unit_serial[order]
    claims = []
    for candidate in sorted(candidates, key=lambda c: c["serial"]):
        pos = int(np.searchsorted(sorted_serials, candidate["serial"]))
        if pos >= sorted_serials.size or sorted_serials[pos] != candidate["serial"]:
            continue
        i = int(order[pos])
        if sales.unit_ship[i] < 0:
            continue
        installed = int(sales.unit_ship[i] + rng.uniform(2, 25) * DAY)
        failed = installed + candidate["life_minutes"]
        reported = failed + int(rng.uniform(0.5, 12) * DAY)
        if reported >= minutes:
            continue
        customer = int(sales.order_customer[sales.unit_order[i]])
        texts = CLAIM_TEXTS[candidate["mode"]]
        text = texts[int(rng.integers(len(texts)))].format(
            weeks=max(1, (failed - installed) // (7 * DAY))
        )
        claims.append(
            {
                **candidate,
                "customer": customer,
                "installed": installed,
                "failed": failed,
                "reported": reported,
                "text": text,
                "shipped": int(sales.unit_ship[i]),
            }
        )
    claims.sort(key=lambda c: (c["reported"], c["serial"]))
    return claims
