"""The libvirt driver: guests are persistent libvirt domains, one driver for
every hypervisor libvirt speaks to (QEMU/KVM, Xen, LXC, ESX, Hyper-V), chosen
by the connection URI (``[compute] libvirt_uri``) and the virt type.

Each guest keeps its files in its own folder, as with the QEMU driver:

    disk.qcow2    copy-on-write overlay of the shared, read-only base image
    console.log   the serial console (a file chardev), appended across boots
    domain.xml    the definition last given to libvirt, for debugging

The domain is named ``stratus-<uuid>``, has the server's uuid and carries a
Stratus metadata element naming its folder, so a restarted agent adopts its
guests by listing domains.  Guests run as the agent's own user with
relabelling off: libvirt never chowns the guest's files or the cached base.
Snapshots never use block-commit (which can write into the shared base): a
running guest is copied by a libvirt push backup job, a stopped one by
``qemu-img convert``.

libvirt-python is blocking; every call runs in a worker thread.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from pathlib import Path
from typing import Any

from stratus.compute.drivers.base import (
    Capability,
    Diagnostics,
    DiskStats,
    DriverError,
    GuestSpec,
    GuestStatus,
    Nic,
    Power,
    SerialStream,
)
from stratus.compute.drivers.libvirt_facts import (
    backup_xml,
    message,
    power_from_state,
    wait_inactive,
    wait_job,
)
from stratus.compute.drivers.libvirt_host import LibvirtHost
from stratus.compute.drivers.libvirt_xml import current_identity, disk_path, domain_xml
from stratus.compute.drivers.tools import copy_stopped_disk, create_overlay, tail_lines

try:
    import libvirt
except ImportError:  # an optional extra: make_driver explains what is missing
    libvirt = None

log = logging.getLogger(__name__)

_SNAPSHOT_TIMEOUT = 600.0
_DESTROY_TIMEOUT = 30.0


class LibvirtDriver(LibvirtHost):
    name = "libvirt"

    # -- lifecycle ----------------------------------------------------------------

    async def spawn(self, spec: GuestSpec) -> GuestStatus:
        await self._prepare(spec)
        if not disk_path(spec.directory).exists():
            await self._create_overlay(spec)
        return await self.start(spec)

    async def start(self, spec: GuestSpec) -> GuestStatus:
        """Define (or redefine) the domain from the spec and start it; a
        domain with a managed save image is restored from it instead."""
        await self._prepare(spec)
        if not disk_path(spec.directory).exists():
            raise DriverError(f"guest {spec.uuid} has no disk on this host")
        async with self._lock(spec.uuid):
            dom = await self._domain(spec.uuid)
            if dom is not None and await self._call("reading state", dom.isActive):
                return await self._status(dom)
            saved = dom is not None and await self._call(
                "checking for saved state", dom.hasManagedSaveImage, 0
            )
            if dom is None or not saved:
                dom = await self._define(spec)
            started = time.monotonic()
            await self._call(f"starting guest {spec.uuid}", dom.create)
            log.info(
                "libvirt: guest %s %s in %.2f s",
                spec.uuid,
                "restored" if saved else "started",
                time.monotonic() - started,
            )
            return await self._status(dom)

    async def _define(self, spec: GuestSpec) -> Any:
        xml = domain_xml(spec, self.virt, run_as=self._run_as())
        (spec.directory / "domain.xml").write_text(xml + "\n")
        conn = await self.connection()
        return await self._call(f"defining guest {spec.uuid}", conn.defineXML, xml)

    def _run_as(self) -> tuple[int, int] | None:
        """A local system hypervisor would run guests as its own user and
        chown their files (the cached base included): run them as the agent's
        user instead, who owns the files."""
        return current_identity() if self.uri.endswith(":///system") else None

    async def stop(self, uuid: str, timeout: float) -> None:
        dom = await self._domain(uuid)
        if dom is None:
            return
        async with self._lock(uuid):
            state, _ = await self._call("reading state", dom.state, 0)
            if state in (libvirt.VIR_DOMAIN_SHUTOFF, libvirt.VIR_DOMAIN_NOSTATE):
                return
            clean = False
            if state == libvirt.VIR_DOMAIN_RUNNING:
                # A paused guest cannot see the ACPI event: it is powered off.
                with contextlib.suppress(DriverError):
                    await self._call(f"shutting down guest {uuid}", dom.shutdown)
                    clean = await wait_inactive(dom, timeout)
            if not clean:
                if state == libvirt.VIR_DOMAIN_RUNNING:
                    log.info("guest %s ignored ACPI shutdown for %g s: powering off", uuid, timeout)
                else:
                    log.info("guest %s is not running (state %s): powering off", uuid, state)
                await self._power_off(dom, uuid)

    async def _power_off(self, dom: Any, uuid: str) -> None:
        try:
            await asyncio.to_thread(dom.destroy)
        except libvirt.libvirtError as exc:
            if await asyncio.to_thread(dom.isActive):
                raise DriverError(
                    f"libvirt: cannot power off guest {uuid}: {message(exc)}"
                ) from exc
        if not await wait_inactive(dom, _DESTROY_TIMEOUT):
            raise DriverError(f"guest {uuid} did not power off")

    async def reboot(self, spec: GuestSpec, hard: bool, timeout: float) -> GuestStatus:
        dom = await self._domain(spec.uuid)
        if dom is None or not await self._call("reading state", dom.isActive):
            return await self.start(spec)
        if hard:
            async with self._lock(spec.uuid):
                await self._call(f"resetting guest {spec.uuid}", dom.reset, 0)
                state, _ = await self._call("reading state", dom.state, 0)
                if state == libvirt.VIR_DOMAIN_PAUSED:
                    await self._call(f"resuming guest {spec.uuid}", dom.resume)
                return await self._status(dom)
        await self.stop(spec.uuid, timeout)
        return await self.start(spec)

    async def pause(self, uuid: str) -> None:
        dom = await self._running(uuid)
        async with self._lock(uuid):
            await self._call(f"pausing guest {uuid}", dom.suspend)

    async def unpause(self, uuid: str) -> None:
        dom = await self._running(uuid)
        async with self._lock(uuid):
            await self._call(f"unpausing guest {uuid}", dom.resume)

    async def suspend(self, uuid: str) -> None:
        """libvirt's managed save: memory and device state go to a file
        libvirt keeps; the next start restores it."""
        dom = await self._running(uuid)
        async with self._lock(uuid):
            started = time.monotonic()
            await self._call(f"saving guest {uuid}", dom.managedSave, 0)
            log.info("libvirt: guest %s saved in %.2f s", uuid, time.monotonic() - started)

    async def resume(self, spec: GuestSpec) -> GuestStatus:
        dom = await self._require(spec.uuid)
        active = await self._call("reading state", dom.isActive)
        if not active and not await self._call(
            "checking for saved state", dom.hasManagedSaveImage, 0
        ):
            raise DriverError(f"guest {spec.uuid} has no saved state to resume")
        return await self.start(spec)

    async def destroy(self, uuid: str, directory: Path) -> None:
        async with self._lock(uuid):
            dom = await self._domain(uuid)
            if dom is not None:
                if await self._call("reading state", dom.isActive):
                    await self._power_off(dom, uuid)
                flags = (
                    libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
                    | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
                )
                try:
                    await asyncio.to_thread(dom.undefineFlags, flags)
                except libvirt.libvirtError as exc:
                    if exc.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                        raise DriverError(
                            f"libvirt: cannot undefine guest {uuid}: {message(exc)}"
                        ) from exc
            await asyncio.to_thread(shutil.rmtree, directory, True)
        self._locks.pop(uuid, None)

    async def console_output(self, uuid: str, directory: Path, length: int | None) -> str:
        if Capability.CONSOLE_LOG not in self.capabilities:
            raise DriverError(f"{self.virt.label} guests have no console log file")
        return await asyncio.to_thread(tail_lines, directory / "console.log", length)

    async def diagnostics(self, uuid: str, directory: Path) -> Diagnostics:
        """``virDomainGetInfo`` and the root disk's ``virDomainBlockStats``."""
        dom = await self._running(uuid)
        state, _max_kib, mem_kib, vcpus, _cpu_ns = await self._call(
            f"reading the state of guest {uuid}", dom.info
        )
        disks: tuple[DiskStats, ...] = ()
        with contextlib.suppress(DriverError):
            rd_req, rd_bytes, wr_req, wr_bytes, errs = await self._call(
                f"reading the disk counters of guest {uuid}", dom.blockStats, "vda"
            )
            disks = (DiskStats("vda", rd_bytes, rd_req, wr_bytes, wr_req, max(errs, 0)),)
        names = {Power.RUNNING: "running", Power.PAUSED: "paused", Power.CRASHED: "crashed"}
        return Diagnostics(
            state=names.get(power_from_state(state), "shutdown"),
            driver=self.name,
            hypervisor=self.virt.name,
            hypervisor_os="linux",
            uptime=None,
            num_cpus=int(vcpus),
            memory_mb=int(mem_kib) // 1024,
            disks=disks,
            config_drive=(directory / "config.iso").exists(),
        )

    async def trigger_crash_dump(self, uuid: str) -> None:
        dom = await self._running(uuid)
        await self._call(f"sending an NMI to guest {uuid}", dom.injectNMI, 0)

    # -- not declared: the API refuses these (409) before a driver is asked ------

    async def open_serial(self, uuid: str, directory: Path) -> SerialStream:
        raise DriverError("the libvirt driver's guests log their serial console to a file only")

    async def rescue(self, spec: GuestSpec, image: Path, image_format: str) -> GuestStatus:
        raise DriverError("the libvirt driver does not rescue guests (no 'rescue' capability)")

    async def unrescue(self, spec: GuestSpec) -> GuestStatus:
        raise DriverError("the libvirt driver does not rescue guests (no 'rescue' capability)")

    async def export_disk(self, uuid: str, directory: Path) -> Path:
        raise DriverError("the libvirt driver does not move disks (no 'migrate' capability)")

    async def attach_interface(self, spec: GuestSpec, nic: Nic) -> None:
        raise DriverError("the libvirt driver does not hot-plug interfaces")

    async def detach_interface(self, spec: GuestSpec, port_id: str) -> None:
        raise DriverError("the libvirt driver does not hot-plug interfaces")

    async def import_disk(self, spec: GuestSpec, disk: Path) -> None:
        raise DriverError("the libvirt driver does not move disks (no 'migrate' capability)")

    async def snapshot(self, spec: GuestSpec, target: Path) -> None:
        """Running: a libvirt push backup job (QEMU's blockdev-backup,
        sync=full) writes a standalone qcow2 of the disk as of the instant it
        starts while the guest runs on.  Stopped: ``qemu-img convert``."""
        if Capability.SNAPSHOT not in self.capabilities:
            raise DriverError(f"{self.virt.label} guests cannot be snapshotted by this driver")
        disk = disk_path(spec.directory)
        if not disk.exists():
            raise DriverError(f"guest {spec.uuid} has no disk to snapshot")
        partial = target.with_name(target.name + ".partial")
        partial.unlink(missing_ok=True)
        async with self._lock(spec.uuid):
            dom = await self._domain(spec.uuid)
            if dom is not None and await self._call("reading state", dom.isActive):
                await self._backup(dom, spec.uuid, partial)
            else:
                await copy_stopped_disk(self.qemu_img, disk, partial)
        partial.rename(target)

    async def _backup(self, dom: Any, uuid: str, target: Path) -> None:
        started = time.monotonic()
        try:
            await self._call(
                f"starting a backup of guest {uuid}", dom.backupBegin, backup_xml(target), None, 0
            )
            stats = await wait_job(dom, _SNAPSHOT_TIMEOUT)
        except BaseException:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(dom.abortJob)
            target.unlink(missing_ok=True)
            raise
        if stats.get("type") != libvirt.VIR_DOMAIN_JOB_COMPLETED:
            target.unlink(missing_ok=True)
            reason = stats.get("errmsg") or "the backup job did not complete"
            raise DriverError(f"live snapshot of guest {uuid} failed: {reason}")
        log.info("libvirt: guest %s backed up in %.2f s", uuid, time.monotonic() - started)

    # -- helpers -------------------------------------------------------------------

    async def _prepare(self, spec: GuestSpec) -> None:
        spec.directory.mkdir(parents=True, exist_ok=True)

    async def _create_overlay(self, spec: GuestSpec) -> None:
        await create_overlay(
            self.qemu_img,
            spec.base_image.resolve(),
            spec.base_format,
            disk_path(spec.directory),
            spec.root_gb,
        )
