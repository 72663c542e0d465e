"""Connectors: files (CSV, Parquet, Excel, JSON), SQLite, and later SQL databases, MQTT, OPC UA."""

from __future__ import annotations

from factorybrain.connectors._ingest import IngestReport, file_sha256, ingest
from factorybrain.connectors._manifest import ManifestEntry, PlantLoad, load_plant, read_manifest
from factorybrain.connectors._mapping import FORMATS, FieldRule, Mapping, load_mapping
from factorybrain.connectors._units import UnitConversionError, affine

__all__ = [
    "FORMATS",
    "FieldRule",
    "IngestReport",
    "ManifestEntry",
    "Mapping",
    "PlantLoad",
    "UnitConversionError",
    "affine",
    "file_sha256",
    "ingest",
    "load_mapping",
    "load_plant",
    "read_manifest",
]
