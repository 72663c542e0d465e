"""Declarative mapping files: which source columns become which fields of the factory model.

A mapping maps columns to fields; it never lists identities. Example::

    entity: asset                   # an entity type, or `datapoint`, or `edge`
    space: mes                      # where the identifiers are unique
    source:
      format: sqlite                # csv, parquet, excel, jsonl, json, sqlite (default: extension)
      table: machines               # sqlite table or excel sheet
      timezone: Europe/Berlin       # naive timestamps are local time there (default UTC)
    fields:
      external_id: "{line}-{code}"  # a template over columns
      name: description             # a column
      level: {value: equipment}     # a constant
      ideal_cycle_seconds: {column: cycle_min, unit: min}   # converted to the field's unit
      status: {column: st, values: {A: available, Q: quarantined}}
      installed_at: {column: since, format: "%d.%m.%Y"}

Two options say which rows of a file are this entity's: ``skip_rows_without: [column]`` skips
rows where a column is empty (a purchase-order line without a batch is no lot), and ``duplicates:
merge`` keeps the last of several rows with the same key without quarantining the others (a
shipment listed once per serial it carries). Skipped rows are counted, with their reason, in the
report: rows read = rows loaded + rows quarantined + rows skipped.

Every mistake is reported with the mapping file, its line and the field.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from factorybrain.connectors._units import UnitConversionError, affine, parse_unit
from factorybrain.exceptions import MappingError
from factorybrain.model import EDGE_TYPES, ENTITY_TYPES, Field, entity_type

FORMATS = ("csv", "parquet", "excel", "jsonl", "json", "sqlite")
_EXTENSIONS = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".xlsx": "excel",
    ".xlsm": "excel",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".sqlite": "sqlite",
    ".sqlite3": "sqlite",
    ".db": "sqlite",
}
_TEMPLATE = re.compile(r"\{([^{}]+)\}")

#: Fields of the pseudo-entities a mapping can also load.
DATAPOINT_FIELDS: tuple[Field, ...] = (
    Field("series", "string", "External id of the time series (a historian tag).", required=True),
    Field("ts", "timestamp", "Timestamp of the point.", required=True),
    Field("value", "float", "Value, converted to the series' unit.", required=True),
)
EDGE_FIELDS: tuple[Field, ...] = (
    Field("source_external_id", "string", "Entity at the tail of the edge.", required=True),
    Field("target_external_id", "string", "Entity at the head of the edge.", required=True),
    Field("source_space", "string", "Space of the tail (default: the mapping's space)."),
    Field("target_space", "string", "Space of the head (default: the mapping's space)."),
    Field("start_time", "timestamp", "Start of the edge's time window."),
    Field("end_time", "timestamp", "End of the edge's time window."),
    Field("quantity", "float", "Quantity carried by the edge (consumed, shipped...)."),
    Field("properties", "json", "Anything else."),
    Field("source", "string", "System the record came from."),
)


@dataclass(frozen=True)
class FieldRule:
    """How one field is filled from a source row.

    Exactly one of ``column``, ``template``, ``columns`` or ``value`` is set.
    """

    field: Field
    line: int
    column: str | None = None
    template: str | None = None
    columns: tuple[str, ...] | None = None
    value: Any = None
    default: Any = None
    unit: str | None = None
    unit_column: str | None = None
    to_unit: str | None = None
    timezone: str | None = None
    format: str | None = None
    values: dict[str, Any] | None = None

    @property
    def source_columns(self) -> tuple[str, ...]:
        """Source columns the rule reads."""
        names: list[str] = []
        if self.column:
            names.append(self.column)
        if self.template:
            names += _TEMPLATE.findall(self.template)
        if self.columns:
            names += list(self.columns)
        if self.unit_column:
            names.append(self.unit_column)
        return tuple(names)


@dataclass(frozen=True)
class SourceOptions:
    """How to read the source file."""

    format: str | None = None
    table: str | None = None
    sheet: str | None = None
    delimiter: str | None = None
    encoding: str | None = None
    timezone: str = "UTC"
    decimal: str | None = None
    records: str | None = None
    explode: str | None = None
    header: bool = True
    query: str | None = None


@dataclass(frozen=True)
class Mapping:
    """A parsed, checked mapping file."""

    path: str
    target: str
    space: str
    fields: dict[str, FieldRule]
    source: SourceOptions = field(default_factory=SourceOptions)
    edge: str | None = None
    source_system: str | None = None
    skip_rows_without: tuple[str, ...] = ()
    duplicates: str = "quarantine"

    @property
    def target_fields(self) -> tuple[Field, ...]:
        """All fields the target can take."""
        return target_fields(self.target)

    @property
    def key(self) -> tuple[str, ...]:
        """Fields that identify a row of this mapping (duplicates are checked on them)."""
        if self.target == "datapoint":
            return ("series", "ts")
        if self.target == "edge":
            return ("source_space", "source_external_id", "target_space", "target_external_id")
        return ("space", "external_id")

    def format_for(self, path: Path) -> str:
        """The format of a source file: the mapping's, else the file's extension."""
        if self.source.format:
            return self.source.format
        suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
        found = _EXTENSIONS.get(suffixes[-1] if suffixes else "")
        if found is None:
            raise MappingError(
                f"{self.path}: cannot tell the format of {path.name!r} from its extension; "
                f"add 'source: {{format: ...}}' with one of {', '.join(FORMATS)}"
            )
        return found


def target_fields(target: str) -> tuple[Field, ...]:
    """Fields of an entity type, or of the ``datapoint`` and ``edge`` pseudo-entities."""
    if target == "datapoint":
        return DATAPOINT_FIELDS
    if target == "edge":
        return EDGE_FIELDS
    return entity_type(target).all_fields


# -- YAML with line numbers ----------------------------------------------------------------------
def _lines(node: yaml.MappingNode) -> dict[str, tuple[int, yaml.Node]]:
    return {k.value: (k.start_mark.line + 1, v) for k, v in node.value}


def load_mapping(path: str | Path) -> Mapping:
    """Read and check a mapping file.

    Raises:
        MappingError: Naming the file, the line and the field of the first mistake.
    """
    path = Path(path)
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise MappingError(f"{name}: cannot read the mapping file: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise MappingError(f"{name}: the mapping file is not UTF-8 text") from error
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise MappingError(f"{name}{where}: not valid YAML: {problem}") from error
    if not isinstance(root, yaml.MappingNode):
        raise MappingError(f"{name}: expected a mapping with 'entity', 'space' and 'fields'")
    return parse_mapping(root, name)


def _fail(name: str, line: int, message: str) -> MappingError:
    return MappingError(f"{name} line {line}: {message}")


def _scalar(node: yaml.Node) -> Any:
    return yaml.safe_load(yaml.serialize(node))


def parse_mapping(root: yaml.MappingNode, name: str) -> Mapping:
    """Check a composed YAML document and turn it into a :class:`Mapping`."""
    top = _lines(root)
    allowed = {
        "entity",
        "space",
        "source",
        "fields",
        "edge",
        "system",
        "skip_rows_without",
        "duplicates",
    }
    for key, (line, _) in top.items():
        if key not in allowed:
            raise _fail(name, line, f"unknown key {key!r}; expected one of {sorted(allowed)}")
    for required in ("entity", "space", "fields"):
        if required not in top:
            raise MappingError(f"{name}: missing required key {required!r}")

    line, node = top["entity"]
    target = _scalar(node)
    known = [e.name for e in ENTITY_TYPES] + ["datapoint", "edge"]
    if target not in known:
        raise _fail(name, line, f"unknown entity {target!r}{_suggest(str(target), known)}")
    edge = None
    if target == "edge":
        if "edge" not in top:
            raise MappingError(f"{name}: 'entity: edge' needs 'edge: <edge type>'")
        edge_line, edge_node = top["edge"]
        edge = _scalar(edge_node)
        edge_names = [e.name for e in EDGE_TYPES]
        if edge not in edge_names:
            raise _fail(
                name, edge_line, f"unknown edge type {edge!r}{_suggest(str(edge), edge_names)}"
            )

    space_line, space_node = top["space"]
    space = _scalar(space_node)
    if not isinstance(space, str) or not space.strip():
        raise _fail(name, space_line, f"'space' must be a non-empty name, found {space!r}")

    source = SourceOptions()
    if "source" in top:
        source = _parse_source(name, *top["source"])

    fields_line, fields_node = top["fields"]
    if not isinstance(fields_node, yaml.MappingNode) or not fields_node.value:
        raise _fail(name, fields_line, "'fields' must map field names to columns")
    allowed_fields = {f.name: f for f in target_fields(target)}
    rules: dict[str, FieldRule] = {}
    for field_name, (line, spec) in _lines(fields_node).items():
        if field_name not in allowed_fields:
            raise _fail(
                name,
                line,
                f"{target} has no field {field_name!r}{_suggest(field_name, list(allowed_fields))}",
            )
        rules[field_name] = _parse_rule(name, line, allowed_fields[field_name], spec, source)

    for f in target_fields(target):
        if f.required and f.name not in rules and f.name != "space":
            raise _fail(name, fields_line, f"required field {f.name!r} of {target} is not mapped")
    system = _scalar(top["system"][1]) if "system" in top else space
    skip: tuple[str, ...] = ()
    if "skip_rows_without" in top:
        skip_line, skip_node = top["skip_rows_without"]
        value = _scalar(skip_node)
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _fail(name, skip_line, "'skip_rows_without' takes a column or a list of columns")
        skip = tuple(value)
    duplicates = "quarantine"
    if "duplicates" in top:
        dup_line, dup_node = top["duplicates"]
        duplicates = _scalar(dup_node)
        if duplicates not in ("quarantine", "merge"):
            raise _fail(
                name,
                dup_line,
                f"'duplicates' must be 'quarantine' (keep the last row, "
                f"quarantine the others) or 'merge' (keep the last row silently); found "
                f"{duplicates!r}",
            )
    return Mapping(name, target, space, rules, source, edge, system, skip, duplicates)


def _parse_source(name: str, line: int, node: yaml.Node) -> SourceOptions:
    if not isinstance(node, yaml.MappingNode):
        raise _fail(name, line, "'source' must be a mapping of reading options")
    options: dict[str, Any] = {}
    allowed = set(SourceOptions.__dataclass_fields__)
    for key, (key_line, value) in _lines(node).items():
        if key not in allowed:
            raise _fail(
                name, key_line, f"unknown source option {key!r}{_suggest(key, sorted(allowed))}"
            )
        options[key] = _scalar(value)
        if key == "format" and options[key] not in FORMATS:
            raise _fail(
                name,
                key_line,
                f"unknown format {options[key]!r}; expected one of {', '.join(FORMATS)}",
            )
        if key == "timezone":
            _check_timezone(name, key_line, options[key])
    return SourceOptions(**options)


def _check_timezone(name: str, line: int, zone: Any) -> None:
    try:
        ZoneInfo(str(zone))
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise _fail(
            name,
            line,
            f"unknown time zone {zone!r} (expected an IANA name such as 'Europe/Berlin' or 'UTC')",
        ) from error


def _parse_rule(
    name: str, line: int, target: Field, node: yaml.Node, source: SourceOptions
) -> FieldRule:
    if isinstance(node, yaml.ScalarNode):
        text = _scalar(node)
        if not isinstance(text, str):
            raise _fail(
                name,
                line,
                f"field {target.name!r}: expected a column name, a "
                f"template or {{value: ...}}, found {text!r}",
            )
        if _TEMPLATE.search(text):
            return FieldRule(target, line, template=text)
        return FieldRule(target, line, column=text)
    if not isinstance(node, yaml.MappingNode):
        raise _fail(name, line, f"field {target.name!r}: expected a column name or a mapping")
    spec = {key: _scalar(value) for key, (_, value) in _lines(node).items()}
    spec_lines = {key: key_line for key, (key_line, _) in _lines(node).items()}
    allowed = {
        "column",
        "template",
        "columns",
        "value",
        "default",
        "unit",
        "unit_column",
        "to",
        "timezone",
        "format",
        "values",
    }
    for key in spec:
        if key not in allowed:
            raise _fail(
                name,
                spec_lines[key],
                f"field {target.name!r}: unknown option {key!r}{_suggest(key, sorted(allowed))}",
            )
    sources = [k for k in ("column", "template", "columns", "value") if k in spec]
    if len(sources) != 1:
        raise _fail(
            name,
            line,
            f"field {target.name!r}: give exactly one of column, template, "
            f"columns or value; found {sources or 'none'}",
        )
    if "columns" in spec and (not isinstance(spec["columns"], list) or target.type != "string[]"):
        raise _fail(
            name,
            line,
            f"field {target.name!r}: 'columns' takes a list and fills a "
            "list field such as aliases or tags",
        )
    if "timezone" in spec:
        _check_timezone(name, spec_lines["timezone"], spec["timezone"])
    if ("format" in spec or "timezone" in spec) and target.type != "timestamp":
        raise _fail(
            name,
            line,
            f"field {target.name!r} is {target.type}; 'format' and "
            "'timezone' apply to timestamps only",
        )
    unit, to_unit = spec.get("unit"), spec.get("to") or target.unit
    if (unit or spec.get("unit_column")) and target.type != "float":
        raise _fail(
            name, line, f"field {target.name!r} is {target.type}; units apply to numbers only"
        )
    if (unit or spec.get("unit_column")) and not to_unit:
        raise _fail(
            name,
            line,
            f"field {target.name!r} has no unit of its own; say which unit "
            "to store it in with 'to: <unit>'",
        )
    try:
        if unit:
            affine(str(unit), str(to_unit))
        elif to_unit and spec.get("unit_column"):
            parse_unit(str(to_unit))
    except UnitConversionError as error:
        raise _fail(
            name, spec_lines.get("unit", line), f"field {target.name!r}: {error}"
        ) from error
    values = spec.get("values")
    if values is not None and not isinstance(values, dict):
        raise _fail(
            name,
            spec_lines["values"],
            f"field {target.name!r}: 'values' must map source codes to model values",
        )
    if values and target.values:
        wrong = [v for v in values.values() if v not in target.values]
        if wrong:
            raise _fail(
                name,
                spec_lines["values"],
                f"field {target.name!r}: {wrong[0]!r} is not one of {list(target.values)}",
            )
    value = spec.get("value")
    if "value" in spec and target.values and value not in target.values:
        raise _fail(
            name, line, f"field {target.name!r}: {value!r} is not one of {list(target.values)}"
        )
    return FieldRule(
        target,
        line,
        column=spec.get("column"),
        template=spec.get("template"),
        columns=tuple(spec["columns"]) if "columns" in spec else None,
        value=value,
        default=spec.get("default"),
        unit=unit,
        unit_column=spec.get("unit_column"),
        to_unit=to_unit,
        timezone=spec.get("timezone"),
        format=spec.get("format"),
        values={str(k): v for k, v in values.items()} if values else None,
    )


def _suggest(word: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(word, candidates, n=1)
    return f" (did you mean {close[0]!r}?)" if close else f"; expected one of {sorted(candidates)}"
