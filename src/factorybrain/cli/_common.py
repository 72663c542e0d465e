"""What every command group of the ``factorybrain`` command shares.

The consoles, the shared options (``--db``, ``--json``, ``--token``), the parsers and checks of
times, spans and choices (a wrong value is a usage error naming the option), the error handler,
opening the store, tables, spinners and progress bars, the warnings as lines, and the helpers
two groups need: serving the API until stopped (``serve`` and ``demo``), the orchestrator (the
agents' commands, ``serve``, ``mcp`` and ``listen``) and who the caller is (:func:`caller`). It
imports no command group.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from factorybrain.exceptions import FactorybrainError
from factorybrain.secrets import redact

if TYPE_CHECKING:
    from factorybrain.agents import Orchestrator
    from factorybrain.api import TokenStore
    from factorybrain.connectors import IngestReport, ManifestEntry, PlantLoad
    from factorybrain.store import DuckDBStore, Store, StoreLockedError

# Without a terminal (CI logs, pipes) Rich would wrap at 80 columns; logs read better wider.
console = Console() if sys.stdout.isatty() else Console(width=120)
errors = Console(stderr=True) if sys.stderr.isatty() else Console(stderr=True, width=120)

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Store: a DuckDB file or a postgresql:// URL (default: $FACTORYBRAIN_DB or "
        "./factory.duckdb).",
        envvar="FACTORYBRAIN_DB",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
RayOption = Annotated[
    str | None,
    typer.Option(
        "--ray",
        metavar="ADDRESS",
        help="Run the heavy work (models per asset, forecasts, matching, what-if plans) as tasks "
        "on a Ray cluster: its head's host:port, 'auto' (the cluster started on this machine) or "
        "'local' (one started for this command). Default: $FACTORYBRAIN_RAY_ADDRESS, else here.",
        envvar="FACTORYBRAIN_RAY_ADDRESS",
        show_default=False,
    ),
]

P = ParamSpec("P")
R = TypeVar("R")


def friendly_errors(function: Callable[P, R]) -> Callable[P, R]:
    """Turn factorybrain's own errors into one red line, secrets masked, and exit status 1."""

    @wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except FactorybrainError as error:
            print_error(error)
            raise typer.Exit(1) from None

    return wrapper


def print_error(message: object) -> None:
    """Print an error (an exception or its message) as one red line on stderr, secrets masked.

    Every error the command prints goes through here, redacted by
    :func:`factorybrain.secrets.redact`.
    """
    errors.print(f"[red]error:[/red] {redact(str(message))}", highlight=False, soft_wrap=True)


def open_db(
    db: str | Path | None, *, read_only: bool = False, migrate: bool = False
) -> DuckDBStore:
    """Open the store of ``--db``; without ``migrate`` a missing file is an error, not created.

    Args:
        db: The store file or a ``postgresql://`` URL; None means ``$FACTORYBRAIN_DB`` or
            ``./factory.duckdb``.
        read_only: Open without write access.
        migrate: Create the store or bring its schema up to date.
    """
    import duckdb

    from factorybrain.exceptions import StoreError
    from factorybrain.store import StoreLockedError, default_db, is_postgres_url, open_store

    path = db or default_db()
    if not migrate and not is_postgres_url(path) and not Path(path).exists():
        raise StoreError(f"no store at {path}; create one with 'factorybrain init --db {path}'")
    try:
        return open_store(path, read_only=read_only, migrate=migrate)  # type: ignore[return-value]
    except StoreLockedError as error:
        raise error.with_remedy(_lock_remedy(error)) from None
    except (duckdb.Error, StoreError, OSError) as error:
        from factorybrain.connectors import no_room

        room = no_room(error, str(path))
        if room is None:
            raise
        # Each migration is a transaction of its own: the one that failed was rolled back.
        raise StoreError(
            f"cannot open the store: {room.what} ({room.detail}); what could not be written "
            f"was rolled back. To open it, {room.remedy}, then run the command again."
        ) from None


def _lock_remedy(error: StoreLockedError) -> str:
    """What the running command can do about a store another process holds.

    A command with ``--api`` is told to send its request to the server that holds the store
    (its URL, when the server recorded one); a command without is told it cannot go through a
    server, and what to do instead.
    """
    context = _click_context()
    if context is None:  # not run as a command: the general advice
        return error.default_remedy()
    name, has_api = "this command", False
    if context is not None:
        root = context.find_root().info_name or ""
        name = context.command_path.removeprefix(root).strip() or name
        has_api = any(parameter.name == "api" for parameter in context.command.params)
    url = error.holder.url if error.holder is not None else None
    if has_api and url:
        return (
            f"Send this command to that server instead: add '--api {url}' and a token "
            "('--token' or $FACTORYBRAIN_TOKEN), or set $FACTORYBRAIN_API."
        )
    if has_api:
        return (
            "If it is a factorybrain server, add '--api URL' (the URL it serves at) and a token "
            "('--token' or $FACTORYBRAIN_TOKEN); otherwise wait until it ends, or stop it."
        )
    stop = f"stop the server at {url} first" if url else "wait until that process ends, or stop it"
    command = f"'factorybrain {name}'" if name != "this command" else "this command"
    return f"{command} cannot go through a server (it has no '--api'): {stop}, then run it again."


def _click_context() -> Any:
    """The context of the command running (Typer's own copy of Click's), or None."""
    try:
        from typer._click.globals import get_current_context
    except ImportError:  # a Typer that uses Click itself
        from click import get_current_context  # type: ignore[no-redef]
    return get_current_context(silent=True)


#: What a TIME option takes, said in help and in errors.
_MOMENT_EXPECTED = (
    "an ISO time such as 2025-05-01 or 2025-05-01T06:00 (UTC unless it has an offset such as "
    "+02:00)"
)


def parse_moment(value: str | datetime) -> datetime:
    """Read a TIME option (ISO 8601; UTC unless it has an offset) as naive UTC.

    The parser of every option that takes a moment (``--as-of``, ``--start``, ``--from``...):
    Click names the option in front of the message and exits with status 2.

    Raises:
        typer.BadParameter: Saying what was expected and what was found.
    """
    from factorybrain.agents import utc

    if isinstance(value, datetime):
        moment = utc(value)
    else:
        try:
            moment = utc(value.strip())
        except ValueError:
            raise typer.BadParameter(f"expected {_MOMENT_EXPECTED}; found {value!r}") from None
    assert moment is not None
    return moment


#: Units of a span option, by the letters that name them.
_SPAN_UNITS = {
    "s": 1,
    "sec": 1,
    "min": 60,
    "m": 60,
    "h": 3600,
    "hr": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "w": 604800,
    "wk": 604800,
}


def parse_span(value: str | timedelta) -> timedelta:
    """Read a SPAN option: a number and a unit (``15min``, ``1h``, ``1.5d``, ``2w``).

    Raises:
        typer.BadParameter: Saying what was expected and what was found.
    """
    import re

    if isinstance(value, timedelta):
        span: timedelta | None = value
    else:
        found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)\s*", value)
        unit = _SPAN_UNITS.get(found.group(2).lower()) if found else None
        span = timedelta(seconds=float(found.group(1)) * unit) if found and unit else None
    if span is None or span <= timedelta(0):
        raise typer.BadParameter(
            f"expected a positive span: a number and s, min, h, d or w (15min, 1h, 6h, 1d, 7d); "
            f"found {value!r}"
        )
    return span


def one_of(*choices: str, known: Callable[[], Iterable[str]] | None = None) -> Callable[[Any], Any]:
    """A callback that lets an option take only ``choices`` (any case), or what ``known`` lists.

    ``known`` is called only when the option is given, so that a command whose choices live in
    a package slow to import (the agents' statuses) keeps its help fast. The value comes back
    spelled as the choice is (a number as it is); a repeated option is checked value by value.
    Click names the option in front of the message and exits with status 2.
    """

    def check(value: Any) -> Any:
        if value is None:
            return None
        allowed = list(known()) if known is not None else list(choices)
        spelled = {choice.casefold(): choice for choice in allowed}
        values = value if isinstance(value, list | tuple) else [value]
        for one in values:
            if str(one).casefold() not in spelled:
                raise typer.BadParameter(f"expected {_listed(allowed)}; found {one!r}")
        chosen = [spelled[one.casefold()] if isinstance(one, str) else one for one in values]
        return chosen if isinstance(value, list | tuple) else chosen[0]

    return check


def _listed(choices: list[str]) -> str:
    """``a``, ``a or b``, ``a, b or c``: the choices as a sentence says them."""
    if len(choices) == 1:
        return choices[0]
    return f"{', '.join(choices[:-1])} or {choices[-1]}"


def choices_metavar(*choices: str) -> str:
    """How help shows an option of fixed choices: ``<a|b|c>``, as Typer shows its own types."""
    return f"<{'|'.join(choices)}>"


def use_ray(address: str | None, *, quiet: bool = False) -> None:
    """Send the heavy work to the Ray cluster at ``address`` (None or empty: run it here).

    Raises:
        ComputeError: If the cluster cannot be reached or Ray is not installed (one line).
    """
    from factorybrain import compute

    if not address:
        compute.configure(None)
        return
    with working(f"connecting to the Ray cluster at {address}", quiet=quiet):
        compute.configure(address)


@contextmanager
def working(description: str, *, quiet: bool = False) -> Iterator[None]:
    """A spinner with what is being done and the time it has taken, on stderr (a terminal only).

    For a step that may take more than a second and reports no progress of its own (an agent
    run, a plan, a backup): the user sees that it works, not a silent prompt.
    """
    with _progress(TextColumn(""), quiet=quiet) as progress:
        progress.add_task(description, total=None)
        yield


@contextmanager
def warnings_as_lines() -> Iterator[None]:
    """Catch the warnings of the block and print each distinct one as one line on stderr.

    What the engines warn of (short histories, missing limits, no data to plan) is part of the
    answer: the user gets ``warning: ...`` once per message, secrets masked, instead of Python's
    warning with its source line; standard output keeps only the answer (a JSON one included).
    """
    from rich.markup import escape

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            for message in dict.fromkeys(redact(str(w.message)) for w in caught):
                errors.print(
                    f"[yellow]warning:[/yellow] {escape(message)}", highlight=False, soft_wrap=True
                )


def step_progress(*, quiet: bool) -> Progress:
    """A progress display counting steps, on stderr, shown only on a terminal."""
    return _progress(MofNCompleteColumn(), quiet=quiet)


@dataclass(frozen=True)
class Caller:
    """Who runs a command, as authenticated: a token's holder, or the operating-system user.

    Whoever can write the store file can change anything in it, so the local user acts as an
    admin; the audit log names them by their login (``os:<login>``). A token
    (``--token`` / ``$FACTORYBRAIN_TOKEN``) acts with its holder's name, role and scopes.
    """

    actor: str
    role: str
    scopes: tuple[str, ...]


TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        help="Act as this API token's holder (default: $FACTORYBRAIN_TOKEN, else as the "
        "operating-system user).",
        envvar="FACTORYBRAIN_TOKEN",
        show_default=False,
    ),
]


def caller(store: Store, token: str | None) -> Caller:
    """The caller of a command: the holder of ``token``, else the operating-system user.

    Raises:
        StoreError: If ``token`` is given and is not valid.
    """
    import getpass

    from factorybrain.api import ROLE_SCOPES, TokenStore
    from factorybrain.exceptions import StoreError

    if token:
        holder = TokenStore(store).check(token)
        if holder is None:
            raise StoreError("the token given (--token or $FACTORYBRAIN_TOKEN) is not valid")
        return Caller(holder.actor, holder.role, holder.scopes)
    return Caller(f"os:{getpass.getuser()}", "admin", ROLE_SCOPES["admin"])


def orchestrator_for(store: Store, *, with_agents: bool = False) -> Orchestrator:
    """The orchestrator over ``store``, with every installed agent or with none."""
    from factorybrain.agents import installed_orchestrator

    return installed_orchestrator(store, with_agents=with_agents)


def serve_until_stopped(
    store: DuckDBStore,
    *,
    host: str,
    port: int,
    tokens: TokenStore,
    orchestrator: Orchestrator,
    announce: Callable[[bool], None],
    schedule_every: float | None = None,
    require_dashboard: bool = False,
    public_url: str | None = None,
) -> None:
    """Serve the REST API and the dashboard over an open store with uvicorn until stopped.

    What ``factorybrain serve`` and the demo share: the app prepares the slow answers at start
    (:func:`~factorybrain.api.create_app` with ``prepare=True``), the dashboard is mounted at
    ``/`` when it is installed, and the store is closed when the server stops.

    Args:
        store: The open store; closed at the end.
        host: Interface to listen on.
        port: Port to listen on.
        tokens: The API tokens (:class:`~factorybrain.api.TokenStore`).
        orchestrator: The orchestrator that decides and applies actions (and runs the agents).
        announce: Called once the app is built, with whether the dashboard is mounted, to say
            where it listens.
        schedule_every: Seconds between runs of the agents' schedules (None: never).
        require_dashboard: Fail when the dashboard is not installed instead of serving the API
            alone.
        public_url: The URL clients reach the server at (behind a reverse proxy); by default
            ``http://host:port`` (loopback when listening on every interface). Recorded next
            to the store while serving (:func:`factorybrain.store.holding`), so that a command
            that meets the store's lock names it.
    """
    import uvicorn

    from factorybrain.api import create_app
    from factorybrain.store import DuckDBStore, holding

    try:
        application = create_app(
            store,
            tokens=tokens,
            orchestrator=orchestrator,
            schedule_every=schedule_every,
            prepare=True,
        )
        try:
            from factorybrain.web import mount_dashboard
        except ImportError:  # the dashboard is optional
            if require_dashboard:
                raise
            dashboard = False
        else:
            mount_dashboard(application)
            dashboard = True
        announce(dashboard)
        if not isinstance(store, DuckDBStore):  # a server database: no file to hold
            uvicorn.run(application, host=host, port=port, log_level="warning")
            return
        with holding(store.path, public_url or local_url(host, port)):
            uvicorn.run(application, host=host, port=port, log_level="warning")
    finally:
        store.close()


def local_url(host: str, port: int) -> str:
    """The URL a client on this machine reaches a server listening on ``host``:``port`` at."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def frame_table(frame: Any, title: str | None = None) -> Table:
    """A Rich table of a data frame, every value as text (None as an empty cell)."""
    table = Table(title=title, title_justify="left", show_lines=False)
    for column in frame.columns:
        table.add_column(str(column), overflow="fold")
    for row in frame.itertuples(index=False):
        table.add_row(*["" if v is None else str(v) for v in row])
    return table


def row_progress(*, quiet: bool) -> Progress:
    """A progress display counting rows, on stderr, shown only on a terminal."""
    return _progress(TextColumn("{task.completed:,.0f} rows"), quiet=quiet)


def _progress(count: ProgressColumn, *, quiet: bool) -> Progress:
    """A bar on stderr with what is done, ``count`` of it and the time taken; a terminal only."""
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        count,
        TimeElapsedColumn(),
        console=errors,
        transient=True,
        disable=quiet or not errors.is_terminal,
    )


def load_with_progress(
    store: DuckDBStore,
    manifest: Path,
    *,
    root: Path | None = None,
    quiet: bool = False,
    actor: str = "system",
) -> PlantLoad:
    """Load a plant manifest with one progress bar per file; each file is audited."""
    from factorybrain.connectors import load_plant

    with row_progress(quiet=quiet) as progress:

        def on_file(entry: ManifestEntry) -> Callable[[int], None]:
            name = entry.file.name if isinstance(entry.file, Path) else "database"
            where = f"{entry.site}: " if entry.site else ""
            task = progress.add_task(f"ingest {where}{name}", total=None)
            return lambda rows: progress.update(task, completed=rows)

        result = load_plant(store, manifest, root=root, on_file=on_file, actor=actor)
    audit_ingests(store, actor, result.reports)
    return result


def audit_ingests(store: Store, actor: str, reports: Iterable[IngestReport]) -> None:
    """One audit entry per file loaded: who loaded what, and what it changed."""
    from factorybrain.agents import AgentRecords, utcnow

    records = AgentRecords(store)
    for report in reports:
        records.audit_ingest(actor, report, at=utcnow())
