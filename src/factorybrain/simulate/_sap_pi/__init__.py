"""The second demo plant (profile ``sap-pi``): a gear-unit plant exported as other vendors do.

Drautal Getriebewerk makes industrial gear units in Villach (Austria, local time Europe/Vienna).
Its silos are written the way their vendors' systems export them: SAP ERP table extracts
(semicolon, cp1252, decimal comma, ``DD.MM.YYYY`` local dates, 18-digit material numbers), an
AVEVA PI archive export at 15-minute resolution with digital states and a PI AF hierarchy, a
JSON-lines MES event stream with nested genealogy and SEMI E10 machine states, a quality
workbook with title rows and typed German numbers, and service cases typed in English, German
and Chinese. See ``docs/demo-plant-2.md``.
"""

from __future__ import annotations

from factorybrain.simulate._sap_pi._run import SapPiResult, simulate_sap_pi

__all__ = ["SapPiResult", "simulate_sap_pi"]
