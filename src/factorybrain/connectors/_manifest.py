"""Plant manifests: which export file goes through which mapping, for loading a whole plant.

::

    name: Small example plant
    sources:
      - file: erp/assets.csv           # relative to the manifest
        mapping: mappings/erp_assets.yaml
      - database: postgresql://mes:${MES_PASSWORD}@mes-db/mes   # a table or query of a database
        mapping: mappings/mes_orders.yaml

A company with several plants loads every plant through the same manifest and mappings, each
plant into its own spaces (``hamburg/erp``, ``bremen/erp``; see :mod:`factorybrain.model._spaces`)::

    name: ACME, every plant
    include:
      - manifest: plant.yaml           # relative to this manifest
        site: hamburg                  # its spaces: hamburg/erp, hamburg/mes, ...
        exports: exports/hamburg       # where that site's files are (relative to this manifest)
      - manifest: plant.yaml
        site: bremen
        exports: exports/bremen

A manifest shipped with factorybrain is named ``factorybrain:<path in the package>``
(``factorybrain:examples/demo_plant/plant.yaml``). Included manifests may include others; their
sites nest (``eu/hamburg``). Files load in the order listed, includes after the manifest's own
sources, each file in its own transaction; a file that cannot be read at all is reported and the
others still load.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from factorybrain.connectors._databases import is_database_url
from factorybrain.connectors._ingest import IngestReport, ingest
from factorybrain.connectors._mapping import Mapping, load_mapping, place_in_site
from factorybrain.connectors._xml import parse_once
from factorybrain.exceptions import FactorybrainError, MappingError
from factorybrain.model import SITE_SEPARATOR, site_problem
from factorybrain.store._duckdb import DuckDBStore

#: How a manifest names a manifest shipped with factorybrain.
SHIPPED = "factorybrain:"
_PACKAGE = Path(__file__).resolve().parents[1]
_MANIFEST_KEYS = ("name", "sources", "include")
_INCLUDE_KEYS = ("manifest", "site", "exports")


@dataclass(frozen=True)
class ManifestEntry:
    """One export file (or database URL), its mapping, and the site it loads into ("": none)."""

    file: Path | str
    mapping: Path
    site: str = ""


@dataclass
class PlantLoad:
    """What loading a manifest did: one report per file, and the files that failed."""

    reports: list[IngestReport]
    failures: list[tuple[Path | str, str]]


def read_manifest(
    path: str | Path, root: str | Path | None = None
) -> tuple[str, list[ManifestEntry]]:
    """Read a plant manifest, and the manifests it includes.

    Mapping and included manifest paths are relative to the manifest's folder; file paths and
    the ``exports`` of an include too, unless ``root`` (the folder of the exports) is given.
    The files of an included manifest are relative to its include's ``exports`` (default: the
    included manifest's folder).

    Raises:
        MappingError: If a manifest is malformed (names the file and the entry).
    """
    return _read(Path(path), Path(root) if root is not None else None, "", ())


def _read(
    path: Path, root: Path | None, site: str, including: tuple[Path, ...]
) -> tuple[str, list[ManifestEntry]]:
    document = _document(path)
    entries = []
    for number, entry in enumerate(document.get("sources") or [], start=1):
        entries.append(_source(path, number, entry, root, site))
    for number, entry in enumerate(document.get("include") or [], start=1):
        where = f"{path}: include {number}"
        included, exports, inner = _include(path, number, entry, root)
        above = (*including, path.resolve())
        if included.resolve() in above:
            raise MappingError(f"{where}: {included} includes itself")
        placed = SITE_SEPARATOR.join(part for part in (site, inner) if part)
        try:
            _, found = _read(included, exports, placed, above)
        except MappingError as error:
            raise MappingError(f"{error} (included by {where})") from error
        entries += found
    return str(document.get("name", path.parent.name)), entries


def _document(path: Path) -> dict[str, Any]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise MappingError(f"{path}: cannot read the plant manifest: {error}") from error
    if not isinstance(document, dict):
        raise MappingError(
            f"{path}: expected 'sources:' with a list of {{file, mapping}} or 'include:' with a "
            f"list of {{manifest, site, exports}}, found {type(document).__name__}"
        )
    for key in document:
        if key not in _MANIFEST_KEYS:
            raise MappingError(f"{path}: unknown key {key!r}{_suggest(str(key), _MANIFEST_KEYS)}")
    for key in ("sources", "include"):
        if key in document and not isinstance(document[key], list):
            raise MappingError(f"{path}: {key!r} must be a list, found {document[key]!r}")
    if not document.get("sources") and not document.get("include"):
        raise MappingError(
            f"{path}: expected 'sources:' with a list of {{file, mapping}} or 'include:' with a "
            "list of {manifest, site, exports}"
        )
    return document


def _source(path: Path, number: int, entry: Any, root: Path | None, site: str) -> ManifestEntry:
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
        return ManifestEntry(str(entry["database"]), mapping, site)
    base = root if root is not None else path.parent
    return ManifestEntry(base / entry["file"], mapping, site)


def _include(
    path: Path, number: int, entry: Any, root: Path | None
) -> tuple[Path, Path | None, str]:
    """An include's manifest, the folder of its files (None: its own) and its site."""
    where = f"{path}: include {number}"
    if isinstance(entry, str):
        entry = {"manifest": entry}
    if not isinstance(entry, dict) or not isinstance(entry.get("manifest"), str):
        raise MappingError(
            f"{where} needs 'manifest' (a path, or {SHIPPED}<path> for one shipped with "
            f"factorybrain) and may give 'site' and 'exports', found {entry!r}"
        )
    for key in entry:
        if key not in _INCLUDE_KEYS:
            raise MappingError(f"{where}: unknown key {key!r}{_suggest(str(key), _INCLUDE_KEYS)}")
    site = entry.get("site", "")
    if "site" in entry:
        problem = site_problem(site)
        if problem:
            raise MappingError(f"{where}: 'site': {problem}")
    exports = None
    if "exports" in entry:
        if not isinstance(entry["exports"], str) or not entry["exports"]:
            raise MappingError(
                f"{where}: 'exports' is the folder of the site's files, found {entry['exports']!r}"
            )
        exports = (root if root is not None else path.parent) / entry["exports"]
        if not exports.is_dir():
            raise MappingError(f"{where}: 'exports' {exports} is no folder")
    return _manifest_path(path, where, entry["manifest"]), exports, str(site)


def _manifest_path(path: Path, where: str, text: str) -> Path:
    """An included manifest: relative to the including one, or shipped with factorybrain."""
    if not text.startswith(SHIPPED):
        found = path.parent / text
    else:
        found = (_PACKAGE / text[len(SHIPPED) :]).resolve()
        if not found.is_relative_to(_PACKAGE):
            raise MappingError(f"{where}: {text!r} names a file outside the factorybrain package")
    if not found.is_file():
        raise MappingError(f"{where}: no manifest {text!r} (looked for {found})")
    return found


def _suggest(word: str, candidates: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, candidates, n=1)
    return f" (did you mean {close[0]!r}?)" if close else f"; expected one of {list(candidates)}"


def load_plant(
    store: DuckDBStore,
    manifest: str | Path,
    *,
    root: str | Path | None = None,
    on_file: Callable[[ManifestEntry], Callable[[int], None] | None] | None = None,
    actor: str = "system",
) -> PlantLoad:
    """Ingest every file of a plant manifest (and of the manifests it includes).

    Args:
        store: Store to load into.
        manifest: Path of the manifest.
        root: Folder the manifest's file paths are relative to (default: the manifest's).
        on_file: Called before each file; may return a progress callback for that file.
        actor: Who loads it, kept in every file's report.

    A file of an included manifest with a ``site`` loads into that site's spaces
    (:func:`~factorybrain.connectors._mapping.place_in_site`). An XML document that several
    entries read is parsed once.
    """
    _, entries = read_manifest(manifest, root)
    result = PlantLoad([], [])
    mappings: dict[Path, Mapping] = {}
    with parse_once():
        for entry in entries:
            progress = on_file(entry) if on_file else None
            try:
                if entry.mapping not in mappings:
                    mappings[entry.mapping] = load_mapping(entry.mapping)
                mapping = mappings[entry.mapping]
                if entry.site:
                    mapping = place_in_site(mapping, entry.site)
                result.reports.append(
                    ingest(store, entry.file, mapping, progress=progress, actor=actor)
                )
            except FactorybrainError as error:
                result.failures.append((entry.file, str(error)))
    return result
