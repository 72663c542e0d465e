"""Database sources: a table or query of PostgreSQL or MariaDB loads like a file.

These run against the servers on 127.0.0.1 (CI has PostgreSQL and MariaDB there), or those named
by ``$FACTORYBRAIN_TEST_POSTGRES_URL`` / ``$FACTORYBRAIN_TEST_MYSQL_URL``; without a server they
are skipped, saying so.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from factorybrain.connectors import ingest, load_plant
from factorybrain.connectors._databases import is_database_url, redact
from factorybrain.exceptions import IngestError, MappingError
from factorybrain.store import DuckDBStore

SERVERS = {
    "postgres": ("FACTORYBRAIN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    "mysql": ("FACTORYBRAIN_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test"),
}

MACHINES = """\
entity: asset
space: mes
fields:
  external_id: code
  name: name
  level: {value: equipment}
  ideal_cycle_seconds: {column: cycle_min, unit: min}
  installed_at: installed
source: {table: TABLE}
"""


def _reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=0.5):
            return True
    except OSError:
        return False


class Database:
    """A test database: run SQL on it, with tables dropped afterwards."""

    def __init__(self, kind: str, url: str) -> None:
        self.kind, self.url = kind, url
        self.tables: list[str] = []
        if kind == "postgres":
            import psycopg

            self.connection = psycopg.connect(url, autocommit=True)
        else:
            import pymysql

            parts = urlsplit(url)
            self.connection = pymysql.connect(
                host=parts.hostname,
                port=parts.port,
                user=parts.username or "root",
                password=parts.password or "",
                database=parts.path.lstrip("/"),
                autocommit=True,
            )

    def table(self, columns: str, rows: list[tuple]) -> str:
        name = f"fb_{uuid.uuid4().hex[:10]}"
        self.tables.append(name)
        cursor = self.connection.cursor()
        cursor.execute(f"CREATE TABLE {name} ({columns})")
        marks = ", ".join(["%s"] * len(rows[0]))
        for row in rows:
            cursor.execute(f"INSERT INTO {name} VALUES ({marks})", row)
        return name

    def execute(self, sql: str, parameters: tuple = ()) -> None:
        self.connection.cursor().execute(sql, parameters)

    def close(self) -> None:
        for name in self.tables:
            self.connection.cursor().execute(f"DROP TABLE IF EXISTS {name}")
        self.connection.close()


@pytest.fixture(params=sorted(SERVERS))
def database(request: pytest.FixtureRequest) -> Iterator[Database]:
    kind = request.param
    variable, default = SERVERS[kind]
    url = os.environ.get(variable, default)
    driver = "psycopg" if kind == "postgres" else "pymysql"
    pytest.importorskip(driver, reason=f"{driver} is not installed (the 'sql' extra)")
    if not _reachable(url):
        pytest.skip(f"no {kind} server at {redact(url)} (set {variable} to use another)")
    db = Database(kind, url)
    yield db
    db.close()


def _mapping(tmp_path: Path, text: str) -> Path:
    path = tmp_path / f"m{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(text)
    return path


ROWS = [
    ("007", "Lathe 1", "1.5", "2021-03-04 05:06:07"),
    ("008", "Press 2", None, "2022-01-02 00:00:00"),
    ("009", "Mill 3", "ten", "2020-06-01 12:00:00"),  # not a number: quarantined
]
COLUMNS = "code VARCHAR(10), name VARCHAR(40), cycle_min VARCHAR(10), installed TIMESTAMP"


@pytest.mark.services
def test_a_table_loads_like_a_file_and_a_bad_row_is_quarantined_with_its_number(
    database: Database, store: DuckDBStore, tmp_path: Path
) -> None:
    table = database.table(COLUMNS, ROWS)
    mapping = _mapping(tmp_path, MACHINES.replace("TABLE", table))
    report = ingest(store, database.url, mapping)
    assert (report.rows_read, report.inserted, report.quarantined) == (3, 2, 1)
    assert report.source_file == f"{redact(database.url)}#{table}"
    assets = store.query(
        "SELECT external_id, name, ideal_cycle_seconds, installed_at FROM asset ORDER BY 1"
    )
    assert list(assets["external_id"]) == ["007", "008"]  # leading zeros kept
    assert assets["ideal_cycle_seconds"][0] == pytest.approx(90.0)
    assert str(assets["installed_at"][0]) == "2021-03-04 05:06:07"
    bad = store.query("SELECT row_number, field, reason, raw, source_file FROM quarantine")
    assert list(bad["row_number"]) == [3] and list(bad["field"]) == ["ideal_cycle_seconds"]
    assert json.loads(bad["raw"][0])["code"] == "009" and "found 'ten'" in bad["reason"][0]
    again = ingest(store, database.url, mapping)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2), "re-running is idempotent"


@pytest.mark.services
def test_a_query_selects_and_renames_and_later_changes_update(
    database: Database, store: DuckDBStore, tmp_path: Path
) -> None:
    table = database.table(COLUMNS, ROWS[:2])
    text = MACHINES.replace(
        "source: {table: TABLE}",
        f'source: {{query: "SELECT code, name AS name, cycle_min, installed FROM {table} '
        f"WHERE code <> '008' ORDER BY code\"}}",
    )
    mapping = _mapping(tmp_path, text)
    assert ingest(store, database.url, mapping).inserted == 1
    database.execute(f"UPDATE {table} SET name = 'Lathe 1 (rebuilt)' WHERE code = '007'")
    report = ingest(store, database.url, mapping)
    assert (report.updated, report.inserted) == (1, 0)
    assert store.query("SELECT name FROM asset")["name"][0] == "Lathe 1 (rebuilt)"


@pytest.mark.services
def test_a_missing_table_lists_the_tables_there(
    database: Database, store: DuckDBStore, tmp_path: Path
) -> None:
    table = database.table(COLUMNS, ROWS[:1])
    mapping = _mapping(tmp_path, MACHINES.replace("TABLE", "no_such_table"))
    with pytest.raises(
        IngestError, match=rf"no table 'no_such_table'; the database has \[.*{table}"
    ):
        ingest(store, database.url, mapping)


@pytest.mark.services
def test_a_failing_query_names_the_database_without_its_password(
    database: Database, store: DuckDBStore, tmp_path: Path
) -> None:
    mapping = _mapping(tmp_path, MACHINES.replace("{table: TABLE}", '{query: "SELEC nonsense"}'))
    with pytest.raises(IngestError, match="cannot read the query") as raised:
        ingest(store, database.url, mapping)
    assert str(raised.value).startswith(redact(database.url))


@pytest.mark.services
def test_a_manifest_mixes_files_and_databases_with_the_password_from_the_environment(
    database: Database, store: DuckDBStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = database.table(COLUMNS, ROWS[:2])
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "machines.yaml").write_text(MACHINES.replace("TABLE", table))
    parts = urlsplit(database.url)
    user = parts.username or ("postgres" if database.kind == "postgres" else "root")
    monkeypatch.setenv("FB_TEST_DB_PASSWORD", parts.password or "")
    url = urlunsplit(
        parts._replace(netloc=f"{user}:${{FB_TEST_DB_PASSWORD}}@{parts.hostname}:{parts.port}")
    )
    manifest = tmp_path / "plant.yaml"
    manifest.write_text(
        f"name: db plant\nsources:\n  - database: '{url}'\n    mapping: mappings/machines.yaml\n"
    )
    result = load_plant(store, manifest)
    assert not result.failures and result.reports[0].inserted == 2
    label = result.reports[0].source_file
    assert (
        label == f"{database.kind if database.kind == 'mysql' else 'postgresql'}://{user}:***@"
        f"{parts.hostname}:{parts.port}{parts.path}#{table}"
    ), "the password is never shown"


def test_database_urls_are_told_from_files_and_passwords_are_redacted() -> None:
    assert is_database_url("postgresql://u@h/db") and is_database_url("MariaDB://h/db")
    assert not is_database_url("exports/postgresql.csv") and not is_database_url(Path("x"))
    assert redact("mysql://mes:s3cret@db:3306/mes") == "mysql://mes:***@db:3306/mes"
    assert redact("postgresql://mes@db/mes") == "postgresql://mes@db/mes"


def test_an_unreachable_server_is_a_clear_error(store: DuckDBStore, tmp_path: Path) -> None:
    pytest.importorskip("psycopg", reason="psycopg is not installed (the 'sql' extra)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mapping = _mapping(tmp_path, MACHINES.replace("TABLE", "machines"))
    with pytest.raises(
        IngestError, match=rf"postgresql://u:\*\*\*@127.0.0.1:{port}/db: cannot connect"
    ):
        ingest(store, f"postgresql://u:pw@127.0.0.1:{port}/db", mapping)


def test_a_database_source_needs_a_table_or_a_query(store: DuckDBStore, tmp_path: Path) -> None:
    mapping = _mapping(tmp_path, MACHINES.replace("source: {table: TABLE}\n", ""))
    with pytest.raises(IngestError, match=r"needs 'source: \{table: \.\.\.\}' or"):
        ingest(store, "postgresql://u@127.0.0.1:1/db", mapping)


def test_a_missing_environment_variable_is_named(store: DuckDBStore, tmp_path: Path) -> None:
    mapping = _mapping(tmp_path, MACHINES.replace("TABLE", "machines"))
    with pytest.raises(IngestError, match="FB_NOT_SET_ANYWHERE it refers to is not set"):
        ingest(store, "postgresql://u:${FB_NOT_SET_ANYWHERE}@h/db", mapping)


def test_a_manifest_database_entry_must_be_a_database_url(tmp_path: Path) -> None:
    from factorybrain.connectors import read_manifest

    manifest = tmp_path / "plant.yaml"
    manifest.write_text("sources:\n  - database: exports/x.csv\n    mapping: m.yaml\n")
    with pytest.raises(MappingError, match="'database' must be a postgresql://"):
        read_manifest(manifest)


@pytest.mark.services
def test_the_ingest_command_takes_a_database_url(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from factorybrain.cli import app

    table = database.table(COLUMNS, ROWS)
    mapping = _mapping(tmp_path, MACHINES.replace("TABLE", table))
    db = tmp_path / "cli.duckdb"
    result = CliRunner().invoke(
        app, ["ingest", database.url, "--mapping", str(mapping), "--db", str(db)]
    )
    assert result.exit_code == 0, result.output
    assert f"#{table}" in result.output and "quarantined 1" in result.output
