"""Every row is accounted for, from the source's own count (issue 16, item 2).

Rows read come from the reader, never from the outcomes; the outcomes must add up to them at the
end of every load, or the load fails and changes nothing. Reloading a file replaces its
quarantine; ``status`` lists each distinct problem of a file once, with its count.
"""

from __future__ import annotations

import json
import string
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from factorybrain.cli import app
from factorybrain.connectors import _ingest, ingest
from factorybrain.exceptions import IngestError
from factorybrain.store import DuckDBStore, open_store
from factorybrain.store._duckdb import REASON_KEY_SQL, reason_key

Write = Callable[..., Path]

PRODUCTS = """\
entity: product
space: erp
fields:
  external_id: item
  name: text
  standard_cost: cost
"""


def test_a_load_whose_counts_do_not_add_up_fails_and_changes_nothing(
    store: DuckDBStore, write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    mapping = write("m.yaml", PRODUCTS)
    ingest(store, write("p.csv", "item,text,cost\nA,a,1\nB,b,oops\n"), mapping)
    before = store.query("SELECT * EXCLUDE (ingest_id) FROM product ORDER BY ALL")
    quarantine_before = store.query("SELECT reason FROM quarantine")
    keep_all = _ingest._drop_duplicate_keys

    def loses_a_row(*args: Any) -> pa.Table:
        # What the old explode + merge did: a row vanishes on its way to the store.
        return keep_all(*args).slice(1)

    monkeypatch.setattr(_ingest, "_drop_duplicate_keys", loses_a_row)
    source = write("p2.csv", "item,text,cost\nC,c,3\nD,d,4\nE,e,x\n")
    with pytest.raises(IngestError) as raised:
        ingest(store, source, mapping)
    message = str(raised.value)
    assert message.startswith(f"{source}: not loaded: the counts do not add up: 3 rows read")
    assert "inserted 1 + updated 0 + unchanged 0 + merged 0 + filtered 0 + quarantined 1 = 2" in (
        message
    )
    assert "transaction was rolled back" in message
    after = store.query("SELECT * EXCLUDE (ingest_id) FROM product ORDER BY ALL")
    assert after.equals(before)
    assert store.query("SELECT reason FROM quarantine").equals(quarantine_before)
    [status] = store.query("SELECT status FROM ingest_report WHERE source_file = ?", [str(source)])[
        "status"
    ]
    assert status.startswith("failed: ") and "do not add up" in status


def test_datapoints_lost_between_the_reader_and_the_store_fail_the_load(
    store: DuckDBStore, write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    append = store.append_datapoints

    def drops_the_first_point(batches: Iterator[pa.RecordBatch]) -> int:
        return append(batch.slice(1) for batch in batches)

    monkeypatch.setattr(store, "append_datapoints", drops_the_first_point)
    mapping = write(
        "m.yaml", "entity: datapoint\nspace: h\nfields:\n  series: tag\n  ts: ts\n  value: v\n"
    )
    source = write("h.csv", "tag,ts,v\nT,2025-01-01 00:00:00,1\nT,2025-01-01 00:15:00,2\n")
    with pytest.raises(IngestError, match=r"2 rows read, but inserted 1 \+ .* = 1"):
        ingest(store, source, mapping)
    assert store.counts()["datapoint"] == 0


def test_reloading_a_file_replaces_its_quarantine_and_status_lists_distinct_problems(
    store: DuckDBStore, write: Write, tmp_path: Path
) -> None:
    mapping = write("m.yaml", PRODUCTS)
    source = write("p.csv", "item,text,cost\nA,a,ten\nB,b,eleven\nC,c,12\n,d,13\nE,e,1\nE,e2,2\n")
    for _ in range(3):
        report = ingest(store, source, mapping)
        assert (report.rows_read, report.quarantined) == (6, 4)
    assert store.query("SELECT count(*) AS n FROM quarantine")["n"][0] == 4
    summary = store.quarantine_summary()
    assert summary[["field", "reason", "rows", "first_row"]].values.tolist() == [
        ["standard_cost", "field 'standard_cost' (column 'cost'): expected a finite number", 2, 2],
        ["external_id", "duplicate key in the same file", 1, 6],
        ["external_id", "field 'external_id' (column 'item'): required", 1, 5],
    ]
    # A reload that fails changes nothing: what the last good one found is still shown.
    source.write_text("item,text\nA,a\n")
    with pytest.raises(IngestError):
        ingest(store, source, mapping)
    assert store.quarantine_summary()["rows"].sum() == 4
    # The command shows one line per distinct problem per file, with its count.
    db = tmp_path / "plant.duckdb"
    with open_store(db, migrate=True) as disk:
        ingest(disk, write("p.csv", "item,text,cost\nA,a,ten\nB,b,eleven\nC,c,12\n"), mapping)
    result = CliRunner().invoke(app, ["status", "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    [problem] = json.loads(result.output)["quarantine"]
    assert (problem["rows"], problem["first_row"], problem["field"]) == (2, 2, "standard_cost")


def test_the_reason_key_is_the_same_in_python_and_sql(store: DuckDBStore) -> None:
    reasons = [
        "field 'x' (column 'c'): expected a finite number, found 'ten'",
        "field 'x' (column 'c'): required, found an empty value",
        "duplicate key (external_id=A) in the same file: superseded by row 4",
        "duplicate (series, ts) in the same file: superseded by a later row",
        "malformed CSV line: more fields than the header has (Expected Number of Columns: 3)",
        "not valid cp1252 text (byte 0x81 at column 7; set 'source: {encoding: ...}')",
        "more cells than the header has",
    ]
    rows = store.connection.execute(
        f"SELECT {REASON_KEY_SQL} FROM (SELECT unnest(?) AS reason) q", [reasons]
    ).fetchall()
    assert [row[0] for row in rows] == [reason_key(r) for r in reasons]
    assert reason_key(reasons[5]) == "not valid cp1252 text"


def test_the_command_line_report_adds_up(store: DuckDBStore, write: Write, tmp_path: Path) -> None:
    mapping = write(
        "m.yaml",
        "entity: shipment\nspace: wms\nduplicates: merge\nfilter: \"kind <> 'test'\"\n"
        "fields:\n  external_id: id\n  customer: to\n",
    )
    source = write("s.csv", "id,to,kind\nS1,C1,real\nS1,C1,real\nS2,C2,test\nS3,,real\n")
    result = CliRunner().invoke(
        app, ["ingest", str(source), "--mapping", str(mapping), "--db", str(tmp_path / "x.db")]
    )
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "read 4 = inserted 2, updated 0, unchanged 0, merged 1, filtered 1, quarantined 0" in (
        text
    )
    assert "filtered 1: filter 1: kind <> 'test'" in text


# -- properties ----------------------------------------------------------------------------------
LINE_KINDS = st.sampled_from(
    ["good", "good", "good", "bad cost", "no id", "other", "extra", "blank"]
)
IDS = st.sampled_from(["I1", "I2", "I3", "I4"])
COSTS = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False).map(lambda v: round(v, 3))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    lines=st.lists(st.tuples(LINE_KINDS, IDS, COSTS), min_size=1, max_size=25),
    duplicates=st.sampled_from(["quarantine", "merge"]),
)
def test_rows_read_equal_the_sum_of_outcomes_for_any_csv(
    tmp_path_factory: pytest.TempPathFactory,
    lines: list[tuple[str, str, float]],
    duplicates: str,
) -> None:
    folder = tmp_path_factory.mktemp("csv")
    (folder / "m.yaml").write_text(
        f"entity: product\nspace: s\nduplicates: {duplicates}\nskip_rows_without: item\n"
        "filter: [{column: kind, not_equals: other}]\n"
        "fields:\n  external_id: item\n  standard_cost: cost\n"
    )
    text = ["item,kind,cost", "I0,real,0"]  # a first row every sniff can read
    planted: dict[int, str] = {}  # line -> what must be quarantined there
    for kind, item, cost in lines:
        line = len(text) + 1
        if kind == "blank":
            text.append("")
            continue
        value = "n/a" if kind == "bad cost" else repr(cost)
        row = ["" if kind == "no id" else item, "other" if kind == "other" else "real", value]
        if kind == "extra":
            row.append("surplus")
            planted[line] = "malformed CSV line"
        elif kind == "bad cost":
            planted[line] = "standard_cost"
        text.append(",".join(row))
    (folder / "p.csv").write_text("\n".join(text) + "\n")
    data_lines = sum(1 for t in text[1:] if t)
    with open_store(":memory:", migrate=True) as store:
        report = ingest(store, folder / "p.csv", folder / "m.yaml")
        quarantine = store.query_rows("SELECT row_number, field, reason FROM quarantine")
    assert report.rows_read == data_lines
    assert report.rows_read == (
        report.inserted
        + report.updated
        + report.unchanged
        + report.merged
        + report.filtered
        + report.quarantined
    )
    found = {row["row_number"]: row for row in quarantine}
    for line, what in planted.items():
        assert line in found, (line, what, text)
        assert what in (found[line]["field"] or found[line]["reason"]), (line, found[line])


LISTS = st.lists(
    st.tuples(
        st.sampled_from(["L1", "L2", "L3"]),
        st.lists(st.sampled_from(["W1", "W2", "W3", "W4"]), max_size=4),
    ),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(records=LISTS, layout=st.sampled_from(["jsonl", "json"]))
def test_exploded_genealogy_keeps_every_distinct_pair(
    tmp_path_factory: pytest.TempPathFactory,
    records: list[tuple[str, list[str]]],
    layout: str,
) -> None:
    folder = tmp_path_factory.mktemp("json")
    documents = [{"lot": lot, "orders": [{"wo": wo} for wo in orders]} for lot, orders in records]
    if layout == "jsonl":
        source = folder / "c.jsonl"
        source.write_text("".join(json.dumps(d) + "\n" for d in documents))
        options = "source: {explode: orders}"
    else:
        source = folder / "c.json"
        source.write_text(json.dumps({"lots": documents}))
        options = "source: {records: lots, explode: orders}"
    (folder / "m.yaml").write_text(
        f"entity: edge\nedge: consumed_in\nspace: mes\nduplicates: merge\n{options}\n"
        "fields:\n  source_external_id: lot\n  target_external_id: orders.wo\n"
    )
    with open_store(":memory:", migrate=True) as store:
        report = ingest(store, source, folder / "m.yaml")
        stored = store.query_rows(
            "SELECT source_external_id AS l, target_external_id AS w FROM edge"
        )
    pairs = {(lot, wo) for lot, orders in records for wo in orders}
    assert {(r["l"], r["w"]) for r in stored} == pairs
    assert report.records_read == len(records)
    assert report.rows_read == sum(max(1, len(orders)) for _, orders in records)
    assert report.filtered == sum(1 for _, orders in records if not orders)
    assert report.rows_read == report.inserted + report.merged + report.filtered


NAMES = st.text(alphabet=string.ascii_letters + "äöüßÆø ", min_size=1, max_size=10).map(str.strip)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    names=st.lists(NAMES.filter(bool), min_size=1, max_size=12),
    endings=st.lists(st.sampled_from(["\n", "\r\n", "\r"]), min_size=1, max_size=12),
    encoding=st.sampled_from(["utf-8", "cp1252", "latin-1", "utf-16"]),
)
def test_any_encoding_and_line_endings_read_every_row(
    tmp_path_factory: pytest.TempPathFactory,
    names: list[str],
    endings: list[str],
    encoding: str,
) -> None:
    folder = tmp_path_factory.mktemp("text")
    lines = ["id;name"] + [f"P{i};{name}" for i, name in enumerate(names)]
    content = "".join(line + endings[i % len(endings)] for i, line in enumerate(lines))
    (folder / "p.csv").write_bytes(content.encode(encoding))
    (folder / "m.yaml").write_text(
        f'entity: product\nspace: s\nsource: {{encoding: {encoding}, delimiter: ";"}}\n'
        "fields:\n  external_id: id\n  name: name\n"
    )
    with open_store(":memory:", migrate=True) as store:
        report = ingest(store, folder / "p.csv", folder / "m.yaml")
        stored = dict(store.query("SELECT external_id, name FROM product").values.tolist())
    assert (report.rows_read, report.inserted, report.quarantined) == (len(names), len(names), 0)
    assert stored == {f"P{i}": name for i, name in enumerate(names)}
