"""MQTT listener: messages from a real broker end up in the store, bad ones in quarantine.

The broker is, in this order: ``$FACTORYBRAIN_TEST_MQTT_URL``, a broker listening on
127.0.0.1:1883 (CI runs Mosquitto there), or an embedded amqtt broker started for the test
(also when ``$FACTORYBRAIN_TEST_MQTT_URL`` is ``embedded``).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from factorybrain.connectors import BrokerAddress, MqttListener, StreamReport, message_row
from factorybrain.connectors._mqtt import check_topic_filter
from factorybrain.exceptions import IngestError
from factorybrain.store import DuckDBStore, PostgresStore, ServerGone, open_store
from tests.connectors._listening import Running, run_listen, start_listen

mqtt = pytest.importorskip("paho.mqtt.client", reason="paho-mqtt is not installed")

MAPPING = """\
entity: datapoint
space: uns
duplicates: merge
fields:
  series: topic
  ts: {column: timestamp, format: epoch_ms}
  value: value
"""


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


EMBEDDED: set[str] = set()


@pytest.fixture(scope="module")
def broker() -> Iterator[str]:
    """URL of a running MQTT broker: the configured or local one, else an embedded one."""
    configured = os.environ.get("FACTORYBRAIN_TEST_MQTT_URL")
    if configured and configured != "embedded":
        yield configured
        return
    if not configured and _listening("127.0.0.1", 1883):
        yield "mqtt://127.0.0.1:1883"
        return
    amqtt_broker = pytest.importorskip(
        "amqtt.broker", reason="no MQTT broker on 127.0.0.1:1883 and amqtt is not installed"
    )
    port = _free_port()
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: dict[str, object] = {}

    def serve() -> None:
        asyncio.set_event_loop(loop)
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
            # only what the tests need (the default $SYS plugin warns about its dependencies)
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {}},
        }
        server = amqtt_broker.Broker(config, loop=loop)
        holder["broker"] = server
        loop.run_until_complete(server.start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert started.wait(20), "the embedded amqtt broker did not start"
    EMBEDDED.add(f"mqtt://127.0.0.1:{port}")
    yield f"mqtt://127.0.0.1:{port}"
    asyncio.run_coroutine_threadsafe(holder["broker"].shutdown(), loop).result(10)  # type: ignore[attr-defined]
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def _version(url: str) -> int:
    """MQTT 5, except for the embedded amqtt broker, which speaks 3.1.1 only."""
    return 3 if url in EMBEDDED else 5


@pytest.fixture
def prefix() -> str:
    """A topic prefix of this test alone (the broker may be shared)."""
    return f"fbtest/{uuid.uuid4().hex[:10]}"


@pytest.fixture
def mapping(tmp_path: Path) -> Path:
    path = tmp_path / "uns.yaml"
    path.write_text(MAPPING)
    return path


@pytest.fixture
def file_store(tmp_path: Path) -> Iterator[DuckDBStore]:
    with open_store(tmp_path / "plant.duckdb", migrate=True) as opened:
        yield opened


def _publish(url: str, messages: list[tuple[str, bytes | str]], *, retain: bool = False) -> None:
    address = BrokerAddress.parse(url)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex}")
    client.connect(address.host, address.port)
    client.loop_start()
    try:
        for topic, payload in messages:
            client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()


def _points(store: DuckDBStore, space: str = "uns") -> list[tuple[str, datetime, float]]:
    frame = store.query(
        "SELECT s.external_id, d.ts, d.value FROM datapoint d "
        "JOIN time_series s ON s.series_id = d.series_id WHERE s.space = ? "
        "ORDER BY s.external_id, d.ts",
        [space],
    )
    return [(r.external_id, r.ts.to_pydatetime(), r.value) for r in frame.itertuples()]


# -- message rows, addresses, topic filters ------------------------------------------------------
def test_a_json_object_payload_gives_its_keys_and_a_bare_number_gives_value() -> None:
    at = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    row = message_row("a/b", b'{"value": 2.5, "timestamp": 1, "meta": {"q": 1}}', at, ["value"])
    assert row["value"] == 2.5 and row["timestamp"] == 1
    assert row["meta"] == '{"q": 1}'  # nested JSON stays text for the mapping
    assert row["topic"] == "a/b" and row["received_at"] == "2026-01-05T08:00:00+00:00"
    assert message_row("a/b", b"17.25", at, [])["value"] == 17.25
    levels = message_row("acme/hamburg/line1/lathe1/temp", b"1", at, [])
    assert (levels["topic.1"], levels["topic.4"], levels["topic.last"]) == (
        "acme",
        "lathe1",
        "temp",
    )
    assert message_row("a/b", b"running", at, [])["value"] == "running"


def test_a_payload_cannot_overwrite_the_topic_and_missing_columns_are_null() -> None:
    at = datetime(2026, 1, 5, tzinfo=UTC)
    row = message_row("real/topic", b'{"topic": "fake", "x": 1}', at, ["value", "timestamp"])
    assert row["topic"] == "real/topic"
    assert row["value"] is None and row["timestamp"] is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mqtt://broker.local", ("broker.local", 1883, False, None)),
        ("mqtts://u:p%40ss@10.0.0.2:8884", ("10.0.0.2", 8884, True, "u")),
        ("localhost:1884", ("localhost", 1884, False, None)),
    ],
)
def test_broker_urls(url: str, expected: tuple) -> None:
    address = BrokerAddress.parse(url)
    assert (address.host, address.port, address.tls, address.username) == expected
    if address.username:
        assert address.password == "p@ss"


@pytest.mark.parametrize("url", ["http://host", "mqtt://host:port", "mqtt://"])
def test_bad_broker_urls_say_what_is_wrong(url: str) -> None:
    with pytest.raises(IngestError, match="broker"):
        BrokerAddress.parse(url)


@pytest.mark.parametrize(
    ("topic", "problem"),
    [("a/#/b", "'#' must be the last"), ("a/b+/c", "'\\+' must stand alone"), ("", "empty")],
)
def test_bad_topic_filters_are_rejected_before_connecting(topic: str, problem: str) -> None:
    with pytest.raises(IngestError, match=problem):
        check_topic_filter(topic)
    assert check_topic_filter("acme/+/line1/#") == "acme/+/line1/#"


def test_a_mapping_for_another_format_is_refused(store: DuckDBStore, tmp_path: Path) -> None:
    mapping = tmp_path / "csv.yaml"
    mapping.write_text(MAPPING + "source: {format: csv}\n")
    with pytest.raises(Exception, match="JSON lines"):
        MqttListener(store, mapping, broker="mqtt://h", topics=["a/#"], spool=tmp_path / "s")


def test_an_unreachable_broker_is_a_clear_error(store: DuckDBStore, mapping: Path, tmp_path: Path):
    listener = MqttListener(
        store,
        mapping,
        broker=f"mqtt://127.0.0.1:{_free_port()}",
        topics=["a/#"],
        spool=tmp_path / "spool",
    )
    with pytest.raises(IngestError, match=r"MQTT broker mqtt://127\.0\.0\.1:\d+: cannot connect"):
        listener.run(seconds=1)


# -- crash recovery (no broker needed) -----------------------------------------------------------
def test_a_spool_left_by_a_crash_is_loaded_first_and_then_removed(
    store: DuckDBStore, mapping: Path, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    received = datetime(2026, 3, 1, tzinfo=UTC).timestamp()
    lines = [
        json.dumps(["plant/l1/temp", received, json.dumps({"value": v, "timestamp": t})])
        for v, t in [(20.5, 1_767_225_600_000), (21.0, 1_767_225_660_000)]
    ]
    # a half-written file: the process died while writing its third line
    (spool / "20260301T000000000000-dead.raw.part").write_text(
        "\n".join(lines) + '\n["plant/l1/temp", 17726'
    )
    listener = MqttListener(store, mapping, broker="mqtt://h", topics=["plant/#"], spool=spool)
    report = StreamReport("mqtt://h:1883", ("plant/#",))
    listener.recover(report)
    assert report.recovered_files == 1 and report.inserted == 2 and report.quarantined == 1
    assert [p[2] for p in _points(store)] == [20.5, 21.0]
    raw = store.query("SELECT raw FROM quarantine")["raw"][0]
    assert "17726" in raw, "the broken line is kept, not dropped"
    assert not [p for p in spool.iterdir() if p.is_file()]


# -- against a broker ----------------------------------------------------------------------------
@pytest.mark.services
def test_messages_stream_into_datapoints_and_bad_ones_are_quarantined_with_their_topic(
    broker: str, prefix: str, file_store: DuckDBStore, mapping: Path, tmp_path: Path
) -> None:
    batches = []
    listener = MqttListener(
        file_store,
        mapping,
        broker=broker,
        mqtt_version=_version(broker),
        topics=[f"{prefix}/#"],
        spool=tmp_path / "spool",
        flush_seconds=0.2,
        on_batch=batches.append,
    )
    running = Running(listener)
    start = 1_767_225_600_000
    good = [
        (
            f"{prefix}/line1/lathe1/temp",
            json.dumps({"value": 40 + i / 10, "timestamp": start + i * 1000}),
        )
        for i in range(300)
    ]
    bad = [
        (f"{prefix}/line1/lathe1/temp", json.dumps({"value": "hot", "timestamp": start - 1000})),
        (f"{prefix}/line1/lathe1/rpm", b"\xff\xfe not json"),
    ]
    _publish(broker, good[:150] + bad + good[150:])
    running.wait_for(len(good) + len(bad))
    report = running.finish()

    points = _points(file_store)
    assert len(points) == 300
    assert points[0] == (f"{prefix}/line1/lathe1/temp", datetime(2026, 1, 1), 40.0)
    assert report.messages == 302 and report.inserted == 300 and report.quarantined == 2
    assert batches and sum(b.inserted for b in batches) == 300
    quarantined = file_store.query("SELECT field, reason, raw FROM quarantine ORDER BY field")
    assert set(quarantined["field"]) == {"value", "ts"}
    assert all(prefix in raw for raw in quarantined["raw"])  # the topic is kept with the row
    assert any("found 'hot'" in reason for reason in quarantined["reason"])
    assert not list((tmp_path / "spool").glob("*.jsonl*")), "loaded spool files are removed"


@pytest.mark.services
def test_a_message_delivered_twice_is_stored_once(
    broker: str, prefix: str, file_store: DuckDBStore, mapping: Path, tmp_path: Path
) -> None:
    listener = MqttListener(
        file_store,
        mapping,
        broker=broker,
        mqtt_version=_version(broker),
        topics=[f"{prefix}/#"],
        spool=tmp_path / "spool",
        flush_seconds=0.2,
    )
    running = Running(listener)
    message = (f"{prefix}/press/force", json.dumps({"value": 7.5, "timestamp": 1_767_225_600_000}))
    _publish(broker, [message, message])
    running.wait_for(2)
    time.sleep(0.4)  # a later batch: the redelivery arrives after the first was loaded
    _publish(broker, [message])
    running.wait_for(3)
    report = running.finish()
    assert _points(file_store) == [(f"{prefix}/press/force", datetime(2026, 1, 1), 7.5)]
    assert report.inserted == 1 and report.quarantined == 0
    assert report.skipped + report.unchanged == 2


@pytest.mark.services
def test_a_persistent_session_receives_what_was_published_while_the_listener_was_down(
    broker: str, prefix: str, file_store: DuckDBStore, mapping: Path, tmp_path: Path
) -> None:
    if broker in EMBEDDED:
        pytest.skip("the embedded amqtt broker does not queue messages for offline sessions")
    client_id = f"fb-{uuid.uuid4().hex[:12]}"
    options = dict(
        broker=broker,
        mqtt_version=_version(broker),
        topics=[f"{prefix}/#"],
        spool=tmp_path / "spool",
        client_id=client_id,
        flush_seconds=0.2,
    )
    first = Running(MqttListener(file_store, mapping, **options))  # type: ignore[arg-type]
    first.finish()  # subscribed once, then down
    _publish(
        broker,
        [(f"{prefix}/pump/flow", json.dumps({"value": 3.0, "timestamp": 1_767_225_600_000}))],
    )
    second = Running(MqttListener(file_store, mapping, **options))  # type: ignore[arg-type]
    second.wait_for(1)
    second.finish()
    assert [p[2] for p in _points(file_store)] == [3.0]


@pytest.mark.services
def test_the_listen_command_loads_messages_and_says_how_many(
    broker: str, prefix: str, mapping: Path, tmp_path: Path
) -> None:
    db = tmp_path / "cli.duckdb"
    options = ("--broker", broker, "--mqtt-version", str(_version(broker)), "-t", f"{prefix}/#")
    messages = [
        (f"{prefix}/l/m/temp", json.dumps({"value": i, "timestamp": 1_767_225_600_000 + i}))
        for i in range(5)
    ]

    def publish(process: object) -> None:
        time.sleep(0.5)  # the subscription follows the connection
        _publish(broker, messages)

    output = run_listen(
        mapping,
        db,
        *options,
        "--max-messages",
        "5",
        "--flush-seconds",
        "0.2",
        "--seconds",
        "60",
        act=publish,
    )
    assert "5 messages" in output and "5 inserted" in output
    with open_store(db, read_only=True) as store:
        assert len(_points(store)) == 5


@pytest.mark.services
def test_a_listener_killed_with_messages_in_its_spool_loses_none_of_them(
    broker: str, prefix: str, mapping: Path, tmp_path: Path
) -> None:
    if broker in EMBEDDED:
        pytest.skip("the embedded amqtt broker does not queue messages for offline sessions")
    db, spool = tmp_path / "killed.duckdb", tmp_path / "spool"
    options = (
        "--broker",
        broker,
        "-t",
        f"{prefix}/#",
        "--client-id",
        f"fb-{uuid.uuid4().hex[:12]}",
        "--spool",
        str(spool),
    )

    def points(start: int, count: int) -> list[tuple[str, str]]:
        return [
            (
                f"{prefix}/line1/press/force",
                json.dumps({"value": i, "timestamp": 1_767_225_600_000 + i}),
            )
            for i in range(start, start + count)
        ]

    process, _ = start_listen(mapping, db, *options, "--flush-seconds", "3600")
    with process:
        time.sleep(0.5)  # the subscription follows the connection
        _publish(broker, points(0, 20))
        deadline = time.monotonic() + 20
        while sum(len(p.read_text().splitlines()) for p in spool.glob("*.raw.part")) < 20:
            assert time.monotonic() < deadline, "the messages did not reach the spool"
            time.sleep(0.05)
        process.kill()  # SIGKILL: nothing loaded yet, 20 messages only in the spool
        process.wait(30)
    _publish(broker, points(20, 10))  # while the listener is down: the broker keeps them

    output = run_listen(
        mapping,
        db,
        *options,
        "--max-messages",
        "10",
        "--flush-seconds",
        "0.2",
        "--seconds",
        "60",
        act=lambda process: None,
    )
    assert "1 spool files recovered" in output, output
    with open_store(db, read_only=True) as store:
        assert [p[2] for p in _points(store)] == [float(i) for i in range(30)]


def test_a_batch_the_database_could_not_take_waits_in_the_spool_and_loads_when_it_answers(
    postgres_store: object,
    postgres_url: str,
    mapping: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A PostgreSQL restart while a listener runs: the batch is neither lost nor set aside as
    # failed; it waits in the spool and is loaded, in order, once the database answers.
    from tests._sessions import terminate_sessions

    spool = tmp_path / "spool"
    listener = MqttListener(
        postgres_store, mapping, broker="mqtt://h", topics=["plant/#"], spool=spool
    )  # type: ignore[arg-type]
    report = StreamReport("mqtt://h:1883", ("plant/#",))

    def message(value: float, minute: int) -> bytes:
        return json.dumps(
            {"value": value, "timestamp": 1_767_225_600_000 + 60_000 * minute}
        ).encode()

    def refused(self: PostgresStore, *, again: bool = False) -> None:
        raise ServerGone(f"{self.path}: the database does not answer (connection refused)")

    listener.spool.append("plant/l1/temp", message(20.5, 0))
    terminate_sessions(postgres_url)  # a restart: the connection closed, the server not back
    monkeypatch.setattr(PostgresStore, "_connect", refused)
    listener._flush(report, None)
    monkeypatch.undo()  # the server is back
    assert (report.waiting_files, report.inserted, report.failed_files) == (1, 0, [])
    assert len(list(spool.glob("*.jsonl"))) == 1
    listener.spool.append("plant/l1/temp", message(21.0, 1))
    listener._flush(report, None)
    assert (report.waiting_files, report.inserted, report.batches) == (0, 2, 2)
    assert [p[2] for p in _points(postgres_store)] == [20.5, 21.0]  # type: ignore[arg-type]
    assert not list(spool.glob("*.jsonl"))
