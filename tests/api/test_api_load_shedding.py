"""Beyond capacity the server refuses at once (503, Retry-After) instead of queueing for seconds."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from factorybrain.api import create_app
from factorybrain.api._middleware import InFlightLimit
from factorybrain.api._queries import Derived
from factorybrain.exceptions import ParameterError
from tests.api.conftest import API


def _slow_app(release: asyncio.Event, started: list[str]) -> Any:
    """An ASGI app that answers 200 only once ``release`` is set."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        started.append(scope["path"])
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


def test_requests_beyond_the_limit_get_503_with_retry_after_and_the_health_check_passes() -> None:
    async def scenario() -> tuple[list[int], httpx.Response, httpx.Response, InFlightLimit]:
        release, started = asyncio.Event(), []
        limit = InFlightLimit(_slow_app(release, started), 2, exempt_paths=["/health"])
        transport = httpx.ASGITransport(app=limit)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            waiting = [asyncio.create_task(client.get("/slow")) for _ in range(2)]
            while len(started) < 2:  # both are in flight
                await asyncio.sleep(0)
            refused = await client.get("/slow")
            health = asyncio.create_task(client.get("/health"))
            while len(started) < 3:  # the health check got through, beyond the limit
                await asyncio.sleep(0)
            release.set()
            answered = [response.status_code for response in await asyncio.gather(*waiting)]
            return answered, refused, await health, limit

    answered, refused, health, limit = asyncio.run(scenario())
    assert answered == [200, 200]
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "1"
    assert refused.json()["error"] == "Overloaded"
    assert health.status_code == 200
    assert (limit.in_flight, limit.shed) == (0, 1)  # every request that passed was let go


def test_the_limit_is_set_by_argument_or_environment_and_checked(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FACTORYBRAIN_MAX_IN_FLIGHT", "7")
    assert create_app(store).state.max_in_flight == 7
    assert create_app(store, max_in_flight=3).state.max_in_flight == 3
    monkeypatch.setenv("FACTORYBRAIN_MAX_IN_FLIGHT", "many")
    with pytest.raises(ParameterError, match="FACTORYBRAIN_MAX_IN_FLIGHT.*'many'"):
        create_app(store)
    with pytest.raises(ParameterError, match="max_in_flight must be a positive integer"):
        create_app(store, max_in_flight=0)


def test_a_kept_answer_is_computed_again_after_a_write_to_its_tables(store: Any) -> None:
    derived, calls = Derived(), []

    def count() -> int:
        calls.append(1)
        return int(store.query_rows("SELECT count(*) AS n FROM time_series")[0]["n"])

    first = derived.get(store, ("time_series",), ("n",), count)
    assert derived.get(store, ("time_series",), ("n",), count) == first
    assert len(calls) == 1  # answered from what was kept
    store.ensure_series("acme", ["press-9.temperature"], "test")
    assert derived.get(store, ("time_series",), ("n",), count) == first + 1
    assert len(calls) == 2


def test_a_series_created_after_a_miss_is_found_at_once(api: Any) -> None:
    client, headers, _ = api
    viewer = headers["viewer"]
    known, new = (f"{API}/time-series/{name}/datapoints" for name in ("press-3.vibration", "p9.t"))
    assert client.get(known, headers=viewer).status_code == 200
    assert client.get(new, headers=viewer).status_code == 404  # the miss is not kept
    client.app.state.store.ensure_series("acme", ["p9.t"], "test")
    assert client.get(new, headers=viewer).status_code == 200
