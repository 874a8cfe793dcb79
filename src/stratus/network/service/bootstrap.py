"""What every start makes sure of (idempotently): the external network
``public`` with its subnet, and the default subnet pool for projects."""

from __future__ import annotations

import ipaddress
import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.identity import models as idm
from stratus.network import models as m
from stratus.network.service import ipam
from stratus.network.service.core import Changes, Core
from stratus.network.service.networks import Networks

log = logging.getLogger(__name__)

DEFAULT_POOL = "shared-default-subnetpool-v4"


async def _admin_project(s: AsyncSession) -> str:
    return await s.scalar(select(idm.Project.id).where(idm.Project.name == "admin")) or ""


async def ensure(core: Core, networks: Networks) -> None:
    cfg = core.net
    external = ipam.parse_cidr(cfg.external_cidr, strict=False)
    pool_net = ipam.parse_cidr(cfg.default_subnet_pool, strict=False)
    if ipam.overlap(external, pool_net):
        log.warning(
            "network: the default subnet pool %s overlaps the external network %s",
            pool_net,
            external,
        )

    async def work(s: AsyncSession, ch: Changes) -> None:
        admin = await _admin_project(s)
        await _external_network(s, ch, core, networks, admin, external)
        await _default_pool(s, core, admin, pool_net)

    await core.write(work)


async def _external_network(
    s: AsyncSession, ch: Changes, core: Core, networks: Networks, admin: str, cidr: ipam.IPNet
) -> None:
    cfg = core.net
    net = await s.scalar(
        select(m.Network)
        .where(m.Network.name == cfg.external_network, m.Network.external.is_(True))
        .order_by(m.Network.created_at)
    )
    if net is None:
        net = await networks.create_in(
            s,
            ch,
            admin,
            {
                "name": cfg.external_network,
                "router:external": True,
                "is_default": await s.scalar(
                    select(m.Network.id).where(m.Network.is_default.is_(True))
                )
                is None,
                "shared": False,
            },
        )
        log.info("network: made the external network %s (%s)", net.name, net.id)
    has_subnet = await s.scalar(select(m.Subnet.id).where(m.Subnet.network_id == net.id))
    if has_subnet is not None:
        return
    gateway = cfg.external_gateway or str(cidr.network_address + 1)
    if ipaddress.ip_address(gateway) not in cidr:
        raise ValueError(f"network.external_gateway {gateway} is outside {cidr}")
    subnet = m.Subnet(
        network_id=net.id,
        project_id=admin,
        name=f"{cfg.external_network}-subnet",
        ip_version=cidr.version,
        cidr=str(cidr),
        gateway_ip=gateway,
        enable_dhcp=False,
        allocation_pools=ipam.default_pools(cidr, gateway),
        dns_nameservers=[],
        host_routes=[],
    )
    s.add(subnet)
    ch.networks.add(net.id)
    log.info("network: made the external subnet %s (%s)", subnet.name, cidr)


async def _default_pool(s: AsyncSession, core: Core, admin: str, prefix: ipam.IPNet) -> None:
    found = await s.scalar(
        select(m.SubnetPool.id).where(
            m.SubnetPool.is_default.is_(True), m.SubnetPool.ip_version == prefix.version
        )
    )
    if found is not None:
        return
    length = core.net.default_prefixlen
    s.add(
        m.SubnetPool(
            project_id=admin,
            name=DEFAULT_POOL,
            ip_version=prefix.version,
            prefixes=[str(prefix)],
            min_prefixlen=min(length, prefix.prefixlen),
            default_prefixlen=length,
            max_prefixlen=prefix.max_prefixlen,
            shared=True,
            is_default=True,
        )
    )
    log.info("network: made the default subnet pool %s (%s, /%d)", DEFAULT_POOL, prefix, length)
