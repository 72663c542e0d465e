"""What the routes depend on: the store access, the orchestrator, the caller and its rights.

Each is a FastAPI dependency, used as an ``Annotated`` parameter type (``access: Access``,
``holder: Engineer``). What they hand out is made once, when the app is built, and kept on
``app.state``; per request they only look it up (and check the caller), in the event loop.

The caller is whoever authenticated: a bearer token, or a dashboard session cookie whose
writes also carry the session's CSRF token (``X-CSRF-Token``). A route names the role and the
scope it needs (:data:`factorybrain.api.ROLE_SCOPES`); writes and agent runs are rate-limited
per token (429 with ``Retry-After``).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import threading
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, HTTPException, Request
from fastapi.responses import Response
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from factorybrain.agents import AgentRecords, Orchestrator, has_role
from factorybrain.api._cache import ReadCache
from factorybrain.api._tokens import TokenInfo
from factorybrain.exceptions import ParameterError
from factorybrain.store import Store

#: The dashboard's session cookie (HttpOnly, SameSite=Strict).
SESSION_COOKIE = "factorybrain_session"
#: The header a session's writes carry its CSRF token in.
CSRF_HEADER = "x-csrf-token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
T = TypeVar("T")


class StoreAccess:
    """How the routes reach the store: reads side by side, writes one at a time.

    A DuckDB connection must not be used by two threads at once. The routes are plain functions
    that FastAPI runs in its worker threads; each worker thread reads through a cursor of its
    own (:meth:`DuckDBStore.reader`), which sees every committed write, so reads never wait for
    each other. Writes (decisions on actions, runs of agents, the schedule) go through the
    store's own connection and the orchestrator, one at a time under :attr:`write_lock`; reads
    go on meanwhile and see a write once it commits. A store without ``reader()`` serves one
    request at a time.

    Reads that many people repeat (pages of entities and records, a series' data) are answered
    through :meth:`answer`, from :attr:`cache` while the tables they read are unchanged.

    Args:
        store: The store the app serves.
        records: The orchestrator's records (their space is kept for the per-thread copies).
        cache: The answers kept between requests (by default a :class:`ReadCache` of its own).
    """

    def __init__(
        self, store: Store, records: AgentRecords, cache: ReadCache | None = None
    ) -> None:
        self.store = store
        self.records = records
        self.cache = cache if cache is not None else ReadCache()
        self.write_lock = threading.Lock()
        #: One run of the agents at a time (a manual one or the schedule's).
        self.run_lock = threading.Lock()
        self._runner: Orchestrator | None = None
        self._agents_thread: ThreadPoolExecutor | None = None
        # A store that can open cursors of its own (DuckDBStore.reader): reads side by side.
        opener = getattr(store, "reader", None)
        self._open_reader: Callable[[], Store] | None = opener if callable(opener) else None
        self._local = threading.local()
        self._readers: list[Store] = []
        self._guard = threading.Lock()

    @contextmanager
    def read(self) -> Iterator[tuple[Store, AgentRecords]]:
        """The store and the agents' records for reading from the calling thread."""
        if self._open_reader is None:
            with self.write_lock:
                yield self.store, self.records
            return
        handles: tuple[Store, AgentRecords] | None = getattr(self._local, "handles", None)
        if handles is None:
            reader = self._open_reader()
            handles = (reader, AgentRecords(reader, space=self.records.space))
            self._local.handles = handles
            with self._guard:
                self._readers.append(reader)
        yield handles

    def answer(
        self,
        key: Hashable,
        tables: Iterable[str],
        build: Callable[[Store, AgentRecords], object],
    ) -> Response:
        """A JSON answer of ``build(reader, records)``, kept while ``tables`` are unchanged.

        ``key`` names the route and every parameter the answer depends on; ``tables`` every
        table ``build`` reads. The answer must not depend on who asks.
        """
        with self.read() as (reader, records):
            body = self.cache.answer(reader, key, tables, lambda: build(reader, records))
        return Response(body, media_type="application/json")

    @contextmanager
    def write(self) -> Iterator[None]:
        """Hold the write lock: one writer at a time."""
        with self.write_lock:
            yield

    def runner(self, conductor: Orchestrator) -> Orchestrator:
        """The orchestrator that runs the agents, over a connection of its own.

        Agents compute for seconds; over a handle of their own (DuckDB's ``handle()``) they
        read without holding the write lock, and each of their writes is a short transaction of
        its own, so proposals and approvals go on while they run. A store without handles runs
        them under the write lock. Call it under :attr:`run_lock`.
        """
        opener = getattr(self.store, "handle", None)
        if not callable(opener):
            return conductor
        if self._runner is None:
            handle: Store = opener()
            with self._guard:
                self._readers.append(handle)  # closed with the readers
            self._runner = conductor.bound_to(handle)
        return self._runner

    async def run_agents(
        self, conductor: Orchestrator, work: Callable[[Orchestrator], T]
    ) -> T | None:
        """Run ``work`` with the agents' runner on the agents' own thread; None if one runs.

        One run at a time: while one goes on (a manual one or the schedule's), another is not
        queued but answered at once (None). The agents' thread has a lower CPU priority than
        the threads that answer requests, so people's requests come first while agents compute.
        """
        if not self.run_lock.acquire(blocking=False):
            return None

        def job() -> T:
            try:
                runner = self.runner(conductor)
                if runner is conductor:  # no connection of its own: it runs as one writer
                    with self.write_lock:
                        return work(runner)
                return work(runner)
            finally:
                self.run_lock.release()

        if self._agents_thread is None:
            self._agents_thread = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="factorybrain-agents", initializer=_lower_priority
            )
        try:
            started = self._agents_thread.submit(job)
        except BaseException:  # the job never started (the app is closing): free the lock
            self.run_lock.release()
            raise
        # Cancelling the wait does not stop the job: it finishes, and frees the lock itself.
        return await asyncio.wrap_future(started)

    def close(self) -> None:
        """Close the per-thread cursors (the app is shutting down; no request is running)."""
        if self._agents_thread is not None:
            self._agents_thread.shutdown(wait=True)
            self._agents_thread = None
        with self._guard:
            for reader in self._readers:
                with contextlib.suppress(Exception):
                    reader.close()
            self._readers.clear()
            self._local = threading.local()


#: How much less CPU priority the agents' thread gets than requests (Linux ``nice``).
AGENT_RUN_NICENESS = 10


def _lower_priority() -> None:
    """Give the calling thread a lower CPU priority, for good (it runs only the agents).

    On Linux a thread has a priority of its own (``setpriority`` on its thread id), and the
    threads it starts (CP-SAT's workers, for one) inherit it. Elsewhere, or where the system
    refuses, the thread keeps its priority.
    """
    with contextlib.suppress(AttributeError, OSError):
        thread = threading.get_native_id()
        before = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(19, before + AGENT_RUN_NICENESS))


async def store_access(request: Request) -> StoreAccess:
    """The app's :class:`StoreAccess` (``app.state.access``)."""
    access: StoreAccess = request.app.state.access
    return access


async def orchestrator(request: Request) -> Orchestrator:
    """The app's orchestrator (``app.state.orchestrator``): it decides and applies actions."""
    conductor: Orchestrator = request.app.state.orchestrator
    return conductor


_bearer = HTTPBearer(auto_error=False, description="An API token from `factorybrain token`.")
_session = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    description="The dashboard's session (`POST /api/v1/session`); writes also send "
    "`X-CSRF-Token`.",
)


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimits:
    """Token buckets per caller and kind of request: a burst, then a steady rate.

    Args:
        limits: ``kind -> (requests per second, burst)``; a kind not named is not limited.
    """

    #: What the app limits by default: writes, and runs of the agents (seconds of work each).
    DEFAULTS: dict[str, tuple[float, float]] = {"write": (5.0, 30.0), "agents_run": (0.1, 3.0)}

    def __init__(self, limits: dict[str, tuple[float, float]] | None = None) -> None:
        self.limits = dict(self.DEFAULTS if limits is None else limits)
        for kind, (rate, burst) in self.limits.items():
            if not (rate > 0 and burst >= 1):
                raise ParameterError(
                    f"rate limit {kind!r} needs a rate > 0 and a burst >= 1; got {rate}, {burst}"
                )
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, kind: str, who: str) -> float:
        """Take one request of ``kind`` for ``who``; return 0, or the seconds to wait."""
        limit = self.limits.get(kind)
        if limit is None:
            return 0.0
        rate, burst = limit
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.setdefault((kind, who), _Bucket(burst, now))
            bucket.tokens = min(burst, bucket.tokens + (now - bucket.at) * rate)
            bucket.at = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return 0.0
            return (1 - bucket.tokens) / rate


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


def requires(
    role: str = "viewer", scope: str = "read", *, limit: str | None = None
) -> Callable[..., Awaitable[TokenInfo]]:
    """A dependency that returns the caller if it holds ``role`` (or higher) and ``scope``.

    Answers 401 without a valid token or session (``app.state.tokens``), 403 when the role or
    scope is short or a session's write lacks its CSRF token, and 429 past the rate limit.

    Args:
        role: The lowest role allowed (see :data:`factorybrain.agents.ROLES`).
        scope: The scope needed: ``read``, ``propose``, ``decide`` or ``admin``.
        limit: The rate limit this request counts against (``app.state.rate_limits``).

    Returns:
        The dependency; use it through :data:`Viewer`, :data:`Engineer` and the others.
    """

    async def check(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        session: Annotated[str | None, Depends(_session)],
    ) -> TokenInfo:
        tokens = request.app.state.tokens
        holder: TokenInfo | None
        if credentials is not None and credentials.credentials:
            holder = tokens.check(credentials.credentials)
            if holder is None:
                raise _unauthorized("invalid, expired or revoked token")
        elif session:
            csrf = None
            if request.method not in _SAFE_METHODS:
                csrf = request.headers.get(CSRF_HEADER)
                if not csrf:
                    raise HTTPException(
                        403, "a write of a dashboard session needs its X-CSRF-Token header"
                    )
            holder = tokens.check_session(session, csrf=csrf)
            if holder is None:
                raise _unauthorized(
                    "the session ended or expired, or the CSRF token is not the session's"
                )
        else:
            raise _unauthorized("missing token: send 'Authorization: Bearer <token>'")
        if not holder.allows(scope):
            raise HTTPException(
                403,
                f"this route needs the scope {scope!r}; the token has {list(holder.scopes)}",
            )
        if not has_role(holder.role, role):
            raise HTTPException(
                403,
                f"this route needs the role {role!r} or higher; the token has {holder.role!r}",
            )
        if limit is not None:
            wait = request.app.state.rate_limits.take(limit, holder.token_id or holder.name)
            if wait:
                raise HTTPException(
                    429,
                    f"too many requests of this kind ({limit}) from this token; retry in "
                    f"{math.ceil(wait)} s",
                    headers={"Retry-After": str(math.ceil(wait))},
                )
        return holder

    return check


#: The store access, for reading (``with access.read() as (store, records)``) and writing.
Access = Annotated[StoreAccess, Depends(store_access)]
#: The orchestrator: its agents, playbooks and records, and the decisions on actions.
Conductor = Annotated[Orchestrator, Depends(orchestrator)]
#: The caller, allowed to read (any role; viewer is the lowest).
Viewer = Annotated[TokenInfo, Depends(requires("viewer", "read"))]
#: The caller, an engineer or higher allowed to propose (rate-limited as a write).
Engineer = Annotated[TokenInfo, Depends(requires("engineer", "propose", limit="write"))]
#: The caller, allowed to decide on actions (the action's policy names the role).
Decider = Annotated[TokenInfo, Depends(requires("viewer", "decide", limit="write"))]
#: The caller, an engineer or higher allowed to run the agents (rate-limited per token).
AgentRunner = Annotated[TokenInfo, Depends(requires("engineer", "propose", limit="agents_run"))]
#: The caller, an admin allowed to issue and revoke tokens.
Admin = Annotated[TokenInfo, Depends(requires("admin", "admin", limit="write"))]
