"""Connector packs: mappings for the exports most plants have, matched to a file by its content.

A pack is a folder of ordinary mapping files (``docs/mappings.md``) shipped with the package
(``connectors/packs/<pack>/``), plus a ``pack.yaml`` that names it, gives its default space and
the order its mappings load in. Each mapping file adds one key to the mapping language,
``match``: the columns that tell its table apart (SAP's ``MARA`` has ``MATNR``, ``MTART`` and
``MEINS``; a PI archive export has ``Tag``, ``Timestamp`` and ``Value``), or for an XML document
its root element (``match: {root: b2mml:ProductionPerformance}``, the prefix declared in the
mapping's ``source: {namespaces: ...}``). A column of ``match`` may be a role of the mapping
(``roles: {serial: [Seriennummer, Serial number, S/N]}``): the header holds it when it has any of
its names, so one mapping recognises a table however its columns are spelled. A file whose
header holds every one of the columns, or whose root element is the one named, is loaded
through that mapping, with what only the file can say (its encoding, separator and header line)
found by :func:`factorybrain.connectors._sniff.sniff`, and what only the user can say (the
plant's time zone, the space of each pack) given as arguments. So a folder of exports loads
without a manifest and without a mapping written for that plant.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from factorybrain.connectors._ingest import IngestReport, ingest
from factorybrain.connectors._mapping import DST_POLICIES, Mapping, parse_mapping
from factorybrain.connectors._readers import expect_xml_reads
from factorybrain.connectors._sniff import FileShape, sniff
from factorybrain.connectors._xml import (
    ALL_CHILDREN,
    XmlName,
    parse_name,
    parse_once,
    parse_record_path,
    split_tag,
)
from factorybrain.exceptions import FactorybrainError, MappingError
from factorybrain.store._duckdb import DuckDBStore

#: Where the shipped packs live.
PACKS_FOLDER = Path(__file__).parent / "packs"
#: The key a pack mapping adds to the mapping language.
MATCH_KEY = "match"


@dataclass(frozen=True)
class PackMapping:
    """One mapping of a pack and what selects it: header columns, or an XML root element.

    Attributes:
        pack: The pack's name (``sap``, ``pi``, ``mes``, ``b2mml``).
        name: The mapping file's name without ``.yaml``.
        path: The mapping file.
        match: Columns every matching file has (empty for an XML mapping).
        mapping: The parsed mapping (its space is the pack's default).
        order: Load order across every pack (lower first).
        root: XML: the root elements a matching document has one of (empty for a table).
    """

    pack: str
    name: str
    path: Path
    match: tuple[str, ...]
    mapping: Mapping
    order: int
    root: tuple[XmlName, ...] = ()

    def selects(self, shape: FileShape) -> bool:
        """Whether a file of this shape goes through this mapping."""
        if shape.root is not None:
            return any(name.matches(shape.root) for name in self.root)
        columns = list(shape.columns)
        return bool(self.match) and all(self.mapping.columns_of(c, columns) for c in self.match)

    @property
    def selected_by(self) -> str:
        """What selects this mapping, in words (``columns MATNR, CHARG``, ``root element X``).

        A role reads as its names (``Seriennummer|Serial number|S/N``).
        """
        if self.root:
            return "root element " + " or ".join(name.written for name in self.root)
        roles = self.mapping.roles
        return "columns " + ", ".join(
            "|".join(roles[c].names) if c in roles else c for c in self.match
        )


@dataclass(frozen=True)
class Pack:
    """A connector pack: its name, what it reads, its default space and its mappings."""

    name: str
    title: str
    space: str
    mappings: tuple[PackMapping, ...]


@dataclass
class PackPlan:
    """Which files of a folder go through which pack mappings, and which files none takes."""

    loads: list[tuple[FileShape, PackMapping]] = field(default_factory=list)
    unmatched: list[tuple[Path, str]] = field(default_factory=list)


@dataclass
class PackLoad:
    """What loading a folder through the packs did."""

    reports: list[IngestReport] = field(default_factory=list)
    failures: list[tuple[Path | str, str]] = field(default_factory=list)
    unmatched: list[tuple[Path, str]] = field(default_factory=list)


def _read_pack_mapping(path: Path, pack: str, order: int) -> PackMapping:
    name = str(path)
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise MappingError(f"{name}: cannot read the pack mapping: {error}") from error
    if not isinstance(root, yaml.MappingNode):
        raise MappingError(f"{name}: expected a mapping with 'match', 'entity' and 'fields'")
    match: tuple[str, ...] = ()
    roots: list[str] = []
    match_line = 0
    kept = []
    for key, value in root.value:
        if key.value == MATCH_KEY:
            match_line = key.start_mark.line + 1
            found = yaml.safe_load(yaml.serialize(value))
            if isinstance(found, dict) and set(found) == {"root"}:
                roots = found["root"] if isinstance(found["root"], list) else [found["root"]]
                if roots and all(isinstance(r, str) for r in roots):
                    continue
            elif isinstance(found, list) and found and all(isinstance(c, str) for c in found):
                match = tuple(found)
                continue
            elif isinstance(found, list) and any(isinstance(c, list) for c in found):
                raise MappingError(
                    f"{name} line {match_line}: 'match' names each column once; a column "
                    "spelled several ways is a role of the mapping ('roles: {serial: "
                    "[Seriennummer, Serial number]}'), which 'match' and the fields name "
                    f"('serial'); found {found!r}"
                )
            raise MappingError(
                f"{name} line {match_line}: 'match' takes the list of columns that tell this "
                "table apart, or {root: <element>} (or a list of elements) for an XML document; "
                f"found {found!r}"
            )
        else:
            kept.append((key, value))
    if not match and not roots:
        raise MappingError(
            f"{name}: a pack mapping needs 'match: [columns...]' or 'match: {{root: <element>}}'"
        )
    root.value = kept
    mapping = parse_mapping(root, name)
    optional = [c for c in match if c in mapping.roles and mapping.roles[c].optional]
    if optional:
        raise MappingError(
            f"{name} line {match_line}: 'match' names role {optional[0]!r}, which is optional: "
            "what tells a table apart is what every such table has"
        )
    names = _root_names(name, match_line, roots, mapping)
    return PackMapping(pack, path.stem, path, match, mapping, order, names)


def _root_names(name: str, line: int, roots: list[str], mapping: Mapping) -> tuple[XmlName, ...]:
    """The root elements a pack mapping of an XML document matches, checked against its records.

    Raises:
        MappingError: If a name is no element name or uses an undeclared prefix, the mapping
            does not read XML, or its records path starts at another root.
    """
    if not roots:
        return ()
    if mapping.source.format != "xml":
        raise MappingError(
            f"{name} line {line}: 'match: {{root: ...}}' selects XML documents; add "
            "'source: {format: xml}'"
        )
    namespaces = mapping.source.namespace_uris
    try:
        names = tuple(parse_name(text, namespaces) for text in roots)
        records = parse_record_path(mapping.source.records or ALL_CHILDREN, namespaces)
    except ValueError as error:
        raise MappingError(f"{name} line {line}: 'match': {error}") from error
    first = records.steps[0]
    same = [n for n in names if (n.local, n.namespaces) == (first.local, first.namespaces)]
    if records.anchored and first.local != "*" and not same:
        raise MappingError(
            f"{name} line {line}: 'records' starts at {first.written!r}, which is not a root "
            f"element the mapping matches ({', '.join(roots)})"
        )
    return names


def load_packs(folder: Path = PACKS_FOLDER) -> list[Pack]:
    """Read every pack under ``folder`` (default: the packs shipped with factorybrain).

    Raises:
        MappingError: If a pack or one of its mappings has a mistake (names file and line).
    """
    packs = []
    order = 0
    indexes = [_pack_index(path) for path in sorted(folder.glob("*/pack.yaml"))]
    indexes.sort(key=lambda found: int(found[1].get("position", 100)))
    for index_file, index in indexes:
        name = str(index["name"])
        mappings = []
        for entry in index["mappings"]:
            order += 1
            mappings.append(_read_pack_mapping(index_file.parent / str(entry), name, order))
        title = str(index.get("title", ""))
        packs.append(Pack(name, title, str(index["space"]), tuple(mappings)))
    return packs


def _pack_index(path: Path) -> tuple[Path, dict[str, Any]]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    if (
        not isinstance(document, dict)
        or not {"name", "space", "mappings"} <= set(document)
        or not isinstance(document["mappings"], list)
    ):
        raise MappingError(
            f"{path}: a pack index needs 'name', 'space' and 'mappings' (a list of files)"
        )
    return path, document


def matches(shape: FileShape, packs: Iterable[Pack]) -> list[PackMapping]:
    """The pack mappings that select the file (by header, or by root element), in load order."""
    return [m for pack in packs for m in pack.mappings if m.selects(shape)]


def plan_folder(folder: Path, packs: list[Pack] | None = None) -> PackPlan:
    """Sniff every file under ``folder`` and pair it with the pack mappings its header selects.

    Files are paired in the packs' load order (master data before the records that refer to
    it); a file that no pack takes, or that cannot be read as a table, is listed with why.
    """
    packs = load_packs() if packs is None else packs
    plan = PackPlan()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.name.startswith(".") or path.name == "truth.json":
            continue
        try:
            shapes = sniff(path)
        except FactorybrainError as error:
            plan.unmatched.append((path, str(error)))
            continue
        for shape in shapes:
            found = matches(shape, packs)
            if not found:
                plan.unmatched.append((path, _unrecognised(shape)))
            plan.loads += [(shape, m) for m in found]
    plan.loads.sort(key=lambda pair: (pair[1].order, str(pair[0].path)))
    return plan


def _unrecognised(shape: FileShape) -> str:
    """Why no pack mapping takes a file: its header, or its root element, is none they know."""
    name = shape.path.name
    if shape.root is not None:
        namespace, local = split_tag(shape.root)
        where = f" in namespace {namespace}" if namespace else " (no namespace)"
        return f"{name}: no pack mapping recognises its root element <{local}>{where}"
    sheet = f" sheet {shape.sheet!r}" if shape.sheet else ""
    more = ", ..." if len(shape.columns) > 8 else ""
    return (
        f"{name}{sheet}: no pack mapping recognises its header "
        f"({', '.join(shape.columns[:8])}{more})"
    )


def fitted_mapping(
    shape: FileShape,
    pack_mapping: PackMapping,
    *,
    space: str | None = None,
    timezone: str | None = None,
    dst: str | None = None,
) -> Mapping:
    """The pack mapping with what the file and the user say: encoding, header, zone, space.

    Raises:
        MappingError: If ``dst`` is no policy.
    """
    if dst is not None and dst not in DST_POLICIES:
        raise MappingError(f"dst must be one of {list(DST_POLICIES)}, found {dst!r}")
    mapping = pack_mapping.mapping
    source = dataclasses.replace(
        mapping.source,
        format=mapping.source.format or shape.format,
        encoding=shape.encoding if shape.format in ("csv", "jsonl", "json") else None,
        delimiter=shape.delimiter or mapping.source.delimiter,
        header_row=shape.header_row,
        sheet=shape.sheet if shape.format == "excel" else mapping.source.sheet,
        timezone=timezone or mapping.source.timezone,
        dst=dst or mapping.source.dst,
    )
    if space is None:
        return dataclasses.replace(mapping, source=source)
    system = space if mapping.source_system == mapping.space else mapping.source_system
    return dataclasses.replace(mapping, source=source, space=space, source_system=system)


def load_with_packs(
    store: DuckDBStore,
    folder: str | Path,
    *,
    timezone: str = "UTC",
    dst: str | None = None,
    spaces: dict[str, str] | None = None,
    packs: list[Pack] | None = None,
    on_file: Callable[[FileShape, PackMapping], Callable[[int], None] | None] | None = None,
    actor: str = "system",
) -> PackLoad:
    """Load every file of a folder of exports through the connector packs, without a manifest.

    Args:
        store: The store to load into.
        folder: The exports (searched recursively).
        timezone: IANA zone of timestamps written without an offset (SAP writes plant local
            time); times with an offset are converted as written.
        dst: What a local time in a DST change becomes (``reject``, ``earlier``, ``later``);
            default each mapping's (``reject``).
        spaces: Space per pack name, where the pack's default (``erp``, ``historian``,
            ``mes``) is not wanted.
        packs: The packs to use (default: those shipped).
        on_file: Called before each load; may return a progress callback.
        actor: Who loads it, kept in every report.

    Returns:
        One report per (file, mapping), the loads that failed, and every file no pack takes.
        An XML document read through several mappings is parsed once, and its mappings that
        explode the same lists share one read.
    """
    packs = load_packs() if packs is None else packs
    plan = plan_folder(Path(folder), packs)
    spaces = spaces or {}
    result = PackLoad(unmatched=list(plan.unmatched))
    with parse_once():
        expect_xml_reads((shape.path, fitted_mapping(shape, m)) for shape, m in plan.loads)
        _load_planned(store, plan, result, timezone, dst, spaces, on_file, actor)
    return result


def _load_planned(
    store: DuckDBStore,
    plan: PackPlan,
    result: PackLoad,
    timezone: str,
    dst: str | None,
    spaces: dict[str, str],
    on_file: Callable[[FileShape, PackMapping], Callable[[int], None] | None] | None,
    actor: str,
) -> None:
    for shape, pack_mapping in plan.loads:
        progress = on_file(shape, pack_mapping) if on_file else None
        try:
            mapping = fitted_mapping(
                shape,
                pack_mapping,
                space=spaces.get(pack_mapping.pack),
                timezone=timezone,
                dst=dst,
            )
            result.reports.append(
                ingest(store, shape.path, mapping, progress=progress, actor=actor)
            )
        except FactorybrainError as error:
            label = f"{pack_mapping.pack}/{pack_mapping.name}"
            result.failures.append((shape.path, f"{label}: {error}"))
