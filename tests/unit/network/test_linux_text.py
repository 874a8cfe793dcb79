"""What the Linux data plane writes: nftables rules, dnsmasq's files and
command line, a router's NAT (pure functions, no root needed)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from stratus.network.drivers import base as b
from stratus.network.drivers.linux import dhcp, nftrules, router
from stratus.network.drivers.linux.command import CommandError
from stratus.network.drivers.linux.firewall import Firewall
from stratus.network.drivers.linux.names import Names
from stratus.network.drivers.linux.plane import conntrack_zone


def rule(**kw: object) -> b.RuleSpec:
    kw.setdefault("direction", "ingress")
    kw.setdefault("ethertype", "IPv4")
    return b.RuleSpec(id="r", **kw)  # type: ignore[arg-type]


def test_rules_become_matches() -> None:
    m = nftrules.rule_match
    assert m(rule()) == "meta nfproto ipv4 accept"
    assert m(rule(protocol="tcp", port_range_min=22, port_range_max=22)) == (
        "meta nfproto ipv4 meta l4proto 6 th dport 22 accept"
    )
    assert m(rule(direction="egress", protocol="udp", port_range_min=1000, port_range_max=2000,
                  remote_ip_prefix="10.1.0.7/24")) == (
        "meta nfproto ipv4 ip daddr 10.1.0.0/24 meta l4proto 17 th dport 1000-2000 accept"
    )  # fmt: skip
    assert m(rule(protocol="icmp", port_range_min=8, port_range_max=0)) == (
        "meta nfproto ipv4 meta l4proto 1 icmp type 8 icmp code 0 accept"
    )
    # ICMP in an IPv6 rule is ICMPv6, as in Neutron; numbers work as names do.
    assert m(rule(ethertype="IPv6", protocol="icmp")) == "meta nfproto ipv6 meta l4proto 58 accept"
    assert m(rule(protocol="47")) == "meta nfproto ipv4 meta l4proto 47 accept"
    assert m(rule(remote_group_id="g2")) == "meta nfproto ipv4 ip saddr @m4_g2 accept"
    # A prefix of the other IP version never matches: no rule at all.
    assert m(rule(remote_ip_prefix="2001:db8::/64")) is None
    assert m(rule(remote_ip_prefix="0.0.0.0/0", protocol="any")) == "meta nfproto ipv4 accept"


def test_a_port_may_send_only_from_its_addresses() -> None:
    port = b.PortSpec(
        "p1", "n1", "FA:16:3E:00:00:01", (b.FixedIP("s", "10.0.0.5"), b.FixedIP("s6", "2001:db8::5")),
        allowed_address_pairs=(b.AddressPair("10.0.0.128/25", "fa:16:3e:00:00:99"), b.AddressPair("10.0.0.9", "")),
    )  # fmt: skip
    rules = nftrules.spoof_rules(port)
    assert rules[0] == "ether saddr != { fa:16:3e:00:00:01, fa:16:3e:00:00:99 } drop"
    assert "arp saddr ether fa:16:3e:00:00:01 arp saddr ip { 10.0.0.5, 0.0.0.0 } return" in rules
    assert "arp saddr ether fa:16:3e:00:00:99 arp saddr ip 10.0.0.128/25 return" in rules
    assert "ether saddr fa:16:3e:00:00:01 ip saddr 10.0.0.5 return" in rules
    assert "ether saddr fa:16:3e:00:00:01 ip saddr 10.0.0.9/32 return" in rules
    assert (
        "ether saddr fa:16:3e:00:00:01 ip6 saddr { 2001:db8::5, fe80::f816:3eff:fe00:1 } return"
        in rules
    )
    assert "udp sport 67 udp dport 68 drop" in rules  # no DHCP server
    assert "icmpv6 type nd-router-advert drop" in rules  # no router advertisements
    assert rules[-1] == "drop"


def test_a_port_script_is_one_transaction_of_its_chains_and_marks() -> None:
    port = b.PortSpec(
        "p1", "n1", "fa:16:3e:00:00:01", (b.FixedIP("s", "10.0.0.5"),), security_group_ids=("g1",)
    )
    script = nftrules.port_script(port, 7)
    assert "flush chain bridge stratus_net s_p1" in script
    assert 'add element bridge stratus_net in_marks { "tapp1" : 0x53540007 }' in script
    assert "add element inet stratus_net ingress { 0x53550007 : jump i_p1 }" in script
    assert "add rule inet stratus_net i_p1 jump gi_g1" in script
    assert script.index("add chain inet stratus_net gi_g1") < script.index("jump gi_g1")
    undo = nftrules.unfilter_script("p1", "tapp1", 7)
    assert undo.rstrip().endswith("delete chain inet stratus_net i_p1")


def test_groups_hold_their_members_and_name_remote_sets() -> None:
    group = b.SecurityGroupSpec(
        "g1",
        (rule(remote_group_id="g2"), rule(direction="egress")),
        ("10.0.0.5", "10.0.0.0/24", "2001:db8::1"),
    )
    script = nftrules.group_script(group)
    assert "add element inet stratus_net m4_g1 { 10.0.0.0/24, 10.0.0.5 }" in script
    assert "add element inet stratus_net m6_g1 { 2001:db8::1 }" in script
    assert (
        "add set inet stratus_net m4_g2 { type ipv4_addr; flags interval; auto-merge; }" in script
    )
    assert "add rule inet stratus_net gi_g1 meta nfproto ipv4 ip saddr @m4_g2 accept" in script
    assert "add rule inet stratus_net ge_g1 meta nfproto ipv4 accept" in script


def test_conntrack_zones_fold_vxlan_ids() -> None:
    assert conntrack_zone(1) == 1
    assert conntrack_zone(65535) == 65535
    assert conntrack_zone(65536) == 1


def spec_with_subnets(*subnets: b.SubnetSpec) -> b.DhcpSpec:
    net = b.NetworkSpec("n1", 5, 1450, subnets=subnets)
    hosts = (
        b.DhcpHost("FA:16:3E:00:00:05", "10.0.0.5", "host-10-0-0-5"),
        b.DhcpHost("fa:16:3e:00:00:06", "2001:db8::6", "host-2001-db8--6"),
        b.DhcpHost("fa:16:3e:00:00:07", "192.168.9.9", "elsewhere"),
    )
    return b.DhcpSpec(net, "dp", "fa:16:3e:00:00:02", ("10.0.0.2/24", "2001:db8::2/64"), hosts)


V4 = b.SubnetSpec("s4", "n1", "10.0.0.0/24", 4, "10.0.0.1", True, ("192.0.2.53",),
                  (b.Route("172.16.0.0/16", "10.0.0.254"),))  # fmt: skip
V6 = b.SubnetSpec("s6", "n1", "2001:db8::/64", 6, "2001:db8::1", True, ipv6_address_mode="dhcpv6-stateful",
                  ipv6_ra_mode="dhcpv6-stateful")  # fmt: skip


def test_dnsmasq_serves_static_ranges_with_neutrons_options() -> None:
    spec = spec_with_subnets(V4, V6)
    files = dhcp.Files(Path("/state/n1"))
    argv = dhcp.argv(spec, "ns-dp", files, "openstacklocal", "nobody")
    assert "--dhcp-range=set:subnet-s4,10.0.0.0,static,255.255.255.0,86400s" in argv
    assert "--dhcp-range=set:subnet-s6,2001:db8::,static,64,86400s" in argv
    assert "--enable-ra" in argv and "--interface=ns-dp" in argv and "--no-resolv" in argv
    options = dhcp.options(spec, metadata=True).splitlines()
    assert "tag:subnet-s4,option:router,10.0.0.1" in options
    assert "tag:subnet-s4,option:dns-server,192.0.2.53" in options
    assert "tag:subnet-s4,option:mtu,1450" in options
    routes = "172.16.0.0/16,10.0.0.254,169.254.169.254/32,10.0.0.2,0.0.0.0/0,10.0.0.1"
    assert f"tag:subnet-s4,option:classless-static-route,{routes}" in options
    assert f"tag:subnet-s4,249,{routes}" in options
    hosts, names = dhcp.hosts(spec, "openstacklocal")
    assert hosts.splitlines() == [
        "fa:16:3e:00:00:05,host-10-0-0-5.openstacklocal,10.0.0.5",
        "fa:16:3e:00:00:06,host-2001-db8--6.openstacklocal,[2001:db8::6]",
    ]
    assert "10.0.0.5\thost-10-0-0-5.openstacklocal host-10-0-0-5" in names


def test_ipv6_modes_pick_dnsmasqs_modes() -> None:
    slaac = b.SubnetSpec(
        "s", "n", "2001:db8::/64", 6, None, True, ipv6_address_mode="slaac", ipv6_ra_mode="slaac"
    )
    assert dhcp.ranges(spec_with_subnets(slaac)) == [
        "--dhcp-range=set:subnet-s,2001:db8::,ra-only,64,86400s"
    ]
    external_ra = b.SubnetSpec("s", "n", "2001:db8::/64", 6, None, True, ipv6_address_mode="slaac")
    assert dhcp.ranges(spec_with_subnets(external_ra)) == []
    disabled = b.SubnetSpec("s", "n", "10.0.0.0/24", 4, None, False)
    assert dhcp.ranges(spec_with_subnets(disabled)) == []
    no_gateway = b.SubnetSpec("s", "n", "10.0.0.0/24", 4, None, True)
    assert (
        "tag:subnet-s,option:router"
        in dhcp.options(spec_with_subnets(no_gateway), False).splitlines()
    )


def test_router_nat_is_scoped_to_its_interfaces() -> None:
    spec = b.RouterSpec(
        "r1",
        gateway=b.RouterPort("gw", "ext", "fa:16:3e:00:00:0a", ("198.18.0.10/24",)),
        gateway_nexthops=("198.18.0.1",),
        interfaces=(b.RouterPort("in", "n1", "fa:16:3e:00:00:0b", ("10.0.0.1/24",)),),
        floating_ips=(b.FloatingIPSpec("f1", "198.18.0.50", "10.0.0.5", "p1"),),
    )
    script = router.nat_script(spec)
    assert (
        'add rule ip stratus_router prerouting iifname "qg-gw" ip daddr 198.18.0.50 dnat to 10.0.0.5'
        in script
    )
    assert (
        'add rule ip stratus_router postrouting oifname "qg-gw" ip saddr 10.0.0.5 snat to 198.18.0.50'
        in script
    )
    assert 'oifname "qg-gw" ip saddr { 10.0.0.0/24 } snat to 198.18.0.10' in script
    assert script.index("snat to 198.18.0.50") < script.index("snat to 198.18.0.10")
    no_snat = router.nat_script(
        b.RouterSpec("r1", gateway=spec.gateway, enable_snat=False, interfaces=spec.interfaces)
    )
    assert "snat" not in no_snat


def test_namespaces_of_a_host_namespace_are_prefixed() -> None:
    root, lab = Names(), Names("lab1")
    assert root.dhcp_netns("n1") == "qdhcp-n1" and lab.dhcp_netns("n1") == "lab1-qdhcp-n1"
    assert lab.dhcp_of("lab1-qdhcp-n1") == "n1"
    assert root.dhcp_of("lab1-qdhcp-n1") is None  # another host's
    assert lab.router_of("lab1-qrouter-r1") == "r1" and lab.router_of("lab12-qrouter-r1") is None


def test_leases_of_addresses_given_to_another_mac_are_found() -> None:
    hosts = "fa:16:3e:00:00:02,host-a,10.0.0.5\nfa:16:3e:00:00:03,host-b,[fd00::5]\n"
    leases = (
        "1796700218 fa:16:3e:00:00:01 10.0.0.5 host-old 01:fa:16:3e:00:00:01\n"  # taken
        "1796700218 fa:16:3e:00:00:02 10.0.0.5 host-a 01:fa:16:3e:00:00:02\n"  # its owner
        "1796700218 fa:16:3e:00:00:09 10.0.0.9 host-gone *\n"  # nobody's now: harmless
        "duid 00:01:00:01:aa:bb:cc:dd:ee:ff\n"
        "1796700218 1234 fd00::5 host-b 00:01:00:01:aa\n"  # DHCPv6 names no MAC
    )
    assert dhcp.taken_leases(leases, hosts) == [
        "1796700218 fa:16:3e:00:00:01 10.0.0.5 host-old 01:fa:16:3e:00:00:01"
    ]


class ScriptPlace:
    """Where the firewall's nft runs go: recorded; a script naming "bad" fails."""

    def __init__(self) -> None:
        self.runs: list[str] = []

    async def nft(self, script: str) -> None:
        self.runs.append(script)
        if "bad" in script:
            raise CommandError(["nft", "-f", "-"], 1, "Error: No such file or directory")

    async def nft_json(self, *args: str) -> list[dict[str, object]]:
        return []


async def test_firewall_changes_asked_together_go_in_one_nft_run() -> None:
    place = ScriptPlace()
    fw = Firewall(place)  # type: ignore[arg-type]
    await asyncio.gather(*(fw._apply(f"add chain inet t c{i}\n") for i in range(3)))
    assert place.runs == ["add chain inet t c0\nadd chain inet t c1\nadd chain inet t c2\n"]
    # One bad script: the joint run fails, each runs alone, only the bad one fails.
    place.runs.clear()
    results = await asyncio.gather(
        fw._apply("add chain inet t ok1\n"),
        fw._apply("add chain inet t bad\n"),
        fw._apply("add chain inet t ok2\n"),
        return_exceptions=True,
    )
    assert [type(r).__name__ for r in results] == ["NoneType", "CommandError", "NoneType"]
    assert place.runs[1:] == [
        "add chain inet t ok1\n", "add chain inet t bad\n", "add chain inet t ok2\n",
    ]  # fmt: skip


async def test_a_firewall_change_whose_caller_gave_up_is_not_applied_later() -> None:
    place = ScriptPlace()
    gate = asyncio.Event()
    plain = place.nft

    async def slow(script: str) -> None:
        await gate.wait()
        await plain(script)

    place.nft = slow  # type: ignore[method-assign]
    fw = Firewall(place)  # type: ignore[arg-type]
    first = asyncio.create_task(fw._apply("add chain inet t a\n"))
    await asyncio.sleep(0.01)  # the first run holds the firewall
    waiting = asyncio.create_task(fw._apply("add chain inet t b\n"))
    await asyncio.sleep(0.01)
    waiting.cancel()
    gate.set()
    await first
    await fw._apply("add chain inet t c\n")
    assert place.runs == ["add chain inet t a\n", "add chain inet t c\n"]
    assert waiting.cancelled()
