"""Model management per asset and asset class: versions, training windows, metrics, fallback.

A :class:`ModelRegistry` keeps every fitted version of every asset's (or asset class's) model with
why it was trained, on what window and how it scored. With a ``root`` folder each version is also
written through the RUL model store (``<root>/<key>/v<n>.joblib`` and ``v<n>.json`` with a
checksum), so a restarted agent picks up where it left off::

    registry = ModelRegistry("models")
    registry.register("press-3", model, scope="asset", reason="after maintenance")
    record = registry.resolve("press-3", asset_class="press")   # the class model if none
    if registry.needs_retraining(record, unseen_share=0.2): ...

Resolution order for an asset: its own latest version (trained before ``at`` when given), else
the latest version of its asset class (the fallback for assets with too little history), else
None.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from factorybrain.engines._base import Engine
from factorybrain.engines.rul import list_versions, load_model, save_model
from factorybrain.exceptions import ParameterError

SCOPES = ("asset", "asset_class")
#: Share of recent rows in operating regimes the model never saw that calls for retraining.
UNSEEN_REGIME_LIMIT = 0.05
#: Share of recent rows flagged (stuck, missing, drifting sensors) that calls for retraining.
FLAGGED_LIMIT = 0.25


@dataclass
class ModelRecord:
    """One version of one asset's or asset class's model.

    Attributes:
        key: Asset or asset class the model serves.
        version: 1, 2, ... per key.
        scope: ``asset`` or ``asset_class``.
        model: The fitted engine.
        trained_at: When the version became available (data time, not wall clock).
        training_window: What it was trained on (first and last time, rows...).
        metrics: Its figures (healthy hours, limits, cross-validated errors...).
        reason: Why it was trained (new healthy history, drift, fallback...).
        path: Where it was saved, when the registry has a root.
    """

    key: str
    version: int
    scope: str
    model: Engine
    trained_at: pd.Timestamp | None = None
    training_window: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    path: str | None = None

    def dump(self) -> dict[str, Any]:
        """JSON-ready metadata (the model itself is not included)."""
        return {
            "key": self.key,
            "version": self.version,
            "scope": self.scope,
            "engine": type(self.model).__name__,
            "trained_at": None if self.trained_at is None else self.trained_at.isoformat(),
            "training_window": self.training_window,
            "metrics": self.metrics,
            "reason": self.reason,
            "path": self.path,
        }


class ModelRegistry:
    """Versions of fitted models per asset or asset class, in memory and optionally on disk.

    Args:
        root: Folder to save every version to (through the RUL model store); None keeps them in
            memory only.
    """

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = None if root is None else Path(root)
        self._records: dict[str, list[ModelRecord]] = {}
        if self.root is not None and self.root.is_dir():
            self._load_all()

    def _load_all(self) -> None:
        assert self.root is not None
        for folder in sorted(p for p in self.root.iterdir() if p.is_dir()):
            for version in list_versions(self.root, folder.name):
                model, metadata = load_model(self.root, folder.name, version)
                extra = json.loads(metadata.get("notes") or "{}")
                trained = extra.get("trained_at")
                self._records.setdefault(folder.name, []).append(
                    ModelRecord(
                        key=folder.name,
                        version=int(metadata["version"]),
                        scope=extra.get("scope", "asset"),
                        model=model,
                        trained_at=None if trained is None else pd.Timestamp(trained),
                        training_window=dict(metadata.get("training_window") or {}),
                        metrics=dict(metadata.get("metrics") or {}),
                        reason=extra.get("reason", ""),
                        path=str(self.root / folder.name / metadata["file"]),
                    )
                )

    def register(
        self,
        key: str,
        model: Engine,
        *,
        scope: str = "asset",
        reason: str = "",
        at: datetime | pd.Timestamp | None = None,
        metrics: dict[str, Any] | None = None,
    ) -> ModelRecord:
        """Keep a fitted model as the next version of ``key`` and return its record.

        Args:
            key: Asset or asset class, a plain name (letters, digits, ``.``, ``_``, ``-``).
            model: A fitted engine; its ``training_window_`` and ``metrics_`` are recorded.
            scope: ``asset`` or ``asset_class``.
            reason: Why it was trained.
            at: When the version became available (default: now, UTC).
            metrics: Extra figures merged over the model's own.

        Raises:
            ParameterError: Unknown scope or a key that is not a plain name.
            NotFittedError: The model is not fitted.
        """
        if scope not in SCOPES:
            raise ParameterError(f"scope must be one of {list(SCOPES)}. Got {scope!r} instead.")
        model._check_fitted()
        trained_at = pd.Timestamp(at) if at is not None else pd.Timestamp(datetime.now(UTC))
        records = self._records.setdefault(key, [])
        record = ModelRecord(
            key=key,
            version=(records[-1].version if records else 0) + 1,
            scope=scope,
            model=model,
            trained_at=trained_at,
            training_window=dict(getattr(model, "training_window_", {}) or {}),
            metrics={**(getattr(model, "metrics_", {}) or {}), **(metrics or {})},
            reason=reason,
        )
        if self.root is not None:
            notes = json.dumps(
                {"scope": scope, "reason": reason, "trained_at": trained_at.isoformat()}
            )
            metadata = save_model(model, self.root, key, metrics=metrics, notes=notes)
            record.version = int(metadata["version"])
            record.path = str(self.root / key / metadata["file"])
        records.append(record)
        return record

    def versions(self, key: str) -> list[ModelRecord]:
        """Every version of ``key``, oldest first (empty when none)."""
        return list(self._records.get(key, []))

    def keys(self) -> list[str]:
        """Assets and asset classes with at least one version."""
        return sorted(self._records)

    def latest(self, key: str, *, at: datetime | pd.Timestamp | None = None) -> ModelRecord | None:
        """The newest version of ``key`` (available at ``at`` when given), or None."""
        moment = None if at is None else pd.Timestamp(at)
        for record in reversed(self._records.get(key, [])):
            if moment is None or record.trained_at is None or record.trained_at <= moment:
                return record
        return None

    def resolve(
        self,
        asset: str,
        *,
        asset_class: str | None = None,
        at: datetime | pd.Timestamp | None = None,
    ) -> ModelRecord | None:
        """The model to score ``asset`` with: its own, else its class's (the fallback)."""
        own = self.latest(asset, at=at)
        if own is not None:
            return own
        if asset_class is not None:
            return self.latest(asset_class, at=at)
        return None

    @staticmethod
    def needs_retraining(
        record: ModelRecord | None, *, unseen_share: float = 0.0, flagged_share: float = 0.0
    ) -> list[str]:
        """Reasons to train a new version, from what recent scoring saw (empty: keep it).

        Args:
            record: The version in use (None: there is none, so train one).
            unseen_share: Share of recent rows in operating regimes the model never saw.
            flagged_share: Share of recent rows with data flags (stuck, missing, drift).
        """
        reasons = []
        if record is None:
            reasons.append("no model yet")
        if unseen_share > UNSEEN_REGIME_LIMIT:
            reasons.append(f"{unseen_share:.0%} of recent rows are in regimes never seen")
        if flagged_share > FLAGGED_LIMIT:
            reasons.append(f"{flagged_share:.0%} of recent rows carry data flags")
        return reasons

    def summary(self) -> list[dict[str, Any]]:
        """Metadata of every version of every key."""
        return [record.dump() for key in self.keys() for record in self._records[key]]


__all__ = ["FLAGGED_LIMIT", "ModelRecord", "ModelRegistry", "SCOPES", "UNSEEN_REGIME_LIMIT"]
