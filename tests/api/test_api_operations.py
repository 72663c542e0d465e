"""What a plant's operations rely on: /metrics, /health, the store's status, uploads, backups."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from factorybrain.api import TokenStore, create_app
from factorybrain.store import open_store, read_manifest, restore_store

API = "/api/v1"
DATA = Path(__file__).parents[1] / "data"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, dict[str, str]], Path]]:
    path = tmp_path / "plant.duckdb"
    store = open_store(path, migrate=True)
    tokens = TokenStore(store)
    headers = {
        role: {"Authorization": f"Bearer {tokens.create(role + '-user', role)}"}
        for role in ("viewer", "engineer", "admin")
    }
    with TestClient(create_app(store, tokens=tokens)) as client:
        yield client, headers, path
    store.close()


def _sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample of the exposition, or None when absent."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        head, value = line.rsplit(" ", 1)
        found = dict(re.findall(r'(\w+)="([^"]*)"', head))
        if all(found.get(key) == wanted for key, wanted in labels.items()):
            return float(value)
    return None


def test_metrics_count_requests_per_route_template_and_status(served) -> None:
    client, headers, _path = served
    viewer = headers["viewer"]
    for _ in range(3):
        assert client.get(f"{API}/findings", headers=viewer).status_code == 200
    assert client.get(f"{API}/findings/no-such-finding", headers=viewer).status_code == 404
    assert client.get(f"{API}/findings").status_code == 401
    assert client.get("/no/such/path/12345").status_code == 404

    answer = client.get("/metrics", headers=viewer)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    text = answer.text
    count = "factorybrain_http_requests_total"
    route = f"{API}/findings"
    assert _sample(text, count, method="GET", route=route, status="200") == 3
    assert _sample(text, count, method="GET", route=route, status="401") == 1
    # The template, never the id in the path; a path no route has is "unmatched".
    assert _sample(text, count, route=f"{API}/findings/{{finding_id}}", status="404") == 1
    assert _sample(text, count, route="unmatched", status="404") == 1
    assert "/no/such/path" not in text
    histogram = "factorybrain_http_request_duration_seconds"
    assert _sample(f"{text}", f"{histogram}_count", route=route, status="200") == 3
    assert _sample(text, f"{histogram}_bucket", route=route, status="200", le="+Inf") == 3
    assert _sample(text, "factorybrain_http_requests_in_flight") == 1  # this scrape
    assert _sample(text, "factorybrain_store_size_bytes") > 0
    assert _sample(text, "factorybrain_queue_depth", queue="proposals_awaiting_approval") == 0
    assert _sample(text, "factorybrain_ingest_rows_total", outcome="inserted") == 0


def test_metrics_need_a_token_unless_the_setting_opens_them(tmp_path: Path) -> None:
    with open_store(tmp_path / "a.duckdb", migrate=True) as store:
        with TestClient(create_app(store)) as client:
            refused = client.get("/metrics")
            assert refused.status_code == 401
            assert "token" in refused.json()["detail"]
            wrong = {"Authorization": "Bearer nope"}
            assert client.get("/metrics", headers=wrong).status_code == 401
        with TestClient(create_app(store, metrics="open")) as client:
            assert "factorybrain_uptime_seconds" in client.get("/metrics").text
    from factorybrain.exceptions import ParameterError

    with pytest.raises(ParameterError, match="token or open"):
        create_app(":memory:", metrics="public")


def test_each_app_counts_only_its_own_requests(tmp_path: Path) -> None:
    with open_store(tmp_path / "a.duckdb", migrate=True) as store:
        first = TestClient(create_app(store, metrics="open"))
        second = TestClient(create_app(store, metrics="open"))
        with first, second:
            for _ in range(2):
                first.get(f"{API}/health")
            first_text = first.get("/metrics").text
            second_text = second.get("/metrics").text
    health = dict(method="GET", route=f"{API}/health", status="200")
    assert _sample(first_text, "factorybrain_http_requests_total", **health) == 2
    assert _sample(second_text, "factorybrain_http_requests_total", **health) is None


def test_health_says_store_version_readiness_and_uptime_without_a_token(served) -> None:
    from factorybrain import __version__

    client, _headers, path = served
    health = client.get(f"{API}/health").json()
    assert health["status"] == "ok" and health["ready"] is True
    assert health["version"] == __version__
    assert health["store"] == path.name  # the file's name, not where it is kept
    assert health["uptime_s"] >= 0


def test_an_uploaded_file_is_ingested_for_an_engineer_and_shows_in_the_store_and_metrics(
    served,
) -> None:
    client, headers, _path = served
    files = {
        "file": ("assets.csv", (DATA / "assets.csv").read_bytes()),
        "mapping": ("assets.yaml", (DATA / "assets.yaml").read_bytes()),
    }
    assert client.post(f"{API}/ingest", files=files, headers=headers["viewer"]).status_code == 403
    answer = client.post(f"{API}/ingest", files=files, headers=headers["engineer"])
    assert answer.status_code == 201, answer.text
    report = answer.json()
    assert report["entity_type"] == "asset" and report["status"] == "ok"
    assert report["inserted"] > 0 and report["actor"] == "user:engineer-user"
    assert report["source_file"].endswith("assets.csv")
    again = client.post(f"{API}/ingest", files=files, headers=headers["engineer"]).json()
    assert again["inserted"] == 0 and again["unchanged"] == report["inserted"]

    status = client.get(f"{API}/store", headers=headers["viewer"]).json()
    assert status["counts"]["asset"] == report["inserted"]
    assert [i["ingest_id"] for i in status["ingests"][:2]] == [
        again["ingest_id"],
        report["ingest_id"],
    ]
    text = client.get("/metrics", headers=headers["viewer"]).text
    inserted = _sample(text, "factorybrain_ingest_rows_total", outcome="inserted")
    unchanged = _sample(text, "factorybrain_ingest_rows_total", outcome="unchanged")
    assert (inserted, unchanged) == (report["inserted"], report["inserted"])

    bad = {"file": files["file"], "mapping": ("bad.yaml", b"entity: no_such_entity\n")}
    refused = client.post(f"{API}/ingest", files=bad, headers=headers["engineer"])
    assert refused.status_code == 400
    assert refused.json()["detail"].startswith("bad.yaml: ")  # no folder of the server


def test_an_admin_downloads_a_backup_that_restores_the_store(served, tmp_path: Path) -> None:
    client, headers, _path = served
    files = {
        "file": ("assets.csv", (DATA / "assets.csv").read_bytes()),
        "mapping": ("assets.yaml", (DATA / "assets.yaml").read_bytes()),
    }
    inserted = client.post(f"{API}/ingest", files=files, headers=headers["engineer"]).json()
    assert client.post(f"{API}/backup", headers=headers["engineer"]).status_code == 403
    answer = client.post(f"{API}/backup", headers=headers["admin"])
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/x-tar"
    backup = tmp_path / "downloaded.backup"
    backup.write_bytes(answer.content)
    assert read_manifest(backup).tables["asset"].rows == inserted["inserted"]
    restore_store(backup, tmp_path / "restored.duckdb")
    with open_store(tmp_path / "restored.duckdb", read_only=True) as restored:
        assert restored.counts()["asset"] == inserted["inserted"]
        verbs = restored.query("SELECT verb FROM audit_entry WHERE verb = 'data.ingested'")
    assert len(verbs) == 1
