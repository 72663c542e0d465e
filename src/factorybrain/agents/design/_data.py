"""What the design agent reads: each product's runs, with their parameters and outcomes, and recipe.

A **run** is one work order: what it was set to and what came out of it.

* **Parameters** of a run are its operations' process parameters: ``operation_parameter`` rows
  (the value as run, else the setpoint) or the ``parameters`` JSON of the ``operation``
  (``{name: value}`` or ``{name: {setpoint, actual}}``); a parameter set on several operations
  of one order is averaged.
* **Outcomes** of a run are the ``quality_result`` values of the serial units it produced
  (``serial_unit.work_order``, else a ``produced`` edge), averaged per test, and its **yield**:
  the share of its tested units without a failed verdict (``status = 'fail'`` on any test).
  A test that carries the name of a process parameter measures the process, not its outcome,
  and is left out of the outcomes.
* The **recipe** of a product is its ``recipe`` row with parameter specifications
  (``{name: {setpoint, min, max}}``) valid at the moment looked at: the latest ``valid_from`` not
  after it. Silos name one product differently (the MES ``AC25-40`` is the engineering
  ``PU-AC2540``): two identifiers are one product when an approved annotation links them (both
  to one material, say) or when their products carry the same name.

Everything the data cannot give a model is a :class:`DataGap`, with the reason in words.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from factorybrain.exceptions import StoreError
from factorybrain.store import Store

#: Name of the yield outcome: share of a run's tested units that failed no test.
YIELD = "yield"
#: Verdicts that fail a unit.
FAIL_STATUSES = ("fail", "failed", "rejected", "nok")


@dataclass(frozen=True)
class ParameterSpec:
    """One parameter of a recipe: its setpoint and specification limits (None: not given)."""

    setpoint: float | None
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class Recipe:
    """A product's recipe revision with parameter specifications.

    Attributes:
        space: Space of the recipe row.
        external_id: Its external id.
        product: The product as the recipe names it.
        version: Its version or revision label.
        valid_from: From when it applies (None: always).
        parameters: Parameter name -> :class:`ParameterSpec`.
        raw_parameters: The specifications as stored (kept for a new revision).
    """

    space: str
    external_id: str
    product: str
    version: str | None
    valid_from: datetime | None
    parameters: dict[str, ParameterSpec]
    raw_parameters: dict[str, Any]


@dataclass(frozen=True)
class DataGap:
    """Something in the data that keeps a model from being learned, and why.

    Attributes:
        product: The product concerned.
        reason: Short code: ``no_runs``, ``too_few_runs``, ``no_outcome``, ``no_variation``,
            ``not_linked``, ``no_objective``.
        text: One sentence a process engineer can act on.
        numbers: Figures behind it.
    """

    product: str
    reason: str
    text: str
    numbers: dict[str, float] = field(default_factory=dict)


@dataclass
class ProductHistory:
    """One product's runs, its recipe and what its data lacks.

    Attributes:
        product: The product as its runs name it.
        space: Space of the product's runs (their work orders' operations).
        identifiers: Every identifier the product goes by in the store.
        runs: One row per run (index: the work order): ``ended_at``, ``units`` (serial units
            with an outcome), one column per parameter (``param:<name>``, the value as run),
            per setpoint (``set:<name>``) and per outcome (``out:<name>``).
        parameters: Parameter names with a column in ``runs``.
        outcomes: Outcome names with a column in ``runs``.
        recipe: The recipe in force (None: the store has none with specifications).
        pending: A revision that takes effect after the moment looked at (a change already
            decided), if any.
        revisions: Every recipe revision of the product with specifications, oldest first.
        gaps: What the data lacks.
    """

    product: str
    space: str
    identifiers: tuple[str, ...]
    runs: pd.DataFrame
    parameters: list[str]
    outcomes: list[str]
    recipe: Recipe | None = None
    pending: Recipe | None = None
    revisions: list[Recipe] = field(default_factory=list)
    gaps: list[DataGap] = field(default_factory=list)


def _query(store: Store, sql: str, parameters: list[Any] | None = None) -> pd.DataFrame:
    try:
        return store.query(sql, parameters)
    except StoreError:  # a store without this entity table yet: nothing of that kind
        return pd.DataFrame()


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _json(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return None
    return value


def _timestamp(value: Any) -> datetime | None:
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    stamp = pd.Timestamp(value)
    if stamp is pd.NaT or pd.isna(stamp):
        return None
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert(None)
    return stamp.to_pydatetime()


# -- which identifiers name one product ----------------------------------------------------
class _Groups:
    """Union-find over identifiers."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, item: str) -> str:
        self.parent.setdefault(item, item)
        while self.parent[item] != item:
            self.parent[item] = self.parent[self.parent[item]]
            item = self.parent[item]
        return item

    def union(self, a: str, b: str) -> None:
        root_a, root_b = self.find(a), self.find(b)
        if root_a != root_b:
            self.parent[max(root_a, root_b)] = min(root_a, root_b)

    def members(self, item: str) -> set[str]:
        root = self.find(item)
        return {other for other in list(self.parent) if self.find(other) == root}


def _normalised_name(name: Any) -> str | None:
    text = re.sub(r"\s+", " ", str(name or "")).strip().lower()
    return text or None


def product_groups(store: Store) -> _Groups:
    """Identifiers that name one product: approved annotations, and products of one name."""
    groups = _Groups()
    links = _query(
        store,
        "SELECT source_identifier, target_external_id FROM annotation "
        "WHERE status = 'approved' AND target_type IN ('product', 'material') "
        "AND source_identifier IS NOT NULL AND target_external_id IS NOT NULL",
    )
    for row in links.itertuples(index=False):
        groups.union(str(row.source_identifier), str(row.target_external_id))
    products = _query(store, "SELECT external_id, name FROM product")
    by_name: dict[str, str] = {}
    for row in products.itertuples(index=False):
        groups.find(str(row.external_id))
        name = _normalised_name(row.name)
        if name is None:
            continue
        if name in by_name:
            groups.union(by_name[name], str(row.external_id))
        else:
            by_name[name] = str(row.external_id)
    return groups


# -- recipes -------------------------------------------------------------------------------
def _spec(value: Any) -> ParameterSpec | None:
    if isinstance(value, Mapping):
        setpoint = _number(value.get("setpoint", value.get("target", value.get("value"))))
        low = _number(value.get("min", value.get("low")))
        high = _number(value.get("max", value.get("high")))
        if setpoint is None and low is None and high is None:
            return None
        return ParameterSpec(setpoint, low, high)
    number = _number(value)
    return None if number is None else ParameterSpec(number)


def load_recipes(store: Store) -> list[Recipe]:
    """Every recipe row that carries parameter specifications."""
    rows = _query(
        store,
        "SELECT space, external_id, product, version, valid_from, parameters FROM recipe "
        "WHERE parameters IS NOT NULL",
    )
    recipes = []
    for row in rows.itertuples(index=False):
        raw = _json(row.parameters)
        if not isinstance(raw, Mapping) or row.product is None:
            continue
        specs = {str(name): spec for name, value in raw.items() if (spec := _spec(value))}
        if not specs:
            continue
        version = None if row.version is None or pd.isna(row.version) else str(row.version)
        recipes.append(
            Recipe(
                str(row.space),
                str(row.external_id),
                str(row.product),
                version,
                _timestamp(row.valid_from),
                specs,
                dict(raw),
            )
        )
    return recipes


def recipe_in_force(revisions: Iterable[Recipe], at: datetime | None) -> Recipe | None:
    """The revision valid at ``at``: the latest ``valid_from`` not after it (undated: oldest)."""
    ordered = sorted(revisions, key=_recipe_order)
    valid = [r for r in ordered if at is None or r.valid_from is None or r.valid_from <= at]
    return valid[-1] if valid else None


def recipe_pending(revisions: Iterable[Recipe], at: datetime | None) -> Recipe | None:
    """The first revision that takes effect after ``at`` (None: none is scheduled)."""
    if at is None:
        return None
    later = [r for r in revisions if r.valid_from is not None and r.valid_from > at]
    return min(later, key=_recipe_order) if later else None


def _recipe_order(recipe: Recipe) -> tuple[datetime, str, str]:
    return (recipe.valid_from or datetime.min, recipe.version or "", recipe.external_id)


# -- runs ----------------------------------------------------------------------------------
def _parameter_rows(store: Store) -> pd.DataFrame:
    """``work_order, space, parameter, actual, setpoint, ended_at`` of every operation."""
    frames = []
    rows = _query(
        store,
        """
        SELECT o.work_order, o.space, p.parameter,
               avg(coalesce(p.actual, p.setpoint)) AS actual, avg(p.setpoint) AS setpoint,
               max(coalesce(o.end_time, o.start_time)) AS ended_at
        FROM operation o
        JOIN operation_parameter p ON p.space = o.space AND p.operation = o.external_id
        WHERE coalesce(o.status, '') <> 'cancelled' AND p.parameter IS NOT NULL
          AND coalesce(p.actual, p.setpoint) IS NOT NULL
        GROUP BY ALL
        """,
    )
    if not rows.empty:
        frames.append(rows)
    with_json = _query(
        store,
        "SELECT work_order, space, parameters, coalesce(end_time, start_time) AS ended_at "
        "FROM operation WHERE parameters IS NOT NULL AND coalesce(status, '') <> 'cancelled'",
    )
    parsed = []
    for row in with_json.itertuples(index=False):
        values = _json(row.parameters)
        if not isinstance(values, Mapping):
            continue
        for name, value in values.items():
            if isinstance(value, Mapping):
                setpoint = _number(value.get("setpoint"))
                actual = _number(value.get("actual", value.get("value")))
                actual = setpoint if actual is None else actual
            else:
                setpoint = actual = _number(value)
            if actual is not None:
                parsed.append(
                    (row.work_order, row.space, str(name), actual, setpoint, row.ended_at)
                )
    if parsed:
        frames.append(
            pd.DataFrame(
                parsed,
                columns=["work_order", "space", "parameter", "actual", "setpoint", "ended_at"],
            )
        )
    if not frames:
        return pd.DataFrame(
            columns=["work_order", "space", "parameter", "actual", "setpoint", "ended_at"]
        )
    table = pd.concat(frames, ignore_index=True)
    return table.groupby(["work_order", "space", "parameter"], as_index=False).agg(
        actual=("actual", "mean"), setpoint=("setpoint", "mean"), ended_at=("ended_at", "max")
    )


def _outcome_rows(store: Store) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per work order: mean value of each test, and yield (units with a verdict, failed)."""
    fails = ", ".join(f"'{status}'" for status in FAIL_STATUSES)
    units = """
        units AS (
            SELECT s.external_id AS serial,
                   coalesce(any_value(s.work_order), any_value(e.source_external_id)) AS work_order
            FROM serial_unit s
            LEFT JOIN edge e ON e.edge_type = 'produced' AND e.target_external_id = s.external_id
            GROUP BY s.external_id
        )
    """
    tests = _query(
        store,
        f"""
        WITH {units}
        SELECT u.work_order, q.test_name,
               avg(q.value) AS value, count(q.value) AS units
        FROM quality_result q JOIN units u ON u.serial = q.serial_unit
        WHERE q.value IS NOT NULL AND isfinite(q.value) AND u.work_order IS NOT NULL
        GROUP BY u.work_order, q.test_name
        """,
    )
    verdicts = _query(
        store,
        f"""
        WITH {units},
        per_unit AS (
            SELECT q.serial_unit AS serial,
                   max(CASE WHEN lower(q.status) IN ({fails}) THEN 1 ELSE 0 END) AS failed
            FROM quality_result q WHERE q.status IS NOT NULL GROUP BY q.serial_unit
        )
        SELECT u.work_order, count(*) AS units,
               sum(p.failed) AS failed
        FROM per_unit p JOIN units u ON u.serial = p.serial
        WHERE u.work_order IS NOT NULL
        GROUP BY u.work_order
        """,
    )
    return tests, verdicts


def _run_products(store: Store, runs: Iterable[str]) -> dict[str, str]:
    """Product of each run: that of its serial units, else its work order's."""
    wanted = set(runs)
    products: dict[str, str] = {}
    units = _query(
        store,
        "SELECT work_order, mode(product) AS product FROM serial_unit "
        "WHERE work_order IS NOT NULL AND product IS NOT NULL GROUP BY work_order",
    )
    orders = _query(store, "SELECT external_id, product FROM work_order WHERE product IS NOT NULL")
    for frame, key in ((units, "work_order"), (orders, "external_id")):
        for row in frame.itertuples(index=False):
            run = str(getattr(row, key))
            if run in wanted:
                products.setdefault(run, str(row.product))
    return products


def load_process_history(
    store: Store, *, as_of: datetime | None = None, since: datetime | None = None
) -> list[ProductHistory]:
    """Read every product's runs (parameters and outcomes) and recipe from the store.

    Args:
        store: The factory store.
        as_of: The moment looked at: runs ending after it are left out, and the recipe in
            force is the one valid then (None: the end of the data).
        since: Leave out runs that ended before this moment.

    Returns:
        One :class:`ProductHistory` per product that has runs or a recipe, sorted by product.
    """
    parameters = _parameter_rows(store)
    tests, verdicts = _outcome_rows(store)
    if not parameters.empty:
        parameters["ended_at"] = pd.to_datetime(parameters["ended_at"])
        if as_of is not None:
            parameters = parameters[
                parameters["ended_at"].isna() | (parameters["ended_at"] <= pd.Timestamp(as_of))
            ]
        if since is not None:
            parameters = parameters[
                parameters["ended_at"].isna() | (parameters["ended_at"] >= pd.Timestamp(since))
            ]
    run_ids = sorted({str(w) for w in parameters["work_order"]}) if len(parameters) else []
    run_product = _run_products(store, run_ids)
    groups = product_groups(store)
    for product in set(run_product.values()):
        groups.find(product)
    recipes = load_recipes(store)
    recipes_by_group: dict[str, list[Recipe]] = defaultdict(list)
    for recipe in recipes:
        recipes_by_group[groups.find(recipe.product)].append(recipe)

    parameter_names = sorted(set(parameters["parameter"])) if len(parameters) else []
    histories: dict[str, ProductHistory] = {}
    by_product: dict[str, list[str]] = defaultdict(list)
    for run in run_ids:
        if run in run_product:
            by_product[run_product[run]].append(run)
    if len(parameters):
        actual = parameters.pivot_table(
            index="work_order", columns="parameter", values="actual", aggfunc="mean"
        )
        setpoint = parameters.pivot_table(
            index="work_order", columns="parameter", values="setpoint", aggfunc="mean"
        )
        ended = parameters.groupby("work_order")["ended_at"].max()
        space = parameters.groupby("work_order")["space"].agg(lambda s: s.mode().iloc[0])
    test_table = (
        tests.pivot_table(index="work_order", columns="test_name", values="value", aggfunc="mean")
        if len(tests)
        else pd.DataFrame()
    )
    test_units = tests.groupby("work_order")["units"].max() if len(tests) else pd.Series()
    yields = pd.Series(dtype=float)
    verdict_units = pd.Series(dtype=float)
    if len(verdicts):
        verdicts = verdicts.set_index("work_order")
        verdict_units = verdicts["units"].astype(float)
        yields = 1.0 - verdicts["failed"].astype(float) / verdict_units

    for product, runs in sorted(by_product.items()):
        index = pd.Index(sorted(runs), name="run")
        frame = pd.DataFrame(index=index)
        frame["ended_at"] = ended.reindex(index)
        frame["space"] = space.reindex(index)
        used = [p for p in parameter_names if actual.reindex(index)[p].notna().any()]
        for name in used:
            frame[f"param:{name}"] = actual.reindex(index)[name]
            frame[f"set:{name}"] = setpoint.reindex(index)[name]
        outcomes = []
        for test in test_table.columns:
            if str(test) in parameter_names:
                continue  # a measured process parameter, not an outcome
            column = test_table.reindex(index)[test]
            if column.notna().any():
                frame[f"out:{test}"] = column
                outcomes.append(str(test))
        units = pd.concat([test_units.reindex(index), verdict_units.reindex(index)], axis=1).max(
            axis=1
        )
        frame["units"] = units.fillna(0.0)
        if len(yields):
            column = yields.reindex(index)
            if column.notna().any():
                frame[f"out:{YIELD}"] = column
                outcomes.append(YIELD)
        group = groups.find(product)
        revisions = sorted(recipes_by_group.pop(group, []), key=_recipe_order)
        history = ProductHistory(
            product,
            str(frame["space"].mode().iloc[0]) if frame["space"].notna().any() else "",
            tuple(sorted(groups.members(product))),
            frame.sort_values("ended_at"),
            used,
            outcomes,
            recipe_in_force(revisions, as_of),
            recipe_pending(revisions, as_of),
            revisions,
        )
        if not outcomes:
            history.gaps.append(
                DataGap(
                    product,
                    "not_linked" if len(tests) or len(verdicts) else "no_outcome",
                    f"none of the {len(runs)} runs of {product} has a quality result of its "
                    "serial units"
                    + (
                        " (results exist, but not on units of these work orders: link the "
                        "serial units to their work orders)"
                        if len(tests) or len(verdicts)
                        else ""
                    ),
                    {"runs": float(len(runs))},
                )
            )
        histories[product] = history
    for _, revisions in sorted(recipes_by_group.items()):
        revisions = sorted(revisions, key=_recipe_order)
        product = revisions[-1].product
        histories[product] = ProductHistory(
            product,
            revisions[-1].space,
            tuple(sorted(groups.members(product))),
            pd.DataFrame(columns=["ended_at", "space", "units"]),
            [],
            [],
            recipe_in_force(revisions, as_of),
            recipe_pending(revisions, as_of),
            revisions,
            [
                DataGap(
                    product,
                    "no_runs",
                    f"the recipe {revisions[-1].external_id} of {product} has no recorded runs: "
                    "no operation with process parameters belongs to a work order of it",
                )
            ],
        )
    return [histories[name] for name in sorted(histories)]


def varied(values: pd.Series) -> bool:
    """Whether a parameter took at least three distinct values over the runs."""
    finite = values[np.isfinite(values.to_numpy(dtype=float))]
    return finite.nunique() >= 3 and float(finite.std()) > 0.0


__all__ = [
    "FAIL_STATUSES",
    "YIELD",
    "DataGap",
    "ParameterSpec",
    "ProductHistory",
    "Recipe",
    "load_process_history",
    "load_recipes",
    "product_groups",
    "recipe_in_force",
    "recipe_pending",
    "varied",
]
