"""The API docs pages in a real browser with no way out: Swagger UI and ReDoc render offline."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from factorybrain.api import create_app
from factorybrain.store import open_store
from tests._serving import serving
from tests.web.test_dashboard import browser as browser  # noqa: F401  (the fixture)

#: What ReDoc 2 shows under its menu, from its CDN: refused by the policy, and hidden by ReDoc.
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    store = open_store(":memory:", migrate=True)
    with serving(create_app(store)) as url:
        yield url
    store.close()


@pytest.mark.parametrize(
    ("path", "rendered"),
    [("/docs", ".swagger-ui .opblock"), ("/redoc", "[role=menuitem]")],
)
def test_the_docs_page_renders_with_nothing_from_another_origin(
    server: str, browser: object, path: str, rendered: str
) -> None:
    context = browser.new_context()  # type: ignore[attr-defined]
    page = context.new_page()
    problems: list[str] = []
    elsewhere: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    def offline(route: object) -> None:
        url = route.request.url  # type: ignore[attr-defined]
        if url.startswith((server, "data:", "blob:")):
            route.continue_()  # type: ignore[attr-defined]
        else:
            elsewhere.append(url)
            route.abort()  # type: ignore[attr-defined]

    page.route("**/*", offline)
    page.goto(server + path)
    page.wait_for_selector(rendered, timeout=30_000)
    assert page.locator(rendered).count() > 5  # an entry per operation (or tag)
    assert "factorybrain" in page.title()
    context.close()
    assert elsewhere == []
    assert [p for p in problems if REDOC_LOGO not in p] == [], problems
