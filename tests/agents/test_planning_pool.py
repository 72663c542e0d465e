"""The planner's what-if schedules (candidate maintenance windows) run on the compute pool."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd
import pytest

from factorybrain import compute
from factorybrain.agents.planning import (
    MaintenanceProposal,
    load_plant_model,
    plan_orders,
    propose_maintenance_window,
)
from factorybrain.agents.planning._core import plan_model
from factorybrain.store import open_store
from tests._pools import RecordingPool
from tests.agents.test_planning import MONDAY, NOW, _seed

# Seven orders on one cutter: every in-shift window before the safe date delays some of them.
ORDERS = [
    {"external_id": f"WO-{index}", "quantity": quantity, "due_at": MONDAY + due}
    for index, (quantity, due) in enumerate(
        [
            (120.0, timedelta(hours=12)),
            (120.0, timedelta(days=1, hours=10)),
            (60.0, timedelta(days=1, hours=12)),
            (90.0, timedelta(days=1, hours=14)),
            (120.0, timedelta(days=2, hours=9)),
            (60.0, timedelta(days=2, hours=12)),
            (100.0, timedelta(days=3, hours=9)),
        ]
    )
]
LATEST_SAFE = NOW + timedelta(hours=30)


@pytest.fixture
def plant(store: Any) -> Any:
    _seed(store, ORDERS)
    return store


def _propose(store: Any) -> MaintenanceProposal:
    # One CP-SAT worker: with two, CP-SAT's threads race and two runs of the same inputs may give
    # different (equally good) plans even in one process (see propose_maintenance_window).
    return propose_maintenance_window(
        store,
        "CUT-1",
        LATEST_SAFE,
        model=load_plant_model(store, now=NOW),
        time_limit=3,
        workers=1,
        allow_off_shift=False,
    )


def _assert_same_proposal(got: MaintenanceProposal, expected: MaintenanceProposal) -> None:
    assert (got.start, got.end, got.off_shift) == (expected.start, expected.end, expected.off_shift)
    assert got.effect() == expected.effect()
    for plan, other in ((got.before, expected.before), (got.after, expected.after)):
        assert plan.schedule.status == other.schedule.status == "optimal"
        pd.testing.assert_frame_equal(plan.orders, other.orders, check_exact=True)
        pd.testing.assert_frame_equal(plan.operations, other.operations, check_exact=True)
        assert plan.extra_downtime == other.extra_downtime


def test_a_plan_of_the_model_alone_is_the_plan_of_the_store(plant: Any) -> None:
    model = load_plant_model(plant, now=NOW)
    from_store = plan_orders(plant, model=model, time_limit=3, workers=1)
    alone = plan_model(model, time_limit=3, workers=1)
    pd.testing.assert_frame_equal(alone.operations, from_store.operations)
    pd.testing.assert_frame_equal(alone.orders, from_store.orders)


def test_the_candidate_windows_are_replanned_as_pieces_of_the_pool(
    plant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = _propose(plant)
    assert local.effect()["total_tardiness_hours_after"] > 0  # the windows cost something
    pool = RecordingPool()
    monkeypatch.setattr(compute, "pool", lambda: pool)
    pooled = _propose(plant)
    # latest, middle and earliest in-shift window: three what-ifs, one map
    assert pool.calls == [("_plan_with_window", 3, "planning: maintenance windows for CUT-1")]
    _assert_same_proposal(pooled, local)


# ------------------------------------------------------------------ a real (local) Ray instance
@pytest.mark.slow
def test_a_proposal_on_a_local_ray_instance_is_the_local_proposal(
    ray_pool: compute.Pool,
) -> None:
    with open_store(":memory:", migrate=True) as store:
        _seed(store, ORDERS)
        with compute.using(None):
            local = _propose(store)
        assert compute.pool() is ray_pool and ray_pool.name == "ray"
        _assert_same_proposal(_propose(store), local)
