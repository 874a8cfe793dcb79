"""`stratus database-agent` as a process of its own, beside an all-in-one
told not to run one (``[dbaas] run_agent = false``): until the agent runs,
no datastore is offered and nothing is built; with it, instances are built
by it, and it stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import BIN, Server, start_cloud, stop_cloud
from tests.functional.database.conftest import CLOUD_ENV, Trove, unique
from tests.functional.identity.helpers import user_with_role


@pytest.fixture(scope="module")
def cloud(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_cloud(tmp_path_factory.mktemp(f"dbagent-{database}"), database,
                      STRATUS_DBAAS__RUN_AGENT="false", **CLOUD_ENV)  # fmt: skip
    yield srv
    stop_cloud(srv)


def start_agent(cloud: Server, host: str) -> subprocess.Popen[bytes]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("STRATUS_")}
    environ.update(cloud.shared_env(), STRATUS_SERVER__PORT=cloud.url.rsplit(":", 1)[1],
                   **CLOUD_ENV)  # fmt: skip
    log = cloud.data_dir / f"database-agent-{host}.log"
    return subprocess.Popen(
        [str(BIN / "stratus"), "database-agent", "--data-dir", str(cloud.data_dir), "--host", host],
        stdout=log.open("ab"), stderr=subprocess.STDOUT, env=environ,
    )  # fmt: skip


def wait(what: str, check: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"{what}: not in {timeout} s"
        time.sleep(0.2)
    return found


def test_the_agent_as_a_process_of_its_own(cloud: Server) -> None:
    _user, project, token = user_with_role(cloud, "member")
    api = Trove(cloud, token, project["id"])
    # No agent in the all-in-one: no datastore, so no instance.
    assert api.request("GET", "/datastores").json()["datastores"] == []
    body = {"instance": {"name": unique("db"), "flavorRef": "1", "volume": {"size": 1},
                         "datastore": {"type": "postgresql"}, "databases": [{"name": "app"}]}}  # fmt: skip
    api.fault(api.request("POST", "/instances", json=body), 404, "itemNotFound")
    agent = start_agent(cloud, "dbfar")
    log = cloud.data_dir / "database-agent-dbfar.log"
    try:
        stores = wait("the agent's datastores",
                      lambda: agent.poll() is None and api.request("GET", "/datastores")
                      .json()["datastores"])  # fmt: skip
        assert {s["name"] for s in stores} == {"postgresql", "mariadb"}, log.read_text()
        created = api.request("POST", "/instances", json=body)
        assert created.status_code == 200, created.text
        iid = created.json()["instance"]["id"]
        shown = wait("ACTIVE", lambda: (i := api.request("GET", f"/instances/{iid}").json()
                                        ["instance"])["status"] in ("ACTIVE", "ERROR") and i)  # fmt: skip
        assert shown["status"] == "ACTIVE", shown
        names = [d["name"] for d in api.request("GET", f"/instances/{iid}/databases")
                 .json()["databases"]]  # fmt: skip
        assert names == ["app"]
        assert api.request("DELETE", f"/instances/{iid}").status_code == 202
        wait("the instance gone",
             lambda: api.request("GET", f"/instances/{iid}").status_code == 404)  # fmt: skip
    finally:
        agent.send_signal(signal.SIGTERM)
        code = agent.wait(30)
    assert code == 0, log.read_text()[-3000:]


def test_an_agent_killed_during_a_promotion_leaves_one_source(cloud: Server) -> None:
    """Two replicas made by one create; one promoted and the agent SIGKILLed
    right after the request (wherever it was in the work); restarted, every
    member of the set ends ACTIVE or ERROR, exactly one of them the source."""
    _user, project, token = user_with_role(cloud, "member")
    api = Trove(cloud, token, project["id"])
    net = httpx.post(f"{cloud.url}/network/v2.0/networks", json={"network": {"name": unique("n")}},
                     headers={"X-Auth-Token": token}, timeout=30).json()["network"]["id"]  # fmt: skip

    def settled(iid: str) -> dict[str, Any]:
        return dict(wait(f"{iid} settled", lambda: (i := api.request(
            "GET", f"/instances/{iid}").json()["instance"])["status"] in ("ACTIVE", "ERROR") and i))  # fmt: skip

    # The host of the test above: an agent of another name would share the
    # placement with that one's row until it counts as gone.
    agent = start_agent(cloud, "dbfar")
    try:
        wait("the agent's datastores", lambda: api.request("GET", "/datastores").json()["datastores"])
        made = api.request("POST", "/instances", json={"instance": {
            "name": unique("src"), "flavorRef": "1", "volume": {"size": 1},
            "datastore": {"type": "mariadb"}, "nics": [{"net-id": net}]}})  # fmt: skip
        sid = made.json()["instance"]["id"]
        assert settled(sid)["status"] == "ACTIVE"
        name = unique("rep")
        made = api.request("POST", "/instances", json={"instance": {
            "name": name, "replica_of": sid, "replica_count": 2}})  # fmt: skip
        assert made.status_code == 200, made.text
        rids = [i["id"] for i in api.request("GET", "/instances").json()["instances"]
                if i["name"].startswith(name)]  # fmt: skip
        assert len(rids) == 2 and all(settled(r)["status"] == "ACTIVE" for r in rids)
        done = api.request("POST", f"/instances/{rids[0]}/action",
                           json={"promote_to_replica_source": {}})  # fmt: skip
        assert done.status_code == 202, done.text
        agent.send_signal(signal.SIGKILL)
        agent.wait(30)
        agent = start_agent(cloud, "dbfar")
        members = [settled(i) for i in (sid, *rids)]
        sources = [m["id"] for m in members if "replica_of" not in m]
        assert len(sources) == 1, members
        assert all(m["replica_of"]["id"] == sources[0] for m in members if m["id"] != sources[0])
        assert [m["status"] for m in members] == ["ACTIVE"] * 3, members
        for iid in (*[m["id"] for m in members if m["id"] != sources[0]], sources[0]):
            assert api.request("DELETE", f"/instances/{iid}").status_code == 202
        for iid in (sid, *rids):
            wait("deleted", lambda iid=iid: api.request("GET", f"/instances/{iid}").status_code == 404)
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(30)
