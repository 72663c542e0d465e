"""The PI pack's AF mappings: an Asset Framework XML export becomes assets and puts series on them.

``data/pi_af`` holds a small AF database written by hand in the layout of a PI System Explorer
export (a site, two lines, a pump under each, both called "Pump 1", and a motor under one of
them), with a PI Builder point list and a few archive values of the same tags.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from factorybrain.connectors import load_with_packs, plan_folder
from factorybrain.store import DuckDBStore, open_store

DATA = Path(__file__).parent / "data" / "pi_af"
EXPORT = DATA / "af_export.xml"
#: The AF server and database the export names: its elements' paths start with them.
DATABASE = "\\\\PIAF-LNZ\\Linz Water\\"


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, DuckDBStore]]:
    store = open_store(tmp_path_factory.mktemp("pi_af") / "plant.duckdb", migrate=True)
    result = load_with_packs(store, DATA)
    yield result, store
    store.close()


def _reports(result: Any) -> dict[str, Any]:
    return {Path(report.mapping_file).stem: report for report in result.reports}


def test_the_export_is_matched_by_its_root_element(tmp_path: Path) -> None:
    (tmp_path / "Linz AF 2025-03.dat").write_bytes(EXPORT.read_bytes())
    plan = plan_folder(tmp_path)
    assert [(shape.path.name, m.pack, m.name) for shape, m in plan.loads] == [
        ("Linz AF 2025-03.dat", "pi", "pi_af_elements"),
        ("Linz AF 2025-03.dat", "pi", "pi_af_attributes"),
    ]
    assert not plan.unmatched


def test_every_element_and_every_attribute_is_read_and_accounted_for(
    loaded: tuple[Any, DuckDBStore],
) -> None:
    result, _ = loaded
    assert not result.failures and not result.unmatched
    tree = ElementTree.parse(EXPORT)
    elements = tree.findall(".//AFElement")
    attributes = [a for e in elements for a in e.findall("AFAttribute")]
    reports = _reports(result)
    assets, series = reports["pi_af_elements"], reports["pi_af_attributes"]
    for report in result.reports:
        assert report.rows_read == report.accounted, report.mapping_file
        assert report.quarantined == 0, report.quarantine_by_reason
    # one record per element, at every depth
    assert (assets.records_read, assets.rows_read, assets.inserted) == (len(elements),) * 3
    assert len(elements) == 6
    # one row per attribute, and one for the element that has none
    assert (series.records_read, series.rows_read) == (len(elements), len(attributes) + 1)
    assert len(attributes) == 11
    assert series.filtered_by_reason == {
        # static values (time zone, maker, model, ids in SAP) and a formula
        "filter 1: AFAttribute.DataReference equals 'PI Point'": 6,
        # a config string AF has not resolved
        "filter 2: AFAttribute.ConfigString not matches '%[^%]+%'": 1,
        "no items under 'AFAttribute' (missing)": 1,  # Line B
    }
    # two series the point list made get their asset; two are new
    assert (series.inserted, series.updated) == (2, 2)


def test_elements_become_assets_with_their_paths_parents_and_levels(
    loaded: tuple[Any, DuckDBStore],
) -> None:
    _, store = loaded
    rows = store.query_rows(
        "SELECT external_id, name, level, parent, asset_class, manufacturer, model_number, "
        "aliases FROM asset WHERE space = 'historian' ORDER BY external_id"
    )
    site, line_a, line_b = DATABASE + "Linz", DATABASE + "Linz\\Line A", DATABASE + "Linz\\Line B"
    pump = line_a + "\\Pump 1"
    assert [list(row.values()) for row in rows] == [
        [site, "Linz", "site", None, "Site", None, None, []],
        [line_a, "Line A", "line", site, "Production Line", None, None, ["LNZ-A"]],
        [
            pump,
            "Pump 1",
            "equipment",
            line_a,
            "Centrifugal Pump",
            "Andritz",
            "ACP 150",
            ["20004711"],
        ],
        [pump + "\\Motor", "Motor", "equipment", pump, "Motor", None, None, []],
        [line_b, "Line B", "line", site, "Production Line", None, None, []],
        # the other "Pump 1" is another asset: its path tells it apart
        [line_b + "\\Pump 1", "Pump 1", "equipment", line_b, "Centrifugal Pump", None, None, []],
    ]


def test_pi_point_attributes_put_their_series_on_their_elements(
    loaded: tuple[Any, DuckDBStore],
) -> None:
    _, store = loaded
    rows = store.query_rows(
        "SELECT t.external_id, t.asset, t.unit, a.level FROM time_series t "
        "LEFT JOIN asset a ON a.space = t.space AND a.external_id = t.asset "
        "WHERE t.space = 'historian' ORDER BY 1"
    )
    pump_a, pump_b = DATABASE + "Linz\\Line A\\Pump 1", DATABASE + "Linz\\Line B\\Pump 1"
    # The tags are those the point list and the archive name (no server, no options, no ids),
    # so each is one series; each series' asset is an asset of its own space. The point list's
    # unit stays; where it has none, or no point list names the tag, the attribute's fills it.
    assert [list(row.values()) for row in rows] == [
        ["LNZ.A.P1.BRG_TEMP", pump_a, "degree Celsius", "equipment"],
        ["LNZ.A.P1.FLOW", pump_a, "m3/h", "equipment"],
        ["LNZ.A.P1.MOT_CUR", pump_a + "\\Motor", "ampere", "equipment"],
        ["LNZ.B.P1.FLOW", pump_b, "cubic meter per hour", "equipment"],
    ]
    points = store.query_rows(
        "SELECT t.external_id, count(*) AS n FROM datapoint d JOIN time_series t "
        "USING (series_id) GROUP BY 1 ORDER BY 1"
    )
    assert [(row["external_id"], row["n"]) for row in points] == [
        ("LNZ.A.P1.FLOW", 2),
        ("LNZ.A.P1.MOT_CUR", 1),
        ("LNZ.B.P1.FLOW", 1),
    ]


def test_an_export_that_does_not_name_its_database_gives_the_paths_below_it(
    tmp_path: Path,
) -> None:
    text = EXPORT.read_text(encoding="utf-8")
    (tmp_path / "af.xml").write_text(
        text.replace(' PISystem="PIAF-LNZ" Database="Linz Water"', ""), encoding="utf-8"
    )
    with open_store(":memory:", migrate=True) as store:
        result = load_with_packs(store, tmp_path)
        assert not result.failures
        assets = store.query_rows("SELECT external_id, parent FROM asset ORDER BY 1")
        assert assets[:2] == [
            {"external_id": "Linz", "parent": None},
            {"external_id": "Linz\\Line A", "parent": "Linz"},
        ]
        series = store.query_rows(
            "SELECT asset FROM time_series WHERE external_id = ?", ["LNZ.B.P1.FLOW"]
        )
        assert series == [{"asset": "Linz\\Line B\\Pump 1"}]


def test_loading_the_exports_again_changes_nothing(loaded: tuple[Any, DuckDBStore]) -> None:
    _, store = loaded

    def contents() -> list[list[dict[str, Any]]]:
        return [
            store.query_rows(
                f"SELECT * EXCLUDE (created_at, updated_at, ingest_id) FROM {table} ORDER BY ALL"
            )
            for table in ("asset", "time_series")
        ]

    before = contents()
    again = load_with_packs(store, DATA)
    assert not again.failures
    assert [(r.inserted, r.updated) for r in again.reports] == [(0, 0)] * len(again.reports)
    assert contents() == before
