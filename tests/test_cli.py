from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from factorybrain.cli import app
from factorybrain.store import open_store

DATA = Path(__file__).parent / "data"
runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_init_ingest_status_query(tmp_path: Path) -> None:
    db = str(tmp_path / "f.duckdb")
    assert run("init", "--db", db)[0] == 0
    code, out = run(
        "ingest",
        str(DATA / "assets.csv"),
        "--mapping",
        str(DATA / "assets.yaml"),
        "--db",
        db,
        "--json",
    )
    assert code == 0
    [report] = json.loads(out)
    assert (report["rows_read"], report["inserted"], report["quarantined"]) == (6, 2, 4)
    code, out = run("status", "--db", db, "--json")
    status = json.loads(out)
    assert status["counts"]["asset"] == 2
    assert sum(row["rows"] for row in status["quarantine"]) == 4
    assert status["ingests"][0]["source_file"].endswith("assets.csv")
    code, out = run("query", "SELECT external_id FROM asset ORDER BY 1", "--db", db, "-f", "csv")
    assert out.split() == ["external_id", "PRS-03", "PRS-04"]


def test_query_refuses_writes_and_unknown_stores(tmp_path: Path) -> None:
    db = str(tmp_path / "f.duckdb")
    run("init", "--db", db)
    code, out = run("query", "DELETE FROM asset", "--db", db)
    assert code == 1 and "read-only" in out
    code, out = run("status", "--db", str(tmp_path / "missing.duckdb"))
    assert code == 1 and "factorybrain init" in out


def test_bad_mapping_is_one_clear_line(tmp_path: Path) -> None:
    mapping = tmp_path / "m.yaml"
    mapping.write_text("entity: asset\nspace: x\nfields:\n  external_id: code\n  lvl: kind\n")
    code, out = run(
        "ingest", str(DATA / "assets.csv"), "-m", str(mapping), "--db", str(tmp_path / "f.duckdb")
    )
    assert code == 1
    assert f"{mapping} line 5: asset has no field 'lvl'" in " ".join(out.split())


def test_every_command_help_has_an_example() -> None:
    import typer.main

    group = typer.main.get_command(app)
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        assert "Example:" in (command.help or ""), name


def test_model_reference_formats() -> None:
    code, out = run("model", "--format", "json")
    names = {entity["name"] for entity in json.loads(out)}
    assert {"asset", "work_order", "warranty_claim"} <= names
    code, out = run("model", "nonsense")
    assert code == 1 and "unknown entity type" in out


def test_load_a_plant_manifest(tmp_path: Path) -> None:
    from factorybrain.cli._demo import EXAMPLE_MANIFEST

    code, out = run("load", str(EXAMPLE_MANIFEST), "--db", str(tmp_path / "p.duckdb"), "--json")
    assert code == 0, out
    result = json.loads(out)
    assert not result["failures"]
    by_entity = {r["entity_type"]: r for r in result["reports"]}
    assert by_entity["datapoint"]["inserted"] > 4000
    # the example's exports are dirty on purpose: each kind of dirt is quarantined, not loaded
    assert by_entity["work_order"]["quarantined"] == 3
    assert by_entity["quality_result"]["quarantined"] == 1
    with open_store(tmp_path / "p.duckdb", read_only=True) as store:
        # the historian sends degF; the series is declared in degC
        temp = store.query("SELECT avg(value) AS v FROM datapoint JOIN time_series USING "
                           "(series_id) WHERE external_id = 'L1_PRS03.TEMP'")["v"][0]
        assert 60 < temp < 70


def test_demo_runs_end_to_end_and_scores(tmp_path: Path) -> None:
    out, db = tmp_path / "plant", tmp_path / "demo.duckdb"
    code, text = run("demo", "--db", str(db), "--out", str(out), "--days", "5", "--machines",
                     "4", "--no-serve", "--score")
    assert code == 0, text
    assert (out / "truth.json").exists()
    assert "score against truth.json" in text
    with open_store(db, read_only=True) as store:
        history = store.ingest_history(100)
        assert len(history) == 42 and (history["status"] == "ok").all()
        counts = store.counts()
        assert counts["serial_unit"] > 0 and counts["datapoint"] > 0


@pytest.mark.slow
def test_sigkill_mid_ingest_leaves_the_store_as_it_was(tmp_path: Path) -> None:
    db = tmp_path / "f.duckdb"
    mapping = tmp_path / "points.yaml"
    mapping.write_text(
        "entity: datapoint\nspace: h\nfields:\n  series: tag\n  ts: ts\n  value: value\n"
    )
    small, big = tmp_path / "small.csv", tmp_path / "big.csv"
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT 'SEED' AS tag, TIMESTAMP '2023-01-01' + to_seconds(i) AS ts, "
        f"i::DOUBLE AS value FROM range(1000) t(i)) TO '{small}' (HEADER)"
    )
    con.execute(
        f"COPY (SELECT 'T' || (i // 100000)::VARCHAR AS tag, TIMESTAMP '2024-01-01' + "
        f"to_seconds(i % 100000) AS ts, random() AS value FROM range(6000000) t(i)) "
        f"TO '{big}' (HEADER)"
    )
    con.close()
    command = [sys.executable, "-m", "factorybrain", "ingest", "--db", str(db), "-m", str(mapping)]
    subprocess.run([*command, str(small)], check=True, capture_output=True)

    process = subprocess.Popen(
        [*command, str(big)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    time.sleep(2.5)
    assert process.poll() is None, "the ingest finished before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()

    with open_store(db, read_only=True) as store:
        assert store.counts()["datapoint"] == 1000
        assert set(store.query("SELECT external_id FROM time_series")["external_id"]) == {"SEED"}
        assert not store.ingest_history()["source_file"].str.endswith("big.csv").any()

    subprocess.run([*command, str(big)], check=True, capture_output=True)
    with open_store(db, read_only=True) as store:
        assert store.counts()["datapoint"] == 6_001_000
        duplicates = store.query(
            "SELECT count(*) - count(DISTINCT (series_id, ts)) AS d FROM datapoint"
        )["d"][0]
        assert duplicates == 0
