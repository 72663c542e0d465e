"""The request and response shapes of the REST API, and the query parameters routes share.

The routes' ``response_model``s and bodies; the OpenAPI document (which the dashboard and the
API tests read) is generated from them. The shapes of the factory model's entities and the
filters of their lists are made from its entity types (:func:`entity_out`,
:func:`entity_query`).

Every request body is bounded: each text has a longest length, each list a largest number of
items, numbers are finite, and the free-form objects of a proposal (:data:`JSONObject`) hold
finite numbers and 64-bit integers only, at most :data:`MAX_JSON_DEPTH` levels deep and
:data:`MAX_JSON_BYTES` serialized. What a client sends beyond that is refused with 422 before
anything is stored.
"""

from __future__ import annotations

import functools
import json
from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from fastapi import Path, Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model
from pydantic_core import PydanticCustomError

from factorybrain.api._queries import EARLIEST, LATEST, instant, parse_every
from factorybrain.exceptions import ParameterError
from factorybrain.model import SYSTEM_COLUMNS, entity_type
from factorybrain.model import Field as ModelField

T = TypeVar("T")

#: Deepest nesting of a free-form object of a body (``{"a": {"b": 1}}`` is 2 levels deep).
MAX_JSON_DEPTH = 8
#: Largest free-form object of a body, serialized as compact UTF-8 JSON (64 KiB).
MAX_JSON_BYTES = 64 * 1024
_INT64 = 2**63


def _bounded_json(value: dict[str, Any]) -> dict[str, Any]:
    """Check a free-form object: JSON values only, finite, not too deep or too large.

    Raises:
        PydanticCustomError: What is wrong (answered as a validation error, type
            ``json_bounds``).
    """
    try:
        text = json.dumps(value, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
        size = len(text.encode("utf-8"))
    except RecursionError:
        raise _out_of_bounds(f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    except UnicodeEncodeError:
        raise _out_of_bounds("text must be Unicode (it holds half a surrogate pair)") from None
    except (ValueError, TypeError) as error:  # NaN or infinity; not a JSON value
        raise _out_of_bounds(f"only finite numbers and JSON values are allowed ({error})") from None
    if size > MAX_JSON_BYTES:
        raise _out_of_bounds(f"{size} bytes as JSON; at most {MAX_JSON_BYTES} are allowed")
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise _out_of_bounds(f"nested deeper than {MAX_JSON_DEPTH} levels")
            stack.extend((child, depth + 1) for child in _children(item))
        elif isinstance(item, int) and not isinstance(item, bool) and not -_INT64 <= item < _INT64:
            raise _out_of_bounds("integers must fit in 64 bits")
    return value


def _out_of_bounds(message: str) -> PydanticCustomError:
    # The message is not a template: braces in it are kept as they are.
    expected = (
        f"a JSON object of finite numbers and 64-bit integers, at most {MAX_JSON_DEPTH} levels "
        f"deep and {MAX_JSON_BYTES // 1024} KiB as JSON"
    )
    return PydanticCustomError("json_bounds", "{reason}", {"reason": message, "expected": expected})


def _children(item: dict[str, Any] | list[Any]) -> list[Any]:
    return list(item.values()) if isinstance(item, dict) else item


#: A free-form JSON object of a request body (an action's parameters, its expected effect).
JSONObject = Annotated[
    dict[str, Any],
    AfterValidator(_bounded_json),
    Field(
        description=f"Any JSON object of finite numbers, at most {MAX_JSON_DEPTH} levels deep "
        f"and {MAX_JSON_BYTES // 1024} KiB as JSON."
    ),
]
#: An identifier in a request body (a finding's id, an agent's name).
Identifier = Annotated[str, Field(min_length=1, max_length=200)]
#: What a finding's status may be (the agents' ``FINDING_STATUSES``).
FindingStatus = Literal["open", "acknowledged", "resolved", "superseded", "closed"]
#: What an action's state may be (the agents' ``ACTION_STATES``).
ActionState = Literal["proposed", "approved", "rejected", "superseded", "executed", "failed"]


class RequestBody(BaseModel):
    """The base of every request body: finite numbers, no text longer than 10,000 characters.

    Fields declare tighter bounds of their own.
    """

    model_config = ConfigDict(allow_inf_nan=False, str_max_length=10_000)


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
    slot: str = Field(description="What it is about; a changed proposal keeps its slot.")
    content_hash: str = Field(
        description="SHA-256 of everything shown here; send it back when approving."
    )


class ActionOut(BaseModel):
    """A recommendation on its way: proposed, approved, rejected, superseded, executed, failed."""

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
    proposed_by: str | None = Field(default=None, description="Never its approver.")
    content_hash: str | None = Field(
        default=None, description="Content hash of the recommendation it carries out."
    )
    approved_hash: str | None = Field(
        default=None, description="The content hash the approver saw and approved."
    )
    superseded_by: str | None = Field(
        default=None, description="The action of the changed proposal that replaced it."
    )


class AuditOut(BaseModel):
    """One state change and who made it."""

    id: str
    actor: str
    verb: str
    object_type: str
    object_id: str
    occurred_at: str | None
    details: dict[str, Any]


class Decision(RequestBody):
    """A reviewer's decision on an action."""

    comment: str | None = Field(
        default=None, max_length=2000, description="Why; kept in the audit log."
    )


ContentHash = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class ApproveBody(Decision):
    """Approve what you were shown; it executes right away unless ``execute`` is false."""

    content_hash: ContentHash | None = Field(
        default=None,
        description="The recommendation's `content_hash` as you saw it: the approval is "
        "refused (409) unless it is exactly what will execute.",
    )
    override: bool = Field(
        default=False,
        description="An admin approving their own proposal (separation of duties waived, "
        "audited as such; a comment is required).",
    )
    execute: bool = Field(
        default=True,
        description="Apply the action right after approving it (else `POST .../execute`).",
    )


class CompensateBody(RequestBody):
    """Why an executed action is to be undone."""

    comment: str = Field(default="", max_length=2000)


class SessionBody(RequestBody):
    """A token to sign the dashboard in with; it answers a session cookie and a CSRF token."""

    token: str = Field(..., min_length=1, max_length=200)


class SessionOut(BaseModel):
    """Who is signed in, what they may do, and the CSRF token their writes must send."""

    name: str
    role: str
    scopes: list[str]
    expires_at: str | None
    csrf_token: str | None = Field(
        default=None, description="Send it as `X-CSRF-Token` with every write of the session."
    )


class TokenBody(RequestBody):
    """A token to issue."""

    name: str = Field(..., min_length=1, max_length=200)
    role: str = Field(..., max_length=20, description="viewer, engineer, planner or admin.")
    scopes: list[Annotated[str, Field(max_length=20)]] | None = Field(
        default=None,
        max_length=4,
        description="Fewer scopes than the role's: read, propose, decide, admin.",
    )
    expires_in_days: float | None = Field(default=None, gt=0, le=3650)


class TokenOut(BaseModel):
    """A token's holder and state (never the token, except once when issued)."""

    token_id: str
    name: str
    role: str
    scopes: list[str]
    created_at: str
    created_by: str
    expires_at: str | None
    last_used_at: str | None
    revoked_at: str | None
    token: str | None = Field(default=None, description="Shown once, when issued or rotated.")


class ProposeBody(RequestBody):
    """An action proposed by a person or an assistant; it is never executed by proposing."""

    action_type: str = Field(..., min_length=1, max_length=100, examples=["notify"])
    parameters: JSONObject = Field(default_factory=dict)
    finding_ids: list[Identifier] = Field(default_factory=list, max_length=100)
    expected_effect: JSONObject = Field(default_factory=dict)
    title: str = Field(default="", max_length=200)


class FindingStatusBody(RequestBody):
    """New status of a finding."""

    status: FindingStatus = Field(..., description="Where the finding is in its lifecycle now.")
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


class RunBody(RequestBody):
    """Which agents to run; all installed ones when empty."""

    agents: list[Identifier] = Field(default_factory=list, max_length=50)


class Question(RequestBody):
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


class ValidationIssue(BaseModel):
    """One way a request does not match the spec: where, what was expected and what was found."""

    in_: Literal["query", "path", "header", "cookie", "body"] | None = Field(
        alias="in", description="Where the value is: the query, the path, a header, the body."
    )
    name: str | None = Field(
        description="The parameter (`limit`), or the field's dotted path in the body "
        "(`parameters.quantity`); null for the body as a whole.",
        examples=["state"],
    )
    expected: str = Field(
        description="What is allowed there.", examples=["'proposed', 'approved' or 'rejected'"]
    )
    found: str | None = Field(
        description="What was sent there, in brief: a number or a short text (redacted), else "
        "only its kind and size (`a text of 70000 characters`); null when nothing was sent or "
        "`msg` says it.",
        examples=['"pending"'],
    )
    loc: list[str | int] = Field(
        description='Where, as a path: `["body", "parameters", "quantity"]`, `["query", "limit"]`.'
    )
    msg: str = Field(description="What is wrong there.")
    type: str = Field(description="The kind of failure (`missing`, `json_not_finite`, ...).")


class Problem(BaseModel):
    """What every error answer holds: problem details (RFC 9457), ``application/problem+json``.

    ``type`` is ``about:blank`` and ``title`` the name of the status; ``detail`` says what went
    wrong with this request and ``instance`` is the path asked for. The extension member
    ``error`` names the error's class; a request that does not match the spec (422) lists every
    failure in ``errors``.
    """

    model_config = ConfigDict(extra="allow")

    type: str = Field(default="about:blank", description="`about:blank`: see `status`.")
    title: str = Field(description="The name of the HTTP status.", examples=["Not Found"])
    status: int = Field(description="The HTTP status.", examples=[404])
    detail: str = Field(description="What went wrong with this request.")
    instance: str = Field(description="The path of the request.", examples=["/api/v1/assets/x"])
    error: str = Field(
        description="The error's class, e.g. `HTTPException`, `RecordNotFoundError`, "
        "`RequestValidationError`, `BodyTooLarge`, `Overloaded`, `InternalServerError`.",
        examples=["RecordNotFoundError"],
    )
    errors: list[ValidationIssue] | None = Field(
        default=None, description="For 422 from validation: each failure."
    )


#: The media type of every error answer.
PROBLEM_MEDIA_TYPE = "application/problem+json"
#: The error answers of the OpenAPI document, by status: the name they have under
#: ``components/responses`` and what they mean.
_ERRORS: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "A request the factory model cannot answer."),
    401: ("Unauthorized", "No token, or a token that is not valid."),
    403: (
        "Forbidden",
        "The token's role or scope may not do this, a session's write lacks its CSRF token, or "
        "a proposer tries to approve their own action.",
    ),
    404: ("NotFound", "No such entity, record or path."),
    409: (
        "Conflict",
        "The action is not in a state that allows this, the content approved is not the "
        "content stored, or the agents are already running.",
    ),
    413: ("ContentTooLarge", "A request body larger than the server accepts."),
    422: (
        "UnprocessableContent",
        "A parameter or body that is not valid (each failure in `errors`), or a body that is "
        "not strict JSON (NaN, Infinity, a key twice in one object).",
    ),
    429: (
        "TooManyRequests",
        "Too many writes or runs of the agents from this token; `Retry-After` says when to "
        "try again.",
    ),
    500: ("InternalServerError", "An unexpected error; it is logged, its detail is generic."),
    503: (
        "ServiceUnavailable",
        "The server is answering as many requests as it takes at once; `Retry-After` says when "
        "to try again.",
    ),
}
#: Error answers every route may give, each a reference to ``components/responses``.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"$ref": f"#/components/responses/{name}", "description": description}
    for status, (name, description) in _ERRORS.items()
}


def problem_components() -> dict[str, dict[str, Any]]:
    """The OpenAPI components of the error answers: the ``Problem`` schema and the responses.

    Returns:
        ``{"schemas": {...}, "responses": {...}}``, to merge into the document's components.
    """
    schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas = {**schema.pop("$defs", {}), "Problem": schema}
    content = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    responses = {
        name: {"description": description, "content": content}
        for name, description in _ERRORS.values()
    }
    return {"schemas": schemas, "responses": responses}


class Health(BaseModel):
    """Liveness, readiness, the version of factorybrain and the store's schema, the uptime."""

    status: str
    schema_version: int
    ready: bool = Field(
        description="False while the server still prepares slow answers in the background "
        "(see `factorybrain serve`); requests are served meanwhile, some more slowly."
    )
    version: str = Field(description="The version of factorybrain serving.")
    store: str = Field(description="The name of the store file served (without its folder).")
    uptime_s: float = Field(description="Seconds since the server's app was built.")


#: The paging parameters of the list routes.
Limit = Annotated[int, Query(ge=1, le=1000, description="Page size.")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="Rows to skip.")]
#: The ids of the agents' records, as path parameters.
FindingId = Annotated[str, Path(max_length=200, description="The finding's id (`fnd-...`).")]
RecommendationId = Annotated[
    str, Path(max_length=200, description="The recommendation's id (`rec-...`).")
]
ActionId = Annotated[str, Path(max_length=200, description="The action's id (`act-...`).")]
#: Whose tokens, as a path parameter.
TokenHolder = Annotated[
    str, Path(max_length=200, description="The holder's name, or the id of one token.")
]
#: The instants the queries accept, in words.
_BOUNDS = f"between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (UTC)"


def _within_bounds(value: datetime) -> datetime:
    """Check that an instant lies where the store and the engines can represent it.

    Raises:
        PydanticCustomError: It does not (answered as a validation error, type
            ``instant_range``).
    """
    try:
        instant(value, "instant")
    except ParameterError:
        raise PydanticCustomError(
            "instant_range",
            "Input should be an instant {bounds}",
            {"bounds": _BOUNDS, "expected": f"an instant {_BOUNDS}"},
        ) from None
    return value


def _bucket_width(value: str) -> str:
    """Check a bucket width (``15m``, ``1h``) as :func:`parse_every` reads it.

    Raises:
        PydanticCustomError: It is not one (answered as a validation error, type
            ``bucket_width``).
    """
    try:
        parse_every(value)
    except ParameterError:
        raise PydanticCustomError(
            "bucket_width",
            "Input should be a number with an optional unit (ms, s, m, h, d), between 1ms "
            "and 3660d",
            {
                "expected": "a width like 15m: a number with an optional unit (ms, s, m, h, d), "
                "between 1ms and 3660d"
            },
        ) from None
    return value


#: An instant of a query: ISO 8601, UTC unless it has an offset, within the store's range.
Instant = Annotated[datetime, AfterValidator(_within_bounds)]
#: The bucket width of a downsampled series.
BucketWidth = Annotated[str, AfterValidator(_bucket_width)]
#: The start and the end of a window of time, as query parameters.
Start = Annotated[
    Instant | None,
    Query(description="First instant (ISO 8601, UTC unless it has an offset), included."),
]
End = Annotated[Instant | None, Query(description="The instant the window ends at, excluded.")]


class AgentOut(BaseModel):
    """An installed agent: what it reacts to and how often it runs."""

    name: str
    subscriptions: list[str] = Field(description="The finding kinds it reacts to.")
    schedule_seconds: float | None = Field(
        description="Seconds between its scheduled runs; null when it runs only when asked."
    )
    watches: list[str] = Field(description="The tables whose changes it looks at.")


class PlaybookRouteOut(BaseModel):
    """One step of a playbook: the agent that reacts to a finding kind."""

    on: str
    agent: str


class PlaybookOut(BaseModel):
    """A playbook in force: which agents react to which finding kinds, and who approves."""

    name: str
    trigger: str
    routes: list[PlaybookRouteOut]
    bundle: bool = Field(description="Whether the chain's recommendations are one action.")
    approver: str = Field(description="The role that approves the bundled action, at least.")
    description: str


class EntityQuery(BaseModel):
    """The query of an entity list route: a page, and filters by equality on the type's fields.

    Subclassed per entity type by :func:`entity_query`; a parameter the route does not
    document is refused (422), not ignored.
    """

    model_config = ConfigDict(extra="forbid", protected_namespaces=(), allow_inf_nan=False)

    limit: int = Field(default=50, ge=1, le=1000, description="Page size.")
    offset: int = Field(default=0, ge=0, le=10_000_000, description="Rows to skip.")

    def filters(self) -> dict[str, Any]:
        """The filters given, by field name (the page left out)."""
        return self.model_dump(exclude={"limit", "offset"}, exclude_none=True)


class EntityOut(BaseModel):
    """An entity of the factory model: its identity, its fields and the store's bookkeeping.

    Subclassed per entity type by :func:`entity_out`.
    """

    model_config = ConfigDict(extra="allow", protected_namespaces=())

    space: str = Field(description="Site or source system the identifier is unique in.")
    external_id: str = Field(description="Identifier, unique within its space.")


#: Field types a list route filters on, by equality; lists and JSON are not filters.
_FILTER_TYPES: dict[str, Any] = {
    "string": Annotated[str, Field(max_length=500)],
    "text": Annotated[str, Field(max_length=2000)],
    "int": Annotated[int, Field(ge=-(2**63), lt=2**63)],
    "float": float,
    "bool": bool,
    "timestamp": Instant,
}
#: What each field type is in an answer (timestamps are ISO 8601 text, UTC).
_OUT_TYPES: dict[str, Any] = {
    "string": str,
    "text": str,
    "int": int,
    "float": float,
    "bool": bool,
    "timestamp": str,
    "json": Any,
    "string[]": list[str],
}


@functools.cache
def entity_query(entity: str) -> type[EntityQuery]:
    """The query parameters of the list route of ``entity``: the page and a filter per field.

    An enumerated field takes only its values; a timestamp is an instant (ISO 8601); numbers
    and booleans are parsed as such.
    """
    model = entity_type(entity)
    fields: dict[str, Any] = {
        field.name: (
            _filter_type(field) | None,
            Field(default=None, description=_filter_description(field)),
        )
        for field in model.all_fields
        if field.type in _FILTER_TYPES
    }
    return create_model(
        f"{_class_name(entity)}Query", __base__=EntityQuery, __doc__=model.description, **fields
    )


@functools.cache
def entity_out(entity: str) -> type[EntityOut]:
    """The shape of one ``entity`` in an answer: every field of the type, null when unset."""
    model = entity_type(entity)
    fields: dict[str, Any] = {
        field.name: (
            _OUT_TYPES[field.type] | None,
            Field(default=None, description=_out_description(field)),
        )
        for field in (*model.all_fields, *SYSTEM_COLUMNS)
        if field.name not in EntityOut.model_fields
    }
    return create_model(
        f"{_class_name(entity)}Out", __base__=EntityOut, __doc__=model.description, **fields
    )


def _filter_type(field: ModelField) -> Any:
    """The type of a filter on ``field``: its values when it is an enumeration."""
    if field.values:
        return Literal[field.values]
    return _FILTER_TYPES[field.type]


def _filter_description(field: ModelField) -> str:
    """What a filter on ``field`` keeps."""
    what = field.description
    if field.ref:
        what += f" The external id of a {field.ref.replace('_', ' ')}."
    if field.type == "timestamp":
        return f"{what} Rows at exactly this instant (ISO 8601, UTC unless it has an offset)."
    return f"{what} Rows whose {field.name} equals this."


def _out_description(field: ModelField) -> str:
    """What ``field`` holds in an answer."""
    what = field.description
    if field.type == "timestamp":
        what += " ISO 8601, UTC."
    if field.unit:
        what += f" In {field.unit}."
    return what


def _class_name(entity: str) -> str:
    """``work_order`` -> ``WorkOrder``."""
    return "".join(part.capitalize() for part in entity.split("_"))


class ReplayBody(RequestBody):
    """Agents over history: from when to when, how often, which agents, into which scenario."""

    start: Instant = Field(..., description="First step (ISO 8601, UTC unless it has an offset).")
    end: Instant = Field(..., description="Last step.")
    every_seconds: float = Field(
        3600.0, gt=0, le=366 * 86400, description="Time between steps, in seconds."
    )
    agents: list[Identifier] = Field(
        default_factory=list, max_length=50, description="Agents to run; every one when empty."
    )
    scenario: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$",
        description="The scenario's name (replaced if it exists); default from the moments.",
    )


class ReplayedFindingOut(BaseModel):
    """A finding of a replay and the step at which it would first have been raised."""

    id: str
    agent: str
    kind: str
    subject_type: str
    subject: str
    severity: str
    title: str
    data_at: datetime | None = Field(description="The moment of the data it is about.")
    raised_at: datetime = Field(description="The first step that raised it.")


class ReplayOut(BaseModel):
    """What a replay did and found; its records are in the space ``space``."""

    scenario: str
    space: str
    start: datetime
    end: datetime
    every_seconds: float
    agents: list[str]
    steps: int
    findings: list[ReplayedFindingOut]
    recommendations: int
    errors: list[dict[str, str]]
    seconds: float


class ReviewedWorkOrderOut(BaseModel):
    """A work order a proposal moves, as it is now (its dates before the move)."""

    space: str
    external_id: str
    name: str | None = None
    product: str | None = None
    line: str | None = None
    quantity: float | None = None
    status: str | None = None
    due_at: str | None = None
    planned_start: str | None = Field(default=None, description="Planned start now.")
    planned_end: str | None = Field(default=None, description="Planned end now.")


class ReviewedAssetOut(BaseModel):
    """A machine a proposal or its findings name, in each space that holds it."""

    space: str
    external_id: str
    name: str | None = None
    level: str | None = None
    parent: str | None = Field(default=None, description="The line or area it belongs to.")


class ReviewedMaterialOut(BaseModel):
    """A material a proposal orders, with its name and unit."""

    space: str
    external_id: str
    name: str | None = None
    material_type: str | None = None
    unit_of_measure: str | None = None


class ReviewerOut(BaseModel):
    """Whether the caller may decide on the action, and why not when they may not."""

    may_approve: bool
    may_reject: bool
    why_not: str | None = Field(
        description="Why the caller may not approve (own proposal, role too low, decided)."
    )


class ActionReviewOut(BaseModel):
    """One action with what a reviewer needs to decide on it.

    ``recommendation`` is what is approved (send its ``content_hash`` back); the records are
    shown as they are now, for context: a work order's dates before the move, names and units.
    """

    action: ActionOut
    recommendation: RecommendationOut
    findings: list[FindingOut] = Field(description="The findings it answers.")
    missing_findings: list[str] = Field(
        description="Ids of findings it names that the store no longer holds."
    )
    work_orders: list[ReviewedWorkOrderOut]
    assets: list[ReviewedAssetOut]
    materials: list[ReviewedMaterialOut]
    you: ReviewerOut
