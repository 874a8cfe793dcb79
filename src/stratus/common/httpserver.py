"""How the API processes serve HTTP: uvicorn's httptools protocol, plus what
it lacks against clients that hold connections without finishing requests.

uvicorn times out idle keep-alive connections only after a response: a
connection that never sends its request line, never finishes its headers or
stops sending its body in the middle is held forever, one file descriptor
each, so a few thousand such sockets (slowloris) exhaust the process.  Here:

- ``header_timeout``: from the connection's start (or the first byte of the
  next request on a kept-alive connection) to the end of the headers;
- ``body_timeout``: the longest silence while a body is being received (not
  counted while the server itself has paused reading: a slow disk is not
  the client's fault);
- ``max_connections``: connections beyond it are closed at once, so the
  process keeps descriptors for its database, files and real clients;
- a request sent with ``Expect: 100-continue`` and answered without its body
  being asked for closes its connection after the answer (the unsent or
  unread body must never be taken for the next request).

On a timeout the connection is closed (a request in progress sees the client
gone) and counted in ``stratus_http_connections_closed_total``.  ``raise_fd_limit`` lifts the soft descriptor limit to the hard one.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from stratus.common.metrics import CONNECTIONS_CLOSED

log = logging.getLogger(__name__)

FD_HEADROOM = 512  # descriptors kept for the database, files, the agents


def raise_fd_limit() -> int:
    """The soft limit of open files raised to the hard limit; the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = max(soft, 1 << 20)
    if soft != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with header and body timeouts and a
    connection limit (class attributes, set by ``guarded_protocol``)."""

    header_timeout: float = 20.0
    body_timeout: float = 60.0
    max_connections: int = 4096

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._refused = False

    def _arm(self, seconds: float, handler: Any) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, handler)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.max_connections:
            self._refused = True
            transport.abort()
            CONNECTIONS_CLOSED.labels("limit").inc()
            return
        super().connection_made(transport)
        self._arm(self.header_timeout, self._headers_too_slow)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if not self._refused:
            super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self._refused:
            super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._deadline is None:  # a further request on a kept-alive connection
            self._arm(self.header_timeout, self._headers_too_slow)

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()
        if self.parser is not None and self._has_body():
            self._arm(self.body_timeout, self._body_too_slow)
            if self.expect_100_continue and self.cycle is not None:
                self._close_if_answered_unasked(self.cycle)

    @staticmethod
    def _close_if_answered_unasked(cycle: Any) -> None:
        """A request with ``Expect: 100-continue`` answered before its body
        was asked for (a 404, a 401, a refusal): the client may send the body
        now or never, so nothing after it on the connection can be read as a
        request.  The answer says ``Connection: close`` and the connection
        ends with it, as RFC 9110 lets a server do."""
        send = cycle.send

        async def send_then_close(message: Any) -> None:
            if message["type"] == "http.response.start" and cycle.waiting_for_100_continue:
                cycle.keep_alive = False
            await send(message)

        cycle.send = send_then_close

    def _has_body(self) -> bool:
        for name, value in self.headers or ():
            if name == b"content-length":
                return value.strip() not in (b"0", b"")
            if name == b"transfer-encoding":
                return True
        return False

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        if self._deadline is not None:
            self._arm(self.body_timeout, self._body_too_slow)

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def _headers_too_slow(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            log.debug("http: %s sent no complete request in %.0f s", self._peer(), self.header_timeout)
            CONNECTIONS_CLOSED.labels("header_timeout").inc()
            self.transport.close()

    def _body_too_slow(self) -> None:
        self._deadline = None
        if self.flow is not None and self.flow.read_paused:
            # We stopped reading (the application is busy): wait again.
            self._arm(self.body_timeout, self._body_too_slow)
            return
        if not self.transport.is_closing():
            log.debug("http: %s sent no body data in %.0f s", self._peer(), self.body_timeout)
            CONNECTIONS_CLOSED.labels("body_timeout").inc()
            self.transport.close()

    def _peer(self) -> str:
        return f"{self.client[0]}:{self.client[1]}" if self.client else "a client"


def guarded_protocol(
    header_timeout: float, body_timeout: float, max_connections: int
) -> type[GuardedProtocol]:
    """The protocol class to give uvicorn (``Config(http=...)``)."""
    fd_limit = raise_fd_limit()
    if max_connections > fd_limit - FD_HEADROOM:
        max_connections = max(64, fd_limit - FD_HEADROOM)
        log.info("http: at most %d connections (open file limit %d)", max_connections, fd_limit)
    return type(
        "GuardedProtocol",
        (GuardedProtocol,),
        {
            "header_timeout": header_timeout,
            "body_timeout": body_timeout,
            "max_connections": max_connections,
        },
    )
