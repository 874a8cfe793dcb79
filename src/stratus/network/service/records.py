"""What the API renders: each row with the related data its view needs
(a network's subnets, a port's addresses and groups, tags...), loaded for a
whole page at once."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.network import models as m
from stratus.network.service.core import chunks


@dataclass
class NetworkRecord:
    row: m.Network
    subnets: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


@dataclass
class SubnetRecord:
    row: m.Subnet
    tags: list[str] = field(default_factory=list)


@dataclass
class PortRecord:
    row: m.Port | Any  # a Port, or its columns as attributes (lists)
    fixed_ips: list[tuple[str, str]] = field(default_factory=list)  # (subnet id, address)
    security_groups: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    dns_domain: str = ""


@dataclass
class Gateway:
    network_id: str
    fixed_ips: list[tuple[str, str]]


@dataclass
class RouterRecord:
    row: m.Router
    gateway: Gateway | None = None
    tags: list[str] = field(default_factory=list)


@dataclass
class FloatingIPRecord:
    row: m.FloatingIP
    port: m.Port | None = None  # the associated port, for port_details
    tags: list[str] = field(default_factory=list)


@dataclass
class SecurityGroupRecord:
    row: m.SecurityGroup
    rules: list[m.SecurityGroupRule] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


@dataclass
class SubnetPoolRecord:
    row: m.SubnetPool
    tags: list[str] = field(default_factory=list)


async def tags_of(s: AsyncSession, ids: Sequence[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for part in chunks(list(ids)):
        rows = await s.execute(
            select(m.Tag.resource_id, m.Tag.tag)
            .where(m.Tag.resource_id.in_(part))
            .order_by(m.Tag.tag)
        )
        for rid, tag in rows:
            out[rid].append(tag)
    return out


async def networks(s: AsyncSession, rows: Sequence[m.Network]) -> list[NetworkRecord]:
    ids = [r.id for r in rows]
    subnets: dict[str, list[str]] = defaultdict(list)
    for part in chunks(ids):
        for net_id, sub_id in await s.execute(
            select(m.Subnet.network_id, m.Subnet.id)
            .where(m.Subnet.network_id.in_(part))
            .order_by(m.Subnet.created_at, m.Subnet.id)
        ):
            subnets[net_id].append(sub_id)
    tags = await tags_of(s, ids)
    return [NetworkRecord(r, subnets[r.id], tags[r.id]) for r in rows]


async def subnets(s: AsyncSession, rows: Sequence[m.Subnet]) -> list[SubnetRecord]:
    tags = await tags_of(s, [r.id for r in rows])
    return [SubnetRecord(r, tags[r.id]) for r in rows]


async def fixed_ips_of(
    s: AsyncSession, port_ids: Sequence[str]
) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for part in chunks(list(port_ids)):
        rows = await s.execute(
            select(
                m.IPAllocation.port_id, m.IPAllocation.subnet_id, m.IPAllocation.ip_address
            ).where(m.IPAllocation.port_id.in_(part))
        )
        for port_id, subnet_id, ip in rows:
            out[port_id].append((subnet_id, ip))
    return out


async def groups_of(s: AsyncSession, port_ids: Sequence[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for part in chunks(list(port_ids)):
        rows = await s.execute(
            select(m.PortSecurityGroup.port_id, m.PortSecurityGroup.security_group_id)
            .where(m.PortSecurityGroup.port_id.in_(part))
            .order_by(m.PortSecurityGroup.security_group_id)
        )
        for port_id, group_id in rows:
            out[port_id].append(group_id)
    return out


async def ports(s: AsyncSession, rows: Sequence[m.Port | Any]) -> list[PortRecord]:
    ids = [r.id for r in rows]
    ips = await fixed_ips_of(s, ids)
    groups = await groups_of(s, ids)
    tags = await tags_of(s, ids)
    domains: dict[str, str] = {}
    net_ids = list({r.network_id for r in rows})
    for part in chunks(net_ids):
        for net_id, domain in await s.execute(
            select(m.Network.id, m.Network.dns_domain).where(m.Network.id.in_(part))
        ):
            domains[net_id] = domain
    return [
        PortRecord(
            r,
            _in_order(ips[r.id]),
            groups[r.id],
            tags[r.id],
            domains.get(r.network_id, ""),
        )
        for r in rows
    ]


def _in_order(ips: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return sorted(ips, key=_ip_order) if len(ips) > 1 else ips


def _ip_order(item: tuple[str, str]) -> tuple[int, str]:
    return (0 if ":" not in item[1] else 1, item[1])


async def routers(s: AsyncSession, rows: Sequence[m.Router]) -> list[RouterRecord]:
    gw_ports = [r.gw_port_id for r in rows if r.gw_port_id]
    nets: dict[str, str] = {}
    for part in chunks(gw_ports):
        for port_id, net_id in await s.execute(
            select(m.Port.id, m.Port.network_id).where(m.Port.id.in_(part))
        ):
            nets[port_id] = net_id
    ips = await fixed_ips_of(s, gw_ports)
    tags = await tags_of(s, [r.id for r in rows])
    out = []
    for r in rows:
        gateway = None
        if r.gw_port_id and r.gw_port_id in nets:
            gateway = Gateway(nets[r.gw_port_id], sorted(ips[r.gw_port_id], key=_ip_order))
        out.append(RouterRecord(r, gateway, tags[r.id]))
    return out


async def floating_ips(s: AsyncSession, rows: Sequence[m.FloatingIP]) -> list[FloatingIPRecord]:
    port_ids = [r.fixed_port_id for r in rows if r.fixed_port_id]
    found: dict[str, m.Port] = {}
    for part in chunks(port_ids):
        for port in await s.scalars(select(m.Port).where(m.Port.id.in_(part))):
            found[port.id] = port
    tags = await tags_of(s, [r.id for r in rows])
    return [FloatingIPRecord(r, found.get(r.fixed_port_id or ""), tags[r.id]) for r in rows]


async def security_groups(
    s: AsyncSession, rows: Sequence[m.SecurityGroup]
) -> list[SecurityGroupRecord]:
    ids = [r.id for r in rows]
    rules: dict[str, list[m.SecurityGroupRule]] = defaultdict(list)
    for part in chunks(ids):
        for rule in await s.scalars(
            select(m.SecurityGroupRule)
            .where(m.SecurityGroupRule.security_group_id.in_(part))
            .order_by(m.SecurityGroupRule.created_at, m.SecurityGroupRule.id)
        ):
            rules[rule.security_group_id].append(rule)
    tags = await tags_of(s, ids)
    return [SecurityGroupRecord(r, rules[r.id], tags[r.id]) for r in rows]


async def subnet_pools(s: AsyncSession, rows: Sequence[m.SubnetPool]) -> list[SubnetPoolRecord]:
    tags = await tags_of(s, [r.id for r in rows])
    return [SubnetPoolRecord(r, tags[r.id]) for r in rows]
