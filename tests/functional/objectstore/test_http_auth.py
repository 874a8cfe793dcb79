"""Who reaches which account: the project's members read and write, its
readers only read, other projects are refused (403), no token is 401, the
admin reaches every account; container ACLs open containers to others."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Server
from tests.functional.identity.helpers import client as identity_client
from tests.functional.identity.helpers import grant, make_user, token_for
from tests.functional.objectstore.conftest import Account, Swift, project_account, unique


@pytest.fixture(scope="module")
def a(store: Server) -> Account:
    """Project A's member, the owner of AUTH_A."""
    return project_account(store, "member")


@pytest.fixture(scope="module")
def b(store: Server) -> Account:
    """Project B's member: a stranger to AUTH_A."""
    return project_account(store, "member")


@pytest.fixture(scope="module")
def a_reader(store: Server, a: Account) -> Account:
    """A user holding only the reader role on project A."""
    with identity_client(store) as c:
        user = make_user(c)
        grant(c, a.project_id, user["id"], "reader")
    token = token_for(store, user["id"], user["password"], a.project_id)
    return Account(store, user["name"], user["password"], a.project_name, a.project_id, token)


@pytest.fixture
def as_a(a: Account):
    with a.client() as c:
        yield c
        c.checks.assert_clean()


def on_a(who: Account, a: Account, token: str | None = "") -> Swift:
    """``who``'s token (or ``token``; None: none) on AUTH_A."""
    return who.client(token, account=a.name)


@pytest.fixture
def shared(as_a: Swift) -> str:
    """A container in AUTH_A with one object, ``obj``."""
    name = unique("shared")
    assert as_a.put(f"/{name}").status_code == 201
    assert as_a.put(f"/{name}/obj", content=b"secret").status_code == 201
    return name


def test_member_reads_and_writes_own_account(as_a: Swift) -> None:
    name = unique("mine")
    assert as_a.head("").status_code == 204
    assert as_a.put(f"/{name}").status_code == 201
    assert as_a.post(f"/{name}", headers={"X-Container-Meta-X": "1"}).status_code == 204
    assert as_a.put(f"/{name}/o", content=b"data").status_code == 201
    assert as_a.get(f"/{name}/o").content == b"data"
    assert as_a.post(f"/{name}/o", headers={"X-Object-Meta-X": "1"}).status_code == 202
    assert as_a.get(f"/{name}").text == "o\n"
    assert as_a.delete(f"/{name}/o").status_code == 204
    assert as_a.delete(f"/{name}").status_code == 204
    assert as_a.post("", headers={"X-Account-Meta-X": "1"}).status_code == 204


def test_reader_only_reads(a: Account, a_reader: Account, shared: str, as_a: Swift) -> None:
    with on_a(a_reader, a) as c:
        assert c.head("").status_code == 204
        assert c.get("").status_code == 200
        assert c.head(f"/{shared}").status_code == 204
        assert c.get(f"/{shared}").text == "obj\n"
        assert c.get(f"/{shared}/obj").content == b"secret"
        assert c.put(f"/{shared}/new", content=b"x").status_code == 403
        assert c.put(f"/{unique('new')}").status_code == 403
        assert c.post(f"/{shared}", headers={"X-Container-Read": ".r:*"}).status_code == 403
        assert c.post(f"/{shared}/obj", headers={"X-Object-Meta-A": "b"}).status_code == 403
        assert c.delete(f"/{shared}/obj").status_code == 403
        assert c.delete(f"/{shared}").status_code == 403
        assert c.post("", headers={"X-Account-Meta-A": "b"}).status_code == 403
        c.checks.assert_clean()
    assert as_a.head(f"/{shared}/new").status_code == 404
    assert as_a.get(f"/{shared}/obj").content == b"secret"
    assert "x-object-meta-a" not in as_a.head(f"/{shared}/obj").headers
    assert "x-container-read" not in as_a.head(f"/{shared}").headers


def test_other_project_is_forbidden(a: Account, b: Account, shared: str, as_a: Swift) -> None:
    with on_a(b, a) as c:
        for method, path in [
            ("HEAD", ""),
            ("GET", ""),
            ("POST", ""),
            ("HEAD", f"/{shared}"),
            ("GET", f"/{shared}"),
            ("PUT", f"/{unique('intruder')}"),
            ("POST", f"/{shared}"),
            ("DELETE", f"/{shared}"),
            ("GET", f"/{shared}/obj"),
            ("HEAD", f"/{shared}/obj"),
            ("PUT", f"/{shared}/obj"),
            ("POST", f"/{shared}/obj"),
            ("DELETE", f"/{shared}/obj"),
        ]:
            resp = c.request(method, path, content=b"evil" if method == "PUT" else None)
            assert resp.status_code == 403, (method, path, resp.status_code)
        resp = c.request("COPY", f"/{shared}/obj", headers={"Destination": f"{shared}/copy"})
        assert resp.status_code == 403
        c.checks.assert_clean()
    # nor can B pull A's object into its own account
    with b.client() as mine:
        box = unique("box")
        assert mine.put(f"/{box}").status_code == 201
        resp = mine.put(
            f"/{box}/stolen",
            headers={
                "X-Copy-From": f"{shared}/obj",
                "X-Copy-From-Account": a.name,
                "Content-Length": "0",
            },
        )
        assert resp.status_code == 403, resp.status_code
        assert mine.head(f"/{box}/stolen").status_code == 404
    assert as_a.get(f"/{shared}/obj").content == b"secret"
    assert as_a.get(f"/{shared}").text == "obj\n"


@pytest.mark.parametrize("token", [None, "not-a-token"])
def test_no_or_bad_token_is_401(a: Account, shared: str, token: str | None) -> None:
    with on_a(a, a, token) as c:
        for method, path in [
            ("HEAD", ""),
            ("GET", ""),
            ("GET", f"/{shared}"),
            ("PUT", f"/{unique('anon')}"),
            ("GET", f"/{shared}/obj"),
            ("PUT", f"/{shared}/anon"),
            ("DELETE", f"/{shared}/obj"),
        ]:
            resp = c.request(method, path, content=b"x" if method == "PUT" else None)
            assert resp.status_code == 401, (method, path, resp.status_code)
        c.checks.assert_clean()


def test_admin_reaches_any_account(a: Account, admin: Account, shared: str, as_a: Swift) -> None:
    with on_a(admin, a) as c:
        assert c.head("").status_code == 204
        assert c.get(f"/{shared}/obj").content == b"secret"
        assert c.put(f"/{shared}/by-admin", content=b"hi").status_code == 201
        c.checks.assert_clean()
    assert as_a.get(f"/{shared}/by-admin").content == b"hi"


@pytest.mark.parametrize("form", ["project-id", "project-name", "project-user"])
def test_read_acl_grants_another_project(
    a: Account, b: Account, shared: str, as_a: Swift, form: str
) -> None:
    if form == "project-id":
        acl = f"{b.project_id}:*"
    elif form == "project-name":
        acl = f"{b.project_name}:*"
    else:
        acl = f"{b.project_id}:{b.user_name}"
    resp = as_a.post(f"/{shared}", headers={"X-Container-Read": acl})
    assert resp.status_code == 204
    assert as_a.head(f"/{shared}").headers["x-container-read"] == acl
    with on_a(b, a) as c:
        assert c.get(f"/{shared}/obj").content == b"secret"
        assert c.head(f"/{shared}/obj").status_code == 200
        assert c.get(f"/{shared}").text == "obj\n"
        # read is not write, and the account stays closed
        assert c.put(f"/{shared}/b-was-here", content=b"x").status_code == 403
        assert c.delete(f"/{shared}/obj").status_code == 403
        assert c.post(f"/{shared}", headers={"X-Container-Read": "*:*"}).status_code == 403
        assert c.get("").status_code == 403
        c.checks.assert_clean()
    with on_a(a, a, None) as anon:  # a grant to a project is not a grant to anyone
        assert anon.get(f"/{shared}/obj").status_code == 401
    # revoking the ACL closes the door again
    assert as_a.post(f"/{shared}", headers={"X-Remove-Container-Read": "x"}).status_code == 204
    with on_a(b, a) as c:
        assert c.get(f"/{shared}/obj").status_code == 403


def test_public_read_acl(a: Account, shared: str, as_a: Swift) -> None:
    assert as_a.post(f"/{shared}", headers={"X-Container-Read": ".r:*"}).status_code == 204
    with on_a(a, a, None) as anon:
        resp = anon.get(f"/{shared}/obj")
        assert resp.status_code == 200 and resp.content == b"secret"
        assert anon.head(f"/{shared}/obj").status_code == 200
        assert anon.get(f"/{shared}/missing").status_code == 404
        # no listing without .rlistings, no writes, no account
        assert anon.get(f"/{shared}").status_code == 401
        assert anon.put(f"/{shared}/anon", content=b"x").status_code == 401
        assert anon.delete(f"/{shared}/obj").status_code == 401
        assert anon.get("").status_code == 401
        anon.checks.assert_clean()
    assert (
        as_a.post(f"/{shared}", headers={"X-Container-Read": ".r:*,.rlistings"}).status_code == 204
    )
    with on_a(a, a, None) as anon:
        resp = anon.get(f"/{shared}")
        assert resp.status_code == 200 and resp.text == "obj\n"
        assert anon.get(f"/{shared}", params={"format": "json"}).json()[0]["name"] == "obj"
        assert anon.put(f"/{shared}/anon", content=b"x").status_code == 401
        anon.checks.assert_clean()
    assert as_a.head(f"/{shared}/anon").status_code == 404


def test_referrer_acl(a: Account, shared: str, as_a: Swift) -> None:
    acl = ".r:.example.com,.r:-bad.example.com"
    assert as_a.post(f"/{shared}", headers={"X-Container-Read": acl}).status_code == 204
    with on_a(a, a, None) as anon:
        ok = anon.get(f"/{shared}/obj", headers={"Referer": "http://www.example.com/page"})
        assert ok.status_code == 200
        bad = anon.get(f"/{shared}/obj", headers={"Referer": "http://bad.example.com/page"})
        assert bad.status_code == 401
        assert anon.get(f"/{shared}/obj").status_code == 401
        assert (
            anon.get(f"/{shared}/obj", headers={"Referer": "http://other.org/"}).status_code == 401
        )


def test_write_acl_grants_write(a: Account, b: Account, shared: str, as_a: Swift) -> None:
    resp = as_a.post(f"/{shared}", headers={"X-Container-Write": f"{b.project_id}:*"})
    assert resp.status_code == 204
    with on_a(b, a) as c:
        assert c.put(f"/{shared}/from-b", content=b"gift").status_code == 201
        assert c.post(f"/{shared}/from-b", headers={"X-Object-Meta-By": "b"}).status_code == 202
        # writing is not reading, nor changing the container
        assert c.get(f"/{shared}/obj").status_code == 403
        assert c.get(f"/{shared}").status_code == 403
        assert c.post(f"/{shared}", headers={"X-Container-Write": "*:*"}).status_code == 403
        assert c.delete(f"/{shared}").status_code == 403
        assert c.delete(f"/{shared}/obj").status_code == 204
        c.checks.assert_clean()
    resp = as_a.get(f"/{shared}/from-b")
    assert resp.content == b"gift" and resp.headers["x-object-meta-by"] == "b"
    assert as_a.head(f"/{shared}/obj").status_code == 404
    assert as_a.head(f"/{shared}").headers["x-container-write"] == f"{b.project_id}:*"


def test_acl_does_not_leak_to_other_containers(
    a: Account, b: Account, shared: str, as_a: Swift
) -> None:
    assert (
        as_a.post(f"/{shared}", headers={"X-Container-Read": f"{b.project_id}:*"}).status_code
        == 204
    )
    other = unique("private")
    assert as_a.put(f"/{other}").status_code == 201
    assert as_a.put(f"/{other}/obj", content=b"private").status_code == 201
    with on_a(b, a) as c:
        assert c.get(f"/{shared}/obj").status_code == 200
        assert c.get(f"/{other}/obj").status_code == 403
        assert c.get(f"/{other}").status_code == 403


def test_acls_given_on_container_put_are_kept(b: Account, as_a: Swift) -> None:
    name = unique("acl")
    resp = as_a.put(
        f"/{name}", headers={"X-Container-Read": ".r:*", "X-Container-Write": f"{b.project_id}:*"}
    )
    assert resp.status_code == 201
    head = as_a.head(f"/{name}")
    assert head.headers["x-container-read"] == ".r:*"
    assert head.headers["x-container-write"] == f"{b.project_id}:*"


def test_unscoped_token_reaches_no_account(store: Server, a: Account, shared: str) -> None:
    from tests.functional.identity.helpers import issue, password_auth

    resp = issue(
        store, password_auth({"name": a.user_name, "domain": {"id": "default"}}, a.password)
    )
    assert resp.status_code == 201, resp.text
    unscoped = resp.headers["x-subject-token"]
    with on_a(a, a, unscoped) as c:
        assert c.get(f"/{shared}/obj").status_code in (401, 403)
        assert c.put(f"/{shared}/x", content=b"x").status_code in (401, 403)
        c.checks.assert_clean()


def test_acl_for_a_user_of_another_project(
    store: Server, a: Account, shared: str, as_a: Swift
) -> None:
    """``*:<user_id>``: that user from any project."""
    other = project_account(store, "member")
    info = httpx.get(
        f"{store.auth_url}/auth/tokens",
        headers={"X-Auth-Token": other.token, "X-Subject-Token": other.token},
    ).json()["token"]
    assert (
        as_a.post(f"/{shared}", headers={"X-Container-Read": f"*:{info['user']['id']}"}).status_code
        == 204
    )
    with on_a(other, a) as c:
        assert c.get(f"/{shared}/obj").status_code == 200
    stranger = project_account(store, "member")
    with on_a(stranger, a) as c:
        assert c.get(f"/{shared}/obj").status_code == 403
