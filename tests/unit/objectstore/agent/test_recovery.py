"""What a crash leaves, put right: the reporter sends the stats an account
missed, and recovery at start sweeps tmp/ and sends the listing rows that
are behind the objects on disk."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest

from stratus.objectstore.agent import BackgroundWorkers, ContainerReporter, Recovery
from stratus.objectstore.agent.recovery import STATE_FILE
from stratus.objectstore.drivers.timestamp import Timestamp
from stratus.objectstore.node.server import StorageNode
from tests.unit.objectstore.agent.conftest import ACCOUNT, Cluster


async def settle(cluster: Cluster) -> None:
    for n in cluster.nodes:
        await n.drain()


async def account_totals(cluster: Cluster) -> tuple[str, str]:
    cluster.store.proxy.forget(ACCOUNT)
    resp = await cluster.store.accounts.head(ACCOUNT)
    return resp.headers["x-account-object-count"], resp.headers["x-account-bytes-used"]


async def listing(cluster: Cluster, container: str) -> dict[str, tuple[int, str]]:
    cluster.store.proxy.forget(ACCOUNT, container)
    found = await cluster.store.containers.get(ACCOUNT, container, {})
    return {e["name"]: (e["bytes"], e["hash"]) for e in found.entries}


def device_of(node: StorageNode) -> str:
    return os.listdir(node.devices_root)[0]


def write_behind_the_listing(cluster: Cluster, obj: str, data: bytes | None) -> Timestamp:
    """What a crash between the rename and the container update leaves: the
    object (or its tombstone) on every replica, the listing unchanged."""
    part, name_hash, devs = cluster.object_ring.locate(ACCOUNT, "c", obj)
    ts = Timestamp.now()
    for dev in devs:
        disk = cluster.node_of(dev.port).object_device(dev.device, 0)
        if data is None:
            disk.delete(part, name_hash, f"/{ACCOUNT}/c/{obj}", ts)
        else:
            disk.put(part, name_hash, f"/{ACCOUNT}/c/{obj}", ts, data)
    return ts


async def recover(cluster: Cluster) -> list[Recovery]:
    workers = [Recovery(n) for n in cluster.nodes]
    for w in workers:
        await w.run_once()
    await settle(cluster)
    return workers


# -- the reporter ----------------------------------------------------------------------


async def test_the_reporter_sends_the_stats_an_account_missed(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert await cluster.put("c", "first", b"12345") == 201
    await settle(cluster)
    assert await account_totals(cluster) == ("1", "5")
    # a crash before the scheduled report: the listing has it, the account not
    for n in cluster.nodes:
        monkeypatch.setattr(n.containers, "_report_soon", lambda *a: None)
    assert await cluster.put("c", "second", b"123") == 201
    assert await cluster.put("c", "third", b"1") == 201
    await settle(cluster)
    assert await account_totals(cluster) == ("1", "5")
    monkeypatch.undo()

    reporters = [ContainerReporter(n) for n in cluster.nodes]
    for r in reporters:
        await r.run_once()
    await settle(cluster)
    assert await account_totals(cluster) == ("3", "9")
    assert sum(r.stats.reported for r in reporters) >= 1
    # a second pass finds nothing the account has not seen
    for r in reporters:
        await r.run_once()
    assert sum(r.stats.reported for r in reporters) == 0


# -- recovery --------------------------------------------------------------------------


async def test_recovery_sends_the_rows_a_crash_kept_from_the_listing(
    cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    for name in ("kept", "overwritten", "deleted"):
        assert await cluster.put("c", name, name.encode()) == 201
    await settle(cluster)
    write_behind_the_listing(cluster, "overwritten", b"the new, longer body")
    write_behind_the_listing(cluster, "deleted", None)
    write_behind_the_listing(cluster, "new", b"never listed")
    before = await listing(cluster, "c")
    assert set(before) == {"kept", "overwritten", "deleted"}  # behind the disk

    workers = await recover(cluster)

    after = await listing(cluster, "c")
    assert set(after) == {"kept", "overwritten", "new"}
    assert after["overwritten"][0] == len(b"the new, longer body")
    assert after["new"][0] == len(b"never listed")
    assert await account_totals(cluster) == (
        "3",
        str(len(b"kept") + len(b"the new, longer body") + len(b"never listed")),
    )
    # each row found behind on a node is named (the first node to recover
    # also sends its rows to the others' listings, unread)
    resent = {name for w in workers for name in w.stats.resent}
    assert resent and resent <= {f"/{ACCOUNT}/c/{n}" for n in ("overwritten", "deleted", "new")}
    assert "its listing row was behind what is on disk" in caplog.text
    # a second start after a crash finds nothing behind
    again = await recover(cluster)
    assert not any(w.stats.resent for w in again)
    assert sum(w.stats.examined for w in again) > 0


async def test_after_a_clean_stop_nothing_is_compared(cluster: Cluster) -> None:
    assert await cluster.put("c", "a", b"a") == 201
    await settle(cluster)
    workers = await recover(cluster)
    for w in workers:
        w.mark_clean()
    for n in cluster.nodes:
        state = json.loads((n.devices_root / device_of(n) / STATE_FILE).read_text())
        assert state == {"clean": True}
    write_behind_the_listing(cluster, "unseen", b"x")  # cannot happen after a clean stop
    again = await recover(cluster)
    assert sum(w.stats.examined for w in again) == 0
    for n in cluster.nodes:
        state = json.loads((n.devices_root / device_of(n) / STATE_FILE).read_text())
        assert state["running_since"] <= time.time()


async def test_after_a_crash_only_what_changed_since_the_last_start_is_compared(
    cluster: Cluster,
) -> None:
    for name in ("old1", "old2", "old3"):
        assert await cluster.put("c", name, b"x") == 201
    await settle(cluster)
    past = time.time() - 600
    for n in cluster.nodes:
        for dirpath, _, _ in os.walk(n.devices_root / device_of(n) / "objects"):
            os.utime(dirpath, (past, past))
    await recover(cluster)  # no state yet: every object is compared
    # the last run started 60 s ago and crashed after writing "late"
    for n in cluster.nodes:
        root = n.devices_root / device_of(n)
        (root / STATE_FILE).write_text(json.dumps({"running_since": time.time() - 60}))
    write_behind_the_listing(cluster, "late", b"late")
    workers = await recover(cluster)
    assert sum(w.stats.examined for w in workers) == 3  # "late" on each of its 3 replicas
    assert "late" in await listing(cluster, "c")


async def test_recovery_sweeps_what_crashed_writes_left_in_tmp(cluster: Cluster) -> None:
    node = cluster.nodes[0]
    tmp = node.devices_root / device_of(node) / "tmp"
    tmp.mkdir(exist_ok=True)
    (tmp / "stale.partial").write_bytes(b"x" * 1000)
    (tmp / "pending.abc").write_bytes(b"y")
    past = time.time() - 60
    for name in ("stale.partial", "pending.abc"):
        os.utime(tmp / name, (past, past))
    worker = Recovery(node)
    (tmp / "in-flight").write_bytes(b"a write of this run")
    await worker.run_once()
    assert sorted(os.listdir(tmp)) == ["in-flight"]
    assert worker.stats.tmp_files == 2 and worker.stats.tmp_bytes == 1001


async def test_recovery_runs_when_the_node_starts(cluster: Cluster) -> None:
    node = cluster.nodes[0]
    tmp = node.devices_root / device_of(node) / "tmp"
    tmp.mkdir(exist_ok=True)
    (tmp / "stale").write_bytes(b"x")
    past = time.time() - 60
    os.utime(tmp / "stale", (past, past))
    node.worker_interval = 60.0
    node.make_background = BackgroundWorkers
    await node.start()
    background: Any = node.background
    for _ in range(100):
        if background.recovery.done:
            break
        await _sleep()
    assert background.recovery.done and not (tmp / "stale").exists()
    await node.close()
    state = json.loads((node.devices_root / device_of(node) / STATE_FILE).read_text())
    assert state == {"clean": True}


async def _sleep() -> None:
    import asyncio

    await asyncio.sleep(0.05)
