"""Per-project quotas (os-quota-sets): configured defaults, project overrides,
and usage counted from the servers themselves."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from stratus.common.config import ComputeConfig
from stratus.common.db import Database
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


class Quotas:
    def __init__(self, db: Database, cfg: ComputeConfig):
        self.db = db
        self.defaults = {r: getattr(cfg, f"quota_{r}") for r in RESOURCES}

    async def limits(self, project_id: str | None) -> dict[str, int]:
        limits = dict(self.defaults)
        if project_id:
            async with self.db.session() as s:
                rows = await s.execute(
                    select(m.QuotaLimit.resource, m.QuotaLimit.hard_limit).where(
                        m.QuotaLimit.project_id == project_id
                    )
                )
                limits.update(dict(rows.all()))
        return limits

    async def usage(self, project_id: str) -> dict[str, int]:
        async with self.db.session() as s:
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

    async def check(self, project_id: str | None, requests: dict[str, tuple[int, int]]) -> None:
        """Refuse (403, naming the quota) when a request would pass a limit;
        ``requests`` maps a resource to (already used, requested now)."""
        limits = await self.limits(project_id)
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
