"""store layer of factorybrain."""
