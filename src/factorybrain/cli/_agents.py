"""Commands of the agents: ``agents``, ``actions``, ``findings``, ``audit`` and ``token``.

Running the agents, deciding the actions they propose, reading their findings and the audit log,
and issuing the API tokens (whose changes the audit log records).
"""

from __future__ import annotations

import json
import warnings
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from factorybrain.cli._common import (
    Caller,
    DbOption,
    JsonOption,
    RayOption,
    TokenOption,
    caller,
    choices_metavar,
    console,
    friendly_errors,
    one_of,
    open_db,
    orchestrator_for,
    parse_moment,
    parse_span,
    step_progress,
    use_ray,
    working,
)
from factorybrain.cli._remote import ApiClient, ApiOption
from factorybrain.secrets import redact

if TYPE_CHECKING:
    from factorybrain.store import Store

ScenarioOption = Annotated[
    str | None,
    typer.Option(
        "--scenario",
        help="Name of the scenario the findings go into (replaced if it exists; default from "
        "the moments).",
    ),
]
#: The roles and scopes a token can have (as :data:`factorybrain.api.ROLE_SCOPES` has them).
ROLES = ("viewer", "engineer", "planner", "admin")
SCOPES = ("read", "propose", "decide", "admin")

RoleOption = Annotated[
    str,
    typer.Option(
        "--role",
        callback=one_of(*ROLES),
        metavar=choices_metavar(*ROLES),
        help="Role: viewer, engineer, planner or admin.",
    ),
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
ScopesOption = Annotated[
    list[str] | None,
    typer.Option(
        "--scope",
        callback=one_of(*SCOPES),
        metavar=choices_metavar(*SCOPES),
        help="Fewer scopes than the role's (repeat it): read, propose, decide, admin.",
        show_default=False,
    ),
]


@token_app.command("create")
@friendly_errors
def token_create(
    role: RoleOption,
    name: Annotated[str, typer.Option("--name", help="Person or system it is for.")],
    scopes: ScopesOption = None,
    expires_days: Annotated[
        float | None, typer.Option("--expires-days", help="Days until it stops working.", min=0)
    ] = None,
    db: DbOption = None,
    token: TokenOption = None,
) -> None:
    """Issue an API token; it is printed once and only its hash is kept (audited).

    Example: `factorybrain token create --role planner --name ann --expires-days 90`
    """
    from datetime import timedelta

    from factorybrain.api import TokenStore

    with open_db(db) as store:
        who = _admin(store, token)
        expires = None if expires_days is None else timedelta(days=expires_days)
        issued = TokenStore(store).create(
            name, role, scopes=scopes, expires_in=expires, created_by=who.actor
        )
    console.print(f"token for [bold]{name}[/bold] ({role}); keep it, it is not shown again:")
    print(issued)


@token_app.command("list")
@friendly_errors
def token_list(db: DbOption = None, as_json: JsonOption = False) -> None:
    """List who holds tokens, with role, scopes, expiry and last use (never the tokens).

    Example: `factorybrain token list --db plant.duckdb`
    """
    from factorybrain.api import TokenStore

    with open_db(db, read_only=True) as store:
        holders = TokenStore(store).list()
    if as_json:
        print(json.dumps([h.dump() for h in holders], indent=2))
        return
    rows = [
        [h.token_id, h.name, h.role, ",".join(h.scopes), h.created_at, h.created_by,
         h.expires_at, h.last_used_at, h.revoked_at]
        for h in holders
    ]  # fmt: skip
    columns = ["id", "name", "role", "scopes", "created", "by", "expires", "last used", "revoked"]
    console.print(_table("API tokens", columns, rows))


@token_app.command("revoke")
@friendly_errors
def token_revoke(
    name: Annotated[str, typer.Argument(help="Holder (or token id) whose tokens to revoke.")],
    db: DbOption = None,
    token: TokenOption = None,
) -> None:
    """Revoke every live token of a holder, or one token by its id (audited).

    Example: `factorybrain token revoke ann --db plant.duckdb`
    """
    from factorybrain.api import TokenStore

    with open_db(db) as store:
        who = _admin(store, token)
        count = TokenStore(store).revoke(name, by=who.actor)
    console.print(f"revoked {count} token(s) of {name}")


@token_app.command("rotate")
@friendly_errors
def token_rotate(
    name: Annotated[str, typer.Argument(help="Holder whose token to replace.")],
    db: DbOption = None,
    token: TokenOption = None,
) -> None:
    """Replace a holder's token by a new one (printed once); the old one stops at once.

    Example: `factorybrain token rotate ann --db plant.duckdb`
    """
    from factorybrain.api import TokenStore

    with open_db(db) as store:
        who = _admin(store, token)
        issued = TokenStore(store).rotate(name, by=who.actor)
    console.print(f"new token for [bold]{name}[/bold]; the old one no longer works:")
    print(issued)


def _admin(store: Store, token: str | None) -> Caller:
    """The caller, who must be allowed to manage tokens."""
    from factorybrain.exceptions import StoreError

    who = caller(store, token)
    if who.role != "admin" or "admin" not in who.scopes:
        raise StoreError(f"managing tokens needs an admin's token; {who.actor} is a {who.role}")
    return who


# -- agents ------------------------------------------------------------------------------------
@agents_app.command("run")
@friendly_errors
def agents_run(
    names: Annotated[
        list[str] | None,
        typer.Argument(metavar="AGENT", help="Agents to run (default: every installed one)."),
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
    as_of: Annotated[
        datetime | None,
        typer.Option(
            "--as-of",
            parser=parse_moment,
            metavar="TIME",
            help="Run as of this past moment (ISO time, UTC unless it has an offset), with only "
            "the data known then, into a scenario instead of the live records.",
        ),
    ] = None,
    scenario: ScenarioOption = None,
    ray: RayOption = None,
) -> None:
    """Run the installed agents now and route what they find through the playbooks.

    Example: `factorybrain agents run maintenance --db plant.duckdb`, or as of a past moment:
    `factorybrain agents run --as-of 2025-05-01T06:00`
    """
    use_ray(ray, quiet=as_json)
    if as_of is not None:
        _replay_and_print(db, as_of, as_of, timedelta(hours=1), names, scenario, as_json)
        return
    if scenario is not None:
        raise typer.BadParameter(
            f"expected with --as-of (a scenario holds a run as of a past moment); found "
            f"{scenario!r} without it",
            param_hint="'--scenario'",
        )
    # What the agents warn of (short histories, missing limits) is part of the answer: one line
    # each, once, not Python's warning with its source line.
    with (
        open_db(db) as store,
        warnings.catch_warnings(record=True) as caught,
        working(f"running {', '.join(names) if names else 'every agent'}", quiet=as_json),
    ):
        warnings.simplefilter("always")
        orchestrator = orchestrator_for(store, with_agents=True)
        report = orchestrator.run(names or None)
    said = list(dict.fromkeys(redact(str(w.message)) for w in caught))
    if as_json:
        print(json.dumps({**report.dump(), "warnings": said}, indent=2))
        return
    console.print(
        f"ran {', '.join(report.agents_run) or 'no agents'}: {len(report.findings)} new "
        f"finding(s), {len(report.repeated_findings)} already known, "
        f"{len(report.superseded)} superseded by newer ones, {len(report.resolved)} resolved "
        f"(no longer holding), {len(report.actions)} action(s) proposed, "
        f"{len(report.executed)} auto-executed",
        highlight=False,
    )
    _say_troubles(said, report.errors)


@agents_app.command("replay")
@friendly_errors
def agents_replay(
    start: Annotated[
        datetime,
        typer.Option(
            "--from",
            parser=parse_moment,
            metavar="TIME",
            help="First step: ISO time, UTC unless it has an offset.",
        ),
    ],
    end: Annotated[
        datetime, typer.Option("--to", parser=parse_moment, metavar="TIME", help="Last step.")
    ],
    every: Annotated[
        timedelta,
        typer.Option(
            "--every",
            parser=parse_span,
            metavar="SPAN",
            help="Time between steps: 15min, 1h, 6h, 1d, 7d... (default: 1h)",
            show_default=False,
        ),
    ] = timedelta(hours=1),
    names: Annotated[
        list[str] | None,
        typer.Option(
            "--agent",
            metavar="NAME",
            help="An agent to run (repeat; default: every installed one).",
        ),
    ] = None,
    scenario: ScenarioOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run the agents over history, step by step, with only the data known at each step.

    What they find and propose goes into a named scenario, not the live records (the inbox
    never sees it, nothing executes); the table says when each finding would first have been
    raised. Example: `factorybrain agents replay --from 2025-01-01 --to 2025-07-01 --every 1d`
    """
    _replay_and_print(db, start, end, every, names, scenario, as_json)


def _replay_and_print(
    db: str | Path | None,
    start: datetime,
    end: datetime,
    every: timedelta,
    names: list[str] | None,
    scenario: str | None,
    as_json: bool,
) -> None:
    from factorybrain.agents import replay

    with (
        open_db(db) as store,
        warnings.catch_warnings(record=True) as caught,
        step_progress(quiet=as_json) as progress,
    ):
        warnings.simplefilter("always")
        task = progress.add_task("replaying", total=None)

        def advanced(number: int, steps: int, at: datetime) -> None:
            progress.update(task, completed=number, total=steps, description=f"as of {at}")

        report = replay(
            store,
            start,
            end,
            every=every,
            agents=names or None,
            scenario=scenario,
            replace=True,
            progress=advanced,
        )
    said = list(dict.fromkeys(redact(str(w.message)) for w in caught))
    if as_json:
        print(json.dumps({**report.dump(), "warnings": said}, indent=2))
        return
    console.print(
        f"replayed {', '.join(report.agents)} over {report.steps} step(s) from {report.start} to "
        f"{report.end} in {report.seconds:.1f} s into scenario {report.scenario!r}: "
        f"{len(report.findings)} finding(s), {report.recommendations} recommendation(s)",
        highlight=False,
    )
    rows = [
        [
            str(f.raised_at),
            str(f.data_at or ""),
            f.kind,
            f.subject,
            f.severity,
            f.title,
        ]
        for f in report.findings
    ]
    if rows:
        console.print(
            _table(
                "first raised",
                ["raised at step", "data time", "kind", "subject", "severity", "title"],
                rows,
            )
        )
    _say_troubles(said, report.errors)


def _say_troubles(said: list[str], errors: list[dict[str, str]]) -> None:
    """What the agents warned of, one line each, and which failed (at which step, in a replay)."""
    for message in said:
        console.print(f"  [yellow]warning[/yellow] {message}", highlight=False)
    for error in errors:
        when = f" at {error['at']}" if "at" in error else ""
        console.print(
            f"  [red]{error['agent']} failed{when}[/red]: {redact(str(error['error']))}",
            highlight=False,
        )


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
def _finding_statuses() -> tuple[str, ...]:
    """The statuses a finding can have (read when ``--status`` is given: a slow import)."""
    from factorybrain.agents import FINDING_STATUSES

    return FINDING_STATUSES


def _action_states() -> tuple[str, ...]:
    """The states an action can be in (read when ``--state`` is given: a slow import)."""
    from factorybrain.agents import ACTION_STATES

    return ACTION_STATES


@app.command()
@friendly_errors
def findings(
    kind: Annotated[
        str | None, typer.Option(help="Only this kind, e.g. maintenance.rul_low.")
    ] = None,
    status: Annotated[
        str | None,
        typer.Option(
            callback=one_of(known=_finding_statuses),
            metavar="STATUS",
            help="Only this status: open, acknowledged, resolved, superseded or closed.",
        ),
    ] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.", min=1)] = 20,
    db: DbOption = None,
    as_json: JsonOption = False,
    api: ApiOption = None,
    token: TokenOption = None,
) -> None:
    """List the agents' findings, newest first.

    With `--api URL` it asks the server that holds the store (`GET /api/v1/findings`).

    Example: `factorybrain findings --kind maintenance.rul_low --status open`
    """
    from factorybrain.agents import AgentRecords, Finding

    if api:
        with ApiClient(api, token) as client:
            page = client.get("/findings", {"kind": kind, "status": status, "limit": limit})
        items = [Finding.load(item) for item in page["items"]]
    else:
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
    state: Annotated[
        str | None,
        typer.Option(
            callback=one_of(known=_action_states),
            metavar="STATE",
            help="Only this state: proposed, approved, rejected, superseded, executed or failed.",
        ),
    ] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.", min=1)] = 20,
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


def _decided(action: Any) -> None:
    console.print(f"action {action.id} is now [bold]{action.state}[/bold]")
    if action.result:
        print(json.dumps(action.result, indent=2, default=str))


CommentOption = Annotated[str | None, typer.Option("--comment", help="Why.")]


@actions_app.command("show")
@friendly_errors
def actions_show(
    action_id: Annotated[str, typer.Argument(help="Action id (act-...).")],
    db: DbOption = None,
) -> None:
    """Show an action and exactly what it would change: the content you approve.

    Example: `factorybrain actions show act-1234`
    """
    from factorybrain.agents import AgentRecords

    with open_db(db, read_only=True) as store:
        records = AgentRecords(store)
        action = records.action(action_id)
        recommendation = records.recommendation(action.recommendation_id)
    print(json.dumps({"action": action.dump(), "recommendation": recommendation.dump()},
                     indent=2, default=str))  # fmt: skip


@actions_app.command("approve")
@friendly_errors
def actions_approve(
    action_id: Annotated[str, typer.Argument(help="Action id (act-...).")],
    content_hash: Annotated[
        str | None,
        typer.Option(
            "--hash",
            help="The content_hash `actions show` printed: refused unless it is what executes.",
        ),
    ] = None,
    comment: CommentOption = None,
    override: Annotated[
        bool,
        typer.Option("--override", help="Admin only: approve your own proposal (audited)."),
    ] = False,
    db: DbOption = None,
    token: TokenOption = None,
) -> None:
    """Approve a proposed action and execute it (the plan and the orders change).

    You act as the holder of `--token` (or $FACTORYBRAIN_TOKEN), else as your operating-system
    user; nobody approves their own proposal.

    Example: `factorybrain actions approve act-1234 --hash 9f2c... --comment "ok"`
    """
    with open_db(db) as store:
        who = _decider(store, token)
        action = orchestrator_for(store).approve(
            action_id,
            actor=who.actor,
            role=who.role,
            comment=comment,
            content_hash=content_hash,
            override=override,
        )
    _decided(action)


@actions_app.command("reject")
@friendly_errors
def actions_reject(
    action_id: Annotated[str, typer.Argument(help="Action id (act-...).")],
    comment: CommentOption = None,
    db: DbOption = None,
    token: TokenOption = None,
) -> None:
    """Reject a proposed action, with a comment for the audit log.

    Example: `factorybrain actions reject act-1234 --comment "not now"`
    """
    with open_db(db) as store:
        who = _decider(store, token)
        action = orchestrator_for(store).reject(
            action_id, actor=who.actor, role=who.role, comment=comment
        )
    _decided(action)


@actions_app.command("undo")
@friendly_errors
def actions_undo(
    action_id: Annotated[str, typer.Argument(help="An executed action (act-...).")],
    comment: CommentOption = None,
    db: DbOption = None,
    token: TokenOption = None,
) -> None:
    """Propose the action that undoes an executed one; someone else approves it.

    Example: `factorybrain actions undo act-1234 --comment "wrong machine"`
    """
    with open_db(db) as store:
        who = caller(store, token)
        action = orchestrator_for(store).compensate(
            action_id, actor=who.actor, comment=comment or ""
        )
    console.print(f"proposed {action.id} to undo {action_id}; it waits for approval")


def _decider(store: Store, token: str | None) -> Caller:
    from factorybrain.exceptions import StoreError

    who = caller(store, token)
    if "decide" not in who.scopes:
        raise StoreError(f"deciding on actions needs the scope 'decide'; {who.actor} has none")
    return who


audit_app = typer.Typer(
    help="The audit log: who changed what, when; `audit verify` checks its hash chain.\n\n"
    "Example: `factorybrain audit --object act-1234`",
)
app.add_typer(audit_app, name="audit")


@audit_app.callback(invoke_without_command=True)
@friendly_errors
def audit(
    context: typer.Context,
    object_id: Annotated[str | None, typer.Option("--object", help="Only this object.")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.", min=1)] = 30,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show the audit log: who changed what, when.

    Example: `factorybrain audit --object act-1234`
    """
    if context.invoked_subcommand is not None:
        return
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


def _head_format(value: str | None) -> str | None:
    """Refuse a ``--head`` that is not SEQ:HASH before reading the log (a usage error)."""
    if value is None:
        return None
    seq_text, _, digest = value.strip().partition(":")
    if not seq_text.isdigit() or len(digest) != 64:
        raise typer.BadParameter(
            "expected SEQ:HASH as `audit verify` prints it (a number, a colon and 64 hex "
            f"digits); found {value!r}"
        )
    return value.strip()


@audit_app.command("verify")
@friendly_errors
def audit_verify(
    head: Annotated[
        str | None,
        typer.Option(
            "--head",
            callback=_head_format,
            metavar="SEQ:HASH",
            help="A head printed earlier (SEQ:HASH), kept outside the store: checks that no "
            "entry up to it was removed from the end.",
        ),
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check the audit log's hash chain: no entry changed, deleted or reordered.

    Prints the head (position and hash of the last entry): keep it somewhere else (a ticket,
    a log server) and pass it back with `--head` to detect entries cut off the end.
    Exits with status 1 when the chain is broken.

    Example: `factorybrain audit verify --head 1234:9f2c...`
    """
    from factorybrain.agents import AgentRecords

    with open_db(db, read_only=True) as store:
        result = AgentRecords(store).verify_audit()
        problems = list(result.problems)
        if head is not None:
            problems += _check_head(AgentRecords(store), head, result.head)
    shown = f"{result.head[0]}:{result.head[1]}" if result.head else None
    if as_json:
        print(json.dumps({"ok": not problems, "entries": result.entries, "head": shown,
                          "problems": problems}, indent=2))  # fmt: skip
    elif problems:
        console.print(f"[red]the audit log is broken[/red] ({result.entries:,} entries):")
        for line in problems[:50]:
            console.print(f"  {line}", highlight=False)
        if len(problems) > 50:
            console.print(f"  ... {len(problems) - 50:,} more")
    else:
        console.print(f"the audit log holds: {result.entries:,} entries, head {shown}")
    if problems:
        raise typer.Exit(1)


def _check_head(records: Any, given: str, head: tuple[int, str] | None) -> list[str]:
    seq_text, _, digest = given.partition(":")
    seq = int(seq_text)
    if head is None or head[0] < seq:
        last = head[0] if head else 0
        gone = f"entries {last + 1}-{seq} are gone"
        return [f"{gone}: the log ends at {last}, the head kept is at {seq}"]
    rows = records.store.query_rows(
        "SELECT hash FROM audit_entry WHERE space = ? AND seq = ?", [records.space, seq]
    )
    if not rows or rows[0]["hash"] != digest:
        return [f"entry {seq} is not the one whose hash was kept: the log was rewritten up to it"]
    return []
