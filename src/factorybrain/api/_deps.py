"""What the routes depend on: the store access, the orchestrator, the caller and its role.

Each is a FastAPI dependency, used as an ``Annotated`` parameter type (``access: Access``,
``holder: Engineer``). What they hand out is made once, when the app is built, and kept on
``app.state``; per request they only look it up (and check the token), in the event loop.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from factorybrain.agents import AgentRecords, Orchestrator, has_role
from factorybrain.api._tokens import TokenInfo
from factorybrain.store import Store


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


async def store_access(request: Request) -> StoreAccess:
    """The app's :class:`StoreAccess` (``app.state.access``)."""
    access: StoreAccess = request.app.state.access
    return access


async def orchestrator(request: Request) -> Orchestrator:
    """The app's orchestrator (``app.state.orchestrator``): it decides and applies actions."""
    conductor: Orchestrator = request.app.state.orchestrator
    return conductor


_bearer = HTTPBearer(auto_error=False, description="An API token from `factorybrain token`.")


def requires(role: str) -> Callable[..., Awaitable[TokenInfo]]:
    """A dependency that returns the caller's token holder if its role is ``role`` or higher.

    Answers 401 without a valid token (``app.state.tokens``) and 403 when the role is too low.

    Args:
        role: The lowest role allowed (see :data:`factorybrain.agents.ROLES`).

    Returns:
        The dependency; use it through :data:`Viewer` or :data:`Engineer`.
    """

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
        holder: TokenInfo | None = request.app.state.tokens.check(credentials.credentials)
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


#: The store access, for reading (``with access.read() as (store, records)``) and writing.
Access = Annotated[StoreAccess, Depends(store_access)]
#: The orchestrator: its agents, playbooks and records, and the decisions on actions.
Conductor = Annotated[Orchestrator, Depends(orchestrator)]
#: The caller, holding a token of any role (viewer is the lowest).
Viewer = Annotated[TokenInfo, Depends(requires("viewer"))]
#: The caller, holding a token of the role engineer or higher.
Engineer = Annotated[TokenInfo, Depends(requires("engineer"))]
