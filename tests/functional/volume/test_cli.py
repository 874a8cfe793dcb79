"""The `openstack volume ...` commands a user runs, end to end, with the
data checked in the volumes' files."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import Server
from tests.functional.compute.conftest import tiny_image
from tests.functional.volume.conftest import (
    osc,
    osc_json,
    osc_wait,
    qemu_write,
    same_content,
    unique,
    volume_file,
)


def tiny_file(cloud: Server) -> Path:
    """The tiny image's data, as the image store keeps it."""
    path = cloud.data_dir / "images" / tiny_image(cloud)
    assert path.exists(), path
    return path


def test_volume_lifecycle(cloud: Server) -> None:
    name = unique("v")
    created = osc_json(cloud, "volume", "create", "--size", "1", "--description", "first", name)
    assert created["size"] == 1 and created["name"] == name
    shown = osc_wait(cloud, "volume", name)
    assert shown["bootable"] in (False, "false")
    assert any(v["Name"] == name for v in osc_json(cloud, "volume", "list"))
    osc(cloud, "volume", "set", "--name", f"{name}-renamed", "--property", "k=v", name)
    renamed = osc_json(cloud, "volume", "show", f"{name}-renamed")
    assert renamed["properties"] == {"k": "v"}
    osc(cloud, "volume", "set", "--bootable", f"{name}-renamed")
    assert osc_json(cloud, "volume", "show", f"{name}-renamed")["bootable"] in (True, "true")
    osc(cloud, "volume", "set", "--read-only", f"{name}-renamed")
    path = volume_file(cloud, renamed["id"])
    osc(cloud, "volume", "delete", f"{name}-renamed")
    deadline_check = osc(cloud, "volume", "show", f"{name}-renamed", check=False)
    for _ in range(100):
        if deadline_check.returncode != 0:
            break
        deadline_check = osc(cloud, "volume", "show", f"{name}-renamed", check=False)
    assert deadline_check.returncode != 0
    assert not path.exists(), "the volume's file outlived it"


def test_snapshot_source_and_clone_hold_the_data(cloud: Server) -> None:
    src = unique("src")
    vid = osc_json(cloud, "volume", "create", "--size", "1", src)["id"]
    osc_wait(cloud, "volume", src)
    qemu_write(volume_file(cloud, vid), 0xA1, 0, 1 << 20)
    qemu_write(volume_file(cloud, vid), 0xB2, 512 << 20, 64 << 10)
    snap = unique("snap")
    osc(cloud, "volume", "snapshot", "create", "--volume", src, snap)
    osc_wait(cloud, "volume snapshot", snap)
    # Written after the snapshot: the snapshot and volumes made from it must not see it.
    before = volume_file(cloud, vid).with_name("expected.qcow2")
    subprocess.run(
        ["qemu-img", "convert", "-U", "-O", "qcow2", str(volume_file(cloud, vid)), str(before)],
        check=True,
    )
    qemu_write(volume_file(cloud, vid), 0xC3, 0, 4096)

    from_snap = unique("fromsnap")
    fid = osc_json(cloud, "volume", "create", "--snapshot", snap, from_snap)["id"]
    osc_wait(cloud, "volume", from_snap)
    assert same_content(volume_file(cloud, fid), before)

    clone = unique("clone")
    cid = osc_json(cloud, "volume", "create", "--source", src, "--size", "2", clone)["id"]
    assert osc_wait(cloud, "volume", clone)["size"] == 2
    assert same_content(volume_file(cloud, cid), volume_file(cloud, vid))

    # The volume made from the snapshot stays valid when the snapshot and
    # its volume go.
    osc(cloud, "volume", "snapshot", "delete", snap)
    osc(cloud, "volume", "delete", src, "--purge")
    osc(cloud, "volume", "delete", clone)
    assert same_content(volume_file(cloud, fid), before)
    before.unlink()


def test_volume_from_image_holds_the_image(cloud: Server) -> None:
    name = unique("fromimg")
    vid = osc_json(cloud, "volume", "create", "--image", "tiny", "--size", "1", name)["id"]
    shown = osc_wait(cloud, "volume", name)
    assert shown["bootable"] in (True, "true")
    assert shown["volume_image_metadata"]["image_name"] == "tiny"
    assert same_content(volume_file(cloud, vid), tiny_file(cloud))

    # And back: the volume becomes an image holding the same bytes.
    image = unique("img")
    osc(cloud, "image", "create", "--volume", name, "--disk-format", "qcow2", image)
    for _ in range(600):
        if osc_json(cloud, "image", "show", image)["status"] == "active":
            break
        subprocess.run(["sleep", "0.2"])
    shown_image = osc_json(cloud, "image", "show", image)
    assert shown_image["status"] == "active"
    assert shown_image["disk_format"] == "qcow2"
    data = cloud.data_dir / "images" / shown_image["id"]
    assert same_content(data, tiny_file(cloud))
    assert osc_wait(cloud, "volume", name)["status"] == "available"


def test_extend(cloud: Server) -> None:
    name = unique("grow")
    vid = osc_json(cloud, "volume", "create", "--size", "1", name)["id"]
    osc_wait(cloud, "volume", name)
    qemu_write(volume_file(cloud, vid), 0x5A, 0, 4096)
    osc(cloud, "volume", "set", "--size", "2", name)
    for _ in range(300):
        shown = osc_json(cloud, "volume", "show", name)
        if shown["size"] == 2 and shown["status"] == "available":
            break
    assert shown["size"] == 2 and shown["status"] == "available"
    info = subprocess.run(
        ["qemu-img", "info", "-U", str(volume_file(cloud, vid))], capture_output=True, text=True
    )
    assert "2 GiB" in info.stdout
    out = subprocess.run(
        ["qemu-io", "-U", "-f", "qcow2", "-c", "read -P 0x5a 0 4096", str(volume_file(cloud, vid))],
        capture_output=True,
        text=True,
    )
    assert "Pattern verification failed" not in out.stdout


def test_types_qos_zones_services_quotas(cloud: Server) -> None:
    vtype = unique("type")
    osc(cloud, "volume", "type", "create", "--property", "multiattach=<is> True", vtype)
    assert osc_json(cloud, "volume", "type", "show", vtype)["properties"] == {
        "multiattach": "<is> True"
    }
    private = unique("private")
    osc(cloud, "volume", "type", "create", "--private", private)
    osc(cloud, "volume", "type", "set", "--project", "admin", private)
    assert private in {t["Name"] for t in osc_json(cloud, "volume", "type", "list")}
    qos = unique("qos")
    osc(
        cloud,
        "volume",
        "qos",
        "create",
        "--consumer",
        "front-end",
        "--property",
        "total_iops_sec=500",
        qos,
    )
    osc(cloud, "volume", "qos", "associate", qos, vtype)
    shown = osc_json(cloud, "volume", "qos", "show", qos)
    assert shown["consumer"] == "front-end" and shown["properties"] == {"total_iops_sec": "500"}
    assert shown["associations"] == [vtype]
    name = unique("typed")
    osc(cloud, "volume", "create", "--size", "1", "--type", vtype, name)
    assert osc_wait(cloud, "volume", name)["multiattach"] in (True, "true")
    zones = osc_json(cloud, "availability", "zone", "list", "--volume")
    assert zones and zones[0]["Zone Name"] == "nova" and zones[0]["Zone Status"] == "available"
    services = osc_json(cloud, "volume", "service", "list")
    assert {s["Binary"] for s in services} >= {"cinder-volume", "cinder-backup"}
    assert all(s["State"] == "up" for s in services)
    osc(cloud, "quota", "set", "--volumes", "42", "--gigabytes", "420", "admin")
    quota = osc_json(cloud, "quota", "show", "admin")
    volumes = next(q for q in quota if q["Resource"] == "volumes")
    assert volumes["Limit"] == 42
    osc(cloud, "volume", "delete", name)
    for _ in range(300):
        if osc(cloud, "volume", "show", name, check=False).returncode != 0:
            break
    osc(cloud, "volume", "qos", "disassociate", "--volume-type", vtype, qos)
    osc(cloud, "volume", "qos", "delete", qos)
    osc(cloud, "volume", "type", "delete", vtype)
    osc(cloud, "volume", "type", "delete", private)
