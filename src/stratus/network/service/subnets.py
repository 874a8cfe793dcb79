"""Subnets: IPv4 and IPv6 ranges of a network, with allocation pools, a
gateway, DNS servers, host routes and DHCP.  The network's DHCP port (one
per network, on the network host) follows the subnets with DHCP enabled."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.context import RequestContext
from stratus.network import models as m
from stratus.network.errors import (
    BadRequest,
    DNSNameServersExhausted,
    GatewayIpInUse,
    HostRoutesExhausted,
    InvalidInput,
    NetworkNotFound,
    SubnetInUse,
    SubnetNotFound,
)
from stratus.network.service import ipam, records
from stratus.network.service.core import Changes, Core, check_revision, push_filters
from stratus.network.service.devices import new_port
from stratus.network.service.quotas import Quotas
from stratus.network.service.subnetpools import SubnetPools
from stratus.network.service.tags import drop_tags, set_tags

MAX_DNS = 5
MAX_HOST_ROUTES = 20
IPV6_MODES = ("slaac", "dhcpv6-stateful", "dhcpv6-stateless")
READ_ONLY = (
    "cidr",
    "ip_version",
    "network_id",
    "subnetpool_id",
    "prefixlen",
    "use_default_subnetpool",
    "ipv6_ra_mode",
    "ipv6_address_mode",
)
COLUMNS = {
    "id": m.Subnet.id,
    "name": m.Subnet.name,
    "network_id": m.Subnet.network_id,
    "cidr": m.Subnet.cidr,
    "project_id": m.Subnet.project_id,
    "tenant_id": m.Subnet.project_id,
}


def dhcp_device_id(host: str, network_id: str) -> str:
    """Neutron's name for a network's DHCP port on a host."""
    return f"dhcp{uuid.uuid5(uuid.NAMESPACE_DNS, host)}-{network_id}"


def _gateway(attrs: dict[str, Any], net: ipam.IPNet) -> str | None:
    if "gateway_ip" not in attrs:
        return str(net.network_address + 1) if net.num_addresses > 2 else None
    if attrs["gateway_ip"] is None:
        return None
    gw = ipam.parse_ip(attrs["gateway_ip"])
    if gw.version != net.version:
        raise InvalidInput("Gateway IP version inconsistent with subnet IP version")
    if gw in net and not ipam.usable(net, gw, router=True):
        raise InvalidInput("Gateway is not valid on subnet")
    return str(gw)


def _dns(values: list[Any], subnet: str) -> list[str]:
    out: list[str] = []
    for value in values:
        ip = str(ipam.parse_ip(value))
        if ip in out:
            raise InvalidInput(f"Duplicate nameserver '{value}'")
        out.append(ip)
    if len(out) > MAX_DNS:
        raise DNSNameServersExhausted(subnet, MAX_DNS)
    return out


def _routes(values: list[Any], subnet: str, version: int) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for route in values:
        if not isinstance(route, dict) or set(route) != {"destination", "nexthop"}:
            raise InvalidInput(f"Invalid data format for hostroute: '{route}'")
        dest = ipam.parse_cidr(route["destination"], strict=False)
        hop = ipam.parse_ip(route["nexthop"])
        if dest.version != version or hop.version != version:
            raise InvalidInput(f"Host route {route} does not match the subnet's IP version")
        item = {"destination": str(dest), "nexthop": str(hop)}
        if item in out:
            raise InvalidInput(f"Duplicate hostroute '{route}'")
        out.append(item)
    if len(out) > MAX_HOST_ROUTES:
        raise HostRoutesExhausted(subnet, MAX_HOST_ROUTES)
    return out


def _ipv6_modes(attrs: dict[str, Any], net: ipam.IPNet) -> tuple[str | None, str | None]:
    ra, address = attrs.get("ipv6_ra_mode"), attrs.get("ipv6_address_mode")
    for name, value in (("ipv6_ra_mode", ra), ("ipv6_address_mode", address)):
        if value is None:
            continue
        if value not in IPV6_MODES:
            raise InvalidInput(f"'{value}' is not in {list(IPV6_MODES)}")
        if net.version != 6:
            raise InvalidInput(f"{name} set to '{value}' with ip_version set to '4' is not valid")
    if ra is not None and address is not None and ra != address:
        raise InvalidInput(
            f"ipv6_ra_mode set to '{ra}' with ipv6_address_mode set to '{address}' is not valid"
        )
    if (address or ra) in ("slaac", "dhcpv6-stateless") and net.prefixlen != 64:
        raise InvalidInput(
            f"Invalid CIDR {net} for IPv6 address mode. OpenStack uses the EUI-64 "
            "address format, which requires the prefix to be /64"
        )
    return ra, address


class Subnets:
    def __init__(self, core: Core, quotas: Quotas, pools: SubnetPools):
        self.core = core
        self.quotas = quotas
        self.pools = pools

    async def load(self, s: AsyncSession, ctx: RequestContext, subnet_id: str) -> m.Subnet:
        subnet = await s.get(m.Subnet, subnet_id)
        if subnet is None:
            raise SubnetNotFound(subnet_id)
        if not ctx.is_admin and subnet.project_id != ctx.project_id:
            net = await s.get(m.Network, subnet.network_id)
            if net is None or not (net.shared or net.project_id == ctx.project_id):
                raise SubnetNotFound(subnet_id)
        return subnet

    async def network_project(self, ctx: RequestContext, subnet_id: str) -> str:
        async def work(s: AsyncSession) -> str:
            subnet = await self.load(s, ctx, subnet_id)
            net = await s.get(m.Network, subnet.network_id)
            return net.project_id if net else ""

        return await self.core.read(work)

    async def get(self, ctx: RequestContext, subnet_id: str) -> records.SubnetRecord:
        async def work(s: AsyncSession) -> records.SubnetRecord:
            return (await records.subnets(s, [await self.load(s, ctx, subnet_id)]))[0]

        return await self.core.read(work)

    async def find(
        self, ctx: RequestContext, filters: dict[str, list[str]] | None = None
    ) -> list[records.SubnetRecord]:
        async def work(s: AsyncSession) -> list[records.SubnetRecord]:
            stmt = push_filters(select(m.Subnet), COLUMNS, filters)
            if not ctx.is_admin:
                project = ctx.project_id or ""
                seen = select(m.Network.id).where(
                    (m.Network.project_id == project) | m.Network.shared.is_(True)
                )
                stmt = stmt.where((m.Subnet.project_id == project) | m.Subnet.network_id.in_(seen))
            rows = (await s.scalars(stmt.order_by(m.Subnet.created_at, m.Subnet.id))).all()
            return await records.subnets(s, rows)

        return await self.core.read(work)

    # -- create ----------------------------------------------------------------------

    async def create(
        self, ctx: RequestContext, items: list[dict[str, Any]]
    ) -> list[records.SubnetRecord]:
        async def work(s: AsyncSession, ch: Changes) -> list[records.SubnetRecord]:
            made = [await self.create_in(s, ch, ctx, attrs) for attrs in items]
            return await records.subnets(s, made)

        return await self.core.write(work)

    async def _cidr(
        self, s: AsyncSession, ctx: RequestContext, project: str, attrs: dict[str, Any]
    ) -> tuple[ipam.IPNet, str | None]:
        pool_id = attrs.get("subnetpool_id")
        if pool_id is None and attrs.get("use_default_subnetpool"):
            version = attrs.get("ip_version") or 4
            pool = await self.pools.default_pool(s, version)
            if pool is None:
                raise BadRequest.of("subnet", f"No default subnetpool found for IPv{version}")
            pool_id = pool.id
        if pool_id is None:
            if attrs.get("cidr") is None:
                raise BadRequest.of(
                    "subnet", "a cidr must be specified in the absence of a subnet pool"
                )
            return ipam.parse_cidr(attrs["cidr"]), None
        pool = await self.pools.load(s, ctx, pool_id)
        if attrs.get("ip_version") not in (None, pool.ip_version):
            raise BadRequest.of("subnet", "ip_version does not match the subnet pool's")
        net = await self.pools.allocate(s, pool, project, attrs.get("prefixlen"), attrs.get("cidr"))
        return net, pool.id

    async def create_in(
        self, s: AsyncSession, ch: Changes, ctx: RequestContext, attrs: dict[str, Any]
    ) -> m.Subnet:
        network = await s.get(m.Network, attrs["network_id"])
        if network is None:
            raise NetworkNotFound(attrs["network_id"])
        project = attrs.get("project_id") or ctx.project_id or network.project_id
        await self.quotas.check(s, project, "subnet")
        net, pool_id = await self._cidr(s, ctx, project, attrs)
        if attrs.get("ip_version") not in (None, net.version):
            raise InvalidInput("Cidr and ip_version are inconsistent")
        existing = (
            await s.scalars(select(m.Subnet).where(m.Subnet.network_id == network.id))
        ).all()
        for other in existing:
            if ipam.overlap(net, ipam.network_of(other.cidr)):
                raise InvalidInput(
                    f"Requested subnet with cidr: {net} for network: {network.id} overlaps "
                    "with another subnet"
                )
        gateway = _gateway(attrs, net)
        ra, address = _ipv6_modes(attrs, net)
        if attrs.get("allocation_pools"):
            pools = ipam.validate_pools(attrs["allocation_pools"], net, gateway)
        else:
            pools = ipam.default_pools(net, gateway)
        if attrs.get("segment_id") is not None or attrs.get("service_types"):
            raise InvalidInput("Segments and service types are not supported")
        subnet = m.Subnet(
            network_id=network.id,
            project_id=project,
            name=attrs.get("name") or "",
            description=attrs.get("description") or "",
            ip_version=net.version,
            cidr=str(net),
            gateway_ip=gateway,
            enable_dhcp=attrs.get("enable_dhcp", True),
            ipv6_ra_mode=ra,
            ipv6_address_mode=address,
            subnetpool_id=pool_id,
            allocation_pools=pools,
            dns_nameservers=_dns(attrs.get("dns_nameservers") or [], str(net)),
            host_routes=_routes(attrs.get("host_routes") or [], str(net), net.version),
        )
        s.add(subnet)
        await s.flush()
        if attrs.get("tags"):
            await set_tags(s, subnet.id, attrs["tags"])
        await self.sync_dhcp(s, network)
        ch.networks.add(network.id)
        return subnet

    # -- DHCP ------------------------------------------------------------------------

    async def sync_dhcp(self, s: AsyncSession, network: m.Network) -> None:
        """Give the network's DHCP port an address on each subnet with DHCP,
        making it with the first and deleting it with the last."""
        subnets = (
            await s.scalars(
                select(m.Subnet)
                .where(m.Subnet.network_id == network.id)
                .order_by(m.Subnet.created_at)
            )
        ).all()
        wanted = [sn for sn in subnets if sn.enable_dhcp]
        port = await s.scalar(
            select(m.Port).where(m.Port.network_id == network.id, m.Port.device_owner == m.DHCP)
        )
        if not wanted:
            if port is not None:
                await drop_tags(s, [port.id])
                await s.delete(port)
            network.dhcp_host = None
            return
        host = network.dhcp_host or self.core.host
        network.dhcp_host = host
        if port is None:
            port = await new_port(
                s,
                network,
                project_id=network.project_id,
                device_owner=m.DHCP,
                device_id=dhcp_device_id(host, network.id),
                host=host,
            )
        held = {sid for sid, _ip in (await records.fixed_ips_of(s, [port.id]))[port.id]}
        for subnet in subnets:
            if subnet in wanted and subnet.id not in held:
                await ipam.allocate_one(s, subnet, port.id, port.mac_address)
            elif subnet not in wanted and subnet.id in held:
                await ipam.release(s, port.id, subnet.id)
        port.bump()
        await s.flush()

    # -- update and delete -----------------------------------------------------------

    async def update(
        self, ctx: RequestContext, subnet_id: str, attrs: dict[str, Any], if_match: int | None
    ) -> records.SubnetRecord:
        async def work(s: AsyncSession, ch: Changes) -> records.SubnetRecord:
            subnet = await self.load(s, ctx, subnet_id)
            check_revision(subnet, if_match)
            fixed = [k for k in READ_ONLY if k in attrs]
            if fixed:
                raise BadRequest(f"Cannot update read-only attribute {fixed[0]}")
            await self._apply(s, subnet, attrs)
            subnet.bump()
            network = await s.get(m.Network, subnet.network_id)
            if network is not None and "enable_dhcp" in attrs:
                await self.sync_dhcp(s, network)
            ch.networks.add(subnet.network_id)
            await s.flush()
            return (await records.subnets(s, [subnet]))[0]

        return await self.core.write(work)

    async def _apply(self, s: AsyncSession, subnet: m.Subnet, attrs: dict[str, Any]) -> None:
        net = ipam.network_of(subnet.cidr)
        gateway = _gateway(attrs, net) if "gateway_ip" in attrs else subnet.gateway_ip
        if gateway != subnet.gateway_ip and gateway is not None:
            holder = await s.get(m.IPAllocation, (subnet.network_id, gateway))
            if holder is not None:
                owner = await s.get(m.Port, holder.port_id)
                if owner is None or owner.device_owner != m.ROUTER_INTERFACE:
                    raise GatewayIpInUse(gateway, holder.port_id)
        if attrs.get("allocation_pools") is not None:
            subnet.allocation_pools = ipam.validate_pools(attrs["allocation_pools"], net, gateway)
        elif gateway != subnet.gateway_ip:
            ipam.validate_pools(subnet.allocation_pools, net, gateway)
        subnet.gateway_ip = gateway
        if attrs.get("dns_nameservers") is not None:
            subnet.dns_nameservers = _dns(attrs["dns_nameservers"], subnet.id)
        if attrs.get("host_routes") is not None:
            subnet.host_routes = _routes(attrs["host_routes"], subnet.id, subnet.ip_version)
        for key in ("name", "description", "enable_dhcp"):
            if key in attrs and attrs[key] is not None:
                setattr(subnet, key, attrs[key])

    async def delete(self, ctx: RequestContext, subnet_id: str, if_match: int | None) -> None:
        async def work(s: AsyncSession, ch: Changes) -> None:
            subnet = await self.load(s, ctx, subnet_id)
            check_revision(subnet, if_match)
            users = await s.scalars(
                select(m.Port.device_owner)
                .join(m.IPAllocation, m.IPAllocation.port_id == m.Port.id)
                .where(m.IPAllocation.subnet_id == subnet.id)
            )
            if any(owner != m.DHCP for owner in users):
                raise SubnetInUse(subnet.id)
            ch.networks.add(subnet.network_id)
            await ch.settle(s)
            await s.execute(delete(m.IPAllocation).where(m.IPAllocation.subnet_id == subnet.id))
            await drop_tags(s, [subnet.id])
            await s.delete(subnet)
            await s.flush()
            network = await s.get(m.Network, subnet.network_id)
            if network is not None:
                await self.sync_dhcp(s, network)

        await self.core.write(work)
