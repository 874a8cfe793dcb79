"""Two fake hosts: the all-in-one's agent (``fakehost``) and a
`stratus compute-agent --host fake2` process.  The agent channel, console
output through it, cold migration, resize, confirm and revert, evacuate, and
os-migrations, with their errors."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.compute_agents import Agent, host_row, start_agent
from tests.conftest import Server, sql
from tests.functional.compute.conftest import (
    FAKE,
    Nova,
    fake_cloud,
    osc,
    project_user,
    stop_cloud,
    unique,
)

HOST = "OS-EXT-SRV-ATTR:host"
AGENTS: list[Agent] = []  # fake2's agent (the newest, after a restart)


@pytest.fixture(scope="module")
def two_hosts(tmp_path_factory: pytest.TempPathFactory, database: str) -> Iterator[tuple[Server, Agent]]:
    srv = fake_cloud(tmp_path_factory, "moves", database=database)
    agent = start_agent(srv, "fake2", **FAKE)
    AGENTS.append(agent)
    yield srv, agent
    assert AGENTS[-1].stop() == 0, AGENTS[-1].log.read_text()[-3000:]
    stop_cloud(srv)


@pytest.fixture(scope="module")
def nova(two_hosts: tuple[Server, Agent]) -> Nova:
    srv, _ = two_hosts
    return Nova(srv, srv.admin_token(), "2.96")


def boot_on(nova: Nova, host: str, **extra: Any) -> dict[str, Any]:
    return nova.boot(unique("mv"), availability_zone=f"nova:{host}", **extra)


def wait_status(nova: Nova, server_id: str, status: str, timeout: float = 30) -> dict[str, Any]:
    return nova.wait(server_id, status, timeout=timeout)


def migrations_of(nova: Nova, server_id: str, version: str = "2.96") -> list[dict[str, Any]]:
    resp = nova.get("/os-migrations", params={"instance_uuid": server_id}, version=version)
    assert resp.status_code == 200, resp.text
    return resp.json()["migrations"]  # type: ignore[no-any-return]


def ram_used(nova: Nova, host: str) -> int:
    hypervisors = nova.get("/os-hypervisors/detail", version="2.1").json()["hypervisors"]
    (row,) = [h for h in hypervisors if h["service"]["host"] == host]
    return int(row["memory_mb_used"])


def service_token(srv: Server) -> str:
    password = (srv.data_dir / "service-password").read_text().strip()
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": "stratus", "domain": {"id": "default"}, "password": password}
                },
            },
            "scope": {"project": {"name": "service", "domain": {"id": "default"}}},
        }
    }
    resp = httpx.post(f"{srv.auth_url}/auth/tokens", json=body)
    resp.raise_for_status()
    return resp.headers["x-subject-token"]


# -- hosts and the channel -----------------------------------------------------------------------


def test_both_hosts_register_a_channel(two_hosts: tuple[Server, Agent], nova: Nova) -> None:
    srv, _ = two_hosts
    hosts = {h["service"]["host"] for h in nova.get("/os-hypervisors/detail").json()["hypervisors"]}
    assert hosts == {"fakehost", "fake2"}
    for name in hosts:
        url = str((host_row(srv, name) or {})["agent_url"])
        assert url.startswith("http://127.0.0.1:")
        anonymous = httpx.get(f"{url}/servers/x/console")
        assert anonymous.status_code == 401
        # A cloud admin who is not a service gets no access to the agents either.
        admin = httpx.get(f"{url}/servers/x/console", headers={"X-Auth-Token": srv.admin_token()})
        assert admin.status_code == 401
        bogus = httpx.post(f"{url}/wake", headers={"X-Auth-Token": "not-a-token"})
        assert bogus.status_code == 401
        ok = httpx.post(f"{url}/wake", headers={"X-Auth-Token": service_token(srv)})
        assert ok.status_code == 204


def test_channel_refuses_a_damaged_disk(two_hosts: tuple[Server, Agent]) -> None:
    srv, _ = two_hosts
    url = str((host_row(srv, "fake2") or {})["agent_url"])
    headers = {"X-Auth-Token": service_token(srv), "X-Checksum-SHA256": "0" * 64}
    resp = httpx.put(f"{url}/servers/{unique('srv')}/disk", content=b"some bytes", headers=headers)
    assert resp.status_code == 409
    assert "damaged" in resp.json()["error"]


def test_console_output_of_a_server_on_a_separate_agent(nova: Nova) -> None:
    server = boot_on(nova, "fake2")
    assert server[HOST] == "fake2"
    resp = nova.action(server["id"], {"os-getConsoleOutput": {"length": 5}})
    assert resp.status_code == 200, resp.text
    assert "stratus-tiny: ready" in resp.json()["output"]
    # diagnostics and a crash dump go over the agent channel too
    resp = nova.get(f"/servers/{server['id']}/diagnostics", version="2.48")
    assert resp.status_code == 200, resp.text
    assert resp.json()["driver"] == "fake" and resp.json()["disk_details"][0]["write_bytes"] == 8192
    assert nova.action(server["id"], {"trigger_crash_dump": None}).status_code == 202
    out = nova.action(server["id"], {"os-getConsoleOutput": {}}).json()["output"]
    assert "NMI received" in out
    nova.delete(f"/servers/{server['id']}")


# -- cold migration ----------------------------------------------------------------------------


def test_migrate_then_confirm(nova: Nova) -> None:
    server = boot_on(nova, "fakehost")
    resp = nova.action(server["id"], {"migrate": None})
    assert resp.status_code == 202, resp.text
    moved = wait_status(nova, server["id"], "VERIFY_RESIZE")
    assert moved[HOST] == "fake2"
    assert moved["OS-EXT-STS:vm_state"] == "resized"
    (mig,) = migrations_of(nova, server["id"])
    assert mig["status"] == "finished" and mig["migration_type"] == "migration"
    assert (mig["source_compute"], mig["dest_compute"]) == ("fakehost", "fake2")
    # The guest runs on its new host: its console comes from there.
    out = nova.action(server["id"], {"os-getConsoleOutput": {}}).json()["output"]
    assert "stratus-tiny: ready" in out
    # Until confirmed, the source still holds the server's room.
    held = ram_used(nova, "fakehost")
    resp = nova.action(server["id"], {"confirmResize": None})
    assert resp.status_code == 204, resp.text
    done = wait_status(nova, server["id"], "ACTIVE")
    assert done[HOST] == "fake2"
    assert held - ram_used(nova, "fakehost") == 256  # m1.tiny
    assert migrations_of(nova, server["id"])[0]["status"] == "confirmed"
    nova.delete(f"/servers/{server['id']}")


def test_migrate_to_a_named_host_then_revert(two_hosts: tuple[Server, Agent], nova: Nova) -> None:
    srv, _ = two_hosts
    server = boot_on(nova, "fake2")
    resp = nova.action(server["id"], {"migrate": {"host": "fakehost"}}, version="2.56")
    assert resp.status_code == 202, resp.text
    assert wait_status(nova, server["id"], "VERIFY_RESIZE")[HOST] == "fakehost"
    resp = nova.action(server["id"], {"revertResize": None})
    assert resp.status_code == 202, resp.text
    back = wait_status(nova, server["id"], "ACTIVE")
    assert back[HOST] == "fake2"
    assert migrations_of(nova, server["id"])[0]["status"] == "reverted"
    # The copy the destination had is gone; the source's folder is back in place.
    assert not (srv.data_dir / "compute" / "fakehost" / "instances" / server["id"]).exists()
    assert (srv.data_dir / "compute" / "fake2" / "instances" / server["id"]).is_dir()
    nova.delete(f"/servers/{server['id']}")


def test_a_stopped_server_stays_stopped(nova: Nova) -> None:
    server = boot_on(nova, "fakehost")
    assert nova.action(server["id"], {"os-stop": None}).status_code == 202
    wait_status(nova, server["id"], "SHUTOFF")
    assert nova.action(server["id"], {"migrate": None}).status_code == 202
    moved = wait_status(nova, server["id"], "VERIFY_RESIZE")
    assert moved["OS-EXT-STS:power_state"] == 4  # shut down
    assert nova.action(server["id"], {"confirmResize": None}).status_code == 204
    assert wait_status(nova, server["id"], "SHUTOFF")[HOST] == "fake2"
    nova.delete(f"/servers/{server['id']}")


def test_migrate_errors(nova: Nova) -> None:
    server = boot_on(nova, "fakehost")
    sid = server["id"]
    same = nova.action(sid, {"migrate": {"host": "fakehost"}}, version="2.56")
    assert same.status_code == 400 and "own host" in same.json()["badRequest"]["message"]
    unknown = nova.action(sid, {"migrate": {"host": "nowhere"}}, version="2.56")
    assert unknown.status_code == 400
    assert "nowhere could not be found" in unknown.json()["badRequest"]["message"]
    early = nova.action(sid, {"migrate": {"host": "fake2"}}, version="2.55")
    assert early.status_code == 400
    # Not resized: nothing to confirm or revert.
    assert nova.action(sid, {"confirmResize": None}).status_code == 409
    assert nova.action(sid, {"revertResize": None}).status_code == 409
    # Wrong state: a paused server does not move.
    assert nova.action(sid, {"pause": None}).status_code == 202
    wait_status(nova, sid, "PAUSED")
    paused = nova.action(sid, {"migrate": None})
    assert (
        paused.status_code == 409
        and "vm_state paused" in paused.json()["conflictingRequest"]["message"]
    )
    nova.delete(f"/servers/{sid}")


def test_a_host_without_the_capability_refuses(two_hosts: tuple[Server, Agent], nova: Nova) -> None:
    srv, _ = two_hosts
    server = boot_on(nova, "fakehost")
    ((saved,),) = sql(srv, "SELECT capabilities FROM compute_host WHERE host='fakehost'")
    sql(srv, "UPDATE compute_host SET capabilities='[\"pause\"]' WHERE host='fakehost'")
    try:
        resp = nova.action(server["id"], {"migrate": None})
        assert resp.status_code == 409
        assert "does not support migrate" in resp.json()["conflictingRequest"]["message"]
    finally:
        sql(srv, "UPDATE compute_host SET capabilities=? WHERE host='fakehost'", saved)
    nova.delete(f"/servers/{server['id']}")


# -- resize ----------------------------------------------------------------------------------------


def test_resize_then_confirm(nova: Nova) -> None:
    server = boot_on(nova, "fakehost", flavorRef="1")
    resp = nova.action(server["id"], {"resize": {"flavorRef": "2"}})
    assert resp.status_code == 202, resp.text
    resized = wait_status(nova, server["id"], "VERIFY_RESIZE")
    assert resized["flavor"]["original_name"] == "m1.small"
    assert resized[HOST] == "fake2"  # the own host is not allowed by default
    (mig,) = migrations_of(nova, server["id"])
    assert mig["migration_type"] == "resize"
    assert (mig["old_instance_type_id"], mig["new_instance_type_id"]) == (1, 2)
    assert nova.action(server["id"], {"confirmResize": None}).status_code == 204
    done = wait_status(nova, server["id"], "ACTIVE")
    assert done["flavor"]["ram"] == 2048
    nova.delete(f"/servers/{server['id']}")


def test_resize_revert_keeps_the_old_flavor(nova: Nova) -> None:
    server = boot_on(nova, "fake2", flavorRef="1")
    assert nova.action(server["id"], {"resize": {"flavorRef": "2"}}).status_code == 202
    wait_status(nova, server["id"], "VERIFY_RESIZE")
    assert nova.action(server["id"], {"revertResize": None}).status_code == 202
    back = wait_status(nova, server["id"], "ACTIVE")
    assert back["flavor"]["original_name"] == "m1.tiny" and back[HOST] == "fake2"
    nova.delete(f"/servers/{server['id']}")


def test_resize_errors(two_hosts: tuple[Server, Agent], nova: Nova) -> None:
    srv, _ = two_hosts
    server = boot_on(nova, "fakehost", flavorRef="2")
    sid = server["id"]
    smaller = nova.action(sid, {"resize": {"flavorRef": "1"}})
    assert smaller.status_code == 400 and "smaller disk" in smaller.json()["badRequest"]["message"]
    same = nova.action(sid, {"resize": {"flavorRef": "2"}})
    assert same.status_code == 400 and "must change flavor" in same.json()["badRequest"]["message"]
    missing = nova.action(sid, {"resize": {"flavorRef": "nope"}})
    assert missing.status_code == 400
    nova.delete(f"/servers/{sid}")
    # A member's locked server: 409.
    member, _project = project_user(srv, "member")
    own = member.boot(unique("locked"), availability_zone=None)
    assert member.action(own["id"], {"lock": None}).status_code == 202
    locked = member.action(own["id"], {"resize": {"flavorRef": "2"}})
    assert locked.status_code == 409 and "locked" in locked.json()["conflictingRequest"]["message"]
    # Cold migration is the operator's: a member may not.
    assert member.action(own["id"], {"migrate": None}).status_code == 403
    assert member.get("/os-migrations").status_code == 403
    assert member.action(own["id"], {"unlock": None}).status_code == 202
    member.delete(f"/servers/{own['id']}")


# -- os-migrations and server migrations ----------------------------------------------------------


def test_migrations_fields_per_microversion(nova: Nova) -> None:
    server = boot_on(nova, "fakehost")
    assert nova.action(server["id"], {"migrate": None}).status_code == 202
    wait_status(nova, server["id"], "VERIFY_RESIZE")
    base = {
        "id", "instance_uuid", "status", "source_compute", "source_node", "dest_compute",
        "dest_node", "dest_host", "old_instance_type_id", "new_instance_type_id",
        "created_at", "updated_at",
    }  # fmt: skip
    (v21,) = migrations_of(nova, server["id"], "2.1")
    assert set(v21) == base
    (v23,) = migrations_of(nova, server["id"], "2.23")
    assert set(v23) == base | {"migration_type"}  # links only for live migrations under way
    (v59,) = migrations_of(nova, server["id"], "2.59")
    assert set(v59) == base | {"migration_type", "uuid"}
    (v80,) = migrations_of(nova, server["id"], "2.80")
    assert set(v80) == base | {"migration_type", "uuid", "user_id", "project_id"}
    assert v80["user_id"] and v80["project_id"]
    # Filters.
    n = nova.at("2.80")
    assert (
        n.get(
            "/os-migrations", params={"migration_type": "evacuation", "instance_uuid": server["id"]}
        ).json()["migrations"]
        == []
    )
    assert (
        len(
            n.get(
                "/os-migrations", params={"status": "finished", "instance_uuid": server["id"]}
            ).json()["migrations"]
        )
        == 1
    )
    assert n.get("/os-migrations", params={"host": "nowhere"}).json()["migrations"] == []
    assert n.get("/os-migrations", params={"user_id": v80["user_id"]}).json()["migrations"]
    assert nova.get("/os-migrations", params={"user_id": "x"}, version="2.79").status_code == 400
    # Paging (2.59): a limit gives a next link with the last uuid as marker.
    page = n.get("/os-migrations", params={"limit": 1}).json()
    assert len(page["migrations"]) == 1 and "marker=" in page["migrations_links"][0]["href"]
    rest = n.get("/os-migrations", params={"marker": page["migrations"][0]["uuid"]}).json()[
        "migrations"
    ]
    assert page["migrations"][0]["uuid"] not in {m["uuid"] for m in rest}
    assert n.get("/os-migrations", params={"marker": "no-such-uuid"}).status_code == 404
    # /servers/{id}/migrations lists live migrations under way only.
    assert nova.get(f"/servers/{server['id']}/migrations", version="2.22").status_code == 404
    listed = nova.get(f"/servers/{server['id']}/migrations", version="2.23")
    assert listed.status_code == 200 and listed.json() == {"migrations": []}
    assert (
        nova.get(f"/servers/{server['id']}/migrations/{v21['id']}", version="2.23").status_code
        == 404
    )
    assert nova.action(server["id"], {"revertResize": None}).status_code == 202
    wait_status(nova, server["id"], "ACTIVE")
    nova.delete(f"/servers/{server['id']}")


# -- evacuate --------------------------------------------------------------------------------------


def _set_forced_down(nova: Nova, host: str, down: bool) -> None:
    n = nova.at("2.53")
    (svc,) = [s for s in n.get("/os-services").json()["services"] if s["host"] == host]
    resp = n.put(f"/os-services/{svc['id']}", json={"forced_down": down})
    assert resp.status_code == 200, resp.text


def test_evacuate(two_hosts: tuple[Server, Agent], nova: Nova) -> None:
    srv, _ = two_hosts
    server = boot_on(nova, "fake2")
    old_style = boot_on(nova, "fake2")
    up = nova.action(server["id"], {"evacuate": {}})
    assert up.status_code == 409 and "still in use" in up.json()["conflictingRequest"]["message"]
    _set_forced_down(nova, "fake2", True)
    try:
        unknown = nova.action(server["id"], {"evacuate": {"host": "nowhere"}})
        assert unknown.status_code == 404
        early = nova.action(server["id"], {"evacuate": {"onSharedStorage": False}})
        assert early.status_code == 400  # gone in 2.14
        resp = nova.action(server["id"], {"evacuate": {}})
        assert resp.status_code == 200, resp.text
        # From 2.95 an evacuated server arrives stopped.
        moved = wait_status(nova, server["id"], "SHUTOFF")
        assert moved[HOST] == "fakehost"
        (mig,) = migrations_of(nova, server["id"])
        assert mig["migration_type"] == "evacuation" and mig["status"] == "done"
        # The source's folder was reachable (one machine): the disk was kept.
        log = srv.log.read_text()
        assert f"server {server['id']} evacuated from fake2 to fakehost (disk kept)" in log
        # Before 2.14 the answer carries the admin password; before 2.95 a
        # running server comes back running.
        # Where the source's folder is out of reach (no marker naming its
        # host), the server is rebuilt from its image instead.
        (srv.data_dir / "compute" / "fake2" / "instances" / ".stratus-host").unlink()
        resp = nova.action(old_style["id"], {"evacuate": {"onSharedStorage": True}}, version="2.1")
        assert resp.status_code == 200 and resp.json()["adminPass"]
        assert wait_status(nova, old_style["id"], "ACTIVE")[HOST] == "fakehost"
        rebuilt = (
            f"server {old_style['id']} evacuated from fake2 to fakehost (rebuilt from its image)"
        )
        assert rebuilt in srv.log.read_text()
    finally:
        _set_forced_down(nova, "fake2", False)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and host_row(srv, "fake2") is None:
        time.sleep(0.1)
    nova.delete(f"/servers/{server['id']}")
    nova.delete(f"/servers/{old_style['id']}")


def test_delete_while_waiting_for_confirmation(two_hosts: tuple[Server, Agent], nova: Nova) -> None:
    srv, _ = two_hosts
    server = boot_on(nova, "fakehost")
    assert nova.action(server["id"], {"migrate": None}).status_code == 202
    wait_status(nova, server["id"], "VERIFY_RESIZE")
    aside = srv.data_dir / "compute" / "fakehost" / "moves" / server["id"]
    assert aside.is_dir()  # the source keeps its copy until confirmed
    assert nova.delete(f"/servers/{server['id']}").status_code == 204
    nova.wait_gone(server["id"])
    deadline = time.monotonic() + 10
    while aside.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not aside.exists()
    assert migrations_of(nova, server["id"])[0]["status"] == "confirmed"


def test_resize_needs_quota_for_the_difference(two_hosts: tuple[Server, Agent], nova: Nova) -> None:
    srv, _ = two_hosts
    member, project = project_user(srv, "member")
    resp = nova.put(f"/os-quota-sets/{project['id']}", json={"quota_set": {"ram": 1024}})
    assert resp.status_code == 200, resp.text
    own = member.boot(unique("quota"))
    over = member.action(own["id"], {"resize": {"flavorRef": "2"}})
    assert over.status_code == 403 and "ram" in over.json()["forbidden"]["message"]
    member.delete(f"/servers/{own['id']}")


def test_no_other_host_names_the_option(nova: Nova) -> None:
    server = boot_on(nova, "fakehost", flavorRef="1")
    n = nova.at("2.53")
    (svc,) = [s for s in n.get("/os-services").json()["services"] if s["host"] == "fake2"]
    assert n.put(f"/os-services/{svc['id']}", json={"status": "disabled"}).status_code == 200
    try:
        resp = nova.action(server["id"], {"resize": {"flavorRef": "2"}})
        assert resp.status_code == 400
        message = resp.json()["badRequest"]["message"]
        assert "No valid host" in message and "allow_resize_to_same_host" in message
        resp = nova.action(server["id"], {"migrate": None})
        assert resp.status_code == 400 and "fake2: disabled" in resp.json()["badRequest"]["message"]
    finally:
        assert n.put(f"/os-services/{svc['id']}", json={"status": "enabled"}).status_code == 200
    nova.delete(f"/servers/{server['id']}")


@pytest.fixture(scope="module")
def one_host(tmp_path_factory: pytest.TempPathFactory, database: str) -> Iterator[Nova]:
    # The all-in-one's default: one compute host, so a resize may stay on it.
    srv = fake_cloud(tmp_path_factory, "samehost", database=database)
    yield Nova(srv, srv.admin_token(), "2.96")
    stop_cloud(srv)


def test_resize_on_the_same_host_when_allowed(one_host: Nova) -> None:
    nova = one_host
    srv = nova.server
    server = nova.boot(unique("same"), flavorRef="1")
    sid = server["id"]
    assert nova.action(sid, {"resize": {"flavorRef": "2"}}).status_code == 202
    resized = wait_status(nova, sid, "VERIFY_RESIZE")
    assert resized[HOST] == "fakehost" and resized["flavor"]["original_name"] == "m1.small"
    assert (srv.data_dir / "compute" / "fakehost" / "moves" / sid).is_dir()
    assert nova.action(sid, {"revertResize": None}).status_code == 202
    back = wait_status(nova, sid, "ACTIVE")
    assert back["flavor"]["original_name"] == "m1.tiny"
    assert not (srv.data_dir / "compute" / "fakehost" / "moves" / sid).exists()
    # Cold migration never stays: with one host there is nowhere to go.
    resp = nova.action(sid, {"migrate": None})
    assert resp.status_code == 400 and "own host" in resp.json()["badRequest"]["message"]
    # The real CLI: `openstack server resize` then `resize confirm`.
    osc(srv, "server", "resize", "--flavor", "m1.small", "--wait", sid)
    assert nova.show(sid)["status"] == "VERIFY_RESIZE"
    osc(srv, "server", "resize", "confirm", sid)
    done = wait_status(nova, sid, "ACTIVE")
    assert done["flavor"]["original_name"] == "m1.small"
    assert not (srv.data_dir / "compute" / "fakehost" / "moves" / sid).exists()
    (mig, _older) = nova.get("/os-migrations", params={"instance_uuid": sid}).json()["migrations"]
    assert (
        mig["status"] == "confirmed" and mig["source_compute"] == mig["dest_compute"] == "fakehost"
    )
    nova.delete(f"/servers/{sid}")


def test_a_failed_send_puts_the_server_back(two_hosts: tuple[Server, Agent], nova: Nova) -> None:
    srv, _ = two_hosts
    server = boot_on(nova, "fakehost")
    before = ram_used(nova, "fake2")
    # fake2's agent stops; its heartbeat is still fresh, so it is chosen, and
    # the disk cannot reach it.
    assert AGENTS[-1].stop() == 0
    try:
        assert nova.action(server["id"], {"migrate": None}).status_code == 202
        back = wait_status(nova, server["id"], "ACTIVE")
        assert back[HOST] == "fakehost"
        assert "unreachable" in srv.log.read_text()
        assert migrations_of(nova, server["id"])[0]["status"] == "error"
        assert ram_used(nova, "fake2") == before  # no claim left behind
        assert (srv.data_dir / "compute" / "fakehost" / "instances" / server["id"]).is_dir()
        assert not (srv.data_dir / "compute" / "fakehost" / "moves" / server["id"]).exists()
        assert back["OS-EXT-STS:power_state"] == 1  # booted again where it was
        out = nova.action(server["id"], {"os-getConsoleOutput": {}}).json()["output"]
        assert "stratus-tiny: ready" in out
    finally:
        AGENTS.append(start_agent(srv, "fake2", **FAKE))
    nova.delete(f"/servers/{server['id']}")
