"""Commands for the agents and the interfaces: serve, token, agents, actions, findings, audit, mcp.

Import this module from :mod:`factorybrain.cli` to register the commands.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from factorybrain.cli import DbOption, JsonOption, _open, _serve, app, console, friendly_errors

TokensOption = Annotated[
    Path | None,
    typer.Option(
        "--tokens",
        help="Token file (default: $FACTORYBRAIN_TOKENS or <db>.tokens.json).",
        envvar="FACTORYBRAIN_TOKENS",
        show_default=False,
    ),
]
RoleOption = Annotated[
    str, typer.Option("--role", help="Role: viewer, engineer, planner or admin.")
]

token_app = typer.Typer(
    no_args_is_help=True,
    help="Issue, list and revoke API tokens.\n\n"
    "Example: `factorybrain token create --role planner --name ann`",
)
agents_app = typer.Typer(
    no_args_is_help=True,
    help="Run the agents and show the playbooks.\n\nExample: `factorybrain agents run`",
)
actions_app = typer.Typer(
    no_args_is_help=True,
    help="List, approve and reject agent actions.\n\n"
    "Example: `factorybrain actions list --state proposed`",
)
app.add_typer(token_app, name="token")
app.add_typer(agents_app, name="agents")
app.add_typer(actions_app, name="actions")


def _tokens(db: Path | None, tokens: Path | None) -> Any:
    from factorybrain.api import TokenStore, default_tokens_path
    from factorybrain.store import default_db_path

    return TokenStore(tokens or default_tokens_path(db or default_db_path()))


def _orchestrator(store: Any, *, with_agents: bool = False) -> Any:
    from factorybrain.agents import Orchestrator, installed_agents

    return Orchestrator(store, installed_agents() if with_agents else ())


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*["" if v is None else str(v) for v in row])
    return table


# -- serve -------------------------------------------------------------------------------------
@app.command()
@friendly_errors
def serve(
    db: DbOption = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    tokens: TokensOption = None,
    schedule: Annotated[
        float,
        typer.Option(
            help="Seconds between runs of the agents' schedules while serving (0: never)."
        ),
    ] = 60.0,
) -> None:
    """Serve the dashboard (at /) and the REST API (docs at /docs) over the store with uvicorn.

    Requests need `Authorization: Bearer <token>`; create one with `factorybrain token create`.
    The installed agents run on their schedules inside the server (the store file is locked
    while it serves, so other processes cannot write to it).

    Example: `factorybrain serve --db plant.duckdb --port 8000`
    """
    store = _open(db)
    token_store = _tokens(db, tokens)
    if not token_store.list():
        console.print(
            "[yellow]no API tokens yet[/yellow]: create one with "
            f"'factorybrain token create --role admin --name you --db {store.path}'"
        )

    def announce(dashboard: bool) -> None:
        console.print(
            f"serving {store.path} on http://{host}:{port} "
            f"({'dashboard at /, ' if dashboard else ''}API docs at /docs)"
        )

    _serve(
        store,
        host=host,
        port=port,
        tokens=token_store,
        orchestrator=_orchestrator(store, with_agents=True),
        schedule_every=schedule or None,
        announce=announce,
    )


# -- tokens ------------------------------------------------------------------------------------
@token_app.command("create")
@friendly_errors
def token_create(
    role: RoleOption,
    name: Annotated[str, typer.Option("--name", help="Person or system it is for.")],
    db: DbOption = None,
    tokens: TokensOption = None,
) -> None:
    """Issue an API token; it is printed once and only its hash is kept.

    Example: `factorybrain token create --role planner --name ann --db plant.duckdb`
    """
    token = _tokens(db, tokens).create(name, role)
    _audit_token(db, "token.created", name, {"role": role})
    console.print(f"token for [bold]{name}[/bold] ({role}); keep it, it is not shown again:")
    print(token)


@token_app.command("list")
@friendly_errors
def token_list(db: DbOption = None, tokens: TokensOption = None) -> None:
    """List who holds tokens and with which role (never the tokens).

    Example: `factorybrain token list --db plant.duckdb`
    """
    holders = _tokens(db, tokens).list()
    console.print(
        _table(
            "API tokens",
            ["name", "role", "created"],
            [[h.name, h.role, h.created_at] for h in holders],
        )
    )


@token_app.command("revoke")
@friendly_errors
def token_revoke(
    name: Annotated[str, typer.Argument(help="Holder whose tokens to revoke.")],
    db: DbOption = None,
    tokens: TokensOption = None,
) -> None:
    """Revoke every token of a holder.

    Example: `factorybrain token revoke ann --db plant.duckdb`
    """
    count = _tokens(db, tokens).revoke(name)
    _audit_token(db, "token.revoked", name, {"tokens": count})
    console.print(f"revoked {count} token(s) of {name}")


def _audit_token(db: Path | None, verb: str, name: str, details: dict[str, Any]) -> None:
    """Record a token change in the store's audit log, when the store can be written now."""
    import getpass

    from factorybrain.agents import AgentRecords, AuditEntry, utcnow
    from factorybrain.exceptions import FactorybrainError
    from factorybrain.store import default_db_path

    path = db or default_db_path()
    if not Path(path).exists():
        return
    try:
        with _open(path) as store:
            AgentRecords(store).audit(
                AuditEntry(f"cli:{getpass.getuser()}", verb, "token", name, utcnow(), details)
            )
    except FactorybrainError as error:  # e.g. a running server holds the file
        console.print(f"[yellow]not audited[/yellow] ({error})", highlight=False)


# -- agents ------------------------------------------------------------------------------------
@agents_app.command("run")
@friendly_errors
def agents_run(
    names: Annotated[
        list[str] | None, typer.Argument(help="Agents to run (default: every installed one).")
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run the installed agents now and route what they find through the playbooks.

    Example: `factorybrain agents run maintenance --db plant.duckdb`
    """
    with _open(db) as store:
        orchestrator = _orchestrator(store, with_agents=True)
        report = orchestrator.run(names or None)
    if as_json:
        print(json.dumps(report.dump(), indent=2))
        return
    console.print(
        f"ran {', '.join(report.agents_run) or 'no agents'}: {len(report.findings)} new "
        f"finding(s), {len(report.repeated_findings)} already known, "
        f"{len(report.actions)} action(s) proposed, {len(report.executed)} auto-executed",
        highlight=False,
    )
    for error in report.errors:
        console.print(f"  [red]{error['agent']} failed[/red]: {error['error']}", highlight=False)


@agents_app.command("playbooks")
@friendly_errors
def agents_playbooks(as_json: JsonOption = False) -> None:
    """Show the playbooks: which agent reacts to which finding, and who approves.

    Example: `factorybrain agents playbooks`
    """
    from factorybrain.agents import describe_playbooks

    playbooks = describe_playbooks()
    if as_json:
        print(json.dumps(playbooks, indent=2))
        return
    rows = [
        [
            p["name"],
            p["trigger"],
            "; ".join(f"{r['on']} -> {r['agent']}" for r in p["routes"]),
            p["approver"] if p["bundle"] else "per action",
        ]
        for p in playbooks
    ]
    console.print(_table("playbooks", ["name", "trigger", "routes", "approver"], rows))


# -- findings, actions, audit -------------------------------------------------------------------
@app.command()
@friendly_errors
def findings(
    kind: Annotated[str | None, typer.Option(help="Only this kind.")] = None,
    status: Annotated[str | None, typer.Option(help="open, acknowledged or closed.")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the agents' findings, newest first.

    Example: `factorybrain findings --kind maintenance.rul_low --status open`
    """
    from factorybrain.agents import AgentRecords

    with _open(db, read_only=True) as store:
        items = AgentRecords(store).findings(kind=kind, status=status, limit=limit)
    if as_json:
        print(json.dumps([f.dump() for f in items], indent=2, default=str))
        return
    rows = [
        [f.id, f.kind, str(f.subject), f.severity, f"{f.confidence:.2f}", f.status, f.created_at]
        for f in items
    ]
    columns = ["id", "kind", "subject", "severity", "confidence", "status", "created"]
    console.print(_table("findings", columns, rows))


@actions_app.command("list")
@friendly_errors
def actions_list(
    state: Annotated[str | None, typer.Option(help="Only this state, e.g. proposed.")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """List actions; `--state proposed` is the approval inbox.

    Example: `factorybrain actions list --state proposed`
    """
    from factorybrain.agents import AgentRecords

    with _open(db, read_only=True) as store:
        items = AgentRecords(store).actions(state=state, limit=limit)
    if as_json:
        print(json.dumps([a.dump() for a in items], indent=2, default=str))
        return
    rows = [[a.id, a.action_type, a.state, a.required_role, a.decided_by, a.comment] for a in items]
    columns = ["id", "type", "state", "needs", "decided by", "comment"]
    console.print(_table("actions", columns, rows))


def _decide(
    approve: bool, action_id: str, actor: str, role: str, comment: str | None, db: Any
) -> None:
    with _open(db) as store:
        orchestrator = _orchestrator(store)
        if approve:
            action = orchestrator.approve(
                action_id, actor=f"user:{actor}", role=role, comment=comment
            )
        else:
            action = orchestrator.reject(
                action_id, actor=f"user:{actor}", role=role, comment=comment
            )
    console.print(f"action {action.id} is now [bold]{action.state}[/bold]")
    if action.result:
        print(json.dumps(action.result, indent=2, default=str))


ActorOption = Annotated[str, typer.Option("--as", help="Your name, for the audit log.")]
CommentOption = Annotated[str | None, typer.Option("--comment", help="Why.")]


@actions_app.command("approve")
@friendly_errors
def actions_approve(
    action_id: Annotated[str, typer.Argument(help="Action id (act-...).")],
    actor: ActorOption,
    role: RoleOption,
    comment: CommentOption = None,
    db: DbOption = None,
) -> None:
    """Approve a proposed action and execute it (the plan and the orders change).

    Example: `factorybrain actions approve act-1234 --as ann --role planner --comment "ok"`
    """
    _decide(True, action_id, actor, role, comment, db)


@actions_app.command("reject")
@friendly_errors
def actions_reject(
    action_id: Annotated[str, typer.Argument(help="Action id (act-...).")],
    actor: ActorOption,
    role: RoleOption,
    comment: CommentOption = None,
    db: DbOption = None,
) -> None:
    """Reject a proposed action, with a comment for the audit log.

    Example: `factorybrain actions reject act-1234 --as ann --role planner --comment "not now"`
    """
    _decide(False, action_id, actor, role, comment, db)


@app.command()
@friendly_errors
def audit(
    object_id: Annotated[str | None, typer.Option("--object", help="Only this object.")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 30,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show the audit log: who changed what, when.

    Example: `factorybrain audit --object act-1234`
    """
    from factorybrain.agents import AgentRecords

    with _open(db, read_only=True) as store:
        entries = AgentRecords(store).audit_log(object_id=object_id, limit=limit)
    if as_json:
        print(json.dumps([e.dump() for e in entries], indent=2, default=str))
        return
    rows = [
        [e.occurred_at, e.actor, e.verb, f"{e.object_type}:{e.object_id}", json.dumps(e.details)]
        for e in entries
    ]
    console.print(_table("audit log", ["when", "who", "what", "object", "details"], rows))


# -- mcp ---------------------------------------------------------------------------------------
@app.command("mcp")
@friendly_errors
def mcp_command(
    db: DbOption = None,
    transport: Annotated[
        str, typer.Option(help="stdio (for a local assistant) or http (streamable HTTP).")
    ] = "stdio",
    host: Annotated[str, typer.Option(help="Interface for http.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port for http.")] = 8765,
    tokens: TokensOption = None,
) -> None:
    """Serve the factory model and the agents' records to AI assistants over MCP.

    Tools: plant_status, list_entities, get_entity, series_data, list_findings, get_finding,
    list_actions, audit_log and propose_action (which never executes). Resources: assets and
    documents. Over http every request needs an API token of an engineer or higher.

    Example: `factorybrain mcp --db plant.duckdb --transport http --port 8765`
    """
    from factorybrain.exceptions import ParameterError
    from factorybrain.mcp import create_http_app, create_server

    if transport not in ("stdio", "http"):
        raise ParameterError(f"--transport must be stdio or http, got {transport!r}")
    with _open(db) as store:
        server = create_server(store, orchestrator=_orchestrator(store))
        if transport == "stdio":
            server.run("stdio")
            return
        import uvicorn

        application = create_http_app(server, _tokens(db, tokens))
        console.print(
            f"MCP over streamable HTTP at http://{host}:{port}/mcp "
            "(needs 'Authorization: Bearer <token>' of an engineer or higher)"
        )
        uvicorn.run(application, host=host, port=port, log_level="warning")
