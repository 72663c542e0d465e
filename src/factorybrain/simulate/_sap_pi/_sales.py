"""Sales orders, deliveries with serial numbers, field failures and the service cases they become.

Customers order gear units a few weeks ahead (about 95 % of what the plant makes, so finished
goods build up slowly); every working day at 13:00 the plant delivers the orders that are due,
first in first out from stock, with the serial numbers of the units on the delivery. A delivered
unit is installed one to six weeks later and fails at the earliest of its causes: none (a long
Weibull life), a bearing from the bad 32208 batch, or gears ground while the grinder's spindle
was worn. A failure inside the horizon becomes a service case, typed by the customer's service
contact in German, Chinese or English.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from factorybrain.simulate._sap_pi._calendar import DAY, Calendar
from factorybrain.simulate._sap_pi._production import LotBook, Order
from factorybrain.simulate._sap_pi._world import World

#: field life per cause: (Weibull shape, scale in days)
FIELD_LIFE = {"none": (1.3, 6000.0), "supplier_lot": (2.0, 190.0), "degraded_machine": (2.0, 260.0)}
#: grinder health above which ground gears fail early in the field
DEGRADED_HEALTH = 0.4
SHIP_MINUTE_OF_DAY = 13 * 60
#: how customers number their purchase orders
PO_PREFIX = ("PO", "BE", "ORD", "45")
SYMPTOMS = {
    "supplier_lot": (("noise", 0.6), ("overheating", 0.25), ("seized", 0.15)),
    "degraded_machine": (("noise", 0.5), ("vibration", 0.5)),
    "none": (
        ("leak", 0.4),
        ("noise", 0.15),
        ("vibration", 0.15),
        ("overheating", 0.15),
        ("seized", 0.15),
    ),
}


@dataclass
class SalesOrder:
    """A customer order (VBAK) with its items (VBAP)."""

    index: int
    vbeln: int
    customer: int
    created: int
    requested: int
    items: list[tuple[int, int]]
    delivered: list[int] = field(default_factory=list)
    customer_po: str = ""


@dataclass
class Delivery:
    """An outbound delivery (LIKP/LIPS) and the serials on it (SER01/OBJK)."""

    index: int
    vbeln: int
    sales_order: int
    item: int
    customer: int
    product: int
    time: int
    units: list[tuple[int, int]]


@dataclass
class Claim:
    """A field failure that the customer reported."""

    order: int
    unit: int
    serial: int
    product: int
    customer: int
    delivery: int
    cause: str
    lot: int | None
    machine: int | None
    symptom: str
    failed: int
    reported: int


@dataclass
class SalesPlan:
    """What was sold, delivered and claimed."""

    orders: list[SalesOrder]
    deliveries: list[Delivery]
    claims: list[Claim]
    stock_end: dict[int, int]


def _ship_slots(calendar: Calendar) -> list[int]:
    """13:00 local of every working day."""
    slots = []
    for day, d in enumerate(calendar.days):
        if d.weekday() >= 5 or calendar.holiday[day] or calendar.shutdown[day]:
            continue
        hits = np.flatnonzero(calendar.day_index == day)
        on = hits[calendar.minute_of_day[hits] == SHIP_MINUTE_OF_DAY]
        if on.size:
            slots.append(int(on[0]))
    return slots


def plan_sales(
    world: World,
    calendar: Calendar,
    orders: list[Order],
    book: LotBook,
    grinder: int | None,
    seed: int,
) -> SalesPlan:
    """Draw the sales orders, deliver them from stock, and let delivered units fail in the field.

    Args:
        world: The static plant.
        calendar: The local calendar.
        orders: Every production order, simulated and tested.
        book: The batches and the genealogy.
        grinder: The machine with the planted drift (or None).
        seed: Seed of the draws.

    Returns:
        The sales plan.
    """
    rng = np.random.default_rng([seed, 2401])
    minutes = calendar.minutes
    available: list[tuple[int, int, int, int]] = []
    for oi, order in enumerate(orders):
        if not order.finished:
            continue
        at = int(order.ops[3].end or 0)
        for u in np.flatnonzero(order.test_pass).tolist():
            available.append((at, order.product, oi, int(u)))
    available.sort()
    made = np.zeros(len(world.products))
    for _, p, _, _ in available:
        made[p] += 1
    slots = _ship_slots(calendar)
    # demand: about 95 % of output, spread over the working days, by product
    weights = np.array([c.weight for c in world.customers])
    weights /= weights.sum()
    sales: list[SalesOrder] = []
    mean_qty = 9.0
    total = made.sum() * 0.95
    expected_orders = int(total / mean_qty * 1.0)
    if len(slots) and expected_orders:
        created = np.sort(rng.choice(np.array(slots), size=expected_orders)) - int(4.5 * 60)
        prefs = rng.dirichlet(np.ones(len(world.products)) * 0.8, size=len(world.customers))
        share = made / max(made.sum(), 1)
        vbeln = 10_000_400
        for i, t in enumerate(created.tolist()):
            customer = int(rng.choice(len(world.customers), p=weights))
            mix = prefs[customer] * share
            mix = mix / mix.sum() if mix.sum() > 0 else share
            products = [int(rng.choice(len(world.products), p=mix))]
            if rng.random() < 0.2:
                products.append(int(rng.choice(len(world.products), p=mix)))
            items = [
                (p, int(min(60, rng.geometric(1 / mean_qty)))) for p in dict.fromkeys(products)
            ]
            vbeln += int(rng.integers(1, 4))
            sales.append(
                SalesOrder(
                    index=i,
                    vbeln=vbeln,
                    customer=customer,
                    created=int(t + rng.integers(0, 240)),
                    requested=int(t + rng.uniform(12, 40) * DAY),
                    items=items,
                    delivered=[0] * len(items),
                    customer_po=f"{PO_PREFIX[customer % 4]}{rng.integers(10000, 99999)}",
                )
            )
    stock: dict[int, list[tuple[int, int, int]]] = {p.index: [] for p in world.products}
    pointer = 0
    deliveries: list[Delivery] = []
    delivery_no = 80_001_000
    by_created = sorted(sales, key=lambda s: (s.created, s.index))
    next_order = 0
    waiting: list[SalesOrder] = []
    for slot in slots:
        while pointer < len(available) and available[pointer][0] <= slot:
            at, p, oi, u = available[pointer]
            stock[p].append((at, oi, u))
            pointer += 1
        while next_order < len(by_created) and by_created[next_order].created < slot:
            waiting.append(by_created[next_order])
            next_order += 1
        waiting = [
            s for s in waiting if any(d < q for d, (_, q) in zip(s.delivered, s.items, strict=True))
        ]
        due = [s for s in waiting if s.requested <= slot + 2 * DAY]
        due.sort(key=lambda s: (s.requested, s.created))
        for s in due:
            for item, (p, qty) in enumerate(s.items):
                open_qty = qty - s.delivered[item]
                n = min(open_qty, len(stock[p]))
                if n <= 0:
                    continue
                units, stock[p] = stock[p][:n], stock[p][n:]
                s.delivered[item] += n
                delivery_no += int(rng.integers(1, 3))
                deliveries.append(
                    Delivery(
                        index=len(deliveries),
                        vbeln=delivery_no,
                        sales_order=s.index,
                        item=item,
                        customer=s.customer,
                        product=p,
                        time=slot + int(rng.integers(0, 90)),
                        units=[(oi, u) for _, oi, u in units],
                    )
                )
    while pointer < len(available):
        at, p, oi, u = available[pointer]
        stock[p].append((at, oi, u))
        pointer += 1
    claims = _field_failures(world, orders, book, deliveries, grinder, minutes, rng)
    return SalesPlan(
        orders=sales,
        deliveries=deliveries,
        claims=claims,
        stock_end={p: len(v) for p, v in stock.items()},
    )


def _field_failures(
    world: World,
    orders: list[Order],
    book: LotBook,
    deliveries: list[Delivery],
    grinder: int | None,
    minutes: int,
    rng: np.random.Generator,
) -> list[Claim]:
    bearing = world.material("KRL-32208").index
    claims = []
    for delivery in deliveries:
        for oi, u in delivery.units:
            order = orders[oi]
            installed = delivery.time + rng.uniform(7, 42) * DAY
            causes = {"none": FIELD_LIFE["none"]}
            lot = None
            if book.bad_lot is not None and book.bad_lot in book.unit_lots.get(
                (oi, u, bearing), []
            ):
                causes["supplier_lot"] = FIELD_LIFE["supplier_lot"]
                lot = book.bad_lot
            if order.grind_health[u] > DEGRADED_HEALTH:
                causes["degraded_machine"] = FIELD_LIFE["degraded_machine"]
            draws = {
                cause: installed + scale * rng.weibull(shape) * DAY
                for cause, (shape, scale) in causes.items()
            }
            cause = min(draws, key=lambda c: draws[c])
            failed = draws[cause]
            reported = failed + rng.uniform(0.5, 10) * DAY
            if reported >= minutes:
                continue
            options = SYMPTOMS[cause]
            symptom = options[int(rng.choice(len(options), p=np.array([w for _, w in options])))][0]
            claims.append(
                Claim(
                    order=oi,
                    unit=u,
                    serial=int(order.serial[u]),
                    product=order.product,
                    customer=delivery.customer,
                    delivery=delivery.index,
                    cause=cause,
                    lot=lot if cause == "supplier_lot" else None,
                    machine=grinder if cause == "degraded_machine" else None,
                    symptom=symptom,
                    failed=int(failed),
                    reported=int(reported),
                )
            )
    claims.sort(key=lambda c: (c.reported, c.serial))
    return claims
