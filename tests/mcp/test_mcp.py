from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from factorybrain.agents import Orchestrator
from factorybrain.mcp import create_server
from mcp import Client
from tests._serving import serving
from tests.agents.test_orchestrator import T0, Logistics, Maintenance, Planning, _seed


@pytest.fixture
def server(store) -> Iterator[tuple[Any, Orchestrator]]:
    _seed(store)
    orchestrator = Orchestrator(store, [Maintenance(), Planning(), Logistics()], clock=lambda: T0)
    orchestrator.run()
    yield create_server(store, orchestrator=orchestrator), orchestrator


def _talk(target: Any, script) -> Any:
    async def main() -> Any:
        async with Client(target) as client:
            return await script(client)

    return anyio.run(main)


def test_tools_answer_read_queries(server) -> None:
    mcp_server, orchestrator = server

    async def script(client: Client) -> dict[str, Any]:
        names = {t.name for t in (await client.list_tools()).tools}
        status = await client.call_tool("plant_status", {})
        orders = await client.call_tool(
            "list_entities", {"entity_type": "work_order", "filters": {"external_id": "WO-1"}}
        )
        findings = await client.call_tool("list_findings", {"kind": "maintenance.rul_low"})
        inbox = await client.call_tool("list_actions", {"state": "proposed"})
        asked = await client.call_tool("asset_status", {"asset": "press-3"})
        return {
            "asked": asked.structured_content,
            "names": names,
            "status": status.structured_content,
            "orders": orders.structured_content,
            "findings": findings.structured_content,
            "inbox": inbox.structured_content,
        }

    answer = _talk(mcp_server, script)
    assert {"plant_status", "get_entity", "series_data", "propose_action"} <= answer["names"]
    assert {"ask", "risks", "trace", "what_if_down"} <= answer["names"]
    assert answer["status"]["actions_waiting_for_approval"] == 1
    assert answer["status"]["counts"]["work_order"] == 2
    assert [o["external_id"] for o in answer["orders"]["items"]] == ["WO-1"]
    rul = answer["findings"]["items"][0]
    assert rul["subject"] == {"type": "asset", "external_id": "press-3"}
    assert rul["evidence"]["numbers"] == {"rul_days": 9.0}
    assert "press-3" in answer["asked"]["answer"]
    steps = answer["inbox"]["items"][0]["recommendation"]["parameters"]["steps"]
    assert len(steps) == 3


def test_errors_come_back_as_tool_errors_naming_the_problem(server) -> None:
    mcp_server, _ = server

    async def script(client: Client) -> list[Any]:
        return [
            await client.call_tool("get_entity", {"entity_type": "asset", "external_id": "no"}),
            await client.call_tool("list_entities", {"entity_type": "finding"}),
            await client.call_tool("list_actions", {"state": "pending"}),
            await client.call_tool(
                "propose_action", {"action_type": "reactor.scram", "proposed_by": "bot"}
            ),
        ]

    results = _talk(mcp_server, script)
    assert all(r.is_error for r in results)
    texts = [r.content[0].text for r in results]
    assert "no asset with external_id 'no'" in texts[0]
    assert "unreadable entity type 'finding'" in texts[1]
    assert "state must be one of" in texts[2]
    assert "no executor" in texts[3]


def test_propose_action_records_a_proposal_and_never_executes(server, store) -> None:
    import getpass

    mcp_server, orchestrator = server
    arguments = {
        "action_type": "purchase_order.create",
        "parameters": {"space": "acme", "external_id": "PO-7", "material": "m", "quantity": 3},
        "title": "buy bearings",
    }

    async def script(client: Client) -> Any:
        return await client.call_tool("propose_action", arguments)

    result = _talk(mcp_server, script)
    assert not result.is_error
    action = orchestrator.records.action(result.structured_content["id"])
    assert (action.state, action.required_role) == ("proposed", "planner")
    assert store.counts()["purchase_order"] == 0
    log = orchestrator.records.audit_log(object_id=action.id)
    # Over stdio (in-process here) the proposer is the user who started the server.
    proposer = f"os:{getpass.getuser()}"
    assert [(e.verb, e.actor) for e in log] == [("action.proposed", proposer)]
    assert action.proposed_by == proposer


def test_resources_expose_assets_and_documents(server, store) -> None:
    import pyarrow as pa

    store.upsert_entities(
        "document",
        pa.table(
            {
                "space": ["acme"],
                "external_id": ["SOP-1"],
                "title": ["Bearing swap"],
                "content": ["1. Lock out. 2. Swap."],
            }
        ),
        "seed",
    )
    mcp_server, _ = server

    async def script(client: Client) -> list[Any]:
        asset = await client.read_resource("factorybrain://assets/press-3")
        document = await client.read_resource("factorybrain://documents/SOP-1")
        playbooks = await client.read_resource("factorybrain://playbooks")
        return [asset.contents[0].text, document.contents[0].text, playbooks.contents[0].text]

    asset, document, playbooks = _talk(mcp_server, script)
    assert json.loads(asset)["level"] == "equipment"
    assert document.startswith("# Bearing swap") and "Lock out" in document
    assert "maintenance.rul_low" in playbooks


def test_streamable_http_transport_behind_tokens(server) -> None:
    import httpx
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    from factorybrain.api import TokenStore
    from factorybrain.mcp import create_http_app

    mcp_server, orchestrator = server
    tokens = TokenStore(orchestrator.store)
    engineer, viewer = tokens.create("eng", "engineer"), tokens.create("view", "viewer")
    with serving(create_http_app(mcp_server, tokens), log_level="error") as base:
        url = f"{base}/mcp"
        assert httpx.post(url, json={}).status_code == 401
        refused = httpx.post(url, json={}, headers={"Authorization": f"Bearer {viewer}"})
        assert refused.status_code == 403 and "engineer" in refused.json()["detail"]

        async def main() -> Any:
            client = httpx2.AsyncClient(headers={"Authorization": f"Bearer {engineer}"})
            async with client, Client(streamable_http_client(url, http_client=client)) as mcp:
                return await mcp.call_tool("plant_status", {})

        result = anyio.run(main)
        assert result.structured_content["counts"]["asset"] == 1


def test_demand_forecasts_of_an_empty_store_have_no_as_of(store) -> None:
    async def script(client: Client) -> Any:
        return (await client.call_tool("demand_forecasts", {})).structured_content

    answer = _talk(create_server(store), script)
    assert answer["items"] == [] and answer["as_of"] is None


def test_the_plan_and_demand_forecasts_are_tools(store) -> None:
    from factorybrain.agents.planning import plan_orders, store_plan
    from tests.agents.test_logistics import PUMP_UNIT, populate
    from tests.agents.test_planning import NOW, ORDERS
    from tests.agents.test_planning import _seed as seed_planning

    seed_planning(store, ORDERS)
    store_plan(store, plan_orders(store, now=NOW, time_limit=2))
    populate(store)

    async def script(client: Client) -> tuple[Any, Any]:
        plan = await client.call_tool("plan", {"machine": "CUT-1"})
        spare = await client.call_tool("demand_forecasts", {"item": PUMP_UNIT})
        return plan.structured_content, spare.structured_content

    plan, spare = _talk(create_server(store), script)
    assert plan["operations"] and {op["machine"] for op in plan["operations"]} == {"CUT-1"}
    assert [item["item"] for item in spare["items"]] == [PUMP_UNIT]
    assert spare["items"][0]["item_type"] == "spare_part" and spare["items"][0]["forecast"]
