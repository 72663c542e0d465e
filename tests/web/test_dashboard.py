"""The dashboard in a real browser: Debian's Chromium driven by Playwright.

The test setup installs Chromium with apt when it is missing and it can (root, apt-get); where it
cannot (a laptop without root), the browser tests skip and say why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from factorybrain.agents import EntityRef, Evidence, Finding, Orchestrator, Recommendation
from factorybrain.api import TokenStore, create_app
from factorybrain.connectors import load_plant
from factorybrain.store import open_store
from factorybrain.web import mount_dashboard
from tests._serving import serving
from tests.agents.test_logistics import CASTING
from tests.agents.test_logistics import populate as populate_materials

EXAMPLE = Path(__file__).resolve().parents[2] / "src/factorybrain/examples/small_plant/plant.yaml"
PAGES = [
    "#/",
    "#/asset/acme/PRS-03",
    "#/inbox",
    "#/plan",
    "#/inventory",
    "#/quality",
    "#/trace",
    "#/audit",
]


DEBIAN_CHROMIUM = Path("/usr/bin/chromium")


def _chromium() -> str:
    """Debian's Chromium (not a browser a test tool downloaded), installed here if missing."""
    if DEBIAN_CHROMIUM.exists():
        return str(DEBIAN_CHROMIUM)
    if os.geteuid() == 0 and shutil.which("apt-get"):
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        subprocess.run(["apt-get", "update", "-q"], check=False, **quiet)
        subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], check=False, **quiet)
        if DEBIAN_CHROMIUM.exists():
            return str(DEBIAN_CHROMIUM)
    pytest.skip(
        "Debian's chromium is not installed and cannot be installed here (needs root "
        "and apt-get): the browser tests are skipped"
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    folder = tmp_path_factory.mktemp("web")
    db = folder / "plant.duckdb"
    store = open_store(db, migrate=True)
    load_plant(store, EXAMPLE)
    populate_materials(store)  # materials with demand histories, for the inventory page
    orchestrator = Orchestrator(store)
    now = datetime(2024, 3, 2, 8, 0, tzinfo=UTC)
    finding, _ = orchestrator.records.report_finding(
        Finding(
            agent="maintenance",
            kind="maintenance.rul_low",
            subject=EntityRef("asset", "PRS-03", "acme"),
            severity="high",
            confidence=0.9,
            evidence=Evidence(
                numbers={"rul_hours": 40.0, "rul_lower_hours": 20.0, "rul_upper_hours": 70.0},
                text="Bearing temperature rising for two days.",
            ),
            title="Press 3 may fail within two days",
        ),
        at=now,
    )
    orchestrator.propose(
        Recommendation(
            agent="maintenance",
            finding_ids=(finding.id,),
            action_type="maintenance_order.create",
            parameters={
                "space": "acme",
                "external_id": "MO-TEST-1",
                "asset": "PRS-03",
                "planned_start": "2024-03-02T14:00:00Z",
                "planned_end": "2024-03-02T18:00:00Z",
            },
            title="Replace the bearing of Press 3 on Saturday",
        ),
        actor="maintenance",
        at=now,
    )
    tokens = TokenStore(store)
    token = tokens.create("planner-ann", "planner")
    app = mount_dashboard(create_app(store, tokens=tokens, orchestrator=orchestrator))
    with serving(app) as url:
        yield f"{url}/", token, db
    store.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = _chromium()
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield launched
        launched.close()


#: A phone held upright: 390 px wide, with touch.
PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True}


def _page(
    browser: object, url: str, token: str, device: dict | None = None
) -> tuple[object, list[str]]:
    """A signed-in tab (``device``: ``PHONE`` or the desktop default), recording errors."""
    context = browser.new_context(**(device or {}))  # type: ignore[attr-defined]
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on(
        "response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None
    )
    response = page.goto(f"{url}?token={token}#/")
    # The dashboard runs under the API's strict policy: a violation is a console error.
    policy = response.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "style-src 'self';" in policy
    assert response.headers["x-frame-options"] == "DENY"
    _wait_loaded(page, "#/")
    return page, problems


def _wait_loaded(page: object, route: str, timeout: float = 10_000) -> None:
    """Wait until the dashboard says it rendered ``route``.

    A function, not a string: Playwright polls a string predicate through ``eval``, which the
    dashboard's Content-Security-Policy (no ``'unsafe-eval'``) forbids.
    """
    page.wait_for_function(  # type: ignore[attr-defined]
        "(route) => document.body.dataset.loaded === route", arg=route, timeout=timeout
    )


def test_every_page_loads_without_console_errors(server: tuple, browser: object) -> None:
    # How fast they load on the demo factory is measured by benchmarks/dashboard_demo.py.
    url, token, _ = server
    page, problems = _page(browser, url, token)
    for route in PAGES:
        page.evaluate(f"location.hash = {route!r}")  # type: ignore[attr-defined]
        _wait_loaded(page, route)
        assert "error" not in (page.inner_html("#main") or "").split('class="')[1:2], route  # type: ignore[attr-defined]
    assert problems == []
    assert "Press 3" in page.content() or "PRS-03" in page.content()  # type: ignore[attr-defined]


def test_the_asset_page_shows_the_warning_and_sensor_charts(server: tuple, browser: object) -> None:
    url, token, _ = server
    page, problems = _page(browser, url, token)
    page.evaluate("location.hash = '#/asset/acme/PRS-03'")  # type: ignore[attr-defined]
    _wait_loaded(page, "#/asset/acme/PRS-03")
    text = page.inner_text("#main")  # type: ignore[attr-defined]
    assert "remaining useful life" in text and "40 h" in text
    # one uPlot chart per linked series, each drawing the points it was given
    charts = page.locator("#main .chart.sensor")  # type: ignore[attr-defined]
    assert charts.count() >= 2
    assert charts.locator("canvas").count() == charts.count()
    drawn = [int(charts.nth(i).get_attribute("data-points") or 0) for i in range(charts.count())]
    assert min(drawn) > 0, drawn
    assert problems == []


def test_approving_in_the_inbox_executes_and_is_audited(server: tuple, browser: object) -> None:
    url, token, db = server
    page, problems = _page(browser, url, token)
    page.evaluate("location.hash = '#/inbox'")  # type: ignore[attr-defined]
    _wait_loaded(page, "#/inbox")
    card = page.locator(".action").first  # type: ignore[attr-defined]
    card.locator("textarea").fill("Saturday window is free")
    card.locator("button.approve").click()
    card.locator(".outcome").filter(has_text="executed").wait_for(timeout=10_000)
    page.evaluate("location.hash = '#/audit'")  # type: ignore[attr-defined]
    _wait_loaded(page, "#/audit")
    audit = page.inner_text("#main")  # type: ignore[attr-defined]
    assert "planner-ann" in audit and "approved" in audit and "executed" in audit
    page.evaluate("location.hash = '#/asset/acme/PRS-03'")  # type: ignore[attr-defined]
    _wait_loaded(page, "#/asset/acme/PRS-03")
    assert "MO-TEST-1" in page.inner_text("#main")  # type: ignore[attr-defined]
    page.evaluate("location.hash = '#/plan'")  # type: ignore[attr-defined]
    _wait_loaded(page, "#/plan")
    plan = page.inner_text("#main")  # type: ignore[attr-defined]
    assert "Planned maintenance" in plan and "MO-TEST-1" in plan
    assert page.locator("#main svg.gantt rect.bar.maintenance").count() >= 1  # type: ignore[attr-defined]
    assert problems == []


def test_the_inventory_page_shows_reorder_levels_and_what_to_reorder(
    server: tuple, browser: object
) -> None:
    url, token, _ = server
    page, problems = _page(browser, url, token)
    page.evaluate("location.hash = '#/inventory'")  # type: ignore[attr-defined]
    _wait_loaded(page, "#/inventory")
    text = page.inner_text("#main")  # type: ignore[attr-defined]
    assert "Order now" in text and "reorder point" in text
    rows = page.locator("#main table").first.locator("tbody tr")  # type: ignore[attr-defined]
    to_order = [rows.nth(i).inner_text() for i in range(rows.count())]
    # the short casting (at or below its reorder point) is to be ordered now, and says why;
    # nothing above its reorder point is in that list
    assert any(CASTING in row and "≤ reorder point" in row for row in to_order), to_order
    assert all("≤ reorder point" in row for row in to_order), to_order
    assert problems == []


def test_every_page_fits_a_phone_without_sideways_scrolling(server: tuple, browser: object) -> None:
    url, token, _ = server
    page, problems = _page(browser, url, token, PHONE)
    for route in [*PAGES, "#/field", "#/process", "#/asset/acme/PRS-03?range=all"]:
        page.evaluate(f"location.hash = {route!r}")  # type: ignore[attr-defined]
        _wait_loaded(page, route)
        width = page.evaluate("document.documentElement.scrollWidth")  # type: ignore[attr-defined]
        assert width <= 390, f"{route} is {width} px wide on a 390 px screen"
    assert problems == []


def test_on_a_phone_the_menu_folds_and_the_ask_box_can_be_tapped(
    server: tuple, browser: object
) -> None:
    url, token, _ = server
    page, problems = _page(browser, url, token, PHONE)
    nav = page.locator("nav a[data-nav='plan']")  # type: ignore[attr-defined]
    assert not nav.is_visible()
    page.locator("#menu-button").tap()  # type: ignore[attr-defined]
    assert nav.is_visible()
    nav.tap()
    _wait_loaded(page, "#/plan")
    assert not nav.is_visible()  # choosing a page folds the menu again
    button = page.locator("#ask-form button").bounding_box()  # type: ignore[attr-defined]
    assert button["x"] >= 0 and button["x"] + button["width"] <= 390
    assert button["height"] >= 40  # a finger's width
    assert problems == []


def test_the_machine_page_redraws_its_charts_for_another_time_range(
    server: tuple, browser: object
) -> None:
    url, token, _ = server
    page, problems = _page(browser, url, token)
    page.evaluate("location.hash = '#/asset/acme/PRS-03?range=24h'")  # type: ignore[attr-defined]
    _wait_loaded(page, "#/asset/acme/PRS-03?range=24h")
    day = page.locator("#main .chart.sensor").first.get_attribute("data-points")  # type: ignore[attr-defined]
    page.locator("#main .range a", has_text="all").click()  # type: ignore[attr-defined]
    _wait_loaded(page, "#/asset/acme/PRS-03?range=all")
    assert page.locator("#main .range a.chosen").inner_text() == "all"  # type: ignore[attr-defined]
    everything = page.locator("#main .chart.sensor").first.get_attribute("data-points")  # type: ignore[attr-defined]
    # the whole history in 6-hour buckets is another set of points than one day in 2-minute ones
    assert int(day or 0) > 0 and int(everything or 0) > 0 and day != everything
    # the value under the pointer is read out in the chart's title
    chart = page.locator("#main .chart.sensor").first  # type: ignore[attr-defined]
    chart.locator(".u-over").hover()
    assert "UTC:" in chart.locator(".readout").inner_text()
    assert problems == []


def test_a_page_the_server_cannot_answer_now_is_asked_for_again(
    server: tuple, browser: object
) -> None:
    # A database restarting (or a server at its in-flight limit) answers 503 with Retry-After;
    # the page says so and asks again after that many seconds, without a reload.
    url, token, _ = server
    page, problems = _page(browser, url, token)
    refused: list[str] = []

    def once_unavailable(route: object) -> None:
        if not refused:
            refused.append(route.request.url)  # type: ignore[attr-defined]
            route.fulfill(  # type: ignore[attr-defined]
                status=503,
                headers={"Retry-After": "1", "Content-Type": "application/problem+json"},
                body='{"detail": "the database stopped answering", "status": 503}',
            )
        else:
            route.continue_()  # type: ignore[attr-defined]

    page.route("**/api/v1/audit*", once_unavailable)  # type: ignore[attr-defined]
    page.evaluate("location.hash = '#/audit'")  # type: ignore[attr-defined]
    _wait_loaded(page, "#/audit")
    text = page.inner_text("#main")  # type: ignore[attr-defined]
    assert "Not available right now: the database stopped answering" in text
    assert "Trying again in 1 s" in text
    page.wait_for_selector("#main table", timeout=10_000)  # type: ignore[attr-defined]
    assert "Not available" not in page.inner_text("#main")  # type: ignore[attr-defined]
    assert len(refused) == 1
    # the one refused answer is the only problem the page met
    assert [p for p in problems if "503" not in p and "Service Unavailable" not in p] == []
