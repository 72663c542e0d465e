"""``/metrics``: what a server does, in the Prometheus text format, for a plant's monitoring.

Each app has a registry of its own (:class:`Metrics`, on ``app.state.metrics``), so two apps in
one process (tests, a demo beside a server) never mix their figures. Per request the cost is two
clock readings and a few integer additions in the event loop's thread
(:class:`RequestMetrics`, a plain ASGI middleware); everything else is read from the store when
Prometheus scrapes, at most every few seconds.

What it exposes:

- ``factorybrain_http_requests_total{method, route, status}`` and
  ``factorybrain_http_request_duration_seconds{method, route, status}`` (a histogram), per route
  template (``/api/v1/findings/{finding_id}``, never the ids themselves; a path no route matches
  is ``unmatched``);
- ``factorybrain_http_requests_in_flight``;
- ``factorybrain_ingest_rows_total{outcome}``: rows of every ingest the store has a report of
  (inserted, updated, unchanged, merged, filtered, quarantined), whichever process loaded them;
- ``factorybrain_agent_run_duration_seconds{agents}`` and ``factorybrain_agent_runs_total{agents,
  outcome}``: the runs of the agents in this server (scheduled or asked for);
- ``factorybrain_findings{agent, status}``: the agents' findings in the store;
- ``factorybrain_queue_depth{queue}``: proposals waiting for approval, and any queue the process
  registers (:meth:`Metrics.watch_queue`);
- ``factorybrain_store_size_bytes``: the store file and its write-ahead log;
- ``factorybrain_info{version, schema_version}`` and ``factorybrain_uptime_seconds``.

Whether ``/metrics`` needs a token is a setting (:data:`METRICS_AUTH_ENV`): by default it needs
a valid API token of any role (``Authorization: Bearer``), as every route of the API but the
health check does; ``open`` serves it to anyone who reaches the port, for a scraper on the same
host or a network where the reverse proxy keeps ``/metrics`` inside.
"""

from __future__ import annotations

import bisect
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from factorybrain.api._cache import ReadCache
from factorybrain.exceptions import ParameterError

logger = logging.getLogger(__name__)
T = TypeVar("T")

#: The path of the metrics, at the root (where Prometheus looks by default), not under the API.
METRICS_PATH = "/metrics"
#: The environment variable that says whether ``/metrics`` needs a token: ``token`` or ``open``.
METRICS_AUTH_ENV = "FACTORYBRAIN_METRICS_AUTH"
#: The settings of :data:`METRICS_AUTH_ENV`.
METRICS_AUTH_CHOICES = ("token", "open")
#: Upper bounds of the request latency buckets, in seconds.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Upper bounds of the agent run buckets, in seconds.
AGENT_RUN_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: The route label of a request no route matched (kept apart so scans cannot add labels).
UNMATCHED = "unmatched"


class _Histogram:
    """Counts per bucket, their sum and count: the cheapest histogram to add to."""

    __slots__ = ("bounds", "count", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.count = 0
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.count += 1
        self.total += value

    def buckets(self) -> list[tuple[str, float]]:
        """Cumulative buckets as Prometheus writes them, ``+Inf`` last."""
        running = 0
        found: list[tuple[str, float]] = []
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            running += count
            found.append(("+Inf" if bound == float("inf") else repr(bound), running))
        return found


class Metrics(Collector):
    """The figures of one app, collected into a registry of its own.

    Args:
        store_path: The store file, for its size (None or ``:memory:``: no size).
        read: Called at each scrape with a function of a store and its agents' records; runs
            it over a reader and returns its result (the app passes its store access).
    """

    def __init__(
        self,
        store_path: str | None,
        read: Callable[[Callable[[Any, Any], dict[str, Any]]], dict[str, Any]] | None = None,
    ) -> None:
        self.store_path = store_path
        self.read = read
        self.started = time.monotonic()
        self.in_flight = 0
        self.requests: dict[tuple[str, str, str], _Histogram] = {}
        self.agent_runs: dict[str, _Histogram] = {}
        self.agent_outcomes: dict[tuple[str, str], int] = {}
        self.queues: dict[str, Callable[[], int]] = {}
        #: The app's cache of read answers, for its hits, misses and bytes (None: none).
        self.cache: ReadCache | None = None
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    # -- recording ---------------------------------------------------------------------------
    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request (called by :class:`RequestMetrics`)."""
        key = (method if method in _METHODS else "other", route, str(status))
        found = self.requests.get(key)
        if found is None:
            found = self.requests[key] = _Histogram(REQUEST_BUCKETS)
        found.observe(seconds)

    def observe_agent_run(self, agents: str, seconds: float, outcome: str) -> None:
        """Count one run of the agents: which ran (comma-separated), how long, ``ok`` or not."""
        found = self.agent_runs.get(agents)
        if found is None:
            found = self.agent_runs[agents] = _Histogram(AGENT_RUN_BUCKETS)
        found.observe(seconds)
        key = (agents, outcome)
        self.agent_outcomes[key] = self.agent_outcomes.get(key, 0) + 1

    def watch_queue(self, name: str, depth: Callable[[], int]) -> None:
        """Expose ``depth()`` as ``factorybrain_queue_depth{queue=name}`` at each scrape."""
        self.queues[name] = depth

    def timed_agent_runs(
        self, run_agents: Callable[..., Awaitable[Any]]
    ) -> Callable[..., Awaitable[Any]]:
        """``run_agents`` of the store access, timing each run and naming the agents it ran."""

        async def timed(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                report = await run_agents(*args, **kwargs)
            except Exception:
                self.observe_agent_run("unknown", time.perf_counter() - began, "failed")
                raise
            if report is not None:  # None: another run was going on, nothing ran
                ran = report.get("agents_run") if isinstance(report, dict) else None
                ran = ran if ran is not None else getattr(report, "agents_run", None)
                errors = report.get("errors") if isinstance(report, dict) else None
                errors = errors if errors is not None else getattr(report, "errors", None)
                names = ",".join(sorted(set(ran or []))) or "none"
                outcome = "errors" if errors else "ok"
                self.observe_agent_run(names, time.perf_counter() - began, outcome)
            return report

        return timed

    # -- collecting --------------------------------------------------------------------------
    def exposition(self) -> bytes:
        """Every figure, in the Prometheus text format."""
        return bytes(generate_latest(self.registry))

    def collect(self) -> Iterator[Metric]:
        """The figures now (called by the registry at each scrape)."""
        from factorybrain import __version__

        yield from self._requests()
        in_flight = GaugeMetricFamily(
            "factorybrain_http_requests_in_flight", "Requests being answered now."
        )
        in_flight.add_metric([], self.in_flight)
        yield in_flight
        yield from self._agent_runs()
        yield from self._cache()
        uptime = GaugeMetricFamily(
            "factorybrain_uptime_seconds", "Seconds since this server's app was built."
        )
        uptime.add_metric([], time.monotonic() - self.started)
        yield uptime
        size = GaugeMetricFamily(
            "factorybrain_store_size_bytes", "Bytes of the store file and its write-ahead log."
        )
        size.add_metric([], self._store_size())
        yield size
        stored = self._from_store()
        info = GaugeMetricFamily(
            "factorybrain_info",
            "The version of factorybrain and the store's schema (value 1).",
            labels=["version", "schema_version"],
        )
        info.add_metric([__version__, str(stored.get("schema_version", ""))], 1)
        yield info
        rows = CounterMetricFamily(
            "factorybrain_ingest_rows",
            "Rows of every ingest the store has a report of, by what became of them.",
            labels=["outcome"],
        )
        for outcome, count in stored.get("ingest_rows", {}).items():
            rows.add_metric([outcome], count)
        yield rows
        findings = GaugeMetricFamily(
            "factorybrain_findings",
            "The agents' findings in the store.",
            labels=["agent", "status"],
        )
        for (agent, status), count in stored.get("findings", {}).items():
            findings.add_metric([agent, status], count)
        yield findings
        queues = GaugeMetricFamily(
            "factorybrain_queue_depth", "Items waiting in a queue.", labels=["queue"]
        )
        if "proposals" in stored:
            queues.add_metric(["proposals_awaiting_approval"], stored["proposals"])
        for name, depth in sorted(self.queues.items()):
            with contextlib.suppress(Exception):  # a queue that cannot say is left out
                queues.add_metric([name], depth())
        yield queues

    def _cache(self) -> Iterator[Metric]:
        if self.cache is None:
            return
        answers = CounterMetricFamily(
            "factorybrain_read_cache_answers",
            "Read answers served from the cache (hit) or computed (miss).",
            labels=["outcome"],
        )
        answers.add_metric(["hit"], self.cache.hits)
        answers.add_metric(["miss"], self.cache.misses)
        yield answers
        kept = GaugeMetricFamily(
            "factorybrain_read_cache_bytes", "Bytes of read answers kept in the cache."
        )
        kept.add_metric([], self.cache.kept_bytes)
        yield kept

    def _requests(self) -> Iterator[Metric]:
        counts = CounterMetricFamily(
            "factorybrain_http_requests",
            "Requests answered, per method, route template and status.",
            labels=["method", "route", "status"],
        )
        latency = HistogramMetricFamily(
            "factorybrain_http_request_duration_seconds",
            "Seconds from a request's arrival to the end of its answer.",
            labels=["method", "route", "status"],
        )
        for labels, histogram in sorted(self.requests.items()):
            counts.add_metric(list(labels), histogram.count)
            latency.add_metric(list(labels), histogram.buckets(), histogram.total)
        yield counts
        yield latency

    def _agent_runs(self) -> Iterator[Metric]:
        runs = CounterMetricFamily(
            "factorybrain_agent_runs",
            "Runs of the agents in this server, by the agents that ran and the outcome.",
            labels=["agents", "outcome"],
        )
        for (agents, outcome), count in sorted(self.agent_outcomes.items()):
            runs.add_metric([agents, outcome], count)
        yield runs
        durations = HistogramMetricFamily(
            "factorybrain_agent_run_duration_seconds",
            "Seconds a run of the agents in this server took, by the agents that ran.",
            labels=["agents"],
        )
        for agents, histogram in sorted(self.agent_runs.items()):
            durations.add_metric([agents], histogram.buckets(), histogram.total)
        yield durations

    def _store_size(self) -> int:
        if not self.store_path or self.store_path == ":memory:":
            return 0
        total = 0
        for path in (Path(self.store_path), Path(f"{self.store_path}.wal")):
            with contextlib.suppress(OSError):
                total += path.stat().st_size
        return total

    def _from_store(self) -> dict[str, Any]:
        """The figures read from the store: schema, ingest rows, findings, proposals."""
        if self.read is None:
            return {}
        try:
            return self.read(_store_figures)
        except Exception:  # a scrape must answer; what failed is logged, its figures left out
            logger.exception("reading the store's figures for /metrics failed")
            return {}


#: The columns of ``ingest_report`` that count rows, by the outcome they name.
_INGEST_OUTCOMES = ("inserted", "updated", "unchanged", "merged", "filtered", "quarantined")


def _store_figures(store: Any, _records: Any) -> dict[str, Any]:
    """Schema version, ingest rows by outcome, findings by agent and status, open proposals.

    Read with the store's read-only queries, which leave its caches as they are.
    """
    sums = ", ".join(f"coalesce(sum({name}), 0) AS {name}" for name in _INGEST_OUTCOMES)
    ingested = store.query_rows(f"SELECT {sums} FROM ingest_report")[0]
    findings = store.query_rows(
        "SELECT coalesce(agent, '') AS agent, coalesce(status, '') AS status, count(*) AS n "
        "FROM finding GROUP BY ALL"
    )
    proposals = store.query_rows("SELECT count(*) AS n FROM action WHERE state = 'proposed'")
    return {
        "schema_version": store.schema_version(),
        "ingest_rows": {name: int(ingested[name]) for name in _INGEST_OUTCOMES},
        "findings": {(str(row["agent"]), str(row["status"])): int(row["n"]) for row in findings},
        "proposals": int(proposals[0]["n"]),
    }


class RequestMetrics:
    """Count every HTTP request: method, route template, status and latency (plain ASGI).

    Args:
        app: The ASGI app whose requests are counted.
        metrics: Where the figures go.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        metrics = self.metrics
        began = time.perf_counter()
        status = 500  # an app that fails before answering is answered 500 by the server

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        metrics.in_flight += 1
        try:
            await self.app(scope, receive, send_status)
        finally:
            metrics.in_flight -= 1
            route = scope.get("route")
            template = getattr(route, "path", None) if route is not None else None
            metrics.observe_request(
                scope["method"],
                UNMATCHED if template is None else template or "/",
                status,
                time.perf_counter() - began,
            )


def metrics_auth(given: str | None) -> str:
    """Whether ``/metrics`` needs a token (``token``) or not (``open``).

    ``given``, else ``$FACTORYBRAIN_METRICS_AUTH``, else ``token``.

    Raises:
        ParameterError: The setting is neither ``token`` nor ``open``.
    """
    setting = given if given is not None else os.environ.get(METRICS_AUTH_ENV, "").strip()
    setting = (setting or "token").lower()
    if setting not in METRICS_AUTH_CHOICES:
        raise ParameterError(
            f"the metrics setting (metrics_auth or ${METRICS_AUTH_ENV}) must be token or open, "
            f"got {setting!r}"
        )
    return setting


async def metrics_endpoint(request: Request) -> Response:
    """Answer ``/metrics``: the app's figures, after the token check the setting asks for."""
    app_state = request.app.state
    if app_state.metrics_auth == "token":
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            _refused("missing token: send 'Authorization: Bearer <token>' (any role)")
        if app_state.tokens.check(token.strip()) is None:
            _refused("invalid, expired or revoked token")
    metrics: Metrics = app_state.metrics
    body = await _in_thread(metrics.exposition)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


async def _in_thread(work: Callable[[], T]) -> T:
    import anyio.to_thread

    return await anyio.to_thread.run_sync(work)


def _refused(detail: str) -> NoReturn:
    from starlette.exceptions import HTTPException

    raise HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})
