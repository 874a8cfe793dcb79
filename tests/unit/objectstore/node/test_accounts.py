"""The account server: the account itself, its listing and stats, container rows."""

from __future__ import annotations

import orjson

from tests.unit.objectstore.node.conftest import Caller, ts

A = "sda/1/a"


def report(objects: int, size: int, policy: int = 0, deleted: bool = False) -> dict[str, str]:
    put = ts()
    return {
        "x-backend-server": "account",
        "x-put-timestamp": put,
        "x-delete-timestamp": ts() if deleted else "0",
        "x-object-count": str(objects),
        "x-bytes-used": str(size),
        "x-stats-timestamp": ts(),
        "x-backend-storage-policy-index": str(policy),
    }


async def test_put_head_post_delete(call: Caller) -> None:
    assert (await call("HEAD", A)).status == 404
    assert (await call("PUT", A, {"x-timestamp": ts(), "x-account-meta-quota": "1"})).status == 201
    assert (await call("PUT", A, {"x-timestamp": ts()})).status == 202
    head = await call("HEAD", A)
    assert head.status == 204
    assert head.headers["x-account-container-count"] == "0"
    assert head.headers["x-account-meta-quota"] == "1"
    key = {"x-timestamp": ts(), "x-account-meta-temp-url-key": "secret"}
    assert (await call("POST", A, key)).status == 204
    assert (await call("HEAD", A)).headers["x-account-meta-temp-url-key"] == "secret"
    assert (await call("POST", "sda/1/nope", {"x-timestamp": ts()})).status == 404
    assert (await call("DELETE", A, {"x-timestamp": "1"})).status == 409
    assert (await call("DELETE", A, {"x-timestamp": ts()})).status == 204
    gone = await call("HEAD", A)
    assert gone.status == 404 and gone.headers["x-account-status"] == "deleted"
    assert (await call("GET", A)).status == 404
    assert (await call("PUT", A, {"x-timestamp": ts()})).status == 201


async def test_rows_stats_and_listing(call: Caller) -> None:
    await call("PUT", A, {"x-timestamp": ts()})
    assert (await call("PUT", f"{A}/c1", report(2, 20))).status == 201
    assert (await call("PUT", f"{A}/c2", report(3, 30, policy=1))).status == 201
    assert (await call("PUT", f"{A}/d-x", report(0, 0))).status == 201
    h = (await call("HEAD", A)).headers
    assert h["x-account-container-count"] == "3"
    assert h["x-account-object-count"] == "5" and h["x-account-bytes-used"] == "50"
    assert h["x-account-storage-policy-0-container-count"] == "2"
    assert h["x-account-storage-policy-0-object-count"] == "2"
    assert h["x-account-storage-policy-1-bytes-used"] == "30"
    listing = orjson.loads((await call("GET", A)).body)
    assert [e["name"] for e in listing] == ["c1", "c2", "d-x"]
    assert listing[0]["count"] == 2 and listing[0]["bytes"] == 20
    subdirs = orjson.loads((await call("GET", A, query={"delimiter": "-"})).body)
    assert subdirs[-1] == {"subdir": "d-"}
    assert len(orjson.loads((await call("GET", A, query={"limit": "1"})).body)) == 1
    reverse = orjson.loads((await call("GET", A, query={"reverse": "yes"})).body)
    assert reverse[0]["name"] == "d-x"
    # A deleted container leaves the listing and the totals.
    assert (await call("PUT", f"{A}/c1", report(0, 0, deleted=True))).status == 201
    h = (await call("HEAD", A)).headers
    assert h["x-account-container-count"] == "2" and h["x-account-object-count"] == "3"


async def test_rows_create_the_account(call: Caller) -> None:
    assert (await call("PUT", f"{A}/c", report(1, 1))).status == 201
    assert (await call("HEAD", A)).headers["x-account-container-count"] == "1"
    assert (await call("DELETE", f"{A}/c", report(1, 1))).status == 405
    bad = dict(report(1, 1))
    del bad["x-put-timestamp"]
    assert (await call("PUT", f"{A}/c", bad)).status == 400
