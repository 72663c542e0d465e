"""The plan in force and the OEE, over the planning agent's layer.

Importing this module fails when the planning agent is not installed; the routes are then absent.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from factorybrain.agents.planning import plant_oee
from factorybrain.api._deps import Access, Viewer
from factorybrain.api._queries import instant, plan_in_force, rows
from factorybrain.api._schemas import End, PlanOut, Start
from factorybrain.exceptions import NoDataError
from factorybrain.secrets import redact

router = APIRouter(tags=["factory model"])


@router.get("/plan", response_model=PlanOut)
def plan_route(
    _: Viewer,
    access: Access,
    machine: Annotated[
        str | None,
        Query(max_length=500, description="The external id of one machine: its plan only."),
    ] = None,
) -> JSONResponse:
    """The plan in force: operations, the orders they plan, planned maintenance.

    What the planning agent stored: operations in time order, the orders they plan
    (planned start and end, hours late) and the planned maintenance windows.
    """
    with access.read() as (store, _records):
        return JSONResponse(plan_in_force(store, machine=machine))


@router.get("/oee")
def oee_route(
    _: Viewer,
    access: Access,
    by: Annotated[
        Literal["machine", "line", "shift"], Query(description="What each item is.")
    ] = "machine",
    start: Start = None,
    end: End = None,
    space: Annotated[
        str, Query(max_length=200, description="The space of the machines and shifts.")
    ] = "mes",
) -> dict[str, Any]:
    """Availability, performance, quality and OEE per machine, line or shift."""
    with access.read() as (store, _records):
        try:
            frame = plant_oee(
                store,
                by=by,
                start=instant(start, "start"),
                end=instant(end, "end"),
                space=space,
            )
        except NoDataError as error:
            # No machines or no shifts in that space: an empty answer, not a bad request.
            return {"by": by, "items": [], "note": redact(str(error))}
    items = rows(frame)
    for item in items:
        item.setdefault("asset", item.get(by))
    return {"by": by, "items": items}
