"""The API under attack: bodies that would poison the store, bodies too large, odd paths, a crash.

Each test is one attack a probe found: it is refused before anything is stored (or read), the
answer is problem details (RFC 9457) with a 4xx, and what was readable stays readable.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import socket
from collections.abc import Iterable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request

from factorybrain.agents import AgentRecords
from factorybrain.api import _strict_json as strict_json
from factorybrain.api import create_app
from factorybrain.exceptions import ParameterError
from factorybrain.web import mount_dashboard
from tests._serving import serving
from tests.api.conftest import API

JSON = {"Content-Type": "application/json"}
strict_loads = strict_json.loads
LIST_ROUTES = ["findings", "recommendations", "actions", "audit"]
MiB = 1024 * 1024
PROBLEM_KEYS = {"type", "title", "status", "detail", "instance", "error"}


def _problem(response: Any, status: int, error: str) -> dict[str, Any]:
    """The body of a problem-details answer, checked for its shape."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert PROBLEM_KEYS <= set(body), body
    assert (body["type"], body["status"], body["error"]) == ("about:blank", status, error)
    assert isinstance(body["detail"], str) and body["title"]
    return body


def _totals(client: TestClient, headers: dict[str, str]) -> dict[str, int]:
    """How many records each list route holds; every one must answer 200."""
    totals = {}
    for route in LIST_ROUTES:
        response = client.get(f"{API}/{route}", headers=headers)
        assert response.status_code == 200, (route, response.text)
        totals[route] = response.json()["total"]
    return totals


# -- strict JSON --------------------------------------------------------------------------------


def test_a_nan_quantity_is_refused_before_anything_is_stored(api) -> None:
    client, headers, _ = api
    before = _totals(client, headers["viewer"])
    attack = b'{"action_type": "notify", "parameters": {"quantity": NaN}, "title": "order NaN"}'
    response = client.post(f"{API}/actions", content=attack, headers=headers["engineer"] | JSON)
    body = _problem(response, 422, "RequestValidationError")
    assert body["detail"] == "body.parameters.quantity: NaN is not a number JSON allows"
    assert body["errors"] == [
        {
            "in": "body",
            "name": "parameters.quantity",
            "expected": "a finite number",
            "found": None,  # the message says what was found
            "loc": ["body", "parameters", "quantity"],
            "msg": "NaN is not a number JSON allows",
            "type": "json_not_finite",
        }
    ]
    assert _totals(client, headers["viewer"]) == before  # nothing stored, every list still reads


@pytest.mark.parametrize("number", ["Infinity", "-Infinity", "1e999", "-1E400"])
def test_an_infinite_quantity_is_refused(api, number: str) -> None:
    client, headers, _ = api
    before = _totals(client, headers["viewer"])
    attack = f'{{"action_type": "notify", "parameters": {{"lines": [{{"quantity": {number}}}]}}}}'
    response = client.post(f"{API}/actions", content=attack, headers=headers["engineer"] | JSON)
    body = _problem(response, 422, "RequestValidationError")
    assert body["detail"].startswith("body.parameters.lines.0.quantity: ")
    assert body["errors"][0]["type"] == "json_not_finite"
    assert _totals(client, headers["viewer"]) == before


def test_a_key_sent_twice_is_refused_not_silently_overwritten(api) -> None:
    client, headers, _ = api
    # A reviewer sees the first quantity in a log or proxy; Python's parser would keep the last.
    attack = b'{"action_type": "notify", "parameters": {"quantity": 1, "quantity": 1000000}}'
    response = client.post(f"{API}/actions", content=attack, headers=headers["engineer"] | JSON)
    body = _problem(response, 422, "RequestValidationError")
    assert body["errors"][0]["loc"] == ["body", "parameters", "quantity"]
    assert body["errors"][0]["type"] == "json_duplicate_key"


@pytest.mark.parametrize(
    ("attack", "where"),
    [
        (b'{"action_type": "notify", "title": "\\ud800"}', "body.title"),  # half a pair
        (b'{"action_type": "notify", "parameters": {"\\udfff": 1}}', "body.parameters.?"),
        (b'{"action_type": "notify", "parameters": ' + b"[" * 100_000 + b"]" * 100_000, "body"),
        (b'{"action_type": "notify", "parameters": {"n": 1' + b"0" * 5000 + b"}}", "body"),
        (b'{"action_type": "notify", "title": "caf\xe9"}', "body"),  # Latin-1, not UTF-8
        (b"NaN", "body"),
    ],
)
def test_json_no_encoder_can_write_back_is_refused(api, attack: bytes, where: str) -> None:
    client, headers, _ = api
    response = client.post(f"{API}/actions", content=attack, headers=headers["engineer"] | JSON)
    body = _problem(response, 422, "RequestValidationError")
    assert body["detail"].startswith(f"{where}: "), body["detail"]
    assert _totals(client, headers["viewer"])["actions"] == 0


def test_strict_json_holds_for_every_media_type_fastapi_reads_as_json(api) -> None:
    client, headers, _ = api
    attack = b'{"action_type": "notify", "parameters": {"quantity": NaN}}'
    for media_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        response = client.post(
            f"{API}/actions",
            content=attack,
            headers=headers["engineer"] | {"Content-Type": media_type},
        )
        _problem(response, 422, "RequestValidationError")
    # Not JSON at all: FastAPI does not read it as a body, and nothing is stored either.
    text = client.post(
        f"{API}/actions", content=attack, headers=headers["engineer"] | {"Content-Type": "text/x"}
    )
    assert text.status_code == 422
    assert _totals(client, headers["viewer"])["actions"] == 0


def test_fastapi_reads_the_strictly_parsed_body_and_parses_nothing_again(api, monkeypatch) -> None:
    client, headers, _ = api
    parsed: list[bytes | str] = []

    def counted(data: bytes | str, root: tuple[str | int, ...] = ("body",)) -> Any:
        parsed.append(data)
        return strict_loads(data, root)

    monkeypatch.setattr(strict_json, "loads", counted)
    monkeypatch.setattr(Request, "json", _never)  # Starlette's own parsing, which FastAPI calls
    body = b'{"action_type": "notify", "parameters": {"to": ["ann"]}, "title": "tell ann"}'
    response = client.post(f"{API}/actions", content=body, headers=headers["engineer"] | JSON)
    monkeypatch.undo()
    assert response.status_code == 201, response.text
    assert parsed == [body]


def _never(*_: Any, **__: Any) -> Any:
    raise AssertionError("the body was parsed again, leniently")


def test_an_empty_body_of_an_optional_one_is_still_no_body(api) -> None:
    client, headers, orchestrator = api
    orchestrator.run()
    action = client.get(f"{API}/actions", headers=headers["viewer"]).json()["items"][0]
    url = f"{API}/actions/{action['id']}/reject"
    response = client.post(url, content=b"", headers=headers["admin"] | JSON)
    assert response.status_code == 200, response.text


# -- bounds of the request models ---------------------------------------------------------------


def _deep(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(levels - 1):
        value = {"next": value}
    return value


@pytest.mark.parametrize(
    ("route", "body", "where"),
    [
        ("actions", {"action_type": "notify", "parameters": _deep(9)}, ["parameters"]),
        ("actions", {"action_type": "notify", "expected_effect": _deep(30)}, ["expected_effect"]),
        ("actions", {"action_type": "notify", "parameters": {"m": "x" * 70_000}}, ["parameters"]),
        ("actions", {"action_type": "notify", "parameters": {"n": 2**64}}, ["parameters"]),
        ("actions", {"action_type": "notify", "title": "x" * 201}, ["title"]),
        ("actions", {"action_type": "x" * 101}, ["action_type"]),
        ("actions", {"action_type": "notify", "finding_ids": ["f"] * 101}, ["finding_ids"]),
        ("actions", {"action_type": "notify", "finding_ids": ["f" * 201]}, ["finding_ids", 0]),
        ("agents/run", {"agents": ["a" * 201]}, ["agents", 0]),
        ("agents/run", {"agents": ["a"] * 51}, ["agents"]),
    ],
)
def test_bodies_beyond_the_bounds_of_their_schema_are_422(
    api, route: str, body: dict[str, Any], where: list[str | int]
) -> None:
    client, headers, _ = api
    response = client.post(f"{API}/{route}", json=body, headers=headers["admin"])
    problem = _problem(response, 422, "RequestValidationError")
    assert problem["errors"][0]["loc"] == ["body", *where]
    assert "input" not in problem["errors"][0]  # what was sent is never echoed back
    assert _totals(client, headers["viewer"])["actions"] == 0


def test_comments_and_statuses_are_bounded(api) -> None:
    client, headers, orchestrator = api
    orchestrator.run()
    finding = client.get(f"{API}/findings", headers=headers["viewer"]).json()["items"][0]
    action = client.get(f"{API}/actions", headers=headers["viewer"]).json()["items"][0]
    attacks = [
        (f"findings/{finding['id']}/status", {"status": "closed", "comment": "x" * 2001}),
        (f"findings/{finding['id']}/status", {"status": "x" * 51}),
        (f"actions/{action['id']}/reject", {"comment": "x" * 2001}),
        (f"actions/{action['id']}/approve", {"comment": "x" * 2001}),
        ("ask", {"question": "x" * 2001}),
    ]
    for route, body in attacks:
        response = client.post(f"{API}/{route}", json=body, headers=headers["admin"])
        if response.status_code == 404 and route == "ask":
            continue  # the ask layer is not installed
        _problem(response, 422, "RequestValidationError")
    audit = client.get(f"{API}/audit", headers=headers["viewer"]).json()
    assert not any(e["verb"].endswith(("rejected", "approved")) for e in audit["items"])


def test_a_proposal_at_the_bounds_is_accepted(api) -> None:
    client, headers, _ = api
    body = {
        "action_type": "notify",
        "parameters": {"message": "x" * 60_000, "deep": _deep(7), "big": 2**63 - 1, "f": 1e308},
        "title": "t" * 200,
    }
    response = client.post(f"{API}/actions", json=body, headers=headers["engineer"])
    assert response.status_code == 201, response.text
    assert _totals(client, headers["viewer"])["actions"] == 1


# -- the body limit -----------------------------------------------------------------------------


class _Body:
    """A request body sent chunk by chunk; counts the chunks the server asked for."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self.chunks = iter(chunks)
        self.consumed = 0

    async def receive(self) -> dict[str, Any]:
        chunk = next(self.chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        self.consumed += 1
        return {"type": "http.request", "body": chunk, "more_body": True}


def _asgi_post(app: Any, body: _Body, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """POST ``body`` to ``/api/v1/actions`` through the app's ASGI interface, as a server does."""
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": f"{API}/actions",
        "raw_path": f"{API}/actions".encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    asyncio.run(app(scope, body.receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], json.loads(content)


CHUNK = b" " * (64 * 1024)
FOUR_HUNDRED_MiB = 400 * MiB // len(CHUNK)  # chunks


def test_a_400_mib_body_without_a_token_is_refused_413_before_it_is_read(api) -> None:
    client, _, _ = api
    body = _Body(itertools.repeat(CHUNK, FOUR_HUNDRED_MiB))
    status, problem = _asgi_post(client.app, body, JSON | {"Content-Length": str(400 * MiB)})
    assert (status, problem["error"]) == (413, "BodyTooLarge")  # not 401: nothing was read
    assert body.consumed == 0
    assert "1048576 bytes" in problem["detail"]


def test_a_chunked_body_without_a_token_is_cut_off_at_the_limit(api) -> None:
    client, _, _ = api
    body = _Body(itertools.repeat(CHUNK, FOUR_HUNDRED_MiB))  # no Content-Length: chunked
    status, problem = _asgi_post(client.app, body, JSON | {"Transfer-Encoding": "chunked"})
    assert (status, problem["error"]) == (413, "BodyTooLarge")
    assert body.consumed == MiB // len(CHUNK) + 1  # the chunk that passed the limit, no more


def test_a_body_longer_than_its_content_length_says_is_cut_off_at_the_limit(api) -> None:
    client, headers, _ = api
    body = _Body(itertools.repeat(CHUNK, FOUR_HUNDRED_MiB))
    lying = JSON | headers["engineer"] | {"Content-Length": "100"}
    status, problem = _asgi_post(client.app, body, lying)
    assert (status, problem["error"]) == (413, "BodyTooLarge")
    assert body.consumed == MiB // len(CHUNK) + 1


def test_a_body_under_the_limit_without_a_token_gets_its_401(api) -> None:
    client, _, _ = api
    body = _Body([b'{"action_type": "notify"}'])
    status, problem = _asgi_post(client.app, body, JSON | {"Content-Length": "25"})
    assert (status, problem["error"]) == (401, "HTTPException")


def test_the_server_answers_413_to_a_content_length_it_will_not_read(api, store) -> None:
    """Over a real socket: only the headers are sent, and the 413 comes back at once."""
    client, _, _ = api
    app = create_app(store, tokens=client.app.state.tokens)
    with serving(app, log_level="error") as url:
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
            connection.sendall(
                f"POST {API}/actions HTTP/1.1\r\nHost: localhost\r\n"
                f"Content-Type: application/json\r\nContent-Length: {400 * MiB}\r\n\r\n".encode()
            )
            answer = b""
            while b"\r\n\r\n" not in answer and (received := connection.recv(65536)):
                answer += received
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert b"content-type: application/problem+json" in answer.lower()


def test_a_30_mb_notify_message_is_refused_and_the_audit_log_stays_small(api, store) -> None:
    client, headers, _ = api
    message = {"action_type": "notify", "parameters": {"to": ["ann"], "message": "x" * 30_000_000}}
    response = client.post(f"{API}/actions", json=message, headers=headers["engineer"])
    _problem(response, 413, "BodyTooLarge")
    # A server that accepts bodies that large still refuses it: parameters are 64 KiB at most.
    roomy = TestClient(create_app(store, tokens=client.app.state.tokens, max_body_bytes=64 * MiB))
    response = roomy.post(f"{API}/actions", json=message, headers=headers["engineer"])
    assert _problem(response, 422, "RequestValidationError")["errors"][0]["type"] == "json_bounds"
    audit = client.get(f"{API}/audit", headers=headers["viewer"])
    assert audit.status_code == 200 and len(audit.content) < 10_000


def test_the_limit_is_configurable_by_argument_and_environment(api, store, monkeypatch) -> None:
    client, headers, _ = api
    tokens = client.app.state.tokens
    body = {"action_type": "notify", "title": "x" * 150}
    small = TestClient(create_app(store, tokens=tokens, max_body_bytes=100))
    _problem(
        small.post(f"{API}/actions", json=body, headers=headers["engineer"]), 413, "BodyTooLarge"
    )
    monkeypatch.setenv("FACTORYBRAIN_MAX_BODY_BYTES", "120")
    assert create_app(store, tokens=tokens).state.max_body_bytes == 120
    monkeypatch.setenv("FACTORYBRAIN_MAX_BODY_BYTES", "lots")
    with pytest.raises(ParameterError, match="FACTORYBRAIN_MAX_BODY_BYTES"):
        create_app(store, tokens=tokens)
    with pytest.raises(ParameterError, match="positive"):
        create_app(store, tokens=tokens, max_body_bytes=0)


# -- one error body everywhere ------------------------------------------------------------------


def test_an_unknown_path_and_a_wrong_method_are_problem_details(api) -> None:
    client, headers, _ = api
    missing = _problem(client.get("/wp-admin/setup.php"), 404, "HTTPException")
    assert missing["instance"] == "/wp-admin/setup.php" and missing["title"] == "Not Found"
    wrong = client.delete(f"{API}/actions", headers=headers["admin"])
    assert _problem(wrong, 405, "HTTPException")["title"] == "Method Not Allowed"
    assert "GET" in wrong.headers["allow"]


def test_every_kind_of_error_has_the_same_shape(api) -> None:
    client, headers, _ = api
    unauthorized = _problem(client.get(f"{API}/actions"), 401, "HTTPException")
    assert "missing token" in unauthorized["detail"]
    assert client.get(f"{API}/actions").headers["www-authenticate"] == "Bearer"
    _problem(
        client.get(f"{API}/actions/act-nope", headers=headers["viewer"]), 404, "RecordNotFoundError"
    )
    _problem(
        client.get(f"{API}/actions?state=pending", headers=headers["viewer"]),
        422,
        "RequestValidationError",
    )
    _problem(
        client.post(f"{API}/findings/fnd-nope/status", json={"status": "closed"}),
        401,
        "HTTPException",
    )
    forbidden = client.post(
        f"{API}/actions", json={"action_type": "notify"}, headers=headers["viewer"]
    )
    _problem(forbidden, 403, "HTTPException")
    invalid = _problem(
        client.get(f"{API}/work-orders?limit=0", headers=headers["viewer"]),
        422,
        "RequestValidationError",
    )
    assert invalid["errors"] == [
        {
            "in": "query",
            "name": "limit",
            "expected": "greater than or equal to 1",
            "found": '"0"',
            "loc": ["query", "limit"],
            "msg": "Input should be greater than or equal to 1",
            "type": "greater_than_equal",
        }
    ]
    assert invalid["detail"] == "query.limit: Input should be greater than or equal to 1"


def test_an_unexpected_error_is_a_generic_500_and_is_logged(api, monkeypatch, caplog) -> None:
    client, headers, _ = api

    def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("duckdb: password=hunter2 in /srv/secret/plant.duckdb")

    monkeypatch.setattr(AgentRecords, "actions", broken)
    crashing = TestClient(client.app, raise_server_exceptions=False)
    with caplog.at_level(logging.ERROR, logger="factorybrain.api"):
        response = crashing.get(f"{API}/actions", headers=headers["viewer"])
    problem = _problem(response, 500, "InternalServerError")
    assert problem["instance"] == f"{API}/actions"
    assert "hunter2" not in response.text and "Traceback" not in response.text
    assert "RuntimeError" not in response.text
    assert response.headers["x-frame-options"] == "DENY"  # sent outside the middleware
    logged = "\n".join(record.getMessage() + str(record.exc_info) for record in caplog.records)
    assert "GET /api/v1/actions" in logged and "hunter2" in logged


def test_the_openapi_document_describes_the_error_body(api) -> None:
    client, _, _ = api
    spec = client.get("/openapi.json").json()
    problem = spec["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "instance", "error", "errors"} <= set(
        problem["properties"]
    )
    responses = spec["components"]["responses"]
    for name in ("NotFound", "ContentTooLarge", "UnprocessableContent", "InternalServerError"):
        assert responses[name]["content"]["application/problem+json"]["schema"] == {
            "$ref": "#/components/schemas/Problem"
        }
    operation = spec["paths"][f"{API}/actions"]["post"]["responses"]
    assert operation["413"]["$ref"] == "#/components/responses/ContentTooLarge"
    assert operation["422"]["$ref"] == "#/components/responses/UnprocessableContent"


# -- security headers ---------------------------------------------------------------------------

STRICT = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)


def _secured(response: Any, policy: str = STRICT) -> None:
    assert response.headers["content-security-policy"] == policy, response.url
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


def test_every_answer_carries_the_security_headers(api) -> None:
    client, headers, _ = api
    mount_dashboard(client.app)
    for response in (
        client.get(f"{API}/health"),
        client.get(f"{API}/actions", headers=headers["viewer"]),
        client.get(f"{API}/actions"),
        client.get("/nope"),
        client.get("/openapi.json"),
        client.post(f"{API}/actions", content=b"NaN", headers=headers["engineer"] | JSON),
        client.post(f"{API}/actions", content=b" " * (2 * MiB), headers=JSON),
        client.get("/"),
        client.get("/static/app.js"),
        client.get("/static/style.css"),
    ):
        _secured(response)
    assert "text/html" in client.get("/").headers["content-type"]


def test_the_api_docs_get_a_policy_that_lets_them_load_their_own_scripts_only(api) -> None:
    client, _, _ = api
    for path in ("/docs", "/redoc"):
        response = client.get(path)
        assert response.status_code == 200
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "https:" not in policy and "'unsafe-inline'" not in policy.split("style-src")[0]
        assert response.headers["x-frame-options"] == "DENY"
    assert client.get("/docs/oauth2-redirect").status_code == 404  # bearer tokens: no OAuth2
