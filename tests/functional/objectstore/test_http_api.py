"""The Swift API v1 over raw HTTP with a token: accounts, containers, objects,
listings, conditional and ranged reads, copies, expiry, quotas, /info."""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from datetime import datetime
from email.utils import formatdate, parsedate_to_datetime

import httpx
import pytest

from tests.conftest import Server
from tests.functional.objectstore.conftest import (
    Account,
    Swift,
    md5,
    meta_of,
    project_account,
    unique,
    wait_until,
)

# -- discovery ---------------------------------------------------------------------------------


def test_info_and_healthcheck_without_token(store: Server) -> None:
    with Swift(f"{store.url}/object-store", None) as c:
        resp = c.get("/info")
        assert resp.status_code == 200, resp.text
        assert resp.headers["content-type"].startswith("application/json")
        info = resp.json()
        swift = info["swift"]
        assert swift["max_file_size"] == 5 * 1024**3
        assert swift["max_object_name_length"] == 1024
        assert swift["max_container_name_length"] == 256
        assert swift["max_meta_value_length"] == 256
        assert swift["max_meta_name_length"] == 128
        assert swift["max_meta_count"] == 90
        assert swift["max_meta_overall_size"] == 4096
        assert swift["container_listing_limit"] >= 1
        policies = swift["policies"]
        assert [p for p in policies if p.get("default")], policies
        assert "container_quotas" in info
        assert c.head("/info").status_code == 200

        resp = c.get("/healthcheck")
        assert resp.status_code == 200
        assert resp.text == "OK"
        c.checks.assert_clean()


def test_catalog_lists_the_object_store(owner: Account) -> None:
    resp = httpx.get(
        f"{owner.server.auth_url}/auth/tokens",
        headers={"X-Auth-Token": owner.token, "X-Subject-Token": owner.token},
    )
    catalog = resp.json()["token"]["catalog"]
    entries = [s for s in catalog if s["type"] == "object-store"]
    assert len(entries) == 1, catalog
    urls = {e["interface"]: e["url"] for e in entries[0]["endpoints"]}
    # Where Swift's tools look (/v1/<account>); /object-store/v1 serves too.
    assert urls["public"] == f"{owner.server.url}/v1/{owner.name}", urls


def default_policy(store: Server) -> str:
    info = httpx.get(f"{store.url}/object-store/info").json()
    return next(p["name"] for p in info["swift"]["policies"] if p.get("default"))


# -- accounts ----------------------------------------------------------------------------------


def test_account_head_get_and_counters(store: Server) -> None:
    acct = project_account(store)  # a fresh account: the counters are this test's
    with acct.client() as c:
        resp = c.head("")
        assert resp.status_code == 204, resp.text
        assert resp.headers["x-account-container-count"] == "0"
        assert resp.headers["x-account-object-count"] == "0"
        assert resp.headers["x-account-bytes-used"] == "0"
        assert "x-timestamp" in resp.headers
        assert not [h for h in resp.headers if h.startswith("x-account-storage-policy-")]

        # An empty plain listing is 204; json is [] with 200.
        assert c.get("").status_code == 204
        resp = c.get("", params={"format": "json"})
        assert resp.status_code == 200 and resp.json() == []

        for name in ("beta", "alpha"):
            assert c.put(f"/{name}").status_code == 201
        assert c.put("/alpha/o1", content=b"12345").status_code == 201
        assert c.put("/alpha/o2", content=b"678").status_code == 201

        def counted() -> bool:
            h = c.head("").headers
            return h.get("x-account-object-count") == "2" and h.get("x-account-bytes-used") == "8"

        assert wait_until(counted, 10), c.head("").headers
        h = c.head("").headers
        assert h["x-account-container-count"] == "2"
        policy = default_policy(store)
        prefix = f"x-account-storage-policy-{policy.lower()}-"
        assert h[prefix + "container-count"] == "2", dict(h)
        assert h[prefix + "object-count"] == "2", dict(h)
        assert h[prefix + "bytes-used"] == "8", dict(h)

        resp = c.get("", params={"format": "json"})
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("application/json")
        entries = resp.json()
        assert [e["name"] for e in entries] == ["alpha", "beta"]
        alpha = entries[0]
        assert alpha["count"] == 2 and alpha["bytes"] == 8, alpha
        assert "last_modified" in alpha
        assert resp.headers["x-account-container-count"] == "2"

        resp = c.get("")
        assert resp.status_code == 200
        assert resp.text == "alpha\nbeta\n"

        resp = c.get("", params={"format": "xml"})
        assert resp.status_code == 200
        root = ET.fromstring(resp.content)
        assert root.tag == "account" and root.get("name") == acct.name
        assert [e.findtext("name") for e in root.findall("container")] == ["alpha", "beta"]
        assert root.find("container").findtext("count") == "2"

        resp = c.get("", headers={"Accept": "application/json"})
        assert resp.json()[1]["name"] == "beta"

        resp = c.get("", params={"format": "json", "prefix": "al"})
        assert [e["name"] for e in resp.json()] == ["alpha"]
        resp = c.get("", params={"format": "json", "marker": "alpha"})
        assert [e["name"] for e in resp.json()] == ["beta"]
        resp = c.get("", params={"format": "json", "limit": "1"})
        assert [e["name"] for e in resp.json()] == ["alpha"]
        resp = c.get("", params={"format": "json", "reverse": "true"})
        assert [e["name"] for e in resp.json()] == ["beta", "alpha"]
        c.checks.assert_clean()


def test_account_post_metadata(api: Swift) -> None:
    resp = api.post("", headers={"X-Account-Meta-Color": "blue", "X-Account-Meta-Size": "L"})
    assert resp.status_code == 204, resp.text
    resp = api.head("")
    assert meta_of(resp, "account") == {"color": "blue", "size": "L"}
    api.post("", headers={"X-Remove-Account-Meta-Size": "x"})
    resp = api.head("")
    assert "x-account-meta-size" not in resp.headers
    assert resp.headers["x-account-meta-color"] == "blue"


# -- containers --------------------------------------------------------------------------------


def test_container_create_head_post_delete(api: Swift, store: Server) -> None:
    name = unique("c")
    resp = api.put(f"/{name}", headers={"X-Container-Meta-Owner": "me"})
    assert resp.status_code == 201, resp.text
    resp = api.put(f"/{name}")
    assert resp.status_code == 202, resp.text

    resp = api.head(f"/{name}")
    assert resp.status_code == 204, resp.text
    assert resp.headers["x-container-object-count"] == "0"
    assert resp.headers["x-container-bytes-used"] == "0"
    assert resp.headers["x-storage-policy"] == default_policy(store)
    assert "x-timestamp" in resp.headers
    assert resp.headers["x-container-meta-owner"] == "me"

    resp = api.post(f"/{name}", headers={"X-Container-Meta-Color": "red"})
    assert resp.status_code == 204, resp.text
    resp = api.head(f"/{name}")
    assert resp.headers["x-container-meta-color"] == "red"
    assert resp.headers["x-container-meta-owner"] == "me"  # POST adds, keeps the rest
    api.post(f"/{name}", headers={"X-Remove-Container-Meta-Owner": "x"})
    assert "x-container-meta-owner" not in api.head(f"/{name}").headers

    assert api.put(f"/{name}/obj", content=b"abc").status_code == 201
    resp = api.head(f"/{name}")
    assert resp.headers["x-container-object-count"] == "1"
    assert resp.headers["x-container-bytes-used"] == "3"

    resp = api.delete(f"/{name}")
    assert resp.status_code == 409, resp.text
    assert api.head(f"/{name}").status_code == 204
    assert api.delete(f"/{name}/obj").status_code == 204
    resp = api.delete(f"/{name}")
    assert resp.status_code == 204, resp.text
    assert api.head(f"/{name}").status_code == 404
    assert api.get(f"/{name}").status_code == 404
    assert api.delete(f"/{name}").status_code == 404
    assert api.post(f"/{name}", headers={"X-Container-Meta-A": "b"}).status_code == 404


def test_container_missing_gives_404_for_objects(api: Swift) -> None:
    missing = unique("nope")
    assert api.put(f"/{missing}/o", content=b"x").status_code == 404
    assert api.get(f"/{missing}/o").status_code == 404
    assert api.head(f"/{missing}").status_code == 404


NAMES = [
    "a",
    "B",
    "b/1",
    "b/2",
    "b/c/3",
    "b/c/4",
    "d/x",
    "é",
    "\uff5e",  # sorts before U+1F600 as UTF-8 (but after it as UTF-16)
    "\U0001f600",
    "zz",
]


@pytest.fixture(scope="module")
def listed(owner: Account) -> str:
    """A container holding NAMES, each object's body its own name."""
    name = unique("list")
    with owner.client() as c:
        assert c.put(f"/{name}").status_code == 201
        for obj in NAMES:
            resp = c.put(
                f"/{name}/{obj}", content=obj.encode(), headers={"Content-Type": "text/x-test"}
            )
            assert resp.status_code == 201, (obj, resp.text)
    return name


def names(api: Swift, container: str, **params: str) -> list[str]:
    resp = api.get(f"/{container}", params={"format": "json", **params})
    assert resp.status_code == 200, resp.text
    return [e.get("name", e.get("subdir")) for e in resp.json()]


def test_listing_entries_and_order(api: Swift, listed: str) -> None:
    resp = api.get(f"/{listed}", params={"format": "json"})
    assert resp.status_code == 200
    entries = resp.json()
    by_bytes = sorted(NAMES, key=lambda n: n.encode())
    assert [e["name"] for e in entries] == by_bytes
    for e in entries:
        assert set(e) >= {"name", "hash", "bytes", "content_type", "last_modified"}, e
        assert e["hash"] == md5(e["name"].encode())
        assert e["bytes"] == len(e["name"].encode())
        assert e["content_type"] == "text/x-test"
        datetime.fromisoformat(e["last_modified"])
    assert resp.headers["x-container-object-count"] == str(len(NAMES))

    resp = api.get(f"/{listed}")
    assert resp.status_code == 200
    assert resp.content.decode("utf-8").splitlines() == by_bytes

    resp = api.get(f"/{listed}", params={"format": "xml"})
    root = ET.fromstring(resp.content)
    assert root.tag == "container" and root.get("name") == listed
    assert [o.findtext("name") for o in root.findall("object")] == by_bytes
    assert root.find("object").findtext("hash") == md5(by_bytes[0].encode())


def test_listing_prefix_delimiter_markers(api: Swift, listed: str) -> None:
    assert names(api, listed, prefix="b/") == ["b/1", "b/2", "b/c/3", "b/c/4"]
    assert names(api, listed, delimiter="/") == [
        "B",
        "a",
        "b/",
        "d/",
        "zz",
        "é",
        "\uff5e",
        "\U0001f600",
    ]
    resp = api.get(f"/{listed}", params={"format": "json", "delimiter": "/"})
    subdirs = [e for e in resp.json() if "subdir" in e]
    assert subdirs == [{"subdir": "b/"}, {"subdir": "d/"}]
    assert names(api, listed, prefix="b/", delimiter="/") == ["b/1", "b/2", "b/c/"]
    assert names(api, listed, marker="b/2") == [
        "b/c/3",
        "b/c/4",
        "d/x",
        "zz",
        "é",
        "\uff5e",
        "\U0001f600",
    ]
    assert names(api, listed, end_marker="b/1") == ["B", "a"]
    assert names(api, listed, marker="a", end_marker="b/c/4") == ["b/1", "b/2", "b/c/3"]
    assert names(api, listed, limit="2") == ["B", "a"]
    assert names(api, listed, limit="2", marker="a") == ["b/1", "b/2"]
    assert names(api, listed, reverse="true", limit="3") == ["\U0001f600", "\uff5e", "é"]
    assert names(api, listed, reverse="true", marker="b/1") == ["a", "B"]
    assert names(api, listed, path="b") == ["b/1", "b/2"]
    assert names(api, listed, marker="é") == ["\uff5e", "\U0001f600"]
    assert names(api, listed, prefix="nothing") == []
    assert api.get(f"/{listed}", params={"prefix": "nothing"}).status_code == 204


def test_listing_pages_with_marker_terminate(api: Swift, listed: str) -> None:
    seen: list[str] = []
    marker = ""
    for _ in range(len(NAMES) + 2):
        page = names(api, listed, limit="3", marker=marker)
        if not page:
            break
        seen += page
        marker = page[-1]
    assert seen == sorted(NAMES, key=lambda n: n.encode())


# -- objects -----------------------------------------------------------------------------------


def test_object_put_get_head_delete(api: Swift, container: str) -> None:
    data = b"hello swift\n" * 100
    resp = api.put(f"/{container}/greeting", content=data, headers={"X-Object-Meta-Lang": "en"})
    assert resp.status_code == 201, resp.text
    assert resp.headers["etag"].strip('"') == md5(data)
    assert "last-modified" in resp.headers

    resp = api.get(f"/{container}/greeting")
    assert resp.status_code == 200
    assert resp.content == data
    assert resp.headers["etag"].strip('"') == md5(data)
    assert resp.headers["content-length"] == str(len(data))
    assert resp.headers["x-object-meta-lang"] == "en"
    assert resp.headers["accept-ranges"] == "bytes"
    assert "x-timestamp" in resp.headers and "last-modified" in resp.headers

    resp = api.head(f"/{container}/greeting")
    assert resp.status_code == 200
    assert resp.content == b""
    assert resp.headers["content-length"] == str(len(data))
    assert resp.headers["etag"].strip('"') == md5(data)
    assert "x-timestamp" in resp.headers

    # overwrite
    resp = api.put(f"/{container}/greeting", content=b"short")
    assert resp.status_code == 201
    assert api.get(f"/{container}/greeting").content == b"short"
    assert "x-object-meta-lang" not in api.head(f"/{container}/greeting").headers

    assert api.delete(f"/{container}/greeting").status_code == 204
    assert api.get(f"/{container}/greeting").status_code == 404
    assert api.head(f"/{container}/greeting").status_code == 404
    assert api.delete(f"/{container}/greeting").status_code == 404
    assert names(api, container) == []


def test_object_put_chunked(api: Swift, container: str) -> None:
    parts = [b"x" * 1000, b"y" * 70000, b"z"]

    def gen():
        yield from parts

    resp = api.put(f"/{container}/chunked", content=gen())
    assert resp.request.headers.get("transfer-encoding") == "chunked"
    assert resp.status_code == 201, resp.text
    data = b"".join(parts)
    assert resp.headers["etag"].strip('"') == md5(data)
    got = api.get(f"/{container}/chunked")
    assert got.content == data
    assert got.headers["content-length"] == str(len(data))
    resp = api.get(f"/{container}", params={"format": "json"})
    assert resp.json()[0]["bytes"] == len(data)


def test_empty_object(api: Swift, container: str) -> None:
    resp = api.put(f"/{container}/empty", content=b"")
    assert resp.status_code == 201
    assert resp.headers["etag"].strip('"') == md5(b"")
    resp = api.get(f"/{container}/empty")
    assert resp.status_code == 200 and resp.content == b""
    assert resp.headers["content-length"] == "0"


def test_object_etag_checked(api: Swift, container: str) -> None:
    data = b"checked data"
    resp = api.put(f"/{container}/ok", content=data, headers={"ETag": md5(data)})
    assert resp.status_code == 201, resp.text
    resp = api.put(f"/{container}/quoted", content=data, headers={"ETag": f'"{md5(data)}"'})
    assert resp.status_code == 201, resp.text
    resp = api.put(f"/{container}/bad", content=data, headers={"ETag": md5(b"other")})
    assert resp.status_code == 422, resp.text
    assert api.head(f"/{container}/bad").status_code == 404
    assert names(api, container) == ["ok", "quoted"]
    # a failed overwrite keeps the old object
    resp = api.put(f"/{container}/ok", content=b"new", headers={"ETag": md5(b"not new")})
    assert resp.status_code == 422
    assert api.get(f"/{container}/ok").content == data


@pytest.mark.parametrize(
    ("name", "given", "expected"),
    [
        ("photo.jpg", None, "image/jpeg"),
        ("data.json", None, "application/json"),
        ("page.html", None, "text/html"),
        ("blob", None, "application/octet-stream"),
        ("blob.unknownext", None, "application/octet-stream"),
        ("given.json", "text/x-mine", "text/x-mine"),
        ("charset.txt", "text/plain; charset=latin-1", "text/plain; charset=latin-1"),
    ],
)
def test_content_type(
    api: Swift, container: str, name: str, given: str | None, expected: str
) -> None:
    headers = {"Content-Type": given} if given else {}
    assert api.put(f"/{container}/{name}", content=b"x", headers=headers).status_code == 201
    assert api.head(f"/{container}/{name}").headers["content-type"] == expected
    assert api.get(f"/{container}/{name}").headers["content-type"] == expected
    entry = api.get(f"/{container}", params={"format": "json", "prefix": name}).json()[0]
    assert entry["content_type"] == expected


def test_detect_content_type_overrides(api: Swift, container: str) -> None:
    headers = {"Content-Type": "text/plain", "X-Detect-Content-Type": "true"}
    assert api.put(f"/{container}/d.json", content=b"{}", headers=headers).status_code == 201
    assert api.head(f"/{container}/d.json").headers["content-type"] == "application/json"


@pytest.fixture
def digits(api: Swift, container: str) -> str:
    path = f"/{container}/digits"
    assert api.put(path, content=b"0123456789").status_code == 201
    return path


@pytest.mark.parametrize(
    ("spec", "body", "content_range"),
    [
        ("bytes=2-5", b"2345", "bytes 2-5/10"),
        ("bytes=0-0", b"0", "bytes 0-0/10"),
        ("bytes=7-", b"789", "bytes 7-9/10"),
        ("bytes=-3", b"789", "bytes 7-9/10"),
        ("bytes=-30", b"0123456789", "bytes 0-9/10"),
        ("bytes=8-100", b"89", "bytes 8-9/10"),
    ],
)
def test_range(api: Swift, digits: str, spec: str, body: bytes, content_range: str) -> None:
    resp = api.get(digits, headers={"Range": spec})
    assert resp.status_code == 206, (spec, resp.status_code)
    assert resp.content == body
    assert resp.headers["content-range"] == content_range
    assert resp.headers["content-length"] == str(len(body))
    assert resp.headers["etag"].strip('"') == md5(b"0123456789")


@pytest.mark.parametrize("spec", ["bytes=10-", "bytes=100-200", "bytes=-0"])
def test_range_unsatisfiable(api: Swift, digits: str, spec: str) -> None:
    resp = api.get(digits, headers={"Range": spec})
    assert resp.status_code == 416, (spec, resp.status_code, resp.content)
    assert resp.headers.get("content-range") == "bytes */10"


def test_conditional_etag(api: Swift, digits: str) -> None:
    etag = md5(b"0123456789")
    assert api.get(digits, headers={"If-Match": etag}).status_code == 200
    assert api.get(digits, headers={"If-Match": f'"{etag}"'}).status_code == 200
    assert api.get(digits, headers={"If-Match": "*"}).status_code == 200
    assert api.get(digits, headers={"If-Match": '"nope"'}).status_code == 412
    assert api.head(digits, headers={"If-Match": '"nope"'}).status_code == 412
    resp = api.get(digits, headers={"If-None-Match": f'"{etag}"'})
    assert resp.status_code == 304
    assert resp.content == b""
    assert resp.headers["etag"].strip('"') == etag
    assert api.get(digits, headers={"If-None-Match": "*"}).status_code == 304
    assert api.get(digits, headers={"If-None-Match": '"other"'}).status_code == 200
    assert api.head(digits, headers={"If-None-Match": etag}).status_code == 304


def test_conditional_dates(api: Swift, digits: str) -> None:
    modified = parsedate_to_datetime(api.head(digits).headers["last-modified"]).timestamp()
    past = formatdate(modified - 3600, usegmt=True)
    future = formatdate(modified + 3600, usegmt=True)
    assert api.get(digits, headers={"If-Modified-Since": past}).status_code == 200
    assert api.get(digits, headers={"If-Modified-Since": future}).status_code == 304
    assert api.get(digits, headers={"If-Unmodified-Since": future}).status_code == 200
    assert api.get(digits, headers={"If-Unmodified-Since": past}).status_code == 412
    # garbage dates are ignored
    assert api.get(digits, headers={"If-Modified-Since": "yesterday"}).status_code == 200


def test_object_post_replaces_metadata(api: Swift, container: str) -> None:
    path = f"/{container}/meta"
    headers = {
        "X-Object-Meta-One": "1",
        "X-Object-Meta-Two": "2",
        "Content-Disposition": 'attachment; filename="report.csv"',
        "Content-Encoding": "gzip",
        "Content-Type": "text/csv",
    }
    assert api.put(path, content=b"a,b\n", headers=headers).status_code == 201
    with api.stream("GET", path) as got:  # not decoded: the body is not really gzip
        assert b"".join(got.iter_raw()) == b"a,b\n"
    for resp in (api.head(path), got):
        assert meta_of(resp) == {"one": "1", "two": "2"}
        assert resp.headers["content-disposition"] == 'attachment; filename="report.csv"'
        assert resp.headers["content-encoding"] == "gzip"
        assert resp.headers["content-type"].split(";")[0] == "text/csv"  # see test_content_type

    resp = api.post(path, headers={"X-Object-Meta-Three": "3"})
    assert resp.status_code == 202, resp.text
    resp = api.head(path)
    assert meta_of(resp) == {"three": "3"}
    assert resp.headers["content-type"].split(";")[0] == "text/csv"
    assert resp.headers["etag"].strip('"') == md5(b"a,b\n")

    assert api.post(f"/{container}/missing", headers={"X-Object-Meta-A": "b"}).status_code == 404


def test_object_utf8_metadata_round_trips(api: Swift, container: str) -> None:
    path = f"/{container}/uni"
    value = "grüße ☃".encode()
    assert api.put(path, content=b"x", headers={"X-Object-Meta-Greeting": value}).status_code == 201
    raw = dict((k.lower(), v) for k, v in api.head(path).headers.raw)
    assert raw[b"x-object-meta-greeting"] == value


def test_copy_and_copy_from(api: Swift, container: str) -> None:
    src = f"/{container}/source.txt"
    data = b"copy me"
    headers = {"X-Object-Meta-Kept": "yes", "Content-Type": "text/x-src"}
    assert api.put(src, content=data, headers=headers).status_code == 201

    resp = api.request(
        "COPY", src, headers={"Destination": f"{container}/copy1", "X-Object-Meta-Extra": "1"}
    )
    assert resp.status_code == 201, resp.text
    assert resp.headers["x-copied-from"] == f"{container}/source.txt"
    resp = api.get(f"/{container}/copy1")
    assert resp.content == data
    assert resp.headers["content-type"].split(";")[0] == "text/x-src"  # see test_content_type
    assert meta_of(resp) == {"kept": "yes", "extra": "1"}
    assert resp.headers["etag"].strip('"') == md5(data)

    other = unique("dst")
    assert api.put(f"/{other}").status_code == 201
    resp = api.put(
        f"/{other}/copy2",
        headers={"X-Copy-From": f"/{container}/source.txt", "Content-Length": "0"},
    )
    assert resp.status_code == 201, resp.text
    got = api.get(f"/{other}/copy2")
    assert got.content == data and meta_of(got) == {"kept": "yes"}

    resp = api.put(
        f"/{other}/copy3",
        headers={
            "X-Copy-From": f"{container}/source.txt",
            "X-Fresh-Metadata": "true",
            "Content-Length": "0",
        },
    )
    assert resp.status_code == 201, resp.text
    assert meta_of(api.head(f"/{other}/copy3")) == {}

    resp = api.request("COPY", f"/{container}/missing", headers={"Destination": f"{other}/x"})
    assert resp.status_code == 404
    assert api.head(f"/{other}/x").status_code == 404
    assert api.request("COPY", src).status_code == 412  # no Destination


def test_delete_at_in_the_past_is_400(api: Swift, container: str) -> None:
    past = str(int(time.time()) - 100)
    resp = api.put(f"/{container}/past", content=b"x", headers={"X-Delete-At": past})
    assert resp.status_code == 400, resp.text
    assert api.head(f"/{container}/past").status_code == 404
    resp = api.put(f"/{container}/neg", content=b"x", headers={"X-Delete-After": "-5"})
    assert resp.status_code == 400, resp.text
    assert api.put(f"/{container}/kept", content=b"x").status_code == 201
    assert api.post(f"/{container}/kept", headers={"X-Delete-At": past}).status_code == 400
    assert api.get(f"/{container}/kept").status_code == 200


def test_delete_after_expires_object(api: Swift, container: str) -> None:
    resp = api.put(f"/{container}/soon", content=b"x", headers={"X-Delete-After": "2"})
    assert resp.status_code == 201, resp.text
    head = api.head(f"/{container}/soon")
    assert head.status_code == 200
    delete_at = int(head.headers["x-delete-at"])
    assert time.time() < delete_at <= time.time() + 3
    later = str(int(time.time()) + 2)
    assert api.put(f"/{container}/soon2", content=b"y").status_code == 201
    assert api.post(f"/{container}/soon2", headers={"X-Delete-At": later}).status_code == 202
    assert api.head(f"/{container}/soon2").headers["x-delete-at"] == later
    assert wait_until(
        lambda: api.get(f"/{container}/soon").status_code == 404, timeout=6, step=0.25
    )
    assert wait_until(
        lambda: api.head(f"/{container}/soon2").status_code == 404, timeout=6, step=0.25
    )


def test_every_response_has_common_headers(api: Swift, container: str) -> None:
    """X-Trans-Id, Date, Content-Type on all (checked by the client hook);
    X-Timestamp on successful GET/HEAD at every level."""
    assert api.put(f"/{container}/o", content=b"x").status_code == 201
    for path in ("", f"/{container}", f"/{container}/o"):
        for method in ("GET", "HEAD"):
            resp = api.request(method, path)
            assert resp.status_code < 300, (method, path, resp.status_code)
            assert "x-timestamp" in resp.headers, (method, path, dict(resp.headers))
            assert resp.headers["x-trans-id"].startswith("tx")
    errors = [
        api.get(f"/{container}/absent"),
        api.head(f"/{container}/absent"),
        api.delete(f"/{container}"),
        api.request("PATCH", f"/{container}/o"),
    ]
    assert [r.status_code for r in errors] == [404, 404, 409, 405]
    for r in errors:
        assert "x-trans-id" in r.headers
    assert "allow" in errors[3].headers


# -- quotas ------------------------------------------------------------------------------------


def test_container_quota_bytes(api: Swift) -> None:
    name = unique("qb")
    assert api.put(f"/{name}", headers={"X-Container-Meta-Quota-Bytes": "10"}).status_code == 201
    resp = api.put(f"/{name}/big", content=b"x" * 11)
    assert resp.status_code == 413, resp.text
    assert api.head(f"/{name}/big").status_code == 404
    assert api.put(f"/{name}/a", content=b"x" * 6).status_code == 201
    resp = api.put(f"/{name}/b", content=b"x" * 5)
    assert resp.status_code == 413, resp.text

    def chunks():
        yield b"x" * 3
        yield b"x" * 3

    resp = api.put(f"/{name}/c", content=chunks())
    assert resp.status_code == 413, resp.text
    assert names(api, name) == ["a"]
    assert api.put(f"/{name}/d", content=b"x" * 4).status_code == 201


def test_container_quota_count(api: Swift) -> None:
    name = unique("qc")
    assert api.put(f"/{name}").status_code == 201
    assert api.post(f"/{name}", headers={"X-Container-Meta-Quota-Count": "1"}).status_code == 204
    assert api.put(f"/{name}/one", content=b"1").status_code == 201
    resp = api.put(f"/{name}/two", content=b"2")
    assert resp.status_code == 413, resp.text
    assert names(api, name) == ["one"]


def test_container_quota_must_be_an_integer(api: Swift) -> None:
    name = unique("qi")
    resp = api.put(f"/{name}", headers={"X-Container-Meta-Quota-Bytes": "lots"})
    assert resp.status_code == 400, resp.text
    assert api.put(f"/{name}").status_code == 201
    resp = api.post(f"/{name}", headers={"X-Container-Meta-Quota-Count": "-1"})
    assert resp.status_code == 400, resp.text


def test_listing_json_is_utf8(api: Swift, listed: str) -> None:
    resp = api.get(f"/{listed}", params={"format": "json"})
    assert "é" in json.loads(resp.content.decode("utf-8"))[-3]["name"]


@pytest.mark.parametrize(
    ("params", "accept", "expected"),
    [
        pytest.param({}, None, "text/plain", id="plain"),
        pytest.param({"format": "json"}, None, "application/json", id="json"),
        pytest.param({"format": "xml"}, None, "application/xml", id="xml"),
        pytest.param({}, "application/xml", "application/xml", id="accept-xml"),
    ],
)
@pytest.mark.parametrize("level", ["account", "container"])
def test_listing_content_type(
    api: Swift, listed: str, level: str, params: dict[str, str], accept: str | None, expected: str
) -> None:
    """The listing's Content-Type says what its body is."""
    headers = {"Accept": accept} if accept else {}
    resp = api.get("" if level == "account" else f"/{listed}", params=params, headers=headers)
    assert resp.status_code == 200
    assert resp.headers["content-type"].split(";")[0] == expected, resp.text[:100]
    if expected == "application/json":
        resp.json()
    elif expected == "application/xml":
        ET.fromstring(resp.content)
    else:
        assert not resp.text.startswith(("[", "<"))


SPECIAL = [
    "a b",
    "q?x=1",
    "hash#frag",
    "pct%20lit",
    "plus+sign",
    "semi;colon",
    "amp&eq=",
    "dir/",
    "tab\tname",
    "quote\"'",
]


def test_special_characters_in_object_names(api: Swift, container: str) -> None:
    from urllib.parse import quote

    for name in SPECIAL:
        resp = api.put(f"/{container}/{quote(name)}", content=name.encode())
        assert resp.status_code == 201, (name, resp.status_code)
    for name in SPECIAL:
        resp = api.get(f"/{container}/{quote(name)}")
        assert resp.status_code == 200 and resp.content == name.encode(), name
    assert names(api, container) == sorted(SPECIAL, key=lambda n: n.encode())
    resp = api.get(f"/{container}", params={"format": "xml"})
    assert [o.findtext("name") for o in ET.fromstring(resp.content).findall("object")] == sorted(
        SPECIAL, key=lambda n: n.encode()
    )
    for name in SPECIAL:
        assert api.delete(f"/{container}/{quote(name)}").status_code == 204, name
    assert names(api, container) == []


def test_overwrite_and_delete_keep_counters_right(store: Server) -> None:
    acct = project_account(store)
    with acct.client() as c:
        assert c.put("/box").status_code == 201
        assert c.put("/box/o", content=b"x" * 100).status_code == 201
        assert c.put("/box/o", content=b"y" * 30).status_code == 201
        entries = c.get("/box", params={"format": "json"}).json()
        assert len(entries) == 1
        assert entries[0]["bytes"] == 30 and entries[0]["hash"] == md5(b"y" * 30)
        head = c.head("/box")
        assert head.headers["x-container-object-count"] == "1"
        assert head.headers["x-container-bytes-used"] == "30"

        def account_is(objects: str, used: str) -> bool:
            h = c.head("").headers
            return (h["x-account-object-count"], h["x-account-bytes-used"]) == (objects, used)

        assert wait_until(lambda: account_is("1", "30")), dict(c.head("").headers)
        assert c.delete("/box/o").status_code == 204
        head = c.head("/box")
        assert head.headers["x-container-object-count"] == "0"
        assert head.headers["x-container-bytes-used"] == "0"
        assert wait_until(lambda: account_is("0", "0")), dict(c.head("").headers)
        assert c.delete("/box").status_code == 204
        assert wait_until(lambda: c.head("").headers["x-account-container-count"] == "0")
        assert c.get("", params={"format": "json"}).json() == []
        c.checks.assert_clean()


def test_post_can_change_content_type(api: Swift, container: str) -> None:
    path = f"/{container}/retype"
    assert (
        api.put(path, content=b"x", headers={"Content-Type": "application/x-old"}).status_code
        == 201
    )
    assert api.post(path, headers={"Content-Type": "application/x-new"}).status_code == 202
    assert api.head(path).headers["content-type"] == "application/x-new"
    entry = api.get(f"/{container}", params={"format": "json"}).json()[0]
    assert entry["content_type"] == "application/x-new"


def test_x_storage_token_header(owner: Account) -> None:
    with owner.client(None) as c:
        resp = c.head("", headers={"X-Storage-Token": owner.token})
        assert resp.status_code == 204


def test_put_if_none_match_star(api: Swift, container: str) -> None:
    """Create-only writes: ``If-None-Match: *`` on PUT is 412 when the object exists."""
    path = f"/{container}/once"
    assert api.put(path, content=b"first", headers={"If-None-Match": "*"}).status_code == 201
    resp = api.put(path, content=b"second", headers={"If-None-Match": "*"})
    assert resp.status_code == 412, resp.status_code
    assert api.get(path).content == b"first"
    resp = api.put(path, content=b"x", headers={"If-None-Match": "abc"})
    assert resp.status_code == 400, resp.status_code  # Swift takes only '*' on PUT


def test_concurrent_uploads_all_listed(owner: Account, api: Swift, container: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def put(i: int) -> int:
        with owner.client() as c:
            return c.put(f"/{container}/p{i:02d}", content=str(i).encode() * (i + 1)).status_code

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(put, range(40)))
    assert statuses == [201] * 40
    assert names(api, container) == [f"p{i:02d}" for i in range(40)]
    head = api.head(f"/{container}")
    assert head.headers["x-container-object-count"] == "40"
    expected = sum(len(str(i)) * (i + 1) for i in range(40))
    assert head.headers["x-container-bytes-used"] == str(expected)
