"""What projects used over a period (os-simple-tenant-usage), computed from
their servers' launched_at and terminated_at: deleted servers keep their row
(``deleted_at`` set), so a period sees the servers that ran in it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import or_, select

from stratus.common.db import Database, utcnow
from stratus.compute import models as m
from stratus.compute.errors import BadRequest


@dataclass
class ServerUsage:
    server: m.Server
    hours: float
    memory_mb: int
    local_gb: int
    vcpus: int
    flavor: str
    state: str
    uptime: int


@dataclass
class TenantUsage:
    tenant_id: str
    start: datetime
    stop: datetime
    servers: list[ServerUsage] = field(default_factory=list)

    @property
    def total_hours(self) -> float:
        return sum(u.hours for u in self.servers)

    def total(self, attr: str) -> float:
        return float(sum(u.hours * getattr(u, attr) for u in self.servers))


def hours_in(server: m.Server, start: datetime, stop: datetime) -> float:
    """Hours the server ran within [start, stop] (Nova's reckoning: from
    launch, or the period's start, to termination, or the period's end)."""
    launched, ended = server.launched_at, server.terminated_at
    if launched is None or launched > stop or (ended is not None and ended < start):
        return 0.0
    first = max(launched, start)
    last = min(ended, stop) if ended is not None else stop
    return max((last - first).total_seconds(), 0.0) / 3600.0


def _usage(server: m.Server, start: datetime, stop: datetime, now: datetime) -> ServerUsage:
    flavor = server.flavor or {}
    deleted = server.deleted_at is not None
    launched = server.launched_at or now
    until = (server.terminated_at or now) if deleted else now
    return ServerUsage(
        server=server,
        hours=hours_in(server, start, min(stop, now)),  # never charged ahead
        memory_mb=int(flavor.get("ram", 0)),
        local_gb=int(flavor.get("disk", 0)) + int(flavor.get("ephemeral", 0)),
        vcpus=int(flavor.get("vcpus", 0)),
        flavor=str(flavor.get("original_name") or flavor.get("name") or server.flavor_id),
        state="terminated" if deleted else server.vm_state,
        uptime=int((until - launched).total_seconds()),
    )


class Usages:
    def __init__(self, db: Database):
        self.db = db

    async def servers(
        self,
        start: datetime,
        stop: datetime,
        project_id: str | None = None,
        limit: int | None = None,
        marker: str | None = None,
    ) -> list[m.Server]:
        """The servers that may have run in the period (launched before its
        end, not terminated before its start), oldest first, a page of them."""
        stmt = select(m.Server).where(
            m.Server.launched_at.is_not(None),
            m.Server.launched_at < stop,
            or_(m.Server.terminated_at.is_(None), m.Server.terminated_at > start),
        )
        if project_id is not None:
            stmt = stmt.where(m.Server.project_id == project_id)
        async with self.db.session() as s:
            rows = list((await s.scalars(stmt.order_by(m.Server.created_at, m.Server.id))).all())
        if marker is not None:
            ids = [r.id for r in rows]
            if marker not in ids:
                raise BadRequest(f"marker [{marker}] not found")
            rows = rows[ids.index(marker) + 1 :]
        return rows[:limit] if limit is not None else rows

    async def by_tenant(
        self,
        start: datetime,
        stop: datetime,
        project_id: str | None = None,
        limit: int | None = None,
        marker: str | None = None,
    ) -> tuple[list[TenantUsage], str | None]:
        """Each project's usage in the period, and the marker of the next
        page (the last server of this one) when a full page was read."""
        rows = await self.servers(start, stop, project_id, limit, marker)
        now = utcnow()
        tenants: dict[str, TenantUsage] = {}
        for server in rows:
            usage = tenants.setdefault(
                server.project_id, TenantUsage(server.project_id, start, stop)
            )
            usage.servers.append(_usage(server, start, stop, now))
        more = rows[-1].id if limit is not None and rows and len(rows) == limit else None
        return list(tenants.values()), more
