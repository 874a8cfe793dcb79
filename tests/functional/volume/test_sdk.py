"""openstacksdk's block_storage proxy against the cloud."""

from __future__ import annotations

import openstack
import pytest

from tests.conftest import Server
from tests.functional.volume.conftest import unique


@pytest.fixture(scope="module")
def conn(cloud: Server) -> openstack.connection.Connection:
    return openstack.connect(
        auth_url=cloud.auth_url,
        username="admin",
        password=cloud.admin_password,
        project_name="admin",
        user_domain_name="Default",
        project_domain_name="Default",
    )


def test_sdk_volume_snapshot_backup(conn: openstack.connection.Connection) -> None:
    bs = conn.block_storage
    volume = bs.create_volume(size=1, name=unique("sdk"), metadata={"from": "sdk"})
    volume = bs.wait_for_status(volume, "available", wait=60)
    assert volume.metadata == {"from": "sdk"} and volume.size == 1
    bs.extend_volume(volume, 2)
    volume = bs.wait_for_status(bs.get_volume(volume.id), "available", wait=60)
    assert bs.get_volume(volume.id).size == 2
    snap = bs.create_snapshot(volume_id=volume.id, name=unique("snap"))
    snap = bs.wait_for_status(snap, "available", wait=60)
    assert [s.id for s in bs.snapshots(volume_id=volume.id)] == [snap.id]
    backup = bs.create_backup(volume_id=volume.id, name=unique("bk"))
    backup = bs.wait_for_status(backup, "available", wait=120)
    assert backup.size == 2
    clone = bs.create_volume(size=2, snapshot_id=snap.id, name=unique("clone"))
    bs.wait_for_status(clone, "available", wait=60)
    bs.delete_backup(backup)
    bs.wait_for_delete(backup, wait=60)
    bs.delete_snapshot(snap)
    bs.wait_for_delete(snap, wait=60)
    for v in (clone, volume):
        bs.delete_volume(v)
        bs.wait_for_delete(v, wait=60)


def test_sdk_types_limits_services(conn: openstack.connection.Connection) -> None:
    bs = conn.block_storage
    vtype = bs.create_type(name=unique("type"), extra_specs={"k": "v"})
    assert bs.get_type(vtype.id).extra_specs == {"k": "v"}
    assert any(t.name == "__DEFAULT__" for t in bs.types())
    limits = bs.get_limits()
    assert limits.absolute.max_total_volumes >= 1
    assert {s.binary for s in bs.services()} >= {"cinder-volume", "cinder-backup"}
    assert [z.name for z in bs.availability_zones()] == ["nova"]
    bs.delete_type(vtype)
