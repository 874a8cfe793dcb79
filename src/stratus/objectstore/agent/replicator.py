"""The object replicator: makes every primary of a partition hold what this
node holds, and hands off partitions this node is not a primary for.

For each partition of each local device (and policy):

1. The local suffix hashes (rehashing every suffix on the first pass after a
   start, since a crash may have lost invalidations).
2. For each other primary (all primaries when this device is a handoff): its
   suffix hashes (``hashes``).  Equal suffixes are in sync.  For the others,
   its files (``list``), compared folder by folder with the local ones; each
   local file the remote lacks, and not older than the remote's current
   version, is pushed (``sync``): ``.data`` with its bytes, ``.ts`` and
   ``.meta`` as metadata alone.  The remote checks each body's MD5 against its
   ETag; a 422 means the local copy is corrupt, and it is quarantined.
3. A handoff partition that every primary has accepted is removed here.

Replication is push-only, as in Swift: each node pushes what it has, so a
node that lost a copy gets it back from any node that still has it.  See
:mod:`stratus.objectstore.node.replication` for the requests.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import msgpack

from stratus.objectstore.agent.base import LocalDevice, Worker
from stratus.objectstore.drivers.diskfile import DiskDevice
from stratus.objectstore.drivers.hashes import parse_name
from stratus.objectstore.node.protocol import NodeRequest
from stratus.objectstore.node.replication import (
    OP,
    SYNC_FILE,
    SYNC_METADATA,
    metadata_to_header,
)
from stratus.objectstore.ring.ring import Device

if TYPE_CHECKING:
    from stratus.objectstore.node.server import StorageNode

log = logging.getLogger(__name__)

CHUNK = 1 << 20
_POLICY_DIR = re.compile(r"^objects(?:-(\d+))?$")


@dataclass
class ReplicationStats:
    partitions: int = 0
    suffixes_synced: int = 0
    files_pushed: int = 0
    handoffs_removed: int = 0
    failures: int = 0
    quarantined: int = 0
    pushed: list[str] = field(default_factory=list)  # file paths, for tests and logs

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]


def policies_on(root: str) -> list[int]:
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return []
    found = []
    for name in names:
        match = _POLICY_DIR.match(name)
        if match:
            found.append(int(match.group(1) or 0))
    return sorted(found)


class ObjectReplicator(Worker):
    name = "object-replicator"

    def __init__(self, node: StorageNode, *, concurrency: int = 4, timeout: float = 30.0) -> None:
        super().__init__(node, timeout=timeout)
        self.concurrency = concurrency
        self.stats = ReplicationStats()
        self._rehashed: set[str] = set()  # devices rehashed in full since start

    async def run_once(self) -> None:
        started = time.monotonic()
        self.stats.reset()
        ring = self.ring("object")
        if ring is None:
            return
        limit = asyncio.Semaphore(self.concurrency)
        jobs = []
        for local in self.devices():
            full = local.root not in self._rehashed
            for policy in policies_on(local.root):
                dev = await asyncio.to_thread(self.disk_device, local.name, policy)
                for part in await asyncio.to_thread(dev.hashes.partitions):
                    jobs.append(self._guarded(limit, local, dev, policy, part, full))
            self._rehashed.add(local.root)
        await asyncio.gather(*jobs)
        self._passed(started)
        if self.stats.files_pushed or self.stats.handoffs_removed or self.stats.failures:
            log.info(
                "%s: %d partitions, %d files pushed, %d handoffs removed, %d failures",
                self.name,
                self.stats.partitions,
                self.stats.files_pushed,
                self.stats.handoffs_removed,
                self.stats.failures,
            )

    async def _guarded(
        self,
        limit: asyncio.Semaphore,
        local: LocalDevice,
        dev: DiskDevice,
        policy: int,
        part: int,
        full: bool,
    ) -> None:
        async with limit:
            try:
                await self.replicate_partition(local, dev, policy, part, full)
            except Exception:
                self.stats.failures += 1
                log.exception("%s: partition %s of %s failed", self.name, part, local.name)

    async def replicate_partition(
        self, local: LocalDevice, dev: DiskDevice, policy: int, part: int, full: bool = False
    ) -> None:
        ring = self.ring("object")
        if ring is None or part >= ring.partitions:
            return
        self.stats.partitions += 1
        primaries = ring.nodes(part)
        handoff = not any(self.is_me(d, local.name) for d in primaries)
        targets = [d for d in primaries if not self.is_me(d, local.name)]
        hashes = await asyncio.to_thread(dev.hashes.get, part, full)
        results = [await self._sync_to(dev, policy, part, hashes, t) for t in targets]
        if not handoff or not all(results):
            return
        # Every primary has it all: the handoff copy can go, unless a write
        # landed meanwhile (then the next pass pushes that too).
        if await asyncio.to_thread(dev.hashes.get, part) == hashes:
            pdir = os.path.join(dev.objects_dir, str(part))
            await asyncio.to_thread(shutil.rmtree, pdir, True)
            self.stats.handoffs_removed += 1
            log.info("%s: handed off partition %s of %s", self.name, part, local.name)

    async def _sync_to(
        self, dev: DiskDevice, policy: int, part: int, hashes: dict[str, str], target: Device
    ) -> bool:
        """Push what ``target`` lacks of the partition; True when it has it all."""
        remote = await self._ask(target, part, policy, {})
        if remote is None:
            self.stats.failures += 1
            return False
        differ = sorted(s for s, h in hashes.items() if remote.get(s) != h)
        if not differ:
            return True
        theirs = await self._ask(target, part, policy, {"suffixes": ",".join(differ)}, "list")
        if theirs is None:
            self.stats.failures += 1
            return False
        mine = await asyncio.to_thread(dev.list_files, part, differ)
        ok = True
        for suffix in differ:
            remote_dirs = theirs.get(suffix, {})
            for name_hash, files in mine.get(suffix, {}).items():
                for filename in to_push(files, remote_dirs.get(name_hash, [])):
                    ok &= await self._push(dev, policy, part, name_hash, filename, target)
            self.stats.suffixes_synced += 1
        return ok

    async def _ask(
        self,
        target: Device,
        part: int,
        policy: int,
        query: dict[str, str],
        op: str = "hashes",
    ) -> dict[str, dict[str, list[str]]] | None:
        headers = {OP: op, "x-backend-storage-policy-index": str(policy)}
        req = NodeRequest("POST", target.device, part, "objects", headers=headers, query=query)
        resp = await self.call(target, req)
        if resp is None:
            return None
        body = await resp.read()
        if resp.status != 200:
            return None
        data = msgpack.unpackb(body, raw=False)
        return data if isinstance(data, dict) else None

    async def _push(
        self,
        dev: DiskDevice,
        policy: int,
        part: int,
        name_hash: str,
        filename: str,
        target: Device,
    ) -> bool:
        path = os.path.join(dev.hash_dir(part, name_hash), filename)
        try:
            meta = await asyncio.to_thread(dev.read_metadata, path)
        except FileNotFoundError:
            return True  # replaced meanwhile; the next pass pushes the new one
        except (ValueError, KeyError, TypeError, OSError, msgpack.UnpackException) as e:
            await self._quarantine(dev, part, name_hash, f"unreadable metadata: {e}")
            return False
        account, container, obj = meta.name[1:].split("/", 2)
        headers = {
            OP: "sync",
            SYNC_FILE: filename,
            SYNC_METADATA: metadata_to_header(meta),
            "x-backend-storage-policy-index": str(policy),
        }
        body = None
        if filename.endswith(".data"):
            headers["content-length"] = str(meta.content_length)
            body = _file_body(path, meta.content_length)
        req = NodeRequest("POST", target.device, part, account, container, obj, headers, {}, body)
        resp = await self.call(target, req)
        if resp is None:
            self.stats.failures += 1
            return False
        await resp.read()
        if resp.status == 422:
            await self._quarantine(dev, part, name_hash, "its MD5 does not match its ETag")
            return False
        if resp.status // 100 != 2:
            self.stats.failures += 1
            log.warning("%s: pushing %s answered %s", self.name, path, resp.status)
            return False
        self.stats.files_pushed += 1
        self.stats.pushed.append(path)
        return True

    async def _quarantine(self, dev: DiskDevice, part: int, name_hash: str, why: str) -> None:
        try:
            where = await asyncio.to_thread(dev.quarantine, part, name_hash)
        except FileNotFoundError:
            return
        self.stats.quarantined += 1
        log.warning("%s: quarantined %s (%s)", self.name, where, why)


def to_push(mine: list[str], theirs: list[str]) -> list[str]:
    """The local files (that count) a remote folder lacks, oldest first, leaving
    out those that the remote's newer files make obsolete."""
    have = set(theirs)
    winner = max((parse_name(n)[0] for n in theirs if not n.endswith(".meta")), default=None)
    meta = max((parse_name(n)[0] for n in theirs if n.endswith(".meta")), default=None)
    out = []
    for name in mine:
        if name in have:
            continue
        ts = parse_name(name)[0]
        if winner is not None and ts < winner:
            continue
        if name.endswith(".meta") and meta is not None and ts < meta:
            continue
        out.append(name)
    return sorted(out, key=lambda n: (parse_name(n)[0], n.endswith(".meta")))


async def _file_body(path: str, length: int) -> AsyncIterator[bytes]:
    fd = await asyncio.to_thread(os.open, path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        pos = 0
        while pos < length:
            chunk = await asyncio.to_thread(os.pread, fd, min(CHUNK, length - pos), pos)
            if not chunk:
                raise OSError(f"{path}: shorter than its metadata says")
            pos += len(chunk)
            yield chunk
    finally:
        os.close(fd)
