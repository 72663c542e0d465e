"""Trace queries on the genealogy graph: backward, forward, recall scope and the whole chain.

References are followed as the silos wrote them and resolved through approved annotations: MES
consumption names batch ``3100526``, the approved link says it is ERP lot ``0003100526``, whose
supplier lot and supplier the ERP knows. Serial numbers are printed on the unit, so MES, WMS and
QMS share them across spaces; a claim's serial "as typed" is resolved by its normalised form.
Every query is a few set-based SQL statements, so their cost grows with the answer, not the plant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from factorybrain.exceptions import ParameterError
from factorybrain.model import site_sql
from factorybrain.store import DuckDBStore, Store

_APPROVED = (
    "SELECT source_space, source_identifier, source_kind, target_type, target_space, "
    "target_external_id "
    "FROM annotation WHERE status = 'approved'"
)


@dataclass
class Trace:
    """The answer of a trace query: one table per hop, and what could not be resolved.

    Attributes:
        subject: What the trace started from.
        tables: Named frames (``lots``, ``work_orders``, ``serials``, ``operations``...).
        unresolved: References met on the way that no record or approved link resolves.
    """

    subject: dict[str, Any]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    unresolved: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists of records) for JSON, REST and MCP."""
        return {
            "subject": self.subject,
            "tables": {
                name: frame.astype(object).where(frame.notna(), None).to_dict("records")
                for name, frame in self.tables.items()
            },
            "unresolved": self.unresolved,
        }


# -- resolving identifiers ---------------------------------------------------------------------
#: Digits and Latin letters as an East Asian keyboard types them (full width), and in ASCII.
_FULL_WIDTH = "".join(
    chr(code) for code in (*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B))
)
_ASCII = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_TO_ASCII = str.maketrans(_FULL_WIDTH, _ASCII)


def serial_letters_sql(column: str) -> str:
    """SQL of a typed serial's letters and digits, upper case, full-width ones in ASCII.

    ``dg-2500 4711`` and ``ＤＧ２５００４７１１`` (typed on a Chinese or Japanese keyboard) both
    give ``DG25004711``; an empty or missing serial gives ``''``.
    """
    return (
        f"regexp_replace(upper(translate(coalesce({column}, ''), '{_FULL_WIDTH}', '{_ASCII}')), "
        "'[^A-Z0-9]', '', 'g')"
    )


def serial_letters(typed: object) -> str:
    """A typed serial's letters and digits, as :func:`serial_letters_sql` gives them."""
    return re.sub(r"[^A-Z0-9]", "", str(typed).translate(_TO_ASCII).upper())


def _serial_key_sql(column: str) -> str:
    """SQL of a serial's comparable form: letters and digits, numbers without zero padding."""
    return f"regexp_replace({serial_letters_sql(column)}, " r"'(^|[^0-9])0+([0-9])', '\1\2', 'g')"


def serial_key(typed: str) -> str:
    """The comparable form of a serial: case, spaces, separators and zero padding aside.

    ``pu-0021``, ``PU 0021`` and ``PU21`` share the key ``PU21``; ``dg 2500 4711`` and
    ``DG25004711`` share ``DG25004711``.
    """
    cleaned = serial_letters(typed)
    return re.sub(r"(^|[^0-9])0+([0-9])", r"\1\2", cleaned)


def resolve_serial(store: Store, typed: str) -> str | None:
    """The serial a typed serial number names: same letters and digits, or the same number.

    ``pu0010002214``, ``PU-0010002214``, ``PU 001 0002214`` and ``10002214`` all name
    ``PU0010002214``; a serial's printed ``serial_number`` counts as well as its id. Case, spaces,
    separators and zero padding are set aside when nothing matches as written. Returns ``None``
    when nothing or more than one serial fits.
    """
    text = str(typed).strip()
    cleaned = serial_letters(text)
    if not cleaned:
        return None
    exact = store.query(
        "SELECT DISTINCT external_id FROM serial_unit WHERE external_id IN (?, ?) "
        "OR serial_number IN (?, ?)",
        [text, cleaned, text, cleaned],
    )
    if len(exact) == 1:
        return str(exact.external_id.iloc[0])
    key = serial_key(cleaned)
    same = store.query(
        "SELECT DISTINCT external_id FROM serial_unit WHERE "
        f"{_serial_key_sql('external_id')} = ? "
        f"OR (serial_number IS NOT NULL AND {_serial_key_sql('serial_number')} = ?)",
        [key, key],
    )
    if len(same) == 1:
        return str(same.external_id.iloc[0])
    if len(same) > 1:
        return None
    if cleaned.isdigit():
        digits = cleaned.lstrip("0")
        found = store.query(
            "SELECT DISTINCT external_id FROM serial_unit WHERE external_id LIKE ? "
            "AND ltrim(regexp_replace(external_id, '[^0-9]', '', 'g'), '0') = ?",
            [f"%{digits}", digits],
        )
        if len(found) == 1:
            return str(found.external_id.iloc[0])
    return None


def _lot_identifiers(store: Store, lot: str) -> pd.DataFrame:
    """Every (space, identifier) that names the plant lots of ``lot`` (any silo's spelling)."""
    return store.query(
        f"""
        WITH approved AS ({_APPROVED}),
        named AS (
            SELECT space, external_id FROM material_lot
            WHERE external_id = $lot OR supplier_lot = $lot OR lot_number = $lot
               OR (regexp_full_match($lot, '[0-9]+')
                   AND ltrim(external_id, '0') = ltrim($lot, '0'))
            UNION
            SELECT target_space, target_external_id FROM approved
            WHERE source_identifier = $lot AND target_type = 'material_lot'
            UNION
            SELECT m.space, m.external_id FROM approved a JOIN material_lot m
              ON m.space = a.target_space AND m.supplier_lot = a.target_external_id
            WHERE a.source_identifier = $lot AND a.target_type = 'supplier_lot'
        )
        SELECT n.space AS lot_space, n.external_id AS lot, n.space, n.external_id AS identifier
        FROM named n
        UNION
        SELECT n.space, n.external_id, a.source_space, a.source_identifier
        FROM named n JOIN approved a
          ON a.target_space = n.space AND a.target_external_id = n.external_id
        UNION
        -- another silo's consumption that writes the lot's number as the plant does
        SELECT n.space, n.external_id, e.source_space, e.source_external_id
        FROM named n JOIN edge e
          ON e.edge_type = 'consumed_in' AND e.source_space <> n.space
         AND e.source_external_id = n.external_id
        """,
        # Named $parameters: DuckDB takes a dict, Store.query's annotation omits it.
        {"lot": lot},
    )


def link_claim_serials(store: Store) -> int:
    """Approve links from each claim's serial "as typed" to the serial it names.

    A typed serial names a serial when its letters and digits are the serial's, or when it is
    only digits and exactly one serial has that number. Only the serials of the claim's own
    site count (:mod:`factorybrain.model._spaces`): a company's plants may number alike. Typos
    that name no serial stay unresolved. Returns the number of links written.
    """
    from factorybrain.context._matching import write_annotations

    links = store.query(
        f"""
        WITH c AS (
            SELECT DISTINCT space, serial_unit AS typed,
                   {serial_letters_sql("serial_unit")} AS cleaned, {site_sql("space")} AS site
            FROM warranty_claim WHERE serial_unit IS NOT NULL
        ),
        u AS (SELECT space, external_id, {site_sql("space")} AS site FROM serial_unit),
        exact AS (
            SELECT c.space, c.typed, u.external_id AS serial, u.space AS serial_space
            FROM c JOIN u ON u.external_id = c.cleaned AND u.site = c.site
        ),
        digits AS (
            SELECT c.space, c.typed, u.external_id AS serial, u.space AS serial_space
            FROM c JOIN u
              ON ltrim(regexp_replace(u.external_id, '[^0-9]', '', 'g'), '0')
                 = ltrim(c.cleaned, '0') AND u.site = c.site
            WHERE regexp_full_match(c.cleaned, '[0-9]+')
              AND NOT EXISTS (SELECT 1 FROM exact e WHERE e.space = c.space AND e.typed = c.typed)
        ),
        found AS (SELECT * FROM exact UNION ALL SELECT * FROM digits)
        SELECT space, typed, any_value(serial) AS serial, any_value(serial_space) AS serial_space
        FROM found
        GROUP BY space, typed HAVING count(DISTINCT serial) = 1
        """
    )
    if links.empty:
        return 0
    proposals = pd.DataFrame(
        {
            "source_space": links.space,
            "source_identifier": links.typed,
            "source_kind": "warranty_claim.serial_unit",
            "target_type": "serial_unit",
            "target_space": links.serial_space,
            "target_external_id": links.serial,
            "confidence": 1.0,
            "status": "approved",
            "ambiguous": False,
        }
    )
    existing = store.entities("annotation")
    return write_annotations(store, proposals, existing, method="serial-normalised/1")


# -- forward -----------------------------------------------------------------------------------
def forward(store: Store, lot: str) -> Trace:
    """Every serial built with a lot, where it went and who claimed it.

    Args:
        store: The store.
        lot: The lot as any silo writes it: ERP batch, supplier's lot number, MES or WMS batch.

    Returns:
        A :class:`Trace` with tables ``lots`` (the plant lots and their supplier lot and supplier),
        ``work_orders`` and ``serials`` (serial, work order, product, status, shipment, shipped_at,
        customer, claim).

    Raises:
        ParameterError: If no lot of that name is known.
    """
    names = _lot_identifiers(store, lot)
    if names.empty:
        raise ParameterError(f"lot {lot!r}: no plant lot, supplier lot or approved link names it")
    lots = _lot_details(store, names[["lot_space", "lot"]].drop_duplicates())
    consumers = _consumers(store, names)
    # consumption recorded per unit (the lot went into a serial) needs no order in between
    direct = consumers["work_order"].isin(_known_serials(store, consumers["work_order"]))
    work_orders = _linked_orders(store, consumers[~direct].reset_index(drop=True))
    serials = _serials_of(store, work_orders, direct_serials=consumers[direct])
    return Trace(
        subject={"lot": lot},
        tables={"lots": lots, "work_orders": work_orders, "serials": serials},
    )


def _known_serials(store: Store, identifiers: pd.Series) -> set[str]:
    """Which of ``identifiers`` are serial units."""
    if identifiers.empty:
        return set()
    found = store.query(
        "SELECT DISTINCT external_id FROM serial_unit WHERE external_id IN (SELECT unnest(?))",
        [identifiers.astype(str).tolist()],
    )
    return set(found.external_id)


def _linked_orders(store: Store, orders: pd.DataFrame) -> pd.DataFrame:
    """The consuming orders and every order that names the same one in another silo.

    An ERP production order and the MES order that made its serials are linked by an approved
    annotation (either way round), or written with the same number save zero padding; the MES
    order's serials are the ERP order's. Linked orders are added with ``linked_from``.
    """
    if orders.empty:
        return orders.assign(linked_from=pd.Series(dtype=object))
    linked = store.query(
        f"""
        WITH approved AS ({_APPROVED}),
        w AS (SELECT unnest($spaces) AS space, unnest($ids) AS work_order),
        links AS (
            SELECT w.space AS from_space, w.work_order AS from_order,
                   a.target_space AS space, a.target_external_id AS work_order
            FROM w JOIN approved a
              ON a.source_space = w.space AND a.source_identifier = w.work_order
            WHERE a.target_type = 'work_order'
            UNION
            SELECT w.space, w.work_order, a.source_space, a.source_identifier
            FROM w JOIN approved a
              ON a.target_space = w.space AND a.target_external_id = w.work_order
            WHERE a.target_type = 'work_order'
            UNION
            SELECT w.space, w.work_order, o.space, o.external_id
            FROM w JOIN work_order o
              ON o.space <> w.space
             AND regexp_full_match(w.work_order, '[0-9]+')
             AND length(ltrim(w.work_order, '0')) >= 6
             AND ltrim(o.external_id, '0') = ltrim(w.work_order, '0')
        )
        SELECT DISTINCT space, work_order, from_order AS linked_from FROM links
        """,
        # Named $parameters: DuckDB takes a dict, Store.query's annotation omits it.
        {"spaces": orders.space.tolist(), "ids": orders.work_order.tolist()},
    )
    known = set(zip(orders.space, orders.work_order, strict=True))
    linked = linked[
        [(a, b) not in known for a, b in zip(linked.space, linked.work_order, strict=True)]
    ]
    out = orders.assign(linked_from=None)
    if linked.empty:
        return out
    return pd.concat([out, linked.drop_duplicates(["space", "work_order"])], ignore_index=True)


def _consumers(store: Store, names: pd.DataFrame) -> pd.DataFrame:
    spaces = names.space.tolist()
    identifiers = names.identifier.tolist()
    return store.query(
        """
        WITH n AS (SELECT unnest($spaces) AS space, unnest($ids) AS identifier)
        SELECT e.target_space AS space, e.target_external_id AS work_order,
               sum(e.quantity) AS quantity, min(e.start_time) AS consumed_at
        FROM edge e JOIN n ON e.source_space = n.space AND e.source_external_id = n.identifier
        WHERE e.edge_type = 'consumed_in'
        GROUP BY ALL ORDER BY consumed_at
        """,
        # Named $parameters: DuckDB takes a dict, Store.query's annotation omits it.
        {"spaces": spaces, "ids": identifiers},
    )


def _lot_details(store: Store, lots: pd.DataFrame) -> pd.DataFrame:
    return store.query(
        """
        WITH l AS (SELECT unnest($spaces) AS space, unnest($ids) AS lot)
        SELECT m.space, m.external_id AS lot, m.supplier_lot, m.material, mat.name AS material_name,
               s.supplier, sup.name AS supplier_name, m.received_at
        FROM l JOIN material_lot m ON m.space = l.space AND m.external_id = l.lot
        LEFT JOIN supplier_lot s ON s.space = m.space AND s.external_id = m.supplier_lot
        LEFT JOIN material mat ON mat.space = m.space AND mat.external_id = m.material
        LEFT JOIN supplier sup ON sup.space = s.space AND sup.external_id = s.supplier
        ORDER BY m.external_id
        """,
        # Named $parameters: DuckDB takes a dict, Store.query's annotation omits it.
        {"spaces": lots.lot_space.tolist(), "ids": lots.lot.tolist()},
    )


#: The precomputed serial table: one row per produced serial, ordered by work order.
SERIAL_INDEX = "context_serial_index"


def _serials_sql(where: str, source: str | None = None) -> str:
    produced = (
        "SELECT e.source_space AS space, e.source_external_id AS work_order, "
        f"e.target_external_id AS serial FROM edge e {where}"
    )
    return f"""
        WITH approved AS ({_APPROVED}),
        s AS ({source or produced}),
        shipped AS (
            SELECT source_external_id AS serial, min(target_space) AS space,
                   min(target_external_id) AS shipment
            FROM edge WHERE edge_type = 'shipped_in' GROUP BY ALL
        ),
        claims AS (
            SELECT a.target_external_id AS serial, min(w.external_id) AS claim
            FROM warranty_claim w JOIN approved a
              ON a.source_space = w.space AND a.source_identifier = w.serial_unit
             AND a.target_type = 'serial_unit'
            GROUP BY ALL
        )
        SELECT s.space, s.work_order, s.serial, u.product, u.status AS mes_status,
               sh.external_id AS shipment, sh.shipped_at, sh.customer,
               cu.name AS customer_name, c.claim,
               CASE WHEN c.claim IS NOT NULL THEN 'claimed'
                    WHEN sh.external_id IS NOT NULL THEN 'shipped'
                    ELSE coalesce(u.status, 'unknown') END AS location
        FROM s
        LEFT JOIN serial_unit u ON u.external_id = s.serial
        LEFT JOIN shipped se ON se.serial = s.serial
        LEFT JOIN shipment sh ON sh.space = se.space AND sh.external_id = se.shipment
        LEFT JOIN approved ca ON ca.source_space = sh.space AND ca.source_identifier = sh.customer
             AND ca.target_type = 'customer'
        LEFT JOIN customer cu
          ON cu.space = ca.target_space AND cu.external_id = ca.target_external_id
        LEFT JOIN claims c ON c.serial = s.serial
    """


def refresh_serial_index(store: Store) -> int:
    """Precompute where every produced serial is (shipment, customer, claim), by work order.

    Forward traces and recall scopes read this table while it counts every produced serial (a
    newer load makes them fall back to the live query), so their cost is the size of the answer;
    ``factorybrain match run`` rebuilds it. Returns the number of serials.
    """
    sql = _serials_sql("WHERE e.edge_type = 'produced'")
    if not isinstance(store, DuckDBStore):
        # Building the table needs the DuckDB connection, which only the DuckDB store has: a
        # server store answers from the live query (the indexes of its edge table serve it).
        found = store.query("SELECT count(*) AS n FROM edge WHERE edge_type = 'produced'")
        return int(found.n[0])
    with store.transaction():
        store.connection.execute(
            f"CREATE OR REPLACE TABLE {SERIAL_INDEX} AS {sql} ORDER BY space, work_order, serial"
        ).fetchall()
    return int(store.query(f"SELECT count(*) AS n FROM {SERIAL_INDEX}").n[0])


def _has_index(store: Store) -> bool:
    """Whether the serial index exists and still counts every produced serial (else stale)."""
    found = store.query(
        "SELECT count(*) AS n FROM information_schema.tables WHERE table_name = ?", [SERIAL_INDEX]
    )
    if not found.n[0]:
        return False
    counts = store.query(
        f"SELECT (SELECT count(*) FROM {SERIAL_INDEX}) AS indexed, "
        "(SELECT count(*) FROM edge WHERE edge_type = 'produced') AS produced"
    )
    return int(counts.indexed[0]) == int(counts.produced[0])


def _serials_of(
    store: Store, work_orders: pd.DataFrame, direct_serials: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Serials the orders produced (``produced`` edges, else the serial's own ``work_order``).

    ``direct_serials`` (``space, work_order`` = the serial) are serials a lot went into
    directly, per unit; they are listed with an empty work order.
    """
    parts = [_produced_serials(store, work_orders)]
    parameters = {"spaces": work_orders.space.tolist(), "ids": work_orders.work_order.tolist()}
    if len(work_orders):
        # serials that name their order but that no produced edge records
        parts.append(
            store.query(
                "SELECT * EXCLUDE (space) FROM ("
                + _serials_sql(
                    "",
                    "SELECT u.space, u.work_order, u.external_id AS serial FROM serial_unit u "
                    "SEMI JOIN (SELECT unnest($ids) AS work_order) w "
                    "ON u.work_order = w.work_order "
                    "WHERE NOT EXISTS (SELECT 1 FROM edge p WHERE p.edge_type = 'produced' "
                    "AND p.target_external_id = u.external_id)",
                )
                + ") ORDER BY serial",
                {"ids": parameters["ids"]},
            )
        )
    if direct_serials is not None and len(direct_serials):
        parts.append(
            store.query(
                "SELECT * EXCLUDE (space) FROM ("
                + _serials_sql(
                    "",
                    "SELECT unnest($spaces) AS space, CAST(NULL AS VARCHAR) AS work_order, "
                    "unnest($ids) AS serial",
                )
                + ") ORDER BY serial",
                {
                    "spaces": direct_serials.space.tolist(),
                    "ids": direct_serials.work_order.astype(str).tolist(),
                },
            )
        )
    parts = [part for part in parts if len(part)]
    if len(parts) <= 1:
        return parts[0] if parts else _produced_serials(store, work_orders)
    merged = pd.concat(parts, ignore_index=True).drop_duplicates("serial")
    return merged.sort_values("serial").reset_index(drop=True)


def _produced_serials(store: Store, work_orders: pd.DataFrame) -> pd.DataFrame:
    parameters = {"spaces": work_orders.space.tolist(), "ids": work_orders.work_order.tolist()}
    if _has_index(store):
        return store.query(
            f"""
            WITH w AS (SELECT unnest($spaces) AS space, unnest($ids) AS work_order)
            SELECT i.* EXCLUDE (space) FROM {SERIAL_INDEX} i SEMI JOIN w
              ON i.space = w.space AND i.work_order = w.work_order
            ORDER BY i.serial
            """,
            # Named $parameters: DuckDB takes a dict, Store.query's annotation omits it.
            parameters,
        )
    where = (
        "JOIN (SELECT unnest($spaces) AS space, unnest($ids) AS work_order) w "
        "ON e.source_space = w.space AND e.source_external_id = w.work_order "
        "WHERE e.edge_type = 'produced'"
    )
    return store.query(
        f"SELECT * EXCLUDE (space) FROM ({_serials_sql(where)}) ORDER BY serial",
        # Named $parameters: DuckDB takes a dict, Store.query's annotation omits it.
        parameters,
    )


# -- backward ----------------------------------------------------------------------------------
def backward(store: Store, serial: str) -> Trace:
    """Where a serial came from: work order, lots, suppliers, machines and their states.

    The machines that processed it are listed with their states while they did.

    Args:
        store: The store.
        serial: The serial, exactly or as typed (``pu-0010002214``).

    Returns:
        A :class:`Trace` with tables ``work_order``, ``lots`` and ``operations`` (machine, start,
        end, minutes per machine state in the window, and the machine's series for the sensor
        window).

    Raises:
        ParameterError: If no serial of that name is known.
    """
    resolved = resolve_serial(store, serial)
    if resolved is None:
        raise ParameterError(f"serial {serial!r}: no serial unit has that number")
    order = store.query(
        "SELECT source_space AS space, source_external_id AS work_order, start_time AS produced_at "
        "FROM edge WHERE edge_type = 'produced' AND target_external_id = ?",
        [resolved],
    )
    if order.empty:  # no produced edge: the order the serial names itself
        order = store.query(
            "SELECT space, work_order, produced_at FROM serial_unit "
            "WHERE external_id = ? AND work_order IS NOT NULL LIMIT 1",
            [resolved],
        )
    trace = Trace(subject={"serial": resolved, "as_given": serial})
    trace.tables["work_order"] = order
    if order.empty:
        trace.unresolved.append(f"serial {resolved}: no work order produced it")
        return trace
    # the order that made it, and the same order in other silos (the ERP order, the MES order)
    orders = _linked_orders(store, order[["space", "work_order"]].head(1))
    lots = store.query(
        f"""
        WITH approved AS ({_APPROVED}),
        orders AS (SELECT unnest($spaces) AS space, unnest($orders) AS work_order),
        c AS (
            SELECT e.source_space, e.source_external_id AS batch, e.quantity, e.start_time
            FROM edge e JOIN orders o
              ON e.target_space = o.space AND e.target_external_id = o.work_order
            WHERE e.edge_type = 'consumed_in'
            UNION ALL
            SELECT e.source_space, e.source_external_id, e.quantity, e.start_time
            FROM edge e WHERE e.edge_type = 'consumed_in' AND e.target_external_id = $serial
        )
        SELECT c.batch, c.quantity, c.start_time AS consumed_at,
               coalesce(m.external_id, ml.external_id) AS lot,
               coalesce(m.space, ml.space) AS lot_space,
               coalesce(m.supplier_lot, ml.supplier_lot) AS supplier_lot,
               coalesce(m.material, ml.material) AS material, s.supplier,
               sup.name AS supplier_name
        FROM c
        LEFT JOIN material_lot ml ON ml.space = c.source_space AND ml.external_id = c.batch
        LEFT JOIN approved a ON a.source_space = c.source_space AND a.source_identifier = c.batch
             AND a.target_type = 'material_lot'
        LEFT JOIN material_lot m
          ON m.space = a.target_space AND m.external_id = a.target_external_id
        LEFT JOIN supplier_lot s ON s.space = coalesce(m.space, ml.space)
             AND s.external_id = coalesce(m.supplier_lot, ml.supplier_lot)
        LEFT JOIN supplier sup ON sup.space = s.space AND sup.external_id = s.supplier
        ORDER BY c.batch
        """,
        # Named $parameters: DuckDB takes a dict, Store.query's annotation omits it.
        {"spaces": orders.space.tolist(), "orders": orders.work_order.tolist(), "serial": resolved},
    )
    trace.tables["lots"] = lots
    trace.unresolved += [f"batch {b}: no lot or approved link" for b in lots[lots.lot.isna()].batch]
    trace.tables["operations"] = _operations(store, order.space.iloc[0], order.work_order.iloc[0])
    return trace


def _operations(store: Store, space: str, work_order: str) -> pd.DataFrame:
    return store.query(
        f"""
        WITH approved AS ({_APPROVED}),
        o AS (
            SELECT space, external_id AS operation, sequence, operation_type, equipment,
                   start_time, end_time
            FROM operation WHERE space = $space AND work_order = $wo
        ),
        states AS (
            SELECT o.operation, ev.state,
                   sum(epoch(least(coalesce(ev.end_time, o.end_time), o.end_time)
                             - greatest(ev.start_time, o.start_time)) / 60.0) AS minutes
            FROM o JOIN event ev
              ON ev.space = o.space AND ev.asset = o.equipment AND ev.event_type = 'state'
             AND ev.start_time < o.end_time AND coalesce(ev.end_time, o.end_time) > o.start_time
            GROUP BY ALL
        ),
        series AS (
            SELECT a.target_external_id AS equipment, list(a.source_identifier ORDER BY
                   a.source_identifier) AS series
            FROM approved a WHERE a.source_kind = 'tag' AND a.target_type = 'asset'
            GROUP BY ALL
        )
        SELECT o.*, (SELECT map_from_entries(list(struct_pack(k := s.state,
                         v := round(s.minutes, 1))))
                     FROM states s WHERE s.operation = o.operation) AS state_minutes,
               series.series
        FROM o LEFT JOIN series ON series.equipment = o.equipment
        ORDER BY o.sequence, o.start_time
        """,
        # Named $parameters: DuckDB takes a dict, Store.query's annotation omits it.
        {"space": space, "wo": work_order},
    )


# -- chain and recall --------------------------------------------------------------------------
def claim_chain(store: Store, claim: str) -> Trace:
    """Field failure to supplier batch in one call: claim, serial, lots, suppliers, machines.

    Args:
        store: The store.
        claim: The warranty claim's id.

    Returns:
        The :func:`backward` trace of the claimed serial, with the claim in ``subject`` and table
        ``claim``; a serial that no record names is listed in ``unresolved``.

    Raises:
        ParameterError: If no claim has that id.
    """
    found = store.query(
        "SELECT space, external_id AS claim, serial_unit, product, customer, failure_date, text "
        "FROM warranty_claim WHERE external_id = ?",
        [claim],
    )
    if found.empty:
        raise ParameterError(f"claim {claim!r}: no warranty claim has that id")
    typed = found.serial_unit.iloc[0]
    serial = resolve_serial(store, typed) if isinstance(typed, str) else None
    if serial is None:
        trace = Trace(subject={"claim": claim, "serial_as_typed": typed})
        trace.tables["claim"] = found
        trace.unresolved.append(f"claim {claim}: serial {typed!r} names no serial unit")
        return trace
    trace = backward(store, serial)
    trace.subject = {"claim": claim, "serial_as_typed": typed, "serial": serial}
    trace.tables = {"claim": found, **trace.tables}
    return trace


def recall_scope(
    store: Store,
    *,
    lot: str | None = None,
    machine: str | None = None,
    start: Any = None,
    end: Any = None,
) -> Trace:
    """Serials affected by a suspect lot or by a machine's time window, and where they are now.

    Args:
        store: The store.
        lot: A suspect lot, as any silo writes it.
        machine: A machine (as the MES names it); with ``start`` and ``end``.
        start: Start of the machine window (UTC).
        end: End of the machine window (UTC).

    Returns:
        A :class:`Trace` with ``serials`` (each with ``location``: claimed, shipped, in_stock,
        scrapped, wip) and ``summary`` (serials per location).

    Raises:
        ParameterError: Without a lot, or without a machine and its window.
    """
    if lot is not None:
        trace = forward(store, lot)
    elif machine is not None and start is not None and end is not None:
        orders = store.query(
            "SELECT DISTINCT space, work_order FROM operation WHERE equipment = ? "
            "AND start_time < ? AND coalesce(end_time, ?) > ?",
            [machine, end, end, start],
        )
        trace = Trace(
            subject={"machine": machine, "start": str(start), "end": str(end)},
            tables={"work_orders": orders, "serials": _serials_of(store, orders)},
        )
    else:
        raise ParameterError("recall_scope needs a lot, or a machine with start and end")
    serials = trace.tables["serials"]
    trace.tables["summary"] = (
        serials.groupby("location").size().rename("serials").reset_index()
        if len(serials)
        else pd.DataFrame({"location": [], "serials": []})
    )
    return trace


def unresolved_references(store: Store) -> pd.DataFrame:
    """Count references no record and no approved link resolves, per space and field.

    Consumption batches, claim serials and operation machines are checked; each unresolved value
    stays as written and resolves as soon as the missing record or an approval arrives.
    """
    return store.query(
        f"""
        WITH approved AS ({_APPROVED}),
        batches AS (
            SELECT DISTINCT e.source_space AS space, e.source_external_id AS value
            FROM edge e WHERE e.edge_type = 'consumed_in'
        ),
        claims AS (SELECT DISTINCT space, serial_unit AS value FROM warranty_claim
                   WHERE serial_unit IS NOT NULL),
        machines AS (SELECT DISTINCT space, equipment AS value FROM operation
                     WHERE equipment IS NOT NULL)
        SELECT 'edge.consumed_in.source' AS reference, b.space, count(*) AS unresolved
        FROM batches b
        WHERE NOT EXISTS (SELECT 1 FROM material_lot m WHERE m.space = b.space
                          AND m.external_id = b.value)
          AND NOT EXISTS (SELECT 1 FROM approved a WHERE a.source_space = b.space
                          AND a.source_identifier = b.value)
        GROUP BY ALL
        UNION ALL
        SELECT 'warranty_claim.serial_unit', c.space, count(*) FROM claims c
        WHERE NOT EXISTS (SELECT 1 FROM serial_unit u
                          WHERE u.external_id = {serial_letters_sql("c.value")})
          AND NOT EXISTS (SELECT 1 FROM approved a WHERE a.source_space = c.space
                          AND a.source_identifier = c.value)
        GROUP BY ALL
        UNION ALL
        SELECT 'operation.equipment', o.space, count(*) FROM machines o
        WHERE NOT EXISTS (SELECT 1 FROM asset s WHERE s.space = o.space AND s.external_id = o.value)
          AND NOT EXISTS (SELECT 1 FROM approved a WHERE a.source_space = o.space
                          AND a.source_identifier = o.value)
        GROUP BY ALL
        """
    )


# -- the generic graph walk --------------------------------------------------------------------
@dataclass
class GraphWalk:
    """Nodes reached from a start node over genealogy edges, and the cycles met on the way.

    Attributes:
        nodes: ``(space, external_id, depth)`` of every node reached (the start at depth 0).
        edges: The edges followed: ``(edge_type, source, target)`` with nodes as ``space:id``.
        cycles: Edges that lead back to a node already on the path to their source (bad data);
            they are reported and not followed.
    """

    nodes: list[tuple[str, str, int]]
    edges: list[tuple[str, str, str]]
    cycles: list[tuple[str, str, str]]


def walk(
    store: Store,
    space: str,
    external_id: str,
    *,
    direction: str = "downstream",
    max_depth: int = 50,
) -> GraphWalk:
    """Follow genealogy edges from one node, level by level, without looping on cycles.

    Downstream follows edges from source to target (lot -> work order -> serial -> shipment);
    upstream follows them back. A node reached along two paths (a diamond, a merged lot) is
    visited once; an edge back to an ancestor of its source is a cycle, reported and not followed.

    Args:
        store: The store.
        space: Space of the start node.
        external_id: Id of the start node.
        direction: ``downstream`` or ``upstream``.
        max_depth: Levels to follow at most.

    Raises:
        ParameterError: If ``direction`` is neither ``downstream`` nor ``upstream``.
    """
    if direction not in ("downstream", "upstream"):
        raise ParameterError(f"direction must be 'downstream' or 'upstream'; got {direction!r}")
    near, far = ("source", "target") if direction == "downstream" else ("target", "source")
    start = (space, external_id)
    ancestors: dict[tuple[str, str], frozenset[tuple[str, str]]] = {start: frozenset()}
    depth = {start: 0}
    frontier = [start]
    edges: list[tuple[str, str, str]] = []
    cycles: list[tuple[str, str, str]] = []
    for level in range(1, max_depth + 1):
        if not frontier:
            break
        found = store.query(
            f"""
            WITH f AS (SELECT unnest($spaces) AS space, unnest($ids) AS external_id)
            SELECT e.edge_type, e.{near}_space AS ns, e.{near}_external_id AS nid,
                   e.{far}_space AS fs, e.{far}_external_id AS fid
            FROM edge e JOIN f ON e.{near}_space = f.space AND e.{near}_external_id = f.external_id
            WHERE e.edge_type <> 'supplied_by'
            ORDER BY ALL
            """,
            # Named $parameters: DuckDB takes a dict, Store.query's annotation omits it.
            {"spaces": [n[0] for n in frontier], "ids": [n[1] for n in frontier]},
        )
        next_frontier = []
        for edge_type, ns, nid, fs, fid in found.itertuples(index=False):
            source, target = (ns, nid), (fs, fid)
            label = (edge_type, f"{ns}:{nid}", f"{fs}:{fid}")
            if target == source or target in ancestors[source]:
                cycles.append(label)
                continue
            edges.append(label)
            if target in depth:
                continue
            depth[target] = level
            ancestors[target] = ancestors[source] | {source}
            next_frontier.append(target)
        frontier = next_frontier
    nodes = [(s, i, d) for (s, i), d in sorted(depth.items(), key=lambda item: item[1])]
    return GraphWalk(nodes=nodes, edges=edges, cycles=cycles)
