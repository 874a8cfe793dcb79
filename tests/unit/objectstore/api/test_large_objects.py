"""Static and dynamic large objects over the in-memory cluster."""

from __future__ import annotations

import hashlib
import json

from tests.unit.objectstore.api.conftest import Cloud

A = "/v1/AUTH_p1"


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


async def _segments(cloud: Cloud) -> list[bytes]:
    await cloud.http.put(f"{A}/c")
    await cloud.http.put(f"{A}/segs")
    parts = [b"a" * 100, b"b" * 50, b"c" * 70]
    for i, part in enumerate(parts):
        assert (await cloud.http.put(f"{A}/segs/p/{i:03d}", content=part)).status_code == 201
    return parts


async def test_slo_put_get_head_range_and_delete(cloud: Cloud) -> None:
    parts = await _segments(cloud)
    manifest = [
        {"path": f"/segs/p/{i:03d}", "etag": md5(p), "size_bytes": len(p)}
        for i, p in enumerate(parts)
    ]
    manifest.append({"path": "/segs/p/000", "etag": None, "size_bytes": None, "range": "10-19"})
    r = await cloud.http.put(
        f"{A}/c/big", params={"multipart-manifest": "put"}, content=json.dumps(manifest)
    )
    assert r.status_code == 201, r.text
    whole = b"".join(parts) + b"a" * 10
    expected = md5("".join(md5(p) for p in parts).encode() + f"{md5(parts[0])}:10-19;".encode())
    assert r.headers["etag"] == f'"{expected}"'
    r = await cloud.http.head(f"{A}/c/big")
    assert r.headers["content-length"] == str(len(whole))
    assert r.headers["etag"] == f'"{expected}"' and r.headers["x-static-large-object"] == "True"
    assert not any(k.startswith("x-object-sysmeta") for k in r.headers)
    r = await cloud.http.get(f"{A}/c/big")
    assert r.content == whole
    for rng, first, last in (
        ("bytes=90-160", 90, 160),
        ("bytes=-15", 215, 229),
        ("bytes=149-", 149, 229),
    ):
        r = await cloud.http.get(f"{A}/c/big", headers={"range": rng})
        assert r.status_code == 206 and r.content == whole[first : last + 1], rng
        assert r.headers["content-range"] == f"bytes {first}-{last}/{len(whole)}"
    r = await cloud.http.get(f"{A}/c/big", headers={"if-none-match": f'"{expected}"'})
    assert r.status_code == 304
    r = await cloud.http.get(f"{A}/c/big", params={"multipart-manifest": "get"})
    stored = r.json()
    assert [e["name"] for e in stored][:2] == ["/segs/p/000", "/segs/p/001"] and stored[3][
        "range"
    ] == "10-19"
    r = await cloud.http.get(f"{A}/c/big", params={"multipart-manifest": "get", "format": "raw"})
    assert r.json()[0] == {"path": "/segs/p/000", "etag": md5(parts[0]), "size_bytes": 100}
    r = await cloud.http.delete(
        f"{A}/c/big",
        params={"multipart-manifest": "delete"},
        headers={"accept": "application/json"},
    )
    body = r.json()
    assert r.status_code == 200 and body["Number Deleted"] == 4 and body["Number Not Found"] == 1
    assert body["Response Status"] == "200 OK" and body["Errors"] == []
    assert (await cloud.http.get(f"{A}/segs/p/001")).status_code == 404


async def test_slo_bad_manifests(cloud: Cloud) -> None:
    parts = await _segments(cloud)
    url = f"{A}/c/bad"
    q = {"multipart-manifest": "put"}
    r = await cloud.http.put(url, params=q, content=b"not json")
    assert r.status_code == 400
    bad = [
        {"path": "/segs/p/000", "etag": "0" * 32, "size_bytes": 100},
        {"path": "/segs/p/001", "etag": md5(parts[1]), "size_bytes": 3},
        {"path": "/segs/missing", "etag": None, "size_bytes": None},
    ]
    r = await cloud.http.put(url, params=q, content=json.dumps(bad))
    assert r.status_code == 400
    assert "/segs/p/000, Etag Mismatch" in r.text and "/segs/p/001, Size Mismatch" in r.text
    assert "/segs/missing, 404 Not Found" in r.text
    r = await cloud.http.put(url, params=q, content=json.dumps([{"path": "nocontainer"}]))
    assert r.status_code == 400
    r = await cloud.http.put(url, content=b"x", headers={"x-static-large-object": "true"})
    assert r.status_code == 400 and "reserved" in r.text
    assert (await cloud.http.get(url)).status_code == 404


async def test_dlo(cloud: Cloud) -> None:
    parts = await _segments(cloud)
    r = await cloud.http.put(f"{A}/c/dlo", content=b"", headers={"x-object-manifest": "segs/p/"})
    assert r.status_code == 201
    whole = b"".join(parts)
    r = await cloud.http.get(f"{A}/c/dlo")
    assert r.content == whole
    assert r.headers["etag"] == '"' + md5("".join(md5(p) for p in parts).encode()) + '"'
    assert r.headers["x-object-manifest"] == "segs/p/"
    r = await cloud.http.head(f"{A}/c/dlo")
    assert r.headers["content-length"] == str(len(whole))
    r = await cloud.http.get(f"{A}/c/dlo", headers={"range": "bytes=95-104"})
    assert r.status_code == 206 and r.content == whole[95:105]
    r = await cloud.http.put(
        f"{A}/c/dlo2", content=b"", headers={"x-object-manifest": "nocontainer"}
    )
    assert r.status_code == 400
