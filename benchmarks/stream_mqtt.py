"""Live ingestion over MQTT: a real sensor recording replayed through a broker into the store.

Every row of SKAB's ``anomaly-free.csv`` (8 sensors, 1 s sampling, 9,405 rows: 75,240 values) is
published, one message per sensor and second, to a Unified Namespace topic
``skab/testbed/pump/<sensor>`` as ``{"value": ..., "timestamp": epoch_ms}``, by a separate process
at full speed (or ``--rate`` messages per second) with QoS 1. ``factorybrain``'s MQTT listener
subscribes, spools and loads the messages through a datapoint mapping every second. The run ends
when every message is in the store or after ``--timeout`` seconds.

Keys: ``messages_per_s`` (messages published / seconds from the first publish until the last one
is in the store), ``lost`` (published values missing from the store), ``mismatched`` (stored values
that differ from the recording), ``messages``, ``publish_seconds``, ``seconds``, ``batches``,
``max_batch_seconds`` (longest load of one batch), ``broker``.

Usage:
    python benchmarks/stream_mqtt.py [--data DIR] [--broker mqtt://127.0.0.1:1883] [--rate N]

Without a broker at ``--broker`` an embedded amqtt broker (MQTT 3.1.1) is started when amqtt is
installed. Prints progress to stderr and one JSON object on the last line of stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pandas as pd

from factorybrain.connectors import BrokerAddress, MqttListener
from factorybrain.store import open_store

MAPPING = """\
entity: datapoint
space: uns
duplicates: merge
fields:
  series: topic
  ts: {column: timestamp, format: epoch_ms}
  value: value
"""

PUBLISHER = """\
import json, sys, time
import paho.mqtt.client as mqtt
host, path = sys.argv[1], sys.argv[5]
port, version, rate = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
# The devices' side: MQTT 3.1.1 (the listener's protocol is what --broker's broker speaks).
client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
client.max_inflight_messages_set(1000)
client.max_queued_messages_set(20_000)
client.connect(host, port)
client.loop_start()
messages = [json.loads(line) for line in open(path)]
start = time.perf_counter()
for i, (topic, payload) in enumerate(messages):
    if rate > 0:
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    # at most 20,000 unacknowledged (message ids are 16 bits): wait while the queue is full
    while (info := client.publish(topic, payload, qos=1)).rc == mqtt.MQTT_ERR_QUEUE_SIZE:
        time.sleep(0.002)
info.wait_for_publish(600)
print(time.perf_counter() - start, flush=True)
client.disconnect()
client.loop_stop()
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def messages(data: Path, prefix: str) -> tuple[list[tuple[str, str]], dict[str, list[float]]]:
    """The recording as (topic, payload) messages, and the values per topic in time order."""
    frame = pd.read_csv(data / "anomaly-free" / "anomaly-free.csv", sep=";")
    stamps = pd.to_datetime(frame.pop("datetime")).astype("int64") // 1_000_000
    out: list[tuple[str, str]] = []
    expected: dict[str, list[float]] = {}
    for column in frame.columns:
        topic = f"{prefix}/skab/testbed/pump/{column.replace(' ', '_').lower()}"
        expected[topic] = [float(v) for v in frame[column]]
    for row, stamp in enumerate(stamps):
        for column, topic in zip(frame.columns, expected, strict=True):
            value = float(frame[column].iat[row])
            out.append((topic, json.dumps({"value": value, "timestamp": int(stamp)})))
    return out, expected


def embedded_broker() -> tuple[str, object]:
    """Start an amqtt broker on a free port; return its URL and a stop function."""
    from amqtt.broker import Broker

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, Broker] = {}

    def serve() -> None:
        asyncio.set_event_loop(loop)
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {}},
        }
        holder["broker"] = Broker(config, loop=loop)
        loop.run_until_complete(holder["broker"].start())
        ready.set()
        loop.run_forever()

    threading.Thread(target=serve, daemon=True).start()
    ready.wait(20)

    def stop() -> None:
        asyncio.run_coroutine_threadsafe(holder["broker"].shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)

    return f"mqtt://127.0.0.1:{port}", stop


def reachable(url: str) -> bool:
    address = BrokerAddress.parse(url)
    try:
        with socket.create_connection((address.host, address.port), timeout=0.5):
            return True
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/datasets/skab"))
    parser.add_argument("--broker", default="mqtt://127.0.0.1:1883")
    parser.add_argument("--rate", type=float, default=0.0, help="messages/s (0: full speed)")
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()

    stop_broker = None
    broker, version = args.broker, 5
    if not reachable(broker):
        log(f"no broker at {broker}: starting an embedded amqtt broker (MQTT 3.1.1)")
        broker, stop_broker = embedded_broker()
        version = 3
    prefix = f"bench{uuid.uuid4().hex[:6]}"
    outgoing, expected = messages(args.data, prefix)
    total = len(outgoing)
    log(f"{total:,} messages on {len(expected)} topics to {broker}")

    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        (work / "uns.yaml").write_text(MAPPING)
        (work / "messages.jsonl").write_text("".join(json.dumps(m) + "\n" for m in outgoing))
        (work / "publish.py").write_text(PUBLISHER)
        store = open_store(work / "stream.duckdb", migrate=True)
        batch_seconds: list[float] = []
        last = {"at": time.perf_counter()}

        def on_batch(report: object) -> None:
            batch_seconds.append(report.seconds)  # type: ignore[attr-defined]

        listener = MqttListener(
            store,
            work / "uns.yaml",
            broker=broker,
            topics=[f"{prefix}/#"],
            spool=work / "spool",
            mqtt_version=version,
            on_batch=on_batch,
        )
        stop = threading.Event()
        result: dict[str, object] = {}
        thread = threading.Thread(
            target=lambda: result.update(report=listener.run(stop=stop, max_messages=total)),
            daemon=True,
        )
        thread.start()
        while not listener._subscribed.is_set():
            time.sleep(0.01)
        address = BrokerAddress.parse(broker)
        started = time.perf_counter()
        publisher = subprocess.run(
            [
                sys.executable,
                str(work / "publish.py"),
                address.host,
                str(address.port),
                str(version),
                str(args.rate),
                str(work / "messages.jsonl"),
            ],
            capture_output=True,
            text=True,
            timeout=args.timeout,
            check=False,
        )
        if publisher.returncode:
            sys.exit(f"the publisher failed: {publisher.stderr.strip()}")
        publish_seconds = float(publisher.stdout.strip().splitlines()[-1])
        thread.join(max(1.0, args.timeout - (time.perf_counter() - started)))
        stop.set()
        thread.join(60)
        last["at"] = time.perf_counter()
        seconds = last["at"] - started
        stored = store.query(
            "SELECT s.external_id AS topic, d.value FROM datapoint d "
            "JOIN time_series s USING (series_id) ORDER BY s.external_id, d.ts"
        )
        lost = mismatched = 0
        for topic, values in expected.items():
            got = stored.loc[stored["topic"] == topic, "value"].tolist()
            lost += max(0, len(values) - len(got))
            mismatched += sum(1 for a, b in zip(values, got, strict=False) if abs(a - b) > 1e-9)
        store.close()
    if stop_broker:
        stop_broker()  # type: ignore[operator]
    report = result.get("report")
    print(
        json.dumps(
            {
                "messages_per_s": round(total / seconds, 1),
                "lost": lost,
                "mismatched": mismatched,
                "messages": total,
                "publish_seconds": round(publish_seconds, 2),
                "seconds": round(seconds, 2),
                "batches": getattr(report, "batches", None),
                "max_batch_seconds": round(max(batch_seconds, default=0.0), 3),
                "broker": "embedded amqtt" if stop_broker else args.broker,
            }
        )
    )


if __name__ == "__main__":
    main()
