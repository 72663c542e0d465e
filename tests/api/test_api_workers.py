"""Several API workers over one PostgreSQL store (``factorybrain serve --workers N``)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx
import psutil
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


def _spawned_workers(server: psutil.Process) -> list[psutil.Process]:
    """uvicorn's worker processes of ``server`` (not multiprocessing's resource tracker)."""
    return [
        child
        for child in server.children()
        if child.is_running()
        and child.status() != psutil.STATUS_ZOMBIE
        and "spawn_main" in " ".join(child.cmdline())
    ]


def _wait_for(condition, seconds: float = 90.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds:g} s: {condition.__doc__}")
        time.sleep(0.5)


@pytest.mark.slow
def test_killed_workers_are_replaced_and_one_of_them_runs_the_schedule_again(
    postgres_store: PostgresStore, postgres_url: str
) -> None:
    token = TokenStore(postgres_store).create("ann", "viewer")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "factorybrain", "serve", "--db", postgres_url]
    command += ["--workers", "2", "--port", str(port), "--schedule", "3600"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = psutil.Process(process.pid)

    def answers() -> bool:
        """the server answers its health check"""
        try:
            return httpx.get(f"{base}{API}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def schedule_held() -> bool:
        """a worker holds the schedule's lock"""
        other = PostgresStore(postgres_url)
        try:
            return not other.try_lock(SCHEDULE_LOCK)
        finally:
            other.close()

    try:
        _wait_for(answers)
        _wait_for(lambda: len(_spawned_workers(server)) == 2)
        _wait_for(schedule_held)
        killed = _spawned_workers(server)
        for worker in killed:  # the schedule's holder among them
            worker.kill()

        def replaced() -> bool:
            """two new workers serve"""
            alive = _spawned_workers(server)
            return len(alive) == 2 and not {w.pid for w in alive} & {w.pid for w in killed}

        _wait_for(replaced)
        _wait_for(answers)
        headers = {"Authorization": f"Bearer {token}"}
        statuses = [
            httpx.get(f"{base}{API}/assets", headers=headers, timeout=10).status_code
            for _ in range(20)
        ]
        assert statuses == [200] * 20
        _wait_for(schedule_held)  # the lock died with its holder; a new worker took it
    finally:
        process.terminate()
        process.wait(timeout=30)
