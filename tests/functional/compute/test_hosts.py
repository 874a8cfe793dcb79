"""os-services, os-hypervisors and limits; disabling the only host; host
aggregates and the zones they make, os-hosts, tenant usage, quota classes
and the usage audit log (fake driver)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.conftest import Server
from tests.functional.compute.conftest import Nova, osc, osc_json, project_user, unique


def test_services_list_the_agent(nova: Nova) -> None:
    resp = nova.get("/os-services")
    assert resp.status_code == 200, resp.text
    (svc,) = [s for s in resp.json()["services"] if s["binary"] == "nova-compute"]
    assert svc["host"] == "fakehost"
    assert svc["state"] == "up" and svc["status"] == "enabled"
    assert {"id", "zone", "updated_at", "disabled_reason"} <= set(svc)
    assert isinstance(svc["id"], int)  # before 2.53
    svc53 = nova.get("/os-services", version="2.53").json()["services"][0]
    assert isinstance(svc53["id"], str)
    assert "forced_down" in svc53


def test_services_filters(nova: Nova) -> None:
    filtered = nova.get("/os-services", params={"host": "fakehost", "binary": "nova-compute"}).json()["services"]
    assert len(filtered) == 1
    assert nova.get("/os-services", params={"host": "elsewhere"}).json()["services"] == []
    assert nova.get("/os-services", params={"binary": "nova-scheduler"}).json()["services"] == []


def test_disable_host_then_no_valid_host(nova: Nova) -> None:
    n = nova.at("2.53")
    svc = n.get("/os-services").json()["services"][0]
    resp = n.put(f"/os-services/{svc['id']}", json={"status": "disabled", "disabled_reason": "testing"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["service"]["status"] == "disabled"
    assert resp.json()["service"]["disabled_reason"] == "testing"
    try:
        assert n.get("/os-services").json()["services"][0]["status"] == "disabled"
        hyp = nova.get("/os-hypervisors/detail").json()["hypervisors"][0]
        assert hyp["status"] == "disabled"
        server = nova.at("2.96").boot(unique("nohost"), status="ERROR")
        assert "no valid host" in server["fault"]["message"].lower(), server
        assert nova.at("2.96").show(server["id"])["fault"]["code"] == 500
    finally:
        resp = n.put(f"/os-services/{svc['id']}", json={"status": "enabled"})
        assert resp.status_code == 200, resp.text
    assert resp.json()["service"]["status"] == "enabled"
    assert resp.json()["service"]["disabled_reason"] is None
    nova.at("2.96").boot(unique("again"))


def test_service_update_errors(nova: Nova) -> None:
    svc = nova.get("/os-services", version="2.53").json()["services"][0]
    assert nova.put(f"/os-services/{svc['id']}", json={"status": "disabled"}).status_code in (400, 404)
    n = nova.at("2.53")
    assert n.put(f"/os-services/{svc['id']}", json={"status": "sleepy"}).status_code == 400
    assert n.put("/os-services/00000000-0000-0000-0000-000000000000", json={"status": "disabled"}).status_code == 404


def test_hypervisors(nova: Nova) -> None:
    listed = nova.get("/os-hypervisors").json()["hypervisors"]
    assert len(listed) == 1
    assert set(listed[0]) >= {"id", "hypervisor_hostname"}
    detail = nova.get("/os-hypervisors/detail").json()["hypervisors"][0]
    for key in ("vcpus", "memory_mb", "local_gb", "vcpus_used", "memory_mb_used", "running_vms", "state", "status", "hypervisor_type"):
        assert key in detail, key
    assert detail["state"] == "up"
    shown = nova.get(f"/os-hypervisors/{detail['id']}")
    assert shown.status_code == 200, shown.text
    assert shown.json()["hypervisor"]["hypervisor_hostname"] == detail["hypervisor_hostname"]
    assert nova.get("/os-hypervisors/99999").status_code == 404
    # 2.53: uuid ids, 2.88: no resource numbers
    h53 = nova.get("/os-hypervisors/detail", version="2.53").json()["hypervisors"][0]
    assert isinstance(h53["id"], str)
    assert nova.get(f"/os-hypervisors/{h53['id']}", version="2.53").status_code == 200
    h88 = nova.get("/os-hypervisors/detail", version="2.88").json()["hypervisors"][0]
    assert "vcpus" not in h88 and "memory_mb" not in h88


def test_hypervisor_statistics(nova: Nova) -> None:
    nova.at("2.96").boot(unique("stat"))
    resp = nova.get("/os-hypervisors/statistics")
    assert resp.status_code == 200, resp.text
    stats = resp.json()["hypervisor_statistics"]
    assert stats["count"] == 1
    assert stats["running_vms"] >= 1 and stats["memory_mb_used"] >= 256
    assert nova.get("/os-hypervisors/statistics", version="2.87").status_code == 200
    assert nova.get("/os-hypervisors/statistics", version="2.88").status_code == 404


def test_non_admin_cannot_see_hosts(cloud: Server) -> None:
    member, _ = project_user(cloud)
    for path in (
        "/os-services", "/os-hypervisors", "/os-hypervisors/detail", "/os-hypervisors/statistics",
        "/os-aggregates", "/os-hosts", "/os-simple-tenant-usage", "/os-instance_usage_audit_log",
        "/os-quota-class-sets/default",
    ):
        resp = member.get(path, version="2.1")
        assert resp.status_code == 403 and "forbidden" in resp.json(), path


def test_limits(cloud: Server, nova: Nova) -> None:
    member, _ = project_user(cloud)
    resp = member.get("/limits", version=None)
    assert resp.status_code == 200, resp.text
    limits = resp.json()["limits"]
    assert limits["rate"] == []
    absolute = limits["absolute"]
    for key in ("maxTotalInstances", "maxTotalCores", "maxTotalRAMSize", "maxTotalKeypairs",
                "maxServerMeta", "totalInstancesUsed", "totalCoresUsed", "totalRAMUsed",
                "maxServerGroups", "maxServerGroupMembers", "maxPersonality", "maxPersonalitySize"):
        assert key in absolute, key
    assert absolute["maxTotalInstances"] == 10 and absolute["totalInstancesUsed"] == 0
    member.boot(unique("lim"))
    absolute = member.get("/limits").json()["limits"]["absolute"]
    assert absolute["totalInstancesUsed"] == 1 and absolute["totalRAMUsed"] == 256
    a57 = member.get("/limits", version="2.57").json()["limits"]["absolute"]
    assert "maxPersonality" not in a57


def test_availability_zones(nova: Nova) -> None:
    resp = nova.get("/os-availability-zone")
    assert resp.status_code == 200, resp.text
    assert [z["zoneName"] for z in resp.json()["availabilityZoneInfo"]] == ["nova"]


# -- host aggregates and the zones they make --------------------------------------------------


def _error(resp: httpx.Response, status: int, key: str) -> dict[str, Any]:
    assert resp.status_code == status, (resp.status_code, resp.text)
    body = resp.json()[key]
    assert body["code"] == status and body["message"], body
    return dict(body)


def _zone_of_host(nova: Nova) -> str:
    (svc,) = nova.get("/os-services").json()["services"]
    return str(svc["zone"])


def test_aggregate_zone_with_the_cli(cloud: Server, nova: Nova) -> None:
    name = unique("agg")
    zone = unique("az")
    created = osc_json(cloud, "aggregate", "create", "--zone", zone, name)
    assert created["name"] == name and created["availability_zone"] == zone
    try:
        osc(cloud, "aggregate", "add", "host", name, "fakehost")
        osc(cloud, "aggregate", "set", "--property", "color=blue", name)
        shown = osc_json(cloud, "aggregate", "show", name)
        assert shown["hosts"] == ["fakehost"], shown
        assert shown["availability_zone"] == zone
        assert "color" in str(shown["properties"]) and "blue" in str(shown["properties"])

        # the zone is the host's: services, zones, the servers scheduled there
        assert _zone_of_host(nova) == zone
        zones = osc_json(cloud, "availability", "zone", "list", "--compute", "--long")
        assert [(r["Zone Name"], r["Zone Status"]) for r in zones if r["Host Name"] == "fakehost"] == [
            (zone, "available")
        ]
        plain = [z["zoneName"] for z in nova.get("/os-availability-zone").json()["availabilityZoneInfo"]]
        assert plain == [zone]  # no host is left in the default zone
        n = nova.at("2.96")
        vm = n.boot(unique("inzone"), availability_zone=zone)
        assert vm["OS-EXT-AZ:availability_zone"] == zone
        assert n.show(vm["id"])["pinned_availability_zone"] == zone
        anywhere = n.boot(unique("anyzone"))
        assert anywhere["OS-EXT-AZ:availability_zone"] == zone
        # zones without hosts (the default one now, or none at all) are refused
        _error(n.create_server(unique("nozone"), availability_zone="nova"), 400, "badRequest")
        _error(n.create_server(unique("mars"), availability_zone="mars"), 400, "badRequest")

        # the raw API: shapes by microversion, metadata, and the errors
        agg_id = shown["id"]
        a21 = nova.get(f"/os-aggregates/{agg_id}").json()["aggregate"]
        assert "uuid" not in a21 and a21["metadata"] == {"availability_zone": zone, "color": "blue"}
        a41 = nova.get(f"/os-aggregates/{agg_id}", version="2.41").json()["aggregate"]
        assert re.fullmatch(r"[0-9a-f-]{36}", a41["uuid"])
        assert nova.get(f"/os-aggregates/{a41['uuid']}", version="2.41").status_code == 200
        listed = nova.get("/os-aggregates").json()["aggregates"]
        assert [a["name"] for a in listed if a["id"] == agg_id] == [name]
        action = f"/os-aggregates/{agg_id}/action"
        meta = nova.post(action, json={"set_metadata": {"metadata": {"color": None, "size": "L"}}})
        assert meta.status_code == 200, meta.text
        assert meta.json()["aggregate"]["metadata"] == {"availability_zone": zone, "size": "L"}
        _error(nova.post(action, json={"add_host": {"host": "nosuchhost"}}), 404, "itemNotFound")
        _error(nova.post(action, json={"add_host": {"host": "fakehost"}}), 409, "conflictingRequest")
        _error(nova.post(action, json={"add_host": {}}), 400, "badRequest")
        _error(nova.post(action, json={"explode": {}}), 400, "badRequest")
        _error(nova.delete(f"/os-aggregates/{agg_id}"), 400, "badRequest")
        dup = nova.post("/os-aggregates", json={"aggregate": {"name": name}})
        _error(dup, 409, "conflictingRequest")
        bad = nova.post("/os-aggregates", json={"aggregate": {"name": "x", "colour": "red"}})
        _error(bad, 400, "badRequest")
        _error(nova.post("/os-aggregates", json={"aggregate": {"name": " padded"}}), 400, "badRequest")
        colon = nova.post("/os-aggregates", json={"aggregate": {"name": unique("c"), "availability_zone": "a:b"}})
        _error(colon, 400, "badRequest")
        colon_meta = nova.post(action, json={"set_metadata": {"metadata": {"availability_zone": "a:b"}}})
        _error(colon_meta, 400, "badRequest")
        _error(nova.put(f"/os-aggregates/{agg_id}", json={"aggregate": {}}), 400, "badRequest")
        _error(nova.get("/os-aggregates/999999"), 404, "itemNotFound")
        renamed = nova.put(f"/os-aggregates/{agg_id}", json={"aggregate": {"name": name + "-r"}})
        assert renamed.status_code == 200 and renamed.json()["aggregate"]["hosts"] == ["fakehost"]
        assert renamed.json()["aggregate"]["updated_at"] is not None
        nova.put(f"/os-aggregates/{agg_id}", json={"aggregate": {"name": name}})
    finally:
        osc(cloud, "aggregate", "remove", "host", name, "fakehost", check=False)
    assert _zone_of_host(nova) == "nova"
    again = nova.post(f"/os-aggregates/{agg_id}/action", json={"remove_host": {"host": "fakehost"}})
    _error(again, 404, "itemNotFound")
    osc(cloud, "aggregate", "delete", name)
    _error(nova.get(f"/os-aggregates/{agg_id}"), 404, "itemNotFound")
    fresh = nova.post("/os-aggregates", json={"aggregate": {"name": unique("bare")}})
    assert fresh.status_code == 200, fresh.text
    assert set(fresh.json()["aggregate"]) == {
        "availability_zone", "created_at", "deleted", "deleted_at", "id", "name", "updated_at"
    }
    assert nova.delete(f"/os-aggregates/{fresh.json()['aggregate']['id']}").status_code == 200


# -- os-hosts and the hypervisors' extras -----------------------------------------------------


def test_os_hosts_with_the_cli(cloud: Server, nova: Nova) -> None:
    vm = nova.at("2.96").boot(unique("hosted"))
    rows = osc_json(cloud, "host", "list")
    assert [(r["Host Name"], r["Service"], r["Zone"]) for r in rows] == [("fakehost", "compute", "nova")]
    shown = osc_json(cloud, "host", "show", "fakehost")
    by_project = {r["Project"]: r for r in shown}
    assert by_project["(total)"]["CPU"] >= 1 and by_project["(total)"]["Memory MB"] > 0
    assert by_project["(used_now)"]["Memory MB"] >= 256
    assert by_project[vm["tenant_id"]]["CPU"] >= 1
    assert nova.get("/os-hosts", version="2.42").status_code == 200
    _error(nova.get("/os-hosts", version="2.43"), 404, "itemNotFound")
    _error(nova.get("/os-hosts/fakehost", version="2.43"), 404, "itemNotFound")
    _error(nova.get("/os-hosts/nosuchhost"), 404, "itemNotFound")
    assert nova.get("/os-hosts", params={"zone": "elsewhere"}).json()["hosts"] == []


def test_hypervisor_uptime_search_and_servers(nova: Nova) -> None:
    vm = nova.at("2.96").boot(unique("hyp"))
    hyp = nova.get("/os-hypervisors").json()["hypervisors"][0]
    up = nova.get(f"/os-hypervisors/{hyp['id']}/uptime")
    assert up.status_code == 200, up.text
    assert "load average" in up.json()["hypervisor"]["uptime"]
    assert up.json()["hypervisor"]["hypervisor_hostname"] == "fakehost"
    h53 = nova.get("/os-hypervisors", version="2.53").json()["hypervisors"][0]
    assert nova.get(f"/os-hypervisors/{h53['id']}/uptime", version="2.53").status_code == 200
    _error(nova.get(f"/os-hypervisors/{h53['id']}/uptime", version="2.88"), 404, "itemNotFound")
    shown88 = nova.get(f"/os-hypervisors/{h53['id']}", version="2.88").json()["hypervisor"]
    assert "load average" in shown88["uptime"]
    _error(nova.get("/os-hypervisors/99999/uptime"), 404, "itemNotFound")

    found = nova.get("/os-hypervisors/akeho/search")
    assert [h["hypervisor_hostname"] for h in found.json()["hypervisors"]] == ["fakehost"]
    _error(nova.get("/os-hypervisors/nomatch/search"), 404, "itemNotFound")
    _error(nova.get("/os-hypervisors/fake/search", version="2.53"), 404, "itemNotFound")
    with_servers = nova.get("/os-hypervisors/fake/servers").json()["hypervisors"][0]
    assert vm["id"] in [s["uuid"] for s in with_servers["servers"]]
    assert all(s["name"].startswith("instance-") for s in with_servers["servers"])
    _error(nova.get("/os-hypervisors/nomatch/servers"), 404, "itemNotFound")

    n53 = nova.at("2.53")
    listed = n53.get("/os-hypervisors", params={"hypervisor_hostname_pattern": "fake", "with_servers": "true"})
    assert listed.status_code == 200, listed.text
    assert vm["id"] in [s["uuid"] for s in listed.json()["hypervisors"][0]["servers"]]
    plain = n53.get("/os-hypervisors/detail", params={"hypervisor_hostname_pattern": "fake"}).json()
    assert "servers" not in plain["hypervisors"][0] and "vcpus" in plain["hypervisors"][0]
    _error(n53.get("/os-hypervisors", params={"hypervisor_hostname_pattern": "nomatch"}), 404, "itemNotFound")
    _error(n53.get("/os-hypervisors", params={"with_servers": "maybe"}), 400, "badRequest")


# -- usage -------------------------------------------------------------------------------------


def _stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S")


def test_tenant_usage_counts_deleted_servers(cloud: Server, nova: Nova) -> None:
    member, project = project_user(cloud)
    kept = member.boot(unique("kept"))
    gone = member.boot(unique("gone"))
    assert member.delete(f"/servers/{gone['id']}").status_code == 204
    member.wait_gone(gone["id"])
    now = datetime.now(UTC)
    period = {"start": _stamp(now - timedelta(hours=1)), "end": _stamp(now + timedelta(hours=1))}

    listed = nova.get("/os-simple-tenant-usage", params={**period, "detailed": "1"})
    assert listed.status_code == 200, listed.text
    (mine,) = [u for u in listed.json()["tenant_usages"] if u["tenant_id"] == project["id"]]
    by_id = {s["instance_id"]: s for s in mine["server_usages"]}
    assert set(by_id) == {kept["id"], gone["id"]}
    assert by_id[gone["id"]]["state"] == "terminated" and by_id[gone["id"]]["ended_at"]
    assert by_id[kept["id"]]["state"] == "active" and by_id[kept["id"]]["ended_at"] is None
    assert by_id[kept["id"]]["memory_mb"] == 256 and by_id[kept["id"]]["vcpus"] == 1
    assert 0 < mine["total_hours"] < 1
    assert mine["total_memory_mb_usage"] == pytest_approx(256 * mine["total_hours"])
    assert mine["total_vcpus_usage"] == pytest_approx(mine["total_hours"])
    summary = nova.get("/os-simple-tenant-usage", params=period).json()["tenant_usages"]
    assert all("server_usages" not in u for u in summary)
    # a period before the servers ran sees none of them
    early = {"start": _stamp(now - timedelta(days=3)), "end": _stamp(now - timedelta(days=2))}
    assert nova.get(f"/os-simple-tenant-usage/{project['id']}", params=early).json()["tenant_usage"] == {}

    shown = member.get(f"/os-simple-tenant-usage/{project['id']}", params=period)
    assert shown.status_code == 200, shown.text
    assert len(shown.json()["tenant_usage"]["server_usages"]) == 2
    _error(member.get("/os-simple-tenant-usage", params=period), 403, "forbidden")
    _error(member.get("/os-simple-tenant-usage/someone-else", params=period), 403, "forbidden")
    backwards = {"start": period["end"], "end": period["start"]}
    _error(nova.get("/os-simple-tenant-usage", params=backwards), 400, "badRequest")
    _error(nova.get("/os-simple-tenant-usage", params={"start": "yesterday"}), 400, "badRequest")

    # 2.40: pages of servers, with the next page's link
    n40 = nova.at("2.40")
    page = n40.get(f"/os-simple-tenant-usage/{project['id']}", params={**period, "limit": 1})
    assert len(page.json()["tenant_usage"]["server_usages"]) == 1
    (link,) = page.json()["tenant_usage_links"]
    marker = link["href"].split("marker=")[1]
    rest = n40.get(f"/os-simple-tenant-usage/{project['id']}", params={**period, "limit": 1, "marker": marker})
    assert len(rest.json()["tenant_usage"]["server_usages"]) == 1
    assert rest.json()["tenant_usage"]["server_usages"][0]["instance_id"] != marker
    _error(n40.get("/os-simple-tenant-usage", params={**period, "marker": "nope"}), 400, "badRequest")

    # the CLI: usage list and usage show
    args = ("--start", (now - timedelta(days=1)).strftime("%Y-%m-%d"), "--end", (now + timedelta(days=1)).strftime("%Y-%m-%d"))
    rows = osc_json(cloud, "usage", "list", *args)
    (row,) = [r for r in rows if r["Project"] in (project["name"], project["id"])]
    assert len(row["Servers"]) == 2 and float(row["RAM MB-Hours"]) > 0
    shown_cli = osc_json(cloud, "usage", "show", "--project", project["id"], *args)
    assert len(shown_cli["Servers"]) == 2 and float(shown_cli["CPU Hours"]) > 0


def pytest_approx(value: float) -> Any:
    import pytest

    return pytest.approx(value, rel=0.05, abs=1e-6)


def test_usage_audit_log(nova: Nova) -> None:
    index = nova.get("/os-instance_usage_audit_log")
    assert index.status_code == 200, index.text
    log = index.json()["instance_usage_audit_logs"]
    assert log["num_hosts"] == 1 and log["hosts_not_run"] == ["fakehost"]
    assert log["overall_status"] == "0 of 1 hosts done. 0 errors."
    shown = nova.get("/os-instance_usage_audit_log/2026-01-15 10:00:00").json()["instance_usage_audit_log"]
    assert (shown["period_beginning"], shown["period_ending"]) == ("2025-12-01 00:00:00", "2026-01-01 00:00:00")
    _error(nova.get("/os-instance_usage_audit_log/not-a-time"), 400, "badRequest")


# -- quota classes --------------------------------------------------------------------------


def test_quota_class_default_with_the_cli(cloud: Server, nova: Nova) -> None:
    old = nova.get("/os-quota-class-sets/default").json()["quota_class_set"]
    assert old["id"] == "default" and old["instances"] == 10
    assert "floating_ips" in old and "server_groups" not in old
    v50 = nova.get("/os-quota-class-sets/default", version="2.50").json()["quota_class_set"]
    assert "floating_ips" not in v50 and v50["server_groups"] == 10 and "injected_files" in v50
    v57 = nova.get("/os-quota-class-sets/default", version="2.57").json()["quota_class_set"]
    assert "injected_files" not in v57
    try:
        osc(cloud, "quota", "set", "--class", "--instances", "13", "--cores", "31", "default")
        assert nova.get("/os-quota-class-sets/default").json()["quota_class_set"]["instances"] == 13
        rows = osc_json(cloud, "quota", "show", "--default", "--compute")
        limits = {r["Resource"]: r["Limit"] for r in rows}
        assert limits["instances"] == 13 and limits["cores"] == 31
        # a project without limits of its own gets the default class's
        member, project = project_user(cloud)
        own = member.get(f"/os-quota-sets/{project['id']}").json()["quota_set"]
        assert own["instances"] == 13
        assert member.get("/limits").json()["limits"]["absolute"]["maxTotalInstances"] == 13
        _error(member.put("/os-quota-class-sets/default", json={"quota_class_set": {"instances": 1}}), 403, "forbidden")
        bad = nova.put("/os-quota-class-sets/default", json={"quota_class_set": {"instances": "many"}})
        _error(bad, 400, "badRequest")
        unknown = nova.put("/os-quota-class-sets/default", json={"quota_class_set": {"bananas": 3}})
        _error(unknown, 400, "badRequest")
        net = nova.put("/os-quota-class-sets/default", json={"quota_class_set": {"floating_ips": 3}}, version="2.50")
        _error(net, 400, "badRequest")
        _error(nova.put("/os-quota-class-sets/default", json={"quota_class_set": {"cores": -2}}), 400, "badRequest")
        put = nova.put("/os-quota-class-sets/default", json={"quota_class_set": {"ram": 40000}}, version="2.57")
        assert put.status_code == 200 and put.json()["quota_class_set"]["ram"] == 40000
        assert "id" not in put.json()["quota_class_set"]
    finally:
        restore = {"instances": 10, "cores": 20, "ram": 51200}
        assert nova.put("/os-quota-class-sets/default", json={"quota_class_set": restore}).status_code == 200
    assert nova.get("/os-quota-class-sets/default").json()["quota_class_set"]["instances"] == 10


def test_server_list_limit_zero(nova: Nova) -> None:
    nova.at("2.96").boot(unique("lim0"))
    for path in ("/servers", "/servers/detail"):
        resp = nova.get(path, params={"limit": 0})
        assert resp.status_code == 200, resp.text
        assert resp.json()["servers"] == [] and "servers_links" not in resp.json()
    assert len(nova.get("/servers", params={"limit": 1}).json()["servers"]) == 1
    _error(nova.get("/servers", params={"limit": -1}), 400, "badRequest")


def test_no_traceback_in_the_log(cloud: Server) -> None:
    assert "Traceback" not in cloud.log.read_text()
