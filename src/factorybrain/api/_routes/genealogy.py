"""The genealogy traces of ``factorybrain trace``: forward from a lot, back from a serial, a claim.

Each answers what :func:`factorybrain.context.forward`, :func:`~factorybrain.context.backward`
and :func:`~factorybrain.context.claim_chain` return: ``subject`` (a sentence), ``tables`` (rows
per table) and ``unresolved`` (what no record resolves).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.responses import Response

from factorybrain.api._deps import Access, StoreAccess, Viewer

router = APIRouter(tags=["trace"])

Identifier = Annotated[
    str, PathParam(min_length=1, max_length=500, description="As any silo writes it.")
]


def _traced(access: StoreAccess, trace: Callable[[Any, str], Any], identifier: str) -> Response:
    with access.read() as (reader, _records):
        found = trace(reader, identifier).to_dict()
    return Response(json.dumps(found, default=str), media_type="application/json")


@router.get("/genealogy/forward/{lot:path}")
def genealogy_forward(_: Viewer, access: Access, lot: Identifier) -> Response:
    """Every serial built with a lot, its shipment, customer and claim."""
    from factorybrain.context import forward

    return _traced(access, forward, lot)


@router.get("/genealogy/backward/{serial:path}")
def genealogy_backward(_: Viewer, access: Access, serial: Identifier) -> Response:
    """A serial's work order, lots, suppliers and the machines' states while they made it."""
    from factorybrain.context import backward

    return _traced(access, backward, serial)


@router.get("/genealogy/claim/{claim:path}")
def genealogy_claim(_: Viewer, access: Access, claim: Identifier) -> Response:
    """Field failure to supplier batch: a warranty claim's serial, lots and suppliers."""
    from factorybrain.context import claim_chain

    return _traced(access, claim_chain, claim)
