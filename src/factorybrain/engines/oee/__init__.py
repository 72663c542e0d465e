"""Overall equipment effectiveness (ISO 22400-2) and its loss breakdown, on pandas tables."""

from __future__ import annotations

from factorybrain.engines.oee._oee import oee, oee_losses

__all__ = ["oee", "oee_losses"]
