"""What the logistics agent reads from the factory model: demand, stock, lead times, machine spares.

Every silo names things its own way, so the reads join on explicit links, best first:

* **approved annotations** (``annotation`` rows with ``status = 'approved'``): a source identifier
  and its target are the same thing (a machine, a material);
* otherwise **identifier habits**: material numbers equal once leading zeros are dropped (ERP
  ``000000000070000305`` is WMS ``70000305``); machines equal when their kind and number agree
  (engineering ``line3/press-3``, MES ``PRS-03``, historian ``L3_PRS03``, WMS ``PRS3`` or
  ``PRESS03``: kind *press*, number 3);
* a machine's spare part number from its engineering BOM (``SP-PRS-HPU``) becomes the ERP material
  that the WMS issued to that machine in the past (``inventory_transaction`` of type ``issue``,
  the machine in ``location``); without such history, the spare-part material whose name names
  the machine's kind (``HYDRAULIC PUMP UNIT FOR PRESS``). Each fallback used is listed in
  :attr:`LogisticsData.notes`.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from factorybrain.store import Store

#: Words that name each kind of machine, in any silo (lower case).
MACHINE_KINDS: dict[str, tuple[str, ...]] = {
    "press": ("press", "prs", "hydraulic press"),
    "lathe": ("lathe", "lth", "cnc lathe"),
    "winder": ("winder", "wnd", "winding", "stator winding machine"),
    "tester": ("tester", "test-bench", "testbench", "test bench", "eol", "end-of-line tester"),
}
#: ERP material types and model material types of spare parts.
SPARE_TYPES = ("ERSA", "spare_part")
#: Movement types that add to stock; the other types take from it.
RECEIPT_TYPES = ("receipt", "return")
ISSUE_TYPES = ("issue", "consumption", "shipment")

_KIND_PATTERN = re.compile(
    r"(test[-_ ]?bench|end-of-line tester|tester|eol|press|prs|lathe|lth|winder|winding|wnd)"
    r"[^0-9]{0,3}?(\d+)\s*$",
    re.IGNORECASE,
)


def material_key(identifier: object) -> str:
    """Canonical form of a material number: digits without leading zeros, else as written."""
    text = str(identifier).strip()
    return text.lstrip("0") or "0" if text.isdigit() else text


def machine_key(identifier: object) -> tuple[str, int] | None:
    """``(kind, number)`` of a machine identifier such as ``line3/press-3`` or ``PRS-03``.

    Returns:
        The kind (a key of :data:`MACHINE_KINDS`) and number, or None when the identifier does
        not name a machine kind followed by a number.
    """
    text = str(identifier).strip().split("/")[-1]
    text = re.sub(r"^L\d+_", "", text)  # historian devices: L3_PRS03
    match = _KIND_PATTERN.search(text)
    if not match:
        return None
    word = match.group(1).lower().replace("_", "-")
    for kind, words in MACHINE_KINDS.items():
        if word in words or word.replace(" ", "-") in words:
            return kind, int(match.group(2))
    return None


def kind_of_text(text: object) -> str | None:
    """The machine kind a free text names (``HYDRAULIC PUMP UNIT FOR PRESS`` -> ``press``)."""
    low = f" {str(text).lower()} "
    for kind, words in MACHINE_KINDS.items():
        if any(re.search(rf"\b{re.escape(w)}\b", low) for w in words):
            return kind
    return None


@dataclass
class SparePart:
    """A spare part of one machine's BOM, resolved to the material the stores keep."""

    machine: str
    part_number: str
    material: str | None
    quantity: float
    link: str


@dataclass
class LogisticsData:
    """Everything the logistics agent plans from, read at one moment.

    Attributes:
        as_of: The moment the data describes (naive UTC).
        period_starts: Start of each demand period (index = the integer ``ds`` of ``demand``).
        demand: Long table ``unique_id, ds, y`` (products: sales; materials: consumption and
            issues), one row per item and period, zeros where nothing moved.
        items: One row per item: ``unique_id``, ``space``, ``external_id``, ``name``,
            ``item_type`` (``product``, ``component``, ``spare_part``, ``trade_good``),
            ``lead_time_days``, ``on_hand`` (NaN when no count exists: stock unknown),
            ``stock_known``, ``on_order``, ``first_demand`` (None for no history).
        spares: ``{engineering machine id: [SparePart]}`` from the machine BOMs.
        machines: ``{(kind, number): engineering machine id}``.
        aliases: ``{identifier: engineering machine id}`` from approved annotations.
        notes: Which fallbacks were used, one sentence each.
        dated: Whether the store holds a dated sales order, inventory movement or stock count;
            without one, ``as_of`` is a stand-in (1970-01-01) that dates nothing.
        machine_spaces: ``{machine id: space}`` of the machines with spare-part BOMs.
    """

    as_of: datetime
    period_starts: pd.DatetimeIndex
    demand: pd.DataFrame
    items: pd.DataFrame
    spares: dict[str, list[SparePart]] = field(default_factory=dict)
    machines: dict[tuple[str, int], str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    dated: bool = True
    machine_spaces: dict[str, str] = field(default_factory=dict)

    @property
    def stock_unknown(self) -> pd.DataFrame:
        """Items without any stock count: their stock is unknown, not zero."""
        if "stock_known" not in self.items:
            return self.items.iloc[0:0]
        return self.items[~self.items["stock_known"].astype(bool)]

    @property
    def planned_as_of(self) -> datetime | None:
        """``as_of`` as a plan reports it: None when no dated record stands behind it."""
        return self.as_of if self.dated else None

    def machine_of(self, identifiers: Iterable[str]) -> str | None:
        """The engineering machine id that any of ``identifiers`` names, or None."""
        for identifier in identifiers:
            if identifier in self.spares:
                return identifier
            if identifier in self.aliases:
                return self.aliases[identifier]
        for identifier in identifiers:
            key = machine_key(identifier)
            if key is not None and key in self.machines:
                return self.machines[key]
        return None


def _query(store: Store, sql: str, parameters: list | None = None) -> pd.DataFrame:
    try:
        return store.query(sql, parameters)
    except Exception:  # a store without this entity table yet: nothing of that kind
        return pd.DataFrame()


def _approved_links(store: Store) -> list[tuple[str, str, str]]:
    rows = _query(
        store,
        "SELECT source_identifier, target_type, target_external_id FROM annotation "
        "WHERE status = 'approved'",
    )
    return [
        (str(r.source_identifier), str(r.target_type), str(r.target_external_id))
        for r in rows.itertuples()
    ]


def _item_type(material_type: object, is_product: bool) -> str:
    text = str(material_type or "").strip()
    if is_product or text in ("FERT", "finished_good", "product"):
        return "product"
    if text in SPARE_TYPES:
        return "spare_part"
    if text in ("HAWA", "trade_good"):
        return "trade_good"
    return "component"


def load_logistics(
    store: Store,
    *,
    as_of: datetime | None = None,
    period: str = "W-MON",
    material_space: str | None = None,
) -> LogisticsData:
    """Read demand histories, stock positions, lead times and machine spares from the store.

    Args:
        store: The factory store.
        as_of: Read the data up to this moment (default, or when later: the latest movement or
            order).
        period: Pandas frequency of the demand periods (weeks starting Monday by default).
        material_space: Space of the material master (lead times, types, names); default the
            space that holds the most materials.

    Returns:
        The :class:`LogisticsData`.
    """
    notes: list[str] = []
    if material_space is None:
        master = _query(
            store,
            "SELECT space, count(*) AS n FROM material GROUP BY space ORDER BY n DESC, space",
        )
        material_space = str(master["space"].iloc[0]) if len(master) else ""
    materials = _query(
        store,
        "SELECT external_id, name, material_type, lead_time_days FROM material WHERE space = ?",
        [material_space],
    )
    sales = _query(
        store, "SELECT product, quantity, ordered_at FROM sales_order WHERE ordered_at IS NOT NULL"
    )
    moves = _query(
        store,
        "SELECT material, location, quantity, transaction_type, occurred_at, reference "
        "FROM inventory_transaction WHERE occurred_at IS NOT NULL",
    )
    stock = _query(store, "SELECT material, quantity, as_of FROM stock_level")
    latest_per_table = [
        frame[col].max() if len(frame) else None
        for frame, col in ((sales, "ordered_at"), (moves, "occurred_at"), (stock, "as_of"))
    ]
    stamps = [pd.Timestamp(s) for s in latest_per_table if s is not None and not pd.isna(s)]
    latest = max(stamps) if stamps else pd.Timestamp("1970-01-01")
    end = latest if as_of is None else min(pd.Timestamp(as_of), latest)
    if len(sales):
        sales = sales[pd.to_datetime(sales["ordered_at"]) <= end]
    if len(moves):
        moves = moves[pd.to_datetime(moves["occurred_at"]) <= end]

    # -- demand histories per period --------------------------------------------------------
    parts = []
    if len(sales):
        parts.append(
            pd.DataFrame(
                {
                    "unique_id": sales["product"].map(material_key),
                    "at": pd.to_datetime(sales["ordered_at"]),
                    "y": sales["quantity"].astype(float),
                }
            )
        )
    if len(moves):
        used = moves[moves["transaction_type"].isin(("issue", "consumption"))]
        parts.append(
            pd.DataFrame(
                {
                    "unique_id": used["material"].map(material_key),
                    "at": pd.to_datetime(used["occurred_at"]),
                    "y": used["quantity"].astype(float).abs(),
                }
            )
        )
    events = (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame({"unique_id": [], "at": pd.to_datetime([]), "y": []})
    )
    offset = pd.tseries.frequencies.to_offset(period)
    first = pd.Timestamp(events["at"].min()) if len(events) else end
    periods = pd.date_range(offset.rollback(first.normalize()), end, freq=offset)
    if len(periods) == 0:
        periods = pd.DatetimeIndex([offset.rollback(end.normalize())])
    # the last period is still running at ``as_of``: it is left out of the history
    complete = periods[:-1]
    products = set(sales["product"].map(material_key)) if len(sales) else set()
    item_rows = []
    for row in materials.itertuples():
        key = material_key(row.external_id)
        item_rows.append(
            {
                "unique_id": key,
                "space": material_space,
                "external_id": str(row.external_id),
                "name": row.name,
                "item_type": _item_type(row.material_type, False),
                "lead_time_days": float(row.lead_time_days)
                if row.lead_time_days is not None and not pd.isna(row.lead_time_days)
                else np.nan,
            }
        )
    known = {r["unique_id"] for r in item_rows}
    for product in sorted(products - known):
        item_rows.append(
            {
                "unique_id": product,
                "space": "",
                "external_id": product,
                "name": product,
                "item_type": "product",
                "lead_time_days": np.nan,
            }
        )
    items = pd.DataFrame(
        item_rows,
        columns=["unique_id", "space", "external_id", "name", "item_type", "lead_time_days"],
    )
    # sold items are products unless the master says they are bought for resale
    sold = items["unique_id"].isin(products) & (items["item_type"] != "trade_good")
    items.loc[sold, "item_type"] = "product"
    items = items.drop_duplicates("unique_id").reset_index(drop=True)

    if len(events) and len(complete):
        events = events[events["at"] < periods[-1]]
        events = events.assign(ds=np.searchsorted(complete, events["at"], side="right") - 1)
        totals = events[events["ds"] >= 0].groupby(["unique_id", "ds"])["y"].sum()
    else:
        totals = pd.Series(dtype=float)
    grid_ids = items["unique_id"].tolist()
    if len(complete):
        grid = pd.MultiIndex.from_product(
            [grid_ids, range(len(complete))], names=["unique_id", "ds"]
        )
        demand = totals.reindex(grid, fill_value=0.0).rename("y").reset_index()
    else:
        demand = pd.DataFrame({"unique_id": [], "ds": [], "y": []})
    demand["ds"] = demand["ds"].astype(int)
    demand["y"] = demand["y"].astype(float)
    first_demand = (
        events.groupby("unique_id")["at"].min()
        if len(events)
        else pd.Series(dtype="datetime64[ns]")
    )
    firsts = first_demand.to_dict()
    items["first_demand"] = pd.Series(
        [firsts.get(uid, pd.NaT) for uid in items["unique_id"]], index=items.index, dtype=object
    )

    # -- stock positions ----------------------------------------------------------------------
    if len(stock):
        stock = stock[pd.to_datetime(stock["as_of"]) <= end]
    on_hand: dict[str, float] = {}
    counted_at: dict[str, pd.Timestamp] = {}
    if len(stock):
        stock = stock.assign(key=stock["material"].map(material_key))
        stock["as_of"] = pd.to_datetime(stock["as_of"])
        last = stock.groupby("key")["as_of"].transform("max")
        latest_rows = stock[stock["as_of"] == last]
        on_hand = latest_rows.groupby("key")["quantity"].sum().astype(float).to_dict()
        counted_at = latest_rows.groupby("key")["as_of"].max().to_dict()
    if len(moves):
        signed = moves.assign(
            key=moves["material"].map(material_key),
            at=pd.to_datetime(moves["occurred_at"]),
            signed=np.where(
                moves["transaction_type"].isin(RECEIPT_TYPES),
                moves["quantity"].astype(float).abs(),
                np.where(
                    moves["transaction_type"].isin(ISSUE_TYPES),
                    -moves["quantity"].astype(float).abs(),
                    0.0,
                ),
            ),
        )
        for key, group in signed.groupby("key"):
            if key in counted_at:
                after = group[group["at"] > counted_at[key]]
                on_hand[key] = on_hand.get(key, 0.0) + float(after["signed"].sum())
    # An item nobody counts (consignment stock, non-stock materials) has unknown stock, not
    # zero: it stays NaN, and the agent reports it once instead of a stock-out.
    items["on_hand"] = items["unique_id"].map(on_hand).astype(float)
    items["stock_known"] = items["on_hand"].notna()
    orders = _query(
        store,
        "SELECT material, quantity, ordered_at, received_at, status FROM purchase_order",
    )
    on_order: dict[str, float] = defaultdict(float)
    for row in orders.itertuples():
        ordered = pd.Timestamp(row.ordered_at) if row.ordered_at is not None else None
        received = pd.Timestamp(row.received_at) if row.received_at is not None else None
        if ordered is None or pd.isna(ordered) or ordered > end:
            continue
        if row.status in ("cancelled", "closed", "received"):
            continue
        if received is None or pd.isna(received) or received > end:
            on_order[material_key(row.material)] += float(row.quantity or 0.0)
    items["on_order"] = items["unique_id"].map(on_order).fillna(0.0)

    # -- machines and their spare parts ----------------------------------------------------------
    links = _approved_links(store)
    aliases: dict[str, str] = {}
    part_links: dict[str, str] = {}
    bom = _query(
        store,
        "SELECT space, parent, component, quantity FROM bom WHERE parent_type = 'asset'",
    )
    # The machines with spare-part BOMs are the assets of the spaces that hold those BOMs
    # (an engineering system), whatever the space is called.
    engineering = _query(
        store,
        "SELECT space, external_id FROM asset WHERE space IN "
        "(SELECT DISTINCT space FROM bom WHERE parent_type = 'asset')",
    )
    engineering_ids = set(engineering["external_id"]) if len(engineering) else set()
    machine_spaces: dict[str, str] = (
        dict(zip(engineering["external_id"], engineering["space"], strict=True))
        if len(engineering)
        else {}
    )
    for row in bom.itertuples() if len(bom) else ():
        machine_spaces.setdefault(str(row.parent), str(row.space))
    for source, target_type, target in links:
        if target in engineering_ids or (len(bom) and target in set(bom["parent"])):
            aliases[source] = target
        elif source in engineering_ids:
            aliases[target] = source
        if target_type == "material":
            part_links[source] = material_key(target)
    machines: dict[tuple[str, int], str] = {}
    parents = sorted(set(bom["parent"])) if len(bom) else []
    for machine in sorted(engineering_ids | set(parents)):
        machine_id = machine_key(machine)
        if machine_id is not None:
            machines.setdefault(machine_id, machine)

    issued: dict[tuple[str, int], Counter] = defaultdict(Counter)
    if len(moves):
        for row in moves[moves["transaction_type"] == "issue"].itertuples():
            alias = aliases.get(str(row.location))
            machine_id = machine_key(alias) if alias else machine_key(row.location)
            if machine_id is not None:
                issued[machine_id][material_key(row.material)] += 1
    spare_names = items[items["item_type"] == "spare_part"]
    by_part: dict[str, Counter] = defaultdict(Counter)
    for row in bom.itertuples() if len(bom) else ():
        machine_id = machine_key(row.parent)
        if machine_id is not None:
            by_part[str(row.component)].update(issued.get(machine_id, Counter()))
    spares: dict[str, list[SparePart]] = defaultdict(list)
    named_fallback: set[str] = set()
    for row in bom.itertuples() if len(bom) else ():
        part = str(row.component)
        if part in part_links:
            material, link = part_links[part], "annotation"
        elif material_key(part) in set(items["unique_id"]):
            material, link = material_key(part), "same number"
        elif by_part.get(part):
            material, link = by_part[part].most_common(1)[0][0], "issue history"
        else:
            kind = machine_key(row.parent)
            match = spare_names[spare_names["name"].map(kind_of_text) == (kind[0] if kind else "")]
            if len(match) == 1:
                material, link = str(match["unique_id"].iat[0]), "name names the machine kind"
                named_fallback.add(part)
            else:
                material, link = None, "unresolved"
        spares[str(row.parent)].append(
            SparePart(str(row.parent), part, material, float(row.quantity or 1.0), link)
        )
    if named_fallback:
        notes.append(
            f"spare part(s) {', '.join(sorted(named_fallback))} were never issued and have no "
            "approved annotation: linked to the spare-part material whose name names the "
            "machine kind."
        )
    unresolved = sorted({s.part_number for ps in spares.values() for s in ps if s.material is None})
    if unresolved:
        notes.append(
            f"spare part(s) {', '.join(unresolved)} match no material (no annotation, no issue "
            "history, no name): their stock cannot be checked."
        )
    return LogisticsData(
        as_of=end.to_pydatetime(),
        period_starts=complete,
        demand=demand,
        items=items,
        spares=dict(spares),
        machines=machines,
        aliases=aliases,
        notes=notes,
        dated=bool(stamps),
        machine_spaces=machine_spaces,
    )
