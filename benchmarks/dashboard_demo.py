"""The web dashboard on the demo factory in a real browser: page times, console errors, approval.

Protocol: the situation of `playbook_demo.py` (the demo plant simulated and loaded, wound back to
`--lead-hours` before a planted failure), its identities linked across silos as `factorybrain demo`
links them (so the historian's tags are on their machines), with the planning agent's plan
stored; then the new
sensor window is ingested and the agents run, so the flagship playbook's action (maintenance
window, re-plan, spare part) waits in the inbox. The API and the dashboard are then served from
this process (uvicorn on a free loopback port, a planner's token; once its health says it is ready,
i.e. it has prepared the demand plan, `server_ready_seconds`) and Debian's Chromium, driven by
Playwright, opens every dashboard page in a fresh tab: a page's time runs from navigation to the
moment its data are on screen (HTML, scripts, the OpenAPI document and every API call included).
Then, in the browser, the planner approves the playbook's action in the inbox with a comment and
the benchmark checks that the plan page changed (the maintenance window appears in it, and any
order the re-plan moved shows its new times), that the machine's page lists the new maintenance
order, and that the audit page shows the approval and
the execution.

Every page is also loaded once more in a tab where the dashboard is already open (the hash changes,
as when a person clicks through the navigation): the seconds until its data are on screen are its
load time. Every machine's page is visited and must draw a sensor chart (a uPlot canvas with
points). Then every page is opened at a phone's size (390 x 844) and the document must not be
wider than the screen.

Prints one JSON object on its last line: `pages` (seconds per page in a fresh tab),
`max_page_seconds`, `load_seconds` (seconds per page to load its data in an open dashboard),
`max_load_seconds`, `console_errors` (console errors, page errors and HTTP answers >= 400 over the
whole run, with samples in `problems`), `phone_overflow_px` (the most any page's document is wider
than a 390 px screen; 0 is none), `sensor_charts` (machine pages visited and those that drew a
sensor chart), `approved`, `executed`, `plan_changed`, `maintenance_shown`, `audited`,
`approve_seconds` (absent, with `action` null, when the playbook proposed no action).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from api_load import free_port  # noqa: E402 (this folder)
from factorybrain.api import TokenStore, create_app
from factorybrain.connectors import ingest, load_mapping
from factorybrain.context._demo import contextualize_stage
from factorybrain.web import mount_dashboard
from playbook_demo import (  # noqa: E402 (this folder)
    HISTORIAN,
    Situation,
    action_for,
    add_plant_options,
    names_of,
)

CHROMIUM = Path("/usr/bin/chromium")
#: Longest wait for one page or one approval before it counts as failed.
TIMEOUT_MS = 30_000
#: A phone held upright (CSS pixels), as the phone checks use.
PHONE = {"width": 390, "height": 844}


class Server:
    """The API and the dashboard over the benchmark's store, in a thread of this process."""

    def __init__(self, case: Situation, token_store: TokenStore) -> None:
        import uvicorn

        app = mount_dashboard(
            create_app(case.store, tokens=token_store, orchestrator=case.orchestrator, prepare=True)
        )
        self.port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        """Start it and wait until it is ready (its health says so); the base URL."""
        started = time.perf_counter()
        self.thread.start()
        url = f"http://127.0.0.1:{self.port}/"
        deadline = time.monotonic() + 120
        while not (self.server.started and self._ready(url)):
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise SystemExit("the dashboard server was not ready within 120 s")
            time.sleep(0.1)
        self.ready_seconds = time.perf_counter() - started
        return url

    @staticmethod
    def _ready(url: str) -> bool:
        with urllib.request.urlopen(f"{url}api/v1/health", timeout=5) as answer:
            return bool(json.load(answer).get("ready"))

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


class Browser:
    """Chromium tabs that record every console error, page error and failed answer."""

    def __init__(self, context: Any, url: str) -> None:
        self.context, self.url = context, url
        self.problems: list[str] = []

    def open(self, route: str, query: str = "") -> tuple[Any, float]:
        """A new tab on ``route``; the seconds until its data are on screen."""
        tab = self.context.new_page()
        self.watch(tab)
        started = time.perf_counter()
        tab.goto(f"{self.url}{query}{route}")
        # A function, not a string: a string is polled through eval, which the CSP forbids.
        tab.wait_for_function(
            "(route) => document.body.dataset.loaded === route", arg=route, timeout=TIMEOUT_MS
        )
        seconds = time.perf_counter() - started
        shown_error = tab.locator("#main .error").count()
        if shown_error:
            self.problems.append(f"{route}: {tab.inner_text('#main .error')}")
        return tab, seconds

    def load(self, tab: Any, route: str) -> float:
        """Go to ``route`` in an open dashboard tab; the seconds until its data are on screen."""
        started = time.perf_counter()
        # the same route again re-renders it, as a click on the page's own link would not
        tab.evaluate(
            "(route) => { delete document.body.dataset.loaded; if (location.hash === route) "
            "dispatchEvent(new HashChangeEvent('hashchange')); else location.hash = route; }",
            route,
        )
        tab.wait_for_function(
            "(route) => document.body.dataset.loaded === route", arg=route, timeout=TIMEOUT_MS
        )
        seconds = time.perf_counter() - started
        if tab.locator("#main .error").count():
            self.problems.append(f"{route}: {tab.inner_text('#main .error')}")
        return seconds

    def watch(self, tab: Any) -> None:
        """Record ``tab``'s console errors, page errors and failed answers too."""
        tab.on("console", lambda m: self.problems.append(m.text) if m.type == "error" else None)
        tab.on("pageerror", lambda e: self.problems.append(str(e)))
        tab.on(
            "response",
            lambda r: self.problems.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None,
        )

    def text(self, route: str) -> str:
        tab, _ = self.open(route)
        text = tab.inner_text("#main")
        tab.close()
        return text


def pages_of(case: Situation, machine: tuple[str, str]) -> dict[str, str]:
    """Every dashboard page, with a real machine and a real serial: name -> route."""
    claim = case.store.query("SELECT external_id FROM warranty_claim LIMIT 1")["external_id"]
    space, asset = machine
    return {
        "overview": "#/",
        "asset": f"#/asset/{space}/{asset}",
        "inbox": "#/inbox",
        "plan": "#/plan",
        "inventory": "#/inventory",
        "trace": f"#/trace?claim={claim.iloc[0]}" if len(claim) else "#/trace",
        "audit": "#/audit",
        "field": "#/field",
        "process": "#/process",
        "quality": "#/quality",
    }


def machine_routes(case: Situation, space: str) -> list[str]:
    """The page of every machine of the machines' space (the MES's equipment)."""
    machines = case.store.query_rows(
        "SELECT external_id FROM asset WHERE space = ? AND level = 'equipment' "
        "ORDER BY external_id",
        [space],
    )
    return [f"#/asset/{space}/{row['external_id']}" for row in machines]


def draws_sensor_chart(tab: Any) -> bool:
    """Whether the machine page in ``tab`` drew at least one sensor chart with points."""
    counts = tab.eval_on_selector_all(
        "#main .chart.sensor",
        "(charts) => charts.map((c) => (c.querySelector('canvas') ? Number(c.dataset.points) : 0))",
    )
    return any(n > 0 for n in counts)


def phone_overflow(browser: Browser, launched: Any, routes: list[str], query: str) -> int:
    """The most pixels any page's document is wider than a 390 px screen (0: none is)."""
    context = launched.new_context(viewport=PHONE, has_touch=True)
    tab = context.new_page()
    browser.watch(tab)
    tab.goto(f"{browser.url}{query}#/")
    tab.wait_for_function(
        "(route) => document.body.dataset.loaded === route", arg="#/", timeout=TIMEOUT_MS
    )
    worst = 0
    for route in routes:
        browser.load(tab, route)
        width = int(tab.evaluate("document.documentElement.scrollWidth"))
        worst = max(worst, width - PHONE["width"])
    context.close()
    return worst


def approve_in_inbox(browser: Browser, action_id: str, comment: str) -> tuple[str, float]:
    """Approve ``action_id`` on the inbox page as a person would; its new state and seconds."""
    tab, _ = browser.open("#/inbox")
    card = tab.locator(f'.action[data-action="{action_id}"]')
    card.locator("textarea").fill(comment)
    started = time.perf_counter()
    card.locator("button.approve").click()
    outcome = card.locator(".outcome")
    tab.wait_for_function(
        "(el) => el.textContent.trim() !== ''", arg=outcome.element_handle(), timeout=TIMEOUT_MS
    )
    seconds = time.perf_counter() - started
    # the card says the action's state in words, and names it in data-state
    state = outcome.get_attribute("data-state") or outcome.inner_text().strip()
    tab.close()
    return state, seconds


def approval(
    browser: Browser, case: Situation, action_id: str, machine_route: str
) -> dict[str, Any]:
    """Approve the playbook's action in the inbox; what the plan, machine and audit pages show."""
    plan_before = browser.text("#/plan")
    state, approve_seconds = approve_in_inbox(
        browser, action_id, "Window agreed with the shift lead"
    )
    plan_after = browser.text("#/plan")
    machine_page = browser.text(machine_route)
    audit = browser.text("#/audit")
    record = case.orchestrator.records.action(action_id)
    steps = case.orchestrator.records.recommendation(record.recommendation_id).steps
    orders = [
        s.parameters.get("external_id")
        for s in steps
        if s.action_type == "maintenance_order.create"
    ]
    return {
        "approved": state in ("approved", "executed"),
        "executed": state == "executed" and record.state == "executed",
        "approve_seconds": round(approve_seconds, 3),
        "plan_changed": plan_after != plan_before,
        "maintenance_shown": bool(orders) and all(o in machine_page for o in orders),
        "audited": action_id in audit
        and "dashboard-planner" in audit
        and "approved" in audit
        and "executed" in audit,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_plant_options(parser)
    parser.add_argument("--chromium", type=Path, default=CHROMIUM, help="The browser to drive.")
    args = parser.parse_args()
    if not args.chromium.exists() and not shutil.which(str(args.chromium)):
        raise SystemExit(f"no browser at {args.chromium}: install Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        case = Situation.build(Path(tmp), args)
        # identities linked as `factorybrain demo` links them: the historian's tags on their
        # machines (time_series.asset), the ERP's machines and orders on the MES's
        started = time.perf_counter()
        contextualize_stage(case.store, case.truth)
        print(f"linked identities in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        case.orchestrator.run(["planning"], at=case.now)  # the plan in force before the news
        ingest(case.store, case.new_data, load_mapping(HISTORIAN))
        run = case.orchestrator.run_on_new_data({"datapoint"}, at=case.now)
        proposed = [case.orchestrator.records.action(a) for a in run.actions]
        machine_names = names_of(case.truth, case.failure["machine"])
        action = action_for(case.orchestrator, proposed, machine_names)
        if action is None:  # the pages are still measured; the approval cannot be
            print("the playbook proposed no action for the failing machine", file=sys.stderr)
        found = case.store.query_rows(
            "SELECT space, external_id FROM asset WHERE external_id IN "
            f"({', '.join('?' * len(machine_names))}) ORDER BY space = 'mes' DESC, space",
            sorted(machine_names),
        )
        machine = (found[0]["space"], found[0]["external_id"])
        routes = pages_of(case, machine)
        token_store = TokenStore(case.store)
        token = token_store.create("dashboard-planner", "planner")

        result: dict[str, Any] = {
            "machine": case.failure["machine"],
            "action": None if action is None else action.id,
        }
        server = Server(case, token_store)
        with server as url, sync_playwright() as playwright:
            launched = playwright.chromium.launch(
                executable_path=str(args.chromium),
                headless=True,
                args=["--no-sandbox", "--disable-gpu", "--no-first-run"],
            )
            context = launched.new_context()
            browser = Browser(context, url)
            first, _ = browser.open("#/", query=f"?token={token}")  # signs in: the token is kept
            first.close()
            browser.open("#/")[0].close()  # the browser's caches warm, as for a returning user
            seconds = {}
            for name, route in routes.items():
                tab, seconds[name] = browser.open(route)
                tab.close()
            # the same pages again, clicked through in one open dashboard
            tab, _ = browser.open("#/")
            load = {name: browser.load(tab, route) for name, route in routes.items()}
            machine_pages = machine_routes(case, machine[0])
            drawn = 0
            for route in machine_pages:
                # "asset" is the slowest machine's page
                load["asset"] = max(load["asset"], browser.load(tab, route))
                drawn += draws_sensor_chart(tab)
            tab.close()
            overflow = phone_overflow(
                browser, launched, [*routes.values(), *machine_pages[:3]], f"?token={token}"
            )
            if action is not None:
                result.update(approval(browser, case, action.id, routes["asset"]))
            launched.close()

        result.update(
            {
                "pages": {name: round(value, 3) for name, value in seconds.items()},
                "max_page_seconds": round(max(seconds.values()), 3),
                "load_seconds": {name: round(value, 3) for name, value in load.items()},
                "max_load_seconds": round(max(load.values()), 3),
                "phone_overflow_px": overflow,
                "sensor_charts": {"machine_pages": len(machine_pages), "with_chart": drawn},
                "server_ready_seconds": round(server.ready_seconds, 2),
                "console_errors": len(browser.problems),
                "problems": browser.problems[:5],
            }
        )
        case.store.close()
    print(json.dumps(result))


if __name__ == "__main__":
    sys.exit(main())
