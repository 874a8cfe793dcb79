"""The expirer: deletes objects whose ``X-Delete-At`` has passed.

Each device keeps an expiry queue (:mod:`stratus.objectstore.node.expiring`),
written when an object with ``X-Delete-At`` is stored there.  For each entry
that is due, the expirer sends a DELETE to every primary of the object (and to
this device when it holds a handoff copy) with:

- ``X-If-Delete-At``: so an object replaced since, or given another expiry by a
  POST, is left alone (412);
- ``X-Timestamp`` equal to the ``X-Delete-At``: every replica's expirer writes
  the same tombstone, and a PUT made after that moment still wins;
- ``X-Container-*``: so the container listing drops the object.

The entry is removed once this device's copy and a quorum of primaries have
answered for good (2xx, 404, 409 or 412); otherwise it is retried next pass.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from stratus.objectstore.agent.base import LocalDevice, Worker
from stratus.objectstore.drivers.timestamp import Timestamp
from stratus.objectstore.node import expiring
from stratus.objectstore.node.protocol import NodeRequest
from stratus.objectstore.ring.ring import Device

if TYPE_CHECKING:
    from stratus.objectstore.node.server import StorageNode

log = logging.getLogger(__name__)

FINAL = {404, 409, 412}


@dataclass
class ExpirerStats:
    due: int = 0
    expired: int = 0
    failures: int = 0


class Expirer(Worker):
    name = "expirer"

    def __init__(self, node: StorageNode, *, concurrency: int = 8, timeout: float = 10.0) -> None:
        super().__init__(node, timeout=timeout)
        self.concurrency = concurrency
        self.stats = ExpirerStats()

    async def run_once(self) -> None:
        started = time.monotonic()
        self.stats = ExpirerStats()
        if self.ring("object") is None:
            return
        limit = asyncio.Semaphore(self.concurrency)
        now = time.time()
        jobs = []
        for local in self.devices():
            for entry in await asyncio.to_thread(expiring.due, local.root, now):
                jobs.append(self._guarded(limit, local, entry))
        await asyncio.gather(*jobs)
        self._passed(started)
        if self.stats.due:
            log.info(
                "%s: %d due, %d expired, %d failures",
                self.name,
                self.stats.due,
                self.stats.expired,
                self.stats.failures,
            )

    async def _guarded(
        self, limit: asyncio.Semaphore, local: LocalDevice, entry: expiring.Expiring
    ) -> None:
        async with limit:
            try:
                await self.expire(local, entry)
            except Exception:
                self.stats.failures += 1
                log.exception("%s: %s failed", self.name, entry.name)

    async def expire(self, local: LocalDevice, entry: expiring.Expiring) -> bool:
        """Delete one due object everywhere; True when the entry is done with."""
        self.stats.due += 1
        ring = self.ring("object")
        container_ring = self.ring("container")
        assert ring is not None
        account, container, obj = entry.split()
        part, _, primaries = ring.locate(account, container, obj)
        places: list[tuple[Device, int]] = [(d, part) for d in primaries]
        mine = next((i for i, (d, _) in enumerate(places) if self.is_me(d, local.name)), None)
        if mine is None:
            here = Device(-1, 0, 0, self.node.ip, self.node.port, local.name, 0.0)
            places.append((here, entry.partition))
            mine = len(places) - 1
        base = {
            "x-timestamp": Timestamp(entry.delete_at).internal,
            "x-if-delete-at": str(entry.delete_at),
            "x-backend-storage-policy-index": str(entry.policy),
        }
        cpart, cnodes = 0, list[Device]()
        if container_ring is not None:
            cpart, _, cnodes = container_ring.locate(account, container)

        async def one(index: int, dev: Device, partition: int) -> bool:
            headers = dict(base)
            if cnodes:
                cdev = cnodes[index % len(cnodes)]
                headers["x-container-host"] = f"{cdev.ip}:{cdev.port}"
                headers["x-container-device"] = cdev.device
                headers["x-container-partition"] = str(cpart)
            req = NodeRequest("DELETE", dev.device, partition, account, container, obj, headers)
            resp = await self.call(dev, req)
            if resp is None:
                return False
            await resp.read()
            return resp.status // 100 == 2 or resp.status in FINAL

        done = await asyncio.gather(*(one(i, d, p) for i, (d, p) in enumerate(places)))
        quorum = len(primaries) // 2 + 1
        if done[mine] and sum(done[: len(primaries)]) >= quorum:
            await asyncio.to_thread(expiring.remove, entry)
            self.stats.expired += 1
            return True
        self.stats.failures += 1
        return False
