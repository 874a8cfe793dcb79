"""Listing updates between nodes, and the async pendings kept when they fail.

After an object PUT or DELETE the object server tells the container replicas
(``X-Container-Host``/``-Device``/``-Partition``) about the row; after a
container PUT or DELETE (and after its stats change) the container server tells
the account replicas.  An update is a ``NodeRequest`` marked with
``x-backend-server: container`` or ``account`` (the path alone cannot say
whether ``PUT /a/c/o`` is an object or a container's row for it).

An update that fails (node down, timeout, any non-2xx answer) is written as an
*async pending*, fsynced, for the updater worker to resend::

    DEVICE/async_pending/<suffix>/<hash>-<timestamp>   msgpack, see ``Update``

It holds the update and only the targets that failed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgpack

from stratus.objectstore.node.protocol import NodeClient, NodeRequest, NodeUnavailable
from stratus.objectstore.node.replies import NodeError

log = logging.getLogger(__name__)

PENDING_DIR = "async_pending"


@dataclass(frozen=True, slots=True)
class Target:
    """One replica to update: a device of a node, and the partition there."""

    ip: str
    port: int
    device: str
    partition: int


def parse_host(host: str) -> tuple[str, int]:
    """``"ip:port"`` or ``"[v6]:port"``."""
    ip, sep, port = host.strip().rpartition(":")
    if not sep or not port.isdigit() or not ip:
        raise NodeError(400, f"Bad host {host!r}")
    return ip.strip("[]"), int(port)


def targets_from(headers: Mapping[str, str], kind: str) -> list[Target]:
    """The ``X-<kind>-Host/Device/Partition`` headers as targets (comma-separated
    lists, one per replica; one partition may serve for all)."""
    hosts = headers.get(f"x-{kind}-host")
    if not hosts:
        return []
    devices = headers.get(f"x-{kind}-device", "").split(",")
    parts = headers.get(f"x-{kind}-partition", "").split(",")
    host_list = hosts.split(",")
    if len(parts) == 1:
        parts = parts * len(host_list)
    if len(devices) != len(host_list) or len(parts) != len(host_list):
        raise NodeError(400, f"X-{kind.title()}-Host, -Device and -Partition do not match")
    out = []
    for host, device, part in zip(host_list, devices, parts, strict=True):
        if not part.strip().isdigit() or not device.strip():
            raise NodeError(400, f"Bad X-{kind.title()}-Device or -Partition")
        ip, port = parse_host(host)
        out.append(Target(ip, port, device.strip(), int(part)))
    return out


@dataclass(slots=True)
class Update:
    """A listing row to send: to a ``container`` (an object's row) or an
    ``account`` (a container's row)."""

    server: str
    method: str
    account: str
    container: str
    obj: str | None
    headers: dict[str, str]
    timestamp: str
    targets: list[Target] = field(default_factory=list)

    def request(self, target: Target) -> NodeRequest:
        return NodeRequest(
            self.method,
            target.device,
            target.partition,
            self.account,
            self.container,
            self.obj,
            {**self.headers, "x-backend-server": self.server},
        )

    def pack(self) -> bytes:
        return msgpack.packb(
            {
                "v": 1,
                "server": self.server,
                "method": self.method,
                "account": self.account,
                "container": self.container,
                "obj": self.obj,
                "headers": self.headers,
                "timestamp": self.timestamp,
                "targets": [[t.ip, t.port, t.device, t.partition] for t in self.targets],
            },
            use_bin_type=True,
        )

    @classmethod
    def unpack(cls, blob: bytes) -> Update:
        d: dict[str, Any] = msgpack.unpackb(blob, raw=False)
        return cls(
            d["server"],
            d["method"],
            d["account"],
            d["container"],
            d["obj"],
            d["headers"],
            d["timestamp"],
            [Target(*t) for t in d["targets"]],
        )


def write_pending(device_root: str, name_hash: str, update: Update) -> str:
    """Keep an update for the updater (blocking: fsyncs)."""
    folder = os.path.join(device_root, PENDING_DIR, name_hash[-3:])
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{name_hash}-{update.timestamp}")
    tmp = os.path.join(device_root, "tmp", f"pending.{uuid.uuid4().hex}")
    os.makedirs(os.path.dirname(tmp), exist_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        blob = update.pack()
        view = memoryview(blob)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return path


def list_pending(device_root: str) -> list[str]:
    """The paths of a device's async pendings (for the updater)."""
    top = os.path.join(device_root, PENDING_DIR)
    try:
        suffixes = sorted(os.listdir(top))
    except FileNotFoundError:
        return []
    paths: list[str] = []
    for suffix in suffixes:
        try:
            names = sorted(os.listdir(os.path.join(top, suffix)))
        except (FileNotFoundError, NotADirectoryError):
            continue
        paths.extend(os.path.join(top, suffix, n) for n in names)
    return paths


def read_pending(path: str) -> Update:
    with open(path, "rb") as f:
        return Update.unpack(f.read())


class Updater:
    """Sends updates for a node, keeping async pendings for those that fail."""

    def __init__(
        self,
        client: Callable[[], NodeClient],
        run: Callable[..., Any],
        timeout: float = 1.0,
    ) -> None:
        self._client = client
        self._run = run  # the node's thread-pool runner
        self.timeout = timeout
        self._background: set[asyncio.Future[Any]] = set()

    async def send(self, device_root: str, name_hash: str, update: Update) -> list[int | None]:
        """Send to every target in parallel; wait at most ``timeout`` (the rest
        finishes in the background).  Returns each target's status, None for
        failures and for those still running."""
        targets = update.targets
        if not targets:
            return []
        job = asyncio.ensure_future(self._deliver(device_root, name_hash, update))
        self._background.add(job)
        job.add_done_callback(self._background.discard)
        try:
            return await asyncio.wait_for(asyncio.shield(job), self.timeout)
        except TimeoutError:
            return [None] * len(targets)

    async def _deliver(self, device_root: str, name_hash: str, update: Update) -> list[int | None]:
        statuses = list(await asyncio.gather(*(self._one(update, t) for t in update.targets)))
        failed = [
            t for t, s in zip(update.targets, statuses, strict=True) if s is None or s // 100 != 2
        ]
        if failed:
            pending = Update(
                update.server,
                update.method,
                update.account,
                update.container,
                update.obj,
                update.headers,
                update.timestamp,
                failed,
            )
            try:
                await self._run(write_pending, device_root, name_hash, pending)
            except OSError:
                log.exception("cannot write an async pending on %s", device_root)
        return statuses

    async def _one(self, update: Update, target: Target) -> int | None:
        try:
            resp = await self._client().request(target.ip, target.port, update.request(target))
            await resp.read()
            return resp.status
        except NodeUnavailable:
            return None
        except Exception:
            log.exception("%s update to %s:%s failed", update.server, target.ip, target.port)
            return None

    async def drain(self) -> None:
        """Wait for updates still running in the background."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)
