"""The Field and Process pages in a real browser, on a plant the service and design agents read."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from factorybrain.api import TokenStore, create_app
from factorybrain.store import open_store
from factorybrain.web import mount_dashboard
from tests._serving import serving
from tests.agents.test_service import BAD_LOT
from tests.api.test_api_field_process import build_plant
from tests.web.test_dashboard import _page, _wait_loaded
from tests.web.test_dashboard import browser as browser  # noqa: F401  (the fixture)


def _serve(store, who: str) -> Iterator[tuple[str, str]]:
    """The dashboard over ``store`` with a viewer's token for ``who``: ``(url, token)``."""
    tokens = TokenStore(store)
    token = tokens.create(who, "viewer")
    app = mount_dashboard(create_app(store, tokens=tokens))
    with serving(app) as url:
        yield f"{url}/", token
    store.close()


def _open(
    browser: object, url: str, token: str, route: str, timeout: float = 30_000
) -> tuple[object, list[str], str]:
    """A signed-in tab on ``route``, once rendered: the page, its problems and its text."""
    page, problems = _page(browser, url, token)
    page.evaluate(f"location.hash = {route!r}")  # type: ignore[attr-defined]
    _wait_loaded(page, route, timeout=timeout)
    return page, problems, page.inner_text("#main")  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    store = open_store(tmp_path_factory.mktemp("web-field") / "plant.duckdb", migrate=True)
    build_plant(store)
    yield from _serve(store, "plant-manager")


def test_the_field_page_shows_cohorts_a_weibull_plot_and_the_recall_scope(
    server: tuple, browser: object
) -> None:
    url, token = server
    page, problems, text = _open(browser, url, token, "#/field")
    assert "Claims per cohort" in text and BAD_LOT in text and "×" in text
    assert "B10 life" in text and "Recall scope: component lot" in text
    # why the cohort is named: the service agent's sentence, under the recall scope's heading
    why = page.inner_text("#main p.why")  # type: ignore[attr-defined]
    assert BAD_LOT in why and "times as often as the rest" in why
    # one dot per failure on the Weibull plot, and the fitted line
    assert page.locator("#main svg.weibull circle.failure").count() >= 5  # type: ignore[attr-defined]
    assert page.locator("#main svg.weibull polyline.fit").count() == 1  # type: ignore[attr-defined]
    page.locator("a", has_text="next →").click()  # type: ignore[attr-defined]
    page.wait_for_function(  # type: ignore[attr-defined]
        "() => location.hash.includes('offset=25')"
        " && document.body.dataset.loaded === location.hash"
    )
    assert "serials 26–50" in page.inner_text("#main")  # type: ignore[attr-defined]
    assert problems == []


def test_the_process_page_shows_setpoints_and_the_gain_interval(
    server: tuple, browser: object
) -> None:
    url, token = server
    page, problems, text = _open(browser, url, token, "#/process", timeout=10_000)
    assert "QX-9" in text and "hydraulic efficiency" in text and "interval of the gain" in text
    assert "coil_pull_N" in text and "waiting for approval" in text
    assert page.locator("#main svg.gainbar circle.gain").count() == 1  # type: ignore[attr-defined]
    page.locator(".tabs a", has_text="Line 2").click()  # type: ignore[attr-defined]
    _wait_loaded(page, "#/process?line=L2")
    assert "L2 makes QX-9" in page.inner_text("#main")  # type: ignore[attr-defined]
    assert problems == []


@pytest.fixture(scope="module")
def pressed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A plant whose claims come from units pressed below their product's force."""
    import warnings

    from factorybrain.agents import installed_orchestrator
    from factorybrain.agents.service import ServiceAgent, ServiceDataWarning
    from tests.agents.test_service_parameters import populate

    store = open_store(tmp_path_factory.mktemp("web-pressed") / "plant.duckdb", migrate=True)
    populate(store)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ServiceDataWarning)
        review = ServiceAgent().review(store)
    orchestrator = installed_orchestrator(store, with_agents=False, clock=lambda: review.as_of)
    orchestrator.submit(review.items(), agent="service", at=review.as_of)
    yield from _serve(store, "quality-engineer")


def test_a_parameters_recall_scope_lists_the_units_furthest_out_first(
    pressed: tuple, browser: object
) -> None:
    url, token = pressed
    route = "#/field?cluster=process_parameter%3Apress_force_kN%3Alow"
    page, problems, text = _open(browser, url, token, route)
    assert "Recall scope: process parameter" in text and "Listed furthest out" in text
    cells = page.locator("#scope ~ div.split > div:nth-child(2) td:nth-child(2)").all_inner_texts()  # type: ignore[attr-defined]
    deviations = [float(cell.removesuffix(" SD").replace("−", "-")) for cell in cells if cell]
    assert len(deviations) >= 10 and all(d < -1.9 for d in deviations)
    assert deviations == sorted(deviations)  # the most negative, furthest below, first
    # the customers beside it fit their pane: no column hidden off its edge
    fits = page.evaluate(  # type: ignore[attr-defined]
        "(() => { const pane = document.querySelector('#scope ~ div.split > div');"
        " return pane.querySelector('table').offsetWidth <= pane.clientWidth; })()"
    )
    assert fits
    assert problems == []
