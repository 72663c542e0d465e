"""One error shape everywhere, and list filters that say which parameter is wrong and why.

Every error, whoever raised it (a route, the router, validation, authentication, the body limit,
load shedding, a crash), is problem details (RFC 9457) with the same members; a list filter with
a value it cannot take is answered 422 naming the parameter, where it is, what it expected and
what it found; and the OpenAPI document says all of it.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, get_args

import httpx
import pytest
from fastapi.testclient import TestClient

from factorybrain.agents import ACTION_STATES, FINDING_STATUSES, AgentRecords
from factorybrain.api import create_app, list_entities
from factorybrain.api._routes import meta
from factorybrain.api._schemas import ActionState, FindingStatus
from factorybrain.exceptions import ParameterError
from tests.api.conftest import API

PROBLEM = {"type", "title", "status", "detail", "instance", "error"}


def _check(response: Any, status: int, path: str) -> dict[str, Any]:
    """The problem details of ``response``: every member there, the security headers sent."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-content-type-options"] == "nosniff"
    problem: dict[str, Any] = response.json()
    assert PROBLEM <= set(problem), problem
    assert problem["type"] == "about:blank" and problem["status"] == status
    assert problem["instance"] == path and problem["title"] and problem["detail"]
    return problem


@pytest.mark.parametrize(
    ("method", "path", "role", "body", "status", "error"),
    [
        ("GET", "/nowhere", None, None, 404, "HTTPException"),
        ("GET", f"{API}/assets/nope", "viewer", None, 404, "RecordNotFoundError"),
        ("DELETE", f"{API}/findings", "admin", None, 405, "HTTPException"),
        ("GET", f"{API}/findings", None, None, 401, "HTTPException"),
        ("POST", f"{API}/actions", "viewer", {"action_type": "notify"}, 403, "HTTPException"),
        ("GET", f"{API}/assets?level=cell", "viewer", None, 422, "RequestValidationError"),
        ("POST", f"{API}/actions", "engineer", {"title": "no type"}, 422, "RequestValidationError"),
        ("POST", f"{API}/actions", None, {"title": "x" * 2_000_000}, 413, "BodyTooLarge"),
    ],
)
def test_every_error_has_the_problem_shape(
    api, method: str, path: str, role: str | None, body: Any, status: int, error: str
) -> None:
    client, headers, _ = api
    response = client.request(method, path, json=body, headers=headers[role] if role else {})
    assert _check(response, status, path.split("?")[0])["error"] == error


def test_the_routers_404_and_405_say_what_they_mean(api) -> None:
    client, headers, _ = api
    missing = _check(client.get("/api/v2/findings"), 404, "/api/v2/findings")
    assert missing["detail"] == "nothing is served at this path"
    wrong = client.put(f"{API}/findings", headers=headers["admin"])
    assert _check(wrong, 405, f"{API}/findings")["detail"] == (
        "PUT is not allowed at this path; it allows GET"
    )


def test_a_crash_is_a_500_problem_without_its_message(api, monkeypatch) -> None:
    client, headers, _ = api

    def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("connect failed: postgresql://ann:s3cret@db/plant")

    monkeypatch.setattr(AgentRecords, "findings", broken)
    crashing = TestClient(client.app, raise_server_exceptions=False)
    response = crashing.get(f"{API}/findings", headers=headers["viewer"])
    problem = _check(response, 500, f"{API}/findings")
    assert problem["error"] == "InternalServerError"
    assert "s3cret" not in response.text and "Traceback" not in response.text


def test_load_shedding_answers_a_503_problem(store, monkeypatch) -> None:
    """With one request in flight and room for one, the next gets a 503 in the same shape."""
    app = create_app(store, max_in_flight=1)
    entered, release = threading.Event(), threading.Event()

    def slow_status(reader: Any) -> dict[str, Any]:
        entered.set()
        release.wait(10)
        return {}

    monkeypatch.setattr(meta, "plant_status", slow_status)
    token = app.state.tokens.create("ann", "viewer")
    headers = {"Authorization": f"Bearer {token}"}

    async def scenario() -> tuple[httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            busy = asyncio.create_task(client.get(f"{API}/status", headers=headers))
            while not entered.is_set():
                await asyncio.sleep(0.01)
            refused = await client.get(f"{API}/findings", headers=headers)
            release.set()
            return await busy, refused

    answered, refused = asyncio.run(scenario())
    assert answered.status_code == 200
    problem = _check(refused, 503, f"{API}/findings")
    assert problem["error"] == "Overloaded" and refused.headers["retry-after"] == "1"


@pytest.mark.parametrize(
    ("query", "where", "name", "expected", "found"),
    [
        ("assets?level=cell", "query", "level", "'enterprise', 'site', ", '"cell"'),
        ("work-orders?status=late", "query", "status", "'planned', 'released', ", '"late"'),
        ("work-orders?planned_start=soon", "query", "planned_start", "a valid datetime", '"soon"'),
        ("work-orders?due_at=1800-01-01T00:00:00", "query", "due_at", "between 1900-01-01", None),
        ("assets?ideal_cycle_seconds=fast", "query", "ideal_cycle_seconds", "a valid number", None),
        ("work-orders?colour=red", "query", "colour", "parameters the route documents", '"red"'),
        ("work-orders?limit=5000", "query", "limit", "less than or equal to 1000", '"5000"'),
        (
            "findings?status=done",
            "query",
            "status",
            "'open', 'acknowledged', 'resolved', 'superseded' or 'closed'",
            None,
        ),
        ("actions?state=pending", "query", "state", "'proposed', 'approved', ", '"pending"'),
        ("audit?offset=-1", "query", "offset", "greater than or equal to 0", '"-1"'),
        ("oee?by=week", "query", "by", "'machine', 'line' or 'shift'", '"week"'),
        ("time-series/press-3.vibration/datapoints?every=often", "query", "every", "15m", None),
        ("assets/" + "x" * 501, "path", "external_id", "at most 500 characters", None),
    ],
)
def test_an_invalid_filter_is_422_naming_the_parameter(
    api, query: str, where: str, name: str, expected: str, found: str | None
) -> None:
    client, headers, _ = api
    response = client.get(f"{API}/{query}", headers=headers["viewer"])
    problem = _check(response, 422, f"{API}/{query.split('?')[0]}")
    (failure,) = problem["errors"]
    assert (failure["in"], failure["name"], failure["loc"]) == (where, name, [where, name])
    assert expected in failure["expected"], failure
    if found is not None:
        assert failure["found"] == found
    assert f"{where}.{name}: " in problem["detail"]


def test_a_body_field_is_named_with_its_path_and_a_long_value_is_not_echoed(api) -> None:
    client, headers, _ = api
    body = {"action_type": "notify", "title": "x" * 201, "finding_ids": ["f" * 201]}
    response = client.post(f"{API}/actions", json=body, headers=headers["engineer"])
    problem = _check(response, 422, f"{API}/actions")
    failures = {failure["name"]: failure for failure in problem["errors"]}
    assert failures["title"]["in"] == "body"
    assert failures["title"]["expected"] == "at most 200 characters"
    assert failures["title"]["found"] == "a text of 201 characters"
    assert failures["finding_ids.0"]["loc"] == ["body", "finding_ids", 0]
    assert "x" * 41 not in response.text and "f" * 41 not in response.text


def test_a_secret_sent_as_a_filter_is_not_echoed(api) -> None:
    client, headers, _ = api
    token = "fb_" + "k" * 30
    response = client.get(f"{API}/actions?state={token}", headers=headers["viewer"])
    failure = _check(response, 422, f"{API}/actions")["errors"][0]
    assert token[3:] not in response.text and failure["found"] == '"fb_***"'


def test_typed_filters_compare_as_their_type(api) -> None:
    client, headers, _ = api

    def ids(query: str) -> list[str]:
        response = client.get(f"{API}/{query}", headers=headers["viewer"])
        assert response.status_code == 200, response.text
        return [item["external_id"] for item in response.json()["items"]]

    # The instant as the answer shows it, with a Z, or in another zone: the same order.
    planned = client.get(f"{API}/work-orders/WO-1", headers=headers["viewer"]).json()
    assert ids(f"work-orders?planned_start={planned['planned_start']}") == ["WO-1"]
    assert ids("work-orders?planned_start=2026-03-05T06:00:00Z") == ["WO-1"]
    assert ids("work-orders?planned_start=2026-03-05T07:00:00%2B01:00") == ["WO-1"]
    assert ids("work-orders?status=planned&planned_start=2026-03-05T06:00:01Z") == []
    assert ids("assets?level=equipment") == ["press-3"]


def test_the_query_functions_check_typed_filters_given_as_text(store) -> None:
    """MCP and ``ask`` filter with text: a value its field cannot hold is a ParameterError."""
    assert list_entities(store, "time_series", {"is_step": "true"})["total"] == 0
    for filters, says in [
        ({"is_step": "maybe"}, "true or false"),
        ({"series_id": "one"}, "an integer"),
        ({"ideal_cycle_seconds": "nan"}, "finite"),
        ({"installed_at": "soon"}, "ISO timestamp"),
    ]:
        entity = "time_series" if "is_step" in filters or "series_id" in filters else "asset"
        with pytest.raises(ParameterError, match=says):
            list_entities(store, entity, filters)


def test_the_dashboards_queries_still_answer(api) -> None:
    """The filters ``web/static/app.js`` sends, each accepted as it is."""
    client, headers, _ = api
    for query in [
        "assets?level=line&limit=500",
        "assets?level=equipment&limit=1000",
        "findings?status=open&limit=50",
        "time-series?asset=press-3&limit=50",
        "maintenance-orders?asset=press-3&limit=50",
        "findings?subject=press-3&limit=50",
        "actions?state=proposed&limit=50",
        "actions?limit=20",
        "work-orders?status=released&limit=1000",
        "maintenance-orders?status=planned&limit=1000",
        "stock-levels?limit=1000",
        "quality-results?serial_unit=SN-1&limit=50",
        "warranty-claims?serial_unit=SN-1&limit=50",
        "audit?limit=100",
        "time-series/press-3.vibration/datapoints?every=1h&limit=5000&start=1970-01-01T00:00:00",
        "assets/press-3?space=acme",
    ]:
        response = client.get(f"{API}/{query}", headers=headers["viewer"])
        assert response.status_code == 200, (query, response.text)


def test_the_filter_types_are_the_agents_own() -> None:
    assert get_args(FindingStatus) == FINDING_STATUSES
    assert get_args(ActionState) == ACTION_STATES


# -- the OpenAPI document -----------------------------------------------------------------------


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
    ]


def test_every_operation_documents_its_errors_as_problem_details(api) -> None:
    client, _, _ = api
    spec = client.get("/openapi.json").json()
    shared = spec["components"]["responses"]
    problem = {"$ref": "#/components/schemas/Problem"}
    issue = spec["components"]["schemas"]["ValidationIssue"]["properties"]
    assert {"in", "name", "expected", "found", "loc", "msg", "type"} <= set(issue)
    for path, method, operation in _operations(spec):
        codes = {code for code in operation["responses"] if code.startswith(("4", "5"))}
        assert {"401", "404", "413", "422", "500", "503"} <= codes, (path, method)
        for code in codes:
            answer = operation["responses"][code]
            answer = shared[answer["$ref"].rsplit("/", 1)[-1]] if "$ref" in answer else answer
            assert answer["content"] == {"application/problem+json": {"schema": problem}}, (
                path,
                method,
                code,
            )


def test_every_query_and_path_parameter_is_described(api) -> None:
    client, _, _ = api
    spec = client.get("/openapi.json").json()
    undescribed = [
        (path, parameter["name"])
        for path, _, operation in _operations(spec)
        for parameter in operation.get("parameters", [])
        if parameter["in"] in ("query", "path") and not parameter.get("description")
    ]
    assert not undescribed, undescribed


@pytest.mark.parametrize(
    ("path", "model", "fields"),
    [
        ("findings", "FindingOut", {"kind", "severity", "status"}),
        ("recommendations", "RecommendationOut", {"action_type", "content_hash"}),
        ("actions", "ActionOut", {"state", "recommendation_id"}),
        ("audit", "AuditOut", {"actor", "verb"}),
        ("assets", "AssetOut", {"level", "parent", "installed_at"}),
        ("work-orders", "WorkOrderOut", {"status", "planned_start", "due_at"}),
        ("time-series", "TimeSeriesOut", {"asset", "unit", "series_id"}),
        ("maintenance-orders", "MaintenanceOrderOut", {"asset", "status"}),
    ],
)
def test_list_answers_are_typed(api, path: str, model: str, fields: set[str]) -> None:
    client, headers, _ = api
    spec = client.get("/openapi.json").json()
    answer = spec["paths"][f"{API}/{path}"]["get"]["responses"]["200"]
    page_ref = answer["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    page = spec["components"]["schemas"][page_ref]
    assert page["properties"]["items"]["items"] == {"$ref": f"#/components/schemas/{model}"}
    assert fields <= set(spec["components"]["schemas"][model]["properties"])
    listed = client.get(f"{API}/{path}", headers=headers["viewer"])
    assert listed.status_code == 200 and set(listed.json()) >= {"items", "total", "next_offset"}
