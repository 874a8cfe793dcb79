"""What both sides of a live migration share (``LiveSide``), and the
destination's side: prepare an incoming guest, wait for the source, take
the guest over (or throw it away).  ``live.py`` runs the sides."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from stratus.compute import models as m
from stratus.compute.agent.guests import forwards, power_state
from stratus.compute.agent.recorder import free_port
from stratus.compute.agent.volume_moves import VolumeMoves
from stratus.compute.agent.workflow import AgentParts
from stratus.compute.drivers.base import Capability, GuestSpec
from stratus.compute.drivers.live import LiveMigrationDriver
from stratus.compute.service import live as shared

log = logging.getLogger(__name__)

WAIT_POLL = 0.1  # how often a side waiting for the other reads the rows


class LiveSide:
    def __init__(self, parts: AgentParts) -> None:
        self.parts = parts
        self.host = parts.host
        self.records = parts.recorder.live
        self.guests = parts.guests
        self.volumes: VolumeMoves | None = None  # set by the agent (None: no block storage)

    @property
    def driver(self) -> LiveMigrationDriver | None:
        driver = self.parts.driver
        if Capability.LIVE_MIGRATION not in driver.capabilities:
            return None
        if not isinstance(driver, LiveMigrationDriver):
            return None
        return driver

    # -- reading the shared rows -------------------------------------------------------

    @staticmethod
    def state(server: m.Server | None) -> dict[str, Any]:
        if server is None:
            return {}
        return dict((server.system_metadata or {}).get(shared.KEY) or {})

    async def spec(self, server: m.Server, host_port: int | None) -> GuestSpec:
        # The guest runs at the source meanwhile: no wait for its ports'
        # network-vif-plugged here (they are bound to this host already).
        return await self.guests.spec(
            server,
            wait_plugged=False,
            forwards=forwards(server, host_port),
            metadata=dict(server.metadata_),
        )

    async def fail(
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
        await self.records.set_status(row.uuid, "error", only_from=shared.IN_PROGRESS)
        await self.ended(row, server, message, event)

    async def ended(
        self,
        row: m.Migration,
        server: m.Server,
        message: str,
        event: str = "compute_live_migration",
    ) -> None:
        """The migration ended without moving the server: an Error event says
        why, and the server is released on its host."""
        await self.records.event(server.id, event, "Error", message, finish=True)
        await self.volumes_back(server)
        await self.records.release(server.id, row.uuid)

    async def volumes_back(self, server: m.Server) -> None:
        """The guest stays on the source: the destination's attachments go,
        the rows name the source's again (either side may do it, both
        may: it is idempotent)."""
        if self.volumes is None:
            return
        try:
            await self.volumes.back_to_old(server)
        except Exception as exc:  # done again at the next start of either agent
            log.warning("compute: server %s: releasing the destination's volumes failed: %s",
                        server.id, exc)  # fmt: skip


class Destination(LiveSide):
    async def run(self, migration_uuid: str, fresh: bool) -> None:
        row, server = await self.records.load(migration_uuid)
        if row is None or server is None:
            return
        driver = self.driver
        state = self.state(server)
        prepared = state.get("migration") == row.uuid and state.get("incoming")
        if not prepared:
            if row.status not in ("queued", "preparing") or driver is None:
                return
            try:
                await self._prepare(server, driver, row)
            except Exception as exc:
                message = str(exc) or type(exc).__name__
                await self.fail(row, server, message, "compute_pre_live_migration")
                await self._discard(server, migration_uuid)
                return
        # Wait for the source to finish, one way or the other.
        while True:
            row, now = await self.records.load(migration_uuid)
            if row is None or row.status in ("error", "cancelled", "failed"):
                await self._discard(now or server, migration_uuid)
                return
            if row.status == "completed":
                break
            await asyncio.sleep(WAIT_POLL)
        await self._take_over(migration_uuid)

    async def _prepare(
        self, server: m.Server, driver: LiveMigrationDriver, row: m.Migration
    ) -> None:
        started = time.monotonic()
        host_port = free_port() if server.networks != "none" else None
        if self.volumes is not None:
            # A Cinder attachment of this host's for each volume (an NBD
            # export when this host cannot open the volume's file): the
            # incoming guest starts with the volumes, as the source has them.
            # A driver with file locks (QEMU) keeps a volume on NBD that the
            # source reaches over NBD (``_check_handoff``).
            locks = not getattr(driver, "MIXED_VOLUME_HANDOFF", False)
            await self.volumes.connect_here(server, keep_nbd=locks)
            await self._check_handoff(server, driver)
        await self.guests.prepare(server, wait_plugged=False)
        spec = await self.spec(server, host_port)
        incoming = await driver.prepare_incoming(spec)
        await self.records.publish(
            server.id, migration=row.uuid, incoming=incoming.to_dict(), host_port=host_port
        )
        await self.records.event(server.id, "compute_pre_live_migration", "Success")
        log.info(
            "compute: server %s: host %s ready for live migration %s in %.2f s",
            server.id,
            self.host,
            row.id,
            time.monotonic() - started,
        )

    async def _check_handoff(self, server: m.Server, driver: LiveMigrationDriver) -> None:
        """QEMU hands a volume over live when both sides reach it the same
        way (two QEMUs on one file pass its lock at the switch-over, two NBD
        clients share the volume host's one export) or when a file is
        handed to a protocol export (the file's bytes, the format run here);
        anything else collides on the file's lock (an export of the format
        cannot open a file a running guest holds).  A source on NBD gets
        NBD here too (``connect_here``)."""
        assert self.volumes is not None
        if getattr(driver, "MIXED_VOLUME_HANDOFF", False):
            return
        mixed = await self.volumes.changed_kind(server)
        if mixed:
            raise RuntimeError(
                f"volume {mixed[0]} is reached as a file on one host and over a network export "
                f"on the other ({self.host}): it cannot be handed over live; cold migrate the "
                "server instead"
            )

    async def _discard(self, server: m.Server, migration_uuid: str) -> None:
        driver = self.driver
        if driver is None:
            return
        with contextlib.suppress(Exception):
            await driver.abort_incoming(server.id, self.guests.directory(server))
        if self.state(server).get("migration") not in (None, migration_uuid):
            # The source ended this one (its volumes back already) and a
            # newer migration of the server began: its attachments stay.
            return
        if server.deleted_at is None:  # a deleted server's are released with it
            await self.volumes_back(server)

    async def _take_over(self, migration_uuid: str) -> None:
        row, server = await self.records.load(migration_uuid)
        driver = self.driver
        if row is None or server is None or driver is None:
            return
        if server.deleted_at is not None:  # deleted while it moved
            await self._discard(server, migration_uuid)
            return
        try:
            spec = await self.spec(server, server.host_port)
            status = await driver.finish_incoming(spec, running=server.vm_state == m.ACTIVE)
        except Exception as exc:
            message = str(exc) or type(exc).__name__
            log.warning(
                "compute: server %s: taking over after live migration failed: %s",
                server.id,
                message,
            )
            await self.records.event(
                server.id, "compute_post_live_migration_at_destination", "Error", message
            )
            return
        await self.records.set_power(server.id, power_state(status))
        await self.records.event(server.id, "compute_post_live_migration_at_destination", "Success")
        self.parts.wake()
