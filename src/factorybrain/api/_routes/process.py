"""The process: recipe changes the design agent proposes, per product and line.

Read through :func:`factorybrain.insights.process_proposals`, which the MCP tools and ``ask``
use too. Importing this module fails when the design agent is not installed; the routes are then
absent. The same pattern as :mod:`factorybrain.api._routes.field` (see there).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

# Imported for its absence alone: without the design agent there is nothing to show.
from factorybrain.agents import design  # noqa: F401
from factorybrain.api._deps import Access, Viewer
from factorybrain.api._schemas import Limit, Offset, Page
from factorybrain.insights import process_proposals

router = APIRouter(prefix="/process", tags=["process"])


@router.get("/proposals", response_model=Page[dict[str, Any]])
def proposals_route(
    _: Viewer,
    access: Access,
    product: Annotated[
        str | None, Query(max_length=200, description="The product's external id.")
    ] = None,
    line: Annotated[
        str | None,
        Query(max_length=200, description="The line's external id: the products it made."),
    ] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> JSONResponse:
    """Recipe change proposals per product: setpoints, predicted gain and its interval.

    One item per ``design.recipe_change`` (a new recipe revision to approve) or
    ``design.confirmation_runs`` finding (confirmation runs to make first, listed in
    ``confirmation_runs``): the objective, the setpoints now and proposed with the range the
    history supports, the expected outcome now and after, the gain with its interval and the
    probability of a gain, and the state of the proposed action. ``line`` keeps the products
    its work orders made (404 for an unknown line or product).
    """
    with access.read() as (store, _records):
        found = process_proposals(store, product=product, line=line, limit=limit, offset=offset)
    return JSONResponse(found)
