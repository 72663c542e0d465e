"""``python -m factorybrain``."""

from __future__ import annotations

from factorybrain.cli import main

main()
