"""Backups: a copy of an instance's server streamed by the datastore's own
tool (pg_basebackup, mariadb-backup) into the object store by the agent of
the instance's host, full or incremental (what changed since its parent, a
backup of the same instance); a new instance can start from one
(restorePoint), its chain of parents applied.  Deleting a backup deletes
the incremental backups made on top of it, as Trove does."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.context import RequestContext
from stratus.common.db import Database
from stratus.database import models as m
from stratus.database.errors import BadRequest, OverLimit, UnprocessableEntity
from stratus.database.service.common import Wake, visible_backup, visible_instance
from stratus.database.service.quotas import ProjectQuotas


class Backups:
    def __init__(self, db: Database, container: str, quotas: ProjectQuotas, wake: Wake):
        self.db = db
        self.container = container
        self.quotas = quotas
        self.wake = wake

    async def create(
        self,
        ctx: RequestContext,
        instance_id: str,
        name: str,
        description: str | None,
        parent_id: str | None,
        incremental: bool = False,
    ) -> m.Backup:
        """A backup; with ``parent_id``, or ``incremental`` (the instance's
        latest completed backup is the parent, a full backup when it has
        none), one holding what changed since the parent."""
        if not name.strip() or len(name) > 255:
            raise BadRequest("A backup name must be 1 to 255 characters.")
        async with self.db.transaction() as s:
            inst = await visible_instance(s, ctx, instance_id, for_update=True)
            if inst.status != m.ACTIVE or inst.task is not None:
                raise UnprocessableEntity(
                    f"Instance {inst.id} is not currently available for an action to be "
                    f"performed (status was {inst.status})."
                )
            parent_id = await self._parent(s, ctx, inst, parent_id, incremental)
            await self._check_quota(s, inst.project_id)
            backup = m.Backup(
                name=name,
                description=description,
                project_id=inst.project_id,
                instance_id=inst.id,
                parent_id=parent_id,
                datastore=inst.datastore,
                datastore_version=inst.datastore_version,
                status=m.B_NEW,
                host=inst.host,
                container=self.container,
                request_id=ctx.request_id,
            )
            s.add(backup)
            inst.status = m.BACKUP
            inst.generation += 1
            await s.flush()
            where = inst.host
        self.wake(where)
        return backup

    async def _parent(
        self,
        s: AsyncSession,
        ctx: RequestContext,
        inst: m.Instance,
        parent_id: str | None,
        incremental: bool,
    ) -> str | None:
        """The parent asked for (a completed backup of the instance), or for
        an incremental backup the instance's latest completed one."""
        if parent_id is not None:
            parent = await visible_backup(s, ctx, parent_id)
            if (parent.instance_id != inst.id or parent.status != m.B_COMPLETED
                    or parent.deleting):  # fmt: skip
                raise BadRequest(f"Backup {parent_id} is not a completed backup of "
                                 f"instance {inst.id}.")  # fmt: skip
            return parent_id
        if not incremental:
            return None
        return await s.scalar(
            select(m.Backup.id)
            .where(
                m.Backup.instance_id == inst.id,
                m.Backup.status == m.B_COMPLETED,
                m.Backup.deleting.is_(False),
            )
            .order_by(m.Backup.created_at.desc(), m.Backup.id.desc())
            .limit(1)
        )

    async def _check_quota(self, s: AsyncSession, project_id: str) -> None:
        used = (await self.quotas.in_use(s, project_id))["backups"]
        limit = (await self.quotas.limits(s, project_id))["backups"]
        if limit >= 0 and used + 1 > limit:
            raise OverLimit(f"Quota exceeded for resources: ['backups'] (limit {limit}).")

    async def list(self, ctx: RequestContext, instance_id: str | None = None) -> list[m.Backup]:
        async with self.db.session() as s:
            q = select(m.Backup).order_by(m.Backup.created_at.desc(), m.Backup.id)
            if instance_id is not None:
                inst = await visible_instance(s, ctx, instance_id)
                q = q.where(m.Backup.instance_id == inst.id)
            rows = [b for b in await s.scalars(q) if ctx.owns(b.project_id)]
            if not ctx.is_admin:
                rows = [b for b in rows if b.project_id == ctx.project_id]
            return rows

    async def get(self, ctx: RequestContext, backup_id: str) -> m.Backup:
        async with self.db.session() as s:
            return await visible_backup(s, ctx, backup_id)

    async def delete(self, ctx: RequestContext, backup_id: str) -> None:
        """The backup and every incremental backup made on top of it."""
        async with self.db.transaction() as s:
            backup = await visible_backup(s, ctx, backup_id)
            family, parents = [backup], [backup.id]
            while parents:
                children = list(await s.scalars(
                    select(m.Backup).where(m.Backup.parent_id.in_(parents))))  # fmt: skip
                children = [c for c in children if c not in family]
                family += children
                parents = [c.id for c in children]
            for one in family:
                if one.status in (m.B_NEW, m.B_BUILDING):
                    raise UnprocessableEntity(f"Backup {one.id} is being made; delete it when "
                                              f"it is {m.B_COMPLETED}.")  # fmt: skip
            hosts = set()
            for one in family:
                one.deleting = True
                hosts.add(one.host)
        for where in hosts:
            self.wake(where)
