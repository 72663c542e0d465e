"""connectors layer of factorybrain."""
