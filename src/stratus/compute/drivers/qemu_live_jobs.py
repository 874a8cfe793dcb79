"""The source side's QMP jobs of a QEMU live migration (``qemu_live.py``
orders them): the disk's ``drive-mirror`` into the destination's NBD export
until READY, the memory's ``migrate`` polled for progress, and the undo that
leaves the source as it was (no migration, no mirror, the guest running)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from stratus.compute.drivers.base import DriverError
from stratus.compute.drivers.live import (
    IncomingGuest,
    LiveControl,
    LiveProgress,
    ProgressCallback,
)
from stratus.compute.drivers.qemu_guest import MIGRATE_TIMEOUT
from stratus.compute.drivers.qmp import QMPClient, QMPError

log = logging.getLogger(__name__)

EXPORT = "disk0"  # the NBD export name: the guest's disk drive id
MAX_BANDWIDTH = 8 * 2**30  # bytes/s: qemu's default cap (32 MiB/s) would take seconds
DOWNTIME_LIMIT_MS = 100
POLL = 0.02  # query-migrate / query-block-jobs are cheap; a coarser poll adds to the total


class Aborted(Exception):
    """The caller asked (through its progress callback) to abort."""


class MigrationState:
    """What one outgoing live migration has done so far."""

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


def _disk_fields(state: MigrationState) -> dict[str, int]:
    if state.disk is None:
        return {}
    total, done = state.disk
    return {"disk_total": total, "disk_processed": done, "disk_remaining": max(total - done, 0)}


async def _report(
    qmp: QMPClient, progress: ProgressCallback, state: MigrationState, report: LiveProgress
) -> None:
    state.last = report
    control = await progress(report)
    if control == LiveControl.ABORT:
        raise Aborted()
    if control == LiveControl.FORCE_COMPLETE and not state.forced:
        log.info("live migration: force-complete: pausing the guest so the migration converges")
        await qmp.execute("stop")
        state.forced = True


def _job_event(qmp: QMPClient, job: str, names: tuple[str, ...]) -> dict[str, Any] | None:
    for event in qmp.events():
        if event.get("event") in names and event.get("data", {}).get("device") == job:
            return event
    return None


async def mirror(
    qmp: QMPClient,
    job: str,
    target: IncomingGuest,
    progress: ProgressCallback,
    state: MigrationState,
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


async def migrate(
    qmp: QMPClient, target: IncomingGuest, progress: ProgressCallback, state: MigrationState
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


async def undo(qmp: QMPClient, job: str, state: MigrationState) -> None:
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
    await cancel_mirror(qmp, job, force=True)
    with contextlib.suppress(QMPError):
        status = (await qmp.execute("query-status")).get("status")
        if state.was_running and status != "running":
            await qmp.execute("cont")


async def cancel_mirror(qmp: QMPClient, job: str, force: bool = False) -> None:
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
