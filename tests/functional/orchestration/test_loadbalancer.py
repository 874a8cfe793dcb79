"""A load balancer with its listener, pool, member and health monitor made
by a stack through the load-balancer API (its fake data plane), then
deleted in reverse order."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import Server, start_cloud, stop_cloud
from tests.functional.network.conftest import project_with
from tests.functional.orchestration.conftest import Heat

LB_CLOUD = {"STRATUS_SERVICES__ENABLED": '["identity", "network", "load-balancer", "orchestration"]'}

TEMPLATE = {
    "heat_template_version": "2018-08-31",
    "parameters": {"members": {"type": "comma_delimited_list", "default": "10.70.0.10,10.70.0.11"}},
    "resources": {
        "net": {"type": "OS::Neutron::Net"},
        "sub": {"type": "OS::Neutron::Subnet", "properties": {
            "network": {"get_resource": "net"}, "cidr": "10.70.0.0/24"}},
        "lb": {"type": "OS::Octavia::LoadBalancer", "properties": {
            "vip_subnet": {"get_resource": "sub"}}},
        "listener": {"type": "OS::Octavia::Listener", "properties": {
            "loadbalancer": {"get_resource": "lb"}, "protocol": "HTTP", "protocol_port": 80}},
        "pool": {"type": "OS::Octavia::Pool", "properties": {
            "listener": {"get_resource": "listener"}, "protocol": "HTTP",
            "lb_algorithm": "ROUND_ROBIN"}},
        "monitor": {"type": "OS::Octavia::HealthMonitor", "properties": {
            "pool": {"get_resource": "pool"}, "type": "HTTP", "delay": 5, "timeout": 3,
            "max_retries": 2, "url_path": "/"}},
        "members": {"type": "OS::Heat::ResourceGroup", "properties": {
            "count": 2, "resource_def": {"type": "OS::Octavia::PoolMember", "properties": {
                "pool": {"get_resource": "pool"}, "protocol_port": 8080,
                "address": {"get_param": ["members", "%index%"]},
                "subnet": {"get_resource": "sub"}}}}},
    },
    "outputs": {"vip": {"value": {"get_attr": ["lb", "vip_address"]}}},
}  # fmt: skip


@pytest.fixture(scope="module")
def cloud(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_cloud(tmp_path_factory.mktemp(f"heat-lb-{database}"), database, **LB_CLOUD)
    yield srv
    stop_cloud(srv)


def test_a_load_balancer_stack_is_made_and_removed(cloud: Server) -> None:
    p = project_with(cloud)
    heat = Heat(cloud, p.api.token, p.id)
    lbaas = f"{cloud.url}/load-balancer/v2/lbaas"
    auth = {"X-Auth-Token": p.api.token}
    sid = heat.create("web", TEMPLATE)
    stack = heat.wait("web", sid, timeout=180)
    assert stack["stack_status"] == "CREATE_COMPLETE", stack["stack_status_reason"]
    vip = stack["outputs"][0]["output_value"]
    assert vip.startswith("10.70.0.")
    lbs = heat.http.get(f"{lbaas}/loadbalancers", headers=auth).json()["loadbalancers"]
    assert [(lb["vip_address"], lb["provisioning_status"]) for lb in lbs] == [(vip, "ACTIVE")]
    pools = heat.http.get(f"{lbaas}/pools", headers=auth).json()["pools"]
    members = heat.http.get(f"{lbaas}/pools/{pools[0]['id']}/members", headers=auth).json()
    assert sorted(m["address"] for m in members["members"]) == ["10.70.0.10", "10.70.0.11"]
    assert pools[0]["healthmonitor_id"]
    assert heat.request("DELETE", f"/stacks/web/{sid}").status_code == 204
    assert heat.wait("web", sid, timeout=180)["stack_status"] == "DELETE_COMPLETE"
    assert heat.http.get(f"{lbaas}/loadbalancers", headers=auth).json()["loadbalancers"] == []
