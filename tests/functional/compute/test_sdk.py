"""openstacksdk against the compute API (fake driver)."""

from __future__ import annotations

import openstack

from tests.conftest import Server
from tests.functional.compute.conftest import tiny_image, unique


def connect(cloud: Server) -> openstack.connection.Connection:
    return openstack.connect(
        auth_url=cloud.auth_url,
        username="admin",
        password=cloud.admin_password,
        project_name="admin",
        user_domain_name="Default",
        project_domain_name="Default",
        region_name="RegionOne",
    )


def test_proxy_create_wait_and_cloud_delete(cloud: Server) -> None:
    conn = connect(cloud)
    flavor = conn.compute.find_flavor("m1.tiny")
    assert flavor is not None and flavor.ram == 256
    image = conn.image.find_image("tiny")
    assert image.id == tiny_image(cloud)
    server = conn.compute.create_server(
        name=unique("sdk"), image_id=image.id, flavor_id=flavor.id, networks="none"
    )
    server = conn.compute.wait_for_server(server, status="ACTIVE", wait=60, interval=0.5)
    assert server.status == "ACTIVE"
    assert server.compute_host == "fakehost"
    assert server.power_state == 1
    assert conn.compute.get_server(server.id).name == server.name
    assert server.id in {s.id for s in conn.compute.servers()}
    conn.compute.stop_server(server)
    conn.compute.wait_for_server(server, status="SHUTOFF", wait=60, interval=0.5)
    conn.compute.start_server(server)
    conn.compute.wait_for_server(server, status="ACTIVE", wait=60, interval=0.5)
    assert conn.delete_server(server.id, wait=True, timeout=60) is True
    assert conn.compute.find_server(server.id) is None


def test_cloud_layer_create_server(cloud: Server) -> None:
    conn = connect(cloud)
    server = conn.create_server(unique("cl"), image="tiny", flavor="m1.tiny", wait=True, timeout=60)
    assert server.status == "ACTIVE"
    assert conn.get_server(server.id).name == server.name
    assert conn.delete_server(server.name, wait=True, timeout=60)
    assert conn.get_server(server.id) is None


def test_sdk_keypair_and_flavor(cloud: Server) -> None:
    conn = connect(cloud)
    kp = conn.compute.create_keypair(name=unique("sk"))
    assert kp.private_key is None or "PRIVATE KEY" in kp.private_key
    assert conn.compute.get_keypair(kp.name).fingerprint == kp.fingerprint
    conn.compute.delete_keypair(kp.name)
    assert conn.compute.find_keypair(kp.name) is None
    fl = conn.compute.create_flavor(name=unique("sf"), ram=128, vcpus=1, disk=1)
    conn.compute.create_flavor_extra_specs(fl, {"a": "b"})
    assert conn.compute.fetch_flavor_extra_specs(fl).extra_specs == {"a": "b"}
    conn.compute.delete_flavor(fl)
    assert conn.compute.find_flavor(fl.name) is None
