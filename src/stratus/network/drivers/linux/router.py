"""Routers: a namespace per router (``qrouter-<id>``) with a veth into each
of its networks' bridges (``qr-`` inside, one per interface) and one into
the external network's bridge (``qg-``, the gateway), IP forwarding on
inside it only, its routes, and nftables NAT: SNAT of the inside to the
gateway address (``enable_snat``), and a DNAT/SNAT pair per floating IP,
the floating IP held on the gateway interface.

NAT rules name the router's own interfaces, so nothing else that reaches
an address is rewritten.  The NAT table is replaced in one transaction.
"""

from __future__ import annotations

import ipaddress
import logging

from stratus.network.drivers.base import RouterPort, RouterSpec, bridge_name
from stratus.network.drivers.linux import links
from stratus.network.drivers.linux import names as n
from stratus.network.drivers.linux.command import Place, netns_add, netns_delete

log = logging.getLogger(__name__)

HAIRPIN_MARK = 0x1  # a floating IP asked for from inside: answered through the router


def _v4(addresses: tuple[str, ...]) -> list[ipaddress.IPv4Interface]:
    out = []
    for a in addresses:
        iface = ipaddress.ip_interface(a)
        if isinstance(iface, ipaddress.IPv4Interface):
            out.append(iface)
    return out


def _set(items: list[str]) -> str:
    return "{ " + ", ".join(items) + " }"


def nat_script(spec: RouterSpec) -> str:
    t = n.ROUTER_TABLE
    lines = [f"add table ip {t}", f"delete table ip {t}", f"add table ip {t}"]
    lines += [
        f"add chain ip {t} prerouting {{ type nat hook prerouting priority -100; policy accept; }}",
        f"add chain ip {t} output {{ type nat hook output priority -100; policy accept; }}",
        f"add chain ip {t} postrouting {{ type nat hook postrouting priority 100; policy accept; }}",
    ]
    gw = spec.gateway
    inside = [n.router_ns_if(p.port_id, False) for p in spec.interfaces]
    cidrs = sorted({str(i.network) for p in spec.interfaces for i in _v4(p.addresses)})
    if gw is None:
        return "\n".join(lines) + "\n"
    qg = n.router_ns_if(gw.port_id, True)
    for fip in spec.floating_ips:
        f, x = fip.floating_ip_address, fip.fixed_ip_address
        lines.append(f'add rule ip {t} prerouting iifname "{qg}" ip daddr {f} dnat to {x}')
        if inside:
            names = _set([f'"{i}"' for i in inside])
            lines.append(
                f"add rule ip {t} prerouting iifname {names} ip daddr {f} "
                f"meta mark set {HAIRPIN_MARK:#x} dnat to {x}"
            )
        lines.append(f"add rule ip {t} output ip daddr {f} dnat to {x}")
    if inside:
        names = _set([f'"{i}"' for i in inside])
        lines.append(
            f"add rule ip {t} postrouting oifname {names} meta mark {HAIRPIN_MARK:#x} masquerade"
        )
    for fip in spec.floating_ips:
        lines.append(
            f'add rule ip {t} postrouting oifname "{qg}" ip saddr {fip.fixed_ip_address} '
            f"snat to {fip.floating_ip_address}"
        )
    gw_v4 = _v4(gw.addresses)
    if spec.enable_snat and gw_v4 and cidrs:
        lines.append(
            f'add rule ip {t} postrouting oifname "{qg}" ip saddr {_set(cidrs)} snat to {gw_v4[0].ip}'
        )
    return "\n".join(lines) + "\n"


class Routers:
    def __init__(self, host: Place, names: n.Names):
        self.host = host
        self.names = names

    async def ensure(self, spec: RouterSpec, mtus: dict[str, int]) -> None:
        ns = self.names.router_netns(spec.id)
        await netns_add(ns)
        inner = Place(ns)
        await inner.sysctl(net__ipv4__ip_forward="1", net__ipv6__conf__all__forwarding="1")
        wanted: dict[str, tuple[RouterPort, bool]] = {
            n.router_ns_if(p.port_id, False): (p, False) for p in spec.interfaces
        }
        if spec.gateway is not None:
            wanted[n.router_ns_if(spec.gateway.port_id, True)] = (spec.gateway, True)
        for name in await links.links(inner):
            if name.startswith((n.ROUTER_NS_PREFIX, n.GATEWAY_NS_PREFIX)) and name not in wanted:
                await links.delete(inner, name)
        for name, (port, gateway) in wanted.items():
            await self._port(inner, name, port, gateway, spec, mtus)
        await inner.nft(nat_script(spec))
        await self._routes(inner, spec)  # last: a bad next hop fails only this

    async def _port(
        self,
        inner: Place,
        name: str,
        port: RouterPort,
        gateway: bool,
        spec: RouterSpec,
        mtus: dict[str, int],
    ) -> None:
        await links.ensure_veth(
            self.host,
            n.router_host_if(port.port_id, gateway),
            inner,
            name,
            mac=port.mac_address,
            bridge=bridge_name(port.network_id),
            alias=port.port_id,
            mtu=mtus.get(port.network_id, 1500),
            up=spec.admin_state_up,
        )
        addresses = list(port.addresses)
        if gateway:
            addresses += [f"{f.floating_ip_address}/32" for f in spec.floating_ips]
        await links.set_addresses(inner, name, addresses)

    async def _routes(self, inner: Place, spec: RouterSpec) -> None:
        want: set[tuple[str, str]] = set()
        if spec.gateway is not None:
            for hop in spec.gateway_nexthops:
                version = ipaddress.ip_address(hop).version
                if not any(ipaddress.ip_address(h).version == version for _, h in want):
                    want.add(("default", hop))
        for route in spec.routes:
            net = ipaddress.ip_network(route.destination, strict=False)
            want.add(("default" if net.prefixlen == 0 else str(net), route.nexthop))
        for family in ("-4", "-6"):
            mine = {(d, h) for d, h in want if (":" in h) == (family == "-6")}
            lines = [
                f"route del {r['dst']} via {r['gateway']}"
                for r in await inner.ip_json(family, "route", "show")
                if "gateway" in r and (r["dst"], r["gateway"]) not in mine
            ]
            lines += [f"route replace {dst} via {hop}" for dst, hop in sorted(mine)]
            await inner.batch(lines, family)

    async def remove(self, router_id: str) -> None:
        # The veths die with the namespace, their bridge ends with them.
        await netns_delete(self.names.router_netns(router_id))

    async def present(self, namespaces: set[str]) -> set[str]:
        return {r for ns in namespaces if (r := self.names.router_of(ns))}
