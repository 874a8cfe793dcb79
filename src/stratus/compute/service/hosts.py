"""Compute hosts as os-services and os-hypervisors show them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.db import Database
from stratus.compute import models as m
from stratus.compute.errors import NotFound
from stratus.compute.service.scheduler import Scheduler, Usage


@dataclass
class HostView:
    host: m.ComputeHost
    alive: bool
    used: Usage


class Hosts:
    def __init__(self, db: Database, scheduler: Scheduler):
        self.db = db
        self.scheduler = scheduler

    async def list_hosts(self) -> list[HostView]:
        async with self.db.session() as s:
            hosts = await _hosts(s)
            usage = await self.scheduler.usage(s)
        return [HostView(h, self.scheduler.alive(h), usage.get(h.host, Usage())) for h in hosts]

    async def alive(self) -> list[tuple[m.ComputeHost, bool]]:
        """Each host and whether its agent is alive: what the servers'
        ``host_status`` needs, without the usage ``list_hosts`` adds up."""
        async with self.db.session() as s:
            hosts = await _hosts(s)
        return [(h, self.scheduler.alive(h)) for h in hosts]

    async def find(self, ident: str) -> HostView:
        for view in await self.list_hosts():
            if ident in (str(view.host.id), view.host.uuid, view.host.host):
                return view
        raise NotFound(f"Compute host {ident} could not be found.")

    async def matching(self, pattern: str) -> list[HostView]:
        """Hosts whose name contains ``pattern`` (Nova's hostname search);
        404 when none does."""
        rows = [v for v in await self.list_hosts() if pattern in v.host.host]
        if not rows:
            raise NotFound(f"No hypervisor matching '{pattern}' could be found.")
        return rows

    async def servers_on(self, hosts: list[str]) -> dict[str, list[m.Server]]:
        """The servers (not deleted) on each of ``hosts``, oldest first."""
        out: dict[str, list[m.Server]] = {h: [] for h in hosts}
        if not hosts:
            return out
        async with self.db.session() as s:
            rows = (
                await s.scalars(
                    select(m.Server)
                    .where(m.Server.host.in_(hosts), m.Server.deleted_at.is_(None))
                    .order_by(m.Server.created_at, m.Server.id)
                )
            ).all()
        for server in rows:
            out.setdefault(server.host or "", []).append(server)
        return out

    async def set_state(
        self,
        ident: str,
        *,
        disabled: bool | None = None,
        reason: str | None = None,
        forced_down: bool | None = None,
    ) -> HostView:
        view = await self.find(ident)
        async with self.db.transaction() as s:
            row = await s.get(m.ComputeHost, view.host.id)
            assert row is not None
            if disabled is not None:
                row.disabled = disabled
                row.disabled_reason = reason if disabled else None
            if forced_down is not None:
                row.forced_down = forced_down
        return await self.find(ident)


async def _hosts(s: AsyncSession) -> Sequence[m.ComputeHost]:
    return (await s.scalars(select(m.ComputeHost).order_by(m.ComputeHost.id))).all()
