"""Keep the SQL that :meth:`Store.query` runs read-only and inside the factory model.

``Store.query`` runs SQL that users write (the ``factorybrain query`` command) as well as SQL the
package builds. A statement passes only if DuckDB's own parser says it is one SELECT (or an
``EXPLAIN`` of one, without ``ANALYZE``), and if its syntax tree, from ``json_serialize_sql``,
reaches nothing outside the database: every table it names is a table or view of the factory
model or a common table expression in scope (any other name makes DuckDB read a file of that
name), every table function is on :data:`ALLOWED_TABLE_FUNCTIONS`, and every other function is
built into DuckDB and not on :data:`REFUSED_FUNCTIONS` (an unknown one could install an
extension). Text is never matched: comments, quoting and ``;`` are the parser's business.

The verdict on a text is kept in an LRU cache (parameters travel apart from the text, so the
package's own statements are few), which leaves a dictionary lookup and a set difference per
call; which names are tables is looked up per database (:class:`TableCatalog`).
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import duckdb

from factorybrain.exceptions import StoreError

#: Table functions a query may call: they make rows out of their arguments and touch nothing else.
ALLOWED_TABLE_FUNCTIONS = frozenset(
    {"range", "generate_series", "unnest", "json_each", "json_tree"}
)

#: Functions built into DuckDB that a query may not call, and why. Builtin macros whose bodies
#: call one of these or a table function (e.g. ``pg_get_viewdef``) are refused as well.
REFUSED_FUNCTIONS: dict[str, str] = {
    "getenv": "reads the environment of the server process",
    "current_setting": "reads the database's settings, which name directories and files",
    "getvariable": "reads the session's variables",
    "nextval": "advances a sequence, which is a write",
    "setval": "sets a sequence, which is a write",
    "setseed": "changes the session's random seed",
    "write_log": "writes to DuckDB's log",
    "sleep_ms": "stalls the connection",
    "json_serialize_plan": "plans the query it is given, and planning may read files",
    "json_execute_serialized_sql": "runs a query this check cannot see",
}

#: Names the parser produces for calls that are not in ``duckdb_functions()``.
_PARSER_FUNCTIONS = frozenset({"unnest", "unlist"})

#: ``SHOW`` forms (the parser's table names) that list the catalog and nothing else.
_SHOW_SPECIAL = frozenset({'"tables"', "__show_tables_expanded", '"databases"'})

#: Views of DuckDB's catalog that name tables and columns only (the package reads them too).
_SYSTEM_VIEWS = (("information_schema", "tables"), ("information_schema", "columns"))

_TABLE_REFS = frozenset(
    {"BASE_TABLE", "JOIN", "SUBQUERY", "TABLE_FUNCTION", "EMPTY", "EXPRESSION_LIST", "PIVOT"}
    | {"SHOW_REF"}
)
_QUERY_NODES = frozenset({"SELECT_NODE", "SET_OPERATION_NODE", "RECURSIVE_CTE_NODE"})

_STATEMENT_REASONS = {
    "INSERT": "write rows",
    "UPDATE": "write rows",
    "DELETE": "delete rows",
    "MERGE_INTO": "write rows",
    "CREATE": "change the schema",
    "CREATE_FUNC": "change the schema",
    "ALTER": "change the schema",
    "DROP": "change the schema",
    "COPY": "read or write files",
    "EXPORT": "write files",
    "COPY_DATABASE": "write another database",
    "ATTACH": "open other database files",
    "DETACH": "change the attached databases",
    "LOAD": "install or load extensions",
    "EXTENSION": "install or load extensions",
    "PRAGMA": "read or change settings and files",
    "SET": "change settings",
    "VARIABLE_SET": "set variables",
    "CALL": "run procedures",
    "VACUUM": "rewrite the database",
    "ANALYZE": "rewrite the database's statistics",
    "TRANSACTION": "control transactions",
    "PREPARE": "prepare other statements",
    "EXECUTE": "run prepared statements",
    "MULTI": "run several statements",
}

#: Reasons where the first keyword says more than the statement type (CHECKPOINT is a CALL).
_KEYWORD_REASONS = {
    "checkpoint": "write the database file",
    "force": "install or load extensions",
    "import": "read files into the database",
    "use": "change the default database",
}

_ONLY_TABLES = "queries may read only the factory model's tables"
_READ_ONLY = "queries are read-only: one SELECT (or WITH, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN)"

#: A table name as written: (catalog, schema, name), lower case, "" for a part not written.
TableName = tuple[str, str, str]


@dataclass(frozen=True)
class Verdict:
    """What the check found in one SQL text.

    Attributes:
        refusal: Why the text is refused, or None.
        tables: The table names it reads (common table expressions left out): they must be
            tables of the database it runs against (see :class:`TableCatalog`).
    """

    refusal: str | None = None
    tables: frozenset[TableName] = frozenset()


class _Refused(Exception):
    """Stops the walk: the message says what was refused and why."""


# -- the parser ----------------------------------------------------------------------------------
_parser_lock = threading.Lock()


@functools.cache
def _parser() -> duckdb.DuckDBPyConnection:
    """A private in-memory database that parses SQL (and never reads a file or installs)."""
    return duckdb.connect(
        ":memory:",
        config={
            "enable_external_access": False,
            "autoload_known_extensions": False,
            "autoinstall_known_extensions": False,
        },
    )


def _serialize(sql: str) -> dict[str, Any]:
    """The syntax tree of a SELECT statement, as DuckDB's ``json_serialize_sql`` writes it."""
    with _parser_lock:
        [(text,)] = _parser().execute("SELECT json_serialize_sql(?)", [sql]).fetchall()
    tree: dict[str, Any] = json.loads(text)
    if tree.get("error"):
        raise _Refused(f"cannot check the query: {tree.get('error_message', 'unknown error')}")
    return tree


def syntax_tree(sql: str) -> dict[str, Any]:
    """The syntax tree DuckDB's own parser makes of ``sql`` (``json_serialize_sql``).

    For checks of SQL written elsewhere (the expressions of mapping files), on the same private
    parser that never reads a file.

    Raises:
        StoreError: The text does not parse as one SELECT; the message is the parser's.
    """
    try:
        return _serialize(sql)
    except _Refused as refused:
        raise StoreError(str(refused)) from None


@dataclass(frozen=True)
class _Functions:
    """DuckDB's builtin functions: those a query may call, those refused, the table functions."""

    allowed: frozenset[str]
    refused: dict[str, str]
    table: frozenset[str]


@functools.cache
def _functions() -> _Functions:
    """Read DuckDB's builtin functions once per process; check the bodies of builtin macros."""
    with _parser_lock:
        rows = (
            _parser()
            .execute("SELECT DISTINCT function_name, function_type FROM duckdb_functions()")
            .fetchall()
        )
        macros = (
            _parser()
            .execute(
                "SELECT function_name, json_serialize_sql('SELECT ' || macro_definition) "
                "FROM duckdb_functions() WHERE function_type = 'macro'"
            )
            .fetchall()
        )
    callable_types = {"scalar", "aggregate", "window", "macro"}
    names = frozenset(name.lower() for name, kind in rows if kind in callable_types)
    table = frozenset(name.lower() for name, kind in rows if kind not in callable_types)
    bodies: dict[str, _Walk] = {}
    for name, text in macros:
        tree = json.loads(text)
        body = bodies.setdefault(name.lower(), _Walk())
        if tree.get("error"):
            body.problems.append("has a body this check cannot read")
        else:
            body.visit(tree["statements"], frozenset())
    functions = _Functions(names | _PARSER_FUNCTIONS, dict(REFUSED_FUNCTIONS), table)
    changed = True
    while changed:  # a macro is refused if its body calls something refused (a macro too)
        changed = False
        for name, body in bodies.items():
            found = None if name in functions.refused else body.refusal(functions)
            if found is not None:
                subject, reason = found
                functions.refused[name] = f"is a macro that {_as_verb(subject, reason)}"
                changed = True
    return _Functions(
        functions.allowed - functions.refused.keys(), functions.refused, functions.table
    )


def _as_verb(subject: str, reason: str) -> str:
    """Turn a refusal into what a macro body does: 'calls the function x, which reads ...'."""
    if subject.startswith("the table "):
        return f"reads {subject}"
    if subject == "the query":
        return reason
    return f"calls {subject}, which {reason}"


# -- the walk over the syntax tree ---------------------------------------------------------------
@dataclass
class _Walk:
    """What a syntax tree calls and reads, in the order met."""

    functions: list[str] = field(default_factory=list)
    table_functions: list[str] = field(default_factory=list)
    tables: list[TableName] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def refusal(self, functions: _Functions) -> tuple[str, str] | None:
        """The first thing met that is refused, as (what, why), tables left out."""
        if self.problems:
            return "the query", self.problems[0]
        for name in self.table_functions:
            if name not in ALLOWED_TABLE_FUNCTIONS:
                return f"the table function {name}", _table_function_reason(name)
        for name in self.functions:
            if name in functions.refused:
                return f"the function {name}", functions.refused[name]
            if name in functions.allowed:
                continue
            if name in functions.table:
                return f"the table function {name}", _table_function_reason(name)
            return name, "is not a function built into DuckDB (it could install an extension)"
        return None

    def visit(self, value: Any, scope: frozenset[str]) -> None:
        """Walk ``value`` (any part of the tree); ``scope`` holds the CTE names visible there."""
        if isinstance(value, list):
            for item in value:
                self.visit(item, scope)
            return
        if not isinstance(value, dict):
            return
        skip: set[str] = set()
        ctes = value.get("cte_map")
        if isinstance(ctes, dict):
            scope = self._ctes(ctes.get("map") or [], scope)
            skip.add("cte_map")
        kind = value.get("type")
        if "class" in value:  # an expression
            if value["class"] in ("FUNCTION", "WINDOW"):
                self.functions.append(str(value.get("function_name", "")).lower())
        elif "modifiers" in value:  # a query node
            if kind not in _QUERY_NODES:
                self.problems.append(f"uses a part of SQL this check does not know ({kind})")
            elif kind == "RECURSIVE_CTE_NODE":
                # The recursive term sees the CTE itself; the anchor does not.
                self.visit(value.get("left"), scope)
                self.visit(value.get("right"), scope | {str(value.get("cte_name", "")).lower()})
                skip |= {"left", "right"}
        elif "sample" in value:  # a table reference
            self._table_ref(value, scope, skip)
        for key, item in value.items():
            if key not in skip and isinstance(item, (dict, list)):
                self.visit(item, scope)

    def _ctes(self, entries: list[dict[str, Any]], scope: frozenset[str]) -> frozenset[str]:
        """Walk the CTEs of a WITH clause in order: each sees the ones before it, not itself."""
        for entry in entries:
            self.visit(entry.get("value"), scope)
            scope = scope | {str(entry.get("key", "")).lower()}
        return scope

    def _table_ref(self, ref: dict[str, Any], scope: frozenset[str], skip: set[str]) -> None:
        kind = ref.get("type")
        if kind not in _TABLE_REFS:
            self.problems.append(f"uses a part of SQL this check does not know ({kind})")
        elif kind == "BASE_TABLE":
            name = _table_name(ref)
            if name[:2] != ("", "") or name[2] not in scope:
                self.tables.append(name)
        elif kind == "TABLE_FUNCTION":
            function = ref.get("function") or {}
            self.table_functions.append(str(function.get("function_name", "")).lower())
            for item in function.values():  # the arguments, without the call itself
                if isinstance(item, (dict, list)):
                    self.visit(item, scope)
            skip.add("function")
        elif kind == "SHOW_REF" and ref.get("table_name"):
            if ref.get("show_type") != "SHOW_SPECIAL":
                self.tables.append(_table_name(ref))
            elif ref["table_name"] not in _SHOW_SPECIAL:
                self.problems.append(f"shows {ref['table_name']}, which is not a table")


def _table_name(ref: dict[str, Any]) -> TableName:
    return (
        str(ref.get("catalog_name") or "").lower(),
        str(ref.get("schema_name") or "").lower(),
        str(ref.get("table_name") or "").lower(),
    )


def _dotted(name: TableName) -> str:
    return ".".join(part for part in name if part)


def _table_function_reason(name: str) -> str:
    """Why a table function is refused, for the message."""
    if name in ("query", "query_table"):
        return "runs SQL given as a string, which this check cannot see"
    if name in ("checkpoint", "force_checkpoint"):
        return "writes the database file"
    if (
        name.startswith(("read_", "parquet_", "st_read", "sqlite_", "postgres_", "mysql_"))
        or name.endswith("_scan")
        or name in ("glob", "sniff_csv", "iceberg_metadata", "iceberg_snapshots")
    ):
        return "reads files"
    if name.startswith(("duckdb_", "pragma_")) or name in ("which_secret", "test_all_types"):
        return "reads DuckDB's internals (settings, file paths, extensions, secrets)"
    if name.startswith(("enable_", "disable_", "truncate_", "register_", "deregister_")) or (
        name.startswith(("create_", "destroy_", "add_", "remove_"))
    ):
        return "changes the database's configuration"
    allowed = ", ".join(sorted(ALLOWED_TABLE_FUNCTIONS))
    return f"is not one that queries may call ({allowed})"


# -- statements ----------------------------------------------------------------------------------
def _tokens(sql: str) -> Iterator[tuple[int, str]]:
    """DuckDB's tokens of ``sql`` without comments: (byte offset, text), the text lower case."""
    data = sql.encode()
    found = [(start, kind) for start, kind in duckdb.tokenize(sql)]
    ends = [start for start, _ in found[1:]] + [len(data)]
    for (start, kind), end in zip(found, ends, strict=True):
        if kind != duckdb.token_type.comment:
            yield start, data[start:end].decode(errors="replace").strip().lower()


def _statement(sql: str, *, explained: bool = False) -> Verdict:
    """Check the one statement ``sql`` holds (``explained``: the statement after EXPLAIN)."""
    try:
        with _parser_lock:
            statements = _parser().extract_statements(sql)
        kinds = [statement.type.name for statement in statements]
    except (duckdb.Error, ValueError) as error:
        first_line = next(iter(str(error).splitlines()), "")
        return Verdict(f"refused: cannot parse the query: {first_line}")
    if not kinds:
        return Verdict("refused: the query is empty")
    if len(kinds) > 1:
        return Verdict(
            f"refused: found {len(kinds)} SQL statements ({', '.join(kinds)}); {_READ_ONLY}"
        )
    [kind] = kinds
    if kind == "EXPLAIN" and not explained:
        return _explain(sql)
    if kind != "SELECT":
        keyword = next((word for _, word in _tokens(sql)), kind.lower())
        if explained:
            return Verdict(f"refused: EXPLAIN may explain only a SELECT, found {keyword.upper()}")
        if kind == "MULTI":  # a PIVOT without IN list, which first creates an ENUM type
            return Verdict(
                f"refused: this {keyword.upper()} runs several statements (list the values "
                f"to pivot on: ON column IN (...)); {_READ_ONLY}"
            )
        reason = _KEYWORD_REASONS.get(keyword) or _STATEMENT_REASONS.get(kind, "are not queries")
        name = kind.replace("_", " ") if keyword == "with" else keyword.upper()
        return Verdict(f"refused: {name} statements {reason}; {_READ_ONLY}")
    try:
        tree = _serialize(sql)
    except _Refused as refused:
        return Verdict(f"refused: {refused}")
    walk = _Walk()
    walk.visit(tree.get("statements", []), frozenset())
    found = walk.refusal(_functions())
    if found is not None:
        subject, reason = found
        return Verdict(f"refused: {subject} {reason}; {_ONLY_TABLES}")
    return Verdict(tables=frozenset(walk.tables))


def _explain(sql: str) -> Verdict:
    """Check an EXPLAIN: the statement it explains must pass, and it must not be ANALYZE."""
    tokens = list(_tokens(sql))
    if len(tokens) < 2 or tokens[0][1] != "explain":
        return Verdict("refused: cannot parse the EXPLAIN statement")
    start, word = tokens[1]
    if word in ("analyze", "analyse"):
        return Verdict(
            "refused: EXPLAIN ANALYZE runs the statement it explains; use EXPLAIN without ANALYZE"
        )
    return _statement(sql.encode()[start:].decode(), explained=True)


@functools.lru_cache(maxsize=4096)
def verdict(sql: str) -> Verdict:
    """Check one SQL text once (the answer is cached): the statement type, functions, files.

    Args:
        sql: The text as it will run, parameters left as placeholders.

    Returns:
        The refusal, or the table names the text reads (to check with :class:`TableCatalog`).
    """
    return _statement(sql)


# -- the tables of one database ------------------------------------------------------------------
class TableCatalog:
    """The table names that resolve to a table or view of one DuckDB connection.

    Any other name in FROM makes DuckDB look for a file (or a Python variable) of that name, so
    the guard lets a query through only if all its names are here. The names are read from the
    connection when ``key`` changes (a number that grows when tables may have been created or
    dropped) and again when a query names a table not seen yet (e.g. a new temporary table).
    """

    def __init__(self) -> None:
        # (key, names), replaced as a whole so that a thread never sees a key with old names.
        self._state: tuple[object, frozenset[TableName]] = (object(), frozenset())

    def missing(
        self,
        names: frozenset[TableName],
        connection: duckdb.DuckDBPyConnection,
        key: object,
    ) -> TableName | None:
        """Return a name of ``names`` that is not a table of ``connection`` (None: all are)."""
        seen_key, known = self._state
        if key == seen_key and names <= known:
            return None
        known = self._read(connection)
        self._state = (key, known)
        unknown = names - known
        return min(unknown) if unknown else None

    @staticmethod
    def _read(connection: duckdb.DuckDBPyConnection) -> frozenset[TableName]:
        """Every spelling that names a table or view of ``connection`` (catalog, schema, name)."""
        rows = connection.execute(
            """
            SELECT database_name, schema_name, table_name FROM duckdb_tables() WHERE NOT internal
            UNION ALL
            SELECT database_name, schema_name, view_name FROM duckdb_views() WHERE NOT internal
            """
        ).fetchall()
        [(default,)] = connection.execute("SELECT current_database()").fetchall()
        default = default.lower()
        tables = [(d.lower(), s.lower(), t.lower()) for d, s, t in rows]
        tables += [(default, schema, name) for schema, name in _SYSTEM_VIEWS]
        names: set[TableName] = set()
        for database, schema, name in tables:
            names.add((database, schema, name))
            if database == default:
                names.add(("", schema, name))
            if schema == "main":
                names.add(("", database, name))  # catalog.name
                if database in (default, "temp"):
                    names.add(("", "", name))
        return frozenset(names)


def check_read_only(
    sql: str,
    connection: duckdb.DuckDBPyConnection,
    catalog: TableCatalog,
    key: object,
) -> None:
    """Refuse ``sql`` unless it is one read-only SELECT over the tables of ``connection``.

    Args:
        sql: The statement, parameters left as placeholders.
        connection: The connection it will run on (to look up its tables).
        catalog: The table names of that connection, kept between calls.
        key: A number that changes when tables may have been created or dropped.

    Raises:
        StoreError: The statement is refused; the message says what and why.
    """
    found = verdict(sql)
    if found.refusal is not None:
        raise StoreError(found.refusal)
    if found.tables:
        name = catalog.missing(found.tables, connection, key)
        if name is not None:
            raise StoreError(
                f"refused: {_dotted(name)} is not a table of the factory model (DuckDB would "
                f"look for a file of that name); {_ONLY_TABLES}"
            )
