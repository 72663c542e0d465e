from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from factorybrain.cli import app
from factorybrain.store import open_store
from tests.agents.test_logistics import NOW, PUMP_UNIT, populate


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "plant.duckdb"
    with open_store(path, migrate=True) as store:
        populate(store)
    return path


def _json(output: str) -> dict:
    return json.loads(output[output.index("{") :])


def test_inventory_spares_orders_the_part_of_a_machine_about_to_fail(db):
    result = CliRunner().invoke(
        app,
        ["inventory", "spares", "PRS-01", "--rul-hours", "60", "--lower-hours", "30",
         "--upper-hours", "110", "--db", str(db), "--as-of", NOW.isoformat(), "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = _json(result.output)
    assert out["machine"] == "line1/press-1"
    assert [o["parameters"]["material"] for o in out["orders"]] == [PUMP_UNIT]


def test_inventory_spares_names_the_known_machines_when_one_is_unknown(db):
    result = CliRunner().invoke(
        app, ["inventory", "spares", "OVEN-09", "--rul-hours", "60", "--db", str(db)]
    )
    assert result.exit_code != 0
    assert "line1/press-1" in result.output


def test_inventory_levels_proposes_purchase_orders_for_approval(db):
    result = CliRunner().invoke(
        app, ["inventory", "levels", "--db", str(db), "--as-of", NOW.isoformat(), "--propose"]
    )
    assert result.exit_code == 0, result.output
    assert "logistics.stockout_risk" in result.output
    with open_store(db) as store:
        actions = store.query("SELECT count(*) AS n FROM action")["n"].iat[0]
    assert actions >= 1


def test_an_empty_store_plans_as_of_no_moment(tmp_path):
    path = tmp_path / "empty.duckdb"
    open_store(path, migrate=True).close()
    # The warning reaches the user as one line on stderr, not as Python's warning.
    levels = CliRunner().invoke(app, ["inventory", "levels", "--db", str(path), "--json"])
    assert levels.exit_code == 0, levels.output
    assert _json(levels.stdout)["as_of"] is None
    assert "warning: logistics" in levels.stderr and "nothing to plan" in levels.stderr
    shown = CliRunner().invoke(app, ["forecast", "show", "--db", str(path)])
    assert shown.exit_code == 0, shown.output
    assert "nothing to plan" in " ".join(shown.stderr.split())
    assert "no data yet" in shown.output and "1970" not in shown.output
