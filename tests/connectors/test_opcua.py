"""OPC UA listener: value changes of a server's variables end up in the store.

The server is an asyncua server started by the test, so these run everywhere.
"""

from __future__ import annotations

import re
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from factorybrain.connectors import OpcUaListener, StreamReport
from factorybrain.exceptions import IngestError
from factorybrain.store import DuckDBStore, open_store
from tests.connectors._listening import Running, run_listen

asyncua = pytest.importorskip("asyncua", reason="asyncua is not installed (the 'opcua' extra)")

MAPPING = """\
entity: datapoint
space: plc
duplicates: merge
fields:
  series: path
  ts: source_timestamp
  value: value
"""


class Plant:
    """An OPC UA server with a line of two machines and their variables."""

    def __init__(self) -> None:
        from asyncua import ua
        from asyncua.sync import Server

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.url = f"opc.tcp://127.0.0.1:{port}/factorybrain/"
        self.server = Server()
        self.server.set_endpoint(self.url)
        self.server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        ns = self.server.register_namespace("urn:factorybrain:test")
        line = self.server.nodes.objects.add_folder(ns, "Line1")
        lathe = line.add_object(ns, "Lathe1")
        press = line.add_object(ns, "Press1")
        self.temp = lathe.add_variable(f"ns={ns};s=Line1.Lathe1.Temp", "Temp", 20.0)
        self.temp.add_property(ns, "EngineeringUnits", "degC")  # a property, not a reading
        self.running = lathe.add_variable(f"ns={ns};s=Line1.Lathe1.Running", "Running", False)
        self.force = press.add_variable(f"ns={ns};s=Line1.Press1.Force", "Force", 100.0)
        self.line = line
        self.ns = ns
        self.server.start()

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture(scope="module")
def plant() -> Iterator[Plant]:
    """One server for the module (starting one takes seconds); tests write their own values."""
    server = Plant()
    yield server
    server.stop()


@pytest.fixture
def mapping(tmp_path: Path) -> Path:
    path = tmp_path / "plc.yaml"
    path.write_text(MAPPING)
    return path


def _run(listener: OpcUaListener, act: Callable[[], None], settle: float = 1.2) -> StreamReport:
    running = Running(listener)
    if running.error is None:
        time.sleep(0.6)  # the initial values arrive first
        act()
        time.sleep(settle)
    return running.finish()


def _series(store: DuckDBStore) -> dict[str, list[float]]:
    frame = store.query(
        "SELECT s.external_id, d.value FROM datapoint d JOIN time_series s USING (series_id) "
        "WHERE s.space = 'plc' ORDER BY s.external_id, d.ts"
    )
    out: dict[str, list[float]] = {}
    for name, value in zip(frame["external_id"], frame["value"], strict=True):
        out.setdefault(name, []).append(value)
    return out


def test_browsing_a_line_subscribes_to_every_machine_variable_and_loads_each_change(
    plant: Plant, mapping: Path, store: DuckDBStore, tmp_path: Path
) -> None:
    listener = OpcUaListener(
        store,
        mapping,
        server=plant.url,
        browse=[plant.line.nodeid.to_string()],
        spool=tmp_path / "spool",
        sampling_ms=50,
        flush_seconds=0.3,
    )

    plant.running.write_value(False)
    before = {"temp": plant.temp.read_value(), "force": plant.force.read_value()}

    def act() -> None:
        for value in (21.5, 22.5, 23.5):
            plant.temp.write_value(value)
            time.sleep(0.15)
        plant.running.write_value(True)

    report = _run(listener, act)
    series = _series(store)
    assert set(series) == {"Line1/Lathe1/Temp", "Line1/Lathe1/Running", "Line1/Press1/Force"}
    # the value at subscription time, then every change
    assert series["Line1/Lathe1/Temp"] == [before["temp"], 21.5, 22.5, 23.5]
    assert series["Line1/Lathe1/Running"] == [0.0, 1.0]  # booleans as 0/1
    assert series["Line1/Press1/Force"] == [before["force"]]
    assert report.quarantined == 0 and report.inserted == 7


def test_a_bad_status_is_quarantined_with_it_never_stored_as_a_reading(
    plant: Plant, mapping: Path, store: DuckDBStore, tmp_path: Path
) -> None:
    from asyncua import ua

    listener = OpcUaListener(
        store,
        mapping,
        server=plant.url,
        nodes=[plant.force.nodeid.to_string()],
        spool=tmp_path / "spool",
        sampling_ms=50,
        flush_seconds=0.3,
    )

    def act() -> None:
        bad = ua.DataValue(
            ua.Variant(999.0, ua.VariantType.Double),
            StatusCode=ua.StatusCode(ua.StatusCodes.BadSensorFailure),
            SourceTimestamp=datetime.now(UTC),
        )
        plant.force.write_value(bad)
        time.sleep(0.2)
        plant.force.write_value(101.0)

    report = _run(listener, act)
    assert _series(store) == {"Force": [100.0, 101.0]}
    assert report.quarantined == 1
    raw = store.query("SELECT field, raw FROM quarantine")
    assert raw["field"][0] == "value" and "BadSensorFailure" in raw["raw"][0]


def test_a_node_that_does_not_exist_or_is_not_a_variable_is_named(
    plant: Plant, mapping: Path, store: DuckDBStore, tmp_path: Path
) -> None:
    missing = OpcUaListener(
        store,
        mapping,
        server=plant.url,
        nodes=[f"ns={plant.ns};s=No.Such.Tag"],
        spool=tmp_path / "spool",
    )
    with pytest.raises(IngestError, match=r"no node 'ns=2;s=No\.Such\.Tag'"):
        missing.run(seconds=1)
    folder = OpcUaListener(
        store,
        mapping,
        server=plant.url,
        nodes=[plant.line.nodeid.to_string()],
        spool=tmp_path / "spool",
    )
    with pytest.raises(IngestError, match="is not a variable; use browse"):
        folder.run(seconds=1)


def test_an_unreachable_server_and_bad_arguments_are_clear_errors(
    mapping: Path, store: DuckDBStore, tmp_path: Path
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    listener = OpcUaListener(
        store,
        mapping,
        server=f"opc.tcp://127.0.0.1:{port}",
        nodes=["ns=2;s=X"],
        spool=tmp_path / "spool",
    )
    with pytest.raises(IngestError, match="cannot connect"):
        listener.run(seconds=1)
    with pytest.raises(IngestError, match="expected opc.tcp://"):
        OpcUaListener(store, mapping, server="http://x", nodes=["a"], spool=tmp_path / "s")
    with pytest.raises(IngestError, match="name variables"):
        OpcUaListener(store, mapping, server="opc.tcp://x:4840", spool=tmp_path / "s")


def test_the_listen_command_reads_an_opc_ua_server(
    plant: Plant, mapping: Path, tmp_path: Path
) -> None:
    def change_until_done(process: subprocess.Popen[str]) -> None:
        # the subscription follows the first line: change the value until the listener is done
        value = 30.0
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            value += 1.0
            plant.temp.write_value(value)
            time.sleep(0.3)

    db = tmp_path / "cli.duckdb"
    output = run_listen(
        mapping,
        db,
        "--source",
        plant.url,
        "--node",
        plant.temp.nodeid.to_string(),
        "--max-messages",
        "3",
        "--flush-seconds",
        "0.2",
        "--seconds",
        "60",
        act=change_until_done,
    )
    # it stops once 3 arrived; one arriving meanwhile is still loaded, never dropped
    summary = re.search(r"listened .*: (\d+) messages in \d+ batches, (\d+) inserted", output)
    assert summary, output
    messages, inserted = int(summary[1]), int(summary[2])
    assert messages >= 3 and inserted == messages
    with open_store(db, read_only=True) as store:
        first_value, *changes = _series(store)["Temp"]
        assert len(changes) == messages - 1 and changes[-1] == changes[-2] + 1.0
