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
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from factorybrain.agents import (
    ACTION_STATES,
    FINDING_STATUSES,
    ActionStateError,
    AuditEntry,
    Orchestrator,
    PermissionDeniedError,
    Recommendation,
    RecordNotFoundError,
    describe_playbooks,
    has_role,
)
from factorybrain.agents._contract import utc
from factorybrain.api._queries import (
    get_entity,
    list_entities,
    page,
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


class Health(BaseModel):
    """Liveness and the schema version of the store."""

    status: str
    schema_version: int


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


def create_app(
    store: Store | str | Path,
    *,
    tokens: TokenStore | None = None,
    orchestrator: Orchestrator | None = None,
    schedule_every: float | None = None,
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

    Returns:
        The FastAPI application; ``app.state.store``, ``app.state.orchestrator`` and
        ``app.state.tokens`` hold what it runs on.
    """
    owns_store = not isinstance(store, Store)
    opened: Store = store if isinstance(store, Store) else open_store(store, migrate=True)
    token_store = tokens or TokenStore(default_tokens_path(getattr(opened, "path", None)))
    conductor = orchestrator or Orchestrator(opened)
    # DuckDB connections are not safe across threads: every route is async and takes this lock.
    lock = asyncio.Lock()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        ticker = asyncio.create_task(_tick()) if schedule_every else None
        try:
            yield
        finally:
            if ticker is not None:
                ticker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ticker
            if owns_store:
                opened.close()

    async def _tick() -> None:
        while True:
            await asyncio.sleep(schedule_every or 60)
            async with lock:
                report = conductor.run_scheduled()
            app.state.last_scheduled_run = report.dump()

    app = FastAPI(
        title="factorybrain",
        version="1",
        description=(
            "The factory model, the agents' findings, recommendations and actions, and the "
            "audit log. Authenticate with `Authorization: Bearer <token>`; create a token with "
            "`factorybrain token create --role planner --name ann`."
        ),
        lifespan=lifespan,
    )
    app.state.store = opened
    app.state.orchestrator = conductor
    app.state.tokens = token_store
    app.state.last_scheduled_run = None

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

    records = conductor.records

    # -- health ---------------------------------------------------------------------------------
    @app.get(f"{API_PREFIX}/health", tags=["meta"])
    async def health() -> Health:
        """Liveness: answers without a token."""
        async with lock:
            return Health(status="ok", schema_version=opened.schema_version())

    @app.get(f"{API_PREFIX}/counts", tags=["meta"])
    async def counts(_: Viewer) -> dict[str, int]:
        """Rows per entity type, plus datapoints and edges."""
        async with lock:
            return opened.counts()

    @app.get(f"{API_PREFIX}/status", tags=["meta"])
    async def status(_: Viewer) -> dict[str, Any]:
        """Counts, open findings by kind and severity, and how many actions wait for approval."""
        async with lock:
            return plant_status(opened)

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
    async def run_agents(holder: Engineer, body: RunBody | None = None) -> dict[str, Any]:
        """Run agents now (all installed, or those named) and route what they find (audited).

        Other requests wait while the agents run.
        """
        names = (body.agents if body else None) or None
        unknown = sorted(set(names or ()) - set(conductor.agents))
        if unknown:
            raise ParameterError(f"no agent named {unknown}; installed: {sorted(conductor.agents)}")
        async with lock:
            at = conductor.now()
            records.audit(
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

        async def list_route(
            request: Request, _: Viewer, limit: Limit = 50, offset: Offset = 0
        ) -> Page[dict[str, Any]]:
            filters = {k: v for k, v in request.query_params.items() if k not in _RESERVED}
            async with lock:
                found = list_entities(opened, entity, filters, limit=limit, offset=offset)
            return Page[dict[str, Any]](**found)

        list_route.__doc__ = (
            f"List {entity} entities ({model.description}) Filter by equality with any field "
            f"as a query parameter, e.g. `?space=acme`."
        )
        app.get(
            f"{API_PREFIX}/{segment}",
            tags=["factory model"],
            name=f"list_{entity}",
            operation_id=f"list_{entity}",
        )(list_route)

        async def get_route(
            _: Viewer,
            external_id: Annotated[str, PathParam(min_length=1, max_length=500)],
            space: Annotated[str | None, Query(max_length=200)] = None,
        ) -> dict[str, Any]:
            async with lock:
                return get_entity(opened, entity, external_id, space)

        get_route.__doc__ = f"One {entity} by its external id (and space when ambiguous)."
        app.get(
            f"{API_PREFIX}/{segment}/{{external_id:path}}",
            tags=["factory model"],
            name=f"get_{entity}",
            operation_id=f"get_{entity}",
        )(get_route)

    @app.get(f"{API_PREFIX}/time-series/{{external_id:path}}/datapoints", tags=["factory model"])
    async def datapoints(
        _: Viewer,
        external_id: Annotated[str, PathParam(min_length=1, max_length=500)],
        start: datetime | None = None,
        end: datetime | None = None,
        every: Annotated[
            str | None, Query(max_length=20, description="Bucket width, e.g. 15m.")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
        offset: Offset = 0,
    ) -> SeriesData:
        """Datapoints of a series in ``[start, end)``, raw or downsampled with ``every``.

        Without ``start``/``end`` the last 24 hours of data are returned.
        """
        async with lock:
            found = series_data(
                opened, external_id, start=start, end=end, every=every, limit=limit, offset=offset
            )
        return SeriesData(**found)

    # Registered after the datapoints route: ids may contain "/" (``line1/press-1``), and the
    # generic ``{external_id:path}`` route would otherwise swallow ``.../datapoints``.
    for segment, entity in ENTITY_ROUTES.items():
        _list_route(segment, entity)

    _optional_routes(app, opened, lock)

    # -- agents' records -----------------------------------------------------------------------
    @app.get(f"{API_PREFIX}/findings", tags=["agents"])
    async def list_findings(
        _: Viewer,
        limit: Limit = 50,
        offset: Offset = 0,
        kind: Annotated[str | None, Query(max_length=200)] = None,
        status: Annotated[str | None, Query(max_length=50)] = None,
        agent: Annotated[str | None, Query(max_length=200)] = None,
        subject: Annotated[str | None, Query(max_length=500)] = None,
    ) -> Page[FindingOut]:
        """Findings, newest first, filtered by kind, status, agent or subject."""
        async with lock:
            items = records.findings(
                kind=kind, status=status, agent=agent, subject=subject, limit=limit, offset=offset
            )
            total = records.count(
                "finding", {"kind": kind, "status": status, "agent": agent, "subject": subject}
            )
        return Page[FindingOut](
            **page([FindingOut(**f.dump()) for f in items], total, limit, offset)
        )

    @app.get(f"{API_PREFIX}/findings/{{finding_id}}", tags=["agents"])
    async def get_finding(_: Viewer, finding_id: str) -> FindingOut:
        """One finding with its evidence."""
        async with lock:
            return FindingOut(**records.finding(finding_id).dump())

    @app.post(f"{API_PREFIX}/findings/{{finding_id}}/status", tags=["agents"])
    async def set_finding_status(
        holder: Engineer, finding_id: str, body: FindingStatusBody
    ) -> FindingOut:
        """Acknowledge, close or reopen a finding (audited)."""
        async with lock:
            finding = records.set_finding_status(
                finding_id,
                body.status,
                actor=holder.actor,
                at=conductor.now(),
                comment=body.comment,
            )
        return FindingOut(**finding.dump())

    @app.get(f"{API_PREFIX}/recommendations", tags=["agents"])
    async def list_recommendations(
        _: Viewer,
        limit: Limit = 50,
        offset: Offset = 0,
        agent: Annotated[str | None, Query(max_length=200)] = None,
        action_type: Annotated[str | None, Query(max_length=200)] = None,
    ) -> Page[RecommendationOut]:
        """Recommendations, newest first."""
        async with lock:
            items = records.recommendations(
                agent=agent, action_type=action_type, limit=limit, offset=offset
            )
            total = records.count("recommendation", {"agent": agent, "action_type": action_type})
        return Page[RecommendationOut](
            **page([RecommendationOut(**r.dump()) for r in items], total, limit, offset)
        )

    @app.get(f"{API_PREFIX}/recommendations/{{recommendation_id}}", tags=["agents"])
    async def get_recommendation(_: Viewer, recommendation_id: str) -> RecommendationOut:
        """One recommendation (a composite lists its steps)."""
        async with lock:
            return RecommendationOut(**records.recommendation(recommendation_id).dump())

    @app.get(f"{API_PREFIX}/actions", tags=["agents"])
    async def list_actions(
        _: Viewer,
        limit: Limit = 50,
        offset: Offset = 0,
        state: Annotated[
            str | None, Query(description=f"One of {list(ACTION_STATES)}.", max_length=20)
        ] = None,
    ) -> Page[ActionOut]:
        """Actions, newest first; ``?state=proposed`` is the approval inbox."""
        if state is not None and state not in ACTION_STATES:
            raise ParameterError(f"state must be one of {list(ACTION_STATES)}, got {state!r}")
        async with lock:
            items = records.actions(state=state, limit=limit, offset=offset)
            total = records.count_actions(state=state)
        found = page([ActionOut(**a.dump()) for a in items], total, limit, offset)
        return Page[ActionOut](**found)

    @app.get(f"{API_PREFIX}/actions/{{action_id}}", tags=["agents"])
    async def get_action(_: Viewer, action_id: str) -> ActionOut:
        """One action with who decided, when, and what it changed."""
        async with lock:
            return ActionOut(**records.action(action_id).dump())

    @app.post(f"{API_PREFIX}/actions", tags=["agents"], status_code=201)
    async def propose_action(holder: Engineer, body: ProposeBody) -> ActionOut:
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
        async with lock:
            action = conductor.propose(recommendation, actor=holder.actor)
        return ActionOut(**action.dump())

    @app.post(f"{API_PREFIX}/actions/{{action_id}}/approve", tags=["agents"])
    async def approve_action(
        holder: Viewer, action_id: str, body: ApproveBody | None = None
    ) -> ActionOut:
        """Approve a proposed action (and execute it); needs the role its policy names."""
        body = body or ApproveBody()
        async with lock:
            action = conductor.approve(
                action_id,
                actor=holder.actor,
                role=holder.role,
                comment=body.comment,
                execute=body.execute,
            )
        return ActionOut(**action.dump())

    @app.post(f"{API_PREFIX}/actions/{{action_id}}/reject", tags=["agents"])
    async def reject_action(
        holder: Viewer, action_id: str, body: Decision | None = None
    ) -> ActionOut:
        """Reject a proposed action with a comment; needs the role its policy names."""
        body = body or Decision()
        async with lock:
            action = conductor.reject(
                action_id, actor=holder.actor, role=holder.role, comment=body.comment
            )
        return ActionOut(**action.dump())

    @app.get(f"{API_PREFIX}/audit", tags=["agents"])
    async def audit_log(
        _: Viewer,
        limit: Limit = 50,
        offset: Offset = 0,
        object_id: Annotated[str | None, Query(max_length=500)] = None,
        actor: Annotated[str | None, Query(max_length=200)] = None,
        verb: Annotated[str | None, Query(max_length=100)] = None,
    ) -> Page[AuditOut]:
        """The audit log, newest first: who changed what, when."""
        async with lock:
            items = records.audit_log(
                object_id=object_id, actor=actor, verb=verb, limit=limit, offset=offset
            )
            total = records.count(
                "audit_entry", {"object_id": object_id, "actor": actor, "verb": verb}
            )
        return Page[AuditOut](**page([AuditOut(**e.dump()) for e in items], total, limit, offset))

    return app


def _optional_routes(app: FastAPI, store: Store, lock: asyncio.Lock) -> None:
    """Routes over layers that may be absent: ``ask``, OEE (planning) and trace.

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

    if ask_question is not None:

        @app.post(f"{API_PREFIX}/ask", tags=["ask"])
        async def ask_route(_: Viewer, body: Question) -> dict[str, Any]:
            """Answer a question from the factory model, citing the entities and numbers used.

            Uses the configured OpenAI-compatible model, or the built-in router without one.
            """
            async with lock:
                return ask_question(store, body.question).as_dict()

    if trace_identifier is not None:

        async def trace_route(
            _: Viewer,
            identifier: Annotated[str, PathParam(min_length=1, max_length=500)],
        ) -> dict[str, Any]:
            """Trace a serial (order, product, tests, claims) or a lot (orders that used it)."""
            async with lock:
                return trace_identifier(store, identifier).as_dict()

        for kind in ("serial", "lot"):
            app.get(
                f"{API_PREFIX}/trace/{kind}/{{identifier:path}}",
                tags=["trace"],
                name=f"trace_{kind}",
                operation_id=f"trace_{kind}",
            )(trace_route)

    if plant_oee is not None:

        @app.get(f"{API_PREFIX}/oee", tags=["factory model"])
        async def oee_route(
            _: Viewer,
            by: Annotated[str, Query(pattern="^(machine|line|shift)$")] = "machine",
            start: datetime | None = None,
            end: datetime | None = None,
            space: Annotated[str, Query(max_length=200)] = "mes",
        ) -> dict[str, Any]:
            """Availability, performance, quality and OEE per machine, line or shift."""
            async with lock:
                try:
                    frame = plant_oee(store, by=by, start=utc(start), end=utc(end), space=space)
                except NoDataError as error:
                    # No machines or no shifts in that space: an empty answer, not a bad request.
                    return {"by": by, "items": [], "note": str(error)}
            items = rows(frame)
            for item in items:
                item.setdefault("asset", item.get(by))
            return {"by": by, "items": items}
