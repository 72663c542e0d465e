"""What the service agent reads: serials in the field, their claims and their genealogy.

Everything is read through the store with set-based SQL, following references the way the
context layer does (:mod:`factorybrain.context`): identifiers as each silo wrote them, resolved by
a record of that space and id, or by an **approved annotation**. Nothing assumes a space name or
an id format:

- a serial is a ``serial_unit`` or the target of a ``produced`` edge; its work order is the edge's
  source (else ``serial_unit.work_order``);
- it entered service when it was shipped: a ``shipped_in`` edge to a shipment (serial numbers are
  printed on the unit, so the edge may be written in another space than the serial), dated by
  ``shipment.shipped_at`` (else the edge's time); its customer is the shipment's, resolved to a
  ``customer`` record when one or an approved link names it;
- a claim names its serial as typed: an approved link, the one serial with the same letters and
  digits (separators and case aside, on both sides), or (digits only) the one serial with that
  number, as :func:`factorybrain.context.link_claim_serials` does;
  several claims of one serial are one failure (the first), the others are duplicates;
- a work order's lots are the sources of its ``consumed_in`` edges, resolved to ``material_lot``
  records (same space and id, an approved link to the lot, or to its supplier lot); their supplier
  lots and suppliers come from the lot records (``supplier_lot.supplier`` or a ``supplied_by``
  edge); a batch nothing resolves stays a cohort under the name it was written with;
- machines and their time windows come from the work order's ``operation`` records;
- a product's design revision is the latest ``design_revision`` effective when the unit was built,
  matched to the unit's product by id or through an approved link to one same entity;
- a unit's process parameters are what its order's operations record as parameters
  (``operation_parameter``, ISA-95's process segment parameters: the value as run, else the
  setpoint), or the unit's own value where a quality result of the serial carries the
  parameter's name (a press-fit force measured at every stroke).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from factorybrain.agents.core._process import ORDER_COLUMNS, UNIT_COLUMNS
from factorybrain.agents.core._process import order_parameters as order_process
from factorybrain.agents.core._process import unit_parameters as unit_process
from factorybrain.agents.core._products import product_names
from factorybrain.context import serial_letters_sql
from factorybrain.store import Store

_APPROVED = (
    "SELECT source_space, source_identifier, target_type, target_space, target_external_id "
    "FROM annotation WHERE status = 'approved'"
)


@dataclass
class FieldData:
    """Serials, claims and genealogy, as read from the store.

    Attributes:
        units: One row per unit (a serial two silos record under linked orders is one unit):
            ``serial``, ``serial_space``, ``product``, ``product_space``, ``product_key`` (one
            key for every spelling of the product), ``wo_space`` and ``work_order`` (the order
            a linked order is linked to), ``produced_at``, ``shipment``, ``shipment_space``,
            ``shipped_at``, ``customer`` (as the shipment wrote it), ``customer_space``,
            ``customer_id`` and ``customer_name`` (the resolved record, when there is one),
            ``line``.
        claims: One row per claim: ``claim``, ``claim_space``, ``serial`` (resolved, or None),
            ``typed_serial``, ``failure_at``, ``claimed_at``, ``failure_mode`` (coded, or None),
            ``text``, ``duplicate`` (another claim of the same serial came first).
        lots: One row per (work order, lot): ``wo_space``, ``work_order``, ``lot_space``,
            ``lot``, ``written`` (as consumed), ``resolved``, ``material``, ``supplier_lot_space``,
            ``supplier_lot``, ``supplier_space``, ``supplier``.
        operations: ``wo_space``, ``work_order``, ``sequence``, ``equipment``,
            ``equipment_space``, ``start_time``, ``end_time``.
        revisions: ``space``, ``external_id``, ``product``, ``product_key``, ``revision``,
            ``effective_from``.
        names: Display names of entities: ``(type, space, external_id) -> name``.
        parameters: Process parameters measured per unit: ``serial``, ``parameter``,
            ``value``, ``unit`` (of measure).
        order_parameters: Process parameters per work order (the order a linked order is linked
            to): ``wo_space``, ``work_order``, ``parameter``, ``value``, ``unit``; a unit's own
            measurement, where there is one, stands for its order's.
        as_of: The latest moment the data shows (shipment, claim or production).
        notes: What could not be resolved, one sentence each.
    """

    units: pd.DataFrame
    claims: pd.DataFrame
    lots: pd.DataFrame
    operations: pd.DataFrame
    revisions: pd.DataFrame
    names: dict[tuple[str, str, str], str]
    as_of: datetime | None
    notes: list[str] = field(default_factory=list)
    parameters: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=UNIT_COLUMNS))
    order_parameters: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=ORDER_COLUMNS)
    )


def _table_exists(store: Store, name: str) -> bool:
    found = store.query(
        "SELECT count(*) AS n FROM information_schema.tables WHERE table_name = ?", [name]
    )
    return bool(found["n"].iloc[0])


def _units(store: Store) -> pd.DataFrame:
    return store.query(
        f"""
        WITH approved AS ({_APPROVED}),
        produced AS (
            SELECT target_space AS serial_space, target_external_id AS serial,
                   any_value(source_space) AS wo_space, any_value(source_external_id) AS work_order,
                   min(start_time) AS produced_edge_at
            FROM edge WHERE edge_type = 'produced' GROUP BY ALL
        ),
        units AS (
            SELECT coalesce(p.serial, u.external_id) AS serial,
                   coalesce(p.serial_space, u.space) AS serial_space,
                   u.product, u.space AS product_space,
                   coalesce(p.wo_space, u.space) AS wo_space,
                   coalesce(p.work_order, u.work_order) AS work_order,
                   coalesce(u.produced_at, p.produced_edge_at) AS produced_at
            FROM serial_unit u FULL OUTER JOIN produced p
              ON p.serial = u.external_id AND p.serial_space = u.space
        ),
        shipped AS (
            SELECT e.source_external_id AS serial, arg_min(e.target_space, coalesce(s.shipped_at,
                   e.start_time)) AS shipment_space,
                   arg_min(e.target_external_id, coalesce(s.shipped_at, e.start_time)) AS shipment,
                   min(coalesce(s.shipped_at, e.start_time)) AS shipped_at,
                   arg_min(s.customer, coalesce(s.shipped_at, e.start_time)) AS customer
            FROM edge e LEFT JOIN shipment s
              ON s.space = e.target_space AND s.external_id = e.target_external_id
            WHERE e.edge_type = 'shipped_in' GROUP BY ALL
        ),
        customer_links AS (
            SELECT source_space, source_identifier, any_value(target_space) AS target_space,
                   any_value(target_external_id) AS target_external_id
            FROM approved WHERE target_type = 'customer' GROUP BY ALL
        )
        SELECT u.*, s.shipment_space, s.shipment, s.shipped_at, s.customer,
               coalesce(c.space, cl.target_space) AS customer_space,
               coalesce(c.external_id, cl.target_external_id) AS customer_id,
               coalesce(c.name, c2.name) AS customer_name
        FROM units u
        LEFT JOIN shipped s ON s.serial = u.serial
        LEFT JOIN customer c ON c.space = s.shipment_space AND c.external_id = s.customer
        LEFT JOIN customer_links cl
          ON cl.source_space = s.shipment_space AND cl.source_identifier = s.customer
        LEFT JOIN customer c2
          ON c2.space = cl.target_space AND c2.external_id = cl.target_external_id
        WHERE u.serial IS NOT NULL
        ORDER BY u.serial
        """
    )


def _claims(store: Store) -> pd.DataFrame:
    claims = store.query(
        f"""
        WITH approved AS ({_APPROVED}),
        c AS (
            SELECT space AS claim_space, external_id AS claim, serial_unit AS typed_serial,
                   {serial_letters_sql("serial_unit")} AS cleaned,
                   failure_date, claimed_at, failure_mode, text, product AS claimed_product
            FROM warranty_claim
        ),
        linked AS (
            SELECT c.claim_space, c.claim, any_value(a.target_external_id) AS serial
            FROM c JOIN approved a
              ON a.source_space = c.claim_space AND a.source_identifier = c.typed_serial
             AND a.target_type = 'serial_unit'
            GROUP BY ALL
        ),
        serials AS (
            SELECT DISTINCT external_id,
                   {serial_letters_sql("external_id")} AS cleaned
            FROM serial_unit
        ),
        exact AS (
            SELECT c.claim_space, c.claim, any_value(s.external_id) AS serial
            FROM c JOIN serials s ON s.cleaned = c.cleaned AND c.cleaned <> ''
            GROUP BY ALL HAVING count(DISTINCT s.external_id) = 1
        ),
        digits AS (
            SELECT c.claim_space, c.claim, any_value(s.external_id) AS serial
            FROM c JOIN serials s
              ON ltrim(regexp_replace(s.external_id, '[^0-9]', '', 'g'), '0')
                 = ltrim(c.cleaned, '0')
            WHERE regexp_full_match(c.cleaned, '[0-9]+') AND ltrim(c.cleaned, '0') <> ''
            GROUP BY ALL HAVING count(DISTINCT s.external_id) = 1
        )
        SELECT c.claim_space, c.claim, c.typed_serial,
               coalesce(l.serial, x.serial, d.serial) AS serial,
               coalesce(c.failure_date, c.claimed_at) AS failure_at, c.claimed_at,
               c.failure_mode, c.text, c.claimed_product
        FROM c
        LEFT JOIN linked l ON l.claim_space = c.claim_space AND l.claim = c.claim
        LEFT JOIN exact x ON x.claim_space = c.claim_space AND x.claim = c.claim
        LEFT JOIN digits d ON d.claim_space = c.claim_space AND d.claim = c.claim
        ORDER BY failure_at, c.claim
        """
    )
    claims["failure_at"] = pd.to_datetime(claims["failure_at"])
    claims["claimed_at"] = pd.to_datetime(claims["claimed_at"])
    reported = claims["claimed_at"].fillna(claims["failure_at"])
    claims = claims.assign(_reported=reported).sort_values(["failure_at", "_reported", "claim"])
    claims["duplicate"] = claims["serial"].notna() & claims.duplicated("serial", keep="first")
    return claims.drop(columns="_reported").reset_index(drop=True)


def _lots(store: Store) -> pd.DataFrame:
    return store.query(
        f"""
        WITH approved AS ({_APPROVED}),
        consumed AS (
            SELECT DISTINCT source_space, source_external_id AS written,
                   target_space AS wo_space, target_external_id AS work_order
            FROM edge WHERE edge_type = 'consumed_in'
        ),
        resolved AS (
            SELECT c.*, coalesce(m.space, ml.space, ms.space) AS lot_space,
                   coalesce(m.external_id, ml.external_id, ms.external_id) AS lot
            FROM consumed c
            LEFT JOIN material_lot m
              ON m.space = c.source_space AND m.external_id = c.written
            LEFT JOIN (
                SELECT source_space, source_identifier, any_value(target_space) AS target_space,
                       any_value(target_external_id) AS target_external_id
                FROM approved WHERE target_type = 'material_lot' GROUP BY ALL
            ) a ON a.source_space = c.source_space AND a.source_identifier = c.written
            LEFT JOIN material_lot ml
              ON ml.space = a.target_space AND ml.external_id = a.target_external_id
            LEFT JOIN (
                SELECT source_space, source_identifier, any_value(target_space) AS target_space,
                       any_value(target_external_id) AS target_external_id
                FROM approved WHERE target_type = 'supplier_lot' GROUP BY ALL
            ) sa ON sa.source_space = c.source_space AND sa.source_identifier = c.written
            LEFT JOIN (
                SELECT space, supplier_lot, min(external_id) AS external_id
                FROM material_lot GROUP BY ALL
            ) ms ON ms.space = sa.target_space AND ms.supplier_lot = sa.target_external_id
        ),
        supplied AS (
            SELECT source_space, source_external_id, any_value(target_space) AS target_space,
                   any_value(target_external_id) AS target_external_id
            FROM edge WHERE edge_type = 'supplied_by' GROUP BY ALL
        )
        SELECT r.wo_space, r.work_order, coalesce(r.lot_space, r.source_space) AS lot_space,
               coalesce(r.lot, r.written) AS lot, r.written, r.lot IS NOT NULL AS resolved,
               m.material, CASE WHEN m.supplier_lot IS NOT NULL THEN m.space END
                   AS supplier_lot_space, m.supplier_lot,
               CASE WHEN coalesce(s.supplier, sb.target_external_id) IS NOT NULL
                    THEN coalesce(CASE WHEN s.supplier IS NOT NULL THEN s.space END,
                                  sb.target_space) END AS supplier_space,
               coalesce(s.supplier, sb.target_external_id) AS supplier
        FROM resolved r
        LEFT JOIN material_lot m ON m.space = r.lot_space AND m.external_id = r.lot
        LEFT JOIN supplier_lot s ON s.space = m.space AND s.external_id = m.supplier_lot
        LEFT JOIN supplied sb
          ON sb.source_space = m.space AND sb.source_external_id = m.supplier_lot
        ORDER BY r.wo_space, r.work_order, lot
        """
    )


def _operations(store: Store) -> pd.DataFrame:
    return store.query(
        """
        SELECT o.space AS wo_space, o.work_order, o.sequence, o.equipment,
               o.space AS equipment_space, o.start_time, o.end_time,
               a.parent AS equipment_parent, p.level AS parent_level
        FROM operation o
        LEFT JOIN asset a ON a.space = o.space AND a.external_id = o.equipment
        LEFT JOIN asset p ON p.space = a.space AND p.external_id = a.parent
        WHERE o.equipment IS NOT NULL AND o.start_time IS NOT NULL
        ORDER BY o.space, o.work_order, o.sequence, o.start_time
        """
    )


def _product_keys(store: Store) -> pd.DataFrame:
    """One key for every spelling of a product: an approved link's target, else itself."""
    return store.query(
        f"""
        WITH approved AS ({_APPROVED})
        SELECT source_space AS space, source_identifier AS product,
               min(target_space || ':' || target_external_id) AS product_key
        FROM approved WHERE target_type IN ('material', 'product')
        GROUP BY ALL
        """
    )


def _revisions(store: Store) -> pd.DataFrame:
    return store.query(
        "SELECT space, external_id, product, revision, effective_from, change_reason "
        "FROM design_revision WHERE product IS NOT NULL ORDER BY product, effective_from"
    )


def _names(store: Store) -> dict[tuple[str, str, str], str]:
    names: dict[tuple[str, str, str], str] = {
        ("product", space, external_id): name
        for (space, external_id), name in product_names(store).items()
    }
    for entity in ("asset", "supplier", "material", "customer"):
        rows = store.query(f"SELECT space, external_id, name FROM {entity} WHERE name IS NOT NULL")
        for space, external_id, name in rows.itertuples(index=False):
            names[(entity, str(space), str(external_id))] = str(name)
    return names


def _with_product_keys(frame: pd.DataFrame, keys: pd.DataFrame, space: str) -> pd.Series:
    lookup = {(s, p): k for s, p, k in keys.itertuples(index=False)}
    return pd.Series(
        [
            lookup.get((sp, p), f"{sp}:{p}") if isinstance(p, str) else None
            for sp, p in zip(frame[space], frame["product"], strict=True)
        ],
        index=frame.index,
        dtype=object,
    )


def load_field(store: Store) -> FieldData:
    """Read serials, claims, lots, operations and revisions from the store.

    Returns:
        The :class:`FieldData`; what could not be resolved is in its ``notes``.
    """
    notes: list[str] = []
    units = _units(store)
    for column in ("produced_at", "shipped_at"):
        units[column] = pd.to_datetime(units[column])
    claims = _claims(store)
    lots = _lots(store)
    operations = _operations(store)
    keys = _product_keys(store)
    units["product_key"] = _with_product_keys(units, keys, "product_space")
    revisions = _revisions(store)
    revisions["effective_from"] = pd.to_datetime(revisions["effective_from"])
    revisions["product_key"] = _with_product_keys(revisions, keys, "space")
    units["line"] = _lines(store, units, operations)
    order_parameters = order_process(store)
    parameters = unit_process(store, order_parameters["parameter"])
    units, lots, operations, order_parameters = _one_order_per_unit(
        store, units, lots, operations, order_parameters
    )
    unresolved_claims = claims["serial"].isna()
    if unresolved_claims.any():
        examples = ", ".join(
            f"{c} ({t!r})"
            for c, t in claims.loc[unresolved_claims, ["claim", "typed_serial"]].head(3).values
        )
        notes.append(
            f"{int(unresolved_claims.sum())} of {len(claims)} claims name no serial the store "
            f"knows (e.g. {examples}): they count in no cohort until their serial is linked "
            "(approve an annotation)."
        )
    duplicates = int(claims["duplicate"].sum())
    if duplicates:
        notes.append(
            f"{duplicates} claims repeat an earlier claim of the same serial (another channel, a "
            "second report): each serial counts its first failure once."
        )
    unresolved_lots = lots.loc[~lots["resolved"].astype(bool), "written"].drop_duplicates()
    if len(unresolved_lots):
        notes.append(
            f"{len(unresolved_lots)} consumed batches match no material lot or approved link "
            f"(e.g. {', '.join(map(str, unresolved_lots.head(3)))}): they are screened under "
            "the name the consumption wrote, without supplier lot or supplier."
        )
    moments = [
        units["shipped_at"].max(),
        claims["failure_at"].max(),
        claims["claimed_at"].max(),
        units["produced_at"].max(),
    ]
    moments = [m for m in moments if m is not None and not pd.isna(m)]
    as_of = max(moments).to_pydatetime() if moments else None
    return FieldData(
        units=units,
        claims=claims,
        lots=lots,
        operations=operations,
        revisions=revisions,
        names=_names(store),
        as_of=as_of,
        notes=notes,
        parameters=parameters,
        order_parameters=order_parameters,
    )


def _one_order_per_unit(
    store: Store,
    units: pd.DataFrame,
    lots: pd.DataFrame,
    operations: pd.DataFrame,
    order_parameters: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """One row per physical unit: the silos' records of one order and its serials joined.

    The ERP and the MES often both record a production order, its serials, the batches it
    consumed and its operations, each under its own identifiers. Counted twice, every unit
    would weigh double in the field's rates and every claim would be two pieces of evidence
    (a cohort of three claimed units would look like six). An order linked to another by an
    approved identity link (the matching's) becomes that order: its serials, batches and
    operations are the linked order's; a serial recorded in both silos under that order is one
    unit (its fields taken from whichever record has them). Serials that share an id under
    orders that are not linked stay apart: two units, not a guess.
    """
    links = store.query(
        f"SELECT source_space, source_identifier, any_value(target_space) AS target_space, "
        f"any_value(target_external_id) AS target_external_id FROM ({_APPROVED}) "
        "WHERE target_type = 'work_order' GROUP BY ALL"
    )
    if links.empty:
        return units, lots, operations, order_parameters
    hub = {(str(s), str(i)): (str(ts), str(te)) for s, i, ts, te in links.itertuples(index=False)}

    def onto_hub(frame: pd.DataFrame) -> pd.DataFrame:
        keys = [
            hub.get((str(s), str(w)), (s, w))
            for s, w in zip(frame["wo_space"], frame["work_order"], strict=True)
        ]
        spaces, orders = zip(*keys, strict=True) if keys else ((), ())
        return frame.assign(wo_space=list(spaces), work_order=list(orders))

    # the record of the order the others link to comes first: its fields win, the others fill
    # its gaps (whatever order the database returned the copies in)
    linked = pd.Series(
        [
            (str(s), str(w)) in hub
            for s, w in zip(units["wo_space"], units["work_order"], strict=True)
        ],
        index=units.index,
    )
    units = onto_hub(units).assign(_linked=linked).sort_values(["serial", "_linked"], kind="stable")
    merged = (
        units.groupby(["serial", "wo_space", "work_order"], sort=False, dropna=False)
        .first()
        .reset_index()[units.columns]
        .drop(columns="_linked")
    )
    lots = onto_hub(lots).drop_duplicates(["wo_space", "work_order", "lot_space", "lot"])
    parameters = onto_hub(order_parameters) if len(order_parameters) else order_parameters
    if len(parameters):  # two silos' records of one order: one value per parameter
        parameters = parameters.groupby(
            ["wo_space", "work_order", "parameter"], as_index=False, dropna=False
        ).agg(value=("value", "mean"), unit=("unit", "first"))
    return merged, lots.reset_index(drop=True), onto_hub(operations), parameters


def _lines(store: Store, units: pd.DataFrame, operations: pd.DataFrame) -> pd.Series:
    """Each unit's line: its work order's ``line``, else the line its machines belong to."""
    orders = store.query("SELECT space, external_id, line FROM work_order WHERE line IS NOT NULL")
    by_order = {(s, w): line for s, w, line in orders.itertuples(index=False)}
    parents = operations[operations["parent_level"] == "line"]
    by_machine = (
        parents.groupby(["wo_space", "work_order"])["equipment_parent"]
        .agg(lambda values: values.mode().iloc[0])
        .to_dict()
        if len(parents)
        else {}
    )
    return pd.Series(
        [
            by_order.get((s, w)) or by_machine.get((s, w))
            for s, w in zip(units["wo_space"], units["work_order"], strict=True)
        ],
        index=units.index,
        dtype=object,
    )


def unit_times_on_machines(units: pd.DataFrame, operations: pd.DataFrame) -> pd.DataFrame:
    """When each unit passed each machine: its order's operation window, shared out in build order.

    Units of one order go through every operation in the same order, so a unit passes each
    operation at the same fraction of its window: the fraction at which its production time
    falls in the order's first operation (where serials are stamped), or else ``(k + 0.5) / n``
    for unit ``k`` of ``n`` (by production time, then serial). A unit without an order passes
    no machine.

    Orders are joined as integer codes and machines kept as categoricals: a fleet's units times
    their operations are tens of millions of passes.

    Returns:
        ``unit`` (position in ``units``), ``equipment_space``, ``equipment`` (categoricals),
        ``time``.
    """
    if units.empty or operations.empty:
        return pd.DataFrame({"unit": [], "equipment_space": [], "equipment": [], "time": []})
    unit_order, operation_order = _order_codes(units, operations)
    frame = pd.DataFrame(
        {
            "unit": np.arange(len(units)),
            "order": unit_order,
            "produced_at": pd.to_datetime(units["produced_at"]).to_numpy(),
            "serial": units["serial"].to_numpy(),
        }
    )
    frame = frame[frame["order"] >= 0].sort_values(["order", "produced_at", "serial"])
    frame = frame.drop(columns="serial")
    grouped = frame.groupby("order", sort=False)
    frame["rank"] = grouped.cumcount()
    frame["count"] = grouped["unit"].transform("size")
    ops = pd.DataFrame(
        {
            "order": operation_order,
            "sequence": operations["sequence"].to_numpy(),
            "equipment_space": pd.Categorical(operations["equipment_space"]),
            "equipment": pd.Categorical(operations["equipment"]),
            "start": pd.to_datetime(operations["start_time"]).to_numpy(),
            "end": pd.to_datetime(operations["end_time"]).to_numpy(),
        }
    )
    ops = ops[ops["order"] >= 0]
    ops["end"] = ops["end"].fillna(ops["start"])
    # a unit's place in the flow: where its own production time falls in the order's first
    # operation (serials are stamped there), else its rank among the order's units
    first = ops.sort_values(["sequence", "start"]).drop_duplicates("order").set_index("order")
    ops["first_start"] = ops["order"].map(first["start"])
    ops["first_end"] = ops["order"].map(first["end"])
    merged = frame.merge(ops.drop(columns="sequence"), on="order", how="inner")
    span = (merged["first_end"] - merged["first_start"]).dt.total_seconds()
    stamped = (merged["produced_at"] - merged["first_start"]).dt.total_seconds()
    by_time = (stamped / span.where(span > 0)).where((stamped >= 0) & (stamped <= span))
    share = by_time.fillna((merged["rank"] + 0.5) / merged["count"]).clip(0.0, 1.0)
    merged["time"] = merged["start"] + (merged["end"] - merged["start"]) * share
    return merged[["unit", "equipment_space", "equipment", "time"]].reset_index(drop=True)


def _order_codes(*frames: pd.DataFrame) -> list[np.ndarray]:
    """One integer per ``(wo_space, work_order)`` shared by ``frames``; -1 where either is missing.

    Codes sort as the keys do (by space, then order), so sorting by code sorts by order.
    """
    spaces = pd.concat([f["wo_space"].astype(object) for f in frames], ignore_index=True)
    orders = pd.concat([f["work_order"].astype(object) for f in frames], ignore_index=True)
    space_code, _ = pd.factorize(spaces, sort=True)
    order_code, order_values = pd.factorize(orders, sort=True)
    code = space_code.astype(np.int64) * max(len(order_values), 1) + order_code
    code[(space_code < 0) | (order_code < 0)] = -1
    bounds = np.cumsum([len(f) for f in frames])[:-1]
    return np.split(code, bounds)


__all__ = ["FieldData", "load_field", "unit_times_on_machines"]
