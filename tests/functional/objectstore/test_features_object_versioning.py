"""Object versioning, the newer mode (X-Versions-Enabled, ?version-id,
?versions), against a real all-in-one with python-swiftclient and raw HTTP."""

from __future__ import annotations

import httpx
import pytest
from swiftclient.client import ClientException, Connection

from tests.functional.objectstore.conftest import Account, Swift, unique

MARKER = "application/x-deleted;swift_versions_deleted=1"


def connection(acct: Account) -> Connection:
    return Connection(preauthurl=acct.url, preauthtoken=acct.token, retries=0)


def versions(api: Swift, c: str) -> list[dict[str, object]]:
    r = api.get(f"/{c}", params={"versions": "", "format": "json"})
    assert r.status_code == 200, r.text
    return r.json()


def test_enable_put_get_versions(owner: Account, api: Swift) -> None:
    info = httpx.get(f"{owner.server.url}/info", timeout=30).json()
    assert "object_versioning" in info
    conn = connection(owner)
    c = unique("ov")
    conn.put_container(c, {"X-Versions-Enabled": "true"})
    assert conn.head_container(c)["x-versions-enabled"] == "True"
    ids = []
    for body in (b"one", b"two!", b"three"):
        r = api.put(f"/{c}/doc", content=body, headers={"Content-Type": "text/x-doc"})
        assert r.status_code == 201
        ids.append(r.headers["x-object-version-id"])
    headers, body = conn.get_object(c, "doc")
    assert body == b"three" and headers["x-object-version-id"] == ids[2]
    assert "content-location" not in headers
    for vid, data in zip(ids, (b"one", b"two!", b"three"), strict=True):
        assert conn.get_object(c, "doc", query_string=f"version-id={vid}")[1] == data
    # the plain listing shows the current object with its own size and type
    listing = conn.get_container(c)[1]
    assert [(o["name"], o["bytes"], o["content_type"]) for o in listing] == [
        ("doc", 5, "text/x-doc")
    ]
    listed = versions(api, c)
    assert [(v["version_id"], v["is_latest"], v["bytes"]) for v in listed] == [
        (ids[2], True, 5),
        (ids[1], False, 4),
        (ids[0], False, 3),
    ]
    # hidden from the account's listing
    assert [x["name"] for x in conn.get_account()[1] if c in x["name"]] == [c]
    # PUT and POST with a version-id are refused
    assert api.put(f"/{c}/doc", params={"version-id": ids[0]}, content=b"x").status_code == 400
    assert api.get(f"/{c}/doc", params={"version-id": "junk"}).status_code == 400


def test_delete_marker_and_version_deletes(owner: Account, api: Swift) -> None:
    conn = connection(owner)
    c = unique("od")
    conn.put_container(c)
    conn.put_object(c, "f", b"before versioning")  # the null version
    conn.post_container(c, {"X-Versions-Enabled": "true"})
    r = api.put(f"/{c}/f", content=b"v1")
    v1 = r.headers["x-object-version-id"]
    r = api.delete(f"/{c}/f")
    assert r.status_code == 204
    marker = r.headers["x-object-version-id"]
    with pytest.raises(ClientException) as err:
        conn.get_object(c, "f")
    assert err.value.http_status == 404
    listed = versions(api, c)
    assert [(v["version_id"], v["is_latest"], v["content_type"]) for v in listed][0] == (
        marker,
        True,
        MARKER,
    )
    assert len(listed) == 3  # the marker, v1, the null version moved among the versions
    assert api.get(f"/{c}/f", params={"version-id": marker}).status_code == 404
    assert api.get(f"/{c}/f", params={"version-id": v1}).content == b"v1"
    old = listed[2]["version_id"]
    assert api.get(f"/{c}/f", params={"version-id": old}).content == b"before versioning"
    # deleting a version by id; the container can go once nothing is left
    for vid in (marker, v1, old):
        r = api.delete(f"/{c}/f", params={"version-id": vid})
        assert r.status_code == 204 and r.headers["x-object-version-id"] == vid
    assert versions(api, c) == []
    conn.post_container(c, {"X-Versions-Enabled": "false"})
    assert conn.head_container(c)["x-versions-enabled"] == "False"
    conn.delete_container(c)


def test_current_version_deleted_by_id_and_post(owner: Account, api: Swift) -> None:
    conn = connection(owner)
    c = unique("oc")
    conn.put_container(c, {"X-Versions-Enabled": "true"})
    a = api.put(f"/{c}/o", content=b"A").headers["x-object-version-id"]
    b = api.put(f"/{c}/o", content=b"B").headers["x-object-version-id"]
    r = api.post(f"/{c}/o", headers={"X-Object-Meta-Color": "blue"})
    assert r.status_code == 202
    assert conn.head_object(c, "o")["x-object-meta-color"] == "blue"
    assert api.delete(f"/{c}/o", params={"version-id": b}).status_code == 204
    assert api.get(f"/{c}/o").status_code == 404  # the older version is not made current
    assert api.get(f"/{c}/o", params={"version-id": a}).content == b"A"
    with pytest.raises(ClientException) as err:
        conn.delete_container(c)
    assert err.value.http_status == 409


def test_legacy_and_new_modes_exclude_each_other(owner: Account, api: Swift) -> None:
    c, arch = unique("ol"), unique("oa")
    api.put(f"/{arch}")
    api.put(f"/{c}", headers={"X-Versions-Location": arch})
    r = api.post(f"/{c}", headers={"X-Versions-Enabled": "true"})
    assert r.status_code == 400 and "legacy" in r.text
    assert api.post(f"/{c}", headers={"X-Versions-Enabled": "maybe"}).status_code == 400


def test_client_type_like_the_version_param_keeps_listings(owner: Account, api: Swift) -> None:
    c = unique("ot")
    api.put(f"/{c}", headers={"X-Versions-Enabled": "true"})
    odd = "text/plain; swift_version_id=x"
    vid = api.put(f"/{c}/a", content=b"1", headers={"Content-Type": odd})
    assert vid.status_code == 201
    api.post(f"/{c}", headers={"X-Versions-Enabled": "false"})
    fake = "text/plain; swift_version_id=1234.5"
    assert api.put(f"/{c}/b", content=b"2", headers={"Content-Type": fake}).status_code == 201
    listed = versions(api, c)
    assert [(v["name"], v["version_id"], v["content_type"]) for v in listed] == [
        ("a", vid.headers["x-object-version-id"], odd),
        ("b", "null", fake),
    ]
    plain = api.get(f"/{c}", params={"format": "json"}).json()
    assert [v["content_type"] for v in plain][0] == odd
    never = unique("on")
    api.put(f"/{never}")
    assert api.put(f"/{never}/b", content=b"2", headers={"Content-Type": fake}).status_code == 201
    plain = api.get(f"/{never}", params={"format": "json"}).json()
    assert [v["content_type"] for v in plain] == [fake]
