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
has recorded the move, ``finish_outgoing`` quits the source qemu.

Destination again (``finish_incoming``): ``nbd-server-stop``, and ``cont``
when the guest should run but is paused (a force-completed migration paused
it on the source).
"""

from __future__ import annotations

import asyncio
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
    LiveControl,
    LiveProgress,
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
from stratus.compute.drivers.qemu_guest import MIGRATE_TIMEOUT, GuestProcesses
from stratus.compute.drivers.qmp import QMPClient, QMPError

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
EXPORT = "disk0"  # the NBD export name: the guest's disk drive id
MAX_BANDWIDTH = 8 * 2**30  # bytes/s: qemu's default cap (32 MiB/s) would take seconds
DOWNTIME_LIMIT_MS = 100
POLL = 0.02  # query-migrate / query-block-jobs are cheap; a coarser poll adds to the total


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


class _Aborted(Exception):
    pass


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
        state = _State()
        try:
            async with guests.qmp(directory) as qmp:
                status = (await qmp.execute("query-status")).get("status")
                state.was_running = status == "running"
                try:
                    if target.disk_uri:  # "": no local disk (booted from a volume)
                        await _mirror(qmp, job, target, progress, state)
                    info = await _migrate(qmp, target, progress, state)
                except _Aborted:
                    await _undo(qmp, job, state)
                    log.info("guest %s: live migration aborted; it runs here still", uuid)
                    return LiveResult(False, progress=state.last)
                except (QMPError, DriverError, TimeoutError) as exc:
                    await _undo(qmp, job, state)
                    raise DriverError(f"live migration of {uuid} failed: {exc}") from exc
                await _cancel_mirror(qmp, job)
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
                        await _cancel_mirror(qmp, str(job.get("device")))
                    return True
                state = _State()
                state.migrating = status not in (None, "none", "failed", "cancelled")
                runstate = (await qmp.execute("query-status")).get("status")
                state.was_running = runstate in ("running", "finish-migrate")
                jobs = [str(j.get("device", "")) for j in await qmp.execute("query-block-jobs")]
                mirrors = [j for j in jobs if j.startswith("live-")]
                await _undo(qmp, mirrors[0] if mirrors else "", state)
        except QMPError as exc:
            raise DriverError(f"could not check guest {uuid}'s migration: {exc}") from exc
        return False


class _State:
    def __init__(self) -> None:
        self.deadline = time.monotonic() + MIGRATE_TIMEOUT
        self.was_running = True
        self.forced = False  # the guest was paused to make the migration converge
        self.migrating = False
        self.disk: tuple[int, int] | None = None  # (len, offset) of the mirror job
        self.last: LiveProgress | None = None

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise DriverError(f"the live migration did not finish within {MIGRATE_TIMEOUT:g} s")


def _disk_fields(state: _State) -> dict[str, int]:
    if state.disk is None:
        return {}
    total, done = state.disk
    return {"disk_total": total, "disk_processed": done, "disk_remaining": max(total - done, 0)}


async def _report(
    qmp: QMPClient, progress: ProgressCallback, state: _State, report: LiveProgress
) -> None:
    state.last = report
    control = await progress(report)
    if control == LiveControl.ABORT:
        raise _Aborted()
    if control == LiveControl.FORCE_COMPLETE and not state.forced:
        log.info("live migration: force-complete: pausing the guest so the migration converges")
        await qmp.execute("stop")
        state.forced = True


def _job_event(qmp: QMPClient, job: str, names: tuple[str, ...]) -> dict[str, Any] | None:
    for event in qmp.events():
        if event.get("event") in names and event.get("data", {}).get("device") == job:
            return event
    return None


async def _mirror(
    qmp: QMPClient, job: str, target: IncomingGuest, progress: ProgressCallback, state: _State
) -> None:
    await qmp.execute(
        "drive-mirror",
        {
            "device": EXPORT,
            "job-id": job,
            "target": target.disk_uri,
            "format": "raw",
            "sync": "top",
            "mode": "existing",
        },
    )
    while True:
        ended = _job_event(qmp, job, ("BLOCK_JOB_COMPLETED", "BLOCK_JOB_CANCELLED"))
        if ended is not None:
            raise DriverError(
                f"copying the disk failed: {ended['data'].get('error', 'the job ended early')}"
            )
        for job_info in await qmp.execute("query-block-jobs"):
            if job_info.get("device") == job:
                state.disk = (int(job_info.get("len", 0)), int(job_info.get("offset", 0)))
                if job_info.get("ready"):
                    return
        await _report(qmp, progress, state, LiveProgress("disk", **_disk_fields(state)))
        state.check_time()
        with contextlib.suppress(QMPError):  # READY (or an error) ends the wait early
            await qmp.wait_event("BLOCK_JOB_READY", POLL * 5)


async def _migrate(
    qmp: QMPClient, target: IncomingGuest, progress: ProgressCallback, state: _State
) -> dict[str, Any]:
    await qmp.execute(
        "migrate-set-parameters",
        {"max-bandwidth": MAX_BANDWIDTH, "downtime-limit": DOWNTIME_LIMIT_MS},
    )
    await qmp.execute("migrate", {"uri": target.memory_uri})
    state.migrating = True
    while True:
        info = await qmp.execute("query-migrate")
        status = info.get("status")
        ram = info.get("ram", {})
        report = LiveProgress(
            "completed" if status == "completed" else "memory",
            memory_total=ram.get("total"),
            memory_processed=ram.get("transferred"),
            memory_remaining=ram.get("remaining"),
            **_disk_fields(state),
        )
        if status == "completed":
            state.last = report
            return dict(info)
        if status in ("failed", "cancelled"):
            raise DriverError(f"migration {status}: {info.get('error-desc', 'no reason given')}")
        await _report(qmp, progress, state, report)
        state.check_time()
        await asyncio.sleep(POLL)


async def _undo(qmp: QMPClient, job: str, state: _State) -> None:
    """Leave the source as it was: no migration, no mirror, the guest running."""
    with contextlib.suppress(QMPError):
        if state.migrating:
            await qmp.execute("migrate_cancel")
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                status = (await qmp.execute("query-migrate")).get("status")
                if status in ("cancelled", "failed", "completed", None):
                    break
                await asyncio.sleep(POLL)
    await _cancel_mirror(qmp, job, force=True)
    with contextlib.suppress(QMPError):
        status = (await qmp.execute("query-status")).get("status")
        if state.was_running and status != "running":
            await qmp.execute("cont")


async def _cancel_mirror(qmp: QMPClient, job: str, force: bool = False) -> None:
    """End the mirror job.  After a completed migration (not forced) it
    finishes its last writes to the destination first."""
    with contextlib.suppress(QMPError):
        jobs = [j.get("device") for j in await qmp.execute("query-block-jobs")]
        if job not in jobs:
            return
        await qmp.execute("block-job-cancel", {"device": job, "force": force})
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            jobs = [j.get("device") for j in await qmp.execute("query-block-jobs")]
            if job not in jobs:
                return
            await asyncio.sleep(POLL)


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
