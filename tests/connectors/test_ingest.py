from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from factorybrain.connectors import IngestReport, ingest
from factorybrain.exceptions import IngestError, MappingError
from factorybrain.store import DuckDBStore, Store

Write = Callable[..., Path]

PRODUCTS = """\
entity: product
space: erp
fields:
  external_id: item
  name: text
  standard_cost: cost
"""


def _quarantine(store: DuckDBStore) -> list[dict]:
    return store.query(
        "SELECT row_number, field, reason, raw FROM quarantine ORDER BY row_number"
    ).to_dict(orient="records")


def _balanced(report: IngestReport) -> None:
    assert (
        report.rows_read == report.inserted + report.updated + report.unchanged + report.quarantined
    )


def test_clean_csv_loads_every_row(store: DuckDBStore, write: Write) -> None:
    source = write("p.csv", "item,text,cost\nA,Pump A,10.5\nB,Pump B,12\n")
    report = ingest(store, source, write("m.yaml", PRODUCTS))
    assert (report.rows_read, report.inserted, report.quarantined) == (2, 2, 0)
    frame = store.entities("product")
    assert frame["standard_cost"].tolist() == [10.5, 12.0]
    assert set(frame["source"]) == {"erp"}


def test_same_file_twice_changes_nothing(store: DuckDBStore, write: Write) -> None:
    source = write("p.csv", "item,text,cost\nA,Pump A,10.5\nB,Pump B,12\nC,,x\n")
    mapping = write("m.yaml", PRODUCTS)
    ingest(store, source, mapping)
    before = store.query("SELECT * EXCLUDE (ingest_id) FROM product ORDER BY ALL")
    again = ingest(store, source, mapping)
    assert (again.inserted, again.updated, again.unchanged, again.quarantined) == (0, 0, 2, 1)
    after = store.query("SELECT * EXCLUDE (ingest_id) FROM product ORDER BY ALL")
    assert before.equals(after)
    _balanced(again)
    # status shows the quarantine of the latest ingest only, not one copy per run
    assert store.quarantine_summary()["rows"].sum() == 1


def test_corrected_file_replaces_what_it_corrects(store: DuckDBStore, write: Write) -> None:
    mapping = write("m.yaml", PRODUCTS)
    ingest(store, write("p.csv", "item,text,cost\nA,Pump A,10.5\nB,Pump B,oops\n"), mapping)
    fixed = ingest(store, write("p.csv", "item,text,cost\nA,Pump A,11\nB,Pump B,12\n"), mapping)
    assert (fixed.inserted, fixed.updated, fixed.quarantined) == (1, 1, 0)
    assert store.entities("product")["standard_cost"].tolist() == [11.0, 12.0]
    assert store.quarantine_summary().empty


def test_malformed_csv_rows_are_quarantined_with_their_line(
    store: DuckDBStore, write: Write
) -> None:
    source = write(
        "p.csv", "item,text,cost\nA,Pump A,10\nB,Pump B,11,extra\nC,Pump C\nD,Pump D,4\n"
    )
    report = ingest(store, source, write("m.yaml", PRODUCTS))
    _balanced(report)
    assert report.inserted == 2
    rejected = _quarantine(store)
    assert [r["row_number"] for r in rejected] == [3, 4]
    assert "more fields than the header" in rejected[0]["reason"]
    assert rejected[0]["raw"] == "B,Pump B,11,extra"
    assert "fewer fields" in rejected[1]["reason"]


def test_wrong_types_name_field_column_expected_and_found(store: DuckDBStore, write: Write) -> None:
    report = ingest(
        store, write("p.csv", "item,text,cost\nA,Pump,ten\n"), write("m.yaml", PRODUCTS)
    )
    assert report.quarantined == 1
    [row] = _quarantine(store)
    assert row["row_number"] == 2
    assert row["field"] == "standard_cost"
    assert "column 'cost'" in row["reason"]
    assert "expected a finite number" in row["reason"]
    assert "found 'ten'" in row["reason"]
    assert json.loads(row["raw"]) == {"item": "A", "text": "Pump", "cost": "ten"}


def test_nan_and_infinity_are_not_numbers(store: DuckDBStore, write: Write) -> None:
    report = ingest(
        store,
        write("p.csv", "item,text,cost\nA,x,NaN\nB,y,inf\nC,z,1e3\n"),
        write("m.yaml", PRODUCTS),
    )
    assert (report.inserted, report.quarantined) == (1, 2)


def test_units_are_converted_and_bad_units_rejected(store: DuckDBStore, write: Write) -> None:
    mapping = write(
        "m.yaml",
        """\
entity: quality_result
space: qms
fields:
  external_id: id
  test_name: {value: pressure}
  value: {column: v, unit_column: u, to: bar}
""",
    )
    source = write("q.csv", "id,v,u\n1,14.5038,psi\n2,2,bar\n3,5,kg\n4,1,furlong/s\n")
    report = ingest(store, source, mapping)
    assert (report.inserted, report.quarantined) == (2, 2)
    values = store.entities("quality_result")["value"].tolist()
    assert values == pytest.approx([1.0, 2.0], rel=1e-5)
    reasons = [r["reason"] for r in _quarantine(store)]
    assert all("convertible to bar" in reason for reason in reasons)


def test_constant_incompatible_unit_is_a_mapping_error(write: Write) -> None:
    from factorybrain.connectors import load_mapping

    path = write(
        "m.yaml",
        """\
entity: asset
space: erp
fields:
  external_id: code
  level: {value: equipment}
  ideal_cycle_seconds: {column: c, unit: kg}
""",
    )
    with pytest.raises(MappingError, match=r"m.yaml line 6: field 'ideal_cycle_seconds'.*kg"):
        load_mapping(path)


def test_timestamps_local_offsets_and_impossible(store: DuckDBStore, write: Write) -> None:
    mapping = write(
        "m.yaml",
        """\
entity: work_order
space: mes
source: {timezone: Europe/Berlin}
fields:
  external_id: wo
  release_at: at
""",
    )
    source = write(
        "w.csv",
        "wo,at\n"
        "W1,2024-07-01 12:00:00\n"  # local summer time: UTC+2
        "W2,2024-01-01T12:00:00Z\n"  # explicit UTC
        "W3,2024-01-01 12:00:00+05:00\n"  # explicit offset
        "W4,2023-02-30 10:00:00\n"  # no such day
        "W5,1066-10-14 09:00:00\n"  # not a factory's era
        "W6,tomorrow\n",
    )
    report = ingest(store, source, mapping)
    assert (report.inserted, report.quarantined) == (3, 3)
    at = dict(store.query("SELECT external_id, release_at FROM work_order").values.tolist())
    assert at["W1"] == datetime(2024, 7, 1, 10, 0)
    assert at["W2"] == datetime(2024, 1, 1, 12, 0)
    assert at["W3"] == datetime(2024, 1, 1, 7, 0)
    reasons = {r["row_number"]: r["reason"] for r in _quarantine(store)}
    assert "found '2023-02-30 10:00:00'" in reasons[5]
    assert "between 1900-01-01 and 2100-01-01" in reasons[6]
    assert "found 'tomorrow'" in reasons[7]


def test_duplicate_keys_in_one_file_keep_the_last(store: DuckDBStore, write: Write) -> None:
    source = write("p.csv", "item,text,cost\nA,first,1\nB,b,2\nA,second,3\n")
    report = ingest(store, source, write("m.yaml", PRODUCTS))
    _balanced(report)
    assert (report.inserted, report.quarantined) == (2, 1)
    assert store.entities("product", where={"external_id": "A"})["name"].tolist() == ["second"]
    [row] = _quarantine(store)
    assert row["row_number"] == 2
    assert "superseded by row 4" in row["reason"]


def test_wrong_encoding_is_quarantined_or_read_when_declared(
    store: DuckDBStore, write: Write
) -> None:
    content = "item,text,cost\nA,Pumpe Größe 2,10\nB,plain,3\n".encode("latin-1")
    source = write("p.csv", content)
    report = ingest(store, source, write("m.yaml", PRODUCTS))
    _balanced(report)
    assert report.quarantined == 1
    assert "not valid UTF-8" in _quarantine(store)[0]["reason"]
    declared = write("m2.yaml", PRODUCTS.replace("fields:", "source: {encoding: latin-1}\nfields:"))
    fixed = ingest(store, source, declared)
    assert fixed.quarantined == 0
    assert "Pumpe Größe 2" in store.entities("product")["name"].tolist()


def test_empty_file_is_an_error_and_nothing_changes(store: DuckDBStore, write: Write) -> None:
    with pytest.raises(IngestError, match="empty"):
        ingest(store, write("p.csv", ""), write("m.yaml", PRODUCTS))
    failed = store.ingest_history()
    assert failed["status"].iloc[0].startswith("failed")


def test_header_only_file_loads_nothing(store: DuckDBStore, write: Write) -> None:
    report = ingest(store, write("p.csv", "item,text,cost\n"), write("m.yaml", PRODUCTS))
    assert report.rows_read == 0


def test_missing_column_names_the_field_and_the_columns_found(
    store: DuckDBStore, write: Write
) -> None:
    with pytest.raises(
        IngestError,
        match=r"field 'standard_cost'.*line 6.*'cost'.*\['item', "
        r"'text'\]",
    ):
        ingest(store, write("p.csv", "item,text\nA,x\n"), write("m.yaml", PRODUCTS))
    assert store.counts()["product"] == 0


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("p.csv", b"PAR1\x00\x00garbage", "expected CSV text, but its content is a Parquet file"),
        (
            "p.parquet",
            b"item,text,cost\nA,b,1\n",
            "expected a Parquet file, but its content is text",
        ),
        (
            "p.xlsx",
            b"item,text\n",
            r"expected an Excel workbook \(.xlsx\), but its content is text",
        ),
        ("p.csv", b"PK\x03\x04\x00\x00", "expected CSV text, but its content is a zip archive"),
        ("p.xlsx", b"PK\x03\x04\x00\x00", "expected an Excel workbook .*a zip archive"),
        ("p.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00", "old-style Office file"),
        ("p.csv", b"\xff\xfei\x00t\x00e\x00m\x00", r"UTF-16 text \(set 'source: \{encoding"),
        ("p.csv", bytes(range(256)) * 4, "but its content is binary data"),
    ],
)
def test_file_that_is_not_what_its_extension_says(
    store: DuckDBStore, write: Write, name: str, content: bytes, message: str
) -> None:
    with pytest.raises(IngestError, match=message):
        ingest(store, write(name, content), write("m.yaml", PRODUCTS))


def test_every_format_loads_the_same_rows(store: DuckDBStore, write: Write, tmp_path: Path) -> None:
    rows = [
        {"item": "A", "text": "Pump A", "cost": 1.5},
        {"item": "B", "text": "Pump B", "cost": 2.0},
    ]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "p.parquet")
    write("p.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")
    write("p.json", json.dumps({"data": {"items": rows}}))
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["item", "text", "cost"])
    for r in rows:
        sheet.append(list(r.values()))
    book.save(tmp_path / "p.xlsx")
    with sqlite3.connect(tmp_path / "p.sqlite") as db:
        db.execute("CREATE TABLE items (item TEXT, text TEXT, cost REAL)")
        db.executemany("INSERT INTO items VALUES (?, ?, ?)", [tuple(r.values()) for r in rows])
    sources = {
        "p.parquet": "",
        "p.jsonl": "",
        "p.json": "source: {records: data.items}\n",
        "p.xlsx": "",
        "p.sqlite": "source: {table: items}\n",
    }
    for name, source_options in sources.items():
        mapping = write(f"{name}.yaml", PRODUCTS.replace("fields:", source_options + "fields:"))
        report = ingest(store, tmp_path / name, mapping)
        assert report.quarantined == 0, name
        frame = store.entities("product")
        assert frame["name"].tolist() == ["Pump A", "Pump B"], name
        assert frame["standard_cost"].tolist() == [1.5, 2.0], name


def test_bad_json_lines_keep_their_line_numbers(store: DuckDBStore, write: Write) -> None:
    source = write(
        "p.jsonl",
        '{"item": "A", "text": "a", "cost": 1}\n{"item": "B",\n[1, 2]\n'
        '{"item": "C", "text": "c", "cost": 3}\n',
    )
    report = ingest(store, source, write("m.yaml", PRODUCTS))
    _balanced(report)
    rows = _quarantine(store)
    assert [(r["row_number"], r["reason"].split(" (")[0]) for r in rows] == [
        (2, "not valid JSON"),
        (3, "expected a JSON object, found list"),
    ]
    assert rows[0]["reason"].startswith("not valid JSON (Expecting property name")


def test_missing_sqlite_table_lists_the_tables(
    store: DuckDBStore, write: Write, tmp_path: Path
) -> None:
    with sqlite3.connect(tmp_path / "m.sqlite") as db:
        db.execute("CREATE TABLE orders (id TEXT)")
    mapping = write("m.yaml", PRODUCTS.replace("fields:", "source: {table: items}\nfields:"))
    with pytest.raises(IngestError, match=r"no table 'items'.*\['orders'\]"):
        ingest(store, tmp_path / "m.sqlite", mapping)


def test_templates_constants_value_codes_and_lists(store: DuckDBStore, write: Write) -> None:
    mapping = write(
        "m.yaml",
        """\
entity: asset
space: mes
fields:
  external_id: "{line}-{code}"
  level: {value: equipment}
  name: {column: label, default: unnamed}
  aliases: {columns: [code, plc]}
  tags: labels
""",
    )
    source = write(
        "a.csv", "line,code,label,plc,labels\nL2,PRS03,,L2_PRS03,hot;critical\nL2,,Lathe,,\n"
    )
    report = ingest(store, source, mapping)
    assert (report.inserted, report.quarantined) == (1, 1)
    row = store.entities("asset").iloc[0]
    assert row["external_id"] == "L2-PRS03"
    assert row["name"] == "unnamed"
    assert list(row["aliases"]) == ["PRS03", "L2_PRS03"]
    assert list(row["tags"]) == ["hot", "critical"]
    assert "template '{line}-{code}'" in _quarantine(store)[0]["reason"]


def test_enum_codes_are_translated_and_unknown_codes_rejected(
    store: DuckDBStore, write: Write
) -> None:
    mapping = write(
        "m.yaml",
        """\
entity: work_order
space: mes
fields:
  external_id: wo
  status: {column: s, values: {R: released, C: completed}}
""",
    )
    report = ingest(store, write("w.csv", "wo,s\nW1,R\nW2,C\nW3,X\n"), mapping)
    assert (report.inserted, report.quarantined) == (2, 1)
    assert "found 'X'" in _quarantine(store)[0]["reason"]


MAPPING_POINTS = """\
entity: datapoint
space: historian
fields:
  series: tag
  ts: ts
  value: value
"""


def _points_file(tmp_path: Path, name: str, rows: list[tuple[str, str, float]]) -> Path:
    table = pa.table(
        {
            "tag": [r[0] for r in rows],
            "ts": pa.array([datetime.fromisoformat(r[1]) for r in rows], pa.timestamp("us")),
            "value": [r[2] for r in rows],
        }
    )
    path = tmp_path / name
    pq.write_table(table, path)
    return path


def test_datapoints_upsert_by_series_and_time(
    store: DuckDBStore, write: Write, tmp_path: Path
) -> None:
    mapping = write("m.yaml", MAPPING_POINTS)
    first = _points_file(
        tmp_path,
        "a.parquet",
        [
            ("T1", "2024-01-01 00:00:00", 1.0),
            ("T1", "2024-01-01 00:00:01", 2.0),
            ("T2", "2024-01-01 00:00:00", 5.0),
        ],
    )
    report = ingest(store, first, mapping)
    assert (report.inserted, report.updated, report.unchanged) == (3, 0, 0)
    again = ingest(store, first, mapping)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)
    corrected = _points_file(
        tmp_path,
        "b.parquet",
        [("T1", "2024-01-01 00:00:01", 2.5), ("T1", "2024-01-01 00:00:02", 3.0)],
    )
    fix = ingest(store, corrected, mapping)
    assert (fix.inserted, fix.updated, fix.unchanged) == (1, 1, 0)
    points = store.datapoints("T1", datetime(2024, 1, 1), datetime(2024, 1, 2))
    assert points["value"].tolist() == [1.0, 2.5, 3.0]
    assert store.counts()["datapoint"] == 4


def test_datapoints_out_of_order_with_duplicates(
    store: DuckDBStore, write: Write, tmp_path: Path
) -> None:
    source = _points_file(
        tmp_path,
        "p.parquet",
        [
            ("T1", "2024-01-01 00:00:02", 3.0),
            ("T2", "2024-01-01 00:00:00", 9.0),
            ("T1", "2024-01-01 00:00:00", 1.0),
            ("T1", "2024-01-01 00:00:02", 4.0),
        ],
    )
    report = ingest(store, source, write("m.yaml", MAPPING_POINTS))
    _balanced(report)
    assert (report.inserted, report.quarantined) == (3, 1)
    points = store.datapoints("T1", datetime(2024, 1, 1), datetime(2024, 1, 2))
    assert points["value"].tolist() == [1.0, 4.0]
    [row] = _quarantine(store)
    assert "superseded" in row["reason"] and json.loads(row["raw"])["value"] == 3.0


def test_datapoints_convert_from_the_series_source_unit(
    store: DuckDBStore, write: Write, tmp_path: Path
) -> None:
    tags = write(
        "tags.yaml",
        """\
entity: time_series
space: historian
fields:
  external_id: tag
  source_unit: plc_unit
  unit: unit
""",
    )
    ingest(store, write("tags.csv", "tag,plc_unit,unit\nTEMP,degF,degC\n"), tags)
    source = _points_file(tmp_path, "p.parquet", [("TEMP", "2024-01-01 00:00:00", 212.0)])
    ingest(store, source, write("m.yaml", MAPPING_POINTS))
    value = store.datapoints("TEMP", datetime(2024, 1, 1), datetime(2024, 1, 2))["value"][0]
    assert value == pytest.approx(100.0)


def test_a_failing_batch_leaves_the_store_as_it_was(
    store: DuckDBStore, write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    mapping = write("m.yaml", PRODUCTS)
    ingest(store, write("p.csv", "item,text,cost\nA,a,1\n"), mapping)
    before = store.counts()

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "record_ingest", explode)
    with pytest.raises(RuntimeError):
        ingest(store, write("p2.csv", "item,text,cost\nB,b,2\nC,c,x\n"), mapping)
    assert store.counts() == before


def test_a_late_value_that_breaks_a_column_type_is_quarantined(
    store: DuckDBStore, write: Write
) -> None:
    lines = ["item,text,cost"] + [f"I{i},x,{i}.5" for i in range(3000)] + ["LATE,x,n/a"]
    report = ingest(store, write("p.csv", "\n".join(lines) + "\n"), write("m.yaml", PRODUCTS))
    _balanced(report)
    assert (report.inserted, report.quarantined) == (3000, 1)
    [row] = _quarantine(store)
    assert row["row_number"] == 3002
    assert row["reason"].startswith("field 'standard_cost' (column 'cost')")
    assert "n/a" in row["reason"] and "LATE" in row["raw"]


def test_declared_skips_and_merges_are_counted_not_quarantined(
    store: DuckDBStore, write: Write
) -> None:
    mapping = write(
        "m.yaml",
        """\
entity: shipment
space: wms
skip_rows_without: [shipment_id]
duplicates: merge
fields:
  external_id: shipment_id
  customer: ship_to
""",
    )
    source = write("s.csv", "shipment_id,ship_to,serial\nS1,C1,U1\nS1,C1,U2\n,C2,U3\nS2,C3,U4\n")
    report = ingest(store, source, mapping)
    assert (report.rows_read, report.inserted, report.quarantined, report.skipped) == (4, 2, 0, 2)
    assert report.skipped_by_reason == {
        "no value in column 'shipment_id'": 1,
        "merged: a later row has the same key": 1,
    }
    assert report.rows_read == report.loaded + report.quarantined + report.skipped
    assert (report.merged, report.filtered) == (1, 1)
    assert report.filtered_by_reason == {"no value in column 'shipment_id'": 1}


def test_nested_json_lists_explode_into_rows(store: DuckDBStore, write: Write) -> None:
    document = {
        "products": [
            {
                "part_number": "P1",
                "bom": [
                    {"part_number": "C1", "quantity": 2},
                    {"part_number": "C2", "quantity": 0.5},
                ],
            }
        ]
    }
    mapping = write(
        "m.yaml",
        """\
entity: bom
space: eng
source: {records: products, explode: bom}
fields:
  external_id: "{part_number}/{bom.part_number}"
  parent: part_number
  component: bom.part_number
  quantity: bom.quantity
""",
    )
    report = ingest(store, write("p.json", json.dumps(document)), mapping)
    assert report.inserted == 2
    frame = store.entities("bom")
    assert frame["external_id"].tolist() == ["P1/C1", "P1/C2"]
    assert frame["quantity"].tolist() == [2.0, 0.5]


def test_an_empty_json_lines_export_is_zero_records(store: DuckDBStore, write: Write) -> None:
    report = ingest(store, write("p.jsonl", ""), write("m.yaml", PRODUCTS))
    assert (report.rows_read, report.status) == (0, "ok")


@pytest.fixture
def store(either_store: Store) -> Store:
    """Ingestion keeps its guarantees on both stores: the embedded file and PostgreSQL."""
    return either_store
