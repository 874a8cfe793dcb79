"""openstacksdk against the network API, as a project member."""

from __future__ import annotations

from collections.abc import Iterator

import openstack
import openstack.exceptions
import pytest

from tests.conftest import Server
from tests.functional.network.conftest import Project, project_with


@pytest.fixture(scope="module")
def me(cloud: Server) -> Project:
    return project_with(cloud)


@pytest.fixture(scope="module")
def conn(cloud: Server, me: Project) -> Iterator[openstack.connection.Connection]:
    c = openstack.connection.Connection(
        auth_url=cloud.auth_url,
        username=me.user["name"],
        password=me.user["password"],
        project_id=me.id,
        user_domain_name="Default",
        identity_api_version="3",
    )
    yield c
    c.close()


def test_networks_subnets_ports(conn: openstack.connection.Connection) -> None:
    net = conn.network.create_network(name="sdk-net", description="made by the sdk")
    assert net.status == "ACTIVE" and net.mtu == 1450 and net.is_port_security_enabled
    subnet = conn.network.create_subnet(
        network_id=net.id,
        ip_version=4,
        cidr="10.61.0.0/24",
        dns_nameservers=["198.18.0.1"],
        host_routes=[{"destination": "10.62.0.0/24", "nexthop": "10.61.0.254"}],
    )
    assert subnet.gateway_ip == "10.61.0.1" and subnet.is_dhcp_enabled
    port = conn.network.create_port(
        network_id=net.id,
        name="sdk-port",
        fixed_ips=[{"subnet_id": subnet.id, "ip_address": "10.61.0.77"}],
    )
    assert port.fixed_ips == [{"subnet_id": subnet.id, "ip_address": "10.61.0.77"}]
    assert port.mac_address.startswith("fa:16:3e:")
    assert conn.network.find_port("sdk-port").id == port.id
    assert conn.network.find_network("sdk-net").id == net.id
    found = list(conn.network.ports(fixed_ips=["ip_address=10.61.0.77"]))
    assert [p.id for p in found] == [port.id]
    conn.network.set_tags(port, ["one", "two"])
    assert [p.id for p in conn.network.ports(tags="one")] == [port.id]
    moved = conn.network.update_port(
        port, fixed_ips=[{"subnet_id": subnet.id}], if_revision=port.revision_number + 1
    )
    assert moved.fixed_ips[0]["ip_address"] == "10.61.0.77"
    with pytest.raises(openstack.exceptions.PreconditionFailedException):
        conn.network.update_port(port, name="late", if_revision=1)
    conn.network.delete_port(port.id)
    assert conn.network.find_port(port.id) is None


def test_paginated_listing(conn: openstack.connection.Connection) -> None:
    net = conn.network.create_network(name="sdk-pages")
    conn.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.63.0.0/24")
    made = {conn.network.create_port(network_id=net.id, name="paged").id for _ in range(5)}
    listed = list(conn.network.ports(network_id=net.id, name="paged", limit=2))
    assert {p.id for p in listed} == made


def test_routers_and_floating_ips(conn: openstack.connection.Connection) -> None:
    public = conn.network.find_network("public")
    assert public.is_router_external and not public.is_shared
    net = conn.network.create_network(name="sdk-routed")
    subnet = conn.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.64.0.0/24")
    router = conn.network.create_router(
        name="sdk-router", external_gateway_info={"network_id": public.id}
    )
    conn.network.add_interface_to_router(router, subnet_id=subnet.id)
    conn.network.add_extra_routes_to_router(
        router, {"router": {"routes": [{"destination": "10.65.0.0/24", "nexthop": "10.64.0.9"}]}}
    )
    router = conn.network.get_router(router.id)
    assert router.routes == [{"destination": "10.65.0.0/24", "nexthop": "10.64.0.9"}]
    port = conn.network.create_port(network_id=net.id)
    fip = conn.network.create_ip(floating_network_id=public.id)
    fip = conn.network.update_ip(fip, port_id=port.id)
    assert fip.fixed_ip_address == port.fixed_ips[0]["ip_address"] and fip.router_id == router.id
    assert fip.port_details["network_id"] == net.id
    conn.network.update_ip(fip, port_id=None)
    conn.network.delete_ip(fip)
    conn.network.remove_extra_routes_from_router(
        router, {"router": {"routes": [{"destination": "10.65.0.0/24", "nexthop": "10.64.0.9"}]}}
    )
    conn.network.remove_interface_from_router(router, subnet_id=subnet.id)
    conn.network.delete_router(router)


def test_security_groups_and_topology(conn: openstack.connection.Connection, me: Project) -> None:
    group = conn.network.create_security_group(name="sdk-sg")
    rule = conn.network.create_security_group_rule(
        security_group_id=group.id,
        direction="ingress",
        protocol="tcp",
        port_range_min=443,
        port_range_max=443,
        remote_ip_prefix="0.0.0.0/0",
    )
    assert rule.port_range_min == 443
    names = {g.name for g in conn.network.security_groups()}
    assert {"default", "sdk-sg"} <= names
    topology = conn.network.get_auto_allocated_topology(me.id)
    assert conn.network.get_network(topology.id).name == "auto_allocated_network"
    extensions = {e.alias for e in conn.network.extensions()}
    assert {
        "router",
        "external-net",
        "security-group",
        "quotas",
        "auto-allocated-topology",
        "standard-attr-tag",
        "subnet_allocation",
    } <= extensions
    assert "dvr" not in extensions and "qos" not in extensions
