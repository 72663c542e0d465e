"""web layer of factorybrain."""
