"""The text of the host's nftables rules (pure functions, no I/O).

This kernel has no connection tracking in the bridge family (``ct`` there
fails with "Protocol error": nf_conntrack_bridge is not built in), so the
filtering is split in two, both in the host's namespace:

* ``bridge stratus_net`` sees each frame with the port it came in on and the
  port it goes out of.  At prerouting it checks a port's source addresses
  (anti-spoofing: MAC, ARP, IPv4, IPv6 and neighbour discovery, DHCP) and
  marks the frame with the port's slot (``IN_MARK | slot``); at postrouting
  it marks it with the slot of the port it leaves by (``OUT_MARK | slot``).
* ``inet stratus_net`` sees the IP packets of bridged frames through bridge
  netfilter (``bridge-nf-call-iptables``), with connection tracking (one
  conntrack zone per network, so that two networks may use the same
  addresses).  Its forward and input hooks send a packet marked ``IN`` to
  the sending port's egress chain; its postrouting hook sends one marked
  ``OUT`` to the receiving port's ingress chain.  Each port's chains accept
  established flows and jump to its security groups' chains, which accept
  what their rules allow; anything else is dropped.

A port's or a group's change is one ``nft -f`` transaction: chains are
flushed and refilled in it, so a guest is never without its rules.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from stratus.network.drivers.base import PortSpec, RuleSpec, SecurityGroupSpec
from stratus.network.drivers.linux import names as n

T = n.TABLE
IN_MARK = 0x53540000  # "ST" + the port's slot: a frame from the port
OUT_MARK = 0x53550000  # a frame to the port
MAX_SLOT = 0xFFFF

# Neutron's protocol names and their numbers.
PROTOCOLS = {
    "ah": 51, "dccp": 33, "egp": 8, "esp": 50, "gre": 47, "hopopt": 0, "icmp": 1,
    "igmp": 2, "ipip": 4, "ipv6-encap": 41, "ipv6-frag": 44, "ipv6-icmp": 58,
    "icmpv6": 58, "ipv6-nonxt": 59, "ipv6-opts": 60, "ipv6-route": 43, "ospf": 89,
    "pgm": 113, "rsvp": 46, "sctp": 132, "tcp": 6, "udp": 17, "udplite": 136, "vrrp": 112,
}  # fmt: skip
PORT_PROTOCOLS = {6, 17, 33, 132, 136}  # those with ports (th dport)

# Neighbour discovery and multicast listener messages, allowed both ways
# (router advertisements only towards a guest).
ND_OUT = "nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert, mld-listener-report, mld2-listener-report"
ND_IN = "nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert, nd-redirect, mld-listener-query"


def base_script() -> str:
    """The tables, maps and hooks; idempotent (the hooks' rules are
    replaced in the same transaction, ports' chains are kept)."""
    return f"""\
add table bridge {T}
add map bridge {T} in_marks {{ type ifname : mark; }}
add map bridge {T} out_marks {{ type ifname : mark; }}
add map bridge {T} spoof {{ type ifname : verdict; }}
add chain bridge {T} prerouting {{ type filter hook prerouting priority -200; policy accept; }}
add chain bridge {T} postrouting {{ type filter hook postrouting priority -200; policy accept; }}
flush chain bridge {T} prerouting
add rule bridge {T} prerouting iifname vmap @spoof
add rule bridge {T} prerouting meta mark set iifname map @in_marks
flush chain bridge {T} postrouting
add rule bridge {T} postrouting meta mark set oifname map @out_marks
add table inet {T}
add map inet {T} zones {{ typeof iifname : ct zone; }}
add map inet {T} egress {{ type mark : verdict; }}
add map inet {T} ingress {{ type mark : verdict; }}
add chain inet {T} prerouting {{ type filter hook prerouting priority -300; policy accept; }}
add chain inet {T} forward {{ type filter hook forward priority 0; policy accept; }}
add chain inet {T} input {{ type filter hook input priority 0; policy accept; }}
add chain inet {T} postrouting {{ type filter hook postrouting priority 0; policy accept; }}
flush chain inet {T} prerouting
add rule inet {T} prerouting ct zone set iifname map @zones
flush chain inet {T} forward
add rule inet {T} forward meta mark vmap @egress
flush chain inet {T} input
add rule inet {T} input meta mark vmap @egress
flush chain inet {T} postrouting
add rule inet {T} postrouting meta mark vmap @ingress
"""


def _ips(spec: PortSpec, version: int) -> list[str]:
    return [
        f.ip_address
        for f in spec.fixed_ips
        if ipaddress.ip_address(f.ip_address).version == version
    ]


def link_local(mac: str) -> str:
    """The EUI-64 link-local IPv6 address a MAC gives."""
    b = bytearray(int(x, 16) for x in mac.split(":"))
    b[0] ^= 0x02
    eui = bytes(b[:3]) + b"\xff\xfe" + bytes(b[3:])
    return str(ipaddress.IPv6Address(b"\xfe\x80" + b"\x00" * 6 + eui))


def _set(items: Iterable[str]) -> str:
    items = list(dict.fromkeys(items))
    return items[0] if len(items) == 1 else "{ " + ", ".join(items) + " }"


def spoof_rules(spec: PortSpec) -> list[str]:
    """What a port may send: from its MAC and its addresses, or an allowed
    address pair's (MAC, address); no DHCP or router advertisements as if
    it were a server; nothing but ARP, IPv4 and IPv6."""
    mac = spec.mac_address.lower()
    v4, v6 = _ips(spec, 4), _ips(spec, 6) + [link_local(mac)]
    pairs = [(p.mac_address.lower() or mac, p.ip_address) for p in spec.allowed_address_pairs]
    pv4 = [(m, str(ipaddress.ip_network(a, strict=False))) for m, a in pairs if ":" not in a]
    pv6 = [(m, str(ipaddress.ip_network(a, strict=False))) for m, a in pairs if ":" in a]
    rules = [f"ether saddr != {_set([mac] + [m for m, _ in pairs])} drop"]
    rules.append(f"arp saddr ether {mac} arp saddr ip {_set(v4 + ['0.0.0.0'])} return")
    rules += [f"arp saddr ether {m} arp saddr ip {a} return" for m, a in pv4]
    rules.append("ether type arp drop")
    rules.append("udp sport 67 udp dport 68 drop")
    rules.append(
        f"ether saddr {mac} ip saddr 0.0.0.0 ip daddr 255.255.255.255 udp sport 68 udp dport 67 return"
    )
    if v4:
        rules.append(f"ether saddr {mac} ip saddr {_set(v4)} return")
    rules += [f"ether saddr {m} ip saddr {a} return" for m, a in pv4]
    rules.append("ether type ip drop")
    rules.append("icmpv6 type nd-router-advert drop")
    rules.append("udp sport 547 udp dport 546 drop")
    rules.append(f"ether saddr {mac} ip6 saddr {_set(v6)} return")
    rules.append(
        f"ether saddr {mac} ip6 saddr :: icmpv6 type {{ nd-neighbor-solicit, mld2-listener-report }} return"
    )
    rules += [f"ether saddr {m} ip6 saddr {a} return" for m, a in pv6]
    rules.append("drop")
    return rules


def egress_rules(spec: PortSpec) -> list[str]:
    return [
        "meta nfproto ipv4 udp sport 68 udp dport 67 accept",
        "meta nfproto ipv6 udp sport 546 udp dport 547 accept",
        f"icmpv6 type {{ {ND_OUT} }} accept",
        "ct state established,related accept",
        "ct state invalid drop",
        *(f"jump {n.group_chain(g, 'egress')}" for g in spec.security_group_ids),
        "drop",
    ]


def ingress_rules(spec: PortSpec) -> list[str]:
    return [
        "meta nfproto ipv4 udp sport 67 udp dport 68 accept",
        "meta nfproto ipv6 udp sport 547 udp dport 546 accept",
        f"icmpv6 type {{ {ND_IN} }} accept",
        "ct state established,related accept",
        "ct state invalid drop",
        *(f"jump {n.group_chain(g, 'ingress')}" for g in spec.security_group_ids),
        "drop",
    ]


def _chain(family: str, chain: str, rules: list[str]) -> list[str]:
    return [
        f"add chain {family} {T} {chain}",
        f"flush chain {family} {T} {chain}",
        *(f"add rule {family} {T} {chain} {r}" for r in rules),
    ]


def _forget_chain(family: str, chain: str) -> list[str]:
    # Idempotent without nft's "destroy" (1.0.8): make it, then delete it.
    return [
        f"add chain {family} {T} {chain}",
        f"flush chain {family} {T} {chain}",
        f"delete chain {family} {T} {chain}",
    ]


def _forget_element(family: str, map_: str, key: str, value: str) -> list[str]:
    return [
        f"add element {family} {T} {map_} {{ {key} : {value} }}",
        f"delete element {family} {T} {map_} {{ {key} }}",
    ]


def port_script(spec: PortSpec, slot: int) -> str:
    tap, pid = f'"{spec.tap}"', spec.id
    inside, outside = IN_MARK | slot, OUT_MARK | slot
    s, e, i = n.spoof_chain(pid), n.egress_chain(pid), n.ingress_chain(pid)
    lines = [
        f"add chain inet {T} {n.group_chain(g, d)}"
        for g in spec.security_group_ids
        for d in ("ingress", "egress")
    ]
    lines += _chain("bridge", s, spoof_rules(spec))
    lines += _chain("inet", e, egress_rules(spec))
    lines += _chain("inet", i, ingress_rules(spec))
    lines += [
        f"add element bridge {T} in_marks {{ {tap} : {inside:#x} }}",
        f"add element bridge {T} out_marks {{ {tap} : {outside:#x} }}",
        f"add element bridge {T} spoof {{ {tap} : jump {s} }}",
        f"add element inet {T} egress {{ {inside:#x} : jump {e} }}",
        f"add element inet {T} ingress {{ {outside:#x} : jump {i} }}",
    ]
    return "\n".join(lines) + "\n"


def unfilter_script(port_id: str, tap: str, slot: int) -> str:
    """Take a port's rules away (removed, or port security turned off)."""
    inside, outside = IN_MARK | slot, OUT_MARK | slot
    s, e, i = n.spoof_chain(port_id), n.egress_chain(port_id), n.ingress_chain(port_id)
    q = f'"{tap}"'
    lines = [f"add chain bridge {T} {s}", f"add chain inet {T} {e}", f"add chain inet {T} {i}"]
    lines += _forget_element("bridge", "spoof", q, f"jump {s}")
    lines += _forget_element("bridge", "in_marks", q, f"{inside:#x}")
    lines += _forget_element("bridge", "out_marks", q, f"{outside:#x}")
    lines += _forget_element("inet", "egress", f"{inside:#x}", f"jump {e}")
    lines += _forget_element("inet", "ingress", f"{outside:#x}", f"jump {i}")
    lines += _forget_chain("bridge", s) + _forget_chain("inet", e) + _forget_chain("inet", i)
    return "\n".join(lines) + "\n"


def protocol_number(protocol: str | None, ethertype: str) -> int | None:
    """None for any protocol; ICMP means ICMPv6 in an IPv6 rule, as in Neutron."""
    if protocol in (None, "", "any"):
        return None
    number = int(protocol) if str(protocol).isdigit() else PROTOCOLS[str(protocol).lower()]
    if ethertype == "IPv6" and number == 1:
        return 58
    return number


def rule_match(rule: RuleSpec) -> str | None:
    """A rule as an nftables match ending in accept; None when it can never
    match (a remote prefix of the other IP version)."""
    version = 6 if rule.ethertype == "IPv6" else 4
    addr = "ip6" if version == 6 else "ip"
    field = "saddr" if rule.direction == "ingress" else "daddr"
    parts = [f"meta nfproto ipv{version}"]
    if rule.remote_ip_prefix:
        net = ipaddress.ip_network(rule.remote_ip_prefix, strict=False)
        if net.version != version:
            return None
        if net.prefixlen:
            parts.append(f"{addr} {field} {net}")
    elif rule.remote_group_id:
        parts.append(f"{addr} {field} @{n.member_set(rule.remote_group_id, version)}")
    proto = protocol_number(rule.protocol, rule.ethertype)
    if proto is not None:
        parts.append(f"meta l4proto {proto}")
        low, high = rule.port_range_min, rule.port_range_max
        if proto in PORT_PROTOCOLS and low is not None:
            high = low if high is None else high
            parts.append(f"th dport {low}" if low == high else f"th dport {low}-{high}")
        elif proto in (1, 58) and low is not None:
            kind = "icmp" if proto == 1 else "icmpv6"
            parts.append(f"{kind} type {low}")
            if high is not None:
                parts.append(f"{kind} code {high}")
    return " ".join(parts) + " accept"


def _members(spec: SecurityGroupSpec, version: int) -> list[str]:
    out = []
    for ip in spec.member_ips:
        net = ipaddress.ip_network(ip, strict=False)
        if net.version == version:
            out.append(str(net) if net.prefixlen != net.max_prefixlen else str(net.network_address))
    return sorted(set(out))


def _set_decl(group_id: str, version: int) -> str:
    kind = "ipv6_addr" if version == 6 else "ipv4_addr"
    return f"add set inet {T} {n.member_set(group_id, version)} {{ type {kind}; flags interval; auto-merge; }}"


def group_script(spec: SecurityGroupSpec) -> str:
    """A group's member sets and rule chains, replaced at once."""
    lines = []
    for version in (4, 6):
        name = n.member_set(spec.id, version)
        lines += [_set_decl(spec.id, version), f"flush set inet {T} {name}"]
        members = _members(spec, version)
        if members:
            lines.append(f"add element inet {T} {name} {{ {', '.join(members)} }}")
    remotes = sorted({r.remote_group_id for r in spec.rules if r.remote_group_id} - {spec.id})
    lines += [_set_decl(g, v) for g in remotes for v in (4, 6)]
    for direction in ("ingress", "egress"):
        rules = [rule_match(r) for r in spec.rules if r.direction == direction]
        lines += _chain("inet", n.group_chain(spec.id, direction), [r for r in rules if r])
    return "\n".join(lines) + "\n"


def ungroup_script(group_id: str) -> str:
    lines = _forget_chain("inet", n.group_chain(group_id, "ingress"))
    lines += _forget_chain("inet", n.group_chain(group_id, "egress"))
    for version in (4, 6):
        lines += [
            _set_decl(group_id, version),
            f"flush set inet {T} {n.member_set(group_id, version)}",
        ]
    return "\n".join(lines) + "\n"


def unset_script(group_id: str) -> str:
    """Delete a group's member sets (fails while another group's rule names them)."""
    return "".join(f"delete set inet {T} {n.member_set(group_id, v)}\n" for v in (4, 6))


def zone_script(bridge: str, zone: int, old: int | None) -> str:
    lines = []
    if old is not None:
        lines.append(f'delete element inet {T} zones {{ "{bridge}" }}')
    lines.append(f'add element inet {T} zones {{ "{bridge}" : {zone} }}')
    return "\n".join(lines) + "\n"


def unzone_script(bridge: str) -> str:
    return f'delete element inet {T} zones {{ "{bridge}" }}\n'
