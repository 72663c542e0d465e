"""Inputs at the edges of what the spec allows get a 4xx that says what is wrong, never a 500."""

from __future__ import annotations

import json
from urllib.parse import unquote

import pytest

from tests.api.conftest import API

SERIES = f"{API}/time-series/press-3.vibration/datapoints"


@pytest.mark.parametrize(
    ("query", "name", "expected"),
    [
        ("every=0.0000001ms", "every", "between 1ms and 3660d"),  # a zero-width bucket
        ("every=99999999999d", "every", "between 1ms and 3660d"),  # wider than a timedelta
        ("end=0001-01-01T00:00:00", "end", "between 1900-01-01 and 2200-01-01 (UTC)"),
        ("start=0001-01-01T00:00:00%2B14:00", "start", "between 1900-01-01"),  # UTC before year 1
        ("end=9999-12-31T23:59:59-12:00", "end", "between 1900-01-01"),  # UTC after year 9999
    ],
)
def test_series_window_and_width_out_of_range_are_422(
    api, query: str, name: str, expected: str
) -> None:
    client, headers, _ = api
    response = client.get(f"{SERIES}?{query}", headers=headers["viewer"])
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["error"] == "RequestValidationError"
    (failure,) = problem["errors"]
    assert (failure["in"], failure["name"]) == ("query", name)
    assert expected in failure["expected"] and expected in problem["detail"]
    assert failure["found"] == json.dumps(unquote(query.split("=", 1)[1]))


@pytest.mark.parametrize("query", ["end=1500-01-01T00:00:00", "start=0001-01-01T00:00:00%2B14:00"])
def test_oee_window_out_of_range_is_422(api, query: str) -> None:
    client, headers, _ = api
    response = client.get(f"{API}/oee?{query}", headers=headers["viewer"])
    assert response.status_code == 422, response.text
    failure = response.json()["errors"][0]
    assert failure["name"] == query.split("=")[0]
    assert failure["expected"] == "an instant between 1900-01-01 and 2200-01-01 (UTC)"


def test_widest_window_and_finest_width_still_answer(api) -> None:
    client, headers, _ = api
    wide = "start=1900-01-01T00:00:00&end=2199-12-31T00:00:00"
    response = client.get(f"{SERIES}?{wide}&every=1ms&limit=5", headers=headers["viewer"])
    assert response.status_code == 200, response.text
    assert response.json()["total"] == 120  # one bucket per minute point
    assert len(response.json()["buckets"]) == 5
