"""Connectors: files (CSV, Parquet, Excel, JSON), SQLite, SQL databases, MQTT and OPC UA."""

from __future__ import annotations

from factorybrain.connectors._ingest import IngestReport, NoRoom, file_sha256, ingest, no_room
from factorybrain.connectors._manifest import ManifestEntry, PlantLoad, load_plant, read_manifest
from factorybrain.connectors._mapping import FORMATS, FieldRule, Mapping, load_mapping
from factorybrain.connectors._mqtt import BrokerAddress, MqttListener, message_row
from factorybrain.connectors._opcua import OpcUaListener
from factorybrain.connectors._stream import StreamListener, StreamReport
from factorybrain.connectors._units import UnitConversionError, affine

__all__ = [
    "FORMATS",
    "BrokerAddress",
    "FieldRule",
    "IngestReport",
    "ManifestEntry",
    "MqttListener",
    "NoRoom",
    "OpcUaListener",
    "Mapping",
    "PlantLoad",
    "StreamListener",
    "StreamReport",
    "UnitConversionError",
    "affine",
    "file_sha256",
    "ingest",
    "load_mapping",
    "load_plant",
    "message_row",
    "no_room",
    "read_manifest",
]
