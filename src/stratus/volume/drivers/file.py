"""The file backend (the default): a volume is a sparse file on the agent's
host, ``volumes/volume-<id>.<qcow2|raw>`` under its folder.

Snapshots never copy the whole volume.  At start the driver probes its
filesystem and picks how:

- ``reflink``: the filesystem shares blocks between files (FICLONE, e.g.
  XFS or Btrfs): a snapshot is a reflinked copy, ``snapshots/snapshot-<id>``;
  volumes made from it are reflinked copies too.
- ``internal`` (qcow2 volumes elsewhere, e.g. ext4): a snapshot is an
  internal qcow2 snapshot named ``snapshot-<id>`` inside the volume's file.
- ``copy`` (raw volumes on a filesystem without reflinks): a sparse copy;
  the only mode that copies, said in the log at start.

A volume made from a snapshot or another volume is a file of its own (a
reflink, or ``qemu-img convert`` of the allocated data), so it stays valid
when its source goes, as Cinder promises.  Bytes are read and written over
NBD (``qemu-nbd``), so qcow2 and internal snapshots read like raw disks."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from stratus.volume.drivers import nbd
from stratus.volume.drivers.base import (
    BlockReader,
    BlockWriter,
    Capability,
    Capacity,
    Connection,
    DriverError,
    Extent,
    GiB,
    HeldOpen,
    Inventory,
    SnapshotRef,
    VolumeRef,
)

log = logging.getLogger(__name__)

# qemu-img's last words when another process (a guest's QEMU) holds the image's lock
LOCKED = "Is another process using the image"

FICLONE = 0x40049409
QEMU_IMG = "qemu-img"
TIMEOUT = 600.0


async def run(*cmd: str, timeout: float = TIMEOUT) -> str:
    """Run a tool; its output, or DriverError with what it said."""
    process = await asyncio.create_subprocess_exec(
        *cmd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except BaseException:  # timed out or cancelled: never leave it running
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 9)
        await process.wait()
        raise
    if process.returncode != 0:
        message = (err or out).decode(errors="replace").strip().splitlines()
        raise DriverError(f"{cmd[0]} {cmd[1]} failed: {message[-1] if message else '?'}")
    return out.decode(errors="replace")


def reflink(source: Path, target: Path) -> None:
    with open(source, "rb") as src, open(target, "wb") as dst:
        fcntl.ioctl(dst.fileno(), FICLONE, src.fileno())


def probe_reflink(folder: Path) -> bool:
    a, b = folder / f".probe-{uuid.uuid4().hex}", folder / f".probe-{uuid.uuid4().hex}"
    try:
        a.write_bytes(b"\0" * 4096)
        reflink(a, b)
        return True
    except OSError:
        return False
    finally:
        a.unlink(missing_ok=True)
        b.unlink(missing_ok=True)


class _Reader:
    def __init__(self, client: nbd.NbdClient, path: Path, fmt: str, snapshot: str | None):
        self.client = client
        self.size = client.size
        self.path, self.fmt, self.snapshot = path, fmt, snapshot

    async def read(self, offset: int, length: int) -> bytes:
        return await self.client.read(offset, length)

    async def extents(self) -> list[Extent]:
        if self.snapshot is not None:  # qemu-img map cannot open an internal snapshot
            return [Extent(0, self.size)]
        out = await run(QEMU_IMG, "map", "-U", "--output=json", "-f", self.fmt, str(self.path))
        return [
            Extent(int(e["start"]), int(e["length"]), zero=bool(e.get("zero")))
            for e in json.loads(out)
        ]


class FileDriver:
    name = "file"

    def __init__(self, root: Path, *, fmt: str = "qcow2", capacity_gb: int = 0):
        self.root = root
        self.fmt = fmt
        self.capacity_gb = capacity_gb
        self.volumes = root / "volumes"
        self.snapshots = root / "snapshots"
        self.tmp = root / "tmp"
        self.mode = "internal" if fmt == "qcow2" else "copy"
        self.capabilities = frozenset(
            {
                Capability.SNAPSHOT,
                Capability.CLONE,
                Capability.EXTEND,
                Capability.REVERT,
                Capability.MULTIATTACH,
                Capability.THIN,
            }
        )

    async def start(self) -> None:
        for folder in (self.volumes, self.snapshots, self.tmp):
            folder.mkdir(parents=True, exist_ok=True)
        if await asyncio.to_thread(probe_reflink, self.volumes):
            self.mode = "reflink"
        log.info(
            "volume: file backend in %s, %s volumes, snapshots by %s%s",
            self.root,
            self.fmt,
            self.mode,
            " (full copies: this filesystem has no reflinks)" if self.mode == "copy" else "",
        )

    # -- paths --------------------------------------------------------------------------

    def path(self, volume_id: str) -> Path:
        return self.volumes / f"volume-{volume_id}.{self.fmt}"

    def _find(self, volume_id: str) -> tuple[Path, str]:
        """A volume's file and format (a volume keeps the format it was made in)."""
        for fmt in ("qcow2", "raw"):
            path = self.volumes / f"volume-{volume_id}.{fmt}"
            if path.exists():
                return path, fmt
        raise DriverError(f"the file of volume {volume_id} is missing")

    def _snapshot_file(self, snapshot_id: str) -> Path:
        return self.snapshots / f"snapshot-{snapshot_id}"

    def scratch(self, name: str) -> Path:
        return self.tmp / name

    def _partial(self, volume_id: str, fmt: str | None = None) -> Path:
        return self.tmp / f"volume-{volume_id}.{fmt or self.fmt}.partial"

    # -- capacity -----------------------------------------------------------------------

    async def capacity(self) -> Capacity:
        def measure() -> Capacity:
            fs = os.statvfs(self.root)
            total = self.capacity_gb or fs.f_blocks * fs.f_frsize // GiB
            used = sum(p.stat().st_blocks * 512 for p in self.volumes.iterdir())
            free_fs = fs.f_bavail * fs.f_frsize // GiB
            free = min(free_fs, max(total - used // GiB, 0)) if self.capacity_gb else free_fs
            allocated = 0
            for p in self.volumes.iterdir():
                with contextlib.suppress(OSError):
                    allocated += p.stat().st_size
            return Capacity(total_gb=total, free_gb=free, allocated_gb=-(-allocated // GiB))

        return await asyncio.to_thread(measure)

    # -- volumes ------------------------------------------------------------------------

    async def _publish(self, partial: Path, volume_id: str, fmt: str | None = None) -> None:
        target = self.volumes / f"volume-{volume_id}.{fmt}" if fmt else self.path(volume_id)

        def finish() -> None:
            with open(partial, "rb+") as f:
                os.fsync(f.fileno())
            os.replace(partial, target)

        await asyncio.to_thread(finish)

    async def create(self, volume: VolumeRef) -> None:
        """An empty volume, in the format its type asks for (the backend's
        when none: a raw file is what a host can use without a qemu layer,
        as the database service's volumes do)."""
        fmt = volume.fmt if volume.fmt in ("qcow2", "raw") else self.fmt
        partial = self._partial(volume.id, fmt)
        if fmt == "raw":
            await asyncio.to_thread(_truncate, partial, volume.size_gb * GiB)
        else:
            await run(QEMU_IMG, "create", "-q", "-f", "qcow2", str(partial), f"{volume.size_gb}G")
        await self._publish(partial, volume.id, fmt)

    async def create_from_image(self, volume: VolumeRef, source: Path, fmt: str) -> None:
        partial = self._partial(volume.id)
        try:
            await run(
                QEMU_IMG, "convert", "-q", "-f", fmt, "-O", self.fmt, str(source), str(partial)
            )
            await self._grow(partial, self.fmt, volume.size_gb)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        await self._publish(partial, volume.id)

    async def create_from_volume(self, volume: VolumeRef, source: VolumeRef) -> None:
        src, fmt = self._find(source.id)
        await self._copy(volume, src, fmt, None)

    async def create_from_snapshot(self, volume: VolumeRef, snapshot: SnapshotRef) -> None:
        if self.mode == "internal":
            src, fmt = self._find(snapshot.volume_id)
            await self._copy(volume, src, fmt, f"snapshot-{snapshot.id}")
        else:
            await self._copy(volume, self._snapshot_file(snapshot.id), self.fmt, None)

    async def _copy(self, volume: VolumeRef, src: Path, fmt: str, snapshot: str | None) -> None:
        partial = self._partial(volume.id)
        try:
            if self.mode == "reflink" and snapshot is None and fmt == self.fmt:
                await asyncio.to_thread(reflink, src, partial)
            else:
                cmd = [QEMU_IMG, "convert", "-q", "-U", "-f", fmt, "-O", self.fmt]
                if snapshot is not None:
                    cmd += ["-l", f"snapshot.name={snapshot}"]
                await run(*cmd, str(src), str(partial))
            await self._grow(partial, self.fmt, volume.size_gb)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        await self._publish(partial, volume.id)

    async def _grow(self, path: Path, fmt: str, size_gb: int) -> None:
        current = await _virtual_size(path, fmt)
        if current > size_gb * GiB:
            raise DriverError(
                f"the data ({current} bytes) is larger than the volume ({size_gb} GiB)"
            )
        if current < size_gb * GiB:
            await run(QEMU_IMG, "resize", "-q", "-f", fmt, str(path), str(size_gb * GiB))

    async def delete(self, volume_id: str) -> None:
        for fmt in ("qcow2", "raw"):
            (self.volumes / f"volume-{volume_id}.{fmt}").unlink(missing_ok=True)
            (self.tmp / f"volume-{volume_id}.{fmt}.partial").unlink(missing_ok=True)

    async def extend(self, volume: VolumeRef, new_size_gb: int) -> None:
        path, fmt = self._find(volume.id)
        try:
            await self._grow(path, fmt, new_size_gb)
        except DriverError as exc:
            if LOCKED in str(exc):  # an attached guest's QEMU has it open
                raise HeldOpen(str(exc)) from exc
            raise

    async def size_of(self, volume_id: str) -> int | None:
        try:
            path, fmt = self._find(volume_id)
        except DriverError:
            return None
        return await _virtual_size(path, fmt)

    # -- snapshots ----------------------------------------------------------------------

    async def snapshot(self, snapshot: SnapshotRef) -> None:
        src, fmt = self._find(snapshot.volume_id)
        name = f"snapshot-{snapshot.id}"
        if fmt != self.fmt:
            # A volume of another format than the backend's (a type's
            # stratus:file_format): snapshots are internal qcow2 ones or
            # files in the backend's format, and would be neither.
            raise DriverError(f"volume {snapshot.volume_id} is a {fmt} file on a {self.fmt} "
                              "backend: it cannot be snapshotted")  # fmt: skip
        if self.mode == "internal":
            if name not in await _internal_snapshots(src):
                await run(QEMU_IMG, "snapshot", "-c", name, str(src))
            return
        target = self._snapshot_file(snapshot.id)
        partial = self.tmp / f"{name}.partial"
        if self.mode == "reflink":
            await asyncio.to_thread(reflink, src, partial)
        else:
            await run(QEMU_IMG, "convert", "-q", "-U", "-f", fmt, "-O", fmt, str(src), str(partial))
        await asyncio.to_thread(os.replace, partial, target)

    async def delete_snapshot(self, snapshot: SnapshotRef) -> None:
        self._snapshot_file(snapshot.id).unlink(missing_ok=True)
        with contextlib.suppress(DriverError):
            src, _ = self._find(snapshot.volume_id)
            if f"snapshot-{snapshot.id}" in await _internal_snapshots(src):
                await run(QEMU_IMG, "snapshot", "-d", f"snapshot-{snapshot.id}", str(src))

    async def remove_snapshot_orphan(self, volume_id: str, snapshot_id: str) -> None:
        await self.delete_snapshot(SnapshotRef(snapshot_id, volume_id, 0))

    async def revert(self, volume: VolumeRef, snapshot: SnapshotRef) -> None:
        dst, fmt = self._find(volume.id)
        if self.mode == "internal":
            await run(QEMU_IMG, "snapshot", "-a", f"snapshot-{snapshot.id}", str(dst))
            return
        partial = self._partial(volume.id)
        src = self._snapshot_file(snapshot.id)
        if self.mode == "reflink":
            await asyncio.to_thread(reflink, src, partial)
        else:
            await run(QEMU_IMG, "convert", "-q", "-f", fmt, "-O", fmt, str(src), str(partial))
        await asyncio.to_thread(os.replace, partial, dst)

    # -- bytes ----------------------------------------------------------------------------

    @asynccontextmanager
    async def reader(
        self, volume_id: str, snapshot: SnapshotRef | None = None
    ) -> AsyncIterator[BlockReader]:
        if snapshot is not None and self.mode != "internal":
            path, fmt, name = self._snapshot_file(snapshot.id), self.fmt, None
        else:
            path, fmt = self._find(volume_id)
            name = f"snapshot-{snapshot.id}" if snapshot is not None else None
        async with nbd.served(path, fmt, snapshot=name, scratch=self.tmp) as client:
            yield _Reader(client, path, fmt, name)

    @asynccontextmanager
    async def writer(self, volume_id: str) -> AsyncIterator[BlockWriter]:
        path, fmt = self._find(volume_id)
        async with nbd.served(path, fmt, writable=True, scratch=self.tmp) as client:
            yield client

    async def export(self, volume_id: str, fmt: str, target: Path) -> None:
        src, src_fmt = self._find(volume_id)
        await run(QEMU_IMG, "convert", "-q", "-U", "-f", src_fmt, "-O", fmt, str(src), str(target))

    def connection(self, volume_id: str, connector: dict[str, Any]) -> Connection:
        path, fmt = self._find(volume_id)
        return Connection("file", {"path": str(path), "format": fmt, "volume_id": volume_id})

    # -- what is on the host ------------------------------------------------------------

    async def inventory(self) -> Inventory:
        def scan() -> tuple[set[str], set[tuple[str, str]], tuple[Path, ...]]:
            volumes = set()
            for p in self.volumes.iterdir():
                stem = p.name.split(".")[0]
                if stem.startswith("volume-"):
                    volumes.add(stem[len("volume-") :])
            snapshots = {
                ("", p.name[len("snapshot-") :])
                for p in self.snapshots.iterdir()
                if p.name.startswith("snapshot-")
            }
            return volumes, snapshots, tuple(self.tmp.iterdir())

        volumes, snapshots, scratch = await asyncio.to_thread(scan)
        for volume_id in volumes:
            with contextlib.suppress(DriverError):
                path, fmt = self._find(volume_id)
                if fmt == "qcow2":
                    for name in await _internal_snapshots(path):
                        if name.startswith("snapshot-"):
                            snapshots.add((volume_id, name[len("snapshot-") :]))
        return Inventory(frozenset(volumes), frozenset(snapshots), scratch)


def _truncate(path: Path, size: int) -> None:
    with open(path, "wb") as f:
        f.truncate(size)


async def _virtual_size(path: Path, fmt: str) -> int:
    out = await run(QEMU_IMG, "info", "-U", "--output=json", "-f", fmt, str(path))
    return int(json.loads(out)["virtual-size"])


async def _internal_snapshots(path: Path) -> list[str]:
    out = await run(QEMU_IMG, "info", "-U", "--output=json", "-f", "qcow2", str(path))
    return [s["name"] for s in json.loads(out).get("snapshots", [])]
