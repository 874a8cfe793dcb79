"""The contract between the volume agent and its backends: plain values in,
plain values out.  A backend keeps volumes (and their snapshots) on one
host, says what it can do (``capabilities``), hands out readers and writers
of a volume's bytes (backups, images), and names how a consumer reaches a
volume (``connection``).  Backups are kept by a ``BackupStore``: named
objects in containers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

GiB = 1 << 30


class Capability(StrEnum):
    SNAPSHOT = "snapshot"  # snapshots without copying the volume
    CLONE = "clone"  # a volume from another one or from a snapshot
    EXTEND = "extend"
    REVERT = "revert_to_snapshot"
    MULTIATTACH = "multiattach"
    THIN = "thin_provisioning"


class DriverError(Exception):
    """A backend operation failed; the message says why, for the user."""


class HeldOpen(DriverError):
    """The volume's data is held open by the process using it (a guest's
    QEMU holds a local file with a write lock): a change of size is that
    consumer's to make (compute grows an attached disk with QMP)."""


@dataclass(frozen=True)
class VolumeRef:
    id: str
    size_gb: int
    # The image format its type asks for (extra spec "stratus:file_format":
    # qcow2 or raw; a file backend's), None: the backend's own.
    fmt: str | None = None


@dataclass(frozen=True)
class SnapshotRef:
    id: str
    volume_id: str
    size_gb: int


@dataclass(frozen=True)
class Capacity:
    total_gb: int
    free_gb: int
    allocated_gb: int  # what the backend's volumes have been promised


@dataclass(frozen=True)
class Connection:
    """How a consumer reaches a volume: Cinder's ``connection_info``.  The
    file backend hands out ``file`` (a path and a format); network exports
    (``nbd``, ``iscsi``) fit the same shape."""

    driver_volume_type: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Inventory:
    """What a backend holds on its host."""

    volumes: frozenset[str]
    # (volume id, snapshot id): the volume's id where a snapshot lives inside
    # its volume, "" where it is a thing of its own
    snapshots: frozenset[tuple[str, str]]
    scratch: tuple[Path, ...] = ()  # partial or temporary files


@dataclass
class Extent:
    offset: int
    length: int
    zero: bool = False  # known to read as zeros (nothing allocated)


class BlockReader(Protocol):
    size: int  # bytes

    async def read(self, offset: int, length: int) -> bytes: ...

    async def extents(self) -> list[Extent]:
        """The volume's ranges, those known to hold zeros marked."""
        ...


class BlockWriter(Protocol):
    size: int

    async def write(self, offset: int, data: bytes | memoryview) -> None: ...

    async def write_zeroes(self, offset: int, length: int) -> None: ...

    async def flush(self) -> None: ...


class VolumeDriver(Protocol):
    name: str
    capabilities: frozenset[Capability]

    async def start(self) -> None:
        """Prepare the backend (folders, probes)."""

    async def capacity(self) -> Capacity: ...

    async def create(self, volume: VolumeRef) -> None:
        """An empty volume."""

    async def create_from_image(self, volume: VolumeRef, source: Path, fmt: str) -> None:
        """A volume holding an image file (``fmt``: qcow2 or raw), grown to
        the volume's size."""

    async def create_from_volume(self, volume: VolumeRef, source: VolumeRef) -> None: ...

    async def create_from_snapshot(self, volume: VolumeRef, snapshot: SnapshotRef) -> None:
        """A volume that stays valid when the snapshot or its volume goes."""

    async def delete(self, volume_id: str) -> None:
        """Remove a volume; nothing there is not an error."""

    async def extend(self, volume: VolumeRef, new_size_gb: int) -> None: ...

    async def size_of(self, volume_id: str) -> int | None:
        """A volume's size in bytes, or None when it does not exist."""

    async def snapshot(self, snapshot: SnapshotRef) -> None: ...

    async def delete_snapshot(self, snapshot: SnapshotRef) -> None: ...

    async def revert(self, volume: VolumeRef, snapshot: SnapshotRef) -> None: ...

    def reader(
        self, volume_id: str, snapshot: SnapshotRef | None = None
    ) -> AbstractAsyncContextManager[BlockReader]:
        """The volume's (or one of its snapshots') bytes, read-only."""
        ...

    def writer(self, volume_id: str) -> AbstractAsyncContextManager[BlockWriter]: ...

    async def export(self, volume_id: str, fmt: str, target: Path) -> None:
        """Write the volume as an image file of format ``fmt`` at ``target``."""

    def scratch(self, name: str) -> Path:
        """A path for a temporary file (downloads, exports); the agent
        removes what is left there at start."""
        ...

    def connection(self, volume_id: str, connector: dict[str, Any]) -> Connection: ...

    async def inventory(self) -> Inventory: ...

    async def remove_snapshot_orphan(self, volume_id: str, snapshot_id: str) -> None: ...


@dataclass
class StoredObject:
    name: str
    size: int


class BackupStore(Protocol):
    """Where backups go: containers of named objects (the object store)."""

    async def ensure_container(self, container: str) -> None: ...

    async def put(self, container: str, name: str, data: bytes) -> None: ...

    async def get(self, container: str, name: str) -> bytes | None:
        """An object's bytes, or None when it does not exist."""
        ...

    async def delete(self, container: str, name: str) -> None:
        """Remove an object; a missing one is not an error."""

    def list(self, container: str, prefix: str) -> AsyncIterator[StoredObject]: ...

    async def close(self) -> None: ...
