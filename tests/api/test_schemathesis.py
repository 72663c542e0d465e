"""The REST API against its own OpenAPI spec: schemathesis generates requests for every operation.

Whatever a client sends that the spec allows (and, for the checks that need it, what it does not),
the API answers without a server error, and its answers match the documented schemas and content
types. Runs in-process (ASGI), with an admin token so every route gets past authentication, on a
seeded in-memory store, derandomized so a run is repeatable.

Besides the bodies the spec describes, about half of the bodies the fuzzing generates are hostile
(:func:`hostile_bodies`; schemathesis' other phases send bodies of their own): a valid body with
one field replaced by raw JSON text that is not strict JSON (``NaN``, ``Infinity``, ``1e999``, a
key twice, half a surrogate pair), a string larger than the body limit or than the field allows,
or an object nested too deep. After the run, every list route still answers 200: nothing the
fuzzing got stored breaks a later read. Every hostile value is also sent, in every field of every
operation's body, by :func:`test_every_hostile_value_in_every_body_is_refused`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from factorybrain.agents import Orchestrator
from factorybrain.api import RateLimits, TokenStore, create_app
from factorybrain.store import open_store
from tests.agents.test_orchestrator import T0, Logistics, Maintenance, Planning, _seed
from tests.api.conftest import _series

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _app() -> tuple[FastAPI, dict[str, str]]:
    """The API over a seeded in-memory store, and an admin's headers."""
    store = open_store(":memory:", migrate=True)
    _seed(store)
    _series(store)
    orchestrator = Orchestrator(store, [Maintenance(), Planning(), Logistics()], clock=lambda: T0)
    orchestrator.run(at=T0)  # findings, a recommendation and an action to read and decide on
    tokens = TokenStore(store)
    admin = {"Authorization": f"Bearer {tokens.create('fuzz', 'admin')}"}
    # No rate limits while fuzzing (they are tested on their own): every call reaches a route.
    unlimited = RateLimits({})
    return create_app(store, tokens=tokens, orchestrator=orchestrator, rate_limits=unlimited), admin


# schemathesis turns the spec into one test per operation at collection time, so the app is built
# when the module is imported (schemathesis' lazy, fixture-based loader does not run on pytest 9).
APP, ADMIN = _app()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


def _known_ids() -> dict[str, list[str]]:
    """Identifiers that exist in the seeded store, per path parameter name."""
    store, records = APP.state.store, APP.state.orchestrator.records
    entities = store.query_rows(
        "SELECT external_id FROM asset UNION ALL SELECT external_id FROM work_order "
        "UNION ALL SELECT external_id FROM time_series"
    )
    return {
        "external_id": sorted(row["external_id"] for row in entities),
        "finding_id": sorted(f.id for f in records.findings()),
        "recommendation_id": sorted(r.id for r in records.recommendations()),
        "action_id": sorted(a.id for a in records.actions()),
    }


KNOWN = _known_ids()


@schema.hook
def flatmap_path_parameters(
    context: schemathesis.HookContext, path_parameters: dict[str, object] | None
) -> st.SearchStrategy[dict[str, object] | None]:
    """Often an identifier that exists, so the fuzzing reaches past the 404s."""
    if not path_parameters:
        return st.just(path_parameters)
    return st.fixed_dictionaries(
        {
            name: st.sampled_from([value, *KNOWN.get(name, ())])
            for name, value in path_parameters.items()
        }
    )


#: Raw JSON text put in place of one field of a generated body; none is strict JSON (or fits the
#: body limit), so each is refused wherever it is.
NOT_STRICT = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e999",
    '{"quantity": NaN, "unit": "pcs"}',
    '{"lines": [{"quantity": -Infinity}]}',
    '{"quantity": 1, "quantity": 1000000}',
    '"\\ud800 half a pair"',
    json.dumps("x" * 2 * 1024 * 1024),  # over the body limit
    "[" * 50_000 + "]" * 50_000,  # deeper than the parser goes
    "9" * 5000,  # more digits than Python converts
]
#: JSON that is strict but beyond every field's bounds: refused in a field, ignored (never stored)
#: in a field the body does not have.
OUT_OF_BOUNDS = [
    json.dumps("x" * 100_000),
    '{"a":' * 40 + "1" + "}" * 40,
]
HOSTILE_VALUES = NOT_STRICT + OUT_OF_BOUNDS
#: The hostile value in each hostile body generated, by the body's hash.
HOSTILE_IN: dict[int, str] = {}
#: What the fuzzing sent and got: the hostile value of the body (None: none), the status.
ANSWERS: list[tuple[str | None, int]] = []


def hostile_bodies(body: object) -> st.SearchStrategy[bytes]:
    """``body`` (a generated one) with one field replaced by a hostile JSON text, as bytes."""
    fields = sorted(body) if isinstance(body, dict) and body else ["parameters"]
    base = body if isinstance(body, dict) else {}

    def poisoned(field: str, value: str) -> bytes:
        marker = "\u0000hostile\u0000"
        text = json.dumps({**base, field: marker})
        sent = text.replace(json.dumps(marker), value, 1).encode("utf-8", "surrogatepass")
        HOSTILE_IN[hash(sent)] = value
        return sent

    return st.builds(poisoned, st.sampled_from(fields), st.sampled_from(HOSTILE_VALUES))


@schema.hook
def before_generate_body(
    context: schemathesis.HookContext, strategy: st.SearchStrategy[Any]
) -> st.SearchStrategy[Any]:
    """Half of the bodies as the spec says, half hostile (sent as raw bytes, not re-encoded)."""
    return st.one_of(strategy, strategy.flatmap(hostile_bodies))


@pytest.fixture(scope="module", autouse=True)
def _close_store() -> Iterator[None]:
    yield
    APP.state.store.close()


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=10,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_without_server_errors(case: schemathesis.Case) -> None:
    response = case.call_and_validate(headers=ADMIN, checks=CHECKS)
    hostile = HOSTILE_IN.get(hash(case.body)) if isinstance(case.body, bytes) else None
    ANSWERS.append((hostile, response.status_code))


BODY_OPERATIONS = [
    (path, method)
    for path, operations in APP.openapi()["paths"].items()
    for method, operation in operations.items()
    # JSON bodies: an upload (multipart, ``POST /ingest``) holds no JSON to be hostile in
    if "application/json" in operation.get("requestBody", {}).get("content", {})
]


@pytest.mark.parametrize("value", HOSTILE_VALUES, ids=lambda value: value[:20])
def test_every_hostile_value_in_every_body_is_refused(value: str) -> None:
    """Each hostile value, in each field of each operation's body: a 4xx, never a 5xx."""
    client = TestClient(APP, raise_server_exceptions=False)
    for path, method in BODY_OPERATIONS:
        url = path
        for name, ids in KNOWN.items():
            url = url.replace(f"{{{name}}}", ids[0] if ids else "x")
        properties = APP.openapi()["paths"][path][method]["requestBody"]["content"]
        schema_ref = properties["application/json"]["schema"]
        fields = _fields(schema_ref) or ["parameters"]
        for field in fields:
            text = json.dumps({field: "\u0000hostile\u0000"})
            body = text.replace(json.dumps("\u0000hostile\u0000"), value, 1)
            response = client.request(
                method,
                url,
                content=body.encode("utf-8", "surrogatepass"),
                headers=ADMIN | {"Content-Type": "application/json"},
            )
            assert 400 <= response.status_code < 500, (path, field, response.text[:300])
            assert response.headers["content-type"] == "application/problem+json"


def _fields(schema_ref: dict[str, Any]) -> list[str]:
    """The properties of a body schema (through ``$ref`` and ``anyOf`` with null)."""
    components = APP.openapi()["components"]["schemas"]
    for option in schema_ref.get("anyOf", [schema_ref]):
        if "$ref" in option:
            return sorted(components[option["$ref"].rsplit("/", 1)[-1]].get("properties", {}))
    return []


def test_every_list_route_still_answers_after_the_fuzzing() -> None:
    """Whatever the runs above got stored, every route without a required parameter still reads."""
    client = TestClient(APP, raise_server_exceptions=False)
    gets = {path: ops["get"] for path, ops in APP.openapi()["paths"].items() if "get" in ops}
    lists = [
        path
        for path, operation in gets.items()
        if not any(parameter.get("required") for parameter in operation.get("parameters", []))
    ]
    assert {f"/api/v1/{name}" for name in ("findings", "recommendations", "actions", "audit")} <= (
        set(lists)
    )
    for path in lists:
        response = client.get(path, headers=ADMIN)
        assert response.status_code == 200, (path, response.text[:300])
    if ANSWERS:  # the fuzzing ran in this session: it sent hostile bodies, each refused
        refused = [(value[:20], status) for value, status in ANSWERS if value in NOT_STRICT]
        assert refused and all(status in (413, 422) for _, status in refused), refused
