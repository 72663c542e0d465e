"""The factory model's entities: a list route and a get route per entity type.

The get routes take ids with "/" in them (``{external_id:path}``), so this router must be
included after any route under the same segments (the datapoints of a time series).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse

from factorybrain.api._deps import Access, Viewer
from factorybrain.api._queries import get_entity, list_entities
from factorybrain.api._schemas import Limit, Offset, Page
from factorybrain.model import entity_type

#: URL segment -> entity type of the factory model, for the read routes.
ENTITY_ROUTES: dict[str, str] = {
    "assets": "asset",
    "time-series": "time_series",
    "events": "event",
    "products": "product",
    "materials": "material",
    "boms": "bom",
    "suppliers": "supplier",
    "purchase-orders": "purchase_order",
    "lots": "material_lot",
    "supplier-lots": "supplier_lot",
    "work-orders": "work_order",
    "operations": "operation",
    "serials": "serial_unit",
    "quality-results": "quality_result",
    "maintenance-orders": "maintenance_order",
    "stock-levels": "stock_level",
    "sales-orders": "sales_order",
    "shipments": "shipment",
    "customers": "customer",
    "warranty-claims": "warranty_claim",
    "documents": "document",
}
#: Query parameters of a list route that are not filters.
_RESERVED = {"limit", "offset"}

router = APIRouter(tags=["factory model"])


def _entity_routes(segment: str, entity: str) -> None:
    """Add the list and the get route of one entity type to :data:`router`."""
    model = entity_type(entity)

    # Pages are built as plain JSON values by the query that owns their shape and go out as
    # they are: ``response_model`` documents them; validating every row again would cost more
    # than the query.
    def list_route(
        request: Request, _: Viewer, access: Access, limit: Limit = 50, offset: Offset = 0
    ) -> JSONResponse:
        filters = {k: v for k, v in request.query_params.items() if k not in _RESERVED}
        with access.read() as (reader, _records):
            found = list_entities(reader, entity, filters, limit=limit, offset=offset)
        return JSONResponse(found)

    list_route.__doc__ = (
        f"List {entity} entities ({model.description}) Filter by equality with any field "
        f"as a query parameter, e.g. `?space=acme`."
    )
    router.get(
        f"/{segment}",
        response_model=Page[dict[str, Any]],
        name=f"list_{entity}",
        operation_id=f"list_{entity}",
    )(list_route)

    def get_route(
        _: Viewer,
        access: Access,
        external_id: Annotated[str, PathParam(min_length=1, max_length=500)],
        space: Annotated[str | None, Query(max_length=200)] = None,
    ) -> dict[str, Any]:
        with access.read() as (reader, _records):
            return get_entity(reader, entity, external_id, space)

    get_route.__doc__ = f"One {entity} by its external id (and space when ambiguous)."
    router.get(
        f"/{segment}/{{external_id:path}}",
        name=f"get_{entity}",
        operation_id=f"get_{entity}",
    )(get_route)


for _segment, _entity in ENTITY_ROUTES.items():
    _entity_routes(_segment, _entity)
