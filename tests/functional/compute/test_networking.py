"""Compute on the network service (fake compute driver, fake data plane):
servers get ports as asked (``auto``: get-me-a-network, ``none``, networks,
ports and fixed IPs), show their addresses from them, keep the user's ports
when deleted, and change their interfaces, security groups and floating
IPs while they run; bad requests get Nova's errors."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.conftest import Server
from tests.functional.compute.conftest import Nova, osc, project_user, unique, user_env


class Neutron:
    def __init__(self, server: Server, token: str) -> None:
        self.http = httpx.Client(
            base_url=f"{server.url}/network/v2.0", headers={"X-Auth-Token": token}, timeout=30
        )

    def call(self, method: str, path: str, status: int = 200, **kw: Any) -> Any:
        resp = self.http.request(method, path, **kw)
        assert resp.status_code == status, f"{method} {path}: {resp.status_code} {resp.text}"
        return resp.json() if resp.content else None

    def create(self, kind: str, **attrs: Any) -> dict[str, Any]:
        return self.call("POST", f"/{kind.replace('_', '-')}s", 201, json={kind: attrs})[kind]  # type: ignore[no-any-return]

    def port(self, port_id: str) -> dict[str, Any] | None:
        resp = self.http.get(f"/ports/{port_id}")
        return resp.json()["port"] if resp.status_code == 200 else None

    def ports_of(self, device_id: str) -> list[dict[str, Any]]:
        return self.call("GET", "/ports", params={"device_id": device_id})["ports"]  # type: ignore[no-any-return]


class Project:
    def __init__(self, server: Server) -> None:
        self.nova, self.project = project_user(server, "member", "2.96")
        self.neutron = Neutron(server, self.nova.token)
        self.net = self.neutron.create("network", name=unique("net"))
        self.subnet = self.neutron.create(
            "subnet", network_id=self.net["id"], ip_version=4, cidr="10.20.30.0/24", name="sub"
        )

    def boot(self, networks: Any, **extra: Any) -> dict[str, Any]:
        return self.nova.boot(unique("vm"), networks=networks, **extra)


@pytest.fixture(scope="module")
def proj(cloud: Server) -> Project:
    return Project(cloud)


def addresses(server: dict[str, Any]) -> dict[str, list[str]]:
    return {net: [a["addr"] for a in items] for net, items in server["addresses"].items()}


def wait_for(check: Any, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition never held")


def test_auto_gets_me_a_network(cloud: Server) -> None:
    nova, _project = project_user(cloud, "member", "2.96")
    neutron = Neutron(cloud, nova.token)
    server = nova.boot(unique("auto"), networks="auto")
    (port,) = neutron.ports_of(server["id"])
    assert port["device_owner"] == "compute:nova"
    admin = Neutron(cloud, cloud.admin_token())
    assert (admin.port(port["id"]) or {})["binding:host_id"] == "fakehost"
    net = neutron.call("GET", f"/networks/{port['network_id']}")["network"]
    assert net["name"] == "auto_allocated_network"
    (entry,) = server["addresses"][net["name"]]
    assert entry["addr"] == port["fixed_ips"][0]["ip_address"]
    assert entry["OS-EXT-IPS:type"] == "fixed"
    assert entry["OS-EXT-IPS-MAC:mac_addr"] == port["mac_address"]
    assert server["security_groups"] == [{"name": "default"}]
    # A second server of the project shares the network made the first time.
    second = nova.boot(unique("auto"), networks="auto")
    assert list(second["addresses"]) == [net["name"]]
    for s in (server, second):
        nova.delete(f"/servers/{s['id']}")
        nova.wait_gone(s["id"])
    assert neutron.ports_of(server["id"]) == []


def test_none_gets_no_port(proj: Project) -> None:
    server = proj.boot("none")
    assert server["addresses"] == {}
    assert proj.neutron.ports_of(server["id"]) == []


def test_network_with_fixed_ip_and_user_port(proj: Project) -> None:
    mine = proj.neutron.create("port", network_id=proj.net["id"], name="mine")
    server = proj.boot([{"uuid": proj.net["id"], "fixed_ip": "10.20.30.77"}, {"port": mine["id"]}])
    assert sorted(addresses(server)[proj.net["name"]]) == sorted(
        ["10.20.30.77", mine["fixed_ips"][0]["ip_address"]]
    )
    made = [p for p in proj.neutron.ports_of(server["id"]) if p["id"] != mine["id"]]
    assert len(made) == 1
    bound = Neutron(proj.nova.server, proj.nova.server.admin_token()).port(mine["id"])
    assert bound is not None and bound["device_id"] == server["id"]
    assert bound["binding:host_id"] == "fakehost"
    proj.nova.delete(f"/servers/{server['id']}")
    proj.nova.wait_gone(server["id"])
    # Nova's port is deleted; the user's is kept, free again.
    assert wait_for(lambda: proj.neutron.port(made[0]["id"]) is None)
    kept = Neutron(proj.nova.server, proj.nova.server.admin_token()).port(mine["id"])
    assert kept is not None
    assert (kept["device_id"], kept["device_owner"], kept["binding:host_id"]) == ("", "", "")


def error(resp: httpx.Response, status: int, key: str) -> str:
    assert resp.status_code == status, resp.text
    return str(resp.json()[key]["message"])


def test_bad_networks(proj: Project) -> None:
    nova = proj.nova
    missing = "00000000-0000-0000-0000-000000000000"
    assert missing in error(nova.create_server(networks=[{"uuid": missing}]), 400, "badRequest")
    assert missing in error(nova.create_server(networks=[{"port": missing}]), 400, "badRequest")
    used = proj.boot([{"uuid": proj.net["id"], "fixed_ip": "10.20.30.88"}])
    taken = nova.create_server(networks=[{"uuid": proj.net["id"], "fixed_ip": "10.20.30.88"}])
    assert "already in use" in error(taken, 409, "conflictingRequest")
    outside = nova.create_server(networks=[{"uuid": proj.net["id"], "fixed_ip": "192.0.2.9"}])
    error(outside, 400, "badRequest")
    bad = nova.create_server(networks=[{"uuid": proj.net["id"], "fixed_ip": "not-an-ip"}])
    error(bad, 400, "badRequest")
    (port,) = proj.neutron.ports_of(used["id"])
    in_use = nova.create_server(networks=[{"port": port["id"]}])
    assert "in use" in error(in_use, 409, "conflictingRequest")
    # Another project's network is not there for this one.
    other, _p = project_user(proj.nova.server, "member", "2.96")
    error(other.create_server(networks=[{"uuid": proj.net["id"]}]), 400, "badRequest")
    # Two networks of its own: "auto" cannot choose.
    other_neutron = Neutron(proj.nova.server, other.token)
    for _ in range(2):
        other_neutron.create("network", name=unique("n"))
    error(other.create_server(networks="auto"), 409, "conflictingRequest")
    group = nova.create_server(
        networks=[{"uuid": proj.net["id"]}], security_groups=[{"name": "nope"}]
    )
    error(group, 400, "badRequest")


def test_interfaces_attach_and_detach(proj: Project) -> None:
    nova = proj.nova
    server = proj.boot([{"uuid": proj.net["id"]}])
    path = f"/servers/{server['id']}/os-interface"
    (first,) = nova.get(path).json()["interfaceAttachments"]
    assert first["net_id"] == proj.net["id"] and first["port_state"] in ("ACTIVE", "DOWN")
    other = proj.neutron.create("network", name=unique("net2"))
    proj.neutron.create("subnet", network_id=other["id"], ip_version=4, cidr="10.20.31.0/24")
    resp = nova.post(path, json={"interfaceAttachment": {"net_id": other["id"]}})
    assert resp.status_code == 200, resp.text
    added = resp.json()["interfaceAttachment"]
    assert added["fixed_ips"][0]["ip_address"].startswith("10.20.31.")
    assert {a["port_id"] for a in nova.get(path).json()["interfaceAttachments"]} == {
        first["port_id"],
        added["port_id"],
    }
    shown = nova.show(server["id"])
    assert set(shown["addresses"]) == {proj.net["name"], other["name"]}
    console = nova.action(server["id"], {"os-getConsoleOutput": {}}).json()["output"]
    assert f"nic added eth1 {added['mac_addr']}" in console
    assert (
        nova.get(f"{path}/{added['port_id']}").json()["interfaceAttachment"]["port_id"]
        == added["port_id"]
    )
    assert nova.delete(f"{path}/{added['port_id']}").status_code == 202
    assert [a["port_id"] for a in nova.get(path).json()["interfaceAttachments"]] == [
        first["port_id"]
    ]
    assert proj.neutron.port(added["port_id"]) is None  # Nova made it: deleted
    console = nova.action(server["id"], {"os-getConsoleOutput": {}}).json()["output"]
    assert f"nic removed {added['mac_addr']}" in console
    # A port of the user's: attached, then given back unbound.
    mine = proj.neutron.create("port", network_id=other["id"])
    resp = nova.post(path, json={"interfaceAttachment": {"port_id": mine["id"]}})
    assert resp.status_code == 200, resp.text
    assert nova.delete(f"{path}/{mine['id']}").status_code == 202
    kept = proj.neutron.port(mine["id"])
    assert kept is not None and kept["device_id"] == ""
    # Errors, in Nova's format.
    missing = "00000000-0000-0000-0000-000000000000"
    error(nova.get(f"{path}/{missing}"), 404, "itemNotFound")
    error(nova.delete(f"{path}/{missing}"), 404, "itemNotFound")
    both = {"interfaceAttachment": {"net_id": other["id"], "port_id": mine["id"]}}
    error(nova.post(path, json=both), 400, "badRequest")
    error(nova.post(path, json={"interfaceAttachment": {"net_id": missing}}), 400, "badRequest")
    error(nova.post(path, json={"interfaceAttachment": {"bogus": 1}}), 400, "badRequest")
    used = proj.neutron.ports_of(server["id"])[0]
    other_server = proj.boot("none")
    in_use = nova.post(
        f"/servers/{other_server['id']}/os-interface",
        json={"interfaceAttachment": {"port_id": used["id"]}},
    )
    error(in_use, 409, "conflictingRequest")
    assert nova.action(server["id"], {"os-stop": None}).status_code == 202
    nova.wait(server["id"], "SHUTOFF")
    stopped = nova.post(path, json={"interfaceAttachment": {"net_id": other["id"]}})
    assert stopped.status_code == 200, stopped.text  # plugged at the next boot


def test_security_groups_and_floating_ips(cloud: Server) -> None:
    nova, _project = project_user(cloud, "member", "2.96")
    neutron = Neutron(cloud, nova.token)
    server = nova.boot(unique("fip"), networks="auto")
    (port,) = neutron.ports_of(server["id"])
    web = neutron.create("security_group", name="web")
    assert nova.action(server["id"], {"addSecurityGroup": {"name": "web"}}).status_code == 202
    port = neutron.port(port["id"]) or {}
    assert web["id"] in port["security_groups"]
    assert {"name": "web"} in nova.show(server["id"])["security_groups"]
    error(nova.action(server["id"], {"addSecurityGroup": {"name": "web"}}), 400, "badRequest")
    error(nova.action(server["id"], {"addSecurityGroup": {"name": "nope"}}), 404, "itemNotFound")
    assert nova.action(server["id"], {"removeSecurityGroup": {"name": "web"}}).status_code == 202
    assert web["id"] not in (neutron.port(port["id"]) or {})["security_groups"]
    error(nova.action(server["id"], {"removeSecurityGroup": {"name": "web"}}), 400, "badRequest")
    public = neutron.call("GET", "/networks", params={"name": "public"})["networks"][0]
    fip = neutron.create("floatingip", floating_network_id=public["id"])
    address = fip["floating_ip_address"]
    resp = nova.action(server["id"], {"addFloatingIp": {"address": address}})
    assert resp.status_code == 202, resp.text
    entries = next(iter(nova.show(server["id"])["addresses"].values()))
    assert {"addr": address, "type": "floating"} in [
        {"addr": e["addr"], "type": e["OS-EXT-IPS:type"]} for e in entries
    ]
    assert nova.action(server["id"], {"removeFloatingIp": {"address": address}}).status_code == 202
    entries = next(iter(nova.show(server["id"])["addresses"].values()))
    assert [e["OS-EXT-IPS:type"] for e in entries] == ["fixed"]
    error(
        nova.action(server["id"], {"removeFloatingIp": {"address": address}}),
        409,
        "conflictingRequest",
    )
    error(
        nova.action(server["id"], {"addFloatingIp": {"address": "198.51.100.1"}}),
        404,
        "itemNotFound",
    )
    wrong = {"addFloatingIp": {"address": address, "fixed_address": "192.0.2.1"}}
    error(nova.action(server["id"], wrong), 400, "badRequest")


def test_cli_add_and_remove_network(cloud: Server, proj: Project) -> None:
    from tests.functional.identity.helpers import client, grant, make_user

    with client(cloud) as c:
        user = make_user(c)
        grant(c, proj.project["id"], user["id"], "member")
    env = user_env(cloud, user["name"], user["password"], proj.project["id"])
    name = unique("cli")
    osc(
        cloud,
        "server",
        "create",
        "--image",
        "tiny",
        "--flavor",
        "1",
        "--nic",
        f"net-id={proj.net['id']}",
        "--wait",
        name,
        env=env,
    )
    other = proj.neutron.create("network", name=unique("clinet"))
    proj.neutron.create("subnet", network_id=other["id"], ip_version=4, cidr="10.20.40.0/24")
    osc(cloud, "server", "add", "network", name, other["id"], env=env)
    server = (
        Nova(cloud, proj.nova.token, "2.96")
        .get("/servers/detail", params={"name": name})
        .json()["servers"][0]
    )
    assert set(server["addresses"]) == {proj.net["name"], other["name"]}
    osc(cloud, "server", "remove", "network", name, other["id"], env=env)
    server = proj.nova.show(server["id"])
    assert set(server["addresses"]) == {proj.net["name"]}
    osc(cloud, "server", "delete", "--wait", name, env=env)


def test_metadata_api_for_the_proxy(cloud: Server, proj: Project) -> None:
    """What the network agent's metadata proxy forwards a guest's request to:
    answered only with the server's id signed with the shared secret."""
    import hashlib
    import hmac

    server = proj.boot([{"uuid": proj.net["id"]}], key_name=None, user_data="aGVsbG8=")
    base = f"{cloud.url}/compute/metadata"
    assert httpx.get(f"{base}/openstack/latest/meta_data.json").status_code == 400
    forged = {"X-Instance-ID": server["id"], "X-Instance-ID-Signature": "0" * 64}
    assert httpx.get(f"{base}/openstack/latest/meta_data.json", headers=forged).status_code == 403
    secret = (cloud.data_dir / "metadata-secret").read_text().strip()
    signed = {
        "X-Instance-ID": server["id"],
        "X-Instance-ID-Signature": hmac.new(
            secret.encode(), server["id"].encode(), hashlib.sha256
        ).hexdigest(),
    }
    meta = httpx.get(f"{base}/openstack/latest/meta_data.json", headers=signed).json()
    assert meta["uuid"] == server["id"] and meta["name"] == server["name"]
    assert httpx.get(f"{base}/openstack/latest/user_data", headers=signed).content == b"hello"
    network = httpx.get(f"{base}/openstack/latest/network_data.json", headers=signed).json()
    (port,) = proj.neutron.ports_of(server["id"])
    assert [link["ethernet_mac_address"] for link in network["links"]] == [port["mac_address"]]
    assert [n["ip_address"] for n in network["networks"]] == [port["fixed_ips"][0]["ip_address"]]
    ec2 = httpx.get(f"{base}/latest/meta-data/local-ipv4", headers=signed)
    assert ec2.text == port["fixed_ips"][0]["ip_address"]
    assert httpx.get(f"{base}/latest/meta-data/instance-id", headers=signed).text == server["id"]
    assert httpx.get(f"{base}/latest/meta-data/nope", headers=signed).status_code == 404


def test_list_filters_by_the_ports_addresses(proj: Project) -> None:
    server = proj.boot([{"uuid": proj.net["id"], "fixed_ip": "10.20.30.123"}])
    found = proj.nova.get("/servers", params={"ip": r"10\.20\.30\.123"}).json()["servers"]
    assert [s["id"] for s in found] == [server["id"]]
    assert proj.nova.get("/servers", params={"ip": r"^192\.0\.2\."}).json()["servers"] == []
