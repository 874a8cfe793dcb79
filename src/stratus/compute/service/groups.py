"""Server groups: affinity and anti-affinity, hard or soft."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select

from stratus.common.context import RequestContext
from stratus.common.db import Database
from stratus.compute import models as m
from stratus.compute.errors import BadRequest, NotFound
from stratus.compute.service.quotas import Quotas

POLICIES = ("affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity")


class Groups:
    def __init__(self, db: Database, quotas: Quotas):
        self.db = db
        self.quotas = quotas

    async def get(self, ctx: RequestContext, group_id: str) -> m.ServerGroup:
        async with self.db.session() as s:
            group = await s.get(m.ServerGroup, group_id)
        if group is None or (not ctx.is_admin and group.project_id != ctx.project_id):
            raise NotFound(f"Instance group {group_id} could not be found.")
        return group

    async def members(self, group_ids: list[str]) -> dict[str, list[str]]:
        if not group_ids:
            return {}
        async with self.db.session() as s:
            rows = await s.execute(
                select(m.Server.group_id, m.Server.id).where(
                    m.Server.group_id.in_(group_ids), m.Server.deleted_at.is_(None)
                )
            )
        out: dict[str, list[str]] = {g: [] for g in group_ids}
        for group_id, server_id in rows.all():
            if group_id is not None:
                out[group_id].append(server_id)
        return out

    async def list_groups(self, ctx: RequestContext, all_projects: bool) -> list[m.ServerGroup]:
        stmt = select(m.ServerGroup)
        if not (ctx.is_admin and all_projects):
            stmt = stmt.where(m.ServerGroup.project_id == ctx.project_id)
        async with self.db.session() as s:
            return list((await s.scalars(stmt.order_by(m.ServerGroup.created_at))).all())

    async def create(
        self, ctx: RequestContext, name: str, policy: str, rules: dict[str, Any]
    ) -> m.ServerGroup:
        if policy not in POLICIES:
            raise BadRequest(f"Invalid policy {policy!r}: one of {', '.join(POLICIES)}.")
        if rules and policy != "anti-affinity":
            raise BadRequest("Only the anti-affinity policy takes rules.")
        async with self.db.transaction() as s:
            await self.quotas.lock(s, ctx.project_id)  # the check and the insert: one step
            used = await s.scalar(
                select(func.count())
                .select_from(m.ServerGroup)
                .where(m.ServerGroup.project_id == ctx.project_id)
            )
            await self.quotas.check(ctx.project_id, {"server_groups": (used or 0, 1)})
            group = m.ServerGroup(
                id=str(uuid.uuid4()),
                name=name,
                policy=policy,
                rules=rules,
                project_id=ctx.project_id or "",
                user_id=ctx.user_id or "",
            )
            s.add(group)
        return group

    async def delete(self, ctx: RequestContext, group_id: str) -> None:
        async with self.db.transaction() as s:
            group = await s.get(m.ServerGroup, group_id)
            if group is None or (not ctx.is_admin and group.project_id != ctx.project_id):
                raise NotFound(f"Instance group {group_id} could not be found.")
            await s.delete(group)
