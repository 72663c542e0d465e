"""The inbox, the findings' lifecycle and the trace in a real browser (Chromium, Playwright).

One small store is built here: a press with two work orders and a spare part, and the flagship
playbook's stand-in agents, whose run leaves one bundled action (maintenance window, re-plan,
purchase) in the inbox; a few more proposals, findings and a claim's genealogy are added through
the agents' records. The API and the dashboard are served on a free loopback port; a planner
signs in and decides as a person would.

Skipped, saying why, where Debian's Chromium (/usr/bin/chromium) or Playwright is missing.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from factorybrain.agents import EntityRef, Evidence, Finding, Orchestrator, Recommendation
from factorybrain.api import TokenStore, create_app
from factorybrain.store import open_store
from factorybrain.web import mount_dashboard
from tests._serving import serving
from tests.agents.test_orchestrator import T0, Logistics, Maintenance, Planning
from tests.context._helpers import add, add_edges

CHROMIUM = Path("/usr/bin/chromium")
PLANNER = "planner-ann"
#: How long one page or one decision may take before the test fails.
WAIT_MS = 15_000


@dataclass
class Plant:
    """The served store and what the tests look for in it."""

    url: str
    token: str
    other_token: str
    orchestrator: Orchestrator
    bundled: str
    to_reject: str
    own: str
    decided_elsewhere: str
    superseded: str
    newer: str
    resolved: str


def _seed(store: Any) -> None:
    add(
        store,
        "asset",
        [
            {"space": "acme", "external_id": "line-1", "name": "Press line", "level": "line"},
            {
                "space": "acme",
                "external_id": "press-3",
                "name": "Press 3",
                "level": "equipment",
                "parent": "line-1",
            },
        ],
    )
    add(
        store,
        "work_order",
        [
            {
                "space": "acme",
                "external_id": f"WO-{n}",
                "product": "PUMP-100",
                "quantity": 40,
                "line": "line-1",
                "status": "planned",
                "planned_start": datetime(2026, 3, 5, 6) + timedelta(hours=8 * (n - 1)),
                "planned_end": datetime(2026, 3, 5, 14) + timedelta(hours=8 * (n - 1)),
                "due_at": datetime(2026, 3, 7, 0),
            }
            for n in (1, 2)
        ],
    )
    add(
        store,
        "material",
        [
            {
                "space": "acme",
                "external_id": "BRG-1",
                "name": "Spindle bearing 6204",
                "unit_of_measure": "pcs",
            }
        ],
    )
    # a claim's genealogy: claim -> serial -> work order -> lot -> supplier lot -> supplier
    add(store, "supplier", [{"space": "mes", "external_id": "SUP-7", "name": "Castings Ltd"}])
    add(
        store,
        "supplier_lot",
        [{"space": "mes", "external_id": "SL-88", "supplier": "SUP-7", "material": "CAST-1"}],
    )
    add(
        store,
        "material_lot",
        [
            {
                "space": "mes",
                "external_id": "LOT-4711",
                "material": "CAST-1",
                "supplier_lot": "SL-88",
                "status": "released",
            }
        ],
    )
    add(
        store,
        "work_order",
        [{"space": "mes", "external_id": "WO-T1", "product": "PUMP-100", "status": "completed"}],
    )
    add(
        store,
        "serial_unit",
        [
            {
                "space": "mes",
                "external_id": "SN-T1",
                "work_order": "WO-T1",
                "product": "PUMP-100",
                "status": "shipped",
            }
        ],
    )
    add(
        store,
        "warranty_claim",
        [{"space": "crm", "external_id": "CL-1", "serial_unit": "SN-T1", "text": "leaks"}],
    )
    add_edges(store, [("consumed_in", "mes", "LOT-4711", "mes", "WO-T1")])


def _finding(kind: str, subject: str, at: datetime, title: str) -> Finding:
    return Finding(
        "maintenance",
        kind,
        EntityRef("asset", subject, "acme"),
        severity="medium",
        confidence=0.8,
        evidence=Evidence(text=title),
        dedup_key=f"{kind}:{at:%Y%m%d%H}",
        created_at=at,
        title=title,
    )


def _purchase(finding: Finding, external_id: str, quantity: float) -> Recommendation:
    return Recommendation(
        "logistics",
        (finding.id,),
        "purchase_order.create",
        {"space": "acme", "external_id": external_id, "material": "BRG-1", "quantity": quantity},
        {"position_after": quantity},
        title=f"Order {quantity:g} x BRG-1",
        dedup_key=external_id,
    )


def _situation(store: Any, orchestrator: Orchestrator) -> dict[str, str]:
    """The proposals and findings the tests decide on and look at; their ids."""
    records = orchestrator.records
    (bundled,) = orchestrator.run().actions
    ids = {"bundled": bundled}
    for name, quantity in (("to_reject", 5.0), ("decided_elsewhere", 7.0)):
        finding, _ = records.report_finding(
            _finding("logistics.reorder_due", "press-3", T0, f"Reorder {name}"), at=T0
        )
        ids[name] = orchestrator.propose(
            _purchase(finding, f"PO-{name}", quantity), actor="logistics", at=T0
        ).id
    ids["own"] = orchestrator.propose(
        _purchase(finding, "PO-own", 3.0), actor=f"user:{PLANNER}", at=T0
    ).id
    older, _ = records.report_finding(
        _finding(
            "maintenance.anomaly", "press-3", T0 - timedelta(days=2), "Vibration above its limit"
        ),
        at=T0,
    )
    newer, _ = records.report_finding(
        _finding("maintenance.anomaly", "press-3", T0, "Vibration rising again"), at=T0
    )
    records.supersede_older(newer, at=T0)
    drift, _ = records.report_finding(
        _finding("quality.drift", "press-3", T0 - timedelta(days=1), "Bore diameter drifts"), at=T0
    )
    records.resolve(drift, at=T0)
    return {**ids, "superseded": older.id, "newer": newer.id, "resolved": drift.id}


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plant]:
    store = open_store(tmp_path_factory.mktemp("inbox") / "plant.duckdb", migrate=True)
    _seed(store)
    orchestrator = Orchestrator(store, [Maintenance(), Planning(), Logistics()], clock=lambda: T0)
    ids = _situation(store, orchestrator)
    tokens = TokenStore(store)
    token, other = tokens.create(PLANNER, "planner"), tokens.create("planner-bob", "planner")
    app = mount_dashboard(create_app(store, tokens=tokens, orchestrator=orchestrator))
    with serving(app) as url:
        yield Plant(f"{url}/", token, other, orchestrator, **ids)
    store.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"Debian's chromium is not installed at {CHROMIUM}: the browser tests skip")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright is not installed: the browser tests skip"
    )
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"],
        )
        yield launched
        launched.close()


class Tab:
    """One signed-in tab; it collects console errors, page errors and failed answers."""

    def __init__(self, browser: Any, plant: Plant) -> None:
        self.context = browser.new_context(viewport={"width": 1440, "height": 900})
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(m.text))
        self.page.on("pageerror", lambda e: self.problems.append(str(e)))
        self.page.goto(f"{plant.url}?token={plant.token}#/")
        self.wait("#/")

    def wait(self, route: str) -> None:
        """Wait until the dashboard says it drew ``route`` (a function: the CSP forbids eval)."""
        self.page.wait_for_function(
            "(route) => document.body.dataset.loaded === route", arg=route, timeout=WAIT_MS
        )

    def open(self, route: str) -> Any:
        self.page.evaluate("(route) => { location.hash = route; }", route)
        self.wait(route)
        return self.page

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def tab(browser: Any, plant: Plant) -> Iterator[Tab]:
    opened = Tab(browser, plant)
    yield opened
    opened.close()


def _shown(iso: str) -> str:
    """A timestamp as the dashboard writes it: ``2026-03-05 06:00``."""
    return iso.replace("T", " ")[:16]


def _badge(page: Any) -> int:
    page.wait_for_function("() => !document.querySelector('#inbox-count').hidden", timeout=WAIT_MS)
    return int(page.inner_text("#inbox-count"))


def test_the_card_shows_what_is_approved_and_leaves_the_list_once_executed(
    tab: Tab, plant: Plant
) -> None:
    records = plant.orchestrator.records
    action = records.action(plant.bundled)
    recommendation = records.recommendation(action.recommendation_id)
    steps = {step.action_type: dict(step.parameters) for step in recommendation.steps}
    page = tab.open("#/inbox")
    waiting = _badge(page)
    card = page.locator(f'.inbox-card[data-action="{plant.bundled}"]')
    text = card.inner_text()

    # the machine, linked to its page, and the window with its length
    maintenance = steps["maintenance_order.create"]
    machine = card.locator(f'a[href="#/asset/acme/{maintenance["asset"]}"]')
    assert machine.count() >= 1 and "Press 3" in text
    start, end = maintenance["planned_start"], maintenance["planned_end"]
    hours = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds() / 3600
    assert f"{_shown(start)} → {_shown(end)[11:]} UTC" in text and f"({hours:g} h)" in text
    assert maintenance["external_id"] in text
    # each order moved: its dates now (before the move) and its new dates
    for order in steps["work_order.reschedule"]["orders"]:
        row = card.locator("tr", has_text=order["external_id"]).inner_text()
        before = records.store.query_rows(
            "SELECT planned_start FROM work_order WHERE external_id = ?", [order["external_id"]]
        )[0]["planned_start"]
        assert _shown(before.isoformat()) in row and _shown(order["planned_start"]) in row
    # the part, its name, quantity and unit, and the purchase order
    purchase = steps["purchase_order.create"]
    part = card.locator("tr", has_text=purchase["external_id"]).inner_text()
    assert "Spindle bearing 6204" in part and f"{purchase['quantity']:g} pcs" in part
    # the findings behind it, each linked to what it is about, and who may approve
    findings = card.locator(".inbox-why tbody tr")
    assert findings.count() == len(recommendation.finding_ids)
    for row in findings.all():
        assert row.locator("a[href^='#/']").count() == 1, row.inner_text()
    assert card.locator(".inbox-why a[href='#/asset/acme/press-3']").count() >= 1
    assert "the orchestrator" in text and action.required_role in text
    assert "You may approve it" in text

    card.locator("textarea").fill("Window agreed with the shift lead")
    card.locator("button.approve").click()
    notice = page.locator(f'.inbox-decided[data-action="{plant.bundled}"] .outcome')
    notice.wait_for(timeout=WAIT_MS)
    told = notice.inner_text()
    assert told.startswith("Approved and executed")
    assert f"maintenance order {maintenance['external_id']} created" in told
    assert f"{len(steps['work_order.reschedule']['orders'])} orders moved" in told
    assert f"purchase order {purchase['external_id']} created" in told
    assert page.locator(f'.inbox-card[data-action="{plant.bundled}"]').count() == 0
    page.wait_for_function(
        "(n) => Number(document.querySelector('#inbox-count').textContent) === n",
        arg=waiting - 1,
        timeout=WAIT_MS,
    )
    history = page.locator(".inbox-decisions tr", has_text=plant.bundled)
    history.wait_for(timeout=WAIT_MS)
    assert "executed" in history.inner_text() and "Window agreed" in history.inner_text()

    executed = records.action(plant.bundled)
    assert executed.state == "executed" and executed.decided_by == f"user:{PLANNER}"
    assert executed.approved_hash == recommendation.content_hash  # what the card showed
    audit = tab.open("#/audit").inner_text("#main")
    assert plant.bundled in audit and PLANNER in audit and "approved" in audit
    assert tab.problems == [], tab.problems


def test_rejecting_with_a_comment_is_kept_in_the_history(tab: Tab, plant: Plant) -> None:
    page = tab.open("#/inbox")
    card = page.locator(f'.inbox-card[data-action="{plant.to_reject}"]')
    assert "PO-to_reject" in card.inner_text() and "Spindle bearing 6204" in card.inner_text()
    card.locator("textarea").fill("Enough bearings on the shelf")
    card.locator("button.reject").click()
    notice = page.locator(f'.inbox-decided[data-action="{plant.to_reject}"] .outcome')
    notice.wait_for(timeout=WAIT_MS)
    assert notice.inner_text() == "Rejected: “Enough bearings on the shelf”."
    rejected = plant.orchestrator.records.action(plant.to_reject)
    assert (rejected.state, rejected.comment) == ("rejected", "Enough bearings on the shelf")
    page.locator(".inbox-decisions tr", has_text=plant.to_reject).wait_for(timeout=WAIT_MS)
    assert tab.problems == [], tab.problems


def test_an_own_proposal_and_a_decision_taken_meanwhile_are_told_in_words(
    tab: Tab, plant: Plant
) -> None:
    page = tab.open("#/inbox")
    own = page.locator(f'.inbox-card[data-action="{plant.own}"]')
    assert "you proposed it" in own.inner_text()
    assert own.locator("button.approve").is_disabled()
    assert not own.locator("button.reject").is_disabled()

    # someone else rejects it after the page showed it: approving now is refused (409)
    request = urllib.request.Request(
        f"{plant.url}api/v1/actions/{plant.decided_elsewhere}/reject",
        data=json.dumps({"comment": "not this week"}).encode(),
        headers={
            "Authorization": f"Bearer {plant.other_token}",
            "Content-Type": "application/json",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert json.load(answer)["state"] == "rejected"
    card = page.locator(f'.inbox-card[data-action="{plant.decided_elsewhere}"]')
    card.locator("button.approve").click()
    error = card.locator(".outcome .error")
    error.wait_for(timeout=WAIT_MS)
    assert "Not approved: it changed or was decided since this page showed it" in error.inner_text()
    assert card.locator("button.inbox-reload").count() == 1
    # the browser logs the refused request; nothing else went wrong
    assert [p for p in tab.problems if "409" not in p] == []


def test_superseded_and_resolved_findings_show_their_status(tab: Tab, plant: Plant) -> None:
    records = plant.orchestrator.records
    assert records.finding(plant.superseded).status == "superseded"
    assert records.finding(plant.resolved).status == "resolved"
    page = tab.open("#/asset/acme/press-3")
    for finding_id, status in (
        (plant.superseded, "superseded"),
        (plant.newer, "open"),
        (plant.resolved, "resolved"),
    ):
        title = records.finding(finding_id).title
        row = page.locator("#main tr", has_text=title).first
        assert status in row.inner_text(), (title, row.inner_text())
    assert tab.problems == [], tab.problems


def test_the_trace_of_a_claim_is_a_tree_with_links(tab: Tab, plant: Plant) -> None:
    page = tab.open("#/trace?claim=CL-1")
    tree = page.locator("#main .tree")
    assert tree.count() == 1, page.inner_text("#main")
    # claim -> serial -> work order -> lot -> supplier, each node inside the one before
    claim = tree.locator("li", has_text="CL-1").first
    serial = claim.locator("li", has=page.locator('a[href="#/trace?serial=SN-T1"]')).first
    order = serial.locator("li", has_text="WO-T1").first
    lot = order.locator("li", has=page.locator('a[href="#/trace?lot=LOT-4711"]')).first
    assert "Castings Ltd" in lot.inner_text() and "SL-88" in lot.inner_text()
    # the links lead to the trace of what they name
    order.locator('a[href="#/trace?lot=LOT-4711"]').click()
    tab.wait("#/trace?lot=LOT-4711")
    assert "WO-T1" in page.inner_text("#main .tree")
    assert tab.problems == [], tab.problems
