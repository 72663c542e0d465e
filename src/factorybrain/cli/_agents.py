"""Commands of the agents: ``agents``, ``actions``, ``findings``, ``audit`` and ``token``.

Running the agents, deciding the actions they propose, reading their findings and the audit log,
and issuing the API tokens (whose changes the audit log records).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from factorybrain.cli._common import (
    DbOption,
    JsonOption,
    TokensOption,
    console,
    friendly_errors,
    open_db,
    orchestrator_for,
    tokens_for,
)

RoleOption = Annotated[
    str, typer.Option("--role", help="Role: viewer, engineer, planner or admin.")
]

app = typer.Typer()
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


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*["" if v is None else str(v) for v in row])
    return table


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
    token = tokens_for(db, tokens).create(name, role)
    _audit_token(db, "token.created", name, {"role": role})
    console.print(f"token for [bold]{name}[/bold] ({role}); keep it, it is not shown again:")
    print(token)


@token_app.command("list")
@friendly_errors
def token_list(db: DbOption = None, tokens: TokensOption = None) -> None:
    """List who holds tokens and with which role (never the tokens).

    Example: `factorybrain token list --db plant.duckdb`
    """
    holders = tokens_for(db, tokens).list()
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
    count = tokens_for(db, tokens).revoke(name)
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
        with open_db(path) as store:
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
    with open_db(db) as store:
        orchestrator = orchestrator_for(store, with_agents=True)
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

    with open_db(db, read_only=True) as store:
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

    with open_db(db, read_only=True) as store:
        items = AgentRecords(store).actions(state=state, limit=limit)
    if as_json:
        print(json.dumps([a.dump() for a in items], indent=2, default=str))
        return
    rows = [[a.id, a.action_type, a.state, a.required_role, a.decided_by, a.comment] for a in items]
    columns = ["id", "type", "state", "needs", "decided by", "comment"]
    console.print(_table("actions", columns, rows))


def _decide(
    approve: bool, action_id: str, actor: str, role: str, comment: str | None, db: Path | None
) -> None:
    with open_db(db) as store:
        orchestrator = orchestrator_for(store)
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

    with open_db(db, read_only=True) as store:
        entries = AgentRecords(store).audit_log(object_id=object_id, limit=limit)
    if as_json:
        print(json.dumps([e.dump() for e in entries], indent=2, default=str))
        return
    rows = [
        [e.occurred_at, e.actor, e.verb, f"{e.object_type}:{e.object_id}", json.dumps(e.details)]
        for e in entries
    ]
    console.print(_table("audit log", ["when", "who", "what", "object", "details"], rows))
