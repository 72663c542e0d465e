"""Behaviour in time as matching evidence: a device belongs to the machine it runs with."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pyarrow as pa

from factorybrain.context import match
from factorybrain.context._behaviour import corroborate, running_agreement
from factorybrain.context._harvest import harvest
from factorybrain.store import DuckDBStore

START = datetime(2025, 3, 3, 6, 0)


def _plant(store: DuckDBStore, follows: dict[str, str]) -> None:
    """Two machines running in alternate hours; each device's RUN tag follows one of them."""
    store.upsert_entities(
        "asset",
        pa.table(
            {
                "space": ["mes"] * 3,
                "external_id": ["LINE-9", "PRS-07", "LTH-04"],
                "name": ["Line 9", "Hydraulic press 7", "CNC lathe 4"],
                "level": ["line", "equipment", "equipment"],
                "parent": [None, "LINE-9", "LINE-9"],
            }
        ),
        "t",
    )
    hours = {"PRS-07": [0, 2, 4, 6], "LTH-04": [1, 3, 5, 7]}
    events = [
        (f"{m}/{h}", m, START + timedelta(hours=h), START + timedelta(hours=h + 1))
        for m, starts in hours.items()
        for h in starts
    ]
    store.upsert_entities(
        "event",
        pa.table(
            {
                "space": ["mes"] * len(events),
                "external_id": [e[0] for e in events],
                "event_type": ["state"] * len(events),
                "state": ["running"] * len(events),
                "asset": [e[1] for e in events],
                "start_time": pa.array([e[2] for e in events], pa.timestamp("us")),
                "end_time": pa.array([e[3] for e in events], pa.timestamp("us")),
            }
        ),
        "t",
    )
    tags = [f"{device}.RUN" for device in follows] + [f"{device}.TEMP" for device in follows]
    store.upsert_entities(
        "time_series",
        pa.table(
            {
                "space": ["historian"] * len(tags),
                "external_id": tags,
                "description": ["run signal"] * len(follows) + ["temperature"] * len(follows),
                "is_step": [True] * len(follows) + [False] * len(follows),
            }
        ),
        "t",
    )
    ids = dict(store.query("SELECT external_id, series_id FROM time_series").values.tolist())
    minutes = [START + timedelta(minutes=i) for i in range(8 * 60)]
    batches = []
    for device, machine in follows.items():
        on = [1.0 if (t - START).seconds // 3600 in hours[machine] else 0.0 for t in minutes]
        batches.append(
            pa.record_batch(
                {
                    "series_id": pa.array([ids[f"{device}.RUN"]] * len(minutes), pa.int32()),
                    "ts": pa.array(minutes, pa.timestamp("us")),
                    "value": pa.array(on),
                }
            )
        )
    store.append_datapoints(iter(batches))


def test_each_device_follows_its_machine(store: DuckDBStore) -> None:
    _plant(store, {"DEV_A": "LTH-04", "DEV_B": "PRS-07"})
    _, tags = harvest(store)
    found = {m.group: m for m in running_agreement(store, tags)}
    assert found["DEV_A"].target_external_id == "LTH-04" and found["DEV_A"].agreement == 1.0
    assert found["DEV_B"].target_external_id == "PRS-07" and found["DEV_B"].runner_up == 0.0
    assert found["DEV_A"].clear


def test_behaviour_links_devices_whose_names_say_nothing(store: DuckDBStore) -> None:
    _plant(store, {"DEV_A": "LTH-04", "DEV_B": "PRS-07"})
    run = match(store)
    links = store.query(
        "SELECT source_identifier, target_external_id, status, method FROM annotation "
        "WHERE source_space = 'historian'"
    )
    approved = dict(
        links[links.status == "approved"][
            ["source_identifier", "target_external_id"]
        ].values.tolist()
    )
    assert approved["DEV_A"] == "LTH-04" and approved["DEV_B"] == "PRS-07"
    assert approved["DEV_A.TEMP"] == "LTH-04"  # the group's link carries to each of its tags
    assert links.method.str.contains("behaviour-in-time").all()
    assert run.behaviour["added"] + run.behaviour["confirmed"] == 2


def test_names_and_behaviour_that_disagree_go_to_review(store: DuckDBStore) -> None:
    _plant(store, {"L9_PRS07": "LTH-04"})  # named like the press, runs like the lathe
    _, tags = harvest(store)
    evidence = running_agreement(store, tags)
    proposals = pd.DataFrame(
        [
            {
                "class": "asset",
                "source_space": "historian",
                "source_identifier": "L9_PRS07",
                "source_kind": "tag_group",
                "target_type": "asset",
                "target_space": "mes",
                "target_external_id": "PRS-07",
                "confidence": 0.97,
                "status": "approved",
                "ambiguous": False,
                "members": ["L9_PRS07.RUN", "L9_PRS07.TEMP"],
            }
        ]
    )
    out, counts = corroborate(proposals, evidence, tags)
    assert counts == {"confirmed": 0, "flagged": 1, "added": 0}
    assert out.loc[0, "status"] == "suggested" and bool(out.loc[0, "ambiguous"])
