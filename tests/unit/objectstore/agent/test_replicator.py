"""The object replicator: missing copies, handoffs, tombstones, POSTs, and
corrupted copies that must not spread."""

from __future__ import annotations

import os

from stratus.objectstore.agent import ObjectReplicator
from stratus.objectstore.agent.replicator import to_push
from tests.unit.objectstore.agent.conftest import ACCOUNT, Cluster


async def replicate(cluster: Cluster) -> list[ObjectReplicator]:
    workers = [ObjectReplicator(n) for n in cluster.nodes]
    for w in workers:
        await w.run_once()
    return workers


def flip(path: str) -> None:
    with open(path, "r+b") as f:
        first = f.read(1)
        f.seek(0)
        f.write(bytes([first[0] ^ 0xFF]))


async def test_a_lost_copy_comes_back(cluster: Cluster) -> None:
    assert await cluster.put("c", "o", b"hello") == 201
    (_, lost), (_, kept), _ = cluster.holders("c", "o")
    before = cluster.data_files(kept)
    for name in os.listdir(lost):
        os.unlink(os.path.join(lost, name))
    os.rmdir(lost)
    workers = await replicate(cluster)
    assert cluster.data_files(lost) == before
    with (
        open(os.path.join(lost, before[0]), "rb") as a,
        open(os.path.join(kept, before[0]), "rb") as b,
    ):
        assert a.read(5) == b.read(5) == b"hello"
    assert sum(w.stats.files_pushed for w in workers) >= 1
    # In sync now: a second pass pushes nothing.
    again = await replicate(cluster)
    assert sum(w.stats.files_pushed for w in again) == 0


async def test_a_handoff_goes_to_the_primary_that_was_down(cluster: Cluster) -> None:
    holders = cluster.holders("c", "o")
    down_node, down_folder = holders[0]
    cluster.down(down_node)
    assert await cluster.put("c", "o", b"written while down") == 201
    part = cluster.object_ring.partition(ACCOUNT, "c", "o")
    primaries = {d.port for d in cluster.object_ring.nodes(part)}
    handoff = next(n for n in cluster.nodes if n.port not in primaries)
    handoff_dir = os.path.join(
        handoff.devices_root, f"d{handoff.port - 6300}", "objects", str(part)
    )
    assert os.path.isdir(handoff_dir)
    cluster.up(down_node)
    workers = await replicate(cluster)
    assert len(cluster.data_files(down_folder)) == 1
    assert not os.path.exists(handoff_dir)
    assert sum(w.stats.handoffs_removed for w in workers) == 1
    assert await cluster.get("c", "o") == (200, b"written while down")


async def test_a_delete_reaches_the_copy_that_missed_it(cluster: Cluster) -> None:
    assert await cluster.put("c", "o", b"old") == 201
    down_node, folder = cluster.holders("c", "o")[0]
    cluster.down(down_node)
    resp = await cluster.store.objects.delete(ACCOUNT, "c", "o")
    assert resp.status == 204
    cluster.up(down_node)
    assert len(cluster.data_files(folder)) == 1  # still the old copy
    await replicate(cluster)
    names = os.listdir(folder)
    assert len(names) == 1 and names[0].endswith(".ts")
    assert (await cluster.get("c", "o"))[0] == 404


async def test_a_post_reaches_the_copy_that_missed_it(cluster: Cluster) -> None:
    assert await cluster.put("c", "o", b"data") == 201
    down_node, folder = cluster.holders("c", "o")[0]
    cluster.down(down_node)
    resp = await cluster.store.objects.post(ACCOUNT, "c", "o", {"x-object-meta-color": "blue"})
    assert resp.status == 202
    cluster.up(down_node)
    await replicate(cluster)
    exts = sorted(os.path.splitext(n)[1] for n in os.listdir(folder))
    assert exts == [".data", ".meta"]
    resp = await cluster.store.objects.read("GET", ACCOUNT, "c", "o")
    assert resp.headers["x-object-meta-color"] == "blue"
    assert await resp.read() == b"data"


async def test_a_corrupted_copy_is_refused_and_quarantined(cluster: Cluster) -> None:
    assert await cluster.put("c", "o", b"precious bytes") == 201
    (bad_node, bad), (_, lost), (_, good) = cluster.holders("c", "o")
    name = cluster.data_files(bad)[0]
    flip(os.path.join(bad, name))
    for n in os.listdir(lost):
        os.unlink(os.path.join(lost, n))
    # Only the corrupted node pushes: the receiver refuses its copy (422).
    w = ObjectReplicator(bad_node)
    await w.run_once()
    assert w.stats.quarantined == 1
    assert cluster.data_files(lost) == []
    assert not os.path.exists(bad)
    # Then the good copy restores both.
    await replicate(cluster)
    with open(os.path.join(good, name), "rb") as f:
        expected = f.read()
    for folder in (bad, lost):
        with open(os.path.join(folder, name), "rb") as f:
            assert f.read() == expected


def test_to_push() -> None:
    d1, d2, m3, t4 = "1.00000.data", "2.00000.data", "3.00000.meta", "4.00000.ts"
    assert to_push([d2], []) == [d2]
    assert to_push([d2], [d2]) == []
    assert to_push([d1], [d2]) == []  # theirs is newer
    assert to_push([m3, d2], [d1]) == [d2, m3]
    assert to_push([m3, d2], [d2]) == [m3]
    assert to_push([t4], [m3, d2]) == [t4]
    assert to_push([m3, d2], [t4]) == []
