"""Store.query runs SQL users write: every attack is refused, and nothing happened.

Each attack test runs the attack through the store, expects a refusal naming what was refused,
and checks that the damage did not happen (the file is not there, the rows still are, the
setting is unchanged). ``test_the_attacks_are_real`` shows that DuckDB itself would do the damage.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from factorybrain.cli import app
from factorybrain.exceptions import StoreError
from factorybrain.store import DuckDBStore, open_store
from factorybrain.store._sql_guard import ALLOWED_TABLE_FUNCTIONS, verdict

AUDIT_ROWS = 40


@pytest.fixture
def plant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DuckDBStore]:
    """A store on disk with assets and audit entries, next to a secret file; the cwd is there."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "secret.csv").write_text("password\nhunter2\n")
    with open_store(tmp_path / "plant.duckdb", migrate=True) as store:
        store.connection.execute(
            "INSERT INTO asset (space, external_id, name, level, parent) VALUES "
            "('s', 'L1', 'Line 1', 'line', NULL), ('s', 'P1', 'Press 1', 'equipment', 'L1'), "
            "('s', 'P2', 'Press 2', 'equipment', 'L1')"
        )
        store.connection.execute(
            "INSERT INTO audit_entry (space, external_id, actor, verb, occurred_at) "
            "SELECT 's', 'a' || i, 'probe', 'x', TIMESTAMP '2024-01-01' + i * INTERVAL 1 hour "
            f"FROM range(1, {AUDIT_ROWS + 1}) t(i)"
        )
        yield store


def audit_rows(store: DuckDBStore) -> int:
    return int(store.query("SELECT count(*) AS n FROM audit_entry").n[0])


def refused(store: DuckDBStore, sql: str, *words: str) -> str:
    """Run ``sql``, expect a refusal that mentions ``words``, return the message."""
    with pytest.raises(StoreError) as caught:
        store.query(sql)
    message = str(caught.value)
    assert message.startswith("refused: "), message
    for word in words:
        assert word in message, message
    with pytest.raises(StoreError, match="^refused: "):
        store.query_rows(sql)
    return message


# -- statements that are not one SELECT ----------------------------------------------------------
def test_explain_analyze_copy_writes_no_file(plant: DuckDBStore, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    refused(plant, f"EXPLAIN ANALYZE COPY (SELECT * FROM asset) TO '{out}'", "EXPLAIN ANALYZE")
    refused(plant, f"/* hi */ explain /* there */ analyse COPY asset TO '{out}'", "ANALYZE")
    assert not out.exists()


def test_explain_analyze_delete_deletes_nothing(plant: DuckDBStore) -> None:
    refused(
        plant, "EXPLAIN ANALYZE DELETE FROM audit_entry WHERE actor = 'probe'", "EXPLAIN ANALYZE"
    )
    refused(plant, "EXPLAIN DELETE FROM audit_entry", "EXPLAIN may explain only a SELECT")
    refused(plant, "EXPLAIN ANALYZE SELECT 1", "EXPLAIN ANALYZE")  # runs what it explains
    assert audit_rows(plant) == AUDIT_ROWS


def test_copy_to_writes_no_file(plant: DuckDBStore, tmp_path: Path) -> None:
    out = tmp_path / "dump.csv"
    refused(plant, f"COPY asset TO '{out}'", "COPY", "read-only")
    refused(plant, f"COPY (SELECT * FROM audit_entry) TO '{out}' (FORMAT parquet)", "COPY")
    refused(plant, f"EXPORT DATABASE '{tmp_path / 'export'}'", "EXPORT")
    assert not out.exists() and not (tmp_path / "export").exists()


def test_copy_from_loads_nothing(plant: DuckDBStore) -> None:
    refused(plant, "COPY audit_entry FROM 'secret.csv'", "COPY")
    assert audit_rows(plant) == AUDIT_ROWS


def test_attach_opens_no_database(plant: DuckDBStore, tmp_path: Path) -> None:
    other = tmp_path / "other.duckdb"
    refused(plant, f"ATTACH '{other}' AS other", "ATTACH")
    refused(plant, "DETACH plant", "DETACH")
    assert not other.exists()
    assert plant.connection.execute("SELECT count(*) FROM duckdb_databases()").fetchall() == [
        (3,)  # plant, system, temp
    ]


def test_install_and_load_add_no_extension(plant: DuckDBStore) -> None:
    def loaded() -> list[tuple[str, bool, bool]]:
        return plant.connection.execute(
            "SELECT extension_name, loaded, installed FROM duckdb_extensions() ORDER BY 1"
        ).fetchall()

    before = loaded()
    refused(plant, "INSTALL spatial", "INSTALL", "extensions")
    refused(plant, "FORCE INSTALL httpfs", "extensions")
    refused(plant, "LOAD spatial", "LOAD", "extensions")
    refused(plant, "SELECT st_point(1, 2)", "st_point", "not a function built into DuckDB")
    assert loaded() == before


def test_pragma_set_and_reset_change_no_setting(plant: DuckDBStore) -> None:
    def setting(name: str) -> object:
        return plant.connection.execute("SELECT current_setting(?)", [name]).fetchall()[0][0]

    limit, threads = setting("memory_limit"), setting("threads")
    refused(plant, "PRAGMA memory_limit='1MB'", "PRAGMA")
    refused(plant, "PRAGMA database_list", "PRAGMA")
    refused(plant, "SET memory_limit = '1MB'", "SET", "settings")
    refused(plant, "SET threads TO 1", "SET")
    refused(plant, "RESET memory_limit", "RESET")
    refused(plant, "SET VARIABLE path = '/etc/passwd'", "SET")
    refused(plant, "CALL enable_profiling()", "CALL")
    assert (setting("memory_limit"), setting("threads")) == (limit, threads)


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM audit_entry",
        "UPDATE audit_entry SET actor = 'me'",
        "INSERT INTO audit_entry (space, external_id) VALUES ('s', 'x')",
        "CREATE TABLE stolen AS SELECT * FROM audit_entry",
        "DROP TABLE audit_entry",
        "ALTER TABLE audit_entry DROP COLUMN details",
        "WITH doomed AS (SELECT 1) DELETE FROM audit_entry",
        "MERGE INTO audit_entry USING audit_entry s ON (audit_entry.external_id = s.external_id) "
        "WHEN MATCHED THEN DELETE",
        "TRUNCATE audit_entry",
        "CHECKPOINT",
        "VACUUM",
        "BEGIN TRANSACTION",
        "CREATE MACRO evil() AS 1",
        "PIVOT audit_entry ON actor",  # without IN list DuckDB first creates an ENUM type
    ],
)
def test_writes_are_refused_and_change_nothing(plant: DuckDBStore, sql: str) -> None:
    refused(plant, sql, "read-only")
    assert audit_rows(plant) == AUDIT_ROWS
    assert "stolen" not in plant.query("SHOW TABLES").name.tolist()


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1; DELETE FROM audit_entry",
        "SELECT 1;DELETE FROM audit_entry;",
        "SELECT 1 -- a comment\n; DELETE FROM audit_entry",
        "SELECT 1 /* ; */ ; DELETE FROM audit_entry",
        "SELECT count(*) FROM audit_entry; DROP TABLE audit_entry",
        "SELECT 1\x00; DELETE FROM audit_entry",
    ],
)
def test_a_second_statement_is_refused(plant: DuckDBStore, sql: str) -> None:
    refused(plant, sql, "found 2 SQL statements")
    assert audit_rows(plant) == AUDIT_ROWS


def test_statements_in_comments_are_comments(plant: DuckDBStore) -> None:
    # A comment hides nothing from DuckDB's parser: this is one SELECT and deletes nothing.
    assert plant.query("SELECT 1 AS one /* ; DELETE FROM audit_entry */").one.tolist() == [1]
    assert plant.query("SELECT 1 AS one -- ; DELETE FROM audit_entry").one.tolist() == [1]
    # A comment before a statement does not make it a SELECT.
    refused(plant, "-- SELECT 1\n DELETE FROM audit_entry", "DELETE")
    refused(plant, "/* SELECT */ DELETE FROM audit_entry", "DELETE")
    assert audit_rows(plant) == AUDIT_ROWS


def test_empty_and_broken_sql_are_refused(plant: DuckDBStore) -> None:
    refused(plant, "", "empty")
    refused(plant, " -- nothing\n", "empty")
    refused(plant, "SELEC 1", "cannot parse")


# -- reading outside the database ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("read_csv('/etc/passwd')", ("read_csv", "reads files")),
        ("read_csv_auto('secret.csv')", ("read_csv_auto", "reads files")),
        ("read_text('/etc/passwd')", ("read_text", "reads files")),
        ("read_blob('secret.csv')", ("read_blob", "reads files")),
        ("read_parquet('x.parquet')", ("read_parquet", "reads files")),
        ("read_json('x.json')", ("read_json", "reads files")),
        ("parquet_metadata('x.parquet')", ("parquet_metadata", "reads files")),
        ("sniff_csv('secret.csv')", ("sniff_csv", "reads files")),
        ("glob('/etc/*')", ("glob", "reads files")),
        ("query_table('audit_entry')", ("query_table", "cannot see")),
        ("query('SELECT * FROM read_text(''/etc/passwd'')')", ("query", "cannot see")),
        ("duckdb_settings()", ("duckdb_settings", "internals")),
        ("duckdb_databases()", ("duckdb_databases", "internals")),
        ("duckdb_secrets()", ("duckdb_secrets", "internals")),
        ("pragma_database_list()", ("pragma_database_list", "internals")),
        ("which_secret('s3://x', 's3')", ("which_secret", "internals")),
        ("checkpoint()", ("checkpoint", "writes the database file")),
        ("'/etc/passwd'", ("/etc/passwd", "not a table")),
        ("'secret.csv'", ("secret.csv", "not a table")),
        ('"secret.csv"', ("secret.csv", "not a table")),
        ("'x.parquet'", ("x.parquet", "not a table")),
        ('main."secret.csv"', ("secret.csv", "not a table")),
        ("duckdb_settings", ("duckdb_settings", "not a table")),
        ("pg_catalog.pg_settings", ("pg_settings", "not a table")),
        ("information_schema.schemata", ("schemata", "not a table")),
    ],
)
def test_files_and_internals_are_refused_wherever_they_hide(
    plant: DuckDBStore, source: str, words: tuple[str, ...]
) -> None:
    for sql in (
        f"SELECT * FROM {source}",
        f"FROM {source}",
        f"WITH c AS (SELECT * FROM {source}) SELECT * FROM c",
        f"SELECT * FROM asset WHERE EXISTS (SELECT * FROM {source})",
        f"SELECT name FROM asset UNION ALL SELECT 'x' FROM {source}",
        f"SELECT length((SELECT count(*) FROM {source})::VARCHAR)",
        f"SELECT * FROM range(2) r, LATERAL (SELECT * FROM {source})",
        f"SELECT * FROM asset JOIN (SELECT * FROM {source}) f ON true",
        f"SELECT count(*) OVER (ORDER BY (SELECT count(*) FROM {source})) FROM audit_entry",
        f"SELECT * FROM unnest((SELECT list(1) FROM {source}))",
        f"DESCRIBE SELECT * FROM {source}",
        f"EXPLAIN SELECT * FROM {source}",
    ):
        refused(plant, sql, *words)


def test_describe_show_and_summarize_of_a_file_are_refused(plant: DuckDBStore) -> None:
    refused(plant, "DESCRIBE 'secret.csv'", "secret.csv", "not a table")
    refused(plant, "SHOW 'secret.csv'", "secret.csv", "not a table")
    refused(plant, "SUMMARIZE 'secret.csv'", "secret.csv", "not a table")
    refused(plant, "SUMMARIZE SELECT * FROM read_csv('secret.csv')", "read_csv")
    refused(plant, "SHOW memory_limit", "memory_limit", "not a table")


@pytest.mark.parametrize(
    ("sql", "words"),
    [
        ("SELECT getenv('HOME')", ("getenv", "environment")),
        ("SELECT current_setting('home_directory')", ("current_setting", "settings")),
        ("SELECT getvariable('x')", ("getvariable",)),
        ("SELECT nextval('seq')", ("nextval", "write")),
        ("SELECT setseed(0.5)", ("setseed",)),
        ("SELECT write_log('hello')", ("write_log",)),
        ("SELECT json_serialize_plan('SELECT * FROM read_csv(''secret.csv'')')", ("plan",)),
        ("SELECT pg_get_viewdef(1)", ("pg_get_viewdef", "macro", "duckdb_views")),
        ("SELECT get_block_size('plant')", ("get_block_size", "macro")),
        ("SELECT pg_sleep(1)", ("pg_sleep", "sleep_ms")),
        ("SELECT read_text('/etc/passwd')", ("read_text", "reads files")),
        ("SELECT name FROM asset WHERE name = getenv('USER')", ("getenv",)),
        ("SELECT list_transform([1], lambda x: getenv('HOME'))", ("getenv",)),
        ("SELECT * FROM asset ORDER BY current_setting('threads')", ("current_setting",)),
        ("SELECT \"GETENV\"('HOME')", ("getenv",)),
        ("SELECT main.getenv('HOME')", ("getenv",)),
        ("SELECT system.main.current_setting('threads')", ("current_setting",)),
    ],
)
def test_functions_that_read_the_environment_are_refused(
    plant: DuckDBStore, sql: str, words: tuple[str, ...]
) -> None:
    refused(plant, sql, *words)


def test_a_cte_shadows_a_file_only_where_duckdb_says_so(plant: DuckDBStore) -> None:
    # In scope, the CTE is what DuckDB reads: allowed, and the result is the CTE's.
    safe = 'WITH "secret.csv" AS (SELECT 42 AS password) SELECT * FROM "secret.csv"'
    assert plant.query(safe).password.tolist() == [42]
    nested = 'WITH "secret.csv" AS (SELECT 42 AS p) SELECT * FROM (SELECT * FROM "secret.csv")'
    assert plant.query(nested).p.tolist() == [42]
    # Out of scope DuckDB reads the file: its own body, an earlier CTE, another branch.
    for sql in (
        'WITH "secret.csv" AS (SELECT * FROM "secret.csv") SELECT * FROM "secret.csv"',
        'WITH RECURSIVE "secret.csv" AS (SELECT * FROM "secret.csv") SELECT * FROM "secret.csv"',
        'WITH a AS (SELECT * FROM "secret.csv"), "secret.csv" AS (SELECT 1) SELECT * FROM a',
        'SELECT * FROM (WITH "secret.csv" AS (SELECT 1 AS p) SELECT * FROM "secret.csv") '
        'UNION ALL SELECT * FROM "secret.csv"',
        'WITH "secret.csv" AS (SELECT 1 AS p) SELECT * FROM main."secret.csv"',
        'WITH RECURSIVE "secret.csv" AS (SELECT * FROM "secret.csv" UNION ALL '
        'SELECT * FROM "secret.csv") SELECT * FROM "secret.csv"',
    ):
        refused(plant, sql, "secret.csv", "not a table")


@pytest.mark.parametrize(
    "sql",
    [
        'SELECT * FROM range((SELECT count(*) FROM "secret.csv")) t(x)',
        'SELECT * FROM unnest((SELECT list(password) FROM "secret.csv"))',
        'SELECT * FROM asset, LATERAL (SELECT * FROM "secret.csv")',
        'SELECT count(*) OVER (PARTITION BY (SELECT max(password) FROM "secret.csv")) '
        "FROM audit_entry",
        'SELECT * FROM asset WHERE space IN (SELECT password::VARCHAR FROM "secret.csv")',
        'SELECT * FROM (PIVOT "secret.csv" ON password IN (42))',
        'SELECT * FROM (SELECT * FROM "secret.csv") UNION ALL SELECT * FROM "secret.csv"',
        'SELECT * FROM "secret.csv" ORDER BY (SELECT max(password) FROM "secret.csv")',
        'SELECT * FROM json_each((SELECT max(password)::VARCHAR FROM "secret.csv"))',
        'SELECT * FROM (VALUES ((SELECT max(password) FROM "secret.csv"))) v(x)',
        'SELECT * FROM asset a JOIN "secret.csv" s ON true',
        'SELECT * FROM (DESCRIBE SELECT * FROM "secret.csv")',
        'SELECT * FROM (SUMMARIZE SELECT * FROM "secret.csv")',
        'SELECT * FROM (UNPIVOT "secret.csv" ON password INTO NAME n VALUE v)',
    ],
)
def test_where_the_check_sees_a_cte_duckdb_reads_the_cte(plant: DuckDBStore, sql: str) -> None:
    """The check's scopes are DuckDB's: wherever it lets a CTE name through, no file is read."""
    rows = plant.query_rows('WITH "secret.csv" AS (SELECT 42 AS password) ' + sql)
    assert "hunter2" not in repr(rows)


def test_the_attacks_are_real(plant: DuckDBStore, tmp_path: Path) -> None:
    """Without the check, DuckDB reads the file and writes the output: the tests above matter."""
    con = plant.connection.cursor()
    assert con.execute("SELECT * FROM 'secret.csv'").fetchall() == [("hunter2",)]
    assert "hunter2" in con.execute("SELECT content FROM read_text('secret.csv')").fetchall()[0][0]
    out = tmp_path / "out.csv"
    con.execute(f"EXPLAIN ANALYZE COPY (SELECT 1) TO '{out}'").fetchall()
    assert out.exists()
    con.execute("EXPLAIN ANALYZE DELETE FROM audit_entry").fetchall()
    assert con.execute("SELECT count(*) FROM audit_entry").fetchall() == [(0,)]


# -- property: an unsafe source anywhere is refused, safe ones run -------------------------------
SAFE = ["asset", "audit_entry", "range(3) t(n)", "(SELECT 1 AS n)", "unnest([1, 2]) t(n)"]
UNSAFE = [
    "read_csv('secret.csv')",
    "read_text('secret.csv')",
    "'secret.csv'",
    "glob('*.csv')",
    "query_table('asset')",
    "duckdb_settings()",
    "parquet_schema('x.parquet')",
    "(SELECT getenv('HOME') AS n)",
    "(SELECT current_setting('threads') AS n)",
]
WRAPPERS = [
    "SELECT count(*) AS n FROM {}",
    "SELECT 1 AS n FROM asset WHERE EXISTS (SELECT 1 FROM {})",
    "WITH c AS (SELECT 1 AS n FROM {}) SELECT count(*) AS n FROM c",
    "SELECT 1 AS n UNION ALL SELECT 1 AS n FROM {}",
    "SELECT (SELECT count(*) FROM {}) AS n",
    "SELECT abs((SELECT count(*) FROM {})) AS n",
    "SELECT count(*) AS n FROM range(2) r, LATERAL (SELECT 1 FROM {})",
    "SELECT n FROM (SELECT 1 AS n FROM {}) s",
]
#: Outermost only: DuckDB's parser refuses a window inside a window definition, at any depth.
WINDOW = "SELECT count(*) OVER (PARTITION BY (SELECT count(*) FROM {})) AS n FROM asset"


def _nest(depth: int) -> st.SearchStrategy[tuple[str, bool]]:
    """A query and whether it holds an unsafe source, nested up to ``depth`` wrappers deep."""
    leaves = st.one_of(
        st.sampled_from(SAFE).map(lambda s: (s, False)),
        st.sampled_from(UNSAFE).map(lambda s: (s, True)),
    )

    def wrap(inner: st.SearchStrategy[tuple[str, bool]]) -> st.SearchStrategy[tuple[str, bool]]:
        return st.tuples(st.sampled_from(WRAPPERS), inner).map(
            lambda t: (f"({t[0].format(t[1][0])}) AS w{len(t[1][0])}", t[1][1])
        )

    return st.recursive(leaves, wrap, max_leaves=depth)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(query=_nest(4), wrapper=st.sampled_from([*WRAPPERS, WINDOW]))
def test_an_unsafe_source_at_any_depth_is_refused(
    plant: DuckDBStore, query: tuple[str, bool], wrapper: str
) -> None:
    source, unsafe = query
    sql = wrapper.format(source)
    if unsafe:
        with pytest.raises(StoreError, match="^refused: "):
            plant.query(sql)
    else:
        plant.query(sql)  # runs


# -- what still works ----------------------------------------------------------------------------
def test_ordinary_read_queries_work(plant: DuckDBStore) -> None:
    joined = plant.query(
        "SELECT c.name AS child, p.name AS parent FROM asset c "
        "JOIN asset p ON p.space = c.space AND p.external_id = c.parent ORDER BY child"
    )
    assert joined.to_dict("records") == [
        {"child": "Press 1", "parent": "Line 1"},
        {"child": "Press 2", "parent": "Line 1"},
    ]
    cte = plant.query(
        "WITH presses AS (SELECT * FROM asset WHERE level = ?) SELECT count(*) AS n FROM presses",
        ["equipment"],
    )
    assert cte.n.tolist() == [2]
    window = plant.query_rows(
        "SELECT n, sum(n) OVER (ORDER BY n ROWS 1 PRECEDING) AS pair, row_number() OVER w AS rn "
        "FROM (SELECT row_number() OVER (ORDER BY occurred_at) AS n FROM audit_entry) "
        "WINDOW w AS (ORDER BY n DESC) QUALIFY n <= 2 ORDER BY n"
    )
    assert [(r["n"], r["pair"], r["rn"]) for r in window] == [(1, 1, 40), (2, 3, 39)]
    assert plant.query("SELECT sum(i) AS s FROM range(5) t(i)").s.tolist() == [10]
    assert plant.query("SELECT count(*) AS n FROM generate_series(1, 3)").n.tolist() == [3]
    assert plant.query("SELECT * FROM unnest([1, 2]) t(x)").x.tolist() == [1, 2]
    recursive = plant.query(
        "WITH RECURSIVE up(id, depth) AS (SELECT 'P1', 0 UNION ALL SELECT a.parent, depth + 1 "
        "FROM up JOIN asset a ON a.external_id = up.id WHERE a.parent IS NOT NULL) "
        "SELECT max(depth) AS d FROM up"
    )
    assert recursive.d.tolist() == [1]
    aggregates = plant.query_rows(
        "SELECT level, count(*) AS n, min(name) AS first, list(external_id ORDER BY 1) AS ids, "
        "string_agg(name, ', ') AS names FROM asset GROUP BY ALL ORDER BY level"
    )
    assert [(r["level"], r["n"]) for r in aggregates] == [("equipment", 2), ("line", 1)]
    assert plant.query("SELECT * FROM main.asset").shape[0] == 3
    pivot = plant.query("PIVOT (SELECT level FROM asset) ON level IN ('line', 'equipment')")
    assert pivot.shape[0] == 1
    json_each = plant.query('SELECT count(*) AS n FROM json_each(\'{"a": 1, "b": 2}\')')
    assert json_each.n.tolist() == [2]
    functions = plant.query_rows(
        "SELECT upper(name) AS u, regexp_replace(name, ' .*', '') AS w, now() > TIMESTAMP "
        "'2020-01-01' AS later, date_trunc('day', occurred_at) AS d, "
        "occurred_at AT TIME ZONE 'Europe/Berlin' AS local, md5(name) AS h, "
        "current_database() AS db, list_transform([1, 2], lambda x: x * 2) AS l "
        "FROM (SELECT name FROM asset) a, (SELECT occurred_at FROM audit_entry) e LIMIT 1"
    )
    assert functions[0]["db"] == "plant" and functions[0]["l"] == [2, 4]


def test_describe_show_summarize_and_explain_work(plant: DuckDBStore) -> None:
    assert "external_id" in plant.query("DESCRIBE asset").column_name.tolist()
    assert "level" in plant.query("SHOW asset").column_name.tolist()
    assert "asset" in plant.query("SHOW TABLES").name.tolist()
    assert "audit_entry" in plant.query("SHOW ALL TABLES").name.tolist()
    assert plant.query("SUMMARIZE asset").shape[0] > 0
    assert plant.query("DESCRIBE SELECT 1 AS x").column_name.tolist() == ["x"]
    plan = plant.query("EXPLAIN SELECT level, count(*) FROM asset GROUP BY level")
    assert "asset" in " ".join(map(str, plan.to_numpy().ravel())).lower()
    tables = plant.query(
        "SELECT count(*) AS n FROM information_schema.tables WHERE table_name = ?", ["asset"]
    )
    assert tables.n.tolist() == [1]
    assert audit_rows(plant) == AUDIT_ROWS


def test_tables_made_after_the_first_query_can_be_read(plant: DuckDBStore) -> None:
    sql = "SELECT count(*) AS n FROM made_later"
    refused(plant, sql, "made_later", "not a table")
    plant.connection.execute("CREATE TABLE made_later AS SELECT 1 AS x")
    assert plant.query(sql).n.tolist() == [1]
    plant.connection.execute("CREATE TEMP TABLE scratch AS SELECT 2 AS x")
    assert plant.query("SELECT x FROM scratch").x.tolist() == [2]
    reader = plant.reader()
    assert reader.query(sql).n.tolist() == [1]
    refused(reader, "SELECT x FROM scratch", "scratch")  # temporary tables are per connection


def test_a_dropped_table_is_a_table_no_more(plant: DuckDBStore) -> None:
    plant.connection.execute("CREATE TABLE t1 AS SELECT 1 AS x")
    assert plant.query("SELECT x FROM t1").x.tolist() == [1]
    plant.connection.execute("DROP TABLE t1")
    refused(plant, "SELECT x FROM t1", "t1", "not a table")


def test_the_verdict_is_cached_per_text() -> None:
    verdict.cache_clear()
    sql = "SELECT count(*) FROM asset WHERE space = ?"
    first = verdict(sql)
    assert verdict(sql) is first
    assert verdict.cache_info().hits == 1
    assert first.refusal is None and first.tables == frozenset({("", "", "asset")})


def test_the_allowed_table_functions_touch_nothing_outside() -> None:
    assert ALLOWED_TABLE_FUNCTIONS == {
        "range",
        "generate_series",
        "unnest",
        "json_each",
        "json_tree",
    }


# -- the command line ----------------------------------------------------------------------------
def test_the_query_command_refuses_an_attack_in_one_red_line(tmp_path: Path) -> None:
    db = str(tmp_path / "f.duckdb")
    runner = CliRunner()
    assert runner.invoke(app, ["init", "--db", db]).exit_code == 0
    out = tmp_path / "out.csv"
    for sql in (
        "SELECT * FROM read_csv('/etc/passwd')",
        f"EXPLAIN ANALYZE COPY (SELECT 1) TO '{out}'",
        "SELECT * FROM '/etc/passwd'",
    ):
        result = runner.invoke(app, ["query", sql, "--db", db])
        assert result.exit_code == 1, result.output
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: refused: "), result.output
        assert "root:" not in result.output
    assert not out.exists()
    result = runner.invoke(
        app, ["query", "SELECT count(*) AS n FROM asset", "--db", db, "-f", "csv"]
    )
    assert result.exit_code == 0 and re.sub(r"\s+", " ", result.output).strip() == "n 0"
