"""Who did it is who authenticated: the attacks on identities, tokens and sessions, refused."""

from __future__ import annotations

import getpass
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from factorybrain.agents import AgentRecords, BaseAgent, Orchestrator
from factorybrain.api import SCOPES, RateLimits, TokenStore, create_app
from factorybrain.cli import app
from factorybrain.store import open_store
from tests.api.conftest import API

runner = CliRunner()
OS_USER = f"os:{getpass.getuser()}"


def test_the_command_line_takes_no_claimed_name_or_role(tmp_path: Path) -> None:
    db = str(tmp_path / "plant.duckdb")
    runner.invoke(app, ["init", "--db", db])
    forged = runner.invoke(
        app, ["actions", "approve", "act-1", "--as", "mallory", "--role", "admin", "--db", db]
    )
    assert forged.exit_code == 2 and "No such option" in forged.output
    created = runner.invoke(app, ["token", "create", "--role", "admin", "--name", "x", "--db", db])
    assert created.exit_code == 0
    with open_store(db, read_only=True) as store:
        [entry] = AgentRecords(store).audit_log(verb="token.created")
    assert entry.actor == OS_USER  # the operating-system user, as the system knows them


def test_an_ingest_names_who_loaded_it(tmp_path: Path) -> None:
    data = Path(__file__).parents[1] / "data"
    db = str(tmp_path / "plant.duckdb")
    loaded = runner.invoke(
        app, ["ingest", str(data / "assets.csv"), "-m", str(data / "assets.yaml"), "--db", db]
    )
    assert loaded.exit_code == 0, loaded.output
    with open_store(db, read_only=True) as store:
        [entry] = AgentRecords(store).audit_log(verb="data.ingested")
        actor = store.query("SELECT actor FROM ingest_report")["actor"][0]
    assert entry.actor == actor == OS_USER and entry.details["file"].endswith("assets.csv")


def test_tokens_issued_at_once_all_work_and_a_revoked_one_never_comes_back(store) -> None:
    tokens = TokenStore(store)
    admin = tokens.create("root", "admin")
    assert tokens.revoke("root") == 1
    with ThreadPoolExecutor(max_workers=8) as pool:
        issued = list(pool.map(lambda i: tokens.create(f"user-{i}", "viewer"), range(199)))
    assert len(set(issued)) == 199
    fresh = TokenStore(store)  # what another worker of the server sees
    assert all(fresh.check(t) is not None for t in issued)
    assert fresh.check(admin) is None and tokens.check(admin) is None
    assert AgentRecords(store).count_audit(verb="token.created") == 200


def test_an_expired_token_and_a_token_without_the_scope_are_refused(api, store) -> None:
    client, headers, _ = api
    tokens = client.app.state.tokens
    reader = tokens.create("kiosk", "planner", scopes=["read"])
    refused = client.post(
        f"{API}/actions",
        headers={"Authorization": f"Bearer {reader}"},
        json={"action_type": "notify", "parameters": {"to": ["a"], "message": "m"}},
    )
    assert refused.status_code == 403 and "propose" in refused.json()["detail"]
    with pytest.raises(Exception, match="scope"):
        tokens.create("x", "viewer", scopes=["decide"])  # beyond what a viewer may do
    assert set(SCOPES) == {"read", "propose", "decide", "admin"}
    store.connection.execute(
        "UPDATE api_token SET expires_at = TIMESTAMP '2000-01-01' WHERE name = 'kiosk'"
    )
    gone = client.get(f"{API}/assets", headers={"Authorization": f"Bearer {reader}"})
    assert gone.status_code == 401


def test_admins_issue_rotate_and_revoke_tokens_over_the_api_and_each_change_is_audited(
    api,
) -> None:
    client, headers, orchestrator = api
    denied = client.post(
        f"{API}/tokens", headers=headers["planner"], json={"name": "x", "role": "admin"}
    )
    assert denied.status_code == 403
    issued = client.post(
        f"{API}/tokens", headers=headers["admin"], json={"name": "bob", "role": "engineer"}
    ).json()
    assert issued["token"].startswith("fb_") and issued["created_by"] == "user:admuser"
    rotated = client.post(f"{API}/tokens/bob/rotate", headers=headers["admin"]).json()
    old, new = ({"Authorization": f"Bearer {t}"} for t in (issued["token"], rotated["token"]))
    assert client.get(f"{API}/assets", headers=old).status_code == 401
    assert client.get(f"{API}/assets", headers=new).status_code == 200
    assert client.delete(f"{API}/tokens/bob", headers=headers["admin"]).json() == {"revoked": 1}
    assert client.get(f"{API}/assets", headers=new).status_code == 401
    verbs = {(e.verb, e.actor) for e in orchestrator.records.audit_log(limit=None)}
    assert {("token.created", "user:admuser"), ("token.rotated", "user:admuser"),
            ("token.revoked", "user:admuser")} <= verbs  # fmt: skip


def test_the_dashboard_session_is_an_httponly_cookie_whose_writes_need_the_csrf_token(
    api,
) -> None:
    client, headers, _ = api
    token = client.app.state.tokens.create("ann", "planner")
    signed_in = client.post(f"{API}/session", json={"token": token})
    assert signed_in.status_code == 201
    cookie = signed_in.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    csrf = signed_in.json()["csrf_token"]
    assert client.get(f"{API}/assets").status_code == 200  # reads with the cookie alone
    proposal = {"action_type": "notify", "parameters": {"to": ["a"], "message": "m"}}
    forged = client.post(f"{API}/actions", json=proposal)  # what another site could make
    assert forged.status_code == 403 and "CSRF" in forged.json()["detail"]
    wrong = client.post(f"{API}/actions", json=proposal, headers={"X-CSRF-Token": "guess"})
    assert wrong.status_code == 401
    made = client.post(f"{API}/actions", json=proposal, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201 and made.json()["proposed_by"] == "user:ann"
    assert client.get(f"{API}/session").json()["csrf_token"] == csrf  # after a reload
    assert client.delete(f"{API}/session", headers={"X-CSRF-Token": csrf}).status_code == 204
    client.cookies.clear()
    assert client.get(f"{API}/assets").status_code == 401


def test_writes_and_agent_runs_are_rate_limited_per_token(store) -> None:
    tokens = TokenStore(store)
    engineer = {"Authorization": f"Bearer {tokens.create('eng', 'engineer')}"}
    limits = RateLimits({"write": (0.5, 2.0), "agents_run": (0.01, 1.0)})
    with TestClient(create_app(store, tokens=tokens, rate_limits=limits)) as client:
        statuses = [
            client.post(f"{API}/findings/nope/status", headers=engineer, json={"status": "open"})
            for _ in range(3)
        ]
        assert [s.status_code for s in statuses][-1] == 429
        assert int(statuses[-1].headers["retry-after"]) >= 1
        runs = [client.post(f"{API}/agents/run", headers=engineer) for _ in range(2)]
        assert [r.status_code for r in runs] == [200, 429]


class _SlowAgent(BaseAgent):
    """An agent that thinks for a while (as a real one does over a large plant)."""

    name = "slow"

    def __init__(self) -> None:
        self.started = threading.Event()

    def run(self, context):
        self.started.set()
        time.sleep(3.0)
        return ()


def test_a_proposal_and_an_approval_are_answered_while_the_agents_run(tmp_path: Path) -> None:
    with open_store(tmp_path / "plant.duckdb", migrate=True) as store:
        tokens = TokenStore(store)
        engineer = {"Authorization": f"Bearer {tokens.create('eng', 'engineer')}"}
        planner = {"Authorization": f"Bearer {tokens.create('pla', 'planner')}"}
        slow = _SlowAgent()
        app_ = create_app(store, tokens=tokens, orchestrator=Orchestrator(store, [slow]))
        with TestClient(app_) as client:
            run = threading.Thread(
                target=client.post, args=(f"{API}/agents/run",), kwargs={"headers": engineer}
            )
            run.start()
            assert slow.started.wait(10)
            began = time.perf_counter()
            proposal = {"action_type": "notify", "parameters": {"to": ["a"], "message": "m"}}
            made = client.post(f"{API}/actions", headers=engineer, json=proposal).json()
            done = client.post(f"{API}/actions/{made['id']}/approve", headers=planner).json()
            took = time.perf_counter() - began
            busy = client.post(f"{API}/agents/run", headers=planner)
            run.join()
    assert done["state"] == "executed" and took < 1.0, took
    assert busy.status_code == 409


def test_mcp_records_who_authenticated_never_a_claimed_name(api) -> None:
    import anyio

    from factorybrain.mcp import create_server
    from mcp import Client

    client, headers, orchestrator = api
    server = create_server(orchestrator.store, orchestrator=orchestrator)

    async def main():
        async with Client(server) as mcp:
            return await mcp.call_tool(
                "propose_action",
                {"action_type": "notify", "parameters": {"to": ["a"], "message": "m"},
                 "proposed_by": "the-ceo"},
            )  # fmt: skip

    result = anyio.run(main)
    action = json.loads(result.content[0].text) if result.is_error is False else None
    assert action is not None and action["proposed_by"] == OS_USER  # stdio: the local user
    assert "the-ceo" not in json.dumps(orchestrator.records.audit_log(limit=None)[0].dump())
