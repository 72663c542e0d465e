from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from factorybrain.agents import EntityRef, Evidence, Finding, Orchestrator
from factorybrain.ask import LLMConfig, ask, route
from factorybrain.connectors import load_plant
from factorybrain.store import DuckDBStore, open_store

EXAMPLE = Path(__file__).resolve().parents[1] / "src/factorybrain/examples/small_plant/plant.yaml"
LLM = LLMConfig("http://llm.test/v1", "test-model")


@pytest.fixture(scope="module")
def plant() -> Iterator[tuple[DuckDBStore, str]]:
    with open_store(":memory:", migrate=True) as store:
        load_plant(store, EXAMPLE)
        finding, _ = Orchestrator(store).records.report_finding(
            Finding(
                agent="maintenance",
                kind="maintenance.rul_low",
                subject=EntityRef("asset", "PRS-03", "acme"),
                severity="high",
                confidence=0.85,
                evidence=Evidence(
                    numbers={"rul_hours": 60.0, "rul_lower_hours": 30.0},
                    text="Bearing temperature has risen 9 degC in two days.",
                ),
            ),
            at=datetime(2024, 3, 2, tzinfo=UTC),
        )
        yield store, finding.id


def test_router_answers_the_documented_question_types(plant: tuple) -> None:
    store, finding_id = plant
    status = route(store, "status of Press 3")
    assert status.tool == "asset_status" and "PRS-03" in status.answer
    assert {"type": "finding", "external_id": finding_id} in status.citations
    risky = route(store, "Which machines will fail this month?")
    assert risky.tool == "risks" and "PRS-03" in risky.answer
    assert risky.numbers["machines_at_risk"] == 1
    quiet = route(store, "which machines will fail today?")
    assert quiet.numbers["machines_at_risk"] == 0  # 30 h lower bound is beyond one day
    explained = route(store, f"explain finding {finding_id}")
    assert "Bearing temperature" in explained.answer and explained.numbers["rul_hours"] == 60
    what_if = route(store, "what if Press 3 goes down for 12 hours?")
    assert what_if.tool == "what_if_down" and what_if.numbers["hours"] == 12
    traced = route(store, "trace serial SN-100-000001")
    assert traced.tool == "trace"
    unknown = route(store, "sing me a song")
    assert unknown.tool == "out_of_scope" and unknown.answer.startswith("Out of scope")
    assert "status of Press 3" in unknown.answer  # and what can be asked instead


def _model(reply: dict | Exception) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path.endswith("/chat/completions")
        if isinstance(reply, Exception):
            raise reply
        return httpx.Response(200, json=reply)

    return httpx.MockTransport(handler)


def _tool_call(name: str, arguments: object) -> dict:
    return {
        "choices": [
            {
                "message": {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": "1",
                            "type": "function",
                            "function": {"name": name, "arguments": json.dumps(arguments)},
                        }
                    ],
                }
            }
        ]
    }


def test_a_language_model_chooses_the_tool(plant: tuple) -> None:
    store, _ = plant
    answer = ask(
        store,
        "how is the third press doing?",
        llm=LLM,
        transport=_model(_tool_call("asset_status", {"asset": "Press 3"})),
    )
    assert answer.tool == "asset_status" and answer.via == "language model test-model"
    assert "PRS-03" in answer.answer and not answer.note


@pytest.mark.parametrize(
    "reply",
    [
        _tool_call("drop_all_tables", {}),
        _tool_call("asset_status", {"machine": "Press 3"}),
        {"choices": [{"message": {"role": "assistant", "content": "Probably fine!"}}]},
        {"nonsense": True},
        httpx.ConnectError("connection refused"),
        httpx.ReadTimeout("too slow"),
    ],
)
def test_a_broken_model_falls_back_to_the_router_and_says_so(plant: tuple, reply: object) -> None:
    store, _ = plant
    answer = ask(store, "status of Press 3", llm=LLM, transport=_model(reply))  # type: ignore[arg-type]
    assert answer.via == "router" and answer.tool == "asset_status"
    assert "could not answer" in answer.note and "PRS-03" in answer.answer


def test_a_model_returning_an_http_error_falls_back(plant: tuple) -> None:
    store, _ = plant
    transport = httpx.MockTransport(lambda request: httpx.Response(503, json={}))
    answer = ask(store, "which machines will fail this week?", llm=LLM, transport=transport)
    assert answer.tool == "risks" and "503" in answer.note
