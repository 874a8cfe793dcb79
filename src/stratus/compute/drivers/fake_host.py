"""The fake driver's host: its guests in memory, what a test controls of them
(``crash``, ``fail_next``, the console, the host's resources), and the
server metadata keys that steer the fake from tests that go through the API.
``FakeDriver`` (``fake.py``) is the driver on top of it."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from pathlib import Path

from stratus.compute.drivers.base import (
    Capability,
    DriverError,
    GuestSpec,
    GuestStatus,
    HostInfo,
    Nic,
    Power,
    VolumeDisk,
)

READY_MARKER = "stratus-tiny: ready"
# Server metadata keys for tests through the API: how long a fake live
# migration takes (abort, force-complete), and a failure to inject on the
# source (the migration) or the destination (its preparation).
MIGRATION_SECONDS = "fake_live_migration_seconds"
MIGRATION_FAILURE = "fake_live_migration_failure"
INCOMING_FAILURE = "fake_incoming_failure"
SPAWN_HOLD = "fake_spawn_hold"
SNAPSHOT_HOLD = "fake_snapshot_hold"


@dataclass
class FakeGuest:
    spec: GuestSpec
    power: Power = Power.SHUTDOWN
    pid: int | None = None
    console: list[str] = field(default_factory=list)
    boots: int = 0
    has_disk: bool = False
    rescue_image: Path | None = None  # booted from this image, own disk second
    migrated: bool = False  # live-migrated away, stopped here until finish_outgoing
    nics: dict[str, Nic] = field(default_factory=dict)  # port id -> the NIC plugged now
    volumes: dict[str, VolumeDisk] = field(default_factory=dict)  # hot-plugged, by serial


class FakeHost:
    """One fake host's guests and the controls tests have over them."""

    def __init__(
        self,
        hostname: str = "fake-host",
        *,
        vcpus: int = 8,
        memory_mb: int = 16384,
        disk_gb: int = 200,
        accelerator: str = "tcg",
        capabilities: frozenset[Capability] | None = None,
        host: HostInfo | None = None,
    ) -> None:
        self.capabilities = capabilities if capabilities is not None else frozenset(Capability)
        self.host = host or HostInfo(
            hostname=hostname,
            vcpus=vcpus,
            memory_mb=memory_mb,
            disk_gb=disk_gb,
            hypervisor_type="QEMU",
            hypervisor_version=7002000,
            accelerator=accelerator,
        )
        self.instances: dict[str, FakeGuest] = {}
        self.calls: list[tuple[str, str | None]] = []
        self._failures: dict[str, list[str]] = {}
        self._pids = itertools.count(10_000)

    # -- test controls --------------------------------------------------------

    def crash(self, uuid: str, power: Power = Power.SHUTDOWN) -> None:
        """The guest stops (or crashes) without the driver being asked."""
        guest = self._guest(uuid)
        guest.power = power
        guest.pid = None
        guest.console.append("fake: the guest went down unexpectedly")

    def fail_next(self, method: str, message: str = "injected failure") -> None:
        """The next call of ``method`` raises DriverError(message)."""
        self._failures.setdefault(method, []).append(message)

    def write_console(self, uuid: str, *lines: str) -> None:
        self._guest(uuid).console.extend(lines)

    def set_host(self, **changes: object) -> None:
        values = {**self.host.__dict__, **changes}
        self.host = HostInfo(**values)  # type: ignore[arg-type]

    # -- inventory --------------------------------------------------------------

    async def host_info(self) -> HostInfo:
        await self._enter("host_info", None)
        return self.host

    async def guests(self) -> list[GuestStatus]:
        await self._enter("guests", None)
        return [self._status(g) for g in self.instances.values()]

    async def status(self, uuid: str) -> GuestStatus:
        await self._enter("status", uuid)
        guest = self.instances.get(uuid)
        return self._status(guest) if guest else GuestStatus(uuid, Power.NOSTATE)

    # -- internals ------------------------------------------------------------

    async def _enter(self, method: str, uuid: str | None) -> None:
        self.calls.append((method, uuid))
        await asyncio.sleep(0)  # a real driver yields; so does this one
        pending = self._failures.get(method)
        if pending:
            raise DriverError(pending.pop(0))

    def _guest(self, uuid: str) -> FakeGuest:
        guest = self.instances.get(uuid)
        if guest is None:
            raise DriverError(f"guest {uuid} is not on this host")
        return guest

    def _running(self, uuid: str) -> FakeGuest:
        guest = self._guest(uuid)
        if guest.pid is None:
            raise DriverError(f"guest {uuid} is not running")
        return guest

    def _boot(self, guest: FakeGuest) -> None:
        guest.nics = {n.port_id: n for n in guest.spec.nics or ()}
        guest.boots += 1
        guest.pid = next(self._pids)
        guest.power = Power.RUNNING
        guest.console.append(f"fake: booting {guest.spec.name} ({guest.boots})")
        guest.console.append(READY_MARKER)
        # A boot brings the disks of the spec (volumes attached while it was off).
        guest.volumes = {v.serial: v for v in guest.spec.volumes}

    async def _resume(self, guest: FakeGuest) -> GuestStatus:
        guest.pid = next(self._pids)
        guest.power = Power.RUNNING
        guest.console.append("fake: resumed")
        return self._status(guest)

    @staticmethod
    def _status(guest: FakeGuest) -> GuestStatus:
        return GuestStatus(guest.spec.uuid, guest.power, guest.pid)


async def hold(spec: GuestSpec, key: str) -> None:
    """Wait while the file the spec's metadata names under ``key`` exists."""
    named = spec.metadata.get(key)
    if not named:
        return
    path = Path(named)
    while await asyncio.to_thread(path.exists):
        await asyncio.sleep(0.05)
