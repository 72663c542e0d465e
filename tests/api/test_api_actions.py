from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from factorybrain.agents import Orchestrator
from factorybrain.api import TokenStore, create_app
from factorybrain.exceptions import ParameterError
from tests.agents.test_orchestrator import T0, Logistics, Maintenance, Planning, _seed
from tests.api.conftest import API


def test_the_planner_approves_the_flagship_action_over_http(api, store) -> None:
    client, headers, orchestrator = api
    orchestrator.run()
    inbox = client.get(f"{API}/actions?state=proposed", headers=headers["viewer"]).json()
    assert inbox["total"] == 1
    action = inbox["items"][0]
    assert action["required_role"] == "planner"
    findings = client.get(f"{API}/findings", headers=headers["viewer"]).json()
    assert findings["total"] == 3
    assert {f["kind"] for f in findings["items"]} >= {"maintenance.rul_low"}
    recommendation = client.get(
        f"{API}/recommendations/{action['recommendation_id']}", headers=headers["viewer"]
    ).json()
    assert len(recommendation["parameters"]["steps"]) == 3

    url = f"{API}/actions/{action['id']}/approve"
    for role, needed in (("viewer", "decide"), ("engineer", "planner")):
        denied = client.post(url, headers=headers[role], json={"comment": "x"})
        assert denied.status_code == 403 and needed in denied.json()["detail"]
    done = client.post(url, headers=headers["planner"], json={"comment": "ok, go"})
    assert done.status_code == 200, done.text
    assert (done.json()["state"], done.json()["decided_by"]) == ("executed", "user:plauser")
    again = client.post(url, headers=headers["admin"], json={})
    assert again.status_code == 409 and "executed -> approved" in again.json()["detail"]
    assert store.counts()["purchase_order"] == 1

    audit = client.get(
        f"{API}/audit", headers=headers["viewer"], params={"object_id": action["id"]}
    ).json()
    assert {e["verb"] for e in audit["items"]} == {
        "action.proposed",
        "action.approved",
        "action.executed",
    }
    approved = next(e for e in audit["items"] if e["verb"] == "action.approved")
    assert (approved["actor"], approved["details"]["comment"]) == ("user:plauser", "ok, go")


def test_proposing_needs_an_engineer_never_executes_and_is_audited(api) -> None:
    client, headers, _ = api
    body = {"action_type": "notify", "parameters": {"to": ["ann"]}, "title": "tell ann"}
    assert client.post(f"{API}/actions", headers=headers["viewer"], json=body).status_code == 403
    created = client.post(f"{API}/actions", headers=headers["engineer"], json=body)
    assert created.status_code == 201 and created.json()["state"] == "proposed"
    unknown = client.post(
        f"{API}/actions", headers=headers["engineer"], json={"action_type": "reactor.scram"}
    )
    assert unknown.status_code == 422 and "no executor" in unknown.json()["detail"]
    malformed = client.post(f"{API}/actions", headers=headers["engineer"], json={"x": 1})
    assert malformed.status_code == 422
    action_id = created.json()["id"]
    rejected = client.post(
        f"{API}/actions/{action_id}/reject", headers=headers["engineer"], json={"comment": "no"}
    )
    assert rejected.status_code == 200 and rejected.json()["comment"] == "no"
    verbs = client.get(
        f"{API}/audit", headers=headers["viewer"], params={"object_id": action_id}
    ).json()["items"]
    assert {(e["verb"], e["actor"]) for e in verbs} == {
        ("action.rejected", "user:enguser"),
        ("action.proposed", "user:enguser"),
    }


def test_finding_status_changes_are_audited(api) -> None:
    client, headers, orchestrator = api
    orchestrator.run()
    finding_id = orchestrator.records.findings(kind="maintenance.rul_low")[0].id
    url = f"{API}/findings/{finding_id}/status"
    bad = client.post(url, headers=headers["engineer"], json={"status": "gone"})
    assert bad.status_code == 422, bad.text
    (failure,) = bad.json()["errors"]
    assert (failure["in"], failure["name"], failure["found"]) == ("body", "status", '"gone"')
    assert failure["expected"] == "'open', 'acknowledged', 'resolved', 'superseded' or 'closed'"
    done = client.post(url, headers=headers["engineer"], json={"status": "acknowledged"})
    assert done.json()["status"] == "acknowledged"
    log = orchestrator.records.audit_log(object_id=finding_id, verb="finding.acknowledged")
    assert log[0].actor == "user:enguser"


def test_tokens_persist_hashed_and_can_be_revoked(tmp_path) -> None:
    from factorybrain.store import open_store

    path = tmp_path / "plant.duckdb"
    with open_store(path, migrate=True) as store:
        token = TokenStore(store).create("ann", "planner")
    assert token.encode() not in path.read_bytes()
    with open_store(path) as store:
        reopened = TokenStore(store)
        assert reopened.check(token).role == "planner"
        assert reopened.revoke("ann") == 1
        assert TokenStore(store).check(token) is None
        with pytest.raises(ParameterError, match="unknown role"):
            reopened.create("bob", "boss")


def test_a_token_file_of_the_last_version_is_imported_once_and_keeps_working(tmp_path) -> None:
    import hashlib
    import json

    from factorybrain.store import open_store

    path = tmp_path / "plant.duckdb"
    legacy = tmp_path / "plant.duckdb.tokens.json"
    old = "fb_an-old-token-issued-by-version-0.1"
    digest = hashlib.sha256(old.encode()).hexdigest()
    info = {"name": "ann", "role": "planner", "created_at": "2026-11-01T08:00:00+00:00"}
    legacy.write_text(json.dumps({"tokens": {digest: info}}))
    with open_store(path, migrate=True) as store:
        assert TokenStore(store).check(old).name == "ann"
        assert TokenStore(store).list()[0].created_by == "import:plant.duckdb.tokens.json"
    assert not legacy.exists() and legacy.with_name(legacy.name + ".imported").exists()


def test_status_summarises_the_inbox(api) -> None:
    client, headers, orchestrator = api
    orchestrator.run()
    status = client.get(f"{API}/status", headers=headers["viewer"]).json()
    assert status["actions_waiting_for_approval"] == 1
    assert status["counts"]["work_order"] == 2
    assert {f["kind"] for f in status["open_findings"]} == {
        "maintenance.rul_low",
        "planning.maintenance_window",
        "logistics.spares_reorder",
    }


def test_the_app_runs_the_agents_schedules_while_serving(store) -> None:
    import time

    _seed(store)
    orchestrator = Orchestrator(store, [Maintenance(), Planning(), Logistics()], clock=lambda: T0)
    app = create_app(store, orchestrator=orchestrator, schedule_every=0.05)
    with TestClient(app):
        deadline = time.monotonic() + 30
        while app.state.last_scheduled_run is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # several more ticks: an agent that is not due must not run again
    # Read what the runs left in the audit log once the app has stopped: `last_scheduled_run`
    # only holds the latest tick, which may be an empty one after the agent already ran.
    ran = orchestrator.records.audit_log(verb="agent.ran")
    assert [entry.actor for entry in ran] == ["maintenance"]
    assert orchestrator.records.count_actions(state="proposed") == 1


def test_stopping_the_app_waits_for_a_scheduled_run_before_closing_the_store(store) -> None:
    import threading
    import time
    from types import SimpleNamespace

    orchestrator = Orchestrator(store, [Maintenance()], clock=lambda: T0)
    started, finished = threading.Event(), threading.Event()

    def slow_run() -> SimpleNamespace:
        started.set()
        time.sleep(0.5)  # an agent still at work when the server is told to stop
        finished.set()
        return SimpleNamespace(dump=dict)

    orchestrator.run_scheduled = slow_run  # type: ignore[method-assign]
    app = create_app(store, orchestrator=orchestrator, schedule_every=0.01)
    with TestClient(app):
        assert started.wait(10)
    assert finished.is_set()


def test_agents_run_on_demand_over_http_and_who_asked_is_audited(api) -> None:
    client, headers, orchestrator = api
    listed = client.get(f"{API}/agents", headers=headers["viewer"]).json()
    assert {a["name"] for a in listed} == {"maintenance", "planning", "logistics"}
    maintenance = next(a for a in listed if a["name"] == "maintenance")
    assert maintenance["schedule_seconds"] == 3600
    url = f"{API}/agents/run"
    assert client.post(url, headers=headers["viewer"], json={}).status_code == 403
    unknown = client.post(url, headers=headers["engineer"], json={"agents": ["oracle"]})
    assert unknown.status_code == 422 and "oracle" in unknown.json()["detail"]
    report = client.post(url, headers=headers["engineer"], json={"agents": ["maintenance"]})
    assert report.status_code == 200 and len(report.json()["actions"]) == 1
    asked = orchestrator.records.audit_log(verb="agents.run_requested")
    assert [(e.actor, e.object_id) for e in asked] == [("user:enguser", "maintenance")]
