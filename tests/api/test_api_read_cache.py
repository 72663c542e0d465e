"""Reads answered from the cache until a table they read is written, never stale after."""

from __future__ import annotations

from datetime import timedelta

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from factorybrain.api import TokenStore, create_app
from factorybrain.api._cache import ReadCache, cache_bytes
from factorybrain.exceptions import ParameterError
from tests.agents.test_orchestrator import T0
from tests.api.conftest import API


def _cache(client: TestClient) -> ReadCache:
    cache: ReadCache = client.app.state.access.cache  # type: ignore[attr-defined]
    return cache


def test_a_repeated_read_is_answered_from_the_cache_with_the_same_body(api) -> None:
    client, headers, orchestrator = api
    orchestrator.run(at=T0)
    cache = _cache(client)
    paths = [
        f"{API}/findings?limit=5",
        f"{API}/actions?state=proposed",
        f"{API}/audit?limit=5",
        f"{API}/assets?limit=3",
        f"{API}/time-series/press-3.vibration/datapoints?every=10m",
    ]
    first = {p: client.get(p, headers=headers["viewer"]).content for p in paths}
    hits = cache.hits
    again = {p: client.get(p, headers=headers["viewer"]).content for p in paths}
    assert again == first
    assert cache.hits == hits + len(paths)
    metrics = client.get("/metrics", headers=headers["viewer"]).text
    assert f'factorybrain_read_cache_answers_total{{outcome="hit"}} {cache.hits}.0' in metrics


def test_a_decision_shows_in_the_next_read_of_the_inbox_findings_and_audit(api) -> None:
    client, headers, orchestrator = api
    orchestrator.run(at=T0)
    viewer = headers["viewer"]
    inbox = client.get(f"{API}/actions?state=proposed", headers=viewer).json()
    audit = client.get(f"{API}/audit?limit=50", headers=viewer).json()
    action = inbox["items"][0]["id"]
    decided = client.post(
        f"{API}/actions/{action}/reject", headers=headers["admin"], json={"comment": "not now"}
    )
    assert decided.status_code == 200, decided.text
    after = client.get(f"{API}/actions?state=proposed", headers=viewer).json()
    assert after["total"] == inbox["total"] - 1
    assert action not in {a["id"] for a in after["items"]}
    logged = client.get(f"{API}/audit?limit=50", headers=viewer).json()
    assert logged["total"] > audit["total"]
    assert ("action.rejected", action) in {(e["verb"], e["object_id"]) for e in logged["items"]}

    finding = client.get(f"{API}/findings?limit=1", headers=viewer).json()["items"][0]
    changed = client.post(
        f"{API}/findings/{finding['id']}/status",
        headers=headers["engineer"],
        json={"status": "acknowledged"},
    )
    assert changed.status_code == 200, changed.text
    listed = client.get(f"{API}/findings?limit=1", headers=viewer).json()["items"][0]
    assert (listed["id"], listed["status"]) == (finding["id"], "acknowledged")


def test_new_points_show_in_the_next_read_of_a_series_but_leave_other_answers_kept(
    api, store
) -> None:
    client, headers, orchestrator = api
    orchestrator.run(at=T0)
    viewer = headers["viewer"]
    series = f"{API}/time-series/press-3.vibration/datapoints?limit=1000"
    before = client.get(series, headers=viewer).json()
    findings = client.get(f"{API}/findings?limit=5", headers=viewer).content

    (series_id,) = store.ensure_series("acme", ["press-3.vibration"], "test").column("series_id")
    late = T0 + timedelta(minutes=120)
    store.append_datapoints(
        iter(
            [
                pa.record_batch(
                    {
                        "series_id": pa.array([series_id.as_py()], pa.int32()),
                        "ts": pa.array([late], pa.timestamp("us")),
                        "value": pa.array([999.0]),
                    }
                )
            ]
        )
    )
    store.refresh_extents([series_id.as_py()])
    after = client.get(series, headers=viewer).json()
    assert after["total"] == before["total"] + 1
    assert after["points"][-1]["value"] == 999.0
    hits = _cache(client).hits
    assert client.get(f"{API}/findings?limit=5", headers=viewer).content == findings
    assert _cache(client).hits == hits + 1  # points written: the findings' answer still holds


def test_a_cache_of_no_bytes_keeps_nothing_and_answers_the_same(store) -> None:
    tokens = TokenStore(store)
    viewer = {"Authorization": f"Bearer {tokens.create('ann', 'viewer')}"}
    with TestClient(create_app(store, tokens=tokens, read_cache_bytes=0)) as client:
        first = client.get(f"{API}/assets", headers=viewer)
        second = client.get(f"{API}/assets", headers=viewer)
        cache = _cache(client)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    assert (cache.hits, cache.kept_bytes) == (0, 0)


class _Counted:
    """A store stand-in whose write count the test sets (None: it keeps none)."""

    def __init__(self, generation: int | None) -> None:
        self.generation = generation

    def generation_of(self, tables: object) -> int | None:
        return self.generation


def test_least_recently_used_answers_go_first_once_the_bytes_are_spent() -> None:
    cache = ReadCache(max_bytes=25, max_entry_bytes=25)
    store = _Counted(1)
    for key in ("a", "b", "c"):
        cache.answer(store, key, ["t"], lambda key=key: key * 8)  # type: ignore[arg-type]
    assert cache.kept_bytes <= 25
    built: list[str] = []
    cache.answer(store, "c", ["t"], lambda: built.append("c") or "c" * 8)  # type: ignore[arg-type]
    cache.answer(store, "a", ["t"], lambda: built.append("a") or "a" * 8)  # type: ignore[arg-type]
    assert built == ["a"]  # "c" was kept, "a" (the oldest) had gone


def test_a_store_that_keeps_no_write_counts_is_never_cached() -> None:
    cache = ReadCache()
    built: list[int] = []
    for _ in range(2):
        cache.answer(_Counted(None), "k", ["t"], lambda: built.append(1) or 1)  # type: ignore[arg-type]
    assert built == [1, 1] and cache.kept_bytes == 0


def test_the_setting_must_be_a_number_of_bytes(monkeypatch) -> None:
    monkeypatch.setenv("FACTORYBRAIN_READ_CACHE_BYTES", "lots")
    with pytest.raises(ParameterError, match=r"\$FACTORYBRAIN_READ_CACHE_BYTES .*'lots'"):
        cache_bytes(None)
    monkeypatch.setenv("FACTORYBRAIN_READ_CACHE_BYTES", "0")
    assert cache_bytes(None) == 0
    with pytest.raises(ParameterError, match="read_cache_bytes"):
        cache_bytes(-1)
