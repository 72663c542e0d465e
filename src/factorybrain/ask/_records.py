"""Record questions: trace a serial or a lot through the genealogy, explain a finding."""

from __future__ import annotations

import json

from factorybrain.ask._answer import Answer, rows
from factorybrain.context import backward, forward, resolve_serial
from factorybrain.exceptions import ParameterError
from factorybrain.store import Store


def trace(store: Store, identifier: str) -> Answer:
    """Trace a serial (its order, product, tests, claims) or a lot (its orders and serials).

    A serial is accepted as people type it (case, spaces, separators, zero padding aside); a lot
    as any silo writes it. A lot reaches its serials through every consumption recorded: into
    an order (and that order in every other silo: the ERP order's serials are the ones the MES
    recorded for it) or straight into a unit.
    """
    resolved = resolve_serial(store, identifier)
    serial = (
        rows(
            store.query(
                "SELECT space, external_id, product, work_order, produced_at, status "
                "FROM serial_unit WHERE external_id = ? LIMIT 1",
                [resolved],
            )
        )
        if resolved is not None
        else []
    )
    if serial:
        unit = serial[0]
        tests = rows(
            store.query(
                "SELECT test_name, value, status FROM quality_result WHERE serial_unit = ?",
                [unit["external_id"]],
            )
        )
        claims = rows(
            store.query(
                "SELECT external_id, failure_date FROM warranty_claim WHERE serial_unit = ? "
                "OR external_id IN (SELECT w.external_id FROM warranty_claim w JOIN annotation a "
                "ON a.source_space = w.space AND a.source_identifier = w.serial_unit "
                "WHERE a.status = 'approved' AND a.target_type = 'serial_unit' "
                "AND a.target_external_id = ?)",
                [unit["external_id"], unit["external_id"]],
            )
        )
        origin = backward(store, unit["external_id"])
        lots = origin.tables.get("lots")
        lot_names = []
        if lots is not None and len(lots):
            for lot, batch in zip(lots.lot, lots.batch, strict=True):
                lot_names.append(str(lot if isinstance(lot, str) else batch))
        order = origin.tables["work_order"]
        work_order = unit["work_order"] or (order.work_order.iloc[0] if len(order) else None)
        failed = [t for t in tests if t["status"] == "fail"]
        as_given = "" if identifier == unit["external_id"] else f" (given as {identifier!r})"
        text = (
            f"Serial {unit['external_id']}{as_given}: {unit['product']}, work order "
            f"{work_order}, made {unit['produced_at']}, now {unit['status']}; "
            f"{len(tests)} test result(s), {len(failed)} failed; {len(claims)} warranty "
            f"claim(s); lots consumed by its order: "
            + (", ".join(dict.fromkeys(lot_names[:12])) or "none recorded")
            + "."
        )
        citations = [{"type": "serial_unit", "external_id": unit["external_id"]}]
        if work_order:
            citations.append({"type": "work_order", "external_id": str(work_order)})
        citations += [{"type": "warranty_claim", "external_id": c["external_id"]} for c in claims]
        citations += [
            {"type": "material_lot", "external_id": name} for name in dict.fromkeys(lot_names)
        ]
        return Answer(
            identifier,
            text,
            "trace",
            citations,
            {"tests": float(len(tests)), "claims": float(len(claims))},
        )
    try:
        found = forward(store, identifier.strip())
    except ParameterError:
        return Answer(identifier, f"I found no serial or lot {identifier!r}.", "trace")
    orders = found.tables["work_orders"]
    consumers = orders[orders["linked_from"].isna()] if "linked_from" in orders else orders
    serials = found.tables["serials"]
    if consumers.empty and serials.empty:
        return Answer(
            identifier,
            f"Lot {identifier} is known but no consumption of it is recorded: it went into no "
            "work order or unit yet.",
            "trace",
            [{"type": "material_lot", "external_id": str(lot)} for lot in found.tables["lots"].lot],
            {"work_orders": 0.0, "serials": 0.0},
        )
    linked = len(orders) - len(consumers)
    lots = found.tables["lots"]
    origins = [
        f"{lot} is supplier lot {vendor} of {supplier_name or supplier}"
        for lot, vendor, supplier, supplier_name in zip(
            lots.lot, lots.supplier_lot, lots.supplier, lots.supplier_name, strict=True
        )
        if isinstance(vendor, str) and isinstance(supplier, str)
    ]
    text = (
        (f"{'; '.join(origins)}. " if origins else "")
        + f"Lot {identifier} was consumed by {len(consumers)} work order(s) "
        f"({', '.join(map(str, consumers.work_order.head(10)))})"
        + (f", the same orders as {linked} order(s) of another silo" if linked else "")
        + f", which made {len(serials)} serial(s)"
        + (
            f": {', '.join(map(str, serials.serial.head(5)))}"
            + (", ..." if len(serials) > 5 else "")
            if len(serials)
            else ""
        )
        + "."
    )
    citations = [
        {"type": "material_lot", "space": str(space), "external_id": str(lot)}
        for space, lot in zip(lots.space, lots.lot, strict=True)
    ]
    citations += [
        {"type": "supplier", "external_id": str(supplier)}
        for supplier in dict.fromkeys(lots.supplier)
        if isinstance(supplier, str)
    ]
    citations += [{"type": "work_order", "external_id": str(o)} for o in orders.work_order.head(50)]
    return Answer(
        identifier,
        text,
        "trace",
        citations,
        {"work_orders": float(len(consumers)), "serials": float(len(serials))},
    )


def explain_finding(store: Store, finding_id: str) -> Answer:
    """What a finding says, on which evidence, and what was recommended about it."""
    found = rows(
        store.query(
            "SELECT external_id, agent, kind, subject, severity, confidence, evidence, created_at "
            "FROM finding WHERE space = 'agents' AND external_id = ?",
            [finding_id],
        )
    )
    if not found:
        return Answer(finding_id, f"There is no finding {finding_id!r}.", "explain_finding")
    finding = found[0]
    evidence = (
        json.loads(finding["evidence"])
        if isinstance(finding["evidence"], str)
        else finding["evidence"] or {}
    )
    numbers = {
        k: float(v)
        for k, v in (evidence.get("numbers") or {}).items()
        if isinstance(v, int | float)
    }
    text = (
        f"{finding['agent']} reported {finding['kind']} on {finding['subject']} "
        f"({finding['severity']}, confidence {float(finding['confidence'] or 0):.2f}) at "
        f"{finding['created_at']}: {evidence.get('text') or 'no text'}"
        + (" Numbers: " + ", ".join(f"{k} = {v:g}" for k, v in numbers.items()) if numbers else "")
        + "."
    )
    citations = [{"type": "finding", "external_id": finding_id}]
    citations += [
        {"type": ref.get("type"), "external_id": ref.get("external_id")}
        for ref in evidence.get("refs") or []
    ]
    return Answer(finding_id, text, "explain_finding", citations, numbers)


__all__ = ["explain_finding", "trace"]
