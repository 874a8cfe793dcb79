"""Streaming data into a store while hashing it and keeping what the format
inspector needs (the first megabyte and the last 512 bytes).

Data goes to the threads in ``BATCH`` pieces, double-buffered: while one
piece is hashed (md5 and sha512) and written, the event loop receives the
next, so receiving and hashing overlap instead of taking turns.  At most two
pieces are held at once."""

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
        self.pending: asyncio.Future[tuple[None, None, None]] | None = None  # in the threads

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
        await self.wait()  # pieces are hashed and written in order
        loop = asyncio.get_running_loop()
        # Both hashes and the write run at once: hashlib and os.write release the GIL.
        self.pending = asyncio.gather(
            loop.run_in_executor(self.pool, self.md5.update, data),
            loop.run_in_executor(self.pool, self.sha512.update, data),
            self.writer.write(data),
        )

    async def wait(self) -> None:
        """Until the piece in the threads is hashed and written (its error, if any)."""
        pending, self.pending = self.pending, None
        if pending is not None:
            await pending

    async def abandon(self) -> None:
        """Let the piece in the threads finish before the writer is aborted."""
        pending, self.pending = self.pending, None
        if pending is not None:
            await asyncio.gather(pending, return_exceptions=True)

    async def finish(self) -> Ingested:
        await self._flush()
        await self.wait()
        return Ingested(
            self.size, self.md5.hexdigest(), self.sha512.hexdigest(), bytes(self.head), self.tail
        )


async def ingest(
    source: AsyncIterator[bytes], writer: StoreWriter, pool: ThreadPoolExecutor, max_size: int
) -> Ingested:
    """Stream ``source`` into ``writer`` (not committed) and describe it."""
    job = Ingest(writer, pool, max_size)
    try:
        async for chunk in source:
            await job.feed(chunk)
        return await job.finish()
    except BaseException:
        await job.abandon()
        raise
