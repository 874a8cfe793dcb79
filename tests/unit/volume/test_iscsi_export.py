"""The iSCSI export's pieces: tgtadm command lines, reading tgtd's target
list, Cinder's ``iscsi`` connection properties, and how compute turns
them into QEMU's iSCSI block node with the CHAP secret kept off the
command line."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from stratus.compute import models as cm
from stratus.compute.agent.volumes import disk_of, write_psk
from stratus.compute.drivers import qemu_volumes
from stratus.volume.drivers.base import DriverError
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
            Readonly: No
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
Target 4: iqn.2010-10.org.openstack:volume-v1-ro
    LUN information:
        LUN: 0
            Type: controller
            Readonly: No
        LUN: 1
            Type: disk
            Readonly: Yes
    Account information:
        stratus-r1
    ACL information:
        ALL
Target 5: iqn.2010-10.org.openstack:volume-v2-ro
    LUN information:
        LUN: 1
            Type: disk
            Readonly: No
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
        "iqn.2010-10.org.openstack:volume-v1": (1, {"stratus-a1", "stratus-a2"}, True),
        # no LUN 1: half made
        "iqn.2010-10.org.openstack:volume-v2": (3, set(), False),
        # a read-only target's LUN is read-only, or the target is half made
        "iqn.2010-10.org.openstack:volume-v1-ro": (4, {"stratus-r1"}, True),
        "iqn.2010-10.org.openstack:volume-v2-ro": (5, set(), False),
    }
    assert parse_targets("") == {}


class Tgtadm:
    """tgtadm's calls recorded, answering ``show`` with ``listing`` and
    failing the operation named in ``fail``."""

    def __init__(self, listing: str = "", fail: tuple[str, str] | None = None) -> None:
        self.listing, self.fail = listing, fail
        self.calls: list[str] = []

    async def __call__(self, op: str, mode: str, **kw: object) -> str:
        self.calls.append(" ".join([op, mode, *(f"{k}={v}" for k, v in kw.items() if k != "password")]))
        if (op, mode) == self.fail:
            raise DriverError(f"{op} {mode} failed")
        return self.listing if op == "show" else ""


def _exports(tmp_path: Path, tgtadm: Tgtadm) -> TgtExports:
    exports = TgtExports(tmp_path)
    exports.admin = tgtadm  # type: ignore[method-assign, assignment]
    exports._pid = lambda: 4242  # type: ignore[method-assign]

    async def running() -> None:
        return None

    exports._ensure_daemon = running  # type: ignore[method-assign]
    return exports


def test_a_new_target_admits_initiators_only_once_chap_is_bound(tmp_path: Path) -> None:
    tgtadm = Tgtadm()
    exports = _exports(tmp_path, tgtadm)
    members = [exports.new_member("a1")]
    asyncio.run(exports.serve("v9", tmp_path / "v9.raw", "raw", members))
    made = [c for c in tgtadm.calls if not c.startswith(("show", "delete account"))]
    assert made == [
        f"new target tid=1 iqn={target_iqn('v9')}",
        f"new logicalunit tid=1 lun=1 backing={tmp_path / 'v9.raw'} bstype=rdwr",
        "new account user=stratus-a1",
        "bind account tid=1 user=stratus-a1",
        "bind target tid=1 address=ALL",
    ]


def test_a_target_failing_midway_is_taken_away(tmp_path: Path) -> None:
    tgtadm = Tgtadm(fail=("new", "account"))
    exports = _exports(tmp_path, tgtadm)
    with pytest.raises(DriverError):
        asyncio.run(exports.serve("v9", tmp_path / "v9.raw", "raw", [exports.new_member("a1")]))
    assert tgtadm.calls[-1] == "delete target tid=1 force="
    assert not any(c.startswith("bind target") for c in tgtadm.calls)


def test_new_members_are_bound_before_the_old_go(tmp_path: Path) -> None:
    tgtadm = Tgtadm(listing=SHOW)
    exports = _exports(tmp_path, tgtadm)
    asyncio.run(exports.serve("v1", tmp_path / "v1.raw", "raw", [exports.new_member("a3")]))
    changes = [c for c in tgtadm.calls if c.startswith(("bind account", "unbind account"))]
    assert changes == [
        "bind account tid=1 user=stratus-a3",
        "unbind account tid=1 user=stratus-a1",
        "unbind account tid=1 user=stratus-a2",
        "unbind account tid=4 user=stratus-r1",  # its read-only target goes: no member of it
    ]


def test_a_half_made_target_is_made_again(tmp_path: Path) -> None:
    tgtadm = Tgtadm(listing=SHOW)
    exports = _exports(tmp_path, tgtadm)
    asyncio.run(exports.serve("v2", tmp_path / "v2.raw", "raw", [exports.new_member("b1")]))
    assert "delete target tid=3 force=" in tgtadm.calls
    assert "delete target tid=5 force=" in tgtadm.calls  # its read-only target: no member wants it
    assert "bind target tid=2 address=ALL" in tgtadm.calls  # a free tid (1 is v1's)


def test_read_only_members_get_a_read_only_target_of_their_own(tmp_path: Path) -> None:
    tgtadm = Tgtadm()
    exports = _exports(tmp_path, tgtadm)
    rw, ro = exports.new_member("a1"), exports.new_member("r1", writable=False)
    asyncio.run(exports.serve("v9", tmp_path / "v9.raw", "raw", [rw, ro]))
    made = [c for c in tgtadm.calls if not c.startswith(("show", "delete account"))]
    assert made == [
        f"new target tid=1 iqn={target_iqn('v9')}",
        f"new logicalunit tid=1 lun=1 backing={tmp_path / 'v9.raw'} bstype=rdwr",
        "new account user=stratus-a1",
        "bind account tid=1 user=stratus-a1",
        "bind target tid=1 address=ALL",
        f"new target tid=2 iqn={target_iqn('v9', False)}",
        f"new logicalunit tid=2 lun=1 backing={tmp_path / 'v9.raw'} bstype=rdwr",
        "update logicalunit tid=2 lun=1 params=readonly=1",
        "new account user=stratus-r1",
        "bind account tid=2 user=stratus-r1",
        "bind target tid=2 address=ALL",
    ]
    assert exports.exported("v9", ro).iqn == target_iqn("v9") + "-ro"
    assert exports.exported("v9", rw).iqn == target_iqn("v9")


def test_the_last_writable_member_gone_takes_its_target(tmp_path: Path) -> None:
    tgtadm = Tgtadm(listing=SHOW)
    exports = _exports(tmp_path, tgtadm)
    ro = exports.new_member("r1", writable=False)
    asyncio.run(exports.serve("v1", tmp_path / "v1.raw", "raw", [ro]))
    changes = [c for c in tgtadm.calls if not c.startswith(("show", "delete account"))]
    assert changes == [
        "unbind account tid=1 user=stratus-a1",
        "unbind account tid=1 user=stratus-a2",
        "delete target tid=1 force=",
    ]  # the read-only target (tid 4) kept as it is


def test_a_grown_volume_has_its_targets_made_again(tmp_path: Path) -> None:
    tgtadm = Tgtadm(listing=SHOW)
    exports = _exports(tmp_path, tgtadm)
    keys = [exports.new_member(x) for x in ("a1", "a2")] + [exports.new_member("r1", False)]
    asyncio.run(exports.serve("v1", tmp_path / "v1.raw", "raw", keys))
    tgtadm.calls.clear()
    asyncio.run(exports.resized("v1"))
    made = [c for c in tgtadm.calls if not c.startswith(("show", "delete account"))]
    lun = f"lun=1 backing={tmp_path / 'v1.raw'} bstype=rdwr"
    assert made == [
        "delete target tid=1 force=",
        f"new target tid=1 iqn={target_iqn('v1')}",
        f"new logicalunit tid=1 {lun}",
        "new account user=stratus-a1", "bind account tid=1 user=stratus-a1",
        "new account user=stratus-a2", "bind account tid=1 user=stratus-a2",
        "bind target tid=1 address=ALL",
        "delete target tid=4 force=",
        f"new target tid=4 iqn={target_iqn('v1', False)}",
        f"new logicalunit tid=4 {lun}",
        "update logicalunit tid=4 lun=1 params=readonly=1",
        "new account user=stratus-r1", "bind account tid=4 user=stratus-r1",
        "bind target tid=4 address=ALL",
    ]  # fmt: skip
    with pytest.raises(DriverError):  # not exported here
        asyncio.run(exports.resized("v7"))


def test_a_target_list_failing_keeps_the_folder(tmp_path: Path) -> None:
    tgtadm = Tgtadm(listing=SHOW, fail=("show", "target"))
    exports = _exports(tmp_path, tgtadm)
    exports.folder("v1").mkdir(parents=True)
    with pytest.raises(DriverError):
        asyncio.run(exports.stop("v1"))
    assert exports.folder("v1").is_dir()  # stopped again at the next pass


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
