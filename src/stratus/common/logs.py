"""Logging: the request id in every line a request causes, and the access log.

The API middleware (``common.middleware``) names each request and keeps a
``Request`` (its id, then its route, project and user as they become known) in
a context variable.  asyncio copies the context into every task a request
starts, so the id follows the request's own work; an agent that works on a
resource for a request sets it again with ``acting_for`` (the id is recorded
with the task).  ``RequestIdFilter`` puts it into every log record as
``%(request_id)s`` ("-" outside any request).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

ACCESS_LOGGER = "stratus.access"
FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
NO_REQUEST = "-"


@dataclass(slots=True)
class Request:
    """What the logs and metrics know of the request being served."""

    id: str
    route: str | None = None  # the route's template, e.g. /v2.1/servers/{server_id}
    project: str | None = None
    user: str | None = None


CURRENT: ContextVar[Request | None] = ContextVar("stratus_request", default=None)


def current() -> Request | None:
    return CURRENT.get()


def current_request_id() -> str | None:
    req = CURRENT.get()
    return req.id if req is not None else None


def note_route(template: str) -> None:
    """The route template that matched (for the metrics' labels)."""
    req = CURRENT.get()
    if req is not None:
        req.route = template


def note_caller(project: str | None, user: str | None) -> None:
    """Who the request's token names (for the access log)."""
    req = CURRENT.get()
    if req is not None:
        req.project, req.user = project, user


def bind_request_id(request_id: str | None) -> None:
    """Log the rest of this asyncio task under ``request_id``: an agent's
    work on one resource (a task of its own) for the request that asked for
    it, which the API recorded with the task."""
    if request_id:
        CURRENT.set(Request(request_id))


@contextmanager
def acting_for(request_id: str | None) -> Iterator[None]:
    """Log what follows under ``request_id``: an agent working on a resource
    for the request that asked for the work."""
    if not request_id:
        yield
        return
    token = CURRENT.set(Request(request_id))
    try:
        yield
    finally:
        CURRENT.reset(token)


class RequestIdFilter(logging.Filter):
    """Gives every record ``request_id`` (the current request's, or "-")."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            req = CURRENT.get()
            record.request_id = req.id if req is not None else NO_REQUEST
        return True


_HANDLER: logging.StreamHandler[Any] | None = None  # the process's handler (setup)


def setup(level: str, stream: Any = None) -> None:
    """Configure the root logger of a Stratus process."""
    global _HANDLER
    handler: logging.StreamHandler[Any] = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    for noisy in ("alembic", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # uvicorn's own access logger is off: the middleware writes the access log.
    logging.getLogger("uvicorn.access").disabled = True
    _HANDLER = handler


class AccessLog:
    """One line per request: client, method, path, status, bytes, duration,
    project and user (the request id is in the line's prefix).

    In a process set up by ``setup`` the lines are formatted here, as the
    handler would, and the lines of 50 ms go to its stream in one write (the
    logging module's machinery, and a write per line, would cost a small
    request several percent of its CPU); ``flush`` at shutdown.  Elsewhere
    (tests) they go through the ``stratus.access`` logger."""

    FLUSH_AFTER = 0.05  # seconds a line may wait for others to share its write
    MAX_LINES = 256

    def __init__(self, enabled: bool = True) -> None:
        self.logger = logging.getLogger(ACCESS_LOGGER)
        self.enabled = enabled
        self.handler = _HANDLER
        self._lines: list[str] = []
        self._second = -1
        self._stamp = ""

    def write(
        self,
        scope: Mapping[str, Any],
        req: Request,
        status: int,
        size: int,
        duration: float,
    ) -> None:
        if not self.enabled or not self.logger.isEnabledFor(logging.INFO):
            return
        client = scope.get("client")
        target = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        query = scope.get("query_string")
        if query:
            target += "?" + query.decode("latin-1")
        if self.handler is None:
            self.logger.info(
                '%s "%s %s" %d %d %.4fs project=%s user=%s',
                client[0] if client else "-", scope["method"], target, status, size, duration,
                req.project or "-", req.user or "-",
            )  # fmt: skip
            return
        self._lines.append(
            f"{self._now()} INFO stratus.access [{req.id}] {client[0] if client else '-'} "
            f'"{scope["method"]} {target}" {status} {size} {duration:.4f}s '
            f"project={req.project or '-'} user={req.user or '-'}\n"
        )
        if len(self._lines) >= self.MAX_LINES:
            self.flush()
        elif len(self._lines) == 1:
            try:
                asyncio.get_running_loop().call_later(self.FLUSH_AFTER, self.flush)
            except RuntimeError:  # no event loop: at once
                self.flush()

    def _now(self) -> str:
        """The time as the log's formatter writes it (its local time, ms)."""
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
        return f"{self._stamp},{int((now - second) * 1000):03d}"

    def flush(self) -> None:
        lines, self._lines = self._lines, []
        if not lines or self.handler is None:
            return
        self.handler.acquire()
        try:
            self.handler.stream.write("".join(lines))
            self.handler.stream.flush()
        except (OSError, ValueError):  # the stream is gone: as logging would
            pass
        finally:
            self.handler.release()
