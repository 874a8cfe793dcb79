"""IP address management: pools, validation, EUI-64, and allocation from
the database."""

from __future__ import annotations

import ipaddress

import pytest

from stratus.network.errors import (
    GatewayConflictWithAllocationPools,
    InvalidAllocationPool,
    InvalidInput,
    IpAddressAlreadyAllocated,
    IpAddressGenerationFailure,
    OutOfBoundsAllocationPool,
    OverlappingAllocationPools,
)
from stratus.network.service import NetworkService, ipam
from stratus.network.service.subnetpools import first_free
from tests.unit.network.conftest import context


def test_default_pools_leave_out_the_gateway() -> None:
    net = ipaddress.ip_network("10.0.0.0/24")
    assert ipam.default_pools(net, "10.0.0.1") == [{"start": "10.0.0.2", "end": "10.0.0.254"}]
    assert ipam.default_pools(net, "10.0.0.100") == [
        {"start": "10.0.0.1", "end": "10.0.0.99"},
        {"start": "10.0.0.101", "end": "10.0.0.254"},
    ]
    assert ipam.default_pools(net, None) == [{"start": "10.0.0.1", "end": "10.0.0.254"}]
    v6 = ipaddress.ip_network("fd00:1::/64")
    assert ipam.default_pools(v6, "fd00:1::1") == [
        {"start": "fd00:1::2", "end": "fd00:1::ffff:ffff:ffff:ffff"}
    ]


def test_pool_validation() -> None:
    net = ipaddress.ip_network("10.0.0.0/24")
    ok = ipam.validate_pools(
        [{"start": "10.0.0.20", "end": "10.0.0.30"}, {"start": "10.0.0.5", "end": "10.0.0.9"}],
        net,
        "10.0.0.1",
    )
    assert [p["start"] for p in ok] == ["10.0.0.5", "10.0.0.20"]
    with pytest.raises(InvalidAllocationPool):
        ipam.validate_pools([{"start": "10.0.0.9", "end": "10.0.0.5"}], net, None)
    with pytest.raises(OutOfBoundsAllocationPool):
        ipam.validate_pools([{"start": "10.0.0.9", "end": "10.0.0.255"}], net, None)
    with pytest.raises(OverlappingAllocationPools):
        ipam.validate_pools(
            [{"start": "10.0.0.2", "end": "10.0.0.9"}, {"start": "10.0.0.9", "end": "10.0.0.12"}],
            net,
            None,
        )
    with pytest.raises(GatewayConflictWithAllocationPools):
        ipam.validate_pools([{"start": "10.0.0.1", "end": "10.0.0.9"}], net, "10.0.0.5")
    with pytest.raises(InvalidInput):
        ipam.validate_pools([{"start": "10.0.0.1"}], net, None)


def test_cidrs_and_eui64() -> None:
    assert str(ipam.parse_cidr("10.1.0.0/16")) == "10.1.0.0/16"
    with pytest.raises(InvalidInput, match="10.1.0.0/16' is recommended"):
        ipam.parse_cidr("10.1.2.3/16")
    with pytest.raises(InvalidInput):
        ipam.parse_cidr("10.1.0.0")
    assert ipam.eui64("2001:db8::/64", "fa:16:3e:12:34:56") == "2001:db8::f816:3eff:fe12:3456"


def test_first_free_block_skips_taken_ranges() -> None:
    prefix = ipaddress.ip_network("10.0.0.0/16")
    taken = sorted(ipam.span(ipaddress.ip_network(c)) for c in ("10.0.0.0/24", "10.0.1.0/25"))
    assert str(first_free(prefix, 24, taken)) == "10.0.2.0/24"
    assert str(first_free(prefix, 25, taken)) == "10.0.1.128/25"
    assert first_free(ipaddress.ip_network("10.0.0.0/24"), 24, taken) is None


async def test_allocation_takes_the_lowest_free_address(network: NetworkService) -> None:
    ctx = context("p1")
    net = await network.networks.create(ctx, {"name": "n"})
    (subnet,) = await network.subnets.create(
        ctx,
        [
            {
                "network_id": net.row.id,
                "cidr": "10.9.0.0/29",
                "ip_version": 4,
                "allocation_pools": [{"start": "10.9.0.2", "end": "10.9.0.5"}],
            }
        ],
    )
    # The DHCP port has .2.
    ports = await network.ports.create(ctx, [{"network_id": net.row.id} for _ in range(2)])
    assert [p.fixed_ips[0][1] for p in ports] == ["10.9.0.3", "10.9.0.4"]
    await network.ports.delete(ctx, ports[0].row.id, None)
    (again,) = await network.ports.create(ctx, [{"network_id": net.row.id}])
    assert again.fixed_ips == [(subnet.row.id, "10.9.0.3")]
    (last,) = await network.ports.create(ctx, [{"network_id": net.row.id}])
    assert last.fixed_ips[0][1] == "10.9.0.5"
    with pytest.raises(IpAddressGenerationFailure):
        await network.ports.create(ctx, [{"network_id": net.row.id}])
    with pytest.raises(IpAddressAlreadyAllocated):
        await network.ports.create(
            ctx, [{"network_id": net.row.id, "fixed_ips": [{"ip_address": "10.9.0.4"}]}]
        )
    (outside,) = await network.ports.create(
        ctx, [{"network_id": net.row.id, "fixed_ips": [{"ip_address": "10.9.0.6"}]}]
    )
    assert outside.fixed_ips[0][1] == "10.9.0.6"


async def test_bulk_create_is_all_or_nothing(network: NetworkService) -> None:
    ctx = context("p2")
    net = await network.networks.create(ctx, {"name": "n"})
    await network.subnets.create(
        ctx, [{"network_id": net.row.id, "cidr": "10.8.0.0/24", "ip_version": 4}]
    )
    with pytest.raises(IpAddressAlreadyAllocated):
        await network.ports.create(
            ctx,
            [
                {"network_id": net.row.id, "fixed_ips": [{"ip_address": "10.8.0.9"}]},
                {"network_id": net.row.id, "fixed_ips": [{"ip_address": "10.8.0.9"}]},
            ],
        )
    ports = await network.ports.find(ctx, {"network_id": [net.row.id]})
    assert [p.row.device_owner for p in ports] == ["network:dhcp"]


async def test_ipv6_slaac_addresses_follow_the_mac(network: NetworkService) -> None:
    ctx = context("p3")
    net = await network.networks.create(ctx, {"name": "n6"})
    await network.subnets.create(
        ctx,
        [
            {
                "network_id": net.row.id,
                "cidr": "fd00:5::/64",
                "ip_version": 6,
                "ipv6_ra_mode": "slaac",
                "ipv6_address_mode": "slaac",
            }
        ],
    )
    (port,) = await network.ports.create(
        ctx, [{"network_id": net.row.id, "mac_address": "fa:16:3e:00:00:01"}]
    )
    assert port.fixed_ips[0][1] == "fd00:5::f816:3eff:fe00:1"
