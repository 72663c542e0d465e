"""Commands contributed by layers above the foundation (simulate, demo, ...)."""

from __future__ import annotations
