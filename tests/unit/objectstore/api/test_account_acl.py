"""Account ACLs (X-Account-Access-Control) over the in-memory cluster."""

from __future__ import annotations

import json

from tests.unit.objectstore.api.conftest import Cloud

A = "/v1/AUTH_p1"


async def _acl(cloud: Cloud, acl: dict[str, list[str]]) -> None:
    r = await cloud.http.post(A, headers={"x-account-access-control": json.dumps(acl)})
    assert r.status_code == 204, r.text


async def test_levels(cloud: Cloud) -> None:
    bob = cloud.as_("bob")
    await cloud.http.put(f"{A}/c")
    await cloud.http.put(f"{A}/c/o", content=b"data")
    assert (await cloud.http.get(f"{A}/c/o", headers=bob)).status_code == 403
    await _acl(cloud, {"read-only": ["p2:*"]})
    assert (await cloud.http.get(f"{A}/c/o", headers=bob)).content == b"data"
    assert (await cloud.http.get(A, headers=bob)).status_code == 200
    assert (await cloud.http.put(f"{A}/c/new", content=b"x", headers=bob)).status_code == 403
    head = await cloud.http.head(A, headers=bob)
    assert "x-account-access-control" not in head.headers
    assert not any(k.startswith("x-account-sysmeta") for k in head.headers)
    await _acl(cloud, {"read-write": ["*:u-bob"]})
    assert (await cloud.http.put(f"{A}/c/new", content=b"x", headers=bob)).status_code == 201
    assert (await cloud.http.put(f"{A}/made-by-bob", headers=bob)).status_code == 201
    r = await cloud.http.post(A, headers={**bob, "x-account-meta-a": "1"})
    assert r.status_code == 403
    await _acl(cloud, {"admin": ["p2:u-bob"]})
    r = await cloud.http.post(A, headers={**bob, "x-account-meta-a": "1"})
    assert r.status_code == 204
    head = await cloud.http.head(A, headers=bob)
    assert json.loads(head.headers["x-account-access-control"]) == {"admin": ["p2:u-bob"]}
    # the owner sees it; an empty value removes it
    assert "x-account-access-control" in (await cloud.http.head(A)).headers
    await cloud.http.post(A, headers={"x-account-access-control": ""})
    assert (await cloud.http.get(f"{A}/c/o", headers=bob)).status_code == 403


async def test_bad_acls_and_who_may_set_them(cloud: Cloud) -> None:
    for bad in ("not json", "[]", '{"readers": ["p2:*"]}', '{"read-only": "p2:*"}'):
        r = await cloud.http.post(A, headers={"x-account-access-control": bad})
        assert r.status_code == 400 and "X-Account-Access-Control" in r.text, bad
    r = await cloud.http.post(
        A, headers={**cloud.as_("bob"), "x-account-access-control": '{"admin": ["p2:*"]}'}
    )
    assert r.status_code == 403
