r"""Wide tables: one column per tag or per measurement, unpivoted by one mapping.

A historian export often has one column per tag (``Timestamp, L1_PRS01.VIB_RMS [mm/s],
L1_PRS01.TEMP [degC], ...``). The ``unpivot`` key of a datapoint mapping says which columns are
tags and how a column's name becomes its series::

    entity: datapoint
    space: historian
    unpivot:
      columns: '^(?P<asset>[A-Z0-9_]+)\.(?P<signal>[A-Z_]+) \[(?P<unit>[^\]]+)\]$'
      series: '{asset}.{signal}'
      rename: {'L1_PRESS1.VIB [mm/s]': L1_PRS01.VIB_RMS}
    fields:
      ts: Timestamp

``columns`` is a regular expression a tag column's whole name matches (or a list of names);
``series`` builds the series id from the expression's named groups (default: the column's name);
``rename`` sends a column's points to another series (a tag the historian renamed). The groups
``asset`` and ``unit`` also describe the series: a column's values are in its unit and are
converted to the series' unit, and a series that has no asset or unit yet gets them.

Any other entity unpivots the same way: each cell of a selected column becomes a row of its own,
whose fields read the cell and its column's name as pseudo-columns (a lab's inspection sheet,
one column per characteristic, becomes one quality result per measured cell)::

    entity: quality_result
    space: qms
    unpivot:
      columns: '^(?P<test>.+?) \[(?P<unit>[^\]]+)\]$'
    fields:
      external_id: "{Serial}/{@test}/{Date}"
      test_name: "@test"
      unit: "@unit"
      value: "@cell"
      serial_unit: Serial

``@cell`` is the cell, ``@column`` its column's name and ``@<group>`` each named group of the
pattern (empty where the group took no part in the match).

This module reads the key and matches it against a file's columns; :mod:`._compile` turns the
matched columns into SQL that DuckDB unpivots, and :mod:`._ingest` writes what the names say
about the series.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from factorybrain.connectors._units import UnitConversionError, affine
from factorybrain.exceptions import IngestError, MappingError

#: Fields of a datapoint that the unpivot fills (the mapping gives ``ts``).
UNPIVOTED_FIELDS = ("series", "value")
#: Named groups of the pattern that describe the series, besides building its id.
ASSET_GROUP, UNIT_GROUP = "asset", "unit"
#: What an entity's fields read of a cell: the cell itself, and its column's name. Each named
#: group of the pattern is ``@<group>``.
CELL_COLUMN, CELL_NAME_COLUMN = "@cell", "@column"
_PSEUDO = "@"
_TEMPLATE = re.compile(r"\{([^{}]+)\}")
_KEYS = ("columns", "series", "rename")
#: The options of an entity's unpivot (``series`` and ``rename`` name a datapoint's series).
_ENTITY_KEYS = ("columns",)


@dataclass(frozen=True)
class TagColumn:
    """One tag column of a file: the series it feeds and what its name says about it."""

    column: str
    series: str
    asset: str | None = None
    #: The unit the column's values are in (from the pattern's ``unit`` group).
    unit: str | None = None
    #: Whether ``rename`` sent the column to its series.
    renamed: bool = False
    #: ``series_value = factor * cell + offset``: from the column's unit to the series'.
    factor: float = 1.0
    offset: float = 0.0


@dataclass(frozen=True)
class SeriesFacts:
    """What a file's column names say about one series, to fill where the series has nothing."""

    asset: str | None
    unit: str | None
    source_unit: str | None


@dataclass(frozen=True)
class Unpivot:
    """Which columns of a wide table are tags, and how each becomes a series."""

    line: int
    #: A regular expression a tag column's name matches as a whole ...
    pattern: re.Pattern[str] | None = None
    #: ... or the tag columns' names.
    names: tuple[str, ...] = ()
    #: Template of the series id over the pattern's named groups (None: the column's name).
    series: str | None = None
    #: Column -> the series its points go to.
    rename: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @property
    def described(self) -> str:
        """How ``columns`` reads in messages."""
        if self.pattern is not None:
            return f"pattern {self.pattern.pattern!r}"
        return f"columns {list(self.names)}"

    def selects(self, column: str) -> bool:
        """Whether ``column`` is a tag column."""
        if column in self.rename or column in self.names:
            return True
        return self.pattern is not None and self.pattern.fullmatch(column) is not None

    @property
    def groups(self) -> tuple[str, ...]:
        """The pattern's named groups, in the order the pattern has them."""
        if self.pattern is None:
            return ()
        return tuple(sorted(self.pattern.groupindex, key=self.pattern.groupindex.__getitem__))

    @property
    def pseudo_columns(self) -> tuple[str, ...]:
        """What an entity's fields read of each cell: ``@column``, ``@cell``, ``@<group>``."""
        return (CELL_NAME_COLUMN, CELL_COLUMN, *(_PSEUDO + group for group in self.groups))

    def group_values(self, column: str) -> tuple[str | None, ...]:
        """The value of each named group (:attr:`groups`) in ``column``'s name, None if empty."""
        match = self.pattern.fullmatch(column) if self.pattern is not None else None
        if match is None:
            return tuple(None for _ in self.groups)
        return tuple(match.group(group) or None for group in self.groups)

    def tags(
        self,
        columns: Sequence[str],
        file_label: str,
        mapping_path: str,
        read: Collection[str] = (),
    ) -> list[TagColumn]:
        """The tag columns among a file's ``columns``, in file order.

        ``read`` are the columns the mapping's fields and filters read: a column read as a
        field is never a tag, whatever its name (a role may find a column the pattern matches).

        Raises:
            IngestError: If no column is a tag column, or a column ``columns`` lists is not in
                the file; the message names the file, the mapping and the file's columns.
        """
        where = f"'unpivot' of mapping {mapping_path} line {self.line}"
        missing = [name for name in self.names if name not in columns]
        if missing:
            raise IngestError(
                f"{file_label}: {where} lists column {missing[0]!r}, which the file does not "
                f"have; its columns are {list(columns)}"
            )
        found = [
            self._tag(column) for column in columns if self.selects(column) and column not in read
        ]
        if not found:
            raise IngestError(
                f"{file_label}: {where}: the {self.described} matches none of the file's "
                f"columns {list(columns)}"
            )
        return found

    def _tag(self, column: str) -> TagColumn:
        match = self.pattern.fullmatch(column) if self.pattern is not None else None
        groups = {k: v for k, v in match.groupdict().items() if v} if match else {}
        if column in self.rename:
            series = self.rename[column]
        elif self.series is not None and match is not None:
            series = _TEMPLATE.sub(lambda m: groups.get(m.group(1), ""), self.series)
        else:
            series = column
        return TagColumn(
            column,
            series,
            asset=groups.get(ASSET_GROUP),
            unit=groups.get(UNIT_GROUP, "").strip() or None,
            renamed=column in self.rename,
        )


def parse_unpivot(
    name: str,
    line: int,
    node: yaml.Node,
    target: str,
    fields: Mapping[str, tuple[int, tuple[str, ...]]],
) -> Unpivot:
    """Check the ``unpivot`` key of a mapping.

    Args:
        name: The mapping file, for messages.
        line: The line of the ``unpivot`` key.
        node: Its YAML node.
        target: The mapping's entity.
        fields: The mapped fields: name -> (line, the columns it reads).

    Raises:
        MappingError: Naming the file, the line and what is wrong.
    """
    keys = _KEYS if target == "datapoint" else _ENTITY_KEYS
    if not isinstance(node, yaml.MappingNode):
        raise _fail(name, line, f"'unpivot' takes {{{', '.join(keys)}}}")
    spec: dict[str, Any] = {}
    lines: dict[str, int] = {}
    for key_node, value_node in node.value:
        key, key_line = key_node.value, key_node.start_mark.line + 1
        if key in _KEYS and key not in keys:
            raise _fail(
                name,
                key_line,
                f"'unpivot' option {key!r} names the series of datapoints; the fields of "
                f"{target!r} read each cell as '{CELL_COLUMN}', its column's name as "
                f"'{CELL_NAME_COLUMN}' and each named group of the pattern as '@<group>'",
            )
        if key not in keys:
            raise _fail(name, key_line, f"unknown 'unpivot' option {key!r}; expected one of {keys}")
        spec[key] = yaml.safe_load(yaml.serialize(value_node))
        lines[key] = key_line
    if "columns" not in spec:
        raise _fail(
            name,
            line,
            "'unpivot' needs 'columns': a regular expression the tag columns' names match, or "
            "a list of their names",
        )
    pattern, names = _columns(name, lines["columns"], spec["columns"])
    if target != "datapoint":
        return _entity_unpivot(name, line, target, Unpivot(line, pattern, names), fields)
    series = spec.get("series")
    if series is not None:
        _check_series(name, lines["series"], series, pattern)
    rename = spec.get("rename", {})
    if not isinstance(rename, dict) or not all(
        isinstance(k, str) and k and isinstance(v, str) and v.strip() for k, v in rename.items()
    ):
        raise _fail(
            name,
            lines.get("rename", line),
            f"'rename' maps a column to the series its points go to, found {rename!r}",
        )
    unpivot = Unpivot(line, pattern, names, series, dict(rename))
    for field_name in UNPIVOTED_FIELDS:
        if field_name in fields:
            raise _fail(
                name,
                fields[field_name][0],
                f"field {field_name!r} comes from 'unpivot' (the tag columns); map 'ts' only",
            )
    for field_name, (field_line, columns) in fields.items():
        for column in columns:
            if unpivot.selects(column):
                raise _fail(
                    name,
                    field_line,
                    f"field {field_name!r} reads column {column!r}, which 'unpivot' also takes "
                    f"as a tag column ({unpivot.described}); a column is a tag or the "
                    f"{field_name}, not both",
                )
    return unpivot


def _entity_unpivot(
    name: str,
    line: int,
    target: str,
    unpivot: Unpivot,
    fields: Mapping[str, tuple[int, tuple[str, ...]]],
) -> Unpivot:
    """Check what an entity's fields read of its cells: ``@cell``, ``@column``, ``@<group>``.

    Raises:
        MappingError: If no field reads the cell, a field reads a pseudo-column the pattern
            does not give, or reads a column the unpivot also takes as a cell's.
    """
    taken = [g for g in unpivot.groups if _PSEUDO + g in (CELL_COLUMN, CELL_NAME_COLUMN, "@row")]
    if taken:
        raise _fail(
            name,
            line,
            f"the pattern's group {taken[0]!r} would be '@{taken[0]}', which is the "
            f"{'row' if taken[0] == 'row' else 'cell'}'s own; name the group otherwise",
        )
    known = unpivot.pseudo_columns
    reads_cell = False
    for field_name, (field_line, columns) in fields.items():
        for column in columns:
            if column == CELL_COLUMN:
                reads_cell = True
            elif column.startswith(_PSEUDO) and column not in known and column != "@row":
                groups = list(unpivot.groups)
                raise _fail(
                    name,
                    field_line,
                    f"field {field_name!r} reads {column!r}, which is nothing a cell has: a "
                    f"field reads '{CELL_COLUMN}' (the cell), '{CELL_NAME_COLUMN}' (its "
                    f"column's name) or '@<group>' for a named group of the pattern (its named "
                    f"groups are {groups})",
                )
            elif unpivot.selects(column):
                raise _fail(
                    name,
                    field_line,
                    f"field {field_name!r} reads column {column!r}, which 'unpivot' also takes "
                    f"as a column of cells ({unpivot.described}); a column is cells or the "
                    f"{field_name}, not both",
                )
    if not reads_cell:
        raise _fail(
            name,
            line,
            f"'unpivot' makes one {target} of each cell of the columns it takes; map the field "
            f"the cell fills to '{CELL_COLUMN}' (value: '{CELL_COLUMN}')",
        )
    return unpivot


def reads_pseudo_column(columns: Collection[str]) -> str | None:
    """The first of ``columns`` that is a cell's pseudo-column (``@cell``, ``@column``)."""
    return next((c for c in columns if c in (CELL_COLUMN, CELL_NAME_COLUMN)), None)


def _columns(name: str, line: int, value: Any) -> tuple[re.Pattern[str] | None, tuple[str, ...]]:
    if isinstance(value, str) and value:
        try:
            return re.compile(value), ()
        except re.error as error:
            raise _fail(
                name, line, f"'columns' is no valid regular expression ({error}), found {value!r}"
            ) from error
    if (
        isinstance(value, list)
        and value
        and all(isinstance(v, str) and v for v in value)
        and len(set(value)) == len(value)
    ):
        return None, tuple(value)
    raise _fail(
        name,
        line,
        "'columns' takes a regular expression the tag columns' names match, or a list of "
        f"different column names; found {value!r}",
    )


def _check_series(name: str, line: int, series: Any, pattern: re.Pattern[str] | None) -> None:
    if not isinstance(series, str):
        raise _fail(
            name,
            line,
            f"'series' takes a template such as '{{asset}}.{{signal}}', found {series!r}",
        )
    used = _TEMPLATE.findall(series)
    if pattern is None:
        raise _fail(
            name,
            line,
            "'series' builds the series id from the named groups of a regular expression, but "
            "'columns' is a list of names (each column is its own series; 'rename' sends one to "
            "another)",
        )
    groups = sorted(pattern.groupindex)
    if not used:
        raise _fail(
            name,
            line,
            f"'series' {series!r} names no group, so every column would be one series; name "
            f"groups of the pattern in braces, such as '{{{groups[0] if groups else 'tag'}}}'",
        )
    unknown = [group for group in used if group not in pattern.groupindex]
    if unknown:
        raise _fail(
            name,
            line,
            f"'series' names group {unknown[0]!r}, which the pattern does not have; its named "
            f"groups are {groups} (write one as (?P<{unknown[0]}>...))",
        )


def plan_units(
    tags: Sequence[TagColumn],
    stored: Mapping[str, tuple[str | None, str | None]],
    file_label: str,
) -> tuple[list[TagColumn], dict[str, SeriesFacts]]:
    """Convert each column to its series' unit; say what the names tell about each series.

    A series' unit is the one it has (``unit``, else the ``source_unit`` its points are kept
    in), else the unit of the first column that names one. A column without a unit of its own
    is converted from the series' source unit, as a long table's values are.

    Args:
        tags: The file's tag columns.
        stored: Series id -> (unit, source_unit) of the series that exist.
        file_label: The file, for messages.

    Raises:
        IngestError: If a column's unit cannot be converted to its series' unit.
    """
    facts: dict[str, SeriesFacts] = {}
    # Columns the pattern sends to a series describe it before columns that were renamed to it.
    for tag in sorted(tags, key=lambda t: t.renamed):
        known = facts.get(tag.series)
        unit, source_unit = stored.get(tag.series, (None, None))
        facts[tag.series] = SeriesFacts(
            asset=known.asset if known and known.asset else tag.asset,
            unit=(known.unit if known else None) or unit or source_unit or tag.unit,
            source_unit=(known.source_unit if known else None) or tag.unit,
        )
    planned = []
    for tag in tags:
        unit, source_unit = stored.get(tag.series, (None, None))
        target = facts[tag.series].unit
        origin = tag.unit or (source_unit if unit else None)
        if not origin or not target or origin == target:
            planned.append(tag)
            continue
        try:
            factor, offset = affine(origin, target)
        except UnitConversionError as error:
            raise IngestError(
                f"{file_label}: column {tag.column!r} holds {origin}, which cannot be converted "
                f"to {target}, the unit of series {tag.series!r}: {error}"
            ) from error
        planned.append(dataclasses.replace(tag, factor=factor, offset=offset))
    return planned, facts


def _fail(name: str, line: int, message: str) -> MappingError:
    return MappingError(f"{name} line {line}: {message}")
