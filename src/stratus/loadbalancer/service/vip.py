"""The load balancers' side of the network service: the VIP's subnet and
network, the VIP port (a namespace port in the load balancer's namespace on
its agent's host), and the VIP's security group, which opens only the
listeners' ports to their ``allowed_cidrs``."""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from typing import Any

from stratus.common.context import RequestContext
from stratus.common.errors import StratusError
from stratus.loadbalancer.errors import InvalidOption

log = logging.getLogger(__name__)

DEVICE_OWNER = "Octavia"


@dataclass(frozen=True)
class Vip:
    subnet_id: str
    network_id: str
    port_id: str = ""
    address: str = ""


def _admin(request_id: str = "lb-service") -> RequestContext:
    return RequestContext(request_id=request_id, roles=("admin", "member", "reader"))


class VipNetworking:
    """Calls on the network service of this process (``NetworkService``)."""

    def __init__(self, network: Any, host: str):
        self.network = network
        self.host = host
        self._unlimited: set[str] = set()

    async def subnet(self, ctx: RequestContext, subnet_id: str) -> tuple[str, str]:
        """(network id, CIDR) of a subnet the caller sees; 400 otherwise."""
        try:
            rec = await self.network.subnets.get(ctx, subnet_id)
        except StratusError:
            raise InvalidOption(f"Subnet {subnet_id} not found.") from None
        return rec.row.network_id, rec.row.cidr

    async def resolve(
        self,
        ctx: RequestContext,
        subnet_id: str | None,
        network_id: str | None,
        port_id: str | None,
        address: str | None,
    ) -> Vip:
        """Where the VIP goes, checked as Octavia checks it."""
        if port_id:
            try:
                port = await self.network.ports.get(ctx, port_id)
            except StratusError:
                raise InvalidOption(f"Port {port_id} not found.") from None
            if port.row.device_id or port.row.device_owner:
                raise InvalidOption(f"Port {port_id} is already in use.")
            if not port.fixed_ips:
                raise InvalidOption(f"Port {port_id} has no fixed IP.")
            sub, addr = port.fixed_ips[0]
            return Vip(sub, port.row.network_id, port_id, addr)
        if subnet_id:
            net, cidr = await self.subnet(ctx, subnet_id)
            if network_id and network_id != net:
                raise InvalidOption(f"Subnet {subnet_id} is not on network {network_id}.")
            if address and ipaddress.ip_address(address) not in ipaddress.ip_network(cidr):
                raise InvalidOption(f"VIP address {address} is not in subnet {subnet_id}.")
            return Vip(subnet_id, net)
        if network_id:
            try:
                rec = await self.network.networks.get(ctx, network_id)
            except StratusError:
                raise InvalidOption(f"Network {network_id} not found.") from None
            for sub in rec.subnets:
                _, cidr = await self.subnet(_admin(), sub)
                if ":" not in cidr and (
                    not address or ipaddress.ip_address(address) in ipaddress.ip_network(cidr)
                ):
                    return Vip(sub, network_id)
            raise InvalidOption(f"Network {network_id} has no usable IPv4 subnet for a VIP.")
        raise InvalidOption(
            "Validation failure: VIP must contain one of: vip_port_id, vip_network_id, "
            "vip_subnet_id."
        )

    async def make_port(
        self, project_id: str, lb_id: str, vip: Vip, address: str | None, group_owner: str = ""
    ) -> tuple[str, str, str]:
        """The VIP's security group and port, not bound yet (the agent binds
        it once the namespace exists): (port id, address, group id).  The
        port is the user's (a floating IP goes on it); the group, as in
        Octavia, the service project's (``group_owner``), so it counts
        against no user's quota and no user changes it."""
        ctx = _admin()
        if group_owner:
            await self._unlimited_groups(group_owner)
        group = await self.network.groups.create(
            ctx,
            {
                "project_id": group_owner or project_id,
                "name": f"lb-{lb_id}",
                "description": "The VIP of a load balancer: its listeners' ports",
            },
        )
        group_id = group.row.id
        attrs: dict[str, Any] = {
            "device_owner": DEVICE_OWNER,
            "device_id": f"lb-{lb_id}",
            "security_groups": [group_id],
        }
        try:
            if vip.port_id:
                rec = await self.network.ports.update(ctx, vip.port_id, attrs, None)
            else:
                fixed: dict[str, str] = {"subnet_id": vip.subnet_id}
                if address:
                    fixed["ip_address"] = address
                attrs.update(
                    network_id=vip.network_id,
                    project_id=project_id,
                    name=f"octavia-lb-{lb_id}",
                    fixed_ips=[fixed],
                )
                rec = (await self.network.ports.create(ctx, [attrs]))[0]
        except BaseException:
            await self.network.groups.delete(ctx, group_id, None)
            raise
        addr = next((a for s, a in rec.fixed_ips if s == vip.subnet_id), rec.fixed_ips[0][1])
        return rec.row.id, addr, group_id

    async def _unlimited_groups(self, project_id: str) -> None:
        """Octavia's deployment guide lifts the service project's security
        group quotas: one group per load balancer.  Done here once, unless
        an operator set other limits than the defaults."""
        if project_id in self._unlimited:
            return
        limits = await self.network.quotas.limits(project_id)
        defaults = self.network.quotas.defaults
        lift = {r: -1 for r in ("security_group", "security_group_rule")
                if limits.get(r, -1) >= 0 and limits.get(r) == defaults.get(r)}  # fmt: skip
        if lift:
            await self.network.quotas.update(project_id, lift)
        self._unlimited.add(project_id)

    async def bind(self, port_id: str, host: str, netns: str) -> None:
        """Bind the VIP port to the namespace on its host, unless it is."""
        ctx = _admin()
        port = await self.network.ports.get(ctx, port_id)
        profile = {"netns": netns}
        if port.row.binding_host == host and (port.row.binding_profile or {}) == profile:
            return
        attrs = {"binding:host_id": host, "binding:profile": profile}
        await self.network.ports.update(ctx, port_id, attrs, None)

    async def drop_port(self, port_id: str, group_id: str, owned: bool) -> None:
        """The VIP port goes (or, given by the user, is released) with its group."""
        ctx = _admin()
        try:
            if owned:
                await self.network.ports.delete(ctx, port_id, None)
            else:
                attrs = {
                    "binding:host_id": "",
                    "binding:profile": {},
                    "device_owner": "",
                    "device_id": "",
                    "security_groups": [],
                }
                await self.network.ports.update(ctx, port_id, attrs, None)
        except StratusError as exc:
            log.info("loadbalancer: VIP port %s: %s", port_id, exc.message)
        if group_id:
            try:
                await self.network.groups.delete(ctx, group_id, None)
            except StratusError as exc:
                log.info("loadbalancer: VIP group %s: %s", group_id, exc.message)

    async def open_ports(self, group_id: str, wanted: set[tuple[int, str]]) -> None:
        """The group's ingress rules become exactly TCP to these (port, CIDR)s."""
        ctx = _admin()
        rules = await self.network.groups.list_rules(ctx, {"security_group_id": [group_id]})
        have = {}
        for rule in rules:
            if rule.direction != "ingress":
                continue
            key = (rule.port_range_min or 0, rule.remote_ip_prefix or "0.0.0.0/0")
            have[key] = rule.id
        for key, rule_id in have.items():
            if key not in wanted:
                await self.network.groups.delete_rule(ctx, rule_id)
        new = [
            {
                "security_group_id": group_id,
                "direction": "ingress",
                "ethertype": "IPv4",
                "protocol": "tcp",
                "port_range_min": port,
                "port_range_max": port,
                "remote_ip_prefix": cidr,
            }
            for port, cidr in sorted(wanted - set(have))
        ]
        if new:
            await self.network.groups.create_rules(ctx, new)
