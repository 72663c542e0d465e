"""Matching on a plant with other conventions: prefixes, affixes, tag paths, German names.

The hub of machines is a PLM list (``PR-12``, ``LT-12``: a press and a lathe share number 12);
the PI historian writes ``W1:PRESS12.HYD_P.PV``; SAP names the equipment ``Hydraulikpresse 12``
with an 18-digit number, maker and model; the warehouse writes storage locations (``0012``)
that look like lot numbers. No space is called ``mes`` or ``historian``.
"""

from __future__ import annotations

import pytest

from factorybrain.context import match
from factorybrain.context._harvest import harvest
from tests.context._helpers import add


@pytest.fixture
def plant(store):
    machines = [
        ("PR-12", "Hydraulic press 12", "press", "Schuler", "MSD-250"),
        ("PR-13", "Hydraulic press 13", "press", "Schuler", "MSD-250"),
        ("LT-12", "CNC lathe 12", "lathe", "DMG Mori", "CTX 450"),
        ("LT-07", "CNC lathe 7", "lathe", "DMG Mori", "CTX 450"),
    ]
    add(
        store,
        "asset",
        [
            {"space": "plm", "external_id": code, "name": name, "level": "equipment",
             "asset_class": kind, "manufacturer": maker, "model_number": model}
            for code, name, kind, maker, model in machines
        ]
        + [
            {"space": "sap", "external_id": "000000000010004711", "name": "Hydraulikpresse 12",
             "level": "equipment", "manufacturer": "SCHULER", "model_number": "MSD 250"},
            {"space": "sap", "external_id": "000000000010004712", "name": "Drehmaschine 12",
             "level": "equipment", "manufacturer": "DMG MORI", "model_number": "CTX-450"},
        ],
    )  # fmt: skip
    add(
        store,
        "time_series",
        [
            {"space": "pi", "external_id": f"W1:{device}.{signal}.PV", "description": text}
            for device, signals in (
                ("PRESS12", (("HYD_P", "press 12 hydraulic pressure"), ("OIL_T", "oil temp"))),
                ("PRESS13", (("HYD_P", "press 13 hydraulic pressure"), ("OIL_T", "oil temp"))),
                ("LATHE12", (("SPD", "lathe 12 spindle speed"), ("VIB", "spindle vibration"))),
                ("LATHE07", (("SPD", "lathe 7 spindle speed"), ("VIB", "spindle vibration"))),
            )
            for signal, text in signals
        ],
    )
    add(
        store,
        "material_lot",
        [
            {"space": "sap", "external_id": f"00000{n:02d}", "lot_number": f"00000{n:02d}"}
            for n in (12, 13, 7)
        ],
    )
    add(
        store,
        "material",
        [{"space": "sap", "external_id": "000000000030206000", "name": "BEARING 30206"}],
    )
    add(
        store,
        "inventory_transaction",
        [
            {"space": "wm", "external_id": f"T{n}", "material": "000000000030206000",
             "location": location, "quantity": -1.0, "occurred_at": "2026-01-05T08:00:00"}
            for n, location in enumerate(("0012", "LGR-0013", "LGR-0007"))
        ],
    )  # fmt: skip
    return store


def test_tag_paths_group_by_device_not_by_signal(plant) -> None:
    records, tags = harvest(plant)
    groups = set(records[records.kind == "tag_group"].identifier)
    assert groups == {"W1:PRESS12", "W1:PRESS13", "W1:LATHE12", "W1:LATHE07"}


def test_tags_and_foreign_names_link_to_the_right_machine(plant) -> None:
    run = match(plant, write=False)
    links = run.annotations
    approved = links[links.status == "approved"]
    target = dict(zip(approved.source_identifier, approved.target_external_id, strict=False))
    assert target["W1:PRESS12.HYD_P.PV"] == "PR-12"
    assert target["W1:LATHE12.SPD.PV"] == "LT-12"
    assert target["W1:LATHE07.VIB.PV"] == "LT-07"
    assert target["000000000010004711"] == "PR-12"
    assert target["000000000010004712"] == "LT-12"
    # never a wrong machine, whatever was approved
    for source, machine in target.items():
        if "PRESS12" in source:
            assert machine == "PR-12"


def test_a_storage_location_is_never_linked_to_a_lot(plant) -> None:
    links = match(plant, write=False).annotations
    locations = links[links.source_kind == "inventory_transaction.location"]
    assert not set(locations.target_type) & {"material_lot", "supplier_lot"}
    # nor to a machine that only shares its ordinal: bin LGR-0013 is not press 13
    assert not (locations.status == "approved").any()


def test_abbreviations_of_a_word_are_recognised() -> None:
    from factorybrain.context._features import abbreviates

    assert abbreviates("prs", "press") and abbreviates("lth", "lathe")
    assert not abbreviates("lgr", "press") and not abbreviates("rp", "press")
