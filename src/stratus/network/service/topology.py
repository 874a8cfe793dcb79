"""Get me a network (``auto-allocated-topology``): a project's network,
subnet (carved from the default subnet pool) and router (with a gateway on
the default external network), made on first use in one transaction.  The
project's row is unique, so two first uses at once make one topology: the
loser's transaction is retried and finds the winner's."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.context import RequestContext
from stratus.network import models as m
from stratus.network.errors import AutoAllocationFailure
from stratus.network.service.core import Changes, Core
from stratus.network.service.networks import Networks
from stratus.network.service.routers import Routers
from stratus.network.service.secgroups import SecurityGroups
from stratus.network.service.subnetpools import SubnetPools
from stratus.network.service.subnets import Subnets

DRY_RUN_OK = "dry-run=pass"


class Topologies:
    def __init__(
        self,
        core: Core,
        groups: SecurityGroups,
        networks: Networks,
        subnets: Subnets,
        routers: Routers,
        pools: SubnetPools,
    ):
        self.core = core
        self.groups = groups
        self.networks = networks
        self.subnets = subnets
        self.routers = routers
        self.pools = pools

    async def _requirements(self, s: AsyncSession) -> tuple[m.Network, m.SubnetPool]:
        external = await s.scalar(
            select(m.Network).where(m.Network.external.is_(True), m.Network.is_default.is_(True))
        )
        if external is None:
            raise AutoAllocationFailure("No default router:external network")
        pool = await self.pools.default_pool(s, 4)
        if pool is None:
            raise AutoAllocationFailure("No default subnetpools defined")
        return external, pool

    async def get(self, ctx: RequestContext, project_id: str, *, dry_run: bool = False) -> str:
        """The id of the project's auto-allocated network (made now when
        missing), or ``dry-run=pass`` when it could be made."""

        async def existing(s: AsyncSession) -> str | None:
            row = await s.get(m.AutoAllocatedTopology, project_id)
            if row is not None:
                return row.network_id
            await self._requirements(s)
            return None

        found = await self.core.read(existing)
        if found is not None:
            return found
        if dry_run:
            return DRY_RUN_OK
        await self.groups.ensure_default(project_id)

        async def make(s: AsyncSession, ch: Changes) -> str:
            row = await s.get(m.AutoAllocatedTopology, project_id)
            if row is not None:
                return row.network_id
            external, pool = await self._requirements(s)
            net = await self.networks.create_in(
                s, ch, project_id, {"name": "auto_allocated_network"}
            )
            subnet = await self.subnets.create_in(
                s,
                ch,
                ctx,
                {
                    "network_id": net.id,
                    "project_id": project_id,
                    "name": "auto_allocated_subnet_v4",
                    "ip_version": 4,
                    "subnetpool_id": pool.id,
                },
            )
            router = await self.routers.create_in(
                s,
                ch,
                ctx,
                {
                    "project_id": project_id,
                    "name": "auto_allocated_router",
                    "external_gateway_info": {"network_id": external.id},
                },
            )
            await s.flush()
            await self.routers.add_interface_in(s, ch, ctx, router, subnet.id)
            s.add(
                m.AutoAllocatedTopology(
                    project_id=project_id, network_id=net.id, router_id=router.id
                )
            )
            await s.flush()
            return net.id

        return await self.core.write(make)

    async def delete(self, ctx: RequestContext, project_id: str) -> None:
        """Take the project's auto-allocated topology down again."""

        async def work(s: AsyncSession, ch: Changes) -> None:
            row = await s.get(m.AutoAllocatedTopology, project_id)
            if row is None:
                raise AutoAllocationFailure(f"No auto-allocated topology for {project_id}")
            router = await s.get(m.Router, row.router_id) if row.router_id else None
            if router is not None:
                for port in await self.routers.interfaces(s, router.id):
                    ch.port(port)
                    await s.delete(port)
                await s.flush()
                await self.routers.delete_in(s, ch, router)
            net = await s.get(m.Network, row.network_id)
            await s.delete(row)
            await s.flush()
            if net is not None:
                await self.networks.delete_in(s, ch, net)

        await self.core.write(work)
