"""Agents propose, people decide: each attack on the approval workflow, and its refusal.

Each test plays an attack a security probe of the REST API ran against a copy of the demo
store, and asserts that it fails and that the audit log tells what happened.
"""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa

from tests.api.conftest import API


def _purchase(quantity: float, supplier: str = "SUP-1") -> dict:
    return {
        "action_type": "purchase_order.create",
        "parameters": {
            "space": "acme",
            "external_id": "PO-77",
            "material": "bearing",
            "supplier": supplier,
            "quantity": quantity,
        },
        "title": "bearings for press 3",
    }


def _shown(client, headers, action_id: str) -> dict:
    """What the approver looks at: the action and its recommendation."""
    action = client.get(f"{API}/actions/{action_id}", headers=headers).json()
    recommendation = client.get(
        f"{API}/recommendations/{action['recommendation_id']}", headers=headers
    ).json()
    return {"action": action, "recommendation": recommendation}


def test_bait_and_switch_a_changed_proposal_cannot_ride_on_an_approval(api, store) -> None:
    client, headers, orchestrator = api
    engineer, planner = headers["engineer"], headers["planner"]
    first = client.post(f"{API}/actions", headers=engineer, json=_purchase(5))
    assert first.status_code == 201
    seen = _shown(client, planner, first.json()["id"])  # the planner looks: 5 units
    assert seen["recommendation"]["parameters"]["quantity"] == 5

    # The engineer proposes again, 250,000 units from another supplier, in the same slot.
    second = client.post(f"{API}/actions", headers=engineer, json=_purchase(250_000, "SUP-9"))
    assert second.status_code == 201 and second.json()["id"] != first.json()["id"]
    old = client.get(f"{API}/actions/{first.json()['id']}", headers=planner).json()
    assert (old["state"], old["superseded_by"]) == ("superseded", second.json()["id"])

    # The planner approves what they saw: refused, whichever action id they use.
    shown_hash = seen["recommendation"]["content_hash"]
    for action_id in (first.json()["id"], second.json()["id"]):
        refused = client.post(
            f"{API}/actions/{action_id}/approve",
            headers=planner,
            json={"comment": "ok", "content_hash": shown_hash},
        )
        assert refused.status_code == 409, refused.text
    assert store.counts()["purchase_order"] == 0
    log = orchestrator.records.audit_log(object_id=first.json()["id"])
    assert [e.verb for e in log][0] == "action.superseded"
    assert log[0].details["superseded_by"] == second.json()["id"]


def test_the_same_proposal_again_is_the_same_action_and_never_rewrites_a_decided_one(
    api, store
) -> None:
    client, headers, orchestrator = api
    proposal = _purchase(5)
    made = client.post(f"{API}/actions", headers=headers["engineer"], json=proposal).json()
    shown = _shown(client, headers["planner"], made["id"])["recommendation"]["content_hash"]
    done = client.post(
        f"{API}/actions/{made['id']}/approve",
        headers=headers["planner"],
        json={"content_hash": shown},
    )
    assert done.json()["state"] == "executed", done.text
    again = client.post(f"{API}/actions", headers=headers["engineer"], json=proposal)
    assert again.status_code == 200 and again.json()["state"] == "executed"
    recommendation = orchestrator.records.recommendation(made["recommendation_id"])
    assert recommendation.content_hash == shown  # the executed content, untouched


def test_execution_refuses_content_changed_after_approval(api, store) -> None:
    client, headers, orchestrator = api
    made = client.post(f"{API}/actions", headers=headers["engineer"], json=_purchase(5)).json()
    approved = client.post(
        f"{API}/actions/{made['id']}/approve",
        headers=headers["planner"],
        json={"execute": False},
    ).json()
    assert approved["state"] == "approved" and approved["approved_hash"]
    # Someone with access to the database file edits the stored parameters.
    store.connection.execute(
        "UPDATE recommendation SET parameters = "
        "json_object('space', 'acme', 'external_id', 'PO-77', 'material', 'gold', "
        "'quantity', 250000) WHERE external_id = ?",
        [made["recommendation_id"]],
    )
    executed = client.post(f"{API}/actions/{made['id']}/execute", headers=headers["planner"])
    assert executed.json()["state"] == "failed"
    assert "approved content" in executed.json()["result"]["error"]
    assert store.counts()["purchase_order"] == 0


def test_nobody_approves_their_own_proposal_unless_an_admin_says_why(api, store) -> None:
    client, headers, orchestrator = api
    order = {
        "action_type": "maintenance_order.create",
        "parameters": {"space": "acme", "external_id": "MO-9", "asset": "press-3"},
    }
    made = client.post(f"{API}/actions", headers=headers["engineer"], json=order).json()
    own = client.post(f"{API}/actions/{made['id']}/approve", headers=headers["engineer"])
    assert own.status_code == 403 and "someone else" in own.json()["detail"]
    assert store.counts()["maintenance_order"] == 0

    mine = client.post(f"{API}/actions", headers=headers["admin"], json={**order, "title": "a"})
    admin_id = mine.json()["id"]
    silent = client.post(
        f"{API}/actions/{admin_id}/approve", headers=headers["admin"], json={"override": True}
    )
    assert silent.status_code == 422 and "comment" in silent.json()["detail"]
    override = client.post(
        f"{API}/actions/{admin_id}/approve",
        headers=headers["admin"],
        json={"override": True, "comment": "night shift, nobody else on site"},
    )
    assert override.json()["state"] == "executed", override.text
    verbs = [(e.verb, e.actor) for e in orchestrator.records.audit_log(object_id=admin_id)]
    assert ("action.override", "user:admuser") in verbs


def _existing_order(store) -> None:
    store.upsert_entities(
        "maintenance_order",
        pa.table(
            {
                "space": ["acme"],
                "external_id": ["MO-1"],
                "asset": ["press-3"],
                "status": ["completed"],
                "actual_end": pa.array([datetime(2026, 2, 1)]),
            }
        ),
        "erp",
    )
    store.upsert_entities(
        "purchase_order",
        pa.table(
            {
                "space": ["acme"],
                "external_id": ["PO-1"],
                "material": ["bearing"],
                "quantity": [3600.0],
                "status": ["received"],
            }
        ),
        "erp",
    )


def test_a_create_never_overwrites_an_order_that_exists(api, store) -> None:
    client, headers, orchestrator = api
    _existing_order(store)
    attacks = [
        {
            "action_type": "maintenance_order.create",
            "parameters": {"space": "acme", "external_id": "MO-1", "asset": "other"},
        },
        {
            "action_type": "purchase_order.create",
            "parameters": {"space": "acme", "external_id": "PO-1", "material": "b", "quantity": 1},
        },
    ]
    for attack in attacks:
        made = client.post(f"{API}/actions", headers=headers["engineer"], json=attack).json()
        done = client.post(f"{API}/actions/{made['id']}/approve", headers=headers["admin"]).json()
        assert done["state"] == "failed" and "already exists" in done["result"]["error"]
    kept = store.query("SELECT status, asset FROM maintenance_order WHERE external_id = 'MO-1'")
    assert (kept["status"][0], kept["asset"][0]) == ("completed", "press-3")
    po = store.query("SELECT quantity, status FROM purchase_order WHERE external_id = 'PO-1'")
    assert (po["quantity"][0], po["status"][0]) == (3600.0, "received")


def test_an_executed_action_is_undone_only_by_a_new_approved_action(api, store) -> None:
    client, headers, orchestrator = api
    order = {
        "action_type": "purchase_order.create",
        "parameters": {"space": "acme", "external_id": "PO-8", "material": "b", "quantity": 4},
    }
    made = client.post(f"{API}/actions", headers=headers["engineer"], json=order).json()
    done = client.post(f"{API}/actions/{made['id']}/approve", headers=headers["planner"]).json()
    [step] = done["result"]["steps"]
    [change] = step["changed"]["purchase_order"]
    assert change["before"] is None and change["after"]["quantity"] == 4.0

    undo = client.post(
        f"{API}/actions/{made['id']}/compensate",
        headers=headers["engineer"],
        json={"comment": "wrong material"},
    )
    assert undo.status_code == 201 and undo.json()["state"] == "proposed"
    assert store.query("SELECT status FROM purchase_order")["status"][0] == "open"
    approved = client.post(
        f"{API}/actions/{undo.json()['id']}/approve", headers=headers["planner"]
    ).json()
    assert approved["state"] == "executed", approved
    assert store.query("SELECT status FROM purchase_order")["status"][0] == "cancelled"
    original = client.get(f"{API}/actions/{made['id']}", headers=headers["viewer"]).json()
    assert original["state"] == "executed" and original["result"] == done["result"]
