"""A PostgreSQL restart: the server closes every connection, and nothing is lost or doubled.

Sessions are ended as a restart ends them (:mod:`tests._sessions`), without stopping a server
other tests share.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from factorybrain.api import TokenStore, create_app
from factorybrain.connectors import ingest
from factorybrain.exceptions import IngestError
from factorybrain.store import PostgresStore, ServerGone
from tests._sessions import sessions, terminate_sessions

HISTORIAN = """\
entity: datapoint
space: historian
fields:
  series: tag
  ts: time
  value: value
"""


def test_a_store_answers_again_once_the_server_is_back_and_keeps_its_lock(
    postgres_store: PostgresStore, postgres_url: str
) -> None:
    before = postgres_store.counts()
    assert postgres_store.try_lock("factorybrain.test")
    first = sessions(postgres_url)
    assert terminate_sessions(postgres_url) == first
    # A write that meets the closed connection fails, saying so: whether it was committed
    # cannot be known, so it is not run again.
    with pytest.raises(ServerGone, match="terminating connection"):
        with postgres_store.transaction():
            postgres_store.counts()
    # The next request connects anew.
    assert postgres_store.counts() == before
    # A read that meets a closed connection is asked again on a new one: once the server is
    # back, nobody reading sees the restart.
    reads = {
        "counts": postgres_store.counts,
        "entities": lambda: postgres_store.entities("asset").to_dict("records"),
        "query": lambda: postgres_store.query("SELECT count(*) AS n FROM asset")["n"].tolist(),
        "query_rows": lambda: postgres_store.query_rows("SELECT count(*) AS n FROM asset"),
    }
    for name, read in reads.items():
        expected = read()
        terminate_sessions(postgres_url)
        assert read() == expected, name
    assert sessions(postgres_url) and not set(sessions(postgres_url)) & set(first)
    # The advisory lock died with the old session and was taken again by the new one.
    other = PostgresStore(postgres_url)
    try:
        assert not other.try_lock("factorybrain.test")
    finally:
        other.close()


def test_a_store_says_the_database_is_gone_while_it_cannot_connect(
    postgres_store: PostgresStore, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    terminate_sessions(postgres_url)
    # While the server refuses connections (stopped, restarting), each request says so.
    monkeypatch.setattr(postgres_store, "url", "postgresql://nobody@127.0.0.1:9/none")
    with pytest.raises(ServerGone, match="does not answer.*tried again on the next request"):
        postgres_store.counts()
    monkeypatch.setattr(postgres_store, "url", postgres_url)
    assert postgres_store.counts()["datapoint"] == 0


def test_an_ingest_cut_by_a_restart_keeps_nothing_and_loads_whole_when_run_again(
    postgres_store: PostgresStore, postgres_url: str, tmp_path: Path
) -> None:
    n, tags = 400_000, 20
    start = datetime(2026, 1, 1)
    source = tmp_path / "history.parquet"
    pq.write_table(
        pa.table(
            {
                "tag": [f"FIC{i % tags:03d}.PV" for i in range(n)],
                "time": [start + timedelta(seconds=i // tags) for i in range(n)],
                "value": [float(i % 97) for i in range(n)],
            }
        ),
        source,
    )
    mapping = tmp_path / "historian.yaml"
    mapping.write_text(HISTORIAN)
    cut: list[int] = []
    done = threading.Event()

    def restart_during_the_copy() -> None:
        # Ends the ingest's session the moment it streams rows into the database.
        while not done.is_set() and not cut:
            cut.extend(
                terminate_sessions(postgres_url, "query ILIKE 'COPY%%' AND state = 'active'")
            )
            time.sleep(0.002)

    watcher = threading.Thread(target=restart_during_the_copy)
    watcher.start()
    try:
        with pytest.raises(IngestError) as failed:
            ingest(postgres_store, source, mapping)
    finally:
        done.set()
        watcher.join()
    assert cut, "the ingest finished before its COPY could be cut"
    assert "the database stopped answering" in str(failed.value)
    assert f"Nothing of {source} was loaded" in str(failed.value)
    # Nothing of the file is in the store, and the failed attempt is on record.
    assert postgres_store.counts()["datapoint"] == 0
    history = postgres_store.ingest_history()
    assert history["status"].str.startswith("failed: ").tolist() == [True]
    # Run again (the same process: its store connects anew): every point, once.
    report = ingest(postgres_store, source, mapping)
    assert (report.status, report.inserted) == ("ok", n)
    assert postgres_store.counts()["datapoint"] == n
    again = ingest(postgres_store, source, mapping)
    assert again.inserted == 0
    assert postgres_store.counts()["datapoint"] == n


def test_the_api_answers_503_while_the_database_is_gone_and_200_once_it_is_back(
    postgres_store: PostgresStore, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = TokenStore(postgres_store).create("ann", "viewer")
    headers = {"Authorization": f"Bearer {token}"}

    def refused(self: PostgresStore, *, again: bool = False) -> None:
        raise ServerGone(f"{self.path}: the database does not answer (connection refused)")

    with TestClient(create_app(postgres_store)) as client:
        assert client.get("/api/v1/counts", headers=headers).status_code == 200
        # A restart: every connection of the app closed, and the server not back yet.
        terminate_sessions(postgres_url)
        monkeypatch.setattr(PostgresStore, "_connect", refused)
        gone = client.get("/api/v1/counts", headers=headers)
        # the health check says so too, so a load balancer takes the worker out meanwhile
        health = client.get("/api/v1/health")
        # The server is back: the same app answers, no worker restarted.
        monkeypatch.undo()
        back = [client.get("/api/v1/counts", headers=headers) for _ in range(3)]
    assert gone.status_code == 503, gone.text
    assert gone.headers["Retry-After"] == "5"
    assert gone.json()["error"] == "DatabaseUnavailable"
    assert "postgres" not in gone.json()["detail"]  # the host and database stay in the log
    assert [a.status_code for a in back] == [200, 200, 200]
    assert health.status_code == 503, health.text
