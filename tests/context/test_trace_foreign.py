"""Trace on a plant whose silos do not share order numbers: SAP orders, another vendor's MES.

SAP (space ``sap``) knows which batch went into which production order (``000001000123``); the
MES (space ``opcenter``) knows which serials each of its orders made, under its own order
number (``1000123``, or ``MO-77`` linked by an approved annotation), and records one batch per
unit. There is no ``mes`` space.
"""

from __future__ import annotations

import pandas as pd
import pytest

from factorybrain.ask import route, trace
from factorybrain.context import backward, forward, resolve_serial
from factorybrain.context._matching import write_annotations
from tests.context._helpers import add, add_edges

SERIALS_123 = [f"DG2500{n:04d}" for n in range(1, 41)]
SERIALS_77 = [f"DG2500{n:04d}" for n in range(41, 61)]


@pytest.fixture
def plant(store):
    add(
        store,
        "material_lot",
        [
            {"space": "sap", "external_id": "0000417", "material": "000000000030220800"},
            {"space": "sap", "external_id": "0000418", "material": "000000000030220800"},
        ],
    )
    add(
        store,
        "work_order",
        [
            {"space": "sap", "external_id": "000001000123", "status": "completed"},
            {"space": "sap", "external_id": "000001000124", "status": "completed"},
            {"space": "opcenter", "external_id": "1000123", "status": "completed"},
            {"space": "opcenter", "external_id": "MO-77", "status": "completed"},
        ],
    )
    add(
        store,
        "serial_unit",
        [
            {"space": "opcenter", "external_id": s, "work_order": "1000123", "status": "shipped"}
            for s in SERIALS_123
        ]
        + [
            {"space": "opcenter", "external_id": s, "work_order": "MO-77", "status": "in_stock"}
            for s in SERIALS_77
        ]
        + [{"space": "opcenter", "external_id": "DG25009999", "status": "wip"}],
    )
    add_edges(
        store,
        [
            ("consumed_in", "sap", "0000417", "sap", "000001000123"),
            ("consumed_in", "sap", "0000417", "sap", "000001000124"),
            # the MES records the batch per unit for a unit no order of SAP lists
            ("consumed_in", "opcenter", "0000418", "opcenter", "DG25009999"),
        ]
        # the MES records produced edges for order MO-77 only; 1000123's serials name it
        + [("produced", "opcenter", "MO-77", "opcenter", s) for s in SERIALS_77],
    )
    write_annotations(
        store,
        pd.DataFrame(
            [
                {
                    "source_space": "opcenter",
                    "source_identifier": "MO-77",
                    "source_kind": "entity",
                    "target_type": "work_order",
                    "target_space": "sap",
                    "target_external_id": "000001000124",
                    "confidence": 0.97,
                    "status": "approved",
                    "ambiguous": False,
                }
            ]
        ),
    )
    return store


def test_forward_follows_an_erp_order_to_the_serials_the_mes_recorded_for_it(plant) -> None:
    found = forward(plant, "417")  # the batch as typed, without its padding
    serials = set(found.tables["serials"].serial)
    assert serials == set(SERIALS_123) | set(SERIALS_77)
    orders = found.tables["work_orders"]
    assert set(orders[orders.linked_from.isna()].work_order) == {"000001000123", "000001000124"}
    assert set(orders[orders.linked_from.notna()].work_order) == {"1000123", "MO-77"}


def test_a_lot_recorded_per_unit_reaches_that_unit(plant) -> None:
    assert list(forward(plant, "0000418").tables["serials"].serial) == ["DG25009999"]


def test_ask_never_says_a_lot_made_no_serials_when_its_orders_made_them(plant) -> None:
    answer = route(plant, "trace lot 0000417")
    assert answer.tool == "trace"
    assert answer.numbers["serials"] == len(SERIALS_123) + len(SERIALS_77)
    assert "made 60 serial(s)" in answer.answer


@pytest.mark.parametrize(
    "typed",
    # the last as typed on a Chinese or Japanese keyboard (full-width letters and digits)
    ["dg25000007", " DG-2500-0007 ", "dg 2500 0007", "DG025000007", "ＤＧ２５０００００７"],
)
def test_a_messy_serial_is_accepted_by_resolve_trace_and_ask(plant, typed) -> None:
    assert resolve_serial(plant, typed) == "DG25000007"
    answer = trace(plant, typed)
    assert answer.answer.startswith("Serial DG25000007")
    assert "1000123" in answer.answer
    # its lots come from the SAP order that is the same order as its MES order
    assert "0000417" in answer.answer
    assert backward(plant, typed).subject["serial"] == "DG25000007"


def test_a_serial_that_matches_two_units_is_not_guessed(plant) -> None:
    add(plant, "serial_unit", [{"space": "opcenter", "external_id": "DG25000007X"}])
    add(plant, "serial_unit", [{"space": "other", "external_id": "dg-25-00-0007"}])
    assert resolve_serial(plant, "DG 25 0 0007") is None
