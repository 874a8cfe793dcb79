"""One host's networks: guests get their addresses by DHCP and reach each
other on their network and nothing on another; a guest cannot send as
another address or MAC."""

from __future__ import annotations

import json
from dataclasses import replace

from stratus.network.drivers.base import AddressPair, ns_port_name
from tests.functional.network.lab import Lab, allow, default_rules, sh, wait_for


def test_guests_on_a_network_get_their_addresses_and_reach_each_other(lab: Lab) -> None:
    settings = lab.host_settings("h1", 1, tunnel=False)
    t = lab.topo
    net1 = t.network("10.31.0.0/24")
    net2 = t.network("10.32.0.0/24")
    sg = t.group()
    t.set_rules(sg, (*default_rules(sg), allow("ingress", "icmp")))
    p1 = t.port("h1", net1, "10.31.0.11", (sg,))
    p2 = t.port("h1", net1, "10.31.0.12", (sg,))
    p3 = t.port("h1", net2, "10.32.0.13", (sg,))
    t.serve_dhcp("h1", net1)
    t.serve_dhcp("h1", net2)
    g1, g2, g3 = lab.guest("h1", p1), lab.guest("h1", p2), lab.guest("h1", p3)
    lab.start_agent("h1", settings)
    lab.apply()
    for p in (p1, p2, p3):
        lab.source.wait_status(p.id)

    assert g1.dhcp() == "10.31.0.11"
    assert g2.dhcp() == "10.31.0.12"
    assert g3.dhcp() == "10.32.0.13"
    assert g1.ping("10.31.0.12") and g2.ping("10.31.0.11")
    # Another network is another segment: nothing gets across.
    assert not g3.ping("10.31.0.11", count=2)
    g3.run("ip", "addr", "add", "10.31.0.99/24", "dev", "eth0")
    assert not g3.ping("10.31.0.11", count=2)
    # One dnsmasq per network.
    assert len(lab.dnsmasq_pids()) == 2
    # g2's port deleted and its address given to a new port (another MAC),
    # as the lowest free address is: the new guest gets it, not refused
    # because dnsmasq still held g2's lease.
    t.drop_port(p2.id)
    p4 = t.port("h1", net1, "10.31.0.12", (sg,))
    g4 = lab.guest("h1", p4)
    lab.guests.remove(g2)  # its port is gone: nothing of it to wait for
    lab.apply()
    lab.source.wait_status(p4.id)
    assert g4.dhcp() == "10.31.0.12"


def test_a_guest_cannot_send_as_another_address_or_mac(lab: Lab) -> None:
    settings = lab.host_settings("h1", 1, tunnel=False)
    t = lab.topo
    net = t.network("10.33.0.0/24", dhcp=False)
    sg = t.group()
    t.set_rules(sg, (*default_rules(sg), allow("ingress", "icmp")))
    p1 = t.port("h1", net, "10.33.0.11", (sg,))
    p2 = t.port("h1", net, "10.33.0.12", (sg,))
    g1, g2 = lab.guest("h1", p1), lab.guest("h1", p2)
    lab.start_agent("h1", settings)
    lab.apply()
    g1.configure()
    g2.configure()
    assert g1.ping("10.33.0.12")

    # Another IP: dropped.
    g1.run("ip", "addr", "flush", "dev", "eth0")
    g1.run("ip", "addr", "add", "10.33.0.50/24", "dev", "eth0")
    assert not g1.ping("10.33.0.12", count=2)
    # Its own IP from another MAC: dropped.
    g1.run("ip", "addr", "flush", "dev", "eth0")
    g1.configure()
    g1.run("ip", "link", "set", "eth0", "address", "fa:16:3e:99:99:99")
    assert not g1.ping("10.33.0.12", count=2)
    g1.run("ip", "link", "set", "eth0", "address", p1.mac_address)
    assert g1.ping("10.33.0.12", count=3)
    # An allowed address pair may send.
    t.update_port(replace(p1, allowed_address_pairs=(AddressPair("10.33.0.60", ""),)))
    lab.apply()
    g1.run("ip", "addr", "flush", "dev", "eth0")
    g1.run("ip", "addr", "add", "10.33.0.60/24", "dev", "eth0")
    assert g1.ping("10.33.0.12", count=3)


def test_a_guest_cannot_answer_as_a_dhcp_server(lab: Lab) -> None:
    settings = lab.host_settings("h1", 1, tunnel=False)
    t = lab.topo
    net = t.network("10.34.0.0/24", dhcp=False)
    sg = t.group((allow("egress"), allow("ingress", "udp", 5000)))
    rogue = lab.guest("h1", t.port("h1", net, "10.34.0.11", (sg,)))
    victim = lab.guest("h1", t.port("h1", net, "10.34.0.12", (sg,)))
    lab.start_agent("h1", settings)
    lab.apply()
    rogue.configure()
    victim.configure()

    def received(source_port: int, dest_port: int) -> str:
        listener = lab.background(
            "ip", "netns", "exec", victim.netns, "sh", "-c",
            f"timeout 3 socat -u UDP-RECV:{dest_port} - > {lab.dir}/got-{source_port}",
        )  # fmt: skip
        wait_for("the listener", lambda: f":{dest_port} " in victim.run("ss", "-lunH"))
        rogue.run(
            "sh",
            "-c",
            f"echo offer | socat -u - UDP-SENDTO:10.34.0.12:{dest_port},sourceport={source_port}",
        )
        listener.wait(10)
        return (lab.dir / f"got-{source_port}").read_text()

    assert received(4000, 5000) == "offer\n"  # what the rule allows arrives
    assert received(67, 68) == ""  # a DHCP server's answer from a guest does not


def test_ipv6_neighbours_reach_each_other_and_spoofing_is_dropped(lab: Lab) -> None:
    settings = lab.host_settings("h1", 1, tunnel=False)
    t = lab.topo
    net = t.network("fd00:35::/64", dhcp=False, gateway=False)
    sg = t.group()
    t.set_rules(sg, default_rules(sg))
    p1 = t.port("h1", net, "fd00:35::11", (sg,))
    p2 = t.port("h1", net, "fd00:35::12", (sg,))
    p3 = t.port("h1", net, "fd00:35::13", (t.group((allow("egress", ethertype="IPv6"),)),))
    g1, g2, g3 = lab.guest("h1", p1), lab.guest("h1", p2), lab.guest("h1", p3)
    lab.start_agent("h1", settings)
    lab.apply()
    for g in (g1, g2, g3):
        g.configure()
    assert g1.ping("fd00:35::12", count=3)  # neighbour discovery passes, the group admits members
    assert not g3.ping("fd00:35::12", count=2)  # not a member
    g1.run("ip", "addr", "add", "fd00:35::99/64", "dev", "eth0", "nodad")
    assert not g1.ping("fd00:35::12", count=2, source="fd00:35::99")


def test_a_namespace_port_is_a_service_address_on_the_network(lab: Lab) -> None:
    """A port bound with ``binding:profile`` ``{"netns": NAME}`` (a load
    balancer's VIP, a database's address) becomes an interface in that
    namespace, with its address and the subnet's gateway as default route,
    filtered like a guest's port."""
    settings = lab.host_settings("h1", 1, tunnel=False)
    t = lab.topo
    net = t.network("10.34.0.0/24", dhcp=False)
    sg = t.group()
    t.set_rules(sg, (*default_rules(sg), allow("ingress", "icmp")))
    p1 = t.port("h1", net, "10.34.0.11", (sg,))
    g1 = lab.guest("h1", p1)
    vip_sg = t.group()
    t.set_rules(vip_sg, (allow("ingress", "icmp"),))
    service_ns = f"{lab.prefix}svc"
    sh("ip", "netns", "add", service_ns)  # the service makes its namespace first
    vip = t.port(
        "h1", net, "10.34.0.20", (vip_sg,),
        netns=service_ns, addresses=("10.34.0.20/24",), gateway="10.34.0.1",
    )  # fmt: skip
    lab.start_agent("h1", settings)
    lab.apply()
    lab.source.wait_status(vip.id)
    g1.configure()

    inside = json.loads(sh("ip", "-n", service_ns, "-json", "addr", "show"))
    addrs = {(i["ifname"], a["local"]) for i in inside for a in i.get("addr_info", [])}
    assert (ns_port_name(vip.id), "10.34.0.20") in addrs
    assert "default via 10.34.0.1" in sh("ip", "-n", service_ns, "route")
    wait_for("the VIP answers", lambda: g1.ping("10.34.0.20"))
    # Its filtering is a port's: without the ICMP rule, no answer.
    t.set_rules(vip_sg, ())
    lab.apply()
    wait_for("ICMP refused", lambda: not g1.ping("10.34.0.20"))
    # Gone with its port; the namespace itself is its owner's.
    t.drop_port(vip.id)
    lab.apply()
    wait_for(
        "the interface removed",
        lambda: ns_port_name(vip.id) not in sh("ip", "-n", service_ns, "link"),
    )
