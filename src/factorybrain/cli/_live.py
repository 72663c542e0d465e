"""Live data: ``factorybrain listen`` loads what a broker's topics carry, as it arrives."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from factorybrain.cli._common import (
    DbOption,
    choices_metavar,
    console,
    friendly_errors,
    one_of,
    open_db,
    orchestrator_for,
)

if TYPE_CHECKING:
    from factorybrain.agents import Orchestrator
    from factorybrain.connectors import IngestReport, StreamListener, StreamReport

app = typer.Typer()


class _AgentPacer:
    """Runs the agents that watch new data at most every ``every`` seconds while data arrives.

    An agent run reads every device (about 2 s on the demo plant), so running after every
    one-second batch would keep it busy all the time; new data waits at most ``every`` seconds.
    """

    def __init__(self, orchestrator: Orchestrator, every: float) -> None:
        self.orchestrator = orchestrator
        self.every = every
        self.pending = False
        self.last = float("-inf")

    def batch(self, report: IngestReport) -> None:
        """After a loaded batch: run the agents if data came and the interval has passed."""
        self.pending |= bool(report.inserted or report.updated)
        if self.pending and time.monotonic() - self.last >= self.every:
            self.run()

    def finish(self) -> None:
        """At the end: one more run if data came since the last."""
        if self.pending:
            self.run()

    def run(self) -> None:
        """Run the agents that watch datapoints now."""
        ran = self.orchestrator.run_on_new_data(["datapoint"])
        self.pending, self.last = False, time.monotonic()
        if ran.findings or ran.errors:
            console.print(
                f"  agents: {len(ran.findings)} new findings, {len(ran.actions)} actions proposed"
                + (f", {len(ran.errors)} errors" if ran.errors else ""),
                highlight=False,
            )


@app.command()
@friendly_errors
def listen(
    mapping: Annotated[
        Path,
        typer.Argument(
            help="Mapping file for the messages (JSON lines).", exists=True, dir_okay=False
        ),
    ],
    source: Annotated[
        str,
        typer.Option(
            "--source",
            "--broker",
            help="MQTT broker mqtt://[user:password@]host[:port] (mqtts:// for TLS), or OPC UA "
            "server opc.tcp://host:port[/path].",
            envvar="FACTORYBRAIN_STREAM_URL",
        ),
    ] = "mqtt://127.0.0.1:1883",
    topic: Annotated[
        list[str],
        typer.Option(
            "--topic",
            "-t",
            metavar="FILTER",
            help="MQTT topic filter; repeat for several (default #).",
        ),
    ] = [],  # noqa: B006 (Typer reads the default, it is never mutated)
    node: Annotated[
        list[str],
        typer.Option(
            "--node", "-n", metavar="NODE", help="OPC UA variable node id; repeat for several."
        ),
    ] = [],  # noqa: B006
    browse: Annotated[
        list[str],
        typer.Option(
            metavar="NODE",
            help="OPC UA object or folder node id: every variable below it; repeat for several.",
        ),
    ] = [],  # noqa: B006
    db: DbOption = None,
    spool: Annotated[
        Path | None,
        typer.Option(help="Spool folder for messages not yet loaded (default: beside the store)."),
    ] = None,
    client_id: Annotated[
        str | None,
        typer.Option(help="MQTT: a fixed client id keeps a persistent session."),
    ] = None,
    mqtt_version: Annotated[
        int,
        typer.Option(
            callback=one_of("5", "3"),
            metavar=choices_metavar("5", "3"),
            help="MQTT protocol: 5, or 3 for brokers that speak 3.1.1 only.",
        ),
    ] = 5,
    flush_seconds: Annotated[float, typer.Option(help="Load a batch this often.", min=0.05)] = 1.0,
    seconds: Annotated[
        float | None,
        typer.Option(help="Stop after this many seconds (default: Ctrl+C).", min=0),
    ] = None,
    max_messages: Annotated[
        int | None, typer.Option(help="Stop after this many messages.", min=1)
    ] = None,
    agents: Annotated[
        bool,
        typer.Option(
            "--agents",
            help="Run the agents that watch new data (maintenance...) as data arrives.",
        ),
    ] = False,
    agents_every: Annotated[
        float,
        typer.Option(
            help="With --agents: run them at most this often, in seconds (0: after every batch); "
            "once more at the end if data came since.",
            min=0,
        ),
    ] = 60.0,
) -> None:
    """Load live data as it arrives: MQTT topics (a Unified Namespace) or OPC UA variables.

    Each MQTT message is a row with `topic`, `received_at`, `payload`, the keys of a JSON object
    payload, or `value` for a bare number; each OPC UA change a row with `node`, `path`, `value`,
    `status` and `source_timestamp`. The mapping turns rows into datapoints (or any entity).
    Messages are spooled to disk before they are acknowledged and loaded every `--flush-seconds`
    in one transaction; bad ones are quarantined with their reason, and a spool left by a crash
    is loaded at the next start.

    Example: `factorybrain listen uns.yaml --source mqtt://localhost:1883 -t 'acme/+/+/#' --agents`
    """
    from factorybrain.connectors import MqttListener, OpcUaListener
    from factorybrain.exceptions import IngestError
    from factorybrain.store import default_db_path

    with open_db(db) as store:
        pacer = None
        if agents:
            pacer = _AgentPacer(orchestrator_for(store, with_agents=True), agents_every)
        on_batch = pacer.batch if pacer else None

        folder = spool or Path(f"{db or default_db_path()}.spool")
        listener: StreamListener
        if source.startswith("opc.tcp://"):
            if topic or client_id:
                raise IngestError("--topic and --client-id are for MQTT brokers")
            listener = OpcUaListener(
                store,
                mapping,
                server=source,
                nodes=node,
                browse=browse,
                spool=folder,
                flush_seconds=flush_seconds,
                on_batch=on_batch,
            )
        else:
            if node or browse:
                raise IngestError("--node and --browse are for OPC UA servers (opc.tcp://...)")
            listener = MqttListener(
                store,
                mapping,
                broker=source,
                topics=topic or ["#"],
                spool=folder,
                client_id=client_id,
                mqtt_version=mqtt_version,
                flush_seconds=flush_seconds,
                on_batch=on_batch,
            )
        where, what = listener.describe()
        console.print(
            f"listening on {where} to {', '.join(what)} (Ctrl+C to stop)", highlight=False
        )

        def progress(report: StreamReport) -> None:
            console.print(
                f"  batch {report.batches}: {report.messages:,} messages, "
                f"{report.inserted:,} inserted, {report.quarantined:,} quarantined",
                highlight=False,
            )

        report = listener.run(seconds=seconds, max_messages=max_messages, progress=progress)
        if pacer:
            pacer.finish()
    console.print(
        f"[bold]listened[/bold] {report.seconds:.1f} s: {report.messages:,} messages in "
        f"{report.batches} batches, {report.inserted:,} inserted, {report.updated:,} updated, "
        f"{report.unchanged:,} unchanged, {report.quarantined:,} quarantined"
        + (f", {report.recovered_files} spool files recovered" if report.recovered_files else ""),
        highlight=False,
    )
    for failed in report.failed_files:
        console.print(f"  [red]could not load[/red] {failed} (kept)", highlight=False)
    if report.waiting_files:
        console.print(
            f"  [yellow]{report.waiting_files} batch(es) wait in the spool[/yellow]: the database "
            "stopped answering; they are loaded when the listener next runs",
            highlight=False,
        )
