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
import json
import sys
import tempfile
import uuid
from pathlib import Path

import pandas as pd

from _mqtt import broker_or_embedded, deliver  # noqa: E402 (this folder)
from factorybrain.connectors import MqttListener
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/datasets/skab"))
    parser.add_argument("--broker", default="mqtt://127.0.0.1:1883")
    parser.add_argument("--rate", type=float, default=0.0, help="messages/s (0: full speed)")
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()

    broker, version, stop_broker = broker_or_embedded(args.broker, log)
    prefix = f"bench{uuid.uuid4().hex[:6]}"
    outgoing, expected = messages(args.data, prefix)
    total = len(outgoing)
    log(f"{total:,} messages on {len(expected)} topics to {broker}")

    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        (work / "uns.yaml").write_text(MAPPING)
        store = open_store(work / "stream.duckdb", migrate=True)
        batch_seconds: list[float] = []

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
        delivery = deliver(listener, broker, outgoing, rate=args.rate, timeout=args.timeout)
        seconds = delivery.seconds
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
    stop_broker()
    report = delivery.report
    print(
        json.dumps(
            {
                "messages_per_s": round(total / seconds, 1),
                "lost": lost,
                "mismatched": mismatched,
                "messages": total,
                "publish_seconds": round(delivery.publish_seconds, 2),
                "seconds": round(seconds, 2),
                "batches": getattr(report, "batches", None),
                "max_batch_seconds": round(max(batch_seconds, default=0.0), 3),
                "broker": args.broker if broker == args.broker else "embedded amqtt",
            }
        )
    )


if __name__ == "__main__":
    main()
