"""The metadata proxy: a guest asks 169.254.169.254 (routed to its
network's DHCP port by DHCP option 121) and the upstream metadata API gets
the request with Nova's headers naming the guest's server and project."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.functional.network.lab import Lab, allow, sh, wait_for


class Upstream(BaseHTTPRequestHandler):
    """Answers every request with what it got: path and headers."""

    def do_GET(self) -> None:
        body = json.dumps({"path": self.path, "headers": dict(self.headers)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def upstream() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_guests_get_their_own_metadata(lab: Lab, upstream: str) -> None:
    settings = replace(lab.host_settings("h1", 1, tunnel=False), metadata_upstream=upstream)
    t = lab.topo
    net = t.network("10.61.0.0/24")
    sg = t.group((allow("egress"),))
    p1 = t.port("h1", net, "10.61.0.11", (sg,))
    p2 = t.port("h1", net, "10.61.0.12", (sg,))
    t.serve_dhcp("h1", net)
    g1, g2 = lab.guest("h1", p1), lab.guest("h1", p2)
    lab.start_agent("h1", settings)
    lab.apply()
    g1.dhcp()
    g2.dhcp()

    for guest, port in ((g1, p1), (g2, p2)):
        out = guest.run(
            "curl", "-sf", "-m", "10", "-H", "X-Instance-ID: someone-else",
            "http://169.254.169.254/openstack/latest/meta_data.json",
        )  # fmt: skip
        seen = json.loads(out)
        headers = {k.lower(): v for k, v in seen["headers"].items()}
        assert seen["path"] == "/openstack/latest/meta_data.json"
        assert headers["x-instance-id"] == port.device_id
        assert headers["x-tenant-id"] == port.project_id
        assert headers["x-forwarded-for"] == port.fixed_ips[0].ip_address
        expected = hmac.new(b"s3cret", port.device_id.encode(), hashlib.sha256).hexdigest()
        assert headers["x-instance-id-signature"] == expected

    # Behind the agent's back, its dnsmasq is killed and then the whole
    # DHCP namespace deleted: the next comparison with the host repairs both.
    agent = lab.agents["h1"]
    for breakage in ("kill", "delete"):
        if breakage == "kill":
            for pid in lab.dnsmasq_pids():
                os.kill(pid, signal.SIGKILL)
            wait_for("dnsmasq gone", lambda: not lab.dnsmasq_pids())
        else:
            sh("ip", "netns", "delete", f"{settings.host_namespace}-qdhcp-{net.id}")
        agent.call(agent.agent.resync())
        lab.apply()
        assert g1.dhcp() == "10.61.0.11"
        out = g1.run(
            "curl", "-sf", "-m", "10", "http://169.254.169.254/openstack/latest/meta_data.json"
        )
        assert json.loads(out)["headers"]["X-Instance-ID"] == p1.device_id
    assert len(lab.dnsmasq_pids()) == 1

    # An address no port has gets nothing.
    g2.run("ip", "addr", "flush", "dev", "eth0")
    t.update_port(replace(p2, port_security_enabled=False, security_group_ids=()))
    lab.apply()
    g2.run("ip", "addr", "add", "10.61.0.77/24", "dev", "eth0")
    g2.run("ip", "route", "add", "169.254.169.254", "via", "10.61.0.2")
    code = g2.run("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "10",
                  "http://169.254.169.254/", check=False)  # fmt: skip
    assert code == "404"
