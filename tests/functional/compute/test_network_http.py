"""Compute on the network service over HTTP (``[compute] network_client =
"http"``, fake compute driver, fake data plane): the cloud's compute reaches
the network service only through Neutron's API at the catalog's endpoint,
as the service user.  Servers get their ports, addresses and hot-plugged
interfaces as with the in-process client; the client itself, driven
directly against the real API, answers as compute expects (Nova's errors,
a new token after a 401)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from stratus.common.service_auth import ServiceSession, service_client
from stratus.compute.errors import BadRequest, Conflict, NotFound
from stratus.compute.service.network import NicRequest
from stratus.compute.service.network_http import HttpNetwork
from tests.conftest import Server, stop_cloud
from tests.functional.compute.conftest import fake_cloud, project_user, unique
from tests.functional.compute.test_networking import Neutron

MISSING = "00000000-0000-0000-0000-000000000000"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory, database: str) -> Iterator[Server]:
    env = {"STRATUS_COMPUTE__NETWORK_CLIENT": "http"}
    srv = fake_cloud(tmp_path_factory, "nethttp", database=database, **env)
    yield srv
    stop_cloud(srv)


@pytest.fixture
async def client(cloud: Server) -> AsyncIterator[tuple[HttpNetwork, ServiceSession]]:
    session = ServiceSession(
        f"{cloud.url}/identity", "admin", cloud.admin_password, "admin", "Default"
    )
    net = HttpNetwork(f"{cloud.url}/network", service_client(session))
    yield net, session
    await net.close()
    await session.close()


def topology(cloud: Server) -> tuple[Any, Neutron, dict[str, Any], dict[str, Any]]:
    nova, project = project_user(cloud, "member", "2.96")
    neutron = Neutron(cloud, nova.token)
    net = neutron.create("network", name=unique("net"))
    neutron.create("subnet", network_id=net["id"], ip_version=4, cidr="10.50.0.0/24")
    return nova, neutron, net, project


def test_servers_get_ports_and_interfaces_over_http(cloud: Server) -> None:
    nova, neutron, net, _project = topology(cloud)
    server = nova.boot(unique("vm"), networks=[{"uuid": net["id"]}])
    (port,) = neutron.ports_of(server["id"])
    assert port["status"] == "ACTIVE" and port["device_owner"] == "compute:nova"
    address = port["fixed_ips"][0]["ip_address"]
    assert [a["addr"] for a in nova.show(server["id"])["addresses"][net["name"]]] == [address]
    path = f"/servers/{server['id']}/os-interface"
    resp = nova.post(path, json={"interfaceAttachment": {"net_id": net["id"]}})
    assert resp.status_code == 200, resp.text
    added = resp.json()["interfaceAttachment"]
    assert added["port_state"] == "ACTIVE"
    assert len(nova.get(path).json()["interfaceAttachments"]) == 2
    assert nova.delete(f"{path}/{added['port_id']}").status_code == 202
    assert neutron.port(added["port_id"]) is None
    # Errors come back in Nova's words.
    resp = nova.create_server(networks=[{"uuid": MISSING}])
    assert resp.status_code == 400 and MISSING in resp.json()["badRequest"]["message"]
    assert nova.delete(f"/servers/{server['id']}").status_code == 204
    nova.wait_gone(server["id"])
    assert neutron.ports_of(server["id"]) == []


async def test_the_client_on_the_real_api(
    cloud: Server, client: tuple[HttpNetwork, ServiceSession]
) -> None:
    http, session = client
    _nova, neutron, net, project = topology(cloud)
    pid = project["id"]
    nic = NicRequest(network_id=net["id"], fixed_ip="10.50.0.77")
    (checked,) = await http.nics_for(pid, False, "list", [nic])
    assert checked == nic
    with pytest.raises(BadRequest):
        await http.nics_for(pid, False, "list", [NicRequest(network_id=MISSING)])
    with pytest.raises(BadRequest):
        await http.nics_for(
            pid, False, "list", [NicRequest(network_id=net["id"], fixed_ip="9.9.9.9")]
        )
    assert await http.nics_for(pid, False, "auto", []) == [NicRequest(network_id=net["id"])]
    server_id = unique("srv")[:36]
    port = await http.create_port(pid, server_id, "nova", checked, [], "fakehost")
    assert [f.ip_address for f in port.fixed_ips] == ["10.50.0.77"]
    assert port.host == "fakehost" and port.device_owner == "compute:nova"
    assert port.security_groups == ("default",) and port.network_name == net["name"]
    with pytest.raises(Conflict):  # the address is taken now
        await http.nics_for(pid, False, "list", [nic])
    with pytest.raises(Conflict):  # and the port is in use
        await http.nics_for(pid, False, "list", [NicRequest(port_id=port.id)])
    assert [p.id for p in await http.owned_by(server_id)] == [port.id]
    assert (port.id, server_id) in await http.orphans("fakehost")
    assert await http.data_plane("fakehost") == "fake"
    assert await http.data_plane("nohost") is None
    # Security groups by name, and a floating IP with no router to it.
    group = await http.security_group_id(pid, "default")
    await http.set_security_groups(pid, port.id, None, group)
    assert (await http.ports([port.id]))[port.id].security_groups == ()
    with pytest.raises(NotFound):
        await http.security_group_id(pid, "no-such-group")
    # A token that went bad is replaced, and the call goes through.
    session._token = ("not-a-token", 1e12)
    await http.set_security_groups(pid, port.id, group, None)
    assert (await http.ports([port.id]))[port.id].security_groups == ("default",)
    # Given back unbound, then deleted (twice is no error).
    await http.unbind_port(port.id)
    shown = Neutron(cloud, cloud.admin_token()).port(port.id)
    assert shown is not None and shown["device_id"] == "" and shown["binding:host_id"] == ""
    await http.delete_port(port.id)
    await http.delete_port(port.id)
    assert await http.ports([port.id]) == {}
    with pytest.raises(NotFound):
        await http.bind_port(pid, port.id, server_id, "nova", "fakehost")
