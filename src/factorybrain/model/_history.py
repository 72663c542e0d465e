"""What the factory model knew at a past moment: the time each record became known.

Looking back (``factorybrain agents replay``, ``agents run --as-of``) shows the agents only what
was known at each step. A record of the model carries the times of what happened to it, and
those say what was known when: a quality result is known once it was measured, a claim once it
was claimed, a machine state once it began; an event that had begun but not ended was open. So
for each entity type the model names:

- ``known_at``: the field at which a record becomes known (None: known all along, as machines,
  materials and orders that are planned ahead are);
- ``later``: fields that record what happened afterwards, unknown (empty) before their time
  (an event's end, an order's actual end, a purchase order's receipt);
- ``status``: for a type whose status follows those times, the status as of a moment, as SQL
  over the row and the parameter ``$as_of`` (an order that ended after it was in progress then);
- ``planned``: SQL over the row that holds for records planned ahead, known all along with all
  their times (a shift of the calendar is an event known before it begins).

The stores turn these into the views of :meth:`factorybrain.store.Store.as_of`. A type absent
here is taken as known all along. Datapoints are known from their timestamp and timed genealogy
edges from their start; the store knows those two itself.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KnownAt:
    """When the records of one entity type become known, and what of them only later.

    Attributes:
        known_at: The timestamp field at which a record becomes known; None: known all along.
        later: Timestamp fields unknown (empty) before their own time.
        status: SQL giving the ``status`` as of ``$as_of`` (None: the status as stored).
        planned: SQL that holds for the records planned ahead (known all along, times and
            all); None: none is.
    """

    known_at: str | None = None
    later: tuple[str, ...] = ()
    status: str | None = None
    planned: str | None = None


#: The status of an order as of ``$as_of``, from its actual start and end.
_ORDER_STATUS = (
    "CASE WHEN actual_end IS NOT NULL AND actual_end <= $as_of THEN status "
    "WHEN actual_start IS NOT NULL AND actual_start <= $as_of THEN 'in_progress' "
    "WHEN status IN ('in_progress', 'completed') THEN 'released' ELSE status END"
)

#: Entity types whose records became known at one of their own times.
KNOWN_AT: dict[str, KnownAt] = {
    "event": KnownAt("start_time", ("end_time",), planned="event_type = 'shift'"),
    "supplier_lot": KnownAt("manufactured_at"),
    "purchase_order": KnownAt("ordered_at", ("received_at",)),
    "material_lot": KnownAt("received_at"),
    "work_order": KnownAt(None, ("actual_start", "actual_end"), _ORDER_STATUS),
    "operation": KnownAt("start_time", ("end_time",)),
    "serial_unit": KnownAt("produced_at"),
    "quality_result": KnownAt("measured_at"),
    "maintenance_order": KnownAt(None, ("actual_start", "actual_end"), _ORDER_STATUS),
    "inventory_transaction": KnownAt("occurred_at"),
    "stock_level": KnownAt("as_of"),
    "sales_order": KnownAt("ordered_at"),
    "shipment": KnownAt("shipped_at"),
    "warranty_claim": KnownAt("claimed_at"),
    "service_visit": KnownAt("visited_at"),
}


def known_at(entity_type: str) -> KnownAt:
    """When the records of ``entity_type`` become known (known all along if not listed)."""
    return KNOWN_AT.get(entity_type, KnownAt())
