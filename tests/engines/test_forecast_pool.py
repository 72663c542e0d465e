"""The forecaster's statsforecast work runs on the compute pool in batches, to the same results."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from factorybrain import compute
from factorybrain.engines.forecast import DemandForecaster
from factorybrain.engines.forecast import _engine as engine_module
from factorybrain.engines.forecast._engine import series_batches
from tests._pools import RecordingPool

# AutoARIMA's small stepwise search (see _candidates.py) warns that it stopped at its model limit.
# Turned into an error (filterwarnings = error), the warning makes statsforecast fall back to the
# historic average in this process, while a Ray worker, under Python's default filters, keeps
# AutoARIMA: ignored here, every run fits the models a user's run fits, wherever it runs.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Stepwise search was stopped early:UserWarning:statsforecast.arima"
)


def demand_table(seed: int = 0) -> pd.DataFrame:
    """32 intermittent and 8 smooth series of 30 periods, some starting late."""
    rng = np.random.default_rng(seed)
    frames = []
    for series in range(40):
        periods = 30 - (series % 3) * 2
        if series < 32:
            demand = (rng.random(periods) < 0.3) * rng.integers(1, 6, periods)
        else:
            demand = np.round(rng.normal(20, 3, periods).clip(1) + np.arange(periods) * 0.2)
        frames.append(
            pd.DataFrame(
                {"unique_id": f"part-{series:02d}", "ds": np.arange(30 - periods, 30), "y": demand}
            )
        )
    return pd.concat(frames, ignore_index=True)


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of a few series, so that small test tables are split into several."""
    monkeypatch.setattr(engine_module, "MIN_BATCH_SERIES", 2)


def _fit(table: pd.DataFrame, pooled: str = "auto") -> DemandForecaster:
    return DemandForecaster(horizon=4, pooled=pooled, n_samples=200).fit(table)


def _assert_same_fit(batched: DemandForecaster, single: DemandForecaster) -> None:
    pd.testing.assert_frame_equal(batched.selection_, single.selection_, check_exact=True)
    pd.testing.assert_frame_equal(batched.forecasts_, single.forecasts_, check_exact=True)
    pd.testing.assert_frame_equal(batched.predict(), single.predict(), check_exact=True)


def test_batches_hold_whole_series_in_id_order_and_one_worker_keeps_one_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    table = demand_table().sample(frac=1.0, random_state=1)  # rows in any order
    assert series_batches(table, 1)[0] is table
    # 40 series, at least 50 a batch: one batch whatever the workers
    assert series_batches(table, 8)[0] is table
    monkeypatch.setattr(engine_module, "MIN_BATCH_SERIES", 4)
    batches = series_batches(table, 2)
    assert len(batches) == 2 * compute.TASKS_PER_WORKER
    seen = [sorted(set(batch["unique_id"])) for batch in batches]
    assert [uid for ids in seen for uid in ids] == sorted(set(table["unique_id"]))
    assert sum(len(batch) for batch in batches) == len(table)
    # more workers than 40 series fill at 4 a batch: batches of 4 or more, never of fewer
    many = series_batches(table, 32)
    assert 1 < len(many) <= 40 // 4
    assert min(batch["unique_id"].nunique() for batch in many) >= 4


@pytest.mark.parametrize("workers", [2, 3, 8])
def test_batches_are_even_ordered_and_never_below_the_minimum(
    monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    monkeypatch.setattr(engine_module, "MIN_BATCH_SERIES", 4)
    for n_series in range(1, 140):
        table = pd.DataFrame({"unique_id": np.repeat(np.arange(n_series), 2), "ds": 0, "y": 1.0})
        sizes = [batch["unique_id"].nunique() for batch in series_batches(table, workers)]
        ids = np.concatenate(
            [batch["unique_id"].to_numpy() for batch in series_batches(table, workers)]
        )
        assert (ids == table["unique_id"].to_numpy()).all()
        assert sum(sizes) == n_series
        assert len(sizes) <= workers * compute.TASKS_PER_WORKER
        assert len(sizes) == 1 or (min(sizes) >= 4 and max(sizes) - min(sizes) <= 1)
        assert len(sizes) == min(workers * compute.TASKS_PER_WORKER, max(1, n_series // 4))


@pytest.mark.usefixtures("small_batches")
def test_batched_statsforecast_output_equals_one_call() -> None:
    # the statsforecast calls themselves, on the smooth series (AutoETS, AutoARIMA, Theta)
    table = demand_table()
    long = table[table["unique_id"] >= "part-32"].reset_index(drop=True)
    forecaster = DemandForecaster(horizon=4)
    for cv_windows in (2, 0):
        whole = engine_module._run_batch(
            long, engine_module._ModelRun("smooth", 1, 4, 1, cv_windows, 2, None)
        )
        pool = RecordingPool(workers=3)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(compute, "pool", lambda bound=pool: bound)
            batched = forecaster._run_models(long, "smooth", cv_windows=cv_windows, step=2)
        assert pool.calls[0][1] > 1
        pd.testing.assert_frame_equal(
            batched.reset_index(drop=True), whole.reset_index(drop=True), check_exact=True
        )


@pytest.mark.usefixtures("small_batches")
def test_a_fit_batched_over_four_workers_gives_what_the_local_fit_gives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    table = demand_table()
    single = _fit(table)  # the local pool: one worker, one batch
    assert single._pooled_rmsse is not None  # the pooled model takes part in the choice
    pool = RecordingPool(workers=4)
    monkeypatch.setattr(compute, "pool", lambda bound=pool: bound)
    batched = _fit(table)
    labels = [label for _, _, label in pool.calls]
    assert "forecast: cross-validation (intermittent)" in labels
    assert "forecast: cross-validation (smooth)" in labels
    # every class's cross-validation is split into several pieces
    assert all(count > 1 for _, count, label in pool.calls if "cross-validation" in label)
    assert {name for name, _, _ in pool.calls} == {"_run_batch"}
    _assert_same_fit(batched, single)


# ------------------------------------------------------------------ a real (local) Ray instance
@pytest.mark.slow
def test_a_fit_on_a_local_ray_instance_gives_what_the_local_fit_gives(
    ray_pool: compute.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "MIN_BATCH_SERIES", 2)
    table = demand_table()
    with compute.using(None):
        single = _fit(table)
    assert compute.pool() is ray_pool and ray_pool.name == "ray"
    _assert_same_fit(_fit(table), single)
