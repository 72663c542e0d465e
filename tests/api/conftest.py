from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from factorybrain.agents import Orchestrator
from factorybrain.api import TokenStore, create_app
from tests.agents.test_orchestrator import T0, Logistics, Maintenance, Planning, _seed

API = "/api/v1"


def _series(store) -> None:
    ids = store.ensure_series("acme", ["press-3.vibration"], "test")
    series_id = ids.column("series_id")[0].as_py()
    stamps = [T0 + timedelta(minutes=i) for i in range(120)]
    batch = pa.record_batch(
        {
            "series_id": pa.array([series_id] * 120, pa.int32()),
            "ts": pa.array(stamps, pa.timestamp("us")),
            "value": pa.array([float(i) for i in range(120)]),
        }
    )
    store.append_datapoints(iter([batch]))
    store.refresh_extents([series_id])


@pytest.fixture
def api(store) -> Iterator[tuple[TestClient, dict[str, dict[str, str]], Orchestrator]]:
    _seed(store)
    _series(store)
    tokens = TokenStore(store)
    headers = {
        role: {"Authorization": f"Bearer {tokens.create(role[:3] + 'user', role)}"}
        for role in ("viewer", "engineer", "planner", "admin")
    }
    orchestrator = Orchestrator(store, [Maintenance(), Planning(), Logistics()], clock=lambda: T0)
    with TestClient(create_app(store, tokens=tokens, orchestrator=orchestrator)) as client:
        yield client, headers, orchestrator
