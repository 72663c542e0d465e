"""The plan in force and the demand forecasts over HTTP, as a planner's tools read them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from factorybrain.agents.planning import plan_orders, store_plan
from factorybrain.api import TokenStore, create_app
from tests.agents.test_logistics import CASTING, PRODUCT, PUMP_UNIT, populate
from tests.agents.test_planning import NOW, ORDERS
from tests.agents.test_planning import _seed as seed_planning
from tests.api.conftest import API


@pytest.fixture
def client(store) -> Iterator[tuple[TestClient, dict[str, str]]]:
    tokens = TokenStore(store)
    viewer = {"Authorization": f"Bearer {tokens.create('ann', 'viewer')}"}
    with TestClient(create_app(store, tokens=tokens)) as opened:
        yield opened, viewer


def test_the_plan_is_empty_until_planned_then_lists_operations_orders_and_maintenance(
    store, client
) -> None:
    http, viewer = client
    seed_planning(store, ORDERS)
    empty = http.get(f"{API}/plan", headers=viewer)
    assert empty.status_code == 200
    assert empty.json() == {"operations": [], "orders": [], "maintenance": []}

    store_plan(store, plan_orders(store, now=NOW, time_limit=2))
    plan = http.get(f"{API}/plan", headers=viewer).json()
    starts = [op["start"] for op in plan["operations"]]
    assert starts == sorted(starts) and len(starts) >= len(ORDERS)
    assert {o["external_id"] for o in plan["orders"]} == {o["external_id"] for o in ORDERS}
    for order in plan["orders"]:
        assert order["planned_start"] < order["planned_end"]
        assert order["late_hours"] >= 0
    cutter = http.get(f"{API}/plan", params={"machine": "CUT-1"}, headers=viewer).json()
    assert cutter["operations"] and {op["machine"] for op in cutter["operations"]} == {"CUT-1"}


def test_the_plan_needs_a_token(client) -> None:
    http, _ = client
    assert http.get(f"{API}/plan").status_code == 401


def test_forecasts_give_every_item_its_weekly_quantiles_and_levels(store, client) -> None:
    http, viewer = client
    populate(store)
    answer = http.get(f"{API}/forecasts", headers=viewer)
    assert answer.status_code == 200
    body = answer.json()
    assert {item["item"] for item in body["items"]} >= {PUMP_UNIT, CASTING, PRODUCT}
    assert body["total"] == len(body["items"]) and body["as_of"]
    for item in body["items"]:
        assert item["forecast"], item["item"]
        for week in item["forecast"]:
            assert week["q0.1"] <= week["q0.5"] <= week["q0.9"]
            assert week["mean"] >= 0
        if item["reorder_point"] is not None:
            assert item["order_up_to"] >= item["reorder_point"]

    casting = http.get(f"{API}/forecasts", params={"item": CASTING}, headers=viewer).json()
    assert [i["item"] for i in casting["items"]] == [CASTING]
    short = http.get(f"{API}/forecasts", params={"item": CASTING.lstrip("0")}, headers=viewer)
    assert [i["item"] for i in short.json()["items"]] == [CASTING]
    spares = http.get(f"{API}/forecasts", params={"item_type": "spare_part"}, headers=viewer)
    assert {i["item_type"] for i in spares.json()["items"]} == {"spare_part"}
    paged = http.get(f"{API}/forecasts", params={"limit": 1, "offset": 1}, headers=viewer).json()
    assert len(paged["items"]) == 1 and paged["items"][0]["item"] == body["items"][1]["item"]


def test_forecasts_of_an_unknown_item_are_a_404_that_names_it(store, client) -> None:
    http, viewer = client
    populate(store)
    answer = http.get(f"{API}/forecasts", params={"item": "NO-SUCH-PART"}, headers=viewer)
    assert answer.status_code == 404
    assert "NO-SUCH-PART" in answer.json()["detail"]


def test_forecasts_of_an_empty_store_are_an_empty_page_with_the_reason(client) -> None:
    http, viewer = client
    body = http.get(f"{API}/forecasts", headers=viewer).json()
    assert body["items"] == [] and body["total"] == 0
    assert any("nothing to plan" in w for w in body["warnings"])
    assert body["as_of"] is None  # no data: no moment to date the plan by


def _counting_plans(monkeypatch) -> list[int]:
    """Count the demand plans computed (the cache's misses)."""
    from factorybrain.api import _queries

    computed: list[int] = []
    real = _queries._logistics_plan

    def counted(store, records):
        computed.append(1)
        return real(store, records)

    monkeypatch.setattr(_queries, "_logistics_plan", counted)
    return computed


def test_forecasts_are_planned_once_until_an_input_changes(store, client, monkeypatch) -> None:
    http, viewer = client
    populate(store)
    computed = _counting_plans(monkeypatch)
    first = http.get(f"{API}/forecasts", headers=viewer).json()
    again = http.get(f"{API}/forecasts", params={"item": CASTING}, headers=viewer).json()
    assert len(computed) == 1 and again["items"][0] == next(
        i for i in first["items"] if i["item"] == CASTING
    )
    # a new stock count of the casting changes its position: the plan is made again
    store.upsert_entities(
        "stock_level",
        pa.Table.from_pylist(
            [
                {
                    "space": "erp",
                    "external_id": "count-casting-new",
                    "material": CASTING,
                    "location": "1000",
                    "quantity": 10_000.0,
                    "as_of": datetime(2030, 1, 1),
                }
            ]
        ),
        "test",
    )
    after = http.get(f"{API}/forecasts", params={"item": CASTING}, headers=viewer).json()
    assert len(computed) == 2
    assert after["items"][0]["on_hand"] != again["items"][0]["on_hand"]


def test_a_server_that_prepares_has_the_plan_before_the_first_request(store, monkeypatch) -> None:
    populate(store)
    computed = _counting_plans(monkeypatch)
    tokens = TokenStore(store)
    viewer = {"Authorization": f"Bearer {tokens.create('ann', 'viewer')}"}
    with TestClient(create_app(store, tokens=tokens, prepare=True)) as http:
        deadline = time.monotonic() + 60
        while not http.get(f"{API}/health").json()["ready"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert computed == [1]  # ready: the plan is made
        assert http.get(f"{API}/forecasts", headers=viewer).json()["items"]
        assert computed == [1]  # and the first request found it


def test_a_server_that_does_not_prepare_is_ready_at_once(store, client) -> None:
    http, _ = client
    assert http.get(f"{API}/health").json()["ready"] is True


def _stock_count(store, quantity: float) -> None:
    row = {
        "space": "erp",
        "external_id": "count-casting-new",
        "material": CASTING,
        "location": "1000",
        "quantity": quantity,
        "as_of": datetime(2030, 1, 1),
    }
    store.upsert_entities("stock_level", pa.Table.from_pylist([row]), "test")


@pytest.mark.parametrize("counts_writes", [True, False])
def test_a_cached_plan_is_checked_without_a_query_while_the_store_counts_its_writes(
    store, monkeypatch, counts_writes: bool
) -> None:
    from factorybrain.api._queries import _PlanCache
    from factorybrain.store import DuckDBStore

    if not counts_writes:  # a store that cannot tell: the input tables are asked instead
        monkeypatch.setattr(DuckDBStore, "generation_of", lambda self, tables: None)
    populate(store)
    cache = _PlanCache()
    reader = store.reader()
    plan = cache.get(reader, lambda: {"made": 1})
    queries: list[str] = []
    real = DuckDBStore.query_rows

    def counted(self, sql, parameters=None):
        queries.append(sql)
        return real(self, sql, parameters)

    monkeypatch.setattr(DuckDBStore, "query_rows", counted)
    assert cache.get(reader, lambda: {"made": 2}) is plan
    assert cache.get(store, lambda: {"made": 3}) is plan  # the store and its readers alike
    assert bool(queries) is not counts_writes
    _stock_count(store, 10_000.0)
    assert cache.get(reader, lambda: {"made": 4}) == {"made": 4}
