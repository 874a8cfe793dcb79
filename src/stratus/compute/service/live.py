"""Live migration: the API's side (os-migrateLive, abort, force-complete) and
the state the two agents share.

The source and destination agents never talk to each other: they meet in
the database.  The ``compute_migration`` row carries the status (preparing →
running → completed, or cancelled / error) and the progress; the server's
``system_metadata["live_migration"]`` carries what the destination publishes
for the source (where its disk export and incoming guest listen, the guest's
new forwarded port) and what the API asks of a running migration (abort,
force-complete).  Every change is a short transaction; agents poll these rows
every few tenths of a second while a migration of theirs is in flight.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.context import RequestContext
from stratus.common.db import Database, utcnow
from stratus.compute import models as m
from stratus.compute.drivers.base import Capability
from stratus.compute.errors import BadRequest, Conflict, NotFound
from stratus.compute.service.actions import add_event, start_action
from stratus.compute.service.scheduler import Scheduler, Usage
from stratus.compute.service.servers import Servers, visible_server
from stratus.compute.service.volumes import ServerVolumes

KEY = "live_migration"  # in Server.system_metadata
TASK = "migrating"  # the server's task_state during a live migration
TYPE = "live-migration"  # Migration.migration_type
IN_PROGRESS = ("queued", "preparing", "running", "post-migrating")
ACTION = "live-migration"  # the instance action (Nova's name)


@dataclass
class LiveRequest:
    host: str | None
    block_migration: bool | None  # None: auto
    force: bool = False


async def shared_state(s: AsyncSession, server_id: str) -> dict[str, Any]:
    server = await s.get(m.Server, server_id)
    if server is None:
        return {}
    return dict((server.system_metadata or {}).get(KEY) or {})


async def update_shared(db: Database, server_id: str, **changes: Any) -> dict[str, Any]:
    """Merge ``changes`` into the server's live migration state (row locked)."""
    async with db.transaction() as s:
        server = await s.scalar(select(m.Server).where(m.Server.id == server_id).with_for_update())
        if server is None:
            return {}
        meta = dict(server.system_metadata or {})
        state = {**(meta.get(KEY) or {}), **changes}
        meta[KEY] = state
        server.system_metadata = meta
        return state


async def set_status(
    db: Database, migration_uuid: str, status: str, *, only_from: tuple[str, ...], **values: Any
) -> bool:
    """Compare-and-swap a migration's status; False when it had moved on."""
    async with db.transaction() as s:
        result = await s.execute(
            update(m.Migration)
            .where(m.Migration.uuid == migration_uuid, m.Migration.status.in_(only_from))
            .values(status=status, updated_at=utcnow(), **values)
        )
    return bool(getattr(result, "rowcount", 0))


async def release(db: Database, server_id: str, migration: str, **values: Any) -> None:
    """Live migration ``migration`` is over: clear the server's task (unless
    another request replaced it) and its shared state (unless it is already
    another migration's)."""
    async with db.transaction() as s:
        server = await s.scalar(select(m.Server).where(m.Server.id == server_id).with_for_update())
        if server is None:
            return
        current = ((server.system_metadata or {}).get(KEY) or {}).get("migration")
        if current not in (None, migration):
            return
        meta = dict(server.system_metadata or {})
        meta.pop(KEY, None)
        server.system_metadata = meta
        if server.task_state == TASK:
            server.task_state = None
        server.progress = 100  # it showed the migration's progress meanwhile
        for key, value in values.items():
            setattr(server, key, value)
        if values.get("host"):  # it moved: the zone of its new host
            zone = await s.scalar(
                select(m.ComputeHost.availability_zone).where(m.ComputeHost.host == values["host"])
            )
            server.availability_zone = zone or server.availability_zone
        server.updated_at = utcnow()


async def set_progress(db: Database, server_id: str, percent: int) -> None:
    """The server's ``progress`` during a live migration (Nova shows it too)."""
    async with db.transaction() as s:
        await s.execute(
            update(m.Server)
            .where(m.Server.id == server_id, m.Server.task_state == TASK)
            .values(progress=max(0, min(percent, 99)))
        )


def percent(
    phase: str, disk: tuple[int | None, int | None], memory: tuple[int | None, int | None]
) -> int:
    """Half for the disk copy, half for the memory: ``(processed, total)`` each."""

    def part(done: int | None, total: int | None) -> float:
        return min(done / total, 1.0) if done is not None and total else 0.0

    if phase == "disk":
        return int(50 * part(*disk))
    return 50 + int(50 * part(*memory))


async def record_event(
    db: Database,
    server_id: str,
    action: str,
    event: str,
    host: str | None,
    result: str,
    details: str | None = None,
    *,
    finish: bool = False,
) -> None:
    """An event on the newest ``action`` of the server (Actions.event picks
    the newest unfinished action, which may be an abort meanwhile)."""
    async with db.transaction() as s:
        row = await s.scalar(
            select(m.InstanceAction)
            .where(m.InstanceAction.server_id == server_id, m.InstanceAction.action == action)
            .order_by(m.InstanceAction.id.desc())
            .limit(1)
        )
        if row is None:
            return
        now = add_event(s, row, event, host, result, details)
        if finish:
            row.finish_time = now
        if result == "Error":
            row.message = "Error"


class LiveMigrations:
    def __init__(
        self,
        db: Database,
        scheduler: Scheduler,
        wake: Callable[[str | None], None],
        volumes: ServerVolumes,
    ):
        self.db = db
        self.scheduler = scheduler
        self.wake = wake
        self.volumes = volumes  # a live migration moves attached volumes only

    # -- os-migrateLive ----------------------------------------------------------------------

    async def start(self, ctx: RequestContext, server_id: str, req: LiveRequest) -> m.Migration:
        await self.volumes.refuse_volumes_busy(server_id, "os-migrateLive")
        async with self.db.transaction() as s:
            server = await visible_server(s, ctx, server_id)
            if server.locked:
                # Stricter than Nova (which lets an admin act on a locked
                # server): a lock says "do not move it", and only admins migrate.
                raise Conflict(f"Instance {server.id} is locked: unlock it to migrate it.")
            if server.task_state is not None:
                raise Conflict(
                    f"Cannot 'os-migrateLive' instance {server.id} while it is in task_state {server.task_state}"
                )
            if server.vm_state not in (m.ACTIVE, m.PAUSED):
                raise Conflict(
                    f"Cannot 'os-migrateLive' instance {server.id} while it is in vm_state {server.vm_state}"
                )
            if server.host is None:
                raise Conflict(f"Instance {server.id} is not on any host yet.")
            await Servers.check_capability(s, server, Capability.LIVE_MIGRATION, "os-migrateLive")
            if req.block_migration is False:
                raise BadRequest(
                    "block_migration false asks for a migration over shared storage, and the "
                    "hosts of this cloud share none: use true or 'auto' (the disk is copied)."
                )
            await s.execute(select(m.ComputeHost.id).with_for_update())  # claims one at a time
            dest = await self._destination(s, server, req.host, req.force)
            migration = m.Migration(
                uuid=str(uuid.uuid4()),
                server_id=server.id,
                project_id=server.project_id,
                user_id=server.user_id,
                migration_type=TYPE,
                status="preparing",
                source_compute=server.host,
                dest_compute=dest.host,
                dest_host="127.0.0.1",
                old_flavor_id=server.flavor_id,
                new_flavor_id=server.flavor_id,
            )
            s.add(migration)
            server.task_state = TASK
            server.generation += 1
            meta = dict(server.system_metadata or {})
            meta[KEY] = {"migration": migration.uuid}
            server.system_metadata = meta
            start_action(s, server.id, ACTION, ctx.request_id, ctx.user_id, ctx.project_id)
            source = server.host
        self.wake(dest.host)
        self.wake(source)
        return migration

    async def _destination(
        self, s: AsyncSession, server: m.Server, wanted: str | None, force: bool = False
    ) -> m.ComputeHost:
        """The named host or the scheduler's pick: enabled, alive, able to
        live-migrate, with room for the flavor (not checked when ``force``,
        as Nova's 2.30 force bypasses the scheduler), never the source."""
        hosts = list((await s.scalars(select(m.ComputeHost).order_by(m.ComputeHost.host))).all())
        if wanted is not None:
            named = [h for h in hosts if h.host == wanted]
            if not named:
                raise BadRequest(f"Compute host {wanted} could not be found.")
            if wanted == server.host:
                raise BadRequest(
                    f"Unable to migrate instance ({server.id}) to current host ({wanted})."
                )
            if Capability.LIVE_MIGRATION.value not in named[0].capabilities:
                raise Conflict(
                    f"Cannot 'os-migrateLive' instance {server.id} to host {wanted}: its "
                    f"{named[0].driver} driver does not support live migration"
                )
            hosts = named
        used = await self._usage(s)
        reasons: list[str] = []
        fits: list[tuple[float, m.ComputeHost]] = []
        for host in hosts:
            if host.host == server.host:
                continue
            reason = self._unfit(host, server, used.get(host.host, Usage()), force)
            if reason:
                reasons.append(f"{host.host}: {reason}")
                continue
            _, ram, _ = self.scheduler.capacity(host)
            fits.append((ram - used.get(host.host, Usage()).memory_mb, host))
        if not fits:
            detail = "; ".join(reasons) or "there is no other compute host"
            raise BadRequest(f"No valid host was found. {detail}")
        return max(fits, key=lambda pair: pair[0])[1]

    async def _usage(self, s: AsyncSession) -> dict[str, Usage]:
        """The scheduler's usage per host, plus the servers on their way to a
        host by a live migration in progress (claimed there already)."""
        used = await self.scheduler.usage(s)
        moving = await s.execute(
            select(m.Migration.dest_compute, m.Server.flavor)
            .join(m.Server, m.Server.id == m.Migration.server_id)
            .where(m.Migration.migration_type == TYPE, m.Migration.status.in_(IN_PROGRESS))
        )
        for dest, flavor in moving.all():
            u = used.setdefault(dest or "", Usage())
            u.vcpus += int(flavor.get("vcpus", 0))
            u.memory_mb += int(flavor.get("ram", 0))
            u.disk_gb += int(flavor.get("disk", 0))
        return used

    def _unfit(self, host: m.ComputeHost, server: m.Server, used: Usage, force: bool) -> str | None:
        if host.disabled:
            return "disabled"
        if not self.scheduler.alive(host):
            return "its agent is down"
        if Capability.LIVE_MIGRATION.value not in host.capabilities:
            return f"the {host.driver} driver does not support live migration"
        if force:
            return None
        cpus, ram, disk = self.scheduler.capacity(host)
        flavor = server.flavor
        if used.vcpus + int(flavor.get("vcpus", 0)) > cpus:
            return "not enough vCPUs"
        if used.memory_mb + int(flavor.get("ram", 0)) > ram:
            return "not enough RAM"
        if used.disk_gb + int(flavor.get("disk", 0)) > disk:
            return "not enough disk"
        return None

    # -- /servers/{id}/migrations -------------------------------------------------------------

    async def in_progress(self, ctx: RequestContext, server_id: str) -> list[m.Migration]:
        async with self.db.session() as s:
            await visible_server(s, ctx, server_id)
            rows = await s.scalars(
                select(m.Migration)
                .where(
                    m.Migration.server_id == server_id,
                    m.Migration.migration_type == TYPE,
                    m.Migration.status.in_(IN_PROGRESS),
                )
                .order_by(m.Migration.id)
            )
            return list(rows.all())

    async def get(self, ctx: RequestContext, server_id: str, migration_id: str) -> m.Migration:
        """An in-progress live migration of the server (404 otherwise, as Nova)."""
        async with self.db.session() as s:
            await visible_server(s, ctx, server_id)
            row = await self._find(s, server_id, migration_id)
        if row is None:
            raise NotFound(
                f"In-progress live migration {migration_id} is not found for server {server_id}."
            )
        if row.migration_type != TYPE:
            raise NotFound(
                f"Migration {migration_id} for server {server_id} is not live-migration."
            )
        if row.status not in IN_PROGRESS:
            raise NotFound(
                f"Live migration {migration_id} for server {server_id} is not in progress."
            )
        return row

    @staticmethod
    async def _find(s: AsyncSession, server_id: str, migration_id: str) -> m.Migration | None:
        if not migration_id.isdigit():
            return None
        row = await s.get(m.Migration, int(migration_id))
        return row if row is not None and row.server_id == server_id else None

    async def abort(
        self, ctx: RequestContext, server_id: str, migration_id: str, queued_ok: bool
    ) -> None:
        await self._ask(ctx, server_id, migration_id, "abort", queued_ok)

    async def force_complete(self, ctx: RequestContext, server_id: str, migration_id: str) -> None:
        await self._ask(ctx, server_id, migration_id, "force_complete", False)

    async def _ask(
        self, ctx: RequestContext, server_id: str, migration_id: str, what: str, queued_ok: bool
    ) -> None:
        """Record an abort or force-complete request for the source agent,
        which reads it at its next progress report."""
        verb = "abort live migration" if what == "abort" else "force_complete"
        missing = BadRequest if what == "force_complete" else NotFound
        async with self.db.transaction() as s:
            server = await visible_server(s, ctx, server_id)
            if server.locked and not ctx.is_admin:
                raise Conflict(f"Instance {server.id} is locked")
            if server.task_state != TASK:
                raise Conflict(
                    f"Cannot '{verb}' instance {server_id} while it is in task_state {server.task_state}"
                )
            row = await self._find(s, server_id, migration_id)
            if row is None or row.migration_type != TYPE:
                raise missing(
                    f"Migration {migration_id} for instance {server_id} could not be found."
                )
            allowed = ("running", "queued", "preparing") if queued_ok else ("running",)
            if row.status not in allowed:
                raise BadRequest(
                    f"Migration {migration_id} state of instance {server_id} is {row.status}. "
                    f"Cannot {verb} while the migration is in this state."
                )
            meta = dict(server.system_metadata or {})
            meta[KEY] = {**(meta.get(KEY) or {}), what: True}
            server.system_metadata = meta
            action = "live_migration_cancel" if what == "abort" else "live_migration_force_complete"
            start_action(
                s, server.id, action, ctx.request_id, ctx.user_id, ctx.project_id
            ).finish_time = utcnow()
            hosts = (row.source_compute, row.dest_compute)
        for host in hosts:
            self.wake(host)
