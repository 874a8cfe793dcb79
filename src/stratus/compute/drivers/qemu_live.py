"""Live migration between two QEMU processes without shared storage.

Destination (``prepare_incoming``): an empty overlay of the guest's size over
this host's own cached base image, qemu started with ``-incoming defer``, the
overlay exported writable over NBD (``nbd-server-start`` + ``nbd-server-add``)
and ``migrate-incoming`` listening on a TCP port, all on 127.0.0.1.  Attached
volumes are not copied: the destination's qemu starts with each of them
(opened through the destination's own Cinder attachment) at the same device
id and PCI slot as the source's (``qemu_volumes.pci_slot``); a guest booted
from a volume has no overlay and nothing is mirrored.

Source (``live_migrate``): ``drive-mirror sync=top mode=existing`` copies the
overlay's clusters into the NBD export and then mirrors every new write; once
the job is READY, ``migrate`` sends the memory and device state (bandwidth
cap raised, downtime limited) while ``query-migrate`` is polled for progress.
When it completes the destination guest runs (no ``-S``: it starts by itself
when the source was running) and the source cancels the mirror
(``block-job-cancel``, which on a READY mirror just ends it); once the agent
has recorded the move, ``finish_outgoing`` quits the source qemu.  The
source's QMP jobs (mirror, migrate, undo) are in ``qemu_live_jobs.py``.

Destination again (``finish_incoming``): ``nbd-server-stop``, and ``cont``
when the guest should run but is paused (a force-completed migration paused
it on the source).
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import time
from pathlib import Path
from typing import Any

from stratus.compute.drivers.base import DriverError, GuestSpec, GuestStatus
from stratus.compute.drivers.live import (
    IncomingGuest,
    LiveResult,
    ProgressCallback,
)
from stratus.compute.drivers.qemu_files import (
    clean_runtime_files,
    disk_path,
    kill,
    live_pid,
    wait_exit,
    wait_incoming,
)
from stratus.compute.drivers.qemu_guest import GuestProcesses
from stratus.compute.drivers.qemu_live_jobs import (
    EXPORT,
    Aborted,
    MigrationState,
    cancel_mirror,
    migrate,
    mirror,
    undo,
)
from stratus.compute.drivers.qmp import QMPError

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"


def incoming_file(directory: Path) -> Path:
    """Where a prepared destination remembers its endpoints (idempotence)."""
    return directory / "incoming.json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


# -- destination ---------------------------------------------------------------------


async def prepare_incoming(guests: GuestProcesses, spec: GuestSpec) -> IncomingGuest:
    await guests.prepare(spec)
    directory = spec.directory
    async with guests.lock(spec.uuid):
        saved = incoming_file(directory)
        if live_pid(directory, spec.uuid) is not None and saved.exists():
            return IncomingGuest.from_dict(json.loads(saved.read_text()))
        started = time.monotonic()
        disk_path(directory).unlink(missing_ok=True)  # a leftover of an earlier attempt
        local_disk = spec.root_volume is None  # booted from a volume: no disk to copy
        if local_disk:
            await guests.create_overlay(spec)
        try:
            await guests.launch(spec, incoming="defer")
            target = await _listen(guests, directory, local_disk)
        except (DriverError, QMPError, OSError) as exc:
            pid = live_pid(directory, spec.uuid)
            if pid is not None:
                kill(pid)
                await wait_exit(pid, spec.uuid, 10)
            clean_runtime_files(directory)
            raise DriverError(f"could not prepare the incoming guest {spec.uuid}: {exc}") from exc
        saved.write_text(json.dumps(target.to_dict()))
        log.info(
            "guest %s: incoming guest ready in %.2f s (disk %s, memory %s)",
            spec.uuid,
            time.monotonic() - started,
            target.disk_uri,
            target.memory_uri,
        )
        return target


async def _listen(guests: GuestProcesses, directory: Path, local_disk: bool) -> IncomingGuest:
    """Export the disk (a guest booted from a volume has none to copy: its
    volumes, like every attached volume, are opened here through their own
    Cinder attachments) and wait for the memory, each on a free port (tried
    again on another port if one was taken meanwhile)."""
    disk_uri = ""
    async with guests.qmp(directory) as qmp:
        if local_disk:
            nbd_port = await _retry_port(
                lambda port: qmp.execute(
                    "nbd-server-start",
                    {"addr": {"type": "inet", "data": {"host": LOOPBACK, "port": str(port)}}},
                )
            )
            await qmp.execute("nbd-server-add", {"device": EXPORT, "writable": True})
            disk_uri = f"nbd:{LOOPBACK}:{nbd_port}:exportname={EXPORT}"
        memory_port = await _retry_port(
            lambda port: qmp.execute("migrate-incoming", {"uri": f"tcp:{LOOPBACK}:{port}"})
        )
    return IncomingGuest(
        disk_uri=disk_uri,
        memory_uri=f"tcp:{LOOPBACK}:{memory_port}",
    )


async def _retry_port(call: Any, attempts: int = 3) -> int:
    for attempt in range(attempts):
        port = free_port()
        try:
            await call(port)
            return port
        except QMPError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


async def finish_incoming(guests: GuestProcesses, spec: GuestSpec, running: bool) -> GuestStatus:
    directory = spec.directory
    async with guests.lock(spec.uuid):
        if live_pid(directory, spec.uuid) is None:
            raise DriverError(f"the migrated guest {spec.uuid} is not running on this host")
        try:
            async with guests.qmp(directory) as qmp:
                await wait_incoming(qmp, 60)
                with contextlib.suppress(QMPError):  # already stopped
                    await qmp.execute("nbd-server-stop")
                status = (await qmp.execute("query-status")).get("status")
                if running and status != "running":
                    await qmp.execute("cont")
        except QMPError as exc:
            raise DriverError(f"could not take over the migrated guest {spec.uuid}: {exc}") from exc
        incoming_file(directory).unlink(missing_ok=True)
        return await guests.status(spec.uuid, directory)


# -- source ----------------------------------------------------------------------------


async def live_migrate(
    guests: GuestProcesses, spec: GuestSpec, target: IncomingGuest, progress: ProgressCallback
) -> LiveResult:
    uuid, directory = spec.uuid, spec.directory
    job = f"live-{uuid[:8]}"
    async with guests.lock(uuid):
        pid = live_pid(directory, uuid)
        if pid is None:
            raise DriverError(f"guest {uuid} is not running")
        started = time.monotonic()
        state = MigrationState()
        try:
            async with guests.qmp(directory) as qmp:
                status = (await qmp.execute("query-status")).get("status")
                state.was_running = status == "running"
                try:
                    if target.disk_uri:  # "": no local disk (booted from a volume)
                        await mirror(qmp, job, target, progress, state)
                    info = await migrate(qmp, target, progress, state)
                except Aborted:
                    await undo(qmp, job, state)
                    log.info("guest %s: live migration aborted; it runs here still", uuid)
                    return LiveResult(False, progress=state.last)
                except (QMPError, DriverError, TimeoutError) as exc:
                    await undo(qmp, job, state)
                    raise DriverError(f"live migration of {uuid} failed: {exc}") from exc
                await cancel_mirror(qmp, job)
        except QMPError as exc:  # the monitor itself failed (qemu died?)
            raise DriverError(f"live migration of {uuid} failed: {exc}") from exc
    total = int((time.monotonic() - started) * 1000)
    downtime = info.get("downtime")
    log.info("guest %s: live migration completed in %d ms (downtime %s ms)", uuid, total, downtime)
    return LiveResult(
        True,
        total_ms=total,
        downtime_ms=int(downtime) if downtime is not None else None,
        progress=state.last,
    )


async def finish_outgoing(guests: GuestProcesses, uuid: str, directory: Path) -> None:
    """Quit the source's stopped (postmigrate) qemu and delete its folder."""
    async with guests.lock(uuid):
        pid = live_pid(directory, uuid)
        if pid is not None:
            with contextlib.suppress(QMPError):
                async with guests.qmp(directory) as qmp:
                    await qmp.execute("quit")
            if not await wait_exit(pid, uuid, 5):
                kill(pid)
                await wait_exit(pid, uuid, 5)
        clean_runtime_files(directory)
    await guests.destroy(uuid, directory)


async def recover_outgoing(guests: GuestProcesses, spec: GuestSpec) -> bool:
    """After the source agent restarted mid-migration: True when qemu had
    completed it (the guest runs on the destination); otherwise whatever is
    left (migration, mirror) is cancelled and the guest runs here."""
    uuid, directory = spec.uuid, spec.directory
    async with guests.lock(uuid):
        if live_pid(directory, uuid) is None:
            return False
        try:
            async with guests.qmp(directory) as qmp:
                info = await qmp.execute("query-migrate")
                status = info.get("status")
                if status == "completed":
                    for job in await qmp.execute("query-block-jobs"):
                        await cancel_mirror(qmp, str(job.get("device")))
                    return True
                state = MigrationState()
                state.migrating = status not in (None, "none", "failed", "cancelled")
                runstate = (await qmp.execute("query-status")).get("status")
                state.was_running = runstate in ("running", "finish-migrate")
                jobs = [str(j.get("device", "")) for j in await qmp.execute("query-block-jobs")]
                mirrors = [j for j in jobs if j.startswith("live-")]
                await undo(qmp, mirrors[0] if mirrors else "", state)
        except QMPError as exc:
            raise DriverError(f"could not check guest {uuid}'s migration: {exc}") from exc
        return False


class QemuLiveMigration:
    """The QEMU driver's live migration (its ``LiveMigrationDriver`` methods),
    on the host's guest processes."""

    def __init__(self, guests: GuestProcesses) -> None:
        self.guests = guests

    async def prepare_incoming(self, spec: GuestSpec) -> IncomingGuest:
        return await prepare_incoming(self.guests, spec)

    async def live_migrate(
        self, spec: GuestSpec, target: IncomingGuest, progress: ProgressCallback
    ) -> LiveResult:
        return await live_migrate(self.guests, spec, target, progress)

    async def finish_incoming(self, spec: GuestSpec, running: bool) -> GuestStatus:
        return await finish_incoming(self.guests, spec, running)

    async def finish_outgoing(self, uuid: str, directory: Path) -> None:
        await finish_outgoing(self.guests, uuid, directory)

    async def recover_outgoing(self, spec: GuestSpec) -> bool:
        return await recover_outgoing(self.guests, spec)
