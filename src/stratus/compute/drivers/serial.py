"""Serial console connections (``base.SerialStream``): a guest's serial
socket, and the fake driver's echo."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from stratus.compute.drivers.base import DriverError

CHUNK = 4096


class SocketSerial:
    """The unix socket QEMU serves a guest's serial port on."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, path: Path, uuid: str) -> SocketSerial:
        try:
            reader, writer = await asyncio.open_unix_connection(str(path))
        except OSError as exc:
            raise DriverError(f"the serial console of guest {uuid} is not open: {exc}") from exc
        return cls(reader, writer)

    async def read(self) -> bytes:
        try:
            return await self.reader.read(CHUNK)
        except OSError:
            return b""

    async def write(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


class EchoSerial:
    """The fake driver's console: a banner line, then every byte typed comes
    back, as a terminal echoes."""

    def __init__(self, banner: bytes):
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.queue.put_nowait(banner)

    async def read(self) -> bytes:
        return await self.queue.get()

    async def write(self, data: bytes) -> None:
        self.queue.put_nowait(data)

    async def close(self) -> None:
        self.queue.put_nowait(b"")

