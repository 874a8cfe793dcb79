"""Load balancers: made with their VIP port, changed, failed over and deleted
(with their whole tree when ``cascade``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common import logs
from stratus.common.context import RequestContext
from stratus.common.db import utcnow
from stratus.loadbalancer import models as m
from stratus.loadbalancer.errors import InvalidOption, NoAgent
from stratus.loadbalancer.service import graph
from stratus.loadbalancer.service import tree as graph_tree
from stratus.loadbalancer.service.core import Core
from stratus.loadbalancer.service.flavors import Flavors
from stratus.loadbalancer.service.objects import Objects
from stratus.loadbalancer.service.vip import Vip, VipNetworking

CHILDREN = (m.Listener, m.Pool)


class LoadBalancers:
    def __init__(
        self, core: Core, vips: VipNetworking | None, host: str, objects: Objects, flavors: Flavors
    ):
        self.core = core
        self.vips = vips
        self.host = host
        self.objects = objects
        self.flavors = flavors
        self._service_project: str | None = None

    async def get(self, ctx: RequestContext, lb_id: str) -> m.LoadBalancer:
        return await self.core.read(lambda s: self.core.load(s, ctx, "loadbalancer", lb_id))

    async def find(self, ctx: RequestContext) -> list[m.LoadBalancer]:
        async def work(s: AsyncSession) -> list[m.LoadBalancer]:
            stmt = select(m.LoadBalancer).where(m.LoadBalancer.provisioning_status != m.DELETED)
            if not ctx.is_admin:
                stmt = stmt.where(m.LoadBalancer.project_id == (ctx.project_id or ""))
            return list((await s.scalars(stmt.order_by(m.LoadBalancer.created_at))).all())

        return await self.core.read(work)

    async def create(self, ctx: RequestContext, attrs: dict[str, Any]) -> m.LoadBalancer:
        if self.vips is None:
            raise NoAgent("The network service is not enabled: a load balancer needs its VIP.")
        project = attrs.get("project_id") or ctx.project_id or ""
        address = attrs.get("vip_address")
        vip = await self.vips.resolve(
            ctx,
            attrs.get("vip_subnet_id"),
            attrs.get("vip_network_id"),
            attrs.get("vip_port_id"),
            address,
        )
        if attrs.get("provider") not in (None, "haproxy", "amphora", "octavia"):
            raise InvalidOption(f"Provider '{attrs['provider']}' is not enabled.")

        lb = await self.core.write(lambda s: self._reserve(s, ctx, project, attrs, vip))
        try:
            owner = await self.service_project()
            port_id, addr, group = await self.vips.make_port(
                project, lb.id, vip, None if vip.port_id else address, owner
            )
        except BaseException:
            await self.core.write(lambda s: self._forget(s, lb.id))
            raise

        async def ready(s: AsyncSession) -> m.LoadBalancer:
            row = await s.get(m.LoadBalancer, lb.id, populate_existing=True)
            assert row is not None
            row.vip_port_id, row.vip_address, row.vip_sg_id = port_id, addr, group
            row.task = m.T_APPLY
            row.generation += 1
            return row

        return await self.core.write(ready)

    async def _reserve(
        self, s: AsyncSession, ctx: RequestContext, project: str, attrs: dict[str, Any], vip: Vip
    ) -> m.LoadBalancer:
        """The load balancer's row (and the tree given with it), checked,
        waiting for its VIP port."""
        await self.core.check_quota(s, project, "loadbalancer")
        if attrs.get("flavor_id"):
            await self.flavors.usable(s, attrs["flavor_id"])
        lb = m.LoadBalancer(
            project_id=project,
            name=attrs.get("name") or "",
            description=attrs.get("description") or "",
            admin_state_up=attrs.get("admin_state_up", True),
            vip_subnet_id=vip.subnet_id,
            vip_network_id=vip.network_id,
            vip_port_owned=not vip.port_id,
            provider="haproxy",
            availability_zone=attrs.get("availability_zone"),
            flavor_id=attrs.get("flavor_id"),
            tags=list(attrs.get("tags") or []),
            host=self.host,
            provisioning_status=m.PENDING_CREATE,
            operating_status=m.OFFLINE,
            task=None,  # the agent waits for the VIP port
            request_id=logs.current_request_id() or "",
        )
        s.add(lb)
        await s.flush()
        if attrs.get("listeners") or attrs.get("pools"):
            # The tree is checked with its load balancer, before the VIP.
            await graph.build(self.objects, s, ctx, lb, attrs.get("listeners") or [],
                              attrs.get("pools") or [])  # fmt: skip
        return lb

    async def service_project(self) -> str:
        """The id of the cloud's service project (the identity service's
        ``service``), which owns the VIPs' security groups; empty without it."""
        if self._service_project is None:
            from stratus.identity import models as idm
            from stratus.identity.service.projects import DEFAULT_DOMAIN_ID

            stmt = select(idm.Project.id).where(
                idm.Project.name == "service", idm.Project.domain_id == DEFAULT_DOMAIN_ID
            )
            self._service_project = await self.core.read(lambda s: s.scalar(stmt)) or ""
        return self._service_project

    @staticmethod
    async def _forget(s: AsyncSession, lb_id: str) -> None:
        """A load balancer whose VIP could not be made goes with its whole
        tree (listeners, pools, members, monitors, L7 policies and rules)."""
        row = await s.get(m.LoadBalancer, lb_id)
        if row is not None:
            await graph_tree.drop(s, row)

    async def update(
        self, ctx: RequestContext, lb_id: str, attrs: dict[str, Any]
    ) -> m.LoadBalancer:
        async def work(s: AsyncSession) -> m.LoadBalancer:
            lb = await self.core.load(s, ctx, "loadbalancer", lb_id)
            lb = await self.core.lock(s, lb.id)
            for key in ("name", "description", "admin_state_up", "tags"):
                if key in attrs and attrs[key] is not None:
                    setattr(lb, key, attrs[key])
            self.core.changed(lb)
            return lb

        return await self.core.write(work)

    async def delete(self, ctx: RequestContext, lb_id: str, cascade: bool) -> None:
        async def work(s: AsyncSession) -> None:
            lb = await self.core.load(s, ctx, "loadbalancer", lb_id)
            lb = await self.core.lock(s, lb.id)
            if not cascade:
                for model in CHILDREN:
                    child = await s.scalar(
                        select(model.id).where(
                            model.loadbalancer_id == lb.id, model.provisioning_status != m.DELETED
                        )
                    )
                    if child is not None:
                        raise InvalidOption(
                            f"Cannot delete Load Balancer {lb.id} - it has children"
                        )
            self.core.changed(lb, m.T_DELETE)

        await self.core.write(work)

    async def failover(self, ctx: RequestContext, lb_id: str) -> None:
        """Octavia's failover: the data plane is made anew (here: its
        process and namespace restarted from the configuration)."""

        async def work(s: AsyncSession) -> None:
            lb = await self.core.load(s, ctx, "loadbalancer", lb_id)
            lb = await self.core.lock(s, lb.id)
            self.core.changed(lb, m.T_FAILOVER)
            lb.updated_at = utcnow()

        await self.core.write(work)
