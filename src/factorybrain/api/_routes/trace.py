"""Traceability of a serial or a lot, by :func:`factorybrain.ask.trace`.

Importing this module fails when the ask layer is not installed; the routes are then absent.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from fastapi import Path as PathParam

from factorybrain.api._deps import Access, Viewer
from factorybrain.ask import trace as trace_identifier

router = APIRouter(tags=["trace"])


def trace_route(
    _: Viewer,
    access: Access,
    external_id: Annotated[
        str,
        PathParam(min_length=1, max_length=500, description="The serial's or the lot's id."),
    ],
) -> dict[str, Any]:
    """Trace a serial (order, product, tests, claims) or a lot (orders that used it)."""
    with access.read() as (store, _records):
        return trace_identifier(store, external_id).as_dict()


# The same parameter name as the entity routes (``/serials/{external_id}``, ``/lots/...``).
for _kind in ("serial", "lot"):
    router.get(
        f"/trace/{_kind}/{{external_id:path}}",
        name=f"trace_{_kind}",
        operation_id=f"trace_{_kind}",
    )(trace_route)
