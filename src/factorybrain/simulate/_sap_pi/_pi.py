"""The PI System of the gear plant: archive exports, the point list, digital states, AF.

``historian/pi_archive_<YYYY-MM>.csv`` (one file per local month, as a monthly extraction job
writes them): ``Tag,Timestamp,Value``, sorted by tag then time; timestamps are ISO 8601 local
time with their offset (``2025-10-26T02:15:04+02:00`` and, an hour later,
``2025-10-26T02:15:04+01:00``); values use a decimal point. Analog points are scanned every 15
minutes (``sample_seconds``) with a per-point phase and a few seconds of jitter; temperatures are
compressed with a deadband (``Compressing=1``, a simplification of PI's swinging door), so their
archive is irregular; a few scans are lost. Where a value could not be read the archive holds a
digital state of the System set instead of a number: ``Shutdown`` (the interface node of a line
restarted, every point of the line, then no data until it is back), ``I/O Timeout`` (one point
lost its connection), ``Bad Input`` (a loose connector) and, on the calculated throughput points,
``Calc Failed``. Machine state points are digital (state set ``MACHSTATE``) and archived on every
change. One point is stuck: it repeats one value for about 40 hours while its machine works.

``historian/pi_points.csv`` is the point list as PI Builder exports it, ``pi_digital_sets.csv``
the digital state sets (column-based, as PI SMT exports them) and ``af_hierarchy.xml`` the AF
element hierarchy (site, lines, machines) exported as AF XML: each machine's attributes reference
their PI points through a ``PI Point`` data reference and some carry the SAP equipment number.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import numpy as np
from scipy.signal import lfilter

from factorybrain.simulate._sap_pi._calendar import DAY, iso_offset, local_datetime64
from factorybrain.simulate._sap_pi._maintenance import DRIFT_GAIN
from factorybrain.simulate._sap_pi._production import (
    MAINT_DELAY,
    MINOR_STOP,
    NON_SCHEDULED,
    PM,
    PRODUCTIVE,
    REPAIR,
    SETUP,
    STANDBY,
)
from factorybrain.simulate._sap_pi._story import Story
from factorybrain.simulate._sap_pi._world import (
    AF_DATABASE,
    AF_SERVER,
    PI_SERVER,
    Machine,
)

DIGITAL_SET = ("OFF", "IDLE", "RUN", "SETUP", "STOP", "FAULT", "MAINT")
PLC_STATE = {
    NON_SCHEDULED: "OFF",
    STANDBY: "IDLE",
    PRODUCTIVE: "RUN",
    SETUP: "SETUP",
    MINOR_STOP: "STOP",
    PM: "MAINT",
    REPAIR: "FAULT",
    MAINT_DELAY: "FAULT",
}
#: per product, how hard the machines work (the bigger units load spindles and presses more)
LOAD = (1.0, 1.15, 1.35, 0.85)
DECIMALS = {
    "SPDL_VIB": 3,
    "SPDL_PWR": 2,
    "COOL_TEMP": 2,
    "OIL_TEMP": 2,
    "HYD_PRES": 1,
    "RAM_FORCE": 1,
    "NOISE": 1,
    "TORQUE": 1,
    "THROUGHPUT": 1,
}
COMP_DEV = {"COOL_TEMP": 0.5, "OIL_TEMP": 0.5}
COMP_MAX_S = 8 * 3600
STUCK_HOURS = 40


class PiExport:
    """Generates and writes every PI point of the plant."""

    def __init__(self, story: Story, out: Path) -> None:
        self.story = story
        self.out = out / "historian"
        self.rng = np.random.default_rng([story.seed, 2701])
        self.minutes = story.calendar.minutes
        self.sample = story.sample_seconds
        # rows: tag index, epoch second, value text
        self.tag_names: list[str] = []
        self.tag_rows: list[tuple[np.ndarray, np.ndarray]] = []
        self.points: list[dict[str, Any]] = []
        self.state_counts: dict[str, int] = {}

    # -- plan of outages and faults ----------------------------------------------------------
    def plan(self) -> None:
        story = self.story
        world = story.world
        rng = self.rng
        days = self.minutes / DAY
        outages = []
        for line in world.lines:
            for _ in range(int(rng.poisson(days / 75.0)) + (1 if line.index == 0 else 0)):
                start = int(rng.integers(DAY, max(self.minutes - DAY, DAY + 1)))
                outages.append((line.index, start, start + int(rng.uniform(60, 240))))
        self.outages = sorted(outages, key=lambda o: (o[1], o[0]))
        last = world.lines[-1]
        bench = next(
            world.machines[i] for i in last.machine_indices if world.machines[i].type_code == "TB"
        )
        press = next(
            world.machines[i] for i in last.machine_indices if world.machines[i].type_code == "PR"
        )
        self.stuck = None
        if days >= 10:
            start = self._running_minute(bench.index, int(0.42 * self.minutes))
            self.stuck = (
                bench.index,
                f"{bench.pi_prefix}.TORQUE.PV",
                start,
                start + STUCK_HOURS * 60,
            )
        self.bad_input = None
        if days >= 20:
            start = int(0.7 * self.minutes)
            self.bad_input = (press.index, f"{press.pi_prefix}.HYD_PRES.PV", start, start + 2 * DAY)
        story.pi["outages"] = self.outages
        story.pi["stuck"] = self.stuck
        story.pi["bad_input"] = self.bad_input
        story.pi["io_timeouts"] = []

    def _running_minute(self, machine: int, after: int) -> int:
        states = self._states(machine)
        hits = np.flatnonzero(states[after:] == PRODUCTIVE)
        return after + int(hits[0]) if hits.size else after

    def _states(self, machine: int) -> np.ndarray:
        line = self.story.world.machines[machine].line - 1
        return self.story.runs[line].states[machine]

    # -- generation ------------------------------------------------------------------------
    def _sample_times(self) -> tuple[np.ndarray, np.ndarray]:
        """Scan times (epoch s) and their minute of the horizon, for one point."""
        start = self.story.calendar.start_s
        n = (self.minutes * 60) // self.sample
        phase = int(self.rng.integers(0, 60))
        offsets = np.arange(n, dtype=np.int64) * self.sample + phase
        offsets += self.rng.integers(0, 4, size=n)
        keep = self.rng.random(n) >= 0.005
        offsets = offsets[keep & (offsets < self.minutes * 60)]
        return start + offsets, offsets // 60

    def _add(self, name: str, epochs: np.ndarray, values: np.ndarray) -> None:
        self.tag_names.append(name)
        self.tag_rows.append((epochs, values))

    def machine_points(self, machine: Machine) -> None:
        story = self.story
        line = story.runs[machine.line - 1]
        states = line.states[machine.index]
        product = line.products[machine.index]
        health = line.health[machine.index]
        running = states == PRODUCTIVE
        load = np.where(product >= 0, np.take(np.array(LOAD), np.maximum(product, 0)), 1.0)
        rng = self.rng
        mtype = machine.mtype
        for signal, description, unit, af_name, compressing in mtype.signals:
            if signal == "STATE":
                self._state_point(machine, states, description)
                continue
            tag = f"{machine.pi_prefix}.{signal}.PV"
            epochs, minute = self._sample_times()
            st = states[minute]
            on = running[minute]
            ld = load[minute]
            n = minute.size
            if signal == "SPDL_VIB":
                base = 1.2 if mtype.code == "MC" else 0.9
                value = np.where(on, base * ld * rng.normal(1.0, 0.06, n), 0.0)
                value = np.where(st == SETUP, rng.normal(0.35, 0.05, n), value)
                value = np.where(~on & (st != SETUP), np.abs(rng.normal(0.07, 0.02, n)), value)
                if mtype.code == "GR":
                    value = np.where(on, value * (1.0 + DRIFT_GAIN * health[minute]), value)
            elif signal == "SPDL_PWR":
                base = 11.0 if mtype.code == "MC" else 7.5
                value = np.where(on, base * ld * rng.normal(1.0, 0.08, n), 0.0)
                value = np.where(st == SETUP, rng.normal(1.8, 0.2, n), value)
                value = np.where(st == STANDBY, rng.normal(0.9, 0.1, n), value)
                value = np.where(
                    np.isin(st, (NON_SCHEDULED, PM, REPAIR, MAINT_DELAY)),
                    np.abs(rng.normal(0.3, 0.05, n)),
                    value,
                )
                value = np.where(st == MINOR_STOP, rng.normal(1.2, 0.2, n), value)
            elif signal in ("COOL_TEMP", "OIL_TEMP"):
                ambient, rise, tau = {
                    "MC": (20.0, 7.0, 40.0),
                    "GR": (21.0, 5.0, 40.0),
                    "PR": (24.0, 18.0, 60.0),
                    "TB": (22.0, 38.0, 60.0),
                }[mtype.code]
                alpha = 1.0 - np.exp(-1.0 / tau)
                drive = ambient + rise * (running * load).astype(np.float64)
                lagged = lfilter([alpha], [1.0, alpha - 1.0], drive, zi=[ambient * (1 - alpha)])[0]
                value = lagged[minute] + rng.normal(0.0, 0.15, n)
            elif signal == "HYD_PRES":
                value = np.where(on, (175.0 + 20.0 * ld) + rng.normal(0.0, 6.0, n), 0.0)
                idle = np.isin(st, (STANDBY, SETUP, MINOR_STOP))
                value = np.where(idle, rng.normal(45.0, 2.0, n), value)
                value = np.where(~on & ~idle, np.abs(rng.normal(0.5, 0.3, n)), value)
            elif signal == "RAM_FORCE":
                pressing = on & (rng.random(n) < 0.55)
                value = np.where(
                    pressing, 140.0 * ld * rng.normal(1.0, 0.05, n), np.abs(rng.normal(1.5, 0.8, n))
                )
                value = np.where(on | (st == SETUP), value, 0.0)
            elif signal == "NOISE":
                p = np.maximum(product[minute], 0)
                nominal = np.array([pr.noise_nominal for pr in story.world.products])[p]
                value = np.where(on, nominal + rng.normal(0.0, 1.0, n), 0.0)
                value = np.where(~on & (st != NON_SCHEDULED), rng.normal(46.0, 2.0, n), value)
                value = np.where(st == NON_SCHEDULED, rng.normal(38.0, 1.5, n), value)
            elif signal == "TORQUE":
                p = np.maximum(product[minute], 0)
                nominal = np.array([pr.torque_nm for pr in story.world.products])[p]
                value = np.where(on, nominal * rng.normal(1.0, 0.03, n), 0.0)
            else:
                raise ValueError(signal)
            text = np.char.mod(f"%.{DECIMALS[signal]}f", np.round(value, DECIMALS[signal]))
            epochs, text = self._faults(machine, tag, signal, epochs, minute, text, compressing)
            self._add(tag, epochs, text)
            self.points.append(
                {
                    "tag": tag,
                    "type": "Float32",
                    "descriptor": f"{description} {mtype.af_word} {machine.pi_number:02d} "
                    f"L{machine.line}",
                    "unit": unit,
                    "set": "",
                    "compressing": compressing,
                    "comp_dev": COMP_DEV.get(signal, 0.0),
                    "machine": machine.index,
                    "signal": signal,
                    "af_attribute": af_name,
                    "instrument": f"ns=2;s=L{machine.line}.{mtype.arbpl_prefix}.{signal}",
                }
            )

    def _faults(
        self,
        machine: Machine,
        tag: str,
        signal: str,
        epochs: np.ndarray,
        minute: np.ndarray,
        text: np.ndarray,
        compressing: bool,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Stuck value, Bad Input, I/O Timeout, interface Shutdown, then compression."""
        rng = self.rng
        text = text.astype(object)
        if self.stuck is not None and self.stuck[1] == tag:
            _, _, a, b = self.stuck
            inside = (minute >= a) & (minute < b)
            if inside.any():
                text[inside] = text[np.flatnonzero(inside)[0]]
        if self.bad_input is not None and self.bad_input[1] == tag:
            _, _, a, b = self.bad_input
            hit = (minute >= a) & (minute < b) & (rng.random(minute.size) < 0.3)
            text[hit] = "Bad Input"
        keep = np.ones(minute.size, dtype=bool)
        extra: list[tuple[int, str]] = []
        days = self.minutes / DAY
        for _ in range(int(rng.poisson(days / 70.0))):
            a = int(rng.integers(0, self.minutes))
            b = a + int(rng.uniform(20, 180))
            keep &= ~((minute >= a) & (minute < b))
            extra.append((self.story.epoch(a) + int(rng.integers(0, 60)), "I/O Timeout"))
            self.story.pi["io_timeouts"].append((machine.index, tag, a, b))
        for line, a, b in self.outages:
            if line == machine.line - 1:
                keep &= ~((minute >= a) & (minute < b))
                extra.append((self.story.epoch(a), "Shutdown"))
        epochs, minute, text = epochs[keep], minute[keep], text[keep]
        if compressing:
            dev = COMP_DEV[signal]
            chosen = np.zeros(epochs.size, dtype=bool)
            last_value = None
            last_time = -(10**12)
            for k in range(epochs.size):
                cell = text[k]
                if not cell[0].isdigit() and cell[0] != "-":
                    chosen[k] = True
                    continue
                v = float(cell)
                moved = last_value is None or abs(v - last_value) >= dev
                if moved or epochs[k] - last_time >= COMP_MAX_S:
                    chosen[k] = True
                    last_value, last_time = v, int(epochs[k])
            epochs, text = epochs[chosen], text[chosen]
        if extra:
            epochs = np.concatenate((epochs, np.array([e for e, _ in extra], dtype=np.int64)))
            text = np.concatenate((text, np.array([s for _, s in extra], dtype=object)))
            order = np.argsort(epochs, kind="stable")
            epochs, text = epochs[order], text[order]
        return epochs, text

    def _state_point(self, machine: Machine, states: np.ndarray, description: str) -> None:
        tag = f"{machine.pi_prefix}.STATE"
        plc = np.array([PLC_STATE[s] for s in range(8)], dtype=object)
        codes = plc[states]
        names = codes.astype(str)
        change = np.flatnonzero(names[1:] != names[:-1]) + 1
        starts = np.concatenate(([0], change))
        seconds = self.rng.integers(0, 60, size=starts.size)
        seconds[0] = 0
        epochs = self.story.calendar.start_s + 60 * starts.astype(np.int64) + seconds
        text = codes[starts]
        minute = starts.astype(np.int64)
        keep = np.ones(starts.size, dtype=bool)
        extra = []
        for line, a, b in self.outages:
            if line == machine.line - 1:
                keep &= ~((minute >= a) & (minute < b))
                extra.append((self.story.epoch(a), "Shutdown"))
                if b < self.minutes:
                    extra.append((self.story.epoch(b) + 5, str(plc[states[b]])))
        epochs, text = epochs[keep], text[keep]
        if extra:
            epochs = np.concatenate((epochs, np.array([e for e, _ in extra], dtype=np.int64)))
            text = np.concatenate((text, np.array([s for _, s in extra], dtype=object)))
            order = np.argsort(epochs, kind="stable")
            epochs, text = epochs[order], text[order]
        self._add(tag, epochs, text)
        self.points.append(
            {
                "tag": tag,
                "type": "Digital",
                "descriptor": f"{description} {machine.mtype.af_word} {machine.pi_number:02d} "
                f"L{machine.line}",
                "unit": "",
                "set": "MACHSTATE",
                "compressing": False,
                "comp_dev": 0.0,
                "machine": machine.index,
                "signal": "STATE",
                "af_attribute": "Machine State",
                "instrument": f"ns=2;s=L{machine.line}.{machine.mtype.arbpl_prefix}.STATE",
            }
        )

    def throughput_points(self) -> None:
        """Per line: units tested in the last hour, computed every 15 minutes."""
        story = self.story
        for line in story.world.lines:
            tag = f"PLANT2:LINE{line.number}.THROUGHPUT.CALC"
            done = []
            for order in story.orders:
                if order.line == line.index and len(order.ops) == 4:
                    t = order.unit_done[3]
                    done.append(t[t >= 0])
            finished = np.sort(np.concatenate(done)) if done else np.zeros(0, dtype=np.int64)
            step = 15
            grid = np.arange(step, self.minutes, step, dtype=np.int64)
            count = np.searchsorted(finished, grid, side="left") - np.searchsorted(
                finished, grid - 60, side="left"
            )
            epochs = story.calendar.start_s + 60 * grid + 2
            text = np.char.mod("%.1f", count.astype(np.float64)).astype(object)
            for li, a, b in self.outages:
                if li == line.index:
                    text[(grid >= a) & (grid < b + 60)] = "Calc Failed"
            self._add(tag, epochs, text)
            self.points.append(
                {
                    "tag": tag,
                    "type": "Float32",
                    "descriptor": f"Durchsatz Linie {line.number} Stk/h (Performance Equation)",
                    "unit": "Stk/h",
                    "set": "",
                    "compressing": False,
                    "comp_dev": 0.0,
                    "machine": None,
                    "line": line.index,
                    "signal": "THROUGHPUT",
                    "af_attribute": "Throughput",
                    "instrument": "",
                }
            )

    # -- files -------------------------------------------------------------------------------
    def write(self) -> None:
        self.plan()
        for machine in self.story.world.machines:
            self.machine_points(machine)
        self.throughput_points()
        self._archive()
        self._point_list()
        self._digital_sets()
        self._af()
        self.story.pi["points"] = self.points

    def _archive(self) -> None:
        """One file per local month, tag by tag, so memory holds one tag-month of text."""
        story = self.story
        calendar = story.calendar
        firsts = [d for d, day in enumerate(calendar.days) if day.day == 1 and d > 0]
        bounds = [calendar.start_s]
        bounds += [calendar.epoch(int(np.searchsorted(calendar.day_index, d))) for d in firsts]
        bounds.append(calendar.end_s)
        order = sorted(range(len(self.tag_names)), key=lambda k: self.tag_names[k])
        counts = dict.fromkeys(("Shutdown", "I/O Timeout", "Bad Input", "Calc Failed"), 0)
        self.out.mkdir(parents=True, exist_ok=True)
        total = 0
        for low, high in zip(bounds, bounds[1:], strict=False):
            label = str(local_datetime64(np.array([low]))[0].astype("datetime64[M]"))
            path = self.out / f"pi_archive_{label}.csv"
            rows = 0
            with path.open("w", encoding="utf-8", newline="\n") as handle:
                handle.write("Tag,Timestamp,Value\n")
                for k in order:
                    epochs, values = self.tag_rows[k]
                    a, b = np.searchsorted(epochs, [low, high], side="left")
                    if b <= a:
                        continue
                    name = self.tag_names[k]
                    stamps = iso_offset(epochs[a:b])
                    texts = values[a:b].tolist()
                    for state in counts:
                        counts[state] += texts.count(state)
                    handle.write(
                        "".join(
                            f"{name},{stamp},{text}\n"
                            for stamp, text in zip(stamps, texts, strict=True)
                        )
                    )
                    rows += int(b - a)
            story.records[f"historian/{path.name}"] = {
                "records": rows,
                "format": "csv",
                "encoding": "utf-8",
                "delimiter": ",",
                "lines_before_header": 0,
                "trailing_lines": 0,
            }
            total += rows
        story.dirt["pi_digital_states"] = counts
        story.pi["rows"] = total
        story.see("historian", *self.tag_names)

    def _point_list(self) -> None:
        rows = []
        for p in self.points:
            digital = p["type"] == "Digital"
            rows.append(
                [
                    p["tag"],
                    p["type"],
                    "OPCUA" if p["machine"] is not None else "C",
                    p["descriptor"],
                    p["unit"],
                    p["set"],
                    "1" if p["machine"] is not None else "0",
                    "1",
                    "1" if p["compressing"] else "0",
                    f"{p['comp_dev']:g}",
                    "28800",
                    "0" if digital else "0.05",
                    "600",
                    "0",
                    "100" if not digital else "7",
                    p["instrument"],
                ]
            )
        header = [
            "Name",
            "PointType",
            "PointSource",
            "Descriptor",
            "EngUnits",
            "DigitalSet",
            "Location1",
            "Location4",
            "Compressing",
            "CompDev",
            "CompMax",
            "ExcDev",
            "ExcMax",
            "Zero",
            "Span",
            "InstrumentTag",
        ]
        path = self.out / "pi_points.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\r\n")
            writer.writerow(header)
            writer.writerows(rows)
        self.story.records["historian/pi_points.csv"] = {
            "records": len(rows),
            "format": "csv",
            "encoding": "utf-8",
            "delimiter": ",",
            "lines_before_header": 0,
            "trailing_lines": 0,
        }
        self.story.see("historian", *(p["descriptor"] for p in self.points))

    def _digital_sets(self) -> None:
        path = self.out / "pi_digital_sets.csv"
        text = "server name,state set," + ",".join(f"state{k}" for k in range(len(DIGITAL_SET)))
        text += f"\n{PI_SERVER},MACHSTATE," + ",".join(DIGITAL_SET) + "\n"
        path.write_text(text, encoding="utf-8")
        self.story.records["historian/pi_digital_sets.csv"] = {
            "records": 1,
            "format": "csv",
            "encoding": "utf-8",
            "delimiter": ",",
            "lines_before_header": 0,
            "trailing_lines": 0,
        }

    def _af(self) -> None:
        """The AF element hierarchy as AF XML (PI System Explorer, Export to File)."""
        story = self.story
        world = story.world
        by_machine: dict[int, list[dict[str, Any]]] = {}
        by_line: dict[int, list[dict[str, Any]]] = {}
        for p in self.points:
            if p["machine"] is not None:
                by_machine.setdefault(p["machine"], []).append(p)
            else:
                by_line.setdefault(p["line"], []).append(p)
        elements = attributes = 0
        out = ['<?xml version="1.0" encoding="utf-8"?>']
        out.append(
            f'<AF xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" SchemaVersion="2.0" '
            f'SoftwareVersion="2.10.11.2717" PISystem="{AF_SERVER}" Database="{AF_DATABASE}" '
            'ExportedType="AFElement" Identity="Element" '
            'ExportMode="StrongReferences, NoUniqueID">'
        )

        def attribute(
            indent: str,
            name: str,
            kind: str,
            value: str | None = None,
            point: dict[str, Any] | None = None,
        ) -> None:
            nonlocal attributes
            attributes += 1
            out.append(f"{indent}<AFAttribute>")
            out.append(f"{indent}  <Name>{escape(name)}</Name>")
            out.append(f"{indent}  <Type>{kind}</Type>")
            if point is not None:
                if point["unit"]:
                    out.append(f"{indent}  <DefaultUOM>{escape(_uom(point['unit']))}</DefaultUOM>")
                out.append(f"{indent}  <DataReference>PI Point</DataReference>")
                out.append(
                    f"{indent}  <ConfigString>\\\\{PI_SERVER}\\{escape(point['tag'])}"
                    f"</ConfigString>"
                )
            if value is not None:
                out.append(f'{indent}  <Value type="{kind}">{escape(value)}</Value>')
            out.append(f"{indent}</AFAttribute>")

        def open_element(indent: str, name: str, template: str, description: str) -> None:
            nonlocal elements
            elements += 1
            out.append(f"{indent}<AFElement>")
            out.append(f"{indent}  <Name>{escape(name)}</Name>")
            out.append(f"{indent}  <Description>{escape(description)}</Description>")
            out.append(f"{indent}  <Template>{escape(template)}</Template>")

        open_element("  ", "Villach", "Site", "Drautal Getriebewerk, Werk Villach")
        attribute("    ", "Time Zone", "String", "W. Europe Standard Time")
        for line in world.lines:
            open_element("    ", f"Line {line.number}", "Production Line", line.pltxt)
            if line.index % 2 == 0:
                attribute("      ", "SAP Functional Location", "String", line.tplnr)
            for p in by_line.get(line.index, []):
                attribute("      ", p["af_attribute"], "Double", point=p)
            for mi in line.machine_indices:
                m = world.machines[mi]
                open_element("      ", m.af_name, m.mtype.af_word, f"{m.vendor} {m.model}")
                attribute("        ", "Manufacturer", "String", m.vendor)
                attribute("        ", "Model", "String", m.model)
                if m.af_has_equipment:
                    attribute("        ", "SAP Equipment", "String", str(m.equnr))
                for p in by_machine.get(mi, []):
                    kind = "String" if p["type"] == "Digital" else "Double"
                    attribute("        ", p["af_attribute"], kind, point=p)
                out.append("      </AFElement>")
            out.append("    </AFElement>")
        out.append("  </AFElement>")
        out.append("</AF>")
        path = self.out / "af_hierarchy.xml"
        path.write_text("\n".join(out) + "\n", encoding="utf-8")
        self.story.records["historian/af_hierarchy.xml"] = {
            "records": elements + attributes,
            "format": "xml",
            "encoding": "utf-8",
            "elements": elements,
            "attributes": attributes,
        }
        self.story.see(
            "historian",
            *(m.pi_prefix for m in world.machines),
            *(f"PLANT2:LINE{ln.number}" for ln in world.lines),
            *(f"\\\\{AF_SERVER}\\{AF_DATABASE}\\Villach\\Line {ln.number}" for ln in world.lines),
            *(m.af_name for m in world.machines),
            *(m.af_path for m in world.machines),
            *(str(m.equnr) for m in world.machines if m.af_has_equipment),
            *(f"Line {ln.number}" for ln in world.lines),
        )


def _uom(unit: str) -> str:
    return {
        "°C": "degree Celsius",
        "mm/s": "millimeter per second",
        "kW": "kilowatt",
        "bar": "bar",
        "kN": "kilonewton",
        "dB(A)": "decibel",
        "Nm": "newton meter",
        "Stk/h": "count per hour",
    }.get(unit, unit)


def write_pi(story: Story, out: Path) -> None:
    """Write the PI archive exports, point list, digital sets and AF hierarchy."""
    PiExport(story, out).write()
