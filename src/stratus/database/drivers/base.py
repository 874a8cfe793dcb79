"""What the database agent drives, as small Protocols over plain dataclasses.

- ``Datastore``: one kind of database server (PostgreSQL, MariaDB): make its
  data folder, start and stop it, manage its databases and users, stream a
  backup out and back in.
- ``Isolation``: what each server runs inside: a network namespace, a cgroup
  holding the flavor's memory and CPU, an unprivileged system user, and its
  data on a block device mounted for it.
- ``Network`` and ``Volumes``: the instance's port on the tenant network and
  its block-storage volume, asked of the network and volume services.
- ``BackupStore``: where backups go (the object store).

Drivers never import models or each other."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


class DriverError(Exception):
    """A driver's failure, its message fit for an instance's fault."""


@dataclass(frozen=True)
class Place:
    """Where one instance's server runs: everything ``Isolation`` made."""

    instance_id: str
    netns: str  # the network namespace ("" for none: the fake driver)
    user: str  # the unprivileged system user the server runs as
    uid: int
    gid: int
    cgroup: str  # the cgroup's name (under each controller)
    data_dir: Path  # the mounted volume's folder for the server's files
    run_dir: Path  # sockets and pid files, outside the volume
    log_file: Path


@dataclass(frozen=True)
class ServerSpec:
    """The server an instance wants."""

    instance_id: str
    datastore: str
    version: str
    memory_mb: int
    vcpus: int
    port: int
    allowed_cidrs: tuple[str, ...] = ()
    # Configuration values beyond the defaults (a configuration group).
    settings: dict[str, str] = field(default_factory=dict)
    # A replica: read-only, following its source.
    replica: bool = False
    # On a source: its replicas' replication users and addresses.
    replication: tuple[tuple[str, str], ...] = ()
    # The USER logs enabled (``Datastore.log_files``).
    logs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Upstream:
    """The running source a replica copies and follows: its place and spec,
    the address the replica reaches it at, and the replication user (and
    password) made on it for this replica."""

    place: Place
    spec: ServerSpec
    address: str
    user: str
    password: str


@dataclass(frozen=True)
class DatabaseSpec:
    name: str
    character_set: str | None = None
    collate: str | None = None


@dataclass(frozen=True)
class UserSpec:
    name: str
    host: str = "%"
    password: str | None = None  # None: keep the one it has
    databases: tuple[str, ...] = ()  # every database it may use
    revoked: tuple[str, ...] = ()  # databases to take away


# A stream of bytes (a backup) and a consumer of one.
ByteStream = AsyncIterator[bytes]
Sink = Callable[[ByteStream], Awaitable[None]]


class Datastore(Protocol):
    name: str  # "postgresql" / "mariadb"
    default_port: int
    admin_user: str  # the agent's own superuser inside the server
    root_user: str  # the user "root enable" gives a password

    def version(self) -> str | None:
        """The installed server's version ("15.18"), or None when not installed."""

    async def initialize(self, place: Place, spec: ServerSpec) -> None:
        """Make a new, empty data folder (idempotent: kept when it exists)."""

    async def start(self, place: Place, spec: ServerSpec) -> None:
        """Start the server (its configuration from ``spec``) and wait until
        it accepts connections; nothing when it runs."""

    async def stop(self, place: Place) -> None: ...

    def running(self, place: Place) -> bool: ...

    async def ensure_database(self, place: Place, spec: ServerSpec, db: DatabaseSpec) -> None: ...

    async def drop_database(self, place: Place, spec: ServerSpec, name: str) -> None: ...

    async def ensure_user(self, place: Place, spec: ServerSpec, user: UserSpec) -> None:
        """Create the user or change its password, and grant and revoke."""

    async def drop_user(self, place: Place, spec: ServerSpec, name: str, host: str) -> None: ...

    async def enable_root(self, place: Place, spec: ServerSpec, password: str) -> None: ...

    async def accounts(self, place: Place, spec: ServerSpec) -> tuple[list[str], list[UserSpec]]:
        """The databases and users the server holds (its own excepted), each
        user with the databases it may use: what a restored backup brought."""

    async def backup(
        self, place: Place, spec: ServerSpec, sink: Sink, parent: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Stream a backup of the running server into ``sink``: a full one,
        or with ``parent`` (what an earlier backup returned) only what
        changed since that one.  Returns what a backup on top of this one
        will need (``DriverError`` when the server cannot make it)."""

    async def restore(self, place: Place, spec: ServerSpec, chain: Sequence[ByteStream]) -> None:
        """Fill the data folder from a full backup's stream and then the
        streams of the incremental backups on top of it, oldest first (a
        folder a restore stopped half-way is emptied first)."""

    def log_files(self, place: Place) -> dict[str, tuple[str, Path]]:
        """The server's logs: name -> (Trove's type, USER or SYS, its file)."""

    async def set_log(self, place: Place, spec: ServerSpec, name: str, enabled: bool) -> None:
        """Turn a USER log on or off in the running server (``spec.logs``
        keeps it so at the next start)."""

    async def allow_replica(
        self, place: Place, spec: ServerSpec, user: str, password: str, address: str
    ) -> None:
        """On a running source: a replication user (that password) that the
        replica at ``address`` may connect as (``spec.replication`` lists it)."""

    async def forget_replica(self, place: Place, spec: ServerSpec, user: str) -> None:
        """On a running source: the replication user dropped."""

    def seeded(self, place: Place) -> bool:
        """Whether a replica's data folder holds a finished copy of its source."""

    async def seed_replica(
        self,
        place: Place,
        spec: ServerSpec,
        upstream: Upstream,
    ) -> None:
        """Fill the replica's data folder (emptied first unless a seed
        finished there) from the running source, set to follow it; the
        replica's server may be left running."""

    async def detach_replica(self, place: Place, spec: ServerSpec) -> None:
        """The running replica applies what it received of its source,
        stops following it and takes writes."""

    async def repoint(
        self,
        place: Place,
        spec: ServerSpec,
        upstream: Upstream,
    ) -> bool:
        """A member of a replica set whose source changed follows the new
        (running) source from where it stands, without a new copy, when what
        it holds is a prefix of what the source holds; False (nothing
        changed but its server started) when it is not, or when the
        datastore can't: the caller then copies it afresh."""

    def forget_source(self, place: Place) -> None:
        """The replica's copy no longer counts as made (its set has a new
        source to copy): the next ``seed_replica`` copies again."""

    async def received(self, place: Place, spec: ServerSpec) -> int:
        """How much of its source's changes the running replica holds
        (received, applied or not): larger is more recent, comparable
        between the replicas of one source."""


class Isolation(Protocol):
    async def ensure(self, spec: ServerSpec, device: Path | None) -> Place:
        """The namespace, cgroup (limits from ``spec``), system user and the
        data folder (``device`` mounted on it, a filesystem made on it when
        it has none).  Idempotent."""

    async def set_limits(self, place: Place, spec: ServerSpec) -> None: ...

    async def grow(self, place: Place, device: Path) -> None:
        """The filesystem fills its grown device."""

    async def unmount(self, instance_id: str) -> None:
        """Unmount the instance's volume (its server stopped first)."""

    async def remove(self, instance_id: str) -> None:
        """Everything ``ensure`` made (the server stopped first)."""

    async def present(self) -> set[str]:
        """The instance ids this host holds something of."""

    def used_gb(self, place: Place) -> float | None: ...


@dataclass(frozen=True)
class PortInfo:
    id: str
    network_id: str
    address: str
    status: str


class Network(Protocol):
    async def ensure_port(
        self,
        instance_id: str,
        project_id: str,
        network_id: str,
        host: str,
        netns: str,
        tcp_port: int,
        cidrs: tuple[str, ...],
    ) -> PortInfo:
        """The instance's port (found by its device id, else made), bound to
        ``netns`` on ``host``, in a security group of its own that lets
        ``cidrs`` (everyone when empty) reach ``tcp_port``."""

    async def port_ready(self, port: PortInfo, netns: str) -> bool:
        """Whether the port's interface is up in the namespace."""

    async def ensure_floating_ip(
        self, instance_id: str, project_id: str, port: PortInfo
    ) -> tuple[str, str]:
        """A floating IP on the external network for the port: (id, address)."""

    async def release(self, instance_id: str, port_id: str | None) -> None:
        """Delete the instance's floating IPs and port (none: nothing)."""


class Volumes(Protocol):
    async def ensure_volume(self, instance_id: str, size_gb: int) -> str:
        """The instance's volume (found by name, else made): its id."""

    async def attach(self, volume_id: str, instance_id: str, host: str) -> Path:
        """A block device holding the volume, on this host."""

    async def extend(self, volume_id: str, size_gb: int) -> None:
        """Grow the volume (detached here first) and wait until it has grown."""

    async def detach_local(self, volume_id: str) -> None:
        """Let go of the volume on this host (its block device), keeping it
        attached in the volume service."""

    async def delete(self, instance_id: str, volume_id: str | None) -> None:
        """Detach and delete the instance's volume."""


class BackupStore(Protocol):
    """The object store: backups in the service project's account, logs
    (``project_id`` given) in the instance's project's."""

    async def put(
        self,
        container: str,
        name: str,
        stream: ByteStream,
        headers: dict[str, str] | None = None,
        project_id: str | None = None,
        segmented: bool = False,
    ) -> tuple[int, str]:
        """Store a stream: its size in bytes and SHA-256.  ``segmented`` (a
        backup): as segments and a manifest, past the store's largest object."""

    def get(self, container: str, name: str) -> ByteStream: ...

    async def delete(self, container: str, name: str, project_id: str | None = None) -> None: ...
