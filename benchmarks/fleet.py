"""A fleet of plants through the whole chain, and the agents' run here versus on a Ray cluster.

``factorybrain simulate --sites N --machines M`` writes N pump plants of one company, ``factorybrain
load`` loads the fleet manifest into one store, ``factorybrain match run`` links it; then the
agents run once in this process and once on a Ray cluster of ``--workers`` CPUs started on this
machine (each on its own copy of the matched store), their findings are compared, and the API
answers its usual reads over the result. Each stage is timed.

The cluster's workers are warmed first (each imports the package and compiles what numba compiles
on first use), as a long-running cluster's are; ``ray_warmup_s`` reports that cost apart.

Prints one JSON object on its last line: ``sites``, ``machines``, ``days``, ``points`` (datapoints
loaded), ``simulate_s``, ``load_s``, ``match_s``, ``agents_local_s``, ``agents_ray_s``,
``ray_workers``, ``ray_warmup_s``, ``speedup``, ``findings_local``, ``findings_ray``,
``identical_findings``, ``api_p50_ms``, ``api_errors``, the seconds of each agent both ways and
``agent_local_peak_mb`` (the process's peak resident memory when each agent's run ended, here;
the agents run in turn, each one's findings routed to the agents that react before the next).
With ``--workers 0`` the agents run here only, on the matched store itself (no copy of a
fleet-sized store), and the cluster's keys are null. ``--store`` starts from a store loaded and
matched before (one ``--keep`` kept, before any agents' run): only the agents and the API reads
run, and ``simulate_s``, ``load_s`` and ``match_s`` are null.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

FINDING_COLUMNS = "agent, kind, subject_type, subject, severity, round(confidence, 9), evidence"


def cli(*args: str) -> float:
    """Run one factorybrain command as a user would; its wall time."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "factorybrain", *args], check=True, stdout=subprocess.DEVNULL
    )
    return time.perf_counter() - started


def warm(piece: int) -> int:
    """A task that makes a fresh Ray worker import what the agents' pieces use."""
    import factorybrain.agents.maintenance  # noqa: F401
    import factorybrain.agents.planning  # noqa: F401
    import factorybrain.context  # noqa: F401
    import factorybrain.engines.forecast  # noqa: F401

    time.sleep(0.5)  # long enough that every worker takes a piece
    return os.getpid()


def peak_mb() -> int:
    """The peak resident memory of this process so far, in MB."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def run_agents(
    db: Path,
) -> tuple[float, dict[str, float], dict[str, int], list[tuple[Any, ...]]]:
    """Every installed agent once over ``db``.

    Returns the wall time, the seconds of each agent, the peak resident memory (MB) when each
    agent's run ended (the reactions routed before it included) and the findings.
    """
    from factorybrain.agents.core._registry import installed_orchestrator
    from factorybrain.store import open_store

    seconds: dict[str, float] = {}
    peaks: dict[str, int] = {}
    with open_store(db) as store, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the agents' data warnings: not what is measured here
        orchestrator = installed_orchestrator(store)
        for name, agent in orchestrator.agents.items():
            for method in ("run", "react"):
                original = getattr(agent, method)

                def timed(
                    *args: Any,
                    _original: Any = original,
                    _name: str = name,
                    _run: bool = method == "run",
                ) -> list:
                    started = time.perf_counter()
                    out = list(_original(*args))
                    seconds[_name] = seconds.get(_name, 0.0) + time.perf_counter() - started
                    if _run:
                        peaks[_name] = peak_mb()
                    return out

                setattr(agent, method, timed)
        started = time.perf_counter()
        orchestrator.run(None)
        wall = time.perf_counter() - started
        rows = store.query(f"SELECT {FINDING_COLUMNS} FROM finding ORDER BY ALL")
    findings = []
    for row in rows.itertuples(index=False):
        # A finding the data does not date is stamped with the moment the agent ran it: the
        # only part of a finding that may differ between two runs.
        evidence = json.loads(row.evidence)
        evidence.get("meta", {}).pop("created_at", None)
        findings.append((*map(str, row[:-1]), json.dumps(evidence, sort_keys=True)))
    return wall, seconds, peaks, sorted(findings)


def api_reads(db: Path, repeats: int = 5) -> tuple[float, int]:
    """The API's usual reads over the store: p50 in ms and the answers that were not 200."""
    from fastapi.testclient import TestClient

    from api_load import read_paths
    from factorybrain.api import TokenStore, create_app
    from factorybrain.store import open_store

    paths = read_paths(db)
    with open_store(db) as store:
        token = TokenStore(store).create("fleet-bench", "viewer")
        times, errors = [], 0
        with TestClient(create_app(store)) as client:
            headers = {"Authorization": f"Bearer {token}"}
            for _ in range(repeats):
                for path in paths.values():
                    started = time.perf_counter()
                    answer = client.get(path, headers=headers)
                    times.append(time.perf_counter() - started)
                    errors += answer.status_code != 200
    return statistics.median(times) * 1000, errors


def fleet_of(store: Any) -> dict[str, int]:
    """``sites``, ``machines`` (per site) and ``days`` of history of a loaded fleet's store.

    ``load`` of a fleet manifest puts each site in spaces of its own (``site-01/mes``); a
    machine is equipment in each of its site's silos, so a site's machines are the most
    equipment one space holds.
    """
    spaces = store.query(
        "SELECT space, count(*) AS n FROM asset WHERE level = 'equipment' GROUP BY space"
    )
    sites = {str(space).split("/")[0] if "/" in str(space) else "" for space in spaces["space"]}
    span = store.query("SELECT max(ts) - min(ts) AS span FROM datapoint")["span"][0]
    return {
        "sites": len(sites),
        "machines": int(spaces["n"].max()) if len(spaces) else 0,
        "days": round(span.total_seconds() / 86400),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=10, help="Plants of the fleet.")
    parser.add_argument("--machines", type=int, default=50, help="Machines per plant.")
    parser.add_argument("--days", type=int, default=180, help="Days of history per plant.")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="CPUs of the Ray cluster (0: no cluster, the agents run here only).",
    )
    parser.add_argument("--data", type=Path, help="A fleet written before (skips simulate).")
    parser.add_argument("--keep", type=Path, help="Keep the exports and stores in this folder.")
    parser.add_argument(
        "--store",
        type=Path,
        help="A store loaded and matched before, no agents run on it yet (skips simulate, "
        "load and match).",
    )
    args = parser.parse_args()

    from factorybrain import compute
    from factorybrain.store import open_store

    with tempfile.TemporaryDirectory() as scratch:
        work = args.keep or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        exports, matched = args.data or work / "fleet", args.store or work / "fleet.duckdb"
        result: dict[str, Any] = {"sites": args.sites, "machines": args.machines}
        result.update(days=args.days, simulate_s=None, load_s=None, match_s=None)
        if args.data is None and args.store is None:
            print(f"simulating {args.sites} sites x {args.machines} machines", file=sys.stderr)
            simulate = ["simulate", "--out", str(exports), "--sites", str(args.sites)]
            simulate += ["--machines", str(args.machines), "--days", str(args.days)]
            result["simulate_s"] = round(cli(*simulate, "--seed", str(args.seed)), 1)
        if args.store is None:
            matched.unlink(missing_ok=True)
            print("loading the fleet manifest", file=sys.stderr)
            manifest = str(exports / "fleet.yaml")
            result["load_s"] = round(cli("load", manifest, "--db", str(matched)), 1)
        with open_store(matched, read_only=True) as store:
            result["points"] = int(store.query("SELECT count(*) AS n FROM datapoint")["n"][0])
            if args.store is not None:  # the fleet the store holds, not the options' defaults
                result.update(fleet_of(store))
        if args.store is None:
            print("matching", file=sys.stderr)
            result["match_s"] = round(cli("match", "run", "--db", str(matched)), 1)

        local_db, ray_db = work / "agents-local.duckdb", work / "agents-ray.duckdb"
        if args.workers:
            shutil.copy(matched, local_db)
            shutil.copy(matched, ray_db)
        else:
            local_db = matched  # one run only: no copy of a fleet-sized store
        print("agents, in this process", file=sys.stderr)
        with compute.using(None):
            local_s, local_each, local_peaks, local_findings = run_agents(local_db)
        ray_s, ray_each, ray_findings = None, {}, None
        if args.workers:
            print(f"agents, on a {args.workers}-CPU Ray cluster", file=sys.stderr)
            with compute.local_cluster(args.workers) as address, compute.using(address) as pool:
                started = time.perf_counter()
                pool.map(warm, list(range(args.workers * 4)))
                result["ray_warmup_s"] = round(time.perf_counter() - started, 1)
                ray_s, ray_each, _, ray_findings = run_agents(ray_db)
        print("API reads", file=sys.stderr)
        p50, errors = api_reads(local_db)
        result.update(
            agents_local_s=round(local_s, 1),
            agents_ray_s=None if ray_s is None else round(ray_s, 1),
            ray_workers=args.workers,
            speedup=None if ray_s is None else round(local_s / ray_s, 2),
            findings_local=len(local_findings),
            findings_ray=None if ray_findings is None else len(ray_findings),
            identical_findings=None if ray_findings is None else local_findings == ray_findings,
            agent_local_s={k: round(v, 1) for k, v in sorted(local_each.items())},
            agent_ray_s={k: round(v, 1) for k, v in sorted(ray_each.items())},
            agent_local_peak_mb=dict(sorted(local_peaks.items())),
            api_p50_ms=round(p50, 1),
            api_errors=errors,
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
