"""The quality lab's workbook: one sheet per inspection plan, typed by people.

``qms/Pruefprotokolle.xlsx``: every sheet starts with three title rows and an empty row before
its header (row 5). The final-inspection sheets (one per product family's inspection plan) hold
the lab's audit of one unit in 25 after its run-in test; the incoming-inspection sheet holds the
lab's check of every bearing batch. Dates are Excel dates or typed text (``06.10.2025``), times
typed text; measured values are numbers where the lab's template formatted the column, else
typed text with a decimal comma (``68,4``); serials are typed as read off the nameplate.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from factorybrain.simulate._sap_pi._calendar import Clock
from factorybrain.simulate._sap_pi._formats import german_number, write_workbook
from factorybrain.simulate._sap_pi._production import NOISE_LIMIT
from factorybrain.simulate._sap_pi._story import Story

TITLE_ROWS = 4
PLANS = (
    ("PP-4100 Endprüfung HG", "PP-4100", "Endprüfung Stirnradgetriebe HG", "HG"),
    ("PP-4200 Endprüfung KG", "PP-4200", "Endprüfung Kegelstirnradgetriebe KG", "KG"),
    ("PP-4300 Endprüfung SG", "PP-4300", "Endprüfung Schneckengetriebe SG", "SG"),
)
INSPECTORS = ("MG", "TW", "SK", "AH")
AUDIT_EVERY = 25


def _typed_serial(serial: str, rng: np.random.Generator) -> str:
    r = rng.random()
    if r < 0.85:
        return serial
    if r < 0.93:
        return f"{serial[:4]} {serial[4:]}"
    return serial.lower()


def _typed_number(value: float, decimals: int, rng: np.random.Generator) -> Any:
    """A number cell or the text someone typed (decimal comma)."""
    if rng.random() < 0.35:
        return round(float(value), decimals)
    return german_number(value, decimals)


def _date_cell(clock: Clock, minute: int, rng: np.random.Generator) -> Any:
    if rng.random() < 0.6:
        return datetime.fromisoformat(clock.iso_date(minute))
    return clock.sap_date(minute)


def write_qms(story: Story, out: Path) -> None:
    """Write the lab's workbook into ``out/qms``."""
    world = story.world
    rng = np.random.default_rng([story.seed, 2801])
    clock = Clock(story.calendar)
    sheets: dict[str, list[list[Any]]] = {}
    records: dict[str, Any] = {}
    header = [
        "Datum",
        "Uhrzeit",
        "Seriennummer",
        "Typ",
        "Prüfstand",
        "Geräusch dB(A)",
        "Verdrehflankenspiel [arcmin]",
        "Öltemperatur [°C]",
        "Ergebnis",
        "Prüfer",
        "Bemerkung",
    ]
    audited: dict[str, list[tuple[int, int, int]]] = {family: [] for _, _, _, family in PLANS}
    for oi, order in enumerate(story.orders):
        if len(order.ops) < 4:
            continue
        for u in np.flatnonzero(order.unit_done[3] >= 0).tolist():
            if rng.random() < 1.0 / AUDIT_EVERY:
                family = world.products[order.product].family
                audited[family].append(
                    (int(order.unit_done[3][u]) + int(rng.integers(30, 600)), oi, int(u))
                )
    for name, plan, text, family in PLANS:
        rows: list[list[Any]] = [
            ["Drautal Getriebewerk GmbH – Qualitätssicherung"],
            [f"Prüfplan {plan}  {text}   Rev. {3 + len(family) % 2}"],
            ["Werk Villach · Prüflabor Halle 2 · Messwerte lt. Prüfanweisung QA-17"],
            [],
            header,
        ]
        count = 0
        for at, oi, u in sorted(audited[family]):
            if at >= story.calendar.minutes:
                continue
            order = story.orders[oi]
            product = world.products[order.product]
            bench = world.machines[world.lines[order.line].machine_indices[3]]
            serial = story.serial(oi, u)
            noise = float(order.noise[u]) + rng.normal(0.0, 0.6)
            backlash = rng.normal(4.2 + 0.4 * product.index, 0.5)
            ok = noise <= NOISE_LIMIT + 0.5 and backlash < 7.0
            remark = ""
            if noise > NOISE_LIMIT - 1.5:
                remark = ["Lager laut", "Nachprüfung empfohlen", "Geräusch grenzwertig"][
                    int(rng.integers(3))
                ]
            typed = _typed_serial(serial, rng)
            story.see("qms", product.short, bench.qms_name or "")
            rows.append(
                [
                    _date_cell(clock, at, rng),
                    clock.sap_time(at)[:5],
                    typed,
                    product.short,
                    bench.qms_name,
                    _typed_number(noise, 1, rng),
                    _typed_number(backlash, 1, rng),
                    _typed_number(
                        float(order.oil_temp[u]) + rng.normal(0, 0.5),
                        0 if rng.random() < 0.5 else 1,
                        rng,
                    ),
                    "i.O." if ok else "n.i.O.",
                    INSPECTORS[int(rng.integers(len(INSPECTORS)))],
                    remark,
                ]
            )
            count += 1
        sheets[name] = rows
        records[name] = {"records": count, "header_row": TITLE_ROWS + 1}
    # incoming inspection of every bearing batch
    rows = [
        ["Drautal Getriebewerk GmbH – Qualitätssicherung"],
        ["Prüfplan PP-5100  Wareneingangsprüfung Kegelrollenlager   Rev. 2"],
        ["Werk Villach · Prüflabor Halle 2 · Stichprobe nach AQL 1,0"],
        [],
        [
            "Eingang",
            "Lieferant",
            "Lieferanten-Charge",
            "SAP-Charge",
            "Material",
            "Stichprobe",
            "Radialschlag max [µm]",
            "Laufgeräusch [dB]",
            "Entscheid",
            "Prüfer",
        ],
    ]
    count = 0
    for lot in story.book.lots:
        mat = world.materials[lot.material]
        if not mat.key.startswith("KRL") or lot.received < 0:
            continue
        if lot.received >= story.calendar.minutes:
            continue
        supplier = world.suppliers[mat.supplier]
        at = lot.received + int(rng.integers(60, 300))
        runout = rng.normal(9.0, 1.5) + (4.5 if lot.bad else 0.0)
        bearing_noise = rng.normal(31.0, 1.2) + (1.6 if lot.bad else 0.0)
        charg = str(lot.charg) if rng.random() < 0.7 else f"{lot.charg:010d}"
        material = mat.key if rng.random() < 0.7 else mat.key.split("-")[1]
        story.see("qms", supplier.qms_name, lot.licha, charg, material)
        rows.append(
            [
                _date_cell(clock, at, rng),
                supplier.qms_name,
                lot.licha,
                charg,
                material,
                int(rng.choice([8, 13, 20])),
                _typed_number(max(runout, 1.0), 1, rng),
                _typed_number(bearing_noise, 1, rng),
                "frei" if runout < 15.0 else "gesperrt",
                INSPECTORS[int(rng.integers(len(INSPECTORS)))],
            ]
        )
        count += 1
    name = "PP-5100 WE Kegelrollenlager"
    sheets[name] = rows
    records[name] = {"records": count, "header_row": TITLE_ROWS + 1}
    write_workbook(out / "qms" / "Pruefprotokolle.xlsx", sheets)
    story.records["qms/Pruefprotokolle.xlsx"] = {
        "records": sum(r["records"] for r in records.values()),
        "format": "xlsx",
        "rows_before_header": TITLE_ROWS,
        "sheets": records,
    }
