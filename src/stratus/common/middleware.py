"""ASGI middleware shared by every service (pure ASGI, for speed)."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stratus.common import logs
from stratus.common.api import REQUEST_ID_KEY
from stratus.common.metrics import UNMATCHED, HttpMetrics

log = logging.getLogger(__name__)

# Names a request's route from its path, for services that route on their
# own rather than through common.api (the object store's Swift paths).
RouteNamer = Callable[[Scope], str | None]


class RequestIdMiddleware:
    """Gives every request an id (``x-openstack-request-id`` on the
    response, and every log line the request causes), writes its access-log
    line and records its metrics.

    ``services`` maps a path's first segment to the service it reaches (the
    metrics' ``service`` label); ``route_namers`` name the routes of services
    that do not use ``common.api``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        access_log: logs.AccessLog | None = None,
        metrics: HttpMetrics | None = None,
        services: Mapping[str, str] | None = None,
        route_namers: Mapping[str, RouteNamer] | None = None,
    ):
        self.app = app
        self.access_log = access_log if access_log is not None and access_log.enabled else None
        self.metrics = metrics
        self.services = dict(services or {})
        self.route_namers = dict(route_namers or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = f"req-{uuid.uuid4()}"
        scope[REQUEST_ID_KEY] = request_id
        header = (b"x-openstack-request-id", request_id.encode())
        req = logs.Request(request_id)
        token = logs.CURRENT.set(req)
        start = time.perf_counter()
        status = 0
        size = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status, size
            if message["type"] == "http.response.start":
                status = message["status"]
                headers: list[Any] = list(message.get("headers", []))
                headers.append(header)
                message["headers"] = headers
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            duration = time.perf_counter() - start
            status = status or 500  # the server answers 500 for an app that failed
            if self.access_log is not None:
                self.access_log.write(scope, req, status, size, duration)
            if self.metrics is not None:
                service = self._service(scope)
                route = req.route or self._route(service, scope)
                self.metrics.observe(service, route, scope["method"], status, duration)
            logs.CURRENT.reset(token)

    def _service(self, scope: Scope) -> str:
        path: str = scope["path"]
        first = path[1:].split("/", 1)[0]
        return self.services.get(first, "other")

    def _route(self, service: str, scope: Scope) -> str:
        namer = self.route_namers.get(service)
        if namer is None:
            return UNMATCHED
        try:
            return namer(scope) or UNMATCHED
        except Exception:  # a bad path: counted, never a failure
            return UNMATCHED
