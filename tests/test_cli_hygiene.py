"""What every command of ``factorybrain`` promises, checked over the whole command tree.

Every command that opens a store takes ``--db``; every option and argument says what it is for;
every ``--help`` works and shows flags without a value type; an odd date, span or choice is a
usage error (status 2) that names the option, what it expected and what it found, never a
traceback; the library prints nothing itself and its warnings reach the user as one line each.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from factorybrain.cli import app

runner = CliRunner()

#: Commands that read or write no store, and why they need no ``--db``.
WITHOUT_A_STORE = {
    "version": "prints the installed version",
    "model": "prints the schema this version defines, the same for every store",
    "mappings suggest": "reads an export and writes a mapping file",
    "simulate": "writes a simulated plant's export files",
    "migrate": "names both stores itself (--from and --to), never $FACTORYBRAIN_DB",
    "agents playbooks": "prints the playbooks the agents package defines",
}


def _commands() -> Iterator[tuple[str, Any]]:
    """Every command and group under ``factorybrain``, by its path (``agents run``)."""

    def walk(command: Any, path: tuple[str, ...]) -> Iterator[tuple[str, Any]]:
        if path:
            yield " ".join(path), command
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            yield from walk(sub, (*path, name))

    yield from walk(typer.main.get_command(app), ())


COMMANDS = dict(_commands())
LEAVES = {path: command for path, command in COMMANDS.items() if not hasattr(command, "commands")}


def _one_line(output: str) -> str:
    """The output with Rich's box drawing and line wrapping taken out."""
    kept = "".join(" " if char in "│╭╮╰╯─" else char for char in output)
    return " ".join(kept.split())


def test_the_tree_holds_the_commands_the_docs_name() -> None:
    for path in ("ingest", "agents run", "agents playbooks", "trace recall", "oee", "backup"):
        assert path in COMMANDS


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_help_exits_0_and_shows_flags_without_a_type(path: str) -> None:
    result = runner.invoke(app, [*path.split(), "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert "<bool>" not in result.output, f"{path}: a flag shows a value type"


def test_the_root_help_shows_flags_without_a_type() -> None:
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0 and "<bool>" not in result.output


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_every_option_and_argument_says_what_it_is_for(path: str) -> None:
    command = COMMANDS[path]
    assert (command.help or command.short_help or "").strip(), f"{path} has no help"
    for parameter in command.params:
        assert (parameter.help or "").strip(), f"{path}: {parameter.name} has no help"


def test_every_command_that_opens_a_store_takes_db() -> None:
    without = {path for path, command in LEAVES.items() if not _db_option(command)}
    assert without == set(WITHOUT_A_STORE)
    for path, command in LEAVES.items():
        option = _db_option(command)
        if option is None or path == "demo":  # the demo replaces its store: never the env's
            continue
        assert option.envvar == "FACTORYBRAIN_DB", path
    assert _db_option(LEAVES["demo"]).envvar is None


def _db_option(command: Any) -> Any:
    return next((p for p in command.params if "--db" in getattr(p, "opts", [])), None)


@pytest.mark.parametrize("path", ["model", "version", "agents playbooks"])
def test_commands_without_db_need_no_store(
    path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(
        app, path.split(), env={"FACTORYBRAIN_DB": str(tmp_path / "none.duckdb")}
    )
    assert result.exit_code == 0, result.output
    assert not list(tmp_path.iterdir()), "a command without --db created a file"


#: Odd values: the arguments, then words the message must hold (the option and what was found).
ODD_VALUES = [
    (["oee", "--start", "lastweek"], ["'--start'", "ISO time", "'lastweek'"]),
    (["oee", "--end", "2025-13-01"], ["'--end'", "'2025-13-01'"]),
    (["oee", "--by", "week"], ["'--by'", "machine, line or shift", "'week'"]),
    (["oee", "--start", "2025-02-01", "--end", "2025-01-01"], ["'--end'", "after its start"]),
    (["plan", "--now", "yesterday"], ["'--now'", "'yesterday'"]),
    (["plan", "--time-limit", "0"], ["'--time-limit'"]),
    (["agents", "run", "--as-of", "tomorrow"], ["'--as-of'", "'tomorrow'"]),
    (["agents", "run", "--scenario", "what-if"], ["'--scenario'", "with --as-of", "'what-if'"]),
    (
        ["agents", "replay", "--from", "2025-01-01", "--to", "2025-02-01", "--every", "0"],
        ["'--every'", "positive span", "'0'"],
    ),
    (["agents", "replay", "--from", "soon", "--to", "2025-02-01"], ["'--from'", "'soon'"]),
    (["forecast", "show", "--as-of", "soon"], ["'--as-of'", "'soon'"]),
    (["inventory", "levels", "--as-of", "soon"], ["'--as-of'", "'soon'"]),
    (["inventory", "levels", "--target", "2"], ["'--target'"]),
    (["trace", "recall", "--start", "soon"], ["'--start'", "'soon'"]),
    (["trace", "recall"], ["'--lot' / '--machine'", "found neither"]),
    (["query", "SELECT 1", "--format", "xml"], ["'--format'", "table, csv or json", "'xml'"]),
    (["model", "--format", "xml"], ["'--format'", "table, markdown or json", "'xml'"]),
    (["findings", "--status", "weird"], ["'--status'", "open, acknowledged", "'weird'"]),
    (["findings", "--limit", "-3"], ["'--limit'"]),
    (["actions", "list", "--state", "weird"], ["'--state'", "proposed", "'weird'"]),
    (["audit", "--limit", "0"], ["'--limit'"]),
    (["audit", "verify", "--head", "garbage"], ["'--head'", "SEQ:HASH", "'garbage'"]),
    (["match", "list", "--status", "weird"], ["'--status'", "suggested", "'weird'"]),
    (["match", "run", "--threshold", "7"], ["'--threshold'"]),
    (["match", "import", "missing.csv"], ["'file'", "'missing.csv'", "does not exist"]),
    (["token", "create", "--role", "god", "--name", "x"], ["'--role'", "planner", "'god'"]),
    (
        ["token", "create", "--role", "admin", "--name", "x", "--scope", "all"],
        ["'--scope'", "decide", "'all'"],
    ),
    (["mcp", "--transport", "pigeon"], ["'--transport'", "stdio or http", "'pigeon'"]),
    (["serve", "--port", "99999"], ["'--port'"]),
    (["simulate", "--out", "x", "--profile", "cars"], ["'--profile'", "pumps or sap-pi"]),
    (["demo", "--profile", "cars", "--no-serve"], ["'--profile'", "'cars'"]),
    (["ingest", "x.csv", "--mapping", "missing.yaml"], ["'--mapping'", "'missing.yaml'"]),
    (["load", "missing.yaml"], ["'manifest'", "'missing.yaml'"]),
    (["restore", "missing.fbbackup", "--check"], ["'source'", "'missing.fbbackup'"]),
    (["mappings", "suggest", "missing.csv"], ["'file'", "'missing.csv'"]),
    (["listen", "missing.yaml"], ["'mapping'", "'missing.yaml'"]),
]


@pytest.mark.parametrize(("args", "said"), ODD_VALUES, ids=[" ".join(a) for a, _ in ODD_VALUES])
def test_an_odd_value_is_a_usage_error_that_says_what_was_expected(
    args: list[str], said: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    # Checked before any store opens: the store named here does not exist.
    result = runner.invoke(app, args, env={"FACTORYBRAIN_DB": str(tmp_path / "none.duckdb")})
    text = _one_line(result.output)
    assert result.exit_code == 2, text
    assert "Traceback" not in text
    assert result.exception is None or isinstance(result.exception, SystemExit)
    for words in said:
        assert words in text, f"{words!r} not in: {text}"
    assert not (tmp_path / "none.duckdb").exists()


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hygiene") / "plant.duckdb"
    result = runner.invoke(app, ["init", "--db", str(path)])
    assert result.exit_code == 0, result.output
    return path


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["agents", "run", "no-such-agent"], ["no-such-agent", "installed"]),
        (["model", "no_such_entity"], ["no_such_entity", "expected one of"]),
        (["status", "--api", "ftp://example"], ["--api expects", "'ftp://example'"]),
        (["actions", "show", "act-none"], ["act-none"]),
    ],
)
def test_a_wrong_name_is_one_clear_line(
    empty_store: Path, args: list[str], said: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FACTORYBRAIN_TOKEN", "not-a-token")
    result = runner.invoke(app, [*args, "--db", str(empty_store)] if args[0] != "model" else args)
    text = _one_line(result.output)
    assert result.exit_code == 1, text
    assert "Traceback" not in text and text.startswith("error:")
    for words in said:
        assert words in text


def test_library_warnings_reach_the_user_as_one_line_each(empty_store: Path) -> None:
    result = runner.invoke(app, ["forecast", "show", "--db", str(empty_store)])
    assert result.exit_code == 0, result.output
    assert "warning: logistics: the store holds no products or materials" in result.output
    assert "Warning:" not in result.output and ".py:" not in result.output


def test_the_library_prints_nothing_itself() -> None:
    """Only the command line prints: the library returns what it found or raises."""
    package = Path(__file__).parents[1] / "src" / "factorybrain"
    found = []
    for path in sorted(package.rglob("*.py")):
        if path.relative_to(package).parts[0] == "cli":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("print", "breakpoint")
            ):
                found.append(f"{path.relative_to(package)}:{node.lineno}")
    assert not found, f"print() or breakpoint() outside the command line: {found}"


def test_the_choices_follow_the_packages_that_define_them() -> None:
    from factorybrain.agents import ACTION_STATES, FINDING_STATUSES
    from factorybrain.api import ROLE_SCOPES
    from factorybrain.cli import _agents, _demo
    from factorybrain.simulate import _plant

    assert set(_agents.ROLES) == set(ROLE_SCOPES)
    assert set(_agents.SCOPES) == {scope for scopes in ROLE_SCOPES.values() for scope in scopes}
    assert _demo.PROFILES == _plant.PROFILES
    findings, actions = COMMANDS["findings"], COMMANDS["actions list"]
    status = next(p for p in findings.params if p.name == "status")
    state = next(p for p in actions.params if p.name == "state")
    assert all(value in status.help for value in FINDING_STATUSES)
    assert all(value in state.help for value in ACTION_STATES)


def test_the_time_and_span_parsers() -> None:
    from datetime import datetime, timedelta

    from factorybrain.cli._common import parse_moment, parse_span

    assert parse_moment("2025-05-01T08:00+02:00") == datetime(2025, 5, 1, 6, 0)
    assert parse_moment(" 2025-05-01 ") == datetime(2025, 5, 1)
    assert parse_span("15min") == timedelta(minutes=15)
    assert parse_span("1.5d") == timedelta(hours=36)
    for odd in ("0h", "-1h", "1 fortnight", ""):
        with pytest.raises(typer.BadParameter, match="expected a positive span"):
            parse_span(odd)
