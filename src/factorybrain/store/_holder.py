"""Who holds a store file: the record a server leaves next to it, and the error that names it.

One process at a time may open a DuckDB store for writing. A server (``factorybrain serve``)
writes a small JSON record next to the store while it runs (``plant.duckdb.server.json``: its
process id, host, the URL of its API, the command and when it started) and removes it when it
stops. A process that meets the lock reads the record and says which server holds the store
and where to send the request instead (:class:`StoreLockedError`). A record whose process is
no longer alive on this host (a server that was killed) is ignored.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from factorybrain.exceptions import StoreError

#: What is appended to the store's file name to name its holder record.
HOLDER_SUFFIX = ".server.json"


@dataclass(frozen=True)
class StoreHolder:
    """The server that holds a store, as its record says.

    Attributes:
        pid: Its process id.
        host: The host name it runs on.
        url: The URL its REST API answers at (the API is under ``<url>/api/v1``).
        command: The command line it was started with.
        started_at: When it started (ISO 8601, UTC).
        store: The store file it serves.
    """

    pid: int
    host: str
    url: str
    command: str
    started_at: str
    store: str


def holder_path(store_path: str | Path) -> Path:
    """The record of the server holding ``store_path``: the store's name plus ``.server.json``."""
    path = Path(store_path)
    return path.with_name(path.name + HOLDER_SUFFIX)


def read_holder(store_path: str | Path) -> StoreHolder | None:
    """The server that holds the store, or None: no record, an unreadable one, or a stale one.

    A record is stale when it names a process of this host that is no longer alive.
    """
    try:
        found = json.loads(holder_path(store_path).read_text(encoding="utf-8"))
        holder = StoreHolder(
            pid=int(found["pid"]),
            host=str(found["host"]),
            url=str(found["url"]),
            command=str(found.get("command", "")),
            started_at=str(found.get("started_at", "")),
            store=str(found.get("store", store_path)),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if holder.host == socket.gethostname() and not process_alive(holder.pid):
        return None
    return holder


@contextlib.contextmanager
def holding(store_path: str | Path, url: str) -> Iterator[StoreHolder]:
    """Record this process as the server holding ``store_path`` while the block runs.

    The record is written whole (to a new file, then renamed) and removed at the end if it is
    still this process's. An in-memory store gets no record.

    Args:
        store_path: The store file served.
        url: The URL the REST API answers at, as clients should reach it.
    """
    holder = StoreHolder(
        pid=os.getpid(),
        host=socket.gethostname(),
        url=url.rstrip("/"),
        command=" ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else "",
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        store=str(store_path),
    )
    if str(store_path) == ":memory:":
        yield holder
        return
    record = holder_path(store_path)
    written = record.with_name(f".{record.name}.{holder.pid}")
    written.write_text(json.dumps(asdict(holder), indent=2) + "\n", encoding="utf-8")
    os.replace(written, record)
    try:
        yield holder
    finally:
        with contextlib.suppress(OSError, ValueError, KeyError):
            if json.loads(record.read_text(encoding="utf-8"))["pid"] == holder.pid:
                record.unlink()


def process_alive(pid: int) -> bool:
    """Whether a process of this host has the id ``pid``."""
    import psutil  # type: ignore[import-untyped]

    return bool(psutil.pid_exists(pid))


def process_command(pid: int) -> str | None:
    """The command line of the process ``pid`` of this host, or None where it cannot be read."""
    try:
        import psutil

        return " ".join(psutil.Process(pid).cmdline()) or None
    except Exception:  # no such process, no right to read it, or no psutil: unknown
        return None


class StoreLockedError(StoreError):
    """Another process holds the store file; the message says which and what to do.

    Attributes:
        path: The store file.
        pid: The process id DuckDB names as holding the lock (None when it names none).
        program: The program of that process (its command line where it can be read).
        holder: The record of the server holding it (None when none, or a stale one).
    """

    def __init__(
        self, path: str, pid: int | None, program: str | None, holder: StoreHolder | None
    ) -> None:
        self.path = path
        self.pid = pid
        self.program = program
        self.holder = holder
        super().__init__(self.describe())

    def with_remedy(self, remedy: str) -> StoreLockedError:
        """This error, its message ending with ``remedy`` instead of the general advice."""
        self.args = (self.describe(remedy),)
        return self

    def describe(self, remedy: str | None = None) -> str:
        """The message: who holds the store, then ``remedy`` (by default, what to do in general).

        Args:
            remedy: What the command that met the lock can do instead; by default, pass
                ``--api`` to a command that has it, or stop the holder.
        """
        who = f"PID {self.pid}" if self.pid is not None else "another process"
        if self.program:
            who += f" ({self.program})"
        if self.holder is not None:
            serving = f"; it serves the REST API at {self.holder.url}"
            if self.holder.started_at:
                serving += f" since {self.holder.started_at}"
        else:
            serving = ""
        told = (
            f"the store {self.path!r} is held by {who}{serving}: one process at a time may "
            "open a DuckDB store."
        )
        if remedy is None:
            remedy = self.default_remedy()
        return f"{told} {remedy}"

    def default_remedy(self) -> str:
        """What to do in general: go through the holder's API where there is one, or stop it."""
        if self.holder is not None:
            return (
                f"Send the request to that server instead: add '--api {self.holder.url}' and a "
                "token ('--token' or $FACTORYBRAIN_TOKEN) to the command, where the command has "
                "'--api'; otherwise stop the server first."
            )
        return "Wait until that process ends, or stop it, then run the command again."


def locked_store_error(path: str, message: str) -> StoreLockedError | None:
    """The :class:`StoreLockedError` of DuckDB's lock message ``message``, or None if not one."""
    import re

    held = re.search(r"Conflicting lock is held in (.+?) \(PID (\d+)\)", message)
    if held is None and "Could not set lock on file" not in message:
        return None
    pid = int(held.group(2)) if held else None
    program = process_command(pid) if pid is not None else None
    if program is None and held is not None:
        program = Path(held.group(1)).name
    holder = read_holder(path)
    if (
        holder is not None
        and pid is not None
        and holder.pid != pid
        and holder.host == socket.gethostname()
    ):
        holder = None  # the record names another process of this host, not the lock's holder
    return StoreLockedError(path, pid, program, holder)
