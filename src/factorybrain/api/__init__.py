"""The REST API of factorybrain (FastAPI): the factory model, the agents' records, approvals.

Build it with :func:`create_app` and serve it with ``factorybrain serve``; issue tokens with
``factorybrain token create``.
"""

from __future__ import annotations

from factorybrain.api._app import API_PREFIX, create_app
from factorybrain.api._deps import RateLimits
from factorybrain.api._queries import (
    READABLE_TYPES,
    get_entity,
    list_entities,
    parse_every,
    plant_status,
    series_data,
)
from factorybrain.api._routes.entities import ENTITY_ROUTES
from factorybrain.api._tokens import (
    ROLE_SCOPES,
    SCOPES,
    Session,
    TokenInfo,
    TokenStore,
    default_tokens_path,
)

__all__ = [
    "API_PREFIX",
    "ENTITY_ROUTES",
    "READABLE_TYPES",
    "ROLE_SCOPES",
    "RateLimits",
    "SCOPES",
    "Session",
    "TokenInfo",
    "TokenStore",
    "create_app",
    "default_tokens_path",
    "get_entity",
    "list_entities",
    "parse_every",
    "plant_status",
    "series_data",
]
