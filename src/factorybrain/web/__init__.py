"""The web dashboard: plant overview, assets, plan, inventory, traceability, inbox, audit.

A static single-page client of the REST API (no server-side rendering, no CDN): everything it
shows comes from ``/api/v1`` with the user's token, so it can never see more than the API allows.
:func:`mount_dashboard` serves it at ``/`` of an API application.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"


def mount_dashboard(app: FastAPI) -> FastAPI:
    """Serve the dashboard at ``/`` (its assets under ``/static``) next to the API routes."""

    @app.get("/", include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="dashboard-static")
    return app


__all__ = ["STATIC", "mount_dashboard"]
