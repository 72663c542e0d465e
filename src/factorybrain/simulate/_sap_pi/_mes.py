"""The MES of the gear plant: two JSON-lines event streams, as a message-based MES exports them.

``mes/production_events.jsonl``: one record per order or operation event (``ORDER_RELEASED``,
``OPERATION_STARTED``, ``OPERATION_COMPLETED``, ``ORDER_COMPLETED``), camelCase keys, times in
UTC with milliseconds, orders and materials by their SAP numbers without leading zeros, batches by
the supplier's batch number scanned from the label, stations by the MES's own ids (``L2-ST20``).
A completed operation nests what it did: ``quantities``, ``components[].lots[]`` (the batches an
order consumed at the press) and ``units[]`` (serials made, and at the press each unit's own
``consumed[].lots``; at the test bench its ``measurements``), modelled on the ISA-95 operations
performance (material actual, equipment actual) of B2MML.

``mes/equipment_states.jsonl``: a stream of machine state changes in the six SEMI E10 states with
a reason; a state lasts until the next change of the same machine (the last one until the export
at the end of the horizon). The MES keeps no machine list: stations appear only in events.

Delivery is at least once: about 0.4 % of events are delivered a second time, later in the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from factorybrain.simulate._sap_pi._production import E10, MINOR_STOP, MINOR_STOP_REASONS
from factorybrain.simulate._sap_pi._story import Story
from factorybrain.simulate._sap_pi._world import MACHINE_TYPES, ROUTING

OP_NAMES = {
    "MC": "Machine housing",
    "GR": "Grind gearing",
    "PR": "Press in bearings and shafts",
    "TB": "Run-in and noise test",
}
DUPLICATE_SHARE = 0.004


def _uuid(rng: np.random.Generator) -> str:
    h = rng.bytes(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


class EventLog:
    """Events turned into compact JSON as they are made (the text is all that is kept)."""

    def __init__(self) -> None:
        self.items: list[tuple[int, str, str]] = []

    def append(self, item: tuple[int, dict[str, Any]]) -> None:
        """Keep ``(epoch ms, record)`` as its time, its id and its JSON text."""
        at, record = item
        text = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
        self.items.append((at, record["eventId"], text))


class MesExport:
    """Writes the two MES streams and records their stamps for the truth."""

    def __init__(self, story: Story, out: Path) -> None:
        self.story = story
        self.out = out / "mes"
        self.rng = np.random.default_rng([story.seed, 2601])

    def ms(self, minute: int, second: int | None = None) -> int:
        """Epoch milliseconds of a minute of the horizon, with seconds and milliseconds drawn."""
        s = int(self.rng.integers(0, 60)) if second is None else second
        return (self.story.epoch(minute) + s) * 1000 + int(self.rng.integers(0, 1000))

    def write(self) -> None:
        self.production_events()
        self.state_events()

    def _stamp(self, epoch_ms: int) -> str:
        return np.datetime_as_string(np.datetime64(epoch_ms, "ms"), unit="ms") + "Z"

    def _emit(self, events: EventLog, name: str) -> None:
        """Sort by time, deliver a few twice, write; record what a loader must account for."""
        items = sorted(events.items, key=lambda e: e[0])
        delivered: list[tuple[int, int, str]] = []
        duplicates = []
        for k, (at, event_id, text) in enumerate(items):
            delivered.append((at, k, text))
            if self.rng.random() < DUPLICATE_SHARE:
                later = at + int(self.rng.uniform(5, 240) * 60_000)
                delivered.append((later, k, text))
                duplicates.append(event_id)
        delivered.sort(key=lambda e: (e[0], e[1]))
        self.out.mkdir(parents=True, exist_ok=True)
        with (self.out / name).open("w", encoding="utf-8", newline="\n") as handle:
            for _, _, text in delivered:
                handle.write(text + "\n")
        self.story.records[f"mes/{name}"] = {
            "records": len(delivered),
            "format": "jsonl",
            "encoding": "utf-8",
            "distinct_events": len(items),
            "duplicate_deliveries": len(duplicates),
        }
        self.story.dirt[f"mes_duplicate_events_{name.split('.')[0]}"] = sorted(duplicates)

    def production_events(self) -> None:
        story = self.story
        world = story.world
        minutes = story.calendar.minutes
        book = story.book
        events = EventLog()
        for oi, order in enumerate(story.orders):
            if order.release >= minutes:
                continue
            line = world.lines[order.line]
            product = world.products[order.product]
            order_id = str(order.aufnr)
            story.see("mes", order_id, str(product.matnr), f"L{line.number}")
            at = self.ms(order.release)
            events.append(
                (
                    at,
                    {
                        "eventId": _uuid(self.rng),
                        "eventType": "ORDER_RELEASED",
                        "occurredAt": self._stamp(at),
                        "site": "VIL",
                        "order": {
                            "orderId": order_id,
                            "material": {"id": str(product.matnr), "description": product.text_en},
                            "quantity": {"planned": order.qty, "uom": "PCE"},
                            "line": f"L{line.number}",
                            "dueAt": self._stamp(story.epoch(order.plan_end) * 1000),
                            "priority": order.priority,
                        },
                    },
                )
            )
            for op in order.ops:
                code = ROUTING[op.op_index]
                machine = world.machines[op.machine]
                story.see("mes", machine.resource)
                started = self.ms(op.start)
                operation = {
                    "seq": MACHINE_TYPES[code].op,
                    "name": OP_NAMES[code],
                    "resource": machine.resource,
                }
                events.append(
                    (
                        started,
                        {
                            "eventId": _uuid(self.rng),
                            "eventType": "OPERATION_STARTED",
                            "occurredAt": self._stamp(started),
                            "site": "VIL",
                            "order": {"orderId": order_id},
                            "operation": operation,
                        },
                    )
                )
                if op.end is None:
                    continue
                done = self.ms(op.end - 1, 59)
                record: dict[str, Any] = {
                    "eventId": _uuid(self.rng),
                    "eventType": "OPERATION_COMPLETED",
                    "occurredAt": self._stamp(done),
                    "site": "VIL",
                    "order": {"orderId": order_id, "material": {"id": str(product.matnr)}},
                    "operation": {
                        **operation,
                        "startedAt": self._stamp(started),
                        "completedAt": self._stamp(done),
                        "setupMinutes": op.setup,
                    },
                    "quantities": {
                        "input": op.qty_in,
                        "good": op.good,
                        "scrap": op.scrap,
                        "uom": "PCE",
                    },
                }
                units = np.flatnonzero(order.unit_done[op.op_index] >= 0).tolist()
                if code == "PR":
                    record["components"] = self._components(oi, order.product)
                unit_records = []
                for u in units:
                    serial = story.serial(oi, int(u))
                    unit: dict[str, Any] = {"serial": serial}
                    scrapped = int(order.scrapped_at[u]) == op.op_index
                    if code == "TB":
                        unit["result"] = "PASS" if order.test_pass[u] else "FAIL"
                        unit["measurements"] = {
                            "noiseDbA": float(order.noise[u]),
                            "inputTorqueNm": float(order.torque[u]),
                            "oilTempC": float(order.oil_temp[u]),
                        }
                    else:
                        unit["status"] = "SCRAP" if scrapped else "OK"
                    if code == "PR":
                        consumed = []
                        for material, _ in world.products[order.product].bom:
                            lots = book.unit_lots.get((oi, int(u), material))
                            if lots is None:
                                continue
                            consumed.append(
                                {
                                    "material": str(world.materials[material].matnr),
                                    "lots": [book.lots[li].licha for li in lots],
                                }
                            )
                        unit["consumed"] = consumed
                    unit_records.append(unit)
                record["units"] = unit_records
                events.append((done, record))
            if order.finished:
                done = self.ms(int(order.ops[3].end or 0) - 1, 59) + 1
                events.append(
                    (
                        done,
                        {
                            "eventId": _uuid(self.rng),
                            "eventType": "ORDER_COMPLETED",
                            "occurredAt": self._stamp(done),
                            "site": "VIL",
                            "order": {
                                "orderId": order_id,
                                "quantities": {
                                    "good": order.ops[3].good,
                                    "scrap": int((order.scrapped_at >= 0).sum()),
                                    "uom": "PCE",
                                },
                            },
                        },
                    )
                )
        self._emit(events, "production_events.jsonl")

    def _components(self, oi: int, product: int) -> list[dict[str, Any]]:
        story = self.story
        world = story.world
        book = story.book
        out = []
        for material, per_unit in world.products[product].bom:
            mat = world.materials[material]
            if mat.mtart == "NLAG" and mat.unit == "ST":
                continue  # screw kits are not booked at the station
            story.see("mes", str(mat.matnr))
            lots = sorted((li, q) for m, li, q in book.by_order.get(oi, []) if m == material)
            good = int((story.orders[oi].unit_done[2] >= 0).sum())
            entry: dict[str, Any] = {
                "material": {"id": str(mat.matnr), "description": mat.text_en},
                "uom": "L" if mat.unit == "L" else "PCE",
                "quantity": round(per_unit * good, 3)
                if not lots
                else round(float(sum(q for _, q in lots)), 3),
            }
            if lots:
                entry["lots"] = [
                    {"lot": book.lots[li].licha, "quantity": round(float(q), 3)} for li, q in lots
                ]
                story.see("mes", *(book.lots[li].licha for li, _ in lots))
            out.append(entry)
        return out

    def state_events(self) -> None:
        """One event per change of a machine's E10 state; stamps kept for the truth's OEE."""
        story = self.story
        world = story.world
        minutes = story.calendar.minutes
        events = EventLog()
        story.pi["state_stamps"] = {}
        stop_reason: dict[tuple[int, int], int] = {}
        order_at: dict[int, list[tuple[int, int, str]]] = {}
        for order in story.orders:
            for op in order.ops:
                for start, _, cause in op.stops:
                    stop_reason[(op.machine, start)] = cause
                order_at.setdefault(op.machine, []).append(
                    (op.start, op.end if op.end is not None else minutes, str(order.aufnr))
                )
        for run in story.runs.values():
            for mi, states in run.states.items():
                machine = world.machines[mi]
                codes = states.astype(np.int16)
                change = np.flatnonzero(np.diff(codes)) + 1
                starts = np.concatenate(([0], change))
                # minor stops of the same reason run together; a new stop starts a new event
                stamps = []
                spans = sorted(order_at.get(mi, []))
                span_starts = np.array([s for s, _, _ in spans], dtype=np.int64)
                for t in starts.tolist():
                    state = int(codes[t])
                    name, reason, text = E10[state]
                    if state == MINOR_STOP:
                        kind = stop_reason.get(
                            (mi, t), int(self.rng.integers(len(MINOR_STOP_REASONS)))
                        )
                        reason, text = MINOR_STOP_REASONS[kind]
                    second = 0 if t == 0 else int(self.rng.integers(0, 60))
                    at = (story.epoch(t) + second) * 1000 + (
                        0 if t == 0 else int(self.rng.integers(0, 1000))
                    )
                    stamps.append((at, state))
                    record: dict[str, Any] = {
                        "eventId": _uuid(self.rng),
                        "eventType": "EQUIPMENT_STATE_CHANGED",
                        "occurredAt": self._stamp(at),
                        "equipment": {"id": machine.resource, "line": f"L{machine.line}"},
                        "state": {"e10": name, "reason": {"code": reason, "text": text}},
                    }
                    if span_starts.size:
                        k = int(np.searchsorted(span_starts, t, side="right")) - 1
                        if k >= 0 and spans[k][0] <= t < spans[k][1]:
                            record["orderId"] = spans[k][2]
                    events.append((at, record))
                story.pi["state_stamps"][mi] = stamps
        self._emit(events, "equipment_states.jsonl")


def write_mes(story: Story, out: Path) -> None:
    """Write the MES event streams into ``out/mes``."""
    MesExport(story, out).write()
