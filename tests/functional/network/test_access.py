"""Who sees and uses what: projects are isolated, shared and external
networks are visible, readers only read, and admin-only attributes stay
admin-only."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.conftest import Server
from tests.functional.network.conftest import Neutron, Project, error_type, project_with


@pytest.fixture(scope="module")
def owned(alice: Project) -> dict[str, Any]:
    """Alice's network, subnet, port, router, group and floating IP."""
    api = alice.api
    net = api.network()
    subnet = api.subnet(net["id"], "10.11.0.0/24")
    port = api.port(net["id"])
    router = api.router(external_gateway_info={"network_id": api.public_id()})
    api.put(f"/routers/{router['id']}/add_router_interface", json={"subnet_id": subnet["id"]})
    group = api.create("security_group", name="alice-sg")
    fip = api.create("floatingip", floating_network_id=api.public_id())
    return {
        "networks": net,
        "subnets": subnet,
        "ports": port,
        "routers": router,
        "security-groups": group,
        "floatingips": fip,
    }


def test_another_project_sees_none_of_it(bob: Project, owned: dict[str, Any]) -> None:
    for collection, item in owned.items():
        resp = bob.api.get(f"/{collection}/{item['id']}")
        assert resp.status_code == 404, (collection, resp.text)
        listed = bob.api.get(f"/{collection}").json()[collection.replace("-", "_")]
        assert item["id"] not in {i["id"] for i in listed}, collection


def test_another_project_cannot_use_it(bob: Project, owned: dict[str, Any]) -> None:
    net, port = owned["networks"], owned["ports"]
    resp = bob.api.post("/ports", json={"port": {"network_id": net["id"]}})
    assert resp.status_code == 404 and error_type(resp) == "NetworkNotFound"
    resp = bob.api.post(
        "/subnets",
        json={"subnet": {"network_id": net["id"], "cidr": "10.12.0.0/24", "ip_version": 4}},
    )
    assert resp.status_code == 404
    fip = bob.api.create("floatingip", floating_network_id=bob.api.public_id())
    resp = bob.api.put(f"/floatingips/{fip['id']}", json={"floatingip": {"port_id": port["id"]}})
    assert resp.status_code == 404 and error_type(resp) == "PortNotFound"
    resp = bob.api.put(
        f"/routers/{owned['routers']['id']}/add_router_interface",
        json={"subnet_id": owned["subnets"]["id"]},
    )
    assert resp.status_code == 404
    resp = bob.api.post(
        "/ports",
        json={
            "port": {
                "network_id": bob.api.network()["id"],
                "security_groups": [owned["security-groups"]["id"]],
            }
        },
    )
    assert resp.status_code == 404 and error_type(resp) == "SecurityGroupNotFound"


def test_external_network_is_visible_but_not_usable(bob: Project) -> None:
    public = bob.api.get(f"/networks/{bob.api.public_id()}").json()["network"]
    assert public["router:external"] is True and public["shared"] is False
    # Its subnets are not the project's to see (no subnet-external-network).
    assert bob.api.get("/subnets", params={"network_id": public["id"]}).json()["subnets"] == []
    resp = bob.api.post("/ports", json={"port": {"network_id": public["id"]}})
    assert resp.status_code == 404


def test_shared_network_is_seen_and_used(admin: Neutron, alice: Project, bob: Project) -> None:
    shared = admin.network(shared=True)
    subnet = admin.subnet(shared["id"], "10.13.0.0/24")
    seen = bob.api.get("/networks", params={"shared": "true"}).json()["networks"]
    assert shared["id"] in {n["id"] for n in seen}
    assert bob.api.get(f"/subnets/{subnet['id']}").status_code == 200
    port = bob.api.port(shared["id"])
    assert port["project_id"] == bob.id
    # ... but another project's port on it stays that project's.
    assert alice.api.get(f"/ports/{port['id']}").status_code == 404
    # Only the network's owner adds subnets.
    resp = bob.api.post(
        "/subnets",
        json={"subnet": {"network_id": shared["id"], "cidr": "10.14.0.0/24", "ip_version": 4}},
    )
    assert resp.status_code == 403 and error_type(resp) == "PolicyNotAuthorized"


def test_a_reader_reads_but_cannot_create(
    cloud: Server, alice: Project, owned: dict[str, Any]
) -> None:
    reader = project_with(cloud, "reader", alice.id)
    assert reader.api.get(f"/networks/{owned['networks']['id']}").status_code == 200
    assert reader.api.get("/ports").status_code == 200
    net_id = owned["networks"]["id"]
    attempts = {
        "/networks": {"network": {"name": "nope"}},
        "/ports": {"port": {"network_id": net_id}},
        "/routers": {"router": {"name": "nope"}},
        "/floatingips": {"floatingip": {"floating_network_id": reader.api.public_id()}},
        "/security-groups": {"security_group": {"name": "nope"}},
        "/subnets": {"subnet": {"network_id": net_id, "cidr": "10.15.0.0/24", "ip_version": 4}},
    }
    for path, body in attempts.items():
        resp = reader.api.post(path, json=body)
        assert resp.status_code == 403, (path, resp.text)
        assert error_type(resp) == "PolicyNotAuthorized"
    resp = reader.api.put(f"/networks/{net_id}", json={"network": {"name": "x"}})
    assert resp.status_code == 403


def test_admin_only_attributes(admin: Neutron, alice: Project, owned: dict[str, Any]) -> None:
    for attrs in ({"shared": True}, {"router:external": True}, {"provider:segmentation_id": 4000}):
        resp = alice.api.post("/networks", json={"network": {"name": "x", **attrs}})
        assert resp.status_code == 403 and error_type(resp) == "PolicyNotAuthorized", attrs
    # shared=false is the default: allowed.
    assert alice.api.network(shared=False)["shared"] is False
    mine = alice.api.get(f"/networks/{owned['networks']['id']}").json()["network"]
    assert not [k for k in mine if k.startswith("provider:")]
    seen = admin.get(f"/networks/{owned['networks']['id']}").json()["network"]
    assert seen["provider:network_type"] == "vxlan"
    assert isinstance(seen["provider:segmentation_id"], int)
    port = alice.api.get(f"/ports/{owned['ports']['id']}").json()["port"]
    assert not [k for k in port if k.startswith("binding:")]
    port = admin.get(f"/ports/{owned['ports']['id']}").json()["port"]
    assert port["binding:vif_type"] == "unbound" and port["binding:vnic_type"] == "normal"
    resp = alice.api.put(
        f"/ports/{owned['ports']['id']}", json={"port": {"binding:host_id": "somehost"}}
    )
    assert resp.status_code == 403
    other = project_with(admin.server)
    resp = alice.api.post("/networks", json={"network": {"name": "x", "project_id": other.id}})
    assert resp.status_code == 403


def test_admin_binds_a_port_to_a_host(admin: Neutron, owned: dict[str, Any]) -> None:
    port_id = owned["ports"]["id"]
    bound = admin.put(
        f"/ports/{port_id}",
        json={
            "port": {
                "binding:host_id": "compute-7",
                "device_owner": "compute:nova",
                "device_id": "vm-1",
            }
        },
    )
    assert bound.status_code == 200, bound.text
    port = bound.json()["port"]
    assert port["binding:host_id"] == "compute-7" and port["binding:vif_type"] == "bridge"
    assert port["binding:vif_details"]["bridge_name"] == "brq" + port["network_id"][:11]
    assert port["status"] == "DOWN"
    listed = admin.get("/ports", params={"binding:host_id": "compute-7"}).json()["ports"]
    assert [p["id"] for p in listed] == [port_id]
    unbound = admin.put(f"/ports/{port_id}", json={"port": {"binding:host_id": ""}}).json()["port"]
    assert unbound["binding:vif_type"] == "unbound"


def test_agents_are_admin_only(admin: Neutron, alice: Project) -> None:
    assert admin.get("/agents").status_code == 200
    assert alice.api.get("/agents").json() == {"agents": []}
    resp = alice.api.get(f"/agents/{uuid.uuid4()}")
    assert resp.status_code == 403 and error_type(resp) == "PolicyNotAuthorized"
