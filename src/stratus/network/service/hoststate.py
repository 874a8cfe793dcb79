"""The database as the data plane sees it: everything one host must hold
(``drivers.base.HostState``), built in one read."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.network import models as m
from stratus.network.drivers import base as dp
from stratus.network.service import records
from stratus.network.service.core import chunks
from stratus.network.service.ipam import network_of


def hostname(port: m.Port, ip: str) -> str:
    """The name DHCP gives the port: its dns_name, else Neutron's host-<ip>."""
    return port.dns_name or "host-" + ip.replace(".", "-").replace(":", "-")


async def _rows(s: AsyncSession, model: Any, column: Any, ids: Iterable[str]) -> list[Any]:
    out: list[Any] = []
    for part in chunks(sorted(set(ids))):
        out.extend((await s.scalars(select(model).where(column.in_(part)))).all())
    return out


class _Builder:
    def __init__(self, s: AsyncSession, host: str):
        self.s = s
        self.host = host
        self.subnets: dict[str, m.Subnet] = {}
        self.ips: dict[str, list[tuple[str, str]]] = {}

    async def build(self) -> dp.HostState:
        s = self.s
        # Guests' ports, and ports a service put into a namespace of this
        # host (``binding:profile`` ``{"netns": NAME}``: a load balancer's
        # VIP, a database's address).
        bound = (
            await s.scalars(
                select(m.Port).where(
                    m.Port.binding_host == self.host,
                    m.Port.device_owner.not_in(
                        (m.DHCP, m.ROUTER_INTERFACE, m.ROUTER_GATEWAY, m.FLOATINGIP)
                    ),
                )
            )
        ).all()
        guests = [p for p in bound if p.device_owner.startswith(m.COMPUTE_PREFIX) or _netns(p)]
        dhcp_nets = (
            await s.scalars(select(m.Network).where(m.Network.dhcp_host == self.host))
        ).all()
        routers = (await s.scalars(select(m.Router).where(m.Router.host == self.host))).all()
        router_ports = await _rows(s, m.Port, m.Port.device_id, [r.id for r in routers])
        router_ports = [
            p for p in router_ports if p.device_owner in (m.ROUTER_INTERFACE, m.ROUTER_GATEWAY)
        ]
        dhcp_ports = await _rows(s, m.Port, m.Port.network_id, [n.id for n in dhcp_nets])
        net_ids = {p.network_id for p in [*guests, *router_ports]} | {n.id for n in dhcp_nets}
        networks = {n.id: n for n in await _rows(s, m.Network, m.Network.id, net_ids)}
        for subnet in await _rows(s, m.Subnet, m.Subnet.network_id, net_ids):
            self.subnets[subnet.id] = subnet
        self.ips = await records.fixed_ips_of(
            s, [p.id for p in [*guests, *router_ports, *dhcp_ports]]
        )
        specs = {nid: self._network(net) for nid, net in networks.items()}
        groups_of = await records.groups_of(s, [p.id for p in guests])
        return dp.HostState(
            host=self.host,
            networks=tuple(specs[n] for n in sorted(specs)),
            ports=tuple(self._port(p, networks[p.network_id], groups_of[p.id]) for p in guests),
            security_groups=await self._groups({g for p in guests for g in groups_of[p.id]}),
            dhcp=tuple(
                self._dhcp(specs[n.id], [p for p in dhcp_ports if p.network_id == n.id])
                for n in dhcp_nets
                if self._dhcp_port(dhcp_ports, n.id) is not None
            ),
            routers=tuple([await self._router(r, router_ports) for r in routers]),
            peers=await self._peers(sorted(net_ids)),
        )

    def _subnet(self, sn: m.Subnet) -> dp.SubnetSpec:
        return dp.SubnetSpec(
            id=sn.id,
            network_id=sn.network_id,
            cidr=sn.cidr,
            ip_version=sn.ip_version,
            gateway_ip=sn.gateway_ip,
            enable_dhcp=sn.enable_dhcp,
            dns_nameservers=tuple(sn.dns_nameservers),
            host_routes=tuple(dp.Route(r["destination"], r["nexthop"]) for r in sn.host_routes),
            ipv6_address_mode=sn.ipv6_address_mode,
            ipv6_ra_mode=sn.ipv6_ra_mode,
        )

    def _network(self, net: m.Network) -> dp.NetworkSpec:
        subnets = sorted(
            (sn for sn in self.subnets.values() if sn.network_id == net.id),
            key=lambda sn: (sn.created_at, sn.id),
        )
        return dp.NetworkSpec(
            id=net.id,
            segmentation_id=net.segmentation_id,
            mtu=net.mtu,
            admin_state_up=net.admin_state_up,
            external=net.external,
            subnets=tuple(self._subnet(sn) for sn in subnets),
        )

    def _fixed(self, port: m.Port) -> tuple[dp.FixedIP, ...]:
        return tuple(dp.FixedIP(sid, ip) for sid, ip in self.ips.get(port.id, []))

    def _with_prefix(self, port: m.Port, only_dhcp: bool = False) -> tuple[str, ...]:
        out = []
        for sid, ip in self.ips.get(port.id, []):
            subnet = self.subnets.get(sid)
            if subnet is None or (only_dhcp and not subnet.enable_dhcp):
                continue
            out.append(f"{ip}/{network_of(subnet.cidr).prefixlen}")
        return tuple(out)

    def _port(self, port: m.Port, net: m.Network, groups: Sequence[str]) -> dp.PortSpec:
        pairs = tuple(
            dp.AddressPair(p["ip_address"], p.get("mac_address") or port.mac_address)
            for p in port.allowed_address_pairs
        )
        return dp.PortSpec(
            id=port.id,
            network_id=port.network_id,
            mac_address=port.mac_address,
            fixed_ips=self._fixed(port),
            device_owner=port.device_owner,
            device_id=port.device_id,
            admin_state_up=port.admin_state_up,
            port_security_enabled=port.port_security_enabled,
            security_group_ids=tuple(groups),
            allowed_address_pairs=pairs,
            mtu=net.mtu,
            **self._namespace(port),
        )

    def _namespace(self, port: m.Port) -> dict[str, Any]:
        """A namespace port's place, addresses and default route (the first
        IPv4 subnet's gateway unless its profile says ``"gateway": false``)."""
        netns = _netns(port)
        if not netns:
            return {}
        gateway = None
        if port.binding_profile.get("gateway", True) is not False:
            gateway = next(
                (
                    sn.gateway_ip
                    for sid, _ip in self.ips.get(port.id, [])
                    if (sn := self.subnets.get(sid)) and sn.ip_version == 4 and sn.gateway_ip
                ),
                None,
            )
        return {"netns": netns, "addresses": self._with_prefix(port), "gateway": gateway}

    @staticmethod
    def _dhcp_port(ports: Sequence[m.Port], network_id: str) -> m.Port | None:
        return next(
            (p for p in ports if p.network_id == network_id and p.device_owner == m.DHCP), None
        )

    def _dhcp(self, net: dp.NetworkSpec, ports: Sequence[m.Port]) -> dp.DhcpSpec:
        server = self._dhcp_port(ports, net.id)
        assert server is not None
        hosts = []
        for port in ports:
            if port.id == server.id:
                continue
            for sid, ip in self.ips.get(port.id, []):
                subnet = self.subnets.get(sid)
                if subnet is not None and subnet.enable_dhcp:
                    hosts.append(
                        dp.DhcpHost(
                            port.mac_address,
                            ip,
                            hostname(port, ip),
                            port_id=port.id,
                            device_id=port.device_id,
                            project_id=port.project_id,
                        )
                    )
        return dp.DhcpSpec(
            network=net,
            port_id=server.id,
            mac_address=server.mac_address,
            addresses=self._with_prefix(server, only_dhcp=True),
            hosts=tuple(sorted(hosts, key=lambda h: (h.ip_address, h.mac_address))),
        )

    def _router_port(self, port: m.Port) -> dp.RouterPort:
        return dp.RouterPort(port.id, port.network_id, port.mac_address, self._with_prefix(port))

    async def _router(self, router: m.Router, ports: Sequence[m.Port]) -> dp.RouterSpec:
        mine = [p for p in ports if p.device_id == router.id]
        gw = next((p for p in mine if p.id == router.gw_port_id), None)
        nexthops = []
        if gw is not None:
            for sid, _ip in self.ips.get(gw.id, []):
                subnet = self.subnets.get(sid)
                if subnet is not None and subnet.gateway_ip:
                    nexthops.append(subnet.gateway_ip)
        fips = (
            await self.s.scalars(
                select(m.FloatingIP)
                .where(
                    m.FloatingIP.router_id == router.id, m.FloatingIP.fixed_ip_address.is_not(None)
                )
                .order_by(m.FloatingIP.floating_ip_address)
            )
        ).all()
        return dp.RouterSpec(
            id=router.id,
            admin_state_up=router.admin_state_up,
            gateway=self._router_port(gw) if gw is not None else None,
            gateway_nexthops=tuple(nexthops),
            enable_snat=router.enable_snat,
            interfaces=tuple(
                self._router_port(p) for p in mine if p.device_owner == m.ROUTER_INTERFACE
            ),
            routes=tuple(dp.Route(r["destination"], r["nexthop"]) for r in router.routes),
            floating_ips=tuple(
                dp.FloatingIPSpec(
                    f.id, f.floating_ip_address, f.fixed_ip_address or "", f.fixed_port_id or ""
                )
                for f in fips
            ),
        )

    async def _groups(self, used: set[str]) -> tuple[dp.SecurityGroupSpec, ...]:
        """The groups the ports use and those their rules name as remote,
        each with its rules and its members' addresses."""
        s = self.s
        rules = await _rows(s, m.SecurityGroupRule, m.SecurityGroupRule.security_group_id, used)
        wanted = used | {r.remote_group_id for r in rules if r.remote_group_id}
        rules += await _rows(
            s, m.SecurityGroupRule, m.SecurityGroupRule.security_group_id, wanted - used
        )
        by_group: dict[str, list[m.SecurityGroupRule]] = defaultdict(list)
        for rule in rules:
            by_group[rule.security_group_id].append(rule)
        members: dict[str, list[str]] = defaultdict(list)
        for part in chunks(sorted(wanted)):
            rows = await s.execute(
                select(
                    m.PortSecurityGroup.security_group_id, m.Port.id, m.Port.allowed_address_pairs
                )
                .join(m.Port, m.Port.id == m.PortSecurityGroup.port_id)
                .where(m.PortSecurityGroup.security_group_id.in_(part))
            )
            found = rows.all()
            ips = await records.fixed_ips_of(s, [pid for _g, pid, _p in found])
            for group_id, pid, pairs in found:
                members[group_id].extend(ip for _sid, ip in ips[pid])
                members[group_id].extend(p["ip_address"] for p in pairs or [])
        return tuple(
            dp.SecurityGroupSpec(
                id=gid,
                rules=tuple(
                    dp.RuleSpec(
                        r.id,
                        r.direction,
                        r.ethertype,
                        r.protocol,
                        r.port_range_min,
                        r.port_range_max,
                        r.remote_ip_prefix,
                        r.remote_group_id,
                    )
                    for r in sorted(by_group[gid], key=lambda r: r.id)
                ),
                member_ips=tuple(sorted(set(members[gid]))),
            )
            for gid in sorted(wanted)
        )

    async def _peers(self, net_ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
        s = self.s
        hosts: dict[str, set[str]] = defaultdict(set)
        for part in chunks(list(net_ids)):
            for net_id, host in await s.execute(
                select(m.Port.network_id, m.Port.binding_host)
                .where(m.Port.network_id.in_(part), m.Port.binding_host != "")
                .distinct()
            ):
                hosts[net_id].add(host)
            for net_id, dhcp_host in await s.execute(
                select(m.Network.id, m.Network.dhcp_host).where(m.Network.id.in_(part))
            ):
                if dhcp_host:
                    hosts[net_id].add(dhcp_host)
        tunnels: dict[str, str] = {}
        for agent_host, tunnel in await s.execute(select(m.Agent.host, m.Agent.tunnel_ip)):
            if tunnel:
                tunnels[agent_host] = tunnel
        out: dict[str, tuple[str, ...]] = {}
        for net_id in net_ids:
            others = sorted({tunnels[h] for h in hosts[net_id] if h != self.host and h in tunnels})
            out[net_id] = tuple(others)
        return out


async def build(s: AsyncSession, host: str) -> dp.HostState:
    return await _Builder(s, host).build()


def _netns(port: m.Port) -> str:
    profile = port.binding_profile if isinstance(port.binding_profile, dict) else {}
    value = profile.get("netns")
    return value if isinstance(value, str) else ""
