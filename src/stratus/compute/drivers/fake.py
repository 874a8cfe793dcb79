"""An in-memory driver for unit tests: no processes, no disks.

It follows the same power transitions as the QEMU driver, keeps a fake
console log per guest, and lets tests inject trouble:

* ``crash(uuid)`` makes a guest stop behind the agent's back;
* ``fail_next("spawn", "no room")`` makes the next call of a method raise
  ``DriverError("no room")``;
* ``calls`` records every call as ``(method, uuid)``;
* a live migration lasts ``metadata[MIGRATION_SECONDS]`` seconds of the
  guest's spec (0.2 s by default), so that tests can abort or force it;
* a spawn or a snapshot waits while the file named by ``metadata[SPAWN_HOLD]``
  (``metadata[SNAPSHOT_HOLD]``) exists, a snapshot having written half its
  disk: crash tests kill the cloud in the middle of one.

The guests and the test controls are in ``fake_host.py``, the live migration
in ``fake_live.py``.
"""
from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from stratus.compute.drivers.base import (
    Diagnostics,
    DiskStats,
    DriverError,
    GuestSpec,
    GuestStatus,
    Nic,
    NicStats,
    Power,
    SerialStream,
    VolumeDisk,
)
from stratus.compute.drivers.fake_host import (
    SNAPSHOT_HOLD,
    SPAWN_HOLD,
    FakeGuest,
    hold,
)
from stratus.compute.drivers.fake_live import FakeLiveMigration
from stratus.compute.drivers.serial import EchoSerial


class FakeDriver(FakeLiveMigration):
    name = "fake"
    # No image locks here: a volume reached as a file on one host and over
    # NBD on the other moves live too (QEMU refuses it: ``live_sides.py``).
    MIXED_VOLUME_HANDOFF = True

    # -- the Driver protocol (inventory and test controls: fake_host.py) --------

    async def spawn(self, spec: GuestSpec) -> GuestStatus:
        await self._enter("spawn", spec.uuid)
        await hold(spec, SPAWN_HOLD)
        guest = self.instances.setdefault(spec.uuid, FakeGuest(spec))
        guest.spec = spec
        guest.has_disk = True
        if guest.power == Power.SUSPENDED:
            return await self._resume(guest)
        if guest.pid is None:
            self._boot(guest)
        return self._status(guest)

    async def start(self, spec: GuestSpec) -> GuestStatus:
        await self._enter("start", spec.uuid)
        if spec.root_volume is not None:  # its disk is a volume: any host can start it
            self.instances.setdefault(spec.uuid, FakeGuest(spec)).has_disk = True
        guest = self.instances.get(spec.uuid)
        if guest is None or not guest.has_disk:
            raise DriverError(f"guest {spec.uuid} has no disk on this host")
        guest.spec = spec
        if guest.power == Power.SUSPENDED:
            return await self._resume(guest)
        if guest.pid is None:
            self._boot(guest)
        return self._status(guest)

    async def stop(self, uuid: str, timeout: float) -> None:
        await self._enter("stop", uuid)
        guest = self.instances.get(uuid)
        if guest is None or guest.pid is None:
            return
        guest.console.append("fake: powering off")
        guest.power = Power.SHUTDOWN
        guest.pid = None

    async def reboot(self, spec: GuestSpec, hard: bool, timeout: float) -> GuestStatus:
        await self._enter("reboot", spec.uuid)
        guest = self.instances.get(spec.uuid)
        if guest is None or not guest.has_disk:
            raise DriverError(f"guest {spec.uuid} has no disk on this host")
        guest.spec = spec
        if guest.power == Power.SUSPENDED:
            return await self._resume(guest)
        guest.console.append("fake: " + ("reset" if hard else "rebooting"))
        guest.pid = None
        self._boot(guest)
        return self._status(guest)

    async def pause(self, uuid: str) -> None:
        await self._enter("pause", uuid)
        self._running(uuid).power = Power.PAUSED

    async def unpause(self, uuid: str) -> None:
        await self._enter("unpause", uuid)
        self._running(uuid).power = Power.RUNNING

    async def suspend(self, uuid: str) -> None:
        await self._enter("suspend", uuid)
        guest = self._running(uuid)
        guest.power = Power.SUSPENDED
        guest.pid = None

    async def resume(self, spec: GuestSpec) -> GuestStatus:
        await self._enter("resume", spec.uuid)
        guest = self.instances.get(spec.uuid)
        if guest is None:
            raise DriverError(f"guest {spec.uuid} is not on this host")
        if guest.pid is not None:
            return self._status(guest)
        if guest.power != Power.SUSPENDED:
            raise DriverError(f"guest {spec.uuid} has no saved state to resume")
        return await self._resume(guest)

    async def destroy(self, uuid: str, directory: Path) -> None:
        await self._enter("destroy", uuid)
        self.instances.pop(uuid, None)
        await asyncio.to_thread(shutil.rmtree, directory, True)

    async def console_output(self, uuid: str, directory: Path, length: int | None) -> str:
        await self._enter("console_output", uuid)
        guest = self.instances.get(uuid)
        lines = guest.console if guest else []
        if length is not None:
            lines = lines[-length:] if length > 0 else []
        return "".join(line + "\n" for line in lines)

    async def diagnostics(self, uuid: str, directory: Path) -> Diagnostics:
        await self._enter("diagnostics", uuid)
        guest = self._running(uuid)
        spec = guest.spec
        nics = tuple(
            NicStats(mac_address=nic.mac, rx_octets=2048, rx_packets=16, tx_octets=1024, tx_packets=8)
            for nic in guest.nics.values()
        )
        disks = (DiskStats("vda", 4096, 4, 8192, 2, 0),) + tuple(
            DiskStats(v.device.rsplit("/", 1)[-1]) for v in guest.volumes.values()
        )
        return Diagnostics(
            state="paused" if guest.power is Power.PAUSED else "running",
            driver=self.name,
            hypervisor="qemu",
            hypervisor_os="linux",
            uptime=60 * guest.boots,
            num_cpus=spec.vcpus,
            memory_mb=spec.memory_mb,
            cpu_times=tuple(1_000_000_000 for _ in range(spec.vcpus)),
            disks=disks,
            nics=nics,
            config_drive=spec.config_drive is not None,
        )

    async def open_serial(self, uuid: str, directory: Path) -> SerialStream:
        await self._enter("open_serial", uuid)
        guest = self._running(uuid)
        return EchoSerial(f"fake serial console of {guest.spec.name}\r\n".encode())

    async def trigger_crash_dump(self, uuid: str) -> None:
        await self._enter("trigger_crash_dump", uuid)
        self._running(uuid).console.append("fake: NMI received, the kernel dumps its memory")

    # -- disks ----------------------------------------------------------------

    async def snapshot(self, spec: GuestSpec, target: Path) -> None:
        await self._enter("snapshot", spec.uuid)
        guest = self._guest(spec.uuid)
        # A fake guest's disk is its base image; its "snapshot" is a copy.
        data = spec.base_image.read_bytes() if spec.base_image.exists() else b""
        if SNAPSHOT_HOLD in spec.metadata:
            target.write_bytes(data[: len(data) // 2])
            await hold(spec, SNAPSHOT_HOLD)
        target.write_bytes(data + f"fake snapshot of {guest.spec.uuid}".encode())

    async def rescue(self, spec: GuestSpec, image: Path, image_format: str) -> GuestStatus:
        await self._enter("rescue", spec.uuid)
        guest = self._guest(spec.uuid)
        if not guest.has_disk:
            raise DriverError(f"guest {spec.uuid} has no disk on this host")
        guest.spec = spec
        guest.rescue_image = image
        guest.console.append(f"fake: rescue boot from {image.name}, own disk second")
        guest.pid = None
        self._boot(guest)
        return self._status(guest)

    async def unrescue(self, spec: GuestSpec) -> GuestStatus:
        await self._enter("unrescue", spec.uuid)
        guest = self._guest(spec.uuid)
        guest.spec = spec
        guest.rescue_image = None
        guest.pid = None
        self._boot(guest)
        return self._status(guest)

    async def export_disk(self, uuid: str, directory: Path) -> Path:
        await self._enter("export_disk", uuid)
        guest = self.instances.get(uuid)
        if guest is not None and guest.pid is not None:
            raise DriverError(f"guest {uuid} is running: stop it before moving its disk")
        # A fake disk is a small file naming its guest, so that it can travel.
        disk = directory / "fake-disk"
        if not disk.exists():
            disk.write_text(f"fake disk of {uuid}\n")
        return disk

    async def import_disk(self, spec: GuestSpec, disk: Path) -> None:
        await self._enter("import_disk", spec.uuid)
        if not disk.is_file() or spec.uuid not in disk.read_text():
            raise DriverError(f"{disk} is not a disk of guest {spec.uuid}")
        spec.directory.mkdir(parents=True, exist_ok=True)
        target = spec.directory / "fake-disk"
        if disk.resolve() != target.resolve():
            disk.replace(target)
        guest = self.instances.setdefault(spec.uuid, FakeGuest(spec))
        guest.spec = spec
        guest.has_disk = True

    # -- hot-plug -------------------------------------------------------------

    async def attach_volume(self, uuid: str, disk: VolumeDisk) -> None:
        await self._enter("attach_volume", uuid)
        guest = self._running(uuid)
        if disk.serial not in guest.volumes:
            guest.volumes[disk.serial] = disk
            guest.console.append(f"stratus-tiny: disk added {disk.device.rsplit('/', 1)[-1]}")

    async def detach_volume(self, uuid: str, disk: VolumeDisk, timeout: float) -> None:
        await self._enter("detach_volume", uuid)
        guest = self.instances.get(uuid)
        if guest is not None and guest.volumes.pop(disk.serial, None) is not None:
            guest.console.append(f"stratus-tiny: disk removed {disk.device.rsplit('/', 1)[-1]}")

    async def swap_volume(self, uuid: str, old: VolumeDisk, new: VolumeDisk) -> None:
        await self._enter("swap_volume", uuid)
        guest = self._running(uuid)
        if old.serial in guest.volumes:
            del guest.volumes[old.serial]
            guest.volumes[new.serial] = new
            name = new.device.rsplit("/", 1)[-1]
            guest.console.append(f"stratus-tiny: disk swapped {name} {old.serial} {new.serial}")

    async def extend_volume(self, uuid: str, disk: VolumeDisk, size: int) -> None:
        await self._enter("extend_volume", uuid)
        guest = self._running(uuid)
        if disk.serial in guest.volumes:
            name = disk.device.rsplit("/", 1)[-1]
            guest.console.append(f"stratus-tiny: disk resized {name} {size}")

    async def attach_interface(self, spec: GuestSpec, nic: Nic) -> None:
        await self._enter("attach_interface", spec.uuid)
        guest = self._running(spec.uuid)
        if nic.port_id not in guest.nics:
            guest.nics[nic.port_id] = nic
            guest.console.append(f"stratus-tiny: nic added eth{len(guest.nics) - 1} {nic.mac}")

    async def detach_interface(self, spec: GuestSpec, port_id: str) -> None:
        await self._enter("detach_interface", spec.uuid)
        guest = self._running(spec.uuid)
        nic = guest.nics.pop(port_id, None)
        if nic is not None:
            guest.console.append(f"stratus-tiny: nic removed {nic.mac}")
