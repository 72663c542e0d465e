"""Writers of the silos, each in its own format and with its own habits.

========== ============================ ===================== ==============================
silo       format                       time                  habits
========== ============================ ===================== ==============================
ERP        CSV, ``;``, SAP column names DD.MM.YYYY local      18-digit material numbers
MES        SQLite                       local, no offset      machine codes ``PRS-03``
historian  Parquet long (tag, ts, value) UTC                  PLC tags ``L2_PRS03.VIB_RMS``
QMS        Excel workbook               local (Excel serial)  German machine names
WMS        CSV, ``,``                   UTC with ``Z``        unpadded SKUs, ``B`` batches
CRM        JSON lines                   local with offset     free text, typed serials
engineering JSON                        ISO dates             part numbers, revisions
========== ============================ ===================== ==============================
"""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path
from typing import overload

import numpy as np

from factorybrain.simulate._maintenance import DAY
from factorybrain.simulate._production import (
    BREAKDOWN,
    IDLE,
    MINOR_STOP,
    MINOR_STOP_REASONS,
    OFF,
    PLANNED_MAINTENANCE,
    RUNNING,
    SETUP,
    WAITING_SPARE,
    LineOutput,
    LotPlan,
)
from factorybrain.simulate._timegrid import (
    TimeGrid,
    to_local_strings,
    to_offset_strings,
    to_utc_strings,
)
from factorybrain.simulate._workbook import write_stable_workbook
from factorybrain.simulate._world import MACHINE_TYPES, World

FIXED_ZIP_TIME = (2025, 1, 1, 0, 0, 0)


@overload
def serial_text(number: np.ndarray) -> np.ndarray: ...
@overload
def serial_text(number: int) -> str: ...
def serial_text(number: int | np.ndarray) -> str | np.ndarray:
    """The serial number printed on the nameplate and used by MES, WMS and QMS."""
    if isinstance(number, np.ndarray):
        return np.char.mod("PU%010d", number.astype(np.int64))
    return f"PU{int(number):010d}"


def _local(start_s: int, minutes) -> np.ndarray:
    return to_local_strings(start_s + 60 * np.asarray(minutes, dtype=np.int64))


class MesWriter:
    """The MES database, written line by line."""

    SCHEMA = """
    CREATE TABLE lines (line_code TEXT PRIMARY KEY, description TEXT, shift_model TEXT);
    CREATE TABLE machines (machine_code TEXT PRIMARY KEY, description TEXT, line_code TEXT,
        workcell TEXT, vendor TEXT, model TEXT);
    CREATE TABLE products (product_code TEXT PRIMARY KEY, description TEXT);
    CREATE TABLE routings (product_code TEXT, op_seq INTEGER, op_name TEXT, workcell TEXT,
        ideal_cycle_s REAL, setup_min INTEGER);
    CREATE TABLE work_orders (id INTEGER PRIMARY KEY, wo_number TEXT, erp_order TEXT,
        product_code TEXT, line_code TEXT, qty_planned INTEGER, qty_good INTEGER, status TEXT,
        priority INTEGER, release_time TEXT, due_time TEXT, start_time TEXT, end_time TEXT);
    CREATE TABLE operations (id INTEGER PRIMARY KEY, op_id INTEGER, wo_number TEXT,
        op_seq INTEGER, op_name TEXT, machine_code TEXT, start_time TEXT, end_time TEXT,
        setup_min INTEGER, qty_in INTEGER, qty_good INTEGER, qty_scrap INTEGER,
        recorded_at TEXT);
    CREATE TABLE operation_parameters (op_id INTEGER, parameter TEXT, setpoint REAL,
        actual REAL, unit TEXT);
    CREATE TABLE material_consumption (wo_number TEXT, material_code TEXT, batch TEXT,
        quantity REAL, unit TEXT, consumed_at TEXT);
    CREATE TABLE serials (serial_no TEXT, wo_number TEXT, product_code TEXT, created_at TEXT,
        status TEXT);
    CREATE TABLE press_cycles (serial_no TEXT, machine_code TEXT, pressed_at TEXT,
        force_kn REAL);
    CREATE TABLE test_results (serial_no TEXT, machine_code TEXT, tested_at TEXT,
        flow_lpm REAL, efficiency_pct REAL, noise_dba REAL, leak_ml_min REAL,
        insulation_mohm REAL, result TEXT);
    CREATE TABLE shifts (line_code TEXT, shift TEXT, start_time TEXT, end_time TEXT);
    CREATE TABLE machine_states (id INTEGER PRIMARY KEY, machine_code TEXT, state TEXT,
        reason_code TEXT, reason_text TEXT, start_time TEXT, end_time TEXT);
    """

    def __init__(self, path: Path, world: World, lots: LotPlan, start_s: int, seed: int):
        self.path = path
        self.world = world
        self.lots = lots
        self.start_s = start_s
        self.rng = np.random.default_rng([seed, 909])
        self.db = sqlite3.connect(path)
        self.db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + self.SCHEMA)
        self.op_offset = 0
        self.late_operations: list[tuple] = []
        self.duplicated_states = 0
        self._static()

    def _static(self) -> None:
        world = self.world
        self.db.executemany(
            "INSERT INTO lines VALUES (?,?,?)",
            [
                (ln.refs["mes"][0], f"Pump line {ln.number}", f"{ln.shifts}-shift")
                for ln in world.lines
            ],
        )
        self.db.executemany(
            "INSERT INTO machines VALUES (?,?,?,?,?,?)",
            [
                (
                    m.refs["mes"][0],
                    m.refs["mes"][1],
                    world.lines[m.line - 1].refs["mes"][0],
                    m.mtype.long_word,
                    m.vendor,
                    m.model,
                )
                for m in world.machines
            ],
        )
        self.db.executemany(
            "INSERT INTO products VALUES (?,?)",
            [(p.refs["mes"][0], p.name) for p in world.products],
        )
        rows = []
        for p in world.products:
            for code, ct in p.ideal_ct_min.items():
                mtype = MACHINE_TYPES[code]
                rows.append(
                    (
                        p.refs["mes"][0],
                        mtype.op_seq,
                        mtype.op_name,
                        mtype.long_word,
                        round(ct * 60, 1),
                        40,
                    )
                )
        self.db.executemany("INSERT INTO routings VALUES (?,?,?,?,?,?)", rows)

    def write_shifts(self, grid: TimeGrid) -> None:
        """The planned shifts of every line (the calendar OEE's planned time comes from)."""
        names = np.array(["EARLY", "LATE", "NIGHT"], dtype=object)
        for line in self.world.lines:
            mask = grid.shift_masks[line.shifts]
            key = np.where(mask, grid.shift_index.astype(np.int16), -1)
            change = np.flatnonzero(np.diff(key)) + 1
            starts = np.concatenate([[0], change])
            ends = np.concatenate([change, [key.size]])
            keep = key[starts] >= 0
            starts, ends = starts[keep], ends[keep]
            self.db.executemany(
                "INSERT INTO shifts VALUES (?,?,?,?)",
                zip(
                    [line.refs["mes"][0]] * starts.size,
                    names[key[starts]].tolist(),
                    _local(self.start_s, starts).tolist(),
                    _local(self.start_s, ends).tolist(),
                    strict=True,
                ),
            )

    def write_line(self, out: LineOutput) -> None:
        """Insert one line's orders, operations, serials, results and machine states."""
        world, start = self.world, self.start_s
        line = world.lines[out.line]
        line_code = line.refs["mes"][0]
        orders = out.work_orders + out.open_orders
        stamps = {
            key: _local(start, [wo.get(key) if wo.get(key) is not None else 0 for wo in orders])
            for key in ("release", "due", "start", "end")
        }
        wo_rows = []
        for i, wo in enumerate(orders):
            open_order = "status" not in wo
            wo_rows.append(
                (
                    wo["wo_number"],
                    wo["erp_order"],
                    world.products[wo["product"]].refs["mes"][0],
                    line_code,
                    wo["qty_planned"],
                    None if open_order else wo["qty_good"],
                    "RELEASED" if open_order else wo["status"],
                    wo.get("priority", 2),
                    str(stamps["release"][i]),
                    str(stamps["due"][i]),
                    None if wo.get("start") is None else str(stamps["start"][i]),
                    None if wo.get("end") is None else str(stamps["end"][i]),
                )
            )
        self.db.executemany(
            "INSERT INTO work_orders (wo_number, erp_order, product_code, line_code, qty_planned,"
            " qty_good, status, priority, release_time, due_time, start_time, end_time)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            wo_rows,
        )
        op_rows, param_rows = [], []
        ops = out.operations
        starts = _local(start, [op["start"] for op in ops])
        ends = _local(start, [op["end"] if op["end"] is not None else 0 for op in ops])
        lateness = self.rng.random(len(ops))
        delays = self.rng.integers(2, 15, len(ops))
        recorded_at = _local(
            start,
            [
                (op["end"] or 0) + int(d) * (240 if late < 0.02 else 1)
                for op, d, late in zip(ops, delays, lateness, strict=True)
            ],
        )
        for i, op in enumerate(ops):
            machine = world.machines[op["machine"]]
            op_id = self.op_offset + op["op_id"]
            end = op["end"]
            recorded = None if end is None else str(recorded_at[i])
            row = (
                op_id,
                op["wo_number"],
                machine.mtype.op_seq,
                machine.mtype.op_name,
                machine.refs["mes"][0],
                str(starts[i]),
                str(ends[i]) if end is not None else None,
                op["setup_minutes"],
                op["qty_in"],
                op["qty_good"],
                op["qty_scrap"],
                recorded,
            )
            if end is not None and lateness[i] < 0.02:
                self.late_operations.append(row)
            else:
                op_rows.append(row)
            for name, (setpoint, actual, unit) in op["params"].items():
                param_rows.append((op_id, name, setpoint, actual, unit))
        self.op_offset += len(ops)
        self.db.executemany(
            "INSERT INTO operations (op_id, wo_number, op_seq, op_name, machine_code, start_time,"
            " end_time, setup_min, qty_in, qty_good, qty_scrap, recorded_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            op_rows,
        )
        self.db.executemany("INSERT INTO operation_parameters VALUES (?,?,?,?,?)", param_rows)
        consumed_at = _local(start, [c["time"] for c in out.consumption])
        self.db.executemany(
            "INSERT INTO material_consumption VALUES (?,?,?,?,?,?)",
            [
                (
                    c["wo_number"],
                    world.materials[c["material"]].refs["mes"][0],
                    str(int(self.lots.batch[c["lot"]])),
                    c["quantity"],
                    world.materials[c["material"]].unit,
                    str(consumed_at[i]),
                )
                for i, c in enumerate(out.consumption)
            ],
        )
        if out.serial_no:
            numbers = np.concatenate(out.serial_no)
            wo_index = np.concatenate(out.serial_wo)
            created = np.concatenate(out.serial_created)
            status = np.concatenate(out.serial_status)
            product = np.concatenate(out.serial_product)
            wo_numbers = np.array([wo["wo_number"] for wo in out.work_orders], dtype=object)
            product_codes = np.array([p.refs["mes"][0] for p in world.products], dtype=object)
            status_names = np.array(["COMPLETED", "SCRAPPED", "WIP"], dtype=object)
            self.db.executemany(
                "INSERT INTO serials VALUES (?,?,?,?,?)",
                zip(
                    serial_text(numbers).tolist(),
                    wo_numbers[wo_index].tolist(),
                    product_codes[product].tolist(),
                    _local(start, created).tolist(),
                    status_names[status].tolist(),
                    strict=True,
                ),
            )
        machine_codes = np.array([m.refs["mes"][0] for m in world.machines], dtype=object)
        for press in out.presses:
            self.db.executemany(
                "INSERT INTO press_cycles VALUES (?,?,?,?)",
                zip(
                    serial_text(press["serial"]).tolist(),
                    machine_codes[press["machine"]].tolist(),
                    _local(start, press["time"]).tolist(),
                    press["force"].tolist(),
                    strict=True,
                ),
            )
        for test in out.tests:
            self.db.executemany(
                "INSERT INTO test_results VALUES (?,?,?,?,?,?,?,?,?)",
                zip(
                    serial_text(test["serial"]).tolist(),
                    machine_codes[test["machine"]].tolist(),
                    _local(start, test["time"]).tolist(),
                    test["flow_lpm"].tolist(),
                    test["efficiency_pct"].tolist(),
                    test["noise_dba"].tolist(),
                    test["leak_ml_min"].tolist(),
                    test["insulation_mohm"].tolist(),
                    np.where(test["pass"], "PASS", "FAIL").tolist(),
                    strict=True,
                ),
            )
        for mi, states in out.states.items():
            self._states(mi, states, out.minor_reasons[mi])

    def _states(self, mi: int, states: np.ndarray, minor: np.ndarray) -> None:
        machine = self.world.machines[mi]
        key = states.astype(np.int16) * 16 + (minor.astype(np.int16) + 1)
        change = np.flatnonzero(np.diff(key)) + 1
        starts = np.concatenate([[0], change])
        ends = np.concatenate([change, [states.size]])
        codes = {
            RUNNING: ("RUNNING", "R00", "Production"),
            SETUP: ("SETUP", "S10", "Changeover"),
            IDLE: ("IDLE", "I10", "No order or starved"),
            OFF: ("IDLE", "I00", "No shift planned"),
            BREAKDOWN: ("DOWN", "D10", f"Breakdown: {machine.mtype.failure_mode}"),
            WAITING_SPARE: ("DOWN", "D20", "Waiting for spare part"),
            PLANNED_MAINTENANCE: ("DOWN", "P10", "Planned maintenance"),
        }
        start_text = _local(self.start_s, starts)
        end_text = _local(self.start_s, ends)
        rows = []
        duplicate = self.rng.random(starts.size) < 0.003
        for i, (a, state) in enumerate(zip(starts, states[starts], strict=True)):
            if state == MINOR_STOP:
                code, text = MINOR_STOP_REASONS[int(minor[a])]
                entry = ("DOWN", code, text)
            else:
                entry = codes[int(state)]
            row = (machine.refs["mes"][0], *entry, str(start_text[i]), str(end_text[i]))
            rows.append(row)
            if duplicate[i]:
                rows.append(row)
                self.duplicated_states += 1
        self.db.executemany(
            "INSERT INTO machine_states (machine_code, state, reason_code, reason_text,"
            " start_time, end_time) VALUES (?,?,?,?,?,?)",
            rows,
        )

    def close(self) -> None:
        """Append the late operation rows and close the database."""
        self.db.executemany(
            "INSERT INTO operations (op_id, wo_number, op_seq, op_name, machine_code, start_time,"
            " end_time, setup_min, qty_in, qty_good, qty_scrap, recorded_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            self.late_operations,
        )
        self.db.commit()
        self.db.close()


def erp_date(start_s: int, minutes) -> np.ndarray:
    """ERP dates: ``DD.MM.YYYY`` in local time."""
    text = _local(start_s, minutes)
    return np.array([f"{t[8:10]}.{t[5:7]}.{t[0:4]}" for t in text.tolist()], dtype=object)


def write_csv(path: Path, header: list[str], rows, delimiter: str = ",") -> int:
    """Write rows (any iterable of sequences) with a header; returns the row count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=delimiter, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


def write_json(path: Path, payload) -> None:
    """Write pretty, key-sorted JSON (so the bytes are the same for the same content)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def write_jsonl(path: Path, records: list[dict]) -> None:
    """Write one JSON object per line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def write_xlsx(path: Path, sheets: dict[str, tuple[list[str], list[list]]]) -> None:
    """Write an Excel workbook whose bytes depend only on its content (a header, then rows)."""
    write_stable_workbook(
        path,
        {name: [header, *rows] for name, (header, rows) in sheets.items()},
        zip_time=FIXED_ZIP_TIME,
        stamp="2025-01-01T00:00:00Z",
    )


def utc(start_s: int, minutes) -> np.ndarray:
    """WMS timestamps: ISO 8601 UTC with ``Z``."""
    return to_utc_strings(start_s + 60 * np.asarray(minutes, dtype=np.int64))


def local_offset(start_s: int, minutes) -> list[str]:
    """CRM timestamps: ISO 8601 local time with its offset."""
    return to_offset_strings(start_s + 60 * np.asarray(minutes, dtype=np.int64))


__all__ = [
    "DAY",
    "MesWriter",
    "erp_date",
    "local_offset",
    "serial_text",
    "utc",
    "write_csv",
    "write_json",
    "write_jsonl",
    "write_xlsx",
]
