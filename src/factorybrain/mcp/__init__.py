"""The MCP server of factorybrain: the factory model and the agents' records for AI assistants.

Build it with :func:`create_server`; ``factorybrain mcp`` serves it over stdio or streamable HTTP.
"""

from __future__ import annotations

from factorybrain.mcp._server import INSTRUCTIONS, create_http_app, create_server

__all__ = ["INSTRUCTIONS", "create_http_app", "create_server"]
