"""In-memory volumes and backup objects, for unit tests only (``fake``).
Volumes are sparse dicts of 1 MiB blocks, so a "1 GiB" volume costs what is
written to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from stratus.volume.drivers.base import (
    BlockReader,
    BlockWriter,
    Capability,
    Capacity,
    Connection,
    DriverError,
    Extent,
    GiB,
    Inventory,
    SnapshotRef,
    StoredObject,
    VolumeRef,
)

BLOCK = 1 << 20


class _Disk:
    def __init__(self, size: int, blocks: dict[int, bytes] | None = None):
        self.size = size
        self.blocks: dict[int, bytes] = dict(blocks or {})

    def copy(self) -> _Disk:
        return _Disk(self.size, self.blocks)

    async def read(self, offset: int, length: int) -> bytes:
        out = bytearray()
        position = offset
        while position < offset + length:
            index, start = divmod(position, BLOCK)
            take = min(BLOCK - start, offset + length - position)
            block = self.blocks.get(index, bytes(BLOCK))
            out += block[start : start + take]
            position += take
        return bytes(out)

    async def write(self, offset: int, data: bytes | memoryview) -> None:
        view = memoryview(bytes(data))
        position = offset
        while view:
            index, start = divmod(position, BLOCK)
            take = min(BLOCK - start, len(view))
            block = bytearray(self.blocks.get(index, bytes(BLOCK)))
            block[start : start + take] = view[:take]
            self.blocks[index] = bytes(block)
            view, position = view[take:], position + take

    async def write_zeroes(self, offset: int, length: int) -> None:
        await self.write(offset, bytes(length))

    async def flush(self) -> None:
        return None

    async def extents(self) -> list[Extent]:
        return [Extent(0, self.size)]


class FakeDriver:
    name = "fake"

    def __init__(self, capacity_gb: int = 1000, fail: set[str] | None = None):
        self.capabilities = frozenset(Capability)
        self.disks: dict[str, _Disk] = {}
        self.snaps: dict[str, _Disk] = {}
        self.capacity_gb = capacity_gb
        self.fail = fail or set()  # operation names that raise DriverError
        self.scratch_dir = Path("/nonexistent")

    def _check(self, operation: str) -> None:
        if operation in self.fail:
            raise DriverError(f"fake driver: {operation} fails on request")

    def _disk(self, volume_id: str) -> _Disk:
        if volume_id not in self.disks:
            raise DriverError(f"volume {volume_id} does not exist")
        return self.disks[volume_id]

    async def start(self) -> None:
        return None

    async def capacity(self) -> Capacity:
        used = sum(d.size for d in self.disks.values()) // GiB
        return Capacity(self.capacity_gb, self.capacity_gb - used, used)

    async def create(self, volume: VolumeRef) -> None:
        self._check("create")
        self.disks[volume.id] = _Disk(volume.size_gb * GiB)

    async def create_from_image(self, volume: VolumeRef, source: Path, fmt: str) -> None:
        self._check("create_from_image")
        disk = _Disk(volume.size_gb * GiB)
        await disk.write(0, source.read_bytes())
        self.disks[volume.id] = disk

    async def create_from_volume(self, volume: VolumeRef, source: VolumeRef) -> None:
        self._check("create_from_volume")
        disk = self._disk(source.id).copy()
        disk.size = volume.size_gb * GiB
        self.disks[volume.id] = disk

    async def create_from_snapshot(self, volume: VolumeRef, snapshot: SnapshotRef) -> None:
        self._check("create_from_snapshot")
        disk = self.snaps[snapshot.id].copy()
        disk.size = volume.size_gb * GiB
        self.disks[volume.id] = disk

    async def delete(self, volume_id: str) -> None:
        self._check("delete")
        self.disks.pop(volume_id, None)

    async def extend(self, volume: VolumeRef, new_size_gb: int) -> None:
        self._check("extend")
        self._disk(volume.id).size = new_size_gb * GiB

    async def size_of(self, volume_id: str) -> int | None:
        disk = self.disks.get(volume_id)
        return disk.size if disk else None

    async def snapshot(self, snapshot: SnapshotRef) -> None:
        self._check("snapshot")
        self.snaps[snapshot.id] = self._disk(snapshot.volume_id).copy()

    async def delete_snapshot(self, snapshot: SnapshotRef) -> None:
        self.snaps.pop(snapshot.id, None)

    async def remove_snapshot_orphan(self, volume_id: str, snapshot_id: str) -> None:
        self.snaps.pop(snapshot_id, None)

    async def revert(self, volume: VolumeRef, snapshot: SnapshotRef) -> None:
        self.disks[volume.id] = self.snaps[snapshot.id].copy()

    @asynccontextmanager
    async def reader(
        self, volume_id: str, snapshot: SnapshotRef | None = None
    ) -> AsyncIterator[BlockReader]:
        yield self.snaps[snapshot.id] if snapshot is not None else self._disk(volume_id)

    @asynccontextmanager
    async def writer(self, volume_id: str) -> AsyncIterator[BlockWriter]:
        yield self._disk(volume_id)

    async def export(self, volume_id: str, fmt: str, target: Path) -> None:
        disk = self._disk(volume_id)
        target.write_bytes(await disk.read(0, max(disk.blocks, default=-1) * BLOCK + BLOCK))

    def scratch(self, name: str) -> Path:
        return self.scratch_dir / name

    def connection(self, volume_id: str, connector: dict[str, Any]) -> Connection:
        return Connection("fake", {"volume_id": volume_id})

    async def inventory(self) -> Inventory:
        return Inventory(frozenset(self.disks), frozenset(("", s) for s in self.snaps))


class FakeBackupStore:
    def __init__(self) -> None:
        self.containers: dict[str, dict[str, bytes]] = {}

    async def ensure_container(self, container: str) -> None:
        self.containers.setdefault(container, {})

    async def put(self, container: str, name: str, data: bytes) -> None:
        self.containers.setdefault(container, {})[name] = bytes(data)

    async def get(self, container: str, name: str) -> bytes | None:
        return self.containers.get(container, {}).get(name)

    async def delete(self, container: str, name: str) -> None:
        self.containers.get(container, {}).pop(name, None)

    async def list(self, container: str, prefix: str) -> AsyncIterator[StoredObject]:
        for name, data in sorted(self.containers.get(container, {}).items()):
            if name.startswith(prefix):
                yield StoredObject(name, len(data))

    async def close(self) -> None:
        return None
