"""Quality over HTTP: control charts with their violating points, Cpk, and root causes."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from factorybrain.agents import installed_orchestrator
from factorybrain.agents.quality import QualityAgent, QualityDataWarning
from factorybrain.api import TokenStore, create_app
from factorybrain.store import DuckDBStore, open_store
from tests.agents.test_quality import BAD_LOT, DRIFTING, populate
from tests.api.conftest import API

NOISE_ON_DRIFTING = f"quality_result:noise_dBA:PUMP-A:{DRIFTING}"


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBStore]:
    """A plant whose tester TESTER-2 drifts and whose bearing lot makes noisy pumps.

    The quality agent's findings are stored, as a run of the agents leaves them.
    """
    store = open_store(tmp_path_factory.mktemp("quality") / "plant.duckdb", migrate=True)
    populate(store)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QualityDataWarning)
        review = QualityAgent().review(store)
    assert review.as_of is not None
    orchestrator = installed_orchestrator(store, with_agents=False, clock=lambda: review.as_of)
    orchestrator.submit(review.findings, agent="quality", at=review.as_of)
    yield store
    store.close()


@pytest.fixture(scope="module")
def client(plant: DuckDBStore) -> Iterator[tuple[TestClient, dict[str, str]]]:
    tokens = TokenStore(plant)
    viewer = {"Authorization": f"Bearer {tokens.create('qe', 'viewer')}"}
    with TestClient(create_app(plant, tokens=tokens)) as opened:
        yield opened, viewer


@pytest.mark.parametrize(
    "path", ["quality/charts", f"quality/charts/{NOISE_ON_DRIFTING}", "quality/root-causes"]
)
def test_every_quality_route_needs_a_token(client: tuple, path: str) -> None:
    http, _ = client
    answer = http.get(f"{API}/{path}")
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"


def test_the_drifting_tester_comes_first_with_its_cpk_interval_and_finding(client: tuple) -> None:
    http, viewer = client
    body = http.get(f"{API}/quality/charts", headers=viewer).json()
    ids = [item["id"] for item in body["items"]]
    assert NOISE_ON_DRIFTING in ids and body["total"] == len(ids)
    first = body["items"][0]
    assert first["id"] == NOISE_ON_DRIFTING and first["drifting"]
    assert first["violations"] > 0 and first["signals"]["nelson_2"] > 0
    capability = first["capability"]
    assert capability["cpk_low"] < capability["cpk"] < capability["cpk_high"]
    assert capability["ppk_low"] < capability["ppk"] < capability["ppk_high"]
    assert first["upper_spec"] == 44.0 and first["lower_spec"] is None
    assert first["lower_control"] < first["center"] < first["upper_control"]
    # the chart carries the agent's latest drift finding on it, with the data time judged
    finding = first["finding"]
    assert finding["severity"] in ("medium", "high") and finding["status"] == "open"
    assert finding["as_of"] and "noise_dBA" in finding["text"]
    # the flow of the same tester is steady: charted, in control, no finding
    flow = next(i for i in body["items"] if i["characteristic"] == "flow_lpm")
    assert not flow["drifting"] and flow["finding"] is None and flow["capability"] is None
    # what cannot be charted is said, with why
    (audit,) = [n for n in body["not_charted"] if n["characteristic"] == "runout_um"]
    assert audit["n"] == 5 and "at least 20" in audit["why"]


def test_the_list_filters_by_state_characteristic_and_machine(client: tuple) -> None:
    http, viewer = client
    get = lambda **p: http.get(f"{API}/quality/charts", params=p, headers=viewer).json()  # noqa: E731
    drifting = get(drifting="true")["items"]
    assert drifting and all(i["drifting"] for i in drifting)
    assert all(not i["drifting"] for i in get(drifting="false")["items"])
    assert {i["characteristic"] for i in get(characteristic="flow_lpm")["items"]} == {"flow_lpm"}
    assert {i["machine"] for i in get(machine=DRIFTING)["items"]} == {DRIFTING}
    assert get(product="NO-SUCH")["items"] == []
    page = get(limit=1)
    assert len(page["items"]) == 1 and page["next_offset"] == 1
    assert http.get(f"{API}/quality/charts?limit=0", headers=viewer).status_code == 422


def test_a_chart_gives_its_points_and_which_rule_each_violating_point_breaks(
    client: tuple,
) -> None:
    http, viewer = client
    chart = http.get(f"{API}/quality/charts/{NOISE_ON_DRIFTING}", headers=viewer).json()
    points = chart["points"]
    assert chart["points_total"] == len(points) == chart["n"]
    assert [p["index"] for p in points] == list(range(len(points)))
    assert sum(p["baseline"] for p in points) == chart["baseline_points"]
    rules = {r["test"]: r for r in chart["rules"]}
    assert rules["nelson_2"]["rule"] == 2 and "in a row on one side" in rules["nelson_2"]["name"]
    flagged = [p for p in points if "nelson_2" in p["tests"]]
    assert len(flagged) == rules["nelson_2"]["points"] > 0
    violating = {p["index"] for p in points if any(t.startswith("nelson_") for t in p["tests"])}
    assert len(violating) == chart["violations"]
    # the planted shift: most of the tester's last 100 results (its last 5 orders) are flagged
    assert sum(i >= len(points) - 100 for i in violating) >= 50
    # the points are the stored results, in time order
    assert all(p["point"].endswith("/noise") and p["space"] == "mes" for p in points)
    assert [p["at"] for p in points] == sorted(p["at"] for p in points)
    latest = http.get(
        f"{API}/quality/charts/{NOISE_ON_DRIFTING}", params={"last": 10}, headers=viewer
    ).json()
    assert [p["index"] for p in latest["points"]] == list(range(len(points) - 10, len(points)))
    assert latest["points_total"] == len(points)


def test_an_unknown_or_uncharted_chart_is_404_with_why(client: tuple) -> None:
    http, viewer = client
    unknown = http.get(f"{API}/quality/charts/quality_result:nothing::", headers=viewer)
    assert unknown.status_code == 404 and "as GET /quality/charts lists them" in unknown.text
    short = http.get(f"{API}/quality/charts/{quote('quality_result:runout_um:PUMP-A:')}")
    assert short.status_code == 401
    short = http.get(f"{API}/quality/charts/quality_result:runout_um:PUMP-A:", headers=viewer)
    assert short.status_code == 404 and "at least 20" in short.json()["detail"]


def test_root_causes_name_the_bad_lot_with_its_rate_ratio(client: tuple) -> None:
    http, viewer = client
    body = http.get(f"{API}/quality/root-causes", headers=viewer).json()
    assert body["total"] >= 1
    lots = [c for c in body["items"] if c["subject"]["type"] == "material_lot"]
    assert lots and lots[0]["subject"]["external_id"] == BAD_LOT
    cause = lots[0]
    assert cause["rate_ratio_low"] < cause["rate_ratio"] < cause["rate_ratio_high"]
    assert cause["defect_rate"] > cause["baseline_defect_rate"]
    assert cause["as_of"] and cause["traced_from"] == []


def test_an_empty_store_lists_nothing_and_says_so(tmp_path) -> None:
    store = open_store(tmp_path / "empty.duckdb", migrate=True)
    tokens = TokenStore(store)
    viewer = {"Authorization": f"Bearer {tokens.create('qe', 'viewer')}"}
    with TestClient(create_app(store, tokens=tokens)) as http:
        charts = http.get(f"{API}/quality/charts", headers=viewer).json()
        causes = http.get(f"{API}/quality/root-causes", headers=viewer).json()
    store.close()
    assert charts["items"] == [] and charts["not_charted"] == [] and charts["as_of"] is None
    assert causes["items"] == [] and causes["total"] == 0
