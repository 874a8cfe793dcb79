"""A cluster of three `stratus storage-node` processes (three replicas, three
zones) behind a `stratus up` proxy over HTTP: a node killed during writes,
brought back and repaired by the replicator; a corrupted copy quarantined by
the auditor and restored, never served; the updater and the expirer.

The workers run here, in the test's process, against each node's devices and
the rings (as Swift runs its daemons beside the servers): an unserved
``StorageNode`` on the same folders, one pass (``run_once``) at a time.  The
tests run in order and share the cluster.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from stratus.objectstore.agent import (
    Auditor,
    DatabaseReplicator,
    Expirer,
    ObjectReplicator,
    ObjectUpdater,
)
from stratus.objectstore.node.server import StorageNode
from stratus.objectstore.node.updates import read_pending
from stratus.objectstore.ring.builder import RingBuilder
from stratus.objectstore.ring.ring import Ring
from tests.conftest import BIN, Server, drop_database, free_port, start_cloud
from tests.functional.objectstore.conftest import STORE_ENV, Swift, admin_account, md5

IP = "127.0.0.1"


@dataclass
class NodeProcess:
    index: int
    devices: Path
    device: str
    port: int
    ring_dir: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                str(BIN / "stratus"),
                "storage-node",
                "--devices",
                str(self.devices),
                "--ring-dir",
                str(self.ring_dir),
                "--host",
                IP,
                "--port",
                str(self.port),
                # The test runs the workers itself, one pass at a time.
                "--workers-interval",
                "3600",
            ],
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                httpx.get(f"http://{IP}:{self.port}/", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError(f"storage node {self.index} did not start:\n{self.log.read_text()}")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def run(self, cls: type[Any], **kw: Any) -> Any:
        """One pass of a worker over this node's devices."""

        async def once() -> Any:
            node = StorageNode(self.devices, ip=IP, port=self.port, ring_dir=self.ring_dir)
            try:
                worker = cls(node, **kw)
                await worker.run_once()
                return worker
            finally:
                await node.close()

        return asyncio.run(once())


@dataclass
class Cluster:
    nodes: list[NodeProcess]
    ring_dir: Path
    proxy: Server
    api: Swift
    container: str
    account: str
    written: dict[str, bytes] = field(default_factory=dict)

    def ring(self, kind: str) -> Ring:
        return Ring.load(self.ring_dir / f"{kind}.ring.gz")

    def node_at(self, port: int) -> NodeProcess:
        return next(n for n in self.nodes if n.port == port)

    def copies(self, obj: str) -> list[tuple[NodeProcess, Path]]:
        """Each primary's folder for ``obj``, in ring order (reads try the first first)."""
        ring = self.ring("object")
        part, name_hash, devs = ring.locate(self.account, self.container, obj)
        return [
            (
                self.node_at(d.port),
                self.node_at(d.port).devices
                / d.device
                / "objects"
                / str(part)
                / name_hash[-3:]
                / name_hash,
            )
            for d in devs
        ]

    def run_all(self, cls: type[Any], **kw: Any) -> list[Any]:
        return [n.run(cls, **kw) for n in self.nodes]

    def listing(self) -> list[str]:
        resp = self.api.get(f"/{self.container}", params={"format": "json"})
        assert resp.status_code == 200, resp.text
        return [e["name"] for e in resp.json()]


def data_file(folder: Path) -> Path | None:
    found = sorted(folder.glob("*.data")) if folder.is_dir() else []
    return found[-1] if found else None


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, database: str) -> Iterator[Cluster]:
    top = tmp_path_factory.mktemp("cluster")
    ring_dir = top / "rings"
    ring_dir.mkdir()
    ports = [free_port() for _ in range(3)]
    for kind in ("account", "container", "object"):
        builder = RingBuilder(6, 3, hash_prefix="cluster-prefix", hash_suffix="cluster-suffix")
        for i, port in enumerate(ports):
            builder.add_device(1, i + 1, IP, port, f"sd{'abc'[i]}", 100.0)
        builder.rebalance(seed=3)
        builder.save(ring_dir / f"{kind}.ring.gz")
    nodes = []
    for i, port in enumerate(ports):
        devices = top / f"node{i + 1}"
        (devices / f"sd{'abc'[i]}").mkdir(parents=True)
        node = NodeProcess(i, devices, f"sd{'abc'[i]}", port, ring_dir, top / f"node{i + 1}.log")
        node.start()
        nodes.append(node)
    proxy = start_cloud(
        top / "proxy",
        database,
        **STORE_ENV,
        STRATUS_OBJECTSTORE__NODES="http",
        STRATUS_OBJECTSTORE__RING_DIR=str(ring_dir),
    )
    account = admin_account(proxy)
    api = account.client()
    container = "cluster"
    assert api.put(f"/{container}").status_code == 201
    try:
        yield Cluster(nodes, ring_dir, proxy, api, container, account.name)
    finally:
        api.close()
        proxy.stop()
        drop_database(proxy.database_url)
        for node in nodes:
            node.stop()


def test_writes_survive_a_node_killed_midway(cluster: Cluster) -> None:
    victim = cluster.nodes[2]
    statuses: dict[str, int] = {}
    reads: list[int] = []

    def writer() -> None:
        with Swift(str(cluster.api.base_url), cluster.api.headers["x-auth-token"]) as c:
            for i in range(200):
                name = f"stream-{i:03d}"
                data = f"object {i} ".encode() * (i % 7 + 1)
                try:
                    status = c.put(f"/{cluster.container}/{name}", content=data).status_code
                except httpx.HTTPError:
                    status = 0
                statuses[name] = status
                if status == 201:
                    cluster.written[name] = data
                if i == 60:
                    victim.kill()
                if i > 60 and i % 10 == 0:
                    reads.append(c.get(f"/{cluster.container}/stream-{i - 5:03d}").status_code)

    thread = threading.Thread(target=writer)
    thread.start()
    thread.join(120)
    assert not thread.is_alive()
    after_kill = [s for n, s in statuses.items() if int(n[-3:]) > 61]
    assert after_kill and all(s == 201 for s in after_kill), statuses
    assert reads and all(s == 200 for s in reads), reads
    assert len(cluster.written) >= 195
    for name, data in cluster.written.items():
        resp = cluster.api.get(f"/{cluster.container}/{name}")
        assert resp.status_code == 200 and resp.content == data, name


def test_the_replicator_restores_the_copies_it_missed(cluster: Cluster) -> None:
    victim = cluster.nodes[2]
    missed = [n for n in cluster.written if int(n[-3:]) > 61]

    def held_by_victim(name: str) -> Path | None:
        folder = next(f for node, f in cluster.copies(name) if node is victim)
        return data_file(folder)

    assert all(held_by_victim(n) is None for n in missed)
    victim.start()
    workers = cluster.run_all(ObjectReplicator)
    assert sum(w.stats.files_pushed for w in workers) >= len(missed)
    for name in missed:
        mine = held_by_victim(name)
        assert mine is not None, name
        other = data_file(next(f for node, f in cluster.copies(name) if node is not victim))
        assert other is not None and mine.read_bytes() == other.read_bytes()
    # Listings too: the updater sends the rows the dead node missed, and the
    # database replicators agree.
    cluster.run_all(ObjectUpdater)
    cluster.run_all(DatabaseReplicator)
    assert set(cluster.written) <= set(cluster.listing())


def test_a_corrupted_copy_is_quarantined_restored_and_never_served(cluster: Cluster) -> None:
    name = "precious"
    data = os.urandom(64 * 1024)
    assert cluster.api.put(f"/{cluster.container}/{name}", content=data).status_code == 201
    good_md5 = md5(data)
    bad_reads: list[str] = []
    stop = threading.Event()

    def reader() -> None:
        with Swift(str(cluster.api.base_url), cluster.api.headers["x-auth-token"]) as c:
            while not stop.is_set():
                resp = c.get(f"/{cluster.container}/{name}")
                if resp.status_code != 200 or md5(resp.content) != good_md5:
                    bad_reads.append(f"{resp.status_code} {md5(resp.content)}")

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        copies = cluster.copies(name)
        # The last replica (not read first): the auditor finds it.
        node, folder = copies[-1]
        path = data_file(folder)
        assert path is not None
        original = path.read_bytes()
        with path.open("r+b") as f:
            f.write(bytes(b ^ 0x5A for b in original[:100]))
        auditor = node.run(Auditor, bytes_per_second=0, files_per_second=0)
        assert len(auditor.stats.quarantined) == 1
        assert not folder.exists()
        assert Path(auditor.stats.quarantined[0]).is_dir()
        cluster.run_all(ObjectReplicator)
        restored = data_file(folder)
        assert restored is not None and restored.read_bytes() == original
        # The first replica (read first): reads notice, quarantine, go on.
        node, folder = copies[0]
        path = data_file(folder)
        assert path is not None
        with path.open("r+b") as f:
            f.seek(1000)
            f.write(b"\x00" * 10)
        time.sleep(0.5)  # reads keep coming meanwhile
        cluster.run_all(ObjectReplicator)
        restored = data_file(folder)
        assert restored is not None and restored.read_bytes() == original
        time.sleep(0.2)
    finally:
        stop.set()
        thread.join(30)
    assert not bad_reads, bad_reads[:5]


def test_the_updater_sends_a_listing_update_that_failed(cluster: Cluster) -> None:
    ring = cluster.ring("container")
    _, _, devs = ring.locate(cluster.account, cluster.container)
    first = cluster.node_at(devs[0].port)  # listings are read from it first
    # Object replica i sends the listing row to container replica i (Swift's
    # pairing).  Pick a name whose replica 0 is on a node that stays up: it
    # finds container replica 0 down and keeps the row as an async pending.
    # (Were replica 0 on the killed node too, the row would reach that
    # container replica only through container replication.)
    objects = cluster.ring("object")
    name = next(
        n
        for n in (f"while-container-down-{i}" for i in range(1000))
        if objects.locate(cluster.account, cluster.container, n)[2][0].port != first.port
    )
    first.kill()
    assert cluster.api.put(f"/{cluster.container}/{name}", content=b"x").status_code == 201

    def pendings() -> list[Path]:
        return [
            p
            for n in cluster.nodes
            for p in (n.devices / n.device / "async_pending").rglob("*")
            if p.is_file()
        ]

    def row_pending() -> bool:
        """The object's listing update is pending.  Other pendings (the
        container's stats for the account, which the killed node also holds)
        may be written before it."""
        for path in pendings():
            try:
                update = read_pending(str(path))
            except (OSError, ValueError):
                continue  # being written or removed
            if update.server == "container" and update.obj == name:
                return True
        return False

    # The node answers the PUT after at most its update timeout, and records
    # the failed update as an async pending right after: wait for it.
    deadline = time.monotonic() + 15
    while not row_pending():
        assert time.monotonic() < deadline, "no async pending was written for the listing"
        time.sleep(0.1)
    first.start()
    assert name not in cluster.listing()
    updaters = cluster.run_all(ObjectUpdater)
    assert sum(u.stats.sent for u in updaters) >= 1
    # Listings are eventually consistent (rows are group-committed): poll.
    deadline = time.monotonic() + 10
    while name not in cluster.listing():
        assert time.monotonic() < deadline, "the listing never showed the object"
        time.sleep(0.2)
    left = [p for n in cluster.nodes for p in (n.devices / n.device / "async_pending").rglob("*")]
    assert not [p for p in left if p.is_file()]


def test_the_expirer_removes_an_expired_object(cluster: Cluster) -> None:
    name = "short-lived"
    resp = cluster.api.put(
        f"/{cluster.container}/{name}", content=b"soon gone", headers={"X-Delete-After": "2"}
    )
    assert resp.status_code == 201
    assert name in cluster.listing()
    deadline = time.monotonic() + 10
    while cluster.api.get(f"/{cluster.container}/{name}").status_code != 404:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert name in cluster.listing()  # until the expirer runs
    expirers = cluster.run_all(Expirer)
    assert sum(e.stats.expired for e in expirers) >= 1
    assert name not in cluster.listing()
    assert cluster.api.get(f"/{cluster.container}/{name}").status_code == 404
    for _, folder in cluster.copies(name):
        assert [p.suffix for p in folder.iterdir()] == [".ts"]
