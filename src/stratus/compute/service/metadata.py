"""What a server's config drive says about it (OpenStack's metadata format):
``meta_data.json``, ``network_data.json`` and ``user_data``, built from the
server's record.  The agent writes them into the ISO (``agent/configdrive.py``)."""

from __future__ import annotations

import base64
import binascii
import ipaddress
from dataclasses import dataclass
from typing import Any

from stratus.compute import models as m
from stratus.compute.service.network import VifPort

# The guest's one NIC under QEMU's user-mode networking (DHCP from QEMU).
GUEST_MAC = "52:54:00:12:34:56"


@dataclass(frozen=True)
class ConfigDriveContents:
    meta_data: dict[str, Any]
    user_data: bytes | None
    network_data: dict[str, Any]


def config_drive_contents(
    server: m.Server, ports: list[VifPort] | None = None
) -> ConfigDriveContents:
    """What the drive says; ``ports``: the server's ports on the network
    service (None: user-mode networking)."""
    keys = {server.key_name: server.key_data} if server.key_name and server.key_data else {}
    meta = {
        "uuid": server.id,
        "name": server.name,
        "hostname": server.hostname,
        "launch_index": 0,
        "availability_zone": server.availability_zone,
        "project_id": server.project_id,
        "public_keys": keys,
        "keys": [{"name": k, "type": "ssh", "data": v} for k, v in keys.items()],
        "meta": dict(server.metadata_),
        "devices": [],
    }
    network: dict[str, Any] = {
        "links": [{"id": "eth0", "type": "phy", "ethernet_mac_address": GUEST_MAC, "mtu": 1500}],
        "networks": [{"id": "network0", "type": "ipv4_dhcp", "link": "eth0", "network_id": "user"}],
        "services": [],
    }
    if ports is not None:
        network = network_data(ports)
    return ConfigDriveContents(meta, _user_data(server.user_data), network)


def _user_data(value: str | None) -> bytes | None:
    """The user data as the guest reads it: decoded from the base64 the API
    took (kept as given when it is not base64)."""
    if not value:
        return None
    try:
        return base64.b64decode(value)
    except (binascii.Error, ValueError):
        return value.encode()


def network_data(ports: list[VifPort]) -> dict[str, Any]:
    """OpenStack's ``network_data.json`` for the server's ports: a link per
    port (its MAC and MTU), a network per fixed IP, the DNS servers."""
    links: list[dict[str, Any]] = []
    networks: list[dict[str, Any]] = []
    services: list[dict[str, str]] = []
    for port in ports:
        link = f"tap{port.id[:11]}"
        links.append(
            {
                "id": link,
                "vif_id": port.id,
                "type": "bridge",
                "ethernet_mac_address": port.mac_address,
                "mtu": port.mtu,
            }
        )
        for fixed in port.fixed_ips:
            subnet = port.subnets.get(fixed.subnet_id, {})
            cidr = ipaddress.ip_network(str(subnet.get("cidr") or f"{fixed.ip_address}/32"))
            entry: dict[str, Any] = {
                "id": f"network{len(networks)}",
                "type": f"ipv{fixed.version}",
                "link": link,
                "ip_address": fixed.ip_address,
                "netmask": str(cidr.netmask) if fixed.version == 4 else str(cidr.prefixlen),
                "network_id": port.network_id,
                "routes": [],
                "services": [],
            }
            gateway = subnet.get("gateway_ip")
            if gateway:
                default = "0.0.0.0" if fixed.version == 4 else "::"
                entry["routes"].append(
                    {"network": default, "netmask": default, "gateway": str(gateway)}
                )
            for dns in subnet.get("dns_nameservers") or []:  # type: ignore[attr-defined]
                service = {"type": "dns", "address": str(dns)}
                entry["services"].append(service)
                if service not in services:
                    services.append(service)
            networks.append(entry)
    return {"links": links, "networks": networks, "services": services}
