"""Small hand-made plants for the context tests."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from factorybrain.store import DuckDBStore


def add(store: DuckDBStore, entity_type: str, rows: list[dict[str, Any]]) -> None:
    """Upsert entities given as dicts (every row must have space and external_id)."""
    columns = sorted({key for row in rows for key in row})
    table = pa.table({c: [row.get(c) for row in rows] for c in columns})
    with store.transaction():
        store.upsert_entities(entity_type, table, "test")


def add_edges(store: DuckDBStore, edges: list[tuple[str, str, str, str, str]]) -> None:
    """Upsert edges ``(edge_type, source_space, source_id, target_space, target_id)``."""
    table = pa.table(
        {
            "edge_type": [e[0] for e in edges],
            "source_space": [e[1] for e in edges],
            "source_external_id": [e[2] for e in edges],
            "target_space": [e[3] for e in edges],
            "target_external_id": [e[4] for e in edges],
        }
    )
    with store.transaction():
        store.upsert_edges(table, "test")


def two_line_plant(store: DuckDBStore) -> None:
    """Two lines with a press each (same maker and model: confusable), seen by four silos."""
    add(
        store,
        "asset",
        [
            {"space": "mes", "external_id": "LINE-1", "name": "Pump line 1", "level": "line"},
            {"space": "mes", "external_id": "LINE-2", "name": "Pump line 2", "level": "line"},
            {"space": "mes", "external_id": "LINE-3", "name": "Pump line 3", "level": "line"},
            *[
                {
                    "space": "mes",
                    "external_id": f"{code}-0{n}",
                    "name": f"{kind} {n}",
                    "level": "equipment",
                    "parent": f"LINE-{n}",
                    "asset_class": kind,
                    "manufacturer": "Kessler",
                    "model_number": "SP-25",
                }
                for n in (1, 2, 3)
                for code, kind in (("PRS", "Hydraulic press"), ("LTH", "CNC lathe"))
            ],
            {
                "space": "erp",
                "external_id": "10004082",
                "name": "Kessler SP-25 #2 (L2)",
                "aliases": ["WC-L02-PRS"],
                "level": "equipment",
                "manufacturer": "Kessler",
                "model_number": "SP-25",
            },
            {
                "space": "erp",
                "external_id": "10004099",
                "name": "CNC lathe 03, line 3",
                "level": "equipment",
                "manufacturer": "Kessler",
                "model_number": "SP-25",
            },
        ],
    )
    add(
        store,
        "time_series",
        [
            {
                "space": "historian",
                "external_id": f"L{n}_PRS0{n}.{s}",
                "description": f"Press {n} {d}",
            }
            for n in (1, 2, 3)
            for s, d in (("RUN", "running"), ("VIB_RMS", "vibration"), ("HYD_PRESS", "pressure"))
        ],
    )
    add(
        store,
        "material",
        [
            {"space": "erp", "external_id": f"0000000000{n:08d}", "name": name}
            for n, name in (
                (20000186, "DEEP GROOVE BALL BEARING 6204-2RS"),
                (20000169, "DEEP GROOVE BALL BEARING 6203-2RS"),
                (20000254, "MECHANICAL SEAL 16 MM"),
            )
        ],
    )
    add(
        store,
        "customer",
        [
            {
                "space": "erp",
                "external_id": "0000100042",
                "name": "KRUEGER HEIZUNG UND SANITAER GMBH",
            },
            {"space": "erp", "external_id": "0000100049", "name": "BRANDT INSTALLATIONS AG"},
            {"space": "erp", "external_id": "0000100056", "name": "VOGEL PUMPENTECHNIK AB"},
        ],
    )
    add(
        store,
        "shipment",
        [
            {"space": "wms", "external_id": "SH1", "customer": "C100042"},
            {"space": "wms", "external_id": "SH2", "customer": "C100056"},
        ],
    )
    add(
        store,
        "warranty_claim",
        [{"space": "crm", "external_id": "WC-1", "customer": "Krüger Heizung und Sanitär"}],
    )
