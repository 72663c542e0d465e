"""Machines in series make the same units a day apart: their own sensors tell which one wore."""

from __future__ import annotations

import warnings
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa

from factorybrain.agents.service import ServiceAgent, ServiceDataWarning
from factorybrain.agents.service._condition import CONDITION_Z, ConditionReader
from tests.agents.test_maintenance_sampling import _load

START = datetime(2026, 1, 5)
DAYS, PER_DAY = 70, 40
#: Days (from START) on which the press PR-2 was wearing: units pressed then fail in the field.
WORN = range(40, 43)


def _put(store, entity: str, rows: list[dict]) -> None:
    store.upsert_entities(entity, pa.Table.from_pylist(rows), "test")


def _readings(
    rng: np.random.Generator,
    *,
    worn: bool,
    faulty_sensor: bool = False,
    days: range = WORN,
    scale: float = 1.0,
) -> dict:
    """Hourly vibration, temperature and current; wear moves all three, a fault moves one."""
    hours = DAYS * 24
    times = np.datetime64(START, "s") + (np.arange(hours) * 3600).astype("timedelta64[s]")
    day = np.arange(hours) // 24
    wearing = scale * np.isin(day, list(days))
    signals = {
        "VIB": 2.0 + rng.normal(0, 0.1, hours),
        "TEMP": 45.0 + rng.normal(0, 0.5, hours),
        "CURR": 12.0 + rng.normal(0, 0.2, hours),
    }
    if worn:
        signals["VIB"] = signals["VIB"] + 3.0 * wearing
        signals["TEMP"] = signals["TEMP"] + 15.0 * wearing
    if faulty_sensor:  # the current transducer drifts; the machine itself is fine
        signals["CURR"] = signals["CURR"] + 8.0 * wearing
    return {name: (times, values) for name, values in signals.items()}


def populate(
    store,
    *,
    sensors: bool = True,
    faulty_sensor: bool = False,
    bad_order: int | None = None,
    sap_style: bool = False,
    both_worn: bool = False,
    first_name: str = "Stator winding machine 1",
    press_later: bool = False,
) -> None:
    """A line of two machines: a lathe LT-1, then a press PR-2 the next day, every unit.

    The press wears on the days of :data:`WORN`, unless ``bad_order`` names the one order
    whose units fail (a process deviation of that order; both machines stay sound).
    ``sap_style``: operations name work centres, the sensors belong to the equipment records
    (``EQ-LT-1``, ``EQ-PR-2``), each at the place of its work centre, as SAP keeps a machine.
    ``both_worn``: the first machine (``first_name``, a stator winder unless named otherwise)
    wears too, on the days it made the press's worn days' units, and moves further than the
    press. ``press_later``: with ``both_worn``, the press starts to wear on the last day it
    presses those units and for three days after, moving further than the first machine: the
    units that fail are the first machine's.
    """
    rng = np.random.default_rng(5)
    if sap_style:
        _put(store, "asset", [
            row
            for m in ("LT-1", "PR-2")
            for row in (
                {"space": "plant", "external_id": f"AT-{m}", "level": "area", "parent": None},
                {"space": "plant", "external_id": m, "level": "workcell", "parent": f"AT-{m}"},
                {"space": "plant", "external_id": f"EQ-{m}", "level": "equipment",
                 "parent": f"AT-{m}"},
            )
        ])  # fmt: skip
    else:
        names = {"LT-1": first_name, "PR-2": "Bearing press 2"} if both_worn else {}
        _put(store, "asset", [
            {"space": "plant", "external_id": m, "name": names.get(m, m), "level": "equipment"}
            for m in ("LT-1", "PR-2")
        ])  # fmt: skip
    _put(store, "customer", [{"space": "plant", "external_id": "C1", "name": "Customer 1"}])
    serials, edges, operations, shipments, claims = [], [], [], [], []
    for order in range(DAYS - 2):
        start = START + timedelta(days=order)
        wo = f"WO-{order:03d}"
        for sequence, machine, day in (
            (10, "LT-1", start),
            (20, "PR-2", start + timedelta(days=1)),
        ):
            operations.append({
                "space": "plant", "external_id": f"OP-{order}-{sequence}", "work_order": wo,
                "sequence": sequence, "equipment": machine,
                "start_time": day + timedelta(hours=6), "end_time": day + timedelta(hours=14),
            })  # fmt: skip
        shipment = f"SH-{order:03d}"
        shipments.append({"space": "plant", "external_id": shipment, "customer": "C1",
                          "shipped_at": start + timedelta(days=3)})  # fmt: skip
        pressed_worn = (order + 1) in WORN if bad_order is None else order == bad_order
        for k in range(PER_DAY):
            serial = f"SN-{order:03d}-{k:02d}"
            made = start + timedelta(hours=6, minutes=12 * k)
            serials.append({"space": "plant", "external_id": serial, "product": "P1",
                            "produced_at": made})  # fmt: skip
            edges.append({"edge_type": "produced", "source_space": "plant",
                          "source_external_id": wo, "target_space": "plant",
                          "target_external_id": serial, "start_time": made})  # fmt: skip
            edges.append({"edge_type": "shipped_in", "source_space": "plant",
                          "source_external_id": serial, "target_space": "plant",
                          "target_external_id": shipment})  # fmt: skip
            if rng.random() < (0.35 if pressed_worn else 0.004):
                failed = start + timedelta(days=int(rng.integers(8, 40)))
                claims.append({"space": "plant", "external_id": f"CL-{len(claims):04d}",
                               "serial_unit": serial, "failure_date": failed,
                               "claimed_at": failed + timedelta(days=1),
                               "text": "pump vibrates and runs rough"})  # fmt: skip
    _put(store, "serial_unit", serials)
    _put(store, "operation", operations)
    _put(store, "shipment", shipments)
    _put(store, "warranty_claim", claims)
    store.upsert_edges(pa.Table.from_pylist(edges), "test")
    if sensors:
        readings = {}
        press_worn = bad_order is None and not faulty_sensor
        for machine, worn in (("LT-1", both_worn), ("PR-2", press_worn)):
            faulty = faulty_sensor and machine == "PR-2"
            device = f"EQ-{machine}" if sap_style else machine
            shape = (
                {"days": range(WORN[0] - 1, WORN[-1]), "scale": 1.0 if press_later else 3.0}
                if machine == "LT-1"
                else {"days": range(WORN[-1], WORN[-1] + 4), "scale": 3.0}
                if press_later
                else {}
            )
            for signal, series in _readings(rng, worn=worn, faulty_sensor=faulty, **shape).items():
                readings[f"{device}.{signal}"] = series
        _load(store, "plant", readings)


def _clusters(store):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ServiceDataWarning)
        return ServiceAgent().review(store).clusters


def _press_cluster(clusters):
    """The cluster of the worn days' claims (the one with most claims)."""
    assert clusters, "the worn press's claims were not found at all"
    return max(clusters, key=lambda c: len(c.claims))


def test_the_machine_whose_sensors_moved_is_named_not_its_neighbour_in_the_line(store) -> None:
    populate(store)
    cluster = _press_cluster(_clusters(store))
    assert cluster.attribute == "machine_window"
    assert cluster.subject.external_id == "PR-2"
    assert "PR-2 moved" in cluster.text and "robust SD" in cluster.text
    assert any(r.external_id == "LT-1" for r in cluster.related)  # the neighbour stays listed


def test_a_work_centres_machine_is_judged_by_its_equipments_sensors(store) -> None:
    populate(store, sap_style=True)
    cluster = _press_cluster(_clusters(store))
    assert cluster.subject.external_id == "PR-2"  # the work centre the operations name...
    assert "PR-2 moved" in cluster.text  # ...by the sensors of the equipment at its place


def test_one_sensor_drifting_is_no_evidence_of_wear(store) -> None:
    populate(store, faulty_sensor=True)
    reader = ConditionReader(store)
    first = START + timedelta(days=WORN[0])
    shift = reader.shift(("plant", "PR-2"), first, first + timedelta(days=len(WORN)))
    assert shift is not None
    assert shift.z < CONDITION_Z  # the current alone moved: its second signal did not
    worn = ConditionReader(store).shift(("plant", "LT-1"), first, first + timedelta(days=3))
    assert worn is not None and worn.z < CONDITION_Z


def test_a_worn_machine_moves_several_signals_and_says_which(store) -> None:
    populate(store)
    first = START + timedelta(days=WORN[0])
    shift = ConditionReader(store).shift(("plant", "PR-2"), first, first + timedelta(days=3))
    assert shift is not None and shift.z >= CONDITION_Z
    assert set(shift.signals) == {"VIB", "TEMP"}
    assert WORN[0] <= (shift.day - START).days <= WORN[-1]
    assert "VIB and TEMP" in shift.text or "TEMP and VIB" in shift.text


def test_a_machine_without_sensors_gives_no_evidence(store) -> None:
    populate(store, sensors=False)
    first = START + timedelta(days=WORN[0])
    assert ConditionReader(store).shift(("plant", "PR-2"), first, first + timedelta(days=3)) is None


def test_too_little_history_before_the_window_gives_no_evidence(store) -> None:
    populate(store)
    early = START + timedelta(days=3)  # three days of readings before it, ten needed
    reader = ConditionReader(store, min_baseline_days=10)
    assert reader.shift(("plant", "PR-2"), early, early + timedelta(days=1)) is None


def test_a_window_of_sound_machines_gives_way_to_the_order_that_explains_it(store) -> None:
    populate(store, bad_order=30)
    cluster = _press_cluster(_clusters(store))
    assert (cluster.attribute, cluster.subject.external_id) == ("work_order", "WO-030")


def test_without_sensors_the_finding_says_the_machines_in_series_cannot_be_told_apart(
    store,
) -> None:
    populate(store, sensors=False)
    cluster = _press_cluster(_clusters(store))
    assert cluster.attribute == "machine_window"
    other = "LT-1" if cluster.subject.external_id == "PR-2" else "PR-2"
    assert "near-tied with" in cluster.text and other in cluster.text
    assert "neither their sensors nor a breakdown tells which one" in cluster.text
    assert "has no sensors linked to it" in cluster.text and "inspect them too" in cluster.text


def test_of_two_machines_that_wore_the_one_whose_process_fails_as_the_claims_is_named(
    store,
) -> None:
    populate(store, both_worn=True)  # the winder moved further; the claims vibrate
    cluster = _press_cluster(_clusters(store))
    assert (cluster.attribute, cluster.subject.external_id) == ("machine_window", "PR-2")
    assert "Stator winding machine 1 moved too" in cluster.text
    assert "do not fail as vibration" in cluster.text


def test_of_two_machines_that_wore_and_fail_alike_both_are_named_for_inspection(store) -> None:
    populate(store, both_worn=True, first_name="CNC lathe 1")  # both vibrate a pump
    cluster = _press_cluster(_clusters(store))
    assert cluster.subject.external_id == "LT-1"  # it moved furthest
    assert "PR-2 (" in cluster.text and "moved too while making these units" in cluster.text
    assert "inspect it as well" in cluster.text


def test_of_two_machines_that_wore_the_one_worn_when_the_failing_units_passed_is_named(
    store,
) -> None:
    # the press moved further, but only from the last day it pressed the failing units: the
    # lathe was off its normal exactly when they passed it, and sound the days around
    populate(store, both_worn=True, first_name="CNC lathe 1", press_later=True)
    cluster = _press_cluster(_clusters(store))
    assert (cluster.attribute, cluster.subject.external_id) == ("machine_window", "LT-1")
    assert "passed it while it was off its normal" in cluster.text
    assert "unlike PR-2" in cluster.text and "which moved further" in cluster.text
    assert "PR-2 (" in cluster.text and "moved too while making these units" in cluster.text


def test_tracking_scores_the_machine_whose_condition_follows_the_failures(store) -> None:
    from factorybrain.agents.service._condition import tracking
    from factorybrain.agents.service._data import unit_times_on_machines

    populate(store, both_worn=True, first_name="CNC lathe 1", press_later=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ServiceDataWarning)
        review = ServiceAgent().review(store)
    units = review.screened.fleet.units
    passes = unit_times_on_machines(units, _operations(store))
    span = (START + timedelta(days=WORN[0] - 4), START + timedelta(days=WORN[-1] + 4))
    scores = tracking(
        ConditionReader(store),
        {("plant", "LT-1"): span, ("plant", "PR-2"): span},
        passes,
        units["failed"].to_numpy(dtype=bool),
    )
    assert scores[("plant", "LT-1")] > 0.75 > 0.5 > scores[("plant", "PR-2")]


def _operations(store):
    from factorybrain.agents.service import load_field

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ServiceDataWarning)
        return load_field(store).operations


def test_the_containment_inspects_every_machine_that_wore_while_making_the_units(store) -> None:
    from factorybrain.agents import AgentContext, AgentRecords, Recommendation
    from factorybrain.agents.quality import QualityAgent, QualityDataWarning
    from factorybrain.agents.service import FAILURE_CLUSTER

    populate(store, both_worn=True, first_name="CNC lathe 1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ServiceDataWarning)
        review = ServiceAgent().review(store)
    cluster = _press_cluster(review.clusters)
    (finding,) = [
        f for f in review.findings if f.kind == FAILURE_CLUSTER and f.dedup_key == cluster.dedup_key
    ]
    assert finding.evidence.numbers["moved_too_z:plant:PR-2"] >= CONDITION_Z
    context = AgentContext(store, AgentRecords(store), lambda: START + timedelta(days=DAYS))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QualityDataWarning)
        items = list(QualityAgent().react(finding, context))
    (proposal,) = [i for i in items if isinstance(i, Recommendation)]
    inspected = {
        s.parameters["asset"]: s.parameters["notes"]
        for s in proposal.steps
        if s.action_type == "maintenance_order.create"
    }
    assert set(inspected) == {"LT-1", "PR-2"}
    assert "wore too" in inspected["PR-2"] and "wore too" not in inspected["LT-1"]


def test_the_field_failure_playbook_bundles_both_inspections_into_one_action(store) -> None:
    from factorybrain.agents import installed_orchestrator
    from factorybrain.agents.quality import QualityAgent, QualityDataWarning

    populate(store, both_worn=True, first_name="CNC lathe 1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ServiceDataWarning)
        review = ServiceAgent().review(store)
    orchestrator = installed_orchestrator(store, with_agents=False, clock=lambda: review.as_of)
    orchestrator.register(QualityAgent())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QualityDataWarning)
        report = orchestrator.submit(review.items(), agent="service", at=review.as_of)
    assert not report.errors, report.errors
    records = orchestrator.records
    inspected = set()
    for action in (records.action(a) for a in report.actions):
        bundle = records.recommendation(action.recommendation_id)
        inspected |= {
            s.parameters["asset"]
            for s in bundle.steps
            if s.action_type == "maintenance_order.create"
        }
    assert {"LT-1", "PR-2"} <= inspected
