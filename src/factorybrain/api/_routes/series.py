"""The datapoints of a time series, raw or downsampled."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from fastapi.responses import Response

from factorybrain.agents import AgentRecords
from factorybrain.api._deps import Access, Viewer
from factorybrain.api._queries import series_data
from factorybrain.api._schemas import BucketWidth, End, Offset, SeriesData, Start
from factorybrain.store import Store

router = APIRouter(tags=["factory model"])


# Datapoints are built as plain JSON values by the query that owns their shape and go out as
# they are: ``response_model`` documents them (the API tests check the answers against it);
# validating every point again would cost more than the query.
@router.get("/time-series/{external_id:path}/datapoints", response_model=SeriesData)
def datapoints(
    _: Viewer,
    access: Access,
    external_id: Annotated[
        str, PathParam(min_length=1, max_length=500, description="The series' external id.")
    ],
    start: Start = None,
    end: End = None,
    every: Annotated[
        BucketWidth | None,
        Query(
            max_length=20,
            description="Bucket width (a number with a unit: ms, s, m, h, d; e.g. `15m`): the "
            "minimum, maximum, mean and count per bucket instead of the raw points.",
        ),
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=100_000, description="Most points (or buckets) in the answer.")
    ] = 10_000,
    offset: Offset = 0,
) -> Response:
    """Datapoints of a series in ``[start, end)``, raw or downsampled with ``every``.

    Without ``start``/``end`` the last 24 hours of data are returned.
    """

    def build(reader: Store, _: AgentRecords) -> dict[str, Any]:
        found = series_data(
            reader, external_id, start=start, end=end, every=every, limit=limit, offset=offset
        )
        return {"points": None, "buckets": None, **found}

    # Kept until a point, the series or its extent is written.
    key = ("datapoints", external_id, start, end, every, limit, offset)
    return access.answer(key, ("datapoint", "time_series", "series_extent"), build)
