"""Connector packs: shipped mappings matched by header, loading a foreign plant with no mapping."""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from factorybrain.cli import app
from factorybrain.connectors import (
    load_packs,
    load_with_packs,
    plan_folder,
    sniff,
    suggest_mapping,
)
from factorybrain.simulate import simulate_plant
from factorybrain.store import open_store


@pytest.fixture(scope="module")
def gears(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The SAP/PI/MES plant, one line for 12 days: every export kind, small."""
    out = tmp_path_factory.mktemp("gears")
    simulate_plant(out, days=12, machines=4, seed=3, profile="sap-pi")
    return out


@pytest.fixture(scope="module")
def loaded(gears: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    store = open_store(tmp_path_factory.mktemp("db") / "gears.duckdb", migrate=True)
    result = load_with_packs(store, gears, timezone="Europe/Vienna", dst="earlier")
    yield result, store
    store.close()


def test_every_shipped_pack_mapping_parses_and_says_what_selects_it() -> None:
    packs = {p.name: p for p in load_packs()}
    assert {"sap", "pi", "mes", "b2mml"} <= set(packs)
    for pack in packs.values():
        for item in pack.mappings:
            assert item.match or item.root, item.path
            if item.root:  # an XML document, selected by its root element
                assert item.mapping.source.format == "xml" and item.mapping.source.records
                continue
            used = {c for rule in item.mapping.fields.values() for c in rule.source_columns}
            # what selects a mapping is what it reads (or filters on): no accidental matches
            assert used & set(item.match), item.path


def test_a_file_is_matched_by_its_header_not_its_name(gears: Path, tmp_path: Path) -> None:
    shutil.copy(gears / "erp" / "MSEG.csv", tmp_path / "download_0815.txt")
    shutil.copy(gears / "historian" / "pi_archive_2025-10.csv", tmp_path / "values.csv")
    plan = plan_folder(tmp_path)
    names = {(s.path.name, m.pack, m.name) for s, m in plan.loads}
    assert ("download_0815.txt", "sap", "mseg_inventory_transaction") in names
    assert ("download_0815.txt", "sap", "mseg_consumed_in") in names
    assert ("values.csv", "pi", "pi_archive_values") in names
    shape = sniff(tmp_path / "download_0815.txt")[0]
    assert (shape.delimiter, shape.header_row) == (";", 2)  # a list title above the header


def test_a_file_no_pack_knows_is_listed_with_its_header(tmp_path: Path) -> None:
    (tmp_path / "odd.csv").write_text("alpha,beta\n1,2\n", encoding="utf-8")
    plan = plan_folder(tmp_path)
    assert not plan.loads
    assert "no pack mapping recognises its header (alpha, beta)" in plan.unmatched[0][1]


def _data_lines(path: Path, encoding: str) -> int:
    """Records below the header of an SAP download, counted here with the csv module."""
    text = path.read_bytes().decode(encoding)
    rows = list(csv.reader(text.splitlines(), delimiter=";"))
    header = next(i for i, row in enumerate(rows) if len(row) > 2)
    return sum(1 for row in rows[header + 1 :] if any(cell.strip() for cell in row))


def test_every_row_of_every_loaded_file_is_read_and_accounted_for(
    gears: Path, loaded: tuple[Any, Any]
) -> None:
    result, _ = loaded
    assert not result.failures, result.failures
    reads: dict[str, set[int]] = {}
    for report in result.reports:
        assert report.rows_read == report.accounted
        reads.setdefault(Path(report.source_file).name, set()).add(report.records_read)
    for path in sorted((gears / "erp").glob("*.csv")):
        if path.name in reads:
            assert reads[path.name] == {_data_lines(path, "cp1252")}, path.name
    for path in sorted((gears / "historian").glob("pi_archive_*.csv")):
        with path.open(encoding="utf-8") as handle:
            assert reads[path.name] == {sum(1 for _ in handle) - 1}
    for path in sorted((gears / "mes").glob("*.jsonl")):
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        assert reads[path.name] == {len(lines)}, path.name


def test_salesforce_cases_become_claims_with_what_the_customer_wrote(
    gears: Path, loaded: tuple[Any, Any]
) -> None:
    result, store = loaded
    path = gears / "crm" / "cases.csv"
    with path.open(encoding="utf-8-sig", newline="") as handle:
        cases = list(csv.DictReader(handle))  # descriptions span several lines
    [report] = [r for r in result.reports if Path(r.source_file).name == "cases.csv"]
    assert (report.records_read, report.inserted, report.quarantined) == (len(cases), len(cases), 0)
    claims = {
        row["external_id"]: row
        for row in store.query_rows(
            "SELECT external_id, aliases, serial_unit, status, text, claimed_at "
            "FROM warranty_claim WHERE space = 'crm'"
        )
    }
    assert set(claims) == {case["CaseNumber"] for case in cases}
    for case in cases:
        claim = claims[case["CaseNumber"]]
        assert claim["aliases"] == [case["Id"]]
        assert claim["serial_unit"] == (case["Serial_Number__c"].strip() or None)
        assert case["Subject"] in claim["text"] and case["Description"].strip() in claim["text"]
        assert claim["status"] == ("closed" if case["Status"] == "Closed" else "open")
        assert claim["claimed_at"].isoformat(timespec="seconds") == case["CreatedDate"][:19]


def test_pi_digital_state_sets_are_kept_with_their_states_in_code_order(
    gears: Path, loaded: tuple[Any, Any]
) -> None:
    _, store = loaded
    with (gears / "historian" / "pi_digital_sets.csv").open(encoding="utf-8") as handle:
        sets = list(csv.reader(handle))[1:]
    stored = {
        row["name"]: list(row["tags"])
        for row in store.query_rows("SELECT name, tags FROM document WHERE space = 'historian'")
    }
    assert stored == {row[1]: [state for state in row[2:] if state] for row in sets}


def test_pi_digital_states_become_events_not_quarantine(loaded: tuple[Any, Any]) -> None:
    result, store = loaded
    archive = [r for r in result.reports if Path(r.source_file).name.startswith("pi_archive")]
    assert archive and all(r.quarantined == 0 for r in archive)
    states = store.query(
        "SELECT reason, count(*) AS n FROM event WHERE space = 'historian' "
        "AND event_type = 'other' GROUP BY reason"
    )
    machine = store.query(
        "SELECT count(*) AS n FROM event WHERE space = 'historian' AND event_type = 'state' "
        "AND state = 'running'"
    )
    points = store.query("SELECT count(*) AS n FROM datapoint WHERE value IS NULL OR isnan(value)")
    assert set(states["reason"]) & {"PI system state: Shutdown", "PI system state: I/O Timeout"}
    assert int(machine["n"][0]) > 0
    assert int(points["n"][0]) == 0


def test_sap_numbers_dates_and_local_times_arrive_right(
    gears: Path, loaded: tuple[Any, Any]
) -> None:
    _, store = loaded
    with (gears / "erp" / "AFRU.csv").open(encoding="cp1252") as handle:
        rows = list(csv.DictReader(handle.readlines()[1:], delimiter=";"))
    row = next(r for r in rows if r["AUFNR"] and r["STOKZ"] != "X" and r["AUERU"] == "X")
    found = store.query(
        "SELECT start_time, quantity_good FROM operation WHERE space = 'erp' AND external_id = ?",
        [f"{row['AUFPL']}/{row['APLZL']}"],
    )
    assert float(found["quantity_good"][0]) == float(
        row["LMNGA"].replace(".", "").replace(",", ".")
    )
    from datetime import datetime
    from zoneinfo import ZoneInfo

    local = datetime.strptime(f"{row['ISDD']} {row['ISDZ']}", "%d.%m.%Y %H:%M:%S")
    utc = local.replace(tzinfo=ZoneInfo("Europe/Vienna")).astimezone(ZoneInfo("UTC"))
    assert found["start_time"][0].to_pydatetime().replace(tzinfo=None) == utc.replace(tzinfo=None)


def _sap_rows(path: Path) -> list[dict[str, str]]:
    """The records of an SAP download below its header (a list title above it is skipped)."""
    lines = path.read_text(encoding="cp1252").splitlines()
    start = next(i for i, line in enumerate(lines) if line.count(";") > 2)
    return list(csv.DictReader(lines[start:], delimiter=";"))


def test_an_orders_routing_gives_its_operations_planned_then_confirmed(
    gears: Path, loaded: tuple[Any, Any]
) -> None:
    # AFVC names the routing (AUFPL), not the order: the order is AFKO's with that routing.
    _, store = loaded
    order_of = {r["AUFPL"]: r["AUFNR"] for r in _sap_rows(gears / "erp" / "AFKO.csv")}
    routing = [
        r for r in _sap_rows(gears / "erp" / "AFVC.csv") if r["STEUS"] not in ("PM01", "PM02")
    ]
    confirmed = {
        f"{r['AUFPL']}/{r['APLZL']}"
        for r in _sap_rows(gears / "erp" / "AFRU.csv")
        if r["AUFPL"] and r["STOKZ"] != "X"
    }
    stored = {
        row["external_id"]: row
        for row in store.query_rows(
            "SELECT external_id, work_order, sequence, status, start_time FROM operation "
            "WHERE space = 'erp'"
        )
    }
    for r in routing:
        key = f"{r['AUFPL']}/{r['APLZL']}"
        operation = stored[key]
        assert operation["work_order"] == order_of[r["AUFPL"]], key
        assert operation["sequence"] == int(r["VORNR"])
        if key in confirmed:
            assert operation["status"] in ("completed", "in_progress")
            assert operation["start_time"] is not None
        else:  # not run yet: planned, with no times
            assert (operation["status"], operation["start_time"]) == ("planned", None)
    assert any(f"{r['AUFPL']}/{r['APLZL']}" not in confirmed for r in routing)


def test_suggest_gives_the_pack_mapping_fitted_to_the_file(gears: Path) -> None:
    suggestion = suggest_mapping(gears / "erp" / "AFRU.csv")
    assert [m.name for m in suggestion.matched] == ["afru_operation"]
    assert "header_row: 2" in suggestion.yaml and 'delimiter: ";"' in suggestion.yaml
    assert "encoding: cp1252" in suggestion.yaml


def test_suggest_drafts_a_mapping_for_an_unknown_header(tmp_path: Path) -> None:
    path = tmp_path / "machines.csv"
    path.write_text(
        "EQUNR;Bezeichnung;Hersteller;Inbetriebnahme;Leistung\n"
        "10000116;Fräse 1;Hartl;01.02.2019;12,5\n10000117;Fräse 2;Hartl;03.04.2020;13,0\n",
        encoding="cp1252",
    )
    result = CliRunner().invoke(app, ["mappings", "suggest", str(path)])
    assert result.exit_code == 0, result.output
    text = result.output
    assert "entity: asset" in text
    assert "external_id: EQUNR" in text
    assert 'decimal: ","' in text and "encoding: cp1252" in text
    assert "Leistung: not mapped" in text  # what it could not place is said, not guessed


def test_demo_scores_source_records_from_the_truth(gears: Path, loaded: tuple[Any, Any]) -> None:
    from factorybrain.demo import score_source_records

    _, store = loaded
    truth = json.loads((gears / "truth.json").read_text(encoding="utf-8"))
    (score,) = score_source_records(store, truth)
    assert score.expected == len(truth["source_records"])
    assert score.correct == score.found  # every file loaded is read whole
    assert "af_hierarchy.xml" not in score.note  # its elements and their attributes included
    # every export is one a pack takes: the lab's workbook too, each of its sheets counted
    assert score.found == score.expected, score.note
