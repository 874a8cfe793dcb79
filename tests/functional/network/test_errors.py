"""Bad input gets Neutron's error body, type and status; never a 500."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.conftest import Server
from tests.functional.network.conftest import Neutron, Project, error_type, project_with


@pytest.fixture(scope="module")
def me(cloud: Server) -> Project:
    return project_with(cloud)


@pytest.fixture(scope="module")
def net(me: Project) -> dict[str, object]:
    net = me.api.network()
    me.api.subnet(str(net["id"]), "10.20.0.0/24")
    return net


def expect(resp: httpx.Response, status: int, kind: str, text: str = "") -> None:
    assert resp.status_code == status, resp.text
    assert error_type(resp) == kind, resp.text
    assert text in resp.json()["NeutronError"]["message"], resp.text


def test_overlapping_subnets_are_refused(me: Project, net: dict[str, object]) -> None:
    resp = me.api.post(
        "/subnets",
        json={"subnet": {"network_id": net["id"], "cidr": "10.20.0.128/25", "ip_version": 4}},
    )
    expect(resp, 400, "InvalidInput", "overlaps with another subnet")


def test_cidr_with_host_bits_and_wrong_version(me: Project, net: dict[str, object]) -> None:
    resp = me.api.post(
        "/subnets",
        json={"subnet": {"network_id": net["id"], "cidr": "10.30.0.1/24", "ip_version": 4}},
    )
    expect(resp, 400, "InvalidInput", "'10.30.0.0/24' is recommended")
    resp = me.api.post(
        "/subnets", json={"subnet": {"network_id": net["id"], "cidr": "fd00::/64", "ip_version": 4}}
    )
    expect(resp, 400, "InvalidInput")


def test_allocation_pools_are_checked(me: Project) -> None:
    other = me.api.network()
    base = {"network_id": other["id"], "cidr": "10.40.0.0/24", "ip_version": 4}
    resp = me.api.post(
        "/subnets",
        json={
            "subnet": {**base, "allocation_pools": [{"start": "10.40.0.10", "end": "10.40.1.5"}]}
        },
    )
    expect(resp, 400, "OutOfBoundsAllocationPool")
    resp = me.api.post(
        "/subnets",
        json={
            "subnet": {
                **base,
                "allocation_pools": [
                    {"start": "10.40.0.10", "end": "10.40.0.20"},
                    {"start": "10.40.0.15", "end": "10.40.0.30"},
                ],
            }
        },
    )
    expect(resp, 409, "OverlappingAllocationPools")
    resp = me.api.post(
        "/subnets",
        json={
            "subnet": {**base, "allocation_pools": [{"start": "10.40.0.1", "end": "10.40.0.20"}]}
        },
    )
    expect(resp, 409, "GatewayConflictWithAllocationPools")


def test_fixed_ip_outside_the_subnet(me: Project, net: dict[str, object]) -> None:
    subnet_id = me.api.get(f"/networks/{net['id']}").json()["network"]["subnets"][0]
    resp = me.api.post(
        "/ports",
        json={
            "port": {
                "network_id": net["id"],
                "fixed_ips": [{"subnet_id": subnet_id, "ip_address": "10.99.0.5"}],
            }
        },
    )
    expect(resp, 400, "InvalidIpForSubnet")
    resp = me.api.post(
        "/ports",
        json={"port": {"network_id": net["id"], "fixed_ips": [{"ip_address": "10.99.0.5"}]}},
    )
    expect(resp, 400, "InvalidIpForNetwork")
    resp = me.api.post(
        "/ports",
        json={"port": {"network_id": net["id"], "fixed_ips": [{"ip_address": "10.20.0.255"}]}},
    )
    expect(resp, 400, "InvalidIpForSubnet")


def test_fixed_ip_already_used(me: Project, net: dict[str, object]) -> None:
    first = me.api.port(str(net["id"]), fixed_ips=[{"ip_address": "10.20.0.50"}])
    assert first["fixed_ips"][0]["ip_address"] == "10.20.0.50"
    resp = me.api.post(
        "/ports",
        json={"port": {"network_id": net["id"], "fixed_ips": [{"ip_address": "10.20.0.50"}]}},
    )
    expect(resp, 409, "IpAddressAlreadyAllocated", "10.20.0.50")
    resp = me.api.post(
        "/ports", json={"port": {"network_id": net["id"], "mac_address": first["mac_address"]}}
    )
    expect(resp, 409, "MacAddressInUse")


def test_exhausting_a_pool(me: Project) -> None:
    small = me.api.network()
    me.api.subnet(
        small["id"], "10.50.0.0/29", allocation_pools=[{"start": "10.50.0.2", "end": "10.50.0.4"}]
    )
    # The DHCP port holds .2; two more ports fill the pool.
    got = [me.api.port(small["id"])["fixed_ips"][0]["ip_address"] for _ in range(2)]
    assert got == ["10.50.0.3", "10.50.0.4"]
    resp = me.api.post("/ports", json={"port": {"network_id": small["id"]}})
    expect(resp, 409, "IpAddressGenerationFailure")
    # An address outside the pools but inside the subnet can still be asked for.
    assert me.api.port(small["id"], fixed_ips=[{"ip_address": "10.50.0.6"}])


def test_floating_ip_on_a_network_that_is_not_external(me: Project, net: dict[str, object]) -> None:
    resp = me.api.post("/floatingips", json={"floatingip": {"floating_network_id": net["id"]}})
    expect(resp, 400, "BadRequest", "is not a valid external network")
    resp = me.api.post(
        "/floatingips", json={"floatingip": {"floating_network_id": str(uuid.uuid4())}}
    )
    expect(resp, 404, "NetworkNotFound")


def test_floating_ip_needs_a_router_to_the_port(me: Project) -> None:
    lonely = me.api.network()
    me.api.subnet(lonely["id"], "10.60.0.0/24")
    port = me.api.port(lonely["id"])
    fip = me.api.create("floatingip", floating_network_id=me.api.public_id())
    resp = me.api.put(f"/floatingips/{fip['id']}", json={"floatingip": {"port_id": port["id"]}})
    expect(resp, 404, "ExternalGatewayForFloatingIPNotFound")


def test_deleting_a_network_with_ports_in_use(me: Project) -> None:
    busy = me.api.network()
    me.api.subnet(busy["id"], "10.70.0.0/24")
    port = me.api.port(busy["id"])
    expect(me.api.delete(f"/networks/{busy['id']}"), 409, "NetworkInUse")
    subnet_id = port["fixed_ips"][0]["subnet_id"]
    expect(me.api.delete(f"/subnets/{subnet_id}"), 409, "SubnetInUse")
    assert me.api.delete(f"/ports/{port['id']}").status_code == 204
    # Only the DHCP port is left: it goes with the network.
    assert me.api.delete(f"/networks/{busy['id']}").status_code == 204
    expect(me.api.get(f"/subnets/{subnet_id}"), 404, "SubnetNotFound")


@pytest.fixture(scope="module")
def target(me: Project) -> dict[str, object]:
    return me.api.create("security_group", name="rules-target")


@pytest.mark.parametrize(
    ("rule", "kind", "text"),
    [
        ({"protocol": "bad_protocol_name"}, "SecurityGroupRuleInvalidProtocol", "not supported"),
        ({"protocol": 256}, "SecurityGroupRuleInvalidProtocol", "not supported"),
        (
            {"protocol": "tcp", "port_range_min": -16, "port_range_max": 80},
            "SecurityGroupInvalidPortValue",
            "Invalid value for port -16",
        ),
        (
            {"protocol": "tcp", "port_range_min": 80, "port_range_max": 79},
            "SecurityGroupInvalidPortRange",
            "port_range_min must be <= port_range_max",
        ),
        (
            {"protocol": "udp", "port_range_min": 80, "port_range_max": 65536},
            "SecurityGroupInvalidPortValue",
            "Invalid value for port 65536",
        ),
        (
            {"protocol": "icmp", "port_range_min": 1, "port_range_max": 256},
            "SecurityGroupInvalidIcmpValue",
            "Invalid value for ICMP code",
        ),
        (
            {"protocol": "icmp", "port_range_max": 6},
            "SecurityGroupMissingIcmpType",
            "ICMP type (port-range-min) is missing",
        ),
        (
            {"protocol": "gre", "port_range_min": 1, "port_range_max": 2},
            "SecurityGroupInvalidProtocolForPortRange",
            "Invalid protocol gre",
        ),
        ({"ethertype": "IPv5"}, "SecurityGroupRuleInvalidEtherType", "IPv5"),
        ({"remote_ip_prefix": "192.168.1.1/33"}, "InvalidInput", "not a valid IP subnet"),
        (
            {"ethertype": "IPv6", "remote_ip_prefix": "10.0.0.0/8"},
            "SecurityGroupRuleParameterConflict",
            "Conflicting value ethertype IPv6",
        ),
    ],
)
def test_bad_security_group_rules(
    me: Project, target: dict[str, object], rule: dict[str, object], kind: str, text: str
) -> None:
    group = target
    resp = me.api.post(
        "/security-group-rules",
        json={
            "security_group_rule": {
                "security_group_id": group["id"],
                "direction": "ingress",
                **rule,
            }
        },
    )
    expect(resp, 400, kind, text)


def test_rule_groups_must_exist_and_duplicates_conflict(me: Project) -> None:
    group = me.api.create("security_group", name="dups")
    base = {"security_group_id": group["id"], "direction": "ingress"}
    for remote in ("bad_group_id", str(uuid.uuid4())):
        resp = me.api.post(
            "/security-group-rules",
            json={"security_group_rule": {**base, "remote_group_id": remote}},
        )
        expect(resp, 404, "SecurityGroupNotFound")
    resp = me.api.post(
        "/security-group-rules",
        json={"security_group_rule": {**base, "security_group_id": str(uuid.uuid4())}},
    )
    expect(resp, 404, "SecurityGroupNotFound")
    rule = me.api.create(
        "security_group_rule", **base, protocol="tcp", port_range_min=66, port_range_max=67
    )
    # The same rule, the protocol by number: Neutron counts it a duplicate.
    resp = me.api.post(
        "/security-group-rules",
        json={
            "security_group_rule": {
                **base,
                "protocol": "6",
                "port_range_min": 66,
                "port_range_max": 67,
            }
        },
    )
    expect(resp, 409, "SecurityGroupRuleExists", rule["id"])


def test_default_security_group_rules(me: Project) -> None:
    groups = me.api.get("/security-groups", params={"name": "default"}).json()["security_groups"]
    (default,) = groups
    expect(
        me.api.post("/security-groups", json={"security_group": {"name": "default"}}),
        409,
        "SecurityGroupDefaultAlreadyExists",
    )
    expect(
        me.api.delete(f"/security-groups/{default['id']}"), 409, "SecurityGroupCannotRemoveDefault"
    )
    other = me.api.create("security_group", name="renamed")
    expect(
        me.api.put(f"/security-groups/{other['id']}", json={"security_group": {"name": "default"}}),
        409,
        "SecurityGroupDefaultAlreadyExists",
    )


def test_security_group_in_use(me: Project, net: dict[str, object]) -> None:
    group = me.api.create("security_group", name="used")
    me.api.port(str(net["id"]), security_groups=[group["id"]])
    expect(me.api.delete(f"/security-groups/{group['id']}"), 409, "SecurityGroupInUse")


def test_router_errors(me: Project) -> None:
    routed = me.api.network()
    subnet = me.api.subnet(routed["id"], "10.80.0.0/24")
    router = me.api.router()
    resp = me.api.put(
        f"/routers/{router['id']}",
        json={"router": {"external_gateway_info": {"network_id": routed["id"]}}},
    )
    expect(resp, 400, "BadRequest", "is not an external network")
    resp = me.api.put(
        f"/routers/{router['id']}",
        json={"router": {"external_gateway_info": {"network_id": router["id"]}}},
    )
    expect(resp, 404, "NetworkNotFound")
    info = me.api.put(
        f"/routers/{router['id']}/add_router_interface", json={"subnet_id": subnet["id"]}
    ).json()
    expect(
        me.api.put(
            f"/routers/{router['id']}/add_router_interface", json={"subnet_id": subnet["id"]}
        ),
        400,
        "BadRequest",
    )
    expect(me.api.delete(f"/routers/{router['id']}"), 409, "RouterInUse")
    expect(me.api.delete(f"/ports/{info['port_id']}"), 409, "ServicePortInUse")
    resp = me.api.put(
        f"/routers/{router['id']}",
        json={"router": {"routes": [{"destination": "10.99.0.0/24", "nexthop": "10.81.0.9"}]}},
    )
    expect(resp, 400, "InvalidRoutes", "not connected")
    expect(
        me.api.put(
            f"/routers/{router['id']}/remove_router_interface", json={"port_id": str(uuid.uuid4())}
        ),
        404,
        "RouterInterfaceNotFound",
    )
    expect(me.api.get(f"/routers/{uuid.uuid4()}"), 404, "RouterNotFound")
    expect(
        me.api.put("/routers/not-a-router", json={"router": {"name": "x"}}), 404, "RouterNotFound"
    )


def test_router_interface_in_use_by_a_floating_ip(me: Project) -> None:
    routed = me.api.network()
    subnet = me.api.subnet(routed["id"], "10.90.0.0/24")
    router = me.api.router(external_gateway_info={"network_id": me.api.public_id()})
    me.api.put(f"/routers/{router['id']}/add_router_interface", json={"subnet_id": subnet["id"]})
    port = me.api.port(routed["id"])
    fip = me.api.create("floatingip", floating_network_id=me.api.public_id(), port_id=port["id"])
    assert fip["status"] == "ACTIVE" and fip["router_id"] == router["id"]
    expect(
        me.api.put(
            f"/routers/{router['id']}/remove_router_interface", json={"subnet_id": subnet["id"]}
        ),
        409,
        "RouterInterfaceInUseByFloatingIP",
    )
    expect(
        me.api.put(f"/routers/{router['id']}", json={"router": {"external_gateway_info": {}}}),
        409,
        "RouterExternalGatewayInUseByFloatingIp",
    )
    second = me.api.post(
        "/floatingips",
        json={"floatingip": {"floating_network_id": me.api.public_id(), "port_id": port["id"]}},
    )
    expect(second, 409, "FloatingIPPortAlreadyAssociated")


def test_malformed_requests(me: Project, net: dict[str, object]) -> None:
    api: Neutron = me.api
    expect(
        api.post("/networks", json={"network": {"name": "x", "bogus": 1}}),
        400,
        "HTTPBadRequest",
        "bogus",
    )
    expect(api.post("/networks", json={"network": {"status": "DOWN"}}), 400, "HTTPBadRequest")
    expect(
        api.post("/networks", content=b"{not json", headers={"Content-Type": "application/json"}),
        400,
        "HTTPBadRequest",
    )
    expect(api.post("/networks", json={"network": {"name": 5}}), 400, "HTTPBadRequest")
    expect(
        api.post(
            "/subnets", json={"subnet": {"network_id": net["id"], "cidr": "x", "ip_version": 4}}
        ),
        400,
        "InvalidInput",
    )
    expect(
        api.post("/ports", json={"port": {"network_id": net["id"], "mac_address": "zz"}}),
        400,
        "InvalidInput",
    )
    expect(api.get(f"/networks/{uuid.uuid4()}"), 404, "NetworkNotFound")
    expect(api.get(f"/ports/{uuid.uuid4()}"), 404, "PortNotFound")
    expect(api.get(f"/floatingips/{uuid.uuid4()}"), 404, "FloatingIPNotFound")
    expect(api.get(f"/security-group-rules/{uuid.uuid4()}"), 404, "SecurityGroupRuleNotFound")
    expect(api.get("/nothing-here"), 404, "HTTPNotFound")
    expect(api.request("PATCH", f"/networks/{net['id']}", json={}), 405, "HTTPMethodNotAllowed")
    resp = httpx.get(f"{me.api.server.url}/network/v2.0/networks")
    expect(resp, 401, "HTTPUnauthorized")


def test_bad_listing_parameters(me: Project) -> None:
    api = me.api
    expect(
        api.get("/networks", params={"sort_key": "nope", "sort_dir": "asc"}),
        400,
        "HTTPBadRequest",
        "is invalid attribute for sort_keys",
    )
    expect(
        api.get("/ports", params={"sort_key": "fixed_ips", "sort_dir": "asc"}),
        400,
        "HTTPBadRequest",
    )
    expect(
        api.get("/networks", params={"sort_key": "name", "sort_dir": "up"}),
        400,
        "HTTPBadRequest",
        "is invalid value for sort_dirs",
    )
    expect(api.get("/networks", params={"limit": "-1"}), 400, "BadRequest")
    expect(
        api.get("/networks", params={"colour": "blue"}),
        400,
        "HTTPBadRequest",
        "is invalid attribute for filtering",
    )
    expect(api.get("/networks", params={"shared": "perhaps"}), 400, "InvalidInput")
    expect(api.get("/ports", params={"fixed_ips": "mac=1"}), 400, "InvalidInput")


def test_revision_constraint(me: Project) -> None:
    net = me.api.network()
    assert net["revision_number"] == 1
    resp = me.api.put(
        f"/networks/{net['id']}",
        json={"network": {"name": "moved"}},
        headers={"If-Match": "revision_number=7"},
    )
    expect(resp, 412, "RevisionNumberConstraintFailed", "Constrained to 7")
    resp = me.api.put(
        f"/networks/{net['id']}",
        json={"network": {"name": "moved"}},
        headers={"If-Match": "revision_number=1"},
    )
    assert resp.status_code == 200 and resp.json()["network"]["revision_number"] == 2
    expect(
        me.api.delete(f"/networks/{net['id']}", headers={"If-Match": "revision_number=1"}),
        412,
        "RevisionNumberConstraintFailed",
    )
    expect(
        me.api.put(
            f"/networks/{net['id']}",
            json={"network": {"name": "x"}},
            headers={"If-Match": "revision_number=abc"},
        ),
        400,
        "BadRequest",
    )
    assert (
        me.api.delete(
            f"/networks/{net['id']}", headers={"If-Match": "revision_number=2"}
        ).status_code
        == 204
    )


def test_an_external_network_goes_with_its_idle_floating_ips(admin: Neutron) -> None:
    external = admin.network(**{"router:external": True})
    admin.subnet(external["id"], "198.19.0.0/24", enable_dhcp=False)
    fip = admin.create("floatingip", floating_network_id=external["id"])
    assert admin.delete(f"/networks/{external['id']}").status_code == 204
    expect(admin.get(f"/floatingips/{fip['id']}"), 404, "FloatingIPNotFound")


def test_null_attributes_are_not_given(me: Project) -> None:
    resp = me.api.post(
        "/networks",
        json={"network": {"name": None, "admin_state_up": None, "port_security_enabled": None}},
    )
    assert resp.status_code == 201, resp.text
    net = resp.json()["network"]
    assert (net["name"], net["admin_state_up"], net["port_security_enabled"]) == ("", True, True)
    subnet = me.api.subnet(net["id"], "10.21.0.0/24", gateway_ip=None)
    assert subnet["gateway_ip"] is None
    assert subnet["allocation_pools"] == [{"start": "10.21.0.1", "end": "10.21.0.254"}]
