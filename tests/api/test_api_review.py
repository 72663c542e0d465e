"""``GET /actions/{id}/review``: what the inbox card shows a person deciding on an action."""

from __future__ import annotations

import pyarrow as pa

from tests.api.conftest import API


def _materials(store) -> None:
    store.upsert_entities(
        "material",
        pa.table(
            {
                "space": ["acme"],
                "external_id": ["BRG-1"],
                "name": ["Spindle bearing 6204"],
                "unit_of_measure": ["pcs"],
            }
        ),
        "seed",
    )


def test_the_review_shows_the_orders_as_they_are_before_the_move_and_what_it_names(
    api, store
) -> None:
    client, headers, orchestrator = api
    _materials(store)
    orchestrator.run()
    action = client.get(f"{API}/actions?state=proposed", headers=headers["viewer"]).json()
    action_id = action["items"][0]["id"]

    review = client.get(f"{API}/actions/{action_id}/review", headers=headers["planner"])
    assert review.status_code == 200, review.text
    body = review.json()
    stored = orchestrator.records.recommendation(body["action"]["recommendation_id"])
    assert body["recommendation"]["content_hash"] == stored.content_hash
    assert {f["id"] for f in body["findings"]} == set(stored.finding_ids)
    assert body["missing_findings"] == []
    # the work orders moved, with the dates they have before the move (the seed's)
    orders = {o["external_id"]: o for o in body["work_orders"]}
    assert set(orders) == {"WO-1", "WO-2"}
    assert orders["WO-1"]["planned_start"] == "2026-03-05T06:00:00"
    assert [a["external_id"] for a in body["assets"]] == ["press-3"]
    (material,) = body["materials"]
    assert (material["name"], material["unit_of_measure"]) == ("Spindle bearing 6204", "pcs")
    assert body["you"] == {"may_approve": True, "may_reject": True, "why_not": None}


def test_the_review_tells_who_may_not_decide_and_why(api) -> None:
    client, headers, orchestrator = api
    orchestrator.run()
    action_id = orchestrator.records.actions(state="proposed")[0].id
    url = f"{API}/actions/{action_id}/review"

    engineer = client.get(url, headers=headers["engineer"]).json()["you"]
    assert not engineer["may_approve"] and not engineer["may_reject"]
    assert "'planner'" in engineer["why_not"] and "'engineer'" in engineer["why_not"]
    viewer = client.get(url, headers=headers["viewer"]).json()["you"]
    assert not viewer["may_approve"] and "decide" in viewer["why_not"]

    # one's own proposal: the API refuses its approval, and the review says so beforehand
    own = client.post(
        f"{API}/actions",
        headers=headers["planner"],
        json={"action_type": "notify", "parameters": {"to": ["ann"]}, "title": "tell ann"},
    ).json()
    mine = client.get(f"{API}/actions/{own['id']}/review", headers=headers["planner"]).json()
    assert (mine["you"]["may_approve"], mine["you"]["may_reject"]) == (False, True)
    assert "you proposed it" in mine["you"]["why_not"]
    refused = client.post(f"{API}/actions/{own['id']}/approve", headers=headers["planner"], json={})
    assert refused.status_code == 403

    # decided: nobody may decide again
    client.post(f"{API}/actions/{action_id}/reject", headers=headers["planner"], json={})
    decided = client.get(url, headers=headers["admin"]).json()["you"]
    assert not decided["may_approve"] and "rejected" in decided["why_not"]


def test_the_review_of_an_unknown_action_is_a_404_problem(api) -> None:
    client, headers, _ = api
    answer = client.get(f"{API}/actions/act-nope/review", headers=headers["viewer"])
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "act-nope" in answer.json()["detail"]
