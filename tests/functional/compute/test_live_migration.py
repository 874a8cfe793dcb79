"""Live migration on a two-host cloud with the fake driver: the all-in-one's
host ``fakehost`` plus a `stratus compute-agent --host fake2` process sharing
its data folder and database.  API shapes, errors, abort and force-complete
(a fake migration lasts as long as the server's ``fake_live_migration_seconds``
metadata says)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests import clirun
from tests.conftest import BIN, Server, sql
from tests.functional.compute.conftest import FAKE, Nova, fake_cloud, osc_json, stop_cloud, unique

HOSTS = {"fakehost", "fake2"}
SLOW = {"fake_live_migration_seconds": "60"}


@pytest.fixture(scope="module")
def two_hosts(tmp_path_factory: pytest.TempPathFactory, database: str) -> Iterator[Server]:
    srv = fake_cloud(tmp_path_factory, "live", database=database)
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRATUS_")}
    env.update(FAKE, STRATUS_SERVER__PUBLIC_URL=srv.url, **srv.shared_env())
    log = srv.data_dir / "agent-fake2.log"
    agent = subprocess.Popen(
        [str(BIN / "stratus"), "compute-agent", "--data-dir", str(srv.data_dir), "--host", "fake2"],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        token = srv.admin_token()
        deadline = time.monotonic() + 60
        while True:
            services = httpx.get(f"{srv.url}/compute/v2.1/os-services", headers={"X-Auth-Token": token}).json()
            if {s["host"] for s in services["services"] if s["state"] == "up"} >= HOSTS:
                break
            assert agent.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"fake2 never registered: {log.read_text()}"
            time.sleep(0.2)
        yield srv
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(timeout=15)
        stop_cloud(srv)


@pytest.fixture(scope="module")
def nova(two_hosts: Server) -> Nova:
    return Nova(two_hosts, two_hosts.admin_token(), "2.96")


def host_of(nova: Nova, server_id: str) -> str:
    return str(nova.show(server_id)["OS-EXT-SRV-ATTR:host"])


def other(host: str) -> str:
    (name,) = HOSTS - {host}
    return name


def live(nova: Nova, server_id: str, version: str, **body: Any) -> httpx.Response:
    return nova.action(server_id, {"os-migrateLive": body}, version=version)


def wait_migration(nova: Nova, server_id: str, status: str = "running", timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        rows = nova.get(f"/servers/{server_id}/migrations", version="2.80").json()["migrations"]
        if rows and rows[0]["status"] == status and rows[0]["memory_total_bytes"] is not None:
            return rows[0]  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, f"no {status} migration: {rows}"
        time.sleep(0.1)


def test_migrate_to_a_named_host(nova: Nova) -> None:
    server = nova.boot(unique("live"))
    source = host_of(nova, server["id"])
    resp = live(nova, server["id"], "2.30", host=other(source), block_migration="auto")
    assert resp.status_code == 202, resp.text
    assert resp.content == b""
    shown = nova.show(server["id"])
    assert shown["status"] in ("MIGRATING", "ACTIVE")  # a fake migration is quick
    done = nova.wait(server["id"], "ACTIVE")
    assert done["OS-EXT-SRV-ATTR:host"] == other(source)
    assert done["OS-EXT-STS:power_state"] == 1
    actions = nova.get(f"/servers/{server['id']}/os-instance-actions").json()["instanceActions"]
    live_action = next(a for a in actions if a["action"] == "live-migration")
    detail = nova.get(f"/servers/{server['id']}/os-instance-actions/{live_action['request_id']}", version="2.84")
    events = {e["event"]: e for e in detail.json()["instanceAction"]["events"]}
    assert events["compute_pre_live_migration"]["host"] == other(source)
    assert events["compute_live_migration"]["result"] == "Success"
    assert events["compute_live_migration"]["host"] == source
    # ... and back again, the scheduler choosing (the only other host)
    resp = live(nova, server["id"], "2.25", host=None, block_migration=True)
    assert resp.status_code == 202, resp.text
    assert nova.wait(server["id"], "ACTIVE")["OS-EXT-SRV-ATTR:host"] == source


def test_status_is_migrating_meanwhile_and_progress_is_listed(nova: Nova) -> None:
    server = nova.boot(unique("slow"), metadata=SLOW)
    source = host_of(nova, server["id"])
    assert live(nova, server["id"], "2.68", host=None, block_migration="auto").status_code == 202
    shown = nova.show(server["id"])
    assert shown["status"] == "MIGRATING"
    assert shown["OS-EXT-STS:task_state"] == "migrating"
    row = wait_migration(nova, server["id"])
    assert row["server_uuid"] == server["id"]
    assert (row["source_compute"], row["dest_compute"]) == (source, other(source))
    assert row["memory_total_bytes"] == 256 * 2**20  # fake: the flavor's RAM
    assert row["disk_total_bytes"] and "uuid" in row and "project_id" in row
    deadline = time.monotonic() + 10
    while not 0 < nova.show(server["id"])["progress"] < 100:  # the migration's progress
        assert time.monotonic() < deadline, "no migration progress shown"
        time.sleep(0.2)
    shown = nova.get(f"/servers/{server['id']}/migrations/{row['id']}", version="2.23")
    assert shown.status_code == 200, shown.text
    assert "uuid" not in shown.json()["migration"]  # 2.59
    # another action meanwhile is refused
    assert nova.action(server["id"], {"os-stop": None}).status_code == 409
    assert live(nova, server["id"], "2.68", host=None, block_migration="auto").status_code == 409
    # abort: the guest stays where it was
    resp = nova.delete(f"/servers/{server['id']}/migrations/{row['id']}", version="2.24")
    assert resp.status_code == 202, resp.text
    done = nova.wait(server["id"], "ACTIVE")
    assert done["OS-EXT-SRV-ATTR:host"] == source
    assert done["progress"] == 100
    assert nova.get(f"/servers/{server['id']}/migrations", version="2.23").json()["migrations"] == []
    gone = nova.get(f"/servers/{server['id']}/migrations/{row['id']}", version="2.23")
    assert gone.status_code == 404 and "not in progress" in gone.json()["itemNotFound"]["message"]
    actions = nova.get(f"/servers/{server['id']}/os-instance-actions").json()["instanceActions"]
    assert "live_migration_cancel" in {a["action"] for a in actions}


def test_force_complete(nova: Nova) -> None:
    server = nova.boot(unique("force"), metadata=SLOW)
    source = host_of(nova, server["id"])
    assert live(nova, server["id"], "2.30", host=other(source), block_migration="auto").status_code == 202
    row = wait_migration(nova, server["id"])
    too_old = nova.post(f"/servers/{server['id']}/migrations/{row['id']}/action", json={"force_complete": None}, version="2.21")
    assert too_old.status_code == 404
    resp = nova.post(f"/servers/{server['id']}/migrations/{row['id']}/action", json={"force_complete": None}, version="2.22")
    assert resp.status_code == 202, resp.text
    done = nova.wait(server["id"], "ACTIVE", timeout=20)
    assert done["OS-EXT-SRV-ATTR:host"] == other(source)
    # nothing in progress any more
    again = nova.post(f"/servers/{server['id']}/migrations/{row['id']}/action", json={"force_complete": None}, version="2.22")
    assert again.status_code == 409  # the server is not migrating
    assert nova.delete(f"/servers/{server['id']}/migrations/{row['id']}", version="2.24").status_code == 409


def test_bad_requests(nova: Nova) -> None:
    server = nova.boot(unique("bad"))
    sid, source = server["id"], host_of(nova, server["id"])

    def error(resp: httpx.Response, status: int, words: str) -> None:
        assert resp.status_code == status, resp.text
        kind = {400: "badRequest", 404: "itemNotFound", 409: "conflictingRequest"}[status]
        assert words in resp.json()[kind]["message"], resp.text

    error(live(nova, sid, "2.30", host=source, block_migration="auto"), 400, "current host")
    error(live(nova, sid, "2.30", host="nowhere", block_migration="auto"), 400, "nowhere could not be found")
    error(live(nova, sid, "2.30", block_migration="auto"), 400, "'host' is a required property")
    error(live(nova, sid, "2.30", host=None), 400, "'block_migration' is a required property")
    error(live(nova, sid, "2.25", host=None, block_migration="sometimes"), 400, "block_migration")
    error(live(nova, sid, "2.24", host=None, block_migration="auto", disk_over_commit=False), 400, "block_migration")
    error(live(nova, sid, "2.24", host=None, block_migration=False), 400, "disk_over_commit")
    error(live(nova, sid, "2.25", host=None, block_migration=True, disk_over_commit=False), 400, "disk_over_commit")
    error(live(nova, sid, "2.25", host=None, block_migration=False), 400, "shared storage")
    error(live(nova, sid, "2.30", host=None, block_migration=True, force=True), 400, "non-provided destination")
    error(live(nova, sid, "2.68", host=other(source), block_migration=True, force=False), 400, "force")
    resp = nova.action(sid, {"os-migrateLive": {"host": None, "block_migration": "auto", "bogus": 1}}, version="2.30")
    assert resp.status_code == 400
    # a member may not live-migrate (admin only, as Nova)
    from tests.functional.compute.conftest import project_user

    member, _ = project_user(nova.server)
    mine = member.boot(unique("mine"))
    assert live(member, mine["id"], "2.30", host=None, block_migration="auto").status_code == 403
    # not ACTIVE or PAUSED: 409
    assert nova.action(sid, {"os-stop": None}).status_code == 202
    nova.wait(sid, "SHUTOFF")
    error(live(nova, sid, "2.30", host=None, block_migration="auto"), 409, "vm_state stopped")
    assert nova.action(sid, {"os-start": None}).status_code == 202
    nova.wait(sid, "ACTIVE")
    # locked: 409
    assert nova.action(sid, {"lock": None}).status_code == 202
    error(live(nova, sid, "2.30", host=None, block_migration="auto"), 409, "locked")
    assert nova.action(sid, {"unlock": None}).status_code == 202
    # migrations sub-resource: versions and unknown ids
    assert nova.get(f"/servers/{sid}/migrations", version="2.22").status_code == 404
    error(nova.get(f"/servers/{sid}/migrations/12345", version="2.23"), 404, "12345")
    error(nova.delete(f"/servers/{sid}/migrations/12345", version="2.24"), 409, "task_state None")
    assert nova.get("/servers/00000000-0000-0000-0000-000000000000/migrations", version="2.23").status_code == 404


def test_paused_server_stays_paused(nova: Nova) -> None:
    server = nova.boot(unique("paused"))
    source = host_of(nova, server["id"])
    assert nova.action(server["id"], {"pause": None}).status_code == 202
    nova.wait(server["id"], "PAUSED")
    assert live(nova, server["id"], "2.30", host=other(source), block_migration="auto").status_code == 202
    done = nova.wait(server["id"], "PAUSED")
    assert done["OS-EXT-SRV-ATTR:host"] == other(source)
    assert done["OS-EXT-STS:power_state"] == 3


def test_host_without_live_migration_is_refused(nova: Nova) -> None:
    """A host whose driver lacks the capability (its row says so) is refused
    as a named destination (409), never picked by the scheduler (400: no valid
    host), and a server on it cannot be live-migrated (409)."""
    server = nova.boot(unique("nocap"))
    source = host_of(nova, server["id"])
    srv = nova.server
    try:
        ((caps,),) = sql(srv, "SELECT capabilities FROM compute_host WHERE host = ?", other(source))
        without = caps.replace('"live_migration",', "").replace(', "live_migration"', "")
        sql(srv, "UPDATE compute_host SET capabilities = ? WHERE host = ?", without, other(source))
        resp = live(nova, server["id"], "2.30", host=other(source), block_migration="auto")
        assert resp.status_code == 409 and "does not support live migration" in resp.text, resp.text
        resp = live(nova, server["id"], "2.30", host=None, block_migration="auto")  # the scheduler's pick
        assert resp.status_code == 400 and "does not support live migration" in resp.text, resp.text
        sql(srv, "UPDATE compute_host SET capabilities = ? WHERE host = ?", without, source)
        resp = live(nova, server["id"], "2.30", host=other(source), block_migration="auto")
        assert resp.status_code == 409 and "does not support live migration" in resp.text, resp.text
    finally:
        sql(srv, "UPDATE compute_host SET capabilities = ? WHERE host IN (?, ?)", caps, source, other(source))


def test_cli_live_migration(nova: Nova) -> None:
    server = nova.boot(unique("cli"))
    source = host_of(nova, server["id"])
    srv = nova.server
    proc = clirun.run(
        [str(BIN / "openstack"), "server", "migrate", "--live-migration", "--wait", server["id"]],
        env=srv.env(), capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    shown = osc_json(srv, "server", "show", server["id"])
    assert shown["OS-EXT-SRV-ATTR:host"] == other(source)
    assert shown["status"] == "ACTIVE"
    proc = clirun.run(
        [str(BIN / "openstack"), "--os-compute-api-version", "2.30", "server", "migrate", "--live-migration",
         "--host", source, "--wait", server["id"]],
        env=srv.env(), capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert osc_json(srv, "server", "show", server["id"])["OS-EXT-SRV-ATTR:host"] == source


@pytest.mark.parametrize(
    "key, side, event",
    [
        ("fake_live_migration_failure", "source", "compute_live_migration"),
        ("fake_incoming_failure", "dest", "compute_pre_live_migration"),
    ],
)
def test_failure_leaves_the_server_where_it_was(nova: Nova, key: str, side: str, event: str) -> None:
    message = f"injected {side} failure {unique('x')}"
    server = nova.boot(unique("fails"), metadata={key: message})
    source = host_of(nova, server["id"])
    assert live(nova, server["id"], "2.30", host=other(source), block_migration="auto").status_code == 202
    done = nova.wait(server["id"], "ACTIVE")
    assert done["OS-EXT-SRV-ATTR:host"] == source
    assert done["OS-EXT-STS:power_state"] == 1
    actions = nova.get(f"/servers/{server['id']}/os-instance-actions", version="2.84").json()["instanceActions"]
    act = next(a for a in actions if a["action"] == "live-migration")
    assert act["message"] == "Error"
    detail = nova.get(f"/servers/{server['id']}/os-instance-actions/{act['request_id']}", version="2.84")
    (failed,) = [e for e in detail.json()["instanceAction"]["events"] if e["event"] == event]
    assert failed["result"] == "Error" and message in failed["details"]
    assert failed["host"] == (source if side == "source" else other(source))
    ((status,), *_) = sql(
        nova.server, "SELECT status FROM compute_migration WHERE server_id = ? ORDER BY id DESC", server["id"]
    )
    assert status == "error"
    # and it can still move once the trouble is gone
    assert nova.delete(f"/servers/{server['id']}/metadata/{key}").status_code == 204
    assert live(nova, server["id"], "2.30", host=other(source), block_migration="auto").status_code == 202
    assert nova.wait(server["id"], "ACTIVE")["OS-EXT-SRV-ATTR:host"] == other(source)
