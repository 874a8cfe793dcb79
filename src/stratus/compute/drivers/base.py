"""The hypervisor driver interface: small, typed, plain dataclasses in and
out.  Drivers never see database rows or HTTP objects, and never import each
other.  Optional abilities are declared in ``capabilities``, never stubbed:
the service refuses (409) an action whose capability a driver lacks.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


class Power(enum.Enum):
    """Nova's power states."""

    NOSTATE = 0
    RUNNING = 1
    PAUSED = 3
    SHUTDOWN = 4
    CRASHED = 6
    SUSPENDED = 7


class Capability(enum.StrEnum):
    PAUSE = "pause"
    SUSPEND = "suspend"  # save the guest's state to disk and resume it later
    SNAPSHOT = "snapshot"  # a consistent standalone copy of the disk, running or not
    MIGRATE = "migrate"  # cold migration and resize: the disk leaves and arrives as a file
    LIVE_MIGRATION = "live_migration"
    RESCUE = "rescue"
    CONSOLE_LOG = "console_log"
    SERIAL_CONSOLE = "serial_console"  # an interactive serial console (``open_serial``)
    INTERFACE_HOTPLUG = "interface_hotplug"  # NICs plugged into and out of a running guest
    VOLUME_ATTACH = "volume_attach"  # hot-plug block storage volumes (``VolumeAttacher``)


@dataclass(frozen=True)
class HostInfo:
    hostname: str
    vcpus: int
    memory_mb: int
    disk_gb: int
    hypervisor_type: str  # "QEMU", "KVM", ...
    hypervisor_version: int  # e.g. 7002000 for 7.2.0
    accelerator: str  # "kvm" or "tcg"
    cpu_info: str = "{}"


@dataclass(frozen=True)
class PortForward:
    """A host TCP port forwarded to a guest port (user-mode networking)."""

    host_port: int
    guest_port: int
    host_address: str = "127.0.0.1"


@dataclass(frozen=True)
class Nic:
    """A NIC on a port of the network service: the guest's virtio-net with
    the port's MAC on the tap the host's network agent made for the port."""

    port_id: str
    mac: str
    tap: str  # the tap's name on this host
    mtu: int = 1500


@dataclass(frozen=True)
class VolumeDisk:
    """A block storage volume the guest has as a virtio disk: a local file
    (``kind`` "file", ``path`` its file) or an NBD export reached over the
    network (``kind`` "nbd": ``path`` is ``host:port``, ``export`` its name,
    ``psk_file`` the TLS pre-shared keys the export wants) or an iSCSI
    target's LUN (``kind`` "iscsi": ``path`` the portal ``host:port``,
    ``export`` the target's IQN, ``lun``, ``psk_identity`` the CHAP user and
    ``psk_file`` the file holding its secret)."""

    serial: str  # the volume's id: the guest sees it as the disk's serial
    device: str  # the name Nova reports, e.g. /dev/vdb
    kind: str
    path: str
    fmt: str = "raw"
    readonly: bool = False
    export: str = ""
    psk_file: str = ""
    psk_identity: str = ""
    lun: int = 0
    # the volume the guest's device was made for, when another volume has
    # since been swapped in under it (the device keeps its name and serial)
    device_serial: str = ""


@dataclass(frozen=True)
class GuestSpec:
    """Everything a driver needs to run one guest."""

    uuid: str
    name: str
    vcpus: int
    memory_mb: int
    root_gb: int
    # The cached base image, read-only; the driver boots an overlay of it.
    base_image: Path
    base_format: str  # "qcow2" or "raw"
    # The folder the driver keeps this guest's files in (disk, console log,
    # sockets, saved state).  It exists and belongs to this guest alone.
    directory: Path
    config_drive: Path | None = None  # an ISO9660 image labelled config-2
    forwards: tuple[PortForward, ...] = ()
    # The guest's NICs on the network service's ports; None: no network
    # service here, one user-mode NIC (with ``forwards``) instead.
    nics: tuple[Nic, ...] | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    volumes: tuple[VolumeDisk, ...] = ()  # attached volumes, in attach order
    # Boot from volume: the root disk is this volume, not an overlay of base_image.
    root_volume: VolumeDisk | None = None

    @property
    def console_log(self) -> Path:
        return self.directory / "console.log"


@dataclass(frozen=True)
class GuestStatus:
    uuid: str
    power: Power
    pid: int | None = None


@dataclass(frozen=True)
class DiskStats:
    """One disk's I/O counters since the guest started."""

    name: str  # the guest's device, e.g. "vda"
    read_bytes: int = 0
    read_requests: int = 0
    write_bytes: int = 0
    write_requests: int = 0
    errors_count: int = 0


@dataclass(frozen=True)
class NicStats:
    """One NIC's counters (-1: not known to the driver)."""

    mac_address: str
    rx_octets: int = -1
    rx_packets: int = -1
    rx_errors: int = -1
    rx_drop: int = -1
    tx_octets: int = -1
    tx_packets: int = -1
    tx_errors: int = -1
    tx_drop: int = -1


@dataclass(frozen=True)
class Diagnostics:
    """What a driver reports of a running guest (Nova's server diagnostics)."""

    state: str  # "running", "paused", "shutdown", "crashed", "suspended", "pending"
    driver: str
    hypervisor: str  # "qemu", "kvm", ...
    hypervisor_os: str
    uptime: int | None  # seconds since the guest's process started
    num_cpus: int
    memory_mb: int
    cpu_times: tuple[int, ...] = ()  # nanoseconds of CPU time per vCPU, when known
    disks: tuple[DiskStats, ...] = ()
    nics: tuple[NicStats, ...] = ()
    config_drive: bool = False


class DriverError(Exception):
    """A driver could not do what was asked; the message is for the user."""


class SerialStream(Protocol):
    """A connection to a guest's serial console."""

    async def read(self) -> bytes:
        """What the guest wrote next; b"" once the console closed."""

    async def write(self, data: bytes) -> None:
        """Type ``data`` into the console."""

    async def close(self) -> None: ...


class Driver(Protocol):
    name: str
    capabilities: frozenset[Capability]

    async def host_info(self) -> HostInfo:
        """This host's resources and hypervisor."""

    async def guests(self) -> list[GuestStatus]:
        """Every guest the driver finds on this host, including ones started
        before the agent (re)started: the agent adopts or reports them."""

    async def status(self, uuid: str) -> GuestStatus:
        """One guest's power state (SHUTDOWN or NOSTATE when not running)."""

    async def spawn(self, spec: GuestSpec) -> GuestStatus:
        """Create the guest's disk (a copy-on-write overlay of the base, sized
        to root_gb) and start it.  Idempotent: an existing disk is kept."""

    async def start(self, spec: GuestSpec) -> GuestStatus:
        """Power on a guest whose disk exists (or resume its saved state)."""

    async def stop(self, uuid: str, timeout: float) -> None:
        """Shut down cleanly (ACPI) within ``timeout`` seconds, then power off."""

    async def reboot(self, spec: GuestSpec, hard: bool, timeout: float) -> GuestStatus:
        """Soft: ACPI shutdown and start again (hard after ``timeout``).
        Hard: reset at once."""

    async def pause(self, uuid: str) -> None: ...

    async def unpause(self, uuid: str) -> None: ...

    async def suspend(self, uuid: str) -> None:
        """Save the guest's memory and state to its folder and stop it."""

    async def resume(self, spec: GuestSpec) -> GuestStatus:
        """Start a suspended guest from its saved state."""

    async def destroy(self, uuid: str, directory: Path) -> None:
        """Stop the guest at once and delete its folder.  Idempotent."""

    async def console_output(self, uuid: str, directory: Path, length: int | None) -> str:
        """The last ``length`` lines of the serial console log (all if None)."""

    async def diagnostics(self, uuid: str, directory: Path) -> Diagnostics:
        """The running guest's state, CPUs, memory and disk and NIC counters."""

    async def open_serial(self, uuid: str, directory: Path) -> SerialStream:
        """A connection to the running guest's serial console (one at a time)."""

    async def trigger_crash_dump(self, uuid: str) -> None:
        """Send the running guest a non-maskable interrupt (a kernel set up for
        it panics and writes a crash dump)."""

    async def snapshot(self, spec: GuestSpec, target: Path) -> None:
        """Write a standalone qcow2 image of the guest's disk to ``target``,
        consistent at one instant, whether the guest runs (a live backup) or
        not.  Needs ``Capability.SNAPSHOT``."""

    async def rescue(self, spec: GuestSpec, image: Path, image_format: str) -> GuestStatus:
        """Power the guest off and boot it from a fresh copy-on-write disk of
        the rescue ``image``, with its own disk attached as the second disk.
        Needs ``Capability.RESCUE``."""

    async def unrescue(self, spec: GuestSpec) -> GuestStatus:
        """Power the rescue boot off, drop its disk, and boot the guest from
        its own disk again.  Needs ``Capability.RESCUE``."""

    async def export_disk(self, uuid: str, directory: Path) -> Path:
        """The one file that holds the stopped guest's own disk data in
        ``directory``, to send to another host (QEMU: the qcow2 overlay; its
        base is the image, which the destination fetches itself).  Needs
        ``Capability.MIGRATE``."""

    async def attach_interface(self, spec: GuestSpec, nic: Nic) -> None:
        """Hot-plug ``nic`` into the running guest (already plugged: nothing
        to do).  Needs ``Capability.INTERFACE_HOTPLUG``."""

    async def detach_interface(self, spec: GuestSpec, port_id: str) -> None:
        """Unplug the NIC of ``port_id`` from the running guest (not plugged:
        nothing to do).  Needs ``Capability.INTERFACE_HOTPLUG``."""

    async def import_disk(self, spec: GuestSpec, disk: Path) -> None:
        """Make ``disk`` (from ``export_disk``, maybe on another host) this
        guest's disk in ``spec.directory``: on this host's copy of
        ``spec.base_image``, grown to ``spec.root_gb`` when that is larger.
        ``start`` then boots it.  Needs ``Capability.MIGRATE``."""


class VolumeAttacher(Protocol):
    """Hot-plugging volumes into a running guest (``Capability.VOLUME_ATTACH``).
    Both calls are idempotent: a disk already there (or already gone) is
    not an error, so a step that died midway is simply run again."""

    async def attach_volume(self, uuid: str, disk: VolumeDisk) -> None:
        """Add ``disk`` to the running guest ``uuid``."""

    async def detach_volume(self, uuid: str, disk: VolumeDisk, timeout: float) -> None:
        """Remove the disk from the running guest once the guest has let it
        go (its writes flushed), within ``timeout`` seconds."""

    async def swap_volume(self, uuid: str, old: VolumeDisk, new: VolumeDisk) -> None:
        """Copy the running guest's disk ``old`` onto ``new`` while the guest
        runs and switch its device over to ``new`` (the guest sees the same
        disk); ``old`` is closed.  Done already (``old`` gone, ``new``
        there) is not an error."""

    async def extend_volume(self, uuid: str, disk: VolumeDisk, size: int) -> None:
        """Grow the disk the running guest sees to ``size`` bytes (the
        volume grew; a local file is grown by the guest's own process,
        which holds it open).  A disk already that size is left alone."""
