"""The REST API: the factory model, the agents' records and people's decisions over HTTP.

Every route sits under ``/api/v1`` and needs ``Authorization: Bearer <token>`` (see
:class:`factorybrain.api.TokenStore`), except ``/api/v1/health``. Reads need the role
``viewer``; proposing an action needs ``engineer``; approving or rejecting needs the role the
action's policy names. Every write is an audit entry. Errors have one shape,
``{"detail": "...", "error": "<ErrorClass>"}``, with 401, 403, 404, 409 or 422.

:func:`create_app` composes the app: what it runs on (store, tokens, orchestrator, store
access, on ``app.state``), its lifespan, the error handlers, and the routes of the routers of
:mod:`factorybrain.api._routes`.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from factorybrain.agents import (
    ActionStateError,
    Orchestrator,
    PermissionDeniedError,
    RecordNotFoundError,
)
from factorybrain.api._deps import StoreAccess
from factorybrain.api._routes import installed
from factorybrain.api._schemas import ERROR_RESPONSES
from factorybrain.api._tokens import TokenStore, default_tokens_path
from factorybrain.exceptions import FactorybrainError, ParameterError
from factorybrain.store import Store, open_store

API_PREFIX = "/api/v1"


def create_app(
    store: Store | str | Path,
    *,
    tokens: TokenStore | None = None,
    orchestrator: Orchestrator | None = None,
    schedule_every: float | None = None,
    prepare: bool = False,
) -> FastAPI:
    """Build the REST API over a store.

    Args:
        store: An open store, or the path of a store file (opened, migrated, and closed when
            the app shuts down).
        tokens: API tokens; by default the file next to the store (or ``$FACTORYBRAIN_TOKENS``).
        orchestrator: The orchestrator whose policies and executors decide and apply actions;
            by default one with no agents, the default policies and executors.
        schedule_every: When set, every this many seconds the app calls the orchestrator's
            ``run_scheduled()`` (agents whose interval has passed run, between requests).
        prepare: At start, compute in the background what takes seconds on first request (the
            demand plan behind ``/forecasts``), so the first visitor does not wait for it.

    Returns:
        The FastAPI application; ``app.state.store``, ``app.state.orchestrator`` and
        ``app.state.tokens`` hold what it runs on.
    """
    owns_store = not isinstance(store, Store)
    opened: Store = store if isinstance(store, Store) else open_store(store, migrate=True)
    token_store = tokens or TokenStore(default_tokens_path(getattr(opened, "path", None)))
    conductor = orchestrator or Orchestrator(opened)
    access = StoreAccess(opened, conductor.records)
    routes = installed()  # the optional layers are looked for now, as in every new app

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        ticker = asyncio.create_task(_tick()) if schedule_every else None
        # Slow answers prepared before anyone asks for them; requests are served meanwhile.
        preparing = [
            threading.Thread(
                target=warm_up, args=(access,), name="factorybrain-prepare", daemon=True
            )
            for warm_up in (routes.warm_ups if prepare else [])
        ]
        for thread in preparing:
            thread.start()
        app.state.preparing = preparing
        try:
            yield
        finally:
            if ticker is not None:
                ticker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ticker
            # A run of the agents goes on in its worker thread when the ticker is cancelled:
            # the store must not be closed under it.
            for run in list(scheduled_runs):
                with contextlib.suppress(Exception):
                    await run
            for thread in preparing:  # its reader must not be closed under a running query
                await anyio.to_thread.run_sync(thread.join)
            access.close()
            if owns_store:
                opened.close()

    def _run_scheduled() -> dict[str, Any]:
        with access.write():
            return conductor.run_scheduled().dump()

    scheduled_runs: set[asyncio.Task[dict[str, Any]]] = set()

    async def _tick() -> None:
        while True:
            await asyncio.sleep(schedule_every or 60)
            # In a worker thread: requests go on while the agents run. Shielded, so that
            # stopping the ticker lets a started run finish (the lifespan waits for it).
            run = asyncio.ensure_future(anyio.to_thread.run_sync(_run_scheduled))
            scheduled_runs.add(run)
            run.add_done_callback(scheduled_runs.discard)
            app.state.last_scheduled_run = await asyncio.shield(run)

    app = FastAPI(
        title="factorybrain",
        version="1",
        description=(
            "The factory model, the agents' findings, recommendations and actions, and the "
            "audit log. Authenticate with `Authorization: Bearer <token>`; create a token with "
            "`factorybrain token create --role planner --name ann`."
        ),
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
    )
    app.state.store = opened
    app.state.orchestrator = conductor
    app.state.tokens = token_store
    app.state.access = access
    app.state.last_scheduled_run = None
    app.state.preparing = []

    app.add_exception_handler(RecordNotFoundError, _error(404))
    app.add_exception_handler(PermissionDeniedError, _error(403))
    app.add_exception_handler(ActionStateError, _error(409))
    app.add_exception_handler(ParameterError, _error(422))
    app.add_exception_handler(FactorybrainError, _error(400))

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, error: HTTPException) -> JSONResponse:
        return JSONResponse(
            {"detail": error.detail, "error": "HTTPException"},
            status_code=error.status_code,
            headers=error.headers,
        )

    for router in routes.routers:
        _include(app, router)
    return app


def _include(app: FastAPI, router: APIRouter) -> None:
    """Add the routes of ``router``, under :data:`API_PREFIX`, to the app's own route table.

    The same routes and OpenAPI document as ``app.include_router(router, prefix=API_PREFIX)``,
    without its cost per request: FastAPI 0.165 keeps an included router as one route that
    matches its own routes again on every request, twice (to find the route, then to handle
    it), measured at 10 to 100 us more per request than the same routes in the app's table,
    more the further down the table. Each route keeps its responses, tags and dependencies;
    the app adds its ``responses`` and defaults as for a route of its own.
    """
    for route in router.routes:
        if not isinstance(route, APIRoute):
            raise TypeError(f"{route!r}: only API routes can be added to the app this way")
        app.router.add_api_route(
            API_PREFIX + route.path,
            route.endpoint,
            response_model=route.response_model,
            status_code=route.status_code,
            tags=route.tags,
            dependencies=route.dependencies,
            summary=route.summary,
            description=route.description,
            response_description=route.response_description,
            responses=route.responses,
            deprecated=route.deprecated,
            methods=route.methods,
            operation_id=route.operation_id,
            response_model_include=route.response_model_include,
            response_model_exclude=route.response_model_exclude,
            response_model_by_alias=route.response_model_by_alias,
            response_model_exclude_unset=route.response_model_exclude_unset,
            response_model_exclude_defaults=route.response_model_exclude_defaults,
            response_model_exclude_none=route.response_model_exclude_none,
            include_in_schema=route.include_in_schema,
            response_class=route.response_class,
            name=route.name,
            callbacks=route.callbacks,
            openapi_extra=route.openapi_extra,
            generate_unique_id_function=route.generate_unique_id_function,
        )


def _error(status: int) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    """An exception handler: the error's message and class, with ``status``."""

    async def handler(_: Request, error: Exception) -> JSONResponse:
        return JSONResponse(
            {"detail": str(error), "error": type(error).__name__}, status_code=status
        )

    return handler
