"""model layer of factorybrain."""
