"""MQTT: subscribe to a broker's topics (a Unified Namespace) and load what arrives, as it arrives.

Each message becomes one row: ``topic``, its levels ``topic.1``, ``topic.2``, ... and
``topic.last``, ``received_at`` (UTC, ISO 8601), ``payload`` (the raw text) and, for a JSON object
payload, its top-level keys; a bare number or text payload is ``value``. A mapping file (the same
kind that loads files) turns the rows into datapoints, machine states or any entity.

Nothing is lost between the broker and the store: a message is spooled to disk before the broker
gets its acknowledgement and loaded in batches (see :mod:`factorybrain.connectors._stream`); since
loads are idempotent, a message delivered twice is harmless.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from factorybrain.connectors._mapping import Mapping
from factorybrain.connectors._stream import OnBatch, StreamListener
from factorybrain.exceptions import IngestError
from factorybrain.secrets import redact
from factorybrain.store import DuckDBStore

RESERVED = ("topic", "received_at", "payload")
DEFAULT_PORTS = {"mqtt": 1883, "tcp": 1883, "mqtts": 8883, "ssl": 8883}

SESSION_EXPIRY_SECONDS = 7 * 24 * 3600  # how long a broker keeps a persistent session's messages


@dataclass(frozen=True)
class BrokerAddress:
    """Where the broker listens, from a URL such as ``mqtt://user:secret@host:1883``."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        """Parse ``mqtt://``, ``mqtts://`` (TLS) or a bare ``host[:port]``.

        Raises:
            IngestError: If the URL has another scheme, no host or a bad port.
        """
        parts = urlsplit(url if "://" in url else f"mqtt://{url}")
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS:
            raise IngestError(
                f"broker {redact(url)!r}: expected a URL mqtt://host[:port] or "
                f"mqtts://host[:port], found the scheme {parts.scheme!r}"
            )
        try:
            port = parts.port or DEFAULT_PORTS[scheme]
        except ValueError as error:
            raise IngestError(f"broker {redact(url)!r}: bad port ({error})") from None
        if not parts.hostname:
            raise IngestError(f"broker {redact(url)!r}: no host name")
        return cls(
            host=parts.hostname,
            port=port,
            tls=scheme in ("mqtts", "ssl"),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )

    def __str__(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def message_row(topic: str, payload: bytes, received_at: datetime, columns: Sequence[str]) -> dict:
    """The row one message becomes (see the module docstring).

    ``columns`` are the columns the mapping reads; those the message lacks are set to null, so
    that a message without, say, a ``value`` is quarantined for it instead of failing the batch.
    """
    text = payload.decode("utf-8", "replace")
    row: dict[str, Any] = dict.fromkeys(columns)
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = text.strip()
    if isinstance(parsed, dict):
        row.update(
            {k: _scalar(v) for k, v in parsed.items() if k not in RESERVED and k[:6] != "topic."}
        )
    else:
        row["value"] = _scalar(parsed)
    row.update(topic=topic, received_at=received_at.isoformat(), payload=text)
    levels = topic.split("/")
    row.update({f"topic.{i}": level for i, level in enumerate(levels, start=1)})
    row["topic.last"] = levels[-1]
    return row


def check_topic_filter(topic: str) -> str:
    """Return ``topic`` if it is a valid MQTT topic filter, else raise a clear error."""
    levels = topic.split("/")
    problem = None
    if not topic:
        problem = "it is empty"
    elif "#" in topic and (levels[-1] != "#" or topic.count("#") > 1):
        problem = "'#' must be the last level, alone"
    elif any("+" in level and level != "+" for level in levels):
        problem = "'+' must stand alone in its level"
    if problem:
        raise IngestError(f"MQTT topic filter {topic!r}: {problem} (for example 'acme/+/line1/#')")
    return topic


def _scalar(value: Any) -> Any:
    """Nested JSON stays JSON text: a mapping reads scalars."""
    return json.dumps(value) if isinstance(value, dict | list) else value


class MqttListener(StreamListener):
    """Subscribe to MQTT topics and load the messages through a mapping, batch by batch.

    Args:
        store: Where the rows go (its schema must be current).
        mapping: A mapping file or loaded :class:`Mapping`; it reads the columns ``topic``,
            ``received_at``, ``payload``, ``value`` and the keys of JSON payloads.
        broker: ``mqtt://[user:password@]host[:port]`` or ``mqtts://...`` for TLS.
        topics: Topic filters to subscribe to (``+`` and ``#`` wildcards allowed).
        spool: Folder for spool files (created); files left there by a crash are loaded first.
        client_id: A fixed client id keeps a persistent session: the broker holds QoS 1
            messages while the listener is down. Without one, a fresh id and a clean session.
        qos: Subscription quality of service (0 or 1; 1 is at-least-once).
        mqtt_version: 5 (default) or 3 for brokers that only speak MQTT 3.1.1.
        flush_seconds: How often the spool file is loaded (a batch).
        on_batch: Called after every loaded batch with its report (to run agents, say).

    ``subscribed`` is set once the broker has accepted the subscriptions (for a caller that runs
    the listener in a thread and must not publish before).
    """

    reserved = RESERVED
    key_column = "topic"
    kind = "MQTT"

    def __init__(
        self,
        store: DuckDBStore,
        mapping: str | Path | Mapping,
        *,
        broker: str,
        topics: Sequence[str],
        spool: Path,
        client_id: str | None = None,
        qos: int = 1,
        mqtt_version: int = 5,
        flush_seconds: float = 1.0,
        on_batch: OnBatch | None = None,
    ) -> None:
        self.address = BrokerAddress.parse(broker)
        if not topics:
            raise IngestError("MQTT: give at least one topic filter, for example 'acme/#'")
        self.topics = tuple(check_topic_filter(t) for t in topics)
        if qos not in (0, 1):
            raise IngestError(f"MQTT: qos must be 0 or 1, found {qos}")
        self.qos = qos
        if mqtt_version not in (3, 5):
            raise IngestError(f"MQTT: version must be 5 or 3 (3.1.1), found {mqtt_version}")
        self.mqtt_version = mqtt_version
        self.client_id = client_id
        super().__init__(
            store, mapping, spool=spool, flush_seconds=flush_seconds, on_batch=on_batch
        )
        self._client: Any = None
        self._connected = threading.Event()
        self._connect_error: str | None = None

    def describe(self) -> tuple[str, tuple[str, ...]]:
        """The broker and the topic filters."""
        return str(self.address), self.topics

    def build_row(
        self, key: str, payload: bytes, received_at: datetime, columns: Sequence[str]
    ) -> dict[str, Any]:
        """The row of one message (see :func:`message_row`)."""
        return message_row(key, payload, received_at, columns)

    def _start(self) -> None:
        client, connect = self._new_client()
        self._client = client
        try:
            client.connect(self.address.host, self.address.port, **connect)
        except OSError as error:
            raise IngestError(f"MQTT broker {self.address}: cannot connect ({error})") from None
        client.loop_start()
        self._wait_until_subscribed()

    def _stop(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None

    # -- the client --------------------------------------------------------------------------
    def _new_client(self) -> tuple[Any, dict[str, Any]]:
        """The paho client and the keyword arguments of its ``connect``."""
        import paho.mqtt.client as mqtt
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        persistent = self.client_id is not None
        client_id = self.client_id or f"factorybrain-{uuid.uuid4().hex[:12]}"
        connect: dict[str, Any] = {"keepalive": 30}
        if self.mqtt_version == 5:
            client = mqtt.Client(
                mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
            )
            properties = Properties(PacketTypes.CONNECT)
            # Let the broker send many QoS 1 messages before their acknowledgements come back:
            # with MQTT 3.1.1 brokers keep ~20 in flight and drop what overflows their queue.
            properties.ReceiveMaximum = 65_535
            if persistent:
                properties.SessionExpiryInterval = SESSION_EXPIRY_SECONDS
            connect.update(clean_start=not persistent, properties=properties)
        else:
            client = mqtt.Client(
                mqtt.CallbackAPIVersion.VERSION2,
                client_id=client_id,
                clean_session=not persistent,
                protocol=mqtt.MQTTv311,
            )
        if self.address.username:
            client.username_pw_set(self.address.username, self.address.password)
        if self.address.tls:
            client.tls_set()
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        return client, connect

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            self._connect_error = str(reason)
            if "protocol" in str(reason).lower() and self.mqtt_version == 5:
                self._connect_error += " (this broker may speak MQTT 3.1.1 only: use version 3)"
            self._connected.set()
            return
        self._connected.set()
        # (Re)subscribe on every connection: a reconnect after a broker restart needs it.
        client.subscribe([(topic, self.qos) for topic in self.topics])

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, codes: Any, props: Any) -> None:
        refused = [t for t, c in zip(self.topics, codes, strict=False) if c.is_failure]
        if refused:
            self._connect_error = f"the broker refused the topic filter {refused[0]!r}"
        self.subscribed.set()

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        self.spool.append(message.topic, message.payload)

    def _wait_until_subscribed(self, timeout: float = 10.0) -> None:
        if not self._connected.wait(timeout):
            raise IngestError(f"MQTT broker {self.address}: no answer within {timeout:.0f} s")
        if self._connect_error is None and not self.subscribed.wait(timeout):
            raise IngestError(f"MQTT broker {self.address}: no subscription within {timeout:.0f} s")
        if self._connect_error:
            raise IngestError(f"MQTT broker {self.address}: {self._connect_error}")
