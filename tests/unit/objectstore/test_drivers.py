"""The storage node's drivers keep one contract: objects on disk and in
memory, listing databases as SQLite files and in memory.  The same checks
run on each, and a node serves the same answers over the fake ones."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from stratus.objectstore.drivers.base import (
    DatabaseDriver,
    DatabaseNotFound,
    ObjectDevice,
    ObjectNotFound,
    ObjectRow,
)
from stratus.objectstore.drivers.diskfile import DiskDriver
from stratus.objectstore.drivers.fake import MemoryDatabases, MemoryDriver
from stratus.objectstore.drivers.sqlite import SqliteDatabases
from stratus.objectstore.drivers.timestamp import Timestamp
from stratus.objectstore.node.protocol import NodeRequest
from stratus.objectstore.node.server import StorageNode

HASH = "0123456789abcdef0123456789abcdef"
NAME = "/a/c/o"


@pytest.fixture(params=["disk", "memory"])
def device(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectDevice:
    driver = DiskDriver() if request.param == "disk" else MemoryDriver()
    return driver.device(str(tmp_path / "sda"), 0)


def put(dev: ObjectDevice, ts: float, data: bytes, **headers: str) -> None:
    with dev.writer(1, HASH, len(data)) as w:
        w.write(data)
        w.commit(NAME, Timestamp(ts), "text/plain", headers)


def test_objects_put_read_and_newest_wins(device: ObjectDevice) -> None:
    with pytest.raises(ObjectNotFound):
        device.open(1, HASH)
    assert device.current(1, HASH) == (None, False)
    put(device, 1.0, b"first")
    put(device, 3.0, b"third", **{"x-object-meta-a": "b"})
    put(device, 2.0, b"second")  # older than what is stored: never current
    with device.open(1, HASH) as reader:
        assert reader.read() == b"third" and reader.size == 5
        assert reader.pread(1, 3) == b"hir"
        assert reader.metadata.headers == {"x-object-meta-a": "b"}
        assert reader.metadata.etag == hashlib.md5(b"third").hexdigest()
    assert device.current(1, HASH) == (Timestamp(3.0), True)


def test_objects_post_delete_and_replication_views(device: ObjectDevice) -> None:
    put(device, 1.0, b"data", **{"x-object-meta-a": "b"})
    device.post(1, HASH, NAME, Timestamp(2.0), {"x-object-meta-c": "d"}, "image/png")
    with device.open(1, HASH) as reader:
        assert reader.metadata.headers == {"x-object-meta-c": "d"}
        assert reader.metadata.content_type == "image/png"
    files = device.list_files(1, [HASH[-3:]])[HASH[-3:]][HASH]
    assert sorted(files) == [Timestamp(1.0).internal + ".data", Timestamp(2.0).internal + ".meta"]
    assert device.has_file(1, HASH, Timestamp(1.0).internal + ".data")
    before = device.suffix_hashes(1)
    device.delete(1, HASH, NAME, Timestamp(3.0))
    with pytest.raises(ObjectNotFound) as lost:
        device.open(1, HASH)
    assert lost.value.tombstone == Timestamp(3.0)
    assert device.current(1, HASH) == (Timestamp(3.0), False)
    assert device.suffix_hashes(1, True) != before


def test_aborted_write_leaves_nothing(device: ObjectDevice) -> None:
    with device.writer(1, HASH) as w:
        w.write(b"partial")
    with pytest.raises(ObjectNotFound):
        device.open(1, HASH)


@pytest.fixture(params=["sqlite", "memory"])
def databases(request: pytest.FixtureRequest) -> DatabaseDriver:
    return SqliteDatabases() if request.param == "sqlite" else MemoryDatabases()


def test_databases_create_open_list(databases: DatabaseDriver, tmp_path: Path) -> None:
    path = str(tmp_path / "c.db")
    with pytest.raises(DatabaseNotFound):
        databases.open_container(path)
    db = databases.create_container(path, "a", "c", Timestamp(1.0), 0)
    rows = [ObjectRow(f"o{i}", Timestamp(2.0).internal, i, "text/plain", "e") for i in range(3)]
    assert db.merge_items(rows) == 3
    same = databases.open_container(path)
    assert [e["name"] for e in same.list(prefix="o", limit=2)] == ["o0", "o1"]
    assert same.info().object_count == 3 and same.info().bytes_used == 3
    account = databases.create_account(str(tmp_path / "a.db"), "a", Timestamp(1.0))
    assert account.info().container_count == 0


async def test_a_node_over_the_fake_drivers(tmp_path: Path) -> None:
    (tmp_path / "sda").mkdir()
    node = StorageNode(
        tmp_path,
        objects=MemoryDriver(),
        databases=MemoryDatabases(),
        hash_prefix="",
        hash_suffix="",
    )

    async def body() -> AsyncIterator[bytes]:
        yield b"hello"

    try:
        stamp = Timestamp.now().internal
        put_req = NodeRequest(
            "PUT",
            "sda",
            3,
            "a",
            "c",
            "o",
            {"x-timestamp": stamp, "content-length": "5", "content-type": "text/plain"},
            body=body(),
        )
        assert (await node.handle(put_req)).status == 201
        got = await node.handle(NodeRequest("GET", "sda", 3, "a", "c", "o"))
        assert got.status == 200 and await got.read() == b"hello"
        ranged = await node.handle(
            NodeRequest("GET", "sda", 3, "a", "c", "o", {"range": "bytes=1-2"})
        )
        assert ranged.status == 206 and await ranged.read() == b"el"
        made = NodeRequest("PUT", "sda", 2, "a", "c", headers={"x-timestamp": stamp})
        assert (await node.handle(made)).status == 201
        assert not list((tmp_path / "sda").iterdir())  # nothing on disk
    finally:
        await node.close()
