"""Propose a mapping for an export nobody has mapped yet, from its header, values and formats.

``factorybrain mappings suggest FILE`` prints what this module writes: the mapping of a connector
pack where the file's header selects one (SAP tables, PI exports, MES events), else a draft built
from what the packs know about field names (``MATNR`` is a material number, ``EQUNR`` an
equipment number), the model's field names, and the values themselves (dates in ``DD.MM.YYYY``,
numbers with a decimal comma, timestamps with an offset). Every choice it could not make is left
as a comment for the user, never guessed silently.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from factorybrain.connectors._mapping import target_fields
from factorybrain.connectors._packs import Pack, PackMapping, load_packs, matches
from factorybrain.connectors._sniff import FileShape, sniff
from factorybrain.exceptions import IngestError
from factorybrain.model import ENTITY_TYPES

#: Value patterns and the strptime format they are written in (``None``: ISO 8601, as is).
_TIME_FORMATS: tuple[tuple[re.Pattern[str], str | None], ...] = (
    (re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$"), None),
    (re.compile(r"^\d{4}-\d{2}-\d{2}$"), None),
    (re.compile(r"^\d{2}\.\d{2}\.\d{4} \d{2}:\d{2}:\d{2}$"), "%d.%m.%Y %H:%M:%S"),
    (re.compile(r"^\d{2}\.\d{2}\.\d{4}$"), "%d.%m.%Y"),
    (re.compile(r"^\d{2}/\d{2}/\d{4}$"), "%m/%d/%Y"),
    (re.compile(r"^\d{4}\d{2}\d{2}$"), "%Y%m%d"),
)
_COMMA_NUMBER = re.compile(r"^[-+]?\d{1,3}(\.\d{3})*(,\d+)?-?$|^[-+]?\d+,\d+-?$")
_POINT_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
_OFFSET = re.compile(r"(Z|[+-]\d{2}:?\d{2})$")


@dataclass(frozen=True)
class Suggestion:
    """A proposed mapping: its YAML text and what it is based on."""

    yaml: str
    #: The pack mappings the header selected (empty for a draft).
    matched: tuple[PackMapping, ...]
    shape: FileShape


def _kind(values: list[str]) -> tuple[str, str | None]:
    """What a column's sample values are: ``time`` (with a format), ``number`` or ``text``."""
    values = [v.strip() for v in values if v.strip()]
    if not values:
        return "empty", None
    for pattern, fmt in _TIME_FORMATS:
        if all(pattern.match(v) for v in values):
            if fmt == "%Y%m%d" and not all(v[:2] in ("19", "20") for v in values):
                break
            return "time", fmt
    if all(_POINT_NUMBER.match(v) for v in values):
        return "number", "."
    if all(_COMMA_NUMBER.match(v) or _POINT_NUMBER.match(v) for v in values) and any(
        "," in v for v in values
    ):
        return "number", ","
    return "text", None


def _vocabulary(packs: list[Pack]) -> dict[str, Counter[tuple[str, str]]]:
    """Column name -> (entity, field) pairs the packs map it to."""
    known: dict[str, Counter[tuple[str, str]]] = defaultdict(Counter)
    for pack in packs:
        for item in pack.mappings:
            mapping = item.mapping
            for name, rule in mapping.fields.items():
                if rule.lookup is not None:
                    continue
                for column in rule.source_columns:
                    known[column][(mapping.target, name)] += 1
    return known


def _quote(text: str) -> str:
    return text if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", text) else '"' + text + '"'


def _fitted_source(
    shape: FileShape, decimal: str | None, offsets: bool, thousands: str | None = None
) -> str:
    """The ``source:`` line for this file: what sniffing found, and a zone to check.

    ``thousands`` is the pack mapping's own, where it declares one.
    """
    parts = []
    if shape.format == "xml":
        parts.append("format: xml")
        if shape.records:
            parts.append(f"records: {shape.records}")
    if shape.format == "excel" and shape.sheet:
        parts.append(f"sheet: {_quote(shape.sheet)}")
    if shape.encoding and shape.encoding != "utf-8":
        parts.append(f"encoding: {shape.encoding}")
    if shape.delimiter and shape.delimiter != ",":
        parts.append(f'delimiter: "{shape.delimiter}"')
    if shape.header_row != 1:
        parts.append(f"header_row: {shape.header_row}")
    if decimal == ",":
        parts.append('decimal: ","')
    if thousands is not None:
        parts.append(f'thousands: "{thousands}"')
    if not offsets:
        parts.append("timezone: UTC")
    line = "source: {" + ", ".join(parts) + "}"
    if not offsets:
        line += "   # times carry no offset: set the zone they are written in"
    return line


def suggest_mapping(path: str | Path, *, sheet: str | None = None) -> Suggestion:
    """Propose a mapping YAML for a file, for the user to check and edit.

    Args:
        path: The export.
        sheet: Excel: the sheet to map (default: the first with a header).

    Raises:
        IngestError: If the file cannot be read as a table, or the sheet does not exist.
    """
    shapes = sniff(path)
    if sheet is not None:
        shapes = [s for s in shapes if s.sheet == sheet]
        if not shapes:
            raise IngestError(f"{path}: no sheet {sheet!r} with a header row")
    shape = shapes[0]
    packs = load_packs()
    found = matches(shape, packs)
    if found:
        return Suggestion(_from_pack(shape, found), tuple(found), shape)
    return Suggestion(_draft(shape, packs), (), shape)


def _from_pack(shape: FileShape, found: list[PackMapping]) -> str:
    first = found[0]
    text = first.path.read_text(encoding="utf-8")
    # An XML document's root selects the mapping, whose source already says how to read it.
    what = "root element" if first.root else "header"
    lines = [
        f"# {shape.path.name}: its {what} selects the connector pack mapping "
        f"{first.pack}/{first.name} ({first.selected_by}).",
        "# Loaded as it is by the packs; edit a copy to change it. " + "; ".join(shape.notes) + ".",
    ]
    if len(found) > 1:
        others = ", ".join(f"{m.pack}/{m.name}" for m in found[1:])
        lines.append(f"# The same {what} also selects: {others}.")
    body = []
    dropped = False  # within a key left out, until the next key
    for line in text.splitlines():
        if not line.startswith((" ", "#")) and line.strip():
            dropped = line.startswith("match:") or (line.startswith("source:") and not first.root)
        if not dropped:
            body.append(line)
    if not first.root:
        decimal = first.mapping.source.decimal
        offsets = _has_offsets(shape)
        insert_at = next((i for i, line in enumerate(body) if line.startswith("space:")), len(body))
        thousands = first.mapping.source.thousands
        body.insert(insert_at + 1, _fitted_source(shape, decimal, offsets, thousands))
    return "\n".join(lines + body) + "\n"


def _has_offsets(shape: FileShape) -> bool:
    times = [
        values for values in shape.samples.values() if values and _kind(values[:50])[0] == "time"
    ]
    return bool(times) and all(_OFFSET.search(v.strip()) for values in times for v in values)


def _draft(shape: FileShape, packs: list[Pack]) -> str:
    vocabulary = _vocabulary(packs)
    kinds = {c: _kind(shape.samples.get(c, [])[:100]) for c in shape.columns}
    votes: Counter[str] = Counter()
    for column in shape.columns:
        for (entity, _), count in vocabulary.get(column, Counter()).items():
            if entity not in ("edge", "datapoint"):
                votes[entity] += count
    entity_names = [e.name for e in ENTITY_TYPES if e.name not in ("annotation",)]
    if not votes:
        for entity in entity_names:
            names = {f.name for f in target_fields(entity)}
            votes[entity] = sum(
                1 for c in shape.columns if _normal(c) in names or _normal(c) == entity
            )
    entity = votes.most_common(1)[0][0] if votes and votes.most_common(1)[0][1] else "asset"
    fields = {f.name: f for f in target_fields(entity)}
    chosen: dict[str, str] = {}
    notes: list[str] = []
    for column in shape.columns:
        pairs = [
            (field, count)
            for (target, field), count in vocabulary.get(column, Counter()).items()
            if target == entity and field in fields and field not in chosen
        ]
        if pairs:
            chosen[max(pairs, key=lambda p: p[1])[0]] = column
            continue
        close = difflib.get_close_matches(_normal(column), [f for f in fields if f not in chosen])
        if close:
            chosen[close[0]] = column
        else:
            sample = (shape.samples.get(column) or [""])[0]
            notes.append(f"#   {column}: not mapped (e.g. {sample[:30]!r}, {kinds[column][0]})")
    if "external_id" not in chosen and shape.columns:
        chosen["external_id"] = shape.columns[0]
        notes.insert(0, f"# external_id: the first column, {shape.columns[0]!r}; check it is a key")
    decimal = "," if any(k == ("number", ",") for k in kinds.values()) else None
    lines = [
        f"# A draft mapping for {shape.path.name}, proposed from its header and values; no",
        "# connector pack recognises it. Check the entity and every field before loading.",
        "# " + "; ".join(shape.notes) + ".",
        f"entity: {entity}   # {', '.join(e for e, _ in votes.most_common(3))} fit best",
        "space: source   # where these identifiers are unique: the system's name (erp, mes, ...)",
        _fitted_source(shape, decimal, _has_offsets(shape)),
        "fields:",
    ]
    for field_name, column in chosen.items():
        field = fields[field_name]
        kind, fmt = kinds.get(column, ("text", None))
        if field.type == "timestamp" and fmt:
            lines.append(f'  {field_name}: {{column: {_quote(column)}, format: "{fmt}"}}')
        elif field.values:
            lines.append(
                f"  {field_name}: {{column: {_quote(column)}, values: {{}}}}   "
                f"# map its codes to {', '.join(field.values)}"
            )
        else:
            lines.append(f"  {field_name}: {_quote(column)}")
    for field in fields.values():
        if field.required and field.name not in chosen and field.name not in ("space",):
            lines.append(f"  {field.name}: TODO   # required: which column holds it?")
    if notes:
        lines.append("# Columns left out:")
        lines += notes
    return "\n".join(lines) + "\n"


def _normal(column: str) -> str:
    """A column name written as a model field name (``Serial Number`` -> ``serial_number``)."""
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", column.strip())
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
