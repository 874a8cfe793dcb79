"""The blocking half of the object server: what runs in the node's thread pool
(one call per small request) on an ``ObjectDevice``."""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any

from stratus.objectstore.drivers.base import (
    ObjectDevice,
    ObjectMetadata,
    ObjectNotFound,
    ObjectReader,
    ObjectWriter,
)
from stratus.objectstore.drivers.timestamp import Timestamp
from stratus.objectstore.node.replies import NodeError

log = logging.getLogger(__name__)

SMALL = 256 * 1024  # bodies read or written whole, in one hop
CHUNK = 1 << 20  # the unit of streamed reads and writes
# Objects at least this big are read around the page cache (O_DIRECT): like
# Swift's keep_cache_size, big objects are not kept in memory, and reading
# them so costs a fraction of the kernel CPU of filling the cache.
DIRECT_MIN = 8 << 20
DIRECT_CHUNK = CHUNK  # 4 MiB reads were barely faster and held 4x the memory


def commit_checked(
    writer: ObjectWriter,
    name: str,
    ts: Timestamp,
    content_type: str,
    keep: dict[str, str],
    expected: str | None,
) -> ObjectMetadata:
    if expected is not None and writer.etag != expected:
        raise NodeError(422, "Unprocessable Entity: the ETag does not match the body")
    return writer.commit(name, ts, content_type, keep)


def open_writer(args: tuple[Any, ...], size: int | None) -> ObjectWriter:
    """A writer for a PUT, after checking it is newer than what is stored (409)
    and, with ``If-None-Match: *``, that nothing is (412)."""
    dev, partition, name_hash, ts, if_none_match = args
    stored, is_data = dev.current(partition, name_hash)
    if stored is not None and stored >= ts:
        raise NodeError(409, "", {"x-backend-timestamp": stored.internal})
    if if_none_match and is_data and stored is not None:
        raise NodeError(412, "", {"x-backend-timestamp": stored.internal})
    return dev.writer(partition, name_hash, size)


def put_whole(args: tuple[Any, ...], data: bytes, commit: tuple[Any, ...]) -> ObjectMetadata:
    """A small PUT in one call: check, write, fsync, rename."""
    writer = open_writer(args, len(data))
    try:
        writer.write(data)
        return commit_checked(writer, *commit)
    finally:
        writer.abort()


def finish(writer: ObjectWriter, data: bytes, commit: tuple[Any, ...]) -> ObjectMetadata:
    if data:
        writer.write(data)
    return commit_checked(writer, *commit)


def open_object(
    dev: ObjectDevice, partition: int, name_hash: str, read_small: bool
) -> tuple[ObjectReader, bytes | None]:
    reader = open_live(dev, partition, name_hash)
    if read_small and reader.size <= SMALL:
        try:
            data = reader.read()
        except BaseException:
            reader.close()
            raise
        if hashlib.md5(data, usedforsecurity=False).hexdigest() != reader.metadata.etag:
            # Corrupted on disk: never serve it; the replicator restores a copy.
            reader.close()
            dev.quarantine(partition, name_hash)
            log.warning("quarantined %s: its MD5 does not match its ETag", reader.path)
            raise NodeError(404)
        return reader, data
    return reader, None


def open_live(dev: ObjectDevice, partition: int, name_hash: str) -> ObjectReader:
    """The object unless missing, deleted or expired (404)."""
    try:
        reader = dev.open(partition, name_hash)
    except ObjectNotFound as e:
        headers = {"x-backend-timestamp": e.tombstone.internal} if e.tombstone else {}
        raise NodeError(404, "", headers) from None
    when = delete_at(reader.metadata)
    if when is not None and when <= time.time():
        reader.close()
        raise NodeError(404, "", {"x-backend-timestamp": reader.metadata.timestamp.internal})
    return reader


def pread(reader: ObjectReader, pos: int, end: int) -> bytes:
    data = None
    if reader.size >= DIRECT_MIN:
        data = reader.pread_direct(pos, min(DIRECT_CHUNK, end - pos))
    if not data:
        data = reader.pread(pos, min(CHUNK, end - pos))
    if not data:
        raise OSError(f"{reader.path}: shorter than its metadata says")
    return data


def delete_object(
    dev: ObjectDevice,
    partition: int,
    name_hash: str,
    name: str,
    ts: Timestamp,
    if_delete_at: str | None,
) -> bool:
    """Write the tombstone; True when a live object was there."""
    stored, is_data = dev.current(partition, name_hash)
    if stored is not None and stored >= ts:
        raise NodeError(409, "", {"x-backend-timestamp": stored.internal})
    existed = False
    if is_data:
        try:
            with dev.open(partition, name_hash) as reader:
                stored_at = delete_at(reader.metadata)
            existed = stored_at is None or stored_at > time.time()
        except ObjectNotFound:
            stored_at = None
        if if_delete_at is not None and str(stored_at) != if_delete_at.strip():
            raise NodeError(412, "X-If-Delete-At does not match")
    elif if_delete_at is not None:
        raise NodeError(404)
    dev.delete(partition, name_hash, name, ts)
    return existed


def post_object(
    dev: ObjectDevice,
    partition: int,
    name_hash: str,
    name: str,
    ts: Timestamp,
    headers: dict[str, str],
    content_type: str,
) -> None:
    with open_live(dev, partition, name_hash) as reader:
        meta = reader.metadata
    stored = meta.meta_timestamp or meta.timestamp
    if stored >= ts:
        raise NodeError(409, "", {"x-backend-timestamp": stored.internal})
    dev.post(partition, name_hash, name, ts, headers, content_type)


def delete_at(meta: ObjectMetadata) -> int | None:
    try:
        return meta.delete_at
    except ValueError:
        return None
