"""Connectors: files (CSV, Parquet, Excel, JSON, XML), SQLite, SQL databases, MQTT and OPC UA."""

from __future__ import annotations

from factorybrain.connectors._ingest import (
    IngestReport,
    NoRoom,
    file_sha256,
    ingest,
    no_room,
    split_source_label,
)
from factorybrain.connectors._manifest import ManifestEntry, PlantLoad, load_plant, read_manifest
from factorybrain.connectors._mapping import FORMATS, FieldRule, Mapping, load_mapping
from factorybrain.connectors._mqtt import BrokerAddress, MqttListener, message_row
from factorybrain.connectors._opcua import OpcUaListener
from factorybrain.connectors._packs import (
    Pack,
    PackLoad,
    PackMapping,
    fitted_mapping,
    load_packs,
    load_with_packs,
    plan_folder,
)
from factorybrain.connectors._sniff import FileShape, sniff
from factorybrain.connectors._stream import StreamListener, StreamReport
from factorybrain.connectors._suggest import Suggestion, suggest_mapping
from factorybrain.connectors._units import UnitConversionError, affine

__all__ = [
    "FORMATS",
    "BrokerAddress",
    "FieldRule",
    "FileShape",
    "IngestReport",
    "ManifestEntry",
    "MqttListener",
    "NoRoom",
    "OpcUaListener",
    "Pack",
    "PackLoad",
    "PackMapping",
    "Mapping",
    "PlantLoad",
    "StreamListener",
    "StreamReport",
    "Suggestion",
    "UnitConversionError",
    "affine",
    "file_sha256",
    "fitted_mapping",
    "ingest",
    "load_mapping",
    "load_packs",
    "load_plant",
    "load_with_packs",
    "message_row",
    "no_room",
    "plan_folder",
    "read_manifest",
    "sniff",
    "split_source_label",
    "suggest_mapping",
]
