"""api layer of factorybrain."""
