"""The file store and the upload path into it: data of any shape is stored
byte for byte, with or without O_DIRECT, and read back in any range."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
import random
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from stratus.common import directio
from stratus.image.drivers import file as file_driver
from stratus.image.drivers.file import DIRECT_MIN, FileStore
from stratus.image.service import ingest as ingest_module
from stratus.image.service.ingest import BATCH, PIECES, ingest


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FileStore]:
    s = FileStore(tmp_path / "images")
    yield s
    s.close()


@pytest.fixture
def no_direct(monkeypatch: pytest.MonkeyPatch) -> None:
    """A filesystem that refuses O_DIRECT, as some do."""
    real_open = os.open

    def open_(path: object, flags: int, *args: object) -> int:
        if flags & os.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_open(path, flags, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(file_driver.os, "open", open_)


async def read_all(store: FileStore, key: str, offset: int = 0, length: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in store.read(key, offset, length)])


def aligned_piece(data: bytes) -> memoryview:
    buf = memoryview(directio.buffer(len(data)))
    buf[:] = data
    return buf


@pytest.mark.parametrize("direct", [True, False], ids=["o_direct", "no_o_direct"])
async def test_aligned_and_unaligned_pieces_are_stored_exactly(
    store: FileStore, request: pytest.FixtureRequest, direct: bool
) -> None:
    if not direct:
        request.getfixturevalue("no_direct")
    pieces = [os.urandom(1 << 20), os.urandom(4097), os.urandom(1 << 20), os.urandom(3)]
    writer = store.writer("img")
    await writer.write(aligned_piece(pieces[0]))  # aligned
    await writer.write(pieces[1])  # bytes, odd length: ordinary writes from here
    await writer.write(aligned_piece(pieces[2]))
    await writer.write(bytearray(pieces[3]))
    await writer.commit()
    assert await read_all(store, "img") == b"".join(pieces)
    assert sorted(p.name for p in store.root.iterdir()) == ["img"]  # no partial file left


async def test_abort_leaves_nothing(store: FileStore) -> None:
    writer = store.writer("img")
    await writer.write(aligned_piece(os.urandom(1 << 20)))
    await writer.abort()
    assert list(store.root.iterdir()) == []
    assert await store.size("img") is None


@pytest.mark.parametrize("direct", [True, False], ids=["o_direct", "no_o_direct"])
async def test_ranges_of_a_big_image(
    store: FileStore, request: pytest.FixtureRequest, direct: bool
) -> None:
    if not direct:
        request.getfixturevalue("no_direct")
    data = os.urandom(DIRECT_MIN + 3 * file_driver.READ_CHUNK + 12345)
    (store.root / "big").write_bytes(data)
    assert await read_all(store, "big") == data
    chunk = file_driver.READ_CHUNK
    for offset, length in [
        (0, 1),
        (1, 4095),
        (chunk - 7, 14),  # across a chunk boundary
        (chunk + 1, 2 * chunk + 5),
        (len(data) - 10, 10),
        (len(data) - 10, None),
        (12_345, None),
    ]:
        end = len(data) if length is None else offset + length
        assert await read_all(store, "big", offset, length) == data[offset:end], (offset, length)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_a_download_stopped_early_closes_its_files(store: FileStore) -> None:
    (store.root / "big").write_bytes(os.urandom(DIRECT_MIN + file_driver.READ_CHUNK))
    before = open_fds()
    reader = store.read("big")
    assert len(await reader.__anext__()) == file_driver.READ_CHUNK
    await reader.aclose()  # the next chunk may still be read in a thread
    for _ in range(100):
        if open_fds() == before:
            break
        await asyncio.sleep(0.01)
    assert open_fds() == before


async def chunks_of(data: bytes, seed: int) -> AsyncIterator[bytes]:
    """``data`` in chunks of odd, varying sizes, as a network delivers them."""
    rng = random.Random(seed)
    i = 0
    while i < len(data):
        n = rng.choice([1, 100, 4096, 65536, 262_144 + 3, 3 << 20])
        yield data[i : i + n]
        i += n


async def test_ingest_hashes_and_stores_across_pieces(store: FileStore) -> None:
    data = os.urandom((PIECES + 1) * BATCH + 4321)  # more pieces than buffers, and a tail
    pool = ThreadPoolExecutor(4)
    try:
        writer = store.writer("img")
        got = await ingest(chunks_of(data, 1), writer, pool, max_size=len(data))
        await writer.commit()
    finally:
        pool.shutdown()
    assert got.size == len(data)
    assert got.md5 == hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert got.sha512 == hashlib.sha512(data).hexdigest()
    assert got.head == data[: len(got.head)] and len(got.head) > 0
    assert got.tail == data[-len(got.tail) :] and len(got.tail) == 512
    assert await read_all(store, "img") == data


class FailingWriter:
    """Fails its second piece, after a while; counts what it was given."""

    def __init__(self) -> None:
        self.calls = 0

    async def write(self, data: bytes | bytearray | memoryview) -> None:
        self.calls += 1
        await asyncio.sleep(0.05)
        if self.calls == 2:
            raise OSError(errno.ENOSPC, "No space left on device")

    async def commit(self) -> None:
        raise AssertionError("never committed")

    async def abort(self) -> None:
        pass


async def test_a_failed_write_fails_the_ingest_and_nothing_keeps_running() -> None:
    data = os.urandom((PIECES + 2) * BATCH)
    writer = FailingWriter()
    pool = ThreadPoolExecutor(4)
    try:
        with pytest.raises(OSError, match="No space"):
            await ingest(chunks_of(data, 2), writer, pool, max_size=len(data))
        lanes = [t for t in asyncio.all_tasks() if t.get_coro().__name__ == "_after"]  # type: ignore[union-attr]
        assert all(t.done() for t in lanes)
        # The lane stops at its failed piece: the writer never sees a later one.
        calls = writer.calls
        await asyncio.sleep(0.2)
        assert writer.calls == calls == 2
    finally:
        pool.shutdown()


async def test_ingest_refuses_more_than_the_limit(store: FileStore) -> None:
    pool = ThreadPoolExecutor(2)
    writer = store.writer("img")
    try:
        with pytest.raises(ingest_module.PayloadTooLarge):
            await ingest(chunks_of(os.urandom(BATCH + 1), 3), writer, pool, max_size=BATCH)
    finally:
        await writer.abort()
        pool.shutdown()
    assert list(store.root.iterdir()) == []


async def test_sweep_removes_unfinished_and_unkept_writes_from_before_only(store: FileStore) -> None:
    import time

    root = store.root
    for name in ("kept", "old-image", ".old-image.partial", ".kept.partial", "new-image", ".new.partial"):
        (root / name).write_bytes(b"data")
    (root / "not a key!").write_bytes(b"someone else's")
    before = time.time()
    past = before - 60
    for name in ("kept", "old-image", ".old-image.partial", ".kept.partial", "not a key!"):
        os.utime(root / name, (past, past))
    for name in ("new-image", ".new.partial"):
        os.utime(root / name, (before + 1, before + 1))
    gone = await store.sweep({"kept"}.__contains__, before)
    assert sorted(gone) == [".kept.partial", ".old-image.partial", "old-image"]
    left = sorted(p.name for p in root.iterdir())
    # written after `before`: an upload begun since the start, left alone
    assert left == [".new.partial", "kept", "new-image", "not a key!"]


async def test_delete_takes_an_unfinished_write_with_it(store: FileStore) -> None:
    (store.root / "img").write_bytes(b"data")
    (store.root / ".img.partial").write_bytes(b"half")
    await store.delete("img")
    assert list(store.root.iterdir()) == []
