"""A load balancer carrying real traffic: HAProxy in its namespace holding
the VIP port, two members that are HTTP servers in namespaces of their own
on the same network (namespace ports), a client in a third.

One cloud, one load balancer: requests spread over both members; a member
stopped is ERROR and the load balancer DEGRADED while every request goes to
the other; members added and removed under a steady stream fail no request;
the cloud restarted and HAProxy SIGKILLed, traffic resumes on the same VIP."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import clirun
from tests.conftest import Server, start_server

ROOT = os.geteuid() == 0
HAPROXY = shutil.which("haproxy") or shutil.which("/usr/sbin/haproxy")
pytestmark = [
    pytest.mark.skipif(not ROOT, reason="the data plane needs root (namespaces)"),
    pytest.mark.skipif(HAPROXY is None, reason="haproxy is not installed"),
]

# Requests from inside a namespace: ``N`` requests on fresh connections (or
# until the file STOP exists), each body counted, each failure too.
CLIENT = r"""
import json, os, sys, time, urllib.request
url, n, stop = sys.argv[1], int(sys.argv[2]), sys.argv[3]
bodies, errors, i = {}, [], 0
while (n and i < n) or (not n and not os.path.exists(stop)):
    i += 1
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            b = r.read().decode().strip()
            bodies[b] = bodies.get(b, 0) + 1
    except Exception as e:
        errors.append(repr(e))
    if not n:
        time.sleep(0.01)
print(json.dumps({"bodies": bodies, "errors": errors}))
"""


def sh(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


def wait_for(what: str, check: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what}: not after {timeout} s"
        time.sleep(0.2)


@dataclass
class Lab:
    server: Server
    prefix: str
    token: str
    data_dir: Path
    env: dict[str, str]
    port: int

    def api(self, method: str, path: str, **kw: Any) -> httpx.Response:
        resp = httpx.request(method, f"{self.server.url}{path}",
                             headers={"X-Auth-Token": self.token}, timeout=60, **kw)  # fmt: skip
        assert resp.status_code < 500, resp.text
        return resp

    def lb(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return self.api(method, f"/load-balancer/v2/lbaas{path}", **kw)

    def ns(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def requests(self, url: str, n: int, netns: str = "client") -> dict[str, Any]:
        space = self.prefix if netns == "host" else self.ns(netns)
        out = sh("ip", "netns", "exec", space, sys.executable, "-c", CLIENT, url,
                 str(n), "/nonexistent")  # fmt: skip
        return json.loads(out)  # type: ignore[no-any-return]

    def wait_lb(self, lb_id: str) -> dict[str, Any]:
        found: dict[str, Any] = {}

        def active() -> bool:
            found.update(self.lb("GET", f"/loadbalancers/{lb_id}").json()["loadbalancer"])
            assert found["provisioning_status"] != "ERROR", found
            return found["provisioning_status"] == "ACTIVE"

        wait_for("the load balancer ACTIVE", active)
        return found


def serve(lab: Lab, name: str) -> subprocess.Popen[bytes]:
    """An HTTP server answering its own name, in its namespace."""
    www = lab.data_dir / f"www-{name}"
    (www / "static").mkdir(parents=True, exist_ok=True)
    (www / "index.html").write_text(name)
    (www / "static" / "index.html").write_text(f"static from {name}")
    address = {"m1": "10.71.0.11", "m2": "10.71.0.12"}[name]
    return subprocess.Popen(
        ["ip", "netns", "exec", lab.ns(name), sys.executable, "-m", "http.server", "8000",
         "--bind", address, "--directory", str(www)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    prefix = f"lbe{uuid.uuid4().hex[:6]}"
    env = {
        "STRATUS_SERVICES__ENABLED": '["identity", "network", "load-balancer"]',
        "STRATUS_NETWORK__DRIVER": "linux",
        "STRATUS_NETWORK__HOST_NAMESPACE": prefix,
        "STRATUS_LOADBALANCER__DRIVER": "haproxy",
        "STRATUS_LOADBALANCER__HAPROXY_NICE": "-1",
    }
    data = tmp_path / "cloud"
    server = start_server(data, **env)
    the_lab = Lab(
        server, prefix, server.admin_token(), data, env, int(server.url.rsplit(":", 1)[1])
    )
    try:
        yield the_lab
    finally:
        lbs = [d.name for d in (the_lab.data_dir / "loadbalancer").glob("*") if d.is_dir()]
        try:
            the_lab.server.stop(signal.SIGTERM)
        except subprocess.TimeoutExpired:
            the_lab.server.stop(signal.SIGKILL)  # then remove what it left all the same
            raise
        spaces = sh("ip", "netns", "list").split()
        for name in spaces:
            if name.startswith(prefix) or any(name == f"lb-{i}" for i in lbs):
                for pid in sh("ip", "netns", "pids", name).split():
                    try:
                        os.kill(int(pid), signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                subprocess.run(["ip", "netns", "delete", name], check=False)


def test_traffic_spreads_survives_failures_changes_and_restarts(lab: Lab) -> None:
    host = lab.api("GET", "/network/v2.0/agents").json()["agents"][0]["host"]
    net = lab.api("POST", "/network/v2.0/networks", json={"network": {"name": "net1"}}).json()
    net_id = net["network"]["id"]
    subnet = lab.api(
        "POST",
        "/network/v2.0/subnets",
        json={
            "subnet": {
                "network_id": net_id,
                "cidr": "10.71.0.0/24",
                "ip_version": 4,
                "name": "sub1",
            }
        },
    ).json()
    sub_id = subnet["subnet"]["id"]
    group = lab.api(
        "POST", "/network/v2.0/security-groups", json={"security_group": {"name": "web"}}
    ).json()["security_group"]["id"]
    lab.api("POST", "/network/v2.0/security-group-rules", json={"security_group_rule": {
        "security_group_id": group, "direction": "ingress", "protocol": "tcp",
        "port_range_min": 1, "port_range_max": 65535}})  # fmt: skip
    for name, address in (("m1", "10.71.0.11"), ("m2", "10.71.0.12"), ("client", "10.71.0.30")):
        sh("ip", "netns", "add", lab.ns(name))
        lab.api("POST", "/network/v2.0/ports", json={"port": {
            "network_id": net_id, "name": name, "binding:host_id": host,
            "binding:profile": {"netns": lab.ns(name)}, "security_groups": [group],
            "fixed_ips": [{"subnet_id": sub_id, "ip_address": address}]}})  # fmt: skip
    servers = {name: serve(lab, name) for name in ("m1", "m2")}
    wait_for("the members answer directly", lambda: set(
        lab.requests("http://10.71.0.11:8000/", 1)["bodies"]) == {"m1"})  # fmt: skip

    # The real client makes the load balancer; the tree by HTTP, applied each time.
    osc = clirun.run(
        [str(Path(sys.executable).parent / "openstack"), "loadbalancer", "create",
         "--vip-subnet-id", sub_id, "--name", "lb1", "--wait", "-f", "json"],
        env=lab.server.env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert osc.returncode == 0, osc.stderr
    lb = json.loads(osc.stdout)
    lb_id, vip = lb["id"], lb["vip_address"]
    listener = lab.lb(
        "POST",
        "/listeners",
        json={"listener": {"loadbalancer_id": lb_id, "protocol": "HTTP", "protocol_port": 80}},
    ).json()["listener"]
    lab.wait_lb(lb_id)
    pool = lab.lb("POST", "/pools", json={"pool": {
        "listener_id": listener["id"], "protocol": "HTTP",
        "lb_algorithm": "ROUND_ROBIN"}}).json()["pool"]  # fmt: skip
    lab.wait_lb(lb_id)
    members = {}
    for name, address in (("m1", "10.71.0.11"), ("m2", "10.71.0.12")):
        members[name] = lab.lb("POST", f"/pools/{pool['id']}/members", json={"member": {
            "address": address, "protocol_port": 8000, "subnet_id": sub_id,
            "name": name}}).json()["member"]["id"]  # fmt: skip
        lab.wait_lb(lb_id)
    lab.lb("POST", "/healthmonitors", json={"healthmonitor": {
        "pool_id": pool["id"], "type": "HTTP", "delay": 1, "timeout": 1, "max_retries": 1,
        "max_retries_down": 1}})  # fmt: skip
    lab.wait_lb(lb_id)
    url = f"http://{vip}/"

    def member_status(name: str) -> str:
        resp = lab.lb("GET", f"/pools/{pool['id']}/members/{members[name]}")
        return str(resp.json()["member"]["operating_status"])

    wait_for(
        "both members ONLINE", lambda: {member_status("m1"), member_status("m2")} == {"ONLINE"}
    )
    # Requests through the VIP spread over both members, none fails.
    seen = lab.requests(url, 40)
    assert seen["errors"] == []
    assert set(seen["bodies"]) == {"m1", "m2"} and min(seen["bodies"].values()) >= 10, seen
    stats = lab.lb("GET", f"/loadbalancers/{lb_id}/stats").json()["stats"]
    wait_for("the requests counted", lambda: lab.lb(
        "GET", f"/loadbalancers/{lb_id}/stats").json()["stats"]["total_connections"] >= 40)  # fmt: skip
    assert stats["bytes_out"] >= 0

    # A floating IP on the VIP port: the host reaches the load balancer
    # through the project's router (the host's side of the external network
    # is in the cloud's host namespace here).
    public = lab.api("GET", "/network/v2.0/networks",
                     params={"router:external": "true"}).json()["networks"][0]["id"]  # fmt: skip
    router = lab.api(
        "POST",
        "/network/v2.0/routers",
        json={"router": {"name": "r1", "external_gateway_info": {"network_id": public}}},
    ).json()["router"]
    lab.api("PUT", f"/network/v2.0/routers/{router['id']}/add_router_interface",
            json={"subnet_id": sub_id})  # fmt: skip
    fip = lab.api(
        "POST",
        "/network/v2.0/floatingips",
        json={"floatingip": {"floating_network_id": public, "port_id": lb["vip_port_id"]}},
    ).json()["floatingip"]
    fip_url = f"http://{fip['floating_ip_address']}/"
    wait_for("the floating IP answers", lambda: lab.requests(fip_url, 1, "host")["errors"] == [])
    seen = lab.requests(fip_url, 40, "host")
    assert seen["errors"] == [] and set(seen["bodies"]) == {"m1", "m2"}, seen

    # An L7 policy sends /static/* to a second pool (m2 alone); the rest
    # still spreads over both.
    static = lab.lb(
        "POST",
        "/pools",
        json={
            "pool": {"loadbalancer_id": lb_id, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}
        },
    ).json()["pool"]
    lab.wait_lb(lb_id)
    lab.lb(
        "POST",
        f"/pools/{static['id']}/members",
        json={"member": {"address": "10.71.0.12", "protocol_port": 8000, "subnet_id": sub_id}},
    )
    lab.wait_lb(lb_id)
    policy = lab.lb(
        "POST",
        "/l7policies",
        json={
            "l7policy": {
                "listener_id": listener["id"],
                "action": "REDIRECT_TO_POOL",
                "redirect_pool_id": static["id"],
            }
        },
    ).json()["l7policy"]
    lab.wait_lb(lb_id)
    lab.lb(
        "POST",
        f"/l7policies/{policy['id']}/rules",
        json={"rule": {"type": "PATH", "compare_type": "STARTS_WITH", "value": "/static"}},
    )
    lab.wait_lb(lb_id)
    assert lab.requests(f"{url}static/", 10) == {"bodies": {"static from m2": 10}, "errors": []}
    assert set(lab.requests(url, 10)["bodies"]) == {"m1", "m2"}
    # SOURCE_IP persistence keeps one client on one member.
    lab.lb(
        "PUT", f"/pools/{pool['id']}", json={"pool": {"session_persistence": {"type": "SOURCE_IP"}}}
    )
    lab.wait_lb(lb_id)
    seen = lab.requests(url, 20)
    assert seen["errors"] == [] and len(seen["bodies"]) == 1 and sum(seen["bodies"].values()) == 20
    lab.lb("PUT", f"/pools/{pool['id']}", json={"pool": {"session_persistence": None}})
    lab.wait_lb(lb_id)

    # One member stops: ERROR, the load balancer DEGRADED, traffic to the other.
    servers["m1"].kill()
    servers["m1"].wait()
    wait_for("m1 ERROR", lambda: member_status("m1") == "ERROR")
    shown = lab.lb("GET", f"/loadbalancers/{lb_id}").json()["loadbalancer"]
    assert shown["operating_status"] == "DEGRADED"
    seen = lab.requests(url, 20)
    assert seen == {"bodies": {"m2": 20}, "errors": []}
    servers["m1"] = serve(lab, "m1")
    wait_for("m1 ONLINE again", lambda: member_status("m1") == "ONLINE")
    wait_for("m1 answers through the VIP", lambda: "m1" in lab.requests(url, 10)["bodies"])

    # Members removed and added under a steady stream: no request fails.
    stop = lab.data_dir / "stop-stream"
    stream = subprocess.Popen(
        ["ip", "netns", "exec", lab.ns("client"), sys.executable, "-c", CLIENT, url, "0",
         str(stop)], stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        for _ in range(3):
            lab.lb("DELETE", f"/pools/{pool['id']}/members/{members['m2']}")
            lab.wait_lb(lb_id)
            members["m2"] = lab.lb("POST", f"/pools/{pool['id']}/members", json={"member": {
                "address": "10.71.0.12", "protocol_port": 8000, "subnet_id": sub_id,
                "name": "m2"}}).json()["member"]["id"]  # fmt: skip
            lab.wait_lb(lb_id)
    finally:
        stop.write_text("")
        out, _ = stream.communicate(timeout=60)
    result = json.loads(out)
    assert result["errors"] == [], result["errors"][:5]
    assert sum(result["bodies"].values()) > 20

    # The cloud restarts while its HAProxy is SIGKILLed: traffic resumes, same VIP.
    lab.server.stop(signal.SIGTERM)
    pid = int((lab.data_dir / "loadbalancer" / lb_id / "haproxy.pid").read_text().split()[0])
    os.kill(pid, signal.SIGKILL)
    lab.server = start_server(lab.data_dir, port=lab.port, **lab.env)
    lab.token = lab.server.admin_token()
    wait_for("traffic through the VIP again", lambda: lab.requests(url, 5)["errors"] == [], 90)
    assert lab.lb("GET", f"/loadbalancers/{lb_id}").json()["loadbalancer"]["vip_address"] == vip
    assert "was not running: started" in lab.server.log.read_text()
    seen = lab.requests(url, 20)
    assert seen["errors"] == [] and set(seen["bodies"]) == {"m1", "m2"}
    # The HAProxy started again runs at the configured priority, and so does
    # its session's scheduling group (where the kernel groups by session).
    pid = int((lab.data_dir / "loadbalancer" / lb_id / "haproxy.pid").read_text().split()[0])
    assert os.getpriority(os.PRIO_PROCESS, pid) == -1
    autogroup = Path(f"/proc/{pid}/autogroup")
    if autogroup.exists():
        assert autogroup.read_text().split()[-1] == "-1", autogroup.read_text()
    for proc in servers.values():
        proc.kill()
