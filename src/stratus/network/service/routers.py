"""Routers: interfaces on project subnets (added by subnet or by port), an
external gateway with SNAT, and static routes (``extraroute``)."""

from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.context import RequestContext
from stratus.network import models as m
from stratus.network.errors import (
    BadRequest,
    InvalidRoutes,
    PortInUse,
    RouterInterfaceInUseByFloatingIP,
    RouterInterfaceInUseByRoute,
    RouterInterfaceNotFound,
    RouterInterfaceNotFoundForSubnet,
    RouterInUse,
    RouterNotFound,
)
from stratus.network.service import gateways, ipam, records
from stratus.network.service.core import Changes, Core, check_revision, owned, push_filters
from stratus.network.service.devices import assign, bind, new_port
from stratus.network.service.ports import Ports
from stratus.network.service.quotas import Quotas
from stratus.network.service.subnets import Subnets
from stratus.network.service.tags import drop_tags, set_tags

MAX_ROUTES = 30
COLUMNS = {
    "id": m.Router.id,
    "name": m.Router.name,
    "status": m.Router.status,
    "project_id": m.Router.project_id,
    "tenant_id": m.Router.project_id,
}


class Routers:
    def __init__(self, core: Core, quotas: Quotas, subnets: Subnets, ports: Ports):
        self.core = core
        self.quotas = quotas
        self.subnets = subnets
        self.ports = ports

    async def load(self, s: AsyncSession, ctx: RequestContext, router_id: str) -> m.Router:
        router = await s.get(m.Router, router_id)
        if router is None or not (ctx.is_admin or router.project_id == ctx.project_id):
            raise RouterNotFound(router_id)
        return router

    async def get(self, ctx: RequestContext, router_id: str) -> records.RouterRecord:
        async def work(s: AsyncSession) -> records.RouterRecord:
            return (await records.routers(s, [await self.load(s, ctx, router_id)]))[0]

        return await self.core.read(work)

    async def find(
        self, ctx: RequestContext, filters: dict[str, list[str]] | None = None
    ) -> list[records.RouterRecord]:
        async def work(s: AsyncSession) -> list[records.RouterRecord]:
            stmt = owned(ctx, m.Router.project_id, push_filters(select(m.Router), COLUMNS, filters))
            rows = (await s.scalars(stmt.order_by(m.Router.created_at, m.Router.id))).all()
            return await records.routers(s, rows)

        return await self.core.read(work)

    async def create(self, ctx: RequestContext, attrs: dict[str, Any]) -> records.RouterRecord:
        async def work(s: AsyncSession, ch: Changes) -> records.RouterRecord:
            router = await self.create_in(s, ch, ctx, attrs)
            return (await records.routers(s, [router]))[0]

        return await self.core.write(work)

    async def create_in(
        self, s: AsyncSession, ch: Changes, ctx: RequestContext, attrs: dict[str, Any]
    ) -> m.Router:
        project = attrs.get("project_id") or ctx.project_id or ""
        await self.quotas.check(s, project, "router")
        router = m.Router(
            project_id=project,
            name=attrs.get("name") or "",
            description=attrs.get("description") or "",
            admin_state_up=attrs.get("admin_state_up", True),
            host=self.core.host,
            routes=[],
        )
        s.add(router)
        await s.flush()
        ch.hosts.add(self.core.host)
        await gateways.set_gateway(s, ch, ctx, router, attrs.get("external_gateway_info"))
        if attrs.get("tags"):
            await set_tags(s, router.id, attrs["tags"])
        await s.flush()
        return router

    async def update(
        self, ctx: RequestContext, router_id: str, attrs: dict[str, Any], if_match: int | None
    ) -> records.RouterRecord:
        async def work(s: AsyncSession, ch: Changes) -> records.RouterRecord:
            router = await self.load(s, ctx, router_id)
            check_revision(router, if_match)
            ch.hosts.add(router.host or self.core.host)
            for key in ("name", "description", "admin_state_up"):
                if key in attrs and attrs[key] is not None:
                    setattr(router, key, attrs[key])
            if "external_gateway_info" in attrs:
                await gateways.set_gateway(s, ch, ctx, router, attrs["external_gateway_info"])
            if "routes" in attrs:
                router.routes = await self._check_routes(s, router, attrs["routes"] or [])
            router.bump()
            await s.flush()
            return (await records.routers(s, [router]))[0]

        return await self.core.write(work)

    async def change_routes(
        self, ctx: RequestContext, router_id: str, routes: list[dict[str, Any]], *, add: bool
    ) -> records.RouterRecord:
        """``add_extraroutes`` / ``remove_extraroutes``: one atomic change."""

        async def work(s: AsyncSession, ch: Changes) -> records.RouterRecord:
            router = await self.load(s, ctx, router_id)
            ch.hosts.add(router.host or self.core.host)
            given = await self._check_routes(s, router, routes, connected=add)
            if add:
                wanted = router.routes + [r for r in given if r not in router.routes]
            else:
                wanted = [r for r in router.routes if r not in given]
            router.routes = await self._check_routes(s, router, wanted)
            router.bump()
            await s.flush()
            return (await records.routers(s, [router]))[0]

        return await self.core.write(work)

    async def _check_routes(
        self, s: AsyncSession, router: m.Router, routes: list[Any], *, connected: bool = True
    ) -> list[dict[str, str]]:
        own_ips: set[str] = set()
        nets: list[ipam.IPNet] = []
        for port in await self.interfaces(s, router.id):
            for subnet_id, ip in (await records.fixed_ips_of(s, [port.id]))[port.id]:
                own_ips.add(ip)
                subnet = await s.get(m.Subnet, subnet_id)
                if subnet is not None:
                    nets.append(ipam.network_of(subnet.cidr))
        out: list[dict[str, str]] = []
        for route in routes:
            if not isinstance(route, dict) or set(route) != {"destination", "nexthop"}:
                raise InvalidRoutes(routes, "the routes need a destination and a nexthop")
            dest = ipam.parse_cidr(route["destination"], strict=False)
            hop = ipam.parse_ip(route["nexthop"])
            if connected and not any(hop in n for n in nets):
                raise InvalidRoutes(routes, "the nexthop is not connected with router")
            if str(hop) in own_ips:
                raise InvalidRoutes(routes, "the nexthop is used by router")
            item = {"destination": str(dest), "nexthop": str(hop)}
            if item not in out:
                out.append(item)
        if len(out) > MAX_ROUTES:
            raise BadRequest(
                f"Unable to complete operation for {router.id}. The number of routes exceeds "
                f"the maximum {MAX_ROUTES}."
            )
        return out

    async def delete(self, ctx: RequestContext, router_id: str, if_match: int | None) -> None:
        async def work(s: AsyncSession, ch: Changes) -> None:
            router = await self.load(s, ctx, router_id)
            check_revision(router, if_match)
            await self.delete_in(s, ch, router)

        await self.core.write(work)

    async def delete_in(self, s: AsyncSession, ch: Changes, router: m.Router) -> None:
        if await self.interfaces(s, router.id):
            raise RouterInUse(router.id)
        ch.hosts.add(router.host or self.core.host)
        await gateways.clear(s, ch, router)
        await drop_tags(s, [router.id])
        await s.delete(router)

    # -- interfaces ------------------------------------------------------------------

    async def interfaces(self, s: AsyncSession, router_id: str) -> list[m.Port]:
        return list(
            (
                await s.scalars(
                    select(m.Port)
                    .where(m.Port.device_id == router_id, m.Port.device_owner == m.ROUTER_INTERFACE)
                    .order_by(m.Port.created_at)
                )
            ).all()
        )

    async def _check_overlap(self, s: AsyncSession, router: m.Router, subnet: m.Subnet) -> None:
        new = ipam.network_of(subnet.cidr)
        for port in await self.interfaces(s, router.id):
            for other_id, _ip in (await records.fixed_ips_of(s, [port.id]))[port.id]:
                other = await s.get(m.Subnet, other_id)
                if other is None:
                    continue
                if other.id == subnet.id:
                    raise BadRequest.of(
                        "router", f"Router already has a port on subnet {subnet.id}"
                    )
                if ipam.overlap(new, ipam.network_of(other.cidr)):
                    raise BadRequest.of(
                        "router",
                        f"Cidr {subnet.cidr} of subnet {subnet.id} overlaps with cidr "
                        f"{other.cidr} of subnet {other.id}",
                    )

    async def add_interface(
        self, ctx: RequestContext, router_id: str, subnet_id: str | None, port_id: str | None
    ) -> dict[str, Any]:
        if bool(subnet_id) == bool(port_id):
            raise BadRequest.of("router", "Either subnet_id or port_id must be specified")

        async def work(s: AsyncSession, ch: Changes) -> dict[str, Any]:
            router = await self.load(s, ctx, router_id)
            return await self.add_interface_in(s, ch, ctx, router, subnet_id, port_id)

        return await self.core.write(work)

    async def add_interface_in(
        self,
        s: AsyncSession,
        ch: Changes,
        ctx: RequestContext,
        router: m.Router,
        subnet_id: str | None,
        port_id: str | None = None,
    ) -> dict[str, Any]:
        if port_id:
            port = await self._adopt_port(s, ctx, router, port_id)
        else:
            port = await self._port_for_subnet(s, ctx, router, str(subnet_id))
        router.bump()
        ch.port(port)
        ch.hosts.add(router.host or self.core.host)
        return await self._info(s, router, port)

    async def _adopt_port(
        self, s: AsyncSession, ctx: RequestContext, router: m.Router, port_id: str
    ) -> m.Port:
        port = await self.ports.load(s, ctx, port_id)
        if port.device_id or port.device_owner:
            raise PortInUse(port.id, port.network_id, port.device_id or port.device_owner)
        ips = (await records.fixed_ips_of(s, [port.id]))[port.id]
        if not ips:
            raise BadRequest.of("router", "Router port must have at least one fixed IP")
        v4 = [ip for _sid, ip in ips if ":" not in ip]
        if len(v4) > 1:
            raise BadRequest.of("router", "Cannot have multiple IPv4 subnets on router port")
        for subnet_id, _ip in ips:
            subnet = await s.get(m.Subnet, subnet_id)
            if subnet is not None:
                await self._check_overlap(s, router, subnet)
        port.device_id, port.device_owner = router.id, m.ROUTER_INTERFACE
        port.port_security_enabled = False
        await s.execute(delete(m.PortSecurityGroup).where(m.PortSecurityGroup.port_id == port.id))
        bind(port, router.host or self.core.host)
        port.bump()
        return port

    async def _port_for_subnet(
        self, s: AsyncSession, ctx: RequestContext, router: m.Router, subnet_id: str
    ) -> m.Port:
        subnet = await self.subnets.load(s, ctx, subnet_id)
        if not subnet.gateway_ip:
            raise BadRequest.of("router", "Subnet for router interface must have a gateway IP")
        await self._check_overlap(s, router, subnet)
        net = await s.get(m.Network, subnet.network_id)
        assert net is not None
        port = await new_port(
            s,
            net,
            project_id=router.project_id,
            device_owner=m.ROUTER_INTERFACE,
            device_id=router.id,
            host=router.host or self.core.host,
        )
        await assign(s, port, [ipam.Request(subnet.id, subnet.gateway_ip)], router=True)
        return port

    async def _info(self, s: AsyncSession, router: m.Router, port: m.Port) -> dict[str, Any]:
        ips = (await records.fixed_ips_of(s, [port.id]))[port.id]
        subnet_ids = [sid for sid, _ip in ips]
        return {
            "id": router.id,
            "tenant_id": router.project_id,
            "project_id": router.project_id,
            "port_id": port.id,
            "network_id": port.network_id,
            "subnet_id": subnet_ids[0] if subnet_ids else None,
            "subnet_ids": subnet_ids,
        }

    async def remove_interface(
        self, ctx: RequestContext, router_id: str, subnet_id: str | None, port_id: str | None
    ) -> dict[str, Any]:
        if not subnet_id and not port_id:
            raise BadRequest.of("router", "Either subnet_id or port_id must be specified")

        async def work(s: AsyncSession, ch: Changes) -> dict[str, Any]:
            router = await self.load(s, ctx, router_id)
            ports = await self.interfaces(s, router.id)
            if port_id:
                port = next((p for p in ports if p.id == port_id), None)
                if port is None:
                    raise RouterInterfaceNotFound(router.id, port_id)
            else:
                port = None
                for candidate in ports:
                    held = (await records.fixed_ips_of(s, [candidate.id]))[candidate.id]
                    if any(sid == subnet_id for sid, _ip in held):
                        port = candidate
                        break
                if port is None:
                    raise RouterInterfaceNotFoundForSubnet(router.id, str(subnet_id))
            info = await self._info(s, router, port)
            gone = [subnet_id] if subnet_id else info["subnet_ids"]
            await self._check_unused(s, router, [str(g) for g in gone])
            ch.port(port)
            ch.hosts.add(router.host or self.core.host)
            await ch.settle(s)
            held = (await records.fixed_ips_of(s, [port.id]))[port.id]
            if subnet_id and len(held) > 1:
                await ipam.release(s, port.id, subnet_id)
                info["subnet_id"], info["subnet_ids"] = subnet_id, [subnet_id]
            else:
                await drop_tags(s, [port.id])
                await s.delete(port)
            router.bump()
            return info

        return await self.core.write(work)

    async def _check_unused(self, s: AsyncSession, router: m.Router, subnet_ids: list[str]) -> None:
        for subnet_id in subnet_ids:
            subnet = await s.get(m.Subnet, subnet_id)
            if subnet is None:
                continue
            net = ipam.network_of(subnet.cidr)
            for route in router.routes:
                if ipaddress.ip_address(route["nexthop"]) in net:
                    raise RouterInterfaceInUseByRoute(router.id, subnet_id)
            fips = await s.scalars(
                select(m.FloatingIP.fixed_ip_address).where(m.FloatingIP.router_id == router.id)
            )
            if any(ip and ipaddress.ip_address(ip) in net for ip in fips):
                raise RouterInterfaceInUseByFloatingIP(router.id, subnet_id)
