"""The API docs pages (Swagger UI, ReDoc) work offline: everything they load comes from the server.

The pages refer only to same-origin URLs, each of them is served with the right content type, the
vendored files are the ones ``VENDORED.md`` lists (with their licences beside them), and the
pages' Content-Security-Policy allows their one inline script by its hash, nothing from another
origin.
"""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from factorybrain.api._docs import STATIC, docs_policy

#: Content type expected of what a page refers to, by the file's extension.
CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


class _References(HTMLParser):
    """The URLs a page loads (``src``, ``href``, ReDoc's ``spec-url``) and its inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.urls += [found[name] or "" for name in ("src", "href", "spec-url") if name in found]
        self._in_script = tag == "script" and "src" not in found

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.inline.append(data)

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False


def _references(html: str) -> _References:
    parser = _References()
    parser.feed(html)
    return parser


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_a_docs_page_loads_only_what_the_server_serves(api, page: str) -> None:
    client, _, _ = api
    response = client.get(page)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    found = _references(response.text)
    assert found.urls, response.text
    for url in found.urls:
        assert url.startswith("/") and not url.startswith("//"), url  # same origin, no CDN
        served = client.get(url)
        assert served.status_code == 200, url
        expected = CONTENT_TYPES.get(Path(url).suffix, "application/json")
        assert served.headers["content-type"].startswith(expected), url
    assert "/openapi.json" in found.urls or "url: '/openapi.json'" in response.text
    assert "cdn." not in response.text and "fonts.googleapis" not in response.text


def test_the_swagger_ui_script_is_allowed_by_its_hash_and_nothing_else_inline(api) -> None:
    client, _, _ = api
    response = client.get("/docs")
    policy = response.headers["content-security-policy"]
    (script,) = _references(response.text).inline
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    scripts = re.search(r"script-src ([^;]*);", policy)
    assert scripts is not None
    assert scripts.group(1).split() == ["'self'", f"'sha256-{digest}'"]
    assert "'validatorUrl': null" in script.replace('"', "'")  # no call to validator.swagger.io
    assert "https:" not in policy and "http:" not in policy
    assert docs_policy(response.text) == policy


def test_the_pages_follow_the_root_path_of_a_server_behind_a_proxy(api) -> None:
    client, _, _ = api
    behind = TestClient(client.app, root_path="/factorybrain")
    urls = _references(behind.get("/docs").text).urls + _references(behind.get("/redoc").text).urls
    assert urls and all(url.startswith("/factorybrain/") for url in urls), urls


def test_the_vendored_files_are_those_vendored_md_lists_with_their_licences() -> None:
    listed = dict(
        reversed(line.split()) for line in re.findall(r"^[0-9a-f]{64}  \S+$", _vendored(), re.M)
    )
    present = {path.name for path in STATIC.iterdir() if path.name != "VENDORED.md"}
    assert set(listed) == present
    for name, digest in listed.items():
        assert hashlib.sha256((STATIC / name).read_bytes()).hexdigest() == digest, name
    assert {"swagger-ui-dist.LICENSE", "swagger-ui-dist.NOTICE", "redoc.LICENSE"} <= present
    assert "Apache License" in (STATIC / "swagger-ui-dist.LICENSE").read_text()
    assert "MIT License" in (STATIC / "redoc.LICENSE").read_text()


def _vendored() -> str:
    return (STATIC / "VENDORED.md").read_text(encoding="utf-8")
