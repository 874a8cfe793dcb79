"""In-memory drivers for unit and API tests only: nothing runs, nothing is
isolated, addresses are made up."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stratus.database.drivers.base import (
    ByteStream,
    DatabaseSpec,
    DriverError,
    Place,
    PortInfo,
    ServerSpec,
    Sink,
    Upstream,
    UserSpec,
)

PADDING = 200 * 1024  # a fake backup's bytes past its JSON


@dataclass
class FakeServer:
    running: bool = False
    databases: dict[str, DatabaseSpec] = field(default_factory=dict)
    users: dict[tuple[str, str], UserSpec] = field(default_factory=dict)
    root_password: str | None = None
    starts: int = 0
    settings: dict[str, str] = field(default_factory=dict)
    # Replication: the users replicas connect as (on a source), and the
    # source a replica follows.
    replication_users: dict[str, str] = field(default_factory=dict)
    following: str | None = None
    seeded: bool = False
    received: int = 0  # how much of its source's changes a replica holds
    logs: set[str] = field(default_factory=set)  # USER logs enabled


class FakeDatastore:
    def __init__(self, name: str, version: str, port: int):
        self.name = name
        self._version = version
        self.default_port = port
        self.admin_user = "os_admin"
        self.root_user = "root" if name == "mariadb" else "postgres"
        self.servers: dict[str, FakeServer] = {}
        self.fail_start: set[str] = set()  # instance ids whose start fails
        self.fail_seed: set[str] = set()  # replica ids whose copy of the source fails

    def version(self) -> str | None:
        return self._version

    async def initialize(self, place: Place, spec: ServerSpec) -> None:
        self.servers.setdefault(place.instance_id, FakeServer())

    async def start(self, place: Place, spec: ServerSpec) -> None:
        if place.instance_id in self.fail_start:
            raise DriverError(f"{self.name} did not start")
        server = self.servers.setdefault(place.instance_id, FakeServer())
        if not server.running:
            server.running = True
            server.starts += 1
            server.settings = dict(spec.settings)
            server.logs = set(spec.logs)
            self._log(place, "SYS", f"{self.name} ready to accept connections")

    def _log(self, place: Place, kind: str, line: str) -> None:
        """A line in the server's own log (``SYS``), or in the USER logs
        enabled."""
        server = self.servers.get(place.instance_id)
        paths = {place.log_file} if kind == "SYS" else {
            path for name, (_type, path) in self.log_files(place).items()
            if _type == "USER" and server is not None and name in server.logs}  # fmt: skip
        for path in paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a") as f:
                f.write(line + "\n")

    async def stop(self, place: Place) -> None:
        server = self.servers.get(place.instance_id)
        if server is not None:
            server.running = False

    def running(self, place: Place) -> bool:
        server = self.servers.get(place.instance_id)
        return server is not None and server.running

    def _server(self, place: Place) -> FakeServer:
        server = self.servers.get(place.instance_id)
        if server is None or not server.running:
            raise DriverError(f"the {self.name} server of {place.instance_id} is not running")
        return server

    async def ensure_database(self, place: Place, spec: ServerSpec, db: DatabaseSpec) -> None:
        self._server(place).databases[db.name] = db
        self._log(place, "USER", f"statement: CREATE DATABASE {db.name}")

    async def drop_database(self, place: Place, spec: ServerSpec, name: str) -> None:
        self._server(place).databases.pop(name, None)

    async def ensure_user(self, place: Place, spec: ServerSpec, user: UserSpec) -> None:
        server = self._server(place)
        old = server.users.get((user.name, user.host))
        if user.password is None and old is not None:
            user = UserSpec(user.name, user.host, old.password, user.databases)
        server.users[(user.name, user.host)] = user

    async def drop_user(self, place: Place, spec: ServerSpec, name: str, host: str) -> None:
        self._server(place).users.pop((name, host), None)

    async def enable_root(self, place: Place, spec: ServerSpec, password: str) -> None:
        self._server(place).root_password = password

    async def accounts(self, place: Place, spec: ServerSpec) -> tuple[list[str], list[UserSpec]]:
        server = self._server(place)
        users = [UserSpec(u.name, u.host, None, u.databases) for u in server.users.values()]
        return sorted(server.databases), users

    async def backup(
        self, place: Place, spec: ServerSpec, sink: Sink, parent: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """A full backup names the databases; an incremental one those
        made and dropped since its parent."""
        server = self._server(place)
        now = sorted(server.databases)
        if parent is None:
            data = {"databases": now}
        else:
            before = set(parent.get("databases", ()))
            data = {"added": sorted(set(now) - before), "dropped": sorted(before - set(now))}
        # Padded (JSON allows trailing blanks) past a few of the tests'
        # smallest backup segments, in pieces that straddle their bounds.
        payload = json.dumps(data).encode() + b" " * PADDING

        async def stream() -> ByteStream:
            for at in range(0, len(payload), 48 * 1024):
                yield payload[at : at + 48 * 1024]

        await sink(stream())
        return {"databases": now}

    async def restore(self, place: Place, spec: ServerSpec, chain: Sequence[ByteStream]) -> None:
        server = self.servers.setdefault(place.instance_id, FakeServer())
        server.databases.clear()
        for i, source in enumerate(chain):
            data = json.loads(b"".join([chunk async for chunk in source]))
            if (i == 0) != ("databases" in data):
                raise DriverError("a backup chain starts with its full backup")
            for name in data.get("databases", []) + data.get("added", []):
                server.databases[name] = DatabaseSpec(name)
            for name in data.get("dropped", []):
                server.databases.pop(name, None)

    def log_files(self, place: Place) -> dict[str, tuple[str, Path]]:
        if self.name == "mariadb":
            return {"general": ("USER", place.run_dir / "general.log"),
                    "slow_query": ("USER", place.run_dir / "slow_query.log"),
                    "error": ("SYS", place.log_file)}  # fmt: skip
        return {"general": ("USER", place.log_file)}

    async def set_log(self, place: Place, spec: ServerSpec, name: str, enabled: bool) -> None:
        logs = self._server(place).logs
        if enabled:
            logs.add(name)
        else:
            logs.discard(name)

    async def allow_replica(
        self, place: Place, spec: ServerSpec, user: str, password: str, address: str
    ) -> None:
        self._server(place).replication_users[user] = password

    async def forget_replica(self, place: Place, spec: ServerSpec, user: str) -> None:
        self._server(place).replication_users.pop(user, None)

    def seeded(self, place: Place) -> bool:
        server = self.servers.get(place.instance_id)
        return server is not None and server.seeded

    async def seed_replica(
        self,
        place: Place,
        spec: ServerSpec,
        upstream: Upstream,
    ) -> None:
        if self.seeded(place):
            return
        if place.instance_id in self.fail_seed:
            raise DriverError(f"the copy of {upstream.place.instance_id} failed")
        origin = self._server(upstream.place)
        if origin.replication_users.get(upstream.user) != upstream.password:
            raise DriverError(f"{upstream.place.instance_id} refused the replication user "
                              f"{upstream.user}")  # fmt: skip
        self.servers[place.instance_id] = FakeServer(
            databases=dict(origin.databases), users=dict(origin.users),
            following=upstream.place.instance_id, seeded=True,
        )  # fmt: skip

    async def repoint(
        self,
        place: Place,
        spec: ServerSpec,
        upstream: Upstream,
    ) -> bool:
        return False  # the fake copies again, as PostgreSQL does

    def forget_source(self, place: Place) -> None:
        server = self.servers.get(place.instance_id)
        if server is not None:
            server.seeded = False

    async def received(self, place: Place, spec: ServerSpec) -> int:
        return self._server(place).received

    async def detach_replica(self, place: Place, spec: ServerSpec) -> None:
        server = self._server(place)
        server.following, server.seeded = None, False


class FakeIsolation:
    def __init__(self, root: Path):
        self.root = root
        self.made: dict[str, Place] = {}
        self.limits: dict[str, tuple[int, int]] = {}

    async def ensure(self, spec: ServerSpec, device: Path | None) -> Place:
        place = self.made.get(spec.instance_id)
        if place is None:
            base = self.root / spec.instance_id
            place = Place(spec.instance_id, "", "fake", 0, 0, spec.instance_id,
                          base / "data", base / "run", base / "server.log")  # fmt: skip
            self.made[spec.instance_id] = place
        self.limits[spec.instance_id] = (spec.memory_mb, spec.vcpus)
        return place

    async def set_limits(self, place: Place, spec: ServerSpec) -> None:
        self.limits[place.instance_id] = (spec.memory_mb, spec.vcpus)

    async def grow(self, place: Place, device: Path) -> None:
        return None

    async def unmount(self, instance_id: str) -> None:
        return None

    async def remove(self, instance_id: str) -> None:
        self.made.pop(instance_id, None)
        self.limits.pop(instance_id, None)
        # The logs the fake servers wrote.
        shutil.rmtree(self.root / instance_id, ignore_errors=True)

    async def present(self) -> set[str]:
        return set(self.made)

    def used_gb(self, place: Place) -> float | None:
        return 0.0


class FakeNetwork:
    def __init__(self) -> None:
        self.ports: dict[str, PortInfo] = {}
        self.floating: dict[str, tuple[str, str]] = {}
        self._next = 10

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
        port = self.ports.get(instance_id)
        if port is None:
            address = str(ipaddress.ip_address("10.99.0.0") + self._next)
            self._next += 1
            port = PortInfo(f"port-{instance_id}"[:36], network_id, address, "ACTIVE")
            self.ports[instance_id] = port
        return port

    async def port_ready(self, port: PortInfo, netns: str) -> bool:
        return True

    async def ensure_floating_ip(
        self, instance_id: str, project_id: str, port: PortInfo
    ) -> tuple[str, str]:
        fip = self.floating.get(instance_id)
        if fip is None:
            fip = (f"fip-{instance_id}"[:36], f"172.24.4.{len(self.floating) + 10}")
            self.floating[instance_id] = fip
        return fip

    async def release(self, instance_id: str, port_id: str | None) -> None:
        self.ports.pop(instance_id, None)
        self.floating.pop(instance_id, None)


class FakeBackupStore:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}
        # What each project's account holds (published logs).
        self.accounts: dict[str, set[tuple[str, str]]] = {}

    async def put(
        self,
        container: str,
        name: str,
        stream: ByteStream,
        headers: dict[str, str] | None = None,
        project_id: str | None = None,
        segmented: bool = False,
    ) -> tuple[int, str]:
        data = b"".join([chunk async for chunk in stream])
        self.objects[(container, name)] = data
        if project_id is not None:
            self.accounts.setdefault(project_id, set()).add((container, name))
        return len(data), hashlib.sha256(data).hexdigest()

    async def get(self, container: str, name: str) -> ByteStream:  # type: ignore[override]
        data = self.objects.get((container, name))
        if data is None:
            raise DriverError(f"backup object {container}/{name} is missing")
        yield data

    async def delete(self, container: str, name: str, project_id: str | None = None) -> None:
        self.objects.pop((container, name), None)
        if project_id is not None:
            self.accounts.get(project_id, set()).discard((container, name))
