"""os-services, os-hypervisors and limits; disabling the only host (fake driver)."""

from __future__ import annotations

from tests.conftest import Server
from tests.functional.compute.conftest import Nova, project_user, unique


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
    for path in ("/os-services", "/os-hypervisors", "/os-hypervisors/detail", "/os-hypervisors/statistics"):
        assert member.get(path, version="2.1").status_code == 403, path


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
