"""The silos other than MES and the historian: ERP, WMS, QMS, CRM and engineering."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from factorybrain.simulate._historian import HistorianPlan, machine_tags
from factorybrain.simulate._logistics import SalesPlan
from factorybrain.simulate._maintenance import DAY, PM_MINUTES, MaintenancePlan
from factorybrain.simulate._production import LotPlan
from factorybrain.simulate._silos import (
    _local,
    erp_date,
    local_offset,
    serial_text,
    utc,
    write_csv,
    write_json,
    write_jsonl,
    write_xlsx,
)
from factorybrain.simulate._timegrid import TimeGrid
from factorybrain.simulate._truth import Collected
from factorybrain.simulate._world import (
    MACHINE_TYPES,
    ROUTING_ORDER,
    World,
    maintenance_order_number,
    sales_order_number,
)

MATERIAL_TYPE = {"component": "ROH", "spare": "ERSA", "service_kit": "HAWA"}


def _lot_quantities(world: World, lots: LotPlan, collected: Collected, seed: int) -> np.ndarray:
    """Received quantity of every lot: what it supplied plus a margin, in whole packs."""
    rng = np.random.default_rng([seed, 1001])
    used = np.zeros(lots.material.size)
    for _, _, lot, quantity, _ in collected.consumption:
        used[lot] += quantity
    typical = np.zeros(lots.material.size)
    for members in lots.by_material.values():
        typical[members] = max(float(np.median(used[members])), 50.0)
    base = np.where(used > 0, used, typical)
    pack = np.array([25.0 if world.materials[m].unit == "KG" else 100.0 for m in lots.material])
    return np.ceil(base * rng.uniform(1.03, 1.12, base.size) / pack) * pack


def write_exports(
    out: Path,
    world: World,
    grid: TimeGrid,
    maintenance: MaintenancePlan,
    lots: LotPlan,
    historian: HistorianPlan,
    collected: Collected,
    sales: SalesPlan,
    claims: list[dict],
    seed: int,
) -> dict:
    """Write ERP, WMS, QMS, CRM, engineering and the historian's tag list.

    Returns:
        Counts of the planted dirt and the CRM claim ids (in claim order).
    """
    rng = np.random.default_rng([seed, 1002])
    start = grid.start_s
    dirt: dict = {"seen": {silo: set() for silo in ("wms", "qms", "crm", "engineering", "mes")}}
    lot_qty = _lot_quantities(world, lots, collected, seed)
    _historian_tags(out, historian)
    _erp(out, world, grid, maintenance, lots, collected, sales, lot_qty, rng, dirt)
    _wms(out, world, grid, maintenance, lots, collected, sales, lot_qty, rng, dirt)
    _qms(out, world, lots, collected, start, rng, grid, dirt)
    _crm(out, world, sales, claims, start, rng, dirt)
    _engineering(out, world, maintenance, grid, dirt)
    dirt["seen"]["mes"] = {
        world.materials[m].refs["mes"][0] for m in {c[1] for c in collected.consumption}
    } | {thing.refs["mes"][0] for thing in world.machines + world.products + world.lines}
    dirt["seen"]["mes"] |= {str(int(lots.batch[c[2]])) for c in collected.consumption}
    return dirt


def _historian_tags(out: Path, historian: HistorianPlan) -> None:
    write_csv(
        out / "historian" / "tags.csv",
        ["tag", "description", "eng_unit", "point_type"],
        [
            (tag, description, unit, "digital" if tag.endswith(".RUN") else "analog")
            for _, tag, description, unit, _ in historian.tags
        ],
    )


def _erp(out, world, grid, maintenance, lots, collected, sales, lot_qty, rng, dirt) -> None:
    start = grid.start_s
    folder = out / "erp"
    rows: list[tuple[object, ...]] = []
    for p in world.products:
        rows.append((p.refs["erp"][0], p.refs["erp"][1], "FERT", "ST", "", "", "", ""))
    for mat in world.materials:
        policy = maintenance.spare_policy.get(mat.index, {})
        rows.append(
            (
                mat.refs["erp"][0],
                mat.refs["erp"][1],
                MATERIAL_TYPE[mat.kind],
                mat.unit,
                f"{mat.price_eur:.2f}",
                mat.lead_time_days,
                policy.get("reorder_point", ""),
                world.suppliers[mat.supplier].refs["erp"][0],
            )
        )
    write_csv(
        folder / "materials.csv",
        ["MATNR", "MAKTX", "MTART", "MEINS", "STPRS", "PLIFZ", "MINBE", "LIFNR"],
        rows,
        ";",
    )
    rows = []
    for p in world.products:
        for position, (material, qty) in enumerate(p.bom, start=1):
            mat = world.materials[material]
            rows.append(
                (
                    f"{p.matnr - 10_000_000:08d}",
                    p.refs["erp"][0],
                    f"{10 * position:04d}",
                    mat.refs["erp"][0],
                    f"{qty:g}",
                    mat.unit,
                )
            )
    write_csv(folder / "bom.csv", ["STLNR", "MATNR", "POSNR", "IDNRK", "MENGE", "MEINS"], rows, ";")
    write_csv(
        folder / "suppliers.csv",
        ["LIFNR", "NAME1", "LAND1"],
        [(s.refs["erp"][0], s.refs["erp"][1], s.country) for s in world.suppliers],
        ";",
    )
    write_csv(
        folder / "customers.csv",
        ["KUNNR", "NAME1", "LAND1"],
        [(c.refs["erp"][0], c.refs["erp"][1], c.country) for c in world.customers],
        ";",
    )

    # purchase orders: one line per component lot, one per spare-part order
    rows = []
    receipt_date = erp_date(start, np.maximum(lots.receipt, -30 * DAY))
    order_minutes = []
    for lot in range(lots.material.size):
        mat = world.materials[int(lots.material[lot])]
        order_minutes.append(int(lots.receipt[lot]) - mat.lead_time_days * DAY)
    order_date = erp_date(start, order_minutes)
    promised = erp_date(
        start, np.array(lots.receipt) - rng.integers(-1, 4, lots.material.size) * DAY
    )
    # a purchase order range per plant: 45... on its own, 46... at site 1, 47... at site 2
    po = world.site.number_range(4_500_000_000, 10**8)
    for lot in np.argsort(np.array(order_minutes), kind="stable"):
        mat = world.materials[int(lots.material[lot])]
        po += 1
        rows.append(
            (
                str(po),
                "00010",
                world.suppliers[mat.supplier].refs["erp"][0],
                mat.refs["erp"][0],
                f"{lot_qty[lot]:g}",
                mat.unit,
                order_date[lot],
                promised[lot],
                receipt_date[lot],
                f"{int(lots.batch[lot]):010d}",
                lots.vendor_lot[lot],
            )
        )
    spare_orders = [mv for mv in maintenance.movements if mv.kind == "order"]
    receipts_by_part: dict[int, list] = {}
    for mv in maintenance.movements:
        if mv.kind == "receipt":
            receipts_by_part.setdefault(mv.material, []).append(mv)
    used: dict[int, int] = {}
    for mv in spare_orders:
        mat = world.materials[mv.material]
        k = used.get(mv.material, 0)
        used[mv.material] = k + 1
        arrivals = receipts_by_part.get(mv.material, [])
        received = erp_date(start, [arrivals[k].time])[0] if k < len(arrivals) else ""
        po += 1
        rows.append(
            (
                str(po),
                "00010",
                world.suppliers[mat.supplier].refs["erp"][0],
                mat.refs["erp"][0],
                f"{mv.quantity}",
                mat.unit,
                erp_date(start, [mv.time])[0],
                erp_date(start, [mv.time + mat.lead_time_days * DAY])[0],
                received,
                "",
                "",
            )
        )
    write_csv(
        folder / "purchase_orders.csv",
        [
            "EBELN",
            "EBELP",
            "LIFNR",
            "MATNR",
            "MENGE",
            "MEINS",
            "BEDAT",
            "EINDT",
            "WEDAT",
            "CHARG",
            "LICHA",
        ],
        rows,
        ";",
    )

    # sales orders with a few duplicated export lines and late-entered orders at the end
    n = sales.order_qty.size
    material_ref = np.array(
        [p.refs["erp"][0] for p in world.products] + [m.refs["erp"][0] for m in world.materials],
        dtype=object,
    )
    item = np.where(
        sales.order_product >= 0, sales.order_product, len(world.products) + sales.order_material
    )
    status = np.where(
        sales.order_delivered >= sales.order_qty, "C", np.where(sales.order_delivered > 0, "B", "A")
    )
    customer_ref = np.array([c.refs["erp"][0] for c in world.customers], dtype=object)
    created = erp_date(start, sales.order_time)
    requested = erp_date(start, sales.order_requested)
    numbers = np.char.mod("%010d", sales_order_number(world, np.arange(n)))
    order_rows = [
        (
            numbers[i],
            "000010",
            customer_ref[sales.order_customer[i]],
            material_ref[item[i]],
            int(sales.order_qty[i]),
            created[i],
            requested[i],
            int(sales.order_delivered[i]),
            status[i],
        )
        for i in range(n)
    ]
    late = rng.random(n) < 0.01
    duplicate = rng.random(n) < 0.002
    final = [row for row, is_late in zip(order_rows, late, strict=True) if not is_late]
    final += [order_rows[i] for i in np.flatnonzero(duplicate)]
    final += [order_rows[i] for i in np.flatnonzero(late)]
    dirt["erp_duplicate_sales_rows"] = int(duplicate.sum())
    dirt["erp_late_sales_rows"] = int(late.sum())
    write_csv(
        folder / "sales_orders.csv",
        ["VBELN", "POSNR", "KUNNR", "MATNR", "KWMENG", "ERDAT", "VDATU", "LFMNG", "GBSTK"],
        final,
        ";",
    )

    rows = []
    wos = collected.work_orders + collected.open_orders
    starts = erp_date(start, [wo["release"] for wo in wos])
    dues = erp_date(start, [wo["due"] for wo in wos])
    for i, wo in enumerate(wos):
        product = world.products[wo["product"]]
        state = {"COMPLETED": "TECO", "IN_PROGRESS": "REL"}.get(wo.get("status", ""), "CRTD")
        rows.append(
            (
                wo["erp_order"],
                product.refs["erp"][0],
                wo["qty_planned"],
                world.lines[wo["line"]].refs["erp"][0],
                starts[i],
                dues[i],
                state,
            )
        )
    write_csv(
        folder / "production_orders.csv",
        ["AUFNR", "MATNR", "GAMNG", "ARBPL", "GSTRP", "GLTRP", "ISTAT"],
        rows,
        ";",
    )

    rows = []
    for m in world.machines:
        rows.append(
            (
                m.refs["erp"][0],
                m.refs["erp"][1],
                f"{world.site.plant}-{world.lines[m.line - 1].refs['erp'][0]}-{m.mtype.code}",
                m.vendor,
                m.model,
                2014 + m.index % 9,
            )
        )
    write_csv(
        folder / "equipment.csv", ["EQUNR", "EQKTX", "TPLNR", "HERST", "TYPBZ", "BAUJJ"], rows, ";"
    )

    rows = []
    events = [(f.time, "PM02", f.machine, f) for f in maintenance.failures]
    events += [(t, "PM01", mi, None) for mi, t in maintenance.pms]
    events.sort(key=lambda e: (e[0], e[2]))
    number = 5_000_000
    for t, kind, mi, failure in events:
        m = world.machines[mi]
        if failure is not None:
            order = maintenance_order_number(world, failure.order_id)
            end = failure.repair_end
            text = f"Breakdown {m.mtype.word} {m.number}: {m.mtype.failure_mode}"
            spare = world.material_by_part(m.mtype.spare_part).refs["erp"][0]
            qty = 1
        else:
            number += 1
            order = str(world.site.number_range(6_000_000 + number - 5_000_000, 10**8))
            end = t + PM_MINUTES
            text = f"Preventive maintenance {m.mtype.word} {m.number}"
            spare, qty = "", ""
        rows.append(
            (
                order,
                kind,
                m.refs["erp"][0],
                text,
                erp_date(start, [t])[0],
                str(_local(start, [t])[0])[11:],
                erp_date(start, [min(end, grid.minutes)])[0],
                str(_local(start, [min(end, grid.minutes)])[0])[11:],
                spare,
                qty,
            )
        )
    write_csv(
        folder / "maintenance_orders.csv",
        ["AUFNR", "AUART", "EQUNR", "KTEXT", "GSTRP", "GSUZP", "GLTRP", "GLUZP", "MATNR", "MENGE"],
        rows,
        ";",
    )

    # weekly stock (Sunday 23:59 local): components, spares, finished goods
    weeks = np.arange(6 * DAY + 23 * 60, grid.minutes, 7 * DAY)
    rows = []
    if weeks.size:
        dates = erp_date(start, weeks)
        for material, members in sorted(lots.by_material.items()):
            mat = world.materials[material]
            times = np.concatenate(
                [lots.receipt[members], [c[4] for c in collected.consumption if c[1] == material]]
            )
            delta = np.concatenate(
                [lot_qty[members], [-c[3] for c in collected.consumption if c[1] == material]]
            )
            by_time = np.argsort(times, kind="stable")
            level = np.cumsum(delta[by_time])
            pos = np.searchsorted(times[by_time], weeks, side="right") - 1
            for w, p in zip(range(weeks.size), pos, strict=True):
                rows.append(
                    (dates[w], mat.refs["erp"][0], "RM01", f"{level[p] if p >= 0 else 0.0:.2f}")
                )
        for part, policy in sorted(maintenance.spare_policy.items()):
            mat = world.materials[part]
            mvs = [mv for mv in maintenance.movements if mv.material == part and mv.kind != "order"]
            times = np.array([mv.time for mv in mvs], dtype=np.int64)
            level = policy["initial"] + np.cumsum([mv.quantity for mv in mvs])
            pos = np.searchsorted(times, weeks, side="right") - 1
            for w, p in zip(range(weeks.size), pos, strict=True):
                rows.append(
                    (
                        dates[w],
                        mat.refs["erp"][0],
                        "MRO1",
                        f"{level[p] if p >= 0 else policy['initial']:.2f}",
                    )
                )
        for product in world.products:
            mask = sales.unit_product == product.index
            made = np.sort(sales.unit_finish[mask])
            shipped = np.sort(sales.unit_ship[mask][sales.unit_ship[mask] >= 0])
            level = np.searchsorted(made, weeks, side="right") - np.searchsorted(
                shipped, weeks, side="right"
            )
            for w in range(weeks.size):
                rows.append((dates[w], product.refs["erp"][0], "FG01", f"{level[w]:.2f}"))
    write_csv(folder / "inventory.csv", ["STICHTAG", "MATNR", "LGORT", "LABST"], rows, ";")


def _wms(out, world, grid, maintenance, lots, collected, sales, lot_qty, rng, dirt) -> None:
    start = grid.start_s
    folder = out / "wms"
    records: list[tuple[int, str, str, str, float, str, str, str, str]] = []
    for lot in range(lots.material.size):
        if lots.receipt[lot] < 0:
            continue
        mat = world.materials[int(lots.material[lot])]
        records.append(
            (
                int(lots.receipt[lot]),
                "GR",
                mat.refs["wms"][0],
                f"B{int(lots.batch[lot])}",
                float(lot_qty[lot]),
                mat.unit,
                "DOCK-1",
                "RM-A",
                world.suppliers[mat.supplier].refs["wms"][0],
            )
        )
    for wo_number, material, lot, quantity, t in collected.consumption:
        mat = world.materials[material]
        line = int(wo_number[-8:-5])
        records.append(
            (
                t - 30,
                "GI-PROD",
                mat.refs["wms"][0],
                f"B{int(lots.batch[lot])}",
                quantity,
                mat.unit,
                "RM-A",
                f"L{line}-SUPERMARKET",
                wo_number,
            )
        )
    for mv in maintenance.movements:
        if mv.kind == "order":
            continue
        mat = world.materials[mv.material]
        if mv.kind == "receipt":
            records.append(
                (
                    mv.time,
                    "GR",
                    mat.refs["wms"][0],
                    "",
                    float(mv.quantity),
                    mat.unit,
                    "DOCK-1",
                    "MRO-STORE",
                    world.suppliers[mat.supplier].refs["wms"][0],
                )
            )
        else:
            machine = world.machines[mv.machine]
            records.append(
                (
                    mv.time,
                    "GI-MRO",
                    mat.refs["wms"][0],
                    "",
                    1.0,
                    mat.unit,
                    "MRO-STORE",
                    machine.refs["wms"][0],
                    maintenance_order_number(world, mv.order_id),
                )
            )
    kit = np.flatnonzero(sales.order_material >= 0)
    for i in kit:
        mat = world.materials[int(sales.order_material[i])]
        t = int(sales.order_time[i]) + DAY
        if t < grid.minutes:
            records.append(
                (
                    t,
                    "SHIP",
                    mat.refs["wms"][0],
                    "",
                    float(sales.order_qty[i]),
                    mat.unit,
                    "FG-KITS",
                    world.customers[int(sales.order_customer[i])].refs["wms"][0],
                    f"SO{sales_order_number(world, int(i))}",
                )
            )
    records.sort(key=lambda r: (r[0], r[1], r[2], r[8]))
    seen = dirt["seen"]["wms"]
    for record in records:
        seen.update((record[2], record[3], record[7], record[8]))
    times = utc(start, [r[0] for r in records])
    rows = [(world.site.mark(f"M{k + 1:08d}"), times[k], *r[1:]) for k, r in enumerate(records)]
    duplicate = rng.random(len(rows)) < 0.004
    late = rng.random(len(rows)) < 0.01
    final = []
    for row, dup, is_late in zip(rows, duplicate, late, strict=True):
        if not is_late:
            final.append(row)
        if dup:
            final.append(row)
    final += [row for row, is_late in zip(rows, late, strict=True) if is_late]
    dirt["wms_duplicate_movements"] = int(duplicate.sum())
    dirt["wms_late_movements"] = int(late.sum())
    write_csv(
        folder / "movements.csv",
        [
            "movement_id",
            "ts",
            "movement_type",
            "sku",
            "batch",
            "qty",
            "uom",
            "from_loc",
            "to_loc",
            "reference",
        ],
        final,
    )

    shipped = np.flatnonzero(sales.unit_ship >= 0)
    order = shipped[np.lexsort((sales.unit_serial[shipped], sales.unit_ship[shipped]))]
    sku = np.array([p.refs["wms"][0] for p in world.products], dtype=object)
    ship_to = np.array([c.refs["wms"][0] for c in world.customers], dtype=object)
    customers = sales.order_customer[sales.unit_order[order]]
    seen.update(sku[np.unique(sales.unit_product[order])].tolist())
    seen.update(ship_to[np.unique(customers)].tolist())

    def shipment_rows():
        # formatted in slices so a plant with millions of shipped serials stays in bounded memory
        for first in range(0, order.size, 100_000):
            part = order[first : first + 100_000]
            yield from zip(
                np.char.mod(world.site.mark("SH%07d"), sales.unit_shipment[part]).tolist(),
                utc(start, sales.unit_ship[part]).tolist(),
                np.char.mod("SO%d", sales_order_number(world, sales.unit_order[part])).tolist(),
                ship_to[customers[first : first + 100_000]].tolist(),
                sku[sales.unit_product[part]].tolist(),
                serial_text(sales.unit_serial[part]).tolist(),
                strict=True,
            )

    write_csv(
        folder / "shipments.csv",
        ["shipment_id", "shipped_at", "sales_order", "ship_to", "sku", "serial_no"],
        shipment_rows(),
    )


def _qms(out, world, lots, collected, start, rng, grid, dirt) -> None:
    incoming = []
    used_lots = sorted({c[2] for c in collected.consumption})
    local = _local(
        start,
        [max(int(lots.receipt[lot]), 0) + int(rng.integers(60, 2 * DAY)) for lot in used_lots],
    )
    for k, lot in enumerate(used_lots):
        mat = world.materials[int(lots.material[lot])]
        supplier = world.suppliers[mat.supplier]
        bad = lot in lots.bad
        sample = int(rng.choice([20, 32, 50, 80]))
        defects = int(rng.poisson(2.5 if bad else 0.15))
        decision = "accepted under deviation" if defects >= 2 else "accepted"
        incoming.append(
            [
                np.datetime64(str(local[k]).replace(" ", "T")).astype("datetime64[s]").item(),
                lots.vendor_lot[lot],
                mat.refs["qms"][0],
                supplier.refs["qms"][0],
                sample,
                defects,
                decision,
            ]
        )
    audits = []
    times = _local(start, [a["time"] for a in collected.audits])
    for k, audit in enumerate(collected.audits):
        machine = world.machines[audit["machine"]]
        audits.append(
            [
                np.datetime64(str(times[k]).replace(" ", "T")).astype("datetime64[s]").item(),
                str(serial_text(audit["serial"])),
                world.products[audit["product"]].refs["qms"][0],
                world.lines[audit["line"]].refs["qms"][0],
                machine.refs["qms"][0],
                audit["characteristic"],
                audit["value"],
                audit["unit"],
                audit["usl"],
                "OK" if audit["value"] <= audit["usl"] else "NOK",
            ]
        )
    audits.sort(key=lambda row: (row[0], row[1]))
    seen = dirt["seen"]["qms"]
    for row in incoming:
        seen.update(row[1:4])
    for row in audits:
        seen.update(row[1:5])
    write_xlsx(
        out / "qms" / "inspections.xlsx",
        {
            "Incoming": (
                [
                    "Insp. Date",
                    "Supplier Lot",
                    "Part No.",
                    "Supplier",
                    "Sample Size",
                    "Defects",
                    "Decision",
                ],
                incoming,
            ),
            "Audits": (
                [
                    "Audit Date",
                    "Serial",
                    "Product",
                    "Line",
                    "Machine",
                    "Characteristic",
                    "Value",
                    "Unit",
                    "USL",
                    "Result",
                ],
                audits,
            ),
        },
    )


def _crm_serial(text: str, rng: np.random.Generator) -> str:
    """Service staff copy serials from nameplates in their own way."""
    choice = rng.random()
    if choice < 0.55:
        return text
    if choice < 0.7:
        return text.lower()
    if choice < 0.85:
        return f"{text[:2]} {text[2:5]} {text[5:]}"
    return text[2:].lstrip("0") if rng.random() < 0.5 else f"{text[:2]}-{text[2:]}"


def _crm(out, world, sales, claims, start, rng, dirt) -> None:
    records, claim_ids = [], []
    duplicates, unknown, typed_serials = [], [], []
    created = local_offset(start, [c["reported"] for c in claims])
    for k, claim in enumerate(claims):
        claim_id = world.site.mark(f"WC-{k + 1:06d}")
        claim_ids.append(claim_id)
        serial = str(serial_text(claim["serial"]))
        typed = _crm_serial(serial, rng)
        if rng.random() < 0.02:
            digits = list(typed)
            positions = [
                i
                for i, ch in enumerate(digits[:-1])
                if ch.isdigit() and digits[i + 1].isdigit() and ch != digits[i + 1]
            ]
            if positions:
                i = positions[int(rng.integers(len(positions)))]
                digits[i], digits[i + 1] = digits[i + 1], digits[i]
                typed = "".join(digits)
                unknown.append({"claim_id": claim_id, "typed": typed, "serial": serial})
        customer = world.customers[claim["customer"]]
        record = {
            "claim_id": claim_id,
            "created": created[k],
            "channel": ["phone", "email", "portal", "installer"][int(rng.integers(4))],
            "customer": customer.refs["crm"][0],
            "product": world.products[claim["product"]].refs["crm"][0],
            "serial_number": typed,
            "failure_date": str(np.datetime64(int(start + 60 * claim["failed"]), "s"))[:10],
            "description": claim["text"],
            "status": "open"
            if claim["reported"] > (claims[-1]["reported"] - 14 * DAY)
            else ["closed", "replaced", "repaired"][int(rng.integers(3))],
        }
        records.append(record)
        typed_serials.append(typed)
        if rng.random() < 0.04:
            again = dict(record)
            again["claim_id"] = f"{claim_id}-D"
            again["channel"] = "installer" if record["channel"] != "installer" else "phone"
            records.append(again)
            duplicates.append({"claim_id": again["claim_id"], "duplicate_of": claim_id})
    dirt["claim_ids"] = claim_ids
    dirt["typed_serials"] = typed_serials
    dirt["seen"]["crm"] = {r["customer"] for r in records} | {r["product"] for r in records}
    dirt["crm_duplicate_claims"] = duplicates
    dirt["crm_mistyped_serials"] = unknown
    write_jsonl(out / "crm" / "claims.jsonl", records)


def _engineering(out, world, maintenance, grid, dirt) -> None:
    folder = out / "engineering"
    products = []
    revision_date = str(np.datetime64(int(grid.start_s + 60 * (grid.minutes // 2)), "s"))[:10]
    for p in world.products:
        revisions = [{"revision": "A", "released": "2023-03-01", "change": "Initial release"}]
        if p.index == 0:
            revisions.append(
                {
                    "revision": "B",
                    "released": revision_date,
                    "change": "Winding tension setpoint lowered after efficiency study",
                }
            )
        products.append(
            {
                "part_number": p.refs["engineering"][0],
                "name": p.name,
                "family": p.family,
                "revisions": revisions,
                "bom": [
                    {
                        "part_number": world.materials[m].refs["engineering"][0],
                        "quantity": q,
                        "unit": "kg" if world.materials[m].unit == "KG" else "pcs",
                    }
                    for m, q in p.bom
                ],
                "routing": [
                    {
                        "op": MACHINE_TYPES[code].op_seq,
                        "name": MACHINE_TYPES[code].op_name,
                        "workcell": MACHINE_TYPES[code].long_word,
                        "ideal_cycle_s": round(p.ideal_ct_min[code] * 60, 1),
                        "setup_min": 40,
                    }
                    for code in ROUTING_ORDER
                ],
                "lines": [
                    world.lines[i].refs["engineering"][0]
                    for i in range(len(world.lines))
                    if p.index in world.lines[i].product_indices
                ],
            }
        )
    write_json(folder / "products.json", {"products": products})
    recipes = []
    for p in world.products:
        spec = {
            "wire_tension_N": {
                "setpoint": p.tension_recipe,
                "min": round(p.tension_recipe - 3 * p.tension_scale, 2),
                "max": round(p.tension_recipe + 3 * p.tension_scale, 2),
            },
            "press_force_kN": {
                "setpoint": p.force_recipe,
                "min": round(p.force_recipe - 3 * p.force_scale, 2),
                "max": round(p.force_recipe + 3 * p.force_scale, 2),
            },
            "spindle_speed_rpm": {"setpoint": p.regime["rpm"]},
            "test_pressure_bar": {"setpoint": p.regime["test_bar"]},
        }
        recipes.append(
            {
                "product": p.refs["engineering"][0],
                "revision": "A",
                "valid_from": "2023-03-01",
                "parameters": spec,
            }
        )
        if p.index == 0:
            spec_b = {k: dict(v) for k, v in spec.items()}
            spec_b["wire_tension_N"]["setpoint"] = round(p.tension_opt + 0.4 * p.tension_scale, 2)
            recipes.append(
                {
                    "product": p.refs["engineering"][0],
                    "revision": "B",
                    "valid_from": revision_date,
                    "parameters": spec_b,
                }
            )
    write_json(folder / "recipes.json", {"recipes": recipes})
    equipment = []
    for m in world.machines:
        part = world.material_by_part(m.mtype.spare_part)
        equipment.append(
            {
                "asset": m.refs["engineering"][0],
                "type": m.mtype.long_word,
                "vendor": m.vendor,
                "model": m.model,
                "operation": m.mtype.op_seq,
                "spare_parts": [
                    {
                        "part_number": part.refs["engineering"][0],
                        "quantity": 1,
                        "replaced_at": "corrective repair",
                    }
                ],
                "preventive_maintenance_days": m.mtype.pm_interval_days,
                "sensors": [
                    {"signal": tag.split(".")[1], "description": description, "unit": unit}
                    for tag, description, unit in machine_tags(m)
                ],
            }
        )
    write_json(folder / "equipment.json", {"equipment": equipment})
    text = (folder / "products.json").read_text() + (folder / "equipment.json").read_text()
    dirt["seen"]["engineering"] = {
        ref
        for thing in world.machines + world.products + world.materials + world.lines
        for ref in thing.refs.get("engineering", [])[:1]
        if f'"{ref}"' in text
    }
