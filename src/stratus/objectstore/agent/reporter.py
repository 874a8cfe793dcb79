"""The container reporter: every container's stats reach its account.

A container server reports a container's object count and bytes to the
account replicas shortly after its listing changes; that report is scheduled
in memory, so a crash between the listing's commit and the report (or an
account replica that was down) leaves the account below the containers' true
totals.  The database remembers what the account last acknowledged
(``reported_*`` in its ``stat`` row), so each pass walks the node's container
databases and reports every one whose stats the account has not seen (Swift's
container-updater).  A report that fails is kept as an async pending by the
node's updater; rows merge by their stats timestamp, so a resent report is
harmless.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from stratus.objectstore.agent.base import Worker
from stratus.objectstore.agent.dbreplicator import find_databases
from stratus.objectstore.drivers.base import DatabaseNotFound
from stratus.objectstore.node.replies import NodeError

if TYPE_CHECKING:
    from stratus.objectstore.node.server import StorageNode

log = logging.getLogger(__name__)


@dataclass
class ReporterStats:
    containers: int = 0
    reported: int = 0
    failures: int = 0


class ContainerReporter(Worker):
    name = "container-reporter"

    def __init__(self, node: StorageNode, *, concurrency: int = 8) -> None:
        super().__init__(node)
        self.concurrency = concurrency
        self.stats = ReporterStats()

    async def run_once(self) -> None:
        started = time.monotonic()
        self.stats = ReporterStats()
        limit = asyncio.Semaphore(self.concurrency)
        jobs = []
        for local in self.devices():
            found = await asyncio.to_thread(find_databases, local.root, "containers")
            for _, name_hash, path in found:
                jobs.append(self._guarded(limit, local.root, path, name_hash))
        await asyncio.gather(*jobs)
        self._passed(started)
        if self.stats.reported or self.stats.failures:
            log.info(
                "%s: %d containers, %d reported to their account, %d failed",
                self.name,
                self.stats.containers,
                self.stats.reported,
                self.stats.failures,
            )

    async def _guarded(
        self, limit: asyncio.Semaphore, root: str, path: str, name_hash: str
    ) -> None:
        async with limit:
            self.stats.containers += 1
            try:
                await self.report(root, path, name_hash)
            except Exception:
                self.stats.failures += 1
                log.exception("%s: %s failed", self.name, path)

    async def report(self, root: str, path: str, name_hash: str) -> bool:
        """Report one container if its account has not seen its stats; True
        when a report went out."""
        node = self.node
        try:
            info = await node.run(lambda: node.dbs.container(path).info())
        except (DatabaseNotFound, NodeError):
            return False  # removed meanwhile
        statuses = await node.containers.report(root, path, name_hash, info.account, info.container)
        if not statuses:
            return False
        if all(s is not None and s // 100 == 2 for s in statuses):
            self.stats.reported += 1
            log.info(
                "%s: /%s/%s: stats sent to the account (%d objects, %d bytes)",
                self.name,
                info.account,
                info.container,
                info.object_count,
                info.bytes_used,
            )
        else:
            self.stats.failures += 1
        return True
