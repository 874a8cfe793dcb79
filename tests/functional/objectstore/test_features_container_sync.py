"""Container sync (X-Container-Sync-To / X-Container-Sync-Key) between
containers of one cloud: the realm form and the full-URL form, what may be
named, the receiving side's checks, who may set the headers, and the sync
points across a SIGKILL and restart.  The sync worker passes every 0.2 s
here (``objectstore.container_sync_interval``)."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.conftest import Server, drop_database, free_port, new_database, start_server
from tests.functional.objectstore.conftest import (
    STORE_ENV,
    Account,
    Swift,
    md5,
    no_traceback,
    project_account,
    unique,
    wait_until,
)

REALM_KEY = "realm-secret"


@dataclass
class Cloud:
    srv: Server
    env: dict[str, str]

    def restart_after_kill(self) -> None:
        self.srv.stop(signal.SIGKILL)
        port = int(self.srv.url.rsplit(":", 1)[1])
        self.srv = start_server(self.srv.data_dir, self.srv.database_url, port=port, **self.env)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory, database: str) -> Iterator[Cloud]:
    port = free_port()
    realms = {"Lab": {"key": REALM_KEY, "clusters": {"here": f"http://127.0.0.1:{port}/v1/"}}}
    env = {
        **STORE_ENV,
        "STRATUS_OBJECTSTORE__CONTAINER_SYNC_INTERVAL": "0.2",
        "STRATUS_OBJECTSTORE__CONTAINER_SYNC_REALMS": json.dumps(realms),
    }
    url = new_database(database)
    try:
        cloud = Cloud(start_server(tmp_path_factory.mktemp("sync"), url, port=port, **env), env)
        yield cloud
        no_traceback(cloud.srv)
        assert cloud.srv.stop() == 0
    finally:
        drop_database(url)


@pytest.fixture(scope="module")
def source(cloud: Cloud) -> Account:
    return project_account(cloud.srv)


@pytest.fixture(scope="module")
def dest(cloud: Cloud) -> Account:
    """Another project: the targets' account."""
    return project_account(cloud.srv)


def pair(src: Swift, dst: Swift, dest: Account, *, realm: bool = True) -> tuple[str, str]:
    """A target container in ``dest``'s account and a source synced to it."""
    key = unique("key")
    target, origin = unique("target"), unique("source")
    assert dst.put(f"/{target}", headers={"X-Container-Sync-Key": key}).status_code == 201
    port = dest.server.url.rsplit(":", 1)[1]
    sync_to = (
        f"//lab/HERE/{dest.name}/{target}"
        if realm
        else f"http://127.0.0.1:{port}/object-store/v1/{dest.name}/{target}"
    )
    resp = src.put(f"/{origin}", headers={"X-Container-Sync-To": sync_to, "X-Container-Sync-Key": key})
    assert resp.status_code == 201, resp.text
    return origin, target


def arrives(c: Swift, path: str, body: bytes) -> bool:
    resp = c.get(path)
    return resp.status_code == 200 and resp.content == body


def test_info_lists_realms(cloud: Cloud) -> None:
    info = httpx.get(f"{cloud.srv.url}/info").json()
    assert info["container_sync"] == {"realms": {"LAB": {"clusters": {"HERE": {}}}}}


@pytest.mark.parametrize("realm", [True, False], ids=["realm", "full-url"])
def test_put_overwrite_delete_reach_the_target(source: Account, dest: Account, realm: bool) -> None:
    with source.client() as src, dest.client() as dst:
        origin, target = pair(src, dst, dest, realm=realm)
        put = src.put(f"/{origin}/a/b", content=b"first", headers={"X-Object-Meta-Color": "red", "Content-Type": "text/x-first"})
        assert put.status_code == 201
        assert wait_until(lambda: arrives(dst, f"/{target}/a/b", b"first"))
        got, mine = dst.head(f"/{target}/a/b"), src.head(f"/{origin}/a/b")
        assert got.headers["x-object-meta-color"] == "red"
        assert got.headers["content-type"] == "text/x-first"
        assert got.headers["x-timestamp"] == mine.headers["x-timestamp"]  # the source's time kept
        assert got.headers["etag"] == mine.headers["etag"]

        assert src.put(f"/{origin}/a/b", content=b"second").status_code == 201
        assert wait_until(lambda: arrives(dst, f"/{target}/a/b", b"second"))
        assert "x-object-meta-color" not in dst.head(f"/{target}/a/b").headers

        # A metadata POST reaches the target too (the whole object is sent
        # again at the POST's time, as Swift's container sync does).
        post = src.post(f"/{origin}/a/b", headers={"X-Object-Meta-Shape": "round"})
        assert post.status_code == 202
        assert wait_until(lambda: dst.head(f"/{target}/a/b").headers.get("x-object-meta-shape") == "round")
        got, mine = dst.head(f"/{target}/a/b"), src.head(f"/{origin}/a/b")
        assert got.headers["x-timestamp"] == mine.headers["x-timestamp"]
        assert arrives(dst, f"/{target}/a/b", b"second")

        assert src.delete(f"/{origin}/a/b").status_code == 204
        assert wait_until(lambda: dst.head(f"/{target}/a/b").status_code == 404)

        # A static large object's manifest goes as the manifest it is.
        segment = b"s" * 2048
        assert src.put(f"/{origin}/seg", content=segment).status_code == 201
        manifest = [{"path": f"/{origin}/seg"}, {"data": "dGFpbA=="}]
        put = src.put(f"/{origin}/slo", params={"multipart-manifest": "put"}, json=manifest)
        assert put.status_code == 201, put.text
        assert wait_until(lambda: dst.head(f"/{target}/slo").status_code == 200)
        got, mine = dst.head(f"/{target}/slo"), src.head(f"/{origin}/slo")
        assert got.headers["x-static-large-object"] == "True"
        assert got.headers["content-length"] == mine.headers["content-length"] == "2052"
        assert got.headers["etag"] == mine.headers["etag"]

        # A symlink goes as a link (static ones with their target's ETag and size).
        link = {"X-Symlink-Target": f"{origin}/seg", "X-Symlink-Target-Etag": md5(segment)}
        assert src.put(f"/{origin}/link", content=b"", headers=link).status_code == 201
        assert wait_until(
            lambda: "x-symlink-target" in dst.head(f"/{target}/link", params={"symlink": "get"}).headers
        )
        got = dst.head(f"/{target}/link", params={"symlink": "get"}).headers
        assert got["x-symlink-target"] == f"{origin}/seg"
        assert got["x-symlink-target-etag"] == md5(segment)
        assert got["x-symlink-target-bytes"] == "2048"
        src.checks.assert_clean()
        dst.checks.assert_clean()


def test_sync_to_must_name_a_realm_or_an_allowed_host(source: Account, dest: Account) -> None:
    port = source.server.url.rsplit(":", 1)[1]
    refused = {
        f"http://localhost:{port}/v1/{dest.name}/t": "Invalid host 'localhost'",
        f"ftp://127.0.0.1:{port}/v1/{dest.name}/t": "Invalid scheme 'ftp'",
        f"http://127.0.0.1:{port}/v1/{dest.name}/t?x=1": "queries",
        f"//nowhere/here/{dest.name}/t": "No realm key for 'nowhere'",
        f"//lab/elsewhere/{dest.name}/t": "No cluster endpoint for 'lab' 'elsewhere'",
        f"//lab/here/{dest.name}": "Invalid X-Container-Sync-To format",
    }
    with source.client() as src:
        c = unique("c")
        assert src.put(f"/{c}").status_code == 201
        for value, reason in refused.items():
            resp = src.post(f"/{c}", headers={"X-Container-Sync-To": value})
            assert resp.status_code == 400, value
            assert reason in resp.text, (value, resp.text)
            resp = src.put(f"/{unique('c')}", headers={"X-Container-Sync-To": value})
            assert resp.status_code == 400, value
        assert "x-container-sync-to" not in src.head(f"/{c}").headers
        # Versioned containers are not synced (their versions live in a hidden container).
        sync = {"X-Container-Sync-To": f"//lab/here/{dest.name}/t", "X-Container-Sync-Key": "k"}
        assert src.post(f"/{c}", headers=sync).status_code == 204
        resp = src.post(f"/{c}", headers={"X-Versions-Enabled": "true"})
        assert resp.status_code == 400 and "source of container syncing" in resp.text
        versioned = unique("v")
        assert src.put(f"/{versioned}", headers={"X-Versions-Enabled": "true"}).status_code == 201
        resp = src.post(f"/{versioned}", headers=sync)
        assert resp.status_code == 400 and "object versioning configured" in resp.text


def test_the_target_refuses_a_wrong_key_or_signature(dest: Account) -> None:
    with dest.client() as dst, dest.client(token=None) as anon:
        target = unique("t")
        assert dst.put(f"/{target}", headers={"X-Container-Sync-Key": "right"}).status_code == 201
        stamp = "1700000000.00000"
        wrong = anon.put(
            f"/{target}/o", content=b"x", headers={"X-Container-Sync-Key": "wrong", "X-Timestamp": stamp}
        )
        assert wrong.status_code == 401
        bad = anon.put(
            f"/{target}/o",
            content=b"x",
            headers={"X-Container-Sync-Auth": "LAB nonce 0123abcd", "X-Timestamp": stamp},
        )
        assert bad.status_code == 401
        assert "X-Container-Sync-Auth header not valid" in bad.text
        assert bad.headers["www-authenticate"].startswith("SwiftContainerSync")
        assert dst.head(f"/{target}/o").status_code == 404
        right = anon.put(
            f"/{target}/o", content=b"x", headers={"X-Container-Sync-Key": "right", "X-Timestamp": stamp}
        )
        assert right.status_code == 201
        assert dst.head(f"/{target}/o").headers["x-timestamp"] == stamp
        # the key opens objects only, not the container
        assert anon.get(f"/{target}", headers={"X-Container-Sync-Key": "right"}).status_code == 401


def test_only_owners_set_and_see_the_sync_headers(cloud: Cloud, source: Account) -> None:
    helper = project_account(cloud.srv)
    uid = httpx.get(
        f"{cloud.srv.auth_url}/auth/tokens",
        headers={"X-Auth-Token": helper.token, "X-Subject-Token": helper.token},
    ).json()["token"]["user"]["id"]
    with source.client() as src, helper.client(account=source.name) as theirs:
        c = unique("c")
        assert src.put(f"/{c}", headers={"X-Container-Sync-Key": "k1"}).status_code == 201
        grant = json.dumps({"read-write": [f"{helper.project_id}:{uid}"]})
        assert src.post("", headers={"X-Account-Access-Control": grant}).status_code == 204
        resp = theirs.post(
            f"/{c}", headers={"X-Container-Sync-Key": "k2", "X-Container-Sync-To": "//lab/here/a/c", "X-Container-Meta-Note": "hi"}
        )
        assert resp.status_code == 204
        mine = src.head(f"/{c}").headers
        assert mine["x-container-sync-key"] == "k1"
        assert "x-container-sync-to" not in mine
        assert mine["x-container-meta-note"] == "hi"
        seen = theirs.head(f"/{c}")
        assert seen.status_code == 204
        assert "x-container-sync-key" not in seen.headers
        assert src.post("", headers={"X-Account-Access-Control": ""}).status_code == 204


def test_sync_points_survive_a_kill(cloud: Cloud, source: Account, dest: Account) -> None:
    with source.client() as src, dest.client() as dst:
        origin, target = pair(src, dst, dest)
        assert src.put(f"/{origin}/early", content=b"early").status_code == 201
        assert wait_until(lambda: arrives(dst, f"/{target}/early", b"early"))
        # The target's copy removed there: sent once, never again.
        assert dst.delete(f"/{target}/early").status_code == 204
        assert src.put(f"/{origin}/before-kill", content=b"b").status_code == 201
    cloud.restart_after_kill()
    source.server = dest.server = cloud.srv
    with source.client() as src, dest.client() as dst:
        assert src.put(f"/{origin}/after", content=b"c").status_code == 201
        assert wait_until(lambda: arrives(dst, f"/{target}/before-kill", b"b"))
        assert wait_until(lambda: arrives(dst, f"/{target}/after", b"c"))
        # Rows are sent in order: 'early' came before both, and stayed sent.
        assert dst.head(f"/{target}/early").status_code == 404
        names = [o["name"] for o in dst.get(f"/{target}", params={"format": "json"}).json()]
        assert names == ["after", "before-kill"]


def test_a_row_that_failed_is_sent_again(source: Account, dest: Account) -> None:
    """The target container is missing at first: the sync point stays
    before the row that failed, which goes once the target exists."""
    with source.client() as src, dest.client() as dst:
        target, origin = unique("later"), unique("source")
        sync = {"X-Container-Sync-To": f"//lab/here/{dest.name}/{target}", "X-Container-Sync-Key": "k"}
        assert src.put(f"/{origin}", headers=sync).status_code == 201
        assert src.put(f"/{origin}/first", content=b"1").status_code == 201
        assert src.put(f"/{origin}/second", content=b"2").status_code == 201
        assert src.delete(f"/{origin}/second").status_code == 204
        assert dst.put(f"/{target}", headers={"X-Container-Sync-Key": "k"}).status_code == 201
        assert wait_until(lambda: arrives(dst, f"/{target}/first", b"1"))
        assert dst.head(f"/{target}/second").status_code == 404
