"""Instances: create (with their databases, users, network, volume and
restore point), list, show, rename, delete, restart and resize.  The agent
of the instance's host does the work recorded here."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.context import RequestContext
from stratus.common.db import Database, utcnow
from stratus.compute import models as cm
from stratus.database import models as m
from stratus.database.errors import (
    BadRequest,
    Forbidden,
    NotFound,
    OverLimit,
    ServiceUnavailable,
    UnprocessableEntity,
)
from stratus.database.service.common import Wake, visible_backup, visible_instance
from stratus.database.service.datastores import Datastores
from stratus.database.service.network_quota import NetworkQuota, need_of
from stratus.database.service.new_instances import (
    NewInstance,
    Plan,
    add_instances,
    check_databases_and_users,
    check_name,
    checked_cidrs,
    checked_size,
)
from stratus.database.service.quotas import ProjectQuotas, Quotas
from stratus.network import models as nm


class Instances:
    def __init__(
        self,
        db: Database,
        datastores: Datastores,
        project_quotas: ProjectQuotas,
        wake: Wake,
        down_time: float,
        network_quota: NetworkQuota,
    ):
        self.db = db
        self.network_quota = network_quota
        self.datastores = datastores
        self.project_quotas = project_quotas
        self.quotas: Quotas = project_quotas.defaults
        self.wake = wake
        self.down_time = down_time

    async def flavor(self, ref: str) -> cm.Flavor:
        async with self.db.session() as s:
            flavor = await s.get(cm.Flavor, ref)
            if flavor is None:
                flavor = await s.scalar(select(cm.Flavor).where(cm.Flavor.name == ref))
        if flavor is None or flavor.disabled:
            raise NotFound(f"Flavor '{ref}' could not be found.")
        return flavor

    async def flavors(self) -> list[cm.Flavor]:
        async with self.db.session() as s:
            rows = await s.scalars(select(cm.Flavor).where(cm.Flavor.disabled.is_(False)))
            return sorted(rows, key=lambda f: (f.memory_mb, f.vcpus, f.id))

    async def _host(self, zone: str | None, datastore: str) -> str:
        since = utcnow() - timedelta(seconds=self.down_time)
        async with self.db.session() as s:
            q = select(m.Agent).where(m.Agent.heartbeat_at >= since)
            if zone:
                q = q.where(m.Agent.availability_zone == zone)
            agents = [
                a for a in await s.scalars(q.order_by(m.Agent.host)) if datastore in a.datastores
            ]
            if not agents:
                if zone:
                    raise BadRequest(f"Availability zone '{zone}' has no database host.")
                raise ServiceUnavailable(f"No database host runs {datastore}.")
            rows = await s.execute(select(m.Instance.host, func.count()).group_by(m.Instance.host))
            load = {host: count for host, count in rows.all()}
        return min(agents, key=lambda a: (load.get(a.host, 0), a.host)).host

    async def _replica_source(self, ctx: RequestContext, req: NewInstance) -> m.Instance:
        """The instance a new replica follows, checked as Trove does; the
        replica takes its datastore, version, flavor, network and (unless
        given a larger one) volume size."""
        async with self.db.session() as s:
            source = await visible_instance(s, ctx, req.replica_of or "")
        if source.replica_of_id is not None:
            raise Forbidden(f"Cannot create a replica of a replica {source.id}.")
        if req.databases or req.users:
            raise BadRequest("Cannot create a replica with users or databases.")
        if req.backup_ref is not None:
            raise BadRequest("A replica is made from its source, not from a backup.")
        if req.datastore is not None or req.datastore_version is not None:
            asked = await self.datastores.version(req.datastore or source.datastore,
                                                  req.datastore_version)  # fmt: skip
            if asked.datastore != source.datastore:
                raise BadRequest(f"Instance {source.id} is of {source.datastore}: a replica of "
                                 f"it cannot be of {asked.datastore}.")  # fmt: skip
            if req.datastore_version is not None and asked.name != source.datastore_version:
                raise BadRequest(f"A replica runs its source's version "
                                 f"{source.datastore_version}.")  # fmt: skip
        if source.network_id is None:
            raise BadRequest(f"Instance {source.id} has no network for a replica to follow it on.")
        if req.network_id is not None and req.network_id != source.network_id:
            raise BadRequest("A replica is on its source's network.")
        if source.status != m.ACTIVE or source.task is not None:
            raise UnprocessableEntity(f"Replica source {source.id} is not ACTIVE (status was "
                                      f"{source.status}).")  # fmt: skip
        if req.volume_size is not None and req.volume_size < source.volume_size:
            raise BadRequest(f"A replica's volume cannot be smaller than its source's "
                             f"({source.volume_size} GiB).")  # fmt: skip
        req.flavor_ref = source.flavor_id
        req.datastore, req.datastore_version = source.datastore, source.datastore_version
        req.volume_size = req.volume_size or source.volume_size
        req.network_id = source.network_id
        return source

    async def create(self, ctx: RequestContext, req: NewInstance) -> m.Instance:
        check_name(req.name)
        source = await self._replica_source(ctx, req) if req.replica_of is not None else None
        flavor = await self.flavor(req.flavor_ref)
        restore = await self._restore_point(ctx, req)
        version = await self.datastores.version(req.datastore, req.datastore_version)
        if restore is not None and restore.datastore != version.datastore:
            raise BadRequest(f"Backup {restore.id} is of {restore.datastore}, not of "
                             f"{version.datastore}.")  # fmt: skip
        size = checked_size(req.volume_size, self.quotas.max_volume_size)
        cidrs = checked_cidrs(req.allowed_cidrs)
        check_databases_and_users(version.datastore, req)
        # A replica is placed beside its source (the agent seeds it from there).
        host = source.host if source and source.host else await self._host(
            req.availability_zone, version.datastore)  # fmt: skip
        count = req.replica_count if source is not None else 1
        plan = Plan(version, flavor, size, cidrs, host, count, restore, source)
        async with self.db.transaction() as s:
            await self._check_locked(s, ctx, req, plan)
            inst = await add_instances(s, ctx, req, plan)
        self.wake(host)
        return inst

    async def _restore_point(self, ctx: RequestContext, req: NewInstance) -> m.Backup | None:
        """The backup a new instance starts from (its datastore by default)."""
        if req.backup_ref is None:
            return None
        async with self.db.session() as s:
            restore = await visible_backup(s, ctx, req.backup_ref)
        if restore.status != m.B_COMPLETED or restore.deleting:
            raise BadRequest(f"Backup {restore.id} is not COMPLETED (it is {restore.status}).")
        await self._check_chain(restore)
        if req.datastore is None:
            req.datastore, req.datastore_version = restore.datastore, restore.datastore_version
        return restore

    async def _check_locked(
        self, s: AsyncSession, ctx: RequestContext, req: NewInstance, plan: Plan
    ) -> None:
        """The checks made under the project's lock (and the source's): the
        network, the quotas and the configuration group."""
        project = ctx.project_id or ""
        await self.network_quota.lock(s, project)
        if plan.source is not None:
            locked = await s.get(m.Instance, plan.source.id, with_for_update=True)
            if locked is None or locked.task == m.T_DELETE:
                raise NotFound(f"Instance {plan.source.id} could not be found.")
        if req.network_id is not None:
            net = await s.get(nm.Network, req.network_id)
            if net is None or not (net.shared or net.project_id == project or ctx.is_admin):
                raise NotFound(f"Network {req.network_id} could not be found.")
        await self._check_quota(s, project, plan.size, plan.count)
        if req.network_id is not None:
            need = need_of(plan.count, req.is_public, len(plan.cidrs))
            await self.network_quota.check(s, project, need)
        if req.configuration_id is not None:
            group = await s.get(m.ConfigurationGroup, req.configuration_id)
            if group is None or not (group.project_id == project or ctx.is_admin):
                raise NotFound(f"Configuration group {req.configuration_id} could not be found.")
            if group.datastore != plan.version.datastore:
                raise BadRequest(f"Configuration group {group.id} is for {group.datastore}.")

    async def _check_chain(self, backup: m.Backup) -> None:
        """An incremental backup restores with its parents: each one there."""
        async with self.db.session() as s:
            seen = {backup.id}
            ident = backup.parent_id
            while ident is not None:
                parent = await s.get(m.Backup, ident)
                if parent is None or parent.status != m.B_COMPLETED or parent.deleting:
                    raise BadRequest(f"Backup {backup.id} is incremental and its parent backup "
                                     f"{ident} is not there to restore it.")  # fmt: skip
                if parent.id in seen:
                    break
                seen.add(parent.id)
                ident = parent.parent_id

    async def _check_quota(
        self, s: AsyncSession, project: str, size: int, count: int = 1
    ) -> None:
        """Room for ``count`` instances of ``size`` GiB each."""
        limits = await self.project_quotas.limits(s, project)
        used = await self.project_quotas.in_use(s, project)
        if limits["instances"] >= 0 and used["instances"] + count > limits["instances"]:
            raise OverLimit(f"Quota exceeded for resources: ['instances'] "
                            f"(limit {limits['instances']}, {used['instances']} used, "
                            f"{count} asked).")  # fmt: skip
        if limits["volumes"] >= 0 and used["volumes"] + size * count > limits["volumes"]:
            raise OverLimit(f"Quota exceeded for resources: ['volumes'] (limit "
                            f"{limits['volumes']} GiB, {used['volumes']} GiB used, "
                            f"{size * count} GiB asked).")  # fmt: skip

    async def list(self, ctx: RequestContext, all_projects: bool = False) -> list[m.Instance]:
        async with self.db.session() as s:
            q = select(m.Instance).order_by(m.Instance.created_at, m.Instance.id)
            if not (all_projects and ctx.is_admin):
                q = q.where(m.Instance.project_id == (ctx.project_id or ""))
            return list(await s.scalars(q))

    async def get(self, ctx: RequestContext, instance_id: str) -> m.Instance:
        async with self.db.session() as s:
            return await visible_instance(s, ctx, instance_id)

    async def rename(self, ctx: RequestContext, instance_id: str, name: str) -> m.Instance:
        if not name.strip() or len(name) > 255:
            raise BadRequest("An instance name must be 1 to 255 characters.")
        async with self.db.transaction() as s:
            inst = await visible_instance(s, ctx, instance_id, for_update=True)
            inst.name = name
        return inst

    async def replicas(self, source_ids: Sequence[str]) -> dict[str, builtins.list[str]]:
        """The replicas of each of these instances, by source."""
        out: dict[str, builtins.list[str]] = {}
        if not source_ids:
            return out
        async with self.db.session() as s:
            rows = await s.execute(
                select(m.Instance.replica_of_id, m.Instance.id)
                .where(m.Instance.replica_of_id.in_(source_ids))
                .order_by(m.Instance.created_at, m.Instance.id)
            )
            for source_id, replica_id in rows.all():
                out.setdefault(source_id or "", []).append(replica_id)
        return out

    async def detach(self, ctx: RequestContext, instance_id: str) -> None:
        """A replica made a standalone, writable instance (the agent's work)."""
        async with self.db.session() as s:
            inst = await visible_instance(s, ctx, instance_id)
        if inst.replica_of_id is None:
            raise BadRequest(f"Instance {inst.id} is not a replica.")
        await self._action(ctx, instance_id, m.DETACH, m.T_DETACH)

    async def promote(self, ctx: RequestContext, instance_id: str) -> None:
        """promote_to_replica_source: the replica becomes the source of its
        set; its source and the other replicas follow it (the agent's work)."""
        async with self.db.transaction() as s:
            inst = await visible_instance(s, ctx, instance_id, for_update=True)
            if inst.replica_of_id is None:
                raise BadRequest(f"Instance {inst.id} is not a replica.")
            source = await s.get(m.Instance, inst.replica_of_id, with_for_update=True)
            if source is None:
                raise NotFound(f"Instance {inst.replica_of_id} could not be found.")
            siblings = await self._replicas_of(s, source.id)
            for one in (source, *siblings):
                if one.status != m.ACTIVE or one.task is not None:
                    raise UnprocessableEntity(
                        f"Instance {one.id} is not currently available for an action to be "
                        f"performed (status was {one.status})."
                    )
            for one in (source, *siblings):
                one.status = m.PROMOTE
                one.generation += 1
            inst.task, inst.request_id = m.T_PROMOTE, ctx.request_id
            host = inst.host
        self.wake(host)

    async def eject(self, ctx: RequestContext, instance_id: str) -> None:
        """eject_replica_source: a source that is lost (its server in ERROR,
        or its host's agent silent) leaves its set; the first of its
        replicas becomes the others' source."""
        since = utcnow() - timedelta(seconds=self.down_time)
        async with self.db.transaction() as s:
            inst = await visible_instance(s, ctx, instance_id, for_update=True)
            replicas = await self._replicas_of(s, inst.id)
            if not replicas:
                raise BadRequest(f"Instance {inst.id} is not a replica source.")
            agent = await s.get(m.Agent, inst.host or "")
            alive = agent is not None and agent.heartbeat_at >= since
            if alive and inst.status != m.ERROR:
                raise BadRequest(f"Replica source {inst.id} cannot be ejected: it is reachable "
                                 f"(status {inst.status}); promote a replica instead.")  # fmt: skip
            for one in replicas:
                if one.status != m.ACTIVE or one.task is not None:
                    raise UnprocessableEntity(
                        f"Instance {one.id} is not currently available for an action to be "
                        f"performed (status was {one.status})."
                    )
            chosen = replicas[0]
            # The replicas live on their source's host: its agent makes the
            # change, so it must be there to make it.
            keeper = agent if chosen.host == inst.host else await s.get(m.Agent, chosen.host or "")
            if keeper is None or keeper.heartbeat_at < since:
                raise UnprocessableEntity(
                    f"Replica source {inst.id} cannot be ejected now: the agent of host "
                    f"{chosen.host} that keeps its replicas is not answering; try again "
                    f"once it is back."
                )
            for one in replicas:
                one.status = m.EJECT
                one.generation += 1
            chosen.task, chosen.request_id = m.T_EJECT, ctx.request_id
            host = chosen.host
        self.wake(host)

    async def _replicas_of(self, s: AsyncSession, source_id: str) -> builtins.list[m.Instance]:
        q = select(m.Instance).where(
            m.Instance.replica_of_id == source_id,
            or_(m.Instance.task.is_(None), m.Instance.task != m.T_DELETE),
        )
        return list(await s.scalars(q.order_by(m.Instance.created_at, m.Instance.id)))

    async def delete(self, ctx: RequestContext, instance_id: str) -> None:
        async with self.db.transaction() as s:
            inst = await visible_instance(s, ctx, instance_id, for_update=True)
            if inst.task == m.T_DELETE:
                return
            if inst.status in (m.PROMOTE, m.EJECT):
                raise UnprocessableEntity(f"Instance {inst.id} is changing its replication set "
                                          f"(status {inst.status}); delete it after.")  # fmt: skip
            replica = await s.scalar(
                select(m.Instance.id)
                .where(
                    m.Instance.replica_of_id == inst.id,
                    or_(m.Instance.task.is_(None), m.Instance.task != m.T_DELETE),
                )
                .limit(1)
            )
            if replica is not None:
                raise Forbidden(
                    "The replica source cannot be deleted without detaching the replicas."
                )
            inst.status, inst.task, inst.request_id = m.SHUTDOWN, m.T_DELETE, ctx.request_id
            inst.generation += 1
            host = inst.host
        self.wake(host)

    async def _action(
        self, ctx: RequestContext, instance_id: str, status: str, task: str, **values: object
    ) -> m.Instance:
        async with self.db.transaction() as s:
            inst = await visible_instance(s, ctx, instance_id, for_update=True)
            if inst.status != m.ACTIVE or inst.task is not None:
                raise UnprocessableEntity(
                    f"Instance {inst.id} is not currently available for an action to be "
                    f"performed (status was {inst.status})."
                )
            inst.status, inst.task, inst.request_id = status, task, ctx.request_id
            inst.generation += 1
            for key, value in values.items():
                setattr(inst, key, value)
            host = inst.host
        self.wake(host)
        return inst

    async def restart(self, ctx: RequestContext, instance_id: str) -> None:
        await self._action(ctx, instance_id, m.REBOOT, m.T_RESTART)

    async def resize_volume(self, ctx: RequestContext, instance_id: str, size: int) -> None:
        inst = await self.get(ctx, instance_id)
        if size <= inst.volume_size:
            raise BadRequest(f"The new volume size {size} GiB must be larger than the current "
                             f"size of {inst.volume_size} GiB.")  # fmt: skip
        if size > self.quotas.max_volume_size:
            raise OverLimit(f"Volume size {size} GiB is over the limit of "
                            f"{self.quotas.max_volume_size} GiB.")  # fmt: skip
        async with self.db.session() as s:
            used = (await self.project_quotas.in_use(s, inst.project_id))["volumes"]
            limit = (await self.project_quotas.limits(s, inst.project_id))["volumes"]
        if limit >= 0 and used - inst.volume_size + size > limit:
            raise OverLimit(f"Quota exceeded for resources: ['volumes'] (limit {limit} GiB).")
        await self._action(ctx, instance_id, m.RESIZE, m.T_RESIZE_VOLUME, new_volume_size=size)

    async def resize_flavor(self, ctx: RequestContext, instance_id: str, flavor_ref: str) -> None:
        flavor = await self.flavor(flavor_ref)
        inst = await self.get(ctx, instance_id)
        if flavor.id == inst.flavor_id:
            raise BadRequest("The new flavor is the instance's flavor.")
        new = {"id": flavor.id, "memory_mb": flavor.memory_mb, "vcpus": flavor.vcpus}
        await self._action(ctx, instance_id, m.RESIZE, m.T_RESIZE_FLAVOR, new_flavor=new)
