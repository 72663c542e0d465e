from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import factorybrain.cli._agents as commands
from factorybrain.agents import Orchestrator
from factorybrain.cli import app
from factorybrain.store import open_store
from tests.agents.test_orchestrator import T0, Logistics, Maintenance, Planning, _seed

runner = CliRunner()


@pytest.fixture
def plant(tmp_path: Path, monkeypatch) -> Path:
    path = tmp_path / "plant.duckdb"
    with open_store(path, migrate=True) as store:
        _seed(store)

    def orchestrator(store, *, with_agents: bool = False) -> Orchestrator:
        agents = [Maintenance(), Planning(), Logistics()] if with_agents else []
        return Orchestrator(store, agents, clock=lambda: T0)

    monkeypatch.setattr(commands, "orchestrator_for", orchestrator)
    return path


def _run(*arguments: str) -> tuple[int, str]:
    result = runner.invoke(app, list(arguments))
    return result.exit_code, result.output


def test_agents_run_then_approve_from_the_command_line(plant: Path) -> None:
    db = ["--db", str(plant)]
    code, output = _run("agents", "run", *db, "--json")
    assert code == 0, output
    report = json.loads(output)
    assert len(report["findings"]) == 3 and len(report["actions"]) == 1
    action_id = report["actions"][0]

    _, inbox = _run("actions", "list", "--state", "proposed", *db, "--json")
    assert [a["id"] for a in json.loads(inbox)] == [action_id]

    code, output = _run("actions", "approve", action_id, "--as", "eve", "--role", "engineer", *db)
    assert code == 1 and "planner" in output
    code, output = _run(
        "actions", "approve", action_id, "--as", "ann", "--role", "planner", "--comment", "go", *db
    )
    assert code == 0 and "executed" in output, output
    _, log = _run("audit", "--object", action_id, *db, "--json")
    assert {e["verb"] for e in json.loads(log)} == {
        "action.proposed",
        "action.approved",
        "action.executed",
    }
    _, listed = _run("findings", *db, "--json")
    assert len(json.loads(listed)) == 3
    code, output = _run("actions", "reject", action_id, "--as", "ann", "--role", "admin", *db)
    assert code == 1 and "executed -> rejected" in output


def test_token_changes_are_audited_in_the_store(plant: Path, tmp_path: Path) -> None:
    tokens = ["--tokens", str(tmp_path / "t.json"), "--db", str(plant)]
    code, output = _run("token", "create", "--role", "viewer", "--name", "bob", *tokens)
    assert code == 0, output
    _run("token", "revoke", "bob", *tokens)
    _, log = _run("audit", "--db", str(plant), "--json")
    assert {(e["verb"], e["object_id"]) for e in json.loads(log)} == {
        ("token.created", "bob"),
        ("token.revoked", "bob"),
    }


def test_playbooks_and_token_commands(tmp_path: Path) -> None:
    _, shown = _run("agents", "playbooks", "--json")
    assert "maintenance.rul_low" in [p["trigger"] for p in json.loads(shown)]
    tokens = ["--tokens", str(tmp_path / "t.json"), "--db", str(tmp_path / "none.duckdb")]
    code, created = _run("token", "create", "--role", "planner", "--name", "ann", *tokens)
    assert code == 0 and "fb_" in created
    _, listed = _run("token", "list", *tokens)
    assert "ann" in listed and "planner" in listed
    code, bad = _run("token", "create", "--role", "boss", "--name", "x", *tokens)
    assert code == 1 and "unknown role" in bad
    _, revoked = _run("token", "revoke", "ann", *tokens)
    assert "revoked 1" in revoked
