"""The Linux data plane of one host: bridges, VXLAN, taps, nftables,
dnsmasq, router namespaces and the metadata proxy (see ``docs/architecture.md``).

All of a host's bridges and taps live in one network namespace: the root
one (the all-in-one) or the host's own (``[network] host_namespace``), which
lets several hosts share one machine.  A host namespace reaches the others
through an underlay: a veth into a bridge in the root namespace, with the
host's tunnel address; VXLAN runs over it.  Nothing is routed off the
machine: the underlay bridge has no address and the root namespace never
forwards.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

from stratus.network.drivers.base import (
    DataPlaneError,
    DhcpSpec,
    NetworkSpec,
    PortSpec,
    Present,
    RouterSpec,
    SecurityGroupSpec,
    bridge_name,
    ns_port_name,
    tap_name,
)
from stratus.network.drivers.linux import links
from stratus.network.drivers.linux import names as n
from stratus.network.drivers.linux.apirelay import ApiRelay
from stratus.network.drivers.linux.command import Place, netns_add, netns_delete, netns_list
from stratus.network.drivers.linux.dhcp import METADATA_IP, Dnsmasq
from stratus.network.drivers.linux.firewall import Firewall
from stratus.network.drivers.linux.metadata import MetadataProxy
from stratus.network.drivers.linux.router import Routers

log = logging.getLogger(__name__)

BRIDGE_NF = ("net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables")


@dataclass(frozen=True)
class LinuxSettings:
    host: str
    state_dir: Path  # the agent's folder for this host (dnsmasq's files)
    host_namespace: str = ""  # empty: the root namespace
    tunnel_address: str = ""  # "IP" or "IP/PREFIX"; empty: no VXLAN (one host)
    underlay_bridge: str = "stratus-under"
    external_address: str = "gateway"  # "gateway", "" (none) or a CIDR
    dns_domain: str = "openstacklocal"
    metadata_upstream: str = ""
    metadata_secret: str = ""
    metadata_port: int = 80
    # The API ("host:port") relayed to guests on the host's external
    # addresses at api_relay_port (apirelay.py); empty: no relay.
    api_relay: str = ""
    api_relay_port: int = 0

    @property
    def tunnel_ip(self) -> str:
        return self.tunnel_address.split("/")[0]


def conntrack_zone(segmentation_id: int) -> int:
    """A network's conntrack zone: its VXLAN id folded into 1..65535."""
    return (segmentation_id - 1) % 0xFFFF + 1


class LinuxDataPlane:
    name = "linux"

    def __init__(self, settings: LinuxSettings):
        self.settings = settings
        self.place = Place(settings.host_namespace or None)
        self.names = n.Names(settings.host_namespace)
        self.firewall = Firewall(self.place)
        self.dnsmasq = Dnsmasq(settings.state_dir / "dhcp", settings.dns_domain)
        self.routers = Routers(self.place, self.names)
        self.metadata = MetadataProxy(
            settings.metadata_upstream, settings.metadata_secret, settings.metadata_port
        )
        self.api_relay = ApiRelay(settings.api_relay, settings.api_relay_port,
                                  settings.host_namespace or None)  # fmt: skip
        self._external: set[str] = set()  # external networks whose addresses it relays on
        self.mtus: dict[str, int] = {}  # network id -> MTU, as last ensured
        self._secured: set[str] = set()  # ports given rules by this process
        self._metadata: set[str] = set()  # networks whose metadata this process serves
        # network id -> the DHCP spec last ensured in full since the last look
        # at the host (present()): a change of its hosts alone is a reload.
        self._dhcp: dict[str, DhcpSpec] = {}
        self._plugged: set[str] = set()  # guest ports whose tap this process made or set

    # -- the host -------------------------------------------------------------

    async def start(self) -> None:
        s = self.settings
        if s.host_namespace:
            await netns_add(s.host_namespace)
            # Bridged IP traffic passes the inet hooks (the filtering needs it).
            await self.place.sysctl(**{k.replace(".", "__"): "1" for k in BRIDGE_NF})
            if s.tunnel_address:
                await self._underlay()
        else:
            for key in BRIDGE_NF:
                path = Path("/proc/sys") / key.replace(".", "/")
                if path.read_text().strip() != "1":
                    log.warning("setting %s = 1: port filtering needs bridge netfilter", key)
                    await self.place.sysctl_path(key, "1")
        await self.firewall.start()

    async def _underlay(self) -> None:
        s = self.settings
        root = Place(None)
        bridge = await links.link(root, s.underlay_bridge)
        if bridge is None:
            log.info("creating the underlay bridge %s (no address, no uplink)", s.underlay_bridge)
            await links.ensure_bridge(
                root, s.underlay_bridge, alias="stratus-underlay", mtu=1500, up=True
            )
        digest = hashlib.sha256(s.host_namespace.encode()).hexdigest()
        mac = "02:" + ":".join(digest[i : i + 2] for i in range(0, 10, 2))
        await links.ensure_veth(
            root, f"ul-{digest[:12]}", self.place, n.UNDERLAY_NS_IF,
            mac=mac, bridge=s.underlay_bridge, alias=f"underlay-of-{s.host_namespace}", mtu=1500,
        )  # fmt: skip
        address = s.tunnel_address if "/" in s.tunnel_address else f"{s.tunnel_address}/24"
        await links.set_addresses(self.place, n.UNDERLAY_NS_IF, [address])

    async def close(self) -> None:
        await self.metadata.close()
        await self.api_relay.close()

    async def present(self) -> Present:
        self._dhcp.clear()  # the next DHCP change checks everything again
        found = await links.links(self.place)
        # Ours are those named after the id in their alias (set when made),
        # so another program's "tap0" is never taken for a port.
        networks = {
            link.alias
            for link in found.values()
            if link.kind == "bridge" and link.alias and bridge_name(link.alias) == link.name
        }
        ports = {
            link.alias
            for link in found.values()
            if link.alias and tap_name(link.alias) == link.name
        }
        namespaces = await netns_list()
        dhcp = {d for ns in namespaces if (d := self.names.dhcp_of(ns))}
        # dnsmasq's files (and a dnsmasq) a crash left without their
        # namespace: removed with the rest when nothing wants them
        unhoused = self.dnsmasq.networks() - dhcp
        dhcp |= unhoused
        routers = await self.routers.present(namespaces)
        chains = await self.firewall.chains()
        groups = {c[3:] for c in chains if c.startswith("gi_")}
        # a port's rules without its tap (a crash between the two, either
        # way): the port is there to be removed, or made whole again
        tapless = {c[2:] for c in chains if c.startswith("s_")} - ports
        ports |= tapless
        degraded = {f"port:{p}" for p in self._secured if n.spoof_chain(p) not in chains}
        degraded |= {f"port:{p}" for p in tapless}
        degraded |= {f"dhcp:{d}" for d in unhoused}
        degraded |= {
            f"dhcp:{d}"
            for d in dhcp
            if self.dnsmasq.pid(d) is None or (d in self._metadata and not self.metadata.serving(d))
        }
        return Present(
            networks=frozenset(networks),
            ports=frozenset(ports),
            dhcp=frozenset(dhcp),
            routers=frozenset(routers),
            security_groups=frozenset(groups),
            degraded=frozenset(degraded),
        )

    # -- networks -------------------------------------------------------------

    async def ensure_network(self, spec: NetworkSpec, peers: tuple[str, ...]) -> None:
        bridge = bridge_name(spec.id)
        await links.ensure_bridge(
            self.place, bridge, alias=spec.id, mtu=spec.mtu, up=spec.admin_state_up
        )
        vxlan = n.vxlan_name(spec.id)
        if self.settings.tunnel_address:
            await links.ensure_vxlan(
                self.place, vxlan,
                vni=spec.segmentation_id, local=self.settings.tunnel_ip,
                device=n.UNDERLAY_NS_IF if self.settings.host_namespace else None,
                bridge=bridge, alias=spec.id, mtu=spec.mtu, peers=peers,
            )  # fmt: skip
        else:
            await links.delete(self.place, vxlan)
        if spec.external:
            # The host's own address on the external network: it reaches the
            # floating IPs, and the routers' SNAT reaches it.  The external
            # network keeps conntrack zone 0, the host's own.
            addresses = self._external_addresses(spec)
            await links.set_addresses(self.place, bridge, addresses)
            await self.firewall.remove_zone(bridge)
            self._external.add(spec.id)
            await self.api_relay.ensure([a.split("/")[0] for a in addresses])
        else:
            await self.firewall.ensure_zone(bridge, conntrack_zone(spec.segmentation_id))
        self.mtus[spec.id] = spec.mtu

    def _external_addresses(self, spec: NetworkSpec) -> list[str]:
        wanted = self.settings.external_address
        if wanted == "gateway":
            return [
                f"{s.gateway_ip}/{ipaddress.ip_network(s.cidr, strict=False).prefixlen}"
                for s in spec.subnets
                if s.gateway_ip
            ]
        return [wanted] if wanted else []

    async def remove_network(self, network_id: str) -> None:
        bridge = bridge_name(network_id)
        await links.delete(self.place, n.vxlan_name(network_id))
        await self.firewall.remove_zone(bridge)
        await links.delete(self.place, bridge)
        self.mtus.pop(network_id, None)
        if network_id in self._external:
            self._external.discard(network_id)
            await self.api_relay.ensure([])

    # -- security groups ------------------------------------------------------

    async def ensure_security_group(self, spec: SecurityGroupSpec) -> None:
        await self.firewall.ensure_group(spec)

    async def remove_security_group(self, group_id: str) -> None:
        await self.firewall.remove_group(group_id)

    # -- ports ----------------------------------------------------------------

    async def ensure_port(self, spec: PortSpec) -> bool:
        bridge = bridge_name(spec.network_id)
        # A bridge this process made is known; another is looked for.
        if spec.network_id not in self.mtus and await links.link(self.place, bridge) is None:
            raise DataPlaneError(f"port {spec.id}: network {spec.network_id} has no bridge here")
        # The rules first: a tap never carries a frame without them.
        if spec.netns:
            await self._filter(spec)
            await self._plug_into_namespace(spec, bridge)
            return True
        tap, up = spec.tap, spec.admin_state_up
        made: bool | BaseException = False
        if spec.id not in self._plugged:
            # A tap made now carries no frame until its guest opens it (no
            # carrier: its bridge port stays disabled), so it is made while
            # its rules are written: the hot-plug path, one process's wait
            # less.  One that exists is set only once the rules are in.
            made, filtered = await asyncio.gather(
                links.add_plugged_tap(
                    self.place, tap, bridge=bridge, alias=spec.id, mtu=spec.mtu, up=up
                ),
                self._filter(spec),
                return_exceptions=True,
            )
            if isinstance(filtered, BaseException):
                if made is True:  # never left on its bridge without its rules
                    await links.delete(self.place, tap)
                raise filtered
            if isinstance(made, BaseException):
                raise made
        else:
            await self._filter(spec)
        if made is not True:
            await links.ensure_plugged_tap(
                self.place, tap, bridge=bridge, alias=spec.id, mtu=spec.mtu, up=up
            )
        self._plugged.add(spec.id)
        return True

    async def _filter(self, spec: PortSpec) -> None:
        if spec.port_security_enabled:
            await self.firewall.ensure_port(spec)
            self._secured.add(spec.id)
        else:
            await self.firewall.remove_port(spec.id)
            self._secured.discard(spec.id)

    async def _plug_into_namespace(self, spec: PortSpec, bridge: str) -> None:
        """A veth from the bridge into the namespace its owner made, with the
        port's addresses and default route inside."""
        if spec.netns not in await netns_list():
            raise DataPlaneError(f"port {spec.id}: namespace {spec.netns} does not exist")
        inner = Place(spec.netns)
        inside = ns_port_name(spec.id)
        await links.ensure_veth(
            self.place, spec.tap, inner, inside,
            mac=spec.mac_address, bridge=bridge, alias=spec.id,
            mtu=spec.mtu, up=spec.admin_state_up,
        )  # fmt: skip
        await links.set_addresses(inner, inside, list(spec.addresses))
        lines = ["link set dev lo up"]
        if spec.gateway:
            lines.append(f"route replace default via {spec.gateway} dev {inside}")
        await inner.batch(lines)

    async def remove_port(self, port_id: str) -> None:
        self._plugged.discard(port_id)
        await links.delete(self.place, tap_name(port_id))  # the tap first, then its rules
        await self.firewall.remove_port(port_id)
        self._secured.discard(port_id)

    # -- DHCP and metadata ----------------------------------------------------

    async def ensure_dhcp(self, spec: DhcpSpec) -> None:
        net = spec.network
        ns = self.names.dhcp_netns(net.id)
        metadata = any(":" not in s.cidr and s.enable_dhcp for s in net.subnets)
        last = self._dhcp.get(net.id)
        if last is not None and replace(last, hosts=spec.hosts) == spec:
            # Only the hosts changed (a port came or went): no command runs,
            # dnsmasq rereads its files and the proxy takes the new table.
            await self._dhcp_hosts(spec, ns, metadata)
            return
        self._dhcp.pop(net.id, None)
        if await netns_add(ns):
            # A namespace made anew (at first, or after someone deleted it):
            # a dnsmasq or a metadata socket of the old one serves nobody.
            await self.dnsmasq.stop(net.id)
            await self.metadata.stop(net.id)
        inner = Place(ns)
        inside = n.dhcp_ns_if(spec.port_id)
        for name in await links.links(inner):
            if name.startswith(n.DHCP_NS_PREFIX) and name != inside:
                await links.delete(inner, name)  # a DHCP port that was replaced
        await links.ensure_veth(
            self.place, n.dhcp_host_if(spec.port_id), inner, inside,
            mac=spec.mac_address, bridge=bridge_name(net.id), alias=spec.port_id, mtu=net.mtu,
        )  # fmt: skip
        addresses = list(spec.addresses) + ([f"{METADATA_IP}/32"] if metadata else [])
        await links.set_addresses(inner, inside, addresses)
        await self._dhcp_hosts(spec, ns, metadata)
        self._dhcp[net.id] = spec

    async def _dhcp_hosts(self, spec: DhcpSpec, ns: str, metadata: bool) -> None:
        net = spec.network
        await self.dnsmasq.ensure(Place(ns), spec, n.dhcp_ns_if(spec.port_id), metadata)
        if metadata:
            await self.metadata.serve(net.id, ns, spec.hosts)
            self._metadata.add(net.id)
        else:
            await self.metadata.stop(net.id)
            self._metadata.discard(net.id)

    async def remove_dhcp(self, network_id: str) -> None:
        self._dhcp.pop(network_id, None)
        await self.metadata.stop(network_id)
        self._metadata.discard(network_id)
        await self.dnsmasq.stop(network_id)
        await netns_delete(self.names.dhcp_netns(network_id))
        shutil.rmtree(self.dnsmasq.files(network_id).dir, ignore_errors=True)

    # -- routers --------------------------------------------------------------

    async def ensure_router(self, spec: RouterSpec) -> None:
        await self.routers.ensure(spec, self.mtus)

    async def remove_router(self, router_id: str) -> None:
        await self.routers.remove(router_id)
