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


def _pack(data: bytes, compression: str) -> tuple[str, bytes, str]:
    """(sha256, stored bytes, compression) of one chunk; runs in a thread."""
    digest = hashlib.sha256(data).hexdigest()
    if compression == "zlib":
        packed = zlib.compress(data, 1)
        if len(packed) < len(data) * GIVE_UP_RATIO:
            return digest, packed, "zlib"
    return digest, data, "none"


def _zero(data: bytes) -> bool:
    return not data.strip(b"\0")


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
    chunks: list[Chunk] = []
    pending: set[asyncio.Task[None]] = set()
    slots = asyncio.Semaphore(IN_FLIGHT)

    async def store_chunk(chunk: Chunk, data: bytes) -> None:
        try:
            digest, packed, how = await asyncio.to_thread(_pack, data, compression)
            chunk.sha256 = digest
            old = known.get(chunk.offset)
            if old and old["sha256"] == digest and old["length"] == chunk.length:
                chunk.compression, chunk.object = old["compression"], old["object"]
                chunk.stored = old.get("stored", 0)
                return
            chunk.compression, chunk.stored = how, len(packed)
            await store.put(container, chunk.object or "", packed)
        finally:
            slots.release()

    size = reader.size
    for index, offset in enumerate(range(0, size, chunk_size)):
        length = min(chunk_size, size - offset)
        name = f"{prefix}-{index + 1:05d}"
        if _in_zero_extent(extents, offset, offset + length):
            chunks.append(Chunk(index, offset, length, zero_sha(length), "zero", None))
            continue
        await slots.acquire()
        _raise_failed(pending)
        data = await reader.read(offset, length)
        if _zero(data):
            slots.release()
            chunks.append(Chunk(index, offset, length, zero_sha(length), "zero", None))
            continue
        chunk = Chunk(index, offset, length, "", "", name)
        chunks.append(chunk)
        task = asyncio.create_task(store_chunk(chunk, data))
        pending.add(task)
        task.add_done_callback(pending.discard)
        if progress is not None:
            await progress(offset + length)
    if pending:
        await asyncio.gather(*pending)
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


async def own_objects(store: BackupStore, container: str, prefix: str) -> list[str]:
    """The objects a backup stored itself (its chunks and metadata)."""
    return [o.name async for o in store.list(container, prefix)]


async def delete(store: BackupStore, container: str, prefix: str) -> int:
    names = await own_objects(store, container, prefix)
    for name in names:
        await store.delete(container, name)
    return len(names)
