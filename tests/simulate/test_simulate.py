from __future__ import annotations

import hashlib
import json
import sqlite3
import tracemalloc
from contextlib import closing
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import factorybrain.simulate
from factorybrain.exceptions import ParameterError
from factorybrain.simulate import PlantSummary, _historian, simulate_plant


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _mes(out: Path) -> sqlite3.Connection:
    """The MES database, read into memory so no file handle outlives the test."""
    with closing(sqlite3.connect(out / "mes" / "mes.sqlite")) as source:
        db = sqlite3.connect(":memory:")
        source.backup(db)
    return db


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, PlantSummary]:
    """A plant long enough for failures, shipments and warranty claims (historian hourly)."""
    out = tmp_path_factory.mktemp("plant")
    summary = simulate_plant(out, days=100, machines=4, seed=7, sample_seconds=3600)
    return out, summary


def test_public_api_is_pinned() -> None:
    assert factorybrain.simulate.__all__ == ["PlantSummary", "simulate_plant"]


def test_same_seed_gives_identical_files_and_another_seed_does_not(tmp_path: Path) -> None:
    first = simulate_plant(tmp_path / "a", days=2, machines=3, seed=11)
    simulate_plant(tmp_path / "b", days=2, machines=3, seed=11)
    simulate_plant(tmp_path / "c", days=2, machines=3, seed=12)
    a, b, c = (_hashes(tmp_path / name) for name in "abc")
    assert set(a) == set(first.files)
    assert a == b
    differing = {name for name in a if a[name] != c.get(name)}
    assert "historian/history.parquet" in differing
    assert "mes/mes.sqlite" in differing


def test_every_silo_is_written(plant: tuple[Path, PlantSummary]) -> None:
    out, summary = plant
    folders = {name.split("/")[0] for name in summary.files}
    assert {"erp", "mes", "historian", "qms", "wms", "crm", "engineering"} <= folders
    assert "truth.json" in summary.files
    table = pq.read_table(out / "historian" / "history.parquet")
    assert table.num_rows == summary.datapoints
    assert table.column_names == ["tag", "ts", "value"]


def test_claimed_serials_trace_to_lots_and_machines(plant: tuple[Path, PlantSummary]) -> None:
    out, _ = plant
    truth = json.loads((out / "truth.json").read_text())
    assert truth["claims"], "a 100-day plant must have warranty claims"
    db = _mes(out)
    serial_wo = dict(db.execute("SELECT serial_no, wo_number FROM serials"))
    lots_of = {}
    for wo, batch in db.execute("SELECT wo_number, batch FROM material_consumption"):
        lots_of.setdefault(wo, set()).add(batch)
    machines_of = {}
    for wo, machine in db.execute("SELECT wo_number, machine_code FROM operations"):
        machines_of.setdefault(wo, set()).add(machine)
    entity = {e["id"]: e for e in truth["entities"]}
    for claim in truth["claims"]:
        wo = serial_wo[claim["serial"]]
        assert lots_of[wo] and machines_of[wo]
        if claim["cause"] == "supplier_lot":
            assert entity[claim["root_cause"]]["refs"]["mes"][0] in lots_of[wo]
        if claim["cause"] == "degraded_machine":
            assert entity[claim["root_cause"]]["refs"]["mes"][0] in machines_of[wo]
    shipments = (out / "wms" / "shipments.csv").read_text().splitlines()
    shipped = {row.split(",")[-1] for row in shipments}
    assert {c["serial"] for c in truth["claims"]} <= shipped
    lines = (out / "crm" / "claims.jsonl").read_text().splitlines()
    crm_ids = {json.loads(line)["claim_id"] for line in lines}
    assert {c["claim_id"] for c in truth["claims"]} <= crm_ids
    for lot in truth["bad_supplier_lots"]:
        assert lot["serials"]
        assert set(lot["serials"]) <= set(serial_wo)
        batch = entity[lot["lot"]]["refs"]["mes"][0]
        assert all(batch in lots_of[serial_wo[s]] for s in lot["serials"])


def test_failures_show_as_breakdowns_in_the_mes(plant: tuple[Path, PlantSummary]) -> None:
    out, summary = plant
    truth = json.loads((out / "truth.json").read_text())
    assert len(truth["failures"]) == summary.failures > 0
    mes_code = {e["id"]: e["refs"]["mes"][0] for e in truth["entities"] if e["type"] == "equipment"}
    db = _mes(out)
    down = {
        row[0]
        for row in db.execute(
            "SELECT machine_code FROM machine_states WHERE reason_code IN ('D10', 'D20')"
        )
    }
    assert {mes_code[f["machine"]] for f in truth["failures"]} <= down
    for failure in truth["failures"]:
        assert failure["degradation_start"] < failure["time"]


def test_every_entity_appears_in_its_silos(plant: tuple[Path, PlantSummary]) -> None:
    out, _ = plant
    truth = json.loads((out / "truth.json").read_text())
    text = {
        "erp": "".join(p.read_text() for p in (out / "erp").glob("*.csv")),
        "wms": "".join(p.read_text() for p in (out / "wms").glob("*.csv")),
        "engineering": "".join(p.read_text() for p in (out / "engineering").glob("*.json")),
        "historian": (out / "historian" / "tags.csv").read_text(),
    }
    for entity in truth["entities"]:
        for silo, refs in entity["refs"].items():
            if silo in text and entity["type"] != "customer":
                assert refs[0] in text[silo], (entity["id"], silo, refs[0])
    machines = [e for e in truth["entities"] if e["type"] == "equipment"]
    for machine in machines:
        names = {silo: refs[0] for silo, refs in machine["refs"].items()}
        assert len(set(names.values())) >= 4, "silos must name a machine differently"


def test_historian_streams_in_chunks_with_bounded_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_historian, "CHUNK_SAMPLES", 1 << 13)
    peaks = []
    for days in (1, 4):
        tracemalloc.start()
        summary = simulate_plant(tmp_path / str(days), days=days, machines=1, sample_seconds=2)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        meta = pq.ParquetFile(tmp_path / str(days) / "historian" / "history.parquet").metadata
        assert meta.num_row_groups >= summary.datapoints // (6 << 13)
    assert peaks[1] < 1.6 * peaks[0]


@pytest.mark.parametrize(
    ("field", "value"), [("days", 0), ("machines", -1), ("sample_seconds", 0), ("days", 1.5)]
)
def test_bad_arguments_name_the_parameter(tmp_path: Path, field: str, value: object) -> None:
    with pytest.raises(ParameterError, match=field):
        simulate_plant(tmp_path, **{field: value})


def _history(out: Path):
    table = pq.read_table(out / "historian" / "history.parquet").to_pandas()
    table["tag"] = table["tag"].astype(str)
    return table.drop_duplicates(["tag", "ts"]).set_index(["tag", "ts"])["value"].sort_index()


def test_degradation_shows_in_vibration_a_day_before_each_failure(
    plant: tuple[Path, PlantSummary],
) -> None:
    import pandas as pd

    out, _ = plant
    truth = json.loads((out / "truth.json").read_text())
    history = _history(out)
    checked = 0
    for failure in truth["failures"]:
        vib = next(s for s in failure["sensors"] if s.endswith("VIB_RMS"))
        prefix = vib.split(".")[0]
        time = pd.Timestamp(failure["time"])
        if any(
            f["tag"] == vib
            and pd.Timestamp(f["start"]) < time
            and pd.Timestamp(f["end"]) > time - pd.Timedelta(days=3)
            for f in truth["sensor_faults"]
        ):
            continue
        running = history.loc[f"{prefix}.RUN"] == 1
        values = history.loc[vib][running.reindex(history.loc[vib].index, fill_value=False)]
        healthy = values[values.index < pd.Timestamp(failure["degradation_start"])]
        before = values[(values.index >= time - pd.Timedelta(days=2)) & (values.index < time)]
        if len(before) < 3 or len(healthy) < 10:
            continue
        assert before.median() > 1.5 * healthy.tail(200).median(), failure
        checked += 1
    assert checked >= 1


def test_a_defect_is_detectable_only_while_its_machine_runs(
    plant: tuple[Path, PlantSummary],
) -> None:
    import pandas as pd

    out, _ = plant
    truth = json.loads((out / "truth.json").read_text())
    history = _history(out)
    entries = truth["failures"] + truth["anomaly_windows"]
    shown = [e for e in entries if e["detectable_from"] is not None]
    assert shown
    for entry in shown:
        prefix = entry["sensors"][0].split(".")[0]
        at = pd.Timestamp(entry["detectable_from"])
        assert at >= pd.Timestamp(entry.get("start") or entry["degradation_start"])
        run = history.loc[f"{prefix}.RUN"]
        # the hourly historian samples the running state of the hour's first minute
        assert (run[(run.index >= at.floor("h")) & (run.index <= at.ceil("h"))] == 1).any()
    for entry in entries + truth["pending_failures"]:
        if entry["detectable_from"] is None:
            assert entry["observable"] is False


def test_an_idle_machine_shows_no_defect() -> None:
    import numpy as np

    from factorybrain.simulate._maintenance import (
        OBSERVABLE_RUNNING_MINUTES,
        Cycle,
        cycle_detectability,
    )

    cycle = Cycle(start=0, onset=100, failure=400, end=400, end_kind="failure")
    health = np.zeros(500, dtype=np.float32)
    health[100:400] = np.linspace(0.0, 1.0, 300) ** 1.5
    idle = np.zeros(500, dtype=bool)
    idle[:150] = True  # runs until the defect is still too small to see, then stands
    (shown,) = cycle_detectability([cycle], idle, health)
    assert shown.first_running is None and not shown.observable
    running = np.ones(500, dtype=bool)
    (shown,) = cycle_detectability([cycle], running, health)
    assert shown.first_running == int(np.argmax(health >= 0.1))
    assert shown.running_minutes >= OBSERVABLE_RUNNING_MINUTES and shown.observable


def test_true_oee_can_be_recomputed_from_the_mes(plant: tuple[Path, PlantSummary]) -> None:
    import pandas as pd

    out, _ = plant
    truth = json.loads((out / "truth.json").read_text())
    db = _mes(out)
    states = pd.read_sql(
        "SELECT DISTINCT machine_code, state, reason_code, start_time, end_time FROM "
        "machine_states",
        db,
        parse_dates=["start_time", "end_time"],
    )
    states["minutes"] = (states.end_time - states.start_time).dt.total_seconds() / 60
    shifts = pd.read_sql("SELECT * FROM shifts", db, parse_dates=["start_time", "end_time"])
    shifts["minutes"] = (shifts.end_time - shifts.start_time).dt.total_seconds() / 60
    line_of = dict(db.execute("SELECT machine_code, line_code FROM machines"))
    code = {e["refs"]["mes"][0]: e["id"] for e in truth["entities"] if e["type"] == "equipment"}
    for machine, rows in states.groupby("machine_code"):
        running = rows.loc[rows.state == "RUNNING", "minutes"].sum()
        planned = shifts.loc[shifts.line_code == line_of[machine], "minutes"].sum()
        expected = truth["oee"][code[machine]]
        assert running == expected["running_minutes"]
        assert abs(running / planned - expected["availability"]) < 0.01
    ops = pd.read_sql(
        "SELECT DISTINCT o.op_id, o.machine_code, o.qty_good, o.qty_scrap, r.ideal_cycle_s "
        "FROM operations o JOIN work_orders w ON o.wo_number = w.wo_number "
        "JOIN routings r ON r.product_code = w.product_code AND r.op_seq = o.op_seq",
        db,
    )
    ops["done"] = ops.qty_good + ops.qty_scrap
    ops["ideal"] = ops.done * ops.ideal_cycle_s / 60
    for machine, rows in ops.groupby("machine_code"):
        expected = truth["oee"][code[machine]]
        assert rows.done.sum() == expected["units_processed"]
        assert rows.qty_good.sum() == expected["units_good"]
        performance = rows.ideal.sum() / expected["running_minutes"]
        assert abs(performance - expected["performance"]) < 0.002


def test_a_machine_is_degrading_when_the_horizon_ends(plant: tuple[Path, PlantSummary]) -> None:
    out, _ = plant
    truth = json.loads((out / "truth.json").read_text())
    assert truth["pending_failures"]
    for pending in truth["pending_failures"]:
        assert truth["plant"]["end"] < pending["expected_failure"]
        assert pending["degradation_start"] < truth["plant"]["end"]


def test_every_export_is_documented(plant: tuple[Path, PlantSummary]) -> None:
    _, summary = plant
    docs = (Path(__file__).resolve().parents[2] / "docs" / "demo-factory.md").read_text()
    for name in summary.files:
        assert Path(name).name in docs, name
    db = _mes(plant[0])
    for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
        assert f"`{table}`" in docs, table
    truth = json.loads((plant[0] / "truth.json").read_text())
    for key in truth:
        assert f"`{key}`" in docs, key


def test_planted_sensor_faults_are_in_the_history(plant: tuple[Path, PlantSummary]) -> None:
    import pandas as pd

    out, _ = plant
    truth = json.loads((out / "truth.json").read_text())
    history = _history(out)
    kinds = set()
    for fault in truth["sensor_faults"]:
        values = history.loc[fault["tag"]]
        inside = values[
            (values.index >= pd.Timestamp(fault["start"]))
            & (values.index < pd.Timestamp(fault["end"]))
        ]
        if fault["kind"] == "gap":
            assert inside.empty, fault
        elif fault["kind"] == "stuck":
            assert inside.nunique() <= 1, fault
        kinds.add(fault["kind"])
    assert {"gap", "stuck"} <= kinds


def test_out_must_be_a_folder(tmp_path: Path) -> None:
    target = tmp_path / "plant.txt"
    target.write_text("not a folder")
    with pytest.raises(ParameterError, match="out"):
        simulate_plant(target, days=1, machines=1)


def test_no_silo_gives_two_objects_the_same_name(plant: tuple[Path, PlantSummary]) -> None:
    out, _ = plant
    truth = json.loads((out / "truth.json").read_text())
    seen: dict[tuple[str, str, str], str] = {}
    for entity in truth["entities"]:
        for silo, refs in entity["refs"].items():
            for ref in refs:
                key = (entity["type"], silo, ref)
                assert seen.setdefault(key, entity["id"]) == entity["id"], key
