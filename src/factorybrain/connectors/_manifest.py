"""Plant manifests: which export file goes through which mapping, for loading a whole plant.

::

    name: Small example plant
    sources:
      - file: erp/assets.csv           # relative to the manifest
        mapping: mappings/erp_assets.yaml
      - database: postgresql://mes:${MES_PASSWORD}@mes-db/mes   # a table or query of a database
        mapping: mappings/mes_orders.yaml

Files load in the order listed, each in its own transaction; a file that cannot be read at all is
reported and the others still load.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from factorybrain.connectors._databases import is_database_url
from factorybrain.connectors._ingest import IngestReport, ingest
from factorybrain.connectors._mapping import load_mapping
from factorybrain.connectors._xml import parse_once
from factorybrain.exceptions import FactorybrainError, MappingError
from factorybrain.store._duckdb import DuckDBStore


@dataclass(frozen=True)
class ManifestEntry:
    """One export file (or database URL) and its mapping."""

    file: Path | str
    mapping: Path


@dataclass
class PlantLoad:
    """What loading a manifest did: one report per file, and the files that failed."""

    reports: list[IngestReport]
    failures: list[tuple[Path | str, str]]


def read_manifest(
    path: str | Path, root: str | Path | None = None
) -> tuple[str, list[ManifestEntry]]:
    """Read a plant manifest.

    Mapping paths are relative to the manifest's folder; file paths too, unless ``root`` (the
    folder of the exports) is given.

    Raises:
        MappingError: If the manifest is malformed (names the entry).
    """
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise MappingError(f"{path}: cannot read the plant manifest: {error}") from error
    if not isinstance(document, dict) or not isinstance(document.get("sources"), list):
        raise MappingError(f"{path}: expected 'sources:' with a list of {{file, mapping}}")
    entries = []
    for number, entry in enumerate(document["sources"], start=1):
        if (
            not isinstance(entry, dict)
            or "mapping" not in entry
            or len({"file", "database"} & set(entry)) != 1
        ):
            raise MappingError(
                f"{path}: source {number} needs 'mapping' and one of 'file' or 'database', "
                f"found {entry!r}"
            )
        mapping = path.parent / entry["mapping"]
        if "database" in entry:
            if not is_database_url(entry["database"]):
                raise MappingError(
                    f"{path}: source {number}: 'database' must be a postgresql://, mysql:// or "
                    f"mariadb:// URL, found {entry['database']!r}"
                )
            entries.append(ManifestEntry(str(entry["database"]), mapping))
            continue
        base = Path(root) if root is not None else path.parent
        entries.append(ManifestEntry(base / entry["file"], mapping))
    return str(document.get("name", path.parent.name)), entries


def load_plant(
    store: DuckDBStore,
    manifest: str | Path,
    *,
    root: str | Path | None = None,
    on_file: Callable[[ManifestEntry], Callable[[int], None] | None] | None = None,
    actor: str = "system",
) -> PlantLoad:
    """Ingest every file of a plant manifest.

    Args:
        store: Store to load into.
        manifest: Path of the manifest.
        root: Folder the manifest's file paths are relative to (default: the manifest's).
        on_file: Called before each file; may return a progress callback for that file.
        actor: Who loads it, kept in every file's report.

    An XML document that several entries read is parsed once.
    """
    _, entries = read_manifest(manifest, root)
    result = PlantLoad([], [])
    with parse_once():
        for entry in entries:
            progress = on_file(entry) if on_file else None
            try:
                result.reports.append(
                    ingest(
                        store,
                        entry.file,
                        load_mapping(entry.mapping),
                        progress=progress,
                        actor=actor,
                    )
                )
            except FactorybrainError as error:
                result.failures.append((entry.file, str(error)))
    return result
