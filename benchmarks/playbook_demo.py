"""The flagship playbook on the demo factory, from new sensor data to an executed action.

Protocol: simulate the demo plant (or take `--plant DIR`) and load every silo. Pick a planted
failure that the history can show (the first one at least `--warm-up-days` into the horizon),
and wind the plant back to `--lead-hours` before it: historian points, machine states and
operations after that moment are removed, as if it were now. Then the timed part:

1. the last `--window-hours` of sensor data arrive as a new historian export and are ingested;
   with `--mqtt URL` they arrive instead as live messages through that MQTT broker (one per tag
   and sample, topic `<prefix>/historian/<tag>`, published from another process as fast as the
   broker takes them), and `factorybrain listen`'s engine loads them every second, each batch
   followed by a run of the agents that watch new data (an embedded broker when none listens);
2. the orchestrator runs the agents that watch new datapoints (maintenance), and the findings
   route through the playbooks (planning, then logistics) into one action for the planner;
3. a planner approves it and it executes (the maintenance order, the re-plan and the spare-part
   order are written).

`matches_truth` is true when the executed action maintains the machine that truly fails, with a
maintenance window that starts before the failure. Prints one JSON object on its last line with
keys `seconds`, `executed`, `matches_truth`.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from _mqtt import broker_or_embedded, deliver  # noqa: E402 (this folder)
from factorybrain.agents import Orchestrator, RunReport, installed_agents
from factorybrain.connectors import IngestReport, MqttListener, ingest, load_mapping, load_plant
from factorybrain.demo import DEMO_MANIFEST, build_plant
from factorybrain.store import open_store

HISTORIAN = DEMO_MANIFEST.parent / "mappings" / "historian_points.yaml"


def parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(UTC)


def choose_failure(truth: dict, warm_up: timedelta, lead: timedelta) -> dict:
    start = parse(truth["plant"]["start"])
    for failure in sorted(truth["failures"], key=lambda f: f["time"]):
        onset = parse(failure.get("degradation_start") or failure["time"])
        cut = parse(failure["time"]) - lead
        if parse(failure["time"]) - start >= warm_up and onset < cut:
            return failure
    raise SystemExit("no planted failure fits the protocol: simulate more days")


def names_of(truth: dict, canonical: str) -> set[str]:
    entity = next(e for e in truth["entities"] if e["id"] == canonical)
    return {name for names in entity["refs"].values() for name in names}


def wind_back(store: object, now: datetime, keep_until: datetime) -> None:
    """Make the store look as it did at ``now``, with sensor data only up to ``keep_until``."""
    naive_now, naive_keep = now.replace(tzinfo=None), keep_until.replace(tzinfo=None)
    con = store.connection  # type: ignore[attr-defined]
    con.execute("DELETE FROM datapoint WHERE ts > ?", [naive_keep]).fetchall()
    con.execute("DELETE FROM event WHERE start_time > ?", [naive_now]).fetchall()
    con.execute("UPDATE event SET end_time = NULL WHERE end_time > ?", [naive_now]).fetchall()
    con.execute("DELETE FROM operation WHERE start_time > ?", [naive_now]).fetchall()
    for table in ("finding", "recommendation", "action", "audit_entry"):
        con.execute(f"DELETE FROM {table}").fetchall()
    ids = [r[0] for r in con.execute("SELECT series_id FROM series_extent").fetchall()]
    con.execute("DELETE FROM series_extent").fetchall()
    store.refresh_extents(ids)  # type: ignore[attr-defined]


MQTT_MAPPING = """\
entity: datapoint
space: historian
duplicates: merge
fields:
  series: topic.last
  ts: {column: timestamp, format: epoch_ms}
  value: value
"""


def stream(
    url: str, points: Path, store: object, orchestrator: Orchestrator, now: datetime, folder: Path
) -> tuple[int, RunReport]:
    """Deliver ``points`` through an MQTT broker; agents run after every loaded batch."""
    broker, version, stop_broker = broker_or_embedded(url, lambda m: print(m, file=sys.stderr))
    prefix = f"playbook{uuid.uuid4().hex[:6]}"
    rows = duckdb.sql(f"SELECT tag, epoch_ms(ts), value FROM read_parquet('{points}') ORDER BY ts")
    messages = [
        (f"{prefix}/historian/{tag}", json.dumps({"value": value, "timestamp": stamp}))
        for tag, stamp, value in rows.fetchall()
    ]
    (folder / "mqtt.yaml").write_text(MQTT_MAPPING)
    run = RunReport()
    inserted = 0

    def on_batch(report: IngestReport) -> None:
        nonlocal inserted
        inserted += report.inserted
        run.merge(orchestrator.run_on_new_data({"datapoint"}, at=now))

    listener = MqttListener(
        store,  # type: ignore[arg-type]
        folder / "mqtt.yaml",
        broker=broker,
        topics=[f"{prefix}/historian/#"],
        spool=folder / "spool",
        mqtt_version=version,
        on_batch=on_batch,
    )
    deliver(listener, broker, messages)
    stop_broker()
    return inserted, run


@dataclass
class Situation:
    """The demo plant wound back to ``lead_hours`` before a planted failure, new data waiting."""

    plant: Path
    store_path: Path
    store: Any
    orchestrator: Orchestrator
    truth: dict
    failure: dict
    failure_time: datetime
    now: datetime
    new_data: Path

    @classmethod
    def build(cls, folder: Path, args: argparse.Namespace) -> Situation:
        """Simulate (or take ``args.plant``), load, pick the failure and wind back to ``now``.

        ``args`` holds ``plant``, ``seed``, ``days``, ``machines``, ``lead_hours``,
        ``window_hours`` and ``warm_up_days`` (this script's options).
        """
        if args.plant is None:
            print("simulating and loading the demo plant", file=sys.stderr)
            plant, store_path = build_plant(
                folder, days=args.days, machines=args.machines, seed=args.seed
            )
        else:
            plant, store_path = args.plant, folder / "plant.duckdb"
            with open_store(store_path, migrate=True) as loading:
                print("loading every silo", file=sys.stderr)
                load_plant(loading, DEMO_MANIFEST, root=plant)
        truth = json.loads((plant / "truth.json").read_text())
        lead = timedelta(hours=args.lead_hours)
        failure = choose_failure(truth, timedelta(days=args.warm_up_days), lead)
        failure_time = parse(failure["time"])
        now = failure_time - lead
        window_start = now - timedelta(hours=args.window_hours)

        store = open_store(store_path)
        wind_back(store, now, window_start)
        new_data = folder / "new_points.parquet"
        source = plant / "historian" / "history.parquet"
        duckdb.sql(
            f"COPY (SELECT * FROM read_parquet('{source}') WHERE ts > TIMESTAMPTZ "
            f"'{window_start.isoformat()}' AND ts <= TIMESTAMPTZ '{now.isoformat()}') "
            f"TO '{new_data}' (FORMAT parquet)"
        )
        orchestrator = Orchestrator(store, installed_agents(), clock=lambda: now)
        return cls(
            plant, store_path, store, orchestrator, truth, failure, failure_time, now, new_data
        )


def action_for(orchestrator: Orchestrator, proposed: list, machine_names: set[str]) -> Any:
    """The proposed action (a composite first) that maintains one of ``machine_names``."""
    composite = [a for a in proposed if a.action_type == "composite"] or proposed
    for action in composite:
        recommendation = orchestrator.records.recommendation(action.recommendation_id)
        steps = [(s.action_type, dict(s.parameters)) for s in recommendation.steps] or [
            (recommendation.action_type, dict(recommendation.parameters))
        ]
        assets = {p.get("asset") for kind, p in steps if kind == "maintenance_order.create"}
        if assets & machine_names:
            return action
    return None


def add_plant_options(parser: argparse.ArgumentParser) -> None:
    """The options :meth:`Situation.build` reads."""
    parser.add_argument("--plant", type=Path, help="Exports of a simulated plant (with truth).")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--machines", type=int, default=12)
    parser.add_argument("--lead-hours", type=float, default=48.0)
    parser.add_argument("--window-hours", type=float, default=6.0)
    parser.add_argument("--warm-up-days", type=float, default=14.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_plant_options(parser)
    parser.add_argument(
        "--mqtt", metavar="URL", help="deliver the new data through this MQTT broker (live)"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        case = Situation.build(folder, args)
        store, orchestrator, now, failure = case.store, case.orchestrator, case.now, case.failure
        truth, failure_time, new_data = case.truth, case.failure_time, case.new_data

        print(
            f"new sensor data up to {now:%Y-%m-%d %H:%M}; failure at "
            f"{failure_time:%Y-%m-%d %H:%M} on {failure['machine']}",
            file=sys.stderr,
        )
        started = time.perf_counter()
        if args.mqtt:
            new_points, run = stream(args.mqtt, new_data, store, orchestrator, now, folder)
        else:
            new_points = ingest(store, new_data, load_mapping(HISTORIAN)).inserted
            run = orchestrator.run_on_new_data({"datapoint"}, at=now)
        proposed = [orchestrator.records.action(a) for a in run.actions]
        executed = None
        action = action_for(orchestrator, proposed, names_of(truth, failure["machine"]))
        if action is not None:
            executed = orchestrator.approve(
                action.id,
                actor="benchmark-planner",
                role="planner",
                comment="approved by the playbook benchmark",
                at=now,
            )
        seconds = time.perf_counter() - started

        matches = False
        window = None
        if executed is not None and executed.state == "executed":
            orders = store.query(
                "SELECT asset, planned_start FROM maintenance_order WHERE status = 'planned' "
                "AND planned_start IS NOT NULL ORDER BY planned_start"
            )
            machine_names = names_of(truth, failure["machine"])
            for asset, start in zip(orders["asset"], orders["planned_start"], strict=True):
                if (
                    asset in machine_names
                    and start.to_pydatetime().replace(tzinfo=UTC) < failure_time
                ):
                    matches, window = True, start.isoformat()
                    break
        store.close()

    print(
        json.dumps(
            {
                "seconds": round(seconds, 2),
                "executed": bool(executed is not None and executed.state == "executed"),
                "matches_truth": matches,
                "machine": failure["machine"],
                "failure_time": failure["time"],
                "now": now.isoformat(),
                "maintenance_window_start": window,
                "new_points": new_points,
                "delivery": "mqtt" if args.mqtt else "file",
                "actions_proposed": len(proposed),
                "composite_actions": sum(a.action_type == "composite" for a in proposed),
                "findings": len(run.findings),
                "agents_run": run.agents_run,
                "errors": run.errors,
            }
        )
    )


if __name__ == "__main__":
    main()
