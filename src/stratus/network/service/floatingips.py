"""Floating IPs: an address on an external network, owning a
``network:floatingip`` port there, associated to a project port's fixed IP
that a router with a gateway on that external network reaches."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.context import RequestContext
from stratus.common.db import utcnow
from stratus.network import models as m
from stratus.network.errors import (
    BadRequest,
    ExternalGatewayForFloatingIPNotFound,
    FloatingIPNotFound,
    FloatingIPPortAlreadyAssociated,
    NetworkNotFound,
    PortNotFound,
)
from stratus.network.service import ipam, records
from stratus.network.service.core import (
    Changes,
    Core,
    check_revision,
    owned,
    push_filters,
    sees_network,
)
from stratus.network.service.devices import assign, check_dns_name, new_port
from stratus.network.service.ports import Ports
from stratus.network.service.quotas import Quotas
from stratus.network.service.tags import drop_tags, set_tags

COLUMNS = {
    "id": m.FloatingIP.id,
    "floating_network_id": m.FloatingIP.floating_network_id,
    "floating_ip_address": m.FloatingIP.floating_ip_address,
    "port_id": m.FloatingIP.fixed_port_id,
    "router_id": m.FloatingIP.router_id,
    "fixed_ip_address": m.FloatingIP.fixed_ip_address,
    "status": m.FloatingIP.status,
    "project_id": m.FloatingIP.project_id,
    "tenant_id": m.FloatingIP.project_id,
}


class FloatingIPs:
    def __init__(self, core: Core, quotas: Quotas, ports: Ports):
        self.core = core
        self.quotas = quotas
        self.ports = ports

    async def load(self, s: AsyncSession, ctx: RequestContext, fip_id: str) -> m.FloatingIP:
        fip = await s.get(m.FloatingIP, fip_id)
        if fip is None or not (ctx.is_admin or fip.project_id == ctx.project_id):
            raise FloatingIPNotFound(fip_id)
        return fip

    async def get(self, ctx: RequestContext, fip_id: str) -> records.FloatingIPRecord:
        async def work(s: AsyncSession) -> records.FloatingIPRecord:
            return (await records.floating_ips(s, [await self.load(s, ctx, fip_id)]))[0]

        return await self.core.read(work)

    async def find(
        self, ctx: RequestContext, filters: dict[str, list[str]] | None = None
    ) -> list[records.FloatingIPRecord]:
        async def work(s: AsyncSession) -> list[records.FloatingIPRecord]:
            stmt = owned(
                ctx, m.FloatingIP.project_id, push_filters(select(m.FloatingIP), COLUMNS, filters)
            )
            rows = (await s.scalars(stmt.order_by(m.FloatingIP.created_at))).all()
            return await records.floating_ips(s, rows)

        return await self.core.read(work)

    async def create(self, ctx: RequestContext, attrs: dict[str, Any]) -> records.FloatingIPRecord:
        async def work(s: AsyncSession, ch: Changes) -> records.FloatingIPRecord:
            fip = await self.create_in(s, ch, ctx, attrs)
            return (await records.floating_ips(s, [fip]))[0]

        return await self.core.write(work)

    async def create_in(
        self, s: AsyncSession, ch: Changes, ctx: RequestContext, attrs: dict[str, Any]
    ) -> m.FloatingIP:
        net_id = str(attrs["floating_network_id"])
        net = await s.get(m.Network, net_id)
        if net is None or not sees_network(ctx, net):
            raise NetworkNotFound(net_id)
        if not net.external:
            raise BadRequest.of("floatingip", f"Network {net_id} is not a valid external network")
        project = attrs.get("project_id") or ctx.project_id or ""
        await self.quotas.check(s, project, "floatingip")
        fip_id = m.new_uuid()
        port = await new_port(s, net, project_id="", device_owner=m.FLOATINGIP, device_id=fip_id)
        address = attrs.get("floating_ip_address")
        subnet_id = attrs.get("subnet_id")
        if address is not None or subnet_id is not None:
            await assign(s, port, [ipam.Request(subnet_id, address)])
        else:
            subnets = (
                await s.scalars(
                    select(m.Subnet)
                    .where(m.Subnet.network_id == net.id, m.Subnet.ip_version == 4)
                    .order_by(m.Subnet.created_at)
                )
            ).all()
            await ipam.allocate_default(s, subnets, port.id, port.mac_address, net.id)
        ips = (await records.fixed_ips_of(s, [port.id]))[port.id]
        if not ips:
            raise BadRequest.of("floatingip", f"No IPv4 subnet on external network {net_id}")
        fip = m.FloatingIP(
            id=fip_id,
            project_id=project,
            description=attrs.get("description") or "",
            floating_network_id=net.id,
            floating_port_id=port.id,
            floating_ip_address=ips[0][1],
            status=m.DOWN,
            dns_name=check_dns_name(attrs.get("dns_name") or ""),
            dns_domain=attrs.get("dns_domain") or "",
        )
        s.add(fip)
        await s.flush()
        if attrs.get("port_id"):
            await self._associate(s, ch, ctx, fip, attrs["port_id"], attrs.get("fixed_ip_address"))
        if attrs.get("tags"):
            await set_tags(s, fip.id, attrs["tags"])
        return fip

    async def _associate(
        self,
        s: AsyncSession,
        ch: Changes,
        ctx: RequestContext,
        fip: m.FloatingIP,
        port_id: str,
        fixed_ip: str | None,
    ) -> None:
        port = await self.ports.load(s, ctx, port_id)
        if not ctx.is_admin and port.project_id != fip.project_id:
            raise PortNotFound(port_id)
        v4 = [
            (sid, ip)
            for sid, ip in (await records.fixed_ips_of(s, [port.id]))[port.id]
            if ":" not in ip
        ]
        if fixed_ip is not None:
            chosen = [(sid, ip) for sid, ip in v4 if ip == str(fixed_ip)]
            if not chosen:
                raise BadRequest.of(
                    "floatingip", f"Port {port.id} does not have fixed ip {fixed_ip}"
                )
        elif not v4:
            raise BadRequest.of(
                "floatingip",
                f"Cannot add floating IP to port {port.id} that has no fixed IPv4 addresses",
            )
        elif len(v4) > 1:
            raise BadRequest.of(
                "floatingip",
                f"Port {port.id} has multiple fixed IPv4 addresses. Must provide a specific "
                "IPv4 address when assigning a floating IP",
            )
        else:
            chosen = v4
        subnet_id, ip = chosen[0]
        router = await self._router_for(s, fip.floating_network_id, subnet_id)
        if router is None:
            raise ExternalGatewayForFloatingIPNotFound(fip.floating_network_id, subnet_id, port.id)
        other = await s.scalar(
            select(m.FloatingIP.id).where(
                m.FloatingIP.floating_network_id == fip.floating_network_id,
                m.FloatingIP.fixed_port_id == port.id,
                m.FloatingIP.fixed_ip_address == ip,
                m.FloatingIP.id != fip.id,
            )
        )
        if other is not None:
            raise FloatingIPPortAlreadyAssociated(
                fip.floating_ip_address, fip.id, port.id, ip, fip.floating_network_id
            )
        fip.fixed_port_id, fip.fixed_ip_address = port.id, ip
        fip.router_id, fip.status = router.id, m.ACTIVE
        ch.hosts.add(router.host or self.core.host)

    async def _router_for(
        self, s: AsyncSession, ext_net_id: str, subnet_id: str
    ) -> m.Router | None:
        """A router with a gateway on the external network and an interface
        on the subnet, as Neutron looks for one."""
        gateway_ports = select(m.Port.id).where(
            m.Port.network_id == ext_net_id, m.Port.device_owner == m.ROUTER_GATEWAY
        )
        interfaces = (
            select(m.Port.device_id)
            .join(m.IPAllocation, m.IPAllocation.port_id == m.Port.id)
            .where(m.Port.device_owner == m.ROUTER_INTERFACE, m.IPAllocation.subnet_id == subnet_id)
        )
        return await s.scalar(
            select(m.Router)
            .where(m.Router.gw_port_id.in_(gateway_ports), m.Router.id.in_(interfaces))
            .order_by(m.Router.created_at)
        )

    async def update(
        self, ctx: RequestContext, fip_id: str, attrs: dict[str, Any], if_match: int | None
    ) -> records.FloatingIPRecord:
        async def work(s: AsyncSession, ch: Changes) -> records.FloatingIPRecord:
            fip = await self.load(s, ctx, fip_id)
            check_revision(fip, if_match)
            if fip.router_id:
                router = await s.get(m.Router, fip.router_id)
                ch.hosts.add((router.host if router else None) or self.core.host)
            if "port_id" in attrs:
                fip.fixed_port_id = fip.fixed_ip_address = fip.router_id = None
                fip.status = m.DOWN
                await s.flush()
                if attrs["port_id"]:
                    await self._associate(
                        s, ch, ctx, fip, attrs["port_id"], attrs.get("fixed_ip_address")
                    )
            if attrs.get("description") is not None:
                fip.description = attrs["description"]
            fip.bump()
            fip.updated_at = utcnow()
            await s.flush()
            return (await records.floating_ips(s, [fip]))[0]

        return await self.core.write(work)

    async def delete(self, ctx: RequestContext, fip_id: str, if_match: int | None) -> None:
        async def work(s: AsyncSession, ch: Changes) -> None:
            fip = await self.load(s, ctx, fip_id)
            check_revision(fip, if_match)
            await self.delete_in(s, ch, fip)

        await self.core.write(work)

    async def delete_in(self, s: AsyncSession, ch: Changes, fip: m.FloatingIP) -> None:
        if fip.router_id:
            router = await s.get(m.Router, fip.router_id)
            ch.hosts.add((router.host if router else None) or self.core.host)
        port = await s.get(m.Port, fip.floating_port_id)
        await drop_tags(s, [fip.id])
        await s.delete(fip)
        await s.flush()
        if port is not None:
            await s.delete(port)
