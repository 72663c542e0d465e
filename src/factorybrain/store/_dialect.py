"""The package's SQL, written for DuckDB, as PostgreSQL runs it.

Agents, the API and ``factorybrain query`` speak DuckDB's dialect. A PostgreSQL store runs the same
text after :func:`to_postgres`: sqlglot parses it as DuckDB and writes it as PostgreSQL, and the
transforms here cover what sqlglot leaves in DuckDB's words (``GROUP BY ALL``, ``SEMI JOIN``,
``arg_max``, a list's ``len``, ``time_bucket``, ``epoch``). Parameters keep their meaning: ``?``
becomes ``%s`` and ``$name`` becomes ``%(name)s``, and a literal ``%`` is doubled, as psycopg wants.

A construct with no PostgreSQL counterpart here is a :class:`~factorybrain.exceptions.StoreError`
that names it, never SQL that means something else.
"""

from __future__ import annotations

import functools
import logging
import re

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.tokens import TokenType

from factorybrain.exceptions import StoreError
from factorybrain.store._catalog import column_types

# sqlglot warns on the log when it passes a statement through as it is (EXPLAIN): not a problem.
logging.getLogger("sqlglot").setLevel(logging.ERROR)

#: What DuckDB's time_bucket counts buckets from when no origin is given (Monday 2000-01-03).
_BUCKET_ORIGIN = "2000-01-03 00:00:00"

#: Marks a parameter in the generated text until ``%`` has been doubled.
_MARK = "__fb_param_{}__"
_MARKED = re.compile(r"'?__fb_param_(\w+?)__'?")


@functools.lru_cache(maxsize=4096)
def to_postgres(sql: str) -> str:
    """Return ``sql`` (DuckDB's dialect) in PostgreSQL's, parameters in psycopg's style.

    Raises:
        StoreError: If the text does not parse, or uses what PostgreSQL cannot express.
    """
    text, names = _name_parameters(sql)
    try:
        statements = sqlglot.parse(text, read="duckdb")
    except SqlglotError as error:
        raise StoreError(f"cannot read the query for PostgreSQL: {error}") from error
    if len(statements) != 1 or statements[0] is None:
        raise StoreError(f"expected one SQL statement, found {len(statements)}")
    tree = statements[0]
    for transform in (
        _star_exclude,
        _group_by_all,
        _semi_joins,
        _arg_extremes,
        _any_value,
        _functions,
    ):
        tree = tree.transform(transform, copy=False)
    assert isinstance(tree, exp.Expression)
    _name_subqueries(tree)
    try:
        generated = tree.sql(dialect="postgres", unsupported_level=sqlglot.ErrorLevel.RAISE)
    except SqlglotError as error:
        raise StoreError(f"PostgreSQL has no counterpart for part of the query: {error}") from error
    generated = generated.replace("%", "%%")
    return _MARKED.sub(lambda m: _placeholder(m.group(1), names), generated)


def _placeholder(name: str, names: dict[str, str]) -> str:
    original = names[name]
    return "%s" if original.isdigit() else f"%({original})s"


def _name_parameters(sql: str) -> tuple[str, dict[str, str]]:
    """Replace ``?`` and ``$name`` by string markers sqlglot carries through untouched.

    ``?`` are numbered in order (psycopg's ``%s`` are positional too). A marker is a string
    literal, so a cast such as ``?::TIMESTAMP`` stays a cast.
    """
    try:
        tokens = sqlglot.Dialect.get_or_raise("duckdb").tokenize(sql)
    except SqlglotError as error:
        raise StoreError(f"cannot read the query for PostgreSQL: {error}") from error
    pieces: list[str] = []
    names: dict[str, str] = {}
    position = counter = 0
    skip = False
    for index, token in enumerate(tokens):
        if skip:
            skip = False
            continue
        if token.token_type in (TokenType.PLACEHOLDER, TokenType.QDCOLON) and token.text in (
            "?",
            "?::",
        ):
            counter += 1
            key, start, end = f"p{counter}", token.start, token.start + 1
            names[key] = str(counter)
        elif token.token_type == TokenType.PARAMETER and index + 1 < len(tokens):
            following = tokens[index + 1]
            if following.start != token.end + 1:
                continue
            key, start, end = f"n{following.text}", token.start, following.end + 1
            names[key] = following.text
            skip = True
        else:
            continue
        pieces.append(sql[position:start])
        pieces.append("'" + _MARK.format(key) + "'")
        position = end
    pieces.append(sql[position:])
    return "".join(pieces), names


def _star_exclude(node: exp.Expression) -> exp.Expression:
    """``* EXCLUDE (a, b)`` over one table of the model as the list of its other columns."""
    if not isinstance(node, exp.Select):
        return node
    expanded: list[exp.Expression] = []
    changed = False
    for projection in node.expressions:
        star = projection.this if isinstance(projection, exp.Column) else projection
        excluded = star.args.get("except_") if isinstance(star, exp.Star) else None
        if not excluded:
            expanded.append(projection)
            continue
        source = node.args.get("from_") or node.args.get("from")
        table = source.this if source is not None else None
        if not isinstance(table, exp.Table) or node.args.get("joins"):
            raise StoreError("'* EXCLUDE' is read for one table of the model, without joins")
        dropped = {column.name for column in excluded}
        qualifier = projection.table if isinstance(projection, exp.Column) else None
        expanded.extend(
            exp.column(name, table=qualifier or None, quoted=True)
            for name in column_types(table.name)
            if name not in dropped
        )
        changed = True
    if changed:
        node.set("expressions", expanded)
    return node


def _is_aggregate(node: exp.Expression) -> bool:
    for found in node.find_all(exp.AggFunc):
        if found.find_ancestor(exp.Window) is None:
            return True
    return False


def _group_by_all(node: exp.Expression) -> exp.Expression:
    """``GROUP BY ALL`` and ``ORDER BY ALL`` as the positions they stand for."""
    if not isinstance(node, exp.Select):
        return node
    group = node.args.get("group")
    if isinstance(group, exp.Group) and group.args.get("all"):
        positions = [
            exp.Literal.number(i + 1)
            for i, projection in enumerate(node.expressions)
            if not _is_aggregate(projection) and projection.find(exp.Window) is None
        ]
        node.set("group", exp.Group(expressions=positions) if positions else None)
    order = node.args.get("order")
    if isinstance(order, exp.Order) and any(
        isinstance(o.this, exp.Var | exp.Column) and o.this.name.upper() == "ALL"
        for o in order.expressions
    ):
        ordered = order.expressions[0]
        node.set(
            "order",
            exp.Order(
                expressions=[
                    exp.Ordered(
                        this=exp.Literal.number(i + 1),
                        desc=ordered.args.get("desc"),
                        nulls_first=ordered.args.get("nulls_first"),
                    )
                    for i in range(len(node.expressions))
                ]
            ),
        )
    return node


def _source_name(source: exp.Expression) -> str:
    alias = source.alias_or_name
    if not alias:
        raise StoreError(f"a SEMI JOIN needs a named table on its left, found {source.sql()}")
    return alias


def _semi_joins(node: exp.Expression) -> exp.Expression:
    """``a SEMI JOIN b ON ...`` as ``WHERE EXISTS (SELECT 1 FROM b WHERE ...)`` (ANTI: NOT)."""
    if not isinstance(node, exp.Select):
        return node
    joins = node.args.get("joins") or []
    kept = []
    for join in joins:
        kind = (join.args.get("kind") or "").upper()
        if kind not in ("SEMI", "ANTI"):
            kept.append(join)
            continue
        right = join.this
        condition = join.args.get("on")
        using = join.args.get("using")
        if condition is None and using:
            left_source = (
                node.args["from_"].this if "from_" in node.args else node.args["from"].this
            )
            left = _source_name(left_source)
            right_name = _source_name(right)
            condition = exp.and_(
                *(
                    exp.EQ(
                        this=exp.column(column.name, table=left),
                        expression=exp.column(column.name, table=right_name),
                    )
                    for column in using
                )
            )
        if condition is None:
            raise StoreError(f"a {kind} JOIN without ON or USING cannot be read: {join.sql()}")
        exists: exp.Expression = exp.Exists(
            this=exp.select("1").from_(right.copy()).where(condition.copy())
        )
        if kind == "ANTI":
            exists = exp.Not(this=exists)
        node.where(exists, copy=False)
    node.set("joins", kept or None)
    return node


def _arg_extremes(node: exp.Expression) -> exp.Expression:
    """``arg_max(a, b)`` as the first of ``a`` ordered by ``b`` (rows with ``b`` NULL left out)."""
    if not isinstance(node, exp.ArgMax | exp.ArgMin) or node.find_ancestor(exp.Window):
        return node
    value, key = node.this, node.expression
    ordered = exp.Ordered(this=key.copy(), desc=isinstance(node, exp.ArgMax), nulls_first=False)
    aggregate = exp.ArrayAgg(this=exp.Order(this=value.copy(), expressions=[ordered]))
    filtered = exp.Filter(
        this=aggregate,
        expression=exp.Where(this=exp.Not(this=exp.Is(this=key.copy(), expression=exp.null()))),
    )
    return exp.Bracket(this=exp.Paren(this=filtered), expressions=[exp.Literal.number(1)], offset=1)


def _first_of(value: exp.Expression, *, skip_nulls: bool) -> exp.Expression:
    """The first of ``value``'s values in the group, as an array's first element."""
    aggregate: exp.Expression = exp.ArrayAgg(this=value.copy())
    if skip_nulls:
        aggregate = exp.Filter(
            this=aggregate,
            expression=exp.Where(
                this=exp.Not(this=exp.Is(this=value.copy(), expression=exp.null()))
            ),
        )
    return exp.Bracket(
        this=exp.Paren(this=aggregate), expressions=[exp.Literal.number(1)], offset=1
    )


def _any_value(node: exp.Expression) -> exp.Expression:
    """``any_value(x)`` (which skips NULLs in DuckDB; PostgreSQL 15 has none) and ``first(x)``."""
    if isinstance(node, exp.Window) and isinstance(
        node.this, exp.IgnoreNulls | exp.AnyValue | exp.First
    ):
        inner = node.this.this if isinstance(node.this, exp.IgnoreNulls) else node.this
        first = _first_of(inner.this, skip_nulls=not isinstance(inner, exp.First))
        assert isinstance(first, exp.Bracket)
        window = node.copy()
        window.set("this", first.this.this)  # the aggregate, inside the window
        return exp.Bracket(
            this=exp.Paren(this=window), expressions=[exp.Literal.number(1)], offset=1
        )
    if isinstance(node, exp.IgnoreNulls) and isinstance(node.this, exp.AnyValue):
        return _first_of(node.this.this, skip_nulls=True)
    if isinstance(node, exp.AnyValue) and not isinstance(node.parent, exp.IgnoreNulls):
        return _first_of(node.this, skip_nulls=True)
    if isinstance(node, exp.First):
        return _first_of(node.this, skip_nulls=False)
    return node


def _name_subqueries(tree: exp.Expression) -> None:
    """A name for every subquery in FROM or JOIN (PostgreSQL 15 wants one, DuckDB does not)."""
    unnamed = [
        node
        for node in tree.find_all(exp.Subquery)
        if not node.alias and isinstance(node.parent, exp.From | exp.Join)
    ]
    for number, node in enumerate(unnamed, start=1):
        node.set("alias", exp.TableAlias(this=exp.to_identifier(f"_subquery{number}")))


def _extract(part: str, value: exp.Expression) -> exp.Expression:
    return exp.Extract(this=exp.var(part), expression=value.copy())


#: Expressions that are true or false whatever their operands.
_PREDICATES = (exp.Predicate, exp.Not, exp.And, exp.Or, exp.Boolean)


def _boolean(node: exp.Expression) -> bool:
    inner = node.this if isinstance(node, exp.Paren) else node
    return isinstance(inner, _PREDICATES)


def _functions(node: exp.Expression) -> exp.Expression:
    """DuckDB functions that sqlglot leaves in words PostgreSQL reads otherwise."""
    if isinstance(node, exp.Max | exp.Min) and _boolean(node.this) and not node.expressions:
        # DuckDB orders booleans (false < true); PostgreSQL has bool_or and bool_and for them.
        kind = exp.LogicalOr if isinstance(node, exp.Max) else exp.LogicalAnd
        return kind(this=node.this.copy())
    if isinstance(node, exp.Sum | exp.Avg) and _boolean(node.this):
        return type(node)(this=exp.cast(node.this.copy(), "int"))
    if isinstance(node, exp.DateBin):
        # sqlglot keeps time_bucket's third argument (the origin) as "unit", and a bare column
        # there as a name; without one, DuckDB counts from Monday 2000-01-03, and date_bin
        # needs it said.
        origin = node.args.get("unit") or node.args.get("origin")
        if isinstance(origin, exp.Var):
            origin = exp.column(origin.name)
        if origin is None:
            origin = exp.cast(exp.Literal.string(_BUCKET_ORIGIN), "timestamp")
        return exp.Anonymous(
            this="date_bin", expressions=[node.this.copy(), node.expression.copy(), origin.copy()]
        )
    if isinstance(node, exp.IsNan | exp.IsInf):
        values: tuple[str, ...] = (
            ("NaN",) if isinstance(node, exp.IsNan) else ("Infinity", "-Infinity")
        )
        return exp.Paren(
            this=exp.In(
                this=node.this.copy(),
                expressions=[exp.cast(exp.Literal.string(v), "double") for v in values],
            )
        )
    parts: dict[type[exp.Expression], str] = {
        exp.Hour: "hour",
        exp.Minute: "minute",
        exp.DayOfWeek: "dow",
        exp.DayOfWeekIso: "isodow",
    }
    for part_of, part in parts.items():
        if type(node) is part_of:
            return exp.cast(_extract(part, node.this), "bigint")
    if isinstance(node, exp.RegexpFullMatch):
        pattern = exp.Concat(
            expressions=[
                exp.Literal.string("^(?:"),
                node.expression.copy(),
                exp.Literal.string(")$"),
            ]
        )
        return exp.RegexpLike(this=node.this.copy(), expression=exp.Paren(this=pattern))
    if isinstance(node, exp.RegexpExtract):
        group = node.args.get("group")
        index = int(group.name) if isinstance(group, exp.Literal) else 0
        matched = exp.Anonymous(
            this="regexp_match", expressions=[node.this.copy(), node.expression.copy()]
        )
        if index == 0:
            # The whole match: the pattern as one group around everything.
            whole = exp.Concat(
                expressions=[
                    exp.Literal.string("("),
                    node.expression.copy(),
                    exp.Literal.string(")"),
                ]
            )
            matched = exp.Anonymous(this="regexp_match", expressions=[node.this.copy(), whole])
            index = 1
        # DuckDB gives '' where nothing matches.
        return exp.Coalesce(
            this=exp.Bracket(
                this=exp.Paren(this=matched), expressions=[exp.Literal.number(index)], offset=1
            ),
            expressions=[exp.Literal.string("")],
        )
    if isinstance(node, exp.Split):
        return exp.Anonymous(
            this="string_to_array", expressions=[node.this.copy(), node.expression.copy()]
        )
    if isinstance(node, exp.Mode):
        return exp.WithinGroup(
            this=exp.Anonymous(this="mode", expressions=[]),
            expression=exp.Order(expressions=[exp.Ordered(this=node.this.copy())]),
        )
    if isinstance(node, exp.Contains):
        return exp.GT(
            this=exp.Anonymous(
                this="strpos", expressions=[node.this.copy(), node.expression.copy()]
            ),
            expression=exp.Literal.number(0),
        )
    if isinstance(node, exp.DateFromParts):
        return exp.Anonymous(
            this="make_date",
            expressions=[
                node.args["year"].copy(),
                node.args["month"].copy(),
                node.args["day"].copy(),
            ],
        )
    if isinstance(node, exp.TryCast):
        return exp.Cast(this=node.this.copy(), to=node.args["to"].copy())
    if isinstance(node, exp.Anonymous):
        name = node.name.lower()
        args = node.expressions
        if name == "epoch" and len(args) == 1:
            return exp.Extract(this=exp.var("epoch"), expression=args[0])
        if name == "isfinite" and len(args) == 1:
            specials = [
                exp.cast(exp.Literal.string(v), "double") for v in ("NaN", "Infinity", "-Infinity")
            ]
            return exp.Paren(this=exp.Not(this=exp.In(this=args[0].copy(), expressions=specials)))
    return node
