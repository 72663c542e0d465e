"""The factory model: entity types, fields, identity, relations and genealogy edges."""

from __future__ import annotations

from factorybrain.model._entities import (
    ASSET_LEVELS,
    EDGE_TYPES,
    ENTITY_TYPES,
    edge_type,
    entity_type,
)
from factorybrain.model._history import KNOWN_AT, KnownAt, known_at
from factorybrain.model._reference import reference_markdown
from factorybrain.model._spaces import (
    MAX_SPACE_LENGTH,
    SITE_SEPARATOR,
    site_of,
    site_problem,
    site_sql,
    space_in_site,
)
from factorybrain.model._types import (
    FIELD_TYPES,
    IDENTITY_FIELDS,
    SYSTEM_COLUMNS,
    EdgeType,
    EntityType,
    Field,
)

__all__ = [
    "ASSET_LEVELS",
    "EDGE_TYPES",
    "ENTITY_TYPES",
    "EdgeType",
    "EntityType",
    "FIELD_TYPES",
    "Field",
    "IDENTITY_FIELDS",
    "KNOWN_AT",
    "KnownAt",
    "MAX_SPACE_LENGTH",
    "SITE_SEPARATOR",
    "SYSTEM_COLUMNS",
    "edge_type",
    "entity_type",
    "known_at",
    "reference_markdown",
    "site_of",
    "site_problem",
    "site_sql",
    "space_in_site",
]
