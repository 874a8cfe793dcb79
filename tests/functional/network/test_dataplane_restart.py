"""The agent restarted, cleanly or by SIGKILL: guests keep their rules,
addresses and connectivity throughout, and nothing is made twice; what
changed while it was down is done when it comes back, and what a crash left
belonging to nothing (a port's rules without its tap, dnsmasq's files
without their namespace) is removed."""

from __future__ import annotations

import re
import signal
import subprocess

from stratus.network.drivers.base import ACTIVE, FloatingIPSpec, RouterSpec
from tests.functional.network.lab import Lab, allow, default_rules, uid


def test_restart_and_sigkill_keep_everything_once(lab: Lab) -> None:
    lab.host_settings("h1", 1, tunnel=False)
    t = lab.topo
    ext = t.network("198.18.0.0/24", dhcp=False, external=True)
    net = t.network("10.81.0.0/24")
    sg = t.group()
    t.set_rules(sg, (*default_rules(sg), allow("ingress", "icmp"), allow("ingress", "tcp", 80)))
    p1 = t.port("h1", net, "10.81.0.11", (sg,))
    p2 = t.port("h1", net, "10.81.0.12", (sg,))
    t.serve_dhcp("h1", net)
    t.router("h1", RouterSpec(
        id=uid(), gateway=t.router_port(ext, "198.18.0.10"), gateway_nexthops=("198.18.0.1",),
        interfaces=(t.router_port(net, "10.81.0.1"),),
        floating_ips=(FloatingIPSpec(uid(), "198.18.0.60", "10.81.0.11", p1.id),),
    ))  # fmt: skip
    g1, g2 = lab.guest("h1", p1), lab.guest("h1", p2)
    agent = lab.spawn_agent("h1")
    for g in (g1, g2):
        lab.wait_forwarding(g)
    assert g1.dhcp() == "10.81.0.11"
    assert g2.dhcp() == "10.81.0.12"
    g1.serve(80)
    assert lab.host_pings("h1", "198.18.0.60", count=2)
    before = lab.snapshot("h1")
    assert len(before["dnsmasq"]) == 1

    # Pings run all along: through a SIGKILL, a restart, a clean stop and
    # another restart.  None is lost.
    pinger = subprocess.Popen(
        ["ip", "netns", "exec", g2.netns, "ping", "-n", "-i", "0.1", "-c", "80", "10.81.0.11"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    agent.send_signal(signal.SIGKILL)
    agent.wait(10)
    agent = lab.spawn_agent("h1")
    agent.send_signal(signal.SIGTERM)
    assert agent.wait(30) == 0
    agent = lab.spawn_agent("h1")
    out, _ = pinger.communicate(timeout=60)
    sent, received = map(int, re.search(r"(\d+) packets transmitted, (\d+) received", out).groups())  # type: ignore[union-attr]
    assert sent == received == 80

    assert lab.snapshot("h1") == before
    assert g2.dhcp() == "10.81.0.12"
    assert (
        lab.on_host("h1", "socat", "-T", "3", "-", "TCP:198.18.0.60:80,connect-timeout=3").strip()
        == "hello"
    )

    # Killed, then the world changes: a port goes, another comes.
    agent.send_signal(signal.SIGKILL)
    agent.wait(10)
    t.drop_port(p2.id)
    p3 = t.port("h1", net, "10.81.0.13", (sg,))
    g3 = lab.guest("h1", p3)
    # What a crash half-way through other work leaves, planted meanwhile:
    # a port's rules without its tap, dnsmasq's files of a network whose
    # namespace is gone.
    lost_port, lost_net = uid(), uid()
    chains = (f"bridge stratus_net s_{lost_port}", f"inet stratus_net e_{lost_port}",
              f"inet stratus_net i_{lost_port}")  # fmt: skip
    script = "".join(f"add chain {c}\n" for c in chains)
    subprocess.run(["ip", "netns", "exec", lab.hostns("h1"), "nft", "-f", "-"],
                   input=script, text=True, check=True)  # fmt: skip
    leftover = lab.settings["h1"].state_dir / "dhcp" / lost_net
    leftover.mkdir(parents=True)
    (leftover / "leases").write_text("")
    agent = lab.spawn_agent("h1")
    lab.wait_forwarding(g3)
    assert lab.statuses("h1")[p3.id] == ACTIVE
    assert g3.dhcp() == "10.81.0.13"
    assert g3.ping("10.81.0.11", count=2)
    after = lab.snapshot("h1")
    assert not any(p2.id in line or p2.tap in line for line in after["links"] + after["rules"])
    assert not any(lost_port in line for line in after["rules"])
    assert not leftover.exists()
    log = (lab.dir / "h1.agent.log").read_text()
    assert f"removing port:{lost_port}, which belongs to nothing" in log
    assert f"removing dhcp:{lost_net}, which belongs to nothing" in log
    assert len(after["dnsmasq"]) == 1
    agent.send_signal(signal.SIGTERM)
    assert agent.wait(30) == 0
