"""Per-project quotas (os-quota-sets): configured defaults, project overrides,
and usage counted from the servers themselves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.config import ComputeConfig
from stratus.common.db import Database, serialize
from stratus.compute import models as m
from stratus.compute.errors import QuotaExceeded

RESOURCES = (
    "instances",
    "cores",
    "ram",
    "key_pairs",
    "metadata_items",
    "server_groups",
    "server_group_members",
)
DEFAULT_CLASS = "default"
# Shown by os-quota-sets for compatibility, not enforced (no such resources here).
LEGACY = {
    "fixed_ips": -1,
    "floating_ips": -1,
    "security_groups": -1,
    "security_group_rules": -1,
    "injected_files": -1,
    "injected_file_content_bytes": -1,
    "injected_file_path_bytes": -1,
}


@asynccontextmanager
async def _session(db: Database, s: AsyncSession | None) -> AsyncIterator[AsyncSession]:
    """``s`` when given (the caller's transaction), else a read session."""
    if s is not None:
        yield s
        return
    async with db.session() as own:
        yield own


class Quotas:
    def __init__(self, db: Database, cfg: ComputeConfig):
        self.db = db
        self.defaults = {r: getattr(cfg, f"quota_{r}") for r in RESOURCES}

    @staticmethod
    async def lock(s: AsyncSession, project_id: str | None) -> None:
        """Serialize the project's quota checks with their inserts: call at
        the start of the transaction that checks and inserts."""
        await serialize(s, "compute-quota", project_id or "")

    async def class_limits(self, name: str, s: AsyncSession | None = None) -> dict[str, int]:
        """A quota class's limits: the configured defaults, then the class's
        own (os-quota-class-sets; the ``default`` class is every project's)."""
        limits = dict(self.defaults)
        async with _session(self.db, s) as s:
            rows = await s.execute(
                select(m.QuotaClassLimit.resource, m.QuotaClassLimit.hard_limit).where(
                    m.QuotaClassLimit.class_name == name
                )
            )
            limits.update({r: v for r, v in rows.all() if r in limits})
        return limits

    async def set_class(self, name: str, values: dict[str, int]) -> dict[str, int]:
        async with self.db.transaction() as s:
            for resource, value in values.items():
                row = await s.get(m.QuotaClassLimit, (name, resource))
                if row is None:
                    s.add(m.QuotaClassLimit(class_name=name, resource=resource, hard_limit=value))
                else:
                    row.hard_limit = value
        return await self.class_limits(name)

    async def limits(self, project_id: str | None, s: AsyncSession | None = None) -> dict[str, int]:
        limits = await self.class_limits(DEFAULT_CLASS, s)
        if project_id:
            async with _session(self.db, s) as s:
                rows = await s.execute(
                    select(m.QuotaLimit.resource, m.QuotaLimit.hard_limit).where(
                        m.QuotaLimit.project_id == project_id
                    )
                )
                limits.update(dict(rows.all()))
        return limits

    async def usage(self, project_id: str, s: AsyncSession | None = None) -> dict[str, int]:
        """What the project uses (read in ``s``, a transaction holding the
        project's quota lock, when the answer guards an insert)."""
        async with _session(self.db, s) as s:
            servers = (
                await s.scalars(
                    select(m.Server).where(
                        m.Server.project_id == project_id, m.Server.deleted_at.is_(None)
                    )
                )
            ).all()
            groups = await s.scalar(
                select(func.count())
                .select_from(m.ServerGroup)
                .where(m.ServerGroup.project_id == project_id)
            )
        return {
            "instances": len(servers),
            "cores": sum(int(v.flavor.get("vcpus", 0)) for v in servers),
            "ram": sum(int(v.flavor.get("ram", 0)) for v in servers),
            "server_groups": groups or 0,
        }

    def allowed(
        self, limits: dict[str, int], used: dict[str, int], per_item: dict[str, int]
    ) -> int | None:
        """How many items costing ``per_item`` fit the limits (None: any)."""
        room: int | None = None
        for resource, cost in per_item.items():
            limit = limits.get(resource, -1)
            if limit < 0 or cost <= 0:
                continue
            fits = max((limit - used.get(resource, 0)) // cost, 0)
            room = fits if room is None else min(room, fits)
        return room

    async def check(
        self,
        project_id: str | None,
        requests: dict[str, tuple[int, int]],
        limits: dict[str, int] | None = None,
    ) -> None:
        """Refuse (403, naming the quota) when a request would pass a limit;
        ``requests`` maps a resource to (already used, requested now)."""
        limits = limits if limits is not None else await self.limits(project_id)
        for resource, (used, requested) in requests.items():
            limit = limits.get(resource, -1)
            if limit >= 0 and used + requested > limit:
                raise QuotaExceeded(
                    f"Quota exceeded for {resource}: Requested {requested}, "
                    f"but already used {used} of {limit} {resource}"
                )

    async def set(self, project_id: str, values: dict[str, Any]) -> dict[str, int]:
        async with self.db.transaction() as s:
            for resource, value in values.items():
                row = await s.get(m.QuotaLimit, (project_id, resource))
                if row is None:
                    s.add(
                        m.QuotaLimit(
                            project_id=project_id, resource=resource, hard_limit=int(value)
                        )
                    )
                else:
                    row.hard_limit = int(value)
        return await self.limits(project_id)

    async def reset(self, project_id: str) -> None:
        async with self.db.transaction() as s:
            for row in (
                await s.scalars(select(m.QuotaLimit).where(m.QuotaLimit.project_id == project_id))
            ).all():
                await s.delete(row)
