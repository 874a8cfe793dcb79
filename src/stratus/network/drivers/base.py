"""The network data plane interface: what one host must hold, as plain
values, and the small set of operations that make the host hold it.

The network agent of a host reads the desired state of its host from the
database (``HostState``, built by the service layer), asks the driver what
the host has (``present``), and calls the driver to add, change and remove
until they agree.  Drivers never see database rows or HTTP objects and never
import models, the agent or each other.  Every operation is idempotent: doing
it twice, or after a crash half-way through it, ends in the same state.

Names of host objects are derived from ids, as Neutron's Linux bridge agent
does, so that an agent restarted with an empty memory finds what it made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

# Port statuses an agent reports (Neutron's).
ACTIVE = "ACTIVE"
DOWN = "DOWN"

# Linux interface names hold 15 characters.
BRIDGE_PREFIX = "brq"  # brq + 11 characters of the network id
TAP_PREFIX = "tap"  # tap + 11 characters of the port id


def bridge_name(network_id: str) -> str:
    return f"{BRIDGE_PREFIX}{network_id[:11]}"


def tap_name(port_id: str) -> str:
    return f"{TAP_PREFIX}{port_id[:11]}"


def ns_port_name(port_id: str) -> str:
    """A namespace port's interface inside its namespace."""
    return f"ns-{port_id[:11]}"


@dataclass(frozen=True)
class FixedIP:
    subnet_id: str
    ip_address: str


@dataclass(frozen=True)
class Route:
    destination: str  # a CIDR
    nexthop: str


@dataclass(frozen=True)
class SubnetSpec:
    id: str
    network_id: str
    cidr: str
    ip_version: int  # 4 or 6
    gateway_ip: str | None
    enable_dhcp: bool
    dns_nameservers: tuple[str, ...] = ()
    host_routes: tuple[Route, ...] = ()
    ipv6_address_mode: str | None = None  # slaac, dhcpv6-stateful, dhcpv6-stateless
    ipv6_ra_mode: str | None = None


@dataclass(frozen=True)
class NetworkSpec:
    id: str
    segmentation_id: int  # the VXLAN network identifier between hosts
    mtu: int
    admin_state_up: bool = True
    external: bool = False
    subnets: tuple[SubnetSpec, ...] = ()


@dataclass(frozen=True)
class AddressPair:
    ip_address: str  # an address or a CIDR
    mac_address: str


@dataclass(frozen=True)
class RuleSpec:
    id: str
    direction: str  # ingress or egress (as the port sees it)
    ethertype: str  # IPv4 or IPv6
    protocol: str | None = None  # None: any; a name (tcp, udp, icmp, ...) or a number
    port_range_min: int | None = None  # ICMP: the type
    port_range_max: int | None = None  # ICMP: the code
    remote_ip_prefix: str | None = None
    remote_group_id: str | None = None


@dataclass(frozen=True)
class SecurityGroupSpec:
    id: str
    rules: tuple[RuleSpec, ...]
    # The fixed IPs (and allowed address pairs) of every port in the group,
    # wherever it is: the set a rule naming this group as remote matches.
    member_ips: tuple[str, ...] = ()


class DataPlaneError(Exception):
    """A data plane operation failed; the message says which and why."""


@dataclass(frozen=True)
class PortSpec:
    """A port whose device is on this host: a guest's tap, plugged by the
    compute driver into the network's bridge here; or, with ``netns``, an
    interface in a namespace of this host that a service made (a load
    balancer's VIP, a database's address: ``binding:profile`` ``{"netns":
    NAME}``).  Then the agent makes a veth pair, the tap end on the bridge
    with the port's filtering, the other end in ``netns`` as
    ``ns_port_name(id)`` with ``addresses`` and a default route via
    ``gateway``."""

    id: str
    network_id: str
    mac_address: str
    fixed_ips: tuple[FixedIP, ...]
    device_owner: str = ""
    device_id: str = ""
    project_id: str = ""
    admin_state_up: bool = True
    port_security_enabled: bool = True
    security_group_ids: tuple[str, ...] = ()
    allowed_address_pairs: tuple[AddressPair, ...] = ()
    mtu: int = 1450
    netns: str = ""
    addresses: tuple[str, ...] = ()  # with their prefix, "10.0.0.5/24" (netns ports)
    gateway: str | None = None  # the default route's next hop (netns ports)

    @property
    def tap(self) -> str:
        return tap_name(self.id)


@dataclass(frozen=True)
class DhcpHost:
    mac_address: str
    ip_address: str
    hostname: str
    # Who owns the address, for the metadata proxy: the asking guest is
    # told apart by its network, address and MAC, and its port's
    # device_id (the server) and project are sent upstream.
    port_id: str = ""
    device_id: str = ""
    project_id: str = ""


@dataclass(frozen=True)
class DhcpSpec:
    """One network's DHCP server (dnsmasq in its own namespace), on its DHCP
    port; it also answers the metadata address for guests of the network."""

    network: NetworkSpec
    port_id: str
    mac_address: str
    addresses: tuple[str, ...]  # the DHCP port's addresses with their prefix, "10.0.0.2/24"
    hosts: tuple[DhcpHost, ...] = ()


@dataclass(frozen=True)
class RouterPort:
    port_id: str
    network_id: str
    mac_address: str
    addresses: tuple[str, ...]  # with their prefix: "10.0.0.1/24"


@dataclass(frozen=True)
class FloatingIPSpec:
    id: str
    floating_ip_address: str
    fixed_ip_address: str
    port_id: str


@dataclass(frozen=True)
class RouterSpec:
    """A router: a namespace holding a port on each of its subnets, routing
    between them, with SNAT through its gateway port to the external network
    and DNAT for its floating IPs."""

    id: str
    admin_state_up: bool = True
    gateway: RouterPort | None = None
    gateway_nexthops: tuple[str, ...] = ()  # the external subnets' gateways
    enable_snat: bool = True
    interfaces: tuple[RouterPort, ...] = ()
    routes: tuple[Route, ...] = ()
    floating_ips: tuple[FloatingIPSpec, ...] = ()


@dataclass(frozen=True)
class HostState:
    """Everything one host must hold."""

    host: str
    networks: tuple[NetworkSpec, ...] = ()  # every network with something on this host
    ports: tuple[PortSpec, ...] = ()  # the guests' ports bound to this host
    # Those the ports use, and those their rules name as remote groups.
    security_groups: tuple[SecurityGroupSpec, ...] = ()
    dhcp: tuple[DhcpSpec, ...] = ()  # the networks whose DHCP this host serves
    routers: tuple[RouterSpec, ...] = ()  # the routers this host runs
    # The tunnel addresses of the other hosts sharing each network, by network id.
    peers: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Present:
    """What the driver finds on the host, by id: the agent compares it with
    the desired state, adopts what matches and removes what belongs to
    nothing."""

    networks: frozenset[str] = frozenset()
    ports: frozenset[str] = frozenset()  # taps that exist (plugged or not)
    dhcp: frozenset[str] = frozenset()  # network ids
    routers: frozenset[str] = frozenset()
    security_groups: frozenset[str] = frozenset()
    # Objects that exist but need repair, as "kind:id" (kind: network, port,
    # dhcp, router, security_group): a dnsmasq that died, a port whose
    # rules went missing.  The agent ensures them again.
    degraded: frozenset[str] = frozenset()


class DataPlane(Protocol):
    """The operations of one host's data plane.  Each ``ensure_*`` makes the
    object exactly what the spec says (creating, changing or leaving it);
    each ``remove_*`` is a no-op when the object is gone."""

    name: str

    async def start(self) -> None:
        """Prepare the host (its namespace, the underlay, the base rules)
        and learn what a previous run left; before any other call."""

    async def close(self) -> None:
        """Stop what lives in this process (the metadata proxy); what runs
        on the host (bridges, taps, rules, dnsmasq) stays."""

    async def present(self) -> Present: ...

    async def ensure_network(self, spec: NetworkSpec, peers: tuple[str, ...]) -> None: ...

    async def remove_network(self, network_id: str) -> None: ...

    async def ensure_security_group(self, spec: SecurityGroupSpec) -> None:
        """The group's rules and its members' addresses, shared by every
        port in the group (a rule change touches the group, not each port)."""

    async def remove_security_group(self, group_id: str) -> None: ...

    async def ensure_port(self, spec: PortSpec) -> bool:
        """The port's tap on its network's bridge and its filtering
        (anti-spoofing, its security groups' rules); True when the port is
        plugged, so that it is ACTIVE (with ``admin_state_up``).  The
        groups are ensured first; a group not (yet) ensured admits nothing."""

    async def remove_port(self, port_id: str) -> None: ...

    async def ensure_dhcp(self, spec: DhcpSpec) -> None: ...

    async def remove_dhcp(self, network_id: str) -> None: ...

    async def ensure_router(self, spec: RouterSpec) -> None: ...

    async def remove_router(self, router_id: str) -> None: ...
