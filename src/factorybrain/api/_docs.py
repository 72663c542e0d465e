"""The API's documentation pages, Swagger UI (``/docs``) and ReDoc (``/redoc``), served offline.

Both are FastAPI's own pages over files vendored into the package (``api/static``, listed with
their versions, licences and sources in its ``VENDORED.md``) and served under
:data:`ASSETS_PATH`: nothing is loaded from another origin, so the docs work on a server without
internet, and their Content-Security-Policy (:func:`docs_policy`) allows scripts from this
origin only, besides the one inline script that starts Swagger UI, allowed by its hash as
served.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

#: The vendored files of Swagger UI and ReDoc.
STATIC = Path(__file__).parent / "static"
#: Where the vendored files are served.
ASSETS_PATH = "/docs/assets"
#: The pages.
SWAGGER_UI_PATH = "/docs"
REDOC_PATH = "/redoc"
#: The favicon of both pages (Swagger UI's).
_FAVICON = "swagger-ui-favicon-32x32.png"
#: An inline script of a page (one without ``src``).
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def docs_policy(page: str) -> str:
    """The Content-Security-Policy of a docs page: this origin only, its inline scripts by hash.

    Swagger UI and ReDoc set styles inline and ReDoc injects style elements, so styles may be
    inline; ReDoc runs its search in a worker made from a blob. Images are this origin's or
    ``data:`` URLs (ReDoc's "API docs by Redocly" logo, on its CDN, is not shown).

    Args:
        page: The HTML of the page.

    Returns:
        The policy.
    """
    hashes = "".join(
        f" 'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"
        for script in _INLINE_SCRIPT.findall(page)
    )
    return (
        f"default-src 'self'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; "
        "connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'self'"
    )


def add_docs(app: FastAPI) -> None:
    """Serve the docs pages and their vendored files on ``app`` (built with ``docs_url=None``).

    Args:
        app: The API; its OpenAPI document is what the pages show.
    """
    if app.openapi_url is None:
        raise ValueError("the API docs need the OpenAPI document (openapi_url)")
    openapi_url = app.openapi_url
    app.mount(ASSETS_PATH, StaticFiles(directory=STATIC), name="docs-assets")

    @app.get(SWAGGER_UI_PATH, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_PATH}/{_FAVICON}",
            oauth2_redirect_url=None,  # bearer tokens only: no OAuth2 flow to come back from
            # Swagger UI would send the document to validator.swagger.io for a badge.
            swagger_ui_parameters={"validatorUrl": None},
        )
        return _with_policy(page)

    @app.get(REDOC_PATH, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_redoc_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_PATH}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_PATH}/{_FAVICON}",
            with_google_fonts=False,
        )
        return _with_policy(page)


def _with_policy(page: HTMLResponse) -> HTMLResponse:
    """``page`` with its own Content-Security-Policy (the security headers keep it)."""
    page.headers["Content-Security-Policy"] = docs_policy(bytes(page.body).decode())
    return page
