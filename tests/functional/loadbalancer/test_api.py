"""Octavia v2 as users drive it: the real ``openstack loadbalancer`` CLI
builds a whole tree, and raw HTTP checks the semantics and errors (Octavia's
format and statuses), projects' isolation, quotas and the cascade delete."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from tests.conftest import Server, sql
from tests.functional.loadbalancer.conftest import Octavia, Tenant, fault, unique
from tests.functional.network.conftest import osc, osc_json, project_with


def lb_cli(server: Server, tenant: Tenant, *args: str) -> Any:
    return osc_json(server, "loadbalancer", *args, env=tenant.env)


def child(server: Server, tenant: Tenant, lb_id: str, *args: str) -> Any:
    """A CLI create of a child object, then the load balancer ACTIVE again
    (polled faster than the CLI's ``--wait``, every 3 s)."""
    made = lb_cli(server, tenant, *args)
    tenant.lb.wait_active(lb_id)
    return made


def make_lb(tenant: Tenant, **attrs: Any) -> dict[str, Any]:
    lb = tenant.lb.create("/loadbalancers", "loadbalancer", name=unique("lb"),
                          vip_subnet_id=tenant.subnet["id"], **attrs)  # fmt: skip
    return tenant.lb.wait_active(lb["id"])


def test_the_cli_builds_a_load_balancer_tree(cloud: Server, alice: Tenant) -> None:
    sub = alice.subnet["id"]
    quota = f"/quotas/{alice.project.id}/details"
    groups_used = alice.project.api.get(quota).json()["quota"]["security_group"]["used"]
    lb = lb_cli(cloud, alice, "create", "--vip-subnet-id", sub, "--name", "lb1", "--wait")
    assert lb["provisioning_status"] == "ACTIVE" and lb["operating_status"] == "ONLINE"
    assert ipaddress.ip_address(lb["vip_address"]) in ipaddress.ip_network("10.61.0.0/24")
    assert lb["vip_network_id"] == alice.net["id"] and lb["provider"] == "haproxy"
    # The VIP is a port of the user's network, owned by the load balancer.
    port = alice.project.api.get(f"/ports/{lb['vip_port_id']}").json()["port"]
    assert port["device_owner"] == "Octavia"
    assert [ip["ip_address"] for ip in port["fixed_ips"]] == [lb["vip_address"]]

    listener = child(cloud, alice, lb["id"], "listener", "create", "--protocol", "HTTP",
                      "--protocol-port", "80", "--name", "l1", "--insert-headers",
                      "X-Forwarded-For=true", "--allowed-cidr", "10.61.0.0/24", "lb1")  # fmt: skip
    assert listener["provisioning_status"] == "PENDING_CREATE"  # until the agent applied it
    assert listener["insert_headers"] == {"X-Forwarded-For": "true"}
    pool = child(cloud, alice, lb["id"], "pool", "create", "--lb-algorithm", "ROUND_ROBIN",
                  "--listener", "l1", "--protocol", "HTTP", "--name", "p1",
                  "--session-persistence", "type=SOURCE_IP")  # fmt: skip
    assert pool["session_persistence"]["type"] == "SOURCE_IP"
    for n in (11, 12):
        child(cloud, alice, lb["id"], "member", "create", "--address", f"10.61.0.{n}",
               "--protocol-port", "8000", "--subnet-id", sub, "--name", f"m{n}", "p1")  # fmt: skip
    monitor = child(cloud, alice, lb["id"], "healthmonitor", "create", "--type", "HTTP", "--delay", "2",
                     "--timeout", "1", "--max-retries", "2", "--url-path", "/", "p1")  # fmt: skip
    assert (monitor["type"], monitor["delay"], monitor["http_method"]) == ("HTTP", 2, "GET")
    static = child(cloud, alice, lb["id"], "pool", "create", "--lb-algorithm", "LEAST_CONNECTIONS",
                    "--loadbalancer", "lb1", "--protocol", "HTTP", "--name", "static")  # fmt: skip
    policy = child(cloud, alice, lb["id"], "l7policy", "create", "--action", "REDIRECT_TO_POOL",
                    "--redirect-pool", "static", "--name", "pol", "l1")  # fmt: skip
    rule = child(cloud, alice, lb["id"], "l7rule", "create", "--type", "PATH", "--compare-type",
                  "STARTS_WITH", "--value", "/static", "pol")  # fmt: skip
    assert (
        lb_cli(cloud, alice, "l7rule", "show", "pol", rule["id"])["provisioning_status"] == "ACTIVE"
    )
    assert lb_cli(cloud, alice, "listener", "show", "l1")["provisioning_status"] == "ACTIVE"

    members = lb_cli(cloud, alice, "member", "list", "p1")
    assert sorted(m["address"] for m in members) == ["10.61.0.11", "10.61.0.12"]
    assert {m["provisioning_status"] for m in members} == {"ACTIVE"}
    tree = json.loads(osc(cloud, "loadbalancer", "status", "show", "lb1", env=alice.env).stdout)
    top = tree["loadbalancer"]
    assert top["provisioning_status"] == "ACTIVE"
    (l1,) = top["listeners"]
    assert l1["name"] == "l1" and l1["l7policies"][0]["id"] == policy["id"]
    pools = {p["name"]: p for p in l1["pools"]}
    assert set(pools) == {"p1", "static"}
    assert pools["p1"]["health_monitor"]["id"] == monitor["id"]
    assert sorted(m["address"] for m in pools["p1"]["members"]) == ["10.61.0.11", "10.61.0.12"]
    stats = osc_json(cloud, "loadbalancer", "stats", "show", "lb1", env=alice.env)
    assert set(stats) == {"active_connections", "bytes_in", "bytes_out", "request_errors",
                          "total_connections"}  # fmt: skip
    # The VIP's security group opens only the listener's port, to its CIDR.
    # It is the service project's, as in Octavia: not the user's to see,
    # change or count against the quota.
    group = port["security_groups"][0]
    assert alice.project.api.get(f"/security-groups/{group}").status_code == 404
    assert alice.project.api.get(quota).json()["quota"]["security_group"]["used"] == groups_used
    admin = project_with(cloud, "admin").api
    assert admin.get(f"/security-groups/{group}").json()["security_group"]["project_id"] != \
        alice.project.id  # fmt: skip
    rules = admin.get("/security-group-rules", params={"security_group_id": group}).json()
    ingress = [(r["port_range_min"], r["remote_ip_prefix"])
               for r in rules["security_group_rules"] if r["direction"] == "ingress"]  # fmt: skip
    assert ingress == [(80, "10.61.0.0/24")]
    assert static["id"] in {p["id"] for p in lb_cli(cloud, alice, "pool", "list")}

    # A listener port in use: 409, in Octavia's words, through the CLI too.
    dup = osc(cloud, "loadbalancer", "listener", "create", "--protocol", "HTTP",
              "--protocol-port", "80", "lb1", env=alice.env, check=False)  # fmt: skip
    assert dup.returncode != 0 and "already using" in dup.stderr and "409" in dup.stderr

    # The cascade delete takes the tree and the VIP port with it.
    osc(cloud, "loadbalancer", "delete", "--cascade", "--wait", "lb1", env=alice.env)
    assert lb_cli(cloud, alice, "list") == []
    assert alice.project.api.get(f"/ports/{lb['vip_port_id']}").status_code == 404
    assert admin.get(f"/security-groups/{group}").status_code == 404


def test_bad_input_gets_octavias_error_format(cloud: Server, alice: Tenant, bob: Tenant) -> None:
    api = alice.lb
    resp = api.post("/loadbalancers", json={"loadbalancer": {"name": "novip"}})
    assert resp.status_code == 400 and "vip_subnet_id" in fault(resp)
    resp = api.post("/loadbalancers", json={"loadbalancer": {"vip_subnet_id": "nope"}})
    assert resp.status_code == 400 and "nope" in fault(resp)
    resp = api.post("/loadbalancers", json={"loadbalancer": {"vip_subnet_id": alice.subnet["id"],
                                                             "colour": "red"}})  # fmt: skip
    assert resp.status_code == 400 and "colour" in fault(resp)
    # Another project's subnet is not found either.
    resp = api.post("/loadbalancers", json={"loadbalancer": {"vip_subnet_id": bob.subnet["id"]}})
    assert resp.status_code == 400

    lb = make_lb(alice)
    listener = api.create("/listeners", "listener", loadbalancer_id=lb["id"], protocol="TCP",
                          protocol_port=5000)  # fmt: skip
    api.wait_active(lb["id"])
    for bad in (
        {"protocol": "HTTP", "protocol_port": 0},
        {"protocol": "FTP", "protocol_port": 21},
        {"protocol": "UDP", "protocol_port": 53},
        {"protocol": "TCP", "protocol_port": 80, "insert_headers": {"X-Forwarded-For": "true"}},
        {"protocol": "HTTP", "protocol_port": 81, "allowed_cidrs": ["10.0.0.300/8"]},
    ):
        resp = api.post("/listeners", json={"listener": {"loadbalancer_id": lb["id"], **bad}})
        assert resp.status_code == 400, (bad, resp.text)
        fault(resp)
    resp = api.post(
        "/listeners",
        json={"listener": {"loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 5000}},
    )
    assert resp.status_code == 409 and "protocol_port 5000" in fault(resp)

    resp = api.post("/pools", json={"pool": {"listener_id": listener["id"], "protocol": "UDP",
                                             "lb_algorithm": "ROUND_ROBIN"}})  # fmt: skip
    assert resp.status_code == 400 and "protocol" in fault(resp)
    pool = api.create("/pools", "pool", listener_id=listener["id"], protocol="TCP",
                      lb_algorithm="SOURCE_IP")  # fmt: skip
    api.wait_active(lb["id"])
    # A member on a subnet the load balancer cannot reach.
    other = alice.project.api.network()
    far = alice.project.api.subnet(other["id"], "10.63.0.0/24")
    resp = api.post(f"/pools/{pool['id']}/members",
                    json={"member": {"address": "10.63.0.5", "protocol_port": 80,
                                     "subnet_id": far["id"]}})  # fmt: skip
    assert resp.status_code == 400 and "not reachable" in fault(resp)
    resp = api.post(
        f"/pools/{pool['id']}/members",
        json={"member": {"address": "not-an-ip", "protocol_port": 80}},
    )
    assert resp.status_code == 400
    # Invalid health monitors.
    for bad in (
        {"type": "HTTP", "delay": 1, "timeout": 5, "max_retries": 2},
        {"type": "TCP", "delay": 5, "timeout": 1, "max_retries": 2, "url_path": "/x"},
        {"type": "HTTP", "delay": 5, "timeout": 1, "max_retries": 99},
        {"type": "HTTP", "delay": 5, "timeout": 1, "max_retries": 2, "expected_codes": "abc"},
        {"type": "BOGUS", "delay": 5, "timeout": 1, "max_retries": 2},
    ):
        resp = api.post("/healthmonitors", json={"healthmonitor": {"pool_id": pool["id"], **bad}})
        assert resp.status_code == 400, (bad, resp.text)
        fault(resp)

    # While the load balancer is PENDING_UPDATE, every change is refused (409).
    sql(cloud, "UPDATE lb_loadbalancer SET provisioning_status = 'PENDING_UPDATE' WHERE id = ?",
        lb["id"])  # fmt: skip
    try:
        for method, path, body in (
            ("PUT", f"/loadbalancers/{lb['id']}", {"loadbalancer": {"name": "x"}}),
            ("PUT", f"/listeners/{listener['id']}", {"listener": {"connection_limit": 5}}),
            ("POST", f"/pools/{pool['id']}/members",
             {"member": {"address": "10.61.0.9", "protocol_port": 80}}),
            ("DELETE", f"/pools/{pool['id']}", None),
        ):  # fmt: skip
            resp = api.request(method, path, json=body)
            assert resp.status_code == 409, (method, path, resp.text)
            assert (
                fault(resp) == f"Invalid state PENDING_UPDATE of loadbalancer resource {lb['id']}"
            )
    finally:
        sql(cloud, "UPDATE lb_loadbalancer SET provisioning_status = 'ACTIVE' WHERE id = ?",
            lb["id"])  # fmt: skip
    # Deleting a load balancer with children needs the cascade.
    resp = api.delete(f"/loadbalancers/{lb['id']}")
    assert resp.status_code == 400 and "children" in fault(resp)
    assert api.delete(f"/loadbalancers/{lb['id']}", params={"cascade": "true"}).status_code == 204
    resp = api.get(f"/loadbalancers/{lb['id']}")
    assert resp.status_code in (200, 404)


def test_another_project_can_neither_see_nor_change_it(cloud: Server, alice: Tenant,
                                                       bob: Tenant) -> None:  # fmt: skip
    lb = make_lb(alice)
    listener = alice.lb.create("/listeners", "listener", loadbalancer_id=lb["id"],
                               protocol="HTTP", protocol_port=8080)  # fmt: skip
    alice.lb.wait_active(lb["id"])
    for path in (
        f"/loadbalancers/{lb['id']}",
        f"/listeners/{listener['id']}",
        f"/loadbalancers/{lb['id']}/status",
        f"/loadbalancers/{lb['id']}/stats",
    ):
        resp = bob.lb.get(path)
        assert resp.status_code == 404, (path, resp.text)
        fault(resp)
    assert (
        bob.lb.put(
            f"/loadbalancers/{lb['id']}", json={"loadbalancer": {"name": "mine"}}
        ).status_code
        == 404
    )
    assert bob.lb.delete(f"/loadbalancers/{lb['id']}").status_code == 404
    resp = bob.lb.post(
        "/listeners",
        json={"listener": {"loadbalancer_id": lb["id"], "protocol": "TCP", "protocol_port": 9}},
    )
    assert resp.status_code == 404
    assert lb["id"] not in {x["id"] for x in bob.lb.get("/loadbalancers").json()["loadbalancers"]}
    # Failover is an admin's action.
    resp = alice.lb.put(f"/loadbalancers/{lb['id']}/failover")
    assert resp.status_code == 403 and fault(resp)
    # A reader reads and changes nothing.
    reader = project_with(cloud, "reader", alice.project.id)
    api = Octavia(cloud, reader.api.token)
    assert api.get(f"/loadbalancers/{lb['id']}").status_code == 200
    assert (
        api.put(f"/loadbalancers/{lb['id']}", json={"loadbalancer": {"name": "r"}}).status_code
        == 403
    )


def test_quotas_failover_providers_and_zones(cloud: Server, alice: Tenant) -> None:
    admin = cloud.env()
    project = alice.project.id
    osc(cloud, "loadbalancer", "quota", "set", "--loadbalancer", "0", project, env=admin)
    quota = osc_json(cloud, "loadbalancer", "quota", "show", project, env=admin)
    assert quota["load_balancer"] == 0
    resp = alice.lb.post("/loadbalancers", json={"loadbalancer": {
        "vip_subnet_id": alice.subnet["id"]}})  # fmt: skip
    assert resp.status_code == 403 and "Quota" in fault(resp)
    osc(cloud, "loadbalancer", "quota", "reset", project, env=admin)
    lb = make_lb(alice)
    osc(cloud, "loadbalancer", "failover", "--wait", lb["id"], env=admin)
    shown = osc_json(cloud, "loadbalancer", "show", lb["id"], env=admin)
    assert shown["provisioning_status"] == "ACTIVE"
    providers = osc_json(cloud, "loadbalancer", "provider", "list", env=admin)
    assert [p["name"] for p in providers] == ["haproxy"]
    zones = osc_json(cloud, "loadbalancer", "availabilityzone", "list", env=admin)
    assert [z["name"] for z in zones] == ["nova"]
    versions = alice.lb.http.get(f"{cloud.url}/load-balancer/").json()["versions"]
    assert any(v["status"] == "CURRENT" for v in versions)


def test_openstacksdk_drives_it(cloud: Server, alice: Tenant) -> None:
    import openstack

    conn = openstack.connect(
        auth_url=cloud.auth_url,
        username=alice.project.user["name"],
        password=alice.project.user["password"],
        project_id=alice.project.id,
        user_domain_name="Default",
    )
    lb = conn.load_balancer.create_load_balancer(name="sdk-lb", vip_subnet_id=alice.subnet["id"])
    lb = conn.load_balancer.wait_for_load_balancer(lb.id, interval=0.2, wait=60)
    assert lb.provisioning_status == "ACTIVE" and lb.vip_address.startswith("10.61.0.")
    listener = conn.load_balancer.create_listener(
        load_balancer_id=lb.id, protocol="TCP", protocol_port=443
    )
    conn.load_balancer.wait_for_load_balancer(lb.id, interval=0.2, wait=60)
    assert conn.load_balancer.get_listener(listener.id).provisioning_status == "ACTIVE"
    assert "sdk-lb" in {x.name for x in conn.load_balancer.load_balancers()}
    conn.load_balancer.delete_load_balancer(lb.id, cascade=True)
    conn.load_balancer.wait_for_delete(conn.load_balancer.get_load_balancer(lb.id), interval=0.2)


def test_a_whole_tree_in_one_create_through_openstacksdk(cloud: Server, alice: Tenant) -> None:
    """Octavia's fully populated load balancer: listeners with their default
    pool (members, monitor) and L7 policies, pools referred to by name."""
    import openstack

    conn = openstack.connect(auth_url=cloud.auth_url, username=alice.project.user["name"],
                             password=alice.project.user["password"],
                             project_id=alice.project.id, user_domain_name="Default")  # fmt: skip
    sub = alice.subnet["id"]
    web = {"name": "web", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
           "members": [{"address": f"10.61.0.{n}", "protocol_port": 80, "subnet_id": sub}
                       for n in (21, 22)],
           "healthmonitor": {"type": "HTTP", "delay": 2, "timeout": 1, "max_retries": 2}}  # fmt: skip
    policy = {"action": "REDIRECT_TO_POOL", "redirect_pool": {"name": "static"},
              "rules": [{"type": "PATH", "compare_type": "STARTS_WITH", "value": "/static"}]}  # fmt: skip
    lb = conn.load_balancer.create_load_balancer(
        name="tree", vip_subnet_id=sub,
        listeners=[{"protocol": "HTTP", "protocol_port": 80, "default_pool": web,
                    "l7policies": [policy]}],
        pools=[{"name": "static", "protocol": "HTTP", "lb_algorithm": "LEAST_CONNECTIONS"}],
    )  # fmt: skip
    # The answer holds the tree in full, PENDING_CREATE until the agent applied it.
    (listener,) = lb.listeners
    assert listener["provisioning_status"] == "PENDING_CREATE"
    assert listener["l7policies"][0]["rules"][0]["value"] == "/static"
    pools = {p["name"]: p for p in lb.pools}
    assert set(pools) == {"web", "static"}
    assert listener["default_pool_id"] == pools["web"]["id"]
    assert listener["l7policies"][0]["redirect_pool_id"] == pools["static"]["id"]
    assert sorted(m["address"] for m in pools["web"]["members"]) == ["10.61.0.21", "10.61.0.22"]
    assert pools["web"]["healthmonitor"]["type"] == "HTTP"

    conn.load_balancer.wait_for_load_balancer(lb.id, interval=0.2, wait=60)
    tree = alice.lb.get(f"/loadbalancers/{lb.id}/status").json()["statuses"]["loadbalancer"]
    (top,) = tree["listeners"]
    assert {p["name"] for p in top["pools"]} == {"web", "static"}
    members = [m for p in top["pools"] for m in p["members"]]
    assert len(members) == 2 and {m["provisioning_status"] for m in members} == {"ACTIVE"}
    assert conn.load_balancer.get_pool(pools["web"]["id"]).health_monitor_id
    conn.load_balancer.delete_load_balancer(lb.id, cascade=True)
    conn.load_balancer.wait_for_delete(conn.load_balancer.get_load_balancer(lb.id), interval=0.2)


def test_a_bad_tree_refuses_the_whole_create(cloud: Server, alice: Tenant) -> None:
    api, sub = alice.lb, alice.subnet["id"]
    before = {lb["id"] for lb in api.get("/loadbalancers").json()["loadbalancers"]}
    ports = len(alice.project.api.get("/ports").json()["ports"])
    pool = {"name": "p", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}
    for listeners, pools, words in (
        ([{"protocol": "HTTP", "protocol_port": 80, "default_pool": {"name": "gone"}}], [],
         "Pool 'gone' was referenced"),
        ([], [{"protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}], "must be named"),
        ([], [pool, pool], "must be unique"),
        ([], [{"name": "p", "protocol": "HTTP"}], "missing required attribute: lb_algorithm"),
        ([], [{**pool, "members": [{"address": "10.99.0.5", "protocol_port": 80,
                                    "subnet_id": sub}]}], "not in subnet"),
        ([{"protocol": "HTTP", "protocol_port": 80}, {"protocol": "TCP", "protocol_port": 80}],
         [], "protocol_port 80"),
    ):  # fmt: skip
        body = {"vip_subnet_id": sub, "listeners": listeners, "pools": pools}
        resp = api.post("/loadbalancers", json={"loadbalancer": body})
        assert resp.status_code in (400, 409) and words in fault(resp), (body, resp.text)
    resp = api.post("/loadbalancers", json={"loadbalancer": {
        "vip_subnet_id": sub, "pools": [{**pool, "colour": "red"}]}})  # fmt: skip
    assert resp.status_code == 400 and "colour" in fault(resp)
    # Nothing is left behind: no load balancer, no VIP port.
    assert {lb["id"] for lb in api.get("/loadbalancers").json()["loadbalancers"]} == before
    assert len(alice.project.api.get("/ports").json()["ports"]) == ports


def test_a_batch_member_update_replaces_the_pools_members(cloud: Server, alice: Tenant) -> None:
    api, sub = alice.lb, alice.subnet["id"]
    lb = make_lb(alice)
    pool = api.create("/pools", "pool", loadbalancer_id=lb["id"], protocol="HTTP",
                      lb_algorithm="ROUND_ROBIN")  # fmt: skip
    api.wait_active(lb["id"])

    def member(n: int, **more: Any) -> dict[str, Any]:
        return {"address": f"10.61.0.{n}", "protocol_port": 80, "subnet_id": sub, **more}

    def members() -> dict[str, dict[str, Any]]:
        got = api.get(f"/pools/{pool['id']}/members").json()["members"]
        return {m["address"]: m for m in got}

    path = f"/pools/{pool['id']}/members"
    resp = api.put(path, json={"members": [member(31), member(32, name="b")]})
    assert resp.status_code == 202 and not resp.content
    api.wait_active(lb["id"])
    first = members()
    assert set(first) == {"10.61.0.31", "10.61.0.32"}
    # One kept (and changed), one gone, one new.
    resp = api.put(path, json={"members": [member(32, weight=7), member(33)]})
    assert resp.status_code == 202
    assert api.put(path, json={"members": []}).status_code == 409  # PENDING_UPDATE
    api.wait_active(lb["id"])
    second = members()
    assert set(second) == {"10.61.0.32", "10.61.0.33"}
    assert second["10.61.0.32"]["id"] == first["10.61.0.32"]["id"]
    assert second["10.61.0.32"]["weight"] == 7 and second["10.61.0.32"]["name"] == "b"
    # additive_only: a new member joins, none goes.
    assert api.put(path, params={"additive_only": "true"},
                   json={"members": [member(34)]}).status_code == 202  # fmt: skip
    api.wait_active(lb["id"])
    assert set(members()) == {"10.61.0.32", "10.61.0.33", "10.61.0.34"}
    for bad, status in (
        ({"members": [member(35), member(35)]}, 409),
        ({"members": [member(36, protocol_port=0)]}, 400),
        ({"members": [{"address": "10.99.0.1", "protocol_port": 80, "subnet_id": sub}]}, 400),
        ({"member": [member(37)]}, 400),
    ):
        resp = api.put(path, json=bad)
        assert resp.status_code == status, (bad, resp.text)
        fault(resp)
    assert set(members()) == {"10.61.0.32", "10.61.0.33", "10.61.0.34"}
    assert api.put("/pools/nope/members", json={"members": []}).status_code == 404
    # The empty list empties the pool.
    assert api.put(path, json={"members": []}).status_code == 202
    api.wait_active(lb["id"])
    assert members() == {}
    assert api.delete(f"/loadbalancers/{lb['id']}", params={"cascade": "true"}).status_code == 204


def test_flavors_through_the_cli(cloud: Server, alice: Tenant) -> None:
    admin = project_with(cloud, "admin")

    def as_admin(*args: str) -> Any:
        return osc_json(cloud, "loadbalancer", *args, env=admin.env)

    bad = osc(cloud, "loadbalancer", "flavorprofile", "create", "--name", "x", "--provider",
              "haproxy", "--flavor-data", '{"topology": "ACTIVE_STANDBY"}', env=admin.env,
              check=False)  # fmt: skip
    assert bad.returncode != 0 and "topology" in bad.stderr
    profile = as_admin("flavorprofile", "create", "--name", unique("fp"), "--provider", "haproxy",
                       "--flavor-data", "{}")  # fmt: skip
    name = unique("small")
    flavor = as_admin("flavor", "create", "--name", name, "--flavorprofile", profile["id"],
                      "--description", "one HAProxy", "--enable")  # fmt: skip
    assert flavor["enabled"] is True and flavor["flavor_profile_id"] == profile["id"]
    # Users see flavors (not profiles) and pick one; they make none.
    assert name in {f["name"] for f in lb_cli(cloud, alice, "flavor", "list")}
    assert alice.lb.get("/flavorprofiles").status_code == 403
    mine = osc(cloud, "loadbalancer", "flavor", "create", "--name", unique("f"),
               "--flavorprofile", profile["id"], env=alice.env, check=False)  # fmt: skip
    assert mine.returncode != 0 and "403" in mine.stderr
    lb = lb_cli(cloud, alice, "create", "--vip-subnet-id", alice.subnet["id"], "--flavor", name,
                "--wait")  # fmt: skip
    assert lb["flavor_id"] == flavor["id"]
    # In use: neither the flavor nor its profile goes; disabled, no new load balancer takes it.
    resp = admin.api.request("DELETE", f"{cloud.url}/load-balancer/v2/lbaas/flavors/{flavor['id']}")
    assert resp.status_code == 409
    osc(cloud, "loadbalancer", "flavor", "set", "--disable", name, env=admin.env)
    resp = alice.lb.post("/loadbalancers", json={"loadbalancer": {
        "vip_subnet_id": alice.subnet["id"], "flavor_id": flavor["id"]}})  # fmt: skip
    assert resp.status_code == 400 and "not allowed" in fault(resp)
    resp = alice.lb.post("/loadbalancers", json={"loadbalancer": {
        "vip_subnet_id": alice.subnet["id"], "flavor_id": "nope"}})  # fmt: skip
    assert resp.status_code == 400 and "flavor_id" in fault(resp)
    osc(cloud, "loadbalancer", "delete", "--wait", lb["id"], env=alice.env)
    osc(cloud, "loadbalancer", "flavor", "delete", name, env=admin.env)
    osc(cloud, "loadbalancer", "flavorprofile", "delete", profile["id"], env=admin.env)
    assert name not in {f["name"] for f in lb_cli(cloud, alice, "flavor", "list")}


def test_a_tree_whose_vip_port_fails_leaves_nothing(cloud: Server, alice: Tenant) -> None:
    api, sub = alice.lb, alice.subnet["id"]
    taken = alice.project.api.port(alice.net["id"], fixed_ips=[
        {"subnet_id": sub, "ip_address": "10.61.0.77"}])  # fmt: skip
    before = {k: len(api.get(f"/{k}").json()[k]) for k in ("listeners", "pools", "l7policies")}
    members = {p["id"] for p in api.get("/pools").json()["pools"]}
    web = {"name": "vipfail", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
           "members": [{"address": "10.61.0.31", "protocol_port": 80, "subnet_id": sub}],
           "healthmonitor": {"type": "HTTP", "delay": 2, "timeout": 1, "max_retries": 2}}  # fmt: skip
    policy = {"action": "REJECT",
              "rules": [{"type": "PATH", "compare_type": "STARTS_WITH", "value": "/x"}]}  # fmt: skip
    body = {"vip_subnet_id": sub, "vip_address": "10.61.0.77",
            "listeners": [{"protocol": "HTTP", "protocol_port": 8081, "default_pool": web,
                           "l7policies": [policy]}]}  # fmt: skip
    resp = api.post("/loadbalancers", json={"loadbalancer": body})
    assert 400 <= resp.status_code < 500, resp.text
    after = {k: len(api.get(f"/{k}").json()[k]) for k in ("listeners", "pools", "l7policies")}
    assert after == before
    assert {p["id"] for p in api.get("/pools").json()["pools"]} == members
    assert not [m for m in api.get("/healthmonitors").json()["healthmonitors"]
                if m["pools"] and m["pools"][0]["id"] not in members]  # fmt: skip
    alice.project.api.delete(f"/ports/{taken['id']}")
