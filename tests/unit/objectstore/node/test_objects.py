"""The object server: PUT, GET, HEAD, POST, DELETE with Swift's backend semantics."""

from __future__ import annotations

import hashlib
import os
import time

from stratus.objectstore.node.server import StorageNode
from stratus.objectstore.node.updates import list_pending, read_pending
from tests.unit.objectstore.node.conftest import CONTAINER, Caller, ts

OBJ = "sda/3/a/c/o"


async def test_put_get_head_round_trip(call: Caller, container: str) -> None:
    data = os.urandom(5000)
    headers = {
        "x-timestamp": ts(),
        "content-type": "text/plain",
        "x-object-meta-color": "blue",
        "content-disposition": "inline",
        "content-encoding": "gzip",
        "x-static-large-object": "True",
        "x-object-sysmeta-slo-etag": "abc",
        "x-not-kept": "1",
    }
    put = await call("PUT", OBJ, headers, data)
    assert put.status == 201
    assert put.headers["etag"] == hashlib.md5(data).hexdigest()
    got = await call("GET", OBJ)
    assert got.status == 200 and got.body == data
    h = got.headers
    assert h["content-length"] == "5000" and h["content-type"] == "text/plain"
    assert h["etag"] == put.headers["etag"]
    assert h["x-timestamp"] == headers["x-timestamp"]
    assert h["x-object-meta-color"] == "blue"
    assert h["content-disposition"] == "inline" and h["content-encoding"] == "gzip"
    assert h["x-static-large-object"] == "True" and h["x-object-sysmeta-slo-etag"] == "abc"
    assert "x-not-kept" not in h
    assert h["last-modified"].endswith("GMT")
    head = await call("HEAD", OBJ)
    assert head.status == 200 and head.body == b"" and head.headers["content-length"] == "5000"


async def test_large_put_streams_in_chunks(call: Caller, container: str) -> None:
    parts = [os.urandom(300_000) for _ in range(10)]
    data = b"".join(parts)
    put = await call(
        "PUT", OBJ, {"x-timestamp": ts(), "etag": hashlib.md5(data).hexdigest()}, parts
    )
    assert put.status == 201
    got = await call("GET", OBJ)
    assert got.body == data
    # Chunked (no Content-Length) works too.
    from stratus.objectstore.node.protocol import NodeRequest

    from .conftest import chunks

    req = NodeRequest(
        "PUT", "sda", 3, "a", "c", "chunked", {"x-timestamp": ts()}, {}, chunks(*parts)
    )
    resp = await call.node.handle(req)
    assert resp.status == 201
    assert (await call("GET", "sda/3/a/c/chunked")).body == data


async def test_etag_and_length_are_verified(call: Caller, container: str) -> None:
    bad = await call("PUT", OBJ, {"x-timestamp": ts(), "etag": "0" * 32}, b"hello")
    assert bad.status == 422
    assert (await call("GET", OBJ)).status == 404
    short = await call("PUT", OBJ, {"x-timestamp": ts(), "content-length": "10"}, b"hello")
    assert short.status == 499
    big = [os.urandom(400_000), os.urandom(400_000)]
    short = await call("PUT", OBJ, {"x-timestamp": ts(), "content-length": "900000"}, big)
    assert short.status == 499
    bad = await call("PUT", OBJ, {"x-timestamp": ts(), "etag": "0" * 32}, big)
    assert bad.status == 422
    assert (await call("GET", OBJ)).status == 404
    quoted = await call(
        "PUT", OBJ, {"x-timestamp": ts(), "etag": f'"{hashlib.md5(b"x").hexdigest()}"'}, b"x"
    )
    assert quoted.status == 201


async def test_timestamps_order_writes(call: Caller, container: str) -> None:
    old, new = ts(), ts()
    assert (await call("PUT", OBJ, {"x-timestamp": new}, b"new")).status == 201
    older = await call("PUT", OBJ, {"x-timestamp": old}, b"old")
    assert older.status == 409 and older.headers["x-backend-timestamp"] == new
    assert (await call("PUT", OBJ, {"x-timestamp": new}, b"same")).status == 409
    assert (await call("GET", OBJ)).body == b"new"
    assert (await call("DELETE", OBJ, {"x-timestamp": old})).status == 409
    assert (await call("POST", OBJ, {"x-timestamp": old})).status == 409
    assert (await call("PUT", OBJ, {}, b"x")).status == 400
    assert (await call("PUT", OBJ, {"x-timestamp": "yesterday"}, b"x")).status == 400


async def test_if_none_match_star(call: Caller, container: str) -> None:
    assert (await call("PUT", OBJ, {"x-timestamp": ts(), "if-none-match": "*"}, b"1")).status == 201
    assert (await call("PUT", OBJ, {"x-timestamp": ts(), "if-none-match": "*"}, b"2")).status == 412


async def test_delete_writes_tombstones(call: Caller, container: str) -> None:
    missing = await call("DELETE", OBJ, {"x-timestamp": ts()})
    assert missing.status == 404
    put_ts = ts()
    assert (await call("PUT", OBJ, {"x-timestamp": put_ts}, b"x")).status == 201
    del_ts = ts()
    assert (await call("DELETE", OBJ, {"x-timestamp": del_ts})).status == 204
    gone = await call("GET", OBJ)
    assert gone.status == 404 and gone.headers["x-backend-timestamp"] == del_ts
    # A PUT older than the tombstone loses.
    assert (await call("PUT", OBJ, {"x-timestamp": put_ts}, b"y")).status == 409
    again = await call("DELETE", OBJ, {"x-timestamp": ts()})
    assert again.status == 404


async def test_post_replaces_metadata(call: Caller, container: str) -> None:
    headers = {"x-timestamp": ts(), "x-object-meta-a": "1", "x-object-meta-b": "2"}
    assert (await call("PUT", OBJ, {**headers, "content-type": "text/plain"}, b"x")).status == 201
    post_ts = ts()
    posted = await call("POST", OBJ, {"x-timestamp": post_ts, "x-object-meta-c": "3"})
    assert posted.status == 202
    h = (await call("HEAD", OBJ)).headers
    assert h["x-object-meta-c"] == "3"
    assert "x-object-meta-a" not in h and "x-object-meta-b" not in h
    assert h["content-type"] == "text/plain"
    assert h["x-timestamp"] == post_ts and h["x-backend-data-timestamp"] == headers["x-timestamp"]
    assert (await call("POST", "sda/3/a/c/nope", {"x-timestamp": ts()})).status == 404


async def test_expiry(call: Caller, container: str) -> None:
    past = str(int(time.time()) - 10)
    assert (await call("PUT", OBJ, {"x-timestamp": ts(), "x-delete-at": past}, b"x")).status == 400
    assert (
        await call("PUT", OBJ, {"x-timestamp": ts(), "x-delete-at": "soon"}, b"x")
    ).status == 400
    future = str(int(time.time()) + 3600)
    assert (
        await call("PUT", OBJ, {"x-timestamp": ts(), "x-delete-at": future}, b"x")
    ).status == 201
    assert (await call("HEAD", OBJ)).headers["x-delete-at"] == future
    # A replicated copy may carry a past X-Delete-At; it reads as gone.
    headers = {"x-timestamp": ts(), "x-delete-at": past, "x-backend-replication": "True"}
    assert (await call("PUT", OBJ, headers, b"x")).status == 201
    assert (await call("GET", OBJ)).status == 404
    # The expirer's conditional delete.
    wrong = await call("DELETE", OBJ, {"x-timestamp": ts(), "x-if-delete-at": "1"})
    assert wrong.status == 412
    right = await call("DELETE", OBJ, {"x-timestamp": ts(), "x-if-delete-at": past})
    assert right.status == 404  # it had expired already; the tombstone is written


async def test_ranges(call: Caller, container: str) -> None:
    data = bytes(range(256)) * 4
    await call("PUT", OBJ, {"x-timestamp": ts(), "content-type": "text/plain"}, data)
    r = await call("GET", OBJ, {"range": "bytes=10-19"})
    assert r.status == 206 and r.body == data[10:20]
    assert r.headers["content-range"] == "bytes 10-19/1024"
    assert r.headers["content-length"] == "10"
    assert (await call("GET", OBJ, {"range": "bytes=-5"})).body == data[-5:]
    assert (await call("GET", OBJ, {"range": "bytes=1000-"})).body == data[1000:]
    assert (await call("GET", OBJ, {"range": "bytes=1000-5000"})).body == data[1000:]
    bad = await call("GET", OBJ, {"range": "bytes=2000-"})
    assert bad.status == 416 and bad.headers["content-range"] == "bytes */1024"
    assert (await call("GET", OBJ, {"range": "bytes=5-2"})).status == 200
    assert (await call("GET", OBJ, {"range": "pages=1-2"})).status == 200
    multi = await call("GET", OBJ, {"range": "bytes=0-1,10-11"})
    assert multi.status == 206
    ctype = multi.headers["content-type"]
    assert ctype.startswith("multipart/byteranges;boundary=")
    boundary = ctype.split("=", 1)[1].encode()
    assert int(multi.headers["content-length"]) == len(multi.body)
    parts = multi.body.split(b"--" + boundary)
    assert parts[-1] == b"--"
    assert parts[1].endswith(b"\r\n\r\n" + data[0:2] + b"\r\n")
    assert b"Content-Range: bytes 10-11/1024" in parts[2]


async def test_ranges_of_a_large_object(call: Caller, container: str) -> None:
    data = os.urandom(3 * 1024 * 1024 + 5)
    await call("PUT", OBJ, {"x-timestamp": ts()}, [data[:1_000_000], data[1_000_000:]])
    r = await call("GET", OBJ, {"range": "bytes=1048570-2097160"})
    assert r.status == 206 and r.body == data[1048570:2097161]
    multi = await call("GET", OBJ, {"range": "bytes=0-0,-1"})
    assert data[:1] in multi.body and data[-1:] in multi.body
    assert (await call("GET", OBJ)).body == data


async def test_conditional_requests(call: Caller, container: str) -> None:
    put = await call("PUT", OBJ, {"x-timestamp": ts()}, b"hello")
    etag = put.headers["etag"]
    assert (await call("GET", OBJ, {"if-match": f'"{etag}"'})).status == 200
    assert (await call("GET", OBJ, {"if-match": '"nope"'})).status == 412
    assert (await call("GET", OBJ, {"if-match": "*"})).status == 200
    not_modified = await call("GET", OBJ, {"if-none-match": etag})
    assert not_modified.status == 304 and not_modified.body == b""
    assert not_modified.headers["etag"] == etag
    assert (await call("GET", OBJ, {"if-none-match": '"other"'})).status == 200
    later = "Fri, 01 Jan 2100 00:00:00 GMT"
    earlier = "Thu, 01 Jan 1970 00:00:00 GMT"
    assert (await call("GET", OBJ, {"if-modified-since": later})).status == 304
    assert (await call("GET", OBJ, {"if-modified-since": earlier})).status == 200
    assert (await call("GET", OBJ, {"if-unmodified-since": earlier})).status == 412
    assert (await call("HEAD", OBJ, {"if-unmodified-since": later})).status == 200
    assert (await call("GET", OBJ, {"if-modified-since": "garbage"})).status == 200
    # Against another ETag (an SLO's), when the proxy says where it is.
    await call("PUT", OBJ, {"x-timestamp": ts(), "x-object-sysmeta-slo-etag": "slo"}, b"m")
    at = {"x-backend-etag-is-at": "x-object-sysmeta-slo-etag"}
    assert (await call("GET", OBJ, {**at, "if-match": "slo"})).status == 200
    assert (await call("GET", OBJ, {**at, "if-none-match": "slo"})).status == 304


async def test_container_update_lists_the_object(call: Caller, container: str) -> None:
    headers = {"x-timestamp": ts(), "content-type": "image/png", **CONTAINER}
    await call("PUT", container + "pic", headers, b"12345")
    listing = await call("GET", "sda/2/a/c")
    assert b'"name":"pic"' in listing.body and b'"content_type":"image/png"' in listing.body
    assert listing.headers["x-container-bytes-used"] == "5"
    override = {
        "x-backend-container-update-override-etag": "E",
        "x-backend-container-update-override-size": "99",
    }
    await call("PUT", container + "slo", {"x-timestamp": ts(), **CONTAINER, **override}, b"1")
    listing = await call("GET", "sda/2/a/c", query={"prefix": "slo"})
    assert b'"hash":"E"' in listing.body and b'"bytes":99' in listing.body
    await call("DELETE", container + "pic", {"x-timestamp": ts(), **CONTAINER})
    head = await call("HEAD", "sda/2/a/c")
    assert head.headers["x-container-object-count"] == "1"


async def test_async_pending_when_the_container_is_unreachable(
    call: Caller, node: StorageNode, container: str
) -> None:
    down = {
        "x-container-host": "127.0.0.1:6200,127.0.0.1:1",
        "x-container-device": "sda,sdz",
        "x-container-partition": "2",
    }
    put_ts = ts()
    assert (await call("PUT", OBJ, {"x-timestamp": put_ts, **down}, b"abc")).status == 201
    await node.drain()
    paths = list_pending(str(node.devices_root / "sda"))
    assert len(paths) == 1 and paths[0].endswith("-" + put_ts)
    update = read_pending(paths[0])
    assert update.server == "container" and update.method == "PUT"
    assert (update.account, update.container, update.obj) == ("a", "c", "o")
    assert [(t.port, t.device) for t in update.targets] == [(1, "sdz")]
    assert update.headers["x-size"] == "3" and update.headers["x-etag"]
    # The reachable replica got it.
    assert (await call("HEAD", "sda/2/a/c")).headers["x-container-object-count"] == "1"
    # A missing container is a failed update too.
    missing = {**CONTAINER, "x-container-partition": "9"}
    await call("DELETE", OBJ, {"x-timestamp": ts(), **missing})
    await node.drain()
    assert len(list_pending(str(node.devices_root / "sda"))) == 2


async def test_bad_requests(call: Caller, container: str) -> None:
    assert (await call("GET", "sdq/3/a/c/o")).status == 507
    assert (await call("GET", "../3/a/c/o")).status == 400
    assert (await call("PATCH", OBJ)).status == 405
    bad_hosts = {
        "x-container-host": "nohost",
        "x-container-device": "sda",
        "x-container-partition": "2",
    }
    assert (await call("PUT", OBJ, {"x-timestamp": ts(), **bad_hosts}, b"x")).status == 400
    assert (
        await call("PUT", OBJ, {"x-timestamp": ts(), "x-backend-storage-policy-index": "x"}, b"")
    ).status == 400
