"""An in-process cluster: four storage nodes (one device each, four zones),
three replicas, reached through one LocalNodeClient; a node is "down" while
it is out of the client's map.  ``Cluster.store`` is the proxy over them."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from stratus.objectstore.node.client import LocalNodeClient
from stratus.objectstore.node.server import StorageNode
from stratus.objectstore.ring.builder import RingBuilder
from stratus.objectstore.ring.ring import Ring
from stratus.objectstore.service import ObjectStoreService
from stratus.objectstore.service.quorum import Proxy, iterate

IP = "127.0.0.1"
PORTS = (6301, 6302, 6303, 6304)
ACCOUNT = "AUTH_test"


@dataclass
class Cluster:
    nodes: list[StorageNode]
    client: LocalNodeClient
    store: ObjectStoreService
    ring_dir: Path

    @property
    def object_ring(self) -> Ring:
        return self.store.proxy.object_ring

    def node_of(self, port: int) -> StorageNode:
        return next(n for n in self.nodes if n.port == port)

    def down(self, node: StorageNode) -> None:
        self.client.nodes.pop((node.ip, node.port), None)

    def up(self, node: StorageNode) -> None:
        self.client.nodes[(node.ip, node.port)] = node

    async def put(
        self, container: str, obj: str, data: bytes, headers: dict[str, str] | None = None
    ) -> int:
        resp = await self.store.objects.put(
            ACCOUNT, container, obj, dict(headers or {}), iterate(data), len(data)
        )
        return resp.status

    async def get(self, container: str, obj: str) -> tuple[int, bytes]:
        resp = await self.store.objects.read("GET", ACCOUNT, container, obj)
        return resp.status, await resp.read()

    async def listing(self, container: str) -> list[str]:
        self.store.proxy.forget(ACCOUNT, container)
        found = await self.store.containers.get(ACCOUNT, container, {})
        return [e["name"] for e in found.entries]

    def holders(self, container: str, obj: str) -> list[tuple[StorageNode, str]]:
        """(node, object folder) of each primary of the object."""
        part, name_hash, devs = self.object_ring.locate(ACCOUNT, container, obj)
        out = []
        for dev in devs:
            node = self.node_of(dev.port)
            folder = os.path.join(
                node.devices_root, dev.device, "objects", str(part), name_hash[-3:], name_hash
            )
            out.append((node, folder))
        return out

    def data_files(self, folder: str) -> list[str]:
        try:
            return sorted(n for n in os.listdir(folder) if n.endswith(".data"))
        except FileNotFoundError:
            return []


def build_rings(ring_dir: Path) -> None:
    for kind in ("account", "container", "object"):
        builder = RingBuilder(4, 3, hash_prefix="pre", hash_suffix="suf")
        for i, port in enumerate(PORTS):
            builder.add_device(1, i + 1, IP, port, f"d{i + 1}", 100.0)
        builder.rebalance(seed=1)
        builder.save(ring_dir / f"{kind}.ring.gz")


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    ring_dir = tmp_path / "rings"
    ring_dir.mkdir()
    build_rings(ring_dir)
    nodes = []
    for i, port in enumerate(PORTS):
        root = tmp_path / f"node{i + 1}"
        (root / f"d{i + 1}").mkdir(parents=True)
        nodes.append(StorageNode(root, ip=IP, port=port, ring_dir=ring_dir, workers=4))
    client = LocalNodeClient({(n.ip, n.port): n for n in nodes})
    for n in nodes:
        n.client = client
    rings = [Ring.load(ring_dir / f"{k}.ring.gz") for k in ("account", "container", "object")]
    store = ObjectStoreService(Proxy(*rings, client, info_ttl=0))
    c = Cluster(nodes, client, store, ring_dir)
    await store.containers.put(ACCOUNT, "c", {})
    yield c
    for n in nodes:
        c.up(n)
    for n in nodes:
        await n.drain()
    for n in nodes:
        await n.close()
