"""Live-source test helpers: a listener in a thread, the ``listen`` command in a process."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from factorybrain.connectors import StreamListener, StreamReport
from factorybrain.store import open_store


class Running:
    """A listener running in a thread until the test stops it."""

    def __init__(self, listener: StreamListener, **options: object) -> None:
        self.listener = listener
        self.stop = threading.Event()
        self.report: StreamReport | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, kwargs=options, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not listener.subscribed.is_set() and self.error is None:
            assert time.monotonic() < deadline, "the listener did not subscribe"
            time.sleep(0.02)

    def _run(self, **options: object) -> None:
        try:
            self.report = self.listener.run(stop=self.stop, **options)  # type: ignore[arg-type]
        except BaseException as error:  # surfaced by finish()
            self.error = error

    def wait_for(self, messages: int, timeout: float = 20) -> None:
        """Wait until the listener has received ``messages`` in all."""
        deadline = time.monotonic() + timeout
        while self.listener.spool.total < messages:
            assert time.monotonic() < deadline, (
                f"received {self.listener.spool.total} of {messages} messages"
            )
            time.sleep(0.02)

    def finish(self) -> StreamReport:
        """Stop the listener; return its report, or raise what it raised."""
        self.stop.set()
        self.thread.join(30)
        if self.error:
            raise self.error
        assert self.report is not None
        return self.report


def start_listen(mapping: Path, db: Path, *options: str) -> tuple[subprocess.Popen[str], str]:
    """Start ``factorybrain listen`` on a fresh store; return it once it says it listens."""
    if not db.exists():
        with open_store(db, migrate=True):
            pass
    command = [sys.executable, "-m", "factorybrain", "listen", str(mapping), "--db", str(db)]
    process = subprocess.Popen(
        [*command, *options], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    assert "listening on" in first, first
    return process, first


def run_listen(
    mapping: Path, db: Path, *options: str, act: Callable[[subprocess.Popen[str]], None]
) -> str:
    """Run ``factorybrain listen`` while ``act`` feeds its source; return all it printed."""
    process, first = start_listen(mapping, db, *options)
    with process:
        act(process)
        assert process.stdout is not None
        output = first + process.stdout.read()
        assert process.wait(60) == 0, output
    return output
