"""The field and process over HTTP: claims per cohort, reliability, recall scope, setpoints."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import datetime

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from factorybrain.agents import installed_orchestrator
from factorybrain.agents.design import DesignAgent
from factorybrain.agents.service import ServiceAgent, ServiceDataWarning
from factorybrain.api import TokenStore, create_app
from factorybrain.context import serial_letters
from factorybrain.store import DuckDBStore, open_store
from tests.agents.test_design import populate as populate_process
from tests.agents.test_service import BAD_LOT
from tests.agents.test_service import populate as populate_field
from tests.api.conftest import API

PATHS = (
    "field/cohorts",
    "field/reliability",
    "field/reliability/P1",
    f"field/clusters/material_lot:{BAD_LOT}/scope",
    "process/proposals",
)


def build_plant(store: DuckDBStore) -> dict:
    """A plant with one bad bearing lot in the field and a product whose recipe can improve.

    The service and design agents review it and their findings and recommendations are stored,
    as a run of the agents leaves them.
    """
    field = populate_field(store)
    populate_process(store)
    store.upsert_entities(
        "asset",
        pa.Table.from_pylist(
            [{"space": "plant-7", "external_id": "L2", "name": "Line 2", "level": "line"}]
        ),
        "test",
    )
    store.upsert_entities(
        "work_order",
        pa.Table.from_pylist(
            [{"space": "plant-7", "external_id": "QX-9-ORD0000", "product": "QX-9", "line": "L2"}]
        ),
        "test",
    )
    # as an ERP keeps it: the product's record has no name, its material record has
    store.upsert_entities(
        "product", pa.Table.from_pylist([{"space": "plant", "external_id": "P1"}]), "test"
    )
    store.upsert_entities(
        "material",
        pa.Table.from_pylist(
            [{"space": "plant", "external_id": "P1", "name": "Booster pump 4 kW"}]
        ),
        "test",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ServiceDataWarning)
        review = ServiceAgent().review(store)
    assert review.as_of is not None
    orchestrator = installed_orchestrator(store, with_agents=False, clock=lambda: review.as_of)
    orchestrator.submit(review.items(), agent="service", at=review.as_of)
    now = datetime(2025, 5, 1)
    report = DesignAgent().study(store, now=now)
    orchestrator.submit(report.items, agent="design", at=now)
    return field


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DuckDBStore, dict]]:
    store = open_store(tmp_path_factory.mktemp("field") / "plant.duckdb", migrate=True)
    field = build_plant(store)
    yield store, field
    store.close()


@pytest.fixture(scope="module")
def client(plant: tuple) -> Iterator[tuple[TestClient, dict[str, str]]]:
    store, _ = plant
    tokens = TokenStore(store)
    viewer = {"Authorization": f"Bearer {tokens.create('ann', 'viewer')}"}
    with TestClient(create_app(store, tokens=tokens)) as opened:
        yield opened, viewer


@pytest.mark.parametrize("path", PATHS)
def test_every_field_and_process_route_needs_a_token(client: tuple, path: str) -> None:
    http, _ = client
    answer = http.get(f"{API}/{path}")
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"


def test_claims_per_cohort_name_the_bad_lot_first_with_its_rate_ratio(client: tuple) -> None:
    http, viewer = client
    body = http.get(f"{API}/field/cohorts", headers=viewer).json()
    assert body["total"] >= 1 and body["next_offset"] is None
    first = body["items"][0]
    assert first["subject"] == {"type": "material_lot", "external_id": BAD_LOT, "space": "plant"}
    assert first["cohort"] == f"material_lot:{BAD_LOT}" and first["attribute"] == "material_lot"
    assert first["rate_ratio_low"] > 3 and first["rate_ratio_low"] < first["rate_ratio"]
    assert first["rate_ratio"] < first["rate_ratio_high"] and first["q_value"] < 0.01
    assert first["failure_mode"] and first["scope_serials"] > 0
    # an approved inspection is what the engineer sees waiting
    assert first["inspection"]["state"] == "proposed"
    mode = first["failure_mode"]
    only = http.get(f"{API}/field/cohorts", params={"failure_mode": mode}, headers=viewer).json()
    assert BAD_LOT in [i["subject"]["external_id"] for i in only["items"]]
    other = http.get(f"{API}/field/cohorts", params={"failure_mode": "overheat"}, headers=viewer)
    assert other.json()["items"] == []
    assert http.get(f"{API}/field/cohorts?limit=0", headers=viewer).status_code == 422


def test_reliability_gives_b10_with_its_interval_and_a_weibull_plot(client: tuple) -> None:
    http, viewer = client
    every = http.get(f"{API}/field/reliability", headers=viewer).json()
    assert [f["product"] for f in every["items"]] == ["P1"]
    fit = http.get(f"{API}/field/reliability/P1", headers=viewer).json()
    assert fit["fitted"] and fit["b10_low_days"] < fit["b10_days"] < fit["b10_high_days"]
    assert fit["name"] == "Booster pump 4 kW"  # named by its material record
    plot = fit["plot"]
    # one point per failure, at rising ages and median ranks, the rest censored
    assert plot["failures"] == fit["failures"] == len(plot["points"])
    assert plot["censored_units"] == fit["units"] - fit["failures"]
    ranks = [p["probability"] for p in plot["points"]]
    ages = [p["age_days"] for p in plot["points"]]
    assert ranks == sorted(ranks) and ages == sorted(ages) and 0 < ranks[0] < ranks[-1] < 1
    assert sum(b["units"] for b in plot["censored"]) == plot["censored_units"]
    # the fitted line crosses 10 % at the B10 life
    line = plot["line"]
    below = [p for p in line if p["probability"] < 0.10]
    assert below and below[-1]["age_days"] <= fit["b10_days"]
    missing = http.get(f"{API}/field/reliability/NO-SUCH", headers=viewer)
    assert missing.status_code == 404 and "P1" in missing.json()["detail"]


def test_the_recall_scope_is_paged_with_customers_and_shipments(
    plant: tuple, client: tuple
) -> None:
    _, field = plant
    http, viewer = client
    cohorts = http.get(f"{API}/field/cohorts", headers=viewer).json()["items"]
    cluster = cohorts[0]["id"]
    first = http.get(
        f"{API}/field/clusters/{cluster}/scope", params={"limit": 5}, headers=viewer
    ).json()
    failed = {serial_letters(c["serial_unit"]) for c in field["claims"]}  # some typed full width
    assert first["total"] == sum(1 for u in field["bad_units"] if u.replace("-", "") not in failed)
    assert first["next_offset"] == 5 and len(first["items"]) == 5
    assert {"serial", "customer", "customer_name", "shipment", "shipped_at"} <= set(
        first["items"][0]
    )
    assert sum(c["serials"] for c in first["customers"]) == first["total"]
    by_cohort = http.get(
        f"{API}/field/clusters/material_lot:{BAD_LOT}/scope",
        params={"limit": 5, "offset": 5},
        headers=viewer,
    ).json()
    assert by_cohort["total"] == first["total"]
    assert not {i["serial"] for i in by_cohort["items"]} & {i["serial"] for i in first["items"]}
    name = first["customers"][0]["customer"]
    theirs = http.get(
        f"{API}/field/clusters/{cluster}/scope", params={"customer": name}, headers=viewer
    ).json()
    assert theirs["total"] == first["customers"][0]["serials"]
    missing = http.get(f"{API}/field/clusters/fnd-nope/scope", headers=viewer)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


def test_process_proposals_give_setpoints_and_the_gain_interval(client: tuple) -> None:
    http, viewer = client
    body = http.get(f"{API}/process/proposals", headers=viewer).json()
    (item,) = body["items"]
    assert item["product"] == "QX-9" and item["objective"] == "hydraulic efficiency"
    assert item["gain_low"] <= item["gain"] <= item["gain_high"]
    changed = {s["parameter"] for s in item["setpoints"] if s["changed"]}
    assert changed and changed <= {"coil_pull_N", "seat_load_kN"}
    assert item["recommendation"]["state"] == "proposed"
    if item["decision"] == "confirm":
        assert item["confirmation_runs"]
    on_line = http.get(f"{API}/process/proposals", params={"line": "line 2"}, headers=viewer)
    assert on_line.json()["line"] == "L2" and on_line.json()["total"] == 1
    by_name = http.get(
        f"{API}/process/proposals", params={"product": "Quiet Flow 9"}, headers=viewer
    ).json()
    assert by_name["total"] == 1
    for params in ({"line": "line 9"}, {"product": "NO-SUCH"}):
        missing = http.get(f"{API}/process/proposals", params=params, headers=viewer)
        assert missing.status_code == 404, params


def test_the_recall_scope_survives_the_quality_agents_containment(tmp_path) -> None:
    # the quality agent takes the service agent's inspection into its containment bundle
    # (quarantine, supplier action, inspection): the newest recommendation about the cluster is
    # then the bundle, and the scope's serials are its inspection step's
    from factorybrain.insights import field_cohorts, recall_scope

    store = open_store(tmp_path / "plant.duckdb", migrate=True)
    populate_field(store)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ServiceDataWarning)
        review = ServiceAgent().review(store)
    orchestrator = installed_orchestrator(store, clock=lambda: review.as_of)
    orchestrator.submit(review.items(), agent="service", at=review.as_of)
    [cohort] = [c for c in field_cohorts(store)["items"] if c["label"] == BAD_LOT]
    assert cohort["inspection"]["title"].startswith("field_failure")  # the bundle leads now
    scope = recall_scope(store, cohort["id"], limit=10)
    assert scope["total"] == cohort["scope_serials"] > 0
    assert sum(c["serials"] for c in scope["customers"]) == scope["total"]
    assert all(item["serial"] and item["shipment"] for item in scope["items"])
    store.close()
