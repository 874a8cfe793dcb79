"""The container server: the container itself, listings, rows, reports to the account."""

from __future__ import annotations

import asyncio

import orjson

from stratus.objectstore.node.server import StorageNode
from stratus.objectstore.node.updates import list_pending, read_pending
from tests.unit.objectstore.node.conftest import ACCOUNT, Caller, request, ts

C = "sda/2/a/c"


def row(method: str, name: str, size: int = 1, t: str | None = None) -> dict[str, str]:
    headers = {"x-backend-server": "container", "x-timestamp": t or ts()}
    if method == "PUT":
        headers.update({"x-size": str(size), "x-content-type": "text/plain", "x-etag": "e"})
    return headers


async def test_put_head_post_metadata(call: Caller) -> None:
    put_ts = ts()
    headers = {"x-timestamp": put_ts, "x-container-meta-a": "1", "x-container-read": ".r:*"}
    assert (await call("PUT", C, headers)).status == 201
    assert (await call("PUT", C, {"x-timestamp": ts()})).status == 202
    head = await call("HEAD", C)
    assert head.status == 204
    h = head.headers
    assert h["x-container-object-count"] == "0" and h["x-container-bytes-used"] == "0"
    assert h["x-container-meta-a"] == "1" and h["x-container-read"] == ".r:*"
    assert h["x-backend-storage-policy-index"] == "0"
    assert h["x-put-timestamp"] > put_ts
    post = await call(
        "POST", C, {"x-timestamp": ts(), "x-container-meta-a": "", "x-container-meta-b": "2"}
    )
    assert post.status == 204
    h = (await call("HEAD", C)).headers
    assert "x-container-meta-a" not in h and h["x-container-meta-b"] == "2"
    # An older POST loses per key.
    await call("POST", C, {"x-timestamp": "1", "x-container-meta-b": "old"})
    assert (await call("HEAD", C)).headers["x-container-meta-b"] == "2"
    assert (await call("POST", "sda/2/a/nope", {"x-timestamp": ts()})).status == 404
    assert (await call("HEAD", "sda/2/a/nope")).status == 404


async def test_storage_policy(call: Caller) -> None:
    headers = {"x-timestamp": ts(), "x-backend-storage-policy-index": "2"}
    assert (await call("PUT", C, headers)).status == 201
    assert (await call("HEAD", C)).headers["x-backend-storage-policy-index"] == "2"
    other = {"x-timestamp": ts(), "x-backend-storage-policy-index": "1"}
    assert (await call("PUT", C, other)).status == 409
    assert (await call("PUT", C, {"x-timestamp": ts()})).status == 202
    default = {"x-timestamp": ts(), "x-backend-storage-policy-default": "3"}
    assert (await call("PUT", "sda/2/a/d", default)).status == 201
    assert (await call("HEAD", "sda/2/a/d")).headers["x-backend-storage-policy-index"] == "3"


async def test_rows_and_listing(call: Caller) -> None:
    await call("PUT", C, {"x-timestamp": ts()})
    names = ["a", "a/b", "a/c", "b", "c/d/e", "photos/1", "photos/2010/x", "z"]
    for i, name in enumerate(names):
        assert (await call("PUT", f"{C}/{name}", row("PUT", name, i + 1))).status == 201

    async def listing(**query: str) -> list[str]:
        resp = await call("GET", C, query=query)
        assert resp.status == 200 and resp.headers["content-type"].startswith("application/json")
        return [e.get("name", e.get("subdir")) for e in orjson.loads(resp.body)]

    assert await listing() == names
    assert await listing(limit="2") == ["a", "a/b"]
    assert await listing(marker="b") == ["c/d/e", "photos/1", "photos/2010/x", "z"]
    assert await listing(end_marker="b") == ["a", "a/b", "a/c"]
    assert await listing(prefix="photos/") == ["photos/1", "photos/2010/x"]
    assert await listing(delimiter="/") == ["a", "a/", "b", "c/", "photos/", "z"]
    assert await listing(prefix="photos/", delimiter="/") == ["photos/1", "photos/2010/"]
    assert await listing(reverse="true", limit="2") == ["z", "photos/2010/x"]
    assert await listing(path="photos") == ["photos/1"]
    assert (await call("GET", C, query={"limit": "10001"})).status == 412
    assert (await call("GET", C, query={"limit": "x"})).status == 412
    entry = orjson.loads((await call("GET", C, query={"limit": "1"})).body)[0]
    assert entry["bytes"] == 1 and entry["hash"] == "e" and entry["content_type"] == "text/plain"
    head = await call("HEAD", C)
    assert head.headers["x-container-object-count"] == str(len(names))
    assert head.headers["x-container-bytes-used"] == str(sum(range(1, len(names) + 1)))
    # Deletes, and rows older than what stands.
    assert (await call("DELETE", f"{C}/a", row("DELETE", "a"))).status == 204
    assert (await call("PUT", f"{C}/b", row("PUT", "b", 100, t="1"))).status == 201
    assert (await listing())[:2] == ["a/b", "a/c"]
    assert (await call("HEAD", C)).headers["x-container-object-count"] == str(len(names) - 1)


async def test_concurrent_rows_are_group_committed(call: Caller, node: StorageNode) -> None:
    await call("PUT", C, {"x-timestamp": ts()})
    batches: list[int] = []
    original = node.run

    async def counting_run(fn, *args):  # type: ignore[no-untyped-def]
        if args and isinstance(args[0], list):
            batches.append(len(args[0]))
        return await original(fn, *args)

    node.run = counting_run  # type: ignore[method-assign]
    try:
        results = await asyncio.gather(
            *(call("PUT", f"{C}/o{i}", row("PUT", f"o{i}")) for i in range(64))
        )
    finally:
        node.run = original  # type: ignore[method-assign]
    assert {r.status for r in results} == {201}
    assert sum(batches) == 64 and len(batches) < 64
    assert (await call("HEAD", C)).headers["x-container-object-count"] == "64"


async def test_rows_for_a_missing_container(call: Caller) -> None:
    assert (await call("PUT", f"{C}/o", row("PUT", "o"))).status == 404
    bad = await call("POST", f"{C}/o", row("POST", "o"))
    assert bad.status == 405


async def test_delete(call: Caller) -> None:
    await call("PUT", C, {"x-timestamp": ts()})
    await call("PUT", f"{C}/o", row("PUT", "o"))
    assert (await call("DELETE", C, {"x-timestamp": ts()})).status == 409
    await call("DELETE", f"{C}/o", row("DELETE", "o"))
    assert (await call("DELETE", C, {"x-timestamp": "1"})).status == 409  # older than the PUT
    assert (await call("DELETE", C, {"x-timestamp": ts()})).status == 204
    assert (await call("HEAD", C)).status == 404
    assert (await call("GET", C)).status == 404
    assert (await call("DELETE", C, {"x-timestamp": ts()})).status == 404
    assert (await call("PUT", C, {"x-timestamp": ts()})).status == 201  # created again


async def test_account_is_told(call: Caller, node: StorageNode) -> None:
    await call("PUT", "sda/1/a", {"x-timestamp": ts()})
    await call("PUT", C, {"x-timestamp": ts(), **ACCOUNT})
    listing = orjson.loads((await call("GET", "sda/1/a")).body)
    assert [e["name"] for e in listing] == ["c"]
    for i in range(5):
        await call("PUT", f"{C}/o{i}", row("PUT", f"o{i}", 10))
    await node.drain()
    h = (await call("HEAD", "sda/1/a")).headers
    assert h["x-account-object-count"] == "5" and h["x-account-bytes-used"] == "50"
    for i in range(5):
        await call("DELETE", f"{C}/o{i}", row("DELETE", f"o{i}"))
    assert (await call("DELETE", C, {"x-timestamp": ts(), **ACCOUNT})).status == 204
    await node.drain()
    h = (await call("HEAD", "sda/1/a")).headers
    assert h["x-account-container-count"] == "0" and h["x-account-object-count"] == "0"
    assert orjson.loads((await call("GET", "sda/1/a")).body) == []


async def test_account_update_failures_are_kept(call: Caller, node: StorageNode) -> None:
    down = {"x-account-host": "127.0.0.1:1", "x-account-device": "sda", "x-account-partition": "1"}
    assert (await call("PUT", C, {"x-timestamp": ts(), **down})).status == 201
    await node.drain()
    [path] = list_pending(str(node.devices_root / "sda"))
    update = read_pending(path)
    assert update.server == "account" and update.container == "c"
    assert update.headers["x-object-count"] == "0"
    # Resending it (as the updater will) reaches the account.
    await call("PUT", "sda/1/a", {"x-timestamp": ts()})
    target = update.targets[0]
    resp = await node.handle(
        request("PUT", "sda/1/a/c", {**update.headers, "x-backend-server": "account"})
    )
    assert resp.status == 201 and target.port == 1
    assert (await call("HEAD", "sda/1/a")).headers["x-account-container-count"] == "1"


async def test_container_put_on_a_deleted_account(call: Caller, node: StorageNode) -> None:
    await call("PUT", "sda/1/a", {"x-timestamp": ts()})
    assert (await call("DELETE", "sda/1/a", {"x-timestamp": ts()})).status == 204
    assert (await call("PUT", C, {"x-timestamp": ts(), **ACCOUNT})).status == 404
