"""Mixed reads against `factorybrain serve` on loopback at a fixed request rate.

Builds a demo store unless `--db` names one, starts the server in its own process on a free
loopback port with a fresh viewer token, sends `--rps` requests per second for `--seconds`,
stops the server, and prints one JSON object on its last line: `rps`, `p99_ms`, `p50_ms`,
`errors`, `shed`, `cpu_ms_per_request`, plus the latency per route, the CPU time each side used,
the server's CPU per request of each route alone (`cpu_ms_by_route`), the versions of the
packages that serve, DuckDB's thread setting and the load average. Only 127.0.0.1 is ever
contacted.

The server keeps read answers until a table they read is written (its read cache): with no
writes during the run, the mixed load's repeated reads are answered from it.
`read_cache_hits` and `read_cache_misses` say how many of its answers came from the cache and
how many were computed (from the server's /metrics); `FACTORYBRAIN_READ_CACHE_BYTES=0` in the
environment measures the server without the cache (`read_cache_bytes` 0 in the output).

A server beyond its capacity sheds load: it answers 503 with `Retry-After` at once instead of
queueing. Those answers count in `shed`, not in `errors`, and their latency in `shed_p99_ms`;
`p99_ms` and `p50_ms` are those of the requests answered (`answered`).

The load generator is open-loop and light: one asyncio loop (uvloop when installed) writes plain
HTTP/1.1 requests on persistent keep-alive connections (at most `--connections`, opened as
needed; a request waits for a free one when all are busy), request `i` is due at
`start + i / rps` whatever happened to the earlier ones, and its latency runs from that due time
to the last byte of the answer. A server (or generator) that falls behind therefore shows up in
the latencies instead of silently lowering the rate (no coordinated omission).
`p99_from_send_ms` is measured from the moment the request was written instead. A warm-up of
every route three times at 20 requests/s comes first and is not counted.

With `--store postgresql://...` the store is moved (`factorybrain migrate`) into a new database on
that server, `factorybrain serve --workers N` (`--workers`) serves it, and `--ingest-points N`
loads N generated datapoints into the same store while the mixed load runs (`ingest_s` says how
long it took); the server's CPU is then its processes' (workers included, PostgreSQL's own backends
not). The database is dropped at the end.

After the mixed load, each route runs alone at `--route-rps` for `--route-seconds` (0: skip):
the server process's CPU time (all its threads, DuckDB's included) over the requests sent is its
`cpu_ms_by_route`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import psutil

SERVER = """
import json, platform, sys, uvicorn
from importlib import metadata
from factorybrain.api import TokenStore, create_app
from factorybrain.store import open_store
store = open_store(sys.argv[1])
tokens = TokenStore(store)
app = create_app(store, tokens=tokens, **json.loads(sys.argv[4]))
threads = store.connection.execute("SELECT current_setting('threads')").fetchall()[0][0]
versions = {"python": platform.python_version()}
for name in json.loads(sys.argv[5]):
    try:
        versions[name] = metadata.version(name)
    except metadata.PackageNotFoundError:
        pass
with open(sys.argv[3] + ".json", "w") as handle:
    json.dump({"duckdb_threads": threads, "versions": versions,
               "max_in_flight": getattr(app.state, "max_in_flight", None),
               "read_cache_bytes": app.state.access.cache.max_bytes}, handle)
with open(sys.argv[3], "w") as handle:
    handle.write(tokens.create("load", "viewer"))
serve = lambda: uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning",
                            access_log=False)
if sys.argv[6]:  # profile the whole run, written when the benchmark stops the server
    import cProfile, pstats, signal
    class Stopped(Exception):
        pass
    def stop(*_):
        raise Stopped
    # uvicorn shuts down on SIGTERM, puts this handler back and raises the signal again
    signal.signal(signal.SIGTERM, stop)
    profiler = cProfile.Profile()
    try:
        profiler.runcall(serve)
    except Stopped:
        pass
    with open(sys.argv[6], "w") as handle:
        pstats.Stats(profiler, stream=handle).sort_stats("tottime").print_stats(40)
else:
    serve()
"""
#: The packages whose versions the result names (those not installed are left out).
PACKAGES = (
    "factorybrain",
    "duckdb",
    "fastapi",
    "starlette",
    "pydantic",
    "pydantic-core",
    "uvicorn",
    "uvloop",
    "httptools",
    "anyio",
    "orjson",
)
T = TypeVar("T")
#: Longest wait for one answer before it counts as an error.
TIMEOUT_S = 10.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def read_paths(db: Path | str) -> dict[str, str]:
    """Pick real identifiers from the store so every request reads something; route -> path."""
    from factorybrain.store import open_store

    with open_store(db, read_only=True) as store:
        asset = store.query("SELECT external_id FROM asset LIMIT 1")["external_id"][0]
        series = store.query(
            "SELECT t.external_id FROM time_series t JOIN series_extent e USING (series_id) "
            "ORDER BY e.points DESC LIMIT 1"
        )["external_id"][0]
        serials = int(store.query("SELECT count(*) AS n FROM serial_unit")["n"][0])
    return {
        "assets": "/api/v1/assets?limit=50",
        "asset": f"/api/v1/assets/{asset}",
        "work_orders": "/api/v1/work-orders?limit=50&offset=100",
        "findings": "/api/v1/findings?limit=20",
        "inbox": "/api/v1/actions?state=proposed",
        "series_1h": f"/api/v1/time-series/{series}/datapoints?every=1h",
        "series_raw": f"/api/v1/time-series/{series}/datapoints?limit=500",
        "serials": f"/api/v1/serials?limit=20&offset={max(0, serials // 2)}",
        "events": f"/api/v1/events?asset={asset}&limit=50",
        "audit": "/api/v1/audit?limit=20",
    }


class Connection:
    """One keep-alive HTTP/1.1 connection: send a request, read one answer."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def exchange(self, request: bytes) -> int:
        """Write ``request`` and read the whole answer; return its status code."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = None
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length is None:
            raise ValueError("answer without Content-Length")
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


@dataclass
class Tally:
    """Latencies per route, the errors seen and the requests shed."""

    from_due: dict[str, list[float]] = field(default_factory=dict)
    from_send: list[float] = field(default_factory=list)
    errors: int = 0
    samples: list[str] = field(default_factory=list)
    #: Latencies of the requests the server shed (503), from when they were due.
    shed: list[float] = field(default_factory=list)

    def error(self, what: str) -> None:
        self.errors += 1
        if len(self.samples) < 5:
            self.samples.append(what)


class Generator:
    """Send requests on schedule over a pool of keep-alive connections."""

    def __init__(self, port: int, token: str, paths: dict[str, str], connections: int = 64) -> None:
        self.port = port
        self.most = connections
        self.requests = {
            route: (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Authorization: Bearer {token}\r\nAccept: application/json\r\n\r\n"
            ).encode()
            for route, path in paths.items()
        }
        self.idle: asyncio.Queue[Connection] = asyncio.Queue()
        self.opened = 0
        self.tally = Tally()

    async def _connection(self) -> Connection:
        """An idle connection, a new one while fewer than ``most`` are open, else wait."""
        if self.idle.empty() and self.opened < self.most:
            self.opened += 1
            try:
                return Connection(*await asyncio.open_connection("127.0.0.1", self.port))
            except OSError:
                self.opened -= 1
                raise
        return await self.idle.get()

    async def one(self, route: str, due: float) -> None:
        connection = None
        try:
            connection = await self._connection()
            sent = time.perf_counter()
            status = await asyncio.wait_for(connection.exchange(self.requests[route]), TIMEOUT_S)
        except (OSError, ValueError, asyncio.IncompleteReadError, TimeoutError) as error:
            self.tally.error(f"{route}: {type(error).__name__}: {error}")
            if connection is not None:
                connection.close()
                self.opened -= 1
            return
        done = time.perf_counter()
        self.idle.put_nowait(connection)
        if status == 503:  # shed: the server is beyond its capacity and said so at once
            self.tally.shed.append((done - due) * 1000)
            return
        if status >= 400:
            self.tally.error(f"{route}: HTTP {status}")
        self.tally.from_due.setdefault(route, []).append((done - due) * 1000)
        self.tally.from_send.append((done - sent) * 1000)

    async def run(self, rps: float, seconds: float, seed: int = 7) -> float:
        """Send ``rps * seconds`` requests on schedule; return the seconds it took in all."""
        rng = random.Random(seed)
        routes = list(self.requests)
        tasks = []
        begin = time.perf_counter()
        for i in range(int(rps * seconds)):
            due = begin + i / rps
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self.one(rng.choice(routes), due)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - begin
        while not self.idle.empty():
            self.idle.get_nowait().close()
        return elapsed


def percentile(values: list[float], share: float) -> float | None:
    """The ``share`` percentile of ``values`` (None when there are none: JSON has no NaN)."""
    ordered = sorted(values)
    return round(ordered[int(share * (len(ordered) - 1))], 1) if ordered else None


async def warm_up(port: int, token: str, paths: dict[str, str]) -> int:
    """Every route a few times at a gentle rate (worker threads, cursors, lazy imports)."""
    generator = Generator(port, token, paths)
    await generator.run(rps=20, seconds=len(paths) * 3 / 20)
    return generator.tally.errors


async def load(
    port: int, token: str, paths: dict[str, str], rps: float, seconds: float, connections: int
) -> dict:
    generator = Generator(port, token, paths, connections)
    cpu_before = time.process_time()
    elapsed = await generator.run(rps, seconds)
    tally = generator.tally
    everything = [v for values in tally.from_due.values() for v in values]
    requests = len(everything) + tally.errors + len(tally.shed)
    return {
        "rps": round(requests / elapsed, 1),
        "p99_ms": percentile(everything, 0.99),
        "p50_ms": round(statistics.median(everything), 1) if everything else float("nan"),
        "errors": tally.errors,
        "shed": len(tally.shed),
        "shed_p99_ms": percentile(tally.shed, 0.99),
        "answered": len(everything),
        "p99_from_send_ms": percentile(tally.from_send, 0.99),
        "max_ms": round(max(everything), 1) if everything else float("nan"),
        "requests": requests,
        "target_rps": rps,
        "seconds": round(elapsed, 1),
        "connections": generator.opened,
        "generator_cpu_s": round(time.process_time() - cpu_before, 1),
        "p99_ms_by_route": {
            route: percentile(values, 0.99) for route, values in sorted(tally.from_due.items())
        },
        "error_samples": tally.samples,
    }


def cache_answers(port: int, token: str) -> tuple[int, int]:
    """The server's read answers so far from its cache and computed (hits, misses), /metrics."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        text = answer.read().decode()
    found = dict.fromkeys(("hit", "miss"), 0)
    for line in text.splitlines():
        for outcome in found:
            if line.startswith(f'factorybrain_read_cache_answers_total{{outcome="{outcome}"}}'):
                found[outcome] = int(float(line.rsplit(" ", 1)[1]))
    return found["hit"], found["miss"]


def build_demo(tmp: Path, days: int) -> Path:
    db = tmp / "demo.duckdb"
    print("building a demo plant store", file=sys.stderr)
    command = [sys.executable, "-m", "factorybrain", "demo", "--no-serve", "--db", str(db)]
    command += ["--out", str(tmp / "plant"), "--days", str(days)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return db


def wait_until_up(port: int, token_file: Path, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with code {server.returncode}")
        if token_file.exists() and token_file.read_text().strip():
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return
            except OSError:
                pass
        time.sleep(0.2)
    raise SystemExit("the server did not start within 120 s")


def run(work: Coroutine[Any, Any, T]) -> T:
    """Run on uvloop when it is installed (a lighter loop), else on asyncio's own."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(work)
    return uvloop.run(work)


def server_cpu_s(server: psutil.Process) -> float:
    """CPU seconds the server has used so far, user and system, all its threads and workers."""
    total = 0.0
    for process in [server, *server.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def factorybrain(*arguments: str) -> str:
    """Run a factorybrain command; return what it printed."""
    done = subprocess.run(
        [sys.executable, "-m", "factorybrain", *arguments],
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


def postgres_database(server: str) -> str:
    """A new database on the PostgreSQL ``server``; its URL."""
    import uuid
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    name = f"fb_load_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    parts = urlsplit(server)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


def drop_database(server: str, url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[-1]
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


INGEST_MAPPING = """\
entity: datapoint
space: loadtest
fields:
  series: tag
  ts: ts
  value: value
"""


def ingest_points(tmp: Path, url: str, points: int) -> subprocess.Popen:
    """Start loading ``points`` generated datapoints (100 series) into the store at ``url``."""
    import duckdb

    parquet = tmp / "ingest.parquet"
    con = duckdb.connect()
    con.execute(
        f"""
        COPY (SELECT 'LOAD_' || lpad((i // {points // 100})::VARCHAR, 3, '0') AS tag,
                     TIMESTAMP '2030-01-01' + to_seconds(i % {points // 100}) AS ts,
                     random() AS value
              FROM range({points}) t(i)) TO '{parquet}' (FORMAT parquet)
        """
    )
    con.close()
    mapping = tmp / "ingest.yaml"
    mapping.write_text(INGEST_MAPPING)
    return subprocess.Popen(
        [sys.executable, "-m", "factorybrain", "ingest", str(parquet), "-m", str(mapping)]
        + ["--db", url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def start_workers(url: str, port: int, token_file: Path, workers: int) -> subprocess.Popen:
    """``factorybrain serve --workers N`` over the PostgreSQL store, a viewer's token beside."""
    output = factorybrain("token", "create", "--role", "viewer", "--name", "load", "--db", url)
    token_file.write_text(next(w for w in output.split() if w.startswith("fb_")))
    about = {"workers": workers, "store": "postgresql", "read_cache_bytes": 0}
    Path(f"{token_file}.json").write_text(json.dumps(about))
    return subprocess.Popen(
        [sys.executable, "-m", "factorybrain", "serve", "--db", url, "--port", str(port)]
        + ["--workers", str(workers), "--schedule", "0"],
        stdout=subprocess.DEVNULL,
    )


def cpu_by_route(
    port: int, token: str, paths: dict[str, str], server: psutil.Process, rps: float, seconds: float
) -> dict[str, dict[str, float]]:
    """Each route alone at ``rps`` for ``seconds``: server CPU ms per request, p99 and errors.

    A route alone shows its own cost: the server's CPU time over the run (all its threads,
    DuckDB's included) divided by the requests sent.
    """
    found = {}
    for route, path in paths.items():
        before = server_cpu_s(server)
        result = run(load(port, token, {route: path}, rps, seconds, 16))
        used = server_cpu_s(server) - before
        found[route] = {
            "cpu_ms": round(used * 1000 / max(result["requests"], 1), 2),
            "p99_ms": result["p99_ms"],
            "errors": result["errors"] + result["shed"],
        }
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="A loaded store (default: build a demo plant).")
    parser.add_argument("--rps", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--days", type=int, default=30, help="Days of the demo plant to build.")
    parser.add_argument(
        "--connections", type=int, default=64, help="Most keep-alive connections open at once."
    )
    parser.add_argument(
        "--route-rps", type=float, default=100, help="Rate of each route alone (cpu_ms_by_route)."
    )
    parser.add_argument(
        "--route-seconds",
        type=float,
        default=3,
        help="Seconds of each route alone after the mixed load (0: no cpu_ms_by_route).",
    )
    parser.add_argument(
        "--max-in-flight",
        type=int,
        help="The server's limit on requests in flight (create_app's max_in_flight; default: "
        "its own, or $FACTORYBRAIN_MAX_IN_FLIGHT).",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="Run the server under cProfile and write its top functions (by own time) here; "
        "profiling slows the server, so its latency and CPU figures are not the benchmark's.",
    )
    parser.add_argument(
        "--store",
        help="A PostgreSQL server (postgresql://user@host/db): serve the store from a new "
        "database there instead of the DuckDB file.",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="API worker processes (with --store)."
    )
    parser.add_argument(
        "--ingest-points",
        type=int,
        default=0,
        help="Datapoints to load into the store during the mixed load (with --store).",
    )
    args = parser.parse_args()
    options = {} if args.max_in_flight is None else {"max_in_flight": args.max_in_flight}

    with tempfile.TemporaryDirectory() as tmp:
        db: Path | str = args.db or build_demo(Path(tmp), args.days)
        if args.store:
            url = postgres_database(args.store)
            print(f"moving the store into {url}", file=sys.stderr)
            factorybrain("migrate", "--from", str(db), "--to", url)
            db = url
        paths = read_paths(db)
        port, token_file = free_port(), Path(tmp) / "token"
        if args.store:
            server = start_workers(str(db), port, token_file, args.workers)
        else:
            server = subprocess.Popen(
                [sys.executable, "-c", SERVER, str(db), str(port), str(token_file)]
                + [json.dumps(options), json.dumps(PACKAGES), str(args.profile or "")]
            )
        ingesting: subprocess.Popen | None = None
        try:
            wait_until_up(port, token_file, server)
            token = token_file.read_text().strip()
            about = json.loads(Path(f"{token_file}.json").read_text())
            if run(warm_up(port, token, paths)):
                print("warning: errors while warming up", file=sys.stderr)
            server_process = psutil.Process(server.pid)
            load_before = [round(x, 2) for x in psutil.getloadavg()]
            cpu_before = server_cpu_s(server_process)
            answers_before = cache_answers(port, token)
            if args.store and args.ingest_points:
                ingest_started = time.perf_counter()
                ingesting = ingest_points(Path(tmp), str(db), args.ingest_points)
            result = run(load(port, token, paths, args.rps, args.seconds, args.connections))
            used = server_cpu_s(server_process) - cpu_before
            if ingesting is not None:
                result["ingest_running_at_end"] = ingesting.poll() is None
                result["ingest_points"] = args.ingest_points
                result["ingest_exit"] = ingesting.wait()
                result["ingest_s"] = round(time.perf_counter() - ingest_started, 1)
            hits, misses = cache_answers(port, token)
            result["read_cache_hits"] = hits - answers_before[0]
            result["read_cache_misses"] = misses - answers_before[1]
            result["server_cpu_s"] = round(used, 1)
            result["cpu_ms_per_request"] = round(used * 1000 / max(result["requests"], 1), 2)
            result["load_average_before"] = load_before
            result["load_average"] = [round(x, 2) for x in psutil.getloadavg()]
            if args.route_seconds > 0:
                result["cpu_ms_by_route"] = cpu_by_route(
                    port, token, paths, server_process, args.route_rps, args.route_seconds
                )
        finally:
            if ingesting is not None and ingesting.poll() is None:
                ingesting.terminate()
            server.terminate()
            server.wait(timeout=30)
            if args.store:
                drop_database(args.store, str(db))
    result["load_average_end"] = [round(x, 2) for x in psutil.getloadavg()]
    result.update(about)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
