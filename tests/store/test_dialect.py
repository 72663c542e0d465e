"""The package's SQL is DuckDB's: a PostgreSQL store must answer it as DuckDB does.

Each statement runs on a DuckDB store and on a PostgreSQL store holding the same rows, and the
answers are compared row by row (statements without ORDER BY compared as sets).
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest

from factorybrain.exceptions import StoreError
from factorybrain.store import DuckDBStore, PostgresStore, Store
from factorybrain.store._dialect import to_postgres

STATEMENTS: list[tuple[str, Any]] = [
    ("SELECT space, count(*) AS n FROM asset GROUP BY ALL ORDER BY ALL", None),
    (
        "SELECT space, arg_max(external_id, manufacturer) AS top, "
        "arg_min(external_id, manufacturer) AS bottom FROM asset GROUP BY ALL",
        None,
    ),
    (
        "SELECT space, any_value(manufacturer) AS m, first(external_id) AS f FROM asset "
        "WHERE external_id = 'A2' GROUP BY ALL",
        None,
    ),
    (
        "SELECT a.external_id FROM asset a SEMI JOIN operation o ON o.equipment = a.external_id",
        None,
    ),
    (
        "SELECT a.external_id FROM asset a ANTI JOIN operation o ON o.equipment = a.external_id",
        None,
    ),
    (
        "SELECT external_id FROM asset QUALIFY row_number() OVER "
        "(PARTITION BY space ORDER BY external_id DESC) = 1",
        None,
    ),
    ("SELECT count(*) AS n FROM (SELECT 1 AS x FROM asset) JOIN (SELECT 2 AS y) ON true", None),
    (
        "SELECT external_id, regexp_full_match(external_id, 'A[0-9]') AS full, "
        "regexp_extract(external_id, '([0-9]+)', 1) AS digits, "
        "regexp_extract(external_id, 'Z') AS none, string_split('a,b', ',') AS parts, "
        "contains(external_id, '2') AS has2 FROM asset",
        None,
    ),
    (
        "SELECT max(manufacturer IS NULL) AS any_null, min(manufacturer IS NULL) AS all_null, "
        "sum(manufacturer IS NULL) AS nulls, 7 / 2 AS half, median(ideal_cycle_seconds) AS med "
        "FROM asset",
        None,
    ),
    ("SELECT isfinite(value) AS finite, isnan(value) AS nan FROM datapoint ORDER BY ts", None),
    (
        "SELECT time_bucket(INTERVAL 1 HOUR, ts) AS b, count(*) AS n FROM datapoint GROUP BY ALL "
        "ORDER BY ALL",
        None,
    ),
    (
        "SELECT time_bucket(?, ts, ?::TIMESTAMP) AS b, avg(value) AS v FROM datapoint "
        "WHERE isfinite(value) GROUP BY ALL ORDER BY ALL",
        [timedelta(minutes=25), datetime(2024, 1, 1, 0, 5)],
    ),
    (
        "SELECT hour(ts) AS h, dayofweek(ts) AS d, isodow(ts) AS i, epoch(ts) AS e "
        "FROM datapoint ORDER BY ts",
        None,
    ),
    (
        "SELECT external_id FROM asset WHERE list_contains(?, external_id) AND name LIKE '%' || $x",
        None,
    ),
    ("SELECT * EXCLUDE (created_at, updated_at, ingest_id) FROM asset ORDER BY external_id", None),
    ("SELECT mode(manufacturer) AS m FROM asset", None),
]


def _normal(value: Any) -> Any:
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else round(value, 9)
    if isinstance(value, list | tuple):
        return tuple(_normal(v) for v in value)
    if hasattr(value, "tolist") and not isinstance(value, str):
        return _normal(value.tolist())
    return value


def _fill(store: Store) -> None:
    store.upsert_entities(
        "asset",
        pa.table(
            {
                "space": ["mes", "mes", "erp"],
                "external_id": ["A1", "A2", "B7"],
                "name": ["Lathe", "Winder", "Press"],
                "manufacturer": ["Acme", None, "Bolt"],
                "ideal_cycle_seconds": [10.0, 20.0, 40.0],
            }
        ),
        "i",
    )
    store.upsert_entities(
        "operation",
        pa.table({"space": ["mes"], "external_id": ["WO1/10"], "equipment": ["A1"]}),
        "i",
    )
    store.ensure_series("h", ["T1"], "historian")
    start = datetime(2024, 1, 1)
    values = [float(i) for i in range(9)] + [float("nan")]
    store.append_datapoints(
        iter(
            [
                pa.record_batch(
                    {
                        "series_id": pa.array([1] * 10, pa.int32()),
                        "ts": pa.array(
                            [start + timedelta(minutes=17 * i) for i in range(10)],
                            pa.timestamp("us"),
                        ),
                        "value": pa.array(values),
                    }
                )
            ]
        )
    )


@pytest.fixture
def stores(memory_store: DuckDBStore, postgres_store: PostgresStore) -> tuple[Store, Store]:
    _fill(memory_store)
    _fill(postgres_store)
    return memory_store, postgres_store


@pytest.mark.parametrize(("sql", "parameters"), STATEMENTS, ids=range(len(STATEMENTS)))
def test_postgresql_answers_the_duckdb_sql_as_duckdb_does(
    stores: tuple[Store, Store], sql: str, parameters: Any
) -> None:
    duckdb_store, postgres_store = stores
    if "$x" in sql:
        parameters = {"x": "%"}
        sql = sql.replace("?", "['A1', 'B7']")
    wanted = duckdb_store.query_rows(sql, parameters)
    found = postgres_store.query_rows(sql, parameters)
    assert wanted, "a statement that answers nothing compares nothing"
    assert [list(row) for row in found] == [list(row) for row in wanted]  # names, in order
    want = [tuple(_normal(v) for v in row.values()) for row in wanted]
    got = [tuple(_normal(v) for v in row.values()) for row in found]
    if not re.search(r"ORDER BY [^)]*$", sql):  # no order of the whole answer: as sets
        want, got = sorted(want, key=repr), sorted(got, key=repr)
    assert got == want


def test_what_postgresql_cannot_express_is_refused_by_name() -> None:
    with pytest.raises(StoreError, match="EXCLUDE"):
        to_postgres("SELECT a.* EXCLUDE (name) FROM asset a JOIN product p ON true")
    with pytest.raises(StoreError, match="cannot read"):
        to_postgres("SELECT FROM WHERE (")


def test_parameters_and_percent_signs_survive_the_translation() -> None:
    assert to_postgres("SELECT 'x?' AS q, ? AS p, $name AS n WHERE a LIKE '5%'") == (
        "SELECT 'x?' AS q, %s AS p, %(name)s AS n WHERE a LIKE '5%%'"
    )


def test_describe_and_show_answer_the_same_on_both_stores(stores: tuple[Store, Store]) -> None:
    duckdb_store, postgres_store = stores
    for sql in ("DESCRIBE asset", "SHOW TABLES"):
        assert postgres_store.query_rows(sql) == duckdb_store.query_rows(sql), sql
    with pytest.raises(StoreError, match="SUMMARIZE is DuckDB's own"):
        postgres_store.query("SUMMARIZE asset")
