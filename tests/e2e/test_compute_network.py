"""Compute on the real network data plane, as a user would: the openstack
CLI, two tiny QEMU guests on a project network, the data plane in a host
namespace of this test's own (the cloud's ``[network] host_namespace``).

One flow shares the guests: their DHCP addresses are what ``server show``
says; a floating IP reaches a guest from the host (SSH with the keypair,
dropbear in the guest), and from there the other guest answers a ping; a
security group rule lets a port through and its removal cuts it; a guest
reads its metadata from 169.254.169.254; a network added to a running
server appears in the guest and goes again.  Everything made is removed
afterwards (guests, dnsmasq, namespaces).  The guests' web servers are then
the members of a load balancer, reached through a floating IP on its VIP;
a stopped guest's member goes ERROR and out of the rotation, and comes back
when the guest is started."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import clirun
from tests.conftest import BIN, Server, free_port, start_server
from tests.e2e.test_compute_acceptance import wait_host
from tests.functional.network.lab import needs_root

QEMU = shutil.which("qemu-system-x86_64")
BOOT = 600
HOST = "netcompute"
pytestmark = [
    needs_root,
    pytest.mark.skipif(QEMU is None, reason="qemu-system-x86_64 is not installed"),
]
# The guest's busybox wget reads the metadata service (bounded by timeout:
# Debian's static busybox has no wget -T, and asking for it crashes wget).
USER_DATA = """#!/bin/sh
mkdir -p /www && hostname > /www/index.html
httpd -p 8080 -h /www
for i in $(seq 30); do
    meta=$(timeout 3 wget -q -O - http://169.254.169.254/openstack/latest/meta_data.json)
    case "$meta" in *uuid*) break ;; esac
    sleep 1
done
echo "e2e-meta: $meta"
"""


class NetCloud:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="snc-", dir="/tmp"))
        self.ns = f"snc{uuid.uuid4().hex[:6]}"
        self.server: Server = start_server(
            self.dir,
            port=free_port(),
            STRATUS_NETWORK__DRIVER="linux",
            STRATUS_NETWORK__HOST_NAMESPACE=self.ns,
            STRATUS_COMPUTE__HOST=HOST,
            STRATUS_COMPUTE__SYNC_INTERVAL="2",
            STRATUS_LOADBALANCER__DRIVER="haproxy",
        )
        wait_host(self.server)

    def osc(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = clirun.run(
            [str(BIN / "openstack"), *args],
            env=self.server.env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        if check:
            assert proc.returncode == 0, f"openstack {' '.join(args)}: {proc.stdout}\n{proc.stderr}"
        return proc

    def json(self, *args: str) -> Any:
        return json.loads(self.osc(*args, "-f", "json").stdout)

    def in_ns(self, *argv: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "netns", "exec", self.ns, *argv], capture_output=True, text=True, timeout=timeout
        )

    def console(self, name: str) -> str:
        return self.osc("console", "log", "show", name).stdout

    def wait_console(self, name: str, pattern: str, timeout: float = BOOT) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(pattern, self.console(name))
            if found:
                return found
            assert time.monotonic() < deadline, (
                f"{pattern!r} not on {name}'s console:\n{self.console(name)[-3000:]}"
            )
            time.sleep(1)

    def wait_status(
        self, name: str, status: str = "ACTIVE", timeout: float = BOOT
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            shown = self.json("server", "show", name)
            if shown["status"] == status:
                return shown  # type: ignore[no-any-return]
            assert shown["status"] != "ERROR", shown
            assert time.monotonic() < deadline, f"{name} not {status}: {shown['status']}"
            time.sleep(1)

    def cleanup(self) -> None:
        with contextlib.suppress(Exception):
            for server in self.json("server", "list"):
                self.osc("server", "delete", "--wait", server["ID"], check=False)
        with contextlib.suppress(Exception):
            self.server.stop()
        for pid in _pids_with(str(self.dir)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        listed = subprocess.run(
            ["ip", "-json", "netns", "list"], capture_output=True, text=True
        ).stdout
        for entry in json.loads(listed or "[]"):
            if entry.get("name", "").startswith(self.ns):
                subprocess.run(["ip", "netns", "delete", entry["name"]], check=False)
        for lb in (self.dir / "loadbalancer").glob("*"):  # a load balancer's namespace
            subprocess.run(["ip", "netns", "delete", f"lb-{lb.name}"], check=False)
        Path(f"/run/stratus/network-{self.ns}.lock").unlink(missing_ok=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def _pids_with(text: str) -> list[int]:
    """Processes (qemu, dnsmasq) whose command line names this cloud's folder."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if text.encode() in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
    return pids


@pytest.fixture(scope="module")
def cloud() -> Iterator[NetCloud]:
    c = NetCloud()
    try:
        yield c
    finally:
        c.cleanup()


def fixed_ip(server: dict[str, Any], network: str) -> str:
    addresses = server["addresses"]
    if isinstance(addresses, dict):
        return str(addresses[network][0])
    return str(re.search(rf"{network}=([\d.]+)", str(addresses)).group(1))  # type: ignore[union-attr]


def test_two_guests_on_a_project_network(cloud: NetCloud, tmp_path: Path) -> None:
    osc = cloud.osc
    osc("network", "create", "net1")
    osc("subnet", "create", "--network", "net1", "--subnet-range", "10.77.0.0/24", "sub1")
    osc("router", "create", "r1")
    osc("router", "set", "--external-gateway", "public", "r1")
    osc("router", "add", "subnet", "r1", "sub1")
    osc("security", "group", "rule", "create", "--protocol", "icmp", "default")
    osc("security", "group", "rule", "create", "--dst-port", "22", "default")
    key = tmp_path / "k.pem"
    osc("keypair", "create", "--private-key", str(key), "k")
    key.chmod(0o600)
    script = tmp_path / "user-data.sh"
    script.write_text(USER_DATA)
    for name in ("vm1", "vm2"):
        osc("server", "create", "--image", "tiny", "--flavor", "m1.tiny", "--nic", "net-id=net1",
            "--key-name", "k", "--user-data", str(script), name)  # fmt: skip
    vm1, vm2 = cloud.wait_status("vm1"), cloud.wait_status("vm2")
    ip1, ip2 = fixed_ip(vm1, "net1"), fixed_ip(vm2, "net1")
    assert ip1.startswith("10.77.0.") and ip2.startswith("10.77.0.") and ip1 != ip2

    # DHCP gave each guest the address the API shows.
    cloud.wait_console("vm1", rf"stratus-tiny: eth0 {re.escape(ip1)}\b")
    cloud.wait_console("vm2", rf"stratus-tiny: eth0 {re.escape(ip2)}\b")

    # The guest read its own metadata through 169.254.169.254.
    meta = cloud.wait_console("vm1", r"e2e-meta: (\{.*\})")
    assert json.loads(meta.group(1))["uuid"] == vm1["id"]

    # A floating IP reaches vm1 from the host; from there vm2 answers.
    fip = cloud.json("floating", "ip", "create", "public")["floating_ip_address"]
    osc("server", "add", "floating", "ip", "vm1", fip)
    shown = cloud.json("server", "show", "vm1")
    assert fip in json.dumps(shown["addresses"])
    cloud.wait_console("vm1", r"stratus-tiny: ready")
    ssh = ["ssh", "-i", str(key), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
           "-o", "ConnectTimeout=10", "-o", "BatchMode=yes", f"root@{fip}"]  # fmt: skip
    deadline = time.monotonic() + 180
    while True:
        done = cloud.in_ns(*ssh, f"ping -c 3 -W 2 {ip2}", timeout=60)
        if done.returncode == 0:
            break
        assert time.monotonic() < deadline, (
            f"ssh to {fip} and ping {ip2}: {done.stdout}\n{done.stderr}"
        )
        time.sleep(3)
    assert "3 packets received" in done.stdout or " 0% packet loss" in done.stdout, done.stdout

    # Security groups: port 8080 is closed until a rule opens it, and a
    # removed rule closes it again for new connections.
    def web() -> bool:
        return cloud.in_ns("curl", "-sf", "-m", "3", f"http://{fip}:8080/").returncode == 0

    assert not web()
    rule = cloud.json("security", "group", "rule", "create", "--dst-port", "8080", "default")["id"]
    deadline = time.monotonic() + 30
    while not web():
        assert time.monotonic() < deadline, "the rule for 8080 never took effect"
        time.sleep(0.5)
    osc("security", "group", "rule", "delete", rule)
    deadline = time.monotonic() + 30
    while web():
        assert time.monotonic() < deadline, "the removed rule still lets 8080 through"
        time.sleep(0.5)

    # A network added to the running vm1: the guest sees the NIC come and go.
    osc("network", "create", "net2")
    osc("subnet", "create", "--network", "net2", "--subnet-range", "10.78.0.0/24", "sub2")
    osc("server", "add", "network", "vm1", "net2")
    shown = cloud.json("server", "show", "vm1")
    ip3 = fixed_ip(shown, "net2")
    (port2,) = cloud.json("port", "list", "--server", "vm1", "--network", "net2")
    mac = port2["MAC Address"]
    cloud.wait_console("vm1", rf"stratus-tiny: nic added eth1 {mac}")
    cloud.wait_console("vm1", rf"stratus-tiny: eth1 {re.escape(ip3)}\b")
    osc("server", "remove", "network", "vm1", "net2")
    cloud.wait_console("vm1", r"stratus-tiny: nic removed")
    assert "net2" not in json.dumps(cloud.json("server", "show", "vm1")["addresses"])

    load_balancer_over_the_guests(cloud, ip1, ip2, ssh)

    # Deleting the servers deletes the ports Nova made for them.
    for name in ("vm1", "vm2"):
        osc("server", "delete", "--wait", name)
    assert cloud.json("port", "list", "--device-owner", "compute:nova") == []


def load_balancer_over_the_guests(cloud: NetCloud, ip1: str, ip2: str, ssh: list[str]) -> None:
    """The two guests' web servers (busybox httpd on 8080 from their user
    data, serving their hostnames) as the members of a load balancer, through
    a floating IP on its VIP from the host and through the VIP itself from a
    guest on the network (``ssh``: a command line running a shell command on
    vm1).  The HTTP health monitor sees both ONLINE; ``server stop vm2``
    turns its member ERROR and the load balancer DEGRADED, and every request
    goes to vm1; ``server start vm2`` brings it back ONLINE and into the
    rotation."""
    osc = cloud.osc
    osc("security", "group", "rule", "create", "--dst-port", "8080", "--remote-ip",
        "10.77.0.0/24", "default")  # fmt: skip
    lb = cloud.json("loadbalancer", "create", "--vip-subnet-id", "sub1", "--name", "lb1", "--wait")
    osc("loadbalancer", "listener", "create", "--protocol", "HTTP", "--protocol-port", "80",
        "--name", "l1", "--wait", "lb1")  # fmt: skip
    osc("loadbalancer", "pool", "create", "--lb-algorithm", "ROUND_ROBIN", "--listener", "l1",
        "--protocol", "HTTP", "--name", "p1", "--wait")  # fmt: skip
    for ip in (ip1, ip2):
        osc("loadbalancer", "member", "create", "--address", ip, "--protocol-port", "8080",
            "--subnet-id", "sub1", "--wait", "p1")  # fmt: skip
    osc("loadbalancer", "healthmonitor", "create", "--type", "HTTP", "--delay", "2", "--timeout",
        "1", "--max-retries", "2", "--url-path", "/", "--wait", "p1")  # fmt: skip
    fip = cloud.json("floating", "ip", "create", "--port", lb["vip_port_id"], "public")
    url = f"http://{fip['floating_ip_address']}/"

    def health() -> tuple[str, dict[str, str]]:
        """The load balancer's operating_status and each member's, by address."""
        members = cloud.json("loadbalancer", "member", "list", "p1")
        shown = cloud.json("loadbalancer", "show", "lb1")
        return shown["operating_status"], {m["address"]: m["operating_status"] for m in members}

    def wait_health(lb_status: str, members: dict[str, str], timeout: float = 120) -> float:
        """Poll until seen; the seconds it took."""
        started = time.monotonic()
        while (seen := health()) != (lb_status, members):
            assert time.monotonic() - started < timeout, f"want {lb_status} {members}, see {seen}"
            time.sleep(1)
        return time.monotonic() - started

    def answers(n: int) -> dict[str, int]:
        """Who answers n requests from the host, one curl each ("FAIL": none)."""
        loop = f"for i in $(seq {n}); do curl -sf -m 5 {url} || echo FAIL; done"
        got = cloud.in_ns("sh", "-c", loop, timeout=n * 6)
        counts: dict[str, int] = {}
        for body in got.stdout.split():
            counts[body] = counts.get(body, 0) + 1
        return counts

    wait_health("ONLINE", {ip1: "ONLINE", ip2: "ONLINE"})
    spread = answers(100)
    assert set(spread) == {"vm1", "vm2"} and sum(spread.values()) == 100, spread
    assert min(spread.values()) >= 40, spread
    # The VIP itself, from vm1 on the tenant network: both guests answer,
    # vm1 too (HAProxy's own connection to it, from the VIP's address).
    got = cloud.in_ns(*ssh, f"for i in 1 2 3 4 5 6; do wget -q -O - http://{lb['vip_address']}/; done",
                      timeout=60)  # fmt: skip
    assert got.returncode == 0, f"wget from vm1: {got.stdout}\n{got.stderr}"
    answers_vm1 = got.stdout.split()
    assert sorted(answers_vm1) == ["vm1"] * 3 + ["vm2"] * 3, got.stdout

    # A member's server stopped: its health checks fail, it goes ERROR and
    # the load balancer DEGRADED; vm1 alone answers, and nothing fails.
    osc("server", "stop", "vm2")
    cloud.wait_status("vm2", "SHUTOFF", timeout=120)
    down = wait_health("DEGRADED", {ip1: "ONLINE", ip2: "ERROR"}, timeout=30)
    alone = answers(30)
    assert alone == {"vm1": 30}, alone
    # Started again (its user data starts httpd on boot): back in the rotation.
    osc("server", "start", "vm2")
    cloud.wait_status("vm2")
    up = wait_health("ONLINE", {ip1: "ONLINE", ip2: "ONLINE"})
    again = answers(30)
    assert set(again) == {"vm1", "vm2"} and sum(again.values()) == 30, again
    assert min(again.values()) >= 10, again
    print(f"lb answers {spread}; vm2 stopped: ERROR {down:.1f} s after SHUTOFF, {alone}; "
          f"started: ONLINE {up:.1f} s after ACTIVE, {again}")  # fmt: skip
    osc("floating", "ip", "delete", fip["id"])
    osc("loadbalancer", "delete", "--cascade", "--wait", "lb1")
