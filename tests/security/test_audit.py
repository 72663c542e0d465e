"""The audit log is append-only and tamper-evident: `audit verify` finds every kind of edit."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from factorybrain.cli import app

runner = CliRunner()


@pytest.fixture
def plant(tmp_path: Path) -> str:
    """A store whose audit log has a handful of entries (token changes, an ingest)."""
    db = str(tmp_path / "plant.duckdb")
    runner.invoke(app, ["init", "--db", db])
    for name in ("ann", "bob", "cid", "dan"):
        runner.invoke(app, ["token", "create", "--role", "viewer", "--name", name, "--db", db])
    runner.invoke(app, ["token", "revoke", "bob", "--db", db])
    return db


def _verify(db: str, *extra: str) -> tuple[int, str]:
    result = runner.invoke(app, ["audit", "verify", "--db", db, *extra])
    return result.exit_code, " ".join(result.output.split())


def _tamper(db: str, sql: str) -> None:
    """What someone with the database file could do, around factorybrain."""
    with duckdb.connect(db) as con:
        con.execute(sql)


def test_an_untouched_log_verifies_and_prints_its_head(plant: str) -> None:
    code, output = _verify(plant)
    assert code == 0 and "5 entries" in output and "head 5:" in output


def test_a_changed_entry_is_found(plant: str) -> None:
    _tamper(plant, "UPDATE audit_entry SET actor = 'user:someone-else' WHERE seq = 3")
    code, output = _verify(plant)
    assert code == 1 and "entry 3" in output and "changed after it was written" in output


def test_a_deleted_entry_is_found(plant: str) -> None:
    _tamper(plant, "DELETE FROM audit_entry WHERE seq = 2")
    code, output = _verify(plant)
    assert code == 1 and "entry 2 missing" in output


def test_reordered_entries_are_found(plant: str) -> None:
    _tamper(plant, "UPDATE audit_entry SET seq = 99 WHERE seq = 2")
    _tamper(plant, "UPDATE audit_entry SET seq = 2 WHERE seq = 4")
    _tamper(plant, "UPDATE audit_entry SET seq = 4 WHERE seq = 99")
    code, output = _verify(plant)
    assert code == 1 and "does not follow the entry before it" in output


def test_an_entry_slipped_in_around_the_log_is_found(plant: str) -> None:
    _tamper(
        plant,
        "INSERT INTO audit_entry (space, external_id, actor, verb, occurred_at) "
        "VALUES ('agents', 'aud-forged', 'user:ann', 'action.approved', now())",
    )
    code, output = _verify(plant)
    assert code == 1 and "without a position in the chain" in output


def test_entries_cut_off_the_end_are_found_against_a_head_kept_elsewhere(plant: str) -> None:
    _, output = _verify(plant)
    head = output.split("head ")[1].split()[0]
    _tamper(plant, "DELETE FROM audit_entry WHERE seq >= 4")
    assert _verify(plant)[0] == 0  # a shorter chain is still a chain...
    code, output = _verify(plant, "--head", head)
    assert code == 1 and "entries 4-5 are gone" in output  # ...but not the one that was kept
