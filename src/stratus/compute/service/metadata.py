"""What a server's config drive says about it (OpenStack's metadata format):
``meta_data.json``, ``network_data.json`` and ``user_data``, built from the
server's record.  The agent writes them into the ISO (``agent/configdrive.py``)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from stratus.compute import models as m

# The guest's one NIC under QEMU's user-mode networking (DHCP from QEMU).
GUEST_MAC = "52:54:00:12:34:56"


@dataclass(frozen=True)
class ConfigDriveContents:
    meta_data: dict[str, Any]
    user_data: bytes | None
    network_data: dict[str, Any]


def config_drive_contents(server: m.Server) -> ConfigDriveContents:
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
    network = {
        "links": [{"id": "eth0", "type": "phy", "ethernet_mac_address": GUEST_MAC, "mtu": 1500}],
        "networks": [{"id": "network0", "type": "ipv4_dhcp", "link": "eth0", "network_id": "user"}],
        "services": [],
    }
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
