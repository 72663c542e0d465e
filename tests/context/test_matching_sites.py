"""A company's plants in one store: matching links each site's names within the site only.

Two plants of one company often name alike: both MES call their first lathe ``LTH-01``, both
ERPs describe it ``CNC lathe 01, line 1``, both historians tag it ``L1_LTH01``. Loaded into the
sites' own spaces (``north/mes``, ``south/erp``), every link stays inside its site, whatever
the names; a plant loaded without a site is a site of its own.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pyarrow as pa

from factorybrain.context import link_claim_serials, match
from factorybrain.context._behaviour import running_agreement
from factorybrain.context._harvest import harvest
from factorybrain.model import site_of
from factorybrain.store import DuckDBStore, Store
from tests.context._helpers import add

START = datetime(2025, 3, 3, 6, 0)


def _plant(store: DuckDBStore, site: str, mes: bool = True) -> None:
    """One plant's machines as its MES, ERP and historian name them (the same at every site)."""
    space = (lambda system: f"{site}/{system}") if site else (lambda system: system)
    machines = (
        ("LTH", "CNC lathe", "Drehmaschine", "Brightline", "CTX 310"),
        ("PRS", "Hydraulic press", "Presse", "Kessler", "SP-25"),
        ("WND", "Stator winding machine", "Wickelmaschine", "Kessler", "NW 3000"),
    )
    if mes:
        add(
            store,
            "asset",
            [
                {
                    "space": space("mes"),
                    "external_id": "LINE-1",
                    "name": "Pump line 1",
                    "level": "line",
                }
            ]
            + [
                {
                    "space": space("mes"),
                    "external_id": f"{code}-01",
                    "name": f"{word} 1",
                    "level": "equipment",
                    "parent": "LINE-1",
                    "manufacturer": maker,
                    "model_number": model,
                }
                for code, word, _, maker, model in machines
            ],
        )
    add(
        store,
        "asset",
        [
            {
                "space": space("erp"),
                "external_id": str(10_004_011 + 37 * n),
                "name": f"{word} 01, line 1",
                "level": "equipment",
                "manufacturer": maker,
                "model_number": model,
            }
            for n, (_, word, _, maker, model) in enumerate(machines)
        ],
    )
    add(
        store,
        "time_series",
        [
            {
                "space": space("historian"),
                "external_id": f"L1_{code}01.{signal}",
                "description": f"{german} 1 {signal.lower()}",
            }
            for code, _, german, _, _ in machines
            for signal in ("VIB_RMS", "BRG_TEMP")
        ],
    )


def test_each_sites_names_link_to_its_own_machines_only(store: DuckDBStore) -> None:
    for site in ("north", "south"):
        _plant(store, site)
    _plant(store, "west", mes=False)  # a plant whose ERP is the richest record of its machines
    _plant(store, "")  # a plant loaded without a site: a site of its own
    run = match(store, behaviour=False)
    links = store.query(
        "SELECT source_space, source_identifier, target_space, target_external_id, status "
        "FROM annotation"
    )
    assert (links.source_space.map(site_of) == links.target_space.map(site_of)).all()
    approved = links[links.status == "approved"]
    for site in ("north", "south", ""):
        mes = f"{site}/mes" if site else "mes"
        erp = f"{site}/erp" if site else "erp"
        lathe = approved[
            (approved.source_space == erp) & (approved.source_identifier == "10004011")
        ]
        assert lathe[["target_space", "target_external_id"]].values.tolist() == [[mes, "LTH-01"]]
        tags = approved[approved.source_identifier == "L1_PRS01.VIB_RMS"]
        assert [mes, "PRS-01"] in tags[["target_space", "target_external_id"]].values.tolist()
    west = approved[approved.source_space == "west/historian"]
    assert set(west.target_space) == {"west/erp"}
    assert run.hubs["asset"] == "mes"
    assert run.hubs["north/asset"] == "north/mes"
    assert run.hubs["west/asset"] == "west/erp"


def test_a_site_without_the_hub_of_a_class_links_nothing_of_that_class(
    store: DuckDBStore,
) -> None:
    _plant(store, "north")
    # South's historian names the same machines, but south loaded no machines at all.
    add(
        store,
        "time_series",
        [{"space": "south/historian", "external_id": "L1_LTH01.VIB_RMS", "description": "Lathe 1"}],
    )
    match(store, behaviour=False)
    links = store.query("SELECT source_space, target_space FROM annotation")
    assert "south/historian" not in set(links.source_space)
    assert set(links.target_space) == {"north/mes"}


def test_claims_link_to_the_serials_of_their_own_site(either_store: Store) -> None:
    # Both plants print the same serial on a nameplate; only north has PU0010000777.
    store = either_store
    add(
        store,
        "serial_unit",
        [
            {"space": "north/mes", "external_id": "PU0010000123"},
            {"space": "south/mes", "external_id": "PU0010000123"},
            {"space": "north/mes", "external_id": "PU0010000777"},
        ],
    )
    add(
        store,
        "warranty_claim",
        [
            {"space": "north/crm", "external_id": "WC-1", "serial_unit": "pu 001 0000123"},
            {"space": "south/crm", "external_id": "WC-1", "serial_unit": "PU-0010000123"},
            {"space": "south/crm", "external_id": "WC-2", "serial_unit": "PU0010000777"},
            {"space": "south/crm", "external_id": "WC-3", "serial_unit": "10000777"},
        ],
    )
    assert link_claim_serials(store) == 2
    links = store.query(
        "SELECT source_space, source_identifier, target_space, target_external_id "
        "FROM annotation ORDER BY 1"
    )
    assert links.values.tolist() == [
        ["north/crm", "pu 001 0000123", "north/mes", "PU0010000123"],
        ["south/crm", "PU-0010000123", "south/mes", "PU0010000123"],
    ]


def test_a_device_follows_the_machines_of_its_own_site_only(store: DuckDBStore) -> None:
    hours = [0, 2, 4, 6]
    add(
        store,
        "asset",
        [{"space": "north/mes", "external_id": "PRS-07", "name": "Press 7", "level": "equipment"}],
    )
    add(
        store,
        "event",
        [
            {
                "space": "north/mes",
                "external_id": f"PRS-07/{h}",
                "event_type": "state",
                "state": "running",
                "asset": "PRS-07",
                "start_time": START + timedelta(hours=h),
                "end_time": START + timedelta(hours=h + 1),
            }
            for h in hours
        ],
    )
    # Each site has a device whose run signal follows north's press exactly.
    tags = [
        (site, f"DEV_{site.upper()}.{signal}")
        for site in ("north", "south")
        for signal in ("RUN", "TEMP")
    ]
    add(
        store,
        "time_series",
        [
            {"space": f"{site}/historian", "external_id": tag, "is_step": tag.endswith("RUN")}
            for site, tag in tags
        ],
    )
    ids = store.query("SELECT external_id, series_id FROM time_series WHERE is_step")
    minutes = [START + timedelta(minutes=i) for i in range(8 * 60)]
    on = [1.0 if (t - START).seconds // 3600 in hours else 0.0 for t in minutes]
    store.append_datapoints(
        iter(
            [
                pa.record_batch(
                    {
                        "series_id": pa.array([series] * len(minutes), pa.int32()),
                        "ts": pa.array(minutes, pa.timestamp("us")),
                        "value": pa.array(on),
                    }
                )
                for series in ids.series_id
            ]
        )
    )
    _, membership = harvest(store)
    found = {(m.space, m.group): m for m in running_agreement(store, membership)}
    assert found["north/historian", "DEV_NORTH"].target_external_id == "PRS-07"
    assert found["north/historian", "DEV_NORTH"].agreement == 1.0
    assert ("south/historian", "DEV_SOUTH") not in found
