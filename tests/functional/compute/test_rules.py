"""Quotas, server groups and who may see or touch a server (fake driver)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Server
from tests.functional.compute.conftest import (
    Nova,
    fake_cloud,
    project_user,
    stop_cloud,
    unique,
    user_in_project,
)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory, database: str) -> Iterator[Server]:
    srv = fake_cloud(tmp_path_factory, database=database, STRATUS_COMPUTE__QUOTA_INSTANCES="1")
    yield srv
    stop_cloud(srv)


def test_instances_quota(cloud: Server) -> None:
    member, _ = project_user(cloud)
    member.boot(unique("first"))
    resp = member.create_server(unique("second"))
    assert resp.status_code == 403, resp.text
    assert "instances" in resp.json()["forbidden"]["message"]
    assert resp.json()["forbidden"]["code"] == 403
    resp = member.create_server(unique("many"), min_count=2, max_count=2)
    assert resp.status_code == 403, resp.text


def test_quota_update_then_enforced(cloud: Server, nova96: Nova) -> None:
    member, project = project_user(cloud)
    pid = project["id"]
    resp = nova96.get(f"/os-quota-sets/{pid}")
    assert resp.status_code == 200, resp.text
    assert resp.json()["quota_set"]["instances"] == 1
    assert resp.json()["quota_set"]["id"] == pid
    resp = nova96.put(f"/os-quota-sets/{pid}", json={"quota_set": {"instances": 3, "cores": 2, "ram": 10000}})
    assert resp.status_code == 200, resp.text
    assert resp.json()["quota_set"]["instances"] == 3 and resp.json()["quota_set"]["cores"] == 2
    assert nova96.get(f"/os-quota-sets/{pid}").json()["quota_set"]["cores"] == 2
    assert member.get(f"/os-quota-sets/{pid}").status_code == 200
    assert member.put(f"/os-quota-sets/{pid}", json={"quota_set": {"instances": 50}}).status_code == 403
    # cores: two m1.tiny (1 vCPU) fit, the third does not
    member.boot(unique("c1"))
    member.boot(unique("c2"))
    resp = member.create_server(unique("c3"))
    assert resp.status_code == 403, resp.text
    assert "cores" in resp.json()["forbidden"]["message"]
    detail = nova96.get(f"/os-quota-sets/{pid}/detail")
    if detail.status_code == 200:
        assert detail.json()["quota_set"]["cores"]["in_use"] == 2
    limits = member.get("/limits").json()["limits"]["absolute"]
    assert limits["maxTotalCores"] == 2 and limits["totalCoresUsed"] == 2
    assert limits["maxTotalInstances"] == 3 and limits["totalInstancesUsed"] == 2
    assert limits["totalRAMUsed"] == 512
    # bad updates
    for bad in [{"instances": "x"}, {"instances": -2}, {"no_such_quota": 1}]:
        resp = nova96.put(f"/os-quota-sets/{pid}", json={"quota_set": bad})
        assert resp.status_code == 400, (bad, resp.text)
    # back to the defaults
    assert nova96.delete(f"/os-quota-sets/{pid}").status_code == 202
    assert nova96.get(f"/os-quota-sets/{pid}").json()["quota_set"]["instances"] == 1


def test_ram_quota(cloud: Server, nova96: Nova) -> None:
    member, project = project_user(cloud)
    resp = nova96.put(f"/os-quota-sets/{project['id']}", json={"quota_set": {"instances": 5, "ram": 2000}})
    assert resp.status_code == 200, resp.text
    resp = member.create_server(unique("big"), flavor="2")  # 2048 MiB
    assert resp.status_code == 403, resp.text
    assert "ram" in resp.json()["forbidden"]["message"]
    member.boot(unique("fits"))  # 256 MiB


def test_deleting_frees_quota(cloud: Server) -> None:
    member, _ = project_user(cloud)
    first = member.boot(unique("a"))
    assert member.create_server(unique("b")).status_code == 403
    assert member.delete(f"/servers/{first['id']}").status_code == 204
    member.wait_gone(first["id"])
    member.boot(unique("b"))


def test_unlimited_quota(cloud: Server, nova96: Nova) -> None:
    member, project = project_user(cloud)
    assert nova96.put(f"/os-quota-sets/{project['id']}", json={"quota_set": {"instances": -1}}).status_code == 200
    for _ in range(3):
        member.boot(unique("u"))


def group(nova: Nova, policy: str) -> dict[str, Any]:
    resp = nova.post("/os-server-groups", json={"server_group": {"name": unique("g"), "policy": policy}}, version="2.64")
    assert resp.status_code == 200, resp.text
    return resp.json()["server_group"]  # type: ignore[no-any-return]


@pytest.fixture()
def roomy(cloud: Server, nova96: Nova) -> Nova:
    member, project = project_user(cloud)
    nova96.put(f"/os-quota-sets/{project['id']}", json={"quota_set": {"instances": 10}})
    return member


def test_anti_affinity_on_one_host(roomy: Nova) -> None:
    g = group(roomy, "anti-affinity")
    first = roomy.boot(unique("aa"), scheduler_hints={"group": g["id"]})
    assert first["status"] == "ACTIVE"
    second = roomy.boot(unique("aa"), status="ERROR", scheduler_hints={"group": g["id"]})
    fault = second.get("fault", {})
    assert "no valid host" in fault.get("message", "").lower(), second
    members = roomy.get(f"/os-server-groups/{g['id']}", version="2.64").json()["server_group"]["members"]
    assert first["id"] in members


def test_affinity_same_host(roomy: Nova, nova96: Nova) -> None:
    g = group(roomy, "affinity")
    a = roomy.boot(unique("af"), scheduler_hints={"group": g["id"]})
    b = roomy.boot(unique("af"), scheduler_hints={"group": g["id"]})
    assert a["hostId"] == b["hostId"]
    assert nova96.show(a["id"])["OS-EXT-SRV-ATTR:host"] == nova96.show(b["id"])["OS-EXT-SRV-ATTR:host"]
    assert roomy.show(a["id"])["server_groups"] == [g["id"]]


def test_soft_anti_affinity_both_active(roomy: Nova) -> None:
    g = group(roomy, "soft-anti-affinity")
    roomy.boot(unique("saa"), scheduler_hints={"group": g["id"]})
    roomy.boot(unique("saa"), scheduler_hints={"group": g["id"]})
    members = roomy.get(f"/os-server-groups/{g['id']}", version="2.64").json()["server_group"]["members"]
    assert len(members) == 2


def test_server_group_api(roomy: Nova) -> None:
    resp = roomy.post("/os-server-groups", json={"server_group": {"name": "g", "policies": ["anti-affinity"]}}, version="2.1")
    assert resp.status_code == 200, resp.text
    g21 = resp.json()["server_group"]
    assert g21["policies"] == ["anti-affinity"] and "policy" not in g21
    resp = roomy.post("/os-server-groups", json={"server_group": {"name": "g", "policy": "nonsense"}}, version="2.64")
    assert resp.status_code == 400, resp.text
    resp = roomy.post("/os-server-groups", json={"server_group": {"name": "g", "policy": "affinity", "rules": {"max_server_per_host": 2}}}, version="2.64")
    assert resp.status_code == 400, resp.text
    listed = roomy.get("/os-server-groups").json()["server_groups"]
    assert g21["id"] in {g["id"] for g in listed}
    assert roomy.delete(f"/os-server-groups/{g21['id']}").status_code == 204
    assert roomy.get(f"/os-server-groups/{g21['id']}").status_code == 404
    resp = roomy.create_server(unique("nog"), scheduler_hints={"group": "00000000-0000-0000-0000-000000000000"})
    assert resp.status_code in (400, 404), resp.text


def test_other_project_cannot_see_or_act(cloud: Server, roomy: Nova) -> None:
    server = roomy.boot(unique("mine"))
    other, _ = project_user(cloud)
    sid = server["id"]
    assert other.get(f"/servers/{sid}").status_code == 404
    assert sid not in {s["id"] for s in other.get("/servers/detail").json()["servers"]}
    for method, path, kw in [
        ("POST", f"/servers/{sid}/action", {"json": {"os-stop": None}}),
        ("POST", f"/servers/{sid}/action", {"json": {"os-getConsoleOutput": {}}}),
        ("DELETE", f"/servers/{sid}", {}),
        ("PUT", f"/servers/{sid}", {"json": {"server": {"name": "stolen"}}}),
        ("GET", f"/servers/{sid}/metadata", {}),
        ("PUT", f"/servers/{sid}/metadata", {"json": {"metadata": {"a": "b"}}}),
        ("GET", f"/servers/{sid}/os-instance-actions", {}),
    ]:
        resp = other.request(method, path, **kw)
        assert resp.status_code == 404, (method, path, resp.text)
    # a non-admin asking for all tenants is refused or gets only their own
    resp = other.get("/servers/detail", params={"all_tenants": "1"})
    assert resp.status_code == 403 or sid not in {s["id"] for s in resp.json()["servers"]}
    assert roomy.show(sid)["name"] == server["name"]


def test_admin_sees_all_tenants(roomy: Nova, nova96: Nova) -> None:
    server = roomy.boot(unique("seen"))
    listed = nova96.get("/servers/detail", params={"all_tenants": "True"}).json()["servers"]
    assert server["id"] in {s["id"] for s in listed}
    assert server["id"] not in {s["id"] for s in nova96.get("/servers/detail").json()["servers"]}
    assert nova96.show(server["id"])["OS-EXT-SRV-ATTR:host"] == "fakehost"
    member_view = roomy.show(server["id"])
    assert "OS-EXT-SRV-ATTR:host" not in member_view
    assert "host_status" not in member_view or member_view["host_status"] in ("", None)


def test_reader_can_look_not_touch(cloud: Server, roomy: Nova, nova96: Nova) -> None:
    server = roomy.boot(unique("ro"))
    project_id = server["tenant_id"]
    reader = user_in_project(cloud, project_id, "reader")
    resp = reader.create_server(unique("nope"))
    assert resp.status_code == 403, resp.text
    assert resp.json()["forbidden"]["code"] == 403
    assert reader.show(server["id"])["id"] == server["id"]
    assert server["id"] in {s["id"] for s in reader.get("/servers/detail").json()["servers"]}
    assert server["id"] in {s["id"] for s in reader.get("/servers").json()["servers"]}
    assert reader.action(server["id"], {"os-stop": None}).status_code == 403
    assert reader.delete(f"/servers/{server['id']}").status_code == 403
    assert reader.put(f"/servers/{server['id']}/metadata", json={"metadata": {"a": "b"}}).status_code == 403
    assert roomy.show(server["id"])["status"] == "ACTIVE"
