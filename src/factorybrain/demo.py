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
    sample_seconds: int | None,
    progress: Callable[[str, float], None] | None = None,
    profile: str = "pumps",
    sites: int = 1,
) -> Any:
    """Write a simulated plant's exports and ``truth.json`` to ``out`` (or a fleet's, by site)."""
    from factorybrain.simulate import simulate_plant

    return simulate_plant(
        out,
        days=days,
        machines=machines,
        seed=seed,
        sample_seconds=sample_seconds,
        progress=progress,
        profile=profile,
        sites=sites,
    )


def build_plant(
    folder: Path, *, days: int, machines: int, seed: int, sample_seconds: int = 60
) -> tuple[Path, Path]:
    """Simulate a plant into ``folder/plant`` and load every silo into ``folder/plant.duckdb``.

    Returns:
        ``(exports folder, store file)``; both are replaced when they already exist.
    """
    from factorybrain.connectors import load_plant
    from factorybrain.store import DuckDBStore

    folder.mkdir(parents=True, exist_ok=True)
    plant = fresh_exports(folder / "plant")
    store_path = fresh_store_path(folder / "plant.duckdb")
    simulate(plant, days=days, machines=machines, seed=seed, sample_seconds=sample_seconds)
    store = DuckDBStore(store_path)
    try:
        store.migrate()
        load_plant(store, DEMO_MANIFEST, root=plant)
    finally:
        store.close()
    return plant, store_path


#: Simulator profiles whose exports load through the shipped connector packs, not a manifest.
PACK_PROFILES = ("sap-pi",)


def load_through_packs(
    store: Store,
    exports: Path,
    truth: dict[str, Any],
    *,
    on_file: Callable[[Any, Any], Callable[[int], None] | None] | None = None,
    actor: str = "system",
) -> Any:
    """Load a simulated plant's exports through the connector packs (no mapping of its own).

    The plant's time zone is what its user would set (SAP writes plant local time without an
    offset); the demo reads it from the plant's description in ``truth.json``. Local times in
    the hour that a DST change repeats are taken as the earlier instant.
    """
    from factorybrain.connectors import load_with_packs
    from factorybrain.store import DuckDBStore

    if not isinstance(store, DuckDBStore):
        raise TypeError(f"loading exports needs the DuckDB store, found {type(store).__name__}")
    zone = str(truth.get("plant", {}).get("local_timezone") or "UTC")
    return load_with_packs(
        store, exports, timezone=zone, dst="earlier", on_file=on_file, actor=actor
    )


def score_source_records(store: Store, truth: dict[str, Any]) -> list[Score]:
    """Every record of every export is read and accounted for, by the source's own count.

    The truth counts each file's records while writing it (``source_records``); a file is
    right when every load of it read exactly that many records (lines of a CSV below its
    header, totals lines included; records of a JSON-lines stream), and each load's counts add
    up, which the ingest checks itself. Where the truth counts a document's records by kind (an
    AF export: its elements and their attributes), it is right when each kind was read whole
    by one of its loads, as records or as the items a load explodes (its rows, less those that
    stand for a record with no items). A workbook whose truth counts each sheet's records is
    right when every load of each sheet (a report names it ``file.xlsx#sheet``) read exactly
    that sheet's. A file no load read is missing.
    """
    from factorybrain.connectors import split_source_label

    counted = truth.get("source_records") or {}
    if not counted:
        return []
    reports = store.query(
        "SELECT source_file, coalesce(records_read, rows_read) AS records, rows_read, "
        "filtered_by_reason FROM ingest_report WHERE status = 'ok'"
    )
    by_file: dict[str, set[int]] = {}
    by_sheet: dict[tuple[str, str], set[int]] = {}
    kinds_read: dict[str, set[int]] = {}
    for row in reports.itertuples(index=False):
        file, sheet = split_source_label(str(row.source_file))
        name = Path(file).as_posix()
        by_file.setdefault(name, set()).add(int(row.records))
        if sheet is not None:
            by_sheet.setdefault((name, sheet), set()).add(int(row.records))
        kinds_read.setdefault(name, set()).update(
            {int(row.records), int(row.rows_read) - _rows_without_items(row.filtered_by_reason)}
        )
    read = correct = 0
    wrong: list[str] = []
    for name, info in sorted(counted.items()):
        seen = [rows for file, rows in by_file.items() if file.endswith("/" + name)]
        if not seen:
            wrong.append(f"{name} (not loaded)")
            continue
        read += 1
        sheets = info.get("sheets")
        if isinstance(sheets, dict) and sheets:
            short = _sheets_short(name, sheets, by_sheet)
            correct += not short
            wrong += short
            continue
        # An ALV totals line is a line of the table too: read, then counted as filtered.
        expected = int(info["records"]) + int(info.get("trailing_lines", 0))
        kinds = _kinds(info)
        whole = [counts for file, counts in kinds_read.items() if file.endswith("/" + name)][0]
        if seen[0] == {expected} or (kinds and set(kinds.values()) <= whole):
            correct += 1
        else:
            wrong.append(f"{name} (read {sorted(seen[0])}, has {info['records']})")
    return [
        Score(
            "data.rows_accounted",
            len(counted),
            read,
            correct,
            "export files whose every record was read and accounted for"
            + (f"; short: {', '.join(wrong[:6])}" if wrong else ""),
        )
    ]


#: Counts of a file in the truth that are not its records (the lines around a CSV table, the
#: rows above a sheet's header).
_NOT_RECORDS = ("records", "lines_before_header", "trailing_lines", "rows_before_header")


def _sheets_short(
    name: str, sheets: dict[str, Any], by_sheet: dict[tuple[str, str], set[int]]
) -> list[str]:
    """The sheets of a workbook whose loads did not each read the sheet's records, with why."""
    short = []
    for sheet, info in sorted(sheets.items()):
        reads = [
            rows
            for (file, part), rows in by_sheet.items()
            if part == sheet and file.endswith("/" + name)
        ]
        expected = int(info["records"])
        if not reads:
            short.append(f"{name} sheet {sheet!r} (not loaded)")
        elif reads[0] != {expected}:
            short.append(f"{name} sheet {sheet!r} (read {sorted(reads[0])}, has {expected})")
    return short


def _kinds(info: dict[str, Any]) -> dict[str, int]:
    """The truth's count of a document's records by kind, where it has one (``elements``...).

    Counts beside ``records`` are a breakdown by kind when there are several and they add up to
    ``records``.
    """
    kinds = {
        key: value
        for key, value in info.items()
        if key not in _NOT_RECORDS and isinstance(value, int) and not isinstance(value, bool)
    }
    return kinds if len(kinds) > 1 and sum(kinds.values()) == int(info["records"]) else {}


def _rows_without_items(filtered_by_reason: Any) -> int:
    """Rows of a load that stand for a record with nothing to explode (counted as filtered)."""
    reasons = json.loads(filtered_by_reason) if isinstance(filtered_by_reason, str) else {}
    return sum(int(n) for reason, n in (reasons or {}).items() if reason.startswith("no items "))


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

    scorers = (score_duplicate_rows, score_source_records, score_identity)
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
    """Score every part against the truth.

    A scorer that cannot score this plant (the data it needs is not in the store) is one row
    that says why, with nothing found, and the other scorers still run.
    """
    from factorybrain.exceptions import FactorybrainError

    rows: list[Score] = []
    for part in parts():
        for scorer in part.scorers:
            try:
                rows += scorer(store, truth)
            except FactorybrainError as error:
                name = getattr(scorer, "__name__", "scorer").removeprefix("score_")
                rows.append(Score(f"{part.name}.{name}", 1, 0, 0, f"not scored: {error}"))
    return rows


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
