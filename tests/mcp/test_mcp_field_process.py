"""The field and process queries as MCP tools: the same answers as the REST routes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from factorybrain.mcp import create_server
from factorybrain.store import DuckDBStore, open_store
from mcp import Client
from tests.agents.test_service import BAD_LOT
from tests.api.test_api_field_process import build_plant


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBStore]:
    store = open_store(tmp_path_factory.mktemp("mcp-field") / "plant.duckdb", migrate=True)
    build_plant(store)
    yield store
    store.close()


def test_the_field_and_process_tools_answer_from_the_agents_records(plant: DuckDBStore) -> None:
    server = create_server(plant)

    async def script(client: Client) -> dict[str, Any]:
        names = {t.name for t in (await client.list_tools()).tools}
        cohorts = await client.call_tool("field_cohorts", {"limit": 5})
        fit = await client.call_tool("field_reliability", {"product": "P1"})
        scope = await client.call_tool(
            "recall_scope", {"cluster": f"material_lot:{BAD_LOT}", "limit": 3}
        )
        proposals = await client.call_tool("process_proposals", {"line": "Line 2"})
        unknown = await client.call_tool("recall_scope", {"cluster": "fnd-nope"})
        return {
            "names": names,
            "cohorts": cohorts.structured_content,
            "fit": fit.structured_content,
            "scope": scope.structured_content,
            "proposals": proposals.structured_content,
            "unknown": unknown,
        }

    async def main() -> dict[str, Any]:
        async with Client(server) as client:
            return await script(client)

    answer = anyio.run(main)
    assert {"field_cohorts", "field_reliability", "recall_scope", "process_proposals"} <= (
        answer["names"]
    )
    assert answer["cohorts"]["items"][0]["subject"]["external_id"] == BAD_LOT
    assert answer["fit"]["b10_days"] > 0 and answer["fit"]["plot"]["points"]
    assert len(answer["scope"]["items"]) == 3 and answer["scope"]["next_offset"] == 3
    assert answer["proposals"]["items"][0]["product"] == "QX-9"
    assert answer["unknown"].is_error and "no field failure cluster" in str(answer["unknown"])
