from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from factorybrain.engines.anomaly import PCAAnomalyModel
from factorybrain.engines.model_registry import ModelRegistry
from factorybrain.exceptions import EngineError, NotFittedError, ParameterError


def _fitted(seed: int) -> PCAAnomalyModel:
    data = np.random.default_rng(seed).normal(size=(200, 3))
    model = PCAAnomalyModel(n_components=2).fit(data)
    model.training_window_ = {"first_time": "2026-01-01", "last_time": "2026-01-03", "rows": 200}
    model.metrics_ = {"healthy_hours": 36}
    return model


def test_versions_round_trip_through_disk(tmp_path) -> None:
    registry = ModelRegistry(tmp_path)
    first = registry.register(
        "press-3", _fitted(0), reason="after maintenance", at=datetime(2026, 1, 3)
    )
    second = registry.register(
        "press-3", _fitted(1), reason="drift", at=datetime(2026, 2, 1), metrics={"auc": 0.9}
    )
    assert (first.version, second.version) == (1, 2)
    reopened = ModelRegistry(tmp_path)
    versions = reopened.versions("press-3")
    assert [r.version for r in versions] == [1, 2]
    assert versions[1].reason == "drift"
    assert versions[1].metrics == {"healthy_hours": 36, "auc": 0.9}
    assert versions[0].training_window["rows"] == 200
    probe = np.array([[0.0, 0.0, 0.0], [8.0, -8.0, 8.0]])
    np.testing.assert_allclose(
        versions[1].model.score(probe).scores, second.model.score(probe).scores
    )
    assert reopened.latest("press-3", at=datetime(2026, 1, 20)).version == 1


def test_asset_without_history_falls_back_to_its_class_model() -> None:
    registry = ModelRegistry()
    registry.register("press", _fitted(0), scope="asset_class", at=datetime(2026, 1, 1))
    assert registry.resolve("press-9", asset_class="press").scope == "asset_class"
    registry.register("press-9", _fitted(1), at=datetime(2026, 2, 1))
    assert registry.resolve("press-9", asset_class="press").key == "press-9"
    assert registry.resolve("press-9", asset_class="press", at=datetime(2026, 1, 15)).key == "press"
    assert registry.resolve("lathe-1") is None


def test_retraining_reasons_and_bad_input() -> None:
    registry = ModelRegistry()
    record = registry.register("lathe-1", _fitted(0))
    assert registry.needs_retraining(record) == []
    assert registry.needs_retraining(None) == ["no model yet"]
    reasons = registry.needs_retraining(record, unseen_share=0.3, flagged_share=0.5)
    assert len(reasons) == 2 and "regimes never seen" in reasons[0]
    with pytest.raises(ParameterError, match="scope"):
        registry.register("lathe-1", _fitted(0), scope="fleet")
    with pytest.raises(NotFittedError):
        registry.register("lathe-1", PCAAnomalyModel())


def test_a_tampered_model_file_is_refused(tmp_path) -> None:
    registry = ModelRegistry(tmp_path)
    record = registry.register("winder-2", _fitted(0))
    with open(record.path, "ab") as handle:
        handle.write(b"tampered")
    with pytest.raises(EngineError, match="checksum"):
        ModelRegistry(tmp_path)
