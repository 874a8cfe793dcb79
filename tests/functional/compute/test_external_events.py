"""os-server-external-events (fake compute driver, fake data plane): the
admin (or service) call Neutron and Cinder make, its codes and errors in
Nova's format, and the network service calling it: a port deleted under a
running server is unplugged from the guest (network-vif-deleted), and a
boot goes on only once its ports' network-vif-plugged came."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.conftest import Server
from tests.functional.compute.conftest import Nova, project_user, unique
from tests.functional.compute.test_networking import Neutron, error

MISSING = "00000000-0000-0000-0000-000000000000"
PATH = "/os-server-external-events"


def event(server_id: str, name: str = "network-vif-plugged", **extra: Any) -> dict[str, Any]:
    return {"server_uuid": server_id, "name": name, **extra}


def post(nova: Nova, *events: dict[str, Any]) -> httpx.Response:
    return nova.post(PATH, json={"events": list(events)})


def wait_for(check: Any, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition never held")


def booted(cloud: Server) -> tuple[Nova, Neutron, dict[str, Any], dict[str, Any]]:
    nova, _project = project_user(cloud, "member", "2.96")
    neutron = Neutron(cloud, nova.token)
    net = neutron.create("network", name=unique("net"))
    neutron.create("subnet", network_id=net["id"], ip_version=4, cidr="10.40.0.0/24")
    server = nova.boot(unique("vm"), networks=[{"uuid": net["id"]}])
    return nova, neutron, net, server


def test_events_are_delivered_with_nova_codes(cloud: Server) -> None:
    _nova, neutron, _net, server = booted(cloud)
    (port,) = neutron.ports_of(server["id"])
    assert port["status"] == "ACTIVE"  # the boot waited for its vif-plugged
    admin = Nova(cloud, cloud.admin_token(), "2.96")
    resp = post(admin, event(server["id"], tag=port["id"]), event(server["id"], "network-changed"))
    assert resp.status_code == 200, resp.text
    assert resp.json()["events"] == [
        {"name": "network-vif-plugged", "server_uuid": server["id"], "status": "completed",
         "tag": port["id"], "code": 200},
        {"name": "network-changed", "server_uuid": server["id"], "status": "completed",
         "code": 200},
    ]  # fmt: skip
    # Some servers unknown: 207, each event with its code.
    resp = post(admin, event(server["id"], status="failed"), event(MISSING))
    assert resp.status_code == 207, resp.text
    codes = [(e["code"], e["status"]) for e in resp.json()["events"]]
    assert codes == [(200, "failed"), (404, "failed")]
    # None known: 404 in Nova's format.
    assert "No instances found" in error(post(admin, event(MISSING)), 404, "itemNotFound")
    # The server is still fine.
    assert admin.show(server["id"])["status"] == "ACTIVE"


def test_bad_events_are_refused(cloud: Server) -> None:
    admin = Nova(cloud, cloud.admin_token(), "2.50")
    error(admin.post(PATH, json={"events": []}), 400, "badRequest")
    error(admin.post(PATH, json={}), 400, "badRequest")
    error(post(admin, event(MISSING, "no-such-event")), 400, "badRequest")
    error(post(admin, event(MISSING, status="done")), 400, "badRequest")
    error(post(admin, event(MISSING, bogus=1)), 400, "badRequest")
    # volume-extended came with 2.51.
    message = error(post(admin, event(MISSING, "volume-extended")), 400, "badRequest")
    assert "volume-extended" in message
    resp = post(admin.at("2.51"), event(MISSING, "volume-extended"))
    assert resp.status_code == 404, resp.text


def test_only_the_admin_or_a_service_sends_events(cloud: Server) -> None:
    nova, _neutron, _net, server = booted(cloud)
    error(post(nova, event(server["id"])), 403, "forbidden")
    reader, _project = project_user(cloud, "reader", "2.96")
    error(post(reader, event(server["id"])), 403, "forbidden")


def test_a_port_deleted_under_a_running_server_is_unplugged(cloud: Server) -> None:
    nova, neutron, net, server = booted(cloud)
    path = f"/servers/{server['id']}/os-interface"
    mine = neutron.create("port", network_id=net["id"])
    resp = nova.post(path, json={"interfaceAttachment": {"port_id": mine["id"]}})
    assert resp.status_code == 200, resp.text
    assert len(nova.get(path).json()["interfaceAttachments"]) == 2
    # The user deletes the port in the network service; Neutron tells Nova
    # (network-vif-deleted) and the guest loses the NIC.
    neutron.call("DELETE", f"/ports/{mine['id']}", 204)

    def unplugged() -> bool:
        out = nova.action(server["id"], {"os-getConsoleOutput": {}}).json()["output"]
        return f"nic removed {mine['mac_address']}" in str(out)

    wait_for(unplugged)
    actions = nova.get(f"/servers/{server['id']}/os-instance-actions").json()["instanceActions"]
    assert [a["action"] for a in actions].count("detach_interface") == 1
    shown = wait_for(lambda: (s := nova.show(server["id"]))["OS-EXT-STS:task_state"] is None and s)
    assert shown["status"] == "ACTIVE"
    assert len(nova.get(path).json()["interfaceAttachments"]) == 1
    # And the server takes interfaces again.
    again = nova.post(path, json={"interfaceAttachment": {"net_id": net["id"]}})
    assert again.status_code == 200, again.text


def test_two_ports_deleted_in_one_batch_are_both_unplugged(cloud: Server) -> None:
    nova, neutron, net, server = booted(cloud)
    path = f"/servers/{server['id']}/os-interface"
    ports = [neutron.create("port", network_id=net["id"]) for _ in range(2)]
    for port in ports:
        resp = nova.post(path, json={"interfaceAttachment": {"port_id": port["id"]}})
        assert resp.status_code == 200, resp.text
        wait_for(lambda: nova.show(server["id"])["OS-EXT-STS:task_state"] is None)
    admin = Nova(cloud, cloud.admin_token(), "2.96")
    gone = [event(server["id"], "network-vif-deleted", tag=p["id"]) for p in ports]
    assert post(admin, *gone).status_code == 200

    def unplugged() -> bool:
        out = str(nova.action(server["id"], {"os-getConsoleOutput": {}}).json()["output"])
        return all(f"nic removed {p['mac_address']}" in out for p in ports)

    wait_for(unplugged)
    wait_for(lambda: nova.show(server["id"])["OS-EXT-STS:task_state"] is None)
    assert len(nova.get(path).json()["interfaceAttachments"]) == 1
