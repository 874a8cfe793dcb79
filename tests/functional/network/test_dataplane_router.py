"""Routers: routing between subnets, SNAT to the external network, and a
floating IP the host reaches."""

from __future__ import annotations

from dataclasses import replace

from stratus.network.drivers.base import FloatingIPSpec, Route, RouterSpec
from tests.functional.network.lab import Lab, allow, sh, uid

PEER = "SYSTEM:echo $SOCAT_PEERADDR"  # a server that answers with who asked


def test_a_router_routes_snats_and_holds_floating_ips(lab: Lab) -> None:
    settings = lab.host_settings("h1", 1, tunnel=False)
    t = lab.topo
    ext = t.network("198.18.0.0/24", dhcp=False, external=True)
    net_a = t.network("10.41.0.0/24")
    net_b = t.network("10.42.0.0/24")
    sg = t.group((allow("egress"), allow("ingress", "icmp"), allow("ingress", "tcp", 80)))
    pa = t.port("h1", net_a, "10.41.0.11", (sg,))
    pb = t.port("h1", net_b, "10.42.0.12", (sg,))
    pc = t.port("h1", net_a, "10.41.0.13", (sg,))
    t.serve_dhcp("h1", net_a)
    t.serve_dhcp("h1", net_b)
    router = t.router("h1", RouterSpec(
        id=uid(),
        gateway=t.router_port(ext, "198.18.0.10"),
        gateway_nexthops=("198.18.0.1",),
        interfaces=(t.router_port(net_a, "10.41.0.1"), t.router_port(net_b, "10.42.0.1")),
    ))  # fmt: skip
    ga, gb, gc = lab.guest("h1", pa), lab.guest("h1", pb), lab.guest("h1", pc)
    lab.start_agent("h1", settings)
    lab.apply()
    assert ga.dhcp() == "10.41.0.11"
    assert gb.dhcp() == "10.42.0.12"

    # Routed between the two subnets.
    assert ga.ping("10.42.0.12", count=3)
    ga.serve(80)
    assert gb.connect("10.41.0.11", 80) == "hello"

    # To the external network through SNAT: the host sees the gateway's address.
    lab.background("ip", "netns", "exec", lab.hostns("h1"), "socat",
                   "TCP-LISTEN:8080,bind=198.18.0.1,fork,reuseaddr", PEER)  # fmt: skip
    assert gb.ping("198.18.0.1", count=3)
    assert gb.connect("198.18.0.1", 8080) == "198.18.0.10"
    # Nothing reaches a guest from the host without a floating IP.
    assert not lab.host_pings("h1", "10.41.0.11")
    assert not lab.host_pings("h1", "198.18.0.50")

    # A floating IP: the host reaches the guest on it, and the guest goes out as it.
    t.router(
        "h1",
        replace(router, floating_ips=(FloatingIPSpec(uid(), "198.18.0.50", "10.41.0.11", pa.id),)),
    )
    lab.apply()
    assert lab.host_pings("h1", "198.18.0.50", count=3)
    assert (
        lab.on_host("h1", "socat", "-T", "3", "-", "TCP:198.18.0.50:80,connect-timeout=3").strip()
        == "hello"
    )
    assert ga.connect("198.18.0.1", 8080) == "198.18.0.50"
    # Other guests reach it on its floating IP too, through the router, from
    # another subnet or its own (answered back through the router).
    assert gb.connect("198.18.0.50", 80) == "hello"
    assert gc.dhcp() == "10.41.0.13"
    assert gc.connect("198.18.0.50", 80) == "hello"

    # Static routes land in the router's namespace, and go when removed.
    t.router("h1", replace(router, routes=(Route("10.43.0.0/24", "10.41.0.13"),)))
    lab.apply()
    ns = f"{lab.hostns('h1')}-qrouter-{router.id}"
    assert "10.43.0.0/24 via 10.41.0.13" in sh("ip", "-n", ns, "route", "show")
    t.router("h1", router)
    lab.apply()
    assert "10.43.0.0/24" not in sh("ip", "-n", ns, "route", "show")

    # Without SNAT, the inside does not reach the outside (no route back).
    t.router("h1", replace(router, enable_snat=False))
    lab.apply()
    assert gb.connect("198.18.0.1", 8080) is None
