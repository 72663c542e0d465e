"""The approved identity links of one entity: its names in the other silos.

A machine is ``LTH-01`` in the MES, ``10004016`` in the ERP and ``line1/lathe-1`` in engineering;
matching links them (``annotation`` rows) and a person approves each link. The dashboard's machine
page reads these links to show the ERP's maintenance orders of the MES machine it shows.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from factorybrain.api._deps import Access, Viewer

router = APIRouter(tags=["factory model"])


class LinkOut(BaseModel):
    """Another silo's identifier of the same thing, linked by an approved match."""

    space: str = Field(description="The other silo's space, e.g. `erp`.")
    external_id: str = Field(description="Its identifier there.")
    kind: str | None = Field(description="What was matched: `entity`, `tag`, a field's name...")
    method: str | None = Field(description="How the match was found.")
    confidence: float | None


@router.get("/links", response_model=list[LinkOut])
def links_route(
    _: Viewer,
    access: Access,
    entity_type: Annotated[
        str,
        Query(alias="type", min_length=1, max_length=100, description="Its type, e.g. `asset`."),
    ],
    space: Annotated[str, Query(min_length=1, max_length=200, description="Its space.")],
    external_id: Annotated[
        str, Query(min_length=1, max_length=500, description="Its external id.")
    ],
) -> list[LinkOut]:
    """The identifiers other silos give an entity, by approved links, in both directions.

    Links to the entity (another silo's row matched onto it) and links from it (the entity
    matched onto another silo's row of the same type) both count; suggested and rejected links
    do not.
    """
    with access.read() as (store, _records):
        found = store.query_rows(
            "SELECT source_space AS space, source_identifier AS external_id, source_kind AS kind, "
            "method, confidence FROM annotation WHERE status = 'approved' AND target_type = ? "
            "AND target_space = ? AND target_external_id = ? "
            "UNION SELECT target_space, target_external_id, source_kind, method, confidence "
            "FROM annotation WHERE status = 'approved' AND target_type = ? AND source_space = ? "
            "AND source_identifier = ? ORDER BY space, external_id",
            [entity_type, space, external_id] * 2,
        )
    return [LinkOut(**row) for row in found if row["external_id"] is not None]
