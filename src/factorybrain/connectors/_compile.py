"""Compile a mapping into one SQL projection over the source rows.

Each field becomes its source value (the text a message shows as "found"), its value, and an
error message that is NULL when the value is fine. The first error of a row becomes its
quarantine reason, naming the field, where it came from, what was expected and what was found.
Row filters and ``skip_rows_without`` become the reason a row is not this entity's. Everything
runs vectorised inside DuckDB, in layers a row passes through once:

``__kept`` (which rows are this entity's) -> ``__sourced`` (each field's source value) ->
``__valued`` (each field's value) -> ``__checked`` (each field's error) -> ``__ordered`` (values
taken from the next row of the same subject) -> the projection the ingest reads.

A wide table (``unpivot``) of datapoints passes these layers once per line, for its timestamp and
filters; then its tag columns are unpivoted, each cell becoming a row of its own (see
:func:`_unpivot_select`). A wide table of entities is unpivoted first (:func:`cells_relation`):
each cell is a row with the line's other columns and the pseudo-columns its fields read
(``@cell``, ``@column``, ``@<group>``), which then passes the layers as any row does.

Columns read by role (``roles``) are found in the file first (:func:`resolve_roles`).
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import duckdb

from factorybrain.connectors._expressions import NUMBER, TEXT, render
from factorybrain.connectors._mapping import ROW_COLUMN, FieldRule, Mapping
from factorybrain.connectors._readers import CELL_SKIP, INTERNAL_COLUMNS, ITEM, ORDINAL, ROW
from factorybrain.connectors._units import UnitConversionError, affine
from factorybrain.connectors._unpivot import CELL_COLUMN, CELL_NAME_COLUMN, TagColumn, Unpivot
from factorybrain.exceptions import IngestError
from factorybrain.model import SITE_SEPARATOR
from factorybrain.store._schema import quote

#: Timestamps outside this range are rejected as impossible.
EARLIEST, LATEST = "1900-01-01", "2100-01-01"
_NUMERIC = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "FLOAT",
    "DOUBLE",
    "DECIMAL",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
)
_OFFSET = r"(Z|z|[+-]\d\d(:?\d\d)?)$"
#: The empty column an optional role that a file lacks reads (``__absent_<role>``).
ABSENT_ROLE = "__absent_"


def literal(value: object) -> str:
    """Render a Python constant as an SQL literal."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


@dataclass(frozen=True)
class Compiled:
    """The SQL of a mapping over one source, and the fields it produces."""

    sql: str
    fields: tuple[str, ...]


def _kind(sql_type: str) -> str:
    upper = sql_type.upper()
    if upper.startswith(_NUMERIC):
        return "number"
    if upper.startswith("TIMESTAMP WITH TIME ZONE") or upper == "TIMESTAMPTZ":
        return "timestamptz"
    if upper.startswith("TIMESTAMP") or upper == "DATE":
        return "timestamp"
    if upper == "BOOLEAN":
        return "bool"
    return "text"


def _found(value: str) -> str:
    """SQL of ``found '<value>'`` for a message (the value cut at 80 characters)."""
    return f"'found ''' || left(({value})::VARCHAR, 80) || ''''"


# -- numbers written in a locale -----------------------------------------------------------------
def number_sql(text: str, decimal: str, thousands: str) -> str:
    """SQL turning the text ``text`` into a DOUBLE, NULL where it is not a number.

    With ``decimal: ","`` a decimal point is accepted only as the thousands separator between
    groups of three digits (``1.234,5``): ``1,234.567`` is no number there, never 1.234567. A
    trailing minus (``12,50-``, as SAP writes negative amounts) is a minus.
    """
    signed = (
        f"(CASE WHEN ends_with({text}, '-') AND length({text}) > 1 "
        f"THEN '-' || left({text}, -1) ELSE {text} END)"
    )
    if decimal == "." and not thousands:
        return f"TRY_CAST({signed} AS DOUBLE)"
    escaped_decimal = "\\" + decimal
    if thousands:
        escaped_thousands = "\\" + thousands if thousands in ".," else thousands
        whole = rf"(\d{{1,3}}({escaped_thousands}\d{{3}})+|\d+)"
    else:
        whole = r"\d+"
    pattern = rf"^[+-]?({whole}({escaped_decimal}\d*)?|{escaped_decimal}\d+)([eE][+-]?\d+)?$"
    plain = signed
    if thousands:
        plain = f"replace({plain}, {literal(thousands)}, '')"
    if decimal != ".":
        plain = f"replace({plain}, {literal(decimal)}, '.')"
    return (
        f"(CASE WHEN regexp_full_match({signed}, {literal(pattern)}) "
        f"THEN TRY_CAST({plain} AS DOUBLE) END)"
    )


def _number_words(decimal: str, thousands: str) -> str:
    if decimal == "." and not thousands:
        return "a finite number"
    between = f", {thousands!r} between thousands" if thousands else ""
    return f"a finite number written with {decimal!r} as decimal separator{between}"


# -- local times ---------------------------------------------------------------------------------
_DAY_ZERO = date(1900, 1, 1)
_DAYS = (date(2100, 1, 2) - _DAY_ZERO).days


@functools.lru_cache(maxsize=64)
def _transition_days(zone: str) -> str:
    """A bit string, one bit per day from 1900 to 2100: days near a change of ``zone``'s offset.

    Only local times on those days can fail to exist or occur twice, so only they pay for the
    exact check (DuckDB's time zone conversions cost about a microsecond each).
    """
    tz = ZoneInfo(zone)
    bits = bytearray(b"0" * _DAYS)
    noon = datetime(1900, 1, 1, 12, tzinfo=UTC)
    previous = noon.astimezone(tz).utcoffset()
    for day in range(1, _DAYS):
        offset = (noon + timedelta(days=day)).astimezone(tz).utcoffset()
        if offset != previous:
            # The change lies between two noons (UTC); its wall times fall within two days.
            for near in range(day - 2, day + 2):
                if 0 <= near < _DAYS:
                    bits[near] = ord("1")
        previous = offset
    return bits.decode()


def local_to_utc(naive: str, zone: str, policy: str) -> tuple[str, str]:
    """SQL of the UTC time of the local time ``naive`` in ``zone``, and of its DST status.

    The status is ``'gap'`` for a wall time the clocks skipped, ``'overlap'`` for one they
    showed twice, else NULL. ``policy`` says what such a time becomes: ``reject`` (NULL, and the
    status names it), ``earlier`` or ``later`` (the earlier or later of the two instants the
    offsets before and after the change give it).
    """
    z = literal(zone)

    def wall(utc: str) -> str:
        return f"timezone({z}, timezone('UTC', {utc}))"

    picked = f"timezone('UTC', timezone({z}, {naive}))"
    before = f"({wall(f'{picked} - INTERVAL 6 HOUR')} - ({picked} - INTERVAL 6 HOUR))"
    after = f"({wall(f'{picked} + INTERVAL 6 HOUR')} - ({picked} + INTERVAL 6 HOUR))"
    first, second = f"({naive} - {before})", f"({naive} - {after})"
    first_ok, second_ok = f"({wall(first)} = {naive})", f"({wall(second)} = {naive})"
    status = (
        f"CASE WHEN {before} = {after} THEN NULL "
        f"WHEN {first_ok} AND {second_ok} AND {first} <> {second} THEN 'overlap' "
        f"WHEN NOT {first_ok} AND NOT {second_ok} THEN 'gap' END"
    )
    if policy == "reject":
        unclear = "NULL"
    else:
        unclear = f"{'least' if policy == 'earlier' else 'greatest'}({first}, {second})"
    exact = (
        f"CASE WHEN {before} = {after} THEN {picked} "
        f"WHEN {first_ok} AND {second_ok} AND {first} <> {second} THEN {unclear} "
        f"WHEN {first_ok} THEN {first} WHEN {second_ok} THEN {second} ELSE {unclear} END"
    )
    day = f"(epoch({naive})::BIGINT + {(date(1970, 1, 1) - _DAY_ZERO).days * 86400}) // 86400"
    near = (
        f"(({day}) BETWEEN 0 AND {_DAYS - 1} AND "
        f"get_bit({literal(_transition_days(zone))}::BIT, ({day})::INTEGER) = 1)"
    )
    return f"(CASE WHEN {near} THEN {exact} ELSE {picked} END)", (
        f"(CASE WHEN {near} THEN {status} END)"
    )


# -- one field -----------------------------------------------------------------------------------
@dataclass
class _Field:
    """The SQL pieces of one field, in terms of the columns of the layers before."""

    name: str
    rule: FieldRule
    origin: str
    #: The value as the source has it, before code tables and lookups (what "found" shows).
    source: str = "NULL"
    #: The value the parse reads (after code table, lookup, default).
    raw: str = "NULL"
    source_kind: str = "text"
    parsed: str = "NULL"
    #: The DST status of a local time, or None where there is none.
    dst: str | None = None
    problems: list[tuple[str, str]] | None = None
    numeric_columns: tuple[str, ...] = ()
    #: SQL of the lookup's {value, count}, where the field has one.
    lookup: str | None = None

    @property
    def where(self) -> str:
        return f"field {self.name!r} ({self.origin})"


class _FieldCompiler:
    def __init__(
        self,
        mapping: Mapping,
        types: dict[str, str],
        con: duckdb.DuckDBPyConnection,
        source: str,
        resolve: dict[str, str],
    ) -> None:
        self.mapping = mapping
        self.types = types
        self.con = con
        self.source = source
        self.resolve = resolve
        self.lookups = 0
        options = mapping.source
        self.decimal = options.decimal or "."
        self.thousands = options.thousands_separator

    def matching(self, rule: FieldRule) -> tuple[str, ...]:
        """The file's columns whose whole name ``rule.columns_matching`` matches, in file order.

        Raises:
            IngestError: No column matches (names the pattern and the file's columns).
        """
        pattern = re.compile(str(rule.columns_matching))
        available = [c for c in self.types if c not in INTERNAL_COLUMNS]
        found = tuple(c for c in available if pattern.fullmatch(c))
        if not found:
            raise IngestError(
                f"{self.mapping.path} line {rule.line}: field {rule.field.name!r}: no column of "
                f"the file matches {rule.columns_matching!r}; its columns are {available}"
            )
        return found

    def ref(self, column: str) -> str:
        return quote(self.resolve.get(column, column))

    def text(self, column: str) -> str:
        """The column as trimmed text, NULL when empty (``@row``: the row's own number)."""
        if column == ROW_COLUMN and column not in self.types:
            if ITEM in self.types:
                return (
                    f"(CASE WHEN coalesce({ITEM}, '') = '' THEN {ROW}::VARCHAR "
                    f"ELSE {ROW}::VARCHAR || '.' || {ITEM} END)"
                )
            return f"{ROW}::VARCHAR"
        name = self.resolve.get(column, column)
        if _kind(self.types[name]) == "text":
            return f"NULLIF(trim({quote(name)}::VARCHAR), '')"
        return f"{quote(name)}::VARCHAR"

    def number(self, column: str) -> str:
        """The column as a DOUBLE (text parsed with the mapping's decimal separator)."""
        name = self.resolve.get(column, column)
        if name in self.types and _kind(self.types[name]) == "number":
            return f"{quote(name)}::DOUBLE"
        return number_sql(self.text(column), self.decimal, self.thousands)

    def source_value(self, rule: FieldRule) -> tuple[str, str, str, tuple[str, ...]]:
        """SQL of the source value, how it reads in messages, its kind, numeric columns."""
        if rule.value is not None:
            return literal(rule.value), f"constant {rule.value!r}", "text", ()
        if rule.expression is not None:
            want = NUMBER if rule.field.type in ("float", "int") else TEXT
            rendered = render(
                rule.expression,
                want,
                lambda name, kind: self.number(name) if kind == NUMBER else self.text(name),
            )
            kind = (
                rendered.kind
                if rendered.kind in ("number", "timestamp", "timestamptz")
                else ("bool" if rendered.kind == "bool" else "text")
            )
            sql = rendered.sql if kind != "text" else f"NULLIF(({rendered.sql})::VARCHAR, '')"
            return sql, f"expr {rule.expression.text!r}", kind, tuple(rendered.numeric_columns)
        if rule.template is not None:
            import re

            parts = []
            position = 0
            for match in re.finditer(r"\{([^{}]+)\}", rule.template):
                if match.start() > position:
                    parts.append(literal(rule.template[position : match.start()]))
                parts.append(self.text(match.group(1)))
                position = match.end()
            if position < len(rule.template):
                parts.append(literal(rule.template[position:]))
            return "(" + " || ".join(parts) + ")", f"template {rule.template!r}", "text", ()
        if rule.columns is not None:
            items = ", ".join(self.text(c) for c in rule.columns)
            return (
                f"list_filter([{items}], lambda x: x IS NOT NULL)",
                f"columns {list(rule.columns)}",
                "text",
                (),
            )
        assert rule.column is not None
        if rule.column == ROW_COLUMN:
            return self.text(rule.column), "the row's number", "text", ()
        actual = self.resolve.get(rule.column, rule.column)
        kind = _kind(self.types[actual])
        value = self.text(rule.column) if kind == "text" else self.ref(rule.column)
        origin = actual if not actual.startswith(ABSENT_ROLE) else rule.column
        return value, f"column {origin!r}", kind, ()

    def compile(self, name: str, rule: FieldRule, index: int) -> _Field:
        """The SQL pieces of one field (not of ``next`` fields: see :func:`compile_mapping`).

        ``index`` names the field's columns in the layers: ``__s<index>`` (its source value),
        ``__l<index>`` (its lookup), ``__r<index>`` (what is parsed), ``__v<index>`` (its value),
        ``__d<index>`` (the DST status of a local time).
        """
        s, r, v, d = (f"__{letter}{index}" for letter in "srvd")
        if rule.columns_matching is not None:
            rule = replace(rule, columns=self.matching(rule))
        source, origin, kind, numeric = self.source_value(rule)
        piece = _Field(name, rule, origin, source_kind=kind, numeric_columns=numeric)
        piece.source = source
        problems: list[tuple[str, str]] = []
        found = _found(s)
        raw = s
        if rule.values is not None:
            codes = ", ".join(literal(k) for k in rule.values)
            cases = " ".join(f"WHEN {literal(k)} THEN {literal(v)}" for k, v in rule.values.items())
            if rule.unknown == "keep":
                otherwise = f"({s})::VARCHAR"
            elif rule.default is not None:
                otherwise = literal(rule.default)
            else:
                otherwise = "NULL"
                problems.append(
                    (
                        f"{s} IS NOT NULL AND ({s})::VARCHAR NOT IN ({codes})",
                        literal(
                            f"{piece.where}: expected one of the codes {list(rule.values)} "
                            "(declare 'default' for the others), "
                        )
                        + f" || {found}",
                    )
                )
            raw = f"(CASE ({s})::VARCHAR {cases} ELSE {otherwise} END)"
            kind = "text"
        if rule.lookup is not None:
            table = self._lookup_table(rule)
            key = f"({raw})::VARCHAR"
            found_key = _found(key)
            hit = f"__l{index}"
            piece.lookup = f"(SELECT {{'value': v, 'count': n}} FROM {table} WHERE k = {key})"
            described = f"{rule.lookup.entity} with {rule.lookup.match}"
            problems.append(
                (
                    f"{key} IS NOT NULL AND {hit} IS NULL",
                    literal(f"{piece.where}: no {described} equal to it, ") + f" || {found_key}",
                )
            )
            problems.append(
                (
                    f"{hit}.count > 1",
                    literal(
                        f"{piece.where}: several {rule.lookup.entity} have it as "
                        f"{rule.lookup.match}, "
                    )
                    + f" || {found_key} || ' (' || {hit}.count || "
                    + literal(f" different {rule.lookup.returns} values)"),
                )
            )
            raw = f"{hit}.value"
            kind = "text"
        if rule.default is not None and not (rule.values is not None and rule.unknown == "reject"):
            raw = f"coalesce({raw}, {literal(rule.default)})"
        elif rule.default is not None:
            raw = f"coalesce({raw}, CASE WHEN {s} IS NULL THEN {literal(rule.default)} END)"
        piece.raw = raw
        piece.source_kind = kind
        parsed, expected, dst = self._parse(rule, r, kind)
        piece.parsed, piece.dst = parsed, dst
        for column in numeric:
            text = self.text(column)
            problems.append(
                (
                    f"{text} IS NOT NULL AND {self.number(column)} IS NULL",
                    literal(
                        f"{piece.where}: column {column!r} is used as a number, expected "
                        f"{_number_words(self.decimal, self.thousands)}, "
                    )
                    + f" || {_found(text)}",
                )
            )
        field = rule.field
        if field.required:
            problems.append(
                (f"{r} IS NULL", literal(f"{piece.where}: required, found an empty value"))
            )
        if dst is not None:
            zone = self.zone(rule)
            problems.append(
                (
                    f"{d} = 'gap'",
                    literal(
                        f"{piece.where}: a local time that does not exist in {zone} (the "
                        "clocks moved forward over it; 'dst: earlier' or 'dst: later' in the "
                        "mapping reads it), "
                    )
                    + f" || {found}",
                )
            )
            problems.append(
                (
                    f"{d} = 'overlap'",
                    literal(
                        f"{piece.where}: a local time that occurs twice in {zone} (the clocks "
                        "moved back over it; 'dst: earlier' or 'dst: later' in the mapping "
                        "says which), "
                    )
                    + f" || {found}",
                )
            )
        problems.append(
            (
                f"{r} IS NOT NULL AND {v} IS NULL",
                literal(f"{piece.where}: expected {expected}, ") + f" || {found}",
            )
        )
        if field.type == "timestamp":
            problems.append(
                (
                    f"{v} NOT BETWEEN TIMESTAMP '{EARLIEST}' AND TIMESTAMP '{LATEST}'",
                    literal(
                        f"{piece.where}: expected a timestamp between {EARLIEST} and {LATEST}, "
                    )
                    + f" || {found}",
                )
            )
        if field.values and rule.value is None:
            allowed = ", ".join(literal(v) for v in field.values)
            problems.append(
                (
                    f"{v} NOT IN ({allowed})",
                    literal(f"{piece.where}: expected one of {list(field.values)}, ")
                    + f" || {found}",
                )
            )
        piece.problems = problems
        return piece

    def _lookup_table(self, rule: FieldRule) -> str:
        """A temporary table of the lookup: key, the value it gives, how many values it has."""
        lookup = rule.lookup
        assert lookup is not None
        self.lookups += 1
        table = f"_lookup_{self.source}_{self.lookups}"
        match = quote(lookup.match)
        key = f"unnest({match})" if lookup.match in ("aliases", "tags") else match
        where = ""
        if lookup.space:
            where = f"WHERE space = {literal(lookup.space)}"
        elif lookup.site:
            # The spaces of one site: its name, a '/', and a system's name without one.
            inside = literal(lookup.site + SITE_SEPARATOR)
            where = (
                f"WHERE starts_with(space, {inside}) "
                f"AND strpos(substr(space, {len(lookup.site) + 2}), {literal(SITE_SEPARATOR)}) = 0"
            )
        try:
            self.con.execute(
                f"""
                CREATE OR REPLACE TEMP TABLE {table} AS
                SELECT k, CASE WHEN count(DISTINCT v) = 1 THEN min(v) END AS v,
                       count(DISTINCT v) AS n
                FROM (SELECT {key}::VARCHAR AS k, {quote(lookup.returns)}::VARCHAR AS v
                      FROM {quote(lookup.entity)} {where})
                WHERE k IS NOT NULL GROUP BY k
                """
            ).fetchall()
        except duckdb.Error as error:
            raise IngestError(
                f"{self.mapping.path} line {rule.line}: field {rule.field.name!r}: cannot look "
                f"up {lookup.entity}: {str(error).splitlines()[0]}"
            ) from error
        return table

    def zone(self, rule: FieldRule) -> str:
        return rule.timezone or self.mapping.source.timezone or "UTC"

    def _parse(self, rule: FieldRule, raw: str, source_kind: str) -> tuple[str, str, str | None]:
        """(value SQL, what was expected, DST status SQL or None) of one field."""
        field = rule.field
        if field.type in ("string", "text"):
            return f"({raw})::VARCHAR", "text", None
        if field.type == "string[]":
            if rule.columns is not None or source_kind != "text":
                return f"({raw})::VARCHAR[]", "a list", None
            return (
                f"list_filter(list_transform(regexp_split_to_array(({raw})::VARCHAR, '[;|]'), "
                "lambda x: trim(x)), lambda x: x <> '')",
                "a list separated by ';' or '|'",
                None,
            )
        if field.type == "int":
            if source_kind == "number":
                return f"TRY_CAST({raw} AS BIGINT)", "a whole number", None
            if self.decimal == "." and not self.thousands:
                return f"TRY_CAST(({raw})::VARCHAR AS BIGINT)", "a whole number", None
            number = number_sql(f"({raw})::VARCHAR", self.decimal, self.thousands)
            return (
                f"(CASE WHEN {number} = round({number}) THEN TRY_CAST({number} AS BIGINT) END)",
                "a whole number",
                None,
            )
        if field.type == "float":
            value, expected = self._number(rule, raw, source_kind)
            return value, expected, None
        if field.type == "bool":
            if source_kind == "bool":
                return raw, "true or false", None
            text = f"lower(({raw})::VARCHAR)"
            return (
                f"CASE WHEN {text} IN ('true', 't', 'yes', 'y', '1') THEN TRUE "
                f"WHEN {text} IN ('false', 'f', 'no', 'n', '0') THEN FALSE END",
                "true or false (true/false, yes/no, 1/0)",
                None,
            )
        if field.type == "json":
            if source_kind == "text":
                return (
                    f"CASE WHEN json_valid(({raw})::VARCHAR) THEN ({raw})::JSON END",
                    "valid JSON",
                    None,
                )
            return f"to_json({raw})", "valid JSON", None
        if field.type == "timestamp":
            return self._timestamp(rule, raw, source_kind)
        raise IngestError(f"{self.mapping.path}: unsupported field type {field.type!r}")

    def _number(self, rule: FieldRule, raw: str, source_kind: str) -> tuple[str, str]:
        if source_kind == "number":
            number = f"({raw})::DOUBLE"
        else:
            number = number_sql(f"({raw})::VARCHAR", self.decimal, self.thousands)
        # NaN and infinity are not measurements: reject them like text.
        number = f"CASE WHEN isfinite({number}) THEN {number} END"
        expected = _number_words(self.decimal, self.thousands)
        if rule.unit and rule.to_unit and rule.unit != rule.to_unit:
            factor, offset = affine(rule.unit, rule.to_unit)
            number = f"({number} * {factor!r} + {offset!r})"
            expected += f" in {rule.unit}"
        elif rule.unit_column and rule.to_unit:
            number = self._unit_column(rule, number)
            expected += f" with a unit convertible to {rule.to_unit} in column {rule.unit_column!r}"
        return number, expected

    def _unit_column(self, rule: FieldRule, number: str) -> str:
        assert rule.unit_column is not None and rule.to_unit is not None
        units = [
            row[0]
            for row in self.con.execute(
                f"SELECT DISTINCT {self.text(rule.unit_column)} FROM {self.source} "
                "WHERE 1 = 1 LIMIT 1000"
            ).fetchall()
            if row[0] is not None
        ]
        cases = []
        for unit in units:
            try:
                factor, offset = affine(unit, rule.to_unit)
            except UnitConversionError:
                continue  # rows in that unit get no value, and so an error naming the unit
            cases.append(f"WHEN {literal(unit)} THEN {number} * {factor!r} + {offset!r}")
        unit = self.text(rule.unit_column)
        if not cases:
            return "NULL::DOUBLE"
        return f"(CASE {unit} " + " ".join(cases) + " END)"

    def _timestamp(
        self, rule: FieldRule, raw: str, source_kind: str
    ) -> tuple[str, str, str | None]:
        zone = self.zone(rule)
        policy = rule.dst or self.mapping.source.dst
        statuses: list[str] = []

        def local(naive: str) -> str:
            if zone == "UTC":
                return naive
            value, status = local_to_utc(naive, zone, policy)
            if policy == "reject":  # else the policy resolved it: nothing to report
                statuses.append(status)
            return value

        if source_kind == "timestamptz":
            return f"timezone('UTC', {raw})", "a timestamp", None
        if source_kind == "timestamp":
            value = local(f"({raw})::TIMESTAMP")
            return value, "a timestamp", statuses[0] if statuses else None
        if rule.format in ("epoch_s", "epoch_ms"):
            scale = 1.0 if rule.format == "epoch_s" else 1000.0
            return (
                f"timezone('UTC', to_timestamp(TRY_CAST(({raw})::VARCHAR AS DOUBLE) / {scale}))",
                f"seconds since 1970 ({rule.format})",
                None,
            )
        text = f"({raw})::VARCHAR"
        if zone == "UTC" and not rule.format:
            # Naive text is read as UTC and text with an offset is converted: one cast does both.
            return (
                f"timezone('UTC', TRY_CAST({text} AS TIMESTAMPTZ))",
                "an ISO 8601 timestamp",
                None,
            )
        if rule.format:
            value = local(f"TRY_STRPTIME({text}, {literal(rule.format)})")
            return (
                value,
                f"a timestamp in format {rule.format!r}",
                statuses[0] if statuses else None,
            )
        naive_value = local(f"TRY_CAST({text} AS TIMESTAMP)")
        status = (
            f"(CASE WHEN NOT regexp_matches({text}, {literal(_OFFSET)}) THEN {statuses[0]} END)"
            if statuses
            else None
        )
        return (
            f"CASE WHEN regexp_matches({text}, {literal(_OFFSET)}) "
            f"THEN timezone('UTC', TRY_CAST({text} AS TIMESTAMPTZ)) "
            f"ELSE {naive_value} END",
            "an ISO 8601 timestamp",
            status,
        )


def resolve_roles(
    mapping: Mapping,
    relation: duckdb.DuckDBPyRelation,
    file_label: str,
) -> tuple[duckdb.DuckDBPyRelation, dict[str, str]]:
    """Find the column each role the mapping reads is in this file (``roles``).

    A role is the first of its names the file has; where it has several, the first of them
    that holds a value in some row (an XML document has a column for each name, empty where
    its records lack the element). An optional role the file lacks reads an empty column.

    Returns:
        The relation (with an empty column per optional role it lacks) and role -> column.

    Raises:
        IngestError: If the file has none of the names of a role that is not optional (names
            the role, its names, the mapping's line and the file's columns).
    """
    columns = [c for c in relation.columns if c not in INTERNAL_COLUMNS]
    read = set(mapping.columns_read)
    found: dict[str, str] = {}
    absent: list[str] = []
    for role in mapping.roles.values():
        if role.name not in read:
            continue
        candidates = role.candidates(columns)
        if not candidates and role.optional:
            found[role.name] = ABSENT_ROLE + role.name
            absent.append(f"NULL::VARCHAR AS {quote(ABSENT_ROLE + role.name)}")
        elif not candidates:
            raise IngestError(
                f"{file_label}: mapping {mapping.path} line {role.line} reads {role.name!r}, a "
                f"column called one of {list(role.names)}, which the file does not have; its "
                f"columns are {columns}"
            )
        elif len(candidates) == 1:
            found[role.name] = candidates[0]
        else:
            counts = relation.select(
                ", ".join(f"count(NULLIF(trim({quote(c)}::VARCHAR), ''))" for c in candidates)
            ).fetchall()[0]
            held = [c for c, n in zip(candidates, counts, strict=True) if n]
            found[role.name] = (held or candidates)[0]
    if absent:
        relation = relation.select(", ".join(["*", *absent]))
    return relation, found


def _resolve_columns(
    mapping: Mapping, columns: list[str], roles: dict[str, str] | None = None
) -> dict[str, str]:
    """Column names as the mapping writes them -> as the file has them.

    A role is the column :func:`resolve_roles` found. A name written in an expression may
    differ in case (SQL identifiers do not care); other names must match exactly.
    """
    by_lower: dict[str, list[str]] = {}
    for column in columns:
        by_lower.setdefault(column.lower(), []).append(column)
    resolved = {c: c for c in columns}
    resolved.update(roles or {})
    written = [
        c for rule in mapping.fields.values() if rule.expression for c in rule.expression.columns
    ]
    written += [c for f in mapping.filters for c in f.expression.columns]
    for name in written:
        if name not in resolved and len(by_lower.get(name.lower(), [])) == 1:
            resolved[name] = by_lower[name.lower()][0]
    return resolved


def compile_mapping(
    mapping: Mapping,
    relation: duckdb.DuckDBPyRelation,
    con: duckdb.DuckDBPyConnection,
    source_name: str,
    file_label: str,
    *,
    raw_always: bool = False,
    tags: Sequence[TagColumn] = (),
    roles: dict[str, str] | None = None,
) -> Compiled:
    """Compile ``mapping`` over the rows of ``relation`` registered as ``source_name``.

    ``tags`` are the tag columns of a wide table of datapoints (``unpivot``): each of their
    cells becomes a row with the ``series`` and ``value`` fields. A wide table of entities comes
    unpivoted already (:func:`cells_relation`). ``roles`` are the columns
    :func:`resolve_roles` found.

    Raises:
        IngestError: If a column the mapping reads is not in the file (names both lists), or an
            expression does not fit the file's columns.
    """
    types = dict(zip(relation.columns, [str(t) for t in relation.types], strict=True))
    available = [
        c for c in relation.columns if c not in INTERNAL_COLUMNS and not c.startswith(ABSENT_ROLE)
    ]
    resolve = _resolve_columns(mapping, available, roles)
    for name, rule in mapping.fields.items():
        missing = [c for c in rule.source_columns if c not in resolve and c != ROW_COLUMN]
        if missing:
            raise IngestError(
                f"{file_label}: field {name!r} (mapping {mapping.path} line {rule.line}) reads "
                f"column {missing[0]!r}, which the file does not have; its columns are "
                f"{available}"
            )
    for row_filter in mapping.filters:
        missing = [c for c in row_filter.expression.columns if c not in resolve]
        if missing:
            raise IngestError(
                f"{file_label}: filter {row_filter.description!r} (mapping {mapping.path} line "
                f"{row_filter.line}) reads column {missing[0]!r}, which the file does not have; "
                f"its columns are {available}"
            )
    for column in mapping.skip_rows_without:
        if column not in resolve:
            raise IngestError(
                f"{file_label}: 'skip_rows_without' of mapping {mapping.path} names column "
                f"{column!r}, which the file does not have; its columns are {available}"
            )
    compiler = _FieldCompiler(mapping, types, con, source_name, resolve)
    pieces: dict[str, _Field] = {}
    for name, rule in mapping.fields.items():
        if rule.next_of is None:
            pieces[name] = compiler.compile(name, rule, len(pieces))

    # Which rows are this entity's: the first filter a row fails is why it is not.
    reasons = [
        (f"{compiler.text(c)} IS NULL", f"no value in column {resolve[c]!r}")
        for c in mapping.skip_rows_without
    ]
    for number, row_filter in enumerate(mapping.filters, start=1):
        condition = render(
            row_filter.expression,
            "bool",
            lambda name, kind: compiler.number(name) if kind == NUMBER else compiler.text(name),
        ).sql
        reasons.append(
            (
                f"NOT coalesce(({condition})::BOOLEAN, FALSE)",
                f"filter {number}: {row_filter.description}",
            )
        )
    cells = CELL_SKIP in types and mapping.unpivot is not None
    cases = [f"WHEN {c} THEN {literal(r)}" for c, r in reasons]
    if cells:
        # An empty cell is no row (counted per column), once its line is this entity's.
        cases.append(f"WHEN {CELL_SKIP} IS NOT NULL THEN {CELL_SKIP}")
    skip = "CASE " + " ".join(cases) + " END" if cases else "NULL"
    kept, looked, sourced, valued, checked = [f"({skip})::VARCHAR AS __skip"], [], [], [], []
    for index, piece in enumerate(pieces.values()):
        kept.append(f"{piece.source} AS __s{index}")
        if piece.lookup is not None:
            looked.append(f"{piece.lookup} AS __l{index}")
        sourced.append(f"{piece.raw} AS __r{index}")
        valued.append(f"{piece.parsed} AS __v{index}")
        if piece.dst is not None:
            valued.append(f"{piece.dst} AS __d{index}")
        error = " ".join(f"WHEN {c} THEN {m}" for c, m in piece.problems or [])
        checked.append(
            f"CASE WHEN __skip IS NULL THEN CASE {error} END END AS __e{index}"
            if error
            else f"NULL::VARCHAR AS __e{index}"
        )
    names = list(pieces)
    position = {name: index for index, name in enumerate(names)}
    ordered, values = [], []
    for name, rule in mapping.fields.items():
        if rule.next_of is None:
            values.append(f"__v{position[name]} AS {quote(name)}")
            continue
        start = f"__v{position[rule.next_of]}"
        partition = ", ".join([f"__v{position[p]}" for p in rule.per] + ["__skip IS NULL"])
        # A state lasts until the next change of the same subject: rows the mapping skips do
        # not end it, and the last change of each subject stays open.
        ordered.append(
            f"lead({start}) OVER (PARTITION BY {partition} "
            f"ORDER BY {start} ASC NULLS LAST, {ORDINAL}) AS {quote(name)}"
        )
        values.append(quote(name))
    field_names = list(mapping.fields)
    defaults = {"space": literal(mapping.space)}
    if mapping.target == "edge":
        defaults = {
            "source_space": literal(mapping.space),
            "target_space": literal(mapping.space),
            "source": literal(mapping.source_system),
        }
    elif mapping.target != "datapoint":
        defaults["source"] = literal(mapping.source_system)
    for name, expression in defaults.items():
        # A wide table's rows are points: the store takes their space from the mapping.
        if name not in mapping.fields and not tags:
            values.append(f"{expression} AS {quote(name)}")
            field_names.append(name)
    errors = [f"__e{i}" for i in range(len(names))]
    reason = "coalesce(" + ", ".join(errors) + ")" if errors else "NULL::VARCHAR"
    pseudo: tuple[str, ...] = ()
    if cells:
        assert mapping.unpivot is not None
        pseudo = mapping.unpivot.pseudo_columns
        # A field reading the cell names the cell's own column, not '@cell'.
        reason = (
            f"replace({reason}, {literal(f'column {CELL_COLUMN!r}')}, "
            f"'column ''' || {quote(CELL_NAME_COLUMN)} || '''')"
        )
    field_of = (
        "CASE "
        + " ".join(f"WHEN __e{i} IS NOT NULL THEN {literal(n)}" for i, n in enumerate(names))
        + " END"
        if names
        else "NULL::VARCHAR"
    )
    raw_columns = [f"{quote(c)} := {quote(c)}::VARCHAR" for c in available if c not in pseudo]
    if ITEM in types:
        raw_columns.append(f'"(item)" := {ITEM}')
    raw_json = f"to_json(struct_pack({', '.join(raw_columns)}))::VARCHAR" if raw_columns else "'{}'"
    if cells:
        # A cell's raw content is its line's other columns and the cell under its column's name.
        raw_json = (
            f"json_merge_patch({raw_json}, json_object({quote(CELL_NAME_COLUMN)}, "
            f"{quote(CELL_COLUMN)}::VARCHAR))::VARCHAR"
        )
    raw_expression = (
        raw_json if raw_always else f"CASE WHEN {reason} IS NOT NULL THEN {raw_json} END"
    )
    internal = ", ".join(c for c in (ROW, ORDINAL) if c in types)

    sql = f"""
        WITH {_layer("__kept", source_name, kept)},
        {_layer("__looked", "__kept", looked)},
        {_layer("__sourced", "__looked", sourced)},
        {_layer("__valued", "__sourced", valued)},
        {_layer("__checked", "__valued", checked)},
        {_layer("__ordered", "__checked", ordered)}
    """
    if tags:
        line = _Line(
            internal, values, [quote(n) for n in mapping.fields], reason, field_of, available
        )
        sql += _unpivot_select(tags, types, line, compiler)
        field_names += ["series", "value"]
    else:
        select = f"""
            SELECT {internal}, {", ".join(values)},
                   __skip,
                   {reason} AS __reason,
                   {field_of} AS __field,
                   {raw_expression} AS __raw
            FROM __ordered
        """
        sql += select if mapping.items is None else _items_select(mapping, con, select, source_name)
    try:
        con.sql(sql)
    except duckdb.Error as error:
        raise IngestError(
            f"{file_label}: mapping {mapping.path} does not fit the file: "
            f"{str(error).splitlines()[0]}"
        ) from error
    return Compiled(sql, tuple(field_names))


#: A column of a header table's rows: true on the first row of each record (the others are
#: the same record written to its other items).
FIRST_OF_RECORD = "__first"


def cells_relation(
    unpivot: Unpivot,
    relation: duckdb.DuckDBPyRelation,
    con: duckdb.DuckDBPyConnection,
    columns: Sequence[str],
    decimal: str,
) -> duckdb.DuckDBPyRelation:
    """A wide table unpivoted into entities' rows: one row per cell of ``columns``.

    Each row has its line's other columns (and number), its own ordinal (a line's cells in
    column order), the cell as ``@cell``, its column's name as ``@column`` and each named group
    of the pattern as ``@<group>``; an empty cell (or one of blanks) carries why it is no row in
    :data:`CELL_SKIP`, so that the report counts the empty cells of each column as filtered.
    The cells are text, so that one that is no number is quarantined alone, unless every
    column holds numbers (a number column among text ones is written with ``decimal``, so that
    it reads back as the number it is).
    """
    source = f"_wide_{uuid.uuid4().hex[:12]}"
    con.register(source, relation)
    types = dict(zip(relation.columns, [str(t) for t in relation.types], strict=True))
    numeric = all(_kind(types[c]) == "number" for c in columns)

    def cell(column: str) -> str:
        if numeric:
            return f"{quote(column)}::DOUBLE"
        if _kind(types[column]) == "number" and decimal != ".":
            return f"replace({quote(column)}::VARCHAR, '.', {literal(decimal)})"
        return f"{quote(column)}::VARCHAR"

    cell_columns = set(columns)
    others = [quote(c) for c in relation.columns if c not in cell_columns and c != ORDINAL]
    count = len(columns)
    unnested = [
        f"unnest({_constants(list(columns))}) AS {quote(CELL_NAME_COLUMN)}",
        f"unnest({_constants(list(range(count)))}) AS __c",
        f"unnest([{', '.join(cell(c) for c in columns)}]) AS {quote(CELL_COLUMN)}",
    ]
    values = [unpivot.group_values(c) for c in columns]
    for position, group in enumerate(unpivot.groups):
        groups = _constants([v[position] for v in values])
        unnested.append(f"unnest({groups}::VARCHAR[]) AS {quote('@' + group)}")
    empty = _constants([f"column {c!r}: empty cells (missing values)" for c in columns])
    blank = f"{quote(CELL_COLUMN)} IS NULL"
    if not numeric:
        blank += f" OR trim({quote(CELL_COLUMN)}) = ''"
    return con.sql(
        f"""
        SELECT * EXCLUDE (__line, __c),
               (__line - 1) * {count} + __c + 1 AS {ORDINAL},
               CASE WHEN {blank} THEN {empty}[__c + 1] END AS {CELL_SKIP}
        FROM (
            SELECT {"".join(c + ", " for c in others)}{ORDINAL} AS __line, {", ".join(unnested)}
            FROM {source}
        )
        """
    )


def _items_select(
    mapping: Mapping, con: duckdb.DuckDBPyConnection, select: str, source: str
) -> str:
    """A header's rows, each written to every stored item of it (``items: {separator: ...}``).

    An item is an entity of the mapping's type and space whose key begins with the header's key
    and the separator. A header row with no item is filtered: there is nothing to write it to
    (``a header without items``). Filtered and quarantined rows stay one row each; the rows of
    one record share its ordinal.
    """
    assert mapping.items is not None
    table = f"_items_{source}"
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT external_id::VARCHAR AS __item "
            f"FROM {quote(mapping.target)} WHERE space = {literal(mapping.space)}"
        )
    except duckdb.Error as error:
        raise IngestError(
            f"{mapping.path}: cannot read the {mapping.target} items of its headers: "
            f"{str(error).splitlines()[0]}"
        ) from error
    separator = literal(mapping.items)
    no_item = literal(
        f"a header without items: no {mapping.target} of space {mapping.space!r} has a key "
        f"that begins with its key and {mapping.items!r}"
    )
    return f"""
        , __headers AS ({select})
        SELECT __h.* REPLACE (
                   coalesce(__i.__item, __h.external_id) AS external_id,
                   CASE WHEN __h.__skip IS NULL AND __h.__reason IS NULL AND __i.__item IS NULL
                        THEN {no_item} ELSE __h.__skip END AS __skip
               ),
               row_number() OVER (PARTITION BY __h.{ORDINAL} ORDER BY __i.__item) = 1
                   AS {FIRST_OF_RECORD}
        FROM __headers AS __h
        LEFT JOIN {table} AS __i
          ON __h.__skip IS NULL AND __h.__reason IS NULL
             AND starts_with(__i.__item, __h.external_id || {separator})
    """


def _layer(name: str, source: str, columns: list[str]) -> str:
    """A layer of the compiled query: its source's columns and ``columns``."""
    return f"{name} AS (SELECT *{''.join(', ' + c for c in columns)} FROM {source})"


@dataclass(frozen=True)
class _Line:
    """What a line of a wide table gives each of its cells (SQL over ``__ordered``)."""

    #: The internal columns (row number, ordinal).
    internal: str
    #: The fields the mapping fills per line (``ts``), as ``<SQL> AS <name>``, and their names.
    values: list[str]
    names: list[str]
    #: Why the line is quarantined (its timestamp is wrong), NULL when it is fine.
    reason: str
    #: The field that ``reason`` is about.
    field_of: str
    #: The file's columns.
    columns: list[str]


def _unpivot_select(
    tags: Sequence[TagColumn], types: dict[str, str], line: _Line, compiler: _FieldCompiler
) -> str:
    """The rest of the query of a wide table: every tag cell of every line becomes a row.

    ``unnest`` of one list per line (the cells) and of constant lists (their series, as an ENUM
    that reaches Arrow dictionary-encoded, and their positions) is an unpivot DuckDB runs
    vectorised; what else differs by column (its unit conversion, its name in messages) is a
    constant list indexed by the position. An empty cell is no row to load: it is filtered with
    a reason naming its column, so the report counts them per column. A cell that is no number
    is quarantined naming its column; its raw content is the line's other columns and the cell.
    """
    tag_names = {tag.column for tag in tags}
    textual = any(_kind(types[tag.column]) != "number" for tag in tags)
    cells = [f"{quote(tag.column)}::VARCHAR" if textual else quote(tag.column) for tag in tags]
    others = [c for c in line.columns if c not in tag_names]
    # Carried as they are (text is cast only for a quarantined cell's raw content): a string
    # made per line would be copied to every cell of it.
    carried = [f"{quote(c)} AS __k{i}" for i, c in enumerate(others)]
    number = number_sql("trim(__cell)", compiler.decimal, compiler.thousands)
    cast = "NULL::DOUBLE"
    if not textual:
        number = "__cell::DOUBLE"
    elif compiler.decimal == "." and not compiler.thousands:
        # Nearly every cell is a plain number: the cast alone reads it; the full rules (a
        # trailing minus) only run on the few it does not (a CASE, as coalesce runs them all).
        cast = "TRY_CAST(__cell AS DOUBLE)"
        number = f"CASE WHEN __cast IS NOT NULL OR __cell IS NULL THEN __cast ELSE {number} END"
    # A cell of blanks is empty too (trimmed only where it is no number).
    empty_cell = (
        "__cell IS NULL OR (__number IS NULL AND trim(__cell) = '')"
        if textual
        else "__cell IS NULL"
    )
    value = "CASE WHEN isfinite(__number) THEN __number END"
    if any(tag.factor != 1.0 or tag.offset != 0.0 for tag in tags):
        factors = _constants([tag.factor for tag in tags])
        offsets = _constants([tag.offset for tag in tags])
        value = f"({value} * {factors}[__c + 1] + {offsets}[__c + 1])"
    empty = _constants([f"column {tag.column!r}: empty cells (missing values)" for tag in tags])
    expected = _number_words(compiler.decimal, compiler.thousands)
    wrong = _constants(
        [f"field 'value' (column {tag.column!r}): expected {expected}, " for tag in tags]
    )
    series_of = [tag.series for tag in tags]
    series = list(dict.fromkeys(series_of))
    enum = f"ENUM({', '.join(literal(s) for s in series)})"
    raw_pairs = "".join(f"{literal(c)}, __k{i}::VARCHAR, " for i, c in enumerate(others))
    names = _constants([tag.column for tag in tags])
    positions = ", ".join(str(i) for i in range(len(tags)))
    cast_layer = _layer("__cast", "__cells", [f"{cast} AS __cast"])
    parsed = _layer("__parsed", "__cast", [f"{number} AS __number"])
    points = _layer(
        "__points",
        "__parsed",
        [
            f"{value} AS __value",
            f"CASE WHEN __skip IS NOT NULL THEN __skip WHEN {empty_cell} THEN {empty}[__c + 1] END "
            "AS __cell_skip",
        ],
    )
    judged = _layer(
        "__judged",
        "__points",
        [
            "CASE WHEN __cell_skip IS NOT NULL THEN NULL WHEN __line_reason IS NOT NULL "
            f"THEN __line_reason WHEN __value IS NULL THEN {wrong}[__c + 1] || {_found('__cell')} "
            "END AS __cell_reason"
        ],
    )
    return f"""
        , __cells AS (
            SELECT {line.internal}, {", ".join(line.values)}, __skip,
                   {line.reason} AS __line_reason, {line.field_of} AS __line_field,
                   {"".join(c + ", " for c in carried)}
                   unnest({_constants(series_of)}::{enum}[]) AS __series,
                   unnest([{positions}]) AS __c, unnest([{", ".join(cells)}]) AS __cell
            FROM __ordered
        ),
        {cast_layer},
        {parsed},
        {points},
        {judged}
        SELECT {line.internal}, {", ".join(line.names)},
               __series AS "series",
               __value AS "value",
               __cell_skip AS __skip,
               __cell_reason AS __reason,
               CASE WHEN __cell_reason IS NOT NULL THEN coalesce(__line_field, 'value') END
                   AS __field,
               CASE WHEN __cell_reason IS NOT NULL
                    THEN json_object({raw_pairs}{names}[__c + 1], __cell)::VARCHAR END AS __raw
        FROM __judged
    """


def _constants(items: Sequence[object]) -> str:
    """An SQL list literal of constants."""
    return "[" + ", ".join(literal(item) for item in items) + "]"
