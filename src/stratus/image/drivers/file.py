"""The local file store: one file per image under a folder."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

READ_CHUNK = 1 << 20
_KEY = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


def _path(root: Path, key: str) -> Path:
    if not _KEY.match(key) or key.startswith("."):
        raise ValueError(f"bad store key {key!r}")
    return root / key


class FileWriter:
    def __init__(self, store: FileStore, key: str):
        self.store = store
        self.final = _path(store.root, key)
        self.partial = self.final.with_name(f".{key}.partial")
        self.fd: int | None = None

    async def _run(self, fn, *args):  # type: ignore[no-untyped-def]
        return await asyncio.get_running_loop().run_in_executor(self.store.pool, fn, *args)

    def _open(self) -> None:
        self.fd = os.open(self.partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)

    def _write(self, data: bytes | bytearray) -> None:
        if self.fd is None:
            self._open()
        assert self.fd is not None
        view = memoryview(data)
        while view:
            written = os.write(self.fd, view)
            view = view[written:]

    async def write(self, data: bytes | bytearray) -> None:
        await self._run(self._write, data)

    def _commit(self) -> None:
        if self.fd is None:
            self._open()
        assert self.fd is not None
        os.fsync(self.fd)
        os.close(self.fd)
        self.fd = None
        os.replace(self.partial, self.final)
        dir_fd = os.open(self.store.root, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    async def commit(self) -> None:
        await self._run(self._commit)

    def _abort(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.partial)

    async def abort(self) -> None:
        await self._run(self._abort)


class FileStore:
    name = "file"

    def __init__(self, root: Path, workers: int = 4):
        self.root = root
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="image-file")

    def writer(self, key: str) -> FileWriter:
        return FileWriter(self, key)

    async def read(
        self, key: str, offset: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        path = _path(self.root, key)
        fd = await loop.run_in_executor(self.pool, os.open, path, os.O_RDONLY)
        try:
            remaining = length
            position = offset
            while remaining is None or remaining > 0:
                want = READ_CHUNK if remaining is None else min(READ_CHUNK, remaining)
                data = await loop.run_in_executor(self.pool, os.pread, fd, want, position)
                if not data:
                    break
                position += len(data)
                if remaining is not None:
                    remaining -= len(data)
                yield data
        finally:
            os.close(fd)

    async def size(self, key: str) -> int | None:
        try:
            return _path(self.root, key).stat().st_size
        except FileNotFoundError:
            return None

    async def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            _path(self.root, key).unlink()

    def local_path(self, key: str) -> str | None:
        return str(_path(self.root, key))

    def close(self) -> None:
        self.pool.shutdown(wait=False)
