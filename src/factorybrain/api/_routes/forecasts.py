"""Demand forecasts and inventory levels, as the logistics agent plans them.

Importing this module fails when the logistics agent (and its forecasting engines) is not
installed; the route is then absent.
"""

from __future__ import annotations

import contextlib
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

# Imported for its absence alone (the query imports what it uses): no logistics, no route.
from factorybrain.agents import logistics  # noqa: F401
from factorybrain.api._deps import Access, StoreAccess, Viewer
from factorybrain.api._queries import demand_forecasts
from factorybrain.api._schemas import ForecastPage, Limit, Offset

router = APIRouter(tags=["factory model"])


@router.get("/forecasts", response_model=ForecastPage)
def forecasts_route(
    _: Viewer,
    access: Access,
    item: Annotated[
        str | None,
        Query(max_length=200, description="One item's external id (leading zeros optional)."),
    ] = None,
    item_type: Annotated[
        str | None,
        Query(max_length=50, description="`product`, `component`, `spare_part`, ..."),
    ] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> JSONResponse:
    """Demand forecast and inventory levels per product and material.

    The mean and quantiles per week ahead, the model chosen, and the reorder point and
    order-up-to level, as the logistics agent plans them now from the store's history.
    ``as_of`` is the moment planned at, the latest sales order, inventory movement or
    stock count; ``null`` when the store holds none (no data, nothing to date by).
    """
    with access.read() as (store, records):
        found = demand_forecasts(
            store, records, item=item, item_type=item_type, limit=limit, offset=offset
        )
    return JSONResponse(found)


def warm_up(access: StoreAccess) -> None:
    """Plan the demand once, so the first visitor of the inventory page does not wait for it."""
    with contextlib.suppress(Exception), access.read() as (store, records):
        # a failure here shows again, with its message, on the first request
        demand_forecasts(store, records, limit=1)
