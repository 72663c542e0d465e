"""MQTT helpers shared by the benchmarks: a broker to use and a publisher in its own process."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from factorybrain.connectors import BrokerAddress, StreamListener, StreamReport

PUBLISHER = """\
import json, sys, time
import paho.mqtt.client as mqtt
host, path = sys.argv[1], sys.argv[4]
port, rate = int(sys.argv[2]), float(sys.argv[3])
# The devices' side: MQTT 3.1.1, QoS 1.
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


def reachable(url: str) -> bool:
    """Whether something listens at the broker URL."""
    address = BrokerAddress.parse(url)
    try:
        with socket.create_connection((address.host, address.port), timeout=0.5):
            return True
    except OSError:
        return False


def embedded_broker() -> tuple[str, Callable[[], None]]:
    """Start an amqtt broker (MQTT 3.1.1) on a free port; return its URL and a stop function."""
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


def broker_or_embedded(url: str, log: Callable[[str], None]) -> tuple[str, int, Callable[[], None]]:
    """``url`` (MQTT 5) when a broker listens there, else an embedded one (MQTT 3.1.1)."""
    if reachable(url):
        return url, 5, lambda: None
    log(f"no broker at {url}: starting an embedded amqtt broker (MQTT 3.1.1)")
    embedded, stop = embedded_broker()
    return embedded, 3, stop


def start_publisher(
    url: str, messages: Sequence[tuple[str, str]], rate: float = 0.0
) -> subprocess.Popen[str]:
    """Publish ``(topic, payload)`` messages from a separate process (QoS 1, ``rate``/s or flat
    out); its stdout's last line is the seconds publishing took."""
    folder = Path(tempfile.mkdtemp(prefix="fb-publish-"))
    (folder / "publish.py").write_text(PUBLISHER)
    (folder / "messages.jsonl").write_text("".join(json.dumps(m) + "\n" for m in messages))
    address = BrokerAddress.parse(url)
    return subprocess.Popen(
        [
            sys.executable,
            str(folder / "publish.py"),
            address.host,
            str(address.port),
            str(rate),
            str(folder / "messages.jsonl"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def publish_seconds(process: subprocess.Popen[str], timeout: float) -> float:
    """Wait for a publisher; return how long it published, or exit naming what went wrong."""
    out, err = process.communicate(timeout=timeout)
    if process.returncode:
        sys.exit(f"the publisher failed: {err.strip()}")
    return float(out.strip().splitlines()[-1])


@dataclass
class Delivery:
    """What :func:`deliver` measured."""

    report: StreamReport | None
    publish_seconds: float
    seconds: float


def deliver(
    listener: StreamListener,
    broker: str,
    messages: Sequence[tuple[str, str]],
    *,
    rate: float = 0.0,
    timeout: float = 600.0,
) -> Delivery:
    """Run ``listener`` in a thread and publish ``messages`` to it from another process.

    Returns once every message is loaded (or after ``timeout``); ``seconds`` runs from the first
    publish to the end of the last load.
    """
    stop = threading.Event()
    result: dict[str, StreamReport] = {}
    thread = threading.Thread(
        target=lambda: result.update(report=listener.run(stop=stop, max_messages=len(messages))),
        daemon=True,
    )
    thread.start()
    listener.subscribed.wait(30)
    started = time.perf_counter()
    published = publish_seconds(start_publisher(broker, messages, rate), timeout)
    thread.join(max(1.0, timeout - (time.perf_counter() - started)))
    stop.set()
    thread.join(60)
    return Delivery(result.get("report"), published, time.perf_counter() - started)
