"""The QEMU driver: each guest is a daemonized ``qemu-system-x86_64`` process
controlled over QMP, with its files in one folder (``qemu_files.py``).
Guests outlive the agent: a new driver finds them by their pidfiles.

The driver's modules: ``qemu_files.py`` (the folder's files, the process),
``qemu_command.py`` (the command line, host probes), ``qemu_guest.py`` (the
processes: launch, monitor, stop), ``qemu_disks.py`` (snapshots, a disk's
move), ``qemu_nics.py`` and ``qemu_volumes.py`` (hot-plug), ``qemu_live.py``
(live migration), and ``qmp.py`` (the QMP client).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from stratus.compute.drivers import qemu_disks, qemu_nics
from stratus.compute.drivers.base import (
    Capability,
    Diagnostics,
    DriverError,
    GuestSpec,
    GuestStatus,
    HostInfo,
    Nic,
    Power,
    SerialStream,
    VolumeDisk,
)
from stratus.compute.drivers.live import IncomingGuest, LiveResult, ProgressCallback
from stratus.compute.drivers.qemu_command import host_memory_mb, parse_qemu_version
from stratus.compute.drivers.qemu_diagnostics import read_diagnostics
from stratus.compute.drivers.qemu_files import (
    clean_runtime_files,
    disk_path,
    kill,
    live_pid,
    rescue_disk_path,
    scan_guests,
    serial_socket,
    state_file,
    wait_exit,
    wait_incoming,
    wait_migration,
)
from stratus.compute.drivers.qemu_guest import MIGRATE_TIMEOUT, QUIT_GRACE, GuestProcesses
from stratus.compute.drivers.qemu_live import QemuLiveMigration
from stratus.compute.drivers.qemu_volumes import hotplug, resize, swap, unplug
from stratus.compute.drivers.qmp import QMPError
from stratus.compute.drivers.serial import SocketSerial
from stratus.compute.drivers.tools import create_overlay, run, tail_lines

log = logging.getLogger(__name__)

SWAP_TIMEOUT = 3600.0  # to copy one volume onto another while the guest runs


class QemuDriver:
    name = "qemu"
    capabilities = frozenset(
        {
            Capability.PAUSE,
            Capability.SUSPEND,
            Capability.CONSOLE_LOG,
            Capability.SERIAL_CONSOLE,
            Capability.SNAPSHOT,
            Capability.RESCUE,
            Capability.MIGRATE,
            Capability.LIVE_MIGRATION,
            Capability.INTERFACE_HOTPLUG,
            Capability.VOLUME_ATTACH,
        }
    )

    def __init__(
        self,
        instances_root: Path,
        *,
        hostname: str,
        qemu_binary: str = "qemu-system-x86_64",
        accel: str = "auto",
        qemu_img: str = "qemu-img",
        open_tap: Callable[[str], int] | None = None,
    ) -> None:
        if accel not in ("auto", "kvm", "tcg"):
            raise ValueError(f"accel must be auto, kvm or tcg, not {accel!r}")
        self.instances_root = Path(instances_root)
        self.hostname = hostname
        self.qemu_binary = qemu_binary
        self.qemu_img = qemu_img
        self.processes = GuestProcesses(self.instances_root, qemu_binary, qemu_img, accel, open_tap)
        self.live = QemuLiveMigration(self.processes)

    # -- host ---------------------------------------------------------------

    async def accelerator(self) -> str:
        """``kvm`` when a probe guest runs under KVM within a few seconds,
        else ``tcg``.  Probed once per driver."""
        return await self.processes.accelerator()

    async def host_info(self) -> HostInfo:
        accel = await self.accelerator()
        rc, out, err = await run([self.qemu_binary, "--version"], timeout=10)
        if rc != 0:
            raise DriverError(f"cannot run {self.qemu_binary}: {err.strip() or out.strip()}")
        disk = await asyncio.to_thread(shutil.disk_usage, self.instances_root)
        return HostInfo(
            hostname=self.hostname,
            vcpus=os.cpu_count() or 1,
            memory_mb=host_memory_mb(),
            disk_gb=disk.total // 2**30,
            hypervisor_type="QEMU",
            hypervisor_version=parse_qemu_version(out),
            accelerator=accel,
        )

    # -- inventory ----------------------------------------------------------

    async def guests(self) -> list[GuestStatus]:
        found = await asyncio.to_thread(scan_guests, self.instances_root)
        for uuid, directory in found.items():
            self.processes.know(uuid, directory)
        return list(await asyncio.gather(*(self.status(uuid) for uuid in found)))

    async def status(self, uuid: str) -> GuestStatus:
        directory = self.processes.directory(uuid)
        if directory is None:
            return GuestStatus(uuid, Power.NOSTATE)
        async with self.processes.lock(uuid):
            return await self.processes.status(uuid, directory)

    # -- lifecycle ----------------------------------------------------------

    async def spawn(self, spec: GuestSpec) -> GuestStatus:
        await self.processes.prepare(spec)
        disk = disk_path(spec.directory)
        if spec.root_volume is None and not disk.exists():
            await self.processes.create_overlay(spec)
        return await self.start(spec)

    async def start(self, spec: GuestSpec) -> GuestStatus:
        await self.processes.prepare(spec)
        if state_file(spec.directory).exists() and live_pid(spec.directory, spec.uuid) is None:
            return await self.resume(spec)
        async with self.processes.lock(spec.uuid):
            if live_pid(spec.directory, spec.uuid) is None:
                await self.processes.launch(spec)
            return await self.processes.status(spec.uuid, spec.directory)

    async def stop(self, uuid: str, timeout: float) -> None:
        directory = self.processes.directory(uuid)
        if directory is None:
            return
        async with self.processes.lock(uuid):
            pid = live_pid(directory, uuid)
            if pid is None:
                return
            running = False
            with contextlib.suppress(QMPError):
                async with self.processes.qmp(directory) as qmp:
                    # A paused guest cannot handle the ACPI event: power it off.
                    status = await qmp.execute("query-status")
                    running = status.get("status") == "running"
                    if running:
                        await qmp.execute("system_powerdown")
            if not running or not await wait_exit(pid, uuid, timeout):
                log.info("guest %s ignored ACPI shutdown for %g s: powering off", uuid, timeout)
                await self.processes.force_off(directory, uuid, pid)
            clean_runtime_files(directory)

    async def reboot(self, spec: GuestSpec, hard: bool, timeout: float) -> GuestStatus:
        if live_pid(spec.directory, spec.uuid) is None:
            return await self.start(spec)
        if hard:
            async with self.processes.lock(spec.uuid):
                await self.processes.execute(spec.uuid, spec.directory, "system_reset")
                await self.processes.execute(spec.uuid, spec.directory, "cont")
                return await self.processes.status(spec.uuid, spec.directory)
        await self.stop(spec.uuid, timeout)
        return await self.start(spec)

    async def pause(self, uuid: str) -> None:
        await self.processes.simple(uuid, "stop")

    async def unpause(self, uuid: str) -> None:
        await self.processes.simple(uuid, "cont")

    async def suspend(self, uuid: str) -> None:
        directory = self.processes.require_directory(uuid)
        async with self.processes.lock(uuid):
            pid = live_pid(directory, uuid)
            if pid is None:
                raise DriverError(f"guest {uuid} is not running")
            state = state_file(directory)
            partial = state.with_suffix(".partial")
            partial.unlink(missing_ok=True)
            started = time.monotonic()
            try:
                async with self.processes.qmp(directory) as qmp:
                    await qmp.execute("stop")
                    await qmp.execute("migrate-set-parameters", {"max-bandwidth": 8 * 2**30})
                    uri = "exec:cat > " + shlex.quote(str(partial))
                    await qmp.execute("migrate", {"uri": uri})
                    await wait_migration(qmp, MIGRATE_TIMEOUT)
                    partial.rename(state)
                    with contextlib.suppress(QMPError):
                        await qmp.execute("quit")
            except QMPError as exc:
                partial.unlink(missing_ok=True)
                with contextlib.suppress(QMPError):
                    async with self.processes.qmp(directory) as qmp:
                        await qmp.execute("cont")
                raise DriverError(f"could not save guest {uuid}: {exc}") from exc
            if not await wait_exit(pid, uuid, QUIT_GRACE):
                kill(pid)
                await wait_exit(pid, uuid, QUIT_GRACE)
            clean_runtime_files(directory)
            log.info("guest %s saved in %.2f s", uuid, time.monotonic() - started)

    async def resume(self, spec: GuestSpec) -> GuestStatus:
        await self.processes.prepare(spec)
        state = state_file(spec.directory)
        async with self.processes.lock(spec.uuid):
            if live_pid(spec.directory, spec.uuid) is not None:
                return await self.processes.status(spec.uuid, spec.directory)
            if not state.exists():
                raise DriverError(f"guest {spec.uuid} has no saved state to resume")
            started = time.monotonic()
            await self.processes.launch(spec, incoming=state)
            async with self.processes.qmp(spec.directory) as qmp:
                await wait_incoming(qmp, MIGRATE_TIMEOUT)
                result = await qmp.execute("query-status")
                if result.get("status") != "running":
                    await qmp.execute("cont")
            state.unlink(missing_ok=True)
            log.info("guest %s restored in %.2f s", spec.uuid, time.monotonic() - started)
            return await self.processes.status(spec.uuid, spec.directory)

    async def destroy(self, uuid: str, directory: Path) -> None:
        await self.processes.destroy(uuid, directory)

    async def console_output(self, uuid: str, directory: Path, length: int | None) -> str:
        return await asyncio.to_thread(tail_lines, directory / "console.log", length)

    async def diagnostics(self, uuid: str, directory: Path) -> Diagnostics:
        accel = await self.accelerator()
        async with self.processes.lock(uuid):
            pid = live_pid(directory, uuid)
            if pid is None:
                raise DriverError(f"guest {uuid} is not running")
            drive = (directory / "config.iso").exists()  # agent/guests.py writes it
            try:
                async with self.processes.qmp(directory) as qmp:
                    return await read_diagnostics(qmp, pid, accel, drive)
            except QMPError as exc:
                raise DriverError(f"guest {uuid}: diagnostics failed: {exc}") from exc

    async def open_serial(self, uuid: str, directory: Path) -> SerialStream:
        if live_pid(directory, uuid) is None:
            raise DriverError(f"guest {uuid} is not running")
        return await SocketSerial.open(serial_socket(directory), uuid)

    async def trigger_crash_dump(self, uuid: str) -> None:
        """QMP ``inject-nmi``: the guest's kernel sees a non-maskable interrupt."""
        await self.processes.simple(uuid, "inject-nmi")

    async def snapshot(self, spec: GuestSpec, target: Path) -> None:
        await qemu_disks.snapshot(self.processes, spec, target)

    async def export_disk(self, uuid: str, directory: Path) -> Path:
        return qemu_disks.export_disk(uuid, directory)

    async def import_disk(self, spec: GuestSpec, disk: Path) -> None:
        await qemu_disks.import_disk(self.processes, spec, disk)

    async def rescue(self, spec: GuestSpec, image: Path, image_format: str) -> GuestStatus:
        """Power off, then boot a fresh overlay of the rescue image
        (``rescue.qcow2``) with the guest's own disk as the second disk.
        While ``rescue.qcow2`` exists every launch boots the rescue disk."""
        await self.processes.prepare(spec)
        if not disk_path(spec.directory).exists():
            raise DriverError(f"guest {spec.uuid} has no disk to rescue")
        async with self.processes.lock(spec.uuid):
            pid = live_pid(spec.directory, spec.uuid)
            if pid is not None:
                await self.processes.force_off(spec.directory, spec.uuid, pid)
            state_file(spec.directory).unlink(missing_ok=True)
            rescue = rescue_disk_path(spec.directory)
            rescue.unlink(missing_ok=True)  # a rescue always starts from a clean image
            await create_overlay(
                self.qemu_img, image.resolve(), image_format, rescue, spec.root_gb, what="image"
            )
            await self.processes.launch(spec)
            return await self.processes.status(spec.uuid, spec.directory)

    async def unrescue(self, spec: GuestSpec) -> GuestStatus:
        await self.processes.prepare(spec)
        async with self.processes.lock(spec.uuid):
            pid = live_pid(spec.directory, spec.uuid)
            if pid is not None:
                await self.processes.force_off(spec.directory, spec.uuid, pid)
            rescue_disk_path(spec.directory).unlink(missing_ok=True)
        return await self.start(spec)

    # -- NIC hot-plug (qemu_nics.py) ------------------------------------------

    async def attach_interface(self, spec: GuestSpec, nic: Nic) -> None:
        await qemu_nics.plug(self.processes, spec, nic)

    async def detach_interface(self, spec: GuestSpec, port_id: str) -> None:
        await qemu_nics.unplug(self.processes, spec, port_id)

    # -- volumes (qemu_volumes.py) -------------------------------------------

    async def attach_volume(self, uuid: str, disk: VolumeDisk) -> None:
        directory = self.processes.require_directory(uuid)
        async with self.processes.lock(uuid):
            if live_pid(directory, uuid) is None:
                raise DriverError(f"guest {uuid} is not running")
            try:
                async with self.processes.qmp(directory) as qmp:
                    await hotplug(qmp, disk)
            except QMPError as exc:
                raise DriverError(f"guest {uuid}: attaching {disk.serial} failed: {exc}") from exc

    async def detach_volume(self, uuid: str, disk: VolumeDisk, timeout: float) -> None:
        directory = self.processes.directory(uuid)
        if directory is None:
            return
        async with self.processes.lock(uuid):
            if live_pid(directory, uuid) is None:
                return  # a stopped guest holds no disk open
            try:
                async with self.processes.qmp(directory) as qmp:
                    await unplug(qmp, disk, timeout)
            except QMPError as exc:
                raise DriverError(f"guest {uuid}: detaching {disk.serial} failed: {exc}") from exc

    async def swap_volume(self, uuid: str, old: VolumeDisk, new: VolumeDisk) -> None:
        directory = self.processes.require_directory(uuid)
        async with self.processes.lock(uuid):
            if live_pid(directory, uuid) is None:
                raise DriverError(f"guest {uuid} is not running: only a running guest swaps")
            try:
                async with self.processes.qmp(directory) as qmp:
                    await swap(qmp, old, new, SWAP_TIMEOUT)
            except QMPError as exc:
                raise DriverError(f"guest {uuid}: swapping {old.serial} failed: {exc}") from exc

    async def extend_volume(self, uuid: str, disk: VolumeDisk, size: int) -> None:
        directory = self.processes.require_directory(uuid)
        async with self.processes.lock(uuid):
            if live_pid(directory, uuid) is None:
                return  # a stopped guest sees the volume's size at its next start
            try:
                async with self.processes.qmp(directory) as qmp:
                    await resize(qmp, disk, size)
            except QMPError as exc:
                raise DriverError(f"guest {uuid}: growing {disk.serial} failed: {exc}") from exc

    # -- live migration (the sequence is in qemu_live.py) --------------------

    async def prepare_incoming(self, spec: GuestSpec) -> IncomingGuest:
        return await self.live.prepare_incoming(spec)

    async def live_migrate(
        self, spec: GuestSpec, target: IncomingGuest, progress: ProgressCallback
    ) -> LiveResult:
        return await self.live.live_migrate(spec, target, progress)

    async def finish_incoming(self, spec: GuestSpec, running: bool) -> GuestStatus:
        return await self.live.finish_incoming(spec, running)

    async def abort_incoming(self, uuid: str, directory: Path) -> None:
        await self.destroy(uuid, directory)

    async def finish_outgoing(self, uuid: str, directory: Path) -> None:
        await self.live.finish_outgoing(uuid, directory)

    async def recover_outgoing(self, spec: GuestSpec) -> bool:
        return await self.live.recover_outgoing(spec)

    def command_line(
        self, spec: GuestSpec, accel: str, incoming: Path | str | None = None
    ) -> list[str]:
        return self.processes.command_line(spec, accel, incoming)
