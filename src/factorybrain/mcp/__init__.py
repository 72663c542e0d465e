"""mcp layer of factorybrain."""
