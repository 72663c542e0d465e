"""Routes about the server and the store: health (without a token), row counts, plant status."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request

from factorybrain import __version__
from factorybrain.api._deps import Access, Viewer
from factorybrain.api._queries import DERIVED, plant_status
from factorybrain.api._schemas import Health

router = APIRouter(tags=["meta"])


@router.get("/health")
def health(request: Request, access: Access) -> Health:
    """Liveness and readiness: answers without a token."""
    with access.read() as (reader, _records):
        # Kept until a migration (1.5 ms of catalog queries each time otherwise).
        version = DERIVED.get(reader, ("schema_migrations",), ("schema",), reader.schema_version)
    ready = not any(thread.is_alive() for thread in request.app.state.preparing)
    state = request.app.state
    return Health(
        status="ok",
        schema_version=version,
        ready=ready,
        version=__version__,
        store=Path(getattr(state.store, "path", "") or "").name or ":memory:",
        uptime_s=round(time.monotonic() - state.started, 3),
    )


@router.get("/counts")
def counts(_: Viewer, access: Access) -> dict[str, int]:
    """Rows per entity type, plus datapoints and edges."""
    with access.read() as (reader, _records):
        return reader.counts()


@router.get("/status")
def status(_: Viewer, access: Access) -> dict[str, Any]:
    """Counts, open findings by kind and severity, and how many actions wait for approval."""
    with access.read() as (reader, _records):
        return plant_status(reader)
