"""Agents over history: each step sees only what was known then, and writes into a scenario."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from factorybrain.agents import (
    AgentRecords,
    BaseAgent,
    EntityRef,
    Evidence,
    Finding,
    Recommendation,
    register_agent,
    replay,
    scenario_space,
    unregister_agent,
)
from factorybrain.cli import app
from factorybrain.exceptions import ParameterError
from factorybrain.store import open_store

T0 = datetime(2026, 3, 2)


def _plant(store) -> None:
    """A day of one sensor that crosses 10 at 12:00; a press down 10:00-14:00; two orders."""
    minutes = 24 * 60
    ids = store.ensure_series("historian", ["P3 pressure"], "test").to_pydict()
    store.upsert_entities(
        "time_series",
        pa.table(
            {
                "space": ["historian"],
                "external_id": ["P3 pressure"],
                "series_id": ids["series_id"],
            }
        ),
        "test",
    )
    store.append_datapoints(
        iter(
            [
                pa.record_batch(
                    {
                        "series_id": pa.array(np.full(minutes, ids["series_id"][0]), pa.int32()),
                        "ts": pa.array(
                            np.datetime64(T0, "s") + np.arange(minutes) * 60, pa.timestamp("us")
                        ),
                        "value": pa.array(np.arange(minutes) / 72.0, pa.float64()),
                    }
                )
            ]
        )
    )
    store.upsert_entities(
        "event",
        pa.table(
            {
                "space": ["mes"] * 2,
                "external_id": ["down-1", "shift-1"],
                "event_type": ["downtime", "shift"],
                "asset": ["P3", "L1"],
                "start_time": pa.array(
                    [T0 + timedelta(hours=10), T0 + timedelta(hours=22)], pa.timestamp("us")
                ),
                "end_time": pa.array(
                    [T0 + timedelta(hours=14), T0 + timedelta(hours=30)], pa.timestamp("us")
                ),
            }
        ),
        "test",
    )
    store.upsert_entities(
        "work_order",
        pa.table(
            {
                "space": ["mes"] * 2,
                "external_id": ["WO-1", "WO-2"],
                "status": ["completed", "released"],
                "actual_start": pa.array([T0 + timedelta(hours=8), None], pa.timestamp("us")),
                "actual_end": pa.array([T0 + timedelta(hours=16), None], pa.timestamp("us")),
            }
        ),
        "test",
    )


class _Threshold(BaseAgent):
    """Raises a finding once the pressure it can see passed 10, dated at the first reading."""

    name = "threshold"

    def run(self, context):
        seen = context.store.query(
            "SELECT min(ts) FILTER (WHERE value > 10) AS over, max(ts) AS last FROM datapoint"
        )
        over = seen["over"].iloc[0]
        if over is not None and over == over:
            finding = Finding(
                self.name,
                "threshold.high",
                EntityRef("asset", "P3"),
                severity="high",
                evidence=Evidence(text="pressure above 10"),
                created_at=over.to_pydatetime(),
                title="P3 pressure above 10",
            )
            yield finding
            yield Recommendation(
                self.name,
                (finding.id,),
                "notify",
                parameters={"message": "P3 high"},
                requires_approval=False,  # notify auto-executes live; in a scenario never
                title="Tell the shift lead",
            )


@pytest.fixture
def threshold() -> Iterator[None]:
    register_agent("threshold", _Threshold)
    yield
    unregister_agent("threshold")


def test_a_past_moment_shows_only_what_was_known_then(either_store) -> None:
    store = either_store  # DuckDB shadows tables with views of the past, and so does PostgreSQL
    _plant(store)
    then = store.as_of(T0 + timedelta(hours=12))
    points = then.query("SELECT count(*) AS n, max(ts) AS last FROM datapoint")
    assert points["n"].iloc[0] == 12 * 60 + 1 and points["last"].iloc[0] == T0 + timedelta(hours=12)
    events = then.query("SELECT external_id, end_time FROM event ORDER BY 1").to_dict("records")
    # the downtime had begun and not ended; the shift is on the calendar, known ahead
    assert events[0]["external_id"] == "down-1" and pd.isna(events[0]["end_time"])
    assert events[1]["external_id"] == "shift-1" and pd.notna(events[1]["end_time"])
    orders = then.query("SELECT external_id, status, actual_end FROM work_order ORDER BY 1")
    assert list(orders["status"]) == ["in_progress", "released"]
    assert orders["actual_end"].isna().all()
    earlier = then.as_of(T0 + timedelta(hours=7))  # the same handle, moved
    assert earlier is then
    assert earlier.query("SELECT count(*) AS n FROM event")["n"].iloc[0] == 1
    assert list(earlier.query("SELECT status FROM work_order ORDER BY 1")["status"]) == [
        "released",
        "released",
    ]
    # the live store is untouched, and its tables still take writes
    assert store.query("SELECT count(*) AS n FROM datapoint")["n"].iloc[0] == 24 * 60
    then.close()


def test_replay_reports_when_a_finding_would_first_have_been_raised(
    either_store, threshold
) -> None:
    store = either_store
    _plant(store)
    report = replay(
        store,
        T0 + timedelta(hours=6),
        T0 + timedelta(hours=18),
        every=timedelta(hours=4),
        agents=["threshold"],
        scenario="march",
    )
    assert report.steps == 4  # 06:00, 10:00, 14:00, 18:00
    (first,) = report.findings
    assert first.kind == "threshold.high" and first.subject == "P3"
    assert first.data_at == T0 + timedelta(hours=12, minutes=1)  # as the data showed it
    assert first.raised_at == T0 + timedelta(hours=14)  # the first step that could see it
    # into the scenario, not the live records; nothing executes there, not even a notify
    assert AgentRecords(store).count_findings() == 0
    scenario = AgentRecords(store, space=scenario_space("march"))
    assert scenario.count_findings() == 1
    assert [a.state for a in scenario.actions(limit=None)] == ["proposed"]
    assert report.recommendations == 1


def test_a_scenario_is_replaced_only_when_asked(store, threshold) -> None:
    _plant(store)
    moment = T0 + timedelta(hours=20)
    replay(store, moment, moment, agents=["threshold"], scenario="again")
    with pytest.raises(ParameterError, match="scenario 'again' exists already"):
        replay(store, moment, moment, agents=["threshold"], scenario="again")
    report = replay(store, moment, moment, agents=["threshold"], scenario="again", replace=True)
    assert len(report.findings) == 1
    assert AgentRecords(store, space=scenario_space("again")).count_findings() == 1
    with pytest.raises(ParameterError, match="step must be positive"):
        replay(store, moment, moment, every=timedelta(0), agents=["threshold"])
    with pytest.raises(ParameterError, match="no agent named"):
        replay(store, moment, moment, agents=["nobody"], scenario="x")


def test_the_command_replays_and_runs_as_of_a_moment(tmp_path, threshold) -> None:
    path = tmp_path / "plant.duckdb"
    with open_store(path, migrate=True) as store:
        _plant(store)
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "agents",
            "replay",
            "--from",
            "2026-03-02T06:00",
            "--to",
            "2026-03-02T18:00",
            "--every",
            "4h",
            "--agent",
            "threshold",
            "--db",
            str(path),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["steps"] == 4 and report["findings"][0]["raised_at"] == "2026-03-02T14:00:00"
    result = runner.invoke(
        app,
        ["agents", "run", "threshold", "--as-of", "2026-03-02T11:00+00:00", "--db", str(path)],
    )
    assert result.exit_code == 0, result.output
    assert "over 1 step(s)" in result.output and "0 finding(s)" in result.output
    result = runner.invoke(
        app, ["agents", "replay", "--from", "yesterday", "--to", "2026-03-02", "--db", str(path)]
    )
    assert result.exit_code == 2 and "expected an ISO time" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(
        app,
        ["agents", "replay", "--from", "2026-03-02", "--to", "2026-03-03", "--every", "soon"],
    )
    assert result.exit_code == 2 and "expected a positive span" in result.output


def test_the_api_replays_for_those_who_may_run_agents(store, threshold) -> None:
    from fastapi.testclient import TestClient

    from factorybrain.agents import Orchestrator
    from factorybrain.api import TokenStore, create_app

    _plant(store)
    tokens = TokenStore(store)
    viewer = {"Authorization": f"Bearer {tokens.create('vi', 'viewer')}"}
    engineer = {"Authorization": f"Bearer {tokens.create('en', 'engineer')}"}
    conductor = Orchestrator(store, [_Threshold()])
    body = {
        "start": "2026-03-02T06:00:00Z",
        "end": "2026-03-02T18:00:00Z",
        "every_seconds": 14400,
        "agents": ["threshold"],
        "scenario": "over-http",
    }
    url = "/api/v1/agents/replay"
    with TestClient(create_app(store, tokens=tokens, orchestrator=conductor)) as client:
        assert client.post(url, headers=viewer, json=body).status_code == 403
        bad = client.post(url, headers=engineer, json={**body, "every_seconds": 0})
        assert bad.status_code == 422 and bad.json()["errors"][0]["name"] == "every_seconds"
        answer = client.post(url, headers=engineer, json=body)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["steps"] == 4 and report["space"] == "scenario:over-http"
    assert report["findings"][0]["raised_at"] == "2026-03-02T14:00:00"
    assert AgentRecords(store).count_findings() == 0  # the live inbox saw nothing
    (entry,) = AgentRecords(store).audit_log(verb="agents.replayed")
    assert (entry.actor, entry.object_id) == ("user:en", "over-http")


def test_planning_as_of_a_past_moment_plans_without_rewriting_today_s_orders(
    either_store,
) -> None:
    from factorybrain.agents import AgentContext
    from factorybrain.agents.planning import PlanningAgent
    from tests.agents.test_planning import NOW, ORDERS, _seed

    store = either_store
    rush = {"external_id": "WO-RUSH", "quantity": 300.0, "due_at": NOW + timedelta(hours=2)}
    _seed(store, [*ORDERS, rush])
    looking_back = store.as_of(NOW)
    try:
        context = AgentContext(looking_back, AgentRecords(looking_back))
        found = list(PlanningAgent(time_limit=2, workers=1, now=NOW).run(context))
    finally:
        looking_back.close()
    assert any(f.kind == "planning.due_date_risk" and "WO-RUSH" in f.title for f in found)
    planned = store.query("SELECT count(planned_start) AS n FROM work_order")["n"].iloc[0]
    assert planned == 0  # the live orders keep their dates: a replay only looks
