"""OPC UA: subscribe to a server's variables and load their value changes as they arrive.

Machines and PLCs publish their tags as OPC UA variables. The listener subscribes to data changes
of the variables named (node ids such as ``ns=2;s=Line1.Lathe1.Temp``), or of every variable below
an object or folder named with ``browse``. Each change becomes one row:

- ``node`` (the node id), ``name`` (its browse name), ``path`` (browse names from the first node
  given down to it, joined by ``/``), and ``node.1``, ``node.2``, ... ``node.last`` (its levels);
- ``value`` (numbers and text as they are; booleans as 0/1), ``status`` (``Good``, or the OPC UA
  status name), ``source_timestamp`` and ``server_timestamp`` (UTC, ISO 8601), ``received_at``.

A change whose status is not Good has no ``value``: the mapping quarantines it with the status in
its raw content, never storing a bad reading as a good one. Changes are spooled and loaded in
batches as for MQTT (see :mod:`factorybrain.connectors._stream`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from factorybrain.connectors._mapping import Mapping
from factorybrain.connectors._stream import OnBatch, StreamListener
from factorybrain.exceptions import IngestError
from factorybrain.store import DuckDBStore

RESERVED = ("node", "name", "path", "value", "status", "source_timestamp", "server_timestamp")
RESERVED_ALL = (*RESERVED, "received_at", "payload")
MAX_BROWSE_VARIABLES = 10_000


def change_row(
    key: str, payload: bytes, received_at: datetime, columns: Sequence[str]
) -> dict[str, Any]:
    """The row of one spooled data change (``key`` is the node id)."""
    text = payload.decode("utf-8", "replace")
    change = json.loads(text)
    row: dict[str, Any] = dict.fromkeys(columns)
    row.update({name: change.get(name) for name in RESERVED if name != "node"})
    row.update(node=key, received_at=received_at.isoformat(), payload=text)
    path = str(change.get("path") or key)
    levels = path.split("/")
    row.update({f"node.{i}": level for i, level in enumerate(levels, start=1)})
    row["node.last"] = levels[-1]
    return row


def _plain(value: Any) -> Any:
    """A variable's value as JSON can carry it."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float | str) or value is None:
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return json.dumps([_plain(v) for v in value])
    return str(value)


def _is_property(node: Any, ua: Any) -> bool:
    """Properties (engineering units, ranges) describe a variable; they are not readings."""
    return bool(node.read_type_definition() == ua.NodeId(ua.ObjectIds.PropertyType))


class OpcUaListener(StreamListener):
    """Subscribe to OPC UA variables and load their changes through a mapping, batch by batch.

    Args:
        store: Where the rows go (its schema must be current).
        mapping: A mapping file or loaded :class:`Mapping` reading the columns of the module
            docstring, for example ``series: path``, ``ts: source_timestamp``, ``value: value``.
        server: ``opc.tcp://host:port[/path]``.
        nodes: Node ids of variables to subscribe to.
        browse: Node ids of objects or folders: every variable below them is subscribed to.
        spool: Folder for spool files (created); files left there by a crash are loaded first.
        sampling_ms: The publishing interval asked of the server.
        flush_seconds: How often the spool file is loaded (a batch).
        on_batch: Called after every loaded batch with its report (to run agents, say).
    """

    reserved = RESERVED_ALL
    key_column = "node"
    kind = "OPC UA"

    def __init__(
        self,
        store: DuckDBStore,
        mapping: str | Path | Mapping,
        *,
        server: str,
        nodes: Sequence[str] = (),
        browse: Sequence[str] = (),
        spool: Path,
        sampling_ms: int = 500,
        flush_seconds: float = 1.0,
        on_batch: OnBatch | None = None,
    ) -> None:
        parts = urlsplit(server)
        if parts.scheme != "opc.tcp" or not parts.hostname:
            raise IngestError(f"OPC UA server {server!r}: expected opc.tcp://host:port[/path]")
        if not nodes and not browse:
            raise IngestError(
                "OPC UA: name variables to subscribe to (node ids such as "
                "'ns=2;s=Line1.Lathe1.Temp') or objects to browse"
            )
        self.server = server
        self.nodes = tuple(nodes)
        self.browse = tuple(browse)
        self.sampling_ms = sampling_ms
        super().__init__(
            store, mapping, spool=spool, flush_seconds=flush_seconds, on_batch=on_batch
        )
        self._client: Any = None
        self._subscription: Any = None
        self._loop: Any = None
        self._paths: dict[str, tuple[str, str]] = {}

    def describe(self) -> tuple[str, tuple[str, ...]]:
        """The server and what was asked for."""
        return self.server, self.nodes + tuple(f"{b}/**" for b in self.browse)

    def build_row(
        self, key: str, payload: bytes, received_at: datetime, columns: Sequence[str]
    ) -> dict[str, Any]:
        """The row of one data change (see :func:`change_row`)."""
        return change_row(key, payload, received_at, columns)

    def _start(self) -> None:
        from asyncua import ua
        from asyncua.sync import Client, ThreadLoop

        # asyncua logs security notes on every connection; they are not errors of ours.
        logging.getLogger("asyncua").setLevel(logging.ERROR)
        # Our own event-loop thread, a daemon, stopped in _stop: a listener that fails half-way
        # must never keep the process alive.
        self._loop = ThreadLoop()
        self._loop.daemon = True
        self._loop.start()
        client = Client(self.server, timeout=10, tloop=self._loop)
        try:
            client.connect()
        except (OSError, TimeoutError) as error:
            self._stop()
            raise IngestError(f"OPC UA server {self.server}: cannot connect ({error})") from None
        self._client = client
        variables = []
        for node_id in self.nodes:
            node = self._node(node_id)
            if node.read_node_class() != ua.NodeClass.Variable:
                raise IngestError(
                    f"OPC UA node {node_id!r} is not a variable; use browse for objects and folders"
                )
            name = node.read_browse_name().Name
            self._paths[node.nodeid.to_string()] = (name, name)
            variables.append(node)
        for node_id in self.browse:
            variables += self._variables_below(self._node(node_id), ua)
        if not variables:
            raise IngestError(f"OPC UA server {self.server}: no variables below {self.browse}")
        self._subscription = client.create_subscription(self.sampling_ms, self)
        self._subscription.subscribe_data_change(variables)
        self.subscribed.set()

    def _stop(self) -> None:
        if self._client is not None:
            try:
                if self._subscription is not None:
                    self._subscription.delete()
                self._client.disconnect()
            except Exception:  # noqa: BLE001 (a server that went away cannot be told goodbye)
                pass
        self._client = self._subscription = None
        if self._loop is not None:
            self._loop.stop()
            self._loop = None

    def _node(self, node_id: str) -> Any:
        from asyncua import ua

        try:
            node = self._client.get_node(node_id)
            node.read_browse_name()
        except (ValueError, ua.UaError) as error:
            raise IngestError(
                f"OPC UA server {self.server}: no node {node_id!r} ({error})"
            ) from None
        return node

    def _variables_below(self, root: Any, ua: Any) -> list[Any]:
        found = []
        stack = [(root, root.read_browse_name().Name)]
        seen = set()
        while stack:
            node, path = stack.pop()
            for child in node.get_children(refs=ua.ObjectIds.HierarchicalReferences):
                key = child.nodeid.to_string()
                if key in seen:
                    continue
                seen.add(key)
                name = child.read_browse_name().Name
                child_path = f"{path}/{name}"
                node_class = child.read_node_class()
                if node_class == ua.NodeClass.Object:
                    stack.append((child, child_path))
                elif node_class == ua.NodeClass.Variable and not _is_property(child, ua):
                    self._paths[key] = (name, child_path)
                    found.append(child)
                    if len(found) > MAX_BROWSE_VARIABLES:
                        raise IngestError(
                            f"OPC UA: more than {MAX_BROWSE_VARIABLES:,} variables below "
                            f"{root.nodeid.to_string()!r}; browse a smaller part"
                        )
        return found

    # asyncua calls this from its own thread for every change.
    def datachange_notification(self, node: Any, value: Any, data: Any) -> None:
        """Spool one data change."""
        key = node.nodeid.to_string()
        name, path = self._paths.get(key, (key, key))
        reading = data.monitored_item.Value
        good = reading.StatusCode.is_good()
        change = {
            "name": name,
            "path": path,
            "value": _plain(value) if good else None,
            "status": reading.StatusCode.name,
            "source_timestamp": reading.SourceTimestamp and reading.SourceTimestamp.isoformat(),
            "server_timestamp": reading.ServerTimestamp and reading.ServerTimestamp.isoformat(),
        }
        self.spool.append(key, json.dumps(change).encode())

    def status_change_notification(self, status: Any) -> None:
        """The server ended the subscription (it is shutting down, say); nothing to spool."""
