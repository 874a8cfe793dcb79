"""TempURL and FormPost over the in-memory cluster: no token, signatures only."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from stratus.objectstore.layers.formpost import form_signature
from stratus.objectstore.layers.tempurl import signature
from tests.unit.objectstore.api.conftest import Cloud

A = "/v1/AUTH_p1"


async def _setup(cloud: Cloud) -> None:
    assert (
        await cloud.http.post(A, headers={"x-account-meta-temp-url-key": "k1"})
    ).status_code == 204
    assert (await cloud.http.put(f"{A}/c")).status_code == 201
    r = await cloud.http.put(f"{A}/c/dir/o.txt", content=b"data", headers={"x-object-meta-a": "b"})
    assert r.status_code == 201


async def test_tempurl_get_and_errors(cloud: Cloud) -> None:
    await _setup(cloud)
    path = f"{A}/c/dir/o.txt"
    exp = int(time.time()) + 60
    anon = {"x-auth-token": ""}
    for digest in ("sha1", "sha256", "sha512"):
        sig = signature("k1", "GET", exp, path, digest)
        r = await cloud.http.get(
            path, params={"temp_url_sig": sig, "temp_url_expires": exp}, headers=anon
        )
        assert r.status_code == 200 and r.content == b"data", (digest, r.text)
        assert r.headers["content-disposition"] == (
            "attachment; filename=\"o.txt\"; filename*=UTF-8''o.txt"
        )
        assert "x-object-meta-a" not in r.headers
    raw = hmac.new(b"k1", f"GET\n{exp}\n{path}".encode(), hashlib.sha512).digest()
    b64 = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    r = await cloud.http.get(
        path, params={"temp_url_sig": f"sha512:{b64}", "temp_url_expires": exp}, headers=anon
    )
    assert r.status_code == 200
    sig = signature("k1", "GET", exp, path)
    r = await cloud.http.get(
        path, params={"temp_url_sig": sig, "temp_url_expires": exp, "inline": ""}, headers=anon
    )
    assert r.headers["content-disposition"] == "inline"
    r = await cloud.http.get(
        path, params={"temp_url_sig": sig, "temp_url_expires": exp, "filename": "a b"}, headers=anon
    )
    assert r.headers["content-disposition"].startswith('attachment; filename="a b"')
    r = await cloud.http.head(
        path, params={"temp_url_sig": sig, "temp_url_expires": exp}, headers=anon
    )
    assert r.status_code == 200
    # wrong method, wrong key, expired, garbage
    r = await cloud.http.put(
        path, params={"temp_url_sig": sig, "temp_url_expires": exp}, headers=anon
    )
    assert r.status_code == 401 and r.text == "401 Unauthorized: Temp URL invalid\n"
    bad = signature("nope", "GET", exp, path)
    r = await cloud.http.get(
        path, params={"temp_url_sig": bad, "temp_url_expires": exp}, headers=anon
    )
    assert r.status_code == 401
    old = int(time.time()) - 10
    r = await cloud.http.get(
        path,
        params={"temp_url_sig": signature("k1", "GET", old, path), "temp_url_expires": old},
        headers=anon,
    )
    assert r.status_code == 401
    r = await cloud.http.get(
        path, params={"temp_url_sig": "zz", "temp_url_expires": "x"}, headers=anon
    )
    assert r.status_code == 401
    # other objects are not reachable with this signature
    r = await cloud.http.get(
        f"{A}/c/other", params={"temp_url_sig": sig, "temp_url_expires": exp}, headers=anon
    )
    assert r.status_code == 401


async def test_tempurl_put_prefix_iso_and_container_key(cloud: Cloud) -> None:
    await _setup(cloud)
    await cloud.http.post(f"{A}/c", headers={"x-container-meta-temp-url-key-2": "ck"})
    anon = {"x-auth-token": ""}
    exp = int(time.time()) + 60
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(exp))
    path = f"{A}/c/new"
    sig = signature("ck", "PUT", exp, path, "sha1")
    r = await cloud.http.put(
        path, content=b"xyz", params={"temp_url_sig": sig, "temp_url_expires": iso}, headers=anon
    )
    assert r.status_code == 201, r.text
    assert (await cloud.http.get(path)).content == b"xyz"
    sig = signature("k1", "GET", exp, f"prefix:{A}/c/dir/")
    q = {"temp_url_sig": sig, "temp_url_expires": exp, "temp_url_prefix": "dir/"}
    assert (await cloud.http.get(f"{A}/c/dir/o.txt", params=q, headers=anon)).status_code == 200
    assert (await cloud.http.get(f"{A}/c/new", params=q, headers=anon)).status_code == 401
    sig = signature("k1", "DELETE", exp, path)
    r = await cloud.http.delete(
        path, params={"temp_url_sig": sig, "temp_url_expires": exp}, headers=anon
    )
    assert r.status_code == 204


def _form(fields: dict[str, str], files: list[tuple[str, bytes]], boundary: str = "XyZ") -> bytes:
    out = b""
    for name, value in fields.items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    for i, (filename, data) in enumerate(files):
        out += (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file{i}"; filename="{filename}"\r\n'
                "Content-Type: text/x-test\r\n\r\n"
            ).encode()
            + data
            + b"\r\n"
        )
    return out + f"--{boundary}--\r\n".encode()


async def test_formpost(cloud: Cloud) -> None:
    await _setup(cloud)
    exp = int(time.time()) + 60
    path = f"{A}/c/up/"
    sig = form_signature("k1", path, "", 1000, 2, exp)
    fields = {
        "redirect": "",
        "max_file_size": "1000",
        "max_file_count": "2",
        "expires": str(exp),
        "signature": sig,
    }
    ctype = {"content-type": "multipart/form-data; boundary=XyZ", "x-auth-token": ""}
    big = b"\r\n--Xy" * 3000
    body = _form(fields, [("a.txt", b"A" * 10), ("b.bin", b"\r\n--Xy")])
    r = await cloud.http.post(path, content=body, headers=ctype)
    assert r.status_code == 201, r.text
    r = await cloud.http.get(f"{A}/c/up/b.bin")
    assert r.content == b"\r\n--Xy" and r.headers["content-type"].startswith("text/x-test")
    assert (await cloud.http.get(f"{A}/c/up/a.txt")).content == b"A" * 10
    r = await cloud.http.post(path, content=_form(fields, [("c", big)]), headers=ctype)
    assert r.status_code == 400 and "max_file_size exceeded" in r.text
    assert (await cloud.http.get(f"{A}/c/up/c")).status_code == 404
    r = await cloud.http.post(
        path, content=_form(fields, [("d", b""), ("e", b""), ("f", b"")]), headers=ctype
    )
    assert r.status_code == 400 and "max file count exceeded" in r.text
    redirect = "https://example.com/done"
    sig = form_signature("k1", path, redirect, 1000, 2, exp)
    fields.update(redirect=redirect, signature=sig)
    r = await cloud.http.post(path, content=_form(fields, [("g", b"g")]), headers=ctype)
    assert r.status_code == 303
    assert r.headers["location"] == "https://example.com/done?status=201&message="
    fields["signature"] = "0" * 64
    r = await cloud.http.post(path, content=_form(fields, [("h", b"h")]), headers=ctype)
    assert r.status_code == 401 and r.text == "FormPost: Invalid Signature"
    assert (await cloud.http.get(f"{A}/c/up/h")).status_code == 404
    fields.update(
        expires=str(exp - 120), signature=form_signature("k1", path, redirect, 1000, 2, exp - 120)
    )
    r = await cloud.http.post(path, content=_form(fields, [("h", b"h")]), headers=ctype)
    assert r.status_code == 401 and r.text == "FormPost: Form Expired"


async def test_info_lists_tempurl(cloud: Cloud) -> None:
    info = (await cloud.http.get("/info")).json()
    assert "sha256" in info["tempurl"]["allowed_digests"]
    assert "GET" in info["tempurl"]["methods"] and "formpost" in info
