from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from factorybrain.api import create_app, parse_every
from factorybrain.exceptions import ParameterError
from factorybrain.store import Store
from tests.agents.test_orchestrator import T0
from tests.api.conftest import API


def test_health_needs_no_token_but_everything_else_does(api) -> None:
    client, headers, _ = api
    assert client.get(f"{API}/health").json()["status"] == "ok"
    missing = client.get(f"{API}/assets")
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert "missing token" in missing.json()["detail"]
    wrong = client.get(f"{API}/assets", headers={"Authorization": "Bearer fb_nope"})
    assert wrong.status_code == 401 and "invalid" in wrong.json()["detail"]
    assert client.get(f"{API}/assets", headers=headers["viewer"]).status_code == 200


def test_entity_lists_paginate_and_filter(api) -> None:
    client, headers, _ = api
    first = client.get(f"{API}/work-orders?limit=1", headers=headers["viewer"]).json()
    assert (first["total"], first["next_offset"], len(first["items"])) == (2, 1, 1)
    second = client.get(f"{API}/work-orders?limit=1&offset=1", headers=headers["viewer"]).json()
    assert second["next_offset"] is None
    assert {first["items"][0]["external_id"], second["items"][0]["external_id"]} == {
        "WO-1",
        "WO-2",
    }
    assert first["items"][0]["planned_start"].startswith("2026-03-05T")
    filtered = client.get(f"{API}/work-orders?external_id=WO-2", headers=headers["viewer"])
    assert [i["external_id"] for i in filtered.json()["items"]] == ["WO-2"]
    one = client.get(f"{API}/assets/press-3", headers=headers["viewer"]).json()
    assert one["level"] == "equipment"


@pytest.mark.parametrize(
    ("url", "status", "text"),
    [
        ("/assets/nope", 404, "no asset"),
        ("/work-orders?colour=red", 422, "query.colour: not a parameter of this route"),
        ("/work-orders?status=late", 422, "query.status: Input should be 'planned', "),
        ("/work-orders?planned_start=soon", 422, "query.planned_start: Input should be a valid"),
        ("/work-orders?limit=0", 422, None),
        ("/work-orders?limit=5000", 422, None),
        ("/actions?state=pending", 422, "query.state: Input should be 'proposed', "),
        ("/findings?status=done", 422, "query.status: Input should be 'open', "),
        ("/findings/fnd-nope", 404, "fnd-nope"),
        ("/actions/act-nope", 404, "act-nope"),
        ("/time-series/nope/datapoints", 404, "no time series"),
        ("/time-series/press-3.vibration/datapoints?every=fast", 422, "query.every: Input should"),
        (
            "/time-series/press-3.vibration/datapoints?start=2026-03-03&end=2026-03-02",
            422,
            "before end",
        ),
    ],
)
def test_bad_requests_get_clear_4xx(api, url: str, status: int, text: str | None) -> None:
    client, headers, _ = api
    response = client.get(API + url, headers=headers["viewer"])
    assert response.status_code == status, response.text
    if text:
        assert text in response.json()["detail"]


def test_time_series_raw_and_downsampled(api) -> None:
    client, headers, _ = api
    url = f"{API}/time-series/press-3.vibration/datapoints"
    raw = client.get(url, headers=headers["viewer"], params={"limit": 50}).json()
    assert raw["total"] == 120 and len(raw["points"]) == 50 and raw["next_offset"] == 50
    assert raw["points"][0]["value"] == 0.0
    window = {"start": "2026-03-02T08:00:00Z", "end": "2026-03-02T09:00:00Z", "every": "15m"}
    buckets = client.get(url, headers=headers["viewer"], params=window).json()["buckets"]
    assert [b["count"] for b in buckets] == [15, 15, 15, 15]
    assert buckets[0]["mean"] == pytest.approx(7.0)


def test_openapi_documents_every_route(api) -> None:
    client, _, _ = api
    spec = client.get("/openapi.json").json()
    assert f"{API}/actions/{{action_id}}/approve" in spec["paths"]
    assert f"{API}/lots" in spec["paths"] and f"{API}/serials/{{external_id}}" in spec["paths"]
    for path, operations in spec["paths"].items():
        for operation in operations.values():
            assert operation.get("description") or operation.get("summary"), path


def test_parse_every() -> None:
    assert parse_every("15m") == timedelta(minutes=15)
    assert parse_every("90") == timedelta(seconds=90)
    assert parse_every("1d") == timedelta(days=1)
    with pytest.raises(ParameterError):
        parse_every("0s")


def test_app_opens_and_closes_a_store_file(tmp_path) -> None:
    path = tmp_path / "plant.duckdb"
    app = create_app(path)
    with TestClient(app) as client:
        assert client.get(f"{API}/health").json()["schema_version"] >= 1
    assert path.exists()


ODD_VALUES = ["", "-1", "0", "x" * 300, "2026-13-45", "%00", "1e309", "null", "'; DROP TABLE asset"]


def test_no_route_answers_5xx_to_odd_input(api) -> None:
    """A small stand-in for schemathesis: every GET route with odd paths and query values."""
    client, headers, orchestrator = api
    orchestrator.run()
    spec = client.get("/openapi.json").json()
    checked = 0
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
            for value in ODD_VALUES[:4] if method != "get" else ODD_VALUES:
                url = path.replace("{", "").replace("}", "")
                for segment in ("external_id", "finding_id", "action_id", "recommendation_id"):
                    url = url.replace(segment, value or "x")
                response = client.request(
                    method.upper(),
                    url,
                    headers=headers["admin"],
                    params={name: value for name in names},
                    json={"comment": value, "status": value, "action_type": value},
                )
                assert response.status_code < 500, (method, url, value, response.text)
                checked += 1
    assert checked > 300
    assert client.get(f"{API}/assets", headers=headers["viewer"]).status_code == 200


def test_ids_with_slashes_work_in_paths(api, store) -> None:
    client, headers, _ = api
    store.upsert_entities(
        "asset",
        pa.table({"space": ["acme"], "external_id": ["line1/press-9"], "level": ["equipment"]}),
        "seed",
    )
    ids = store.ensure_series("acme", ["line1/press-9/temp"], "test")
    batch = pa.record_batch(
        {
            "series_id": pa.array([ids.column("series_id")[0].as_py()], pa.int32()),
            "ts": pa.array([T0], pa.timestamp("us")),
            "value": pa.array([3.5]),
        }
    )
    store.append_datapoints(iter([batch]))
    store.refresh_extents([ids.column("series_id")[0].as_py()])
    asset = client.get(f"{API}/assets/line1/press-9", headers=headers["viewer"])
    assert asset.status_code == 200 and asset.json()["external_id"] == "line1/press-9"
    data = client.get(f"{API}/time-series/line1/press-9/temp/datapoints", headers=headers["viewer"])
    assert data.status_code == 200 and data.json()["points"][0]["value"] == 3.5
    hourly = client.get(
        f"{API}/time-series/line1/press-9/temp/datapoints?every=1h", headers=headers["viewer"]
    ).json()
    assert hourly["buckets"][0]["bucket"] == "2026-03-02T08:00:00"  # aligned on the hour


def test_ask_trace_and_oee_routes_wrap_their_layers(api) -> None:
    client, headers, _ = api
    answer = client.post(
        f"{API}/ask", headers=headers["viewer"], json={"question": "what is the status of press-3?"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["answer"] and answer.json()["via"] == "router"
    assert (
        client.post(f"{API}/ask", headers=headers["viewer"], json={"question": ""}).status_code
        == 422
    )
    assert client.post(f"{API}/ask", json={"question": "hi"}).status_code == 401
    traced = client.get(f"{API}/trace/serial/SN-unknown", headers=headers["viewer"])
    assert traced.status_code == 200 and "answer" in traced.json()
    oee = client.get(f"{API}/oee?by=planet", headers=headers["viewer"])
    assert oee.status_code == 422
    no_mes = client.get(f"{API}/oee", headers=headers["viewer"])
    assert no_mes.status_code in (200, 422), no_mes.text


def test_reads_from_many_threads_at_once_each_get_their_answer(api) -> None:
    # Every worker thread reads through its own cursor: answers never mix or fail.
    client, headers, orchestrator = api
    orchestrator.run(at=T0)
    paths = [
        f"{API}/assets",
        f"{API}/work-orders?limit=1&offset=1",
        f"{API}/findings",
        f"{API}/actions?state=proposed",
        f"{API}/time-series/press-3.vibration/datapoints?every=10m",
        f"{API}/audit?limit=5",
    ]
    expected = {path: client.get(path, headers=headers["viewer"]).json() for path in paths}
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(
            pool.map(lambda p: (p, client.get(p, headers=headers["viewer"])), paths * 10)
        )
    assert all(r.status_code == 200 and r.json() == expected[p] for p, r in answers)


def test_a_write_is_seen_by_the_next_read(api) -> None:
    client, headers, orchestrator = api
    orchestrator.run(at=T0)
    inbox = client.get(f"{API}/actions?state=proposed", headers=headers["viewer"]).json()
    action = inbox["items"][0]["id"]
    client.get(f"{API}/actions/{action}", headers=headers["viewer"])  # a cursor in this thread
    decided = client.post(
        f"{API}/actions/{action}/reject", headers=headers["admin"], json={"comment": "not now"}
    )
    assert decided.status_code == 200, decided.text
    after = client.get(f"{API}/actions/{action}", headers=headers["viewer"]).json()
    assert after["state"] == "rejected"
    assert (
        client.get(f"{API}/actions?state=proposed", headers=headers["viewer"]).json()["total"]
        == inbox["total"] - 1
    )


@pytest.fixture
def store(either_store: Store) -> Store:
    """The API answers the same from either store: the embedded file and PostgreSQL."""
    return either_store
