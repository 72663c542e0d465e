"""Safe expressions in mapping files: DuckDB SQL expressions over the columns of one row.

A field or a row filter may be computed with an expression such as
``CASE WHEN SHKZG = 'H' THEN -DMBTR ELSE DMBTR END`` or ``lpad(MATNR, 18, '0')``. DuckDB's own
parser reads it (``json_serialize_sql``, on the private parser of
:mod:`factorybrain.store._sql_guard`, which never reads a file); the syntax tree is walked and
only column references, literals, arithmetic, comparison and boolean operators, ``CASE``,
``CAST`` (always as ``TRY_CAST``, so one bad value never aborts a load) and the scalar functions
of :data:`FUNCTIONS` pass. The SQL that runs is then written from the tree by this module, never
copied from the mapping's text: nothing outside an expression's own row can be reached (no
subquery, no table function, no setting, no file), and nothing is ever passed to ``eval``.

Columns are read as text, as the file wrote them. Where an expression uses a column as a number
(an operand of ``+ - * / %``, of a numeric function, or compared with a number), it is parsed
with the mapping's decimal separator; a value that is not a number there is reported naming the
column instead of silently becoming empty.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from factorybrain.exceptions import StoreError
from factorybrain.store._sql_guard import syntax_tree

#: What a piece of an expression produces.
TEXT, NUMBER, BOOL, TIMESTAMP, TIMESTAMPTZ, ANY = (
    "text",
    "number",
    "bool",
    "timestamp",
    "timestamptz",
    "any",
)

# Argument kinds of a function: a kind, SAME (what the caller wants), and a trailing "?" for an
# optional argument or "*" for any number of them.
SAME = "same"

#: Scalar functions an expression may call: (argument kinds, result kind). Each is a pure
#: function of its arguments; none reads a file, a setting, a table or the environment.
FUNCTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    # text
    "lower": ((TEXT,), TEXT),
    "upper": ((TEXT,), TEXT),
    "trim": ((TEXT, TEXT + "?"), TEXT),
    "ltrim": ((TEXT, TEXT + "?"), TEXT),
    "rtrim": ((TEXT, TEXT + "?"), TEXT),
    "lpad": ((TEXT, NUMBER, TEXT), TEXT),
    "rpad": ((TEXT, NUMBER, TEXT), TEXT),
    "substr": ((TEXT, NUMBER, NUMBER + "?"), TEXT),
    "substring": ((TEXT, NUMBER, NUMBER + "?"), TEXT),
    "left": ((TEXT, NUMBER), TEXT),
    "right": ((TEXT, NUMBER), TEXT),
    "replace": ((TEXT, TEXT, TEXT), TEXT),
    "regexp_extract": ((TEXT, TEXT, NUMBER + "?"), TEXT),
    "regexp_replace": ((TEXT, TEXT, TEXT, TEXT + "?"), TEXT),
    "concat": ((TEXT + "*",), TEXT),
    "concat_ws": ((TEXT, TEXT + "*"), TEXT),
    "split_part": ((TEXT, TEXT, NUMBER), TEXT),
    "reverse": ((TEXT,), TEXT),
    "strip_accents": ((TEXT,), TEXT),
    "length": ((TEXT,), NUMBER),
    "strpos": ((TEXT, TEXT), NUMBER),
    "instr": ((TEXT, TEXT), NUMBER),
    "starts_with": ((TEXT, TEXT), BOOL),
    "ends_with": ((TEXT, TEXT), BOOL),
    "suffix": ((TEXT, TEXT), BOOL),
    "contains": ((TEXT, TEXT), BOOL),
    "regexp_matches": ((TEXT, TEXT, TEXT + "?"), BOOL),
    "regexp_full_match": ((TEXT, TEXT), BOOL),
    # numbers
    "abs": ((NUMBER,), NUMBER),
    "floor": ((NUMBER,), NUMBER),
    "ceil": ((NUMBER,), NUMBER),
    "ceiling": ((NUMBER,), NUMBER),
    "trunc": ((NUMBER,), NUMBER),
    "sign": ((NUMBER,), NUMBER),
    "round": ((NUMBER, NUMBER + "?"), NUMBER),
    "power": ((NUMBER, NUMBER), NUMBER),
    "pow": ((NUMBER, NUMBER), NUMBER),
    "greatest": ((SAME + "*",), SAME),
    "least": ((SAME + "*",), SAME),
    # either
    "nullif": ((SAME, SAME), SAME),
    # time
    "try_strptime": ((TEXT, TEXT), TIMESTAMP),
    "to_timestamp": ((NUMBER,), TIMESTAMPTZ),
}

_ARITHMETIC = {"+", "-", "*", "/", "//", "%", "^", "**"}
_LIKE = {"~~": "LIKE", "!~~": "NOT LIKE", "~~*": "ILIKE", "!~~*": "NOT ILIKE"}
_COMPARISONS = {
    "COMPARE_EQUAL": "=",
    "COMPARE_NOTEQUAL": "<>",
    "COMPARE_LESSTHAN": "<",
    "COMPARE_GREATERTHAN": ">",
    "COMPARE_LESSTHANOREQUALTO": "<=",
    "COMPARE_GREATERTHANOREQUALTO": ">=",
    "COMPARE_DISTINCT_FROM": "IS DISTINCT FROM",
    "COMPARE_NOT_DISTINCT_FROM": "IS NOT DISTINCT FROM",
}
#: Types a CAST may name, and the kind each produces.
_CAST_TYPES = {
    "VARCHAR": TEXT,
    "DOUBLE": NUMBER,
    "FLOAT": NUMBER,
    "DECIMAL": NUMBER,
    "TINYINT": NUMBER,
    "SMALLINT": NUMBER,
    "INTEGER": NUMBER,
    "BIGINT": NUMBER,
    "HUGEINT": NUMBER,
    "BOOLEAN": BOOL,
    "DATE": TIMESTAMP,
    "TIMESTAMP": TIMESTAMP,
}
_NAMED = {
    "SUBQUERY": "a subquery",
    "WINDOW": "a window function",
    "LAMBDA": "a lambda",
    "STAR": "*",
    "PARAMETER": "a parameter",
    "COLLATE": "COLLATE",
    "BOUND_REF": "a bound reference",
    "POSITIONAL_REF": "a positional reference",
}


class ExpressionError(ValueError):
    """An expression that does not parse or uses something expressions may not use."""


@dataclass(frozen=True)
class Expression:
    """A checked expression: its text, its syntax tree and the columns it reads."""

    text: str
    tree: dict[str, Any] = field(repr=False, compare=False)
    columns: tuple[str, ...]


def parse_expression(text: str) -> Expression:
    """Parse and check one expression.

    Raises:
        ExpressionError: Saying what does not parse or is not allowed, and why.
    """
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("the expression is empty")
    try:
        tree = syntax_tree(f"SELECT {text}")
    except StoreError as error:
        reason = str(error).removeprefix("cannot check the query: ")
        if reason.startswith("Only SELECT statements"):
            reason = "expected one expression, found more than one statement"
        raise ExpressionError(f"does not parse: {reason}") from None
    statements = tree.get("statements") or []
    node = statements[0].get("node", {}) if len(statements) == 1 else {}
    select = node.get("select_list") or []
    from_table = (node.get("from_table") or {}).get("type")
    extra = [
        key
        for key in ("where_clause", "having", "qualify", "sample")
        if node.get(key) not in (None, [], {})
    ]
    if (
        node.get("type") != "SELECT_NODE"
        or len(select) != 1
        or from_table != "EMPTY"
        or extra
        or node.get("group_expressions")
        or node.get("modifiers")
        or (node.get("cte_map") or {}).get("map")
    ):
        raise ExpressionError("expected one expression over the columns of a row")
    columns: list[str] = []
    _check(select[0], columns)
    return Expression(text, select[0], tuple(dict.fromkeys(columns)))


def column_name(node: dict[str, Any]) -> str:
    """The column a COLUMN_REF names: ``a.b`` unquoted is the column called ``a.b``."""
    return ".".join(str(part) for part in node.get("column_names", []))


def _check(node: Any, columns: list[str]) -> None:
    """Refuse anything but the allowed constructs; collect the columns read."""
    if not isinstance(node, dict):
        raise ExpressionError("expected an expression")
    kind = node.get("class")
    if kind == "COLUMN_REF":
        columns.append(column_name(node))
        return
    if kind == "CONSTANT":
        if (node.get("literal") or {}).get("kind") not in _LITERALS:
            raise ExpressionError(f"constants of this kind are not allowed: {node.get('literal')}")
        return
    if kind == "FUNCTION":
        name = str(node.get("function_name", "")).lower()
        if node.get("schema") or node.get("catalog"):
            raise ExpressionError(f"function {name!r}: name it without a schema")
        ordered = (node.get("order_bys") or {}).get("orders")
        if node.get("filter") or node.get("distinct") or ordered:
            raise ExpressionError(
                f"function {name!r}: FILTER, DISTINCT and ORDER BY are not allowed"
            )
        arguments = node.get("arguments") or []
        if any(argument.get("name") for argument in arguments):
            raise ExpressionError(f"function {name!r}: named arguments are not allowed")
        if node.get("is_operator"):
            if name not in _ARITHMETIC | set(_LIKE) | {"||"}:
                raise ExpressionError(f"the operator {name!r} is not allowed")
        elif name not in FUNCTIONS:
            raise ExpressionError(
                f"the function {name!r} is not allowed; expressions may call "
                f"{', '.join(sorted(FUNCTIONS))}"
            )
        else:
            _check_arity(name, len(arguments))
        for argument in arguments:
            _check(argument.get("expression"), columns)
        return
    if kind == "CAST":
        _cast_type(node)
        _check(node.get("child"), columns)
        return
    if kind == "COMPARISON":
        if node.get("type") not in _COMPARISONS:
            raise ExpressionError(f"the comparison {node.get('type')} is not allowed")
        _check(node.get("left"), columns)
        _check(node.get("right"), columns)
        return
    if kind == "CONJUNCTION":
        if node.get("type") not in ("CONJUNCTION_AND", "CONJUNCTION_OR"):
            raise ExpressionError(f"{node.get('type')} is not allowed")
        for child in node.get("children") or []:
            _check(child, columns)
        return
    if kind == "OPERATOR":
        allowed = {
            "OPERATOR_NOT",
            "OPERATOR_IS_NULL",
            "OPERATOR_IS_NOT_NULL",
            "COMPARE_IN",
            "COMPARE_NOT_IN",
            "OPERATOR_COALESCE",
        }
        if node.get("type") not in allowed:
            raise ExpressionError(f"{str(node.get('type')).lower()} is not allowed")
        for child in node.get("children") or []:
            _check(child, columns)
        return
    if kind == "CASE":
        for check in node.get("case_checks") or []:
            _check(check.get("when_expr"), columns)
            _check(check.get("then_expr"), columns)
        _check(node.get("else_expr"), columns)
        return
    if kind == "BETWEEN":
        for key in ("input", "lower", "upper"):
            _check(node.get(key), columns)
        return
    raise ExpressionError(f"{_NAMED.get(str(kind), str(kind).lower())} is not allowed")


_LITERALS = {"STRING", "INTEGER", "NUMERIC", "DECIMAL", "DOUBLE", "BOOLEAN", "NULL_LITERAL"}


def _check_arity(name: str, count: int) -> None:
    kinds, _ = FUNCTIONS[name]
    required = sum(1 for k in kinds if not k.endswith(("?", "*")))
    variadic = any(k.endswith("*") for k in kinds)
    if count < required or (not variadic and count > len(kinds)):
        if variadic:
            takes = f"{required} or more"
        elif required == len(kinds):
            takes = str(required)
        else:
            takes = f"{required} to {len(kinds)}"
        raise ExpressionError(f"the function {name!r} takes {takes} arguments, found {count}")


def _cast_type(node: dict[str, Any]) -> tuple[str, str]:
    """The SQL of a CAST's type and the kind it produces."""
    type_expr = node.get("type_expr") or {}
    name = str(type_expr.get("type_name", "")).upper()
    if name not in _CAST_TYPES:
        raise ExpressionError(
            f"CAST to {name or 'this type'} is not allowed; expressions cast to "
            f"{', '.join(sorted(_CAST_TYPES))}"
        )
    parameters = []
    for child in type_expr.get("children") or []:
        literal = (child.get("literal") or {}) if isinstance(child, dict) else {}
        if literal.get("kind") != "INTEGER":
            raise ExpressionError(f"CAST to {name}: its parameters must be whole numbers")
        parameters.append(str(int(literal["text"])))
    sql = name + (f"({', '.join(parameters)})" if parameters else "")
    return sql, _CAST_TYPES[name]


# -- writing the SQL -----------------------------------------------------------------------------
#: Writes the SQL of a column read as ``kind`` (TEXT or NUMBER).
ColumnSql = Callable[[str, str], str]


@dataclass
class Rendered:
    """The SQL of an expression, the kind it produces and the columns it reads as numbers."""

    sql: str
    kind: str
    numeric_columns: list[str] = field(default_factory=list)


def render(expression: Expression, want: str, column: ColumnSql) -> Rendered:
    """Write the SQL of ``expression`` for a value of kind ``want`` (TEXT, NUMBER, BOOL, ANY).

    Args:
        expression: A checked expression.
        want: What the field needs; columns in arithmetic are always numbers.
        column: Writes the SQL of a column, as text or as a number.
    """
    writer = _Writer(column)
    sql, kind = writer.node(expression.tree, want)
    return Rendered(sql, kind, list(dict.fromkeys(writer.numeric)))


class _Writer:
    def __init__(self, column: ColumnSql) -> None:
        self.column = column
        self.numeric: list[str] = []

    def node(self, node: dict[str, Any], want: str) -> tuple[str, str]:
        kind = node["class"]
        if kind == "COLUMN_REF":
            name = column_name(node)
            if want == NUMBER:
                self.numeric.append(name)
                return self.column(name, NUMBER), NUMBER
            if want in (BOOL, TIMESTAMP):
                # TRY_CAST: a value that is not one is empty here, never an aborted load.
                sql_type = "BOOLEAN" if want == BOOL else "TIMESTAMP"
                return f"TRY_CAST({self.column(name, TEXT)} AS {sql_type})", want
            return self.column(name, TEXT), TEXT
        if kind == "CONSTANT":
            return _literal(node["literal"])
        if kind == "FUNCTION":
            return self.function(node, want)
        if kind == "CAST":
            type_sql, produced = _cast_type(node)
            child, _ = self.node(node["child"], NUMBER if produced == NUMBER else TEXT)
            return f"TRY_CAST({child} AS {type_sql})", produced
        if kind == "COMPARISON":
            operands = [node["left"], node["right"]]
            left, right = self.alike(operands)
            return f"({left} {_COMPARISONS[node['type']]} {right})", BOOL
        if kind == "BETWEEN":
            value, lower, upper = self.alike([node["input"], node["lower"], node["upper"]])
            return f"({value} BETWEEN {lower} AND {upper})", BOOL
        if kind == "CONJUNCTION":
            joiner = " AND " if node["type"] == "CONJUNCTION_AND" else " OR "
            parts = [self.node(child, BOOL)[0] for child in node["children"]]
            return "(" + joiner.join(parts) + ")", BOOL
        if kind == "OPERATOR":
            return self.operator(node, want)
        if kind == "CASE":
            branches = [check["then_expr"] for check in node["case_checks"]] + [node["else_expr"]]
            target = want if want not in (ANY, BOOL) else _natural(branches) or TEXT
            parts = [
                f"WHEN {self.node(check['when_expr'], BOOL)[0]} "
                f"THEN {self.node(check['then_expr'], target)[0]}"
                for check in node["case_checks"]
            ]
            otherwise = self.node(node["else_expr"], target)[0]
            return f"(CASE {' '.join(parts)} ELSE {otherwise} END)", target
        raise ExpressionError(f"{str(kind).lower()} is not allowed")  # checked at parse time

    def alike(self, operands: list[dict[str, Any]]) -> list[str]:
        """Operands compared with each other: numbers if one of them is a number, else text."""
        kind = _natural(operands)
        target = NUMBER if kind == NUMBER else (kind if kind in (TIMESTAMP, BOOL) else TEXT)
        return [self.node(operand, target)[0] for operand in operands]

    def function(self, node: dict[str, Any], want: str) -> tuple[str, str]:
        name = str(node["function_name"]).lower()
        arguments = [a["expression"] for a in node.get("arguments") or []]
        if node.get("is_operator"):
            if name in _ARITHMETIC:
                parts = [self.node(a, NUMBER)[0] for a in arguments]
                if len(parts) == 1:
                    return f"({name}{parts[0]})", NUMBER
                # Numbers are DOUBLE here: '/' is true division and nothing overflows.
                return "(" + f" {name} ".join(parts) + ")", NUMBER
            if name == "||":
                parts = [self.node(a, TEXT)[0] for a in arguments]
                return "(" + " || ".join(parts) + ")", TEXT
            left, right = (self.node(a, TEXT)[0] for a in arguments)
            return f"({left} {_LIKE[name]} {right})", BOOL
        kinds, result = FUNCTIONS[name]
        if result == SAME:
            result = want if want not in (ANY, BOOL) else _natural(arguments) or TEXT
        parts = []
        for position, argument in enumerate(arguments):
            expected = kinds[min(position, len(kinds) - 1)].rstrip("?*")
            parts.append(self.node(argument, result if expected == SAME else expected)[0])
        return f"{name}({', '.join(parts)})", result

    def operator(self, node: dict[str, Any], want: str) -> tuple[str, str]:
        kind = node["type"]
        children = node.get("children") or []
        if kind == "OPERATOR_NOT":
            return f"(NOT {self.node(children[0], BOOL)[0]})", BOOL
        if kind in ("OPERATOR_IS_NULL", "OPERATOR_IS_NOT_NULL"):
            test = "IS NULL" if kind == "OPERATOR_IS_NULL" else "IS NOT NULL"
            return f"({self.node(children[0], ANY)[0]} {test})", BOOL
        if kind in ("COMPARE_IN", "COMPARE_NOT_IN"):
            first, *rest = self.alike(children)
            test = "IN" if kind == "COMPARE_IN" else "NOT IN"
            return f"({first} {test} ({', '.join(rest)}))", BOOL
        # OPERATOR_COALESCE
        target = want if want not in (ANY, BOOL) else _natural(children) or TEXT
        parts = [self.node(child, target)[0] for child in children]
        return f"coalesce({', '.join(parts)})", target


def _natural(nodes: list[dict[str, Any]]) -> str | None:
    """The kind the first of ``nodes`` that has one produces by itself (columns have none)."""
    for node in nodes:
        found = _natural_one(node)
        if found is not None:
            return found
    return None


def _natural_one(node: dict[str, Any]) -> str | None:
    kind = node.get("class")
    if kind == "CONSTANT":
        produced = _literal(node["literal"])[1]
        return None if produced == ANY else produced
    if kind == "CAST":
        return _cast_type(node)[1]
    if kind == "FUNCTION":
        name = str(node["function_name"]).lower()
        if node.get("is_operator"):
            if name in _ARITHMETIC:
                return NUMBER
            return TEXT if name == "||" else BOOL
        result = FUNCTIONS[name][1]
        if result == SAME:
            return _natural([a["expression"] for a in node.get("arguments") or []])
        return result
    if kind == "CASE":
        branches = [check["then_expr"] for check in node["case_checks"]] + [node["else_expr"]]
        return _natural(branches)
    if kind == "OPERATOR" and node.get("type") == "OPERATOR_COALESCE":
        return _natural(node.get("children") or [])
    if kind in ("COMPARISON", "CONJUNCTION", "BETWEEN", "OPERATOR"):
        return BOOL
    return None


def _literal(literal: dict[str, Any]) -> tuple[str, str]:
    kind, text = literal.get("kind"), str(literal.get("text", ""))
    if kind == "STRING":
        return "'" + text.replace("'", "''") + "'", TEXT
    if kind == "INTEGER":
        return str(int(text)), NUMBER  # re-read, so that only a number is ever written back
    if kind in ("NUMERIC", "DECIMAL", "DOUBLE"):
        return f"({float(text)!r})::DOUBLE", NUMBER
    if kind == "BOOLEAN":
        return ("TRUE" if text.lower() == "true" else "FALSE"), BOOL
    return "NULL", ANY
