"""What the crash tests share: killing a whole cloud (the primary and its API
workers) with SIGKILL, waiting for a condition, and reading the object store's
devices the way its node does, to compare the listings with the disk."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stratus.objectstore.drivers.diskio import read_metadata
from stratus.objectstore.drivers.hashes import select_files
from tests.conftest import Server


def children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return found
    for task in tasks:
        try:
            text = Path(f"/proc/{pid}/task/{task}/children").read_text()
        except OSError:
            continue
        found.extend(int(c) for c in text.split())
    return found


def kill_cloud(srv: Server) -> None:
    """SIGKILL the cloud's processes at once (as a power cut or the OOM killer
    of a cgroup would): the primary and its API workers, none of which gets to
    finish a request; then wait until they are gone."""
    workers = children(srv.process.pid)
    for pid in [srv.process.pid, *workers]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    srv.process.wait()
    for pid in workers:
        wait_for(f"worker {pid} to end", lambda pid=pid: not Path(f"/proc/{pid}").exists(), 30)  # type: ignore[misc]


def wait_for(what: str, check: Callable[[], object], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what}: not after {timeout} s"
        time.sleep(0.2)


def eventually(check: Callable[[], None], timeout: float = 60) -> None:
    """Run ``check`` (which asserts) until it passes; its last failure is
    raised after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            check()
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.5)


@dataclass(frozen=True)
class OnDisk:
    size: int
    etag: str


def devices(data_dir: Path) -> list[Path]:
    root = data_dir / "objectstore" / "devices"
    return sorted(p for p in root.iterdir() if p.is_dir())


def objects_on_disk(data_dir: Path) -> dict[str, OnDisk]:
    """``/account/container/object`` -> what its current ``.data`` holds,
    for every object stored on the cloud's devices (tombstones excluded)."""
    found: dict[str, OnDisk] = {}
    for device in devices(data_dir):
        for folder in (device / "objects").glob("*/*/*"):
            if not folder.is_dir():
                continue
            keep, _ = select_files(os.listdir(folder), None)
            winner = next((n for n in keep if not n.endswith(".meta")), None)
            if winner is None or not winner.endswith(".data"):
                continue
            fd = os.open(folder / winner, os.O_RDONLY)
            try:
                meta = read_metadata(fd, check_size=True)
            finally:
                os.close(fd)
            found[meta.name] = OnDisk(meta.content_length, meta.etag)
    return found


def stray_files(data_dir: Path) -> list[str]:
    """Files of the object store's devices that belong to nothing: partial
    writes in tmp/, async pendings still unsent, older versions beside the
    current one, quarantined copies."""
    out: list[str] = []
    for device in devices(data_dir):
        for sub in ("tmp", "async_pending", "quarantined"):
            out.extend(str(p) for p in (device / sub).rglob("*") if p.is_file())
        for folder in (device / "objects").glob("*/*/*"):
            if folder.is_dir():
                _, obsolete = select_files(os.listdir(folder), None)
                out.extend(str(folder / n) for n in obsolete)
    return out


@dataclass(frozen=True)
class Owners:
    """What the database says exists: whatever a file of the data folder may
    belong to."""

    servers: dict[str, tuple[str, str]]  # live server id -> (host, image)
    images: set[str]  # active images
    volumes: set[str]
    snapshots: set[str]  # volume snapshots
    loadbalancers: set[str]  # not DELETED
    instances: set[str]  # database instances


def owners(srv: Server) -> Owners:
    """Read the cloud's database (SQLite in its folder, or its PostgreSQL)."""
    import asyncio

    from sqlalchemy import select
    from sqlalchemy.ext.asyncio import create_async_engine

    from stratus.compute import models as cm
    from stratus.database import models as dm
    from stratus.image import models as im
    from stratus.loadbalancer import models as lm
    from stratus.volume import models as vm

    url = srv.database_url or f"sqlite+aiosqlite:///{(srv.data_dir / 'stratus.db').resolve()}"

    async def read() -> Owners:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as c:
                servers = (
                    await c.execute(
                        select(cm.Server.id, cm.Server.host, cm.Server.image_ref).where(
                            cm.Server.deleted_at.is_(None)
                        )
                    )
                ).all()

                async def ids(stmt: Any) -> set[str]:
                    return {str(i) for i in (await c.scalars(stmt)).all()}

                return Owners(
                    servers={str(i): (str(h or ""), str(r or "")) for i, h, r in servers},
                    images=await ids(select(im.Image.id).where(im.Image.status == im.ACTIVE)),
                    volumes=await ids(select(vm.Volume.id)),
                    snapshots=await ids(select(vm.Snapshot.id)),
                    loadbalancers=await ids(
                        select(lm.LoadBalancer.id).where(
                            lm.LoadBalancer.provisioning_status != lm.DELETED
                        )
                    ),
                    instances=await ids(select(dm.Instance.id)),
                )
        finally:
            await engine.dispose()

    return asyncio.run(read())


def _named(folder: Path, hidden: bool = False) -> list[Path]:
    """The entries of ``folder`` (none if it is missing); dot names (markers
    such as ``.stratus-host``) only when ``hidden``."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if hidden or not p.name.startswith("."))


def compute_strays(data_dir: Path, own: Owners) -> list[str]:
    """Files of the compute hosts that belong to nothing: a folder (overlay,
    config drive, console log) of a server that is gone, a temporary
    snapshot disk, an aside copy of a move that is over, a partial image
    download, a cached base that no server of the host boots from."""
    out: list[str] = []
    for host_dir in _named(data_dir / "compute"):
        if host_dir.name == "tiny":
            continue  # the bootstrap image's build
        host = host_dir.name
        for folder in _named(host_dir / "instances"):
            if folder.name not in own.servers:
                out.append(f"{folder} (no such server)")
            else:
                out.extend(f"{p} (a temporary snapshot disk)" for p in folder.glob("snapshot-*"))
        for folder in _named(host_dir / "moves"):
            if folder.name not in own.servers:
                out.append(f"{folder} (no such server)")
        used = {image for h, image in own.servers.values() if h == host}
        for path in _named(host_dir / "images", hidden=True):
            if path.name not in used:
                out.append(f"{path} (in the image cache, no server of {host} uses it)")
    return out


def data_strays(srv: Server) -> list[str]:
    """Every file of the cloud's data folder that belongs to nothing the
    database knows, over every service's folder: the compute hosts, the
    image store, the object store's devices, the volume files, the load
    balancers' and the database instances' folders."""
    own = owners(srv)
    data_dir = srv.data_dir
    out = compute_strays(data_dir, own)
    for path in _named(data_dir / "images", hidden=True):
        if path.name not in own.images:
            out.append(f"{path} (no such active image)")
    if (data_dir / "objectstore" / "devices").is_dir():
        out.extend(stray_files(data_dir))
    for volumes in _named(data_dir / "volumes"):  # a folder per volume host
        for path in _named(volumes / "volumes"):
            vid = path.name.removeprefix("volume-").rsplit(".", 1)[0]
            if vid not in own.volumes:
                out.append(f"{path} (no such volume)")
        for path in _named(volumes / "snapshots"):
            if path.name.removeprefix("snapshot-") not in own.snapshots:
                out.append(f"{path} (no such volume snapshot)")
        out.extend(f"{p} (partial)" for p in _named(volumes / "tmp", hidden=True))
    for folder in _named(data_dir / "loadbalancer"):
        if _is_uuid(folder.name) and folder.name not in own.loadbalancers:
            out.append(f"{folder} (no such load balancer)")
    for folder in _named(data_dir / "dbaas"):
        if _is_uuid(folder.name) and folder.name not in own.instances:
            out.append(f"{folder} (no such database instance)")
    return out


def _is_uuid(name: str) -> bool:
    import uuid

    try:
        return str(uuid.UUID(name)) == name
    except ValueError:
        return False


def row_strays(srv: Server) -> list[str]:
    """Rows a crash may leave that belong to nothing or wait for nothing:
    the volume attachments (compute's and the block storage's own) and the
    network ports of servers that are gone, image tasks still running, and
    volumes or their tasks in the middle of an operation."""
    import asyncio

    from sqlalchemy import select
    from sqlalchemy.ext.asyncio import create_async_engine

    from stratus.compute import models as cm
    from stratus.image import models as im
    from stratus.network import models as nm
    from stratus.volume import models as vm

    url = srv.database_url or f"sqlite+aiosqlite:///{(srv.data_dir / 'stratus.db').resolve()}"

    busy = {vm.CREATING, vm.RESERVED, vm.ATTACHING, vm.DETACHING, vm.DELETING, vm.EXTENDING,
            vm.BACKING_UP, vm.RESTORING, vm.DOWNLOADING, vm.UPLOADING, vm.RETYPING}  # fmt: skip

    async def read() -> list[str]:
        out: list[str] = []
        engine = create_async_engine(url)
        try:
            async with engine.connect() as c:
                live = set(
                    await c.scalars(select(cm.Server.id).where(cm.Server.deleted_at.is_(None)))
                )
                for row_id, server in await c.execute(
                    select(cm.VolumeAttachment.id, cm.VolumeAttachment.server_id)
                ):
                    if server not in live:
                        out.append(f"compute volume attachment {row_id} of gone server {server}")
                for row_id, instance, status in await c.execute(
                    select(
                        vm.Attachment.id, vm.Attachment.instance_uuid, vm.Attachment.attach_status
                    )
                ):
                    if instance and instance not in live and status != vm.DETACHED:
                        out.append(
                            f"volume attachment {row_id} ({status}) of gone server {instance}"
                        )
                for port, owner, device in await c.execute(
                    select(nm.Port.id, nm.Port.device_owner, nm.Port.device_id)
                ):
                    if owner.startswith("compute:") and device not in live:
                        out.append(f"port {port} of gone server {device}")
                for task_id, task_status in await c.execute(
                    select(im.ImageTask.id, im.ImageTask.status).where(
                        im.ImageTask.status.in_(("pending", "processing"))
                    )
                ):
                    out.append(f"image task {task_id} still {task_status}")
                for volume, state, volume_task in await c.execute(
                    select(vm.Volume.id, vm.Volume.status, vm.Volume.task)
                ):
                    if volume_task is not None or state in busy:
                        out.append(f"volume {volume} {state} (task {volume_task})")
        finally:
            await engine.dispose()
        return out

    return asyncio.run(read())
