"""Inputs at the edges of what the spec allows get a 4xx that says what is wrong, never a 500."""

from __future__ import annotations

import pytest

from tests.api.conftest import API

SERIES = f"{API}/time-series/press-3.vibration/datapoints"


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("every=0.0000001ms", "between 1ms and 3660d"),  # rounds to a zero-width bucket
        ("every=99999999999d", "between 1ms and 3660d"),  # wider than a timedelta holds
        ("end=0001-01-01T00:00:00", "end must lie between 1900-01-01 and 2200-01-01"),
        ("start=0001-01-01T00:00:00%2B14:00", "start must lie between"),  # UTC is before year 1
        ("end=9999-12-31T23:59:59-12:00", "end must lie between"),  # UTC is after year 9999
    ],
)
def test_series_window_and_width_out_of_range_are_422(api, query: str, says: str) -> None:
    client, headers, _ = api
    response = client.get(f"{SERIES}?{query}", headers=headers["viewer"])
    assert response.status_code == 422, response.text
    assert says in response.json()["detail"]
    assert response.json()["error"] == "ParameterError"


@pytest.mark.parametrize("query", ["end=1500-01-01T00:00:00", "start=0001-01-01T00:00:00%2B14:00"])
def test_oee_window_out_of_range_is_422(api, query: str) -> None:
    client, headers, _ = api
    response = client.get(f"{API}/oee?{query}", headers=headers["viewer"])
    assert response.status_code == 422, response.text
    assert "must lie between 1900-01-01 and 2200-01-01" in response.json()["detail"]


def test_widest_window_and_finest_width_still_answer(api) -> None:
    client, headers, _ = api
    wide = "start=1900-01-01T00:00:00&end=2199-12-31T00:00:00"
    response = client.get(f"{SERIES}?{wide}&every=1ms&limit=5", headers=headers["viewer"])
    assert response.status_code == 200, response.text
    assert response.json()["total"] == 120  # one bucket per minute point
    assert len(response.json()["buckets"]) == 5
