"""The REST API against its own OpenAPI spec: schemathesis generates requests for every operation.

Whatever a client sends that the spec allows (and, for the checks that need it, what it does not),
the API answers without a server error, and its answers match the documented schemas and content
types. Runs in-process (ASGI), with an admin token so every route gets past authentication, on a
seeded in-memory store, derandomized so a run is repeatable.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from factorybrain.agents import Orchestrator
from factorybrain.api import TokenStore, create_app
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
    tokens = TokenStore()
    admin = {"Authorization": f"Bearer {tokens.create('fuzz', 'admin')}"}
    return create_app(store, tokens=tokens, orchestrator=orchestrator), admin


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
        "identifier": ["press-3", "WO-1"],
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
    case.call_and_validate(headers=ADMIN, checks=CHECKS)
