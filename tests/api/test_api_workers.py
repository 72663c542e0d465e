"""Several API workers over one PostgreSQL store (``factorybrain serve --workers N``)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from factorybrain.api import TokenStore
from factorybrain.cli import app
from factorybrain.cli._workers import SCHEDULE_ENV, SCHEDULE_LOCK, create_worker_app
from factorybrain.exceptions import StoreError
from factorybrain.store import PostgresStore

API = "/api/v1"


def test_each_worker_serves_the_store_and_one_runs_the_schedule(
    postgres_store: PostgresStore, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = TokenStore(postgres_store).create("ann", "viewer")
    monkeypatch.setenv("FACTORYBRAIN_DB", postgres_url)
    monkeypatch.setenv(SCHEDULE_ENV, "60")
    first, second = create_worker_app(), create_worker_app()
    with TestClient(first) as one, TestClient(second) as two:
        for client in (one, two):
            answer = client.get(f"{API}/assets", headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 200, answer.text
        # The first worker holds the schedule's lock: no other process can take it meanwhile.
        other = PostgresStore(postgres_url)
        try:
            assert not other.try_lock(SCHEDULE_LOCK)
        finally:
            other.close()


def test_a_worker_needs_a_postgresql_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACTORYBRAIN_DB", "plant.duckdb")
    with pytest.raises(StoreError, match="PostgreSQL"):
        create_worker_app()


def test_several_workers_over_a_duckdb_file_are_refused(tmp_path) -> None:
    db = tmp_path / "plant.duckdb"
    runner = CliRunner()
    assert runner.invoke(app, ["init", "--db", str(db)]).exit_code == 0
    result = runner.invoke(app, ["serve", "--db", str(db), "--workers", "2"])
    assert result.exit_code == 1
    assert "needs a PostgreSQL store" in " ".join(result.output.split())
