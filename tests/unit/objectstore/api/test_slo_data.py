"""SLO manifests with inline data segments (Swift 2.17's ``{"data": ...}``)."""

from __future__ import annotations

import base64
import hashlib
import json

from tests.unit.objectstore.api.conftest import Cloud

A = "/v1/AUTH_p1"


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


async def test_data_segments_between_objects(cloud: Cloud) -> None:
    await cloud.http.put(f"{A}/c")
    await cloud.http.put(f"{A}/segs")
    part = b"p" * 100
    await cloud.http.put(f"{A}/segs/one", content=part)
    head, tail = b"<header>", b"</footer>"
    manifest = [
        {"data": base64.b64encode(head).decode()},
        {"path": "/segs/one"},
        {"data": base64.b64encode(tail).decode()},
    ]
    r = await cloud.http.put(
        f"{A}/c/doc", params={"multipart-manifest": "put"}, content=json.dumps(manifest)
    )
    assert r.status_code == 201, r.text
    whole = head + part + tail
    assert r.headers["etag"] == f'"{md5((md5(head) + md5(part) + md5(tail)).encode())}"'
    r = await cloud.http.get(f"{A}/c/doc")
    assert r.content == whole and r.headers["content-length"] == str(len(whole))
    r = await cloud.http.get(f"{A}/c/doc", headers={"range": "bytes=4-11"})
    assert r.status_code == 206 and r.content == whole[4:12]
    r = await cloud.http.get(f"{A}/c/doc", params={"multipart-manifest": "get", "format": "raw"})
    assert r.json()[0] == {"data": base64.b64encode(head).decode()}
    r = await cloud.http.delete(f"{A}/c/doc", params={"multipart-manifest": "delete"})
    assert r.status_code == 200 and "Number Deleted: 2" in r.text


async def test_bad_data_segments(cloud: Cloud) -> None:
    await cloud.http.put(f"{A}/c")
    for item, message in (
        ({"data": "not base64!"}, "Index 0: Invalid base64 data"),
        ({"data": ""}, "Index 0: Too small"),
        ({"data": "eA==", "etag": "x"}, "Index 0: extraneous keys etag"),
    ):
        r = await cloud.http.put(
            f"{A}/c/bad", params={"multipart-manifest": "put"}, content=json.dumps([item])
        )
        assert r.status_code == 400 and r.text.startswith(message), r.text
