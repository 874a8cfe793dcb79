"""The file backend on a real filesystem: volumes, internal snapshots (or
reflinks), clones that outlive their sources, bytes over qemu-nbd."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stratus.volume.drivers.base import DriverError, SnapshotRef, VolumeRef
from stratus.volume.drivers.file import FileDriver

MiB = 1 << 20


@pytest.fixture
async def driver(tmp_path: Path) -> FileDriver:
    d = FileDriver(tmp_path / "host")
    await d.start()
    return d


async def test_snapshot_clone_and_extend(driver: FileDriver) -> None:
    await driver.create(VolumeRef("v1", 1))
    data = os.urandom(MiB)
    async with driver.writer("v1") as w:
        await w.write(4 * MiB, data)
    snap = SnapshotRef("s1", "v1", 1)
    await driver.snapshot(snap)
    async with driver.writer("v1") as w:
        await w.write(4 * MiB, b"\xff" * 4096)
    await driver.create_from_snapshot(VolumeRef("v2", 2), snap)
    await driver.delete_snapshot(snap)
    await driver.delete("v1")
    async with driver.reader("v2") as r:
        assert r.size == 2 << 30
        assert await r.read(4 * MiB, MiB) == data, "the clone keeps the snapshot's data"
    await driver.extend(VolumeRef("v2", 2), 3)
    assert await driver.size_of("v2") == 3 << 30
    with pytest.raises(DriverError):
        await driver.create_from_volume(VolumeRef("v3", 1), VolumeRef("v2", 3))
    inventory = await driver.inventory()
    assert inventory.volumes == {"v2"} and inventory.snapshots == frozenset()


async def test_reader_of_a_snapshot_and_zero_extents(driver: FileDriver) -> None:
    await driver.create(VolumeRef("v", 1))
    async with driver.writer("v") as w:
        await w.write(0, b"before")
    snap = SnapshotRef("s", "v", 1)
    await driver.snapshot(snap)
    async with driver.writer("v") as w:
        await w.write(0, b"after!")
        await w.write_zeroes(0, 4096)
    async with driver.reader("v", snap) as r:
        assert await r.read(0, 6) == b"before"
    async with driver.reader("v") as r:
        assert await r.read(0, 6) == bytes(6)
        extents = await r.extents()
        assert sum(e.length for e in extents) == 1 << 30
        assert any(e.zero for e in extents)
    await driver.revert(VolumeRef("v", 1), snap)
    async with driver.reader("v") as r:
        assert await r.read(0, 6) == b"before"
    assert (await driver.inventory()).snapshots == {("v", "s")}


async def test_connection_names_the_file(driver: FileDriver) -> None:
    await driver.create(VolumeRef("v", 1))
    conn = driver.connection("v", {})
    assert conn.driver_volume_type == "file"
    assert Path(conn.data["path"]).exists() and conn.data["format"] == "qcow2"
