from __future__ import annotations

import json

from typer.testing import CliRunner

from factorybrain.cli import app
from factorybrain.store import open_store
from tests.context._helpers import two_line_plant

runner = CliRunner()


def _plant(tmp_path):
    path = tmp_path / "plant.duckdb"
    with open_store(path, migrate=True) as store:
        two_line_plant(store)
    return path


def test_match_run_list_approve_and_export(tmp_path):
    db = str(_plant(tmp_path))
    result = runner.invoke(app, ["match", "run", "--db", db])
    assert result.exit_code == 0, result.output
    assert "approved" in result.output
    listed = runner.invoke(app, ["match", "list", "--db", db, "--status", "suggested", "--json"])
    rows = json.loads(listed.output)
    assert rows and all(row["status"] == "suggested" for row in rows)
    approved = runner.invoke(app, ["match", "approve", rows[0]["id"], "--db", db, "--by", "ann"])
    assert approved.exit_code == 0 and "approved 1" in approved.output
    unknown = runner.invoke(app, ["match", "reject", "ann-nothing", "--db", db])
    assert unknown.exit_code == 1 and "ann-nothing" in unknown.output
    sheet = tmp_path / "review.csv"
    exported = runner.invoke(app, ["match", "export", str(sheet), "--db", db])
    assert exported.exit_code == 0 and sheet.read_text(encoding="utf-8").startswith("id,status")


def test_trace_of_an_unknown_lot_is_one_red_line(tmp_path):
    db = str(_plant(tmp_path))
    result = runner.invoke(app, ["trace", "forward", "NO-SUCH-LOT", "--db", db])
    assert result.exit_code == 1
    assert "NO-SUCH-LOT" in result.output
