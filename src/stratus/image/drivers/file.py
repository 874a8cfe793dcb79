"""The local file store: one file per image under a folder."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import functools
import os
import re
from collections import deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from stratus.common import directio

READ_CHUNK = 4 << 20
# Images at least this big are read around the page cache (O_DIRECT), like the
# object store's big objects and Swift's keep_cache_size: a download then costs
# a fraction of the kernel CPU, and one image does not evict the rest.
DIRECT_MIN = 8 << 20
READ_AHEAD = 2  # chunks read ahead of the one being sent
# Pieces written in ordinary (buffered) mode are handed to the kernel's
# writeback every DROP_EVERY bytes and dropped from the page cache once written
# (Swift's drop_buffer_cache): the final fsync has little left to flush, and
# an upload recycles a few megabytes of page cache instead of filling a
# gigabyte of fresh pages.
DROP_EVERY = 8 << 20
_KEY = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


def _path(root: Path, key: str) -> Path:
    if not _KEY.match(key) or key.startswith("."):
        raise ValueError(f"bad store key {key!r}")
    return root / key


def _open_for_reading(path: Path) -> tuple[int, int]:
    """The file opened as usual, and also with O_DIRECT when it is at least
    DIRECT_MIN bytes and the filesystem allows (else -1)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    direct = -1
    if os.fstat(fd).st_size >= DIRECT_MIN:
        with contextlib.suppress(OSError):
            direct = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_DIRECT)
    return fd, direct


def _read_chunk(fd: int, direct: int, position: int, want: int) -> bytes:
    if direct >= 0:
        with contextlib.suppress(OSError):  # refused after all: read as usual
            return directio.pread(direct, position, want)
    return os.pread(fd, want, position)


def _close(*fds: int) -> None:
    for fd in fds:
        if fd >= 0:
            os.close(fd)


class FileWriter:
    """Writes ``.KEY.partial`` and renames it to KEY on commit.

    The file is opened with O_DIRECT, and aligned pieces (the ingest's
    buffers) go straight from memory to the disk, around the page cache.  The
    first piece that is not aligned (the short last one, or any caller's
    bytes), or a filesystem that refuses O_DIRECT, switches the file to
    ordinary writes for the rest, dropped from the page cache behind."""

    def __init__(self, store: FileStore, key: str):
        self.store = store
        self.final = _path(store.root, key)
        self.partial = self.final.with_name(f".{key}.partial")
        self.fd: int | None = None
        self.direct = False  # the descriptor has O_DIRECT
        self.offset = 0  # bytes written
        self.advised = 0  # buffered: writeback started for [.., advised)
        self.dropped = 0  # buffered: asked to leave the page cache, [.., dropped)

    async def _run(self, fn, *args):  # type: ignore[no-untyped-def]
        return await asyncio.get_running_loop().run_in_executor(self.store.pool, fn, *args)

    def _open(self) -> int:
        if self.fd is None:
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
            try:
                self.fd = os.open(self.partial, flags | os.O_DIRECT, 0o600)
                self.direct = True
            except OSError as exc:
                if exc.errno != errno.EINVAL:  # EINVAL: no O_DIRECT on this filesystem
                    raise
                self.fd = os.open(self.partial, flags, 0o600)
        return self.fd

    def _buffered(self, fd: int) -> None:
        """Ordinary writes from here on."""
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_DIRECT)
        self.direct = False
        self.advised = self.dropped = self.offset

    def _write(self, data: bytes | bytearray | memoryview) -> None:
        fd = self._open()
        view = memoryview(data)
        if self.direct and not directio.aligned(view):
            self._buffered(fd)
        while view:
            try:
                written = os.write(fd, view)
            except OSError as exc:
                if not (self.direct and exc.errno == errno.EINVAL):
                    raise
                self._buffered(fd)  # the disk wants another alignment: nothing was written
                continue
            view = view[written:]
            self.offset += written
        if not self.direct and self.offset - self.advised >= DROP_EVERY:
            self._drop_cache(fd)

    def _drop_cache(self, fd: int) -> None:
        """DONTNEED starts writeback of dirty pages and drops clean ones: the
        range written since the last call starts its writeback, and the range
        whose writeback started last time (clean by now, mostly) is dropped."""
        os.posix_fadvise(fd, self.dropped, self.offset - self.dropped, os.POSIX_FADV_DONTNEED)
        self.dropped, self.advised = self.advised, self.offset

    async def write(self, data: bytes | bytearray | memoryview) -> None:
        await self._run(self._write, data)

    def _commit(self) -> None:
        fd = self._open()
        os.fsync(fd)
        os.close(fd)
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
        """The bytes from ``offset`` on, in chunks; the next READ_AHEAD chunks
        are read in the threads while the caller sends this one (O_DIRECT has
        no kernel readahead)."""
        loop = asyncio.get_running_loop()
        fd, direct = await loop.run_in_executor(self.pool, _open_for_reading, _path(self.root, key))
        end = None if length is None else offset + length
        position = offset  # of the next read
        pending: deque[tuple[Future[bytes], int]] = deque()  # reads in the threads, in order

        def fetch() -> None:
            nonlocal position
            want = READ_CHUNK if end is None else min(READ_CHUNK, end - position)
            if want > 0:
                pending.append((self.pool.submit(_read_chunk, fd, direct, position, want), want))
                position += want

        for _ in range(READ_AHEAD):
            fetch()
        try:
            while pending:
                data = await asyncio.wrap_future(pending[0][0], loop=loop)
                _, want = pending.popleft()
                if len(data) < want:  # the end of the file: the reads ahead find nothing
                    if data:
                        yield data
                    break
                fetch()
                yield data
        finally:
            # Reads still running in threads close the files when they are done.
            closing = functools.partial(_close, fd, direct)
            if pending:
                left = len(pending)

                def done(_: object) -> None:
                    nonlocal left
                    left -= 1
                    if not left:
                        closing()

                for future, _ in pending:
                    future.add_done_callback(done)
            else:
                closing()

    async def size(self, key: str) -> int | None:
        try:
            return _path(self.root, key).stat().st_size
        except FileNotFoundError:
            return None

    async def delete(self, key: str) -> None:
        path = _path(self.root, key)
        for name in (path, path.with_name(f".{key}.partial")):
            with contextlib.suppress(FileNotFoundError):
                name.unlink()

    async def sweep(self, keep: Callable[[str], bool], before: float) -> list[str]:
        return await asyncio.get_running_loop().run_in_executor(
            self.pool, self._sweep, keep, before
        )

    def _sweep(self, keep: Callable[[str], bool], before: float) -> list[str]:
        gone = []
        for entry in os.scandir(self.root):
            name = entry.name
            partial = name.startswith(".") and name.endswith(".partial")
            key = name[1 : -len(".partial")] if partial else name
            if not _KEY.match(key) or key.startswith("."):
                continue  # not a file of this store
            try:
                if entry.stat().st_mtime >= before or (not partial and keep(key)):
                    continue
                os.unlink(entry.path)
            except FileNotFoundError:
                continue
            gone.append(name)
        return gone

    def local_path(self, key: str) -> str | None:
        return str(_path(self.root, key))

    def close(self) -> None:
        self.pool.shutdown(wait=False)
