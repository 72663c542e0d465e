"""Moving a whole store between DuckDB and PostgreSQL: every table, checked on both sides."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from factorybrain.cli import app
from factorybrain.exceptions import StoreError
from factorybrain.store import DuckDBStore, PostgresStore, move_store, table_checksum


def _plant(store: DuckDBStore) -> None:
    """A little of everything: entities with lists, edges with JSON, points over two months."""
    store.upsert_entities(
        "asset",
        pa.table(
            {
                "space": ["mes", "mes"],
                "external_id": ["LTH-01", 'WND "02"'],
                "tags": [["lathe", "{cell 1}"], None],
                "installed_at": [datetime(2021, 3, 4, 5, 6, 7, 891011), None],
            }
        ),
        "i1",
    )
    store.upsert_edges(
        pa.table(
            {
                "edge_type": ["consumed"],
                "source_space": ["mes"],
                "source_external_id": ["WO1"],
                "target_space": ["erp"],
                "target_external_id": ["LOT-7"],
                "quantity": [2.5],
                "properties": ['{"unit": "pcs", "note": "100% checked"}'],
            }
        ),
        "i1",
    )
    store.ensure_series("historian", ["T1", "T2"], "historian")
    start = datetime(2024, 1, 31, 12)
    store.append_datapoints(
        iter(
            [
                pa.record_batch(
                    {
                        "series_id": pa.array([1, 2] * 50, pa.int32()),
                        "ts": pa.array(
                            [start + timedelta(hours=i // 2) for i in range(100)],
                            pa.timestamp("us"),
                        ),
                        "value": pa.array([i / 3 for i in range(99)] + [float("nan")]),
                    }
                )
            ]
        )
    )
    store.refresh_extents([1, 2])
    store.record_ingest(
        {"ingest_id": "i1", "source_file": "a.csv", "status": "ok", "skipped_by_reason": {}}
    )


def test_a_store_moves_to_postgresql_and_back_unchanged(
    tmp_path: Path, postgres_store: PostgresStore
) -> None:
    source = DuckDBStore(tmp_path / "plant.duckdb")
    source.migrate()
    _plant(source)
    there = move_store(source, postgres_store)
    assert all(table.identical for table in there.tables)
    moved = {table.table: table.target_rows for table in there.tables}
    assert (moved["asset"], moved["edge"], moved["datapoint"], moved["time_series"]) == (
        2,
        1,
        100,
        2,
    )
    february = postgres_store.datapoints("T1", datetime(2024, 2, 1), datetime(2024, 2, 2))
    assert len(february) == 24  # one point an hour, in the partition of February
    back = DuckDBStore(tmp_path / "back.duckdb")
    back.migrate()
    move_store(postgres_store, back)
    for table in source.table_names():
        assert table_checksum(back, table) == table_checksum(source, table), table


def test_a_store_that_holds_rows_is_not_a_target(
    tmp_path: Path, postgres_store: PostgresStore
) -> None:
    source = DuckDBStore(tmp_path / "plant.duckdb")
    source.migrate()
    _plant(source)
    postgres_store.upsert_entities("asset", pa.table({"space": ["x"], "external_id": ["y"]}), "i")
    with pytest.raises(StoreError, match=r"not empty: asset \(1\)"):
        move_store(source, postgres_store)
    assert postgres_store.counts()["datapoint"] == 0


def test_the_migrate_command_reports_every_table_checked(tmp_path: Path, postgres_url: str) -> None:
    source = DuckDBStore(tmp_path / "plant.duckdb")
    source.migrate()
    _plant(source)
    source.close()
    runner = CliRunner()
    result = runner.invoke(
        app, ["migrate", "--from", str(tmp_path / "plant.duckdb"), "--to", postgres_url]
    )
    assert result.exit_code == 0, result.output
    assert "row count and checksum the same on both sides" in " ".join(result.output.split())
    again = runner.invoke(
        app, ["migrate", "--from", str(tmp_path / "plant.duckdb"), "--to", postgres_url]
    )
    assert again.exit_code == 1
    assert "not empty" in again.output


def test_a_postgresql_store_is_backed_up_and_restored_into_an_empty_database(
    tmp_path: Path, postgres_databases: Callable[[], str]
) -> None:
    source_url, target_url = postgres_databases(), postgres_databases()
    plant = DuckDBStore(tmp_path / "plant.duckdb")
    plant.migrate()
    _plant(plant)
    with PostgresStore(source_url) as source:
        source.migrate()
        move_store(plant, source)
    runner = CliRunner()
    backup = tmp_path / "plant.fbbackup"
    made = runner.invoke(app, ["backup", "--db", source_url, "--to", str(backup)])
    assert made.exit_code == 0, made.output
    restored = runner.invoke(app, ["restore", str(backup), "--db", target_url])
    assert restored.exit_code == 0, restored.output
    with PostgresStore(source_url) as source, PostgresStore(target_url) as target:
        for table in plant.table_names():
            assert table_checksum(target, table) == table_checksum(source, table), table
    again = runner.invoke(app, ["restore", str(backup), "--db", target_url])
    assert again.exit_code == 1 and "not empty" in again.output
