"""What every request passes before routing: load shedding, a limit on its body, security headers.

All are plain ASGI middleware (no ``BaseHTTPMiddleware``, which runs the app in a task of its
own and costs tens of microseconds per request): a request that passes costs a comparison, one
header scan and two small closures.

:class:`InFlightLimit` sheds load: while ``max_in_flight`` requests are being answered, the next
one is answered 503 with ``Retry-After`` at once, instead of waiting in a queue that grows for
as long as more requests arrive than the server answers. The health check is never refused.

:class:`BodyLimit` refuses a body larger than the limit before anything reads it, with 413: at
once when ``Content-Length`` says so, and for a body of unknown length (chunked) or one longer
than it said, as soon as the bytes received pass the limit, without reading the rest. It runs
before routing, so before authentication: a client without a token cannot make the server hold
more than the limit.

:class:`SecurityHeaders` adds ``Content-Security-Policy``, ``X-Frame-Options``,
``X-Content-Type-Options`` and ``Referrer-Policy`` to every answer, the API's and the
dashboard's.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from factorybrain.api._problems import problem_response

#: The largest request body accepted by default (1 MiB); ``$FACTORYBRAIN_MAX_BODY_BYTES``.
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
#: Requests answered at once by one server process by default; ``$FACTORYBRAIN_MAX_IN_FLIGHT``.
DEFAULT_MAX_IN_FLIGHT = 32
#: Seconds a client is asked to wait after a 503 of :class:`InFlightLimit`.
RETRY_AFTER_S = 1

#: The policy of every answer: scripts, styles and everything else only from this origin, no
#: inline script, no inline style attribute, never framed.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)
#: Headers every answer carries, besides its Content-Security-Policy.
SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class InFlightLimit:
    """Answer 503 with ``Retry-After`` at once while ``max_in_flight`` requests are in flight.

    A request is in flight from the moment it passes here until its answer is sent. Beyond its
    capacity a server that queues every request answers all of them late, later the longer the
    overload lasts; refusing the excess at once keeps the answers it gives fast and tells the
    others when to come back. One counter per app (per worker process), touched only by the
    event loop's thread, so it needs no lock.

    Args:
        app: The ASGI app it guards.
        max_in_flight: The most requests answered at once.
        exempt_paths: Paths (below the root path) never refused: the health check, so that a
            load balancer does not take a busy server for a dead one.
    """

    def __init__(
        self, app: ASGIApp, max_in_flight: int, exempt_paths: Collection[str] = ()
    ) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.exempt_paths = frozenset(exempt_paths)
        #: Requests in flight now.
        self.in_flight = 0
        #: Requests refused since the start.
        self.shed = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            path: str = scope["path"]
            root: str = scope.get("root_path", "")
            if root and path.startswith(root):
                path = path[len(root) :]
            if path in self.exempt_paths:
                await self.app(scope, receive, send)
                return
            self.shed += 1
            detail = (
                f"the server is answering {self.max_in_flight} requests, the most it takes at "
                f"once; retry in {RETRY_AFTER_S} s"
            )
            response = problem_response(
                scope,
                503,
                detail,
                "Overloaded",
                headers={"Retry-After": str(RETRY_AFTER_S)},
                constant_detail=True,
            )
            await response(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


class BodyTooLarge(Exception):
    """The request body passed the limit while it was being received."""


class BodyLimit:
    """Refuse a request body larger than ``max_body_bytes`` with 413, before reading it.

    Args:
        app: The ASGI app it guards.
        max_body_bytes: The largest body accepted, in bytes.
        larger: A larger limit for the paths named (the upload of a file to ingest).
    """

    def __init__(
        self, app: ASGIApp, max_body_bytes: int, larger: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.larger = dict(larger or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.larger.get(scope["path"], self.max_body_bytes)
        for name, value in scope["headers"]:
            if name == b"content-length":
                if value.isdigit() and int(value) > limit:
                    await self._refuse(scope, receive, send, limit)  # nothing read
                    return
                break
        received = 0
        passed = False  # the body passed the limit while being received
        started = False  # an answer was started
        replaced = False  # the answer is the 413: what the app answers is not sent

        async def limited_receive() -> Message:
            nonlocal received, passed
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    passed = True
                    raise BodyTooLarge(f"request body over {limit} bytes")
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started, replaced
            if passed and not started:
                # The app answers the body it could not read (FastAPI: 400): 413 instead.
                started = replaced = True
                await self._refuse(scope, receive, send, limit)
            if replaced:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except BodyTooLarge:
            if not started:
                await self._refuse(scope, receive, send, limit)
            elif not replaced:
                raise  # the app answered before reading its body: too late for a 413

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        detail = f"the request body is larger than {limit} bytes, the most this server accepts"
        response = problem_response(scope, 413, detail, "BodyTooLarge")
        await response(scope, receive, send)


class SecurityHeaders:
    """Add the security headers (:data:`SECURITY_HEADERS`) to every answer.

    A header the answer has already is kept: the API docs pages send a policy of their own
    (:func:`factorybrain.api._docs.docs_policy`).

    Args:
        app: The ASGI app whose answers get them.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.headers = _raw(SECURITY_HEADERS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.headers

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend(header for header in extra if header[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _raw(headers: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
    """Headers as ASGI sends them: lower-case names, latin-1 bytes."""
    return [
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()
    ]
