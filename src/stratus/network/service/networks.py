"""Networks: each an isolated L2 segment with a VXLAN id of its own."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.context import RequestContext
from stratus.common.db import utcnow
from stratus.network import models as m
from stratus.network.errors import (
    Conflict,
    ExternalNetworkInUse,
    InvalidInput,
    NetworkInUse,
    NetworkNotFound,
)
from stratus.network.service import records
from stratus.network.service.core import (
    Changes,
    Core,
    check_revision,
    push_filters,
    sees_network,
    visible_networks,
)
from stratus.network.service.quotas import Quotas
from stratus.network.service.tags import drop_tags, set_tags

if TYPE_CHECKING:
    from stratus.network.service.secgroups import SecurityGroups

COLUMNS = {
    "id": m.Network.id,
    "name": m.Network.name,
    "project_id": m.Network.project_id,
    "tenant_id": m.Network.project_id,
    "status": m.Network.status,
}
VNI_MAX = (1 << 24) - 1


class Networks:
    def __init__(self, core: Core, quotas: Quotas, groups: SecurityGroups):
        self.core = core
        self.quotas = quotas
        self.groups = groups

    # -- reads -----------------------------------------------------------------------

    async def load(self, s: AsyncSession, ctx: RequestContext, network_id: str) -> m.Network:
        net = await s.get(m.Network, network_id)
        if net is None or not sees_network(ctx, net):
            raise NetworkNotFound(network_id)
        return net

    async def get(self, ctx: RequestContext, network_id: str) -> records.NetworkRecord:
        async def work(s: AsyncSession) -> records.NetworkRecord:
            return (await records.networks(s, [await self.load(s, ctx, network_id)]))[0]

        return await self.core.read(work)

    async def find(
        self, ctx: RequestContext, filters: dict[str, list[str]] | None = None
    ) -> list[records.NetworkRecord]:
        async def work(s: AsyncSession) -> list[records.NetworkRecord]:
            stmt = visible_networks(ctx, push_filters(select(m.Network), COLUMNS, filters))
            rows = (await s.scalars(stmt.order_by(m.Network.created_at, m.Network.id))).all()
            return await records.networks(s, rows)

        return await self.core.read(work)

    # -- writes ----------------------------------------------------------------------

    async def create(self, ctx: RequestContext, attrs: dict[str, Any]) -> records.NetworkRecord:
        project = attrs.get("project_id") or ctx.project_id or ""
        await self.groups.ensure_default(project)

        async def work(s: AsyncSession, ch: Changes) -> records.NetworkRecord:
            net = await self.create_in(s, ch, project, attrs)
            return (await records.networks(s, [net]))[0]

        return await self.core.write(work)

    async def create_many(
        self, ctx: RequestContext, items: list[dict[str, Any]]
    ) -> list[records.NetworkRecord]:
        for project in {a.get("project_id") or ctx.project_id or "" for a in items}:
            await self.groups.ensure_default(project)

        async def work(s: AsyncSession, ch: Changes) -> list[records.NetworkRecord]:
            nets = [
                await self.create_in(s, ch, a.get("project_id") or ctx.project_id or "", a)
                for a in items
            ]
            return await records.networks(s, nets)

        return await self.core.write(work)

    async def create_in(
        self, s: AsyncSession, ch: Changes, project: str, attrs: dict[str, Any]
    ) -> m.Network:
        await self.quotas.check(s, project, "network")
        mtu = attrs.get("mtu") or self.core.net.mtu
        if mtu > self.core.net.mtu:
            raise InvalidInput(f"Requested MTU is too big, maximum is {self.core.net.mtu}")
        external = bool(attrs.get("router:external", False))
        is_default = bool(attrs.get("is_default", False))
        if is_default:
            await self._check_default(s, None, external)
        net = m.Network(
            project_id=project,
            name=attrs.get("name") or "",
            description=attrs.get("description") or "",
            admin_state_up=attrs.get("admin_state_up", True),
            shared=bool(attrs.get("shared", False)),
            external=external,
            is_default=is_default,
            mtu=mtu,
            port_security_enabled=attrs.get("port_security_enabled", True),
            network_type="vxlan",
            segmentation_id=await self._segment(s, attrs),
            dns_domain=attrs.get("dns_domain") or "",
        )
        s.add(net)
        await s.flush()
        ch.networks.add(net.id)
        if attrs.get("tags"):
            await set_tags(s, net.id, attrs["tags"])
        return net

    async def _segment(self, s: AsyncSession, attrs: dict[str, Any]) -> int:
        kind = attrs.get("provider:network_type")
        if kind not in (None, "vxlan"):
            raise InvalidInput(f"network_type value '{kind}' not supported")
        if attrs.get("provider:physical_network"):
            raise InvalidInput("physical_network not allowed for vxlan provider network")
        used = set(await s.scalars(select(m.Network.segmentation_id)))
        wanted = attrs.get("provider:segmentation_id")
        if wanted is not None:
            if not 1 <= int(wanted) <= VNI_MAX:
                raise InvalidInput(f"{wanted} is not a valid VXLAN VNI, must be 1 to {VNI_MAX}")
            if int(wanted) in used:
                raise Conflict(f"Unable to create the network. The tunnel ID {wanted} is in use.")
            return int(wanted)
        for vni in range(self.core.net.vni_min, self.core.net.vni_max + 1):
            if vni not in used:
                return vni
        raise Conflict(
            "Unable to create the network. No tenant network is available for allocation."
        )

    async def _check_default(self, s: AsyncSession, net_id: str | None, external: bool) -> None:
        if not external:
            raise InvalidInput("Only an external network can be the default one")
        other = await s.scalar(
            select(m.Network.id).where(m.Network.is_default.is_(True), m.Network.external.is_(True))
        )
        if other is not None and other != net_id:
            raise Conflict(
                f"Unable to set a network as the default external network, network {other} "
                "is already the default one."
            )

    async def update(
        self,
        ctx: RequestContext,
        network_id: str,
        attrs: dict[str, Any],
        if_match: int | None = None,
    ) -> records.NetworkRecord:
        async def work(s: AsyncSession, ch: Changes) -> records.NetworkRecord:
            net = await self.load(s, ctx, network_id)
            check_revision(net, if_match)
            provider = [k for k in attrs if k.startswith("provider:")]
            if provider:
                raise InvalidInput(
                    "Plugin does not support updating the following provider network "
                    f"attributes: {provider}"
                )
            await self._apply(s, net, attrs)
            net.bump()
            ch.networks.add(net.id)
            await s.flush()
            return (await records.networks(s, [net]))[0]

        return await self.core.write(work)

    async def _apply(self, s: AsyncSession, net: m.Network, attrs: dict[str, Any]) -> None:
        if "mtu" in attrs and attrs["mtu"] is not None:
            if attrs["mtu"] > self.core.net.mtu:
                raise InvalidInput(f"Requested MTU is too big, maximum is {self.core.net.mtu}")
            net.mtu = attrs["mtu"]
        if "router:external" in attrs and not attrs["router:external"] and net.external:
            in_use = await s.scalar(
                select(m.Port.id).where(
                    m.Port.network_id == net.id,
                    m.Port.device_owner.in_((m.ROUTER_GATEWAY, m.FLOATINGIP)),
                )
            )
            if in_use is not None:
                raise ExternalNetworkInUse(net.id)
            net.external = False
            net.is_default = False
        elif "router:external" in attrs:
            net.external = bool(attrs["router:external"])
        if attrs.get("is_default"):
            await self._check_default(s, net.id, net.external)
        if "is_default" in attrs:
            net.is_default = bool(attrs["is_default"])
        if "shared" in attrs and not attrs["shared"] and net.shared:
            others = await s.scalar(
                select(m.Port.id).where(
                    m.Port.network_id == net.id,
                    m.Port.project_id != net.project_id,
                    m.Port.project_id != "",
                    ~m.Port.device_owner.startswith("network:"),
                )
            )
            if others is not None:
                raise Conflict(
                    f"Unable to reconfigure sharing settings for network {net.id}. "
                    "Multiple tenants are using it."
                )
        for key in (
            "name",
            "description",
            "admin_state_up",
            "shared",
            "port_security_enabled",
            "dns_domain",
        ):
            if key in attrs and attrs[key] is not None:
                setattr(net, key, attrs[key])
        net.updated_at = utcnow()

    async def delete(
        self, ctx: RequestContext, network_id: str, if_match: int | None = None
    ) -> None:
        async def work(s: AsyncSession, ch: Changes) -> None:
            net = await self.load(s, ctx, network_id)
            check_revision(net, if_match)
            await self.delete_in(s, ch, net)

        await self.core.write(work)

    async def delete_in(self, s: AsyncSession, ch: Changes, net: m.Network) -> None:
        if net.external:
            # Floating IPs nobody uses go with their network, as in Neutron.
            idle = (
                await s.scalars(
                    select(m.FloatingIP).where(
                        m.FloatingIP.floating_network_id == net.id,
                        m.FloatingIP.fixed_port_id.is_(None),
                    )
                )
            ).all()
            await drop_tags(s, [f.id for f in idle])
            for fip in idle:
                await s.delete(fip)
            await s.flush()
            await s.execute(delete(m.Port).where(m.Port.id.in_([f.floating_port_id for f in idle])))
        ports = (await s.scalars(select(m.Port).where(m.Port.network_id == net.id))).all()
        if any(p.device_owner != m.DHCP for p in ports):
            raise NetworkInUse(net.id)
        ch.networks.add(net.id)
        await ch.settle(s)
        subnet_ids = list(await s.scalars(select(m.Subnet.id).where(m.Subnet.network_id == net.id)))
        await drop_tags(s, [net.id, *subnet_ids, *(p.id for p in ports)])
        await s.execute(delete(m.Port).where(m.Port.network_id == net.id))
        await s.execute(delete(m.Subnet).where(m.Subnet.network_id == net.id))
        await s.delete(net)
