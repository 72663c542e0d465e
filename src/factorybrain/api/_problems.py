r"""Every error answer of the API in one shape: problem details (RFC 9457).

An error is ``application/problem+json``::

    {"type": "about:blank", "title": "Not Found", "status": 404,
     "detail": "no action 'act-1'", "instance": "/api/v1/actions/act-1",
     "error": "RecordNotFoundError"}

``type`` is ``about:blank`` (the status says what kind of problem it is) and ``title`` the
status' name; ``detail`` says what went wrong with this request; ``instance`` is the path asked
for. The extension member ``error`` names the error's class, and a request that does not match
the spec (422) lists each failure in ``errors``::

    {"in": "query", "name": "state", "expected": "'proposed', 'approved', ... or 'failed'",
     "found": "\"pending\"", "loc": ["query", "state"], "msg": "Input should be ...",
     "type": "literal_error"}

``in`` is where the value is (``query``, ``path``, ``header``, ``cookie``, ``body``), ``name``
the parameter or the field's dotted path in the body, ``found`` what was sent there in brief: a
number or a short text (redacted), else only its kind and size, so that an answer never carries
a large value or a secret back. An unexpected error is logged with its traceback and answered
500 with a generic detail: its message, which may hold anything, never leaves the server.

The handlers here are registered by :func:`factorybrain.api.create_app`; the middleware of
:mod:`factorybrain.api._middleware` answers its 413 with :func:`problem_response` too.
"""

from __future__ import annotations

import http
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import Scope

from factorybrain.secrets import redact

#: The media type of every error answer.
PROBLEM_JSON = "application/problem+json"
#: At most this many failures are listed in ``errors``, and named in ``detail``.
MAX_ERRORS = 50
_DETAIL_ERRORS = 5
#: Longest text kept of one part of a location, a message, or the instance.
_MAX_LOC_PART = 100
_MAX_MSG = 500
_MAX_DETAIL = 4000
_MAX_INSTANCE = 2000
#: Longest text shown as it is in ``found``; a longer one is shown by its length only.
_MAX_FOUND_TEXT = 40
#: Where a value of a request is, the first part of a failure's location.
_PLACES = frozenset({"query", "path", "header", "cookie", "body"})
#: What a query parameter the route does not take is told.
_UNKNOWN_PARAMETER = "not a parameter of this route"
#: Pydantic's "Input should be a valid integer, unable to parse ...": what was expected.
_SHOULD = re.compile(
    r"^(?:Input|Value|String|List|Tuple|Set|Dictionary|Object|Decimal|Date|Datetime|Time) "
    r"should (?:be |have )?(?P<expected>.+)$",
    re.DOTALL,
)
#: RFC 9110's names where Python's differ (3.11 says "Request Entity Too Large").
_TITLES = {413: "Content Too Large", 422: "Unprocessable Content"}
#: What a 500 says; what went wrong is in the server's log.
SERVER_ERROR_DETAIL = "an unexpected error occurred on the server; it has been logged"

logger = logging.getLogger("factorybrain.api")

Handler = Callable[[Request, Exception], Awaitable[JSONResponse]]


class ProblemResponse(JSONResponse):
    """A JSON answer with the media type of problem details."""

    media_type = PROBLEM_JSON


def title(status: int) -> str:
    """The name of an HTTP status (``404`` -> ``"Not Found"``)."""
    if status in _TITLES:
        return _TITLES[status]
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def instance(scope: Scope) -> str:
    """The path the request asked for (its root path included), percent-encoded, no query."""
    path = str(scope.get("path", ""))[:_MAX_INSTANCE]
    return quote(path, safe="/:@!$&'()*+,;=-._~", errors="replace")


def problem_response(
    scope: Scope,
    status: int,
    detail: str,
    error: str,
    *,
    errors: Sequence[Mapping[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
    constant_detail: bool = False,
) -> ProblemResponse:
    """A problem-details answer.

    Args:
        scope: The ASGI scope of the request (for ``instance``).
        status: The HTTP status.
        detail: What went wrong with this request, for a person.
        error: The error's class name (the extension member ``error``).
        errors: For a request that does not match the spec, each failure (``in``, ``name``,
            ``expected``, ``found``, ``loc``, ``msg``, ``type``).
        headers: Headers to send with it (``WWW-Authenticate``, ``Allow``, ...).
        constant_detail: ``detail`` is the server's own text, built from nothing a request or
            the environment brought (the 503 of load shedding): it is not scanned for secrets,
            which costs more than the rest of the answer when the server is busiest.

    Returns:
        The response, ``application/problem+json``.
    """
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title(status),
        "status": status,
        # Redacted before it is cut.
        "detail": _text(detail if constant_detail else redact(detail), _MAX_DETAIL),
        "instance": instance(scope),
        "error": error,
    }
    if errors is not None:
        body["errors"] = list(errors)
    return ProblemResponse(body, status_code=status, headers=dict(headers) if headers else None)


async def http_error(request: Request, error: Exception) -> JSONResponse:
    """An :class:`HTTPException` (ours, and the router's 404 and 405), with its headers."""
    assert isinstance(error, HTTPException)
    detail = error.detail if isinstance(error.detail, str) else title(error.status_code)
    # The router's 404 and 405 say no more than their status: say what they mean.
    if error.status_code == 404 and detail == "Not Found":
        detail = "nothing is served at this path"
    elif error.status_code == 405 and detail == "Method Not Allowed":
        allowed = (error.headers or {}).get("Allow", "")
        detail = f"{request.method} is not allowed at this path; it allows {allowed}"
    return problem_response(
        request.scope, error.status_code, detail, "HTTPException", headers=error.headers
    )


async def validation_error(request: Request, error: Exception) -> JSONResponse:
    """A request that does not match the spec: 422, each failure in ``errors``."""
    assert isinstance(error, RequestValidationError)
    found = error.errors()
    errors = [_failure(failure) for failure in found[:MAX_ERRORS]]
    named = [f"{_dotted(failure['loc'])}: {failure['msg']}" for failure in errors[:_DETAIL_ERRORS]]
    more = len(found) - len(named)
    detail = "; ".join(named) + (f" (and {more} more)" if more > 0 else "")
    return problem_response(
        request.scope,
        422,
        detail or "the request is not valid",
        "RequestValidationError",
        errors=errors,
    )


def domain_error(status: int) -> Handler:
    """A handler for an error factorybrain raises on purpose: its message and class."""

    async def handler(request: Request, error: Exception) -> JSONResponse:
        return problem_response(request.scope, status, str(error), type(error).__name__)

    return handler


#: What a client is told when the database stopped answering (the details go to the log: they
#: name the database's host).
DATABASE_GONE_DETAIL = (
    "the database is not answering (a restart, a crash or the network); nothing of this "
    "request was kept: send it again after the seconds in Retry-After"
)


def database_gone(retry_after_s: int) -> Handler:
    """The handler of a lost database connection: 503 with ``Retry-After``, logged.

    The store connects anew on the next request, so once the database is back the same worker
    answers again; no worker has to be restarted.
    """

    async def handler(request: Request, error: Exception) -> JSONResponse:
        logger.warning("database gone answering %s %s: %s", request.method, request.url.path, error)
        return problem_response(
            request.scope,
            503,
            DATABASE_GONE_DETAIL,
            "DatabaseUnavailable",
            headers={"Retry-After": str(retry_after_s)},
        )

    return handler


def server_error(headers: Mapping[str, str]) -> Handler:
    """The handler of unexpected errors: logged with the traceback, answered 500 generically.

    It runs outside every middleware of the app (in Starlette's ``ServerErrorMiddleware``),
    so it sends the security headers itself.

    Args:
        headers: Headers every answer carries (the security headers).

    Returns:
        The handler.
    """

    async def handler(request: Request, error: Exception) -> JSONResponse:
        logger.error(
            "unexpected error answering %s %s", request.method, request.url.path, exc_info=error
        )
        return problem_response(
            request.scope, 500, SERVER_ERROR_DETAIL, "InternalServerError", headers=headers
        )

    return handler


def _failure(failure: Mapping[str, Any]) -> dict[str, Any]:
    """One failure of validation: where, which parameter or field, expected and found.

    The input itself is shown only when it is short (:func:`_found`): it may be as large as
    the body, or a secret someone pasted.
    """
    loc = [
        part if isinstance(part, int) else _text(str(part), _MAX_LOC_PART)
        for part in failure.get("loc", ())
    ]
    msg = str(failure.get("msg", ""))
    context = failure.get("ctx") or {}
    reason = context.get("error")
    kind = str(failure.get("type", "value"))
    if kind == "json_invalid" and isinstance(reason, str):
        msg = f"{msg}: {reason}"  # FastAPI's JSON decode error says why in ``ctx``
    elif kind == "extra_forbidden":
        msg = _UNKNOWN_PARAMETER  # pydantic says "Extra inputs are not permitted"
    place = loc[0] if loc and loc[0] in _PLACES else None
    name = _dotted(loc[1:] if place else loc) or None
    return {
        "in": place,
        "name": name,
        "expected": _text(_expected(kind, msg, context), _MAX_MSG),
        "found": _found(failure) if kind != "missing" else None,
        "loc": loc,
        "msg": _text(msg, _MAX_MSG),
        "type": kind,
    }


def _expected(kind: str, msg: str, context: Mapping[str, Any]) -> str:
    """What a failed check expected: ``ctx["expected"]``, else read from its message."""
    expected = context.get("expected")
    if isinstance(expected, str) and expected:
        return expected
    if kind == "missing":
        return "a value"
    if kind == "extra_forbidden":
        return "one of the parameters the route documents (in /openapi.json)"
    match = _SHOULD.match(msg)
    if not match:
        return msg
    expected = match.group("expected")
    if expected.startswith("a valid "):  # "a valid integer, unable to parse ...": the reason
        expected = expected.split(", ", 1)[0]
    return expected


def _found(failure: Mapping[str, Any]) -> str | None:
    """What was sent, in brief: a short number or text (redacted), else its kind and size.

    None when the failure does not say (the strict JSON parser names what it found in ``msg``).
    """
    if "input" not in failure:
        return None
    value = failure["input"]
    if value is None or isinstance(value, bool | int | float):
        number = json.dumps(value)
        return number if len(number) <= _MAX_FOUND_TEXT else f"a number of {len(number)} digits"
    if isinstance(value, str):
        if len(value) > _MAX_FOUND_TEXT:
            return f"a text of {len(value)} characters"
        return _text(json.dumps(redact(value), ensure_ascii=False), _MAX_MSG)
    if isinstance(value, list | tuple):
        return f"a list of {len(value)} item{'' if len(value) == 1 else 's'}"
    if isinstance(value, Mapping):
        return f"an object of {len(value)} key{'' if len(value) == 1 else 's'}"
    return f"a value of type {type(value).__name__}"


def _text(text: str, limit: int) -> str:
    """At most ``limit`` characters of ``text``, half surrogate pairs replaced (UTF-8 safe)."""
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text if text.isascii() else text.encode("utf-8", "replace").decode("utf-8")


def _dotted(loc: Sequence[str | int]) -> str:
    """``["body", "parameters", "quantity"]`` -> ``"body.parameters.quantity"``."""
    return ".".join(str(part) for part in loc)
