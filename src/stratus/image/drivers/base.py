"""The image store interface: where image data lives."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Protocol


class StoreWriter(Protocol):
    async def write(self, data: bytes | bytearray | memoryview) -> None:
        """Append data (large chunks: the caller batches)."""

    async def commit(self) -> None:
        """Make the data durable (fsynced) and visible under its key."""

    async def abort(self) -> None:
        """Drop what was written."""


class Store(Protocol):
    """Keeps image data by key.  Keys are image ids (plus a suffix for staged
    data); drivers never see image records."""

    name: str

    def writer(self, key: str) -> StoreWriter: ...

    def read(
        self, key: str, offset: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]: ...

    async def size(self, key: str) -> int | None:
        """The stored size, or None when the key holds nothing."""

    async def delete(self, key: str) -> None:
        """Remove the data, and what an unfinished write of it left; a
        missing key is not an error."""

    async def sweep(self, keep: Callable[[str], bool], before: float) -> list[str]:
        """Remove what was written before ``before`` (a time.time()) and is
        not kept: unfinished writes, and keys ``keep`` refuses.  The names
        removed (for the log)."""

    def local_path(self, key: str) -> str | None:
        """A filesystem path to the data when the store has one (for qemu-img)."""
