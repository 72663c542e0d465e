"""The mapping language against the exports of a plant its authors never saw (issue 16).

One test per part of the language, each written as the nasty export a real system produces (an
SAP list in cp1252, a PI historian at 15 minutes with DST days, a JSON-lines MES from another
vendor, a QMS workbook with title rows, a state log without ids): each asserts what is stored
and what is quarantined, with its file, row and field, and that every row read is accounted for.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from factorybrain.connectors import IngestReport, ingest, load_mapping
from factorybrain.connectors import _readers as readers
from factorybrain.exceptions import IngestError, MappingError
from factorybrain.store import DuckDBStore, Store

Write = Callable[..., Path]


def _quarantine(store: DuckDBStore, entity: str | None = None) -> list[dict[str, Any]]:
    where = f"WHERE entity_type = '{entity}'" if entity else ""
    return store.query(
        f"SELECT source_file, row_number, field, reason, raw FROM quarantine {where} "
        "ORDER BY row_number"
    ).to_dict(orient="records")


def _accounted(report: IngestReport) -> None:
    """Every row read is inserted, updated, unchanged, merged, filtered or quarantined."""
    assert report.rows_read == (
        report.inserted
        + report.updated
        + report.unchanged
        + report.merged
        + report.filtered
        + report.quarantined
    )


# -- 1. text in any encoding, line endings, NUL bytes, what a file really is --------------------
SAP_LIST = """\
entity: material
space: erp
source: {encoding: cp1252, delimiter: ";", header_row: 3}
fields:
  external_id: MATNR
  name: MAKTX
  description: {column: LTEXT, default: ""}
"""


def test_an_sap_list_in_cp1252_with_mixed_line_endings_and_a_nul_byte(
    store: DuckDBStore, write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SAP's list export: a title, an empty line, then the header on line 3; Windows line
    # endings, but the last lines were appended by a Unix script; one line has a byte that is no
    # character in cp1252 (0x81), one holds a NUL byte from a broken field.
    body = (
        "Materialliste Werk 1000\r\n\r\nMATNR;MAKTX;LTEXT\r\n"
        "M-1;Dichtung Ø 12 – Größe A;„Qualität“\r\n"
        "M-2;Lager;\r\n"
    ).encode("cp1252")
    body += b"M-3;Fl\x81gel;x\nM-4;Welle;a\x00b\nM-5;Pumpe;\xe9t\xe9\n"
    source = write("materials.txt", body)
    mapping = write("m.yaml", SAP_LIST)
    # Small chunks: the copy is streamed, so line ends and CRLF pairs split between chunks.
    monkeypatch.setattr(readers, "_CHUNK", 7)
    report = ingest(store, source, mapping)
    _accounted(report)
    assert (report.rows_read, report.inserted, report.quarantined) == (5, 3, 2)
    names = dict(store.query("SELECT external_id, name FROM material").values.tolist())
    assert names == {"M-1": "Dichtung Ø 12 – Größe A", "M-2": "Lager", "M-5": "Pumpe"}
    assert store.entities("material", where={"external_id": "M-1"})["description"][0] == (
        "„Qualität“"
    )
    bad_byte, nul = _quarantine(store)
    assert bad_byte["row_number"] == 6 and bad_byte["source_file"] == str(source)
    assert bad_byte["reason"].startswith("not valid cp1252 text (byte 0x81 at column 7")
    assert nul["row_number"] == 7
    assert nul["reason"] == "binary data inside a text file (a NUL byte at column 12)"
    assert nul["raw"] == "M-4;Welle;a\\0b"


@pytest.mark.parametrize("encoding", ["shift_jis", "gb18030", "latin-1", "utf-16", "utf-8-sig"])
def test_text_in_any_python_codec_is_read(store: DuckDBStore, write: Write, encoding: str) -> None:
    names = {
        "shift_jis": "ポンプ軸受",
        "gb18030": "泵轴承",
        "latin-1": "Pumpenlager für Öl",
        "utf-16": "Łożysko pompy",
        "utf-8-sig": "Łożysko pompy",
    }
    text = f"MATNR;MAKTX;LTEXT\r\nM-1;{names[encoding]};\r\n"
    source = write("m.csv", text.encode(encoding))
    mapping = write("m.yaml", SAP_LIST.replace("cp1252", encoding).replace(", header_row: 3", ""))
    report = ingest(store, source, mapping)
    assert (report.inserted, report.quarantined) == (1, 0)
    assert store.entities("material")["name"].tolist() == [names[encoding]]


def test_an_unknown_encoding_is_a_mapping_error(write: Write) -> None:
    with pytest.raises(MappingError, match=r"m.yaml line 3: unknown text encoding 'cp-1252-x'"):
        load_mapping(write("m.yaml", SAP_LIST.replace("cp1252", "cp-1252-x")))
    with pytest.raises(MappingError, match="unknown text encoding 'base64'"):
        load_mapping(write("m.yaml", SAP_LIST.replace("cp1252", "base64")))


@pytest.mark.parametrize(
    ("name", "content", "found"),
    [
        ("orders.csv", b"PK\x03\x04" + b"\x00" * 30, "a zip archive"),
        ("orders.csv", b"%PDF-1.7\n", "a PDF document"),
        ("orders.csv", b"SQLite format 3\x00" + b"\x00" * 80, "a SQLite database"),
        ("orders.csv", "ORDER;QTY\r\n".encode("utf-16-le"), "UTF-16 text"),
        (
            "orders.xlsx",
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 50,
            "an old-style Office file",
        ),
    ],
)
def test_a_file_that_is_something_else_is_named_for_what_it_is(
    store: DuckDBStore, write: Write, name: str, content: bytes, found: str
) -> None:
    with pytest.raises(IngestError, match=f"but its content is {found}"):
        ingest(store, write(name, content), write("m.yaml", SAP_LIST))
    assert store.counts()["material"] == 0


# -- 2. Excel: sheet by name or position, header row, rows that are no records -------------------
def _qms_workbook(path: Path) -> Path:
    book = openpyxl.Workbook()
    cover = book.active
    cover.title = "Deckblatt"
    cover.append(["Prüfbericht Q3 – vertraulich"])
    sheet = book.create_sheet("Messwerte")
    sheet.append(["Wareneingangsprüfung Linie 2"])  # row 1: title
    sheet.append(["Stand: 30.09.2025"])  # row 2: subtitle
    sheet.append(["Charge", "Merkmal", "Messwert", "Messwert"])  # row 3: header, a name twice
    sheet.append([None, None, "mm", "Toleranz"])  # row 4: units, not a record
    sheet.append(["B-100", "Durchmesser", 12.5, 0.1])
    sheet.append(["B-101", "Durchmesser", "12,6", 0.1])
    sheet.append([None, None, None, None])  # an empty row
    sheet.append(["B-102", "Durchmesser", "zwölf", 0.1])
    sheet.append(["B-103", "Durchmesser", 1234.5, 0.2, "Notiz"])  # a cell beyond the header
    book.save(path)
    return path


QMS = """\
entity: quality_result
space: qms
source: {sheet: SHEET, header_row: 3, skip_rows: 1, decimal: ","}
fields:
  external_id: "{Charge}/{Merkmal}"
  material_lot: Charge
  test_name: Merkmal
  value: Messwert
  spec_max: Messwert_1
"""


@pytest.mark.parametrize("sheet", ["Messwerte", "2"])
def test_a_qms_workbook_with_title_rows_and_a_units_row(
    store: DuckDBStore, write: Write, tmp_path: Path, sheet: str
) -> None:
    source = _qms_workbook(tmp_path / "qms.xlsx")
    report = ingest(store, source, write("m.yaml", QMS.replace("SHEET", sheet)))
    _accounted(report)
    assert (report.rows_read, report.inserted, report.filtered, report.quarantined) == (
        5,
        2,
        1,
        2,
    )
    assert report.filtered_by_reason == {"a row listed in 'skip_rows' (not a record)": 1}
    values = store.query("SELECT external_id, value, spec_max FROM quality_result ORDER BY 1")
    # 12.5 is a number in the sheet: never read as 125 under decimal ","; "12,6" is text.
    assert values.values.tolist() == [
        ["B-100/Durchmesser", 12.5, 0.1],
        ["B-101/Durchmesser", 12.6, 0.1],
    ]
    text, wide = _quarantine(store)
    assert (text["row_number"], text["field"]) == (8, "value")
    assert "column 'Messwert'" in text["reason"] and "found 'zwölf'" in text["reason"]
    assert (wide["row_number"], wide["reason"]) == (9, "more cells than the header has")


def test_a_sheet_or_header_row_that_is_not_there(
    store: DuckDBStore, write: Write, tmp_path: Path
) -> None:
    source = _qms_workbook(tmp_path / "qms.xlsx")
    with pytest.raises(IngestError, match=r"no sheet number 3; the workbook has 2 sheets"):
        ingest(store, source, write("m.yaml", QMS.replace("SHEET", "3")))
    with pytest.raises(IngestError, match=r"no column names on row 30"):
        mapping = QMS.replace("SHEET", "Messwerte").replace("header_row: 3", "header_row: 30")
        ingest(store, source, write("m.yaml", mapping))


# -- 3. row filters ------------------------------------------------------------------------------
def test_row_filters_keep_the_movements_of_a_type_and_count_the_others(
    store: DuckDBStore, write: Write
) -> None:
    # SAP MB51: goods movements of every type; only receipts (101, 102) of real materials are
    # inventory transactions here, cancelled lines are marked X, zero quantities are noise.
    source = write(
        "mb51.csv",
        "MBLNR,BWART,MATNR,MENGE,STORNO\n"
        "5001,101,RM-1,10,\n"
        "5002,261,RM-1,4,\n"
        "5003,101,DUMMY-7,3,\n"
        "5004,102,RM-2,0,\n"
        "5005,102,RM-2,2,X\n"
        "5006,101,RM-3,abc,\n"
        "5007,101,RM-3,5,\n",
    )
    mapping = write(
        "m.yaml",
        """\
entity: inventory_transaction
space: erp
filter:
  - {column: BWART, in: ["101", "102"]}
  - {column: MATNR, not_matches: "^DUMMY"}
  - {column: STORNO, not_equals: X}
  - "MENGE <> 0"
fields:
  external_id: MBLNR
  material: MATNR
  quantity: MENGE
  occurred_at: {value: "2025-09-30 00:00:00"}
  transaction_type: {value: receipt}
""",
    )
    report = ingest(store, source, mapping)
    _accounted(report)
    assert report.filtered_by_reason == {
        "filter 1: BWART in ['101', '102']": 1,
        "filter 2: MATNR not matches '^DUMMY'": 1,
        "filter 3: STORNO not equals 'X'": 1,
        "filter 4: MENGE <> 0": 2,  # 0, and 'abc', which is no number to compare
    }
    frame = store.query("SELECT external_id, quantity FROM inventory_transaction ORDER BY 1")
    assert frame.values.tolist() == [["5001", 10.0], ["5007", 5.0]]


def test_a_filter_that_reads_a_missing_column_names_it(store: DuckDBStore, write: Write) -> None:
    mapping = write(
        "m.yaml",
        'entity: material\nspace: erp\nfilter: "LVORM IS NULL"\nfields:\n  external_id: id\n',
    )
    with pytest.raises(IngestError, match=r"filter 'LVORM IS NULL' \(mapping .* line 3\) reads "):
        ingest(store, write("m.csv", "id\nA\n"), mapping)


# -- 4. expressions ------------------------------------------------------------------------------
def test_expressions_compute_fields_from_an_sap_ledger_and_pi_tags(
    store: DuckDBStore, write: Write
) -> None:
    source = write(
        "bseg.csv",
        "BELNR;BUZEI;MATNR;SHKZG;DMBTR;MEINS;TAG\n"
        "4900001;1;000000000000004711;S;1.234,50;KG;L2_PRS03.TEMP.PV\n"
        "4900001;2;000000000000004711;H;99,00;G;L2_PRS03.TEMP.PV\n"
        "4900002;1;000000000000000815;H;zwölf;KG;L2_PRS04.PRESS.PV\n",
    )
    mapping = write(
        "m.yaml",
        """\
entity: inventory_transaction
space: erp
source: {delimiter: ";", decimal: ","}
fields:
  external_id: {expr: "BELNR || '-' || lpad(BUZEI, 3, '0')"}
  material: {expr: "ltrim(MATNR, '0')"}
  quantity:
    expr: >-
      CASE WHEN SHKZG = 'H' THEN -DMBTR ELSE DMBTR END
      * CASE MEINS WHEN 'G' THEN 0.001 ELSE 1 END
  location: {expr: "regexp_extract(TAG, '^([A-Z0-9]+)_', 1)"}
  reference: {expr: "replace(substr(TAG, 4), '.PV', '')"}
  occurred_at: {value: "2025-09-30 00:00:00"}
  transaction_type: {value: issue}
""",
    )
    report = ingest(store, source, mapping)
    _accounted(report)
    frame = store.query(
        "SELECT external_id, material, quantity, location, reference "
        "FROM inventory_transaction ORDER BY 1"
    )
    assert frame.values.tolist() == [
        ["4900001-001", "4711", 1234.5, "L2", "PRS03.TEMP"],
        ["4900001-002", "4711", pytest.approx(-0.099), "L2", "PRS03.TEMP"],
    ]
    [row] = _quarantine(store)
    assert (row["row_number"], row["field"]) == (4, "quantity")
    assert "column 'DMBTR' is used as a number" in row["reason"]
    assert row["reason"].endswith("found 'zwölf'")


@pytest.mark.parametrize(
    ("expression", "refusal"),
    [
        ("read_csv('/etc/passwd')", "the function 'read_csv' is not allowed"),
        ("getenv('HOME')", "the function 'getenv' is not allowed"),
        ("current_setting('temp_directory')", "the function 'current_setting' is not allowed"),
        ("(SELECT max(external_id) FROM asset)", "a subquery is not allowed"),
        ("a FROM read_parquet('x.parquet')", "expected one expression"),
        ("a; COPY asset TO '/tmp/x.csv'", "does not parse"),
        ("sum(a) OVER ()", "a window function is not allowed"),
        ("list_transform([a], x -> x)", "the function 'list_transform' is not allowed"),
        ("CAST(a AS VARCHAR[])", "CAST to LIST is not allowed"),
        ("a::BLOB", "CAST to BLOB is not allowed"),
        ("main.lower(a)", "name it without a schema"),
        ("lpad(a, 3)", "'lpad' takes 3 arguments, found 2"),
        ("CASE WHEN a THEN", "does not parse"),
    ],
)
def test_expressions_reach_nothing_outside_their_row(
    write: Write, expression: str, refusal: str
) -> None:
    text = f'entity: material\nspace: erp\nfields:\n  external_id: {{expr: "{expression}"}}\n'
    with pytest.raises(MappingError, match=r"m.yaml line 4: field 'external_id': expression ") as e:
        load_mapping(write("m.yaml", text))
    assert refusal in str(e.value)


def test_a_lookup_in_another_mapped_table(store: DuckDBStore, write: Write) -> None:
    # The ERP material master knows the MES's material numbers as aliases; the MES writes them
    # with leading zeros. One alias belongs to two materials: no guess is made.
    ingest(
        store,
        write("materials.csv", "id,mes\nMAT-1,4711\nMAT-2,4712|X9\nMAT-3,X9\n"),
        write(
            "materials.yaml",
            "entity: material\nspace: erp\nfields:\n  external_id: id\n  aliases: mes\n",
        ),
    )
    report = ingest(
        store,
        write("lots.csv", "lot,matnr\nL1,0004711\nL2,0004712\nL3,X9\nL4,0009999\n"),
        write(
            "lots.yaml",
            """\
entity: material_lot
space: mes
fields:
  external_id: lot
  material: {expr: "ltrim(matnr, '0')", lookup: {entity: material, match: aliases, space: erp}}
""",
        ),
    )
    _accounted(report)
    frame = store.query("SELECT external_id, material FROM material_lot ORDER BY 1")
    assert frame.values.tolist() == [["L1", "MAT-1"], ["L2", "MAT-2"]]
    ambiguous, missing = _quarantine(store, "material_lot")
    assert (ambiguous["row_number"], ambiguous["field"]) == (4, "material")
    assert "several material have it as aliases, found 'X9' (2 different" in ambiguous["reason"]
    assert (missing["row_number"], missing["field"]) == (5, "material")
    assert "no material with aliases equal to it, found '9999'" in missing["reason"]


PO_ITEMS = """\
entity: purchase_order
space: erp
source: {delimiter: ";", decimal: ","}
fields:
  external_id: "{EBELN}/{EBELP}"
  material: MATNR
  quantity: MENGE
"""

PO_HEADERS = """\
entity: purchase_order
space: erp
source: {delimiter: ";"}
items: {separator: "/"}
filter:
  - {column: LOEKZ, not_equals: X}
fields:
  external_id: EBELN
  supplier: LIFNR
  ordered_at: {column: BEDAT, format: "%d.%m.%Y"}
"""


def test_a_header_table_writes_its_fields_to_every_item_of_it(
    store: DuckDBStore, write: Write
) -> None:
    # SAP's purchase orders: the items (EKPO) hold material and quantity, the header (EKKO) the
    # vendor and the date every item shares. One header has two items, one header's items were
    # never exported, one header is deleted, one has a date that is no date.
    ingest(
        store,
        write(
            "EKPO.csv",
            "EBELN;EBELP;MATNR;MENGE\n4500;00010;M-1;5,0\n4500;00020;M-2;7,0\n"
            "4501;00010;M-1;1,0\n45010;00010;M-9;2,0\n",
        ),
        write("ekpo.yaml", PO_ITEMS),
    )
    headers = write(
        "EKKO.csv",
        "EBELN;LOEKZ;LIFNR;BEDAT\n4500;;V-7;25.08.2025\n4501;;V-8;31.02.2025\n"
        "4502;;V-9;01.09.2025\n4503;X;V-9;01.09.2025\n",
    )
    mapping = write("ekko.yaml", PO_HEADERS)
    report = ingest(store, headers, mapping)
    _accounted(report)
    # 4 records: 4500 written to both its items, 4501 quarantined, 4502 has no item, 4503 deleted
    assert (report.records_read, report.rows_read) == (4, 5)
    assert (report.updated, report.quarantined, report.filtered) == (2, 1, 2)
    reasons = sorted(report.filtered_by_reason.items())
    assert [(reason.split(":")[0], n) for reason, n in reasons] == [
        ("a header without items", 1),
        ("filter 1", 1),
    ]
    rows = store.query(
        "SELECT external_id, material, quantity, coalesce(supplier, '-'), "
        "coalesce(ordered_at::DATE::VARCHAR, '-') FROM purchase_order ORDER BY 1"
    ).values.tolist()
    assert rows == [
        ["4500/00010", "M-1", 5.0, "V-7", "2025-08-25"],
        ["4500/00020", "M-2", 7.0, "V-7", "2025-08-25"],
        # the header 4501 is not the header of 45010's items: a key begins with "4501/"
        ["4501/00010", "M-1", 1.0, "-", "-"],
        ["45010/00010", "M-9", 2.0, "-", "-"],
    ]
    (bad,) = _quarantine(store, "purchase_order")
    assert (bad["row_number"], bad["field"]) == (3, "ordered_at")
    assert "found '31.02.2025'" in bad["reason"]
    # Loading the headers again changes nothing and keeps one quarantined row.
    again = ingest(store, headers, mapping)
    assert (again.updated, again.unchanged, again.quarantined) == (0, 2, 1)
    assert len(_quarantine(store, "purchase_order")) == 1


def test_items_needs_a_separator_and_an_entity(write: Write) -> None:
    with pytest.raises(MappingError, match="'items' takes"):
        load_mapping(write("a.yaml", PO_HEADERS.replace('{separator: "/"}', "yes")))
    edge = "entity: edge\nedge: produced\nspace: x\nitems: {separator: /}\nfields:\n"
    edge += "  source_external_id: a\n  target_external_id: b\n"
    with pytest.raises(MappingError, match="not to edges"):
        load_mapping(write("b.yaml", edge))


def test_a_list_field_takes_every_column_a_pattern_matches(
    store: DuckDBStore, write: Write
) -> None:
    # PI digital state sets, one column per state: a set with two states leaves the rest empty.
    mapping = write(
        "sets.yaml",
        """\
entity: document
space: historian
fields:
  external_id: "{server name}/{state set}"
  tags: {columns: {matching: "state[0-9]+"}}
""",
    )
    report = ingest(
        store,
        write(
            "sets.csv",
            "server name,state set,state0,state1,state2,statement\n"
            "PI1,MACHSTATE,OFF,RUN,FAULT,x\nPI1,ALARM,NORMAL,ALARM,,y\n",
        ),
        mapping,
    )
    _accounted(report)
    tags = dict(store.query("SELECT external_id, tags FROM document").values.tolist())
    # in the file's order, empty cells left out, "statement" not matched (the whole name must)
    assert [list(tags["PI1/MACHSTATE"]), list(tags["PI1/ALARM"])] == [
        ["OFF", "RUN", "FAULT"],
        ["NORMAL", "ALARM"],
    ]
    with pytest.raises(IngestError, match="no column of the file matches 'state\\[0-9\\]\\+'"):
        ingest(store, write("other.csv", "server name,state set,code\nPI1,X,1\n"), mapping)
    bad = "entity: document\nspace: h\nfields:\n  external_id: a\n"
    bad += "  tags: {columns: {matching: '['}}\n"
    with pytest.raises(MappingError, match="'columns' matching is no regex"):
        load_mapping(write("bad.yaml", bad))


def test_overwrite_says_which_source_has_the_last_word_on_a_field(
    store: DuckDBStore, write: Write
) -> None:
    # A historian's point list and an asset model both know a series' unit: the point list's
    # wins, an empty cell of it keeps the model's, and loading both again changes nothing,
    # whichever loads first.
    points = write("points.csv", "tag,unit\nT1,bar\nT2,\n")
    model = write("model.csv", "tag,unit\nT1,kilopascal\nT2,psi\nT3,millibar\n")
    said = (
        "entity: time_series\nspace: h\nfields:\n  external_id: tag\n  unit: {{column: unit{}}}\n"
    )
    point_list = write("points.yaml", said.format(", overwrite: unless_empty"))
    asset_model = write("model.yaml", said.format(", overwrite: never"))
    ingest(store, model, asset_model)
    ingest(store, points, point_list)
    ingest(store, model, asset_model)
    units = "SELECT external_id, unit FROM time_series ORDER BY 1"
    assert store.query(units).values.tolist() == [
        ["T1", "bar"],
        ["T2", "psi"],
        ["T3", "millibar"],
    ]
    again = [ingest(store, points, point_list), ingest(store, model, asset_model)]
    assert [(r.updated, r.unchanged) for r in again] == [(0, 2), (0, 3)]
    for entity, field, message in [
        ("time_series", "unit: {column: unit, overwrite: sometimes}", "'overwrite' must be one "),
        ("time_series", "external_id: {column: tag, overwrite: never}", "not to its key"),
    ]:
        text = f"entity: {entity}\nspace: h\nfields:\n  {field}\n"
        text += "  external_id: tag\n" if "external_id" not in field else ""
        with pytest.raises(MappingError, match=re.escape(message)):
            load_mapping(write("bad.yaml", text))


# -- 5. explode: JSON lines, any depth, parents' fields ------------------------------------------
def test_a_json_lines_mes_exploded_at_depth_keeps_every_lot_order_pair(
    store: DuckDBStore, write: Write
) -> None:
    # Another vendor's MES: one line per lot, the orders it went into nested two objects deep,
    # the same lot twice (a correction), a lot never used, and a broken record.
    lines = [
        {
            "lot": "L1",
            "plant": "P1",
            "use": {"site": "H", "orders": [{"wo": "W1", "kg": 2}, {"wo": "W2", "kg": 3}]},
        },
        {"lot": "L2", "plant": "P1", "use": {"site": "H", "orders": [{"wo": "W1", "kg": 1}]}},
        {
            "lot": "L1",
            "plant": "P1",
            "use": {"site": "H", "orders": [{"wo": "W2", "kg": 4}, {"wo": "W3", "kg": 1}]},
        },
        {"lot": "L3", "plant": "P1", "use": {"site": "H", "orders": []}},
        {"lot": "L4", "plant": "P1", "use": {"site": "H", "orders": "W9"}},
    ]
    source = write("lots.jsonl", "\n".join(json.dumps(line) for line in lines) + "\n")
    mapping = write(
        "m.yaml",
        """\
entity: edge
edge: consumed_in
space: mes
duplicates: merge
source: {explode: use.orders}
fields:
  source_external_id: "{plant}/{lot}"
  target_external_id: "{use.site}-{use.orders.wo}"
  quantity: use.orders.kg
""",
    )
    report = ingest(store, source, mapping)
    _accounted(report)
    assert (report.records_read, report.rows_read) == (5, 7)
    assert (report.inserted, report.merged, report.filtered, report.quarantined) == (4, 1, 1, 1)
    edges = store.query(
        "SELECT source_external_id, target_external_id, quantity FROM edge ORDER BY 1, 2"
    )
    assert edges.values.tolist() == [
        ["P1/L1", "H-W1", 2.0],
        ["P1/L1", "H-W2", 4.0],  # the later line wins
        ["P1/L1", "H-W3", 1.0],  # its sibling in the same record is not lost
        ["P1/L2", "H-W1", 1.0],
    ]
    assert report.filtered_by_reason == {"no items under 'use.orders' (an empty list)": 1}
    [broken] = _quarantine(store)
    assert broken["row_number"] == 5
    assert broken["reason"] == "expected a list under 'use.orders' to explode, found str"


def test_a_json_document_exploded_two_levels_deep(store: DuckDBStore, write: Write) -> None:
    document = {
        "data": {
            "orders": [
                {
                    "order": "W1",
                    "operations": [
                        {
                            "op": "10",
                            "parameters": [{"name": "temp", "v": 210}, {"name": "rpm", "v": 900}],
                        },
                        {"op": "20", "parameters": [{"name": "temp", "v": "hot"}]},
                    ],
                },
                {"order": "W2", "operations": [{"op": "10"}]},
            ]
        }
    }
    mapping = write(
        "m.yaml",
        """\
entity: quality_result
space: mes
source: {records: data.orders, explode: [operations, operations.parameters]}
fields:
  external_id: "{order}/{operations.op}/{operations.parameters.name}"
  material_lot: order
  test_name: operations.parameters.name
  value: operations.parameters.v
""",
    )
    report = ingest(store, write("orders.json", json.dumps(document)), mapping)
    _accounted(report)
    assert (report.records_read, report.rows_read, report.inserted) == (2, 4, 2)
    assert report.filtered_by_reason == {"no items under 'operations.parameters' (missing)": 1}
    frame = store.query("SELECT external_id, value FROM quality_result ORDER BY 1")
    assert frame.values.tolist() == [["W1/10/rpm", 900.0], ["W1/10/temp", 210.0]]
    [hot] = _quarantine(store)
    assert (hot["row_number"], hot["field"]) == (1, "value")
    assert json.loads(hot["raw"])["(item)"] == "2.1"


# -- 6. code tables ------------------------------------------------------------------------------
def test_code_tables_reject_unknown_codes_unless_a_default_is_declared(
    store: DuckDBStore, write: Write
) -> None:
    source = write(
        "orders.csv", "AUFNR,ISTAT,PRIO,ART\nW1,REL,1,PP01\nW2,DLFL,2,PP99\nW3,TECO,9,\n"
    )
    mapping = write(
        "m.yaml",
        """\
entity: work_order
space: erp
fields:
  external_id: AUFNR
  status: {column: ISTAT, values: {CRTD: planned, REL: released, TECO: completed}}
  name: {column: PRIO, values: {"1": urgent, "2": normal}, default: routine}
  product: {column: ART, values: {PP01: pump}, unknown: keep}
""",
    )
    report = ingest(store, source, mapping)
    _accounted(report)
    rows = store.query_rows("SELECT external_id, status, name, product FROM work_order ORDER BY 1")
    assert [list(row.values()) for row in rows] == [
        ["W1", "released", "urgent", "pump"],
        ["W3", "completed", "routine", None],  # 9 is no code: the default; no ART: empty
    ]
    [unknown] = _quarantine(store)
    assert (unknown["row_number"], unknown["field"]) == (3, "status")
    assert unknown["reason"] == (
        "field 'status' (column 'ISTAT'): expected one of the codes ['CRTD', 'REL', 'TECO'] "
        "(declare 'default' for the others), found 'DLFL'"
    )


# -- 7. intervals from state changes -------------------------------------------------------------
def test_a_state_log_becomes_intervals_ending_at_the_next_change(
    store: DuckDBStore, write: Write
) -> None:
    # A PLC state log: one row per change, machines interleaved and out of order, no ids.
    source = write(
        "states.csv",
        "machine,changed_at,state\n"
        "PRS01,2025-03-01 06:00:00,RUN\n"
        "PRS02,2025-03-01 06:05:00,RUN\n"
        "PRS01,2025-03-01 09:30:00,DOWN\n"
        "PRS01,2025-03-01 07:45:00,IDLE\n"
        "PRS02,2025-03-01 08:00:00,BOGUS\n"
        "PRS02,2025-03-01 10:00:00,DOWN\n",
    )
    mapping = write(
        "m.yaml",
        """\
entity: event
space: mes
fields:
  external_id: "{machine}/{changed_at}"
  event_type: {value: state}
  asset: machine
  state: {column: state, values: {RUN: running, IDLE: idle, DOWN: down}}
  start_time: changed_at
  end_time: {next: start_time, per: asset}
""",
    )
    report = ingest(store, source, mapping)
    _accounted(report)
    frame = store.query("SELECT asset, state, start_time, end_time FROM event ORDER BY 1, 3")
    at = datetime.fromisoformat
    assert [
        (a, s, b.to_pydatetime(), None if e is None or e != e else e.to_pydatetime())
        for a, s, b, e in frame.values.tolist()
    ] == [
        ("PRS01", "running", at("2025-03-01 06:00"), at("2025-03-01 07:45")),
        ("PRS01", "idle", at("2025-03-01 07:45"), at("2025-03-01 09:30")),
        ("PRS01", "down", at("2025-03-01 09:30"), None),  # still down: open
        # the unknown state is quarantined, but the change it records still ends the run
        ("PRS02", "running", at("2025-03-01 06:05"), at("2025-03-01 08:00")),
        ("PRS02", "down", at("2025-03-01 10:00"), None),
    ]
    [bogus] = _quarantine(store)
    assert (bogus["row_number"], bogus["field"]) == (6, "state")


def test_next_must_name_a_mapped_timestamp_field(write: Write) -> None:
    text = (
        "entity: event\nspace: mes\nfields:\n  external_id: id\n  event_type: {value: state}\n"
        "  start_time: at\n  end_time: {next: begin, per: asset}\n"
    )
    with pytest.raises(MappingError, match=r"line 7: field 'end_time': 'next' names 'begin'"):
        load_mapping(write("m.yaml", text))


# -- 8. a key from the row number ----------------------------------------------------------------
def test_repeated_readings_are_keyed_by_their_line(store: DuckDBStore, write: Write) -> None:
    # A test bench writes the same test of the same serial again after a retest, with nothing
    # to tell the readings apart but where they are in the file; a broken line sits before them.
    mapping = write(
        "m.yaml",
        """\
entity: quality_result
space: bench
fields:
  external_id: "{serial}/{test}/{@row}"
  serial_unit: serial
  test_name: test
  value: value
""",
    )
    content = "serial,test,value\nS1,leak,0.12\nS1,leak,0.10,extra\n\nS1,leak,0.09\nS2,leak,0.30\n"
    source = write("bench.csv", content)
    report = ingest(store, source, mapping)
    _accounted(report)
    assert (report.rows_read, report.inserted, report.quarantined) == (4, 3, 1)
    keys = store.query("SELECT external_id, value FROM quality_result ORDER BY value")
    assert keys.values.tolist() == [["S1/leak/5", 0.09], ["S1/leak/2", 0.12], ["S2/leak/6", 0.30]]
    assert [r["row_number"] for r in _quarantine(store)] == [3]
    again = ingest(store, source, mapping)
    assert (again.inserted, again.unchanged, again.quarantined) == (0, 3, 1)
    assert store.query("SELECT count(*) AS n FROM quarantine")["n"][0] == 1


# -- 9. numbers in a locale, local times around DST ----------------------------------------------
def test_numbers_under_a_decimal_comma_are_never_reinterpreted(
    store: DuckDBStore, write: Write
) -> None:
    source = write(
        "prices.csv",
        "MATNR;PREIS\nA;1.234,50\nB;12,5\nC;1,234.567\nD;1.5\nE;99,00-\nF;1.234.567\nG;,5\n",
    )
    mapping = write(
        "m.yaml",
        'entity: material\nspace: erp\nsource: {delimiter: ";", decimal: ","}\nfields:\n'
        "  external_id: MATNR\n  standard_cost: PREIS\n",
    )
    report = ingest(store, source, mapping)
    _accounted(report)
    costs = dict(store.query("SELECT external_id, standard_cost FROM material").values.tolist())
    assert costs == {"A": 1234.5, "B": 12.5, "E": -99.0, "F": 1234567.0, "G": 0.5}
    rejected = {r["row_number"]: r for r in _quarantine(store)}
    assert sorted(rejected) == [4, 5]
    assert rejected[4]["field"] == "standard_cost"
    assert rejected[4]["reason"] == (
        "field 'standard_cost' (column 'PREIS'): expected a finite number written with ',' as "
        "decimal separator, '.' between thousands, found '1,234.567'"
    )


HISTORIAN = """\
entity: datapoint
space: pi
source: {timezone: Europe/Berlin, DST}
fields:
  series: tag
  ts: {column: time, format: "%d.%m.%Y %H:%M"}
  value: value
"""


@pytest.mark.parametrize(
    ("policy", "stored"),
    [
        ("", None),
        ("dst: earlier", ["2025-03-30 00:30", "2025-10-26 00:15"]),
        ("dst: later", ["2025-03-30 01:30", "2025-10-26 01:15"]),
    ],
)
def test_local_times_the_clocks_skip_or_repeat_follow_a_declared_policy(
    store: DuckDBStore, write: Write, policy: str, stored: list[str] | None
) -> None:
    # A PI export at 15-minute resolution in local time, across both DST changes of 2025.
    source = write(
        "pi.csv",
        "tag,time,value\n"
        "FIC101.PV,30.03.2025 01:45,1\n"
        "FIC101.PV,30.03.2025 02:30,2\n"  # does not exist: clocks jump 02:00 -> 03:00
        "FIC101.PV,30.03.2025 03:00,3\n"
        "FIC101.PV,26.10.2025 02:15,4\n"  # occurs twice: clocks go 03:00 -> 02:00
        "FIC101.PV,26.10.2025 03:15,5\n",
    )
    mapping = write("m.yaml", HISTORIAN.replace(", DST", f", {policy}" if policy else ""))
    report = ingest(store, source, mapping)
    _accounted(report)
    points = store.datapoints("FIC101.PV", datetime(2025, 1, 1), datetime(2026, 1, 1))
    times = [t.strftime("%Y-%m-%d %H:%M") for t in points["ts"]]
    assert {"2025-03-30 00:45", "2025-03-30 01:00", "2025-10-26 02:15"} <= set(times)
    if stored is None:
        assert report.quarantined == 2 and len(times) == 3
        gap, twice = _quarantine(store)
        assert (gap["row_number"], gap["field"]) == (3, "ts")
        assert "a local time that does not exist in Europe/Berlin" in gap["reason"]
        assert gap["reason"].endswith("found '30.03.2025 02:30'")
        assert (twice["row_number"], twice["field"]) == (5, "ts")
        assert "a local time that occurs twice in Europe/Berlin" in twice["reason"]
    else:
        assert report.quarantined == 0
        assert set(stored) <= set(times)


def test_a_wrong_dst_policy_is_a_mapping_error(write: Write) -> None:
    with pytest.raises(MappingError, match=r"line 3: 'dst' must be one of \['reject', 'earlier'"):
        load_mapping(write("m.yaml", HISTORIAN.replace("DST", "dst: shift")))


@pytest.fixture
def store(either_store: Store) -> Store:
    """Ingestion keeps its guarantees on both stores: the embedded file and PostgreSQL."""
    return either_store
