"""An in-memory store, for unit tests only."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable


class FakeWriter:
    def __init__(self, store: FakeStore, key: str):
        self.store, self.key, self.buf = store, key, bytearray()

    async def write(self, data: bytes | bytearray | memoryview) -> None:
        self.buf += data

    async def commit(self) -> None:
        self.store.blobs[self.key] = bytes(self.buf)

    async def abort(self) -> None:
        self.buf.clear()


class FakeStore:
    name = "fake"

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def writer(self, key: str) -> FakeWriter:
        return FakeWriter(self, key)

    async def read(
        self, key: str, offset: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        data = self.blobs[key]
        end = len(data) if length is None else offset + length
        yield data[offset:end]

    async def size(self, key: str) -> int | None:
        blob = self.blobs.get(key)
        return None if blob is None else len(blob)

    async def delete(self, key: str) -> None:
        self.blobs.pop(key, None)

    async def sweep(self, keep: Callable[[str], bool], before: float) -> list[str]:
        gone = [key for key in self.blobs if not keep(key)]
        for key in gone:
            del self.blobs[key]
        return gone

    def local_path(self, key: str) -> str | None:
        return None
