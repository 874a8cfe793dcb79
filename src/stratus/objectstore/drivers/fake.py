"""In-memory drivers, for tests only (as Swift's ``mem_diskfile``): objects
kept in dictionaries with the disk driver's rules (the newest of data and
tombstone wins, a POST's metadata overlays the data), and the listing
databases on the SQLite schema of the real ones, in memory.  Nothing
survives the process; never a default."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Self

from stratus.objectstore.drivers.accountdb import AccountDB
from stratus.objectstore.drivers.base import (
    DatabaseNotFound,
    ObjectMetadata,
    ObjectNotFound,
    merge_post,
)
from stratus.objectstore.drivers.containerdb import ContainerDB
from stratus.objectstore.drivers.hashes import parse_name, select_files
from stratus.objectstore.drivers.timestamp import Timestamp


@dataclass
class _Stored:
    meta: ObjectMetadata
    data: bytes = b""


@dataclass
class MemoryReader:
    metadata: ObjectMetadata
    data: bytes
    path: str

    @property
    def size(self) -> int:
        return self.metadata.content_length

    def read(self, start: int = 0, end: int | None = None) -> bytes:
        return self.data[start : self.size if end is None else end]

    def pread(self, pos: int, length: int) -> bytes:
        return self.data[pos : pos + length]

    def pread_direct(self, pos: int, length: int) -> bytes | None:
        return None

    def close(self) -> None:
        return None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class MemoryWriter:
    def __init__(self, device: MemoryDevice, partition: int, name_hash: str) -> None:
        self.device = device
        self.partition = partition
        self.name_hash = name_hash
        self.parts: list[bytes] = []
        self.bytes_written = 0
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._done = False

    @property
    def etag(self) -> str:
        return self._md5.hexdigest()

    def write(self, chunk: bytes) -> None:
        self._md5.update(chunk)
        self.parts.append(chunk)
        self.bytes_written += len(chunk)

    def commit(
        self,
        name: str,
        timestamp: Timestamp,
        content_type: str = "application/octet-stream",
        headers: dict[str, str] | None = None,
    ) -> ObjectMetadata:
        meta = ObjectMetadata(
            name, timestamp, self.bytes_written, self.etag, content_type, dict(headers or {})
        )
        self.device.store(self.partition, self.name_hash, ".data", meta, b"".join(self.parts))
        self._done = True
        return meta

    def abort(self) -> None:
        self.parts = []

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.abort()


@dataclass
class MemoryDevice:
    """An ``ObjectDevice`` in memory: per partition and hash, the files that
    a disk device would keep (``<timestamp>.data``, ``.ts``, ``.meta``)."""

    root: str
    policy: int = 0
    files: dict[tuple[int, str], dict[str, _Stored]] = field(default_factory=dict)
    quarantined: list[str] = field(default_factory=list)

    def store(
        self, partition: int, name_hash: str, ext: str, meta: ObjectMetadata, data: bytes = b""
    ) -> None:
        folder = self.files.setdefault((partition, name_hash), {})
        folder[meta.timestamp.internal + ext] = _Stored(meta, data)
        keep, _ = select_files(list(folder), None)
        for name in list(folder):
            if name not in keep:
                del folder[name]

    def writer(self, partition: int, name_hash: str, size: int | None = None) -> MemoryWriter:
        return MemoryWriter(self, partition, name_hash)

    def _keep(self, partition: int, name_hash: str) -> list[str]:
        return select_files(list(self.files.get((partition, name_hash), {})), None)[0]

    def open(self, partition: int, name_hash: str) -> MemoryReader:
        keep = self._keep(partition, name_hash)
        winner = next((n for n in keep if not n.endswith(".meta")), None)
        if winner is None:
            raise ObjectNotFound(name_hash)
        if winner.endswith(".ts"):
            raise ObjectNotFound(name_hash, tombstone=parse_name(winner)[0])
        folder = self.files[(partition, name_hash)]
        stored = folder[winner]
        meta = stored.meta
        post = next((n for n in keep if n.endswith(".meta")), None)
        if post is not None:
            meta = merge_post(meta, folder[post].meta)
        return MemoryReader(meta, stored.data, f"memory:{self.root}/{name_hash}/{winner}")

    def current(self, partition: int, name_hash: str) -> tuple[Timestamp | None, bool]:
        keep = self._keep(partition, name_hash)
        winner = next((n for n in keep if not n.endswith(".meta")), None)
        if winner is None:
            return None, False
        ts, ext = parse_name(winner)
        return ts, ext == ".data"

    def delete(self, partition: int, name_hash: str, name: str, timestamp: Timestamp) -> None:
        self.store(partition, name_hash, ".ts", ObjectMetadata(name, timestamp))

    def post(
        self,
        partition: int,
        name_hash: str,
        name: str,
        timestamp: Timestamp,
        headers: dict[str, str],
        content_type: str = "",
    ) -> None:
        meta = ObjectMetadata(name, timestamp, content_type=content_type, headers=dict(headers))
        self.store(partition, name_hash, ".meta", meta)

    def quarantine(self, partition: int, name_hash: str) -> str:
        self.files.pop((partition, name_hash), None)
        self.quarantined.append(name_hash)
        return f"memory:{self.root}/quarantined/{name_hash}"

    def has_file(self, partition: int, name_hash: str, filename: str) -> bool:
        return filename in self.files.get((partition, name_hash), {})

    def suffix_hashes(
        self, partition: int, recalculate: Iterable[str] | bool = False
    ) -> dict[str, str]:
        out: dict[str, hashlib._Hash] = {}
        for (part, name_hash), folder in sorted(self.files.items()):
            if part == partition and folder:
                md5 = out.setdefault(name_hash[-3:], hashlib.md5(usedforsecurity=False))
                for name in sorted(self._keep(part, name_hash)):
                    md5.update(name.encode())
        return {suffix: md5.hexdigest() for suffix, md5 in out.items()}

    def list_files(
        self, partition: int, suffixes: Sequence[str]
    ) -> dict[str, dict[str, list[str]]]:
        out: dict[str, dict[str, list[str]]] = {suffix: {} for suffix in suffixes}
        for part, name_hash in self.files:
            keep = self._keep(part, name_hash)
            if part == partition and name_hash[-3:] in out and keep:
                out[name_hash[-3:]][name_hash] = keep
        return out


class MemoryDriver:
    """The ``ObjectDriver`` of ``MemoryDevice``s (one per folder and policy)."""

    def __init__(self) -> None:
        self.devices: dict[tuple[str, int], MemoryDevice] = {}

    def device(self, root: str, policy: int) -> MemoryDevice:
        key = (root, policy)
        if key not in self.devices:
            self.devices[key] = MemoryDevice(root, policy)
        return self.devices[key]


class _KeptContainerDB(ContainerDB):
    def close(self) -> None:
        return None  # in memory: closing would lose it


class _KeptAccountDB(AccountDB):
    def close(self) -> None:
        return None


class MemoryDatabases:
    """The ``DatabaseDriver`` keeping each database in memory, by path."""

    def __init__(self) -> None:
        self.containers: dict[str, ContainerDB] = {}
        self.accounts: dict[str, AccountDB] = {}

    def open_container(self, path: str) -> ContainerDB:
        if path not in self.containers:
            raise DatabaseNotFound(path)
        return self.containers[path]

    def open_account(self, path: str) -> AccountDB:
        if path not in self.accounts:
            raise DatabaseNotFound(path)
        return self.accounts[path]

    def create_container(
        self, path: str, account: str, container: str, put_timestamp: Timestamp, policy: int
    ) -> ContainerDB:
        if path not in self.containers:
            self.containers[path] = _KeptContainerDB.in_memory(
                path, ContainerDB.stat_of(account, container, put_timestamp, policy)
            )
        db = self.containers[path]
        db.set_put_timestamp(put_timestamp)
        return db

    def create_account(self, path: str, account: str, put_timestamp: Timestamp) -> AccountDB:
        if path not in self.accounts:
            self.accounts[path] = _KeptAccountDB.in_memory(
                path, AccountDB.stat_of(account, put_timestamp)
            )
        db = self.accounts[path]
        db.set_put_timestamp(put_timestamp)
        return db
