"""Objects on disk: put/get/range/delete/tombstones/newer-wins/quarantine/fsync."""

from __future__ import annotations

import errno
import hashlib
import os
import time
from pathlib import Path
from typing import Any

import pytest

from stratus.objectstore.drivers import diskfile as diskfile_module
from stratus.objectstore.drivers.base import ObjectNotFound, ObjectQuarantined
from stratus.objectstore.drivers.diskfile import DiskDevice as ObjectDevice
from stratus.objectstore.drivers.diskio import XATTR
from stratus.objectstore.drivers.hashes import select_files
from stratus.objectstore.drivers.timestamp import Timestamp
from stratus.objectstore.ring.ring import hash_path

NAME = "/AUTH_a/c/o"
HASH = hash_path("AUTH_a", "c", "o").hex()
PART = 7


@pytest.fixture(params=[True, False], ids=["xattr", "trailer"])
def device(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectDevice:
    return ObjectDevice(tmp_path / "sda", use_xattr=request.param)


def put(dev: ObjectDevice, ts: float, data: bytes = b"hello", **headers: str) -> None:
    dev.put(PART, HASH, NAME, Timestamp(ts), data, "text/plain", dict(headers))


def files(dev: ObjectDevice) -> list[str]:
    return sorted(os.listdir(dev.hash_dir(PART, HASH)))


def test_put_then_get(device: ObjectDevice) -> None:
    data = os.urandom(200_000)
    meta = device.put(PART, HASH, NAME, Timestamp(1), data, "image/png", {"X-Object-Meta-A": "b"})
    assert meta.etag == hashlib.md5(data).hexdigest()
    with device.open(PART, HASH) as r:
        assert r.metadata == meta
        assert r.size == len(data)
        assert r.read() == data
        assert b"".join(r.iter_range(chunk=4096)) == data
        assert r.read(10, 20) == data[10:20]
        assert r.read(len(data) - 5) == data[-5:]
        assert r.read(5, 10**9) == data[5:]
    assert files(device) == ["0000000001.00000.data"]
    assert os.listdir(device.tmp_dir) == []


def test_streamed_write_and_abort(device: ObjectDevice) -> None:
    with device.writer(PART, HASH, size=2 << 20) as w:
        for _ in range(32):
            w.write(b"x" * 65536)
        meta = w.commit(NAME, Timestamp(2))
    assert meta.content_length == 2 << 20
    with device.writer(PART, HASH) as w:
        w.write(b"never committed")
    assert os.listdir(device.tmp_dir) == []
    with device.open(PART, HASH) as r:
        assert r.metadata.timestamp == Timestamp(2)


def test_newer_wins_and_older_files_go(device: ObjectDevice) -> None:
    put(device, 1, b"one")
    put(device, 3, b"three")
    put(device, 2, b"two")  # arrives late: obsolete at once
    assert files(device) == ["0000000003.00000.data"]
    with device.open(PART, HASH) as r:
        assert r.read() == b"three"


def test_delete_leaves_a_tombstone(device: ObjectDevice) -> None:
    put(device, 1)
    device.delete(PART, HASH, NAME, Timestamp(2))
    assert files(device) == ["0000000002.00000.ts"]
    with pytest.raises(ObjectNotFound) as err:
        device.open(PART, HASH)
    assert err.value.tombstone == Timestamp(2)
    put(device, 1.5)  # older than the delete: stays deleted
    with pytest.raises(ObjectNotFound):
        device.open(PART, HASH)
    put(device, 3, b"back")
    with device.open(PART, HASH) as r:
        assert r.read() == b"back"
    assert files(device) == ["0000000003.00000.data"]
    with pytest.raises(ObjectNotFound) as err:
        device.open(PART, "0" * 32)
    assert err.value.tombstone is None


def test_post_metadata_overlays(device: ObjectDevice) -> None:
    put(device, 1, b"x", **{"X-Object-Meta-Old": "1", "X-Object-Manifest": "c/p"})
    device.post(PART, HASH, NAME, Timestamp(2), {"X-Object-Meta-New": "2"}, "text/html")
    device.post(PART, HASH, NAME, Timestamp(3), {"X-Object-Meta-Newer": "3"})
    assert files(device) == ["0000000001.00000.data", "0000000003.00000.meta"]
    with device.open(PART, HASH) as r:
        # A POST replaces X-Object-Manifest too (as Swift's allowed_headers):
        # without it, a DLO manifest is a plain object again.
        assert r.metadata.headers == {"X-Object-Meta-Newer": "3"}
        assert r.metadata.content_type == "text/plain"
        assert r.metadata.meta_timestamp == Timestamp(3)
        assert r.metadata.timestamp == Timestamp(1)
    put(device, 4)  # a newer PUT drops the POST
    assert files(device) == ["0000000004.00000.data"]


def test_select_files_rules() -> None:
    names = ["1.00000.data", "2.00000.meta", "3.00000.ts", "4.00000.meta", "junk"]
    assert select_files(names, None) == (
        ["3.00000.ts"],
        ["4.00000.meta", "2.00000.meta", "1.00000.data"],
    )
    assert select_files(["5.00000.data", "5.00000.ts"], None) == (["5.00000.ts"], ["5.00000.data"])
    assert select_files(["5.00000.ts"], 6.0) == ([], ["5.00000.ts"])  # reclaimed
    assert select_files(["5.00000.meta"], None) == (["5.00000.meta"], [])


def test_quarantine_on_bad_metadata_or_size(device: ObjectDevice) -> None:
    put(device, 1, b"abcdef")
    path = os.path.join(device.hash_dir(PART, HASH), "0000000001.00000.data")
    with open(path, "r+b") as f:  # truncate: the size no longer matches
        f.truncate(2 if device.use_xattr else 3)
    with pytest.raises(ObjectQuarantined):
        device.open(PART, HASH)
    assert not os.path.exists(device.hash_dir(PART, HASH))
    assert os.listdir(device.quarantine_dir) == [HASH]
    put(device, 2, b"again")
    where = device.quarantine(PART, HASH)
    assert where.startswith(os.path.join(device.quarantine_dir, HASH + "-"))
    with pytest.raises(ObjectNotFound):
        device.open(PART, HASH)


def test_xattr_less_filesystem_falls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_xattr(*args: Any) -> None:
        raise OSError(errno.ENOTSUP, "not supported")

    monkeypatch.setattr(os, "setxattr", no_xattr)
    monkeypatch.setattr(os, "getxattr", no_xattr)
    dev = ObjectDevice(tmp_path / "sdb")
    put(dev, 1, b"payload", **{"X-Object-Meta-K": "v"})
    assert dev.use_xattr is False
    with dev.open(PART, HASH) as r:
        assert r.read() == b"payload"
        assert r.metadata.headers == {"X-Object-Meta-K": "v"}
    monkeypatch.undo()
    assert os.path.getsize(os.path.join(dev.hash_dir(PART, HASH), "0000000001.00000.data")) > 7


def test_oversized_metadata_goes_to_the_trailer(tmp_path: Path) -> None:
    dev = ObjectDevice(tmp_path / "sdc")
    headers = {f"X-Object-Meta-K{i}": "v" * 250 for i in range(90)}  # ~23 KiB
    put(dev, 1, b"data", **headers)
    assert dev.use_xattr  # still on for the next objects
    with dev.open(PART, HASH) as r:
        assert r.metadata.headers == headers and r.read() == b"data"
    path = os.path.join(dev.hash_dir(PART, HASH), "0000000001.00000.data")
    with pytest.raises(OSError):
        os.getxattr(path, XATTR)


def test_fsync_before_rename_and_dir_fsync_after(
    device: ObjectDevice, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[tuple[str, str]] = []
    real_fsync, real_rename = os.fsync, os.rename

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def rename(src: str, dst: str) -> None:
        events.append(("rename", dst))
        real_rename(src, dst)

    monkeypatch.setattr(diskfile_module.os, "fsync", fsync)
    monkeypatch.setattr(diskfile_module.os, "rename", rename)
    put(device, 1)
    hdir = device.hash_dir(PART, HASH)
    target = os.path.join(hdir, "0000000001.00000.data")
    kinds = [e[0] for e in events]
    first_rename = kinds.index("rename")
    assert events[0][0] == "fsync" and events[0][1].startswith(device.tmp_dir)
    assert events[-1][1] == target or ("rename", target) in events
    after = events[first_rename:]
    assert ("fsync", hdir) in after
    assert ("fsync", os.path.dirname(hdir)) in after  # a new folder's entry
    events.clear()
    put(device, 2)  # an existing folder: just it
    assert events == [
        ("fsync", events[0][1]),
        ("rename", os.path.join(hdir, "0000000002.00000.data")),
        ("fsync", hdir),
    ]


def test_suffix_hashes_follow_changes(device: ObjectDevice) -> None:
    now = time.time()
    assert device.hashes.get(PART) == {}
    put(device, now)
    first = device.hashes.get(PART)
    assert list(first) == [HASH[-3:]]
    assert device.hashes.get(PART) == first  # cached
    assert device.hashes.partitions() == [PART]
    assert device.hashes.suffixes(PART) == [HASH[-3:]]
    assert device.hashes.hash_dirs(PART, HASH[-3:]) == [HASH]
    other = ObjectDevice(Path(device.root).parent / "replica", use_xattr=device.use_xattr)
    other.put(PART, HASH, NAME, Timestamp(now), b"hello", "text/plain")
    assert other.hashes.get(PART) == first  # same versions, same hash
    device.delete(PART, HASH, NAME, Timestamp(now + 1))
    second = device.hashes.get(PART)
    assert second[HASH[-3:]] != first[HASH[-3:]]
    assert device.hashes.get(PART, recalculate=True) == second
    device.hashes.reclaim_age = -60  # the tombstone is old enough to forget
    assert device.hashes.get(PART, recalculate=True) == {}
    assert not os.path.exists(device.hash_dir(PART, HASH))


def test_policy_folders(tmp_path: Path) -> None:
    dev = ObjectDevice(tmp_path, policy=2)
    assert dev.objects_dir.endswith("objects-2")


def test_big_objects_are_read_around_the_page_cache(device: ObjectDevice) -> None:
    from stratus.objectstore.node import objectfiles

    data = os.urandom(objectfiles.DIRECT_MIN + 12345)
    put(device, 1.0, data)
    with device.open(PART, HASH) as reader:
        spans = [(0, 100), (4095, 10000), (5000, 2 << 20), (len(data) - 777, len(data))]
        for start, end in spans:
            got = b""
            pos = start
            while pos < end:
                chunk = objectfiles.pread(reader, pos, end)
                got += chunk
                pos += len(chunk)
            assert got == data[start:end], (start, end)
        try:
            os.close(os.open(reader.path, os.O_RDONLY | os.O_DIRECT))
        except OSError:
            pass  # tmpfs, say: the buffered reads served
        else:
            assert reader._direct >= 0  # the direct reads served
    with device.open(PART, HASH) as reader:
        assert reader.read() == data  # the buffered path agrees
