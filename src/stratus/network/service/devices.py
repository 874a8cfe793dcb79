"""The parts of ports every noun uses: MAC addresses and DNS names checked
and made, a port's binding to a host, the ports the service makes for
itself (DHCP, routers, floating IPs), and a port's fixed IPs set."""

from __future__ import annotations

import re
import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.network import models as m
from stratus.network.drivers.base import bridge_name
from stratus.network.errors import Conflict, InvalidInput
from stratus.network.service import ipam, records

MAC_PREFIX = "fa:16:3e"
MAC_RE = re.compile(r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$")
DNS_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def random_mac() -> str:
    tail = secrets.token_bytes(3)
    return MAC_PREFIX + "".join(f":{b:02x}" for b in tail)


def check_mac(value: Any) -> str:
    mac = str(value).lower().replace("-", ":")
    if not MAC_RE.match(mac) or int(mac[:2], 16) & 1:
        raise InvalidInput(f"'{value}' is not a valid MAC address")
    return mac


def check_dns_name(value: str) -> str:
    name = value.rstrip(".").lower()
    if name and not all(DNS_LABEL.match(label) for label in name.split(".")):
        raise InvalidInput(f"'{value}' is not a valid DNS name")
    return value


def bind(port: m.Port, host: str) -> None:
    """Bind the port to ``host`` (or unbind it): the Linux bridge of its
    network there, filtered by the host's agent.  A port that moves to
    another host is DOWN until that host's agent has plugged it (and says
    so: compute waits for the ``network-vif-plugged`` this sends)."""
    if port.binding_host and host and port.binding_host != host:
        port.status = m.DOWN
    port.binding_host = host
    if not host:
        port.binding_vif_type, port.binding_vif_details = "unbound", {}
        port.status = m.DOWN
    elif port.binding_vnic_type != "normal":
        port.binding_vif_type, port.binding_vif_details = "binding_failed", {}
    else:
        port.binding_vif_type = "bridge"
        port.binding_vif_details = {
            "port_filter": True,
            "connectivity": "l2",
            "bridge_name": bridge_name(port.network_id),
        }


async def new_port(
    s: AsyncSession,
    network: m.Network,
    *,
    project_id: str,
    device_owner: str,
    device_id: str,
    host: str = "",
    mac: str | None = None,
) -> m.Port:
    """A port the service makes for itself (DHCP, router, floating IP)."""
    port = m.Port(
        network_id=network.id,
        project_id=project_id,
        mac_address=mac or await free_mac(s, network.id),
        device_owner=device_owner,
        device_id=device_id,
        port_security_enabled=False,
        status=m.DOWN,
    )
    bind(port, host)
    s.add(port)
    await s.flush()
    return port


async def free_mac(s: AsyncSession, network_id: str) -> str:
    for _ in range(16):
        mac = random_mac()
        taken = await s.scalar(
            select(m.Port.id).where(m.Port.network_id == network_id, m.Port.mac_address == mac)
        )
        if taken is None:
            return mac
    raise Conflict("Unable to generate a unique MAC address.")


def requests_of(fixed_ips: list[dict[str, Any]]) -> list[ipam.Request]:
    out = []
    for item in fixed_ips:
        subnet, ip = item.get("subnet_id"), item.get("ip_address")
        if subnet is None and ip is None:
            raise InvalidInput("Exactly one of subnet_id and ip_address is needed in fixed_ips")
        out.append(ipam.Request(subnet, None if ip is None else str(ip)))
    return out


async def assign(
    s: AsyncSession, port: m.Port, wanted: list[ipam.Request], *, router: bool = False
) -> None:
    """Make the port's fixed IPs exactly ``wanted``: addresses it holds and
    still asks for are kept, new ones taken, the rest released."""
    subnets = (
        await s.scalars(select(m.Subnet).where(m.Subnet.network_id == port.network_id))
    ).all()
    matched = ipam.resolve(wanted, subnets, port.network_id)
    held = {ip: sub for sub, ip in (await records.fixed_ips_of(s, [port.id]))[port.id]}
    keep: set[str] = set()
    todo: list[tuple[m.Subnet, str | None]] = []
    for subnet, ip in matched:
        if ip is not None:
            ip = ipam.check_specific(subnet, ip, router=router)
            keep.add(ip)
            if held.get(ip) != subnet.id:
                todo.append((subnet, ip))
            continue
        reuse = next((a for a, sid in held.items() if sid == subnet.id and a not in keep), None)
        if reuse is not None:
            keep.add(reuse)
        else:
            todo.append((subnet, None))
    for ip, _subnet_id in held.items():
        if ip not in keep:
            found = await s.get(m.IPAllocation, (port.network_id, ip))
            if found is not None:
                await s.delete(found)
    await s.flush()
    for subnet, ip in todo:
        if ip is None:
            await ipam.allocate_one(s, subnet, port.id, port.mac_address, router=router)
        else:
            await ipam.take(s, subnet, port.id, ip)
    await s.flush()
