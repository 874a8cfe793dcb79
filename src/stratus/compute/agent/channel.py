"""The agent channel: a small authenticated HTTP server in every compute
agent (its client, which other agents and API processes use to reach it, is
``channel_client.py``; what both ends share, ``channel_wire.py``).

It carries what cannot go through the database: a server's disk moving to
another host (streamed, SHA-256 checked, constant memory), console output of
a guest on a host of its own, the cleanup of a moved server's old copy, and a
wake-up.  Callers present the service user's token (``X-Auth-Token``); the
agent has the identity service validate it (as ``stratus`` itself) and
accepts only tokens that carry the ``service`` role.  Anything else is 401.

Routes (all under the agent's URL, recorded in ``compute_host.agent_url``):

    GET    /servers/{id}/console?length=N   the serial console's last N lines
    GET    /servers/{id}/diagnostics        the running guest's diagnostics (JSON)
    POST   /servers/{id}/nmi                a non-maskable interrupt into the guest
    WS     /servers/{id}/serial             the guest's serial console (binary frames)
    GET    /servers/{id}/disk               the server's disk (its own copy)
    PUT    /servers/{id}/disk               a disk arriving for the server
    DELETE /servers/{id}/moved              drop the copy a confirmed move left
    POST   /wake                            run the reconcile loop now
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Protocol

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from stratus.common.service_auth import ServiceSession, service_client
from stratus.compute.agent.channel_wire import (
    CHECKSUM_HEADER,
    ChannelError,
    file_chunks,
    receive_file,
    sha256_file,
)
from stratus.compute.agent.folders import INCOMING, drop_moved, moved_folder
from stratus.compute.agent.serial_bridge import WS_POLICY, WS_UNAVAILABLE, bridge_serial
from stratus.compute.drivers.base import Diagnostics, DriverError, SerialStream

log = logging.getLogger(__name__)

TOKEN_TTL = 30.0  # seconds a validated token is trusted without asking identity again


# -- authentication ----------------------------------------------------------------------


class TokenCheck:
    """Validates callers' tokens with the identity service, as the service
    user, caching the answer (yes or no) for ``TOKEN_TTL`` seconds."""

    def __init__(self, session: ServiceSession, role: str = "service"):
        self.auth_url = session.auth_url
        self.http = service_client(session)
        self.role = role
        self._cache: dict[str, tuple[float, bool]] = {}

    async def allowed(self, token: str) -> bool:
        if not token:
            return False
        now = time.monotonic()
        hit = self._cache.get(token)
        if hit is not None and hit[0] > now:
            return hit[1]
        resp = await self.http.get(f"{self.auth_url}?nocatalog", headers={"X-Subject-Token": token})
        ok = resp.status_code == 200 and any(
            r.get("name") == self.role for r in resp.json()["token"].get("roles") or []
        )
        if len(self._cache) > 1000:
            self._cache.clear()
        self._cache[token] = (now + TOKEN_TTL, ok)
        return ok

    async def close(self) -> None:
        await self.http.aclose()


# -- the server ------------------------------------------------------------------------------


class GuestDisks(Protocol):
    """What the channel reads of a driver (``drivers.base.Driver``)."""

    async def console_output(self, uuid: str, directory: Path, length: int | None) -> str: ...

    async def export_disk(self, uuid: str, directory: Path) -> Path: ...

    async def diagnostics(self, uuid: str, directory: Path) -> Diagnostics: ...

    async def trigger_crash_dump(self, uuid: str) -> None: ...

    async def open_serial(self, uuid: str, directory: Path) -> SerialStream: ...


class ChannelHost(Protocol):
    """The agent as its channel serves it."""

    @property
    def host(self) -> str: ...

    @property
    def instances(self) -> Path: ...

    @property
    def driver(self) -> GuestDisks: ...

    def wake(self) -> None: ...


class Check(Protocol):
    async def allowed(self, token: str) -> bool: ...


class _Channel:
    """The channel's handlers over one agent."""

    def __init__(self, agent: ChannelHost, check: Check) -> None:
        self.agent = agent
        self.check = check

    def guarded(
        self, handler: Callable[[Request], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        """The handler, behind the service token check (401/503) and with a
        ChannelError answered 409."""
        check = self.check

        async def wrapper(request: Request) -> Response:
            try:
                ok = await check.allowed(request.headers.get("x-auth-token", ""))
            except httpx.HTTPError as exc:
                log.error("agent channel: identity unreachable: %s", exc)
                return JSONResponse({"error": "identity unreachable"}, status_code=503)
            if not ok:
                return JSONResponse({"error": "authentication required"}, status_code=401)
            try:
                return await handler(request)
            except ChannelError as exc:
                return JSONResponse({"error": str(exc)}, status_code=409)

        return wrapper

    def folder(self, request: Request) -> tuple[str, Path]:
        server_id = request.path_params["server_id"]
        if "/" in server_id or server_id.startswith("."):
            raise ChannelError(f"bad server id {server_id!r}")
        return server_id, self.agent.instances / server_id

    async def console(self, request: Request) -> Response:
        server_id, directory = self.folder(request)
        raw = request.query_params.get("length")
        length = int(raw) if raw not in (None, "") else None
        text = await self.agent.driver.console_output(server_id, directory, length)
        return PlainTextResponse(text)

    async def diagnostics(self, request: Request) -> Response:
        server_id, directory = self.folder(request)
        try:
            found = await self.agent.driver.diagnostics(server_id, directory)
        except DriverError as exc:
            raise ChannelError(str(exc)) from exc
        return JSONResponse(dataclasses.asdict(found))

    async def nmi(self, request: Request) -> Response:
        server_id, _ = self.folder(request)
        try:
            await self.agent.driver.trigger_crash_dump(server_id)
        except DriverError as exc:
            raise ChannelError(str(exc)) from exc
        return Response(status_code=204)

    async def serial(self, ws: WebSocket) -> None:
        try:
            ok = await self.check.allowed(ws.headers.get("x-auth-token", ""))
        except httpx.HTTPError as exc:
            log.error("agent channel: identity unreachable: %s", exc)
            ok = False
        server_id = ws.path_params["server_id"]
        if not ok or "/" in server_id or server_id.startswith("."):
            await ws.close(code=WS_POLICY)
            return
        try:
            stream = await self.agent.driver.open_serial(
                server_id, self.agent.instances / server_id
            )
        except DriverError as exc:
            log.info("agent channel: no serial console for %s: %s", server_id, exc)
            await ws.close(code=WS_UNAVAILABLE, reason=str(exc)[:120])
            return
        await ws.accept()
        await bridge_serial(ws, stream)

    async def disk_out(self, request: Request) -> Response:
        server_id, directory = self.folder(request)
        # A server being moved away keeps its disk in the moves folder.
        for candidate in (moved_folder(self.agent.instances, server_id), directory):
            if not candidate.is_dir():
                continue
            try:
                disk = await self.agent.driver.export_disk(server_id, candidate)
            except DriverError as exc:
                raise ChannelError(str(exc)) from exc
            if disk.is_file():
                checksum = await asyncio.to_thread(sha256_file, disk)
                return StreamingResponse(
                    file_chunks(disk),
                    media_type="application/octet-stream",
                    headers={CHECKSUM_HEADER: checksum, "Content-Length": str(disk.stat().st_size)},
                )
        return JSONResponse({"error": f"no disk of server {server_id} here"}, status_code=404)

    async def disk_in(self, request: Request) -> Response:
        server_id, directory = self.folder(request)
        checksum = request.headers.get(CHECKSUM_HEADER.lower(), "")
        if len(checksum) != 64:
            return JSONResponse({"error": f"{CHECKSUM_HEADER} is required"}, status_code=400)
        await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
        started = time.monotonic()
        size = await receive_file(request.stream(), directory / INCOMING, checksum)
        log.info(
            "agent channel: received the disk of server %s (%d bytes in %.2f s)",
            server_id,
            size,
            time.monotonic() - started,
        )
        return JSONResponse({"size": size}, status_code=201)

    async def moved(self, request: Request) -> Response:
        server_id, _ = self.folder(request)
        await drop_moved(self.agent.instances, server_id)
        return Response(status_code=204)

    async def wake(self, request: Request) -> Response:
        self.agent.wake()
        return Response(status_code=204)


def make_app(agent: ChannelHost, check: Check) -> Starlette:
    app = _Channel(agent, check)
    return Starlette(
        routes=[
            Route("/servers/{server_id}/console", app.guarded(app.console), methods=["GET"]),
            Route(
                "/servers/{server_id}/diagnostics", app.guarded(app.diagnostics), methods=["GET"]
            ),
            Route("/servers/{server_id}/nmi", app.guarded(app.nmi), methods=["POST"]),
            WebSocketRoute("/servers/{server_id}/serial", app.serial),
            Route("/servers/{server_id}/disk", app.guarded(app.disk_out), methods=["GET"]),
            Route("/servers/{server_id}/disk", app.guarded(app.disk_in), methods=["PUT"]),
            Route("/servers/{server_id}/moved", app.guarded(app.moved), methods=["DELETE"]),
            Route("/wake", app.guarded(app.wake), methods=["POST"]),
        ]
    )


class _QuietServer(uvicorn.Server):
    """A uvicorn server inside a process that has its own signal handling."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class ChannelServer:
    """Runs the channel of one agent: binds first (so a free port is known
    before the agent registers its URL), then serves in a task."""

    def __init__(
        self, agent: ChannelHost, session: ServiceSession, listen: str, port: int, url: str
    ):
        self.agent = agent
        self.check = TokenCheck(session)
        self.listen = listen
        self.port = port
        self.public_url = url
        self.url = ""
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> str:
        family = socket.AF_INET6 if ":" in self.listen else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.listen, self.port))
        sock.listen(128)
        sock.setblocking(False)
        port = sock.getsockname()[1]
        host = f"[{self.listen}]" if family == socket.AF_INET6 else self.listen
        self.url = self.public_url or f"http://{host}:{port}"
        config = uvicorn.Config(
            make_app(self.agent, self.check),
            lifespan="off",
            access_log=False,
            # Leave logging alone: uvicorn would otherwise reconfigure its
            # loggers for the whole process (the API server's included).
            log_config=None,
            log_level=None,
            timeout_keep_alive=30,
            server_header=False,
        )
        self._server = _QuietServer(config)
        self._task = asyncio.create_task(
            self._server.serve(sockets=[sock]), name=f"agent-channel-{self.agent.host}"
        )
        log.info("compute: agent %s channel at %s", self.agent.host, self.url)
        return self.url

    async def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, 10)
        await self.check.close()
