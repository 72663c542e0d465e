from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from factorybrain.store import DuckDBStore, open_store

DATA = Path(__file__).parent / "data"


@pytest.fixture
def store() -> Iterator[DuckDBStore]:
    with open_store(":memory:", migrate=True) as opened:
        yield opened


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    """Write a file into the test's folder: text, or bytes when given bytes."""

    def _write(name: str, content: str | bytes, encoding: str = "utf-8") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding=encoding)
        return path

    return _write
