"""Where the heavy, independent pieces of work run: in this process, or as tasks on a Ray cluster.

The maintenance agent's models (one per asset), the forecaster's batches of series, the matcher's
entity classes and the planner's what-if schedules are each a list of pieces that need nothing
from one another. They go through :func:`pool`::

    from factorybrain import compute

    models = compute.pool().map(fit_asset, assets, settings, label="maintenance models")

By default every piece runs here, one after the other. With ``FACTORYBRAIN_RAY_ADDRESS`` set (or
``--ray`` on the commands that run agents, matching or planning) they run as Ray tasks:

- ``host:port`` or ``ray://host:port``: the head of a running cluster (``ray start --head``);
- ``auto``: the cluster started on this machine;
- ``local``: a Ray instance started in this process, with as many workers as cores.

A cluster's workers need the same factorybrain installed (same version, same extras) as the
process that sends the work; docs/deployment.md shows a cluster set up that way.

What a run gives does not depend on where it ran: results come back in the order of the pieces,
and every piece is a deterministic function of its arguments (the estimators' seeds are fixed).
A piece that raises raises the same error here. A worker that dies (killed, out of memory, its
node lost) has its task run again by Ray, up to :data:`RETRIES` times; after that the run stops
with a :class:`ComputeError` naming the work and the cluster, before anything was written.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from factorybrain.exceptions import ComputeError

RAY_ADDRESS_ENV = "FACTORYBRAIN_RAY_ADDRESS"
"""Environment variable naming the Ray cluster to run on (unset: everything runs here)."""

RETRIES = 3
"""Times Ray runs a task again when the worker running it dies."""

TASKS_PER_WORKER = 4
"""Pieces are batched into about this many tasks per worker: enough to balance, few enough that
the cost of a task (about a millisecond) stays small beside the work."""

__all__ = [
    "RAY_ADDRESS_ENV",
    "ComputeError",
    "Pool",
    "RayPool",
    "configure",
    "local_cluster",
    "pool",
    "shutdown",
    "using",
]

T = TypeVar("T")
R = TypeVar("R")


class Pool:
    """Runs a function over independent pieces; :meth:`map` returns results in the pieces' order."""

    name = "local"
    """``local`` or ``ray``."""

    @property
    def workers(self) -> int:
        """How many pieces run at once."""
        return 1

    def map(
        self,
        function: Callable[..., R],
        pieces: Sequence[T],
        *shared: Any,
        label: str = "work",
    ) -> list[R]:
        """``[function(piece, *shared) for piece in pieces]``, wherever the pool runs.

        Args:
            function: A module-level function (a cluster imports it by name).
            pieces: The independent inputs.
            *shared: Arguments every call receives; sent to a cluster once, not once per piece.
            label: What the work is, for messages (``"maintenance models"``).
        """
        return _run_batch(function, pieces, *shared)

    def describe(self) -> str:
        """One line for logs and reports: where the work runs."""
        return "in this process"


class RayPool(Pool):
    """Pieces run as Ray tasks on the cluster at ``address`` (see the module's docstring)."""

    name = "ray"

    def __init__(self, address: str) -> None:
        try:
            import ray
        except ImportError as error:
            raise ComputeError(
                f"{RAY_ADDRESS_ENV}={address!r} asks for a Ray cluster, but Ray is not "
                "installed here: install factorybrain[cluster] (or unset it to run here)."
            ) from error
        self._ray = ray
        self.address = address
        if not ray.is_initialized():  # else Ray was started by the caller: its cluster is used
            _check_reachable(address)
            try:
                ray.init(
                    address=address,  # "local" starts a new instance, never joins one
                    log_to_driver=False,
                    logging_level=logging.WARNING,
                    include_dashboard=False if address == "local" else None,
                )
            except (ConnectionError, RuntimeError, ValueError) as error:
                raise ComputeError(
                    f"cannot reach the Ray cluster at {address!r} ({RAY_ADDRESS_ENV}): {error}. "
                    "Check that it runs (`ray status` on its head) or unset the variable to run "
                    "here."
                ) from error
        self._batch = ray.remote(max_retries=RETRIES, retry_exceptions=False)(_run_batch)

    @property
    def workers(self) -> int:
        """The cluster's CPUs (each task takes one)."""
        return max(1, int(self._ray.cluster_resources().get("CPU", 1)))

    def map(
        self,
        function: Callable[..., R],
        pieces: Sequence[T],
        *shared: Any,
        label: str = "work",
    ) -> list[R]:
        """Run the pieces as tasks of batches (see :data:`TASKS_PER_WORKER`), in order."""
        if not pieces:
            return []
        ray = self._ray
        size = max(1, math.ceil(len(pieces) / (self.workers * TASKS_PER_WORKER)))
        batches = [list(pieces[i : i + size]) for i in range(0, len(pieces), size)]
        refs = [ray.put(value) for value in shared]
        tasks = [self._batch.remote(function, batch, *refs) for batch in batches]
        try:
            done = ray.get(tasks)
        except ray.exceptions.RayTaskError as error:
            _cancel(ray, tasks)  # the run stops here: the other pieces are not needed
            cause = error.cause
            if isinstance(cause, BaseException):
                raise cause from None
            raise ComputeError(f"{label}: a task failed on the Ray cluster: {error}") from error
        except (
            ray.exceptions.WorkerCrashedError,
            ray.exceptions.NodeDiedError,
            ray.exceptions.ObjectLostError,
            ray.exceptions.RaySystemError,
        ) as error:
            _cancel(ray, tasks)
            raise ComputeError(
                f"{label}: the Ray cluster at {self.address!r} lost the worker of a task "
                f"{RETRIES + 1} times ({type(error).__name__}); nothing of this run was written. "
                "Run it again once the cluster is healthy (`ray status`)."
            ) from error
        return [result for batch in done for result in batch]

    def describe(self) -> str:
        """Where the work runs: the cluster's address and CPUs."""
        return f"on the Ray cluster at {self.address} ({self.workers} CPUs)"


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail at once, in words, when nothing listens at a ``host:port`` address.

    Ray itself keeps retrying an address where nothing answers for many minutes.
    """
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # 'auto', 'local': Ray finds them itself, and says so quickly when it cannot
    try:
        socket.create_connection((host, int(port)), timeout).close()
    except OSError as error:
        raise ComputeError(
            f"cannot reach the Ray cluster at {address!r} ({RAY_ADDRESS_ENV} or --ray): nothing "
            f"answers at {host} port {port} ({error.strerror or error}). Check that its head "
            "runs (`ray status` there) or unset the address to run here."
        ) from error


def _cancel(ray: Any, tasks: list[Any]) -> None:
    """Cancel the tasks still running (those done or lost already are left as they are)."""
    for task in tasks:
        try:
            ray.cancel(task)  # not force: the worker lives on for the next work
        except Exception:  # a task that finished already, or whose worker died
            continue


def _run_batch(function: Callable[..., R], batch: Sequence[T], *shared: Any) -> list[R]:
    return [function(piece, *shared) for piece in batch]


_LOCAL = Pool()
_lock = threading.Lock()
_override: str | None = None
_current: RayPool | None = None  # the pool of this process's one Ray connection


def address() -> str | None:
    """The Ray address in force: :func:`configure`'s, else ``$FACTORYBRAIN_RAY_ADDRESS``."""
    chosen = _override if _override is not None else os.environ.get(RAY_ADDRESS_ENV)
    return (chosen or "").strip() or None


def configure(ray_address: str | None) -> None:
    """Run on the Ray cluster at ``ray_address`` from now on (``None``: as the environment says).

    Raises:
        ComputeError: If the cluster cannot be reached or Ray is not installed.
    """
    global _override
    _override = ray_address
    pool()  # connect now: a wrong address is an error before any work starts


def pool() -> Pool:
    """The pool the work runs on: local, or the Ray cluster that :func:`address` names."""
    global _current
    chosen = address()
    if chosen is None:
        return _LOCAL
    with _lock:
        if _current is not None and _current.address != chosen:
            previous, _current = _current, None  # a process joins one cluster at a time
            previous._ray.shutdown()
        if _current is None:
            _current = RayPool(chosen)
        return _current


@contextmanager
def using(ray_address: str | None) -> Iterator[Pool]:
    """Run on ``ray_address`` (``None``: locally) inside the block, then as before."""
    global _override
    before = _override
    _override = ray_address or ""
    try:
        yield pool()
    finally:
        _override = before


@contextmanager
def local_cluster(cpus: int = 2, *, timeout: float = 90.0) -> Iterator[str]:
    """A Ray cluster of ``cpus`` workers on this machine for the block: yields its address.

    For trying a cluster, benchmarks and tests: ``ray start --head --block`` in a process group
    of its own (stopping it stops its workers and nothing else), listening on a free port, with
    Ray's client authentication off (``RAY_AUTH_MODE=disabled`` for the block) since it serves
    this machine only. At the end this process disconnects and the cluster is stopped.

    Raises:
        ComputeError: If Ray is not installed or the head does not answer within ``timeout``.
    """
    import shutil
    import signal
    import subprocess
    import sys
    import time

    command = shutil.which("ray", path=os.path.dirname(sys.executable)) or shutil.which("ray")
    if command is None:
        raise ComputeError("a local Ray cluster needs Ray: install factorybrain[cluster]")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    saved = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"
    head = subprocess.Popen(
        [command, "start", "--head", "--block", f"--port={port}", f"--num-cpus={cpus}"]
        + ["--include-dashboard=false", "--disable-usage-stats"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if head.poll() is not None:
                raise ComputeError(f"'ray start --head' exited with status {head.returncode}")
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise ComputeError(
                        f"the local Ray cluster did not answer within {timeout:g} s"
                    ) from None
                time.sleep(0.5)
        yield f"127.0.0.1:{port}"
    finally:
        shutdown()
        os.killpg(head.pid, signal.SIGKILL)
        head.wait()
        if saved is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = saved


def shutdown() -> None:
    """Disconnect from the cluster (a ``local`` one stops); the next :func:`pool` reconnects."""
    global _current
    with _lock:
        current, _current = _current, None
    if current is not None:
        current._ray.shutdown()
