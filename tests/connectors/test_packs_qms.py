"""The quality-lab pack: inspection workbooks load with no mapping written for them.

A lab sheet has titles above its header, one row per unit (final inspection) or per batch
(incoming inspection) and one column per characteristic with its unit in the header. Each
measured cell becomes a quality result; a sheet is recognised by what its columns hold (German
or English headers, however they are spelled among the usual), every cell read is accounted
for, and loading the workbook again changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from factorybrain.connectors import (
    IngestReport,
    ingest,
    load_mapping,
    load_packs,
    load_with_packs,
    plan_folder,
    sniff,
    split_source_label,
)
from factorybrain.demo import score_source_records
from factorybrain.exceptions import IngestError, MappingError
from factorybrain.store import DuckDBStore
from tests.connectors.test_mapping_language import _accounted as _summed

Write = Callable[..., Path]
ZONE = "Europe/Vienna"  # the plant's zone: CEST (UTC+2) in early October
TITLES: list[list[Any]] = [
    ["Werk Nord – Qualitätssicherung"],
    ["Prüfplan PP-1  Endprüfung Getriebe   Rev. 3"],
    ["Prüflabor Halle 2 · Messwerte lt. Prüfanweisung"],
    [],
]
FINAL_DE = [
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
FINAL_DE_ROWS: list[list[Any]] = [
    [datetime(2025, 10, 6), "14:05", "GB25 000123", "G40", "P2", 68.4, "4,2", 61, "i.O.", "MG"],
    ["07.10.2025", "9.30", "gb25000124", "G40", "P2", "68,4", None, "abc", "n.i.O.", "TW", "laut"],
    ["07.10.2025", "10:15", "GB25000125", "G40", "P2", "70,1", "4,0", "60", "vielleicht", "TW"],
]
FINAL_EN = [
    "Date",
    "Serial No.",
    "Model",
    "Test bench",
    "Noise dB(A)",
    "Backlash (arcmin)",
    "Oil temperature [°C]",
    "Result",
    "Inspector",
    "Remarks",
]
FINAL_EN_ROWS: list[list[Any]] = [
    [datetime(2025, 10, 8, 7, 45), "GB25 000126", "G40", "Bench 1", "67.9", 4.1, "59", "OK"],
    ["2025-10-08 08:10", "gb25000127", "G40", "Bench 1", "68,4", "3.9", 60.5, "NOK", "AH", "loud"],
]
INCOMING_DE = [
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
]
INCOMING_DE_ROWS: list[list[Any]] = [
    [
        datetime(2025, 10, 1),
        "Wälzlager AG",
        "WL-77",
        "4700123",
        "KRL-1",
        13,
        9.1,
        "31,2",
        "frei",
        "MG",
    ],
    ["02.10.2025", "Wälzlager AG", "WL-78", "0004700128", "1", 8, "15,3", "33", "gesperrt", "TW"],
]
INCOMING_EN = [
    "Received",
    "Supplier",
    "Supplier batch",
    "Batch",
    "Part No.",
    "Sample size",
    "Radial runout [µm]",
    "Running noise [dB]",
    "Decision",
    "Inspector",
]
INCOMING_EN_ROWS: list[list[Any]] = [
    ["2025-10-03", "Rolling Ltd", "RL-5", 4700130, "KRL-30205", 13, "8.8", 30.9, "released", "SK"],
]


def _workbook(path: Path, sheets: dict[str, tuple[list[str], list[list[Any]]]]) -> Path:
    """A lab workbook: each sheet has three title rows and an empty row above its header."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, (header, rows) in sheets.items():
        sheet = book.create_sheet(name)
        for row in [*TITLES, header, *rows]:
            sheet.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def _load(store: DuckDBStore, folder: Path) -> dict[str, IngestReport]:
    """Load a folder through the packs; the reports by sheet."""
    result = load_with_packs(store, folder, timezone=ZONE)
    assert not result.failures, result.failures
    assert not result.unmatched, result.unmatched
    return {split_source_label(r.source_file)[1] or r.source_file: r for r in result.reports}


def _results(store: DuckDBStore) -> dict[str, dict[str, Any]]:
    rows = store.query_rows(
        "SELECT external_id, test_name, unit, value, status, serial_unit, material_lot, "
        "equipment, measured_at, description, tags FROM quality_result WHERE space = 'qms'"
    )
    return {row["external_id"]: row for row in rows}


def _quarantine(store: DuckDBStore) -> list[dict[str, Any]]:
    return store.query_rows(
        "SELECT source_file, row_number, field, reason, raw FROM quarantine "
        "ORDER BY source_file, row_number, reason"
    )


def _accounted(report: IngestReport) -> None:
    assert report.rows_read == report.accounted
    _summed(report)


@pytest.fixture
def lab(tmp_path: Path) -> Path:
    """A German final-inspection and incoming-inspection workbook, as a lab keeps it."""
    _workbook(
        tmp_path / "exports" / "qms" / "Prüfberichte 2025.xlsx",
        {
            "PP-1 Endprüfung": (FINAL_DE, FINAL_DE_ROWS),
            "PP-5 Wareneingang": (INCOMING_DE, INCOMING_DE_ROWS),
        },
    )
    return tmp_path / "exports"


# -- final inspection: one result per measured cell ---------------------------------------------
def test_a_final_inspection_sheet_becomes_one_quality_result_per_measured_cell(
    store: DuckDBStore, lab: Path
) -> None:
    _load(store, lab)
    results = _results(store)

    first = "GB25000123/{}/2025-10-06 14:05:00"
    assert {k for k in results if k.startswith("GB25000123/")} == {
        first.format("Geräusch"),
        first.format("Verdrehflankenspiel"),
        first.format("Öltemperatur"),
    }
    noise = results[first.format("Geräusch")]
    assert (noise["test_name"], noise["unit"], noise["value"]) == ("Geräusch", "dB(A)", 68.4)
    assert (noise["status"], noise["serial_unit"], noise["equipment"]) == (
        "pass",
        "GB25000123",
        "P2",
    )
    assert noise["measured_at"] == datetime(2025, 10, 6, 12, 5)  # 14:05 in Vienna, as UTC
    assert noise["tags"] == ["inspector:MG"]
    backlash = results[first.format("Verdrehflankenspiel")]
    assert (backlash["unit"], backlash["value"]) == ("arcmin", 4.2)  # typed "4,2"
    assert results[first.format("Öltemperatur")]["unit"] == "°C"

    # typed in lower case, a date typed as text and a time typed "9.30"; the decimal comma
    second = results["GB25000124/Geräusch/2025-10-07 09:30:00"]
    assert (second["value"], second["status"], second["serial_unit"]) == (
        68.4,
        "fail",
        "GB25000124",
    )
    assert second["measured_at"] == datetime(2025, 10, 7, 7, 30)
    assert second["description"] == "laut"


def test_a_cell_that_is_no_number_is_quarantined_alone_naming_file_row_and_field(
    store: DuckDBStore, lab: Path
) -> None:
    report = _load(store, lab)["PP-1 Endprüfung"]

    wrong = [q for q in _quarantine(store) if q["field"] == "value"]
    assert len(wrong) == 1
    [cell] = wrong
    file, sheet = split_source_label(cell["source_file"])
    assert (Path(file).name, sheet) == ("Prüfberichte 2025.xlsx", "PP-1 Endprüfung")
    assert cell["row_number"] == 7  # the sheet's row: below three titles, a blank and the header
    assert cell["reason"].startswith(
        "field 'value' (column 'Öltemperatur [°C]'): expected a finite number written with ','"
    )
    assert cell["reason"].endswith("found 'abc'")
    assert (
        '"Öltemperatur [°C]":"abc"' in cell["raw"] and '"Seriennummer":"gb25000124"' in cell["raw"]
    )
    # nothing of the cell is stored; the row's other measured cell is, as it was written
    results = _results(store)
    assert not [k for k in results if k.startswith("GB25000124/Öltemperatur")]
    assert results["GB25000124/Geräusch/2025-10-07 09:30:00"]["value"] == 68.4
    assert report.quarantine_by_reason


def test_an_empty_measurement_cell_is_no_result_and_is_counted(
    store: DuckDBStore, lab: Path
) -> None:
    report = _load(store, lab)["PP-1 Endprüfung"]

    assert report.filtered_by_reason == {
        "column 'Verdrehflankenspiel [arcmin]': empty cells (missing values)": 1
    }
    assert "GB25000124/Verdrehflankenspiel/2025-10-07 09:30:00" not in _results(store)


def test_an_unknown_verdict_is_quarantined_not_guessed(store: DuckDBStore, lab: Path) -> None:
    _load(store, lab)

    unknown = [q for q in _quarantine(store) if q["field"] == "status"]
    # each measured cell of the row is a result, and none is stored with a guessed status
    assert [q["row_number"] for q in unknown] == [8, 8, 8]
    assert all("(column 'Ergebnis'): expected one of the codes" in q["reason"] for q in unknown)
    assert all(q["reason"].endswith("found 'vielleicht'") for q in unknown)
    assert not [k for k in _results(store) if k.startswith("GB25000125/")]


def test_every_cell_read_is_accounted_for_per_sheet(store: DuckDBStore, lab: Path) -> None:
    reports = _load(store, lab)

    final = reports["PP-1 Endprüfung"]
    # 3 rows of 3 measurement columns: 4 results, 1 empty cell, 1 'abc' and 3 unknown verdicts
    assert (final.records_read, final.rows_read) == (3, 9)
    assert (final.inserted, final.filtered, final.quarantined) == (4, 1, 4)
    incoming = reports["PP-5 Wareneingang"]
    assert (incoming.records_read, incoming.rows_read, incoming.inserted) == (2, 4, 4)
    for report in reports.values():
        _accounted(report)


def test_loading_the_workbook_again_changes_nothing(store: DuckDBStore, lab: Path) -> None:
    first = _load(store, lab)
    before = _results(store)
    quarantined = len(_quarantine(store))

    again = _load(store, lab)

    for sheet, report in again.items():
        assert (report.inserted, report.updated) == (0, 0), sheet
        assert report.unchanged == first[sheet].inserted, sheet
        _accounted(report)
    assert _results(store) == before
    assert len(_quarantine(store)) == quarantined  # replaced, never duplicated


def test_each_sheet_keeps_its_own_quarantine_when_another_loads_through_the_same_mapping(
    store: DuckDBStore, tmp_path: Path
) -> None:
    clean = [r for r in FINAL_DE_ROWS if r[7] != "abc" and r[8] != "vielleicht"]
    _workbook(
        tmp_path / "lab" / "plans.xlsx",
        {"Plan A": (FINAL_DE, FINAL_DE_ROWS), "Plan B": (FINAL_DE, clean)},
    )
    reports = _load(store, tmp_path / "lab")

    assert reports["Plan A"].mapping_file == reports["Plan B"].mapping_file
    held = {split_source_label(q["source_file"])[1] for q in _quarantine(store)}
    assert held == {"Plan A"}  # loading Plan B after Plan A kept Plan A's quarantine


# -- incoming inspection: results of the ERP batch ----------------------------------------------
def test_an_incoming_inspection_sheet_gives_results_of_the_erp_batch(
    store: DuckDBStore, lab: Path
) -> None:
    _load(store, lab)
    results = _results(store)

    # typed with or without leading zeros: the batch as SAP keeps it (MCH1's CHARG)
    runout = results["0004700123/Radialschlag max/2025-10-01 00:00:00"]
    assert (runout["material_lot"], runout["serial_unit"]) == ("0004700123", None)
    assert (runout["test_name"], runout["unit"], runout["value"]) == ("Radialschlag max", "µm", 9.1)
    assert (runout["status"], runout["measured_at"]) == ("pass", datetime(2025, 9, 30, 22, 0))
    assert runout["tags"] == [
        "supplier:Wälzlager AG",
        "supplier_lot:WL-77",
        "material:KRL-1",
        "inspector:MG",
    ]
    blocked = results["0004700128/Laufgeräusch/2025-10-02 00:00:00"]
    assert (blocked["material_lot"], blocked["value"], blocked["status"]) == (
        "0004700128",
        33.0,
        "fail",
    )
    assert {r["material_lot"] for r in results.values() if r["material_lot"]} == {
        "0004700123",
        "0004700128",
    }


# -- English headers -----------------------------------------------------------------------------
def test_english_lab_sheets_load_the_same_way(store: DuckDBStore, tmp_path: Path) -> None:
    _workbook(
        tmp_path / "lab" / "inspection records.xlsx",
        {
            "Final inspection": (FINAL_EN, FINAL_EN_ROWS),
            "Incoming inspection": (INCOMING_EN, INCOMING_EN_ROWS),
        },
    )
    reports = _load(store, tmp_path / "lab")
    results = _results(store)

    assert Path(reports["Final inspection"].mapping_file).stem == "final_inspection_en"
    assert Path(reports["Incoming inspection"].mapping_file).stem == "incoming_inspection_en"
    noise = results["GB25000126/Noise/2025-10-08 07:45:00"]  # the time inside the date cell
    assert (noise["value"], noise["unit"], noise["status"]) == (67.9, "dB(A)", "pass")
    assert noise["measured_at"] == datetime(2025, 10, 8, 5, 45)
    assert noise["equipment"] == "Bench 1"
    backlash = results["GB25000127/Backlash/2025-10-08 08:10:00"]
    assert (backlash["unit"], backlash["value"], backlash["status"]) == ("arcmin", 3.9, "fail")
    # a decimal comma in an English sheet is ambiguous: quarantined, never read as 684
    [comma] = _quarantine(store)
    assert comma["reason"].startswith("field 'value' (column 'Noise dB(A)'): expected a finite")
    assert comma["reason"].endswith("found '68,4'")
    batch = results["0004700130/Radial runout/2025-10-03 00:00:00"]
    assert (batch["material_lot"], batch["value"], batch["status"]) == ("0004700130", 8.8, "pass")
    for report in reports.values():
        _accounted(report)


# -- recognising a lab sheet by what its columns hold --------------------------------------------
@pytest.mark.parametrize(
    ("header", "mapping"),
    [
        (["Datum", "Seriennummer", "Ergebnis", "Drehmoment (Nm)"], "final_inspection_de"),
        (["Prüfdatum", "SN", "Bewertung", "Drehmoment (Nm)"], "final_inspection_de"),
        (["Date", "Serial number", "Result", "Torque [Nm]"], "final_inspection_en"),
        (["date", "serial no.", "verdict", "Torque [Nm]"], "final_inspection_en"),
        (["Inspection date", "S/N", "Pass/Fail", "Torque [Nm]"], "final_inspection_en"),
        (["Eingang", "Lieferant", "Charge", "Entscheid", "Härte [HRC]"], "incoming_inspection_de"),
        (["Date", "Vendor", "Lot", "Decision", "Hardness [HRC]"], "incoming_inspection_en"),
        (
            ["Received", "Supplier", "Batch No.", "Result", "Hardness [HRC]"],
            "incoming_inspection_en",
        ),
    ],
)
def test_a_lab_sheet_is_recognised_by_what_its_columns_hold(
    tmp_path: Path, header: list[str], mapping: str
) -> None:
    _workbook(tmp_path / "book.xlsx", {"Sheet": (header, [["x"] * len(header)])})
    plan = plan_folder(tmp_path)
    assert [m.name for _, m in plan.loads] == [mapping]


def test_a_sheet_of_mixed_languages_or_without_a_subject_is_listed_not_guessed(
    tmp_path: Path,
) -> None:
    _workbook(
        tmp_path / "book.xlsx",
        {
            "Mixed": (["Seriennummer", "Date", "Result", "Torque [Nm]"], [["A", "B", "C", 1]]),
            "No subject": (["Datum", "Ergebnis", "Drehmoment (Nm)"], [["A", "B", 1]]),
        },
    )
    plan = plan_folder(tmp_path)
    assert not plan.loads
    assert [why.split(": ", 1)[0] for _, why in plan.unmatched] == [
        "book.xlsx sheet 'Mixed'",
        "book.xlsx sheet 'No subject'",
    ]


def test_the_header_below_titles_is_found_and_the_titles_are_said(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "book.xlsx", {"Plan": (FINAL_DE, FINAL_DE_ROWS)})
    [shape] = sniff(path)
    assert (shape.header_row, shape.columns) == (5, tuple(FINAL_DE))
    assert "4 row(s) above the header are titles" in shape.notes


def test_a_sheet_of_titles_and_a_header_only_is_an_empty_export_that_loads(
    store: DuckDBStore, tmp_path: Path
) -> None:
    _workbook(
        tmp_path / "lab" / "book.xlsx",
        {"Plan A": (FINAL_DE, FINAL_DE_ROWS[:1]), "Plan B (no audits yet)": (FINAL_DE, [])},
    )
    reports = _load(store, tmp_path / "lab")

    empty = reports["Plan B (no audits yet)"]
    assert (empty.records_read, empty.rows_read, empty.status) == (0, 0, "ok")
    assert reports["Plan A"].inserted == 3


def test_a_title_row_of_several_cells_above_a_wider_table_is_no_header(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in [["Prüfplan", "PP-9", "Rev. 2"], [], FINAL_DE, *FINAL_DE_ROWS]:
        sheet.append(row)
    book.save(tmp_path / "book.xlsx")
    [shape] = sniff(tmp_path / "book.xlsx")
    assert (shape.header_row, shape.columns[:2]) == (3, ("Datum", "Uhrzeit"))


# -- the demo's count of a workbook: sheet by sheet -----------------------------------------------
def test_the_demo_counts_each_sheet_of_a_workbook_against_its_own_records(
    store: DuckDBStore, lab: Path
) -> None:
    _load(store, lab)
    sheets = {"PP-1 Endprüfung": {"records": 3}, "PP-5 Wareneingang": {"records": 2}}
    truth = {"source_records": {"qms/Prüfberichte 2025.xlsx": {"records": 5, "sheets": sheets}}}

    [score] = score_source_records(store, truth)
    assert (score.expected, score.found, score.correct) == (1, 1, 1)

    sheets["PP-9 Audit"] = {"records": 4}
    [short] = score_source_records(store, truth)
    assert short.correct == 0
    assert "sheet 'PP-9 Audit' (not loaded)" in short.note


# -- roles and an entity's unpivot in the mapping language ---------------------------------------
ROLES = """entity: material
space: erp
roles:
  number: [Material, Part No.]
  text: {names: [Description, Bezeichnung], optional: true}
fields:
  external_id: number
  name: text
"""


def test_a_role_reads_whichever_of_its_columns_the_file_has(
    store: DuckDBStore, write: Write
) -> None:
    mapping = write("materials.yaml", ROLES)
    ingest(store, write("a.csv", "part no.;Bezeichnung\n0042;Bolt\n"), mapping)
    ingest(store, write("b.csv", "Material,Colour\n0043,red\n"), mapping)

    rows = store.query_rows("SELECT external_id, name FROM material ORDER BY external_id")
    # read as text, as the field it fills: the leading zeros stay; the optional role is empty
    assert rows == [{"external_id": "0042", "name": "Bolt"}, {"external_id": "0043", "name": None}]
    with pytest.raises(IngestError) as raised:
        ingest(store, write("c.csv", "Item,Colour\nX,red\n"), mapping)
    message = str(raised.value)
    assert "line 4 reads 'number', a column called one of ['Material', 'Part No.']" in message
    assert "its columns are ['Item', 'Colour']" in message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "roles:\n  serial: []\n",
            r"line 4: role 'serial' takes the list of headers that may hold it",
        ),
        (
            "roles:\n  serial: [S/N]\n  lot: [s/n]\n",
            r"line 5: header 's/n' is listed under roles 'serial' and 'lot'",
        ),
        ("roles:\n  '@x': [A]\n", r"line 4: '@x' cannot name a role"),
        (
            "roles:\n  serial: {names: [A], optional: maybe}\n",
            r"line 4: role 'serial': 'optional' is true or false",
        ),
    ],
)
def test_mistakes_in_roles_name_the_line(write: Write, text: str, message: str) -> None:
    mapping = f"entity: material\nspace: erp\n{text}fields:\n  external_id: A\n"
    with pytest.raises(MappingError, match=message):
        load_mapping(write("m.yaml", mapping))


@pytest.mark.parametrize(
    ("unpivot", "fields", "message"),
    [
        (
            "unpivot: {columns: '^(?P<test>.+) \\[(?P<unit>.+)\\]$'}\n",
            "  external_id: S\n  test_name: '@tset'\n  value: '@cell'\n",
            r"line 6: field 'test_name' reads '@tset', which is nothing a cell has.*"
            r"its named groups are \['test', 'unit'\]",
        ),
        (
            "unpivot: {columns: '^M.*', series: '{x}'}\n",
            "  external_id: S\n  test_name: '@column'\n  value: '@cell'\n",
            r"line 3: 'unpivot' option 'series' names the series of datapoints",
        ),
        (
            "",
            "  external_id: S\n  test_name: T\n  value: '@cell'\n",
            r"line 6: field 'value' reads '@cell', a cell of a wide table's columns: an entity's "
            r"mapping reads it with 'unpivot'",
        ),
        (
            "unpivot: {columns: '^(?P<cell>M.*)$'}\n",
            "  external_id: S\n  test_name: '@column'\n  value: '@cell'\n",
            r"line 3: the pattern's group 'cell' would be '@cell'",
        ),
        (
            "unpivot: {columns: '^M.*'}\nitems: {separator: /}\n",
            "  external_id: S\n  test_name: '@column'\n  value: '@cell'\n",
            r"line 4: 'items' writes a header's rows to items already stored, 'unpivot' makes",
        ),
    ],
)
def test_mistakes_in_an_entity_unpivot_name_the_line(
    write: Write, unpivot: str, fields: str, message: str
) -> None:
    text = f"entity: quality_result\nspace: qms\n{unpivot}fields:\n{fields}"
    with pytest.raises(MappingError, match=message):
        load_mapping(write("m.yaml", text))


def _pack(tmp_path: Path, match: str, roles: str = "") -> Path:
    folder = tmp_path / "packs" / "lab"
    folder.mkdir(parents=True)
    (folder / "pack.yaml").write_text("name: lab\nspace: qms\nmappings: [m.yaml]\n")
    (folder / "m.yaml").write_text(
        f"match: {match}\nentity: material\nspace: erp\n{roles}fields:\n  external_id: serial\n"
    )
    return tmp_path / "packs"


@pytest.mark.parametrize(
    ("match", "roles", "message"),
    [
        (
            "[[Seriennummer, S/N], Datum]",
            "",
            r"m.yaml line 1: 'match' names each column once; a column spelled several ways is a "
            r"role of the mapping",
        ),
        (
            "[serial]",
            "roles:\n  serial: {names: [S/N], optional: true}\n",
            r"m.yaml line 1: 'match' names role 'serial', which is optional",
        ),
    ],
)
def test_mistakes_in_a_pack_match_name_the_file_and_line(
    tmp_path: Path, match: str, roles: str, message: str
) -> None:
    with pytest.raises(MappingError, match=message):
        load_packs(_pack(tmp_path, match, roles))


def test_the_pack_says_what_selects_each_of_its_mappings() -> None:
    [qms] = [pack for pack in load_packs() if pack.name == "qms"]
    selected = {m.name: m.selected_by for m in qms.mappings}
    assert selected["final_inspection_de"].startswith("columns Seriennummer|Serien-Nr.|")
    assert "Lieferant|" in selected["incoming_inspection_de"]
