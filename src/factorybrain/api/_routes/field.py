"""The field: claims per cohort, field reliability per product and recall scopes.

What the service (after-sales) agent found, read through the query functions of
:mod:`factorybrain.insights` that the MCP tools and ``ask`` use too. Importing this module fails
when the service agent is not installed; the routes are then absent.

The field, process and (to come) quality routes follow one pattern: a router module per stage of
the value chain under its own prefix (``/field``, ``/process``, ``/quality``), listed in
:data:`factorybrain.api._routes.OPTIONAL_ROUTES`, whose routes only read (the ``read`` scope),
page their lists and answer 404 for an unknown product or cluster.
"""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse

# Imported for its absence alone: without the service agent there is nothing to show.
from factorybrain.agents import service  # noqa: F401
from factorybrain.api._deps import Access, StoreAccess, Viewer
from factorybrain.api._schemas import Limit, Offset, Page
from factorybrain.insights import field_cohorts, field_reliability, recall_scope

router = APIRouter(prefix="/field", tags=["field"])


@router.get("/cohorts", response_model=Page[dict[str, Any]])
def cohorts_route(
    _: Viewer,
    access: Access,
    failure_mode: Annotated[
        str | None,
        Query(max_length=200, description="The dominant failure mode of its claims, e.g. `leak`."),
    ] = None,
    attribute: Annotated[
        str | None,
        Query(
            max_length=50,
            description="What the cohort shares, e.g. `material_lot`, `machine_window`, `line`.",
        ),
    ] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> JSONResponse:
    """Claims per cohort: lots, machines and orders whose units fail in the field more often.

    One item per ``service.failure_cluster`` finding: the cohort, its claims and units, its
    claim rate against the rest's, the age-adjusted rate ratio with its interval, the q-value
    (false discovery rate over every cohort screened), the dominant failure mode, the size of
    the recall scope and the state of the inspection proposed. Most severe first.
    """
    with access.read() as (store, _records):
        found = field_cohorts(
            store, failure_mode=failure_mode, attribute=attribute, limit=limit, offset=offset
        )
    return JSONResponse(found)


@router.get("/reliability")
def reliability_route(_: Viewer, access: Access) -> JSONResponse:
    """Field reliability of every product: Weibull shape and scale, B10 with its interval.

    Fitted by the service agent with the units still running as censored; ``not_fitted``
    names the products it could not fit and why.
    """
    with access.read() as (store, _records):
        return JSONResponse(field_reliability(store))


@router.get("/reliability/{product}")
def product_reliability_route(
    _: Viewer,
    access: Access,
    product: Annotated[
        str, Path(min_length=1, max_length=200, description="The product's external id.")
    ],
) -> JSONResponse:
    """One product's field reliability and the points of its Weibull plot.

    ``plot.points``: each failure's age and median rank (adjusted for the censored units);
    ``plot.line``: the fitted Weibull; ``plot.censored``: units still running, by age.
    ``b10_high_days`` is null when the data do not bound the interval from above. 404 for a
    product without a fit or a data gap.
    """
    with access.read() as (store, _records):
        return JSONResponse(field_reliability(store, product))


@router.get("/clusters/{cluster:path}/scope", response_model=Page[dict[str, Any]])
def scope_route(
    _: Viewer,
    access: Access,
    cluster: Annotated[
        str,
        Path(
            min_length=1,
            max_length=300,
            description="The cluster's finding id (`fnd-...`) or its cohort "
            "(`material_lot:<lot>`).",
        ),
    ],
    customer: Annotated[
        str | None, Query(max_length=200, description="The customer's external id.")
    ] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> JSONResponse:
    """The recall or inspection scope of a cluster: serials in the field, not failed.

    ``cluster`` is the cluster's finding id (``fnd-...``) or its cohort
    (``material_lot:<lot>``). Each serial with its customer, shipment and shipping date;
    ``customers`` counts the scope's serials per customer; ``cluster`` is the cohort's row.
    """
    with access.read() as (store, _records):
        found = recall_scope(store, cluster, customer=customer, limit=limit, offset=offset)
    return JSONResponse(found)


def warm_up(access: StoreAccess) -> None:
    """Draw every product's Weibull plot once, so the first visitor of the page does not wait."""
    with contextlib.suppress(Exception), access.read() as (store, _records):
        # a failure here shows again, with its message, on the first request
        for fit in field_reliability(store)["items"]:
            field_reliability(store, fit["product"])
