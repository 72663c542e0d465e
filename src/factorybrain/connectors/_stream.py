"""Live sources (MQTT, OPC UA): what arrives is spooled to disk, then loaded in batches.

A source's network thread appends each message to a spool file as one cheap line, ``[key,
received epoch seconds, payload text]``, before the message is acknowledged. Every
``flush_seconds`` the spool file is closed, turned into rows (JSON lines) by the source's row
builder, and loaded through the mapping like any file: one transaction, bad rows quarantined with
their reason, idempotent. Only then is it removed. Files a crash leaves behind are loaded when the
listener starts again; a file that cannot be loaded at all is kept in ``failed/``. A batch the
database could not take because it stopped answering (a PostgreSQL restart) stays in the spool
and is loaded again at each flush until the database answers; messages keep being spooled
meanwhile.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from factorybrain.connectors._ingest import IngestReport, ingest
from factorybrain.connectors._mapping import ROW_COLUMN, Mapping, load_mapping
from factorybrain.exceptions import IngestError, MappingError
from factorybrain.store import DuckDBStore, ServerGone

OnBatch = Callable[[IngestReport], None]
#: Builds the row of one message: (key, payload, received at, columns the mapping reads).
RowBuilder = Callable[[str, bytes, datetime, Sequence[str]], dict[str, Any]]


@dataclass
class StreamReport:
    """What a listener did, summed over its batches."""

    source: str
    subscriptions: tuple[str, ...]
    messages: int = 0
    batches: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    skipped: int = 0
    recovered_files: int = 0
    failed_files: list[str] = field(default_factory=list)
    #: Batches kept in the spool because the database stopped answering (tried again later).
    waiting_files: int = 0
    seconds: float = 0.0

    def add(self, report: IngestReport) -> None:
        """Count one loaded batch."""
        self.batches += 1
        self.inserted += report.inserted
        self.updated += report.updated
        self.unchanged += report.unchanged
        self.quarantined += report.quarantined
        self.skipped += report.skipped


class Spool:
    """The current spool file: messages are appended here before they are acknowledged."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.lock = threading.Lock()
        self.count = 0
        self.total = 0
        self._path: Path | None = None
        self._handle: Any = None

    def append(self, key: str, payload: bytes) -> None:
        """Write one message (called from the source's network thread)."""
        line = json.dumps([key, time.time(), payload.decode("utf-8", "replace")]) + "\n"
        with self.lock:
            if self._handle is None:
                stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
                self._path = self.folder / f"{stamp}-{uuid.uuid4().hex[:8]}.raw.part"
                self._handle = self._path.open("a", encoding="utf-8")
            self._handle.write(line)
            self._handle.flush()  # in the OS before the acknowledgement: survives a crash of ours
            self.count += 1
            self.total += 1

    def rotate(self) -> tuple[Path, int] | None:
        """Close the current file; return it, ready to load, and its message count."""
        with self.lock:
            if self._handle is None or self._path is None:
                return None
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
            ready = self._path.with_suffix("")  # drop ".part"
            self._path.rename(ready)
            count, self._handle, self._path, self.count = self.count, None, None, 0
            return ready, count


def rows_file(raw: Path, columns: Sequence[str], build: RowBuilder, key_column: str) -> Path:
    """Turn a raw spool file into the JSON-lines rows a mapping reads; return the rows file.

    A line cut short by a crash is kept as a row whose ``payload`` is the broken line, so the
    mapping quarantines it instead of it being lost.
    """
    rows = raw.with_suffix(".jsonl")
    with raw.open(encoding="utf-8", errors="replace") as lines, rows.open("w") as out:
        for line in lines:
            try:
                key, received, text = json.loads(line)
                at = datetime.fromtimestamp(float(received), UTC)
                row = build(str(key), str(text).encode(), at, columns)
            except (ValueError, TypeError):
                row = {**dict.fromkeys(columns), key_column: None, "payload": line.rstrip("\n")}
            out.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        out.flush()
        os.fsync(out.fileno())
    raw.unlink()
    return rows


class StreamListener(ABC):
    """Spooling, batching and loading, shared by the live sources.

    A source implements :meth:`_start` (connect, subscribe, and from then on call
    ``self.spool.append`` for every message) and :meth:`_stop`, and names its row builder.
    """

    #: Columns every row of this source has (never taken from a payload).
    reserved: tuple[str, ...] = ()
    #: The column that identifies a message's origin (a topic, a node).
    key_column: str = "key"
    #: What the source is called in messages.
    kind: str = "source"

    def __init__(
        self,
        store: DuckDBStore,
        mapping: str | Path | Mapping,
        *,
        spool: Path,
        flush_seconds: float,
        on_batch: OnBatch | None,
    ) -> None:
        self.store = store
        self.mapping = mapping if isinstance(mapping, Mapping) else load_mapping(mapping)
        if self.mapping.source.format not in (None, "jsonl"):
            raise MappingError(
                f"{self.mapping.path}: a mapping for {self.kind} messages reads them as JSON "
                f"lines; remove 'source: {{format: {self.mapping.source.format}}}'"
            )
        self.flush_seconds = flush_seconds
        self.on_batch = on_batch
        self.spool_dir = Path(spool)
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        (self.spool_dir / "failed").mkdir(exist_ok=True)
        columns = {c for rule in self.mapping.fields.values() for c in rule.source_columns}
        columns.discard(ROW_COLUMN)  # the row's own number, not a column of the messages
        self.columns = sorted(
            c for c in columns - set(self.reserved) if not c.startswith(f"{self.key_column}.")
        )
        self.spool = Spool(self.spool_dir)
        #: Set once the source has accepted the subscriptions.
        self.subscribed = threading.Event()

    @abstractmethod
    def _start(self) -> None:
        """Connect and subscribe; raise :class:`IngestError` with a clear reason if it fails."""

    @abstractmethod
    def _stop(self) -> None:
        """Unsubscribe and disconnect (must not raise)."""

    @abstractmethod
    def build_row(
        self, key: str, payload: bytes, received_at: datetime, columns: Sequence[str]
    ) -> dict[str, Any]:
        """The row one message becomes."""

    @abstractmethod
    def describe(self) -> tuple[str, tuple[str, ...]]:
        """Where it listens and to what, for reports."""

    def run(
        self,
        *,
        seconds: float | None = None,
        max_messages: int | None = None,
        stop: threading.Event | None = None,
        progress: Callable[[StreamReport], None] | None = None,
    ) -> StreamReport:
        """Listen until ``seconds`` pass, ``max_messages`` arrive or ``stop`` is set.

        Spool files left by an earlier run are loaded first. The last batch is loaded before
        returning, also on Ctrl-C.

        Raises:
            IngestError: If the source cannot be reached or refuses a subscription.
        """
        report = StreamReport(*self.describe())
        started = time.monotonic()
        self.recover(report)
        try:
            self._start()
            stop = stop or threading.Event()
            next_flush = time.monotonic() + self.flush_seconds
            try:
                while not stop.is_set():
                    now = time.monotonic()
                    if seconds is not None and now - started >= seconds:
                        break
                    if max_messages is not None and self.spool.total >= max_messages:
                        break
                    if now >= next_flush:
                        self._flush(report, progress)
                        next_flush = now + self.flush_seconds
                    stop.wait(0.05)
            except KeyboardInterrupt:
                pass
        finally:
            self._stop()
            self._flush(report, progress)
            report.seconds = round(time.monotonic() - started, 3)
        return report

    def recover(self, report: StreamReport) -> None:
        """Load spool files a previous run left behind (a crash between receipt and load)."""
        for part in sorted(self.spool_dir.glob("*.raw.part")):
            part.rename(part.with_suffix(""))
        for raw in sorted(self.spool_dir.glob("*.raw")):
            rows_file(raw, self.columns, self.build_row, self.key_column)
        for path in sorted(self.spool_dir.glob("*.jsonl")):
            report.recovered_files += 1
            self._load(path, report)

    def _flush(self, report: StreamReport, progress: Callable[[StreamReport], None] | None) -> None:
        # batches the database could not take before go first, in the order they arrived
        caught_up = all(self._load(path, report) for path in sorted(self.spool_dir.glob("*.jsonl")))
        rotated = self.spool.rotate()
        if rotated is not None:
            raw, count = rotated
            report.messages += count
            rows = rows_file(raw, self.columns, self.build_row, self.key_column)
            if caught_up:
                self._load(rows, report)
        report.waiting_files = len(list(self.spool_dir.glob("*.jsonl")))
        if rotated is not None and progress:
            progress(report)

    def _load(self, path: Path, report: StreamReport) -> bool:
        """Load one batch; False when the database stopped answering (the file stays)."""
        try:
            loaded = ingest(self.store, path, self.mapping)
        except ServerGone:
            return False  # kept in the spool: loaded at a later flush, once it answers
        except IngestError as error:
            if isinstance(error.__cause__, ServerGone):
                return False
            # The file could not be loaded at all; keep it for a person to look at.
            path.rename(self.spool_dir / "failed" / path.name)
            report.failed_files.append(str(self.spool_dir / "failed" / path.name))
            return True
        path.unlink()
        report.add(loaded)
        if self.on_batch:
            self.on_batch(loaded)
        return True
