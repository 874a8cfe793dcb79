"""Security group rules as Neutron validates them: protocols by name or
number, port ranges (ICMP: type and code), remote IP prefixes of the rule's
ethertype, and the fingerprint that makes two rules the same."""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from typing import Any

from stratus.network.errors import InvalidInput
from stratus.network.secgroup_errors import (
    SecurityGroupEthertypeConflictWithProtocol,
    SecurityGroupInvalidIcmpValue,
    SecurityGroupInvalidPortRange,
    SecurityGroupInvalidPortValue,
    SecurityGroupInvalidProtocolForPortRange,
    SecurityGroupMissingIcmpType,
    SecurityGroupRemoteGroupAndRemoteIpPrefix,
    SecurityGroupRuleInvalidEtherType,
    SecurityGroupRuleInvalidProtocol,
    SecurityGroupRuleParameterConflict,
)

PROTOCOLS: dict[str, int] = {
    "ah": 51,
    "dccp": 33,
    "egp": 8,
    "esp": 50,
    "gre": 47,
    "hopopt": 0,
    "icmp": 1,
    "icmpv6": 58,
    "igmp": 2,
    "ipip": 4,
    "ipv6-encap": 41,
    "ipv6-frag": 44,
    "ipv6-icmp": 58,
    "ipv6-nonxt": 59,
    "ipv6-opts": 60,
    "ipv6-route": 43,
    "ospf": 89,
    "pgm": 113,
    "rsvp": 46,
    "sctp": 132,
    "tcp": 6,
    "udp": 17,
    "udplite": 136,
    "vrrp": 112,
}
PORT_PROTOCOLS = {6, 17, 33, 132, 136}  # tcp, udp, dccp, sctp, udplite
ICMP_PROTOCOLS = {1, 58}
IPV6_ONLY = {
    "ipv6-icmp",
    "icmpv6",
    "ipv6-encap",
    "ipv6-frag",
    "ipv6-nonxt",
    "ipv6-opts",
    "ipv6-route",
}
ETHERTYPES = {"ipv4": "IPv4", "ipv6": "IPv6"}
DIRECTIONS = ("ingress", "egress")


@dataclass(frozen=True)
class Rule:
    direction: str
    ethertype: str
    protocol: str | None
    port_range_min: int | None
    port_range_max: int | None
    remote_ip_prefix: str | None
    remote_group_id: str | None

    def fingerprint(self) -> str:
        """Equal for rules Neutron counts as duplicates: protocol names and
        numbers alike, any-address prefixes as no prefix."""
        proto = None if self.protocol is None else protocol_number(self.protocol)
        prefix = self.remote_ip_prefix
        if prefix is not None:
            net = ipaddress.ip_network(prefix, strict=False)
            prefix = None if net.prefixlen == 0 else str(net)
        key = (
            self.direction,
            self.ethertype,
            proto,
            self.port_range_min,
            self.port_range_max,
            prefix,
            self.remote_group_id,
        )
        return hashlib.sha256(repr(key).encode()).hexdigest()


def protocol_number(protocol: str) -> int:
    return int(protocol) if protocol.isdigit() else PROTOCOLS[protocol]


def _protocol(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and value.lower() in ("", "any")):
        return None
    text = str(value).strip().lower()
    if isinstance(value, bool):
        text = "bad"
    if text.lstrip("-").isdigit():
        if not 0 <= int(text) <= 255:
            raise SecurityGroupRuleInvalidProtocol(value, sorted(PROTOCOLS))
        return str(int(text))
    if text not in PROTOCOLS:
        raise SecurityGroupRuleInvalidProtocol(value, sorted(PROTOCOLS))
    return text


def _port(value: Any) -> int | None:
    if value is None:
        return None
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise SecurityGroupInvalidPortValue(value) from None
    if isinstance(value, bool) or not 0 <= port <= 65535:
        raise SecurityGroupInvalidPortValue(value)
    return port


def _check_ports(protocol: str | None, low: int | None, high: int | None) -> None:
    if protocol is None or (low is None and high is None):
        return
    number = protocol_number(protocol)
    if number in PORT_PROTOCOLS:
        if low == 0 or high == 0:
            raise SecurityGroupInvalidPortValue(0)
        if low is None or high is None or low > high:
            raise SecurityGroupInvalidPortRange()
    elif number in ICMP_PROTOCOLS:
        for value, field, attr in (
            (low, "type", "port_range_min"),
            (high, "code", "port_range_max"),
        ):
            if value is not None and not 0 <= value <= 255:
                raise SecurityGroupInvalidIcmpValue(field, attr, value)
        if low is None:
            raise SecurityGroupMissingIcmpType(high)
    else:
        raise SecurityGroupInvalidProtocolForPortRange(protocol)


def _ethertype(value: Any) -> str:
    if value is None:
        return "IPv4"
    found = ETHERTYPES.get(str(value).lower())
    if found is None:
        raise SecurityGroupRuleInvalidEtherType(value)
    return found


def _prefix(value: Any, ethertype: str) -> str | None:
    if value is None or value == "":
        return None
    text = str(value)
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise InvalidInput(f"'{text}' is not a valid IP subnet") from None
    if "/" not in text:
        text = str(net)
    if f"IPv{net.version}" != ethertype:
        raise SecurityGroupRuleParameterConflict(ethertype, text)
    return text


def validate(attrs: dict[str, Any]) -> Rule:
    direction = attrs.get("direction")
    if direction not in DIRECTIONS:
        raise InvalidInput(f"'{direction}' is not in {list(DIRECTIONS)}")
    ethertype = _ethertype(attrs.get("ethertype"))
    protocol = _protocol(attrs.get("protocol"))
    low, high = _port(attrs.get("port_range_min")), _port(attrs.get("port_range_max"))
    if protocol is None and (low is not None or high is not None):
        # A port range alone means TCP, as the openstack CLI's
        # `security group rule create --dst-port 22` always meant (Neutron
        # itself refuses it since the CLI's default became "any").
        protocol = "tcp"
    if protocol in IPV6_ONLY and ethertype == "IPv4":
        raise SecurityGroupEthertypeConflictWithProtocol(ethertype, protocol)
    _check_ports(protocol, low, high)
    prefix = _prefix(attrs.get("remote_ip_prefix"), ethertype)
    remote_group = attrs.get("remote_group_id")
    if prefix is not None and remote_group is not None:
        raise SecurityGroupRemoteGroupAndRemoteIpPrefix()
    return Rule(direction, ethertype, protocol, low, high, prefix, remote_group)
