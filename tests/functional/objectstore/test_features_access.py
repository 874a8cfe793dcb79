"""TempURL and FormPost against a real all-in-one: the swift CLI's URLs and
HTML-form uploads, fetched with plain HTTP and no token."""

from __future__ import annotations

import time

import httpx

from stratus.objectstore.layers.formpost import form_signature
from tests.functional.objectstore.conftest import Account, Swift, run_cli, unique


def test_swift_tempurl_plain_get(owner: Account, api: Swift, container: str) -> None:
    key = unique("key")
    assert api.post("", headers={"X-Account-Meta-Temp-URL-Key": key}).status_code == 204
    data = b"temporary " * 100
    assert api.put(f"/{container}/report.txt", content=data).status_code == 201
    path = f"/v1/{owner.name}/{container}/report.txt"
    env = owner.env()
    for extra in ([], ["--iso8601"]):
        out = run_cli("swift", env, "tempurl", *extra, "GET", "3600", path, key).stdout.strip()
        assert out.startswith(path + "?temp_url_sig="), out
        resp = httpx.get(f"{owner.server.url}/object-store{out}", timeout=30)
        assert resp.status_code == 200 and resp.content == data
        assert resp.headers["content-disposition"].startswith('attachment; filename="report.txt"')
    out = run_cli("swift", env, "tempurl", "--prefix-based", "GET", "60", path[:-10], key).stdout
    resp = httpx.get(
        f"{owner.server.url}/object-store{out.strip().replace(path[:-10] + '?', path + '?')}"
    )
    assert resp.status_code == 200
    out = run_cli("swift", env, "tempurl", "PUT", "60", path, key).stdout.strip()
    resp = httpx.get(f"{owner.server.url}/object-store{out}", timeout=30)
    assert resp.status_code == 401 and resp.text == "401 Unauthorized: Temp URL invalid\n"
    resp = httpx.put(f"{owner.server.url}/object-store{out}", content=b"new", timeout=30)
    assert resp.status_code == 201
    assert api.get(f"/{container}/report.txt").content == b"new"
    info = httpx.get(f"{owner.server.url}/object-store/info").json()
    assert set(info["tempurl"]["methods"]) >= {"GET", "PUT", "HEAD", "POST", "DELETE"}
    assert "sha256" in info["tempurl"]["allowed_digests"] and "formpost" in info


def test_formpost_upload(owner: Account, api: Swift, container: str) -> None:
    key = unique("ckey")
    assert (
        api.post(f"/{container}", headers={"X-Container-Meta-Temp-URL-Key": key}).status_code == 204
    )
    path = f"/v1/{owner.name}/{container}/uploads/"
    expires = int(time.time()) + 300
    redirect = "https://example.com/thanks"
    fields = {
        "redirect": redirect,
        "max_file_size": "100000",
        "max_file_count": "3",
        "expires": str(expires),
        "signature": form_signature(key, path, redirect, 100000, 3, expires),
    }
    files = [
        ("file1", ("a.txt", b"first", "text/plain")),
        ("file2", ("b.bin", bytes(range(256)) * 10, "application/x-b")),
    ]
    url = f"{owner.server.url}/object-store{path}"
    resp = httpx.post(url, data=fields, files=files, timeout=30)
    assert resp.status_code == 303, resp.text
    assert resp.headers["location"] == f"{redirect}?status=201&message="
    assert api.get(f"/{container}/uploads/a.txt").content == b"first"
    got = api.get(f"/{container}/uploads/b.bin")
    assert got.content == bytes(range(256)) * 10
    assert got.headers["content-type"] == "application/x-b"
    fields["signature"] = "0" * 64
    resp = httpx.post(url, data=fields, files=files, timeout=30)
    assert resp.status_code == 401
