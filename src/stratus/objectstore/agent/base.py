"""What the background workers share: the pass loop, the node's devices as the
rings see them, requests to other nodes, and a bytes-per-second limiter.

A worker works for one ``StorageNode``: the node serving requests (workers
started in its process), or an unserved one built on the same devices and
rings (a worker process of its own, as Swift runs its daemons; the files and
databases are safe to share between processes).  ``run_once()`` is one pass
over every local device; ``run_forever(interval)`` repeats it.  Blocking disk
work runs in threads (``asyncio.to_thread``), never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from stratus.objectstore.drivers.diskfile import DiskDevice
from stratus.objectstore.node.protocol import NodeRequest, NodeResponse, NodeUnavailable
from stratus.objectstore.ring.ring import Device, Ring

if TYPE_CHECKING:
    from stratus.objectstore.node.server import StorageNode

log = logging.getLogger(__name__)

REQUEST_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class LocalDevice:
    """A device folder of this node."""

    name: str
    root: str


class Worker:
    """One kind of background work; subclasses implement ``run_once``."""

    name = "worker"

    def __init__(self, node: StorageNode, *, timeout: float = REQUEST_TIMEOUT) -> None:
        self.node = node
        self.timeout = timeout
        self.passes = 0
        self.last_pass: float | None = None

    async def run_once(self) -> None:
        raise NotImplementedError

    async def run_forever(self, interval: float) -> None:
        """A pass every ``interval`` seconds (the first after a random part
        of one, so that nodes started together do not pass together)."""
        await asyncio.sleep(random.uniform(0, interval))
        while True:
            started = time.monotonic()
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s: the pass failed", self.name)
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))

    def _passed(self, started: float) -> None:
        self.passes += 1
        self.last_pass = time.monotonic() - started

    # -- the node's devices ------------------------------------------------------

    def devices(self) -> list[LocalDevice]:
        """The device folders under the node's devices root."""
        root = os.fspath(self.node.devices_root)
        try:
            names = sorted(os.listdir(root))
        except FileNotFoundError:
            return []
        return [
            LocalDevice(n, os.path.join(root, n))
            for n in names
            if os.path.isdir(os.path.join(root, n))
        ]

    def disk_device(self, device: str, policy: int) -> DiskDevice:
        """The objects of a local device as files: the workers repair what
        the disk driver keeps (blocking the first time)."""
        dev = self.node.object_device(device, policy)
        if not isinstance(dev, DiskDevice):
            raise TypeError(f"{self.name} works on files: the node's objects are not on disk")
        return dev

    def ring(self, kind: str) -> Ring | None:
        return self.node.ring(f"{kind}.ring.gz")

    def is_me(self, dev: Device, device: str) -> bool:
        return dev.ip == self.node.ip and dev.port == self.node.port and dev.device == device

    # -- other nodes ---------------------------------------------------------------

    async def call(self, dev: Device, req: NodeRequest) -> NodeResponse | None:
        """One request to a device's node; None when it cannot be reached (or
        answers 5xx).  The response's body is for the caller to read."""
        try:
            resp = await asyncio.wait_for(
                self.node.client.request(dev.ip, dev.port, req), self.timeout
            )
        except (NodeUnavailable, TimeoutError, OSError) as e:
            log.debug("%s: %s:%s/%s unreachable: %r", self.name, dev.ip, dev.port, dev.device, e)
            return None
        if resp.status >= 500:
            await resp.read()
            log.info(
                "%s: %s:%s/%s answered %s", self.name, dev.ip, dev.port, dev.device, resp.status
            )
            return None
        return resp


class RateLimiter:
    """Blocks (in a worker thread) to keep to ``rate`` units per second;
    ``rate`` 0 means no limit."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._lock = threading.Lock()
        self._next = time.monotonic()

    def wait(self, amount: float) -> None:
        if self.rate <= 0 or amount <= 0:
            return
        with self._lock:
            now = time.monotonic()
            start = max(self._next, now - 1.0)  # at most a second of burst saved up
            self._next = start + amount / self.rate
            delay = self._next - now
        if delay > 0:
            time.sleep(delay)
