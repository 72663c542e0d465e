"""The dashboard's vendored charting library: the files VENDORED.md lists, byte for byte, served.

The dashboard must work offline and under a policy that allows only its own origin, so the charting
library ships inside the package, with its licence, and index.html loads it from there.
"""

from __future__ import annotations

import hashlib
import re

from factorybrain.web import STATIC

VENDOR = STATIC / "vendor"


def test_the_vendored_files_are_those_listed_with_their_hashes_and_licence() -> None:
    listing = (VENDOR / "VENDORED.md").read_text(encoding="utf-8")
    listed = dict(
        reversed(line.split()) for line in re.findall(r"^[0-9a-f]{64}  \S+$", listing, re.M)
    )
    present = {path.name for path in VENDOR.iterdir() if path.name != "VENDORED.md"}
    assert set(listed) == present
    for name, digest in listed.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
    assert "MIT License" in (VENDOR / "uPlot.LICENSE").read_text(encoding="utf-8")


def test_the_dashboard_loads_the_charting_library_from_its_own_origin() -> None:
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert "static/vendor/uPlot.iife.min.js" in sources
    assert "static/vendor/uPlot.min.css" in sources
    assert not [s for s in sources if s.startswith(("http:", "https:", "//"))]
    # the library is loaded before the pages that draw with it
    assert page.index("vendor/uPlot.iife.min.js") < page.index("static/app.js")
