"""The source's side of a live migration: wait for the destination, have
the driver migrate while recording progress and passing on the API's
requests (abort, force-complete), and record the outcome; after a restart of
this agent, ask qemu how the migration ended.  ``live.py`` runs it."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import cast

from stratus.compute import models as m
from stratus.compute.agent.live_sides import WAIT_POLL, LiveSide
from stratus.compute.agent.recorder import LiveRecords
from stratus.compute.drivers.live import (
    IncomingGuest,
    LiveControl,
    LiveMigrationDriver,
    LiveProgress,
)
from stratus.compute.service import live as shared

log = logging.getLogger(__name__)

PROGRESS_INTERVAL = 0.5  # how often the source records progress (and reads requests)
PREPARE_TIMEOUT = 180.0  # the destination must be ready within this


class Source(LiveSide):
    async def run(self, migration_uuid: str, fresh: bool) -> None:
        row, server = await self.records.load(migration_uuid)
        if row is None:
            return
        if server is None or server.deleted_at is not None or server.host != self.host:
            await self.records.set_status(row.uuid, "error", only_from=shared.IN_PROGRESS)
            return
        driver = self.driver
        if driver is None:
            await self.fail(row, server, f"the driver of host {self.host} cannot live-migrate")
            return
        if not fresh:
            await self._recover(row, server, driver)
            return
        incoming = await self._wait_for_destination(row.uuid)
        if incoming is None:
            return
        if not await self.records.set_status(row.uuid, "running", only_from=("preparing",)):
            return
        row, server = await self.records.load(migration_uuid)
        assert row is not None and server is not None
        spec = await self.spec(server, server.host_port)
        log.info(
            "compute: server %s: live migration %s to %s started",
            server.id,
            row.id,
            row.dest_compute,
        )
        reporter = Reporter(self.records, row.uuid, server.id)
        try:
            result = await driver.live_migrate(spec, incoming, reporter.progress)
        except Exception as exc:
            await self.fail(row, server, str(exc) or type(exc).__name__)
            return
        values = _progress_values(result.progress)
        if not result.completed:
            await self.records.set_status(row.uuid, "cancelled", only_from=("running",), **values)
            await self.ended(
                row,
                server,
                "the live migration was aborted on request; the server stays on its host",
            )
            return
        await self._complete(
            row,
            server,
            driver,
            values,
            f"completed in {result.total_ms} ms, downtime {result.downtime_ms} ms",
        )

    async def _complete(
        self,
        row: m.Migration,
        server: m.Server,
        driver: LiveMigrationDriver,
        values: dict[str, int],
        details: str,
    ) -> None:
        """The guest runs on the destination: record the move, then end the
        stopped copy here."""
        state = self.state(server)
        await self.records.set_status(row.uuid, "completed", only_from=("running",), **values)
        await self.records.event(
            server.id, "compute_live_migration", "Success", details, finish=True
        )
        host_port = state.get("host_port", server.host_port)
        await self.records.release(
            server.id, row.uuid, host=row.dest_compute, host_port=host_port, progress=100
        )
        log.info(
            "compute: server %s now runs on host %s (live migration %s: %s)",
            server.id,
            row.dest_compute,
            row.id,
            details,
        )
        self.parts.wake()
        try:
            await driver.finish_outgoing(server.id, self.guests.directory(server))
        except Exception as exc:
            log.warning("compute: server %s: cleaning up after it left failed: %s", server.id, exc)
        if self.volumes is not None:  # the source's guest is gone: its attachments go
            try:
                await self.volumes.keep_new(server)
            except Exception as exc:  # done again at the next start of either agent
                log.warning("compute: server %s: releasing the source's volumes failed: %s",
                            server.id, exc)  # fmt: skip

    async def _recover(
        self, row: m.Migration, server: m.Server, driver: LiveMigrationDriver
    ) -> None:
        """This agent restarted while the migration ran: qemu went on alone.
        Finish the bookkeeping if it completed, else cancel what is left."""
        try:
            spec = await self.spec(server, server.host_port)
            completed = await driver.recover_outgoing(spec)
        except Exception as exc:
            await self.fail(row, server, f"interrupted by a restart of the source agent: {exc}")
            return
        if completed:
            await self._complete(
                row, server, driver, {}, "completed while the source agent restarted"
            )
        else:
            await self.fail(
                row, server, "the live migration was interrupted by a restart of the source agent"
            )

    async def _wait_for_destination(self, migration_uuid: str) -> IncomingGuest | None:
        deadline = time.monotonic() + PREPARE_TIMEOUT
        failed_at: float | None = None
        while True:
            row, server = await self.records.load(migration_uuid)
            if row is None or server is None:
                return None
            state = self.state(server)
            if row.status not in ("queued", "preparing"):
                # The destination failed (error): it records why and releases
                # the server; this side does it only if that does not happen.
                failed_at = failed_at or time.monotonic()
                if server.task_state != shared.TASK or time.monotonic() - failed_at > 5:
                    await self.records.release(server.id, row.uuid)
                    return None
                await asyncio.sleep(WAIT_POLL)
                continue
            if state.get("abort"):
                if await self.records.set_status(
                    row.uuid, "cancelled", only_from=("queued", "preparing")
                ):
                    await self.ended(
                        row, server, "the live migration was aborted on request before it started"
                    )
                return None
            if state.get("migration") == row.uuid and state.get("incoming"):
                return IncomingGuest.from_dict(state["incoming"])
            if time.monotonic() > deadline:
                await self.fail(
                    row,
                    server,
                    f"the destination host {row.dest_compute} was not ready within "
                    f"{PREPARE_TIMEOUT:g} s",
                )
                return None
            await asyncio.sleep(WAIT_POLL)


class Reporter:
    """The source's progress callback: records progress in the migration row
    and reads the API's requests (abort, force-complete), both at most every
    PROGRESS_INTERVAL seconds; answers the driver at every call."""

    def __init__(self, records: LiveRecords, migration_uuid: str, server_id: str) -> None:
        self.records = records
        self.migration_uuid = migration_uuid
        self.server_id = server_id
        self.last = 0.0
        self.control = LiveControl.CONTINUE

    async def progress(self, report: LiveProgress) -> LiveControl:
        now = time.monotonic()
        if now - self.last < PROGRESS_INTERVAL:
            return self.control
        self.last = now
        await self.records.set_status(
            self.migration_uuid, "running", only_from=("running",), **_progress_values(report)
        )
        await self.records.set_progress(
            self.server_id,
            shared.percent(
                report.phase,
                (report.disk_processed, report.disk_total),
                (report.memory_processed, report.memory_total),
            ),
        )
        state = await self.records.state(self.server_id)
        if state.get("abort"):
            self.control = LiveControl.ABORT
        elif state.get("force_complete"):
            self.control = LiveControl.FORCE_COMPLETE
        return self.control


def _progress_values(report: LiveProgress | None) -> dict[str, int]:
    if report is None:
        return {}
    fields = (
        "memory_total",
        "memory_processed",
        "memory_remaining",
        "disk_total",
        "disk_processed",
        "disk_remaining",
    )
    return {f: cast(int, getattr(report, f)) for f in fields if getattr(report, f) is not None}
