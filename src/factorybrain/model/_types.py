"""The building blocks of the factory model: fields, entity types and relations."""

from __future__ import annotations

from dataclasses import dataclass, field

#: Field types of the model and the DuckDB type each is stored as.
FIELD_TYPES: dict[str, str] = {
    "string": "VARCHAR",
    "text": "VARCHAR",
    "int": "BIGINT",
    "float": "DOUBLE",
    "bool": "BOOLEAN",
    "timestamp": "TIMESTAMP",
    "json": "JSON",
    "string[]": "VARCHAR[]",
}


@dataclass(frozen=True)
class Field:
    """One field of an entity type.

    Args:
        name: Column name, snake_case.
        type: One of :data:`FIELD_TYPES`; timestamps are stored in UTC.
        description: What the field means, for the reference and the help texts.
        required: Whether a row without it is rejected at ingestion.
        ref: For a relation, the entity type it points to; the value is that entity's
            ``external_id`` in the same space unless the mapping says otherwise.
        unit: For a physical quantity, the unit it is stored in; ingestion converts into it.
        values: For an enumeration, the allowed values.
    """

    name: str
    type: str
    description: str
    required: bool = False
    ref: str | None = None
    unit: str | None = None
    values: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.type not in FIELD_TYPES:
            raise ValueError(f"field {self.name!r}: unknown type {self.type!r}")

    @property
    def sql_type(self) -> str:
        """The DuckDB column type of this field."""
        return FIELD_TYPES[self.type]


#: Identity and provenance fields every entity has (Cognite core data model).
IDENTITY_FIELDS: tuple[Field, ...] = (
    Field("space", "string", "Site or source system the identifier is unique in.", required=True),
    Field("external_id", "string", "Identifier, unique within its space.", required=True),
    Field("name", "string", "Human-readable name."),
    Field("description", "text", "Free-text description."),
    Field("aliases", "string[]", "Other names the same thing goes by in other systems."),
    Field("tags", "string[]", "Free labels for search and grouping."),
    Field("source", "string", "System the record came from (erp, mes, historian, ...)."),
    Field("source_id", "string", "Identifier of the record in its source system."),
)

#: Bookkeeping columns the store maintains itself; never mapped from files.
SYSTEM_COLUMNS: tuple[Field, ...] = (
    Field("created_at", "timestamp", "When the store first saw the record (UTC)."),
    Field("updated_at", "timestamp", "When the record last changed (UTC)."),
    Field("ingest_id", "string", "Ingest batch that last changed the record."),
)


@dataclass(frozen=True)
class EntityType:
    """A kind of thing in the factory model, stored as one table keyed by (space, external_id).

    Args:
        name: Table name, snake_case, singular.
        group: Part of the model it belongs to (hierarchy, engineering, supply, ...).
        description: What it represents.
        fields: Its own fields, after the identity fields.
        identity: Whether it carries the identity fields (every model entity does).
    """

    name: str
    group: str
    description: str
    fields: tuple[Field, ...] = field(default_factory=tuple)
    identity: bool = True

    @property
    def all_fields(self) -> tuple[Field, ...]:
        """Identity fields followed by the type's own fields."""
        return (IDENTITY_FIELDS + self.fields) if self.identity else self.fields

    def field(self, name: str) -> Field:
        """Return the field called ``name``.

        Raises:
            KeyError: If the entity type has no such field.
        """
        for candidate in self.all_fields:
            if candidate.name == name:
                return candidate
        raise KeyError(name)

    @property
    def field_names(self) -> tuple[str, ...]:
        """Names of all fields, identity first."""
        return tuple(f.name for f in self.all_fields)

    @property
    def relations(self) -> tuple[Field, ...]:
        """The fields that point to another entity type."""
        return tuple(f for f in self.all_fields if f.ref is not None)


@dataclass(frozen=True)
class EdgeType:
    """A genealogy edge kind: ``source_type -name-> target_type``.

    Args:
        name: The verb, for example ``consumed_in``.
        source_type: Entity type at the tail of the edge.
        target_type: Entity type at the head of the edge.
        description: What the edge means.
        timed: Whether the edge carries a time window (``start_time``, ``end_time``).
    """

    name: str
    source_type: str
    target_type: str
    description: str
    timed: bool = False
