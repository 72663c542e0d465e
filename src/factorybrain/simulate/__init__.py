"""The demo factory: a multi-silo pump plant with known ground truth.

``simulate_plant`` writes the exports of an electric-pump plant (ERP, MES, historian, QMS, WMS, CRM
and engineering, each in its own format and naming habits) and ``truth.json``, the answers every
capability of factorybrain is scored against. See ``docs/demo-factory.md``.
"""

from __future__ import annotations

from factorybrain.simulate._plant import PlantSummary, simulate_plant

__all__ = ["PlantSummary", "simulate_plant"]
