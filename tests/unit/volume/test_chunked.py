"""The chunked backup format: full and incremental backups, zero chunks,
checksums verified on restore, deletion of a backup's own objects."""

from __future__ import annotations

import json
import os

import pytest

from stratus.volume.agent import chunked
from stratus.volume.drivers.fake import BLOCK, FakeBackupStore, _Disk

MiB = 1 << 20


async def disk_with(size: int, writes: dict[int, bytes]) -> _Disk:
    disk = _Disk(size)
    for offset, data in writes.items():
        await disk.write(offset, data)
    return disk


async def run_backup(
    disk: _Disk, store: FakeBackupStore, prefix: str, parent: dict | None = None
) -> dict:
    return await chunked.backup(
        disk,
        store,
        "c",
        prefix,
        chunk_size=MiB,
        compression="zlib",
        parent=parent,
        header={"backup_id": prefix},
    )


async def test_full_backup_restores_the_same_bytes() -> None:
    data = os.urandom(MiB) + b"\x07" * MiB
    disk = await disk_with(8 * MiB, {0: data, 5 * MiB: b"tail"})
    store = FakeBackupStore()
    meta = await run_backup(disk, store, "p1")
    kinds = [c["compression"] for c in meta["chunks"]]
    assert kinds[0] == "none", "random data is stored as it is"
    assert kinds[1] == "zlib"
    assert kinds.count("zero") == 5, "chunks of zeros are not stored"
    assert len(store.containers["c"]) == 3 + 1  # three chunks and the metadata
    target = _Disk(8 * MiB)
    await target.write(3 * MiB, b"junk")  # restored over: the junk must go
    await chunked.restore(target, store, "c", await chunked.load_metadata(store, "c", "p1"))
    assert await target.read(0, 8 * MiB) == await disk.read(0, 8 * MiB)


async def test_incremental_stores_only_changed_chunks() -> None:
    disk = await disk_with(4 * MiB, {0: os.urandom(4 * MiB)})
    store = FakeBackupStore()
    full = await run_backup(disk, store, "full")
    await disk.write(2 * MiB + 10, b"changed")
    incr = await run_backup(disk, store, "incr", parent=full)
    own = [c for c in incr["chunks"] if c["object"] and c["object"].startswith("incr")]
    assert [c["offset"] for c in own] == [2 * MiB]
    assert (
        sum(1 for n in store.containers["c"] if n.startswith("incr")) == 2
    )  # a chunk, the metadata
    target = _Disk(4 * MiB)
    await chunked.restore(target, store, "c", incr)
    assert await target.read(0, 4 * MiB) == await disk.read(0, 4 * MiB)
    assert await chunked.delete(store, "c", "incr") == 2
    assert all(n.startswith("full") for n in store.containers["c"])


async def test_a_damaged_chunk_is_refused() -> None:
    disk = await disk_with(2 * MiB, {0: b"a" * BLOCK})
    store = FakeBackupStore()
    meta = await run_backup(disk, store, "p")
    name = meta["chunks"][0]["object"]
    store.containers["c"][name] = store.containers["c"][name][:-1] + b"\x00"
    with pytest.raises(chunked.BackupDamaged):
        await chunked.restore(_Disk(2 * MiB), store, "c", meta)
    store.containers["c"]["p_metadata"] = b"{not json"
    with pytest.raises(chunked.BackupDamaged):
        await chunked.load_metadata(store, "c", "p")
    del store.containers["c"]["p_metadata"]
    with pytest.raises(chunked.BackupDamaged):
        await chunked.load_metadata(store, "c", "p")
    assert json.dumps(meta)  # the metadata is plain JSON


async def test_a_smaller_volume_cannot_take_a_backup() -> None:
    disk = await disk_with(4 * MiB, {0: b"x"})
    store = FakeBackupStore()
    meta = await run_backup(disk, store, "p")
    with pytest.raises(chunked.DriverError):
        await chunked.restore(_Disk(2 * MiB), store, "c", meta)
