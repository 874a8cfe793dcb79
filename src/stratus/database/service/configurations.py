"""Configuration groups: values for a datastore version's parameters,
checked against what the datastore accepts, attached to instances; the
agent restarts an instance's server with them (and again when the group
changes)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from stratus.common.context import RequestContext
from stratus.common.db import Database
from stratus.database import models as m
from stratus.database.errors import BadRequest, NotFound, UnprocessableEntity
from stratus.database.service.common import Wake, visible_instance
from stratus.database.service.datastores import Datastores, check_configuration


class Configurations:
    def __init__(self, db: Database, datastores: Datastores, wake: Wake):
        self.db = db
        self.datastores = datastores
        self.wake = wake

    async def _visible(self, s: Any, ctx: RequestContext, group_id: str) -> m.ConfigurationGroup:
        group = await s.get(m.ConfigurationGroup, group_id)
        if group is None or not ctx.owns(group.project_id):
            raise NotFound(f"Configuration group {group_id} could not be found.")
        return group  # type: ignore[no-any-return]

    async def create(
        self,
        ctx: RequestContext,
        name: str,
        description: str | None,
        values: dict[str, Any],
        datastore: str | None,
        version: str | None,
    ) -> m.ConfigurationGroup:
        if not name.strip():
            raise BadRequest("A configuration group needs a name.")
        v = await self.datastores.version(datastore, version)
        checked = check_configuration(v.datastore, values)
        group = m.ConfigurationGroup(
            name=name,
            description=description,
            project_id=ctx.project_id or "",
            datastore=v.datastore,
            datastore_version=v.name,
            values={k: values[k] for k in checked},
        )
        async with self.db.transaction() as s:
            s.add(group)
        return group

    async def groups(self, ctx: RequestContext) -> list[tuple[m.ConfigurationGroup, int]]:
        async with self.db.session() as s:
            groups = await s.scalars(
                select(m.ConfigurationGroup)
                .where(m.ConfigurationGroup.project_id == (ctx.project_id or ""))
                .order_by(m.ConfigurationGroup.created_at)
            )
            out = []
            for g in groups:
                out.append((g, len(await self._instances(s, g.id))))
            return out

    async def _instances(self, s: Any, group_id: str) -> list[m.Instance]:
        rows = await s.scalars(select(m.Instance).where(m.Instance.configuration_id == group_id))
        return list(rows)

    async def get(self, ctx: RequestContext, group_id: str) -> m.ConfigurationGroup:
        async with self.db.session() as s:
            return await self._visible(s, ctx, group_id)

    async def instances(self, ctx: RequestContext, group_id: str) -> list[m.Instance]:
        async with self.db.session() as s:
            await self._visible(s, ctx, group_id)
            return await self._instances(s, group_id)

    async def set_values(
        self,
        ctx: RequestContext,
        group_id: str,
        values: dict[str, Any],
        *,
        replace: bool,
        name: str | None = None,
        description: str | None = None,
    ) -> m.ConfigurationGroup:
        async with self.db.transaction() as s:
            group = await self._visible(s, ctx, group_id)
            merged = dict(values) if replace else {**group.values, **values}
            check_configuration(group.datastore, merged)
            group.values = merged
            if name is not None:
                group.name = name
            if description is not None:
                group.description = description
            # Every instance it is attached to gets the new values.
            hosts = set()
            for inst in await self._instances(s, group.id):
                if inst.status == m.ACTIVE and inst.task is None:
                    await s.execute(
                        update(m.Instance)
                        .where(m.Instance.id == inst.id)
                        .values(task=m.T_CONFIGURE, status=m.REBOOT, request_id=ctx.request_id,
                                generation=m.Instance.generation + 1)
                    )  # fmt: skip
                    hosts.add(inst.host)
        for host in hosts:
            self.wake(host)
        return group

    async def delete(self, ctx: RequestContext, group_id: str) -> None:
        async with self.db.transaction() as s:
            group = await self._visible(s, ctx, group_id)
            if await self._instances(s, group.id):
                raise BadRequest(f"Configuration group {group.id} is attached to instances; "
                                 "detach it first.")  # fmt: skip
            await s.delete(group)

    async def attach(self, ctx: RequestContext, instance_id: str, group_id: str | None) -> None:
        """Attach a group (None: detach) and restart the server with it."""
        async with self.db.transaction() as s:
            inst = await visible_instance(s, ctx, instance_id, for_update=True)
            if group_id is not None:
                group = await self._visible(s, ctx, group_id)
                if group.datastore != inst.datastore:
                    raise BadRequest(f"Configuration group {group.id} is for {group.datastore}, "
                                     f"not {inst.datastore}.")  # fmt: skip
                if inst.configuration_id is not None:
                    raise BadRequest(f"Instance {inst.id} already has a configuration group; "
                                     "detach it first.")  # fmt: skip
            elif inst.configuration_id is None:
                raise BadRequest(f"Instance {inst.id} has no configuration group.")
            if inst.status != m.ACTIVE or inst.task is not None:
                raise UnprocessableEntity(
                    f"Instance {inst.id} is not currently available for an action to be "
                    f"performed (status was {inst.status})."
                )
            inst.configuration_id = group_id
            inst.status, inst.task, inst.request_id = m.REBOOT, m.T_CONFIGURE, ctx.request_id
            inst.generation += 1
            host = inst.host
        self.wake(host)
