"""Names of the host objects the Linux data plane makes, all derived from
ids, so that an agent restarted with an empty memory finds what it made.

Interfaces hold 15 characters: a short prefix and 11 characters of the id
(as Neutron's Linux bridge agent names them); the full id is kept in the
interface's alias.  Namespaces and nftables objects carry full ids.  With a
host namespace (several hosts on one machine) the namespaces of DHCP and
routers are prefixed with its name, so that two agents never share one.
"""

from __future__ import annotations

from dataclasses import dataclass

from stratus.network.drivers.base import bridge_name, tap_name

__all__ = ["Names", "bridge_name", "tap_name"]

ID = 11  # characters of an id in an interface name

VXLAN_PREFIX = "vx"
DHCP_HOST_PREFIX = "dh"  # the DHCP port's veth end on the bridge
DHCP_NS_PREFIX = "ns-"  # its end in the qdhcp namespace
ROUTER_HOST_PREFIX = "ri"  # a router interface's veth end on the bridge
ROUTER_NS_PREFIX = "qr-"
GATEWAY_HOST_PREFIX = "rg"  # a router gateway's veth end on the external bridge
GATEWAY_NS_PREFIX = "qg-"
UNDERLAY_NS_IF = "underlay"  # the host namespace's end of its underlay veth

DHCP_NETNS = "qdhcp-"
ROUTER_NETNS = "qrouter-"

# nftables: one table per family in the host's namespace.
TABLE = "stratus_net"
ROUTER_TABLE = "stratus_router"  # in each router namespace


def vxlan_name(network_id: str) -> str:
    return f"{VXLAN_PREFIX}{network_id[:ID]}"


def dhcp_host_if(port_id: str) -> str:
    return f"{DHCP_HOST_PREFIX}{port_id[:ID]}"


def dhcp_ns_if(port_id: str) -> str:
    return f"{DHCP_NS_PREFIX}{port_id[:ID]}"


def router_host_if(port_id: str, gateway: bool) -> str:
    return f"{GATEWAY_HOST_PREFIX if gateway else ROUTER_HOST_PREFIX}{port_id[:ID]}"


def router_ns_if(port_id: str, gateway: bool) -> str:
    return f"{GATEWAY_NS_PREFIX if gateway else ROUTER_NS_PREFIX}{port_id[:ID]}"


# nftables chains and sets (full ids: names may be long).
def spoof_chain(port_id: str) -> str:
    return f"s_{port_id}"


def egress_chain(port_id: str) -> str:
    return f"e_{port_id}"


def ingress_chain(port_id: str) -> str:
    return f"i_{port_id}"


def group_chain(group_id: str, direction: str) -> str:
    return f"g{'i' if direction == 'ingress' else 'e'}_{group_id}"


def member_set(group_id: str, version: int) -> str:
    return f"m{version}_{group_id}"


@dataclass(frozen=True)
class Names:
    """Names that depend on the host's namespace."""

    host_namespace: str = ""

    @property
    def netns_prefix(self) -> str:
        return f"{self.host_namespace}-" if self.host_namespace else ""

    def dhcp_netns(self, network_id: str) -> str:
        return f"{self.netns_prefix}{DHCP_NETNS}{network_id}"

    def router_netns(self, router_id: str) -> str:
        return f"{self.netns_prefix}{ROUTER_NETNS}{router_id}"

    def dhcp_of(self, netns: str) -> str | None:
        """The network id of one of this host's qdhcp namespaces."""
        return self._strip(netns, DHCP_NETNS)

    def router_of(self, netns: str) -> str | None:
        return self._strip(netns, ROUTER_NETNS)

    def _strip(self, netns: str, kind: str) -> str | None:
        prefix = self.netns_prefix + kind
        return (
            netns[len(prefix) :] if netns.startswith(prefix) and len(netns) > len(prefix) else None
        )
