"""Storage nodes over HTTP: two nodes on loopback ports, reached with
HttpNodeClient; object updates cross from one to the other over HTTP."""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from stratus.objectstore.drivers.timestamp import Timestamp
from stratus.objectstore.node.client import HttpNodeClient
from stratus.objectstore.node.http import node_server
from stratus.objectstore.node.protocol import NodeRequest, NodeUnavailable
from stratus.objectstore.node.server import StorageNode
from stratus.objectstore.node.updates import list_pending, read_pending


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Running:
    node: StorageNode
    port: int


async def _start(root: Path) -> tuple[Running, asyncio.Task[None], object]:
    (root / "sda").mkdir(parents=True)
    port = free_port()
    node = StorageNode(root, ip="127.0.0.1", port=port, workers=8)
    server = node_server(node, host="127.0.0.1", port=port)
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.01)
    assert server.started
    return Running(node, port), task, server


@pytest.fixture
async def nodes(tmp_path: Path) -> AsyncIterator[tuple[Running, Running]]:
    a, task_a, server_a = await _start(tmp_path / "a")
    b, task_b, server_b = await _start(tmp_path / "b")
    yield a, b
    for server, task in ((server_a, task_a), (server_b, task_b)):
        server.should_exit = True  # type: ignore[attr-defined]
        await asyncio.wait_for(task, 10)


@pytest.fixture
async def client() -> AsyncIterator[HttpNodeClient]:
    c = HttpNodeClient()
    yield c
    await c.aclose()


def ts() -> str:
    return Timestamp.now().internal


async def stream(data: bytes, size: int = 65536) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]
        await asyncio.sleep(0)


async def test_object_streaming_and_listing_updates(
    nodes: tuple[Running, Running], client: HttpNodeClient
) -> None:
    a, b = nodes
    ip = "127.0.0.1"

    async def send(port: int, req: NodeRequest) -> tuple[int, dict[str, str], bytes]:
        resp = await client.request(ip, port, req)
        return resp.status, resp.headers, await resp.read()

    account = "AUTH_tést"
    container = "cont ✓"
    obj = "dir/../obj %2F?#.bin"
    status, _, _ = await send(
        b.port, NodeRequest("PUT", "sda", 1, account, headers={"x-timestamp": ts()})
    )
    assert status == 201
    to_account = {
        "x-account-host": f"{ip}:{b.port}",
        "x-account-device": "sda",
        "x-account-partition": "1",
    }
    req = NodeRequest(
        "PUT",
        "sda",
        2,
        account,
        container,
        headers={"x-timestamp": ts(), "x-container-meta-u": "ö", **to_account},
    )
    assert (await send(b.port, req))[0] == 201

    data = os.urandom(5 * 1024 * 1024)
    md5 = hashlib.md5(data).hexdigest()
    headers = {
        "x-timestamp": ts(),
        "content-length": str(len(data)),
        "content-type": "application/x-test",
        "etag": md5,
        "x-object-meta-name": "naïve",
        "x-container-host": f"{ip}:{b.port}",
        "x-container-device": "sda",
        "x-container-partition": "2",
    }
    req = NodeRequest("PUT", "sda", 3, account, container, obj, headers, body=stream(data))
    status, resp_headers, _ = await send(a.port, req)
    assert status == 201 and resp_headers["etag"] == md5

    resp = await client.request(ip, a.port, NodeRequest("GET", "sda", 3, account, container, obj))
    assert resp.status == 200
    digest = hashlib.md5()
    chunks = 0
    async for chunk in resp.body:  # type: ignore[union-attr]
        digest.update(chunk)
        chunks += 1
    assert digest.hexdigest() == md5 and chunks > 1
    assert resp.headers["x-object-meta-name"] == "naïve"
    assert resp.headers["content-length"] == str(len(data))

    ranged = NodeRequest("GET", "sda", 3, account, container, obj, {"range": "bytes=-10"})
    status, _, body = await send(a.port, ranged)
    assert status == 206 and body == data[-10:]
    status, head, body = await send(a.port, NodeRequest("HEAD", "sda", 3, account, container, obj))
    assert status == 200 and body == b"" and head["etag"] == md5

    # The container on node b heard of it, over HTTP.
    listing = NodeRequest("GET", "sda", 2, account, container, query={"prefix": "dir/"})
    status, head, body = await send(b.port, listing)
    assert status == 200 and head["x-container-meta-u"] == "ö"
    [entry] = orjson.loads(body)
    assert entry["name"] == obj and entry["hash"] == md5 and entry["bytes"] == len(data)

    # And the account, shortly after.
    await b.node.drain()
    status, head, _ = await send(b.port, NodeRequest("HEAD", "sda", 1, account))
    assert head["x-account-object-count"] == "1" and head["x-account-bytes-used"] == str(len(data))

    delete = dict(headers, **{"x-timestamp": ts()})
    del delete["content-length"], delete["etag"]
    assert (await send(a.port, NodeRequest("DELETE", "sda", 3, account, container, obj, delete)))[
        0
    ] == 204
    assert (await send(a.port, NodeRequest("GET", "sda", 3, account, container, obj)))[0] == 404
    status, head, body = await send(b.port, NodeRequest("GET", "sda", 2, account, container))
    assert orjson.loads(body) == [] and head["x-container-object-count"] == "0"


async def test_async_pending_when_the_container_node_is_down(
    nodes: tuple[Running, Running], client: HttpNodeClient
) -> None:
    a, _ = nodes
    dead = free_port()
    headers = {
        "x-timestamp": ts(),
        "content-length": "5",
        "x-container-host": f"127.0.0.1:{dead}",
        "x-container-device": "sda",
        "x-container-partition": "7",
    }
    req = NodeRequest("PUT", "sda", 3, "AUTH_x", "c", "o", headers, body=stream(b"hello"))
    started = time.monotonic()
    resp = await client.request("127.0.0.1", a.port, req)
    assert resp.status == 201
    assert time.monotonic() - started < 5
    await a.node.drain()
    [path] = list_pending(str(a.node.devices_root / "sda"))
    update = read_pending(path)
    assert update.method == "PUT" and update.obj == "o" and update.headers["x-size"] == "5"
    assert [(t.port, t.partition) for t in update.targets] == [(dead, 7)]


async def test_errors_over_http(nodes: tuple[Running, Running], client: HttpNodeClient) -> None:
    a, _ = nodes
    resp = await client.request("127.0.0.1", a.port, NodeRequest("GET", "nope", 3, "a", "c", "o"))
    assert resp.status == 507
    await resp.read()
    with pytest.raises(NodeUnavailable):
        await client.request("127.0.0.1", free_port(), NodeRequest("HEAD", "sda", 1, "a"))
    bad = await client._client.get(f"http://127.0.0.1:{a.port}/sda/x/a")
    assert bad.status_code == 400
