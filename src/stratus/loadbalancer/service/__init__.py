"""The load-balancing service layer: one facade over its parts, and the
calls its agents make."""

from __future__ import annotations

import logging
import socket
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.config import Config
from stratus.common.context import RequestContext
from stratus.common.db import Database, utcnow
from stratus.loadbalancer import models as m
from stratus.loadbalancer.drivers.base import Health, LoadBalancerSpec
from stratus.loadbalancer.service import relations
from stratus.loadbalancer.service import tree as trees
from stratus.loadbalancer.service.core import QUOTA_KINDS, Core
from stratus.loadbalancer.service.flavors import Flavors
from stratus.loadbalancer.service.loadbalancers import LoadBalancers
from stratus.loadbalancer.service.objects import Objects
from stratus.loadbalancer.service.vip import VipNetworking

log = logging.getLogger(__name__)


def lb_host(cfg: Config) -> str:
    """The host whose agent runs the load balancers made here: the network
    host, which plugs their VIP ports into their namespaces."""
    return cfg.loadbalancer.host or cfg.network.host or cfg.compute.host or socket.gethostname()


class LoadBalancerService:
    def __init__(self, cfg: Config, db: Database, network: Any = None):
        self.cfg = cfg
        self.db = db
        self.host = lb_host(cfg)
        self.core = Core(cfg, db)
        self.vips = VipNetworking(network, self.host) if network is not None else None
        self.objects = Objects(self.core, self.vips)
        self.flavors = Flavors(self.core)
        self.loadbalancers = LoadBalancers(
            self.core, self.vips, self.host, self.objects, self.flavors
        )

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    # -- what users read beyond objects -----------------------------------------------

    async def related(self, kind: str, ids: list[str]) -> relations.Related:
        return await self.core.read(lambda s: relations.related(s, kind, ids))

    async def status(self, ctx: RequestContext, lb_id: str) -> dict[str, Any]:
        async def work(s: AsyncSession) -> dict[str, Any]:
            lb = await self.core.load(s, ctx, "loadbalancer", lb_id)
            return trees.status_tree(await trees.load(s, lb))

        return await self.core.read(work)

    async def stats(self, ctx: RequestContext, kind: str, ident: str) -> dict[str, int]:
        async def work(s: AsyncSession) -> dict[str, int]:
            row = await self.core.load(s, ctx, kind, ident)
            column = (
                m.ListenerStats.loadbalancer_id
                if kind == "loadbalancer"
                else m.ListenerStats.listener_id
            )
            rows = (await s.scalars(select(m.ListenerStats).where(column == row.id))).all()
            keys = ("active_connections", "bytes_in", "bytes_out", "request_errors",
                    "total_connections")  # fmt: skip
            return {k: sum(int(getattr(r, k)) for r in rows) for k in keys}

        return await self.core.read(work)

    async def quota(self, project_id: str) -> dict[str, int]:
        return await self.core.read(lambda s: self.core.limits_in(s, project_id))

    async def quotas(self) -> list[tuple[str, dict[str, int]]]:
        async def work(s: AsyncSession) -> list[tuple[str, dict[str, int]]]:
            ids = (await s.scalars(select(m.Quota.project_id).order_by(m.Quota.project_id))).all()
            return [(pid, await self.core.limits_in(s, pid)) for pid in ids]

        return await self.core.read(work)

    async def set_quota(self, project_id: str, limits: dict[str, int | None]) -> dict[str, int]:
        async def work(s: AsyncSession) -> dict[str, int]:
            row = await s.get(m.Quota, project_id)
            if row is None:
                row = m.Quota(project_id=project_id)
                s.add(row)
            for kind in QUOTA_KINDS:
                if kind in limits:
                    setattr(row, kind, limits[kind])
            await s.flush()
            return await self.core.limits_in(s, project_id)

        return await self.core.write(work)

    async def reset_quota(self, project_id: str) -> None:
        async def work(s: AsyncSession) -> None:
            row = await s.get(m.Quota, project_id)
            if row is not None:
                await s.delete(row)

        await self.core.write(work)

    # -- the agent's calls --------------------------------------------------------------

    async def register_agent(self, host: str) -> None:
        async def work(s: AsyncSession) -> None:
            row = await s.get(m.Agent, host)
            if row is None:
                s.add(m.Agent(host=host))
            else:
                row.started_at = row.heartbeat_at = utcnow()

        await self.core.write(work)

    async def heartbeat(self, host: str) -> None:
        async def work(s: AsyncSession) -> None:
            row = await s.get(m.Agent, host)
            if row is not None:
                row.heartbeat_at = utcnow()

        async with self.db.transaction() as s:
            await work(s)

    async def agent_up(self, host: str) -> bool:
        async def work(s: AsyncSession) -> bool:
            row = await s.get(m.Agent, host)
            limit = timedelta(seconds=self.cfg.loadbalancer.agent_down_time)
            return row is not None and utcnow() - row.heartbeat_at < limit

        return await self.core.read(work)

    async def hosted(self, host: str) -> list[m.LoadBalancer]:
        """The load balancers of a host (the deleted ones' rows are gone)."""

        async def work(s: AsyncSession) -> list[m.LoadBalancer]:
            return list(
                (await s.scalars(select(m.LoadBalancer).where(m.LoadBalancer.host == host))).all()
            )

        return await self.core.read(work)

    async def pending(self, host: str) -> list[str]:
        async def work(s: AsyncSession) -> list[str]:
            stmt = select(m.LoadBalancer.id).where(
                m.LoadBalancer.host == host, m.LoadBalancer.task.is_not(None)
            )
            return list((await s.scalars(stmt)).all())

        return await self.core.read(work)

    async def work_of(self, lb_id: str) -> tuple[m.LoadBalancer, LoadBalancerSpec] | None:
        """The load balancer, its task and generation, and its spec."""

        async def work(s: AsyncSession) -> tuple[m.LoadBalancer, LoadBalancerSpec] | None:
            lb = await s.get(m.LoadBalancer, lb_id)
            if lb is None:
                return None
            return lb, trees.spec(await trees.load(s, lb))

        return await self.core.read(work)

    async def bind_vip(self, lb_id: str, netns: str) -> None:
        """The VIP port is bound to this host's namespace of the load
        balancer (the network agent then plugs it there)."""
        lb = await self.core.read(lambda s: s.get(m.LoadBalancer, lb_id))
        if self.vips is not None and lb is not None and lb.vip_port_id:
            await self.vips.bind(lb.vip_port_id, lb.host, netns)

    async def open_vip(self, lb_id: str) -> None:
        """The VIP's security group opens the live listeners' ports."""
        if self.vips is None:
            return

        async def work(s: AsyncSession) -> tuple[str, set[tuple[int, str]]]:
            lb = await s.get(m.LoadBalancer, lb_id)
            if lb is None or not lb.vip_sg_id:
                return "", set()
            rows = await s.scalars(select(m.Listener).where(m.Listener.loadbalancer_id == lb_id))
            wanted = set()
            for x in rows:
                if x.provisioning_status != m.PENDING_DELETE:
                    for cidr in x.allowed_cidrs or ["0.0.0.0/0"]:
                        wanted.add((x.protocol_port, cidr))
            return lb.vip_sg_id, wanted

        group, wanted = await self.core.read(work)
        if group:
            await self.vips.open_ports(group, wanted)

    async def applied(self, lb_id: str, generation: int) -> bool:
        """The agent applied this generation: settle the tree, unless it
        changed meanwhile (then the agent goes again)."""

        async def work(s: AsyncSession) -> bool:
            lb = await s.get(m.LoadBalancer, lb_id, populate_existing=True)
            if lb is None or lb.generation != generation:
                return False
            await trees.settle(s, await trees.load(s, lb))
            return True

        async with self.db.transaction() as s:
            return await work(s)

    async def failed(self, lb_id: str, generation: int, reason: str) -> None:
        async def work(s: AsyncSession) -> None:
            lb = await s.get(m.LoadBalancer, lb_id, populate_existing=True)
            if lb is None or lb.generation != generation:
                return
            tree = await trees.load(s, lb)
            for row in [lb, *tree.rows()]:
                if row.provisioning_status in m.PENDING:
                    row.provisioning_status = m.ERROR
            lb.operating_status = "ERROR"
            lb.task = None
            lb.error = reason[:2000]

        async with self.db.transaction() as s:
            await work(s)

    async def deleted(self, lb_id: str) -> None:
        """The agent removed the data plane: the VIP port, its group and
        every row of the tree go."""
        lb = await self.core.read(lambda s: s.get(m.LoadBalancer, lb_id))
        if lb is None:
            return
        if self.vips is not None and lb.vip_port_id:
            await self.vips.drop_port(lb.vip_port_id, lb.vip_sg_id, lb.vip_port_owned)

        async def work(s: AsyncSession) -> None:
            row = await s.get(m.LoadBalancer, lb_id, populate_existing=True)
            if row is not None:
                await trees.drop(s, row)

        async with self.db.transaction() as s:
            await work(s)

    async def record_health(self, lb_id: str, health: Health) -> None:
        async def work(s: AsyncSession) -> None:
            lb = await s.get(m.LoadBalancer, lb_id, populate_existing=True)
            if lb is None or lb.provisioning_status != m.ACTIVE:
                return
            trees.record_health(await trees.load(s, lb), health)
            for counters in health.listeners:
                row = await s.get(m.ListenerStats, counters.listener_id)
                if row is None:
                    if await s.get(m.Listener, counters.listener_id) is None:
                        continue
                    row = m.ListenerStats(listener_id=counters.listener_id, loadbalancer_id=lb_id)
                    s.add(row)
                row.active_connections = counters.active_connections
                keys = ("total_connections", "bytes_in", "bytes_out", "request_errors")
                raw = [int(getattr(counters, k)) for k in keys]
                last = list(row.last_raw or [0, 0, 0, 0])
                # A counter lower than last time: a new process (reload, restart).
                restarted = any(r < seen for r, seen in zip(raw, last, strict=True))
                for key, now, seen in zip(keys, raw, last, strict=True):
                    grown = now if restarted else now - seen
                    setattr(row, key, int(getattr(row, key) or 0) + grown)
                row.last_raw = raw

        async with self.db.transaction() as s:
            await work(s)

    async def abandon_unfinished(self, host: str) -> list[str]:
        """At an agent's start: load balancers whose VIP was never made (the
        cloud died in their creation) are put in ERROR."""

        async def work(s: AsyncSession) -> list[str]:
            rows = (
                await s.scalars(
                    select(m.LoadBalancer).where(
                        m.LoadBalancer.host == host,
                        m.LoadBalancer.task.is_(None),
                        m.LoadBalancer.provisioning_status == m.PENDING_CREATE,
                    )
                )
            ).all()
            for lb in rows:
                lb.provisioning_status, lb.operating_status = m.ERROR, "ERROR"
                lb.error = "The cloud stopped while the load balancer's VIP was made."
            return [lb.id for lb in rows]

        async with self.db.transaction() as s:
            return await work(s)
