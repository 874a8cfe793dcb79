"""Allocation under concurrent requests: addresses, VXLAN ids, the default
security group and get-me-a-network each end up given once."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.conftest import Server
from tests.functional.network.conftest import Neutron, error_type, project_with


def at_once(count: int, call: Callable[[int], httpx.Response]) -> list[httpx.Response]:
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(call, range(count)))


def test_ports_at_once_get_distinct_addresses(cloud: Server) -> None:
    me = project_with(cloud)
    net = me.api.network()
    # 13 usable addresses in the pool; the DHCP port takes one.
    me.api.subnet(net["id"], "10.51.0.0/28")

    def create(i: int) -> httpx.Response:
        return Neutron(cloud, me.api.token).post(
            "/ports", json={"port": {"network_id": net["id"], "name": f"c{i}"}}
        )

    results = at_once(16, create)
    made = [r.json()["port"] for r in results if r.status_code == 201]
    refused = [r for r in results if r.status_code != 201]
    assert len(made) == 12, [r.text for r in refused]
    assert all(
        r.status_code == 409 and error_type(r) == "IpAddressGenerationFailure" for r in refused
    )
    addresses = [p["fixed_ips"][0]["ip_address"] for p in made]
    macs = [p["mac_address"] for p in made]
    assert len(set(addresses)) == len(addresses) == 12
    assert len(set(macs)) == 12


def test_networks_at_once_get_distinct_vxlan_ids(admin: Neutron, cloud: Server) -> None:
    def create(i: int) -> httpx.Response:
        return Neutron(cloud, admin.token).post("/networks", json={"network": {"name": f"v{i}"}})

    results = at_once(8, create)
    assert all(r.status_code == 201 for r in results), [r.text for r in results]
    vnis = [r.json()["network"]["provider:segmentation_id"] for r in results]
    everything = admin.get("/networks", params=[("fields", "provider:segmentation_id")])
    all_vnis = [n["provider:segmentation_id"] for n in everything.json()["networks"]]
    assert len(set(vnis)) == 8 and len(set(all_vnis)) == len(all_vnis)


def test_first_use_makes_one_default_group(cloud: Server) -> None:
    me = project_with(cloud)

    def listing(_i: int) -> httpx.Response:
        return Neutron(cloud, me.api.token).get("/security-groups")

    results = at_once(6, listing)
    assert all(r.status_code == 200 for r in results)
    defaults = {
        g["id"] for r in results for g in r.json()["security_groups"] if g["name"] == "default"
    }
    assert len(defaults) == 1


def test_get_me_a_network_at_once(cloud: Server) -> None:
    me = project_with(cloud)

    def allocate(_i: int) -> httpx.Response:
        return Neutron(cloud, me.api.token).get(f"/auto-allocated-topology/{me.id}")

    results = at_once(4, allocate)
    assert all(r.status_code == 200 for r in results), [r.text for r in results]
    found: set[Any] = {r.json()["auto_allocated_topology"]["id"] for r in results}
    assert len(found) == 1
    nets = me.api.get("/networks", params={"name": "auto_allocated_network"}).json()["networks"]
    assert [n["id"] for n in nets] == list(found)
    assert len(me.api.get("/routers").json()["routers"]) == 1
