"""Ingestion and time-range query speed against the raw database in the same run.

Generates N datapoints over S series at 1 s resolution (per tag, in time order, as a historian
export is), writes them as Parquet and CSV, then measures:

* raw DuckDB: ``INSERT INTO t SELECT * FROM read_parquet(...)`` / ``read_csv(...)``; with
  ``--store postgresql://...``, raw PostgreSQL: ``COPY t FROM STDIN`` of the same rows (the CSV
  file as it is; the Parquet file read by Arrow and streamed as CSV) into an equivalent table
  (tag, ts, value, indexed by tag and time as factorybrain's datapoints are by series and time);
* factorybrain: ``ingest`` of the same files through a mapping (validation, series lookup,
  quarantine, deduplication checks, report), each in its own process so its peak memory is its own;
* a one-day window of one series and its 1-minute downsample (median of repeated queries).

With ``--store``, each measurement gets a new database on that server, dropped afterwards.
Prints one JSON object on its last line.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

START = datetime(2024, 1, 1)

MAPPING = """\
entity: datapoint
space: historian
fields:
  series: tag
  ts: ts
  value: value
"""


GENERATE = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import ingest
ingest.generate_here(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
"""

RAW = """
import json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import ingest
print(json.dumps({"seconds": ingest.raw_insert_here(Path(sys.argv[2]), Path(sys.argv[3]),
                                                    sys.argv[4])}))
"""


def child(code: str, *args: object) -> dict:
    """Run heavy work in its own process, so each phase's peak memory is its own."""
    result = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)], check=True, capture_output=True, text=True
    )
    lines = [line for line in result.stdout.strip().splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {}


def generate(directory: Path, points: int, series: int) -> tuple[Path, Path]:
    child(GENERATE, Path(__file__).parent, directory, points, series)
    return directory / "points.parquet", directory / "points.csv"


def raw_insert(directory: Path, source: Path, reader: str) -> float:
    return child(RAW, Path(__file__).parent, directory, source, reader)["seconds"]


def generate_here(directory: Path, points: int, series: int) -> None:
    per_series = points // series
    parquet, csv = directory / "points.parquet", directory / "points.csv"
    con = duckdb.connect()
    con.execute(
        f"""
        COPY (
            SELECT 'L' || (s % 10)::VARCHAR || '_M' || lpad(s::VARCHAR, 4, '0') || '.VIB' AS tag,
                   TIMESTAMP '{START:%Y-%m-%d %H:%M:%S}' + to_seconds(i) AS ts,
                   round(sin(i / 600.0) + s * 0.01 + random() * 0.1, 4) AS value
            FROM range({series}) a(s), range({per_series}) b(i)
            ORDER BY s, i
        ) TO '{parquet}' (FORMAT parquet, ROW_GROUP_SIZE 1000000)
        """
    )
    con.execute(f"COPY (SELECT * FROM '{parquet}') TO '{csv}' (HEADER)")
    con.close()


def raw_insert_here(directory: Path, source: Path, reader: str) -> float:
    database = directory / f"raw_{reader}.duckdb"
    con = duckdb.connect(str(database))
    con.execute("CREATE TABLE t (tag VARCHAR, ts TIMESTAMP, value DOUBLE)")
    started = time.perf_counter()
    con.execute(f"INSERT INTO t SELECT * FROM {reader}('{source}')")
    seconds = time.perf_counter() - started
    con.close()
    database.unlink()
    return seconds


RAW_POSTGRES = """
import json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import ingest
print(json.dumps({"seconds": ingest.raw_copy_here(sys.argv[2], Path(sys.argv[3]))}))
"""


def raw_copy_here(url: str, source: Path) -> float:
    """Seconds to COPY the rows of ``source`` into an equivalent PostgreSQL table."""
    import io

    import psycopg
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    with psycopg.connect(url, autocommit=True) as con:
        con.execute("CREATE TABLE t (tag TEXT, ts TIMESTAMP, value DOUBLE PRECISION)")
        con.execute("CREATE INDEX t_tag_ts ON t (tag, ts)")
        started = time.perf_counter()
        with con.cursor() as cursor, cursor.copy("COPY t FROM STDIN (FORMAT CSV)") as copy:
            if source.suffix == ".csv":
                with source.open("rb") as handle:
                    handle.readline()  # the header
                    while chunk := handle.read(1 << 20):
                        copy.write(chunk)
            else:
                options = pa_csv.WriteOptions(include_header=False)
                for batch in pq.ParquetFile(source).iter_batches(batch_size=200_000):
                    buffer = io.BytesIO()
                    pa_csv.write_csv(batch, buffer, options)
                    copy.write(buffer.getbuffer())
        return time.perf_counter() - started


class Databases:
    """New databases on the server of ``url`` (``--store``), dropped when done."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.made: list[str] = []

    def new(self, label: str) -> str:
        import uuid
        from urllib.parse import urlsplit, urlunsplit

        import psycopg

        name = f"fb_bench_{label}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(self.url, autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        self.made.append(name)
        parts = urlsplit(self.url)
        return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))

    def drop(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as admin:
            for name in self.made:
                admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


CHILD = """
import json, resource, sys, time
from factorybrain.connectors import ingest
from factorybrain.store import open_store
store = open_store(sys.argv[1], migrate=True)
started = time.perf_counter()
report = ingest(store, sys.argv[2], sys.argv[3])
seconds = time.perf_counter() - started
store.close()
print(json.dumps({"seconds": seconds, "rows": report.rows_read, "inserted": report.inserted,
                  "quarantined": report.quarantined,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def factorybrain_ingest(database: str | Path, source: Path, mapping: Path) -> dict[str, float]:
    return child(CHILD, database, source, mapping)


def median_ms(function, repeats: int) -> float:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=50_000_000)
    parser.add_argument("--series", type=int, default=1_000)
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--workdir", type=Path, default=None, help="Where to write the data.")
    parser.add_argument(
        "--store",
        default=None,
        help="A PostgreSQL server (postgresql://user@host/db) to measure instead of DuckDB: "
        "each run gets a new database there.",
    )
    args = parser.parse_args()
    databases = Databases(args.store) if args.store else None
    try:
        result = run(args, databases)
    finally:
        if databases is not None:
            databases.drop()
    print(json.dumps(result))


def run(args: argparse.Namespace, databases: Databases | None) -> dict[str, object]:
    """Measure everything; return the figures."""
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        directory = Path(tmp)
        print(f"generating {args.points:,} points over {args.series:,} series", file=sys.stderr)
        parquet, csv = generate(directory, args.points, args.series)
        mapping = directory / "historian.yaml"
        mapping.write_text(MAPPING)

        here = Path(__file__).parent
        if databases is None:
            raw_parquet = raw_insert(directory, parquet, "read_parquet")
            raw_csv = raw_insert(directory, csv, "read_csv")
            parquet_store: str | Path = directory / "fb_parquet.duckdb"
            csv_store: str | Path = directory / "fb_csv.duckdb"
        else:
            raw_parquet = child(RAW_POSTGRES, here, databases.new("raw"), parquet)["seconds"]
            raw_csv = child(RAW_POSTGRES, here, databases.new("raw"), csv)["seconds"]
            parquet_store, csv_store = databases.new("parquet"), databases.new("csv")
        print(f"raw: parquet {raw_parquet:.1f} s, csv {raw_csv:.1f} s", file=sys.stderr)

        fb_parquet = factorybrain_ingest(parquet_store, parquet, mapping)
        print(f"factorybrain parquet: {fb_parquet}", file=sys.stderr)
        fb_csv = factorybrain_ingest(csv_store, csv, mapping)
        print(f"factorybrain csv: {fb_csv}", file=sys.stderr)
        if isinstance(csv_store, Path):
            csv_store.unlink()

        from factorybrain.store import open_store

        store = open_store(parquet_store, read_only=True)
        tags = store.query("SELECT external_id FROM time_series")["external_id"].tolist()
        rng = random.Random(7)
        per_series = args.points // args.series
        window = timedelta(days=1)

        def window_start() -> datetime:
            offset = rng.randrange(0, max(1, per_series - 86_400))
            return START + timedelta(seconds=offset)

        def range_query() -> None:
            start = window_start()
            frame = store.datapoints(rng.choice(tags), start, start + window)
            assert len(frame) > 0

        def downsample_query() -> None:
            start = window_start()
            frame = store.downsample(rng.choice(tags), start, start + window, timedelta(minutes=1))
            assert len(frame) > 0

        range_query()  # warm the cache once, as a running service would be
        range_ms = median_ms(range_query, args.repeats)
        downsample_ms = median_ms(downsample_query, args.repeats)
        latest_ms = median_ms(lambda: store.latest([rng.choice(tags)]), args.repeats)
        store.close()

    points = args.points - args.points % args.series
    return {
        "store": "postgresql" if databases is not None else "duckdb",
        "points": points,
        "series": args.series,
        "parquet_points_per_s": round(points / fb_parquet["seconds"]),
        "parquet_raw_points_per_s": round(points / raw_parquet),
        "csv_points_per_s": round(points / fb_csv["seconds"]),
        "csv_raw_points_per_s": round(points / raw_csv),
        "parquet_ratio": round(raw_parquet / fb_parquet["seconds"], 3),
        "csv_ratio": round(raw_csv / fb_csv["seconds"], 3),
        "range_query_ms_p50": round(range_ms, 2),
        "downsample_ms_p50": round(downsample_ms, 2),
        "latest_ms_p50": round(latest_ms, 2),
        "peak_rss_mb": round(max(fb_parquet["rss_mb"], fb_csv["rss_mb"]), 1),
        "benchmark_process_rss_mb": round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
        ),
    }


if __name__ == "__main__":
    main()
