"""The REST API of factorybrain (FastAPI): the factory model, the agents' records, approvals.

Build it with :func:`create_app` and serve it with ``factorybrain serve``; issue tokens with
``factorybrain token create``.
"""

from __future__ import annotations

from factorybrain.api._app import API_PREFIX, ENTITY_ROUTES, create_app, parse_every
from factorybrain.api._tokens import TokenInfo, TokenStore, default_tokens_path

__all__ = [
    "API_PREFIX",
    "ENTITY_ROUTES",
    "TokenInfo",
    "TokenStore",
    "create_app",
    "default_tokens_path",
    "parse_every",
]
