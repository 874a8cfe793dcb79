"""Prometheus metrics (prometheus-client), for every service and agent.

- HTTP: ``stratus_http_requests_total`` and the latency histogram
  ``stratus_http_request_duration_seconds``, labelled by service, route
  template (never the raw path), method and status; written by the API
  middleware.
- Agents: ``stratus_agent_loop_duration_seconds`` / ``_errors_total`` (one
  pass of a reconcile loop) and ``stratus_agent_work_duration_seconds`` /
  ``_errors_total`` (one resource's work), labelled by agent.
- Processes: resident memory and open files of every process of the cloud,
  labelled by pid and role.
- Resources: gauges computed from the database when scraped, added by each
  service with ``Metrics.add_gauges`` (servers by state, images by status,
  objects and bytes per account, ...).

With several API processes (``[server] workers``) the values live in
prometheus-client's multiprocess files (``PROMETHEUS_MULTIPROC_DIR``, set by
``stratus up`` before any metric exists, in ``DATA_DIR/run/metrics``), so one
scrape of any process shows them all.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import os
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
UNMATCHED = "unmatched"  # the route label of a request no route took
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
AGENT_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300)


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def process_dead(pid: int) -> None:
    """Forget a process's live gauges (its counters stay counted)."""
    if multiprocess():
        from prometheus_client import multiprocess as mp

        mp.mark_process_dead(pid)  # type: ignore[no-untyped-call]


REQUESTS = Counter(
    "stratus_http_requests_total",
    "HTTP requests answered, by service, route template, method and status.",
    ["service", "route", "method", "status"],
)
LATENCY = Histogram(
    "stratus_http_request_duration_seconds",
    "Time from a request's arrival to the end of its response, in seconds.",
    ["service", "route", "method", "status"],
    buckets=LATENCY_BUCKETS,
)
AGENT_LOOP = Histogram(
    "stratus_agent_loop_duration_seconds",
    "One pass of an agent's reconcile loop (heartbeat, dispatch, resync), in seconds.",
    ["agent"],
    buckets=AGENT_BUCKETS,
)
AGENT_LOOP_ERRORS = Counter(
    "stratus_agent_loop_errors_total", "Passes of an agent's loop that failed.", ["agent"]
)
AGENT_WORK = Histogram(
    "stratus_agent_work_duration_seconds",
    "One resource's work by an agent, in seconds.",
    ["agent"],
    buckets=AGENT_BUCKETS,
)
AGENT_WORK_ERRORS = Counter(
    "stratus_agent_work_errors_total", "Work on a resource that failed (and is retried).", ["agent"]
)
CONNECTIONS_CLOSED = Counter(
    "stratus_http_connections_closed_total",
    "Connections the server closed: too slow to send headers or body, or over the limit.",
    ["reason"],
)
PROCESS_RSS = Gauge(
    "stratus_process_resident_memory_bytes",
    "Resident memory of each process of the cloud.",
    ["role"],
    multiprocess_mode="liveall",
)
PROCESS_FDS = Gauge(
    "stratus_process_open_fds",
    "Open file descriptors of each process of the cloud.",
    ["role"],
    multiprocess_mode="liveall",
)
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def sample_process(role: str) -> None:
    """Record this process's resident memory and open files."""
    try:
        resident = int(Path("/proc/self/statm").read_text().split()[1]) * PAGE_SIZE
        fds = len(os.listdir("/proc/self/fd"))
    except OSError:  # not Linux
        return
    PROCESS_RSS.labels(role).set(resident)
    PROCESS_FDS.labels(role).set(fds)


class HttpMetrics:
    """The middleware's recorder.  A request's count and latency are added up
    in this process and handed to prometheus-client at most once a second
    (and before each scrape of this process): its values are shared files
    with a lock, which would cost each small request several percent."""

    FLUSH_AFTER = 1.0  # seconds

    def __init__(self) -> None:
        # (service, route, method, status) -> [count, seconds, per-bucket counts]
        self._pending: dict[tuple[str, str, str, int], list[Any]] = {}
        self._bounds = (*LATENCY_BUCKETS, float("inf"))
        self._scheduled = False

    def observe(self, service: str, route: str, method: str, status: int, seconds: float) -> None:
        key = (service, route, method, status)
        slot = self._pending.get(key)
        if slot is None:
            slot = self._pending[key] = [0, 0.0, [0] * len(self._bounds)]
        slot[0] += 1
        slot[1] += seconds
        slot[2][bisect.bisect_left(self._bounds, seconds)] += 1
        if not self._scheduled:
            self._scheduled = True
            try:
                asyncio.get_running_loop().call_later(self.FLUSH_AFTER, self.flush)
            except RuntimeError:  # no event loop: at once
                self.flush()

    def flush(self) -> None:
        self._scheduled = False
        pending, self._pending = self._pending, {}
        for (service, route, method, status), (count, total, buckets) in pending.items():
            labels = (service, route, method, str(status))
            REQUESTS.labels(*labels).inc(count)
            _add_to_histogram(LATENCY.labels(*labels), total, buckets)


def _add_to_histogram(child: Any, total: float, buckets: list[int]) -> None:
    """Observations added up elsewhere, into a histogram's child: its sum and
    its (non-cumulative) buckets, as ``observe`` leaves them (prometheus-
    client's layout, which a unit test checks)."""
    child._sum.inc(total)
    for part, n in zip(child._buckets, buckets, strict=True):
        if n:
            part.inc(n)


@dataclass
class GaugeFamily:
    """One resource gauge, read from the database at scrape time."""

    name: str
    help: str
    labels: tuple[str, ...]
    samples: list[tuple[tuple[str, ...], float]] = field(default_factory=list)


GaugeSource = Callable[[], Awaitable[Iterable[GaugeFamily]]]
SOURCE_TIMEOUT = 10.0


class _Families:
    def __init__(self, families: list[GaugeFamily]) -> None:
        self.families = families

    def collect(self) -> Iterable[GaugeMetricFamily]:
        for fam in self.families:
            out = GaugeMetricFamily(fam.name, fam.help, labels=list(fam.labels))
            for values, value in fam.samples:
                out.add_metric(list(values), value)
            yield out


class Metrics:
    """A process's /metrics: the shared series plus the resource gauges its
    services registered."""

    def __init__(self, role: str) -> None:
        self.role = role
        self.http = HttpMetrics()
        self._sources: dict[str, GaugeSource] = {}

    def add_gauges(self, name: str, source: GaugeSource) -> None:
        """Register a service's resource gauges (read when scraped)."""
        self._sources[name] = source

    async def _resource_families(self) -> list[GaugeFamily]:
        out: list[GaugeFamily] = []
        for name, source in self._sources.items():
            try:
                out.extend(await asyncio.wait_for(source(), SOURCE_TIMEOUT))
            except Exception:
                log.exception("metrics: the %s gauges could not be read", name)
        return out

    async def render(self) -> bytes:
        self.http.flush()
        sample_process(self.role)
        families = await self._resource_families()
        shared = await asyncio.to_thread(_shared_series)
        extra = CollectorRegistry(auto_describe=False)
        extra.register(_Families(families))
        return shared + bytes(generate_latest(extra))


def _shared_series() -> bytes:
    if not multiprocess():
        return bytes(generate_latest(REGISTRY))
    from prometheus_client import multiprocess as mp

    registry = CollectorRegistry()
    mp.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return bytes(generate_latest(registry))


def _loopback(scope: Mapping[str, Any]) -> bool:
    import ipaddress

    client = scope.get("client")
    if not client:
        return False
    try:
        return ipaddress.ip_address(client[0]).is_loopback
    except ValueError:
        return False


def endpoint(metrics: Metrics, validator: Any, access: str) -> Callable[[Any], Awaitable[Any]]:
    """The ``GET /metrics`` handler: readable without a token from loopback
    when ``access`` is "loopback", else with an admin token only."""
    from starlette.requests import Request
    from starlette.responses import Response

    from stratus.common.api import request_id_of
    from stratus.common.errors import StratusError

    def refuse(status: int, message: str) -> Response:
        import orjson

        title = "Unauthorized" if status == 401 else "Forbidden"
        body = {"error": {"code": status, "title": title, "message": message}}
        return Response(orjson.dumps(body), status, media_type="application/json")

    async def handle(request: Request) -> Response:
        if not (access == "loopback" and _loopback(request.scope)):
            token = request.headers.get("x-auth-token")
            if not token:
                return refuse(401, "The metrics need an admin token (X-Auth-Token).")
            try:
                ctx = await validator.validate(token, request_id_of(request.scope))
            except StratusError:
                return refuse(401, "The token is not valid.")
            if ctx.access_rules is not None:  # no access rule names the metrics
                return refuse(401, "The token's access rules do not allow this request.")
            if not ctx.is_admin:
                return refuse(403, "Only an administrator may read the metrics.")
        return Response(await metrics.render(), media_type=CONTENT_TYPE)

    return handle
