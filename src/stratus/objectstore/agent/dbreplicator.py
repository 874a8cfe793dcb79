"""The container and account replicators: databases kept in step with sync points.

For each local database (``DEVICE/containers/<part>/<suffix>/<hash>/<hash>.db``,
and ``accounts``), and each other primary of its partition (every primary
when this device is a handoff):

1. ``db-sync`` sends this database's id, timestamps and metadata; the remote
   merges them and answers how far it has merged this database's rows (its
   incoming sync point for this id), or 404 when it has no such database.
2. 404: the whole database goes over (``db-file``, a consistent copy made
   with SQLite's backup).  Far behind (more than ``far_behind`` rows): the same
   copy, which the remote merges.  Otherwise the rows after its sync point,
   ``batch`` at a time (``db-merge``); each batch moves the sync point.
3. A handoff database that every primary has is removed here.

Deleted rows older than ``reclaim_age`` are reclaimed on the way.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import msgpack
import orjson

from stratus.objectstore.agent.base import LocalDevice, Worker
from stratus.objectstore.drivers.database import Database
from stratus.objectstore.drivers.timestamp import Timestamp
from stratus.objectstore.node.dbsync import DB_ID, db_state, rows_to_wire, snapshot
from stratus.objectstore.node.protocol import NodeRequest
from stratus.objectstore.node.replication import OP
from stratus.objectstore.ring.ring import Device

if TYPE_CHECKING:
    from stratus.objectstore.node.server import StorageNode

log = logging.getLogger(__name__)

RING_OF = {"containers": "container", "accounts": "account"}


@dataclass
class DbStats:
    databases: int = 0
    rows_sent: int = 0
    files_sent: int = 0
    handoffs_removed: int = 0
    failures: int = 0


def find_databases(root: str, kind: str) -> list[tuple[int, str, str]]:
    """``(partition, hash, path)`` of a device's databases of ``kind``."""
    top = os.path.join(root, kind)
    found = []
    try:
        parts = [p for p in os.listdir(top) if p.isdigit()]
    except FileNotFoundError:
        return []
    for part in sorted(parts, key=int):
        try:
            suffixes = os.listdir(os.path.join(top, part))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for suffix in sorted(suffixes):
            try:
                hashes = os.listdir(os.path.join(top, part, suffix))
            except (FileNotFoundError, NotADirectoryError):
                continue
            for name_hash in sorted(hashes):
                path = os.path.join(top, part, suffix, name_hash, name_hash + ".db")
                if os.path.exists(path):
                    found.append((int(part), name_hash, path))
    return found


class DatabaseReplicator(Worker):
    name = "db-replicator"

    def __init__(
        self,
        node: StorageNode,
        *,
        kinds: tuple[str, ...] = ("containers", "accounts"),
        batch: int = 1000,
        far_behind: int = 100_000,
        reclaim_age: float = 7 * 86400,
        concurrency: int = 4,
        timeout: float = 30.0,
    ) -> None:
        super().__init__(node, timeout=timeout)
        self.kinds = kinds
        self.batch = batch
        self.far_behind = far_behind
        self.reclaim_age = reclaim_age
        self.concurrency = concurrency
        self.stats = DbStats()

    async def run_once(self) -> None:
        started = time.monotonic()
        self.stats = DbStats()
        limit = asyncio.Semaphore(self.concurrency)
        jobs = []
        for local in self.devices():
            for kind in self.kinds:
                if self.ring(RING_OF[kind]) is None:
                    continue
                for part, name_hash, path in await asyncio.to_thread(
                    find_databases, local.root, kind
                ):
                    jobs.append(self._guarded(limit, local, kind, part, name_hash, path))
        await asyncio.gather(*jobs)
        self._passed(started)
        if self.stats.rows_sent or self.stats.files_sent or self.stats.failures:
            log.info(
                "%s: %d databases, %d rows and %d files sent, %d failures",
                self.name,
                self.stats.databases,
                self.stats.rows_sent,
                self.stats.files_sent,
                self.stats.failures,
            )

    async def _guarded(
        self,
        limit: asyncio.Semaphore,
        local: LocalDevice,
        kind: str,
        part: int,
        name_hash: str,
        path: str,
    ) -> None:
        async with limit:
            try:
                await self.replicate_database(local, kind, part, name_hash, path)
            except Exception:
                self.stats.failures += 1
                log.exception("%s: %s failed", self.name, path)

    async def replicate_database(
        self, local: LocalDevice, kind: str, part: int, name_hash: str, path: str
    ) -> None:
        ring = self.ring(RING_OF[kind])
        if ring is None or part >= ring.partitions:
            return
        self.stats.databases += 1
        db = await asyncio.to_thread(self.node.dbs.of_kind, path, kind)
        if not isinstance(db, Database):
            raise TypeError(
                f"{self.name} works on files: the node's databases are not SQLite files"
            )
        before = Timestamp(time.time() - self.reclaim_age)
        await asyncio.to_thread(db.reclaim, before)
        primaries = ring.nodes(part)
        handoff = not any(self.is_me(d, local.name) for d in primaries)
        targets = [d for d in primaries if not self.is_me(d, local.name)]
        results = [await self._sync_to(db, local, kind, part, name_hash, t) for t in targets]
        if handoff and all(results):
            self.node.dbs.discard(path)
            await asyncio.to_thread(shutil.rmtree, os.path.dirname(path), True)
            self.stats.handoffs_removed += 1
            log.info("%s: handed off %s", self.name, path)

    async def _sync_to(
        self,
        db: Database,
        local: LocalDevice,
        kind: str,
        part: int,
        name_hash: str,
        target: Device,
    ) -> bool:
        state = await asyncio.to_thread(db_state, db)
        resp = await self._send(target, kind, part, name_hash, "db-sync", orjson.dumps(state))
        if resp is None:
            return False
        status, body = resp
        if status == 404:
            return await self._send_file(db, local, kind, part, name_hash, target, state["id"])
        if status != 200:
            self.stats.failures += 1
            return False
        point = int(orjson.loads(body)["point"])
        if state["max_row"] - point > self.far_behind:
            return await self._send_file(db, local, kind, part, name_hash, target, state["id"])
        while True:
            rows = await asyncio.to_thread(db.get_items_since, point, self.batch)  # type: ignore[attr-defined]
            if not rows:
                return True
            blob = msgpack.packb(
                {"source": state["id"], "rows": rows_to_wire(rows)}, use_bin_type=True
            )
            resp = await self._send(target, kind, part, name_hash, "db-merge", blob)
            if resp is None or resp[0] // 100 != 2:
                self.stats.failures += resp is not None
                return False
            self.stats.rows_sent += len(rows)
            point = rows[-1].row_id

    async def _send_file(
        self,
        db: Database,
        local: LocalDevice,
        kind: str,
        part: int,
        name_hash: str,
        target: Device,
        db_id: str,
    ) -> bool:
        tmp = os.path.join(local.root, "tmp", f"dbcopy.{uuid.uuid4().hex}")
        await asyncio.to_thread(os.makedirs, os.path.dirname(tmp), 0o755, True)
        try:
            await asyncio.to_thread(snapshot, db, tmp)
            size = await asyncio.to_thread(os.path.getsize, tmp)
            resp = await self._send(
                target,
                kind,
                part,
                name_hash,
                "db-file",
                _read_file(tmp),
                {DB_ID: db_id, "content-length": str(size)},
            )
        finally:
            await asyncio.to_thread(_unlink, tmp)
        if resp is None or resp[0] // 100 != 2:
            self.stats.failures += 1
            return False
        self.stats.files_sent += 1
        return True

    async def _send(
        self,
        target: Device,
        kind: str,
        part: int,
        name_hash: str,
        op: str,
        body: bytes | AsyncIterator[bytes],
        extra: dict[str, str] | None = None,
    ) -> tuple[int, bytes] | None:
        headers = {OP: op, **(extra or {})}
        if isinstance(body, bytes):
            headers["content-length"] = str(len(body))
            body = _once(body)
        req = NodeRequest("POST", target.device, part, kind, name_hash, None, headers, {}, body)
        resp = await self.call(target, req)
        if resp is None:
            return None
        return resp.status, await resp.read()


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _read_file(path: str) -> AsyncIterator[bytes]:
    f = await asyncio.to_thread(open, path, "rb")
    try:
        while chunk := await asyncio.to_thread(f.read, 1 << 20):
            yield chunk
    finally:
        f.close()


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
