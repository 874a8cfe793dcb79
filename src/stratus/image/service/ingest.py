"""Streaming data into a store while hashing it and keeping what the format
inspector needs (the first megabytes and the last 512 bytes).

Data goes to the threads in ``BATCH`` pieces along three lanes: md5, sha512
and the store's write.  Each lane takes the pieces in order, one at a time,
but the lanes do not wait for each other, and the event loop fills the next
piece meanwhile: receiving, hashing and writing overlap, and a core that
finishes its lane's piece early moves on to the next.  At most ``PIECES``
pieces are held; they are buffers allocated once per upload and filled in
place (a buffer grown chunk by chunk would be reallocated, and every new one
would fault in fresh pages, which costs more CPU than the copy), and
page-aligned, so that full pieces can be written with O_DIRECT."""

from __future__ import annotations

import asyncio
import hashlib
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from stratus.common import directio
from stratus.image import formats
from stratus.image.drivers.base import StoreWriter
from stratus.image.errors import PayloadTooLarge

BATCH = 8 << 20  # hand data to the threads in 8 MiB pieces
PIECES = 3  # buffers per upload: the one being filled and the ones in the lanes


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
        self.made = 0  # buffers allocated, up to PIECES
        self.free: list[memoryview] = []
        self.filling: memoryview | None = None
        self.filled = 0  # bytes in it
        # Pieces in the lanes, oldest first: the buffer and when all three are done.
        self.in_lanes: deque[tuple[memoryview, asyncio.Future[list[None]]]] = deque()
        self.last: list[asyncio.Task[None] | None] = [None, None, None]  # per lane

    async def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        self.size += len(chunk)
        if self.size > self.max_size:
            raise PayloadTooLarge(f"The image is larger than the {self.max_size}-byte limit.")
        if len(self.head) < formats.HEAD_BYTES:
            self.head += chunk[: formats.HEAD_BYTES - len(self.head)]
        view = memoryview(chunk)
        while view:
            if self.filling is None:
                self.filling = await self._buffer()
            n = min(len(view), BATCH - self.filled)
            self.filling[self.filled : self.filled + n] = view[:n]
            self.filled += n
            view = view[n:]
            if self.filled == BATCH:
                self._dispatch()

    async def _buffer(self) -> memoryview:
        """A buffer to fill: a free one, a new one, or the oldest piece's once
        its lanes are done with it (its error, if any)."""
        if self.free:
            return self.free.pop()
        if self.made < PIECES:
            self.made += 1
            return memoryview(directio.buffer(BATCH))
        buffer, done = self.in_lanes.popleft()
        await done
        return buffer

    def _dispatch(self) -> None:
        """Send the piece being filled down the three lanes."""
        if self.filling is None or not self.filled:
            return
        buffer, data = self.filling, self.filling[: self.filled]
        self.filling, self.filled = None, 0
        self.tail = (self.tail + bytes(data[-formats.TAIL_BYTES :]))[-formats.TAIL_BYTES :]
        loop = asyncio.get_running_loop()
        # hashlib and os.write release the GIL: the lanes run on separate cores.
        steps: list[Callable[[], Awaitable[object]]] = [
            lambda: loop.run_in_executor(self.pool, self.md5.update, data),
            lambda: loop.run_in_executor(self.pool, self.sha512.update, data),
            lambda: self.writer.write(data),
        ]
        tasks = []
        for lane, step in enumerate(steps):
            task = asyncio.ensure_future(_after(self.last[lane], step))
            self.last[lane] = task
            tasks.append(task)
        self.in_lanes.append((buffer, asyncio.gather(*tasks)))

    async def wait(self) -> None:
        """Until every piece in the lanes is hashed and written (the first
        error, if any)."""
        while self.in_lanes:
            buffer, done = self.in_lanes.popleft()
            await done
            self.free.append(buffer)

    async def abandon(self) -> None:
        """Let the pieces in the lanes finish before the writer is aborted.
        A lane runs its steps one after another, so its last step ending means
        the whole lane has: waiting on the pieces instead would miss the other
        lanes of a piece whose first failure already settled it."""
        self.in_lanes = deque()
        lanes = [task for task in self.last if task is not None]
        await asyncio.gather(*lanes, return_exceptions=True)

    async def finish(self) -> Ingested:
        self._dispatch()
        await self.wait()
        return Ingested(
            self.size, self.md5.hexdigest(), self.sha512.hexdigest(), bytes(self.head), self.tail
        )


async def _after(
    previous: asyncio.Task[None] | None, step: Callable[[], Awaitable[object]]
) -> None:
    """One lane's step, once the lane's previous step is done: a lane takes
    its pieces in order.  A failed step fails the rest of its lane."""
    if previous is not None:
        await previous
    await step()


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
