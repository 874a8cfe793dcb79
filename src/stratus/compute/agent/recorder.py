"""The compute agent's one door to the database: every query and write of
the agent and its workflows, so that they hold no SQL.

Outcomes are written with compare-and-swap on the server's ``generation``:
a newer request (a delete, say) that came while the agent worked wins, and
the outcome of the older one is dropped.  ``succeed`` and ``fail`` write a
step's outcome and its instance-action event (``server event show``) in one
transaction.  The live migration's shared rows are in ``LiveRecords``, the
volume attachments the agent finishes in ``VolumeRecords``.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.db import Database, utcnow
from stratus.compute import models as m
from stratus.compute.drivers.base import HostInfo
from stratus.compute.service import live as shared
from stratus.compute.service.actions import FINISHED, Actions, add_agent_event
from stratus.compute.service.aggregates import zone_of

# an attachment row in one of these states waits for the agent
VOLUME_WORK = (m.VOL_ATTACHING, m.VOL_DETACHING, m.VOL_EXTENDING, m.VOL_SWAPPING)


class ServerChanged(Exception):
    """A newer request changed the server while a step ran: the step stops."""


def event_name(task_state: str) -> str:
    """The instance-action event of a task (``compute_<task>``, Nova's style)."""
    return f"compute_{task_state.replace('-', '_')}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fault(message: str) -> dict[str, Any]:
    """A server's fault as Nova shows it."""
    return {
        "code": 500,
        "message": message[:255],
        "details": message,
        "created": utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


class Recorder:
    def __init__(self, db: Database, host: str) -> None:
        self.db = db
        self.host = host
        self.live = LiveRecords(db, host)
        self.volumes = VolumeRecords(db, host)

    # -- this host ------------------------------------------------------------------------

    async def register(
        self, info: HostInfo, driver: str, capabilities: Sequence[str], url: str | None, zone: str
    ) -> None:
        async with self.db.transaction() as s:
            row = await s.scalar(select(m.ComputeHost).where(m.ComputeHost.host == self.host))
            if row is None:
                row = m.ComputeHost(host=self.host, availability_zone=zone)
                s.add(row)
            row.hypervisor_type = info.hypervisor_type
            row.hypervisor_version = info.hypervisor_version
            row.driver = driver
            row.capabilities = sorted(capabilities)
            row.accelerator = info.accelerator
            row.vcpus, row.memory_mb, row.local_gb = info.vcpus, info.memory_mb, info.disk_gb
            row.cpu_info = info.cpu_info
            row.agent_url = url
            row.heartbeat = utcnow()

    async def request_id(self, server_id: str) -> str | None:
        """The id of the request behind the server's newest action (recorded
        by the API with the task): the agent's log lines for the work carry it."""
        return await Actions(self.db).request_id(server_id)

    async def heartbeat(self) -> None:
        async with self.db.transaction() as s:
            await s.execute(
                update(m.ComputeHost)
                .where(m.ComputeHost.host == self.host)
                .values(heartbeat=utcnow())
            )

    async def agent_url(self, host: str) -> str | None:
        """Where another host's agent channel listens (None: no agent)."""
        async with self.db.session() as s:
            url = await s.scalar(select(m.ComputeHost.agent_url).where(m.ComputeHost.host == host))
        return str(url) if url else None

    # -- servers ------------------------------------------------------------------------

    async def pending(self) -> list[tuple[str, str]]:
        """(server id, task state) of this host's servers with a task."""
        async with self.db.session() as s:
            rows = await s.execute(
                select(m.Server.id, m.Server.task_state).where(
                    m.Server.host == self.host,
                    m.Server.deleted_at.is_(None),
                    m.Server.task_state.is_not(None),
                )
            )
            return [(str(i), str(t)) for i, t in rows.all()]

    async def load(self, server_id: str) -> m.Server | None:
        async with self.db.session() as s:
            return await s.get(m.Server, server_id)

    async def servers(self) -> list[m.Server]:
        """This host's servers (not deleted)."""
        async with self.db.session() as s:
            stmt = select(m.Server).where(m.Server.host == self.host, m.Server.deleted_at.is_(None))
            return list((await s.scalars(stmt)).all())

    async def live_ids(self, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` are servers not deleted (on any host)."""
        if not ids:
            return set()
        async with self.db.session() as s:
            stmt = select(m.Server.id).where(
                m.Server.id.in_(list(ids)), m.Server.deleted_at.is_(None)
            )
            return {str(i) for i in (await s.scalars(stmt)).all()}

    @staticmethod
    async def _swap(s: AsyncSession, server: m.Server, values: dict[str, Any]) -> bool:
        if values.get("host") and "availability_zone" not in values:
            values = {**values, "availability_zone": zone_of(values["host"])}  # a move
        result = await s.execute(
            update(m.Server)
            .where(m.Server.id == server.id, m.Server.generation == server.generation)
            .values(updated_at=utcnow(), **values)
        )
        return bool(getattr(result, "rowcount", 0))

    async def finish(self, server: m.Server, **values: Any) -> bool:
        """Record an outcome (the task cleared unless ``task_state`` is given)
        unless a newer request came meanwhile; whether it was recorded."""
        values.setdefault("task_state", None)
        async with self.db.transaction() as s:
            done = await self._swap(s, server, values)
        FINISHED.ring(server.id)
        return done

    async def succeed(self, server: m.Server, **values: Any) -> bool:
        """``finish`` and the Success event of the server's task (the task it
        had when loaded), in one transaction."""
        values.setdefault("task_state", None)
        task = str(server.task_state)
        async with self.db.transaction() as s:
            done = await self._swap(s, server, values)
            await add_agent_event(s, server.id, event_name(task), self.host, "Success", None)
        FINISHED.ring(server.id)
        return done

    async def fail(self, server: m.Server, message: str, **values: Any) -> None:
        """A step failed: the fault (and ``values``) on the server, the task
        cleared unless given, and the Error event, in one transaction."""
        values.setdefault("task_state", None)
        task = str(server.task_state)
        async with self.db.transaction() as s:
            await self._swap(s, server, {**values, "fault": fault(message)})
            await add_agent_event(s, server.id, event_name(task), self.host, "Error", message)
        FINISHED.ring(server.id)

    async def step(self, server: m.Server, task_state: str | None, **values: Any) -> None:
        """Record progress (a task state, no new generation), or raise
        ``ServerChanged`` when a newer request came."""
        async with self.db.transaction() as s:
            if not await self._swap(s, server, {"task_state": task_state, **values}):
                raise ServerChanged(
                    f"server {server.id} changed meanwhile; its {task_state} step stops"
                )

    async def reserve_port(self, server: m.Server) -> None:
        """Give a networked server a forwarded SSH port on this host before it
        first boots (kept, so a guest that outlived a crash keeps its port)."""
        if server.host_port is not None or server.networks == "none":
            return
        server.host_port = free_port()
        async with self.db.transaction() as s:
            await s.execute(
                update(m.Server).where(m.Server.id == server.id).values(host_port=server.host_port)
            )

    # -- moves ------------------------------------------------------------------------------

    async def set_migration(self, migration_id: int, status: str) -> None:
        async with self.db.transaction() as s:
            await s.execute(
                update(m.Migration)
                .where(m.Migration.id == migration_id)
                .values(status=status, updated_at=utcnow())
            )

    async def evacuated(self) -> list[tuple[int, str, str | None]]:
        """(migration id, server id, its host now) of evacuations from this
        host that are done but not completed (this host's copy remains)."""
        async with self.db.session() as s:
            rows = await s.execute(
                select(m.Migration.id, m.Migration.server_id, m.Server.host)
                .join(m.Server, m.Server.id == m.Migration.server_id)
                .where(
                    m.Migration.migration_type == "evacuation",
                    m.Migration.source_compute == self.host,
                    m.Migration.status == "done",
                )
            )
            return [(int(i), str(sid), h) for i, sid, h in rows.all()]


class LiveRecords:
    """The rows two agents share during a live migration (``service/live.py``
    describes them): the migration row, and the server's shared state."""

    def __init__(self, db: Database, host: str) -> None:
        self.db = db
        self.host = host

    async def in_progress(self) -> list[m.Migration]:
        """Live migrations under way with this host as source or destination."""
        async with self.db.session() as s:
            stmt = select(m.Migration).where(
                m.Migration.migration_type == shared.TYPE,
                m.Migration.status.in_(shared.IN_PROGRESS),
                or_(
                    m.Migration.source_compute == self.host,
                    m.Migration.dest_compute == self.host,
                ),
            )
            return list((await s.scalars(stmt)).all())

    async def ended_with_volumes(self) -> list[tuple[m.Migration, m.Server]]:
        """Servers with volumes whose latest migration is a live migration
        of this host's that has ended (and no task since), with it."""
        latest = (
            select(m.Migration.server_id, func.max(m.Migration.id).label("id"))
            .group_by(m.Migration.server_id)
            .subquery()
        )
        stmt = (
            select(m.Migration, m.Server)
            .join(latest, m.Migration.id == latest.c.id)
            .join(m.Server, m.Server.id == m.Migration.server_id)
            .where(
                m.Migration.migration_type == shared.TYPE,
                m.Migration.status.not_in(shared.IN_PROGRESS),
                or_(m.Migration.source_compute == self.host, m.Migration.dest_compute == self.host),
                m.Server.deleted_at.is_(None),
                m.Server.task_state.is_(None),
                m.Server.id.in_(select(m.VolumeAttachment.server_id)),
            )
        )
        async with self.db.session() as s:
            return [(row, server) for row, server in (await s.execute(stmt)).all()]

    async def load(self, migration_uuid: str) -> tuple[m.Migration | None, m.Server | None]:
        async with self.db.session() as s:
            row = await s.scalar(select(m.Migration).where(m.Migration.uuid == migration_uuid))
            server = await s.get(m.Server, row.server_id) if row is not None else None
        return row, server

    async def state(self, server_id: str) -> dict[str, Any]:
        async with self.db.session() as s:
            return await shared.shared_state(s, server_id)

    async def publish(self, server_id: str, **changes: Any) -> None:
        await shared.update_shared(self.db, server_id, **changes)

    async def set_status(
        self, migration_uuid: str, status: str, *, only_from: tuple[str, ...], **values: Any
    ) -> bool:
        return await shared.set_status(
            self.db, migration_uuid, status, only_from=only_from, **values
        )

    async def set_progress(self, server_id: str, percent: int) -> None:
        await shared.set_progress(self.db, server_id, percent)

    async def release(self, server_id: str, migration_uuid: str, **values: Any) -> None:
        await shared.release(self.db, server_id, migration_uuid, **values)

    async def event(
        self,
        server_id: str,
        event: str,
        result: str,
        details: str | None = None,
        *,
        finish: bool = False,
    ) -> None:
        await shared.record_event(
            self.db, server_id, shared.ACTION, event, self.host, result, details, finish=finish
        )

    async def set_power(self, server_id: str, power: int) -> None:
        """The guest runs here now: its power state, if the server is ours."""
        async with self.db.transaction() as s:
            current = await s.get(m.Server, server_id)
            if current is not None and current.host == self.host:
                current.power_state = power
                current.updated_at = utcnow()


class VolumeRecords:
    """The volume work's door to the database."""

    def __init__(self, db: Database, host: str):
        self.db = db
        self.host = host

    async def pending(self) -> list[str]:
        async with self.db.session() as s:
            rows = await s.scalars(
                select(m.VolumeAttachment.server_id)
                .join(m.Server, m.Server.id == m.VolumeAttachment.server_id)
                .where(
                    m.Server.host == self.host,
                    m.Server.deleted_at.is_(None),
                    m.VolumeAttachment.status.in_(VOLUME_WORK),
                )
                .distinct()
            )
            return [str(r) for r in rows.all()]

    async def of_server(self, server_id: str) -> list[m.VolumeAttachment]:
        async with self.db.session() as s:
            rows = await s.scalars(
                select(m.VolumeAttachment)
                .where(m.VolumeAttachment.server_id == server_id)
                .order_by(m.VolumeAttachment.created_at, m.VolumeAttachment.device)
            )
            return list(rows.all())

    async def save(self, row_id: str, **values: Any) -> None:
        async with self.db.transaction() as s:
            row = await s.get(m.VolumeAttachment, row_id)
            if row is not None:
                for key, value in values.items():
                    setattr(row, key, value)

    async def save_if(self, row_id: str, expect: str, **values: Any) -> bool:
        """Update the row if its status is still ``expect`` (a detach asked
        meanwhile wins over the attach's last step)."""
        async with self.db.transaction() as s:
            done = await s.execute(
                update(m.VolumeAttachment)
                .where(m.VolumeAttachment.id == row_id, m.VolumeAttachment.status == expect)
                .values(**values)
            )
            return bool(getattr(done, "rowcount", 0))

    async def drop(self, row_id: str) -> None:
        async with self.db.transaction() as s:
            await s.execute(delete(m.VolumeAttachment).where(m.VolumeAttachment.id == row_id))

    async def replace(self, old_id: str | None, row_id: str, **values: Any) -> None:
        """Drop ``old_id`` (if any) and update ``row_id``, in one transaction."""
        async with self.db.transaction() as s:
            if old_id is not None:
                await s.execute(delete(m.VolumeAttachment).where(m.VolumeAttachment.id == old_id))
            row = await s.get(m.VolumeAttachment, row_id)
            if row is not None:
                for key, value in values.items():
                    setattr(row, key, value)

    async def event(self, server_id: str, event: str, result: str, details: str | None) -> None:
        async with self.db.transaction() as s:
            await add_agent_event(s, server_id, event, self.host, result, details)
