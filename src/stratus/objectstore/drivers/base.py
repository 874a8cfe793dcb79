"""The storage node's drivers: what it asks of the objects on a device and
of the listing databases, as small Protocols over plain values.

- ``ObjectDevice``: the objects of one storage policy on one device
  (Swift's ``DiskFile`` manager): writers, readers, tombstones, POSTed
  metadata, quarantine, and what replication compares (suffix hashes, the
  files that count per object).  ``diskfile.DiskDevice`` keeps them as files
  (the default); ``fake.MemoryDevice`` in memory, for tests.
- ``ContainerDatabase`` and ``AccountDatabase``: a container's object
  listing and an account's container listing, with their stats and metadata
  (``containerdb``/``accountdb`` on SQLite files; ``fake.MemoryDatabases``
  keeps the same schema in memory).

The background workers (``stratus.objectstore.agent``) repair what the
disk driver keeps (files, folders, database files) and work on it directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, Self

import msgpack

from stratus.objectstore.drivers.timestamp import Timestamp

# Headers a POST replaces (matched case-insensitively, by prefix): user
# metadata and Swift's allowed_headers (a POST without X-Object-Manifest
# makes a DLO manifest a plain object again, as in Swift).
POST_REPLACES = (
    "x-object-meta-",
    "x-object-transient-sysmeta-",
    "content-disposition",
    "content-encoding",
    "content-language",
    "cache-control",
    "expires",
    "x-delete-at",
    "x-object-manifest",
    "x-robots-tag",
)


class DiskFileError(Exception):
    pass


class ObjectNotFound(DiskFileError):
    """No object; ``tombstone`` is the delete's timestamp when one is known."""

    def __init__(self, message: str = "", tombstone: Timestamp | None = None) -> None:
        super().__init__(message)
        self.tombstone = tombstone


class ObjectQuarantined(ObjectNotFound):
    """The copy was unreadable and has been moved to quarantine."""


@dataclass(slots=True)
class ObjectMetadata:
    """What is stored with an object (or a tombstone, or a POST)."""

    name: str  # /account/container/object
    timestamp: Timestamp
    content_length: int = 0
    etag: str = ""
    content_type: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    meta_timestamp: Timestamp | None = None  # of the POST in effect, if any

    @property
    def delete_at(self) -> int | None:
        for key, value in self.headers.items():
            if key.lower() == "x-delete-at":
                return int(value)
        return None

    def pack(self) -> bytes:
        return msgpack.packb(
            [
                1,
                self.name,
                self.timestamp.internal,
                self.content_length,
                self.etag,
                self.content_type,
                self.headers,
            ],
            use_bin_type=True,
        )

    @classmethod
    def unpack(cls, blob: bytes) -> ObjectMetadata:
        version, name, ts, length, etag, ctype, headers = msgpack.unpackb(blob, raw=False)
        if version != 1 or not isinstance(headers, dict):
            raise ValueError("unknown metadata format")
        return cls(name, Timestamp(ts), length, etag, ctype, headers)


def merge_post(data: ObjectMetadata, post: ObjectMetadata) -> ObjectMetadata:
    """The object as a later POST left it: the POST's headers replace the
    replaceable ones, and its content type (when it has one) the object's."""
    kept = {k: v for k, v in data.headers.items() if not k.lower().startswith(POST_REPLACES)}
    kept.update(post.headers)
    return ObjectMetadata(
        data.name,
        data.timestamp,
        data.content_length,
        data.etag,
        post.content_type or data.content_type,
        kept,
        post.timestamp,
    )


ZERO = "0000000000.00000"


@dataclass(slots=True)
class ObjectRow:
    """One object in a listing, or its deletion (``deleted``)."""

    name: str
    created_at: str  # Timestamp.internal
    size: int = 0
    content_type: str = ""
    etag: str = ""
    deleted: bool = False
    storage_policy_index: int = 0
    row_id: int = 0  # in the database it came from


@dataclass(slots=True)
class ContainerInfo:
    account: str
    container: str
    created_at: str
    put_timestamp: str
    delete_timestamp: str
    status_changed_at: str
    id: str
    object_count: int
    bytes_used: int
    storage_policy_index: int
    max_row: int

    @property
    def deleted(self) -> bool:
        return self.delete_timestamp > self.put_timestamp and self.object_count == 0


@dataclass(slots=True)
class ContainerRow:
    name: str
    put_timestamp: str
    delete_timestamp: str = ZERO
    object_count: int = 0
    bytes_used: int = 0
    stats_timestamp: str = ZERO
    storage_policy_index: int = 0
    row_id: int = 0

    @property
    def deleted(self) -> bool:
        return self.delete_timestamp > self.put_timestamp


@dataclass(slots=True)
class PolicyStats:
    container_count: int = 0
    object_count: int = 0
    bytes_used: int = 0


@dataclass(slots=True)
class AccountInfo:
    account: str
    created_at: str
    put_timestamp: str
    delete_timestamp: str
    status_changed_at: str
    id: str
    container_count: int
    object_count: int
    bytes_used: int
    max_row: int
    policies: dict[int, PolicyStats] = field(default_factory=dict)

    @property
    def deleted(self) -> bool:
        return self.delete_timestamp > self.put_timestamp


class ObjectReader(Protocol):
    """An open object: its metadata and its bytes."""

    metadata: ObjectMetadata
    path: str  # where it is, for logs

    @property
    def size(self) -> int: ...

    def read(self, start: int = 0, end: int | None = None) -> bytes:
        """Bytes ``start`` up to (not including) ``end``, whole."""

    def pread(self, pos: int, length: int) -> bytes:
        """Up to ``length`` bytes at ``pos`` (empty past the end)."""

    def pread_direct(self, pos: int, length: int) -> bytes | None:
        """As ``pread``, around any cache (big sequential reads); None when
        the driver cannot (the caller uses ``pread``)."""

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...


class ObjectWriter(Protocol):
    """A PUT in progress, invisible until committed."""

    bytes_written: int

    @property
    def etag(self) -> str:
        """The MD5 of what was written, in hex."""

    def write(self, chunk: bytes) -> None: ...

    def commit(
        self,
        name: str,
        timestamp: Timestamp,
        content_type: str = "application/octet-stream",
        headers: dict[str, str] | None = None,
    ) -> ObjectMetadata:
        """Make the object durable and visible; what was stored."""

    def abort(self) -> None:
        """Drop what was written (a no-op after commit)."""

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...


class ObjectDevice(Protocol):
    """The objects of one storage policy on one device.  Blocking: the node
    calls it from its thread pool."""

    def writer(self, partition: int, name_hash: str, size: int | None = None) -> ObjectWriter: ...

    def open(self, partition: int, name_hash: str) -> ObjectReader:
        """The current version, or ObjectNotFound (with the tombstone's time)."""

    def current(self, partition: int, name_hash: str) -> tuple[Timestamp | None, bool]:
        """The timestamp of the stored data or tombstone, and whether it is data."""

    def delete(self, partition: int, name_hash: str, name: str, timestamp: Timestamp) -> None:
        """Write a tombstone: older versions go, newer ones stay."""

    def post(
        self,
        partition: int,
        name_hash: str,
        name: str,
        timestamp: Timestamp,
        headers: dict[str, str],
        content_type: str = "",
    ) -> None:
        """Record a POST's metadata beside the data."""

    def quarantine(self, partition: int, name_hash: str) -> str:
        """Set a corrupted object aside (the replicator restores a copy)."""

    def has_file(self, partition: int, name_hash: str, filename: str) -> bool:
        """Whether this version (``<timestamp>.<ext>``) is stored."""

    def suffix_hashes(
        self, partition: int, recalculate: Iterable[str] | bool = False
    ) -> dict[str, str]:
        """Per suffix of the partition, a hash of the files that count."""

    def list_files(
        self, partition: int, suffixes: Sequence[str]
    ) -> dict[str, dict[str, list[str]]]:
        """The files that count in each object of those suffixes."""


class ObjectDriver(Protocol):
    """Makes the ``ObjectDevice`` of a device folder and policy."""

    def device(self, root: str, policy: int) -> ObjectDevice: ...


class ListingDatabase(Protocol):
    """What container and account databases share: their own timestamps,
    metadata, and the replication bookkeeping of their rows."""

    def set_put_timestamp(self, timestamp: Timestamp) -> None: ...

    def set_delete_timestamp(self, timestamp: Timestamp) -> None: ...

    def get_metadata(self) -> dict[str, str]: ...

    def update_metadata(self, updates: dict[str, tuple[str, Timestamp | str]]) -> None: ...

    def max_row(self) -> int: ...

    def get_sync(self, remote_id: str, incoming: bool = True) -> int: ...

    def set_sync(self, remote_id: str, sync_point: int, incoming: bool = True) -> None:
        """Record how far ``remote_id``'s rows are merged or pushed (never back)."""

    def close(self) -> None: ...


class ContainerDatabase(ListingDatabase, Protocol):
    """A container: its object rows (a listing), stats and metadata."""

    def info(self) -> ContainerInfo: ...

    def set_storage_policy(self, policy: int) -> None: ...

    def merge_items(self, items: Iterable[ObjectRow], source: str | None = None) -> int: ...

    def row(self, name: str) -> ObjectRow | None: ...

    def get_items_since(self, row_id: int, count: int) -> list[ObjectRow]:
        """Rows changed after ``row_id``, oldest change first."""

    def unreported(self) -> dict[str, Any] | None: ...

    def mark_reported(self, report: dict[str, Any]) -> None: ...

    def list(
        self,
        prefix: str | None = None,
        delimiter: str | None = None,
        marker: str | None = None,
        end_marker: str | None = None,
        limit: int = 10000,
        reverse: bool = False,
        path: str | None = None,
    ) -> list[dict[str, Any]]: ...


class AccountDatabase(ListingDatabase, Protocol):
    """An account: its container rows (a listing), stats and metadata."""

    def info(self) -> AccountInfo: ...

    def merge_items(self, items: Iterable[ContainerRow], source: str | None = None) -> int: ...

    def list(
        self,
        prefix: str | None = None,
        delimiter: str | None = None,
        marker: str | None = None,
        end_marker: str | None = None,
        limit: int = 10000,
        reverse: bool = False,
    ) -> list[dict[str, Any]]: ...


class DatabaseDriver(Protocol):
    """Opens and creates the listing databases, by path."""

    def open_container(self, path: str) -> ContainerDatabase:
        """The database at ``path``, or DatabaseNotFound."""

    def open_account(self, path: str) -> AccountDatabase: ...

    def create_container(
        self, path: str, account: str, container: str, put_timestamp: Timestamp, policy: int
    ) -> ContainerDatabase: ...

    def create_account(
        self, path: str, account: str, put_timestamp: Timestamp
    ) -> AccountDatabase: ...


class DatabaseNotFound(Exception):
    pass
