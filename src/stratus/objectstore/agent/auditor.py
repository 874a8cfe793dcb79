"""The auditor: finds corrupted copies and quarantines them.

Every object's current ``.data`` is read back and its MD5 and size compared
with the metadata stored with it (its ETag and Content-Length); unreadable
metadata (``.data``, ``.meta`` or ``.ts``) counts as corrupt too.  A corrupt
copy's folder moves to ``DEVICE/quarantined/objects/`` (one warning per
copy), its suffix hash changes, and the replicator pushes a good copy back
from another replica.  Reads are limited to ``bytes_per_second`` (and
``files_per_second``) so that auditing never starves clients.

Container and account databases get SQLite's ``PRAGMA quick_check``; a
failure is logged (the database stays in place: it is open in the server).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import sqlite3
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import msgpack

from stratus.objectstore.agent.base import RateLimiter, Worker
from stratus.objectstore.agent.dbreplicator import find_databases
from stratus.objectstore.agent.replicator import policies_on
from stratus.objectstore.drivers.diskfile import DiskDevice
from stratus.objectstore.drivers.hashes import select_files

if TYPE_CHECKING:
    from stratus.objectstore.node.server import StorageNode

log = logging.getLogger(__name__)

CHUNK = 1 << 20


@dataclass
class AuditStats:
    files: int = 0
    bytes: int = 0
    quarantined: list[str] = field(default_factory=list)  # where each copy went
    bad_databases: list[str] = field(default_factory=list)


class Auditor(Worker):
    name = "auditor"

    def __init__(
        self,
        node: StorageNode,
        *,
        bytes_per_second: float = 10 * 1024 * 1024,
        files_per_second: float = 200,
        check_databases: bool = True,
    ) -> None:
        super().__init__(node)
        self.bytes_limit = RateLimiter(bytes_per_second)
        self.files_limit = RateLimiter(files_per_second)
        self.check_databases = check_databases
        self.stats = AuditStats()

    async def run_once(self) -> None:
        started = time.monotonic()
        self.stats = AuditStats()
        for local in self.devices():
            for policy in policies_on(local.root):
                dev = await asyncio.to_thread(self.disk_device, local.name, policy)
                await asyncio.to_thread(self.audit_device, dev)
            if self.check_databases:
                await asyncio.to_thread(self.audit_databases, local.root)
        self._passed(started)
        log.info(
            "%s: %d files, %d bytes checked, %d quarantined",
            self.name,
            self.stats.files,
            self.stats.bytes,
            len(self.stats.quarantined),
        )

    # -- objects (blocking) ------------------------------------------------------------

    def audit_device(self, dev: DiskDevice) -> None:
        for part in dev.hashes.partitions():
            for suffix in dev.hashes.suffixes(part):
                for name_hash in dev.hashes.hash_dirs(part, suffix):
                    self.audit_object(dev, part, name_hash)

    def audit_object(self, dev: DiskDevice, part: int, name_hash: str) -> bool:
        """Check one object's current files; False when it was quarantined."""
        hdir = dev.hash_dir(part, name_hash)
        try:
            keep, _ = select_files(os.listdir(hdir), None)
        except (FileNotFoundError, NotADirectoryError):
            return True
        for name in keep:
            path = os.path.join(hdir, name)
            self.files_limit.wait(1)
            try:
                problem = self._check(dev, path)
            except FileNotFoundError:
                return True  # replaced by a newer version meanwhile
            if problem is not None:
                try:
                    where = dev.quarantine(part, name_hash)
                except FileNotFoundError:
                    return True
                self.stats.quarantined.append(where)
                log.warning("%s: quarantined %s to %s: %s", self.name, path, where, problem)
                return False
        return True

    def _check(self, dev: DiskDevice, path: str) -> str | None:
        """What is wrong with one file, or None."""
        self.stats.files += 1
        try:
            meta = dev.read_metadata(path)
        except FileNotFoundError:
            raise
        except (ValueError, KeyError, TypeError, OSError, msgpack.UnpackException) as e:
            return f"unreadable metadata ({e})"
        if not path.endswith(".data"):
            return None
        md5 = hashlib.md5(usedforsecurity=False)
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            pos, size = 0, meta.content_length
            while pos < size:
                chunk = os.pread(fd, min(CHUNK, size - pos), pos)
                if not chunk:
                    return f"{pos} bytes, not {size}"
                md5.update(chunk)
                pos += len(chunk)
                self.stats.bytes += len(chunk)
                self.bytes_limit.wait(len(chunk))
        finally:
            os.close(fd)
        if md5.hexdigest() != meta.etag:
            return f"MD5 {md5.hexdigest()} but ETag {meta.etag}"
        return None

    # -- databases (blocking) ------------------------------------------------------------

    def audit_databases(self, root: str) -> None:
        for kind in ("containers", "accounts"):
            for _, _, path in find_databases(root, kind):
                self.files_limit.wait(1)
                problem = _quick_check(path)
                if problem is not None:
                    self.stats.bad_databases.append(path)
                    log.error("%s: %s fails its integrity check: %s", self.name, path, problem)


def _quick_check(path: str) -> str | None:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=25)
    except sqlite3.Error as e:
        return str(e)
    try:
        rows = conn.execute("PRAGMA quick_check").fetchall()
    except sqlite3.DatabaseError as e:
        return str(e)
    finally:
        conn.close()
    if rows != [("ok",)]:
        return "; ".join(str(r[0]) for r in rows[:5])
    return None
