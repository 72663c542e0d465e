"""The maintenance agent on data as it streams in: per-update cost, and the same alarms as a replay.

Protocol: take a loaded demo store (``--store``, else simulate and load the default plant), wind
it back ``--hours`` before the end of its sensor data (later datapoints removed; MES events as they
were known then: later ones removed, open ones without an end), run the agent once (its first run
replays the history), then bring the data back in chunks of ``--chunk-hours``, each followed by
an agent update, as ``factorybrain listen --agents`` or an ingest would. At the end a fresh agent
replays the whole history; ``findings_equal`` says whether the findings the updates handed out are
exactly the replay's findings raised after the wind-back point (kind, asset, time, key).

Prints one JSON object on the last line: ``first_run_seconds``, ``update_seconds_median``,
``update_seconds_max``, ``replay_seconds``, ``chunks``, ``points_per_chunk``,
``streamed_findings``, ``replay_findings``, ``findings_equal``.

Example:
    python benchmarks/maintenance_stream.py --store demo.duckdb --hours 336 --chunk-hours 24
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa

from factorybrain.agents import Finding
from factorybrain.agents.maintenance import MaintenanceAgent
from factorybrain.store import open_store


def _events_as_known_at(connection: object, at: pd.Timestamp) -> None:
    """MES events as they were known at ``at`` (from the copy kept in ``events_all``)."""
    connection.execute("DELETE FROM event").fetchall()  # type: ignore[attr-defined]
    connection.execute(  # type: ignore[attr-defined]
        "INSERT INTO event SELECT * REPLACE (CASE WHEN end_time > ? THEN NULL ELSE end_time END "
        "AS end_time) FROM events_all WHERE start_time <= ?",
        [at.to_pydatetime(), at.to_pydatetime()],
    ).fetchall()


def _key(finding: Finding) -> tuple[str, str, str, str]:
    return (
        finding.kind,
        finding.subject.external_id,
        str(pd.Timestamp(finding.created_at)),
        str(finding.dedup_key),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=None, help="a loaded demo store (copied)")
    parser.add_argument("--hours", type=int, default=336, help="hours of data streamed back")
    parser.add_argument("--chunk-hours", type=int, default=24)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fb-stream-") as tmp:
        work = Path(tmp)
        if args.store is None:
            from factorybrain.demo import build_plant

            print("simulating and loading the default demo plant", file=sys.stderr)
            _, source = build_plant(work / "plant", days=180, machines=12, seed=7)
        else:
            source = args.store
        store_path = work / "stream.duckdb"
        shutil.copy(source, store_path)
        with open_store(store_path) as store:
            connection = store.connection  # type: ignore[attr-defined]
            last = connection.execute("SELECT max(ts) FROM datapoint").fetchall()[0][0]
            end = pd.Timestamp(last).ceil("h")
            cut = end - pd.Timedelta(hours=args.hours)
            later = connection.sql(
                f"SELECT series_id, ts, value FROM datapoint WHERE ts >= TIMESTAMP '{cut}' "
                "ORDER BY ts"
            ).to_arrow_table()
            connection.execute(
                "DELETE FROM datapoint WHERE ts >= ?", [cut.to_pydatetime()]
            ).fetchall()
            connection.execute("CREATE TABLE events_all AS SELECT * FROM event").fetchall()
            _events_as_known_at(connection, cut)

            agent = MaintenanceAgent()
            started = time.perf_counter()
            agent.update(store, end=cut.to_pydatetime())
            first_run = time.perf_counter() - started
            print(f"first run (replay) up to {cut}: {first_run:.1f} s", file=sys.stderr)
            stamps = later.column("ts").to_pandas()
            handed: list[Finding] = []
            seconds, points = [], []
            lo = cut
            while lo < end:
                hi = lo + pd.Timedelta(hours=args.chunk_hours)
                chunk = later.filter(pa.array(((stamps >= lo) & (stamps < hi)).to_numpy()))
                store.append_datapoints(iter(chunk.to_batches()))
                _events_as_known_at(connection, hi)
                started = time.perf_counter()
                _, new = agent.update(store, end=hi.to_pydatetime())
                seconds.append(time.perf_counter() - started)
                points.append(chunk.num_rows)
                handed += [item for item in new if isinstance(item, Finding)]
                print(
                    f"update to {hi}: {chunk.num_rows} points, {seconds[-1]:.2f} s, "
                    f"{len(new)} new items",
                    file=sys.stderr,
                )
                lo = hi
            started = time.perf_counter()
            replay = MaintenanceAgent().scan(store)
            replay_seconds = time.perf_counter() - started
    expected = sorted(
        _key(f) for f in replay.findings if f.created_at and pd.Timestamp(f.created_at) > cut
    )
    streamed = sorted(_key(f) for f in handed)
    result = {
        "first_run_seconds": round(first_run, 2),
        "update_seconds_median": round(statistics.median(seconds), 2),
        "update_seconds_max": round(max(seconds), 2),
        "replay_seconds": round(replay_seconds, 2),
        "chunks": len(seconds),
        "points_per_chunk": int(statistics.median(points)),
        "streamed_findings": len(streamed),
        "replay_findings": len(expected),
        "findings_equal": streamed == expected,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
