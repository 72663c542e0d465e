"""What the quality agent reads: characteristics to chart, and each unit's genealogy and verdict.

Everything is read through the store's SQL, following references as the other agents do
(identifiers as each silo wrote them, resolved by a record of that space or an **approved
annotation**); nothing assumes a space, an id format or a sampling rate.

- **Characteristics** are ``quality_result`` rows (``test_name``, per product of the tested
  serial when known, per ``equipment`` resolved to an asset when an approved link names it) and
  ``operation_parameter`` rows (``parameter``, the value as run else the setpoint, per operation
  equipment and product, at the operation's end). Specification limits come from the results'
  ``spec_min``/``spec_max`` and, for parameters, from a recipe of the product that specifies the
  parameter (``{name: {setpoint, min, max}}``).
- A **unit** is a serial with a verdict (``status`` of its quality results; a unit with any
  failed result is defective). Its genealogy: the lots its work order consumed
  (``consumed_in``; supplier lot and supplier from the lot record), the machine of each
  operation of its order (by routing step), each machine's hours since its last maintenance and
  days until its next breakdown (corrective order or downtime event) at the time it processed the
  order, the time of day it started, and its process parameters (per unit where a quality result
  carries a parameter's name, else the order's).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from factorybrain.agents.core._process import order_parameters, unit_parameters
from factorybrain.context import serial_letters_sql
from factorybrain.exceptions import StoreError
from factorybrain.store import Store

#: Verdicts that fail a unit.
FAIL_STATUSES = ("fail", "failed", "rejected", "nok")
#: Verdicts that pass it.
PASS_STATUSES = ("pass", "passed", "ok", "accepted")
_APPROVED_ASSETS = (
    "SELECT source_space, source_identifier, any_value(target_external_id) AS asset "
    "FROM annotation WHERE status = 'approved' AND target_type = 'asset' GROUP BY ALL"
)


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


@dataclass
class Characteristics:
    """Every measured value to chart, in long form.

    Attributes:
        points: ``source`` (``quality_result`` or ``operation_parameter``), ``characteristic``,
            ``product``, ``machine`` (resolved asset, else as written, else None), ``space``,
            ``point`` (external id of the result or operation), ``at``, ``value``,
            ``spec_min``, ``spec_max``, ``unit``.
    """

    points: pd.DataFrame


def load_characteristics(store: Store) -> Characteristics:
    """Read every quality result and process parameter value, with their limits."""
    results = _query(
        store,
        f"""
        WITH links AS ({_APPROVED_ASSETS})
        SELECT 'quality_result' AS source, q.test_name AS characteristic, s.product,
               coalesce(l.asset, q.equipment) AS machine, q.space, q.external_id AS point,
               q.measured_at AS at, q.value, q.spec_min, q.spec_max, q.unit
        FROM quality_result q
        LEFT JOIN links l ON l.source_space = q.space AND l.source_identifier = q.equipment
        LEFT JOIN (SELECT external_id, any_value(product) AS product FROM serial_unit
                   GROUP BY external_id) s ON s.external_id = q.serial_unit
        WHERE q.test_name IS NOT NULL AND q.value IS NOT NULL AND isfinite(q.value)
        """,
    )
    parameters = _query(
        store,
        f"""
        WITH links AS ({_APPROVED_ASSETS})
        SELECT 'operation_parameter' AS source, p.parameter AS characteristic, w.product,
               coalesce(l.asset, o.equipment) AS machine, o.space, o.external_id AS point,
               coalesce(o.end_time, o.start_time) AS at,
               coalesce(p.actual, p.setpoint) AS value,
               CAST(NULL AS DOUBLE) AS spec_min, CAST(NULL AS DOUBLE) AS spec_max, p.unit
        FROM operation_parameter p
        JOIN operation o ON o.space = p.space AND o.external_id = p.operation
        LEFT JOIN links l ON l.source_space = o.space AND l.source_identifier = o.equipment
        LEFT JOIN work_order w ON w.space = o.space AND w.external_id = o.work_order
        WHERE p.parameter IS NOT NULL AND coalesce(p.actual, p.setpoint) IS NOT NULL
          AND coalesce(o.status, '') <> 'cancelled'
        """,
    )
    if len(parameters):
        parameters = _with_recipe_limits(store, parameters)
    frames = [f for f in (results, parameters) if len(f)]
    columns = ["source", "characteristic", "product", "machine", "space", "point", "at",
               "value", "spec_min", "spec_max", "unit"]  # fmt: skip
    if not frames:
        return Characteristics(pd.DataFrame(columns=columns))
    points = pd.concat(frames, ignore_index=True)[columns]
    points["at"] = pd.to_datetime(points["at"])
    points["value"] = points["value"].astype(float)
    return Characteristics(points)


def _recipe_limits(store: Store) -> dict[tuple[str, str], tuple[float | None, float | None]]:
    """``(product, parameter) -> (min, max)`` of the latest recipe that specifies them.

    A recipe names its product as engineering does; an approved link from another silo's
    product identifier to the recipe's product (or both to one material) makes it apply there.
    """
    recipes = _query(
        store,
        "SELECT product, valid_from, parameters FROM recipe "
        "WHERE parameters IS NOT NULL AND product IS NOT NULL ORDER BY valid_from NULLS FIRST",
    )
    limits: dict[tuple[str, str], tuple[float | None, float | None]] = {}
    for row in recipes.itertuples(index=False):
        raw = row.parameters
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except json.JSONDecodeError:
                continue
        if not isinstance(raw, Mapping):
            continue
        for name, spec in raw.items():
            if isinstance(spec, Mapping):
                low = _number(spec.get("min", spec.get("low")))
                high = _number(spec.get("max", spec.get("high")))
                if low is not None or high is not None:
                    limits[(str(row.product), str(name))] = (low, high)
    if not limits:
        return limits
    links = _query(
        store,
        "SELECT source_identifier, target_external_id FROM annotation WHERE status = 'approved' "
        "AND target_type IN ('product', 'material')",
    )
    targets: dict[str, set[str]] = {}
    for source, target in links.itertuples(index=False):
        targets.setdefault(str(target), set()).add(str(source))
        targets.setdefault(str(source), set()).add(str(target))
    extended = dict(limits)
    for (product, name), value in limits.items():
        names = set(targets.get(product, set()))
        for other in list(names):
            names |= targets.get(other, set())
        for alias in names:
            extended.setdefault((alias, name), value)
    return extended


def _with_recipe_limits(store: Store, parameters: pd.DataFrame) -> pd.DataFrame:
    limits = _recipe_limits(store)
    if not limits:
        return parameters
    keys = zip(parameters["product"].astype(str), parameters["characteristic"], strict=True)
    found = [limits.get(key, (None, None)) for key in keys]
    parameters = parameters.copy()
    parameters["spec_min"] = [low for low, _ in found]
    parameters["spec_max"] = [high for _, high in found]
    return parameters


# -- units and their genealogy -------------------------------------------------------------
@dataclass
class Genealogy:
    """One row per unit with a verdict, its genealogy as features, and what each feature names.

    Attributes:
        units: ``serial``, ``work_order``, ``wo_space``, ``defective`` (bool), ``at``.
        features: One row per unit (same order), one column per feature.
        names: Feature -> ``(kind, entity type, space, external id, label)``: what a feature
            stands for (``lot``, ``machine``, ``health``, ``parameter``, ``time``).
        machine_columns: Feature of each routing step's machine -> step (``machine@<step>``
            columns hold the asset id of the unit's machine at that step).
        notes: What could not be linked, one sentence each.
    """

    units: pd.DataFrame
    features: pd.DataFrame
    names: dict[str, tuple[str, str, str | None, str, str]]
    machine_columns: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _verdicts(store: Store, parameter_names: set[str]) -> pd.DataFrame:
    fails = ", ".join(f"'{s}'" for s in FAIL_STATUSES)
    passes = ", ".join(f"'{s}'" for s in PASS_STATUSES)
    frame = _query(
        store,
        f"""
        WITH units AS (
            SELECT s.external_id AS serial,
                   coalesce(any_value(e.source_external_id), any_value(s.work_order)) AS work_order,
                   coalesce(any_value(e.source_space), any_value(s.space)) AS wo_space
            FROM serial_unit s
            LEFT JOIN edge e ON e.edge_type = 'produced' AND e.target_external_id = s.external_id
            GROUP BY s.external_id
        )
        SELECT u.serial, u.work_order, u.wo_space, q.test_name,
               max(CASE WHEN lower(q.status) IN ({fails}) THEN 1 ELSE 0 END) AS failed,
               max(CASE WHEN lower(q.status) IN ({fails}, {passes}) THEN 1 ELSE 0 END) AS judged,
               min(q.measured_at) AS at
        FROM quality_result q JOIN units u ON u.serial = q.serial_unit
        WHERE u.work_order IS NOT NULL
        GROUP BY ALL
        """,
    )
    if frame.empty:
        return frame
    frame = frame[~frame["test_name"].astype(str).isin(parameter_names)]
    frame = frame[frame["judged"] == 1]
    return frame.groupby(["serial", "work_order", "wo_space"], as_index=False).agg(
        defective=("failed", "max"), at=("at", "min")
    )


def claimed_serials(store: Store) -> set[str]:
    """Serials named by a warranty claim.

    A ``claimed_in`` edge, an approved link, or the claim's serial written the same (letters and
    digits, case and separators aside).
    """
    frame = _query(
        store,
        f"""
        WITH serials AS (
            SELECT DISTINCT external_id,
                   {serial_letters_sql("external_id")} AS cleaned
            FROM serial_unit
        )
        SELECT source_external_id AS serial FROM edge WHERE edge_type = 'claimed_in'
        UNION
        SELECT a.target_external_id FROM warranty_claim c JOIN annotation a
          ON a.source_space = c.space AND a.source_identifier = c.serial_unit
         AND a.status = 'approved' AND a.target_type = 'serial_unit'
        UNION
        SELECT s.external_id FROM warranty_claim c JOIN serials s
          ON s.cleaned = {serial_letters_sql("c.serial_unit")}
        """,
    )
    return set(frame["serial"].dropna().astype(str)) if len(frame) else set()


def _field_units(store: Store, claimed: set[str]) -> pd.DataFrame:
    frame = _query(
        store,
        """
        SELECT s.external_id AS serial,
               coalesce(any_value(e.source_external_id), any_value(s.work_order)) AS work_order,
               coalesce(any_value(e.source_space), any_value(s.space)) AS wo_space,
               any_value(s.produced_at) AS at
        FROM serial_unit s
        LEFT JOIN edge e ON e.edge_type = 'produced' AND e.target_external_id = s.external_id
        WHERE s.external_id IN (SELECT source_external_id FROM edge WHERE edge_type = 'shipped_in')
        GROUP BY s.external_id
        """,
    )
    frame = frame.dropna(subset=["work_order"])
    frame["defective"] = frame["serial"].astype(str).isin(claimed)
    return frame


def sampled_units(defective: np.ndarray, max_units: int, random_state: int = 0) -> np.ndarray:
    """Positions of the units the root-cause model learns from: at most ``max_units`` of each kind.

    Every defective unit and a random sample of ``max_units`` good ones; where more than
    ``max_units`` units are defective (a fleet of millions of units), a random sample of those
    too. The same arguments give the same positions.
    """
    rng = np.random.default_rng(random_state)
    good, bad = np.flatnonzero(~defective), np.flatnonzero(defective)
    if good.size > max_units:
        good = np.sort(rng.choice(good, max_units, replace=False))
    if bad.size > max_units:
        bad = np.sort(rng.choice(bad, max_units, replace=False))
    return np.sort(np.concatenate([bad, good]))


def load_genealogy(
    store: Store,
    *,
    outcome: str = "verdict",
    max_units: int | None = None,
    random_state: int = 0,
) -> Genealogy:
    """Build the unit table the root-cause model learns from (see the module).

    Args:
        store: The factory store.
        outcome: ``verdict`` (a unit is defective when a quality result failed it) or
            ``claim`` (a shipped unit is defective when a warranty claim names it).
        max_units: Keep at most this many good units and as many defective ones, the sample
            :func:`sampled_units` draws with ``random_state``, and build the genealogy of those
            only (None: of every unit). The features are those of the whole table: a lot or a
            machine of a unit left out still has its column. A plant of millions of units has a
            table of a few hundred thousand rows instead of millions times its lots.
        random_state: Seed of the sample.
    """
    notes: list[str] = []
    parameter_rows = order_parameters(store)
    parameter_names = set(parameter_rows["parameter"].astype(str)) if len(parameter_rows) else set()
    if outcome == "claim":
        units = _field_units(store, claimed_serials(store))
    else:
        units = _verdicts(store, parameter_names)
    empty = Genealogy(
        pd.DataFrame(columns=["serial", "work_order", "wo_space", "defective", "at"]),
        pd.DataFrame(),
        {},
        notes=notes,
    )
    if units.empty:
        notes.append(
            "no shipped serial links to its work order"
            if outcome == "claim"
            else "no serial unit has a pass or fail verdict on a quality result that links to its "
            "work order (serial_unit.work_order or a produced edge)"
        )
        return empty
    units["defective"] = units["defective"].astype(bool)
    units["at"] = pd.to_datetime(units["at"])
    units = units.sort_values(["wo_space", "work_order", "serial"]).reset_index(drop=True)
    # the orders of every unit say which lots and machines have a feature
    every_order = pd.MultiIndex.from_frame(units[["wo_space", "work_order"]]).unique()
    if max_units is not None:
        kept = sampled_units(units["defective"].to_numpy(dtype=bool), max_units, random_state)
        units = units.iloc[kept].reset_index(drop=True)
    order_key = pd.MultiIndex.from_frame(units[["wo_space", "work_order"]])
    columns: dict[str, np.ndarray] = {}
    names: dict[str, tuple[str, str, str | None, str, str]] = {}
    machine_columns: dict[str, str] = {}

    _lot_features(store, every_order, order_key, columns, names, notes)
    _machine_features(store, every_order, order_key, columns, names, machine_columns, notes)
    if len(parameter_rows):
        table = parameter_rows.pivot_table(
            index=["wo_space", "work_order"], columns="parameter", values="value", aggfunc="mean"
        )
        for name in table.columns:
            columns[f"param:{name}"] = table[name].reindex(order_key).to_numpy(dtype=float)
            names[f"param:{name}"] = ("parameter", "parameter", None, str(name), str(name))
        per_unit = unit_parameters(store, parameter_names)
        for name, group in per_unit.groupby("parameter"):
            measured = units["serial"].map(group.set_index("serial")["value"])
            key = f"param:{name}"
            base = columns.get(key, np.full(len(units), np.nan))
            columns[key] = np.where(measured.notna(), measured.to_numpy(dtype=float), base)
    features = pd.DataFrame(columns, index=units.index)
    return Genealogy(units, features, names, machine_columns, notes)


def _lot_features(
    store: Store,
    every_order: pd.MultiIndex,
    order_key: pd.MultiIndex,
    columns: dict[str, np.ndarray],
    names: dict[str, tuple[str, str, str | None, str, str]],
    notes: list[str],
) -> None:
    lots = _query(
        store,
        """
        WITH approved AS (
            SELECT source_space, source_identifier, any_value(target_space) AS target_space,
                   any_value(target_external_id) AS target_external_id
            FROM annotation WHERE status = 'approved' AND target_type = 'material_lot'
            GROUP BY ALL
        ),
        consumed AS (
            SELECT DISTINCT source_space, source_external_id AS written,
                   target_space AS wo_space, target_external_id AS work_order
            FROM edge WHERE edge_type = 'consumed_in'
        )
        SELECT c.wo_space, c.work_order, coalesce(m.space, m2.space, c.source_space) AS lot_space,
               coalesce(m.external_id, m2.external_id, c.written) AS lot,
               coalesce(m.material, m2.material) AS material,
               coalesce(m.supplier_lot, m2.supplier_lot) AS supplier_lot
        FROM consumed c
        LEFT JOIN material_lot m ON m.space = c.source_space AND m.external_id = c.written
        LEFT JOIN approved a ON a.source_space = c.source_space AND a.source_identifier = c.written
        LEFT JOIN material_lot m2
          ON m2.space = a.target_space AND m2.external_id = a.target_external_id
        """,
    )
    if lots.empty:
        notes.append("no consumed_in edge links a lot to a work order: lots cannot be screened")
        return
    orders_kept = order_key.unique()
    consumed = pd.MultiIndex.from_frame(lots[["wo_space", "work_order"]])
    lots = lots.assign(
        of_units=consumed.isin(every_order),  # a lot some unit has, sampled or not
        order=orders_kept.get_indexer(consumed),  # its order among those kept, or -1
    )
    position = orders_kept.get_indexer(order_key)
    for (space, lot), group in lots.groupby(["lot_space", "lot"], dropna=True):
        if not group["of_units"].any():
            continue
        used = np.zeros(len(orders_kept), dtype=bool)
        orders = group["order"].to_numpy()
        used[orders[orders >= 0]] = True
        key = f"lot:{space}:{lot}"
        columns[key] = used[position].astype(float)
        material = group["material"].dropna()
        label = f"lot {lot}" + (f" ({material.iloc[0]})" if len(material) else "")
        names[key] = ("lot", "material_lot", str(space), str(lot), label)


def _machine_features(
    store: Store,
    every_order: pd.MultiIndex,
    order_key: pd.MultiIndex,
    columns: dict[str, np.ndarray],
    names: dict[str, tuple[str, str, str | None, str, str]],
    machine_columns: dict[str, str],
    notes: list[str],
) -> None:
    operations = _query(
        store,
        f"""
        WITH links AS ({_APPROVED_ASSETS})
        SELECT o.space AS wo_space, o.work_order, coalesce(o.sequence, 0) AS step,
               coalesce(l.asset, o.equipment) AS machine, o.start_time, o.end_time
        FROM operation o
        LEFT JOIN links l ON l.source_space = o.space AND l.source_identifier = o.equipment
        WHERE o.equipment IS NOT NULL AND coalesce(o.status, '') <> 'cancelled'
        """,
    )
    if operations.empty:
        notes.append("no operation names its equipment: machines cannot be screened")
        return
    operations["start_time"] = pd.to_datetime(operations["start_time"])
    operations["end_time"] = pd.to_datetime(operations["end_time"]).fillna(operations["start_time"])
    operations = operations.sort_values("start_time").drop_duplicates(
        ["wo_space", "work_order", "step"], keep="first"
    )
    events = _query(
        store,
        f"""
        WITH links AS ({_APPROVED_ASSETS})
        SELECT coalesce(l.asset, m.asset) AS machine,
               coalesce(m.actual_start, m.planned_start) AS start,
               coalesce(m.actual_end, m.actual_start, m.planned_end, m.planned_start) AS finish,
               m.order_type = 'corrective' AS breakdown
        FROM maintenance_order m
        LEFT JOIN links l ON l.source_space = m.space AND l.source_identifier = m.asset
        WHERE coalesce(m.status, '') <> 'cancelled'
        UNION ALL
        SELECT coalesce(l.asset, e.asset), e.start_time, coalesce(e.end_time, e.start_time), TRUE
        FROM event e
        LEFT JOIN links l ON l.source_space = e.space AND l.source_identifier = e.asset
        WHERE e.event_type = 'downtime'
        """,
    )
    first_start = operations.groupby(["wo_space", "work_order"])["start_time"].min()
    hours = first_start.reindex(order_key)
    columns["time:hour_of_day"] = (
        hours.dt.hour.to_numpy(dtype=float) + hours.dt.minute.to_numpy(dtype=float) / 60.0
    )
    names["time:hour_of_day"] = ("time", "time", None, "hour_of_day", "time of day (UTC)")
    if not events.empty:
        events["start"] = pd.to_datetime(events["start"])
        events["finish"] = pd.to_datetime(events["finish"])
        events = events.dropna(subset=["machine", "start"])
    for step, group in operations.groupby("step"):
        indexed = group.set_index(["wo_space", "work_order"])
        machine = indexed["machine"].reindex(order_key)
        at = indexed["start_time"].reindex(order_key)
        key = f"machine@{step}"
        machine_columns[key] = str(step)
        # a machine some unit passed has its column, whether that unit is in the table or not
        for asset in sorted(indexed["machine"].reindex(every_order).dropna().unique()):
            column = f"machine:{asset}"
            flag = (machine == asset).to_numpy(dtype=float)
            columns[column] = np.maximum(columns.get(column, 0.0), flag)
            names[column] = ("machine", "asset", None, str(asset), str(asset))
        since, until = _health(events, machine, at)
        columns[f"health_since_maintenance_h@{step}"] = since
        columns[f"health_days_to_breakdown@{step}"] = until
        names[f"health_since_maintenance_h@{step}"] = (
            "health", "asset", None, str(step),
            f"hours since its machine's last maintenance at step {step}",
        )  # fmt: skip
        names[f"health_days_to_breakdown@{step}"] = (
            "health", "asset", None, str(step),
            f"days until its machine's next breakdown at step {step}",
        )  # fmt: skip
        columns[key] = machine.to_numpy(dtype=object)  # type: ignore[assignment]
    if events.empty:
        notes.append(
            "no maintenance order or downtime event names a machine: the machines' health while "
            "processing is unknown to the root-cause model"
        )


def _health(
    events: pd.DataFrame, machine: pd.Series, at: pd.Series
) -> tuple[np.ndarray, np.ndarray]:
    """Hours since the machine's last maintenance and days to its next breakdown, per unit."""
    since = np.full(len(machine), np.nan)
    until = np.full(len(machine), np.nan)
    if events.empty:
        return since, until
    machines = machine.to_numpy(dtype=object)
    moments = at.to_numpy(dtype="datetime64[ns]")
    for asset, group in events.groupby("machine"):
        mine = np.flatnonzero(machines == asset)
        if mine.size == 0:
            continue
        when = moments[mine]
        finished = np.sort(group["finish"].dropna().to_numpy(dtype="datetime64[ns]"))
        if finished.size:
            before = np.searchsorted(finished, when, side="right") - 1
            ok = before >= 0
            gap = (when[ok] - finished[before[ok]]) / np.timedelta64(1, "h")
            since[mine[ok]] = gap.astype(float)
        broke = np.sort(
            group.loc[group["breakdown"].astype(bool), "start"].to_numpy(dtype="datetime64[ns]")
        )
        if broke.size:
            after = np.searchsorted(broke, when, side="left")
            ok = after < broke.size
            gap = (broke[after[ok]] - when[ok]) / np.timedelta64(1, "D")
            until[mine[ok]] = gap.astype(float)
    return since, until


__all__ = [
    "FAIL_STATUSES",
    "Characteristics",
    "Genealogy",
    "load_characteristics",
    "load_genealogy",
]


#: Lots of one material needed to tell one lot's incoming inspection from the others'.
MIN_INSPECTED_LOTS = 5
#: Robust z-score (median and MAD over the material's lots) at which a lot's inspection stands
#: out from its material's other lots.
INSPECTION_Z = 3.0


@dataclass(frozen=True)
class Inspection:
    """What a lot's incoming inspection showed that sets it apart: how strongly, in words."""

    strength: float
    text: str


def incoming_inspections(store: Store) -> dict[str, Inspection]:
    """Lots whose incoming inspection stood out, by external id.

    A lot stands out when its inspection failed (a ``fail`` verdict on any of its results:
    strength infinite), or when one characteristic's result lies :data:`INSPECTION_Z` robust
    standard deviations or more from the results of the same material's other lots (at least
    :data:`MIN_INSPECTED_LOTS` of them; strength: the largest such distance). It is the evidence
    beyond the defects that tells one lot from others built into the same units.
    """
    results = _query(
        store,
        "SELECT q.material_lot AS lot, q.test_name, q.value, q.status, m.material "
        "FROM quality_result q LEFT JOIN material_lot m ON m.external_id = q.material_lot "
        "WHERE q.material_lot IS NOT NULL",
    )
    if results.empty:
        return {}
    found: dict[str, Inspection] = {}
    for lot in results.loc[results["status"] == "fail", "lot"].drop_duplicates():
        found[str(lot)] = Inspection(math.inf, "its incoming inspection failed")
    results = results.dropna(subset=["value"])
    results = results.assign(material=results["material"].fillna(""))
    per_lot = results.groupby(["material", "test_name", "lot"], sort=False)["value"].mean()
    for (_material, test), values in per_lot.groupby(level=[0, 1], sort=False):
        if len(values) < MIN_INSPECTED_LOTS:
            continue
        median = float(values.median())
        spread = 1.4826 * float((values - median).abs().median())
        if not spread > 0:
            continue
        for (_, _, lot), value in values.items():
            z = (float(value) - median) / spread
            known = found.get(str(lot))
            if abs(z) >= INSPECTION_Z and (known is None or abs(z) > known.strength):
                found[str(lot)] = Inspection(
                    abs(z),
                    f"its incoming inspection measured {test} {float(value):.4g} where the "
                    f"material's other lots measured {median:.4g} ({z:+.1f} robust SD)",
                )
    return found
