"""Two hosts on one machine, each in its own namespace with its own agent,
share a network over VXLAN through the underlay bridge."""

from __future__ import annotations

import json

import pytest

from stratus.network import vif
from stratus.network.drivers.base import DataPlaneError
from tests.functional.network.lab import Lab, allow, sh


def test_two_hosts_share_a_network_over_vxlan(lab: Lab) -> None:
    s1 = lab.host_settings("h1", 1)
    s2 = lab.host_settings("h2", 2)
    t = lab.topo
    net = t.network("10.71.0.0/24")
    other = t.network("10.72.0.0/24", dhcp=False)
    sg = t.group((allow("egress"), allow("ingress", "icmp"), allow("ingress", "tcp", 80)))
    p1 = t.port("h1", net, "10.71.0.11", (sg,))
    p2 = t.port("h2", net, "10.71.0.12", (sg,))
    p3 = t.port("h2", other, "10.72.0.13", (sg,))
    t.serve_dhcp("h1", net)  # h1 is the network host: DHCP for both
    g1, g2, g3 = lab.guest("h1", p1), lab.guest("h2", p2), lab.guest("h2", p3)
    lab.start_agent("h1", s1)
    lab.start_agent("h2", s2)
    lab.apply()
    assert lab.source.agents == {"h1": "100.127.1.1", "h2": "100.127.2.1"}

    assert g1.dhcp() == "10.71.0.11"
    assert g2.dhcp() == "10.71.0.12"  # from h1's dnsmasq, across the tunnel
    assert g1.ping("10.71.0.12", count=3)
    g2.serve(80)
    assert g1.connect("10.71.0.12", 80) == "hello"
    # A network only h2 holds has no tunnel, and the other stays apart.
    g3.configure()
    assert not g3.ping("10.71.0.12", count=2)

    # Each host holds only its own: the tunnels go to the other host only.
    fdb = json.loads(
        sh("bridge", "-n", s1.host_namespace, "-json", "fdb", "show", "dev", "vx" + net.id[:11])
    )
    assert {e["dst"] for e in fdb if e.get("dst")} == {"100.127.2.1"}
    links_h2 = sh("ip", "-n", s2.host_namespace, "-br", "link")
    assert p1.tap not in links_h2 and p2.tap in links_h2
    # A restarted agent adopts the tunnels as they are (nothing made again).
    before = sh("ip", "-n", s1.host_namespace, "-o", "link", "show")
    lab.stop_agent("h1")
    lab.start_agent("h1", s1)
    lab.apply()
    assert sh("ip", "-n", s1.host_namespace, "-o", "link", "show") == before
    assert g1.ping("10.71.0.12", count=2)
    # Only the agent makes taps: asking for one that does not exist fails.
    with pytest.raises(DataPlaneError, match="does not exist"):
        vif.open_tap(p3.id, s1.host_namespace)
    # The underlay is a bridge without an address in the root namespace.
    assert (
        json.loads(sh("ip", "-json", "addr", "show", "dev", lab.underlay))[0].get("addr_info", [])
        == []
    )
