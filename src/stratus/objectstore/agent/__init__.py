"""The object store's background workers, for one storage node's devices.

- :class:`ObjectReplicator`: repairs missing and stale object copies, hands off.
- :class:`DatabaseReplicator`: container and account databases, by sync points.
- :class:`Auditor`: quarantines corrupted copies, for the replicator to restore.
- :class:`ObjectUpdater`: resends listing updates kept as async pendings.
- :class:`Expirer`: deletes objects whose ``X-Delete-At`` has passed.
- :class:`ContainerReporter`: sends the account every container's stats it
  has not seen.
- :class:`ContainerSync`: sends synced containers' changes to their
  ``X-Container-Sync-To`` (every ``StorageNode.container_sync_interval``).
- :class:`Recovery`: once, at start: what a crash left (partial writes in
  ``tmp/``, listing rows behind the objects on disk), then a report pass.

``BackgroundWorkers(node).start(interval)`` runs them all in the node's
process (``StorageNode(worker_interval=..., background=BackgroundWorkers)``
does it when the node starts: the node is given its workers, it never
imports them), recovery first;
each one's ``run_once()`` is one pass, for tests and one-shot runs.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from stratus.objectstore.agent.auditor import Auditor
from stratus.objectstore.agent.base import Worker
from stratus.objectstore.agent.container_sync import ContainerSync
from stratus.objectstore.agent.dbreplicator import DatabaseReplicator
from stratus.objectstore.agent.expirer import Expirer
from stratus.objectstore.agent.recovery import Recovery
from stratus.objectstore.agent.replicator import ObjectReplicator
from stratus.objectstore.agent.reporter import ContainerReporter
from stratus.objectstore.agent.updater import ObjectUpdater

if TYPE_CHECKING:
    from stratus.objectstore.node.server import StorageNode

__all__ = [
    "Auditor",
    "BackgroundWorkers",
    "ContainerReporter",
    "ContainerSync",
    "DatabaseReplicator",
    "Expirer",
    "ObjectReplicator",
    "ObjectUpdater",
    "Recovery",
    "Worker",
]

log = logging.getLogger(__name__)

# The auditor reads every byte: it passes less often than the others.
AUDIT_EVERY = 10


class BackgroundWorkers:
    """All the workers of a node, as tasks of the running event loop."""

    def __init__(self, node: StorageNode) -> None:
        self.node = node
        self.replicator = ObjectReplicator(node)
        self.db_replicator = DatabaseReplicator(node)
        self.auditor = Auditor(node)
        self.updater = ObjectUpdater(node)
        self.expirer = Expirer(node)
        self.reporter = ContainerReporter(node)
        self.container_sync = ContainerSync(node)
        self.recovery = Recovery(node)
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def workers(self) -> list[Worker]:
        return [
            self.replicator,
            self.db_replicator,
            self.auditor,
            self.updater,
            self.expirer,
            self.reporter,
        ]

    async def run_once(self) -> None:
        """One pass of each, in an order where each helps the next: expire and
        update first, audit, then replicate what the audit quarantined."""
        for worker in (
            self.expirer,
            self.updater,
            self.reporter,
            self.auditor,
            self.replicator,
            self.db_replicator,
        ):
            await worker.run_once()

    def start(self, interval: float) -> None:
        task = asyncio.create_task(self._recover(), name=self.recovery.name)
        self._tasks.append(task)
        for worker in self.workers:
            every = interval * AUDIT_EVERY if worker is self.auditor else interval
            task = asyncio.create_task(worker.run_forever(every), name=worker.name)
            self._tasks.append(task)
        every = self.node.container_sync_interval
        task = asyncio.create_task(
            self.container_sync.run_forever(every), name=self.container_sync.name
        )
        self._tasks.append(task)
        log.info("background workers started (every %.1f s)", interval)

    async def _recover(self) -> None:
        """What a crash left, then the stats the accounts missed."""
        try:
            await self.recovery.run_once()
            await self.node.drain()
            await self.reporter.run_once()
        except Exception:
            log.exception("recovery at start failed; the next start repeats it")

    async def recover_since(self, since: float) -> None:
        """After another process writing to these devices died (an API
        worker): its listing rows, and the stats reports it had scheduled."""
        try:
            await self.recovery.recover_since(since)
            await self.node.drain()
            await self.reporter.run_once()
        except Exception:
            log.exception("recovery after a worker's end failed")

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def stopped_cleanly(self) -> None:
        """Called once every update was sent or kept: the next start need not
        compare listings with the disk."""
        self.recovery.mark_clean()
