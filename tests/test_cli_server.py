"""The CLI beside a running server: the lock named in words, and --api through the server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from factorybrain.cli import app
from factorybrain.store import holder_path, open_store, read_holder
from tests._serving import serving

DATA = Path(__file__).parent / "data"

#: A second process that holds the store as a server does: the lock, and the record next to it.
HOLDER = """
import sys, time
from pathlib import Path
from factorybrain.store import holding, open_store
store = open_store(sys.argv[1])
with holding(sys.argv[1], sys.argv[2]):
    Path(sys.argv[3]).write_text("ready")
    time.sleep(120)
"""


def _one_line(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def held(tmp_path: Path) -> Iterator[tuple[Path, int, str]]:
    path = tmp_path / "plant.duckdb"
    open_store(path, migrate=True).close()
    ready = tmp_path / "ready"
    url = "http://127.0.0.1:8765"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), url, str(ready)])
    try:
        for _ in range(300):
            if ready.exists() or holder.poll() is not None:
                break
            time.sleep(0.05)
        assert ready.exists(), "the holding process did not start"
        yield path, holder.pid, url
    finally:
        holder.terminate()
        holder.wait(timeout=30)


def test_a_command_on_a_held_store_names_the_process_and_the_url_to_use(held) -> None:
    path, pid, url = held
    answer = CliRunner().invoke(app, ["status", "--db", str(path)])
    assert answer.exit_code == 1
    said = _one_line(answer.output)
    assert "Conflicting lock" not in said
    assert f"PID {pid}" in said and "python" in said  # which process, by its command
    assert f"serves the REST API at {url}" in said
    assert f"--api {url}" in said and "FACTORYBRAIN_TOKEN" in said

    # A command without --api says it cannot go through the server, and what to do.
    answer = CliRunner().invoke(app, ["query", "SELECT 1", "--db", str(path)])
    assert answer.exit_code == 1
    said = _one_line(answer.output)
    assert "'factorybrain query' cannot go through a server" in said
    assert f"stop the server at {url} first" in said


def test_restore_never_replaces_a_store_a_process_holds(held, tmp_path: Path) -> None:
    path, pid, _url = held
    other = tmp_path / "other.duckdb"
    open_store(other, migrate=True).close()
    backup = tmp_path / "other.backup"
    assert (
        CliRunner().invoke(app, ["backup", "--db", str(other), "--to", str(backup)]).exit_code == 0
    )
    answer = CliRunner().invoke(app, ["restore", str(backup), "--db", str(path), "--force"])
    assert answer.exit_code == 1
    said = _one_line(answer.output)
    assert f"PID {pid}" in said and "stop that process first" in said
    assert "--api" not in said  # a restore cannot go through the server


def test_the_record_of_a_server_that_died_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "plant.duckdb"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    record = {
        "pid": int(dead.stdout),
        "host": socket.gethostname(),
        "url": "http://127.0.0.1:1",
        "command": "factorybrain serve",
        "started_at": "2025-01-01T00:00:00+00:00",
        "store": str(path),
    }
    holder_path(path).write_text(json.dumps(record), encoding="utf-8")
    assert read_holder(path) is None
    record["pid"] = os.getpid()
    holder_path(path).write_text(json.dumps(record), encoding="utf-8")
    assert read_holder(path) is not None and read_holder(path).url == "http://127.0.0.1:1"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str], Path]]:
    """A real server over a store, on a free loopback port, in a thread of this process."""
    from factorybrain.api import TokenStore, create_app

    path = tmp_path / "served.duckdb"
    store = open_store(path, migrate=True)
    tokens = TokenStore(store)
    issued = {role: tokens.create(f"{role}-user", role) for role in ("viewer", "engineer", "admin")}
    try:
        with serving(create_app(store, tokens=tokens)) as url:
            yield url, issued, path
    finally:
        store.close()


def test_commands_go_through_the_server_with_api(server, tmp_path: Path) -> None:
    url, tokens, _path = server
    runner = CliRunner()
    base = ["--api", url]

    answer = runner.invoke(
        app,
        ["ingest", str(DATA / "assets.csv"), "-m", str(DATA / "assets.yaml"), "--json", *base],
        env={"FACTORYBRAIN_TOKEN": tokens["engineer"]},
    )
    assert answer.exit_code == 0, answer.output
    (report,) = json.loads(answer.output)
    assert report["entity_type"] == "asset" and report["inserted"] > 0

    answer = runner.invoke(app, ["status", "--json", *base, "--token", tokens["viewer"]])
    assert answer.exit_code == 0, answer.output
    status = json.loads(answer.output)
    assert status["counts"]["asset"] == report["inserted"]
    assert status["ingests"][0]["ingest_id"] == report["ingest_id"]
    table = runner.invoke(app, ["status", *base, "--token", tokens["viewer"]])
    assert table.exit_code == 0 and "asset" in table.output and "assets.csv" in table.output

    answer = runner.invoke(app, ["findings", "--json", *base, "--token", tokens["viewer"]])
    assert answer.exit_code == 0 and json.loads(answer.output) == []

    # A viewer may not load data; the server's refusal is said in one line.
    answer = runner.invoke(
        app,
        ["ingest", str(DATA / "assets.csv"), "-m", str(DATA / "assets.yaml"), *base],
        env={"FACTORYBRAIN_TOKEN": tokens["viewer"]},
    )
    assert answer.exit_code == 1 and "answered 403" in _one_line(answer.output)

    backup = tmp_path / "through-the-server.backup"
    answer = runner.invoke(app, ["backup", "--to", str(backup), *base, "--token", tokens["admin"]])
    assert answer.exit_code == 0, answer.output
    restored = tmp_path / "restored.duckdb"
    answer = runner.invoke(app, ["restore", str(backup), "--db", str(restored)])
    assert answer.exit_code == 0, answer.output
    with open_store(restored, read_only=True) as copy:
        assert copy.counts()["asset"] == report["inserted"]
    answer = runner.invoke(app, ["restore", str(backup), "--db", str(restored)])
    assert answer.exit_code == 1 and "--force" in _one_line(answer.output)


def test_api_without_a_token_or_a_server_says_what_is_missing(server) -> None:
    url, _tokens, _path = server
    runner = CliRunner()
    answer = runner.invoke(app, ["status", "--api", url], env={"FACTORYBRAIN_TOKEN": ""})
    assert answer.exit_code == 1 and "needs an API token" in _one_line(answer.output)
    answer = runner.invoke(app, ["status", "--api", url, "--token", "wrong"])
    assert answer.exit_code == 1 and "answered 401" in _one_line(answer.output)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    answer = runner.invoke(app, ["status", "--api", f"http://127.0.0.1:{closed}", "--token", "x"])
    assert answer.exit_code == 1 and "cannot reach the factorybrain server" in _one_line(
        answer.output
    )
