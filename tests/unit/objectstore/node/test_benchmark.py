"""Micro-benchmark of StorageNode.handle(), printed (run with -s), never asserted on time.

4 KiB PUTs (fsynced, with the container update in-process) and GETs at
concurrency 16; CPU is the process's (all threads, kernel time included).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable

from stratus.objectstore.node.server import StorageNode
from tests.unit.objectstore.node.conftest import ACCOUNT, CONTAINER, Caller, request, ts

N = 1000
CONCURRENCY = 16


async def _run(label: str, fn: Callable[[int], Awaitable[None]]) -> None:
    todo = iter(range(N))
    latencies: list[float] = []

    async def worker() -> None:
        for i in todo:
            started = time.perf_counter()
            await fn(i)
            latencies.append(time.perf_counter() - started)

    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    p99 = sorted(latencies)[int(len(latencies) * 0.99)] * 1e3
    print(f"\n{label}: {N / wall:,.0f}/s, {cpu / N * 1e3:.3f} ms CPU each, p99 {p99:.1f} ms")


async def test_put_and_get_4k(node: StorageNode, call: Caller) -> None:
    await call("PUT", "sda/1/a", {"x-timestamp": ts()})
    await call("PUT", "sda/2/a/c", {"x-timestamp": ts(), **ACCOUNT})
    data = os.urandom(4096)

    async def put(i: int) -> None:
        headers = {"x-timestamp": ts(), "content-type": "application/octet-stream", **CONTAINER}
        resp = await node.handle(request("PUT", f"sda/{i % 64}/a/c/o{i}", headers, data))
        assert resp.status == 201

    async def get(i: int) -> None:
        resp = await node.handle(request("GET", f"sda/{i % 64}/a/c/o{i}"))
        assert resp.status == 200 and len(await resp.read()) == 4096

    await _run(f"handle() 4 KiB PUT + fsync + container update, concurrency {CONCURRENCY}", put)
    await _run(f"handle() 4 KiB GET, concurrency {CONCURRENCY}", get)
    head = await call("HEAD", "sda/2/a/c")
    assert head.headers["x-container-object-count"] == str(N)
