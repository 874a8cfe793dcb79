"""Swift's bulk middleware against a real all-in-one: archives extracted
(PUT ?extract-archive) with python-swiftclient, as users of Swift's tools
send them, and bulk delete by DELETE."""

from __future__ import annotations

import io
import tarfile

import httpx
from swiftclient.client import Connection

from tests.functional.objectstore.conftest import Account, Swift, unique


def tar_of(files: dict[str, bytes], mode: str) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode) as tar:  # type: ignore[call-overload]
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def connection(acct: Account) -> Connection:
    return Connection(preauthurl=acct.url, preauthtoken=acct.token, retries=0)


def test_info_lists_bulk(owner: Account) -> None:
    info = httpx.get(f"{owner.server.url}/info", timeout=30).json()
    assert info["bulk_upload"] == {
        "max_containers_per_extraction": 10000,
        "max_failed_extractions": 1000,
    }
    assert info["bulk_delete"]["max_deletes_per_request"] == 10000


def test_extract_archive_with_swiftclient(owner: Account, api: Swift) -> None:
    conn = connection(owner)
    c1, c2 = unique("ea"), unique("eb")
    big = bytes(range(256)) * 4096  # 1 MiB, several reads of the stream
    archive = tar_of({f"{c1}/a.txt": b"alpha", f"{c1}/d/ü": b"unicode", f"{c2}/big": big}, "w:gz")
    status: dict[str, object] = {}
    # A file object: swiftclient sends it chunked.
    conn.put_object(
        "", None, io.BytesIO(archive), query_string="extract-archive=tar.gz", response_dict=status
    )
    assert status["status"] == 200
    names = {c["name"] for c in conn.get_account()[1]}
    assert {c1, c2} <= names
    assert [o["name"] for o in conn.get_container(c1)[1]] == ["a.txt", "d/ü"]
    assert conn.get_object(c1, "d/ü")[1] == b"unicode"
    headers, body = conn.get_object(c2, "big")
    assert body == big and headers["content-length"] == str(len(big))
    # Into an existing container, below a prefix, bzip2, the result as JSON.
    archive = tar_of({"x/1": b"one", "2": b"two"}, "w:bz2")
    r = api.put(
        f"/{c1}/pre",
        params={"extract-archive": "tar.bz2"},
        content=archive,
        headers={"Accept": "application/json", "X-Object-Meta-Source": "tarball"},
    )
    assert r.status_code == 200, r.text
    assert r.json() == {
        "Number Files Created": 2,
        "Response Body": "",
        "Response Status": "201 Created",
        "Errors": [],
    }
    assert conn.head_object(c1, "pre/x/1")["x-object-meta-source"] == "tarball"
    assert conn.get_object(c1, "pre/2")[1] == b"two"


def test_extract_archive_errors(owner: Account, api: Swift) -> None:
    r = api.put("", params={"extract-archive": "rar"}, content=b"x")
    assert r.status_code == 400 and r.text == "Unsupported archive format"
    r = api.put("", params={"extract-archive": "tar"}, content=b"\0" * 100 + b"junk" * 200)
    assert r.status_code == 200 and "Response Status: 400 Bad Request\n" in r.text
    assert "Response Body: Invalid Tar File" in r.text
    c = unique("ee")
    archive = tar_of({f"{c}/ok": b"1", f"{c}/" + "n" * 1100: b"2"}, "w")
    r = api.put("", params={"extract-archive": "tar"}, content=archive)
    assert "Number Files Created: 1\n" in r.text and "Response Status: 400 Bad Request" in r.text
    assert f"Errors:\n{c}/nnnn" in r.text and r.text.endswith(", 400 Bad Request\n")


def test_bulk_delete_by_delete(owner: Account, api: Swift) -> None:
    c = unique("bd")
    conn = connection(owner)
    conn.put_container(c)
    for name in ("a", "b/ü"):
        conn.put_object(c, name, b"x")
    body = "\n".join([f"/{c}/a", f"/{c}/b/%C3%BC", f"/{c}/gone", f"/{c}"]).encode()
    r = api.request(
        "DELETE",
        "",
        params={"bulk-delete": "true"},
        content=body,
        headers={"Accept": "application/json", "Content-Type": "text/plain"},
    )
    assert r.status_code == 200, r.text
    assert r.json() == {
        "Number Deleted": 3,
        "Number Not Found": 1,
        "Response Body": "",
        "Response Status": "200 OK",
        "Errors": [],
    }
    assert api.head(f"/{c}").status_code == 404
    assert api.delete("").status_code == 405
