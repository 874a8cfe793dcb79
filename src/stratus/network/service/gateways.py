"""A router's external gateway (``external_gateway_info``, with
``enable_snat`` and ``external_fixed_ips``): its port on an external network."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.context import RequestContext
from stratus.network import models as m
from stratus.network.errors import (
    BadRequest,
    ExternalIpAddressExhausted,
    IpAddressGenerationFailure,
    NetworkNotFound,
    RouterExternalGatewayInUseByFloatingIp,
)
from stratus.network.service import ipam
from stratus.network.service.core import Changes, sees_network
from stratus.network.service.devices import assign, new_port, requests_of
from stratus.network.service.tags import drop_tags


async def gateway_port(s: AsyncSession, router: m.Router) -> m.Port | None:
    return await s.get(m.Port, router.gw_port_id) if router.gw_port_id else None


async def _check_no_fips(s: AsyncSession, router: m.Router, network_id: str) -> None:
    used = await s.scalar(
        select(m.FloatingIP.id).where(
            m.FloatingIP.router_id == router.id, m.FloatingIP.floating_network_id == network_id
        )
    )
    if used is not None:
        raise RouterExternalGatewayInUseByFloatingIp(router.id, network_id)


async def clear(s: AsyncSession, ch: Changes, router: m.Router) -> None:
    port = await gateway_port(s, router)
    if port is None:
        router.gw_port_id = None
        return
    await _check_no_fips(s, router, port.network_id)
    ch.port(port)
    await ch.settle(s)
    router.gw_port_id = None
    await s.flush()
    await drop_tags(s, [port.id])
    await s.delete(port)
    await s.flush()


async def set_gateway(
    s: AsyncSession, ch: Changes, ctx: RequestContext, router: m.Router, info: dict[str, Any] | None
) -> None:
    """Make the router's gateway what ``info`` says ({} or None: none)."""
    if not info:
        await clear(s, ch, router)
        router.enable_snat = True
        return
    network_id = info.get("network_id")
    if not network_id:
        raise BadRequest.of("router", "external_gateway_info needs a network_id")
    net = await s.get(m.Network, network_id)
    if net is None or not sees_network(ctx, net):
        raise NetworkNotFound(network_id)
    if not net.external:
        raise BadRequest.of("router", f"Network {network_id} is not an external network")
    port = await gateway_port(s, router)
    if port is not None and port.network_id != network_id:
        await clear(s, ch, router)
        port = None
    if port is None:
        port = await new_port(
            s,
            net,
            project_id="",
            device_owner=m.ROUTER_GATEWAY,
            device_id=router.id,
            host=router.host or "",
        )
        router.gw_port_id = port.id
        fixed = info.get("external_fixed_ips")
        await _addresses(s, port, net, fixed)
    elif info.get("external_fixed_ips") is not None:
        await _addresses(s, port, net, info["external_fixed_ips"])
    if info.get("enable_snat") is not None:
        router.enable_snat = bool(info["enable_snat"])
    ch.port(port)


async def _addresses(
    s: AsyncSession, port: m.Port, net: m.Network, fixed: list[dict[str, Any]] | None
) -> None:
    try:
        if fixed:
            await assign(s, port, requests_of(fixed), router=True)
            return
        subnets = (
            await s.scalars(
                select(m.Subnet).where(m.Subnet.network_id == net.id).order_by(m.Subnet.created_at)
            )
        ).all()
        if not subnets:
            raise BadRequest.of("router", f"No subnets on external network {net.id}")
        await ipam.allocate_default(s, subnets, port.id, port.mac_address, net.id)
    except IpAddressGenerationFailure:
        raise ExternalIpAddressExhausted(net.id) from None
