"""Compile a mapping into one SQL projection over the source rows.

Each field becomes two expressions: its value, and an error message that is NULL when the value is
fine. The first error of a row becomes its quarantine reason, naming the field, the column, what
was expected and what was found. Everything runs vectorised inside DuckDB.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from factorybrain.connectors._mapping import FieldRule, Mapping
from factorybrain.connectors._readers import ROW
from factorybrain.connectors._units import UnitConversionError, affine
from factorybrain.exceptions import IngestError
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


class _FieldCompiler:
    def __init__(
        self, mapping: Mapping, types: dict[str, str], con: duckdb.DuckDBPyConnection, source: str
    ) -> None:
        self.mapping = mapping
        self.types = types
        self.con = con
        self.source = source

    def text(self, column: str) -> str:
        """The column as trimmed text, NULL when empty."""
        ref = quote(column)
        if _kind(self.types[column]) == "text":
            return f"NULLIF(trim({ref}::VARCHAR), '')"
        return f"{ref}::VARCHAR"

    def raw(self, rule: FieldRule) -> tuple[str, str]:
        """Expression of the raw value and how it reads in messages."""
        if rule.value is not None:
            return literal(rule.value), f"constant {rule.value!r}"
        if rule.template is not None:
            import re

            parts, names = [], []
            position = 0
            for match in re.finditer(r"\{([^{}]+)\}", rule.template):
                if match.start() > position:
                    parts.append(literal(rule.template[position : match.start()]))
                parts.append(self.text(match.group(1)))
                names.append(match.group(1))
                position = match.end()
            if position < len(rule.template):
                parts.append(literal(rule.template[position:]))
            return "(" + " || ".join(parts) + ")", f"template {rule.template!r}"
        if rule.columns is not None:
            items = ", ".join(self.text(c) for c in rule.columns)
            return (
                f"list_filter([{items}], lambda x: x IS NOT NULL)",
                f"columns {list(rule.columns)}",
            )
        assert rule.column is not None
        return quote(rule.column), f"column {rule.column!r}"

    def compile(self, rule: FieldRule) -> tuple[str, str]:
        """Return (value expression, error expression) of one field."""
        field = rule.field
        raw, origin = self.raw(rule)
        source_kind = "text" if rule.column is None else _kind(self.types[rule.column])
        if rule.column is not None and source_kind == "text":
            raw = self.text(rule.column)
        found = f"'found ''' || left(({raw})::VARCHAR, 80) || ''''"
        where = f"field {field.name!r} ({origin})"
        if rule.values is not None:
            cases = " ".join(f"WHEN {literal(k)} THEN {literal(v)}" for k, v in rule.values.items())
            raw = f"(CASE ({raw})::VARCHAR {cases} ELSE ({raw})::VARCHAR END)"
        if rule.default is not None:
            raw = f"coalesce({raw}, {literal(rule.default)})"
        parsed, expected = self._parse(rule, raw, source_kind)
        problems = []
        if field.required:
            problems.append(
                (f"({raw}) IS NULL", literal(f"{where}: required, found an empty value"))
            )
        problems.append(
            (
                f"({raw}) IS NOT NULL AND ({parsed}) IS NULL",
                literal(f"{where}: expected {expected}, ") + f" || {found}",
            )
        )
        if field.type == "timestamp":
            problems.append(
                (
                    f"({parsed}) NOT BETWEEN TIMESTAMP '{EARLIEST}' AND TIMESTAMP '{LATEST}'",
                    literal(f"{where}: expected a timestamp between {EARLIEST} and {LATEST}, ")
                    + f" || {found}",
                )
            )
        if field.values and rule.value is None:
            allowed = ", ".join(literal(v) for v in field.values)
            problems.append(
                (
                    f"({parsed}) NOT IN ({allowed})",
                    literal(f"{where}: expected one of {list(field.values)}, ") + f" || {found}",
                )
            )
        error = "CASE " + " ".join(f"WHEN {c} THEN {m}" for c, m in problems) + " END"
        return parsed, error

    def _parse(self, rule: FieldRule, raw: str, source_kind: str) -> tuple[str, str]:
        field = rule.field
        if field.type in ("string", "text"):
            return f"({raw})::VARCHAR", "text"
        if field.type == "string[]":
            if rule.columns is not None or source_kind != "text":
                return f"({raw})::VARCHAR[]", "a list"
            return (
                f"list_filter(list_transform(regexp_split_to_array(({raw})::VARCHAR, '[;|]'), "
                "lambda x: trim(x)), lambda x: x <> '')",
                "a list separated by ';' or '|'",
            )
        if field.type == "int":
            if source_kind == "number":
                return f"TRY_CAST({raw} AS BIGINT)", "a whole number"
            return f"TRY_CAST(({raw})::VARCHAR AS BIGINT)", "a whole number"
        if field.type == "float":
            return self._number(rule, raw, source_kind)
        if field.type == "bool":
            if source_kind == "bool":
                return raw, "true or false"
            text = f"lower(({raw})::VARCHAR)"
            return (
                f"CASE WHEN {text} IN ('true', 't', 'yes', 'y', '1') THEN TRUE "
                f"WHEN {text} IN ('false', 'f', 'no', 'n', '0') THEN FALSE END",
                "true or false (true/false, yes/no, 1/0)",
            )
        if field.type == "json":
            if source_kind == "text":
                return (
                    f"CASE WHEN json_valid(({raw})::VARCHAR) THEN ({raw})::JSON END",
                    "valid JSON",
                )
            return f"to_json({raw})", "valid JSON"
        if field.type == "timestamp":
            return self._timestamp(rule, raw, source_kind)
        raise IngestError(f"{self.mapping.path}: unsupported field type {field.type!r}")

    def _number(self, rule: FieldRule, raw: str, source_kind: str) -> tuple[str, str]:
        if source_kind == "number":
            number = f"({raw})::DOUBLE"
        else:
            text = f"({raw})::VARCHAR"
            if self.mapping.source.decimal == ",":
                text = f"replace(replace({text}, '.', ''), ',', '.')"
            number = f"TRY_CAST({text} AS DOUBLE)"
        # NaN and infinity are not measurements: reject them like text.
        number = f"CASE WHEN isfinite({number}) THEN {number} END"
        expected = "a finite number"
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

    def _timestamp(self, rule: FieldRule, raw: str, source_kind: str) -> tuple[str, str]:
        zone = rule.timezone or self.mapping.source.timezone or "UTC"

        def local(naive: str) -> str:
            if zone == "UTC":
                return naive
            return f"timezone('UTC', timezone({literal(zone)}, {naive}))"

        if source_kind == "timestamptz":
            return f"timezone('UTC', {raw})", "a timestamp"
        if source_kind == "timestamp":
            return local(f"({raw})::TIMESTAMP"), "a timestamp"
        if rule.format in ("epoch_s", "epoch_ms"):
            scale = 1.0 if rule.format == "epoch_s" else 1000.0
            return (
                f"timezone('UTC', to_timestamp(TRY_CAST(({raw})::VARCHAR AS DOUBLE) / {scale}))",
                f"seconds since 1970 ({rule.format})",
            )
        text = f"({raw})::VARCHAR"
        if zone == "UTC" and not rule.format:
            # Naive text is read as UTC and text with an offset is converted: one cast does both.
            return f"timezone('UTC', TRY_CAST({text} AS TIMESTAMPTZ))", "an ISO 8601 timestamp"
        if rule.format:
            return local(f"TRY_STRPTIME({text}, {literal(rule.format)})"), (
                f"a timestamp in format {rule.format!r}"
            )
        return (
            f"CASE WHEN regexp_matches({text}, {literal(_OFFSET)}) "
            f"THEN timezone('UTC', TRY_CAST({text} AS TIMESTAMPTZ)) "
            f"ELSE {local(f'TRY_CAST({text} AS TIMESTAMP)')} END",
            "an ISO 8601 timestamp",
        )


def compile_mapping(
    mapping: Mapping,
    relation: duckdb.DuckDBPyRelation,
    con: duckdb.DuckDBPyConnection,
    source_name: str,
    file_label: str,
    *,
    raw_always: bool = False,
) -> Compiled:
    """Compile ``mapping`` over the rows of ``relation`` registered as ``source_name``.

    Raises:
        IngestError: If a column the mapping reads is not in the file (names both lists).
    """
    types = dict(zip(relation.columns, [str(t) for t in relation.types], strict=True))
    available = [c for c in relation.columns if c != ROW]
    for name, rule in mapping.fields.items():
        missing = [c for c in rule.source_columns if c not in types]
        if missing:
            raise IngestError(
                f"{file_label}: field {name!r} (mapping {mapping.path} line {rule.line}) reads "
                f"column {missing[0]!r}, which the file does not have; its columns are "
                f"{available}"
            )
    for column in mapping.skip_rows_without:
        if column not in types:
            raise IngestError(
                f"{file_label}: 'skip_rows_without' of mapping {mapping.path} names column "
                f"{column!r}, which the file does not have; its columns are {available}"
            )
    compiler = _FieldCompiler(mapping, types, con, source_name)
    values, errors, names = [], [], []
    for name, rule in mapping.fields.items():
        value, error = compiler.compile(rule)
        values.append(f"{value} AS {quote(name)}")
        errors.append((name, error))
        names.append(name)
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
        if name not in mapping.fields:
            values.append(f"{expression} AS {quote(name)}")
            names.append(name)
    skip = (
        "CASE "
        + " ".join(
            f"WHEN {compiler.text(c)} IS NULL THEN {literal(f'no value in column {c!r}')}"
            for c in mapping.skip_rows_without
        )
        + " END"
        if mapping.skip_rows_without
        else "NULL"
    )
    reason = "coalesce(" + ", ".join(e for _, e in errors) + ")" if errors else "NULL"
    reason = f"CASE WHEN __skip IS NULL THEN {reason} END"
    field_of = (
        "CASE " + " ".join(f"WHEN ({e}) IS NOT NULL THEN {literal(n)}" for n, e in errors) + " END"
    )
    raw_columns = ", ".join(f"{quote(c)} := {quote(c)}::VARCHAR" for c in available)
    raw_json = f"to_json(struct_pack({raw_columns}))::VARCHAR"
    raw_expression = (
        raw_json if raw_always else f"CASE WHEN __reason IS NOT NULL THEN {raw_json} END"
    )
    sql = f"""
        SELECT {ROW}, {", ".join(values)},
               {skip}::VARCHAR AS __skip,
               {reason} AS __reason,
               CASE WHEN __reason IS NOT NULL THEN {field_of} END AS __field,
               {raw_expression} AS __raw
        FROM {source_name}
    """
    return Compiled(sql, tuple(names))
