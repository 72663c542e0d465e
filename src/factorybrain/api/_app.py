"""The REST API: the factory model, the agents' records and people's decisions over HTTP.

Every route sits under ``/api/v1`` and needs ``Authorization: Bearer <token>`` (see
:class:`factorybrain.api.TokenStore`), except ``/api/v1/health``. Reads need the role
``viewer``; proposing an action needs ``engineer``; approving or rejecting needs the role the
action's policy names. Every write is an audit entry. ``/metrics`` (Prometheus text format, at
the root) needs a token of any role unless its setting opens it (:mod:`factorybrain.api._metrics`).

Every error, whatever raised it, is one shape: problem details (RFC 9457,
``application/problem+json``) with ``detail`` and the error's class in ``error``
(:mod:`factorybrain.api._problems`). A request body is at most ``max_body_bytes`` (413 before
it is read, before authentication), strict JSON (no ``NaN``, no key twice: 422 before the route
runs) and within the bounds of its schema (422); every answer carries the security headers
(:mod:`factorybrain.api._middleware`). Beyond ``max_in_flight`` requests at once the server
sheds load: 503 with ``Retry-After``, at once (the health check is always answered). The API's
docs (``/docs``, ``/redoc``) are served from files in the package (:mod:`factorybrain.api._docs`).

:func:`create_app` composes the app: what it runs on (store, tokens, orchestrator, store
access, on ``app.state``), its lifespan, the middleware, the error handlers, and the routes of
the routers of :mod:`factorybrain.api._routes`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread
from fastapi import APIRouter, FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from factorybrain.agents import (
    ActionStateError,
    AgentRecords,
    Orchestrator,
    PermissionDeniedError,
    RecordNotFoundError,
    installed_orchestrator,
)
from factorybrain.api._cache import ReadCache, cache_bytes
from factorybrain.api._deps import RateLimits, StoreAccess
from factorybrain.api._docs import add_docs
from factorybrain.api._metrics import (
    METRICS_PATH,
    Metrics,
    RequestMetrics,
    metrics_auth,
    metrics_endpoint,
)
from factorybrain.api._middleware import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_IN_FLIGHT,
    SECURITY_HEADERS,
    BodyLimit,
    InFlightLimit,
    SecurityHeaders,
)
from factorybrain.api._problems import (
    database_gone,
    domain_error,
    http_error,
    server_error,
    validation_error,
)
from factorybrain.api._routes import installed
from factorybrain.api._schemas import ERROR_RESPONSES, problem_components
from factorybrain.api._strict_json import StrictJSONRoute
from factorybrain.api._tokens import TokenStore
from factorybrain.exceptions import FactorybrainError, ParameterError
from factorybrain.store import ServerGone, Store, open_store

API_PREFIX = "/api/v1"
T = TypeVar("T")
logger = logging.getLogger(__name__)
#: The environment variable that sets the largest request body, in bytes (default 1 MiB).
MAX_BODY_BYTES_ENV = "FACTORYBRAIN_MAX_BODY_BYTES"
#: The environment variable that sets the most requests one server process answers at once.
MAX_IN_FLIGHT_ENV = "FACTORYBRAIN_MAX_IN_FLIGHT"
#: The path of the health check, answered even beyond ``max_in_flight``.
HEALTH_PATH = "/health"
#: Seconds a client is asked to wait (``Retry-After``) when the database stopped answering.
DATABASE_RETRY_AFTER_S = 5
#: The environment variable that sets the largest file ``POST /api/v1/ingest`` accepts, in bytes.
MAX_UPLOAD_BYTES_ENV = "FACTORYBRAIN_MAX_UPLOAD_BYTES"
#: The path of the upload of a file to ingest (under the API's prefix).
INGEST_PATH = "/ingest"


def create_app(
    store: Store | str | Path,
    *,
    tokens: TokenStore | None = None,
    orchestrator: Orchestrator | None = None,
    schedule_every: float | None = None,
    prepare: bool = False,
    max_body_bytes: int | None = None,
    rate_limits: RateLimits | None = None,
    max_in_flight: int | None = None,
    metrics: str | None = None,
    max_upload_bytes: int | None = None,
    read_cache_bytes: int | None = None,
    close_store: bool = False,
) -> FastAPI:
    """Build the REST API over a store.

    Args:
        store: An open store, or the path of a store file (opened, migrated, and closed when
            the app shuts down).
        tokens: API tokens and sessions; by default those kept in the store.
        orchestrator: The orchestrator whose policies and executors decide and apply actions;
            by default one with no agents, the default policies and executors.
        schedule_every: When set, every this many seconds the app calls the orchestrator's
            ``run_scheduled()`` (agents whose interval has passed run, between requests).
        prepare: At start, compute in the background what takes seconds on first request (the
            demand plan behind ``/forecasts``), so the first visitor does not wait for it.
        max_body_bytes: The largest request body accepted, in bytes; a larger one is answered
            413 before it is read. By default ``$FACTORYBRAIN_MAX_BODY_BYTES``, else 1 MiB.
        rate_limits: Writes and runs of the agents allowed per token
            (:attr:`RateLimits.DEFAULTS` by default).
        max_in_flight: The most requests answered at once (per process); beyond it a request
            is answered 503 with ``Retry-After: 1`` at once instead of waiting, except the
            health check. By default ``$FACTORYBRAIN_MAX_IN_FLIGHT``, else 32.
        metrics: Whether ``/metrics`` (Prometheus text format) needs an API token
            (``"token"``) or not (``"open"``); by default ``$FACTORYBRAIN_METRICS_AUTH``, else
            ``"token"`` (:mod:`factorybrain.api._metrics`).
        max_upload_bytes: The largest file accepted by ``POST /api/v1/ingest``, in bytes; by
            default ``$FACTORYBRAIN_MAX_UPLOAD_BYTES``, else 512 MiB.
        read_cache_bytes: Bytes of read answers kept between requests, each until a table it
            read is written (:mod:`factorybrain.api._cache`; 0 keeps none); by default
            ``$FACTORYBRAIN_READ_CACHE_BYTES``, else 32 MiB.
        close_store: Close an open ``store`` when the app shuts down (an API worker's own).

    Returns:
        The FastAPI application; ``app.state.store``, ``app.state.orchestrator`` and
        ``app.state.tokens`` hold what it runs on.

    Raises:
        ParameterError: ``max_body_bytes``, ``max_in_flight`` or ``max_upload_bytes`` (or
            their environment variables) is not a positive integer, ``read_cache_bytes`` (or
            its variable) is negative or no integer, or ``metrics`` is neither ``token`` nor
            ``open``.
    """
    body_limit = _limit(
        max_body_bytes, "max_body_bytes", MAX_BODY_BYTES_ENV, DEFAULT_MAX_BODY_BYTES, "bytes"
    )
    in_flight_limit = _limit(
        max_in_flight, "max_in_flight", MAX_IN_FLIGHT_ENV, DEFAULT_MAX_IN_FLIGHT, "requests"
    )
    upload_limit = _limit(
        max_upload_bytes, "max_upload_bytes", MAX_UPLOAD_BYTES_ENV, 512 * 1024 * 1024, "bytes"
    )
    metrics_setting = metrics_auth(metrics)
    owns_store = close_store or not isinstance(store, Store)
    opened: Store = store if isinstance(store, Store) else open_store(store, migrate=True)
    token_store = tokens or TokenStore(opened)
    conductor = orchestrator or installed_orchestrator(opened, with_agents=False)
    access = StoreAccess(opened, conductor.records, ReadCache(cache_bytes(read_cache_bytes)))
    figures = Metrics(getattr(opened, "path", None), read=partial(_read_with, access))
    figures.cache = access.cache  # its hits, misses and bytes on /metrics
    # Each run of the agents (the schedule's or one asked for) is timed for /metrics.
    setattr(access, "run_agents", figures.timed_agent_runs(access.run_agents))  # noqa: B010
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

    def _run_scheduled(runner: Orchestrator) -> dict[str, Any]:
        # Over the runner's own connection: proposals and approvals go on while agents run.
        return runner.run_scheduled().dump()

    scheduled_runs: set[asyncio.Task[dict[str, Any] | None]] = set()

    async def _tick() -> None:
        while True:
            await asyncio.sleep(schedule_every or 60)
            # In a worker thread: requests go on while the agents run. Shielded, so that
            # stopping the ticker lets a started run finish (the lifespan waits for it).
            # A run someone asked for may be going on: then this tick skips (None).
            run = asyncio.ensure_future(access.run_agents(conductor, _run_scheduled))
            scheduled_runs.add(run)
            run.add_done_callback(scheduled_runs.discard)
            try:
                report = await asyncio.shield(run)
            except Exception as error:  # the schedule goes on; the failure is logged and kept
                logger.exception("the scheduled run of the agents failed")
                app.state.last_scheduled_error = f"{type(error).__name__}: {error}"
                continue
            if report is not None:
                app.state.last_scheduled_run = report

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
        docs_url=None,  # the docs pages are the package's own, offline: add_docs below
        redoc_url=None,
    )
    # Every route of the app parses a JSON body strictly (no NaN, no key twice) before it runs.
    app.router.route_class = StrictJSONRoute
    app.state.store = opened
    app.state.orchestrator = conductor
    app.state.tokens = token_store
    app.state.access = access
    app.state.last_scheduled_run = None
    app.state.last_scheduled_error = None
    app.state.rate_limits = rate_limits or RateLimits()
    app.state.preparing = []
    app.state.max_body_bytes = body_limit
    app.state.max_in_flight = in_flight_limit
    app.state.metrics = figures
    app.state.metrics_auth = metrics_setting
    app.state.started = time.monotonic()

    # Outermost first: the security headers go on every answer, the 503 and 413 included; load
    # is shed before anything else is done; the body limit runs before routing, so before
    # authentication.
    app.add_middleware(
        BodyLimit, max_body_bytes=body_limit, larger={API_PREFIX + INGEST_PATH: upload_limit}
    )
    app.add_middleware(
        InFlightLimit,
        max_in_flight=in_flight_limit,
        exempt_paths=[API_PREFIX + HEALTH_PATH, METRICS_PATH],
    )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestMetrics, metrics=figures)  # outermost: every answer is counted

    # Every error in one shape (problem details); the router's 404 and 405 are HTTPExceptions.
    app.add_exception_handler(RecordNotFoundError, domain_error(404))
    app.add_exception_handler(PermissionDeniedError, domain_error(403))
    app.add_exception_handler(ActionStateError, domain_error(409))
    app.add_exception_handler(ParameterError, domain_error(422))
    app.add_exception_handler(ServerGone, database_gone(DATABASE_RETRY_AFTER_S))
    app.add_exception_handler(FactorybrainError, domain_error(400))
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, server_error(SECURITY_HEADERS))
    _document_problems(app)
    add_docs(app)
    app.add_route(METRICS_PATH, metrics_endpoint, include_in_schema=False)

    for router in routes.routers:
        _include(app, router)
    return app


def _read_with(access: StoreAccess, work: Callable[[Store, AgentRecords], T]) -> T:
    """``work`` over the store and records of the calling thread's reader (for /metrics)."""
    with access.read() as (reader, records):
        return work(reader, records)


def _limit(given: int | None, name: str, variable: str, default: int, unit: str) -> int:
    """The limit ``name``: ``given``, else ``$variable``, else ``default``; a positive integer."""
    if given is None:
        setting = os.environ.get(variable, "").strip()
        if not setting:
            return default
        try:
            given = int(setting)
        except ValueError:
            raise ParameterError(
                f"${variable} must be a number of {unit}, got {setting!r}"
            ) from None
    if isinstance(given, bool) or not isinstance(given, int) or given < 1:
        raise ParameterError(f"{name} must be a positive integer, got {given!r}")
    return given


def _document_problems(app: FastAPI) -> None:
    """Add the error answers' shape to the app's OpenAPI document (``components``)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        fresh = app.openapi_schema is None
        document = generate()  # FastAPI's, made once and kept on the app
        if fresh:
            components = document.setdefault("components", {})
            for kind, found in problem_components().items():
                components.setdefault(kind, {}).update(found)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


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
