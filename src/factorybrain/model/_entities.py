"""Every entity type of the factory model, after ``DESIGN.md``.

Conventions adopted, not invented: identity after the Cognite core data model, the equipment
hierarchy after ISA-95 (enterprise > site > area > line > workcell > equipment), time series with
long-form datapoints, genealogy as typed edges.
"""

from __future__ import annotations

from factorybrain.model._types import EdgeType, EntityType, Field

ASSET_LEVELS = ("enterprise", "site", "area", "line", "workcell", "equipment")
F = Field

ENTITY_TYPES: tuple[EntityType, ...] = (
    # -- hierarchy ------------------------------------------------------------------------
    EntityType(
        "asset",
        "hierarchy",
        "A node of the ISA-95 equipment hierarchy: enterprise, site, area, line, workcell or "
        "equipment.",
        (
            F("level", "string", "ISA-95 level.", required=True, values=ASSET_LEVELS),
            F("parent", "string", "The asset one level up.", ref="asset"),
            F("asset_class", "string", "Kind of equipment (press, lathe, winder, tester...)."),
            F("manufacturer", "string", "Equipment maker."),
            F("model_number", "string", "Maker's model or type designation."),
            F("ideal_cycle_seconds", "float", "Ideal time per unit (ISO 22400).", unit="s"),
            F("installed_at", "timestamp", "Commissioning date."),
        ),
    ),
    # -- time series and events -----------------------------------------------------------
    EntityType(
        "time_series",
        "telemetry",
        "A measured or computed signal; its datapoints live in long form (series, ts, value).",
        (
            F("asset", "string", "Asset the signal belongs to.", ref="asset"),
            F("unit", "string", "Unit the datapoints are stored in (SI unless declared)."),
            F("source_unit", "string", "Unit the source sends; converted at ingestion."),
            F(
                "is_step",
                "bool",
                "Whether the value holds until the next point (states, setpoints).",
            ),
            F("value_type", "string", "Type of value.", values=("float", "int", "bool", "state")),
            F("series_id", "int", "Compact integer key of the datapoints (assigned by the store)."),
        ),
    ),
    EntityType(
        "event",
        "telemetry",
        "Something with a start and an end on assets: an alarm, a machine state, a downtime.",
        (
            F(
                "event_type",
                "string",
                "Kind of event.",
                required=True,
                values=("alarm", "state", "downtime", "setup", "changeover", "shift", "other"),
            ),
            F(
                "state",
                "string",
                "Machine state for state events.",
                values=("running", "idle", "down", "setup", "planned_down", "unknown"),
            ),
            F("reason", "string", "Reason code or text (downtime reason, alarm text)."),
            F("asset", "string", "Asset the event happened on.", ref="asset"),
            F("start_time", "timestamp", "Start (UTC).", required=True),
            F("end_time", "timestamp", "End (UTC); empty while it lasts."),
            F("severity", "string", "Alarm severity or priority."),
        ),
    ),
    # -- engineering ----------------------------------------------------------------------
    EntityType(
        "product",
        "engineering",
        "Something the plant makes and sells, or a spare part it sells.",
        (
            F("product_family", "string", "Family or platform."),
            F("unit_of_measure", "string", "Unit it is counted in."),
            F("revision", "string", "Current design revision."),
            F("standard_cost", "float", "Standard cost per unit."),
        ),
    ),
    EntityType(
        "material",
        "engineering",
        "A purchased or intermediate material, component or spare part.",
        (
            F("material_type", "string", "raw, component, subassembly, spare_part, consumable."),
            F("unit_of_measure", "string", "Unit it is counted in."),
            F("standard_cost", "float", "Standard cost per unit."),
            F("lead_time_days", "float", "Replenishment lead time in days."),
            F("safety_stock", "float", "Safety stock in the unit of measure."),
        ),
    ),
    EntityType(
        "bom",
        "engineering",
        "A has-part edge of a bill of materials: parent product or material has component.",
        (
            F("parent", "string", "Product, material or asset that has the part.", required=True),
            F(
                "parent_type",
                "string",
                "Entity type of the parent.",
                values=("product", "material", "asset"),
            ),
            F("component", "string", "Material that is the part.", required=True, ref="material"),
            F("quantity", "float", "Quantity of the component per parent.", required=True),
            F("unit_of_measure", "string", "Unit of the quantity."),
            F("revision", "string", "Design revision the line belongs to."),
        ),
    ),
    EntityType(
        "design_revision",
        "engineering",
        "An engineering change: a new revision of a product's design.",
        (
            F("product", "string", "Product revised.", required=True, ref="product"),
            F("revision", "string", "Revision label.", required=True),
            F("effective_from", "timestamp", "From when production uses it."),
            F("change_reason", "text", "Why it changed."),
            F("status", "string", "Lifecycle status.", values=("draft", "released", "obsolete")),
        ),
    ),
    EntityType(
        "recipe",
        "engineering",
        "A process recipe or routing step: how a product is made on an operation, with its "
        "parameter specifications.",
        (
            F("product", "string", "Product the recipe is for.", ref="product"),
            F("operation_type", "string", "Process step (machining, winding, assembly...)."),
            F("sequence", "int", "Position of the step in the product's routing."),
            F("workcell", "string", "Kind of equipment the step runs on."),
            F("ideal_cycle_seconds", "float", "Ideal time per unit on the step.", unit="s"),
            F("setup_seconds", "float", "Changeover time before the step.", unit="s"),
            F("version", "string", "Recipe version or revision."),
            F("valid_from", "timestamp", "From when the recipe applies."),
            F("parameters", "json", "Parameter specifications: {name: {setpoint, min, max}}."),
        ),
    ),
    # -- supply ---------------------------------------------------------------------------
    EntityType(
        "supplier",
        "supply",
        "A company that supplies materials.",
        (
            F("country", "string", "Country code."),
            F("rating", "float", "Supplier rating or score."),
        ),
    ),
    EntityType(
        "supplier_lot",
        "supply",
        "A batch as the supplier identifies it.",
        (
            F("supplier", "string", "Supplier that made it.", required=True, ref="supplier"),
            F("material", "string", "Material it is.", ref="material"),
            F("lot_number", "string", "Supplier's lot or batch number."),
            F("manufactured_at", "timestamp", "When the supplier made it."),
        ),
    ),
    EntityType(
        "purchase_order",
        "supply",
        "An order to a supplier for a material.",
        (
            F("supplier", "string", "Supplier ordered from.", ref="supplier"),
            F("material", "string", "Material ordered.", ref="material"),
            F("quantity", "float", "Quantity ordered."),
            F("ordered_at", "timestamp", "When it was ordered."),
            F("due_at", "timestamp", "Promised delivery."),
            F("received_at", "timestamp", "Actual delivery."),
            F(
                "status",
                "string",
                "Order status.",
                values=("open", "confirmed", "received", "closed", "cancelled"),
            ),
        ),
    ),
    EntityType(
        "material_lot",
        "supply",
        "A lot of material in the plant: received from a supplier or produced.",
        (
            F("lot_number", "string", "Lot number as labelled in the plant."),
            F("material", "string", "Material it is.", ref="material"),
            F(
                "supplier_lot",
                "string",
                "Supplier lot it came from, if purchased.",
                ref="supplier_lot",
            ),
            F("quantity", "float", "Quantity received or produced."),
            F("received_at", "timestamp", "When it arrived or was made."),
            F("expires_at", "timestamp", "Shelf-life end."),
            F(
                "status",
                "string",
                "Usage status.",
                values=("available", "quarantined", "consumed", "scrapped"),
            ),
        ),
    ),
    # -- production -----------------------------------------------------------------------
    EntityType(
        "work_order",
        "production",
        "An order to make a quantity of a product.",
        (
            F("product", "string", "Product to make.", ref="product"),
            F("quantity", "float", "Quantity to make."),
            F("release_at", "timestamp", "Earliest start."),
            F("due_at", "timestamp", "Due date."),
            F("planned_start", "timestamp", "Planned start."),
            F("planned_end", "timestamp", "Planned end."),
            F("actual_start", "timestamp", "Actual start."),
            F("actual_end", "timestamp", "Actual end."),
            F(
                "status",
                "string",
                "Order status.",
                values=("planned", "released", "in_progress", "completed", "cancelled"),
            ),
            F("priority", "int", "Priority, higher is more urgent."),
            F("sales_order", "string", "Sales order it serves.", ref="sales_order"),
            F("line", "string", "Line or work centre it is planned on.", ref="asset"),
        ),
    ),
    EntityType(
        "operation",
        "production",
        "A step of a work order processed on one equipment in a time window.",
        (
            F("work_order", "string", "Work order it belongs to.", required=True, ref="work_order"),
            F("sequence", "int", "Position in the routing."),
            F("operation_type", "string", "Process step (machining, winding, assembly, test)."),
            F("equipment", "string", "Equipment it ran on.", ref="asset"),
            F("start_time", "timestamp", "Start (UTC)."),
            F("end_time", "timestamp", "End (UTC)."),
            F("quantity_good", "float", "Good units out."),
            F("quantity_scrap", "float", "Scrapped units."),
            F("parameters", "json", "Process parameters as run: {name: value}."),
            F(
                "status",
                "string",
                "Operation status.",
                values=("planned", "in_progress", "completed", "cancelled"),
            ),
        ),
    ),
    EntityType(
        "operation_parameter",
        "production",
        "A process parameter of an operation as set and as run.",
        (
            F("operation", "string", "Operation it belongs to.", required=True, ref="operation"),
            F("parameter", "string", "Parameter name.", required=True),
            F("setpoint", "float", "Set value."),
            F("actual", "float", "Value as run."),
            F("unit", "string", "Unit of the values."),
        ),
    ),
    EntityType(
        "serial_unit",
        "production",
        "One individually identified unit of a product.",
        (
            F("serial_number", "string", "Serial number as printed on the unit."),
            F("product", "string", "Product it is.", ref="product"),
            F("work_order", "string", "Work order that produced it.", ref="work_order"),
            F("produced_at", "timestamp", "When it was finished."),
            F(
                "status",
                "string",
                "Where it is in its life.",
                values=("wip", "in_stock", "shipped", "returned", "scrapped"),
            ),
        ),
    ),
    EntityType(
        "quality_result",
        "production",
        "A measurement or test on a lot or serial, against its specification.",
        (
            F("test_name", "string", "What was measured.", required=True),
            F("value", "float", "Measured value."),
            F("unit", "string", "Unit of the value."),
            F("spec_min", "float", "Lower specification limit."),
            F("spec_max", "float", "Upper specification limit."),
            F("status", "string", "Verdict.", values=("pass", "fail", "pending")),
            F("serial_unit", "string", "Serial tested.", ref="serial_unit"),
            F("material_lot", "string", "Lot tested.", ref="material_lot"),
            F("equipment", "string", "Test equipment.", ref="asset"),
            F("measured_at", "timestamp", "When it was measured."),
        ),
    ),
    EntityType(
        "maintenance_order",
        "production",
        "A maintenance job on an asset.",
        (
            F("asset", "string", "Asset maintained.", required=True, ref="asset"),
            F(
                "order_type",
                "string",
                "Kind of job.",
                values=("corrective", "preventive", "predictive", "inspection"),
            ),
            F(
                "status",
                "string",
                "Order status.",
                values=("proposed", "planned", "released", "in_progress", "completed", "cancelled"),
            ),
            F("priority", "int", "Priority, higher is more urgent."),
            F("failure_mode", "string", "Failure mode found or expected."),
            F("planned_start", "timestamp", "Planned start."),
            F("planned_end", "timestamp", "Planned end."),
            F("actual_start", "timestamp", "Actual start."),
            F("actual_end", "timestamp", "Actual end."),
            F("notes", "text", "Technician's notes."),
        ),
    ),
    # -- logistics ------------------------------------------------------------------------
    EntityType(
        "location",
        "logistics",
        "A place stock is kept: warehouse, bin, line-side store.",
        (
            F("location_type", "string", "warehouse, bin, line_side, customer, in_transit."),
            F("parent", "string", "Enclosing location.", ref="location"),
            F("site", "string", "Site it belongs to.", ref="asset"),
        ),
    ),
    EntityType(
        "inventory_transaction",
        "logistics",
        "A movement of stock: receipt, issue, transfer, adjustment.",
        (
            F("material", "string", "Material moved.", required=True, ref="material"),
            F("location", "string", "Where.", ref="location"),
            F("material_lot", "string", "Lot moved.", ref="material_lot"),
            F("quantity", "float", "Signed quantity: positive in, negative out.", required=True),
            F(
                "transaction_type",
                "string",
                "Kind of movement.",
                values=(
                    "receipt",
                    "issue",
                    "transfer",
                    "adjustment",
                    "consumption",
                    "shipment",
                    "return",
                ),
            ),
            F("occurred_at", "timestamp", "When.", required=True),
            F("reference", "string", "Order or document it belongs to."),
        ),
    ),
    EntityType(
        "stock_level",
        "logistics",
        "On-hand quantity of a material at a location at a time.",
        (
            F("material", "string", "Material.", required=True, ref="material"),
            F("location", "string", "Location.", ref="location"),
            F("quantity", "float", "Quantity on hand.", required=True),
            F("as_of", "timestamp", "When it was counted.", required=True),
        ),
    ),
    EntityType(
        "customer",
        "logistics",
        "A company that buys products.",
        (
            F("country", "string", "Country code."),
            F("segment", "string", "Market segment."),
        ),
    ),
    EntityType(
        "sales_order",
        "logistics",
        "A customer's order for a product.",
        (
            F("customer", "string", "Customer.", ref="customer"),
            F("product", "string", "Product ordered.", ref="product"),
            F("quantity", "float", "Quantity ordered."),
            F("ordered_at", "timestamp", "When it was ordered."),
            F("due_at", "timestamp", "Requested delivery."),
            F(
                "status",
                "string",
                "Order status.",
                values=("open", "confirmed", "shipped", "closed", "cancelled"),
            ),
        ),
    ),
    EntityType(
        "shipment",
        "logistics",
        "A delivery to a customer.",
        (
            F("sales_order", "string", "Sales order shipped.", ref="sales_order"),
            F("customer", "string", "Customer.", ref="customer"),
            F("shipped_at", "timestamp", "When it left."),
            F("destination", "string", "Where it went."),
        ),
    ),
    # -- after-sales ----------------------------------------------------------------------
    EntityType(
        "warranty_claim",
        "after_sales",
        "A customer's claim that a unit failed in the field.",
        (
            F("serial_unit", "string", "Unit that failed.", ref="serial_unit"),
            F("product", "string", "Product as the claim names it.", ref="product"),
            F("customer", "string", "Customer who claimed.", ref="customer"),
            F("failure_date", "timestamp", "When it failed."),
            F("claimed_at", "timestamp", "When it was claimed."),
            F("failure_mode", "string", "Coded failure mode."),
            F("text", "text", "Customer's or technician's description."),
            F(
                "status",
                "string",
                "Claim status.",
                values=("open", "accepted", "rejected", "closed"),
            ),
        ),
    ),
    EntityType(
        "service_visit",
        "after_sales",
        "A field-service visit for a unit.",
        (
            F("serial_unit", "string", "Unit serviced.", ref="serial_unit"),
            F("warranty_claim", "string", "Claim it answers.", ref="warranty_claim"),
            F("visited_at", "timestamp", "When."),
            F("technician", "string", "Who."),
            F("findings", "text", "What was found and done."),
        ),
    ),
    # -- knowledge ------------------------------------------------------------------------
    EntityType(
        "document",
        "knowledge",
        "An SOP, FMEA, manual or report, linked to assets, products and failure modes.",
        (
            F(
                "document_type",
                "string",
                "Kind of document.",
                values=("sop", "fmea", "manual", "report", "drawing", "other"),
            ),
            F("title", "string", "Title."),
            F("content", "text", "Text content."),
            F("uri", "string", "Where the original lives."),
            F("assets", "string[]", "Assets it concerns."),
            F("products", "string[]", "Products it concerns."),
            F("failure_modes", "string[]", "Failure modes it covers."),
        ),
    ),
    # -- context --------------------------------------------------------------------------
    EntityType(
        "annotation",
        "context",
        "A link from a source record or identifier to a model entity, scored and reviewable.",
        (
            F("source_space", "string", "Space of the source identifier.", required=True),
            F(
                "source_identifier",
                "string",
                "The identifier as the source writes it.",
                required=True,
            ),
            F("source_kind", "string", "tag, name, code or text reference."),
            F("target_type", "string", "Entity type matched.", required=True),
            F("target_space", "string", "Space of the matched entity."),
            F("target_external_id", "string", "The matched entity.", required=True),
            F("confidence", "float", "Score in [0, 1]."),
            F(
                "status",
                "string",
                "Review status.",
                required=True,
                values=("suggested", "approved", "rejected"),
            ),
            F("method", "string", "Matcher that proposed it."),
            F("reviewed_by", "string", "Who approved or rejected it."),
            F("reviewed_at", "timestamp", "When."),
        ),
    ),
    # -- agent records --------------------------------------------------------------------
    EntityType(
        "finding",
        "agents",
        "Something an agent noticed, with its evidence.",
        (
            F("agent", "string", "Agent that noticed it.", required=True),
            F("kind", "string", "Namespaced kind, e.g. maintenance.rul_low.", required=True),
            F("subject_type", "string", "Entity type of the subject."),
            F("subject", "string", "Entity the finding is about."),
            F(
                "severity",
                "string",
                "Severity.",
                values=("info", "low", "medium", "high", "critical"),
            ),
            F("confidence", "float", "Confidence in [0, 1]."),
            F("evidence", "json", "Entity references and numbers behind it."),
            F(
                "status",
                "string",
                "Lifecycle.",
                values=("open", "acknowledged", "resolved", "superseded", "closed"),
            ),
        ),
    ),
    EntityType(
        "recommendation",
        "agents",
        "What an agent proposes to do about findings.",
        (
            F("finding_ids", "string[]", "Findings it answers."),
            F("agent", "string", "Agent that proposes it."),
            F("action_type", "string", "What to do, e.g. maintenance_order.create.", required=True),
            F("parameters", "json", "Arguments of the action."),
            F("expected_effect", "json", "What it should change, with numbers."),
            F("requires_approval", "bool", "Whether a person must approve it."),
            F("slot", "string", "What it is about (agent, type, findings, dedup key)."),
            F("content_hash", "string", "SHA-256 of everything a person sees of it."),
        ),
    ),
    EntityType(
        "action",
        "agents",
        "A recommendation on its way: proposed, approved or rejected, executed or failed.",
        (
            F("recommendation", "string", "Recommendation it carries out.", ref="recommendation"),
            F(
                "state",
                "string",
                "Where it is.",
                required=True,
                values=("proposed", "approved", "rejected", "superseded", "executed", "failed"),
            ),
            F("required_role", "string", "Role that may approve it."),
            F("decided_by", "string", "Who approved or rejected it."),
            F("decided_at", "timestamp", "When."),
            F("comment", "text", "Reviewer's comment."),
            F("result", "json", "What it changed when executed: before and after."),
            F("proposed_by", "string", "Who proposed it; never its approver."),
            F("content_hash", "string", "Content hash of the recommendation it carries out."),
            F("approved_hash", "string", "Content hash the approver saw and approved."),
            F("superseded_by", "string", "Action of the changed proposal that replaced it."),
        ),
    ),
    EntityType(
        "audit_entry",
        "agents",
        "One state change of anything an agent or a person did.",
        (
            F("actor", "string", "Agent or person.", required=True),
            F("verb", "string", "What happened, e.g. action.approved.", required=True),
            F("object_type", "string", "Entity type changed."),
            F("object_id", "string", "Entity changed."),
            F("occurred_at", "timestamp", "When.", required=True),
            F("details", "json", "Before, after, comment."),
            F("seq", "int", "Position in the append-only log, from 1 without gaps."),
            F("prev_hash", "string", "Hash of the entry before it."),
            F("hash", "string", "SHA-256 of this entry's content, position and prev_hash."),
        ),
    ),
)

EDGE_TYPES: tuple[EdgeType, ...] = (
    EdgeType("supplied_by", "supplier_lot", "supplier", "A supplier lot was made by a supplier."),
    EdgeType(
        "consumed_in",
        "material_lot",
        "work_order",
        "A material lot was consumed by a work order.",
        timed=True,
    ),
    EdgeType("produced", "work_order", "serial_unit", "A work order produced a serial unit."),
    EdgeType("produced_lot", "work_order", "material_lot", "A work order produced a material lot."),
    EdgeType(
        "processed_on",
        "operation",
        "asset",
        "An operation ran on an equipment in a time window.",
        timed=True,
    ),
    EdgeType("shipped_in", "serial_unit", "shipment", "A serial unit left in a shipment."),
    EdgeType(
        "claimed_in",
        "serial_unit",
        "warranty_claim",
        "A serial unit is the subject of a warranty claim.",
    ),
    EdgeType(
        "installed_in",
        "serial_unit",
        "serial_unit",
        "A serialised component was built into another unit.",
    ),
)

_BY_NAME = {entity.name: entity for entity in ENTITY_TYPES}
_EDGES_BY_NAME = {edge.name: edge for edge in EDGE_TYPES}


def entity_type(name: str) -> EntityType:
    """Return the entity type called ``name``.

    Raises:
        KeyError: With the list of known types, if there is none of that name.
    """
    try:
        return _BY_NAME[name]
    except KeyError:
        known = ", ".join(sorted(_BY_NAME))
        raise KeyError(f"unknown entity type {name!r}; expected one of: {known}") from None


def edge_type(name: str) -> EdgeType:
    """Return the edge type called ``name``."""
    try:
        return _EDGES_BY_NAME[name]
    except KeyError:
        known = ", ".join(sorted(_EDGES_BY_NAME))
        raise KeyError(f"unknown edge type {name!r}; expected one of: {known}") from None
