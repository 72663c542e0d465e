from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from factorybrain.exceptions import SchemaError, StoreError
from factorybrain.model import ENTITY_TYPES, SYSTEM_COLUMNS
from factorybrain.store import SCHEMA_VERSION, DuckDBStore, PostgresStore, Store, open_store


@pytest.fixture
def store(either_store: Store) -> Store:
    """The store contract holds for both stores: the embedded file and the server database."""
    return either_store


@pytest.fixture
def duckdb_store(memory_store: DuckDBStore) -> DuckDBStore:
    return memory_store


def test_migrations_build_the_model_schema(store: DuckDBStore) -> None:
    assert store.schema_version() == SCHEMA_VERSION
    for entity in ENTITY_TYPES:
        columns = store.query(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
            "ORDER BY ordinal_position",
            [entity.name],
        )["column_name"].tolist()
        assert columns == [f.name for f in entity.all_fields + SYSTEM_COLUMNS], entity.name


def test_migrate_twice_applies_nothing_the_second_time(tmp_path: Path) -> None:
    path = tmp_path / "f.duckdb"
    with open_store(path) as store:
        assert store.migrate() == SCHEMA_VERSION
    with open_store(path) as store:
        assert store.migrate() == 0


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "f.duckdb"
    with open_store(path, migrate=True) as store:
        store.connection.execute("INSERT INTO schema_migrations VALUES (99, 'future', NULL)")
    with open_store(path) as store, pytest.raises(SchemaError, match="newer"):
        store.migrate()


def test_an_uninitialised_store_says_how_to_fix_it(tmp_path: Path) -> None:
    with open_store(tmp_path / "empty.duckdb") as store, pytest.raises(SchemaError, match="init"):
        store.counts()


def test_query_is_read_only(store: DuckDBStore) -> None:
    assert store.query("SELECT 41 + 1 AS answer")["answer"].tolist() == [42]
    for statement in (
        "DELETE FROM asset",
        "DROP TABLE asset",
        "INSERT INTO asset (space, external_id) VALUES ('a', 'b')",
        "SELECT 1; SELECT 2",
    ):
        with pytest.raises(StoreError):
            store.query(statement)


def test_upsert_counts_inserts_updates_and_unchanged(store: DuckDBStore) -> None:
    rows = pa.table({"space": ["s", "s"], "external_id": ["a", "b"], "name": ["A", "B"]})
    first = store.upsert_entities("product", rows, "i1")
    assert (first.inserted, first.updated, first.unchanged) == (2, 0, 0)
    changed = pa.table({"space": ["s", "s"], "external_id": ["a", "b"], "name": ["A2", "B"]})
    second = store.upsert_entities("product", changed, "i2")
    assert (second.inserted, second.updated, second.unchanged) == (0, 1, 1)
    assert store.entities("product", where={"external_id": "a"})["name"].tolist() == ["A2"]


def test_transaction_rolls_back_everything_on_error(store: DuckDBStore) -> None:
    rows = pa.table({"space": ["s"], "external_id": ["a"]})
    with pytest.raises(RuntimeError), store.transaction():
        store.upsert_entities("product", rows, "i1")
        raise RuntimeError("boom")
    assert store.counts()["product"] == 0


def _points(store: DuckDBStore) -> None:
    store.ensure_series("h", ["T1", "T2"], "historian")
    start = datetime(2024, 1, 1)
    ts = [start + timedelta(seconds=i) for i in range(3600)]
    batch = pa.record_batch(
        {
            "series_id": pa.array([1] * 3600, pa.int32()),
            "ts": pa.array(ts, pa.timestamp("us")),
            "value": pa.array([float(i) for i in range(3600)]),
        }
    )
    store.append_datapoints(iter([batch]))
    store.refresh_extents([1])


def test_range_downsample_and_latest(store: DuckDBStore) -> None:
    _points(store)
    start = datetime(2024, 1, 1)
    window = store.datapoints("T1", start + timedelta(seconds=10), start + timedelta(seconds=20))
    assert window["value"].tolist() == [float(i) for i in range(10, 20)]
    buckets = store.downsample("T1", start, start + timedelta(hours=1), timedelta(minutes=1))
    assert len(buckets) == 60
    first = buckets.iloc[0]
    assert (first["min"], first["max"], first["count"]) == (0.0, 59.0, 60)
    assert first["mean"] == pytest.approx(29.5)
    latest = store.latest(["T1"])
    assert latest["value"].tolist() == [3599.0]


def test_unknown_series_is_named(store: DuckDBStore) -> None:
    with pytest.raises(StoreError, match="NOPE"):
        store.datapoints("NOPE", datetime(2024, 1, 1), datetime(2024, 1, 2))


def test_series_ids_follow_first_appearance(store: DuckDBStore) -> None:
    created = store.ensure_series("h", ["Z", "A", "M"], "historian")
    ids = dict(
        zip(created["external_id"].to_pylist(), created["series_id"].to_pylist(), strict=True)
    )
    assert ids["Z"] < ids["A"] < ids["M"]


@pytest.mark.parametrize("every", [None, timedelta(minutes=7)])
@pytest.mark.parametrize(("limit", "offset"), [(None, 0), (25, 0), (25, 500), (10, 10_000)])
def test_series_page_cut_in_sql_matches_the_generic_one(
    store: DuckDBStore, every: timedelta | None, limit: int | None, offset: int
) -> None:
    _points(store)
    start, end = datetime(2024, 1, 1, 0, 3), datetime(2024, 1, 1, 0, 50)
    rows, total = store.series_page("T1", start, end, every=every, limit=limit, offset=offset)
    generic_rows, generic_total = Store.series_page(
        store, "T1", start, end, every=every, limit=limit, offset=offset
    )
    assert total == generic_total == (2820 if every is None else 7)
    assert [tuple(r.values()) for r in rows] == [tuple(r.values()) for r in generic_rows]


def test_query_rows_gives_plain_values_and_stays_read_only(store: DuckDBStore) -> None:
    _points(store)
    rows = store.query_rows("SELECT series_id, min(ts) AS first FROM datapoint GROUP BY ALL")
    assert rows == [{"series_id": 1, "first": datetime(2024, 1, 1)}]
    with pytest.raises(StoreError, match="read-only"):
        store.query_rows("DELETE FROM datapoint")


def _stock(external_id: str) -> pa.Table:
    return pa.table({"space": ["erp"], "external_id": [external_id], "quantity": [1.0]})


def test_the_generation_of_a_table_grows_with_every_write_to_it_and_only_then(
    duckdb_store: DuckDBStore,
) -> None:
    store = duckdb_store
    reader = store.reader()
    before = store.generation_of(["stock_level"])
    store.counts()
    store.query("SELECT * FROM stock_level")
    store.upsert_entities("product", pa.table({"space": ["s"], "external_id": ["p"]}), "i")
    assert store.generation_of(["stock_level"]) == before  # reads and other tables: unchanged
    store.upsert_entities("stock_level", _stock("a"), "i")
    written = store.generation_of(["stock_level"])
    assert written > before
    store.upsert_entities("stock_level", _stock("a"), "i")  # the same row again: no change
    assert store.generation_of(["stock_level"]) == written
    assert reader.generation_of(["stock_level"]) == written  # readers share the count
    assert store.generation_of(["material", "stock_level"]) == written
    store.connection.execute("DELETE FROM stock_level").fetchall()  # raw access may write
    assert store.generation_of(["stock_level"]) > written


def test_the_generation_grows_again_when_a_transaction_commits(duckdb_store: DuckDBStore) -> None:
    store = duckdb_store
    # A reader sees the rows only at the commit: what it derived meanwhile must not look fresh.
    reader = store.reader()
    with store.transaction():
        store.upsert_entities("stock_level", _stock("a"), "i")
        during = reader.generation_of(["stock_level"])
        assert reader.query("SELECT count(*) AS n FROM stock_level").n[0] == 0
    assert reader.generation_of(["stock_level"]) > during
    assert reader.query("SELECT count(*) AS n FROM stock_level").n[0] == 1
    settled = store.generation_of(["stock_level"])
    with store.transaction():
        store.upsert_entities("product", pa.table({"space": ["s"], "external_id": ["p"]}), "i")
    assert store.generation_of(["stock_level"]) == settled


@pytest.mark.parametrize(
    ("write", "table"),
    [
        (
            lambda s: s.upsert_edges(
                pa.table(
                    {
                        "edge_type": ["produced"],
                        "source_space": ["s"],
                        "source_external_id": ["a"],
                        "target_space": ["s"],
                        "target_external_id": ["b"],
                    }
                ),
                "i",
            ),
            "edge",
        ),
        (lambda s: s.ensure_series("s", ["tag"], "test"), "time_series"),
        (
            lambda s: s.append_datapoints(
                iter(
                    [
                        pa.record_batch(
                            {
                                "series_id": pa.array([1], pa.int32()),
                                "ts": pa.array([datetime(2030, 1, 1)], pa.timestamp("us")),
                                "value": [1.0],
                            }
                        )
                    ]
                )
            ),
            "datapoint",
        ),
        (lambda s: s.refresh_extents([1]), "series_extent"),
        (
            lambda s: s.deduplicate_datapoints(
                pa.table(
                    {
                        "series_id": pa.array([1], pa.int32()),
                        "first_ts": [datetime(2030, 1, 1)],
                        "last_ts": [datetime(2030, 1, 2)],
                    }
                )
            ),
            "datapoint",
        ),
        (lambda s: s.migrate(), "asset"),
    ],
)
def test_every_write_method_counts(duckdb_store: DuckDBStore, write, table: str) -> None:
    store = duckdb_store
    before = store.generation_of([table])
    write(store)
    assert store.generation_of([table]) > before


def test_duplicate_points_keep_the_newest_row_and_are_counted(store: Store) -> None:
    store.ensure_series("h", ["T1"], "historian")
    t0 = datetime(2024, 3, 31, 23)  # the points straddle a month (a partition in PostgreSQL)

    def batch(values: list[float]) -> pa.RecordBatch:
        return pa.record_batch(
            {
                "series_id": pa.array([1] * len(values), pa.int32()),
                "ts": pa.array(
                    [t0 + timedelta(hours=i) for i in range(len(values))], pa.timestamp("us")
                ),
                "value": pa.array(values),
            }
        )

    store.append_datapoints(iter([batch([1.0, 2.0, 3.0])]))
    mark = store.datapoint_watermark()  # type: ignore[attr-defined]
    store.append_datapoints(iter([batch([1.0, 20.0])]))  # one value the same, one changed
    extents = pa.table(
        {
            "series_id": pa.array([1], pa.int32()),
            "first_ts": [t0],
            "last_ts": [t0 + timedelta(hours=2)],
        }
    )
    outcome = store.deduplicate_datapoints(extents, mark)
    assert (outcome.updated, outcome.unchanged) == (1, 1)
    points = store.datapoints("T1", t0, t0 + timedelta(hours=3))
    assert points["value"].tolist() == [1.0, 20.0, 3.0]


def test_quarantine_is_kept_summarised_and_forgotten_per_file(store: Store) -> None:
    report = {
        "ingest_id": "i1",
        "source_file": "machines.csv",
        "mapping_file": "machines.yaml",
        "entity_type": "asset",
        "started_at": datetime(2024, 1, 1),
        "status": "ok",
        "quarantine_by_reason": {"bad": 2},
    }
    store.record_ingest(report)
    store.record_ingest({**report, "rows_read": 5})  # the same report again replaces it
    assert store.ingest_history()["rows_read"].tolist() == [5]
    rejected = pa.table(
        {
            "ingest_id": ["i1", "i1"],
            "source_file": ["machines.csv"] * 2,
            "row_number": pa.array([3, 7], pa.int64()),
            "entity_type": ["asset"] * 2,
            "field": ["installed_at"] * 2,
            "reason": [
                "installed_at: expected a date, found 'x'",
                "installed_at: expected a date, found 'y'",
            ],
            "raw": ["a,x", "b,y"],
        }
    )
    assert store.quarantine(rejected) == 2
    summary = store.quarantine_summary()
    assert summary[["reason", "rows", "first_row"]].values.tolist() == [
        ["installed_at: expected a date", 2, 3]
    ]
    assert store.forget_quarantine("machines.csv", "asset", "machines.yaml") == 2
    assert store.quarantine_summary().empty


def test_lists_json_and_times_come_back_as_they_went_in(store: Store) -> None:
    rows = pa.table(
        {
            "space": ["s"],
            "external_id": ['a "quoted", {braced} \\ id'],
            "tags": [["x", 'y "z"', "{w}"]],
            "installed_at": pa.array([datetime(2024, 5, 6, 7, 8, 9, 123456)], pa.timestamp("us")),
        }
    )
    store.upsert_entities("asset", rows, "i1")
    found = store.query_rows("SELECT external_id, tags, installed_at FROM asset")
    assert found == [
        {
            "external_id": 'a "quoted", {braced} \\ id',
            "tags": ["x", 'y "z"', "{w}"],
            "installed_at": datetime(2024, 5, 6, 7, 8, 9, 123456),
        }
    ]
    assert store.upsert_entities("asset", rows, "i2").unchanged == 1


def test_duckdb_sql_of_the_package_runs_on_either_store(store: Store) -> None:
    rows = pa.table(
        {"space": ["s", "s", "t"], "external_id": ["a", "b", "c"], "name": ["A", "B", "C"]}
    )
    store.upsert_entities("asset", rows, "i1")
    found = store.query_rows(
        "SELECT space, count(*) AS n, arg_max(external_id, name) AS last, "
        "list(external_id ORDER BY external_id) AS ids, 7 / 2 AS half "
        "FROM asset WHERE name LIKE '%' || ? GROUP BY ALL ORDER BY ALL",
        [""],
    )
    assert [{**row, "ids": list(row["ids"])} for row in found] == [
        {"space": "s", "n": 2, "last": "b", "ids": ["a", "b"], "half": 3.5},
        {"space": "t", "n": 1, "last": "c", "ids": ["c"], "half": 3.5},
    ]
    semi = store.query_rows(
        "SELECT a.external_id FROM asset a SEMI JOIN asset b ON a.space = b.space "
        "AND b.external_id = $id ORDER BY 1",
        {"id": "a"},
    )
    assert [r["external_id"] for r in semi] == ["a", "b"]


def test_a_window_with_a_missing_value_or_no_point_reads_back(store: Store) -> None:
    store.ensure_series("h", ["T1"], "historian")
    t0 = datetime(2024, 6, 1)
    batch = pa.record_batch(
        {
            "series_id": pa.array([1, 1, 1], pa.int32()),
            "ts": pa.array([t0, t0 + timedelta(seconds=1), t0 + timedelta(seconds=2)]),
            "value": pa.array([1.5, None, 2.5]),
        }
    )
    store.append_datapoints(iter([batch]))
    window = store.datapoints("T1", t0, t0 + timedelta(minutes=1))
    assert window["ts"].tolist() == [t0 + timedelta(seconds=i) for i in range(3)]
    assert window["value"].iloc[0] == 1.5 and pd.isna(window["value"].iloc[1])
    empty = store.datapoints("T1", t0 - timedelta(days=1), t0)
    assert empty.empty and list(empty.columns) == ["ts", "value"]
    whole = store.datapoints("T1", t0 + timedelta(seconds=2), t0 + timedelta(seconds=3))
    assert whole["value"].tolist() == [2.5]


def test_every_process_sees_the_generation_grow_with_writes_to_its_tables(
    postgres_store: PostgresStore,
) -> None:
    # Another connection stands for another process (an API worker beside an ingest).
    other = PostgresStore(postgres_store.url)
    try:
        before = other.generation_of(["stock_level"])
        assert before is not None
        postgres_store.upsert_entities(
            "product", pa.table({"space": ["s"], "external_id": ["p"]}), "i"
        )
        assert other.generation_of(["stock_level"]) == before  # another table: unchanged
        with postgres_store.transaction():
            postgres_store.upsert_entities("stock_level", _stock("a"), "i")
            assert other.generation_of(["stock_level"]) == before  # not committed yet
        written = other.generation_of(["stock_level"])
        assert written is not None and written > before
        assert other.generation_of(["material", "stock_level"]) >= written
    finally:
        other.close()


def test_a_month_created_in_a_rolled_back_load_is_created_again(
    postgres_store: PostgresStore,
) -> None:
    postgres_store.ensure_series("h", ["T1"], "historian")
    batch = pa.record_batch(
        {
            "series_id": pa.array([1], pa.int32()),
            "ts": pa.array([datetime(2027, 3, 4)], pa.timestamp("us")),
            "value": [1.0],
        }
    )
    with pytest.raises(RuntimeError), postgres_store.transaction():
        postgres_store.append_datapoints(iter([batch]))  # March 2027's partition, rolled back
        raise RuntimeError("the load fails after its points")
    assert postgres_store.append_datapoints(iter([batch])) == 1
    assert postgres_store.counts()["datapoint"] == 1


def test_a_read_only_postgresql_store_refuses_writes(postgres_store: PostgresStore) -> None:
    reader = PostgresStore(postgres_store.url, read_only=True)
    try:
        with pytest.raises(StoreError, match="read-only transaction"):
            reader.upsert_entities("asset", pa.table({"space": ["s"], "external_id": ["a"]}), "i")
        assert reader.counts()["asset"] == 0
    finally:
        reader.close()


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM (VALUES ('a'), (NULL), ('ccc')) t(x)",
        "SELECT CAST(NULL AS VARCHAR) AS x, 1.5::DOUBLE AS y",
        "SELECT * FROM (VALUES (1.5::DOUBLE, TIMESTAMP '2024-01-01 10:00'), (NULL, NULL)) t(x, y)",
        "SELECT 'a' AS x, 1.0::DOUBLE AS y, TIMESTAMP '2024-01-01' AS z WHERE false",
        "SELECT 1.5::FLOAT AS x, TIMESTAMP_NS '2024-01-01 10:00:00.123456789' AS y",
        "SELECT 'a' AS x, 'b' AS x",
        "WITH t AS (SELECT 'q' AS a, 2 AS n) SELECT * FROM t",
        "SELECT * FROM (VALUES (1::BIGINT, true), (NULL, NULL)) t(n, b)",
        "SELECT ?::VARCHAR AS a, ?::DOUBLE AS b",
    ],
)
def test_a_query_gives_the_frame_duckdb_gives_whichever_way_it_is_converted(sql: str) -> None:
    """Strings, floats and timestamps come through Arrow; the frame is the one df() makes."""
    import duckdb

    from factorybrain.store._duckdb import _frame

    con = duckdb.connect()
    parameters = ["z", 2.0] if "?" in sql else None
    pd.testing.assert_frame_equal(
        _frame(con, sql, parameters), con.execute(sql, parameters or []).df()
    )
