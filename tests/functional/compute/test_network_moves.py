"""Ports follow their server: two fake hosts (the all-in-one's ``fakehost``
and a ``stratus compute-agent --host fake2`` process, each with its port
bindings through the network service), cold migration and live migration
move ``binding:host_id``; a restarted cloud keeps the server's ports, and
its agent removes at start a port left by a server that is gone."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.compute_agents import start_agent
from tests.conftest import Server, start_server
from tests.functional.compute.conftest import FAKE, Nova, fake_cloud, stop_cloud, unique

HOST = "OS-EXT-SRV-ATTR:host"


@pytest.fixture(scope="module")
def two_hosts(tmp_path_factory: pytest.TempPathFactory, database: str) -> Iterator[list[Any]]:
    srv = fake_cloud(tmp_path_factory, "netmoves", database=database)
    agent = start_agent(srv, "fake2", **FAKE)
    state: list[Any] = [srv, agent]
    yield state
    assert state[1].stop() == 0
    stop_cloud(state[0])


def admin_port(srv: Server, port_id: str) -> dict[str, Any] | None:
    resp = httpx.get(
        f"{srv.url}/network/v2.0/ports/{port_id}", headers={"X-Auth-Token": srv.admin_token()}
    )
    return resp.json()["port"] if resp.status_code == 200 else None


def ports_of(srv: Server, server_id: str) -> list[dict[str, Any]]:
    resp = httpx.get(
        f"{srv.url}/network/v2.0/ports",
        params={"device_id": server_id},
        headers={"X-Auth-Token": srv.admin_token()},
    )
    return resp.json()["ports"]  # type: ignore[no-any-return]


def wait_binding(srv: Server, port_id: str, host: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while (admin_port(srv, port_id) or {}).get("binding:host_id") != host:
        assert time.monotonic() < deadline, (
            f"port {port_id} not bound to {host}: {admin_port(srv, port_id)}"
        )
        time.sleep(0.1)


def test_ports_follow_migrations_and_survive_a_restart(two_hosts: list[Any]) -> None:
    srv: Server = two_hosts[0]
    nova = Nova(srv, srv.admin_token(), "2.96")
    server = nova.boot(unique("mv"), networks="auto", availability_zone="nova:fakehost")
    (port,) = ports_of(srv, server["id"])
    assert port["binding:host_id"] == "fakehost"
    addresses = server["addresses"]

    # Cold migration: the destination's agent binds the port to its host.
    assert nova.action(server["id"], {"migrate": None}).status_code == 202
    moved = nova.wait(server["id"], "VERIFY_RESIZE")
    assert moved[HOST] == "fake2"
    wait_binding(srv, port["id"], "fake2")
    assert nova.action(server["id"], {"confirmResize": None}).status_code == 204
    assert nova.wait(server["id"])["addresses"] == addresses

    # Live migration back: bound to the destination again, same address.
    live = {"os-migrateLive": {"host": "fakehost", "block_migration": "auto"}}
    assert nova.action(server["id"], live, version="2.30").status_code == 202
    deadline = time.monotonic() + 60
    while (
        nova.show(server["id"])[HOST] != "fakehost" or nova.show(server["id"])["status"] != "ACTIVE"
    ):
        assert time.monotonic() < deadline, nova.show(server["id"])
        time.sleep(0.2)
    wait_binding(srv, port["id"], "fakehost")
    assert [p["id"] for p in ports_of(srv, server["id"])] == [port["id"]]

    # A port left by a server that never was (a crash between making the
    # port and recording it): the agent removes it when the cloud restarts.
    orphan_owner = str(uuid.uuid4())
    net_id = port["network_id"]
    resp = httpx.post(
        f"{srv.url}/network/v2.0/ports",
        headers={"X-Auth-Token": srv.admin_token()},
        json={"port": {"network_id": net_id, "device_owner": "compute:nova", "device_id": orphan_owner,
                       "binding:host_id": "fakehost"}},
    )  # fmt: skip
    assert resp.status_code == 201, resp.text
    orphan = resp.json()["port"]["id"]
    assert srv.stop() == 0
    restarted = start_server(srv.data_dir, srv.database_url, int(srv.url.rsplit(":", 1)[1]), **FAKE)
    two_hosts[0] = restarted
    nova = Nova(restarted, restarted.admin_token(), "2.96")
    assert nova.show(server["id"])["addresses"] == addresses
    deadline = time.monotonic() + 30
    while admin_port(restarted, orphan) is not None:
        assert time.monotonic() < deadline, "the orphaned port was not removed"
        time.sleep(0.2)
    assert admin_port(restarted, port["id"]) is not None
    assert f"removed port {orphan}" in restarted.log.read_text()
    nova.delete(f"/servers/{server['id']}")
    nova.wait_gone(server["id"])
    assert ports_of(restarted, server["id"]) == []
