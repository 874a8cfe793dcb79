"""The QEMU driver: each guest is a daemonized ``qemu-system-x86_64`` process
controlled over QMP, with its files in one folder (``qemu_files.py``).
Guests outlive the agent: a new driver finds them by their pidfiles.

The driver's modules: ``qemu_files.py`` (the folder's files, the process),
``qemu_command.py`` (the command line, host probes), ``qemu_guest.py`` (the
processes: launch, monitor, stop), ``qemu_live.py`` (live migration), and
``qmp.py`` (the QMP client).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shlex
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
from stratus.compute.drivers.qemu_command import host_memory_mb, nic_ids, parse_qemu_version
from stratus.compute.drivers.qemu_diagnostics import read_diagnostics
from stratus.compute.drivers.qemu_files import (
    clean_runtime_files,
    disk_path,
    kill,
    live_pid,
    qmp_socket,
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
from stratus.compute.drivers.qmp import QMPError, execute_with_fd
from stratus.compute.drivers.serial import SocketSerial
from stratus.compute.drivers.tools import create_overlay, run, tail_lines

log = logging.getLogger(__name__)

SNAPSHOT_TIMEOUT = 600.0
UNPLUG_TIMEOUT = 30.0
SWAP_TIMEOUT = 3600.0  # to copy one volume onto another while the guest runs


def _nic_device(nic: Nic) -> dict[str, Any]:
    netdev, device = nic_ids(nic.port_id)
    return {"driver": "virtio-net-pci", "id": device, "netdev": netdev, "mac": nic.mac}


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
        """A running guest: QMP ``drive-backup sync=full`` writes the whole
        chain (overlay and base) as of the moment it starts, while the guest
        keeps running.  A stopped one: ``qemu-img convert`` of its disk."""
        directory = spec.directory
        disk = disk_path(directory)
        if not disk.exists():
            raise DriverError(f"guest {spec.uuid} has no disk to snapshot")
        partial = target.with_name(target.name + ".partial")
        partial.unlink(missing_ok=True)
        async with self.processes.lock(spec.uuid):
            if live_pid(directory, spec.uuid) is not None:
                await self._live_backup(spec.uuid, directory, partial)
            else:
                cmd = [self.qemu_img, "convert", "-U", "-f", "qcow2", "-O", "qcow2"]
                rc, out, err = await run([*cmd, str(disk), str(partial)], timeout=600)
                if rc != 0:
                    partial.unlink(missing_ok=True)
                    raise DriverError(f"could not copy the disk: {(err or out).strip()}")
        partial.rename(target)

    async def export_disk(self, uuid: str, directory: Path) -> Path:
        disk = disk_path(directory)
        if not disk.is_file():
            raise DriverError(f"guest {uuid} has no disk in {directory}")
        if live_pid(directory, uuid) is not None:
            raise DriverError(f"guest {uuid} is running: stop it before moving its disk")
        return disk

    async def import_disk(self, spec: GuestSpec, disk: Path) -> None:
        """Rebase the overlay onto this host's cached base (``-u``: the base
        holds the same image, only its path differs) and grow it."""
        await self.processes.prepare(spec)
        target = disk_path(spec.directory)
        if disk.resolve() != target.resolve():
            disk.replace(target)
        base = spec.base_image.resolve()
        cmd = [self.qemu_img, "rebase", "-u", "-b", str(base), "-F", spec.base_format, "-f"]
        rc, out, err = await run([*cmd, "qcow2", str(target)], timeout=60)
        if rc != 0:
            raise DriverError(f"could not rebase the disk of {spec.uuid}: {(err or out).strip()}")
        rc, out, err = await run([self.qemu_img, "info", "--output=json", str(target)], timeout=60)
        if rc != 0:
            raise DriverError(f"could not read the disk of {spec.uuid}: {(err or out).strip()}")
        size = int(json.loads(out).get("virtual-size", 0))
        wanted = spec.root_gb * 2**30
        if wanted > size:
            cmd = [self.qemu_img, "resize", "-f", "qcow2", str(target), str(wanted)]
            rc, out, err = await run(cmd, timeout=60)
            if rc != 0:
                raise DriverError(f"could not grow the disk of {spec.uuid}: {(err or out).strip()}")
            log.info("guest %s: disk grown to %d GiB", spec.uuid, spec.root_gb)

    async def _live_backup(self, uuid: str, directory: Path, target: Path) -> None:
        job = f"snapshot-{uuid[:8]}"
        arguments = {
            "job-id": job,
            "device": "disk0",
            "target": str(target),
            "format": "qcow2",
            "sync": "full",
            "mode": "absolute-paths",
            "auto-dismiss": True,
        }
        try:
            async with self.processes.qmp(directory) as qmp:
                await _cancel_stale_job(qmp, job)
                await qmp.execute("drive-backup", arguments)
                event = await qmp.wait_event("BLOCK_JOB_COMPLETED", SNAPSHOT_TIMEOUT)
        except (QMPError, TimeoutError) as exc:
            target.unlink(missing_ok=True)
            raise DriverError(f"live snapshot of {uuid} failed: {exc}") from exc
        error = event.get("data", {}).get("error")
        if error:
            target.unlink(missing_ok=True)
            raise DriverError(f"live snapshot of {uuid} failed: {error}")

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

    # -- NIC hot-plug ---------------------------------------------------------

    async def _devices(self, qmp: Any) -> set[str]:
        found = await qmp.execute("qom-list", {"path": "/machine/peripheral"})
        return {str(item.get("name")) for item in found or []}

    async def attach_interface(self, spec: GuestSpec, nic: Nic) -> None:
        netdev, device = nic_ids(nic.port_id)
        directory = self.processes.require_directory(spec.uuid)
        async with self.processes.lock(spec.uuid):
            if live_pid(directory, spec.uuid) is None:
                raise DriverError(f"guest {spec.uuid} is not running")
            opening: asyncio.Task[int] | None = None
            if self.processes.open_tap is not None:
                # The tap is opened (a thread entering the host's namespace)
                # while the monitor says what the guest has.
                opening = asyncio.create_task(
                    asyncio.to_thread(self.processes.open_tap, nic.port_id)
                )
            try:
                async with self.processes.qmp(directory) as qmp:
                    if device in await self._devices(qmp):
                        return
                    with contextlib.suppress(QMPError):  # left by an interrupted plug
                        await qmp.execute("netdev_del", {"id": netdev})
                    if opening is None:
                        await qmp.execute(
                            "netdev_add",
                            {"type": "tap", "id": netdev, "ifname": nic.tap,
                             "script": "no", "downscript": "no"},
                        )  # fmt: skip
                        await qmp.execute("device_add", _nic_device(nic))
                        return
                # The tap's descriptor travels to QEMU over the monitor socket.
                fd, opening = await opening, None
                try:
                    name = f"fd-{netdev}"
                    commands = [
                        ("netdev_add", {"type": "tap", "id": netdev, "fd": name}),
                        ("device_add", _nic_device(nic)),
                    ]
                    await asyncio.to_thread(
                        execute_with_fd, qmp_socket(directory), fd, name, commands
                    )
                finally:
                    os.close(fd)
            except QMPError as exc:
                raise DriverError(f"could not plug port {nic.port_id}: {exc}") from exc
            finally:
                if opening is not None:  # not used: the guest has the NIC, or QMP failed
                    with contextlib.suppress(Exception):
                        os.close(await opening)

    async def detach_interface(self, spec: GuestSpec, port_id: str) -> None:
        netdev, device = nic_ids(port_id)
        directory = self.processes.require_directory(spec.uuid)
        async with self.processes.lock(spec.uuid):
            if live_pid(directory, spec.uuid) is None:
                return
            try:
                async with self.processes.qmp(directory) as qmp:
                    if device in await self._devices(qmp):
                        await qmp.execute("device_del", {"id": device})
                        await self._wait_deleted(qmp, device)
                    with contextlib.suppress(QMPError):
                        await qmp.execute("netdev_del", {"id": netdev})
            except QMPError as exc:
                raise DriverError(f"could not unplug port {port_id}: {exc}") from exc

    async def _wait_deleted(self, qmp: Any, device: str) -> None:
        """The guest acknowledges an unplug (ACPI): wait for it."""
        deadline = time.monotonic() + UNPLUG_TIMEOUT
        while time.monotonic() < deadline:
            if device not in await self._devices(qmp):
                return
            await asyncio.sleep(0.1)
        raise DriverError(f"the guest did not release {device} within {UNPLUG_TIMEOUT:g} s")

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


async def _cancel_stale_job(qmp: Any, job: str) -> None:
    """A backup of this guest that an agent killed midway started (QEMU
    outlives the agent and keeps writing into a file the restart swept):
    cancel it, so that the snapshot taken again can start its own."""
    jobs = await qmp.execute("query-block-jobs")
    if not any(j.get("device") == job for j in jobs or []):
        return
    log.warning("a backup job %s left by an interrupted snapshot runs; cancelling it", job)
    try:
        await qmp.execute("block-job-cancel", {"device": job, "force": True})
        ended = "BLOCK_JOB_CANCELLED"
    except QMPError:
        ended = "BLOCK_JOB_COMPLETED"  # it ended meanwhile: consume its event
    with contextlib.suppress(QMPError):
        await qmp.wait_event(ended, 60 if ended == "BLOCK_JOB_CANCELLED" else 5)
