"""The config drive: an ISO9660 image read back with pycdlib."""

from __future__ import annotations

import io
import json
import stat
from pathlib import Path

import pycdlib
import pytest

from stratus.compute.agent.configdrive import build_config_drive

META = {
    "uuid": "6d1b2c0e-5d2a-4c1e-9f6f-0c1d2e3f4a5b",
    "name": "vm1",
    "hostname": "vm1",
    "public_keys": {"mykey": "ssh-ed25519 AAAAC3Nza test@example\n"},
    "meta": {"role": "web"},
}
NETWORK = {"links": [], "networks": [], "services": []}
VERSIONS = ("latest", "2012-08-10")


def read_iso(path: Path) -> tuple[pycdlib.PyCdlib, dict[str, bytes]]:
    """Every file of the image by its Rock Ridge path."""
    iso = pycdlib.PyCdlib()
    iso.open(str(path))
    files: dict[str, bytes] = {}
    for root, _dirs, names in iso.walk(rr_path="/"):
        for name in names:
            full = f"{root.rstrip('/')}/{name}"
            out = io.BytesIO()
            iso.get_file_from_iso_fp(out, rr_path=full)
            files[full] = out.getvalue()
    return iso, files


def test_config_drive_contents(tmp_path: Path) -> None:
    path = tmp_path / "disk.config"
    user_data = b"#!/bin/sh\necho hello\n"
    build_config_drive(
        path,
        meta_data=META,
        user_data=user_data,
        network_data=NETWORK,
        vendor_data={"vendor": True},
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["disk.config"]  # no temp file left
    iso, files = read_iso(path)
    try:
        assert iso.pvd.volume_identifier.decode().strip() == "config-2"
        assert iso.has_rock_ridge() and iso.has_joliet()
        # The Joliet tree has the same names.
        out = io.BytesIO()
        iso.get_file_from_iso_fp(out, joliet_path="/openstack/latest/meta_data.json")
        assert json.loads(out.getvalue()) == META
    finally:
        iso.close()
    expected = set()
    for version in VERSIONS:
        base = f"/openstack/{version}"
        expected |= {f"{base}/{n}" for n in ("meta_data.json", "network_data.json")}
        expected |= {f"{base}/vendor_data.json", f"{base}/user_data"}
        assert json.loads(files[f"{base}/meta_data.json"]) == META
        assert json.loads(files[f"{base}/network_data.json"]) == NETWORK
        assert json.loads(files[f"{base}/vendor_data.json"]) == {"vendor": True}
        assert files[f"{base}/user_data"] == user_data
    assert set(files) == expected


def test_config_drive_without_user_data(tmp_path: Path) -> None:
    path = tmp_path / "disk.config"
    build_config_drive(path, meta_data=META, user_data=None, network_data=NETWORK)
    iso, files = read_iso(path)
    iso.close()
    assert "/openstack/latest/user_data" not in files
    assert "/openstack/2012-08-10/user_data" not in files
    assert json.loads(files["/openstack/latest/vendor_data.json"]) == {}
    assert json.loads(files["/openstack/2012-08-10/meta_data.json"]) == META


def test_config_drive_replaces_atomically(tmp_path: Path) -> None:
    path = tmp_path / "disk.config"
    build_config_drive(path, meta_data=META, user_data=b"one", network_data=NETWORK)
    build_config_drive(path, meta_data=META, user_data=b"two", network_data=NETWORK)
    iso, files = read_iso(path)
    iso.close()
    assert files["/openstack/latest/user_data"] == b"two"
    assert len(list(tmp_path.iterdir())) == 1


def test_config_drive_failure_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "disk.config"
    with pytest.raises(TypeError):
        build_config_drive(path, meta_data={"x": object()}, user_data=None, network_data={})
    assert list(tmp_path.iterdir()) == []


def test_network_data_of_ports() -> None:
    """network_data.json from the server's ports: a link per port with its
    MAC and MTU, a network per fixed IP with its route and DNS servers."""
    from stratus.compute.service.metadata import network_data
    from stratus.compute.service.network import FixedIP, VifPort

    port = VifPort(
        id="11111111-2222-3333-4444-555555555555",
        network_id="net-1",
        network_name="net1",
        mac_address="fa:16:3e:00:00:01",
        status="ACTIVE",
        device_id="vm",
        device_owner="compute:nova",
        host="h1",
        mtu=1450,
        fixed_ips=(FixedIP("10.0.0.5", "sub-1", 4),),
        subnets={
            "sub-1": {
                "cidr": "10.0.0.0/24",
                "gateway_ip": "10.0.0.1",
                "ip_version": 4,
                "dns_nameservers": ["10.0.0.2"],
            }
        },
    )
    doc = network_data([port])
    (link,) = doc["links"]
    assert link["ethernet_mac_address"] == "fa:16:3e:00:00:01" and link["mtu"] == 1450
    assert link["vif_id"] == port.id
    (net,) = doc["networks"]
    assert (net["link"], net["ip_address"], net["netmask"]) == (
        link["id"],
        "10.0.0.5",
        "255.255.255.0",
    )
    assert net["routes"] == [{"network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": "10.0.0.1"}]
    assert doc["services"] == [{"type": "dns", "address": "10.0.0.2"}]
