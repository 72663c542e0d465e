"""The MCP server: the factory model and the agents' records as tools for any AI assistant.

Built on the official ``mcp`` SDK (``MCPServer``). Tools wrap the same query functions as the
REST API; the only write is ``propose_action``, which records a proposal for a person to
approve and never executes anything. Resources expose assets and documents.
"""

from __future__ import annotations

import getpass
import json
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError

from factorybrain.agents import (
    ACTION_STATES,
    Orchestrator,
    Recommendation,
    RecordNotFoundError,
    describe_playbooks,
    has_role,
    installed_orchestrator,
    role_rank,
)
from factorybrain.api._queries import (
    READABLE_TYPES,
    demand_forecasts,
    get_entity,
    list_entities,
    plan_in_force,
    plant_status,
    series_data,
)
from factorybrain.api._tokens import TokenStore
from factorybrain.exceptions import FactorybrainError, ParameterError
from factorybrain.secrets import redact
from factorybrain.store import Store, open_store

INSTRUCTIONS = (
    "factorybrain holds one factory model (assets in an ISA-95 hierarchy, time series, events, "
    "orders, lots, serials, quality results, claims, documents) and what its agents found, "
    "recommended and did. Start with plant_status, then list_entities / get_entity, "
    "series_data for sensor history, plan for the production plan, demand_forecasts for "
    "demand and stock levels, list_findings and list_actions for the agents, field_cohorts, "
    "field_reliability and recall_scope for field failures, process_proposals for setpoints. "
    "propose_action only records a proposal; a person approves it."
)


def create_server(
    store: Store | str | Path,
    *,
    orchestrator: Orchestrator | None = None,
    name: str = "factorybrain",
) -> MCPServer:
    """Build the MCP server over a store.

    Args:
        store: An open store, or the path of a store file (opened read-write, for proposals).
        orchestrator: Decides which action types exist and who must approve them; by default
            one with no agents and the default policies.
        name: Server name announced to clients.

    Returns:
        The server; ``server.run("stdio")`` or ``server.run("streamable-http", port=...)``
        serves it, ``mcp.Client(server)`` talks to it in-process.
    """
    opened: Store = store if isinstance(store, Store) else open_store(store, migrate=True)
    conductor = orchestrator or installed_orchestrator(opened, with_agents=False)
    records = conductor.records
    lock = threading.Lock()  # tools run in worker threads; DuckDB wants one at a time
    server = MCPServer(name, instructions=INSTRUCTIONS)

    @contextmanager
    def guarded() -> Iterator[None]:
        with lock:
            try:
                yield
            except FactorybrainError as error:
                raise ToolError(redact(str(error))) from error

    @server.tool(name="plant_status")
    def plant_status_tool() -> dict[str, Any]:
        """What the store holds, open findings by kind and severity, and the approval inbox."""
        with guarded():
            return plant_status(opened)

    @server.tool(name="list_entities")
    def list_entities_tool(
        entity_type: str,
        filters: dict[str, str] | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> dict[str, Any]:
        """List entities of one type of the factory model, filtered by equality on fields.

        Args:
            entity_type: asset, time_series, event, work_order, operation, material_lot,
                serial_unit, quality_result, maintenance_order, purchase_order, stock_level,
                warranty_claim, document, ...
            filters: Field -> value, e.g. {"level": "equipment"} or {"asset": "press-3"}.
            limit: Page size (1-1000).
            offset: Rows to skip; the answer's next_offset gives the next page.
        """
        with guarded():
            return list_entities(opened, entity_type, filters, limit=limit, offset=offset)

    @server.tool(name="get_entity")
    def get_entity_tool(
        entity_type: str, external_id: str, space: str | None = None
    ) -> dict[str, Any]:
        """Get one entity of the factory model by its external id.

        Args:
            entity_type: Entity type, e.g. asset or serial_unit.
            external_id: Its external id.
            space: Its space, when the id exists in several.
        """
        with guarded():
            return get_entity(opened, entity_type, external_id, space)

    @server.tool(name="series_data")
    def series_data_tool(
        series: str,
        start: str | None = None,
        end: str | None = None,
        every: str | None = None,
        limit: int = 2000,
    ) -> dict[str, Any]:
        """Sensor history of one time series, raw or downsampled.

        Args:
            series: External id of the time series.
            start: ISO timestamp (UTC); default one day before end.
            end: ISO timestamp (UTC); default just after the last point.
            every: Bucket width such as 15m or 1h, for min/max/mean/count per bucket.
            limit: Most points or buckets returned.
        """
        with guarded():
            return series_data(opened, series, start=start, end=end, every=every, limit=limit)

    @server.tool(name="plan")
    def plan_tool(machine: str | None = None) -> dict[str, Any]:
        """The production plan in force: operations, orders, planned maintenance.

        Planned operations in time order, the work orders they plan (planned start and end,
        hours late) and the planned maintenance windows.

        Args:
            machine: Only this machine's operations and maintenance.
        """
        with guarded():
            return plan_in_force(opened, machine=machine)

    @server.tool(name="demand_forecasts")
    def demand_forecasts_tool(
        item: str | None = None, item_type: str | None = None, limit: int = 20, offset: int = 0
    ) -> dict[str, Any]:
        """Weekly demand forecasts (mean and quantiles) and inventory levels per item.

        ``as_of`` is the moment planned at; null when the store holds no dated demand or stock.

        Args:
            item: One product or material (external id, leading zeros optional).
            item_type: product, component, spare_part, ...
            limit: Items per page (1-1000).
            offset: Items to skip.
        """
        with guarded():
            return demand_forecasts(
                opened, records, item=item, item_type=item_type, limit=limit, offset=offset
            )

    @server.tool(name="list_findings")
    def list_findings_tool(
        kind: str | None = None,
        status: str | None = None,
        subject: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> dict[str, Any]:
        """What the agents found, newest first, with severity, confidence and evidence.

        Args:
            kind: e.g. maintenance.rul_low, quality.drift, logistics.stockout_risk.
            status: open, acknowledged or closed.
            subject: External id of the entity the finding is about.
            limit: Page size.
            offset: Rows to skip.
        """
        with guarded():
            items = records.findings(
                kind=kind, status=status, subject=subject, limit=limit, offset=offset
            )
            total = records.count("finding", {"kind": kind, "status": status, "subject": subject})
            return {"items": [f.dump() for f in items], "total": total}

    @server.tool(name="get_finding")
    def get_finding_tool(finding_id: str) -> dict[str, Any]:
        """One finding with its evidence (entity references and numbers)."""
        with guarded():
            return records.finding(finding_id).dump()

    @server.tool(name="list_actions")
    def list_actions_tool(
        state: str | None = None, limit: int = 50, offset: int = 0
    ) -> dict[str, Any]:
        """Actions the agents or people proposed; state=proposed lists those awaiting approval.

        Args:
            state: proposed, approved, rejected, executed or failed.
            limit: Page size.
            offset: Rows to skip.
        """
        with guarded():
            if state is not None and state not in ACTION_STATES:
                raise ParameterError(f"state must be one of {list(ACTION_STATES)}, got {state!r}")
            items = records.actions(state=state, limit=limit, offset=offset)
            out = []
            for action in items:
                entry = action.dump()
                entry["recommendation"] = records.recommendation(action.recommendation_id).dump()
                out.append(entry)
            return {"items": out, "total": records.count_actions(state=state)}

    @server.tool(name="audit_log")
    def audit_log_tool(object_id: str | None = None, limit: int = 50) -> dict[str, Any]:
        """Who changed what and when (approvals, executions, findings reported)."""
        with guarded():
            entries = records.audit_log(object_id=object_id, limit=limit)
            return {"items": [e.dump() for e in entries]}

    @server.tool(name="propose_action")
    def propose_action_tool(
        action_type: str,
        ctx: Context,
        parameters: dict[str, Any] | None = None,
        finding_ids: list[str] | None = None,
        title: str = "",
    ) -> dict[str, Any]:
        """Propose an action for a person to approve; it is NEVER executed by this tool.

        The proposer recorded is who the server authenticated (the token's holder over HTTP,
        the user who started the server over stdio), never a name the caller gives, and that
        proposer can never approve it.

        Args:
            action_type: notify, maintenance_order.create, work_order.reschedule or
                purchase_order.create.
            ctx: The request (injected by the server).
            parameters: The action's arguments (finite numbers, at most 64 KiB as JSON).
            finding_ids: Findings it answers.
            title: One line a reviewer reads.
        """
        with guarded():
            actor = _caller(ctx)
            checked = _bounded_parameters(parameters or {})
            if len(title) > 200 or len(finding_ids or ()) > 100:
                raise ParameterError("title has at most 200 characters, finding_ids 100 items")
            recommendation = Recommendation(
                agent=actor,
                finding_ids=tuple(finding_ids or ()),
                action_type=action_type,
                parameters=checked,
                requires_approval=True,
                title=title,
            )
            action = conductor.propose(recommendation, actor=actor)
            return action.dump()

    _ask_tools(server, opened, guarded)
    _field_and_process_tools(server, opened, guarded)

    @server.resource("factorybrain://playbooks", mime_type="application/json")
    def playbooks_resource() -> str:
        """The playbooks: which agent reacts to which finding kind, and who approves."""
        return json.dumps([dict(p) for p in describe_playbooks(conductor.playbooks)])

    @server.resource("factorybrain://assets/{external_id}", mime_type="application/json")
    def asset_resource(external_id: str) -> str:
        """An asset with its children and its time series."""
        with lock:
            try:
                asset = get_entity(opened, "asset", external_id)
            except RecordNotFoundError as error:
                raise ResourceNotFoundError(str(error)) from error
            children = list_entities(opened, "asset", {"parent": external_id}, limit=1000)
            series = list_entities(opened, "time_series", {"asset": external_id}, limit=1000)
        asset["children"] = [c["external_id"] for c in children["items"]]
        asset["time_series"] = [s["external_id"] for s in series["items"]]
        return json.dumps(asset, default=str)

    @server.resource("factorybrain://documents/{external_id}", mime_type="text/plain")
    def document_resource(external_id: str) -> str:
        """The text of a document (SOP, FMEA, manual)."""
        with lock:
            try:
                document = get_entity(opened, "document", external_id)
            except RecordNotFoundError as error:
                raise ResourceNotFoundError(str(error)) from error
        title = document.get("title") or document.get("name") or external_id
        return f"# {title}\n\n{document.get('content') or ''}"

    return server


#: Where :func:`create_http_app` leaves the authenticated caller for the tools.
_HOLDER = "factorybrain_holder"


def _caller(ctx: Context) -> str:
    """Who calls a tool, as authenticated: the token's holder (HTTP) or the local user (stdio).

    Raises:
        ParameterError: Over HTTP without an authenticated caller (the app was not wrapped by
            :func:`create_http_app`).
    """
    try:
        request = ctx.request_context.request
    except ValueError:  # not inside a request: called in-process
        request = None
    if request is None:  # stdio: whoever started the server on this machine
        return f"os:{getpass.getuser()}"
    holder = getattr(request, "scope", {}).get("state", {}).get(_HOLDER)
    if holder is None:
        raise ParameterError("an MCP request over HTTP reached a tool without a token holder")
    return str(holder.actor)


def _bounded_parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    """A proposal's parameters as the REST API accepts them: finite, not too deep or large."""
    try:
        text = json.dumps(parameters, allow_nan=False, separators=(",", ":"))
    except (ValueError, TypeError, RecursionError) as error:
        raise ParameterError(
            f"parameters must be JSON with finite numbers only ({type(error).__name__}: {error})"
        ) from None
    if len(text.encode()) > MAX_PARAMETER_BYTES:
        raise ParameterError(
            f"parameters are {len(text.encode()):,} bytes as JSON; at most "
            f"{MAX_PARAMETER_BYTES:,} are allowed"
        )
    return parameters


#: Largest parameters of a proposal, as JSON (the REST API's bound).
MAX_PARAMETER_BYTES = 64 * 1024


def _ask_tools(server: MCPServer, store: Store, guarded: Callable[[], Any]) -> None:
    """The ``ask`` layer's question tools, when it is installed; each answer cites its sources."""
    try:
        from factorybrain import ask
    except ImportError:  # the ask layer is optional
        return

    @server.tool(name="ask")
    def ask_tool(question: str) -> dict[str, Any]:
        """Answer a plain-language question about the plant, citing entities and numbers."""
        with guarded():
            return ask.ask(store, question).as_dict()

    @server.tool(name="risks")
    def risks_tool(horizon_days: float = 7.0) -> dict[str, Any]:
        """Machines expected to fail within the horizon, and the deliveries at risk."""
        with guarded():
            return ask.risks(store, horizon_days).as_dict()

    @server.tool(name="asset_status")
    def asset_status_tool(asset: str) -> dict[str, Any]:
        """Status of an asset (id or name): open findings, maintenance orders, last state."""
        with guarded():
            return ask.asset_status(store, asset).as_dict()

    @server.tool(name="trace")
    def trace_tool(identifier: str) -> dict[str, Any]:
        """Trace a serial (order, product, tests, claims) or a lot (the orders that used it)."""
        with guarded():
            return ask.trace(store, identifier).as_dict()

    @server.tool(name="explain_finding")
    def explain_finding_tool(finding_id: str) -> dict[str, Any]:
        """What a finding says, on which evidence, and what was recommended about it."""
        with guarded():
            return ask.explain_finding(store, finding_id).as_dict()

    @server.tool(name="what_if_down")
    def what_if_down_tool(asset: str, hours: float = 8.0) -> dict[str, Any]:
        """What a machine going down for some hours means for the open work orders."""
        with guarded():
            return ask.what_if_down(store, asset, hours).as_dict()


def _field_and_process_tools(server: MCPServer, store: Store, guarded: Callable[[], Any]) -> None:
    """The field and process queries (service and design agents), when they are installed.

    The same functions as the REST routes ``/field/...`` and ``/process/...`` and ``ask``.
    """
    try:
        from factorybrain.agents import design, service  # noqa: F401
        from factorybrain.insights import (
            field_cohorts,
            field_reliability,
            process_proposals,
            recall_scope,
        )
    except ImportError:  # the agents are optional
        return

    @server.tool(name="field_cohorts")
    def field_cohorts_tool(
        failure_mode: str | None = None,
        attribute: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> dict[str, Any]:
        """Claims per cohort: lots, machines, orders whose units fail in the field more often.

        Each with claims, units, age-adjusted rate ratio and its interval, q-value, dominant
        failure mode and the size of its recall scope; most severe first.

        Args:
            failure_mode: Only cohorts whose claims are mostly of this mode (leak, noise, ...).
            attribute: material_lot, supplier_lot, machine_window, work_order, line, ...
            limit: Page size (1-1000).
            offset: Cohorts to skip.
        """
        with guarded():
            return field_cohorts(
                store, failure_mode=failure_mode, attribute=attribute, limit=limit, offset=offset
            )

    @server.tool(name="field_reliability")
    def field_reliability_tool(product: str | None = None) -> dict[str, Any]:
        """Field reliability (Weibull, censored): shape, scale, B10 life with its interval.

        Args:
            product: One product's id or name, with the points of its Weibull plot; without
                it, every product's fit and those that could not be fitted.
        """
        with guarded():
            return field_reliability(store, product)

    @server.tool(name="recall_scope")
    def recall_scope_tool(
        cluster: str, customer: str | None = None, limit: int = 100, offset: int = 0
    ) -> dict[str, Any]:
        """The serials of a failure cluster still in the field, with customers and shipments.

        Args:
            cluster: The cluster's finding id (fnd-...) or cohort (material_lot:<lot>).
            customer: Only this customer's serials (id or name).
            limit: Page size (1-1000).
            offset: Serials to skip.
        """
        with guarded():
            return recall_scope(store, cluster, customer=customer, limit=limit, offset=offset)

    @server.tool(name="process_proposals")
    def process_proposals_tool(
        product: str | None = None, line: str | None = None, limit: int = 20, offset: int = 0
    ) -> dict[str, Any]:
        """Recipe changes proposed per product: setpoints, predicted gain and its interval.

        Args:
            product: Only this product (id or name).
            line: Only the products made on this line (id or name, e.g. "line 2").
            limit: Page size (1-1000).
            offset: Proposals to skip.
        """
        with guarded():
            return process_proposals(store, product=product, line=line, limit=limit, offset=offset)


def create_http_app(
    server: MCPServer, tokens: TokenStore, *, role: str = "engineer", path: str = "/mcp"
) -> Callable[..., Awaitable[None]]:
    """The server over streamable HTTP, behind API tokens (``Authorization: Bearer <token>``).

    Every HTTP request needs a token of at least ``role`` (``engineer`` by default, since
    ``propose_action`` is among the tools); others get 401 or 403 before MCP sees them.
    """
    role_rank(role)
    inner = server.streamable_http_app(streamable_http_path=path)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            header = dict(scope.get("headers") or []).get(b"authorization", b"").decode()
            token = header[7:].strip() if header.lower().startswith("bearer ") else ""
            holder = tokens.check(token) if token else None
            if holder is None:
                status = 401
                detail = "missing or invalid token: send 'Authorization: Bearer <token>'"
            elif not has_role(holder.role, role):
                status = 403
                detail = f"MCP over HTTP needs the role {role!r}; the token has {holder.role!r}"
            elif not holder.allows("propose"):
                status = 403
                detail = "MCP over HTTP needs a token with the scope 'propose'"
            else:
                # The tools read who authenticated from the request (see _caller), never a
                # name the caller claims.
                scope.setdefault("state", {})[_HOLDER] = holder
                await inner(scope, receive, send)
                return
            body = json.dumps({"detail": detail}).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"www-authenticate", b"Bearer"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await inner(scope, receive, send)

    return app


__all__ = ["INSTRUCTIONS", "READABLE_TYPES", "create_http_app", "create_server"]
