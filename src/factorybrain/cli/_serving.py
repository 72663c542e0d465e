"""Commands that serve the store to others: ``serve`` (REST API and dashboard) and ``mcp``."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated

import typer

from factorybrain.cli._common import (
    DbOption,
    RayOption,
    choices_metavar,
    console,
    friendly_errors,
    one_of,
    open_db,
    orchestrator_for,
    serve_until_stopped,
    use_ray,
)

if TYPE_CHECKING:
    from factorybrain.api import TokenStore
    from factorybrain.store import PostgresStore

app = typer.Typer()

#: How ``mcp`` talks to an assistant.
TRANSPORTS = ("stdio", "http")


# -- serve -------------------------------------------------------------------------------------
@app.command()
@friendly_errors
def serve(
    db: DbOption = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    schedule: Annotated[
        float,
        typer.Option(
            help="Seconds between runs of the agents' schedules while serving (0: never).",
            min=0,
        ),
    ] = 60.0,
    public_url: Annotated[
        str | None,
        typer.Option(
            help="The URL clients reach this server at, e.g. behind a reverse proxy "
            "(default: http://HOST:PORT). Other commands that meet the store's lock name it.",
            show_default=False,
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            help="API worker processes; more than one needs a PostgreSQL store "
            "(--db postgresql://...). One of them runs the agents' schedules.",
            min=1,
        ),
    ] = 1,
    ray: RayOption = None,
) -> None:
    """Serve the dashboard (at /) and the REST API (docs at /docs) over the store with uvicorn.

    Requests need `Authorization: Bearer <token>`; create one with `factorybrain token create`.
    The installed agents run on their schedules inside the server. The store file is locked
    while it serves: the server records its URL next to the store (`STORE.server.json`), and
    other commands that meet the lock say so and take `--api URL` to go through the server.
    Prometheus metrics are at /metrics (a token of any role, unless
    `$FACTORYBRAIN_METRICS_AUTH=open`); the health check at /api/v1/health.

    With a PostgreSQL store (`--db postgresql://...`), `--workers N` serves from N processes,
    and ingestion, `agents run` and the CLI work on the same store meanwhile. With `--ray`, the
    agents' heavy work runs on a Ray cluster.

    Example: `factorybrain serve --db plant.duckdb --port 8000`
    """
    from factorybrain.api import TokenStore
    from factorybrain.compute import RAY_ADDRESS_ENV
    from factorybrain.exceptions import ParameterError, StoreError
    from factorybrain.store import PostgresStore

    if workers > 1 and ray == "local":
        raise ParameterError(
            f"--ray local with --workers {workers} would start a Ray instance in every worker: "
            "start one cluster (`ray start --head`) and pass --ray auto or its address"
        )
    use_ray(ray)
    if ray:
        os.environ[RAY_ADDRESS_ENV] = ray  # the workers' processes connect to the same cluster
    store = open_db(db)
    if workers > 1:
        if not isinstance(store, PostgresStore):
            store.close()
            raise StoreError(
                f"--workers {workers} needs a PostgreSQL store (--db postgresql://...): the "
                f"DuckDB file {store.path} is held by one process"
            )
        _serve_workers(store, host, port, workers, schedule)
        return
    token_store = TokenStore(store)
    _say_when_no_token(token_store, store.path)

    def announce(dashboard: bool) -> None:
        console.print(
            f"serving {store.path} on http://{host}:{port} "
            f"({'dashboard at /, ' if dashboard else ''}API docs at /docs)"
        )

    serve_until_stopped(
        store,
        host=host,
        port=port,
        tokens=token_store,
        orchestrator=orchestrator_for(store, with_agents=True),
        schedule_every=schedule or None,
        announce=announce,
        public_url=public_url,
    )


def _say_when_no_token(tokens: TokenStore, where: str) -> None:
    """Say how to create the first token when the store has none."""
    if not tokens.list():
        console.print(
            "[yellow]no API tokens yet[/yellow]: create one with "
            f"'factorybrain token create --role admin --name you --db {where}'"
        )


def _serve_workers(
    store: PostgresStore, host: str, port: int, workers: int, schedule: float
) -> None:
    """Serve from ``workers`` uvicorn processes, each opening the PostgreSQL store itself."""
    import uvicorn

    from factorybrain.api import TokenStore
    from factorybrain.cli._workers import SCHEDULE_ENV

    _say_when_no_token(TokenStore(store), store.path)
    store.close()
    os.environ["FACTORYBRAIN_DB"] = store.url
    os.environ[SCHEDULE_ENV] = str(schedule)
    console.print(
        f"serving {store.path} on http://{host}:{port} with {workers} workers "
        "(dashboard at /, API docs at /docs)"
    )
    uvicorn.run(
        "factorybrain.cli._workers:create_worker_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
    )


# -- mcp ---------------------------------------------------------------------------------------
@app.command("mcp")
@friendly_errors
def mcp_command(
    db: DbOption = None,
    transport: Annotated[
        str,
        typer.Option(
            callback=one_of(*TRANSPORTS),
            metavar=choices_metavar(*TRANSPORTS),
            help="stdio (for a local assistant) or http (streamable HTTP).",
        ),
    ] = "stdio",
    host: Annotated[str, typer.Option(help="Interface for http.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port for http.", min=1, max=65535)] = 8765,
) -> None:
    """Serve the factory model and the agents' records to AI assistants over MCP.

    Tools: plant_status, list_entities, get_entity, series_data, list_findings, get_finding,
    list_actions, audit_log and propose_action (which never executes). Resources: assets and
    documents. Over http every request needs an API token of an engineer or higher, and a
    proposal is the token holder's; over stdio it is the operating-system user's.

    Example: `factorybrain mcp --db plant.duckdb --transport http --port 8765`
    """
    from factorybrain.api import TokenStore
    from factorybrain.mcp import create_http_app, create_server

    with open_db(db) as store:
        server = create_server(store, orchestrator=orchestrator_for(store))
        if transport == "stdio":
            server.run("stdio")
            return
        import uvicorn

        application = create_http_app(server, TokenStore(store))
        console.print(
            f"MCP over streamable HTTP at http://{host}:{port}/mcp "
            "(needs 'Authorization: Bearer <token>' of an engineer or higher)"
        )
        uvicorn.run(application, host=host, port=port, log_level="warning")
