"""The demo plant end to end: simulate its exports, load every silo, run what exists, score it.

Every capability plugs in here as soon as it exists: a *stage* runs on the loaded store (matching,
agents...) and a *scorer* compares what the platform found with ``truth.json``, by kind of
finding, so ``factorybrain demo --score`` always measures the whole platform.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
import shutil
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from factorybrain.store import DuckDBStore

logger = logging.getLogger(__name__)

#: Manifest of the demo plant's exports and the mapping of each file.
DEMO_MANIFEST = Path(__file__).parent / "examples" / "demo_plant" / "plant.yaml"


@dataclass(frozen=True)
class Score:
    """Precision and recall of one kind of finding against the plant's truth."""

    kind: str
    expected: int
    found: int
    correct: int
    note: str = ""

    @property
    def precision(self) -> float:
        """Share of what was found that is true (1.0 when nothing was found)."""
        return self.correct / self.found if self.found else 1.0

    @property
    def recall(self) -> float:
        """Share of the truth that was found (1.0 when there was nothing to find)."""
        return min(self.correct, self.expected) / self.expected if self.expected else 1.0


#: Modules that plug stages and scorers into the demo, imported in the order their stages run:
#: identities first, then the agents whose findings the next ones react to.
PLUGINS: tuple[str, ...] = (
    "factorybrain.context._demo",
    "factorybrain.agents._maintenance_demo",
    "factorybrain.agents._planning_demo",
    "factorybrain.agents._logistics_demo",
)

Stage = Callable[[DuckDBStore, dict[str, Any]], dict[str, Any]]
Scorer = Callable[[DuckDBStore, dict[str, Any]], list[Score]]
_STAGES: list[tuple[str, Stage]] = []
_SCORERS: list[Scorer] = []


def register_stage(name: str) -> Callable[[Stage], Stage]:
    """Add a stage that runs on the loaded demo store; it returns a summary for the printout."""

    def decorator(stage: Stage) -> Stage:
        _STAGES.append((name, stage))
        return stage

    return decorator


def register_scorer(scorer: Scorer) -> Scorer:
    """Add a scorer comparing what the platform found with ``truth.json``."""
    _SCORERS.append(scorer)
    return scorer


@dataclass
class DemoRun:
    """What one demo run did."""

    exports: Path
    store_path: Path
    simulate_seconds: float = 0.0
    load_seconds: float = 0.0
    load: Any = None
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    warnings: dict[str, list[str]] = field(default_factory=dict)


def simulate(
    out: Path,
    *,
    days: int,
    machines: int,
    seed: int,
    sample_seconds: int,
    progress: Callable[[str, float], None] | None = None,
) -> Any:
    """Write a simulated plant's exports and ``truth.json`` to ``out``."""
    from factorybrain.simulate import simulate_plant

    return simulate_plant(
        out,
        days=days,
        machines=machines,
        seed=seed,
        sample_seconds=sample_seconds,
        progress=progress,
    )


def build_plant(
    folder: Path, *, days: int, machines: int, seed: int, sample_seconds: int = 60
) -> tuple[Path, Path]:
    """Simulate a plant into ``folder/plant`` and load every silo into ``folder/plant.duckdb``.

    Returns:
        ``(exports folder, store file)``; both are replaced when they already exist.
    """
    from factorybrain.connectors import load_plant
    from factorybrain.store import open_store

    folder.mkdir(parents=True, exist_ok=True)
    plant = fresh_exports(folder / "plant")
    store_path = fresh_store_path(folder / "plant.duckdb")
    simulate(plant, days=days, machines=machines, seed=seed, sample_seconds=sample_seconds)
    store = open_store(store_path, migrate=True)
    try:
        load_plant(store, DEMO_MANIFEST, root=plant)
    finally:
        store.close()
    return plant, store_path


def load_truth(exports: Path) -> dict[str, Any]:
    """Read the ``truth.json`` of a simulated plant."""
    return json.loads((exports / "truth.json").read_text(encoding="utf-8"))


def load_plugins() -> list[str]:
    """Import the demo's plugin modules that are installed; return their names."""
    loaded = []
    for name in PLUGINS:
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)
            loaded.append(name)
    return loaded


def run_stages(store: DuckDBStore, truth: dict[str, Any], run: DemoRun) -> None:
    """Run every registered stage on the loaded store, timing each."""
    load_plugins()
    for name, stage in _STAGES:
        started = time.perf_counter()
        # A stage's warnings (short histories, fallbacks) are part of its result, not noise.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                run.stages[name] = stage(store, truth)
            except Exception as error:  # one capability failing must not hide the others
                run.failures[name] = f"{type(error).__name__}: {error}"
                logger.exception("demo stage %s failed", name)
        run.warnings[name] = sorted({str(w.message) for w in caught})
        run.stage_seconds[name] = time.perf_counter() - started


def score(store: DuckDBStore, truth: dict[str, Any]) -> list[Score]:
    """Score every registered capability against the truth."""
    load_plugins()
    return [row for scorer in _SCORERS for row in scorer(store, truth)]


def fresh_store_path(path: Path) -> Path:
    """Remove a previous demo store (and its write-ahead log) so the demo starts clean."""
    for candidate in (path, path.with_name(path.name + ".wal")):
        if candidate.exists():
            candidate.unlink()
    return path


def fresh_exports(out: Path) -> Path:
    """Remove previous demo exports so the simulator writes into an empty folder."""
    if out.exists():
        shutil.rmtree(out)
    return out


# -- what the foundation finds: dirty rows the silos were given on purpose ----------------------
def _quarantined(store: DuckDBStore, file_suffix: str, entity: str, prefix: str) -> int:
    frame = store.query(
        """
        WITH latest AS (
            SELECT ingest_id FROM ingest_report WHERE source_file LIKE ? AND entity_type = ?
            ORDER BY started_at DESC LIMIT 1)
        SELECT count(*) AS n FROM quarantine SEMI JOIN latest USING (ingest_id)
        WHERE reason LIKE ?
        """,
        [f"%{file_suffix}", entity, f"{prefix}%"],
    )
    return int(frame["n"][0])


@register_scorer
def score_duplicate_rows(store: DuckDBStore, truth: dict[str, Any]) -> list[Score]:
    """Rows exported twice by a silo must be caught at ingestion, not loaded twice."""
    dirt = truth.get("dirt", {})
    planted = [
        ("erp/sales_orders.csv", "sales_order", int(dirt.get("erp_duplicate_sales_rows", 0))),
        ("wms/movements.csv", "inventory_transaction", int(dirt.get("wms_duplicate_movements", 0))),
    ]
    expected = sum(count for *_, count in planted)
    found = sum(_quarantined(store, f, e, "duplicate") for f, e, _ in planted)
    return [
        Score(
            "data.duplicate_rows",
            expected,
            found,
            min(found, expected),
            "counted per silo: the truth lists how many rows were exported twice",
        )
    ]
