from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from factorybrain.exceptions import SchemaError, StoreError
from factorybrain.model import ENTITY_TYPES, SYSTEM_COLUMNS
from factorybrain.store import SCHEMA_VERSION, DuckDBStore, Store, open_store


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
