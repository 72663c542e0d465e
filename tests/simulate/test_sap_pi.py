"""The second demo plant (profile ``sap-pi``): formats, determinism and a truth that fits the files.

Every count here is made from the files with the standard library (csv, json, openpyxl,
ElementTree), independently of the platform's connectors.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import unicodedata
import xml.etree.ElementTree as ET
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from typer.testing import CliRunner

from factorybrain.exceptions import ParameterError
from factorybrain.simulate import PlantSummary, simulate_plant

Plant = tuple[Path, PlantSummary, dict[str, Any]]


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Plant:
    """Two lines for 100 days: the planted failure, the bad batch, claims, a DST change."""
    out = tmp_path_factory.mktemp("sap-pi")
    summary = simulate_plant(out, days=100, machines=8, seed=7, profile="sap-pi")
    truth = json.loads((out / "truth.json").read_text(encoding="utf-8"))
    return out, summary, truth


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def sap(out: Path, table: str) -> list[dict[str, str]]:
    """An SAP extract's records: cp1252, ``;``, title lines and the totals line left out."""
    truth = json.loads((out / "truth.json").read_text(encoding="utf-8"))
    info = truth["source_records"][f"erp/{table}.csv"]
    text = (out / "erp" / f"{table}.csv").read_bytes().decode("cp1252")
    lines = text.split("\r\n")[info["lines_before_header"] :]
    rows = list(csv.DictReader(io.StringIO("\r\n".join(lines)), delimiter=";"))
    return rows[: len(rows) - info["trailing_lines"]]


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def distinct(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Events once each (the MES delivers a few twice)."""
    seen: set[str] = set()
    out = []
    for event in events:
        if event["eventId"] not in seen:
            seen.add(event["eventId"])
            out.append(event)
    return out


def pi_rows(out: Path) -> list[tuple[str, datetime, str]]:
    rows = []
    for path in sorted((out / "historian").glob("pi_archive_*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                rows.append((row["Tag"], datetime.fromisoformat(row["Timestamp"]), row["Value"]))
    return rows


def sap_number(text: str) -> float:
    return float(text.replace(".", "").replace(",", "."))


def test_same_seed_gives_identical_files_and_another_seed_does_not(tmp_path: Path) -> None:
    first = simulate_plant(tmp_path / "a", days=12, machines=4, seed=5, profile="sap-pi")
    simulate_plant(tmp_path / "b", days=12, machines=4, seed=5, profile="sap-pi")
    simulate_plant(tmp_path / "c", days=12, machines=4, seed=6, profile="sap-pi")
    a, b, c = (_hashes(tmp_path / name) for name in "abc")
    assert set(a) == set(first.files)
    assert a == b
    differing = {name for name in a if a[name] != c.get(name)}
    assert "mes/production_events.jsonl" in differing
    assert "historian/pi_archive_2025-10.csv" in differing
    assert first.profile == "sap-pi"


def test_the_pump_plant_stays_the_default(tmp_path: Path) -> None:
    default = simulate_plant(tmp_path / "a", days=2, machines=3, seed=11)
    named = simulate_plant(tmp_path / "b", days=2, machines=3, seed=11, profile="pumps")
    assert default.profile == named.profile == "pumps"
    assert default.sample_seconds == 60
    assert _hashes(tmp_path / "a") == _hashes(tmp_path / "b")
    pumps = json.loads((tmp_path / "a" / "truth.json").read_text(encoding="utf-8"))
    gears = simulate_plant(tmp_path / "g", days=12, machines=4, profile="sap-pi")
    assert gears.sample_seconds == 900
    geared = json.loads((tmp_path / "g" / "truth.json").read_text(encoding="utf-8"))
    # the scorers read the first plant's keys: the second plant has every one of them
    assert set(pumps) <= set(geared)
    assert set(pumps["plant"]) <= set(geared["plant"])


@pytest.mark.parametrize(
    ("arguments", "name"),
    [
        ({"machines": 6}, "machines"),
        ({"machines": 44}, "machines"),
        ({"sample_seconds": 30}, "sample_seconds"),
        ({"days": 2000}, "days"),
        ({"profile": "sap"}, "profile"),
    ],
)
def test_arguments_out_of_range_name_the_argument(
    tmp_path: Path, arguments: dict[str, Any], name: str
) -> None:
    kwargs: dict[str, Any] = {"profile": "sap-pi", **arguments}
    with pytest.raises(ParameterError, match=f"'{name}'"):
        simulate_plant(tmp_path, **kwargs)


def test_cli_simulate_takes_a_profile(tmp_path: Path) -> None:
    from factorybrain.cli import app

    result = CliRunner().invoke(
        app,
        ["simulate", "--out", str(tmp_path), "--days", "8", "--machines", "4", "--profile",
         "sap-pi"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    truth = json.loads((tmp_path / "truth.json").read_text(encoding="utf-8"))
    assert truth["plant"]["profile"] == "sap-pi"
    assert truth["plant"]["sample_seconds"] == 900


def test_sap_extracts_are_written_as_sap_downloads_them(plant: Plant) -> None:
    out, _, truth = plant
    raw = (out / "erp" / "MARD.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert "Qualitätsprüfung".encode("cp1252") in raw
    assert b"\r\n" in raw
    for name, info in truth["source_records"].items():
        if name.startswith("erp/"):
            assert info["encoding"] == "cp1252" and info["delimiter"] == ";", name
    mseg = sap(out, "MSEG")
    quantity = re.compile(r"^\d{1,3}(\.\d{3})*,\d{3}$")
    date = re.compile(r"^\d{2}\.\d{2}\.\d{4}$")
    assert all(quantity.match(row["MENGE"]) for row in mseg)
    assert all(date.match(row["BUDAT_MKPF"]) for row in mseg)
    assert all(re.match(r"^\d{2}:\d{2}:\d{2}$", row["CPUTM_MKPF"]) for row in mseg)
    assert all(len(row["MATNR"]) == 18 and row["MATNR"].startswith("0000000000") for row in mseg)
    assert {row["SHKZG"] for row in mseg} == {"S", "H"}
    assert {"101", "261", "601"} <= {row["BWART"] for row in mseg}
    assert any(any(c.isdigit() for c in row["MENGE"]) and "." in row["MENGE"] for row in mseg)
    # material documents are numbered per year: only MBLNR with MJAHR is a key
    assert {row["MJAHR"] for row in mseg} == {"2025", "2026"}
    # floating-point fields as SE16 shows them
    assert all(re.match(r"^-?\d,\d{16}E[+-]\d{2}$", row["MITTELWERT"]) for row in sap(out, "QAMR"))
    # SE16N with field labels: German headings and external material numbers
    mard = sap(out, "MARD")
    assert "Frei verwendbar" in mard[0] and all(not r["Material"].startswith("0") for r in mard)
    lines = (out / "erp" / "AFRU.csv").read_bytes().decode("cp1252").split("\r\n")
    assert lines[0].startswith("Tabelle AFRU") and lines[1].startswith("MANDT;RUECK")
    assert lines[-2].startswith("*;")
    assert sum(sap_number(r["LMNGA"]) for r in sap(out, "AFRU")) == sap_number(
        lines[-2].split(";")[17]
    )


def test_every_record_is_counted_in_the_truth(plant: Plant) -> None:
    out, summary, truth = plant
    counts = truth["source_records"]
    assert set(counts) == set(summary.files) - {"truth.json"}
    for name, info in counts.items():
        path = out / name
        if info["format"] == "csv":
            text = path.read_bytes().decode(info["encoding"])
            body = text.splitlines()[info["lines_before_header"] :]
            rows = list(csv.reader(io.StringIO("\n".join(body)), delimiter=info["delimiter"]))
            found = len(rows) - 1 - info["trailing_lines"]
        elif info["format"] == "jsonl":
            found = len(path.read_text(encoding="utf-8").splitlines())
            events = jsonl(path)
            assert len({e["eventId"] for e in events}) == info["distinct_events"], name
        elif info["format"] == "xlsx":
            book = openpyxl.load_workbook(path, read_only=True)
            found = 0
            for sheet in book.worksheets:
                rows = list(sheet.iter_rows(values_only=True))
                assert rows[info["rows_before_header"]][0] in ("Datum", "Eingang"), sheet.title
                data = [r for r in rows[info["rows_before_header"] + 1 :] if any(r)]
                assert len(data) == info["sheets"][sheet.title]["records"], sheet.title
                found += len(data)
            book.close()
        else:
            root = ET.parse(path).getroot()
            found = len(root.findall(".//AFElement")) + len(root.findall(".//AFAttribute"))
        assert found == info["records"], name
    # a service case's description runs over several lines: lines are not records
    cases = out / "crm" / "cases.csv"
    assert (
        len(cases.read_text(encoding="utf-8-sig").splitlines())
        > counts["crm/cases.csv"]["records"] + 1
    )


def test_pi_export_has_offsets_across_the_dst_change_and_digital_states(plant: Plant) -> None:
    out, _, truth = plant
    october = (out / "historian" / "pi_archive_2025-10.csv").read_text(encoding="utf-8")
    # 26 October 2025: 02:00-03:00 local happens twice, told apart by the offset
    assert re.search(r",2025-10-26T02:\d\d:\d\d\+02:00,", october)
    assert re.search(r",2025-10-26T02:\d\d:\d\d\+01:00,", october)
    rows = pi_rows(out)
    states = {value for _, _, value in rows if not re.match(r"^-?[\d.]+$", value)}
    assert {"Shutdown", "I/O Timeout", "Bad Input", "Calc Failed"} <= states
    assert {"RUN", "STOP", "OFF"} <= states
    assert truth["historian_states"]["Shutdown"] > 0
    # 15-minute scans, irregular by a few seconds, with gaps
    vibration = truth["anomaly_windows"][0]["sensors"][0]
    times = sorted(t for tag, t, _ in rows if tag == vibration)
    steps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
    assert 880 <= sorted(steps)[len(steps) // 2] <= 920
    assert max(steps) > 1800
    assert len({s for s in steps if s < 1000}) > 1


def test_the_stuck_sensor_repeats_one_value(plant: Plant) -> None:
    out, _, truth = plant
    stuck = [f for f in truth["sensor_faults"] if f["kind"] == "stuck"]
    assert len(stuck) == 1
    fault = stuck[0]
    start, end = (datetime.fromisoformat(fault[k].replace("Z", "+00:00")) for k in ("start", "end"))
    values = [v for tag, t, v in pi_rows(out) if tag == fault["tag"] and start <= t < end]
    assert len(values) >= 120 and len(set(values) - {"I/O Timeout", "Shutdown"}) == 1


def test_the_planted_failure_shows_in_one_sensor_only(plant: Plant) -> None:
    out, _, truth = plant
    failure = next(f for f in truth["failures"] if f["kind"] == "degradation")
    assert failure["observable"] and failure["sensors"]
    window = next(w for w in truth["anomaly_windows"] if w["machine"] == failure["machine"])
    when = datetime.fromisoformat(failure["time"].replace("Z", "+00:00"))
    onset = datetime.fromisoformat(window["start"].replace("Z", "+00:00"))
    assert 9 <= (when - onset).total_seconds() / 86400 <= 11
    prefix = failure["sensors"][0].rsplit(".", 2)[0]
    rows = pi_rows(out)

    def running_mean(signal: str, floor: float, days_before: tuple[float, float]) -> float:
        lo, hi = days_before
        values = [
            float(v)
            for tag, t, v in rows
            if tag == f"{prefix}.{signal}.PV"
            and lo <= (when - t).total_seconds() / 86400 < hi
            and re.match(r"^[\d.]+$", v)
            and float(v) > floor
        ]
        assert len(values) > 10, signal
        return sum(values) / len(values)

    vibration_late = running_mean("SPDL_VIB", 0.5, (0.0, 2.0))
    vibration_before = running_mean("SPDL_VIB", 0.5, (12.0, 30.0))
    power_late = running_mean("SPDL_PWR", 3.0, (0.0, 2.0))
    power_before = running_mean("SPDL_PWR", 3.0, (12.0, 30.0))
    assert vibration_late > 1.8 * vibration_before
    assert 0.8 < power_late / power_before < 1.25
    # the repair waited for the spare part: the one true stock-out
    assert truth["spare_stockouts"][0]["machine"] == failure["machine"]
    mseg = sap(out, "MSEG")
    assert any(r["AUFNR"] == failure["maintenance_order"] and r["BWART"] == "261" for r in mseg)
    qmih = sap(out, "QMIH")
    assert any(r["QMNUM"] == failure["notification"] and r["MSAUS"] == "X" for r in qmih)


def test_the_bad_batch_is_in_the_sap_serial_tables_and_the_mes(plant: Plant) -> None:
    out, _, truth = plant
    (bad,) = truth["bad_supplier_lots"]
    mch1 = {r["CHARG"]: r for r in sap(out, "MCH1")}
    assert mch1[bad["erp_batch"]]["LICHA"] == bad["vendor_lot"]
    events = distinct(jsonl(out / "mes" / "production_events.jsonl"))
    built_with = set()
    for event in events:
        for unit in event.get("units", []):
            for consumed in unit.get("consumed", []):
                if bad["vendor_lot"] in consumed["lots"]:
                    built_with.add(unit["serial"])
    assert built_with == set(bad["serials"])
    # every order that used it consumed several batches (one or two of each component), and
    # where it ran out, units of the same order got another batch of the same bearing
    matnr = mch1[bad["erp_batch"]]["MATNR"]
    batches_of: dict[str, set[str]] = defaultdict(set)
    bearings_of: dict[str, set[str]] = defaultdict(set)
    for row in sap(out, "MSEG"):
        if row["BWART"] == "261" and row["AUFNR"] in bad["orders"]:
            batches_of[row["AUFNR"]].add(row["CHARG"])
            if row["MATNR"] == matnr:
                bearings_of[row["AUFNR"]].add(row["CHARG"])
    assert set(bad["orders"]) == set(batches_of)
    assert all(bad["erp_batch"] in bearings_of[order] for order in bad["orders"])
    assert all(len(batches_of[order]) >= 5 for order in bad["orders"])
    mixed = [order for order in bad["orders"] if len(bearings_of[order]) > 1]
    assert mixed
    units_of: dict[str, set[str]] = defaultdict(set)
    for event in events:
        if event["eventType"] == "OPERATION_COMPLETED" and event["operation"]["seq"] == "0030":
            units_of[event["order"]["orderId"]] |= {u["serial"] for u in event["units"]}
    for order in mixed:
        assert units_of[order.lstrip("0")] - set(bad["serials"]), order
    # the good units of those orders were received with their serials (SER05, OBJK)
    headers = {r["OBKNR"]: r for r in sap(out, "SER05")}
    received = {
        r["SERNR"]
        for r in sap(out, "OBJK")
        if r["TASER"] == "SER05" and headers[r["OBKNR"]]["PPAUFNR"] in bad["orders"]
    }
    passed = {
        unit["serial"]
        for event in events
        if event["eventType"] == "OPERATION_COMPLETED" and event["operation"]["seq"] == "0040"
        for unit in event["units"]
        if unit["result"] == "PASS"
    }
    assert set(bad["serials"]) & passed <= received


def test_claims_are_typed_by_people_and_trace_back(plant: Plant) -> None:
    out, _, truth = plant
    assert truth["claims"], "a 100-day plant has service cases"
    with (out / "crm" / "cases.csv").open(encoding="utf-8-sig", newline="") as handle:
        cases = {row["CaseNumber"]: row for row in csv.DictReader(handle)}
    delivered = {r["SERNR"] for r in sap(out, "OBJK") if r["TASER"] == "SER01"}
    for claim in truth["claims"]:
        case = cases[claim["claim_id"]]
        assert case["Serial_Number__c"] == claim["serial_as_typed"]
        assert claim["serial"] in delivered
        typed = unicodedata.normalize("NFKC", case["Serial_Number__c"]).upper()
        typed = typed.replace(" ", "").replace("-", "")
        known = {claim["serial"], claim["serial"][:4] + claim["serial"][4:].lstrip("0")}
        mistyped = {m["claim_id"] for m in truth["dirt"]["crm_mistyped_serials"]}
        assert (typed in known) != (claim["claim_id"] in mistyped)
    assert any(case["Failure_Code__c"] == "" for case in cases.values())
    assert any(case["Failure_Code__c"] != "" for case in cases.values())
    for duplicate in truth["dirt"]["crm_duplicate_claims"]:
        assert duplicate["claim_id"] in cases and duplicate["duplicate_of"] in cases
    clusters = {c["cause"]: c for c in truth["claim_clusters"]}
    if "supplier_lot" in clusters:
        lot = truth["bad_supplier_lots"][0]
        assert clusters["supplier_lot"]["root_cause"] == lot["lot"]
        assert set(clusters["supplier_lot"]["serials"]) <= set(lot["serials"])


def test_claims_speak_three_languages(tmp_path: Path) -> None:
    out = tmp_path / "plant"
    simulate_plant(out, days=150, machines=12, seed=7, profile="sap-pi")
    with (out / "crm" / "cases.csv").open(encoding="utf-8-sig", newline="") as handle:
        text = " ".join(row["Description"] for row in csv.DictReader(handle))
    assert re.search(r"[\u4e00-\u9fff]", text)
    assert re.search(r"[äöüß]", text)
    assert "gear" in text.lower() or "output shaft" in text


def test_stock_unknown_is_not_a_stock_of_zero(plant: Plant) -> None:
    out, _, truth = plant
    numbers = {
        e["id"]: e["refs"]["erp"][0].lstrip("0")
        for e in truth["entities"]
        if e["type"] == "material"
    }
    counted = {r["Material"] for r in sap(out, "MARD")}
    unknown = {u["material"] for u in truth["stock"]["stock_unknown"]}
    assert len(unknown) == 3
    for material in unknown:
        assert numbers[material] not in counted
    for material, number in numbers.items():
        if material not in unknown:
            assert number in counted, material
    # every one of them goes into the gear units (bill of materials), every day
    components = {r["IDNRK"].lstrip("0") for r in sap(out, "STPO") if r["STLTY"] == "M"}
    for material in unknown:
        assert numbers[material] in components, material
    assert all(u["consumed_per_day"] > 0 for u in truth["stock"]["stock_unknown"])
    stockouts = {s["part"] for s in truth["spare_stockouts"]}
    assert not stockouts & unknown


def test_work_centres_are_only_in_sap(plant: Plant) -> None:
    out, _, truth = plant
    assert sorted(p.name for p in (out / "mes").iterdir()) == [
        "equipment_states.jsonl",
        "production_events.jsonl",
    ]
    work_centres = {r["ARBPL"]: r["OBJID"] for r in sap(out, "CRHD")}
    operations = sap(out, "AFVC")
    assert {r["ARBID"] for r in operations} <= set(work_centres.values())
    assert truth["open_work_orders"]
    orders = {r["AUFNR"] for r in sap(out, "AFKO")}
    for order in truth["open_work_orders"]:
        assert order["erp_order"] in orders
        assert {step["work_centre"] for step in order["routing"]} <= set(work_centres)
    resources = {
        e["equipment"]["id"] for e in jsonl(out / "mes" / "equipment_states.jsonl")
    }  # fmt: skip
    machines = [e for e in truth["entities"] if e["type"] == "equipment"]
    assert resources == {m["refs"]["mes"][0] for m in machines}


def test_oee_truth_is_what_the_mes_stream_shows(plant: Plant) -> None:
    out, _, truth = plant
    end = datetime.fromisoformat(truth["plant"]["end"].replace("Z", "+00:00"))
    changes: dict[str, list[tuple[datetime, str, str]]] = defaultdict(list)
    for event in distinct(jsonl(out / "mes" / "equipment_states.jsonl")):
        stamp = datetime.fromisoformat(event["occurredAt"].replace("Z", "+00:00"))
        state = event["state"]
        changes[event["equipment"]["id"]].append((stamp, state["e10"], state["reason"]["code"]))
    processed: dict[str, int] = defaultdict(int)
    for event in distinct(jsonl(out / "mes" / "production_events.jsonl")):
        if event["eventType"] == "OPERATION_COMPLETED":
            q = event["quantities"]
            processed[event["operation"]["resource"]] += q["good"] + q["scrap"]
    code = {e["id"]: e["refs"]["mes"][0] for e in truth["entities"] if e["type"] == "equipment"}
    for machine, expected in truth["oee"].items():
        stream = sorted(changes[code[machine]])
        minutes: dict[str, float] = defaultdict(float)
        for (at, e10, reason), (following, _, _) in zip(
            stream, stream[1:] + [(end, "", "")], strict=True
        ):
            key = "PM" if reason == "PM" else e10
            minutes[key] += (following - at).total_seconds() / 60
        planned = sum(minutes.values()) - minutes["NON_SCHEDULED"] - minutes["PM"]
        assert planned == pytest.approx(expected["planned_minutes"], abs=0.02)
        assert minutes["PRODUCTIVE"] == pytest.approx(expected["running_minutes"], abs=0.02)
        assert processed[code[machine]] == expected["units_processed"]


def test_every_entity_is_named_in_its_silos_and_names_one_object(plant: Plant) -> None:
    out, _, truth = plant
    text = {
        "erp": "".join(p.read_bytes().decode("cp1252") for p in (out / "erp").glob("*.csv")),
        "mes": "".join(p.read_text(encoding="utf-8") for p in (out / "mes").glob("*.jsonl")),
        "historian": (out / "historian" / "pi_points.csv").read_text(encoding="utf-8")
        + (out / "historian" / "af_hierarchy.xml").read_text(encoding="utf-8"),
        "crm": (out / "crm" / "cases.csv").read_text(encoding="utf-8-sig"),
    }
    book = openpyxl.load_workbook(out / "qms" / "Pruefprotokolle.xlsx", read_only=True)
    text["qms"] = " ".join(
        str(cell) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)
        for cell in row if cell is not None
    )  # fmt: skip
    book.close()
    owner: dict[tuple[str, str], set[str]] = defaultdict(set)
    for entity in truth["entities"]:
        assert entity["refs"], entity["id"]
        for silo, refs in entity["refs"].items():
            assert refs[0] in text[silo], (entity["id"], silo, refs[0])
            if entity["type"] != "time_series":
                for ref in refs:
                    owner[(silo, ref)].add(entity["id"])
    shared = {key: ids for key, ids in owner.items() if len(ids) > 1}
    assert not shared
    machines = [e for e in truth["entities"] if e["type"] == "equipment"]
    for machine in machines:
        assert {"erp", "mes", "historian"} <= set(machine["refs"])
        names = {silo: refs[0] for silo, refs in machine["refs"].items()}
        assert len(set(names.values())) == len(names), "silos name a machine differently"
