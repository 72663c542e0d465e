"""The dashboard's read routes: the plant's KPIs, the lines' shifts, a machine's other names."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from factorybrain.api import TokenStore, create_app
from tests.api.conftest import API

planning = pytest.importorskip("factorybrain.agents.planning")
from tests.agents.test_planning import MONDAY, _seed_oee  # noqa: E402 (needs the planning layer)


@pytest.fixture
def client(store) -> Iterator[tuple[TestClient, dict[str, str]]]:
    tokens = TokenStore(store)
    viewer = {"Authorization": f"Bearer {tokens.create('ann', 'viewer')}"}
    with TestClient(create_app(store, tokens=tokens)) as opened:
        yield opened, viewer


def test_kpis_cover_the_last_days_of_data_against_the_days_before(store, client) -> None:
    http, viewer = client
    _seed_oee(store)  # one early shift on Monday; its machine states run to 16:00
    answer = http.get(f"{API}/kpis", params={"days": 1}, headers=viewer)
    assert answer.status_code == 200
    body = answer.json()
    # the period ends where the data ends, not at the clock's now
    assert body["data_until"] == (MONDAY + timedelta(hours=16)).isoformat()
    current = body["current"]
    assert current["start"] == (MONDAY - timedelta(hours=8)).isoformat()
    machine = planning.plant_oee(store, assets=["CUT-1"]).set_index("machine").loc["CUT-1"]
    assert current["oee"] == pytest.approx(machine["oee"])
    assert current["availability"] == pytest.approx(machine["availability"])
    assert current["good_units"] == pytest.approx(240)
    # downtime in shift only: the two hours down after the shift are not planned time
    assert current["down_hours"] == pytest.approx(machine["down_seconds"] / 3600)
    assert current["down_hours"] < 4
    assert [line["line"] for line in body["lines"]] == ["L1"]
    assert body["lines"][0]["oee"] == pytest.approx(current["oee"])
    # nothing was recorded the day before: no figures, not zeros
    assert body["previous"]["oee"] is None and body["previous"]["good_units"] is None


def test_kpis_list_open_orders_past_their_due_date_as_late(store, client) -> None:
    http, viewer = client
    _seed_oee(store)
    rows = [
        {"external_id": "WO-LATE", "status": "in_progress", "due_at": MONDAY + timedelta(hours=12)},
        {"external_id": "WO-DONE", "status": "completed", "due_at": MONDAY + timedelta(hours=12)},
        {"external_id": "WO-SOON", "status": "released", "due_at": MONDAY + timedelta(days=3)},
    ]
    table = pa.Table.from_pylist(
        [{"space": "mes", "product": "P", "line": "L1", "quantity": 10.0, **row} for row in rows]
    )
    store.upsert_entities("work_order", table, "seed")
    late = http.get(f"{API}/kpis", headers=viewer).json()["late_orders"]
    assert [(o["external_id"], o["overdue"]) for o in late] == [("WO-LATE", True)]


def test_kpis_without_machine_states_say_why(store, client) -> None:
    http, viewer = client
    body = http.get(f"{API}/kpis", headers=viewer).json()
    assert body["current"] is None and "machine states" in body["note"]
    assert http.get(f"{API}/kpis", params={"days": 0}, headers=viewer).status_code == 422


def test_shifts_past_the_recorded_ones_repeat_the_recorded_weeks(store, client) -> None:
    http, viewer = client
    _seed_oee(store)  # early shifts 06:00-14:00, Monday to Friday of one week
    recorded = http.get(
        f"{API}/shifts",
        params={"start": MONDAY.isoformat(), "end": (MONDAY + timedelta(days=1)).isoformat()},
        headers=viewer,
    ).json()
    assert [(s["line"], s["name"], s["projected"]) for s in recorded] == [("L1", "EARLY", False)]
    week = MONDAY + timedelta(days=7)
    projected = http.get(
        f"{API}/shifts",
        params={"start": week.isoformat(), "end": (week + timedelta(days=7)).isoformat()},
        headers=viewer,
    ).json()
    starts = [s["start"] for s in projected]
    assert starts == [(week + timedelta(days=d, hours=6)).isoformat() for d in range(5)]
    assert all(s["projected"] and s["name"] == "EARLY" for s in projected)
    backwards = http.get(
        f"{API}/shifts",
        params={"start": week.isoformat(), "end": MONDAY.isoformat()},
        headers=viewer,
    )
    assert backwards.status_code in (400, 422)


def test_links_give_a_machines_names_in_other_silos_by_approved_matches_only(store, client) -> None:
    http, viewer = client
    links = [
        ("erp", "10004016", "approved"),
        ("engineering", "line1/lathe-1", "approved"),
        ("erp", "10004154", "suggested"),
        ("wms", "LATHE01", "rejected"),
    ]
    store.upsert_entities(
        "annotation",
        pa.Table.from_pylist(
            [
                {
                    "space": "context",
                    "external_id": f"link-{i}",
                    "source_space": space,
                    "source_identifier": identifier,
                    "source_kind": "entity",
                    "target_type": "asset",
                    "target_space": "mes",
                    "target_external_id": "LTH-01",
                    "confidence": 0.99,
                    "status": status,
                    "method": "test",
                }
                for i, (space, identifier, status) in enumerate(links)
            ]
        ),
        "seed",
    )
    query = {"type": "asset", "space": "mes", "external_id": "LTH-01"}
    found = http.get(f"{API}/links", params=query, headers=viewer).json()
    assert [(link["space"], link["external_id"]) for link in found] == [
        ("engineering", "line1/lathe-1"),
        ("erp", "10004016"),
    ]
    # and back: the ERP's machine is the MES's LTH-01
    back = {"type": "asset", "space": "erp", "external_id": "10004016"}
    assert [
        (x["space"], x["external_id"])
        for x in http.get(f"{API}/links", params=back, headers=viewer).json()
    ] == [("mes", "LTH-01")]
    assert http.get(f"{API}/links", params=query).status_code == 401
