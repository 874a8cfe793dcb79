"""The ring: which devices hold an account, a container or an object.

A name's path ``/account[/container[/object]]`` is hashed (MD5, salted with the
ring's secret prefix and suffix so that clients cannot aim names at one
partition); the top ``part_power`` bits of the digest are its *partition*.  The
ring holds, for each replica, an array of device ids indexed by partition, so
``nodes()`` is ``replicas`` array lookups.  Rings are built and balanced by
:class:`stratus.objectstore.ring.builder.RingBuilder` and saved as gzipped
msgpack; this module only reads them.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import sys
import tempfile
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import msgpack

FORMAT = 1
NO_DEVICE = 0xFFFF  # an unassigned slot in an assignment array
MAX_PART_POWER = 32


@dataclass(slots=True)
class Device:
    """A disk on a storage node."""

    id: int
    region: int
    zone: int
    ip: str
    port: int
    device: str
    weight: float
    meta: str = ""

    @property
    def zone_key(self) -> tuple[int, int]:
        return (self.region, self.zone)


def hash_path(
    account: str,
    container: str | None = None,
    obj: str | None = None,
    *,
    prefix: bytes = b"",
    suffix: bytes = b"",
) -> bytes:
    """The salted MD5 digest of ``/account[/container[/object]]``."""
    if obj is not None and container is None:
        raise ValueError("an object needs a container")
    path = "/" + account
    if container is not None:
        path += "/" + container
        if obj is not None:
            path += "/" + obj
    return hashlib.md5(prefix + path.encode("utf-8") + suffix, usedforsecurity=False).digest()


class Ring:
    """An immutable map from partitions to devices."""

    def __init__(
        self,
        part_power: int,
        replicas: int,
        devices: Sequence[Device],
        assignments: Sequence[array[int]],
        *,
        hash_prefix: str = "",
        hash_suffix: str = "",
    ) -> None:
        if not 0 <= part_power <= MAX_PART_POWER:
            raise ValueError(f"part_power must be 0..{MAX_PART_POWER}")
        if len(assignments) != replicas:
            raise ValueError("one assignment array per replica is needed")
        parts = 1 << part_power
        by_id: list[Device | None] = [None] * (max((d.id for d in devices), default=-1) + 1)
        for dev in devices:
            by_id[dev.id] = dev
        for row in assignments:
            if len(row) != parts:
                raise ValueError("an assignment array must hold one device per partition")
            for dev_id in set(row):
                if dev_id >= len(by_id) or by_id[dev_id] is None:
                    raise ValueError(f"assignment names unknown device {dev_id}")
        self.part_power = part_power
        self.replicas = replicas
        self.partitions = parts
        self.devices: tuple[Device, ...] = tuple(devices)
        self.assignments: tuple[array[int], ...] = tuple(assignments)
        self.hash_prefix = hash_prefix
        self.hash_suffix = hash_suffix
        self._prefix = hash_prefix.encode()
        self._suffix = hash_suffix.encode()
        self._shift = 32 - part_power
        self._by_id = by_id
        self._handoff_pool = _interleave_zones([d for d in devices if d.weight > 0])

    # -- hashing ---------------------------------------------------------------

    def hash(self, account: str, container: str | None = None, obj: str | None = None) -> str:
        """The hex digest naming the object's (or database's) folder."""
        return hash_path(account, container, obj, prefix=self._prefix, suffix=self._suffix).hex()

    def partition_of_hash(self, name_hash: str) -> int:
        return int(name_hash[:8], 16) >> self._shift

    def partition(self, account: str, container: str | None = None, obj: str | None = None) -> int:
        digest = hash_path(account, container, obj, prefix=self._prefix, suffix=self._suffix)
        return int.from_bytes(digest[:4], "big") >> self._shift

    def locate(
        self, account: str, container: str | None = None, obj: str | None = None
    ) -> tuple[int, str, list[Device]]:
        """Partition, hash and primary devices in one call (the proxy's lookup)."""
        digest = hash_path(account, container, obj, prefix=self._prefix, suffix=self._suffix)
        part = int.from_bytes(digest[:4], "big") >> self._shift
        return part, digest.hex(), self.nodes(part)

    # -- placement -------------------------------------------------------------

    def nodes(self, partition: int) -> list[Device]:
        """The primary devices of a partition, one per replica."""
        by_id = self._by_id
        return [by_id[row[partition]] for row in self.assignments]  # type: ignore[misc]

    def handoffs(self, partition: int) -> Iterator[Device]:
        """Other devices to try when primaries fail, in a stable order per
        partition: devices in unused regions, then unused zones, then the rest."""
        primaries = self.nodes(partition)
        seen = {d.id for d in primaries}
        regions = {d.region for d in primaries}
        zones = {d.zone_key for d in primaries}
        pool = self._handoff_pool
        if not pool:
            return
        start = (partition * 2654435761) % len(pool)
        order = pool[start:] + pool[:start]
        for dev in order:
            if dev.region not in regions and dev.id not in seen:
                seen.add(dev.id)
                regions.add(dev.region)
                zones.add(dev.zone_key)
                yield dev
        for dev in order:
            if dev.zone_key not in zones and dev.id not in seen:
                seen.add(dev.id)
                zones.add(dev.zone_key)
                yield dev
        for dev in order:
            if dev.id not in seen:
                seen.add(dev.id)
                yield dev

    def device(self, dev_id: int) -> Device | None:
        return self._by_id[dev_id] if 0 <= dev_id < len(self._by_id) else None

    # -- files -----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "part_power": self.part_power,
            "replicas": self.replicas,
            "hash_prefix": self.hash_prefix,
            "hash_suffix": self.hash_suffix,
            "devices": [asdict(d) for d in self.devices],
            "assignments": [array_to_bytes(row) for row in self.assignments],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Ring:
        return cls(
            data["part_power"],
            data["replicas"],
            [Device(**d) for d in data["devices"]],
            [array_from_bytes("H", row) for row in data["assignments"]],
            hash_prefix=data["hash_prefix"],
            hash_suffix=data["hash_suffix"],
        )

    def save(self, path: str | Path) -> None:
        write_ring_file(path, {"format": FORMAT, "ring": self.to_dict()})

    @classmethod
    def load(cls, path: str | Path) -> Ring:
        """Read a ring file, or the ring inside a builder file."""
        data = read_ring_file(path)
        if data.get("ring") is None:
            raise ValueError(f"{path}: no ring yet (the builder was never rebalanced)")
        return cls.from_dict(data["ring"])


def _interleave_zones(devices: list[Device]) -> list[Device]:
    """Devices round-robin over zones, so neighbours in the list differ in zone."""
    by_zone: dict[tuple[int, int], list[Device]] = {}
    for dev in sorted(devices, key=lambda d: (d.region, d.zone, d.id)):
        by_zone.setdefault(dev.zone_key, []).append(dev)
    queues = list(by_zone.values())
    out: list[Device] = []
    for i in range(max((len(q) for q in queues), default=0)):
        out.extend(q[i] for q in queues if i < len(q))
    return out


def array_to_bytes(row: array[int]) -> bytes:
    """Little-endian bytes of an array, whatever this machine's byte order."""
    if sys.byteorder == "big":
        row = array(row.typecode, row)
        row.byteswap()
    return row.tobytes()


def array_from_bytes(typecode: str, data: bytes) -> array[int]:
    row = array(typecode)
    row.frombytes(data)
    if sys.byteorder == "big":
        row.byteswap()
    return row


def write_ring_file(path: str | Path, payload: dict[str, Any]) -> None:
    """Write gzipped msgpack atomically: temp file, fsync, rename, fsync dir."""
    path = Path(path)
    blob = gzip.compress(msgpack.packb(payload, use_bin_type=True), compresslevel=6, mtime=0)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_ring_file(path: str | Path) -> dict[str, Any]:
    data = msgpack.unpackb(gzip.decompress(Path(path).read_bytes()), raw=False)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{path}: not a ring file of format {FORMAT}")
    return data
