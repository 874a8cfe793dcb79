"""The file backend on a real filesystem: volumes, internal snapshots (or
reflinks), clones that outlive their sources, bytes over qemu-nbd."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from stratus.volume.drivers.base import DriverError, GiB, HeldOpen, SnapshotRef, VolumeRef
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


async def test_extend_of_a_file_held_open_is_the_holders(
    driver: FileDriver, tmp_path: Path
) -> None:
    """A volume file a QEMU holds open (as an attached guest's does) cannot
    be grown by qemu-img: the driver says so with HeldOpen, and the holder
    grows it (QMP block_resize), which the driver then sees."""
    volume = VolumeRef(str(uuid.uuid4()), 1)
    await driver.create(volume)
    path = driver.volumes / f"volume-{volume.id}.qcow2"
    sock = tmp_path / "qmp.sock"
    holder = subprocess.Popen(
        ["qemu-storage-daemon", "--blockdev", f"driver=file,filename={path},node-name=f",
         "--blockdev", "driver=qcow2,file=f,node-name=q",
         "--chardev", f"socket,path={sock},server=on,wait=off,id=c", "--monitor", "chardev=c"],
    )  # fmt: skip
    try:
        for _ in range(100):
            if sock.exists():
                break
            time.sleep(0.05)
        with pytest.raises(HeldOpen):
            await driver.extend(volume, 2)
        assert await driver.size_of(volume.id) == GiB
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(sock))
            f = s.makefile("rw")
            f.readline()
            for cmd in ({"execute": "qmp_capabilities"},
                        {"execute": "block_resize", "arguments": {"node-name": "q", "size": 2 * GiB}}):  # fmt: skip
                f.write(json.dumps(cmd) + "\n")
                f.flush()
                assert "return" in json.loads(f.readline())
    finally:
        holder.terminate()
        holder.wait()
    assert await driver.size_of(volume.id) == 2 * GiB
    await driver.extend(volume, 2)  # nothing left to do
