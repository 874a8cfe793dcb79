"""Streaming data into a store while hashing it and keeping what the format
inspector needs (the first megabyte and the last 512 bytes)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from stratus.image import formats
from stratus.image.drivers.base import StoreWriter
from stratus.image.errors import PayloadTooLarge

BATCH = 4 << 20  # hand data to the threads in 4 MiB pieces


@dataclass
class Ingested:
    size: int
    md5: str
    sha512: str
    head: bytes
    tail: bytes

    def inspect(self) -> formats.Inspection:
        return formats.inspect(self.head, self.tail, self.size)


class Ingest:
    def __init__(self, writer: StoreWriter, pool: ThreadPoolExecutor, max_size: int):
        self.writer = writer
        self.pool = pool
        self.max_size = max_size
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.sha512 = hashlib.sha512()
        self.size = 0
        self.head = bytearray()
        self.tail = b""
        self.buf = bytearray()

    async def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        self.size += len(chunk)
        if self.size > self.max_size:
            raise PayloadTooLarge(f"The image is larger than the {self.max_size}-byte limit.")
        if len(self.head) < formats.HEAD_BYTES:
            self.head += chunk[: formats.HEAD_BYTES - len(self.head)]
        self.buf += chunk
        if len(self.buf) >= BATCH:
            await self._flush()

    async def _flush(self) -> None:
        if not self.buf:
            return
        data, self.buf = self.buf, bytearray()
        self.tail = (self.tail + bytes(data[-formats.TAIL_BYTES :]))[-formats.TAIL_BYTES :]
        loop = asyncio.get_running_loop()
        # Both hashes and the write run at once: hashlib and os.write release the GIL.
        await asyncio.gather(
            loop.run_in_executor(self.pool, self.md5.update, data),
            loop.run_in_executor(self.pool, self.sha512.update, data),
            self.writer.write(data),
        )

    async def finish(self) -> Ingested:
        await self._flush()
        return Ingested(
            self.size, self.md5.hexdigest(), self.sha512.hexdigest(), bytes(self.head), self.tail
        )


async def ingest(
    source: AsyncIterator[bytes], writer: StoreWriter, pool: ThreadPoolExecutor, max_size: int
) -> Ingested:
    """Stream ``source`` into ``writer`` (not committed) and describe it."""
    job = Ingest(writer, pool, max_size)
    async for chunk in source:
        await job.feed(chunk)
    return await job.finish()
