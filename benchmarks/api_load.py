"""Mixed reads against `factorybrain serve` on loopback at a fixed request rate.

Builds a demo store unless `--db` names one, starts the server in its own process on a free
loopback port with a fresh viewer token, sends `--rps` requests per second for `--seconds`
(open-loop: requests are sent on schedule whether or not earlier ones have answered), stops the
server, and prints one JSON object on its last line: `rps`, `p99_ms`, `p50_ms`, `errors`.
Only 127.0.0.1 is ever contacted.
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
from pathlib import Path

import httpx

SERVER = """
import sys, uvicorn
from factorybrain.api import TokenStore, create_app
from factorybrain.store import open_store
store = open_store(sys.argv[1])
tokens = TokenStore(None)
with open(sys.argv[3], "w") as handle:
    handle.write(tokens.create("load", "viewer"))
uvicorn.run(create_app(store, tokens=tokens), host="127.0.0.1", port=int(sys.argv[2]),
            log_level="warning")
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def read_paths(db: Path) -> list[str]:
    """Pick real identifiers from the store so every request reads something."""
    from factorybrain.store import open_store

    with open_store(db, read_only=True) as store:
        asset = store.query("SELECT external_id FROM asset LIMIT 1")["external_id"][0]
        series = store.query(
            "SELECT t.external_id FROM time_series t JOIN series_extent e USING (series_id) "
            "ORDER BY e.points DESC LIMIT 1"
        )["external_id"][0]
        serials = int(store.query("SELECT count(*) AS n FROM serial_unit")["n"][0])
    return [
        "/api/v1/assets?limit=50",
        f"/api/v1/assets/{asset}",
        "/api/v1/work-orders?limit=50&offset=100",
        "/api/v1/findings?limit=20",
        "/api/v1/actions?state=proposed",
        f"/api/v1/time-series/{series}/datapoints?every=1h",
        f"/api/v1/time-series/{series}/datapoints?limit=500",
        f"/api/v1/serials?limit=20&offset={max(0, serials // 2)}",
        f"/api/v1/events?asset={asset}&limit=50",
        "/api/v1/audit?limit=20",
    ]


async def load(url: str, token: str, paths: list[str], rps: float, seconds: float) -> dict:
    latencies: list[float] = []
    errors = 0
    rng = random.Random(7)
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=400, max_keepalive_connections=100)
    async with httpx.AsyncClient(
        base_url=url, headers=headers, timeout=10, limits=limits
    ) as client:

        async def one(path: str) -> None:
            nonlocal errors
            started = time.perf_counter()
            try:
                response = await client.get(path)
                errors += response.status_code >= 400
            except httpx.HTTPError:
                errors += 1
            latencies.append((time.perf_counter() - started) * 1000)

        tasks = []
        begin = time.perf_counter()
        for i in range(int(rps * seconds)):
            delay = begin + i / rps - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(rng.choice(paths))))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - begin
    latencies.sort()
    return {
        "rps": round(len(latencies) / elapsed, 1),
        "p99_ms": round(latencies[int(0.99 * (len(latencies) - 1))], 1),
        "p50_ms": round(statistics.median(latencies), 1),
        "errors": errors,
        "requests": len(latencies),
        "target_rps": rps,
        "seconds": round(elapsed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="A loaded store (default: build a demo plant).")
    parser.add_argument("--rps", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--days", type=int, default=30, help="Days of the demo plant to build.")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        db = args.db
        if db is None:
            db = Path(tmp) / "demo.duckdb"
            print("building a demo plant store", file=sys.stderr)
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "factorybrain",
                    "demo",
                    "--no-serve",
                    "--db",
                    str(db),
                    "--out",
                    str(Path(tmp) / "plant"),
                    "--days",
                    str(args.days),
                ],
                check=True,
                stdout=subprocess.DEVNULL,
            )
        paths = read_paths(db)
        port, token_file = free_port(), Path(tmp) / "token"
        server = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(db), str(port), str(token_file)]
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if token_file.exists() and httpx.get(f"{url}/api/v1/health").is_success:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
            result = asyncio.run(
                load(url, token_file.read_text().strip(), paths, args.rps, args.seconds)
            )
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
