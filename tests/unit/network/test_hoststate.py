"""What each host must hold, for a small topology: one project network with
DHCP and a router to ``public`` on the network host, two guests on two
compute hosts, a floating IP."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from stratus.network.drivers import base as dp
from stratus.network.service import NetworkService
from tests.unit.network.conftest import context

ADMIN = context("admin-project", admin=True)


@dataclass
class Topology:
    net: str
    subnet: str
    public: str
    router: str
    vm1: str
    vm2: str
    ip1: str
    ip2: str
    fip: str
    group: str


@pytest.fixture
async def topology(network: NetworkService) -> Topology:
    ctx = context("proj")
    for host, tunnel in (
        ("nethost", "127.0.10.1"),
        ("compute1", "127.0.10.2"),
        ("compute2", "127.0.10.3"),
    ):
        await network.register_agent(host, tunnel)
    net = await network.networks.create(ctx, {"name": "net1"})
    (subnet,) = await network.subnets.create(
        ctx,
        [
            {
                "network_id": net.row.id,
                "cidr": "10.0.0.0/24",
                "ip_version": 4,
                "dns_nameservers": ["198.18.0.1"],
            }
        ],
    )
    public = (await network.networks.find(ctx, {"name": ["public"]}))[0].row.id
    router = await network.routers.create(
        ctx, {"name": "r1", "external_gateway_info": {"network_id": public}}
    )
    await network.routers.add_interface(ctx, router.row.id, subnet.row.id, None)
    vms = []
    for host in ("compute1", "compute2"):
        (port,) = await network.ports.create(ctx, [{"network_id": net.row.id}])
        vms.append(
            await network.ports.update(
                ADMIN,
                port.row.id,
                {
                    "binding:host_id": host,
                    "device_owner": "compute:nova",
                    "device_id": f"vm-{host}",
                },
                None,
            )
        )
    fip = await network.floatingips.create(
        ctx, {"floating_network_id": public, "port_id": vms[0].row.id}
    )
    return Topology(
        net.row.id,
        subnet.row.id,
        public,
        router.row.id,
        vms[0].row.id,
        vms[1].row.id,
        vms[0].fixed_ips[0][1],
        vms[1].fixed_ips[0][1],
        fip.row.floating_ip_address,
        vms[0].security_groups[0],
    )


async def test_a_compute_host_holds_its_guests(network: NetworkService, topology: Topology) -> None:
    state = await network.host_state("compute1")
    assert state.host == "compute1"
    (port,) = state.ports
    assert port.id == topology.vm1 and port.tap == "tap" + topology.vm1[:11]
    assert port.fixed_ips == (dp.FixedIP(topology.subnet, topology.ip1),)
    assert port.security_group_ids == (topology.group,) and port.mtu == 1450
    assert port.device_owner == "compute:nova" and port.port_security_enabled
    (net,) = state.networks
    assert net.id == topology.net and net.segmentation_id > 0 and not net.external
    (subnet,) = net.subnets
    assert subnet.cidr == "10.0.0.0/24" and subnet.gateway_ip == "10.0.0.1"
    assert subnet.dns_nameservers == ("198.18.0.1",)
    (group,) = state.security_groups
    assert group.id == topology.group and len(group.rules) == 4
    # The default group's members: both guests (the remote group of its ingress rules).
    assert set(group.member_ips) == {topology.ip1, topology.ip2}
    assert state.dhcp == () and state.routers == ()
    assert state.peers == {topology.net: ("127.0.10.1", "127.0.10.3")}


async def test_the_network_host_holds_dhcp_and_routers(
    network: NetworkService, topology: Topology
) -> None:
    state = await network.host_state("nethost")
    assert state.ports == ()
    assert {n.id for n in state.networks} == {topology.net, topology.public}
    public = next(n for n in state.networks if n.id == topology.public)
    assert public.external
    (dhcp,) = state.dhcp
    assert dhcp.network.id == topology.net and dhcp.addresses == ("10.0.0.2/24",)
    hosts = {h.ip_address: h.hostname for h in dhcp.hosts}
    assert hosts[topology.ip1] == "host-" + topology.ip1.replace(".", "-")
    assert set(hosts) == {"10.0.0.1", topology.ip1, topology.ip2}
    (router,) = state.routers
    assert router.id == topology.router and router.enable_snat
    assert router.gateway is not None and router.gateway.network_id == topology.public
    assert router.gateway.addresses[0].startswith("198.18.0.")
    assert router.gateway_nexthops == ("198.18.0.1",)
    (interface,) = router.interfaces
    assert interface.addresses == ("10.0.0.1/24",)
    (fip,) = router.floating_ips
    assert (fip.floating_ip_address, fip.fixed_ip_address, fip.port_id) == (
        topology.fip,
        topology.ip1,
        topology.vm1,
    )
    assert state.peers[topology.net] == ("127.0.10.2", "127.0.10.3")
    assert state.peers[topology.public] == ()


async def test_changes_wake_the_hosts_that_hold_them(
    network: NetworkService, topology: Topology
) -> None:
    woken: list[str] = []
    for host in ("compute1", "compute2", "nethost", "elsewhere"):
        network.subscribe(host, lambda h=host: woken.append(h))
    await network.groups.create_rules(
        context("proj"),
        [
            {
                "security_group_id": topology.group,
                "direction": "ingress",
                "protocol": "tcp",
                "port_range_min": 22,
                "port_range_max": 22,
            }
        ],
    )
    assert sorted(woken) == ["compute1", "compute2"]
    woken.clear()
    await network.floatingips.update(
        context("proj"),
        (await network.floatingips.find(context("proj")))[0].row.id,
        {"port_id": None},
        None,
    )
    assert woken == ["nethost"]


async def test_port_status_from_the_data_plane(network: NetworkService, topology: Topology) -> None:
    before = await network.ports.get(ADMIN, topology.vm1)
    assert before.row.status == "DOWN"
    assert await network.set_port_status(topology.vm1, "ACTIVE")
    after = await network.ports.get(ADMIN, topology.vm1)
    assert after.row.status == "ACTIVE"
    assert after.row.revision_number == before.row.revision_number + 1
    assert not await network.set_port_status("gone", "ACTIVE")
    agents = await network.agents.find()
    assert {(a.host, a.tunnel_ip) for a in agents} == {
        ("nethost", "127.0.10.1"),
        ("compute1", "127.0.10.2"),
        ("compute2", "127.0.10.3"),
    }
    assert await network.agent_heartbeat("compute1")
    assert not await network.agent_heartbeat("nowhere")


async def test_a_namespace_port_is_held_with_its_addresses_and_gateway(
    network: NetworkService, topology: Topology
) -> None:
    """A service's port (a load balancer's VIP) bound with a namespace in its
    binding profile is held by its host, whatever its device owner; a port
    bound without one and not a guest's is not."""
    ctx = context("proj")
    ports = []
    for owner, profile in (
        ("Octavia", {"netns": "lb-1"}),
        ("trove", {"netns": "db-1", "gateway": False}),
        ("Octavia", {}),
    ):
        (port,) = await network.ports.create(ctx, [{"network_id": topology.net}])
        ports.append(
            await network.ports.update(
                ADMIN,
                port.row.id,
                {"binding:host_id": "compute2", "device_owner": owner, "binding:profile": profile},
                None,
            )
        )
    state = await network.host_state("compute2")
    held = {p.id: p for p in state.ports}
    assert set(held) == {topology.vm2, ports[0].row.id, ports[1].row.id}
    lb, db = held[ports[0].row.id], held[ports[1].row.id]
    assert lb.netns == "lb-1" and lb.gateway == "10.0.0.1"
    assert lb.addresses == (f"{ports[0].fixed_ips[0][1]}/24",)
    assert db.netns == "db-1" and db.gateway is None
    assert held[topology.vm2].netns == "" and held[topology.vm2].addresses == ()
