"""Fitted models on disk: one folder per asset or asset class, numbered versions with metadata.

Layout::

    <root>/<name>/v1.joblib   the fitted model
    <root>/<name>/v1.json     version, engine, parameters, training window, metrics, checksum

Loading checks the checksum in the JSON against the model file, so a partly written or swapped file
is refused instead of silently used. Model files are pickles: load only files you wrote yourself.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib

from factorybrain.engines._base import Engine
from factorybrain.exceptions import EngineError, ParameterError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_VERSION_FILE = re.compile(r"^v(\d+)\.json$")
FORMAT = 1


def _folder(root: str | Path, name: str) -> Path:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ParameterError(
            "A model name must start with a letter or digit and hold only letters, digits, '.', "
            f"'_' or '-'. Got {name!r} instead."
        )
    return Path(root) / name


def list_versions(root: str | Path, name: str) -> list[int]:
    """Versions saved under ``root/name``, ascending (empty when none)."""
    folder = _folder(root, name)
    if not folder.is_dir():
        return []
    found = (_VERSION_FILE.match(path.name) for path in folder.iterdir())
    return sorted(int(match.group(1)) for match in found if match)


def _plain(value: Any) -> Any:
    """Make numpy scalars and other leaves JSON-friendly."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def save_model(
    model: Engine,
    root: str | Path,
    name: str,
    *,
    metrics: dict[str, Any] | None = None,
    notes: str = "",
) -> dict[str, Any]:
    """Save a fitted engine as the next version of ``name`` and return its metadata.

    Args:
        model: A fitted engine (its ``metrics_`` and ``training_window_`` are recorded too).
        root: Folder holding every model.
        name: Asset or asset class the model serves, for example ``"press-3"`` or ``"turbofan"``.
        metrics: Extra figures to record (for example a test RMSE), merged over ``metrics_``.
        notes: Free text, for example why the model was retrained.

    Returns:
        The metadata written next to the model (``version``, ``path``, ``sha256``, ...).

    Raises:
        NotFittedError: The engine is not fitted.
        ParameterError: ``name`` is not a plain file name.
    """
    model._check_fitted()
    folder = _folder(root, name)
    folder.mkdir(parents=True, exist_ok=True)
    version = (list_versions(root, name) or [0])[-1] + 1
    artifact = folder / f"v{version}.joblib"
    joblib.dump(model, artifact)
    digest = hashlib.sha256(artifact.read_bytes()).hexdigest()
    metadata = {
        "format": FORMAT,
        "name": name,
        "version": version,
        "engine": type(model).__name__,
        "parameters": _plain(model.get_params()),
        "training_window": _plain(getattr(model, "training_window_", {})),
        "metrics": _plain({**getattr(model, "metrics_", {}), **(metrics or {})}),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "notes": notes,
        "file": artifact.name,
        "sha256": digest,
    }
    (folder / f"v{version}.json").write_text(json.dumps(metadata, indent=2) + "\n")
    return metadata


def load_model(
    root: str | Path, name: str, version: int | None = None
) -> tuple[Engine, dict[str, Any]]:
    """Load a saved model and its metadata (the latest version unless ``version`` is given).

    Raises:
        EngineError: No such model or version, or the model file does not match its checksum.
    """
    versions = list_versions(root, name)
    if not versions:
        raise EngineError(f"No saved model named {name!r} under {Path(root)}.")
    chosen = versions[-1] if version is None else version
    if chosen not in versions:
        raise EngineError(
            f"Model {name!r} has versions {versions}; version {version!r} is not one of them."
        )
    folder = _folder(root, name)
    metadata = json.loads((folder / f"v{chosen}.json").read_text())
    artifact = folder / metadata["file"]
    if not artifact.exists():
        raise EngineError(f"Model file {artifact} named by v{chosen}.json is missing.")
    digest = hashlib.sha256(artifact.read_bytes()).hexdigest()
    if digest != metadata["sha256"]:
        raise EngineError(
            f"Model file {artifact} does not match its checksum in v{chosen}.json "
            f"(expected sha256 {metadata['sha256'][:12]}..., found {digest[:12]}...)."
        )
    return joblib.load(artifact), metadata
