"""The expiry queue of a device: which objects stored here have an ``X-Delete-At``.

When an object with ``X-Delete-At`` is stored on a device (a PUT, a POST that
sets it, or a copy pushed by the replicator), an entry is written::

    DEVICE/expiring/<hour>/<delete_at>-<hash>-<policy>    msgpack [1, name, partition]

``<hour>`` is ``delete_at`` rounded down to the hour, so the expirer lists only
the hours that have passed, and names sort by time within an hour.  Entries
are only hints: the expirer deletes with ``X-If-Delete-At``, so an entry whose
object was since replaced, or given another ``X-Delete-At``, does nothing.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import msgpack

QUEUE_DIR = "expiring"
BUCKET = 3600


@dataclass(frozen=True, slots=True)
class Expiring:
    """One entry: an object of ``name`` to delete at ``delete_at``."""

    path: str
    name: str  # /account/container/object
    name_hash: str
    partition: int
    policy: int
    delete_at: int

    def split(self) -> tuple[str, str, str]:
        account, container, obj = self.name[1:].split("/", 2)
        return account, container, obj


def entry_path(device_root: str, delete_at: int, name_hash: str, policy: int) -> str:
    bucket = delete_at - delete_at % BUCKET
    return os.path.join(
        device_root, QUEUE_DIR, str(bucket), f"{delete_at:010d}-{name_hash}-{policy}"
    )


def add(
    device_root: str, name: str, name_hash: str, partition: int, policy: int, delete_at: int
) -> str:
    """Queue an object for expiry (blocking: fsyncs); a no-op when queued already."""
    path = entry_path(device_root, delete_at, name_hash, policy)
    if os.path.exists(path):
        return path
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(device_root, "tmp", f"expiring.{uuid.uuid4().hex}")
    os.makedirs(os.path.dirname(tmp), exist_ok=True)
    with open(tmp, "wb") as f:
        f.write(msgpack.packb([1, name, partition], use_bin_type=True))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return path


def due(device_root: str, now: float, limit: int = 10000) -> list[Expiring]:
    """Entries whose time has come, oldest first (at most ``limit``)."""
    return list(_walk(device_root, now, limit))


def _walk(device_root: str, now: float, limit: int) -> Iterator[Expiring]:
    top = os.path.join(device_root, QUEUE_DIR)
    try:
        buckets = sorted(int(b) for b in os.listdir(top) if b.isdigit())
    except FileNotFoundError:
        return
    count = 0
    for bucket in buckets:
        if bucket > now:
            return
        folder = os.path.join(top, str(bucket))
        try:
            names = sorted(os.listdir(folder))
        except FileNotFoundError:
            continue
        for name in names:
            entry = _read(os.path.join(folder, name))
            if entry is None:
                continue
            if entry.delete_at > now:
                return
            yield entry
            count += 1
            if count >= limit:
                return


def _read(path: str) -> Expiring | None:
    stem = os.path.basename(path)
    try:
        when, name_hash, policy = stem.split("-")
        with open(path, "rb") as f:
            version, name, partition = msgpack.unpackb(f.read(), raw=False)
    except (OSError, ValueError, msgpack.UnpackException):
        return None
    if version != 1 or not isinstance(name, str) or name.count("/") < 3:
        return None
    return Expiring(path, name, name_hash, int(partition), int(policy), int(when))


def remove(entry: Expiring) -> None:
    try:
        os.unlink(entry.path)
    except FileNotFoundError:
        pass
    try:
        os.rmdir(os.path.dirname(entry.path))
    except OSError:
        pass  # other entries in the hour
