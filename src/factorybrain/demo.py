"""The demo plant end to end: simulate its exports, load every silo, run what exists, score it.

Every capability plugs in here as soon as it exists: a *stage* runs on the loaded store (matching,
agents...) and a *scorer* compares what the platform found with ``truth.json``, by kind of
finding (:mod:`factorybrain.scoring`), so ``factorybrain demo --score`` always measures the whole
platform. Agents bring theirs through the agents' registry: a new agent needs no line here.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from factorybrain.scoring import Score, Scorer, Stage
from factorybrain.store import Store

logger = logging.getLogger(__name__)

#: Manifest of the demo plant's exports and the mapping of each file.
DEMO_MANIFEST = Path(__file__).parent / "examples" / "demo_plant" / "plant.yaml"


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


@dataclass(frozen=True)
class Part:
    """One capability in the demo: the stage that runs it and the scorers that judge it."""

    name: str
    stage: Stage | None
    scorers: tuple[Scorer, ...] = ()


def parts() -> list[Part]:
    """What the demo runs, in order: the foundation first, then every installed agent.

    Identities come first (every agent reads through them); the agents follow in the order of
    the registry (:func:`factorybrain.agents.agent_plugins`), each after the agents whose
    findings it reacts to. An agent that ships no demo stage is run once through the
    orchestrator.
    """
    from factorybrain.agents import agent_plugins
    from factorybrain.context._demo import contextualize_stage, score_identity

    scorers = (score_duplicate_rows, score_identity)
    foundation = [Part("contextualize", contextualize_stage, scorers)]
    agents = [
        Part(p.name, p.demo_stage or _orchestrated(p.name, p.factory), p.demo_scorers)
        for p in agent_plugins()
    ]
    return foundation + agents


def _orchestrated(name: str, factory: Callable[[], Any]) -> Stage:
    """A demo stage that runs one agent through the orchestrator and counts what it reported."""

    def stage(store: Store, truth: dict[str, Any]) -> dict[str, Any]:
        from factorybrain.agents import installed_orchestrator

        orchestrator = installed_orchestrator(store, with_agents=False)
        orchestrator.register(factory())
        report = orchestrator.run([name])
        if report.errors:
            raise RuntimeError(f"agent {name!r} failed: {report.errors[0]}")
        return {
            "findings": len(report.findings) + len(report.repeated_findings),
            "recommendations": len(report.recommendations),
            "actions": len(report.actions),
        }

    return stage


def run_stages(store: Store, truth: dict[str, Any], run: DemoRun) -> None:
    """Run every part's stage on the loaded store, timing each (see :func:`parts`)."""
    for part in parts():
        if part.stage is None:
            continue
        started = time.perf_counter()
        # A stage's warnings (short histories, fallbacks) are part of its result, not noise.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                run.stages[part.name] = part.stage(store, truth)
            except Exception as error:  # one capability failing must not hide the others
                run.failures[part.name] = f"{type(error).__name__}: {error}"
                logger.exception("demo stage %s failed", part.name)
        run.warnings[part.name] = sorted({str(w.message) for w in caught})
        run.stage_seconds[part.name] = time.perf_counter() - started


def score(store: Store, truth: dict[str, Any]) -> list[Score]:
    """Score every part against the truth."""
    return [row for part in parts() for scorer in part.scorers for row in scorer(store, truth)]


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
def _quarantined(store: Store, file_suffix: str, entity: str, prefix: str) -> int:
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


def score_duplicate_rows(store: Store, truth: dict[str, Any]) -> list[Score]:
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
