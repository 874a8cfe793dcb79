"""Quotas per project, Trove's ``/mgmt/quotas``: a project's limits are the
configured defaults (``[dbaas] quota_*``) where no row of its own says
otherwise; usage is counted from the instances and backups it has, in the
transaction that adds one (so two requests can't both take the last)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.context import RequestContext
from stratus.common.db import Database
from stratus.database import models as m
from stratus.database.errors import BadRequest, NotFound

RESOURCES = ("instances", "volumes", "backups")  # volumes: GiB of instance volumes
MAX_LIMIT = 2**31 - 1


@dataclass(frozen=True)
class Quotas:
    """The defaults, and the largest volume one instance may ask for."""

    instances: int
    volumes: int
    backups: int
    max_volume_size: int


@dataclass(frozen=True)
class Usage:
    resource: str
    in_use: int
    limit: int


class ProjectQuotas:
    def __init__(self, db: Database, defaults: Quotas):
        self.db = db
        self.defaults = defaults

    async def limits(self, s: AsyncSession, project_id: str) -> dict[str, int]:
        out = {r: int(getattr(self.defaults, r)) for r in RESOURCES}
        rows = await s.scalars(select(m.Quota).where(m.Quota.project_id == project_id))
        out.update({q.resource: q.hard_limit for q in rows if q.resource in out})
        return out

    async def in_use(self, s: AsyncSession, project_id: str) -> dict[str, int]:
        count, gigabytes = (
            await s.execute(
                select(func.count(), func.coalesce(func.sum(m.Instance.volume_size), 0)).where(
                    m.Instance.project_id == project_id
                )
            )
        ).one()
        backups = await s.scalar(
            select(func.count()).select_from(m.Backup).where(m.Backup.project_id == project_id)
        )
        return {"instances": int(count), "volumes": int(gigabytes), "backups": int(backups or 0)}

    async def show(self, ctx: RequestContext, project_id: str) -> list[Usage]:
        self._check(ctx, project_id)
        async with self.db.session() as s:
            limits = await self.limits(s, project_id)
            used = await self.in_use(s, project_id)
        return [Usage(r, used[r], limits[r]) for r in RESOURCES]

    async def update(
        self, ctx: RequestContext, project_id: str, values: dict[str, int]
    ) -> dict[str, int]:
        """Set limits (admin only, checked by policy); -1 is unlimited."""
        self._check(ctx, project_id)
        if not values:
            raise BadRequest("No quota to update was given.")
        for resource, limit in values.items():
            if resource not in RESOURCES:
                raise BadRequest(f"Quota resource '{resource}' is not one of "
                                 f"{', '.join(RESOURCES)}.")  # fmt: skip
            if not -1 <= limit <= MAX_LIMIT:
                raise BadRequest(f"Quota limit {limit} for {resource} must be -1 (unlimited) "
                                 f"to {MAX_LIMIT}.")  # fmt: skip
        async with self.db.transaction() as s:
            for resource, limit in values.items():
                row = await s.get(m.Quota, (project_id, resource), with_for_update=True)
                if row is None:
                    s.add(m.Quota(project_id=project_id, resource=resource, hard_limit=limit))
                else:
                    row.hard_limit = limit
        return dict(values)

    @staticmethod
    def _check(ctx: RequestContext, project_id: str) -> None:
        if not ctx.is_admin and ctx.project_id != project_id:
            raise NotFound(f"Quotas of project {project_id} could not be found.")
        if not project_id or len(project_id) > 64:
            raise BadRequest("A project id must be 1 to 64 characters.")
