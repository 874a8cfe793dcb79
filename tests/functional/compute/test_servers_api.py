"""Servers over raw HTTP: the create body quirks of the real clients, list filters
and pagination, metadata, rebuild, and the error contract (fake driver)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import Server
from tests.functional.compute.conftest import (
    Nova,
    fake_cloud,
    osc_json,
    project_user,
    stop_cloud,
    tiny_image,
    unique,
)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory, database: str) -> Any:
    srv = fake_cloud(
        tmp_path_factory,
        database=database,
        STRATUS_COMPUTE__QUOTA_INSTANCES="200",
        STRATUS_COMPUTE__QUOTA_CORES="400",
        STRATUS_COMPUTE__QUOTA_RAM="1000000",
    )
    yield srv
    stop_cloud(srv)


def osc_body(image: str, name: str, networks: Any = "none") -> dict[str, Any]:
    """The body `openstack server create` sends."""
    return {
        "server": {
            "name": name, "imageRef": image, "flavorRef": "1", "min_count": 1, "max_count": 1,
            "networks": networks,
            "block_device_mapping_v2": [
                {"uuid": image, "boot_index": 0, "source_type": "image",
                 "destination_type": "local", "delete_on_termination": True}
            ],
        }
    }


@pytest.mark.parametrize("networks", ["none", "auto"])
def test_create_like_osc(cloud: Server, nova96: Nova, networks: str) -> None:
    image = tiny_image(cloud)
    resp = nova96.post("/servers", json=osc_body(image, unique("osc"), networks))
    assert resp.status_code == 202, resp.text
    server = resp.json()["server"]
    assert {"id", "links", "adminPass", "OS-DCF:diskConfig"} <= set(server)
    assert resp.headers["location"].endswith(f"/servers/{server['id']}")
    shown = nova96.wait(server["id"])
    assert shown["image"]["id"] == image


def test_create_response_at_21(nova: Nova) -> None:
    resp = nova.create_server(unique("c21"))
    assert resp.status_code == 202, resp.text
    assert set(resp.json()["server"]) == {"id", "links", "adminPass", "OS-DCF:diskConfig", "security_groups"}
    nova.wait(resp.json()["server"]["id"])


def test_networks_at_21_optional_at_237_required(nova: Nova, nova96: Nova) -> None:
    resp = nova.create_server(unique("nonet"))  # 2.1, no networks
    assert resp.status_code == 202, resp.text
    nova.wait(resp.json()["server"]["id"])
    resp = nova.at("2.1").create_server(unique("emptynet"), networks=[])
    assert resp.status_code == 202, resp.text
    body = {"server": {"name": unique("x"), "imageRef": nova.server_image(), "flavorRef": "1"}}
    for version in ("2.37", "2.96"):
        resp = nova.post("/servers", json=body, version=version)
        assert resp.status_code == 400, resp.text
        assert resp.json()["badRequest"]["code"] == 400
    resp = nova96.create_server(unique("badnet"), networks="everything")
    assert resp.status_code == 400, resp.text
    # "auto"/"none" are 2.37 strings
    resp = nova.at("2.36").create_server(unique("old"), networks="none")
    assert resp.status_code == 400, resp.text


def test_flavor_ref_forms(cloud: Server, nova96: Nova) -> None:
    for ref in ("1", f"{cloud.url}/compute/v2.1/flavors/1"):
        resp = nova96.create_server(unique("fref"), flavor=ref)
        assert resp.status_code == 202, (ref, resp.text)
        assert nova96.wait(resp.json()["server"]["id"])["flavor"]["original_name"] == "m1.tiny"
    resp = nova96.create_server(unique("fref"), flavor="m1.tiny")
    assert resp.status_code == 400, resp.text
    resp = nova96.create_server(unique("fref"), flavor="999")
    assert resp.status_code == 400, resp.text


def test_min_max_count(nova96: Nova) -> None:
    name = unique("multi")
    resp = nova96.create_server(name, min_count=3, max_count=3)
    assert resp.status_code == 202, resp.text
    assert "reservation_id" not in resp.json() or resp.json()["reservation_id"]
    listed = nova96.get("/servers/detail", params={"name": f"^{name}"}).json()["servers"]
    names = sorted(s["name"] for s in listed)
    assert names == [f"{name}-1", f"{name}-2", f"{name}-3"], names
    for s in listed:
        nova96.wait(s["id"])


def test_return_reservation_id(nova96: Nova) -> None:
    name = unique("resv")
    resp = nova96.create_server(name, min_count=2, max_count=2, return_reservation_id=True)
    assert resp.status_code == 202, resp.text
    assert resp.json()["reservation_id"].startswith("r-")
    listed = nova96.get("/servers/detail", params={"reservation_id": resp.json()["reservation_id"]})
    assert listed.status_code == 200


@pytest.mark.parametrize(
    "change",
    [
        {"min_count": 0},
        {"min_count": 3, "max_count": 2},
        {"max_count": "x"},
        {"name": ""},
        {"name": "a" * 256},
        {"imageRef": "not-an-image"},
        {"imageRef": "00000000-0000-0000-0000-000000000000"},
        {"key_name": "no-such-key"},
        {"user_data": "not base64 !!!"},
        {"metadata": {"k": 1}},
        {"metadata": "x"},
        {"availability_zone": "nowhere"},
        {"unknown_field": 1},
    ],
)
def test_bad_create_is_400(nova96: Nova, change: dict[str, Any]) -> None:
    resp = nova96.create_server(**{"name": unique("bad"), **change})
    assert resp.status_code == 400, (change, resp.text)
    body = resp.json()
    assert set(body) == {"badRequest"}
    assert body["badRequest"]["code"] == 400 and body["badRequest"]["message"]


def test_malformed_bodies_are_400(nova96: Nova) -> None:
    for content in [b"{", b"[]", b'{"server": 1}', b'{"nope": {}}']:
        resp = nova96.post("/servers", content=content, headers={"Content-Type": "application/json"})
        assert resp.status_code == 400, (content, resp.text)
        assert resp.json()["badRequest"]["code"] == 400


def test_unknown_server_is_404(nova: Nova) -> None:
    for method, path, kw in [
        ("GET", "/servers/00000000-0000-0000-0000-000000000000", {}),
        ("GET", "/servers/not-a-uuid", {}),
        ("DELETE", "/servers/00000000-0000-0000-0000-000000000000", {}),
        ("PUT", "/servers/00000000-0000-0000-0000-000000000000", {"json": {"server": {"name": "x"}}}),
        ("POST", "/servers/00000000-0000-0000-0000-000000000000/action", {"json": {"os-start": None}}),
        ("GET", "/servers/00000000-0000-0000-0000-000000000000/metadata", {}),
        ("GET", "/servers/00000000-0000-0000-0000-000000000000/os-instance-actions", {}),
    ]:
        resp = nova.request(method, path, **kw)
        assert resp.status_code == 404, (method, path, resp.text)
        assert resp.json()["itemNotFound"]["code"] == 404


@pytest.fixture(scope="module")
def active(nova96: Nova) -> dict[str, Any]:
    return nova96.boot(unique("active"))


def test_invalid_state_transitions_are_409(nova96: Nova, active: dict[str, Any]) -> None:
    for body in [{"os-start": None}, {"unpause": None}, {"resume": None}]:
        resp = nova96.action(active["id"], body)
        assert resp.status_code == 409, (body, resp.text)
        assert resp.json()["conflictingRequest"]["code"] == 409
    assert nova96.action(active["id"], {"os-stop": None}).status_code == 202
    nova96.wait(active["id"], "SHUTOFF")
    for body in [{"os-stop": None}, {"pause": None}, {"suspend": None}]:
        resp = nova96.action(active["id"], body)
        assert resp.status_code == 409, (body, resp.text)
    assert nova96.action(active["id"], {"os-start": None}).status_code == 202
    nova96.wait(active["id"], "ACTIVE")


def test_bad_actions_are_400(nova96: Nova, active: dict[str, Any]) -> None:
    for body in [
        {"reboot": {"type": "GENTLE"}},
        {"reboot": {}},
        {"no-such-action": None},
        {},
        {"os-stop": None, "os-start": None},
        {"os-getConsoleOutput": {"length": "x"}},
    ]:
        resp = nova96.action(active["id"], body)
        assert resp.status_code == 400, (body, resp.text)
        assert resp.json()["badRequest"]["code"] == 400


def test_rename_and_description(nova96: Nova, nova: Nova, active: dict[str, Any]) -> None:
    resp = nova96.put(f"/servers/{active['id']}", json={"server": {"name": "renamed", "description": "d"}})
    assert resp.status_code == 200, resp.text
    assert resp.json()["server"]["name"] == "renamed"
    assert resp.json()["server"]["description"] == "d"
    # description needs 2.19
    resp = nova.put(f"/servers/{active['id']}", json={"server": {"description": "x"}})
    assert resp.status_code == 400, resp.text
    resp = nova.put(f"/servers/{active['id']}", json={"server": {"name": active["name"]}})
    assert resp.status_code == 200, resp.text
    assert "description" not in resp.json()["server"]


def test_list_filters(nova96: Nova) -> None:
    stamp = datetime.now(UTC) - timedelta(seconds=1)
    prefix = unique("flt")
    a = nova96.boot(f"{prefix}-alpha")
    b = nova96.boot(f"{prefix}-beta")
    nova96.action(b["id"], {"os-stop": None})
    nova96.wait(b["id"], "SHUTOFF")

    def names(path: str = "/servers/detail", **params: str) -> set[str]:
        resp = nova96.get(path, params=params)
        assert resp.status_code == 200, resp.text
        return {s["name"] for s in resp.json()["servers"]}

    assert names(name=prefix) == {a["name"], b["name"]}
    assert names(name=f"{prefix}-al.*") == {a["name"]}  # regex
    assert names(name=f"^{prefix}-beta$") == {b["name"]}
    assert names("/servers", name=f"{prefix}-alpha") == {a["name"]}  # what `server stop NAME` does
    assert names(name=prefix, status="SHUTOFF") == {b["name"]}
    assert names(name=prefix, status="ACTIVE") == {a["name"]}
    assert names(name=prefix, **{"changes-since": stamp.isoformat()}) == {a["name"], b["name"]}
    future = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert names(name=prefix, **{"changes-since": future}) == set()
    assert names(name=prefix, deleted="False") == {a["name"], b["name"]}  # literal the CLI sends
    resp = nova96.get("/servers/detail", params={"changes-since": "yesterday"})
    assert resp.status_code == 400, resp.text
    resp = nova96.get("/servers/detail", params={"status": "NOT-A-STATUS"})
    assert resp.status_code in (200, 400), resp.text
    if resp.status_code == 200:
        assert resp.json()["servers"] == []


def test_pagination(nova96: Nova) -> None:
    prefix = unique("page")
    resp = nova96.create_server(prefix, min_count=5, max_count=5)
    assert resp.status_code == 202, resp.text
    expected = {f"{prefix}-{i}" for i in range(1, 6)}
    for path in ("/servers", "/servers/detail"):
        seen: list[str] = []
        params: dict[str, str] | None = {"name": prefix, "limit": "2"}
        url: str | None = path
        pages = 0
        while url:
            resp = nova96.get(url, params=params) if params else nova96.get(url)
            assert resp.status_code == 200, resp.text
            body = resp.json()
            assert len(body["servers"]) <= 2
            seen += [s["name"] for s in body["servers"]]
            links = body.get("servers_links", [])
            nxt = [link["href"] for link in links if link["rel"] == "next"]
            url = nxt[0].split("/compute/v2.1", 1)[1] if nxt else None
            params = None
            pages += 1
            assert pages < 10, "pagination does not end"
        assert sorted(seen) == sorted(expected), seen
        assert len(seen) == len(set(seen))
    resp = nova96.get("/servers", params={"marker": "00000000-0000-0000-0000-000000000000"})
    assert resp.status_code == 400, resp.text
    resp = nova96.get("/servers", params={"limit": "-1"})
    assert resp.status_code == 400, resp.text


def test_metadata_crud(nova96: Nova, active: dict[str, Any]) -> None:
    base = f"/servers/{active['id']}/metadata"
    resp = nova96.put(base, json={"metadata": {"a": "1", "b": "2"}})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"metadata": {"a": "1", "b": "2"}}
    resp = nova96.post(base, json={"metadata": {"b": "3", "c": "4"}})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"metadata": {"a": "1", "b": "3", "c": "4"}}
    assert nova96.get(base).json() == {"metadata": {"a": "1", "b": "3", "c": "4"}}
    assert nova96.get(f"{base}/a").json() == {"meta": {"a": "1"}}
    resp = nova96.put(f"{base}/d", json={"meta": {"d": "5"}})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"meta": {"d": "5"}}
    assert nova96.put(f"{base}/d", json={"meta": {"e": "5"}}).status_code == 400
    assert nova96.put(f"{base}/d", json={"meta": {"d": "5", "e": "6"}}).status_code == 400
    assert nova96.delete(f"{base}/d").status_code == 204
    assert nova96.get(f"{base}/d").status_code == 404
    assert nova96.delete(f"{base}/d").status_code == 404
    assert nova96.show(active["id"])["metadata"] == {"a": "1", "b": "3", "c": "4"}
    assert nova96.put(base, json={"metadata": {"k" * 256: "v"}}).status_code == 400
    assert nova96.put(base, json={"metadata": {}}).json() == {"metadata": {}}


def test_rebuild(nova96: Nova, nova: Nova, active: dict[str, Any]) -> None:
    image = nova96.server_image()
    resp = nova96.action(active["id"], {"rebuild": {"imageRef": image, "name": "rebuilt", "metadata": {"r": "1"}}})
    assert resp.status_code == 202, resp.text
    body = resp.json()["server"]
    assert body["id"] == active["id"] and body["name"] == "rebuilt"
    shown = nova96.wait(active["id"])
    assert shown["name"] == "rebuilt" and shown["metadata"] == {"r": "1"}
    actions = {a["action"] for a in nova96.get(f"/servers/{active['id']}/os-instance-actions").json()["instanceActions"]}
    assert "rebuild" in actions
    resp = nova96.action(active["id"], {"rebuild": {"imageRef": "00000000-0000-0000-0000-000000000000"}})
    assert resp.status_code == 400, resp.text
    resp = nova96.action(active["id"], {"rebuild": {}})
    assert resp.status_code == 400, resp.text
    # the 2.1 rebuild response has no 2.x fields
    resp = nova.action(active["id"], {"rebuild": {"imageRef": image}})
    assert resp.status_code == 202, resp.text
    assert "description" not in resp.json()["server"] and "locked" not in resp.json()["server"]
    nova96.wait(active["id"])


def test_instance_actions(nova96: Nova, active: dict[str, Any]) -> None:
    resp = nova96.get(f"/servers/{active['id']}/os-instance-actions")
    assert resp.status_code == 200, resp.text
    actions = resp.json()["instanceActions"]
    assert actions and actions[-1]["action"] == "create"
    one = actions[0]
    assert {"action", "request_id", "user_id", "project_id", "start_time", "message"} <= set(one)
    resp = nova96.get(f"/servers/{active['id']}/os-instance-actions/{one['request_id']}")
    assert resp.status_code == 200, resp.text
    assert resp.json()["instanceAction"]["events"] is not None
    assert nova96.get(f"/servers/{active['id']}/os-instance-actions/req-nope").status_code == 404


def test_delete_is_204_then_404(nova96: Nova) -> None:
    server = nova96.boot(unique("del"))
    resp = nova96.delete(f"/servers/{server['id']}")
    assert resp.status_code == 204, resp.text
    nova96.wait_gone(server["id"])
    assert nova96.delete(f"/servers/{server['id']}").status_code == 404


def test_delete_while_building(nova96: Nova) -> None:
    resp = nova96.create_server(unique("early"))
    sid = resp.json()["server"]["id"]
    assert nova96.delete(f"/servers/{sid}").status_code == 204
    nova96.wait_gone(sid)


def test_force_delete_and_restore_not_supported_cleanly(nova96: Nova, active: dict[str, Any]) -> None:
    resp = nova96.action(active["id"], {"restore": None})
    assert resp.status_code in (400, 409), resp.text


def test_unauthenticated_is_401(cloud: Server) -> None:
    import httpx

    resp = httpx.get(f"{cloud.url}/compute/v2.1/servers")
    assert resp.status_code == 401
    resp = httpx.get(f"{cloud.url}/compute/v2.1/servers", headers={"X-Auth-Token": "bogus"})
    assert resp.status_code == 401


def test_odd_accept_headers(nova96: Nova, active: dict[str, Any]) -> None:
    for accept in ("*/*", "", "application/json"):
        resp = nova96.get(f"/servers/{active['id']}", headers={"Accept": accept})
        assert resp.status_code == 200, (accept, resp.text)
    resp = nova96.action(active["id"], {"os-getConsoleOutput": {}}, headers={"Accept": ""})
    assert resp.status_code == 200, resp.text
    time.sleep(0)


# -- diagnostics, crash dump, reset state, restore, force delete ------------------------------


def test_diagnostics_crash_dump_reset_state_restore_force_delete(nova: Nova) -> None:
    n2 = nova.at("2.96")
    server = n2.boot(unique("diag"))
    sid = server["id"]
    # 2.48: Nova's standard shape, from the fake driver's guest (m1.tiny: 1 vCPU, 256 MiB)
    resp = nova.get(f"/servers/{sid}/diagnostics", version="2.48")
    assert resp.status_code == 200, resp.text
    d = resp.json()
    assert (d["state"], d["driver"], d["hypervisor"], d["hypervisor_os"]) == (
        "running", "fake", "qemu", "linux"
    )
    assert d["num_cpus"] == 1 and d["memory_details"]["maximum"] == 256
    assert d["num_disks"] == len(d["disk_details"]) == 1 and d["disk_details"][0]["read_bytes"] == 4096
    assert d["num_nics"] == len(d["nic_details"]) and len(d["cpu_details"]) == 1
    assert isinstance(d["config_drive"], bool) and isinstance(d["uptime"], int)
    # before 2.48: the flat dictionary
    legacy = nova.get(f"/servers/{sid}/diagnostics", version="2.47").json()
    assert legacy["memory"] == 256 * 1024 and legacy["vda_read"] == 4096 and "state" not in legacy
    # the CLI shows it too
    shown = osc_json(nova.server, "server", "show", "--diagnostics", sid)
    assert shown["driver"] == "fake" and shown["memory_details"]["maximum"] == 256, shown
    # admin only
    member, _ = project_user(nova.server, "member")
    own = member.boot(unique("diag-own"))
    resp = member.get(f"/servers/{own['id']}/diagnostics")
    assert resp.status_code == 403 and "forbidden" in resp.json()
    resp = member.action(own["id"], {"os-resetState": {"state": "error"}})
    assert resp.status_code == 403
    # forceDelete (soft delete is off: it deletes), by the owner
    assert member.action(own["id"], {"forceDelete": None}).status_code == 202
    member.wait_gone(own["id"])

    # trigger_crash_dump: 2.17+, an NMI the guest's console shows
    resp = nova.action(sid, {"trigger_crash_dump": None}, version="2.16")
    assert resp.status_code == 400 and "2.17" in resp.json()["badRequest"]["message"]
    assert nova.action(sid, {"trigger_crash_dump": None}, version="2.17").status_code == 202
    out = nova.action(sid, {"os-getConsoleOutput": {}}).json()["output"]
    assert "NMI received" in out
    resp = nova.action(sid, {"trigger_crash_dump": {"x": 1}}, version="2.17")
    assert resp.status_code == 400

    # restore: only a soft-deleted server
    resp = nova.action(sid, {"restore": None})
    assert resp.status_code == 409
    assert "vm_state active" in resp.json()["conflictingRequest"]["message"]

    # os-resetState: Nova's body, state active or error
    for bad in ({"state": "stopped"}, {}, {"state": "error", "extra": 1}, None):
        resp = nova.action(sid, {"os-resetState": bad})
        assert resp.status_code == 400 and "badRequest" in resp.json(), (bad, resp.text)
    assert nova.action(sid, {"os-resetState": {"state": "error"}}).status_code == 202
    assert n2.show(sid)["status"] == "ERROR"
    resp = nova.action(sid, {"trigger_crash_dump": None}, version="2.17")
    assert resp.status_code == 409 and "vm_state error" in resp.json()["conflictingRequest"]["message"]
    assert nova.get(f"/servers/{sid}/diagnostics", version="2.48").status_code == 409
    assert nova.action(sid, {"os-resetState": {"state": "active"}}).status_code == 202
    assert n2.show(sid)["status"] == "ACTIVE"
    actions = [a["action"] for a in n2.get(f"/servers/{sid}/os-instance-actions").json()["instanceActions"]]
    assert actions.count("resetState") == 2

    # a stopped guest: no crash dump, no diagnostics
    assert nova.action(sid, {"os-stop": None}).status_code == 202
    n2.wait(sid, "SHUTOFF")
    resp = nova.action(sid, {"trigger_crash_dump": None}, version="2.17")
    assert resp.status_code == 409
    assert nova.get(f"/servers/{sid}/diagnostics", version="2.48").status_code == 409
    assert nova.action(sid, {"forceDelete": {}}).status_code == 202
    nova.wait_gone(sid)
    assert nova.get(f"/servers/{sid}/diagnostics").status_code == 404
    assert "Traceback" not in nova.server.log.read_text()
