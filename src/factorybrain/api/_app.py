"""The REST API: the factory model, the agents' records and people's decisions over HTTP.

Every route sits under ``/api/v1`` and needs ``Authorization: Bearer <token>`` (see
:class:`factorybrain.api.TokenStore`), except ``/api/v1/health``. Reads need the role
``viewer``; proposing an action needs ``engineer``; approving or rejecting needs the role the
action's policy names. Every write is an audit entry. Errors have one shape,
``{"detail": "...", "error": "<ErrorClass>"}``, with 401, 403, 404, 409 or 422.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Generic, TypeVar

import anyio.to_thread
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from factorybrain.agents import (
    ACTION_STATES,
    FINDING_STATUSES,
    ActionStateError,
    AgentRecords,
    AuditEntry,
    Orchestrator,
    PermissionDeniedError,
    Recommendation,
    RecordNotFoundError,
    describe_playbooks,
    has_role,
)
from factorybrain.api._queries import (
    demand_forecasts,
    get_entity,
    instant,
    known_total,
    list_entities,
    page,
    plan_in_force,
    plant_status,
    rows,
    series_data,
)
from factorybrain.api._tokens import TokenInfo, TokenStore, default_tokens_path
from factorybrain.exceptions import FactorybrainError, NoDataError, ParameterError
from factorybrain.model import entity_type
from factorybrain.store import Store, open_store

API_PREFIX = "/api/v1"
T = TypeVar("T")

#: URL segment -> entity type of the factory model, for the read routes.
ENTITY_ROUTES: dict[str, str] = {
    "assets": "asset",
    "time-series": "time_series",
    "events": "event",
    "products": "product",
    "materials": "material",
    "boms": "bom",
    "suppliers": "supplier",
    "purchase-orders": "purchase_order",
    "lots": "material_lot",
    "supplier-lots": "supplier_lot",
    "work-orders": "work_order",
    "operations": "operation",
    "serials": "serial_unit",
    "quality-results": "quality_result",
    "maintenance-orders": "maintenance_order",
    "stock-levels": "stock_level",
    "sales-orders": "sales_order",
    "shipments": "shipment",
    "customers": "customer",
    "warranty-claims": "warranty_claim",
    "documents": "document",
}
_RESERVED = {"limit", "offset"}


# -- response shapes ------------------------------------------------------------------------------
class Page(BaseModel, Generic[T]):
    """One page of a list; ``next_offset`` is null on the last page."""

    items: list[T]
    total: int
    limit: int
    offset: int
    next_offset: int | None


class EntityRefOut(BaseModel):
    """A pointer to an entity."""

    type: str
    external_id: str
    space: str | None = None


class EvidenceOut(BaseModel):
    """What a finding rests on."""

    refs: list[EntityRefOut]
    numbers: dict[str, float]
    text: str


class FindingOut(BaseModel):
    """Something an agent noticed."""

    id: str
    agent: str
    kind: str
    subject: EntityRefOut
    severity: str
    confidence: float
    evidence: EvidenceOut
    dedup_key: str
    created_at: str | None
    depth: int
    caused_by: str | None
    status: str
    title: str


class RecommendationOut(BaseModel):
    """What an agent proposes; a composite keeps its steps in ``parameters.steps``."""

    id: str
    agent: str
    finding_ids: list[str]
    action_type: str
    parameters: dict[str, Any]
    expected_effect: dict[str, Any]
    requires_approval: bool
    title: str
    dedup_key: str


class ActionOut(BaseModel):
    """A recommendation on its way: proposed, approved, rejected, executed or failed."""

    id: str
    recommendation_id: str
    action_type: str
    state: str
    required_role: str | None
    decided_by: str | None
    decided_at: str | None
    comment: str | None
    result: dict[str, Any] | None
    proposed_at: str | None


class AuditOut(BaseModel):
    """One state change and who made it."""

    id: str
    actor: str
    verb: str
    object_type: str
    object_id: str
    occurred_at: str | None
    details: dict[str, Any]


class Decision(BaseModel):
    """A reviewer's decision on an action."""

    comment: str | None = Field(
        default=None, max_length=2000, description="Why; kept in the audit log."
    )


class ApproveBody(Decision):
    """Approve, and execute unless ``execute`` is false."""

    execute: bool = Field(default=True, description="Apply the action right after approving it.")


class ProposeBody(BaseModel):
    """An action proposed by a person or an assistant; it is never executed by proposing."""

    action_type: str = Field(..., min_length=1, max_length=100, examples=["notify"])
    parameters: dict[str, Any] = Field(default_factory=dict)
    finding_ids: list[str] = Field(default_factory=list, max_length=100)
    expected_effect: dict[str, Any] = Field(default_factory=dict)
    title: str = Field(default="", max_length=200)


class FindingStatusBody(BaseModel):
    """New status of a finding."""

    status: str = Field(..., description=f"One of {list(FINDING_STATUSES)}.")
    comment: str | None = Field(default=None, max_length=2000)


class Point(BaseModel):
    """One datapoint."""

    ts: str
    value: float | None


class Bucket(BaseModel):
    """Summary of one time bucket."""

    bucket: str
    min: float | None
    max: float | None
    mean: float | None
    count: int


class SeriesData(BaseModel):
    """Datapoints of one series in ``[start, end)``, raw or downsampled."""

    series: str
    start: str
    end: str
    every_seconds: float | None
    points: list[Point] | None = None
    buckets: list[Bucket] | None = None
    total: int
    next_offset: int | None = None


class RunBody(BaseModel):
    """Which agents to run; all installed ones when empty."""

    agents: list[str] = Field(default_factory=list, max_length=50)


class Question(BaseModel):
    """A question in plain language."""

    question: str = Field(..., min_length=1, max_length=2000)


class PlanOut(BaseModel):
    """The plan in force: planned operations, the orders they plan, planned maintenance."""

    operations: list[dict[str, Any]]
    orders: list[dict[str, Any]]
    maintenance: list[dict[str, Any]]


class ForecastPage(Page[dict[str, Any]]):
    """Items with their demand forecast and inventory levels, planned at ``as_of``.

    ``as_of`` is null when the store holds no dated demand or stock to plan from.
    """

    as_of: str | None
    warnings: list[str]


class ErrorOut(BaseModel):
    """What every error answer holds: what went wrong, and its kind.

    ``detail`` is text, or for a request that does not match the spec (422 from validation) the
    list of fields that failed with why.
    """

    detail: str | list[dict[str, Any]]
    error: str | None = None


#: Error answers every route may give, documented in the OpenAPI spec with their shape.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "A request the factory model cannot answer."},
    401: {"model": ErrorOut, "description": "No token, or a token that is not valid."},
    403: {"model": ErrorOut, "description": "The token's role may not do this."},
    404: {"model": ErrorOut, "description": "No such entity or record."},
    409: {"model": ErrorOut, "description": "The action is not in a state that allows this."},
    422: {"model": ErrorOut, "description": "A parameter or body that is not valid."},
}


class Health(BaseModel):
    """Liveness, readiness and the schema version of the store."""

    status: str
    schema_version: int
    ready: bool = Field(
        description="False while the server still prepares slow answers in the background "
        "(see `factorybrain serve`); requests are served meanwhile, some more slowly."
    )


Limit = Annotated[int, Query(ge=1, le=1000, description="Page size.")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="Rows to skip.")]


_bearer = HTTPBearer(auto_error=False, description="An API token from `factorybrain token`.")


def _requires(role: str) -> Callable[..., Any]:
    async def check(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> TokenInfo:
        if credentials is None or not credentials.credentials:
            raise HTTPException(
                401,
                "missing token: send 'Authorization: Bearer <token>'",
                headers={"WWW-Authenticate": "Bearer"},
            )
        holder = request.app.state.tokens.check(credentials.credentials)
        if holder is None:
            raise HTTPException(
                401, "invalid or revoked token", headers={"WWW-Authenticate": "Bearer"}
            )
        if not has_role(holder.role, role):
            raise HTTPException(
                403,
                f"this route needs the role {role!r} or higher; the token has {holder.role!r}",
            )
        return holder

    return check


Viewer = Annotated[TokenInfo, Depends(_requires("viewer"))]
Engineer = Annotated[TokenInfo, Depends(_requires("engineer"))]


class StoreAccess:
    """How the routes reach the store: reads side by side, writes one at a time.

    A DuckDB connection must not be used by two threads at once. The routes are plain functions
    that FastAPI runs in its worker threads; each worker thread reads through a cursor of its
    own (:meth:`DuckDBStore.reader`), which sees every committed write, so reads never wait for
    each other. Writes (decisions on actions, runs of agents, the schedule) go through the
    store's own connection and the orchestrator, one at a time under :attr:`write_lock`; reads
    go on meanwhile and see a write once it commits. A store without ``reader()`` serves one
    request at a time.

    Args:
        store: The store the app serves.
        records: The orchestrator's records (their space is kept for the per-thread copies).
    """

    def __init__(self, store: Store, records: AgentRecords) -> None:
        self.store = store
        self.records = records
        self.write_lock = threading.Lock()
        self._concurrent = callable(getattr(store, "reader", None))
        self._local = threading.local()
        self._readers: list[Store] = []
        self._guard = threading.Lock()

    @contextmanager
    def read(self) -> Iterator[tuple[Store, AgentRecords]]:
        """The store and the agents' records for reading from the calling thread."""
        if not self._concurrent:
            with self.write_lock:
                yield self.store, self.records
            return
        handles: tuple[Store, AgentRecords] | None = getattr(self._local, "handles", None)
        if handles is None:
            reader: Store = self.store.reader()  # type: ignore[attr-defined]
            handles = (reader, AgentRecords(reader, space=self.records.space))
            self._local.handles = handles
            with self._guard:
                self._readers.append(reader)
        yield handles

    @contextmanager
    def write(self) -> Iterator[None]:
        """Hold the write lock: one writer at a time."""
        with self.write_lock:
            yield

    def close(self) -> None:
        """Close the per-thread cursors (the app is shutting down; no request is running)."""
        with self._guard:
            for reader in self._readers:
                with contextlib.suppress(Exception):
                    reader.close()
            self._readers.clear()
            self._local = threading.local()


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

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        ticker = asyncio.create_task(_tick()) if schedule_every else None
        # Slow answers prepared before anyone asks for them; requests are served meanwhile.
        preparing = [
            threading.Thread(target=warm_up, name="factorybrain-prepare", daemon=True)
            for warm_up in (warm_ups if prepare else [])
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

    def _error(status: int) -> Callable[[Request, Exception], Any]:
        async def handler(_: Request, error: Exception) -> JSONResponse:
            return JSONResponse(
                {"detail": str(error), "error": type(error).__name__}, status_code=status
            )

        return handler

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

    # -- health ---------------------------------------------------------------------------------
    @app.get(f"{API_PREFIX}/health", tags=["meta"])
    def health() -> Health:
        """Liveness and readiness: answers without a token."""
        with access.read() as (reader, _records):
            version = reader.schema_version()
        ready = not any(thread.is_alive() for thread in app.state.preparing)
        return Health(status="ok", schema_version=version, ready=ready)

    @app.get(f"{API_PREFIX}/counts", tags=["meta"])
    def counts(_: Viewer) -> dict[str, int]:
        """Rows per entity type, plus datapoints and edges."""
        with access.read() as (reader, _records):
            return reader.counts()

    @app.get(f"{API_PREFIX}/status", tags=["meta"])
    def status(_: Viewer) -> dict[str, Any]:
        """Counts, open findings by kind and severity, and how many actions wait for approval."""
        with access.read() as (reader, _records):
            return plant_status(reader)

    @app.get(f"{API_PREFIX}/agents", tags=["agents"])
    async def list_agents(_: Viewer) -> list[dict[str, Any]]:
        """The installed agents: what they react to and how often they run."""
        return [
            {
                "name": name,
                "subscriptions": list(agent.subscriptions),
                "schedule_seconds": (
                    schedule.total_seconds()
                    if (schedule := getattr(agent, "schedule", None))
                    else None
                ),
                "watches": list(getattr(agent, "watches", ()) or ()),
            }
            for name, agent in conductor.agents.items()
        ]

    @app.post(f"{API_PREFIX}/agents/run", tags=["agents"])
    def run_agents(holder: Engineer, body: RunBody | None = None) -> dict[str, Any]:
        """Run agents now (all installed, or those named) and route what they find (audited).

        Other requests wait while the agents run.
        """
        names = (body.agents if body else None) or None
        unknown = sorted(set(names or ()) - set(conductor.agents))
        if unknown:
            raise ParameterError(f"no agent named {unknown}; installed: {sorted(conductor.agents)}")
        with access.write():
            at = conductor.now()
            conductor.records.audit(
                AuditEntry(
                    holder.actor,
                    "agents.run_requested",
                    "agent",
                    ",".join(names or conductor.agents),
                    at,
                )
            )
            return conductor.run(names, at=at).dump()

    @app.get(f"{API_PREFIX}/playbooks", tags=["agents"])
    async def playbooks(_: Viewer) -> list[dict[str, Any]]:
        """The playbooks in force: which agent reacts to which finding kind."""
        return [dict(p) for p in describe_playbooks(conductor.playbooks)]

    # -- the factory model ----------------------------------------------------------------------
    def _list_route(segment: str, entity: str) -> None:
        model = entity_type(entity)

        def list_route(
            request: Request, _: Viewer, limit: Limit = 50, offset: Offset = 0
        ) -> JSONResponse:
            filters = {k: v for k, v in request.query_params.items() if k not in _RESERVED}
            with access.read() as (reader, _records):
                found = list_entities(reader, entity, filters, limit=limit, offset=offset)
            return JSONResponse(found)

        list_route.__doc__ = (
            f"List {entity} entities ({model.description}) Filter by equality with any field "
            f"as a query parameter, e.g. `?space=acme`."
        )
        app.get(
            f"{API_PREFIX}/{segment}",
            response_model=Page[dict[str, Any]],
            tags=["factory model"],
            name=f"list_{entity}",
            operation_id=f"list_{entity}",
        )(list_route)

        def get_route(
            _: Viewer,
            external_id: Annotated[str, PathParam(min_length=1, max_length=500)],
            space: Annotated[str | None, Query(max_length=200)] = None,
        ) -> dict[str, Any]:
            with access.read() as (reader, _records):
                return get_entity(reader, entity, external_id, space)

        get_route.__doc__ = f"One {entity} by its external id (and space when ambiguous)."
        app.get(
            f"{API_PREFIX}/{segment}/{{external_id:path}}",
            tags=["factory model"],
            name=f"get_{entity}",
            operation_id=f"get_{entity}",
        )(get_route)

    # Pages of entities and records, and datapoints, are built as plain JSON values by the
    # queries and records that own their shape, and go out as they are: ``response_model``
    # documents them (the API tests check the answers against it); validating every row again
    # would cost more than the query.
    @app.get(
        f"{API_PREFIX}/time-series/{{external_id:path}}/datapoints",
        response_model=SeriesData,
        tags=["factory model"],
    )
    def datapoints(
        _: Viewer,
        external_id: Annotated[str, PathParam(min_length=1, max_length=500)],
        start: datetime | None = None,
        end: datetime | None = None,
        every: Annotated[
            str | None, Query(max_length=20, description="Bucket width, e.g. 15m.")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
        offset: Offset = 0,
    ) -> JSONResponse:
        """Datapoints of a series in ``[start, end)``, raw or downsampled with ``every``.

        Without ``start``/``end`` the last 24 hours of data are returned.
        """
        with access.read() as (reader, _records):
            found = series_data(
                reader, external_id, start=start, end=end, every=every, limit=limit, offset=offset
            )
        return JSONResponse({"points": None, "buckets": None, **found})

    # Registered after the datapoints route: ids may contain "/" (``line1/press-1``), and the
    # generic ``{external_id:path}`` route would otherwise swallow ``.../datapoints``.
    for segment, entity in ENTITY_ROUTES.items():
        _list_route(segment, entity)

    warm_ups = _optional_routes(app, access)

    # -- agents' records -----------------------------------------------------------------------
    @app.get(f"{API_PREFIX}/findings", response_model=Page[FindingOut], tags=["agents"])
    def list_findings(
        _: Viewer,
        limit: Limit = 50,
        offset: Offset = 0,
        kind: Annotated[str | None, Query(max_length=200)] = None,
        status: Annotated[str | None, Query(max_length=50)] = None,
        agent: Annotated[str | None, Query(max_length=200)] = None,
        subject: Annotated[str | None, Query(max_length=500)] = None,
    ) -> JSONResponse:
        """Findings, newest first, filtered by kind, status, agent or subject."""
        with access.read() as (_store, records):
            items = records.findings(
                kind=kind, status=status, agent=agent, subject=subject, limit=limit, offset=offset
            )
            total = known_total(len(items), limit, offset)
            if total is None:
                total = records.count(
                    "finding", {"kind": kind, "status": status, "agent": agent, "subject": subject}
                )
        return JSONResponse(page([f.dump() for f in items], total, limit, offset))

    @app.get(f"{API_PREFIX}/findings/{{finding_id}}", tags=["agents"])
    def get_finding(_: Viewer, finding_id: str) -> FindingOut:
        """One finding with its evidence."""
        with access.read() as (_store, records):
            return FindingOut(**records.finding(finding_id).dump())

    @app.post(f"{API_PREFIX}/findings/{{finding_id}}/status", tags=["agents"])
    def set_finding_status(
        holder: Engineer, finding_id: str, body: FindingStatusBody
    ) -> FindingOut:
        """Acknowledge, close or reopen a finding (audited)."""
        with access.write():
            finding = conductor.records.set_finding_status(
                finding_id,
                body.status,
                actor=holder.actor,
                at=conductor.now(),
                comment=body.comment,
            )
        return FindingOut(**finding.dump())

    @app.get(
        f"{API_PREFIX}/recommendations", response_model=Page[RecommendationOut], tags=["agents"]
    )
    def list_recommendations(
        _: Viewer,
        limit: Limit = 50,
        offset: Offset = 0,
        agent: Annotated[str | None, Query(max_length=200)] = None,
        action_type: Annotated[str | None, Query(max_length=200)] = None,
    ) -> JSONResponse:
        """Recommendations, newest first."""
        with access.read() as (_store, records):
            items = records.recommendations(
                agent=agent, action_type=action_type, limit=limit, offset=offset
            )
            total = known_total(len(items), limit, offset)
            if total is None:
                total = records.count(
                    "recommendation", {"agent": agent, "action_type": action_type}
                )
        return JSONResponse(page([r.dump() for r in items], total, limit, offset))

    @app.get(f"{API_PREFIX}/recommendations/{{recommendation_id}}", tags=["agents"])
    def get_recommendation(_: Viewer, recommendation_id: str) -> RecommendationOut:
        """One recommendation (a composite lists its steps)."""
        with access.read() as (_store, records):
            return RecommendationOut(**records.recommendation(recommendation_id).dump())

    @app.get(f"{API_PREFIX}/actions", response_model=Page[ActionOut], tags=["agents"])
    def list_actions(
        _: Viewer,
        limit: Limit = 50,
        offset: Offset = 0,
        state: Annotated[
            str | None, Query(description=f"One of {list(ACTION_STATES)}.", max_length=20)
        ] = None,
    ) -> JSONResponse:
        """Actions, newest first; ``?state=proposed`` is the approval inbox."""
        if state is not None and state not in ACTION_STATES:
            raise ParameterError(f"state must be one of {list(ACTION_STATES)}, got {state!r}")
        with access.read() as (_store, records):
            items = records.actions(state=state, limit=limit, offset=offset)
            total = known_total(len(items), limit, offset)
            if total is None:
                total = records.count_actions(state=state)
        return JSONResponse(page([a.dump() for a in items], total, limit, offset))

    @app.get(f"{API_PREFIX}/actions/{{action_id}}", tags=["agents"])
    def get_action(_: Viewer, action_id: str) -> ActionOut:
        """One action with who decided, when, and what it changed."""
        with access.read() as (_store, records):
            return ActionOut(**records.action(action_id).dump())

    @app.post(f"{API_PREFIX}/actions", tags=["agents"], status_code=201)
    def propose_action(holder: Engineer, body: ProposeBody) -> ActionOut:
        """Propose an action; it waits for approval (proposing never executes)."""
        recommendation = Recommendation(
            agent=holder.actor,
            finding_ids=tuple(body.finding_ids),
            action_type=body.action_type,
            parameters=body.parameters,
            expected_effect=body.expected_effect,
            requires_approval=True,
            title=body.title,
        )
        with access.write():
            action = conductor.propose(recommendation, actor=holder.actor)
        return ActionOut(**action.dump())

    @app.post(f"{API_PREFIX}/actions/{{action_id}}/approve", tags=["agents"])
    def approve_action(
        holder: Viewer, action_id: str, body: ApproveBody | None = None
    ) -> ActionOut:
        """Approve a proposed action (and execute it); needs the role its policy names."""
        body = body or ApproveBody()
        with access.write():
            action = conductor.approve(
                action_id,
                actor=holder.actor,
                role=holder.role,
                comment=body.comment,
                execute=body.execute,
            )
        return ActionOut(**action.dump())

    @app.post(f"{API_PREFIX}/actions/{{action_id}}/reject", tags=["agents"])
    def reject_action(holder: Viewer, action_id: str, body: Decision | None = None) -> ActionOut:
        """Reject a proposed action with a comment; needs the role its policy names."""
        body = body or Decision()
        with access.write():
            action = conductor.reject(
                action_id, actor=holder.actor, role=holder.role, comment=body.comment
            )
        return ActionOut(**action.dump())

    @app.get(f"{API_PREFIX}/audit", response_model=Page[AuditOut], tags=["agents"])
    def audit_log(
        _: Viewer,
        limit: Limit = 50,
        offset: Offset = 0,
        object_id: Annotated[str | None, Query(max_length=500)] = None,
        actor: Annotated[str | None, Query(max_length=200)] = None,
        verb: Annotated[str | None, Query(max_length=100)] = None,
    ) -> JSONResponse:
        """The audit log, newest first: who changed what, when."""
        with access.read() as (_store, records):
            items = records.audit_log(
                object_id=object_id, actor=actor, verb=verb, limit=limit, offset=offset
            )
            total = known_total(len(items), limit, offset)
            if total is None:
                total = records.count(
                    "audit_entry", {"object_id": object_id, "actor": actor, "verb": verb}
                )
        return JSONResponse(page([e.dump() for e in items], total, limit, offset))

    return app


def _optional_routes(app: FastAPI, access: StoreAccess) -> list[Callable[[], None]]:
    """Routes over layers that may be absent: ask, trace, OEE, the plan, forecasts.

    OEE and the plan need the planning layer, forecasts the logistics agent and its engines.
    Returns what the app should run once in the background at start (the first demand plan,
    which takes seconds), so the first visitor of the inventory page does not wait for it.

    Each is a thin wrapper around its library function; when the layer is not installed the
    route is not registered, and the OpenAPI document (which the dashboard reads) says so.
    """
    try:
        from factorybrain.ask import ask as ask_question
        from factorybrain.ask import trace as trace_identifier
    except ImportError:  # the ask layer is optional
        ask_question = trace_identifier = None  # type: ignore[assignment]
    try:
        from factorybrain.agents.planning import plant_oee
    except ImportError:  # the planning agent is optional
        plant_oee = None  # type: ignore[assignment]
    try:
        from factorybrain.agents import logistics
    except ImportError:  # the logistics agent (forecasting engines) is optional
        logistics = None  # type: ignore[assignment]

    if ask_question is not None:

        @app.post(f"{API_PREFIX}/ask", tags=["ask"])
        def ask_route(_: Viewer, body: Question) -> dict[str, Any]:
            """Answer a question from the factory model, citing the entities and numbers used.

            Uses the configured OpenAI-compatible model, or the built-in router without one.
            """
            with access.read() as (store, _records):
                return ask_question(store, body.question).as_dict()

    if trace_identifier is not None:

        def trace_route(
            _: Viewer,
            identifier: Annotated[str, PathParam(min_length=1, max_length=500)],
        ) -> dict[str, Any]:
            """Trace a serial (order, product, tests, claims) or a lot (orders that used it)."""
            with access.read() as (store, _records):
                return trace_identifier(store, identifier).as_dict()

        for kind in ("serial", "lot"):
            app.get(
                f"{API_PREFIX}/trace/{kind}/{{identifier:path}}",
                tags=["trace"],
                name=f"trace_{kind}",
                operation_id=f"trace_{kind}",
            )(trace_route)

    if plant_oee is not None:

        @app.get(f"{API_PREFIX}/plan", response_model=PlanOut, tags=["factory model"])
        def plan_route(
            _: Viewer, machine: Annotated[str | None, Query(max_length=500)] = None
        ) -> JSONResponse:
            """The plan in force: operations, the orders they plan, planned maintenance.

            What the planning agent stored: operations in time order, the orders they plan
            (planned start and end, hours late) and the planned maintenance windows.
            """
            with access.read() as (store, _records):
                return JSONResponse(plan_in_force(store, machine=machine))

        @app.get(f"{API_PREFIX}/oee", tags=["factory model"])
        def oee_route(
            _: Viewer,
            by: Annotated[str, Query(pattern="^(machine|line|shift)$")] = "machine",
            start: datetime | None = None,
            end: datetime | None = None,
            space: Annotated[str, Query(max_length=200)] = "mes",
        ) -> dict[str, Any]:
            """Availability, performance, quality and OEE per machine, line or shift."""
            with access.read() as (store, _records):
                try:
                    frame = plant_oee(
                        store,
                        by=by,
                        start=instant(start, "start"),
                        end=instant(end, "end"),
                        space=space,
                    )
                except NoDataError as error:
                    # No machines or no shifts in that space: an empty answer, not a bad request.
                    return {"by": by, "items": [], "note": str(error)}
            items = rows(frame)
            for item in items:
                item.setdefault("asset", item.get(by))
            return {"by": by, "items": items}

    if logistics is not None:

        @app.get(f"{API_PREFIX}/forecasts", response_model=ForecastPage, tags=["factory model"])
        def forecasts_route(
            _: Viewer,
            item: Annotated[str | None, Query(max_length=200)] = None,
            item_type: Annotated[str | None, Query(max_length=50)] = None,
            limit: Limit = 50,
            offset: Offset = 0,
        ) -> JSONResponse:
            """Demand forecast and inventory levels per product and material.

            The mean and quantiles per week ahead, the model chosen, and the reorder point and
            order-up-to level, as the logistics agent plans them now from the store's history.
            ``as_of`` is the moment planned at, the latest sales order, inventory movement or
            stock count; ``null`` when the store holds none (no data, nothing to date by).
            """
            with access.read() as (store, records):
                found = demand_forecasts(
                    store, records, item=item, item_type=item_type, limit=limit, offset=offset
                )
            return JSONResponse(found)

        def plan_demand() -> None:
            with contextlib.suppress(Exception), access.read() as (store, records):
                # a failure here shows again, with its message, on the first request
                demand_forecasts(store, records, limit=1)

        return [plan_demand]
    return []
