"""The agent channel's client (``channel.py`` is its server): other agents
and the API processes call an agent's channel with the service user's token."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import WebSocketException

from stratus.common.service_auth import ServiceSession, service_client
from stratus.compute.agent.channel_wire import (
    CHECKSUM_HEADER,
    CHUNK,
    ChannelError,
    diagnostics_from,
    file_chunks,
    receive_file,
    sha256_file,
)
from stratus.compute.drivers.base import Diagnostics


class ChannelClient:
    """Calls agents' channels with the service user's token."""

    def __init__(self, session: ServiceSession):
        self.session = session
        self.http = service_client(session, httpx.Timeout(60.0, read=600.0))

    async def _request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        try:
            return await self.http.request(method, url, **kw)
        except httpx.HTTPError as exc:
            raise ChannelError(f"agent at {url} unreachable: {exc}") from exc

    @staticmethod
    def _check(resp: httpx.Response, what: str) -> None:
        if resp.status_code >= 300:
            try:
                reason = resp.json().get("error", resp.text)
            except ValueError:
                reason = resp.text
            raise ChannelError(f"{what}: {resp.status_code} {reason}")

    async def console(self, url: str, server_id: str, length: int | None) -> str:
        params = {} if length is None else {"length": str(length)}
        resp = await self._request("GET", f"{url}/servers/{server_id}/console", params=params)
        self._check(resp, "console output")
        return resp.text

    async def diagnostics(self, url: str, server_id: str) -> Diagnostics:
        resp = await self._request("GET", f"{url}/servers/{server_id}/diagnostics")
        self._check(resp, "diagnostics")
        return diagnostics_from(resp.json())

    async def trigger_crash_dump(self, url: str, server_id: str) -> None:
        resp = await self._request("POST", f"{url}/servers/{server_id}/nmi")
        self._check(resp, "NMI")

    async def open_serial(self, url: str, server_id: str) -> ClientConnection:
        """A websocket to the serial console of a guest on the agent at ``url``."""
        target = "ws" + url.removeprefix("http") + f"/servers/{server_id}/serial"
        try:
            return await ws_connect(
                target,
                additional_headers={"X-Auth-Token": await self.session.token()},
                open_timeout=10,
                max_size=2**20,
            )
        except (OSError, TimeoutError, WebSocketException, httpx.HTTPError) as exc:
            raise ChannelError(f"serial console at {url}: {exc}") from exc

    async def push_disk(self, url: str, server_id: str, disk: Path) -> None:
        checksum = await asyncio.to_thread(sha256_file, disk)
        headers = {CHECKSUM_HEADER: checksum, "Content-Length": str(disk.stat().st_size)}
        resp = await self._request(
            "PUT", f"{url}/servers/{server_id}/disk", content=file_chunks(disk), headers=headers
        )
        self._check(resp, "disk transfer")

    async def fetch_disk(self, url: str, server_id: str, target: Path) -> None:
        try:
            async with self.http.stream("GET", f"{url}/servers/{server_id}/disk") as resp:
                if resp.status_code != 200:
                    await resp.aread()
                    self._check(resp, "disk transfer")
                await receive_file(resp.aiter_bytes(CHUNK), target, resp.headers[CHECKSUM_HEADER])
        except httpx.HTTPError as exc:
            raise ChannelError(f"agent at {url} unreachable: {exc}") from exc

    async def drop_moved(self, url: str, server_id: str) -> None:
        resp = await self._request("DELETE", f"{url}/servers/{server_id}/moved")
        self._check(resp, "cleanup of the old copy")

    async def wake(self, url: str) -> None:
        with contextlib.suppress(ChannelError):
            await self._request("POST", f"{url}/wake")

    async def close(self) -> None:
        await self.http.aclose()
