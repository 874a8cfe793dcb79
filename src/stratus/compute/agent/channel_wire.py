"""What both ends of the agent channel share: its error, the streamed file
transfer (SHA-256 checked, constant memory) and the diagnostics' JSON."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from stratus.compute.drivers.base import Diagnostics, DiskStats, NicStats

CHUNK = 1024 * 1024
CHECKSUM_HEADER = "X-Checksum-SHA256"


class ChannelError(Exception):
    """Another agent could not be reached or refused; the message says why."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _read_chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            yield chunk


async def file_chunks(path: Path) -> AsyncIterator[bytes]:
    """A file's bytes, read in a thread one chunk at a time."""
    chunks = _read_chunks(path)
    while True:
        chunk = await asyncio.to_thread(next, chunks, b"")
        if not chunk:
            return
        yield chunk


async def receive_file(chunks: AsyncIterator[bytes], target: Path, checksum: str) -> int:
    """Write a stream to ``target`` (through a partial file, fsynced, renamed
    into place only when its SHA-256 is ``checksum``); its size."""
    partial = target.with_name(target.name + ".partial")
    digest = hashlib.sha256()
    size = 0
    f = await asyncio.to_thread(open, partial, "wb")
    try:
        async for chunk in chunks:
            digest.update(chunk)
            size += len(chunk)
            await asyncio.to_thread(f.write, chunk)
        await asyncio.to_thread(f.flush)
        await asyncio.to_thread(os.fsync, f.fileno())
    except BaseException:
        f.close()
        partial.unlink(missing_ok=True)
        raise
    f.close()
    if digest.hexdigest() != checksum.lower():
        partial.unlink(missing_ok=True)
        raise ChannelError(f"the disk arrived damaged: SHA-256 {digest.hexdigest()} != {checksum}")
    partial.rename(target)
    return size


def diagnostics_from(doc: dict[str, Any]) -> Diagnostics:
    """The channel's JSON of a guest's diagnostics back into the dataclass."""
    return Diagnostics(
        **{
            **doc,
            "cpu_times": tuple(doc.get("cpu_times", ())),
            "disks": tuple(DiskStats(**d) for d in doc.get("disks", ())),
            "nics": tuple(NicStats(**n) for n in doc.get("nics", ())),
        }
    )


# -- the server ------------------------------------------------------------------------------
