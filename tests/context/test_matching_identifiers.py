"""Identifiers of one thing as different silos write them, on a plant neither demo plant has.

A pasta plant ("Kornwerk"): the ledger (ERP) holds equipment under 18-digit numbers, functional
locations ``4400-KRN-L7`` and work centres ``KNT-07``; an asset framework writes elements as
paths (``\\\\AF-SRV02\\Kornwerk\\Line 8\\Kneader 07``), numbered per machine type across the
plant, some with the ledger's equipment number as an alias; the shop floor (MES) writes lines
``L7`` and stations ``L7-S10``; the framework's events name a tag where an asset is expected.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from factorybrain.context import match
from factorybrain.context._features import affixes
from factorybrain.context._harvest import CLASS_OF_TYPE, harvest
from factorybrain.context._matching import hub_identities, hub_lineage
from factorybrain.context._normalize import key_number, own_part, tokens
from tests.context._helpers import add, add_edges

AF = "\\\\AF-SRV02\\Kornwerk"
LINES = (7, 8, 9)


def _ledger(store) -> None:
    assets = []
    for line in LINES:
        location = f"4400-KRN-L{line}"
        assets.append(
            {
                "space": "ledger",
                "external_id": location,
                "name": f"Linie {line} Teigwaren",
                "level": "area",
            }
        )
        for position, (code, word, maker, model, number) in enumerate(
            (
                ("KNT", "Knetmaschine", "Brabo", "KX 90", 1),
                ("OFN", "Durchlaufofen", "Ovaro", "T4-2200", 3),
                ("SCH", "Schneidwerk", "Tagliani", "SC 5", 5),
            )
        ):
            equipment = f"0000000000300070{line}{number}"
            assets += [
                {
                    "space": "ledger",
                    "external_id": f"{location}-{code}",
                    "name": f"{word} L{line}",
                    "level": "area",
                    "parent": location,
                },
                {
                    "space": "ledger",
                    "external_id": equipment,
                    "name": f"{word} {maker} {model}",
                    "level": "equipment",
                    "asset_class": code,
                    "manufacturer": maker,
                    "model_number": model,
                    "parent": f"{location}-{code}",
                },
                {
                    "space": "ledger",
                    "external_id": f"{code}-0{line}",
                    "name": f"{word} Linie {line}",
                    "level": "workcell",
                    "asset_class": "machine",
                    "aliases": [f"3000{line}{position}"],
                },
            ]
    add(store, "asset", assets)  # fmt: skip


def _framework(store) -> None:
    elements = [
        {"space": "scada", "external_id": AF, "name": "Kornwerk", "level": "site"},
    ]
    for line in LINES:
        # Line 7 carries the ledger's functional location as an attribute, line 8 does not.
        elements.append(
            {
                "space": "scada",
                "external_id": f"{AF}\\Line {line}",
                "name": f"Line {line}",
                "description": f"Linie {line} Teigwaren",
                "level": "line",
                "parent": AF,
                "aliases": ["4400-KRN-L7"] if line == 7 else [],
            }
        )
    # Kneaders are numbered across the plant, 08 on line 7 and 07 on line 8 (where the ledger's
    # KNT-07 is line 7's), 10 on line 9; only the first carries the ledger's equipment number
    # without zeros.
    for line, number, alias in ((7, 8, ["30007071"]), (8, 7, []), (9, 10, [])):
        elements.append(
            {
                "space": "scada",
                "external_id": f"{AF}\\Line {line}\\Kneader {number:02d}",
                "name": f"Kneader {number:02d}",
                "level": "equipment",
                "asset_class": "Kneader",
                "manufacturer": "BRABO",
                "model_number": "KX-90",
                "aliases": alias,
                "parent": f"{AF}\\Line {line}",
            }
        )
    add(store, "asset", elements)
    add(
        store,
        "time_series",
        [
            {"space": "scada", "external_id": f"K2:LINE8.KNEADER07.{signal}.PV",
             "description": text, "asset": f"{AF}\\Line 8\\Kneader 07"}
            for signal, text in (("TORQUE", "Knetmoment"), ("BOWL_T", "Teigtemperatur"))
        ],
    )  # fmt: skip
    add(
        store,
        "event",
        [
            {"space": "scada", "external_id": "E1", "event_type": "other",
             "asset": "K2:LINE8.KNEADER07.TORQUE.PV", "start_time": "2026-02-02T06:00:00"},
        ],
    )  # fmt: skip


def _floor(store) -> None:
    orders = [f"88{n:04d}" for n in range(1, 7)]
    add(
        store,
        "work_order",
        [{"space": "ledger", "external_id": f"000000{o}"} for o in orders]
        + [{"space": "ledger", "external_id": "000000889999"}]
        + [{"space": "floor", "external_id": o, "line": "L7"} for o in orders],
    )
    add(
        store,
        "operation",
        [
            {"space": space, "external_id": f"{order}/{step}", "work_order": order,
             "sequence": step, "equipment": machine}
            for o in orders
            for space, order, step, machine in (
                ("ledger", f"000000{o}", 10, "KNT-07"),
                ("ledger", f"000000{o}", 20, "OFN-07"),
                ("floor", o, 10, "L7-S10"),
                ("floor", o, 20, "L7-S20"),
            )
        ],
    )  # fmt: skip


@pytest.fixture
def kornwerk(store):
    _ledger(store)
    _framework(store)
    _floor(store)
    return store


@pytest.fixture
def links(kornwerk):
    frame = match(kornwerk, write=False).annotations
    approved = frame[frame.status == "approved"]
    found: dict[str, set[str]] = {}
    for source, target in zip(approved.source_identifier, approved.target_external_id, strict=True):
        found.setdefault(source, set()).add(target)
    return found


def _line8_kneader() -> set[str]:
    """Every ledger record of the kneader of line 8: equipment, position and work centre."""
    return {"000000000030007081", "4400-KRN-L8-KNT", "KNT-08"}


def test_an_alias_carrying_the_ledger_number_links_the_element_to_its_equipment(links) -> None:
    assert links[f"{AF}\\Line 7\\Kneader 08"] == {"000000000030007071"}


def test_an_element_without_a_number_is_told_from_its_twin_by_its_line(links) -> None:
    # Same maker and model on both lines; the element's own number 12 is the framework's.
    found = links[f"{AF}\\Line 8\\Kneader 07"]
    assert found and found <= _line8_kneader()


def test_a_line_links_to_the_location_whose_code_ends_with_it(kornwerk, links) -> None:
    # the shop floor's bare "L7" is the end of the location's code, not its machines' codes
    assert links["L7"] == {"4400-KRN-L7"}
    # an alias that is the location's code links the element
    assert links[f"{AF}\\Line 7"] == {"4400-KRN-L7"}
    # without one, the right location is at least the first suggestion
    frame = match(kornwerk, write=False).annotations
    line8 = frame[frame.source_identifier == f"{AF}\\Line 8"]
    assert line8.sort_values("confidence").target_external_id.iloc[-1] == "4400-KRN-L8"


def test_a_tag_named_where_an_asset_is_expected_links_to_the_asset_of_its_series(
    kornwerk, links
) -> None:
    records, tags = harvest(kornwerk)
    assert "K2:LINE8.KNEADER07.TORQUE.PV" in set(tags.tag)
    assert "K2:LINE8.KNEADER07.TORQUE.PV" not in set(records.identifier)
    assert links["K2:LINE8.KNEADER07.TORQUE.PV"] == links[f"{AF}\\Line 8\\Kneader 07"]


def test_a_station_links_to_the_work_centre_its_steps_were_confirmed_on(kornwerk) -> None:
    run = match(kornwerk, write=False)
    approved = run.annotations[run.annotations.status == "approved"]
    station = approved[approved.source_identifier == "L7-S10"]
    assert set(station.target_external_id) == {"KNT-07"}
    assert set(approved[approved.source_identifier == "L7-S20"].target_external_id) == {"OFN-07"}
    assert run.steps["added"] + run.steps["confirmed"] == 2
    # the stored link says what it rests on
    match(kornwerk)
    stored = kornwerk.query(
        "SELECT method FROM annotation WHERE source_identifier = 'L7-S10' AND status = 'approved'"
    )
    assert stored.method.str.endswith("+shared-steps/1").all() and len(stored) == 1


def test_steps_that_disagree_with_the_names_leave_the_link_to_a_person(kornwerk) -> None:
    # The ledger confirms step 10 of every order on the oven: names and steps disagree.
    add(
        kornwerk,
        "asset",
        [{"space": "floor", "external_id": "KNT-07", "name": "Knetmaschine Linie 7"}],
    )
    add(
        kornwerk,
        "operation",
        [
            {"space": "floor", "external_id": f"88{n:04d}/10", "work_order": f"88{n:04d}",
             "sequence": 10, "equipment": "KNT-07"}
            for n in range(1, 7)
        ]
        + [
            {"space": "ledger", "external_id": f"00000088{n:04d}/10",
             "work_order": f"00000088{n:04d}", "sequence": 10, "equipment": "OFN-07"}
            for n in range(1, 7)
        ],
    )  # fmt: skip
    run = match(kornwerk, write=False)
    rows = run.annotations[run.annotations.source_identifier == "KNT-07"]
    assert not (rows.status == "approved").any()
    assert run.steps["flagged"] == 1


def test_records_the_hub_holds_twice_are_one_candidate_not_an_ambiguity(store) -> None:
    add(
        store,
        "product",
        [{"space": "ledger", "external_id": "000000000061000420", "name": "Fusilli 500 g"}],
    )
    add(
        store,
        "material",
        [
            {"space": "ledger", "external_id": "000000000061000420", "name": "Fusilli 500 g"},
            {"space": "ledger", "external_id": "000000000052000017", "name": "Durum semolina"},
        ],
    )
    add(
        store,
        "material_lot",
        [
            {"space": "ledger", "external_id": f"00087{n:05d}", "aliases": [f"MU-{n}-77"]}
            for n in (310, 311, 312)
        ],
    )
    add(
        store,
        "supplier_lot",
        [{"space": "ledger", "external_id": f"MU-{n}-77"} for n in (310, 311, 312)],
    )
    add(store, "work_order", [{"space": "floor", "external_id": "W1", "product": "61000420"}])
    add_edges(store, [("consumed_in", "floor", "MU-311-77", "floor", "W1")])
    run = match(store, write=False)
    approved = run.annotations[run.annotations.status == "approved"]
    product = approved[approved.source_identifier == "61000420"]
    assert set(product.target_type) == {"product", "material"}
    assert set(product.target_external_id) == {"000000000061000420"}
    lot = approved[approved.source_identifier == "MU-311-77"]
    assert set(lot.target_external_id) == {"0008700311", "MU-311-77"}
    assert not run.annotations.ambiguous.any()


def test_no_link_ever_joins_incompatible_classes(kornwerk) -> None:
    # Storage locations numbered like lots and like lines: a location may name a machine,
    # never a lot, an order or a supplier.
    add(
        kornwerk,
        "material_lot",
        [
            {"space": "ledger", "external_id": f"00000{n}", "lot_number": f"00000{n}"}
            for n in (7, 8)
        ],
    )
    add(kornwerk, "material", [{"space": "ledger", "external_id": "000000000052000017"}])
    add(
        kornwerk,
        "inventory_transaction",
        [
            {"space": "wh", "external_id": f"T{n}", "material": "000000000052000017",
             "location": location, "quantity": -1.0, "occurred_at": "2026-02-02T08:00:00"}
            for n, location in enumerate(("0007", "LG-0008", "L7"))
        ],
    )  # fmt: skip
    frame = match(kornwerk, write=False).annotations
    for row in frame.to_dict("records"):
        if row["class"] == "any":  # a free reference column may name any class
            continue
        assert CLASS_OF_TYPE.get(row["target_type"], row["target_type"]) == row["class"], row
    locations = frame[frame.source_kind == "inventory_transaction.location"]
    assert not set(locations.target_type) & {"material_lot", "supplier_lot", "work_order"}


def test_codes_that_are_the_start_or_end_of_a_longer_code() -> None:
    assert affixes(tokens("L7"), tokens("4400-KRN-L7"))
    assert affixes(tokens("MX-07"), tokens("MX07-SITE2"))
    assert affixes(tokens("pk 3"), tokens("PLANT9:PK03"))
    # in the middle is not an end; a bare number or a word is no code
    assert not affixes(tokens("L7"), tokens("4400-KRN-L7-KNT"))
    assert not affixes(tokens("7"), tokens("4400-KRN-L7"))
    assert not affixes(tokens("KRN-L"), tokens("4400-KRN-L"))


def test_a_path_identifier_is_numbered_by_its_own_part() -> None:
    path = f"{AF}\\Line 8\\Kneader 07"
    assert own_part(path) == "Kneader 07"
    assert key_number(path) == "7"
    assert own_part("plant/area 4/Packer 9") == "Packer 9"
    # a code written with slashes is one code
    assert own_part("MU/25/0311") == "MU/25/0311"
    assert key_number("MU/25/0311") == "311"


def test_zero_padding_separators_and_prefixes_give_one_key_number() -> None:
    assert key_number("000000000061000420") == key_number("61000420") == "61000420"
    assert key_number("PK-03") == key_number("pk03") == key_number("PLANT:PK3") == "3"


def test_hub_groups_join_only_what_the_hub_says_is_one_thing() -> None:
    targets = pd.DataFrame(
        {
            "cls": ["item", "item", "lot", "lot", "lot", "asset", "asset"],
            "identifier": ["M1", "M1", "0001", "S-1", "0002", "L7", "L7-KNT"],
            "keys": [["M1"], ["M1"], ["0001", "S-1"], ["S-1"], ["0002"], ["L7"], ["L7-KNT"]],
            "space": ["l"] * 7,
            "parent": [None, None, None, None, None, None, "L7"],
        }
    )
    groups = hub_identities(targets)
    assert groups[0] == groups[1] and groups[2] == groups[3]
    assert len(set(groups[[0, 2, 4, 5, 6]].tolist())) == 5
    assert hub_lineage(targets) == {(6, 5), (5, 6)}
    assert isinstance(groups, np.ndarray)


def test_a_devices_own_state_events_are_not_taken_for_another_silos_machine(store) -> None:
    from tests.context.test_behaviour import _plant

    # The historian also writes the run signal's changes as state events against the tag:
    # they follow the signal perfectly, and are still no machine of another silo.
    _plant(store, {"DEV_A": "LTH-04"})
    # ... better than the MES, whose lathe also ran for an hour the device was off
    add(
        store,
        "event",
        [
            {"space": "mes", "external_id": "extra", "event_type": "state", "state": "running",
             "asset": "LTH-04", "start_time": "2025-03-03T06:00:00",
             "end_time": "2025-03-03T07:00:00"}
        ],
    )  # fmt: skip
    add(
        store,
        "event",
        [
            {"space": "historian", "external_id": f"S{h}", "event_type": "state",
             "state": "running", "asset": "DEV_A.RUN",
             "start_time": f"2025-03-03T{6 + h:02d}:00:00",
             "end_time": f"2025-03-03T{7 + h:02d}:00:00"}
            for h in (1, 3, 5, 7)
        ],
    )  # fmt: skip
    from factorybrain.context._behaviour import running_agreement

    _, tags = harvest(store)
    found = {m.group: m for m in running_agreement(store, tags)}
    assert (found["DEV_A"].target_space, found["DEV_A"].target_external_id) == ("mes", "LTH-04")
    assert found["DEV_A"].agreement == 0.8


def test_a_bench_that_measures_units_links_to_the_machine_that_ran_them_last(kornwerk) -> None:
    # The lab's bench "QS 3" has a name nothing in the ledger resembles; it measures units
    # right after the oven (step 20) ran their order. The shop floor records the units.
    from datetime import datetime, timedelta

    day = datetime(2026, 3, 2)
    orders = [f"88{n:04d}" for n in range(1, 7)]
    add(
        kornwerk,
        "operation",
        [
            {"space": "ledger", "external_id": f"000000{o}/{step}",
             "start_time": day + timedelta(days=n, hours=hour)}
            for n, o in enumerate(orders)
            for step, hour in ((10, 6), (20, 9))
        ],
    )  # fmt: skip
    add(
        kornwerk,
        "serial_unit",
        [
            {"space": "floor", "external_id": f"K{o}-{k}", "work_order": o}
            for o in orders
            for k in range(2)
        ],
    )  # fmt: skip
    add(
        kornwerk,
        "quality_result",
        [
            {"space": "lab", "external_id": f"K{o}-{k}/bite", "serial_unit": f"K{o}-{k}",
             "test_name": "Biss", "value": 4.0, "equipment": "QS 3",
             "measured_at": day + timedelta(days=n, hours=11)}
            for n, o in enumerate(orders)
            for k in range(2)
        ],
    )  # fmt: skip
    run = match(kornwerk, write=False)
    bench = run.annotations[run.annotations.source_identifier == "QS 3"]
    approved = bench[bench.status == "approved"]
    assert set(approved.target_external_id) == {"OFN-07"}
