"""``/metrics`` in Prometheus' text format: the commons' state, and this process' requests.

Two kinds of numbers, because the API keeps no state outside the database and may run as
several replicas:

- **The commons** (``nuri_pool_*``, ``nuri_ledger_*``): computed from the database at each
  scrape by ``CommonsCollector``, so every replica reports the same values. Series per pool are
  labelled ``pool`` and ``accelerator``; pending jobs that asked for an accelerator class rather
  than a pool have ``pool=""``. Counters here are totals read from the database (jobs ended,
  ledger charges), which only grow because the ledger is append-only and ended jobs stay ended.
- **This process** (``nuri_http_*``): requests served, by method, route template and status
  class, errors (4xx and 5xx), and latency, counted in memory by ``RequestMetricsMiddleware``.
  Sum them over replicas. The worker processes of one ``nuri serve --workers N`` count into
  shared files instead, so that any of them answers a scrape with all their requests.

Only aggregates are exposed: no user, project or token, so the endpoint needs no token (as
Prometheus expects). ``docs/operations.md`` lists every metric.
"""

import logging
import math
import os
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from fastapi import FastAPI
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import nuri
from nuri.api.request_log import RouteTemplates
from nuri.domain.jobs import TERMINAL_STATES, JobState
from nuri.domain.units import H100E_UNITS_PER_GPU_HOUR, SECONDS_PER_HOUR
from nuri.service.commons import Commons
from nuri.store.tables import JobRow, LedgerEntryRow, PoolRow

log = logging.getLogger(__name__)

RECENT_HOURS = 1
"""Waits are reported for the jobs that started within this many hours before the scrape."""
WAIT_QUANTILES = (0.5, 0.9)
POOL_LABELS = ("pool", "accelerator")
H100E_UNITS_PER_GPU_SECOND = H100E_UNITS_PER_GPU_HOUR // SECONDS_PER_HOUR
LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
SHARED_METRICS_DIRECTORY_ENV = "PROMETHEUS_MULTIPROC_DIR"
"""Set (to a directory) for worker processes that share one port: prometheus_client then keeps
request counts in files there, and reads this variable when it is first imported."""


# -- the commons, from the database ---------------------------------------------------------


@dataclass
class _PoolFigures:
    """What one series key (a pool, or an accelerator class without a pool) adds up to."""

    devices: int = 0
    busy_devices: int = 0
    running: int = 0
    pending: int = 0
    oldest_pending: datetime | None = None
    recent_waits_s: list[float] = field(default_factory=list)
    ended: dict[str, int] = field(default_factory=dict)
    charged_units: int = 0
    charged_krw: int = 0
    is_pool: bool = False


def nearest_rank(sorted_values: Sequence[float], quantile: float) -> float:
    """The nearest-rank ``quantile`` (0 < q <= 1) of values sorted ascending (not empty)."""
    rank = max(1, math.ceil(quantile * len(sorted_values)))
    return sorted_values[rank - 1]


class CommonsCollector:
    """Reads the commons' queues, pools and ledger from the database at every scrape.

    ``collect`` runs one short read transaction. If the database does not answer, it reports
    ``nuri_database_up 0`` and nothing else about the commons, instead of failing the scrape.
    """

    def __init__(self, commons: Commons) -> None:
        self._commons = commons

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily("nuri_database_up", "1 if the database answered this scrape.")
        info = GaugeMetricFamily(
            "nuri_build_info", "Always 1; the nuri version serving.", labels=["version"]
        )
        info.add_metric([nuri.__version__], 1)
        try:
            now = self._commons.clock()
            with self._commons.sessions.begin() as session:
                figures = _figures(session, now)
        except SQLAlchemyError as error:
            log.warning("metrics: the database did not answer: %s", type(error).__name__)
            up.add_metric([], 0)
            return [up, info]
        up.add_metric([], 1)
        return [up, info, *_families(figures, now)]


def _figures(session: Session, now: datetime) -> dict[tuple[str, str], _PoolFigures]:
    """Per (pool, accelerator): devices, jobs, waits and charges, in five grouped queries."""
    figures: dict[tuple[str, str], _PoolFigures] = defaultdict(_PoolFigures)
    pools: dict[int, tuple[str, str]] = {}
    for row in session.scalars(select(PoolRow)):
        pools[row.id] = (row.name, row.accelerator)
        figures[pools[row.id]].devices = row.nodes * row.devices_per_node
        figures[pools[row.id]].is_pool = True

    def of(pool_id: int | None, accelerator: str | None) -> _PoolFigures:
        # A job that asked for an accelerator class has no pool until it starts.
        return figures[pools[pool_id] if pool_id is not None else ("", accelerator or "")]

    active = (JobState.PENDING.value, JobState.RUNNING.value)
    for job_pool, job_accelerator, state, jobs, devices, oldest in session.execute(
        select(
            JobRow.pool_id,
            JobRow.accelerator,
            JobRow.state,
            func.count(),
            func.sum(JobRow.devices),
            func.min(JobRow.submitted_at),
        )
        .where(JobRow.state.in_(active))
        .group_by(JobRow.pool_id, JobRow.accelerator, JobRow.state)
    ):
        pool = of(job_pool, job_accelerator)
        if state == JobState.RUNNING.value:
            pool.running += jobs
            pool.busy_devices += int(devices or 0)
        else:
            pool.pending += jobs
            if pool.oldest_pending is None or oldest < pool.oldest_pending:
                pool.oldest_pending = oldest
    for job_pool, job_accelerator, submitted_at, started_at in session.execute(
        select(JobRow.pool_id, JobRow.accelerator, JobRow.submitted_at, JobRow.started_at).where(
            JobRow.started_at >= now - timedelta(hours=RECENT_HOURS)
        )
    ):
        if started_at is not None:  # always, by the query; says so to the type checker
            wait_s = (started_at - submitted_at).total_seconds()
            of(job_pool, job_accelerator).recent_waits_s.append(max(0.0, wait_s))
    ended_states = [state.value for state in TERMINAL_STATES]
    for job_pool, job_accelerator, state, jobs in session.execute(
        select(JobRow.pool_id, JobRow.accelerator, JobRow.state, func.count())
        .where(JobRow.state.in_(ended_states))
        .group_by(JobRow.pool_id, JobRow.accelerator, JobRow.state)
    ):
        ended = of(job_pool, job_accelerator).ended
        ended[state] = ended.get(state, 0) + jobs
    for charged_pool, units, krw in session.execute(
        select(
            LedgerEntryRow.pool_id,
            func.sum(LedgerEntryRow.h100e_units),
            func.sum(LedgerEntryRow.cost_krw),
        ).group_by(LedgerEntryRow.pool_id)
    ):
        pool = of(charged_pool, None)
        pool.charged_units += int(units or 0)
        pool.charged_krw += int(krw or 0)
    return figures


def _families(figures: dict[tuple[str, str], _PoolFigures], now: datetime) -> list[Metric]:
    def gauge(name: str, documentation: str, *extra: str) -> GaugeMetricFamily:
        return GaugeMetricFamily(name, documentation, labels=[*POOL_LABELS, *extra])

    devices = gauge("nuri_pool_devices", "Devices in the pool.")
    busy = gauge("nuri_pool_busy_devices", "Devices held by running jobs.")
    utilisation = gauge("nuri_pool_utilisation_ratio", "Busy devices / devices (0 to 1).")
    running = gauge("nuri_pool_running_jobs", "Jobs running now.")
    pending = gauge(
        "nuri_pool_pending_jobs",
        'Queue length: jobs waiting to start (pool="" for jobs that asked for an accelerator).',
    )
    oldest = gauge(
        "nuri_pool_oldest_pending_job_age_seconds",
        "How long the longest-waiting pending job has waited since submission (0 if none).",
    )
    waits = gauge(
        "nuri_pool_recent_job_wait_seconds",
        f"Wait from submission to start of jobs started in the last {RECENT_HOURS} h, by quantile"
        " (nearest rank; no series if none started).",
        "quantile",
    )
    starts = gauge("nuri_pool_recent_job_starts", f"Jobs started in the last {RECENT_HOURS} h.")
    ended = CounterMetricFamily(
        "nuri_pool_jobs_ended",
        "Jobs that have ended, by final state (FAILED and TIMEOUT are the errors).",
        labels=[*POOL_LABELS, "state"],
    )
    charged = CounterMetricFamily(
        "nuri_ledger_charged_h100e_gpu_seconds",
        "H100-equivalent GPU-seconds charged to the ledger for runs on the pool.",
        labels=list(POOL_LABELS),
    )
    charged_krw = CounterMetricFamily(
        "nuri_ledger_charged_krw",
        "Cost in whole won charged to the ledger for runs on the pool.",
        labels=list(POOL_LABELS),
    )
    for (pool_name, accelerator), pool in sorted(figures.items()):
        labels = [pool_name, accelerator]
        if pool.is_pool:
            devices.add_metric(labels, pool.devices)
            busy.add_metric(labels, pool.busy_devices)
            utilisation.add_metric(labels, pool.busy_devices / pool.devices if pool.devices else 0)
            running.add_metric(labels, pool.running)
            starts.add_metric(labels, len(pool.recent_waits_s))
            charged.add_metric(labels, pool.charged_units / H100E_UNITS_PER_GPU_SECOND)
            charged_krw.add_metric(labels, pool.charged_krw)
        if pool.is_pool or pool.pending:
            pending.add_metric(labels, pool.pending)
            age = (
                0.0 if pool.oldest_pending is None else (now - pool.oldest_pending).total_seconds()
            )
            oldest.add_metric(labels, max(0.0, age))
        in_order = sorted(pool.recent_waits_s)
        for quantile in WAIT_QUANTILES if in_order else ():
            waits.add_metric([*labels, str(quantile)], nearest_rank(in_order, quantile))
        for state in sorted(pool.ended):
            ended.add_metric([*labels, state], pool.ended[state])
    return [
        devices,
        busy,
        utilisation,
        running,
        pending,
        oldest,
        waits,
        starts,
        ended,
        charged,
        charged_krw,
    ]


# -- this process' requests -----------------------------------------------------------------


class RequestMetrics:
    """Request counters and the latency histogram of one process, in ``registry``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ("method", "route", "status_class")
        self.requests = Counter(
            "nuri_http_requests",
            "HTTP requests answered, by method, route template and status class (2xx...).",
            labels,
            registry=registry,
        )
        self.errors = Counter(
            "nuri_http_request_errors",
            "HTTP requests answered with an error: status_class 4xx (the client's) or 5xx (ours).",
            labels,
            registry=registry,
        )
        self.latency = Histogram(
            "nuri_http_request_duration_seconds",
            "Time from receiving a request to sending the end of its answer.",
            ("method", "route"),
            buckets=LATENCY_BUCKETS_S,
            registry=registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        method = method if method in KNOWN_METHODS else "OTHER"  # a label value per made-up verb
        status_class = f"{status // 100}xx"
        self.requests.labels(method, route, status_class).inc()
        if status >= 400:
            self.errors.labels(method, route, status_class).inc()
        self.latency.labels(method, route).observe(seconds)


class RequestMetricsMiddleware:
    """Pure ASGI middleware counting every HTTP request into ``RequestMetrics``.

    An exception escaping the app counts as a 500: Starlette's outermost handler answers it so.
    """

    def __init__(self, app: ASGIApp, metrics: RequestMetrics) -> None:
        self._app = app
        self._metrics = metrics
        self._routes = RouteTemplates()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        status: int | None = None

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self._app(scope, receive, send_noting_status)
        except Exception:
            self._observe(scope, status or 500, started)
            raise
        self._observe(scope, status or 500, started)

    def _observe(self, scope: Scope, status: int, started: float) -> None:
        method = str(scope.get("method", ""))
        self._metrics.observe(method, self._routes.of(scope), status, time.perf_counter() - started)


# -- wiring ---------------------------------------------------------------------------------


def install_metrics(app: FastAPI, commons: Commons) -> CollectorRegistry:
    """Count ``app``'s requests and serve ``GET /metrics``; returns the registry it serves.

    Each app has its own registry (not the library's global one), so several apps in one
    process, as in tests, do not collide.
    """
    registry = CollectorRegistry()
    registry.register(CommonsCollector(commons))
    PlatformCollector(registry=registry)
    if os.environ.get(SHARED_METRICS_DIRECTORY_ENV):
        # One of several worker processes (nuri serve --workers): each writes its request counts
        # to files in that directory, and a scrape, whichever worker answers it, adds up all of
        # them. CPU and memory are per process and cannot be added up, so they are left out.
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # the module is untyped
        counted_in = CollectorRegistry()  # written to the files, served by the collector above
    else:
        ProcessCollector(registry=registry)
        counted_in = registry
    app.add_middleware(RequestMetricsMiddleware, metrics=RequestMetrics(counted_in))

    def metrics() -> Response:
        """The commons and this process in Prometheus' text format (no token needed)."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_PLAIN_0_0_4)

    app.add_api_route(
        "/metrics", metrics, methods=["GET"], include_in_schema=False, response_class=Response
    )
    return registry
