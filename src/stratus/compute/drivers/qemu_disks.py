"""A QEMU guest's root disk as a whole: its snapshot (a running guest's by
QMP ``drive-backup``, a stopped one's by ``qemu-img convert``), and its move
to another host (export, then import onto that host's cached base)."""

from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path
from typing import Any

from stratus.compute.drivers.base import DriverError, GuestSpec
from stratus.compute.drivers.qemu_files import disk_path, live_pid
from stratus.compute.drivers.qemu_guest import GuestProcesses
from stratus.compute.drivers.qmp import QMPError
from stratus.compute.drivers.tools import copy_stopped_disk, run

log = logging.getLogger(__name__)

SNAPSHOT_TIMEOUT = 600.0


async def snapshot(processes: GuestProcesses, spec: GuestSpec, target: Path) -> None:
    """A running guest: QMP ``drive-backup sync=full`` writes the whole
    chain (overlay and base) as of the moment it starts, while the guest
    keeps running.  A stopped one: ``qemu-img convert`` of its disk."""
    directory = spec.directory
    disk = disk_path(directory)
    if not disk.exists():
        raise DriverError(f"guest {spec.uuid} has no disk to snapshot")
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    async with processes.lock(spec.uuid):
        if live_pid(directory, spec.uuid) is not None:
            await _live_backup(processes, spec.uuid, directory, partial)
        else:
            await copy_stopped_disk(processes.qemu_img, disk, partial)
    partial.rename(target)


def export_disk(uuid: str, directory: Path) -> Path:
    """The disk of a stopped guest, to move to another host."""
    disk = disk_path(directory)
    if not disk.is_file():
        raise DriverError(f"guest {uuid} has no disk in {directory}")
    if live_pid(directory, uuid) is not None:
        raise DriverError(f"guest {uuid} is running: stop it before moving its disk")
    return disk


async def import_disk(processes: GuestProcesses, spec: GuestSpec, disk: Path) -> None:
    """Rebase the overlay onto this host's cached base (``-u``: the base
    holds the same image, only its path differs) and grow it."""
    await processes.prepare(spec)
    target = disk_path(spec.directory)
    if disk.resolve() != target.resolve():
        disk.replace(target)
    base = spec.base_image.resolve()
    cmd = [processes.qemu_img, "rebase", "-u", "-b", str(base), "-F", spec.base_format, "-f"]
    rc, out, err = await run([*cmd, "qcow2", str(target)], timeout=60)
    if rc != 0:
        raise DriverError(f"could not rebase the disk of {spec.uuid}: {(err or out).strip()}")
    rc, out, err = await run([processes.qemu_img, "info", "--output=json", str(target)], timeout=60)
    if rc != 0:
        raise DriverError(f"could not read the disk of {spec.uuid}: {(err or out).strip()}")
    size = int(json.loads(out).get("virtual-size", 0))
    wanted = spec.root_gb * 2**30
    if wanted > size:
        cmd = [processes.qemu_img, "resize", "-f", "qcow2", str(target), str(wanted)]
        rc, out, err = await run(cmd, timeout=60)
        if rc != 0:
            raise DriverError(f"could not grow the disk of {spec.uuid}: {(err or out).strip()}")
        log.info("guest %s: disk grown to %d GiB", spec.uuid, spec.root_gb)


async def _live_backup(processes: GuestProcesses, uuid: str, directory: Path, target: Path) -> None:
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
        async with processes.qmp(directory) as qmp:
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
