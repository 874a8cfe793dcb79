"""The auditor, the updater, the expirer, the database replicator, and the
workers run in a node's process."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import shutil
import time

import pytest

from stratus.objectstore.agent import (
    Auditor,
    BackgroundWorkers,
    DatabaseReplicator,
    Expirer,
    ObjectReplicator,
    ObjectUpdater,
)
from stratus.objectstore.agent.base import RateLimiter
from stratus.objectstore.node import expiring
from stratus.objectstore.node.protocol import NodeRequest
from stratus.objectstore.node.updates import list_pending
from tests.unit.objectstore.agent.conftest import ACCOUNT, Cluster
from tests.unit.objectstore.agent.test_replicator import flip


async def each(cluster: Cluster, cls: type, **kw: object) -> list:
    workers = [cls(n, **kw) for n in cluster.nodes]
    for w in workers:
        await w.run_once()
    return workers


def fast_auditor(node: object) -> Auditor:
    return Auditor(node, bytes_per_second=0, files_per_second=0)  # type: ignore[arg-type]


# -- auditor ---------------------------------------------------------------------------


async def test_the_auditor_quarantines_and_the_replicator_restores(
    cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    assert await cluster.put("c", "o", b"x" * 1000) == 201
    assert await cluster.put("c", "fine", b"fine") == 201
    _, _, (bad_node, bad) = cluster.holders("c", "o")
    name = cluster.data_files(bad)[0]
    flip(os.path.join(bad, name))
    with caplog.at_level(logging.WARNING):
        auditor = fast_auditor(bad_node)
        await auditor.run_once()
    assert len(auditor.stats.quarantined) == 1
    assert not os.path.exists(bad)
    assert os.path.isdir(auditor.stats.quarantined[0])
    assert any("quarantined" in r.message and "MD5" in r.message for r in caplog.records)
    # A second pass finds nothing; the replicator brings the copy back.
    again = fast_auditor(bad_node)
    await again.run_once()
    assert again.stats.quarantined == []
    await each(cluster, ObjectReplicator)
    with open(os.path.join(bad, name), "rb") as f:
        assert f.read(1000) == b"x" * 1000
    for node in cluster.nodes:
        a = fast_auditor(node)
        await a.run_once()
        assert a.stats.quarantined == [] and a.stats.bad_databases == []


async def test_a_corrupted_first_copy_is_never_served(cluster: Cluster) -> None:
    data = os.urandom(4096)
    assert await cluster.put("c", "o", data) == 201
    (_, first), _, _ = cluster.holders("c", "o")
    flip(os.path.join(first, cluster.data_files(first)[0]))
    status, body = await cluster.get("c", "o")
    assert status == 200 and hashlib.md5(body).digest() == hashlib.md5(data).digest()
    assert not os.path.exists(first)  # quarantined on read
    await each(cluster, ObjectReplicator)
    assert len(cluster.data_files(first)) == 1


def test_the_rate_limiter_keeps_to_its_rate() -> None:
    limiter = RateLimiter(1000)
    limiter.wait(1000)  # the saved-up second
    started = time.monotonic()
    for _ in range(4):
        limiter.wait(50)
    assert time.monotonic() - started >= 0.15
    RateLimiter(0).wait(10**9)  # no limit: returns at once


# -- updater ------------------------------------------------------------------------------


async def test_the_updater_sends_what_failed(cluster: Cluster) -> None:
    _, _, devs = cluster.store.proxy.container_ring.locate(ACCOUNT, "c")
    first = cluster.node_of(devs[0].port)  # the replica listings are read from
    await cluster.store.objects.container_info(ACCOUNT, "c")
    cluster.down(first)
    assert await cluster.put("c", "late", b"late") == 201
    for n in cluster.nodes:
        await n.drain()
    assert pendings(cluster)
    cluster.up(first)
    assert await cluster.listing("c") == []
    workers = await each(cluster, ObjectUpdater)
    assert sum(w.stats.sent for w in workers) == sum(w.stats.pendings for w in workers) > 0
    assert await cluster.listing("c") == ["late"]
    assert not pendings(cluster)


def pendings(cluster: Cluster) -> list[str]:
    return [
        p
        for n in cluster.nodes
        for d in os.listdir(n.devices_root)
        for p in list_pending(os.path.join(n.devices_root, d))
    ]


# -- expirer ------------------------------------------------------------------------------


async def test_the_expirer_deletes_and_updates_the_listing(cluster: Cluster) -> None:
    at = int(time.time()) + 2
    assert await cluster.put("c", "brief", b"x", {"x-delete-at": str(at)}) == 201
    assert await cluster.put("c", "kept", b"y") == 201
    later = at + 100
    assert await cluster.put("c", "extended", b"z", {"x-delete-at": str(at)}) == 201
    resp = await cluster.store.objects.post(ACCOUNT, "c", "extended", {"x-delete-at": str(later)})
    assert resp.status == 202
    assert sorted(await cluster.listing("c")) == ["brief", "extended", "kept"]
    await asyncio.sleep(max(0.0, at - time.time()) + 0.05)
    workers = await each(cluster, Expirer)
    assert sum(w.stats.expired for w in workers) >= 2
    assert sorted(await cluster.listing("c")) == ["extended", "kept"]
    assert (await cluster.get("c", "brief"))[0] == 404
    assert await cluster.get("c", "extended") == (200, b"z")
    for _, folder in cluster.holders("c", "brief"):
        assert [n[-3:] for n in os.listdir(folder)] == [".ts"]
    for n in cluster.nodes:
        for d in os.listdir(n.devices_root):
            due = expiring.due(os.path.join(n.devices_root, d), time.time())
            assert due == []


# -- databases ----------------------------------------------------------------------------


async def test_container_databases_catch_up(cluster: Cluster) -> None:
    ring = cluster.store.proxy.container_ring
    part, name_hash, devs = ring.locate(ACCOUNT, "c")
    behind = cluster.node_of(devs[0].port)
    cluster.down(behind)
    for i in range(5):
        assert await cluster.put("c", f"o{i}", b"d") == 201
    for n in cluster.nodes:
        await n.drain()
    cluster.up(behind)
    # The rows it missed come by sync points; a copy that is gone comes whole.
    lost = cluster.node_of(devs[1].port)
    lost_db = os.path.join(
        lost.devices_root, devs[1].device, "containers", str(part), name_hash[-3:], name_hash
    )
    lost.dbs.close()
    shutil.rmtree(lost_db)
    workers = await each(cluster, DatabaseReplicator)
    assert sum(w.stats.rows_sent for w in workers) >= 5
    assert sum(w.stats.files_sent for w in workers) >= 1
    for dev in devs:
        node = cluster.node_of(dev.port)
        resp = await node.handle(NodeRequest("GET", dev.device, part, ACCOUNT, "c"))
        body = await resp.read()
        assert resp.status == 200
        assert all(f'"o{i}"'.encode() in body for i in range(5)), dev
    # Rows merged get new row ids, which go back once (merging to nothing);
    # then the replicas are in step and nothing more is sent.
    sent = []
    for _ in range(3):
        again = await each(cluster, DatabaseReplicator)
        sent.append(sum(w.stats.rows_sent + w.stats.files_sent for w in again))
    assert sent[-1] == 0, sent


async def test_far_behind_gets_the_whole_database_merged(cluster: Cluster) -> None:
    ring = cluster.store.proxy.container_ring
    part, _, devs = ring.locate(ACCOUNT, "c")
    behind = cluster.node_of(devs[2].port)
    cluster.down(behind)
    for i in range(3):
        assert await cluster.put("c", f"o{i}", b"d") == 201
    for n in cluster.nodes:
        await n.drain()
    cluster.up(behind)
    w = DatabaseReplicator(cluster.node_of(devs[0].port), far_behind=0)
    await w.run_once()
    assert w.stats.files_sent >= 1
    resp = await behind.handle(NodeRequest("HEAD", devs[2].device, part, ACCOUNT, "c"))
    assert resp.headers["x-container-object-count"] == "3"


# -- in the node's process ------------------------------------------------------------------


async def test_workers_run_in_the_node(cluster: Cluster) -> None:
    node = cluster.nodes[0]
    node.worker_interval = 0.05
    node.make_background = BackgroundWorkers
    await node.start()
    assert isinstance(node.background, BackgroundWorkers)
    await asyncio.sleep(0.5)
    assert node.background.replicator.passes >= 1
    assert node.background.updater.passes >= 1
    await node.background.run_once()
    await node.background.stop()
