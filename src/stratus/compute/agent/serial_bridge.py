"""The websocket side of a serial console: copies frames to and from a
driver's ``SerialStream`` (the agent channel), or to and from another
websocket (the API's console endpoint, to the agent channel)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from starlette.types import Message
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from stratus.compute.drivers.base import SerialStream

# Websocket close codes: refused (bad or used token), the console is not there.
WS_POLICY = 1008
WS_UNAVAILABLE = 1011


class Frames(Protocol):
    """Starlette's side of a websocket, as the bridges use it."""

    async def receive(self) -> Message: ...

    async def send_bytes(self, data: bytes) -> None: ...

    async def close(self, code: int = 1000, reason: str | None = None) -> None: ...


async def bridge_serial(ws: Frames, stream: SerialStream) -> None:
    """Copy both ways between an accepted websocket and a serial console
    until either side closes; then close both."""

    async def out() -> None:
        while data := await stream.read():
            await ws.send_bytes(data)

    await _bridge(ws, out(), stream.write, stream.close)


async def bridge_peer(ws: Frames, peer: ClientConnection) -> None:
    """Copy both ways between an accepted websocket and the websocket of an
    agent's serial console until either side closes; then close both."""

    async def out() -> None:
        with contextlib.suppress(ConnectionClosed):
            async for message in peer:
                await ws.send_bytes(message if isinstance(message, bytes) else message.encode())

    await _bridge(ws, out(), peer.send, peer.close)


async def _bridge(
    ws: Frames,
    out: Coroutine[Any, Any, None],
    write: Callable[[bytes], Awaitable[Any]],
    close: Callable[[], Awaitable[Any]],
) -> None:
    """Run ``out`` (the other side to the websocket) beside the copy of the
    websocket's frames into ``write``, until either ends; then ``close`` the
    other side and the websocket."""

    async def into() -> None:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("bytes") or (message.get("text") or "").encode()
            if data:
                await write(data)

    try:
        await _first_of(out, into())
    finally:
        with contextlib.suppress(Exception):
            await close()
        with contextlib.suppress(Exception):
            await ws.close()


async def _first_of(*coros: Coroutine[Any, Any, None]) -> None:
    """Run until the first finishes (or fails), cancelling the rest; a peer
    that went away is the end of the console, not an error."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
