"""Symlinks against a real all-in-one, with python-swiftclient: made with
X-Symlink-Target, followed on GET, read themselves with ?symlink=get,
across containers with ACLs, and kept whole by versioning."""

from __future__ import annotations

import httpx
import pytest
from swiftclient.client import ClientException, Connection

from tests.functional.objectstore.conftest import Account, Swift, project_account, unique


def connection(acct: Account) -> Connection:
    return Connection(preauthurl=acct.url, preauthtoken=acct.token, retries=0)


def test_info_lists_symlink(owner: Account) -> None:
    info = httpx.get(f"{owner.server.url}/info", timeout=30).json()
    assert info["symlink"]["symloop_max"] == 2
    assert info["symlink"]["static_links"] is True


def test_static_link_and_listing(owner: Account, api: Swift) -> None:
    conn = connection(owner)
    c, t = unique("st"), unique("tg")
    conn.put_container(c)
    conn.put_container(t)
    etag = conn.put_object(t, "real", b"ten bytes!", content_type="text/x-t")
    headers = {"X-Symlink-Target": f"{t}/real", "X-Symlink-Target-Etag": etag}
    conn.put_object(c, "static", b"", headers=headers)
    assert conn.get_object(c, "static")[1] == b"ten bytes!"
    r = api.head(f"/{c}/static", params={"symlink": "get"})
    assert r.headers["x-symlink-target-etag"] == etag
    assert r.headers["x-symlink-target-bytes"] == "10"
    assert r.headers["content-type"] == "text/x-t"
    rows = {o["name"]: o for o in conn.get_container(c)[1]}
    assert rows["static"]["symlink_path"] == f"/v1/{owner.name}/{t}/real"
    assert (rows["static"]["symlink_etag"], rows["static"]["symlink_bytes"]) == (etag, 10)
    r = api.put(f"/{c}/bad", headers={**headers, "X-Symlink-Target-Etag": "0" * 32})
    assert r.status_code == 409 and "does not match X-Symlink-Target-Etag" in r.text
    conn.put_object(t, "real", b"changed")
    assert api.get(f"/{c}/static").status_code == 409


def test_symlink_with_swiftclient(owner: Account, api: Swift) -> None:
    conn = connection(owner)
    c, t = unique("sl"), unique("tg")
    conn.put_container(c)
    conn.put_container(t)
    conn.put_object(t, "dir/ü", b"target data", content_type="text/x-t")
    conn.put_object(c, "link", b"", headers={"X-Symlink-Target": f"{t}/dir/ü"})
    headers, body = conn.get_object(c, "link")
    assert body == b"target data" and headers["content-type"] == "text/x-t"
    # swiftclient shows header values unquoted; on the wire they are quoted
    assert headers["content-location"] == f"/v1/{owner.name}/{t}/dir/ü"
    assert api.head(f"/{c}/link").headers["content-location"].endswith("/dir/%C3%BC")
    headers, body = conn.get_object(c, "link", query_string="symlink=get")
    assert body == b"" and headers["x-symlink-target"] == f"{t}/dir/ü"
    assert headers["content-type"] == "application/symlink"
    headers, body = conn.get_object(c, "link", headers={"Range": "bytes=7-"})
    assert body == b"data"
    # a dangling link is 404 until its target exists
    conn.put_object(c, "later", b"", headers={"X-Symlink-Target": f"{t}/later"})
    with pytest.raises(ClientException) as err:
        conn.get_object(c, "later")
    assert err.value.http_status == 404
    conn.put_object(t, "later", b"now")
    assert conn.get_object(c, "later")[1] == b"now"
    r = api.put(f"/{c}/bad", headers={"X-Symlink-Target": f"{t}/x"}, content=b"body")
    assert r.status_code == 400 and r.text == "Symlink requests require a zero byte body"
    r = api.post(f"/{c}/link", headers={"X-Object-Meta-A": "1"})
    assert r.status_code == 307 and r.headers["location"].endswith(f"/{t}/dir/%C3%BC")


def test_symlink_target_needs_read_access(store, owner: Account) -> None:
    conn = connection(owner)
    c, t = unique("pub"), unique("priv")
    conn.put_container(c)
    conn.put_container(t)
    conn.put_object(t, "secret", b"s3cret")
    conn.put_object(c, "link", b"", headers={"X-Symlink-Target": f"{t}/secret"})
    other = project_account(store)
    conn.post_container(c, {"X-Container-Read": f"{other.project_id}:*"})
    with other.client(account=owner.name) as them:
        assert them.get(f"/{c}/link", params={"symlink": "get"}).status_code == 200
        assert them.get(f"/{c}/link").status_code == 403
        conn.post_container(t, {"X-Container-Read": f"{other.project_id}:*"})
        assert them.get(f"/{c}/link").content == b"s3cret"


def test_versioning_keeps_the_symlink(owner: Account) -> None:
    conn = connection(owner)
    c, t, arch = unique("vs"), unique("vt"), unique("va")
    conn.put_container(arch)
    conn.put_container(c, {"X-Versions-Location": arch})
    conn.put_container(t)
    conn.put_object(t, "real", b"real data")
    conn.put_object(c, "obj", b"", headers={"X-Symlink-Target": f"{t}/real"})
    conn.put_object(c, "obj", b"plain")
    assert conn.get_object(c, "obj")[1] == b"plain"
    assert [o["bytes"] for o in conn.get_container(arch)[1]] == [0]
    conn.delete_object(c, "obj")
    headers, _ = conn.get_object(c, "obj", query_string="symlink=get")
    assert headers["x-symlink-target"] == f"{t}/real"
    assert conn.get_object(c, "obj")[1] == b"real data"
