"""Backups as compressed, checksummed chunks in containers, laid out as
Cinder's chunked (Swift) backup driver does:

    volume_<volume id>/<YYYYmmddHHMMSS>/az_<zone>_backup_<backup id>-00001
    ...
    volume_<volume id>/<YYYYmmddHHMMSS>/az_<zone>_backup_<backup id>_metadata

The metadata object lists every chunk of the volume in order: its offset
and length, the SHA-256 of its data, how it is compressed (``zlib``,
``none`` where compressing would not pay, ``zero`` for a chunk of zeros,
which is not stored at all), and the object holding it.  An incremental
backup compares each chunk's hash with its parent's and stores only the
chunks that changed; the others name the parent's objects, which stay as
long as a backup depends on them (a backup with dependents cannot be
deleted).  Chunks stream: a few are in flight at once, never the volume.
A restore checks every chunk's hash before it writes it."""

from __future__ import annotations

import asyncio
import hashlib
import json
import struct
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from stratus.volume.drivers.base import BackupStore, BlockReader, BlockWriter, DriverError, Extent

VERSION = "1.0.0"
IN_FLIGHT = 4  # chunks being hashed, compressed or stored at once
GIVE_UP_RATIO = 0.95  # store a chunk uncompressed unless zlib saves 5%


class BackupDamaged(DriverError):
    pass


@dataclass
class Chunk:
    index: int
    offset: int
    length: int
    sha256: str
    compression: str  # zlib | none | zero
    object: str | None  # the object holding it (None for zeros)
    stored: int = 0

    def record(self) -> dict[str, Any]:
        return {
            "offset": self.offset,
            "length": self.length,
            "sha256": self.sha256,
            "compression": self.compression,
            "object": self.object,
            "stored": self.stored,
        }


def prefix_for(volume_id: str, backup_id: str, zone: str, when: datetime) -> str:
    return f"volume_{volume_id}/{when.strftime('%Y%m%d%H%M%S')}/az_{zone}_backup_{backup_id}"


def metadata_name(prefix: str) -> str:
    return f"{prefix}_metadata"


FRAME = 1 << 20  # chunks are compressed a frame at a time
SAMPLE = 8 << 10  # bytes of a frame tried before compressing it
STORED_MAX = 0xFFFF  # the longest stored deflate block


def _compressible(frame: memoryview) -> bool:
    """Whether zlib pays for this frame, judged on two samples (random or
    already compressed data is stored as it is: zlib runs at a few tens of
    MB/s on it, for nothing)."""
    if len(frame) <= 2 * SAMPLE:
        return True
    for start in (0, len(frame) // 2):
        if len(zlib.compress(frame[start : start + SAMPLE], 1)) < SAMPLE * GIVE_UP_RATIO:
            return True
    return False


def _stored(frame: memoryview) -> list[bytes | memoryview]:
    """A frame as non-final stored deflate blocks (byte-aligned)."""
    out: list[bytes | memoryview] = []
    for start in range(0, len(frame), STORED_MAX):
        piece = frame[start : start + STORED_MAX]
        out.append(struct.pack("<BHH", 0, len(piece), len(piece) ^ 0xFFFF))
        out.append(piece)
    return out


_ZERO_FRAMES: dict[int, bytes] = {}


def _zero_frame(length: int) -> bytes:
    """A frame of zeros, compressed (once: it is always the same)."""
    if length not in _ZERO_FRAMES:
        packer = zlib.compressobj(1, zlib.DEFLATED, -15)
        _ZERO_FRAMES[length] = packer.compress(bytes(length)) + packer.flush(zlib.Z_SYNC_FLUSH)
    return _ZERO_FRAMES[length]


def deflate(data: bytes) -> bytes:
    """A standard zlib stream (``zlib.decompress`` reads it) in which each
    frame is compressed on its own, or stored when it would not shrink.
    Each compressed frame starts a fresh compressor (no back-references
    across frames) and ends on a sync flush, so frames of both kinds can
    follow one another in one deflate stream."""
    view = memoryview(data)
    parts: list[bytes | memoryview] = [b"\x78\x01"]
    for start in range(0, len(view), FRAME):
        frame = view[start : start + FRAME]
        if _zero(frame):
            parts.append(_zero_frame(len(frame)))
        elif _compressible(frame):
            packer = zlib.compressobj(1, zlib.DEFLATED, -15)
            parts.append(packer.compress(frame) + packer.flush(zlib.Z_SYNC_FLUSH))
        else:
            parts.extend(_stored(frame))
    parts.append(b"\x01\x00\x00\xff\xff")  # the final, empty, stored block
    parts.append(struct.pack(">I", zlib.adler32(view)))
    return b"".join(parts)


def _pack(data: bytes, compression: str) -> tuple[str, bytes, str]:
    """(sha256, stored bytes, compression) of one chunk; runs in a thread."""
    if _zero(data):
        return zero_sha(len(data)), b"", "zero"
    digest = hashlib.sha256(data).hexdigest()
    if compression == "zlib":
        packed = deflate(data)
        if len(packed) < len(data) * GIVE_UP_RATIO:
            return digest, packed, "zlib"
    return digest, data, "none"


_ZEROS: dict[int, bytes] = {}


def _zero(data: bytes | memoryview) -> bool:
    zeros = _ZEROS.get(len(data))
    if zeros is None:
        zeros = _ZEROS[len(data)] = bytes(len(data))
    # bytes compare with memcmp; a memoryview compares element by element
    return (data.tobytes() if isinstance(data, memoryview) else data) == zeros


ZERO_SHA: dict[int, str] = {}


def zero_sha(length: int) -> str:
    if length not in ZERO_SHA:
        ZERO_SHA[length] = hashlib.sha256(bytes(length)).hexdigest()
    return ZERO_SHA[length]


def _in_zero_extent(extents: list[Extent], start: int, end: int) -> bool:
    for e in extents:
        if e.offset <= start and end <= e.offset + e.length:
            return e.zero
    return False


class _Uploads:
    """Chunks packed in threads and stored, at most IN_FLIGHT at once; a
    chunk the parent backup holds unchanged is shared, not stored again."""

    def __init__(
        self, store: BackupStore, container: str, compression: str, known: dict[int, Any]
    ):
        self.store = store
        self.container = container
        self.compression = compression
        self.known = known
        self.pending: set[asyncio.Task[None]] = set()
        self.slots = asyncio.Semaphore(IN_FLIGHT)

    async def slot(self) -> None:
        """Wait for room, and raise the failure of any chunk stored so far."""
        await self.slots.acquire()
        _raise_failed(self.pending)

    def add(self, chunk: Chunk, data: bytes) -> None:
        task = asyncio.create_task(self._store(chunk, data))
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def wait(self) -> None:
        if self.pending:
            await asyncio.gather(*self.pending)

    async def _store(self, chunk: Chunk, data: bytes) -> None:
        try:
            digest, packed, how = await asyncio.to_thread(_pack, data, self.compression)
            chunk.sha256 = digest
            if how == "zero":
                chunk.compression, chunk.object = "zero", None
                return
            old = self.known.get(chunk.offset)
            if old and old["sha256"] == digest and old["length"] == chunk.length:
                chunk.compression, chunk.object = old["compression"], old["object"]
                chunk.stored = old.get("stored", 0)
                return
            chunk.compression, chunk.stored = how, len(packed)
            await self.store.put(self.container, chunk.object or "", packed)
        finally:
            self.slots.release()


async def backup(
    reader: BlockReader,
    store: BackupStore,
    container: str,
    prefix: str,
    *,
    chunk_size: int,
    compression: str,
    parent: dict[str, Any] | None,
    header: dict[str, Any],
    progress: Callable[[int], Awaitable[None]] | None = None,
) -> dict[str, Any]:
    """Store the reader's bytes as chunks; returns the metadata it stored."""
    await store.ensure_container(container)
    extents = await reader.extents()
    known = {c["offset"]: c for c in (parent or {}).get("chunks", [])}
    if parent and parent.get("chunk_size") != chunk_size:
        known = {}  # another chunk size: nothing can be shared
    uploads = _Uploads(store, container, compression, known)
    chunks: list[Chunk] = []
    size = reader.size
    for index, offset in enumerate(range(0, size, chunk_size)):
        length = min(chunk_size, size - offset)
        if _in_zero_extent(extents, offset, offset + length):
            chunks.append(Chunk(index, offset, length, zero_sha(length), "zero", None))
            continue
        await uploads.slot()
        data = await reader.read(offset, length)
        chunk = Chunk(index, offset, length, "", "", f"{prefix}-{index + 1:05d}")
        chunks.append(chunk)
        uploads.add(chunk, data)
        if progress is not None:
            await progress(offset + length)
    await uploads.wait()
    meta = {
        **header,
        "version": VERSION,
        "chunk_size": chunk_size,
        "volume_size": size,
        "chunks": [c.record() for c in chunks],
    }
    await store.put(container, metadata_name(prefix), json.dumps(meta).encode())
    return meta


def _raise_failed(tasks: set[asyncio.Task[None]]) -> None:
    for task in list(tasks):
        if task.done() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]


async def load_metadata(store: BackupStore, container: str, prefix: str) -> dict[str, Any]:
    raw = await store.get(container, metadata_name(prefix))
    if raw is None:
        raise BackupDamaged(f"the backup's metadata object {metadata_name(prefix)} is missing")
    try:
        meta = json.loads(raw)
    except ValueError as exc:
        raise BackupDamaged("the backup's metadata object is damaged") from exc
    if not isinstance(meta, dict) or "chunks" not in meta:
        raise BackupDamaged("the backup's metadata object is not a backup's")
    return meta


def _unpack(chunk: dict[str, Any], raw: bytes) -> bytes:
    try:
        data = zlib.decompress(raw) if chunk["compression"] == "zlib" else raw
    except zlib.error as exc:
        raise BackupDamaged(f"the chunk at offset {chunk['offset']} is damaged: {exc}") from exc
    if len(data) != chunk["length"] or hashlib.sha256(data).hexdigest() != chunk["sha256"]:
        raise BackupDamaged(f"the chunk at offset {chunk['offset']} does not match its checksum")
    return data


async def restore(
    writer: BlockWriter, store: BackupStore, container: str, meta: dict[str, Any]
) -> None:
    """Write a backup's bytes into a volume, every chunk checked first.
    Chunks are fetched a few ahead and written in order."""
    if writer.size < meta["volume_size"]:
        raise DriverError("the volume is smaller than the backup")

    async def fetch(chunk: dict[str, Any]) -> bytes | None:
        if chunk["compression"] == "zero":
            return None
        raw = await store.get(container, chunk["object"])
        if raw is None:
            raise BackupDamaged(f"the backup's object {chunk['object']} is missing")
        return await asyncio.to_thread(_unpack, chunk, raw)

    chunks = meta["chunks"]
    queue: list[asyncio.Task[bytes | None]] = []
    try:
        for i, chunk in enumerate(chunks):
            while len(queue) < IN_FLIGHT and i + len(queue) < len(chunks):
                queue.append(asyncio.create_task(fetch(chunks[i + len(queue)])))
            data = await queue.pop(0)
            if data is None:
                await writer.write_zeroes(chunk["offset"], chunk["length"])
            else:
                await writer.write(chunk["offset"], data)
        if writer.size > meta["volume_size"]:
            await writer.write_zeroes(meta["volume_size"], writer.size - meta["volume_size"])
        await writer.flush()
    finally:
        for task in queue:
            task.cancel()


async def delete(store: BackupStore, container: str, prefix: str) -> int:
    """Remove the objects a backup stored itself (its chunks and metadata)."""
    names = [o.name async for o in store.list(container, prefix)]
    for name in names:
        await store.delete(container, name)
    return len(names)
