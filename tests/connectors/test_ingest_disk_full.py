"""A disk that fills up during an ingest: one clear error, nothing loaded, the store as it was.

The honest reproduction is a process whose files may not grow past a size (``RLIMIT_FSIZE``, what
``ulimit -f`` sets): its writes past it fail with ``EFBIG`` where a full disk fails with
``ENOSPC``, at the same places, and DuckDB reports both as an IO error. Both ways the data can
reach the disk are covered: rows written to the store file as they are appended (datapoints),
and rows written to DuckDB's log when the transaction commits (entities). The tests after those
raise ``ENOSPC`` where the store writes, on every platform.
"""

from __future__ import annotations

import errno
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from factorybrain.cli import app
from factorybrain.connectors import ingest, no_room
from factorybrain.exceptions import IngestError
from factorybrain.store import DuckDBStore, open_store

resource = pytest.importorskip("resource", reason="no resource module (RLIMIT_FSIZE) here")

POINTS = "entity: datapoint\nspace: h\nfields:\n  series: tag\n  ts: ts\n  value: value\n"
ASSETS = (
    "entity: asset\nspace: erp\nfields:\n  external_id: code\n  name: description\n"
    "  level: {value: equipment}\n"
)
#: Runs the command with its files limited to argv[1] bytes; SIGXFSZ is ignored (as Python does
#: by default), so that a write past the limit fails with EFBIG instead of killing the process.
LIMITED = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), hard))
sys.argv = ["factorybrain", *sys.argv[2:]]
from factorybrain.cli import main
main()
"""
NO_SPACE = 'IO Error: Could not write file "{path}": No space left on device'
runner = CliRunner()


def _write_exports(folder: Path) -> None:
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT 'SEED' AS tag, TIMESTAMP '2023-01-01' + to_seconds(i) AS ts, "
        f"i::DOUBLE AS value FROM range(1000) t(i)) TO '{folder / 'small.csv'}' (HEADER)"
    )
    con.execute(
        f"COPY (SELECT 'T' || (i // 50000)::VARCHAR AS tag, TIMESTAMP '2024-01-01' + "
        f"to_seconds(i % 50000) AS ts, random() AS value FROM range(200000) t(i)) "
        f"TO '{folder / 'points.csv'}' (HEADER)"
    )
    con.execute(
        f"COPY (SELECT 'M' || i::VARCHAR AS code, 'Machine ' || i::VARCHAR || repeat('x', 60) "
        f"AS description FROM range(40000) t(i)) TO '{folder / 'assets.csv'}' (HEADER)"
    )
    con.close()
    (folder / "points.yaml").write_text(POINTS)
    (folder / "assets.yaml").write_text(ASSETS)


def _state(db: Path) -> tuple[dict[str, int], list[tuple[str, str]]]:
    with open_store(db, read_only=True) as store:
        history = store.ingest_history(50)
        return store.counts(), list(zip(history["source_file"], history["status"], strict=True))


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
@pytest.mark.parametrize(
    ("export", "mapping"),
    [
        pytest.param("points.csv", "points.yaml", id="store-file-as-datapoints-are-appended"),
        pytest.param("assets.csv", "assets.yaml", id="log-as-the-transaction-commits"),
    ],
)
def test_a_file_size_limit_reached_mid_ingest_is_one_clear_error_and_loads_nothing(
    tmp_path: Path, export: str, mapping: str
) -> None:
    _write_exports(tmp_path)
    db = tmp_path / "factory.duckdb"
    with open_store(db, migrate=True) as store:
        ingest(store, tmp_path / "small.csv", tmp_path / "points.yaml")
    before = _state(db)
    limit = db.stat().st_size + 64 * 1024
    hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
    if hard != resource.RLIM_INFINITY and hard < limit:
        pytest.skip(f"the hard file size limit ({hard} bytes) is below what the test needs")

    command = ["ingest", str(tmp_path / export), "-m", str(tmp_path / mapping), "--db", str(db)]
    done = subprocess.run(
        [sys.executable, "-c", LIMITED, str(limit), *command],
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    message = done.stderr.strip()
    assert message.count("\n") == 0, "one line"
    assert message.startswith(f"error: {tmp_path / export}: not loaded: the store {db} reached")
    assert "file size limit" in message and "File too large" in message
    assert f"Nothing of {tmp_path / export} was loaded: its transaction was rolled back" in message
    assert "ulimit -f" in message, "says what to do"
    after = _state(db)
    assert after[0] == before[0], "the store holds what it held before"
    assert not any(f.endswith(export) and s == "ok" for f, s in after[1])
    # The store still opens for writing, and takes the file once there is room.
    with open_store(db) as store:
        report = ingest(store, tmp_path / export, tmp_path / mapping)
    assert report.status == "ok" and report.inserted > 0


# -- without a real limit: ENOSPC raised where the store writes --------------------------------
def _points(tmp_path: Path) -> tuple[Path, Path]:
    source = tmp_path / "p.csv"
    source.write_text("tag,ts,value\nA,2024-01-01 00:00:00,1.5\nA,2024-01-01 00:01:00,2.5\n")
    mapping = tmp_path / "p.yaml"
    mapping.write_text(POINTS)
    return source, mapping


def test_enospc_from_the_store_is_an_ingest_error_naming_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, mapping = _points(tmp_path)
    with open_store(tmp_path / "f.duckdb", migrate=True) as store:

        def full(*_: object, **__: object) -> int:
            raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "f.duckdb"))

        monkeypatch.setattr(DuckDBStore, "append_datapoints", full)
        with pytest.raises(IngestError) as raised:
            ingest(store, source, mapping)
        message = str(raised.value)
        assert f"the disk holding the store {tmp_path / 'f.duckdb'} is full" in message
        assert "its transaction was rolled back" in message and "free space" in message
        monkeypatch.undo()
        assert store.counts()["datapoint"] == 0
        [status] = store.ingest_history()["status"]
        assert status.startswith("failed: ") and "is full" in status


def test_a_failed_report_that_cannot_be_kept_does_not_hide_the_full_disk(
    store: DuckDBStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, mapping = _points(tmp_path)
    full = duckdb.IOException(NO_SPACE.format(path="f.duckdb"))

    def append(*_: object, **__: object) -> int:
        raise duckdb.TransactionException("Current transaction is aborted") from full

    def record(*_: object, **__: object) -> None:
        raise duckdb.TransactionException("Failed to commit: " + NO_SPACE.format(path="f.wal"))

    monkeypatch.setattr(DuckDBStore, "append_datapoints", append)
    monkeypatch.setattr(DuckDBStore, "record_ingest", record)
    with pytest.raises(IngestError, match=r"disk holding the store :memory: is full \(IO Error"):
        ingest(store, source, mapping)


def test_load_prints_one_line_per_file_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, mapping = _points(tmp_path)
    manifest = tmp_path / "plant.yaml"
    manifest.write_text(
        f"name: p\nsources:\n  - file: {source.name}\n    mapping: {mapping.name}\n"
    )
    db = tmp_path / "f.duckdb"

    def full(*_: object, **__: object) -> int:
        raise duckdb.IOException(NO_SPACE.format(path=db))

    monkeypatch.setattr(DuckDBStore, "append_datapoints", full)
    result = runner.invoke(app, ["load", str(manifest), "--db", str(db)])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit | None)
    assert "Traceback" not in result.output
    assert f"error: {source}: not loaded: the disk holding the store {db} is full" in (
        result.output.replace("\n", " ")
    )


def test_a_store_that_cannot_be_migrated_on_a_full_disk_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import factorybrain.store

    db = tmp_path / "f.duckdb"

    def full(*_: object, **__: object) -> DuckDBStore:
        raise duckdb.TransactionException("Failed to commit: " + NO_SPACE.format(path=db))

    monkeypatch.setattr(factorybrain.store, "open_store", full)
    result = runner.invoke(app, ["init", "--db", str(db)])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit | None)
    assert f"error: cannot open the store: the disk holding the store {db} is full" in (
        result.output.replace("\n", " ")
    )


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), errno.ENOSPC),
        (OSError(errno.EFBIG, "File too large"), errno.EFBIG),
        (duckdb.IOException('Could not write file "x": Disk quota exceeded'), errno.EDQUOT),
        (duckdb.IOException("There is not enough space on the disk."), errno.ENOSPC),
    ],
)
def test_no_room_recognises_the_ways_a_write_runs_out_of_room(
    error: BaseException, code: int
) -> None:
    room = no_room(error, "f.duckdb")
    assert room is not None and room.errno == code and "f.duckdb" in room.what


def test_no_room_finds_the_cause_behind_an_aborted_transaction() -> None:
    # What DuckDB raises when the statement after the failed write finds the transaction aborted.
    aborted = duckdb.TransactionException("Current transaction is aborted (please ROLLBACK)")
    aborted.__context__ = duckdb.IOException(NO_SPACE.format(path="f.duckdb"))
    room = no_room(IngestError("f.csv: cannot be read"), "f.duckdb")
    assert room is None
    wrapped = IngestError("f.csv: cannot be read")
    wrapped.__cause__ = aborted
    room = no_room(wrapped, "f.duckdb")
    assert room is not None and room.detail.startswith("IO Error: Could not write file")


@pytest.mark.parametrize(
    "error",
    [
        OSError(errno.ENOENT, "No such file or directory"),
        duckdb.ConversionException("Could not convert string 'x' to DOUBLE"),
        IngestError("No space left on device"),  # a message, not a failed write
    ],
)
def test_no_room_ignores_other_errors(error: BaseException) -> None:
    assert no_room(error, "f.duckdb") is None
