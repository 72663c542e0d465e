r"""Request bodies parsed as strict JSON: what Python's parser accepts beyond RFC 8259 is refused.

Python's ``json`` reads ``NaN``, ``Infinity`` and ``-Infinity``, keeps the last of duplicate
object keys, turns ``1e999`` into an infinite float and lets ``"\ud800"`` (half a surrogate
pair, text no UTF-8 encoder can write) through. Stored, such a value breaks every later read of
it. :func:`loads` refuses all of them and says where they are
(``body.parameters.quantity: NaN is not a number JSON allows``).

:class:`StrictJSONRoute` is the route class of the app's routes: before a route with a body runs
(before its dependencies, authentication included), the body is parsed once with :func:`loads`,
a failure answered 422 like any request that does not match the spec, and FastAPI's own
parsing of the body returns that same value instead of parsing it again.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

#: Most problems named in one answer.
_MAX_PROBLEMS = 20
#: A JSON escape of half a surrogate pair (a whole pair is read as one character).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")

#: What each kind of problem expected instead.
_EXPECTED = {
    "json_invalid": "UTF-8 JSON text (RFC 8259)",
    "json_not_finite": "a finite number",
    "json_duplicate_key": "each key once in its object",
    "json_invalid_text": "Unicode text (no half surrogate pair)",
    "json_too_deep": "JSON nested less deeply",
}

_TWICE = "this key appears more than once in its object (JSON keys must be unique)"
_HALF_PAIR = "holds half a UTF-16 surrogate pair, which is not Unicode text"

Loc = tuple[str | int, ...]


class StrictJSONError(json.JSONDecodeError):
    """A body that is not strict JSON; :attr:`errors` says where and why.

    A :class:`json.JSONDecodeError`, so that FastAPI answers 422 should it ever parse a body
    this module did not see first.
    """

    def __init__(self, errors: Sequence[tuple[Loc, str, str]]) -> None:
        super().__init__("; ".join(f"{_dotted(loc)}: {msg}" for loc, msg, _ in errors), "", 0)
        #: Each problem as FastAPI's validation errors are: ``loc``, ``msg``, ``type``, and
        #: what was expected in ``ctx``; without ``input`` (``msg`` says what was found).
        self.errors = [
            {"loc": loc, "msg": msg, "type": kind, "ctx": {"expected": _EXPECTED[kind]}}
            for loc, msg, kind in errors
        ]


class _Refused:
    """Stands in for a value :func:`loads` refuses, until its place is known."""

    __slots__ = ("kind", "msg")

    def __init__(self, msg: str, kind: str) -> None:
        self.msg = msg
        self.kind = kind


class _Duplicated(dict[str, Any]):
    """An object that named some keys more than once (:attr:`keys_seen_twice`)."""

    keys_seen_twice: list[str]


def loads(data: bytes | str, root: Loc = ("body",)) -> Any:
    """Parse strict JSON: UTF-8, finite numbers, each key once per object, whole characters.

    Args:
        data: The JSON text (bytes must be UTF-8).
        root: The location that paths in errors start with.

    Returns:
        The value, as :func:`json.loads` gives it.

    Raises:
        StrictJSONError: The text is not JSON, or holds ``NaN``, ``Infinity``, a number too
            large to be finite, a key twice in one object, or half a surrogate pair; each
            problem with its location.
    """
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as error:
        raise StrictJSONError(
            [(root, f"not UTF-8 text (byte {error.start})", "json_invalid")]
        ) from None
    refused = False

    def constant(name: str) -> _Refused:
        nonlocal refused
        refused = True
        return _Refused(f"{name} is not a number JSON allows", "json_not_finite")

    def number(literal: str) -> float | _Refused:
        value = float(literal)
        if math.isinf(value):
            nonlocal refused
            refused = True
            return _Refused(f"{literal[:40]} is too large for a finite number", "json_not_finite")
        return value

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        value = dict(items)
        if len(value) == len(items):
            return value
        nonlocal refused
        refused = True
        seen: set[str] = set()
        twice: dict[str, None] = {}
        for key, _ in items:
            if key in seen:
                twice[key] = None
            seen.add(key)
        duplicated = _Duplicated(value)
        duplicated.keys_seen_twice = list(twice)
        return duplicated

    try:
        value = json.loads(
            text, parse_constant=constant, parse_float=number, object_pairs_hook=pairs
        )
    except json.JSONDecodeError as error:
        where = f"line {error.lineno} column {error.colno}"
        raise StrictJSONError(
            [(root, f"not valid JSON: {error.msg} ({where})", "json_invalid")]
        ) from None
    except RecursionError:
        raise StrictJSONError([(root, "nested too deeply to be read", "json_too_deep")]) from None
    except ValueError:  # an integer of more digits than Python converts (4,300)
        raise StrictJSONError(
            [(root, "not valid JSON: a number of too many digits", "json_invalid")]
        ) from None
    texts = "\\u" in text and _SURROGATE_ESCAPE.search(text) is not None
    if refused or texts:
        problems = _problems(value, root, texts)
        if problems:
            raise StrictJSONError(problems)
    return value


def _problems(value: Any, root: Loc, texts: bool) -> list[tuple[Loc, str, str]]:
    """Where the refused values are, in document order (at most :data:`_MAX_PROBLEMS`)."""
    found: list[tuple[Loc, str, str]] = []
    stack: list[tuple[Any, Loc]] = [(value, root)]
    while stack and len(found) < _MAX_PROBLEMS:
        item, loc = stack.pop()
        if isinstance(item, _Refused):
            found.append((loc, item.msg, item.kind))
        elif isinstance(item, dict):
            if isinstance(item, _Duplicated):
                for key in item.keys_seen_twice:
                    found.append(((*loc, key), _TWICE, "json_duplicate_key"))
            if texts:
                for key in item:
                    if _SURROGATE.search(key):
                        found.append(((*loc, key), f"key {_HALF_PAIR}", "json_invalid_text"))
            stack.extend((v, (*loc, k)) for k, v in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend((v, (*loc, i)) for i, v in reversed(list(enumerate(item))))
        elif texts and isinstance(item, str) and _SURROGATE.search(item):
            found.append((loc, f"text {_HALF_PAIR}", "json_invalid_text"))
    return found[:_MAX_PROBLEMS]


def _dotted(loc: Loc) -> str:
    return ".".join(str(part) for part in loc)


def is_json(content_type: str | None) -> bool:
    """Whether FastAPI reads a body of this media type as JSON (``*/json``, ``*/*+json``)."""
    if not content_type:
        return False
    media = content_type.partition(";")[0].strip().lower()
    return media.startswith("application/") and (
        media == "application/json" or media.endswith("+json")
    )


class StrictJSONRequest(Request):
    """A request whose JSON body is parsed strictly (:func:`loads`), once."""

    _strict: Any
    _parsed = False

    async def json(self) -> Any:
        """The body, parsed strictly; the same value on every call.

        Raises:
            StrictJSONError: The body is not strict JSON.
        """
        if not self._parsed:
            self._strict = loads(await self.body())
            self._parsed = True
        return self._strict


class StrictJSONRoute(APIRoute):
    """The app's route class: a JSON body is strict JSON, checked before the route runs.

    Routes without a body are left as they are (nothing more per request).
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """FastAPI's handler, given a :class:`StrictJSONRequest` whose body is parsed first."""
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def strict_handler(request: Request) -> Response:
            strict = StrictJSONRequest(request.scope, request.receive)
            if is_json(strict.headers.get("content-type")) and await strict.body():
                try:
                    await strict.json()
                except StrictJSONError as error:
                    raise RequestValidationError(error.errors) from None
            return await handler(strict)

        return strict_handler
