"""What the lines produced, collected for the exports, and ``truth.json``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from factorybrain.simulate._historian import HistorianPlan
from factorybrain.simulate._logistics import SalesPlan
from factorybrain.simulate._maintenance import (
    DAY,
    Detectability,
    MaintenancePlan,
    cycle_detectability,
)
from factorybrain.simulate._production import (
    DEGRADED_HEALTH,
    FIELD_LIFE,
    FORCE_WINDOW_Z,
    RUNNING,
    LineOutput,
    LotPlan,
)
from factorybrain.simulate._silos import serial_text, write_json
from factorybrain.simulate._timegrid import LOCAL_TZ, TimeGrid, iso_utc
from factorybrain.simulate._world import (
    MACHINE_TYPES,
    World,
    maintenance_order_number,
    sales_order_number,
)

TRUTH_VERSION = 1


@dataclass
class Collected:
    """The parts of every line's output that outlive the line (compact)."""

    work_orders: list[dict] = field(default_factory=list)
    open_orders: list[dict] = field(default_factory=list)
    consumption: list[tuple[str, int, int, float, int]] = field(default_factory=list)
    finished: list[tuple[int, np.ndarray, np.ndarray]] = field(default_factory=list)
    candidates: list[dict] = field(default_factory=list)
    bad_lot_serials: dict[int, list[int]] = field(default_factory=dict)
    audits: list[dict] = field(default_factory=list)
    oee: dict[int, dict[str, float]] = field(default_factory=dict)
    detectability: dict[int, list[Detectability]] = field(default_factory=dict)
    serial_count: int = 0

    @property
    def work_order_count(self) -> int:
        """Work orders, open ones included."""
        return len(self.work_orders) + len(self.open_orders)

    def add(self, out: LineOutput, maintenance: MaintenancePlan) -> None:
        """Keep what the exports and the truth need from one line."""
        for mi, state in out.states.items():
            self.detectability[mi] = cycle_detectability(
                maintenance.cycles[mi], state == RUNNING, out.health[mi]
            )
        for wo in out.work_orders:
            self.work_orders.append({k: v for k, v in wo.items()})
        self.open_orders.extend(out.open_orders)
        self.consumption.extend(
            (c["wo_number"], c["material"], c["lot"], c["quantity"], c["time"])
            for c in out.consumption
        )
        self.finished.extend(out.finished)
        self.candidates.extend(out.candidates)
        for lot, serials in out.bad_lot_serials.items():
            self.bad_lot_serials.setdefault(lot, []).extend(serials)
        self.audits.extend(out.audits)
        self.oee.update(out.oee)
        self.serial_count += int(sum(s.size for s in out.serial_no))


def lot_id(lots: LotPlan, lot: int) -> str:
    """Canonical id of a supplier lot."""
    return f"LOT-{int(lots.batch[lot])}"


def write_truth(
    path: Path,
    world: World,
    grid: TimeGrid,
    maintenance: MaintenancePlan,
    lots: LotPlan,
    historian: HistorianPlan,
    collected: Collected,
    sales: SalesPlan,
    claims: list[dict],
    dirt: dict,
    *,
    seed: int,
    sample_seconds: int,
) -> None:
    """Write ``truth.json``: identities, failures, anomalies, causes, optimum, OEE, stock-outs."""
    start = grid.start_s

    def ts(minute: float) -> str:
        return iso_utc(start + 60 * minute)

    entities: list[dict] = []
    for line in world.lines:
        entities.append(
            {"id": line.canonical, "type": "line", "name": f"Line {line.number}", "refs": line.refs}
        )
    for m in world.machines:
        entities.append(
            {
                "id": m.canonical,
                "type": "equipment",
                "name": f"{m.mtype.word} {m.number}",
                "line": world.lines[m.line - 1].canonical,
                "machine_type": m.mtype.long_word,
                "refs": m.refs,
            }
        )
    for p in world.products:
        entities.append({"id": p.canonical, "type": "product", "name": p.name, "refs": p.refs})
    for mat in world.materials:
        entities.append(
            {
                "id": mat.canonical,
                "type": "material",
                "name": mat.description,
                "kind": mat.kind,
                "refs": mat.refs,
            }
        )
    for s in world.suppliers:
        entities.append({"id": s.canonical, "type": "supplier", "name": s.name, "refs": s.refs})
    for c in world.customers:
        entities.append({"id": c.canonical, "type": "customer", "name": c.name, "refs": c.refs})
    used_lots = sorted({c[2] for c in collected.consumption})
    for lot in used_lots:
        material = world.materials[int(lots.material[lot])]
        entities.append(
            {
                "id": lot_id(lots, lot),
                "type": "supplier_lot",
                "material": material.canonical,
                "supplier": world.suppliers[material.supplier].canonical,
                "refs": {
                    "erp": [f"{int(lots.batch[lot]):010d}", lots.vendor_lot[lot]],
                    "mes": [str(int(lots.batch[lot]))],
                    "wms": [f"B{int(lots.batch[lot])}"],
                    "qms": [lots.vendor_lot[lot]],
                },
            }
        )
    for wo in collected.work_orders + collected.open_orders:
        refs = {"erp": [wo["erp_order"]], "mes": [wo["wo_number"]]}
        if wo.get("start") is not None:
            refs["wms"] = [wo["wo_number"]]
        entities.append(
            {
                "id": f"WO-{wo['erp_order']}",
                "type": "work_order",
                "product": world.products[wo["product"]].canonical,
                "refs": refs,
            }
        )
    shipped_orders = np.zeros(sales.order_qty.size, dtype=bool)
    shipped_orders[sales.unit_order[sales.unit_order >= 0]] = True
    kit_shipped = (sales.order_material >= 0) & (sales.order_time + DAY < grid.minutes)
    for i in range(sales.order_qty.size):
        number = sales_order_number(world, i)
        refs = {"erp": [f"{number:010d}"]}
        if shipped_orders[i] or kit_shipped[i]:
            refs["wms"] = [f"SO{number}"]
        entities.append({"id": f"SO-{number}", "type": "sales_order", "refs": refs})
    for _machine, tag, description, unit, canonical in historian.tags:
        entities.append(
            {
                "id": f"TS-{tag}",
                "type": "time_series",
                "asset": canonical,
                "sensor": tag.split(".")[1],
                "unit": unit,
                "refs": {"historian": [tag, description]},
            }
        )

    shown_at_failure = {
        (mi, cycle.failure): shown
        for mi, cycles in enumerate(maintenance.cycles)
        for cycle, shown in zip(cycles, collected.detectability[mi], strict=True)
        if cycle.end_kind == "failure"
    }
    failures = []
    for f in maintenance.failures:
        m = world.machines[f.machine]
        shown = shown_at_failure[(f.machine, f.time)]
        failures.append(
            {
                "machine": m.canonical,
                "time": ts(f.time),
                "failure_mode": m.mtype.failure_mode,
                "sensors": [f"{m.tag_prefix}.{s}" for s in m.mtype.failure_sensors],
                "degradation_start": ts(f.onset),
                "detectable_from": None if shown.first_running is None else ts(shown.first_running),
                "observable": shown.observable,
                "waited_for_spare_hours": round(f.wait_minutes / 60, 2),
                "repair_end": ts(f.repair_end),
                "spare_part": world.material_by_part(m.mtype.spare_part).canonical,
                "maintenance_order": maintenance_order_number(world, f.order_id),
            }
        )
    windows = []
    for mi, cycles in enumerate(maintenance.cycles):
        m = world.machines[mi]
        for cycle, shown in zip(cycles, collected.detectability[mi], strict=True):
            if cycle.onset >= grid.minutes or cycle.end <= max(cycle.onset, 0):
                continue
            if cycle.end_kind == "failure":
                outcome = "failure" if cycle.failure < grid.minutes else "pending_failure"
            else:
                outcome = "preventive_maintenance"
            if outcome == "preventive_maintenance" and shown.first_running is None:
                continue
            if cycle.end <= 0:
                continue
            windows.append(
                {
                    "machine": m.canonical,
                    "sensors": [f"{m.tag_prefix}.{s}" for s in m.mtype.failure_sensors],
                    "kind": "degradation",
                    "start": ts(max(cycle.onset, 0)),
                    "detectable_from": None
                    if shown.first_running is None
                    else ts(shown.first_running),
                    "observable": shown.observable,
                    "end": ts(min(cycle.end, grid.minutes)),
                    "outcome": outcome,
                    "failure_time": ts(cycle.failure) if cycle.end_kind == "failure" else None,
                }
            )
    pending = []
    for mi, late in zip(maintenance.pending_machine, maintenance.pending, strict=True):
        shown = collected.detectability[mi][maintenance.cycles[mi].index(late)]
        pending.append(
            {
                "machine": world.machines[mi].canonical,
                "degradation_start": ts(late.onset),
                "detectable_from": None if shown.first_running is None else ts(shown.first_running),
                "observable": shown.observable,
                "expected_failure": ts(late.failure),
                "failure_mode": world.machines[mi].mtype.failure_mode,
                "spare_part": world.material_by_part(world.machines[mi].mtype.spare_part).canonical,
            }
        )
    sensor_faults = [
        {
            "machine": world.machines[f.machine].canonical,
            "tag": f.tag,
            "kind": f.kind,
            "start": ts(f.start),
            "end": ts(f.end),
            "magnitude": round(f.magnitude, 3) if f.kind == "drift" else None,
        }
        for f in historian.faults
    ]
    outages = [
        {
            "line": world.lines[line - 1].canonical,
            "start": ts(a),
            "end": ts(b),
            "note": "rows missing in place, resent later at the end of the file with duplicates",
        }
        for line, a, b in historian.outages
    ]
    bad_lots = []
    effects = {
        "bearing": "bearing defect: +3.5 dB(A) end-of-line noise, field life Weibull shape"
        f" {FIELD_LIFE['supplier_lot'][0]}, scale {FIELD_LIFE['supplier_lot'][1]} d"
        " (noise, seizure)",
        "seal": "seal faces out of flatness: leak rate x2.2 at end-of-line test, field life"
        f" Weibull shape {FIELD_LIFE['supplier_lot_seal'][0]}, scale"
        f" {FIELD_LIFE['supplier_lot_seal'][1]} d (leaks)",
    }
    for lot in sorted(lots.bad):
        material = world.materials[int(lots.material[lot])]
        serials = sorted(set(collected.bad_lot_serials.get(lot, [])))
        bad_lots.append(
            {
                "lot": lot_id(lots, lot),
                "material": material.canonical,
                "supplier": world.suppliers[material.supplier].canonical,
                "vendor_lot": lots.vendor_lot[lot],
                "erp_batch": f"{int(lots.batch[lot]):010d}",
                "defect": lots.bad[lot],
                "effect": effects[lots.bad[lot]],
                "serial_count": len(serials),
                "serials": serial_text(np.array(serials, dtype=np.int64)).tolist(),
            }
        )

    claim_rows = []
    clusters: dict[tuple, dict] = {}
    for claim, claim_id, typed in zip(
        claims, dirt["claim_ids"], dirt["typed_serials"], strict=True
    ):
        serial = serial_text(claim["serial"])
        row = {
            "claim_id": claim_id,
            "serial": serial,
            "serial_as_typed": typed,
            "cause": claim["cause"],
            "symptom": claim["mode"],
            "failure_date": ts(claim["failed"])[:10],
            "reported": ts(claim["reported"]),
        }
        if claim["cause"] == "supplier_lot":
            key = ("supplier_lot", lot_id(lots, claim["lot"]))
        elif claim["cause"] == "degraded_machine":
            key = ("degraded_machine", world.machines[claim["machine"]].canonical)
        elif claim["cause"] == "process_out_of_window":
            key = ("process_out_of_window", "press_force_kN")
        else:
            key = ("random", "none")
        row["root_cause"] = key[1]
        claim_rows.append(row)
        cluster = clusters.setdefault(
            key, {"cause": key[0], "root_cause": key[1], "serials": [], "claim_ids": []}
        )
        cluster["serials"].append(serial)
        cluster["claim_ids"].append(claim_id)
    cause_text = {
        "supplier_lot": "bad supplier lot",
        "degraded_machine": f"made while the machine's health index was above {DEGRADED_HEALTH}",
        "process_out_of_window": f"press-fit force more than {FORCE_WINDOW_Z} scale units from"
        " the optimum",
        "random": "no production cause (background failures)",
    }
    for cluster in clusters.values():
        cluster["description"] = cause_text[cluster["cause"]]

    optimum = {}
    for p in world.products:
        z_t = (p.tension_recipe - p.tension_opt) / p.tension_scale
        z_f = (p.force_recipe - p.force_opt) / p.force_scale
        recipe_eff = p.efficiency_nominal - 1.2 * z_t**2 - 0.9 * z_f**2 - 0.4 * z_t * z_f
        optimum[p.canonical] = {
            "response": "efficiency_pct",
            "formula": "efficiency_nominal - 1.2*zt^2 - 0.9*zf^2 - 0.4*zt*zf"
            " - 2.5*d_winder - 0.8*d_lathe + N(0, 0.6);"
            " zt = (wire_tension_N - tension_opt)/tension_scale,"
            " zf = (press_force_kN - force_opt)/force_scale",
            "optimum": {"wire_tension_N": p.tension_opt, "press_force_kN": p.force_opt},
            "scales": {"wire_tension_N": p.tension_scale, "press_force_kN": p.force_scale},
            "optimum_efficiency_pct": p.efficiency_nominal,
            "recipe": {"wire_tension_N": p.tension_recipe, "press_force_kN": p.force_recipe},
            "recipe_efficiency_pct": round(recipe_eff, 3),
            "recipe_changes": [
                {
                    "revision": "B",
                    "from": ts(grid.minutes // 2),
                    "wire_tension_N": round(p.tension_opt + 0.4 * p.tension_scale, 2),
                }
            ]
            if p.index == 0
            else [],
            "latent_defect_window": {
                "press_force_kN": [
                    round(p.force_opt - FORCE_WINDOW_Z * p.force_scale, 3),
                    round(p.force_opt + FORCE_WINDOW_Z * p.force_scale, 3),
                ]
            },
        }

    oee = {world.machines[mi].canonical: values for mi, values in sorted(collected.oee.items())}
    stockouts = [
        {
            "part": world.materials[s.material].canonical,
            "machine": world.machines[s.machine].canonical,
            "start": ts(s.start),
            "end": ts(s.end),
            "hours": round((s.end - s.start) / 60, 2),
        }
        for s in maintenance.stockouts
    ]
    open_orders = []
    for wo in collected.open_orders:
        product = world.products[wo["product"]]
        eligible_lines = [ln for ln in world.lines if product.index in ln.product_indices]
        routing = []
        for code in ("LTH", "WND", "PRS", "EOL"):
            machines = [
                world.machines[i].canonical
                for ln in eligible_lines
                for i in ln.machine_indices
                if world.machines[i].type_code == code
            ]
            if machines:
                routing.append(
                    {
                        "op_seq": MACHINE_TYPES[code].op_seq,
                        "eligible_machines": machines,
                        "minutes": round(40 + wo["qty_planned"] * product.ideal_ct_min[code], 1),
                    }
                )
        open_orders.append(
            {
                "wo_number": wo["wo_number"],
                "erp_order": wo["erp_order"],
                "product": product.canonical,
                "line": world.lines[wo["line"]].canonical,
                "quantity": wo["qty_planned"],
                "release": ts(wo["release"]),
                "due": ts(wo["due"]),
                "priority": wo["priority"],
                "routing": routing,
            }
        )
    seen = dirt.get("seen", {})
    for entity in entities:
        entity["refs"] = {
            silo: refs
            for silo, refs in entity["refs"].items()
            if silo not in seen or refs[0] in seen[silo]
        }
    plant: dict[str, object] = {}
    if world.site.marked:
        # A site of a fleet says which one it is, and the marks in its identifiers.
        plant = {
            "name": f"Hanse Pumpenwerk {world.site.town}",
            "site": world.site.folder,
            "site_code": world.site.code,
            "erp_plant": world.site.plant,
        }
    payload = {
        "schema_version": TRUTH_VERSION,
        "plant": {
            **plant,
            "seed": seed,
            "days": grid.minutes // DAY,
            "machines": len(world.machines),
            "lines": len(world.lines),
            "sample_seconds": sample_seconds,
            "start": ts(0),
            "end": ts(grid.minutes),
            "local_timezone": LOCAL_TZ,
        },
        "entities": entities,
        "confusable": [{"a": a, "b": b, "why": why} for a, b, why in world.confusable],
        "failures": failures,
        "pending_failures": pending,
        "anomaly_windows": windows,
        "sensor_faults": sensor_faults,
        "historian_outages": outages,
        "bad_supplier_lots": bad_lots,
        "claims": claim_rows,
        "claim_clusters": sorted(clusters.values(), key=lambda c: (c["cause"], c["root_cause"])),
        "process_optimum": optimum,
        "oee": oee,
        "spare_policy": {
            world.materials[part].canonical: policy
            for part, policy in sorted(maintenance.spare_policy.items())
        },
        "spare_stockouts": stockouts,
        "open_work_orders": open_orders,
        "dirt": {k: v for k, v in dirt.items() if k not in ("claim_ids", "seen", "typed_serials")},
    }
    write_json(path, payload)
