"""agents layer of factorybrain."""
