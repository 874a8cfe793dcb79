"""The default security group and rule validation."""

from __future__ import annotations

import asyncio

import pytest

from stratus.network.secgroup_errors import (
    SecurityGroupCannotRemoveDefault,
    SecurityGroupInvalidPortRange,
    SecurityGroupRuleExists,
)
from stratus.network.service import NetworkService
from stratus.network.service.rules import validate
from tests.unit.network.conftest import context


def _shape(rule: object) -> tuple[object, ...]:
    return (
        rule.direction,
        rule.ethertype,
        rule.protocol,  # type: ignore[attr-defined]
        rule.remote_group_id is not None,
    )  # type: ignore[attr-defined]


async def test_default_group_made_once_with_neutrons_rules(network: NetworkService) -> None:
    made = await asyncio.gather(*(network.groups.ensure_default("proj") for _ in range(5)))
    assert len(set(made)) == 1
    (group,) = await network.groups.find(context("proj"))
    assert group.row.name == "default" and group.row.id == made[0]
    assert sorted(_shape(r) for r in group.rules) == [
        ("egress", "IPv4", None, False),
        ("egress", "IPv6", None, False),
        ("ingress", "IPv4", None, True),
        ("ingress", "IPv6", None, True),
    ]
    assert all(r.remote_group_id == group.row.id for r in group.rules if r.direction == "ingress")


async def test_ports_get_the_default_group(network: NetworkService) -> None:
    ctx = context("proj2")
    net = await network.networks.create(ctx, {"name": "n"})
    await network.subnets.create(
        ctx, [{"network_id": net.row.id, "cidr": "10.7.0.0/24", "ip_version": 4}]
    )
    (port,) = await network.ports.create(ctx, [{"network_id": net.row.id}])
    default = await network.groups.ensure_default("proj2")
    assert port.security_groups == [default]
    (bare,) = await network.ports.create(
        ctx, [{"network_id": net.row.id, "port_security_enabled": False}]
    )
    assert bare.security_groups == []
    with pytest.raises(SecurityGroupCannotRemoveDefault):
        await network.groups.delete(ctx, str(default), None)


async def test_duplicate_rules_conflict(network: NetworkService) -> None:
    ctx = context("proj3")
    group = await network.groups.create(ctx, {"name": "web"})
    base = {"security_group_id": group.row.id, "direction": "ingress"}
    (rule,) = await network.groups.create_rules(
        ctx,
        [
            {
                **base,
                "protocol": "tcp",
                "port_range_min": 80,
                "port_range_max": 80,
                "remote_ip_prefix": "0.0.0.0/0",
            }
        ],
    )
    with pytest.raises(SecurityGroupRuleExists, match=rule.id):
        await network.groups.create_rules(
            ctx, [{**base, "protocol": "6", "port_range_min": 80, "port_range_max": 80}]
        )


def test_rule_validation() -> None:
    rule = validate({"direction": "ingress", "protocol": 17})
    assert rule.protocol == "17" and rule.ethertype == "IPv4"
    assert validate({"direction": "egress", "protocol": "ANY"}).protocol is None
    # A port range alone means TCP (the openstack CLI's --dst-port).
    assert (
        validate({"direction": "ingress", "port_range_min": 22, "port_range_max": 22}).protocol
        == "tcp"
    )
    icmp = validate({"direction": "ingress", "protocol": "icmp", "port_range_min": 11})
    assert (icmp.port_range_min, icmp.port_range_max) == (11, None)
    with pytest.raises(SecurityGroupInvalidPortRange):
        validate({"direction": "ingress", "protocol": "tcp", "port_range_max": 6})
    same = [
        validate({"direction": "ingress", "protocol": p, "remote_ip_prefix": r})
        for p, r in (("tcp", None), ("6", "0.0.0.0/0"))
    ]
    assert same[0].fingerprint() == same[1].fingerprint()
