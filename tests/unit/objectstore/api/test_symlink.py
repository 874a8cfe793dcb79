"""Symlinks (Swift's symlink middleware) over the in-memory cluster."""

from __future__ import annotations

from tests.unit.objectstore.api.conftest import Cloud

A = "/v1/AUTH_p1"


async def _setup(cloud: Cloud) -> None:
    for c in ("c", "t"):
        assert (await cloud.http.put(f"{A}/{c}")).status_code == 201
    r = await cloud.http.put(
        f"{A}/t/real", content=b"0123456789", headers={"content-type": "text/x-real"}
    )
    assert r.status_code == 201


async def test_symlink_put_get_head_and_symlink_get(cloud: Cloud) -> None:
    await _setup(cloud)
    r = await cloud.http.put(f"{A}/c/link", headers={"x-symlink-target": "t/real"})
    assert r.status_code == 201
    r = await cloud.http.get(f"{A}/c/link")
    assert r.status_code == 200 and r.content == b"0123456789"
    assert r.headers["content-location"] == "/v1/AUTH_p1/t/real"
    assert r.headers["content-type"] == "text/x-real"
    assert not any(k.startswith("x-object-sysmeta") for k in r.headers)
    r = await cloud.http.get(f"{A}/c/link", headers={"range": "bytes=2-4"})
    assert r.status_code == 206 and r.content == b"234"
    r = await cloud.http.head(f"{A}/c/link")
    assert r.status_code == 200 and r.headers["content-length"] == "10"
    r = await cloud.http.get(f"{A}/c/link", params={"symlink": "get"})
    assert r.status_code == 200 and r.content == b""
    assert r.headers["x-symlink-target"] == "t/real"
    assert r.headers["content-type"] == "application/symlink"
    listing = (await cloud.http.get(f"{A}/c", params={"format": "json"})).json()
    assert [e["bytes"] for e in listing] == [0]


async def test_chains_dangling_and_loops(cloud: Cloud) -> None:
    await _setup(cloud)
    await cloud.http.put(f"{A}/c/one", headers={"x-symlink-target": "t/real"})
    await cloud.http.put(f"{A}/c/two", headers={"x-symlink-target": "c/one"})
    assert (await cloud.http.get(f"{A}/c/two")).content == b"0123456789"
    await cloud.http.put(f"{A}/c/three", headers={"x-symlink-target": "c/two"})
    r = await cloud.http.get(f"{A}/c/three")
    assert r.status_code == 409 and "maximum allowed is 2" in r.text
    await cloud.http.put(f"{A}/c/dangling", headers={"x-symlink-target": "t/nothing"})
    assert (await cloud.http.get(f"{A}/c/dangling")).status_code == 404
    assert (await cloud.http.head(f"{A}/c/dangling", params={"symlink": "get"})).status_code == 200


async def test_bad_symlinks(cloud: Cloud) -> None:
    await _setup(cloud)
    r = await cloud.http.put(f"{A}/c/l", headers={"x-symlink-target": "t/real"}, content=b"x")
    assert r.status_code == 400 and r.text == "Symlink requests require a zero byte body"
    r = await cloud.http.put(f"{A}/c/l", headers={"x-symlink-target": "nocontainer"})
    assert r.status_code == 412 and "<container name>/<object name>" in r.text
    r = await cloud.http.put(f"{A}/c/l", headers={"x-symlink-target": "c/l"})
    assert r.status_code == 400 and r.text == "Symlink cannot target itself"
    r = await cloud.http.put(
        f"{A}/c/l", headers={"x-symlink-target": "t/real", "x-symlink-target-account": "a/b"}
    )
    assert r.status_code == 412


async def test_post_redirects_and_copy_follows(cloud: Cloud) -> None:
    await _setup(cloud)
    await cloud.http.put(f"{A}/c/link", headers={"x-symlink-target": "t/real"})
    r = await cloud.http.post(f"{A}/c/link", headers={"x-object-meta-color": "red"})
    assert r.status_code == 307 and r.headers["location"] == "/v1/AUTH_p1/t/real"
    r = await cloud.http.head(f"{A}/c/link", params={"symlink": "get"})
    assert r.headers["x-object-meta-color"] == "red" and r.headers["x-symlink-target"] == "t/real"
    r = await cloud.http.request("COPY", f"{A}/c/link", headers={"destination": "c/copied"})
    assert r.status_code == 201
    r = await cloud.http.get(f"{A}/c/copied", params={"symlink": "get"})
    assert r.content == b"0123456789" and "x-symlink-target" not in r.headers
    r = await cloud.http.request(
        "COPY", f"{A}/c/link", params={"symlink": "get"}, headers={"destination": "c/link2"}
    )
    assert r.status_code == 201
    r = await cloud.http.get(f"{A}/c/link2", params={"symlink": "get"})
    assert r.content == b"" and r.headers["x-symlink-target"] == "t/real"


async def test_target_container_must_be_readable(cloud: Cloud) -> None:
    await _setup(cloud)
    await cloud.http.put(f"{A}/c/link", headers={"x-symlink-target": "t/real"})
    await cloud.http.post(f"{A}/c", headers={"x-container-read": "p2:*"})
    bob = cloud.as_("bob")
    assert (
        await cloud.http.get(f"{A}/c/link", params={"symlink": "get"}, headers=bob)
    ).status_code == 200
    assert (await cloud.http.get(f"{A}/c/link", headers=bob)).status_code == 403
    await cloud.http.post(f"{A}/t", headers={"x-container-read": "p2:*"})
    assert (await cloud.http.get(f"{A}/c/link", headers=bob)).content == b"0123456789"


async def test_static_links(cloud: Cloud) -> None:
    await _setup(cloud)
    etag = (await cloud.http.head(f"{A}/t/real")).headers["etag"]
    r = await cloud.http.put(
        f"{A}/c/static", headers={"x-symlink-target": "t/real", "x-symlink-target-etag": etag}
    )
    assert r.status_code == 201
    r = await cloud.http.head(f"{A}/c/static", params={"symlink": "get"})
    assert r.headers["x-symlink-target-etag"] == etag
    assert r.headers["x-symlink-target-bytes"] == "10"
    assert r.headers["content-type"] == "text/x-real"  # the target's, for a static link
    r = await cloud.http.get(f"{A}/c/static")
    assert r.status_code == 200 and r.content == b"0123456789"
    # Wrong or missing targets are refused at the PUT, in Swift's words.
    r = await cloud.http.put(
        f"{A}/c/bad", headers={"x-symlink-target": "t/real", "x-symlink-target-etag": "0" * 32}
    )
    assert r.status_code == 409 and r.headers["content-type"] == "text/plain"
    assert r.text == f"Object Etag '{etag}' does not match X-Symlink-Target-Etag header '{'0' * 32}'"
    assert r.headers["content-location"] == "/v1/AUTH_p1/t/real"
    r = await cloud.http.put(
        f"{A}/c/bad", headers={"x-symlink-target": "t/none", "x-symlink-target-etag": etag}
    )
    assert (r.status_code, r.text) == (409, "X-Symlink-Target does not exist")
    r = await cloud.http.put(
        f"{A}/c/bad", headers={"x-symlink-target": "t/real", "x-symlink-target-etag": 'a"b'}
    )
    assert (r.status_code, r.text) == (400, "Bad X-Symlink-Target-Etag format")
    # A static link to a dynamic one is refused: that one's ETag is the empty object's.
    await cloud.http.put(f"{A}/c/soft", headers={"x-symlink-target": "t/real"})
    r = await cloud.http.put(
        f"{A}/c/bad", headers={"x-symlink-target": "c/soft", "x-symlink-target-etag": etag}
    )
    assert r.status_code == 409
    # The target changes: reading through the static link is 409 from then on.
    await cloud.http.put(f"{A}/t/real", content=b"changed")
    r = await cloud.http.get(f"{A}/c/static")
    assert r.status_code == 409 and "does not match X-Symlink-Target-Etag" in r.text
    assert (await cloud.http.get(f"{A}/c/soft")).content == b"changed"
    r = await cloud.http.post(f"{A}/c/static", headers={"x-object-meta-a": "1"})
    assert r.status_code == 307 and r.headers["x-symlink-target-etag"] == etag


async def test_listing_names_targets(cloud: Cloud) -> None:
    await _setup(cloud)
    etag = (await cloud.http.head(f"{A}/t/real")).headers["etag"]
    await cloud.http.put(f"{A}/c/soft", headers={"x-symlink-target": "t/real"})
    await cloud.http.put(
        f"{A}/c/static",
        headers={
            "x-symlink-target": "t/real",
            "x-symlink-target-etag": etag,
            "x-symlink-target-account": "AUTH_p1",
        },
    )
    rows = {e["name"]: e for e in (await cloud.http.get(f"{A}/c?format=json")).json()}
    assert rows["soft"]["symlink_path"] == "/v1/AUTH_p1/t/real"
    assert rows["soft"]["hash"] == "d41d8cd98f00b204e9800998ecf8427e"
    assert rows["static"]["symlink_etag"] == etag and rows["static"]["symlink_bytes"] == 10
    assert rows["static"]["symlink_path"] == "/v1/AUTH_p1/t/real"
    assert "symlink_path" not in (await cloud.http.get(f"{A}/t?format=json")).json()[0]
