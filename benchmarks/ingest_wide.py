"""Wide historian table ingestion (one column per tag) against DuckDB's own UNPIVOT in the same run.

Writes a wide historian CSV (``ts`` and ``--tags`` tag columns named ``L<line>_M<nnn>.VIB_RMS
[mm/s]``, ``--rows`` lines at 1-minute steps, about 1 % empty cells, deterministic for a
``--seed``) into a temporary folder, or takes the file given with ``--data`` (its first column is
the timestamp, every other column a tag), then measures, each in its own process:

* raw DuckDB: ``CREATE TABLE raw AS UNPIVOT (SELECT * FROM read_csv(...)) ON COLUMNS(* EXCLUDE
  ts) INTO NAME series VALUE value`` with the timestamp read as TIMESTAMP and the tags as DOUBLE,
  once before and once after factorybrain's load (their mean is the reference: on a shared
  machine the load drifts);
* factorybrain: ``ingest`` of the same file into a fresh store through one mapping whose
  ``unpivot`` parses each column name into its series, asset and unit (validation, empty cells
  counted per column, series creation and description, order checks for idempotency, report).

Prints progress on stderr and one JSON object on its last line.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb

PATTERN = r"^(?P<asset>L[0-9]+_M[0-9]+)\.(?P<signal>[A-Z_]+) \[(?P<unit>[^\]]+)\]$"
MAPPING = f"""\
entity: datapoint
space: historian
unpivot:
  columns: '{PATTERN}'
  series: '{{asset}}.{{signal}}'
fields:
  ts: ts
"""


def child(code: str, *args: object) -> dict:
    """Run heavy work in its own process, so each phase's time and memory are its own."""
    result = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)], check=True, capture_output=True, text=True
    )
    lines = [line for line in result.stdout.strip().splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {}


GENERATE = """
import json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import ingest_wide
empty = ingest_wide.generate_here(Path(sys.argv[2]), *map(int, sys.argv[3:]))
print(json.dumps({"empty_cells": empty}))
"""


def generate_here(path: Path, rows: int, tags: int, seed: int) -> int:
    """Write the wide CSV; return how many of its cells are empty."""
    columns = ", ".join(
        f"CASE WHEN hash(i, {t}, {seed}) % 100 = 0 THEN NULL "
        f"ELSE round(sin(i / 600.0 + {t}) * 5 + {t % 17} + (hash(i, {t}, {seed}) % 1000) / 1e4, 3)"
        f' END AS "L{t % 10 + 1}_M{t:03d}.VIB_RMS [mm/s]"'
        for t in range(tags)
    )
    con = duckdb.connect()
    con.execute(
        f"""
        COPY (SELECT TIMESTAMP '2024-01-01' + to_minutes(i) AS ts, {columns}
              FROM range({rows}) r(i) ORDER BY i)
        TO '{path}' (HEADER)
        """
    )
    empty = con.execute(
        "SELECT sum("
        + " + ".join(f"(hash(i, {t}, {seed}) % 100 = 0)::INT" for t in range(tags))
        + f") FROM range({rows}) r(i)"
    ).fetchall()[0][0]
    con.close()
    return int(empty or 0)


RAW = """
import duckdb, json, sys, time
source, database = sys.argv[1], sys.argv[2]
con = duckdb.connect(database)
columns = con.sql(f"SELECT * FROM read_csv('{source}')").columns
timestamp = columns[0]
types = {c: 'DOUBLE' for c in columns[1:]}
types[timestamp] = 'TIMESTAMP'
typed = "{" + ", ".join(f"'{c}': '{t}'" for c, t in types.items()) + "}"
started, cpu = time.perf_counter(), time.process_time()
con.execute(
    f"CREATE TABLE raw AS UNPIVOT (SELECT * FROM read_csv('{source}', types = {typed})) "
    f'ON COLUMNS(* EXCLUDE "{timestamp}") INTO NAME series VALUE value'
)
seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
points = con.execute("SELECT count(*) FROM raw").fetchall()[0][0]
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "points": points}))
"""

INGEST = """
import json, resource, sys, time
from factorybrain.connectors import ingest
from factorybrain.store import open_store
store = open_store(sys.argv[1], migrate=True)
started, cpu = time.perf_counter(), time.process_time()
report = ingest(store, sys.argv[2], sys.argv[3])
seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
again = time.perf_counter()
second = ingest(store, sys.argv[2], sys.argv[3]) if sys.argv[4] == "reload" else report
again = time.perf_counter() - again
series = store.query("SELECT count(*) AS n FROM time_series")["n"][0]
store.close()
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "rows_read": report.rows_read,
                  "records_read": report.records_read, "inserted": report.inserted,
                  "filtered": report.filtered, "quarantined": report.quarantined,
                  "series": int(series), "reload_seconds": again,
                  "reload_unchanged": second.unchanged,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def raw_unpivot(source: Path, directory: Path) -> dict:
    """DuckDB's own UNPIVOT of the file into a fresh database, in its own process."""
    database = directory / "raw.duckdb"
    measured = child(RAW, source, database)
    database.unlink()
    print(f"raw DuckDB UNPIVOT: {measured}", file=sys.stderr)
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tags", type=int, default=200, help="tag columns")
    parser.add_argument("--rows", type=int, default=1_000_000, help="lines (1-minute steps)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--data", type=Path, default=None, help="a wide CSV to load instead of a generated one"
    )
    parser.add_argument("--workdir", type=Path, default=None, help="where to write the data")
    parser.add_argument(
        "--reload", action="store_true", help="also time loading the same file again"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        directory = Path(tmp)
        mapping = directory / "wide.yaml"
        empty_cells = None
        if args.data is None:
            source = directory / "wide.csv"
            print(f"writing {args.rows:,} lines x {args.tags} tags", file=sys.stderr)
            made = child(GENERATE, Path(__file__).parent, source, args.rows, args.tags, args.seed)
            empty_cells = made["empty_cells"]
            mapping.write_text(MAPPING)
        else:
            source = args.data.resolve()
            con = duckdb.connect()
            columns = con.sql(f"SELECT * FROM read_csv('{source}')").columns
            con.close()
            names = "".join(f"\n    - {json.dumps(c)}" for c in columns[1:])
            mapping.write_text(
                f"entity: datapoint\nspace: historian\nunpivot:\n  columns:{names}\n"
                f"fields:\n  ts: {json.dumps(columns[0])}\n"
            )
        print(f"{source} ({source.stat().st_size / 1e6:,.0f} MB)", file=sys.stderr)

        # DuckDB's UNPIVOT before and after factorybrain's load: on a shared machine the load
        # average drifts, and the mean of the two brackets the load in between.
        before = raw_unpivot(source, directory)
        again = "reload" if args.reload else "once"
        loaded = child(INGEST, directory / "store.duckdb", source, mapping, again)
        print(f"factorybrain: {loaded}", file=sys.stderr)
        after = raw_unpivot(source, directory)

    points = loaded["inserted"]
    raw_seconds = (before["seconds"] + after["seconds"]) / 2
    raw_cpu = (before["cpu_seconds"] + after["cpu_seconds"]) / 2
    result = {
        "points": points,
        "points_per_s": round(points / loaded["seconds"]),
        "raw_points_per_s": round(before["points"] / raw_seconds),
        "ratio": round((points / loaded["seconds"]) / (before["points"] / raw_seconds), 3),
        "seconds": round(loaded["seconds"], 2),
        "raw_seconds": round(raw_seconds, 2),
        "raw_seconds_before_after": [round(before["seconds"], 2), round(after["seconds"], 2)],
        "cpu_seconds": round(loaded["cpu_seconds"], 2),
        "raw_cpu_seconds": round(raw_cpu, 2),
        "tags": loaded["rows_read"] // max(loaded["records_read"], 1),
        "rows": loaded["records_read"],
        "empty_cells": loaded["filtered"] if empty_cells is None else empty_cells,
        "quarantined": loaded["quarantined"],
        "series": loaded["series"],
        "peak_rss_mb": round(loaded["rss_mb"], 1),
    }
    if args.reload:
        result["reload_seconds"] = round(loaded["reload_seconds"], 2)
        result["reload_unchanged"] = loaded["reload_unchanged"]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
