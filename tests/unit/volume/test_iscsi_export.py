"""The iSCSI export's pieces: tgtadm command lines, reading tgtd's target
list, Cinder's ``iscsi`` connection properties, and how compute turns
them into QEMU's iSCSI block node with the CHAP secret kept off the
command line."""

from __future__ import annotations

import json
from pathlib import Path

from stratus.compute import models as cm
from stratus.compute.agent.volumes import disk_of, write_psk
from stratus.compute.drivers import qemu_volumes
from stratus.volume.drivers.iscsi_export import TgtExports, admin_args, parse_targets, target_iqn

SHOW = """Target 1: iqn.2010-10.org.openstack:volume-v1
    System information:
        Driver: iscsi
        State: ready
    I_T nexus information:
        I_T nexus: 1
            Initiator: iqn.2010-10.org.openstack:stratus-a1 alias: none
            Connection: 0
                IP Address: 127.0.0.1
    LUN information:
        LUN: 0
            Type: controller
        LUN: 1
            Type: disk
            Backing store path: /data/volume-v1.raw
    Account information:
        stratus-a1
        stratus-a2
    ACL information:
        ALL
Target 3: iqn.2010-10.org.openstack:volume-v2
    System information:
        Driver: iscsi
    LUN information:
        LUN: 0
            Type: controller
    Account information:
    ACL information:
        ALL
"""


def test_tgtadm_command_lines() -> None:
    assert admin_args("new", "target", tid=2, iqn=target_iqn("v1")) == [
        "-C", "0", "--lld", "iscsi", "--op", "new", "--mode", "target",
        "--tid", "2", "--targetname", "iqn.2010-10.org.openstack:volume-v1",
    ]  # fmt: skip
    assert admin_args("new", "logicalunit", tid=2, lun=1, backing="/d/v.raw", bstype="rdwr")[-8:] == [
        "--tid", "2", "--lun", "1", "--backing-store", "/d/v.raw", "--bstype", "rdwr",
    ]  # fmt: skip
    assert admin_args("bind", "account", tid=2, user="stratus-a1")[-4:] == [
        "--tid", "2", "--user", "stratus-a1",
    ]  # fmt: skip
    assert admin_args("delete", "target", tid=2, force="")[-3:] == ["--tid", "2", "--force"]
    assert admin_args("bind", "target", tid=2, address="ALL")[-2:] == ["--initiator-address", "ALL"]


def test_the_target_list_gives_tids_and_bound_accounts() -> None:
    assert parse_targets(SHOW) == {
        "iqn.2010-10.org.openstack:volume-v1": (1, {"stratus-a1", "stratus-a2"}),
        "iqn.2010-10.org.openstack:volume-v2": (3, set()),
    }
    assert parse_targets("") == {}


def test_connection_info_has_cinders_iscsi_shape(tmp_path: Path) -> None:
    exports = TgtExports(tmp_path, listen="0.0.0.0", advertise="192.0.2.7", port=3261)
    member = exports.new_member("a1")
    assert member.identity == "stratus-a1" and len(member.key) == 32
    data = exports.exported("v1", member).connection().data
    assert data == {
        "target_discovered": False,
        "target_portal": "192.0.2.7:3261",
        "target_iqn": "iqn.2010-10.org.openstack:volume-v1",
        "target_lun": 1,
        "auth_method": "CHAP",
        "auth_username": "stratus-a1",
        "auth_password": member.key,
        "volume_id": "v1",
    }
    # What the agent reads back from an attachment's connection_info.
    assert exports.member_of("a1", data, True) == member
    assert exports.identity_of(data) == "stratus-a1"
    assert exports.member_of("a1", {"auth_username": "x"}, True) is None


def test_compute_opens_it_with_qemus_iscsi_client_and_a_secret_object(tmp_path: Path) -> None:
    row = cm.VolumeAttachment(
        id="r1", server_id="s1", volume_id="v1", device="/dev/vdb",
        connection_info={
            "driver_volume_type": "iscsi",
            "data": {"target_portal": "127.0.0.1:3261", "target_iqn": target_iqn("v1"),
                     "target_lun": 1, "auth_method": "CHAP", "auth_username": "stratus-a1",
                     "auth_password": "s3cret-s3cret", "access_mode": "rw"},
        },
    )  # fmt: skip
    disk = disk_of(row)
    assert disk is not None and disk.kind == "iscsi"
    disk = write_psk(disk, row, tmp_path / "keys")
    secret = Path(disk.psk_file)
    assert secret.read_text() == "s3cret-s3cret"
    assert secret.stat().st_mode & 0o777 == 0o600
    node = qemu_volumes.blockdev(disk)
    assert node["driver"] == "raw"
    assert node["file"] == {
        "driver": "iscsi", "transport": "tcp", "portal": "127.0.0.1:3261",
        "target": target_iqn("v1"), "lun": 1,
        "initiator-name": "iqn.2010-10.org.openstack:stratus-a1",
        "user": "stratus-a1", "password-secret": qemu_volumes.tls_id(disk),
    }  # fmt: skip
    args = qemu_volumes.command_args(disk)
    assert json.loads(args[1]) == {"qom-type": "secret", "id": qemu_volumes.tls_id(disk),
                                   "file": str(secret)}  # fmt: skip
    assert "s3cret" not in " ".join(args)  # never on a command line
