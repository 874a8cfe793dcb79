"""The agent's part in live migrations: the source side and the destination
side, each run by the agent of its host, meeting only in the database
(``service/live.py`` describes the shared state).

1. The API records a ``compute_migration`` row (``preparing``) and the
   server's task ``migrating``, and wakes both agents (in-process ones at
   once; agents of their own process find the row at their next poll).
2. Destination: fetches the base image if its cache lacks it, writes the
   config drive, and has its driver prepare an incoming guest; publishes
   where it listens (and the guest's new forwarded port) in the server's
   ``system_metadata``.
3. Source: waits for that, marks the migration ``running`` and has its
   driver migrate, recording progress in the row every half second and
   passing on abort and force-complete requests.  On success it moves the
   server to the destination host (``completed``) and deletes its own files;
   on failure or abort the guest keeps running here (``error`` /
   ``cancelled``).
4. Destination: on ``completed`` it takes the guest over (stops exporting the
   disk, makes sure the guest runs); on ``error`` / ``cancelled`` it throws
   its side away.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import or_, select

from stratus.common.db import utcnow
from stratus.compute import models as m
from stratus.compute.drivers.base import Capability, GuestSpec, PortForward
from stratus.compute.drivers.live import (
    IncomingGuest,
    LiveControl,
    LiveMigrationDriver,
    LiveProgress,
)
from stratus.compute.service import live as shared

if TYPE_CHECKING:
    from stratus.compute.agent.agent import ComputeAgent

log = logging.getLogger(__name__)

POLL = 0.5  # how often an agent looks for live migrations involving its host
WAIT_POLL = 0.1  # how often a side waiting for the other reads the rows
PROGRESS_INTERVAL = 0.5  # how often the source records progress (and reads requests)
PREPARE_TIMEOUT = 180.0  # the destination must be ready within this


class LiveMigrations:
    def __init__(self, agent: ComputeAgent) -> None:
        self.agent = agent
        self.db = agent.db
        self.host = agent.host
        self.wakeup = asyncio.Event()
        self.tasks: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._servers: dict[str, str] = {}  # migration uuid -> server id
        self._task: asyncio.Task[None] | None = None

    @property
    def driver(self) -> LiveMigrationDriver | None:
        driver = self.agent.driver
        if Capability.LIVE_MIGRATION not in driver.capabilities:
            return None
        if not isinstance(driver, LiveMigrationDriver):
            return None
        return driver

    def wake(self) -> None:
        self.wakeup.set()

    def incoming(self) -> set[str]:
        """Servers whose guest is arriving here: not yet this host's, not strays."""
        return {self._servers.get(key[0], "") for key in self.tasks if key[1] == "dest"}

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"live-migrations-{self.host}")

    async def stop(self) -> None:
        tasks = [t for t in [self._task, *self.tasks.values()] if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wakeup.wait(), POLL)
            self.wakeup.clear()
            try:
                await self.dispatch()
            except Exception:
                log.exception("compute: live migration dispatch on %s failed; retrying", self.host)

    async def dispatch(self) -> None:
        async with self.db.session() as s:
            rows = (
                await s.scalars(
                    select(m.Migration).where(
                        m.Migration.migration_type == shared.TYPE,
                        m.Migration.status.in_(shared.IN_PROGRESS),
                        or_(
                            m.Migration.source_compute == self.host,
                            m.Migration.dest_compute == self.host,
                        ),
                    )
                )
            ).all()
        for row in rows:
            roles = []
            if row.source_compute == self.host:
                roles.append(("source", self._source))
            if row.dest_compute == self.host:
                roles.append(("dest", self._dest))
            for role, work in roles:
                key = (row.uuid, role)
                if key in self.tasks:
                    continue
                self._servers[row.uuid] = row.server_id
                fresh = row.status in ("queued", "preparing")
                task = asyncio.create_task(
                    self._guard(key, work(row.uuid, fresh)), name=f"live-{role}-{row.uuid}"
                )
                self.tasks[key] = task

    async def _guard(self, key: tuple[str, str], work: Any) -> None:
        try:
            await work
        except Exception:
            log.exception("compute: live migration %s (%s side) failed", key[0], key[1])
        finally:
            self.tasks.pop(key, None)
            if not any(k[0] == key[0] for k in self.tasks):
                self._servers.pop(key[0], None)

    # -- reading the shared rows -------------------------------------------------------

    async def _load(self, migration_uuid: str) -> tuple[m.Migration | None, m.Server | None]:
        async with self.db.session() as s:
            row = await s.scalar(select(m.Migration).where(m.Migration.uuid == migration_uuid))
            server = await s.get(m.Server, row.server_id) if row is not None else None
        return row, server

    @staticmethod
    def _state(server: m.Server | None) -> dict[str, Any]:
        if server is None:
            return {}
        return dict((server.system_metadata or {}).get(shared.KEY) or {})

    async def _spec(self, server: m.Server, host_port: int | None) -> GuestSpec:
        spec = await self.agent.spec(server)
        forwards: tuple[PortForward, ...] = ()
        if server.networks != "none" and host_port:
            forwards = (PortForward(host_port, 22),)
        return dataclasses.replace(spec, forwards=forwards, metadata=dict(server.metadata_))

    # -- source --------------------------------------------------------------------------

    async def _source(self, migration_uuid: str, fresh: bool) -> None:
        row, server = await self._load(migration_uuid)
        if row is None:
            return
        if server is None or server.deleted_at is not None or server.host != self.host:
            await shared.set_status(self.db, row.uuid, "error", only_from=shared.IN_PROGRESS)
            return
        driver = self.driver
        if driver is None:
            await self._fail(row, server, f"the driver of host {self.host} cannot live-migrate")
            return
        if not fresh:
            await self._recover(row, server, driver)
            return
        incoming = await self._wait_for_destination(row.uuid)
        if incoming is None:
            return
        if not await shared.set_status(self.db, row.uuid, "running", only_from=("preparing",)):
            return
        row, server = await self._load(migration_uuid)
        assert row is not None and server is not None
        spec = await self._spec(server, server.host_port)
        log.info(
            "compute: server %s: live migration %s to %s started",
            server.id,
            row.id,
            row.dest_compute,
        )
        reporter = _Reporter(self, row.uuid, server.id)
        try:
            result = await driver.live_migrate(spec, incoming, reporter.progress)
        except Exception as exc:
            await self._fail(row, server, str(exc) or type(exc).__name__)
            return
        values = _progress_values(result.progress)
        if not result.completed:
            await shared.set_status(
                self.db, row.uuid, "cancelled", only_from=("running",), **values
            )
            await self._ended(
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
        state = self._state(server)
        await shared.set_status(self.db, row.uuid, "completed", only_from=("running",), **values)
        await shared.record_event(
            self.db,
            server.id,
            shared.ACTION,
            "compute_live_migration",
            self.host,
            "Success",
            details,
            finish=True,
        )
        host_port = state.get("host_port", server.host_port)
        await shared.release(
            self.db, server.id, row.uuid, host=row.dest_compute, host_port=host_port, progress=100
        )
        log.info(
            "compute: server %s now runs on host %s (live migration %s: %s)",
            server.id,
            row.dest_compute,
            row.id,
            details,
        )
        self.agent.wake()
        try:
            await driver.finish_outgoing(server.id, self.agent.directory(server))
        except Exception as exc:
            log.warning("compute: server %s: cleaning up after it left failed: %s", server.id, exc)

    async def _recover(
        self, row: m.Migration, server: m.Server, driver: LiveMigrationDriver
    ) -> None:
        """This agent restarted while the migration ran: qemu went on alone.
        Finish the bookkeeping if it completed, else cancel what is left."""
        try:
            spec = await self._spec(server, server.host_port)
            completed = await driver.recover_outgoing(spec)
        except Exception as exc:
            await self._fail(row, server, f"interrupted by a restart of the source agent: {exc}")
            return
        if completed:
            await self._complete(
                row, server, driver, {}, "completed while the source agent restarted"
            )
        else:
            await self._fail(
                row, server, "the live migration was interrupted by a restart of the source agent"
            )

    async def _wait_for_destination(self, migration_uuid: str) -> IncomingGuest | None:
        deadline = time.monotonic() + PREPARE_TIMEOUT
        failed_at: float | None = None
        while True:
            row, server = await self._load(migration_uuid)
            if row is None or server is None:
                return None
            state = self._state(server)
            if row.status not in ("queued", "preparing"):
                # The destination failed (error): it records why and releases
                # the server; this side does it only if that does not happen.
                failed_at = failed_at or time.monotonic()
                if server.task_state != shared.TASK or time.monotonic() - failed_at > 5:
                    await shared.release(self.db, server.id, row.uuid)
                    return None
                await asyncio.sleep(WAIT_POLL)
                continue
            if state.get("abort"):
                if await shared.set_status(
                    self.db, row.uuid, "cancelled", only_from=("queued", "preparing")
                ):
                    await self._ended(
                        row, server, "the live migration was aborted on request before it started"
                    )
                return None
            if state.get("migration") == row.uuid and state.get("incoming"):
                return IncomingGuest.from_dict(state["incoming"])
            if time.monotonic() > deadline:
                await self._fail(
                    row,
                    server,
                    f"the destination host {row.dest_compute} was not ready within "
                    f"{PREPARE_TIMEOUT:g} s",
                )
                return None
            await asyncio.sleep(WAIT_POLL)

    async def _fail(
        self,
        row: m.Migration,
        server: m.Server,
        message: str,
        event: str = "compute_live_migration",
    ) -> None:
        log.warning(
            "compute: server %s: live migration %s to %s failed on %s: %s",
            server.id,
            row.id,
            row.dest_compute,
            self.host,
            message,
        )
        await shared.set_status(self.db, row.uuid, "error", only_from=shared.IN_PROGRESS)
        await self._ended(row, server, message, event)

    async def _ended(
        self,
        row: m.Migration,
        server: m.Server,
        message: str,
        event: str = "compute_live_migration",
    ) -> None:
        """The migration ended without moving the server: an Error event says
        why, and the server is released on its host."""
        await shared.record_event(
            self.db, server.id, shared.ACTION, event, self.host, "Error", message, finish=True
        )
        await shared.release(self.db, server.id, row.uuid)

    # -- destination ------------------------------------------------------------------------

    async def _dest(self, migration_uuid: str, fresh: bool) -> None:
        row, server = await self._load(migration_uuid)
        if row is None or server is None:
            return
        driver = self.driver
        state = self._state(server)
        prepared = state.get("migration") == row.uuid and state.get("incoming")
        if not prepared:
            if row.status not in ("queued", "preparing") or driver is None:
                return
            try:
                await self._prepare(server, driver, row)
            except Exception as exc:
                message = str(exc) or type(exc).__name__
                await self._fail(row, server, message, "compute_pre_live_migration")
                await self._discard(server)
                return
        # Wait for the source to finish, one way or the other.
        while True:
            row, _ = await self._load(migration_uuid)
            if row is None or row.status in ("error", "cancelled", "failed"):
                await self._discard(server)
                return
            if row.status == "completed":
                break
            await asyncio.sleep(WAIT_POLL)
        await self._take_over(migration_uuid)

    async def _prepare(
        self, server: m.Server, driver: LiveMigrationDriver, row: m.Migration
    ) -> None:
        from stratus.compute.agent.agent import free_port

        started = time.monotonic()
        self.agent.directory(server).mkdir(parents=True, exist_ok=True)
        host_port = free_port() if server.networks != "none" else None
        await self.agent._write_config_drive(server)
        spec = await self._spec(server, host_port)
        incoming = await driver.prepare_incoming(spec)
        await shared.update_shared(
            self.db,
            server.id,
            migration=row.uuid,
            incoming=incoming.to_dict(),
            host_port=host_port,
        )
        await shared.record_event(
            self.db,
            server.id,
            shared.ACTION,
            "compute_pre_live_migration",
            self.host,
            "Success",
        )
        log.info(
            "compute: server %s: host %s ready for live migration %s in %.2f s",
            server.id,
            self.host,
            row.id,
            time.monotonic() - started,
        )

    async def _discard(self, server: m.Server) -> None:
        driver = self.driver
        if driver is None:
            return
        with contextlib.suppress(Exception):
            await driver.abort_incoming(server.id, self.agent.directory(server))

    async def _take_over(self, migration_uuid: str) -> None:
        from stratus.compute.agent.agent import POWER

        row, server = await self._load(migration_uuid)
        driver = self.driver
        if row is None or server is None or driver is None:
            return
        if server.deleted_at is not None:  # deleted while it moved
            await self._discard(server)
            return
        try:
            spec = await self._spec(server, server.host_port)
            status = await driver.finish_incoming(spec, running=server.vm_state == m.ACTIVE)
        except Exception as exc:
            message = str(exc) or type(exc).__name__
            log.warning(
                "compute: server %s: taking over after live migration failed: %s",
                server.id,
                message,
            )
            await shared.record_event(
                self.db,
                server.id,
                shared.ACTION,
                "compute_post_live_migration_at_destination",
                self.host,
                "Error",
                message,
            )
            return
        async with self.db.transaction() as s:
            current = await s.get(m.Server, server.id)
            if current is not None and current.host == self.host:
                current.power_state = POWER[status.power]
                current.updated_at = utcnow()
        await shared.record_event(
            self.db,
            server.id,
            shared.ACTION,
            "compute_post_live_migration_at_destination",
            self.host,
            "Success",
        )
        self.agent.wake()


class _Reporter:
    """The source's progress callback: records progress in the migration row
    and reads the API's requests (abort, force-complete), both at most every
    PROGRESS_INTERVAL seconds; answers the driver at every call."""

    def __init__(self, live: LiveMigrations, migration_uuid: str, server_id: str) -> None:
        self.live = live
        self.migration_uuid = migration_uuid
        self.server_id = server_id
        self.last = 0.0
        self.control = LiveControl.CONTINUE

    async def progress(self, report: LiveProgress) -> LiveControl:
        now = time.monotonic()
        if now - self.last < PROGRESS_INTERVAL:
            return self.control
        self.last = now
        db = self.live.db
        await shared.set_status(
            db,
            self.migration_uuid,
            "running",
            only_from=("running",),
            **_progress_values(report),
        )
        await shared.set_progress(
            db,
            self.server_id,
            shared.percent(
                report.phase,
                (report.disk_processed, report.disk_total),
                (report.memory_processed, report.memory_total),
            ),
        )
        async with db.session() as s:
            state = await shared.shared_state(s, self.server_id)
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
