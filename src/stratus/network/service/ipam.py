"""IP address management: allocation pools, and the allocation of fixed IPs
to ports.

An address is taken by inserting its ``network_ip_allocation`` row, whose
key (network, address) makes it unique.  Automatic allocation takes the
lowest free address of the subnet's pools with the subnet's row locked (on
PostgreSQL; SQLite serializes writers), and the key guards what the lock
does not cover: a transaction that loses the race is retried by
``Core.write``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.network import models as m
from stratus.network.errors import (
    GatewayConflictWithAllocationPools,
    InvalidAllocationPool,
    InvalidInput,
    InvalidIpForNetwork,
    InvalidIpForSubnet,
    IpAddressAlreadyAllocated,
    IpAddressGenerationFailure,
    OutOfBoundsAllocationPool,
    OverlappingAllocationPools,
)

IPNet = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddr = ipaddress.IPv4Address | ipaddress.IPv6Address
AUTO_ADDRESS_MODES = ("slaac", "dhcpv6-stateless")


def network_of(cidr: str) -> IPNet:
    return ipaddress.ip_network(cidr, strict=False)


def parse_ip(value: Any, what: str = "ip_address") -> IPAddr:
    try:
        return ipaddress.ip_address(str(value))
    except ValueError as exc:
        raise InvalidInput(f"'{value}' is not a valid IP address") from exc


def span(net: IPNet) -> tuple[int, int]:
    return int(net.network_address), int(net.broadcast_address)


def within(inner: IPNet, outer: IPNet) -> bool:
    a, b = span(inner)
    c, d = span(outer)
    return inner.version == outer.version and c <= a and b <= d


def overlap(one: IPNet, other: IPNet) -> bool:
    a, b = span(one)
    c, d = span(other)
    return one.version == other.version and not (b < c or d < a)


def to_ip(version: int, value: int) -> IPAddr:
    return ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value)


def parse_cidr(value: Any, *, strict: bool = True) -> IPNet:
    """A CIDR; with ``strict`` one with host bits set is refused, naming the
    network Neutron recommends."""
    text = str(value)
    if "/" not in text:
        raise InvalidInput(f"'{text}' is not a valid IP subnet")
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError as exc:
        raise InvalidInput(f"'{text}' is not a valid IP subnet") from exc
    if strict and ipaddress.ip_interface(text).ip != net.network_address:
        raise InvalidInput(f"'{text}' isn't a recognized IP subnet cidr, '{net}' is recommended")
    return net


def usable(net: IPNet, addr: IPAddr, *, router: bool = False) -> bool:
    """Whether ``addr`` may be a port's address on ``net``: inside it, not
    its network address (IPv6's subnet-router anycast: routers only), not
    IPv4's broadcast."""
    if addr not in net:
        return False
    if net.version == 4:
        if net.prefixlen >= 31:
            return True
        return addr not in (net.network_address, net.broadcast_address)
    return router or addr != net.network_address


def default_pools(net: IPNet, gateway: str | None) -> list[dict[str, str]]:
    """Every usable address but the gateway, in one or two ranges."""
    if net.version == 4 and net.prefixlen < 31:
        first, last = int(net.network_address) + 1, int(net.broadcast_address) - 1
    elif net.version == 4:
        first, last = int(net.network_address), int(net.broadcast_address)
    else:
        first, last = int(net.network_address) + 1, int(net.broadcast_address)
    ranges = [(first, last)]
    if gateway is not None:
        gw = int(ipaddress.ip_address(gateway))
        ranges = []
        if first <= gw - 1:
            ranges.append((first, min(last, gw - 1)))
        if gw + 1 <= last:
            ranges.append((max(first, gw + 1), last))
    return [
        {"start": str(to_ip(net.version, a)), "end": str(to_ip(net.version, b))}
        for a, b in ranges
        if a <= b
    ]


def _pool_text(pool: dict[str, str]) -> str:
    return f"{pool['start']}-{pool['end']}"


def validate_pools(
    pools: Sequence[dict[str, Any]], net: IPNet, gateway: str | None
) -> list[dict[str, str]]:
    """Allocation pools given by a user: inside the subnet, ordered, not
    overlapping each other nor the gateway."""
    checked: list[tuple[int, int, dict[str, str]]] = []
    for raw in pools:
        if not isinstance(raw, dict) or set(raw) != {"start", "end"}:
            raise InvalidInput(f"Invalid data format for IP pool: '{raw}'")
        start, end = parse_ip(raw["start"]), parse_ip(raw["end"])
        pool = {"start": str(start), "end": str(end)}
        if start.version != net.version or end.version != net.version or int(start) > int(end):
            raise InvalidAllocationPool(_pool_text(pool))
        if not (usable(net, start) and usable(net, end)):
            raise OutOfBoundsAllocationPool(_pool_text(pool), str(net))
        checked.append((int(start), int(end), pool))
    checked.sort(key=lambda item: item[0])
    for (_a, b, p1), (c, _d, p2) in zip(checked, checked[1:], strict=False):
        if c <= b:
            raise OverlappingAllocationPools(_pool_text(p1), _pool_text(p2), str(net))
    if gateway is not None:
        gw = int(ipaddress.ip_address(gateway))
        for a, b, pool in checked:
            if a <= gw <= b:
                raise GatewayConflictWithAllocationPools(gateway, _pool_text(pool))
    return [pool for _a, _b, pool in checked]


def pool_ranges(subnet: m.Subnet) -> list[tuple[int, int]]:
    return [
        (int(ipaddress.ip_address(p["start"])), int(ipaddress.ip_address(p["end"])))
        for p in subnet.allocation_pools
    ]


def eui64(cidr: str, mac: str) -> str:
    """The SLAAC address of ``mac`` on an IPv6 /64."""
    octets = [int(part, 16) for part in mac.split(":")]
    octets[0] ^= 0x02
    iid = octets[:3] + [0xFF, 0xFE] + octets[3:]
    net = network_of(cidr)
    return str(ipaddress.IPv6Address(int(net.network_address) | int.from_bytes(bytes(iid), "big")))


def is_auto_address(subnet: m.Subnet) -> bool:
    return subnet.ip_version == 6 and subnet.ipv6_address_mode in AUTO_ADDRESS_MODES


@dataclass(frozen=True)
class Request:
    """One entry of a port's ``fixed_ips``: a subnet, an address, or both."""

    subnet_id: str | None = None
    ip_address: str | None = None


async def _lock_subnet(s: AsyncSession, subnet_id: str) -> None:
    await s.execute(select(m.Subnet.id).where(m.Subnet.id == subnet_id).with_for_update())


TAKEN = "stratus.ipam.taken"  # the session's cache: subnet id -> its taken addresses


async def allocated(s: AsyncSession, subnet_id: str) -> set[int]:
    """The subnet's taken addresses, read once per transaction (a bulk
    create would otherwise read them again for every port)."""
    cache: dict[str, set[int]] = s.info.setdefault(TAKEN, {})
    if subnet_id not in cache:
        rows = await s.scalars(
            select(m.IPAllocation.ip_address).where(m.IPAllocation.subnet_id == subnet_id)
        )
        cache[subnet_id] = {int(ipaddress.ip_address(ip)) for ip in rows}
    return cache[subnet_id]


def forget(s: AsyncSession) -> None:
    """Addresses were released: read them again when next needed."""
    s.info.pop(TAKEN, None)


async def _first_free(s: AsyncSession, subnet: m.Subnet) -> str | None:
    await _lock_subnet(s, subnet.id)
    taken = await allocated(s, subnet.id)
    version = subnet.ip_version
    for start, end in pool_ranges(subnet):
        candidate = start
        while candidate <= end:
            if candidate not in taken:
                return str(to_ip(version, candidate))
            candidate += 1
    return None


async def take(s: AsyncSession, subnet: m.Subnet, port_id: str, ip: str) -> None:
    """Record ``ip`` of ``subnet`` as the port's, or refuse (409) when it is
    someone else's."""
    owner = await s.get(m.IPAllocation, (subnet.network_id, ip))
    if owner is not None:
        if owner.port_id == port_id:
            return
        raise IpAddressAlreadyAllocated(ip, subnet.id)
    s.add(
        m.IPAllocation(
            network_id=subnet.network_id, ip_address=ip, subnet_id=subnet.id, port_id=port_id
        )
    )
    taken = s.info.get(TAKEN, {}).get(subnet.id)
    if taken is not None:
        taken.add(int(ipaddress.ip_address(ip)))


async def allocate_one(
    s: AsyncSession, subnet: m.Subnet, port_id: str, mac: str, *, router: bool = False
) -> str:
    """The next address of ``subnet`` for the port (SLAAC: its EUI-64)."""
    if is_auto_address(subnet) and not router:
        ip = eui64(subnet.cidr, mac)
    else:
        found = await _first_free(s, subnet)
        if found is None:
            raise IpAddressGenerationFailure(subnet.network_id)
        ip = found
    await take(s, subnet, port_id, ip)
    return ip


def check_specific(subnet: m.Subnet, ip: str, *, router: bool = False) -> str:
    addr = parse_ip(ip)
    net = network_of(subnet.cidr)
    if addr.version != subnet.ip_version or not usable(net, addr, router=router):
        raise InvalidIpForSubnet(ip)
    if is_auto_address(subnet) and not router:
        raise InvalidInput(
            f"IPv6 address {ip} cannot be directly assigned to a port on subnet {subnet.id} "
            "as the subnet is configured for automatic addresses"
        )
    return str(addr)


def resolve(
    requests: Iterable[Request], subnets: Sequence[m.Subnet], network_id: str
) -> list[tuple[m.Subnet, str | None]]:
    """Match each requested entry to one of the network's subnets."""
    by_id = {sn.id: sn for sn in subnets}
    out: list[tuple[m.Subnet, str | None]] = []
    for req in requests:
        if req.subnet_id is not None:
            subnet = by_id.get(req.subnet_id)
            if subnet is None:
                raise InvalidInput(
                    f"Failed to create port on network {network_id}, because fixed_ips "
                    f"included invalid subnet {req.subnet_id}"
                )
            out.append((subnet, req.ip_address))
            continue
        if req.ip_address is None:
            raise InvalidInput("Exactly one of subnet_id and ip_address is needed in fixed_ips")
        addr = parse_ip(req.ip_address)
        matches = [sn for sn in subnets if addr in network_of(sn.cidr)]
        if not matches:
            raise InvalidIpForNetwork(req.ip_address)
        out.append((matches[0], req.ip_address))
    return out


def default_subnets(subnets: Sequence[m.Subnet], *, router: bool = False) -> list[m.Subnet]:
    """Where a port with no ``fixed_ips`` gets addresses, as Neutron does:
    one IPv4 subnet, one stateful IPv6 subnet, and every SLAAC subnet."""
    chosen: list[m.Subnet] = []
    v4 = [sn for sn in subnets if sn.ip_version == 4]
    v6_stateful = [sn for sn in subnets if sn.ip_version == 6 and not is_auto_address(sn)]
    v6_auto = [sn for sn in subnets if is_auto_address(sn)]
    if v4:
        chosen.append(v4[0])
    if v6_stateful:
        chosen.append(v6_stateful[0])
    if not router:
        chosen.extend(v6_auto)
    return chosen


async def allocate_default(
    s: AsyncSession, subnets: Sequence[m.Subnet], port_id: str, mac: str, network_id: str
) -> None:
    """A port asking nothing gets an address from the first IPv4 subnet with
    room (then IPv6), as Neutron's IPAM walks them."""
    v4 = [sn for sn in subnets if sn.ip_version == 4]
    if v4:
        for index, subnet in enumerate(v4):
            try:
                await allocate_one(s, subnet, port_id, mac)
                break
            except IpAddressGenerationFailure:
                if index == len(v4) - 1:
                    raise IpAddressGenerationFailure(network_id) from None
    for subnet in default_subnets(subnets):
        if subnet.ip_version == 6:
            await allocate_one(s, subnet, port_id, mac)


async def release(s: AsyncSession, port_id: str, subnet_id: str | None = None) -> None:
    forget(s)
    stmt = delete(m.IPAllocation).where(m.IPAllocation.port_id == port_id)
    if subnet_id is not None:
        stmt = stmt.where(m.IPAllocation.subnet_id == subnet_id)
    await s.execute(stmt)
