"""Ports: a device's place on a network, with its MAC, fixed IPs, security
groups, allowed address pairs and binding to a host."""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.context import RequestContext
from stratus.common.db import utcnow
from stratus.network import models as m
from stratus.network.errors import (
    AddressPairAndPortSecurityRequired,
    BadRequest,
    Conflict,
    InvalidInput,
    MacAddressInUse,
    NetworkNotFound,
    PortNotFound,
    PortSecurityAndIPRequiredForSecurityGroups,
    SecurityGroupNotFound,
    ServicePortInUse,
)
from stratus.network.service import ipam, records
from stratus.network.service.core import Changes, Core, check_revision, push_filters, uses_network
from stratus.network.service.devices import (
    assign,
    bind,
    check_dns_name,
    check_mac,
    free_mac,
    requests_of,
)
from stratus.network.service.nova import VIF_DELETED, VIF_PLUGGED, VIF_UNPLUGGED
from stratus.network.service.quotas import Quotas
from stratus.network.service.tags import drop_tags, set_tags

if TYPE_CHECKING:
    from stratus.network.service.secgroups import SecurityGroups

VNIC_TYPES = (
    "normal",
    "direct",
    "macvtap",
    "baremetal",
    "direct-physical",
    "virtio-forwarder",
    "smart-nic",
    "vdpa",
    "remote-managed",
)
MAX_ADDRESS_PAIRS = 10
SERVICE_OWNED = (m.ROUTER_INTERFACE, m.ROUTER_GATEWAY, m.FLOATINGIP)
COLUMNS = {
    "id": m.Port.id,
    "name": m.Port.name,
    "network_id": m.Port.network_id,
    "device_id": m.Port.device_id,
    "device_owner": m.Port.device_owner,
    "mac_address": m.Port.mac_address,
    "status": m.Port.status,
    "project_id": m.Port.project_id,
    "tenant_id": m.Port.project_id,
    "binding:host_id": m.Port.binding_host,
}


class Ports:
    def __init__(self, core: Core, quotas: Quotas, groups: SecurityGroups):
        self.core = core
        self.quotas = quotas
        self.groups = groups

    async def load(self, s: AsyncSession, ctx: RequestContext, port_id: str) -> m.Port:
        port = await s.get(m.Port, port_id)
        if port is None:
            raise PortNotFound(port_id)
        if not ctx.is_admin and port.project_id != ctx.project_id:
            net = await s.get(m.Network, port.network_id)
            if net is None or net.project_id != ctx.project_id:
                raise PortNotFound(port_id)
        return port

    async def network_project(self, ctx: RequestContext, port_id: str) -> tuple[str, str]:
        """(the port's project, its network's project): the policy target."""

        async def work(s: AsyncSession) -> tuple[str, str]:
            port = await self.load(s, ctx, port_id)
            net = await s.get(m.Network, port.network_id)
            return port.project_id, net.project_id if net else ""

        return await self.core.read(work)

    async def get(self, ctx: RequestContext, port_id: str) -> records.PortRecord:
        async def work(s: AsyncSession) -> records.PortRecord:
            return (await records.ports(s, [await self.load(s, ctx, port_id)]))[0]

        return await self.core.read(work)

    async def find(
        self, ctx: RequestContext, filters: dict[str, list[str]] | None = None
    ) -> list[records.PortRecord]:
        async def work(s: AsyncSession) -> list[records.PortRecord]:
            stmt = push_filters(select(*m.Port.__table__.columns), COLUMNS, filters)
            if not ctx.is_admin:
                project = ctx.project_id or ""
                mine = select(m.Network.id).where(m.Network.project_id == project)
                stmt = stmt.where(or_(m.Port.project_id == project, m.Port.network_id.in_(mine)))
            result = await s.execute(stmt.order_by(m.Port.created_at, m.Port.id))
            # Plain rows, not ORM objects: a list of thousands costs half as much.
            rows = [SimpleNamespace(**r._mapping) for r in result]
            return await records.ports(s, rows)

        return await self.core.read(work)

    # -- create ----------------------------------------------------------------------

    async def create(
        self, ctx: RequestContext, items: list[dict[str, Any]]
    ) -> list[records.PortRecord]:
        """Create one port or several (bulk), all or none."""
        for attrs in items:
            await self.groups.ensure_default(attrs.get("project_id") or ctx.project_id or "")

        async def work(s: AsyncSession, ch: Changes) -> list[records.PortRecord]:
            made = [await self.create_in(s, ch, ctx, attrs) for attrs in items]
            return await records.ports(s, made)

        return await self.core.write(work)

    async def create_in(
        self, s: AsyncSession, ch: Changes, ctx: RequestContext, attrs: dict[str, Any]
    ) -> m.Port:
        net = await s.get(m.Network, attrs["network_id"])
        if net is None or not uses_network(ctx, net):
            raise NetworkNotFound(attrs["network_id"])
        project = attrs.get("project_id") or ctx.project_id or ""
        await self.quotas.check(s, project, "port")
        mac = net_mac = None
        if attrs.get("mac_address") is not None:
            mac = check_mac(attrs["mac_address"])
            net_mac = await s.scalar(
                select(m.Port.id).where(m.Port.network_id == net.id, m.Port.mac_address == mac)
            )
            if net_mac is not None:
                raise MacAddressInUse(net.id, mac)
        port = m.Port(
            network_id=net.id,
            project_id=project,
            name=attrs.get("name") or "",
            description=attrs.get("description") or "",
            mac_address=mac or await free_mac(s, net.id),
            admin_state_up=attrs.get("admin_state_up", True),
            device_id=attrs.get("device_id") or "",
            device_owner=attrs.get("device_owner") or "",
            binding_vnic_type=attrs.get("binding:vnic_type") or "normal",
            binding_profile=attrs.get("binding:profile") or {},
            port_security_enabled=attrs.get("port_security_enabled", net.port_security_enabled),
            dns_name=check_dns_name(attrs.get("dns_name") or ""),
            status=m.DOWN,
        )
        bind(port, attrs.get("binding:host_id") or "")
        s.add(port)
        await s.flush()
        if "fixed_ips" in attrs and attrs["fixed_ips"] is not None:
            await assign(s, port, requests_of(attrs["fixed_ips"]))
        else:
            subnets = (
                await s.scalars(
                    select(m.Subnet)
                    .where(m.Subnet.network_id == net.id)
                    .order_by(m.Subnet.created_at)
                )
            ).all()
            await ipam.allocate_default(s, subnets, port.id, port.mac_address, net.id)
        await self._security(s, ctx, port, attrs, creating=True)
        if attrs.get("tags"):
            await set_tags(s, port.id, attrs["tags"])
        ch.port(port)
        return port

    async def _has_ip(self, s: AsyncSession, port: m.Port) -> bool:
        return bool((await records.fixed_ips_of(s, [port.id]))[port.id])

    async def _security(
        self,
        s: AsyncSession,
        ctx: RequestContext,
        port: m.Port,
        attrs: dict[str, Any],
        *,
        creating: bool,
    ) -> None:
        """Security groups and allowed address pairs, as port security allows."""
        secured = port.port_security_enabled and await self._has_ip(s, port)
        asked = attrs.get("security_groups")
        service = port.device_owner.startswith("network:")
        if asked is None and creating:
            wanted = (
                [await self.groups.default_in(s, port.project_id)]
                if (secured and not service and port.project_id)
                else []
            )
        elif asked is None:
            wanted = None
        else:
            wanted = list(dict.fromkeys(asked))
        if wanted is not None:
            for group_id in wanted:
                group = await s.get(m.SecurityGroup, group_id)
                if group is None or not (
                    ctx.is_admin
                    or group.project_id == port.project_id
                    or group.project_id == ctx.project_id
                ):
                    raise SecurityGroupNotFound(group_id)
            if wanted and not secured:
                raise PortSecurityAndIPRequiredForSecurityGroups()
            await self._set_groups(s, port, wanted)
        elif not port.port_security_enabled:
            current = (await records.groups_of(s, [port.id]))[port.id]
            if current:
                raise PortSecurityAndIPRequiredForSecurityGroups()
        if "allowed_address_pairs" in attrs:
            port.allowed_address_pairs = self._pairs(attrs["allowed_address_pairs"] or [])
        if port.allowed_address_pairs and not port.port_security_enabled:
            raise AddressPairAndPortSecurityRequired()

    async def _set_groups(self, s: AsyncSession, port: m.Port, wanted: list[str]) -> None:
        before = (await records.groups_of(s, [port.id]))[port.id]
        for group_id in set(before) - set(wanted):
            row = await s.get(m.PortSecurityGroup, (port.id, group_id))
            if row is not None:
                await s.delete(row)
        for group_id in set(wanted) - set(before):
            s.add(m.PortSecurityGroup(port_id=port.id, security_group_id=group_id))
        await s.flush()

    @staticmethod
    def _pairs(pairs: list[dict[str, Any]]) -> list[dict[str, str]]:
        out: list[dict[str, str]] = []
        for pair in pairs:
            if (
                not isinstance(pair, dict)
                or "ip_address" not in pair
                or set(pair) - {"ip_address", "mac_address"}
            ):
                raise InvalidInput(f"Invalid allowed address pair {pair}")
            ip = str(pair["ip_address"])
            if "/" in ip:
                ipam.parse_cidr(ip, strict=False)
            else:
                ipam.parse_ip(ip)
            item = {"ip_address": ip}
            if pair.get("mac_address") is not None:
                item["mac_address"] = check_mac(pair["mac_address"])
            if item in out:
                raise BadRequest("Request contains duplicate address pair: " + str(item))
            out.append(item)
        if len(out) > MAX_ADDRESS_PAIRS:
            raise BadRequest(
                f"The number of allowed address pair exceeds the maximum {MAX_ADDRESS_PAIRS}."
            )
        return out

    # -- update and delete -----------------------------------------------------------

    async def update(
        self, ctx: RequestContext, port_id: str, attrs: dict[str, Any], if_match: int | None
    ) -> records.PortRecord:
        async def work(s: AsyncSession, ch: Changes) -> records.PortRecord:
            port = await self.load(s, ctx, port_id)
            check_revision(port, if_match)
            ch.port(port)
            ch.groups.update((await records.groups_of(s, [port.id]))[port.id])
            await self._apply(s, ctx, port, attrs)
            port.bump()
            ch.port(port)
            ch.groups.update((await records.groups_of(s, [port.id]))[port.id])
            await s.flush()
            return (await records.ports(s, [port]))[0]

        return await self.core.write(work)

    async def _apply(
        self, s: AsyncSession, ctx: RequestContext, port: m.Port, attrs: dict[str, Any]
    ) -> None:
        for key in ("name", "description", "admin_state_up", "device_id", "device_owner"):
            if key in attrs and attrs[key] is not None:
                setattr(port, key, attrs[key])
        if attrs.get("mac_address") is not None:
            mac = check_mac(attrs["mac_address"])
            if mac != port.mac_address:
                if port.binding_vif_type not in ("unbound", "binding_failed"):
                    raise Conflict(
                        f"Unable to complete operation on port {port.id}, port is already "
                        f"bound, port type: {port.binding_vif_type}, old_mac "
                        f"{port.mac_address}, new_mac {mac}."
                    )
                taken = await s.scalar(
                    select(m.Port.id).where(
                        m.Port.network_id == port.network_id, m.Port.mac_address == mac
                    )
                )
                if taken is not None:
                    raise MacAddressInUse(port.network_id, mac)
                port.mac_address = mac
        if "dns_name" in attrs:
            port.dns_name = check_dns_name(attrs["dns_name"] or "")
        if "binding:vnic_type" in attrs and attrs["binding:vnic_type"]:
            port.binding_vnic_type = attrs["binding:vnic_type"]
        if "binding:profile" in attrs:
            port.binding_profile = attrs["binding:profile"] or {}
        if "binding:host_id" in attrs or "binding:vnic_type" in attrs:
            bind(port, attrs.get("binding:host_id", port.binding_host) or "")
        if attrs.get("fixed_ips") is not None:
            router = port.device_owner in (m.ROUTER_INTERFACE, m.ROUTER_GATEWAY)
            await assign(s, port, requests_of(attrs["fixed_ips"]), router=router)
        if "port_security_enabled" in attrs and attrs["port_security_enabled"] is not None:
            port.port_security_enabled = attrs["port_security_enabled"]
        await self._security(s, ctx, port, attrs, creating=False)
        port.updated_at = utcnow()

    async def delete(self, ctx: RequestContext, port_id: str, if_match: int | None) -> None:
        async def work(s: AsyncSession, ch: Changes) -> None:
            port = await self.load(s, ctx, port_id)
            check_revision(port, if_match)
            if port.device_owner in SERVICE_OWNED:
                raise ServicePortInUse(port.id, f"has device owner {port.device_owner}")
            await self.delete_in(s, ch, port)

        await self.core.write(work)

    async def delete_in(self, s: AsyncSession, ch: Changes, port: m.Port) -> None:
        ch.port(port)
        ch.groups.update((await records.groups_of(s, [port.id]))[port.id])
        await ch.settle(s)
        await s.execute(
            update(m.FloatingIP)
            .where(m.FloatingIP.fixed_port_id == port.id)
            .values(
                fixed_port_id=None,
                fixed_ip_address=None,
                router_id=None,
                status=m.DOWN,
                updated_at=utcnow(),
                revision_number=m.FloatingIP.revision_number + 1,
            )
        )
        await drop_tags(s, [port.id])
        ch.server_event(port, VIF_DELETED)
        await s.delete(port)

    async def set_status(self, port_id: str, status: str) -> bool:
        """The data plane's report: the port is ACTIVE (its device plugged
        and filtered) or DOWN.  False when the port is gone."""

        async def work(s: AsyncSession, ch: Changes) -> bool:
            port = await s.get(m.Port, port_id)
            if port is None:
                return False
            if port.status != status:
                if status == m.ACTIVE:
                    ch.server_event(port, VIF_PLUGGED)
                elif port.status == m.ACTIVE:
                    ch.server_event(port, VIF_UNPLUGGED)
                port.status = status
                port.bump()
            return True

        return await self.core.write(work)
