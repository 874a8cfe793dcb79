"""A storage node: the object, container and account servers of one machine's
devices, behind one ``handle(NodeRequest) -> NodeResponse``.

Devices are folders ``devices_root/<device>``; a request for a device that is
not there gets 507, as Swift's mount check answers.  The path's depth says
which server answers (object, container or account), except for listing
updates between nodes, which say so in ``x-backend-server``.

Blocking work (files, fsync, SQLite) runs in the node's thread pool; a small
object PUT or GET is one hop to it.  Names are hashed with the cluster's hash
prefix and suffix, read from the rings in ``ring_dir`` (``account.ring.gz``,
``container.ring.gz``, ``object.ring.gz``) unless given.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, TypeVar

from stratus.objectstore.drivers.base import DatabaseDriver, ObjectDevice, ObjectDriver
from stratus.objectstore.drivers.diskfile import DiskDriver
from stratus.objectstore.drivers.sqlite import SqliteDatabases
from stratus.objectstore.node.accounts import AccountServer
from stratus.objectstore.node.containers import ContainerServer
from stratus.objectstore.node.databases import OpenDatabases
from stratus.objectstore.node.objects import ObjectServer
from stratus.objectstore.node.protocol import NodeClient, NodeRequest, NodeResponse
from stratus.objectstore.node.replication import OP as REPLICATE_OP
from stratus.objectstore.node.replication import Replication
from stratus.objectstore.node.replies import NodeError, reply
from stratus.objectstore.node.updates import Updater
from stratus.objectstore.ring.ring import Ring, hash_path
from stratus.objectstore.service.container_sync import SyncRealms

log = logging.getLogger(__name__)

T = TypeVar("T")
RING_FILES = ("account.ring.gz", "container.ring.gz", "object.ring.gz")
RING_CHECK_INTERVAL = 15.0


class Background(Protocol):
    """The node's background workers (``objectstore.agent.BackgroundWorkers``),
    given by whoever builds the node: the node never imports its agents."""

    def start(self, interval: float) -> None: ...

    async def stop(self) -> None: ...

    def stopped_cleanly(self) -> None: ...


class StorageNode:
    """The storage node serving ``ip:port`` (how the rings name it)."""

    def __init__(
        self,
        devices_root: str | os.PathLike[str],
        *,
        ip: str = "127.0.0.1",
        port: int = 6200,
        ring_dir: str | os.PathLike[str] | None = None,
        workers: int = 16,
        client: NodeClient | None = None,
        update_timeout: float = 1.0,
        hash_prefix: str | None = None,
        hash_suffix: str | None = None,
        use_xattr: bool = True,
        worker_interval: float | None = None,
        objects: ObjectDriver | None = None,
        databases: DatabaseDriver | None = None,
        background: Callable[[StorageNode], Background] | None = None,
        container_sync: SyncRealms | None = None,
        container_sync_interval: float = 60.0,
    ) -> None:
        if worker_interval is not None and background is None:
            raise ValueError("worker_interval needs the background workers to run")
        self.devices_root = Path(devices_root)
        self.ip = ip
        self.port = port
        self.ring_dir = Path(ring_dir) if ring_dir is not None else None
        self.use_xattr = use_xattr
        self.objects_driver: ObjectDriver = objects or DiskDriver(use_xattr=use_xattr)
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix=f"node-{port}")
        self._client = client
        self._closed = False
        self._own_client: NodeClient | None = None
        self._rings: dict[str, tuple[float, float, Ring | None]] = {}
        if hash_prefix is None or hash_suffix is None:
            ring = next((r for r in map(self.ring, RING_FILES) if r is not None), None)
            hash_prefix = ring.hash_prefix if ring and hash_prefix is None else hash_prefix or ""
            hash_suffix = ring.hash_suffix if ring and hash_suffix is None else hash_suffix or ""
        self._prefix = hash_prefix.encode()
        self._suffix = hash_suffix.encode()
        self._devices: dict[tuple[str, int], ObjectDevice] = {}
        self.dbs = OpenDatabases(databases or SqliteDatabases())
        self.updater = Updater(lambda: self.client, self.run, update_timeout)
        self.objects = ObjectServer(self)
        self.containers = ContainerServer(self)
        self.accounts = AccountServer(self)
        self.replication = Replication(self)
        # Seconds between passes of the background workers (replicator,
        # auditor, updater, expirer) started by start(); None: none run here.
        self.worker_interval = worker_interval
        # Where synced containers may send (the realms, the allowed hosts),
        # and how often the container-sync worker passes.
        self.container_sync = container_sync or SyncRealms()
        self.container_sync_interval = container_sync_interval
        self.make_background = background
        self.background: Background | None = None

    # -- plumbing ----------------------------------------------------------------

    @property
    def client(self) -> NodeClient:
        """Reaches other nodes (and this one, directly)."""
        if self._client is None:
            from stratus.objectstore.node.client import HttpNodeClient, LocalNodeClient

            http = HttpNodeClient()
            self._own_client = http
            self._client = LocalNodeClient({(self.ip, self.port): self}, fallback=http)
        return self._client

    @client.setter
    def client(self, value: NodeClient) -> None:
        self._client = value

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking work in the node's thread pool."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def hash(self, account: str, container: str | None = None, obj: str | None = None) -> str:
        return hash_path(account, container, obj, prefix=self._prefix, suffix=self._suffix).hex()

    def ring(self, filename: str) -> Ring | None:
        """A ring of ``ring_dir``, reloaded when its file changes (checked at
        most every 15 s); None when there is none."""
        if self.ring_dir is None:
            return None
        now = time.monotonic()
        cached = self._rings.get(filename)
        if cached is not None and now - cached[0] < RING_CHECK_INTERVAL:
            return cached[2]
        path = self.ring_dir / filename
        try:
            mtime = path.stat().st_mtime
        except OSError:
            self._rings[filename] = (now, 0.0, None)
            return None
        if cached is not None and cached[1] == mtime:
            self._rings[filename] = (now, mtime, cached[2])
            return cached[2]
        try:
            ring: Ring | None = Ring.load(path)
        except (OSError, ValueError, KeyError):
            log.exception("cannot load ring %s", path)
            ring = cached[2] if cached else None
        self._rings[filename] = (now, mtime, ring)
        return ring

    def device_root(self, device: str) -> str:
        """The device's folder, or 507 when it is not there."""
        if not device or "/" in device or device in (".", "..") or "\x00" in device:
            raise NodeError(400, "Bad device")
        root = os.path.join(self.devices_root, device)
        if not os.path.isdir(root):
            raise NodeError(507, f"{device} is not mounted")
        return root

    def object_device(self, device: str, policy: int) -> ObjectDevice:
        """The objects of one policy on one device (blocking the first time)."""
        key = (device, policy)
        dev = self._devices.get(key)
        if dev is None:
            dev = self.objects_driver.device(os.path.join(self.devices_root, device), policy)
            self._devices[key] = dev
        return dev

    # -- requests ----------------------------------------------------------------

    async def handle(self, req: NodeRequest) -> NodeResponse:
        try:
            if req.partition < 0:
                raise NodeError(400, "Bad partition")
            if not req.account or (req.obj is not None and not req.container):
                raise NodeError(400, "Bad path")
            root = self.device_root(req.device)
            if req.method == "REPLICATE" or REPLICATE_OP in req.headers:
                return await self.replication.handle(req, root)
            server = req.headers.get("x-backend-server")
            if server is None:
                if req.obj is not None:
                    return await self.objects.handle(req, root)
                if req.container is not None:
                    return await self.containers.handle(req, root)
                return await self.accounts.handle(req, root)
            if server == "container" and req.obj is not None:
                return await self.containers.handle_row(req, root)
            if server == "account" and req.container is not None and req.obj is None:
                return await self.accounts.handle_row(req, root)
            raise NodeError(400, f"Bad x-backend-server {server!r} for this path")
        except NodeError as e:
            return e.response()
        except Exception:
            log.exception("%s %s/%s failed", req.method, req.device, req.partition)
            return reply(500, body=b"Internal error")

    async def start(self) -> None:
        """Start the background workers, when ``worker_interval`` asks for them."""
        if self.worker_interval is None or self.background is not None:
            return
        if self.make_background is not None:
            self.background = self.make_background(self)
            self.background.start(self.worker_interval)

    async def drain(self) -> None:
        """Wait for background work: updates and stats reports still in flight."""
        for _ in range(3):
            await self.containers.drain()
            await self.updater.drain()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.background is not None:
            await self.background.stop()
        await self.drain()
        if self.background is not None:
            await asyncio.to_thread(self.background.stopped_cleanly)
        if self._own_client is not None:
            aclose = getattr(self._own_client, "aclose", None)
            if aclose is not None:
                await aclose()
        self.dbs.close()
        self._executor.shutdown(wait=False)
