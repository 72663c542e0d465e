"""The SAP pack's mappings of order status, notifications, locations, BOMs, serials and QM.

The exports under ``data/sap`` are small hand-written SAP table extracts as SE16N, an ALV list or
a data extraction writes them: ``;`` or ``,`` separated, a list title above some headers,
Windows-1252 text, the client (``MANDT``) column, keys with their leading zeros, decimal commas
and plant local time (Europe/Berlin here).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from factorybrain.connectors import PackLoad, load_with_packs, plan_folder
from factorybrain.store import DuckDBStore, open_store

DATA = Path(__file__).parent / "data" / "sap"
ZONE = "Europe/Berlin"
#: Columns that tell the rows of a table apart.
KEYS = ("space", "external_id", "edge_type", "source_external_id", "target_external_id")


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PackLoad, DuckDBStore]]:
    store = open_store(tmp_path_factory.mktemp("sap") / "plant.duckdb", migrate=True)
    result = load_with_packs(store, DATA, timezone=ZONE)
    yield result, store
    store.close()


def _rows(store: DuckDBStore, sql: str) -> list[list[Any]]:
    return store.query(sql).astype(object).where(lambda frame: frame.notna(), None).values.tolist()


def _utc(text: str) -> datetime:
    """A UTC time as the store keeps it (naive), written ``DD.MM.YYYY HH:MM``."""
    return datetime.strptime(text, "%d.%m.%Y %H:%M")


def _report(result: PackLoad, mapping: str) -> Any:
    [report] = [r for r in result.reports if Path(r.mapping_file).stem == mapping]
    return report


def _data_lines(path: Path) -> int:
    """Records below the header of an extract, counted here with the csv module."""
    text = path.read_bytes().decode("cp1252")
    delimiter = ";" if ";" in text.splitlines()[-1] else ","
    rows = [row for row in csv.reader(text.splitlines(), delimiter=delimiter)]
    header = next(i for i, row in enumerate(rows) if len(row) > 2)
    return sum(1 for row in rows[header + 1 :] if any(cell.strip() for cell in row))


def test_every_table_is_taken_by_its_pack_mappings() -> None:
    plan = plan_folder(DATA)
    assert not plan.unmatched
    chosen = {(shape.path.name, mapping.name) for shape, mapping in plan.loads}
    assert {
        ("AUFK.csv", "aufk_work_order"),
        ("AUFK.csv", "aufk_maintenance_order"),
        ("JEST.csv", "jest_work_order"),
        ("EQUZ.csv", "equz_asset"),
        ("ILOA.csv", "iloa_asset"),
        ("EQST.csv", "eqst_asset"),
        ("MAST.csv", "mast_material"),
        ("STPO.csv", "stpo_bom_material"),
        ("STPO.csv", "stpo_bom_equipment"),
        ("EKET.csv", "eket_purchase_order"),
        ("EKKO.csv", "ekko_purchase_order"),
        ("QALS.csv", "qals_quality_result"),
        ("SER05.csv", "ser05_work_order"),
        ("OBJK.csv", "objk_produced"),
        ("OBJK.csv", "objk_serial_unit_order"),
        ("QAMV.csv", "qamv_quality_result"),
        ("QMEL.csv", "qmel_warranty_claim"),
        ("QMEL.csv", "qmel_quality_result"),
        ("QMEL.csv", "qmel_maintenance_order"),
        ("QMIH.csv", "qmih_event"),
    } <= chosen


def test_every_row_is_read_and_accounted_for(loaded: tuple[PackLoad, DuckDBStore]) -> None:
    result, _ = loaded
    assert not result.failures, result.failures
    for report in result.reports:
        assert report.rows_read == report.accounted, report.mapping_file
        assert report.records_read == _data_lines(Path(report.source_file)), report.source_file
    quarantined = {
        Path(r.mapping_file).stem: dict(r.quarantine_by_reason)
        for r in result.reports
        if r.quarantined
    }
    # each with its reason: rows that are no loaded entity's, never silently dropped
    assert quarantined == {
        # the maintenance order's statuses: its phase is AFIH's
        "jest_work_order": {
            "field 'external_id' (expr 'substr(OBJNR, 3)'): no work_order with external_id "
            "equal to it": 2
        },
        # the line's own location record is no equipment's
        "iloa_asset": {
            "field 'external_id' (column 'ILOAN'): no asset with aliases equal to it": 1
        },
        # a schedule line of a deleted item (EKPO filters it)
        "eket_purchase_order": {
            "field 'external_id' (template '{EBELN}/{EBELP}'): no purchase_order with "
            "external_id equal to it": 1
        },
    }


def test_order_status_is_the_latest_active_system_status(
    loaded: tuple[PackLoad, DuckDBStore],
) -> None:
    result, store = loaded
    assert _rows(store, "SELECT external_id, status, description FROM work_order ORDER BY 1") == [
        ["000001000001", "completed", "Stirnradgetriebe SG 40"],  # TECO after CNF and DLV
        ["000001000002", "in_progress", "Stirnradgetriebe SG 40"],  # PCNF
        ["000001000003", "released", "Stirnradgetriebe SG 40"],  # REL, CRTD inactive
        ["000001000004", "planned", "Stirnradgetriebe SG 40"],  # CRTD only
        ["000001000005", "cancelled", "Stirnradgetriebe SG 40 Muster"],  # DLFL
    ]
    jest = _report(result, "jest_work_order")
    assert jest.filtered_by_reason == {
        "filter 1: OBJNR matches '^OR'": 2,  # an equipment's and a notification's status
        "filter 2: INACT not equals 'X'": 5,
        "filter 3: STAT in ['I0001', 'I0002', 'I0009', 'I0010', 'I0012', 'I0045', 'I0046', "
        "'I0076']": 1,  # PRC says nothing of progress
    }
    assert jest.merged == 5  # the earlier active statuses of an order
    internal = _report(result, "aufk_work_order")
    assert internal.filtered_by_reason == {"filter 1: AUTYP in ['10', '40']": 3}


def test_maintenance_orders_get_their_text_and_their_notification_s_coding(
    loaded: tuple[PackLoad, DuckDBStore],
) -> None:
    _, store = loaded
    assert _rows(
        store,
        "SELECT external_id, asset, order_type, description, failure_mode, notes "
        "FROM maintenance_order ORDER BY 1",
    ) == [
        [
            "000004000001",
            "000000000010000001",
            "corrective",
            "Hydraulikleck Presse beheben",
            "PM-DAMG/0030",
            "Hydraulikschlauch geplatzt",
        ],
        [
            "000004000002",
            "000000000010000002",
            "preventive",
            "Inspektion Drehmaschine",
            None,
            None,
        ],
    ]


def test_breakdowns_are_downtimes_of_their_equipment_in_utc(
    loaded: tuple[PackLoad, DuckDBStore],
) -> None:
    result, store = loaded
    assert _rows(
        store,
        "SELECT external_id, asset, event_type, state, start_time, end_time, reason FROM event "
        "ORDER BY 1",
    ) == [
        [
            "000300000001",
            "000000000010000001",
            "downtime",
            "down",
            _utc("12.03.2025 05:50"),  # 06:50 CET
            _utc("12.03.2025 10:20"),
            "breakdown (notification 000300000001)",
        ],
        [
            "000300000003",
            "000000000010000002",
            "downtime",
            "down",
            _utc("30.03.2025 00:30"),
            None,  # the machine is still down
            "breakdown (notification 000300000003)",
        ],
    ]
    assert _report(result, "qmih_event").filtered_by_reason == {"filter 1: MSAUS equals 'X'": 1}


def test_equipment_hangs_under_the_functional_location_it_is_installed_at(
    loaded: tuple[PackLoad, DuckDBStore],
) -> None:
    result, store = loaded
    assert _rows(
        store,
        "SELECT external_id, level, parent, manufacturer, aliases FROM asset "
        "WHERE level = 'equipment' ORDER BY 1",
    ) == [
        ["000000000010000001", "equipment", "1000-L1-PRS", "Schuler", ["000000400011"]],
        ["000000000010000002", "equipment", "1000-L1-CNC", "DMG", ["000000400002"]],
        ["000000000010000003", "equipment", None, "KUKA", None],  # not installed
    ]
    assert _report(result, "equz_asset").filtered_by_reason == {
        "filter 1: DATBI matches '9999'": 1,  # an earlier time segment
        "no value in column 'ILOAN'": 1,
    }


def test_bills_of_material_of_materials_and_of_equipment(
    loaded: tuple[PackLoad, DuckDBStore],
) -> None:
    result, store = loaded
    assert _rows(
        store,
        "SELECT external_id, parent, parent_type, component, quantity, unit_of_measure "
        "FROM bom ORDER BY 1",
    ) == [
        [
            "E/00070001/00000001",
            "000000000010000001",
            "asset",
            "000000000000900100",
            4.0,
            "ST",
        ],
        [
            "M/00040001/00000001",
            "000000000000500100",
            "material",
            "000000000000700200",
            1.0,
            "ST",
        ],
        [
            "M/00040001/00000002",
            "000000000000500100",
            "material",
            "000000000000700300",
            0.25,
            "KG",
        ],
    ]
    assert _report(result, "stpo_bom_material").filtered_by_reason == {
        "no value in column 'IDNRK'": 1,  # a text item
        "filter 1: STLTY equals 'M'": 2,  # an equipment's and a functional location's BOM
    }


def test_serials_are_produced_by_their_production_order(
    loaded: tuple[PackLoad, DuckDBStore],
) -> None:
    _, store = loaded
    assert _rows(
        store,
        "SELECT source_external_id, target_external_id FROM edge WHERE edge_type = 'produced' "
        "ORDER BY 2",
    ) == [
        ["000001000001", "SG40-0001"],
        ["000001000001", "SG40-0002"],
        ["000001000001", "SG40-0003"],
        ["000001000002", "SG40-0004"],
    ]
    serials = _rows(store, "SELECT external_id, work_order, product FROM serial_unit ORDER BY 1")
    assert serials[-1] == ["SG40-0004", "000001000002", "000000000000500100"]


def test_purchase_order_items_are_due_at_their_last_schedule_line(
    loaded: tuple[PackLoad, DuckDBStore],
) -> None:
    result, store = loaded
    assert _rows(
        store,
        "SELECT external_id, quantity, due_at, status, supplier, ordered_at FROM purchase_order "
        "ORDER BY 1",
    ) == [
        # the header (EKKO) gives both items its vendor and document date
        [
            "4500000001/00010",
            100.0,
            _utc("02.03.2025 23:00"),
            "received",
            "0000100042",
            _utc("18.02.2025 23:00"),
        ],
        [
            "4500000001/00020",
            1200.0,
            _utc("23.03.2025 23:00"),
            "open",
            "0000100042",
            _utc("18.02.2025 23:00"),
        ],
    ]
    assert _report(result, "eket_purchase_order").merged == 1
    headers = _report(result, "ekko_purchase_order")
    # 3 headers: one written to its 2 items, one deleted, one whose items were not exported
    assert (headers.records_read, headers.rows_read, headers.updated) == (3, 4, 2)
    assert sorted(reason.split(":")[0] for reason in headers.filtered_by_reason) == [
        "a header without items",
        "filter 1",
    ]


def test_inspection_lots_give_their_results_the_batch_they_inspected(
    loaded: tuple[PackLoad, DuckDBStore],
) -> None:
    result, store = loaded
    assert _rows(
        store,
        "SELECT external_id, material_lot FROM quality_result WHERE space = 'erp' "
        "AND external_id LIKE '01%' ORDER BY 1",
    ) == [
        ["010000000001/00000001/0010", "0000004711"],
        ["010000000001/00000001/0020", "0000004711"],
    ]
    lots = _report(result, "qals_quality_result")
    # the production lot has no results in the extract: nothing to write it to
    assert (lots.records_read, lots.updated, lots.filtered) == (2, 2, 1)


def test_inspection_characteristics_give_results_their_limits(
    loaded: tuple[PackLoad, DuckDBStore],
) -> None:
    _, store = loaded
    assert _rows(
        store,
        "SELECT external_id, test_name, name, tags, value, spec_min, spec_max, unit, status "
        "FROM quality_result WHERE external_id LIKE '01%' ORDER BY 1",
    ) == [
        [
            "010000000001/00000001/0010",
            "BORE-DIA",  # the characteristic measured, not its position in the plan
            "Bohrungsdurchmesser",
            ["BORE-DIA"],
            12.51,
            12.4,
            12.6,
            "MM",
            "pass",
        ],
        # a qualitative characteristic: limits that are both zero are none
        [
            "010000000001/00000001/0020",
            "CAST-VIS",
            "Sichtprüfung Lunker",
            ["CAST-VIS"],
            1.0,
            None,
            None,
            None,
            "fail",
        ],
    ]


def test_notifications_become_claims_and_failed_units_or_batches(
    loaded: tuple[PackLoad, DuckDBStore],
) -> None:
    _, store = loaded
    assert _rows(
        store,
        "SELECT external_id, serial_unit, product, customer, claimed_at, failure_mode, text "
        "FROM warranty_claim",
    ) == [
        [
            "000200000001",
            "SG40-0002",
            "000000000000500100",
            "0000100001",
            _utc("02.04.2025 07:30"),  # 09:30 CEST
            "QM-CUST/0020",
            "Getriebe verliert Öl",
        ]
    ]
    assert _rows(
        store,
        "SELECT external_id, test_name, status, serial_unit, material_lot, measured_at, "
        "description FROM quality_result WHERE external_id LIKE '0002%' ORDER BY 1",
    ) == [
        [
            "000200000002",
            "QM-TEST/0010",
            "fail",
            "SG40-0003",
            None,
            _utc("05.03.2025 12:45"),
            "Geräusch zu laut",
        ],
        [
            "000200000003",
            "QM-VEND/0040",
            "fail",
            None,
            "0000012345",
            _utc("06.03.2025 07:00"),
            "Lunker im Gehäuse",
        ],
    ]


def test_loading_again_inserts_nothing_and_leaves_every_record_as_it_was(tmp_path: Path) -> None:
    # AFKO's status from dates and JEST's system status differ for two orders: each load writes
    # both, in that order, and ends on JEST's.
    store = open_store(tmp_path / "plant.duckdb", migrate=True)
    tables = ("asset", "work_order", "maintenance_order", "event", "bom", "purchase_order",
              "quality_result", "warranty_claim", "serial_unit", "edge")  # fmt: skip
    read = "SELECT * EXCLUDE (updated_at, ingest_id) FROM {}"
    try:
        first = load_with_packs(store, DATA, timezone=ZONE)
        before = {table: store.query(read.format(table)) for table in tables}
        again = load_with_packs(store, DATA, timezone=ZONE)
        assert not again.failures
        assert sum(r.inserted for r in again.reports) == 0
        for one, two in zip(first.reports, again.reports, strict=True):
            assert (one.quarantined, one.filtered, one.merged) == (
                two.quarantined,
                two.filtered,
                two.merged,
            )
        for table, frame in before.items():
            now = store.query(read.format(table))
            key = [c for c in frame.columns if c in KEYS]
            assert now.sort_values(key, ignore_index=True).equals(
                frame.sort_values(key, ignore_index=True)
            ), table
    finally:
        store.close()


def test_an_equipment_assigned_to_a_work_centre_is_that_work_centres_machine(tmp_path) -> None:
    # ILOA-PPSID names the PP work centre (CRHD-OBJID) the equipment is assigned to: routings
    # name the work centre, notifications and the historian the equipment
    folder = tmp_path / "extracts"
    folder.mkdir()
    for name in ("EQUI.csv", "EQUZ.csv", "IFLOT.csv"):
        (folder / name).write_bytes((DATA / name).read_bytes())
    (folder / "ILOA.csv").write_text(
        "MANDT;ILOAN;TPLNR;SWERK;STORT;ABCKZ;PPSID\n"
        "100;000000400002;1000-L1-CNC;1000;HALLE 1;A;20000303\n"
        "100;000000400011;1000-L1-PRS;1000;HALLE 1;A;\n"
        "100;000000400090;1000-L1;1000;HALLE 1;B;\n",
        encoding="cp1252",
    )
    (folder / "CRHD.csv").write_text(
        "MANDT;OBJTY;OBJID;ARBPL;WERKS;VERWE;VERAN;PLANV;BEGDA;ENDDA;LVORM;KAPID\n"
        "100;A;20000303;CNC-01;1000;0001;L1;009;01.01.2015;31.12.9999;;30000303\n",
        encoding="cp1252",
    )
    with open_store(tmp_path / "plant.duckdb", migrate=True) as store:
        result = load_with_packs(store, folder, timezone=ZONE)
        assert not result.failures, result.failures
        assert _rows(
            store,
            "SELECT external_id, level, parent FROM asset WHERE external_id IN "
            "('000000000010000001', '000000000010000002', 'CNC-01') ORDER BY 1",
        ) == [
            ["000000000010000001", "equipment", "1000-L1-PRS"],
            ["000000000010000002", "equipment", "1000-L1-CNC"],
            ["CNC-01", "workcell", "1000-L1-CNC"],  # at the place of the machine it is
        ]
        for report in result.reports:
            assert report.rows_read == report.accounted, report.mapping_file
