"""context layer of factorybrain."""
