"""The request and response shapes of the REST API, and the query parameters routes share.

The routes' ``response_model``s and bodies; the OpenAPI document (which the dashboard and the
API tests read) is generated from them.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field

from factorybrain.agents import FINDING_STATUSES

T = TypeVar("T")


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


#: The paging parameters of the list routes.
Limit = Annotated[int, Query(ge=1, le=1000, description="Page size.")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="Rows to skip.")]
