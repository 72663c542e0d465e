"""Proposals and approvals while the agents run, with mixed reads, against `factorybrain serve`.

Builds a demo store unless `--db` names one, starts the server in its own process on a free
loopback port with the installed agents and three tokens (an engineer who proposes, a planner
who approves, a viewer who reads), and for `--seconds`:

- runs the agents back to back (`POST /agents/run`, as the scheduler or an impatient engineer
  would), so that they are running for the whole window;
- proposes a `notify` action and approves it (with the content hash the proposal showed) every
  `--write-every` seconds: a new action each time, so every approval executes;
- sends `--rps` mixed reads per second (the routes of `api_load.py`), open-loop.

Latencies run from when a request was due to its last byte (no coordinated omission). Prints one
JSON object on its last line: `approve_p99_ms_during_agents` (proposals and approvals that
started while a run of the agents was going on), `reads_p99_ms`, and the details. Only
127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).parent))
from api_load import (  # noqa: E402 (this folder)
    Generator,
    build_demo,
    free_port,
    percentile,
    read_paths,
    run,
    wait_until_up,
    warm_up,
)

SERVER = """
import json, sys, uvicorn
from factorybrain.agents import Orchestrator, installed_agents
from factorybrain.api import RateLimits, TokenStore, create_app
from factorybrain.store import open_store
store = open_store(sys.argv[1])
tokens = TokenStore(store)
issued = {role: tokens.create(f"bench-{role}", role) for role in ("engineer", "planner", "viewer")}
issued["runner"] = tokens.create("bench-runner", "engineer")
with open(sys.argv[3], "w") as handle:
    json.dump(issued, handle)
# Per-token limits lifted: this measures the write path while agents run, not the limits.
limits = RateLimits({"write": (100.0, 100.0), "agents_run": (100.0, 100.0)})
app = create_app(store, tokens=tokens, orchestrator=Orchestrator(store, installed_agents()),
                 rate_limits=limits)
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False)
"""


class Window:
    """When the agents were running: a list of (start, end) perf-counter intervals."""

    def __init__(self) -> None:
        self.runs: list[tuple[float, float]] = []
        self.current: float | None = None

    def during(self, moment: float) -> bool:
        if self.current is not None and moment >= self.current:
            return True
        return any(start <= moment <= end for start, end in self.runs)


async def keep_agents_running(
    client: httpx.AsyncClient, token: str, until: float, window: Window, errors: list[str]
) -> int:
    """Start a run of the agents as soon as the last one ended; return how many ran."""
    runs = 0
    headers = {"Authorization": f"Bearer {token}"}
    while time.perf_counter() < until:
        window.current = time.perf_counter()
        answer = await client.post("/api/v1/agents/run", headers=headers, timeout=600)
        window.runs.append((window.current, time.perf_counter()))
        window.current = None
        if answer.status_code == 429:
            await asyncio.sleep(float(answer.headers.get("retry-after", "1")))
        elif answer.status_code != 200:
            errors.append(f"agents/run: HTTP {answer.status_code} {answer.text[:200]}")
            await asyncio.sleep(1)
        else:
            runs += 1
    return runs


async def propose_and_approve(
    client: httpx.AsyncClient,
    tokens: dict[str, str],
    every: float,
    until: float,
    window: Window,
    errors: list[str],
) -> dict[str, list[float]]:
    """Propose and approve one action per ``every`` seconds; latencies by kind and window."""
    engineer = {"Authorization": f"Bearer {tokens['engineer']}"}
    planner = {"Authorization": f"Bearer {tokens['planner']}"}
    latencies: dict[str, list[float]] = {"propose": [], "approve": [], "during": []}
    begin, i = time.perf_counter(), 0
    while True:
        due = begin + i * every
        if due >= until:
            return latencies
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        during = window.during(due)
        body = {"action_type": "notify", "parameters": {"to": ["shift"], "message": f"m{i}"}}
        proposed = await client.post("/api/v1/actions", headers=engineer, json=body, timeout=30)
        done = time.perf_counter()
        latencies["propose"].append((done - due) * 1000)
        if during:
            latencies["during"].append((done - due) * 1000)
        if proposed.status_code != 201:
            errors.append(f"propose: HTTP {proposed.status_code} {proposed.text[:200]}")
            i += 1
            continue
        action = proposed.json()
        started = time.perf_counter()
        approved = await client.post(
            f"/api/v1/actions/{action['id']}/approve",
            headers=planner,
            json={"content_hash": action["content_hash"], "comment": "benchmark"},
            timeout=30,
        )
        done = time.perf_counter()
        latencies["approve"].append((done - started) * 1000)
        if window.during(started):
            latencies["during"].append((done - started) * 1000)
        if approved.status_code != 200 or approved.json().get("state") != "executed":
            errors.append(f"approve: HTTP {approved.status_code} {approved.text[:200]}")
        i += 1


async def mix(port: int, tokens: dict[str, str], paths: dict[str, str], args: Any) -> dict:
    window, errors = Window(), []
    reads = Generator(port, tokens["viewer"], paths, args.connections)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        until = time.perf_counter() + args.seconds
        agents = asyncio.create_task(
            keep_agents_running(client, tokens["runner"], until, window, errors)
        )
        await asyncio.sleep(1.0)  # the first run has started
        until = time.perf_counter() + args.seconds
        writes = asyncio.create_task(
            propose_and_approve(client, tokens, args.write_every, until, window, errors)
        )
        elapsed = await reads.run(args.rps, args.seconds)
        latencies = await writes
        runs = await agents
    everything = [v for values in reads.tally.from_due.values() for v in values]
    writes_all = latencies["propose"] + latencies["approve"]
    return {
        "approve_p99_ms_during_agents": percentile(latencies["during"], 0.99),
        "reads_p99_ms": percentile(everything, 0.99),
        "propose_p99_ms": percentile(latencies["propose"], 0.99),
        "approve_p99_ms": percentile(latencies["approve"], 0.99),
        "writes_p50_ms": percentile(writes_all, 0.5),
        "writes": len(writes_all),
        "writes_during_agents": len(latencies["during"]),
        "agent_runs": runs,
        "agent_run_seconds": [round(end - start, 1) for start, end in window.runs],
        "reads": len(everything),
        "read_rps": round((len(everything) + reads.tally.errors) / elapsed, 1),
        "read_errors": reads.tally.errors,
        "write_errors": len(errors),
        "error_samples": (reads.tally.samples + errors)[:5],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="A loaded store (default: build a demo plant).")
    parser.add_argument("--rps", type=float, default=100, help="Mixed reads per second.")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--write-every", type=float, default=1.0, help="Seconds between writes.")
    parser.add_argument("--days", type=int, default=30, help="Days of the demo plant to build.")
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or build_demo(Path(tmp), args.days)
        paths = read_paths(db)
        port, token_file = free_port(), Path(tmp) / "tokens.json"
        server = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(db), str(port), str(token_file)]
        )
        try:
            wait_until_up(port, token_file, server)
            tokens = json.loads(token_file.read_text())
            if run(warm_up(port, tokens["viewer"], paths)):
                print("warning: errors while warming up", file=sys.stderr)
            result = run(mix(port, tokens, paths, args))
            result["server_cpu_s"] = round(sum(psutil.Process(server.pid).cpu_times()[:2]), 1)
        finally:
            server.terminate()
            server.wait(timeout=60)
    result["load_average"] = [round(x, 2) for x in psutil.getloadavg()]
    result["target_rps"] = args.rps
    print(json.dumps(result))


if __name__ == "__main__":
    main()
