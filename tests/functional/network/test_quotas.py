"""Quotas per project: defaults from the configuration, overrides by an
admin, usage details, and OverQuota when a create would pass a limit."""

from __future__ import annotations

from tests.conftest import Server
from tests.functional.network.conftest import Neutron, error_type, osc, osc_json, project_with

DEFAULTS = {
    "network": 100,
    "subnet": 100,
    "port": 500,
    "router": 10,
    "floatingip": 50,
    "security_group": 10,
    "security_group_rule": 100,
    "subnetpool": -1,
}


def test_defaults_and_details(admin: Neutron, cloud: Server) -> None:
    me = project_with(cloud)
    assert me.api.get(f"/quotas/{me.id}").json()["quota"] == DEFAULTS
    assert me.api.get(f"/quotas/{me.id}/default").json()["quota"] == DEFAULTS
    net = me.api.network()
    me.api.subnet(net["id"], "10.41.0.0/24")
    me.api.port(net["id"])
    details = me.api.get(f"/quotas/{me.id}/details").json()["quota"]
    assert details["network"] == {"limit": 100, "used": 1, "reserved": 0}
    # The port and the network's DHCP port; the default group and its four rules.
    assert details["port"]["used"] == 2
    assert details["security_group"]["used"] == 1
    assert details["security_group_rule"]["used"] == 4
    assert me.api.get("/quotas/tenant").json() == {"tenant": {"tenant_id": me.id}}


def test_limits_are_enforced(admin: Neutron, cloud: Server) -> None:
    me = project_with(cloud)
    resp = admin.put(f"/quotas/{me.id}", json={"quota": {"network": 1, "floatingip": 0}})
    assert resp.status_code == 200 and resp.json()["quota"]["network"] == 1
    me.api.network()
    over = me.api.post("/networks", json={"network": {"name": "second"}})
    assert over.status_code == 409 and error_type(over) == "OverQuota"
    assert "['network']" in over.json()["NeutronError"]["message"]
    over = me.api.post(
        "/floatingips", json={"floatingip": {"floating_network_id": me.api.public_id()}}
    )
    assert over.status_code == 409 and error_type(over) == "OverQuota"
    listed = admin.get("/quotas").json()["quotas"]
    assert {
        "project_id": me.id,
        "tenant_id": me.id,
        **DEFAULTS,
        "network": 1,
        "floatingip": 0,
    } in listed
    refused = admin.put(f"/quotas/{me.id}", json={"quota": {"network": 0, "check_limit": True}})
    assert refused.status_code == 400
    assert admin.delete(f"/quotas/{me.id}").status_code == 204
    assert me.api.get(f"/quotas/{me.id}").json()["quota"] == DEFAULTS
    me.api.network()


def test_projects_cannot_change_or_read_other_quotas(cloud: Server) -> None:
    me, other = project_with(cloud), project_with(cloud)
    resp = me.api.put(f"/quotas/{me.id}", json={"quota": {"network": 1000}})
    assert resp.status_code == 403 and error_type(resp) == "PolicyNotAuthorized"
    assert me.api.get(f"/quotas/{other.id}").status_code == 403
    assert me.api.get("/quotas").status_code == 403


def test_quota_through_the_cli(admin: Neutron, cloud: Server) -> None:
    me = project_with(cloud)
    osc(cloud, "quota", "set", "--networks", "3", "--ports", "7", me.id)
    shown = osc_json(cloud, "quota", "show", "--network", me.id)
    limits = {row["Resource"]: row["Limit"] for row in shown}
    assert limits["networks"] == 3 and limits["ports"] == 7
    assert admin.get(f"/quotas/{me.id}").json()["quota"]["port"] == 7
