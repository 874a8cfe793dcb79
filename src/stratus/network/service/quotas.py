"""Per-project quotas (``/v2.0/quotas``): configured defaults, project
overrides, and usage counted from the rows themselves."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.network import models as m
from stratus.network.errors import BadRequest, OverQuota
from stratus.network.service.core import Core

# Neutron's quota names and the table each counts.
RESOURCES: dict[str, Any] = {
    "network": m.Network,
    "subnet": m.Subnet,
    "port": m.Port,
    "router": m.Router,
    "floatingip": m.FloatingIP,
    "security_group": m.SecurityGroup,
    "security_group_rule": m.SecurityGroupRule,
    "subnetpool": m.SubnetPool,
}


class Quotas:
    def __init__(self, core: Core):
        self.core = core
        self.defaults = {r: int(getattr(core.net, f"quota_{r}")) for r in RESOURCES}

    async def limits_in(self, s: AsyncSession, project_id: str) -> dict[str, int]:
        limits = dict(self.defaults)
        rows = await s.execute(
            select(m.Quota.resource, m.Quota.hard_limit).where(m.Quota.project_id == project_id)
        )
        limits.update({resource: int(value) for resource, value in rows})
        return limits

    async def used_in(self, s: AsyncSession, project_id: str, resource: str) -> int:
        model = RESOURCES[resource]
        count = await s.scalar(
            select(func.count()).select_from(model).where(model.project_id == project_id)
        )
        return int(count or 0)

    async def check(self, s: AsyncSession, project_id: str, resource: str, count: int = 1) -> None:
        """Refuse (409 OverQuota) a request that would pass the project's limit."""
        limit = (await self.limits_in(s, project_id)).get(resource, -1)
        if limit < 0:
            return
        if await self.used_in(s, project_id, resource) + count > limit:
            raise OverQuota([resource])

    async def limits(self, project_id: str) -> dict[str, int]:
        return await self.core.read(lambda s: self.limits_in(s, project_id))

    async def details(self, project_id: str) -> dict[str, dict[str, int]]:
        async def work(s: AsyncSession) -> dict[str, dict[str, int]]:
            limits = await self.limits_in(s, project_id)
            return {
                r: {"limit": limits[r], "used": await self.used_in(s, project_id, r), "reserved": 0}
                for r in RESOURCES
            }

        return await self.core.read(work)

    async def projects(self) -> dict[str, dict[str, int]]:
        """Every project with a limit of its own, and its limits."""

        async def work(s: AsyncSession) -> dict[str, dict[str, int]]:
            ids = await s.scalars(select(m.Quota.project_id).distinct())
            return {pid: await self.limits_in(s, pid) for pid in ids}

        return await self.core.read(work)

    async def update(
        self, project_id: str, values: dict[str, int], *, check_limit: bool = False
    ) -> dict[str, int]:
        """Set the project's limits; with ``check_limit`` a limit below what
        the project already uses is refused."""

        async def work(s: AsyncSession, _ch: Any) -> dict[str, int]:
            for resource, value in values.items():
                if check_limit and value >= 0:
                    used = await self.used_in(s, project_id, resource)
                    if value < used:
                        raise BadRequest(
                            f"Quota limit {value} for {resource} must be greater than or "
                            f"equal to already used {used}"
                        )
                row = await s.get(m.Quota, (project_id, resource))
                if row is None:
                    s.add(m.Quota(project_id=project_id, resource=resource, hard_limit=value))
                else:
                    row.hard_limit = value
            await s.flush()
            return await self.limits_in(s, project_id)

        return await self.core.write(work)

    async def reset(self, project_id: str) -> None:
        async def work(s: AsyncSession, _ch: Any) -> None:
            await s.execute(delete(m.Quota).where(m.Quota.project_id == project_id))

        await self.core.write(work)
