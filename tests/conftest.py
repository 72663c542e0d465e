from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from factorybrain.store import DuckDBStore, PostgresStore, Store, open_store

#: The PostgreSQL server the server-store tests create their databases on (CI runs one there).
POSTGRES_URL_VARIABLE = "FACTORYBRAIN_TEST_POSTGRES_URL"
POSTGRES_URL_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"

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


def _postgres_reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), 1):
            return True
    except OSError:
        return False


@pytest.fixture
def postgres_databases() -> Iterator[Callable[[], str]]:
    """Makes new, empty PostgreSQL databases (their URLs), all dropped after the test.

    Skipped, saying why, where no server answers at ``$FACTORYBRAIN_TEST_POSTGRES_URL`` (by
    default the local server CI runs) or the ``sql`` extra is not installed.
    """
    psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed (the 'sql' extra)")
    server = os.environ.get(POSTGRES_URL_VARIABLE, POSTGRES_URL_DEFAULT)
    if not _postgres_reachable(server):
        pytest.skip(f"no PostgreSQL server at {server} (set {POSTGRES_URL_VARIABLE} to use one)")
    parts = urlsplit(server)
    made: list[str] = []

    def new() -> str:
        name = f"fb_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        made.append(name)
        return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))

    try:
        yield new
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            for name in made:
                admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def postgres_url(postgres_databases: Callable[[], str]) -> str:
    """The URL of a new, empty PostgreSQL database, dropped after the test."""
    return postgres_databases()


@pytest.fixture
def postgres_store(postgres_url: str) -> Iterator[PostgresStore]:
    """A migrated PostgreSQL store in a database of its own."""
    with PostgresStore(postgres_url) as opened:
        opened.migrate()
        yield opened


@pytest.fixture(params=["duckdb", "postgresql"])
def either_store(request: pytest.FixtureRequest) -> Store:
    """Each store in turn, for behaviour both must have: DuckDB in memory, then PostgreSQL."""
    name = "memory_store" if request.param == "duckdb" else "postgres_store"
    opened: Store = request.getfixturevalue(name)
    return opened


@pytest.fixture
def memory_store() -> Iterator[DuckDBStore]:
    """A migrated DuckDB store in memory (what ``store`` is, under a name no module overrides)."""
    with open_store(":memory:", migrate=True) as opened:
        yield opened


@pytest.fixture(scope="session")
def ray_address() -> Iterator[str]:
    """The address of a two-CPU Ray cluster on this machine, started for the tests and stopped.

    Skipped, saying why, where Ray (the 'cluster' extra) is not installed.
    """
    pytest.importorskip("ray", reason="Ray is not installed (the 'cluster' extra)")
    from factorybrain import compute

    with compute.local_cluster(2) as address:
        yield address


@pytest.fixture
def ray_pool(ray_address: str) -> Iterator[object]:
    """The tests' Ray cluster as the compute pool, for the length of one test."""
    from factorybrain import compute

    with compute.using(ray_address) as pool:
        yield pool
