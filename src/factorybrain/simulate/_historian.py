"""The historian: PLC tags of every machine, sampled, faulted and streamed to Parquet.

Signals are generated per machine and per time chunk with vectorised numpy from the minute-level
machine state, product (operating regime), health index and process setpoints; first-order thermal
lags carry their state from one chunk to the next, so memory stays bounded whatever the horizon.
Planted sensor faults (drift, stuck, spikes, gaps) and the store-and-forward resend after a network
outage (late, duplicated rows at the end of the file) are drawn per tag.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from scipy.signal import lfilter

from factorybrain.simulate._production import BREAKDOWN, RUNNING, SETUP
from factorybrain.simulate._world import COMMON_TAGS, Machine, World

SCHEMA = pa.schema(
    [
        ("tag", pa.dictionary(pa.int32(), pa.string())),
        ("ts", pa.timestamp("ms", tz="UTC")),
        ("value", pa.float64()),
    ]
)
#: samples per tag in one generated chunk
CHUNK_SAMPLES = 1 << 18
FAULT_KINDS = ("drift", "stuck", "spikes", "gap")


@dataclass
class SensorFault:
    """A planted sensor fault on one tag (minutes from the start of the horizon)."""

    machine: int
    tag: str
    kind: str
    start: int
    end: int
    magnitude: float


@dataclass
class HistorianPlan:
    """Tags and planted faults of the whole plant."""

    tags: list[tuple[int, str, str, str, str]]
    faults: list[SensorFault]
    outages: list[tuple[int, int, int]] = field(default_factory=list)


def machine_tags(machine: Machine) -> list[tuple[str, str, str]]:
    """The machine's tags: (tag, description, engineering unit), in a fixed order."""
    mtype = machine.mtype
    word = f"{mtype.word} {machine.number}"
    units = {
        "run": "",
        "vibration": "mm/s",
        "temperature": machine.temp_unit,
        "current": "A",
        "speed": "rpm",
        "load": "%",
        "tension": "N",
        "pressure": machine.pressure_unit,
        "force": "kN",
        "flow": "l/min",
    }
    tags = []
    for name, description, kind in COMMON_TAGS + mtype.process_tags:
        tags.append((f"{machine.tag_prefix}.{name}", f"{word} {description}", units[kind]))
    return tags


def plan_historian(world: World, minutes: int, seed: int) -> HistorianPlan:
    """Draw the tag list, sensor faults and network outages.

    Args:
        world: The static plant.
        minutes: Horizon length in minutes.
        seed: Seed of the draws.

    Returns:
        The historian plan.
    """
    rng = np.random.default_rng([seed, 505])
    tags = []
    faults = []
    for machine in world.machines:
        for tag, description, unit in machine_tags(machine):
            tags.append((machine.index, tag, description, unit, machine.canonical))
            if tag.endswith(".RUN"):
                continue
            count = rng.poisson(minutes / (110 * 1440))
            for _ in range(count):
                kind = FAULT_KINDS[int(rng.integers(len(FAULT_KINDS)))]
                hours = {"drift": (24, 120), "stuck": (2, 24), "spikes": (12, 72), "gap": (1, 12)}
                length = int(rng.uniform(*hours[kind]) * 60)
                start = int(rng.integers(0, max(minutes - length, 1)))
                magnitude = float(rng.uniform(0.15, 0.3) * rng.choice([-1, 1]))
                faults.append(
                    SensorFault(machine.index, tag, kind, start, start + length, magnitude)
                )
    outages = []
    for line in world.lines:
        for _ in range(rng.poisson(minutes / (75 * 1440))):
            length = int(rng.uniform(1, 4) * 60)
            start = int(rng.integers(0, max(minutes - length, 1)))
            outages.append((line.number, start, start + length))
    return HistorianPlan(tags=tags, faults=faults, outages=outages)


class HistorianWriter:
    """Streams the plant's tags to one Parquet file, one row group per machine and chunk."""

    def __init__(self, path: Path, plan: HistorianPlan, start_s: int, sample_seconds: int):
        self.path = path
        self.plan = plan
        self.start_s = start_s
        self.sample_seconds = sample_seconds
        self.writer = pq.ParquetWriter(
            path,
            SCHEMA,
            compression="snappy",
            use_dictionary=["tag"],
            write_statistics=["ts"],
        )
        self.points = 0
        # rows resent after network outages go to the end of the file; kept on disk meanwhile
        self.late_path = path.with_name(path.name + ".late")
        self.late_writer = pq.ParquetWriter(self.late_path, SCHEMA, compression="snappy")

    def write_machine(
        self,
        machine: Machine,
        state: np.ndarray,
        product: np.ndarray,
        health: np.ndarray,
        setpoint: np.ndarray,
        world: World,
        seed: int,
    ) -> None:
        """Generate and write every tag of one machine over the horizon, chunk by chunk."""
        rng = np.random.default_rng([seed, 606, machine.index])
        minutes = state.size
        ss = self.sample_seconds
        total = minutes * 60 // ss
        tags = machine_tags(machine)
        names = [t[0] for t in tags]
        dictionary = pa.array(names, type=pa.string())
        faults = [f for f in self.plan.faults if f.machine == machine.index]
        outages = [(a, b) for line, a, b in self.plan.outages if line == machine.line]
        regime = np.array(
            [
                [
                    p.regime[key]
                    for key in (
                        "rpm",
                        "load",
                        "vib",
                        "current",
                        "heat",
                        "flow",
                        "test_bar",
                        "hyd_bar",
                        "winder_rpm",
                    )
                ]
                for p in world.products
            ]
            + [[0.0] * 9],
            dtype=np.float64,
        )
        temp_state = 22.0
        stuck_values: dict[tuple[str, int], float] = {}
        for first in range(0, total, CHUNK_SAMPLES):
            n = min(CHUNK_SAMPLES, total - first)
            offsets = (first + np.arange(n, dtype=np.int64)) * ss
            minute = offsets // 60
            s = state[minute]
            running = (s == RUNNING) | (s == SETUP)
            run_f = (s == RUNNING).astype(np.float64)
            prod = product[minute].astype(np.int64)
            reg = regime[np.where(prod >= 0, prod, len(world.products))]
            d = health[minute].astype(np.float64)
            values = np.empty((len(tags), n), dtype=np.float64)
            values[0] = run_f
            vib = np.where(
                running,
                reg[:, 2] * (1.0 + 2.2 * d) * (1.0 + 0.06 * rng.standard_normal(n)),
                np.where(s == BREAKDOWN, 0.05, 0.25) + 0.03 * np.abs(rng.standard_normal(n)),
            )
            values[1] = vib
            hours = (minute % 1440) / 60.0
            ambient = 21.0 + 2.5 * np.sin((hours - 9.0) / 24.0 * 2 * np.pi)
            target = ambient + run_f * (reg[:, 4] + 14.0 * d)
            alpha = 1.0 - np.exp(-ss / (25.0 * 60.0))
            temp, zf = lfilter([alpha], [1.0, alpha - 1.0], target, zi=[temp_state * (1 - alpha)])
            temp_state = float(temp[-1])
            temp = temp + 0.15 * rng.standard_normal(n)
            values[2] = temp * 9.0 / 5.0 + 32.0 if machine.temp_unit == "degF" else temp
            current = np.where(
                running,
                reg[:, 3] * (1.0 + 0.12 * d) * (1.0 + 0.02 * rng.standard_normal(n)),
                0.6 + 0.05 * rng.standard_normal(n),
            )
            values[3] = current
            to_pressure = 14.5038 if machine.pressure_unit == "psi" else 1.0
            noise = rng.standard_normal(n)
            code = machine.type_code
            if code == "LTH":
                values[4] = np.where(running, reg[:, 0] * (1 + 0.003 * noise), 0.0)
                values[5] = np.where(running, reg[:, 1] * (1 + 0.25 * d) + 1.5 * noise, 0.0)
            elif code == "WND":
                values[4] = np.where(running, reg[:, 8] * (1 + 0.004 * noise), 0.0)
                tension = np.nan_to_num(setpoint[minute].astype(np.float64))
                values[5] = np.where(running, tension + 0.2 * rng.standard_normal(n), 0.0)
            elif code == "PRS":
                hyd = np.where(running, reg[:, 7] * (1 - 0.1 * d), 20.0) + 1.2 * noise
                values[4] = hyd * to_pressure
                force = np.nan_to_num(setpoint[minute].astype(np.float64))
                values[5] = np.where(
                    running, force * (1 - 0.06 * d) + 0.3 * rng.standard_normal(n), 0.0
                )
            else:
                values[4] = np.where(running, reg[:, 5] * (1 - 0.05 * d) + 0.5 * noise, 0.0)
                values[5] = np.where(running, reg[:, 6] + 0.05 * noise, 0.0) * to_pressure
            keep = np.ones((len(tags), n), dtype=bool)
            chunk_lo, chunk_hi = offsets[0] // 60, offsets[-1] // 60 + 1
            for fault in faults:
                if fault.end <= chunk_lo or fault.start >= chunk_hi:
                    continue
                row = names.index(fault.tag)
                inside = (minute >= fault.start) & (minute < fault.end)
                if fault.kind == "gap":
                    keep[row] &= ~inside
                elif fault.kind == "drift":
                    progress = (minute - fault.start) / max(fault.end - fault.start, 1)
                    scale = np.abs(values[row]).mean() + 1e-9
                    values[row] = np.where(
                        inside, values[row] + fault.magnitude * scale * progress, values[row]
                    )
                elif fault.kind == "stuck":
                    key = (fault.tag, fault.start)
                    idx = np.flatnonzero(inside)
                    if idx.size:
                        stuck = stuck_values.setdefault(key, float(values[row][idx[0]]))
                        values[row][idx] = stuck
                else:
                    hits = inside & (rng.random(n) < 0.01)
                    values[row] = np.where(hits, values[row] * 6.0 + 10.0, values[row])
            late_keep = np.zeros((len(tags), n), dtype=bool)
            fault_keep = keep.copy()
            for start, end in outages:
                inside = (minute >= start) & (minute < end)
                if inside.any():
                    # store-and-forward resends the outage and the 10 minutes before it, late
                    resend = (minute >= start - 10) & (minute < end)
                    late_keep |= resend[None, :] & fault_keep
                    keep &= ~inside[None, :]
            ts = self.start_s * 1000 + offsets * 1000
            self._write(values, keep, ts, dictionary)
            if late_keep.any():
                self.late_writer.write_table(self._table(values, late_keep, ts, dictionary))

    def _table(
        self, values: np.ndarray, keep: np.ndarray, ts: np.ndarray, dictionary: pa.Array
    ) -> pa.Table:
        n_tags, n = values.shape
        if keep.all():
            index = np.repeat(np.arange(n_tags, dtype=np.int32), n)
            times = np.tile(ts, n_tags)
            flat = values.reshape(-1)
        else:
            mask = keep.reshape(-1)
            index = np.repeat(np.arange(n_tags, dtype=np.int32), n)[mask]
            times = np.tile(ts, n_tags)[mask]
            flat = values.reshape(-1)[mask]
        return pa.Table.from_arrays(
            [
                pa.DictionaryArray.from_arrays(pa.array(index, type=pa.int32()), dictionary),
                pa.array(times.astype("datetime64[ms]"), type=pa.timestamp("ms", tz="UTC")),
                pa.array(flat, type=pa.float64()),
            ],
            schema=SCHEMA,
        )

    def _write(
        self, values: np.ndarray, keep: np.ndarray, ts: np.ndarray, dictionary: pa.Array
    ) -> None:
        table = self._table(values, keep, ts, dictionary)
        self.points += table.num_rows
        self.writer.write_table(table, row_group_size=max(table.num_rows, 1))

    def close(self) -> None:
        """Append the late (store-and-forward) rows and close the file."""
        self.late_writer.close()
        late = pq.ParquetFile(self.late_path)
        for group in range(late.metadata.num_row_groups):
            table = late.read_row_group(group)
            self.points += table.num_rows
            self.writer.write_table(table, row_group_size=max(table.num_rows, 1))
        late.close()
        self.late_path.unlink()
        self.writer.close()
