"""A storage node on temporary devices, and a terse way to call it."""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from stratus.objectstore.drivers.timestamp import Timestamp
from stratus.objectstore.node.protocol import NodeRequest
from stratus.objectstore.node.server import StorageNode

_ticks = itertools.count(int(time.time() * 100_000))


def ts() -> str:
    """A fresh timestamp, newer than every one before it."""
    return Timestamp(next(_ticks) / 100_000).internal


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def request(
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: bytes | list[bytes] | None = None,
    query: dict[str, str] | None = None,
) -> NodeRequest:
    device, part, rest = path.split("/", 2)
    names = rest.split("/", 2)
    hdrs = dict(headers or {})
    stream = None
    if body is not None:
        parts = [body] if isinstance(body, bytes) else body
        hdrs.setdefault("content-length", str(sum(map(len, parts))))
        stream = chunks(*parts)
    return NodeRequest(
        method,
        device,
        int(part),
        names[0],
        names[1] if len(names) > 1 else None,
        names[2] if len(names) > 2 else None,
        hdrs,
        dict(query or {}),
        stream,
    )


class Caller:
    def __init__(self, node: StorageNode) -> None:
        self.node = node

    async def __call__(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        body: bytes | list[bytes] | None = None,
        query: dict[str, str] | None = None,
    ) -> Answer:
        resp = await self.node.handle(request(method, path, headers, body, query))
        return Answer(resp.status, resp.headers, await resp.read())


ACCOUNT = {
    "x-account-host": "127.0.0.1:6200",
    "x-account-device": "sda",
    "x-account-partition": "1",
}
CONTAINER = {
    "x-container-host": "127.0.0.1:6200",
    "x-container-device": "sda",
    "x-container-partition": "2",
}


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[StorageNode]:
    (tmp_path / "sda").mkdir()
    (tmp_path / "sdb").mkdir()
    n = StorageNode(tmp_path, ip="127.0.0.1", port=6200, workers=8)
    yield n
    await n.close()


@pytest.fixture
def call(node: StorageNode) -> Caller:
    return Caller(node)


@pytest.fixture
async def container(call: Caller) -> str:
    """Account ``a`` (sda/1) and its container ``c`` (sda/2); returns the
    object path prefix ``sda/3/a/c/``."""
    assert (await call("PUT", "sda/1/a", {"x-timestamp": ts()})).status == 201
    assert (await call("PUT", "sda/2/a/c", {"x-timestamp": ts(), **ACCOUNT})).status == 201
    return "sda/3/a/c/"
