"""A fleet: several pump plants of one company, each in its own folder with its own identifiers."""

from __future__ import annotations

import csv
import hashlib
import json
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from factorybrain.cli import app
from factorybrain.exceptions import ParameterError
from factorybrain.simulate import PlantSummary, simulate_plant
from factorybrain.simulate._plant import site_seed
from factorybrain.simulate._world import MAX_SITES, Site

runner = CliRunner()


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _csv(path: Path, column: str, delimiter: str = ",") -> set[str]:
    with path.open(encoding="utf-8", newline="") as handle:
        return {row[column] for row in csv.DictReader(handle, delimiter=delimiter) if row[column]}


def _mes(path: Path, sql: str) -> set[str]:
    with closing(sqlite3.connect(path)) as db:
        return {str(value) for (value,) in db.execute(sql)}


#: Every identifier of a site a second site must not have, by what it identifies.
IDENTIFIERS: dict[str, Callable[[Path], set[str]]] = {
    "ERP equipment": lambda s: _csv(s / "erp/equipment.csv", "EQUNR", ";"),
    "ERP functional location": lambda s: _csv(s / "erp/equipment.csv", "TPLNR", ";"),
    "MES machine": lambda s: _mes(s / "mes/mes.sqlite", "SELECT machine_code FROM machines"),
    "MES line": lambda s: _mes(s / "mes/mes.sqlite", "SELECT line_code FROM lines"),
    "engineering asset": lambda s: {
        e["asset"] for e in json.loads((s / "engineering/equipment.json").read_text())["equipment"]
    },
    "historian tag": lambda s: _csv(s / "historian/tags.csv", "tag"),
    "MES work order": lambda s: _mes(s / "mes/mes.sqlite", "SELECT wo_number FROM work_orders"),
    "ERP production order": lambda s: _csv(s / "erp/production_orders.csv", "AUFNR", ";"),
    "ERP maintenance order": lambda s: _csv(s / "erp/maintenance_orders.csv", "AUFNR", ";"),
    "ERP purchase order": lambda s: _csv(s / "erp/purchase_orders.csv", "EBELN", ";"),
    "ERP sales order": lambda s: _csv(s / "erp/sales_orders.csv", "VBELN", ";"),
    "ERP batch": lambda s: _csv(s / "erp/purchase_orders.csv", "CHARG", ";"),
    "supplier lot": lambda s: _csv(s / "erp/purchase_orders.csv", "LICHA", ";"),
    "MES batch": lambda s: _mes(s / "mes/mes.sqlite", "SELECT batch FROM material_consumption"),
    "WMS batch": lambda s: _csv(s / "wms/movements.csv", "batch"),
    "serial": lambda s: _mes(s / "mes/mes.sqlite", "SELECT serial_no FROM serials"),
    "WMS movement": lambda s: _csv(s / "wms/movements.csv", "movement_id"),
    "WMS shipment": lambda s: _csv(s / "wms/shipments.csv", "shipment_id"),
    "CRM claim": lambda s: {
        json.loads(line)["claim_id"]
        for line in (s / "crm/claims.jsonl").read_text(encoding="utf-8").splitlines()
    },
}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, PlantSummary]:
    """Two sites of 60 days and 4 machines each: long enough for failures and claims at both."""
    out = tmp_path_factory.mktemp("fleet")
    return out, simulate_plant(out, days=60, machines=4, seed=3, sample_seconds=3600, sites=2)


def test_a_fleet_is_one_full_plant_per_site_and_the_manifest_that_loads_them(
    fleet: tuple[Path, PlantSummary], tmp_path: Path
) -> None:
    out, summary = fleet
    alone = simulate_plant(tmp_path, days=2, machines=4, seed=3, sample_seconds=3600)
    assert summary.sites == 2
    assert sorted(p.name for p in out.iterdir()) == ["fleet.yaml", "site-01", "site-02"]
    for site in ("site-01", "site-02"):
        written = {str(p.relative_to(out / site)) for p in (out / site).rglob("*") if p.is_file()}
        assert written == set(alone.files)
    assert set(summary.files) == {
        "fleet.yaml",
        *(f"{site}/{name}" for site in ("site-01", "site-02") for name in alone.files),
    }
    points = sum(
        pq.read_metadata(out / s / "historian/history.parquet").num_rows
        for s in ("site-01", "site-02")
    )
    assert summary.datapoints == points
    assert summary.claims > 0 and summary.failures > 0

    manifest = yaml.safe_load((out / "fleet.yaml").read_text(encoding="utf-8"))
    assert manifest["include"] == [
        {
            "manifest": "factorybrain:examples/demo_plant/plant.yaml",
            "site": site,
            "exports": site,
        }
        for site in ("site-01", "site-02")
    ]


def test_each_site_has_its_own_seed_truth_and_plant_code(fleet: tuple[Path, PlantSummary]) -> None:
    out, _ = fleet
    first, second = (
        json.loads((out / site / "truth.json").read_text(encoding="utf-8"))["plant"]
        for site in ("site-01", "site-02")
    )
    assert (first["site"], first["site_code"], first["erp_plant"]) == ("site-01", "HAM", "PL01")
    assert (second["site"], second["site_code"], second["erp_plant"]) == ("site-02", "BRE", "PL02")
    assert first["name"] == "Hanse Pumpenwerk Hamburg"
    assert (first["seed"], second["seed"]) == (site_seed(3, 1), site_seed(3, 2))
    assert len({first["seed"], second["seed"], 3}) == 3
    hashes = [_hashes(out / site) for site in ("site-01", "site-02")]
    assert hashes[0]["historian/history.parquet"] != hashes[1]["historian/history.parquet"]


@pytest.mark.parametrize("kind", sorted(IDENTIFIERS))
def test_two_sites_never_share_an_identifier(fleet: tuple[Path, PlantSummary], kind: str) -> None:
    out, _ = fleet
    first, second = (IDENTIFIERS[kind](out / site) for site in ("site-01", "site-02"))
    assert first and second, f"no {kind} written"
    assert not first & second


def test_master_data_is_the_companys_at_every_site(fleet: tuple[Path, PlantSummary]) -> None:
    out, _ = fleet
    for name, column in (("materials", "MATNR"), ("suppliers", "LIFNR"), ("customers", "KUNNR")):
        first, second = (
            _csv(out / site / "erp" / f"{name}.csv", column, ";") for site in ("site-01", "site-02")
        )
        assert first == second


def test_the_identifiers_carry_the_sites_marks(fleet: tuple[Path, PlantSummary]) -> None:
    out, _ = fleet
    site = out / "site-02"
    assert all(code.startswith("BRE-") for code in IDENTIFIERS["MES machine"](site))
    assert all(tag.startswith("BRE_L") for tag in IDENTIFIERS["historian tag"](site))
    assert all(path.startswith("bre/line") for path in IDENTIFIERS["engineering asset"](site))
    assert all(number.startswith("2") for number in IDENTIFIERS["ERP equipment"](site))
    assert all(order.startswith("47") for order in IDENTIFIERS["ERP purchase order"](site))
    assert all(place.startswith("PL02-") for place in IDENTIFIERS["ERP functional location"](site))
    # The MES's work order and the ERP's production order still name each other.
    with closing(sqlite3.connect(site / "mes/mes.sqlite")) as db:
        orders = dict(db.execute("SELECT wo_number, erp_order FROM work_orders"))
    assert set(orders.values()) == IDENTIFIERS["ERP production order"](site)
    assert all(order.startswith("BRE-WO") for order in orders)
    # The WMS's issues to production name the MES's orders, marks and all.
    issued = _csv(site / "wms/movements.csv", "reference") & set(orders)
    assert len(issued) > len(orders) / 2


def test_the_same_seed_gives_the_same_fleet(tmp_path: Path) -> None:
    simulate_plant(tmp_path / "a", days=3, machines=2, seed=5, sample_seconds=3600, sites=2)
    simulate_plant(tmp_path / "b", days=3, machines=2, seed=5, sample_seconds=3600, sites=2)
    assert _hashes(tmp_path / "a") == _hashes(tmp_path / "b")


def test_sites_1_writes_the_plant_of_before_byte_for_byte(tmp_path: Path) -> None:
    arguments = ["simulate", "--days", "14", "--machines", "4", "--seed", "3"]
    arguments += ["--sample-seconds", "3600"]
    plain = runner.invoke(app, [*arguments, "--out", str(tmp_path / "plain")])
    one = runner.invoke(app, [*arguments, "--out", str(tmp_path / "one"), "--sites", "1"])
    assert plain.exit_code == 0, plain.output
    assert one.exit_code == 0, one.output
    assert _hashes(tmp_path / "plain") == _hashes(tmp_path / "one")
    assert not (tmp_path / "one" / "fleet.yaml").exists()
    assert (tmp_path / "one" / "erp" / "equipment.csv").is_file()
    assert "PL01-" in (tmp_path / "one" / "erp" / "equipment.csv").read_text(encoding="utf-8")


def test_the_command_writes_a_fleet_and_says_so(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["simulate", "--out", str(tmp_path), "--days", "2", "--machines", "2"]
        + ["--sample-seconds", "3600", "--sites", "3"],
    )
    assert result.exit_code == 0, result.output
    assert "3 sites" in result.output
    assert f"factorybrain load {tmp_path / 'fleet.yaml'}" in " ".join(result.output.split())
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "fleet.yaml",
        "site-01",
        "site-02",
        "site-03",
    ]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"sites": 0}, "'sites' parameter of simulate_plant must be an int in [1, 99]"),
        ({"sites": 100}, "Got 100 instead"),
        ({"sites": 2, "profile": "sap-pi", "machines": 4}, "must be 1 for profile 'sap-pi'"),
    ],
)
def test_an_odd_number_of_sites_is_refused(
    tmp_path: Path, arguments: dict[str, object], message: str
) -> None:
    with pytest.raises(ParameterError, match=message.replace("[", r"\[").replace("]", r"\]")):
        simulate_plant(tmp_path, days=1, **arguments)  # type: ignore[arg-type]


def test_site_codes_and_number_ranges_stay_apart() -> None:
    sites = [Site(number, MAX_SITES) for number in range(1, MAX_SITES + 1)]
    codes = [site.code for site in sites]
    assert len(set(codes)) == MAX_SITES
    assert all(code.isalpha() and code.isupper() for code in codes)
    assert codes[:2] == ["HAM", "BRE"] and codes[10] == "SAA"
    alone = Site()
    assert (alone.mark("LTH-01"), alone.path("line1"), alone.plant) == ("LTH-01", "line1", "PL01")
    assert alone.number_range(4_040_001, 10**8) == 4_040_001
    assert Site(2, 3).number_range(4_040_001, 10**8) == 204_040_001
    # A supplier numbers its lots in one sequence over every site it delivers to.
    deliveries = {Site(n, 3).lot_sequence(k) for n in (1, 2, 3) for k in range(1, 50)}
    assert deliveries == set(range(1, 148))
