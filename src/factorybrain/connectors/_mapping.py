"""Declarative mapping files: which source columns become which fields of the factory model.

A mapping maps columns to fields; it never lists identities. Example::

    entity: asset                   # an entity type, or `datapoint`, or `edge`
    space: mes                      # where the identifiers are unique
    source:
      format: sqlite                # csv parquet excel jsonl json sqlite xml (default: extension)
      table: machines               # sqlite table or excel sheet
      timezone: Europe/Berlin       # naive timestamps are local time there (default UTC)
    fields:
      external_id: "{line}-{code}"  # a template over columns
      name: description             # a column
      level: {value: equipment}     # a constant
      ideal_cycle_seconds: {column: cycle_min, unit: min}   # converted to the field's unit
      status: {column: st, values: {A: available, Q: quarantined}}
      installed_at: {column: since, format: "%d.%m.%Y"}

Three options say which rows of a file are this entity's: ``filter`` keeps the rows a condition
holds for (``BWART IN ('101', '102')``, ``{column: MENGE, above: 0}``), ``skip_rows_without:
[column]`` skips rows where a column is empty (a purchase-order line without a batch is no lot),
and ``duplicates: merge`` keeps the last of several rows with the same key without quarantining
the others (a shipment listed once per serial it carries). Every row read is accounted for in the
report: rows read = inserted + updated + unchanged + merged + filtered + quarantined.

A field may also be an expression (``{expr: "CASE WHEN SHKZG = 'H' THEN -DMBTR ELSE DMBTR END"}``,
see :mod:`factorybrain.connectors._expressions`), a lookup in an entity already in the store
(``{column: MATNR, lookup: {entity: material, match: aliases}}``), the start of the next state
change of the same subject (``end_time: {next: start_time, per: asset}``), or contain the row's
own number (``"{serial}/{@row}"``) where the rows of a file have no key. A mapping with
``unpivot`` loads a wide table, one column per tag or measurement (see :mod:`._unpivot`).

``roles`` names a column by what it holds rather than by one spelling: ``roles: {serial:
[Seriennummer, Serial number, S/N]}`` lets every field read ``serial``, which is the first of
those headers the file has (compared without regard to case and repeated blanks).

Every mistake is reported with the mapping file, its line and the field.
"""

from __future__ import annotations

import codecs
import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from factorybrain.connectors._expressions import Expression, ExpressionError, parse_expression
from factorybrain.connectors._units import UnitConversionError, affine, parse_unit
from factorybrain.connectors._unpivot import (
    UNPIVOTED_FIELDS,
    Unpivot,
    parse_unpivot,
    reads_pseudo_column,
)
from factorybrain.connectors._xml import (
    DEPTH_KEY,
    MAX_DEPTH,
    MAX_RECORD_ELEMENTS,
    PARENT_KEY,
    PATH_KEY,
    Recursive,
    parse_record_path,
)
from factorybrain.exceptions import MappingError
from factorybrain.model import (
    EDGE_TYPES,
    ENTITY_TYPES,
    MAX_SPACE_LENGTH,
    SITE_SEPARATOR,
    Field,
    entity_type,
    site_problem,
    space_in_site,
)

FORMATS = ("csv", "parquet", "excel", "jsonl", "json", "sqlite", "xml")
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
    ".xml": "xml",
}
_TEMPLATE = re.compile(r"\{([^{}]+)\}")

#: The pseudo-column holding a row's own number (the line of a CSV file, the row of a sheet,
#: ``record.item`` of an exploded JSON list): a key for files whose rows have none.
ROW_COLUMN = "@row"
#: What a local time that does not exist or occurs twice (a DST change) becomes.
DST_POLICIES = ("reject", "earlier", "later")
#: When a field's value replaces the one the store already holds for the entity: always; never
#: (it only fills an empty field: a second source's word); unless it is empty (an empty cell
#: keeps what another source gave).
OVERWRITE = ("always", "never", "unless_empty")
_THOUSANDS = ("", ".", ",", " ", "'", "\u00a0", "\u202f")

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
class Lookup:
    """A field's value looked up in an entity type already in the store.

    The source value is matched against ``match`` (a text field, or a list field such as
    ``aliases``, which matches when it contains the value) and the row's ``return`` field is the
    value; ``space`` limits the search to one space, ``site`` (a mapping placed in a site, see
    :func:`place_in_site`) to the spaces of one site.
    """

    entity: str
    match: str = "external_id"
    returns: str = "external_id"
    space: str | None = None
    site: str | None = None


@dataclass(frozen=True)
class FieldRule:
    """How one field is filled from a source row.

    Exactly one of ``column``, ``template``, ``columns``, ``value``, ``expression`` or
    ``next_of`` is set.
    """

    field: Field
    line: int
    column: str | None = None
    template: str | None = None
    columns: tuple[str, ...] | None = None
    #: ``columns: {matching: <regex>}``: every column whose whole name matches, in file order.
    columns_matching: str | None = None
    value: Any = None
    default: Any = None
    unit: str | None = None
    unit_column: str | None = None
    to_unit: str | None = None
    timezone: str | None = None
    format: str | None = None
    values: dict[str, Any] | None = None
    #: With ``values``: what an unknown code becomes: rejected, or kept as it is.
    unknown: str = "reject"
    expression: Expression | None = None
    lookup: Lookup | None = None
    #: The field whose value in the next row of the same subject (``per``) this one takes.
    next_of: str | None = None
    per: tuple[str, ...] = ()
    dst: str | None = None
    #: When the value replaces the one the store holds (see OVERWRITE).
    overwrite: str = "always"

    @property
    def source_columns(self) -> tuple[str, ...]:
        """Source columns the rule reads (``@row`` included where used)."""
        names: list[str] = []
        if self.column:
            names.append(self.column)
        if self.template:
            names += _TEMPLATE.findall(self.template)
        if self.columns:
            names += list(self.columns)
        if self.expression is not None:
            names += list(self.expression.columns)
        if self.unit_column:
            names.append(self.unit_column)
        return tuple(names)


def header_key(name: str) -> str:
    """How a header compares with a role's names: case and repeated blanks do not count."""
    return " ".join(str(name).split()).casefold()


@dataclass(frozen=True)
class Role:
    """A column a mapping reads by what it holds, whatever the file calls it (``roles``).

    A lab's serial number is ``Seriennummer`` in one workbook and ``S/N`` in another: the fields
    read the role (``serial``), which is the first of its ``names`` the file has.
    """

    name: str
    #: The headers that may hold it, in order of preference.
    names: tuple[str, ...]
    line: int
    #: Whether a file may lack it (its fields are then empty) rather than fail.
    optional: bool = False

    def candidates(self, columns: Sequence[str]) -> list[str]:
        """The file's columns that hold the role, in the order of :attr:`names`."""
        by_key: dict[str, list[str]] = {}
        for column in columns:
            by_key.setdefault(header_key(column), []).append(column)
        found: list[str] = []
        for name in self.names:
            found += [c for c in by_key.get(header_key(name), []) if c not in found]
        return found


@dataclass(frozen=True)
class RowFilter:
    """A condition a row must meet to be this entity's; rows it fails are counted per filter."""

    line: int
    #: The filter as the mapping writes it, for the report.
    description: str
    expression: Expression


@dataclass(frozen=True)
class SourceOptions:
    """How to read the source file."""

    format: str | None = None
    table: str | None = None
    #: Excel sheet: a name, or its position counting from 1.
    sheet: str | int | None = None
    delimiter: str | None = None
    #: Any Python codec name (``cp1252``, ``latin-1``, ``shift_jis``, ``gb18030``, ...).
    encoding: str | None = None
    timezone: str = "UTC"
    decimal: str | None = None
    #: Thousands separator accepted in numbers written as text (default "." under decimal ",").
    thousands: str | None = None
    #: JSON: dotted path to the list of records; XML: path of the record elements (see _xml).
    records: str | None = None
    #: JSON: dotted paths of the lists to turn into rows, outermost first.
    explode: tuple[str, ...] = ()
    header: bool = True
    query: str | None = None
    #: The row (CSV: line) the column names are on; the rows above it are titles.
    header_row: int = 1
    #: Excel: rows below the header that are not records: a count, or a list of row numbers.
    skip_rows: int | tuple[int, ...] = 0
    #: What a local time that does not exist or occurs twice becomes (see DST_POLICIES).
    dst: str = "reject"
    #: XML: the namespace URIs each prefix of ``records`` stands for (one or several).
    namespaces: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: XML: element levels the document may nest, and elements one record may hold.
    max_depth: int = MAX_DEPTH
    max_record_elements: int = MAX_RECORD_ELEMENTS
    #: XML: records nest in records (an asset tree), each read as a record of its own.
    recursive: Recursive | None = None

    @property
    def namespace_uris(self) -> dict[str, tuple[str, ...]]:
        """XML: prefix -> the namespace URIs it stands for."""
        return dict(self.namespaces)

    @property
    def thousands_separator(self) -> str:
        """The thousands separator in effect ("" for none)."""
        if self.thousands is not None:
            return self.thousands
        return "." if self.decimal == "," else ""


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
    filters: tuple[RowFilter, ...] = ()
    #: A wide table's tag columns, each unpivoted into the datapoints of a series.
    unpivot: Unpivot | None = None
    #: A header table: its rows are written to every stored entity whose key is the row's key,
    #: this separator and more (a purchase order's items, an inspection lot's results).
    items: str | None = None
    #: Columns read by what they hold: role name -> the headers that may hold it.
    roles: dict[str, Role] = field(default_factory=dict)

    @property
    def columns_read(self) -> tuple[str, ...]:
        """What the fields, filters and ``skip_rows_without`` read (roles by their name)."""
        names = [column for rule in self.fields.values() for column in rule.source_columns]
        names += [column for row_filter in self.filters for column in row_filter.expression.columns]
        names += self.skip_rows_without
        return tuple(name for name in dict.fromkeys(names) if name != ROW_COLUMN)

    def columns_of(self, name: str, columns: Sequence[str]) -> list[str]:
        """The file's ``columns`` that a name the mapping reads may be (a role: several)."""
        role = self.roles.get(name)
        if role is not None:
            return role.candidates(columns)
        return [name] if name in columns else []

    @property
    def uses_row_number(self) -> bool:
        """Whether a field reads the row's own number (``@row``)."""
        return any(ROW_COLUMN in rule.source_columns for rule in self.fields.values())

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


def place_in_site(mapping: Mapping, site: str) -> Mapping:
    """The mapping as it loads the files of one site of several: into the site's own spaces.

    Every space the mapping names becomes the site's (``erp`` becomes ``<site>/erp``): its own
    ``space``, a space it writes as a constant (``space``, an edge's ``source_space`` and
    ``target_space``) and the space of a lookup; a lookup that names no space searches the
    site's spaces only, so that one site's rows never take another site's entities. The
    recorded ``source`` (``system``) stays the system's name.

    Raises:
        MappingError: If the site is no valid name, a space already names a site (has a
            ``/``), the site's space would be too long, or a space comes from a column, which
            no site can rename (naming the mapping, the line and the field).
    """
    problem = site_problem(site)
    if problem:
        raise MappingError(f"{mapping.path}: cannot load into site {site!r}: {problem}")

    def placed(space: str, where: str) -> str:
        if SITE_SEPARATOR in space:
            raise MappingError(
                f"{where}: space {space!r} already names a site (it has a {SITE_SEPARATOR!r}); "
                f"a mapping loaded into site {site!r} names its spaces without one"
            )
        found = space_in_site(site, space)
        if len(found) > MAX_SPACE_LENGTH:
            raise MappingError(
                f"{where}: space {found!r} of site {site!r} is longer than "
                f"{MAX_SPACE_LENGTH} characters"
            )
        return found

    fields = {}
    for name, rule in mapping.fields.items():
        where = f"{mapping.path} line {rule.line}: field {name!r}"
        if rule.lookup is not None:
            lookup = rule.lookup
            if lookup.space is not None:
                lookup = replace(lookup, space=placed(lookup.space, where))
            else:
                lookup = replace(lookup, site=site)
            rule = replace(rule, lookup=lookup)
        if name == "space" or name.endswith("_space"):
            if rule.value is None:
                raise MappingError(
                    f"{where}: the space comes from the source, so it cannot be placed in site "
                    f"{site!r}; write it as a constant ({{value: ...}}) or load the file alone"
                )
            rule = replace(rule, value=placed(str(rule.value), where))
        fields[name] = rule
    return replace(mapping, space=placed(mapping.space, f"{mapping.path}: 'space'"), fields=fields)


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
        "filter",
        "unpivot",
        "items",
        "roles",
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
    _check_references(name, rules)
    unpivot = None
    if "unpivot" in top:
        read = {n: (rule.line, rule.source_columns) for n, rule in rules.items()}
        unpivot = parse_unpivot(name, *top["unpivot"], target, read)
    if unpivot is None or target == "datapoint":
        for rule in rules.values():
            pseudo = reads_pseudo_column(rule.source_columns)
            if pseudo is not None:
                raise _fail(
                    name,
                    rule.line,
                    f"field {rule.field.name!r} reads {pseudo!r}, a cell of a wide table's "
                    "columns: an entity's mapping reads it with 'unpivot' (a datapoint's "
                    "'unpivot' fills its value itself)",
                )

    items = None
    if "items" in top:
        items = _parse_items(name, *top["items"], target)
        if unpivot is not None:
            raise _fail(
                name,
                top["items"][0],
                "'items' writes a header's rows to items already stored, 'unpivot' makes rows "
                "of cells; a mapping does one or the other",
            )
    roles: dict[str, Role] = {}
    if "roles" in top:
        roles = _parse_roles(name, *top["roles"])
    for f in target_fields(target):
        unpivoted = unpivot is not None and f.name in UNPIVOTED_FIELDS
        # A header's rows only add to items already stored: their other fields are there.
        held = items is not None and f.name != "external_id"
        if f.required and f.name not in rules and f.name != "space" and not unpivoted and not held:
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
    filters: tuple[RowFilter, ...] = ()
    if "filter" in top:
        filters = _parse_filters(name, *top["filter"])
    _check_hierarchy(name, rules, filters, source)
    kept = [rule for rule in rules.values() if rule.overwrite != "always"]
    if kept and (target in ("datapoint", "edge") or kept[0].field.name == "external_id"):
        raise _fail(
            name,
            kept[0].line,
            f"field {kept[0].field.name!r}: 'overwrite' says when a value replaces the one the "
            "store holds for an entity; it applies to the fields of an entity, not to its key, "
            "a datapoint or an edge",
        )
    return Mapping(
        name,
        target,
        space,
        rules,
        source,
        edge,
        system,
        skip,
        duplicates,
        filters,
        unpivot=unpivot,
        items=items,
        roles=roles,
    )


def _parse_roles(name: str, line: int, node: yaml.Node) -> dict[str, Role]:
    """``roles``: a name the mapping reads -> the headers that may hold it.

    A role is a list of headers (``serial: [Seriennummer, Serial number]``), or ``{names: [...],
    optional: true}`` for a column a file may lack.
    """
    if not isinstance(node, yaml.MappingNode) or not node.value:
        raise _fail(
            name,
            line,
            "'roles' maps a name the fields read to the headers that may hold it, such as "
            "{serial: [Seriennummer, Serial number, S/N]}",
        )
    roles: dict[str, Role] = {}
    owner: dict[str, str] = {}
    for role, (role_line, value_node) in _lines(node).items():
        spec = _scalar(value_node)
        optional = False
        if isinstance(spec, dict) and set(spec) <= {"names", "optional"} and "names" in spec:
            optional = spec.get("optional", False)
            spec = spec["names"]
            if not isinstance(optional, bool):
                raise _fail(
                    name,
                    role_line,
                    f"role {role!r}: 'optional' is true or false, found {optional!r}",
                )
        names = [spec] if isinstance(spec, str) else spec
        if (
            not isinstance(names, list)
            or not names
            or not all(isinstance(n, str | int | float) and str(n).strip() for n in names)
        ):
            raise _fail(
                name,
                role_line,
                f"role {role!r} takes the list of headers that may hold it, or {{names: [...], "
                f"optional: true}}; found {spec!r}",
            )
        if not role or role.startswith(("@", "__")) or "{" in role or "}" in role:
            raise _fail(
                name,
                role_line,
                f"{role!r} cannot name a role: a role is a name such as 'serial' (not starting "
                "with '@' or '__', no braces)",
            )
        headers = tuple(str(n).strip() for n in names)
        for header in headers:
            other = owner.setdefault(header_key(header), role)
            if other != role:
                raise _fail(
                    name,
                    role_line,
                    f"header {header!r} is listed under roles {other!r} and {role!r}; a header "
                    "holds one thing",
                )
        roles[role] = Role(role, headers, role_line, optional)
    return roles


def _parse_columns(
    name: str, line: int, target: Field, spec: Any
) -> tuple[tuple[str, ...] | None, str | None]:
    """``columns``: a list of columns, or ``{matching: <regex>}`` (every column it matches)."""
    if spec is None:
        return None, None
    words = (
        f"field {target.name!r}: 'columns' takes a list of columns or {{matching: <regex>}} "
        "and fills a list field such as aliases or tags"
    )
    if target.type != "string[]":
        raise _fail(name, line, words)
    if isinstance(spec, list):
        return tuple(str(c) for c in spec), None
    if not isinstance(spec, dict) or set(spec) != {"matching"}:
        raise _fail(name, line, f"{words}; found {spec!r}")
    try:
        re.compile(str(spec["matching"]))
    except re.error as error:
        raise _fail(
            name, line, f"field {target.name!r}: 'columns' matching is no regex: {error}"
        ) from error
    return None, str(spec["matching"])


def _parse_items(name: str, line: int, node: yaml.Node, target: str) -> str:
    """``items: {separator: "/"}``: the separator between a header's key and its items' keys."""
    spec = _scalar(node)
    if not isinstance(spec, dict) or set(spec) != {"separator"}:
        raise _fail(
            name,
            line,
            "'items' takes {separator: <text>}: the rows are a header's, written to every "
            f"entity whose key is the header's key, the separator and more; found {spec!r}",
        )
    separator = spec["separator"]
    if not isinstance(separator, str) or not separator:
        raise _fail(name, line, f"'items' separator must be non-empty text, found {separator!r}")
    if target in ("datapoint", "edge"):
        raise _fail(name, line, f"'items' writes a header to entities' items, not to {target}s")
    return separator


def _parse_source(name: str, line: int, node: yaml.Node) -> SourceOptions:
    if not isinstance(node, yaml.MappingNode):
        raise _fail(name, line, "'source' must be a mapping of reading options")
    options: dict[str, Any] = {}
    allowed = set(SourceOptions.__dataclass_fields__)
    for key, (key_line, value_node) in _lines(node).items():
        if key not in allowed:
            raise _fail(
                name, key_line, f"unknown source option {key!r}{_suggest(key, sorted(allowed))}"
            )
        options[key] = _source_option(name, key_line, key, _scalar(value_node))
    if "thousands" in options and options["thousands"] == (options.get("decimal") or "."):
        raise _fail(
            name,
            line,
            f"'thousands' and 'decimal' are both {options['thousands']!r}; a number needs two "
            "different separators",
        )
    if "recursive" in options and options.get("format", "xml") != "xml":
        raise _fail(
            name,
            line,
            "'recursive' reads the records nested in records of an XML document; found format "
            f"{options['format']!r}",
        )
    if options.get("format") == "xml" and "records" in options:
        try:
            parse_record_path(options["records"], dict(options.get("namespaces", ())))
        except ValueError as error:
            raise _fail(name, line, f"'records': {error}") from error
    if "skip_rows" in options and isinstance(options["skip_rows"], tuple):
        header_row = options.get("header_row", 1)
        above = [r for r in options["skip_rows"] if r <= header_row]
        if above:
            raise _fail(
                name,
                line,
                f"'skip_rows' lists row {above[0]}, which is not below the header (row "
                f"{header_row}); rows above the header are never read",
            )
    return SourceOptions(**options)


def _source_option(name: str, line: int, key: str, value: Any) -> Any:
    """Check one source option; return it as :class:`SourceOptions` keeps it."""
    if key == "format" and value not in FORMATS:
        raise _fail(name, line, f"unknown format {value!r}; expected one of {', '.join(FORMATS)}")
    if key == "timezone":
        _check_timezone(name, line, value)
    if key == "encoding":
        _check_encoding(name, line, value)
    if key == "decimal" and value not in (".", ","):
        raise _fail(name, line, f"'decimal' must be '.' or ',', found {value!r}")
    if key == "thousands" and value not in _THOUSANDS:
        raise _fail(
            name,
            line,
            f"'thousands' must be one of {list(_THOUSANDS)} ('' for none), found {value!r}",
        )
    if key == "dst" and value not in DST_POLICIES:
        raise _fail(
            name,
            line,
            f"'dst' must be one of {list(DST_POLICIES)} (what a local time that does not exist "
            f"or occurs twice becomes), found {value!r}",
        )
    if key == "sheet" and not (
        (isinstance(value, str) and value) or (_whole(value) and value >= 1)
    ):
        raise _fail(
            name, line, f"'sheet' takes a sheet name or its position from 1, found {value!r}"
        )
    if key == "header_row" and not (_whole(value) and value >= 1):
        raise _fail(name, line, f"'header_row' takes a row number from 1, found {value!r}")
    if key == "skip_rows":
        if isinstance(value, list) and value and all(_whole(v) and v >= 1 for v in value):
            return tuple(sorted(set(value)))
        if not (_whole(value) and value >= 0):
            raise _fail(
                name,
                line,
                "'skip_rows' takes how many rows below the header are not records, or a list "
                f"of their row numbers; found {value!r}",
            )
    if key == "explode":
        return _explode_paths(name, line, value)
    if key == "namespaces":
        return _namespaces(name, line, value)
    if key == "recursive":
        return _recursive(name, line, value)
    if key in ("max_depth", "max_record_elements") and not (_whole(value) and value >= 1):
        raise _fail(name, line, f"'{key}' takes a whole number from 1, found {value!r}")
    if key in ("records", "table", "delimiter", "query") and not isinstance(value, str):
        raise _fail(name, line, f"'{key}' takes text, found {value!r}")
    if key == "delimiter" and len(value) != 1:
        raise _fail(name, line, f"'delimiter' takes one character, found {value!r}")
    return value


def _namespaces(name: str, line: int, value: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """XML namespaces as ``{prefix: uri}`` or ``{prefix: [uri, ...]}`` (versions of a schema)."""
    found = []
    if isinstance(value, dict):
        for prefix, uris in value.items():
            uris = [uris] if isinstance(uris, str) else uris
            if not isinstance(prefix, str) or not isinstance(uris, list):
                break
            if not uris or not all(isinstance(uri, str) and uri.strip() for uri in uris):
                break
            found.append((prefix, tuple(uris)))
        else:
            return tuple(found)
    raise _fail(
        name,
        line,
        "'namespaces' maps each prefix of 'records' to its namespace URI, or a list of URIs "
        f'(b2mml: "http://www.mesa.org/xml/B2MML"); found {value!r}',
    )


def _recursive(name: str, line: int, value: Any) -> Recursive:
    """XML: ``{name: <child or @attribute>, separator: <text>}``: records nest in records."""
    if isinstance(value, dict) and set(value) <= {"name", "separator"}:
        named, separator = value.get("name"), value.get("separator", "/")
        if isinstance(named, str) and named.strip() and isinstance(separator, str) and separator:
            return Recursive(named.strip(), separator)
    raise _fail(
        name,
        line,
        "'recursive' takes {name: <the child element or @attribute that names each record>, "
        "separator: <what joins the names of a '#path', default '/'>}, such as {name: Name, "
        f"separator: '\\'}} for an AF element path; found {value!r}",
    )


def _check_hierarchy(
    name: str, rules: dict[str, FieldRule], filters: tuple[RowFilter, ...], source: SourceOptions
) -> None:
    """The pseudo-fields of a recursive hierarchy (``#path``, ...) need ``recursive``."""
    if source.recursive is not None:
        return
    read = [
        (rule.line, f"field {field!r}", column)
        for field, rule in rules.items()
        for column in rule.source_columns
    ]
    read += [
        (f.line, f"filter {f.description!r}", c) for f in filters for c in f.expression.columns
    ]
    for line, reader, column in read:
        if column.split(".")[0] in (DEPTH_KEY, PATH_KEY, PARENT_KEY):
            raise _fail(
                name,
                line,
                f"{reader} reads {column!r}, a pseudo-field of a record in a recursive "
                "hierarchy; add 'source: {recursive: {name: <the child that names each record>}}'",
            )


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _explode_paths(name: str, line: int, value: Any) -> tuple[str, ...]:
    paths = [value] if isinstance(value, str) else value
    if (
        not isinstance(paths, list)
        or not paths
        or not all(isinstance(p, str) and p.strip(". ") for p in paths)
    ):
        raise _fail(
            name,
            line,
            "'explode' takes the dotted path of a list (items, order.lines) or a list of such "
            f"paths, each inside the one before; found {value!r}",
        )
    for outer, inner in zip(paths, paths[1:], strict=False):
        if not inner.startswith(outer + "."):
            raise _fail(
                name,
                line,
                f"'explode': {inner!r} must lie inside the items of {outer!r} (write it as "
                f"'{outer}.<key>')",
            )
    return tuple(paths)


def _check_encoding(name: str, line: int, value: Any) -> None:
    try:
        info = codecs.lookup(str(value))
    except LookupError:
        info = None
    # Codecs such as base64 or zlib turn bytes into bytes: they are no text encoding.
    if info is None or not getattr(info, "_is_text_encoding", True):
        raise _fail(
            name,
            line,
            f"unknown text encoding {value!r}; expected a codec name such as utf-8, cp1252, "
            "latin-1, utf-16, shift_jis or gb18030",
        )


_FILTER_OPERATORS = {
    "equals": "=",
    "not_equals": "<>",
    "above": ">",
    "at_least": ">=",
    "below": "<",
    "at_most": "<=",
    "in": "IN",
    "not_in": "NOT IN",
    "matches": "~",
    "not_matches": "!~",
}


def _parse_filters(name: str, line: int, node: yaml.Node) -> tuple[RowFilter, ...]:
    items: list[tuple[int, yaml.Node]]
    if isinstance(node, yaml.SequenceNode):
        items = [(item.start_mark.line + 1, item) for item in node.value]
    else:
        items = [(line, node)]
    filters = []
    for item_line, item in items:
        spec = _scalar(item)
        if isinstance(spec, str):
            text, description = spec, spec
        elif isinstance(spec, dict):
            text, description = _filter_expression(name, item_line, spec)
        else:
            raise _fail(
                name,
                item_line,
                'a filter is an expression ("MENGE > 0") or {column: ..., <test>: ...} '
                f"with a test of {sorted(_FILTER_OPERATORS)}; found {spec!r}",
            )
        try:
            expression = parse_expression(text)
        except ExpressionError as error:
            raise _fail(name, item_line, f"filter {description!r}: {error}") from error
        filters.append(RowFilter(item_line, description, expression))
    return tuple(filters)


def _filter_expression(name: str, line: int, spec: dict[str, Any]) -> tuple[str, str]:
    """The expression of a filter written as ``{column: c, <test>: value}``, and its wording."""
    tests = [k for k in spec if k != "column"]
    if (
        not isinstance(spec.get("column"), str)
        or len(tests) != 1
        or (tests[0] not in _FILTER_OPERATORS)
    ):
        raise _fail(
            name,
            line,
            f"a filter needs 'column' and one test of {sorted(_FILTER_OPERATORS)}; found "
            f"{sorted(spec)}",
        )
    column, test = spec["column"], tests[0]
    value = spec[test]
    ref = '"' + column.replace('"', '""') + '"'
    description = f"{column} {test.replace('_', ' ')} {value!r}"
    if test in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            raise _fail(name, line, f"filter '{test}' takes a list of values, found {value!r}")
        literals = ", ".join(_filter_literal(name, line, v) for v in value)
        condition = f"{ref} {_FILTER_OPERATORS[test]} ({literals})"
    elif test in ("matches", "not_matches"):
        if not isinstance(value, str):
            raise _fail(name, line, f"filter '{test}' takes a regular expression, found {value!r}")
        condition = f"regexp_matches({ref}, {_filter_literal(name, line, value)})"
        if test == "not_matches":
            condition = f"NOT {condition}"
    else:
        condition = f"{ref} {_FILTER_OPERATORS[test]} {_filter_literal(name, line, value)}"
    if test.startswith("not_"):
        # An empty value is not the one excluded: the row stays (SQL would drop it as unknown).
        condition = f"({ref} IS NULL OR {condition})"
    return condition, description


def _filter_literal(name: str, line: int, value: Any) -> str:
    if isinstance(value, bool) or value is None or isinstance(value, dict | list):
        raise _fail(name, line, f"a filter compares with text or a number, found {value!r}")
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _check_references(name: str, rules: dict[str, FieldRule]) -> None:
    """Fields that name other fields (``next``, ``per``) must name mapped ones."""
    for rule in rules.values():
        if rule.next_of is None:
            continue
        target = rules.get(rule.next_of)
        if target is None or target.field.type != "timestamp" or target.next_of is not None:
            raise _fail(
                name,
                rule.line,
                f"field {rule.field.name!r}: 'next' names {rule.next_of!r}, which is not a "
                f"mapped timestamp field of this mapping; mapped: {sorted(rules)}",
            )
        for subject in rule.per:
            if subject not in rules or rules[subject].next_of is not None:
                raise _fail(
                    name,
                    rule.line,
                    f"field {rule.field.name!r}: 'per' names {subject!r}, which is not a "
                    f"mapped field of this mapping; mapped: {sorted(rules)}",
                )


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
        "expr",
        "next",
        "per",
        "default",
        "unit",
        "unit_column",
        "to",
        "timezone",
        "dst",
        "format",
        "values",
        "unknown",
        "lookup",
        "overwrite",
    }
    for key in spec:
        if key not in allowed:
            raise _fail(
                name,
                spec_lines[key],
                f"field {target.name!r}: unknown option {key!r}{_suggest(key, sorted(allowed))}",
            )
    sources = [k for k in ("column", "template", "columns", "value", "expr", "next") if k in spec]
    if len(sources) != 1:
        raise _fail(
            name,
            line,
            f"field {target.name!r}: give exactly one of column, template, "
            f"columns, value, expr or next; found {sources or 'none'}",
        )
    columns, matching = _parse_columns(name, line, target, spec.get("columns"))
    expression = None
    if "expr" in spec:
        try:
            expression = parse_expression(spec["expr"])
        except ExpressionError as error:
            raise _fail(
                name, spec_lines["expr"], f"field {target.name!r}: expression {error}"
            ) from error
    next_of, per = _parse_next(name, line, target, spec)
    if "timezone" in spec:
        _check_timezone(name, spec_lines["timezone"], spec["timezone"])
    if "dst" in spec and spec["dst"] not in DST_POLICIES:
        raise _fail(
            name,
            spec_lines["dst"],
            f"field {target.name!r}: 'dst' must be one of {list(DST_POLICIES)}, found "
            f"{spec['dst']!r}",
        )
    if ("format" in spec or "timezone" in spec or "dst" in spec) and target.type != "timestamp":
        raise _fail(
            name,
            line,
            f"field {target.name!r} is {target.type}; 'format', 'timezone' and 'dst' apply to "
            "timestamps only",
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
    if values is not None and (not isinstance(values, dict) or not values):
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
    unknown = spec.get("unknown", "reject")
    if "unknown" in spec and (values is None or unknown not in ("reject", "keep")):
        raise _fail(
            name,
            spec_lines["unknown"],
            f"field {target.name!r}: 'unknown' goes with 'values' and is 'reject' (the "
            f"default) or 'keep' (an unknown code is stored as it is); found {unknown!r}",
        )
    if unknown == "keep" and "default" in spec:
        raise _fail(
            name,
            spec_lines["unknown"],
            f"field {target.name!r}: 'unknown: keep' and 'default' say two things about an "
            "unknown code; give one",
        )
    value = spec.get("value")
    if "value" in spec and target.values and value not in target.values:
        raise _fail(
            name, line, f"field {target.name!r}: {value!r} is not one of {list(target.values)}"
        )
    overwrite = spec.get("overwrite", "always")
    if overwrite not in OVERWRITE:
        raise _fail(
            name,
            spec_lines["overwrite"],
            f"field {target.name!r}: 'overwrite' must be one of {list(OVERWRITE)} (when the "
            f"value replaces the one the store holds), found {overwrite!r}",
        )
    lookup = _parse_lookup(name, spec_lines.get("lookup", line), target, spec.get("lookup"))
    if lookup is not None and ("value" in spec or "columns" in spec or "next" in spec):
        raise _fail(
            name,
            spec_lines["lookup"],
            f"field {target.name!r}: 'lookup' looks up the value of a column, template or expr",
        )
    return FieldRule(
        target,
        line,
        column=spec.get("column"),
        template=spec.get("template"),
        columns=columns,
        columns_matching=matching,
        value=value,
        default=spec.get("default"),
        unit=unit,
        unit_column=spec.get("unit_column"),
        to_unit=to_unit,
        timezone=spec.get("timezone"),
        format=spec.get("format"),
        values={str(k): v for k, v in values.items()} if values else None,
        unknown=unknown,
        expression=expression,
        lookup=lookup,
        next_of=next_of,
        per=per,
        dst=spec.get("dst"),
        overwrite=overwrite,
    )


def _parse_next(
    name: str, line: int, target: Field, spec: dict[str, Any]
) -> tuple[str | None, tuple[str, ...]]:
    if "per" in spec and "next" not in spec:
        raise _fail(name, line, f"field {target.name!r}: 'per' goes with 'next'")
    if "next" not in spec:
        return None, ()
    per = spec.get("per", [])
    per = [per] if isinstance(per, str) else per
    if target.type != "timestamp" or not isinstance(spec["next"], str):
        raise _fail(
            name,
            line,
            f"field {target.name!r}: 'next' names the timestamp field (start_time) whose value "
            "in the next row of the same subject ends this one; it fills timestamps only",
        )
    if not isinstance(per, list) or not all(isinstance(p, str) for p in per):
        raise _fail(name, line, f"field {target.name!r}: 'per' takes a field or a list of fields")
    return spec["next"], tuple(per)


def _parse_lookup(name: str, line: int, target: Field, spec: Any) -> Lookup | None:
    if spec is None:
        return None
    if isinstance(spec, str):
        spec = {"entity": spec}
    keys = {"entity", "match", "return", "space"}
    if not isinstance(spec, dict) or "entity" not in spec or set(spec) - keys:
        raise _fail(
            name,
            line,
            f"field {target.name!r}: 'lookup' takes {{entity: ..., match: <field>, return: "
            f"<field>, space: ...}}; found {spec!r}",
        )
    entity = str(spec["entity"])
    names = [e.name for e in ENTITY_TYPES]
    if entity not in names:
        raise _fail(
            name,
            line,
            f"field {target.name!r}: lookup in unknown entity {entity!r}{_suggest(entity, names)}",
        )
    kind = entity_type(entity)
    match, returns = str(spec.get("match", "external_id")), str(spec.get("return", "external_id"))
    for role, field_name in (("match", match), ("return", returns)):
        if field_name not in kind.field_names:
            raise _fail(
                name,
                line,
                f"field {target.name!r}: lookup {role} {field_name!r}: {entity} has no such "
                f"field{_suggest(field_name, list(kind.field_names))}",
            )
    if kind.field(match).type not in ("string", "text", "string[]"):
        raise _fail(
            name,
            line,
            f"field {target.name!r}: lookup match {match!r} is {kind.field(match).type}; "
            "lookups match text fields or lists of text (aliases)",
        )
    space = spec.get("space")
    return Lookup(entity, match, returns, None if space is None else str(space))


def _suggest(word: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(word, candidates, n=1)
    return f" (did you mean {close[0]!r}?)" if close else f"; expected one of {sorted(candidates)}"
