"""A compute agent of its own process (``stratus compute-agent --host
fake2``) uses block storage through Cinder's API (``HttpVolumes``: the
endpoint from the catalog, the service user's token): a volume is attached
to its server, grown while attached, and detached, as on the all-in-one's
own host.  fake2 cannot open the volume host's files (only the all-in-one's
own compute host, ``fakehost``, can), so its attachments get NBD exports.
Servers with volumes, and servers booted from one, move between the two
hosts (cold migration and resize, confirm and revert; live migration,
failed, aborted or cut short by a delete) with new attachments on the
destination, as Nova does with Cinder's attachments API.  Compute's
fake driver, the file volume backend; SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.compute_agents import Agent, start_agent
from tests.conftest import Server, stop_cloud
from tests.functional.compute.conftest import FAKE, Nova, fake_cloud, osc, unique
from tests.functional.compute.test_volume_attachments import (
    VOLUME_ENV,
    bdm_server,
    console,
    wait_console,
)
from tests.functional.volume.conftest import Cinder, admin_project, end_exports, volume_file

HOST = "OS-EXT-SRV-ATTR:host"


@pytest.fixture(scope="module")
def two_hosts(
    tmp_path_factory: pytest.TempPathFactory, database: str
) -> Iterator[tuple[Server, Agent]]:
    srv = fake_cloud(tmp_path_factory, "volagent", database=database, **VOLUME_ENV)
    agent = start_agent(srv, "fake2", **FAKE)
    yield srv, agent
    assert agent.stop() == 0, agent.log.read_text()[-3000:]
    stop_cloud(srv)
    end_exports(srv.data_dir)


def test_attach_extend_detach_on_a_separate_agent(two_hosts: tuple[Server, Agent]) -> None:
    srv, agent = two_hosts
    nova = Nova(srv, srv.admin_token(), "2.96")
    cinder = Cinder(srv, srv.admin_token(), admin_project(srv))
    vm = nova.boot(unique("far"), availability_zone="nova:fake2")
    assert vm[HOST] == "fake2"
    volume = cinder.create(size=1)

    osc(srv, "server", "add", "volume", vm["id"], volume["id"])
    used = cinder.wait(volume["id"], "in-use")
    assert [(a["server_id"], a["host_name"]) for a in used["attachments"]] == [(vm["id"], "fake2")]
    wait_console(nova, vm["id"], "disk added vdb")

    # fake2 reaches the volume over an NBD export.
    assert list(cinder_attachments(cinder, volume["id"]).values()) == [("fake2", "nbd")]

    osc(srv, "--os-volume-api-version", "3.42", "volume", "set", "--size", "2", volume["id"])
    wait_console(nova, vm["id"], f"disk resized vdb {2 << 30}")
    # The export's daemon holds the file: it grew it.
    out = subprocess.run(
        ["qemu-img", "info", "-U", "--output=json", str(volume_file(srv, volume["id"]))],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert json.loads(out)["virtual-size"] == 2 << 30

    osc(srv, "server", "remove", "volume", vm["id"], volume["id"])
    cinder.wait(volume["id"], "available")
    assert "disk removed vdb" in console(nova, vm["id"])
    # The agent's calls went over Cinder's API (it has no volume service of its own).
    log = srv.log.read_text()
    assert '"PUT /volume/v3/' in log and "/attachments/" in log
    assert "block storage" not in agent.log.read_text()  # no refusal, no unreachable service

    # A volume the agent's user cannot attach (another server has it): the
    # API refuses it, in Nova's format, before the agent is involved.
    other = nova.boot(unique("far"), availability_zone="nova:fake2")
    osc(srv, "server", "add", "volume", vm["id"], volume["id"])
    cinder.wait(volume["id"], "in-use")
    refused = nova.post(
        f"/servers/{other['id']}/os-volume_attachments",
        json={"volumeAttachment": {"volumeId": volume["id"]}},
    )
    assert refused.status_code == 400 and "badRequest" in refused.json()
    for sid in (vm["id"], other["id"]):
        assert nova.delete(f"/servers/{sid}").status_code == 204
        nova.wait_gone(sid)
    cinder.wait(volume["id"], "available")


# -- moves ---------------------------------------------------------------------------------------


def cinder_attachments(cinder: Cinder, volume_id: str) -> dict[str, tuple[str, str]]:
    """The volume's Cinder attachments: id -> (host, connection type)."""
    hosts = {a["attachment_id"]: a["host_name"] for a in cinder.show(volume_id)["attachments"]}
    resp = cinder.get("/attachments", params={"volume_id": volume_id})
    assert resp.status_code == 200, resp.text
    found = {}
    for att in resp.json()["attachments"]:
        shown = cinder.get(f"/attachments/{att['id']}")
        if shown.status_code == 404:  # deleted meanwhile
            continue
        info = shown.json()["attachment"]["connection_info"] or {}
        found[att["id"]] = (str(hosts.get(att["id"], "")), str(info.get("driver_volume_type", "")))
    return found


def exports(srv: Server) -> set[str]:
    folder = srv.data_dir / "volumes" / "volhost" / "exports"
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


def wait_exports(srv: Server, wanted: set[str], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while exports(srv) != wanted and time.monotonic() < deadline:
        time.sleep(0.05)
    assert exports(srv) == wanted


def nova_attachment(nova: Nova, server_id: str) -> dict[str, Any]:
    (row,) = nova.get(f"/servers/{server_id}/os-volume_attachments").json()["volumeAttachments"]
    return row  # type: ignore[no-any-return]


def live_migrate(nova: Nova, server_id: str) -> Any:
    return nova.action(server_id, {"os-migrateLive": {"host": None, "block_migration": "auto"}})


def migration_status(nova: Nova, server_id: str) -> str:
    rows = nova.get("/os-migrations", params={"instance_uuid": server_id}).json()["migrations"]
    live = [r for r in rows if r["migration_type"] == "live-migration"]
    return str(max(live, key=lambda r: r["id"])["status"])


def wait_attachments(
    cinder: Cinder, volume_id: str, count: int, timeout: float = 10
) -> dict[str, tuple[str, str]]:
    """The volume's attachments once there are ``count`` (the source's go
    once its guest is gone, a moment after the server shows its new host)."""
    deadline = time.monotonic() + timeout
    while len(found := cinder_attachments(cinder, volume_id)) != count:
        assert time.monotonic() < deadline, found
        time.sleep(0.05)
    return found


def disks(nova: Nova, server_id: str) -> int:
    """How many disks the guest has, as its host's driver sees it."""
    resp = nova.get(f"/servers/{server_id}/diagnostics", version="2.48")
    assert resp.status_code == 200, resp.text
    return int(resp.json()["num_disks"])


def test_a_server_with_a_volume_migrates_and_confirms(two_hosts: tuple[Server, Agent]) -> None:
    srv, _agent = two_hosts
    nova = Nova(srv, srv.admin_token(), "2.96")
    cinder = Cinder(srv, srv.admin_token(), admin_project(srv))
    vm = nova.boot(unique("mv"), availability_zone="nova:fakehost")
    volume = cinder.create(size=1)
    resp = nova.post(f"/servers/{vm['id']}/os-volume_attachments",
                     json={"volumeAttachment": {"volumeId": volume["id"]}})  # fmt: skip
    assert resp.status_code == 200, resp.text
    cinder.wait(volume["id"], "in-use")
    ((old, (host, kind)),) = cinder_attachments(cinder, volume["id"]).items()
    assert (host, kind) == ("fakehost", "file")
    wait_exports(srv, set())  # (those of the test before end in the background)

    assert nova.action(vm["id"], {"migrate": None}).status_code == 202
    assert nova.wait(vm["id"], "VERIFY_RESIZE")[HOST] == "fake2"
    both = cinder_attachments(cinder, volume["id"])
    (new,) = set(both) - {old}
    # The destination has an attachment of its own: an NBD export (fake2
    # cannot open the file); the source's stays until the move is answered.
    assert both == {old: ("fakehost", "file"), new: ("fake2", "nbd")}
    assert exports(srv) == {volume["id"]}
    assert nova_attachment(nova, vm["id"])["attachment_id"] == new
    assert cinder.show(volume["id"])["status"] == "in-use"

    assert nova.action(vm["id"], {"confirmResize": None}).status_code == 204
    nova.wait(vm["id"], "ACTIVE")
    assert cinder_attachments(cinder, volume["id"]) == {new: ("fake2", "nbd")}

    # A live migration that fails at the source (after the destination
    # connected the volume): the destination's attachment goes, the server
    # and its volume stay as they were.
    failing = {"fake_live_migration_failure": "injected"}
    assert nova.put(f"/servers/{vm['id']}/metadata", json={"metadata": failing}).status_code == 200
    assert live_migrate(nova, vm["id"]).status_code == 202
    assert nova.wait(vm["id"], "ACTIVE")[HOST] == "fake2"
    assert migration_status(nova, vm["id"]) == "error"
    assert cinder_attachments(cinder, volume["id"]) == {new: ("fake2", "nbd")}
    assert nova_attachment(nova, vm["id"])["attachment_id"] == new
    assert exports(srv) == {volume["id"]}
    # Live migration back to fakehost: a new attachment there (the file),
    # the source's and its NBD export go; the guest arrived with the disk.
    assert nova.put(f"/servers/{vm['id']}/metadata", json={"metadata": {}}).status_code == 200
    assert live_migrate(nova, vm["id"]).status_code == 202
    assert nova.wait(vm["id"], "ACTIVE")[HOST] == "fakehost"
    assert migration_status(nova, vm["id"]) == "completed"
    ((back, where),) = wait_attachments(cinder, volume["id"], 1).items()
    assert back != new and where == ("fakehost", "file")
    assert nova_attachment(nova, vm["id"])["attachment_id"] == back
    assert cinder.show(volume["id"])["status"] == "in-use"
    wait_exports(srv, set())
    assert disks(nova, vm["id"]) == 2  # its root disk and the volume
    # Detached: the volume is available again, no export left.
    detach = nova.delete(f"/servers/{vm['id']}/os-volume_attachments/{volume['id']}")
    assert detach.status_code == 202
    cinder.wait(volume["id"], "available")
    wait_exports(srv, set())
    assert nova.delete(f"/servers/{vm['id']}").status_code == 204


def test_a_volume_booted_server_resizes_and_reverts(two_hosts: tuple[Server, Agent]) -> None:
    srv, _agent = two_hosts
    nova = Nova(srv, srv.admin_token(), "2.96")
    cinder = Cinder(srv, srv.admin_token(), admin_project(srv))
    root = cinder.create(size=1, imageRef=nova.server_image())
    resp = bdm_server(nova, {"source_type": "volume", "uuid": root["id"]},
                      availability_zone="nova:fakehost")  # fmt: skip
    assert resp.status_code == 202, resp.text
    vm = nova.wait(resp.json()["server"]["id"])
    assert vm[HOST] == "fakehost" and vm["image"] == ""
    ((old, _),) = cinder_attachments(cinder, root["id"]).items()

    # m1.tiny (1 GiB) to m1.small: its root disk is the volume, whatever the flavor's.
    assert nova.action(vm["id"], {"resize": {"flavorRef": "2"}}).status_code == 202
    moved = nova.wait(vm["id"], "VERIFY_RESIZE")
    assert moved[HOST] == "fake2" and moved["flavor"]["original_name"] == "m1.small"
    both = cinder_attachments(cinder, root["id"])
    (new,) = set(both) - {old}
    assert both[new] == ("fake2", "nbd") and exports(srv) == {root["id"]}

    assert nova.action(vm["id"], {"revertResize": None}).status_code == 202
    back = nova.wait(vm["id"], "ACTIVE")
    assert back[HOST] == "fakehost" and back["flavor"]["original_name"] == "m1.tiny"
    # The source's attachment is the volume's again; the destination's and its export are gone.
    assert cinder_attachments(cinder, root["id"]) == {old: ("fakehost", "file")}
    assert nova_attachment(nova, vm["id"])["attachment_id"] == old
    wait_exports(srv, set())
    # Live migration of the volume-booted server to fake2: its root volume
    # gets fake2's attachment (an NBD export), fakehost's goes.
    assert live_migrate(nova, vm["id"]).status_code == 202
    assert nova.wait(vm["id"], "ACTIVE")[HOST] == "fake2"
    ((there, where),) = wait_attachments(cinder, root["id"], 1).items()
    assert there not in (old, new) and where == ("fake2", "nbd")
    assert nova_attachment(nova, vm["id"])["attachment_id"] == there
    assert exports(srv) == {root["id"]}

    # A move left unanswered, then the server deleted: both attachments go.
    assert nova.action(vm["id"], {"migrate": None}).status_code == 202
    nova.wait(vm["id"], "VERIFY_RESIZE")
    assert len(cinder_attachments(cinder, root["id"])) == 2
    assert nova.delete(f"/servers/{vm['id']}").status_code == 204
    nova.wait_gone(vm["id"])
    cinder.wait(root["id"], "available")
    assert cinder_attachments(cinder, root["id"]) == {}
    wait_exports(srv, set())


def test_a_server_with_volumes_is_evacuated_from_a_dead_host(
    two_hosts: tuple[Server, Agent],
) -> None:
    srv, _agent = two_hosts
    nova = Nova(srv, srv.admin_token(), "2.96")
    cinder = Cinder(srv, srv.admin_token(), admin_project(srv))
    root = cinder.create(size=1, imageRef=nova.server_image())
    data = cinder.create(size=1)
    resp = bdm_server(nova, {"source_type": "volume", "uuid": root["id"]},
                      availability_zone="nova:fake2")  # fmt: skip
    assert resp.status_code == 202, resp.text
    vm = nova.wait(resp.json()["server"]["id"])
    resp = nova.post(f"/servers/{vm['id']}/os-volume_attachments",
                     json={"volumeAttachment": {"volumeId": data["id"]}})  # fmt: skip
    assert resp.status_code == 200, resp.text
    cinder.wait(data["id"], "in-use")
    before = {v: cinder_attachments(cinder, v) for v in (root["id"], data["id"])}
    assert all(list(a.values()) == [("fake2", "nbd")] for a in before.values()), before
    wait_exports(srv, {root["id"], data["id"]})

    n = nova.at("2.53")
    (svc,) = [s for s in n.get("/os-services").json()["services"] if s["host"] == "fake2"]
    assert n.put(f"/os-services/{svc['id']}", json={"forced_down": True}).status_code == 200
    try:
        resp = nova.action(vm["id"], {"evacuate": {}})
        assert resp.status_code == 200, resp.text
        moved = nova.wait(vm["id"], "SHUTOFF")  # from 2.95 it arrives stopped
        assert moved[HOST] == "fakehost"
    finally:
        assert n.put(f"/os-services/{svc['id']}", json={"forced_down": False}).status_code == 200
    # Each volume has an attachment of the new host's (the file: fakehost
    # opens it); the dead host's are deleted and their exports stopped.
    for volume_id, old in before.items():
        ((new, where),) = cinder_attachments(cinder, volume_id).items()
        assert new not in old and where == ("fakehost", "file")
        assert cinder.show(volume_id)["status"] == "in-use"
    wait_exports(srv, set())
    rows = nova.get(f"/servers/{vm['id']}/os-volume_attachments").json()["volumeAttachments"]
    assert {r["volumeId"]: r["attachment_id"] for r in rows} == {
        v: next(iter(cinder_attachments(cinder, v))) for v in before
    }
    assert nova.action(vm["id"], {"os-start": None}).status_code == 202
    nova.wait(vm["id"], "ACTIVE")
    assert nova.delete(f"/servers/{vm['id']}").status_code == 204
    nova.wait_gone(vm["id"])
    cinder.wait(data["id"], "available")


def test_a_live_migration_with_a_volume_aborted_then_deleted_midway(
    two_hosts: tuple[Server, Agent],
) -> None:
    srv, _agent = two_hosts
    nova = Nova(srv, srv.admin_token(), "2.96")
    cinder = Cinder(srv, srv.admin_token(), admin_project(srv))
    vm = nova.boot(unique("lm"), availability_zone="nova:fakehost",
                   metadata={"fake_live_migration_seconds": "30"})  # fmt: skip
    volume = cinder.create(size=1)
    resp = nova.post(f"/servers/{vm['id']}/os-volume_attachments",
                     json={"volumeAttachment": {"volumeId": volume["id"]}})  # fmt: skip
    assert resp.status_code == 200, resp.text
    cinder.wait(volume["id"], "in-use")
    ((old, _),) = cinder_attachments(cinder, volume["id"]).items()
    wait_exports(srv, set())

    def running() -> int:
        deadline = time.monotonic() + 20
        while True:
            rows = nova.get(f"/servers/{vm['id']}/migrations", version="2.80").json()["migrations"]
            if rows and rows[0]["status"] == "running":
                return int(rows[0]["id"])
            assert time.monotonic() < deadline, rows
            time.sleep(0.05)

    # While it runs the volume has two attachments: the source's and the
    # destination's (fake2's NBD export).
    assert live_migrate(nova, vm["id"]).status_code == 202
    migration = running()
    both = cinder_attachments(cinder, volume["id"])
    assert sorted(both.values()) == [("fake2", "nbd"), ("fakehost", "file")]
    assert exports(srv) == {volume["id"]}
    # Aborted: the destination's attachment and export go.
    abort = nova.delete(f"/servers/{vm['id']}/migrations/{migration}", version="2.24")
    assert abort.status_code == 202, abort.text
    assert nova.wait(vm["id"], "ACTIVE")[HOST] == "fakehost"
    assert cinder_attachments(cinder, volume["id"]) == {old: ("fakehost", "file")}
    assert nova_attachment(nova, vm["id"])["attachment_id"] == old
    wait_exports(srv, set())

    # Deleted while a second one runs: both attachments go, the volume is free.
    assert live_migrate(nova, vm["id"]).status_code == 202
    running()
    assert len(cinder_attachments(cinder, volume["id"])) == 2
    assert nova.delete(f"/servers/{vm['id']}").status_code == 204
    nova.wait_gone(vm["id"])
    cinder.wait(volume["id"], "available")
    assert cinder_attachments(cinder, volume["id"]) == {}
    wait_exports(srv, set())


def test_a_sigkill_of_the_source_agent_mid_migration_leaves_one_attachment(
    two_hosts: tuple[Server, Agent],
) -> None:
    """fake2's agent is killed (SIGKILL) while a server of its own migrates
    live with a volume: restarted, it finds the migration interrupted; the
    server stays on fake2, the volume in-use with fake2's attachment only.
    A Cinder attachment of the server's that no row names (reserved by an
    agent killed before it recorded it) is deleted at the agent's start."""
    srv, agent = two_hosts
    nova = Nova(srv, srv.admin_token(), "2.96")
    cinder = Cinder(srv, srv.admin_token(), admin_project(srv))
    vm = nova.boot(unique("kill"), availability_zone="nova:fake2",
                   metadata={"fake_live_migration_seconds": "60"})  # fmt: skip
    volume = cinder.create(size=1)
    resp = nova.post(f"/servers/{vm['id']}/os-volume_attachments",
                     json={"volumeAttachment": {"volumeId": volume["id"]}})  # fmt: skip
    assert resp.status_code == 200, resp.text
    cinder.wait(volume["id"], "in-use")
    ((old, where),) = cinder_attachments(cinder, volume["id"]).items()
    assert where == ("fake2", "nbd")

    assert live_migrate(nova, vm["id"]).status_code == 202
    deadline = time.monotonic() + 20
    while migration_status(nova, vm["id"]) != "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert len(cinder_attachments(cinder, volume["id"])) == 2  # fakehost's too
    agent.process.kill()  # SIGKILL
    agent.process.wait()
    restarted = start_agent(srv, "fake2", **FAKE)
    agent.process, agent.log = restarted.process, restarted.log

    deadline = time.monotonic() + 30
    while migration_status(nova, vm["id"]) != "error" or nova.show(vm["id"])["OS-EXT-STS:task_state"]:
        assert time.monotonic() < deadline, nova.show(vm["id"])
        time.sleep(0.1)
    assert nova.show(vm["id"])[HOST] == "fake2"
    assert wait_attachments(cinder, volume["id"], 1) == {old: ("fake2", "nbd")}
    assert cinder.show(volume["id"])["status"] == "in-use"
    assert nova_attachment(nova, vm["id"])["attachment_id"] == old
    wait_exports(srv, {volume["id"]})

    # An attachment a destination reserved for the server just before its
    # agent died (never recorded in Nova's rows): the next start of an agent
    # of that migration deletes it.
    stray = cinder.post("/attachments", json={"attachment": {
        "volume_uuid": volume["id"], "instance_uuid": vm["id"]}})  # fmt: skip
    assert stray.status_code == 200, stray.text
    listed = cinder.get("/attachments", params={"volume_id": volume["id"]}).json()["attachments"]
    assert len(listed) == 2
    agent.process.kill()
    agent.process.wait()
    restarted = start_agent(srv, "fake2", **FAKE)
    agent.process, agent.log = restarted.process, restarted.log
    assert wait_attachments(cinder, volume["id"], 1) == {old: ("fake2", "nbd")}

    assert nova.delete(f"/servers/{vm['id']}").status_code == 204
    nova.wait_gone(vm["id"])
    cinder.wait(volume["id"], "available")
    assert cinder_attachments(cinder, volume["id"]) == {}
