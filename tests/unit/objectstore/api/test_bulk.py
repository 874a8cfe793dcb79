"""Swift's bulk middleware over the in-memory cluster: archive extraction
(PUT ?extract-archive) and bulk delete by POST and DELETE."""

from __future__ import annotations

import io
import tarfile

from tests.unit.objectstore.api.conftest import Cloud

A = "/v1/AUTH_p1"


def tar_of(files: dict[str, bytes], mode: str = "w", dirs: tuple[str, ...] = ()) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode) as tar:  # type: ignore[call-overload]
        for name in dirs:
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE
            tar.addfile(info)
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


async def test_extract_at_the_account_creates_containers(cloud: Cloud) -> None:
    body = tar_of(
        {"c1/a.txt": b"alpha", "./c1/dir/b": b"beta", "/c2/x": b"x" * 70000, "top": b"skip"},
        "w:gz",
        dirs=("c1/dir",),
    )
    r = await cloud.http.put(
        A,
        params={"extract-archive": "tar.gz"},
        content=body,
        headers={"accept": "application/json"},
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert r.json() == {
        "Number Files Created": 3,
        "Response Body": "",
        "Response Status": "201 Created",
        "Errors": [],
    }
    assert (await cloud.http.get(f"{A}/c1/a.txt")).content == b"alpha"
    assert (await cloud.http.get(f"{A}/c1/dir/b")).content == b"beta"
    assert (await cloud.http.get(f"{A}/c2/x")).content == b"x" * 70000
    assert (await cloud.http.head(f"{A}/top")).status_code in (404, 405)
    listing = (await cloud.http.get(A, params={"format": "json"})).json()
    assert {c["name"] for c in listing} >= {"c1", "c2"}


async def test_extract_below_a_prefix_with_metadata(cloud: Cloud) -> None:
    await cloud.http.put(f"{A}/docs")
    body = tar_of({"one": b"1", "sub/two": b"22"}, "w:bz2")
    r = await cloud.http.put(
        f"{A}/docs/2024/",
        params={"extract-archive": "tar.bz2"},
        content=body,
        headers={"accept": "text/xml", "x-object-meta-batch": "7", "x-delete-after": "3600"},
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/xml")
    assert r.text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<extract>')
    assert "<number_files_created>2</number_files_created>" in r.text
    assert "<response_status>201 Created</response_status>" in r.text
    head = await cloud.http.head(f"{A}/docs/2024/sub/two")
    assert head.status_code == 200 and head.headers["x-object-meta-batch"] == "7"
    assert "x-delete-at" in head.headers
    assert (await cloud.http.get(f"{A}/docs/2024/one")).content == b"1"


async def test_extract_refusals_are_reported_in_the_body(cloud: Cloud) -> None:
    r = await cloud.http.put(f"{A}/c", params={"extract-archive": "zip"}, content=b"x")
    assert r.status_code == 400 and r.text == "Unsupported archive format"
    r = await cloud.http.put(A, params={"extract-archive": "tar.gz"}, content=b"not a tar")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert "Response Status: 400 Bad Request\n" in r.text
    assert "Response Body: Invalid Tar File: " in r.text and r.text.endswith("Errors:\n")
    r = await cloud.http.put(A, params={"extract-archive": "tar"}, content=tar_of({"top": b"1"}))
    assert "Response Body: Invalid Tar File: No Valid Files\n" in r.text
    r = await cloud.http.put(
        A,
        params={"extract-archive": "tar"},
        content=tar_of({"c/o": b"1"}),
        headers={"accept": "image/png"},
    )
    assert r.status_code == 200 and "Response Status: 406 Not Acceptable" in r.text


async def test_extract_failures_per_file(cloud: Cloud) -> None:
    long_name = "c3/" + "n" * 1100
    body = tar_of({"c3/ok": b"fine", long_name: b"x", "c" * 300 + "/o": b"y"})
    r = await cloud.http.put(
        A, params={"extract-archive": "tar"}, content=body, headers={"accept": "application/json"}
    )
    result = r.json()
    assert result["Number Files Created"] == 1 and result["Response Status"] == "400 Bad Request"
    statuses = sorted(s for _n, s in result["Errors"])
    assert statuses == ["400 Bad Request", "400 Bad Request"]
    # Another project's member may not write here: the container's creation
    # and the file's PUT fail, and the request goes on.
    r = await cloud.http.put(
        A,
        params={"extract-archive": "tar"},
        content=tar_of({"theirs/f": b"1"}),
        headers={"x-auth-token": "bob", "accept": "application/json"},
    )
    result = r.json()
    assert result["Number Files Created"] == 0 and result["Response Status"] == "400 Bad Request"
    assert result["Errors"] == [
        ["/v1/AUTH_p1/theirs", "403 Forbidden"],
        ["theirs/f", "403 Forbidden"],
    ]
    assert (await cloud.http.head(f"{A}/theirs")).status_code == 404
    # Without a token the whole request is 401, in the body.
    r = await cloud.http.put(
        A,
        params={"extract-archive": "tar"},
        content=tar_of({"c/f": b"1"}),
        headers={"x-auth-token": ""},
    )
    assert "Response Status: 401 Unauthorized" in r.text


async def test_account_put_and_delete_without_bulk_are_405(cloud: Cloud) -> None:
    assert (await cloud.http.put(A)).status_code == 405
    r = await cloud.http.delete(A)
    assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD, POST"


async def test_bulk_delete_by_delete(cloud: Cloud) -> None:
    await cloud.http.put(f"{A}/d")
    for name in ("a", "b"):
        await cloud.http.put(f"{A}/d/{name}", content=b"1")
    await cloud.http.put(f"{A}/full")
    await cloud.http.put(f"{A}/full/keep", content=b"1")
    r = await cloud.http.request(
        "DELETE",
        A,
        params={"bulk-delete": ""},
        content=b"/d/a\n/d/b\n/d/missing\n/d\n/full\n",
        headers={"accept": "application/json", "content-type": "text/plain"},
    )
    assert r.status_code == 200
    result = r.json()
    assert result["Number Deleted"] == 3 and result["Number Not Found"] == 1
    assert result["Response Status"] == "400 Bad Request"
    assert result["Errors"] == [["/full", "409 Conflict"]]
    assert (await cloud.http.head(f"{A}/d")).status_code == 404
    r = await cloud.http.post(A, params={"bulk-delete": ""}, content=b"\n")
    assert "Response Status: 400 Bad Request" in r.text
    assert "Response Body: Invalid bulk delete." in r.text
    r = await cloud.http.post(
        A,
        params={"bulk-delete": ""},
        content=b"/full/keep\n",
        headers={"content-type": "application/json"},
    )
    assert "Response Status: 406 Not Acceptable" in r.text
    assert (await cloud.http.head(f"{A}/full/keep")).status_code == 200


async def test_bulk_delete_refuses_nul_names_per_item(cloud: Cloud) -> None:
    await cloud.http.put(f"{A}/v", headers={"x-versions-enabled": "true"})
    put = await cloud.http.put(f"{A}/v/o", content=b"1")
    vid = put.headers["x-object-version-id"]
    await cloud.http.put(f"{A}/d")
    await cloud.http.put(f"{A}/d/a", content=b"1")
    hidden = "/%00versions%00v"
    r = await cloud.http.post(
        A,
        params={"bulk-delete": ""},
        content=f"{hidden}/o%00x\n{hidden}\n/d/a%00b\n/d/a\n".encode(),
        headers={"accept": "application/json"},
    )
    result = r.json()
    assert result["Number Deleted"] == 1 and result["Response Status"] == "400 Bad Request"
    assert result["Errors"] == [
        ["/%00versions%00v/o%00x", "412 Precondition Failed"],
        ["/%00versions%00v", "412 Precondition Failed"],
        ["/d/a%00b", "412 Precondition Failed"],
    ]
    kept = await cloud.http.get(f"{A}/v/o", params={"version-id": vid})
    assert kept.status_code == 200 and kept.content == b"1"


async def test_extract_refuses_nul_names_per_file(cloud: Cloud) -> None:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in ("c/ok", "c/bad\x00name"):
            info = tarfile.TarInfo("placeholder")
            info.pax_headers = {"path": name}
            info.size = 1
            tar.addfile(info, io.BytesIO(b"1"))
    r = await cloud.http.put(
        A,
        params={"extract-archive": "tar"},
        content=out.getvalue(),
        headers={"accept": "application/json"},
    )
    result = r.json()
    assert result["Number Files Created"] == 1
    assert result["Errors"] == [["c/bad%00name", "412 Precondition Failed"]]
