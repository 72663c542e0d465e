"""The agents' records: findings, recommendations, actions (the approval inbox), the audit log.

Reads go through the store access side by side; every write (a finding's status, a proposal, a
decision on an action) holds the store's write lock and is an audit entry.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response

from factorybrain.agents import AgentRecords, Recommendation
from factorybrain.api._deps import Access, Conductor, Decider, Engineer, Viewer
from factorybrain.api._queries import known_total, page
from factorybrain.api._review import action_review
from factorybrain.api._schemas import (
    ActionId,
    ActionOut,
    ActionReviewOut,
    ActionState,
    ApproveBody,
    AuditOut,
    CompensateBody,
    Decision,
    FindingId,
    FindingOut,
    FindingStatus,
    FindingStatusBody,
    Limit,
    Offset,
    Page,
    ProposeBody,
    RecommendationId,
    RecommendationOut,
)
from factorybrain.store import Store

router = APIRouter(tags=["agents"])


# Pages of records are built as plain JSON values by the records that own their shape, and go
# out as they are: ``response_model`` documents them (the API tests check the answers against
# it); validating every row again would cost more than the query.
@router.get("/findings", response_model=Page[FindingOut])
def list_findings(
    _: Viewer,
    access: Access,
    limit: Limit = 50,
    offset: Offset = 0,
    kind: Annotated[
        str | None,
        Query(max_length=200, description="The kind of finding, e.g. `maintenance.rul_low`."),
    ] = None,
    status: Annotated[
        FindingStatus | None, Query(description="Where the finding is in its lifecycle.")
    ] = None,
    agent: Annotated[
        str | None,
        Query(max_length=200, description="The agent that reported it, e.g. `maintenance`."),
    ] = None,
    subject: Annotated[
        str | None,
        Query(max_length=500, description="The external id of the entity it is about."),
    ] = None,
) -> Response:
    """Findings, newest first, filtered by kind, status, agent or subject."""
    where = {"kind": kind, "status": status, "agent": agent, "subject": subject}

    def build(_store: Store, records: AgentRecords) -> dict[str, Any]:
        items = records.findings(**where, limit=limit, offset=offset)
        total = known_total(len(items), limit, offset)
        if total is None:
            total = records.count("finding", where)
        return page([f.dump() for f in items], total, limit, offset)

    key = ("findings", kind, status, agent, subject, limit, offset)
    return access.answer(key, ("finding",), build)


@router.get("/findings/{finding_id}")
def get_finding(_: Viewer, access: Access, finding_id: FindingId) -> FindingOut:
    """One finding with its evidence."""
    with access.read() as (_store, records):
        return FindingOut(**records.finding(finding_id).dump())


@router.post("/findings/{finding_id}/status")
def set_finding_status(
    holder: Engineer,
    access: Access,
    conductor: Conductor,
    finding_id: FindingId,
    body: FindingStatusBody,
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


@router.get("/recommendations", response_model=Page[RecommendationOut])
def list_recommendations(
    _: Viewer,
    access: Access,
    limit: Limit = 50,
    offset: Offset = 0,
    agent: Annotated[
        str | None,
        Query(max_length=200, description="The agent (or person) that proposed it."),
    ] = None,
    action_type: Annotated[
        str | None,
        Query(max_length=200, description="What it would do, e.g. `maintenance_order.create`."),
    ] = None,
) -> Response:
    """Recommendations, newest first, filtered by agent or action type."""

    def build(_store: Store, records: AgentRecords) -> dict[str, Any]:
        items = records.recommendations(
            agent=agent, action_type=action_type, limit=limit, offset=offset
        )
        total = known_total(len(items), limit, offset)
        if total is None:
            total = records.count("recommendation", {"agent": agent, "action_type": action_type})
        return page([r.dump() for r in items], total, limit, offset)

    key = ("recommendations", agent, action_type, limit, offset)
    return access.answer(key, ("recommendation",), build)


@router.get("/recommendations/{recommendation_id}")
def get_recommendation(
    _: Viewer, access: Access, recommendation_id: RecommendationId
) -> RecommendationOut:
    """One recommendation (a composite lists its steps)."""
    with access.read() as (_store, records):
        return RecommendationOut(**records.recommendation(recommendation_id).dump())


@router.get("/actions", response_model=Page[ActionOut])
def list_actions(
    _: Viewer,
    access: Access,
    limit: Limit = 50,
    offset: Offset = 0,
    state: Annotated[
        ActionState | None, Query(description="Where the action is: `proposed` ones wait.")
    ] = None,
) -> Response:
    """Actions, newest first; ``?state=proposed`` is the approval inbox."""

    def build(_store: Store, records: AgentRecords) -> dict[str, Any]:
        items = records.actions(state=state, limit=limit, offset=offset)
        total = known_total(len(items), limit, offset)
        if total is None:
            total = records.count_actions(state=state)
        return page([a.dump() for a in items], total, limit, offset)

    return access.answer(("actions", state, limit, offset), ("action",), build)


@router.get("/actions/{action_id}")
def get_action(_: Viewer, access: Access, action_id: ActionId) -> ActionOut:
    """One action with who decided, when, and what it changed."""
    with access.read() as (_store, records):
        return ActionOut(**records.action(action_id).dump())


# Never answered from the read cache: its ``you`` part is the caller's own.
@router.get("/actions/{action_id}/review", response_model=ActionReviewOut)
def review_action(
    holder: Viewer, access: Access, conductor: Conductor, action_id: ActionId
) -> JSONResponse:
    """One action with what a reviewer needs to decide on it, in one answer.

    The recommendation it carries out (approve its ``content_hash``), the findings it answers,
    the work orders it moves, the machines and materials it names as they are now (a work
    order's dates before the move), and whether the caller may approve or reject it.
    """
    with access.read() as (store, records):
        return JSONResponse(action_review(store, records, conductor, holder, action_id))


@router.post(
    "/actions",
    status_code=201,
    response_model=ActionOut,
    responses={200: {"model": ActionOut, "description": "The same proposal was made before."}},
)
def propose_action(
    holder: Engineer, access: Access, conductor: Conductor, body: ProposeBody
) -> JSONResponse:
    """Propose an action; it waits for someone else's approval (proposing never executes).

    The proposer is the caller. The same proposal again answers 200 with its action as it is
    now; a changed one is a new action (201) and supersedes the older proposal still waiting.
    """
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
        action, new = conductor.make_proposal(recommendation, actor=holder.actor)
    return JSONResponse(action.dump(), status_code=201 if new else 200)


@router.post("/actions/{action_id}/approve")
def approve_action(
    holder: Decider,
    access: Access,
    conductor: Conductor,
    action_id: ActionId,
    body: ApproveBody | None = None,
) -> ActionOut:
    """Approve a proposed action (and execute it); needs the role its policy names.

    Send the recommendation's ``content_hash`` as you saw it: the approval is refused (409)
    unless it is what will execute. Nobody approves their own proposal (403), unless an admin
    overrides with a comment (audited).
    """
    body = body or ApproveBody()
    with access.write():
        action = conductor.approve(
            action_id,
            actor=holder.actor,
            role=holder.role,
            comment=body.comment,
            execute=body.execute,
            content_hash=body.content_hash,
            override=body.override,
        )
    return ActionOut(**action.dump())


@router.post("/actions/{action_id}/execute")
def execute_action(
    holder: Decider, access: Access, conductor: Conductor, action_id: ActionId
) -> ActionOut:
    """Execute an approved action (one approved with ``execute: false``)."""
    with access.write():
        action = conductor.records.action(action_id)
        conductor.policies.check_can_decide(holder.role, action.required_role, action_id)
        action = conductor.execute(action_id, actor=holder.actor)
    return ActionOut(**action.dump())


@router.post("/actions/{action_id}/compensate", status_code=201)
def compensate_action(
    holder: Engineer,
    access: Access,
    conductor: Conductor,
    action_id: ActionId,
    body: CompensateBody | None = None,
) -> ActionOut:
    """Propose the action that undoes an executed one; someone else approves it.

    The executed action is never edited: the undo is a new action with the inverse steps.
    """
    body = body or CompensateBody()
    with access.write():
        action = conductor.compensate(action_id, actor=holder.actor, comment=body.comment)
    return ActionOut(**action.dump())


@router.post("/actions/{action_id}/reject")
def reject_action(
    holder: Decider,
    access: Access,
    conductor: Conductor,
    action_id: ActionId,
    body: Decision | None = None,
) -> ActionOut:
    """Reject a proposed action with a comment; needs the role its policy names."""
    body = body or Decision()
    with access.write():
        action = conductor.reject(
            action_id, actor=holder.actor, role=holder.role, comment=body.comment
        )
    return ActionOut(**action.dump())


@router.get("/audit", response_model=Page[AuditOut])
def audit_log(
    _: Viewer,
    access: Access,
    limit: Limit = 50,
    offset: Offset = 0,
    object_id: Annotated[
        str | None,
        Query(max_length=500, description="The id of what changed (an action, a finding...)."),
    ] = None,
    actor: Annotated[
        str | None, Query(max_length=200, description="Who changed it (a person or an agent).")
    ] = None,
    verb: Annotated[
        str | None, Query(max_length=100, description="What was done, e.g. `action.approved`.")
    ] = None,
) -> Response:
    """The audit log, newest first: who changed what, when, filtered by object, actor or verb."""

    def build(_store: Store, records: AgentRecords) -> dict[str, Any]:
        items = records.audit_log(
            object_id=object_id, actor=actor, verb=verb, limit=limit, offset=offset
        )
        total = known_total(len(items), limit, offset)
        if total is None:
            total = records.count(
                "audit_entry", {"object_id": object_id, "actor": actor, "verb": verb}
            )
        return page([e.dump() for e in items], total, limit, offset)

    key = ("audit", object_id, actor, verb, limit, offset)
    return access.answer(key, ("audit_entry",), build)
