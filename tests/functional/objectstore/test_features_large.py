"""Large objects against a real all-in-one: ``swift upload --segment-size``
as SLO and DLO, downloaded with checksums verified, ranges across segments,
and deleted with their segments; DLO manifests' HEAD, ranges, copies and
Referer ACLs; copies' metadata and ranges."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from tests.functional.objectstore.conftest import Account, Swift, md5, meta_of, run_cli, unique

SIZE = 50 * 1024 * 1024


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "big.bin"
    block = os.urandom(1024 * 1024)
    with path.open("wb") as f:
        for i in range(SIZE // len(block)):
            f.write(bytes([i]) + block[1:])
    return path


@pytest.mark.parametrize("slo", [True, False], ids=["slo", "dlo"])
def test_swift_segmented_upload_download_delete(
    owner: Account, api: Swift, big_file: Path, tmp_path: Path, slo: bool
) -> None:
    env = owner.env()
    container = unique("large")
    args = ["upload", "--segment-size", "10M", "--object-name", "big.bin"]
    args.append("--use-slo" if slo else "--use-dlo")  # swiftclient picks SLO when /info has it
    run_cli("swift", env, *args, container, str(big_file), timeout=300)
    head = api.head(f"/{container}/big.bin")
    assert head.status_code == 200 and head.headers["content-length"] == str(SIZE)
    if slo:
        assert head.headers["x-static-large-object"] == "True"
    else:
        assert head.headers["x-object-manifest"].startswith(f"{container}_segments/")
    assert head.headers["etag"].startswith('"')
    segments = api.get(f"/{container}_segments", params={"format": "json"}).json()
    assert len(segments) == 5
    inner = "".join(s["hash"] for s in segments).encode()
    assert head.headers["etag"] == '"' + hashlib.md5(inner).hexdigest() + '"'
    listing = api.get(f"/{container}", params={"format": "json"}).json()
    if slo:  # a DLO's manifest is listed as what it is: an empty object
        assert listing[0]["bytes"] == SIZE
        assert listing[0]["slo_etag"] == head.headers["etag"]
    else:
        assert listing[0]["bytes"] == 0
    out = tmp_path / "out.bin"
    run_cli("swift", env, "download", container, "big.bin", "-o", str(out), timeout=300)
    data = big_file.read_bytes()
    assert hashlib.md5(out.read_bytes()).digest() == hashlib.md5(data).digest()
    start = 10 * 1024 * 1024 - 5
    r = api.get(f"/{container}/big.bin", headers={"Range": f"bytes={start}-{start + 9}"})
    assert r.status_code == 206 and r.content == data[start : start + 10]
    run_cli("swift", env, "delete", container, "big.bin", timeout=300)
    assert api.head(f"/{container}/big.bin").status_code == 404
    left = api.get(f"/{container}_segments", params={"format": "json"})
    assert left.status_code == 404 or left.json() == []


def test_slo_manifest_errors(api: Swift, container: str) -> None:
    api.put(f"/{container}/seg", content=b"x" * 10)
    bad = [{"path": f"/{container}/seg", "etag": "0" * 32, "size_bytes": 10}]
    r = api.put(f"/{container}/m", params={"multipart-manifest": "put"}, json=bad)
    assert r.status_code == 400 and "Etag Mismatch" in r.text
    r = api.put(f"/{container}/m", params={"multipart-manifest": "put"}, content=b"{")
    assert r.status_code == 400
    assert api.head(f"/{container}/m").status_code == 404


def test_copy_merges_metadata_and_ignores_range(api: Swift, container: str) -> None:
    api.put(f"/{container}/src", content=b"0123456789", headers={"X-Object-Meta-A": "1"})
    r = api.request(
        "COPY",
        f"/{container}/src",
        headers={"Destination": f"{container}/dst", "Range": "bytes=2-4", "X-Object-Meta-B": "2"},
    )
    assert r.status_code == 201
    got = api.get(f"/{container}/dst")
    assert got.content == b"0123456789"
    assert meta_of(got) == {"a": "1", "b": "2"}
    r = api.put(
        f"/{container}/dst2",
        headers={"X-Copy-From": f"{container}/src", "Range": "bytes=2-4", "Content-Length": "0"},
    )
    assert r.status_code == 201 and api.get(f"/{container}/dst2").content == b"0123456789"


def test_dlo_head_ranges_and_copies(api: Swift, container: str) -> None:
    segs = unique("segs")
    assert api.put(f"/{segs}").status_code == 201
    api.put(f"/{segs}/p/1", content=b"abc")
    api.put(f"/{segs}/p/2", content=b"defg")
    manifest = f"{segs}/p/"
    api.put(
        f"/{container}/dlo",
        content=b"",
        headers={"X-Object-Manifest": manifest, "X-Object-Meta-Kind": "dlo", "Content-Type": "text/x-dlo"},
    )
    head = api.head(f"/{container}/dlo")
    etag = '"' + md5((md5(b"abc") + md5(b"defg")).encode()) + '"'
    assert head.headers["x-object-manifest"] == manifest
    assert head.headers["etag"] == etag and head.headers["content-length"] == "7"
    for wanted, status, body, span in [
        ("bytes=1-4", 206, b"bcde", "bytes 1-4/7"),
        ("bytes=-2", 206, b"fg", "bytes 5-6/7"),
        ("bytes=2-2,4-5", 200, b"abcdefg", None),  # several ranges: the whole, as Swift's DLO
    ]:
        r = api.get(f"/{container}/dlo", headers={"Range": wanted})
        assert (r.status_code, r.content, r.headers.get("content-range")) == (status, body, span)
    assert api.get(f"/{container}/dlo", headers={"Range": "bytes=100-"}).status_code == 416
    # A copy of the manifest is the whole object, with the manifest's metadata...
    r = api.request("COPY", f"/{container}/dlo", headers={"Destination": f"{container}/whole"})
    assert r.status_code == 201
    whole = api.get(f"/{container}/whole")
    assert whole.content == b"abcdefg" and "x-object-manifest" not in whole.headers
    assert whole.headers["etag"].strip('"') == md5(b"abcdefg")
    assert meta_of(whole) == {"kind": "dlo"} and whole.headers["content-type"] == "text/x-dlo"
    r = api.put(
        f"/{container}/whole2", headers={"X-Copy-From": f"{container}/dlo", "Content-Length": "0"}
    )
    assert r.status_code == 201 and api.get(f"/{container}/whole2").content == b"abcdefg"
    # ...unless the manifest itself is asked for.
    r = api.request(
        "COPY",
        f"/{container}/dlo",
        params={"multipart-manifest": "get"},
        headers={"Destination": f"{container}/manifest2"},
    )
    assert r.status_code == 201
    assert api.head(f"/{container}/manifest2").headers["x-object-manifest"] == manifest
    assert api.get(f"/{container}/manifest2", params={"multipart-manifest": "get"}).content == b""


def test_dlo_segments_need_a_referrer_listing(owner: Account, api: Swift) -> None:
    """As Swift's DLO lists its segments as the caller: a Referer reads a
    public DLO only where the segments' container allows it listings."""
    site, segs = unique("site"), unique("segs")
    assert api.put(f"/{site}", headers={"X-Container-Read": ".r:*"}).status_code == 201
    assert api.put(f"/{segs}", headers={"X-Container-Read": ".r:*"}).status_code == 201
    api.put(f"/{segs}/p/1", content=b"public")
    api.put(f"/{site}/dlo", content=b"", headers={"X-Object-Manifest": f"{segs}/p/"})
    referred = {"Referer": "http://www.example.com/page"}
    with owner.client(token=None) as anon:
        assert anon.get(f"/{segs}/p/1", headers=referred).content == b"public"
        assert anon.get(f"/{site}/dlo", headers=referred).status_code == 401
        api.post(f"/{segs}", headers={"X-Container-Read": ".r:.example.com,.rlistings"})
        got = anon.get(f"/{site}/dlo", headers=referred)
        assert got.status_code == 200 and got.content == b"public"
        assert anon.get(f"/{site}/dlo", headers={"Referer": "http://else.org/"}).status_code == 401
        anon.checks.assert_clean()
