"""The Swift API over an in-memory cluster: codes, headers, limits, access."""

from __future__ import annotations

import hashlib

from tests.unit.objectstore.api.conftest import Cloud

A = "/v1/AUTH_p1"


async def test_account_autocreated_and_counters(cloud: Cloud) -> None:
    r = await cloud.http.head(A)
    assert r.status_code == 204
    assert r.headers["x-account-container-count"] == "0"
    assert r.headers["x-trans-id"].startswith("tx")
    assert "x-timestamp" in r.headers and "content-type" in r.headers
    assert (await cloud.http.put(f"{A}/c1")).status_code == 201
    assert (await cloud.http.put(f"{A}/c1")).status_code == 202
    r = await cloud.http.head(A)
    assert r.headers["x-account-container-count"] == "1"
    for name in ("bytes-used", "object-count", "container-count"):
        assert f"x-account-storage-policy-policy-0-{name}" in r.headers
    r = await cloud.http.get(A, params={"format": "json"})
    assert r.status_code == 200 and [e["name"] for e in r.json()] == ["c1"]
    r = await cloud.http.get(A, params={"format": "json", "marker": "c1"})
    assert r.json() == []


async def test_object_roundtrip(cloud: Cloud) -> None:
    await cloud.http.put(f"{A}/c")
    data = b"hello world" * 1000
    r = await cloud.http.put(
        f"{A}/c/dir/a.txt", content=data, headers={"x-object-meta-color": "red"}
    )
    assert r.status_code == 201, r.text
    assert r.headers["etag"] == hashlib.md5(data).hexdigest()
    assert "last-modified" in r.headers
    r = await cloud.http.get(f"{A}/c/dir/a.txt")
    assert r.status_code == 200 and r.content == data
    assert r.headers["content-type"].startswith("text/plain")
    assert r.headers["x-object-meta-color"] == "red"
    assert "x-timestamp" in r.headers
    r = await cloud.http.head(f"{A}/c/dir/a.txt")
    assert r.status_code == 200 and r.headers["content-length"] == str(len(data))
    r = await cloud.http.get(f"{A}/c", params={"format": "json"})
    assert [e["name"] for e in r.json()] == ["dir/a.txt"]
    r = await cloud.http.get(f"{A}/c")
    assert r.text == "dir/a.txt\n"
    r = await cloud.http.get(f"{A}/c", params={"format": "xml"})
    assert b"<name>dir/a.txt</name>" in r.content
    r = await cloud.http.post(f"{A}/c/dir/a.txt", headers={"x-object-meta-size": "big"})
    assert r.status_code == 202
    r = await cloud.http.head(f"{A}/c/dir/a.txt")
    assert r.headers["x-object-meta-size"] == "big" and "x-object-meta-color" not in r.headers
    assert (await cloud.http.delete(f"{A}/c")).status_code == 409
    assert (await cloud.http.delete(f"{A}/c/dir/a.txt")).status_code == 204
    assert (await cloud.http.delete(f"{A}/c/dir/a.txt")).status_code == 404
    assert (await cloud.http.delete(f"{A}/c")).status_code == 204
    r = await cloud.http.delete(f"{A}/c")
    assert r.status_code == 404
    assert r.text == "<html><h1>Not Found</h1><p>The resource could not be found.</p></html>"


async def test_default_content_type_and_missing_container(cloud: Cloud) -> None:
    assert (await cloud.http.put(f"{A}/nope/o", content=b"x")).status_code == 404
    await cloud.http.put(f"{A}/c")
    await cloud.http.put(f"{A}/c/blob", content=b"x")
    r = await cloud.http.head(f"{A}/c/blob")
    assert r.headers["content-type"] == "application/octet-stream"


async def test_etag_mismatch_is_422(cloud: Cloud) -> None:
    await cloud.http.put(f"{A}/c")
    r = await cloud.http.put(f"{A}/c/o", content=b"abc", headers={"etag": "0" * 32})
    assert r.status_code == 422
    assert (await cloud.http.head(f"{A}/c/o")).status_code == 404


async def test_chunked_upload(cloud: Cloud) -> None:
    await cloud.http.put(f"{A}/c")

    async def gen():  # type: ignore[no-untyped-def]
        for _ in range(10):
            yield b"x" * 70000

    r = await cloud.http.put(f"{A}/c/big", content=gen())
    assert r.status_code == 201
    r = await cloud.http.get(f"{A}/c/big")
    assert len(r.content) == 700000


async def test_one_replica_down_still_quorum_two_down_503(cloud: Cloud) -> None:
    await cloud.http.put(f"{A}/c")
    place = cloud.proxy.place("AUTH_p1", "c", "o")
    first, second = place.nodes[0], place.nodes[1]
    cloud.nodes.down.add((first.ip, first.port))
    r = await cloud.http.put(f"{A}/c/o", content=b"data")
    assert r.status_code == 201
    assert (await cloud.http.get(f"{A}/c/o")).content == b"data"
    # the handoff took the down primary's copy
    holders = {d for (d, p) in cloud.nodes.objects if p == "AUTH_p1/c/o"}
    assert len(holders) == 3
    cloud.nodes.down.add((second.ip, second.port))
    all_devices = {(f"10.0.0.{i}", 6200) for i in range(1, 5)}
    cloud.nodes.down |= all_devices - {(place.nodes[2].ip, 6200)}
    r = await cloud.http.put(f"{A}/c/o2", content=b"data")
    assert r.status_code == 503
    # reads still find the surviving copy
    assert (await cloud.http.get(f"{A}/c/o")).content == b"data"


async def test_replica_dying_mid_stream_keeps_quorum(cloud: Cloud) -> None:
    await cloud.http.put(f"{A}/c")
    place = cloud.proxy.place("AUTH_p1", "c", "o")
    dev = place.nodes[1]
    cloud.nodes.fail_mid_stream.add((dev.ip, dev.port))
    data = b"y" * 300_000
    r = await cloud.http.put(f"{A}/c/o", content=data)
    assert r.status_code == 201
    assert (await cloud.http.get(f"{A}/c/o")).content == data


async def test_ranges_and_conditionals(cloud: Cloud) -> None:
    await cloud.http.put(f"{A}/c")
    r = await cloud.http.put(f"{A}/c/o", content=b"0123456789")
    etag = r.headers["etag"]
    r = await cloud.http.get(f"{A}/c/o", headers={"range": "bytes=2-4"})
    assert r.status_code == 206 and r.content == b"234"
    assert r.headers["content-range"] == "bytes 2-4/10"
    r = await cloud.http.get(f"{A}/c/o", headers={"range": "bytes=-3"})
    assert r.content == b"789"
    r = await cloud.http.get(f"{A}/c/o", headers={"range": "bytes=20-"})
    assert r.status_code == 416
    r = await cloud.http.get(f"{A}/c/o", headers={"range": "garbage"})
    assert r.status_code == 200
    r = await cloud.http.get(f"{A}/c/o", headers={"if-none-match": etag})
    assert r.status_code == 304
    r = await cloud.http.get(f"{A}/c/o", headers={"if-match": "nope"})
    assert r.status_code == 412
    lm = (await cloud.http.head(f"{A}/c/o")).headers["last-modified"]
    r = await cloud.http.get(f"{A}/c/o", headers={"if-modified-since": lm})
    assert r.status_code == 304


async def test_limits(cloud: Cloud) -> None:
    await cloud.http.put(f"{A}/c")
    r = await cloud.http.put(f"{A}/c/" + "a" * 1025, content=b"")
    assert r.status_code == 400
    r = await cloud.http.put(f"{A}/" + "c" * 257)
    assert r.status_code == 400
    r = await cloud.http.put(f"{A}/c/a%00b", content=b"")
    assert r.status_code == 412
    r = await cloud.http.put(f"{A}/c/a/%2E%2E/b", content=b"")
    assert r.status_code == 400
    r = await cloud.http.put(f"{A}/c/o", content=b"", headers={"x-object-meta-" + "n" * 129: "v"})
    assert r.status_code == 400 and r.text == "Metadata name too long: x-object-meta-N" + "n" * 128
    assert r.headers["content-type"] == "text/plain"  # Swift's constraint answers
    r = await cloud.http.post(A, headers={"x-account-meta-k": "v" * 257})
    assert (r.status_code, r.text) == (400, "Metadata value longer than 256: x-account-meta-K")
    r = await cloud.http.post(f"{A}/c", headers={"x-container-meta-k": "v" * 8193})
    assert (r.status_code, r.text) == (400, "Header value too long: X-Container-Meta-K")
    many_c = {f"x-container-meta-k{i}": "v" for i in range(91)}
    r = await cloud.http.put(f"{A}/c2", headers=many_c)
    assert (r.status_code, r.text) == (400, "Too many metadata items; max 90")
    r = await cloud.http.post(f"{A}/c", headers={"x-container-meta-": "v"})
    assert (r.status_code, r.text) == (400, "Metadata name cannot be empty")
    r = await cloud.http.put(f"{A}/c/o", content=b"", headers={"x-object-meta-n": "v" * 257})
    assert r.status_code == 400
    many = {f"x-object-meta-k{i}": "v" for i in range(91)}
    assert (await cloud.http.put(f"{A}/c/o", content=b"", headers=many)).status_code == 400
    big = {f"x-object-meta-k{i}": "v" * 200 for i in range(21)}
    r = await cloud.http.put(f"{A}/c/o", content=b"", headers=big)
    assert r.status_code == 400 and "Total metadata" in r.text
    r = await cloud.http.put(
        f"{A}/c/o", content=b"", headers={"content-length": str(5 * 1024**3 + 1)}
    )
    assert r.status_code == 413


async def test_quotas(cloud: Cloud) -> None:
    await cloud.http.put(f"{A}/q", headers={"x-container-meta-quota-count": "1"})
    assert (await cloud.http.put(f"{A}/q/a", content=b"1")).status_code == 201
    assert (await cloud.http.put(f"{A}/q/b", content=b"1")).status_code == 413
    await cloud.http.put(f"{A}/qb", headers={"x-container-meta-quota-bytes": "5"})
    assert (await cloud.http.put(f"{A}/qb/a", content=b"123456")).status_code == 413
    assert (await cloud.http.put(f"{A}/qb/a", content=b"1234")).status_code == 201


async def test_copy(cloud: Cloud) -> None:
    await cloud.http.put(f"{A}/c")
    await cloud.http.put(f"{A}/c/src", content=b"payload", headers={"x-object-meta-a": "1"})
    r = await cloud.http.request("COPY", f"{A}/c/src", headers={"destination": "c/dst"})
    assert r.status_code == 201 and r.headers["x-copied-from"] == "c/src"
    r = await cloud.http.get(f"{A}/c/dst")
    assert r.content == b"payload" and r.headers["x-object-meta-a"] == "1"
    r = await cloud.http.put(f"{A}/c/dst2", headers={"x-copy-from": "/c/src"}, content=b"")
    assert r.status_code == 201
    assert (await cloud.http.get(f"{A}/c/dst2")).content == b"payload"


async def test_expiry(cloud: Cloud) -> None:
    await cloud.http.put(f"{A}/c")
    r = await cloud.http.put(f"{A}/c/o", content=b"x", headers={"x-delete-after": "100"})
    assert r.status_code == 201
    assert "x-delete-at" in (await cloud.http.head(f"{A}/c/o")).headers
    r = await cloud.http.put(f"{A}/c/o", content=b"x", headers={"x-delete-at": "1"})
    assert r.status_code == 400
    r = await cloud.http.put(f"{A}/c/o", content=b"x", headers={"x-delete-after": "x"})
    assert r.status_code == 400


async def test_auth(cloud: Cloud) -> None:
    await cloud.http.put(f"{A}/c")
    await cloud.http.put(f"{A}/c/o", content=b"x")
    r = await cloud.http.get(f"{A}/c/o", headers={"x-auth-token": ""})
    assert r.status_code == 401
    assert (await cloud.http.get(f"{A}/c/o", headers={"x-auth-token": "bad"})).status_code == 401
    assert (await cloud.http.get(f"{A}/c/o", headers={"x-auth-token": "bob"})).status_code == 403
    assert (await cloud.http.get(f"{A}/c/o", headers={"x-auth-token": "reader"})).status_code == 200
    r = await cloud.http.put(f"{A}/c/o", content=b"y", headers={"x-auth-token": "reader"})
    assert r.status_code == 403
    assert (await cloud.http.get(f"{A}/c/o", headers={"x-auth-token": "admin"})).status_code == 200
    # ACLs
    await cloud.http.post(f"{A}/c", headers={"x-container-read": "p2:*"})
    assert (await cloud.http.get(f"{A}/c/o", headers={"x-auth-token": "bob"})).status_code == 200
    r = await cloud.http.put(f"{A}/c/o", content=b"y", headers={"x-auth-token": "bob"})
    assert r.status_code == 403
    await cloud.http.post(f"{A}/c", headers={"x-container-write": "p2:u-bob"})
    r = await cloud.http.put(f"{A}/c/o", content=b"y", headers={"x-auth-token": "bob"})
    assert r.status_code == 201
    await cloud.http.post(f"{A}/c", headers={"x-container-read": ".r:*"})
    assert (await cloud.http.get(f"{A}/c/o", headers={"x-auth-token": ""})).status_code == 200
    assert (await cloud.http.get(f"{A}/c", headers={"x-auth-token": ""})).status_code == 401
    await cloud.http.post(f"{A}/c", headers={"x-container-read": ".r:*,.rlistings"})
    assert (await cloud.http.get(f"{A}/c", headers={"x-auth-token": ""})).status_code == 200


async def test_info_and_healthcheck(cloud: Cloud) -> None:
    r = await cloud.http.get("/info", headers={"x-auth-token": ""})
    assert r.status_code == 200
    info = r.json()
    assert info["swift"]["max_file_size"] == 5 * 1024**3
    assert info["swift"]["policies"][0]["name"] == "Policy-0"
    r = await cloud.http.get("/healthcheck", headers={"x-auth-token": ""})
    assert r.text == "OK"
    r = await cloud.http.request("PATCH", f"{A}/c")
    assert r.status_code == 405
