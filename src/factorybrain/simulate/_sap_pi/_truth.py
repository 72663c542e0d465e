"""``truth.json`` of the gear plant, in the schema of the first demo plant plus what is new here.

The keys every scorer reads are the first plant's (``entities``, ``failures``,
``anomaly_windows``, ``bad_supplier_lots``, ``claims``, ``claim_clusters``, ``oee``,
``spare_policy``, ``spare_stockouts``, ``open_work_orders``, ``dirt``...). New: ``source_records``
(per file, the records a correct loader must account for, counted while writing, independently
of the platform), ``stock`` (what the stock extract can and cannot say), ``rejected_lots`` and
``historian_states`` (the digital states in place of values).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from factorybrain.simulate._sap_pi._calendar import DAY, LOCAL_TZ, iso_utc
from factorybrain.simulate._sap_pi._formats import write_json
from factorybrain.simulate._sap_pi._maintenance import (
    DETECTABLE_HEALTH,
    DRIFT_GAIN,
    OBSERVABLE_RUNNING_MINUTES,
)
from factorybrain.simulate._sap_pi._production import (
    BAD_LOT_NOISE_DB,
    MAINT_DELAY,
    MINOR_STOP,
    NON_SCHEDULED,
    PM,
    PRODUCTIVE,
    REPAIR,
    SETUP,
    STANDBY,
)
from factorybrain.simulate._sap_pi._sales import DEGRADED_HEALTH, FIELD_LIFE
from factorybrain.simulate._sap_pi._story import Story
from factorybrain.simulate._sap_pi._world import MACHINE_TYPES, ROUTING, pad

TRUTH_VERSION = 1
PLANT_NAME = "Drautal Getriebewerk (gear units), Villach"


def _keep(refs: dict[str, list[str]], seen: dict[str, set[str]]) -> dict[str, list[str]]:
    """Each silo's names of an object, only those the silo actually wrote, first name first."""
    out = {}
    for silo, names in refs.items():
        present = [n for n in dict.fromkeys(names) if n and n in seen.get(silo, set())]
        if present:
            out[silo] = present
    return out


def write_truth(story: Story, path: Path) -> dict[str, Any]:
    """Write ``truth.json`` and return it."""
    world = story.world
    calendar = story.calendar
    minutes = calendar.minutes
    seen = story.seen

    def ts(minute: float) -> str:
        return iso_utc(calendar.start_s + 60 * minute)

    entities: list[dict[str, Any]] = []
    for line in world.lines:
        entities.append(
            {
                "id": line.canonical,
                "type": "line",
                "name": f"Line {line.number}",
                "refs": _keep(line.refs, seen),
            }
        )
    for m in world.machines:
        entities.append(
            {
                "id": m.canonical,
                "type": "equipment",
                "name": f"{MACHINE_TYPES[m.type_code].english} line {m.line}",
                "line": world.lines[m.line - 1].canonical,
                "machine_type": MACHINE_TYPES[m.type_code].english,
                "refs": _keep(m.refs, seen),
            }
        )
    for p in world.products:
        refs = {
            "erp": [pad(p.matnr, 18), p.text_de, p.text_en, str(p.matnr), p.bismt],
            "mes": [str(p.matnr)],
            "qms": [p.short],
            "crm": list(p.crm_forms),
        }
        entities.append(
            {"id": p.canonical, "type": "product", "name": p.text_en, "refs": _keep(refs, seen)}
        )
    for mat in world.materials:
        refs = {
            "erp": [pad(mat.matnr, 18), mat.text_de, str(mat.matnr), mat.bismt],
            "mes": [str(mat.matnr)],
            "qms": [mat.key, mat.key.split("-", 1)[1]] if mat.key.startswith("KRL") else [],
        }
        entities.append(
            {
                "id": mat.canonical,
                "type": "material",
                "name": mat.text_en,
                "kind": {"ROH": "component", "NLAG": "non_stock", "ERSA": "spare"}[mat.mtart],
                "refs": _keep(refs, seen),
            }
        )
    for s in world.suppliers:
        refs = {"erp": s.refs["erp"], "qms": [s.qms_name]}
        entities.append(
            {"id": s.canonical, "type": "supplier", "name": s.name, "refs": _keep(refs, seen)}
        )
    for c in world.customers:
        entities.append(
            {"id": c.canonical, "type": "customer", "name": c.name, "refs": _keep(c.refs, seen)}
        )
    book = story.book
    for lot in book.lots:
        mat = world.materials[lot.material]
        refs = {
            "erp": [pad(lot.charg, 10), lot.licha],
            "mes": [lot.licha],
            "qms": [lot.licha, str(lot.charg), pad(lot.charg, 10)],
        }
        entities.append(
            {
                "id": f"LOT-{lot.charg}",
                "type": "supplier_lot",
                "material": mat.canonical,
                "supplier": world.suppliers[mat.supplier].canonical,
                "refs": _keep(refs, seen),
            }
        )
    for order in story.orders:
        if order.created >= minutes:
            continue
        refs = {"erp": [pad(order.aufnr, 12)], "mes": [str(order.aufnr)]}
        entities.append(
            {
                "id": f"WO-{order.aufnr}",
                "type": "work_order",
                "product": world.products[order.product].canonical,
                "refs": _keep(refs, seen),
            }
        )
    for sale in story.sales.orders:
        entities.append(
            {
                "id": f"SO-{sale.vbeln}",
                "type": "sales_order",
                "refs": _keep({"erp": [pad(sale.vbeln, 10)]}, seen),
            }
        )
    for point in story.pi["points"]:
        asset = (
            world.machines[point["machine"]].canonical
            if point["machine"] is not None
            else world.lines[point["line"]].canonical
        )
        parent = (
            world.machines[point["machine"]].af_path
            if point["machine"] is not None
            else world.lines[point["line"]].af_path
        )
        entities.append(
            {
                "id": f"TS-{point['tag']}",
                "type": "time_series",
                "asset": asset,
                "sensor": point["signal"],
                "unit": point["unit"],
                "refs": {
                    "historian": [
                        point["tag"],
                        point["descriptor"],
                        f"{parent}|{point['af_attribute']}",
                    ]
                },
            }
        )

    failures, windows = _failures(story, ts)
    bad_lots = _bad_lots(story)
    claims, clusters = _claims(story, ts)
    oee = _oee(story)
    policy = {
        world.materials[part].canonical: values
        for part, values in sorted(story.maintenance.spare_policy.items())
    }
    stockouts = [
        {
            "part": world.materials[part].canonical,
            "machine": world.machines[machine].canonical,
            "start": ts(a),
            "end": ts(b),
            "hours": round((b - a) / 60, 2),
        }
        for part, machine, a, b in story.maintenance.stockouts
    ]
    sensor_faults = []
    if story.pi.get("stuck"):
        mi, tag, a, b = story.pi["stuck"]
        sensor_faults.append(
            {
                "machine": world.machines[mi].canonical,
                "tag": tag,
                "kind": "stuck",
                "start": ts(a),
                "end": ts(b),
                "magnitude": None,
            }
        )
    if story.pi.get("bad_input"):
        mi, tag, a, b = story.pi["bad_input"]
        sensor_faults.append(
            {
                "machine": world.machines[mi].canonical,
                "tag": tag,
                "kind": "bad_input",
                "start": ts(a),
                "end": ts(b),
                "magnitude": None,
            }
        )
    for mi, tag, a, b in story.pi.get("io_timeouts", []):
        sensor_faults.append(
            {
                "machine": world.machines[mi].canonical,
                "tag": tag,
                "kind": "gap",
                "start": ts(a),
                "end": ts(min(b, minutes)),
                "magnitude": None,
            }
        )
    sensor_faults.sort(key=lambda f: (f["start"], f["tag"]))
    outages = [
        {
            "line": world.lines[line].canonical,
            "start": ts(a),
            "end": ts(min(b, minutes)),
            "note": "PI interface node restarted: a 'Shutdown' digital state on every point of "
            "the line, no data until it was back; the throughput calculation says 'Calc Failed'",
        }
        for line, a, b in story.pi["outages"]
    ]
    payload = {
        "schema_version": TRUTH_VERSION,
        "plant": {
            "profile": "sap-pi",
            "name": PLANT_NAME,
            "seed": story.seed,
            "days": minutes // DAY,
            "machines": len(world.machines),
            "lines": len(world.lines),
            "sample_seconds": story.sample_seconds,
            "start": ts(0),
            "end": ts(minutes),
            "local_timezone": LOCAL_TZ,
        },
        "entities": entities,
        "confusable": [{"a": a, "b": b, "why": why} for a, b, why in world.confusable],
        "failures": failures,
        "pending_failures": [],
        "anomaly_windows": windows,
        "sensor_faults": sensor_faults,
        "historian_outages": outages,
        "historian_states": story.dirt.get("pi_digital_states", {}),
        "bad_supplier_lots": bad_lots,
        "rejected_lots": _rejected(story),
        "claims": claims,
        "claim_clusters": clusters,
        "process_optimum": {},
        "oee": oee,
        "spare_policy": policy,
        "spare_stockouts": stockouts,
        "open_work_orders": _open_orders(story, ts),
        "stock": _stock(story),
        "source_records": dict(sorted(story.records.items())),
        "dirt": _dirt(story),
    }
    write_json(path, payload)
    return payload


def _failures(story: Story, ts: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    world = story.world
    failures, windows = [], []
    for f in story.maintenance.failures:
        m = world.machines[f.machine]
        detectable = observable = None
        sensors: list[str] = []
        if f.onset is not None:
            run = story.runs[m.line - 1]
            states = run.states[m.index]
            health = run.health[m.index]
            lo = max(f.onset, 0)
            worn = (states[lo : f.time] == PRODUCTIVE) & (health[lo : f.time] >= DETECTABLE_HEALTH)
            hits = np.flatnonzero(worn)
            detectable = None if hits.size == 0 else ts(lo + int(hits[0]))
            observable = int(worn.sum()) >= OBSERVABLE_RUNNING_MINUTES
            sensors = [f"{m.pi_prefix}.SPDL_VIB.PV"]
            windows.append(
                {
                    "machine": m.canonical,
                    "sensors": sensors,
                    "kind": "degradation",
                    "start": ts(max(f.onset, 0)),
                    "detectable_from": detectable,
                    "observable": observable,
                    "end": ts(f.time),
                    "outcome": "failure",
                    "failure_time": ts(f.time),
                    "signal": f"running spindle vibration x (1 + {DRIFT_GAIN} d), d = ((t - "
                    "start) / (failure - start))^1.5; spindle power and coolant temperature "
                    "unchanged",
                }
            )
        failures.append(
            {
                "machine": m.canonical,
                "time": ts(f.time),
                "kind": f.kind,
                "failure_mode": f.failure_mode,
                "sensors": sensors,
                "degradation_start": None if f.onset is None else ts(max(f.onset, 0)),
                "detectable_from": detectable,
                "observable": bool(observable),
                "waited_for_spare_hours": round(f.wait_minutes / 60, 2),
                "repair_end": ts(f.repair_end),
                "spare_part": world.materials[f.spare].canonical,
                "maintenance_order": pad(f.order_no, 12),
                "notification": pad(f.notification_no, 12),
            }
        )
    return failures, windows


def _bad_lots(story: Story) -> list[dict[str, Any]]:
    world = story.world
    book = story.book
    if book.bad_lot is None:
        return []
    lot = book.lots[book.bad_lot]
    mat = world.materials[lot.material]
    serials, orders, others = [], set(), set()
    for (oi, u, material), lots in sorted(book.unit_lots.items()):
        if material == lot.material and lot.index in lots:
            serials.append(story.serial(oi, u))
            orders.add(oi)
    for oi in orders:
        for _, li, _ in book.by_order.get(oi, []):
            if li != lot.index:
                others.add(li)
    delivered = set()
    for delivery in story.sales.deliveries:
        for oi, u in delivery.units:
            if oi in orders:
                delivered.add(story.serial(oi, u))
    return [
        {
            "lot": f"LOT-{lot.charg}",
            "material": mat.canonical,
            "supplier": world.suppliers[mat.supplier].canonical,
            "vendor_lot": lot.licha,
            "erp_batch": pad(lot.charg, 10),
            "defect": "bearing",
            "effect": f"raceway defects: +{BAD_LOT_NOISE_DB} dB(A) at the run-in test, a higher "
            "radial runout at incoming inspection (still in tolerance), field life Weibull shape "
            f"{FIELD_LIFE['supplier_lot'][0]}, scale {FIELD_LIFE['supplier_lot'][1]:g} d "
            "(noise, overheating, seizure)",
            "serial_count": len(serials),
            "serials": sorted(serials),
            "orders": sorted(pad(story.orders[oi].aufnr, 12) for oi in orders),
            "other_lots_in_the_same_orders": len(others),
            "serials_delivered": len(delivered & set(serials)),
        }
    ]


def _rejected(story: Story) -> list[dict[str, Any]]:
    book = story.book
    if book.rejected_lot is None:
        return []
    lot = book.lots[book.rejected_lot]
    return [
        {
            "lot": f"LOT-{lot.charg}",
            "material": story.world.materials[lot.material].canonical,
            "vendor_lot": lot.licha,
            "reason": "cavities in the castings at incoming inspection; returned to the vendor "
            "(movement 122), never consumed",
        }
    ]


def _claims(story: Story, ts: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    world = story.world
    rows = []
    clusters: dict[tuple[str, str], dict[str, Any]] = {}
    for claim, case, typed in zip(
        story.sales.claims, story.claim_ids, story.typed_serials, strict=True
    ):
        serial = story.serial(claim.order, claim.unit)
        if claim.cause == "supplier_lot" and claim.lot is not None:
            key = ("supplier_lot", f"LOT-{story.book.lots[claim.lot].charg}")
        elif claim.cause == "degraded_machine" and claim.machine is not None:
            key = ("degraded_machine", world.machines[claim.machine].canonical)
        else:
            key = ("random", "none")
        rows.append(
            {
                "claim_id": case,
                "serial": serial,
                "serial_as_typed": typed,
                "cause": claim.cause,
                "root_cause": key[1],
                "symptom": claim.symptom,
                "failure_date": story.calendar.days[
                    int(story.calendar.day_index[min(claim.failed, story.calendar.minutes - 1)])
                ].isoformat(),
                "reported": ts(claim.reported),
                "customer": world.customers[claim.customer].canonical,
            }
        )
        cluster = clusters.setdefault(
            key, {"cause": key[0], "root_cause": key[1], "serials": [], "claim_ids": []}
        )
        cluster["serials"].append(serial)
        cluster["claim_ids"].append(case)
    text = {
        "supplier_lot": "bad batch of 32208 taper roller bearings",
        "degraded_machine": f"gears ground while the grinder's health index was above "
        f"{DEGRADED_HEALTH}",
        "random": "no production cause (background failures)",
    }
    for cluster in clusters.values():
        cluster["description"] = text[cluster["cause"]]
    return rows, sorted(clusters.values(), key=lambda c: (c["cause"], c["root_cause"]))


def _oee(story: Story) -> dict[str, dict[str, float]]:
    """OEE per machine as the MES data shows it (ISO 22400, planned = shift time less PM)."""
    world = story.world
    end_ms = story.calendar.end_s * 1000
    processed = dict.fromkeys(range(len(world.machines)), 0)
    good = dict.fromkeys(range(len(world.machines)), 0)
    ideal = dict.fromkeys(range(len(world.machines)), 0.0)
    for order in story.orders:
        product = world.products[order.product]
        for op in order.ops:
            if op.end is None:
                continue
            processed[op.machine] += op.good + op.scrap
            good[op.machine] += op.good
            ideal[op.machine] += (op.good + op.scrap) * product.cycle_min[ROUTING[op.op_index]]
    out = {}
    for m in world.machines:
        stamps = story.pi["state_stamps"][m.index]
        totals = dict.fromkeys(range(8), 0.0)
        for (at, state), following in zip(stamps, stamps[1:] + [(end_ms, -1)], strict=True):
            totals[state] += (following[0] - at) / 60_000.0
        planned = sum(totals.values()) - totals[NON_SCHEDULED] - totals[PM]
        running = totals[PRODUCTIVE]
        n, g, i = processed[m.index], good[m.index], ideal[m.index]
        availability = running / planned if planned else 0.0
        performance = i / running if running else 0.0
        quality = g / n if n else 0.0
        out[m.canonical] = {
            "planned_minutes": round(planned, 2),
            "running_minutes": round(running, 2),
            "setup_minutes": round(totals[SETUP], 2),
            "minor_stop_minutes": round(totals[MINOR_STOP], 2),
            "breakdown_minutes": round(totals[REPAIR], 2),
            "waiting_spare_minutes": round(totals[MAINT_DELAY], 2),
            "idle_minutes": round(totals[STANDBY], 2),
            "units_processed": n,
            "units_good": g,
            "ideal_minutes": round(i, 2),
            "availability": round(availability, 6),
            "performance": round(performance, 6),
            "quality": round(quality, 6),
            "oee": round(availability * performance * quality, 6),
        }
    return out


def _open_orders(story: Story, ts: Any) -> list[dict[str, Any]]:
    world = story.world
    minutes = story.calendar.minutes
    out = []
    for order in story.orders:
        if order.created >= minutes or order.started:
            continue
        product = world.products[order.product]
        lines = [ln for ln in world.lines if order.product in ln.product_indices]
        routing = []
        for k, code in enumerate(ROUTING):
            mtype = MACHINE_TYPES[code]
            routing.append(
                {
                    "op_seq": int(mtype.op),
                    "work_centre": world.machines[world.lines[order.line].machine_indices[k]].arbpl,
                    "eligible_machines": [
                        world.machines[ln.machine_indices[k]].canonical for ln in lines
                    ],
                    "minutes": round(
                        mtype.setup_minutes[0] + order.qty * product.cycle_min[code], 1
                    ),
                }
            )
        out.append(
            {
                "wo_number": str(order.aufnr) if order.release < minutes else None,
                "erp_order": pad(order.aufnr, 12),
                "status": "REL" if order.release < minutes else "CRTD",
                "product": product.canonical,
                "line": world.lines[order.line].canonical,
                "quantity": order.qty,
                "release": ts(order.plan_start),
                "due": ts(order.plan_end),
                "priority": order.priority,
                "routing": routing,
            }
        )
    return out


def _stock(story: Story) -> dict[str, Any]:
    world = story.world
    counted = story.pi.get("stock_counted", {})
    unknown, on_hand = [], {}
    consumption_days: dict[int, float] = {}
    for oi in story.book.posted:
        order = story.orders[oi]
        assembled = int((order.unit_done[2] >= 0).sum())
        for material, per_unit in world.products[order.product].bom:
            consumption_days[material] = consumption_days.get(material, 0.0) + per_unit * assembled
    days = max(story.calendar.minutes / DAY, 1.0)
    for mat in world.materials:
        if mat.index in counted:
            on_hand[mat.canonical] = counted[mat.index]
            continue
        if mat.consignment:
            physical = sum(
                lot.quantity - lot.used
                for lot in story.book.lots
                if lot.material == mat.index and lot.received < story.calendar.minutes
            )
            on_hand[mat.canonical] = physical
            reason = (
                "vendor consignment stock (special stock K, table MKOL), not in the MARD extract"
            )
        else:
            on_hand[mat.canonical] = None
            reason = (
                "non-stock material (MTART NLAG): expensed at goods receipt to a cost centre, "
                "never counted"
            )
        unknown.append(
            {
                "material": mat.canonical,
                "reason": reason,
                "consumed_per_day": round(consumption_days.get(mat.index, 0.0) / days, 2),
            }
        )
    return {
        "as_of": iso_utc(story.calendar.end_s),
        "source": "erp/MARD.csv (own unrestricted stock per storage location at the end)",
        "stock_unknown": unknown,
        "on_hand": on_hand,
        "true_stockouts": "spare_stockouts only: no production material ran out",
    }


def _dirt(story: Story) -> dict[str, Any]:
    dirt = dict(story.dirt)
    dirt["sap_title_lines"] = sorted(
        name for name, info in story.records.items() if info.get("lines_before_header")
    )
    dirt["sap_totals_lines"] = sorted(
        name for name, info in story.records.items() if info.get("trailing_lines")
    )
    dirt["sap_german_headers"] = ["erp/MARD.csv"]
    dirt["dst_changes"] = [
        "2025-10-26T01:00:00Z local 03:00 CEST -> 02:00 CET (02:00-03:00 twice)",
        "2026-03-29T01:00:00Z local 02:00 CET -> 03:00 CEST (02:00-03:00 missing)",
    ]
    return dirt
