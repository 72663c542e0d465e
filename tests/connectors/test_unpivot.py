"""Wide historian tables: one mapping unpivots a column per tag into datapoints (issue 20, item 3).

A column's name gives its series, asset and unit; an empty cell is a missing value counted once
per column, not a quarantined row; a cell that is no number is quarantined naming its file, line
and column; every cell read is accounted for, and loading the same file again changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from factorybrain.connectors import IngestReport, ingest, load_mapping
from factorybrain.exceptions import IngestError, MappingError
from factorybrain.store import DuckDBStore

Write = Callable[..., Path]

WIDE = r"""entity: datapoint
space: historian
unpivot:
  columns: '^(?P<asset>[A-Z0-9_]+)\.(?P<signal>[A-Z_]+) \[(?P<unit>[^\]]+)\]$'
  series: '{asset}.{signal}'
fields:
  ts: Timestamp
"""

CSV = """\
Timestamp,L1_PRS01.VIB_RMS [mm/s],L1_PRS01.TEMP [degC],L2_OVN01.TEMP [degC],Operator
2024-01-01 00:00:00,1.5,20,180,anna
2024-01-01 00:01:00,1.6,,181,
2024-01-01 00:02:00,1.7,,182,ben
"""

DAY = (datetime(2024, 1, 1), datetime(2024, 1, 2))


def _points(store: DuckDBStore, series: str) -> list[float]:
    return store.datapoints(series, *DAY)["value"].tolist()


def _balanced(report: IngestReport) -> None:
    assert report.rows_read == report.accounted


def _quarantine(store: DuckDBStore) -> list[dict]:
    return store.query_rows(
        "SELECT source_file, row_number, field, reason, raw FROM quarantine ORDER BY row_number"
    )


def test_one_mapping_unpivots_a_wide_csv_into_series_named_by_the_pattern(
    store: DuckDBStore, write: Write
) -> None:
    report = ingest(store, write("wide.csv", CSV), write("wide.yaml", WIDE))

    # A line is a record; each of its 3 tag cells is a row (a point, or why it is none).
    assert (report.records_read, report.rows_read) == (3, 9)
    assert (report.inserted, report.filtered, report.quarantined) == (7, 2, 0)
    _balanced(report)
    assert _points(store, "L1_PRS01.VIB_RMS") == [1.5, 1.6, 1.7]
    assert _points(store, "L1_PRS01.TEMP") == [20.0]
    assert _points(store, "L2_OVN01.TEMP") == [180.0, 181.0, 182.0]
    series = store.query_rows("SELECT external_id FROM time_series ORDER BY external_id")
    assert [s["external_id"] for s in series] == [
        "L1_PRS01.TEMP",
        "L1_PRS01.VIB_RMS",
        "L2_OVN01.TEMP",
    ]


def test_empty_cells_are_counted_once_per_column_not_quarantined(
    store: DuckDBStore, write: Write
) -> None:
    lines = ["Timestamp,L1_PRS01.TEMP [degC],L1_PRS01.VIB_RMS [mm/s]"]
    lines += [f"2024-01-01 00:{m:02d}:00,{'' if m % 3 else 20 + m},{m}.5" for m in range(60)]
    lines[7] = "2024-01-01 00:06:00,   ,6.5"  # a cell of blanks is empty too
    report = ingest(store, write("wide.csv", "\n".join(lines) + "\n"), write("wide.yaml", WIDE))

    assert report.quarantined == 0 and _quarantine(store) == []
    assert report.filtered_by_reason == {
        "column 'L1_PRS01.TEMP [degC]': empty cells (missing values)": 41
    }
    assert (report.rows_read, report.inserted, report.filtered) == (120, 79, 41)
    _balanced(report)


def test_a_cell_that_is_no_number_is_quarantined_naming_its_file_line_and_column(
    store: DuckDBStore, write: Write
) -> None:
    source = write("wide.csv", CSV.replace("1.6,,181", "1.6,Bad,181"))
    report = ingest(store, source, write("wide.yaml", WIDE))

    [row] = _quarantine(store)
    assert row["source_file"] == str(source)
    assert row["row_number"] == 3  # the file's line
    assert row["field"] == "value"
    assert row["reason"] == (
        "field 'value' (column 'L1_PRS01.TEMP [degC]'): expected a finite number, found 'Bad'"
    )
    assert '"Timestamp":"2024-01-01 00:01:00"' in row["raw"]
    assert '"L1_PRS01.TEMP [degC]":"Bad"' in row["raw"]
    # The line's other cells load.
    assert _points(store, "L2_OVN01.TEMP") == [180.0, 181.0, 182.0]
    assert (report.inserted, report.filtered, report.quarantined) == (7, 1, 1)
    _balanced(report)


def test_a_line_the_reader_cannot_read_or_whose_time_is_wrong_is_accounted_for(
    store: DuckDBStore, write: Write
) -> None:
    text = CSV + "2024-01-01 00:03:00,1,2,3,x,extra\nyesterday,1.9,,183,\n"
    report = ingest(store, write("wide.csv", text), write("wide.yaml", WIDE))

    reasons = [(q["row_number"], q["field"], q["reason"]) for q in _quarantine(store)]
    assert reasons[0][0] == 5 and reasons[0][2].startswith("malformed CSV line")
    # The line with no valid time: each of its points is quarantined, its empty cell is not.
    assert [r[:2] for r in reasons[1:]] == [(6, "ts"), (6, "ts")]
    assert reasons[1][2] == (
        "field 'ts' (column 'Timestamp'): expected an ISO 8601 timestamp, found 'yesterday'"
    )
    assert (report.records_read, report.rows_read) == (5, 13)
    assert (report.inserted, report.filtered, report.quarantined) == (7, 3, 3)
    _balanced(report)


def test_units_and_assets_in_column_names_describe_the_series(
    store: DuckDBStore, write: Write
) -> None:
    declared = write(
        "tags.yaml",
        "entity: time_series\nspace: historian\nfields:\n  external_id: tag\n  unit: unit\n"
        "  asset: asset\n",
    )
    ingest(store, write("tags.csv", "tag,unit,asset\nL2_OVN01.TEMP,degF,OVEN-2\n"), declared)

    ingest(store, write("wide.csv", CSV), write("wide.yaml", WIDE))

    rows = store.query_rows(
        "SELECT external_id, asset, unit, source_unit FROM time_series ORDER BY external_id"
    )
    assert [tuple(row.values()) for row in rows] == [
        ("L1_PRS01.TEMP", "L1_PRS01", "degC", "degC"),
        ("L1_PRS01.VIB_RMS", "L1_PRS01", "mm/s", "mm/s"),
        # What a time_series mapping declared stays; the column's unit is what the source sends.
        ("L2_OVN01.TEMP", "OVEN-2", "degF", "degC"),
    ]
    # 180 degC in the column are stored in the series' unit.
    assert _points(store, "L2_OVN01.TEMP")[0] == pytest.approx(356.0)


def test_a_renamed_column_feeds_the_same_series_in_its_own_unit(
    store: DuckDBStore, write: Write
) -> None:
    mapping = write(
        "wide.yaml",
        WIDE.replace("fields:", "  rename: {'L1_PRESS1.VIB [in/s]': L1_PRS01.VIB_RMS}\nfields:"),
    )
    text = """\
Timestamp,L1_PRESS1.VIB [in/s],L1_PRS01.VIB_RMS [mm/s]
2024-01-01 00:00:00,0.1,
2024-01-01 00:01:00,0.2,
2024-01-01 00:02:00,,5.5
"""
    report = ingest(store, write("wide.csv", text), mapping)

    assert report.inserted == 3
    assert _points(store, "L1_PRS01.VIB_RMS") == pytest.approx([2.54, 5.08, 5.5])
    rows = store.query_rows("SELECT external_id, asset, unit FROM time_series")
    # The series is described by the column the pattern gives it, not by the old name.
    assert rows == [{"external_id": "L1_PRS01.VIB_RMS", "asset": "L1_PRS01", "unit": "mm/s"}]


def test_reloading_a_wide_file_changes_nothing(store: DuckDBStore, write: Write) -> None:
    source = write("wide.csv", CSV.replace("1.6,,181", "1.6,Bad,181"))
    mapping = write("wide.yaml", WIDE)
    ingest(store, source, mapping)
    points = store.query("SELECT * FROM datapoint ORDER BY ALL")
    series = store.query("SELECT * FROM time_series ORDER BY external_id")
    quarantine = store.query("SELECT row_number, reason FROM quarantine")

    again = ingest(store, source, mapping)

    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 7)
    _balanced(again)
    assert store.query("SELECT * FROM datapoint ORDER BY ALL").equals(points)
    assert store.query("SELECT * FROM time_series ORDER BY external_id").equals(series)
    assert store.query("SELECT row_number, reason FROM quarantine").equals(quarantine)


def test_a_wide_file_that_fails_loads_nothing(
    store: DuckDBStore, write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = store.counts()

    def fails(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "record_ingest", fails)
    with pytest.raises(RuntimeError):
        ingest(store, write("wide.csv", CSV), write("wide.yaml", WIDE))

    assert store.counts() == before
    assert store.query_rows("SELECT count(*) AS n FROM time_series") == [{"n": 0}]


def test_a_column_whose_unit_does_not_fit_its_series_stops_the_load(
    store: DuckDBStore, write: Write
) -> None:
    declared = "entity: time_series\nspace: historian\nfields:\n  external_id: tag\n  unit: u\n"
    ingest(store, write("tags.csv", "tag,u\nL2_OVN01.TEMP,bar\n"), write("tags.yaml", declared))
    source = write("wide.csv", CSV)

    with pytest.raises(IngestError) as raised:
        ingest(store, source, write("wide.yaml", WIDE))

    assert str(raised.value).startswith(
        f"{source}: column 'L2_OVN01.TEMP [degC]' holds degC, which cannot be converted to bar, "
        "the unit of series 'L2_OVN01.TEMP'"
    )
    assert store.counts()["datapoint"] == 0


def test_lines_out_of_time_order_and_repeated_times_load_once(
    store: DuckDBStore, write: Write
) -> None:
    text = """\
Timestamp,A.X [bar],A.Y [bar]
2024-01-01 00:02:00,3,30
2024-01-01 00:00:00,1,10
2024-01-01 00:02:00,4,
"""
    mapping = write("wide.yaml", WIDE.replace("fields:", "duplicates: merge\nfields:"))
    report = ingest(store, write("wide.csv", text), mapping)

    assert _points(store, "A.X") == [1.0, 4.0]  # the later line wins
    assert _points(store, "A.Y") == [10.0, 30.0]
    assert (report.inserted, report.merged, report.filtered) == (4, 1, 1)
    _balanced(report)


def test_numbers_written_in_a_locale_are_read_as_the_mapping_says(
    store: DuckDBStore, write: Write
) -> None:
    mapping = write(
        "wide.yaml", WIDE.replace("fields:", "source: {delimiter: ';', decimal: ','}\nfields:")
    )
    text = """\
Timestamp;A.X [bar];A.Y [bar]
2024-01-01 00:00:00;1,5;1.234,5
2024-01-01 00:01:00;2,5-;1.5
"""
    report = ingest(store, write("wide.csv", text), mapping)

    assert _points(store, "A.X") == [1.5, -2.5]
    assert _points(store, "A.Y") == [1234.5]
    [row] = _quarantine(store)
    assert row["reason"] == (
        "field 'value' (column 'A.Y [bar]'): expected a finite number written with ',' as "
        "decimal separator, '.' between thousands, found '1.5'"
    )
    _balanced(report)


@pytest.mark.parametrize("kind", ["parquet", "xlsx"])
def test_parquet_and_excel_wide_files_load_as_the_csv_does(
    store: DuckDBStore, write: Write, tmp_path: Path, kind: str
) -> None:
    columns = {
        "Timestamp": [datetime(2024, 1, 1, 0, m) for m in range(3)],
        "L1_PRS01.VIB_RMS [mm/s]": [1.5, 1.6, 1.7],
        "L1_PRS01.TEMP [degC]": [20.0, None, None],
        "L2_OVN01.TEMP [degC]": [180.0, 181.0, 182.0],
    }
    path = tmp_path / f"wide.{kind}"
    if kind == "parquet":
        pq.write_table(pa.table(columns), path)
    else:
        book = openpyxl.Workbook()
        sheet = book.worksheets[0]
        sheet.append(list(columns))
        for row in zip(*columns.values(), strict=True):
            sheet.append(list(row))
        book.save(path)

    report = ingest(store, path, write("wide.yaml", WIDE))

    assert (report.records_read, report.rows_read) == (3, 9)
    assert (report.inserted, report.filtered, report.quarantined) == (7, 2, 0)
    assert report.filtered_by_reason == {
        "column 'L1_PRS01.TEMP [degC]': empty cells (missing values)": 2
    }
    assert _points(store, "L1_PRS01.VIB_RMS") == [1.5, 1.6, 1.7]
    assert _points(store, "L2_OVN01.TEMP") == [180.0, 181.0, 182.0]
    assert ingest(store, path, write("wide.yaml", WIDE)).unchanged == 7


def test_a_list_of_column_names_makes_each_its_own_series(store: DuckDBStore, write: Write) -> None:
    mapping = write(
        "wide.yaml",
        "entity: datapoint\nspace: historian\nunpivot:\n  columns: ['L1_PRS01.VIB_RMS [mm/s]']\n"
        "fields:\n  ts: Timestamp\n",
    )
    report = ingest(store, write("wide.csv", CSV), mapping)

    assert (report.rows_read, report.inserted) == (3, 3)
    assert _points(store, "L1_PRS01.VIB_RMS [mm/s]") == [1.5, 1.6, 1.7]


@pytest.mark.parametrize(
    ("unpivot", "fields", "message"),
    [
        (
            "  columns: '^(?P<asset>[A-Z0-9_]+)\\.(?P<signal>.+)$'\n  series: '{asset}/{tag}'\n",
            "  ts: Timestamp\n",
            r"line 5: 'series' names group 'tag', which the pattern does not have; its named "
            r"groups are \['asset', 'signal'\]",
        ),
        (
            "  columns: '.*'\n",
            "  ts: Timestamp\n",
            r"line 6: field 'ts' reads column 'Timestamp', which 'unpivot' also takes as a tag",
        ),
        (
            "  columns: '^(?P<asset>[A-Z'\n",
            "  ts: Timestamp\n",
            r"line 4: 'columns' is no valid regular expression",
        ),
        (
            "  columns: '^A'\n",
            "  ts: Timestamp\n  value: v\n",
            r"line 7: field 'value' comes from 'unpivot' \(the tag columns\); map 'ts' only",
        ),
        (
            "  columns: [A, B]\n  series: '{asset}'\n",
            "  ts: Timestamp\n",
            r"line 5: 'series' builds the series id from the named groups of a regular expression",
        ),
        ("  colums: '^A'\n", "  ts: Timestamp\n", r"line 4: unknown 'unpivot' option 'colums'"),
    ],
)
def test_mistakes_in_unpivot_name_the_line(
    write: Write, unpivot: str, fields: str, message: str
) -> None:
    text = f"entity: datapoint\nspace: historian\nunpivot:\n{unpivot}fields:\n{fields}"
    with pytest.raises(MappingError, match=message):
        load_mapping(write("wide.yaml", text))


def test_unpivot_of_an_entity_needs_a_field_that_reads_the_cell(write: Write) -> None:
    # An entity's wide table is unpivoted too (tests/connectors/test_packs_qms.py), and each
    # cell must fill something.
    text = "entity: asset\nspace: s\nunpivot: {columns: '^X.*'}\nfields:\n  external_id: a\n"
    with pytest.raises(MappingError, match=r"line 3: 'unpivot' makes one asset of each cell"):
        load_mapping(write("wide.yaml", text))


def test_a_pattern_that_matches_no_column_names_the_columns(
    store: DuckDBStore, write: Write
) -> None:
    mapping = write("wide.yaml", WIDE.replace("[A-Z0-9_]+)", "[a-z]+)"))
    with pytest.raises(IngestError) as raised:
        ingest(store, write("wide.csv", CSV), mapping)
    message = str(raised.value)
    assert "matches none of the file's columns" in message
    assert "'L1_PRS01.VIB_RMS [mm/s]'" in message and "line 3" in message
