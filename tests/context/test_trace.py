from __future__ import annotations

import pytest

from factorybrain.context import (
    backward,
    claim_chain,
    forward,
    link_claim_serials,
    recall_scope,
    resolve_serial,
    unresolved_references,
    walk,
)
from factorybrain.context._matching import write_annotations
from factorybrain.exceptions import ParameterError
from tests.context._helpers import add, add_edges


def _approve(store, links):
    import pandas as pd

    frame = pd.DataFrame(
        [
            {
                "source_space": s,
                "source_identifier": i,
                "source_kind": "test",
                "target_type": t,
                "target_space": ts,
                "target_external_id": ti,
                "confidence": 1.0,
                "status": "approved",
                "ambiguous": False,
            }
            for s, i, t, ts, ti in links
        ]
    )
    write_annotations(store, frame)


@pytest.fixture
def plant(store):
    """Lot A (supplier lot SL-A) goes into WO1 and WO2 (a split lot); WO2 also takes lot B
    (merged lots); each order makes two serials; one serial ships and is claimed."""
    add(store, "supplier", [{"space": "erp", "external_id": "70001", "name": "BEARINGS LTD"}])
    add(
        store,
        "supplier_lot",
        [{"space": "erp", "external_id": "SL-A", "supplier": "70001", "material": "M1"}],
    )
    add(
        store,
        "material_lot",
        [
            {"space": "erp", "external_id": "0000000001", "supplier_lot": "SL-A", "material": "M1"},
            {"space": "erp", "external_id": "0000000002", "material": "M2"},
        ],
    )
    add(
        store,
        "serial_unit",
        [
            {"space": "mes", "external_id": f"PU00{n}", "status": "in_stock"}
            for n in (11, 12, 21, 22)
        ],
    )
    add_edges(
        store,
        [
            ("consumed_in", "mes", "1", "mes", "WO1"),
            ("consumed_in", "mes", "1", "mes", "WO2"),
            ("consumed_in", "mes", "2", "mes", "WO2"),
            ("consumed_in", "mes", "9", "mes", "WO2"),  # a batch nobody knows
            ("produced", "mes", "WO1", "mes", "PU0011"),
            ("produced", "mes", "WO1", "mes", "PU0012"),
            ("produced", "mes", "WO2", "mes", "PU0021"),
            ("produced", "mes", "WO2", "mes", "PU0022"),
            ("shipped_in", "wms", "PU0021", "wms", "SH1"),
        ],
    )
    add(store, "shipment", [{"space": "wms", "external_id": "SH1", "customer": "C1"}])
    add(
        store,
        "warranty_claim",
        [
            {"space": "crm", "external_id": "WC-1", "serial_unit": "pu-0021"},
            {"space": "crm", "external_id": "WC-2", "serial_unit": "PU9999"},
        ],
    )
    _approve(
        store,
        [
            ("mes", "1", "material_lot", "erp", "0000000001"),
            ("mes", "2", "material_lot", "erp", "0000000002"),
        ],
    )
    link_claim_serials(store)
    return store


def test_forward_from_any_spelling_of_a_split_lot_reaches_every_serial(plant):
    for name in ("SL-A", "0000000001", "1"):
        serials = forward(plant, name).tables["serials"]
        assert sorted(serials.serial) == ["PU0011", "PU0012", "PU0021", "PU0022"]
    shipped = forward(plant, "SL-A").tables["serials"].set_index("serial")
    assert shipped.loc["PU0021", "location"] == "claimed"
    assert shipped.loc["PU0021", "shipment"] == "SH1"
    assert shipped.loc["PU0011", "location"] == "in_stock"


def test_serial_index_answers_like_the_live_query(plant):
    from factorybrain.context import refresh_serial_index

    live = forward(plant, "SL-A").tables["serials"]
    assert refresh_serial_index(plant) == 4
    indexed = forward(plant, "SL-A").tables["serials"]
    assert indexed.fillna("").to_dict("records") == live.fillna("").to_dict("records")
    # A serial produced after the index was built is still found (the stale index is bypassed).
    add_edges(plant, [("produced", "mes", "WO1", "mes", "PU0013")])
    assert "PU0013" in set(forward(plant, "SL-A").tables["serials"].serial)


def test_merged_lot_reaches_only_the_order_it_went_into(plant):
    assert sorted(forward(plant, "0000000002").tables["serials"].serial) == ["PU0021", "PU0022"]


def test_backward_lists_lots_suppliers_and_keeps_unknown_batches(plant):
    trace = backward(plant, "PU0021")
    lots = trace.tables["lots"].set_index("batch")
    assert lots.loc["1", "supplier_lot"] == "SL-A"
    assert lots.loc["1", "supplier_name"] == "BEARINGS LTD"
    assert lots.loc["2", "lot"] == "0000000002"
    assert "9" in lots.index  # kept, not dropped
    assert any("batch 9" in line for line in trace.unresolved)


def test_claim_chain_resolves_the_serial_as_typed(plant):
    trace = claim_chain(plant, "WC-1")
    assert trace.subject["serial"] == "PU0021"
    assert "SL-A" in set(trace.tables["lots"].supplier_lot)
    broken = claim_chain(plant, "WC-2")
    assert broken.unresolved and "PU9999" in broken.unresolved[0]


def test_serials_as_typed_resolve_by_letters_digits_or_number(plant):
    assert resolve_serial(plant, "pu 0021") == "PU0021"
    assert resolve_serial(plant, "21") == "PU0021"
    assert resolve_serial(plant, "PU0031") is None


def test_recall_scope_counts_where_affected_serials_are(plant):
    summary = recall_scope(plant, lot="SL-A").tables["summary"].set_index("location").serials
    assert summary["claimed"] == 1 and summary["in_stock"] == 3
    with pytest.raises(ParameterError):
        recall_scope(plant)


def test_unresolved_references_are_counted_and_resolve_when_the_record_arrives(plant):
    counts = unresolved_references(plant).set_index("reference").unresolved
    assert counts["edge.consumed_in.source"] == 1
    assert counts["warranty_claim.serial_unit"] == 1
    add(plant, "material_lot", [{"space": "mes", "external_id": "9"}])
    after = unresolved_references(plant)
    assert "edge.consumed_in.source" not in set(after.reference)


def test_walk_visits_a_diamond_once_and_reports_cycles(store):
    add_edges(
        store,
        [
            ("consumed_in", "p", "A", "p", "B"),
            ("consumed_in", "p", "A", "p", "C"),
            ("produced", "p", "B", "p", "D"),
            ("produced", "p", "C", "p", "D"),
            ("produced", "p", "D", "p", "E"),
            ("consumed_in", "p", "E", "p", "B"),  # rework loop back into B: a cycle
        ],
    )
    result = walk(store, "p", "A")
    assert sorted(n[1] for n in result.nodes) == ["A", "B", "C", "D", "E"]
    assert [n[2] for n in result.nodes if n[1] == "D"] == [2]
    assert result.cycles == [("consumed_in", "p:E", "p:B")]
    upstream = walk(store, "p", "D", direction="upstream")
    assert sorted(n[1] for n in upstream.nodes) == ["A", "B", "C", "D", "E"]
