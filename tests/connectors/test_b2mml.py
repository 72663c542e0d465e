"""The B2MML connector pack: ISA-95 XML documents matched by their root element and loaded whole.

The documents under ``data/b2mml`` are small hand-written B2MML (V0600 and V0700 namespaces): an
equipment hierarchy, material lots with sublots, a production schedule and the production
performance the MES reported for it.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from factorybrain.connectors import (
    load_mapping,
    load_packs,
    load_with_packs,
    plan_folder,
    suggest_mapping,
)
from factorybrain.context import backward
from factorybrain.exceptions import MappingError
from factorybrain.store import DuckDBStore, open_store

DATA = Path(__file__).parent / "data" / "b2mml"


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, DuckDBStore]]:
    store = open_store(tmp_path_factory.mktemp("b2mml") / "plant.duckdb", migrate=True)
    result = load_with_packs(store, DATA)
    yield result, store
    store.close()


def _count(document: str, name: str) -> int:
    """Elements of that local name in a document, counted here with the standard library."""
    tree = ElementTree.parse(DATA / document)
    return sum(1 for element in tree.iter() if element.tag.rpartition("}")[2] == name)


def _rows(store: DuckDBStore, sql: str) -> list[list[Any]]:
    return store.query(sql).astype(object).where(lambda frame: frame.notna(), None).values.tolist()


def test_documents_are_matched_by_their_root_element_not_their_name(tmp_path: Path) -> None:
    shutil.copy(DATA / "performance.xml", tmp_path / "mes_export_0815.dat")
    shutil.copy(DATA / "material_lots.xml", tmp_path / "lots.xml")
    (tmp_path / "orders.xml").write_text("<Orders><Order><ID>1</ID></Order></Orders>")
    (tmp_path / "foreign.xml").write_text(
        '<ProductionPerformance xmlns="urn:not-b2mml"><ID>1</ID></ProductionPerformance>'
    )
    plan = plan_folder(tmp_path)
    chosen = {(shape.path.name, mapping.name) for shape, mapping in plan.loads}
    assert {name for file, name in chosen if file == "mes_export_0815.dat"} == {
        "b2mml_performance_work_orders",
        "b2mml_performance_operations",
        "b2mml_performance_lots",
        "b2mml_performance_serials",
        "b2mml_performance_consumed_in",
        "b2mml_performance_produced_lot",
        "b2mml_performance_equipment",
    }
    assert {name for file, name in chosen if file == "lots.xml"} == {
        "b2mml_material_lots",
        "b2mml_material_sublots",
    }
    why = dict(plan.unmatched)
    assert why[tmp_path / "orders.xml"] == (
        "orders.xml: no pack mapping recognises its root element <Orders> (no namespace)"
    )
    # the same local name in another namespace is another element
    assert "<ProductionPerformance> in namespace urn:not-b2mml" in why[tmp_path / "foreign.xml"]


def test_every_record_is_read_and_every_row_accounted_for(loaded: tuple[Any, Any]) -> None:
    result, _ = loaded
    assert not result.failures and not result.unmatched
    records = {
        "equipment.xml": 1,  # the top element of the hierarchy
        "material_lots.xml": _count("material_lots.xml", "MaterialLot"),
        "schedule.xml": _count("schedule.xml", "ProductionRequest"),
        "performance.xml": _count("performance.xml", "ProductionResponse"),
    }
    rows = {
        "b2mml_performance_operations": _count("performance.xml", "SegmentResponse"),
        "b2mml_performance_consumed_in": _count("performance.xml", "MaterialActual"),
        "b2mml_schedule_operations": _count("schedule.xml", "SegmentRequirement"),
        "b2mml_material_sublots": _count("material_lots.xml", "MaterialSubLot") + 1,
    }
    assert len(result.reports) == 16
    for report in result.reports:
        assert report.rows_read == report.accounted, report.mapping_file
        assert report.quarantined == 0, report.quarantine_by_reason
        assert report.records_read == records[Path(report.source_file).name]
        name = Path(report.mapping_file).stem
        if name in rows:
            assert report.rows_read == rows[name], name
    [sublots] = [r for r in result.reports if r.mapping_file.endswith("material_sublots.yaml")]
    assert sublots.filtered_by_reason == {"no items under 'MaterialSubLot' (missing)": 1}


def test_the_equipment_hierarchy_becomes_assets_with_their_parents(
    loaded: tuple[Any, Any],
) -> None:
    _, store = loaded
    assert _rows(
        store, "SELECT external_id, name, level, parent, asset_class FROM asset ORDER BY 1"
    ) == [
        ["HAM", "Hamburg plant", "site", None, None],
        ["HAM-ASSY", "Assembly hall", "area", "HAM", None],
        ["HAM-L1", "Gearbox line 1", "line", "HAM-ASSY", None],
        ["L1-ST10", "Press-fit station", "workcell", "HAM-L1", "PRESS"],
        ["L1-ST20", "L1-ST20", "workcell", "HAM-L1", "SCREWDRIVER"],
    ]


def test_lots_and_sublots_with_material_quantity_and_status(loaded: tuple[Any, Any]) -> None:
    _, store = loaded
    lots = _rows(
        store, "SELECT external_id, material, quantity, status FROM material_lot ORDER BY 1"
    )
    assert lots == [
        ["LOT-BRG-0815", "BRG-6204", 1000.0, "available"],
        ["LOT-BRG-0815-B1", "BRG-6204", 500.0, "available"],
        ["LOT-BRG-0815-B2", "BRG-6204", 500.0, "quarantined"],  # Blocked
        ["LOT-GB7-0301", "GB-7", None, None],  # produced by WO-1001
        ["LOT-HSG-4711", "HSG-100", None, None],  # "In inspection": no word for it, left empty
        ["LOT-HSG-4711-P1", "HSG-100", None, None],
        ["LOT-OIL-17", "OIL-75W90", 208.5, "quarantined"],
    ]


def test_work_orders_join_the_schedule_and_the_performance(loaded: tuple[Any, Any]) -> None:
    _, store = loaded
    orders = _rows(
        store,
        "SELECT external_id, product, quantity, strftime(planned_start, '%H:%M'), "
        "strftime(actual_start, '%H:%M'), strftime(actual_end, '%H:%M'), status, priority "
        "FROM work_order ORDER BY 1",
    )
    assert orders == [
        ["RW-77", None, None, None, "15:00", None, "in_progress", None],  # names no request
        ["WO-1001", "GB-7", 10.0, "06:00", "06:02", "13:41", "completed", 2],
        ["WO-1002", "GB-9", 4.0, "14:00", None, None, "planned", None],
    ]
    operations = _rows(
        store,
        "SELECT external_id, work_order, operation_type, equipment, status FROM operation "
        "ORDER BY 1",
    )
    assert operations == [
        ["RW-77/SEG-RW-77-10", "RW-77", "REWORK", None, "in_progress"],
        ["WO-1001/SEG-1001-10", "WO-1001", "PRESS-FIT", "L1-ST10", "completed"],
        ["WO-1001/SEG-1001-20", "WO-1001", "SCREW", "L1-ST20", "completed"],
        ["WO-1001/WO-1001-10", "WO-1001", "PRESS-FIT", "L1-ST10", "planned"],
        ["WO-1001/WO-1001-20", "WO-1001", "SCREW", "L1-ST20", "planned"],
        ["WO-1002/WO-1002-10", "WO-1002", "PRESS-FIT", None, "planned"],
    ]


def test_genealogy_serials_and_equipment_states(loaded: tuple[Any, Any]) -> None:
    _, store = loaded
    edges = _rows(
        store,
        "SELECT edge_type, source_external_id, target_external_id, quantity FROM edge "
        "ORDER BY 1, 2, 3",
    )
    assert edges == [
        ["consumed_in", "LOT-BRG-0815", "WO-1001", 20.0],
        ["consumed_in", "LOT-GB7-0228", "RW-77", 1.0],
        ["consumed_in", "LOT-OIL-17", "WO-1001", 1.6],
        ["produced_lot", "WO-1001", "LOT-GB7-0301", 2.0],
    ]
    serials = _rows(
        store,
        "SELECT external_id, product, work_order, strftime(produced_at, '%H:%M') "
        "FROM serial_unit ORDER BY 1",
    )
    assert serials == [
        ["GB7-000101", "GB-7", "WO-1001", "13:41"],  # two sublots of one MaterialActual
        ["GB7-000102", "GB-7", "WO-1001", "13:41"],
    ]
    states = _rows(
        store,
        "SELECT asset, event_type, state, reason, strftime(start_time, '%H:%M'), "
        "strftime(end_time, '%H:%M') FROM event ORDER BY start_time",
    )
    assert states == [
        ["L1-ST10", "state", "running", "PRESS-FIT", "06:02", "08:47"],
        ["L1-ST20", "state", "running", "SCREW", "09:05", "13:41"],
    ]
    # a serial traces back to its order and the lots the order consumed
    trace = backward(store, "GB7-000102")
    assert trace.tables["work_order"].work_order.tolist() == ["WO-1001"]
    assert {"LOT-BRG-0815", "LOT-OIL-17"} <= set(trace.tables["lots"].astype(str).stack())


def test_loading_the_documents_again_changes_nothing(loaded: tuple[Any, Any]) -> None:
    _, store = loaded
    tables = ("asset", "material_lot", "work_order", "operation", "serial_unit", "event", "edge")

    def contents() -> list[list[list[Any]]]:
        return [
            _rows(
                store, f"SELECT * EXCLUDE (created_at, updated_at, ingest_id) FROM {t} ORDER BY ALL"
            )
            for t in tables
        ]

    before = contents()
    again = load_with_packs(store, DATA)
    assert not again.failures and sum(report.inserted for report in again.reports) == 0
    # Only WO-1001's status is written twice, as the first load did: the schedule's Released,
    # then the performance's Completed; the store ends as it was.
    assert [
        (Path(report.mapping_file).stem, report.updated)
        for report in again.reports
        if report.updated
    ] == [("b2mml_schedule_work_orders", 1), ("b2mml_performance_work_orders", 1)]
    assert contents() == before


def test_a_document_wrapped_in_a_sync_message_is_read(tmp_path: Path) -> None:
    (tmp_path / "sync.xml").write_text(
        """<?xml version="1.0"?>
<b2:SyncProductionPerformance xmlns:b2="http://www.mesa.org/xml/B2MML-V0600" releaseID="6.0">
  <b2:ApplicationArea><b2:CreationDateTime>2025-03-02T06:00:00Z</b2:CreationDateTime>
  </b2:ApplicationArea>
  <b2:DataArea>
    <b2:Sync/>
    <b2:ProductionPerformance>
      <b2:ID>PERF-2</b2:ID>
      <b2:ProductionResponse>
        <b2:ID>RESP-9</b2:ID>
        <b2:ProductionRequestID>WO-9</b2:ProductionRequestID>
        <b2:StartTime>2025-03-02T06:00:00Z</b2:StartTime>
        <b2:SegmentResponse>
          <b2:ID>SEG-9</b2:ID>
          <b2:ActualStartTime>2025-03-02T06:00:00Z</b2:ActualStartTime>
          <b2:MaterialActual>
            <b2:MaterialLotID>LOT-9</b2:MaterialLotID>
            <b2:MaterialUse>Consumed</b2:MaterialUse>
          </b2:MaterialActual>
        </b2:SegmentResponse>
      </b2:ProductionResponse>
    </b2:ProductionPerformance>
  </b2:DataArea>
</b2:SyncProductionPerformance>
""",
        encoding="utf-8",
    )
    with open_store(":memory:", migrate=True) as store:
        result = load_with_packs(store, tmp_path)
        assert not result.failures and len(result.reports) == 7
        assert _rows(store, "SELECT external_id, status FROM work_order") == [
            ["WO-9", "in_progress"]
        ]
        assert _rows(store, "SELECT source_external_id, target_external_id FROM edge") == [
            ["LOT-9", "WO-9"]
        ]


def test_suggest_gives_the_pack_mapping_of_a_document(tmp_path: Path) -> None:
    suggestion = suggest_mapping(DATA / "performance.xml")
    assert suggestion.matched[0].name == "b2mml_performance_work_orders"
    assert "its root element selects the connector pack mapping" in suggestion.yaml
    assert "match:" not in suggestion.yaml
    path = tmp_path / "m.yaml"
    path.write_text(suggestion.yaml, encoding="utf-8")
    mapping = load_mapping(path)  # the source the pack reads the document with is kept
    assert mapping.source.format == "xml"
    assert mapping.source.records == "b2mml:ProductionPerformance/b2mml:ProductionResponse"


@pytest.mark.parametrize(
    ("match", "source", "message"),
    [
        (
            "{root: x:Orders}",
            "{format: xml, records: Order}",
            "line 1: 'match': the prefix 'x' of 'x:Orders' is not declared",
        ),
        (
            "{root: Orders}",
            "{records: /Orders/Order}",
            "line 1: 'match: {root: ...}' selects XML documents; add 'source: {format: xml}'",
        ),
        (
            "{root: Orders}",
            "{format: xml, records: /Lots/Lot}",
            "line 1: 'records' starts at 'Lots', which is not a root element the mapping matches",
        ),
        ("{columns: [ID]}", "{format: xml}", "line 1: 'match' takes the list of columns"),
    ],
)
def test_a_pack_mapping_of_xml_documents_is_checked(
    tmp_path: Path, match: str, source: str, message: str
) -> None:
    pack = tmp_path / "orders"
    pack.mkdir()
    (pack / "pack.yaml").write_text("name: orders\nspace: mes\nmappings: [orders.yaml]\n")
    (pack / "orders.yaml").write_text(
        f"match: {match}\nentity: work_order\nspace: mes\nsource: {source}\n"
        "fields:\n  external_id: ID\n"
    )
    with pytest.raises(MappingError, match=re.escape(message)):
        load_packs(tmp_path)
