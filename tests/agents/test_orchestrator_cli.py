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

    tokens = {}
    for name, role in (("eve", "engineer"), ("ann", "planner")):
        code, output = _run("token", "create", "--role", role, "--name", name, *db)
        tokens[name] = output.split()[-1]
    code, output = _run("actions", "approve", action_id, "--token", tokens["eve"], *db)
    assert code == 1 and "planner" in output
    _, shown = _run("actions", "show", action_id, *db)
    content_hash = json.loads(shown)["recommendation"]["content_hash"]
    code, output = _run(
        "actions", "approve", action_id, "--token", tokens["ann"], "--hash", content_hash,
        "--comment", "go", *db,
    )  # fmt: skip
    assert code == 0 and "executed" in output, output
    _, log = _run("audit", "--object", action_id, *db, "--json")
    entries = json.loads(log)
    assert {e["verb"] for e in entries} == {"action.proposed", "action.approved", "action.executed"}
    assert {e["actor"] for e in entries if e["verb"] == "action.approved"} == {"user:ann"}
    _, listed = _run("findings", *db, "--json")
    assert len(json.loads(listed)) == 3
    code, output = _run("actions", "reject", action_id, *db)  # the operating-system user
    assert code == 1 and "executed -> rejected" in output


def test_token_changes_are_audited_with_who_made_them(plant: Path) -> None:
    import getpass

    db = ["--db", str(plant)]
    code, output = _run("token", "create", "--role", "viewer", "--name", "bob", *db)
    assert code == 0, output
    _run("token", "revoke", "bob", *db)
    _, log = _run("audit", *db, "--json")
    made = {(e["verb"], e["actor"]) for e in json.loads(log) if e["verb"].startswith("token.")}
    assert made == {
        ("token.created", f"os:{getpass.getuser()}"),
        ("token.revoked", f"os:{getpass.getuser()}"),
    }


def test_playbooks_and_token_commands(tmp_path: Path) -> None:
    _, shown = _run("agents", "playbooks", "--json")
    assert "maintenance.rul_low" in [p["trigger"] for p in json.loads(shown)]
    db = ["--db", str(tmp_path / "plant.duckdb")]
    _run("init", *db)
    code, created = _run("token", "create", "--role", "planner", "--name", "ann", *db)
    assert code == 0 and "fb_" in created
    viewer = _run("token", "create", "--role", "viewer", "--name", "vic", *db)[1].split()[-1]
    _, listed = _run("token", "list", *db)
    assert "ann" in listed and "planner" in listed
    code, bad = _run("token", "create", "--role", "boss", "--name", "x", *db)
    assert code == 2 and "'boss'" in bad and "planner" in bad  # a usage error, as Click's
    code, refused = _run("token", "create", "--role", "admin", "--name", "x",
                         "--token", viewer, *db)  # fmt: skip
    assert code == 1 and "admin" in refused  # a viewer's token cannot issue tokens
    _, revoked = _run("token", "revoke", "ann", *db)
    assert "revoked 1" in revoked


def test_agents_run_says_how_many_findings_were_superseded_and_resolved(plant: Path) -> None:
    db = ["--db", str(plant)]
    code, output = _run("agents", "run", *db)
    assert code == 0, output
    said = " ".join(output.split())  # the console wraps long lines
    assert "3 new finding(s)" in said
    assert "0 superseded by newer ones, 0 resolved (no longer holding)" in said
    code, output = _run("agents", "run", *db, "--json")
    assert json.loads(output)["resolved"] == []
