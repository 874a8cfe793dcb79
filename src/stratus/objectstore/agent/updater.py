"""The updater: resends the listing updates kept as async pendings.

An object server (or container server) that could not reach a container (or
account) replica kept the update under ``DEVICE/async_pending/`` (see
:mod:`stratus.objectstore.node.updates`).  Each pass sends every pending to
the targets it names; one that every target accepted is deleted, one that
some accepted is rewritten with only the targets still missing, and the rest
wait for the next pass.  Rows merge by timestamp, so resending is harmless
and the order does not matter.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from stratus.objectstore.agent.base import Worker
from stratus.objectstore.node.updates import (
    Target,
    Update,
    list_pending,
    read_pending,
    write_pending,
)
from stratus.objectstore.ring.ring import Device

if TYPE_CHECKING:
    from stratus.objectstore.node.server import StorageNode

log = logging.getLogger(__name__)


@dataclass
class UpdaterStats:
    pendings: int = 0
    sent: int = 0  # pendings done with
    failures: int = 0


class ObjectUpdater(Worker):
    name = "updater"

    def __init__(self, node: StorageNode, *, concurrency: int = 8, timeout: float = 10.0) -> None:
        super().__init__(node, timeout=timeout)
        self.concurrency = concurrency
        self.stats = UpdaterStats()

    async def run_once(self) -> None:
        started = time.monotonic()
        self.stats = UpdaterStats()
        limit = asyncio.Semaphore(self.concurrency)
        jobs = []
        for local in self.devices():
            for path in await asyncio.to_thread(list_pending, local.root):
                jobs.append(self._guarded(limit, local.root, path))
        await asyncio.gather(*jobs)
        self._passed(started)
        if self.stats.pendings:
            log.info(
                "%s: %d pendings, %d sent, %d still failing",
                self.name,
                self.stats.pendings,
                self.stats.sent,
                self.stats.failures,
            )

    async def _guarded(self, limit: asyncio.Semaphore, root: str, path: str) -> None:
        async with limit:
            try:
                await self.resend(root, path)
            except Exception:
                self.stats.failures += 1
                log.exception("%s: %s failed", self.name, path)

    async def resend(self, root: str, path: str) -> bool:
        """Send one pending; True when it is done with (and deleted)."""
        self.stats.pendings += 1
        try:
            update = await asyncio.to_thread(read_pending, path)
        except FileNotFoundError:
            return True
        except Exception:
            log.exception("%s: unreadable pending %s; removed", self.name, path)
            await asyncio.to_thread(_remove, path)
            return True
        statuses = await asyncio.gather(*(self._send(update, t) for t in update.targets))
        failed = [t for t, ok in zip(update.targets, statuses, strict=True) if not ok]
        if not failed:
            await asyncio.to_thread(_remove, path)
            self.stats.sent += 1
            return True
        self.stats.failures += 1
        if len(failed) < len(update.targets):
            name_hash = os.path.basename(path).split("-", 1)[0]
            rest = Update(
                update.server,
                update.method,
                update.account,
                update.container,
                update.obj,
                update.headers,
                update.timestamp,
                failed,
            )
            await asyncio.to_thread(write_pending, root, name_hash, rest)
        return False

    async def _send(self, update: Update, target: Target) -> bool:
        dev = Device(-1, 0, 0, target.ip, target.port, target.device, 0.0)
        resp = await self.call(dev, update.request(target))
        if resp is None:
            return False
        await resp.read()
        if resp.status // 100 == 2:
            return True
        if resp.status == 404 and update.server == "account":
            return True  # the account is gone: nothing to report to
        log.info("%s: %s update to %s answered %s", self.name, update.server, target, resp.status)
        return False


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        return
    try:
        os.rmdir(os.path.dirname(path))
    except OSError:
        pass  # other pendings in the folder
