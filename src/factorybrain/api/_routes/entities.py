"""The factory model's entities: a list route and a get route per entity type.

A list route takes a page (``limit``, ``offset``) and a filter by equality per field of its type,
each typed and documented (:func:`~factorybrain.api._schemas.entity_query`): an unknown filter,
a value outside an enumeration, a timestamp that is not one, are answered 422 naming the
parameter. The get routes take ids with "/" in them (``{external_id:path}``), so this router
must be included after any route under the same segments (the datapoints of a time series).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from fastapi.responses import Response

from factorybrain.api._deps import Access, Viewer
from factorybrain.api._queries import get_entity, list_entities
from factorybrain.api._schemas import EntityQuery, Page, entity_out, entity_query
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

router = APIRouter(tags=["factory model"])


def _entity_routes(segment: str, entity: str) -> None:
    """Add the list and the get route of one entity type to :data:`router`."""
    model = entity_type(entity)
    shape = entity_out(entity)

    # Pages and entities are built as plain JSON values by the query that owns their shape and
    # go out as they are: ``response_model`` documents them (the API tests check the answers
    # against it); validating every row again would cost more than the query.
    # Answers are kept until the entity's table is written (StoreAccess.answer).
    def list_route(_: Viewer, access: Access, query: EntityQuery) -> Response:
        filters = query.filters()
        limit, offset = query.limit, query.offset
        key = ("list", entity, tuple(sorted(filters.items())), limit, offset)
        return access.answer(
            key,
            (entity,),
            lambda reader, _: list_entities(reader, entity, filters, limit=limit, offset=offset),
        )

    # The query's own model, so that each of its fields is a documented query parameter.
    list_route.__annotations__["query"] = Annotated[entity_query(entity), Query()]
    list_route.__doc__ = (
        f"List {entity} entities ({model.description}) Filter by equality on any field but "
        f"lists and JSON, e.g. `?space=acme`; several filters must all hold."
    )
    router.get(
        f"/{segment}",
        response_model=Page[shape],  # type: ignore[valid-type]  # a model made at run time
        name=f"list_{entity}",
        operation_id=f"list_{entity}",
    )(list_route)

    def get_route(
        _: Viewer,
        access: Access,
        external_id: Annotated[
            str, PathParam(min_length=1, max_length=500, description="Its external id.")
        ],
        space: Annotated[
            str | None,
            Query(max_length=200, description="Its space, when the id is in several."),
        ] = None,
    ) -> Response:
        return access.answer(
            ("get", entity, external_id, space),
            (entity,),
            lambda reader, _: get_entity(reader, entity, external_id, space),
        )

    get_route.__doc__ = f"One {entity} by its external id (and space when ambiguous)."
    router.get(
        f"/{segment}/{{external_id:path}}",
        response_model=shape,
        name=f"get_{entity}",
        operation_id=f"get_{entity}",
    )(get_route)


for _segment, _entity in ENTITY_ROUTES.items():
    _entity_routes(_segment, _entity)
